//! Scenes: private network namespaces and the real sockets the tests compare on.

use std::ffi::OsStr;
use std::io::{Read, Write as _};
use std::net::{
    Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6, TcpListener, TcpStream, UdpSocket,
};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use rustix::net::{AddressFamily, Protocol, SocketFlags, SocketType, ipproto, sockopt};

use super::*;
pub(crate) static NETNS_COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A private network namespace `sockq-<pid>-<n>` with `lo` up, deleted on drop (even on panic).
///
/// Sockets created inside it (through [`Netns::enter`]) keep the namespace alive after its name
/// is deleted, so dropping the `Netns` before the sockets is harmless.
pub(crate) struct Netns {
    name: String,
}

impl Netns {
    /// Creates the namespace and brings its loopback up. Panics if `ip` fails.
    pub(crate) fn new() -> Netns {
        let n = NETNS_COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("sockq-{}-{n}", std::process::id());
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        // From here on Drop removes it, even if bringing lo up fails.
        let ns = Netns { name };
        run_ok(Command::new("ip").args(["-n", &ns.name, "link", "set", "lo", "up"]));
        ns
    }

    /// The namespace's name, as `ip netns` knows it.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// `ip netns exec NAME program args...`, with the tool environment of [`sockq`].
    pub(crate) fn exec<S: AsRef<OsStr>>(
        &self,
        program: impl AsRef<OsStr>,
        args: impl IntoIterator<Item = S>,
    ) -> Command {
        let mut cmd = tool_command("ip");
        cmd.args(["netns", "exec", &self.name])
            .arg(program)
            .args(args);
        cmd
    }

    /// The program under test run inside the namespace.
    pub(crate) fn sockq<S: AsRef<OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Command {
        self.exec(sockq_program(), args)
    }

    /// The installed ss run inside the namespace.
    pub(crate) fn ss<S: AsRef<OsStr>>(&self, args: impl IntoIterator<Item = S>) -> Command {
        self.exec(ss_program(), args)
    }

    /// `ip -n NAME args...`, which must succeed (addresses, links).
    pub(crate) fn ip(&self, args: &[&str]) {
        run_ok(Command::new("ip").args(["-n", &self.name]).args(args));
    }

    /// Runs `f` on a thread that has joined this namespace, and returns its result.
    ///
    /// Sockets created by `f` belong to this namespace for their whole life, so return them to
    /// keep them open. Panics (with the reason) if the namespace cannot be joined.
    pub(crate) fn enter<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        let path = Path::new("/var/run/netns").join(&self.name);
        thread::scope(|s| {
            let handle = s.spawn(|| {
                let file = std::fs::File::open(&path)
                    .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
                rustix::thread::move_into_link_name_space(
                    file.as_fd(),
                    Some(rustix::thread::LinkNameSpaceType::Network),
                )
                .unwrap_or_else(|e| panic!("setns {}: {e}", path.display()));
                f()
            });
            match handle.join() {
                Ok(v) => v,
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }

    /// Polls `ss ARGS` (the oracle) in this namespace until `ready` accepts its rows.
    ///
    /// Socket states on loopback settle within milliseconds; this makes the fixture wait for
    /// them instead of sleeping. Panics with the last output after a few seconds.
    pub(crate) fn wait_for(&self, args: &str, what: &str, ready: impl Fn(&[Row]) -> bool) {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        loop {
            let out = run_ok(&mut self.ss(words(args)));
            let table = parse_table(&stdout_text(&out));
            if ready(&table.rows) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "fixture never reached: {what} (ss {args})\n{}",
                show_output(&out)
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Never panic in drop (it may run during a panic); report a leak instead.
        let deleted = Command::new("ip")
            .args(["netns", "delete", &self.name])
            .stdin(Stdio::null())
            .status();
        if !deleted.is_ok_and(|s| s.success()) {
            eprintln!("warning: could not delete network namespace {}", self.name);
        }
    }
}

/// Sockets that must stay open for the length of a test.
#[derive(Default)]
pub(crate) struct Held {
    fds: Vec<OwnedFd>,
}

impl Held {
    /// Keeps `sock` open until the `Held` is dropped.
    pub(crate) fn keep(&mut self, sock: impl Into<OwnedFd>) {
        self.fds.push(sock.into());
    }

    /// How many sockets are held.
    pub(crate) fn len(&self) -> usize {
        self.fds.len()
    }
}

/// A close-on-exec socket of `family`/`kind`/`proto`, panicking with the reason on failure.
/// (Close-on-exec, so the tools started by the tests never inherit the fixture's sockets.)
pub(crate) fn new_socket(
    family: AddressFamily,
    kind: SocketType,
    proto: Option<Protocol>,
) -> OwnedFd {
    rustix::net::socket_with(family, kind, SocketFlags::CLOEXEC, proto)
        .unwrap_or_else(|e| panic!("socket({family:?}, {kind:?}, {proto:?}): {e}"))
}

pub(crate) fn family_of(addr: &SocketAddr) -> AddressFamily {
    if addr.is_ipv4() {
        AddressFamily::INET
    } else {
        AddressFamily::INET6
    }
}

/// A TCP listener on `addr` with the given backlog; for an IPv6 address, `v6only` sets
/// IPV6_V6ONLY before bind (None keeps the kernel default, which is dual-stack for `::`).
pub(crate) fn tcp_listener(addr: SocketAddr, backlog: i32, v6only: Option<bool>) -> TcpListener {
    let fd = new_socket(family_of(&addr), SocketType::STREAM, None);
    if let (Some(only), SocketAddr::V6(_)) = (v6only, addr) {
        sockopt::set_ipv6_v6only(&fd, only).unwrap_or_else(|e| panic!("IPV6_V6ONLY: {e}"));
    }
    rustix::net::bind(&fd, &addr).unwrap_or_else(|e| panic!("bind tcp {addr}: {e}"));
    rustix::net::listen(&fd, backlog).unwrap_or_else(|e| panic!("listen {addr}: {e}"));
    TcpListener::from(fd)
}

/// A UDP socket bound to `addr` (with IPV6_V6ONLY set first when `v6only` says so), connected
/// to `peer` when given.
pub(crate) fn udp_socket(
    addr: SocketAddr,
    v6only: Option<bool>,
    peer: Option<SocketAddr>,
) -> UdpSocket {
    let fd = new_socket(family_of(&addr), SocketType::DGRAM, None);
    if let (Some(only), SocketAddr::V6(_)) = (v6only, addr) {
        sockopt::set_ipv6_v6only(&fd, only).unwrap_or_else(|e| panic!("IPV6_V6ONLY: {e}"));
    }
    rustix::net::bind(&fd, &addr).unwrap_or_else(|e| panic!("bind udp {addr}: {e}"));
    let sock = UdpSocket::from(fd);
    if let Some(peer) = peer {
        sock.connect(peer)
            .unwrap_or_else(|e| panic!("connect udp {addr} -> {peer}: {e}"));
    }
    sock
}

/// A raw socket (`SOCK_RAW`) of the given family and protocol, e.g. ICMP.
pub(crate) fn raw_socket(family: AddressFamily, proto: Protocol) -> OwnedFd {
    new_socket(family, SocketType::RAW, Some(proto))
}

/// Connects a client to `to` (bound first to `from` when given) and accepts it on `listener`.
/// Returns (client, accepted server side).
pub(crate) fn tcp_pair(
    listener: &TcpListener,
    to: SocketAddr,
    from: Option<SocketAddr>,
) -> (TcpStream, TcpStream) {
    let client = match from {
        None => TcpStream::connect(to).unwrap_or_else(|e| panic!("connect {to}: {e}")),
        Some(from) => {
            let fd = new_socket(family_of(&from), SocketType::STREAM, None);
            rustix::net::bind(&fd, &from).unwrap_or_else(|e| panic!("bind {from}: {e}"));
            rustix::net::connect(&fd, &to)
                .unwrap_or_else(|e| panic!("connect {from} -> {to}: {e}"));
            TcpStream::from(fd)
        }
    };
    let (server, _) = listener
        .accept()
        .unwrap_or_else(|e| panic!("accept on {to}: {e}"));
    (client, server)
}

/// A half-closed pair: the client shut down its write side and the server has read the FIN.
/// The client is then in FIN-WAIT-2 and the server in CLOSE-WAIT.
pub(crate) fn half_closed_pair(listener: &TcpListener, to: SocketAddr) -> (TcpStream, TcpStream) {
    let (client, mut server) = tcp_pair(listener, to, None);
    client
        .shutdown(std::net::Shutdown::Write)
        .unwrap_or_else(|e| panic!("shutdown: {e}"));
    read_to_eof(&mut server);
    (client, server)
}

/// Leaves a client socket in TIME-WAIT: the client closes first (active close), the server reads
/// the FIN and closes too. Both descriptors are gone afterwards; the kernel keeps the TIME-WAIT
/// socket for 60 s.
pub(crate) fn time_wait(listener: &TcpListener, to: SocketAddr) {
    let (client, mut server) = tcp_pair(listener, to, None);
    drop(client);
    read_to_eof(&mut server);
    drop(server);
}

pub(crate) fn read_to_eof(stream: &mut TcpStream) {
    let mut buf = [0u8; 64];
    stream
        .set_read_timeout(Some(SETTLE_TIMEOUT))
        .unwrap_or_else(|e| panic!("timeout: {e}"));
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) => panic!("waiting for FIN: {e}"),
        }
    }
}

/// Starts a non-blocking connect to `to` and returns the socket while it is still connecting.
/// Against a listener whose accept queue is full, the SYN is dropped and it stays in SYN-SENT.
pub(crate) fn connecting_client(to: SocketAddr) -> OwnedFd {
    let flags = SocketFlags::NONBLOCK | SocketFlags::CLOEXEC;
    let fd = rustix::net::socket_with(family_of(&to), SocketType::STREAM, flags, None)
        .unwrap_or_else(|e| panic!("socket: {e}"));
    match rustix::net::connect(&fd, &to) {
        Err(rustix::io::Errno::INPROGRESS) => fd,
        Ok(()) => panic!("connect to {to} completed at once; expected it to hang"),
        Err(e) => panic!("non-blocking connect to {to}: {e}"),
    }
}

pub(crate) fn v4(a: u8, b: u8, c: u8, d: u8, port: u16) -> SocketAddr {
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(a, b, c, d), port))
}

pub(crate) fn v6(ip: Ipv6Addr, port: u16, scope: u32) -> SocketAddr {
    SocketAddr::V6(SocketAddrV6::new(ip, port, 0, scope))
}

/// The known socket set of the differential and filter tests. Ports are fixed: the namespace is
/// private, so nothing else can hold them, and filter expressions can name them.
///
/// | what | local | notes |
/// |---|---|---|
/// | TCP listener | 127.0.0.2:5000 | backlog 128; peers below |
/// | TCP listener | 127.0.0.3:80 | service name `http` |
/// | TCP listener | 127.0.0.1:8080 | `http-alt`; a TIME-WAIT client came from it |
/// | TCP listener | [::]:5001 | IPV6_V6ONLY, printed `[::]` |
/// | TCP listener | [::]:5002 | dual-stack, printed `*`; one v4-mapped peer |
/// | TCP listener | [::1]:5003 | a v6 peer and a v6 TIME-WAIT client |
/// | TCP listener | [fe80::1]%lo:7003 | link-local, so `idiag_if` = lo |
/// | TCP listener | 127.0.0.5:5004 | backlog 1: 2 unaccepted peers (full queue), 1 SYN-SENT |
/// | TCP pair | eph -> 127.0.0.2:5000 | server never reads 100 bytes (Recv-Q 100) |
/// | TCP pair | 127.0.0.4:7000 -> 127.0.0.2:5000 | client bound to a fixed port |
/// | TCP pair | eph -> 127.0.0.3:80 | |
/// | TCP pair | eph -> [::1]:5003 | |
/// | TCP pair | 127.0.0.1:eph -> [::]:5002 | server side is `[::ffff:127.0.0.1]:5002` |
/// | TCP half-closed | eph -> 127.0.0.2:5000 | client FIN-WAIT-2, server CLOSE-WAIT |
/// | TCP TIME-WAIT | eph -> 127.0.0.1:8080, eph -> [::1]:5003 | |
/// | UDP | 127.0.0.2:5353 | unconnected (`mdns`), one unread datagram queued |
/// | UDP | 127.0.0.3:53 | unconnected (`domain`) |
/// | UDP | [::]:5355 dual-stack, [::]:5356 v6only | unconnected |
/// | UDP | 127.0.0.2:6000 <-> 127.0.0.3:6001 | connected both ways |
/// | UDP | [::1]:6002 <-> [::1]:6003 | connected both ways |
/// | UDP | [fe80::1]%lo:7004 | link-local |
/// | UDP | 127.0.0.1:eph | the unconnected sender of the queued datagram |
/// | raw | ICMP (v4), ICMPv6 (v6) | |
/// | unix | abstract stream listener | to check that non-inet rows are kept apart |
pub(crate) struct Mix {
    /// Every socket of the mix, open until the mix is dropped.
    pub(crate) held: Held,
}

/// The full-accept-queue listener of [`Mix`]: 127.0.0.5:5004 with backlog 1.
pub(crate) const FULL_QUEUE_ADDR: &str = "127.0.0.5:5004";

impl Mix {
    /// Builds the mix inside `ns` and waits until every socket reached its state.
    pub(crate) fn build(ns: &Netns) -> Mix {
        ns.ip(&["addr", "add", "fe80::1/64", "dev", "lo", "nodad"]);
        // The SYN-SENT client would give up after ~127 s (6 retries); 10 keep it for ~35 min,
        // longer than any test run. The sysctl is per namespace.
        run_ok(&mut ns.exec("sh", ["-c", "echo 10 > /proc/sys/net/ipv4/tcp_syn_retries"]));
        let lo_index = 1; // lo is always ifindex 1 in a new namespace.
        let full_queue: SocketAddr = v4(127, 0, 0, 5, 5004);
        let (mut held, full) = ns.enter(|| {
            let mut held = Held::default();
            let a = v4(127, 0, 0, 2, 5000);
            let http = v4(127, 0, 0, 3, 80);
            let alt = v4(127, 0, 0, 1, 8080);
            let dual = v6(Ipv6Addr::UNSPECIFIED, 5002, 0);
            let v6one = v6(Ipv6Addr::LOCALHOST, 5003, 0);
            let link_local = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);

            let la = tcp_listener(a, 128, None);
            let lhttp = tcp_listener(http, 128, None);
            let lalt = tcp_listener(alt, 128, None);
            let lonly = tcp_listener(v6(Ipv6Addr::UNSPECIFIED, 5001, 0), 128, Some(true));
            let ldual = tcp_listener(dual, 128, Some(false));
            let lv6 = tcp_listener(v6one, 128, None);
            let lll = tcp_listener(v6(link_local, 7003, lo_index), 128, None);
            let full = tcp_listener(full_queue, 1, None);

            let (mut c, s) = tcp_pair(&la, a, None);
            c.write_all(&[7u8; 100])
                .unwrap_or_else(|e| panic!("write: {e}"));
            held.keep(c);
            held.keep(s);
            for (l, to, from) in [
                (&la, a, Some(v4(127, 0, 0, 4, 7000))),
                (&lhttp, http, None),
                (&lv6, v6one, None),
                (&ldual, v4(127, 0, 0, 1, 5002), None),
            ] {
                let (c, s) = tcp_pair(l, to, from);
                held.keep(c);
                held.keep(s);
            }
            let (c, s) = half_closed_pair(&la, a);
            held.keep(c);
            held.keep(s);
            time_wait(&lalt, alt);
            time_wait(&lv6, v6one);
            for l in [la, lhttp, lalt, lonly, ldual, lv6, lll] {
                held.keep(l);
            }
            held.keep(TcpStream::connect(full_queue).unwrap_or_else(|e| panic!("connect: {e}")));

            let mdns = udp_socket(v4(127, 0, 0, 2, 5353), None, None);
            let sender = udp_socket(v4(127, 0, 0, 1, 0), None, None);
            sender
                .send_to(b"hello", v4(127, 0, 0, 2, 5353))
                .unwrap_or_else(|e| panic!("{e}"));
            held.keep(mdns);
            held.keep(sender);
            held.keep(udp_socket(v4(127, 0, 0, 3, 53), None, None));
            held.keep(udp_socket(
                v6(Ipv6Addr::UNSPECIFIED, 5355, 0),
                Some(false),
                None,
            ));
            held.keep(udp_socket(
                v6(Ipv6Addr::UNSPECIFIED, 5356, 0),
                Some(true),
                None,
            ));
            let (u1, u2) = (v4(127, 0, 0, 2, 6000), v4(127, 0, 0, 3, 6001));
            held.keep(udp_socket(u1, None, Some(u2)));
            held.keep(udp_socket(u2, None, Some(u1)));
            let (u3, u4) = (
                v6(Ipv6Addr::LOCALHOST, 6002, 0),
                v6(Ipv6Addr::LOCALHOST, 6003, 0),
            );
            held.keep(udp_socket(u3, None, Some(u4)));
            held.keep(udp_socket(u4, None, Some(u3)));
            held.keep(udp_socket(v6(link_local, 7004, lo_index), None, None));

            held.keep(raw_socket(AddressFamily::INET, ipproto::ICMP));
            held.keep(raw_socket(AddressFamily::INET6, ipproto::ICMPV6));

            let name = format!("sockq-e2e-{}", std::process::id());
            held.keep(unix_abstract_listener(&name));
            (held, full)
        });

        // The second queued client may only connect once the first is in the accept queue:
        // the queue holds backlog + 1 = 2, and a SYN arriving while the second handshake is
        // still pending would slip in.
        ns.wait_for("-tln", "1 connection in the accept queue", |rows| {
            listener_queue(rows, FULL_QUEUE_ADDR) == Some("1")
        });
        let second = ns.enter(|| TcpStream::connect(full_queue));
        held.keep(second.unwrap_or_else(|e| panic!("connect {full_queue}: {e}")));
        ns.wait_for("-tln", "a full accept queue", |rows| {
            listener_queue(rows, FULL_QUEUE_ADDR) == Some("2")
        });
        held.keep(ns.enter(|| connecting_client(full_queue)));
        held.keep(full);

        ns.wait_for("-tan", "every TCP state of the mix", |rows| {
            let count = |s: &str| {
                rows.iter()
                    .filter(|r| r.state.as_deref() == Some(s))
                    .count()
            };
            count("TIME-WAIT") == 2
                && count("FIN-WAIT-2") == 1
                && count("CLOSE-WAIT") == 1
                && count("SYN-SENT") == 1
                && rows
                    .iter()
                    .any(|r| r.recv_q == "100" && r.local == "127.0.0.2:5000")
        });
        ns.wait_for("-uan", "the queued datagram", |rows| {
            rows.iter()
                .any(|r| r.local == "127.0.0.2:5353" && r.recv_q != "0")
        });
        Mix { held }
    }
}

/// Recv-Q of the LISTEN row whose local address is `local`.
pub(crate) fn listener_queue<'a>(rows: &'a [Row], local: &str) -> Option<&'a str> {
    rows.iter()
        .find(|r| r.local == local)
        .map(|r| r.recv_q.as_str())
}

/// An abstract unix stream listener `@name`.
pub(crate) fn unix_abstract_listener(name: &str) -> std::os::unix::net::UnixListener {
    use std::os::linux::net::SocketAddrExt as _;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)
        .unwrap_or_else(|e| panic!("abstract name {name}: {e}"));
    std::os::unix::net::UnixListener::bind_addr(&addr)
        .unwrap_or_else(|e| panic!("bind @{name}: {e}"))
}

/// A small, quiet socket set for byte-exact comparisons: one v4 listener with one accepted
/// pair, and a v6only listener.
pub(crate) fn small_mix(ns: &Netns) -> Held {
    let held = ns.enter(|| {
        let mut held = Held::default();
        let a = v4(127, 0, 0, 2, 5000);
        let l = tcp_listener(a, 128, None);
        let (c, s) = tcp_pair(&l, a, None);
        held.keep(c);
        held.keep(s);
        held.keep(l);
        held.keep(tcp_listener(
            v6(Ipv6Addr::UNSPECIFIED, 5001, 0),
            128,
            Some(true),
        ));
        held
    });
    ns.wait_for("-tan", "two listeners and an established pair", |rows| {
        rows.len() == 4
    });
    held
}
