//! Helpers: private network namespaces, raw libc sockets, bytecode.

use netlink_sys::{Socket as NlSocket, SocketAddr, protocols::NETLINK_ROUTE};
use sockq_model::{Socket, StateSet, Table};
use sockq_netlink::{DiagSocket, Error, InetRequest, msg};
use std::ops::ControlFlow;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::PathBuf;

/// Runs `f` on a new thread moved into a fresh network namespace with `lo`
/// up. The namespace goes away with the thread and its sockets.
pub fn in_netns<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::spawn(move || {
        // SAFETY: unshare only changes the calling thread's namespaces.
        let r = unsafe { libc::unshare(libc::CLONE_NEWNET) };
        assert_eq!(
            r,
            0,
            "unshare(CLONE_NEWNET): {}",
            std::io::Error::last_os_error()
        );
        lo_up();
        f()
    })
    .join()
    .expect("netns thread panicked")
}

/// Sets `lo` (always index 1 in a new namespace) up with RTM_NEWLINK.
fn lo_up() {
    let mut s = NlSocket::new(NETLINK_ROUTE).expect("rtnetlink socket");
    s.bind_auto().expect("bind");
    s.connect(&SocketAddr::new(0, 0)).expect("connect");
    let mut m = vec![0u8; 32];
    msg::NlHeader {
        len: 32,
        ty: 16,
        flags: 0x5,
        seq: 1,
        pid: 0,
    }
    .write(&mut m);
    m[20..24].copy_from_slice(&1i32.to_ne_bytes()); // ifi_index
    m[24..28].copy_from_slice(&1u32.to_ne_bytes()); // ifi_flags = IFF_UP
    m[28..32].copy_from_slice(&1u32.to_ne_bytes()); // ifi_change
    s.send(&m, 0).expect("send RTM_NEWLINK");
    let mut buf = vec![0u8; 4096];
    let n = s.recv(&mut &mut buf[..], 0).expect("ack");
    let (h, p, _) = msg::Messages::new(&buf[..n])
        .next()
        .expect("a reply")
        .expect("well formed");
    assert_eq!(
        (h.ty, msg::payload_errno(p)),
        (msg::NLMSG_ERROR, 0),
        "lo up failed"
    );
}

/// Writes a per-namespace sysctl (the thread must be in that namespace).
pub fn sysctl(path: &str, value: &str) {
    std::fs::write(format!("/proc/sys/{path}"), value).expect("sysctl");
}

/// `socket(family, ty, proto)` as an owned fd, or the error.
pub fn raw_socket(family: i32, ty: i32, proto: i32) -> std::io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the result is checked before use.
    let fd = unsafe { libc::socket(family, ty | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `fd` was just returned by socket(2) and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// 127.0.0.1:`port` as a sockaddr_in, with its length.
fn loopback_v4(port: u16) -> (libc::sockaddr_in, libc::socklen_t) {
    let addr = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from_ne_bytes([127, 0, 0, 1]),
        },
        sin_zero: [0; 8],
    };
    (
        addr,
        std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
    )
}

/// Connects an AF_INET socket to 127.0.0.1:`port`; panics on failure.
pub fn connect_v4(fd: &OwnedFd, port: u16) {
    use std::os::fd::AsRawFd;
    let (addr, len) = loopback_v4(port);
    // SAFETY: `addr` is a valid sockaddr_in of `len` bytes for the call.
    let r = unsafe { libc::connect(fd.as_raw_fd(), (&raw const addr).cast(), len) };
    assert_eq!(r, 0, "connect: {}", std::io::Error::last_os_error());
}

/// Binds an AF_INET socket to 127.0.0.1:`port` and listens.
pub fn bind_listen_v4(fd: &OwnedFd, port: u16) -> std::io::Result<u16> {
    use std::os::fd::AsRawFd;
    let (addr, len) = loopback_v4(port);
    // SAFETY: `addr` is a valid sockaddr_in of `len` bytes for the call.
    let r = unsafe { libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), len) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: listen(2) on a descriptor we own.
    if unsafe { libc::listen(fd.as_raw_fd(), 16) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let mut out: libc::sockaddr_in = addr;
    let mut olen = len;
    // SAFETY: `out` has room for `olen` bytes.
    let r = unsafe { libc::getsockname(fd.as_raw_fd(), (&raw mut out).cast(), &mut olen) };
    if r != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(u16::from_be(out.sin_port))
}

/// The inode of a socket fd, as sock_diag and /proc report it.
pub fn inode_of(fd: &impl std::os::fd::AsRawFd) -> u32 {
    use std::os::unix::fs::MetadataExt;
    let md =
        std::fs::metadata(format!("/proc/thread-self/fd/{}", fd.as_raw_fd())).expect("stat fd");
    md.ino() as u32
}

/// One `S_COND`/`D_COND` op for a port with any address (as ss compiles
/// `sport = :PORT`): op {code, yes=16, no=20}, hostcond {family 0,
/// prefix 0, pad, port i32}, then 4 address bytes (ss adds them even for
/// family 0).
pub fn port_cond(code: u8, port: u16) -> Vec<u8> {
    let mut v = vec![code, 16];
    v.extend_from_slice(&20u16.to_ne_bytes());
    v.extend_from_slice(&[0, 0, 0, 0]);
    v.extend_from_slice(&i32::from(port).to_ne_bytes());
    v.extend_from_slice(&[0, 0, 0, 0]);
    v
}

/// `sport = :P`.
pub fn sport_eq(port: u16) -> Vec<u8> {
    port_cond(7, port)
}

/// `dport = :P`.
pub fn dport_eq(port: u16) -> Vec<u8> {
    port_cond(8, port)
}

/// `A or B`: A ++ [JMP yes=4 no=len(B)+4] ++ B.
pub fn or(a: Vec<u8>, b: Vec<u8>) -> Vec<u8> {
    let mut v = a;
    v.extend_from_slice(&[1, 4]);
    v.extend_from_slice(&(b.len() as u16 + 4).to_ne_bytes());
    v.extend(b);
    v
}

/// Dumps one request and collects the sockets.
pub fn dump(nl: &mut DiagSocket, req: &InetRequest) -> Result<Vec<Socket>, Error> {
    let mut v = Vec::new();
    nl.dump_inet(req, &mut |s| {
        v.push(s.clone());
        ControlFlow::Continue(())
    })?;
    Ok(v)
}

/// A request with the given states, extensions and bytecode.
pub fn request(
    family: sockq_model::Family,
    table: Table,
    states: StateSet,
    extensions: u8,
    bytecode: Option<Vec<u8>>,
) -> InetRequest {
    InetRequest {
        family,
        table,
        states,
        extensions,
        bytecode,
    }
}

/// Every idiag_ext bit ss uses (-m, -i, --tos).
pub const ALL_EXT: u8 = 0x7f;

/// Where the committed fixtures live.
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Reads a committed fixture.
pub fn fixture(name: &str) -> Vec<u8> {
    let p = fixture_dir().join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Decodes a captured dump (up to its DONE) into sockets of `table`.
pub fn decode_dump(data: &[u8], table: Table) -> Result<Vec<Socket>, Error> {
    let mut v = Vec::new();
    sockq_netlink::dump_from_bytes(data, &mut |ty, p| {
        if ty == msg::SOCK_DIAG_BY_FAMILY {
            v.push(sockq_netlink::decode_inet(p, table)?);
        }
        Ok(ControlFlow::Continue(()))
    })?;
    Ok(v)
}
