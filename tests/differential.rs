//! sockq against ss 7.1, byte for byte, on the same real sockets in a private network namespace.
//!
//! Each test builds the full scene, [`Mix`] (listeners, established, half-closed, TIME-WAIT,
//! SYN-SENT, a full accept queue, connected and unconnected UDP, raw sockets, an abstract unix
//! listener) plus [`Extras`] (unix stream, datagram and seqpacket sockets, named and abstract,
//! connected pairs; packet sockets) in a fresh namespace, runs `ip netns exec NS ss71 ARGS` and
//! `ip netns exec NS sockq ARGS`, and compares the whole stdout byte for byte: every table
//! (tcp, udp, raw, unix, packet, netlink) and the mixed `-a`/`-l` output, every row.
//!
//! * The oracle is ss 7.1 (built by scripts/test from `../shared/oracle`, see
//!   [`ss71_program`]), whose layout sockq follows: no normalisation at all, except for the one
//!   row that cannot match, each tool's own sock_diag socket in the netlink table (see
//!   [`without_own_diag_socket`]).
//! * Order must match exactly: both tools send one dump request per table and family, in the
//!   same table order, and the kernel returns its hash order for both.
//! * A mismatch is retried once, and only when the difference is in TIME-WAIT rows (they expire
//!   after 60 s, so one can vanish between the two runs); the test prints when it retries.
//! * ss 6.1 (Debian 12's ss) is kept for the row-level comparison in
//!   [`rows_match_debian_ss61`]: scripts written for Debian 12 split 6.1's rows on whitespace.

use std::ffi::{OsStr, OsString};
use std::os::fd::OwnedFd;
use std::path::PathBuf;

use rustix::net::{AddressFamily, SocketType};

use crate::util::{
    Held, Mix, Netns, Order, assert_no_failures, compare_rows, new_socket, parse_table,
    root_or_skip, run, run_plain, show_output, ss71_program, stdout_text, subject_is_ss,
    try_parse_table, words,
};

/// Selections compared numerically (`-n`): tables, families, `-a`/`-l`, state words.
const NUMERIC_CASES: &[&str] = &[
    "-tan",
    "-tln",
    "-tn",
    "-uan",
    "-uln",
    "-un",
    "-wan",
    "-xan",
    "-xln",
    "-xn",
    "-0an",
    "-0n",
    "-an -f netlink",
    "-an -A netlink",
    "-an",
    "-ln",
    "-n",
    "-4 -tan",
    "-6 -tan",
    "-4 -uan",
    "-6 -uan",
    "-4 -an",
    "-6 -an",
    "-4 -n",
    "-6 -ln",
    "-an -f inet",
    "-an -f inet6",
    "-an -f unix",
    "-an -f link",
    "-an -A tcp,udp",
    "-an -A inet",
    "-an -A unix_stream",
    "-an -A unix_dgram,unix_seqpacket",
    "-an -A all",
    "-ln -A raw",
    "-ta -n state established",
    "-tan state time-wait",
    "-tn state connected",
    "-tan exclude listening",
    "-tan state listening",
    "-tan state syn-sent",
    "-tan state fin-wait-2",
    "-tan state close-wait",
    "-tan state bucket",
    "-tan state synchronized",
    "-tan state big",
    "-tan state all",
    "-tn exclude all",
    "-tan state established state listening",
    "-tan excl established excl listening state listening",
    "-tan exclude time-wait exclude syn-sent",
    "-uan state established",
    "-uan state unconnected",
    "-un state connected",
    "-an state listening",
    "-xan state listening",
    "-xan state connected",
    "-Htan",
    "-Han",
    "-Hxan",
    "-Qan",
    "-HQan",
    "-tanp",
    "-uanp",
    "-xanp",
    "-anp",
    "-uane",
    "-xane",
    "-0ane",
    "-uanm",
    "-xanm",
    "-Oxane",
    "-tlne",
    "-tlnm",
    "-tlni",
    "-tlno",
    "-tlnemi",
    "-Otlnei",
    "-tln --tos",
    "-tln --inet-sockopt",
    "-uan --inet-sockopt",
    "-tne state established",
    "-tnm state established",
    "-tno state established",
    "-tne state close-wait",
    "-tne state fin-wait-2",
    "-tln --cgroup",
    "-tano exclude syn-sent",
    "-tane state time-wait",
];

/// Selections without `-n`: ports go through /etc/services (`http`, `mdns`, `icmp`...),
/// ephemeral ports stay numeric, netlink ports name their process.
const NAMED_CASES: &[&str] = &[
    "-ta",
    "-tl",
    "-t",
    "-ua",
    "-u",
    "-wa",
    "-xa",
    "-0a",
    "-a -f netlink",
    "-a",
    "-l",
    "-ta state time-wait",
    "-4 -a",
    "-6 -l",
    "-Ha",
    "-tar",
    "-uar",
    // With -r, ss opens a unix socket of its own (NSS): unix tables are left out.
    "-tulr",
    "-0ab",
    "-tap",
    "-xap",
];

/// Sockets of the tables [`Mix`] leaves empty or nearly: unix (stream, datagram, seqpacket;
/// named, abstract and unnamed; listening, connected and unconnected) and packet (raw and
/// datagram, bound to `lo` and unbound).
pub(crate) struct Extras {
    _held: Held,
    dir: PathBuf,
}

impl Extras {
    pub(crate) fn build(ns: &Netns) -> Extras {
        use std::os::linux::net::SocketAddrExt as _;
        use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener, UnixStream};
        let dir = std::env::temp_dir().join(format!("sockq-diff-{}-{}", std::process::id(), {
            use std::sync::atomic::{AtomicUsize, Ordering};
            static N: AtomicUsize = AtomicUsize::new(0);
            N.fetch_add(1, Ordering::Relaxed)
        }));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
        let held = ns.enter(|| {
            let mut held = Held::default();
            let named = UnixListener::bind(dir.join("stream.sock"))
                .unwrap_or_else(|e| panic!("bind unix stream: {e}"));
            let client = UnixStream::connect(dir.join("stream.sock"))
                .unwrap_or_else(|e| panic!("connect unix stream: {e}"));
            let (server, _) = named
                .accept()
                .unwrap_or_else(|e| panic!("accept unix: {e}"));
            held.keep(OwnedFd::from(client));
            held.keep(OwnedFd::from(server));
            held.keep(OwnedFd::from(named));
            let dgram = UnixDatagram::bind(dir.join("dgram.sock"))
                .unwrap_or_else(|e| panic!("bind unix dgram: {e}"));
            let sender = UnixDatagram::unbound().unwrap_or_else(|e| panic!("unix dgram: {e}"));
            sender
                .send_to(b"queued", dir.join("dgram.sock"))
                .unwrap_or_else(|e| panic!("send unix dgram: {e}"));
            held.keep(OwnedFd::from(dgram));
            held.keep(OwnedFd::from(sender));
            let abs = SocketAddr::from_abstract_name(format!("sockq-diff-{}", std::process::id()))
                .unwrap_or_else(|e| panic!("abstract name: {e}"));
            held.keep(OwnedFd::from(
                UnixDatagram::bind_addr(&abs).unwrap_or_else(|e| panic!("bind abstract: {e}")),
            ));
            let (a, b) = UnixStream::pair().unwrap_or_else(|e| panic!("socketpair: {e}"));
            held.keep(OwnedFd::from(a));
            held.keep(OwnedFd::from(b));
            let (a, b) = UnixDatagram::pair().unwrap_or_else(|e| panic!("socketpair: {e}"));
            held.keep(OwnedFd::from(a));
            held.keep(OwnedFd::from(b));
            let seq = new_socket(AddressFamily::UNIX, SocketType::SEQPACKET, None);
            let seq_path = dir.join("seq.sock");
            let seq_addr = rustix::net::SocketAddrUnix::new(&seq_path)
                .unwrap_or_else(|e| panic!("unix address: {e}"));
            rustix::net::bind(&seq, &seq_addr).unwrap_or_else(|e| panic!("bind seqpacket: {e}"));
            rustix::net::listen(&seq, 4).unwrap_or_else(|e| panic!("listen seqpacket: {e}"));
            held.keep(seq);
            // Packet sockets: raw for ARP and datagram for LLDP (protocols never seen on lo,
            // so their Recv-Q stays 0 while the SYN-SENT client retransmits), and raw with
            // protocol 0 (hooked nowhere).
            for (kind, proto) in [
                (SocketType::RAW, 0x0806u16),
                (SocketType::DGRAM, 0x88cc),
                (SocketType::RAW, 0),
            ] {
                let proto = std::num::NonZeroU32::new(u32::from(proto.to_be()))
                    .map(rustix::net::Protocol::from_raw);
                held.keep(new_socket(AddressFamily::PACKET, kind, proto));
            }
            held
        });
        Extras { _held: held, dir }
    }
}

impl Drop for Extras {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The whole scene: [`Mix`] and [`Extras`] in a fresh namespace.
struct Scene {
    _extras: Extras,
    _mix: Mix,
    ns: Netns,
}

impl Scene {
    fn build() -> Scene {
        let ns = Netns::new();
        let mix = Mix::build(&ns);
        let extras = Extras::build(&ns);
        Scene {
            _extras: extras,
            _mix: mix,
            ns,
        }
    }
}

/// A copy of the program under test named `ss`, so that its own sock_diag socket in the
/// netlink table is `tcpdiag:ss/PID` as ss's is, and the column widths agree.
struct NamedSs {
    dir: PathBuf,
    program: OsString,
}

impl NamedSs {
    fn new() -> NamedSs {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sockq-as-ss-{}-{n}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let program = dir.join("ss");
        if !program.exists() {
            let from = PathBuf::from(crate::util::sockq_program());
            let from = if from.is_absolute() {
                from
            } else {
                which(&from).unwrap_or(from)
            };
            std::fs::copy(&from, &program).unwrap_or_else(|e| {
                panic!("copy {} to {}: {e}", from.display(), program.display())
            });
        }
        NamedSs {
            dir,
            program: program.into_os_string(),
        }
    }
}

impl Drop for NamedSs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn which(name: &std::path::Path) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

/// Drops the row of the tool's own sock_diag socket (`tcpdiag:ss/PID`, or the numeric
/// `tcpdiag:PID` with `-n`): its port (the pid) and its place in the kernel's hash order differ
/// from run to run. The widths stay comparable because the program is named `ss` in both runs
/// and `fiblookup:kernel` is at least as wide as the row for pids below 100,000.
fn without_own_diag_socket(text: &str, pid_words: &[String]) -> String {
    text.lines()
        .filter(|l| {
            !l.split_whitespace().any(|w| {
                pid_words.iter().any(|p| w == p)
                    || w.strip_prefix("tcpdiag:ss/")
                        .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
            })
        })
        .flat_map(|l| [l, "\n"])
        .collect()
}

/// The words naming a user sock_diag socket in a numeric netlink listing (`4:PORT`, port not
/// 0, protocol 4 being NETLINK_SOCK_DIAG): in a fresh namespace only the tool's own.
fn own_numeric_ports(text: &str) -> Vec<String> {
    text.split_whitespace()
        .filter(|w| {
            w.strip_prefix("4:")
                .is_some_and(|p| p != "0" && p.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(str::to_owned)
        .collect()
}

/// True when every line that differs between `a` and `b` (as sets of lines) is a TIME-WAIT row
/// or a socket memory line whose drop counter moved ([`only_drops_differ`]), or the TIME-WAIT
/// rows themselves differ (one expired: widths may then change everywhere).
fn only_time_wait_differs(a: &str, b: &str) -> bool {
    // Without a State column (`state time-wait`) a TIME-WAIT row shows by its timer.
    let tw = |l: &str| l.contains("TIME-WAIT") || l.contains("timer:(timewait");
    let norm = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| tw(l))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    if norm(a) != norm(b) {
        return true;
    }
    let la: Vec<&str> = a.lines().collect();
    let lb: Vec<&str> = b.lines().collect();
    la.len() == lb.len()
        && la.iter().zip(&lb).filter(|(x, y)| x != y).all(|(x, y)| {
            (x.contains("TIME-WAIT") && y.contains("TIME-WAIT")) || only_drops_differ(x, y)
        })
}

/// True when two `skmem:(…)` lines differ only in the drop counter `d`: the full-queue
/// listener's client keeps retransmitting its SYN, and each one the kernel drops counts, so
/// the counter moves between the two tools' runs.
fn only_drops_differ(x: &str, y: &str) -> bool {
    let strip = |l: &str| -> Option<String> {
        let at = l.find(",d")?;
        let end = l[at + 2..].find(|c: char| !c.is_ascii_digit())? + at + 2;
        l.contains("skmem:(")
            .then(|| format!("{}{}", &l[..at], &l[end..]))
    };
    matches!((strip(x), strip(y)), (Some(a), Some(b)) if a == b)
}

/// Runs `args` under ss 7.1 and sockq in `ns` and compares their whole stdout. A mismatch in
/// TIME-WAIT rows or drop counters only is retried once, and says so.
fn compare_in(ss71: &OsStr, named: &NamedSs, ns: &Netns, args: &str) -> Result<(), String> {
    match compare_once(ss71, named, ns, args) {
        Err((msg, true)) => {
            println!("retrying {args}: the outputs differ in TIME-WAIT rows or drop counters only");
            compare_once(ss71, named, ns, args)
                .map_err(|(m, _)| format!("{m}\n(after a retry)"))
                .map_err(|m| format!("{msg}\n{m}"))
        }
        other => other.map_err(|(m, _)| m),
    }
}

/// One comparison; the error says whether it may be retried.
fn compare_once(
    ss71: &OsStr,
    named: &NamedSs,
    ns: &Netns,
    args: &str,
) -> Result<(), (String, bool)> {
    let netlink = args.contains("netlink") || args.contains("all") || !has_table_choice(args);
    let ss_out = run_plain(&mut ns.exec(ss71, words(args)));
    let sq_out = if netlink && !subject_is_ss() {
        run_plain(&mut ns.exec(&named.program, words(args)))
    } else {
        run(&mut ns.sockq(words(args)))
    };
    if !ss_out.status.success() {
        return Err((
            format!(
                "ss 7.1 {args} failed ({}): harness problem\n{}",
                ss_out.status,
                show_output(&ss_out)
            ),
            false,
        ));
    }
    if !sq_out.status.success() {
        return Err((
            format!(
                "sockq {args} failed ({})\n{}",
                sq_out.status,
                show_output(&sq_out)
            ),
            false,
        ));
    }
    let (mut expected, mut actual) = (stdout_text(&ss_out), stdout_text(&sq_out));
    let mut ports = own_numeric_ports(&expected);
    ports.extend(own_numeric_ports(&actual));
    expected = without_own_diag_socket(&expected, &ports);
    actual = without_own_diag_socket(&actual, &ports);
    if shows_details(args) {
        // ss 7.1 pads the details column with blanks to the screen width; sockq never ends a
        // line in blanks (docs/differences.md).
        expected = expected
            .lines()
            .flat_map(|l| [l.trim_end(), "\n"])
            .collect();
    }
    if expected.lines().count() < 2 && !args.contains('H') && !args.contains("exclude all") {
        return Err((format!("ss 7.1 {args} listed nothing:\n{expected}"), false));
    }
    if actual == expected {
        let err = String::from_utf8_lossy(&sq_out.stderr);
        // With -p, the one documented notice: processes whose sockets lose their owner.
        let notice = |l: &str| args.contains('p') && l.contains("could not be read");
        if err.lines().any(|l| !notice(l)) {
            return Err((format!("sockq {args} wrote to stderr:\n{err}"), false));
        }
        return Ok(());
    }
    let retry = only_time_wait_differs(&expected, &actual);
    Err((
        format!(
            "{args}: stdout differs from ss 7.1 (- ss 7.1, + sockq)\n{}--- ss 7.1 ---\n{expected}--- sockq ---\n{actual}---",
            line_diff(&expected, &actual)
        ),
        retry,
    ))
}

/// True when the arguments ask for the details column (`-e`, `-m`, `-o`, `-i`, `--tos`,
/// `--inet-sockopt`, `--cgroup`).
fn shows_details(args: &str) -> bool {
    args.split_whitespace().any(|w| {
        matches!(w, "--tos" | "--inet-sockopt" | "--cgroup")
            || (w.starts_with('-') && !w.starts_with("--") && w.chars().any(|c| "emoi".contains(c)))
    })
}

/// True when the arguments choose tables (so the netlink table is not part of the output).
fn has_table_choice(args: &str) -> bool {
    args.split_whitespace().any(|w| {
        (w.starts_with('-')
            && !w.starts_with("--")
            && w.chars().skip(1).any(|c| "tuwx0dSM46".contains(c)))
            || w == "-f"
            || w == "-A"
    })
}

/// The lines only one side has, in order.
fn line_diff(a: &str, b: &str) -> String {
    let la: Vec<&str> = a.lines().collect();
    let lb: Vec<&str> = b.lines().collect();
    let mut out = String::new();
    for l in &la {
        if !lb.contains(l) {
            out.push_str(&format!("- {l}\n"));
        }
    }
    for l in &lb {
        if !la.contains(l) {
            out.push_str(&format!("+ {l}\n"));
        }
    }
    if out.is_empty() {
        out.push_str("(same lines, different order)\n");
    }
    out
}

fn compare_cases(test: &str, cases: &[&str]) {
    if !root_or_skip(test) {
        return;
    }
    let Some(ss71) = ss71_program(test) else {
        return;
    };
    let scene = Scene::build();
    let named = NamedSs::new();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|args| compare_in(&ss71, &named, &scene.ns, args).err())
        .collect();
    assert_no_failures(&failures);
}

#[test]
fn numeric_selections_match_ss71_byte_for_byte() {
    compare_cases("numeric_selections_match_ss71_byte_for_byte", NUMERIC_CASES);
}

#[test]
fn service_names_match_ss71_byte_for_byte() {
    compare_cases("service_names_match_ss71_byte_for_byte", NAMED_CASES);
}

/// `-4 -6` together: sockq lists both families, v4 then v6 (ss lists only the last one, a
/// documented deviation), so sockq's stdout is ss 7.1 `-4`'s rows followed by `-6`'s.
#[test]
fn both_families_are_the_union_of_each() {
    let test = "both_families_are_the_union_of_each";
    if !root_or_skip(test) {
        return;
    }
    if subject_is_ss() {
        println!("skipping {test}: checks a deviation from ss");
        return;
    }
    let Some(ss71) = ss71_program(test) else {
        return;
    };
    let scene = Scene::build();
    let ns = &scene.ns;
    let mut failures = Vec::new();
    for (table, both) in [
        ("-Htan", "-4 -6 -Htan"),
        ("-Huan", "-6 -4 -Huan"),
        ("-Htln", "-4 -6 -Htln"),
    ] {
        let v4 = stdout_text(&run_plain(
            &mut ns.exec(&ss71, words(&format!("-4 {table}"))),
        ));
        let v6 = stdout_text(&run_plain(
            &mut ns.exec(&ss71, words(&format!("-6 {table}"))),
        ));
        let ss_text = format!("{v4}{v6}");
        let expected = crate::util::parse_rows(&ss_text, false, true);
        let sq_out = run(&mut ns.sockq(words(both)));
        let sq_text = stdout_text(&sq_out);
        let actual = crate::util::parse_rows(&sq_text, false, true);
        if let Err(e) = compare_rows(both, &ss_text, &expected, &sq_text, &actual, Order::Exact) {
            failures.push(format!("{e}\n{}", show_output(&sq_out)));
        }
    }
    assert_no_failures(&failures);
}

/// ss 6.1 is Debian 12's ss: scripts written for it split its rows on whitespace. sockq's rows
/// (not its padding: 6.1 pads every line for an always-present Process column) equal 6.1's on
/// the inet tables.
#[test]
fn rows_match_debian_ss61() {
    if !root_or_skip("rows_match_debian_ss61") {
        return;
    }
    let scene = Scene::build();
    let ns = &scene.ns;
    let mut failures = Vec::new();
    for args in ["-tan", "-uan", "-wan", "-tln", "-ta", "-ua"] {
        let ss_text = stdout_text(&run(&mut ns.ss(words(args))));
        let sq_out = run(&mut ns.sockq(words(args)));
        let sq_text = stdout_text(&sq_out);
        let result = try_parse_table(&sq_text).and_then(|t| {
            let ss_rows = parse_table(&ss_text).rows;
            compare_rows(args, &ss_text, &ss_rows, &sq_text, &t.rows, Order::Exact)
        });
        if let Err(e) = result {
            failures.push(e);
        }
    }
    assert_no_failures(&failures);
}

/// `-A packet_raw` and `-A packet_dgram` list only their own type in sockq; ss 7.1 lists every
/// packet socket for either when it reads them over netlink (it checks the type only in its
/// /proc fallback). A deliberate difference (docs/differences.md): sockq's rows are ss 7.1's
/// `-0` rows of that type.
#[test]
fn packet_types_are_told_apart() {
    let test = "packet_types_are_told_apart";
    if !root_or_skip(test) {
        return;
    }
    if subject_is_ss() {
        println!("skipping {test}: checks a deviation from ss");
        return;
    }
    let Some(ss71) = ss71_program(test) else {
        return;
    };
    let scene = Scene::build();
    let ns = &scene.ns;
    let all_text = stdout_text(&run_plain(&mut ns.exec(&ss71, words("-an -0"))));
    let all = parse_table(&all_text).rows;
    let mut failures = Vec::new();
    for (query, netid) in [("packet_raw", "p_raw"), ("packet_dgram", "p_dgr")] {
        let args = format!("-an -A {query}");
        let expected: Vec<_> = all
            .iter()
            .filter(|r| r.netid.as_deref() == Some(netid))
            .map(|r| crate::util::Row {
                netid: None,
                ..r.clone()
            })
            .collect();
        if expected.is_empty() {
            failures.push(format!("the scene has no {netid} socket:\n{all_text}"));
            continue;
        }
        let sq_out = run(&mut ns.sockq(words(&args)));
        let sq_text = stdout_text(&sq_out);
        let result = try_parse_table(&sq_text).and_then(|t| {
            compare_rows(&args, &all_text, &expected, &sq_text, &t.rows, Order::Exact)
        });
        if let Err(e) = result {
            failures.push(e);
        }
    }
    assert_no_failures(&failures);
}
