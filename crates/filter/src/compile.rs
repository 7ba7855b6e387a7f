//! [`Expr`] to [`Filter`]: lookups through [`Env`], then a tree that
//! evaluates without allocating.

use crate::Env;
use crate::ast::{Cmp, Expr, Field, Pred, Term};
use crate::bytecode;
use crate::glob::{Glob, Subject};
use crate::value;
use sockq_model::{Endpoint, Family, FamilySet, Owner, Socket, StateSet, UnixName};
use std::ops::Range;

/// A value that does not mean anything here.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct CompileError {
    /// Byte range in the source to underline.
    pub span: Range<usize>,
    /// What was wrong.
    pub kind: CompileErrorKind,
}

/// What was wrong with a value. Each variant names an input that triggers it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CompileErrorKind {
    /// `sport = :99999`.
    #[error("port {0} is out of range: ports are 0 to 65535")]
    PortRange(String),
    /// `sport = :80x`.
    #[error("\"{0}\" does not look like a port")]
    NotAPort(String),
    /// `dport = 10.0.0.1:22`.
    #[error("\"{0}\" does not look like a port; to match an address use `dst` or `src`")]
    AddressAsPort(String),
    /// `sport = ':80'` inside double quotes: the shell kept the single quotes.
    #[error(
        "the quotes in {value} are part of the value (inside other quotes the shell keeps them): write {inner}"
    )]
    Quoted {
        /// The value as given.
        value: String,
        /// The value without its quotes.
        inner: String,
    },
    /// `sport = :nosuchservice`.
    #[error("\"{0}\" does not look like a port: not a number, and no such service")]
    UnknownService(String),
    /// `sport = :svc` when tcp and udp disagree.
    #[error("{0}")]
    Service(String),
    /// `sport >= *`.
    #[error("`{0}` needs a port number, not any port")]
    RangeOfAny(&'static str),
    /// `src 300.1.1.1`.
    #[error("bad address: {0}")]
    BadAddress(String),
    /// `src [::]/0`.
    #[error("\"{0}\" after `]` is not a port; write a prefix inside the brackets, as in [::/0]")]
    AfterBracket(String),
    /// `src inet6:10.0.0.1`.
    #[error("\"{value}\" is not an address of family {family}")]
    WrongFamily {
        /// The address.
        value: String,
        /// The family asked for.
        family: &'static str,
    },
    /// `src no-such-host.invalid`.
    #[error("\"{0}\" is neither an address nor a host name that resolves")]
    UnknownHost(String),
    /// `uid = x`.
    #[error("\"{0}\" is not a number")]
    BadNumber(String),
    /// `fwmark = x`.
    #[error("cannot parse mark \"{0}\": expected MARK or MARK/MASK")]
    BadMark(String),
    /// `dev nosuchdev`.
    #[error("no interface named \"{0}\"")]
    UnknownInterface(String),
    /// `cgroup /no/such`.
    #[error("no cgroup \"{0}\" (is cgroup2 mounted?)")]
    UnknownCgroup(String),
    /// `state listen`.
    #[error("unknown state \"{0}\" (try listening, established, connected, …)")]
    UnknownState(String),
    /// `user nosuchuser`.
    #[error("no user named \"{0}\"")]
    UnknownUser(String),
    /// `src link:nosuch`.
    #[error("unknown {what} \"{name}\"")]
    UnknownName {
        /// Which table.
        what: &'static str,
        /// The name.
        name: String,
    },
}

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
}

/// A compiled filter.
#[derive(Clone, Debug)]
pub struct Filter {
    pub(crate) node: Node,
    pub(crate) text: String,
    pub(crate) note: Option<String>,
    pub(crate) families: Option<FamilySet>,
    pub(crate) owners: bool,
    pub(crate) kernel: bytecode::Kernel,
}

/// Compiles an expression, resolving names through `env`.
pub fn compile(expr: &Expr, env: &dyn Env) -> Result<Filter, CompileError> {
    let mut families: Option<FamilySet> = None;
    let mut owners = false;
    let node = term(&expr.term, env, &mut families, &mut owners)?;
    let kernel = bytecode::Kernel::new(&node);
    Ok(Filter {
        node,
        text: expr.term.to_string(),
        note: expr.grouping_note.clone(),
        families,
        owners,
        kernel,
    })
}

fn term(
    t: &Term,
    env: &dyn Env,
    fams: &mut Option<FamilySet>,
    owners: &mut bool,
) -> Result<Node, CompileError> {
    Ok(match t {
        Term::And(v) => Node::And(
            v.iter()
                .map(|t| term(t, env, fams, owners))
                .collect::<Result<_, _>>()?,
        ),
        Term::Or(v) => Node::Or(
            v.iter()
                .map(|t| term(t, env, fams, owners))
                .collect::<Result<_, _>>()?,
        ),
        Term::Not(t) => Node::Not(Box::new(term(t, env, fams, owners)?)),
        Term::Pred(p) => pred(p, env, fams, owners).map_err(|kind| CompileError {
            span: if p.value_span.is_empty() {
                p.span.clone()
            } else {
                p.value_span.clone()
            },
            kind,
        })?,
    })
}

fn pred(
    p: &Pred,
    env: &dyn Env,
    fams: &mut Option<FamilySet>,
    owners: &mut bool,
) -> Result<Node, CompileErrorKind> {
    let v = p.value.as_str();
    let num = |v: &str| value::number_u32(v);
    // `!=` is `not =` for every field, as ss desugars it.
    let (cmp, negate) = match p.cmp {
        Cmp::Ne => (Cmp::Eq, true),
        c => (c, false),
    };
    let node = match p.field {
        Field::Src | Field::Dst => {
            let side = if p.field == Field::Src {
                Side::Local
            } else {
                Side::Remote
            };
            let (conds, fam) = value::host(v, env).map_err(|e| value::quoted(v).unwrap_or(e))?;
            if let Some(f) = fam {
                *fams = Some(fams.unwrap_or_default().with(f));
            }
            Node::Host(side, conds)
        }
        Field::Sport | Field::Dport => {
            let side = if p.field == Field::Sport {
                Side::Local
            } else {
                Side::Remote
            };
            let port = value::port(v, env, 65535)?;
            match (cmp, port) {
                (Cmp::Eq, port) => Node::Host(side, vec![HostCond::any(None, port)]),
                (_, None) => return Err(CompileErrorKind::RangeOfAny(p.cmp.symbol())),
                (c, Some(n)) => {
                    let n = n as u16;
                    match c {
                        Cmp::Ge => Node::Port(side, Cmp::Ge, n),
                        Cmp::Le => Node::Port(side, Cmp::Le, n),
                        Cmp::Gt => Node::Not(Box::new(Node::Port(side, Cmp::Le, n))),
                        _ => Node::Not(Box::new(Node::Port(side, Cmp::Ge, n))),
                    }
                }
            }
        }
        Field::Dev => match env.interface_index(v) {
            Some(i) => Node::Dev(i),
            None => {
                Node::Dev(num(v).map_err(|_| CompileErrorKind::UnknownInterface(v.to_string()))?)
            }
        },
        Field::Fwmark => {
            let (m, k) = value::mark(v)?;
            Node::Mark(m, k)
        }
        Field::Cgroup => match env.cgroup_id(v) {
            Some(id) if id != 0 => Node::Cgroup(id),
            _ => return Err(CompileErrorKind::UnknownCgroup(v.to_string())),
        },
        Field::Autobound => {
            let (lo, hi) = env.ephemeral_ports();
            Node::Auto(lo, hi)
        }
        Field::State => Node::State(
            StateSet::parse_name(v).ok_or_else(|| CompileErrorKind::UnknownState(v.to_string()))?,
        ),
        Field::Uid => Node::Uid(cmp, num(v)?),
        Field::User => match value::number(v) {
            Some(n) => Node::Uid(
                cmp,
                u32::try_from(n).map_err(|_| CompileErrorKind::BadNumber(v.to_string()))?,
            ),
            None => Node::Uid(
                cmp,
                env.user_id(v)
                    .ok_or_else(|| CompileErrorKind::UnknownUser(v.to_string()))?,
            ),
        },
        Field::Inode => Node::Inode(cmp, num(v)?),
        Field::Rqueue => Node::Rqueue(cmp, num(v)?),
        Field::Squeue => Node::Squeue(cmp, num(v)?),
        Field::Pid => {
            *owners = true;
            Node::Pid(cmp, num(v)?)
        }
        Field::Comm => {
            *owners = true;
            Node::Comm(Glob::new(v, false))
        }
    };
    Ok(if negate {
        Node::Not(Box::new(node))
    } else {
        node
    })
}

// ---- evaluation ----

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
    pub(crate) fn eval(&self, s: &Socket, owners: &[Owner]) -> bool {
        match self {
            Node::And(v) => v.iter().all(|n| n.eval(s, owners)),
            Node::Or(v) => v.iter().any(|n| n.eval(s, owners)),
            Node::Not(n) => !n.eval(s, owners),
            Node::Host(side, conds) => conds.iter().any(|c| host_cond(s, *side, c)),
            Node::Port(side, cmp, p) => {
                side_port(s, *side).is_some_and(|x| cmp.test(x, i64::from(*p)))
            }
            Node::Dev(i) => s.ifindex == *i,
            Node::Mark(v, m) => s.mark.unwrap_or(0) & m == *v,
            Node::Cgroup(id) => s.cgroup_id.unwrap_or(0) == *id,
            Node::Auto(lo, hi) => autobound(s, *lo, *hi),
            Node::State(set) => set.contains(s.state),
            Node::Uid(c, u) => s.uid.is_some_and(|x| c.test(x, *u)),
            Node::Inode(c, n) => c.test(s.inode, *n),
            Node::Rqueue(c, n) => c.test(s.recv_q, *n),
            Node::Squeue(c, n) => c.test(s.send_q, *n),
            Node::Pid(c, n) => owners.iter().any(|o| c.test(o.pid, *n)),
            Node::Comm(g) => owners.iter().any(|o| g.matches(o.comm.as_bytes())),
        }
    }
}

impl Filter {
    /// Whether the socket matches, with `owners` the processes holding it
    /// (needed only when [`Filter::needs_owners`]). Works for every family.
    #[inline]
    pub fn matches(&self, s: &Socket, owners: &[Owner]) -> bool {
        self.node.eval(s, owners)
    }

    /// The inet_diag bytecode to send: it accepts a superset of what
    /// [`Filter::matches`] accepts. `None` when it would accept everything.
    pub fn bytecode(&self) -> Option<Vec<u8>> {
        self.kernel.code.clone()
    }

    /// Whether the bytecode decides exactly what [`Filter::matches`] decides
    /// for inet sockets (nothing had to be left to user space).
    pub fn kernel_exact(&self) -> bool {
        self.kernel.exact
    }

    /// Whether `pid` or `comm` appear, so the caller must build the process map.
    pub fn needs_owners(&self) -> bool {
        self.owners
    }

    /// The families named by explicit prefixes (`src inet:…`, `src unix:…`):
    /// like ss, they limit the listing to those families. sockq takes the
    /// union of every prefix in the expression (ss keeps only the last).
    pub fn family_restriction(&self) -> Option<FamilySet> {
        self.families
    }

    /// The expression fully parenthesised, then the bytecode disassembled.
    pub fn explain(&self) -> String {
        let mut out = format!("expression: {}\n", self.text);
        out.push_str(&self.kernel.explain());
        out
    }

    /// Set when `and` and `or` were mixed without parentheses.
    pub fn grouping_note(&self) -> Option<String> {
        self.note.clone()
    }

    /// The compiled tree.
    pub fn node(&self) -> &Node {
        &self.node
    }
}
