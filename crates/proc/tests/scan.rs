//! The scan against real processes: sockets held in this process, by forked
//! children and by threads, checked against `ss` itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sockq_proc::{ScanOptions, UserNames, process_info_with, scan, scan_filtered};
use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

fn opts(threads: bool) -> ScanOptions {
    ScanOptions {
        proc_root: "/proc".into(),
        threads,
    }
}

/// The socket inode behind one of our fds.
fn inode_of(fd: i32) -> u32 {
    let md = std::fs::metadata(format!("/proc/self/fd/{fd}")).unwrap();
    u32::try_from(md.ino()).unwrap()
}

/// Starts `python3 -c script` with piped stdin (closing it ends the child)
/// and returns it with the numbers it prints on its first line.
fn python_numbers(script: &str) -> (Child, Vec<u32>) {
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 is needed for this test");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let v = line
        .split_whitespace()
        .map(|w| w.parse().unwrap())
        .collect();
    (child, v)
}

#[test]
fn finds_own_sockets_with_every_fd() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let l2 = l.try_clone().unwrap();
    let (a, b) = UnixStream::pair().unwrap();
    let me = std::process::id();
    let map = scan(&opts(false)).unwrap();

    let ino = inode_of(l.as_raw_fd());
    let got: Vec<(u32, u32)> = map.owners(ino).iter().map(|o| (o.pid, o.fd)).collect();
    let (lo, hi) = {
        let (x, y) = (l.as_raw_fd() as u32, l2.as_raw_fd() as u32);
        (x.min(y), x.max(y))
    };
    // ss's order: within a pid, highest fd first.
    assert_eq!(got, vec![(me, hi), (me, lo)]);
    let comm = std::fs::read("/proc/self/comm").unwrap();
    let comm = comm.strip_suffix(b"\n").unwrap_or(&comm);
    for o in map.owners(ino) {
        assert_eq!(o.comm.as_bytes(), comm);
        assert_eq!(o.tid, None);
    }
    for s in [&a, &b] {
        let owners = map.owners(inode_of(s.as_raw_fd()));
        assert_eq!(owners.len(), 1, "{owners:?}");
        assert_eq!(owners[0].fd, s.as_raw_fd() as u32);
    }
    assert!(map.owners(0).is_empty());
    assert!(map.len() >= 3 && map.holders() >= map.len());

    // A wanted set stores only those inodes, but all their holders.
    let wanted: HashSet<u32> = [ino].into();
    let only = scan_filtered(&opts(false), Some(&wanted)).unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only.owners(ino), map.owners(ino));
}

/// A python3 process holding a listening socket on two fds, with two forked
/// children (sharing it) and two extra threads. It exits when stdin closes.
struct Holder {
    child: Child,
    port: u16,
    inode: u32,
    fds: [u32; 2],
    pid: u32,
    kids: [u32; 2],
}

const HOLDER: &str = r#"
import socket, os, sys, threading
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()
d = os.dup(s.fileno())
kids = []
for i in range(2):
    pid = os.fork()
    if pid == 0:
        sys.stdin.read(); os._exit(0)
    kids.append(pid)
ev = threading.Event()
ts = [threading.Thread(target=ev.wait, daemon=True) for i in range(2)]
for t in ts: t.start()
print(os.fstat(s.fileno()).st_ino, s.getsockname()[1], s.fileno(), d, os.getpid(), *kids, flush=True)
sys.stdin.read()
"#;

impl Holder {
    fn start() -> Holder {
        let (child, v) = python_numbers(HOLDER);
        assert_eq!(v.len(), 7, "{v:?}");
        Holder {
            child,
            inode: v[0],
            port: u16::try_from(v[1]).unwrap(),
            fds: [v[2], v[3]],
            pid: v[4],
            kids: [v[5], v[6]],
        }
    }

    fn tids(&self) -> Vec<u32> {
        let mut t: Vec<u32> = std::fs::read_dir(format!("/proc/{}/task", self.pid))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
            .collect();
        t.sort();
        t
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// `users:((...))` as ss prints it, for names without special characters.
fn users_text(owners: &[sockq_model::Owner]) -> String {
    let items: Vec<String> = owners
        .iter()
        .map(|o| {
            let comm = String::from_utf8_lossy(o.comm.as_bytes());
            match o.tid {
                Some(t) => format!("(\"{comm}\",pid={},tid={t},fd={})", o.pid, o.fd),
                None => format!("(\"{comm}\",pid={},fd={})", o.pid, o.fd),
            }
        })
        .collect();
    format!("users:({})", items.join(","))
}

/// The `users:(...)` field of ss's row for a listening port.
fn ss_users(port: u16, extra: &str) -> Option<String> {
    let out = Command::new("ss")
        .args([&format!("-tlnH{extra}"), &format!("sport = :{port}")])
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?;
    let at = text.find("users:(")?;
    Some(text[at..].trim_end().to_owned())
}

#[test]
fn forked_children_and_threads_hold_the_socket() {
    let h = Holder::start();
    let (lo, hi) = (h.fds[0].min(h.fds[1]), h.fds[0].max(h.fds[1]));

    let map = scan(&opts(false)).unwrap();
    let got: Vec<(u32, u32)> = map.owners(h.inode).iter().map(|o| (o.pid, o.fd)).collect();
    let mut pids = vec![h.pid, h.kids[0], h.kids[1]];
    pids.sort_by(|a, b| b.cmp(a));
    let want: Vec<(u32, u32)> = pids.iter().flat_map(|&p| [(p, hi), (p, lo)]).collect();
    assert_eq!(got, want);
    assert!(
        map.owners(h.inode)
            .iter()
            .all(|o| o.comm.as_bytes() == b"python3")
    );

    // -T: one entry per thread; extra threads (highest tid first) before the
    // main thread, whose tid is the pid.
    let tmap = scan(&opts(true)).unwrap();
    let tids = h.tids();
    assert_eq!(tids.len(), 3, "{tids:?}");
    let mut want_t = Vec::new();
    for &p in &pids {
        let mut ts: Vec<u32> = if p == h.pid { tids.clone() } else { vec![p] };
        ts.retain(|&t| t != p);
        ts.sort_by(|a, b| b.cmp(a));
        ts.push(p);
        for t in ts {
            want_t.push((p, t, hi));
            want_t.push((p, t, lo));
        }
    }
    let got_t: Vec<(u32, u32, u32)> = tmap
        .owners(h.inode)
        .iter()
        .map(|o| (o.pid, o.tid.unwrap(), o.fd))
        .collect();
    assert_eq!(got_t, want_t);

    // And exactly what ss prints, in ss's order.
    let ss = ss_users(h.port, "p").expect("ss -p shows the holders");
    assert_eq!(users_text(map.owners(h.inode)), ss);
    let ss = ss_users(h.port, "T").expect("ss -T shows the holders");
    assert_eq!(users_text(tmap.owners(h.inode)), ss);
}

#[test]
fn comm_with_parens_and_quotes_is_kept_whole() {
    let name = "a) b\"c\\d";
    let (mut child, v) = python_numbers(&format!(
        "import socket,sys\nopen('/proc/self/comm','w').write({name:?})\n\
         s=socket.socket();s.bind(('127.0.0.1',0));s.listen()\n\
         import os\nprint(os.fstat(s.fileno()).st_ino,s.fileno(),flush=True)\nsys.stdin.read()"
    ));
    let map = scan(&opts(false)).unwrap();
    let owners = map.owners(v[0]);
    drop(child.stdin.take());
    let _ = child.wait();
    assert_eq!(owners.len(), 1);
    assert_eq!(owners[0].comm.as_bytes(), name.as_bytes());
    assert_eq!(owners[0].fd, v[1]);
}

#[test]
fn process_info_of_self() {
    let dir = std::env::temp_dir().join(format!("sockq-proc-info-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("app.log");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .unwrap();
    f.write_all(b"x").unwrap();
    let gone = dir.join("gone.log");
    let g = std::fs::File::create(&gone).unwrap();
    std::fs::remove_file(&gone).unwrap();
    let ro = std::fs::File::open(&log).unwrap();

    let users = UserNames::parse(b"root:x:0:0::/root:/bin/sh\n");
    let me = std::process::id();
    let info = process_info_with(Path::new("/proc"), me, &users).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();

    assert_eq!(info.pid, me);
    assert_eq!(info.uid, rustix::process::getuid().as_raw());
    assert_eq!(
        info.ppid,
        rustix::process::getppid().unwrap().as_raw_nonzero().get() as u32
    );
    let exe = std::env::current_exe().unwrap();
    assert_eq!(
        info.exe.as_deref(),
        Some(exe.as_os_str().as_encoded_bytes())
    );
    assert!(!info.exe_deleted);
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(
        info.cwd.as_deref(),
        Some(cwd.as_os_str().as_encoded_bytes())
    );
    let args: Vec<Vec<u8>> = std::env::args_os()
        .map(|a| a.as_encoded_bytes().to_vec())
        .collect();
    assert_eq!(info.cmdline, args);
    assert_eq!(info.comm.as_bytes(), {
        let c = std::fs::read("/proc/self/comm").unwrap();
        c.strip_suffix(b"\n").unwrap().to_vec()
    });

    let find = |fd: i32| info.log_files.iter().find(|l| l.fd == fd as u32);
    let l = find(f.as_raw_fd()).expect("appended file listed");
    assert_eq!(l.target, log.as_os_str().as_encoded_bytes());
    assert!(l.append && !l.deleted);
    let d = find(g.as_raw_fd()).expect("deleted file listed");
    assert_eq!(d.target, gone.as_os_str().as_encoded_bytes());
    assert!(d.deleted && !d.append);
    assert!(find(ro.as_raw_fd()).is_none(), "read-only fds are not logs");
    // /var/log first, then by fd.
    let keys: Vec<(bool, u32)> = info
        .log_files
        .iter()
        .map(|l| (!l.target.starts_with(b"/var/log/"), l.fd))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[test]
fn missing_process_and_root() {
    let e = process_info_with(Path::new("/proc"), u32::MAX - 1, &UserNames::default());
    assert!(
        matches!(e, Err(sockq_proc::Error::NoProcess { .. })),
        "{e:?}"
    );
    let e = scan(&ScanOptions {
        proc_root: "/nonexistent-proc".into(),
        threads: false,
    });
    assert!(
        matches!(e, Err(sockq_proc::Error::ProcRoot { .. })),
        "{e:?}"
    );
}

/// The slow, obvious scan of one process, as the reference.
fn reference_fds(pid: u32) -> Vec<(u32, u32)> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap() {
        let e = e.unwrap();
        let fd: u32 = e.file_name().to_str().unwrap().parse().unwrap();
        let Ok(t) = std::fs::read_link(e.path()) else {
            continue;
        };
        let t = t.to_string_lossy().into_owned();
        if let Some(ino) = t.strip_prefix("socket:[").and_then(|r| r.strip_suffix(']')) {
            v.push((ino.parse().unwrap(), fd));
        }
    }
    v.sort();
    v
}

#[test]
fn a_process_with_thousands_of_fds_is_split_and_fully_found() {
    // More fds than one work chunk, so both workers share this process.
    let (mut child, v) = python_numbers(
        "import socket,sys,resource,os\n\
         h=resource.getrlimit(resource.RLIMIT_NOFILE)[1]\n\
         resource.setrlimit(resource.RLIMIT_NOFILE,(min(h,20000),min(h,20000)))\n\
         k=[socket.socketpair() for i in range(3000)]\n\
         print(os.getpid(),flush=True)\nsys.stdin.read()",
    );
    let pid = v[0];
    let map = scan(&opts(false)).unwrap();
    let want = reference_fds(pid);
    drop(child.stdin.take());
    let _ = child.wait();
    assert!(want.len() >= 6000, "{}", want.len());
    for &(ino, fd) in &want {
        let o = map.owners(ino);
        assert_eq!(o.len(), 1, "{ino}: {o:?}");
        assert_eq!((o[0].pid, o[0].fd), (pid, fd));
        assert_eq!(o[0].comm.as_bytes(), b"python3");
    }
}
