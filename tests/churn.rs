//! Churn: thousands of loopback connections open and close in a test
//! namespace while `sockq -tanpe` runs in a loop. Every run must exit 0 with
//! rows that parse, and every owner shown must be the one that held that
//! very socket: the churn records each socket's inode and fd as it opens
//! them, and every claim is checked against that record afterwards. Also: a
//! `sockq -E` watching the churn for the whole test keeps its peak memory.

use std::collections::HashMap;
use std::io::{BufRead as _, BufReader};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsFd, AsRawFd};
use std::process::Stdio;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::util::{
    Netns, RUN_TIMEOUT, root_or_skip, run, show_output, stdout_text, try_parse_table,
};

/// How long sockq runs against the churn.
const CHURN_FOR: Duration = Duration::from_secs(20);
/// Sockets held for the whole test: their owner must be exact in every run.
const STABLE: usize = 20;
/// Connections kept open at once by the churn (the rest close at once).
const WINDOW: usize = 100;

const STATES: [&str; 12] = [
    "ESTAB",
    "SYN-SENT",
    "SYN-RECV",
    "FIN-WAIT-1",
    "FIN-WAIT-2",
    "TIME-WAIT",
    "UNCONN",
    "CLOSE-WAIT",
    "LAST-ACK",
    "LISTEN",
    "CLOSING",
    "UNKNOWN",
];

/// `(pid, fd)` pairs of a `users:((...))` token.
/// `(name, pid, fd)` of each owner in a `users:((…))` token.
fn owners(token: &str) -> Vec<(String, u32, u32)> {
    let mut out = Vec::new();
    for part in token.split("(\"").skip(1) {
        let name = part.split('"').next().unwrap_or_default().to_owned();
        let pid = part
            .split("pid=")
            .nth(1)
            .and_then(|p| p.split(',').next())
            .and_then(|p| p.parse().ok());
        let fd = part
            .split("fd=")
            .nth(1)
            .and_then(|f| f.split(')').next())
            .and_then(|f| f.parse().ok());
        if let (Some(pid), Some(fd)) = (pid, fd) {
            out.push((name, pid, fd));
        }
    }
    out
}

fn port_ok(endpoint: &str) -> bool {
    endpoint
        .rsplit_once(':')
        .is_some_and(|(a, p)| !a.is_empty() && (p == "*" || p.parse::<u16>().is_ok()))
}

/// Whether an owner other than this process is a child another test of
/// this binary forked (it holds every fd of this process until it execs):
/// a live child of this process, or, once gone (it cannot be checked
/// further), one that sockq showed under a name this process's threads
/// carry. A child is named after the thread that forked it: the main
/// thread's name, or libtest's `module::test` thread names (15 bytes).
fn forked_by(name: &str, pid: u32, me: u32) -> bool {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return name.contains("::") || thread_names().iter().any(|t| t == name);
    };
    status
        .lines()
        .find_map(|l| l.strip_prefix("PPid:"))
        .and_then(|v| v.trim().parse::<u32>().ok())
        == Some(me)
}

/// The names of this process's threads now.
fn thread_names() -> Vec<String> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("comm")).ok())
        .map(|c| c.trim_end().to_owned())
        .collect()
}

/// The inode of the socket `fd` (what `ino:` shows).
fn inode_of(fd: impl AsFd) -> u64 {
    rustix::fs::fstat(fd).map(|st| st.st_ino).unwrap_or(0)
}

/// The fd number of a socket this process holds.
fn fd_of(s: &impl AsRawFd) -> u32 {
    u32::try_from(s.as_raw_fd()).unwrap_or(u32::MAX)
}

/// This process's name as sockq shows it (`/proc/self/comm`).
fn my_comm() -> String {
    std::fs::read_to_string("/proc/self/comm")
        .map(|c| c.trim_end().to_owned())
        .unwrap_or_default()
}

/// `Vm<field>` of `/proc/PID/status`, in KiB.
fn vm_kib(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find_map(|l| l.strip_prefix(field))?;
    line.trim().trim_end_matches("kB").trim().parse().ok()
}

#[test]
fn dumps_with_owners_stay_correct_under_churn() {
    if !root_or_skip("dumps_with_owners_stay_correct_under_churn") {
        return;
    }
    let ns = Netns::new();
    let me = std::process::id();
    let comm = my_comm();
    // Stable listeners, and the churn's listener, inside the namespace.
    let (stable, churn_listener) = ns.enter(|| {
        let any = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        let stable: Vec<TcpListener> = (0..STABLE)
            .map(|_| TcpListener::bind(any).expect("bind a stable listener"))
            .collect();
        (
            stable,
            TcpListener::bind(any).expect("bind the churn listener"),
        )
    });
    let to = churn_listener.local_addr().expect("churn address");
    // Every socket this test ever opens in the namespace: inode -> fd. An
    // inode is never reused while the test runs, so a claim `(me, fd)` on a
    // row with inode I is true exactly when `held[I] == fd`.
    let held: Mutex<HashMap<u64, u32>> = Mutex::new(HashMap::new());
    let mut expected: HashMap<u64, u32> = HashMap::new();
    for l in &stable {
        expected.insert(inode_of(l), fd_of(l));
    }
    if let Ok(mut h) = held.lock() {
        h.extend(expected.iter().map(|(i, f)| (*i, *f)));
        h.insert(inode_of(&churn_listener), fd_of(&churn_listener));
    }

    // sockq -E watches the churn's closes for the whole test; its peak
    // memory after the first seconds must not grow with the events.
    let mut events = ns
        .sockq(["-E", "-tn"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sockq -E");
    let event_lines = std::sync::Arc::new(AtomicUsize::new(0));
    let reader = {
        let lines = std::sync::Arc::clone(&event_lines);
        let out = events.stdout.take().expect("-E stdout");
        std::thread::spawn(move || {
            for _ in BufReader::new(out).lines().map_while(Result::ok) {
                lines.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let events_err = crate::util::drain(events.stderr.take());

    let stop = AtomicBool::new(false);
    let opened = AtomicUsize::new(0);
    let mut failures: Vec<String> = Vec::new();
    // (run, inode, fd, line) of every owner this process was shown as.
    let mut claims: Vec<(usize, u64, u32, String)> = Vec::new();
    let (mut runs, mut rows_seen, mut forked) = (0usize, 0usize, 0usize);
    let mut early_peak: Option<(u64, usize)> = None;
    std::thread::scope(|s| {
        s.spawn(|| {
            ns.enter(|| {
                let mut open: Vec<(TcpStream, TcpStream)> = Vec::new();
                let record = |s: &TcpStream| {
                    if let Ok(mut h) = held.lock() {
                        h.insert(inode_of(s), fd_of(s));
                    }
                };
                while !stop.load(Ordering::Relaxed) {
                    let Ok(client) = TcpStream::connect(to) else {
                        continue;
                    };
                    record(&client);
                    let Ok((server, _)) = churn_listener.accept() else {
                        continue;
                    };
                    record(&server);
                    opened.fetch_add(1, Ordering::Relaxed);
                    // About a thousand a second: churn, not a CPU hog on a
                    // two-core CI machine (each leaves a TIME-WAIT row).
                    std::thread::sleep(Duration::from_millis(1));
                    open.push((client, server));
                    if open.len() > WINDOW {
                        // Close from the front: a mix of ages and of
                        // client-first and server-first closes.
                        let (c, srv) = open.remove(0);
                        if opened.load(Ordering::Relaxed).is_multiple_of(2) {
                            drop(c);
                            drop(srv);
                        } else {
                            drop(srv);
                            drop(c);
                        }
                    }
                }
            });
        });
        let started = Instant::now();
        let deadline = started + CHURN_FOR;
        while Instant::now() < deadline {
            if early_peak.is_none() && started.elapsed() > Duration::from_secs(4) {
                early_peak =
                    vm_kib(events.id(), "VmHWM:").map(|k| (k, event_lines.load(Ordering::Relaxed)));
            }
            let out = run(&mut ns.sockq(["-tanpe"]));
            runs += 1;
            if !out.status.success() {
                failures.push(format!("run {runs} failed\n{}", show_output(&out)));
                continue;
            }
            let text = stdout_text(&out);
            let table = match try_parse_table(&text) {
                Ok(t) => t,
                Err(e) => {
                    failures.push(format!("run {runs}: {e}"));
                    continue;
                }
            };
            let mut stable_seen = 0;
            for row in &table.rows {
                rows_seen += 1;
                let line = row.line();
                let state_ok = row.state.as_deref().is_some_and(|s| STATES.contains(&s));
                // Queues are ss's `%d` of the kernel's u32: a socket caught
                // mid-connect can report write_seq - snd_una before both are
                // set (seen once: SYN-SENT with Send-Q -1300883530), which
                // ss prints the same way. Well-formed means a 32-bit number.
                let queue_ok = |q: &str| q.parse::<i32>().is_ok();
                let queues_ok = queue_ok(&row.recv_q) && queue_ok(&row.send_q);
                if !state_ok || !queues_ok || !port_ok(&row.local) || !port_ok(&row.peer) {
                    failures.push(format!("run {runs}: malformed row {line:?}"));
                }
                let ino = row
                    .extra
                    .iter()
                    .find_map(|t| t.strip_prefix("ino:"))
                    .and_then(|i| i.parse::<u64>().ok());
                let named: Vec<(String, u32, u32)> = row
                    .extra
                    .iter()
                    .filter(|t| t.starts_with("users:"))
                    .flat_map(|t| owners(t))
                    .collect();
                // Other tests of this binary fork children that hold every
                // fd until they exec: true owners too, and named after a
                // thread of this process.
                let mine: Vec<&(String, u32, u32)> =
                    named.iter().filter(|(_, p, _)| *p == me).collect();
                for (name, pid, _) in named.iter().filter(|(_, p, _)| *p != me) {
                    if forked_by(name, *pid, me) {
                        forked += 1;
                    } else {
                        failures.push(format!("run {runs}: foreign owner pid {pid}: {line}"));
                    }
                }
                if let Some(ino) = ino
                    && let Some(&fd) = expected.get(&ino)
                {
                    stable_seen += 1;
                    // Exactly one entry for this process: its name, its fd.
                    if mine.len() != 1 || *mine[0] != (comm.clone(), me, fd) {
                        failures.push(format!(
                            "run {runs}: stable socket ino {ino} (fd {fd}, {comm:?}) shown with owners {named:?}: {line}"
                        ));
                    }
                }
                for (name, _, fd) in mine {
                    if *name != comm {
                        failures.push(format!(
                            "run {runs}: owner named {name:?}, not {comm:?}: {line}"
                        ));
                    }
                    match ino {
                        Some(ino) => claims.push((runs, ino, *fd, line.clone())),
                        None => failures.push(format!("run {runs}: an owner but no ino: {line}")),
                    }
                }
            }
            if stable_seen != STABLE {
                failures.push(format!(
                    "run {runs}: {stable_seen} of {STABLE} stable listeners shown"
                ));
            }
            if failures.len() > 20 {
                break;
            }
        }
        stop.store(true, Ordering::Relaxed);
    });
    // Every claim against the record of what this test held (complete now:
    // the churn thread has ended).
    let held = held.into_inner().unwrap_or_default();
    let mut verified = 0usize;
    for (run, ino, fd, line) in &claims {
        match held.get(ino) {
            Some(f) if f == fd => verified += 1,
            Some(f) => failures.push(format!(
                "run {run}: inode {ino} was fd {f}, shown as fd {fd}: {line}"
            )),
            None => failures.push(format!(
                "run {run}: inode {ino} is no socket of this test: {line}"
            )),
        }
    }
    let late_peak = vm_kib(events.id(), "VmHWM:");
    let events_seen = event_lines.load(Ordering::Relaxed);
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_child(&events),
        rustix::process::Signal::TERM,
    );
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        match events.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(10)),
            _ => {
                let _ = events.kill();
                let _ = events.wait();
                break None;
            }
        }
    };
    let _ = reader.join();
    let events_err = crate::util::join_drain(events_err);
    let opened = opened.load(Ordering::Relaxed);
    println!(
        "churn: {opened} connections opened and closed, {runs} runs of sockq -tanpe, \
         {rows_seen} rows, {verified} owners verified against the record of inodes and fds, \
         {forked} held by a child forked by another test; sockq -E: {events_seen} lines, \
         peak RSS {early_peak:?} (KiB, lines) after 4 s, {late_peak:?} KiB at the end"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(opened >= 1000, "only {opened} connections churned");
    // A floor, not a speed target: on a loaded two-core machine a dump of
    // the ~12,000 TIME-WAIT rows with -p (and its run as nobody) takes seconds.
    assert!(runs >= 3, "only {runs} runs of sockq");
    assert_eq!(verified, claims.len());
    assert!(
        verified >= runs * STABLE,
        "only {verified} owners verified in {runs} runs"
    );
    assert!(
        status.is_some_and(|s| s.success()),
        "sockq -E ended with {status:?} (killed if None): {}",
        String::from_utf8_lossy(&events_err)
    );
    let (early, early_lines) = early_peak.expect("sockq -E's peak RSS after 4 s");
    let late = late_peak.expect("sockq -E's peak RSS at the end");
    assert!(
        events_seen >= 2 * early_lines.max(500),
        "sockq -E printed {events_seen} lines, {early_lines} after 4 s: too few to see a leak"
    );
    assert!(
        late <= early + 1024,
        "sockq -E peaked at {late} KiB after {events_seen} lines against {early} KiB after {early_lines}"
    );
}
