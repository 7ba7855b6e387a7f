//! Decoder tests over the byte fixtures captured from Linux 6.18 (see
//! tests/fixtures/README.md) and over iproute2's ss1.dump.

use crate::common::*;
use sockq_model::{Family, Socket, State, Table, TimerKind};
use sockq_netlink::{Error, decode_inet, dump_from_bytes, msg, replay};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::ControlFlow;

fn local_port(s: &Socket) -> u16 {
    s.local.inet().map(|(_, p)| p).unwrap_or(0)
}

fn peer_port(s: &Socket) -> u16 {
    s.peer.inet().map(|(_, p)| p).unwrap_or(0)
}

fn replayed(data: &[u8]) -> (Result<(), Error>, Vec<Socket>) {
    let mut v = Vec::new();
    let r = replay(data, &mut |s| {
        v.push(s.clone());
        ControlFlow::Continue(())
    });
    (r, v)
}

const LO: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

#[test]
fn listen_v4_with_every_extension() {
    let v = decode_dump(&fixture("tcp4_listen.bin"), Table::Tcp).unwrap();
    assert_eq!(v.len(), 1);
    let s = &v[0];
    assert_eq!((s.family, s.state), (Family::Inet, State::Listen));
    assert_eq!(s.local.inet(), Some((LO, 5000)));
    assert_eq!(s.peer.inet(), Some((IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0)));
    // For a listener Send-Q is the backlog (std's default 128).
    assert_eq!((s.recv_q, s.send_q), (0, 128));
    assert_ne!(s.inode, 0);
    assert_ne!(s.cookie, 0);
    assert_eq!(s.uid, Some(0));
    assert_eq!(s.timer, None);
    assert_eq!(s.v6only, None);
    assert_eq!(s.shutdown.map(|x| x.0), Some(0));
    assert!(s.cgroup_id.is_some() && s.sockopt.is_some() && s.mark.is_some());
    let m = s.skmem.expect("skmem");
    assert!(m.rcvbuf > 0 && m.backlog.is_some() && m.drops.is_some());
    assert!(
        s.cong
            .as_deref()
            .is_some_and(|c| !c.is_empty() && !c.contains('\0'))
    );
    let ti = s.tcp_info.as_deref().expect("tcp_info");
    assert_eq!((ti.len, ti.state), (280, 10));
}

#[test]
fn established_pair_and_tcp_info() {
    let v = decode_dump(&fixture("tcp4_estab.bin"), Table::Tcp).unwrap();
    assert_eq!(v.len(), 2);
    let srv = v
        .iter()
        .find(|s| local_port(s) == 5001)
        .expect("server side");
    let cli = v
        .iter()
        .find(|s| peer_port(s) == 5001)
        .expect("client side");
    assert_eq!(peer_port(srv), local_port(cli));
    assert!(
        v.iter()
            .all(|s| s.state == State::Established && s.local.inet().map(|x| x.0) == Some(LO))
    );
    // The client wrote 100 bytes that the server never read.
    assert_eq!(srv.recv_q, 100);
    let (st, ct) = (
        srv.tcp_info.as_deref().unwrap(),
        cli.tcp_info.as_deref().unwrap(),
    );
    assert_eq!(st.bytes_received, 100);
    assert_eq!((ct.bytes_sent, ct.bytes_acked), (100, 101));
    // ss -i on this file prints: ts sack wscale:10,10 rto:204 app_limited.
    assert_eq!(ct.options & 3, 3);
    assert_eq!((ct.snd_wscale, ct.rcv_wscale), (10, 10));
    assert_eq!(ct.rto, 204_000);
    assert!(ct.delivery_rate_app_limited);
    assert_eq!(ct.state, 1);
    // Fields only a 280-byte tcp_info has.
    assert!(ct.rcv_wnd > 0 && ct.snd_wnd > 0);
    for s in &v {
        if s.cong.as_deref() == Some("bbr") {
            assert!(s.bbr.is_some(), "bbr without BBRINFO");
        }
    }
    assert!(cli.bbr.is_none_or(|b| b.bw > 0 && b.pacing_gain > 0));
}

#[test]
fn time_wait() {
    let v = decode_dump(&fixture("tcp4_timewait.bin"), Table::Tcp).unwrap();
    assert_eq!(v.len(), 1);
    let s = &v[0];
    assert_eq!(s.state, State::TimeWait);
    assert_eq!(peer_port(s), 5002);
    assert_eq!(s.inode, 0);
    let t = s.timer.expect("timewait timer");
    assert_eq!(t.kind, TimerKind::TimeWait);
    assert!(t.expires_ms > 0 && t.expires_ms <= 60_000, "{t:?}");
}

#[test]
fn ipv6_listeners_v6only_and_dual_stack() {
    let v = decode_dump(&fixture("tcp6_listeners.bin"), Table::Tcp).unwrap();
    assert_eq!(v.len(), 2);
    let any6 = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    let only = v.iter().find(|s| local_port(s) == 5003).expect("5003");
    let dual = v.iter().find(|s| local_port(s) == 5004).expect("5004");
    assert_eq!(only.v6only, Some(true));
    assert_eq!(dual.v6only, Some(false));
    for s in &v {
        assert_eq!((s.family, s.state), (Family::Inet6, State::Listen));
        assert_eq!(s.local.inet().map(|x| x.0), Some(any6));
        assert!(s.tclass.is_some());
    }
}

#[test]
fn multipart_dump() {
    let data = fixture("multipart.bin");
    // The kernel never puts more than 32 KiB in one datagram.
    assert!(data.len() > 32 * 1024);
    let v = decode_dump(&data, Table::Tcp).unwrap();
    let mut ports: Vec<u16> = v.iter().map(local_port).collect();
    ports.sort_unstable();
    assert_eq!(ports, (6000..6300).collect::<Vec<_>>());
    assert!(
        v.iter()
            .all(|s| s.state == State::Listen && s.tcp_info.is_some())
    );
    // Replay reads the same sockets.
    let (r, again) = replayed(&data);
    assert!(r.is_ok());
    assert_eq!(again, v);
}

#[test]
fn nlmsg_error_is_a_kernel_error() {
    let data = fixture("error_einval.bin");
    let (h, p, _) = msg::Messages::new(&data).next().unwrap().unwrap();
    assert_eq!(h.ty, msg::NLMSG_ERROR);
    assert_eq!(msg::payload_errno(p), libc::EINVAL);
    let r = dump_from_bytes(&data, &mut |_, _| Ok(ControlFlow::Continue(())));
    assert!(
        matches!(
            r,
            Err(Error::Kernel {
                errno: libc::EINVAL,
                ..
            })
        ),
        "{r:?}"
    );
    let (r, v) = replayed(&data);
    assert!(
        matches!(
            r,
            Err(Error::Kernel {
                errno: libc::EINVAL,
                ..
            })
        ),
        "{r:?}"
    );
    assert!(v.is_empty());
    let text = r.unwrap_err().to_string();
    assert!(
        text.contains("invalid argument") && !text.contains('\n'),
        "{text}"
    );
}

#[test]
fn done_with_enoent_means_protocol_missing() {
    let data = fixture("done_enoent_raw.bin");
    let (h, p, _) = msg::Messages::new(&data).next().unwrap().unwrap();
    assert_eq!(
        (h.ty, msg::payload_errno(p)),
        (msg::NLMSG_DONE, libc::ENOENT)
    );
    let r = dump_from_bytes(&data, &mut |_, _| Ok(ControlFlow::Continue(())));
    assert!(matches!(r, Err(Error::ProtocolMissing { .. })), "{r:?}");
    // Replay skips DONE messages, whatever they carry.
    let (r, v) = replayed(&data);
    assert!(r.is_ok() && v.is_empty());
}

#[test]
fn truncated_buffer() {
    let data = fixture("truncated.bin");
    let r = dump_from_bytes(&data, &mut |_, _| Ok(ControlFlow::Continue(())));
    assert!(matches!(r, Err(Error::Truncated { .. })), "{r:?}");
    let (r, v) = replayed(&data);
    assert_eq!(v.len(), 1, "the whole first message still decodes");
    let e = r.unwrap_err();
    assert!(matches!(e, Error::Truncated { .. }));
    assert!(e.to_string().contains("offset"), "{e}");
}

#[test]
fn tcp_info_by_length() {
    let full = decode_dump(&fixture("tcp4_estab.bin"), Table::Tcp)
        .unwrap()
        .remove(0);
    let short = decode_dump(&fixture("tcpinfo_short.bin"), Table::Tcp)
        .unwrap()
        .remove(0);
    let long = decode_dump(&fixture("tcpinfo_long.bin"), Table::Tcp)
        .unwrap()
        .remove(0);
    let f = full.tcp_info.as_deref().unwrap();
    let s = short.tcp_info.as_deref().unwrap();
    let l = long.tcp_info.as_deref().unwrap();
    assert_eq!((f.len, s.len, l.len), (280, 144, 320));
    // Everything else about the socket is the same.
    let strip = |mut x: Socket| {
        x.tcp_info = None;
        x
    };
    assert_eq!(strip(short.clone()), strip(full.clone()));
    // Longer than known: the known part is identical, the rest ignored.
    assert_eq!(
        sockq_model::TcpInfo {
            len: 280,
            ..l.clone()
        },
        *f
    );
    // Shorter: fields inside the 144 bytes are kept, the rest read 0.
    assert_eq!(
        (s.rto, s.snd_cwnd, s.segs_out, s.segs_in),
        (f.rto, f.snd_cwnd, f.segs_out, f.segs_in)
    );
    assert_eq!((s.options, s.snd_wscale), (f.options, f.snd_wscale));
    assert_ne!(f.min_rtt, 0);
    assert_eq!(
        (
            s.min_rtt,
            s.delivery_rate,
            s.bytes_sent,
            s.snd_wnd,
            s.rcv_wnd
        ),
        (0, 0, 0, 0, 0)
    );
}

#[test]
fn udp_unconnected() {
    let v = decode_dump(&fixture("udp4.bin"), Table::Udp).unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!((v[0].table, v[0].state), (Table::Udp, State::Close));
    assert_eq!(v[0].local.inet(), Some((LO, 5006)));
    assert!(v[0].tcp_info.is_none());
}

#[test]
fn mptcp_info() {
    let v = decode_dump(&fixture("mptcp4.bin"), Table::Mptcp).unwrap();
    assert_eq!(v.len(), 3);
    assert!(
        v.iter()
            .all(|s| s.table == Table::Mptcp && s.tcp_info.is_none())
    );
    let l = v
        .iter()
        .find(|s| s.state == State::Listen)
        .expect("listener");
    assert_eq!(l.local.inet(), Some((LO, 5005)));
    assert_eq!(l.mptcp_info.as_deref().map(|m| m.len), Some(96));
    for s in v.iter().filter(|s| s.state == State::Established) {
        let m = s.mptcp_info.as_deref().expect("mptcp_info");
        assert_eq!(m.len, 96);
        assert_ne!(m.token, 0);
        assert_eq!(m.subflows_total, 1);
    }
    // The two ends' sequence spaces mirror each other.
    let e: Vec<_> = v
        .iter()
        .filter_map(|s| s.mptcp_info.as_deref())
        .filter(|m| m.token != 0)
        .collect();
    assert_eq!(e.len(), 2);
    assert_eq!(
        (e[0].write_seq, e[0].rcv_nxt),
        (e[1].rcv_nxt, e[1].write_seq)
    );
}

#[test]
fn ss1_dump_replay_reads_both_halves() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/ss1.dump"
    );
    let data = std::fs::read(path).expect("shared/fixtures/ss1.dump beside the repository");
    assert_eq!(data.len(), 720);
    let (r, v) = replayed(&data);
    assert!(r.is_ok(), "{r:?}");
    assert_eq!(v.len(), 7);
    let ip = |s: &str| s.parse::<IpAddr>().unwrap();
    // (family, state, local, remote, rq, wq, uid, inode, cookie)
    let rows = [
        (
            Family::Inet,
            State::Listen,
            ("0.0.0.0", 22),
            ("0.0.0.0", 0),
            0,
            128,
            0,
            411,
            3,
        ),
        (
            Family::Inet,
            State::Established,
            ("10.0.0.1", 22),
            ("10.0.0.1", 36266),
            0,
            0,
            0,
            15840,
            6,
        ),
        (
            Family::Inet,
            State::Established,
            ("10.0.0.1", 36266),
            ("10.0.0.1", 22),
            0,
            0,
            1000,
            15057,
            7,
        ),
        (
            Family::Inet,
            State::Established,
            ("10.0.0.1", 22),
            ("10.0.0.2", 50312),
            0,
            0,
            0,
            15834,
            5,
        ),
        (
            Family::Inet6,
            State::Listen,
            ("::", 22),
            ("::", 0),
            0,
            128,
            0,
            413,
            4,
        ),
        (
            Family::Inet6,
            State::Established,
            ("fec0:42::24", 40520),
            ("fec0:42::1", 22),
            0,
            0,
            1000,
            1647,
            1,
        ),
        (
            Family::Inet6,
            State::Established,
            ("fec0:42::24", 22),
            ("fec0:42::1", 44248),
            0,
            0,
            0,
            14185,
            2,
        ),
    ];
    for (s, (fam, st, (la, lp), (ra, rp), rq, wq, uid, ino, ck)) in v.iter().zip(rows) {
        assert_eq!((s.table, s.family, s.state), (Table::Tcp, fam, st));
        assert_eq!(s.local.inet(), Some((ip(la), lp)));
        assert_eq!(s.peer.inet(), Some((ip(ra), rp)));
        assert_eq!(
            (s.recv_q, s.send_q, s.uid, s.inode, s.cookie),
            (rq, wq, Some(uid), ino, ck)
        );
        assert_eq!(s.shutdown.map(|x| x.0), Some(0));
    }
    let t = |i: usize| v[i].timer.map(|t| (t.kind, t.expires_ms));
    assert_eq!(t(0), None);
    assert_eq!(t(1), Some((TimerKind::Keepalive, 7_180_950)));
    assert_eq!(t(2), Some((TimerKind::Keepalive, 7_180_937)));
    assert_eq!(t(3), Some((TimerKind::Keepalive, 7_153_358)));
    assert_eq!(v[4].v6only, Some(true));
    assert_eq!(v[0].v6only, None);
}

/// Every message of the fixtures, cut at every length and with every
/// attribute length byte corrupted: decoding may fail but never panics,
/// and structural damage is always reported.
#[test]
fn decoder_never_panics_on_damaged_messages() {
    for name in [
        "tcp4_listen.bin",
        "tcp4_estab.bin",
        "tcp6_listeners.bin",
        "mptcp4.bin",
    ] {
        let data = fixture(name);
        for m in msg::Messages::new(&data) {
            let (h, payload, _) = m.unwrap();
            if h.ty != msg::SOCK_DIAG_BY_FAMILY {
                continue;
            }
            for cut in 0..payload.len() {
                for table in [Table::Tcp, Table::Mptcp] {
                    let _ = decode_inet(&payload[..cut], table);
                }
            }
            // Make the first attribute claim more than is there.
            let mut bad = payload.to_vec();
            bad[72..74].copy_from_slice(&u16::MAX.to_ne_bytes());
            let e = decode_inet(&bad, Table::Tcp).unwrap_err();
            assert!(e.to_string().contains("inet_diag_msg attribute"), "{e}");
            for i in 72..payload.len() {
                let mut b = payload.to_vec();
                b[i] = b[i].wrapping_add(0x55);
                let _ = decode_inet(&b, Table::Tcp);
            }
        }
    }
}

/// Short known attributes are skipped or zero-filled, never fatal.
#[test]
fn short_known_attributes_are_tolerated() {
    let data = fixture("tcp4_listen.bin");
    let (_, payload, _) = msg::Messages::new(&data).next().unwrap().unwrap();
    let mut p = payload[..72].to_vec();
    for ty in [2u16, 3, 4, 5, 6, 7, 8, 9, 10, 11, 15, 16, 17, 21, 22] {
        msg::push_attr(&mut p, ty, &[1]).unwrap();
    }
    msg::push_attr(&mut p, 200, &[1, 2, 3]).unwrap(); // unknown
    let s = decode_inet(&p, Table::Tcp).unwrap();
    assert_eq!(s.mark, None);
    assert_eq!(s.cgroup_id, None);
    assert_eq!(s.sockopt, None);
    assert_eq!(s.shutdown.map(|x| x.0), Some(1));
    assert_eq!(s.v6only, Some(true));
    let m = s.skmem.unwrap();
    assert_eq!((m.rmem_alloc, m.backlog, m.drops), (0, None, None));
    assert_eq!(
        s.tcp_info.as_deref().map(|t| (t.len, t.state)),
        Some((1, 1))
    );
    assert_eq!(s.bbr.map(|b| b.bw), Some(1));
    assert_eq!(s.cong.as_deref(), Some("\u{1}"));
}

/// NLM_F_DUMP_INTR on any message: every socket is still delivered, then
/// the dump reports itself as retryable.
#[test]
fn dump_intr_flag_is_reported_after_the_dump() {
    let mut data = fixture("tcp4_estab.bin");
    let flags = msg::NlHeader::parse(&data).unwrap().flags | msg::NLM_F_DUMP_INTR;
    data[6..8].copy_from_slice(&flags.to_ne_bytes());
    let mut n = 0;
    let r = dump_from_bytes(&data, &mut |_, _| {
        n += 1;
        Ok(ControlFlow::Continue(()))
    });
    assert_eq!(n, 2);
    let e = r.unwrap_err();
    assert!(matches!(e, Error::DumpInterrupted { .. }) && e.is_retryable());
}
