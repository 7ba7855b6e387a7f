//! The sockq-only predicates against real processes and sockets.

use super::*;

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
