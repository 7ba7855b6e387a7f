//! The unprivileged shadow: every sockq command of the suite run again as `nobody`.

use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::*;
/// Environment variable: `0` turns the unprivileged shadow of [`run`] off (ignored under
/// `CI=true`, where it always runs). `SOCKQ_SHADOW_LOG=FILE` appends one line per
/// unprivileged run to FILE (nobody's exit code, root's, whether rows were compared, argv).
pub(crate) const UNPRIV_VAR: &str = "SOCKQ_TEST_UNPRIV";

/// The uid and gid of `nobody`, the unprivileged user.
pub(crate) const NOBODY: &str = "65534";

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
pub(crate) fn shadow_copy() -> &'static Path {
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
pub(crate) fn sockq_invocation(cmd: &Command) -> Option<(Option<String>, Vec<OsString>)> {
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
pub(crate) fn shadow_enabled() -> bool {
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
/// Panics unless the unprivileged run passes [`unprivileged_problems`] (no crash, an exit code
/// of 0, 1 or 2, only `sockq: ` lines on stderr, a permission reason for any failure root did
/// not have, root's exit code 2 kept, well-formed output when it exits 0) and, for commands
/// without privileged options ([`rows_must_match`]), [`row_problems`]: root's rows.
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
    if problems.is_empty() && rows_must_match(&record.args) {
        let rerun = || {
            let mut again = Command::new(cmd.get_program());
            again.args(cmd.get_args());
            for (k, v) in &record.envs {
                match v {
                    Some(v) => again.env(k, v),
                    None => again.env_remove(k),
                };
            }
            if let Some(dir) = cmd.get_current_dir() {
                again.current_dir(dir);
            }
            run_plain(&mut again)
        };
        problems.extend(row_problems(&out, original, record.netns.is_some(), rerun));
    }
    if kills(&record.args) && out.status.success() && stdout_has_rows(&out.stdout) {
        problems.push("-K reported killed sockets with status 0, as nobody".to_owned());
    }
    // For the figures in docs/reliability.md: one line per unprivileged run.
    if let Some(log) = std::env::var_os("SOCKQ_SHADOW_LOG") {
        use std::io::Write as _;
        let line = format!(
            "{} {} {} {:?}\n",
            record.code.map_or("signal".to_owned(), |c| c.to_string()),
            original.status.code().unwrap_or(-1),
            if rows_must_match(&record.args) {
                "rows"
            } else {
                "-"
            },
            record.args
        );
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
        {
            let _ = f.write_all(line.as_bytes());
        }
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
pub(crate) fn kills(args: &[OsString]) -> bool {
    let flag = |a: &OsString| {
        let a = a.to_string_lossy();
        a == "--kill" || (a.starts_with('-') && !a.starts_with("--") && a.contains('K'))
    };
    args.iter().any(flag) && !args.iter().any(|a| a == "--dry-run")
}

/// True when stdout has a line that is not the header.
pub(crate) fn stdout_has_rows(stdout: &[u8]) -> bool {
    String::from_utf8_lossy(stdout)
        .lines()
        .any(|l| !l.trim().is_empty() && !l.contains("Recv-Q"))
}

/// What is wrong with an unprivileged run of sockq (`out`), given the privileged run of the
/// same command (`original`). Empty when it is fine.
///
/// * it ended by itself (no signal), with status 0, 1 or 2 (101 would be a panic);
/// * a non-zero status where root's was 0 comes with a permission reason on stderr, and where
///   root's status was 2 (a usage error), nobody's is 2 too;
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
    if code != 0 && original.status.success() && !PRIVILEGE.iter().any(|w| err.contains(w)) {
        problems.push(format!(
            "exit {code} where root exited 0, without a permission message: {}",
            err.trim_end()
        ));
    }
    // A usage error does not depend on who runs the command. The one lookup that does: with
    // `-N`, an interface name is resolved inside the namespace, which nobody may not enter (the
    // expression itself is checked before entering, for everyone).
    let inside_lookup = String::from_utf8_lossy(&original.stderr).contains("no interface named")
        && err.contains("cannot enter network namespace");
    if original.status.code() == Some(2) && code != 2 && !(code == 1 && inside_lookup) {
        problems.push(format!("exit {code} where root exited 2 (a usage error)"));
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

/// Whether nobody must list the same rows as root for `args`: no owners (`-p`, `-P`, `--sort
/// pid`), no kill (`-K`), no namespace switch (`-N`, `--all-netns`) and no `fwmark` (all of
/// which need privileges). Long options may be abbreviated (`--proc`).
pub(crate) fn rows_must_match(args: &[OsString]) -> bool {
    const LONG: [&str; 5] = ["processes", "process-info", "kill", "net", "all-netns"];
    let privileged = |a: &OsString| {
        let a = a.to_string_lossy();
        if let Some(long) = a.strip_prefix("--") {
            let name = long.split('=').next().unwrap_or_default();
            !name.is_empty() && LONG.iter().any(|l| l.starts_with(name))
        } else if let Some(short) = a.strip_prefix('-') {
            short.contains(['p', 'P', 'K', 'N'])
        } else {
            a.contains("mark") || a.contains("pid")
        }
    };
    !args.iter().any(privileged)
}

/// The rows of a table for comparing two runs: queues cleared (they move between runs), details
/// dropped (timers, counters, and continuation lines: a BPF filter only root may read), and
/// each run's own sock_diag socket (`tcpdiag:sockq/PID`, `4:PID` with `-n`) left out. Sorted; None when the text
/// is not a table.
pub(crate) fn comparable_rows(stdout: &[u8]) -> Option<Vec<Row>> {
    let text = String::from_utf8_lossy(stdout);
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with(char::is_whitespace))
        .map(|l| format!("{l}\n"))
        .collect();
    let t = try_parse_table(&text).ok()?;
    let mut rows: Vec<Row> = t
        .rows
        .into_iter()
        .filter(|r| !r.local.starts_with("tcpdiag:") && !r.local.starts_with("4:"))
        .map(|mut r| {
            r.recv_q.clear();
            r.send_q.clear();
            r.extra.clear();
            r
        })
        .collect();
    rows.sort();
    Some(rows)
}

/// When both runs exited 0 with a table: nobody's rows, queues aside, are root's. The scene may
/// move between the two runs (TIME-WAIT expiring, other processes on the host), so a difference
/// runs the command as root again (`rerun`): every row both root runs show must be in nobody's,
/// and, inside a test namespace (`private`, where only the test makes sockets), nobody may show
/// no row more often than either root run shows it.
pub(crate) fn row_problems(
    out: &Output,
    original: &Output,
    private: bool,
    rerun: impl FnOnce() -> Output,
) -> Vec<String> {
    if !(out.status.success() && original.status.success()) {
        return Vec::new();
    }
    let (Some(ours), Some(first)) = (
        comparable_rows(&out.stdout),
        comparable_rows(&original.stdout),
    ) else {
        return Vec::new();
    };
    if ours == first {
        return Vec::new();
    }
    let again = rerun();
    let second = comparable_rows(&again.stdout).unwrap_or_default();
    let stable: Vec<Row> = first
        .iter()
        .filter(|r| second.contains(r))
        .cloned()
        .collect();
    let mut problems = Vec::new();
    let missing = multiset_minus(&stable, &ours);
    if !missing.is_empty() {
        let lines: Vec<String> = missing.iter().map(|r| r.line()).collect();
        problems.push(format!(
            "rows root shows before and after are missing as nobody: {}",
            lines.join(" | ")
        ));
    }
    if private {
        let count = |rows: &[Row], r: &Row| rows.iter().filter(|x| *x == r).count();
        let mut extra: Vec<String> = ours
            .iter()
            .filter(|r| count(&ours, r) > count(&first, r).max(count(&second, r)))
            .map(Row::line)
            .collect();
        extra.dedup();
        if !extra.is_empty() {
            problems.push(format!(
                "rows neither root run shows appear as nobody: {}",
                extra.join(" | ")
            ));
        }
    }
    problems
}
