//! The peers of unix sockets, for following a process's stdout and stderr
//! to the process at the other end (`-P`): one unix_diag dump of every
//! state, asked for names and peers, made only when a stream is a socket.

use sockq_model::{Endpoint, UnixName};
use sockq_proc::UnixPeer;
use std::collections::HashMap;
use std::ops::ControlFlow;

/// Every state (TCPF_ALL): a stream is ESTABLISHED, a dgram UNCONN.
const ALL_STATES: u32 = 0xfff;

/// inode → its peer's inode and bound path. Empty when the dump fails
/// (the streams are then shown without their reader, never an error).
pub fn unix_peers() -> HashMap<u32, UnixPeer> {
    let mut peer: HashMap<u32, u32> = HashMap::new();
    let mut path: HashMap<u32, Vec<u8>> = HashMap::new();
    let Ok(mut nl) = sockq_netlink::DiagSocket::new() else {
        return HashMap::new();
    };
    let req = sockq_netlink::unix_request(
        ALL_STATES,
        sockq_netlink::unix::show::NAME | sockq_netlink::unix::show::PEER,
    );
    let _ = nl.dump_raw(&req, &mut |_ty, payload| {
        if let Ok(s) = sockq_netlink::decode_unix(payload)
            && let Endpoint::Unix { name, inode } = &s.local
        {
            if let Some(UnixName::Path(p)) = name {
                path.insert(*inode, p.clone());
            }
            if let Endpoint::Unix { inode: p, .. } = &s.peer
                && *p != 0
            {
                peer.insert(*inode, *p);
            }
        }
        Ok(ControlFlow::Continue(()))
    });
    peer.into_iter()
        .map(|(ino, p)| {
            (
                ino,
                UnixPeer {
                    inode: p,
                    path: path.get(&p).cloned(),
                },
            )
        })
        .collect()
}
