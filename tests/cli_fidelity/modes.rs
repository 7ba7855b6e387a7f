//! Output modes: JSON process fields, `-s --json`, `-K --dry-run`, `-D`.

use std::process::{Command, Stdio};

use super::split;
use crate::util::{
    Netns, TempFile, root_or_skip, run, sockq, subject_is_ss, tcp_listener, tcp_pair, v4,
};

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
        text.contains("(fd 1; append)") && text.contains("(fd 2; deleted)"),
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
        let l = tcp_listener(v4(127, 0, 0, 1, 0), 128, None);
        let addr = l.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let (c, s) = tcp_pair(&l, addr, None);
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
