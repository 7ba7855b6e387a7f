//! Features the other files do not run end to end, each on real sockets in a private
//! namespace: the sockq-only predicates against real processes, `-K`'s selection (TCP with
//! `-a`, UDP, what it refuses), `--sort` by every key, `--all-netns` usage errors, the
//! selection flags (`-M`, `--udplite`, `-S`, `-d`, `-Q`), the states FIN-WAIT-1 and LAST-ACK,
//! and the runtime paths `--explain`, `-D -`, `COLUMNS`, long-option abbreviations and options
//! after filter words.

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use crate::util::{
    Netns, Row, SETTLE_TIMEOUT, TempFile, parse_table, root_or_skip, run, run_ok, show_output,
    sockq, stdout_text, subject_is_ss, tcp_listener, tcp_pair, v4, words,
};

/// `local peer` of each row, sorted: which sockets an output lists.
fn endpoints(out: &Output) -> Vec<String> {
    let mut v: Vec<String> = parse_table(&stdout_text(out))
        .rows
        .iter()
        .map(|r| format!("{} {}", r.local, r.peer))
        .collect();
    v.sort();
    v
}

/// ss 7.1 (`SOCKQ_SS71`, else `target/oracle/ss`); missing under `CI=true` fails.
fn ss71() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("SOCKQ_SS71")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/oracle/ss")
        });
    if path.is_file() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "ss 7.1 missing at {}, and CI=true forbids skipping",
        path.display()
    );
    println!("skipping the ss 7.1 part: no {}", path.display());
    None
}

/// `local peer` of a connected socket, as sockq prints it numerically.
fn pair_key(s: &TcpStream) -> String {
    let l = s.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let p = s.peer_addr().unwrap_or_else(|e| panic!("{e}"));
    format!("{l} {p}")
}

fn listen_key(l: &TcpListener) -> String {
    format!(
        "{} 0.0.0.0:*",
        l.local_addr().unwrap_or_else(|e| panic!("{e}"))
    )
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// A child process killed and reaped on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Writes to `s` (non-blocking) until the kernel takes no more: the peer's receive buffer and
/// then `s`'s send buffer are full, so `s` keeps a Send-Q the peer never reads.
fn flood(s: &mut TcpStream) {
    s.set_nonblocking(true).unwrap_or_else(|e| panic!("{e}"));
    let chunk = [0x5au8; 65536];
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut blocked = 0;
    while blocked < 20 {
        match s.write(&chunk) {
            Ok(_) => blocked = 0,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                blocked += 1;
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("flood: {e}"),
        }
        assert!(
            Instant::now() < deadline,
            "the flood never filled the buffers"
        );
    }
}

/// The scene of the predicate tests, in its own namespace.
struct Scene {
    ns: Netns,
    la: TcpListener,
    a: (TcpStream, TcpStream),
    lb: TcpListener,
    b: (TcpStream, TcpStream),
    udp_rx: UdpSocket,
    udp_tx: UdpSocket,
    nobody: Reaped,
}

const NOBODY_PORT: u16 = 7103;
const UDP_PORT: u16 = 7104;

impl Scene {
    /// * 127.0.0.1:7101, a listener, with pair A whose server side holds 100 unread bytes;
    /// * 127.0.0.1:7102, a listener, with pair B whose client flooded the server: the server's
    ///   Recv-Q and the client's Send-Q are full;
    /// * 127.0.0.1:7103, a listener of a `python3` process running as nobody (uid 65534);
    /// * UDP 127.0.0.1:7104 (bound) and an autobound UDP sender that sent it one datagram.
    fn build() -> Scene {
        let ns = Netns::new();
        let script = format!(
            "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',{NOBODY_PORT}))\n\
             s.listen()\ntime.sleep(300)"
        );
        let nobody = Reaped(
            ns.exec(
                "setpriv",
                [
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    "/usr/bin/python3",
                    "-c",
                    &script,
                ],
            )
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("python3 as nobody: {e}")),
        );
        let (la, a, lb, mut b, udp_rx, udp_tx) = ns.enter(|| {
            let la = tcp_listener(v4(127, 0, 0, 1, 7101), 128, None);
            let (mut ac, as_) = tcp_pair(&la, v4(127, 0, 0, 1, 7101), None);
            ac.write_all(&[1u8; 100]).unwrap_or_else(|e| panic!("{e}"));
            let lb = tcp_listener(v4(127, 0, 0, 1, 7102), 128, None);
            let b = tcp_pair(&lb, v4(127, 0, 0, 1, 7102), None);
            let rx = UdpSocket::bind(("127.0.0.1", UDP_PORT)).unwrap_or_else(|e| panic!("{e}"));
            // An unbound sender: the kernel picks (autobinds) its port at the first send.
            let tx = UdpSocket::from(crate::util::new_socket(
                rustix::net::AddressFamily::INET,
                rustix::net::SocketType::DGRAM,
                None,
            ));
            tx.send_to(b"x", ("127.0.0.1", UDP_PORT))
                .unwrap_or_else(|e| panic!("{e}"));
            (la, (ac, as_), lb, b, rx, tx)
        });
        flood(&mut b.0);
        let keys = (pair_key(&b.0), pair_key(&b.1), pair_key(&a.1));
        ns.wait_for(
            "-tan",
            "the scene's queues and the nobody listener",
            |rows| {
                let q = |k: &str| {
                    rows.iter()
                        .find(|r| format!("{} {}", r.local, r.peer) == k)
                        .map(|r| (r.recv_q.clone(), r.send_q.clone()))
                };
                let nonzero = |s: &str| s != "0";
                q(&keys.0).is_some_and(|(_, s)| nonzero(&s))
                    && q(&keys.1).is_some_and(|(r, _)| nonzero(&r))
                    && q(&keys.2).is_some_and(|(r, _)| r == "100")
                    && rows
                        .iter()
                        .any(|r| r.local == format!("127.0.0.1:{NOBODY_PORT}"))
            },
        );
        // The flood settles over a few milliseconds (the kernel moves data from B's send
        // queue to its peer's receive queue): wait until two reads agree, so that queues
        // compared between runs hold still.
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let mut last = String::new();
        loop {
            let now = stdout_text(&run_ok(&mut ns.ss(["-tan"])));
            if now == last {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "the queues never settled:\n{now}"
            );
            last = now;
            std::thread::sleep(Duration::from_millis(100));
        }
        Scene {
            ns,
            la,
            a,
            lb,
            b,
            udp_rx,
            udp_tx,
            nobody,
        }
    }

    /// sockq `args` inside the namespace; must exit 0.
    fn sockq(&self, args: &[&str]) -> Output {
        run_ok(&mut self.ns.sockq(args))
    }

    fn nobody_key(&self) -> String {
        format!("127.0.0.1:{NOBODY_PORT} 0.0.0.0:*")
    }
}

#[test]
fn sockq_only_predicates_select_the_right_sockets() {
    if !root_or_skip("sockq_only_predicates_select_the_right_sockets") || subject_is_ss() {
        return;
    }
    let sc = Scene::build();
    let pid = sc.nobody.0.id().to_string();
    let ino = rustix::fs::fstat(sc.la.as_fd())
        .map(|s| s.st_ino)
        .unwrap_or_else(|e| panic!("{e}"))
        .to_string();
    let mine = sorted(vec![
        listen_key(&sc.la),
        listen_key(&sc.lb),
        pair_key(&sc.a.0),
        pair_key(&sc.a.1),
        pair_key(&sc.b.0),
        pair_key(&sc.b.1),
    ]);
    let udp_tx = format!(
        "{} 0.0.0.0:*",
        sc.udp_tx.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    let cases: Vec<(String, Vec<String>)> = vec![
        (format!("-tan pid = {pid}"), vec![sc.nobody_key()]),
        (format!("-tan pid != {pid}"), mine.clone()),
        ("-tan comm = python3".into(), vec![sc.nobody_key()]),
        ("-tan comm pyth*".into(), vec![sc.nobody_key()]),
        ("-tan comm != python3".into(), mine.clone()),
        ("-tan user nobody".into(), vec![sc.nobody_key()]),
        ("-tan user = 65534".into(), vec![sc.nobody_key()]),
        ("-tan uid = 65534".into(), vec![sc.nobody_key()]),
        ("-tan uid > 0".into(), vec![sc.nobody_key()]),
        ("-tan uid = 0".into(), mine.clone()),
        (format!("-tan inode = {ino}"), vec![listen_key(&sc.la)]),
        ("-tan rqueue = 100".into(), vec![pair_key(&sc.a.1)]),
        (
            "-tan rqueue > 0".into(),
            sorted(vec![pair_key(&sc.a.1), pair_key(&sc.b.1)]),
        ),
        // Listeners show their backlog as Send-Q: connected sockets only.
        ("-tn squeue > 0".into(), vec![pair_key(&sc.b.0)]),
        (
            "-tan squeue >= 128".into(),
            sorted(vec![
                listen_key(&sc.la),
                listen_key(&sc.lb),
                pair_key(&sc.b.0),
                sc.nobody_key(),
            ]),
        ),
        (
            "-tan autobound".into(),
            sorted(vec![pair_key(&sc.a.0), pair_key(&sc.b.0)]),
        ),
        (
            "-tan not autobound".into(),
            sorted(vec![
                listen_key(&sc.la),
                listen_key(&sc.lb),
                pair_key(&sc.a.1),
                pair_key(&sc.b.1),
                sc.nobody_key(),
            ]),
        ),
        ("-uan autobound".into(), vec![udp_tx.clone()]),
        (
            "-uan not autobound".into(),
            vec![format!("127.0.0.1:{UDP_PORT} 0.0.0.0:*")],
        ),
    ];
    let mut failures = Vec::new();
    for (line, want) in &cases {
        let mut args = words(line);
        // The predicate is one argument, like a quoted expression.
        let opts = args.remove(0);
        let expr = args.join(" ");
        let out = sc.sockq(&[opts.as_str(), expr.as_str()]);
        let got = endpoints(&out);
        if &got != want {
            failures.push(format!(
                "sockq {line}: want {want:?}\n{}",
                show_output(&out)
            ));
        }
    }
    // pid and comm read /proc: -p shows the owner they matched.
    let out = sc.sockq(&["-tanp", &format!("pid = {pid}")]);
    let text = stdout_text(&out);
    if !text.contains(&format!("(\"python3\",pid={pid},")) {
        failures.push(format!("-tanp pid = {pid}: no owner\n{text}"));
    }
    crate::util::assert_no_failures(&failures);
    drop(sc);
}

#[test]
fn cgroup_predicate_selects_this_process_cgroup() {
    if !root_or_skip("cgroup_predicate_selects_this_process_cgroup") || subject_is_ss() {
        return;
    }
    // In the test's own network namespace (`ip netns exec` hides the cgroup2 mount), with a
    // cgroup2 mount of its own in a private mount namespace (the host may have none).
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let own = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("/")
        .trim_end_matches('/')
        .to_owned();
    let mnt = std::env::temp_dir().join(format!("sockq-cg2-{}", std::process::id()));
    std::fs::create_dir_all(&mnt).unwrap_or_else(|e| panic!("{e}"));
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    let path = format!("{}{own}", mnt.display());
    let with_mount = |expr: String| {
        crate::util::run_plain(
            crate::util::tool_command("unshare")
                .args([
                    "-m",
                    "sh",
                    "-c",
                    "mount -t cgroup2 none \"$1\" && shift && exec \"$@\"",
                ])
                .arg("sh")
                .arg(&mnt)
                .arg(crate::util::sockq_program())
                .args(["-Htln", &format!("sport = :{port} and {expr}")]),
        )
    };
    let yes = with_mount(format!("cgroup = {path}"));
    let no = with_mount(format!("cgroup != {path}"));
    let _ = std::fs::remove_dir(&mnt);
    assert!(yes.status.success(), "{}", show_output(&yes));
    assert_eq!(
        endpoints_h(&yes),
        vec![format!("127.0.0.1:{port} 0.0.0.0:*")],
        "cgroup = {path}\n{}",
        show_output(&yes)
    );
    assert!(no.status.success(), "{}", show_output(&no));
    assert!(endpoints_h(&no).is_empty(), "{}", show_output(&no));
}

/// Like [`endpoints`], for `-H` output.
fn endpoints_h(out: &Output) -> Vec<String> {
    let mut v: Vec<String> = crate::util::parse_rows(&stdout_text(out), false, true)
        .iter()
        .map(|r| format!("{} {}", r.local, r.peer))
        .collect();
    v.sort();
    v
}

/// Whether `s` reads as closed or aborted under it (not just idle).
fn is_dead(s: &mut TcpStream) -> bool {
    let _ = s.set_nonblocking(false);
    let _ = s.set_read_timeout(Some(Duration::from_millis(300)));
    let mut b = [0u8; 1];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

#[test]
fn kill_selects_listeners_with_a_udp_and_refuses_what_it_cannot() {
    if !root_or_skip("kill_selects_listeners_with_a_udp_and_refuses_what_it_cannot")
        || subject_is_ss()
    {
        return;
    }
    let mut sc = Scene::build();
    // -K -ta alone would close every TCP socket: refused, nothing closed.
    let out = run(&mut sc.ns.sockq(["-K", "-ta"]));
    assert_eq!(out.status.code(), Some(2), "{}", show_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("-K needs"),
        "{}",
        show_output(&out)
    );
    assert!(
        !is_dead(&mut sc.a.0),
        "-K -ta without a filter closed pair A"
    );
    // Unix sockets cannot be killed: a usage error naming what can.
    let out = run(&mut sc.ns.sockq(["-K", "-xa", "src = *"]));
    assert_eq!(out.status.code(), Some(2), "{}", show_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("inet sockets only"),
        "{}",
        show_output(&out)
    );
    // -K -ta with a filter: the listener and the accepted socket on 7101.
    let want = sorted(vec![listen_key(&sc.la), pair_key(&sc.a.1)]);
    let out = sc.sockq(&["-K", "-tan", "sport = :7101"]);
    assert_eq!(endpoints(&out), want, "{}", show_output(&out));
    assert!(is_dead(&mut sc.a.0), "the peer of the killed socket lives");
    let after = sc.sockq(&["-tan", "sport = :7101 or dport = :7101"]);
    assert!(
        !stdout_text(&after).contains("LISTEN"),
        "the listener survived\n{}",
        show_output(&after)
    );
    assert!(!is_dead(&mut sc.b.0), "pair B was closed too");
    // UDP: the bound socket on 7104 is aborted (ECONNABORTED on its next recv).
    let out = sc.sockq(&["-K", "-uan", &format!("sport = :{UDP_PORT}")]);
    assert_eq!(
        endpoints(&out),
        vec![format!("127.0.0.1:{UDP_PORT} 0.0.0.0:*")],
        "{}",
        show_output(&out)
    );
    sc.udp_rx
        .set_nonblocking(true)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut buf = [0u8; 8];
    // The queued datagram may come first.
    let err = (0..3).find_map(|_| sc.udp_rx.recv(&mut buf).err());
    assert_eq!(
        err.and_then(|e| e.raw_os_error()),
        Some(libc_econnaborted()),
        "the killed UDP socket does not report ECONNABORTED"
    );
    // (A UDP socket bound by the user stays in the table after the abort: the kernel keeps
    // its port.)
    drop(sc);
}

/// ECONNABORTED on Linux.
fn libc_econnaborted() -> i32 {
    rustix::io::Errno::CONNABORTED.raw_os_error()
}

/// The key `--sort KEY` orders by, from a row of `-tanpe` output.
fn sort_value(key: &str, r: &Row) -> i64 {
    let port = |e: &str| {
        e.rsplit_once(':')
            .and_then(|(_, p)| p.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let field = |name: &str| {
        r.extra
            .iter()
            .find_map(|t| t.strip_prefix(name))
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
    };
    match key {
        "lport" => port(&r.local),
        "pport" => port(&r.peer),
        "recv-q" => r.recv_q.parse().unwrap_or(0),
        "send-q" => r.send_q.parse().unwrap_or(0),
        "inode" => field("ino:"),
        "pid" => r
            .extra
            .iter()
            .find_map(|t| t.split("pid=").nth(1))
            .and_then(|p| p.split([',', ')']).next())
            .and_then(|p| p.parse().ok())
            .unwrap_or(0),
        _ => 0,
    }
}

#[test]
fn sort_orders_by_every_key() {
    if !root_or_skip("sort_orders_by_every_key") || subject_is_ss() {
        return;
    }
    let sc = Scene::build();
    let mut failures = Vec::new();
    for key in [
        "lport", "pport", "recv-q", "send-q", "pid", "inode", "state",
    ] {
        let out = sc.sockq(&["-tane", "--sort", key]);
        let rows = parse_table(&stdout_text(&out)).rows;
        if rows.len() < 7 {
            failures.push(format!("--sort {key}: too few rows\n{}", show_output(&out)));
            continue;
        }
        if key == "state" {
            // Grouped: each state's rows together.
            let states: Vec<&str> = rows.iter().filter_map(|r| r.state.as_deref()).collect();
            let mut seen: Vec<&str> = Vec::new();
            for s in &states {
                if seen.last() != Some(s) {
                    if seen.contains(s) {
                        failures.push(format!("--sort state: {s} split\n{}", show_output(&out)));
                        break;
                    }
                    seen.push(s);
                }
            }
            continue;
        }
        let values: Vec<i64> = rows.iter().map(|r| sort_value(key, r)).collect();
        let mut want = values.clone();
        want.sort_unstable();
        // Queues: largest first (docs/namespaces.md).
        if key.ends_with("-q") {
            want.reverse();
        }
        if values != want {
            failures.push(format!(
                "--sort {key}: {values:?} is not in order\n{}",
                show_output(&out)
            ));
        }
        // --sort pid implies -p: the owners are shown.
        if key == "pid" && !stdout_text(&out).contains("users:((") {
            failures.push(format!("--sort pid shows no owner\n{}", show_output(&out)));
        }
    }
    crate::util::assert_no_failures(&failures);
}

#[test]
fn usage_errors_of_sort_and_all_netns() {
    if subject_is_ss() {
        return;
    }
    for (args, needle) in [
        (&["--sort", "bogus"][..], "bogus"),
        (&["--sort"][..], "--sort"),
        (
            &["--all-netns", "-K", "-t", "sport = :1"][..],
            "-K works on one namespace",
        ),
        (&["--all-netns", "-E"][..], "-E works on one namespace"),
        (&["--all-netns", "-s"][..], "-s works on one namespace"),
        (
            &["--all-netns", "-D", "/nonexistent/x", "-t"][..],
            "-D works on one namespace",
        ),
        (&["--all-netns", "-N", "x"][..], ""),
    ] {
        let out = run(sockq().args(args));
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}\n{}",
            show_output(&out)
        );
        assert!(out.stdout.is_empty(), "{args:?}\n{}", show_output(&out));
        assert_eq!(err.lines().count(), 1, "{args:?}\n{}", show_output(&out));
        assert!(
            err.starts_with("sockq: ") && err.contains(needle),
            "{args:?}: {err}"
        );
    }
}

#[test]
fn all_netns_orders_rows_by_namespace_and_shows_owners_in_each() {
    if !root_or_skip("all_netns_orders_rows_by_namespace_and_shows_owners_in_each")
        || subject_is_ss()
    {
        return;
    }
    let (a, b) = (Netns::new(), Netns::new());
    let la = a.enter(|| tcp_listener(v4(127, 0, 0, 1, 7121), 128, None));
    let lb = b.enter(|| tcp_listener(v4(127, 0, 0, 1, 7122), 128, None));
    let lb2 = b.enter(|| tcp_listener(v4(127, 0, 0, 1, 7120), 128, None));
    let filter = "sport >= :7120 and sport <= :7122";
    let out = run_ok(sockq().args(["--all-netns", "-tlnp", filter]));
    let text = stdout_text(&out);
    let rows: Vec<(&str, &str)> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let ns = l.split_whitespace().next()?;
            let local = l.split_whitespace().find(|t| t.starts_with("127.0.0.1:"))?;
            Some((ns, local))
        })
        .collect();
    let me = std::process::id();
    // Namespaces in name order (a was made first: its name sorts first), and
    // within one namespace the kernel's order, so every row of a before b's.
    let pos = |n: &str| rows.iter().position(|r| r.0 == n);
    assert_eq!(rows.len(), 3, "{}", show_output(&out));
    assert!(pos(a.name()) < pos(b.name()), "{}", show_output(&out));
    assert!(
        rows.iter().filter(|r| r.0 == b.name()).count() == 2,
        "{}",
        show_output(&out)
    );
    // -p in every namespace: each listener's owner is this process.
    for l in text.lines().skip(1) {
        assert!(
            l.contains(&format!(",pid={me},")),
            "no owner in {l}\n{}",
            show_output(&out)
        );
    }
    // --sort is global across namespaces: 7120 (b), 7121 (a), 7122 (b).
    let out = run_ok(sockq().args(["--all-netns", "-tln", "--sort", "lport", filter]));
    let order: Vec<(String, String)> = stdout_text(&out)
        .lines()
        .skip(1)
        .filter_map(|l| {
            let ns = l.split_whitespace().next()?.to_owned();
            let local = l.split_whitespace().find(|t| t.starts_with("127.0.0.1:"))?;
            Some((ns, local.to_owned()))
        })
        .collect();
    let want: Vec<(String, String)> = [(b.name(), 7120), (a.name(), 7121), (b.name(), 7122)]
        .iter()
        .map(|(n, p)| (n.to_string(), format!("127.0.0.1:{p}")))
        .collect();
    assert_eq!(order, want, "{}", show_output(&out));
    let out = run_ok(sockq().args(["--all-netns", "-tlnP", filter]));
    assert_eq!(
        stdout_text(&out).matches("\tprocess ").count(),
        3,
        "{}",
        show_output(&out)
    );
    drop((la, lb, lb2));
}

#[test]
fn selection_flags_from_the_command_line() {
    if !root_or_skip("selection_flags_from_the_command_line") || subject_is_ss() {
        return;
    }
    let ns = Netns::new();
    let held = ns.enter(|| {
        let mptcp = rustix::net::socket(
            rustix::net::AddressFamily::INET,
            rustix::net::SocketType::STREAM,
            Some(rustix::net::Protocol::from_raw(
                std::num::NonZeroU32::new(262).unwrap_or(std::num::NonZeroU32::MIN),
            )),
        )
        .unwrap_or_else(|e| panic!("an MPTCP socket: {e}"));
        rustix::net::bind(&mptcp, &v4(127, 0, 0, 1, 7131)).unwrap_or_else(|e| panic!("{e}"));
        rustix::net::listen(&mptcp, 8).unwrap_or_else(|e| panic!("{e}"));
        let lite = rustix::net::socket(
            rustix::net::AddressFamily::INET,
            rustix::net::SocketType::DGRAM,
            Some(rustix::net::Protocol::from_raw(
                std::num::NonZeroU32::new(136).unwrap_or(std::num::NonZeroU32::MIN),
            )),
        )
        .unwrap_or_else(|e| panic!("a UDP-Lite socket: {e}"));
        rustix::net::bind(&lite, &v4(127, 0, 0, 1, 7132)).unwrap_or_else(|e| panic!("{e}"));
        let t = tcp_listener(v4(127, 0, 0, 1, 7133), 128, None);
        (mptcp, lite, t)
    });
    // -M lists the MPTCP listener, as ss does.
    let ours = run_ok(&mut ns.sockq(["-Mln"]));
    let theirs = run_ok(&mut ns.ss(["-Mln"]));
    assert_eq!(
        endpoints(&ours),
        vec!["127.0.0.1:7131 0.0.0.0:*".to_owned()]
    );
    assert_eq!(
        endpoints(&ours),
        endpoints(&theirs),
        "{}",
        show_output(&theirs)
    );
    // --udplite: sockq only (from /proc/net/udplite).
    let out = run_ok(&mut ns.sockq(["--udplite", "-an"]));
    assert_eq!(
        endpoints(&out),
        vec!["127.0.0.1:7132 0.0.0.0:*".to_owned()],
        "{}",
        show_output(&out)
    );
    // -Q: no queue columns, the same sockets.
    let q = run_ok(&mut ns.sockq(["-tlnQ"]));
    let text = stdout_text(&q);
    assert!(
        !text.contains("Recv-Q") && text.contains("127.0.0.1:7133"),
        "{}",
        show_output(&q)
    );
    // ss 6.1 has no -Q; ss 7.1 does: the same bytes.
    if let Some(ss71) = ss71() {
        let ssq = run_ok(&mut ns.exec(ss71, ["-tlnQ"]));
        assert_eq!(text, stdout_text(&ssq), "{}", show_output(&ssq));
    }
    // -S and -d: this kernel has no sctp/dccp diag module: one line each, exit 0.
    for (flag, table) in [("-S", "sctp"), ("-d", "dccp")] {
        let out = run(&mut ns.sockq([flag, "-an"]));
        let err = String::from_utf8_lossy(&out.stderr);
        let loaded = std::path::Path::new("/sys/module")
            .join(format!("{table}_diag"))
            .exists();
        assert_eq!(out.status.code(), Some(0), "{flag}\n{}", show_output(&out));
        if loaded {
            assert!(err.is_empty(), "{flag}\n{}", show_output(&out));
        } else {
            assert_eq!(err.lines().count(), 1, "{flag}\n{}", show_output(&out));
            assert!(
                err.contains(table) && err.contains("not supported by this kernel"),
                "{flag}\n{}",
                show_output(&out)
            );
        }
    }
    drop(held);
}

/// States a quiet loopback pair does not reach by itself: FIN-WAIT-1 (a FIN queued behind data
/// the peer does not read) and LAST-ACK (the same, on the side that closed second).
#[test]
fn states_fin_wait_1_and_last_ack() {
    if !root_or_skip("states_fin_wait_1_and_last_ack") || subject_is_ss() {
        return;
    }
    let ns = Netns::new();
    let (l, fw1, la) = ns.enter(|| {
        let l = tcp_listener(v4(127, 0, 0, 1, 7141), 128, None);
        // FIN-WAIT-1: the client floods, then shuts down its side.
        let (mut c, s) = tcp_pair(&l, v4(127, 0, 0, 1, 7141), None);
        flood(&mut c);
        c.shutdown(std::net::Shutdown::Write)
            .unwrap_or_else(|e| panic!("{e}"));
        // LAST-ACK: the client shuts down first (the server reads the FIN: CLOSE-WAIT), then
        // the server floods the client and shuts down too.
        let (c2, mut s2) = tcp_pair(&l, v4(127, 0, 0, 1, 7141), None);
        c2.shutdown(std::net::Shutdown::Write)
            .unwrap_or_else(|e| panic!("{e}"));
        crate::util::read_to_eof(&mut s2);
        flood(&mut s2);
        s2.shutdown(std::net::Shutdown::Write)
            .unwrap_or_else(|e| panic!("{e}"));
        (l, (c, s), (c2, s2))
    });
    ns.wait_for("-tan", "FIN-WAIT-1 and LAST-ACK", |rows| {
        let has = |s: &str| rows.iter().any(|r| r.state.as_deref() == Some(s));
        has("FIN-WAIT-1") && has("LAST-ACK")
    });
    let mut failures = Vec::new();
    for (word, shown, who) in [
        ("fin-wait-1", "FIN-WAIT-1", pair_key(&fw1.0)),
        ("last-ack", "LAST-ACK", pair_key(&la.1)),
    ] {
        let ours = run_ok(&mut ns.sockq(["-tn", "state", word]));
        let theirs = run_ok(&mut ns.ss(["-tn", "state", word]));
        let rows = parse_table(&stdout_text(&ours)).rows;
        if endpoints(&ours) != vec![who.clone()] || endpoints(&ours) != endpoints(&theirs) {
            failures.push(format!(
                "state {word}: want {who}\n{}\nss:\n{}",
                show_output(&ours),
                show_output(&theirs)
            ));
        }
        // With -a the State column names it.
        let all = run_ok(&mut ns.sockq(["-tan"]));
        let named = parse_table(&stdout_text(&all))
            .rows
            .iter()
            .any(|r| r.state.as_deref() == Some(shown) && format!("{} {}", r.local, r.peer) == who);
        if !named || rows.is_empty() {
            failures.push(format!("-tan does not show {shown}\n{}", show_output(&all)));
        }
    }
    crate::util::assert_no_failures(&failures);
    drop((l, fw1, la));
}

#[test]
fn explain_prints_the_filter_and_its_bytecode_and_lists_nothing() {
    if subject_is_ss() {
        return;
    }
    let out = run_ok(sockq().args(["-tn", "--explain", "sport = :80 and not dst 10.0.0.0/8"]));
    let text = stdout_text(&out);
    assert!(
        text.starts_with("expression: ((sport = :80) and (not (dst 10.0.0.0/8)))")
            || text.starts_with("expression: (sport = :80 and not dst 10.0.0.0/8)")
            || text.starts_with("expression: "),
        "{text}"
    );
    assert!(text.contains("kernel bytecode: "), "{text}");
    assert!(text.contains("port=80"), "{text}");
    assert!(!text.contains("Recv-Q"), "--explain listed sockets\n{text}");
    let user_only = run_ok(sockq().args(["-tn", "--explain", "comm = nginx"]));
    assert!(
        stdout_text(&user_only).contains("user space"),
        "{}",
        show_output(&user_only)
    );
}

/// `-D -` writes the raw replies to stdout: netlink messages ending in NLMSG_DONE, which
/// `TCPDIAG_FILE` replays as the same rows.
#[test]
fn diag_dump_to_stdout_replays() {
    if subject_is_ss() {
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    let filter = format!("sport = :{port}");
    let out = run_ok(sockq().args(["-tl", "-D", "-", &filter]));
    let bytes = &out.stdout;
    let mut rest = &bytes[..];
    let mut kinds = Vec::new();
    while rest.len() >= 16 {
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        kinds.push(u16::from_le_bytes([rest[4], rest[5]]));
        let aligned = (len + 3) & !3;
        assert!(len >= 16 && aligned <= rest.len(), "malformed -D - output");
        rest = &rest[aligned..];
    }
    assert!(rest.is_empty(), "trailing bytes in -D - output");
    assert_eq!(kinds.last(), Some(&3), "no NLMSG_DONE: {kinds:?}");
    assert!(
        kinds.contains(&20),
        "no SOCK_DIAG_BY_FAMILY reply: {kinds:?}"
    );
    let file = TempFile::new("D-stdout", bytes);
    let replay = run_ok(sockq().args(["-Htan"]).env("TCPDIAG_FILE", file.path()));
    assert_eq!(
        endpoints_h(&replay),
        vec![format!("127.0.0.1:{port} 0.0.0.0:*")],
        "{}",
        show_output(&replay)
    );
}

/// `COLUMNS` sets the width when stdout is not a terminal, as in ss 7.1: the same bytes.
#[test]
fn columns_sets_the_width_like_ss_7_1() {
    if !root_or_skip("columns_sets_the_width_like_ss_7_1") || subject_is_ss() {
        return;
    }
    let Some(ss71) = ss71() else {
        return;
    };
    let ns = Netns::new();
    let held = ns.enter(|| {
        let l = tcp_listener(v4(127, 0, 0, 1, 7151), 128, None);
        let p = tcp_pair(&l, v4(127, 0, 0, 1, 7151), None);
        (l, p)
    });
    for cols in ["60", "100", "200"] {
        let mut ours = ns.sockq(["-tan"]);
        ours.env("COLUMNS", cols);
        let mut theirs = ns.exec(&ss71, ["-tan"]);
        theirs.env("COLUMNS", cols);
        let (a, b) = (run_ok(&mut ours), run_ok(&mut theirs));
        assert_eq!(
            stdout_text(&a),
            stdout_text(&b),
            "COLUMNS={cols}: sockq against ss 7.1"
        );
    }
    // Wider than the default: the header line grows.
    let mut wide = ns.sockq(["-tan"]);
    wide.env("COLUMNS", "200");
    let narrow = run_ok(&mut ns.sockq(["-tan"]));
    let wide = run_ok(&mut wide);
    let head = |o: &Output| stdout_text(o).lines().next().map(str::len).unwrap_or(0);
    assert!(head(&wide) > head(&narrow), "{}", show_output(&wide));
    drop(held);
}

/// `--list --num --tc` is `-ltn`; options may follow the filter words.
#[test]
fn abbreviations_and_options_after_filter_words() {
    if subject_is_ss() {
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    let filter = format!("sport = :{port}");
    let want = run_ok(sockq().args(["-ltn", &filter]));
    assert_eq!(
        endpoints(&want),
        vec![format!("127.0.0.1:{port} 0.0.0.0:*")],
        "{}",
        show_output(&want)
    );
    for args in [
        vec![
            "--list".to_owned(),
            "--num".into(),
            "--tc".into(),
            filter.clone(),
        ],
        vec![
            "--listen".to_owned(),
            "--numeric".into(),
            "--tcp".into(),
            filter.clone(),
        ],
        vec![filter.clone(), "-ltn".into()],
        vec![
            "sport".to_owned(),
            "=".into(),
            format!(":{port}"),
            "-l".into(),
            "-tn".into(),
        ],
    ] {
        let out = run_ok(sockq().args(&args));
        assert_eq!(
            stdout_text(&out),
            stdout_text(&want),
            "{args:?}\n{}",
            show_output(&out)
        );
    }
    // An ambiguous abbreviation is a usage error naming it.
    let out = run(sockq().args(["--pro"]));
    assert_eq!(out.status.code(), Some(2), "{}", show_output(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--pro"),
        "{}",
        show_output(&out)
    );
}

/// `-E --json-lines`: one object per event, with a `time` field that is the event's time (the
/// text layout's Time column), and the destroyed socket's endpoints.
#[test]
fn events_json_lines_have_the_time_of_the_event() {
    if !root_or_skip("events_json_lines_have_the_time_of_the_event") || subject_is_ss() {
        return;
    }
    let ns = Netns::new();
    let mut child = Reaped(
        ns.sockq([
            "-E",
            "-tn",
            "--json-lines",
            "sport = :7161 or dport = :7161",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}")),
    );
    crate::events::wait_subscribed(&mut child.0);
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let port = ns.enter(|| {
        let l = tcp_listener(v4(127, 0, 0, 1, 7161), 128, None);
        let (c, s) = tcp_pair(&l, v4(127, 0, 0, 1, 7161), None);
        let port = c.local_addr().map(|a| a.port()).unwrap_or(0);
        drop((c, s, l));
        port
    });
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let stdout = child.0.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + SETTLE_TIMEOUT;
    let mut found = None;
    while found.is_none() {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no event for the client port {port}");
        let Ok(line) = rx.recv_timeout(left) else {
            continue;
        };
        let v: serde_json::Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        if v["local"]["port"] == u64::from(port) {
            found = Some(v);
        }
    }
    let v = found.unwrap_or_default();
    assert_eq!(v["peer"]["port"], 7161, "{v}");
    let t = &v["time"];
    let secs = t
        .as_f64()
        .or_else(|| t.as_str().and_then(|s| s.parse::<f64>().ok()))
        .unwrap_or_else(|| panic!("time is not a number of seconds: {v}"));
    assert!(
        secs >= before.floor() - 1.0 && secs <= after + 1.0,
        "time {secs} is not the event's ({before}..{after}): {v}"
    );
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_child(&child.0),
        rustix::process::Signal::TERM,
    );
    let status = crate::events::exit_within(&mut child.0, crate::util::RUN_TIMEOUT);
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

/// The text rows of `out`, each with its continuation lines' tokens (`-P` blocks, details on a
/// second line) appended.
fn text_rows(out: &Output) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (i, line) in stdout_text(out).lines().enumerate() {
        if i == 0 {
            continue; // the header
        }
        let toks = line.split_whitespace().map(str::to_owned);
        match rows.last_mut() {
            Some(r) if line.starts_with(char::is_whitespace) => r.extend(toks),
            _ => rows.push(toks.collect()),
        }
    }
    rows
}

/// `address:port` as the table prints an inet endpoint numerically (`*` for port 0).
fn json_endpoint(e: &serde_json::Value) -> String {
    let addr = e["address"].as_str().unwrap_or("?");
    let port = e["port"].as_u64().unwrap_or(0);
    let port = if port == 0 {
        "*".to_owned()
    } else {
        port.to_string()
    };
    if addr.contains(':') {
        format!("[{addr}]:{port}")
    } else {
        format!("{addr}:{port}")
    }
}

/// The value of the first `name…` token of a text row (without the name).
fn token<'a>(row: &'a [String], name: &str) -> Option<&'a str> {
    row.iter().find_map(|t| t.strip_prefix(name))
}

/// The JSON output's values equal the table's, field by field, for `-p`, `-P`, `-o`, `-e`, `-m`
/// and `-i` (values that move by themselves, like timer expiries and rates, aside).
#[test]
fn json_values_equal_the_table_field_by_field() {
    if !root_or_skip("json_values_equal_the_table_field_by_field") || subject_is_ss() {
        return;
    }
    let sc = Scene::build();
    let mut failures = Vec::new();
    for opts in [
        "-tan", "-uan", "-tanp", "-tanP", "-tanoO", "-taneO", "-tanmO", "-taniO",
    ] {
        let text = sc.sockq(&[opts]);
        let json = sc.sockq(&[opts, "--json"]);
        let rows = text_rows(&text);
        let objs: Vec<serde_json::Value> =
            serde_json::from_slice::<serde_json::Value>(&json.stdout)
                .ok()
                .and_then(|v| v.as_array().cloned())
                .unwrap_or_default();
        let mut fail = |m: String| {
            failures.push(format!(
                "{opts}: {m}\n--- table ---\n{}--- json ---\n{}",
                stdout_text(&text),
                stdout_text(&json)
            ));
        };
        if rows.len() != objs.len() || rows.is_empty() {
            fail(format!("{} rows, {} objects", rows.len(), objs.len()));
            continue;
        }
        for (r, o) in rows.iter().zip(&objs) {
            let cols = [
                o["state"].as_str().unwrap_or("?").to_owned(),
                o["recv_q"].to_string(),
                o["send_q"].to_string(),
                json_endpoint(&o["local"]),
                json_endpoint(&o["peer"]),
            ];
            if r.get(..5) != Some(&cols[..]) {
                fail(format!("columns {:?} against {cols:?}", r.get(..5)));
                continue;
            }
            if opts.contains('p') || opts.contains('P') {
                let users: Vec<String> = o["users"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|u| {
                        format!(
                            "(\"{}\",pid={},fd={})",
                            u["comm"].as_str().unwrap_or("?"),
                            u["pid"],
                            u["fd"]
                        )
                    })
                    .collect();
                let want = if users.is_empty() {
                    None
                } else {
                    Some(format!("({})", users.join(",")))
                };
                if token(r, "users:").map(str::to_owned) != want {
                    fail(format!("users {:?} against {want:?}", token(r, "users:")));
                }
                if opts.contains('P') {
                    let blocks = r.iter().filter(|t| *t == "process").count();
                    let procs = o["processes"].as_array().map_or(0, Vec::len);
                    if blocks != procs {
                        fail(format!("{blocks} process blocks, {procs} process objects"));
                    }
                }
            }
            if opts.contains('e') {
                // The table leaves out `uid:0`, as ss does.
                let uid = o["uid"].to_string();
                let want_uid = (uid != "0").then_some(uid.as_str());
                if token(r, "uid:") != want_uid {
                    fail(format!(
                        "uid: {:?} against uid {}",
                        token(r, "uid:"),
                        o["uid"]
                    ));
                }
                for (name, field) in [("ino:", "inode")] {
                    if token(r, name) != Some(o[field].to_string().as_str()) {
                        fail(format!(
                            "{name} {:?} against {field} {}",
                            token(r, name),
                            o[field]
                        ));
                    }
                }
                let sk = o["cookie"].as_u64().map(|c| format!("{c:x}"));
                if token(r, "sk:").map(str::to_owned) != sk {
                    fail(format!("sk: {:?} against cookie {sk:?}", token(r, "sk:")));
                }
            }
            if opts.contains('o') || opts.contains('e') {
                let text_timer = token(r, "timer:(").map(|t| {
                    let f: Vec<&str> = t.trim_end_matches(')').split(',').collect();
                    (
                        f.first().map(|s| s.to_string()),
                        f.last().map(|s| s.to_string()),
                    )
                });
                let json_timer = o.get("timer").map(|t| {
                    (
                        t["name"].as_str().map(str::to_owned),
                        Some(t["retrans"].to_string()),
                    )
                });
                if text_timer != json_timer {
                    fail(format!("timer {text_timer:?} against {json_timer:?}"));
                }
            }
            if opts.contains('m') {
                let sk = token(r, "skmem:(")
                    .unwrap_or_default()
                    .trim_end_matches(')');
                let m = &o["skmem"];
                for (prefix, field) in [("rb", "rcvbuf"), ("tb", "sndbuf"), ("d", "drops")] {
                    let text_v = sk.split(',').find_map(|f| {
                        f.strip_prefix(prefix)
                            .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
                    });
                    if text_v != Some(m[field].to_string().as_str()) {
                        fail(format!(
                            "skmem {prefix} {text_v:?} against {field} {}",
                            m[field]
                        ));
                    }
                }
            }
            if opts.contains('i') && o["state"] != "LISTEN" {
                let ti = &o["tcp_info"];
                let cong = o["cong"].as_str().unwrap_or("?");
                if !r.iter().any(|t| t == cong) {
                    fail(format!("cong {cong} not in the row"));
                }
                for (name, field) in [("mss:", "snd_mss"), ("cwnd:", "snd_cwnd")] {
                    if token(r, name) != Some(ti[field].to_string().as_str()) {
                        fail(format!(
                            "{name} {:?} against {field} {}",
                            token(r, name),
                            ti[field]
                        ));
                    }
                }
            }
        }
    }
    crate::util::assert_no_failures(&failures);
    drop(sc);
}

/// `-B` and `state bound-inactive`: a TCP socket bound but neither listening nor connecting,
/// which the kernel reports in its real state (CLOSE); `state closed` alone lists nothing. The
/// same bytes as ss 7.1 (ss 6.1 has no `-B`).
#[test]
fn bound_inactive_and_closed_like_ss_7_1() {
    if !root_or_skip("bound_inactive_and_closed_like_ss_7_1") || subject_is_ss() {
        return;
    }
    let Some(ss71) = ss71() else {
        return;
    };
    let ns = Netns::new();
    let held = ns.enter(|| {
        let bound = crate::util::new_socket(
            rustix::net::AddressFamily::INET,
            rustix::net::SocketType::STREAM,
            None,
        );
        rustix::net::bind(&bound, &v4(127, 0, 0, 1, 7181)).unwrap_or_else(|e| panic!("{e}"));
        (bound, tcp_listener(v4(127, 0, 0, 1, 7182), 128, None))
    });
    for args in [
        &["-tnB"][..],
        &["-tnaB"],
        &["-tn", "state", "bound-inactive"],
        &["-tn", "state", "closed"],
        &["-tan"],
    ] {
        let ours = run_ok(&mut ns.sockq(args));
        let theirs = run_ok(&mut ns.exec(&ss71, args));
        assert_eq!(
            stdout_text(&ours),
            stdout_text(&theirs),
            "{args:?}: sockq against ss 7.1"
        );
        let bound_listed = stdout_text(&ours).contains("127.0.0.1:7181 ");
        let want = args
            .iter()
            .any(|a| (a.starts_with('-') && a.contains('B')) || *a == "bound-inactive")
            || args == ["-tan"];
        assert_eq!(bound_listed, want, "{args:?}\n{}", show_output(&ours));
    }
    drop(held);
}

/// `--all-netns` while namespaces come and go: one that vanishes (or is still being made) during
/// the run is skipped, never an error, and the stable namespace's listener is always listed.
#[test]
fn all_netns_skips_namespaces_that_vanish_mid_run() {
    if !root_or_skip("all_netns_skips_namespaces_that_vanish_mid_run") || subject_is_ss() {
        return;
    }
    let stable = Netns::new();
    let l = stable.enter(|| tcp_listener(v4(127, 0, 0, 1, 7190), 128, None));
    let stop = std::sync::atomic::AtomicBool::new(false);
    let mut failures = Vec::new();
    let mut runs = 0;
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // Netns::new/drop: `ip netns add` then `ip netns del`, unique names.
                drop(Netns::new());
                n += 1;
            }
            println!("{n} namespaces made and deleted during the runs");
        });
        for _ in 0..40 {
            let out =
                crate::util::run_plain(sockq().args(["--all-netns", "-Htln", "sport = :7190"]));
            runs += 1;
            let text = stdout_text(&out);
            if !out.status.success()
                || !out.stderr.is_empty()
                || text.lines().count() != 1
                || !text.starts_with(&format!("{} ", stable.name()))
            {
                failures.push(show_output(&out));
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
    });
    assert!(
        failures.is_empty(),
        "{} of {runs} runs went wrong:\n{}",
        failures.len(),
        failures.join("\n")
    );
    drop(l);
}
