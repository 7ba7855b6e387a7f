//! The metrics output of a run: a [`Collector`] fed socket by socket, the
//! process scan for the `comm` labels, and at the end the exposition on
//! stdout or in `--metrics-file`.
//!
//! When the filter does not need owners, the `/proc` scan runs on its own
//! thread while the kernel dumps (the dump is bound by the kernel's walk on
//! one core, the scan by system calls): the `comm` labels are attached at
//! the end, by inode.

use super::{Collector, RunInfo, Who};
use crate::config::MetricsTo;
use crate::error::CliError;
use sockq_model::{Owner, Socket, Table};
use sockq_proc::OwnerMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::Instant;

type Scan = JoinHandle<Result<OwnerMap, sockq_proc::Error>>;

/// Aggregates the selected sockets and writes the exposition.
pub struct MetricsSink {
    collector: Collector,
    start: Instant,
    dest: MetricsTo,
    proc_root: PathBuf,
    scan: Option<Scan>,
    /// Processes the caller's own scan could not read.
    unreadable: usize,
    failed_namespaces: usize,
}

impl MetricsSink {
    /// A sink writing to `dest`. `start`: when the run began (for
    /// `sockq_collection_duration_seconds`). `scanned`: the caller passes
    /// owners with every socket (its filter needed the scan, whose
    /// `unreadable` count is given); otherwise the scan starts here, on its
    /// own thread.
    pub fn new(
        dest: MetricsTo,
        start: Instant,
        proc_root: &Path,
        scanned: Option<usize>,
    ) -> MetricsSink {
        let scan = match scanned {
            Some(_) => None,
            None => {
                let opts = sockq_proc::ScanOptions {
                    proc_root: proc_root.to_path_buf(),
                    threads: false,
                };
                Some(std::thread::spawn(move || sockq_proc::scan(&opts)))
            }
        };
        MetricsSink {
            collector: Collector::new(),
            start,
            dest,
            proc_root: proc_root.to_path_buf(),
            scan,
            unreadable: scanned.unwrap_or(0),
            failed_namespaces: 0,
        }
    }

    /// The following sockets belong to the namespace `label`.
    pub fn begin_netns(&mut self, label: impl AsRef<[u8]>) {
        self.collector.begin_netns(label);
    }

    /// A port listened on in the current namespace (listeners-only dump).
    pub fn note_listener_port(&mut self, table: Table, port: u16) {
        self.collector.note_listener_port(table, port);
    }

    /// Takes one selected socket; `owners` is ignored while the sink runs
    /// its own scan (they are looked up at the end).
    #[inline]
    pub fn socket(&mut self, s: &Socket, owners: &[Owner]) {
        let own = if self.scan.is_some() {
            None
        } else {
            Some(owners)
        };
        self.collector.socket(s, own);
    }

    /// `--all-netns`: how many namespaces could not be dumped.
    pub fn set_failed_namespaces(&mut self, n: usize) {
        self.failed_namespaces = n;
    }

    /// Joins the scan, encodes, and writes stdout or the file.
    pub fn finish(self) -> Result<(), CliError> {
        let map = match self.scan {
            Some(h) => Some(
                h.join()
                    .map_err(|_| CliError::Runtime("the /proc scan thread panicked".into()))?
                    .map_err(|e| CliError::Runtime(format!("scanning processes: {e}")))?,
            ),
            None => None,
        };
        let mut unreadable = self.unreadable;
        if let Some(m) = &map {
            unreadable = m.denied();
            if unreadable > 0 {
                // As select::owner_notice: root refused by a security
                // module is not told to run as root, nor a script.
                let root = rustix::process::geteuid().is_root();
                let even = if root { ", even as root" } else { "" };
                let hint = if root || !crate::hints::wanted() {
                    ""
                } else {
                    " Run as root to see every owner."
                };
                eprintln_quiet!(
                    "sockq: {unreadable} processes could not be read (permission denied{even}); their sockets have an empty comm label.{hint}"
                );
            }
        }
        // unit and container of the listeners' processes, from their cgroup.
        let mut detailer = sockq_proc::Detailer::new(&self.proc_root, map.as_ref()).ok();
        let mut who = |pid: u32| match &mut detailer {
            Some(d) => {
                let id = d.identity(pid);
                Who {
                    unit: id.unit,
                    container: id.container.map(|c| c.label()),
                }
            }
            None => Who::default(),
        };
        let snapshot = self
            .collector
            .finish(map.as_ref(), &RunInfo::default(), Some(&mut who));
        // The duration covers the scan and the aggregation too.
        let snapshot = snapshot.with_run(RunInfo {
            duration: self.start.elapsed(),
            unreadable_processes: unreadable,
            failed_namespaces: self.failed_namespaces,
        });
        let text = super::encode(snapshot)
            .map_err(|_| CliError::Runtime("encoding the metrics failed".into()))?;
        match &self.dest {
            MetricsTo::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes())?;
                out.flush()?;
                Ok(())
            }
            MetricsTo::File(p) => crate::outfile::write_atomic(p, "metrics file", text.as_bytes()),
        }
    }
}
