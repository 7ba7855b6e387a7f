//! `-K` with an empty `-F`, conflicting modes, usage errors, arguments that are not UTF-8.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

use super::{assert_usage, sockq_bytes, split};
use crate::util::{
    Netns, TempFile, root_or_skip, run, sockq, subject_is_ss, tcp_listener, tcp_pair, v4,
};

// ---- Safety ----

/// `-K -F /dev/null`, an `-F` file of comments and `-F -` on empty stdin
/// select nothing: they must refuse exactly as a bare `-K` does, and the
/// connection in the namespace must survive.
#[test]
fn kill_with_an_empty_filter_file_refuses_like_bare_kill() {
    if subject_is_ss() || !root_or_skip("kill_with_an_empty_filter_file_refuses_like_bare_kill") {
        return;
    }
    let ns = Netns::new();
    let held = ns.enter(|| {
        let l = tcp_listener(v4(127, 0, 0, 1, 0), 128, None);
        let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let (c, s) = tcp_pair(&l, addr, None);
        (l, c, s)
    });
    let count_estab = || {
        let out = run(&mut ns.sockq(["-tnH", "state", "established"]));
        String::from_utf8_lossy(&out.stdout).lines().count()
    };
    assert_eq!(count_estab(), 2, "fixture: two established ends");
    let bare = split(&run(&mut ns.sockq(["-K"])));
    assert_eq!(bare.0, 2, "bare -K: {bare:?}");
    assert!(bare.2.contains("refusing"), "{bare:?}");
    let comments = TempFile::new("cf-comments", b"# only a comment\n   # another\n\n");
    let cases: Vec<(String, Command)> = vec![
        (
            "-K -F /dev/null".into(),
            ns.sockq(["-K", "-F", "/dev/null"]),
        ),
        (
            "-K -F comments".into(),
            ns.sockq([
                OsStr::new("-K"),
                OsStr::new("-F"),
                comments.path().as_os_str(),
            ]),
        ),
        ("-K -F - </dev/null".into(), {
            let mut c = ns.sockq(["-K", "-F", "-"]);
            c.stdin(Stdio::null());
            c
        }),
    ];
    for (shown, mut cmd) in cases {
        let got = split(&run(&mut cmd));
        assert_eq!(got, bare, "{shown} must refuse as bare -K does");
    }
    assert_eq!(count_estab(), 2, "nothing was closed");
    drop(held);
}

/// Modes that cannot run together are usage errors, and `-D` does not
/// create (or truncate) its file on the way.
#[test]
fn conflicting_modes_are_usage_errors() {
    if subject_is_ss() {
        return;
    }
    let f = TempFile::new("cf-diag", b"keep me");
    let p = f.path().as_os_str().as_bytes();
    // Each `-K` case has a filter that matches nothing, should it ever run.
    let cases: &[&[&[u8]]] = &[
        &[b"-D", p, b"-E"],
        &[b"-D", p, b"-K", b"dport = :1"],
        &[b"-D", p, b"-s"],
        &[b"-D", p, b"--json"],
        &[b"-K", b"-s", b"dport = :1"],
        &[b"-s", b"-K", b"dport = :1"],
        &[b"-E", b"-s"],
        &[b"--json", b"--json-lines"],
        &[b"--json-lines", b"-j"],
    ];
    for args in cases {
        assert_usage(args, &["cannot be used with"]);
    }
    assert_eq!(
        std::fs::read(f.path()).unwrap_or_default(),
        b"keep me",
        "-D must not touch its file on a usage error"
    );
}

// ---- Usage errors ----

#[test]
fn ambiguous_long_option_names_its_candidates() {
    if subject_is_ss() {
        return;
    }
    assert_usage(
        &[b"--proc"],
        &["ambiguous", "--processes", "--process-info"],
    );
    assert_usage(&[b"--no"], &["ambiguous", "--no-header", "--no-queues"]);
}

#[test]
fn mistyped_flag_gets_did_you_mean() {
    if subject_is_ss() {
        return;
    }
    assert_usage(&[b"--numerc"], &["'--numerc'", "did you mean '--numeric'"]);
    assert_usage(&[b"--lisening"], &["did you mean '--listening'"]);
    // Nothing close: no suggestion.
    assert_usage(&[b"--zzzzzzzzzz"], &["'--zzzzzzzzzz'"]);
    let (_, _, err) = sockq_bytes(&[b"--zzzzzzzzzz"]);
    assert!(!err.contains("did you mean"), "{err}");
}

#[test]
fn query_with_a_bad_table_lists_the_valid_ones() {
    if subject_is_ss() {
        return;
    }
    assert_usage(
        &[b"-A", b"tcp,bogus"],
        &[
            "\"bogus\"",
            "tcp",
            "udp",
            "unix",
            "netlink",
            "packet",
            "u_str",
        ],
    );
}

/// `sport = ':80'` inside double quotes: the single quotes are part of the
/// value. The hint says so, instead of suggesting `src`/`dst`.
#[test]
fn quoted_port_gets_the_quote_hint() {
    if subject_is_ss() {
        return;
    }
    for expr in ["sport = ':80'", "dport = \":22\"", "src '127.0.0.1'"] {
        let (code, out, err) = sockq_bytes(&[b"-t", expr.as_bytes()]);
        assert_eq!(code, 2, "{expr}: {err}");
        assert!(out.is_empty());
        let first = err.lines().next().unwrap_or_default();
        assert!(first.contains("quotes"), "{expr}: {first}");
        assert!(!first.contains("dst"), "{expr}: wrong hint: {first}");
    }
}

// ---- Arguments that are not UTF-8 ----

/// A unix socket whose path is not UTF-8 matches as a filter value given
/// on the command line and through `-F`; sockq spells the byte `\xff` in
/// its output, and that spelling works as a value too.
#[test]
fn non_utf8_unix_path_works_as_a_filter_value() {
    if subject_is_ss() {
        return;
    }
    let dir = std::env::temp_dir();
    let mut name = format!("sockq-cf-{}-", std::process::id()).into_bytes();
    name.extend_from_slice(b"\xff\xfe.sock");
    let path = dir.join(OsStr::from_bytes(&name));
    let _ = std::fs::remove_file(&path);
    let listener =
        std::os::unix::net::UnixListener::bind(&path).unwrap_or_else(|e| panic!("bind: {e}"));
    let raw = path.as_os_str().as_bytes().to_vec();
    let mut expr = b"src ".to_vec();
    expr.extend_from_slice(&raw);
    // The temporary directory is ASCII: only the two bytes need escaping.
    let spelled = format!(
        "{}/sockq-cf-{}-\\xff\\xfe.sock",
        dir.display(),
        std::process::id()
    );
    let check = |shown: &str, (code, out, err): (i32, String, String)| {
        assert_eq!(code, 0, "{shown}: {err}");
        assert!(
            out.contains(&spelled),
            "{shown}: want a row for {spelled}, got {out:?} (stderr {err:?})"
        );
        assert_eq!(out.lines().count(), 1, "{shown}: one row: {out:?}");
    };
    check("command line", sockq_bytes(&[b"-xlH", &expr]));
    let file = TempFile::new("cf-filter", &expr);
    check(
        "-F",
        sockq_bytes(&[b"-xlH", b"-F", file.path().as_os_str().as_bytes()]),
    );
    let typed = format!("src {spelled}");
    check("\\xHH spelling", sockq_bytes(&[b"-xlH", typed.as_bytes()]));
    drop(listener);
    let _ = std::fs::remove_file(&path);
}

/// An option value that must be text names the option when it is not UTF-8.
#[test]
fn non_utf8_option_value_names_the_option() {
    if subject_is_ss() {
        return;
    }
    assert_usage(&[b"-f", b"inet\xff"], &["-f", "inet\\xff"]);
    assert_usage(&[b"--family=x\xff"], &["--family", "x\\xff"]);
    assert_usage(&[b"-A", b"tcp\xff"], &["-A", "tcp\\xff"]);
}

/// `-N PATH` takes a path that is not UTF-8 (a namespace file bind-mounted
/// there), and an error names it escaped.
#[test]
fn netns_path_that_is_not_utf8() {
    if subject_is_ss() || !root_or_skip("netns_path_that_is_not_utf8") {
        return;
    }
    let (code, _, err) = sockq_bytes(&[b"-N", b"/nonexistent/ns\xff", b"-t"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("/nonexistent/ns\\xff"), "{err}");
    let ns = Netns::new();
    let _held =
        ns.enter(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}")));
    let dir = std::env::temp_dir().join(format!("sockq-cf-nsfile-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let file = dir.join(OsStr::from_bytes(b"n\xff"));
    std::fs::write(&file, b"").unwrap_or_else(|e| panic!("{e}"));
    let src = std::path::Path::new("/var/run/netns").join(ns.name());
    let mounted = Command::new("mount")
        .arg("--bind")
        .arg(&src)
        .arg(&file)
        .status()
        .is_ok_and(|s| s.success());
    assert!(mounted, "bind-mounting {}", src.display());
    let mut path = b"".to_vec();
    path.extend_from_slice(file.as_os_str().as_bytes());
    let (code, out, err) = sockq_bytes(&[b"-N", &path, b"-tlnH"]);
    let _ = Command::new("umount").arg(&file).status();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.lines().count(),
        1,
        "the namespace's one listener: {out}"
    );
}

/// A usage error quotes what was typed through the terminal escaper: ESC is `\x1b`, never a
/// raw control byte (which would recolour or rewrite the user's terminal), in clap's errors,
/// sockq's own word lists and the filter's messages.
#[test]
fn usage_errors_escape_control_bytes_they_quote() {
    if subject_is_ss() {
        return;
    }
    let cases: [(&[&[u8]], &str); 13] = [
        (&[b"--bogus\x1b[31m"], "'--bogus\\x1b[31m'"),
        (&[b"--numerc\x1b"], "'--numerc\\x1b'"),
        (&[b"--proc\x1b"], "'--proc\\x1b'"),
        (&[b"--ext\x07ended"], "'--ext\\x07ended'"),
        (&[b"--\xff\x1b"], "'--\\xff\\x1b'"),
        (&[b"-tx\x1b"], "'-\\x1b'"),
        (&[b"--numeric=\x1bx"], "'\\x1bx'"),
        (&[b"--sort=a\rb"], "'a\\x0db'"),
        (&[b"-A", b"\x1b[31m"], "\"\\x1b[31m\""),
        (&[b"--family=in\x1bet"], "\"in\\x1bet\""),
        (&[b"state", b"x\x1by"], "\"x\\x1by\""),
        (&[b"-t", b"sport = :22\x1b"], "sport = :22\\x1b"),
        (&[b"-o", b"x\x1by"], "x\\x1by"),
    ];
    for (args, needle) in cases {
        let out = run(sockq().args(args.iter().map(|a| OsStr::from_bytes(a))));
        let err = String::from_utf8_lossy(&out.stderr);
        let raw = out
            .stderr
            .iter()
            .any(|&b| (b < 0x20 && b != b'\n') || b == 0x7f);
        assert!(
            out.status.code() == Some(2) && !raw && err.contains(needle),
            "{args:?}: want exit 2 and {needle:?}, no raw control byte; got {:?} {err:?}",
            out.status.code()
        );
    }
}
