//! `--metrics`: the ports listened on in this namespace, for the
//! `direction` of connections, when the selection leaves the listening
//! sockets out (`-tn`, `state established`, a filter). One dump per inet
//! table and family with only the listening states and no filter: the
//! kernel walks its (small) listening table only. Best effort: a table the
//! kernel cannot dump gives no ports.

use super::open_diag;
use crate::error::CliError;
use sockq_model::{Family, State, StateSet, Table};
use sockq_netlink::InetRequest;
use std::ops::ControlFlow;

/// Calls `on_port(table, port)` for every listening port of the inet
/// tables among `tables` (LISTEN; UNCONN with a port for udp, udplite, raw).
pub fn ports(tables: &[Table], on_port: &mut dyn FnMut(Table, u16)) -> Result<(), CliError> {
    let mut nl = None;
    for &table in tables.iter().filter(|t| t.is_inet()) {
        let state = match table {
            Table::Udp | Table::UdpLite | Table::Raw => State::Close,
            _ => State::Listen,
        };
        for family in [Family::Inet, Family::Inet6] {
            let req = InetRequest {
                family,
                table,
                states: StateSet::of(state),
                extensions: 0,
                bytecode: None,
            };
            let sock = match &mut nl {
                Some(s) => s,
                None => nl.insert(open_diag()?),
            };
            let _ = sock.dump_inet(&req, &mut |s| {
                if let Some((_, port)) = s.local.inet()
                    && port != 0
                    && s.state == state
                {
                    on_port(table, port);
                }
                ControlFlow::Continue(())
            });
        }
    }
    Ok(())
}
