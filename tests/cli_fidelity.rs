//! The command line's rough edges (issue 14): `-K` with an empty `-F`,
//! conflicting modes, usage errors that help, arguments that are not UTF-8,
//! shell completions and the man page.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Output, Stdio};

use crate::util::{Netns, TempFile, root_or_skip, run, sockq, subject_is_ss};

/// (exit code, stdout, stderr) of sockq with raw byte arguments.
fn sockq_bytes(args: &[&[u8]]) -> (i32, String, String) {
    let out = run(sockq().args(args.iter().map(|a| OsStr::from_bytes(a))));
    split(&out)
}

fn split(out: &Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A usage error: exit 2, one line on stderr containing every needle, no stdout.
fn assert_usage(args: &[&[u8]], needles: &[&str]) {
    let shown: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let (code, out, err) = sockq_bytes(args);
    assert_eq!(code, 2, "{shown:?}: exit code (stderr {err:?})");
    assert!(out.is_empty(), "{shown:?}: stdout {out:?}");
    assert_eq!(err.lines().count(), 1, "{shown:?}: one line, got {err:?}");
    assert!(err.starts_with("sockq: "), "{shown:?}: {err:?}");
    for n in needles {
        assert!(err.contains(n), "{shown:?}: {err:?} should contain {n:?}");
    }
}

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
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let c = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
        let (s, _) = l.accept().unwrap_or_else(|e| panic!("{e}"));
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
    assert_usage(&[b"-N", b"ns\xff"], &["-N", "ns\\xff"]);
}

// ---- Completions and the man page ----

/// `sockq --generate WHAT` (must succeed).
fn generated(what: &str) -> String {
    let out = run(sockq().args(["--generate", what]));
    let (code, text, err) = split(&out);
    assert_eq!(code, 0, "--generate {what}: {err}");
    assert!(err.is_empty(), "--generate {what}: stderr {err:?}");
    text
}

/// The bash script in a real bash: `complete -p` names the function, and
/// calling it with COMP_WORDS set gives families for `-f`, table ids for
/// `-A` (in a comma list, with `!`), namespace names for `-N`, and state
/// names after `state`/`exclude`.
#[test]
fn bash_completion_offers_families_tables_namespaces_and_states() {
    if subject_is_ss() {
        return;
    }
    let script = TempFile::new("cf-bash", generated("bash").as_bytes());
    let ns = root_or_skip("bash_completion (the -N part)").then(Netns::new);
    let probe = format!(
        r#"source {script}
complete -p sockq
t() {{ COMP_WORDS=("$@"); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); COMPREPLY=(); _sockq; echo "$* => ${{COMPREPLY[*]}}"; }}
t sockq -f ''
t sockq -tf ine
t sockq -A tcp,u_
t sockq -A '!ne'
t sockq -N ''
t sockq state ''
t sockq -t exclude clo
t sockq --sort re
t sockq -t sp
t sockq --proc
"#,
        script = script.path().display()
    );
    let out = Command::new("bash")
        .arg("--norc")
        .arg("-c")
        .arg(&probe)
        .output()
        .unwrap_or_else(|e| panic!("bash: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply = |words: &str| -> Vec<String> {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{words} =>")))
            .unwrap_or_else(|| panic!("no line for {words:?} in {text}"));
        line.split_once("=>")
            .map(|(_, r)| r.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    };
    assert!(text.contains("complete -F _sockq sockq"), "{text}");
    assert_eq!(
        reply("sockq -f "),
        [
            "inet", "inet6", "link", "unix", "netlink", "vsock", "tipc", "xdp"
        ]
    );
    assert_eq!(reply("sockq -tf ine"), ["inet", "inet6"]);
    assert_eq!(
        reply("sockq -A tcp,u_"),
        ["tcp,u_str", "tcp,u_dgr", "tcp,u_seq"]
    );
    assert_eq!(reply("sockq -A !ne"), ["!netlink"]);
    let states = reply("sockq state ");
    for s in [
        "established",
        "listening",
        "bound-inactive",
        "connected",
        "bucket",
    ] {
        assert!(states.contains(&s.to_string()), "{s} in {states:?}");
    }
    assert_eq!(
        reply("sockq -t exclude clo"),
        ["closed", "close-wait", "closing", "close"]
    );
    assert_eq!(reply("sockq --sort re"), ["recv-q"]);
    assert_eq!(reply("sockq -t sp"), ["sport"]);
    assert_eq!(reply("sockq --proc"), ["--processes", "--process-info"]);
    if let Some(ns) = &ns {
        let names = reply("sockq -N ");
        assert!(
            names.contains(&ns.name().to_string()),
            "-N should offer {}: {names:?}",
            ns.name()
        );
        assert!(
            !names.iter().any(|n| n.contains('/')),
            "-N offers names, not files: {names:?}"
        );
    }
}

/// zsh and fish scripts carry the same candidates (neither shell is
/// installed here to run them).
#[test]
fn zsh_and_fish_completions_offer_the_candidates() {
    if subject_is_ss() {
        return;
    }
    let zsh = generated("zsh");
    for want in [
        ":FAMILY:(inet inet6 link unix netlink vsock tipc xdp)'",
        ":QUERY:_sockq_query'",
        ":NETNS:_sockq_netns'",
        ":_sockq_filter'",
        "/var/run/netns/*(N:t)",
        "compadd -- established syn-sent",
        "u_str",
    ] {
        assert!(zsh.contains(want), "zsh script lacks {want:?}");
    }
    assert!(!zsh.contains(":FAMILY:_default"), "zsh: -f completes files");
    let fish = generated("fish");
    let line = |flag: &str| {
        fish.lines()
            .find(|l| l.contains(flag))
            .unwrap_or_else(|| panic!("fish: no line for {flag}"))
            .to_string()
    };
    assert!(
        line("-s f -l family")
            .ends_with("-r -f -a \"inet inet6 link unix netlink vsock tipc xdp\""),
        "{}",
        line("-s f -l family")
    );
    assert!(line("-s A -l query").contains("(__sockq_query)"));
    assert!(line("-s N -l net ").contains("(__sockq_netns)"));
    assert!(fish.contains("-n __sockq_after_state -f -a \"established syn-sent"));
    assert!(fish.contains("for f in /var/run/netns/*"));
}

/// The man page rendered by groff: every section the issue asks for, the
/// filter language, state names and groups, arguments in SYNOPSIS, every
/// environment variable the code reads, and no "sockq - sockq:".
#[test]
fn man_page_renders_with_every_section() {
    if subject_is_ss() {
        return;
    }
    let page = TempFile::new("cf-man", generated("man").as_bytes());
    let out = match Command::new("groff")
        .args(["-man", "-Tutf8", "-P-cbou", "-ww"])
        .arg(page.path())
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none_or(|v| v != "true"),
                "groff is needed (groff-base): {e}"
            );
            println!("skipping man_page_renders_with_every_section: no groff ({e})");
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.is_empty(), "groff: {err}");
    // Lines of the section body, joined (groff fills and hyphenates).
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "FILTER",
        "STATES",
        "EXAMPLES",
        "EXIT STATUS",
        "ENVIRONMENT",
        "SEE ALSO",
    ] {
        assert!(
            text.lines().any(|l| l == section),
            "no {section} section in:\n{text}"
        );
    }
    assert!(!flat.contains("sockq - sockq"), "NAME repeats the name");
    assert!(flat.contains("sockq - investigate sockets"), "NAME");
    for synopsis in [
        "[-f FAMILY]",
        "[-A QUERY]",
        "[-N NETNS]",
        "[-D FILE]",
        "[--sort KEY]",
    ] {
        assert!(flat.contains(synopsis), "SYNOPSIS lacks {synopsis}");
    }
    for word in [
        "sport, dport",
        "src, dst",
        "autobound",
        "bound-inactive",
        "time-wait",
        "synchronized",
        "bucket",
        "sockq -tlnp",
        "ss(8)",
        "ip-netns(8)",
    ] {
        assert!(flat.contains(word), "man page lacks {word:?}");
    }
    // Every environment variable the sources read by name.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates");
    let mut vars = std::collections::BTreeSet::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                if !p.ends_with("bench") && !p.ends_with("tests") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") {
                let src = std::fs::read_to_string(&p).unwrap_or_default();
                for pat in ["env::var(\"", "env::var_os(\""] {
                    for (i, _) in src.match_indices(pat) {
                        let rest = &src[i + pat.len()..];
                        if let Some(end) = rest.find('"') {
                            vars.insert(rest[..end].to_string());
                        }
                    }
                }
            }
        }
    }
    assert!(vars.contains("PROC_ROOT"), "scan found {vars:?}");
    for v in vars
        .iter()
        .map(String::as_str)
        .chain(["PROC_NET_TCP", "COLUMNS"])
    {
        assert!(flat.contains(v), "ENVIRONMENT lacks {v}");
    }
}
