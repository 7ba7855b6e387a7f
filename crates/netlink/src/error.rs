//! The crate's error type.

use std::fmt;

/// Everything that can go wrong while talking to sock_diag, reading /proc or
/// replaying a dump.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A system call or file operation failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The kernel answered with an error (NLMSG_ERROR, or DONE with an errno).
    #[error("{context}: kernel answered: {}", Errno(*errno))]
    Kernel {
        /// The positive errno.
        errno: i32,
        /// What was asked.
        context: String,
    },
    /// The kernel has no diag module for this protocol (DONE carried
    /// -ENOENT); the caller should fall back to /proc where one exists.
    #[error("{what}: not supported by this kernel (no sock_diag handler)")]
    ProtocolMissing {
        /// What was asked, such as `raw (inet6) sock_diag dump`.
        what: String,
    },
    /// A message, attribute or file ended before its declared length.
    #[error("truncated {what}: want {want} bytes, got {got}")]
    Truncated {
        /// What was cut, with its offset.
        what: String,
        /// Bytes needed.
        want: usize,
        /// Bytes there.
        got: usize,
    },
    /// The kernel flagged the dump as inconsistent (NLM_F_DUMP_INTR) or
    /// dropped replies (ENOBUFS) on every one of `attempts` dumps; the rows
    /// read were delivered, but some may be missing.
    #[error("dump interrupted {attempts} times: the socket table changed or replies were dropped")]
    DumpInterrupted {
        /// Dumps made, the first one included.
        attempts: u32,
    },
    /// Data that cannot be decoded (a bad /proc line, an odd header).
    #[error("cannot decode {0}")]
    Decode(String),
    /// The caller asked for something that cannot be requested.
    #[error("invalid request: {0}")]
    Invalid(String),
}

impl Error {
    /// Whether running the same dump again may succeed
    /// ([`Error::DumpInterrupted`]).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Error::DumpInterrupted { .. })
    }

    /// Builds an [`Error::Io`] from a context and an I/O error.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io {
            context: context.into(),
            source,
        }
    }
}

/// Prints an errno as the C library describes it, without the "os error" suffix.
struct Errno(i32);

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = std::io::Error::from_raw_os_error(self.0).to_string();
        let text = match text.find(" (os error") {
            Some(i) => text.get(..i).unwrap_or(&text).to_string(),
            None => text,
        };
        write!(f, "{} (errno {})", text.to_lowercase(), self.0)
    }
}
