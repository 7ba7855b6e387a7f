//! Packet socket details (`-e`, `-m`, `-b`, rings and fanout).

use super::shared::{ExtOptions, write_skmem};
use sockq_model::{Detail, PacketDetail, Socket};
use std::io::Write as _;

pub(super) fn write_packet(out: &mut Vec<u8>, s: &Socket, o: &ExtOptions) {
    let d: Option<&PacketDetail> = match &s.detail {
        Detail::Packet(d) => Some(d),
        _ => None,
    };
    if o.extended {
        // No cgroup or mark for packet sockets.
        if let Some(uid) = s.uid.filter(|&u| u != 0) {
            let _ = write!(out, " uid:{uid}");
        }
        let _ = write!(out, " ino:{} sk:{:x}", s.inode, s.cookie);
        if let Some(d) = d {
            write_packet_detail(out, d, o);
        }
    }
    if o.bpf
        && let Some(f) = d.and_then(|d| d.filter.as_ref())
    {
        out.extend_from_slice(o.brk());
        let _ = write!(out, "bpf filter ({}): ", f.len());
        for (code, jt, jf, k) in f {
            let _ = write!(out, " 0x{code:02x} {jt} {jf} {k},");
        }
    }
    if o.memory
        && let Some(m) = &s.skmem
    {
        write_skmem(out, m);
    }
}

fn write_packet_detail(out: &mut Vec<u8>, d: &PacketDetail, o: &ExtOptions) {
    if let Some(i) = &d.info {
        out.extend_from_slice(o.brk());
        let _ = write!(
            out,
            "ver:{} cpy_thresh:{} flags( ",
            i.version as i32, i.copy_thresh as i32
        );
        // "running" has no leading space, the others do (as in ss).
        for (bit, name) in [
            (1u32, "running"),
            (2, " auxdata"),
            (4, " origdev"),
            (8, " vnethdr"),
            (16, " loss"),
        ] {
            if i.flags & bit != 0 {
                out.extend_from_slice(name.as_bytes());
            }
        }
        if i.flags == 0 {
            out.push(b'0');
        }
        out.extend_from_slice(b" )");
    }
    for (name, r) in [("ring_rx(", &d.rx_ring), ("ring_tx(", &d.tx_ring)] {
        if let Some(r) = r {
            out.extend_from_slice(o.brk());
            out.extend_from_slice(name.as_bytes());
            let _ = write!(
                out,
                "blk_size:{},blk_nr:{},frm_size:{},frm_nr:{},tmo:{},features:0x{:x})",
                r.block_size as i32,
                r.block_nr as i32,
                r.frame_size as i32,
                r.frame_nr as i32,
                r.retire_tmo as i32,
                r.features
            );
        }
    }
    if let Some(f) = d.fanout {
        out.extend_from_slice(o.brk());
        let _ = write!(out, "fanout(id:{},type:", f & 0xffff);
        let ty = f >> 16;
        match ty {
            0 => out.extend_from_slice(b"hash"),
            1 => out.extend_from_slice(b"lb"),
            2 => out.extend_from_slice(b"cpu"),
            3 => out.extend_from_slice(b"roll"),
            4 => out.extend_from_slice(b"random"),
            5 => out.extend_from_slice(b"qm"),
            t => {
                let _ = write!(out, "0x{t:x}");
            }
        }
        out.push(b')');
    }
}
