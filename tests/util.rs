//! Shared helpers for the end-to-end tests.
//!
//! * [`sockq`], [`ss`] and [`run`] start the two tools with a timeout.
//! * [`run`] also runs every sockq command again as `nobody` (the unprivileged shadow, see
//!   [`shadow_unprivileged`]) and fails the test unless that run ends cleanly.
//! * [`root_or_skip`] decides whether a root-only test runs.
//! * [`Netns`] is a private network namespace that is removed on drop, with [`Netns::exec`] to run
//!   a program inside it and [`Netns::enter`] to create sockets inside it.
//! * [`Mix`] is the known set of real sockets that the differential and filter tests compare on.
//! * [`parse_table`], [`parse_rows`] and [`compare_rows`] turn ss-style output into rows and
//!   compare two outputs with a readable diff.
//!
//! The harness proves itself against ss: with `SOCKQ_E2E_SUBJECT=ss` every "sockq" command runs
//! `ss` instead, so the comparisons must all pass (except the ones that check a documented
//! deviation from ss, which then skip).

#![allow(dead_code)] // Not every test module uses every helper.

use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;
use std::io::{Read, Write as _};
use std::net::{
    Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener, TcpStream, UdpSocket,
};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rustix::net::{AddressFamily, Protocol, SocketFlags, SocketType, ipproto, sockopt};

/// How long one run of sockq, ss or ip may take before it is killed and the test fails.
pub(crate) const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// How long [`Netns::wait_for`] polls before giving up.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(10);

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
fn tool_command(program: impl AsRef<OsStr>) -> Command {
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

/// Environment variable: `0` turns the unprivileged shadow of [`run`] off (ignored under
/// `CI=true`, where it always runs).
pub(crate) const UNPRIV_VAR: &str = "SOCKQ_TEST_UNPRIV";

/// The uid and gid of `nobody`, the unprivileged user.
const NOBODY: &str = "65534";

/// A copy of the binary that `nobody` can read and run, in its own 0755 directory (the target
/// directory may not be reachable for `nobody`), removed on drop.
pub(crate) struct PublicCopy {
    dir: PathBuf,
    bin: PathBuf,
}

impl PublicCopy {
    /// Copies [`sockq_program`] into `dir` (created 0755). Panics with the reason on failure.
    fn new_in(dir: PathBuf) -> PublicCopy {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = |p: &Path, m| {
            std::fs::set_permissions(p, std::fs::Permissions::from_mode(m))
                .unwrap_or_else(|e| panic!("chmod {m:o} {}: {e}", p.display()));
        };
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        mode(&dir, 0o755);
        let bin = dir.join("sockq");
        std::fs::copy(sockq_program(), &bin)
            .unwrap_or_else(|e| panic!("copy sockq to {}: {e}", bin.display()));
        mode(&bin, 0o755);
        PublicCopy { dir, bin }
    }

    /// A copy of its own for one test: `sockq-nobody-<pid>-<n>` in the temporary directory.
    pub(crate) fn new() -> PublicCopy {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        PublicCopy::new_in(
            std::env::temp_dir().join(format!("sockq-nobody-{}-{n}", std::process::id())),
        )
    }

    /// The copied binary.
    pub(crate) fn bin(&self) -> &Path {
        &self.bin
    }
}

impl Drop for PublicCopy {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The copy the shadow runs, shared by the whole test process: `sockq-shadow-<pid>` in the
/// temporary directory. A static is never dropped, so copies left by test processes that have
/// ended are removed when the next one makes its own.
fn shadow_copy() -> &'static Path {
    static COPY: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    COPY.get_or_init(|| {
        let tmp = std::env::temp_dir();
        if let Ok(entries) = std::fs::read_dir(&tmp) {
            for e in entries.flatten() {
                let name = e.file_name();
                let pid = name.to_str().and_then(|n| n.strip_prefix("sockq-shadow-"));
                let alive = |p: &str| Path::new("/proc").join(p).exists();
                if pid.is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()) && !alive(p)) {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
        let copy = PublicCopy::new_in(tmp.join(format!("sockq-shadow-{}", std::process::id())));
        let bin = copy.bin.clone();
        std::mem::forget(copy); // kept for the whole process, see above
        bin
    })
}

/// `setpriv` arguments that run the rest as `nobody` with no capabilities and no groups.
pub(crate) fn setpriv_nobody() -> [&'static str; 4] {
    [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        "--inh-caps=-all",
    ]
}

/// One sockq command the shadow ran as `nobody`: argv, environment changes and namespace.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ShadowRecord {
    /// The `ip netns` name the command ran in, if it ran through `ip netns exec`.
    pub(crate) netns: Option<String>,
    /// sockq's arguments (without the program).
    pub(crate) args: Vec<OsString>,
    /// The environment changes of the command (None: removed).
    pub(crate) envs: Vec<(OsString, Option<OsString>)>,
    /// The working directory, if the command set one (relative paths in
    /// the arguments depend on it).
    pub(crate) dir: Option<PathBuf>,
    /// The exit code as `nobody` (None: killed by a signal).
    pub(crate) code: Option<i32>,
}

/// Every command the shadow ran, in order (for the summary in `tests/privilege.rs` and for
/// skipping exact repeats).
pub(crate) static SHADOWED: std::sync::Mutex<Vec<ShadowRecord>> = std::sync::Mutex::new(Vec::new());

/// The shadowed commands so far (a copy of [`SHADOWED`]).
pub(crate) fn shadowed() -> Vec<ShadowRecord> {
    SHADOWED.lock().map(|v| v.clone()).unwrap_or_default()
}

/// `Some((namespace, args))` when `cmd` runs sockq: the program itself, or `ip netns exec NAME`
/// with sockq as the program. `setpriv` and every other program give None.
fn sockq_invocation(cmd: &Command) -> Option<(Option<String>, Vec<OsString>)> {
    let subject = sockq_program();
    let args: Vec<&OsStr> = cmd.get_args().collect();
    if cmd.get_program() == subject {
        return Some((None, args.iter().map(|a| a.to_os_string()).collect()));
    }
    match args.as_slice() {
        [netns, exec, name, program, rest @ ..]
            if cmd.get_program() == "ip"
                && *netns == "netns"
                && *exec == "exec"
                && *program == subject =>
        {
            Some((
                Some(name.to_string_lossy().into_owned()),
                rest.iter().map(|a| a.to_os_string()).collect(),
            ))
        }
        _ => None,
    }
}

/// Whether the shadow runs here: as root, for sockq (not ss), unless `SOCKQ_TEST_UNPRIV=0`
/// outside CI. Not root under `CI=true` panics: CI must not skip it.
fn shadow_enabled() -> bool {
    let ci = std::env::var_os("CI").is_some_and(|v| v == "true");
    if subject_is_ss() || (!ci && std::env::var_os(UNPRIV_VAR).is_some_and(|v| v == "0")) {
        return false;
    }
    if rustix::process::geteuid().is_root() {
        return true;
    }
    assert!(
        !ci,
        "the unprivileged shadow of every sockq run needs root, and CI=true forbids skipping"
    );
    false
}

/// The unprivileged shadow: when `cmd` ran sockq (see [`run`]), runs the same arguments, with
/// the same environment changes, working directory and namespace entry, as `nobody` through
/// `setpriv`, using a copy of the binary `nobody` can execute. Exact repeats (same namespace,
/// arguments and environment) run once.
///
/// Panics unless the unprivileged run passes [`unprivileged_problems`]: no crash, an exit code
/// of 0, 1 or 2, only `sockq: ` lines on stderr, and well-formed output when it exits 0.
pub(crate) fn shadow_unprivileged(cmd: &Command, original: &Output) {
    let Some((netns, args)) = sockq_invocation(cmd) else {
        return;
    };
    if !shadow_enabled() {
        return;
    }
    let envs: Vec<(OsString, Option<OsString>)> = cmd
        .get_envs()
        .map(|(k, v)| (k.to_os_string(), v.map(OsStr::to_os_string)))
        .collect();
    let mut record = ShadowRecord {
        netns,
        args,
        envs,
        dir: cmd.get_current_dir().map(Path::to_path_buf),
        code: None,
    };
    {
        let Ok(seen) = SHADOWED.lock() else { return };
        let same = |r: &&ShadowRecord| {
            r.netns == record.netns
                && r.args == record.args
                && r.envs == record.envs
                && r.dir == record.dir
        };
        if seen.iter().any(|r| same(&r)) {
            return;
        }
    }
    let mut argv: Vec<OsString> = Vec::new();
    let program = match &record.netns {
        Some(name) => {
            argv.extend(["netns", "exec", name.as_str(), "setpriv"].map(OsString::from));
            "ip"
        }
        None => "setpriv",
    };
    argv.extend(setpriv_nobody().map(OsString::from));
    argv.push(shadow_copy().as_os_str().to_owned());
    argv.extend(record.args.iter().cloned());
    let mut shadow = Command::new(program);
    shadow.args(&argv);
    for (k, v) in &record.envs {
        match v {
            Some(v) => shadow.env(k, v),
            None => shadow.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        shadow.current_dir(dir);
    }
    let out = run_plain(&mut shadow);
    record.code = out.status.code();
    let mut problems = unprivileged_problems(&out, original);
    if kills(&record.args) && out.status.success() && stdout_has_rows(&out.stdout) {
        problems.push("-K reported killed sockets with status 0, as nobody".to_owned());
    }
    if let Ok(mut seen) = SHADOWED.lock() {
        seen.push(record);
    }
    assert!(
        problems.is_empty(),
        "run as nobody (UID {NOBODY}), {shown:?} went wrong: {}\n{}\n(as root it exited {})",
        problems.join("; "),
        show_output(&out),
        original.status,
        shown = shadow,
    );
}

/// True when `args` ask sockq to kill sockets (`-K`/`--kill`, not `--dry-run`).
fn kills(args: &[OsString]) -> bool {
    let flag = |a: &OsString| {
        let a = a.to_string_lossy();
        a == "--kill" || (a.starts_with('-') && !a.starts_with("--") && a.contains('K'))
    };
    args.iter().any(flag) && !args.iter().any(|a| a == "--dry-run")
}

/// True when stdout has a line that is not the header.
fn stdout_has_rows(stdout: &[u8]) -> bool {
    String::from_utf8_lossy(stdout)
        .lines()
        .any(|l| !l.trim().is_empty() && !l.contains("Recv-Q"))
}

/// What is wrong with an unprivileged run of sockq (`out`), given the privileged run of the
/// same command (`original`). Empty when it is fine.
///
/// * it ended by itself (no signal), with status 0, 1 or 2 (101 would be a panic);
/// * stderr has no panic text, and each line is a one-line `sockq: ...` message, or (with
///   status 2) a filter error's echo of the expression and its `^^^` marker line;
/// * with status 0, stdout has the form the privileged run's had: one JSON document, one JSON
///   object per line, or a table with the same header columns.
pub(crate) fn unprivileged_problems(out: &Output, original: &Output) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(code) = out.status.code() else {
        return vec![format!("killed by a signal ({})", out.status)];
    };
    if !(0..=2).contains(&code) {
        problems.push(format!("exit status {code}, not 0, 1 or 2"));
    }
    let err = String::from_utf8_lossy(&out.stderr);
    if err.contains("panicked") || err.contains("RUST_BACKTRACE") {
        problems.push("a panic on stderr".to_owned());
    }
    let lines: Vec<&str> = err.lines().collect();
    let caret = |l: &str| l.contains('^') && l.chars().all(|c| c == ' ' || c == '^');
    let mut i = 0;
    while let Some(line) = lines.get(i) {
        if line.starts_with("sockq: ") {
            i += 1;
        } else if code == 2 && lines.get(i + 1).is_some_and(|l| caret(l)) {
            i += 2; // a filter error: the expression and its marker
        } else {
            problems.push(format!("stderr line {line:?} is not a `sockq: ` message"));
            break;
        }
    }
    // What root could do, nobody may fail at only for want of privilege,
    // and must say so (not, say, fail a plain dump).
    const PRIVILEGE: [&str; 5] = [
        "ermission denied",
        "not permitted",
        "CAP_NET_ADMIN",
        "run as root",
        "EPERM",
    ];
    if code == 1 && original.status.success() && !PRIVILEGE.iter().any(|w| err.contains(w)) {
        problems.push(format!(
            "exit 1 where root exited 0, without a permission message: {}",
            err.trim_end()
        ));
    }
    if code == 0 && original.status.success() {
        let (ours, theirs) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&original.stdout),
        );
        let json_doc = |t: &str| serde_json::from_str::<serde_json::Value>(t).is_ok();
        let json_lines = |t: &str| {
            t.lines().next().is_some()
                && t.lines()
                    .all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok())
        };
        if json_doc(&theirs) {
            if !json_doc(&ours) {
                problems.push("stdout is not one JSON document (as root it was)".to_owned());
            }
        } else if json_lines(&theirs) {
            if !json_lines(&ours) && !ours.is_empty() {
                problems.push("stdout is not one JSON object per line (as root it was)".into());
            }
        } else if let Ok(t) = try_parse_table(&theirs) {
            match try_parse_table(&ours) {
                Ok(o) if o.has_netid == t.has_netid && o.has_state == t.has_state => {}
                Ok(_) => problems.push("the table has other columns than as root".to_owned()),
                Err(e) => problems.push(format!("stdout is not a table: {e}")),
            }
        }
    }
    problems
}

/// Reads a pipe to the end on its own thread, so a full pipe never blocks the child.
fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

fn join_drain(h: thread::JoinHandle<Vec<u8>>) -> Vec<u8> {
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

static NETNS_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A private network namespace `sockq-<pid>-<n>` with `lo` up, deleted on drop (even on panic).
///
/// Sockets created inside it (through [`Netns::enter`]) keep the namespace alive after its name
/// is deleted, so dropping the `Netns` before the sockets is harmless.
pub(crate) struct Netns {
    name: String,
}

impl Netns {
    /// Creates the namespace and brings its loopback up. Panics if `ip` fails.
    pub(crate) fn new() -> Netns {
        let n = NETNS_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("sockq-{}-{n}", std::process::id());
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        // From here on Drop removes it, even if bringing lo up fails.
        let ns = Netns { name };
        run_ok(Command::new("ip").args(["-n", &ns.name, "link", "set", "lo", "up"]));
        ns
    }

    /// The namespace's name, as `ip netns` knows it.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// `ip netns exec NAME program args...`, with the tool environment of [`sockq`].
    pub(crate) fn exec<S: AsRef<OsStr>>(
        &self,
        program: impl AsRef<OsStr>,
        args: impl IntoIterator<Item = S>,
    ) -> Command {
        let mut cmd = tool_command("ip");
        cmd.args(["netns", "exec", &self.name])
            .arg(program)
            .args(args);
        cmd
    }

    /// The program under test run inside the namespace.
    pub(crate) fn sockq<S: AsRef<OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Command {
        self.exec(sockq_program(), args)
    }

    /// The installed ss run inside the namespace.
    pub(crate) fn ss<S: AsRef<OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Command {
        self.exec(ss_program(), args)
    }

    /// `ip -n NAME args...`, which must succeed (addresses, links).
    pub(crate) fn ip(&self, args: &[&str]) {
        run_ok(Command::new("ip").args(["-n", &self.name]).args(args));
    }

    /// Runs `f` on a thread that has joined this namespace, and returns its result.
    ///
    /// Sockets created by `f` belong to this namespace for their whole life, so return them to
    /// keep them open. Panics (with the reason) if the namespace cannot be joined.
    pub(crate) fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = Path::new("/var/run/netns").join(&self.name);
        thread::scope(|s| {
            let handle = s.spawn(|| {
                let file = std::fs::File::open(&path)
                    .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
                rustix::thread::move_into_link_name_space(
                    file.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .unwrap_or_else(|e| panic!("setns {}: {e}", path.display()));
                f()
            });
            match handle.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// Polls `ss ARGS` (the oracle) in this namespace until `ready` accepts its rows.
    ///
    /// Socket states on loopback settle within milliseconds; this makes the fixture wait for
    /// them instead of sleeping. Panics with the last output after a few seconds.
    pub(crate) fn wait_for(&self, args: &str, what: &str, ready: impl Fn(&[Row]) -> bool) {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let out = run_ok(&mut self.ss(words(args)));
            let table = parse_table(&stdout_text(&out));
            if ready(&table.rows) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "fixture never reached: {what} (ss {args})\n{}",
                show_output(&out)
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Never panic in drop (it may run during a panic); report a leak instead.
        let deleted = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .stdin(Stdio::null())
            .status();
        if !deleted.is_ok_and(|s| s.success()) {
            eprintln!("warning: could not delete network namespace {}", self.name);
        }
    }
}

/// Sockets that must stay open for the length of a test.
#[derive(Default)]
pub(crate) struct Held {
    fds: Vec<OwnedFd>,
}

impl Held {
    /// Keeps `sock` open until the `Held` is dropped.
    pub(crate) fn keep(&mut self, sock: impl Into<OwnedFd>) {
        self.fds.push(sock.into());
    }

    /// How many sockets are held.
    pub(crate) fn len(&self) -> usize {
        self.fds.len()
    }
}

/// A close-on-exec socket of `family`/`kind`/`proto`, panicking with the reason on failure.
/// (Close-on-exec, so the tools started by the tests never inherit the fixture's sockets.)
fn new_socket(family: AddressFamily, kind: SocketType, proto: Option<Protocol>) -> OwnedFd {
    rustix::net::socket_with(family, kind, SocketFlags::CLOEXEC, proto)
        .unwrap_or_else(|e| panic!("socket({family:?}, {kind:?}, {proto:?}): {e}"))
}

fn family_of(addr: &SocketAddr) -> AddressFamily {
    if addr.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    }
}

/// A TCP listener on `addr` with the given backlog; for an IPv6 address, `v6only` sets
/// IPV6_V6ONLY before bind (None keeps the kernel default, which is dual-stack for `::`).
pub(crate) fn tcp_listener(addr: SocketAddr, backlog: i32, v6only: Option<bool>) -> TcpListener {
    let fd = new_socket(family_of(&addr), SocketType::STREAM, None);
    if let (Some(only), SocketAddr::V6(_)) = (v6only, addr) {
        sockopt::set_ipv6_v6only(&fd, only).unwrap_or_else(|e| panic!("IPV6_V6ONLY: {e}"));
    }
    rustix::net::bind(&fd, &addr).unwrap_or_else(|e| panic!("bind tcp {addr}: {e}"));
    rustix::net::listen(&fd, backlog).unwrap_or_else(|e| panic!("listen {addr}: {e}"));
    TcpListener::from(fd)
}

/// A UDP socket bound to `addr` (with IPV6_V6ONLY set first when `v6only` says so), connected
/// to `peer` when given.
pub(crate) fn udp_socket(
    addr: SocketAddr,
    v6only: Option<bool>,
    peer: Option<SocketAddr>,
) -> UdpSocket {
    let fd = new_socket(family_of(&addr), SocketType::DGRAM, None);
    if let (Some(only), SocketAddr::V6(_)) = (v6only, addr) {
        sockopt::set_ipv6_v6only(&fd, only).unwrap_or_else(|e| panic!("IPV6_V6ONLY: {e}"));
    }
    rustix::net::bind(&fd, &addr).unwrap_or_else(|e| panic!("bind udp {addr}: {e}"));
    let sock = UdpSocket::from(fd);
    if let Some(peer) = peer {
        sock.connect(peer)
            .unwrap_or_else(|e| panic!("connect udp {addr} -> {peer}: {e}"));
    }
    sock
}

/// A raw socket (`SOCK_RAW`) of the given family and protocol, e.g. ICMP.
pub(crate) fn raw_socket(family: AddressFamily, proto: Protocol) -> OwnedFd {
    new_socket(family, SocketType::RAW, Some(proto))
}

/// Connects a client to `to` (bound first to `from` when given) and accepts it on `listener`.
/// Returns (client, accepted server side).
pub(crate) fn tcp_pair(
    listener: &TcpListener,
    to: SocketAddr,
    from: Option<SocketAddr>,
) -> (TcpStream, TcpStream) {
    let client = match from {
        None => TcpStream::connect(to).unwrap_or_else(|e| panic!("connect {to}: {e}")),
        Some(from) => {
            let fd = new_socket(family_of(&from), SocketType::STREAM, None);
            rustix::net::bind(&fd, &from).unwrap_or_else(|e| panic!("bind {from}: {e}"));
            rustix::net::connect(&fd, &to)
                .unwrap_or_else(|e| panic!("connect {from} -> {to}: {e}"));
            TcpStream::from(fd)
        }
    };
    let (server, _) = listener
        .accept()
        .unwrap_or_else(|e| panic!("accept on {to}: {e}"));
    (client, server)
}

/// A half-closed pair: the client shut down its write side and the server has read the FIN.
/// The client is then in FIN-WAIT-2 and the server in CLOSE-WAIT.
pub(crate) fn half_closed_pair(listener: &TcpListener, to: SocketAddr) -> (TcpStream, TcpStream) {
    let (client, mut server) = tcp_pair(listener, to, None);
    client
        .shutdown(std::net::Shutdown::Write)
        .unwrap_or_else(|e| panic!("shutdown: {e}"));
    read_to_eof(&mut server);
    (client, server)
}

/// Leaves a client socket in TIME-WAIT: the client closes first (active close), the server reads
/// the FIN and closes too. Both descriptors are gone afterwards; the kernel keeps the TIME-WAIT
/// socket for 60 s.
pub(crate) fn time_wait(listener: &TcpListener, to: SocketAddr) {
    let (client, mut server) = tcp_pair(listener, to, None);
    drop(client);
    read_to_eof(&mut server);
    drop(server);
}

fn read_to_eof(stream: &mut TcpStream) {
    let mut buf = [0u8; 64];
    stream
        .set_read_timeout(Some(SETTLE_TIMEOUT))
        .unwrap_or_else(|e| panic!("timeout: {e}"));
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => panic!("waiting for FIN: {e}"),
        }
    }
}

/// Starts a non-blocking connect to `to` and returns the socket while it is still connecting.
/// Against a listener whose accept queue is full, the SYN is dropped and it stays in SYN-SENT.
pub(crate) fn connecting_client(to: SocketAddr) -> OwnedFd {
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let fd = rustix::net::socket_with(family_of(&to), SocketType::STREAM, flags, None)
        .unwrap_or_else(|e| panic!("socket: {e}"));
    match rustix::net::connect(&fd, &to) {
        Err(rustix::io::Errno::INPROGRESS) => fd,
        Ok(()) => panic!("connect to {to} completed at once; expected it to hang"),
        Err(e) => panic!("non-blocking connect to {to}: {e}"),
    }
}

fn v4(a: u8, b: u8, c: u8, d: u8, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(a, b, c, d), port))
}

fn v6(ip: Ipv6Addr, port: u16, scope: u32) -> SocketAddr {
    SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope))
}

/// The known socket set of the differential and filter tests. Ports are fixed: the namespace is
/// private, so nothing else can hold them, and filter expressions can name them.
///
/// | what | local | notes |
/// |---|---|---|
/// | TCP listener | 127.0.0.2:5000 | backlog 128; peers below |
/// | TCP listener | 127.0.0.3:80 | service name `http` |
/// | TCP listener | 127.0.0.1:8080 | `http-alt`; a TIME-WAIT client came from it |
/// | TCP listener | [::]:5001 | IPV6_V6ONLY, printed `[::]` |
/// | TCP listener | [::]:5002 | dual-stack, printed `*`; one v4-mapped peer |
/// | TCP listener | [::1]:5003 | a v6 peer and a v6 TIME-WAIT client |
/// | TCP listener | [fe80::1]%lo:7003 | link-local, so `idiag_if` = lo |
/// | TCP listener | 127.0.0.5:5004 | backlog 1: 2 unaccepted peers (full queue), 1 SYN-SENT |
/// | TCP pair | eph -> 127.0.0.2:5000 | server never reads 100 bytes (Recv-Q 100) |
/// | TCP pair | 127.0.0.4:7000 -> 127.0.0.2:5000 | client bound to a fixed port |
/// | TCP pair | eph -> 127.0.0.3:80 | |
/// | TCP pair | eph -> [::1]:5003 | |
/// | TCP pair | 127.0.0.1:eph -> [::]:5002 | server side is `[::ffff:127.0.0.1]:5002` |
/// | TCP half-closed | eph -> 127.0.0.2:5000 | client FIN-WAIT-2, server CLOSE-WAIT |
/// | TCP TIME-WAIT | eph -> 127.0.0.1:8080, eph -> [::1]:5003 | |
/// | UDP | 127.0.0.2:5353 | unconnected (`mdns`), one unread datagram queued |
/// | UDP | 127.0.0.3:53 | unconnected (`domain`) |
/// | UDP | [::]:5355 dual-stack, [::]:5356 v6only | unconnected |
/// | UDP | 127.0.0.2:6000 <-> 127.0.0.3:6001 | connected both ways |
/// | UDP | [::1]:6002 <-> [::1]:6003 | connected both ways |
/// | UDP | [fe80::1]%lo:7004 | link-local |
/// | UDP | 127.0.0.1:eph | the unconnected sender of the queued datagram |
/// | raw | ICMP (v4), ICMPv6 (v6) | |
/// | unix | abstract stream listener | to check that non-inet rows are kept apart |
pub(crate) struct Mix {
    /// Every socket of the mix, open until the mix is dropped.
    pub(crate) held: Held,
}

/// The full-accept-queue listener of [`Mix`]: 127.0.0.5:5004 with backlog 1.
pub(crate) const FULL_QUEUE_ADDR: &str = "127.0.0.5:5004";

impl Mix {
    /// Builds the mix inside `ns` and waits until every socket reached its state.
    pub(crate) fn build(ns: &Netns) -> Mix {
        ns.ip(&["addr", "add", "fe80::1/64", "dev", "lo", "nodad"]);
        // The SYN-SENT client would give up after ~127 s (6 retries); 10 keep it for ~35 min,
        // longer than any test run. The sysctl is per namespace.
        run_ok(&mut ns.exec("sh", ["-c", "echo 10 > /proc/sys/net/ipv4/tcp_syn_retries"]));
        let lo_index = 1; // lo is always ifindex 1 in a new namespace.
        let full_queue: SocketAddr = v4(127, 0, 0, 5, 5004);
        let (mut held, full) = ns.enter(|| {
            let mut held = Held::default();
            let a = v4(127, 0, 0, 2, 5000);
            let http = v4(127, 0, 0, 3, 80);
            let alt = v4(127, 0, 0, 1, 8080);
            let dual = v6(Ipv6Addr::UNSPECIFIED, 5002, 0);
            let v6one = v6(Ipv6Addr::LOCALHOST, 5003, 0);
            let link_local = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);

            let la = tcp_listener(a, 128, None);
            let lhttp = tcp_listener(http, 128, None);
            let lalt = tcp_listener(alt, 128, None);
            let lonly = tcp_listener(v6(Ipv6Addr::UNSPECIFIED, 5001, 0), 128, Some(true));
            let ldual = tcp_listener(dual, 128, Some(false));
            let lv6 = tcp_listener(v6one, 128, None);
            let lll = tcp_listener(v6(link_local, 7003, lo_index), 128, None);
            let full = tcp_listener(full_queue, 1, None);

            let (mut c, s) = tcp_pair(&la, a, None);
            c.write_all(&[7u8; 100])
                .unwrap_or_else(|e| panic!("write: {e}"));
            held.keep(c);
            held.keep(s);
            for (l, to, from) in [
                (&la, a, Some(v4(127, 0, 0, 4, 7000))),
                (&lhttp, http, None),
                (&lv6, v6one, None),
                (&ldual, v4(127, 0, 0, 1, 5002), None),
            ] {
                let (c, s) = tcp_pair(l, to, from);
                held.keep(c);
                held.keep(s);
            }
            let (c, s) = half_closed_pair(&la, a);
            held.keep(c);
            held.keep(s);
            time_wait(&lalt, alt);
            time_wait(&lv6, v6one);
            for l in [la, lhttp, lalt, lonly, ldual, lv6, lll] {
                held.keep(l);
            }
            held.keep(TcpStream::connect(full_queue).unwrap_or_else(|e| panic!("connect: {e}")));

            let mdns = udp_socket(v4(127, 0, 0, 2, 5353), None, None);
            let sender = udp_socket(v4(127, 0, 0, 1, 0), None, None);
            sender
                .send_to(b"hello", v4(127, 0, 0, 2, 5353))
                .unwrap_or_else(|e| panic!("{e}"));
            held.keep(mdns);
            held.keep(sender);
            held.keep(udp_socket(v4(127, 0, 0, 3, 53), None, None));
            held.keep(udp_socket(
                v6(Ipv6Addr::UNSPECIFIED, 5355, 0),
                Some(false),
                None,
            ));
            held.keep(udp_socket(
                v6(Ipv6Addr::UNSPECIFIED, 5356, 0),
                Some(true),
                None,
            ));
            let (u1, u2) = (v4(127, 0, 0, 2, 6000), v4(127, 0, 0, 3, 6001));
            held.keep(udp_socket(u1, None, Some(u2)));
            held.keep(udp_socket(u2, None, Some(u1)));
            let (u3, u4) = (
                v6(Ipv6Addr::LOCALHOST, 6002, 0),
                v6(Ipv6Addr::LOCALHOST, 6003, 0),
            );
            held.keep(udp_socket(u3, None, Some(u4)));
            held.keep(udp_socket(u4, None, Some(u3)));
            held.keep(udp_socket(v6(link_local, 7004, lo_index), None, None));

            held.keep(raw_socket(AddressFamily::INET, ipproto::ICMP));
            held.keep(raw_socket(AddressFamily::INET6, ipproto::ICMPV6));

            let name = format!("sockq-e2e-{}", std::process::id());
            held.keep(unix_abstract_listener(&name));
            (held, full)
        });

        // The second queued client may only connect once the first is in the accept queue:
        // the queue holds backlog + 1 = 2, and a SYN arriving while the second handshake is
        // still pending would slip in.
        ns.wait_for("-tln", "1 connection in the accept queue", |rows| {
            listener_queue(rows, FULL_QUEUE_ADDR) == Some("1")
        });
        let second = ns.enter(|| TcpStream::connect(full_queue));
        held.keep(second.unwrap_or_else(|e| panic!("connect {full_queue}: {e}")));
        ns.wait_for("-tln", "a full accept queue", |rows| {
            listener_queue(rows, FULL_QUEUE_ADDR) == Some("2")
        });
        held.keep(ns.enter(|| connecting_client(full_queue)));
        held.keep(full);

        ns.wait_for("-tan", "every TCP state of the mix", |rows| {
            let count = |s: &str| {
                rows.iter()
                    .filter(|r| r.state.as_deref() == Some(s))
                    .count()
            };
            count("TIME-WAIT") == 2
                && count("FIN-WAIT-2") == 1
                && count("CLOSE-WAIT") == 1
                && count("SYN-SENT") == 1
                && rows
                    .iter()
                    .any(|r| r.recv_q == "100" && r.local == "127.0.0.2:5000")
        });
        ns.wait_for("-uan", "the queued datagram", |rows| {
            rows.iter()
                .any(|r| r.local == "127.0.0.2:5353" && r.recv_q != "0")
        });
        Mix { held }
    }
}

/// Recv-Q of the LISTEN row whose local address is `local`.
fn listener_queue<'a>(rows: &'a [Row], local: &str) -> Option<&'a str> {
    rows.iter()
        .find(|r| r.local == local)
        .map(|r| r.recv_q.as_str())
}

/// An abstract unix stream listener `@name`.
pub(crate) fn unix_abstract_listener(name: &str) -> std::os::unix::net::UnixListener {
    use std::os::linux::net::SocketAddrExt as _;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)
        .unwrap_or_else(|e| panic!("abstract name {name}: {e}"));
    std::os::unix::net::UnixListener::bind_addr(&addr)
        .unwrap_or_else(|e| panic!("bind @{name}: {e}"))
}

/// A small, quiet socket set for byte-exact comparisons: one v4 listener with one accepted
/// pair, and a v6only listener.
pub(crate) fn small_mix(ns: &Netns) -> Held {
    let held = ns.enter(|| {
        let mut held = Held::default();
        let a = v4(127, 0, 0, 2, 5000);
        let l = tcp_listener(a, 128, None);
        let (c, s) = tcp_pair(&l, a, None);
        held.keep(c);
        held.keep(s);
        held.keep(l);
        held.keep(tcp_listener(
            v6(Ipv6Addr::UNSPECIFIED, 5001, 0),
            128,
            Some(true),
        ));
        held
    });
    ns.wait_for("-tan", "two listeners and an established pair", |rows| {
        rows.len() == 4
    });
    held
}

/// One row of an ss-style table, split on whitespace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Row {
    /// The Netid column, when shown.
    pub(crate) netid: Option<String>,
    /// The State column, when shown.
    pub(crate) state: Option<String>,
    /// Recv-Q.
    pub(crate) recv_q: String,
    /// Send-Q.
    pub(crate) send_q: String,
    /// `Local Address:Port` as one token (unix rows: `NAME INODE`).
    pub(crate) local: String,
    /// `Peer Address:Port` as one token (unix rows: `* INODE`).
    pub(crate) peer: String,
    /// Any further tokens (process or extended information).
    pub(crate) extra: Vec<String>,
}

impl Row {
    /// The row as one line, single-spaced, for diffs.
    pub(crate) fn line(&self) -> String {
        let mut s = String::new();
        for t in [&self.netid, &self.state].into_iter().flatten() {
            s.push_str(t);
            s.push(' ');
        }
        let _ = write!(
            s,
            "{} {} {} {}",
            self.recv_q, self.send_q, self.local, self.peer
        );
        for t in &self.extra {
            s.push(' ');
            s.push_str(t);
        }
        s
    }

    /// True for rows of the inet tables (the tables sockq's differential tests cover).
    pub(crate) fn is_inet(&self) -> bool {
        const INET: [&str; 8] = ["tcp", "udp", "raw", "icmp6", "mptcp", "sctp", "dccp", "???"];
        self.netid.as_deref().is_none_or(|n| INET.contains(&n))
    }
}

/// A parsed table: which optional columns its header showed, and its rows.
#[derive(Debug)]
pub(crate) struct Table {
    /// The header showed a Netid column.
    pub(crate) has_netid: bool,
    /// The header showed a State column.
    pub(crate) has_state: bool,
    /// The data rows, in output order.
    pub(crate) rows: Vec<Row>,
}

/// Parses output that starts with a header line, taking the optional columns from the header.
/// Panics if the first line is not a header (use [`try_parse_table`] on the tool under test).
pub(crate) fn parse_table(stdout: &str) -> Table {
    try_parse_table(stdout).unwrap_or_else(|e| panic!("{e}"))
}

/// Like [`parse_table`], but a missing header is an error message instead of a panic.
pub(crate) fn try_parse_table(stdout: &str) -> Result<Table, String> {
    let header = stdout.lines().next().unwrap_or_default();
    let tokens: Vec<&str> = header.split_whitespace().collect();
    if !tokens.contains(&"Recv-Q") {
        return Err(format!("expected a header line, got {header:?}\n{stdout}"));
    }
    let has_netid = tokens.first() == Some(&"Netid");
    let has_state = tokens.contains(&"State");
    Ok(Table {
        has_netid,
        has_state,
        rows: parse_rows(stdout, has_netid, has_state),
    })
}

/// Splits ss-style rows on whitespace. A header line, if present, is skipped. Unix rows
/// (Netid `u_*`) take two tokens per endpoint.
pub(crate) fn parse_rows(stdout: &str, has_netid: bool, has_state: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    for line in stdout.lines() {
        let mut t = line.split_whitespace().map(str::to_owned);
        let netid = if has_netid { t.next() } else { None };
        if matches!(netid.as_deref(), Some("Netid"))
            || (!has_netid && line.split_whitespace().any(|w| w == "Recv-Q"))
        {
            continue; // the header
        }
        let state = if has_state { t.next() } else { None };
        let two = netid.as_deref().is_some_and(|n| n.starts_with("u_"));
        let endpoint = |t: &mut dyn Iterator<Item = String>| {
            let first = t.next().unwrap_or_default();
            if two {
                format!("{first} {}", t.next().unwrap_or_default())
            } else {
                first
            }
        };
        let recv_q = t.next().unwrap_or_default();
        let send_q = t.next().unwrap_or_default();
        let local = endpoint(&mut t);
        let peer = endpoint(&mut t);
        if recv_q.is_empty() && netid.is_none() {
            continue; // a blank line
        }
        rows.push(Row {
            netid,
            state,
            recv_q,
            send_q,
            local,
            peer,
            extra: t.collect(),
        });
    }
    rows
}

/// How strictly [`compare_rows`] treats row order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// Same rows in the same order (both tools print one dump per table in kernel order).
    Exact,
    /// Same rows as multisets.
    Any,
}

/// Compares the rows of ss's and sockq's outputs. On a mismatch returns a message with the
/// rows only one side has and both complete outputs.
pub(crate) fn compare_rows(
    what: &str,
    ss_out: &str,
    ss_rows: &[Row],
    sockq_out: &str,
    sockq_rows: &[Row],
    order: Order,
) -> Result<(), String> {
    let mut a = ss_rows.to_vec();
    let mut b = sockq_rows.to_vec();
    a.sort();
    b.sort();
    let problem = if a != b {
        let mut msg = String::from("rows differ (- only ss, + only sockq):\n");
        for r in multiset_minus(&a, &b) {
            let _ = writeln!(msg, "- {}", r.line());
        }
        for r in multiset_minus(&b, &a) {
            let _ = writeln!(msg, "+ {}", r.line());
        }
        msg
    } else if order == Order::Exact && ss_rows != sockq_rows {
        String::from("same rows, different order\n")
    } else {
        return Ok(());
    };
    Err(format!(
        "{what}: {problem}--- ss ---\n{ss_out}--- sockq ---\n{sockq_out}-----------"
    ))
}

/// The rows of `a` not matched one-for-one by rows of `b` (both sorted).
fn multiset_minus<'a>(a: &'a [Row], b: &[Row]) -> Vec<&'a Row> {
    let mut rest = b.to_vec();
    a.iter()
        .filter(|r| match rest.iter().position(|x| x == *r) {
            Some(i) => {
                rest.remove(i);
                false
            }
            None => true,
        })
        .collect()
}

/// Panics with every message in `failures`, or does nothing if it is empty.
pub(crate) fn assert_no_failures(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// ss 6.1's layout turned into HEAD's, which sockq follows: 6.1 always has a `Process` column
/// (a `Process` header token glued to `Port`, and padding on every line), while HEAD drops it
/// without `-p` and never pads the last column. Trimming each line and the header's trailing
/// `Process` gives HEAD's bytes when the Process column is empty.
pub(crate) fn ss61_to_head(stdout: &str) -> String {
    let mut out = String::with_capacity(stdout.len());
    for (i, line) in stdout.lines().enumerate() {
        let mut line = line.trim_end();
        if i == 0 && line.contains("Recv-Q") {
            line = line.strip_suffix("Process").unwrap_or(line).trim_end();
        }
        out.push_str(line);
        out.push('\n');
    }
    out
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

/// Self-tests of the harness; they need neither root nor sockq.
mod selftest {
    use super::*;

    const SS61: &str = "\
State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
LISTEN 0      128          0.0.0.0:22         0.0.0.0:*          
ESTAB  0      0           10.0.0.1:22        10.0.0.1:36266      
";

    #[test]
    fn parse_table_reads_header_and_rows() {
        let t = parse_table(SS61);
        assert!(!t.has_netid && t.has_state);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[1].state.as_deref(), Some("ESTAB"));
        assert_eq!(t.rows[1].local, "10.0.0.1:22");
        assert_eq!(t.rows[1].peer, "10.0.0.1:36266");
        assert_eq!(t.rows[0].send_q, "128");
        assert!(t.rows[0].extra.is_empty());
    }

    #[test]
    fn parse_rows_handles_netid_unix_and_no_header() {
        let text = "tcp LISTEN 0 5 127.0.0.1:80 0.0.0.0:*\nu_str LISTEN 0 3 @x 42 * 0\n";
        let rows = parse_rows(text, true, true);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].local, "@x 42");
        assert_eq!(rows[1].peer, "* 0");
        assert!(rows[0].is_inet() && !rows[1].is_inet());
        let bare = parse_rows("0 5 127.0.0.1:80 0.0.0.0:*\n", false, false);
        assert_eq!(bare[0].recv_q, "0");
        assert_eq!(bare[0].state, None);
    }

    #[test]
    fn compare_rows_reports_differences_and_order() {
        let a = parse_table(SS61).rows;
        let mut b = a.clone();
        assert!(compare_rows("same", "", &a, "", &b, Order::Exact).is_ok());
        b.reverse();
        assert!(compare_rows("any order", "", &a, "", &b, Order::Any).is_ok());
        let err = compare_rows("order", "", &a, "", &b, Order::Exact)
            .err()
            .unwrap_or_default();
        assert!(err.contains("different order"), "{err}");
        b[0].recv_q = "9".into();
        let err = compare_rows("diff", "", &a, "", &b, Order::Any)
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("- ESTAB 0 0 10.0.0.1:22 10.0.0.1:36266"),
            "{err}"
        );
        assert!(
            err.contains("+ ESTAB 9 0 10.0.0.1:22 10.0.0.1:36266"),
            "{err}"
        );
    }

    #[test]
    fn ss61_layout_becomes_head_layout() {
        let head = "\
State  Recv-Q Send-Q Local Address:Port  Peer Address:Port
LISTEN 0      128          0.0.0.0:22         0.0.0.0:*
ESTAB  0      0           10.0.0.1:22        10.0.0.1:36266
";
        assert_eq!(ss61_to_head(SS61), head);
    }

    fn output(code: i32, stdout: &str, stderr: &str) -> Output {
        use std::os::unix::process::ExitStatusExt as _;
        Output {
            status: std::process::ExitStatus::from_raw(code << 8),
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn unprivileged_checks_accept_clean_runs_and_catch_bad_ones() {
        let table = "State Recv-Q Send-Q Local Address:Port Peer Address:Port\n";
        let root = output(0, table, "");
        let ok = |o: &Output, r: &Output| unprivileged_problems(o, r).is_empty();
        assert!(ok(
            &output(0, table, "sockq: 3 processes could not be read\n"),
            &root
        ));
        assert!(ok(
            &output(
                1,
                "",
                "sockq: entering network namespace t: Operation not permitted (os error 1)\n"
            ),
            &root
        ));
        assert!(
            !ok(
                &output(1, "", "sockq: dumping tcp: invalid argument\n"),
                &root
            ),
            "a failure root did not have needs a permission reason"
        );
        let filter_error = "sockq: bad port\nsport = :x\n        ^^\n";
        assert!(ok(&output(2, "", filter_error), &root));
        assert!(
            !ok(&output(1, "", filter_error), &root),
            "echo lines need status 2"
        );
        assert!(!ok(
            &output(101, "", "thread 'main' panicked at x.rs:1\n"),
            &root
        ));
        assert!(!ok(&output(3, "", ""), &root));
        assert!(!ok(&output(1, "", "error: two\nlines\n"), &root));
        assert!(!ok(&output(0, "garbage\n", ""), &root), "not a table");
        let killed = {
            use std::os::unix::process::ExitStatusExt as _;
            Output {
                status: std::process::ExitStatus::from_raw(11),
                stdout: Vec::new(),
                stderr: Vec::new(),
            }
        };
        assert!(!ok(&killed, &root), "a signal death");
        let json_root = output(0, "[{\"a\":1}]", "");
        assert!(ok(&output(0, "[]", ""), &json_root));
        assert!(!ok(&output(0, "[{\"a\":", ""), &json_root), "cut JSON");
        let lines_root = output(0, "{\"a\":1}\n{\"a\":2}\n", "");
        assert!(ok(&output(0, "{\"a\":1}\n", ""), &lines_root));
        assert!(!ok(&output(0, "{\"a\":1}\n{\n", ""), &lines_root));
    }

    #[test]
    fn shadow_recognises_sockq_commands_only() {
        let sq = sockq_program();
        let mut direct = Command::new(&sq);
        direct.args(["-tan"]);
        assert_eq!(
            sockq_invocation(&direct),
            Some((None, vec![OsString::from("-tan")]))
        );
        let mut inside = Command::new("ip");
        inside.args(["netns", "exec", "n1"]).arg(&sq).arg("-uan");
        assert_eq!(
            sockq_invocation(&inside),
            Some((Some("n1".to_owned()), vec![OsString::from("-uan")]))
        );
        let mut other = Command::new("ip");
        other.args(["netns", "exec", "n1", "setpriv"]).arg(&sq);
        assert_eq!(sockq_invocation(&other), None);
        assert_eq!(sockq_invocation(&Command::new("ss")), None);
        assert!(kills(&[OsString::from("-tK")]));
        assert!(kills(&[OsString::from("--kill")]));
        assert!(!kills(&[OsString::from("-K"), OsString::from("--dry-run")]));
        assert!(!kills(&[OsString::from("-tan")]));
    }

    #[test]
    fn run_captures_both_streams_and_the_status() {
        let out = run(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]));
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }
}
