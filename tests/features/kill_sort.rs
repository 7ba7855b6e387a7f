//! `-K` selection, `--sort` by every key, and `--all-netns` order, owners and usage errors.

use super::*;

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
    // Namespaces in name order (byte order: `sockq-P-100` sorts before
    // `sockq-P-99`), and within one namespace the kernel's order, so every
    // row of the first name before the other's.
    let rows_of = |n: &str| -> Vec<usize> { (0..rows.len()).filter(|&i| rows[i].0 == n).collect() };
    let (first, second) = if a.name() < b.name() {
        (a.name(), b.name())
    } else {
        (b.name(), a.name())
    };
    assert_eq!(rows.len(), 3, "{}", show_output(&out));
    assert!(
        rows_of(first).iter().max() < rows_of(second).iter().min(),
        "{}",
        show_output(&out)
    );
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
