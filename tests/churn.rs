//! Churn: thousands of loopback connections open and close in a test
//! namespace while `sockq -tanpe` runs in a loop. Every run must exit 0 with
//! rows that parse, and no row may name an owner that does not hold the
//! socket. Also: sockq's peak memory is the same on run 1,000 as on run 10.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::util::{Netns, root_or_skip, run, show_output, stdout_text, try_parse_table};

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

/// The socket inode behind `/proc/PID/fd/FD`, if it is a socket now.
fn socket_inode(pid: u32, fd: u32) -> Option<u64> {
    let link = std::fs::read_link(format!("/proc/{pid}/fd/{fd}")).ok()?;
    let s = link.to_str()?;
    s.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
}

#[test]
fn dumps_with_owners_stay_correct_under_churn() {
    if !root_or_skip("dumps_with_owners_stay_correct_under_churn") {
        return;
    }
    let ns = Netns::new();
    let me = std::process::id();
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
    let mut expected: HashMap<u64, u32> = HashMap::new();
    for l in &stable {
        let fd = u32::try_from(l.as_raw_fd()).expect("fd");
        let ino = socket_inode(me, fd).expect("stable listener inode");
        expected.insert(ino, fd);
    }

    let stop = AtomicBool::new(false);
    let opened = AtomicUsize::new(0);
    let mut failures: Vec<String> = Vec::new();
    let (mut runs, mut verified, mut raced, mut rows_seen) = (0usize, 0usize, 0usize, 0usize);
    let mut forked = 0usize;
    std::thread::scope(|s| {
        s.spawn(|| {
            ns.enter(|| {
                let mut open: Vec<(TcpStream, TcpStream)> = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let Ok(client) = TcpStream::connect(to) else {
                        continue;
                    };
                    let Ok((server, _)) = churn_listener.accept() else {
                        continue;
                    };
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
        let deadline = Instant::now() + CHURN_FOR;
        while Instant::now() < deadline {
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
                let claimed: Vec<(u32, u32)> = named.iter().map(|(_, p, f)| (*p, *f)).collect();
                if let Some(ino) = ino
                    && let Some(&fd) = expected.get(&ino)
                {
                    stable_seen += 1;
                    // Other tests of this binary fork children that hold
                    // every fd until they exec: those are true owners too.
                    let others_ok = named
                        .iter()
                        .all(|(n, p, _)| *p == me || forked_by(n, *p, me));
                    if !claimed.contains(&(me, fd)) || !others_ok {
                        failures.push(format!(
                            "run {runs}: stable socket ino {ino} (fd {fd}) shown with owners {claimed:?}: {line}"
                        ));
                    }
                }
                for (name, pid, fd) in named {
                    // Only this test process holds sockets in the namespace
                    // (and, for a moment, children it forks before they exec).
                    if pid != me {
                        if forked_by(&name, pid, me) {
                            forked += 1;
                        } else {
                            failures.push(format!("run {runs}: foreign owner pid {pid}: {line}"));
                        }
                        continue;
                    }
                    match (ino, socket_inode(pid, fd)) {
                        (Some(want), Some(now)) if now == want => verified += 1,
                        // Closed since (or fd reused): churn, not a lie.
                        _ => raced += 1,
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
    let opened = opened.load(Ordering::Relaxed);
    println!(
        "churn: {opened} connections opened and closed, {runs} runs of sockq -tanpe, \
         {rows_seen} rows, {verified} owners verified by readlink, {raced} closed before the check, {forked} held by a child forked by another test"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(opened >= 1000, "only {opened} connections churned");
    assert!(runs >= 20, "only {runs} runs of sockq");
    assert!(verified > 0, "no owner could be verified");
}

/// Runs sockq `runs` times under a tiny Python driver that reaps each run
/// with `wait4` and prints its peak RSS (KiB) per line.
fn peak_rss_per_run(args: &[&str], runs: usize) -> Option<Vec<u64>> {
    let script = r#"
import os, sys
argv = sys.argv[2:]
for _ in range(int(sys.argv[1])):
    null = os.open(os.devnull, os.O_WRONLY)
    pid = os.posix_spawn(argv[0], argv, os.environ,
                         file_actions=[(os.POSIX_SPAWN_DUP2, null, 1), (os.POSIX_SPAWN_DUP2, null, 2)])
    os.close(null)
    _, status, ru = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit("run failed: %d" % status)
    print(ru.ru_maxrss)
"#;
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .arg(runs.to_string())
        .arg(crate::util::sockq_program())
        .args(args)
        .output()
        .ok()?;
    assert!(
        out.status.success(),
        "rss driver failed\n{}",
        show_output(&out)
    );
    Some(
        stdout_text(&out)
            .lines()
            .filter_map(|l| l.trim().parse().ok())
            .collect(),
    )
}

#[test]
fn memory_is_the_same_after_1000_runs() {
    let Some(rss) = peak_rss_per_run(&["-tln"], 1000) else {
        assert!(
            std::env::var_os("CI").is_none_or(|v| v != "true"),
            "python3 is needed to measure sockq's peak RSS"
        );
        println!("skipping: no python3 to measure peak RSS");
        return;
    };
    assert_eq!(rss.len(), 1000);
    let early = rss[..10].iter().max().copied().unwrap_or(0);
    let late = rss[990..].iter().max().copied().unwrap_or(0);
    let top = rss.iter().max().copied().unwrap_or(0);
    println!(
        "peak RSS of sockq -tln: runs 1-10 {early} KiB, runs 991-1000 {late} KiB, max {top} KiB"
    );
    assert!(
        late <= early + 512,
        "run 1000 peaked at {late} KiB against {early} KiB for run 10"
    );
    assert!(top <= early + 1024, "some run peaked at {top} KiB");
}
