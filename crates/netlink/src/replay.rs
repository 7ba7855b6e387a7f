//! Replaying a `-D` dump file: `TCPDIAG_FILE` (ss's testing interface) and
//! `--replay FILE` (every message of the file).
//!
//! Files are read as they stream, one message at a time, so a FIFO or
//! `/dev/zero` never grows memory: a message may claim at most
//! [`MAX_MESSAGE_BYTES`] and a file may hold at most [`MAX_DUMP_BYTES`].

use crate::error::Error;
use crate::inet::decode_inet;
use crate::msg::{
    self, Messages, NLM_F_DUMP_INTR, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NLMSG_NOOP,
    NLMSG_OVERRUN, NlHeader, align4,
};
use sockq_model::{Socket, Table};
use std::io::{ErrorKind, Read};
use std::ops::ControlFlow;

/// The largest dump file replayed (64 MiB, about 700,000 sockets).
pub const MAX_DUMP_BYTES: u64 = 64 << 20;

/// The largest single message accepted (1 MiB); the kernel's dump
/// messages fit in its 32 KiB receive buffers.
pub const MAX_MESSAGE_BYTES: usize = 1 << 20;

/// How much of a dump file is replayed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplayMode {
    /// ss's `TCPDIAG_FILE`: messages up to the first NLMSG_DONE (the end of
    /// the first dump), the rest of the file is never read.
    FirstDump,
    /// `--replay`: every message of the file; NLMSG_DONE ends one dump and
    /// the next one follows.
    Whole,
}

/// Whether the kernel said, in this message, that the captured dump is
/// incomplete: NLM_F_DUMP_INTR (the table changed during the walk) or
/// NLMSG_OVERRUN. A live dump would be made again; a file can only say so.
fn flags_a_gap(h: &NlHeader) -> bool {
    h.flags & NLM_F_DUMP_INTR != 0 || h.ty == NLMSG_OVERRUN
}

/// The end of a replay: [`Error::DumpInterrupted`] (after every row was
/// delivered) when a message flagged a gap.
fn ended(gap: bool) -> Result<(), Error> {
    if gap {
        Err(Error::DumpInterrupted { attempts: 1 })
    } else {
        Ok(())
    }
}

/// What to do with one message of a dump file.
fn on_message(
    h: &NlHeader,
    payload: &[u8],
    at: u64,
    on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
) -> Result<ControlFlow<()>, Error> {
    match h.ty {
        NLMSG_DONE | NLMSG_NOOP | NLMSG_OVERRUN => {}
        NLMSG_ERROR => {
            let errno = msg::payload_errno(payload);
            // Error 0 is an acknowledgement, not a failure.
            if errno != 0 {
                return Err(Error::Kernel {
                    errno,
                    context: format!("dump file message at offset {at}"),
                });
            }
        }
        // The message type of socket records is not checked (ss does not
        // either), so legacy TCPDIAG_GETSOCK replies work.
        _ => {
            let s = decode_inet(payload, Table::Tcp).map_err(|e| match e {
                Error::Truncated { what, want, got } => Error::Truncated {
                    what: format!("{what} in dump file message at offset {at}"),
                    want,
                    got,
                },
                e => e,
            })?;
            return Ok(on_socket(&s));
        }
    }
    Ok(ControlFlow::Continue(()))
}

/// Decodes every socket in `data` (the bytes of a dump file) as a TCP
/// socket and calls `on_socket` for each, until it breaks
/// ([`ReplayMode::Whole`] over bytes already in memory).
///
/// NLMSG_ERROR in the file gives [`Error::Kernel`]; a message cut short
/// gives [`Error::Truncated`]; a message the kernel flagged (the capture
/// was interrupted) gives [`Error::DumpInterrupted`] after every row.
pub fn replay(
    data: &[u8],
    on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
) -> Result<(), Error> {
    let mut gap = false;
    for m in Messages::new(data) {
        let (h, payload, at) = m?;
        gap |= flags_a_gap(&h);
        if on_message(&h, payload, at as u64, on_socket)?.is_break() {
            return Ok(());
        }
    }
    ended(gap)
}

/// Reads up to `buf.len()` bytes; fewer only at the end of the input.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> Result<usize, Error> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(buf.get_mut(got..).unwrap_or_default()) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("reading the dump file", e)),
        }
    }
    Ok(got)
}

/// Replays a dump file as it is read from `input` (a file, a FIFO, stdin),
/// calling `on_socket` for each TCP socket until it breaks.
///
/// Memory stays bounded whatever the input: one message buffer of at most
/// [`MAX_MESSAGE_BYTES`]; past [`MAX_DUMP_BYTES`] the replay fails with
/// [`Error::Decode`]. A header claiming fewer than 16 bytes (such as the
/// zeros of `/dev/zero`) or a message cut short gives [`Error::Truncated`].
/// A message the kernel flagged when the file was captured (NLM_F_DUMP_INTR,
/// NLMSG_OVERRUN) gives [`Error::DumpInterrupted`] once every row is out.
pub fn replay_reader(
    input: &mut dyn Read,
    mode: ReplayMode,
    on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
) -> Result<(), Error> {
    let mut buf = vec![0u8; NLMSG_HDRLEN];
    let mut at: u64 = 0;
    let mut gap = false;
    loop {
        if at >= MAX_DUMP_BYTES {
            return Err(Error::Decode(format!(
                "dump file: more than {} MiB, the most sockq replays",
                MAX_DUMP_BYTES >> 20
            )));
        }
        buf.resize(NLMSG_HDRLEN, 0);
        let got = read_full(input, &mut buf)?;
        if got == 0 {
            return ended(gap);
        }
        let hdr = match NlHeader::parse(&buf[..got]) {
            Some(h) if got == NLMSG_HDRLEN => h,
            _ => {
                return Err(Error::Truncated {
                    what: format!("netlink header at offset {at} of the dump file"),
                    want: NLMSG_HDRLEN,
                    got,
                });
            }
        };
        let len = hdr.len as usize;
        if len < NLMSG_HDRLEN {
            return Err(Error::Truncated {
                what: format!(
                    "netlink message type {} at offset {at} of the dump file (length {len})",
                    hdr.ty
                ),
                want: NLMSG_HDRLEN,
                got: len,
            });
        }
        if len > MAX_MESSAGE_BYTES {
            return Err(Error::Decode(format!(
                "netlink message at offset {at} of the dump file: it claims {len} bytes, more than {} MiB",
                MAX_MESSAGE_BYTES >> 20
            )));
        }
        buf.resize(len, 0);
        let got = read_full(input, &mut buf[NLMSG_HDRLEN..])?;
        if got < len - NLMSG_HDRLEN {
            return Err(Error::Truncated {
                what: format!(
                    "netlink message type {} at offset {at} of the dump file",
                    hdr.ty
                ),
                want: len,
                got: NLMSG_HDRLEN + got,
            });
        }
        // The padding to 4 bytes; the last message of a file may lack it.
        let mut pad = [0u8; 3];
        let pad_len = align4(len) - len;
        let padded = read_full(input, &mut pad[..pad_len])?;
        gap |= flags_a_gap(&hdr);
        if hdr.ty == NLMSG_DONE && mode == ReplayMode::FirstDump {
            return ended(gap);
        }
        let payload = buf.get(NLMSG_HDRLEN..len).unwrap_or_default();
        if on_message(&hdr, payload, at, on_socket)?.is_break() {
            return Ok(());
        }
        if padded < pad_len {
            return ended(gap);
        }
        at += align4(len) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One TCP socket message (an all-zero inet_diag_msg with family 2).
    fn sock_msg() -> Vec<u8> {
        let len = NLMSG_HDRLEN + 72;
        let mut m = vec![0u8; len];
        NlHeader {
            len: len as u32,
            ty: msg::SOCK_DIAG_BY_FAMILY,
            flags: 2,
            seq: 0,
            pid: 0,
        }
        .write(&mut m);
        m[NLMSG_HDRLEN] = 2;
        m
    }

    fn done_msg() -> Vec<u8> {
        let mut m = vec![0u8; 20];
        NlHeader {
            len: 20,
            ty: NLMSG_DONE,
            flags: 2,
            seq: 0,
            pid: 0,
        }
        .write(&mut m);
        m
    }

    fn count(data: &[u8], mode: ReplayMode) -> (Result<(), Error>, usize) {
        let mut n = 0;
        let r = replay_reader(&mut &data[..], mode, &mut |_| {
            n += 1;
            ControlFlow::Continue(())
        });
        (r, n)
    }

    #[test]
    fn first_dump_stops_at_done_whole_goes_on() {
        let file = [sock_msg(), done_msg(), sock_msg(), sock_msg(), done_msg()].concat();
        let (r, n) = count(&file, ReplayMode::FirstDump);
        assert!(r.is_ok() && n == 1, "{r:?} {n}");
        let (r, n) = count(&file, ReplayMode::Whole);
        assert!(r.is_ok() && n == 3, "{r:?} {n}");
        let mut m = 0;
        replay(&file, &mut |_| {
            m += 1;
            ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(m, 3);
    }

    #[test]
    fn a_flagged_message_still_gives_every_row_then_says_so() {
        let mut flagged = sock_msg();
        flagged[6..8].copy_from_slice(&(2 | NLM_F_DUMP_INTR).to_ne_bytes());
        let file = [sock_msg(), flagged, sock_msg(), done_msg()].concat();
        for mode in [ReplayMode::FirstDump, ReplayMode::Whole] {
            let (r, n) = count(&file, mode);
            assert!(
                matches!(r, Err(Error::DumpInterrupted { attempts: 1 })),
                "{r:?}"
            );
            assert_eq!(n, 3);
        }
        let mut n = 0;
        let r = replay(&file, &mut |_| {
            n += 1;
            ControlFlow::Continue(())
        });
        assert!(matches!(r, Err(Error::DumpInterrupted { .. })) && n == 3);
        // Unflagged, the same file is clean.
        let clean = [sock_msg(), sock_msg(), done_msg()].concat();
        assert!(count(&clean, ReplayMode::Whole).0.is_ok());
    }

    #[test]
    fn zeros_and_cut_messages_fail() {
        let (r, _) = count(&[0u8; 4096], ReplayMode::Whole);
        assert!(matches!(r, Err(Error::Truncated { .. })), "{r:?}");
        let file = sock_msg();
        let (r, _) = count(&file[..50], ReplayMode::FirstDump);
        assert!(matches!(r, Err(Error::Truncated { .. })), "{r:?}");
        let (r, _) = count(&file[..10], ReplayMode::FirstDump);
        assert!(matches!(r, Err(Error::Truncated { .. })), "{r:?}");
    }

    #[test]
    fn huge_message_claims_fail_before_reading() {
        let mut m = sock_msg();
        m[..4].copy_from_slice(&u32::MAX.to_ne_bytes());
        let (r, _) = count(&m, ReplayMode::Whole);
        assert!(matches!(r, Err(Error::Decode(_))), "{r:?}");
    }

    #[test]
    fn endless_input_stops_at_the_bound() {
        // An endless stream of 64 KiB NOOP messages.
        struct Noops(usize);
        impl Read for Noops {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                const LEN: usize = 1 << 16;
                let mut h = [0u8; 16];
                NlHeader {
                    len: LEN as u32,
                    ty: NLMSG_NOOP,
                    flags: 0,
                    seq: 0,
                    pid: 0,
                }
                .write(&mut h);
                let pos = self.0 % LEN;
                let n = buf.len().min(LEN - pos);
                buf[..n].fill(0);
                if pos < 16 {
                    let k = n.min(16 - pos);
                    buf[..k].copy_from_slice(&h[pos..pos + k]);
                }
                self.0 += n;
                Ok(n)
            }
        }
        let r = replay_reader(&mut Noops(0), ReplayMode::Whole, &mut |_| {
            ControlFlow::Continue(())
        });
        assert!(matches!(r, Err(Error::Decode(_))), "{r:?}");
    }

    #[test]
    fn unpadded_last_message_is_read() {
        let mut file = [done_msg(), sock_msg()].concat();
        let mut short = sock_msg();
        // A 90-byte last message without its 2 bytes of padding.
        short.extend_from_slice(&[0, 0]);
        short[..4].copy_from_slice(&90u32.to_ne_bytes());
        file.extend_from_slice(&short);
        let (r, n) = count(&file, ReplayMode::Whole);
        assert!(r.is_ok() && n == 2, "{r:?} {n}");
    }

    #[test]
    fn ss1_dump_first_dump_is_the_ipv4_half() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../../shared/fixtures/ss1.dump"
        );
        let Ok(data) = std::fs::read(path) else {
            assert!(
                std::env::var_os("CI").is_none_or(|v| v != "true"),
                "{path} is missing"
            );
            println!("skipping: {path} is missing");
            return;
        };
        let families = |mode| {
            let mut v = Vec::new();
            replay_reader(&mut &data[..], mode, &mut |s| {
                v.push(s.family);
                ControlFlow::Continue(())
            })
            .map(|()| v)
        };
        let inet = sockq_model::Family::Inet;
        let first = families(ReplayMode::FirstDump).unwrap();
        assert_eq!(first, vec![inet; 4]);
        let whole = families(ReplayMode::Whole).unwrap();
        assert_eq!(whole.len(), 7);
        assert!(whole[4..].iter().all(|f| *f == sockq_model::Family::Inet6));
    }
}
