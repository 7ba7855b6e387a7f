//! The harness's one error type.

use std::io;

/// Everything that can stop a benchmark run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// A system call or file operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What the harness was doing.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// An external command (`ip`, a worker) failed.
    #[error("{0}")]
    Command(String),
    /// A worker process did not report ready.
    #[error("worker {index}: {reason}")]
    Worker {
        /// Worker number.
        index: usize,
        /// What went wrong.
        reason: String,
    },
    /// The kernel's sock_diag reply could not be walked.
    #[error("netlink: {0}")]
    Netlink(String),
    /// Bad command-line input.
    #[error("{0}")]
    Usage(String),
    /// SIGINT arrived; everything is being torn down.
    #[error("interrupted")]
    Interrupted,
}

/// Attaches a description to an `io::Result`.
pub trait Context<T> {
    /// Wraps the error with `what`.
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, BenchError>;
}

impl<T> Context<T> for io::Result<T> {
    fn ctx(self, what: impl FnOnce() -> String) -> Result<T, BenchError> {
        self.map_err(|source| BenchError::Io {
            what: what(),
            source,
        })
    }
}
