//! Name tables for `link:PROTO` and `netlink:PROTO` values.

/// Ethertype names (lower-case `ETH_P_*` suffixes from `linux/if_ether.h`,
/// plus ss's dotted spellings), matched case-insensitively.
const ETHERTYPES: &[(&str, u16)] = &[
    ("802_3", 0x0001),
    ("ax25", 0x0002),
    ("all", 0x0003),
    ("802_2", 0x0004),
    ("snap", 0x0005),
    ("ddcmp", 0x0006),
    ("wan_ppp", 0x0007),
    ("ppp_mp", 0x0008),
    ("localtalk", 0x0009),
    ("can", 0x000c),
    ("canfd", 0x000d),
    ("ppptalk", 0x0010),
    ("tr_802_2", 0x0011),
    ("mobitex", 0x0015),
    ("control", 0x0016),
    ("irda", 0x0017),
    ("econet", 0x0018),
    ("hdlc", 0x0019),
    ("arcnet", 0x001a),
    ("dsa", 0x001b),
    ("trailer", 0x001c),
    ("phonet", 0x00f5),
    ("ieee802154", 0x00f6),
    ("caif", 0x00f7),
    ("loop", 0x0060),
    ("pup", 0x0200),
    ("pupat", 0x0201),
    ("ip", 0x0800),
    ("x25", 0x0805),
    ("arp", 0x0806),
    ("bpq", 0x08ff),
    ("ieeepup", 0x0a00),
    ("ieeepupat", 0x0a01),
    ("batman", 0x4305),
    ("dec", 0x6000),
    ("dna_dl", 0x6001),
    ("dna_rc", 0x6002),
    ("dna_rt", 0x6003),
    ("lat", 0x6004),
    ("diag", 0x6005),
    ("cust", 0x6006),
    ("sca", 0x6007),
    ("teb", 0x6558),
    ("rarp", 0x8035),
    ("atalk", 0x809b),
    ("aarp", 0x80f3),
    ("8021q", 0x8100),
    ("802.1q", 0x8100),
    ("ipx", 0x8137),
    ("ipv6", 0x86dd),
    ("pause", 0x8808),
    ("slow", 0x8809),
    ("wccp", 0x883e),
    ("mpls_uc", 0x8847),
    ("mpls_mc", 0x8848),
    ("atmmpoa", 0x884c),
    ("ppp_disc", 0x8863),
    ("ppp_ses", 0x8864),
    ("link_ctl", 0x886c),
    ("atmfate", 0x8884),
    ("pae", 0x888e),
    ("aoe", 0x88a2),
    ("8021ad", 0x88a8),
    ("802.1ad", 0x88a8),
    ("tipc", 0x88ca),
    ("lldp", 0x88cc),
    ("macsec", 0x88e5),
    ("8021ah", 0x88e7),
    ("802.1ah", 0x88e7),
    ("1588", 0x88f7),
    ("fcoe", 0x8906),
    ("fip", 0x8914),
    ("hsr", 0x892f),
    ("nsh", 0x894f),
    ("loopback", 0x9000),
    ("qinq1", 0x9100),
    ("qinq2", 0x9200),
    ("qinq3", 0x9300),
    ("edsa", 0xdada),
];

/// Netlink protocol names as ss spells them (`rtnl`, not `route`).
const NETLINK: &[(&str, u8)] = &[
    ("rtnl", 0),
    ("unused", 1),
    ("usersock", 2),
    ("fw", 3),
    ("tcpdiag", 4),
    ("nflog", 5),
    ("xfrm", 6),
    ("selinux", 7),
    ("iscsi", 8),
    ("audit", 9),
    ("fiblookup", 10),
    ("connector", 11),
    ("nft", 12),
    ("ip6fw", 13),
    ("dec-rt", 14),
    ("uevent", 15),
    ("genl", 16),
    ("scsi-trans", 18),
    ("ecryptfs", 19),
    ("rdma", 20),
    ("crypto", 21),
    ("smc", 22),
];

/// Looks up an ethertype name, case-insensitively.
pub fn ethertype(name: &str) -> Option<u16> {
    ETHERTYPES
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, v)| v)
}

/// Looks up a netlink protocol name, case-insensitively.
pub fn netlink_protocol(name: &str) -> Option<u8> {
    NETLINK
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|&(_, v)| v)
}
