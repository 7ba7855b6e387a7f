//! Extended socket information: `-m` memory and `-i` protocol info.

/// `skmem:(…)`: the SK_MEMINFO array. Backlog and drops are `None` when the
/// kernel's array is too short to hold them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SkMem {
    /// `r`: rmem_alloc.
    pub rmem_alloc: u32,
    /// `rb`: rcvbuf.
    pub rcvbuf: u32,
    /// `t`: wmem_alloc.
    pub wmem_alloc: u32,
    /// `tb`: sndbuf.
    pub sndbuf: u32,
    /// `f`: fwd_alloc.
    pub fwd_alloc: u32,
    /// `w`: wmem_queued.
    pub wmem_queued: u32,
    /// `o`: optmem.
    pub optmem: u32,
    /// `bl`: backlog.
    pub backlog: Option<u32>,
    /// `d`: drops.
    pub drops: Option<u32>,
}

/// `struct tcp_info`, decoded by length: fields the kernel did not send are
/// zero, as ss does. Field names drop the `tcpi_` prefix.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct TcpInfo {
    /// How many bytes the kernel sent (decoding is by length).
    pub len: usize,
    pub state: u8,
    pub ca_state: u8,
    pub retransmits: u8,
    pub probes: u8,
    pub backoff: u8,
    /// TCPI_OPT_* bits: TS 1, SACK 2, WSCALE 4, ECN 8, ECN_SEEN 16, SYN_DATA 32, USEC_TS 64.
    pub options: u8,
    pub snd_wscale: u8,
    pub rcv_wscale: u8,
    pub delivery_rate_app_limited: bool,
    pub fastopen_client_fail: u8,
    pub rto: u32,
    pub ato: u32,
    pub snd_mss: u32,
    pub rcv_mss: u32,
    pub unacked: u32,
    pub sacked: u32,
    pub lost: u32,
    pub retrans: u32,
    pub fackets: u32,
    pub last_data_sent: u32,
    pub last_ack_sent: u32,
    pub last_data_recv: u32,
    pub last_ack_recv: u32,
    pub pmtu: u32,
    pub rcv_ssthresh: u32,
    pub rtt: u32,
    pub rttvar: u32,
    pub snd_ssthresh: u32,
    pub snd_cwnd: u32,
    pub advmss: u32,
    pub reordering: u32,
    pub rcv_rtt: u32,
    pub rcv_space: u32,
    pub total_retrans: u32,
    pub pacing_rate: u64,
    pub max_pacing_rate: u64,
    pub bytes_acked: u64,
    pub bytes_received: u64,
    pub segs_out: u32,
    pub segs_in: u32,
    pub notsent_bytes: u32,
    pub min_rtt: u32,
    pub data_segs_in: u32,
    pub data_segs_out: u32,
    pub delivery_rate: u64,
    pub busy_time: u64,
    pub rwnd_limited: u64,
    pub sndbuf_limited: u64,
    pub delivered: u32,
    pub delivered_ce: u32,
    pub bytes_sent: u64,
    pub bytes_retrans: u64,
    pub dsack_dups: u32,
    pub reord_seen: u32,
    pub rcv_ooopack: u32,
    pub snd_wnd: u32,
    pub rcv_wnd: u32,
    pub rehash: u32,
    pub total_rto: u16,
    pub total_rto_recoveries: u16,
    pub total_rto_time: u32,
    pub received_ce: u32,
    pub delivered_e1_bytes: u32,
    pub delivered_e0_bytes: u32,
    pub delivered_ce_bytes: u32,
    pub received_e1_bytes: u32,
    pub received_e0_bytes: u32,
    pub received_ce_bytes: u32,
    pub accecn_fail_mode: u16,
    pub accecn_opt_seen: u16,
}

/// `struct tcpvegas_info` (INET_DIAG_VEGASINFO).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct VegasInfo {
    pub enabled: u32,
    pub rtt_count: u32,
    pub rtt: u32,
    pub min_rtt: u32,
}

/// `struct tcp_dctcp_info` (INET_DIAG_DCTCPINFO).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct DctcpInfo {
    pub enabled: u16,
    pub ce_state: u16,
    pub alpha: u32,
    pub ab_ecn: u32,
    pub ab_tot: u32,
}

/// `struct tcp_bbr_info` (INET_DIAG_BBRINFO).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct BbrInfo {
    /// Bandwidth in bytes per second (bw_lo | bw_hi << 32).
    pub bw: u64,
    pub min_rtt: u32,
    pub pacing_gain: u32,
    pub cwnd_gain: u32,
}

/// `struct mptcp_info`, decoded by length (zero-filled).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[allow(missing_docs)]
pub struct MptcpInfo {
    pub len: usize,
    pub subflows: u8,
    pub add_addr_signal: u8,
    pub add_addr_accepted: u8,
    pub subflows_max: u8,
    pub add_addr_signal_max: u8,
    pub add_addr_accepted_max: u8,
    pub flags: u32,
    pub token: u32,
    pub write_seq: u64,
    pub snd_una: u64,
    pub rcv_nxt: u64,
    pub local_addr_used: u8,
    pub local_addr_max: u8,
    pub csum_enabled: u8,
    pub retransmits: u32,
    pub bytes_retrans: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub bytes_acked: u64,
    pub subflows_total: u8,
    pub endp_laminar_max: u8,
    pub last_data_sent: u32,
    pub last_data_recv: u32,
    pub last_ack_recv: u32,
}
