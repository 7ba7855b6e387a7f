//! Details that only one family has.

/// Family-specific details of a socket.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum Detail {
    /// Nothing beyond the common fields.
    #[default]
    None,
    /// Unix socket details.
    Unix(UnixDetail),
    /// Packet socket details.
    Packet(Box<PacketDetail>),
    /// Netlink socket details.
    Netlink(NetlinkDetail),
    /// XDP socket details.
    Xdp(Box<XdpDetail>),
    /// TIPC socket details.
    Tipc(TipcDetail),
}

/// Unix details (`-e`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct UnixDetail {
    /// UNIX_DIAG_VFS: inode and device of the bound file.
    pub vfs: Option<(u32, u32)>,
    /// UNIX_DIAG_ICONS: inodes of pending connections on a listener.
    pub pending: Option<Vec<u32>>,
}

/// A packet ring configuration (PACKET_DIAG_RX_RING / TX_RING).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct PacketRing {
    pub block_size: u32,
    pub block_nr: u32,
    pub frame_size: u32,
    pub frame_nr: u32,
    pub retire_tmo: u32,
    pub sizeof_priv: u32,
    pub features: u32,
}

/// Packet details (`-e`, `-b`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PacketDetail {
    /// PACKET_DIAG_INFO: version, reserve, copy threshold, tstamp, flags.
    pub info: Option<PacketInfo>,
    /// PACKET_DIAG_RX_RING.
    pub rx_ring: Option<PacketRing>,
    /// PACKET_DIAG_TX_RING.
    pub tx_ring: Option<PacketRing>,
    /// PACKET_DIAG_FANOUT (id | type << 16).
    pub fanout: Option<u32>,
    /// PACKET_DIAG_FILTER: classic BPF (code, jt, jf, k).
    pub filter: Option<Vec<(u16, u8, u8, u32)>>,
}

/// `struct packet_diag_info`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct PacketInfo {
    pub ifindex: u32,
    pub version: u32,
    pub reserve: u32,
    pub copy_thresh: u32,
    pub tstamp: u32,
    pub flags: u32,
}

/// Netlink details.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NetlinkDetail {
    /// NETLINK_DIAG_GROUPS bitmap words.
    pub groups: Vec<u32>,
    /// NETLINK_DIAG_FLAGS (NDIAG_FLAG_*), when asked for.
    pub flags: Option<u32>,
    /// `ndiag_type`: SOCK_RAW (3) or SOCK_DGRAM (2).
    pub sock_type: u8,
}

/// `struct xdp_diag_umem`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct XdpUmem {
    pub size: u64,
    pub id: u32,
    pub num_pages: u32,
    pub chunk_size: u32,
    pub headroom: u32,
    pub ifindex: u32,
    pub queue_id: u32,
    /// XDP_DU_F_* (bit 0: zero-copy).
    pub flags: u32,
    pub refs: u32,
}

/// `struct xdp_diag_stats`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct XdpStats {
    pub rx_dropped: u64,
    pub rx_invalid: u64,
    pub rx_full: u64,
    pub fill_ring_empty: u64,
    pub tx_invalid: u64,
    pub tx_ring_empty: u64,
}

/// XDP details (`-e`): ring sizes (entries), umem and statistics.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct XdpDetail {
    /// XDP_DIAG_RX_RING entries.
    pub rx_ring: Option<u32>,
    /// XDP_DIAG_TX_RING entries.
    pub tx_ring: Option<u32>,
    /// XDP_DIAG_UMEM.
    pub umem: Option<XdpUmem>,
    /// XDP_DIAG_UMEM_FILL_RING entries.
    pub fill_ring: Option<u32>,
    /// XDP_DIAG_UMEM_COMPLETION_RING entries.
    pub completion_ring: Option<u32>,
    /// XDP_DIAG_STATS.
    pub stats: Option<XdpStats>,
}

/// TIPC details (`--tipcinfo`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TipcDetail {
    /// TIPC_NLA_SOCK_TYPE: SOCK_STREAM 1, DGRAM 2, RDM 4, SEQPACKET 5.
    pub sock_type: u32,
    /// TIPC_NLA_SOCK_STAT_LINK_CONG.
    pub link_cong: bool,
    /// TIPC_NLA_SOCK_STAT_CONN_CONG.
    pub conn_cong: bool,
    /// TIPC_NLA_SOCK_STAT_DROP.
    pub drop: u32,
    /// TIPC_NLA_SOCK_HAS_PUBL.
    pub has_publ: bool,
    /// TIPC_NLA_CON_TYPE and TIPC_NLA_CON_INST of a connection made by name.
    pub via: Option<(u32, u32)>,
}
