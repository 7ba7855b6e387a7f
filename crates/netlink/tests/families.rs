//! unix, packet, netlink, vsock, xdp and tipc decoding: fixtures captured on
//! Linux 6.18 (see fixtures/families/README.md), live dumps of sockets made
//! here, and malformed inputs.
#![allow(clippy::unwrap_used, clippy::expect_used, unsafe_code)]

use sockq_model::{Detail, Endpoint, Socket, State, Table, UnixName};
use sockq_netlink::msg::{NLM_F_MULTI, NLMSG_DONE, NlHeader, SOCK_DIAG_BY_FAMILY};
use sockq_netlink::{DiagSocket, Error, dump_from_bytes, nl, other, packet, unix};
use std::ops::ControlFlow;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{SocketAddr, UnixDatagram, UnixListener, UnixStream};

const FIX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/families");
const LISTEN_PATH: &str = "/tmp/sockq-families-listen.sock";
const ABSTRACT: &[u8] = b"sockq-families-abstract";
const ETH_P_ALL: u16 = 3;
const ETH_P_IP: u16 = 0x0800;

fn inode_of(fd: RawFd) -> u32 {
    std::fs::metadata(format!("/proc/self/fd/{fd}"))
        .unwrap()
        .ino() as u32
}

/// The sockets of the unix fixture, kept open while dumping.
struct UnixSet {
    pair: (UnixStream, UnixStream),
    _listener: UnixListener,
    pending: UnixStream,
    abstract_dgram: UnixDatagram,
    unnamed: UnixDatagram,
    listener_ino: u32,
}

/// Makes the unix fixture's sockets, listening on `path` and bound to the
/// abstract `name`.
fn make_unix(path: &str, name: &[u8]) -> UnixSet {
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).unwrap();
    let pending = UnixStream::connect(path).unwrap();
    let pair = UnixStream::pair().unwrap();
    let addr = SocketAddr::from_abstract_name(name).unwrap();
    let abstract_dgram = UnixDatagram::bind_addr(&addr).unwrap();
    let unnamed = UnixDatagram::unbound().unwrap();
    let listener_ino = inode_of(listener.as_raw_fd());
    UnixSet {
        pair,
        _listener: listener,
        pending,
        abstract_dgram,
        unnamed,
        listener_ino,
    }
}

impl UnixSet {
    fn inodes(&self) -> Vec<u32> {
        vec![
            inode_of(self.pair.0.as_raw_fd()),
            inode_of(self.pair.1.as_raw_fd()),
            self.listener_ino,
            inode_of(self.pending.as_raw_fd()),
            inode_of(self.abstract_dgram.as_raw_fd()),
            inode_of(self.unnamed.as_raw_fd()),
        ]
    }
}

/// An AF_PACKET socket of `ty` for `proto`, bound to lo when `bind_lo`.
fn packet_socket(ty: i32, proto: u16, bind_lo: bool) -> OwnedFd {
    // SAFETY: plain socket(2); the fd is owned right away.
    let fd = unsafe { libc::socket(libc::AF_PACKET, ty, i32::from(proto.to_be())) };
    assert!(
        fd >= 0,
        "socket(AF_PACKET): {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: fd is a fresh, valid descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    if bind_lo {
        let lo = sockq_netlink::interface_index("lo").unwrap();
        // SAFETY: sockaddr_ll is plain data; zero is a valid start.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = proto.to_be();
        sll.sll_ifindex = lo as i32;
        // SAFETY: the address points to a sockaddr_ll of the given size.
        let r = unsafe {
            libc::bind(
                fd.as_raw_fd(),
                (&raw const sll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as u32,
            )
        };
        assert_eq!(r, 0, "bind: {}", std::io::Error::last_os_error());
    }
    fd
}

/// Dumps with `dump` and keeps the messages whose inode is in `keep`,
/// re-framed as netlink messages and ended by NLMSG_DONE.
fn capture(
    req: &[u8],
    decode: fn(&[u8]) -> Result<Socket, Error>,
    keep: &dyn Fn(&Socket) -> bool,
) -> Vec<u8> {
    let mut nl = DiagSocket::new().unwrap();
    let mut out = Vec::new();
    nl.dump_raw(req, &mut |ty, payload| {
        if ty == SOCK_DIAG_BY_FAMILY && keep(&decode(payload)?) {
            let mut m = vec![0u8; 16];
            NlHeader {
                len: 16 + payload.len() as u32,
                ty,
                flags: NLM_F_MULTI,
                seq: 1,
                pid: 0,
            }
            .write(&mut m);
            m.extend_from_slice(payload);
            m.resize(m.len().next_multiple_of(4), 0);
            out.extend_from_slice(&m);
        }
        Ok(ControlFlow::Continue(()))
    })
    .unwrap();
    let mut done = vec![0u8; 20];
    NlHeader {
        len: 20,
        ty: NLMSG_DONE,
        flags: NLM_F_MULTI,
        seq: 1,
        pid: 0,
    }
    .write(&mut done);
    out.extend_from_slice(&done);
    out
}

fn decode_file(name: &str, decode: fn(&[u8]) -> Result<Socket, Error>) -> Vec<Socket> {
    let data = std::fs::read(format!("{FIX}/{name}")).unwrap();
    let mut v = Vec::new();
    dump_from_bytes(&data, &mut |ty, p| {
        assert_eq!(ty, SOCK_DIAG_BY_FAMILY);
        v.push(decode(p)?);
        Ok(ControlFlow::Continue(()))
    })
    .unwrap();
    v
}

/// Regenerates the fixtures: `cargo test -p sockq-netlink --test families
/// -- --ignored capture_fixtures` (as root).
#[test]
#[ignore]
fn capture_fixtures() {
    std::fs::create_dir_all(FIX).unwrap();
    let set = make_unix(LISTEN_PATH, ABSTRACT);
    let inodes = set.inodes();
    let req = unix::unix_request(0xffff_ffff, 0x7f);
    let bytes = capture(&req, unix::decode_unix, &|s| inodes.contains(&s.inode));
    std::fs::write(format!("{FIX}/unix.bin"), bytes).unwrap();

    let p = [
        packet_socket(libc::SOCK_RAW, ETH_P_ALL, true),
        packet_socket(libc::SOCK_RAW, ETH_P_IP, true),
        packet_socket(libc::SOCK_DGRAM, ETH_P_IP, false),
    ];
    let pino: Vec<u32> = p.iter().map(|f| inode_of(f.as_raw_fd())).collect();
    let req = packet::packet_request(packet::show::DEFAULT | packet::show::MCLIST);
    let bytes = capture(&req, packet::decode_packet, &|s| pino.contains(&s.inode));
    std::fs::write(format!("{FIX}/packet.bin"), bytes).unwrap();

    // A route socket in RTMGRP_LINK | RTMGRP_IPV4_IFADDR (groups 1 and 5).
    let mut route = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_ROUTE).unwrap();
    route.bind(&netlink_sys::SocketAddr::new(0, 0x11)).unwrap();
    let rino = inode_of(route.as_raw_fd());
    let req = nl::netlink_request(nl::NDIAG_PROTO_ALL, nl::show::DEFAULT | nl::show::FLAGS);
    let bytes = capture(&req, nl::decode_netlink, &|s| {
        s.inode == rino || matches!(s.local, Endpoint::Netlink { portid: 0, .. })
    });
    std::fs::write(format!("{FIX}/netlink.bin"), bytes).unwrap();
    drop(set);
    let _ = std::fs::remove_file(LISTEN_PATH);
}

fn check_unix(v: &[Socket], listen_path: &[u8], abstract_name: &[u8], backlog: u32) {
    let by_name = |n: &UnixName| {
        v.iter()
            .find(|s| s.local.unix_name() == Some(n))
            .unwrap_or_else(|| panic!("no socket named {n:?}"))
    };
    // The listener: accept queue 1 (the pending client), the backlog, the
    // pending connection's inode in ICONS, a VFS inode. std listens with
    // backlog -1, which the kernel turns into net.core.somaxconn.
    let l = by_name(&UnixName::Path(listen_path.to_vec()));
    assert_eq!((l.table, l.state), (Table::UnixStream, State::Listen));
    assert_eq!((l.recv_q, l.send_q), (1, backlog));
    assert_eq!(l.uid, Some(0));
    assert!(l.skmem.is_some());
    let Detail::Unix(d) = &l.detail else {
        panic!("{:?}", l.detail)
    };
    assert!(d.vfs.is_some_and(|(ino, _)| ino != 0));
    let pending = d.pending.clone().unwrap();
    assert_eq!(pending.len(), 1);
    // ICONS lists the peers of the embryos in the accept queue: the pending
    // client's inode. The client's own peer is the embryo, which is not in
    // the dump (an embryo has no inode yet: 0).
    let client = v
        .iter()
        .find(|s| s.inode == pending[0])
        .expect("pending client");
    assert_eq!(client.table, Table::UnixStream);
    assert!(matches!(client.peer, Endpoint::Unix { inode, .. } if inode == 0));
    assert_eq!(client.state, State::Established);
    assert_eq!(client.shutdown.map(|s| s.arrow()), Some("<->"));

    // The abstract datagram socket: CLOSE, name without the NUL, no peer.
    let a = by_name(&UnixName::Abstract(abstract_name.to_vec()));
    assert_eq!((a.table, a.state), (Table::UnixDgram, State::Close));
    assert_eq!(
        a.peer,
        Endpoint::Unix {
            name: None,
            inode: 0
        }
    );
    assert_eq!(
        a.local.unix_name().unwrap().display_bytes(),
        [b"@", abstract_name].concat()
    );

    // The stream pair: unnamed, established, each the other's peer.
    let pair: Vec<&Socket> = v
        .iter()
        .filter(|s| {
            s.table == Table::UnixStream
                && s.local.unix_name().is_none()
                && s.state == State::Established
                && !std::ptr::eq(*s, client)
        })
        .collect();
    assert_eq!(pair.len(), 2, "{pair:?}");
    assert_eq!(
        pair[0].peer,
        Endpoint::Unix {
            name: None,
            inode: pair[1].inode
        }
    );
    assert_eq!(
        pair[1].peer,
        Endpoint::Unix {
            name: None,
            inode: pair[0].inode
        }
    );
    assert!(pair.iter().all(|s| s.cookie != 0 && s.inode != 0));

    // The unbound datagram socket: no name at all.
    assert!(v.iter().any(|s| s.table == Table::UnixDgram
        && s.local.unix_name().is_none()
        && s.state == State::Close));
}

#[test]
fn unix_fixture() {
    let mut v = decode_file("unix.bin", unix::decode_unix);
    assert_eq!(v.len(), 6);
    check_unix(&v, LISTEN_PATH.as_bytes(), ABSTRACT, 4096);
    // Peer names: the pending client's peer is the embryo (not in the
    // fixture), so it stays unnamed; nothing else has a named peer.
    unix::fill_unix_peer_names(&mut v);
    assert!(v.iter().all(|s| s.peer.unix_name().is_none()));
}

#[test]
fn unix_live_and_peer_names() {
    // Names of our own, so that a concurrent capture cannot collide.
    let path = format!("/tmp/sockq-families-live-{}.sock", std::process::id());
    let name = format!("sockq-families-live-{}", std::process::id()).into_bytes();
    let set = make_unix(&path, &name);
    let mut nl = DiagSocket::new().unwrap();
    let mut v = Vec::new();
    nl.dump_unix(0xffff_ffff, 0x7f, &mut |s| {
        v.push(s.clone());
        ControlFlow::Continue(())
    })
    .unwrap();
    let ours: Vec<u32> = set.inodes();
    let mine: Vec<Socket> = v
        .iter()
        .filter(|s| ours.contains(&s.inode))
        .cloned()
        .collect();
    assert_eq!(mine.len(), 6);
    let somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn").unwrap();
    let backlog: u32 = somaxconn.trim().parse().unwrap();
    check_unix(&mine, path.as_bytes(), &name, backlog);
    // A client connected to a named datagram socket gets its peer's name.
    let client = UnixDatagram::unbound().unwrap();
    client
        .connect_addr(&SocketAddr::from_abstract_name(&name).unwrap())
        .unwrap();
    let cino = inode_of(client.as_raw_fd());
    let mut all = Vec::new();
    nl.dump_unix(0xffff_ffff, unix::show::DEFAULT, &mut |s| {
        all.push(s.clone());
        ControlFlow::Continue(())
    })
    .unwrap();
    unix::fill_unix_peer_names(&mut all);
    let c = all.iter().find(|s| s.inode == cino).unwrap();
    assert_eq!(c.peer.unix_name(), Some(&UnixName::Abstract(name.clone())));
    // Breaking stops the callbacks and leaves the socket usable.
    let mut n = 0;
    nl.dump_unix(0xffff_ffff, 0, &mut |_| {
        n += 1;
        ControlFlow::Break(())
    })
    .unwrap();
    assert_eq!(n, 1);
    drop(set);
    let _ = std::fs::remove_file(&path);
}

fn check_packet(v: &[Socket], lo: u32) {
    assert_eq!(v.len(), 3);
    let find = |t: Table, proto: u16| {
        v.iter()
            .find(|s| {
                s.table == t
                    && matches!(s.local, Endpoint::Packet { protocol, .. } if protocol == proto)
            })
            .unwrap_or_else(|| panic!("no {t} {proto:#x}"))
    };
    for (t, proto, ifindex) in [
        (Table::PacketRaw, ETH_P_ALL, lo),
        (Table::PacketRaw, ETH_P_IP, lo),
        (Table::PacketDgram, ETH_P_IP, 0),
    ] {
        let s = find(t, proto);
        assert_eq!(
            s.local,
            Endpoint::Packet {
                protocol: proto,
                ifindex
            }
        );
        assert_eq!(s.state, State::Close);
        assert_eq!(s.uid, Some(0));
        assert_eq!(s.send_q, 0);
        let m = s.skmem.unwrap();
        assert_eq!(s.recv_q, m.rmem_alloc);
        assert!(m.rcvbuf > 0);
        let Detail::Packet(d) = &s.detail else {
            panic!()
        };
        let info = d.info.unwrap();
        assert_eq!(info.ifindex, ifindex);
        assert_eq!(info.flags & 1, 1, "running");
        assert!(d.rx_ring.is_none() && d.fanout.is_none() && d.filter.is_none());
    }
}

#[test]
fn packet_fixture() {
    // lo was interface 1 where the fixture was captured.
    check_packet(&decode_file("packet.bin", packet::decode_packet), 1);
}

#[test]
fn packet_live() {
    let p = [
        packet_socket(libc::SOCK_RAW, ETH_P_ALL, true),
        packet_socket(libc::SOCK_RAW, ETH_P_IP, true),
        packet_socket(libc::SOCK_DGRAM, ETH_P_IP, false),
    ];
    let pino: Vec<u32> = p.iter().map(|f| inode_of(f.as_raw_fd())).collect();
    let mut v = Vec::new();
    DiagSocket::new()
        .unwrap()
        .dump_packet(packet::show::DEFAULT, &mut |s| {
            if pino.contains(&s.inode) {
                v.push(s.clone());
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    check_packet(&v, sockq_netlink::interface_index("lo").unwrap());
}

#[test]
fn netlink_fixture() {
    let v = decode_file("netlink.bin", nl::decode_netlink);
    // The kernel's own sockets: rtnl (0) and sock_diag (4) at least.
    let kernel = |p: u8| {
        v.iter().any(|s| {
            s.local
                == Endpoint::Netlink {
                    protocol: p,
                    portid: 0,
                }
        })
    };
    assert!(kernel(0) && kernel(4));
    // The route socket in groups 1 and 5: bitmap word 0x11.
    let r = v
        .iter()
        .find(|s| matches!(s.local, Endpoint::Netlink { protocol: 0, portid } if portid != 0))
        .unwrap();
    let Detail::Netlink(d) = &r.detail else {
        panic!()
    };
    assert_eq!(d.groups.first(), Some(&0x11));
    assert_eq!(d.sock_type, 2, "netlink-sys opens SOCK_DGRAM");
    assert!(d.flags.is_some());
    assert_eq!(r.peer, Endpoint::None);
    assert!(
        v.iter()
            .all(|s| s.table == Table::Netlink && s.state == State::Close)
    );
    assert!(
        v.iter()
            .all(|s| s.skmem.is_some_and(|m| m.rmem_alloc == s.recv_q))
    );
}

#[test]
fn netlink_live() {
    let mut route = netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_ROUTE).unwrap();
    route.bind(&netlink_sys::SocketAddr::new(0, 0x11)).unwrap();
    let rino = inode_of(route.as_raw_fd());
    let mut mine = None;
    let mut n = 0;
    DiagSocket::new()
        .unwrap()
        .dump_netlink(nl::NDIAG_PROTO_ALL, nl::show::DEFAULT, &mut |s| {
            n += 1;
            if s.inode == rino {
                mine = Some(s.clone());
            }
            ControlFlow::Continue(())
        })
        .unwrap();
    assert!(n > 2);
    let s = mine.unwrap();
    assert!(matches!(s.local, Endpoint::Netlink { protocol: 0, portid } if portid != 0));
    let Detail::Netlink(d) = &s.detail else {
        panic!()
    };
    assert_eq!(d.groups.first(), Some(&0x11));
}

/// vsock, xdp and tipc: each either dumps or says the module is missing.
#[test]
fn other_families_dump_or_report_missing() {
    let mut nl = DiagSocket::new().unwrap();
    let mut seen = 0;
    let mut cb = |_: &Socket| {
        seen += 1;
        ControlFlow::Continue(())
    };
    for r in [
        nl.dump_vsock(0xffff_ffff, &mut cb),
        nl.dump_xdp(other::xdp_show::DEFAULT, &mut cb),
        nl.dump_tipc(0xffff_ffff, &mut cb),
    ] {
        match r {
            Ok(()) => println!("dumped"),
            Err(Error::ProtocolMissing { what }) => println!("missing: {what}"),
            Err(e) => panic!("{e}"),
        }
    }
    // The socket is still usable afterwards.
    nl.dump_unix(0xffff_ffff, 0, &mut |_| ControlFlow::Continue(()))
        .unwrap();
}

#[test]
fn vsock_and_xdp_synthetic() {
    // vsock_diag_msg: stream, LISTEN, shutdown 0, src cid 2 port 1234,
    // dst -1:-1, ino 77, cookie 5.
    let mut m = vec![40u8, 1, 10, 0];
    for v in [2u32, 1234, u32::MAX, u32::MAX, 77, 5, 0] {
        m.extend_from_slice(&v.to_ne_bytes());
    }
    let s = other::decode_vsock(&m).unwrap();
    assert_eq!(
        (s.table, s.state, s.inode, s.cookie),
        (Table::VsockStream, State::Listen, 77, 5)
    );
    assert_eq!(s.local, Endpoint::Vsock { cid: 2, port: 1234 });
    assert!(other::decode_vsock(&m[..31]).is_err());

    // xdp_diag_msg + INFO(ifindex 1, queue 3) + RX_RING(2048) + UID(0).
    let mut x = vec![44u8, 3, 0, 0];
    for v in [9u32, 1, 0] {
        x.extend_from_slice(&v.to_ne_bytes());
    }
    sockq_netlink::msg::push_attr(&mut x, 1, &[1, 0, 0, 0, 3, 0, 0, 0]).unwrap();
    sockq_netlink::msg::push_attr(&mut x, 3, &2048u32.to_ne_bytes()).unwrap();
    sockq_netlink::msg::push_attr(&mut x, 2, &0u32.to_ne_bytes()).unwrap();
    let s = other::decode_xdp(&x).unwrap();
    assert_eq!(
        s.local,
        Endpoint::Xdp {
            ifindex: 1,
            queue: 3
        }
    );
    assert_eq!((s.inode, s.uid), (9, Some(0)));
    let Detail::Xdp(d) = &s.detail else { panic!() };
    assert_eq!(d.rx_ring, Some(2048));

    // tipc: TIPC_NLA_SOCK { ADDR, REF, TYPE=RDM, STATE=7, INO }.
    let mut inner = Vec::new();
    for (t, v) in [(1u16, 0x0100_1001u32), (2, 42), (6, 4), (9, 7), (7, 99)] {
        sockq_netlink::msg::push_attr(&mut inner, t, &v.to_ne_bytes()).unwrap();
    }
    let mut t = Vec::new();
    sockq_netlink::msg::push_attr(&mut t, 0x8000 | 2, &inner).unwrap();
    let s = other::decode_tipc(&t).unwrap();
    assert_eq!(
        s.local,
        Endpoint::Tipc {
            node: 0x0100_1001,
            reference: 42
        }
    );
    assert_eq!((s.inode, s.state), (99, State::Close));
    assert!(other::decode_tipc(&[]).is_err());
}

/// Every prefix of every fixture message, and byte-flipped copies, decode
/// to a socket or an error: never a panic.
#[test]
fn truncated_and_garbage_never_panic() {
    type Dec = fn(&[u8]) -> Result<Socket, Error>;
    let files: [(&str, Dec); 3] = [
        ("unix.bin", unix::decode_unix),
        ("packet.bin", packet::decode_packet),
        ("netlink.bin", nl::decode_netlink),
    ];
    let decoders: [Dec; 6] = [
        unix::decode_unix,
        packet::decode_packet,
        nl::decode_netlink,
        other::decode_vsock,
        other::decode_xdp,
        other::decode_tipc,
    ];
    for (name, dec) in files {
        let data = std::fs::read(format!("{FIX}/{name}")).unwrap();
        let mut payloads = Vec::new();
        dump_from_bytes(&data, &mut |_, p| {
            payloads.push(p.to_vec());
            Ok(ControlFlow::Continue(()))
        })
        .unwrap();
        for p in &payloads {
            assert!(dec(p).is_ok());
            // Cutting inside the header is an error; cutting inside an
            // attribute is an error too (its length runs past the end).
            assert!(matches!(dec(&p[..3]), Err(Error::Truncated { .. })));
            for cut in 0..p.len() {
                let _ = dec(&p[..cut]);
            }
            let mut seed = 0x9e37_79b9u32;
            for _ in 0..200 {
                let mut q = p.clone();
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let i = seed as usize % q.len();
                q[i] ^= (seed >> 8) as u8 | 1;
                for d in decoders {
                    let _ = d(&q);
                }
            }
        }
        // An attribute claiming more than is there is Truncated.
        let mut p = payloads[0].clone();
        let hl = match name {
            "netlink.bin" => 28,
            _ => 16,
        };
        p[hl] = 0xff;
        p[hl + 1] = 0x0f;
        assert!(matches!(dec(&p), Err(Error::Truncated { .. })), "{name}");
    }
}
