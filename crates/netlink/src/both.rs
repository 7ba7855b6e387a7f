//! TCP in both families with one walk of the kernel's socket tables.
//!
//! A `SOCK_DIAG_BY_FAMILY` request names one family, and the kernel walks
//! every TCP hash bucket for it, skipping the other family's sockets: `ss
//! -tan` makes the kernel walk all sockets twice. The legacy
//! `TCPDIAG_GETSOCK` request is dumped with `AF_UNSPEC` (the kernel's
//! `inet_diag_dump_compat`), so one walk returns both families. That halves
//! the kernel's share of `-tan`, which is most of its cost.
//!
//! ss prints IPv4 before IPv6, so IPv4 sockets are passed on as they arrive
//! and IPv6 replies are kept (as raw messages) until the walk ends. Callers
//! use this only when few IPv6 sockets exist ([`tcp6_in_use`]), so the
//! stash stays small; otherwise they make the two per-family dumps.

use crate::error::Error;
use crate::inet::{INET_DIAG_REQ_BYTECODE, InetRequest, decode_inet_into};
use crate::msg::{self, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_HDRLEN, NlHeader, TCPDIAG_GETSOCK};
use crate::socket::DiagSocket;
use sockq_model::{Family, Socket, Table};
use std::ops::ControlFlow;
use std::path::Path;

/// `struct inet_diag_req` (the legacy request): family, src_len, dst_len,
/// ext, a 48-byte `inet_diag_sockid`, states, dbs.
const INET_DIAG_REQ_LEN: usize = 60;

/// The legacy TCP dump request for both families.
pub fn compat_request(req: &InetRequest, seq: u32) -> Result<Vec<u8>, Error> {
    let mut out = vec![0u8; NLMSG_HDRLEN + INET_DIAG_REQ_LEN];
    if let Some(b) = out.get_mut(NLMSG_HDRLEN..) {
        // The family byte is ignored: the kernel forces AF_UNSPEC.
        b[3] = req.extensions;
        b[52..56].copy_from_slice(&req.states.0.to_ne_bytes());
    }
    if let Some(code) = &req.bytecode {
        msg::push_attr(&mut out, INET_DIAG_REQ_BYTECODE, code)?;
    }
    let len = u32::try_from(out.len()).map_err(|_| Error::Invalid("request too large".into()))?;
    NlHeader {
        len,
        ty: TCPDIAG_GETSOCK,
        flags: NLM_F_REQUEST | NLM_F_DUMP,
        seq,
        pid: 0,
    }
    .write(&mut out);
    Ok(out)
}

/// TCP sockets in use in IPv6, from this thread's `net/sockstat6`
/// (`TCP6: inuse N`); `None` when unreadable.
pub fn tcp6_in_use(proc_root: &Path) -> Option<u64> {
    let text = std::fs::read_to_string(proc_root.join("thread-self/net/sockstat6"))
        .or_else(|_| std::fs::read_to_string(proc_root.join("net/sockstat6")))
        .ok()?;
    text.lines().find_map(|l| {
        let rest = l.strip_prefix("TCP6:")?;
        let mut w = rest.split_whitespace();
        while let Some(k) = w.next() {
            if k == "inuse" {
                return w.next()?.parse().ok();
            }
        }
        None
    })
}

impl DiagSocket {
    /// Dumps TCP in both families with one kernel walk: IPv4 sockets first,
    /// then IPv6, as two per-family dumps would give them. `req.family` is
    /// ignored; the states, extensions and bytecode apply.
    pub fn dump_tcp_both(
        &mut self,
        req: &InetRequest,
        on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        let bytes = compat_request(req, 0)?;
        ipv4_first(&mut |on| self.dump_raw(&bytes, on), on_socket)
    }
}

/// Runs `dump` (the legacy request's replies, both families) and passes on
/// IPv4 sockets as they arrive and IPv6 sockets after the dump ended, as
/// two per-family dumps would give them. A dump still interrupted after
/// its retries delivered what it read: its IPv6 sockets are passed on too
/// before the error is returned.
pub fn ipv4_first(
    dump: &mut dyn FnMut(&mut crate::OnMessage<'_>) -> Result<(), Error>,
    on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
) -> Result<(), Error> {
    // Length-prefixed IPv6 messages, decoded after the walk.
    let mut stash: Vec<u8> = Vec::new();
    let mut stopped = false;
    // One record, decoded into again and again (decode_inet_into).
    let mut s = Socket::new(Table::Tcp, Family::Inet, sockq_model::State::Unknown);
    let walked = dump(&mut |ty, payload| {
        if ty != TCPDIAG_GETSOCK {
            return Ok(ControlFlow::Continue(()));
        }
        if payload.first() == Some(&Family::Inet6.as_u8()) {
            stash.extend_from_slice(&(payload.len() as u32).to_ne_bytes());
            stash.extend_from_slice(payload);
            return Ok(ControlFlow::Continue(()));
        }
        decode_inet_into(payload, Table::Tcp, &mut s)?;
        let flow = on_socket(&s);
        stopped = flow.is_break();
        Ok(flow)
    })
    .map_err(|e| match e {
        Error::Kernel { errno, .. } => Error::Kernel {
            errno,
            context: "tcp (inet, inet6) sock_diag dump".into(),
        },
        e => e,
    });
    let interrupted = match walked {
        Ok(()) => None,
        Err(e @ Error::DumpInterrupted { .. }) => Some(e),
        Err(e) => return Err(e),
    };
    if stopped {
        return Ok(());
    }
    let mut rest = stash.as_slice();
    while let Some((len, tail)) = rest.split_first_chunk::<4>() {
        let n = u32::from_ne_bytes(*len) as usize;
        let Some((payload, next)) = tail.split_at_checked(n) else {
            break;
        };
        decode_inet_into(payload, Table::Tcp, &mut s)?;
        if on_socket(&s).is_break() {
            break;
        }
        rest = next;
    }
    interrupted.map_or(Ok(()), Err)
}
