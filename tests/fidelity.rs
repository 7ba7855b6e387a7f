//! Regression tests for wrong data, unbounded input, namespaces and notices found by hostile use
//! (issue 14, section 3): each fails on the bug it is named after.
//!
//! * bound-but-inactive TCP sockets under `-B` and `state bound-inactive`;
//! * interface names that are not UTF-8 keep their bytes;
//! * raw sockets from the /proc fallback print no `sk:0`;
//! * `/dev/zero` and endless FIFOs as dump or filter file, under an address-space limit;
//! * `--all-netns` while namespaces are deleted, and as an unprivileged user;
//! * no warnings for tables the user did not name; a notice for owners hidden by
//!   `hidepid=2` or by EACCES on fd links.

use std::ffi::OsString;
use std::io::Write as _;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::thread;

use rustix::net::{AddressFamily, SocketType};

use crate::util::{
    Netns, PublicCopy, new_socket, root_or_skip, run, run_ok, run_plain, setpriv_nobody,
    show_output, sockq, sockq_program, ss71_program, stdout_text, subject_is_ss, udp_socket, v4,
    v6, words,
};

fn stderr_text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A TCP socket bound to 127.0.0.1 on a free port, neither listening nor connecting.
fn bound_inactive() -> (OwnedFd, u16) {
    let fd = new_socket(AddressFamily::INET, SocketType::STREAM, None);
    rustix::net::bind(&fd, &v4(127, 0, 0, 1, 0)).unwrap_or_else(|e| panic!("bind: {e}"));
    let port = match rustix::net::getsockname(&fd)
        .ok()
        .and_then(|a| SocketAddr::try_from(a).ok())
    {
        Some(a) => a.port(),
        None => panic!("getsockname"),
    };
    (fd, port)
}

/// `-B` and `state bound-inactive` list a TCP socket that is bound but neither listening nor
/// connecting (Linux 6.8+ reports it with state CLOSE). With ss 7.1 at hand, the bytes match.
#[test]
fn bound_inactive_tcp_sockets_are_listed() {
    let (_fd, port) = bound_inactive();
    let ss71 = if subject_is_ss() {
        None
    } else {
        ss71_program("bound_inactive_tcp_sockets_are_listed")
    };
    let want = format!("127.0.0.1:{port}");
    let mut failures = Vec::new();
    for args in [
        format!("-tB sport = :{port}"),
        format!("-tnB sport = :{port}"),
        format!("-tn state bound-inactive sport = :{port}"),
        format!("-t state bound-inactive ( sport = :{port} )"),
        format!("-Htna sport = :{port}"),
    ] {
        let out = run(sockq().args(words(&args)));
        let text = stdout_text(&out);
        if !out.status.success() || !text.contains(&want) {
            failures.push(format!("sockq {args}: no {want}\n{}", show_output(&out)));
            continue;
        }
        if let Some(ss71) = &ss71 {
            let expected = stdout_text(&run_plain(crate::util::ss71(ss71).args(words(&args))));
            if expected != text {
                failures.push(format!(
                    "sockq {args} differs from ss 7.1\n--- ss 7.1 ---\n{expected}--- sockq ---\n{text}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// An interface whose name holds an escape sequence and a byte that is not UTF-8
/// (`r ESC [1m 0xff`, loopback renamed in a private namespace): the address column shows the
/// name escaped byte for byte (`\xff`), never U+FFFD, and never the raw control bytes.
#[test]
fn interface_names_keep_their_bytes() {
    if !root_or_skip("interface_names_keep_their_bytes") {
        return;
    }
    if subject_is_ss() {
        println!("skipping interface_names_keep_their_bytes: checks sockq's escaping");
        return;
    }
    let ns = Netns::new();
    let name: OsString = {
        use std::os::unix::ffi::OsStringExt as _;
        OsString::from_vec(b"r\x1b[1m\xff".to_vec())
    };
    ns.ip(&["link", "set", "lo", "down"]);
    run_ok(
        Command::new("ip")
            .args(["-n", ns.name(), "link", "set", "lo", "name"])
            .arg(&name),
    );
    run_ok(
        Command::new("ip")
            .args(["-n", ns.name(), "link", "set"])
            .arg(&name)
            .arg("up"),
    );
    run_ok(
        Command::new("ip")
            .args(["-n", ns.name(), "addr", "add", "fe80::1/64", "dev"])
            .arg(&name)
            .arg("nodad"),
    );
    let link_local = "fe80::1".parse().unwrap_or(std::net::Ipv6Addr::LOCALHOST);
    let _udp = ns.enter(|| udp_socket(v6(link_local, 7005, 1), None, None));
    let out = run(&mut ns.sockq(["-Huan", "sport = :7005"]));
    let raw = out.stdout.clone();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let ok = out.status.success()
        && text.contains("[fe80::1]%r")
        && text.contains("[1m\\xff:7005")
        && !raw.contains(&0x1b)
        && !raw.contains(&0xff)
        && !text.contains('\u{fffd}');
    assert!(
        ok,
        "the interface name lost its bytes: {raw:?}\n{}",
        show_output(&out)
    );
}

/// Raw sockets come from /proc/net/raw on kernels without raw_diag: /proc has no socket
/// cookie, so `-e` must not invent `sk:0`.
#[test]
fn raw_sockets_from_proc_print_no_cookie() {
    if !root_or_skip("raw_sockets_from_proc_print_no_cookie") {
        return;
    }
    let ns = Netns::new();
    let _raw =
        ns.enter(|| crate::util::raw_socket(AddressFamily::INET, rustix::net::ipproto::ICMP));
    let out = run(&mut ns.sockq(["-Hwane"]));
    let text = stdout_text(&out);
    assert!(
        out.status.success() && text.contains(" ino:") && !text.contains(" sk:0"),
        "{}",
        show_output(&out)
    );
}

/// 1 GiB of address space: a bounded sockq (a few threads and their arenas) runs well within
/// it, and an unbounded reader of /dev/zero stops there instead of taking the machine.
const AS_LIMIT: &str = "--as=1073741824";

/// The most resident memory a bounded run may use: sockq streams a dump (one message buffer)
/// and reads at most 4 MiB of filter file; an unbounded read fills the whole 1 GiB limit.
const MAX_RSS_KIB: u64 = 256 * 1024;

/// Runs `prlimit --as=1G sockq ARGS` (argv[2:]), passing the streams and the status through,
/// and writes the child's peak resident size (ru_maxrss, KiB) to the file argv[1].
const RSS_WRAPPER: &str = "import resource, subprocess, sys
r = subprocess.run(sys.argv[2:])
open(sys.argv[1], 'w').write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
sys.exit(r.returncode if r.returncode >= 0 else 128 - r.returncode)";

/// Runs sockq under the address-space limit; returns its output and its peak RSS in KiB.
fn bounded(args: &[&str], env: Option<(&str, &Path)>) -> (Output, u64) {
    let report = crate::util::TempFile::new("maxrss", b"");
    let mut cmd = Command::new("python3");
    cmd.args(["-c", RSS_WRAPPER])
        .arg(report.path())
        .args(["prlimit", AS_LIMIT, "--"])
        .arg(sockq_program())
        .args(args)
        .env_remove("COLUMNS")
        .env("LC_ALL", "C");
    if let Some((k, v)) = env {
        cmd.env(k, v);
    }
    let out = run_plain(&mut cmd);
    let rss = std::fs::read_to_string(report.path())
        .ok()
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or_else(|| panic!("no maxrss report\n{}", show_output(&out)));
    (out, rss)
}

/// Exit 1 or 2 by itself (not a signal, not a panic), with exactly one `sockq: ` line, and a
/// peak resident size under [`MAX_RSS_KIB`].
fn one_line_failure(what: &str, (out, rss): (Output, u64)) -> Option<String> {
    let err = stderr_text(&out);
    let ok = matches!(out.status.code(), Some(1 | 2))
        && err.lines().count() == 1
        && err.starts_with("sockq: ")
        && rss < MAX_RSS_KIB;
    (!ok).then(|| {
        format!(
            "{what}: not a one-line failure in bounded memory ({}, peak RSS {rss} KiB)\n{}",
            out.status,
            show_output(&out)
        )
    })
}

/// A FIFO in a fresh temporary directory, fed forever by a thread until the reader closes it.
struct EndlessFifo {
    dir: PathBuf,
    path: PathBuf,
    writer: Option<thread::JoinHandle<()>>,
}

impl EndlessFifo {
    fn new(tag: &str, chunk: Vec<u8>) -> EndlessFifo {
        let dir = std::env::temp_dir().join(format!("sockq-fifo-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir: {e}"));
        let path = dir.join("fifo");
        run_ok(Command::new("mkfifo").arg(&path));
        let p = path.clone();
        let writer = thread::spawn(move || {
            // Blocks until the reader opens; ends with EPIPE when it closes.
            let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&p) else {
                return;
            };
            while f.write_all(&chunk).is_ok() {}
        });
        EndlessFifo {
            dir,
            path,
            writer: Some(writer),
        }
    }
}

impl Drop for EndlessFifo {
    fn drop(&mut self) {
        use std::os::unix::fs::OpenOptionsExt as _;
        // If the reader never opened the FIFO, open it here so the writer's open returns.
        let _ = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(rustix::fs::OFlags::NONBLOCK.bits() as i32)
            .open(&self.path);
        if let Some(w) = self.writer.take() {
            let _ = w.join();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// 64 KiB netlink NOOP messages: valid, endless, and holding no socket.
fn noop_messages() -> Vec<u8> {
    let len: u32 = 1 << 16;
    let mut m = vec![0u8; len as usize];
    m[0..4].copy_from_slice(&len.to_ne_bytes());
    m[4..6].copy_from_slice(&1u16.to_ne_bytes()); // NLMSG_NOOP
    m
}

/// `TCPDIAG_FILE`, `--replay` and `-F` on `/dev/zero` and on endless FIFOs stay within 1 GiB of
/// address space and fail with one line (an unbounded read grew past 3 GB in 5 s).
#[test]
fn endless_inputs_fail_in_bounded_memory() {
    if subject_is_ss() {
        println!("skipping endless_inputs_fail_in_bounded_memory: checks sockq's bounds");
        return;
    }
    let zero = Path::new("/dev/zero");
    let mut failures = Vec::new();
    let mut check = |what: &str, out: (Output, u64)| {
        if let Some(f) = one_line_failure(what, out) {
            failures.push(f);
        }
    };
    check(
        "TCPDIAG_FILE=/dev/zero",
        bounded(&["-tan"], Some(("TCPDIAG_FILE", zero))),
    );
    check(
        "--replay /dev/zero",
        bounded(&["-tan", "--replay", "/dev/zero"], None),
    );
    check("-F /dev/zero", bounded(&["-tan", "-F", "/dev/zero"], None));
    {
        let fifo = EndlessFifo::new("dump", noop_messages());
        check(
            "TCPDIAG_FILE=endless FIFO",
            bounded(&["-tan"], Some(("TCPDIAG_FILE", &fifo.path))),
        );
    }
    {
        let fifo = EndlessFifo::new("replay", noop_messages());
        let p = fifo.path.to_string_lossy().into_owned();
        check(
            "--replay endless FIFO",
            bounded(&["-tan", "--replay", &p], None),
        );
    }
    {
        let fifo = EndlessFifo::new("filter", b"sport = :1 or ".repeat(4096));
        let p = fifo.path.to_string_lossy().into_owned();
        check("-F endless FIFO", bounded(&["-tan", "-F", &p], None));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Namespaces named `sockq-<pid>-del-<n>`, deleted on drop if still there.
struct Namespaces(Vec<String>);

impl Drop for Namespaces {
    fn drop(&mut self) {
        for n in &self.0 {
            let _ = Command::new("ip")
                .args(["netns", "delete", n])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// `ip netns del` unmounts a namespace file before unlinking it, so a namespace deleted while
/// `--all-netns` runs can give EINVAL on setns: it must be skipped, in every one of 8 runs.
#[test]
fn all_netns_skips_namespaces_deleted_meanwhile() {
    if !root_or_skip("all_netns_skips_namespaces_deleted_meanwhile") {
        return;
    }
    if subject_is_ss() {
        println!("skipping all_netns_skips_namespaces_deleted_meanwhile: ss has no --all-netns");
        return;
    }
    let mut failures = Vec::new();
    for round in 0..8 {
        let names: Vec<String> = (0..12)
            .map(|i| format!("sockq-{}-del-{round}-{i}", std::process::id()))
            .collect();
        for n in &names {
            run_ok(Command::new("ip").args(["netns", "add", n]));
        }
        let guard = Namespaces(names.clone());
        let child = sockq()
            .args(["--all-netns", "-tan"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start sockq: {e}"));
        for n in &names {
            let _ = Command::new("ip")
                .args(["netns", "delete", n])
                .stderr(Stdio::null())
                .status();
        }
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("wait: {e}"));
        drop(guard);
        if !out.status.success() {
            failures.push(format!(
                "round {round}: {}\n{}",
                out.status,
                show_output(&out)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of 8 runs failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// `setpriv ... COPY ARGS` as nobody, in the test's own namespace.
fn as_nobody(copy: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new("setpriv");
    cmd.args(setpriv_nobody()).arg(copy).args(args);
    cmd.env_remove("COLUMNS").env("LC_ALL", "C");
    cmd
}

/// Unprivileged `--all-netns` lists the current namespace (no setns needed there), then says
/// in one line which namespaces it could not enter, and exits 0.
#[test]
fn unprivileged_all_netns_shows_its_own_namespace() {
    if !root_or_skip("unprivileged_all_netns_shows_its_own_namespace") {
        return;
    }
    if subject_is_ss() {
        println!("skipping unprivileged_all_netns_shows_its_own_namespace: ss has no --all-netns");
        return;
    }
    let copy = PublicCopy::new();
    let ns = Netns::new();
    let here = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = here.local_addr().map(|a| a.port()).unwrap_or(0);
    let filter = format!("sport = :{port}");
    let out = run_plain(&mut as_nobody(
        copy.bin(),
        &["--all-netns", "-tln", &filter],
    ));
    let text = stdout_text(&out);
    let err = stderr_text(&out);
    assert!(
        out.status.success()
            && text.contains(&format!("127.0.0.1:{port}"))
            && err.lines().count() == 1
            && err.contains(ns.name()),
        "{}",
        show_output(&out)
    );
}

/// A table the user did not name gets no warning when the kernel lacks its diag module
/// (dccp, sctp, vsock, xdp): `-ln`, `-a`, a bare filter and `-K` print no such warning.
#[test]
fn unnamed_missing_tables_do_not_warn() {
    if !root_or_skip("unnamed_missing_tables_do_not_warn") {
        return;
    }
    if subject_is_ss() {
        println!("skipping unnamed_missing_tables_do_not_warn: checks sockq's messages");
        return;
    }
    let ns = Netns::new();
    let mut failures = Vec::new();
    for args in [
        "-ln",
        "-a",
        "-an",
        "sport = :1",
        "-K sport = :1",
        "-K --dry-run sport = :1",
    ] {
        let out = run(&mut ns.sockq(words(args)));
        let err = stderr_text(&out);
        // (-K --dry-run says on stderr how many sockets it would close.)
        if !out.status.success() || err.contains("sock_diag module") {
            failures.push(format!("sockq {args}\n{}", show_output(&out)));
        }
    }
    // Named, a missing table is still reported, in one line each.
    for (args, table) in [
        ("-d", "dccp"),
        ("-S", "sctp"),
        ("--vsock", "vsock"),
        ("--xdp", "xdp"),
    ] {
        let out = run(&mut ns.sockq([args, "-a"]));
        let err = stderr_text(&out);
        if !out.status.success()
            || err.lines().count() > 1
            || (!err.is_empty() && !err.contains(table))
        {
            failures.push(format!("sockq {args} -a\n{}", show_output(&out)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// Owners hidden from the scan are reported: `/proc` mounted with `hidepid=2` hides other
/// users' processes from nobody (a private mount namespace mounts such a proc and points
/// `PROC_ROOT` at it), and root itself gets EACCES on some fd links (pid 1 on some systems).
#[test]
fn hidden_owners_are_reported() {
    if !root_or_skip("hidden_owners_are_reported") {
        return;
    }
    if subject_is_ss() {
        println!("skipping hidden_owners_are_reported: checks sockq's notice");
        return;
    }
    let copy = PublicCopy::new();
    let here = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("bind: {e}"));
    let port = here.local_addr().map(|a| a.port()).unwrap_or(0);
    let mnt = std::env::temp_dir().join(format!("sockq-hidepid-{}", std::process::id()));
    std::fs::create_dir_all(&mnt).unwrap_or_else(|e| panic!("mkdir: {e}"));
    let mut argv: Vec<OsString> = setpriv_nobody().iter().map(OsString::from).collect();
    argv.push(copy.bin().as_os_str().to_owned());
    let script = format!(
        "mount -t proc -o hidepid=2 proc \"$1\" && shift && PROC_ROOT=\"$0\" exec setpriv \"$@\" -tanp 'sport = :{port}'"
    );
    let out = run_plain(
        Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &script])
            .arg(&mnt)
            .arg(&mnt)
            .args(&argv)
            .env_remove("COLUMNS")
            .env("LC_ALL", "C"),
    );
    let _ = std::fs::remove_dir(&mnt);
    let err = stderr_text(&out);
    let mut failures = Vec::new();
    if !out.status.success()
        || !stdout_text(&out).contains(&format!("127.0.0.1:{port}"))
        || err.lines().count() != 1
        || !err.contains("hidepid")
    {
        failures.push(format!("hidepid=2 as nobody\n{}", show_output(&out)));
    }
    // Root and pid 1's fd links: only where this system refuses them to root.
    let refused = std::fs::read_link("/proc/1/fd/0")
        .err()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::PermissionDenied);
    if refused {
        let out = run(sockq().args(["-tanp", &format!("sport = :{port}")]));
        let err = stderr_text(&out);
        if !out.status.success() || err.lines().count() != 1 || !err.contains("could not be read") {
            failures.push(format!("root, pid 1 refused\n{}", show_output(&out)));
        }
    } else {
        println!("root reads pid 1's fd links here: the EACCES half is not exercised");
    }
    drop(here);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
