//! Processes that hold sockets.

pub use crate::comm::Comm;
pub use crate::identity::{Container, Identity, Pod, Runtime, UnitKind};
use crate::sink::{Files, Stream};

/// One holder of a socket: a process (or thread, with `-T`) and an fd.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Owner {
    /// Process name (the thread's name with `-T`).
    pub comm: Comm,
    /// Process id.
    pub pid: u32,
    /// Thread id, with `-T`.
    pub tid: Option<u32>,
    /// File descriptor number.
    pub fd: u32,
}

/// Where a process's fd points, for the process-info block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpenFile {
    /// The fd number.
    pub fd: u32,
    /// The link target (raw bytes), without the kernel's ` (deleted)` suffix.
    pub target: Vec<u8>,
    /// Opened with `O_APPEND` (from fdinfo `flags:`).
    pub append: bool,
    /// The file was removed or replaced on disk (link ended in ` (deleted)`).
    pub deleted: bool,
}

/// The whole answer about an owning process (`-P`/`--process-info`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ProcessInfo {
    /// Process id.
    pub pid: u32,
    /// Parent pid.
    pub ppid: u32,
    /// Real uid.
    pub uid: u32,
    /// User name, when it resolves.
    pub user: Option<String>,
    /// Process name.
    pub comm: Comm,
    /// Command line, split at NULs.
    pub cmdline: Vec<Vec<u8>>,
    /// `/proc/PID/exe` target.
    pub exe: Option<Vec<u8>>,
    /// Whether the binary was replaced or removed on disk.
    pub exe_deleted: bool,
    /// Working directory.
    pub cwd: Option<Vec<u8>>,
    /// Where fd 1 points.
    pub stdout: Option<Vec<u8>>,
    /// Where fd 2 points.
    pub stderr: Option<Vec<u8>>,
    /// Regular files open for writing, files under /var/log first.
    pub log_files: Vec<OpenFile>,
    /// Identity, stdout/stderr followed, files classified: filled by
    /// `sockq_proc::Detailer` (empty from `process_info` alone).
    pub detail: ProcessDetail,
}

/// Everything beyond the basic [`ProcessInfo`] about a process that holds a
/// socket: who it is, where its output goes, what it writes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct ProcessDetail {
    /// Unit and container.
    pub identity: Identity,
    /// fd 1, followed.
    pub stdout: Option<Stream>,
    /// fd 2, followed.
    pub stderr: Option<Stream>,
    /// Files open for writing, classified.
    pub files: Files,
}
