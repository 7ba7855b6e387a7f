//! The NETLINK_SOCK_DIAG socket and the generic multi-part dump loop.

use crate::error::Error;
use crate::inet::{InetRequest, decode_inet_into};
use crate::msg::{
    self, Messages, NLM_F_DUMP_INTR, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_NOOP,
    NLMSG_OVERRUN, NlHeader, OnMessage,
};
use crate::retry::{MAX_DUMP_RETRIES, cookie_offset, retry_interrupted};
use crate::sockopt;
use netlink_sys::{Socket as NlSocket, SocketAddr, protocols::NETLINK_SOCK_DIAG};
use sockq_model::Socket;
use std::io::Write;
use std::ops::ControlFlow;
use std::os::fd::AsRawFd;
use std::sync::mpsc;

/// Initial receive buffer: twice the largest datagram a dump produces
/// (the kernel caps dump skbs at 32 KiB).
const RECV_BUF: usize = 64 * 1024;
/// SO_RCVBUF asked for, as ss does (the kernel doubles it, capped by rmem_max).
const SO_RCVBUF_SIZE: i32 = 1 << 20;
/// ENOBUFS reports tolerated in one dump before giving up.
const MAX_ENOBUFS: u32 = 8;

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
        // Not connected: requests go to the kernel with send_to, so sockq's
        // own socket lists as UNCONN in `-f netlink`, as ss's does.
        // Best effort: a small SO_RCVBUF only costs extra wake-ups. (After
        // ENOBUFS the buffer is doubled past rmem_max where allowed.)
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
    /// `ss -D FILE` saves and `TCPDIAG_FILE` replays). Every attempt of a
    /// retried dump is written, so a replay of such a capture shows the
    /// sockets of each attempt.
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
    /// When the kernel flags the dump as inconsistent (NLM_F_DUMP_INTR) or
    /// drops replies (ENOBUFS, after which the receive buffer is doubled),
    /// the dump is made again, up to [`MAX_DUMP_RETRIES`] times, and only
    /// sockets not delivered before are passed on (see
    /// [`retry_interrupted`]).
    ///
    /// Errors: NLMSG_ERROR gives [`Error::Kernel`]; DONE carrying -ENOENT
    /// gives [`Error::ProtocolMissing`] (no diag module: fall back to /proc),
    /// other negative DONE codes [`Error::Kernel`]; a dump still interrupted
    /// after the retries gives [`Error::DumpInterrupted`] (every row it
    /// could read was delivered); a malformed message gives
    /// [`Error::Truncated`].
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
        let mut req = request.to_vec();
        let family = request.get(NLMSG_HDRLEN).copied().unwrap_or(0);
        retry_interrupted(
            MAX_DUMP_RETRIES,
            cookie_offset(hdr.ty, family),
            &mut |on: &mut OnMessage<'_>| self.dump_once(&mut req, hdr, on),
            on_msg,
        )
    }

    /// One dump: sends `req` under a fresh sequence number and reads the
    /// replies to their end. The first datagram is read on this thread; a
    /// dump that needs more is received on a second thread, so the kernel
    /// walks its tables (in the reader's recvmsg) while this thread decodes
    /// and prints what already arrived.
    fn dump_once(
        &mut self,
        req: &mut [u8],
        hdr: NlHeader,
        on_msg: &mut OnMessage<'_>,
    ) -> Result<(), Error> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        NlHeader { seq, pid: 0, ..hdr }.write(req);
        let what = describe_request(req);
        self.send(req, &what)?;

        let mut state = DumpState::new(Some((seq, self.port)), what);
        let mut enobufs = 0u32;
        // The first datagram; small dumps (listeners, a filter that matches
        // little) end here without a thread.
        loop {
            match recv_datagram(&self.sock, &mut self.buf) {
                Ok(n) => {
                    let data = self.buf.get(..n).unwrap_or_default();
                    if let Some(done) = consume(&mut self.capture, &mut state, data, on_msg) {
                        return done;
                    }
                    break;
                }
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                    self.on_enobufs(&mut state, &mut enobufs, e)?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return Err(Error::io(
                        format!("reading the {} reply", state.what),
                        stalled(e),
                    ));
                }
                Err(e) => return Err(Error::io(format!("reading the {} reply", state.what), e)),
            }
        }
        let expect = (seq, self.port);
        let sock = &self.sock;
        let capture = &mut self.capture;
        let rcvbuf = self.rcvbuf;
        let outcome = std::thread::scope(|scope| {
            let (tx, rx) = mpsc::sync_channel::<Chunk>(IN_FLIGHT);
            let (back_tx, back_rx) = mpsc::channel::<Vec<u8>>();
            // Every buffer the pipeline can hold at once (one being filled,
            // IN_FLIGHT queued, one being decoded), allocated here so the
            // reader thread never allocates (no second malloc arena). Fresh
            // from the system they cost no page until written; reused from
            // the heap, calloc zeroes them (256 KiB, tens of microseconds).
            for _ in 0..IN_FLIGHT + 2 {
                let _ = back_tx.send(vec![0; READER_BUF]);
            }
            let reader = std::thread::Builder::new()
                .name("sockq-netlink-reader".into())
                .spawn_scoped(scope, move || {
                    read_ahead(sock, expect, rcvbuf, enobufs, &tx, &back_rx)
                });
            let reader = match reader {
                Ok(r) => r,
                // No thread (a tight RLIMIT_NPROC): read on this one.
                Err(_) => return None,
            };
            let mut result = Err(Error::Invalid("the netlink reader stopped early".into()));
            for chunk in rx.iter() {
                match chunk {
                    Chunk::Data(buf, n) => {
                        let data = buf.get(..n).unwrap_or_default();
                        let end = consume(capture, &mut state, data, on_msg);
                        let _ = back_tx.send(buf);
                        if let Some(done) = end {
                            result = done;
                            break;
                        }
                    }
                    Chunk::Dropped => state.interrupted = true,
                    Chunk::Failed(e) => {
                        result = Err(Error::io(format!("reading the {} reply", state.what), e));
                        break;
                    }
                }
            }
            // Dropping the receiver stops a reader still sending.
            drop(rx);
            let rcvbuf = reader.join().unwrap_or(rcvbuf);
            Some((result, rcvbuf))
        });
        match outcome {
            Some((result, rcvbuf)) => {
                self.rcvbuf = rcvbuf;
                result
            }
            None => loop {
                match recv_datagram(&self.sock, &mut self.buf) {
                    Ok(n) => {
                        let data = self.buf.get(..n).unwrap_or_default();
                        if let Some(done) = consume(&mut self.capture, &mut state, data, on_msg) {
                            return done;
                        }
                    }
                    Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => {
                        self.on_enobufs(&mut state, &mut enobufs, e)?;
                    }
                    Err(e) => {
                        let e = if e.kind() == std::io::ErrorKind::WouldBlock {
                            stalled(e)
                        } else {
                            e
                        };
                        return Err(Error::io(format!("reading the {} reply", state.what), e));
                    }
                }
            },
        }
    }

    /// ENOBUFS: replies were dropped. Double the receive buffer, read on to
    /// DONE and let the dump be retried; give up after [`MAX_ENOBUFS`].
    fn on_enobufs(
        &mut self,
        state: &mut DumpState,
        count: &mut u32,
        e: std::io::Error,
    ) -> Result<(), Error> {
        *count += 1;
        state.interrupted = true;
        if *count > MAX_ENOBUFS {
            return Err(Error::io(format!("reading the {} reply", state.what), e));
        }
        self.rcvbuf = self.rcvbuf.saturating_mul(2);
        sockopt::set_rcvbuf(self.sock.as_raw_fd(), self.rcvbuf as usize);
        after_enobufs(&self.sock);
        Ok(())
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
        // One record, decoded into again and again (decode_inet_into).
        let mut s = Socket::new(
            table,
            sockq_model::Family::Inet,
            sockq_model::State::Unknown,
        );
        let r = self.dump_raw(&bytes, &mut |ty, payload| {
            if ty != msg::SOCK_DIAG_BY_FAMILY {
                return Ok(ControlFlow::Continue(()));
            }
            decode_inet_into(payload, table, &mut s)?;
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
            match self.sock.send_to(req, &SocketAddr::new(0, 0), 0) {
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
}

/// Datagrams received ahead of the decoder: bounds the memory a fast
/// kernel and a slow consumer (a full pipe) can pin. Two keep the reader
/// busy (32 measured no faster); more only add memory.
const IN_FLIGHT: usize = 2;
/// The reader's buffers: room for any dump datagram without a peek (see
/// `recv_datagram`).
const READER_BUF: usize = RECV_BUF;

/// What the reader thread hands over.
enum Chunk {
    /// A datagram: the buffer and the number of bytes in it.
    Data(Vec<u8>, usize),
    /// ENOBUFS: replies were dropped (the buffer was already enlarged).
    Dropped,
    /// A receive error; the reader has stopped.
    Failed(std::io::Error),
}

/// The reader thread: receives datagrams until the one that ends the dump
/// `expect` (DONE or ERROR for its sequence and port, or a malformed
/// datagram, which also ends the consumer's loop), or until the consumer
/// hangs up. Returns the receive buffer size it ended with.
fn read_ahead(
    sock: &NlSocket,
    expect: (u32, u32),
    mut rcvbuf: i32,
    mut enobufs: u32,
    tx: &mpsc::SyncSender<Chunk>,
    back: &mpsc::Receiver<Vec<u8>>,
) -> i32 {
    // A buffer a failed receive did not hand over, reused next.
    let mut spare: Option<Vec<u8>> = None;
    loop {
        let mut buf = spare
            .take()
            .or_else(|| back.try_recv().ok())
            .unwrap_or_else(|| vec![0; READER_BUF]);
        let chunk = match recv_datagram(sock, &mut buf) {
            Ok(n) => {
                let last = ends_dump(buf.get(..n).unwrap_or_default(), expect);
                if tx.send(Chunk::Data(buf, n)).is_err() || last {
                    return rcvbuf;
                }
                continue;
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) && enobufs < MAX_ENOBUFS => {
                enobufs += 1;
                rcvbuf = rcvbuf.saturating_mul(2);
                sockopt::set_rcvbuf(sock.as_raw_fd(), rcvbuf as usize);
                after_enobufs(sock);
                spare = Some(buf);
                Chunk::Dropped
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let _ = tx.send(Chunk::Failed(stalled(e)));
                return rcvbuf;
            }
            Err(e) => {
                let _ = tx.send(Chunk::Failed(e));
                return rcvbuf;
            }
        };
        if tx.send(chunk).is_err() {
            return rcvbuf;
        }
    }
}

/// How long a dump may wait for its next reply after the kernel reported
/// ENOBUFS. If that ENOBUFS came from a failed allocation of the next reply
/// rather than a full queue, the kernel queues nothing more and only a
/// successful receive would resume the dump: without a timeout the
/// receive would block forever.
const STALL_SECS: i64 = 5;

/// After ENOBUFS: receives on this socket time out (see [`STALL_SECS`]).
fn after_enobufs(sock: &NlSocket) {
    sockopt::set_rcvtimeo(sock.as_raw_fd(), STALL_SECS);
}

/// The error for a dump that stalled after ENOBUFS.
fn stalled(e: std::io::Error) -> std::io::Error {
    std::io::Error::other(format!(
        "no reply for {STALL_SECS} s after the kernel dropped replies (ENOBUFS): {e}"
    ))
}

/// Whether `data` ends the dump `(seq, port)` for [`DumpState::feed`]: it
/// holds that dump's DONE or ERROR, or it cannot be walked.
fn ends_dump(data: &[u8], (seq, port): (u32, u32)) -> bool {
    for m in Messages::new(data) {
        let Ok((h, _, _)) = m else {
            return true;
        };
        if h.seq == seq && h.pid == port && (h.ty == NLMSG_DONE || h.ty == NLMSG_ERROR) {
            return true;
        }
    }
    false
}

/// Saves a datagram to the `-D` capture, if any, then feeds it to the dump
/// state; `Some` once the dump is over.
fn consume(
    capture: &mut Option<Box<dyn Write + Send>>,
    state: &mut DumpState,
    data: &[u8],
    on_msg: &mut OnMessage<'_>,
) -> Option<Result<(), Error>> {
    if let Some(w) = capture.as_mut()
        && let Err(e) = w.write_all(data)
    {
        return Some(Err(Error::io("writing the dump file", e)));
    }
    state.feed(data, on_msg)
}

/// Receives one datagram from the kernel into `buf` and returns its
/// length. A buffer smaller than [`RECV_BUF`] is grown first if the
/// datagram would not fit; a datagram larger than a full-size buffer
/// (never seen from a dump) is an error, not a silent cut.
fn recv_datagram(sock: &NlSocket, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    loop {
        // A dump datagram is at most 32 KiB, so a buffer twice that needs
        // no peek at the size first (one syscall per datagram instead of
        // two); a smaller buffer peeks and grows.
        if buf.len() < RECV_BUF {
            let mut none: &mut [u8] = &mut [];
            let size = match sock.recv_from(&mut none, libc::MSG_PEEK | libc::MSG_TRUNC) {
                Ok((n, _)) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if size > buf.len() {
                buf.resize(size.next_power_of_two(), 0);
            }
        }
        let mut dst: &mut [u8] = &mut buf[..];
        let (n, from) = match sock.recv_from(&mut dst, libc::MSG_TRUNC) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if from.port_number() != 0 {
            continue; // not from the kernel
        }
        if n > buf.len() {
            return Err(std::io::Error::other(format!(
                "datagram of {n} bytes truncated to {}",
                buf.len()
            )));
        }
        return Ok(n);
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
            return Err(Error::DumpInterrupted { attempts: 1 });
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
