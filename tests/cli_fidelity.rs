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

// ---- Escaping: one function per output, every field ----

/// Characters that must never reach a terminal or a JSON document raw:
/// ESC, C1 NEL, bidi override, line and paragraph separators, zero-width
/// space.
const RAW_FORBIDDEN: &[&str] = &[
    "\u{1b}", "\u{85}", "\u{202e}", "\u{2028}", "\u{2029}", "\u{200b}",
];

/// A file-name part with every kind of hostile character, valid UTF-8.
const FILE_H: &str = "h\u{1b}[31m\u{202e}\u{2028}\u{200b}\u{85}\"\\\n\t";
/// How the terminal spells [`FILE_H`] followed by the byte 0xff.
const FILE_H_TEXT: &str = "h\\x1b[31m\\u{202e}\\u{2028}\\u{200b}\\u{0085}\\\"\\\\\\x0a\\x09\\xff";

fn hostile_file_name(tag: &str) -> Vec<u8> {
    let mut v = format!("sockq-cf-{}-{tag}-", std::process::id()).into_bytes();
    v.extend_from_slice(FILE_H.as_bytes());
    v.push(0xff);
    v
}

fn text_spelling(tag: &str) -> String {
    format!("sockq-cf-{}-{tag}-{FILE_H_TEXT}", std::process::id())
}

/// Asserts `out` holds none of [`RAW_FORBIDDEN`] and no line but the
/// expected ones.
fn assert_no_raw(what: &str, out: &str) {
    for c in RAW_FORBIDDEN {
        assert!(!out.contains(c), "{what}: raw {c:?} in output:\n{out:?}");
    }
}

/// Removes a directory tree, a process, a cgroup, whatever happens.
struct Cleanup(Vec<Box<dyn FnMut()>>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        for f in self.0.iter_mut().rev() {
            f();
        }
    }
}

/// Every field that carries a string from the system, in text and JSON:
/// unix path, comm, cmdline, exe, cwd, stdout/stderr and log file paths
/// (`-P`), cgroup path (`-e`, `--cgroup`), interface name, and a `-r` host
/// name from /etc/hosts (bind-mounted in a private mount namespace).
/// The terminal spells each the same way (`\xNN` for control bytes and
/// bytes that are not UTF-8, `\u{NNNN}` for invisible and bidi
/// characters, `\"`, `\\`); JSON escapes them once (no terminal escapes
/// inside JSON strings) and never lets C1, U+2028/2029 or zero-width
/// characters through raw.
#[test]
fn hostile_names_are_escaped_the_same_way_in_every_field() {
    use std::os::unix::fs::OpenOptionsExt as _;
    if subject_is_ss() || !root_or_skip("hostile_names_are_escaped_the_same_way_in_every_field") {
        return;
    }
    let mut cleanup = Cleanup(Vec::new());
    let base = std::env::temp_dir().join(format!("sockq-cf-hostile-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).unwrap_or_else(|e| panic!("{e}"));
    {
        let b = base.clone();
        cleanup.0.push(Box::new(move || {
            let _ = std::fs::remove_dir_all(&b);
        }));
    }
    let at = |name: &[u8]| base.join(OsStr::from_bytes(name));

    // The unix socket, the working directory, the binary, the logs.
    let sock_path = at(&hostile_file_name("sock"));
    let listener =
        std::os::unix::net::UnixListener::bind(&sock_path).unwrap_or_else(|e| panic!("bind: {e}"));
    let client = std::os::unix::net::UnixStream::connect(&sock_path)
        .unwrap_or_else(|e| panic!("connect: {e}"));
    let (server, _) = listener.accept().unwrap_or_else(|e| panic!("accept: {e}"));
    let cwd = at(&hostile_file_name("cwd"));
    std::fs::create_dir(&cwd).unwrap_or_else(|e| panic!("{e}"));
    let exe_name: &[u8] = b"c\x1b[1m\xe2\x80\xae\n";
    let exe = cwd.join(OsStr::from_bytes(exe_name));
    std::fs::copy("/bin/cat", &exe).unwrap_or_else(|e| panic!("copy cat: {e}"));
    let log = at(&hostile_file_name("log"));
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o644)
        .open(&log)
        .unwrap_or_else(|e| panic!("{e}"));
    let arg = hostile_file_name("arg");
    // cat reads the socket (fd 0) until the test ends; the missing file
    // named by the hostile argument only adds a line to the log.
    let mut child = Command::new(&exe)
        .arg(OsStr::from_bytes(&arg))
        .arg("-")
        .current_dir(&cwd)
        .stdin(Stdio::from(std::os::fd::OwnedFd::from(server)))
        .stdout(Stdio::null())
        .stderr(Stdio::from(log_file))
        .spawn()
        .unwrap_or_else(|e| panic!("spawn cat: {e}"));
    let pid = child.id();
    cleanup.0.push(Box::new(move || {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }));

    // A TCP listener created inside a hostile cgroup (cgroup2).
    let cg_root = std::path::PathBuf::from("/sys/fs/cgroup/unified");
    let cg_root = if cg_root.join("cgroup.procs").exists() {
        cg_root
    } else {
        std::path::PathBuf::from("/sys/fs/cgroup")
    };
    // (The kernel refuses a newline in a cgroup name.)
    let cg_name = format!("g\u{1b}[1m\u{202e}\u{2029}\t-{}", std::process::id());
    let cg_text = format!(
        "/g\\x1b[1m\\u{{202e}}\\u{{2029}}\\x09-{}",
        std::process::id()
    );
    let cg = cg_root.join(&cg_name);
    std::fs::create_dir(&cg).unwrap_or_else(|e| panic!("mkdir {}: {e}", cg.display()));
    let mut py = Command::new("sh")
        .args([
            "-c",
            r#"echo $$ > "$CG/cgroup.procs" && exec /usr/bin/python3 -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.9", 0)); s.listen()
print(s.getsockname()[1], flush=True); sys.stdin.read()'"#,
        ])
        .env("CG", &cg)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python: {e}"));
    let py_pid = py.id();
    {
        let cg = cg.clone();
        cleanup.0.push(Box::new(move || {
            let _ = Command::new("kill").arg(py_pid.to_string()).status();
            std::thread::sleep(std::time::Duration::from_millis(100));
            let _ = std::fs::remove_dir(&cg);
        }));
    }
    let mut port = String::new();
    {
        use std::io::BufRead as _;
        let mut r = std::io::BufReader::new(py.stdout.take().unwrap_or_else(|| panic!("stdout")));
        r.read_line(&mut port).unwrap_or_else(|e| panic!("{e}"));
    }
    let port = port.trim().to_string();
    assert!(!port.is_empty(), "python listener printed no port");

    // -r: a host name with ESC and bidi characters, from /etc/hosts.
    let host_name = "evil\u{1b}[31m\u{202e}\u{2028}x";
    let host_text = "evil\\x1b[31m\\u{202e}\\u{2028}x";
    let hosts = base.join("hosts");
    std::fs::write(
        &hosts,
        format!("127.0.0.1 localhost\n127.0.0.9 {host_name}\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));

    let sockq_bin = crate::util::sockq_program();
    let sockq_at = |args: &[&OsStr]| -> (String, String) {
        let out = run(sockq().args(args));
        let (code, o, e) = split(&out);
        assert_eq!(code, 0, "sockq {args:?}: {e}");
        (o, e)
    };
    // The path has blanks, quotes and backslashes: a glob selects it here;
    // the printed spelling as a value is checked below.
    let src = format!(
        "src {}/sockq-cf-{}-sock-*",
        base.display(),
        std::process::id()
    );
    let src = OsStr::new(&src);

    // ---- text ----
    let (text, _) = sockq_at(&[OsStr::new("-xP"), src]);
    assert_no_raw("-xP", &text);
    for want in [
        text_spelling("sock"),
        format!("(\"c\\x1b[1m\\u{{202e}}\\x0a\",pid={pid},fd=0)"),
        format!("process c\\x1b[1m\\u{{202e}}\\x0a pid={pid}"),
        format!("cwd: {}/{}", base.display(), text_spelling("cwd")),
        format!(
            "exe: {}/{}/c\\x1b[1m\\u{{202e}}\\x0a",
            base.display(),
            text_spelling("cwd")
        ),
        format!(
            "cmd: {}/{}/c\\x1b[1m\\u{{202e}}\\x0a {} -",
            base.display(),
            text_spelling("cwd"),
            text_spelling("arg")
        ),
        format!("stderr: {}/{}", base.display(), text_spelling("log")),
        format!(
            "logs: {}/{} (fd 2, append)",
            base.display(),
            text_spelling("log")
        ),
    ] {
        assert!(text.contains(&want), "-xP text lacks {want:?}:\n{text}");
    }
    // What sockq prints is what its filter reads: the spelled path, pasted
    // back as a value, selects the same socket.
    let pasted = format!("src {}/{}", base.display(), text_spelling("sock"));
    let (again, _) = sockq_at(&[OsStr::new("-xP"), OsStr::new(&pasted)]);
    assert_eq!(again, text, "the printed spelling as a filter value");
    let filter = format!("sport = :{port}");
    for flag in ["-tle", "-tl --cgroup"] {
        let mut args: Vec<&OsStr> = flag.split(' ').map(OsStr::new).collect();
        args.push(OsStr::new(&filter));
        let (text, _) = sockq_at(&args);
        assert_no_raw(flag, &text);
        assert!(
            text.contains(&format!("cgroup:{cg_text}")),
            "{flag}: want cgroup:{cg_text} in {text}"
        );
    }
    // -r in a private mount namespace whose /etc/hosts names 127.0.0.9.
    let out = run(Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            r#"mount --bind "$H" /etc/hosts && exec "$S" "$@""#,
            "sh",
        ])
        .args(["-tlr", &filter])
        .env("H", &hosts)
        .env("S", &sockq_bin));
    let (code, rtext, rerr) = split(&out);
    assert_eq!(code, 0, "-r: {rerr}");
    assert_no_raw("-r", &rtext);
    assert!(
        rtext.contains(host_text),
        "-r: want {host_text:?} in {rtext:?}"
    );
    let out = run(Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            r#"mount --bind "$H" /etc/hosts && exec "$S" "$@""#,
            "sh",
        ])
        .args(["-tlr", "--json", &filter])
        .env("H", &hosts)
        .env("S", &sockq_bin));
    let (code, rjson, rerr) = split(&out);
    assert_eq!(code, 0, "-r --json: {rerr}");
    assert_no_raw("-r --json", &rjson);
    let v: serde_json::Value =
        serde_json::from_str(&rjson).unwrap_or_else(|e| panic!("{e}: {rjson}"));
    assert_eq!(v[0]["local"]["host"], host_name, "-r --json: {rjson}");

    // ---- JSON ----
    let (json, _) = sockq_at(&[OsStr::new("-xP"), OsStr::new("--json"), src]);
    assert_no_raw("-xP --json", &json);
    assert!(
        !json.contains("\\\\x1b"),
        "terminal escapes inside JSON: {json}"
    );
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let rows = v.as_array().cloned().unwrap_or_default();
    let want_path = format!(
        "{}/sockq-cf-{}-sock-{FILE_H}\u{fffd}",
        base.display(),
        std::process::id()
    );
    let row = rows
        .iter()
        .find(|r| {
            r["users"]
                .as_array()
                .is_some_and(|u| u.iter().any(|u| u["pid"] == pid))
        })
        .unwrap_or_else(|| panic!("no row owned by cat (pid {pid}): {json}"));
    assert_eq!(row["local"]["name"], want_path.as_str());
    assert_eq!(row["users"][0]["comm"], "c\u{1b}[1m\u{202e}\n");
    let p = &row["processes"][0];
    let cwd_want = format!(
        "{}/sockq-cf-{}-cwd-{FILE_H}\u{fffd}",
        base.display(),
        std::process::id()
    );
    assert_eq!(p["comm"], "c\u{1b}[1m\u{202e}\n");
    assert_eq!(p["cwd"], cwd_want.as_str());
    assert_eq!(
        p["exe"],
        format!("{cwd_want}/c\u{1b}[1m\u{202e}\n").as_str()
    );
    let log_want = format!(
        "{}/sockq-cf-{}-log-{FILE_H}\u{fffd}",
        base.display(),
        std::process::id()
    );
    assert_eq!(p["stderr"], log_want.as_str());
    assert_eq!(p["log_files"][0]["path"], log_want.as_str());
    assert_eq!(
        p["cmdline"][1],
        format!("sockq-cf-{}-arg-{FILE_H}\u{fffd}", std::process::id()).as_str()
    );
    let (json, _) = sockq_at(&[
        OsStr::new("-tle"),
        OsStr::new("--json"),
        OsStr::new(&filter),
    ]);
    assert_no_raw("-tle --json", &json);
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(v[0]["cgroup"], format!("/{cg_name}").as_str(), "{json}");

    drop((client, listener));
    let _ = child.kill();
    let _ = child.wait();
    let _ = py.kill();
    let _ = py.wait();
    drop(cleanup);
}

/// An interface name with ESC and bidi characters (lo renamed in a private
/// namespace, a UDP socket bound to it): escaped once in text, and in JSON
/// JSON-escaped only (not terminal-escaped first).
#[test]
fn hostile_interface_name_is_escaped_once() {
    if subject_is_ss() || !root_or_skip("hostile_interface_name_is_escaped_once") {
        return;
    }
    let ns = Netns::new();
    let name = "i\u{1b}[1m\u{202e}\u{200b}";
    let spelled = "i\\x1b[1m\\u{202e}\\u{200b}";
    ns.ip(&["link", "set", "lo", "down"]);
    ns.ip(&["link", "set", "lo", "name", name]);
    ns.ip(&["link", "set", name, "up"]);
    let mut py = ns
        .exec(
            "/usr/bin/python3",
            [
                "-c",
                "import os, socket, sys\n\
                 s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
                 s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, os.environ['IFN'].encode())\n\
                 s.bind(('127.0.0.1', 0))\n\
                 print(s.getsockname()[1], flush=True); sys.stdin.read()",
            ],
        )
        .env("IFN", name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("python: {e}"));
    let mut port = String::new();
    {
        use std::io::BufRead as _;
        let mut r = std::io::BufReader::new(py.stdout.take().unwrap_or_else(|| panic!("stdout")));
        r.read_line(&mut port).unwrap_or_else(|e| panic!("{e}"));
    }
    let filter = format!("sport = :{}", port.trim());
    let (code, text, err) = split(&run(&mut ns.sockq(["-uln", &filter])));
    assert_eq!(code, 0, "{err}");
    assert_no_raw("-uln", &text);
    assert!(
        text.contains(&format!("127.0.0.1%{spelled}:")),
        "want 127.0.0.1%{spelled}: in {text}"
    );
    let (code, json, err) = split(&run(&mut ns.sockq(["-uln", "--json", &filter])));
    assert_eq!(code, 0, "{err}");
    assert_no_raw("-uln --json", &json);
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(v[0]["local"]["interface"], name, "{json}");
    let _ = py.kill();
    let _ = py.wait();
}

// ---- Output modes ----

/// `/bin/cat` holding one end of a unix socket pair on fd 0, in `cwd`,
/// with stdout and stderr going to the given files. Killed on drop.
struct CatHolder {
    child: std::process::Child,
    _peer: std::os::unix::net::UnixStream,
}

impl CatHolder {
    fn spawn(cwd: &std::path::Path, stdout: std::fs::File, stderr: std::fs::File) -> CatHolder {
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap_or_else(|e| panic!("{e}"));
        let child = Command::new("/bin/cat")
            .current_dir(cwd)
            .stdin(Stdio::from(std::os::fd::OwnedFd::from(a)))
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn cat: {e}"));
        CatHolder { child, _peer: b }
    }
}

impl Drop for CatHolder {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// JSON `cwd` is the path without the kernel's ` (deleted)` suffix, with
/// `cwd_deleted`; `log_files` entries keep the `append` and `deleted`
/// flags the text shows.
#[test]
fn json_process_info_has_deleted_and_append_fields() {
    if subject_is_ss() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sockq-cf-cwd-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    let logs = std::env::temp_dir().join(format!("sockq-cf-logs-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&logs);
    std::fs::create_dir(&logs).unwrap_or_else(|e| panic!("{e}"));
    let appended = logs.join("appended.log");
    let removed = logs.join("removed.log");
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&appended)
        .unwrap_or_else(|e| panic!("{e}"));
    let err = std::fs::File::create(&removed).unwrap_or_else(|e| panic!("{e}"));
    let cat = CatHolder::spawn(&dir, out, err);
    std::fs::remove_file(&removed).unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_dir(&dir).unwrap_or_else(|e| panic!("{e}"));
    let pid = cat.child.id();
    let filter = format!("pid = {pid}");
    let (code, json, e) = split(&run(sockq().args(["-xaP", "--json", &filter])));
    assert_eq!(code, 0, "{e}");
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let p = v[0]["processes"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["pid"] == pid))
        .unwrap_or_else(|| panic!("no process {pid} in {json}"));
    assert_eq!(p["cwd"], dir.display().to_string().as_str(), "{json}");
    assert_eq!(p["cwd_deleted"], true, "{json}");
    let files = p["log_files"].as_array().cloned().unwrap_or_default();
    let find = |path: &std::path::Path| {
        files
            .iter()
            .find(|f| f["path"] == path.display().to_string().as_str())
            .cloned()
            .unwrap_or_else(|| panic!("no log file {} in {json}", path.display()))
    };
    let a = find(&appended);
    assert_eq!(
        (a["fd"].clone(), a["append"].clone(), a["deleted"].clone()),
        (1.into(), true.into(), false.into())
    );
    let r = find(&removed);
    assert_eq!(
        (r["fd"].clone(), r["append"].clone(), r["deleted"].clone()),
        (2.into(), false.into(), true.into())
    );
    // The text says the same.
    let (_, text, _) = split(&run(sockq().args(["-xaP", &filter])));
    let _ = std::fs::remove_dir_all(&logs);
    assert!(
        text.contains("(fd 1, append)") && text.contains("(fd 2, deleted)"),
        "{text}"
    );
    drop(cat);
}

/// `-s --json` is one JSON document, and so is `-s --json` with a table.
#[test]
fn summary_with_json_is_one_document() {
    if subject_is_ss() {
        return;
    }
    for args in [
        &["-s", "--json"][..],
        &["-s", "--json", "-t"][..],
        &["-s", "-tl", "--json"][..],
    ] {
        let (code, out, err) = split(&run(sockq().args(args)));
        assert_eq!(code, 0, "{args:?}: {err}");
        let mut docs = serde_json::Deserializer::from_str(&out).into_iter::<serde_json::Value>();
        let first = docs.next();
        assert!(matches!(first, Some(Ok(_))), "{args:?}: not JSON: {out}");
        assert!(
            docs.next().is_none(),
            "{args:?}: more than one JSON document: {out}"
        );
    }
    let (_, out, _) = split(&run(sockq().args(["-s", "--json", "-tl"])));
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    assert!(v["summary"]["total"].is_number(), "{out}");
    assert!(v["sockets"].is_array(), "{out}");
}

/// `-K --dry-run` says the sockets *would be closed*: an Action column in
/// the table, an `action` field in JSON, and a count on stderr; nothing is
/// closed.
#[test]
fn kill_dry_run_says_would_be_closed() {
    if subject_is_ss() || !root_or_skip("kill_dry_run_says_would_be_closed") {
        return;
    }
    let ns = Netns::new();
    let held = ns.enter(|| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let c = std::net::TcpStream::connect(addr).unwrap_or_else(|e| panic!("{e}"));
        let (s, _) = l.accept().unwrap_or_else(|e| panic!("{e}"));
        (l, c, s, addr.port())
    });
    let filter = format!("dport = :{}", held.3);
    let (code, text, err) = split(&run(&mut ns.sockq(["-K", "--dry-run", "-tn", &filter])));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "header and one row: {text}");
    assert!(lines[0].starts_with("Action "), "header: {text}");
    assert!(lines[1].starts_with("would-close "), "row: {text}");
    assert!(err.contains("would be closed"), "stderr: {err:?}");
    let (code, json, err) = split(&run(&mut ns.sockq([
        "-K",
        "--dry-run",
        "-tn",
        "--json",
        &filter,
    ])));
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value =
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    assert_eq!(v[0]["action"], "would-close", "{json}");
    // Still there: nothing was closed.
    let (_, still, _) = split(&run(&mut ns.sockq(["-tnH", &filter])));
    assert_eq!(still.lines().count(), 1, "{still}");
    drop(held);
}

/// `-D FILE` leaves an existing file alone when the dump fails (here: the
/// kernel refuses a fwmark filter to an unprivileged user), and names the
/// file when writing fails (/dev/full).
#[test]
fn diag_file_survives_a_failed_dump_and_errors_name_it() {
    if subject_is_ss() || !root_or_skip("diag_file_survives_a_failed_dump_and_errors_name_it") {
        return;
    }
    let f = TempFile::new("cf-dump", b"precious");
    let mut perms = std::fs::metadata(f.path())
        .unwrap_or_else(|e| panic!("{e}"))
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o666);
    std::fs::set_permissions(f.path(), perms).unwrap_or_else(|e| panic!("{e}"));
    let program = crate::util::shadow_copy();
    let out = crate::util::run_plain(
        Command::new("setpriv")
            .args(crate::util::setpriv_nobody())
            .arg(program)
            .arg("-D")
            .arg(f.path())
            .args(["-t", "fwmark = 1"]),
    );
    let (code, _, err) = split(&out);
    assert_eq!(code, 1, "an unprivileged fwmark dump fails: {err}");
    assert_eq!(
        std::fs::read(f.path()).unwrap_or_default(),
        b"precious",
        "-D truncated the file before failing ({err})"
    );
    // A full disk: one line naming the file.
    let ns = Netns::new();
    let held =
        ns.enter(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}")));
    let (code, _, err) = split(&run(&mut ns.sockq(["-D", "/dev/full", "-tl"])));
    assert_eq!(code, 1, "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("/dev/full"), "the error names the file: {err}");
    drop(held);
}
