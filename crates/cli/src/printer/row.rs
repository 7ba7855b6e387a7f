//! One socket into ss's ten table tokens.

use super::num::push_u64;
use super::table::TablePrinter;
use crate::names::Names;
use crate::sanitize::escape_bytes;
use sockq_model::{Endpoint, Socket, Table, UnixName};
use std::io::Write as _;
use std::net::IpAddr;

/// Appends a queue length as ss's `%-6d` (a signed int: a destroyed UDP
/// socket's Send-Q of 0xffffffff prints as -1).
fn push_queue(out: &mut Vec<u8>, q: u32) {
    let start = out.len();
    let v = q as i32;
    if v < 0 {
        out.push(b'-');
    }
    push_u64(out, u64::from(v.unsigned_abs()));
    let n = out.len() - start;
    if n < 6 {
        out.extend_from_slice(&b"      "[..6 - n]);
    }
}

fn push_ipv4(out: &mut Vec<u8>, a: [u8; 4]) {
    for (i, b) in a.iter().enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        push_u64(out, u64::from(*b));
    }
}

/// The address part of an inet endpoint, as ss prints it (without `:`).
pub fn push_inet_addr(out: &mut Vec<u8>, addr: IpAddr, v6only: Option<bool>, names: &Names) {
    if let Some(host) = names.host(addr) {
        // NSS answers with whatever /etc/hosts or DNS holds.
        escape_bytes(out, host.as_bytes());
        return;
    }
    match addr {
        IpAddr::V4(a) => push_ipv4(out, a.octets()),
        IpAddr::V6(a) if a.is_unspecified() => {
            if v6only == Some(true) {
                out.extend_from_slice(b"[::]");
            } else {
                out.push(b'*');
            }
        }
        IpAddr::V6(a) => {
            let _ = write!(out, "[{a}]");
        }
    }
}

/// The port token of an inet endpoint.
pub fn push_inet_port(out: &mut Vec<u8>, table: Table, port: u16, names: &Names) {
    if port == 0 {
        out.push(b'*');
        return;
    }
    match names.service(table, port) {
        // From /etc/services: a file, so escaped like every name.
        Some(name) => escape_bytes(out, name.as_bytes()),
        None => push_u64(out, u64::from(port)),
    }
}

fn push_unix_name(out: &mut Vec<u8>, name: Option<&UnixName>) {
    match name {
        None => out.push(b'*'),
        Some(UnixName::Path(p)) if p.is_empty() => out.push(b'*'),
        Some(n) => escape_bytes(out, &n.display_bytes()),
    }
}

/// Writes an endpoint's address and port tokens (two cuts).
fn endpoint_tokens<W: std::io::Write>(
    p: &mut TablePrinter<W>,
    s: &Socket,
    e: &Endpoint,
    local: bool,
    names: &Names,
) {
    let out = p.buf();
    match e {
        Endpoint::Inet { addr, port } => {
            push_inet_addr(out, *addr, s.v6only, names);
            if local && s.ifindex != 0 {
                out.push(b'%');
                names.push_ifname(out, s.ifindex);
            }
            out.push(b':');
            p.cut();
            push_inet_port(p.buf(), s.table, *port, names);
        }
        Endpoint::Unix { name, inode } => {
            // ss never knows the peer's name; the table keeps its `*` (the
            // name is in JSON and in `dst` filters).
            push_unix_name(out, if local { name.as_ref() } else { None });
            out.push(b' ');
            p.cut();
            push_u64(p.buf(), u64::from(*inode));
        }
        Endpoint::Packet { protocol, ifindex } => {
            names.push_ethertype(out, *protocol);
            out.push(b':');
            p.cut();
            if *ifindex == 0 {
                p.buf().push(b'*');
            } else {
                names.push_ifname(p.buf(), *ifindex);
            }
        }
        Endpoint::Netlink { protocol, portid } => {
            names.push_netlink_proto(out, *protocol);
            out.push(b':');
            p.cut();
            names.push_netlink_owner(p.buf(), *portid);
        }
        Endpoint::NetlinkPeer { group, portid } => {
            push_u64(out, u64::from(*group));
            out.push(b':');
            p.cut();
            push_u64(p.buf(), u64::from(*portid));
        }
        Endpoint::Vsock { cid, port } => {
            push_any_u32(out, *cid);
            out.push(b':');
            p.cut();
            push_any_u32(p.buf(), *port);
        }
        Endpoint::Tipc { node, reference } => {
            push_u64(out, u64::from(*node));
            out.push(b':');
            p.cut();
            push_u64(p.buf(), u64::from(*reference));
        }
        Endpoint::Xdp { ifindex, queue } => {
            names.push_ifname(out, *ifindex);
            out.push(b':');
            p.cut();
            p.buf().push(b'q');
            push_u64(p.buf(), u64::from(*queue));
        }
        Endpoint::None => {
            out.push(b'*');
            p.cut();
        }
    }
    p.cut();
}

fn push_any_u32(out: &mut Vec<u8>, v: u32) {
    if v == u32::MAX {
        out.push(b'*');
    } else {
        push_u64(out, u64::from(v));
    }
}

/// Writes the first eight tokens of a socket row: Netid, State, Recv-Q,
/// Send-Q and both endpoints. The caller adds Process and details.
pub fn socket_tokens<W: std::io::Write>(p: &mut TablePrinter<W>, s: &Socket, names: &Names) {
    p.buf().extend_from_slice(s.table.netid().as_bytes());
    p.cut();
    p.buf().extend_from_slice(s.state.name().as_bytes());
    p.cut();
    push_queue(p.buf(), s.recv_q);
    p.cut();
    push_queue(p.buf(), s.send_q);
    p.cut();
    endpoint_tokens(p, s, &s.local, true, names);
    endpoint_tokens(p, s, &s.peer, false, names);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_are_ss_ints() {
        let mut v = Vec::new();
        push_queue(&mut v, 0);
        assert_eq!(v, b"0     ");
        v.clear();
        push_queue(&mut v, u32::MAX);
        assert_eq!(v, b"-1    ");
        v.clear();
        push_queue(&mut v, 1234567);
        assert_eq!(v, b"1234567");
    }

    #[test]
    fn push_u64_matches_display() {
        let mut v = Vec::new();
        let mut x: u64 = 1;
        let mut values: Vec<u64> = (0..1000).collect();
        for _ in 0..64 {
            values.extend([x - 1, x, x + 1, x.wrapping_mul(7)]);
            x = x.wrapping_mul(10).max(1);
        }
        values.extend([u64::MAX, u64::MAX - 1, 10u64.pow(19), 99_999, 100_000]);
        for n in values {
            v.clear();
            push_u64(&mut v, n);
            assert_eq!(v, n.to_string().as_bytes(), "{n}");
        }
    }
}
