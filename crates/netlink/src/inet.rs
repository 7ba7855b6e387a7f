//! inet_diag: the request (with the attributes netlink-packet-sock-diag
//! cannot emit) and a zero-allocation decoder for replies.

use crate::error::Error;
use crate::msg::{self, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_HDRLEN, NlHeader, SOCK_DIAG_BY_FAMILY};
use netlink_packet_core::Emitable;
use netlink_packet_sock_diag::inet::{self as crate_inet, ExtensionFlags, SocketId, StateFlags};
use sockq_model::{
    BbrInfo, DctcpInfo, Endpoint, Family, MptcpInfo, Shutdown, SkMem, Socket, State, StateSet,
    Table, TcpInfo, Timer, TimerKind, VegasInfo,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Size of `struct inet_diag_msg`.
pub const INET_DIAG_MSG_LEN: usize = 72;
/// Size of `struct inet_diag_req_v2`.
pub const INET_DIAG_REQ_V2_LEN: usize = 56;
/// Bytes of `struct tcp_info` this decoder knows (Linux 6.18).
pub const TCP_INFO_KNOWN_LEN: usize = 280;
/// Bytes of `struct mptcp_info` this decoder knows (Linux 6.18).
pub const MPTCP_INFO_KNOWN_LEN: usize = 96;

/// Request attribute: filter bytecode.
pub const INET_DIAG_REQ_BYTECODE: u16 = 1;
/// Request attribute: the protocol as a u32, for protocols over 255.
pub const INET_DIAG_REQ_PROTOCOL: u16 = 3;

/// Reply attribute numbers (`INET_DIAG_*`).
#[allow(missing_docs)]
pub mod attr {
    pub const MEMINFO: u16 = 1;
    pub const INFO: u16 = 2;
    pub const VEGASINFO: u16 = 3;
    pub const CONG: u16 = 4;
    pub const TOS: u16 = 5;
    pub const TCLASS: u16 = 6;
    pub const SKMEMINFO: u16 = 7;
    pub const SHUTDOWN: u16 = 8;
    pub const DCTCPINFO: u16 = 9;
    pub const PROTOCOL: u16 = 10;
    pub const SKV6ONLY: u16 = 11;
    pub const MARK: u16 = 15;
    pub const BBRINFO: u16 = 16;
    pub const CLASS_ID: u16 = 17;
    pub const CGROUP_ID: u16 = 21;
    pub const SOCKOPT: u16 = 22;
}

/// `idiag_ext` bits: the bit for attribute N is `1 << (N - 1)`.
pub mod ext {
    /// Legacy memory info (`-m`).
    pub const MEMINFO: u8 = 1 << 0;
    /// tcp_info / mptcp_info (`-i`).
    pub const INFO: u8 = 1 << 1;
    /// Vegas info; also brings DCTCP and BBR info (`-i`).
    pub const VEGASINFO: u8 = 1 << 2;
    /// Congestion control name (`-i`).
    pub const CONG: u8 = 1 << 3;
    /// IP TOS (`--tos`).
    pub const TOS: u8 = 1 << 4;
    /// IPv6 traffic class; also brings the class id (`--tos`).
    pub const TCLASS: u8 = 1 << 5;
    /// SK_MEMINFO array (`-m`).
    pub const SKMEMINFO: u8 = 1 << 6;
    /// Shutdown state (always sent by modern kernels anyway).
    pub const SHUTDOWN: u8 = 1 << 7;
}

/// One inet_diag dump request: one family and one table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InetRequest {
    /// [`Family::Inet`] or [`Family::Inet6`].
    pub family: Family,
    /// An inet table (tcp, udp, udplite, mptcp, sctp, dccp, raw).
    pub table: Table,
    /// States to dump (`idiag_states`).
    pub states: StateSet,
    /// `idiag_ext` bits, see [`ext`].
    pub extensions: u8,
    /// Kernel filter bytecode (INET_DIAG_REQ_BYTECODE), if any.
    pub bytecode: Option<Vec<u8>>,
}

impl InetRequest {
    /// A request for every state, no extensions and no filter.
    pub fn new(family: Family, table: Table) -> InetRequest {
        InetRequest {
            family,
            table,
            states: StateSet::ALL,
            extensions: 0,
            bytecode: None,
        }
    }

    /// Serializes the whole netlink message: `nlmsghdr`, `inet_diag_req_v2`,
    /// then the request attributes.
    pub fn to_bytes(&self, seq: u32) -> Result<Vec<u8>, Error> {
        let socket_id = match self.family {
            Family::Inet => SocketId::new_v4(),
            Family::Inet6 => SocketId::new_v6(),
            f => return Err(Error::Invalid(format!("family {f} is not inet"))),
        };
        let protocol = self
            .table
            .ip_protocol()
            .ok_or_else(|| Error::Invalid(format!("table {} is not inet", self.table)))?;
        let req = crate_inet::InetRequest {
            family: self.family.as_u8(),
            // Over 255 the byte is 0 and INET_DIAG_REQ_PROTOCOL carries it.
            protocol: u8::try_from(protocol).unwrap_or(0),
            extensions: ExtensionFlags::from_bits_retain(self.extensions),
            states: StateFlags::from_bits_retain(self.states.0),
            socket_id,
        };
        let body_len = req.buffer_len();
        let mut out = vec![0u8; NLMSG_HDRLEN + body_len];
        if let Some(body) = out.get_mut(NLMSG_HDRLEN..) {
            req.emit(body);
        }
        // Gap in netlink-packet-sock-diag 0.5: its InetRequest is exactly the
        // 56-byte struct and cannot carry request attributes, so the bytecode
        // and the u32 protocol are appended here by hand.
        if let Some(code) = &self.bytecode {
            msg::push_attr(&mut out, INET_DIAG_REQ_BYTECODE, code)?;
        }
        if protocol > 255 {
            msg::push_attr(
                &mut out,
                INET_DIAG_REQ_PROTOCOL,
                &u32::from(protocol).to_ne_bytes(),
            )?;
        }
        let len = u32::try_from(out.len())
            .map_err(|_| Error::Invalid("request larger than 4 GiB".into()))?;
        NlHeader {
            len,
            ty: SOCK_DIAG_BY_FAMILY,
            flags: NLM_F_REQUEST | NLM_F_DUMP,
            seq,
            pid: 0,
        }
        .write(&mut out);
        Ok(out)
    }

    /// Names the request in messages, such as `raw (inet6) sock_diag dump`.
    pub fn describe(&self) -> String {
        format!("{} ({}) sock_diag dump", self.table, self.family)
    }
}

fn ip_from(bytes: &[u8], family: Family) -> IpAddr {
    let mut a = [0u8; 16];
    let n = bytes.len().min(16);
    if let (Some(dst), Some(src)) = (a.get_mut(..n), bytes.get(..n)) {
        dst.copy_from_slice(src);
    }
    match family {
        Family::Inet => IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])),
        _ => IpAddr::V6(Ipv6Addr::from(a)),
    }
}

fn be16_at(b: &[u8], off: usize) -> u16 {
    b.get(off..off + 2)
        .and_then(|s| s.try_into().ok())
        .map(u16::from_be_bytes)
        .unwrap_or(0)
}

/// Decodes one inet_diag reply payload (after the `nlmsghdr`): the 72-byte
/// `inet_diag_msg` and its attributes, for a socket of `table`.
///
/// Only structural faults are errors: a payload shorter than 72 bytes, or an
/// attribute that runs past the payload. Unknown attributes are ignored and
/// short known ones are zero-filled or skipped. Nothing is allocated unless
/// CONG, INFO or the like are present.
pub fn decode_inet(payload: &[u8], table: Table) -> Result<Socket, Error> {
    let mut s = Socket::new(table, Family::Inet, State::Unknown);
    decode_inet_into(payload, table, &mut s)?;
    Ok(s)
}

/// [`decode_inet`] into an existing record, which is overwritten whole.
/// Its tcp_info box and congestion name buffer are reused, so a dump loop
/// that decodes every message into one record allocates nothing per
/// socket (`-i` made two allocations and frees per socket).
pub fn decode_inet_into(payload: &[u8], table: Table, s: &mut Socket) -> Result<(), Error> {
    let mut spare = Spare {
        info: s.tcp_info.take(),
        cong: s.cong.take(),
    };
    let Some(h) = payload.get(..INET_DIAG_MSG_LEN) else {
        return Err(Error::Truncated {
            what: "inet_diag_msg".into(),
            want: INET_DIAG_MSG_LEN,
            got: payload.len(),
        });
    };
    let u32f = |off: usize| msg::u32_at(h, off).unwrap_or(0);
    let family = Family::from_u8(h[0]);
    *s = Socket::new(table, family, State::from_u8(h[1]));
    let retrans = h[3];
    let addr_len = if family == Family::Inet { 4 } else { 16 };
    s.local = Endpoint::Inet {
        addr: ip_from(h.get(8..8 + addr_len).unwrap_or_default(), family),
        port: be16_at(h, 4),
    };
    s.peer = Endpoint::Inet {
        addr: ip_from(h.get(24..24 + addr_len).unwrap_or_default(), family),
        port: be16_at(h, 6),
    };
    s.ifindex = u32f(40);
    s.cookie = (u64::from(u32f(48)) << 32) | u64::from(u32f(44));
    let expires = u32f(52);
    s.timer = TimerKind::from_u8(h[2]).map(|kind| Timer {
        kind,
        expires_ms: expires,
        retrans,
    });
    s.recv_q = u32f(56);
    s.send_q = u32f(60);
    s.uid = Some(u32f(64));
    s.inode = u32f(68);

    let attrs = payload.get(INET_DIAG_MSG_LEN..).unwrap_or_default();
    for a in msg::attrs(attrs, "inet_diag_msg") {
        let (ty, data) = a?;
        apply_attr(s, ty, data, table, &mut spare);
    }
    Ok(())
}

fn first_u8(d: &[u8]) -> Option<u8> {
    d.first().copied()
}

/// Heap parts of the previous record, for [`decode_inet_into`] to reuse.
struct Spare {
    info: Option<Box<TcpInfo>>,
    cong: Option<String>,
}

fn apply_attr(s: &mut Socket, ty: u16, d: &[u8], table: Table, spare: &mut Spare) {
    match ty {
        attr::SHUTDOWN => s.shutdown = first_u8(d).map(Shutdown),
        attr::SKV6ONLY => s.v6only = first_u8(d).map(|v| v != 0),
        attr::MARK => s.mark = msg::u32_at(d, 0),
        attr::CGROUP_ID => s.cgroup_id = msg::u64_at(d, 0),
        attr::SOCKOPT => s.sockopt = msg::u16_at(d, 0),
        attr::TOS => s.tos = first_u8(d),
        attr::TCLASS => s.tclass = first_u8(d),
        attr::CLASS_ID => s.class_id = msg::u32_at(d, 0),
        attr::PROTOCOL => s.raw_protocol = first_u8(d),
        attr::SKMEMINFO => s.skmem = Some(decode_skmem(d)),
        attr::CONG => {
            let name = d.split(|&b| b == 0).next().unwrap_or_default();
            let mut c = spare.cong.take().unwrap_or_default();
            c.clear();
            c.push_str(&String::from_utf8_lossy(name));
            s.cong = Some(c);
        }
        attr::INFO => match table {
            Table::Tcp => {
                let info = decode_tcp_info(d);
                s.tcp_info = Some(match spare.info.take() {
                    Some(mut b) => {
                        *b = info;
                        b
                    }
                    None => Box::new(info),
                });
            }
            Table::Mptcp => s.mptcp_info = Some(Box::new(decode_mptcp_info(d))),
            // sctp_info, dccp info and the rest are not modelled yet.
            _ => {}
        },
        attr::VEGASINFO => {
            let b = padded::<16>(d);
            let f = |o| msg::u32_at(&b, o).unwrap_or(0);
            s.vegas = Some(VegasInfo {
                enabled: f(0),
                rtt_count: f(4),
                rtt: f(8),
                min_rtt: f(12),
            });
        }
        attr::DCTCPINFO => {
            let b = padded::<16>(d);
            let f = |o| msg::u32_at(&b, o).unwrap_or(0);
            s.dctcp = Some(DctcpInfo {
                enabled: msg::u16_at(&b, 0).unwrap_or(0),
                ce_state: msg::u16_at(&b, 2).unwrap_or(0),
                alpha: f(4),
                ab_ecn: f(8),
                ab_tot: f(12),
            });
        }
        attr::BBRINFO => {
            let b = padded::<20>(d);
            let f = |o| msg::u32_at(&b, o).unwrap_or(0);
            s.bbr = Some(BbrInfo {
                bw: (u64::from(f(4)) << 32) | u64::from(f(0)),
                min_rtt: f(8),
                pacing_gain: f(12),
                cwnd_gain: f(16),
            });
        }
        // MEMINFO (legacy, superseded by SKMEMINFO) and anything unknown.
        _ => {}
    }
}

/// Copies `d` into a zeroed array of `N` bytes, cutting or zero-filling.
fn padded<const N: usize>(d: &[u8]) -> [u8; N] {
    let mut b = [0u8; N];
    let n = d.len().min(N);
    if let (Some(dst), Some(src)) = (b.get_mut(..n), d.get(..n)) {
        dst.copy_from_slice(src);
    }
    b
}

/// Decodes an SK_MEMINFO array; backlog and drops only when present.
pub fn decode_skmem(d: &[u8]) -> SkMem {
    let f = |i: usize| msg::u32_at(d, i * 4);
    SkMem {
        rmem_alloc: f(0).unwrap_or(0),
        rcvbuf: f(1).unwrap_or(0),
        wmem_alloc: f(2).unwrap_or(0),
        sndbuf: f(3).unwrap_or(0),
        fwd_alloc: f(4).unwrap_or(0),
        wmem_queued: f(5).unwrap_or(0),
        optmem: f(6).unwrap_or(0),
        backlog: f(7),
        drops: f(8),
    }
}

/// Decodes `struct tcp_info` by length, as ss does: the kernel's bytes are
/// copied into a zeroed buffer of the known size, so fields a shorter
/// (older) struct lacks read 0, and bytes past the known size are ignored.
pub fn decode_tcp_info(d: &[u8]) -> TcpInfo {
    let b = padded::<TCP_INFO_KNOWN_LEN>(d);
    let u8f = |o: usize| b.get(o).copied().unwrap_or(0);
    let u16f = |o: usize| msg::u16_at(&b, o).unwrap_or(0);
    let u32f = |o: usize| msg::u32_at(&b, o).unwrap_or(0);
    let u64f = |o: usize| msg::u64_at(&b, o).unwrap_or(0);
    TcpInfo {
        len: d.len(),
        state: u8f(0),
        ca_state: u8f(1),
        retransmits: u8f(2),
        probes: u8f(3),
        backoff: u8f(4),
        options: u8f(5),
        snd_wscale: u8f(6) & 0x0f,
        rcv_wscale: u8f(6) >> 4,
        delivery_rate_app_limited: u8f(7) & 1 != 0,
        fastopen_client_fail: (u8f(7) >> 1) & 3,
        rto: u32f(8),
        ato: u32f(12),
        snd_mss: u32f(16),
        rcv_mss: u32f(20),
        unacked: u32f(24),
        sacked: u32f(28),
        lost: u32f(32),
        retrans: u32f(36),
        fackets: u32f(40),
        last_data_sent: u32f(44),
        last_ack_sent: u32f(48),
        last_data_recv: u32f(52),
        last_ack_recv: u32f(56),
        pmtu: u32f(60),
        rcv_ssthresh: u32f(64),
        rtt: u32f(68),
        rttvar: u32f(72),
        snd_ssthresh: u32f(76),
        snd_cwnd: u32f(80),
        advmss: u32f(84),
        reordering: u32f(88),
        rcv_rtt: u32f(92),
        rcv_space: u32f(96),
        total_retrans: u32f(100),
        pacing_rate: u64f(104),
        max_pacing_rate: u64f(112),
        bytes_acked: u64f(120),
        bytes_received: u64f(128),
        segs_out: u32f(136),
        segs_in: u32f(140),
        notsent_bytes: u32f(144),
        min_rtt: u32f(148),
        data_segs_in: u32f(152),
        data_segs_out: u32f(156),
        delivery_rate: u64f(160),
        busy_time: u64f(168),
        rwnd_limited: u64f(176),
        sndbuf_limited: u64f(184),
        delivered: u32f(192),
        delivered_ce: u32f(196),
        bytes_sent: u64f(200),
        bytes_retrans: u64f(208),
        dsack_dups: u32f(216),
        reord_seen: u32f(220),
        rcv_ooopack: u32f(224),
        snd_wnd: u32f(228),
        rcv_wnd: u32f(232),
        rehash: u32f(236),
        total_rto: u16f(240),
        total_rto_recoveries: u16f(242),
        total_rto_time: u32f(244),
        received_ce: u32f(248),
        delivered_e1_bytes: u32f(252),
        delivered_e0_bytes: u32f(256),
        delivered_ce_bytes: u32f(260),
        received_e1_bytes: u32f(264),
        received_e0_bytes: u32f(268),
        received_ce_bytes: u32f(272),
        accecn_fail_mode: u16f(276),
        accecn_opt_seen: u16f(278),
    }
}

/// Decodes `struct mptcp_info` by length (zero-filled like tcp_info). The
/// 6.1 header stops at `csum_enabled` (43 bytes); later kernels append the
/// retransmit and byte counters, `subflows_total`, `endp_laminar_max` and
/// the last-activity times (96 bytes on 6.18).
pub fn decode_mptcp_info(d: &[u8]) -> MptcpInfo {
    let b = padded::<MPTCP_INFO_KNOWN_LEN>(d);
    let u8f = |o: usize| b.get(o).copied().unwrap_or(0);
    let u32f = |o: usize| msg::u32_at(&b, o).unwrap_or(0);
    let u64f = |o: usize| msg::u64_at(&b, o).unwrap_or(0);
    MptcpInfo {
        len: d.len(),
        subflows: u8f(0),
        add_addr_signal: u8f(1),
        add_addr_accepted: u8f(2),
        subflows_max: u8f(3),
        add_addr_signal_max: u8f(4),
        add_addr_accepted_max: u8f(5),
        flags: u32f(8),
        token: u32f(12),
        write_seq: u64f(16),
        snd_una: u64f(24),
        rcv_nxt: u64f(32),
        local_addr_used: u8f(40),
        local_addr_max: u8f(41),
        csum_enabled: u8f(42),
        retransmits: u32f(44),
        bytes_retrans: u64f(48),
        bytes_sent: u64f(56),
        bytes_received: u64f(64),
        bytes_acked: u64f(72),
        subflows_total: u8f(80),
        endp_laminar_max: u8f(81),
        last_data_sent: u32f(84),
        last_data_recv: u32f(88),
        last_ack_recv: u32f(92),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout() {
        let mut r = InetRequest::new(Family::Inet6, Table::Mptcp);
        r.states = StateSet::LISTENING;
        r.extensions = ext::INFO | ext::SKMEMINFO;
        r.bytecode = Some(vec![7, 16, 20, 0]);
        let b = r.to_bytes(42).unwrap_or_default();
        // 16 header + 56 req + 8 bytecode attr + 8 protocol attr.
        assert_eq!(b.len(), 88);
        assert_eq!(msg::u32_at(&b, 0), Some(88));
        assert_eq!(msg::u16_at(&b, 4), Some(20));
        assert_eq!(msg::u16_at(&b, 6), Some(0x301));
        assert_eq!(msg::u32_at(&b, 8), Some(42));
        assert_eq!(&b[16..20], &[10, 0, 0x42, 0]);
        assert_eq!(msg::u32_at(&b, 20), Some(0x480));
        assert_eq!(&b[72..80], &[8, 0, 1, 0, 7, 16, 20, 0]);
        assert_eq!(&b[80..88], &[8, 0, 3, 0, 6, 1, 0, 0]);
        let tcp = InetRequest::new(Family::Inet, Table::Tcp)
            .to_bytes(1)
            .unwrap_or_default();
        assert_eq!(tcp.len(), 72);
        assert_eq!(&tcp[16..18], &[2, 6]);
        assert!(
            InetRequest::new(Family::Unix, Table::Tcp)
                .to_bytes(1)
                .is_err()
        );
        assert!(
            InetRequest::new(Family::Inet, Table::UnixStream)
                .to_bytes(1)
                .is_err()
        );
    }

    #[test]
    fn short_header_is_an_error() {
        assert!(matches!(
            decode_inet(&[0u8; 71], Table::Tcp),
            Err(Error::Truncated {
                want: 72,
                got: 71,
                ..
            })
        ));
    }

    #[test]
    fn tcp_info_bitfields() {
        let mut d = [0u8; 8];
        d[6] = 0xa7;
        d[7] = 0b101;
        let t = decode_tcp_info(&d);
        assert_eq!((t.snd_wscale, t.rcv_wscale), (7, 10));
        assert!(t.delivery_rate_app_limited);
        assert_eq!(t.fastopen_client_fail, 2);
        assert_eq!(t.len, 8);
        assert_eq!(t.rto, 0);
    }
}
