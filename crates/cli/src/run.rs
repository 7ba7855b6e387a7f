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
enum TcpSource {
    Kernel,
    Replay(Vec<u8>),
}

/// Runs the whole command.
pub fn run(cfg: &Config) -> Result<Outcome, CliError> {
    let filters = filtering::build(cfg)?;
    if cfg.explain {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", filters.explain())?;
        return Ok(Outcome { code: 0 });
    }
    let mut families = cfg.families;
    if let Some(r) = filters.family_restriction() {
        families = sockq_model::FamilySet(families.0 & r.0);
    }
    let tables: Vec<Table> = cfg
        .tables
        .iter_output_order()
        .filter(|t| !sockq_model::FamilySet(t.families().0 & families.0).is_empty())
        .collect();
    if tables.is_empty() {
        eprintln!("sockq: no socket tables to show with such filter");
        return Ok(Outcome { code: 0 });
    }

    let proc_root = PathBuf::from(std::env::var_os("PROC_ROOT").unwrap_or_else(|| "/proc".into()));
    if cfg.summary {
        print_summary(cfg, &proc_root)?;
        // As ss: with no table, family or filter given, the summary is all.
        if !cfg.explicit_tables && cfg.filter_words.is_empty() && cfg.filter_file.is_none() {
            return Ok(Outcome { code: 0 });
        }
    }
    if let Some(path) = &cfg.diag_file {
        return write_diag_dump(cfg, &filters, families, path);
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

    let owners = if cfg.show.processes || filters.needs_owners() {
        let opts = sockq_proc::ScanOptions {
            proc_root: proc_root.clone(),
            threads: cfg.show.threads,
        };
        let map = sockq_proc::scan(&opts)
            .map_err(|e| CliError::Runtime(format!("scanning processes: {e}")))?;
        if map.denied() > 0 {
            eprintln!(
                "sockq: {} processes could not be read (permission denied); their sockets show no owner. Run as root to see every owner.",
                map.denied()
            );
        }
        Some(map)
    } else {
        None
    };

    let mut out = Output::new(cfg, owners.as_ref(), &proc_root)?;
    let mut nl: Option<DiagSocket> = None;
    let ext = inet_extensions(cfg);
    let failed = Cell::new(false);
    let mut on_socket = |s: &Socket| -> ControlFlow<()> {
        if !cfg.states.contains(s.state) || !families.contains(s.family) {
            return ControlFlow::Continue(());
        }
        let no_owners: &[sockq_model::Owner] = &[];
        let own = owners.as_ref().map_or(no_owners, |m| m.owners(s.inode));
        if !filters.matches(s, own) {
            return ControlFlow::Continue(());
        }
        if let Err(e) = out.socket(s, own) {
            out.set_error(e);
            failed.set(true);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    };

    let mut dumped = sockq_model::FamilySet::EMPTY;
    'tables: for table in tables {
        if table.is_inet() {
            if table == Table::Tcp {
                if let TcpSource::Replay(data) = &tcp_source {
                    sockq_netlink::replay(data, &mut on_socket)
                        .map_err(|e| CliError::Runtime(format!("replaying TCPDIAG_FILE: {e}")))?;
                    continue;
                }
            }
            for family in [Family::Inet, Family::Inet6] {
                if !families.contains(family) {
                    continue;
                }
                let req = InetRequest {
                    family,
                    table,
                    states: cfg.states,
                    extensions: ext,
                    bytecode: filters.bytecode(),
                };
                let sock = match &mut nl {
                    Some(s) => s,
                    None => nl.insert(DiagSocket::new().map_err(|e| CliError::Netlink {
                        context: "opening a sock_diag socket".into(),
                        source: e,
                    })?),
                };
                match sock.dump_inet(&req, &mut on_socket) {
                    Ok(()) => {}
                    Err(NlError::ProtocolMissing { .. })
                        if sockq_netlink::procnet::proc_path(table, family, &proc_root)
                            .is_some() =>
                    {
                        // No diag module (raw here): read /proc/net as ss does.
                        match sockq_netlink::procnet::read_inet(
                            table,
                            family,
                            cfg.states,
                            &proc_root,
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
                        out_warn(&format!("{what}; {table} sockets are not shown"));
                        continue 'tables;
                    }
                    Err(NlError::Kernel { errno, context })
                        if errno == EPERM && filters.sends_bytecode() =>
                    {
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
                if failed.get() {
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
                None => nl.insert(DiagSocket::new().map_err(|e| CliError::Netlink {
                    context: "opening a sock_diag socket".into(),
                    source: e,
                })?),
            };
            match crate::families::dump(family, cfg, cfg.tables, sock, &mut on_socket) {
                Ok(()) => {}
                Err(NlError::ProtocolMissing { what }) => {
                    out_warn(&format!("{what}; {family} sockets are not shown"));
                }
                Err(e) => {
                    return Err(CliError::Netlink {
                        context: format!("dumping {family}"),
                        source: e,
                    });
                }
            }
        }
        if failed.get() {
            break;
        }
    }
    drop(on_socket);
    out.finish()?;
    Ok(Outcome { code: 0 })
}

/// EPERM: the kernel's answer to a MARK_COND op without CAP_NET_ADMIN.
const EPERM: i32 = 1;

/// One line on stderr for what cannot be shown (never silence).
fn out_warn(msg: &str) {
    eprintln!("sockq: {msg}");
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
                if filters.matches(&s, &[]) {
                    if let Err(e) = write_message(&mut w, ty, payload) {
                        io_err = Some(e);
                        return Ok(ControlFlow::Break(()));
                    }
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
fn print_summary(cfg: &Config, proc_root: &Path) -> Result<(), CliError> {
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
                    proc_root,
                    &mut add,
                ),
                r => r,
            };
            if r.is_err() && !missing.contains(&table) {
                missing.push(table);
            }
        }
    }
    // Per-thread /proc view: right even when this thread entered a namespace.
    let read = |f: &str| {
        std::fs::read_to_string(proc_root.join("thread-self/net").join(f))
            .or_else(|_| std::fs::read_to_string(proc_root.join("net").join(f)))
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
