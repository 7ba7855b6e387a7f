//! One run: build the filter, dump each selected table, filter and print
//! every socket as it arrives.

use crate::config::Config;
use crate::error::CliError;
use crate::filtering::{self, FilterSet};
use crate::output::Output;
use sockq_model::{Family, Socket, Table};
use sockq_netlink::{DiagSocket, Error as NlError, InetRequest};
use std::cell::Cell;
use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// How the run ended, for the exit status.
pub struct Outcome {
    /// Exit code.
    pub code: u8,
}

/// The `idiag_ext` bits the output needs: nothing more is asked of the kernel.
fn inet_extensions(cfg: &Config) -> u8 {
    use sockq_netlink::ext;
    let mut e = 0;
    if cfg.show.memory {
        e |= ext::MEMINFO | ext::SKMEMINFO;
    }
    if cfg.show.info {
        e |= ext::INFO | ext::VEGASINFO | ext::CONG;
    }
    if cfg.show.tos {
        e |= ext::TOS | ext::TCLASS;
    }
    e
}

/// Where sockets come from for the TCP table.
pub(crate) enum TcpSource {
    /// A sock_diag dump.
    Kernel,
    /// `TCPDIAG_FILE`: replies saved by `-D`.
    Replay(Vec<u8>),
}

/// What one run dumps, resolved once from the config and the filter.
pub(crate) struct Plan {
    /// The families left after the filter's family restriction.
    pub families: sockq_model::FamilySet,
    /// The tables to dump, in output order.
    pub tables: Vec<Table>,
}

/// Runs the whole command.
pub fn run(cfg: &Config) -> Result<Outcome, CliError> {
    if cfg.all_netns {
        return crate::netns::run_all(cfg);
    }
    if let Some(spec) = &cfg.net {
        let target = crate::netns::Target::parse(spec)?;
        // The whole run happens on a thread inside the namespace: sockets,
        // interface names, /proc/thread-self/net and -s all answer for it.
        return crate::netns::run_inside(&target, || run_here(cfg, true));
    }
    run_here(cfg, false)
}

/// The tables and families a run dumps, or `None` when the filter leaves none.
pub(crate) fn plan(cfg: &Config, filters: &FilterSet) -> Option<Plan> {
    let mut families = cfg.families;
    if let Some(r) = filters.family_restriction() {
        families = sockq_model::FamilySet(families.0 & r.0);
    }
    let tables: Vec<Table> = cfg
        .tables
        .iter_output_order()
        .filter(|t| !sockq_model::FamilySet(t.families().0 & families.0).is_empty())
        .filter(|t| !cfg.kill || t.is_inet())
        .collect();
    if tables.is_empty() {
        return None;
    }
    Some(Plan { families, tables })
}

/// The `/proc` to read network files from: the calling thread's view when
/// it entered another namespace (`/proc/net` follows the main thread).
pub(crate) fn net_root(proc_root: &Path, in_netns: bool) -> PathBuf {
    if in_netns {
        proc_root.join("thread-self")
    } else {
        proc_root.to_path_buf()
    }
}

/// Runs the command in the calling thread's namespace. `in_netns`: the
/// thread entered a namespace of its own (`-N`).
fn run_here(cfg: &Config, in_netns: bool) -> Result<Outcome, CliError> {
    let filters = filtering::build(cfg)?;
    if cfg.kill {
        crate::kill::check_selection(cfg, &filters)?;
    }
    if cfg.explain {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", filters.explain())?;
        return Ok(Outcome { code: 0 });
    }
    if cfg.events {
        return crate::events::run_events(cfg, &filters);
    }
    let Some(plan) = plan(cfg, &filters) else {
        if cfg.kill {
            return Err(CliError::Usage(
                "-K closes inet sockets only: select tcp, udp, raw, sctp or dccp".into(),
            ));
        }
        eprintln_quiet!("sockq: no socket tables to show with such filter");
        return Ok(Outcome { code: 0 });
    };

    let proc_root = PathBuf::from(std::env::var_os("PROC_ROOT").unwrap_or_else(|| "/proc".into()));
    let net_proc = net_root(&proc_root, in_netns);
    if cfg.summary {
        print_summary(cfg, &net_proc)?;
        // As ss: with no table, family or filter given, the summary is all.
        if !cfg.explicit_tables && cfg.filter_words.is_empty() && cfg.filter_file.is_none() {
            return Ok(Outcome { code: 0 });
        }
    }
    if let Some(path) = &cfg.diag_file {
        return write_diag_dump(cfg, &filters, plan.families, path);
    }
    let tcp_source = match std::env::var_os("TCPDIAG_FILE") {
        Some(p) => TcpSource::Replay(std::fs::read(&p).map_err(|e| {
            CliError::Runtime(format!(
                "reading TCPDIAG_FILE {}: {e}",
                Path::new(&p).display()
            ))
        })?),
        None => TcpSource::Kernel,
    };

    let owners = scan_owners(cfg, &filters, &proc_root)?;
    let mut out = Output::new(cfg, owners.as_ref(), &proc_root)?;
    let mut killer = if cfg.kill && !cfg.dry_run {
        Some(crate::kill::Killer::new()?)
    } else {
        None
    };
    let families = plan.families;
    let mut on_socket = |s: &Socket| -> ControlFlow<()> {
        let Some(own) = selected(cfg, families, &filters, owners.as_ref(), s) else {
            return ControlFlow::Continue(());
        };
        if let Some(k) = &mut killer
            && !k.kill(s)
        {
            return ControlFlow::Continue(());
        }
        if let Err(e) = out.socket(s, own) {
            out.set_error(e);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    };
    dump_tables(
        cfg,
        &plan,
        filters.bytecode().as_deref(),
        filters.sends_bytecode(),
        &tcp_source,
        &net_proc,
        &mut on_socket,
    )?;
    out.finish()?;
    if let Some(k) = killer {
        k.outcome()?;
    }
    Ok(Outcome { code: 0 })
}

/// The process map, when `-p` or the filter needs it.
pub(crate) fn scan_owners(
    cfg: &Config,
    filters: &FilterSet,
    proc_root: &Path,
) -> Result<Option<sockq_proc::OwnerMap>, CliError> {
    if !(cfg.show.processes || filters.needs_owners()) {
        return Ok(None);
    }
    let opts = sockq_proc::ScanOptions {
        proc_root: proc_root.to_path_buf(),
        threads: cfg.show.threads,
    };
    let map = sockq_proc::scan(&opts)
        .map_err(|e| CliError::Runtime(format!("scanning processes: {e}")))?;
    if map.denied() > 0 {
        eprintln_quiet!(
            "sockq: {} processes could not be read (permission denied); their sockets show no owner. Run as root to see every owner.",
            map.denied()
        );
    }
    Ok(Some(map))
}

/// The socket's owners when it passes the state mask, the families and the
/// filter; `None` when it is not shown.
pub(crate) fn selected<'m>(
    cfg: &Config,
    families: sockq_model::FamilySet,
    filters: &FilterSet,
    owners: Option<&'m sockq_proc::OwnerMap>,
    s: &Socket,
) -> Option<&'m [sockq_model::Owner]> {
    if !cfg.states.contains(s.state) || !families.contains(s.family) {
        return None;
    }
    let no_owners: &[sockq_model::Owner] = &[];
    let own = owners.map_or(no_owners, |m| m.owners(s.inode));
    filters.matches(s, own).then_some(own)
}

fn open_diag() -> Result<DiagSocket, CliError> {
    DiagSocket::new().map_err(|e| CliError::Netlink {
        context: "opening a sock_diag socket".into(),
        source: e,
    })
}

/// Dumps every table of `plan` in the calling thread's namespace and feeds
/// each socket to `on_socket` until it breaks. `net_proc` is the `/proc`
/// whose `net/` files serve as the fallback.
pub(crate) fn dump_tables(
    cfg: &Config,
    plan: &Plan,
    bytecode: Option<&[u8]>,
    sends_bytecode: bool,
    tcp_source: &TcpSource,
    net_proc: &Path,
    on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
) -> Result<(), CliError> {
    let families = plan.families;
    let stopped = Cell::new(false);
    let mut on_socket = |s: &Socket| {
        let r = on_socket(s);
        if r.is_break() {
            stopped.set(true);
        }
        r
    };
    let mut nl: Option<DiagSocket> = None;
    let ext = inet_extensions(cfg);
    let mut dumped = sockq_model::FamilySet::EMPTY;
    'tables: for &table in &plan.tables {
        if table.is_inet() {
            if table == Table::Tcp
                && let TcpSource::Replay(data) = tcp_source
            {
                sockq_netlink::replay(data, &mut on_socket)
                    .map_err(|e| CliError::Runtime(format!("replaying TCPDIAG_FILE: {e}")))?;
                continue;
            }
            // TCP in both families with few IPv6 sockets: one kernel walk
            // instead of two (see sockq_netlink::both). `None` stands for both.
            let both = table == Table::Tcp
                && families.contains(Family::Inet)
                && families.contains(Family::Inet6)
                && sockq_netlink::tcp6_in_use(net_proc).is_some_and(|n| n <= BOTH_MAX_V6);
            let units: &[Option<Family>] = if both {
                &[None]
            } else {
                &[Some(Family::Inet), Some(Family::Inet6)]
            };
            for &unit in units {
                let family = unit.unwrap_or(Family::Inet);
                if !families.contains(family) {
                    continue;
                }
                let req = InetRequest {
                    family,
                    table,
                    states: cfg.states,
                    extensions: ext,
                    bytecode: bytecode.map(<[u8]>::to_vec),
                };
                let sock = match &mut nl {
                    Some(s) => s,
                    None => nl.insert(open_diag()?),
                };
                let result = if unit.is_some() {
                    sock.dump_inet(&req, &mut on_socket)
                } else {
                    sock.dump_tcp_both(&req, &mut on_socket)
                };
                match result {
                    Ok(()) => {}
                    Err(NlError::ProtocolMissing { .. })
                        if sockq_netlink::procnet::proc_path(table, family, net_proc).is_some() =>
                    {
                        // No diag module (raw here): read /proc/net as ss does.
                        match sockq_netlink::procnet::read_inet(
                            table,
                            family,
                            cfg.states,
                            net_proc,
                            &mut on_socket,
                        ) {
                            Ok(()) => {}
                            // A kernel without IPv6 or UDP-Lite has no file.
                            Err(NlError::Io { source, .. })
                                if source.kind() == std::io::ErrorKind::NotFound => {}
                            Err(e) => {
                                return Err(CliError::Netlink {
                                    context: format!("{table}"),
                                    source: e,
                                });
                            }
                        }
                    }
                    Err(NlError::ProtocolMissing { what }) => {
                        out_warn(&format!(
                            "{what}: not supported by this kernel (no sock_diag module); {table} sockets are not shown"
                        ));
                        continue 'tables;
                    }
                    // Retried already (sockq_netlink::retry_interrupted): the
                    // rows read are shown, and the gap is said.
                    Err(NlError::DumpInterrupted { attempts }) => {
                        out_warn(&format!(
                            "the {table} table changed or replies were dropped during each of {attempts} dumps; rows may be missing"
                        ));
                    }
                    Err(NlError::Kernel { errno, context }) if errno == EPERM && sends_bytecode => {
                        return Err(CliError::Runtime(format!(
                            "{context}: the kernel refused the filter (permission denied): fwmark filters need CAP_NET_ADMIN, run as root"
                        )));
                    }
                    Err(e) => {
                        return Err(CliError::Netlink {
                            context: format!("dumping {table}"),
                            source: e,
                        });
                    }
                }
                if stopped.get() {
                    break 'tables;
                }
            }
        } else {
            // One dump per family, however many of its tables are selected.
            let Some(family) = table.families().iter().next() else {
                continue;
            };
            if dumped.contains(family) {
                continue;
            }
            dumped = dumped.with(family);
            let sock = match &mut nl {
                Some(s) => s,
                None => nl.insert(open_diag()?),
            };
            match crate::families::dump(family, cfg, cfg.tables, sock, &mut on_socket) {
                Ok(()) => {}
                Err(NlError::ProtocolMissing { what }) => {
                    out_warn(&format!(
                        "{what}: not supported by this kernel (no sock_diag module); {family} sockets are not shown"
                    ));
                }
                Err(NlError::DumpInterrupted { attempts }) => {
                    out_warn(&format!(
                        "the {family} socket table changed or replies were dropped during each of {attempts} dumps; rows may be missing"
                    ));
                }
                Err(e) => {
                    return Err(CliError::Netlink {
                        context: format!("dumping {family}"),
                        source: e,
                    });
                }
            }
        }
        if stopped.get() {
            break;
        }
    }
    Ok(())
}

/// Up to this many IPv6 TCP sockets, their replies are held while the
/// single walk of both families returns IPv4 first (about 130 bytes each, 440 with `-i`).
const BOTH_MAX_V6: u64 = 20_000;

/// EPERM: the kernel's answer to a MARK_COND op without CAP_NET_ADMIN.
const EPERM: i32 = 1;

/// One line on stderr for what cannot be shown (never silence).
fn out_warn(msg: &str) {
    eprintln_quiet!("sockq: {msg}");
}

/// `-D FILE`: write the raw TCP replies that pass the filter, each family's
/// dump ending with NLMSG_DONE, in the format `TCPDIAG_FILE` replays.
fn write_diag_dump(
    cfg: &Config,
    filters: &FilterSet,
    families: sockq_model::FamilySet,
    path: &Path,
) -> Result<Outcome, CliError> {
    if !cfg.tables.contains(Table::Tcp) {
        return Err(CliError::Usage(
            "-D writes TCP replies: select TCP (-t)".into(),
        ));
    }
    let mut w: Box<dyn Write> = if path.as_os_str().to_string_lossy().starts_with('-') {
        Box::new(std::io::BufWriter::new(std::io::stdout().lock()))
    } else {
        Box::new(std::io::BufWriter::new(
            std::fs::File::create(path)
                .map_err(|e| CliError::Runtime(format!("creating {}: {e}", path.display())))?,
        ))
    };
    let mut nl = DiagSocket::new().map_err(|e| CliError::Netlink {
        context: "opening a sock_diag socket".into(),
        source: e,
    })?;
    for family in [Family::Inet, Family::Inet6] {
        if !families.contains(family) {
            continue;
        }
        let req = InetRequest {
            family,
            table: Table::Tcp,
            states: cfg.states,
            extensions: inet_extensions(cfg),
            bytecode: filters.bytecode(),
        };
        let bytes = req.to_bytes(0).map_err(|e| CliError::Netlink {
            context: "building the request".into(),
            source: e,
        })?;
        let mut io_err: Option<std::io::Error> = None;
        nl.dump_raw(&bytes, &mut |ty, payload| {
            if ty == sockq_netlink::msg::SOCK_DIAG_BY_FAMILY {
                let s = sockq_netlink::decode_inet(payload, Table::Tcp)?;
                if filters.matches(&s, &[])
                    && let Err(e) = write_message(&mut w, ty, payload)
                {
                    io_err = Some(e);
                    return Ok(ControlFlow::Break(()));
                }
            }
            Ok(ControlFlow::Continue(()))
        })
        .map_err(|e| CliError::Netlink {
            context: "dumping tcp".into(),
            source: e,
        })?;
        if let Some(e) = io_err {
            return Err(e.into());
        }
        write_message(&mut w, 3, &0i32.to_ne_bytes())?;
    }
    w.flush()?;
    Ok(Outcome { code: 0 })
}

/// Writes one netlink message as ss's `-D` does: header in host order,
/// NLM_F_MULTI, ss's sequence number, padded to 4 bytes.
fn write_message(w: &mut dyn Write, ty: u16, payload: &[u8]) -> std::io::Result<()> {
    let len = 16 + payload.len();
    let mut hdr = [0u8; 16];
    hdr[0..4].copy_from_slice(&(len as u32).to_ne_bytes());
    hdr[4..6].copy_from_slice(&ty.to_ne_bytes());
    hdr[6..8].copy_from_slice(&2u16.to_ne_bytes());
    hdr[8..12].copy_from_slice(&123456u32.to_ne_bytes());
    w.write_all(&hdr)?;
    w.write_all(payload)?;
    let pad = (4 - len % 4) % 4;
    w.write_all(&[0u8; 3][..pad])
}

/// `-s`: counts every TCP, UDP and RAW socket of this namespace from its
/// own dumps (all states, both families), then prints ss's summary layout,
/// or a JSON object with `--json`.
fn print_summary(cfg: &Config, net_proc: &Path) -> Result<(), CliError> {
    use crate::printer::summary::{Sockstat, SummaryCounts, write_summary};
    let mut counts = SummaryCounts::default();
    let mut missing: Vec<Table> = Vec::new();
    let mut nl = DiagSocket::new().map_err(|e| CliError::Netlink {
        context: "opening a sock_diag socket".into(),
        source: e,
    })?;
    for table in [Table::Raw, Table::Udp, Table::Tcp] {
        for family in [Family::Inet, Family::Inet6] {
            let req = InetRequest::new(family, table);
            let mut add = |s: &Socket| {
                counts.add(s);
                ControlFlow::Continue(())
            };
            let r = match nl.dump_inet(&req, &mut add) {
                Err(NlError::ProtocolMissing { .. }) => sockq_netlink::procnet::read_inet(
                    table,
                    family,
                    sockq_model::StateSet::ALL,
                    net_proc,
                    &mut add,
                ),
                r => r,
            };
            if r.is_err() && !missing.contains(&table) {
                missing.push(table);
            }
        }
    }
    // net_proc is /proc/thread-self when this thread entered a namespace.
    let read = |f: &str| {
        std::fs::read_to_string(net_proc.join("net").join(f))
            .map(|t| Sockstat::parse(&t))
            .unwrap_or_default()
    };
    counts.fill_missing(&read("sockstat"), &read("sockstat6"), &missing);
    let mut out = Vec::new();
    if cfg.format == crate::config::Format::Table {
        write_summary(&mut out, &counts);
    } else {
        crate::printer::json::summary(&mut out, &counts);
    }
    let mut w = std::io::stdout().lock();
    w.write_all(&out)?;
    w.flush()?;
    Ok(())
}
