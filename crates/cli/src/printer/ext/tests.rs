//! Tests of the detail printers against ss's output.

#![allow(clippy::unwrap_used)]

use super::*;
use sockq_model::{
    BbrInfo, DctcpInfo, Detail, Endpoint, MptcpInfo, NetlinkDetail, PacketDetail, PacketInfo,
    Shutdown, SkMem, State, Table, TcpInfo, Timer, TimerKind, UnixDetail, XdpDetail,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut v = Vec::new();
    f(&mut v);
    String::from_utf8(v).unwrap()
}

fn no_cg(_: u64) -> Option<&'static [u8]> {
    None
}

fn ext(sock: &Socket, o: ExtOptions) -> String {
    s(|v| {
        write_ext(v, sock, &o, &|id| {
            (id == 7).then_some(b"/system.slice/x".as_slice())
        })
    })
}

#[test]
fn every_timer_name() {
    let kinds = [
        (1, "on"),
        (2, "keepalive"),
        (3, "timewait"),
        (4, "persist"),
        (5, "delack"),
        (9, "unknown"),
    ];
    for (code, name) in kinds {
        let t = Timer {
            kind: TimerKind::from_u8(code).unwrap(),
            expires_ms: 200,
            retrans: 2,
        };
        assert_eq!(
            s(|v| write_timer(v, &t)),
            format!(" timer:({name},200ms,2)")
        );
    }
    let expired = Timer {
        kind: TimerKind::On,
        expires_ms: 0,
        retrans: 0,
    };
    assert_eq!(s(|v| write_timer(v, &expired)), " timer:(on,,0)");
}

fn tcp(state: State) -> Socket {
    let mut x = Socket::new(Table::Tcp, Family::Inet, state);
    x.local = Endpoint::Inet {
        addr: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port: 22,
    };
    x.inode = 314_796;
    x.cookie = 0x1a2b;
    x
}

#[test]
fn every_shutdown_arrow() {
    for (bits, want) in [(0, "<->"), (1, "-->"), (2, "<--"), (3, "---")] {
        let mut x = tcp(State::Established);
        x.shutdown = Some(Shutdown(bits));
        let o = ExtOptions {
            extended: true,
            ..Default::default()
        };
        assert_eq!(ext(&x, o), format!(" ino:314796 sk:1a2b {want}"));
        let mut u = Socket::new(Table::UnixStream, Family::Unix, State::Established);
        u.shutdown = Some(Shutdown(bits));
        assert_eq!(ext(&u, o), format!(" {want}"));
    }
}

#[test]
fn inet_extended_fields() {
    let mut x = tcp(State::Established);
    x.family = Family::Inet6;
    x.uid = Some(1000);
    x.mark = Some(0x2a);
    x.cgroup_id = Some(7);
    x.v6only = Some(false);
    x.shutdown = Some(Shutdown(0));
    x.timer = Some(Timer {
        kind: TimerKind::Keepalive,
        expires_ms: 7_180_950,
        retrans: 0,
    });
    let o = ExtOptions {
        timers: true,
        extended: true,
        ..Default::default()
    };
    assert_eq!(
        ext(&x, o),
        " timer:(keepalive,119min,0) uid:1000 ino:314796 sk:1a2b fwmark:0x2a \
         cgroup:/system.slice/x v6only:0 <->"
    );
    // uid 0, mark 0 and cgroup 0 are left out; unknown cgroup ids say so.
    x.uid = Some(0);
    x.mark = Some(0);
    x.cgroup_id = Some(0x99);
    x.family = Family::Inet;
    let got = s(|v| write_ext(v, &x, &o, &no_cg));
    assert_eq!(
        got,
        " timer:(keepalive,119min,0) ino:314796 sk:1a2b cgroup:unreachable:99 <->"
    );
    // -o alone: the timer only.
    let o = ExtOptions {
        timers: true,
        ..Default::default()
    };
    assert_eq!(ext(&x, o), " timer:(keepalive,119min,0)");
}

#[test]
fn tos_cgroup_sockopt() {
    let mut x = tcp(State::Established);
    x.tos = Some(0);
    x.class_id = Some(0);
    x.tclass = None;
    x.cgroup_id = Some(7);
    x.sockopt = Some(0x0102); // is_icsk, bind_addr_no_port
    let o = ExtOptions {
        tos: true,
        cgroup: true,
        inet_sockopt: true,
        ..Default::default()
    };
    assert_eq!(
        ext(&x, o),
        " tos:0 class_id:0 cgroup:/system.slice/x\n\tinet-sockopt: ( is_icsk bind_addr_no_port)"
    );
    x.tos = Some(0x10);
    let o = ExtOptions {
        tos: true,
        inet_sockopt: true,
        oneline: true,
        ..Default::default()
    };
    assert_eq!(
        ext(&x, o),
        " tos:0x10 class_id:0 inet-sockopt: ( is_icsk bind_addr_no_port)"
    );
}

/// The verified `-tio` line of spec 6.6.
fn example_info() -> Socket {
    let mut x = tcp(State::Established);
    x.cong = Some("bbr".into());
    x.bbr = Some(BbrInfo {
        bw: 0,
        min_rtt: 23,
        pacing_gain: 0,
        cwnd_gain: 0,
    });
    x.tcp_info = Some(Box::new(TcpInfo {
        len: 280,
        state: 1,
        options: 1 | 2 | 4,
        snd_wscale: 10,
        rcv_wscale: 10,
        rto: 204_000,
        rtt: 23,
        rttvar: 11,
        ato: 40_000,
        snd_mss: 32768,
        pmtu: 65535,
        rcv_mss: 536,
        advmss: 65483,
        snd_cwnd: 10,
        snd_ssthresh: 0x7fff_ffff,
        bytes_received: 100,
        segs_out: 1,
        segs_in: 3,
        data_segs_in: 1,
        last_data_sent: 15412,
        last_data_recv: 15412,
        last_ack_recv: 15412,
        pacing_rate: 40_750_000_000,
        max_pacing_rate: u64::MAX,
        delivered: 1,
        delivery_rate_app_limited: true,
        rcv_space: 65483,
        rcv_ssthresh: 65483,
        min_rtt: 23,
        snd_wnd: 65536,
        rcv_wnd: 65536,
        reordering: 3,
        ..Default::default()
    }));
    x
}

const EXAMPLE: &str = " ts sack bbr wscale:10,10 rto:204 rtt:0.023/0.011 ato:40 mss:32768 pmtu:65535 rcvmss:536 advmss:65483 cwnd:10 bytes_received:100 segs_out:1 segs_in:3 data_segs_in:1 bbr:(bw:0bps,mrtt:0.023) send 114Gbps lastsnd:15412 lastrcv:15412 lastack:15412 pacing_rate 326Gbps delivered:1 app_limited rcv_space:65483 rcv_ssthresh:65483 minrtt:0.023 snd_wnd:65536 rcv_wnd:65536";

#[test]
fn tio_example_two_lines_and_oneline() {
    let x = example_info();
    let o = ExtOptions {
        timers: true,
        info: true,
        ..Default::default()
    };
    assert_eq!(ext(&x, o), format!("\n\t{EXAMPLE}"));
    let o1 = ExtOptions { oneline: true, ..o };
    assert_eq!(ext(&x, o1), EXAMPLE);
    // -i without -o: no option flags.
    let oi = ExtOptions {
        info: true,
        ..Default::default()
    };
    assert_eq!(
        ext(&x, oi),
        format!("\n\t{}", EXAMPLE.strip_prefix(" ts sack").unwrap())
    );
}

#[test]
fn tcp_info_rest() {
    let mut x = example_info();
    x.cong = None;
    x.bbr = None;
    x.dctcp = Some(DctcpInfo {
        enabled: 1,
        ce_state: 1,
        alpha: 2,
        ab_ecn: 3,
        ab_tot: 4,
    });
    x.skmem = Some(SkMem {
        rmem_alloc: 932,
        rcvbuf: 131_072,
        wmem_alloc: 0,
        sndbuf: 3_939_840,
        fwd_alloc: 3164,
        wmem_queued: 0,
        optmem: 0,
        backlog: Some(0),
        drops: Some(0),
    });
    if let Some(i) = x.tcp_info.as_mut() {
        i.rto = 3_000_000;
        i.options = 0;
        i.busy_time = 10_000;
        i.rwnd_limited = 2_500;
        i.sndbuf_limited = 1_000;
        i.retrans = 0;
        i.total_retrans = 2;
        i.sacked = 4;
        i.reordering = 5;
        i.min_rtt = u32::MAX;
        i.delivery_rate = 125;
        i.snd_ssthresh = 7;
        i.last_data_sent = 0;
        i.last_data_recv = 0;
        i.last_ack_recv = 0;
        i.pacing_rate = 0;
        i.rcv_wnd = 0;
        i.snd_wnd = 0;
    }
    let o = ExtOptions {
        memory: true,
        info: true,
        oneline: true,
        numeric: true,
        ..Default::default()
    };
    assert_eq!(
        ext(&x, o),
        " skmem:(r932,rb131072,t0,tb3939840,f3164,w0,o0,bl0,d0) rtt:0.023/0.011 ato:40 \
         mss:32768 pmtu:65535 rcvmss:536 advmss:65483 cwnd:10 ssthresh:7 bytes_received:100 \
         segs_out:1 segs_in:3 data_segs_in:1 dctcp:(ce_state:1,alpha:2,ab_ecn:3,ab_tot:4) \
         send 113975652174bps delivery_rate 1000bps delivered:1 app_limited busy:10ms \
         rwnd_limited:2ms(25.0%) sndbuf_limited:1ms(10.0%) retrans:0/2 sacked:4 \
         reordering:5 rcv_space:65483 rcv_ssthresh:65483"
    );
    // LISTEN hides sacked; a disabled dctcp is in fallback mode.
    x.state = State::Listen;
    x.dctcp = Some(DctcpInfo::default());
    let got = ext(&x, o);
    assert!(!got.contains("sacked") && got.contains(" dctcp:fallback_mode"));
    // UDP: -i prints nothing (not even the break); -m prints skmem.
    x.table = Table::Udp;
    let oi = ExtOptions {
        info: true,
        ..Default::default()
    };
    assert_eq!(ext(&x, oi), "");
    let om = ExtOptions {
        memory: true,
        ..Default::default()
    };
    assert_eq!(
        ext(&x, om),
        "\n\t skmem:(r932,rb131072,t0,tb3939840,f3164,w0,o0,bl0,d0)"
    );
}

#[test]
fn mptcp_info_fields() {
    let mut x = Socket::new(Table::Mptcp, Family::Inet6, State::Established);
    x.local = Endpoint::Inet {
        addr: IpAddr::V6(Ipv6Addr::LOCALHOST),
        port: 1,
    };
    x.mptcp_info = Some(Box::new(MptcpInfo {
        subflows: 1,
        subflows_max: 2,
        flags: 2,
        token: 0xabc,
        write_seq: 255,
        bytes_sent: 10,
        last_data_recv: 5,
        ..Default::default()
    }));
    let o = ExtOptions {
        info: true,
        oneline: true,
        ..Default::default()
    };
    assert_eq!(
        ext(&x, o),
        " subflows:1 subflows_max:2 remote_key token:abc write_seq:ff bytes_sent:10 last_data_recv:5"
    );
}

#[test]
fn unix_details() {
    let mut u = Socket::new(Table::UnixStream, Family::Unix, State::Listen);
    u.shutdown = Some(Shutdown(0));
    u.skmem = Some(SkMem::default());
    u.detail = Detail::Unix(UnixDetail {
        vfs: Some((10_011_089, 254 << 20)),
        pending: Some(vec![11, 12]),
    });
    let o = ExtOptions {
        extended: true,
        memory: true,
        timers: true,
        ..Default::default()
    };
    assert_eq!(
        ext(&u, o),
        " skmem:(r0,rb0,t0,tb0,f0,w0,o0) <-> ino:10011089 dev:0/65024 peers: 11 12"
    );
}

fn packet() -> Socket {
    let mut p = Socket::new(Table::PacketRaw, Family::Packet, State::Close);
    p.inode = 11323;
    p.cookie = 0x1001;
    p.uid = Some(0);
    p.skmem = Some(SkMem {
        rcvbuf: 212_992,
        sndbuf: 212_992,
        optmem: 280,
        backlog: Some(0),
        drops: Some(0),
        ..Default::default()
    });
    p.detail = Detail::Packet(Box::new(PacketDetail {
        info: Some(PacketInfo {
            ifindex: 1,
            flags: 1,
            ..Default::default()
        }),
        fanout: Some(7 | (3 << 16)),
        filter: Some(vec![(0x28, 0, 0, 12), (0x6, 0, 0, 65535)]),
        ..Default::default()
    }));
    p
}

/// Checked against ss 6.1 `-0aemb` and `-0aembO` on the same socket.
#[test]
fn packet_details_like_ss() {
    let p = packet();
    let o = ExtOptions {
        extended: true,
        memory: true,
        bpf: true,
        timers: true,
        ..Default::default()
    };
    assert_eq!(
        ext(&p, o),
        " ino:11323 sk:1001\n\tver:0 cpy_thresh:0 flags( running )\n\tfanout(id:7,type:roll)\n\tbpf filter (2):  0x28 0 0 12, 0x06 0 0 65535, skmem:(r0,rb212992,t0,tb212992,f0,w0,o280,bl0,d0)"
    );
    let o1 = ExtOptions { oneline: true, ..o };
    assert_eq!(
        ext(&p, o1),
        " ino:11323 sk:1001 ver:0 cpy_thresh:0 flags( running ) fanout(id:7,type:roll) bpf filter (2):  0x28 0 0 12, 0x06 0 0 65535, skmem:(r0,rb212992,t0,tb212992,f0,w0,o280,bl0,d0)"
    );
    let ob = ExtOptions {
        bpf: true,
        ..Default::default()
    };
    assert_eq!(
        ext(&p, ob),
        "\n\tbpf filter (2):  0x28 0 0 12, 0x06 0 0 65535,"
    );
}

#[test]
fn packet_rings_and_flags() {
    let mut p = packet();
    if let Detail::Packet(d) = &mut p.detail {
        d.info = Some(PacketInfo {
            flags: 0,
            version: 2,
            ..Default::default()
        });
        d.rx_ring = Some(sockq_model::PacketRing {
            block_size: 4096,
            block_nr: 2,
            frame_size: 2048,
            frame_nr: 4,
            retire_tmo: 0,
            sizeof_priv: 0,
            features: 1,
        });
        d.fanout = Some(9 << 16);
    }
    let o = ExtOptions {
        extended: true,
        oneline: true,
        ..Default::default()
    };
    assert_eq!(
        ext(&p, o),
        " ino:11323 sk:1001 ver:2 cpy_thresh:0 flags( 0 ) ring_rx(blk_size:4096,blk_nr:2,frm_size:2048,frm_nr:4,tmo:0,features:0x1) fanout(id:0,type:0x9)"
    );
}

/// Checked against ss 6.1 `-f netlink -e`, `-m` and `-emO`.
#[test]
fn netlink_details_like_ss() {
    let mut n = Socket::new(Table::Netlink, Family::Netlink, State::Close);
    n.skmem = Some(SkMem {
        rcvbuf: 212_992,
        sndbuf: 212_992,
        backlog: Some(0),
        drops: Some(0),
        ..Default::default()
    });
    n.detail = Detail::Netlink(NetlinkDetail {
        groups: vec![0x11, 0],
        ..Default::default()
    });
    let e = ExtOptions {
        extended: true,
        ..Default::default()
    };
    assert_eq!(ext(&n, e), " sk=0 cb=0 groups=0x00000011");
    let m = ExtOptions {
        memory: true,
        ..Default::default()
    };
    assert_eq!(
        ext(&n, m),
        "\t skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)"
    );
    let em = ExtOptions {
        extended: true,
        memory: true,
        oneline: true,
        ..Default::default()
    };
    assert_eq!(
        ext(&n, em),
        " sk=0 cb=0 groups=0x00000011\t skmem:(r0,rb212992,t0,tb212992,f0,w0,o0,bl0,d0)"
    );
}

#[test]
fn xdp_details() {
    let mut x = Socket::new(Table::Xdp, Family::Xdp, State::Close);
    x.inode = 5;
    x.cookie = 0xff;
    x.detail = Detail::Xdp(Box::new(XdpDetail {
        rx_ring: Some(2048),
        umem: Some(sockq_model::XdpUmem {
            size: 4096,
            id: 1,
            num_pages: 1,
            chunk_size: 2048,
            flags: 1,
            refs: 1,
            ..Default::default()
        }),
        fill_ring: Some(8),
        stats: Some(sockq_model::XdpStats::default()),
        ..Default::default()
    }));
    let o = ExtOptions {
        extended: true,
        ..Default::default()
    };
    assert_eq!(
        ext(&x, o),
        " ino:5 sk:ff\n\trx(entries:2048)\n\tumem(id:1,size:4096,num_pages:1,chunk_size:2048,headroom:0,ifindex:0,qid:0,zc:1,refs:1)\n\tfr(entries:8)\n\tstats(rx dropped:0,rx invalid:0,rx queue full:0,rx fill ring empty:0,tx invalid:0,tx ring empty:0)"
    );
    let o1 = ExtOptions { oneline: true, ..o };
    assert!(ext(&x, o1).contains(" tumem(id:1"));
}

#[test]
fn nothing_without_options() {
    let x = example_info();
    assert_eq!(ext(&x, ExtOptions::default()), "");
    assert_eq!(ext(&packet(), ExtOptions::default()), "");
}
