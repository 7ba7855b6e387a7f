//! Dumps of the families that are not inet: unix, packet, netlink, vsock,
//! tipc and xdp. Each family is dumped once, whatever number of its tables
//! is selected, and rows of unselected tables are dropped here.

use crate::config::Config;
use sockq_model::{Family, Socket, State, TableSet};
use sockq_netlink::{DiagSocket, Error};
use std::ops::ControlFlow;

/// Dumps `family`, passing sockets of the selected tables to `on_socket`.
pub fn dump(
    family: Family,
    cfg: &Config,
    tables: TableSet,
    nl: &mut DiagSocket,
    on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
) -> Result<(), Error> {
    let mut pass = |s: &Socket| {
        if tables.contains(s.table) {
            on_socket(s)
        } else {
            ControlFlow::Continue(())
        }
    };
    let close_wanted = cfg.states.contains(State::Close);
    match family {
        Family::Unix => {
            use sockq_netlink::unix::show;
            let mut bits = show::DEFAULT;
            if cfg.show.extended {
                bits |= show::VFS | show::ICONS;
            }
            if cfg.show.memory {
                bits |= show::MEMINFO;
            }
            // Unix sockets are buffered so that each peer's name can be
            // filled from the same dump (ss never knows it).
            let mut all: Vec<Socket> = Vec::new();
            nl.dump_unix(cfg.states.0, bits, &mut |s| {
                all.push(s.clone());
                ControlFlow::Continue(())
            })?;
            sockq_netlink::unix::fill_unix_peer_names(&mut all);
            for s in &all {
                if pass(s).is_break() {
                    break;
                }
            }
            Ok(())
        }
        Family::Packet if close_wanted => {
            nl.dump_packet(sockq_netlink::packet::show::DEFAULT, &mut pass)
        }
        Family::Netlink if close_wanted => nl.dump_netlink(
            sockq_netlink::nl::NDIAG_PROTO_ALL,
            sockq_netlink::nl::show::DEFAULT,
            &mut pass,
        ),
        Family::Vsock => nl.dump_vsock(cfg.states.0, &mut pass),
        Family::Tipc => nl.dump_tipc(cfg.states.0, &mut pass),
        Family::Xdp if close_wanted => {
            nl.dump_xdp(sockq_netlink::other::xdp_show::DEFAULT, &mut pass)
        }
        _ => Ok(()),
    }
}
