//! netlink_diag: AF_NETLINK sockets (`ss -f netlink`).

use crate::DiagSocket;
use crate::error::Error;
use crate::inet::decode_skmem;
use crate::msg::{self, u32_at};
use crate::other::{diag_request, header};
use sockq_model::{Detail, Endpoint, Family, NetlinkDetail, Socket, State, Table};
use std::ops::ControlFlow;

/// AF_NETLINK.
const AF_NETLINK: u8 = 16;
/// Size of `struct netlink_diag_msg`.
pub const NETLINK_DIAG_MSG_LEN: usize = 28;
/// NDIAG_PROTO_ALL: every netlink protocol.
pub const NDIAG_PROTO_ALL: u8 = 255;

/// `ndiag_show` bits (NDIAG_SHOW_*).
pub mod show {
    /// SK_MEMINFO array.
    pub const MEMINFO: u32 = 0x01;
    /// Multicast groups bitmap.
    pub const GROUPS: u32 = 0x02;
    /// NDIAG_FLAG_* bits.
    pub const FLAGS: u32 = 0x08;
    /// What ss asks for: GROUPS and MEMINFO.
    pub const DEFAULT: u32 = GROUPS | MEMINFO;
}

/// Reply attribute types (NETLINK_DIAG_*).
mod attr {
    pub const MEMINFO: u16 = 0;
    pub const GROUPS: u16 = 1;
    pub const FLAGS: u16 = 4;
}

/// NETLINK_CONNECTED in `ndiag_state`.
const NETLINK_CONNECTED: u8 = 1;

/// Builds the whole netlink message of a netlink_diag dump for `protocol`
/// ([`NDIAG_PROTO_ALL`] for every protocol).
pub fn netlink_request(protocol: u8, show: u32) -> Vec<u8> {
    let mut body = [0u8; 20];
    body[0] = AF_NETLINK;
    body[1] = protocol;
    body[8..12].copy_from_slice(&show.to_ne_bytes());
    diag_request(&body)
}

/// Decodes one netlink_diag reply (the payload after the `nlmsghdr`).
///
/// The state is CLOSE (ss prints UNCONN for every netlink socket); Recv-Q
/// and Send-Q are rmem_alloc and wmem_alloc from MEMINFO. The port id is
/// read as a signed 32-bit number, as ss prints it. The peer is set only
/// for connected sockets.
pub fn decode_netlink(payload: &[u8]) -> Result<Socket, Error> {
    let h = header(payload, NETLINK_DIAG_MSG_LEN, "netlink_diag_msg")?;
    let sock_type = h.get(1).copied().unwrap_or(0);
    let protocol = h.get(2).copied().unwrap_or(0);
    let nl_state = h.get(3).copied().unwrap_or(0);
    let portid = u32_at(h, 4).unwrap_or(0);
    let dst_portid = u32_at(h, 8).unwrap_or(0);
    let dst_group = u32_at(h, 12).unwrap_or(0);
    let mut s = Socket::new(Table::Netlink, Family::Netlink, State::Close);
    s.inode = u32_at(h, 16).unwrap_or(0);
    s.cookie =
        u64::from(u32_at(h, 20).unwrap_or(0)) | (u64::from(u32_at(h, 24).unwrap_or(0)) << 32);
    let mut d = NetlinkDetail {
        sock_type,
        ..NetlinkDetail::default()
    };
    let rest = payload.get(NETLINK_DIAG_MSG_LEN..).unwrap_or_default();
    for a in msg::attrs(rest, "netlink_diag_msg") {
        let (ty, data) = a?;
        match ty {
            attr::MEMINFO => s.skmem = Some(decode_skmem(data)),
            attr::GROUPS => {
                d.groups = data
                    .chunks_exact(4)
                    .map(|c| u32_at(c, 0).unwrap_or(0))
                    .collect();
            }
            attr::FLAGS => d.flags = u32_at(data, 0),
            _ => {}
        }
    }
    if let Some(m) = s.skmem {
        s.recv_q = m.rmem_alloc;
        s.send_q = m.wmem_alloc;
    }
    s.local = Endpoint::Netlink {
        protocol,
        portid: i64::from(portid as i32),
    };
    if nl_state == NETLINK_CONNECTED || dst_group != 0 || dst_portid != 0 {
        s.peer = Endpoint::NetlinkPeer {
            group: dst_group,
            portid: dst_portid,
        };
    }
    s.detail = Detail::Netlink(d);
    Ok(s)
}

impl DiagSocket {
    /// Dumps netlink sockets of `protocol` ([`NDIAG_PROTO_ALL`] for all),
    /// asking for the [`show`] bits, and calls `on_socket` for each until it
    /// breaks.
    pub fn dump_netlink(
        &mut self,
        protocol: u8,
        show: u32,
        on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        self.dump_family(
            &netlink_request(protocol, show),
            "netlink sock_diag dump",
            decode_netlink,
            on_socket,
        )
    }
}
