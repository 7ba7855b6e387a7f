//! The output side of a run: one buffered writer, and the printer the
//! format asks for. Sockets are printed as they arrive.

use crate::config::{Config, Format};
use crate::error::CliError;
use crate::names::Names;
use crate::printer::table::{Layout, TablePrinter};
use sockq_model::{Owner, Socket};
use std::collections::HashMap;
use std::io::{BufWriter, IsTerminal, StdoutLock};
use std::path::{Path, PathBuf};

type Out = BufWriter<StdoutLock<'static>>;

/// The screen width ss would use: the tty's, else `COLUMNS`, else none.
fn screen_width() -> Option<usize> {
    let stdout = std::io::stdout();
    if stdout.is_terminal() {
        if let Ok(ws) = rustix::termios::tcgetwinsize(&stdout) {
            if ws.ws_col > 0 {
                return Some(usize::from(ws.ws_col));
            }
        }
    }
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
        .filter(|&c| c > 0)
}

/// Prints sockets in the configured format.
pub struct Output<'a> {
    cfg: &'a Config,
    table: Option<TablePrinter<Out>>,
    json: Option<crate::printer::json::JsonPrinter<Out>>,
    names: Names,
    ext: crate::printer::ext::ExtOptions,
    cgroups: crate::cgroup::CgroupNames,
    proc_root: PathBuf,
    infos: HashMap<u32, Option<sockq_model::ProcessInfo>>,
    error: Option<std::io::Error>,
    scratch: Vec<u8>,
}

impl<'a> Output<'a> {
    /// Sets up the writer and printer.
    pub fn new(
        cfg: &'a Config,
        _owners: Option<&sockq_proc::OwnerMap>,
        proc_root: &Path,
    ) -> Result<Output<'a>, CliError> {
        let w = BufWriter::with_capacity(128 << 10, std::io::stdout().lock());
        let (table, json) = match cfg.format {
            Format::Table => {
                let mut l = Layout::new(
                    cfg.show_netid(),
                    cfg.show_state(),
                    cfg.queues,
                    cfg.show.processes,
                );
                l.header = cfg.header;
                l.screen = screen_width();
                (Some(TablePrinter::new(w, l)), None)
            }
            Format::Json | Format::JsonLines => (
                None,
                Some(crate::printer::json::JsonPrinter::new(
                    w,
                    cfg.format == Format::JsonLines,
                )),
            ),
        };
        let show = &cfg.show;
        Ok(Output {
            cfg,
            table,
            json,
            names: Names::new(cfg.numeric, cfg.resolve),
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
            error: None,
            scratch: Vec::new(),
        })
    }

    /// Prints one socket.
    pub fn socket(&mut self, s: &Socket, owners: &[Owner]) -> std::io::Result<()> {
        if self.cfg.show.process_info {
            for o in owners {
                if !self.infos.contains_key(&o.pid) {
                    let info = sockq_proc::process_info(&self.proc_root, o.pid).ok();
                    self.infos.insert(o.pid, info);
                }
            }
        }
        if let Some(j) = &mut self.json {
            let infos = &self.infos;
            let lookup = |pid: u32| infos.get(&pid).and_then(Option::as_ref);
            let cg = &self.cgroups;
            return j.socket(s, owners, &self.cfg.show, &self.names, &lookup, &|id| {
                cg.path(id)
            });
        }
        let Some(p) = &mut self.table else {
            return Ok(());
        };
        crate::printer::row::socket_tokens(p, s, &self.names);
        if self.cfg.show.processes && !owners.is_empty() {
            self.scratch.clear();
            crate::printer::process::write_users(&mut self.scratch, owners, self.cfg.show.threads);
            // The column's delimiter stands for ss's leading space.
            let tok = self.scratch.strip_prefix(b" ").unwrap_or(&self.scratch);
            p.buf().extend_from_slice(tok);
        }
        p.cut();
        let cg = &self.cgroups;
        crate::printer::ext::write_ext(p.buf(), s, &self.ext, &|id| cg.path(id));
        if self.cfg.show.process_info {
            let mut seen: Vec<u32> = Vec::new();
            for o in owners {
                if seen.contains(&o.pid) {
                    continue;
                }
                seen.push(o.pid);
                if let Some(Some(info)) = self.infos.get(&o.pid) {
                    p.buf().push(b'\n');
                    crate::printer::process::write_process_info(p.buf(), info);
                    // The block ends without a newline; the row adds it.
                    while p.buf().last() == Some(&b'\n') {
                        p.buf().pop();
                    }
                }
            }
        }
        p.cut();
        p.end_row()
    }

    /// Remembers the first write error; the run stops and reports it.
    pub fn set_error(&mut self, e: std::io::Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    /// Flushes everything.
    pub fn finish(mut self) -> Result<(), CliError> {
        if let Some(e) = self.error.take() {
            return Err(e.into());
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
