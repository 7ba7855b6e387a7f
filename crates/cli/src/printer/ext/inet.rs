//! Inet details: timers, `-e`, `-m`, `--tos`, `--cgroup`, `--inet-sockopt`,
//! and tcp_info / mptcp_info (`-i`, spec 6.6).

use super::shared::{
    ExtOptions, arrow, sock_details, write_cgroup, write_skmem, write_timer_named,
};
use crate::printer::num::{fmt_g, hash_x, push_u64 as num, sprint_bw};
use sockq_model::{DctcpInfo, Family, MptcpInfo, Socket, State, Table, TcpInfo};
use std::io::Write as _;

pub(super) fn write_inet<'c>(
    out: &mut Vec<u8>,
    s: &Socket,
    o: &ExtOptions,
    cgroup_path: &dyn Fn(u64) -> Option<&'c [u8]>,
) {
    if (o.timers || o.extended || o.bpf)
        && let Some(t) = &s.timer
    {
        let name = if s.table == Table::Sctp {
            "T3_RTX"
        } else {
            t.kind.name()
        };
        write_timer_named(out, name, t);
    }
    if o.extended {
        sock_details(out, s, cgroup_path);
        if s.family == Family::Inet6
            && let Some(v) = s.v6only
        {
            let _ = write!(out, " v6only:{}", u8::from(v));
        }
        arrow(out, s);
    }
    if o.tos {
        if let Some(t) = s.tos {
            out.extend_from_slice(b" tos:");
            hash_x(out, u32::from(t));
        }
        if let Some(t) = s.tclass {
            out.extend_from_slice(b" tclass:");
            hash_x(out, u32::from(t));
        }
        if let Some(c) = s.class_id {
            out.extend_from_slice(b" class_id:");
            hash_x(out, c);
        }
    }
    if o.cgroup
        && let Some(id) = s.cgroup_id
    {
        write_cgroup(out, id, cgroup_path);
    }
    if o.inet_sockopt
        && let Some(bits) = s.sockopt
    {
        write_sockopt(out, bits, o);
    }
    let udp = matches!(s.table, Table::Udp | Table::UdpLite);
    if o.memory || (o.info && !udp) {
        if !o.oneline {
            out.extend_from_slice(b"\n\t");
        }
        if o.memory
            && let Some(m) = &s.skmem
        {
            write_skmem(out, m);
        }
        if o.info {
            if s.table == Table::Mptcp {
                if let Some(m) = &s.mptcp_info {
                    write_mptcp_info(out, m);
                }
            } else if let Some(i) = &s.tcp_info {
                write_tcp_info(out, s, i, o);
            }
        }
    }
}

/// The inet_diag_sockopt bits: byte 0 bit 0 recverr … bit 7 nodefrag,
/// byte 1 bit 0 bind_addr_no_port, bit 1 recverr_rfc4884, bit 2
/// defer_connect.
const SOCKOPT_NAMES: [&str; 11] = [
    "recverr",
    "is_icsk",
    "freebind",
    "hdrincl",
    "mc_loop",
    "transparent",
    "mc_all",
    "nodefrag",
    "bind_addr_no_port",
    "recverr_rfc4884",
    "defer_connect",
];

fn write_sockopt(out: &mut Vec<u8>, bits: u16, o: &ExtOptions) {
    out.extend_from_slice(o.brk());
    out.extend_from_slice(b"inet-sockopt: (");
    for (i, n) in SOCKOPT_NAMES.iter().enumerate() {
        if bits & (1 << i) != 0 {
            out.push(b' ');
            out.extend_from_slice(n.as_bytes());
        }
    }
    out.push(b')');
}

/// Writes ` NAME:VALUE` when `v` is not zero.
// Inlined so that each call site copies a name of known length.
#[inline(always)]
fn field(out: &mut Vec<u8>, name: &str, v: u64) {
    if v != 0 {
        out.push(b' ');
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        num(out, v);
    }
}

#[inline(always)]
fn field_g(out: &mut Vec<u8>, name: &str, v: f64) {
    if v != 0.0 {
        out.push(b' ');
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        fmt_g(out, v);
    }
}

/// The tcp_info fields in ss's order (spec 6.6). Option flags (ts, sack,
/// ecn…) only with `-o` or `-e`.
pub fn write_tcp_info(out: &mut Vec<u8>, s: &Socket, i: &TcpInfo, o: &ExtOptions) {
    if o.timers || o.extended {
        for (bit, name) in [
            (1u8, " ts"),
            (64, " usec_ts"),
            (2, " sack"),
            (8, " ecn"),
            (16, " ecnseen"),
            (32, " fastopen"),
        ] {
            if i.options & bit != 0 {
                out.extend_from_slice(name.as_bytes());
            }
        }
    }
    if let Some(c) = s.cong.as_deref().filter(|c| !c.is_empty()) {
        out.push(b' ');
        // The kernel's name of a congestion-control module: a system string.
        crate::sanitize::escape_bytes(out, c.as_bytes());
    }
    if i.options & 4 != 0 {
        out.extend_from_slice(b" wscale:");
        num(out, u64::from(i.snd_wscale));
        out.push(b',');
        num(out, u64::from(i.rcv_wscale));
    }
    // 3000000 us is TCP_TIMEOUT_INIT: ss leaves it out.
    if i.rto != 3_000_000 {
        field_g(out, "rto", f64::from(i.rto) / 1000.0);
    }
    field(out, "backoff", u64::from(i.backoff));
    if i.rtt != 0 {
        out.extend_from_slice(b" rtt:");
        fmt_g(out, f64::from(i.rtt) / 1000.0);
        out.push(b'/');
        fmt_g(out, f64::from(i.rttvar) / 1000.0);
    }
    field_g(out, "ato", f64::from(i.ato) / 1000.0);
    field(out, "mss", u64::from(i.snd_mss));
    field(out, "pmtu", u64::from(i.pmtu));
    field(out, "rcvmss", u64::from(i.rcv_mss));
    field(out, "advmss", u64::from(i.advmss));
    field(out, "cwnd", u64::from(i.snd_cwnd));
    if i.snd_ssthresh < 0xffff {
        field(out, "ssthresh", u64::from(i.snd_ssthresh));
    }
    field(out, "bytes_sent", i.bytes_sent);
    field(out, "bytes_retrans", i.bytes_retrans);
    field(out, "bytes_acked", i.bytes_acked);
    field(out, "bytes_received", i.bytes_received);
    field(out, "segs_out", u64::from(i.segs_out));
    field(out, "segs_in", u64::from(i.segs_in));
    field(out, "data_segs_out", u64::from(i.data_segs_out));
    field(out, "data_segs_in", u64::from(i.data_segs_in));
    if let Some(d) = &s.dctcp {
        write_dctcp(out, d);
    }
    if let Some(b) = &s.bbr {
        out.extend_from_slice(b" bbr:(bw:");
        sprint_bw(out, b.bw as f64 * 8.0, o.numeric);
        out.extend_from_slice(b"bps,mrtt:");
        fmt_g(out, f64::from(b.min_rtt) / 1000.0);
        if b.pacing_gain != 0 {
            out.extend_from_slice(b",pacing_gain:");
            fmt_g(out, f64::from(b.pacing_gain) / 256.0);
        }
        if b.cwnd_gain != 0 {
            out.extend_from_slice(b",cwnd_gain:");
            fmt_g(out, f64::from(b.cwnd_gain) / 256.0);
        }
        out.push(b')');
    }
    // send = cwnd * mss * 8e6 / rtt (us); Vegas' rtt when it has one.
    let mut rtt = f64::from(i.rtt);
    if let Some(v) = &s.vegas
        && v.enabled != 0
        && v.rtt != 0
        && v.rtt != 0x7fff_ffff
    {
        rtt = f64::from(v.rtt);
    }
    if rtt > 0.0 && i.snd_mss != 0 && i.snd_cwnd != 0 {
        let send = f64::from(i.snd_cwnd) * f64::from(i.snd_mss) * 8_000_000.0 / rtt;
        out.extend_from_slice(b" send ");
        sprint_bw(out, send, o.numeric);
        out.extend_from_slice(b"bps");
    }
    field(out, "lastsnd", u64::from(i.last_data_sent));
    field(out, "lastrcv", u64::from(i.last_data_recv));
    field(out, "lastack", u64::from(i.last_ack_recv));
    if i.pacing_rate != 0 && i.pacing_rate != u64::MAX {
        out.extend_from_slice(b" pacing_rate ");
        sprint_bw(out, i.pacing_rate as f64 * 8.0, o.numeric);
        out.extend_from_slice(b"bps");
        if i.max_pacing_rate != 0 && i.max_pacing_rate != u64::MAX {
            out.push(b'/');
            sprint_bw(out, i.max_pacing_rate as f64 * 8.0, o.numeric);
            out.extend_from_slice(b"bps");
        }
    }
    if i.delivery_rate != 0 {
        out.extend_from_slice(b" delivery_rate ");
        sprint_bw(out, i.delivery_rate as f64 * 8.0, o.numeric);
        out.extend_from_slice(b"bps");
    }
    field(out, "delivered", u64::from(i.delivered));
    field(out, "delivered_ce", u64::from(i.delivered_ce));
    if i.delivery_rate_app_limited {
        out.extend_from_slice(b" app_limited");
    }
    if i.busy_time != 0 {
        out.extend_from_slice(b" busy:");
        num(out, i.busy_time / 1000);
        out.extend_from_slice(b"ms");
        for (name, v) in [
            ("rwnd_limited", i.rwnd_limited),
            ("sndbuf_limited", i.sndbuf_limited),
        ] {
            if v != 0 {
                let pct = 100.0 * v as f64 / i.busy_time as f64;
                let _ = write!(out, " {name}:{}ms({pct:.1}%)", v / 1000);
            }
        }
    }
    field(out, "unacked", u64::from(i.unacked));
    if i.retrans != 0 || i.total_retrans != 0 {
        let _ = write!(out, " retrans:{}/{}", i.retrans, i.total_retrans);
    }
    field(out, "lost", u64::from(i.lost));
    if s.state != State::Listen {
        field(out, "sacked", u64::from(i.sacked));
    }
    field(out, "dsack_dups", u64::from(i.dsack_dups));
    field(out, "fackets", u64::from(i.fackets));
    if i.reordering != 3 {
        let _ = write!(out, " reordering:{}", i.reordering as i32);
    }
    field(out, "reord_seen", u64::from(i.reord_seen));
    field_g(out, "rcv_rtt", f64::from(i.rcv_rtt) / 1000.0);
    field(out, "rcv_space", u64::from(i.rcv_space));
    field(out, "rcv_ssthresh", u64::from(i.rcv_ssthresh));
    field(out, "notsent", u64::from(i.notsent_bytes));
    if i.min_rtt != u32::MAX {
        field_g(out, "minrtt", f64::from(i.min_rtt) / 1000.0);
    }
    field(out, "rcv_ooopack", u64::from(i.rcv_ooopack));
    field(out, "snd_wnd", u64::from(i.snd_wnd));
    field(out, "rcv_wnd", u64::from(i.rcv_wnd));
    field(out, "rehash", u64::from(i.rehash));
}

fn write_dctcp(out: &mut Vec<u8>, d: &DctcpInfo) {
    if d.enabled != 0 {
        let _ = write!(
            out,
            " dctcp:(ce_state:{},alpha:{},ab_ecn:{},ab_tot:{})",
            d.ce_state, d.alpha, d.ab_ecn, d.ab_tot
        );
    } else {
        out.extend_from_slice(b" dctcp:fallback_mode");
    }
}

/// mptcp_info in ss's order; sequence numbers in hex as ss prints them.
pub fn write_mptcp_info(out: &mut Vec<u8>, m: &MptcpInfo) {
    field(out, "subflows", u64::from(m.subflows));
    field(out, "add_addr_signal", u64::from(m.add_addr_signal));
    field(out, "add_addr_accepted", u64::from(m.add_addr_accepted));
    field(out, "subflows_max", u64::from(m.subflows_max));
    field(out, "add_addr_signal_max", u64::from(m.add_addr_signal_max));
    field(
        out,
        "add_addr_accepted_max",
        u64::from(m.add_addr_accepted_max),
    );
    if m.flags & 1 != 0 {
        out.extend_from_slice(b" fallback");
    }
    if m.flags & 2 != 0 {
        out.extend_from_slice(b" remote_key");
    }
    if m.token != 0 {
        let _ = write!(out, " token:{:x}", m.token);
    }
    for (name, v) in [
        ("write_seq", m.write_seq),
        ("snd_una", m.snd_una),
        ("rcv_nxt", m.rcv_nxt),
    ] {
        if v != 0 {
            let _ = write!(out, " {name}:{v:x}");
        }
    }
    field(out, "local_addr_used", u64::from(m.local_addr_used));
    field(out, "local_addr_max", u64::from(m.local_addr_max));
    field(out, "csum_enabled", u64::from(m.csum_enabled));
    field(out, "retransmits", u64::from(m.retransmits));
    field(out, "bytes_retrans", m.bytes_retrans);
    field(out, "bytes_sent", m.bytes_sent);
    field(out, "bytes_received", m.bytes_received);
    field(out, "bytes_acked", m.bytes_acked);
    field(out, "subflows_total", u64::from(m.subflows_total));
    field(out, "endp_laminar_max", u64::from(m.endp_laminar_max));
    field(out, "last_data_sent", u64::from(m.last_data_sent));
    field(out, "last_data_recv", u64::from(m.last_data_recv));
    field(out, "last_ack_recv", u64::from(m.last_ack_recv));
}
