//! Stage 4 of a run: which sockets a source yielded are shown. The state
//! mask, the families, the filter, and the owners the filter and the
//! output need. It knows the plan's filter, not where sockets come from
//! nor where they go.

use crate::config::Config;
use crate::error::CliError;
use crate::filtering::FilterSet;
use crate::plan::Plan;
use sockq_filter::{Glob, ProcField};
use sockq_model::{FamilySet, Owner, Socket, StateSet, Table, TableSet};
use sockq_proc::OwnerMap;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The selection of one run (or of one namespace, whose filter may be
/// compiled again for its interfaces).
pub struct Select<'a> {
    /// States shown (not applied to events: a destroyed socket is CLOSE).
    pub states: StateSet,
    /// Families shown.
    pub families: FamilySet,
    /// Tables shown (dumps ask only for these; events come for any).
    pub tables: TableSet,
    /// The filter.
    pub filters: &'a FilterSet,
    /// The process map, when built.
    pub owners: Option<&'a OwnerMap>,
    /// TCP rows skip the states and families (ss's `TCPDIAG_FILE` replay).
    pub unmasked_tcp: bool,
    /// Units, containers and binaries of owners, when the filter asks.
    pub facts: Option<&'a ProcFacts>,
}

impl<'a> Select<'a> {
    /// The selection the plan asks for.
    pub fn new(
        cfg: &Config,
        plan: &'a Plan,
        owners: Option<&'a OwnerMap>,
        facts: Option<&'a ProcFacts>,
    ) -> Select<'a> {
        Select {
            states: cfg.states,
            families: plan.families,
            tables: cfg.tables,
            filters: &plan.filters,
            owners,
            unmasked_tcp: false,
            facts,
        }
    }

    /// Whether an event (`-E`) is shown: the families, tables and filter,
    /// not the states (a destroyed socket is CLOSE) nor owners (it has none).
    #[inline]
    pub fn pick_event(&self, s: &Socket) -> bool {
        self.families.contains(s.family)
            && self.tables.contains(s.table)
            && self.filters.matches(s, &[])
    }

    /// The socket's owners when it passes the state mask, the families and
    /// the filter; `None` when it is not shown.
    #[inline]
    pub fn pick(&self, s: &Socket) -> Option<&'a [Owner]> {
        let masked = !(self.unmasked_tcp && s.table == Table::Tcp);
        if masked && (!s.in_states(self.states) || !self.families.contains(s.family)) {
            return None;
        }
        let own = self.owners_of(s);
        let pass = match self.facts {
            Some(f) => self.filters.matches_with(s, own, f),
            None => self.filters.matches(s, own),
        };
        pass.then_some(own)
    }

    /// The socket's owners (empty without a process map).
    #[inline]
    pub fn owners_of(&self, s: &Socket) -> &'a [Owner] {
        let no_owners: &[Owner] = &[];
        self.owners.map_or(no_owners, |m| m.owners(s.inode))
    }
}

/// What `unit`, `container` and `exe` compare against, per owner.
#[derive(Default)]
struct Facts {
    units: Vec<String>,
    containers: Vec<String>,
    exe: Option<Vec<u8>>,
}

/// The owners' units, containers and binaries for the filter, read once
/// per pid (and each container's state once per run). Shared by the
/// `--all-netns` workers, hence the lock.
pub struct ProcFacts {
    proc_root: PathBuf,
    cache: Mutex<(sockq_proc::Containers, HashMap<u32, Facts>)>,
}

impl ProcFacts {
    /// Facts read under `proc_root`.
    pub fn new(proc_root: &Path) -> ProcFacts {
        ProcFacts {
            proc_root: proc_root.to_path_buf(),
            cache: Mutex::new((sockq_proc::Containers::new(), HashMap::new())),
        }
    }

    fn read(&self, pid: u32, containers: &mut sockq_proc::Containers) -> Facts {
        let id = sockq_proc::identity(&self.proc_root, pid, containers);
        let mut f = Facts::default();
        f.units.extend(id.unit);
        if let Some(c) = &id.container {
            f.containers.push(c.label());
            f.containers.push(c.id.clone());
            f.containers.push(c.short_id().to_owned());
            f.containers.extend(c.name.clone());
        }
        f.exe = std::fs::read_link(self.proc_root.join(pid.to_string()).join("exe"))
            .ok()
            .map(|p| {
                let mut b = p.into_os_string().into_encoded_bytes();
                if b.ends_with(b" (deleted)") {
                    b.truncate(b.len() - b" (deleted)".len());
                }
                b
            });
        f
    }
}

impl sockq_filter::ProcessFacts for ProcFacts {
    fn matches(&self, pid: u32, field: ProcField, glob: &Glob) -> bool {
        let Ok(mut g) = self.cache.lock() else {
            return false;
        };
        let (containers, cache) = &mut *g;
        let f = cache
            .entry(pid)
            .or_insert_with(|| self.read(pid, containers));
        match field {
            ProcField::Unit => f.units.iter().any(|u| glob.matches(u.as_bytes())),
            ProcField::Container => f.containers.iter().any(|c| glob.matches(c.as_bytes())),
            ProcField::Exe => f.exe.as_deref().is_some_and(|e| glob.matches(e)),
        }
    }
}

/// The process map, when `-p` or the filter needs it.
pub fn scan_owners(
    cfg: &Config,
    needs_owners: bool,
    proc_root: &Path,
) -> Result<Option<OwnerMap>, CliError> {
    if !needs_owners {
        return Ok(None);
    }
    let opts = sockq_proc::ScanOptions {
        proc_root: proc_root.to_path_buf(),
        threads: cfg.show.threads,
    };
    // -P follows pipes: their holders are recorded in the same walk.
    let map = if cfg.show.process_info {
        sockq_proc::scan_with_ends(&opts, None)
    } else {
        sockq_proc::scan(&opts)
    }
    .map_err(|e| CliError::Runtime(format!("scanning processes: {e}")))?;
    if let Some(line) = owner_notice(
        map.denied(),
        map.hidden(),
        rustix::process::geteuid().is_root(),
        crate::hints::wanted(),
    ) {
        eprintln_quiet!("{line}");
    }
    Ok(Some(map))
}

/// The one line saying that some owners are missing, if any are: processes
/// whose fds could not be read (also root, for some processes under a
/// security module) and processes `/proc` hides (`hidepid=2`). `advise`:
/// add the advice for people (run as root), given only when hints are
/// wanted ([`crate::hints::wanted`]) and never to root.
pub fn owner_notice(denied: usize, hidden: bool, root: bool, advise: bool) -> Option<String> {
    let mut parts = Vec::new();
    if denied > 0 {
        let even = if root { ", even as root" } else { "" };
        parts.push(format!(
            "{denied} processes could not be read (permission denied{even})"
        ));
    }
    if hidden {
        parts.push("/proc is mounted with hidepid=2 and hides other users' processes".to_owned());
    }
    if parts.is_empty() {
        return None;
    }
    let hint = if root || !advise {
        ""
    } else {
        " Run as root to see every owner."
    };
    Some(format!(
        "sockq: {}; their sockets show no owner.{hint}",
        parts.join(", and ")
    ))
}

#[cfg(test)]
mod tests {
    use super::owner_notice;

    #[test]
    fn owner_notice_covers_denied_and_hidden() {
        assert_eq!(owner_notice(0, false, false, true), None);
        let n = owner_notice(3, false, false, true).unwrap_or_default();
        assert!(n.contains("3 processes could not be read") && n.contains("Run as root"));
        let r = owner_notice(1, false, true, true).unwrap_or_default();
        assert!(
            r.contains("even as root") && !r.contains("Run as root"),
            "{r}"
        );
        let h = owner_notice(0, true, false, true).unwrap_or_default();
        assert!(h.contains("hidepid=2") && h.lines().count() == 1, "{h}");
        let both = owner_notice(2, true, false, true).unwrap_or_default();
        assert!(
            both.contains("2 processes") && both.contains("hidepid"),
            "{both}"
        );
    }

    #[test]
    fn owner_notice_keeps_the_warning_without_the_advice() {
        let n = owner_notice(3, false, false, false).unwrap_or_default();
        assert_eq!(
            n,
            "sockq: 3 processes could not be read (permission denied); their sockets show no owner."
        );
        let h = owner_notice(0, true, false, false).unwrap_or_default();
        assert!(h.contains("hidepid=2") && !h.contains("root"), "{h}");
    }
}
