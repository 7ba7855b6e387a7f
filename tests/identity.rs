//! Who a socket's process is and where its output goes, end to end (`-P`,
//! `--all-netns` labels, `unit`/`container`/`exe` filters, the hint):
//! a real podman container, a systemd-named cgroup, `tee -a`, a journal
//! stream socket in a private mount namespace, and an unprivileged run.
//! (The nginx scene's two blocks are checked in `process.rs`.)
//!
//! Root-only tests skip with a reason when not root, and fail under `CI=true`.

use crate::util::{
    Podman, TempDir, blocks_in, must, podman_or_skip, root_or_skip, run_plain, sockq, stdout_text,
};
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

fn unique() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn have_or_skip(test: &str, prog: &str) -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()));
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: {prog} is not installed, and CI=true forbids skipping"
        );
        println!("skipping {test}: {prog} is not installed");
    }
    found
}

/// Kills and reaps children on drop.
struct Kids(Vec<Child>);

impl Drop for Kids {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A loopback listener and its port.
fn listener() -> (OwnedFd, u16) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = l.local_addr().map(|a| a.port()).unwrap_or(0);
    (l.into(), port)
}

#[test]
fn podman_container_named_in_all_netns_filtered_and_hinted() {
    let t = "podman_container_named_in_all_netns_filtered_and_hinted";
    if !root_or_skip(t) || !podman_or_skip(t) {
        return;
    }
    let c = Podman::httpd("127.0.0.1:8080");
    let id = c.inspect("{{.Id}}");
    let id = id.as_str();
    let pid = c.pid();
    let filter = format!("container = {}", c.name);
    let label = format!("podman:{}", c.name);

    // The listener can take a moment to appear.
    let start = Instant::now();
    let out = loop {
        let out = must(sockq().args(["--all-netns", "-tlnP", &filter]));
        if out.lines().any(|l| l.starts_with(&label)) || start.elapsed() > Duration::from_secs(20) {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| !l.starts_with('\t'))
        .skip(1)
        .collect();
    assert_eq!(rows.len(), 1, "{out}");
    assert!(
        rows[0].starts_with(&format!("{label} ")),
        "namespace named by its container: {out}"
    );
    assert!(rows[0].contains("127.0.0.1:8080"), "{out}");
    assert!(
        rows[0].contains(&format!("(\"httpd\",pid={pid},fd=")),
        "{out}"
    );
    let blocks = blocks_in(&out);
    assert_eq!(blocks.len(), 1, "{out}");
    let b = &blocks[0];
    assert!(
        b.lines()
            .next()
            .unwrap_or("")
            .ends_with(&format!("  container {label}  image {}", c.image)),
        "identity on the first line: {b}"
    );
    let ctr_log = format!("/var/lib/containers/storage/overlay-containers/{id}/userdata/ctr.log");
    for fd in ["stdout", "stderr"] {
        let line = b
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{fd}:")))
            .unwrap_or_else(|| panic!("no {fd} line: {b}"));
        assert!(line.contains("pipe:["), "{line}");
        assert!(line.contains(" \u{2192} conmon (pid "), "{line}");
        assert!(line.ends_with(&format!(" writes {ctr_log}")), "{line}");
    }

    // JSON: the same facts as fields.
    let j = must(sockq().args(["--all-netns", "-tlnP", "--json", &filter]));
    let v: serde_json::Value = serde_json::from_str(&j).unwrap_or_else(|e| panic!("{e}: {j}"));
    let sock = &v[0];
    assert_eq!(sock["netns"], label.as_str(), "{j}");
    let ctr = &sock["processes"][0]["identity"]["container"];
    assert_eq!(ctr["runtime"], "podman", "{j}");
    assert_eq!(ctr["id"], id, "{j}");
    assert_eq!(ctr["name"], c.name.as_str(), "{j}");
    assert_eq!(ctr["image"], c.image.as_str(), "{j}");
    let r = &sock["processes"][0]["stdout_stream"]["reader"];
    assert_eq!(r["kind"], "conmon", "{j}");
    assert_eq!(r["logs"][0], ctr_log.as_str(), "{j}");

    // `container =` selects it, and only it.
    let out = must(sockq().args(["--all-netns", "-tlnp", &format!("container = {}*", c.name)]));
    assert_eq!(
        out.lines().filter(|l| l.contains("LISTEN")).count(),
        1,
        "{out}"
    );
    let none = must(sockq().args(["--all-netns", "-tlnp", &format!("container = x{}", c.name)]));
    assert_eq!(
        none.lines().filter(|l| l.contains("LISTEN")).count(),
        0,
        "{none}"
    );

    // Without --all-netns nothing matches here; the hint points at it.
    let o = run_plain(sockq().env("SOCKQ_HINTS", "1").args(["-tln", &filter]));
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    let hint: Vec<&str> = err.lines().filter(|l| l.contains("matches in")).collect();
    assert_eq!(hint.len(), 1, "one hint line: {err}");
    assert!(hint[0].contains(&format!("{label} (1)")), "{err}");
    assert!(
        hint[0].ends_with(&format!("sockq --all-netns -tln 'container = {}'", c.name)),
        "{err}"
    );
    // Not for scripts: no hint when stderr is not a terminal.
    let o = run_plain(sockq().env_remove("SOCKQ_HINTS").args(["-tln", &filter]));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("matches in"));
    drop(c);
}

/// A cgroup directory removed on drop, once its processes are gone.
struct Cgroup(PathBuf);

impl Drop for Cgroup {
    fn drop(&mut self) {
        for _ in 0..100 {
            if std::fs::remove_dir(&self.0).is_ok() || !self.0.exists() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The cgroup hierarchy systemd would use here: the unified one, else v1
/// `name=systemd`.
fn systemd_hierarchy() -> Option<PathBuf> {
    let mounts = std::fs::read_to_string("/proc/self/mounts").ok()?;
    let mut v1 = None;
    for l in mounts.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() < 4 {
            continue;
        }
        if f[2] == "cgroup2" {
            return Some(PathBuf::from(f[1]));
        }
        if f[2] == "cgroup" && f[3].split(',').any(|o| o == "name=systemd") {
            v1 = Some(PathBuf::from(f[1]));
        }
    }
    v1
}

#[test]
fn systemd_unit_named_and_selected() {
    let t = "systemd_unit_named_and_selected";
    if !root_or_skip(t) {
        return;
    }
    let Some(root) = systemd_hierarchy() else {
        panic!("{t}: no cgroup hierarchy");
    };
    let tag = unique();
    let slice = root.join(format!("sockq-e2e{tag}.slice"));
    let unit = format!("sockq-e2e{tag}-web.service");
    let dir = slice.join(&unit);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    let _slice = Cgroup(slice.clone());
    let _unit = Cgroup(dir.clone());
    let (l, port) = listener();
    let child = Command::new("sleep")
        .arg("600")
        .stdin(Stdio::from(l))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("sleep: {e}"));
    let pid = child.id();
    let kids = Kids(vec![child]);
    std::fs::write(dir.join("cgroup.procs"), pid.to_string())
        .unwrap_or_else(|e| panic!("move {pid}: {e}"));

    let out = must(sockq().args(["-tlnP", &format!("unit = sockq-e2e{tag}-*")]));
    let rows: Vec<&str> = out.lines().filter(|l| l.contains("LISTEN")).collect();
    assert_eq!(rows.len(), 1, "{out}");
    assert!(rows[0].contains(&format!(":{port} ")), "{out}");
    let b = blocks_in(&out);
    assert_eq!(b.len(), 1, "{out}");
    assert!(
        b[0].lines()
            .next()
            .unwrap_or("")
            .ends_with(&format!("  unit {unit}")),
        "{out}"
    );
    // `exe` too.
    let out = must(sockq().args(["-tlnp", &format!("sport = :{port} and exe = */sleep")]));
    assert_eq!(
        out.lines().filter(|l| l.contains("LISTEN")).count(),
        1,
        "{out}"
    );
    drop(kids);
}

#[test]
fn stderr_into_tee_shows_the_file_through_the_pipe() {
    let t = "stderr_into_tee_shows_the_file_through_the_pipe";
    if !have_or_skip(t, "tee") {
        return;
    }
    let dir = TempDir::new("tee");
    let file = dir.0.join("app.err");
    let mut tee = Command::new("tee")
        .arg("-a")
        .arg(&file)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        // Not the test's own stderr: when that is a file (CI's log), tee
        // writes it too, and rightly shows it.
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("tee: {e}"));
    let tee_in = tee.stdin.take();
    let tee_pid = tee.id();
    let mut kids = Kids(vec![tee]);
    let (l, port) = listener();
    let app = Command::new("sleep")
        .arg("600")
        .stdin(Stdio::from(l))
        .stdout(Stdio::null())
        .stderr(tee_in.map_or_else(Stdio::null, Stdio::from))
        .spawn()
        .unwrap_or_else(|e| panic!("sleep: {e}"));
    kids.0.push(app);
    let start = Instant::now();
    let want = "stderr: pipe:[";
    let tail = format!(" \u{2192} tee (pid {tee_pid}) writes {}", file.display());
    loop {
        let out = must(sockq().args(["-tlnP", &format!("sport = :{port}")]));
        let line = out
            .lines()
            .find(|l| l.trim_start().starts_with(want))
            .map(str::to_owned);
        if let Some(line) = &line
            && line.ends_with(&tail)
        {
            break;
        }
        // tee opens its file just after it starts.
        assert!(start.elapsed() < Duration::from_secs(10), "{out}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

const JOURNAL_SCENE: &str = r#"
set -e
mount -t tmpfs tmpfs /run/systemd
mkdir -p /run/systemd/journal
exec python3 -c '
import socket, subprocess, sys, os, ctypes
# Children die with this scene, however it ends (PR_SET_PDEATHSIG, SIGKILL).
die = lambda: ctypes.CDLL(None).prctl(1, 9)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind("/run/systemd/journal/stdout")
srv.listen()
cli = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
cli.connect("/run/systemd/journal/stdout")
conn, _ = srv.accept()
tcp = socket.socket()
tcp.bind(("127.0.0.1", 0))
tcp.listen()
p = subprocess.Popen(["sleep", "600"], preexec_fn=die, stdout=cli.fileno(), stdin=tcp.fileno())
cli.close()
print(p.pid, tcp.getsockname()[1], flush=True)
tcp.close()
sys.stdin.read()
p.kill()
'
"#;

#[test]
fn stdout_to_the_journal_socket_is_reported_as_the_journal() {
    let t = "stdout_to_the_journal_socket_is_reported_as_the_journal";
    if !root_or_skip(t) || !have_or_skip(t, "unshare") || !have_or_skip(t, "python3") {
        return;
    }
    let mut scene = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c", JOURNAL_SCENE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("unshare: {e}"));
    let mut line = String::new();
    if let Some(o) = scene.stdout.take() {
        let _ = BufReader::new(o).read_line(&mut line);
    }
    let _kids = Kids(vec![scene]);
    let nums: Vec<u32> = line
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    assert_eq!(nums.len(), 2, "scene did not start: {line:?}");
    let (writer, port) = (nums[0], nums[1]);
    let out = must(sockq().args(["-tlnP", &format!("sport = :{port}")]));
    let b = blocks_in(&out);
    assert_eq!(b.len(), 1, "{out}");
    let stdout = b[0]
        .lines()
        .find(|l| l.trim_start().starts_with("stdout:"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        stdout.ends_with(&format!(" \u{2192} journal (journalctl _PID={writer})")),
        "{out}"
    );
}

/// A journald of the test's own in a private mount namespace (tmpfs on `/run/systemd` and
/// `/run/log`), so the host's journal, if it has one, is untouched. Commands made by
/// [`PrivateJournal::inside`] see its sockets. Drop stops it, and its namespace goes with it.
struct PrivateJournal(Child);

const JOURNALD: &str = "set -e
mkdir -p /run/systemd /run/log
mount -t tmpfs tmpfs /run/systemd
mount -t tmpfs tmpfs /run/log
exec /lib/systemd/systemd-journald";

impl PrivateJournal {
    fn start() -> PrivateJournal {
        let child = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", JOURNALD])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("unshare systemd-journald: {e}"));
        let j = PrivateJournal(child);
        let start = Instant::now();
        while !run_plain(j.inside("test").args(["-S", "/run/systemd/journal/socket"]))
            .status
            .success()
        {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "journald made no socket"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        j
    }

    /// `nsenter -t JOURNALD -m PROG`: PROG in the journal's mount namespace.
    fn inside(&self, prog: &str) -> Command {
        let mut c = Command::new("nsenter");
        c.args(["-t", &self.0.id().to_string(), "-m", prog]);
        c
    }
}

impl Drop for PrivateJournal {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// podman's journald log driver (its default on hosts that run systemd): the container's
/// stdout goes through a pipe to conmon, which sends each line to the journal. `-P` names the
/// journal after conmon, with a journalctl command, and that command, run against the real
/// journald, shows what the container wrote.
#[test]
fn podman_with_the_journald_driver_names_the_journal_command() {
    let t = "podman_with_the_journald_driver_names_the_journal_command";
    if !root_or_skip(t)
        || !podman_or_skip(t)
        || !have_or_skip(t, "nsenter")
        || !have_or_skip(t, "journalctl")
    {
        return;
    }
    assert!(
        std::path::Path::new("/lib/systemd/systemd-journald").is_file()
            || std::env::var("CI").as_deref() != Ok("true"),
        "{t}: systemd-journald is not installed, and CI=true forbids skipping"
    );
    if !std::path::Path::new("/lib/systemd/systemd-journald").is_file() {
        println!("skipping {t}: systemd-journald is not installed");
        return;
    }
    let journal = PrivateJournal::start();
    let c = Podman::httpd_logging("127.0.0.1:8081", "journald", journal.inside("podman"));
    let filter = format!("container = {}", c.name);
    let start = Instant::now();
    let out = loop {
        let out = must(sockq().args(["--all-netns", "-tlnP", &filter]));
        if !blocks_in(&out).is_empty() || start.elapsed() > Duration::from_secs(20) {
            break out;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let blocks = blocks_in(&out);
    assert_eq!(blocks.len(), 1, "{out}");
    let want = format!(" \u{2192} journal (journalctl CONTAINER_NAME={})", c.name);
    for fd in ["stdout", "stderr"] {
        let line = blocks[0]
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("{fd}:")))
            .unwrap_or_else(|| panic!("no {fd} line: {out}"));
        assert!(line.contains(" \u{2192} conmon (pid "), "{line}");
        assert!(line.ends_with(&want), "{line}\nwant it to end with{want}");
    }
    // JSON: conmon, then the journal as the next hop.
    let j = must(sockq().args(["--all-netns", "-tlnP", "--json", &filter]));
    let v: serde_json::Value = serde_json::from_str(&j).unwrap_or_else(|e| panic!("{e}: {j}"));
    let r = &v[0]["processes"][0]["stdout_stream"]["reader"];
    assert_eq!(r["kind"], "conmon", "{j}");
    assert_eq!(r["next"]["kind"], "journal", "{j}");
    let command = r["next"]["command"].as_str().unwrap_or_default().to_owned();
    assert_eq!(
        command,
        format!("journalctl CONTAINER_NAME={}", c.name),
        "{j}"
    );
    // The command works: httpd's log line for a request (`-v`: on stderr) is in the journal
    // under that name.
    let _ = run_plain(
        Command::new("podman")
            .args([
                "exec",
                &c.name,
                "/bin/busybox",
                "wget",
                "-q",
                "-O",
                "/dev/null",
            ])
            .arg("http://127.0.0.1:8081/sockq-journal-probe"),
    );
    must(journal.inside("journalctl").arg("--flush"));
    let mut args: Vec<&str> = command.split(' ').skip(1).collect();
    args.extend(["-o", "cat", "--no-pager"]);
    let start = Instant::now();
    let logged = loop {
        let o = run_plain(journal.inside("journalctl").args(&args));
        let text = stdout_text(&o);
        if text.contains("response:404") || start.elapsed() > Duration::from_secs(10) {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        logged.contains("response:404"),
        "`{command}` does not show the container's request log:\n{logged}"
    );
    drop(c);
    drop(journal);
}

#[test]
fn unprivileged_run_shows_no_other_users_process_and_says_so() {
    let t = "unprivileged_run_shows_no_other_users_process_and_says_so";
    if !root_or_skip(t) || !have_or_skip(t, "setpriv") {
        return;
    }
    let dir = TempDir::new("unpriv");
    let log = dir.0.join("secret.log");
    let f = std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}"));
    let (l, port) = listener();
    let child = Command::new("sleep")
        .arg("600")
        .stdin(Stdio::from(l))
        .stdout(Stdio::from(f))
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("sleep: {e}"));
    let _kids = Kids(vec![child]);
    // A copy nobody can run.
    let pubdir = TempDir::new("bin");
    let bin = pubdir.0.join("sockq");
    std::fs::copy(crate::util::sockq_program(), &bin).unwrap_or_else(|e| panic!("{e}"));
    use std::os::unix::fs::PermissionsExt as _;
    for (p, m) in [(&pubdir.0, 0o755), (&bin, 0o755)] {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap_or_default();
    }
    let o = run_plain(
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(&bin)
            .env_remove("SOCKQ_HINTS")
            .args(["-tlnP", &format!("sport = :{port}")]),
    );
    let out = stdout_text(&o);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert_eq!(
        out.lines().filter(|l| l.contains("LISTEN")).count(),
        1,
        "{out}"
    );
    assert!(
        blocks_in(&out).is_empty(),
        "root's process is not shown: {out}"
    );
    assert!(
        !out.contains("secret.log") && !out.contains("sleep"),
        "{out}"
    );
    assert!(
        // (The advice to run as root is for people: stderr is a pipe here.)
        err.contains("could not be read") && !err.contains("Run as root"),
        "{err}"
    );
}
