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
}
