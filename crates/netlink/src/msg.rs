//! Netlink framing: the 16-byte `nlmsghdr`, message walking and rtattr
//! walking, straight over borrowed bytes (no allocation, no panics).

use crate::error::Error;
use std::ops::ControlFlow;

/// Size of `struct nlmsghdr`.
pub const NLMSG_HDRLEN: usize = 16;
/// `NLMSG_NOOP`.
pub const NLMSG_NOOP: u16 = 1;
/// `NLMSG_ERROR`.
pub const NLMSG_ERROR: u16 = 2;
/// `NLMSG_DONE`.
pub const NLMSG_DONE: u16 = 3;
/// `NLMSG_OVERRUN`.
pub const NLMSG_OVERRUN: u16 = 4;
/// `SOCK_DIAG_BY_FAMILY`: requests and replies of every sock_diag family.
pub const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `TCPDIAG_GETSOCK`: the legacy inet_diag request and reply type.
pub const TCPDIAG_GETSOCK: u16 = 18;
/// `DCCPDIAG_GETSOCK`: the legacy DCCP request and reply type.
pub const DCCPDIAG_GETSOCK: u16 = 19;
/// `NLM_F_REQUEST`.
pub const NLM_F_REQUEST: u16 = 0x1;
/// `NLM_F_MULTI`.
pub const NLM_F_MULTI: u16 = 0x2;
/// `NLM_F_DUMP_INTR`: the dump was inconsistent.
pub const NLM_F_DUMP_INTR: u16 = 0x10;
/// `NLM_F_DUMP` (`NLM_F_ROOT | NLM_F_MATCH`).
pub const NLM_F_DUMP: u16 = 0x300;

/// Rounds up to the 4-byte netlink alignment.
pub const fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Little-endian (host order on every Linux target sockq supports) u16 at `off`.
pub(crate) fn u16_at(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_ne_bytes(s.try_into().ok()?))
}

/// Host-order u32 at `off`.
pub(crate) fn u32_at(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_ne_bytes(s.try_into().ok()?))
}

/// Host-order u64 at `off`.
pub(crate) fn u64_at(b: &[u8], off: usize) -> Option<u64> {
    let s = b.get(off..off.checked_add(8)?)?;
    Some(u64::from_ne_bytes(s.try_into().ok()?))
}

/// A decoded `nlmsghdr`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NlHeader {
    /// `nlmsg_len`: header plus payload, unpadded.
    pub len: u32,
    /// `nlmsg_type`.
    pub ty: u16,
    /// `nlmsg_flags`.
    pub flags: u16,
    /// `nlmsg_seq`.
    pub seq: u32,
    /// `nlmsg_pid`: the port the message is addressed to.
    pub pid: u32,
}

impl NlHeader {
    /// Reads a header from the first 16 bytes, if there are 16.
    pub fn parse(b: &[u8]) -> Option<NlHeader> {
        Some(NlHeader {
            len: u32_at(b, 0)?,
            ty: u16_at(b, 4)?,
            flags: u16_at(b, 6)?,
            seq: u32_at(b, 8)?,
            pid: u32_at(b, 12)?,
        })
    }

    /// Writes the header into the first 16 bytes of `out` (no-op if shorter).
    pub fn write(&self, out: &mut [u8]) {
        if let Some(h) = out.get_mut(..NLMSG_HDRLEN) {
            h[0..4].copy_from_slice(&self.len.to_ne_bytes());
            h[4..6].copy_from_slice(&self.ty.to_ne_bytes());
            h[6..8].copy_from_slice(&self.flags.to_ne_bytes());
            h[8..12].copy_from_slice(&self.seq.to_ne_bytes());
            h[12..16].copy_from_slice(&self.pid.to_ne_bytes());
        }
    }
}

/// Iterates the netlink messages packed in one datagram (or one dump file).
///
/// Yields the header, the payload after the header (exactly `len - 16`
/// bytes) and the message's offset. A header that claims fewer than 16 bytes
/// or more than what is left yields [`Error::Truncated`] and ends the walk.
pub struct Messages<'a> {
    buf: &'a [u8],
    off: usize,
    failed: bool,
}

impl<'a> Messages<'a> {
    /// Walks `buf` from the start.
    pub fn new(buf: &'a [u8]) -> Messages<'a> {
        Messages {
            buf,
            off: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for Messages<'a> {
    type Item = Result<(NlHeader, &'a [u8], usize), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.buf.get(self.off..).unwrap_or_default();
        if rest.is_empty() {
            return None;
        }
        let at = self.off;
        let Some(hdr) = NlHeader::parse(rest) else {
            self.failed = true;
            return Some(Err(Error::Truncated {
                what: format!("netlink header at offset {at}"),
                want: NLMSG_HDRLEN,
                got: rest.len(),
            }));
        };
        let len = hdr.len as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            self.failed = true;
            return Some(Err(Error::Truncated {
                what: format!("netlink message type {} at offset {at}", hdr.ty),
                want: len.max(NLMSG_HDRLEN),
                got: rest.len(),
            }));
        }
        let payload = rest.get(NLMSG_HDRLEN..len).unwrap_or_default();
        // The last message of a buffer may lack its padding.
        self.off += align4(len).min(rest.len());
        Some(Ok((hdr, payload, at)))
    }
}

/// Iterates 4-byte aligned rtattrs (`{u16 len, u16 type, data}`).
///
/// Yields `(type, data)` with the NLA_F_NESTED and NLA_F_NET_BYTEORDER bits
/// cleared from the type. An attribute whose length is below 4 or runs past
/// the buffer yields [`Error::Truncated`] naming `what` and ends the walk.
pub struct Attrs<'a> {
    buf: &'a [u8],
    off: usize,
    what: &'static str,
    failed: bool,
}

/// Walks the attributes in `buf`; `what` names the message in errors.
pub fn attrs<'a>(buf: &'a [u8], what: &'static str) -> Attrs<'a> {
    Attrs {
        buf,
        off: 0,
        what,
        failed: false,
    }
}

impl<'a> Iterator for Attrs<'a> {
    type Item = Result<(u16, &'a [u8]), Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let rest = self.buf.get(self.off..).unwrap_or_default();
        // Fewer than 4 bytes left can only be trailing padding.
        if rest.len() < 4 {
            return None;
        }
        let len = usize::from(u16_at(rest, 0).unwrap_or(0));
        let ty = u16_at(rest, 2).unwrap_or(0) & 0x3fff;
        if len < 4 || len > rest.len() {
            self.failed = true;
            return Some(Err(Error::Truncated {
                what: format!("{} attribute {} at offset {}", self.what, ty, self.off),
                want: len.max(4),
                got: rest.len(),
            }));
        }
        let data = rest.get(4..len).unwrap_or_default();
        self.off += align4(len).min(rest.len());
        Some(Ok((ty, data)))
    }
}

/// Appends one attribute (header, data, padding) to `out`.
pub fn push_attr(out: &mut Vec<u8>, ty: u16, data: &[u8]) -> Result<(), Error> {
    let len = u16::try_from(data.len() + 4)
        .map_err(|_| Error::Invalid(format!("attribute {ty} of {} bytes", data.len())))?;
    out.extend_from_slice(&len.to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(data);
    out.resize(align4(out.len()), 0);
    Ok(())
}

/// Reads the errno of an NLMSG_ERROR or NLMSG_DONE payload (its first i32),
/// as a positive number; 0 when absent or zero.
pub fn payload_errno(payload: &[u8]) -> i32 {
    let code = u32_at(payload, 0).map(|v| v as i32).unwrap_or(0);
    code.checked_neg().unwrap_or(i32::MAX).max(0)
}

/// The per-message callback of a dump: `(nlmsg_type, payload after the
/// nlmsghdr)`; return `Break` to stop early.
pub type OnMessage<'a> = dyn FnMut(u16, &[u8]) -> Result<ControlFlow<()>, Error> + 'a;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_and_stops_on_bad_lengths() {
        let mut buf = vec![0u8; 40];
        NlHeader {
            len: 20,
            ty: 20,
            flags: 2,
            seq: 1,
            pid: 0,
        }
        .write(&mut buf);
        NlHeader {
            len: 100,
            ty: 3,
            flags: 2,
            seq: 1,
            pid: 0,
        }
        .write(&mut buf[20..]);
        let mut it = Messages::new(&buf);
        let first = it.next();
        assert!(matches!(first, Some(Ok((h, p, 0))) if h.ty == 20 && p.len() == 4));
        assert!(matches!(
            it.next(),
            Some(Err(Error::Truncated {
                want: 100,
                got: 20,
                ..
            }))
        ));
        assert!(it.next().is_none());
    }

    #[test]
    fn attributes_round_trip() {
        let mut v = Vec::new();
        push_attr(&mut v, 8, &[3]).ok();
        push_attr(&mut v, 0x8000 | 19, &[1, 2, 3, 4]).ok();
        let got: Vec<_> = attrs(&v, "test")
            .collect::<Result<_, _>>()
            .unwrap_or_default();
        assert_eq!(got, vec![(8, &[3u8][..]), (19, &[1, 2, 3, 4][..])]);
        // An attribute running past the end is an error.
        let mut bad = v.clone();
        bad[0] = 200;
        assert!(matches!(
            attrs(&bad, "test").next(),
            Some(Err(Error::Truncated { .. }))
        ));
        // A zero length must not loop forever.
        assert!(matches!(attrs(&[0, 0, 0, 0], "t").next(), Some(Err(_))));
    }

    #[test]
    fn errno_sign() {
        assert_eq!(payload_errno(&(-2i32).to_ne_bytes()), 2);
        assert_eq!(payload_errno(&0i32.to_ne_bytes()), 0);
        assert_eq!(payload_errno(&[]), 0);
        assert_eq!(payload_errno(&i32::MIN.to_ne_bytes()), i32::MAX);
    }
}
