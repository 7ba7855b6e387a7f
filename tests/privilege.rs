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
    Netns, PublicCopy, parse_table, root_or_skip, run, setpriv_nobody, show_output, small_mix,
    stdout_text, subject_is_ss,
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

    // The rest run cleanly and print what they should.
    for args in [
        &["-xa"][..],
        &["-s"],
        &["-tni"],
        &["-tanm"],
        &["-tane"],
        &["-tan", "state", "listening"],
        &["-tan", "( sport = :5000 or dport = :5000 )"],
    ] {
        let out = run(&mut as_nobody(&ns, copy.bin(), args));
        if code(&out) != 0 || out.stdout.is_empty() || !out.stderr.is_empty() {
            failures.push(format!("{args:?} as nobody\n{}", show_output(&out)));
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
    drop(udp);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// Runs `cmd` with `input` on its stdin and collects its output.
fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input)
            .unwrap_or_else(|e| panic!("stdin: {e}"));
    }
    child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("wait: {e}"))
}
