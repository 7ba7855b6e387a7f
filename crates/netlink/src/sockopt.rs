//! Socket options netlink-sys does not offer.

use std::os::fd::RawFd;

/// Asks for a receive buffer of `bytes` on `fd`: SO_RCVBUFFORCE (which goes
/// past `net.core.rmem_max`, with CAP_NET_ADMIN), else SO_RCVBUF (capped by
/// it; the only one netlink-sys's `set_rx_buf_sz` sets). Returns whether
/// either was accepted.
pub(crate) fn set_rcvbuf(fd: RawFd, bytes: usize) -> bool {
    let v = libc::c_int::try_from(bytes).unwrap_or(libc::c_int::MAX);
    for opt in [libc::SO_RCVBUFFORCE, libc::SO_RCVBUF] {
        // SAFETY: `v` is a c_int that lives across the call and the length
        // passed is its size; the caller passes an open socket fd.
        let rc = unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                opt,
                (&raw const v).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            return true;
        }
    }
    false
}

/// Sets a receive timeout of `secs` seconds on `fd` (SO_RCVTIMEO): a recv
/// that waits longer fails with EAGAIN instead of blocking forever.
pub(crate) fn set_rcvtimeo(fd: RawFd, secs: i64) -> bool {
    let tv = libc::timeval {
        tv_sec: secs as libc::time_t,
        tv_usec: 0,
    };
    // SAFETY: `tv` is a timeval that lives across the call and the length
    // passed is its size; the caller passes an open socket fd.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const tv).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    rc == 0
}
