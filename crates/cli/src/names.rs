//! Turning numbers into names for the table: services, interfaces,
//! ethertypes, netlink protocols and owners, and (with `-r`) host names.

use crate::services::{self, Proto, Services};
use sockq_model::Table;
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;

/// Name lookups for one run, cached.
pub struct Names {
    numeric: bool,
    ephemeral: (u16, u16),
    ifnames: RefCell<Option<HashMap<u32, Vec<u8>>>>,
    resolver: Option<crate::resolve::Resolver>,
    proc_root: String,
}

impl Names {
    /// Lookups as `-n` and `-r` ask.
    pub fn new(numeric: bool, resolve: bool) -> Names {
        Names {
            numeric,
            ephemeral: services::ephemeral_range(),
            ifnames: RefCell::new(None),
            resolver: resolve.then(crate::resolve::Resolver::new),
            proc_root: std::env::var("PROC_ROOT").unwrap_or_else(|_| "/proc".into()),
        }
    }

    /// The service name for a port, unless `-n` or the port is ephemeral
    /// (ss keeps ephemeral ports numeric).
    pub fn service(&self, table: Table, port: u16) -> Option<&'static str> {
        if self.numeric {
            return None;
        }
        if table == Table::Raw {
            return services::protocol_name(u8::try_from(port).ok()?);
        }
        if port >= self.ephemeral.0 && port <= self.ephemeral.1 {
            return None;
        }
        let proto = match table {
            Table::Udp | Table::UdpLite => Proto::Udp,
            Table::Dccp => Proto::Dccp,
            Table::Sctp => Proto::Sctp,
            _ => Proto::Tcp,
        };
        Services::system().name(port, proto)
    }

    /// The reverse-resolved host name (`-r`), if any.
    pub fn host(&self, addr: IpAddr) -> Option<std::sync::Arc<str>> {
        self.resolver.as_ref().and_then(|r| r.lookup(addr))
    }

    /// Appends an interface name, or `if<N>` when unknown.
    pub fn push_ifname(&self, out: &mut Vec<u8>, ifindex: u32) {
        let mut cache = self.ifnames.borrow_mut();
        let map =
            cache.get_or_insert_with(|| sockq_netlink::interface_names().into_iter().collect());
        match map.get(&ifindex) {
            Some(n) => crate::sanitize::escape_bytes(out, n),
            None => {
                out.extend_from_slice(b"if");
                crate::printer::num::push_u64(out, u64::from(ifindex));
            }
        }
    }

    /// The interface's name as the kernel has it (raw bytes), for JSON,
    /// which escapes it itself; `None` when unknown.
    pub fn ifname_bytes(&self, ifindex: u32) -> Option<Vec<u8>> {
        let mut cache = self.ifnames.borrow_mut();
        let map =
            cache.get_or_insert_with(|| sockq_netlink::interface_names().into_iter().collect());
        map.get(&ifindex).map(|n| AsRef::<[u8]>::as_ref(n).to_vec())
    }

    /// Appends a packet socket's protocol: `*` for ETH_P_ALL, a name, or `[N]`.
    pub fn push_ethertype(&self, out: &mut Vec<u8>, proto: u16) {
        if proto == 3 {
            out.push(b'*');
            return;
        }
        match sockq_model::names::ethertype_name(proto).filter(|_| !self.numeric) {
            Some(n) => out.extend_from_slice(n.as_bytes()),
            None => {
                out.push(b'[');
                crate::printer::num::push_u64(out, u64::from(proto));
                out.push(b']');
            }
        }
    }

    /// Appends a netlink protocol name, or its number with `-n`.
    pub fn push_netlink_proto(&self, out: &mut Vec<u8>, proto: u8) {
        match sockq_model::names::netlink_protocol_name(proto).filter(|_| !self.numeric) {
            Some(n) => out.extend_from_slice(n.as_bytes()),
            None => crate::printer::num::push_u64(out, u64::from(proto)),
        }
    }

    /// Appends a netlink socket's owner: `kernel`, `COMM/PORTID`, the port
    /// id, or `*` when unbound; always a number with `-n`.
    pub fn push_netlink_owner(&self, out: &mut Vec<u8>, portid: i64) {
        if portid < 0 {
            out.push(b'*');
            return;
        }
        if self.numeric {
            crate::printer::num::push_u64(out, portid.unsigned_abs());
            return;
        }
        if portid == 0 {
            out.extend_from_slice(b"kernel");
            return;
        }
        let comm = std::fs::read(format!("{}/{}/stat", self.proc_root, portid))
            .ok()
            .and_then(|stat| {
                let open = stat.iter().position(|&b| b == b'(')?;
                let close = stat.iter().rposition(|&b| b == b')')?;
                stat.get(open + 1..close).map(<[u8]>::to_vec)
            });
        if let Some(c) = comm {
            crate::sanitize::escape_bytes(out, &c);
            out.push(b'/');
        }
        crate::printer::num::push_u64(out, portid.unsigned_abs());
    }
}
