//! Stage 1 of a run: [`Config`] → [`Plan`]. What to dump (tables,
//! families), the compiled filter, and what the output needs from the kernel
//! and from `/proc`. Nothing here makes a syscall beyond the filter's host
//! lookups (services, DNS, interfaces).

use crate::config::Config;
use crate::error::CliError;
use crate::filtering::{self, FilterSet};
use sockq_model::{FamilySet, Table};
use std::path::PathBuf;

/// What one run dumps and keeps, resolved once from the config and the filter.
pub struct Plan {
    /// The compiled filter (from the expression words and `-F`).
    pub filters: FilterSet,
    /// The families left after the filter's family restriction.
    pub families: FamilySet,
    /// The tables to dump, in output order; empty when the filter leaves none.
    pub tables: Vec<Table>,
    /// The `idiag_ext` bits the output needs.
    pub extensions: u8,
    /// Whether the process map must be built (`-p`, or `pid`/`comm` filters).
    pub needs_owners: bool,
    /// The `/proc` to read (`PROC_ROOT` in tests).
    pub proc_root: PathBuf,
}

impl Plan {
    /// Builds the filter and resolves tables and families.
    pub fn new(cfg: &Config) -> Result<Plan, CliError> {
        Ok(Plan::with_filters(cfg, filtering::build(cfg)?))
    }

    /// Resolves tables and families for a filter built already (`-N`
    /// builds it before entering the namespace).
    pub fn with_filters(cfg: &Config, filters: FilterSet) -> Plan {
        let mut families = cfg.families;
        if let Some(r) = filters.family_restriction() {
            families = FamilySet(families.0 & r.0);
        }
        let tables: Vec<Table> = cfg
            .tables
            .iter_output_order()
            .filter(|t| !FamilySet(t.families().0 & families.0).is_empty())
            .filter(|t| !cfg.kill || t.is_inet())
            .collect();
        Plan {
            needs_owners: cfg.show.processes || filters.needs_owners(),
            filters,
            families,
            tables,
            extensions: inet_extensions(cfg),
            proc_root: proc_root(),
        }
    }
}

/// `PROC_ROOT`, else `/proc`.
pub fn proc_root() -> PathBuf {
    PathBuf::from(std::env::var_os("PROC_ROOT").unwrap_or_else(|| "/proc".into()))
}

/// The `idiag_ext` bits the output needs: nothing more is asked of the kernel.
pub fn inet_extensions(cfg: &Config) -> u8 {
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
