//! unix_diag: AF_UNIX sockets (`ss -x`).
//!
//! The request asks for every state the caller gives as raw `1 << state`
//! bits: the crate's `StateFlags` has no CLOSE bit, and unconnected datagram
//! sockets are in CLOSE. Beyond ss, [`show::UID`] gives each socket's owner
//! and [`fill_unix_peer_names`] names each peer from the same dump, so that
//! `dst` globs can match unix sockets.

use crate::DiagSocket;
use crate::error::Error;
use crate::inet::decode_skmem;
use crate::msg::{self, u32_at};
use crate::other::{diag_request, header};
use sockq_model::{Detail, Endpoint, Family, Shutdown, Socket, State, Table, UnixDetail, UnixName};
use std::collections::HashMap;
use std::ops::ControlFlow;

/// AF_UNIX.
const AF_UNIX: u8 = 1;
/// Size of `struct unix_diag_msg`.
pub const UNIX_DIAG_MSG_LEN: usize = 16;

/// `udiag_show` bits (UDIAG_SHOW_*).
pub mod show {
    /// UDIAG_SHOW_NAME: the bound name.
    pub const NAME: u32 = 0x01;
    /// UDIAG_SHOW_VFS: inode and device of the bound file.
    pub const VFS: u32 = 0x02;
    /// UDIAG_SHOW_PEER: the peer's inode.
    pub const PEER: u32 = 0x04;
    /// UDIAG_SHOW_ICONS: pending connections of a listener.
    pub const ICONS: u32 = 0x08;
    /// UDIAG_SHOW_RQLEN: queue lengths.
    pub const RQLEN: u32 = 0x10;
    /// UDIAG_SHOW_MEMINFO: SK_MEMINFO array.
    pub const MEMINFO: u32 = 0x20;
    /// UDIAG_SHOW_UID: the owner (Linux 5.3+; ss never asks for it).
    pub const UID: u32 = 0x40;
    /// What sockq always asks for: NAME, PEER, RQLEN and UID.
    pub const DEFAULT: u32 = NAME | PEER | RQLEN | UID;
}

/// Reply attribute types (UNIX_DIAG_*).
mod attr {
    pub const NAME: u16 = 0;
    pub const VFS: u16 = 1;
    pub const PEER: u16 = 2;
    pub const ICONS: u16 = 3;
    pub const RQLEN: u16 = 4;
    pub const MEMINFO: u16 = 5;
    pub const SHUTDOWN: u16 = 6;
    pub const UID: u16 = 7;
}

/// Builds the whole netlink message of a unix_diag dump: `states` is the
/// raw `1 << state` mask, `show` the [`show`] bits.
pub fn unix_request(states: u32, show: u32) -> Vec<u8> {
    let mut body = [0u8; 24];
    body[0] = AF_UNIX;
    body[4..8].copy_from_slice(&states.to_ne_bytes());
    body[12..16].copy_from_slice(&show.to_ne_bytes());
    diag_request(&body)
}

/// Decodes one unix_diag reply (the payload after the `nlmsghdr`).
///
/// The table comes from the socket type (stream, dgram, seqpacket); another
/// type is an error. `local` is the socket's name and inode, `peer` the peer
/// inode (0 when none) with no name: see [`fill_unix_peer_names`].
pub fn decode_unix(payload: &[u8]) -> Result<Socket, Error> {
    let h = header(payload, UNIX_DIAG_MSG_LEN, "unix_diag_msg")?;
    let ty = h.get(1).copied().unwrap_or(0);
    let table = match ty {
        1 => Table::UnixStream,
        2 => Table::UnixDgram,
        5 => Table::UnixSeqpacket,
        o => return Err(Error::Decode(format!("unix_diag_msg: socket type {o}"))),
    };
    let state = State::from_u8(h.get(2).copied().unwrap_or(0));
    let inode = u32_at(h, 4).unwrap_or(0);
    let cookie =
        u64::from(u32_at(h, 8).unwrap_or(0)) | (u64::from(u32_at(h, 12).unwrap_or(0)) << 32);
    let mut s = Socket::new(table, Family::Unix, state);
    s.inode = inode;
    s.cookie = cookie;
    let mut name = None;
    let mut peer = 0;
    let mut detail = UnixDetail::default();
    let rest = payload.get(UNIX_DIAG_MSG_LEN..).unwrap_or_default();
    for a in msg::attrs(rest, "unix_diag_msg") {
        let (ty, d) = a?;
        match ty {
            attr::NAME => name = decode_name(d),
            attr::VFS => {
                detail.vfs = Some((u32_at(d, 0).unwrap_or(0), u32_at(d, 4).unwrap_or(0)));
            }
            attr::PEER => peer = u32_at(d, 0).unwrap_or(0),
            attr::ICONS => {
                detail.pending = Some(
                    d.chunks_exact(4)
                        .map(|c| u32_at(c, 0).unwrap_or(0))
                        .collect(),
                );
            }
            attr::RQLEN => {
                // For a listener: accept-queue length and backlog.
                s.recv_q = u32_at(d, 0).unwrap_or(0);
                s.send_q = u32_at(d, 4).unwrap_or(0);
            }
            attr::MEMINFO => s.skmem = Some(decode_skmem(d)),
            attr::SHUTDOWN => s.shutdown = d.first().map(|&b| Shutdown(b)),
            attr::UID => s.uid = u32_at(d, 0),
            _ => {}
        }
    }
    s.local = Endpoint::Unix { name, inode };
    s.peer = Endpoint::Unix {
        name: None,
        inode: peer,
    };
    s.detail = Detail::Unix(detail);
    Ok(s)
}

/// A path ends at its first NUL; an abstract name (leading NUL) keeps every
/// byte after the first.
fn decode_name(d: &[u8]) -> Option<UnixName> {
    match d.split_first() {
        None => None,
        Some((0, rest)) => Some(UnixName::Abstract(rest.to_vec())),
        Some(_) => {
            let end = d.iter().position(|&b| b == 0).unwrap_or(d.len());
            Some(UnixName::Path(d.get(..end).unwrap_or(d).to_vec()))
        }
    }
}

/// Names each socket's peer from the local names of the sockets in the same
/// dump (beyond ss, which never knows the peer name over netlink). A peer
/// that is not in `sockets`, or is unnamed, keeps `name: None`.
pub fn fill_unix_peer_names(sockets: &mut [Socket]) {
    let index: HashMap<u32, UnixName> = sockets
        .iter()
        .filter_map(|s| match &s.local {
            Endpoint::Unix {
                name: Some(n),
                inode,
            } => Some((*inode, n.clone())),
            _ => None,
        })
        .collect();
    if index.is_empty() {
        return;
    }
    for s in sockets.iter_mut() {
        if let Endpoint::Unix { name, inode } = &mut s.peer
            && *inode != 0
            && name.is_none()
        {
            *name = index.get(inode).cloned();
        }
    }
}

impl DiagSocket {
    /// Dumps unix sockets in the `states` mask (raw `1 << state` bits),
    /// asking for the [`show`] bits in `show`, and calls `on_socket` for each
    /// until it breaks.
    pub fn dump_unix(
        &mut self,
        states: u32,
        show: u32,
        on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
    ) -> Result<(), Error> {
        self.dump_family(
            &unix_request(states, show),
            "unix sock_diag dump",
            decode_unix,
            on_socket,
        )
    }
}
