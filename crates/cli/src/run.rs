//! One run, as a one-way pipeline (docs/architecture.md):
//!
//! ```text
//! Config → Plan → Scope → Source → Select → Sink
//! ```
//!
//! This module is the only one that knows every stage; each stage knows only
//! those below it, so nothing imports this module but the crate root.

use crate::config::{Config, Format};
use crate::error::CliError;
use crate::filtering::{self, FilterSet};
use crate::names::Names;
use crate::plan::Plan;
use crate::printer::summary::{Sockstat, SummaryCounts};
use crate::sanitize::escaped;
use crate::scope::{AllNetns, Scope, Visit};
use crate::select::{ProcFacts, Select, scan_owners};
use crate::sink::kill::{self, Killer};
use crate::sink::metrics::MetricsSink;
use crate::sink::output::{Lead, Output};
use crate::sink::{self, Sink};
use crate::source::events::{self, Ended};
use crate::source::unix_peers::unix_peers;
use crate::source::{self, Dump, TcpSource};
use sockq_model::Socket;
use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Instant;

/// How the run ended, for the exit status.
pub struct Outcome {
    /// Exit code.
    pub code: u8,
}

const SUCCESS: Outcome = Outcome { code: 0 };

/// Runs the whole command.
pub fn run(cfg: &Config) -> Result<Outcome, CliError> {
    // A usage error, so before the namespace is opened or entered: without
    // the privilege to enter it, `-N NS -K` must still say it needs a filter.
    if cfg.kill {
        kill::check_words(cfg)?;
    }
    // -N: the expression is compiled here first, so that its errors are
    // usage errors for everyone, also for a user who may not enter the
    // namespace. Interface names are checked again inside, where they live.
    let outside = match &cfg.net {
        Some(_) => {
            let filters = filtering::build(cfg)?;
            if cfg.kill {
                kill::check_selection(cfg, &filters)?;
            }
            Some(filters)
        }
        None => None,
    };
    match Scope::of(cfg)? {
        Scope::All => run_all(cfg),
        // The whole run happens on a thread inside the namespace: sockets,
        // interface names, /proc/thread-self/net and -s all answer for it.
        Scope::Inside(target) => {
            crate::scope::run_inside(&target, move || run_here(cfg, true, outside))
        }
        Scope::Here => run_here(cfg, false, outside),
    }
}

/// `--explain`: the filter, and no dump.
fn explain(plan: &Plan) -> Result<Outcome, CliError> {
    writeln!(std::io::stdout().lock(), "{}", plan.filters.explain())?;
    Ok(SUCCESS)
}

/// Runs the command in the calling thread's namespace. `in_netns`: the
/// thread entered a namespace of its own (`-N`); `outside`: the filter
/// built before entering it.
fn run_here(cfg: &Config, in_netns: bool, outside: Option<FilterSet>) -> Result<Outcome, CliError> {
    let start = Instant::now();
    let plan = match outside {
        Some(f) => Plan::with_filters(cfg, f.in_this_netns(cfg)?),
        None => Plan::new(cfg)?,
    };
    if cfg.kill {
        // After the filter is built: an empty -F is no selection.
        kill::check_selection(cfg, &plan.filters)?;
    }
    if cfg.explain {
        return explain(&plan);
    }
    if cfg.events {
        return run_events(cfg, &plan);
    }
    if plan.tables.is_empty() {
        if cfg.kill {
            return Err(CliError::Usage(
                "-K closes inet sockets only: select tcp, udp, raw, sctp or dccp".into(),
            ));
        }
        eprintln_quiet!("sockq: no socket tables to show with such filter");
        return Ok(SUCCESS);
    }
    let net_proc = source::net_root(&plan.proc_root, in_netns);
    // `-s`: printed now, or, in JSON with a listing after it, inside the
    // listing's document (one JSON document per run).
    let mut summary_json = None;
    if cfg.summary {
        let counts = summary(&net_proc)?;
        // As ss: with no table, family or filter given, the summary is all.
        let only = !cfg.explicit_tables && cfg.filter_words.is_empty() && cfg.filter_file.is_none();
        if only || cfg.format == Format::Table {
            sink::summary::write(cfg, &counts)?;
        } else {
            let mut b = Vec::new();
            crate::printer::json::summary(&mut b, &counts);
            summary_json = Some(b);
        }
        if only {
            return Ok(SUCCESS);
        }
    }
    if let Some(path) = &cfg.diag_file {
        source::diag_file::write(cfg, &plan.filters, plan.families, plan.extensions, path)?;
        return Ok(SUCCESS);
    }
    let tcp = TcpSource::of(cfg)?;
    let owners = scan_owners(cfg, plan.needs_owners, &plan.proc_root)?;
    let dry_run = cfg.kill && cfg.dry_run;
    let lead = if dry_run { Lead::DryRun } else { Lead::None };
    let unix = OnceCell::new();
    let peers = |ino: u32| unix.get_or_init(unix_peers).get(&ino).cloned();
    let mut out =
        Output::with_lead(cfg, &plan.proc_root, lead)?.with_processes(owners.as_ref(), &peers);
    if let Some(b) = summary_json {
        out.set_summary(b);
    }
    let killer = if cfg.kill && !cfg.dry_run {
        Some(Killer::new()?)
    } else {
        None
    };
    let mut metrics = metrics_sink(cfg, &plan, owners.as_ref(), start);
    if let (Some(m), Some(spec)) = (&mut metrics, &cfg.net) {
        // -N NAME: the label is what was given to -N.
        m.begin_netns(spec.as_encoded_bytes());
    }
    let mut sink = Sink::new(out, killer).with_metrics(metrics);
    if needs_listener_ports(cfg) {
        source::listeners::ports(&plan.tables, &mut |t, p| sink.listener_port(t, p))?;
    }
    let facts = plan
        .filters
        .needs_process_facts()
        .then(|| ProcFacts::new(&plan.proc_root));
    let mut select = Select::new(cfg, &plan, owners.as_ref(), facts.as_ref());
    select.unmasked_tcp = tcp.unmasked();
    let bytecode = plan.filters.bytecode();
    let dump = Dump {
        cfg,
        tables: &plan.tables,
        families: plan.families,
        extensions: plan.extensions,
        bytecode: bytecode.as_deref(),
        sends_bytecode: plan.filters.sends_bytecode(),
        tcp: &tcp,
        net_proc: &net_proc,
    };
    let mut selected = 0u64;
    dump.run(&mut |s| match select.pick(s) {
        Some(own) => {
            selected += 1;
            sink.socket(s, own)
        }
        None => std::ops::ControlFlow::Continue(()),
    })?;
    let empty = sink.shown() == 0;
    sink.finish()?;
    if dry_run {
        // A real notice, not a hint: the listing must not pass for kills.
        let what = if selected == 1 { "socket" } else { "sockets" };
        eprintln_quiet!("sockq: dry run: {selected} {what} would be closed; none was closed");
    }
    if empty && !in_netns && hint_wanted(cfg) {
        hint_elsewhere(cfg, &plan, &select, bytecode.as_deref());
    }
    Ok(SUCCESS)
}

/// `--metrics`: the sink, which runs its own `/proc` scan (for the comm
/// labels) while the kernel dumps, unless the filter made the run scan first.
fn metrics_sink(
    cfg: &Config,
    plan: &Plan,
    owners: Option<&sockq_proc::OwnerMap>,
    start: Instant,
) -> Option<MetricsSink> {
    let to = cfg.metrics.as_ref()?;
    Some(MetricsSink::new(
        to.clone(),
        start,
        &plan.proc_root,
        owners.map(sockq_proc::OwnerMap::denied),
    ))
}

/// `--metrics` needs the listening ports apart when the selection may
/// leave listeners out: a state set without LISTEN, or a filter.
fn needs_listener_ports(cfg: &Config) -> bool {
    cfg.metrics.is_some()
        && (!cfg.states.contains(sockq_model::State::Listen)
            || !cfg.filter_words.is_empty()
            || cfg.filter_file.is_some())
}

/// Whether a filtered query that showed nothing here should look in the
/// other namespaces: root (only root can enter them all), a filter, not
/// `-K`, and hints wanted ([`crate::hints::wanted`]: a hint is for people).
fn hint_wanted(cfg: &Config) -> bool {
    let filtered = !cfg.filter_words.is_empty() || cfg.filter_file.is_some();
    filtered && !cfg.kill && rustix::process::geteuid().is_root() && crate::hints::wanted()
}

/// One line on stderr naming the other namespaces (containers) where the
/// query matches, and the command that shows them. Costs one dump per
/// other namespace, only after an empty filtered result.
fn hint_elsewhere(cfg: &Config, plan: &Plan, select: &Select<'_>, bytecode: Option<&[u8]>) {
    let own = sockq_netlink::ns::netns_id(&plan.proc_root.join("self/ns/net")).ok();
    let mut all = AllNetns::discover(&plan.proc_root);
    all.spaces.retain(|n| Some(n.id) != own);
    if all.spaces.is_empty() {
        return;
    }
    let mut hits: Vec<String> = Vec::new();
    let _ = all.each(
        || dump_this_netns(cfg, plan, select, bytecode),
        |ns, r| {
            if let Visit::Dumped(Ok(d)) = r
                && !d.sockets.is_empty()
            {
                // Labels come from the system (container names): escaped.
                let mut l = Vec::new();
                crate::sanitize::escape_bytes(&mut l, &ns.label());
                hits.push(format!(
                    "{} ({})",
                    String::from_utf8_lossy(&l),
                    d.sockets.len()
                ));
            }
            Ok(())
        },
    );
    if hits.is_empty() {
        return;
    }
    let mut cmd = String::from("sockq --all-netns");
    for a in std::env::args_os().skip(1) {
        cmd.push(' ');
        cmd.push_str(&shell_quote(&a.to_string_lossy()));
    }
    eprintln_quiet!(
        "sockq: nothing matched in this network namespace; it matches in {}: {cmd}",
        hits.join(", ")
    );
}

/// A word as a POSIX shell reads it back: bare when safe, else in single
/// quotes.
fn shell_quote(w: &str) -> String {
    let safe = !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-./:=,@%+".contains(&b));
    if safe {
        w.to_owned()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// `-s`: counts every TCP, UDP and RAW socket of this namespace.
fn summary(net_proc: &Path) -> Result<SummaryCounts, CliError> {
    let mut counts = SummaryCounts::default();
    let missing = source::summary::count(net_proc, &mut |s| counts.add(s))?;
    let read = |f: &str| {
        source::summary::sockstat(net_proc, f)
            .map(|t| Sockstat::parse(&t))
            .unwrap_or_default()
    };
    counts.fill_missing(&read("sockstat"), &read("sockstat6"), &missing);
    Ok(counts)
}

/// `-E`: events are a source like a dump, feeding the same selection
/// (families, tables and the filter; not the states: a destroyed socket is
/// CLOSE) and a sink with a `Time` column.
fn run_events(cfg: &Config, plan: &Plan) -> Result<Outcome, CliError> {
    let out = Output::with_lead(cfg, &plan.proc_root, Lead::Time)?;
    let mut sink = Sink::new(out, None);
    let select = Select::new(cfg, plan, None, None);
    let ended = events::follow(cfg, plan.families, &mut |s| {
        if select.pick_event(s) {
            sink.event(s)
        } else {
            std::ops::ControlFlow::Continue(())
        }
    })?;
    if let Ended::OutputClosed = ended {
        // Nobody reads any more: nothing left to flush to, nothing to say.
        return Ok(SUCCESS);
    }
    sink.finish()?;
    Ok(SUCCESS)
}

/// What one namespace's dump gave.
struct NsDump {
    sockets: Vec<Socket>,
    names: Names,
    /// Interface names of the filter this namespace has no interface for.
    missing: Vec<String>,
    /// `--metrics`: its listening ports, when the selection leaves them out.
    listen_ports: Vec<(sockq_model::Table, u16)>,
}

/// `--all-netns`: dumps every namespace and prints the rows with a label.
/// The process scan runs once: socket inodes are global.
fn run_all(cfg: &Config) -> Result<Outcome, CliError> {
    let start = Instant::now();
    let plan = Plan::new(cfg)?;
    if cfg.explain {
        return explain(&plan);
    }
    if plan.tables.is_empty() {
        eprintln_quiet!("sockq: no socket tables to show with such filter");
        return Ok(SUCCESS);
    }
    let all = AllNetns::discover(&plan.proc_root);
    let owners = scan_owners(cfg, plan.needs_owners, &plan.proc_root)?;
    let bytecode = plan.filters.bytecode();
    let unix = OnceCell::new();
    let peers = |ino: u32| unix.get_or_init(unix_peers).get(&ino).cloned();
    let out = Output::with_lead(cfg, &plan.proc_root, Lead::Netns)?
        .with_processes(owners.as_ref(), &peers);
    let metrics = metrics_sink(cfg, &plan, owners.as_ref(), start);
    let mut sink = Sink::new(out, None).with_metrics(metrics);
    let mut failures: Vec<String> = Vec::new();
    let mut denied: Vec<String> = Vec::new();
    // Per interface name of the filter: in how many dumped namespaces it
    // named no interface.
    let mut lacking: BTreeMap<String, usize> = BTreeMap::new();
    let mut dumped = 0usize;
    let facts = plan
        .filters
        .needs_process_facts()
        .then(|| ProcFacts::new(&plan.proc_root));
    let select = Select::new(cfg, &plan, owners.as_ref(), facts.as_ref());
    all.each(
        || dump_this_netns(cfg, &plan, &select, bytecode.as_deref()),
        |ns, visit| {
            match visit {
                Visit::Dumped(Ok(d)) => {
                    dumped += 1;
                    for m in &d.missing {
                        *lacking.entry(m.clone()).or_insert(0) += 1;
                    }
                    sink.begin_netns(ns.label(), d.names);
                    for &(t, p) in &d.listen_ports {
                        sink.listener_port(t, p);
                    }
                    for s in &d.sockets {
                        sink.netns_socket(s, select.owners_of(s))?;
                    }
                }
                Visit::Dumped(Err(CliError::Done)) | Visit::Vanished => {}
                // Labels come from the system (/var/run/netns, container
                // names): escaped like every other system string.
                Visit::Denied => denied.push(escaped(&ns.label())),
                Visit::Dumped(Err(e)) | Visit::Failed(e) => {
                    failures.push(format!("{}: {e}", escaped(&ns.label())));
                }
            }
            Ok(())
        },
    )?;
    sink.failed_namespaces(failures.len());
    sink.finish()?;
    for name in plan.filters.interface_names() {
        if dumped > 0 && lacking.get(&name) == Some(&dumped) {
            let name = escaped(name.as_bytes());
            eprintln_quiet!("sockq: no network namespace has an interface named \"{name}\"");
        }
    }
    // Without privilege the caller's own namespace is still listed; the
    // others are named in one line.
    if !denied.is_empty() {
        // The advice is a hint for people; the fact is a warning.
        let advice = if crate::hints::wanted() {
            "; run as root to see them"
        } else {
            ""
        };
        eprintln_quiet!(
            "sockq: could not enter {} network namespaces (permission denied{advice}): {}",
            denied.len(),
            denied.join(", ")
        );
    }
    if let Some(first) = failures.first() {
        return Err(CliError::Runtime(if failures.len() == 1 {
            first.clone()
        } else {
            format!(
                "{first} (and {} more namespaces failed)",
                failures.len() - 1
            )
        }));
    }
    Ok(SUCCESS)
}

/// Dumps the namespace the calling (worker) thread entered, keeping the
/// selected sockets.
fn dump_this_netns(
    cfg: &Config,
    plan: &Plan,
    select: &Select<'_>,
    bytecode: Option<&[u8]>,
) -> Result<NsDump, CliError> {
    // Interface names are read now, inside the namespace, and a filter
    // naming interfaces is compiled again here (their indexes differ).
    let (local, missing) = match plan.filters.for_this_netns(cfg)? {
        Some((f, missing)) => (Some(f), missing),
        None => (None, Vec::new()),
    };
    let filters = local.as_ref().unwrap_or(&plan.filters);
    let local_bytecode = local.as_ref().map(|f| f.bytecode());
    let bytecode = match &local_bytecode {
        Some(b) => b.as_deref(),
        None => bytecode,
    };
    let select = Select { filters, ..*select };
    let names = Names::new(cfg.numeric, cfg.resolve);
    names.push_ifname(&mut Vec::new(), 0);
    let mut sockets = Vec::new();
    let net_proc = source::net_root(Path::new("/proc"), true);
    let dump = Dump {
        cfg,
        tables: &plan.tables,
        families: plan.families,
        extensions: plan.extensions,
        bytecode,
        sends_bytecode: filters.sends_bytecode(),
        tcp: &TcpSource::Kernel,
        net_proc: &net_proc,
    };
    dump.run(&mut |s| {
        if select.pick(s).is_some() {
            sockets.push(s.clone());
        }
        std::ops::ControlFlow::Continue(())
    })?;
    let mut listen_ports = Vec::new();
    if needs_listener_ports(cfg) {
        source::listeners::ports(&plan.tables, &mut |t, p| listen_ports.push((t, p)))?;
    }
    Ok(NsDump {
        sockets,
        names,
        missing,
        listen_ports,
    })
}
