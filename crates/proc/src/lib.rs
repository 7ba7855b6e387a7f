//! Which processes hold which sockets: the `/proc` walk behind `-p`, `-T`
//! and `-P`/`--process-info`.
//!
//! [`scan`] walks `/proc/<pid>/fd/*` once and builds an [`OwnerMap`] from
//! socket inode to every holder `(comm, pid[, tid], fd)`, listed in the order
//! `ss` prints them. [`process_info`] gathers the "whole answer" about one
//! process: its command line, binary, working directory, where stdout and
//! stderr go, and the files it writes to. [`Detailer`] adds who the process
//! is (systemd unit and container, from `/proc/PID/cgroup` and the
//! container runtime's state on disk), follows fd 1 and 2 through pipes,
//! FIFOs and unix sockets to the process that reads them (conmon, tee,
//! logger, journald, the syslog daemon) and classifies written files into
//! logs and other writes. Pipe ends come from the same single walk
//! ([`scan_with_ends`]); unix peers from a lookup the caller builds from
//! unix_diag (this crate does not speak netlink).
//!
//! # How the scan works, and why it is fast
//!
//! * `/proc` is opened once. Each pid is opened as a directory fd
//!   (`openat(proc, "<pid>", O_PATH)`), and everything else about that process
//!   (`fd/`, `stat`, `task/`) is opened *relative to that fd*. No path is
//!   formatted per fd.
//! * `fd/` is read with `getdents64` into one reused buffer
//!   ([`rustix::fs::RawDir`]), and each entry is resolved with one
//!   `readlinkat(fd_dir, "<n>")` into a stack buffer. `socket:[N]` is parsed
//!   in place. Nothing is allocated per fd: a hit is a 20-byte record pushed
//!   on a vector.
//! * The process name is read (from `stat`) only for tasks that hold at least
//!   one socket.
//! * Two worker threads take pids from a shared counter; the results are
//!   merged and sorted, so the output does not depend on the scheduling.
//!
//! # Races
//!
//! Processes and fds come and go during the walk; that is normal, not an
//! error. A pid or fd that vanishes (`ENOENT`, `ESRCH`) is skipped.
//!
//! A pid can also be *reused* while we look at it. Because `fd/` and `stat`
//! are opened relative to the pid's own directory fd, and the kernel ties
//! that fd to the process it was opened for (not to the number), a new
//! process with the same pid can never be mixed with the old one: lookups
//! through a stale pid fd fail. The name is read *after* the fds; if that
//! read fails because the process has exited, its entries are dropped (its
//! fds are closed, so it no longer holds the sockets). If the name cannot be
//! read for another reason, the entries are kept with an empty name: the pid
//! and fd are still right. So a socket is never attributed to a wrong owner;
//! at worst a holder that appears or disappears during the walk is missed or
//! shown a moment after it let go.
//!
//! # Permissions
//!
//! An unprivileged user cannot read other users' `fd/` directories
//! (`EACCES`). Those processes are skipped and counted in
//! [`OwnerMap::denied`], so the caller can say "some processes could not be
//! read; run as root to see all owners".
//!
//! # Stopping early is not safe
//!
//! With a filtered query one might stop the walk once every wanted inode has
//! been seen. That would be wrong: a socket can be held by any number of
//! processes (forked workers all share the listening socket, fds are passed
//! over unix sockets, `pidfd_getfd`, …), and nothing cheap tells how many fd
//! table entries point at a socket file, so after the first holder there is
//! no way to know that a later process does not hold it too. `ss` lists all
//! holders, and so must we. The walk therefore always visits every process.
//! [`scan_filtered`] accepts a set of wanted inodes only to avoid *storing*
//! holders of other sockets (less memory and a smaller sort), never to stop.
#![forbid(unsafe_code)]

mod cgroup;
mod containers;
mod detail;
mod files;
mod info;
mod passwd;
mod read;
mod scan;

use std::path::PathBuf;

pub use containers::{Containers, StateDirs};
pub use detail::{DEV_LOG, Detailer, JOURNAL_STDOUT, PeerLookup, UnixPeer, identity};
pub use info::{process_info, process_info_with};
pub use passwd::UserNames;
pub use scan::{End, EndKind, OwnerMap, scan, scan_filtered, scan_with_ends};

/// What went wrong reading `/proc`. Vanishing processes and fds are not
/// errors; only failures that make the whole answer impossible are.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The proc root itself could not be opened or listed.
    #[error("cannot read {path}: {source}")]
    ProcRoot {
        /// The proc root (normally `/proc`).
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The process does not exist (or exited while being read).
    #[error("no process with pid {pid}")]
    NoProcess {
        /// The pid asked for.
        pid: u32,
    },
    /// Reading a process failed for another reason.
    #[error("cannot read {what} of process {pid}: {source}")]
    Process {
        /// The pid.
        pid: u32,
        /// What was being read (`status`, `stat`, …).
        what: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A scan worker thread panicked (a bug).
    #[error("a /proc scan thread panicked")]
    Worker,
}

/// How to walk `/proc`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScanOptions {
    /// Where procfs is mounted: `/proc` by default. The caller honours the
    /// `PROC_ROOT` environment variable (see [`ScanOptions::proc_root_from_env`]).
    pub proc_root: PathBuf,
    /// List one holder per thread (`-T`): scan `/proc/<pid>/task/<tid>/fd`
    /// too and name each entry with the thread's name.
    pub threads: bool,
}

impl ScanOptions {
    /// `$PROC_ROOT` if set and non-empty, else `/proc` (as `ss` does).
    pub fn proc_root_from_env() -> PathBuf {
        match std::env::var_os("PROC_ROOT") {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => PathBuf::from("/proc"),
        }
    }
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            proc_root: PathBuf::from("/proc"),
            threads: false,
        }
    }
}
