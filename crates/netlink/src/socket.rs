//! The NETLINK_SOCK_DIAG socket and the generic multi-part dump loop.

use crate::error::Error;
use crate::inet::{InetRequest, decode_inet_into};
use crate::msg::{
    self, Messages, NLM_F_DUMP_INTR, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_NOOP,
    NLMSG_OVERRUN, NlHeader,
};
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
