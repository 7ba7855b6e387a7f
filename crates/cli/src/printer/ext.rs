//! The extended output after the address columns: timers (`-o`), socket
//! details (`-e`), memory (`-m`), protocol info (`-i`), `--tos`,
//! `--cgroup`, `--inet-sockopt`, packet filters (`-b`), in ss's order and
//! spellings (spec sections 6.4 to 6.7). Pure functions over a byte buffer.
//!
//! Deliberate differences from ss HEAD: netlink `-e` and `-m` print without
//! `-p` (ss bug 22), and the delack timer is named (`delack`, as HEAD 7.1).

use sockq_model::{
    DctcpInfo, Detail, Family, MptcpInfo, PacketDetail, SkMem, Socket, State, Table, TcpInfo,
    Timer, XdpDetail,
};
use std::io::Write as _;

/// Which extended pieces to print.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExtOptions {
    /// `-o`: timers (also implied by `-e` and `-b`); with `-e` it also
    /// shows the tcp_info option flags (ts, sack, ecn…).
    pub timers: bool,
    /// `-e`: uid, ino, sk, fwmark, cgroup, v6only, shutdown; family details.
    pub extended: bool,
    /// `-m`: skmem.
    pub memory: bool,
    /// `-i`: tcp_info / mptcp_info.
    pub info: bool,
    /// `--tos`.
    pub tos: bool,
    /// `--cgroup`.
    pub cgroup: bool,
    /// `--inet-sockopt`.
    pub inet_sockopt: bool,
    /// `-b`: packet socket filters.
    pub bpf: bool,
    /// `-O`: everything on one line.
    pub oneline: bool,
    /// `-n`: bandwidths as plain integers.
    pub numeric: bool,
}

impl ExtOptions {
    /// `\n\t`, or a space with `-O`.
    fn brk(&self) -> &'static [u8] {
        if self.oneline { b" " } else { b"\n\t" }
    }
}

/// Writes everything that follows the address columns (and ` users:(…)`)
/// for any family: it starts with a space or a `\n\t` break, and is empty
/// when nothing is to be shown. `cgroup_path` turns a cgroup id into its
/// path under the cgroup2 mount (`None` prints `unreachable:ID`).
pub fn write_ext<'c>(
    out: &mut Vec<u8>,
    s: &Socket,
    o: &ExtOptions,
    cgroup_path: &dyn Fn(u64) -> Option<&'c str>,
) {
    match s.family {
        Family::Inet | Family::Inet6 => write_inet(out, s, o, cgroup_path),
        Family::Unix => write_unix(out, s, o),
        Family::Packet => write_packet(out, s, o),
        Family::Netlink => write_netlink(out, s, o),
        Family::Xdp => write_xdp(out, s, o),
        // ss prints nothing extra for vsock; TIPC has only --tipcinfo.
        Family::Vsock | Family::Tipc | Family::Other(_) => {}
    }
}

/// ` timer:(NAME,EXPIRE,RETRANS)`.
pub fn write_timer(out: &mut Vec<u8>, t: &Timer) {
    write_timer_named(out, t.kind.name(), t);
}

fn write_timer_named(out: &mut Vec<u8>, name: &str, t: &Timer) {
    out.extend_from_slice(b" timer:(");
    out.extend_from_slice(name.as_bytes());
    out.push(b',');
    format_ms(out, t.expires_ms);
    out.push(b',');
    num(out, u64::from(t.retrans));
    out.push(b')');
}

/// ss's `print_ms_timer`, with HEAD's fix for times under 10 s: `""` (0),
/// `003ms`, `1sec`, `1.001sec`, `10sec` (whole seconds above 9 s),
/// `1min5sec` (no ms once there are minutes), `10min` (no seconds above
/// 9 minutes).
pub fn format_ms(out: &mut Vec<u8>, ms: u32) {
    let mut secs = ms / 1000;
    let minutes = secs / 60;
    secs %= 60;
    let mut msecs = ms % 1000;
    if minutes > 0 {
        msecs = 0;
        num(out, u64::from(minutes));
        out.extend_from_slice(b"min");
        if minutes > 9 {
            secs = 0;
        }
    }
    if secs > 0 {
        if secs > 9 {
            msecs = 0;
        }
        num(out, u64::from(secs));
        if msecs > 0 {
            out.push(b'.');
            push_3digits(out, msecs);
        }
        out.extend_from_slice(b"sec");
    } else if msecs > 0 {
        push_3digits(out, msecs);
        out.extend_from_slice(b"ms");
    }
}

/// 10^0 ..= 10^12 as f64 (exact).
const POW10_F: [f64; 13] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12,
];
/// 10^0 ..= 10^12 as integers.
const POW10_U: [u64; 13] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
];
/// 10^-4 ..= 10^8: the decades of %g's fixed notation.
const POW10_NEG4: [f64; 13] = [
    1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8,
];

/// C's `%g`: 6 significant digits, trailing zeros dropped, exponent form
/// below 1e-4 or from 1e6.
pub fn fmt_g(out: &mut Vec<u8>, v: f64) {
    fmt_g_prec(out, v, 6);
}

/// C's `%.Pg` for `prec` significant digits (at least 1).
pub fn fmt_g_prec(out: &mut Vec<u8>, v: f64, prec: usize) {
    let p = prec.max(1);
    if v == 0.0 {
        out.push(b'0');
        return;
    }
    if !v.is_finite() {
        let t = if v.is_nan() {
            "nan"
        } else if v > 0.0 {
            "inf"
        } else {
            "-inf"
        };
        out.extend_from_slice(t.as_bytes());
        return;
    }
    // Fast path: most values are kernel microseconds divided by 1000. Below
    // 1000 they have at most 3 + 3 digits, which %g with 6 digits prints
    // exactly, so integer arithmetic gives the same text as the general path.
    if p >= 6 && v > 0.0 && v < 1000.0 {
        let n = (v * 1000.0).round();
        if n / 1000.0 == v {
            let n = n as u64;
            num(out, n / 1000);
            let frac = n % 1000;
            if frac != 0 {
                let digits = [
                    b'0' + (frac / 100) as u8,
                    b'0' + (frac / 10 % 10) as u8,
                    b'0' + (frac % 10) as u8,
                ];
                let keep = if frac.is_multiple_of(100) {
                    1
                } else if frac.is_multiple_of(10) {
                    2
                } else {
                    3
                };
                out.push(b'.');
                out.extend_from_slice(&digits[..keep]);
            }
            return;
        }
    }
    // Fixed notation (what %g uses from 1e-4 up to 10^p) in integers: the
    // exponent from a table, the value scaled to p significant digits and
    // rounded, unless it is too close to a rounding tie to decide in
    // floating point or rounds up into the next power of ten. Profiles of
    // `-tanoie` showed float formatting (bbr gains, bandwidths) at 8 %.
    if p <= 9 && (1e-4..POW10_F[p]).contains(&v) {
        let mut e: usize = 0; // index into POW10_NEG4: 10^(e-4) <= v
        while e + 1 < p + 4 && v >= POW10_NEG4[e + 1] {
            e += 1;
        }
        // Digits after the point: p - 1 - (e - 4).
        let decimals = p + 3 - e;
        let scaled = v * POW10_F[decimals];
        let fract = scaled - scaled.floor();
        let n = scaled.round() as u64;
        if (fract - 0.5).abs() > 1e-6 && n < POW10_U[p] {
            let unit = POW10_U[decimals];
            num(out, n / unit);
            let mut frac = n % unit;
            if frac != 0 {
                let mut width = decimals;
                while frac.is_multiple_of(10) {
                    frac /= 10;
                    width -= 1;
                }
                out.push(b'.');
                let digits = out.len();
                num(out, frac);
                // Leading zeros of the fraction.
                let pad = width - (out.len() - digits);
                out.splice(digits..digits, std::iter::repeat_n(b'0', pad));
            }
            return;
        }
    }
    // The exponent after rounding to `p` digits decides the style.
    let sci = format!("{:.*e}", p - 1, v);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        out.extend_from_slice(strip_zeros(mant).as_bytes());
        let _ = write!(
            out,
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        );
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        let fixed = format!("{v:.decimals$}");
        out.extend_from_slice(strip_zeros(&fixed).as_bytes());
    }
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// C's `%.0f`: the value rounded to an integer, ties to even (the exact
/// binary value decides, and `bw - floor(bw)` is exact for doubles).
/// Integer arithmetic instead of float formatting, which profiles showed
/// among the costliest parts of `-tanoie`.
pub fn fmt_f0(out: &mut Vec<u8>, v: f64) {
    // Below 2^63 the rounded value fits a u64; the rest is rare.
    if !(0.0..9.2e18).contains(&v) {
        let _ = write!(out, "{v:.0}");
        return;
    }
    let floor = v.floor();
    let diff = v - floor;
    let n = floor as u64;
    let n = if diff > 0.5 || (diff == 0.5 && n % 2 == 1) {
        n + 1
    } else {
        n
    };
    num(out, n);
}

/// ss's `sprint_bw` (bits per second): `%.0f` with `-n`, else `%.3g` with
/// a decimal k/M/G/T unit, or `%g` up to 1000.
pub fn sprint_bw(out: &mut Vec<u8>, bw: f64, numeric: bool) {
    if numeric {
        fmt_f0(out, bw);
        return;
    }
    let (div, unit) = if bw > 1e12 {
        (1e12, Some(b'T'))
    } else if bw > 1e9 {
        (1e9, Some(b'G'))
    } else if bw > 1e6 {
        (1e6, Some(b'M'))
    } else if bw > 1e3 {
        (1e3, Some(b'k'))
    } else {
        (1.0, None)
    };
    match unit {
        Some(u) => {
            fmt_g_prec(out, bw / div, 3);
            out.push(u);
        }
        None => fmt_g(out, bw),
    }
}

/// ` skmem:(r..,rb..,t..,tb..,f..,w..,o..[,bl..][,d..])`.
pub fn write_skmem(out: &mut Vec<u8>, m: &SkMem) {
    let fields = [
        (&b" skmem:(r"[..], m.rmem_alloc),
        (b",rb", m.rcvbuf),
        (b",t", m.wmem_alloc),
        (b",tb", m.sndbuf),
        (b",f", m.fwd_alloc),
        (b",w", m.wmem_queued),
        (b",o", m.optmem),
    ];
    for (name, v) in fields {
        out.extend_from_slice(name);
        num(out, u64::from(v));
    }
    if let Some(b) = m.backlog {
        out.extend_from_slice(b",bl");
        num(out, u64::from(b));
    }
    if let Some(d) = m.drops {
        out.extend_from_slice(b",d");
        num(out, u64::from(d));
    }
    out.push(b')');
}

use super::row::push_u64 as num;

/// `%03u` of a value below 1000.
fn push_3digits(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&[
        b'0' + (v / 100 % 10) as u8,
        b'0' + (v / 10 % 10) as u8,
        b'0' + (v % 10) as u8,
    ]);
}

/// Lower-case hex without a prefix (`%llx`).
fn push_hex(out: &mut Vec<u8>, v: u64) {
    let mut tmp = [0u8; 16];
    let mut i = tmp.len();
    let mut v = v;
    loop {
        i -= 1;
        if let Some(d) = tmp.get_mut(i) {
            *d = b"0123456789abcdef"[(v & 15) as usize];
        }
        v >>= 4;
        if v == 0 || i == 0 {
            break;
        }
    }
    out.extend_from_slice(tmp.get(i..).unwrap_or_default());
}

/// ` uid:` (when not 0), ` ino:`, ` sk:` (ss's `sock_details_print`), then
/// ` fwmark:` and ` cgroup:` when not 0.
fn sock_details<'c>(out: &mut Vec<u8>, s: &Socket, cgroup_path: &dyn Fn(u64) -> Option<&'c str>) {
    if let Some(uid) = s.uid.filter(|&u| u != 0) {
        out.extend_from_slice(b" uid:");
        num(out, u64::from(uid));
    }
    out.extend_from_slice(b" ino:");
    num(out, u64::from(s.inode));
    out.extend_from_slice(b" sk:");
    push_hex(out, s.cookie);
    if let Some(m) = s.mark.filter(|&m| m != 0) {
        let _ = write!(out, " fwmark:0x{m:x}");
    }
    if let Some(id) = s.cgroup_id.filter(|&c| c != 0) {
        write_cgroup(out, id, cgroup_path);
    }
}

fn write_cgroup<'c>(out: &mut Vec<u8>, id: u64, cgroup_path: &dyn Fn(u64) -> Option<&'c str>) {
    out.extend_from_slice(b" cgroup:");
    match cgroup_path(id) {
        Some(p) => out.extend_from_slice(p.as_bytes()),
        None => {
            let _ = write!(out, "unreachable:{id:x}");
        }
    }
}

fn arrow(out: &mut Vec<u8>, s: &Socket) {
    if let Some(sh) = s.shutdown {
        out.push(b' ');
        out.extend_from_slice(sh.arrow().as_bytes());
    }
}

/// C's `%#x`: `0` for zero, else `0x…`.
fn hash_x(out: &mut Vec<u8>, v: u32) {
    if v == 0 {
        out.push(b'0');
    } else {
        let _ = write!(out, "0x{v:x}");
    }
}

fn write_inet<'c>(
    out: &mut Vec<u8>,
    s: &Socket,
    o: &ExtOptions,
    cgroup_path: &dyn Fn(u64) -> Option<&'c str>,
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
        out.extend_from_slice(c.as_bytes());
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

/// glibc's `major`/`minor` applied to the kernel's internal dev_t
/// (`major << 20 | minor`), as ss does: hence `dev:0/65024` for 254:0.
fn dev_split(dev: u32) -> (u32, u32) {
    ((dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00))
}

fn write_unix(out: &mut Vec<u8>, s: &Socket, o: &ExtOptions) {
    if o.memory
        && let Some(m) = &s.skmem
    {
        write_skmem(out, m);
    }
    if o.extended {
        arrow(out, s);
        if let Detail::Unix(d) = &s.detail {
            if let Some((ino, dev)) = d.vfs {
                let (maj, min) = dev_split(dev);
                let _ = write!(out, " ino:{ino} dev:{maj}/{min}");
            }
            if let Some(p) = &d.pending {
                out.extend_from_slice(b" peers:");
                for i in p {
                    out.push(b' ');
                    num(out, u64::from(*i));
                }
            }
        }
    }
}

fn write_packet(out: &mut Vec<u8>, s: &Socket, o: &ExtOptions) {
    let d: Option<&PacketDetail> = match &s.detail {
        Detail::Packet(d) => Some(d),
        _ => None,
    };
    if o.extended {
        // No cgroup or mark for packet sockets.
        if let Some(uid) = s.uid.filter(|&u| u != 0) {
            let _ = write!(out, " uid:{uid}");
        }
        let _ = write!(out, " ino:{} sk:{:x}", s.inode, s.cookie);
        if let Some(d) = d {
            write_packet_detail(out, d, o);
        }
    }
    if o.bpf
        && let Some(f) = d.and_then(|d| d.filter.as_ref())
    {
        out.extend_from_slice(o.brk());
        let _ = write!(out, "bpf filter ({}): ", f.len());
        for (code, jt, jf, k) in f {
            let _ = write!(out, " 0x{code:02x} {jt} {jf} {k},");
        }
    }
    if o.memory
        && let Some(m) = &s.skmem
    {
        write_skmem(out, m);
    }
}

fn write_packet_detail(out: &mut Vec<u8>, d: &PacketDetail, o: &ExtOptions) {
    if let Some(i) = &d.info {
        out.extend_from_slice(o.brk());
        let _ = write!(
            out,
            "ver:{} cpy_thresh:{} flags( ",
            i.version as i32, i.copy_thresh as i32
        );
        // "running" has no leading space, the others do (as in ss).
        for (bit, name) in [
            (1u32, "running"),
            (2, " auxdata"),
            (4, " origdev"),
            (8, " vnethdr"),
            (16, " loss"),
        ] {
            if i.flags & bit != 0 {
                out.extend_from_slice(name.as_bytes());
            }
        }
        if i.flags == 0 {
            out.push(b'0');
        }
        out.extend_from_slice(b" )");
    }
    for (name, r) in [("ring_rx(", &d.rx_ring), ("ring_tx(", &d.tx_ring)] {
        if let Some(r) = r {
            out.extend_from_slice(o.brk());
            out.extend_from_slice(name.as_bytes());
            let _ = write!(
                out,
                "blk_size:{},blk_nr:{},frm_size:{},frm_nr:{},tmo:{},features:0x{:x})",
                r.block_size as i32,
                r.block_nr as i32,
                r.frame_size as i32,
                r.frame_nr as i32,
                r.retire_tmo as i32,
                r.features
            );
        }
    }
    if let Some(f) = d.fanout {
        out.extend_from_slice(o.brk());
        let _ = write!(out, "fanout(id:{},type:", f & 0xffff);
        let ty = f >> 16;
        match ty {
            0 => out.extend_from_slice(b"hash"),
            1 => out.extend_from_slice(b"lb"),
            2 => out.extend_from_slice(b"cpu"),
            3 => out.extend_from_slice(b"roll"),
            4 => out.extend_from_slice(b"random"),
            5 => out.extend_from_slice(b"qm"),
            t => {
                let _ = write!(out, "0x{t:x}");
            }
        }
        out.push(b')');
    }
}

fn write_netlink(out: &mut Vec<u8>, s: &Socket, o: &ExtOptions) {
    if o.extended {
        let groups = match &s.detail {
            Detail::Netlink(d) => d.groups.first().copied().unwrap_or(0),
            _ => 0,
        };
        // sk and cb are only known from /proc/net/netlink; sock_diag gives 0.
        let _ = write!(out, " sk=0 cb=0 groups=0x{groups:08x}");
    }
    if o.memory
        && let Some(m) = &s.skmem
    {
        // ss puts a TAB before a netlink socket's skmem.
        out.push(b'\t');
        write_skmem(out, m);
    }
}

fn write_xdp(out: &mut Vec<u8>, s: &Socket, o: &ExtOptions) {
    if o.extended {
        if let Some(uid) = s.uid.filter(|&u| u != 0) {
            let _ = write!(out, " uid:{uid}");
        }
        let _ = write!(out, " ino:{} sk:{:x}", s.inode, s.cookie);
        if let Detail::Xdp(d) = &s.detail {
            write_xdp_detail(out, d, o);
        }
    }
    if o.memory
        && let Some(m) = &s.skmem
    {
        write_skmem(out, m);
    }
}

fn xdp_ring(out: &mut Vec<u8>, name: &str, entries: Option<u32>, o: &ExtOptions) {
    if let Some(e) = entries {
        out.extend_from_slice(o.brk());
        let _ = write!(out, "{name}(entries:{e})");
    }
}

fn write_xdp_detail(out: &mut Vec<u8>, d: &XdpDetail, o: &ExtOptions) {
    xdp_ring(out, "rx", d.rx_ring, o);
    xdp_ring(out, "tx", d.tx_ring, o);
    if let Some(u) = &d.umem {
        // ss spells it `tumem(` with -O (a typo kept for compatibility).
        out.extend_from_slice(if o.oneline { b" tumem(" } else { b"\n\tumem(" });
        let _ = write!(
            out,
            "id:{},size:{},num_pages:{},chunk_size:{},headroom:{},ifindex:{},qid:{},zc:{},refs:{})",
            u.id,
            u.size,
            u.num_pages,
            u.chunk_size,
            u.headroom,
            u.ifindex,
            u.queue_id,
            u.flags & 1,
            u.refs
        );
        xdp_ring(out, "fr", d.fill_ring, o);
        xdp_ring(out, "cr", d.completion_ring, o);
    }
    if let Some(st) = &d.stats {
        out.extend_from_slice(o.brk());
        let _ = write!(
            out,
            "stats(rx dropped:{},rx invalid:{},rx queue full:{},rx fill ring empty:{},tx invalid:{},tx ring empty:{})",
            st.rx_dropped,
            st.rx_invalid,
            st.rx_full,
            st.fill_ring_empty,
            st.tx_invalid,
            st.tx_ring_empty
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    #[test]
    fn fast_g_matches_the_general_path() {
        for n in (0u64..200_000)
            .step_by(7)
            .chain([1, 999, 1000, 1001, 999_999])
        {
            let v = n as f64 / 1000.0;
            let mut fast = Vec::new();
            super::fmt_g(&mut fast, v);
            assert_eq!(String::from_utf8_lossy(&fast), slow_g(v, 6), "{v}");
        }
    }

    /// The general `%g` path, without the fast paths, for comparison.
    fn slow_g(v: f64, p: usize) -> String {
        let sci = format!("{:.*e}", p - 1, v);
        let (mant, exp) = sci.split_once('e').unwrap();
        let exp: i32 = exp.parse().unwrap();
        if exp < -4 || exp >= p as i32 {
            format!(
                "{}e{}{:02}",
                super::strip_zeros(mant),
                if exp < 0 { '-' } else { '+' },
                exp.unsigned_abs()
            )
        } else {
            let decimals = (p as i32 - 1 - exp).max(0) as usize;
            super::strip_zeros(&format!("{v:.decimals$}")).to_string()
        }
    }

    #[test]
    fn hex_and_three_digits() {
        for v in [0u64, 1, 15, 16, 0x1a2b, u64::MAX, 1 << 63] {
            let mut o = Vec::new();
            super::push_hex(&mut o, v);
            assert_eq!(String::from_utf8(o).unwrap(), format!("{v:x}"));
        }
        for v in [0u32, 7, 42, 999] {
            let mut o = Vec::new();
            super::push_3digits(&mut o, v);
            assert_eq!(String::from_utf8(o).unwrap(), format!("{v:03}"));
        }
    }

    #[test]
    fn fast_g3_and_f0_match_the_general_path() {
        // A spread of magnitudes, exact ties (x.5, x.25, x.125) and values
        // a hair either side of them.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut values = Vec::new();
        for i in 0..200_000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mant = (x % 1_000_000) as f64 / 1000.0;
            values.push(mant * 10f64.powi((i % 9) as i32 - 2));
            values.push((i % 2000) as f64 / 8.0);
            values.push(f64::from_bits(((i % 2000) as f64 / 8.0).to_bits() + 1));
            values.push(f64::from_bits(
                ((i % 2000) as f64 / 8.0).to_bits().saturating_sub(1),
            ));
        }
        for v in values {
            let mut fast = Vec::new();
            super::fmt_g_prec(&mut fast, v, 3);
            assert_eq!(
                String::from_utf8(fast).unwrap(),
                slow_g(v, 3),
                "%.3g of {v:e}"
            );
            let mut f0 = Vec::new();
            super::fmt_f0(&mut f0, v * 1e6);
            assert_eq!(
                String::from_utf8(f0).unwrap(),
                format!("{:.0}", v * 1e6),
                "{v:e}"
            );
        }
        for v in [0.5, 1.5, 2.5, 3.5, 1e15 + 0.5, 4.5e15 + 0.5] {
            let mut f0 = Vec::new();
            super::fmt_f0(&mut f0, v);
            assert_eq!(String::from_utf8(f0).unwrap(), format!("{v:.0}"), "{v}");
        }
    }

    use super::*;
    use sockq_model::{
        BbrInfo, Endpoint, NetlinkDetail, PacketInfo, Shutdown, TimerKind, UnixDetail,
    };
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
    }

    fn no_cg(_: u64) -> Option<&'static str> {
        None
    }

    fn ext(sock: &Socket, o: ExtOptions) -> String {
        s(|v| write_ext(v, sock, &o, &|id| (id == 7).then_some("/system.slice/x")))
    }

    #[test]
    fn ms_edges() {
        let cases = [
            (0, ""),
            (3, "003ms"),
            (476, "476ms"),
            (1000, "1sec"),
            (1001, "1.001sec"),
            (9373, "9.373sec"),
            (10500, "10sec"),
            (60000, "1min"),
            (65300, "1min5sec"),
            (599_999, "9min59sec"),
            (600_000, "10min"),
            (659_000, "10min"),
            (7_180_950, "119min"),
        ];
        for (ms, want) in cases {
            assert_eq!(s(|v| format_ms(v, ms)), want, "{ms}");
        }
    }

    #[test]
    fn every_timer_name() {
        let kinds = [
            (1, "on"),
            (2, "keepalive"),
            (3, "timewait"),
            (4, "persist"),
            (5, "delack"),
            (9, "unknown"),
        ];
        for (code, name) in kinds {
            let t = Timer {
                kind: TimerKind::from_u8(code).unwrap(),
                expires_ms: 200,
                retrans: 2,
            };
            assert_eq!(
                s(|v| write_timer(v, &t)),
                format!(" timer:({name},200ms,2)")
            );
        }
        let expired = Timer {
            kind: TimerKind::On,
            expires_ms: 0,
            retrans: 0,
        };
        assert_eq!(s(|v| write_timer(v, &expired)), " timer:(on,,0)");
    }

    #[test]
    fn g_format() {
        let cases = [
            (0.0, "0"),
            (204.0, "204"),
            (0.023, "0.023"),
            (0.011, "0.011"),
            (1.5, "1.5"),
            (123456.0, "123456"),
            (1234567.0, "1.23457e+06"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (100.0, "100"),
            (2.885, "2.885"),
        ];
        for (v, want) in cases {
            assert_eq!(s(|o| fmt_g(o, v)), want, "{v}");
        }
        assert_eq!(s(|o| fmt_g_prec(o, 113.97565, 3)), "114");
        assert_eq!(s(|o| fmt_g_prec(o, 1.0, 3)), "1");
        assert_eq!(s(|o| fmt_g_prec(o, 999.5, 3)), "1e+03");
    }

    #[test]
    fn bandwidths() {
        assert_eq!(s(|o| sprint_bw(o, 0.0, false)), "0");
        assert_eq!(s(|o| sprint_bw(o, 1000.0, false)), "1000");
        assert_eq!(s(|o| sprint_bw(o, 1500.0, false)), "1.5k");
        assert_eq!(s(|o| sprint_bw(o, 2.5e6, false)), "2.5M");
        assert_eq!(s(|o| sprint_bw(o, 113_975_652_173.9, false)), "114G");
        assert_eq!(s(|o| sprint_bw(o, 3.2e12, false)), "3.2T");
        assert_eq!(s(|o| sprint_bw(o, 113_975_652_173.9, true)), "113975652174");
    }

    fn tcp(state: State) -> Socket {
        let mut x = Socket::new(Table::Tcp, Family::Inet, state);
        x.local = Endpoint::Inet {
            addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 22,
        };
        x.inode = 314_796;
        x.cookie = 0x1a2b;
        x
    }

    #[test]
    fn every_shutdown_arrow() {
        for (bits, want) in [(0, "<->"), (1, "-->"), (2, "<--"), (3, "---")] {
            let mut x = tcp(State::Established);
            x.shutdown = Some(Shutdown(bits));
            let o = ExtOptions {
                extended: true,
                ..Default::default()
            };
            assert_eq!(ext(&x, o), format!(" ino:314796 sk:1a2b {want}"));
            let mut u = Socket::new(Table::UnixStream, Family::Unix, State::Established);
            u.shutdown = Some(Shutdown(bits));
            assert_eq!(ext(&u, o), format!(" {want}"));
        }
    }

    #[test]
    fn inet_extended_fields() {
        let mut x = tcp(State::Established);
        x.family = Family::Inet6;
        x.uid = Some(1000);
        x.mark = Some(0x2a);
        x.cgroup_id = Some(7);
        x.v6only = Some(false);
        x.shutdown = Some(Shutdown(0));
        x.timer = Some(Timer {
            kind: TimerKind::Keepalive,
            expires_ms: 7_180_950,
            retrans: 0,
        });
        let o = ExtOptions {
            timers: true,
            extended: true,
            ..Default::default()
        };
        assert_eq!(
            ext(&x, o),
            " timer:(keepalive,119min,0) uid:1000 ino:314796 sk:1a2b fwmark:0x2a \
             cgroup:/system.slice/x v6only:0 <->"
        );
        // uid 0, mark 0 and cgroup 0 are left out; unknown cgroup ids say so.
        x.uid = Some(0);
        x.mark = Some(0);
        x.cgroup_id = Some(0x99);
        x.family = Family::Inet;
        let got = s(|v| write_ext(v, &x, &o, &no_cg));
        assert_eq!(
            got,
            " timer:(keepalive,119min,0) ino:314796 sk:1a2b cgroup:unreachable:99 <->"
        );
        // -o alone: the timer only.
        let o = ExtOptions {
            timers: true,
            ..Default::default()
        };
        assert_eq!(ext(&x, o), " timer:(keepalive,119min,0)");
    }

    #[test]
    fn tos_cgroup_sockopt() {
        let mut x = tcp(State::Established);
        x.tos = Some(0);
        x.class_id = Some(0);
        x.tclass = None;
        x.cgroup_id = Some(7);
        x.sockopt = Some(0x0102); // is_icsk, bind_addr_no_port
        let o = ExtOptions {
            tos: true,
            cgroup: true,
            inet_sockopt: true,
            ..Default::default()
        };
        assert_eq!(
            ext(&x, o),
            " tos:0 class_id:0 cgroup:/system.slice/x\n\tinet-sockopt: ( is_icsk bind_addr_no_port)"
        );
        x.tos = Some(0x10);
        let o = ExtOptions {
            tos: true,
            inet_sockopt: true,
            oneline: true,
            ..Default::default()
        };
        assert_eq!(
            ext(&x, o),
            " tos:0x10 class_id:0 inet-sockopt: ( is_icsk bind_addr_no_port)"
        );
    }

    /// The verified `-tio` line of spec 6.6.
    fn example_info() -> Socket {
        let mut x = tcp(State::Established);
        x.cong = Some("bbr".into());
        x.bbr = Some(BbrInfo {
            bw: 0,
            min_rtt: 23,
            pacing_gain: 0,
            cwnd_gain: 0,
        });
        x.tcp_info = Some(Box::new(TcpInfo {
            len: 280,
            state: 1,
            options: 1 | 2 | 4,
            snd_wscale: 10,
            rcv_wscale: 10,
            rto: 204_000,
            rtt: 23,
            rttvar: 11,
            ato: 40_000,
            snd_mss: 32768,
            pmtu: 65535,
            rcv_mss: 536,
            advmss: 65483,
            snd_cwnd: 10,
            snd_ssthresh: 0x7fff_ffff,
            bytes_received: 100,
            segs_out: 1,
            segs_in: 3,
            data_segs_in: 1,
            last_data_sent: 15412,
            last_data_recv: 15412,
            last_ack_recv: 15412,
            pacing_rate: 40_750_000_000,
            max_pacing_rate: u64::MAX,
            delivered: 1,
            delivery_rate_app_limited: true,
            rcv_space: 65483,
            rcv_ssthresh: 65483,
            min_rtt: 23,
            snd_wnd: 65536,
            rcv_wnd: 65536,
            reordering: 3,
            ..Default::default()
        }));
        x
    }

    const EXAMPLE: &str = " ts sack bbr wscale:10,10 rto:204 rtt:0.023/0.011 ato:40 mss:32768 pmtu:65535 rcvmss:536 advmss:65483 cwnd:10 bytes_received:100 segs_out:1 segs_in:3 data_segs_in:1 bbr:(bw:0bps,mrtt:0.023) send 114Gbps lastsnd:15412 lastrcv:15412 lastack:15412 pacing_rate 326Gbps delivered:1 app_limited rcv_space:65483 rcv_ssthresh:65483 minrtt:0.023 snd_wnd:65536 rcv_wnd:65536";

    #[test]
    fn tio_example_two_lines_and_oneline() {
        let x = example_info();
        let o = ExtOptions {
            timers: true,
            info: true,
            ..Default::default()
        };
        assert_eq!(ext(&x, o), format!("\n\t{EXAMPLE}"));
        let o1 = ExtOptions { oneline: true, ..o };
        assert_eq!(ext(&x, o1), EXAMPLE);
        // -i without -o: no option flags.
        let oi = ExtOptions {
            info: true,
            ..Default::default()
        };
        assert_eq!(
            ext(&x, oi),
            format!("\n\t{}", EXAMPLE.strip_prefix(" ts sack").unwrap())
        );
    }

    #[test]
    fn tcp_info_rest() {
        let mut x = example_info();
        x.cong = None;
        x.bbr = None;
        x.dctcp = Some(DctcpInfo {
            enabled: 1,
            ce_state: 1,
            alpha: 2,
            ab_ecn: 3,
            ab_tot: 4,
        });
        x.skmem = Some(SkMem {
            rmem_alloc: 932,
            rcvbuf: 131_072,
            wmem_alloc: 0,
            sndbuf: 3_939_840,
            fwd_alloc: 3164,
            wmem_queued: 0,
            optmem: 0,
            backlog: Some(0),
            drops: Some(0),
        });
        if let Some(i) = x.tcp_info.as_mut() {
            i.rto = 3_000_000;
            i.options = 0;
            i.busy_time = 10_000;
            i.rwnd_limited = 2_500;
            i.sndbuf_limited = 1_000;
            i.retrans = 0;
            i.total_retrans = 2;
            i.sacked = 4;
            i.reordering = 5;
            i.min_rtt = u32::MAX;
            i.delivery_rate = 125;
            i.snd_ssthresh = 7;
            i.last_data_sent = 0;
            i.last_data_recv = 0;
            i.last_ack_recv = 0;
            i.pacing_rate = 0;
            i.rcv_wnd = 0;
            i.snd_wnd = 0;
        }
        let o = ExtOptions {
            memory: true,
            info: true,
            oneline: true,
            numeric: true,
            ..Default::default()
        };
        assert_eq!(
            ext(&x, o),
            " skmem:(r932,rb131072,t0,tb3939840,f3164,w0,o0,bl0,d0) rtt:0.023/0.011 ato:40 \
             mss:32768 pmtu:65535 rcvmss:536 advmss:65483 cwnd:10 ssthresh:7 bytes_received:100 \
             segs_out:1 segs_in:3 data_segs_in:1 dctcp:(ce_state:1,alpha:2,ab_ecn:3,ab_tot:4) \
             send 113975652174bps delivery_rate 1000bps delivered:1 app_limited busy:10ms \
             rwnd_limited:2ms(25.0%) sndbuf_limited:1ms(10.0%) retrans:0/2 sacked:4 \
             reordering:5 rcv_space:65483 rcv_ssthresh:65483"
        );
        // LISTEN hides sacked; a disabled dctcp is in fallback mode.
        x.state = State::Listen;
        x.dctcp = Some(DctcpInfo::default());
        let got = ext(&x, o);
        assert!(!got.contains("sacked") && got.contains(" dctcp:fallback_mode"));
        // UDP: -i prints nothing (not even the break); -m prints skmem.
        x.table = Table::Udp;
        let oi = ExtOptions {
            info: true,
            ..Default::default()
        };
        assert_eq!(ext(&x, oi), "");
        let om = ExtOptions {
            memory: true,
            ..Default::default()
        };
        assert_eq!(
            ext(&x, om),
            "\n\t skmem:(r932,rb131072,t0,tb3939840,f3164,w0,o0,bl0,d0)"
        );
    }

    #[test]
    fn mptcp_info_fields() {
        let mut x = Socket::new(Table::Mptcp, Family::Inet6, State::Established);
        x.local = Endpoint::Inet {
            addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
            port: 1,
        };
        x.mptcp_info = Some(Box::new(MptcpInfo {
            subflows: 1,
            subflows_max: 2,
            flags: 2,
            token: 0xabc,
            write_seq: 255,
            bytes_sent: 10,
            last_data_recv: 5,
            ..Default::default()
        }));
        let o = ExtOptions {
            info: true,
            oneline: true,
            ..Default::default()
        };
        assert_eq!(
            ext(&x, o),
            " subflows:1 subflows_max:2 remote_key token:abc write_seq:ff bytes_sent:10 last_data_recv:5"
        );
    }

    #[test]
    fn unix_details() {
        let mut u = Socket::new(Table::UnixStream, Family::Unix, State::Listen);
        u.shutdown = Some(Shutdown(0));
        u.skmem = Some(SkMem::default());
        u.detail = Detail::Unix(UnixDetail {
            vfs: Some((10_011_089, 254 << 20)),
            pending: Some(vec![11, 12]),
        });
        let o = ExtOptions {
            extended: true,
            memory: true,
            timers: true,
            ..Default::default()
        };
        assert_eq!(
            ext(&u, o),
            " skmem:(r0,rb0,t0,tb0,f0,w0,o0) <-> ino:10011089 dev:0/65024 peers: 11 12"
        );
    }

    fn packet() -> Socket {
        let mut p = Socket::new(Table::PacketRaw, Family::Packet, State::Close);
        p.inode = 11323;
        p.cookie = 0x1001;
        p.uid = Some(0);
        p.skmem = Some(SkMem {
            rcvbuf: 212_992,
            sndbuf: 212_992,
            optmem: 280,
            backlog: Some(0),
            drops: Some(0),
            ..Default::default()
        });
        p.detail = Detail::Packet(Box::new(PacketDetail {
            info: Some(PacketInfo {
                ifindex: 1,
                flags: 1,
                ..Default::default()
            }),
            fanout: Some(7 | (3 << 16)),
            filter: Some(vec![(0x28, 0, 0, 12), (0x6, 0, 0, 65535)]),
            ..Default::default()
        }));
        p
    }

    /// Checked against ss 6.1 `-0aemb` and `-0aembO` on the same socket.
    #[test]
    fn packet_details_like_ss() {
        let p = packet();
        let o = ExtOptions {
            extended: true,
            memory: true,
            bpf: true,
            timers: true,
            ..Default::default()
        };
        assert_eq!(
            ext(&p, o),
            " ino:11323 sk:1001\n\tver:0 cpy_thresh:0 flags( running )\n\tfanout(id:7,type:roll)\n\tbpf filter (2):  0x28 0 0 12, 0x06 0 0 65535, skmem:(r0,rb212992,t0,tb212992,f0,w0,o280,bl0,d0)"
        );
        let o1 = ExtOptions { oneline: true, ..o };
        assert_eq!(
            ext(&p, o1),
            " ino:11323 sk:1001 ver:0 cpy_thresh:0 flags( running ) fanout(id:7,type:roll) bpf filter (2):  0x28 0 0 12, 0x06 0 0 65535, skmem:(r0,rb212992,t0,tb212992,f0,w0,o280,bl0,d0)"
        );
        let ob = ExtOptions {
            bpf: true,
            ..Default::default()
        };
        assert_eq!(
            ext(&p, ob),
            "\n\tbpf filter (2):  0x28 0 0 12, 0x06 0 0 65535,"
        );
    }

    #[test]
    fn packet_rings_and_flags() {
        let mut p = packet();
        if let Detail::Packet(d) = &mut p.detail {
            d.info = Some(PacketInfo {
                flags: 0,
                version: 2,
                ..Default::default()
            });
            d.rx_ring = Some(sockq_model::PacketRing {
                block_size: 4096,
                block_nr: 2,
                frame_size: 2048,
                frame_nr: 4,
                retire_tmo: 0,
                sizeof_priv: 0,
                features: 1,
            });
            d.fanout = Some(9 << 16);
        }
        let o = ExtOptions {
            extended: true,
            oneline: true,
            ..Default::default()
        };
        assert_eq!(
            ext(&p, o),
            " ino:11323 sk:1001 ver:2 cpy_thresh:0 flags( 0 ) ring_rx(blk_size:4096,blk_nr:2,frm_size:2048,frm_nr:4,tmo:0,features:0x1) fanout(id:0,type:0x9)"
        );
    }

    /// Checked against ss 6.1 `-f netlink -e`, `-m` and `-emO`.
    #[test]
    fn netlink_details_like_ss() {
        let mut n = Socket::new(Table::Netlink, Family::Netlink, State::Close);
        n.skmem = Some(SkMem {
            rcvbuf: 212_992,
            sndbuf: 212_992,
            backlog: Some(0),
            drops: Some(0),
            ..Default::default()
        });
        n.detail = Detail::Netlink(NetlinkDetail {
            groups: vec![0x11, 0],
            ..Default::default()
        });
        let e = ExtOptions {
            extended: true,
            ..Default::default()
        };
        assert_eq!(ext(&n, e), " sk=0 cb=0 groups=0x00000011");
        let m = ExtOptions {
            memory: true,
            ..Default::default()
        };
        assert_eq!(
            ext(&n, m),
            "\t skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)"
        );
        let em = ExtOptions {
            extended: true,
            memory: true,
            oneline: true,
            ..Default::default()
        };
        assert_eq!(
            ext(&n, em),
            " sk=0 cb=0 groups=0x00000011\t skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)"
        );
    }

    #[test]
    fn xdp_details() {
        let mut x = Socket::new(Table::Xdp, Family::Xdp, State::Close);
        x.inode = 5;
        x.cookie = 0xff;
        x.detail = Detail::Xdp(Box::new(XdpDetail {
            rx_ring: Some(2048),
            umem: Some(sockq_model::XdpUmem {
                size: 4096,
                id: 1,
                num_pages: 1,
                chunk_size: 2048,
                flags: 1,
                refs: 1,
                ..Default::default()
            }),
            fill_ring: Some(8),
            stats: Some(sockq_model::XdpStats::default()),
            ..Default::default()
        }));
        let o = ExtOptions {
            extended: true,
            ..Default::default()
        };
        assert_eq!(
            ext(&x, o),
            " ino:5 sk:ff\n\trx(entries:2048)\n\tumem(id:1,size:4096,num_pages:1,chunk_size:2048,headroom:0,ifindex:0,qid:0,zc:1,refs:1)\n\tfr(entries:8)\n\tstats(rx dropped:0,rx invalid:0,rx queue full:0,rx fill ring empty:0,tx invalid:0,tx ring empty:0)"
        );
        let o1 = ExtOptions { oneline: true, ..o };
        assert!(ext(&x, o1).contains(" tumem(id:1"));
    }

    #[test]
    fn nothing_without_options() {
        let x = example_info();
        assert_eq!(ext(&x, ExtOptions::default()), "");
        assert_eq!(ext(&packet(), ExtOptions::default()), "");
    }
}
