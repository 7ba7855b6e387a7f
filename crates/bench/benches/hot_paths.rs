//! Criterion micro-benchmarks of sockq's hot paths (issue #8):
//!
//! * `decode/*`: sock_diag reply bytes into `Socket` records
//!   ([`sockq_netlink::decode_inet`], [`sockq_netlink::dump_from_bytes`],
//!   [`sockq_netlink::replay()`]).
//! * `filter/*`: parsing and compiling filter expressions (compiling builds
//!   the kernel bytecode too) and [`sockq_filter::Filter::matches`].
//! * `format/*`: one table row as `-tan` and `-tanoie` print it, and one JSON
//!   object, through the CLI's public printer pieces.
//! * `proc/*`: [`sockq_proc::scan`] over the real `/proc` and over a
//!   synthetic proc tree of fake pids whose `fd/` entries are symlinks.
//!
//! Inputs are real bytes: iproute2's `ss1.dump` (beside the repository in
//! `shared/fixtures/`, no tcp_info) and the Linux 6.18 captures in
//! `crates/netlink/tests/fixtures/` (280-byte tcp_info, skmem, BBR…), their
//! socket messages repeated to [`MESSAGES`] per buffer. Records for the filter
//! and format benches are decoded from those bytes.
//!
//! Run: `cargo bench -p sockq-bench --bench hot_paths`. Throughput is in
//! messages, records, rows or fds, so Criterion's `elem/s` gives the per-item
//! cost directly.
// Fixtures are the repository's own files: failing loudly on a missing one
// is what a benchmark should do.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sockq_cli::config::Show;
use sockq_cli::names::Names;
use sockq_cli::printer::ext::{ExtOptions, write_ext};
use sockq_cli::printer::json::JsonPrinter;
use sockq_cli::printer::row::socket_tokens;
use sockq_cli::printer::table::{Layout, TablePrinter};
use sockq_filter::{Env, compile, parse};
use sockq_model::{Family, Owner, ProcessInfo, Socket, Table, TableSet};
use sockq_netlink::held::Held;
use sockq_netlink::msg::{self, Messages, NLMSG_DONE, SOCK_DIAG_BY_FAMILY};
use sockq_netlink::{HOLD_BUDGET, decode_inet, dump_from_bytes, replay};
use sockq_proc::ScanOptions;
use std::hint::black_box;
use std::io::Write as _;
use std::net::IpAddr;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Socket messages per replicated reply buffer (a busy host's TCP dump).
const MESSAGES: usize = 1000;

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read_fixture(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading fixture {}: {e}", path.display()))
}

/// iproute2's testsuite dump: 7 TCP sockets (4 IPv4, 3 IPv6), two DONEs.
fn ss1_dump() -> Vec<u8> {
    read_fixture(&manifest_dir().join("../../../shared/fixtures/ss1.dump"))
}

/// A Linux 6.18 capture from the netlink crate's fixtures.
fn netlink_fixture(name: &str) -> Vec<u8> {
    read_fixture(&manifest_dir().join("../netlink/tests/fixtures").join(name))
}

/// The socket messages (header and payload, padded to 4 bytes) of a dump,
/// without DONE/ERROR/NOOP.
fn socket_messages(dump: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for m in Messages::new(dump) {
        let (h, _, at) = m.expect("fixture dump parses");
        if h.ty == SOCK_DIAG_BY_FAMILY {
            let end = at + msg::align4(h.len as usize);
            out.push(dump[at..end.min(dump.len())].to_vec());
        }
    }
    assert!(!out.is_empty(), "fixture has socket messages");
    out
}

/// One reply buffer: `msgs` repeated round-robin to `n` messages, then one
/// NLMSG_DONE, as a multi-part dump's datagrams concatenated.
fn replicate(msgs: &[Vec<u8>], n: usize) -> Vec<u8> {
    let mut buf = Vec::with_capacity(msgs.iter().map(Vec::len).sum::<usize>() * n / msgs.len());
    for m in msgs.iter().cycle().take(n) {
        buf.extend_from_slice(m);
    }
    // nlmsghdr {len 20, type DONE, flags MULTI, seq 0, pid 0} + int error 0.
    buf.extend_from_slice(&20u32.to_ne_bytes());
    buf.extend_from_slice(&NLMSG_DONE.to_ne_bytes());
    buf.extend_from_slice(&msg::NLM_F_MULTI.to_ne_bytes());
    buf.extend_from_slice(&[0u8; 12]);
    buf
}

/// The two inputs: without and with tcp_info.
struct Inputs {
    /// `ss1.dump`'s 7 sockets (SHUTDOWN and V6ONLY attributes only).
    plain: Vec<u8>,
    /// The 6.18 captures' TCP sockets: listeners and both ends of an
    /// established connection, each with INFO (280 bytes), MEMINFO, SKMEMINFO,
    /// CONG, TOS, CGROUP_ID, SOCKOPT; the established ones with BBRINFO.
    tcp_info: Vec<u8>,
}

impl Inputs {
    fn load() -> Inputs {
        let plain = socket_messages(&ss1_dump());
        let mut rich = Vec::new();
        for f in ["tcp4_listen.bin", "tcp4_estab.bin", "tcp6_listeners.bin"] {
            rich.extend(socket_messages(&netlink_fixture(f)));
        }
        let inputs = Inputs {
            plain: replicate(&plain, MESSAGES),
            tcp_info: replicate(&rich, MESSAGES),
        };
        // The inputs are what their names say.
        let p = decode_all(&inputs.plain);
        let r = decode_all(&inputs.tcp_info);
        assert_eq!((p.len(), r.len()), (MESSAGES, MESSAGES));
        assert!(p.iter().all(|s| s.tcp_info.is_none()));
        assert!(r.iter().all(|s| s.tcp_info.is_some() && s.skmem.is_some()));
        inputs
    }

    fn sets(&self) -> [(&'static str, &[u8]); 2] {
        [("plain", &self.plain), ("tcp_info", &self.tcp_info)]
    }
}

/// Every socket record of a buffer, as `DiagSocket::dump_inet` decodes them.
fn decode_all(buf: &[u8]) -> Vec<Socket> {
    let mut out = Vec::with_capacity(MESSAGES);
    dump_from_bytes(buf, &mut |ty, payload| {
        if ty == SOCK_DIAG_BY_FAMILY {
            out.push(decode_inet(payload, Table::Tcp)?);
        }
        Ok(ControlFlow::Continue(()))
    })
    .expect("fixture buffer decodes");
    out
}

fn bench_decode(c: &mut Criterion) {
    let inputs = Inputs::load();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(MESSAGES as u64));
    for (name, buf) in inputs.sets() {
        // The decoder alone, over payloads already split out.
        let payloads: Vec<&[u8]> = Messages::new(buf)
            .filter_map(|m| m.ok())
            .filter(|(h, _, _)| h.ty == SOCK_DIAG_BY_FAMILY)
            .map(|(_, p, _)| p)
            .collect();
        g.bench_with_input(BenchmarkId::new("decode_inet", name), &payloads, |b, ps| {
            b.iter(|| {
                for p in ps {
                    black_box(decode_inet(black_box(p), Table::Tcp).ok());
                }
            });
        });
        // The live dump path: the dump loop's message walk and DONE
        // handling, then decode_inet per message (as dump_inet does).
        g.bench_with_input(BenchmarkId::new("dump_from_bytes", name), buf, |b, buf| {
            b.iter(|| {
                let mut n = 0usize;
                dump_from_bytes(black_box(buf), &mut |ty, payload| {
                    if ty == SOCK_DIAG_BY_FAMILY {
                        black_box(decode_inet(payload, Table::Tcp)?);
                        n += 1;
                    }
                    Ok(ControlFlow::Continue(()))
                })
                .ok();
                n
            });
        });
        // Holding replies back (the IPv6 half of a both-families walk):
        // delta-encoding them, then decoding them in order.
        g.bench_with_input(BenchmarkId::new("held_push", name), &payloads, |b, ps| {
            b.iter(|| {
                let mut h = Held::new(HOLD_BUDGET);
                for p in ps {
                    h.push(black_box(p));
                }
                h.encoded_len()
            });
        });
        let mut held = Held::new(HOLD_BUDGET);
        for p in &payloads {
            assert!(held.push(p), "1,000 fixture replies fit the budget");
        }
        g.bench_with_input(BenchmarkId::new("held_iter", name), &held, |b, h| {
            b.iter(|| {
                let mut it = h.iter();
                let mut n = 0usize;
                while let Some(Ok(p)) = it.next_reply() {
                    n += black_box(p).len();
                }
                n
            });
        });
        // `TCPDIAG_FILE` replay of a dump file.
        g.bench_with_input(BenchmarkId::new("replay", name), buf, |b, buf| {
            b.iter(|| {
                let mut n = 0usize;
                replay(black_box(buf), &mut |s| {
                    black_box(s);
                    n += 1;
                    ControlFlow::Continue(())
                })
                .ok();
                n
            });
        });
    }
    g.finish();
}

/// A fixed host: a few services, no DNS, no interfaces (the CLI's real
/// environment would time the services file and DNS instead).
struct FixedEnv;

impl Env for FixedEnv {
    fn service_port(&self, name: &str, _tcp: bool, _udp: bool) -> Result<Option<u16>, String> {
        Ok(match name {
            "ssh" => Some(22),
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        })
    }
    fn resolve_host(&self, _: &str, _: Option<Family>) -> Vec<IpAddr> {
        Vec::new()
    }
    fn interface_index(&self, name: &str) -> Option<u32> {
        (name == "lo").then_some(1)
    }
    fn cgroup_id(&self, _: &str) -> Option<u64> {
        None
    }
    fn ephemeral_ports(&self) -> (u16, u16) {
        (32768, 60999)
    }
    fn preferred_family(&self) -> Option<Family> {
        None
    }
    fn tables(&self) -> TableSet {
        TableSet::of(&[Table::Tcp])
    }
    fn user_id(&self, _: &str) -> Option<u32> {
        None
    }
}

/// Filters timed: two of iproute2's ssfilter.t cases (spec 8.4) and a
/// larger expression with services, a prefix, `not` and ranges.
const FILTERS: [(&str, &str); 3] = [
    ("ssfilter1", "dport = 22"),
    (
        "ssfilter12",
        "( src 0.0.0.0 or src 10.0.0.1 ) and dst 10.0.0.2",
    ),
    (
        "complex",
        "( sport = :ssh or sport = :http or sport = :https ) and not dst 10.0.0.0/8 \
         or ( dport >= :1024 and dport <= :65535 and src 10.0.0.1 )",
    ),
];

fn bench_filter(c: &mut Criterion) {
    let inputs = Inputs::load();
    let plain = decode_all(&inputs.plain);
    let rich = decode_all(&inputs.tcp_info);
    let no_owners: &[Owner] = &[];

    let mut g = c.benchmark_group("filter");
    for (name, src) in FILTERS {
        let expr = parse(src).expect("benchmark filter parses");
        let f = compile(&expr, &FixedEnv).expect("benchmark filter compiles");
        assert!(f.bytecode().is_some(), "{name} has a kernel program");
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::new("parse", name), src, |b, src| {
            b.iter(|| parse(black_box(src)).ok());
        });
        // AST to Filter: values resolved, predicate tree and inet_diag
        // bytecode built and audited.
        g.bench_with_input(BenchmarkId::new("compile", name), &expr, |b, e| {
            b.iter(|| compile(black_box(e), &FixedEnv).ok());
        });
        g.throughput(Throughput::Elements(MESSAGES as u64));
        for (set, socks) in [("plain", &plain), ("tcp_info", &rich)] {
            let id = BenchmarkId::new(format!("matches/{name}"), set);
            g.bench_with_input(id, socks, |b, socks| {
                b.iter(|| {
                    socks
                        .iter()
                        .filter(|s| f.matches(black_box(s), no_owners))
                        .count()
                });
            });
        }
    }
    g.finish();
}

/// The Ext options of `-o -i -e` (`-tanoie`), as `Output` sets them.
fn ext_oie() -> ExtOptions {
    ExtOptions {
        timers: true,
        extended: true,
        info: true,
        numeric: true,
        ..ExtOptions::default()
    }
}

/// One table row as `Output::emit` writes it without processes: the eight
/// address tokens, the (empty) Process token, the Ext token.
fn table_row<W: std::io::Write>(
    p: &mut TablePrinter<W>,
    s: &Socket,
    names: &Names,
    ext: &ExtOptions,
) {
    socket_tokens(p, s, names);
    p.cut();
    write_ext(p.buf(), s, ext, &|_| None);
    p.cut();
    p.end_row().ok();
}

fn bench_format(c: &mut Criterion) {
    let inputs = Inputs::load();
    // `-n`: no services file or DNS in the loop.
    let names = Names::new(true, false);
    let no_info = |_: u32| -> Option<&ProcessInfo> { None };
    // `-t -a`: one table, all states: no Netid column, State shown.
    let layout = Layout::new(false, true, true, false);
    let tan = ExtOptions {
        numeric: true,
        ..ExtOptions::default()
    };
    let oie = ext_oie();
    let show_oie = Show {
        timers: true,
        extended: true,
        info: true,
        ..Show::default()
    };

    let mut g = c.benchmark_group("format");
    g.throughput(Throughput::Elements(MESSAGES as u64));
    for (set, buf) in inputs.sets() {
        let socks = decode_all(buf);
        // Rows are buffered, aligned and rendered into a sink at `finish`,
        // as the printer does for every chunk: the time is per printed row.
        for (flags, ext) in [("tan", &tan), ("tanoie", &oie)] {
            let id = BenchmarkId::new(format!("table_{flags}"), set);
            g.bench_with_input(id, &socks, |b, socks| {
                b.iter(|| {
                    let mut p = TablePrinter::new(std::io::sink(), layout);
                    for s in socks {
                        table_row(&mut p, black_box(s), &names, ext);
                    }
                    p.finish().ok();
                });
            });
        }
        for (flags, show) in [("tan", Show::default()), ("tanoie", show_oie)] {
            let id = BenchmarkId::new(format!("json_{flags}"), set);
            g.bench_with_input(id, &socks, |b, socks| {
                b.iter(|| {
                    let mut j = JsonPrinter::new(std::io::sink(), false);
                    for s in socks {
                        j.socket(black_box(s), &[], &show, &names, &no_info, &|_| None)
                            .ok();
                    }
                    j.finish().ok();
                });
            });
        }
    }
    g.finish();
}

/// A fake proc root: `pids` directories, each with a `stat` and an `fd/` of
/// `fds` symlinks; all but the first three (stdio) point at `socket:[N]`.
/// Removed on drop.
struct FakeProc {
    root: PathBuf,
}

impl FakeProc {
    fn new(pids: u32, fds: u32) -> FakeProc {
        // tmpfs when there is one, so the disk's filesystem is not timed.
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let root = base.join(format!(
            "sockq-bench-proc-{}-{pids}x{fds}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        let mut inode = 100_000u32;
        for pid in 1000..1000 + pids {
            let dir = root.join(pid.to_string());
            let fd_dir = dir.join("fd");
            std::fs::create_dir_all(&fd_dir).expect("creating the fake proc tree");
            let mut stat = std::fs::File::create(dir.join("stat")).expect("fake stat");
            writeln!(
                stat,
                "{pid} (worker-{pid}) S 1 {pid} {pid} 0 -1 4194560 0 0 0 0"
            )
            .expect("fake stat");
            for fd in 0..fds {
                let target = if fd < 3 {
                    "/dev/null".to_string()
                } else {
                    inode += 1;
                    format!("socket:[{inode}]")
                };
                std::os::unix::fs::symlink(target, fd_dir.join(fd.to_string()))
                    .expect("fake fd symlink");
            }
        }
        FakeProc { root }
    }
}

impl Drop for FakeProc {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// How many fd entries the real `/proc` has now (for the report).
fn count_proc_fds() -> (usize, usize) {
    let mut pids = 0;
    let mut fds = 0;
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if e.file_name().to_string_lossy().parse::<u32>().is_ok() {
            pids += 1;
            fds += std::fs::read_dir(e.path().join("fd"))
                .map(|d| d.count())
                .unwrap_or(0);
        }
    }
    (pids, fds)
}

fn bench_proc(c: &mut Criterion) {
    let mut g = c.benchmark_group("proc");
    let (pids, fds) = count_proc_fds();
    eprintln!("proc/scan/real: /proc has {pids} pids and {fds} fds now");
    g.throughput(Throughput::Elements(fds as u64));
    let real = ScanOptions::default();
    g.bench_function("scan/real", |b| {
        b.iter(|| sockq_proc::scan(black_box(&real)).map(|m| m.holders()).ok());
    });
    // Many small processes, and a few with thousands of fds (split into
    // chunks between the two scan workers).
    for (pids, fds) in [(200u32, 50u32), (4, 5000)] {
        let fake = FakeProc::new(pids, fds);
        let opts = ScanOptions {
            proc_root: fake.root.clone(),
            threads: false,
        };
        let holders = sockq_proc::scan(&opts).map(|m| m.holders()).unwrap_or(0);
        assert_eq!(
            holders,
            (pids * (fds - 3)) as usize,
            "fake tree fully found"
        );
        g.throughput(Throughput::Elements(u64::from(pids * fds)));
        g.bench_function(format!("scan/synthetic_{pids}x{fds}"), |b| {
            b.iter(|| sockq_proc::scan(black_box(&opts)).map(|m| m.holders()).ok());
        });
    }
    g.finish();
}

criterion_group! {
    name = hot_paths;
    config = Criterion::default().measurement_time(Duration::from_secs(3));
    targets = bench_decode, bench_filter, bench_format, bench_proc
}
criterion_main!(hot_paths);
