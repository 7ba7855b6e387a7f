//! Identity and output following against real parts: a podman container
//! (conmon and ctr.log), a process in a cgroup named like a systemd unit,
//! stderr piped into `tee -a`, a FIFO, stdout connected to a journald-like
//! listener at `/run/systemd/journal/stdout` in a private mount namespace,
//! and nginx's master and workers.
//!
//! Root-only tests skip with a reason when not root, and fail under `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sockq_model::{FileRole, ProcessDetail, ReaderKind, Runtime, StreamKind};
use sockq_proc::{Detailer, ScanOptions, UnixPeer, scan, scan_with_ends};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

// The podman helper of the sockq package's end-to-end tests, shared (its `super::*` finds
// `must` here).
#[path = "../../../tests/util/podman.rs"]
mod podman;
use podman::{Podman, podman_or_skip, quiet};

fn unique() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn real_uid() -> Option<u32> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("Uid:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

fn root_or_skip(test: &str) -> bool {
    if real_uid() == Some(0) {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{test}: needs root, and CI=true forbids skipping"
    );
    eprintln!("skipping {test}: needs root");
    false
}

fn have_or_skip(test: &str, prog: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()));
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: {prog} is not installed, and CI=true forbids skipping"
        );
        eprintln!("skipping {test}: {prog} is not installed");
    }
    found
}

/// Runs a command that must succeed, with a deadline; returns stdout.
fn must(cmd: &mut Command) -> String {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t = std::thread::spawn(move || {
        let mut v = String::new();
        let _ = err.read_to_string(&mut v);
        v
    });
    let mut text = String::new();
    let _ = out.read_to_string(&mut text);
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} timed out");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let err = t.join().unwrap();
    assert!(status.success(), "{what} failed: {status}: {err}");
    text
}

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("sockq-id-{tag}-{}", unique()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Kills and reaps children on drop, whatever happens.
struct Kids(Vec<Child>);

impl Drop for Kids {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn opts() -> ScanOptions {
    ScanOptions::default()
}

fn detail_of(pid: u32) -> ProcessDetail {
    let owners = scan_with_ends(&opts(), None).unwrap();
    let mut d = Detailer::new(Path::new("/proc"), Some(&owners)).unwrap();
    d.detail(pid).unwrap()
}

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Waits until `f` holds, or panics with `what` after 20 s.
fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[test]
fn stderr_into_tee_append_finds_the_file_through_the_pipe() {
    let dir = TempDir::new("tee");
    let file = dir.0.join("app.err");
    let mut kids = Kids(Vec::new());
    let mut tee = Command::new("tee")
        .arg("-a")
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        // Not the test's own stderr: when that is a file (CI's log), the
        // reader would write it too.
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let tee_in = tee.stdin.take().unwrap();
    let tee_pid = tee.id();
    kids.0.push(tee);
    let app = Command::new("sleep")
        .arg("600")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(tee_in))
        .spawn()
        .unwrap();
    let pid = app.id();
    kids.0.push(app);
    wait_for("tee has its file open", || {
        std::fs::read_dir(format!("/proc/{tee_pid}/fd"))
            .map(|d| {
                d.flatten()
                    .any(|e| std::fs::read_link(e.path()).is_ok_and(|t| t == file))
            })
            .unwrap_or(false)
    });

    let d = detail_of(pid);
    let err = d.stderr.expect("stderr");
    assert_eq!(err.kind, Some(StreamKind::Pipe));
    let r = err.reader.expect("the pipe's reader is found");
    assert_eq!(r.kind, ReaderKind::Tee);
    assert_eq!(r.pid, Some(tee_pid));
    assert_eq!(r.logs, vec![file.as_os_str().as_encoded_bytes().to_vec()]);
    let out = d.stdout.expect("stdout");
    assert_eq!(out.kind, Some(StreamKind::Null));
    assert!(out.reader.is_none());

    // The reader comes from the scan's own records: a map built without
    // them names the pipe but cannot follow it.
    let plain = scan(&opts()).unwrap();
    let mut d = Detailer::new(Path::new("/proc"), Some(&plain)).unwrap();
    let err = d.detail(pid).unwrap().stderr.expect("stderr");
    assert_eq!(err.kind, Some(StreamKind::Pipe));
    assert!(err.reader.is_none());
}

#[test]
fn fifo_reader_found_by_path() {
    let dir = TempDir::new("fifo");
    let fifo = dir.0.join("out.fifo");
    must(Command::new("mkfifo").arg(&fifo));
    let log = dir.0.join("copy.log");
    let mut kids = Kids(Vec::new());
    // The reader opens the FIFO first (opening for reading blocks until a
    // writer comes, so both are started before waiting).
    let reader = Command::new("sh")
        .arg("-c")
        .arg("exec cat < \"$1\" >> \"$2\"")
        .arg("sh")
        .arg(&fifo)
        .arg(&log)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let reader_pid = reader.id();
    kids.0.push(reader);
    let w = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
    let app = Command::new("sleep")
        .arg("600")
        .stdin(Stdio::null())
        .stdout(Stdio::from(w))
        .spawn()
        .unwrap();
    let pid = app.id();
    kids.0.push(app);
    let d = detail_of(pid);
    let out = d.stdout.expect("stdout");
    assert_eq!(out.kind, Some(StreamKind::Fifo));
    assert_eq!(out.target, fifo.as_os_str().as_encoded_bytes());
    let r = out.reader.expect("the FIFO's reader is found");
    assert_eq!(r.pid, Some(reader_pid));
    assert_eq!(r.logs, vec![log.as_os_str().as_encoded_bytes().to_vec()]);
}

/// `ss -xa`: unix socket inode → its peer (inode and the peer's bound path).
fn unix_peers() -> HashMap<u32, UnixPeer> {
    let text = must(Command::new("ss").args(["-xaH"]));
    let mut name: HashMap<u32, String> = HashMap::new();
    let mut peer: HashMap<u32, u32> = HashMap::new();
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        // Netid State Recv-Q Send-Q Local Port Peer Port
        if f.len() < 8 {
            continue;
        }
        let (Ok(ino), Ok(p)) = (f[5].parse::<u32>(), f[7].parse::<u32>()) else {
            continue;
        };
        name.insert(ino, f[4].to_owned());
        if p != 0 {
            peer.insert(ino, p);
        }
    }
    peer.into_iter()
        .map(|(ino, p)| {
            let path = name
                .get(&p)
                .filter(|n| n.starts_with('/'))
                .map(|n| n.as_bytes().to_vec());
            (ino, UnixPeer { inode: p, path })
        })
        .collect()
}

const JOURNAL_SCENE: &str = r#"
set -e
mount -t tmpfs tmpfs /run/systemd
mkdir -p /run/systemd/journal
exec python3 -c '
import socket, subprocess, sys, os, ctypes
# Children die with this scene, however it ends (PR_SET_PDEATHSIG, SIGKILL).
die = lambda: ctypes.CDLL(None).prctl(1, 9)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind("/run/systemd/journal/stdout")
srv.listen()
cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
cli.connect("/run/systemd/journal/stdout")
conn, _ = srv.accept()
p = subprocess.Popen(["sleep", "600"], preexec_fn=die, stdout=cli.fileno(), stdin=subprocess.DEVNULL)
cli.close()
print(os.getpid(), p.pid, flush=True)
sys.stdin.read()
p.kill()
'
"#;

#[test]
fn stdout_to_the_journal_socket_is_the_journal_with_its_command() {
    let t = "stdout_to_the_journal_socket_is_the_journal_with_its_command";
    if !root_or_skip(t) || !have_or_skip(t, "unshare") || !have_or_skip(t, "ss") {
        return;
    }
    let mut scene = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", JOURNAL_SCENE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let _ = BufReader::new(scene.stdout.take().unwrap()).read_line(&mut line);
    let kids = Kids(vec![scene]);
    let nums: Vec<u32> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(nums.len(), 2, "scene did not start: {line:?}");
    let (listener, writer) = (nums[0], nums[1]);
    // Nothing of this is visible on the host.
    assert!(!Path::new("/run/systemd/journal/stdout").exists() || listener == 0);

    let peers = unix_peers();
    let owners = scan_with_ends(&opts(), None).unwrap();
    let lookup = |ino: u32| peers.get(&ino).cloned();
    let mut d = Detailer::new(Path::new("/proc"), Some(&owners))
        .unwrap()
        .with_peers(&lookup);
    let det = d.detail(writer).unwrap();
    let out = det.stdout.expect("stdout");
    assert_eq!(out.kind, Some(StreamKind::UnixSocket), "{out:?}");
    let r = out.reader.expect("journal reader");
    assert_eq!(r.kind, ReaderKind::Journal);
    assert_eq!(r.pid, Some(listener));
    // The sleep is in no unit here, so the command names its pid.
    assert_eq!(r.command, Some(format!("journalctl _PID={writer}")));
    drop(kids);
}

const SYSLOG_SCENE: &str = r#"
import socket, subprocess, sys, os, ctypes
# Children die with this scene, however it ends (PR_SET_PDEATHSIG, SIGKILL).
die = lambda: ctypes.CDLL(None).prctl(1, 9)
d = sys.argv[1]
srv = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
srv.bind(d + "/log.sock")
out = open(d + "/messages.log", "a")
lg = subprocess.Popen(["logger", "-u", d + "/log.sock", "-t", "app"], stdin=subprocess.PIPE, preexec_fn=die)
app = subprocess.Popen(["sleep", "600"], preexec_fn=die, stdout=subprocess.DEVNULL, stderr=lg.stdin, stdin=subprocess.DEVNULL)
lg.stdin.close()
lg.stdin = None
# logger connects when it starts; wait for its first message.
subprocess.run(["logger", "-u", d + "/log.sock", "ready"])
out.write(srv.recv(4096).decode(errors="replace") + "\n"); out.flush()
print(os.getpid(), lg.pid, app.pid, flush=True)
sys.stdin.read()
app.kill(); lg.kill()
"#;

#[test]
fn stderr_into_logger_follows_two_hops_to_the_syslog_daemon() {
    let t = "stderr_into_logger_follows_two_hops_to_the_syslog_daemon";
    if !have_or_skip(t, "logger") || !have_or_skip(t, "ss") || !have_or_skip(t, "python3") {
        return;
    }
    let dir = TempDir::new("syslog");
    let mut scene = Command::new("python3")
        .arg("-c")
        .arg(SYSLOG_SCENE)
        .arg(&dir.0)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    let _ = BufReader::new(scene.stdout.take().unwrap()).read_line(&mut line);
    let _kids = Kids(vec![scene]);
    let nums: Vec<u32> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(nums.len(), 3, "scene did not start: {line:?}");
    let (daemon, logger, app) = (nums[0], nums[1], nums[2]);

    let peers = unix_peers();
    let owners = scan_with_ends(&opts(), None).unwrap();
    let lookup = |ino: u32| peers.get(&ino).cloned();
    let mut d = Detailer::new(Path::new("/proc"), Some(&owners))
        .unwrap()
        .with_peers(&lookup);
    let err = d.detail(app).unwrap().stderr.expect("stderr");
    let r = err.reader.expect("logger found through the pipe");
    assert_eq!((r.kind, r.pid), (ReaderKind::Logger, Some(logger)));
    let next = r
        .next
        .expect("second hop: the daemon behind logger's socket");
    assert_eq!(next.pid, Some(daemon));
    let log = dir.0.join("messages.log");
    assert_eq!(next.logs, vec![log.as_os_str().as_encoded_bytes().to_vec()]);
    assert!(next.next.is_none(), "at most two hops");
}

/// A cgroup directory removed on drop (after its processes are gone).
struct Cgroup(PathBuf);

impl Drop for Cgroup {
    fn drop(&mut self) {
        for _ in 0..100 {
            if std::fs::remove_dir(&self.0).is_ok() || !self.0.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Starts `sleep` and moves it into `dir` (created), returning the guard
/// (declared after the child so the child dies first).
fn sleep_in_cgroup(dir: &Path) -> (Kids, Cgroup) {
    std::fs::create_dir_all(dir).unwrap();
    let cg = Cgroup(dir.to_path_buf());
    let child = Command::new("sleep").arg("600").spawn().unwrap();
    let pid = child.id();
    let kids = Kids(vec![child]);
    std::fs::write(dir.join("cgroup.procs"), pid.to_string()).unwrap();
    (kids, cg)
}

#[test]
fn systemd_unit_from_the_cgroup_in_each_hierarchy_present() {
    let t = "systemd_unit_from_the_cgroup_in_each_hierarchy_present";
    if !root_or_skip(t) {
        return;
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap();
    let mut roots = Vec::new();
    for l in mounts.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        if f[2] == "cgroup2" {
            roots.push((PathBuf::from(f[1]), "v2"));
        } else if f[2] == "cgroup" && f[3].split(',').any(|o| o == "name=systemd") {
            roots.push((PathBuf::from(f[1]), "v1"));
        }
    }
    assert!(!roots.is_empty(), "no cgroup hierarchy for systemd here");
    for (root, kind) in roots {
        let tag = unique();
        let slice = root.join(format!("sockq-t{tag}.slice"));
        let unit = format!("sockq-t{tag}-{kind}.service");
        let guard_slice = Cgroup(slice.clone());
        let (kids, guard_unit) = sleep_in_cgroup(&slice.join(&unit));
        let pid = kids.0[0].id();
        let mut d = Detailer::new(Path::new("/proc"), None).unwrap();
        let id = d.identity(pid);
        assert_eq!(
            id.unit.as_deref(),
            Some(unit.as_str()),
            "{kind} at {root:?}"
        );
        assert_eq!(
            id.slice.as_deref(),
            Some(format!("sockq-t{tag}.slice").as_str())
        );
        assert_eq!(id.user_unit, None);
        assert!(id.container.is_none());
        drop(kids);
        drop(guard_unit);
        drop(guard_slice);
    }
}

#[test]
fn podman_container_named_with_image_and_ctr_log_through_conmon() {
    let t = "podman_container_named_with_image_and_ctr_log_through_conmon";
    if !root_or_skip(t) || !podman_or_skip(t) {
        return;
    }
    let c = Podman::httpd("127.0.0.1:8080");
    let pid = c.pid();
    let id = c.inspect("{{.Id}}");
    let id = id.as_str();
    let d = detail_of(pid);
    let ctr = d.identity.container.clone().expect("container");
    assert_eq!(ctr.runtime, Runtime::Podman);
    assert_eq!(ctr.id, id);
    assert_eq!(ctr.name.as_deref(), Some(c.name.as_str()));
    assert_eq!(ctr.image.as_deref(), Some(c.image.as_str()));
    assert_eq!(ctr.label(), format!("podman:{}", c.name));
    for (what, st) in [("stdout", &d.stdout), ("stderr", &d.stderr)] {
        let st = st.as_ref().unwrap_or_else(|| panic!("{what}"));
        assert_eq!(st.kind, Some(StreamKind::Pipe), "{what}");
        let r = st
            .reader
            .as_ref()
            .unwrap_or_else(|| panic!("{what} reader"));
        assert_eq!(r.kind, ReaderKind::Conmon, "{what}");
        let want = format!("/var/lib/containers/storage/overlay-containers/{id}/userdata/ctr.log");
        assert_eq!(
            r.logs.iter().map(|l| s(l)).collect::<Vec<_>>(),
            vec![want],
            "{what}"
        );
    }
    drop(c);
}

/// nginx master + 4 workers in a private netns, logging to a temp dir.
struct Nginx {
    master: Child,
    dir: TempDir,
    ns: String,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.master.id().to_string()])
            .status();
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.master.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.master.kill();
        let _ = self.master.wait();
        quiet(Command::new("ip").args(["netns", "del", &self.ns]));
        let _ = &self.dir;
    }
}

fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(st) = std::fs::read_to_string(format!("/proc/{p}/status")) else {
            continue;
        };
        if st
            .lines()
            .find_map(|l| l.strip_prefix("PPid:"))
            .and_then(|v| v.trim().parse::<u32>().ok())
            == Some(pid)
        {
            out.push(p);
        }
    }
    out.sort();
    out
}

fn nginx() -> (Nginx, Vec<u32>) {
    let ns = format!("sockq-id-{}", unique());
    must(Command::new("ip").args(["netns", "add", &ns]));
    let dir = TempDir::new("nginx");
    let d = dir.0.display();
    let conf = format!(
        "worker_processes 4;\ndaemon off;\nmaster_process on;\nuser root;\npid {d}/nginx.pid;\n\
         error_log {d}/error.log;\nevents {{ worker_connections 64; }}\nhttp {{\n\
         access_log {d}/access.log;\nclient_body_temp_path {d}/body;\nproxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\nuwsgi_temp_path {d}/uwsgi;\nscgi_temp_path {d}/scgi;\n\
         server {{ listen 127.0.0.1:80; location / {{ return 200 \"ok\\n\"; }} }}\n}}\n"
    );
    let conf_path = dir.0.join("nginx.conf");
    std::fs::write(&conf_path, conf).unwrap();
    let err = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.0.join("error.log"))
        .unwrap();
    let master = Command::new("ip")
        .args(["netns", "exec", &ns, "nginx", "-p"])
        .arg(&dir.0)
        .arg("-c")
        .arg(&conf_path)
        .arg("-e")
        .arg(dir.0.join("error.log"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap();
    let mut ng = Nginx { master, dir, ns };
    let pid = ng.master.id();
    let mut workers = Vec::new();
    wait_for("4 nginx workers", || {
        if let Ok(Some(s)) = ng.master.try_wait() {
            panic!("nginx exited: {s}");
        }
        workers = children_of(pid);
        workers.len() == 4
    });
    (ng, workers)
}

#[test]
fn nginx_each_log_once_with_all_its_fds() {
    let t = "nginx_each_log_once_with_all_its_fds";
    if !root_or_skip(t) || !have_or_skip(t, "nginx") || !have_or_skip(t, "ip") {
        return;
    }
    let (ng, workers) = nginx();
    let owners = scan_with_ends(&opts(), None).unwrap();
    let mut d = Detailer::new(Path::new("/proc"), Some(&owners)).unwrap();
    let error = ng.dir.0.join("error.log");
    let access = ng.dir.0.join("access.log");
    for pid in std::iter::once(ng.master.id()).chain(workers) {
        let det = d.detail(pid).unwrap();
        let logs = &det.files.logs;
        let paths: Vec<String> = logs.iter().map(|u| s(&u.path)).collect();
        assert_eq!(
            paths
                .iter()
                .filter(|p| **p == error.display().to_string())
                .count(),
            1,
            "{pid}: {paths:?}"
        );
        assert_eq!(
            paths
                .iter()
                .filter(|p| **p == access.display().to_string())
                .count(),
            1,
            "{pid}: {paths:?}"
        );
        let e = logs
            .iter()
            .find(|u| u.path == error.as_os_str().as_encoded_bytes())
            .unwrap();
        // stderr and nginx's own error_log fd: one entry, both fds.
        assert!(e.fds.contains(&2) && e.fds.len() >= 2, "{pid}: {e:?}");
        assert!(e.append);
        assert!(e.role == FileRole::Log && !e.deleted);
        assert_eq!(det.files.logs_total, logs.len());
        let err = det.stderr.unwrap();
        assert_eq!(err.kind, Some(StreamKind::File));
        assert!(err.append);
        // nginx writes no other file.
        assert!(det.files.writes.is_empty(), "{pid}: {:?}", det.files.writes);
    }
    drop(ng);
}
