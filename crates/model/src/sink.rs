//! Where a process's output really goes: its stdout and stderr followed to
//! the process at the other end of a pipe, FIFO or unix socket, and the
//! files it writes, split into logs and other writes.

use crate::comm::Comm;

/// What kind of object an fd (1 or 2) points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// A regular file (by path).
    File,
    /// An anonymous pipe (`pipe:[INODE]`).
    Pipe,
    /// A named pipe (FIFO), by path.
    Fifo,
    /// A unix domain socket (`socket:[INODE]`).
    UnixSocket,
    /// Any other socket.
    Socket,
    /// A terminal (`/dev/pts/N`, `/dev/ttyN`, `/dev/console`).
    Terminal,
    /// `/dev/null`.
    Null,
    /// Anything else (another device, an anon inode, …).
    Other,
}

impl StreamKind {
    /// `file`, `pipe`, `fifo`, `unix`, `socket`, `tty`, `null` or `other`.
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::File => "file",
            StreamKind::Pipe => "pipe",
            StreamKind::Fifo => "fifo",
            StreamKind::UnixSocket => "unix",
            StreamKind::Socket => "socket",
            StreamKind::Terminal => "tty",
            StreamKind::Null => "null",
            StreamKind::Other => "other",
        }
    }
}

/// Where fd 1 or fd 2 of a process points, and who reads it.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Stream {
    /// The link target (raw bytes, ` (deleted)` stripped): `pipe:[N]`,
    /// `socket:[N]`, `/dev/null`, a path.
    pub target: Vec<u8>,
    /// What it is; `None` if it could not be classified.
    pub kind: Option<StreamKind>,
    /// The pipe or socket inode, for pipes and sockets.
    pub inode: Option<u64>,
    /// Opened with `O_APPEND` (files).
    pub append: bool,
    /// The file was removed or replaced on disk.
    pub deleted: bool,
    /// The process at the other end (for pipes, FIFOs and unix sockets),
    /// when it could be found.
    pub reader: Option<Reader>,
}

/// A well-known reader of another process's output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReaderKind {
    /// podman's conmon, which writes the container log (`ctr.log`).
    Conmon,
    /// `tee [-a] FILE…`.
    Tee,
    /// `logger`, which forwards to syslog.
    Logger,
    /// runit's `svlogd DIR`.
    Svlogd,
    /// daemontools' `multilog … DIR`.
    Multilog,
    /// systemd-journald (the stream socket `/run/systemd/journal/stdout`).
    Journal,
    /// The syslog daemon holding `/dev/log`.
    Syslog,
    /// Some other process.
    Other,
}

impl ReaderKind {
    /// `conmon`, `tee`, `logger`, `svlogd`, `multilog`, `journal`, `syslog`
    /// or `process`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReaderKind::Conmon => "conmon",
            ReaderKind::Tee => "tee",
            ReaderKind::Logger => "logger",
            ReaderKind::Svlogd => "svlogd",
            ReaderKind::Multilog => "multilog",
            ReaderKind::Journal => "journal",
            ReaderKind::Syslog => "syslog",
            ReaderKind::Other => "process",
        }
    }
}

/// The process at the other end of a stream, and where it writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reader {
    /// What kind of reader this is.
    pub kind: ReaderKind,
    /// Its pid, when a holder was found (the journal is named by its socket
    /// path even when journald itself is not visible).
    pub pid: Option<u32>,
    /// Its name.
    pub comm: Option<Comm>,
    /// The log files it writes (conmon's `ctr.log`, tee's files, svlogd's
    /// `current`), each once.
    pub logs: Vec<Vec<u8>>,
    /// The command that reads this output, when there is one
    /// (`journalctl -u nginx.service`, `journalctl _PID=42`).
    pub command: Option<String>,
    /// The next hop (`logger` → the syslog daemon), at most one more.
    pub next: Option<Box<Reader>>,
}

/// Whether an open file counts as a log or as another write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FileRole {
    /// Append mode, a name ending `.log`, `.err`, `.out` (or a rotated
    /// `.log.N`), or anything under `/var/log`.
    Log,
    /// Any other regular file open for writing.
    Write,
}

/// One path a process has open for writing, with all its fds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileUse {
    /// The path (raw bytes, ` (deleted)` stripped).
    pub path: Vec<u8>,
    /// Every fd open on it, ascending.
    pub fds: Vec<u32>,
    /// At least one of the fds has `O_APPEND`.
    pub append: bool,
    /// The file was removed or replaced on disk.
    pub deleted: bool,
    /// Log or other write.
    pub role: FileRole,
}

/// The files a process writes, classified. Bounded: at most
/// [`Files::MAX_KEPT`] entries of each role are kept; the totals count all.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Files {
    /// Log files: `/var/log` first, then by first fd.
    pub logs: Vec<FileUse>,
    /// Other files open for writing, by first fd.
    pub writes: Vec<FileUse>,
    /// How many distinct log paths there were (≥ `logs.len()`).
    pub logs_total: usize,
    /// How many distinct other written paths there were (≥ `writes.len()`).
    pub writes_total: usize,
}

impl Files {
    /// The most entries kept per role.
    pub const MAX_KEPT: usize = 256;
    /// How many "writes" a person is shown before "and N more".
    pub const WRITES_SHOWN: usize = 5;

    /// Whether the process writes no file at all.
    pub fn is_empty(&self) -> bool {
        self.logs_total == 0 && self.writes_total == 0
    }
}
