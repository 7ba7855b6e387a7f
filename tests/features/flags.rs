//! Selection flags, states a quiet pair does not reach, and runtime paths (--explain, -D -, COLUMNS, abbreviations).

use super::*;

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

/// For each (state word, State column text, `local peer`): `-tn state WORD` lists exactly that
/// socket, as ss does, and `-tan` names its state. Returns what failed.
fn states_shown(ns: &Netns, cases: &[(&str, &str, String)]) -> Vec<String> {
    let mut failures = Vec::new();
    for (word, shown, who) in cases {
        let ours = run_ok(&mut ns.sockq(["-tn", "state", word]));
        let theirs = run_ok(&mut ns.ss(["-tn", "state", word]));
        if endpoints(&ours) != vec![who.clone()] || endpoints(&ours) != endpoints(&theirs) {
            failures.push(format!(
                "state {word}: want {who}\n{}\nss:\n{}",
                show_output(&ours),
                show_output(&theirs)
            ));
        }
        let all = run_ok(&mut ns.sockq(["-tan"]));
        let named = parse_table(&stdout_text(&all)).rows.iter().any(|r| {
            r.state.as_deref() == Some(*shown) && format!("{} {}", r.local, r.peer) == *who
        });
        if !named {
            failures.push(format!(
                "-tan does not show {shown} for {who}\n{}",
                show_output(&all)
            ));
        }
    }
    failures
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
    let failures = states_shown(
        &ns,
        &[
            ("fin-wait-1", "FIN-WAIT-1", pair_key(&fw1.0)),
            ("last-ack", "LAST-ACK", pair_key(&la.1)),
        ],
    );
    crate::util::assert_no_failures(&failures);
    drop((l, fw1, la));
}

/// The python child of [`states_syn_recv_and_closing`]: a listener with TCP_DEFER_ACCEPT, which
/// drops the bare ACK that ends the handshake, so the server side stays a SYN-RECV request
/// while the client is ESTABLISHED. It prints the client's local port and waits for stdin.
const DEFER_ACCEPT: &str = "import socket, sys
l = socket.socket()
l.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 60)
l.bind(('127.0.0.1', 7151))
l.listen(8)
c = socket.create_connection(('127.0.0.1', 7151))
print(c.getsockname()[1], flush=True)
sys.stdin.read()
";

/// The two states a loopback pair reaches only with help: SYN-RECV (the request of a listener
/// with TCP_DEFER_ACCEPT, whose final handshake ACK it drops) and CLOSING (a simultaneous close:
/// each side's FIN is queued behind data the other has not read; one side then reads, gets its
/// peer's FIN before any ACK of its own, and stays CLOSING while its FIN waits).
#[test]
fn states_syn_recv_and_closing() {
    if !root_or_skip("states_syn_recv_and_closing") || subject_is_ss() {
        return;
    }
    let ns = Netns::new();
    let mut child = ns.exec("python3", ["-c", DEFER_ACCEPT]);
    child
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut py = Reaped(child.spawn().unwrap_or_else(|e| panic!("python3: {e}")));
    let mut line = String::new();
    let mut stdout =
        std::io::BufReader::new(py.0.stdout.take().unwrap_or_else(|| panic!("stdout")));
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap_or_else(|e| panic!("{e}"));
    let client_port: u16 = line
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("python3 printed {line:?}, not a port"));
    let syn_recv = format!("127.0.0.1:7151 127.0.0.1:{client_port}");
    let (l, closing) = ns.enter(|| {
        let l = tcp_listener(v4(127, 0, 0, 1, 7152), 128, None);
        let (mut a, mut b) = tcp_pair(&l, v4(127, 0, 0, 1, 7152), None);
        flood(&mut a);
        flood(&mut b);
        for s in [&a, &b] {
            s.shutdown(std::net::Shutdown::Write)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        a.set_nonblocking(false).unwrap_or_else(|e| panic!("{e}"));
        crate::util::read_to_eof(&mut a);
        (l, (a, b))
    });
    let closing_key = pair_key(&closing.0);
    ns.wait_for("-tan", "SYN-RECV and CLOSING", |rows| {
        let has = |s: &str| rows.iter().any(|r| r.state.as_deref() == Some(s));
        has("SYN-RECV") && has("CLOSING")
    });
    let failures = states_shown(
        &ns,
        &[
            ("syn-recv", "SYN-RECV", syn_recv),
            ("closing", "CLOSING", closing_key),
        ],
    );
    crate::util::assert_no_failures(&failures);
    drop((l, closing, py));
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

/// The "rows may be missing" warning, end to end. A live dump cannot be made to fail on demand,
/// so the kernel's mark is put where it would be: a real dump of this test's sockets is captured
/// with `-D`, one reply gets NLM_F_DUMP_INTR (0x10), and both files are replayed. The flagged one
/// prints the same rows, one warning line, and exits 0; the clean one warns of nothing.
#[test]
fn an_interrupted_dump_shows_its_rows_and_warns_once() {
    if subject_is_ss() {
        return;
    }
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    let to = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let pairs: Vec<_> = (0..3).map(|_| tcp_pair(&l, to, None)).collect();
    let filter = format!("sport = :{port} or dport = :{port}");
    let clean = run_ok(sockq().args(["-ta", "-D", "-", &filter])).stdout;
    // The second message of the capture (a socket reply) gets the flag.
    let mut flagged = clean.clone();
    let len0 = u32::from_le_bytes([clean[0], clean[1], clean[2], clean[3]]) as usize;
    let at = (len0 + 3) & !3;
    assert!(at + 16 < clean.len(), "the capture has one message only");
    let flags = u16::from_le_bytes([clean[at + 6], clean[at + 7]]) | 0x10;
    flagged[at + 6..at + 8].copy_from_slice(&flags.to_le_bytes());
    let (clean, flagged) = (
        TempFile::new("intr-clean", &clean),
        TempFile::new("intr-flagged", &flagged),
    );
    let mut failures = Vec::new();
    for how in ["--replay", "TCPDIAG_FILE"] {
        let replay = |f: &TempFile| {
            let mut cmd = sockq();
            cmd.arg("-tan");
            if how == "--replay" {
                cmd.arg("--replay").arg(f.path());
            } else {
                cmd.env("TCPDIAG_FILE", f.path());
            }
            run(&mut cmd)
        };
        let (ok, gap) = (replay(&clean), replay(&flagged));
        let rows = endpoints(&ok);
        let err = String::from_utf8_lossy(&gap.stderr);
        let warned: Vec<&str> = err
            .lines()
            .filter(|l| l.contains("rows may be missing"))
            .collect();
        if rows.len() != 7
            || endpoints(&gap) != rows
            || gap.status.code() != Some(0)
            || ok.status.code() != Some(0)
            || !ok.stderr.is_empty()
            || warned.len() != 1
            || err.lines().count() != 1
            || !warned[0].contains(&format!("{} ({how})", flagged.path().display()))
        {
            failures.push(format!(
                "{how}: want 7 rows both times, exit 0, one warning for the flagged file only\nclean:\n{}\nflagged:\n{}",
                show_output(&ok),
                show_output(&gap)
            ));
        }
    }
    crate::util::assert_no_failures(&failures);
    drop((l, pairs));
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
