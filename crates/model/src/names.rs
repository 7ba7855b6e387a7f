//! Name tables shared by the filter (parsing `link:ip`, `netlink:rtnl`) and
//! the printers. These are facts about Linux, not code: ethertypes from
//! `if_ether.h` and netlink protocols from `netlink.h`, with ss's spellings.

/// Ethertype numbers and their names, as ss prints them (`ip`, `arp`, …):
/// iproute2's `lib/ll_proto.c`, spelling included (`LLDP`, `802.1Q`).
pub const ETHERTYPES: &[(u16, &str)] = &[
    (0x0001, "802_3"),
    (0x0002, "ax25"),
    (0x0003, "all"),
    (0x0004, "802_2"),
    (0x0005, "snap"),
    (0x0006, "ddcmp"),
    (0x0007, "wan_ppp"),
    (0x0008, "ppp_mp"),
    (0x0009, "localtalk"),
    (0x000c, "can"),
    (0x0010, "ppptalk"),
    (0x0011, "tr_802_2"),
    (0x0015, "mobitex"),
    (0x0016, "control"),
    (0x0017, "irda"),
    (0x0018, "econet"),
    (0x0060, "loop"),
    (0x0200, "pup"),
    (0x0201, "pupat"),
    (0x0800, "ip"),
    (0x0805, "x25"),
    (0x0806, "arp"),
    (0x08ff, "bpq"),
    (0x0a00, "ieeepup"),
    (0x0a01, "ieeepupat"),
    (0x6000, "dec"),
    (0x6001, "dna_dl"),
    (0x6002, "dna_rc"),
    (0x6003, "dna_rt"),
    (0x6004, "lat"),
    (0x6005, "diag"),
    (0x6006, "cust"),
    (0x6007, "sca"),
    (0x6558, "teb"),
    (0x8035, "rarp"),
    (0x809b, "atalk"),
    (0x80f3, "aarp"),
    (0x8100, "802.1Q"),
    (0x8137, "ipx"),
    (0x86dd, "ipv6"),
    (0x8847, "mpls_uc"),
    (0x8848, "mpls_mc"),
    (0x8863, "ppp_disc"),
    (0x8864, "ppp_ses"),
    (0x884c, "atmmpoa"),
    (0x8884, "atmfate"),
    (0x88a2, "aoe"),
    (0x88a8, "802.1ad"),
    (0x88ca, "tipc"),
    (0x88cc, "LLDP"),
    (0x8892, "profinet"),
    (0x88a4, "ethercat"),
    (0x8902, "cfm"),
    // Accepted in filters (`link:ipv4`); printed as `ip`, the first name.
    (0x0800, "ipv4"),
];

/// The name of an ethertype.
pub fn ethertype_name(proto: u16) -> Option<&'static str> {
    ETHERTYPES
        .iter()
        .find(|(n, _)| *n == proto)
        .map(|(_, s)| *s)
}

/// The ethertype of a name, compared case-insensitively.
pub fn ethertype_by_name(name: &str) -> Option<u16> {
    ETHERTYPES
        .iter()
        .find(|(_, s)| s.eq_ignore_ascii_case(name))
        .map(|(n, _)| *n)
}

/// Netlink protocol numbers and ss's names for them (`rtnl`, not `route`).
pub const NETLINK_PROTOCOLS: &[(u8, &str)] = &[
    (0, "rtnl"),
    (1, "unused"),
    (2, "usersock"),
    (3, "fw"),
    (4, "tcpdiag"),
    (5, "nflog"),
    (6, "xfrm"),
    (7, "selinux"),
    (8, "iscsi"),
    (9, "audit"),
    (10, "fiblookup"),
    (11, "connector"),
    (12, "nft"),
    (13, "ip6fw"),
    (14, "dec-rt"),
    (15, "uevent"),
    (16, "genl"),
    (18, "scsi-trans"),
    (19, "ecryptfs"),
    (20, "rdma"),
    (21, "crypto"),
];

/// The name of a netlink protocol.
pub fn netlink_protocol_name(proto: u8) -> Option<&'static str> {
    NETLINK_PROTOCOLS
        .iter()
        .find(|(n, _)| *n == proto)
        .map(|(_, s)| *s)
}

/// The netlink protocol of a name.
pub fn netlink_protocol_by_name(name: &str) -> Option<u8> {
    NETLINK_PROTOCOLS
        .iter()
        .find(|(_, s)| *s == name)
        .map(|(n, _)| *n)
}
