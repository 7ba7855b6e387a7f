//! SOCK_DESTROY: forcibly closing one inet socket (`-K`).
//!
//! The request is an `inet_diag_req_v2` whose socket id (ports, addresses,
//! interface, cookie) is copied from a dump, sent with NLM_F_ACK on a
//! sock_diag socket of its own (a dump may be running on the other one).
//! The kernel needs CAP_NET_ADMIN and CONFIG_INET_DIAG_DESTROY.

use crate::error::Error;
use crate::inet::INET_DIAG_REQ_V2_LEN;
use crate::msg::{Messages, NLMSG_ERROR, NLMSG_HDRLEN, NlHeader, payload_errno};
use netlink_sys::{Socket as NlSocket, SocketAddr, protocols::NETLINK_SOCK_DIAG};
use sockq_model::{Endpoint, Family, Socket, Table};
use std::net::IpAddr;

/// `SOCK_DESTROY` message type.
pub const SOCK_DESTROY: u16 = 21;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
/// IPPROTO_RAW: the protocol byte of every raw socket request.
const IPPROTO_RAW: u8 = 255;

fn put_addr(out: &mut [u8], e: &Endpoint) -> u16 {
    match e {
        Endpoint::Inet { addr, port } => {
            let bytes: Vec<u8> = match addr {
                IpAddr::V4(a) => a.octets().to_vec(),
                IpAddr::V6(a) => a.octets().to_vec(),
            };
            if let Some(dst) = out.get_mut(..bytes.len()) {
                dst.copy_from_slice(&bytes);
            }
            *port
        }
        _ => 0,
    }
}

/// The SOCK_DESTROY request for `s` (an inet socket from a dump), with
/// sequence number `seq`.
pub fn destroy_request(s: &Socket, seq: u32) -> Result<Vec<u8>, Error> {
    if !matches!(s.family, Family::Inet | Family::Inet6) {
        return Err(Error::Invalid(format!(
            "{} sockets cannot be destroyed",
            s.family
        )));
    }
    let proto = s
        .table
        .ip_protocol()
        .ok_or_else(|| Error::Invalid(format!("table {} is not inet", s.table)))?;
    let (proto, pad) = if s.table == Table::Raw {
        (IPPROTO_RAW, s.raw_protocol.unwrap_or(0))
    } else {
        let p = u8::try_from(proto)
            .map_err(|_| Error::Invalid(format!("{} sockets cannot be destroyed", s.table)))?;
        (p, 0)
    };
    let len = NLMSG_HDRLEN + INET_DIAG_REQ_V2_LEN;
    let mut out = vec![0u8; len];
    NlHeader {
        len: len as u32,
        ty: SOCK_DESTROY,
        flags: NLM_F_REQUEST | NLM_F_ACK,
        seq,
        pid: 0,
    }
    .write(&mut out);
    let Some(b) = out.get_mut(NLMSG_HDRLEN..) else {
        return Err(Error::Invalid("request buffer".into()));
    };
    b[0] = s.family.as_u8();
    b[1] = proto;
    b[3] = pad;
    b[4..8].copy_from_slice(&u32::MAX.to_ne_bytes());
    // inet_diag_sockid at offset 8: ports and addresses in network order.
    let sport = put_addr(&mut b[12..28], &s.local);
    let dport = put_addr(&mut b[28..44], &s.peer);
    b[8..10].copy_from_slice(&sport.to_be_bytes());
    b[10..12].copy_from_slice(&dport.to_be_bytes());
    b[44..48].copy_from_slice(&s.ifindex.to_ne_bytes());
    b[48..52].copy_from_slice(&(s.cookie as u32).to_ne_bytes());
    b[52..56].copy_from_slice(&((s.cookie >> 32) as u32).to_ne_bytes());
    Ok(out)
}

/// A sock_diag socket that sends SOCK_DESTROY requests and waits for each ACK.
pub struct Destroyer {
    sock: NlSocket,
    port: u32,
    seq: u32,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Destroyer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Destroyer")
            .field("port", &self.port)
            .finish()
    }
}

impl Destroyer {
    /// Opens the socket in the calling thread's network namespace.
    pub fn new() -> Result<Destroyer, Error> {
        let ctx = "opening a NETLINK_SOCK_DIAG socket for SOCK_DESTROY";
        let mut sock = NlSocket::new(NETLINK_SOCK_DIAG).map_err(|e| Error::io(ctx, e))?;
        let addr = sock.bind_auto().map_err(|e| Error::io(ctx, e))?;
        sock.connect(&SocketAddr::new(0, 0))
            .map_err(|e| Error::io(ctx, e))?;
        Ok(Destroyer {
            sock,
            port: addr.port_number(),
            seq: 1,
            buf: vec![0; 8192],
        })
    }

    /// Destroys `s`. The kernel's refusal is [`Error::Kernel`] with its errno
    /// (ENOENT: already gone; EPERM: no CAP_NET_ADMIN; EOPNOTSUPP: no
    /// CONFIG_INET_DIAG_DESTROY or a protocol without destroy support).
    pub fn destroy(&mut self, s: &Socket) -> Result<(), Error> {
        self.seq = self.seq.wrapping_add(1);
        let seq = self.seq;
        let req = destroy_request(s, seq)?;
        loop {
            match self.sock.send(&req, 0) {
                Ok(_) => break,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("sending SOCK_DESTROY", e)),
            }
        }
        loop {
            let mut dst: &mut [u8] = &mut self.buf[..];
            let n = match self.sock.recv(&mut dst, 0) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io("reading the SOCK_DESTROY answer", e)),
            };
            let data = self.buf.get(..n).unwrap_or_default();
            for m in Messages::new(data) {
                let (h, payload, _) = m?;
                if h.seq != seq || h.ty != NLMSG_ERROR {
                    continue;
                }
                return match payload_errno(payload) {
                    0 => Ok(()),
                    errno => Err(Error::Kernel {
                        errno,
                        context: "SOCK_DESTROY".into(),
                    }),
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockq_model::State;
    use std::net::Ipv4Addr;

    #[test]
    fn request_layout() {
        let mut s = Socket::new(Table::Tcp, Family::Inet, State::Established);
        s.local = Endpoint::Inet {
            addr: IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)),
            port: 80,
        };
        s.peer = Endpoint::Inet {
            addr: IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)),
            port: 5000,
        };
        s.cookie = 0x1122_3344_5566_7788;
        s.ifindex = 7;
        let r = destroy_request(&s, 9).unwrap();
        assert_eq!(r.len(), 72);
        assert_eq!(u32::from_ne_bytes(r[0..4].try_into().unwrap()), 72);
        assert_eq!(u16::from_ne_bytes(r[4..6].try_into().unwrap()), 21);
        assert_eq!(u16::from_ne_bytes(r[6..8].try_into().unwrap()), 5);
        let b = &r[16..];
        assert_eq!(&b[0..4], &[2, 6, 0, 0]);
        assert_eq!(&b[8..12], &[0, 80, 0x13, 0x88]);
        assert_eq!(&b[12..16], &[127, 0, 0, 1]);
        assert_eq!(&b[28..32], &[10, 1, 2, 3]);
        assert_eq!(u32::from_ne_bytes(b[44..48].try_into().unwrap()), 7);
        assert_eq!(
            u32::from_ne_bytes(b[48..52].try_into().unwrap()),
            0x5566_7788
        );
        assert_eq!(
            u32::from_ne_bytes(b[52..56].try_into().unwrap()),
            0x1122_3344
        );
    }

    #[test]
    fn raw_protocol_goes_in_the_pad_byte() {
        let mut s = Socket::new(Table::Raw, Family::Inet6, State::Close);
        s.raw_protocol = Some(58);
        let r = destroy_request(&s, 1).unwrap();
        assert_eq!(&r[16..20], &[10, 255, 0, 58]);
    }

    #[test]
    fn unix_is_refused() {
        let s = Socket::new(Table::UnixStream, Family::Unix, State::Established);
        assert!(destroy_request(&s, 1).is_err());
    }
}
