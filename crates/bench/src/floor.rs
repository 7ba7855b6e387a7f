//! The kernel floor: a raw NETLINK_SOCK_DIAG dump of every TCP socket that
//! counts the replies and decodes nothing, so its time is what the kernel and
//! the socket round trips cost before any tool does real work.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use crate::error::{BenchError, Context};

const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_HDRLEN: usize = 16;
/// nlmsghdr (16) + inet_diag_req_v2 (56).
const REQ_LEN: usize = 72;
/// Large enough for the kernel's biggest dump skb (32 KiB) with room to spare.
const RECV_BUF: usize = 64 * 1024;

/// `idiag_ext` bits that `-i` asks for: INFO, VEGASINFO, CONG.
pub const EXT_INFO: u8 = (1 << 1) | (1 << 2) | (1 << 3);

/// Builds one dump request for all TCP sockets of `family`.
fn request(family: u8, ext: u8, seq: u32) -> [u8; REQ_LEN] {
    let mut b = [0u8; REQ_LEN];
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    b[0..4].copy_from_slice(&(REQ_LEN as u32).to_ne_bytes());
    b[4..6].copy_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    b[6..8].copy_from_slice(&flags.to_ne_bytes());
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    // inet_diag_req_v2: family, protocol, ext, pad, states; sockid stays zero.
    b[16] = family;
    b[17] = libc::IPPROTO_TCP as u8;
    b[18] = ext;
    b[20..24].copy_from_slice(&u32::MAX.to_ne_bytes());
    b
}

fn u16_at(buf: &[u8], off: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(buf.get(off..off + 2)?.try_into().ok()?))
}

fn u32_at(buf: &[u8], off: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(buf.get(off..off + 4)?.try_into().ok()?))
}

/// The legacy `TCPDIAG_GETSOCK` request type.
const TCPDIAG_GETSOCK: u16 = 18;
/// nlmsghdr (16) + the legacy `inet_diag_req` (60).
const COMPAT_LEN: usize = 76;

/// One legacy request for all TCP sockets of both families: the kernel
/// answers it with a single walk of its tables (what `sockq -tan` sends).
fn compat_request(ext: u8, seq: u32) -> [u8; COMPAT_LEN] {
    let mut b = [0u8; COMPAT_LEN];
    let flags = (libc::NLM_F_REQUEST | libc::NLM_F_DUMP) as u16;
    b[0..4].copy_from_slice(&(COMPAT_LEN as u32).to_ne_bytes());
    b[4..6].copy_from_slice(&TCPDIAG_GETSOCK.to_ne_bytes());
    b[6..8].copy_from_slice(&flags.to_ne_bytes());
    b[8..12].copy_from_slice(&seq.to_ne_bytes());
    // inet_diag_req: family (ignored), src_len, dst_len, ext, the 48-byte
    // sockid, then the state mask.
    b[19] = ext;
    b[68..72].copy_from_slice(&u32::MAX.to_ne_bytes());
    b
}

/// Dumps the TCP sockets of the current namespace, IPv4 then IPv6 as two
/// requests (what ss sends), or with `one_walk` both in one legacy request;
/// returns the number of socket messages received.
pub fn dump_count(ext: u8, one_walk: bool) -> Result<u64, BenchError> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_SOCK_DIAG,
        )
    };
    if raw < 0 {
        return Err(std::io::Error::last_os_error()).ctx(|| "netlink socket".to_owned());
    }
    // SAFETY: `raw` is a fresh fd that nothing else owns.
    let sock = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut buf = vec![0u8; RECV_BUF];
    let mut total = 0;
    if one_walk {
        let req = compat_request(ext, 1);
        // SAFETY: the pointer and length describe `req`, alive for the call.
        let sent = unsafe { libc::send(sock.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
        if sent < 0 {
            return Err(std::io::Error::last_os_error()).ctx(|| "netlink send".to_owned());
        }
        return recv_until_done(&sock, &mut buf);
    }
    for (seq, family) in [(1u32, libc::AF_INET as u8), (2, libc::AF_INET6 as u8)] {
        let req = request(family, ext, seq);
        // SAFETY: the pointer and length describe `req`, alive for the call.
        let sent = unsafe { libc::send(sock.as_raw_fd(), req.as_ptr().cast(), req.len(), 0) };
        if sent < 0 {
            return Err(std::io::Error::last_os_error()).ctx(|| "netlink send".to_owned());
        }
        total += recv_until_done(&sock, &mut buf)?;
    }
    Ok(total)
}

fn recv_until_done(sock: &OwnedFd, buf: &mut [u8]) -> Result<u64, BenchError> {
    let mut count = 0;
    loop {
        // SAFETY: the pointer and length describe `buf`, alive for the call.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err).ctx(|| "netlink recv".to_owned());
        }
        let data = buf.get(..n as usize).unwrap_or_default();
        let mut off = 0;
        while off + NLMSG_HDRLEN <= data.len() {
            let len = u32_at(data, off).unwrap_or(0) as usize;
            let kind = u16_at(data, off + 4).unwrap_or(0);
            if len < NLMSG_HDRLEN || off + len > data.len() {
                return Err(BenchError::Netlink(format!("bad message length {len}")));
            }
            match kind {
                NLMSG_DONE => return Ok(count),
                NLMSG_ERROR => {
                    let code = u32_at(data, off + NLMSG_HDRLEN).unwrap_or(0) as i32;
                    return Err(BenchError::Netlink(format!("kernel error {code}")));
                }
                _ => count += 1,
            }
            off += (len + 3) & !3;
        }
    }
}

/// The `/proc` floor: `readlinkat` on every fd of every process, which is
/// what any map from socket inode to owner (`-p`, the `comm` labels of
/// `--metrics`) must do, on `threads` threads taking processes in turn.
/// Nothing is kept; returns how many fds were socket links.
pub fn proc_walk_count(threads: usize) -> Result<u64, BenchError> {
    use std::os::unix::ffi::OsStrExt;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    let pids: Vec<u32> = std::fs::read_dir("/proc")
        .ctx(|| "listing /proc".to_owned())?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    let next = AtomicUsize::new(0);
    let sockets = AtomicU64::new(0);
    let walk = || {
        let mut link = [0u8; 64];
        let mut name = Vec::with_capacity(16);
        while let Some(pid) = pids.get(next.fetch_add(1, Ordering::Relaxed)) {
            let path = format!("/proc/{pid}/fd");
            // A process that exits, or that we may not read, is skipped.
            let (Ok(dir), Ok(entries)) = (std::fs::File::open(&path), std::fs::read_dir(&path))
            else {
                continue;
            };
            let mut n = 0;
            for e in entries.flatten() {
                name.clear();
                name.extend_from_slice(e.file_name().as_bytes());
                name.push(0);
                // SAFETY: `name` is NUL-terminated and `link` is writable for
                // its length; `dir` stays open across the call.
                let len = unsafe {
                    libc::readlinkat(
                        dir.as_raw_fd(),
                        name.as_ptr().cast(),
                        link.as_mut_ptr().cast(),
                        link.len(),
                    )
                };
                if len > 7 && link.starts_with(b"socket:") {
                    n += 1;
                }
            }
            sockets.fetch_add(n, Ordering::Relaxed);
        }
    };
    std::thread::scope(|s| {
        for _ in 1..threads.max(1) {
            s.spawn(walk);
        }
        walk();
    });
    Ok(sockets.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_layout() {
        let r = request(libc::AF_INET6 as u8, EXT_INFO, 7);
        assert_eq!(u32_at(&r, 0), Some(72));
        assert_eq!(u16_at(&r, 4), Some(SOCK_DIAG_BY_FAMILY));
        assert_eq!(u32_at(&r, 8), Some(7));
        assert_eq!(r[16], libc::AF_INET6 as u8);
        assert_eq!(r[17], 6);
        assert_eq!(r[18], 0b1110);
        assert_eq!(u32_at(&r, 20), Some(u32::MAX));
        let c = compat_request(EXT_INFO, 9);
        assert_eq!(u32_at(&c, 0), Some(76));
        assert_eq!(u16_at(&c, 4), Some(TCPDIAG_GETSOCK));
        assert_eq!(c[19], 0b1110);
        assert_eq!(u32_at(&c, 68), Some(u32::MAX));
    }
}
