//! The process blocks of `-P`/`--process-info`, under each socket row.
//!
//! Processes that share name, binary, command line, working directory,
//! user, identity (unit, container), where stdout and stderr go, and the
//! files they write form one block; parents come before their children,
//! then lower pids first. Every line starts with a TAB (`→` here):
//!
//! ```text
//! →process nginx  pid 21934  ppid 1  user root  unit nginx.service
//! →  cmd: nginx: master process /usr/sbin/nginx
//! →  exe: /usr/sbin/nginx
//! →  cwd: /
//! →  stdout: /dev/null
//! →  stderr: /var/log/nginx/error.log (append)
//! →  logs: /var/log/nginx/error.log (fd 2, 5; append), /var/log/nginx/access.log (fd 6; append)
//! →process nginx ×4  pids 21935–21938  ppid 21934  user www-data  unit nginx.service
//! →  …
//! →process httpd  pid 17817  ppid 17805  user root  container podman:web  image localhost/web:1
//! →  stdout: pipe:[9345332] → conmon (pid 17805) writes /var/lib/containers/…/ctr.log
//! →  stdout, stderr: socket:[5512] → journal (journalctl -u app.service)
//! →  writes: /srv/db/a (fd 7), … and 35 more
//! ```
//!
//! * The first line names the identity: `container RUNTIME:NAME` (and its
//!   `image`, its `pod NAMESPACE/NAME`), else `unit NAME` (`user-unit` for
//!   a unit of a user manager).
//! * `pids A–B` for a run of consecutive pids, else a list.
//! * A stream is the fd's target, then `→` and the process reading it
//!   (with the files it writes), at most two hops; `journal` with the
//!   command that reads it. Identical stdout and stderr are one line.
//! * `logs:` are append-mode files, names ending `.log`, `.err`, `.out`
//!   (or `.log.N`) and anything under `/var/log`; each path once with all
//!   its fds and `append`/`deleted`. `writes:` are the other files open for
//!   writing, at most 5 then `and N more`; the line is left out when there
//!   are none. `-` stands for "could not be read" (not root, exited).
//! * Every string is escaped by [`escape_name`].

use crate::sanitize::escape_bytes;
use sockq_model::{
    FileUse, Files, Identity, ProcessDetail, ProcessInfo, Reader, ReaderKind, Stream, StreamKind,
};
use std::collections::HashMap;
use std::io::Write;

/// One process, as shown.
#[derive(Clone, Copy, Debug)]
pub struct Proc<'a> {
    /// The record (with its detail).
    pub info: &'a ProcessInfo,
    /// `info.detail`.
    pub detail: &'a ProcessDetail,
}

impl<'a> Proc<'a> {
    /// A process as shown.
    pub fn of(info: &'a ProcessInfo) -> Proc<'a> {
        Proc {
            info,
            detail: &info.detail,
        }
    }
}

/// What makes two processes one block.
#[derive(PartialEq, Eq, Hash)]
struct Key<'a> {
    comm: &'a [u8],
    exe: Option<&'a [u8]>,
    cmdline: &'a [Vec<u8>],
    cwd: Option<&'a [u8]>,
    uid: u32,
    identity: &'a Identity,
    stdout: Option<(&'a [u8], Option<u32>)>,
    stderr: Option<(&'a [u8], Option<u32>)>,
    files: Vec<(&'a [u8], bool, bool)>,
}

fn stream_key(s: &Option<Stream>) -> Option<(&[u8], Option<u32>)> {
    s.as_ref()
        .map(|s| (&s.target[..], s.reader.as_ref().and_then(|r| r.pid)))
}

fn key<'a>(p: &Proc<'a>) -> Key<'a> {
    let f = &p.detail.files;
    Key {
        comm: p.info.comm.as_bytes(),
        exe: p.info.exe.as_deref(),
        cmdline: &p.info.cmdline,
        cwd: p.info.cwd.as_deref(),
        uid: p.info.uid,
        identity: &p.detail.identity,
        stdout: stream_key(&p.detail.stdout),
        stderr: stream_key(&p.detail.stderr),
        files: f
            .logs
            .iter()
            .chain(&f.writes)
            .map(|u| (&u.path[..], u.append, u.deleted))
            .collect(),
    }
}

/// Groups processes into blocks (each a list of members, pid order) and
/// orders them: parents before children, then by lowest pid.
pub fn blocks<'a>(procs: &[Proc<'a>]) -> Vec<Vec<Proc<'a>>> {
    let mut index: HashMap<Key<'a>, usize> = HashMap::new();
    let mut out: Vec<Vec<Proc<'a>>> = Vec::new();
    for p in procs {
        let k = key(p);
        match index.get(&k) {
            Some(&i) => {
                if let Some(b) = out.get_mut(i) {
                    b.push(*p);
                }
            }
            None => {
                index.insert(k, out.len());
                out.push(vec![*p]);
            }
        }
    }
    for b in &mut out {
        b.sort_by_key(|p| p.info.pid);
    }
    // Depth of each pid within this set (its parent's depth + 1), bounded
    // by the set's size so a pid-reuse loop cannot hang it.
    let parent: HashMap<u32, u32> = procs.iter().map(|p| (p.info.pid, p.info.ppid)).collect();
    let depth = |mut pid: u32| {
        let mut d = 0usize;
        while let Some(&pp) = parent.get(&pid) {
            if !parent.contains_key(&pp) || d > procs.len() {
                break;
            }
            d += 1;
            pid = pp;
        }
        d
    };
    out.sort_by_key(|b| {
        (
            b.iter().map(|p| depth(p.info.pid)).min().unwrap_or(0),
            b.first().map_or(0, |p| p.info.pid),
        )
    });
    out
}

/// `21935–21938` for a contiguous run, else `1, 5, 9`.
fn write_pids(out: &mut Vec<u8>, pids: &[u32]) {
    let (Some(&first), Some(&last)) = (pids.first(), pids.last()) else {
        return;
    };
    let contiguous = pids.windows(2).all(|w| w[1] == w[0].saturating_add(1));
    if pids.len() > 1 && contiguous {
        let _ = write!(out, "{first}\u{2013}{last}");
    } else {
        for (i, p) in pids.iter().enumerate() {
            if i > 0 {
                out.extend_from_slice(b", ");
            }
            let _ = write!(out, "{p}");
        }
    }
}

/// `unit nginx.service`, `container podman:web  image localhost/x:1`, ….
pub fn write_identity(out: &mut Vec<u8>, id: &Identity) {
    if let Some(c) = &id.container {
        out.extend_from_slice(b"  container ");
        escape_bytes(out, c.runtime.as_str().as_bytes());
        out.push(b':');
        escape_bytes(out, c.display_name().as_bytes());
        if let Some(img) = &c.image {
            out.extend_from_slice(b"  image ");
            escape_bytes(out, img.as_bytes());
        }
    }
    if let Some(p) = &id.pod {
        out.extend_from_slice(b"  pod ");
        match (&p.namespace, &p.name) {
            (Some(ns), Some(n)) => {
                escape_bytes(out, ns.as_bytes());
                out.push(b'/');
                escape_bytes(out, n.as_bytes());
            }
            _ => escape_bytes(out, p.uid.as_bytes()),
        }
    }
    if id.container.is_none()
        && let Some(u) = &id.unit
    {
        out.extend_from_slice(if id.user_unit.is_some() {
            b"  user-unit "
        } else {
            b"  unit "
        });
        escape_bytes(out, u.as_bytes());
    }
}

/// Writes one block: each line starts with a TAB and ends with a newline.
pub fn write_block(out: &mut Vec<u8>, members: &[Proc<'_>]) {
    let Some(first) = members.first() else {
        return;
    };
    let info = first.info;
    let detail = first.detail;
    out.extend_from_slice(b"\tprocess ");
    escape_bytes(out, info.comm.as_bytes());
    let pids: Vec<u32> = members.iter().map(|p| p.info.pid).collect();
    if members.len() > 1 {
        let _ = write!(out, " \u{d7}{}  pids ", members.len());
    } else {
        out.extend_from_slice(b"  pid ");
    }
    write_pids(out, &pids);
    let mut ppids: Vec<u32> = members.iter().map(|p| p.info.ppid).collect();
    ppids.sort_unstable();
    ppids.dedup();
    out.extend_from_slice(b"  ppid ");
    write_pids(out, &ppids);
    match &info.user {
        Some(u) => {
            out.extend_from_slice(b"  user ");
            escape_bytes(out, u.as_bytes());
        }
        None => {
            let _ = write!(out, "  uid {}", info.uid);
        }
    }
    write_identity(out, &detail.identity);
    out.push(b'\n');

    out.extend_from_slice(b"\t  cmd: ");
    if info.cmdline.is_empty() {
        out.push(b'-');
    }
    for (i, arg) in info.cmdline.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        escape_bytes(out, arg);
    }
    out.extend_from_slice(b"\n\t  exe: ");
    opt(out, info.exe.as_deref());
    if info.exe.is_some() && info.exe_deleted {
        out.extend_from_slice(b" (deleted)");
    }
    out.extend_from_slice(b"\n\t  cwd: ");
    opt(out, info.cwd.as_deref());
    out.push(b'\n');

    let same = detail.stdout.is_some() && detail.stdout == detail.stderr;
    if same {
        out.extend_from_slice(b"\t  stdout, stderr: ");
        write_stream(out, detail.stdout.as_ref());
        out.push(b'\n');
    } else {
        out.extend_from_slice(b"\t  stdout: ");
        write_stream(out, detail.stdout.as_ref());
        out.extend_from_slice(b"\n\t  stderr: ");
        write_stream(out, detail.stderr.as_ref());
        out.push(b'\n');
    }
    write_files(out, &detail.files);
}

fn opt(out: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        Some(v) => escape_bytes(out, v),
        None => out.push(b'-'),
    }
}

/// `pipe:[9] → conmon (pid 5) → /var/…/ctr.log`, `journal (journalctl -u x)`.
fn write_stream(out: &mut Vec<u8>, s: Option<&Stream>) {
    let Some(s) = s else {
        out.push(b'-');
        return;
    };
    escape_bytes(out, &s.target);
    let mut flags = Vec::new();
    if s.kind == Some(StreamKind::File) && s.append {
        flags.push("append");
    }
    if s.deleted {
        flags.push("deleted");
    }
    if !flags.is_empty() {
        let _ = write!(out, " ({})", flags.join(", "));
    }
    let mut r = s.reader.as_ref();
    while let Some(x) = r {
        out.extend_from_slice(" \u{2192} ".as_bytes());
        write_reader(out, x);
        r = x.next.as_deref();
    }
}

fn write_reader(out: &mut Vec<u8>, r: &Reader) {
    if r.kind == ReaderKind::Journal {
        out.extend_from_slice(b"journal");
        if let Some(c) = &r.command {
            out.extend_from_slice(b" (");
            escape_bytes(out, c.as_bytes());
            out.push(b')');
        }
        return;
    }
    match &r.comm {
        Some(c) => escape_bytes(out, c.as_bytes()),
        None => out.extend_from_slice(r.kind.as_str().as_bytes()),
    }
    if let Some(p) = r.pid {
        let _ = write!(out, " (pid {p})");
    }
    for (i, l) in r.logs.iter().enumerate() {
        out.extend_from_slice(if i == 0 { b" writes " } else { b", " });
        escape_bytes(out, l);
    }
}

/// `logs: error.log (fd 2, 3; append), …` and `writes: … and N more`.
fn write_files(out: &mut Vec<u8>, f: &Files) {
    out.extend_from_slice(b"\t  logs: ");
    if f.logs.is_empty() {
        out.push(b'-');
    }
    for (i, u) in f.logs.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        write_use(out, u);
    }
    let hidden = f.logs_total.saturating_sub(f.logs.len());
    if hidden > 0 {
        let _ = write!(out, " and {hidden} more");
    }
    out.push(b'\n');
    if f.writes_total == 0 {
        return;
    }
    out.extend_from_slice(b"\t  writes: ");
    for (i, u) in f.writes.iter().take(Files::WRITES_SHOWN).enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        write_use(out, u);
    }
    let hidden = f
        .writes_total
        .saturating_sub(f.writes.len().min(Files::WRITES_SHOWN));
    if hidden > 0 {
        let _ = write!(out, " and {hidden} more");
    }
    out.push(b'\n');
}

fn write_use(out: &mut Vec<u8>, u: &FileUse) {
    escape_bytes(out, &u.path);
    out.extend_from_slice(b" (fd ");
    for (i, fd) in u.fds.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b", ");
        }
        let _ = write!(out, "{fd}");
    }
    let mut flags = Vec::new();
    if u.append {
        flags.push("append");
    }
    if u.deleted {
        flags.push("deleted");
    }
    if !flags.is_empty() {
        let _ = write!(out, "; {}", flags.join(", "));
    }
    out.push(b')');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use sockq_model::{Comm, Container, FileRole, Runtime};

    fn proc(pid: u32, ppid: u32, cmd: &str) -> ProcessInfo {
        ProcessInfo {
            pid,
            ppid,
            uid: 33,
            user: Some("www-data".into()),
            comm: Comm::new(b"nginx"),
            cmdline: vec![cmd.as_bytes().to_vec()],
            exe: Some(b"/usr/sbin/nginx".to_vec()),
            cwd: Some(b"/".to_vec()),
            detail: ProcessDetail {
                identity: Identity {
                    unit: Some("nginx.service".into()),
                    ..Identity::default()
                },
                stderr: Some(Stream {
                    target: b"/var/log/nginx/error.log".to_vec(),
                    kind: Some(StreamKind::File),
                    append: true,
                    ..Stream::default()
                }),
                files: Files {
                    logs: vec![FileUse {
                        path: b"/var/log/nginx/error.log".to_vec(),
                        fds: vec![2, 5],
                        append: true,
                        deleted: false,
                        role: FileRole::Log,
                    }],
                    logs_total: 1,
                    ..Files::default()
                },
                ..ProcessDetail::default()
            },
            ..ProcessInfo::default()
        }
    }

    fn text(members: &[Proc<'_>]) -> String {
        let mut out = Vec::new();
        write_block(&mut out, members);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn workers_are_one_block_after_their_master() {
        let master = proc(100, 1, "nginx: master process /usr/sbin/nginx");
        let workers: Vec<ProcessInfo> = (101..105)
            .map(|p| proc(p, 100, "nginx: worker process"))
            .collect();
        // Given in any order: workers first.
        let mut all: Vec<Proc<'_>> = workers.iter().rev().map(Proc::of).collect();
        all.push(Proc::of(&master));
        let b = blocks(&all);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].len(), 1);
        assert_eq!(b[0][0].info.pid, 100);
        assert_eq!(
            b[1].iter().map(|p| p.info.pid).collect::<Vec<_>>(),
            [101, 102, 103, 104]
        );
        assert_eq!(
            text(&b[0]),
            "\tprocess nginx  pid 100  ppid 1  user www-data  unit nginx.service\n\
             \t  cmd: nginx: master process /usr/sbin/nginx\n\
             \t  exe: /usr/sbin/nginx\n\
             \t  cwd: /\n\
             \t  stdout: -\n\
             \t  stderr: /var/log/nginx/error.log (append)\n\
             \t  logs: /var/log/nginx/error.log (fd 2, 5; append)\n"
        );
        let t = text(&b[1]);
        assert!(
            t.starts_with(
                "\tprocess nginx \u{d7}4  pids 101\u{2013}104  ppid 100  user www-data  unit nginx.service\n"
            ),
            "{t}"
        );
    }

    #[test]
    fn container_readers_writes_and_hostile_strings() {
        let mut p = proc(7, 3, "httpd");
        p.detail.identity = Identity {
            container: Some(Container {
                runtime: Runtime::Podman,
                id: "0123456789abcdef".into(),
                name: Some("web\x1b".into()),
                image: Some("localhost/web:1".into()),
            }),
            ..Identity::default()
        };
        let pipe = Stream {
            target: b"pipe:[9]".to_vec(),
            kind: Some(StreamKind::Pipe),
            inode: Some(9),
            reader: Some(Reader {
                kind: ReaderKind::Conmon,
                pid: Some(3),
                comm: Some(sockq_model::Comm::new(b"conmon")),
                logs: vec![b"/var/lib/c/ctr.log".to_vec()],
                command: None,
                next: None,
            }),
            ..Stream::default()
        };
        p.detail.stdout = Some(pipe.clone());
        p.detail.stderr = Some(pipe);
        p.detail.files.writes = (0..7)
            .map(|i| FileUse {
                path: format!("/srv/d{i}").into_bytes(),
                fds: vec![10 + i],
                append: false,
                deleted: i == 0,
                role: FileRole::Write,
            })
            .collect();
        p.detail.files.writes_total = 40;
        let t = text(&[Proc::of(&p)]);
        assert!(
            t.starts_with("\tprocess nginx  pid 7  ppid 3  user www-data  container podman:web\\x1b  image localhost/web:1\n"),
            "{t}"
        );
        assert!(
            t.contains(
                "\t  stdout, stderr: pipe:[9] \u{2192} conmon (pid 3) writes /var/lib/c/ctr.log\n"
            ),
            "{t}"
        );
        assert!(
            t.contains("\t  writes: /srv/d0 (fd 10; deleted), /srv/d1 (fd 11), /srv/d2 (fd 12), /srv/d3 (fd 13), /srv/d4 (fd 14) and 35 more\n"),
            "{t}"
        );
    }

    #[test]
    fn journal_and_empty() {
        let mut p = proc(7, 1, "x");
        p.detail.stdout = Some(Stream {
            target: b"socket:[5]".to_vec(),
            kind: Some(StreamKind::UnixSocket),
            inode: Some(5),
            reader: Some(Reader {
                kind: ReaderKind::Journal,
                pid: None,
                comm: None,
                logs: Vec::new(),
                command: Some("journalctl -u nginx.service".into()),
                next: None,
            }),
            ..Stream::default()
        });
        let t = text(&[Proc::of(&p)]);
        assert!(
            t.contains("\t  stdout: socket:[5] \u{2192} journal (journalctl -u nginx.service)\n"),
            "{t}"
        );
        let empty = ProcessInfo::default();
        assert_eq!(
            text(&[Proc::of(&empty)]),
            "\tprocess   pid 0  ppid 0  uid 0\n\t  cmd: -\n\t  exe: -\n\t  cwd: -\n\
             \t  stdout: -\n\t  stderr: -\n\t  logs: -\n"
        );
        assert!(blocks(&[]).is_empty());
    }
}
