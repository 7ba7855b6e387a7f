//! `-E`: destroyed-socket notifications from the sock_diag multicast groups,
//! and a stop flag raised by SIGINT/SIGTERM so the reader can end cleanly.
//!
//! Joining the groups needs CAP_NET_ADMIN. Each notification is one
//! `inet_diag_msg` with its attributes; INET_DIAG_PROTOCOL says which
//! protocol it was (the kernel always includes it here).

use crate::error::Error;
use crate::inet::decode_inet;
use crate::msg::{Messages, SOCK_DIAG_BY_FAMILY};
use netlink_sys::{Socket as NlSocket, SocketAddr, protocols::NETLINK_SOCK_DIAG};
use sockq_model::{Socket, Table};
use std::ops::ControlFlow;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};

/// sock_diag multicast groups (`SKNLGRP_*`).
pub mod group {
    /// Destroyed IPv4 TCP sockets.
    pub const INET_TCP_DESTROY: u32 = 1;
    /// Destroyed IPv4 UDP sockets.
    pub const INET_UDP_DESTROY: u32 = 2;
    /// Destroyed IPv6 TCP sockets.
    pub const INET6_TCP_DESTROY: u32 = 3;
    /// Destroyed IPv6 UDP sockets.
    pub const INET6_UDP_DESTROY: u32 = 4;
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_stop_signal(_sig: libc::c_int) {
    // Only an atomic store: async-signal-safe.
    STOP.store(true, Ordering::SeqCst);
}

/// Installs SIGINT and SIGTERM handlers that only raise the stop flag
/// ([`stop_requested`]). No SA_RESTART, so a blocked poll returns at once.
pub fn install_stop_handlers() -> Result<(), Error> {
    for sig in [libc::SIGINT, libc::SIGTERM] {
        // SAFETY: a zeroed sigaction is a valid "no flags, empty mask" value;
        // the handler is an extern "C" fn that only stores to an atomic, which
        // is async-signal-safe; sigemptyset and sigaction get valid pointers
        // to this local for the duration of the calls.
        let rc = unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_stop_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut())
        };
        if rc != 0 {
            return Err(Error::io(
                "installing signal handlers",
                std::io::Error::last_os_error(),
            ));
        }
    }
    Ok(())
}

/// Whether SIGINT or SIGTERM arrived since [`install_stop_handlers`].
pub fn stop_requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// Decodes one destroy notification; the table comes from INET_DIAG_PROTOCOL.
pub fn decode_event(payload: &[u8]) -> Result<Socket, Error> {
    let mut s = decode_inet(payload, Table::Tcp)?;
    s.table = match s.raw_protocol {
        Some(17) => Table::Udp,
        Some(136) => Table::UdpLite,
        Some(6) | None => Table::Tcp,
        Some(p) => {
            return Err(Error::Decode(format!(
                "destroy notification for protocol {p}"
            )));
        }
    };
    if s.table != Table::Tcp {
        s.tcp_info = None;
    }
    s.raw_protocol = None;
    Ok(s)
}

/// A sock_diag socket subscribed to destroy notifications.
pub struct EventSocket {
    sock: NlSocket,
    buf: Vec<u8>,
}

impl std::fmt::Debug for EventSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSocket").finish()
    }
}

impl EventSocket {
    /// Opens a socket in the calling thread's namespace and joins `groups`
    /// (see [`group`]). Without CAP_NET_ADMIN joining fails with EPERM.
    pub fn new(groups: &[u32]) -> Result<EventSocket, Error> {
        let ctx = "opening a NETLINK_SOCK_DIAG socket for events";
        let mut sock = NlSocket::new(NETLINK_SOCK_DIAG).map_err(|e| Error::io(ctx, e))?;
        sock.bind(&SocketAddr::new(0, 0))
            .map_err(|e| Error::io(ctx, e))?;
        for g in groups {
            sock.add_membership(*g)
                .map_err(|e| Error::io(format!("joining sock_diag group {g}"), e))?;
        }
        let _ = sock.set_rx_buf_sz(1 << 20);
        Ok(EventSocket {
            sock,
            buf: vec![0; 64 * 1024],
        })
    }

    /// Waits up to `timeout_ms` for notifications and passes each decoded
    /// socket to `on_socket`. Returns `Break` when `on_socket` broke.
    /// A signal or a timeout returns `Continue` with nothing read: check
    /// [`stop_requested`] and call again. ENOBUFS (notifications dropped
    /// under load) is reported once on stderr by the caller's choice: it is
    /// returned as [`Error::Io`].
    pub fn wait(
        &mut self,
        timeout_ms: i32,
        on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, Error> {
        let mut pfd = libc::pollfd {
            fd: self.sock.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd for the whole call and the count is 1.
        let rc = unsafe { libc::poll(&mut pfd, 1, timeout_ms) };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(ControlFlow::Continue(()));
            }
            return Err(Error::io("waiting for sock_diag events", e));
        }
        if rc == 0 {
            return Ok(ControlFlow::Continue(()));
        }
        let mut dst: &mut [u8] = &mut self.buf[..];
        let n = match self.sock.recv(&mut dst, libc::MSG_DONTWAIT) {
            Ok(n) => n,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock
                ) =>
            {
                return Ok(ControlFlow::Continue(()));
            }
            Err(e) => return Err(Error::io("reading sock_diag events", e)),
        };
        let data = self.buf.get(..n).unwrap_or_default();
        for m in Messages::new(data) {
            let (h, payload, _) = m?;
            if h.ty != SOCK_DIAG_BY_FAMILY {
                continue;
            }
            let s = decode_event(payload)?;
            if on_socket(&s).is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }
}
