//! The compiled tree and its evaluation in user space. The value parser
//! builds its leaves, the compiler its shape, and the bytecode emitter reads
//! it: all three call down into this module, never the other way.

use crate::ast::Cmp;
use crate::glob::{Glob, Subject};
use sockq_model::{Endpoint, Family, Owner, Socket, StateSet, UnixName};

/// Which end of the socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// Local (`src`, `sport`).
    Local,
    /// Remote (`dst`, `dport`).
    Remote,
}

/// One alternative of a `src`/`dst` value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostCond {
    /// An inet prefix and/or port. `family: None` is AF_UNSPEC (a bare port
    /// or a wildcard); `plen` 0 matches any address of the family.
    Inet {
        /// Family of the address, if any.
        family: Option<Family>,
        /// Prefix length in bits.
        plen: u8,
        /// Address bytes (IPv4 in the first 4).
        addr: [u8; 16],
        /// Port, `None` for any. Above 65535 only for ss's `src :INODE`.
        port: Option<u32>,
    },
    /// A unix name glob.
    Unix(Glob),
    /// `link:PROTO[:IFACE]`.
    Packet {
        /// Ethertype.
        proto: Option<u16>,
        /// Interface index.
        ifindex: Option<u32>,
    },
    /// `netlink:PROTO[:PORTID]`.
    Netlink {
        /// Protocol.
        proto: Option<u8>,
        /// Port id (0 is the kernel).
        portid: Option<i64>,
    },
    /// `vsock:CID[:PORT]`.
    Vsock {
        /// Context id.
        cid: Option<u32>,
        /// Port.
        port: Option<u32>,
    },
}

impl HostCond {
    /// Any address (of `family`, when given), with an optional port.
    pub fn any(family: Option<Family>, port: Option<u32>) -> HostCond {
        HostCond::Inet {
            family: match family {
                Some(f @ (Family::Inet | Family::Inet6)) => Some(f),
                _ => None,
            },
            plen: 0,
            addr: [0; 16],
            port,
        }
    }

    /// The same condition with a port.
    pub fn with_port(self, p: Option<u32>) -> HostCond {
        match self {
            HostCond::Inet {
                family, plen, addr, ..
            } => HostCond::Inet {
                family,
                plen,
                addr,
                port: p,
            },
            o => o,
        }
    }
}

/// The compiled tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    /// All must hold.
    And(Vec<Node>),
    /// One must hold.
    Or(Vec<Node>),
    /// Negation.
    Not(Box<Node>),
    /// `src`/`dst`/`sport =`/`dport =`: any of the conditions.
    Host(Side, Vec<HostCond>),
    /// `sport >= N` (`Ge`) or `sport <= N` (`Le`).
    Port(Side, Cmp, u16),
    /// `dev`.
    Dev(u32),
    /// `fwmark`: `(mark & mask) == value`.
    Mark(u32, u32),
    /// `cgroup`.
    Cgroup(u64),
    /// `autobound`, with the ephemeral port range.
    Auto(u16, u16),
    /// `state`.
    State(StateSet),
    /// `uid` and `user`.
    Uid(Cmp, u32),
    /// `inode`.
    Inode(Cmp, u32),
    /// `rqueue`.
    Rqueue(Cmp, u32),
    /// `squeue`.
    Squeue(Cmp, u32),
    /// `pid`: any owner.
    Pid(Cmp, u32),
    /// `comm`: any owner's name.
    Comm(Glob),
    /// `unit`, `container`, `exe`: a fact about any owner, asked of the
    /// caller's [`ProcessFacts`].
    Proc(ProcField, Glob),
}

/// The owner facts the filter asks the caller for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ProcField {
    /// The systemd unit.
    Unit,
    /// The container (name, id, short id or `runtime:name`).
    Container,
    /// The binary's path.
    Exe,
}

/// Answers `unit`, `container` and `exe` about an owning process. The
/// filter does no I/O: the CLI reads `/proc` (and caches per pid).
pub trait ProcessFacts {
    /// Whether the process `pid` has a `field` value that `glob` matches.
    fn matches(&self, pid: u32, field: ProcField, glob: &Glob) -> bool;
}

/// No facts: `unit`, `container` and `exe` match nothing.
pub struct NoFacts;

impl ProcessFacts for NoFacts {
    fn matches(&self, _: u32, _: ProcField, _: &Glob) -> bool {
        false
    }
}

fn endpoint(s: &Socket, side: Side) -> &Endpoint {
    match side {
        Side::Local => &s.local,
        Side::Remote => &s.peer,
    }
}

/// ss's "port" of an end for every family: the inet port, a unix inode,
/// a packet socket's ifindex, a netlink port id, a vsock port.
fn side_port(s: &Socket, side: Side) -> Option<i64> {
    match endpoint(s, side) {
        Endpoint::Inet { port, .. } => Some(i64::from(*port)),
        Endpoint::Unix { inode, .. } => Some(i64::from(*inode)),
        Endpoint::Packet { ifindex, .. } => Some(i64::from(*ifindex)),
        Endpoint::Netlink { portid, .. } => Some(*portid),
        Endpoint::Vsock { port, .. } => Some(i64::from(*port)),
        _ => None,
    }
}

/// Whether the first `bits` bits of `a` and `b` agree.
#[inline]
pub(crate) fn prefix_match(a: &[u8], b: &[u8], bits: u8) -> bool {
    let full = usize::from(bits / 8);
    let rest = bits % 8;
    if a.get(..full) != b.get(..full) || a.len() < full || b.len() < full {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    match (a.get(full), b.get(full)) {
        (Some(x), Some(y)) => x & mask == y & mask,
        _ => false,
    }
}

fn inet_cond(
    s: &Socket,
    side: Side,
    family: Option<Family>,
    plen: u8,
    addr: &[u8; 16],
    port: Option<u32>,
) -> bool {
    if let Some(p) = port
        && side_port(s, side) != Some(i64::from(p))
    {
        return false;
    }
    let Some(cf) = family else {
        // AF_UNSPEC: a bare port or a wildcard (plen is 0 then).
        return true;
    };
    let (sa, is_inet) = match endpoint(s, side) {
        Endpoint::Inet { addr, .. } => (Some(*addr), true),
        _ => (None, false),
    };
    if !is_inet || !matches!(s.family, Family::Inet | Family::Inet6) {
        return false;
    }
    let mut bytes = [0u8; 16];
    let sa_bytes: &[u8] = match sa {
        Some(std::net::IpAddr::V4(a)) => {
            bytes[..4].copy_from_slice(&a.octets());
            &bytes[..4]
        }
        Some(std::net::IpAddr::V6(a)) => {
            bytes = a.octets();
            &bytes[..]
        }
        None => &bytes[..],
    };
    if cf != s.family {
        // The kernel's one exception: an IPv4 rule on a v4-mapped IPv6 socket.
        if cf == Family::Inet && s.family == Family::Inet6 && sa_bytes.len() == 16 {
            let mapped =
                sa_bytes.get(..12) == Some(&[0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff][..]);
            return mapped && prefix_match(sa_bytes.get(12..).unwrap_or(&[]), &addr[..4], plen);
        }
        return false;
    }
    plen == 0 || prefix_match(sa_bytes, addr, plen)
}

fn host_cond(s: &Socket, side: Side, c: &HostCond) -> bool {
    match c {
        HostCond::Inet {
            family,
            plen,
            addr,
            port,
        } => inet_cond(s, side, *family, *plen, addr, *port),
        HostCond::Unix(g) => match endpoint(s, side) {
            Endpoint::Unix { name, .. } => match name {
                Some(UnixName::Path(p)) => g.matches_subject(Subject::Plain(p)),
                Some(UnixName::Abstract(a)) => g.matches_subject(Subject::Abstract(a)),
                None => g.matches(b""),
            },
            _ => false,
        },
        HostCond::Packet { proto, ifindex } => match endpoint(s, side) {
            Endpoint::Packet {
                protocol,
                ifindex: i,
            } => proto.is_none_or(|p| p == *protocol) && ifindex.is_none_or(|x| x == *i),
            _ => false,
        },
        HostCond::Netlink { proto, portid } => {
            let local_proto = match &s.local {
                Endpoint::Netlink { protocol, .. } => Some(*protocol),
                _ => None,
            };
            let pid = match endpoint(s, side) {
                Endpoint::Netlink { portid, .. } => Some(*portid),
                Endpoint::NetlinkPeer { portid, .. } => Some(i64::from(*portid)),
                _ => None,
            };
            match (local_proto, pid) {
                (Some(lp), Some(p)) => {
                    proto.is_none_or(|x| x == lp) && portid.is_none_or(|x| x == p)
                }
                _ => false,
            }
        }
        HostCond::Vsock { cid, port } => match endpoint(s, side) {
            Endpoint::Vsock { cid: c, port: p } => {
                cid.is_none_or(|x| x == *c) && port.is_none_or(|x| x == *p)
            }
            _ => false,
        },
    }
}

/// `autobound` in user space: ss's per-family rules, with the inet rule
/// (local port in the ephemeral range) for every inet socket.
fn autobound(s: &Socket, lo: u16, hi: u16) -> bool {
    match &s.local {
        Endpoint::Inet { port, .. } => (lo..=hi).contains(port),
        Endpoint::Unix { name, .. } => match name {
            None => true,
            Some(UnixName::Abstract(a)) => {
                a.len() == 5
                    && a.iter()
                        .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(c))
            }
            Some(UnixName::Path(_)) => false,
        },
        Endpoint::Packet { protocol, ifindex } => *protocol == 0 && *ifindex == 0,
        Endpoint::Netlink { portid, .. } => *portid < 0,
        Endpoint::Vsock { port, .. } => *port > 1023,
        _ => false,
    }
}

impl Node {
    /// Whether `unit`, `container` or `exe` appear in the tree.
    pub(crate) fn uses_proc(&self) -> bool {
        match self {
            Node::And(v) | Node::Or(v) => v.iter().any(Node::uses_proc),
            Node::Not(n) => n.uses_proc(),
            Node::Proc(..) => true,
            _ => false,
        }
    }

    pub(crate) fn eval(&self, s: &Socket, owners: &[Owner], facts: &dyn ProcessFacts) -> bool {
        match self {
            Node::And(v) => v.iter().all(|n| n.eval(s, owners, facts)),
            Node::Or(v) => v.iter().any(|n| n.eval(s, owners, facts)),
            Node::Not(n) => !n.eval(s, owners, facts),
            Node::Host(side, conds) => conds.iter().any(|c| host_cond(s, *side, c)),
            Node::Port(side, cmp, p) => {
                side_port(s, *side).is_some_and(|x| cmp.test(x, i64::from(*p)))
            }
            Node::Dev(i) => s.ifindex == *i,
            Node::Mark(v, m) => s.mark.unwrap_or(0) & m == *v,
            Node::Cgroup(id) => s.cgroup_id.unwrap_or(0) == *id,
            Node::Auto(lo, hi) => autobound(s, *lo, *hi),
            Node::State(set) => s.in_states(*set),
            Node::Uid(c, u) => s.uid.is_some_and(|x| c.test(x, *u)),
            Node::Inode(c, n) => c.test(s.inode, *n),
            Node::Rqueue(c, n) => c.test(s.recv_q, *n),
            Node::Squeue(c, n) => c.test(s.send_q, *n),
            Node::Pid(c, n) => owners.iter().any(|o| c.test(o.pid, *n)),
            Node::Comm(g) => owners.iter().any(|o| g.matches(o.comm.as_bytes())),
            Node::Proc(f, g) => owners.iter().any(|o| facts.matches(o.pid, *f, g)),
        }
    }
}
