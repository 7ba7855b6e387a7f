//! What every family's details share: the options, timers, `skmem`,
//! ss's `sock_details` and the shutdown arrow.

use crate::printer::num::{format_ms, push_hex, push_u64 as num};
use sockq_model::{SkMem, Socket, Timer};
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
    pub(super) fn brk(&self) -> &'static [u8] {
        if self.oneline { b" " } else { b"\n\t" }
    }
}

/// ` timer:(NAME,EXPIRE,RETRANS)`.
pub fn write_timer(out: &mut Vec<u8>, t: &Timer) {
    write_timer_named(out, t.kind.name(), t);
}

pub(super) fn write_timer_named(out: &mut Vec<u8>, name: &str, t: &Timer) {
    out.extend_from_slice(b" timer:(");
    out.extend_from_slice(name.as_bytes());
    out.push(b',');
    format_ms(out, t.expires_ms);
    out.push(b',');
    num(out, u64::from(t.retrans));
    out.push(b')');
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

/// ` uid:` (when not 0), ` ino:`, ` sk:` (when known; ss's `sock_details_print`), then
/// ` fwmark:` and ` cgroup:` when not 0.
pub(super) fn sock_details<'c>(
    out: &mut Vec<u8>,
    s: &Socket,
    cgroup_path: &dyn Fn(u64) -> Option<&'c [u8]>,
) {
    if let Some(uid) = s.uid.filter(|&u| u != 0) {
        out.extend_from_slice(b" uid:");
        num(out, u64::from(uid));
    }
    out.extend_from_slice(b" ino:");
    num(out, u64::from(s.inode));
    // Cookie 0 is "unknown": rows from /proc have none (the kernel never
    // hands out 0), so no ` sk:0` is made up.
    if s.cookie != 0 {
        out.extend_from_slice(b" sk:");
        push_hex(out, s.cookie);
    }
    if let Some(m) = s.mark.filter(|&m| m != 0) {
        let _ = write!(out, " fwmark:0x{m:x}");
    }
    if let Some(id) = s.cgroup_id.filter(|&c| c != 0) {
        write_cgroup(out, id, cgroup_path);
    }
}

pub(super) fn write_cgroup<'c>(
    out: &mut Vec<u8>,
    id: u64,
    cgroup_path: &dyn Fn(u64) -> Option<&'c [u8]>,
) {
    out.extend_from_slice(b" cgroup:");
    match cgroup_path(id) {
        // A cgroup is a directory anyone with delegation may name.
        Some(p) => crate::sanitize::escape_bytes(out, p),
        None => {
            let _ = write!(out, "unreachable:{id:x}");
        }
    }
}

pub(super) fn arrow(out: &mut Vec<u8>, s: &Socket) {
    if let Some(sh) = s.shutdown {
        out.push(b' ');
        out.extend_from_slice(sh.arrow().as_bytes());
    }
}
