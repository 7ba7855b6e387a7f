//! Stage 4 of a run: which sockets a source yielded are shown. The state
//! mask, the families, the filter, and the owners the filter and the
//! output need. It knows the plan's filter, not where sockets come from
//! nor where they go.

use crate::config::Config;
use crate::error::CliError;
use crate::filtering::FilterSet;
use crate::plan::Plan;
use sockq_model::{FamilySet, Owner, Socket, StateSet, TableSet};
use sockq_proc::OwnerMap;
use std::path::Path;

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
}

impl<'a> Select<'a> {
    /// The selection the plan asks for.
    pub fn new(cfg: &Config, plan: &'a Plan, owners: Option<&'a OwnerMap>) -> Select<'a> {
        Select {
            states: cfg.states,
            families: plan.families,
            tables: cfg.tables,
            filters: &plan.filters,
            owners,
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
        if !self.states.contains(s.state) || !self.families.contains(s.family) {
            return None;
        }
        let own = self.owners_of(s);
        self.filters.matches(s, own).then_some(own)
    }

    /// The socket's owners (empty without a process map).
    #[inline]
    pub fn owners_of(&self, s: &Socket) -> &'a [Owner] {
        let no_owners: &[Owner] = &[];
        self.owners.map_or(no_owners, |m| m.owners(s.inode))
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
