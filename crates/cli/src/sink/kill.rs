//! `-K`: SOCK_DESTROY for every matching inet socket.
//!
//! Unlike ss, a kill needs a selection (a filter expression or `state` /
//! `exclude` words: `-a` and `-l` alone are not enough), and the exit status
//! tells whether every kill worked. A socket already gone (ENOENT) is
//! skipped silently; any other refusal is a failure, counted, and the first
//! one is named with its errno.

use crate::config::Config;
use crate::error::CliError;
use sockq_model::{Endpoint, Socket};
use sockq_netlink::destroy::Destroyer;

const ENOENT: i32 = 2;

/// Refuses a kill without a filter expression or state words. Called with
/// the built filter: an `-F` file that is empty or only comments (or empty
/// stdin) is no selection either.
pub fn check_selection(
    cfg: &Config,
    filters: &crate::filtering::FilterSet,
) -> Result<(), CliError> {
    if filters.has_expression() || cfg.state_words {
        return Ok(());
    }
    Err(no_selection())
}

/// The same refusal before anything is opened or entered, on the words
/// alone: without the privilege to enter it, `-N NS -K` must still say it
/// needs a filter. [`check_selection`] then sees what an `-F` file held.
pub fn check_words(cfg: &Config) -> Result<(), CliError> {
    if cfg.filter_words.is_empty() && cfg.filter_file.is_none() && !cfg.state_words {
        return Err(no_selection());
    }
    Ok(())
}

fn no_selection() -> CliError {
    CliError::Usage(
        "-K needs a filter expression or state words (e.g. `sockq -K dport = :5000`): refusing to close every socket".into(),
    )
}

/// `127.0.0.1:80` or `[::1]:80`.
fn endpoint(e: &Endpoint) -> String {
    match e.inet() {
        Some((std::net::IpAddr::V6(a), p)) => format!("[{a}]:{p}"),
        Some((a, p)) => format!("{a}:{p}"),
        None => "*".into(),
    }
}

/// The errno as the C library words it, without Rust's suffix.
fn strerror(errno: i32) -> String {
    crate::error::io_reason(&std::io::Error::from_raw_os_error(errno))
}

/// Sends the kills and remembers how they went.
pub struct Killer {
    sock: Destroyer,
    failed: usize,
    tried: usize,
    first: Option<String>,
}

impl Killer {
    /// Opens the SOCK_DESTROY socket in the calling thread's namespace.
    pub fn new() -> Result<Killer, CliError> {
        Ok(Killer {
            sock: Destroyer::new().map_err(|e| CliError::Netlink {
                context: "-K".into(),
                source: e,
            })?,
            failed: 0,
            tried: 0,
            first: None,
        })
    }

    /// Destroys `s`; true when it was closed (its row is then printed).
    pub fn kill(&mut self, s: &Socket) -> bool {
        self.tried += 1;
        let err = match self.sock.destroy(s) {
            Ok(()) => return true,
            Err(sockq_netlink::Error::Kernel { errno: ENOENT, .. }) => return false,
            Err(sockq_netlink::Error::Kernel { errno, .. }) => strerror(errno),
            Err(e) => e.to_string(),
        };
        self.failed += 1;
        if self.first.is_none() {
            self.first = Some(format!(
                "SOCK_DESTROY {} -> {}: {err}",
                endpoint(&s.local),
                endpoint(&s.peer)
            ));
        }
        false
    }

    /// Ok when every kill worked; else the first failure (exit 1).
    pub fn outcome(self) -> Result<(), CliError> {
        match self.first {
            None => Ok(()),
            Some(first) if self.failed == 1 => Err(CliError::Runtime(first)),
            Some(first) => Err(CliError::Runtime(format!(
                "{first} ({} of {} kills failed)",
                self.failed, self.tried
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        assert_eq!(strerror(1), "Operation not permitted");
        let e = Endpoint::Inet {
            addr: "::1".parse().unwrap_or(std::net::IpAddr::V4([0; 4].into())),
            port: 80,
        };
        assert_eq!(endpoint(&e), "[::1]:80");
    }
}
