//! The NETLINK_SOCK_DIAG socket and the generic multi-part dump loop.

use crate::error::Error;
use crate::inet::{InetRequest, decode_inet};
use crate::msg::{
    self, Messages, NLM_F_DUMP_INTR, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_NOOP,
    NLMSG_OVERRUN, NlHeader,
};
use netlink_sys::{Socket as NlSocket, SocketAddr, protocols::NETLINK_SOCK_DIAG};
use sockq_model::Socket;
use std::io::Write;
use std::ops::ControlFlow;

/// Initial receive buffer: twice the largest datagram a dump produces
/// (the kernel caps dump skbs at 32 KiB).
const RECV_BUF: usize = 64 * 1024;
/// SO_RCVBUF asked for, as ss does (the kernel doubles it, capped by rmem_max).
const SO_RCVBUF_SIZE: i32 = 1 << 20;
/// ENOBUFS reports tolerated in one dump before giving up.
const MAX_ENOBUFS: u32 = 8;

/// The per-message callback of a dump: `(nlmsg_type, payload after the
/// nlmsghdr)`; return `Break` to stop early.
pub type OnMessage<'a> = dyn FnMut(u16, &[u8]) -> Result<ControlFlow<()>, Error> + 'a;

/// A NETLINK_SOCK_DIAG socket, bound to the network namespace of the thread
/// that created it.
pub struct DiagSocket {
    sock: NlSocket,
    port: u32,
    seq: u32,
    rcvbuf: i32,
    buf: Vec<u8>,
    capture: Option<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for DiagSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiagSocket")
            .field("port", &self.port)
            .field("seq", &self.seq)
            .field("capturing", &self.capture.is_some())
            .finish()
    }
}

impl DiagSocket {
    /// Opens a sock_diag socket in the calling thread's network namespace.
    pub fn new() -> Result<DiagSocket, Error> {
        let ctx = "opening a NETLINK_SOCK_DIAG socket";
        let mut sock = NlSocket::new(NETLINK_SOCK_DIAG).map_err(|e| Error::io(ctx, e))?;
        let addr = sock.bind_auto().map_err(|e| Error::io(ctx, e))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| Error::io(ctx, e))?;
        // Best effort: a small SO_RCVBUF only costs extra wake-ups.
        let _ = sock.set_rx_buf_sz(SO_RCVBUF_SIZE);
        Ok(DiagSocket {
            sock,
            port: addr.port_number(),
            seq: 123_456,
            rcvbuf: SO_RCVBUF_SIZE,
            buf: vec![0; RECV_BUF],
            capture: None,
        })
    }

    /// Writes every datagram received from now on, verbatim, to `w` (what
    /// `ss -D FILE` saves and `TCPDIAG_FILE` replays).
    pub fn capture_to(&mut self, w: Box<dyn Write + Send>) {
        self.capture = Some(w);
    }

    /// Stops capturing and hands the writer back (flushed).
    pub fn take_capture(&mut self) -> Option<Box<dyn Write + Send>> {
        let mut w = self.capture.take()?;
        let _ = w.flush();
        Some(w)
    }

    /// Sends one dump request and feeds every reply message to `on_msg` as
    /// `(nlmsg_type, payload after the nlmsghdr)` until NLMSG_DONE.
    ///
    /// `request` is a complete netlink message; its sequence number is
    /// replaced by the socket's own. Replies from another sender than the
    /// kernel, or with another sequence number or port, are skipped.
    ///
    /// Errors: NLMSG_ERROR gives [`Error::Kernel`]; DONE carrying -ENOENT
    /// gives [`Error::ProtocolMissing`] (no diag module: fall back to /proc),
    /// other negative DONE codes [`Error::Kernel`]; NLM_F_DUMP_INTR or
    /// dropped replies give [`Error::DumpInterrupted`] after the dump was
    /// read to its end (retry a bounded number of times); a malformed
    /// message gives [`Error::Truncated`].
    ///
    /// When `on_msg` breaks or fails, the rest of the dump is still read and
    /// dropped, so that the socket stays usable (the kernel refuses a new
    /// dump while one is running). A structurally broken datagram or an I/O
    /// error returns at once; the socket may then be left mid-dump and
    /// should be dropped.
    pub fn dump_raw(&mut self, request: &[u8], on_msg: &mut OnMessage<'_>) -> Result<(), Error> {
        let Some(hdr) = NlHeader::parse(request) else {
            return Err(Error::Invalid(
                "request shorter than a netlink header".into(),
            ));
        };
        // A wrong nlmsg_len makes the kernel drop the request silently and
        // the recv below would then block forever.
        if hdr.len as usize != request.len() {
            return Err(Error::Invalid(format!(
                "nlmsg_len {} but the request has {} bytes",
                hdr.len,
                request.len()
            )));
        }
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let mut req = request.to_vec();
        NlHeader { seq, pid: 0, ..hdr }.write(&mut req);
        let what = describe_request(&req);
        self.send(&req, &what)?;

        let mut state = DumpState::new(Some((seq, self.port)), what);
        let mut enobufs = 0u32;
        loop {
            let n = match self.recv_datagram() {
                Ok(n) => n,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    // Replies were dropped: read on to DONE, then ask for a retry.
                    enobufs += 1;
                    state.interrupted = true;
                    if enobufs > MAX_ENOBUFS {
                        return Err(Error::io(format!("reading the {} reply", state.what), e));
                    }
                    self.rcvbuf = self.rcvbuf.saturating_mul(2);
                    let _ = self.sock.set_rx_buf_sz(self.rcvbuf);
                    continue;
                }
                Err(e) => return Err(Error::io(format!("reading the {} reply", state.what), e)),
            };
            let data = self.buf.get(..n).unwrap_or_default();
            if let Some(w) = self.capture.as_mut() {
                w.write_all(data)
                    .map_err(|e| Error::io("writing the dump file", e))?;
            }
            if let Some(done) = state.feed(data, on_msg) {
                return done;
            }
        }
    }

    /// Dumps one inet table in one family, calling `on_socket` for each
    /// socket until it breaks.
    ///
    /// A missing diag module (raw and sctp on many kernels) gives
    /// [`Error::ProtocolMissing`] naming the table and family.
    pub fn dump_inet(
        &mut self,
        req: &InetRequest,
        on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        let bytes = req.to_bytes(0)?;
        let table = req.table;
        let r = self.dump_raw(&bytes, &mut |ty, payload| {
            if ty != msg::SOCK_DIAG_BY_FAMILY {
                return Ok(ControlFlow::Continue(()));
            }
            let s = decode_inet(payload, table)?;
            Ok(on_socket(&s))
        });
        r.map_err(|e| match e {
            Error::ProtocolMissing { .. } => Error::ProtocolMissing {
                what: req.describe(),
            },
            Error::Kernel { errno, .. } => Error::Kernel {
                errno,
                context: req.describe(),
            },
            e => e,
        })
    }

    fn send(&mut self, req: &[u8], what: &str) -> Result<(), Error> {
        loop {
            match self.sock.send(req, 0) {
                Ok(n) if n == req.len() => return Ok(()),
                Ok(n) => {
                    return Err(Error::Truncated {
                        what: format!("sent {what} request"),
                        want: req.len(),
                        got: n,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(format!("sending the {what} request"), e)),
            }
        }
    }

    /// Receives one datagram from the kernel into `self.buf`, growing the
    /// buffer first if the datagram would not fit, and returns its length.
    fn recv_datagram(&mut self) -> std::io::Result<usize> {
        loop {
            // Peek at the size without copying anything.
            let mut none: &mut [u8] = &mut [];
            let size = match self
                .sock
                .recv_from(&mut none, libc::MSG_PEEK | libc::MSG_TRUNC)
            {
                Ok((n, _)) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if size > self.buf.len() {
                self.buf.resize(size.next_power_of_two(), 0);
            }
            let mut dst: &mut [u8] = &mut self.buf[..];
            let (n, from) = match self.sock.recv_from(&mut dst, libc::MSG_TRUNC) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if from.port_number() != 0 {
                continue; // not from the kernel
            }
            if n > self.buf.len() {
                return Err(std::io::Error::other(format!(
                    "datagram of {n} bytes truncated to {}",
                    self.buf.len()
                )));
            }
            return Ok(n);
        }
    }
}

/// How a dump loop ended early, to be reported once DONE has been read.
enum Pending {
    None,
    Stopped,
    Failed(Error),
}

/// The state of one dump across datagrams.
struct DumpState {
    /// Expected (sequence, port); `None` accepts every message (files).
    expect: Option<(u32, u32)>,
    what: String,
    pending: Pending,
    interrupted: bool,
}

impl DumpState {
    fn new(expect: Option<(u32, u32)>, what: String) -> DumpState {
        DumpState {
            expect,
            what,
            pending: Pending::None,
            interrupted: false,
        }
    }

    /// Processes one datagram; `Some` once the dump is over.
    fn feed(&mut self, data: &[u8], on_msg: &mut OnMessage<'_>) -> Option<Result<(), Error>> {
        for m in Messages::new(data) {
            let (h, payload, _) = match m {
                Ok(m) => m,
                Err(e) => return Some(Err(e)),
            };
            if let Some((seq, port)) = self.expect
                && (h.seq != seq || h.pid != port)
            {
                continue; // a stale reply to an earlier request
            }
            if h.flags & NLM_F_DUMP_INTR != 0 {
                self.interrupted = true;
            }
            match h.ty {
                NLMSG_NOOP => {}
                NLMSG_DONE => return Some(self.finish(msg::payload_errno(payload), true)),
                NLMSG_ERROR => return Some(self.finish(msg::payload_errno(payload), false)),
                NLMSG_OVERRUN => self.interrupted = true,
                ty => {
                    if let Pending::None = self.pending {
                        match on_msg(ty, payload) {
                            Ok(ControlFlow::Continue(())) => {}
                            Ok(ControlFlow::Break(())) => self.pending = Pending::Stopped,
                            Err(e) => self.pending = Pending::Failed(e),
                        }
                    }
                }
            }
        }
        None
    }

    fn finish(&mut self, errno: i32, done: bool) -> Result<(), Error> {
        if let Pending::Failed(e) = std::mem::replace(&mut self.pending, Pending::None) {
            return Err(e);
        }
        let what = std::mem::take(&mut self.what);
        if done && errno == libc::ENOENT {
            return Err(Error::ProtocolMissing { what });
        }
        if errno != 0 {
            return Err(Error::Kernel {
                errno,
                context: what,
            });
        }
        if self.interrupted {
            return Err(Error::DumpInterrupted);
        }
        Ok(())
    }
}

/// Runs the dump rules of [`DiagSocket::dump_raw`] over bytes captured
/// earlier (one or more datagrams, as [`DiagSocket::capture_to`] writes
/// them), up to the first NLMSG_DONE or NLMSG_ERROR. Sequence numbers and
/// ports are not checked. Bytes that end before DONE give
/// [`Error::Truncated`].
pub fn dump_from_bytes(data: &[u8], on_msg: &mut OnMessage<'_>) -> Result<(), Error> {
    let mut state = DumpState::new(None, "captured sock_diag dump".into());
    match state.feed(data, on_msg) {
        Some(r) => r,
        // A message that failed to decode says more than the missing DONE.
        None if matches!(state.pending, Pending::Failed(_)) => state.finish(0, true),
        None => Err(Error::Truncated {
            what: "captured sock_diag dump (no NLMSG_DONE)".into(),
            want: data.len() + msg::NLMSG_HDRLEN,
            got: data.len(),
        }),
    }
}

/// Names a sock_diag request by its first two payload bytes (every
/// sock_diag request starts with family and protocol).
fn describe_request(req: &[u8]) -> String {
    let fam = req.get(NLMSG_HDRLEN).copied().unwrap_or(0);
    let proto = req.get(NLMSG_HDRLEN + 1).copied().unwrap_or(0);
    format!("sock_diag dump (family {fam}, protocol {proto})")
}
