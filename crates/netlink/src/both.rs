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
//! and IPv6 replies are held, delta-encoded ([`crate::held`], about an
//! eighth of their size), until the walk ends. The store has a budget
//! ([`HOLD_BUDGET`]): past it, the walk drops what it held and IPv6 is
//! dumped again in a walk of its own afterwards, as ss does, so memory
//! stays bounded however many IPv6 sockets there are. Callers also make
//! the two per-family dumps directly when many IPv6 sockets exist
//! ([`tcp6_in_use`]).

use crate::error::Error;
use crate::held::Held;
use crate::inet::{INET_DIAG_REQ_BYTECODE, InetRequest, decode_inet_into};
use crate::msg::{
    self, NLM_F_DUMP, NLM_F_REQUEST, NLMSG_HDRLEN, NlHeader, SOCK_DIAG_BY_FAMILY, TCPDIAG_GETSOCK,
};
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
    /// ignored; the states, extensions and bytecode apply. IPv6 replies
    /// past [`HOLD_BUDGET`] encoded bytes are not held: IPv6 is then dumped
    /// again after the walk.
    pub fn dump_tcp_both(
        &mut self,
        req: &InetRequest,
        on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        self.dump_tcp_both_within(req, HOLD_BUDGET, on_socket)
    }

    /// [`DiagSocket::dump_tcp_both`] with another budget for the held IPv6
    /// replies (0: never hold, always walk IPv6 again).
    pub fn dump_tcp_both_within(
        &mut self,
        req: &InetRequest,
        budget: usize,
        on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        let both = compat_request(req, 0)?;
        let v6 = InetRequest {
            family: Family::Inet6,
            ..req.clone()
        };
        let v6_bytes = v6.to_bytes(0)?;
        ipv4_first(
            &mut |walk, on| match walk {
                Walk::Both => self.dump_raw(&both, on),
                Walk::Ipv6 => self.dump_raw(&v6_bytes, on).map_err(|e| match e {
                    Error::Kernel { errno, .. } => Error::Kernel {
                        errno,
                        context: v6.describe(),
                    },
                    e => e,
                }),
            },
            budget,
            on_socket,
        )
    }
}

/// Encoded bytes of IPv6 replies one both-families walk may hold (see
/// [`crate::held`]): at about 50 bytes per `-tanoie` reply and 15 per
/// `-tan` one, some 20,000 and 70,000 IPv6 sockets. Past it IPv6 costs a
/// second kernel walk instead. 1 MiB keeps sockq's peak RSS at or below
/// ss's at 300,000 sockets either way (docs/benchmarks.md).
pub const HOLD_BUDGET: usize = 1 << 20;

/// The dumps [`ipv4_first`] asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Walk {
    /// The legacy request for both families (replies of type
    /// `TCPDIAG_GETSOCK`).
    Both,
    /// IPv6 alone (`SOCK_DIAG_BY_FAMILY`), after the first walk held more
    /// IPv6 replies than its budget.
    Ipv6,
}

/// Runs `dump(Walk::Both, …)` (the legacy request's replies, both
/// families) and passes on IPv4 sockets as they arrive and IPv6 sockets
/// after the dump ended, as two per-family dumps would give them. IPv6
/// replies are held within `budget` encoded bytes; past it they are
/// dropped and `dump(Walk::Ipv6, …)` supplies them after the first walk.
///
/// A dump still interrupted after its retries delivered what it read: its
/// IPv6 sockets are passed on too (and the IPv6 walk made, if needed)
/// before the error is returned.
pub fn ipv4_first(
    dump: &mut dyn FnMut(Walk, &mut crate::OnMessage<'_>) -> Result<(), Error>,
    budget: usize,
    on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
) -> Result<(), Error> {
    let mut held = Held::new(budget);
    let mut spilled = false;
    let mut stopped = false;
    // One record, decoded into again and again (decode_inet_into).
    let mut s = Socket::new(Table::Tcp, Family::Inet, sockq_model::State::Unknown);
    let walked = dump(Walk::Both, &mut |ty, payload| {
        if ty != TCPDIAG_GETSOCK {
            return Ok(ControlFlow::Continue(()));
        }
        if payload.first() == Some(&Family::Inet6.as_u8()) {
            if !spilled && !held.push(payload) {
                // Over budget: free what was held; the IPv6 walk brings
                // them all.
                spilled = true;
                held.clear();
            }
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
    if spilled {
        let walked = dump(Walk::Ipv6, &mut |ty, payload| {
            if ty != SOCK_DIAG_BY_FAMILY {
                return Ok(ControlFlow::Continue(()));
            }
            decode_inet_into(payload, Table::Tcp, &mut s)?;
            Ok(on_socket(&s))
        });
        return match (walked, interrupted) {
            (Ok(()), Some(e)) => Err(e),
            (r, _) => r,
        };
    }
    let mut replies = held.iter();
    while let Some(payload) = replies.next_reply() {
        decode_inet_into(payload?, Table::Tcp, &mut s)?;
        if on_socket(&s).is_break() {
            break;
        }
    }
    interrupted.map_or(Ok(()), Err)
}
