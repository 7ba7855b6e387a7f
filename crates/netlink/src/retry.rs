//! Retrying a dump the kernel flagged as interrupted, without showing a
//! socket twice: the cookies already delivered are remembered compactly.

use crate::error::Error;
use crate::msg::{self, OnMessage};
use std::ops::ControlFlow;

/// Dumps made again after the first one reported itself interrupted.
pub const MAX_DUMP_RETRIES: u32 = 3;

/// Runs `once` (one complete dump) and, while it ends with
/// [`Error::DumpInterrupted`], runs it again, at most `max_retries` more
/// times. `on_msg` sees each socket once: a retry passes on only messages
/// whose socket cookie was not delivered by an earlier attempt, so rows
/// already printed are not printed twice, and sockets the interrupted walk
/// missed still appear. Still interrupted after the retries, it returns
/// [`Error::DumpInterrupted`] with the number of attempts.
///
/// Delivered sockets are remembered by the low 32 bits of their cookie, in
/// a compact log ([`CookieLog`]; the kernel hands cookies out from one
/// 64-bit counter, so two live sockets share the low half only after 2^32
/// sockets were created between them). When `on_msg` breaks, nothing is
/// retried.
pub fn retry_interrupted(
    max_retries: u32,
    cookie_at: Option<usize>,
    once: &mut dyn FnMut(&mut OnMessage<'_>) -> Result<(), Error>,
    on_msg: &mut OnMessage<'_>,
) -> Result<(), Error> {
    // Without a cookie to tell delivered sockets apart, a retry would show
    // them twice: report the first interrupted dump instead.
    let max_retries = if cookie_at.is_some() { max_retries } else { 0 };
    // This attempt's cookies, compactly, and earlier attempts' cookies,
    // sorted (filled only when a retry is needed).
    let mut log = CookieLog::default();
    let mut earlier: Vec<u32> = Vec::new();
    let mut attempt = 0u32;
    loop {
        let mut stopped = false;
        let r = once(&mut |ty, payload| {
            if let Some(k) = cookie_at.and_then(|at| cookie_key(payload, at)) {
                if earlier.binary_search(&k).is_ok() {
                    return Ok(ControlFlow::Continue(()));
                }
                log.push(k);
            }
            let flow = on_msg(ty, payload)?;
            stopped |= flow.is_break();
            Ok(flow)
        });
        attempt += 1;
        match r {
            Err(Error::DumpInterrupted { .. }) if stopped => return Ok(()),
            Err(Error::DumpInterrupted { .. }) if attempt <= max_retries => {
                log.drain_into(&mut earlier);
                earlier.sort_unstable();
                earlier.dedup();
            }
            Err(Error::DumpInterrupted { .. }) => {
                return Err(Error::DumpInterrupted { attempts: attempt });
            }
            r => return r,
        }
    }
}

/// Cookies in arrival order, compactly. The kernel hands cookies out from
/// a counter, in batches per CPU, when a socket is first dumped, so in walk
/// order they mostly go up by one: runs of +1 are stored as their length.
/// A walk of both TCP families interleaves two such sequences (each
/// family's sockets were first dumped on their own), so the log follows
/// two: each entry says which one it continues. Each entry is a LEB128
/// number: `count << 2 | slot << 1 | 1` for a run of `count` cookies
/// each one above the last of `slot`, `zigzag(delta) << 2 | slot << 1`
/// for one cookie `delta` away from it. At 300,000 sockets of which
/// 18,750 IPv6 that is about 40 KB instead of the 370 KB of plain deltas,
/// which keeps a dump's peak memory down for insurance that is rarely used.
#[derive(Default)]
struct CookieLog {
    bytes: Vec<u8>,
    /// The last cookie of each sequence.
    last: [u32; 2],
    /// The sequence the last entry used (the other is replaced next).
    recent: usize,
    /// A run not written yet: its sequence and length.
    run: Option<(usize, u64)>,
}

impl CookieLog {
    fn push(&mut self, k: u32) {
        if let Some((slot, n)) = &mut self.run
            && self.last[*slot].wrapping_add(1) == k
        {
            *n += 1;
            self.last[*slot] = k;
            return;
        }
        self.flush_run();
        // The nearer sequence, or, when neither is near, the one used
        // less recently.
        let dist = |s: usize| k.wrapping_sub(self.last[s]).wrapping_add(1 << 15);
        let slot = match (dist(0) < 1 << 16, dist(1) < 1 << 16) {
            (true, true) => usize::from(dist(1) < dist(0)),
            (true, false) => 0,
            (false, true) => 1,
            (false, false) => 1 - self.recent,
        };
        let d = k.wrapping_sub(self.last[slot]) as i32;
        if d == 1 {
            self.run = Some((slot, 1));
        } else {
            let z = ((d << 1) ^ (d >> 31)) as u32;
            self.write((u64::from(z) << 2) | ((slot as u64) << 1));
        }
        self.last[slot] = k;
        self.recent = slot;
    }

    fn flush_run(&mut self) {
        if let Some((slot, n)) = self.run.take() {
            self.write((n << 2) | ((slot as u64) << 1) | 1);
        }
    }

    fn write(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.bytes.push((v as u8 & 0x7f) | 0x80);
            v >>= 7;
        }
        self.bytes.push(v as u8);
    }

    /// Appends the logged cookies to `out` and empties the log.
    fn drain_into(&mut self, out: &mut Vec<u32>) {
        self.flush_run();
        let mut last = [0u32; 2];
        let (mut v, mut shift) = (0u64, 0u32);
        for &b in &self.bytes {
            v |= u64::from(b & 0x7f).checked_shl(shift).unwrap_or(0);
            shift += 7;
            if b & 0x80 != 0 {
                continue;
            }
            let slot = usize::from(v & 2 != 0);
            if v & 1 == 1 {
                for _ in 0..v >> 2 {
                    last[slot] = last[slot].wrapping_add(1);
                    out.push(last[slot]);
                }
            } else {
                let z = (v >> 2) as u32;
                let d = ((z >> 1) as i32) ^ -((z & 1) as i32);
                last[slot] = last[slot].wrapping_add(d as u32);
                out.push(last[slot]);
            }
            v = 0;
            shift = 0;
        }
        *self = CookieLog::default();
    }
}

/// Where the socket cookie sits in the replies to a request of type `ty`
/// for `family` (the request's first payload byte): each family's message
/// has its own layout (see the UAPI headers). `None` for families whose
/// replies carry no cookie at a fixed place (tipc nests it in attributes),
/// which [`retry_interrupted`] then does not retry.
pub fn cookie_offset(ty: u16, family: u8) -> Option<usize> {
    // The legacy TCP/DCCP requests are answered with inet_diag_msg,
    // whatever their family byte says (sockq sends AF_UNSPEC).
    if ty == msg::TCPDIAG_GETSOCK || ty == msg::DCCPDIAG_GETSOCK {
        return Some(44);
    }
    match i32::from(family) {
        // inet_diag_msg: 4 bytes, then the sockid (ports, two 16-byte
        // addresses, interface) before idiag_cookie.
        libc::AF_INET | libc::AF_INET6 => Some(44),
        // unix_diag_msg, packet_diag_msg and xdp_diag_msg: 4 bytes and the
        // inode.
        libc::AF_UNIX | libc::AF_PACKET | libc::AF_XDP => Some(8),
        // netlink_diag_msg: 4 bytes, portid, dst_portid, dst_group, inode.
        libc::AF_NETLINK => Some(20),
        // vsock_diag_msg: 4 bytes, source and peer cid and port, inode.
        libc::AF_VSOCK => Some(24),
        _ => None,
    }
}

/// The low 32 bits of the cookie at `at` in a reply payload.
fn cookie_key(payload: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(
        payload.get(at..at + 4)?.try_into().ok()?,
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn cookie_log_round_trips() {
        let keys = [
            5u32,
            6,
            7,
            4_000_000_000,
            3,
            3,
            u32::MAX,
            0,
            1 << 31,
            12,
            13,
            0,
            1,
        ];
        let mut log = super::CookieLog::default();
        for k in keys {
            log.push(k);
        }
        // Neighbours take one byte each.
        assert!(log.bytes.len() < keys.len() * 3, "{}", log.bytes.len());
        let mut out = Vec::new();
        log.drain_into(&mut out);
        assert_eq!(out, keys);
        assert!(log.bytes.is_empty());
        // Two interleaved counting sequences (a walk of both families):
        // 15 of one, 1 of the other, and so on, plus a few strays.
        let mut keys = Vec::new();
        let (mut a, mut b) = (1000u32, 700_000u32);
        for i in 0..20_000u32 {
            a += 1;
            keys.push(a);
            if i % 15 == 0 {
                b += 1;
                keys.push(b);
            }
            if i % 5000 == 0 {
                keys.push(i.wrapping_mul(2_654_435_761));
            }
        }
        for &k in &keys {
            log.push(k);
        }
        log.flush_run();
        // About two bytes per switch between the sequences.
        assert!(log.bytes.len() < 3_000, "{} bytes", log.bytes.len());
        out.clear();
        log.drain_into(&mut out);
        assert!(out == keys, "the interleaved cookies come back");
    }

    #[test]
    fn cookie_offsets_by_request() {
        use super::{cookie_key, cookie_offset};
        let inet = cookie_offset(20, libc::AF_INET as u8);
        assert_eq!(inet, Some(44));
        assert_eq!(
            cookie_offset(18, 0),
            Some(44),
            "legacy TCP request, AF_UNSPEC"
        );
        assert_eq!(cookie_offset(20, libc::AF_UNIX as u8), Some(8));
        assert_eq!(cookie_offset(20, libc::AF_NETLINK as u8), Some(20));
        assert_eq!(cookie_offset(20, libc::AF_VSOCK as u8), Some(24));
        assert_eq!(cookie_offset(20, libc::AF_XDP as u8), Some(8));
        assert_eq!(cookie_offset(20, libc::AF_TIPC as u8), None);
        let mut m = vec![0u8; 72];
        m[44..48].copy_from_slice(&7u32.to_ne_bytes());
        assert_eq!(cookie_key(&m, 44), Some(7));
        assert_eq!(cookie_key(&m[..46], 44), None);
    }
}
