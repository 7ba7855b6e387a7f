//! Malformed command lines and expressions, each with its exact message and
//! exit code: unknown and conflicting flags, bad values for `-f`, `-A`,
//! `-N`, `-F` and states, bad addresses, ports and services, syntax errors,
//! 10,000 nested parentheses, a 1 MB expression, and arguments with invalid
//! UTF-8. None of these needs root: every case fails (or, for the few ss
//! accepts, succeeds) before or without anything privileged.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::util::{TempFile, run, sockq, subject_is_ss};

/// Runs sockq with raw byte arguments.
fn sockq_bytes(args: &[&[u8]]) -> Output {
    run(sockq().args(args.iter().map(|a| OsStr::from_bytes(a))))
}

/// Checks one case: exit code and the whole of stderr; stdout must be empty
/// on failure.
fn check(shown: &str, out: &Output, code: i32, stderr: &str, failures: &mut Vec<String>) {
    let got_code = out.status.code().unwrap_or(-1);
    let got_err = String::from_utf8_lossy(&out.stderr);
    if got_code != code || got_err != stderr {
        failures.push(format!(
            "{shown}\n  want exit {code}, stderr {stderr:?}\n  got  exit {got_code}, stderr {got_err:?}"
        ));
    }
    if code != 0 && !out.stdout.is_empty() {
        failures.push(format!(
            "{shown}: stdout should be empty on error, got {:?}",
            String::from_utf8_lossy(&out.stdout)
        ));
    }
}

fn finish(failures: &[String], total: usize) {
    assert!(
        failures.is_empty(),
        "{} of {total} cases differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// (arguments, exit code, exact stderr). Usage errors exit 2; errors met
/// while running (a namespace that cannot be entered, a file that cannot be
/// created, SELinux) exit 1. Filter errors are three lines: the message, the
/// expression and carets under the culprit.
const CASES: &[(&[&str], i32, &str)] = &[
    (
        &["--bogus"],
        2,
        "sockq: unexpected argument '--bogus' found (see --help)\n",
    ),
    (
        &["-y"],
        2,
        "sockq: unexpected argument '-y' found (see --help)\n",
    ),
    (
        &["--processes=yes"],
        2,
        "sockq: unexpected value 'yes' for '--processes' found; no more were expected (see --help)\n",
    ),
    (
        &["-e", "-m", "-i", "--bogusflag"],
        2,
        "sockq: unexpected argument '--bogusflag' found (see --help)\n",
    ),
    (&["-K", "-E"], 2, "sockq: -K and -E cannot be combined\n"),
    (
        &["--dry-run", "-t"],
        2,
        "sockq: --dry-run only goes with -K\n",
    ),
    (
        &["-t", "--kill", "--events"],
        2,
        "sockq: -K and -E cannot be combined\n",
    ),
    (
        &["-Z"],
        1,
        "sockq: SELinux is not enabled: -Z and -z are not supported\n",
    ),
    (
        &["--json", "--oneline", "--bogus"],
        2,
        "sockq: unexpected argument '--bogus' found (see --help)\n",
    ),
    (
        &["-f"],
        2,
        "sockq: a value is required for '--family <FAMILY>' but none was supplied (see --help)\n",
    ),
    (
        &["-f", "bogus"],
        2,
        "sockq: \"bogus\" is invalid family (expected inet, inet6, link, unix, netlink, vsock, tipc or xdp)\n",
    ),
    (
        &["-f", ""],
        2,
        "sockq: \"\" is invalid family (expected inet, inet6, link, unix, netlink, vsock, tipc or xdp)\n",
    ),
    (
        &["-f", "inet", "-f", "bogus"],
        2,
        "sockq: \"bogus\" is invalid family (expected inet, inet6, link, unix, netlink, vsock, tipc or xdp)\n",
    ),
    (
        &["-f", "INET"],
        2,
        "sockq: \"INET\" is invalid family (expected inet, inet6, link, unix, netlink, vsock, tipc or xdp)\n",
    ),
    (
        &["-A"],
        2,
        "sockq: a value is required for '--query <QUERY>' but none was supplied (see --help)\n",
    ),
    (
        &["-A", "bogus"],
        2,
        "sockq: \"bogus\" is illegal socket table id (expected one of all, inet, tcp, mptcp, udp, udplite, dccp, sctp, raw, unix, unix_stream, u_str, unix_dgram, u_dgr, unix_seqpacket, u_seq, packet, packet_raw, p_raw, packet_dgram, p_dgr, netlink, tipc, vsock, vsock_stream, v_str, vsock_dgram, v_dgr, xdp; `!ID` removes one)\n",
    ),
    (
        &["-A", "tcp,bogus"],
        2,
        "sockq: \"bogus\" is illegal socket table id (expected one of all, inet, tcp, mptcp, udp, udplite, dccp, sctp, raw, unix, unix_stream, u_str, unix_dgram, u_dgr, unix_seqpacket, u_seq, packet, packet_raw, p_raw, packet_dgram, p_dgr, netlink, tipc, vsock, vsock_stream, v_str, vsock_dgram, v_dgr, xdp; `!ID` removes one)\n",
    ),
    (
        &["-A", "all,bogus"],
        2,
        "sockq: \"bogus\" is illegal socket table id (expected one of all, inet, tcp, mptcp, udp, udplite, dccp, sctp, raw, unix, unix_stream, u_str, unix_dgram, u_dgr, unix_seqpacket, u_seq, packet, packet_raw, p_raw, packet_dgram, p_dgr, netlink, tipc, vsock, vsock_stream, v_str, vsock_dgram, v_dgr, xdp; `!ID` removes one)\n",
    ),
    (
        &["-A", "unix_foo"],
        2,
        "sockq: \"unix_foo\" is illegal socket table id (expected one of all, inet, tcp, mptcp, udp, udplite, dccp, sctp, raw, unix, unix_stream, u_str, unix_dgram, u_dgr, unix_seqpacket, u_seq, packet, packet_raw, p_raw, packet_dgram, p_dgr, netlink, tipc, vsock, vsock_stream, v_str, vsock_dgram, v_dgr, xdp; `!ID` removes one)\n",
    ),
    (
        &["-A", "tcp,,udp"],
        2,
        "sockq: \"\" is illegal socket table id (expected one of all, inet, tcp, mptcp, udp, udplite, dccp, sctp, raw, unix, unix_stream, u_str, unix_dgram, u_dgr, unix_seqpacket, u_seq, packet, packet_raw, p_raw, packet_dgram, p_dgr, netlink, tipc, vsock, vsock_stream, v_str, vsock_dgram, v_dgr, xdp; `!ID` removes one)\n",
    ),
    (
        &["-N"],
        2,
        "sockq: a value is required for '--net <NETNS>' but none was supplied (see --help)\n",
    ),
    (
        &["-N", "nonexistent-ns-xyz", "-t"],
        1,
        "sockq: cannot enter network namespace \"nonexistent-ns-xyz\" (/var/run/netns/nonexistent-ns-xyz): No such file or directory\n",
    ),
    (
        &["-N", "/etc/passwd", "-t"],
        1,
        "sockq: cannot enter network namespace \"/etc/passwd\" (/etc/passwd): Invalid argument\n",
    ),
    (
        &["-F"],
        2,
        "sockq: a value is required for '--filter <FILE>' but none was supplied (see --help)\n",
    ),
    (
        &["-F", "/nonexistent/file"],
        2,
        "sockq: cannot read filter file /nonexistent/file: No such file or directory (os error 2)\n",
    ),
    (
        &["-F", "/"],
        2,
        "sockq: cannot read filter file /: Is a directory (os error 21)\n",
    ),
    (
        &["-D", "/nonexistent/dir/x", "-t"],
        1,
        "sockq: creating /nonexistent/dir/x: No such file or directory (os error 2)\n",
    ),
    (
        &["-t", "state", "bogus"],
        2,
        "sockq: unknown state \"bogus\" (try listening, established, connected, …)\n",
    ),
    (&["-t", "state"], 2, "sockq: `state` needs a state name\n"),
    (
        &["-t", "exclude", "bogus"],
        2,
        "sockq: unknown state \"bogus\" (try listening, established, connected, …)\n",
    ),
    (
        &["-t", "exclude"],
        2,
        "sockq: `exclude` needs a state name\n",
    ),
    (
        &["-t", "state", "listen"],
        2,
        "sockq: unknown state \"listen\" (try listening, established, connected, …)\n",
    ),
    (
        &["-t", "state established or state bogus"],
        2,
        "sockq: unknown state \"bogus\" (try listening, established, connected, …)\nstate established or state bogus\n                           ^^^^^\n",
    ),
    (
        &["-t", "sport = :99999"],
        2,
        "sockq: port 99999 is out of range: ports are 0 to 65535\nsport = :99999\n        ^^^^^^\n",
    ),
    (
        &["-t", "sport = :65536"],
        2,
        "sockq: port 65536 is out of range: ports are 0 to 65535\nsport = :65536\n        ^^^^^^\n",
    ),
    (
        &["-t", "dport = 10.0.0.1:22"],
        2,
        "sockq: \"10.0.0.1:22\" does not look like a port; to match an address use `dst` or `src`\ndport = 10.0.0.1:22\n        ^^^^^^^^^^^\n",
    ),
    (
        &["-t", "sport = :nosuchsvc"],
        2,
        "sockq: \"nosuchsvc\" does not look like a port: not a number, and no such service\nsport = :nosuchsvc\n        ^^^^^^^^^^\n",
    ),
    (
        &["-t", "dport > :foo"],
        2,
        "sockq: \"foo\" does not look like a port: not a number, and no such service\ndport > :foo\n        ^^^^\n",
    ),
    (
        &["-t", "sport = :0x"],
        2,
        "sockq: \"0x\" does not look like a port\nsport = :0x\n        ^^^\n",
    ),
    (
        &["-t", "sport = :1e3"],
        2,
        "sockq: \"1e3\" does not look like a port\nsport = :1e3\n        ^^^^\n",
    ),
    (
        &["-t", "dport = :ssh:22"],
        2,
        "sockq: \"ssh:22\" does not look like a port; to match an address use `dst` or `src`\ndport = :ssh:22\n        ^^^^^^^\n",
    ),
    (
        &["-t", "src 10.0.0.1:99999"],
        2,
        "sockq: port 99999 is out of range: ports are 0 to 65535\nsrc 10.0.0.1:99999\n    ^^^^^^^^^^^^^^\n",
    ),
    (
        &["-t", "dst [::1]:70000"],
        2,
        "sockq: port 70000 is out of range: ports are 0 to 65535\ndst [::1]:70000\n    ^^^^^^^^^^^\n",
    ),
    (
        &["-t", "src 300.1.1.1"],
        2,
        "sockq: bad address: 300 is more than 255 in \"300.1.1.1\"\nsrc 300.1.1.1\n    ^^^^^^^^^\n",
    ),
    (
        &["-t", "src 1.2.3.4/33"],
        2,
        "sockq: bad address: prefix length \"33\" is not 0 to 32\nsrc 1.2.3.4/33\n    ^^^^^^^^^^\n",
    ),
    (
        &["-t", "src ::1/129"],
        2,
        "sockq: bad address: prefix length \"129\" is not 0 to 128\nsrc ::1/129\n    ^^^^^^^\n",
    ),
    (
        &["-t", "src [::1"],
        2,
        "sockq: bad address: \"[::1\" has no closing `]`\nsrc [::1\n    ^^^^\n",
    ),
    (
        &["-t", "src 1.2.3.4.5"],
        2,
        "sockq: bad address: \"1.2.3.4.5\" has more than four parts\nsrc 1.2.3.4.5\n    ^^^^^^^^^\n",
    ),
    (
        &["-t", "src 1..2"],
        2,
        "sockq: bad address: \"\" is not a number in \"1..2\"\nsrc 1..2\n    ^^^^\n",
    ),
    (
        &["-t", "src \"unterminated"],
        2,
        "sockq: bad address: \"\"unterminated\" is not an address\nsrc \"unterminated\n    ^^^^^^^^^^^^^\n",
    ),
    (
        &["-t", "dst nosuch.host.invalid"],
        2,
        "sockq: \"nosuch.host.invalid\" is neither an address nor a host name that resolves\ndst nosuch.host.invalid\n    ^^^^^^^^^^^^^^^^^^^\n",
    ),
    (
        &["-0", "src 1.2.3.4"],
        2,
        "sockq: unknown ethertype \"1.2.3.4\"\nsrc 1.2.3.4\n    ^^^^^^^\n",
    ),
    (
        &["-t", "dev nosuchdev0"],
        2,
        "sockq: no interface named \"nosuchdev0\"\ndev nosuchdev0\n    ^^^^^^^^^^\n",
    ),
    (
        &["-t", "fwmark = 0xzz"],
        2,
        "sockq: cannot parse mark \"0xzz\": expected MARK or MARK/MASK\nfwmark = 0xzz\n         ^^^^\n",
    ),
    (
        &["-t", "fwmark = 1/2/3"],
        2,
        "sockq: cannot parse mark \"1/2/3\": expected MARK or MARK/MASK\nfwmark = 1/2/3\n         ^^^^^\n",
    ),
    (
        &["-t", "cgroup /nonexistent"],
        2,
        "sockq: no cgroup \"/nonexistent\" (is cgroup2 mounted?)\ncgroup /nonexistent\n       ^^^^^^^^^^^^\n",
    ),
    (
        &["-t", "uid = abc"],
        2,
        "sockq: \"abc\" is not a number\nuid = abc\n      ^^^\n",
    ),
    (
        &["-t", "user nosuchuserxyz"],
        2,
        "sockq: no user named \"nosuchuserxyz\"\nuser nosuchuserxyz\n     ^^^^^^^^^^^^^\n",
    ),
    (
        &["-t", "inode = -1"],
        2,
        "sockq: \"-1\" is not a number\ninode = -1\n        ^^\n",
    ),
    (
        &["-t", "rqueue > x"],
        2,
        "sockq: \"x\" is not a number\nrqueue > x\n         ^\n",
    ),
    (
        &["-t", "( sport = :80"],
        2,
        "sockq: unclosed `(`: expected `)` before the end\n( sport = :80\n^\n",
    ),
    (
        &["-t", "sport = :80 )"],
        2,
        "sockq: unbalanced `)`: there is no `(` to close\nsport = :80 )\n            ^\n",
    ),
    (
        &["-t", "sport = :80 or"],
        2,
        "sockq: `or` needs an expression after it\nsport = :80 or\n            ^^\n",
    ),
    (
        &["-t", "( )"],
        2,
        "sockq: empty parentheses: put an expression between `(` and `)`\n( )\n^^^\n",
    ),
    (&["-t", "src"], 2, "sockq: `src` needs a value\nsrc\n^^^\n"),
    (
        &["-t", "sportx = :80"],
        2,
        "sockq: unknown keyword `sportx`: expected src, dst, sport, dport, dev, fwmark, cgroup, autobound, state, uid, user, inode, rqueue, squeue, pid, comm, unit, container or exe\nsportx = :80\n^^^^^^\n",
    ),
    (
        &["-t", "sport = 80 or 443"],
        2,
        "sockq: expected a predicate such as `sport = :80` (src, dst, sport, dport, …), found `443`\nsport = 80 or 443\n              ^^^\n",
    ),
    (
        &["-t", "src > 10.0.0.1"],
        2,
        "sockq: `src` takes `=` or `!=`, not `>`\nsrc > 10.0.0.1\n    ^\n",
    ),
    (
        &["-t", "not"],
        2,
        "sockq: `not` needs an expression after it\nnot\n^^^\n",
    ),
    (&["-t", "and"], 2, "sockq: unexpected `and`\nand\n^^^\n"),
    (
        &["-t", "sport = :80 = 1"],
        2,
        "sockq: expected a predicate such as `sport = :80` (src, dst, sport, dport, …), found `=`\nsport = :80 = 1\n            ^\n",
    ),
    (
        &["-t", "\""],
        2,
        "sockq: expected a predicate such as `sport = :80` (src, dst, sport, dport, …), found `\"`\n\"\n^\n",
    ),
    (
        &["-H", "-t", "extra", "garbage", "words"],
        2,
        "sockq: unknown keyword `extra`: expected src, dst, sport, dport, dev, fwmark, cgroup, autobound, state, uid, user, inode, rqueue, squeue, pid, comm, unit, container or exe\nextra garbage words\n^^^^^\n",
    ),
    (
        &["-t", "--", "-x"],
        2,
        "sockq: expected a predicate such as `sport = :80` (src, dst, sport, dport, …), found `-x`\n-x\n^^\n",
    ),
];

#[test]
fn malformed_command_lines_give_exact_messages() {
    if subject_is_ss() {
        println!("skipping: the messages are sockq's own");
        return;
    }
    let mut failures = Vec::new();
    // sockq has no SELinux support: on a host without SELinux it says so;
    // on one with SELinux that sentence would be false, so there only the
    // exit code and a one-line message naming -Z are required.
    let selinux = std::path::Path::new("/sys/fs/selinux/enforce").exists();
    for (args, code, stderr) in CASES {
        let out = run(sockq().args(*args));
        if selinux && args.first().is_some_and(|a| *a == "-Z") {
            let err = String::from_utf8_lossy(&out.stderr);
            if out.status.code() != Some(*code) || err.lines().count() != 1 || !err.contains("-Z") {
                failures.push(format!("sockq -Z on an SELinux host: {err:?}"));
            }
            continue;
        }
        check(
            &format!("sockq {args:?}"),
            &out,
            *code,
            stderr,
            &mut failures,
        );
    }
    finish(&failures, CASES.len());
    assert!(CASES.len() >= 60);
}

/// Arguments that are not UTF-8: clap refuses them in one line; valid
/// UTF-8 that is not ASCII reaches the expression and is underlined by
/// characters, not bytes.
#[test]
fn arguments_with_invalid_utf8() {
    if subject_is_ss() {
        return;
    }
    let cases: &[(&[&[u8]], i32, &str)] = &[
        (
            &[b"-t\xff"],
            2,
            "sockq: unexpected argument '-\u{fffd}' found (see --help)\n",
        ),
        (
            &[b"-t", b"sport = :8\xff0"],
            2,
            "sockq: \"8\\xff0\" does not look like a port\nsport = :8\\xff0\n        ^^^^^^^\n",
        ),
        (
            &[b"-f", b"inet\xff"],
            2,
            "sockq: the value of -f is not valid UTF-8: \"inet\\xff\" (this option takes text)\n",
        ),
        (
            &[b"-N", b"ns\xff"],
            1,
            "sockq: cannot enter network namespace \"ns\\xff\" (/var/run/netns/ns\\xff): No such file or directory\n",
        ),
        (
            &[b"-t", "src été".as_bytes()],
            2,
            "sockq: bad address: \"été\" is not an address\nsrc été\n    ^^^\n",
        ),
    ];
    let mut failures = Vec::new();
    for (args, code, stderr) in cases {
        let out = sockq_bytes(args);
        check(
            &format!("sockq {args:?}"),
            &out,
            *code,
            stderr,
            &mut failures,
        );
    }
    finish(&failures, cases.len());
}

/// 10,000 nested parentheses (and 300 nested `not`s) are refused before the
/// parser recurses: a clean error, no stack overflow. The expression line is
/// a window around the culprit.
#[test]
fn deep_nesting_is_a_clean_error() {
    if subject_is_ss() {
        return;
    }
    let msg = "sockq: the expression nests deeper than 256 parentheses and `not`s\n";
    let window = format!("…{}…\n{}^\n", "(".repeat(120), " ".repeat(41));
    let opened = "(".repeat(10_000);
    let closed = format!("{opened} sport = :80 {}", ")".repeat(10_000));
    let mut failures = Vec::new();
    for e in [&opened, &closed] {
        let out = run(sockq().args(["-t", e.as_str()]));
        check(
            "10,000 `(`",
            &out,
            2,
            &format!("{msg}{window}"),
            &mut failures,
        );
    }
    let nots = format!("{}sport = :80", "not ".repeat(300));
    let out = run(sockq().args(["-t", nots.as_str()]));
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with(msg));
    finish(&failures, 2);
}

/// A 1 MB expression (through `-F`: one argument may not exceed 128 KiB)
/// ends within seconds with a clean error whose text stays short.
#[test]
fn a_one_megabyte_expression_ends_quickly_and_cleanly() {
    if subject_is_ss() {
        return;
    }
    let ors = vec!["sport = :80"; 80_000].join(" or ");
    let junk = "a".repeat(1 << 20);
    let cases = [
        (
            ors,
            format!(
                "sockq: the expression is too complex to parse\n{}…\n{}\n",
                "sport = :80 or ".repeat(8),
                "^".repeat(120)
            ),
        ),
        (
            junk,
            format!(
                "sockq: unknown keyword `{}…\n{}…\n{}\n",
                "a".repeat(300 - "unknown keyword `".len()),
                "a".repeat(120),
                "^".repeat(120)
            ),
        ),
    ];
    let mut failures = Vec::new();
    for (expr, want) in &cases {
        assert!(expr.len() >= 1 << 20);
        let file = TempFile::new("bad-input-1mb", expr.as_bytes());
        let mut cmd = sockq();
        cmd.arg("-tn").arg("-F").arg(file.path());
        // Timed alone: the unprivileged shadow runs after the clock stops.
        let start = Instant::now();
        let out = crate::util::run_plain(&mut cmd);
        let took = start.elapsed();
        crate::util::shadow_unprivileged(&cmd, &out);
        assert!(
            took < Duration::from_secs(15),
            "1 MB expression took {took:?}"
        );
        check("1 MB expression", &out, 2, want, &mut failures);
    }
    finish(&failures, cases.len());
}
