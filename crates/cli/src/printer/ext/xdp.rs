//! XDP socket details (`-e`, `-m`): rings, umem and statistics.

use super::shared::{ExtOptions, write_skmem};
use sockq_model::{Detail, Socket, XdpDetail};
use std::io::Write as _;

pub(super) fn write_xdp(out: &mut Vec<u8>, s: &Socket, o: &ExtOptions) {
    if o.extended {
        if let Some(uid) = s.uid.filter(|&u| u != 0) {
            let _ = write!(out, " uid:{uid}");
        }
        let _ = write!(out, " ino:{} sk:{:x}", s.inode, s.cookie);
        if let Detail::Xdp(d) = &s.detail {
            write_xdp_detail(out, d, o);
        }
    }
    if o.memory
        && let Some(m) = &s.skmem
    {
        write_skmem(out, m);
    }
}

fn xdp_ring(out: &mut Vec<u8>, name: &str, entries: Option<u32>, o: &ExtOptions) {
    if let Some(e) = entries {
        out.extend_from_slice(o.brk());
        let _ = write!(out, "{name}(entries:{e})");
    }
}

fn write_xdp_detail(out: &mut Vec<u8>, d: &XdpDetail, o: &ExtOptions) {
    xdp_ring(out, "rx", d.rx_ring, o);
    xdp_ring(out, "tx", d.tx_ring, o);
    if let Some(u) = &d.umem {
        // ss spells it `tumem(` with -O (a typo kept for compatibility).
        out.extend_from_slice(if o.oneline { b" tumem(" } else { b"\n\tumem(" });
        let _ = write!(
            out,
            "id:{},size:{},num_pages:{},chunk_size:{},headroom:{},ifindex:{},qid:{},zc:{},refs:{})",
            u.id,
            u.size,
            u.num_pages,
            u.chunk_size,
            u.headroom,
            u.ifindex,
            u.queue_id,
            u.flags & 1,
            u.refs
        );
        xdp_ring(out, "fr", d.fill_ring, o);
        xdp_ring(out, "cr", d.completion_ring, o);
    }
    if let Some(st) = &d.stats {
        out.extend_from_slice(o.brk());
        let _ = write!(
            out,
            "stats(rx dropped:{},rx invalid:{},rx queue full:{},rx fill ring empty:{},tx invalid:{},tx ring empty:{})",
            st.rx_dropped,
            st.rx_invalid,
            st.rx_full,
            st.fill_ring_empty,
            st.tx_invalid,
            st.tx_ring_empty
        );
    }
}
