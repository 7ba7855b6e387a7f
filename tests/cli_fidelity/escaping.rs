//! One escaping function per output: hostile names in every field.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

use super::split;
use crate::util::{Netns, root_or_skip, run, sockq, subject_is_ss};

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
        let _ = Command::new("kill")
            .arg(pid.to_string())
            .stderr(Stdio::null())
            .status();
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
            let _ = Command::new("kill")
                .arg(py_pid.to_string())
                .stderr(Stdio::null())
                .status();
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
        format!("process c\\x1b[1m\\u{{202e}}\\x0a  pid {pid}"),
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
            "logs: {}/{} (fd 2; append)",
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
