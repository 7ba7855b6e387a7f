//! `-E`: destroyed-socket notifications from the sock_diag multicast groups,
//! and a stop flag raised by SIGINT/SIGTERM so the reader can end cleanly.
//!
//! Whether joining the groups needs CAP_NET_ADMIN is the kernel's choice:
//! Linux 6.18 lets any user join them (and so see every socket of the
//! namespace close). Each notification is one
//! `inet_diag_msg` with its attributes; INET_DIAG_PROTOCOL says which
//! protocol it was (the kernel always includes it here).

use crate::error::Error;
use crate::inet::decode_inet;
use crate::msg::{Messages, SOCK_DIAG_BY_FAMILY};
use netlink_sys::{Socket as NlSocket, SocketAddr, protocols::NETLINK_SOCK_DIAG};
use sockq_model::{Socket, Table};
use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, BorrowedFd};
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

/// SO_RCVBUF asked for at first (the kernel doubles it).
const INITIAL_RCVBUF: usize = 1 << 20;
/// The most the receive buffer is raised to after overruns (asked for;
/// the kernel doubles it).
const MAX_RCVBUF: usize = 64 << 20;

/// What ended one [`EventSocket::wait`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// A timeout, a signal, or every notification read was handled: check
    /// [`stop_requested`] and call again.
    Idle,
    /// `on_socket` returned `Break`.
    Break,
    /// The watched output reported POLLERR or POLLHUP: nobody reads it any
    /// more (the read end of the pipe was closed, the peer socket shut down).
    OutputClosed,
    /// The kernel dropped notifications because the receive buffer was full
    /// (ENOBUFS). The socket keeps working; its receive buffer was raised
    /// and is now `rcvbuf` bytes, as the kernel reports it (None if it could
    /// not be read).
    Lost {
        /// The receive buffer after raising it, in bytes.
        rcvbuf: Option<usize>,
    },
}

/// A sock_diag socket subscribed to destroy notifications.
pub struct EventSocket {
    sock: NlSocket,
    buf: Vec<u8>,
    /// The SO_RCVBUF value last asked for.
    rcvbuf: usize,
}

impl std::fmt::Debug for EventSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventSocket")
            .field("rcvbuf", &self.rcvbuf)
            .finish()
    }
}

/// True when POLLERR/POLLHUP on `fd` means that its reader went away: a
/// pipe or a socket. Regular files, ttys and the like say nothing useful.
pub fn output_can_hang_up(fd: BorrowedFd<'_>) -> bool {
    // SAFETY: fstat writes only into the zeroed local `st`; the fd is
    // borrowed, so it stays open for the call.
    let (rc, st) = unsafe {
        let mut st: libc::stat = std::mem::zeroed();
        let rc = libc::fstat(fd.as_raw_fd(), &mut st);
        (rc, st)
    };
    rc == 0 && matches!(st.st_mode & libc::S_IFMT, libc::S_IFIFO | libc::S_IFSOCK)
}

impl EventSocket {
    /// Opens a socket in the calling thread's namespace and joins `groups`
    /// (see [`group`]). A kernel that keeps the groups to CAP_NET_ADMIN
    /// answers EPERM to an unprivileged caller.
    pub fn new(groups: &[u32]) -> Result<EventSocket, Error> {
        let ctx = "opening a NETLINK_SOCK_DIAG socket for events";
        let mut sock = NlSocket::new(NETLINK_SOCK_DIAG).map_err(|e| Error::io(ctx, e))?;
        sock.bind(&SocketAddr::new(0, 0))
            .map_err(|e| Error::io(ctx, e))?;
        for g in groups {
            sock.add_membership(*g)
                .map_err(|e| Error::io(format!("joining sock_diag group {g}"), e))?;
        }
        let rcvbuf = INITIAL_RCVBUF;
        let mut s = EventSocket {
            sock,
            buf: vec![0; 64 * 1024],
            rcvbuf,
        };
        // Best effort: a small buffer only means overruns, which are reported.
        s.set_rcvbuf(rcvbuf);
        Ok(s)
    }

    /// Asks for a receive buffer of `bytes` (see [`crate::sockopt::set_rcvbuf`]).
    fn set_rcvbuf(&mut self, bytes: usize) {
        crate::sockopt::set_rcvbuf(self.sock.as_raw_fd(), bytes);
    }

    /// The receive buffer as the kernel reports it (twice what was asked).
    pub fn receive_buffer(&self) -> Option<usize> {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: `v` and `len` are locals that outlive the call, and `len`
        // holds the size of `v`.
        let rc = unsafe {
            libc::getsockopt(
                self.sock.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                (&raw mut v).cast(),
                &mut len,
            )
        };
        if rc == 0 {
            usize::try_from(v).ok()
        } else {
            None
        }
    }

    /// Doubles the receive buffer, up to 64 MiB asked for.
    fn grow(&mut self) -> Option<usize> {
        self.rcvbuf = self.rcvbuf.saturating_mul(2).min(MAX_RCVBUF);
        self.set_rcvbuf(self.rcvbuf);
        self.receive_buffer()
    }

    /// Waits up to `timeout_ms` for notifications and passes each decoded
    /// socket to `on_socket`.
    ///
    /// With `output`, that fd is watched too: POLLERR or POLLHUP on it ends
    /// the wait with [`Wake::OutputClosed`] (only meaningful for pipes and
    /// sockets, see [`output_can_hang_up`]). ENOBUFS (notifications dropped
    /// under load) doubles the receive buffer and gives [`Wake::Lost`]; the
    /// caller says so and calls again.
    pub fn wait(
        &mut self,
        timeout_ms: i32,
        output: Option<BorrowedFd<'_>>,
        on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
    ) -> Result<Wake, Error> {
        let mut pfds = [
            libc::pollfd {
                fd: self.sock.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                // A negative fd is ignored by poll.
                fd: output.map_or(-1, |fd| fd.as_raw_fd()),
                // POLLERR and POLLHUP are always reported; ask for nothing else.
                events: 0,
                revents: 0,
            },
        ];
        // SAFETY: `pfds` is an array of two valid pollfds for the whole call,
        // and the count passed is its length.
        let rc = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
        if rc < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                return Ok(Wake::Idle);
            }
            return Err(Error::io("waiting for sock_diag events", e));
        }
        let [nl, out] = pfds;
        if out.revents & (libc::POLLERR | libc::POLLHUP) != 0 {
            return Ok(Wake::OutputClosed);
        }
        if nl.revents == 0 {
            return Ok(Wake::Idle);
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
                return Ok(Wake::Idle);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                return Ok(Wake::Lost {
                    rcvbuf: self.grow(),
                });
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
                return Ok(Wake::Break);
            }
        }
        Ok(Wake::Idle)
    }
}
