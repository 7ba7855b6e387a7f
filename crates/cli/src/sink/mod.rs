//! Stage 5 of a run: where selected sockets go. A sink takes a socket and
//! its owners and knows nothing of netlink, namespaces or the filter.
//!
//! * [`output`]: the table or JSON printer (with `--sort`, the held rows);
//! * [`kill`]: `-K`, SOCK_DESTROY before the row is printed;
//! * [`summary`]: `-s`, from the counts a source made;
//! * [`metrics`]: `--metrics`/`--metrics-file`, counted per listener and
//!   service port, written once at the end (docs/metrics.md).
//!
//! [`Sink`] chains them for one run. A new sink is a field here, fed in
//! [`Sink::socket`] and written in [`Sink::finish`]: a metrics sink
//! (`--metrics`) would aggregate there and write its exposition at the
//! end. Per-row output (a process-identity block, say) belongs to the
//! printers [`output::Output`] calls, in `crate::printer`.

pub mod kill;
pub mod metrics;
pub mod output;
pub mod summary;

use crate::error::CliError;
use crate::names::Names;
use kill::Killer;
use metrics::MetricsSink;
use output::Output;
use sockq_model::{Owner, Socket};
use std::ops::ControlFlow;
use std::time::{SystemTime, UNIX_EPOCH};

/// The sinks of one run, in the order a socket visits them.
pub struct Sink<'a> {
    /// `-K`: a socket is printed only once killed (absent with `--dry-run`).
    kill: Option<Killer>,
    /// The table or JSON output.
    out: Output<'a>,
    /// `--metrics`: takes the sockets instead of `out`, which stays unused.
    metrics: Option<MetricsSink>,
    /// Sockets shown so far (for the hint when nothing matched here).
    shown: u64,
}

impl<'a> Sink<'a> {
    /// Chains the killer (if any) before the output.
    pub fn new(out: Output<'a>, kill: Option<Killer>) -> Sink<'a> {
        Sink {
            kill,
            out,
            metrics: None,
            shown: 0,
        }
    }

    /// The metrics output in place of the rows (`out` is never written).
    pub fn with_metrics(mut self, m: Option<MetricsSink>) -> Sink<'a> {
        self.metrics = m;
        self
    }

    /// Takes one selected socket; breaks when the output failed (the error
    /// is kept for [`Sink::finish`]).
    #[inline]
    pub fn socket(&mut self, s: &Socket, owners: &[Owner]) -> ControlFlow<()> {
        if let Some(m) = &mut self.metrics {
            m.socket(s, owners);
            self.shown += 1;
            return ControlFlow::Continue(());
        }
        if let Some(k) = &mut self.kill
            && !k.kill(s)
        {
            return ControlFlow::Continue(());
        }
        if let Err(e) = self.out.socket(s, owners) {
            self.out.set_error(e);
            return ControlFlow::Break(());
        }
        self.shown += 1;
        ControlFlow::Continue(())
    }

    /// How many sockets [`Sink::socket`] has shown.
    pub fn shown(&self) -> u64 {
        self.shown
    }

    /// `-E`: one event, stamped with the time now, printed and flushed.
    pub fn event(&mut self, s: &Socket) -> ControlFlow<()> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        self.out.set_time((now * 1000.0).floor() / 1000.0);
        if let Err(e) = self.out.socket(s, &[]).and_then(|()| self.out.flush_now()) {
            self.out.set_error(e);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    }

    /// `--all-netns`: the following sockets belong to the namespace
    /// `label`, whose interface names `names` knows.
    pub fn begin_netns(&mut self, label: Vec<u8>, names: Names) {
        if let Some(m) = &mut self.metrics {
            m.begin_netns(&label);
            return;
        }
        self.out.begin_netns(label, names);
    }

    /// Takes one socket of the current namespace; a write error ends the run.
    pub fn netns_socket(&mut self, s: &Socket, owners: &[Owner]) -> std::io::Result<()> {
        if let Some(m) = &mut self.metrics {
            m.socket(s, owners);
            return Ok(());
        }
        self.out.socket(s, owners)
    }

    /// A port listened on in the current namespace, from a listeners-only
    /// dump (`--metrics` classifies connections with it).
    pub fn listener_port(&mut self, table: sockq_model::Table, port: u16) {
        if let Some(m) = &mut self.metrics {
            m.note_listener_port(table, port);
        }
    }

    /// `--all-netns`: namespaces that could not be dumped (a self-metric).
    pub fn failed_namespaces(&mut self, n: usize) {
        if let Some(m) = &mut self.metrics {
            m.set_failed_namespaces(n);
        }
    }

    /// Flushes the output (or writes the metrics), then reports the kills'
    /// outcome.
    pub fn finish(self) -> Result<(), CliError> {
        if let Some(m) = self.metrics {
            return m.finish();
        }
        self.out.finish()?;
        if let Some(k) = self.kill {
            k.outcome()?;
        }
        Ok(())
    }
}
