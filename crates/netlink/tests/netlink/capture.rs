//! Captures the byte fixtures in `tests/fixtures/` from the running kernel.
//! Run as root: `cargo test -p sockq-netlink --test netlink -- --ignored capture`.
//! Everything happens in private network namespaces with fixed ports, so
//! the files hold only the sockets made here.

use crate::common::*;
use sockq_model::{Family, State, StateSet, Table};
use sockq_netlink::{DiagSocket, InetRequest, msg};
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::ops::ControlFlow;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A writer that keeps the datagrams, one Vec each.
#[derive(Clone, Default)]
struct Datagrams(Arc<Mutex<Vec<Vec<u8>>>>);

impl Write for Datagrams {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs one dump with capture on and returns (result, datagrams).
fn capture(req: &InetRequest) -> (Result<usize, sockq_netlink::Error>, Vec<Vec<u8>>) {
    let mut nl = DiagSocket::new().expect("sock_diag socket");
    let d = Datagrams::default();
    nl.capture_to(Box::new(d.clone()));
    let mut n = 0;
    let r = nl.dump_inet(req, &mut |_| {
        n += 1;
        ControlFlow::Continue(())
    });
    let grams = d.0.lock().expect("lock").clone();
    (r.map(|()| n), grams)
}

fn save(name: &str, grams: &[Vec<u8>]) {
    let bytes: Vec<u8> = grams.concat();
    std::fs::write(fixture_dir().join(name), &bytes).expect("write fixture");
    eprintln!("{name}: {} bytes in {} datagrams", bytes.len(), grams.len());
}

/// Rewrites the INFO attribute of one message to `info` and fixes lengths.
fn with_info(message: &[u8], info: &[u8]) -> Vec<u8> {
    let payload = &message[16..];
    let mut out = message[..16 + 72].to_vec();
    for a in msg::attrs(&payload[72..], "fixture") {
        let (ty, data) = a.expect("attr");
        let data = if ty == 2 { info } else { data };
        msg::push_attr(&mut out, ty, data).expect("attr fits");
    }
    let len = out.len() as u32;
    out[0..4].copy_from_slice(&len.to_ne_bytes());
    out
}

/// The DONE message that ends a captured dump.
fn done_of(grams: &[Vec<u8>]) -> Vec<u8> {
    let last = grams.last().expect("a datagram");
    let (h, _, at) = msg::Messages::new(last)
        .filter_map(Result::ok)
        .find(|(h, _, _)| h.ty == msg::NLMSG_DONE)
        .expect("DONE");
    last[at..at + h.len as usize].to_vec()
}

#[test]
#[ignore = "writes tests/fixtures; run by hand as root"]
fn capture_fixtures() {
    in_netns(|| {
        // LISTEN, v4, every extension.
        let l = TcpListener::bind("127.0.0.1:5000").expect("bind");
        let req = request(Family::Inet, Table::Tcp, StateSet::ALL, ALL_EXT, None);
        let (r, g) = capture(&req);
        assert_eq!(r.expect("dump"), 1);
        save("tcp4_listen.bin", &g);
        drop(l);

        // ESTAB pair with 100 unread bytes on the server side.
        let l = TcpListener::bind("127.0.0.1:5001").expect("bind");
        let mut c = TcpStream::connect("127.0.0.1:5001").expect("connect");
        let (srv, _) = l.accept().expect("accept");
        c.write_all(&[7u8; 100]).expect("write");
        std::thread::sleep(Duration::from_millis(50));
        let req = request(
            Family::Inet,
            Table::Tcp,
            StateSet::of(State::Established),
            ALL_EXT,
            None,
        );
        let (r, g) = capture(&req);
        assert_eq!(r.expect("dump"), 2);
        save("tcp4_estab.bin", &g);

        // A cut copy, and tcp_info of other lengths, from the first message.
        let all = g.concat();
        let first_len = msg::NlHeader::parse(&all).expect("hdr").len as usize;
        std::fs::write(fixture_dir().join("truncated.bin"), &all[..first_len + 40]).expect("write");
        let first = &all[..first_len];
        let info = msg::attrs(&first[16 + 72..], "fixture")
            .filter_map(Result::ok)
            .find(|(ty, _)| *ty == 2)
            .map(|(_, d)| d.to_vec())
            .expect("INFO attribute");
        assert_eq!(info.len(), 280, "this kernel's tcp_info");
        let done = done_of(&g);
        let mut short = with_info(first, &info[..144]);
        short.extend_from_slice(&done);
        std::fs::write(fixture_dir().join("tcpinfo_short.bin"), &short).expect("write");
        let mut long_info = info.clone();
        long_info.extend_from_slice(&[0xaa; 40]);
        let mut long = with_info(first, &long_info);
        long.extend_from_slice(&done);
        std::fs::write(fixture_dir().join("tcpinfo_long.bin"), &long).expect("write");
        drop((c, srv, l));

        // TIME-WAIT: the client closes first.
        let l = TcpListener::bind("127.0.0.1:5002").expect("bind");
        let c = TcpStream::connect("127.0.0.1:5002").expect("connect");
        let (mut srv, _) = l.accept().expect("accept");
        c.shutdown(Shutdown::Both).expect("shutdown");
        drop(c);
        let mut sink = Vec::new();
        srv.read_to_end(&mut sink).expect("eof");
        drop(srv);
        std::thread::sleep(Duration::from_millis(100));
        let req = request(
            Family::Inet,
            Table::Tcp,
            StateSet::of(State::TimeWait),
            ALL_EXT,
            None,
        );
        let (r, g) = capture(&req);
        assert_eq!(r.expect("dump"), 1);
        save("tcp4_timewait.bin", &g);
        drop(l);

        // IPv6 listeners: v6only on 5003, dual-stack on 5004.
        sysctl("net/ipv6/bindv6only", "1");
        let l6 = TcpListener::bind("[::]:5003").expect("bind v6only");
        sysctl("net/ipv6/bindv6only", "0");
        let ld = TcpListener::bind("[::]:5004").expect("bind dual");
        let req = request(
            Family::Inet6,
            Table::Tcp,
            StateSet::of(State::Listen),
            ALL_EXT,
            None,
        );
        let (r, g) = capture(&req);
        assert_eq!(r.expect("dump"), 2);
        save("tcp6_listeners.bin", &g);
        drop((l6, ld));

        // Many listeners: a dump of several datagrams.
        let many: Vec<_> = (6000..6300)
            .map(|p| TcpListener::bind(("127.0.0.1", p)).expect("bind"))
            .collect();
        let req = request(
            Family::Inet,
            Table::Tcp,
            StateSet::of(State::Listen),
            ALL_EXT,
            None,
        );
        let (r, g) = capture(&req);
        assert_eq!(r.expect("dump"), 300);
        assert!(g.len() > 1, "one datagram only");
        save("multipart.bin", &g);
        drop(many);

        // NLMSG_ERROR: an unknown bytecode op is EINVAL.
        let req = request(
            Family::Inet,
            Table::Tcp,
            StateSet::ALL,
            0,
            Some(vec![99, 4, 8, 0]),
        );
        let (r, g) = capture(&req);
        assert!(
            matches!(
                r,
                Err(sockq_netlink::Error::Kernel {
                    errno: libc::EINVAL,
                    ..
                })
            ),
            "{r:?}"
        );
        save("error_einval.bin", &g);

        // DONE carrying -ENOENT: no raw_diag on this kernel.
        let req = request(Family::Inet, Table::Raw, StateSet::ALL, 0, None);
        let (r, g) = capture(&req);
        assert!(
            matches!(r, Err(sockq_netlink::Error::ProtocolMissing { .. })),
            "{r:?}"
        );
        save("done_enoent_raw.bin", &g);

        // UDP, unconnected.
        let u = UdpSocket::bind("127.0.0.1:5006").expect("bind udp");
        let req = request(Family::Inet, Table::Udp, StateSet::ALL, ALL_EXT, None);
        let (r, g) = capture(&req);
        assert_eq!(r.expect("dump"), 1);
        save("udp4.bin", &g);
        drop(u);

        // MPTCP listener and a connection, when the kernel has MPTCP.
        match raw_socket(libc::AF_INET, libc::SOCK_STREAM, 262) {
            Ok(fd) => {
                bind_listen_v4(&fd, 5005).expect("mptcp listen");
                let c = raw_socket(libc::AF_INET, libc::SOCK_STREAM, 262).expect("mptcp client");
                connect_v4(&c, 5005);
                std::thread::sleep(Duration::from_millis(50));
                let req = request(Family::Inet, Table::Mptcp, StateSet::ALL, ALL_EXT, None);
                let (r, g) = capture(&req);
                assert!(r.expect("dump") >= 2);
                save("mptcp4.bin", &g);
            }
            Err(e) => eprintln!("no MPTCP here ({e}); mptcp4.bin not refreshed"),
        }
    });
}
