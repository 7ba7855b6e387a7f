//! Stage 3 of a run: where sockets come from. A source yields
//! [`Socket`]s to a callback and knows nothing of selection or printing:
//!
//! * [`Dump`]: the kernel's sock_diag dumps of the plan's tables, with the
//!   `/proc/net` fallback for a table without a diag module, and the replay
//!   of `TCPDIAG_FILE` and `--replay`;
//! * [`events`]: the sock_diag event socket (`-E`);
//! * [`summary`]: the all-states dumps and `sockstat` files `-s` counts;
//! * [`diag_file`]: `-D`, the raw TCP replies written to a file.
//!
//! Sources run in the calling thread's network namespace.

pub mod diag_file;
pub mod events;
pub mod families;
pub mod listeners;
pub mod summary;
pub mod unix_peers;

use crate::config::Config;
use crate::error::CliError;
use sockq_model::{Family, FamilySet, Socket, Table};
use sockq_netlink::{DiagSocket, Error as NlError, InetRequest, ReplayMode};
use std::cell::{Cell, RefCell};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// Where sockets come from for the TCP table.
pub enum TcpSource {
    /// A sock_diag dump.
    Kernel,
    /// A `-D` dump file, read as it streams (bounded memory).
    Replay {
        /// The open file (a FIFO is opened once).
        file: RefCell<std::fs::File>,
        /// `PATH (TCPDIAG_FILE)` or `PATH (--replay)`, for messages.
        what: String,
        /// `TCPDIAG_FILE` replays ss's way (the first dump, no state mask
        /// or family check); `--replay` the whole file.
        mode: ReplayMode,
    },
}

impl TcpSource {
    /// `--replay FILE`, else `TCPDIAG_FILE` when set, else the kernel.
    pub fn of(cfg: &Config) -> Result<TcpSource, CliError> {
        let (path, what, mode) = if let Some(p) = &cfg.replay {
            (p.clone(), "--replay", ReplayMode::Whole)
        } else if let Some(p) = std::env::var_os("TCPDIAG_FILE") {
            (PathBuf::from(p), "TCPDIAG_FILE", ReplayMode::FirstDump)
        } else {
            return Ok(TcpSource::Kernel);
        };
        let what = format!(
            "{} ({what})",
            crate::sanitize::escaped(path.as_os_str().as_encoded_bytes())
        );
        let file = std::fs::File::open(&path)
            .map_err(|e| CliError::Runtime(format!("reading {what}: {e}")))?;
        Ok(TcpSource::Replay {
            file: RefCell::new(file),
            what,
            mode,
        })
    }

    /// Whether TCP rows skip the state mask and the family check (ss's
    /// `TCPDIAG_FILE` replay applies only the filter expression).
    pub fn unmasked(&self) -> bool {
        matches!(
            self,
            TcpSource::Replay {
                mode: ReplayMode::FirstDump,
                ..
            }
        )
    }
}

/// The `/proc` to read network files from: the calling thread's view when
/// it entered another namespace (`/proc/net` follows the main thread).
pub fn net_root(proc_root: &Path, in_netns: bool) -> PathBuf {
    if in_netns {
        proc_root.join("thread-self")
    } else {
        proc_root.to_path_buf()
    }
}

/// The dumps of one run in one namespace.
pub struct Dump<'a> {
    /// States and tables asked for (the non-inet families filter by table).
    pub cfg: &'a Config,
    /// The tables to dump, in output order.
    pub tables: &'a [Table],
    /// The families to dump.
    pub families: FamilySet,
    /// `idiag_ext` bits.
    pub extensions: u8,
    /// The filter's kernel bytecode.
    pub bytecode: Option<&'a [u8]>,
    /// Whether bytecode is sent (an EPERM then means fwmark needs root).
    pub sends_bytecode: bool,
    /// The TCP table's source.
    pub tcp: &'a TcpSource,
    /// The `/proc` whose `net/` files serve as the fallback.
    pub net_proc: &'a Path,
}

/// How an inet dump failure is taken.
enum Missing {
    /// The rest of the table is skipped (said on stderr).
    SkipTable,
    /// The dump goes on with the next family.
    Continue,
}

impl Dump<'_> {
    /// Dumps every table and feeds each socket to `on_socket` until it breaks.
    pub fn run(
        &self,
        on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
    ) -> Result<(), CliError> {
        let stopped = Cell::new(false);
        let mut on_socket = |s: &Socket| {
            let r = on_socket(s);
            if r.is_break() {
                stopped.set(true);
            }
            r
        };
        let mut nl: Option<DiagSocket> = None;
        let mut dumped = FamilySet::EMPTY;
        for &table in self.tables {
            if table == Table::Tcp
                && let TcpSource::Replay { file, what, mode } = self.tcp
            {
                let mut file = file.borrow_mut();
                match sockq_netlink::replay_reader(&mut *file, *mode, &mut on_socket) {
                    Ok(()) => {}
                    // Captured from a dump the kernel flagged: every row is
                    // shown, and the gap is said, as for a live dump.
                    Err(NlError::DumpInterrupted { .. }) => warn(&format!(
                        "{what}: the kernel flagged the captured dump as interrupted; rows may be missing"
                    )),
                    Err(e) => return Err(CliError::Runtime(format!("replaying {what}: {e}"))),
                }
                continue;
            }
            if table.is_inet() {
                self.inet_table(table, &mut nl, &mut on_socket, &stopped)?;
            } else {
                // One dump per family, however many of its tables are selected.
                let Some(family) = table.families().iter().next() else {
                    continue;
                };
                if dumped.contains(family) {
                    continue;
                }
                dumped = dumped.with(family);
                self.family_table(family, diag(&mut nl)?, &mut on_socket)?;
            }
            if stopped.get() {
                break;
            }
        }
        Ok(())
    }

    /// One inet table: a dump per family, or one walk for both (TCP).
    fn inet_table(
        &self,
        table: Table,
        nl: &mut Option<DiagSocket>,
        on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
        stopped: &Cell<bool>,
    ) -> Result<(), CliError> {
        let families = self.families;
        // TCP in both families with few IPv6 sockets: one kernel walk
        // instead of two (see sockq_netlink::both). `None` stands for both.
        let both = table == Table::Tcp
            && families.contains(Family::Inet)
            && families.contains(Family::Inet6)
            && sockq_netlink::tcp6_in_use(self.net_proc).is_some_and(|n| n <= BOTH_MAX_V6);
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
                states: self.cfg.states,
                extensions: self.extensions,
                bytecode: self.bytecode.map(<[u8]>::to_vec),
            };
            let sock = diag(nl)?;
            let result = if unit.is_some() {
                sock.dump_inet(&req, on_socket)
            } else {
                sock.dump_tcp_both(&req, on_socket)
            };
            if let Err(e) = result
                && let Missing::SkipTable = self.inet_failure(table, family, e, on_socket)?
            {
                return Ok(());
            }
            if stopped.get() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// What a failed inet dump becomes: the `/proc/net` fallback, a
    /// warning, or the run's error.
    fn inet_failure(
        &self,
        table: Table,
        family: Family,
        e: NlError,
        on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
    ) -> Result<Missing, CliError> {
        match e {
            NlError::ProtocolMissing { .. }
                if sockq_netlink::procnet::proc_path(table, family, self.net_proc).is_some() =>
            {
                // No diag module (raw here): read /proc/net as ss does.
                match sockq_netlink::procnet::read_inet(
                    table,
                    family,
                    self.cfg.states,
                    self.net_proc,
                    on_socket,
                ) {
                    Ok(()) => Ok(Missing::Continue),
                    // A kernel without IPv6 or UDP-Lite has no file.
                    Err(NlError::Io { source, .. })
                        if source.kind() == std::io::ErrorKind::NotFound =>
                    {
                        Ok(Missing::Continue)
                    }
                    Err(e) => Err(CliError::Netlink {
                        context: format!("{table}"),
                        source: e,
                    }),
                }
            }
            // Said only for a table the user named: `-a` or `-f inet` on a
            // kernel without dccp or sctp diag would warn on every run.
            NlError::ProtocolMissing { what } => {
                if self.cfg.named_tables.contains(table) {
                    warn(&format!(
                        "{what}: not supported by this kernel (no sock_diag module); {table} sockets are not shown"
                    ));
                }
                Ok(Missing::SkipTable)
            }
            // Retried already (sockq_netlink::retry_interrupted): the rows
            // read are shown, and the gap is said.
            NlError::DumpInterrupted { attempts } => {
                warn(&format!(
                    "the {table} table changed or replies were dropped during each of {attempts} dumps; rows may be missing"
                ));
                Ok(Missing::Continue)
            }
            NlError::Kernel { errno, context } if errno == EPERM && self.sends_bytecode => {
                Err(CliError::Runtime(format!(
                    "{context}: the kernel refused the filter (permission denied): fwmark filters need CAP_NET_ADMIN, run as root"
                )))
            }
            e => Err(CliError::Netlink {
                context: format!("dumping {table}"),
                source: e,
            }),
        }
    }

    /// One non-inet family (unix, packet, netlink, vsock, tipc, xdp).
    fn family_table(
        &self,
        family: Family,
        sock: &mut DiagSocket,
        on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
    ) -> Result<(), CliError> {
        match families::dump(family, self.cfg, self.cfg.tables, sock, on_socket) {
            Ok(()) => {}
            Err(NlError::ProtocolMissing { what }) => {
                if self.cfg.named_tables.0 & family.tables().0 != 0 {
                    warn(&format!(
                        "{what}: not supported by this kernel (no sock_diag module); {family} sockets are not shown"
                    ));
                }
            }
            Err(NlError::DumpInterrupted { attempts }) => {
                warn(&format!(
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
        Ok(())
    }
}

/// The run's sock_diag socket, opened at its first use.
fn diag(nl: &mut Option<DiagSocket>) -> Result<&mut DiagSocket, CliError> {
    Ok(match nl {
        Some(s) => s,
        None => nl.insert(open_diag()?),
    })
}

/// A new sock_diag socket, its failure worded for the user.
pub fn open_diag() -> Result<DiagSocket, CliError> {
    DiagSocket::new().map_err(|e| CliError::Netlink {
        context: "opening a sock_diag socket".into(),
        source: e,
    })
}

/// Up to this many IPv6 TCP sockets, one walk of both families is made,
/// their replies held (delta-encoded, about 15 bytes each, 50 with `-i`,
/// within `sockq_netlink::HOLD_BUDGET`) so IPv4 comes first; above it,
/// the two per-family dumps are made directly.
const BOTH_MAX_V6: u64 = 20_000;

/// EPERM: the kernel's answer to a MARK_COND op without CAP_NET_ADMIN.
const EPERM: i32 = 1;

/// One line on stderr for what cannot be shown (never silence).
fn warn(msg: &str) {
    eprintln_quiet!("sockq: {msg}");
}
