//! Live dumps: real sockets on 127.0.0.1 (port 0) in this namespace, or
//! fixed ports in private namespaces where exact whole-table answers are
//! needed.

use crate::common::*;
use sockq_model::{Family, Socket, State, StateSet, Table};
use sockq_netlink::{DiagSocket, Error, ext, procnet, replay};
use std::collections::BTreeSet;
use std::io::Write;
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::ops::ControlFlow;
use std::path::Path;
use std::sync::{Arc, Mutex};

fn inodes(v: &[Socket]) -> BTreeSet<u32> {
    v.iter().map(|s| s.inode).collect()
}

fn key(s: &Socket) -> (u32, State, String, String) {
    (
        s.inode,
        s.state,
        format!("{:?}", s.local),
        format!("{:?}", s.peer),
    )
}

#[test]
fn state_mask_and_bytecode_on_loopback() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let c = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let (srv, _) = l.accept().unwrap();
    let mut nl = DiagSocket::new().unwrap();
    let listen = StateSet::of(State::Listen);
    let estab = StateSet::of(State::Established);

    let v = dump(
        &mut nl,
        &request(Family::Inet, Table::Tcp, listen, 0, Some(sport_eq(port))),
    )
    .unwrap();
    assert_eq!(inodes(&v), BTreeSet::from([inode_of(&l)]));
    assert_eq!(v[0].local.inet().map(|x| x.1), Some(port));

    let both = or(sport_eq(port), dport_eq(port));
    let v = dump(
        &mut nl,
        &request(Family::Inet, Table::Tcp, estab, 0, Some(both)),
    )
    .unwrap();
    assert_eq!(inodes(&v), BTreeSet::from([inode_of(&c), inode_of(&srv)]));

    let v = dump(
        &mut nl,
        &request(Family::Inet, Table::Tcp, estab, 0, Some(sport_eq(port))),
    )
    .unwrap();
    assert_eq!(inodes(&v), BTreeSet::from([inode_of(&srv)]));
    let cport = c.local_addr().unwrap().port();
    assert_eq!(v[0].peer.inet().map(|x| x.1), Some(cport));

    // The listener is not in an ESTABLISHED-only dump, whatever the filter.
    let v = dump(
        &mut nl,
        &request(
            Family::Inet,
            Table::Tcp,
            listen.union(estab),
            0,
            Some(sport_eq(port)),
        ),
    )
    .unwrap();
    assert_eq!(inodes(&v), BTreeSet::from([inode_of(&l), inode_of(&srv)]));
}

#[test]
fn state_masks_in_a_private_namespace() {
    in_netns(|| {
        let l = TcpListener::bind("127.0.0.1:7000").unwrap();
        let c = TcpStream::connect("127.0.0.1:7000").unwrap();
        let (srv, _) = l.accept().unwrap();
        let u = UdpSocket::bind("127.0.0.1:7001").unwrap();
        let mut nl = DiagSocket::new().unwrap();
        let tcp = |nl: &mut DiagSocket, states| {
            inodes(&dump(nl, &request(Family::Inet, Table::Tcp, states, 0, None)).unwrap())
        };
        let (il, ic, is) = (inode_of(&l), inode_of(&c), inode_of(&srv));
        assert_eq!(tcp(&mut nl, StateSet::ALL), BTreeSet::from([il, ic, is]));
        assert_eq!(
            tcp(&mut nl, StateSet::of(State::Listen)),
            BTreeSet::from([il])
        );
        assert_eq!(tcp(&mut nl, StateSet::CONN), BTreeSet::from([ic, is]));
        assert_eq!(tcp(&mut nl, StateSet::of(State::TimeWait)), BTreeSet::new());
        let v6 = dump(
            &mut nl,
            &request(Family::Inet6, Table::Tcp, StateSet::ALL, 0, None),
        )
        .unwrap();
        assert!(v6.is_empty());
        let udp = dump(
            &mut nl,
            &request(Family::Inet, Table::Udp, StateSet::ALL, 0, None),
        )
        .unwrap();
        assert_eq!(inodes(&udp), BTreeSet::from([inode_of(&u)]));
        assert_eq!(udp[0].table, Table::Udp);
    });
}

#[test]
fn raw_sockets_come_from_proc_without_raw_diag() {
    in_netns(|| {
        let fd = raw_socket(libc::AF_INET, libc::SOCK_RAW, libc::IPPROTO_ICMP).unwrap();
        let ino = inode_of(&fd);
        let mut nl = DiagSocket::new().unwrap();
        let r = dump(
            &mut nl,
            &request(Family::Inet, Table::Raw, StateSet::ALL, 0, None),
        );
        match r {
            // No raw_diag: DONE carried -ENOENT.
            Err(Error::ProtocolMissing { what }) => {
                assert!(!Path::new("/sys/module/raw_diag").exists());
                assert!(what.contains("raw"), "{what}");
            }
            Ok(v) => assert_eq!(inodes(&v), BTreeSet::from([ino])),
            Err(e) => panic!("raw dump: {e}"),
        }
        // The /proc fallback of this thread's namespace.
        let mut v = Vec::new();
        procnet::read_inet(
            Table::Raw,
            Family::Inet,
            StateSet::ALL,
            Path::new("/proc/thread-self"),
            &mut |s| {
                v.push(s.clone());
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        assert_eq!(inodes(&v), BTreeSet::from([ino]));
        assert_eq!(
            (v[0].table, v[0].state, v[0].raw_protocol),
            (Table::Raw, State::Close, Some(1))
        );
        assert_eq!(v[0].v6only, None);
        // The state filter is applied by read_inet.
        let mut n = 0;
        procnet::read_inet(
            Table::Raw,
            Family::Inet,
            StateSet::of(State::Listen),
            Path::new("/proc/thread-self"),
            &mut |_| {
                n += 1;
                ControlFlow::Continue(())
            },
        )
        .unwrap();
        assert_eq!(n, 0);
        // This kernel has no sctp_diag either, usually: either answer is fine,
        // but it must not be a hard error.
        let r = dump(
            &mut nl,
            &request(Family::Inet, Table::Sctp, StateSet::ALL, 0, None),
        );
        assert!(
            matches!(r, Ok(_) | Err(Error::ProtocolMissing { .. })),
            "{r:?}"
        );
    });
}

#[test]
fn proc_and_netlink_agree() {
    in_netns(|| {
        let l = TcpListener::bind("127.0.0.1:7100").unwrap();
        let c = TcpStream::connect("127.0.0.1:7100").unwrap();
        let (srv, _) = l.accept().unwrap();
        let l6 = TcpListener::bind("[::1]:7101").unwrap();
        let u6 = UdpSocket::bind("[::1]:7102").unwrap();
        let mut nl = DiagSocket::new().unwrap();
        for (table, family) in [
            (Table::Tcp, Family::Inet),
            (Table::Tcp, Family::Inet6),
            (Table::Udp, Family::Inet6),
        ] {
            let live = dump(&mut nl, &request(family, table, StateSet::ALL, 0, None)).unwrap();
            let mut from_proc = Vec::new();
            procnet::read_inet(
                table,
                family,
                StateSet::ALL,
                Path::new("/proc/thread-self"),
                &mut |s| {
                    from_proc.push(s.clone());
                    ControlFlow::Continue(())
                },
            )
            .unwrap();
            let a: BTreeSet<_> = live.iter().map(key).collect();
            let b: BTreeSet<_> = from_proc.iter().map(key).collect();
            assert_eq!(a, b, "{table} {family}");
            assert!(!a.is_empty());
        }
        drop((l, c, srv, l6, u6));
    });
}

#[test]
fn mptcp_listener_through_the_protocol_attribute() {
    let fd = match raw_socket(libc::AF_INET, libc::SOCK_STREAM, 262) {
        Ok(fd) => fd,
        Err(e) => {
            // CI's kernel has MPTCP: there a missing one is a failure, not a skip.
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "no MPTCP on this kernel ({e}), and CI=true forbids skipping"
            );
            println!(
                "skipping mptcp_listener_through_the_protocol_attribute: no MPTCP on this kernel ({e})"
            );
            return;
        }
    };
    let port = bind_listen_v4(&fd, 0).unwrap();
    let mut nl = DiagSocket::new().unwrap();
    let req = request(
        Family::Inet,
        Table::Mptcp,
        StateSet::of(State::Listen),
        ext::INFO,
        Some(sport_eq(port)),
    );
    let v = dump(&mut nl, &req).unwrap();
    assert_eq!(inodes(&v), BTreeSet::from([inode_of(&fd)]));
    assert_eq!(v[0].table, Table::Mptcp);
    assert!(v[0].mptcp_info.is_some() && v[0].tcp_info.is_none());
    // Through the TCP table the same port shows the listener's TCP subflow
    // (same inode on 6.18), decoded as TCP.
    let t = dump(
        &mut nl,
        &request(
            Family::Inet,
            Table::Tcp,
            StateSet::of(State::Listen),
            ext::INFO,
            Some(sport_eq(port)),
        ),
    )
    .unwrap();
    assert!(
        t.iter()
            .all(|s| s.table == Table::Tcp && s.mptcp_info.is_none())
    );
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn break_drains_and_capture_replays() {
    in_netns(|| {
        let many: Vec<_> = (7200..7500)
            .map(|p| TcpListener::bind(("127.0.0.1", p)).unwrap())
            .collect();
        let mut nl = DiagSocket::new().unwrap();
        let req = request(
            Family::Inet,
            Table::Tcp,
            StateSet::ALL,
            ext::INFO | ext::SKMEMINFO,
            None,
        );
        // Stop after the first socket: the rest of the dump is drained...
        let mut n = 0;
        nl.dump_inet(&req, &mut |_| {
            n += 1;
            ControlFlow::Break(())
        })
        .unwrap();
        assert_eq!(n, 1);
        // ...so the same socket can dump again, here with capture on.
        let cap = Shared::default();
        nl.capture_to(Box::new(cap.clone()));
        let live = dump(&mut nl, &req).unwrap();
        assert!(nl.take_capture().is_some());
        assert_eq!(live.len(), many.len());
        let bytes = cap.0.lock().unwrap().clone();
        assert!(bytes.len() > 32 * 1024, "expected several datagrams");
        let mut again = Vec::new();
        replay(&bytes, &mut |s| {
            again.push(s.clone());
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(again, live);
    });
}

#[test]
fn requests_the_kernel_would_drop_are_refused() {
    let mut nl = DiagSocket::new().unwrap();
    let mut bytes = request(Family::Inet, Table::Tcp, StateSet::ALL, 0, None)
        .to_bytes(1)
        .unwrap();
    bytes.push(0); // nlmsg_len no longer matches: the kernel would ignore it
    let r = nl.dump_raw(&bytes, &mut |_, _| Ok(ControlFlow::Continue(())));
    assert!(matches!(r, Err(Error::Invalid(_))), "{r:?}");
    // Bad bytecode: EINVAL from the kernel, and the socket still works.
    let bad = request(
        Family::Inet,
        Table::Tcp,
        StateSet::ALL,
        0,
        Some(vec![99, 4, 8, 0]),
    );
    let r = dump(&mut nl, &bad);
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
    let ok = dump(
        &mut nl,
        &request(
            Family::Inet,
            Table::Tcp,
            StateSet::of(State::Listen),
            0,
            Some(sport_eq(1)),
        ),
    );
    assert!(ok.is_ok());
}

/// A dump of many datagrams is received on a second thread while the
/// consumer works: a slow consumer still gets every socket, once, and the
/// socket serves the next dump.
#[test]
fn read_ahead_delivers_every_socket_once_to_a_slow_consumer() {
    in_netns(|| {
        let many: Vec<_> = (0..2000)
            .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
            .collect();
        let want: BTreeSet<u32> = many.iter().map(inode_of).collect();
        let mut nl = DiagSocket::new().unwrap();
        let req = request(Family::Inet, Table::Tcp, StateSet::ALL, ext::INFO, None);
        for slow in [true, false] {
            let mut got = Vec::new();
            nl.dump_inet(&req, &mut |s| {
                if slow && got.len() % 250 == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                }
                got.push(s.inode);
                ControlFlow::Continue(())
            })
            .unwrap();
            let set: BTreeSet<u32> = got.iter().copied().collect();
            assert_eq!(got.len(), set.len(), "a socket was delivered twice");
            assert_eq!(set, want);
        }
    });
}

/// The both-families walk gives what the two per-family dumps give, in
/// their order (IPv4, then IPv6), whether the IPv6 replies are held
/// compactly or, past the budget, dumped again in a walk of their own.
#[test]
fn both_families_in_one_walk_match_two_dumps_at_any_budget() {
    in_netns(|| {
        let (mut keep, mut listeners) = (Vec::new(), Vec::new());
        for addr in ["127.0.0.1:0", "[::1]:0"] {
            let l = TcpListener::bind(addr).unwrap();
            for _ in 0..150 {
                let c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
                let (s, _) = l.accept().unwrap();
                keep.push((c, s));
            }
            keep.push((
                TcpStream::connect(l.local_addr().unwrap()).unwrap(),
                l.accept().unwrap().0,
            ));
            listeners.push(l);
        }
        let mut nl = DiagSocket::new().unwrap();
        let req = |family| request(family, Table::Tcp, StateSet::ALL, ext::INFO, None);
        let mut want = dump(&mut nl, &req(Family::Inet)).unwrap();
        want.extend(dump(&mut nl, &req(Family::Inet6)).unwrap());
        assert_eq!(
            want.iter().filter(|s| s.family == Family::Inet6).count(),
            303,
            "the IPv6 sockets are there"
        );
        let want: Vec<_> = want.iter().map(key).collect();
        // Held, held until the budget runs out part way, never held.
        for budget in [sockq_netlink::HOLD_BUDGET, 4000, 0] {
            let mut got = Vec::new();
            nl.dump_tcp_both_within(&req(Family::Inet), budget, &mut |s| {
                assert!(s.tcp_info.is_some(), "tcp_info decoded: {s:?}");
                got.push(key(s));
                ControlFlow::Continue(())
            })
            .unwrap();
            assert_eq!(got, want, "budget {budget}");
        }
    });
}
