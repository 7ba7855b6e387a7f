//! The output side of a run: one buffered writer, and the printer the
//! format asks for. Sockets are printed as they arrive, except with
//! `--sort`, which holds every row (socket and owners) until the end.
//!
//! A leading column can be added: the namespace label (`--all-netns`) or the
//! event time (`-E`); JSON gets a `netns` or `time` field instead.

use crate::args::SortKey;
use crate::config::{Config, Format};
use crate::error::CliError;
use crate::names::Names;
use crate::printer::blocks::{Proc, blocks, write_block};
use crate::printer::table::{Layout, TablePrinter};
use sockq_model::{Owner, Socket};
use sockq_proc::{Detailer, OwnerMap, PeerLookup};
use std::cmp::Reverse;
use std::collections::HashMap;
use std::io::{BufWriter, IsTerminal, StdoutLock};
use std::path::{Path, PathBuf};

type Out = BufWriter<StdoutLock<'static>>;

/// The screen width ss would use: the tty's, else `COLUMNS`, else none.
fn screen_width() -> Option<usize> {
    let stdout = std::io::stdout();
    if stdout.is_terminal()
        && let Ok(ws) = rustix::termios::tcgetwinsize(&stdout)
        && ws.ws_col > 0
    {
        return Some(usize::from(ws.ws_col));
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|&c| c > 0)
}

/// The optional leading column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lead {
    /// No leading column.
    None,
    /// `Netns`: the label given to [`Output::begin_netns`].
    Netns,
    /// `Time`: the time given to [`Output::set_time`].
    Time,
    /// `Action`: `would-close` on every row (`-K --dry-run`).
    DryRun,
}

/// What a dry run's rows say (the `Action` column, JSON `action`).
pub const WOULD_CLOSE: &str = "would-close";

/// A row held back by `--sort`.
struct HeldRow {
    socket: Socket,
    owners: Vec<Owner>,
    ns: usize,
}

/// Prints sockets in the configured format.
pub struct Output<'a> {
    cfg: &'a Config,
    table: Option<TablePrinter<Out>>,
    json: Option<crate::printer::json::JsonPrinter<Out>>,
    /// One set of name lookups per namespace (interface names differ).
    names: Vec<Names>,
    labels: Vec<Vec<u8>>,
    cur: usize,
    lead: Lead,
    time: Option<f64>,
    json_ns: Option<usize>,
    ext: crate::printer::ext::ExtOptions,
    cgroups: crate::cgroup::CgroupNames,
    proc_root: PathBuf,
    infos: HashMap<u32, Option<sockq_model::ProcessInfo>>,
    /// `-P`: the owner map (with pipe ends) and the unix peers, to follow
    /// stdout and stderr; the detailer is made at its first use.
    owners: Option<&'a OwnerMap>,
    peers: Option<&'a PeerLookup<'a>>,
    detailer: Option<Option<Detailer<'a>>>,
    users: Option<sockq_proc::UserNames>,
    error: Option<std::io::Error>,
    held: Vec<HeldRow>,
}

impl<'a> Output<'a> {
    /// Sets up the writer and a printer with a leading column.
    pub fn with_lead(
        cfg: &'a Config,
        proc_root: &Path,
        lead: Lead,
    ) -> Result<Output<'a>, CliError> {
        // A pipe holds 64 KiB: bigger writes only block in pieces.
        let w = BufWriter::with_capacity(64 << 10, std::io::stdout().lock());
        let (table, json) = match cfg.format {
            Format::Table => {
                let mut l = Layout::new(
                    cfg.show_netid(),
                    cfg.show_state(),
                    cfg.queues,
                    cfg.show.processes,
                );
                l = match lead {
                    Lead::None => l,
                    Lead::Netns => l.with_lead("Netns"),
                    Lead::Time => l.with_lead("Time"),
                    Lead::DryRun => l.with_lead("Action"),
                };
                l.header = cfg.header;
                l.screen = screen_width();
                (Some(TablePrinter::new(w, l)), None)
            }
            Format::Json | Format::JsonLines => {
                let mut j =
                    crate::printer::json::JsonPrinter::new(w, cfg.format == Format::JsonLines);
                if lead == Lead::DryRun {
                    j.set_action(Some(WOULD_CLOSE));
                }
                (None, Some(j))
            }
        };
        let show = &cfg.show;
        Ok(Output {
            cfg,
            table,
            json,
            names: vec![Names::new(cfg.numeric, cfg.resolve)],
            labels: vec![Vec::new()],
            cur: 0,
            lead,
            time: None,
            json_ns: None,
            ext: crate::printer::ext::ExtOptions {
                timers: show.timers,
                extended: show.extended,
                memory: show.memory,
                info: show.info,
                tos: show.tos,
                cgroup: show.cgroup,
                inet_sockopt: show.inet_sockopt,
                bpf: show.bpf,
                oneline: cfg.oneline,
                numeric: cfg.numeric,
            },
            cgroups: crate::cgroup::CgroupNames::default(),
            proc_root: proc_root.to_path_buf(),
            infos: HashMap::new(),
            owners: None,
            peers: None,
            detailer: None,
            users: None,
            error: None,
            held: Vec::new(),
        })
    }

    /// `-P`: the process map and the unix peer lookup used to follow each
    /// owner's stdout and stderr.
    pub fn with_processes(
        mut self,
        owners: Option<&'a OwnerMap>,
        peers: &'a PeerLookup<'a>,
    ) -> Output<'a> {
        self.owners = owners;
        self.peers = Some(peers);
        self
    }

    /// The following sockets belong to the namespace `label`, whose
    /// interface names `names` knows (made inside that namespace).
    pub fn begin_netns(&mut self, label: Vec<u8>, names: Names) {
        self.labels.push(label);
        self.names.push(names);
        self.cur = self.names.len() - 1;
    }

    /// `-s --json` with a listing: the summary object goes into the same
    /// document (see [`crate::printer::json::JsonPrinter::set_summary`]).
    pub fn set_summary(&mut self, summary: Vec<u8>) {
        if let Some(j) = &mut self.json {
            j.set_summary(summary);
        }
    }

    /// The time shown with the following sockets (`-E`), in seconds since
    /// the epoch.
    pub fn set_time(&mut self, t: f64) {
        self.time = Some(t);
    }

    /// Prints one socket (or holds it, with `--sort`).
    pub fn socket(&mut self, s: &Socket, owners: &[Owner]) -> std::io::Result<()> {
        if self.cfg.sort.is_some() {
            self.held.push(HeldRow {
                socket: s.clone(),
                owners: owners.to_vec(),
                ns: self.cur,
            });
            return Ok(());
        }
        self.emit(s, owners, self.cur)
    }

    fn emit(&mut self, s: &Socket, owners: &[Owner], ns: usize) -> std::io::Result<()> {
        if self.cfg.show.process_info {
            for o in owners {
                if !self.infos.contains_key(&o.pid) {
                    let info = self.process(o.pid);
                    self.infos.insert(o.pid, info);
                }
            }
        }
        let Some(names) = self.names.get(ns) else {
            return Ok(());
        };
        let label = self.labels.get(ns).map_or(&[][..], Vec::as_slice);
        if let Some(j) = &mut self.json {
            if self.lead == Lead::Time {
                j.set_context(None, self.time);
            } else if self.lead == Lead::Netns && self.json_ns != Some(ns) {
                j.set_context(Some(label), None);
                self.json_ns = Some(ns);
            }
            let infos = &self.infos;
            let lookup = |pid: u32| infos.get(&pid).and_then(Option::as_ref);
            let cg = &self.cgroups;
            return j.socket(s, owners, &self.cfg.show, names, &lookup, &|id| cg.path(id));
        }
        let Some(p) = &mut self.table else {
            return Ok(());
        };
        crate::printer::row::socket_tokens(p, s, names);
        // ss never lists users for netlink sockets: the owner is in the address.
        if self.cfg.show.processes && !owners.is_empty() && s.table != sockq_model::Table::Netlink {
            crate::printer::process::write_users(p.buf(), owners, self.cfg.show.threads);
        }
        p.cut();
        let cg = &self.cgroups;
        crate::printer::ext::write_ext(p.buf(), s, &self.ext, &|id| cg.path(id));
        if self.cfg.show.process_info {
            let mut pids: Vec<u32> = owners.iter().map(|o| o.pid).collect();
            pids.sort_unstable();
            pids.dedup();
            let procs: Vec<Proc<'_>> = pids
                .iter()
                .filter_map(|pid| self.infos.get(pid).and_then(Option::as_ref))
                .map(Proc::of)
                .collect();
            for block in blocks(&procs) {
                p.buf().push(b'\n');
                write_block(p.buf(), &block);
                // The block ends without a newline; the row adds it.
                while p.buf().last() == Some(&b'\n') {
                    p.buf().pop();
                }
            }
        }
        p.cut();
        match self.lead {
            Lead::None => {}
            Lead::Netns => {
                crate::sanitize::escape_bytes(p.buf(), label);
                p.cut();
            }
            Lead::Time => {
                let t = self.time.unwrap_or(0.0);
                let _ = std::io::Write::write_fmt(p.buf(), format_args!("{t:.3}"));
                p.cut();
            }
            Lead::DryRun => {
                p.buf().extend_from_slice(WOULD_CLOSE.as_bytes());
                p.cut();
            }
        }
        p.end_row()
    }

    /// The whole record of one owner: basic facts, then identity, streams
    /// and files; `None` when the process is gone.
    fn process(&mut self, pid: u32) -> Option<sockq_model::ProcessInfo> {
        let users = self.users.get_or_insert_with(sockq_proc::UserNames::load);
        let mut info = sockq_proc::process_info_with(&self.proc_root, pid, users).ok()?;
        let (root, owners, peers) = (&self.proc_root, self.owners, self.peers);
        let detailer = self.detailer.get_or_insert_with(|| {
            Detailer::new(root, owners).ok().map(|d| match peers {
                Some(p) => d.with_peers(p),
                None => d,
            })
        });
        if let Some(d) = detailer
            && let Ok(detail) = d.detail_of(&info)
        {
            info.detail = detail;
        }
        Some(info)
    }

    /// Renders and flushes what is buffered now (`-E`: one event at a time,
    /// each line with its own widths, as ss).
    pub fn flush_now(&mut self) -> std::io::Result<()> {
        if let Some(p) = &mut self.table {
            p.flush_rows()?;
        }
        if let Some(j) = &mut self.json {
            j.flush()?;
        }
        Ok(())
    }

    /// Remembers the first write error; the run stops and reports it.
    pub fn set_error(&mut self, e: std::io::Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Prints the held rows (`--sort`) and flushes everything.
    pub fn finish(mut self) -> Result<(), CliError> {
        if let Some(e) = self.error.take() {
            return Err(e.into());
        }
        if let Some(key) = self.cfg.sort {
            let mut rows = std::mem::take(&mut self.held);
            sort_rows(&mut rows, key);
            for r in &rows {
                self.emit(&r.socket, &r.owners, r.ns)?;
            }
        }
        if let Some(p) = &mut self.table {
            p.finish()?;
        }
        if let Some(j) = &mut self.json {
            j.finish()?;
        }
        Ok(())
    }
}

/// Orders held rows by `key`; ties keep dump order (a stable sort).
fn sort_rows(rows: &mut [HeldRow], key: SortKey) {
    let port = |e: &sockq_model::Endpoint| e.inet().map(|(a, p)| (p, a));
    match key {
        SortKey::Lport => rows.sort_by_key(|r| port(&r.socket.local)),
        SortKey::Pport => rows.sort_by_key(|r| port(&r.socket.peer)),
        SortKey::State => rows.sort_by_key(|r| r.socket.state.as_u8()),
        SortKey::RecvQ => rows.sort_by_key(|r| Reverse(r.socket.recv_q)),
        SortKey::SendQ => rows.sort_by_key(|r| Reverse(r.socket.send_q)),
        // Rows without an owner go last.
        SortKey::Pid => rows.sort_by_key(|r| {
            r.owners
                .iter()
                .map(|o| o.pid)
                .min()
                .map_or((1, 0), |p| (0, p))
        }),
        SortKey::Inode => rows.sort_by_key(|r| r.socket.inode),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockq_model::{Endpoint, Family, State, Table};
    use std::net::{IpAddr, Ipv4Addr};

    fn row(lport: u16, state: State, recv_q: u32) -> HeldRow {
        let mut s = Socket::new(Table::Tcp, Family::Inet, state);
        s.local = Endpoint::Inet {
            addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: lport,
        };
        s.recv_q = recv_q;
        HeldRow {
            socket: s,
            owners: Vec::new(),
            ns: 0,
        }
    }

    fn ports(rows: &[HeldRow]) -> Vec<u16> {
        rows.iter()
            .filter_map(|r| r.socket.local.inet().map(|(_, p)| p))
            .collect()
    }

    #[test]
    fn sorts_by_key_stably() {
        let mut rows = vec![
            row(80, State::Listen, 0),
            row(22, State::Established, 5),
            row(443, State::Listen, 9),
            row(22, State::Listen, 1),
        ];
        sort_rows(&mut rows, SortKey::Lport);
        assert_eq!(ports(&rows), [22, 22, 80, 443]);
        // Equal ports keep their order.
        assert_eq!(rows[0].socket.state, State::Established);
        sort_rows(&mut rows, SortKey::RecvQ);
        assert_eq!(ports(&rows), [443, 22, 22, 80]);
        sort_rows(&mut rows, SortKey::State);
        assert_eq!(rows[0].socket.state, State::Established);
    }
}
