//! Socket tables ("netids") and address families, with ss's selection rules.

use crate::state::StateSet;
use std::fmt;

/// An address family sockq can list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// AF_UNIX (1).
    Unix,
    /// AF_INET (2).
    Inet,
    /// AF_INET6 (10).
    Inet6,
    /// AF_NETLINK (16).
    Netlink,
    /// AF_PACKET (17).
    Packet,
    /// AF_TIPC (30).
    Tipc,
    /// AF_VSOCK (40).
    Vsock,
    /// AF_XDP (44).
    Xdp,
    /// Any other family number.
    Other(u8),
}

impl Family {
    /// Every named family.
    pub const ALL: [Family; 8] = [
        Family::Unix,
        Family::Inet,
        Family::Inet6,
        Family::Netlink,
        Family::Packet,
        Family::Tipc,
        Family::Vsock,
        Family::Xdp,
    ];

    /// The AF_* number.
    pub fn as_u8(self) -> u8 {
        match self {
            Family::Unix => 1,
            Family::Inet => 2,
            Family::Inet6 => 10,
            Family::Netlink => 16,
            Family::Packet => 17,
            Family::Tipc => 30,
            Family::Vsock => 40,
            Family::Xdp => 44,
            Family::Other(v) => v,
        }
    }

    /// Decodes an AF_* number.
    pub fn from_u8(v: u8) -> Family {
        Family::ALL
            .into_iter()
            .find(|f| f.as_u8() == v)
            .unwrap_or(Family::Other(v))
    }

    /// Parses a `-f` name: `inet`, `inet6`, `link` (or `packet`), `unix`,
    /// `netlink`, `vsock`, `tipc` or `xdp`.
    pub fn parse_name(s: &str) -> Option<Family> {
        Some(match s {
            "inet" => Family::Inet,
            "inet6" => Family::Inet6,
            "link" | "packet" => Family::Packet,
            "unix" | "local" => Family::Unix,
            "netlink" => Family::Netlink,
            "vsock" => Family::Vsock,
            "tipc" => Family::Tipc,
            "xdp" => Family::Xdp,
            _ => return None,
        })
    }

    /// The `-f` name.
    pub fn name(self) -> &'static str {
        match self {
            Family::Unix => "unix",
            Family::Inet => "inet",
            Family::Inet6 => "inet6",
            Family::Netlink => "netlink",
            Family::Packet => "link",
            Family::Tipc => "tipc",
            Family::Vsock => "vsock",
            Family::Xdp => "xdp",
            Family::Other(_) => "unknown",
        }
    }

    /// The tables that belong to this family (ss's `default_afs[]`).
    pub fn tables(self) -> TableSet {
        use Table::*;
        match self {
            Family::Inet | Family::Inet6 => TableSet::INET,
            Family::Unix => TableSet::of(&[UnixStream, UnixDgram, UnixSeqpacket]),
            Family::Packet => TableSet::of(&[PacketRaw, PacketDgram]),
            Family::Netlink => TableSet::of(&[Netlink]),
            Family::Vsock => TableSet::of(&[VsockStream, VsockDgram]),
            Family::Tipc => TableSet::of(&[Tipc]),
            Family::Xdp => TableSet::of(&[Xdp]),
            Family::Other(_) => TableSet::EMPTY,
        }
    }

    /// The states a family option adds to the mask.
    pub fn default_states(self) -> StateSet {
        match self {
            Family::Packet | Family::Netlink | Family::Xdp => StateSet::of(crate::State::Close),
            Family::Tipc => Table::Tipc.default_states(),
            _ => StateSet::CONN,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of families.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct FamilySet(pub u64);

impl FamilySet {
    /// No family.
    pub const EMPTY: FamilySet = FamilySet(0);

    /// The set holding the given families.
    pub fn of(fams: &[Family]) -> FamilySet {
        fams.iter().fold(FamilySet::EMPTY, |s, f| s.with(*f))
    }

    /// Adds a family.
    pub fn with(self, f: Family) -> FamilySet {
        let b = f.as_u8();
        if b < 64 {
            FamilySet(self.0 | (1 << b))
        } else {
            self
        }
    }

    /// Removes a family.
    pub fn without(self, f: Family) -> FamilySet {
        let b = f.as_u8();
        if b < 64 {
            FamilySet(self.0 & !(1 << b))
        } else {
            self
        }
    }

    /// Whether the family is in the set.
    pub fn contains(self, f: Family) -> bool {
        let b = f.as_u8();
        b < 64 && self.0 & (1 << b) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The named families in the set.
    pub fn iter(self) -> impl Iterator<Item = Family> {
        Family::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

/// A socket table: what ss calls a "db" and prints in the Netid column.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// `tcp`.
    Tcp,
    /// `mptcp`.
    Mptcp,
    /// `dccp`.
    Dccp,
    /// `udp`.
    Udp,
    /// `udplite` (sockq only; ss has no UDP-Lite table).
    UdpLite,
    /// `raw`.
    Raw,
    /// `u_dgr`.
    UnixDgram,
    /// `u_str`.
    UnixStream,
    /// `u_seq`.
    UnixSeqpacket,
    /// `p_dgr`.
    PacketDgram,
    /// `p_raw`.
    PacketRaw,
    /// `nl`.
    Netlink,
    /// `sctp`.
    Sctp,
    /// `v_str`.
    VsockStream,
    /// `v_dgr`.
    VsockDgram,
    /// `tipc`.
    Tipc,
    /// `xdp`.
    Xdp,
}

impl Table {
    /// Every table, in bit order.
    pub const ALL: [Table; 17] = [
        Table::Tcp,
        Table::Mptcp,
        Table::Dccp,
        Table::Udp,
        Table::UdpLite,
        Table::Raw,
        Table::UnixDgram,
        Table::UnixStream,
        Table::UnixSeqpacket,
        Table::PacketDgram,
        Table::PacketRaw,
        Table::Netlink,
        Table::Sctp,
        Table::VsockStream,
        Table::VsockDgram,
        Table::Tipc,
        Table::Xdp,
    ];

    /// ss's output order: netlink, packet, unix, raw, udp, tcp, dccp, sctp,
    /// vsock, tipc, xdp, mptcp. UDP-Lite follows UDP.
    pub const OUTPUT_ORDER: [Table; 17] = [
        Table::Netlink,
        Table::PacketRaw,
        Table::PacketDgram,
        Table::UnixStream,
        Table::UnixDgram,
        Table::UnixSeqpacket,
        Table::Raw,
        Table::Udp,
        Table::UdpLite,
        Table::Tcp,
        Table::Dccp,
        Table::Sctp,
        Table::VsockStream,
        Table::VsockDgram,
        Table::Tipc,
        Table::Xdp,
        Table::Mptcp,
    ];

    fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// The Netid column text.
    pub fn netid(self) -> &'static str {
        match self {
            Table::Tcp => "tcp",
            Table::Mptcp => "mptcp",
            Table::Dccp => "dccp",
            Table::Udp => "udp",
            Table::UdpLite => "udplite",
            Table::Raw => "raw",
            Table::UnixDgram => "u_dgr",
            Table::UnixStream => "u_str",
            Table::UnixSeqpacket => "u_seq",
            Table::PacketDgram => "p_dgr",
            Table::PacketRaw => "p_raw",
            Table::Netlink => "nl",
            Table::Sctp => "sctp",
            Table::VsockStream => "v_str",
            Table::VsockDgram => "v_dgr",
            Table::Tipc => "tipc",
            Table::Xdp => "xdp",
        }
    }

    /// The states this table adds to the mask when selected (ss's `default_dbs[]`).
    pub fn default_states(self) -> StateSet {
        use crate::State;
        match self {
            Table::Tcp | Table::Mptcp | Table::Dccp | Table::Sctp => StateSet::CONN,
            Table::UnixStream | Table::UnixSeqpacket => StateSet::CONN,
            Table::VsockStream | Table::VsockDgram => StateSet::CONN,
            Table::Udp | Table::UdpLite | Table::Raw => StateSet::of(State::Established),
            Table::UnixDgram | Table::PacketRaw | Table::PacketDgram | Table::Netlink => {
                StateSet::of(State::Close)
            }
            Table::Xdp => StateSet::of(State::Close),
            Table::Tipc => StateSet::of(State::Established)
                .union(StateSet::of(State::Listen))
                .union(StateSet::of(State::Close)),
        }
    }

    /// The families this table lives in.
    pub fn families(self) -> FamilySet {
        match self {
            Table::Tcp
            | Table::Mptcp
            | Table::Dccp
            | Table::Udp
            | Table::UdpLite
            | Table::Raw
            | Table::Sctp => FamilySet::of(&[Family::Inet, Family::Inet6]),
            Table::UnixDgram | Table::UnixStream | Table::UnixSeqpacket => {
                FamilySet::of(&[Family::Unix])
            }
            Table::PacketDgram | Table::PacketRaw => FamilySet::of(&[Family::Packet]),
            Table::Netlink => FamilySet::of(&[Family::Netlink]),
            Table::VsockStream | Table::VsockDgram => FamilySet::of(&[Family::Vsock]),
            Table::Tipc => FamilySet::of(&[Family::Tipc]),
            Table::Xdp => FamilySet::of(&[Family::Xdp]),
        }
    }

    /// The IP protocol number for inet tables (MPTCP is 262).
    pub fn ip_protocol(self) -> Option<u16> {
        Some(match self {
            Table::Tcp => 6,
            Table::Udp => 17,
            Table::UdpLite => 136,
            Table::Dccp => 33,
            Table::Sctp => 132,
            Table::Raw => 255,
            Table::Mptcp => 262,
            _ => return None,
        })
    }

    /// Whether this is an inet (IPv4/IPv6) table.
    pub fn is_inet(self) -> bool {
        self.ip_protocol().is_some()
    }
}

impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.netid())
    }
}

/// A set of tables.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct TableSet(pub u32);

impl TableSet {
    /// No table.
    pub const EMPTY: TableSet = TableSet(0);
    /// The inet tables: tcp, mptcp, dccp, udp, raw, sctp (ss's `inet`), plus udplite.
    pub const INET: TableSet = TableSet(
        (1 << Table::Tcp as u32)
            | (1 << Table::Mptcp as u32)
            | (1 << Table::Dccp as u32)
            | (1 << Table::Udp as u32)
            | (1 << Table::UdpLite as u32)
            | (1 << Table::Raw as u32)
            | (1 << Table::Sctp as u32),
    );

    /// The set holding the given tables.
    pub fn of(tables: &[Table]) -> TableSet {
        TableSet(tables.iter().fold(0, |acc, t| acc | t.bit()))
    }

    /// ss's `all`: every table except tipc. UDP-Lite is left out too, so
    /// that the default listing matches ss's.
    pub fn all() -> TableSet {
        TableSet::of(&Table::ALL).minus(TableSet::of(&[Table::Tipc, Table::UdpLite]))
    }

    /// Whether the table is in the set.
    pub fn contains(self, t: Table) -> bool {
        self.0 & t.bit() != 0
    }

    /// Adds a table.
    pub fn with(self, t: Table) -> TableSet {
        TableSet(self.0 | t.bit())
    }

    /// Union.
    pub fn union(self, o: TableSet) -> TableSet {
        TableSet(self.0 | o.0)
    }

    /// Difference.
    pub fn minus(self, o: TableSet) -> TableSet {
        TableSet(self.0 & !o.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The number of tables in the set.
    pub fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// The tables in ss's output order.
    pub fn iter_output_order(self) -> impl Iterator<Item = Table> {
        Table::OUTPUT_ORDER
            .into_iter()
            .filter(move |t| self.contains(*t))
    }

    /// Parses one `-A` id (without a `!` prefix): `all`, `inet`, `tcp`,
    /// `udp`, `unix`, `u_str`, `packet`, `netlink`, and so on.
    pub fn parse_query_id(id: &str) -> Option<TableSet> {
        use Table::*;
        Some(match id {
            "all" => TableSet::all(),
            "inet" => TableSet::INET.minus(TableSet::of(&[UdpLite])),
            "tcp" => TableSet::of(&[Tcp]),
            "mptcp" => TableSet::of(&[Mptcp]),
            "udp" => TableSet::of(&[Udp]),
            "udplite" => TableSet::of(&[UdpLite]),
            "dccp" => TableSet::of(&[Dccp]),
            "sctp" => TableSet::of(&[Sctp]),
            "raw" => TableSet::of(&[Raw]),
            "unix" => TableSet::of(&[UnixStream, UnixDgram, UnixSeqpacket]),
            "unix_stream" | "u_str" => TableSet::of(&[UnixStream]),
            "unix_dgram" | "u_dgr" => TableSet::of(&[UnixDgram]),
            "unix_seqpacket" | "u_seq" => TableSet::of(&[UnixSeqpacket]),
            "packet" => TableSet::of(&[PacketRaw, PacketDgram]),
            "packet_raw" | "p_raw" => TableSet::of(&[PacketRaw]),
            "packet_dgram" | "p_dgr" => TableSet::of(&[PacketDgram]),
            "netlink" => TableSet::of(&[Netlink]),
            "tipc" => TableSet::of(&[Tipc]),
            "vsock" => TableSet::of(&[VsockStream, VsockDgram]),
            "vsock_stream" | "v_str" => TableSet::of(&[VsockStream]),
            "vsock_dgram" | "v_dgr" => TableSet::of(&[VsockDgram]),
            "xdp" => TableSet::of(&[Xdp]),
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_ids() {
        assert_eq!(
            TableSet::parse_query_id("u_str"),
            Some(TableSet::of(&[Table::UnixStream]))
        );
        assert!(!TableSet::all().contains(Table::Tipc));
        assert!(TableSet::all().contains(Table::Netlink));
        assert_eq!(TableSet::parse_query_id("bogus"), None);
    }

    #[test]
    fn family_numbers() {
        for f in Family::ALL {
            assert_eq!(Family::from_u8(f.as_u8()), f);
        }
        assert_eq!(Family::from_u8(99), Family::Other(99));
    }
}
