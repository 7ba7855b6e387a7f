//! Process ownership end to end: `-p`, `-T`, the process-info block
//! (`-P`/`--process-info`), unprivileged runs, and a live nginx in a test
//! namespace, each checked against `ss` on the same sockets.
//!
//! Helpers live in [`h`] below (self-contained on purpose). Tests that need
//! root skip with a printed reason when not root, and fail under `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::util::blocks_in;
use h::*;
use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::{Command, Stdio};

#[allow(dead_code)]
pub(crate) mod h {
    use std::io::{BufRead, BufReader, Read};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Output, Stdio};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    /// The program under test (the built sockq, or `SOCKQ_E2E_SUBJECT`).
    pub fn sockq_bin() -> String {
        crate::util::sockq_program().to_string_lossy().into_owned()
    }
    /// Every external command gets this long before it is killed.
    pub const TIMEOUT: Duration = Duration::from_secs(60);

    /// A unique suffix for names (namespaces, temp dirs) in this run.
    pub fn unique() -> String {
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

    /// Whether a root-only test can run: true as root; otherwise prints why
    /// and returns false, or panics under `CI=true` (CI runs as root).
    pub fn root_or_skip(test: &str) -> bool {
        if real_uid() == Some(0) {
            return true;
        }
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: needs root, and CI=true forbids skipping"
        );
        eprintln!("skipping {test}: needs root (network namespaces, setpriv)");
        false
    }

    /// Whether a program is installed; missing tools fail under `CI=true`.
    pub fn have_or_skip(test: &str, prog: &str) -> bool {
        let found = std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
            || Path::new(prog).is_file();
        if !found {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{test}: {prog} is not installed, and CI=true forbids skipping"
            );
            eprintln!("skipping {test}: {prog} is not installed");
        }
        found
    }

    /// Runs a command to completion with [`TIMEOUT`], capturing its output.
    pub fn run(cmd: &mut Command) -> Output {
        let what = format!("{cmd:?}");
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        let mut out = child.stdout.take().unwrap();
        let mut err = child.stderr.take().unwrap();
        let t_out = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = out.read_to_end(&mut v);
            v
        });
        let t_err = std::thread::spawn(move || {
            let mut v = Vec::new();
            let _ = err.read_to_end(&mut v);
            v
        });
        let start = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what} timed out");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let out = Output {
            status,
            stdout: t_out.join().unwrap(),
            stderr: t_err.join().unwrap(),
        };
        // Every sockq command runs as nobody too (tests/util.rs).
        crate::util::shadow_unprivileged(cmd, &out);
        out
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn stdout_of(cmd: &mut Command) -> String {
        let what = format!("{cmd:?}");
        let o = run(cmd);
        assert!(
            o.status.success(),
            "{what} failed: {}\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).expect("UTF-8 output")
    }

    /// One entry of `users:((...))`.
    #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
    pub struct User {
        pub comm: String,
        pub pid: u32,
        pub tid: Option<u32>,
        pub fd: u32,
    }

    /// Parses the `users:((...))` field of an output line; `None` when the
    /// line has none. Handles `\"` and `\\` inside names.
    pub fn users_of(line: &str) -> Option<Vec<User>> {
        let at = line.find("users:(")?;
        let mut s = line[at + "users:(".len()..].chars().peekable();
        let mut users = Vec::new();
        loop {
            match s.next()? {
                ')' => return Some(users),
                ',' => continue,
                '(' => {}
                c => panic!("bad users field at {c:?}: {line}"),
            }
            assert_eq!(s.next(), Some('"'), "{line}");
            let mut comm = String::new();
            loop {
                match s.next()? {
                    '"' => break,
                    '\\' => {
                        comm.push('\\');
                        comm.push(s.next()?);
                    }
                    c => comm.push(c),
                }
            }
            let mut rest = String::new();
            for c in s.by_ref() {
                if c == ')' {
                    break;
                }
                rest.push(c);
            }
            let mut u = User {
                comm,
                pid: 0,
                tid: None,
                fd: 0,
            };
            for kv in rest.split(',').filter(|f| !f.is_empty()) {
                let (k, v) = kv.split_once('=').unwrap_or_else(|| panic!("{kv}: {line}"));
                let v: u32 = v.parse().unwrap_or_else(|_| panic!("{kv}: {line}"));
                match k {
                    "pid" => u.pid = v,
                    "tid" => u.tid = Some(v),
                    "fd" => u.fd = v,
                    _ => panic!("unexpected {k} in {line}"),
                }
            }
            users.push(u);
        }
    }

    /// The socket rows of an ss-style table (header skipped), each with its
    /// users (empty when it has none).
    pub fn rows(text: &str) -> Vec<(String, Vec<User>)> {
        text.lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with("State") && !l.starts_with('\t'))
            .map(|l| (l.to_owned(), users_of(l).unwrap_or_default()))
            .collect()
    }

    /// `(state, local, peer)` of a `-tan` row, used to pair rows.
    pub fn row_key(line: &str) -> (String, String, String) {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert!(f.len() >= 5, "short row: {line}");
        (f[0].to_owned(), f[3].to_owned(), f[4].to_owned())
    }

    /// A private network namespace with `lo` up, deleted on drop.
    pub struct Netns {
        pub name: String,
    }

    impl Netns {
        pub fn new() -> Netns {
            let name = format!("sockq-t-{}", unique());
            stdout_of(Command::new("ip").args(["netns", "add", &name]));
            let ns = Netns { name };
            stdout_of(Command::new("ip").args(["-n", &ns.name, "link", "set", "lo", "up"]));
            ns
        }

        /// `ip netns exec NAME prog`.
        pub fn cmd(&self, prog: &str) -> Command {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &self.name, prog]);
            c
        }
    }

    impl Drop for Netns {
        fn drop(&mut self) {
            let _ = Command::new("ip")
                .args(["netns", "del", &self.name])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }

    /// A temporary directory removed on drop.
    pub struct TempDir(pub PathBuf);

    impl TempDir {
        pub fn new(tag: &str) -> TempDir {
            let p = std::env::temp_dir().join(format!("sockq-{tag}-{}", unique()));
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Children of a process, from `/proc/*/status` `PPid:`.
    pub fn children_of(pid: u32) -> Vec<u32> {
        let mut out = Vec::new();
        let Ok(dir) = std::fs::read_dir("/proc") else {
            return out;
        };
        for e in dir.flatten() {
            let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(st) = std::fs::read_to_string(format!("/proc/{p}/status")) else {
                continue;
            };
            let ppid = st
                .lines()
                .find_map(|l| l.strip_prefix("PPid:"))
                .and_then(|v| v.trim().parse::<u32>().ok());
            if ppid == Some(pid) {
                out.push(p);
            }
        }
        out.sort();
        out
    }

    /// Sends a signal with kill(1) (the tests avoid libc).
    pub fn kill(pid: u32, sig: &str) {
        let _ = Command::new("kill")
            .args([&format!("-{sig}"), &pid.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    /// Waits for a child with a deadline, then kills it.
    pub fn reap(child: &mut Child, within: Duration) {
        let start = Instant::now();
        while start.elapsed() < within {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// A live nginx (master + 4 workers) listening on 127.0.0.2:80 in its own
    /// namespace, logging to files in a temp dir. Drop stops it (TERM, then
    /// KILL for anything left) before the namespace and the dir go.
    pub struct Nginx {
        pub master: Child,
        pub workers: Vec<u32>,
        // Field order is drop order: the temp dir and the namespace go after
        // the processes are gone (see Drop).
        pub dir: TempDir,
        pub ns: Netns,
    }

    impl Nginx {
        pub fn start() -> Nginx {
            let ns = Netns::new();
            let dir = TempDir::new("nginx");
            let d = dir.0.display();
            let conf = format!(
                "worker_processes 4;\n\
                 daemon off;\n\
                 master_process on;\n\
                 user root;\n\
                 pid {d}/nginx.pid;\n\
                 error_log {d}/error.log;\n\
                 events {{ worker_connections 64; }}\n\
                 http {{\n\
                 \taccess_log {d}/access.log;\n\
                 \tclient_body_temp_path {d}/body;\n\
                 \tproxy_temp_path {d}/proxy;\n\
                 \tfastcgi_temp_path {d}/fastcgi;\n\
                 \tuwsgi_temp_path {d}/uwsgi;\n\
                 \tscgi_temp_path {d}/scgi;\n\
                 \tserver {{ listen 127.0.0.2:80; location / {{ return 200 \"ok\\n\"; }} }}\n\
                 }}\n"
            );
            let conf_path = dir.0.join("nginx.conf");
            std::fs::write(&conf_path, conf).unwrap();
            // stderr goes to the error log, stdout to /dev/null, as a
            // daemonised nginx has it.
            let err = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(dir.0.join("error.log"))
                .unwrap();
            let master = ns
                .cmd("nginx")
                .arg("-p")
                .arg(&dir.0)
                .arg("-c")
                .arg(&conf_path)
                .arg("-e")
                .arg(dir.0.join("error.log"))
                .current_dir(&dir.0)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::from(err))
                .spawn()
                .expect("start nginx");
            let mut ng = Nginx {
                master,
                workers: Vec::new(),
                dir,
                ns,
            };
            // `ip netns exec` execs nginx, so the child is the master.
            let pid = ng.master.id();
            let start = Instant::now();
            loop {
                ng.workers = children_of(pid);
                let listening = run(ng.ns.cmd("ss").args(["-tlnH", "sport = :80"]))
                    .stdout
                    .starts_with(b"LISTEN");
                if listening && ng.workers.len() == 4 {
                    break;
                }
                if let Ok(Some(s)) = ng.master.try_wait() {
                    let log = std::fs::read_to_string(ng.dir.0.join("error.log"));
                    panic!("nginx exited: {s}: {log:?}");
                }
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "nginx did not come up"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
            ng
        }

        pub fn pid(&self) -> u32 {
            self.master.id()
        }
    }

    impl Drop for Nginx {
        fn drop(&mut self) {
            let workers = children_of(self.master.id());
            kill(self.master.id(), "TERM");
            reap(&mut self.master, Duration::from_secs(5));
            for w in workers.iter().chain(&self.workers) {
                if Path::new(&format!("/proc/{w}")).exists() {
                    kill(*w, "KILL");
                }
            }
        }
    }

    /// A python3 process holding one listening socket on loopback on two fds
    /// (a dup), with two forked children sharing it and two extra threads.
    /// Everything exits when it is dropped (stdin closes).
    pub struct Holder {
        pub child: Child,
        pub port: u16,
        pub fds: [u32; 2],
        pub pid: u32,
        pub kids: [u32; 2],
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
for i in range(2): threading.Thread(target=ev.wait, daemon=True).start()
print(s.getsockname()[1], s.fileno(), d, os.getpid(), *kids, flush=True)
sys.stdin.read()
"#;

    impl Holder {
        pub fn start(mut cmd: Command) -> Holder {
            let mut child = cmd
                .args(["-c", HOLDER])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("start python3");
            let mut line = String::new();
            BufReader::new(child.stdout.take().unwrap())
                .read_line(&mut line)
                .unwrap();
            let v: Vec<u32> = line
                .split_whitespace()
                .map(|w| w.parse().unwrap())
                .collect();
            assert_eq!(v.len(), 6, "holder said {line:?}");
            Holder {
                child,
                port: u16::try_from(v[0]).unwrap(),
                fds: [v[1], v[2]],
                pid: v[3],
                kids: [v[4], v[5]],
            }
        }

        pub fn tids(&self) -> Vec<u32> {
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
            reap(&mut self.child, Duration::from_secs(5));
            for k in self.kids {
                if Path::new(&format!("/proc/{k}")).exists() {
                    kill(k, "KILL");
                }
            }
        }
    }

    /// A `sleep` child that holds `fd` as its stdin (fd 0): an easy way to
    /// make any process, of any user, hold a given socket.
    pub struct Sleeper(pub Child);

    impl Sleeper {
        pub fn holding(mut cmd: Command, sock: std::os::fd::OwnedFd) -> Sleeper {
            let child = cmd
                .arg("sleep")
                .arg("120")
                .stdin(Stdio::from(sock))
                .stdout(Stdio::null())
                .spawn()
                .expect("start sleep");
            Sleeper(child)
        }
    }

    impl Drop for Sleeper {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn python_or_skip(test: &str) -> bool {
    have_or_skip(test, "python3")
}

/// The users of the one row `cmd` prints, as printed.
fn users_in(cmd: &mut Command) -> Vec<User> {
    let out = stdout_of(cmd);
    let r = rows(&out);
    assert_eq!(r.len(), 1, "expected one row:\n{out}");
    r.into_iter().next().map(|(_, u)| u).unwrap_or_default()
}

#[test]
fn forked_children_share_the_socket_like_ss() {
    if !python_or_skip("forked_children_share_the_socket_like_ss") {
        return;
    }
    let h = Holder::start(Command::new("python3"));
    let filter = format!("sport = :{}", h.port);
    let ours = users_in(Command::new(sockq_bin()).args(["-tlnp", &filter]));
    let theirs = users_in(Command::new("ss").args(["-tlnp", &filter]));
    // Same entries in the same order: highest pid first, highest fd first.
    assert_eq!(ours, theirs);
    let mut pids: Vec<u32> = vec![h.pid, h.kids[0], h.kids[1]];
    pids.sort_by(|a, b| b.cmp(a));
    let (lo, hi) = (h.fds[0].min(h.fds[1]), h.fds[0].max(h.fds[1]));
    let want: Vec<(u32, u32)> = pids.iter().flat_map(|&p| [(p, hi), (p, lo)]).collect();
    let got: Vec<(u32, u32)> = ours.iter().map(|u| (u.pid, u.fd)).collect();
    assert_eq!(got, want);
    assert!(ours.iter().all(|u| u.comm == "python3" && u.tid.is_none()));
}

#[test]
fn threads_flag_lists_every_thread_and_implies_p() {
    if !python_or_skip("threads_flag_lists_every_thread_and_implies_p") {
        return;
    }
    let h = Holder::start(Command::new("python3"));
    let filter = format!("sport = :{}", h.port);
    // -T alone implies -p.
    let ours = users_in(Command::new(sockq_bin()).args(["-tlnT", &filter]));
    let theirs = users_in(Command::new("ss").args(["-tlnpT", &filter]));
    assert_eq!(ours, theirs);
    let tids = h.tids();
    assert_eq!(tids.len(), 3, "main thread + 2: {tids:?}");
    let main: Vec<u32> = ours
        .iter()
        .filter(|u| u.pid == h.pid)
        .map(|u| u.tid.expect("tid= with -T"))
        .collect();
    // Two fds per thread; extra threads (highest first), then the main one.
    let mut want_tids: Vec<u32> = tids.iter().copied().filter(|&t| t != h.pid).collect();
    want_tids.sort_by(|a, b| b.cmp(a));
    want_tids.push(h.pid);
    let want: Vec<u32> = want_tids.iter().flat_map(|&t| [t, t]).collect();
    assert_eq!(main, want);
    // Forked children are single-threaded: tid = pid.
    for k in h.kids {
        let ks: Vec<&User> = ours.iter().filter(|u| u.pid == k).collect();
        assert_eq!(ks.len(), 2);
        assert!(ks.iter().all(|u| u.tid == Some(k)));
    }
}

#[test]
fn nginx_master_and_workers_and_the_whole_answer() {
    let t = "nginx_master_and_workers_and_the_whole_answer";
    if !root_or_skip(t) || !have_or_skip(t, "nginx") {
        return;
    }
    let ng = Nginx::start();
    let filter = "( sport = :80 )";
    let ours = users_in(ng.ns.cmd(&sockq_bin()).args(["-tlnp", filter]));
    let theirs = users_in(ng.ns.cmd("ss").args(["-tlnp", filter]));

    // Master and all 4 workers, the same pids and fds as ss, in ss's order.
    assert_eq!(ours, theirs, "same owners, in ss's order");
    let mut pids: Vec<u32> = ours.iter().map(|u| u.pid).collect();
    pids.sort();
    let mut want = ng.workers.clone();
    want.push(ng.pid());
    want.sort();
    assert_eq!(pids, want);
    assert!(ours.iter().all(|u| u.comm == "nginx"));

    // The whole answer: -P implies -p and adds a block per process.
    let out = stdout_of(ng.ns.cmd(&sockq_bin()).args(["-tlnP", filter]));
    let r = rows(&out);
    assert_eq!(r.len(), 1, "{out}");
    assert_eq!(r[0].1, theirs, "-P implies -p");
    let dir = ng.dir.0.display().to_string();
    let exe = std::fs::read_link(format!("/proc/{}/exe", ng.pid())).unwrap();
    // Two blocks: the master first, then its 4 workers as one.
    let blocks = blocks_in(&out);
    assert_eq!(blocks.len(), 2, "{out}");
    let master = &blocks[0];
    assert!(
        master.starts_with(&format!("\tprocess nginx  pid {}  ppid ", ng.pid())),
        "{master}"
    );
    assert!(master.contains("  user root"), "{master}");
    assert!(master.contains("cmd: nginx: master process "), "{master}");
    assert!(
        master.contains(&format!("exe: {}\n", exe.display())),
        "{master}"
    );
    assert!(master.contains(&format!("cwd: {dir}\n")), "{master}");
    assert!(master.contains("stdout: /dev/null\n"), "{master}");
    assert!(
        master.contains(&format!("stderr: {dir}/error.log (append)\n")),
        "{master}"
    );
    let logs = master
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("logs: "))
        .unwrap_or_else(|| panic!("no logs line: {master}"));
    // error.log once, with stderr and nginx's own fd.
    assert_eq!(
        logs.matches(&format!("{dir}/error.log (")).count(),
        1,
        "{logs}"
    );
    assert!(logs.contains(&format!("{dir}/error.log (fd 2, ")), "{logs}");
    assert_eq!(
        logs.matches(&format!("{dir}/access.log (fd ")).count(),
        1,
        "{logs}"
    );
    let workers = &blocks[1];
    assert!(
        workers.starts_with("\tprocess nginx \u{d7}4  pids "),
        "{workers}"
    );
    for w in &ng.workers {
        assert!(
            workers
                .lines()
                .next()
                .unwrap_or("")
                .contains(&w.to_string())
                || {
                    // A run of pids is shown as FIRST–LAST.
                    let first = ng.workers.iter().min().copied().unwrap_or(0);
                    let last = ng.workers.iter().max().copied().unwrap_or(0);
                    workers.contains(&format!("pids {first}\u{2013}{last}"))
                },
            "{w} not in {workers}"
        );
    }
    assert!(
        workers.contains(&format!("  ppid {}  ", ng.pid())),
        "{workers}"
    );
    assert!(workers.contains("cmd: nginx: worker process"), "{workers}");
    assert!(
        workers.contains(&format!("{dir}/access.log (fd ")),
        "{workers}"
    );
}

#[test]
fn unprivileged_run_shows_only_what_it_may_and_says_so() {
    let t = "unprivileged_run_shows_only_what_it_may_and_says_so";
    if !root_or_skip(t) || !have_or_skip(t, "setpriv") {
        return;
    }
    // One socket held by root, one by nobody (each as a sleeper's fd 0).
    let root_l = TcpListener::bind("127.0.0.1:0").unwrap();
    let root_port = root_l.local_addr().unwrap().port();
    let root_holder = Sleeper::holding(Command::new("env"), root_l.into());
    let nobody_l = TcpListener::bind("127.0.0.1:0").unwrap();
    let nobody_port = nobody_l.local_addr().unwrap().port();
    let mut as_nobody = Command::new("setpriv");
    as_nobody.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
    let nobody_holder = Sleeper::holding(as_nobody, nobody_l.into());

    let filter = format!("( sport = :{root_port} or sport = :{nobody_port} )");
    let truth = stdout_of(Command::new("ss").args(["-tlnp", &filter]));
    let truth: BTreeMap<String, Vec<User>> = rows(&truth)
        .into_iter()
        .map(|(l, u)| (row_key(&l).1, u))
        .collect();
    assert_eq!(truth.len(), 2, "{truth:?}");

    let o = run(Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            &sockq_bin(),
        ])
        .env_remove("SOCKQ_HINTS")
        .args(["-tlnp", &filter]));
    let stdout = String::from_utf8_lossy(&o.stdout);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "exit {}: {stderr}", o.status);
    // One line saying that some processes could not be read; the advice to
    // run as root is for people, and stderr is a pipe here.
    let notice: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(notice.len(), 1, "want one notice line, got: {stderr:?}");
    assert!(
        notice[0].contains("could not be read") && !notice[0].contains("root"),
        "{notice:?}"
    );

    let got = rows(&stdout);
    assert_eq!(got.len(), 2, "{stdout}");
    for (line, users) in &got {
        let local = row_key(line).1;
        let all = truth
            .get(&local)
            .unwrap_or_else(|| panic!("unexpected row {line}"));
        // Never a wrong owner: whatever is shown, root's ss shows too.
        for u in users {
            assert!(all.contains(u), "wrong owner {u:?} in {line}; ss: {all:?}");
        }
        if local.ends_with(&format!(":{nobody_port}")) {
            assert_eq!(users, all, "nobody sees its own process");
            assert_eq!(users.len(), 1);
            assert_eq!(users[0].pid, nobody_holder.0.id());
            assert_eq!(users[0].fd, 0);
        } else {
            assert!(users.is_empty(), "root's process is not readable: {line}");
            assert_eq!(all.len(), 1);
            assert_eq!(all[0].pid, root_holder.0.id());
        }
    }
}

#[test]
fn differential_tanp_against_ss_in_a_namespace() {
    let t = "differential_tanp_against_ss_in_a_namespace";
    if !root_or_skip(t) || !python_or_skip(t) {
        return;
    }
    let ns = Netns::new();
    // A listener shared by forked children and threads, a few connections to
    // it (both ends held), and a second process holding one end.
    let holders: Vec<Holder> = (0..2).map(|_| Holder::start(ns.cmd("python3"))).collect();
    let clients: Vec<Sleeper> = holders
        .iter()
        .map(|h| {
            let c = ns
                .cmd("python3")
                .args([
                    "-c",
                    &format!(
                        "import socket,sys\nc=[socket.create_connection(('127.0.0.1',{}))\
                         for i in range(3)]\nprint('ok',flush=True)\nsys.stdin.read()",
                        h.port
                    ),
                ])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .expect("python3 client");
            Sleeper(c)
        })
        .collect();
    // Wait until all 6 connections are established on both ends.
    let start = std::time::Instant::now();
    loop {
        let out = stdout_of(ns.cmd("ss").args(["-tnH", "state", "established"]));
        if out.lines().count() >= 12 {
            break;
        }
        assert!(start.elapsed().as_secs() < 10, "connections: {out}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let ours = stdout_of(ns.cmd(&sockq_bin()).args(["-tanp"]));
    let theirs = stdout_of(ns.cmd("ss").args(["-tanp"]));
    // Users in ss's order, duplicates kept (not a set).
    let index = |text: &str| -> BTreeMap<(String, String, String), Vec<User>> {
        let mut m = BTreeMap::new();
        for (l, u) in rows(text) {
            let prev = m.insert(row_key(&l), u);
            assert!(prev.is_none(), "duplicate row {l}");
        }
        m
    };
    let (a, b) = (index(&ours), index(&theirs));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "same rows\nsockq:\n{ours}\nss:\n{theirs}"
    );
    for (k, v) in &b {
        assert_eq!(a.get(k), Some(v), "users of {k:?}");
    }
    // The scene really has shared and multi-holder sockets.
    assert!(b.values().any(|u| u.len() >= 6), "{theirs}");
    drop(clients);
    drop(holders);
}

/// Without `-p` (or a process predicate) sockq never walks /proc: strace
/// shows no access to any `/proc/PID/` directory. With `-p` it does.
#[test]
fn no_proc_scan_without_p() {
    if Command::new("strace").arg("-V").output().is_err() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "strace missing (scripts/test installs it)"
        );
        println!("skipping no_proc_scan_without_p: strace not installed");
        return;
    }
    let _l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let trace = |args: &[&str]| -> usize {
        let out = Command::new("strace")
            .args(["-f", "-e", "trace=openat,open,readlinkat,getdents64"])
            .arg(env!("CARGO_BIN_EXE_sockq"))
            .args(args)
            .stdout(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("strace: {e}"));
        let err = String::from_utf8_lossy(&out.stderr);
        // `/proc/<digits>…`, or `<digits>/…` relative to an open /proc
        // (not self, thread-self or sys).
        err.lines()
            .filter(|l| {
                l.split('"').nth(1).is_some_and(|p| {
                    let r = p.strip_prefix("/proc/").unwrap_or(p);
                    r.starts_with(|c: char| c.is_ascii_digit())
                        && (r != p || !l.contains("AT_FDCWD"))
                })
            })
            .count()
    };
    assert_eq!(trace(&["-tan"]), 0, "sockq -tan touched /proc/PID");
    assert_eq!(trace(&["-tan", "--json", "sport = :22"]), 0);
    assert!(trace(&["-tanp"]) > 0, "-p should scan /proc");
    assert!(
        trace(&["-tan", "comm = sockq"]) > 0,
        "a comm predicate should scan /proc"
    );
}
