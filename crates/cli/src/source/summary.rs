//! `-s`: every TCP, UDP and RAW socket of this namespace, all states and
//! both families, from its own dumps; and the kernel's `sockstat` files
//! for what no dump could count.

use crate::error::CliError;
use sockq_model::{Family, Socket, StateSet, Table};
use sockq_netlink::{Error as NlError, InetRequest};
use std::ops::ControlFlow;
use std::path::Path;

/// Feeds every socket to `add`; returns the tables some dump failed for.
/// `net_proc` is `/proc/thread-self` when this thread entered a namespace.
pub fn count(net_proc: &Path, add: &mut dyn FnMut(&Socket)) -> Result<Vec<Table>, CliError> {
    let mut missing: Vec<Table> = Vec::new();
    let mut nl = super::open_diag()?;
    for table in [Table::Raw, Table::Udp, Table::Tcp] {
        for family in [Family::Inet, Family::Inet6] {
            let req = InetRequest::new(family, table);
            let mut add = |s: &Socket| {
                add(s);
                ControlFlow::Continue(())
            };
            let r = match nl.dump_inet(&req, &mut add) {
                Err(NlError::ProtocolMissing { .. }) => sockq_netlink::procnet::read_inet(
                    table,
                    family,
                    StateSet::ALL,
                    net_proc,
                    &mut add,
                ),
                r => r,
            };
            if r.is_err() && !missing.contains(&table) {
                missing.push(table);
            }
        }
    }
    Ok(missing)
}

/// The text of `net/FILE` (`sockstat`, `sockstat6`), empty when unreadable.
pub fn sockstat(net_proc: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(net_proc.join("net").join(file)).ok()
}
