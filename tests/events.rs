//! `-E` end to end, and dumps into `| head`: a reader that goes away ends the
//! run at once with status 0 and no message (even with no event to write),
//! and notifications the kernel drops (ENOBUFS) are reported, never silently
//! lost, while sockq goes on. Each test has its own network namespace, so
//! only its own sockets produce events.

use std::ffi::OsString;
use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::process::{Child, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rustix::net::sockopt;
use rustix::process::{Pid, Signal, kill_process};

use crate::util::{
    Netns, PublicCopy, root_or_skip, run, run_ok, setpriv_nobody, show_output, sockq_program,
    subject_is_ss, tcp_listener, tcp_pair, time_wait,
};

/// How long a closed pipe may take to end `-E` (the issue says "at once").
const HANGUP_LIMIT: Duration = Duration::from_secs(1);

/// Generous bound for anything that should take milliseconds.
const SLOW: Duration = Duration::from_secs(10);

fn lo(port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
}

/// Starts `sockq ARGS` in `ns` with stdout and stderr piped. `ip netns exec`
/// execs sockq, so the child's pid is sockq's.
fn spawn_in(ns: &Netns, args: &[&str]) -> Child {
    ns.sockq(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn sockq {args:?}: {e}"))
}

/// One `/proc/PID/net/netlink` row of a NETLINK_SOCK_DIAG socket that has
/// joined a group: (queued bytes, dropped notifications). That file lists
/// the sockets of the namespace PID is in.
fn subscribed_socket(pid: u32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/net/netlink")).ok()?;
    text.lines().skip(1).find_map(|l| {
        // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
        let f: Vec<&str> = l.split_whitespace().collect();
        let groups = u64::from_str_radix(f.get(3)?, 16).ok()?;
        let rmem = f.get(4)?.parse().ok()?;
        let drops = f.get(8)?.parse().ok()?;
        (f.get(1) == Some(&"4") && groups != 0).then_some((rmem, drops))
    })
}

/// Waits until sockq (pid) has joined the destroy groups, so events that
/// follow reach it.
pub(crate) fn wait_subscribed(child: &mut Child) {
    let deadline = Instant::now() + SLOW;
    // Until `ip netns exec` has entered the namespace and exec'd, PID's
    // /proc/PID/net is the host's, where another -E may be subscribed.
    let execd = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() != "ip")
    };
    while !execd(child.id()) || subscribed_socket(child.id()).is_none() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("sockq -E ended early with {status}");
        }
        assert!(Instant::now() < deadline, "sockq -E never joined a group");
        thread::sleep(Duration::from_millis(10));
    }
}

/// Waits up to `limit` for the child to end; None if it is still running.
pub(crate) fn exit_within(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(s)) => return Some(s),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            Ok(None) => return None,
            Err(e) => panic!("wait: {e}"),
        }
    }
}

/// Ends a child that outlived its test, and fails with `why`.
fn kill_and_fail(child: &mut Child, why: &str) -> ! {
    let _ = child.kill();
    let _ = child.wait();
    panic!("{why}");
}

/// The whole of the child's stderr (once it has ended).
fn stderr_of(child: &mut Child) -> String {
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err);
    }
    err
}

/// Opens and closes one TCP connection on `port` inside `ns`: three
/// destroyed sockets (listener, client, server).
fn close_a_connection(ns: &Netns, port: u16) {
    ns.enter(|| {
        let l = tcp_listener(lo(port), 16, None);
        let pair = tcp_pair(&l, lo(port), None);
        drop(pair);
        drop(l);
    });
}

fn signal(child: &Child, sig: Signal) {
    let pid = i32::try_from(child.id())
        .ok()
        .and_then(Pid::from_raw)
        .unwrap_or_else(|| panic!("bad pid {}", child.id()));
    kill_process(pid, sig).unwrap_or_else(|e| panic!("kill {sig:?}: {e}"));
}

fn skip_for_ss(test: &str) -> bool {
    if subject_is_ss() {
        println!("skipping {test}: checks sockq's own behaviour");
    }
    subject_is_ss()
}

#[test]
fn events_end_at_once_when_the_reader_leaves_after_one_line() {
    let test = "events_end_at_once_when_the_reader_leaves_after_one_line";
    if !root_or_skip(test) || skip_for_ss(test) {
        return;
    }
    let ns = Netns::new();
    let mut child = spawn_in(&ns, &["-E", "-tn"]);
    wait_subscribed(&mut child);
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    // Read one line, then drop the read end (as `head -1` does).
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    close_a_connection(&ns, 7501);
    let Ok(line) = rx.recv_timeout(SLOW) else {
        kill_and_fail(
            &mut child,
            "no line from sockq -E after a closed connection",
        );
    };
    assert!(line.starts_with("Time "), "first line: {line:?}");
    let closed = Instant::now();
    let Some(status) = exit_within(&mut child, HANGUP_LIMIT) else {
        kill_and_fail(
            &mut child,
            &format!("sockq -E still ran {HANGUP_LIMIT:?} after its reader left"),
        );
    };
    let err = stderr_of(&mut child);
    assert_eq!(status.code(), Some(0), "{status}, stderr {err:?}");
    assert!(err.is_empty(), "stderr: {err:?}");
    println!("ended {:?} after the reader left", closed.elapsed());
}

#[test]
fn events_end_at_once_when_the_reader_leaves_before_any_event() {
    let test = "events_end_at_once_when_the_reader_leaves_before_any_event";
    if !root_or_skip(test) || skip_for_ss(test) {
        return;
    }
    let ns = Netns::new();
    let mut child = spawn_in(&ns, &["-E", "-tun"]);
    wait_subscribed(&mut child);
    // Nothing happens in the namespace: no event will ever come.
    drop(child.stdout.take());
    let closed = Instant::now();
    let Some(status) = exit_within(&mut child, HANGUP_LIMIT) else {
        kill_and_fail(
            &mut child,
            &format!("sockq -E still ran {HANGUP_LIMIT:?} after its reader left, with no event"),
        );
    };
    let err = stderr_of(&mut child);
    assert_eq!(status.code(), Some(0), "{status}, stderr {err:?}");
    assert!(err.is_empty(), "stderr: {err:?}");
    println!("ended {:?} after the reader left", closed.elapsed());
}

/// Opens and resets `n` connections to `port` inside `ns` (SO_LINGER 0 on
/// the client: no TIME-WAIT, two destroyed sockets each).
fn flood(ns: &Netns, port: u16, n: usize) {
    ns.enter(|| {
        let l = tcp_listener(lo(port), 1024, None);
        for _ in 0..n {
            let (c, s) = tcp_pair(&l, lo(port), None);
            sockopt::set_socket_linger(&c, Some(Duration::ZERO))
                .unwrap_or_else(|e| panic!("SO_LINGER: {e}"));
            drop(c);
            drop(s);
        }
    });
}

/// The first line of the warning printed for lost events.
const LOST: &str = "sockq: the kernel dropped socket events (receive buffer overrun, ";

#[test]
fn lost_events_are_reported_and_sockq_goes_on() {
    let test = "lost_events_are_reported_and_sockq_goes_on";
    if !root_or_skip(test) || skip_for_ss(test) {
        return;
    }
    let ns = Netns::new();
    let late = 7602u16;
    // Only the late connection matches: the flood is received and dropped
    // by the filter, so stdout stays small.
    let filter = format!("sport = :{late} or dport = :{late}");
    let mut child = spawn_in(&ns, &["-E", "-tn", &filter]);
    wait_subscribed(&mut child);
    let (out_tx, out_rx) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = out_tx.send(line);
        }
    });
    let (err_tx, err_rx) = mpsc::channel::<String>();
    let stderr = child.stderr.take().unwrap_or_else(|| panic!("no stderr"));
    thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = err_tx.send(line);
        }
    });

    // Stopped, sockq reads nothing; the kernel queues notifications until
    // the receive buffer (2 MiB) is full and then drops them (the Drops
    // column of /proc/net/netlink counts those).
    signal(&child, Signal::STOP);
    let mut rounds = 0;
    while subscribed_socket(child.id()).is_none_or(|(_, drops)| drops == 0) {
        rounds += 1;
        if rounds > 6 {
            signal(&child, Signal::CONT);
            kill_and_fail(&mut child, "no notification was dropped after 6 floods");
        }
        flood(&ns, 7601, 2500);
        // The kernel sends the notifications from a work queue.
        thread::sleep(Duration::from_millis(100));
    }
    signal(&child, Signal::CONT);

    let deadline = Instant::now() + SLOW;
    let mut errs = Vec::new();
    while !errs.iter().any(|l: &String| l.starts_with(LOST)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match err_rx.recv_timeout(left) {
            Ok(l) => errs.push(l),
            Err(_) => kill_and_fail(&mut child, &format!("no lost-events warning: {errs:?}")),
        }
    }
    // Until sockq has read the whole queue the socket stays congested and
    // the kernel drops (and counts) every new notification without another
    // ENOBUFS: wait for an empty queue before the connection that must show.
    let deadline = Instant::now() + SLOW;
    while subscribed_socket(child.id()).is_none_or(|(rmem, _)| rmem != 0) {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("sockq -E ended after the overrun: {status}, stderr {errs:?}");
        }
        if Instant::now() > deadline {
            kill_and_fail(
                &mut child,
                "sockq -E did not read its queue after the overrun",
            );
        }
        thread::sleep(Duration::from_millis(10));
    }

    // Later events still arrive.
    close_a_connection(&ns, late);
    let want = format!(":{late}");
    let deadline = Instant::now() + SLOW;
    let mut rows = Vec::new();
    while !rows.iter().any(|l: &String| l.contains(&want)) {
        let left = deadline.saturating_duration_since(Instant::now());
        match out_rx.recv_timeout(left) {
            Ok(l) => rows.push(l),
            Err(_) => {
                let why = format!(
                    "no event after the overrun: {rows:?}, stderr {errs:?}, socket {:?}, {}",
                    subscribed_socket(child.id()),
                    std::fs::read_to_string(format!("/proc/{}/stat", child.id()))
                        .unwrap_or_default()
                );
                kill_and_fail(&mut child, &why)
            }
        }
    }

    signal(&child, Signal::INT);
    let Some(status) = exit_within(&mut child, SLOW) else {
        kill_and_fail(&mut child, "sockq -E did not end on SIGINT");
    };
    errs.extend(err_rx.try_iter());
    assert_eq!(status.code(), Some(0), "{status}, stderr {errs:?}");
    // Every stderr line is that one warning (once per overrun), with a size.
    for l in &errs {
        assert!(
            l.starts_with(LOST) && l.contains("receive buffer raised to "),
            "unexpected stderr line {l:?} in {errs:?}"
        );
    }
    println!("{} flood round(s); stderr: {errs:?}", rounds);
}

/// `sockq -tan | head -1` and `sockq -tan --json | head -c 100`: the reader
/// leaves while sockq still has rows to write; sockq ends with status 0 and
/// says nothing. The output is made larger than a pipe buffer (64 KiB) with
/// TIME-WAIT sockets, which hold no descriptor.
#[test]
fn dumps_into_head_end_quietly_with_0() {
    let test = "dumps_into_head_end_quietly_with_0";
    // ss dies of SIGPIPE here (status 141); exit 0 is sockq's own (docs/usage.md).
    if !root_or_skip(test) || skip_for_ss(test) {
        return;
    }
    let ns = Netns::new();
    ns.enter(|| {
        let l = tcp_listener(lo(7701), 1024, None);
        for _ in 0..2500 {
            time_wait(&l, lo(7701));
        }
    });
    let full = run_ok(&mut ns.sockq(["-tan"]));
    assert!(
        full.stdout.len() > 128 * 1024,
        "the output should outgrow a pipe: {} bytes",
        full.stdout.len()
    );
    let program = sockq_program();
    for (args, head, check) in [
        ("-tan", "-1", "one line"),
        ("-tan --json", "-c 100", "100 bytes"),
    ] {
        // The status is sockq's (PIPESTATUS), stderr is sockq's and head's.
        let script = format!("\"$0\" {args} | head {head}; exit \"${{PIPESTATUS[0]}}\"");
        let out = run(&mut ns.exec(
            "bash",
            [std::ffi::OsStr::new("-c"), script.as_ref(), &program],
        ));
        let shown = format!("sockq {args} | head {head}");
        assert_eq!(out.status.code(), Some(0), "{shown}\n{}", show_output(&out));
        assert!(out.stderr.is_empty(), "{shown}\n{}", show_output(&out));
        let ok = match check {
            "one line" => {
                out.stdout.ends_with(b"\n")
                    && out.stdout.iter().filter(|&&b| b == b'\n').count() == 1
                    && out.stdout.starts_with(b"State ")
            }
            _ => out.stdout.len() == 100 && out.stdout.starts_with(b"["),
        };
        assert!(ok, "{shown}: want {check}\n{}", show_output(&out));
    }
}

/// `-E` as `nobody`: the kernel decides whether an unprivileged socket may
/// join the destroy groups (Linux 6.18 allows it). Either it works like
/// root's, or sockq exits 1 with one line saying why.
#[test]
fn events_as_nobody_work_or_say_why() {
    let test = "events_as_nobody_work_or_say_why";
    if !root_or_skip(test) || skip_for_ss(test) {
        return;
    }
    let copy = PublicCopy::new();
    let ns = Netns::new();
    let mut argv: Vec<OsString> = setpriv_nobody().iter().map(OsString::from).collect();
    argv.push(copy.bin().as_os_str().to_owned());
    argv.extend(["-E", "-tn"].map(OsString::from));
    let mut child = ns
        .exec("setpriv", argv)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    let deadline = Instant::now() + SLOW;
    // Until `ip netns exec` has entered the namespace and exec'd, PID's
    // /proc/PID/net is the host's, where another -E may be subscribed.
    let execd = |pid: u32| {
        std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim_end() != "ip")
    };
    while !execd(child.id()) || subscribed_socket(child.id()).is_none() {
        if let Ok(Some(status)) = child.try_wait() {
            let err = stderr_of(&mut child);
            assert_eq!(status.code(), Some(1), "{status}, stderr {err:?}");
            assert!(
                err.starts_with("sockq: ") && err.lines().count() == 1,
                "{err:?}"
            );
            assert!(err.contains("not permitted"), "{err:?}");
            println!("-E as nobody: {err}");
            return;
        }
        if Instant::now() > deadline {
            kill_and_fail(&mut child, "-E as nobody neither joined nor ended");
        }
        thread::sleep(Duration::from_millis(10));
    }
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    close_a_connection(&ns, 7801);
    let deadline = Instant::now() + SLOW;
    let mut rows = Vec::new();
    while !rows.iter().any(|l: &String| l.contains("127.0.0.1:7801")) {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(l) => rows.push(l),
            Err(_) => kill_and_fail(&mut child, &format!("-E as nobody saw no event: {rows:?}")),
        }
    }
    signal(&child, Signal::TERM);
    let Some(status) = exit_within(&mut child, SLOW) else {
        kill_and_fail(&mut child, "-E as nobody did not end on SIGTERM");
    };
    let err = stderr_of(&mut child);
    assert_eq!(status.code(), Some(0), "{status}, stderr {err:?}");
    assert!(err.is_empty(), "{err:?}");
    println!("-E as nobody works: {rows:?}");
}
