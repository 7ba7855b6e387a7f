//! `-N`, `--all-netns`, `-K`, `-E` and `--sort`, on real sockets in private
//! network namespaces created (and removed) by the tests.

use crate::util::{
    Held, Netns, root_or_skip, run, run_ok, show_output, sockq, stdout_text, subject_is_ss,
};
use std::io::{ErrorKind, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A listener on 127.0.0.1:`port` inside `ns` (kept open by the caller).
fn listen_in(ns: &Netns, port: u16) -> TcpListener {
    ns.enter(|| {
        TcpListener::bind((Ipv4Addr::LOCALHOST, port))
            .unwrap_or_else(|e| panic!("bind {port} in {}: {e}", ns.name()))
    })
}

/// Data rows (no header) whose text contains `needle`.
fn rows_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines()
        .skip(1)
        .filter(|l| l.contains(needle))
        .collect()
}

#[test]
fn all_netns_labels_each_listener_once() {
    if !root_or_skip("all_netns_labels_each_listener_once") {
        return;
    }
    let (a, b) = (Netns::new(), Netns::new());
    let _la = listen_in(&a, 7411);
    let _lb = listen_in(&b, 7412);
    // A process in an unnamed namespace: found through /proc, labelled by pid.
    let mut child = Command::new("unshare")
        .args([
            "-n",
            "python3",
            "-c",
            "import socket,time\ns=socket.socket()\ns.bind(('0.0.0.0',7413))\ns.listen()\ntime.sleep(60)",
        ])
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("unshare: {e}"));
    let pid = child.id();
    // Wait until the child listens in its new namespace.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = run(sockq().args(["-N", &format!("pid:{pid}"), "-tln"]));
        if stdout_text(&out).contains(":7413 ") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the unshare child never listened:\n{}",
            show_output(&out)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let inode = std::fs::read_link(format!("/proc/{pid}/ns/net"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();

    let out = run_ok(sockq().args(["--all-netns", "-tln"]));
    let text = stdout_text(&out);
    assert!(text.starts_with("Netns "), "{}", show_output(&out));
    for (ns, port) in [(&a, 7411), (&b, 7412)] {
        let rows = rows_with(&text, &format!("127.0.0.1:{port} "));
        assert_eq!(rows.len(), 1, "port {port}:\n{}", show_output(&out));
        assert!(
            rows[0].starts_with(&format!("{} ", ns.name())),
            "{}",
            rows[0]
        );
    }
    // The unnamed namespace is listed with `net:[INODE](pid PID)`.
    let label = format!("{inode}(pid {pid})");
    assert!(text.contains(&label), "no {label}:\n{}", show_output(&out));
    // -N NAME, a path and pid:PID each show only their own listener.
    for spec in [a.name().to_string(), format!("/var/run/netns/{}", a.name())] {
        let out = run_ok(sockq().args(["-N", &spec, "-tln"]));
        let text = stdout_text(&out);
        assert_eq!(rows_with(&text, ":7411 ").len(), 1, "{}", show_output(&out));
        assert!(
            rows_with(&text, ":7412 ").is_empty(),
            "{}",
            show_output(&out)
        );
    }
    let out = run_ok(sockq().args(["-N", &format!("pid:{pid}"), "-tln"]));
    let text = stdout_text(&out);
    assert_eq!(rows_with(&text, ":7413 ").len(), 1, "{}", show_output(&out));
    assert_eq!(text.lines().count(), 2, "{}", show_output(&out));
    // JSON has the label as a field.
    let out = run_ok(sockq().args(["--all-netns", "-tln", "-j", "sport = :7412"]));
    let v: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(v[0]["netns"], b.name(), "{}", show_output(&out));
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn bad_namespace_names_it() {
    if !root_or_skip("bad_namespace_names_it") {
        return;
    }
    let out = run(sockq().args(["-N", "sockq-no-such-ns", "-t"]));
    assert_eq!(out.status.code(), Some(1), "{}", show_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"sockq-no-such-ns\""), "{err}");
    assert!(err.contains("No such file"), "{err}");
}

/// With `-N`, the expression is checked before the namespace is entered: its errors exit 2 for
/// everyone, also for a user who may not enter it (who gets 1 only for an interface name, which
/// is looked up inside). Root gets the namespace's own answer for interface names.
#[test]
fn netns_filter_errors_come_before_entering() {
    if !root_or_skip("netns_filter_errors_come_before_entering") || subject_is_ss() {
        return;
    }
    let ns = Netns::new();
    let copy = crate::util::PublicCopy::new();
    let cases: [(&str, i32, i32); 5] = [
        // (expression, root's exit, nobody's exit)
        ("dev (", 2, 2),
        ("user sockq-no-such-user", 2, 2),
        ("sport = :http and (", 2, 2),
        ("dev sockq-bogus0", 2, 1),
        ("dev lo", 0, 1),
    ];
    let mut failures = Vec::new();
    for (expr, root_code, nobody_code) in cases {
        let as_root = run(sockq().args(["-N", ns.name(), "-tn", expr]));
        let mut cmd = std::process::Command::new("setpriv");
        cmd.args(crate::util::setpriv_nobody())
            .arg(copy.bin())
            .args(["-N", ns.name(), "-tn", expr]);
        let as_nobody = crate::util::run_plain(&mut cmd);
        for (who, out, want) in [
            ("root", &as_root, root_code),
            ("nobody", &as_nobody, nobody_code),
        ] {
            let err = String::from_utf8_lossy(&out.stderr);
            let said = match want {
                2 => err.contains(expr.split(' ').next().unwrap_or(expr)) || err.contains('^'),
                1 => err.contains("cannot enter network namespace"),
                _ => err.is_empty(),
            };
            if out.status.code() != Some(want) || !said {
                failures.push(format!(
                    "{who}, {expr:?}: want exit {want}\n{}",
                    show_output(out)
                ));
            }
        }
    }
    crate::util::assert_no_failures(&failures);
}

/// Three client/server pairs to one listener inside `ns`.
struct Pairs {
    _listener: TcpListener,
    clients: Vec<TcpStream>,
    servers: Vec<TcpStream>,
}

fn pairs_in(ns: &Netns, port: u16) -> Pairs {
    ns.enter(|| {
        let l = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).unwrap_or_else(|e| panic!("{e}"));
        let mut clients = Vec::new();
        let mut servers = Vec::new();
        for _ in 0..3 {
            clients.push(
                TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap_or_else(|e| panic!("{e}")),
            );
            servers.push(l.accept().unwrap_or_else(|e| panic!("{e}")).0);
        }
        Pairs {
            _listener: l,
            clients,
            servers,
        }
    })
}

fn local_port(s: &TcpStream) -> u16 {
    s.local_addr().map(|a: SocketAddr| a.port()).unwrap_or(0)
}

/// Whether reading `s` shows the connection was closed under it.
fn was_reset(s: &mut TcpStream) -> bool {
    let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
    let mut b = [0u8; 8];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => matches!(
            e.kind(),
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted
        ),
    }
}

#[test]
fn kill_closes_only_the_chosen_pair() {
    if !root_or_skip("kill_closes_only_the_chosen_pair") {
        return;
    }
    let ns = Netns::new();
    let mut p = pairs_in(&ns, 7421);
    let victim = local_port(&p.clients[0]);
    let filter = format!("sport = :{victim}");

    // No selection: refused before anything is dumped.
    let out = run(sockq().args(["-N", ns.name(), "-K"]));
    assert_eq!(out.status.code(), Some(2), "{}", show_output(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("-K needs"));

    // --dry-run lists the socket and kills nothing.
    let out = run_ok(sockq().args(["-N", ns.name(), "-K", "--dry-run", "-tn", &filter]));
    assert_eq!(
        rows_with(&stdout_text(&out), &format!(":{victim} ")).len(),
        1
    );
    assert!(!was_reset(&mut p.servers[0]), "--dry-run killed the pair");

    // Without CAP_NET_ADMIN: a permission error and exit 1.
    let out = run(&mut ns.exec(
        "setpriv",
        [
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            crate::util::sockq_program().to_str().unwrap_or("sockq"),
            "-K",
            "-tn",
            &filter,
        ],
    ));
    assert_eq!(out.status.code(), Some(1), "{}", show_output(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("SOCK_DESTROY") && err.contains("not permitted"),
        "{err}"
    );
    assert!(!was_reset(&mut p.servers[0]), "an unprivileged kill worked");

    // The real kill: the row is printed, the peer sees the close, others live.
    let out = run_ok(sockq().args(["-N", ns.name(), "-K", "-tn", &filter]));
    assert_eq!(
        rows_with(&stdout_text(&out), &format!(":{victim} ")).len(),
        1
    );
    assert!(
        was_reset(&mut p.servers[0]),
        "the peer of the killed socket survived"
    );
    assert!(
        was_reset(&mut p.clients[0]),
        "the killed socket still reads"
    );
    for i in 1..3 {
        assert!(!was_reset(&mut p.servers[i]), "pair {i} was closed too");
        assert!(!was_reset(&mut p.clients[i]), "pair {i} was closed too");
    }
}

#[test]
fn events_show_a_closed_connection() {
    if !root_or_skip("events_show_a_closed_connection") {
        return;
    }
    let ns = Netns::new();
    let port = 7431u16;
    let mut child = ns
        .sockq(["-E", "-tn", &format!("sport = :{port} or dport = :{port}")])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    // Wait until it has joined the destroy groups, so the close reaches it.
    crate::events::wait_subscribed(&mut child);
    let p = pairs_in(&ns, port);
    let client_port = local_port(&p.clients[0]);
    drop(p);
    let mut stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut text = String::new();
        while let Ok(n) = stdout.read(&mut buf) {
            if n == 0 {
                break;
            }
            text.push_str(&String::from_utf8_lossy(&buf[..n]));
            let _ = tx.send(text.clone());
        }
    });
    let want = format!("127.0.0.1:{client_port} ");
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = String::new();
    while !seen.contains(&want) {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "no destroy event for {want} within 5s:\n{seen}"
        );
        if let Ok(t) = rx.recv_timeout(left) {
            seen = t;
        }
    }
    assert!(seen.starts_with("Time "), "{seen}");
    let row = rows_with(&seen, &want);
    assert!(
        row.iter().any(|r| r.contains(&format!(":{port}"))),
        "{seen}"
    );
    // `ip netns exec` execs sockq, so the child is sockq itself.
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::TERM,
    );
    let Some(status) = crate::events::exit_within(&mut child, crate::util::RUN_TIMEOUT) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "sockq -E outlived SIGTERM by {:?}",
            crate::util::RUN_TIMEOUT
        );
    };
    assert!(status.success(), "sockq -E ended with {status}");
}

#[test]
fn sort_orders_rows_by_local_port() {
    let mut held = Held::default();
    for _ in 0..4 {
        held.keep(TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap_or_else(|e| panic!("{e}")));
    }
    let out = run_ok(sockq().args(["-tln", "--sort", "lport", "src 127.0.0.1"]));
    let ports: Vec<u16> = stdout_text(&out)
        .lines()
        .skip(1)
        .filter_map(|l| {
            let local = l.split_whitespace().find(|t| t.starts_with("127.0.0.1:"))?;
            local.rsplit(':').next()?.parse().ok()
        })
        .collect();
    assert!(ports.len() >= 4, "{}", show_output(&out));
    let mut sorted = ports.clone();
    sorted.sort_unstable();
    assert_eq!(ports, sorted, "{}", show_output(&out));
}

/// `dev NAME` with `--all-netns` is resolved in each namespace: an
/// interface that exists only inside one namespace (and has another index
/// there than anything on the host) selects that namespace's socket bound
/// to it; a name no namespace has gives one line on stderr, not an error.
#[test]
fn all_netns_resolves_dev_names_in_each_namespace() {
    if !root_or_skip("all_netns_resolves_dev_names_in_each_namespace") {
        return;
    }
    let (a, b) = (Netns::new(), Netns::new());
    for args in [
        // A veth pair (this kernel has no dummy driver): indexes 2 and 3.
        vec![
            "link", "add", "sqdum0", "type", "veth", "peer", "name", "sqdum1",
        ],
        vec!["link", "set", "sqdum1", "up"],
    ] {
        let out = run(Command::new("ip").arg("-n").arg(b.name()).args(&args));
        assert!(out.status.success(), "ip {args:?}: {}", show_output(&out));
    }
    let _plain = listen_in(&a, 7432);
    // A listener bound to sqdum1 with SO_BINDTODEVICE, inside b.
    let mut child = Command::new("ip")
        .args(["netns", "exec", b.name(), "python3", "-c"])
        .arg(
            "import socket,time\ns=socket.socket()\n\
             s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b'sqdum1')\n\
             s.bind(('0.0.0.0',7431))\ns.listen()\ntime.sleep(60)",
        )
        .stdin(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("python3: {e}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let out = run(sockq().args(["-N", b.name(), "-tln"]));
        if stdout_text(&out).contains(":7431 ") {
            break;
        }
        assert!(Instant::now() < deadline, "{}", show_output(&out));
        std::thread::sleep(Duration::from_millis(20));
    }

    let out = run_ok(sockq().args(["--all-netns", "-tln", "dev", "sqdum1"]));
    let text = stdout_text(&out);
    // Only this test's namespaces: another suite running on the host may
    // have its own sqdum1 (the name is per namespace).
    let ours = |l: &&str| {
        l.starts_with(&format!("{} ", a.name())) || l.starts_with(&format!("{} ", b.name()))
    };
    let rows: Vec<&str> = text.lines().skip(1).filter(ours).collect();
    assert_eq!(rows.len(), 1, "{}", show_output(&out));
    assert!(
        rows[0].starts_with(&format!("{} ", b.name())) && rows[0].contains(":7431"),
        "{}",
        show_output(&out)
    );
    assert!(out.stderr.is_empty(), "{}", show_output(&out));
    // The same as -N in that namespace.
    let one = run_ok(sockq().args(["-N", b.name(), "-tln", "dev", "sqdum1"]));
    assert_eq!(
        stdout_text(&one).lines().skip(1).count(),
        1,
        "{}",
        show_output(&one)
    );

    let out = run_ok(sockq().args(["--all-netns", "-tln", "dev", "sqnone9"]));
    assert_eq!(
        stdout_text(&out).lines().skip(1).count(),
        0,
        "{}",
        show_output(&out)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "sockq: no network namespace has an interface named \"sqnone9\"\n"
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// A namespace whose only name under /run/netns is not UTF-8 (`sockq-\xff-PID`, which
/// `ip netns add` refuses): a bind mount of a namespace made under a plain name, which is then
/// deleted. Unmounted and removed on drop.
struct BytesNetns {
    path: std::path::PathBuf,
    tmp: String,
}

impl BytesNetns {
    fn name(&self) -> &std::ffi::OsStr {
        self.path.file_name().unwrap_or_default()
    }
}

impl Drop for BytesNetns {
    fn drop(&mut self) {
        // Never panic in drop; each step may already be undone.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        let _ = std::fs::remove_file(&self.path);
        let _ = Command::new("ip")
            .args(["netns", "delete", &self.tmp])
            .stderr(Stdio::null())
            .status();
    }
}

#[test]
fn all_netns_lists_a_name_that_is_not_utf8_escaped() {
    use std::os::unix::ffi::OsStrExt as _;
    if !root_or_skip("all_netns_lists_a_name_that_is_not_utf8_escaped") {
        return;
    }
    if subject_is_ss() {
        println!("skipping all_netns_lists_a_name_that_is_not_utf8_escaped: ss has no --all-netns");
        return;
    }
    let pid = std::process::id();
    let tmp = format!("sockq-tmp-{pid}");
    let mut raw = b"sockq-\xff-".to_vec();
    raw.extend_from_slice(pid.to_string().as_bytes());
    let ns = BytesNetns {
        path: std::path::Path::new("/run/netns").join(std::ffi::OsStr::from_bytes(&raw)),
        tmp: tmp.clone(),
    };
    run_ok(Command::new("ip").args(["netns", "add", &tmp]));
    std::fs::File::create_new(&ns.path)
        .unwrap_or_else(|e| panic!("create {}: {e}", ns.path.display()));
    run_ok(
        Command::new("mount")
            .arg("--bind")
            .arg(format!("/run/netns/{tmp}"))
            .arg(&ns.path),
    );
    // From here the bytes name is the namespace's only name.
    run_ok(Command::new("ip").args(["netns", "delete", &tmp]));
    run_ok(
        Command::new("ip")
            .arg("-n")
            .arg(ns.name())
            .args(["link", "set", "lo", "up"]),
    );
    let listener = std::thread::scope(|s| {
        s.spawn(|| {
            let file = std::fs::File::open(&ns.path)
                .unwrap_or_else(|e| panic!("open {}: {e}", ns.path.display()));
            rustix::thread::move_into_link_name_space(
                std::os::fd::AsFd::as_fd(&file),
                Some(rustix::thread::LinkNameSpaceType::Network),
            )
            .unwrap_or_else(|e| panic!("setns: {e}"));
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap_or_else(|e| panic!("bind: {e}"))
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    });
    let port = listener.local_addr().map(|a| a.port()).unwrap_or(0);
    let filter = format!("sport = :{port}");
    let label = format!("sockq-\\xff-{pid}");

    let out = run_ok(sockq().args(["--all-netns", "-tln", &filter]));
    let text = stdout_text(&out);
    let rows = rows_with(&text, &format!("127.0.0.1:{port} "));
    assert_eq!(rows.len(), 1, "{}", show_output(&out));
    assert!(
        rows[0].starts_with(&format!("{label} ")),
        "want the label {label}:\n{}",
        show_output(&out)
    );
    assert!(
        !out.stdout.contains(&0xff),
        "a raw 0xff byte reached the terminal"
    );
    // JSON: the JSON escaper's spelling (a byte that is not UTF-8 is U+FFFD).
    let out = run_ok(sockq().args(["--all-netns", "-tln", "-j", &filter]));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", show_output(&out)));
    assert_eq!(
        v[0]["netns"],
        format!("sockq-\u{fffd}-{pid}"),
        "{}",
        show_output(&out)
    );
    // -N takes the name as bytes too.
    let out = run_ok(sockq().arg("-N").arg(ns.name()).args(["-tln", &filter]));
    assert_eq!(
        rows_with(&stdout_text(&out), &format!("127.0.0.1:{port} ")).len(),
        1,
        "{}",
        show_output(&out)
    );
    drop(listener);
}
