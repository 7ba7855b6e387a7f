//! The socket record and its endpoints.

use crate::detail::Detail;
use crate::info::{BbrInfo, DctcpInfo, MptcpInfo, SkMem, TcpInfo, VegasInfo};
use crate::state::{State, StateSet};
use crate::table::{Family, Table};
use std::net::IpAddr;

/// What the kernel's `idiag_timer` says is pending on a socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TimerKind {
    /// 1: retransmit, reordering or loss-probe timer (`on`).
    On,
    /// 2: `keepalive`.
    Keepalive,
    /// 3: `timewait`.
    TimeWait,
    /// 4: zero-window probe (`persist`).
    Persist,
    /// 5: delayed ACK (`delack`).
    Delack,
    /// Any other non-zero code (`unknown`).
    Other(u8),
}

impl TimerKind {
    /// Decodes `idiag_timer`; 0 means no timer.
    pub fn from_u8(v: u8) -> Option<TimerKind> {
        Some(match v {
            0 => return None,
            1 => TimerKind::On,
            2 => TimerKind::Keepalive,
            3 => TimerKind::TimeWait,
            4 => TimerKind::Persist,
            5 => TimerKind::Delack,
            o => TimerKind::Other(o),
        })
    }

    /// The name printed in `timer:(NAME,…)`.
    pub fn name(self) -> &'static str {
        match self {
            TimerKind::On => "on",
            TimerKind::Keepalive => "keepalive",
            TimerKind::TimeWait => "timewait",
            TimerKind::Persist => "persist",
            TimerKind::Delack => "delack",
            TimerKind::Other(_) => "unknown",
        }
    }
}

/// A pending timer, as `-o` shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Timer {
    /// Which timer.
    pub kind: TimerKind,
    /// Milliseconds until it fires (0 once expired).
    pub expires_ms: u32,
    /// Retransmits for `on`, probes sent for `keepalive` and `persist`.
    pub retrans: u8,
}

/// How a socket was shut down (INET_DIAG_SHUTDOWN / UNIX_DIAG_SHUTDOWN).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Shutdown(pub u8);

impl Shutdown {
    /// ss's arrow: `<->` open, `-->` receive shut, `<--` send shut, `---` both.
    pub fn arrow(self) -> &'static str {
        match self.0 & 3 {
            0 => "<->",
            1 => "-->",
            2 => "<--",
            _ => "---",
        }
    }
}

/// A unix socket name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum UnixName {
    /// A filesystem path (raw bytes, unescaped).
    Path(Vec<u8>),
    /// An abstract name without the leading NUL (may contain NULs).
    Abstract(Vec<u8>),
}

impl UnixName {
    /// The name as ss shows and globs it: the path, or `@` plus the abstract
    /// name with every NUL turned into `@`. Bytes are not sanitised here.
    pub fn display_bytes(&self) -> Vec<u8> {
        match self {
            UnixName::Path(p) => p.clone(),
            UnixName::Abstract(a) => {
                let mut v = Vec::with_capacity(a.len() + 1);
                v.push(b'@');
                v.extend(a.iter().map(|&b| if b == 0 { b'@' } else { b }));
                v
            }
        }
    }
}

/// One end of a socket.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
pub enum Endpoint {
    /// Nothing to show (`*`).
    #[default]
    None,
    /// An IPv4 or IPv6 address and port. The IPv6 wildcard's v6only flag is
    /// on the [`Socket`].
    Inet {
        /// Address.
        addr: IpAddr,
        /// Port in host order.
        port: u16,
    },
    /// A unix socket: its name (if known) and inode. For the peer, the inode
    /// is the peer's inode and the name is filled from the same dump.
    Unix {
        /// Name, `None` when unnamed or unknown.
        name: Option<UnixName>,
        /// The socket's inode (peer inode for the peer end; 0 when none).
        inode: u32,
    },
    /// A packet socket: ethertype (host order) and interface index (0 = any).
    Packet {
        /// Ethertype; 3 is ETH_P_ALL.
        protocol: u16,
        /// Interface index, 0 when unbound.
        ifindex: u32,
    },
    /// The local end of a netlink socket.
    Netlink {
        /// Netlink protocol (NETLINK_ROUTE = 0, …).
        protocol: u8,
        /// Port id: 0 is the kernel, negative values are unbound.
        portid: i64,
    },
    /// The peer of a connected netlink socket.
    NetlinkPeer {
        /// Destination group.
        group: u32,
        /// Destination port id.
        portid: u32,
    },
    /// A vsock endpoint (`*` stands for 0xffffffff).
    Vsock {
        /// Context id.
        cid: u32,
        /// Port.
        port: u32,
    },
    /// A TIPC endpoint.
    Tipc {
        /// Node address.
        node: u32,
        /// Reference or socket number.
        reference: u32,
    },
    /// An XDP socket: interface and queue.
    Xdp {
        /// Interface index.
        ifindex: u32,
        /// Queue id.
        queue: u32,
    },
}

impl Endpoint {
    /// The inet address and port, if this is an inet endpoint.
    pub fn inet(&self) -> Option<(IpAddr, u16)> {
        match self {
            Endpoint::Inet { addr, port } => Some((*addr, *port)),
            _ => None,
        }
    }

    /// The unix name as shown (see [`UnixName::display_bytes`]), if any.
    pub fn unix_name(&self) -> Option<&UnixName> {
        match self {
            Endpoint::Unix { name, .. } => name.as_ref(),
            _ => None,
        }
    }
}

/// One socket, decoded from the kernel (or /proc, or a replayed dump).
///
/// Every optional field is `None` when the kernel did not send it, usually
/// because the output did not ask for it.
#[derive(Clone, Debug, PartialEq)]
pub struct Socket {
    /// The table (Netid column).
    pub table: Table,
    /// The address family.
    pub family: Family,
    /// The state.
    pub state: State,
    /// Recv-Q: unread bytes, or the accept-queue length for listeners.
    pub recv_q: u32,
    /// Send-Q: unacknowledged bytes, or the backlog for listeners.
    pub send_q: u32,
    /// Local end.
    pub local: Endpoint,
    /// Remote end.
    pub peer: Endpoint,
    /// Socket inode (0 for TIME-WAIT and request sockets).
    pub inode: u32,
    /// The kernel's socket cookie (`sk:` in `-e`).
    pub cookie: u64,
    /// Owner uid, when the kernel reports it.
    pub uid: Option<u32>,
    /// Bound or scope interface index (`idiag_if`), 0 when none.
    pub ifindex: u32,
    /// The pending timer, if any.
    pub timer: Option<Timer>,
    /// Shutdown state.
    pub shutdown: Option<Shutdown>,
    /// IPV6_V6ONLY, for IPv6 sockets.
    pub v6only: Option<bool>,
    /// SO_MARK (sent only to CAP_NET_ADMIN).
    pub mark: Option<u32>,
    /// cgroup v2 id.
    pub cgroup_id: Option<u64>,
    /// INET_DIAG_SOCKOPT bits, for `--inet-sockopt`.
    pub sockopt: Option<u16>,
    /// IP TOS (`--tos`).
    pub tos: Option<u8>,
    /// IPv6 traffic class (`--tos`).
    pub tclass: Option<u8>,
    /// Class id (`--tos`).
    pub class_id: Option<u32>,
    /// `-m` socket memory.
    pub skmem: Option<SkMem>,
    /// Congestion control name (`-i`).
    pub cong: Option<String>,
    /// tcp_info (`-i`).
    pub tcp_info: Option<Box<TcpInfo>>,
    /// MPTCP connection info (`-i` on mptcp).
    pub mptcp_info: Option<Box<MptcpInfo>>,
    /// Vegas info (`-i`).
    pub vegas: Option<VegasInfo>,
    /// DCTCP info (`-i`).
    pub dctcp: Option<DctcpInfo>,
    /// BBR info (`-i`).
    pub bbr: Option<BbrInfo>,
    /// For raw sockets: the real protocol (INET_DIAG_PROTOCOL).
    pub raw_protocol: Option<u8>,
    /// Family-specific details (unix, packet, netlink, …).
    pub detail: Detail,
}

impl Socket {
    /// Whether the state set selects this socket.
    ///
    /// Linux (6.8+) reports a TCP socket that is bound but neither listening
    /// nor connecting with state CLOSE, and only when the request asks for
    /// bound-inactive (bit 13): a TCP socket in CLOSE is therefore selected
    /// by a set holding bound-inactive, as the kernel selected it.
    pub fn in_states(&self, set: StateSet) -> bool {
        set.contains(self.state)
            || (self.table == Table::Tcp
                && self.state == State::Close
                && set.contains(State::BoundInactive))
    }

    /// A record with every optional field empty.
    pub fn new(table: Table, family: Family, state: State) -> Socket {
        Socket {
            table,
            family,
            state,
            recv_q: 0,
            send_q: 0,
            local: Endpoint::None,
            peer: Endpoint::None,
            inode: 0,
            cookie: 0,
            uid: None,
            ifindex: 0,
            timer: None,
            shutdown: None,
            v6only: None,
            mark: None,
            cgroup_id: None,
            sockopt: None,
            tos: None,
            tclass: None,
            class_id: None,
            skmem: None,
            cong: None,
            tcp_info: None,
            mptcp_info: None,
            vegas: None,
            dctcp: None,
            bbr: None,
            raw_protocol: None,
            detail: Detail::None,
        }
    }
}
