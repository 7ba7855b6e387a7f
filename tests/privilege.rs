//! Partial privilege: sockq's commands run as `nobody` (through `setpriv`)
//! in a test namespace. No crash, the right exit codes, the same rows as
//! root where the kernel does not check privileges, a clear error for
//! `fwmark` (which the kernel refuses without CAP_NET_ADMIN: ss shows an
//! empty table instead), and `-p` with a one-line notice about the processes
//! it could not read. (`-K` as nobody is tested with the kill tests.)

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output};

use crate::util::{
    Netns, PublicCopy, comparable_rows, parse_table, root_or_skip, run, run_plain, run_with_stdin,
    setpriv_nobody, show_output, small_mix, stdout_text, subject_is_ss,
};

/// `ip netns exec NS setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all sockq ARGS`.
fn as_nobody(ns: &Netns, bin: &Path, args: &[&str]) -> Command {
    let mut argv: Vec<OsString> = setpriv_nobody().iter().map(OsString::from).collect();
    argv.push(bin.as_os_str().to_owned());
    argv.extend(args.iter().map(OsString::from));
    ns.exec("setpriv", argv)
}

fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

#[test]
fn commands_as_nobody_are_right_or_say_what_they_cannot_show() {
    if !root_or_skip("commands_as_nobody_are_right_or_say_what_they_cannot_show") {
        return;
    }
    if subject_is_ss() {
        println!("skipping: checks sockq's own messages");
        return;
    }
    let copy = PublicCopy::new();
    let ns = Netns::new();
    let _held = small_mix(&ns);
    let udp = ns.enter(|| std::net::UdpSocket::bind("127.0.0.1:5002").expect("bind udp"));
    // A unix listener, so that `-xa` has a row to compare.
    let unix = ns.enter(|| {
        crate::util::unix_abstract_listener(&format!("sockq-priv-{}", std::process::id()))
    });
    let mut failures = Vec::new();

    // Where the kernel checks no privilege, nobody sees what root sees.
    for args in [
        &["-tan"][..],
        &["-uan"],
        &["-tln"],
        &["-tn", "sport = :5000"],
    ] {
        let root = run(&mut ns.sockq(args.iter()));
        let nobody = run(&mut as_nobody(&ns, copy.bin(), args));
        if code(&root) != 0 || code(&nobody) != 0 {
            failures.push(format!(
                "{args:?}: exit {} as root, {} as nobody\n{}",
                code(&root),
                code(&nobody),
                show_output(&nobody)
            ));
            continue;
        }
        let (r, n) = (
            parse_table(&stdout_text(&root)).rows,
            parse_table(&stdout_text(&nobody)).rows,
        );
        if r != n || !nobody.stderr.is_empty() {
            failures.push(format!(
                "{args:?}: rows differ or stderr not empty\nroot:\n{}\nnobody:\n{}",
                show_output(&root),
                show_output(&nobody)
            ));
        }
        if r.is_empty() {
            failures.push(format!("{args:?}: no rows at all"));
        }
    }

    // The rest: root's rows (queues aside), with the same detail fields by
    // name (their values move: timers, counters); -s: root's summary.
    for args in [
        &["-xa"][..],
        &["-s"],
        &["-tni"],
        &["-tanm"],
        &["-tane"],
        &["-tan", "state", "listening"],
        &["-tan", "( sport = :5000 or dport = :5000 )"],
    ] {
        let root = run(&mut ns.sockq(args.iter()));
        let out = run(&mut as_nobody(&ns, copy.bin(), args));
        if code(&out) != 0 || code(&root) != 0 || out.stdout.is_empty() || !out.stderr.is_empty() {
            failures.push(format!("{args:?} as nobody\n{}", show_output(&out)));
            continue;
        }
        let same = match (comparable_rows(&root.stdout), comparable_rows(&out.stdout)) {
            (Some(r), Some(n)) => {
                !r.is_empty() && r == n && field_names(&root) == field_names(&out)
            }
            // -s: the same summary, but for `Total:`, the kernel's count of
            // sockets in use, which moves with the tools' own sockets.
            _ => without_total(&root.stdout) == without_total(&out.stdout),
        };
        if !same {
            failures.push(format!(
                "{args:?}: not root's rows or fields\nroot:\n{}\nnobody:\n{}",
                show_output(&root),
                show_output(&out)
            ));
        }
    }
    let json = run(&mut as_nobody(&ns, copy.bin(), &["--json", "-tan"]));
    match serde_json::from_slice::<serde_json::Value>(&json.stdout) {
        Ok(v) if code(&json) == 0 && v.to_string().contains("5000") => {}
        r => failures.push(format!(
            "--json -tan as nobody: {:?}\n{}",
            r.err(),
            show_output(&json)
        )),
    }

    // fwmark: the kernel answers EPERM; say so instead of an empty table.
    let out = run(&mut as_nobody(&ns, copy.bin(), &["-tn", "fwmark = 0x10"]));
    let want = "sockq: tcp (inet, inet6) sock_diag dump: the kernel refused the filter \
                (permission denied): fwmark filters need CAP_NET_ADMIN, run as root\n";
    if code(&out) != 1 || !out.stdout.is_empty() || String::from_utf8_lossy(&out.stderr) != want {
        failures.push(format!(
            "fwmark as nobody: want exit 1 and {want:?}\n{}",
            show_output(&out)
        ));
    }

    // -p: every row, no owner for root's sockets, and one notice line.
    let root = run(&mut ns.sockq(["-tanp"]));
    let nobody = run(&mut as_nobody(&ns, copy.bin(), &["-tanp"]));
    let err = String::from_utf8_lossy(&nobody.stderr).into_owned();
    let notice_ok = err.lines().count() == 1
        && err.starts_with("sockq: ")
        && err.contains("could not be read (permission denied)")
        && err.contains("show no owner");
    let r = parse_table(&stdout_text(&root)).rows;
    let n = parse_table(&stdout_text(&nobody)).rows;
    let owned_as_root = r.iter().filter(|row| !row.extra.is_empty()).count();
    let owned_as_nobody = n.iter().filter(|row| !row.extra.is_empty()).count();
    if code(&nobody) != 0 || !notice_ok || r.len() != n.len() || owned_as_nobody != 0 {
        failures.push(format!(
            "-tanp as nobody: exit {}, {} rows (root {}), {owned_as_nobody} with owners\n{}",
            code(&nobody),
            n.len(),
            r.len(),
            show_output(&nobody)
        ));
    }
    if owned_as_root != r.len() {
        failures.push(format!(
            "-tanp as root: not every row has an owner\n{}",
            show_output(&root)
        ));
    }
    // The command shapes the shadow of `util::run` does not reach: a filter
    // from stdin, output into `| head`, and the churn test's repeated
    // `-tanpe`, each as nobody.
    let mut stdin_filter = as_nobody(&ns, copy.bin(), &["-tn", "-F", "-"]);
    let out = run_with_stdin(&mut stdin_filter, b"sport = :5000\n");
    let root = run(&mut ns.sockq(["-tn", "sport = :5000"]));
    if code(&out) != 0
        || !out.stderr.is_empty()
        || parse_table(&stdout_text(&out)).rows != parse_table(&stdout_text(&root)).rows
    {
        failures.push(format!(
            "-F - as nobody: not root's rows\nroot:\n{}\nnobody:\n{}",
            show_output(&root),
            show_output(&out)
        ));
    }
    for (args, head) in [("-tan", "-1"), ("-tan --json", "-c 100")] {
        let script = format!("\"$@\" {args} | head {head} >/dev/null; exit \"${{PIPESTATUS[0]}}\"");
        let mut argv: Vec<OsString> =
            vec!["-c".into(), script.into(), "bash".into(), "setpriv".into()];
        argv.extend(setpriv_nobody().iter().map(OsString::from));
        argv.push(copy.bin().as_os_str().to_owned());
        let out = run(&mut ns.exec("bash", argv));
        if code(&out) != 0 || !out.stderr.is_empty() {
            failures.push(format!(
                "{args} | head {head} as nobody\n{}",
                show_output(&out)
            ));
        }
    }
    for i in 0..5 {
        let out = run(&mut as_nobody(&ns, copy.bin(), &["-tanpe"]));
        let err = String::from_utf8_lossy(&out.stderr);
        if code(&out) != 0 || err.lines().count() != 1 || !err.contains("could not be read") {
            failures.push(format!("-tanpe run {i} as nobody\n{}", show_output(&out)));
        }
    }
    drop((udp, unix));
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The names of each row's detail fields (`ino:`, `skmem:`, `cubic`...), rows sorted.
fn field_names(out: &Output) -> Vec<Vec<String>> {
    let mut rows: Vec<(String, Vec<String>)> = parse_table(&stdout_text(out))
        .rows
        .iter()
        .map(|r| {
            let names = r
                .extra
                .iter()
                .map(|t| match t.find([':', '(']) {
                    Some(i) => t[..=i].to_owned(),
                    None => t.clone(),
                })
                .collect();
            (format!("{} {}", r.local, r.peer), names)
        })
        .collect();
    rows.sort();
    rows.into_iter().map(|(_, n)| n).collect()
}

/// The output without its `Total:` lines.
fn without_total(out: &[u8]) -> Vec<&[u8]> {
    out.split(|&b| b == b'\n')
        .filter(|l| !l.starts_with(b"Total:"))
        .collect()
}

/// `setpriv … sockq ARGS` as nobody in the caller's namespace, stderr a pipe, `SOCKQ_HINTS`
/// set to `hints` (or removed).
fn nobody_here(bin: &Path, args: &[&str], hints: Option<&str>) -> Output {
    let mut cmd = Command::new("setpriv");
    cmd.args(setpriv_nobody()).arg(bin).args(args);
    cmd.env_remove("COLUMNS").env("LC_ALL", "C");
    match hints {
        Some(v) => cmd.env("SOCKQ_HINTS", v),
        None => cmd.env_remove("SOCKQ_HINTS"),
    };
    run_plain(&mut cmd)
}

/// Advice for people ("run as root") goes to stderr only on a terminal or with
/// `SOCKQ_HINTS=1`; the warnings themselves (processes not read, namespaces not entered)
/// always go, once, `--metrics` included.
#[test]
fn advice_only_for_people_warnings_always_once() {
    if !root_or_skip("advice_only_for_people_warnings_always_once") {
        return;
    }
    if subject_is_ss() {
        println!("skipping advice_only_for_people_warnings_always_once: checks sockq's messages");
        return;
    }
    let copy = PublicCopy::new();
    // A namespace nobody cannot enter, for --all-netns.
    let ns = Netns::new();
    let mut failures = Vec::new();
    let count = |err: &str, what: &str| err.lines().filter(|l| l.contains(what)).count();
    for args in [
        &["-tlnp"][..],
        &["-tln", "--metrics"],
        &["-tlnp", "--metrics"],
        &["-tln", "--metrics", "comm = sockq-no-such-comm"],
        &["--all-netns", "-tlnp"],
        &["--all-netns", "-tln", "--metrics"],
    ] {
        for hints in [None, Some("0"), Some("1")] {
            let out = nobody_here(copy.bin(), args, hints);
            let err = String::from_utf8_lossy(&out.stderr);
            let advised = hints == Some("1");
            let mut bad = Vec::new();
            if code(&out) != 0 {
                bad.push("exit status not 0");
            }
            if count(&err, "processes could not be read (permission denied)") != 1 {
                bad.push("not exactly one unread-processes warning");
            }
            if count(&err, "Run as root to see every owner.") != usize::from(advised) {
                bad.push("owner advice where not wanted, or missing where asked");
            }
            if args.contains(&"--all-netns") {
                if count(&err, "could not enter") != 1 || !err.contains(ns.name()) {
                    bad.push("not one line naming the namespaces not entered");
                }
                if count(&err, "run as root to see them") != usize::from(advised) {
                    bad.push("namespace advice where not wanted, or missing where asked");
                }
            }
            if !bad.is_empty() {
                failures.push(format!(
                    "{args:?} SOCKQ_HINTS={hints:?}: {}\n{}",
                    bad.join(", "),
                    show_output(&out)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}
