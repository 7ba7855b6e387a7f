//! JSON values against the table, field by field, and `-E --json-lines` times.

use super::*;

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
                // A persist timer's probe count moves by itself between the two runs
                // (the peer's window stays shut while the flood waits): its name must
                // match, its count may not.
                let persist = |t: &Option<(Option<String>, Option<String>)>| {
                    t.as_ref()
                        .and_then(|(n, _)| n.as_deref())
                        .is_some_and(|n| n == "persist")
                };
                let same = if persist(&text_timer) && persist(&json_timer) {
                    true
                } else {
                    text_timer == json_timer
                };
                if !same {
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
                    // A socket whose receive buffer is full keeps dropping the flood's
                    // probes between the text run and the JSON run (which comes second):
                    // there its drop counter may only have grown.
                    let full = m["rmem_alloc"].as_u64() >= m["rcvbuf"].as_u64();
                    let grew = field == "drops"
                        && full
                        && text_v
                            .and_then(|t| t.parse::<u64>().ok())
                            .zip(m[field].as_u64())
                            .is_some_and(|(t, j)| j >= t);
                    if !grew && text_v != Some(m[field].to_string().as_str()) {
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
