//! Processes that hold sockets.

use std::fmt;

pub use crate::identity::{Container, Identity, Pod, Runtime, UnitKind};

/// A process name (`/proc/PID/comm`, at most 15 bytes in the kernel), kept
/// inline so that building the owner map allocates nothing per fd. Longer
/// names are cut at 63 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Comm {
    len: u8,
    bytes: [u8; 63],
}

impl Comm {
    /// Makes a name from raw bytes (not sanitised).
    pub fn new(raw: &[u8]) -> Comm {
        let n = raw.len().min(63);
        let mut bytes = [0u8; 63];
        bytes[..n].copy_from_slice(&raw[..n]);
        Comm {
            len: n as u8,
            bytes,
        }
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl Default for Comm {
    fn default() -> Self {
        Comm::new(b"")
    }
}

impl fmt::Debug for Comm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

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
}
