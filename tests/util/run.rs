//! Starting sockq, ss and other programs with a timeout; skipping root-only tests; temp files.

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::*;

/// How long one run of sockq, ss or ip may take before it is killed and the test fails.
pub(crate) const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// How long [`Netns::wait_for`] polls before giving up.
pub(crate) const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Environment variable naming the program that plays sockq: unset means the built `sockq`,
/// `ss` means iproute2's ss (to prove the harness), anything else is a path.
pub(crate) const SUBJECT_VAR: &str = "SOCKQ_E2E_SUBJECT";

/// The program under test: the built sockq binary, or what `SOCKQ_E2E_SUBJECT` names.
pub(crate) fn sockq_program() -> OsString {
    match std::env::var_os(SUBJECT_VAR) {
        Some(p) if !p.is_empty() => p,
        _ => OsString::from(env!("CARGO_BIN_EXE_sockq")),
    }
}

/// True when the harness runs ss in place of sockq (`SOCKQ_E2E_SUBJECT=ss`).
pub(crate) fn subject_is_ss() -> bool {
    std::env::var_os(SUBJECT_VAR).is_some_and(|p| p == "ss")
}

/// The oracle: the installed iproute2 `ss`.
pub(crate) fn ss_program() -> OsString {
    OsString::from("ss")
}

/// A command for the program under test, with an environment that keeps its output compact.
pub(crate) fn sockq() -> Command {
    tool_command(sockq_program())
}

/// A command for the installed `ss`, with the same environment as [`sockq`].
pub(crate) fn ss() -> Command {
    tool_command(ss_program())
}

/// `COLUMNS` would switch HEAD-style tools (sockq) to the wide layout while ss 6.1 ignores it
/// when stdout is not a tty, so both run without it; `LC_ALL=C` keeps messages stable.
pub(crate) fn tool_command(program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_remove("COLUMNS").env("LC_ALL", "C");
    cmd
}

/// Runs `cmd` with no stdin, capturing stdout and stderr, and kills it after [`RUN_TIMEOUT`].
/// A sockq command (direct or through `ip netns exec`) is then run as `nobody` too, see
/// [`shadow_unprivileged`].
///
/// Panics if the program cannot be started or times out, or if the unprivileged run fails its
/// checks; the exit status is left to the caller.
pub(crate) fn run(cmd: &mut Command) -> Output {
    let out = run_plain(cmd);
    shadow_unprivileged(cmd, &out);
    out
}

/// [`run`] without the unprivileged shadow.
pub(crate) fn run_plain(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {shown}: {e}"));
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + RUN_TIMEOUT;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{shown} did not finish within {RUN_TIMEOUT:?} and was killed");
            }
            Err(e) => panic!("waiting for {shown}: {e}"),
        }
    };
    Output {
        status,
        stdout: join_drain(stdout),
        stderr: join_drain(stderr),
    }
}

/// Waits for `child` at most [`RUN_TIMEOUT`]; kills it and panics after that.
pub(crate) fn wait_bounded(
    child: &mut std::process::Child,
    what: &str,
) -> std::process::ExitStatus {
    let deadline = Instant::now() + RUN_TIMEOUT;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what} did not finish within {RUN_TIMEOUT:?} and was killed");
            }
        }
    }
}

/// Runs `cmd` with `input` on its stdin, capturing both streams, bounded by [`RUN_TIMEOUT`]
/// (no unprivileged shadow: the shadow runs with no stdin).
pub(crate) fn run_with_stdin(cmd: &mut Command, input: &[u8]) -> Output {
    use std::io::Write as _;
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let (out, err) = (drain(child.stdout.take()), drain(child.stderr.take()));
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(input);
    }
    let status = wait_bounded(&mut child, &what);
    Output {
        status,
        stdout: join_drain(out),
        stderr: join_drain(err),
    }
}

/// Reads a pipe to the end on its own thread, so a full pipe never blocks the child.
pub(crate) fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

pub(crate) fn join_drain(h: thread::JoinHandle<Vec<u8>>) -> Vec<u8> {
    h.join().unwrap_or_default()
}

/// Runs `cmd` like [`run`] and panics, showing both streams, unless it exits with status 0.
pub(crate) fn run_ok(cmd: &mut Command) -> Output {
    let shown = format!("{cmd:?}");
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{shown} failed with {}\n{}",
        out.status,
        show_output(&out)
    );
    out
}

/// Both streams of an output, labelled, for failure messages.
pub(crate) fn show_output(out: &Output) -> String {
    format!(
        "--- stdout ---\n{}--- stderr ---\n{}--------------",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The stdout of an output as text (lossy: the tools print ASCII here).
pub(crate) fn stdout_text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// True when the test may use root-only features (network namespaces).
///
/// Without root it prints `skipping <test>: needs root (network namespaces)` and returns false,
/// except under `CI=true`, where a skipped test would hide a failure, so it panics instead.
pub(crate) fn root_or_skip(test: &str) -> bool {
    if rustix::process::geteuid().is_root() {
        return true;
    }
    let reason = format!("skipping {test}: needs root (network namespaces)");
    if std::env::var_os("CI").is_some_and(|v| v == "true") {
        panic!("{reason}, and CI=true forbids skipping");
    }
    println!("{reason}");
    false
}

/// Splits a command line written in a test table into argv words (no quoting needed there).
pub(crate) fn words(line: &str) -> Vec<String> {
    line.split_whitespace().map(str::to_owned).collect()
}

/// A file in the temporary directory, removed on drop.
pub(crate) struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// Writes `bytes` to a new file whose name contains `tag`, the pid and a counter.
    pub(crate) fn new(tag: &str, bytes: &[u8]) -> TempFile {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("sockq-{tag}-{}-{n}", std::process::id()));
        std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        TempFile { path }
    }

    /// Where the file is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A directory in the temporary directory (name: `sockq-TAG-PID-N`), removed with its contents
/// on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    /// Creates the directory.
    pub(crate) fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("sockq-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("mkdir {}: {e}", p.display()));
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs a command that must succeed (bounded by [`RUN_TIMEOUT`], no unprivileged shadow) and
/// returns its stdout; panics with its status and stderr otherwise.
pub(crate) fn must(cmd: &mut Command) -> String {
    let shown = format!("{cmd:?}");
    let o = run_plain(cmd);
    assert!(
        o.status.success(),
        "{shown}: {}\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    stdout_text(&o)
}
