//! Who a process is and where its output really goes ([`Detailer`]).

use crate::Error;
use crate::cgroup;
use crate::containers::Containers;
use crate::files::{O_ACCMODE, O_RDONLY, fd_flags, group, link, strip_deleted, written_files};
use crate::read::{
    comm_from_stat, num_cstr, open_anchor, open_dir, parse_u32, read_prefix, vanished,
};
use crate::scan::{EndKind, OwnerMap};
use rustix::fd::{AsFd, BorrowedFd, OwnedFd};
use rustix::fs::{AtFlags, CWD, FileType, RawDir, statat};
use rustix::io::Errno;
use sockq_model::{
    Comm, FileRole, Identity, OpenFile, ProcessDetail, ProcessInfo, Reader, ReaderKind, Stream,
    StreamKind,
};
use std::collections::{HashMap, HashSet};
use std::mem::MaybeUninit;
use std::path::Path;

/// journald's stream socket: a service's stdout connected here is in the journal.
pub const JOURNAL_STDOUT: &[u8] = b"/run/systemd/journal/stdout";
/// The syslog socket.
pub const DEV_LOG: &[u8] = b"/dev/log";
/// journald's own syslog and native sockets.
const JOURNAL_SOCKETS: [&[u8]; 2] = [
    b"/run/systemd/journal/dev-log",
    b"/run/systemd/journal/socket",
];
/// The most hops from a process to whoever finally stores its output.
const MAX_HOPS: usize = 2;
/// The most bytes of a reader's command line looked at.
const MAX_CMDLINE: usize = 64 * 1024;
/// The most bytes of `/proc/PID/cgroup` read (v1 hosts list a dozen lines).
const MAX_CGROUP: usize = 16 * 1024;
/// The most pids looked at when searching the readers of a FIFO.
const MAX_FIFO_PIDS: usize = 1 << 20;

/// The other end of a unix socket, as unix_diag reports it: the peer's
/// inode (`UNIX_DIAG_PEER`) and the peer's bound path, if any (an accepted
/// connection carries its listener's path, e.g. `/run/systemd/journal/stdout`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct UnixPeer {
    /// The peer socket's inode.
    pub inode: u32,
    /// The peer socket's path (raw bytes), when bound.
    pub path: Option<Vec<u8>>,
}

/// Looks up the peer of a unix socket by its inode. `proc` does not speak
/// netlink: the caller builds this from its unix_diag dump.
pub type PeerLookup<'a> = dyn Fn(u32) -> Option<UnixPeer> + 'a;

/// Gathers [`ProcessDetail`]s (identity, stdout/stderr followed, written
/// files) for many processes, reading each container's state once.
///
/// Pipes are followed through the pipe holders recorded by
/// [`crate::scan_with_ends`] (no second walk of `/proc`); unix sockets
/// through the caller's [`PeerLookup`]; FIFOs by their path (a walk of
/// `/proc` limited to fd links, done only when a stream is a FIFO, once per
/// FIFO).
pub struct Detailer<'a> {
    proc_fd: OwnedFd,
    owners: Option<&'a OwnerMap>,
    peers: Option<&'a PeerLookup<'a>>,
    containers: Containers,
    identities: HashMap<u32, Identity>,
    fifos: HashMap<Vec<u8>, Option<(u32, u32)>>,
}

impl<'a> Detailer<'a> {
    /// A detailer over `proc_root`. `owners` should come from
    /// [`crate::scan_with_ends`]; without it (or without recorded ends)
    /// pipes are reported but not followed.
    pub fn new(proc_root: &Path, owners: Option<&'a OwnerMap>) -> Result<Detailer<'a>, Error> {
        let proc_fd = open_anchor(CWD, proc_root).map_err(|e| Error::ProcRoot {
            path: proc_root.to_path_buf(),
            source: e.into(),
        })?;
        Ok(Detailer {
            proc_fd,
            owners,
            peers: None,
            containers: Containers::new(),
            identities: HashMap::new(),
            fifos: HashMap::new(),
        })
    }

    /// Follows unix sockets with this lookup.
    pub fn with_peers(mut self, peers: &'a PeerLookup<'a>) -> Detailer<'a> {
        self.peers = Some(peers);
        self
    }

    /// Uses this container-state cache (tests point it at fixture dirs).
    pub fn with_containers(mut self, containers: Containers) -> Detailer<'a> {
        self.containers = containers;
        self
    }

    /// The unit and container of a process (cached per pid). A process
    /// that cannot be read has an empty identity.
    pub fn identity(&mut self, pid: u32) -> Identity {
        if let Some(i) = self.identities.get(&pid) {
            return i.clone();
        }
        let id = self
            .anchor(pid)
            .ok()
            .map(|a| self.identity_at(a.as_fd()))
            .unwrap_or_default();
        self.identities.insert(pid, id.clone());
        id
    }

    fn identity_at(&mut self, anchor: BorrowedFd<'_>) -> Identity {
        identity_at(anchor, &mut self.containers)
    }

    fn anchor(&self, pid: u32) -> Result<OwnedFd, Errno> {
        let mut nb = [0u8; 12];
        open_anchor(&self.proc_fd, num_cstr(pid, &mut nb))
    }

    /// Everything about one process beyond [`crate::process_info`]: its
    /// identity, fd 1 and 2 followed to their readers, and the files it
    /// writes. Parts that cannot be read (another user's `fd/`) are empty.
    pub fn detail(&mut self, pid: u32) -> Result<ProcessDetail, Error> {
        self.detail_with(pid, None)
    }

    /// [`Detailer::detail`] of the process `info` describes: the files it
    /// writes come from `info.log_files` (the fds [`crate::process_info`]
    /// found open for writing), so its fd directory is walked once.
    pub fn detail_of(&mut self, info: &ProcessInfo) -> Result<ProcessDetail, Error> {
        self.detail_with(info.pid, Some(&info.log_files))
    }

    fn detail_with(
        &mut self,
        pid: u32,
        written: Option<&[OpenFile]>,
    ) -> Result<ProcessDetail, Error> {
        let anchor = self.anchor(pid).map_err(|e| {
            if vanished(e) {
                Error::NoProcess { pid }
            } else {
                Error::Process {
                    pid,
                    what: "directory",
                    source: e.into(),
                }
            }
        })?;
        let identity = match self.identities.get(&pid) {
            Some(i) => i.clone(),
            None => {
                let i = self.identity_at(anchor.as_fd());
                self.identities.insert(pid, i.clone());
                i
            }
        };
        let mut out = ProcessDetail {
            identity,
            ..ProcessDetail::default()
        };
        let Ok(fd_dir) = open_dir(&anchor, c"fd") else {
            return Ok(out);
        };
        let fdinfo = open_anchor(&anchor, c"fdinfo").ok();
        match (written, &fdinfo) {
            (Some(w), _) => out.files = group(w),
            (None, Some(fi)) => out.files = written_files(fd_dir.as_fd(), fi.as_fd()),
            (None, None) => {}
        }
        let fi = fdinfo.as_ref().map(AsFd::as_fd);
        let mut seen = HashSet::from([pid]);
        out.stdout = self.stream(pid, &out.identity, fd_dir.as_fd(), fi, c"1", &mut seen);
        let mut seen = HashSet::from([pid]);
        out.stderr = self.stream(pid, &out.identity, fd_dir.as_fd(), fi, c"2", &mut seen);
        Ok(out)
    }

    /// Where one fd points, followed to its reader.
    fn stream(
        &mut self,
        pid: u32,
        identity: &Identity,
        fd_dir: BorrowedFd<'_>,
        fdinfo: Option<BorrowedFd<'_>>,
        fd: &std::ffi::CStr,
        seen: &mut HashSet<u32>,
    ) -> Option<Stream> {
        let (target, deleted) = strip_deleted(link(fd_dir, fd)?);
        let flags = fdinfo.and_then(|fi| fd_flags(fi, fd)).unwrap_or(0);
        let ftype = statat(fd_dir, fd, AtFlags::empty())
            .ok()
            .map(|st| FileType::from_raw_mode(st.st_mode));
        let (kind, inode) = classify_stream(&target, ftype);
        let mut s = Stream {
            target,
            kind: Some(kind),
            inode: inode.map(u64::from),
            append: flags & crate::files::O_APPEND != 0,
            deleted,
            reader: None,
        };
        s.reader = match (kind, inode) {
            (StreamKind::Pipe, Some(ino)) => self.pipe_reader(ino, seen, 1),
            (StreamKind::Fifo, _) => {
                let path = s.target.clone();
                self.fifo_reader(&path, pid, seen, 1)
            }
            (StreamKind::UnixSocket | StreamKind::Socket, Some(ino)) => {
                self.socket_reader(ino, pid, identity, seen, 1)
            }
            _ => None,
        };
        if s.reader.is_some() && kind == StreamKind::Socket {
            s.kind = Some(StreamKind::UnixSocket);
        }
        Some(s)
    }

    /// The process reading a pipe: another holder with the pipe open
    /// read-only, checked to still hold it.
    fn pipe_reader(&mut self, inode: u32, seen: &mut HashSet<u32>, hop: usize) -> Option<Reader> {
        let owners = self.owners?;
        let want = format!("pipe:[{inode}]").into_bytes();
        let holders: Vec<(u32, u32)> = owners
            .holders_of(EndKind::Pipe, inode)
            .iter()
            .filter(|e| !seen.contains(&e.pid))
            .map(|e| (e.pid, e.fd))
            .collect();
        for (rpid, rfd) in holders {
            if self.reads(rpid, rfd, &want) {
                return self.reader(rpid, None, seen, hop);
            }
        }
        None
    }

    /// Whether `pid`'s fd `fd` still points at `want` and is open read-only.
    fn reads(&self, pid: u32, fd: u32, want: &[u8]) -> bool {
        let Ok(anchor) = self.anchor(pid) else {
            return false;
        };
        let mut nb = [0u8; 12];
        let name = num_cstr(fd, &mut nb);
        let Ok(fd_dir) = open_dir(&anchor, c"fd") else {
            return false;
        };
        if link(fd_dir.as_fd(), name).as_deref() != Some(want) {
            return false;
        }
        let Ok(fi) = open_anchor(&anchor, c"fdinfo") else {
            return false;
        };
        fd_flags(fi.as_fd(), name).is_some_and(|f| f & O_ACCMODE == O_RDONLY)
    }

    /// The process reading a FIFO, found by its path.
    fn fifo_reader(
        &mut self,
        path: &[u8],
        writer: u32,
        seen: &mut HashSet<u32>,
        hop: usize,
    ) -> Option<Reader> {
        let found = match self.fifos.get(path) {
            Some(f) => *f,
            None => {
                let f = self.find_fifo_reader(path, writer);
                self.fifos.insert(path.to_vec(), f);
                f
            }
        };
        let (rpid, _) = found?;
        if seen.contains(&rpid) {
            return None;
        }
        self.reader(rpid, None, seen, hop)
    }

    fn find_fifo_reader(&self, path: &[u8], writer: u32) -> Option<(u32, u32)> {
        let dir = open_dir(&self.proc_fd, c".").ok()?;
        let mut buf = vec![MaybeUninit::<u8>::uninit(); 32 * 1024];
        let mut pids = Vec::new();
        let mut it = RawDir::new(dir.as_fd(), &mut buf[..]);
        while let Some(Ok(ent)) = it.next() {
            if let Some(p) = parse_u32(ent.file_name().to_bytes()) {
                pids.push(p);
            }
            if pids.len() >= MAX_FIFO_PIDS {
                break;
            }
        }
        let mut fdbuf = vec![MaybeUninit::<u8>::uninit(); 16 * 1024];
        for pid in pids {
            if pid == writer {
                continue;
            }
            let Ok(anchor) = self.anchor(pid) else {
                continue;
            };
            let Ok(fd_dir) = open_dir(&anchor, c"fd") else {
                continue;
            };
            let Ok(fi) = open_anchor(&anchor, c"fdinfo") else {
                continue;
            };
            let mut fds = RawDir::new(fd_dir.as_fd(), &mut fdbuf[..]);
            while let Some(Ok(ent)) = fds.next() {
                let name = ent.file_name();
                let Some(fd) = parse_u32(name.to_bytes()) else {
                    continue;
                };
                if link(fd_dir.as_fd(), name).as_deref() == Some(path)
                    && fd_flags(fi.as_fd(), name).is_some_and(|f| f & O_ACCMODE == O_RDONLY)
                {
                    return Some((pid, fd));
                }
            }
        }
        None
    }

    /// The other end of a socket: journald by its path, the syslog daemon
    /// behind `/dev/log`, or whichever process holds the peer.
    fn socket_reader(
        &mut self,
        inode: u32,
        writer: u32,
        identity: &Identity,
        seen: &mut HashSet<u32>,
        hop: usize,
    ) -> Option<Reader> {
        let peer = (self.peers?)(inode)?;
        let holder = self.owners.and_then(|o| {
            o.holders_of(EndKind::Socket, peer.inode)
                .iter()
                .find(|e| !seen.contains(&e.pid))
                .map(|e| e.pid)
        });
        let path = peer.path.as_deref().unwrap_or_default();
        if path == JOURNAL_STDOUT || JOURNAL_SOCKETS.contains(&path) {
            return Some(Reader {
                kind: ReaderKind::Journal,
                pid: holder,
                comm: holder.and_then(|p| self.comm(p)),
                logs: Vec::new(),
                command: Some(journalctl(writer, identity, path == JOURNAL_STDOUT)),
                next: None,
            });
        }
        let rpid = holder?;
        let mut r = self.reader(rpid, None, seen, hop)?;
        if path == DEV_LOG && r.kind == ReaderKind::Other {
            r.kind = ReaderKind::Syslog;
        }
        Some(r)
    }

    fn comm(&self, pid: u32) -> Option<Comm> {
        let anchor = self.anchor(pid).ok()?;
        let mut stat = [0u8; 512];
        let n = read_prefix(&anchor, c"stat", &mut stat).ok()?;
        stat.get(..n).and_then(comm_from_stat).map(Comm::new)
    }

    /// Describes a reader process and, for `logger`, the next hop.
    fn reader(
        &mut self,
        pid: u32,
        kind: Option<ReaderKind>,
        seen: &mut HashSet<u32>,
        hop: usize,
    ) -> Option<Reader> {
        if hop > MAX_HOPS || !seen.insert(pid) {
            return None;
        }
        let anchor = self.anchor(pid).ok()?;
        let comm = self.comm(pid);
        let kind = kind.unwrap_or_else(|| {
            comm.as_ref()
                .map_or(ReaderKind::Other, |c| reader_kind(c.as_bytes()))
        });
        let mut logs: Vec<Vec<u8>> = Vec::new();
        let mut next = None;
        if kind == ReaderKind::Conmon {
            let mut cmd = vec![0u8; MAX_CMDLINE];
            if let Ok(n) = read_prefix(&anchor, c"cmdline", &mut cmd) {
                let args = ConmonArgs::parse(cmd.get(..n).unwrap_or_default());
                logs.extend(args.log_file());
                // `--log-driver journald`: conmon sends each line to the journal.
                next = args.journal_command().map(|command| Reader {
                    kind: ReaderKind::Journal,
                    pid: None,
                    comm: None,
                    logs: Vec::new(),
                    command: Some(command),
                    next: None,
                });
            }
        }
        let fd_dir = open_dir(&anchor, c"fd").ok();
        let fdinfo = open_anchor(&anchor, c"fdinfo").ok();
        if let (Some(d), Some(fi)) = (&fd_dir, &fdinfo) {
            let files = written_files(d.as_fd(), fi.as_fd());
            // Programs that exist to write their input to files: all of them.
            // Anything else: only what looks like a log.
            let all = matches!(
                kind,
                ReaderKind::Conmon | ReaderKind::Tee | ReaderKind::Svlogd | ReaderKind::Multilog
            );
            for u in files.logs.into_iter().chain(files.writes) {
                if (all || u.role == FileRole::Log) && !logs.contains(&u.path) {
                    logs.push(u.path);
                }
            }
        }
        // A fresh listing: `written_files` consumed `fd_dir`'s directory offset.
        if kind == ReaderKind::Logger
            && hop < MAX_HOPS
            && let Ok(d) = open_dir(&anchor, c"fd")
        {
            next = self.logger_next(pid, d.as_fd(), seen, hop + 1);
        }
        Some(Reader {
            kind,
            pid: Some(pid),
            comm,
            logs,
            command: None,
            next: next.map(Box::new),
        })
    }

    /// `logger` → the daemon at the other end of its socket.
    fn logger_next(
        &mut self,
        pid: u32,
        fd_dir: BorrowedFd<'_>,
        seen: &mut HashSet<u32>,
        hop: usize,
    ) -> Option<Reader> {
        let mut buf = vec![MaybeUninit::<u8>::uninit(); 4096];
        let mut it = RawDir::new(fd_dir, &mut buf[..]);
        let mut inodes = Vec::new();
        while let Some(Ok(ent)) = it.next() {
            if let Some(t) = link(fd_dir, ent.file_name())
                && let Some(ino) = crate::read::parse_socket_link(&t)
            {
                inodes.push(ino);
            }
            if inodes.len() > 64 {
                break;
            }
        }
        let ident = self.identity(pid);
        for ino in inodes {
            if let Some(r) = self.socket_reader(ino, pid, &ident, seen, hop) {
                return Some(r);
            }
        }
        None
    }
}

/// The unit and container of one process, with a caller-kept container
/// cache (for callers that cannot keep a [`Detailer`], such as a filter
/// shared between threads). A process that cannot be read has an empty
/// identity.
pub fn identity(proc_root: &Path, pid: u32, containers: &mut Containers) -> Identity {
    let mut nb = [0u8; 12];
    match open_anchor(
        CWD,
        proc_root.join(num_cstr(pid, &mut nb).to_string_lossy().as_ref()),
    ) {
        Ok(a) => identity_at(a.as_fd(), containers),
        Err(_) => Identity::default(),
    }
}

fn identity_at(anchor: BorrowedFd<'_>, containers: &mut Containers) -> Identity {
    let mut buf = vec![0u8; MAX_CGROUP];
    let Ok(n) = read_prefix(anchor, c"cgroup", &mut buf) else {
        return Identity::default();
    };
    // Bytes: a cgroup may be named with any (cgroup.rs says why that is safe).
    let facts = cgroup::parse(buf.get(..n).unwrap_or_default());
    Identity {
        unit: facts.unit,
        user_unit: facts.user_unit,
        slice: facts.slice,
        container: facts.container.map(|(rt, id)| containers.lookup(rt, &id)),
        pod: facts.pod_uid.map(|uid| containers.pod(&uid)),
    }
}

/// Kind and inode of what an fd points at.
fn classify_stream(target: &[u8], ftype: Option<FileType>) -> (StreamKind, Option<u32>) {
    if let Some(ino) = crate::read::parse_pipe_link(target) {
        return (StreamKind::Pipe, Some(ino));
    }
    if let Some(ino) = crate::read::parse_socket_link(target) {
        // Whether it is a unix socket is known only from the peer lookup.
        return (StreamKind::Socket, Some(ino));
    }
    if target == b"/dev/null" {
        return (StreamKind::Null, None);
    }
    if target.starts_with(b"/dev/pts/")
        || target.starts_with(b"/dev/tty")
        || target == b"/dev/console"
    {
        return (StreamKind::Terminal, None);
    }
    match ftype {
        Some(FileType::Fifo) if target.starts_with(b"/") => (StreamKind::Fifo, None),
        Some(FileType::RegularFile) => (StreamKind::File, None),
        Some(FileType::CharacterDevice) => (StreamKind::Terminal, None),
        _ => (StreamKind::Other, None),
    }
}

/// What a reader is, from its name.
fn reader_kind(comm: &[u8]) -> ReaderKind {
    match comm {
        b"conmon" => ReaderKind::Conmon,
        b"tee" => ReaderKind::Tee,
        b"logger" => ReaderKind::Logger,
        b"svlogd" => ReaderKind::Svlogd,
        b"multilog" => ReaderKind::Multilog,
        b"systemd-journal" | b"systemd-journald" => ReaderKind::Journal,
        b"rsyslogd" | b"syslog-ng" | b"syslogd" | b"busybox-syslogd" => ReaderKind::Syslog,
        _ => ReaderKind::Other,
    }
}

/// What conmon's command line says about where its container's output
/// goes: the `-l`/`--log-path` values, `-n`/`--name` and `-c`/`--cid`
/// (each as `-x V`, `--long V` or `--long=V`). Read once per conmon.
#[derive(Default)]
struct ConmonArgs<'a> {
    logs: Vec<&'a [u8]>,
    name: Option<&'a [u8]>,
    cid: Option<&'a [u8]>,
}

impl<'a> ConmonArgs<'a> {
    fn parse(cmdline: &'a [u8]) -> ConmonArgs<'a> {
        let mut out = ConmonArgs::default();
        let mut it = cmdline.split(|&b| b == 0);
        while let Some(a) = it.next() {
            for (short, long, slot) in [
                (&b"-l"[..], &b"--log-path"[..], 0),
                (b"-n", b"--name", 1),
                (b"-c", b"--cid", 2),
            ] {
                let v = if a == short || a == long {
                    it.next()
                } else {
                    a.strip_prefix(long).and_then(|r| r.strip_prefix(b"="))
                };
                match (v, slot) {
                    (Some(v), 0) => out.logs.push(v),
                    (Some(v), 1) => out.name = out.name.or(Some(v)),
                    (Some(v), 2) => out.cid = out.cid.or(Some(v)),
                    _ => continue,
                }
                break;
            }
        }
        out
    }

    /// The log file: `-l k8s-file:PATH` or `-l PATH` (`journald:` and
    /// `passthrough` name no file).
    fn log_file(&self) -> Option<Vec<u8>> {
        self.logs
            .iter()
            .map(|v| v.strip_prefix(b"k8s-file:").unwrap_or(v))
            .find(|v| v.starts_with(b"/"))
            .map(<[u8]>::to_vec)
    }

    /// The journal command when conmon logs to journald (`-l journald`,
    /// `-l journald:`): conmon tags each entry with `CONTAINER_NAME` (the
    /// name) and `CONTAINER_ID_FULL` (the cid). The name is used when it is
    /// a podman name (letters, digits, `_.-`), else the id when it is hex.
    fn journal_command(&self) -> Option<String> {
        if !self
            .logs
            .iter()
            .any(|v| *v == b"journald" || v.starts_with(b"journald:"))
        {
            return None;
        }
        let name_ok = |n: &[u8]| {
            n.first().is_some_and(u8::is_ascii_alphanumeric)
                && n.iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        };
        if let Some(n) = self.name.filter(|n| name_ok(n)) {
            return Some(format!(
                "journalctl CONTAINER_NAME={}",
                String::from_utf8_lossy(n)
            ));
        }
        let id = self
            .cid
            .filter(|c| !c.is_empty() && c.iter().all(u8::is_ascii_hexdigit))?;
        Some(format!(
            "journalctl CONTAINER_ID_FULL={}",
            String::from_utf8_lossy(id)
        ))
    }
}

/// The command that shows what a process wrote to the journal.
fn journalctl(pid: u32, identity: &Identity, stream: bool) -> String {
    match (&identity.unit, identity.user_unit, stream) {
        (Some(u), None, true) if identity.container.is_none() => format!("journalctl -u {u}"),
        (Some(u), Some(_), true) => format!("journalctl --user -u {u}"),
        _ => format!("journalctl _PID={pid}"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn conmon_log_path(cmdline: &[u8]) -> Option<Vec<u8>> {
        ConmonArgs::parse(cmdline).log_file()
    }

    fn conmon_journal(cmdline: &[u8]) -> Option<String> {
        ConmonArgs::parse(cmdline).journal_command()
    }

    #[test]
    fn conmon_cmdline() {
        let c = b"/usr/bin/conmon\0--api-version\x001\0-l\0k8s-file:/var/lib/c/ctr.log\0--log-level\0warning\0";
        assert_eq!(conmon_log_path(c), Some(b"/var/lib/c/ctr.log".to_vec()));
        assert_eq!(
            conmon_log_path(b"conmon\0--log-path=/x/ctr.log\0"),
            Some(b"/x/ctr.log".to_vec())
        );
        assert_eq!(
            conmon_log_path(b"conmon\0--log-path\0/y.log\0"),
            Some(b"/y.log".to_vec())
        );
        assert_eq!(conmon_log_path(b"conmon\0-l\0journald:\0"), None);
        assert_eq!(conmon_log_path(b"conmon\0-l\0"), None);
        assert_eq!(conmon_log_path(b""), None);
    }

    #[test]
    fn conmon_journald() {
        // As podman starts it (`--log-driver journald`).
        let c = b"/usr/bin/conmon\0--api-version\x001\0-c\0abc123\0-u\0abc123\0-n\0web-1\0-l\0journald\0--log-level\0warning\0";
        assert_eq!(
            conmon_journal(c).as_deref(),
            Some("journalctl CONTAINER_NAME=web-1")
        );
        assert_eq!(conmon_log_path(c), None);
        assert_eq!(
            conmon_journal(b"conmon\0--cid=ABCdef\0--log-path\0journald:\0").as_deref(),
            Some("journalctl CONTAINER_ID_FULL=ABCdef")
        );
        // A name that is not podman's shape falls back to the id; neither: nothing.
        assert_eq!(
            conmon_journal(b"conmon\0-n\0a b\0-c\0ff\0-l\0journald\0").as_deref(),
            Some("journalctl CONTAINER_ID_FULL=ff")
        );
        assert_eq!(conmon_journal(b"conmon\0-n\0a;b\0-l\0journald\0"), None);
        assert_eq!(
            conmon_journal(b"conmon\0-n\0web\0-l\0k8s-file:/x.log\0"),
            None
        );
    }

    #[test]
    fn stream_kinds() {
        assert_eq!(
            classify_stream(b"pipe:[42]", None),
            (StreamKind::Pipe, Some(42))
        );
        assert_eq!(
            classify_stream(b"socket:[7]", None),
            (StreamKind::Socket, Some(7))
        );
        assert_eq!(classify_stream(b"/dev/null", None).0, StreamKind::Null);
        assert_eq!(classify_stream(b"/dev/pts/3", None).0, StreamKind::Terminal);
        assert_eq!(
            classify_stream(b"/tmp/f", Some(FileType::Fifo)).0,
            StreamKind::Fifo
        );
        assert_eq!(
            classify_stream(b"/tmp/f", Some(FileType::RegularFile)).0,
            StreamKind::File
        );
        assert_eq!(classify_stream(b"anon_inode:x", None).0, StreamKind::Other);
    }

    #[test]
    fn journal_commands() {
        let mut id = Identity {
            unit: Some("nginx.service".into()),
            ..Identity::default()
        };
        assert_eq!(journalctl(5, &id, true), "journalctl -u nginx.service");
        assert_eq!(journalctl(5, &id, false), "journalctl _PID=5");
        id.user_unit = Some(1000);
        assert_eq!(
            journalctl(5, &id, true),
            "journalctl --user -u nginx.service"
        );
        assert_eq!(
            journalctl(9, &Identity::default(), true),
            "journalctl _PID=9"
        );
    }

    #[test]
    fn reader_names() {
        assert_eq!(reader_kind(b"conmon"), ReaderKind::Conmon);
        assert_eq!(reader_kind(b"systemd-journal"), ReaderKind::Journal);
        assert_eq!(reader_kind(b"rsyslogd"), ReaderKind::Syslog);
        assert_eq!(reader_kind(b"cat"), ReaderKind::Other);
    }

    /// `detail_of` takes the written files from `process_info`'s one walk:
    /// the same grouping as `detail`'s own walk (same paths, fds, roles).
    #[test]
    fn detail_of_groups_the_files_process_info_found() {
        use std::fs::OpenOptions;
        let dir = std::env::temp_dir().join(format!("sockq-detail-of-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let open = |name: &str, append: bool| {
            OpenOptions::new()
                .create(true)
                .write(!append)
                .append(append)
                .open(dir.join(name))
                .unwrap()
        };
        let held = [
            open("app.log", true),
            open("app.log", true),
            open("data", false),
            open("plain", true),
        ];
        std::fs::write(dir.join("ro"), b"").unwrap();
        let ro = std::fs::File::open(dir.join("ro")).unwrap();
        let pid = std::process::id();
        let root = Path::new("/proc");
        let info = crate::process_info(root, pid).unwrap();
        let mut d = Detailer::new(root, None).unwrap();
        let ours = |f: &sockq_model::Files| {
            let mut v: Vec<(Vec<u8>, usize, FileRole, bool)> = f
                .logs
                .iter()
                .chain(&f.writes)
                .filter(|u| u.path.starts_with(dir.as_os_str().as_encoded_bytes()))
                .map(|u| (u.path.clone(), u.fds.len(), u.role, u.append))
                .collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        };
        let walked = ours(&d.detail(pid).unwrap().files);
        let given = ours(&d.detail_of(&info).unwrap().files);
        drop((held, ro));
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(walked, given);
        let names: Vec<(String, usize, FileRole)> = given
            .iter()
            .map(|(p, n, r, _)| {
                let name = p.rsplit(|&b| b == b'/').next().unwrap_or_default();
                (String::from_utf8_lossy(name).into_owned(), *n, *r)
            })
            .collect();
        assert_eq!(
            names,
            vec![
                ("app.log".into(), 2, FileRole::Log),
                ("data".into(), 1, FileRole::Write),
                ("plain".into(), 1, FileRole::Log),
            ]
        );
    }
}
