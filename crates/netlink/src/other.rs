//! vsock_diag, xdp_diag and TIPC sock_diag, plus helpers shared by the
//! non-inet families.
//!
//! Kernels without a family's diag module answer the request with ENOENT;
//! every `dump_*` here (and in the unix, packet and netlink modules) turns
//! that into [`Error::ProtocolMissing`], so that the caller can say so in one
//! line instead of failing or staying silent.

use crate::DiagSocket;
use crate::error::Error;
use crate::inet::decode_skmem;
use crate::msg::{
    self, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_HDRLEN, NlHeader, SOCK_DIAG_BY_FAMILY, u32_at, u64_at,
};
use sockq_model::{
    Detail, Endpoint, Family, Shutdown, Socket, State, Table, TipcDetail, XdpDetail, XdpStats,
    XdpUmem,
};
use std::ops::ControlFlow;

/// AF_TIPC.
const AF_TIPC: u8 = 30;
/// AF_VSOCK.
const AF_VSOCK: u8 = 40;
/// AF_XDP.
const AF_XDP: u8 = 44;

/// Wraps a sock_diag request body in a `nlmsghdr` (SOCK_DIAG_BY_FAMILY,
/// REQUEST|DUMP; the dump loop sets the sequence number).
pub(crate) fn diag_request(body: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; NLMSG_HDRLEN];
    out.extend_from_slice(body);
    NlHeader {
        len: u32::try_from(out.len()).unwrap_or(u32::MAX),
        ty: SOCK_DIAG_BY_FAMILY,
        flags: NLM_F_REQUEST | NLM_F_DUMP,
        seq: 0,
        pid: 0,
    }
    .write(&mut out);
    out
}

/// The fixed reply header, or [`Error::Truncated`].
pub(crate) fn header<'a>(payload: &'a [u8], len: usize, what: &str) -> Result<&'a [u8], Error> {
    payload.get(..len).ok_or_else(|| Error::Truncated {
        what: what.to_string(),
        want: len,
        got: payload.len(),
    })
}

/// Reads up to `N` host-order u32s; missing ones are zero (older kernels
/// send shorter structs).
pub(crate) fn u32_fill<const N: usize>(d: &[u8]) -> [u32; N] {
    let mut v = [0u32; N];
    for (i, x) in v.iter_mut().enumerate() {
        *x = u32_at(d, i * 4).unwrap_or(0);
    }
    v
}

/// Turns "no handler for this family" (ENOENT, as NLMSG_ERROR or in DONE)
/// into [`Error::ProtocolMissing`] naming the dump.
pub(crate) fn map_missing(e: Error, what: &str) -> Error {
    match e {
        Error::ProtocolMissing { .. } => Error::ProtocolMissing { what: what.into() },
        Error::Kernel { errno, .. } if errno == libc::ENOENT => {
            Error::ProtocolMissing { what: what.into() }
        }
        Error::Kernel { errno, .. } => Error::Kernel {
            errno,
            context: what.into(),
        },
        e => e,
    }
}

fn cookie_at(h: &[u8], off: usize) -> u64 {
    u64::from(u32_at(h, off).unwrap_or(0)) | (u64::from(u32_at(h, off + 4).unwrap_or(0)) << 32)
}

// ---------------------------------------------------------------- vsock

/// Size of `struct vsock_diag_msg`.
pub const VSOCK_DIAG_MSG_LEN: usize = 32;

/// Builds the whole netlink message of a vsock_diag dump (`states` as raw
/// `1 << state` bits).
pub fn vsock_request(states: u32) -> Vec<u8> {
    let mut body = [0u8; 24];
    body[0] = AF_VSOCK;
    body[4..8].copy_from_slice(&states.to_ne_bytes());
    diag_request(&body)
}

/// Decodes one vsock_diag reply. SOCK_STREAM is `v_str`, SOCK_DGRAM
/// `v_dgr`; SOCK_SEQPACKET (which has no table of its own) is listed with
/// the streams.
pub fn decode_vsock(payload: &[u8]) -> Result<Socket, Error> {
    let h = header(payload, VSOCK_DIAG_MSG_LEN, "vsock_diag_msg")?;
    let table = match h.get(1).copied().unwrap_or(0) {
        1 | 5 => Table::VsockStream,
        2 => Table::VsockDgram,
        o => return Err(Error::Decode(format!("vsock_diag_msg: socket type {o}"))),
    };
    let mut s = Socket::new(
        table,
        Family::Vsock,
        State::from_u8(h.get(2).copied().unwrap_or(0)),
    );
    s.shutdown = h.get(3).map(|&b| Shutdown(b));
    let v = u32_fill::<5>(h.get(4..).unwrap_or_default());
    s.local = Endpoint::Vsock {
        cid: v[0],
        port: v[1],
    };
    s.peer = Endpoint::Vsock {
        cid: v[2],
        port: v[3],
    };
    s.inode = v[4];
    s.cookie = cookie_at(h, 24);
    Ok(s)
}

// ---------------------------------------------------------------- xdp

/// Size of `struct xdp_diag_msg`.
pub const XDP_DIAG_MSG_LEN: usize = 16;

/// `xdiag_show` bits (XDP_SHOW_*).
pub mod xdp_show {
    /// Interface and queue.
    pub const INFO: u32 = 1 << 0;
    /// Ring sizes.
    pub const RING_CFG: u32 = 1 << 1;
    /// The umem.
    pub const UMEM: u32 = 1 << 2;
    /// SK_MEMINFO array.
    pub const MEMINFO: u32 = 1 << 3;
    /// Drop and error counters.
    pub const STATS: u32 = 1 << 4;
    /// What ss asks for: all of the above.
    pub const DEFAULT: u32 = INFO | RING_CFG | UMEM | MEMINFO | STATS;
}

/// Builds the whole netlink message of an xdp_diag dump.
pub fn xdp_request(show: u32) -> Vec<u8> {
    let mut body = [0u8; 20];
    body[0] = AF_XDP;
    body[8..12].copy_from_slice(&show.to_ne_bytes());
    diag_request(&body)
}

/// Decodes one xdp_diag reply. The state is CLOSE (ss prints UNCONN);
/// Recv-Q and Send-Q are 0.
pub fn decode_xdp(payload: &[u8]) -> Result<Socket, Error> {
    let h = header(payload, XDP_DIAG_MSG_LEN, "xdp_diag_msg")?;
    let mut s = Socket::new(Table::Xdp, Family::Xdp, State::Close);
    s.inode = u32_at(h, 4).unwrap_or(0);
    s.cookie = cookie_at(h, 8);
    let mut d = XdpDetail::default();
    let rest = payload.get(XDP_DIAG_MSG_LEN..).unwrap_or_default();
    for a in msg::attrs(rest, "xdp_diag_msg") {
        let (ty, data) = a?;
        match ty {
            1 => {
                let v = u32_fill::<2>(data);
                s.ifindex = v[0];
                s.local = Endpoint::Xdp {
                    ifindex: v[0],
                    queue: v[1],
                };
            }
            2 => s.uid = u32_at(data, 0),
            3 => d.rx_ring = u32_at(data, 0),
            4 => d.tx_ring = u32_at(data, 0),
            5 => {
                let v = u32_fill::<8>(data.get(8..).unwrap_or_default());
                d.umem = Some(XdpUmem {
                    size: u64_at(data, 0).unwrap_or(0),
                    id: v[0],
                    num_pages: v[1],
                    chunk_size: v[2],
                    headroom: v[3],
                    ifindex: v[4],
                    queue_id: v[5],
                    flags: v[6],
                    refs: v[7],
                });
            }
            6 => d.fill_ring = u32_at(data, 0),
            7 => d.completion_ring = u32_at(data, 0),
            8 => s.skmem = Some(decode_skmem(data)),
            9 => {
                let g = |i: usize| u64_at(data, i * 8).unwrap_or(0);
                d.stats = Some(XdpStats {
                    rx_dropped: g(0),
                    rx_invalid: g(1),
                    rx_full: g(2),
                    fill_ring_empty: g(3),
                    tx_invalid: g(4),
                    tx_ring_empty: g(5),
                });
            }
            _ => {}
        }
    }
    s.detail = Detail::Xdp(Box::new(d));
    Ok(s)
}

// ---------------------------------------------------------------- tipc

/// TIPC_NLA_SOCK: the nest holding one socket in a TIPC diag reply.
const TIPC_NLA_SOCK: u16 = 2;

/// Builds the whole netlink message of a TIPC sock_diag dump (`states` as
/// raw `1 << state` bits; TIPC states use the TCP numbers).
pub fn tipc_request(states: u32) -> Vec<u8> {
    let mut body = [0u8; 8];
    body[0] = AF_TIPC;
    body[4..8].copy_from_slice(&states.to_ne_bytes());
    diag_request(&body)
}

/// Decodes one TIPC sock_diag reply: TIPC netlink attributes, no fixed
/// header. The local end is `node:ref`, the peer `node:sock` when
/// connected.
pub fn decode_tipc(payload: &[u8]) -> Result<Socket, Error> {
    let mut nest = None;
    for a in msg::attrs(payload, "tipc sock_diag reply") {
        let (ty, data) = a?;
        if ty == TIPC_NLA_SOCK {
            nest = Some(data);
        }
    }
    let nest =
        nest.ok_or_else(|| Error::Decode("tipc sock_diag reply without TIPC_NLA_SOCK".into()))?;
    let mut s = Socket::new(Table::Tipc, Family::Tipc, State::Close);
    let mut d = TipcDetail::default();
    let (mut node, mut reference) = (0, 0);
    for a in msg::attrs(nest, "TIPC_NLA_SOCK") {
        let (ty, data) = a?;
        let v = u32_at(data, 0).unwrap_or(0);
        match ty {
            1 => node = v,
            2 => reference = v,
            3 => {
                let (mut cnode, mut csock, mut ctype, mut cinst, mut named) = (0, 0, 0, 0, false);
                for c in msg::attrs(data, "TIPC_NLA_SOCK_CON") {
                    let (cty, cd) = c?;
                    let cv = u32_at(cd, 0).unwrap_or(0);
                    match cty {
                        1 => named = true,
                        2 => cnode = cv,
                        3 => csock = cv,
                        4 => ctype = cv,
                        5 => cinst = cv,
                        _ => {}
                    }
                }
                s.peer = Endpoint::Tipc {
                    node: cnode,
                    reference: csock,
                };
                if named {
                    d.via = Some((ctype, cinst));
                }
            }
            4 => d.has_publ = true,
            5 => {
                for c in msg::attrs(data, "TIPC_NLA_SOCK_STAT") {
                    let (cty, cd) = c?;
                    let cv = u32_at(cd, 0).unwrap_or(0);
                    match cty {
                        1 => s.recv_q = cv,
                        2 => s.send_q = cv,
                        3 => d.link_cong = true,
                        4 => d.conn_cong = true,
                        5 => d.drop = cv,
                        _ => {}
                    }
                }
            }
            6 => d.sock_type = v,
            7 => s.inode = v,
            8 => s.uid = Some(v),
            9 => s.state = State::from_u8(u8::try_from(v).unwrap_or(u8::MAX)),
            10 => s.cookie = u64_at(data, 0).unwrap_or(0),
            _ => {}
        }
    }
    s.local = Endpoint::Tipc { node, reference };
    s.detail = Detail::Tipc(d);
    Ok(s)
}

impl DiagSocket {
    /// Dumps vsock sockets in `states` (raw bits) and calls `on_socket` for
    /// each until it breaks. No vsock_diag module gives
    /// [`Error::ProtocolMissing`].
    pub fn dump_vsock(
        &mut self,
        states: u32,
        on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        self.dump_family(
            &vsock_request(states),
            "vsock sock_diag dump",
            decode_vsock,
            on_socket,
        )
    }

    /// Dumps XDP sockets, asking for the [`xdp_show`] bits.
    pub fn dump_xdp(
        &mut self,
        show: u32,
        on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        self.dump_family(
            &xdp_request(show),
            "xdp sock_diag dump",
            decode_xdp,
            on_socket,
        )
    }

    /// Dumps TIPC sockets in `states` (raw bits).
    pub fn dump_tipc(
        &mut self,
        states: u32,
        on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        self.dump_family(
            &tipc_request(states),
            "tipc sock_diag dump",
            decode_tipc,
            on_socket,
        )
    }

    /// One dump of a family whose replies are SOCK_DIAG_BY_FAMILY
    /// messages decoded by `decode`; a missing module becomes
    /// [`Error::ProtocolMissing`] naming `what`.
    pub(crate) fn dump_family(
        &mut self,
        req: &[u8],
        what: &str,
        decode: fn(&[u8]) -> Result<Socket, Error>,
        on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        let r = self.dump_raw(req, &mut |ty, payload| {
            if ty != msg::SOCK_DIAG_BY_FAMILY {
                return Ok(ControlFlow::Continue(()));
            }
            Ok(on_socket(&decode(payload)?))
        });
        r.map_err(|e| map_missing(e, what))
    }
}
