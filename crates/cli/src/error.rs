//! The binary's errors and the one place that maps them to exit codes.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success, including an empty result and a closed output pipe |
//! | 1 | runtime error: the kernel, /proc, a namespace, a failed kill |
//! | 2 | usage error: a bad flag, value, state name or filter expression |

use std::process::ExitCode;

/// Everything that can end a run early.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A bad flag or value: one line, exit 2.
    #[error("{0}")]
    Usage(String),
    /// A filter error, already rendered with the expression and a caret: exit 2.
    #[error("{0}")]
    Filter(String),
    /// A runtime failure: exit 1.
    #[error("{0}")]
    Runtime(String),
    /// A netlink failure, with what sockq was doing.
    #[error("{context}: {source}")]
    Netlink {
        /// What was being done.
        context: String,
        /// The netlink error.
        source: sockq_netlink::Error,
    },
    /// Writing the output failed (other than a closed pipe).
    #[error("writing output: {0}")]
    Output(std::io::Error),
    /// The output pipe was closed: stop quietly with status 0.
    #[error("broken pipe")]
    BrokenPipe,
    /// Nothing more to do (help or version was printed): status 0.
    #[error("done")]
    Done,
}

impl CliError {
    /// The documented exit code.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) | CliError::Filter(_) => 2,
            CliError::BrokenPipe | CliError::Done => 0,
            CliError::Runtime(_) | CliError::Netlink { .. } | CliError::Output(_) => 1,
        }
    }

    /// Prints the error (if any) and returns the exit code.
    pub fn report(self) -> ExitCode {
        match &self {
            CliError::BrokenPipe | CliError::Done => {}
            CliError::Filter(rendered) => eprintln_quiet!("{rendered}"),
            e => eprintln_quiet!("sockq: {e}"),
        }
        ExitCode::from(self.exit_code())
    }
}

/// The reason of an I/O error as the C library words it, without Rust's
/// ` (os error N)` suffix: the tail of a one-line message.
pub fn io_reason(e: &std::io::Error) -> String {
    let t = e.to_string();
    match t.find(" (os error") {
        Some(i) => t.get(..i).unwrap_or(&t).to_string(),
        None => t,
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            CliError::BrokenPipe
        } else {
            CliError::Output(e)
        }
    }
}
