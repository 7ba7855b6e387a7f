//! packet_diag: AF_PACKET sockets (`ss -0`).
//!
//! Packet sockets have no state; ss shows them as UNCONN and asks for them
//! only when CLOSE is in the state mask (the caller decides).

use crate::DiagSocket;
use crate::error::Error;
use crate::inet::decode_skmem;
use crate::msg::{self, u32_at};
use crate::other::{diag_request, header, u32_fill};
use sockq_model::{
    Detail, Endpoint, Family, PacketDetail, PacketInfo, PacketRing, Socket, State, Table,
};
use std::ops::ControlFlow;

/// AF_PACKET.
const AF_PACKET: u8 = 17;
/// Size of `struct packet_diag_msg`.
pub const PACKET_DIAG_MSG_LEN: usize = 16;

/// `pdiag_show` bits (PACKET_SHOW_*).
pub mod show {
    /// Basic information (PACKET_DIAG_INFO).
    pub const INFO: u32 = 0x01;
    /// Multicast memberships.
    pub const MCLIST: u32 = 0x02;
    /// Ring configurations.
    pub const RING_CFG: u32 = 0x04;
    /// Fanout group.
    pub const FANOUT: u32 = 0x08;
    /// SK_MEMINFO array.
    pub const MEMINFO: u32 = 0x10;
    /// Classic BPF filter.
    pub const FILTER: u32 = 0x20;
    /// What ss asks for: INFO, MEMINFO, FILTER, RING_CFG and FANOUT.
    pub const DEFAULT: u32 = INFO | MEMINFO | FILTER | RING_CFG | FANOUT;
}

/// Reply attribute types (PACKET_DIAG_*).
mod attr {
    pub const INFO: u16 = 0;
    pub const RX_RING: u16 = 2;
    pub const TX_RING: u16 = 3;
    pub const FANOUT: u16 = 4;
    pub const UID: u16 = 5;
    pub const MEMINFO: u16 = 6;
    pub const FILTER: u16 = 7;
}

/// Builds the whole netlink message of a packet_diag dump.
pub fn packet_request(show: u32) -> Vec<u8> {
    let mut body = [0u8; 20];
    body[0] = AF_PACKET;
    body[8..12].copy_from_slice(&show.to_ne_bytes());
    diag_request(&body)
}

/// Decodes one packet_diag reply (the payload after the `nlmsghdr`).
///
/// The protocol (`pdiag_num`, the ethertype) arrives in host order: the
/// kernel applies `ntohs` to the socket's network-order number. Recv-Q is rmem_alloc from MEMINFO and Send-Q is 0, as in ss.
/// Attribute structs shorter than this crate knows are zero-filled.
pub fn decode_packet(payload: &[u8]) -> Result<Socket, Error> {
    let h = header(payload, PACKET_DIAG_MSG_LEN, "packet_diag_msg")?;
    let table = match h.get(1).copied().unwrap_or(0) {
        3 => Table::PacketRaw,
        2 => Table::PacketDgram,
        o => return Err(Error::Decode(format!("packet_diag_msg: socket type {o}"))),
    };
    let protocol = msg::u16_at(h, 2).unwrap_or(0);
    let mut s = Socket::new(table, Family::Packet, State::Close);
    s.inode = u32_at(h, 4).unwrap_or(0);
    s.cookie = u64::from(u32_at(h, 8).unwrap_or(0)) | (u64::from(u32_at(h, 12).unwrap_or(0)) << 32);
    let mut d = PacketDetail::default();
    let rest = payload.get(PACKET_DIAG_MSG_LEN..).unwrap_or_default();
    for a in msg::attrs(rest, "packet_diag_msg") {
        let (ty, data) = a?;
        match ty {
            attr::INFO => {
                let v = u32_fill::<6>(data);
                d.info = Some(PacketInfo {
                    ifindex: v[0],
                    version: v[1],
                    reserve: v[2],
                    copy_thresh: v[3],
                    tstamp: v[4],
                    flags: v[5],
                });
            }
            attr::RX_RING => d.rx_ring = Some(ring(data)),
            attr::TX_RING => d.tx_ring = Some(ring(data)),
            attr::FANOUT => d.fanout = u32_at(data, 0),
            attr::UID => s.uid = u32_at(data, 0),
            attr::MEMINFO => s.skmem = Some(decode_skmem(data)),
            attr::FILTER => {
                d.filter = Some(
                    data.chunks_exact(8)
                        .map(|c| {
                            let code = u16::from_ne_bytes([c[0], c[1]]);
                            (code, c[2], c[3], u32_at(c, 4).unwrap_or(0))
                        })
                        .collect(),
                );
            }
            _ => {}
        }
    }
    let ifindex = d.info.map(|i| i.ifindex).unwrap_or(0);
    s.ifindex = ifindex;
    s.recv_q = s.skmem.map(|m| m.rmem_alloc).unwrap_or(0);
    s.local = Endpoint::Packet { protocol, ifindex };
    s.detail = Detail::Packet(Box::new(d));
    Ok(s)
}

fn ring(data: &[u8]) -> PacketRing {
    let v = u32_fill::<7>(data);
    PacketRing {
        block_size: v[0],
        block_nr: v[1],
        frame_size: v[2],
        frame_nr: v[3],
        retire_tmo: v[4],
        sizeof_priv: v[5],
        features: v[6],
    }
}

impl DiagSocket {
    /// Dumps every packet socket, asking for the [`show`] bits, and calls
    /// `on_socket` for each until it breaks.
    pub fn dump_packet(
        &mut self,
        show: u32,
        on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        self.dump_family(
            &packet_request(show),
            "packet sock_diag dump",
            decode_packet,
            on_socket,
        )
    }
}
