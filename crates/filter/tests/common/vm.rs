//! An interpreter of the kernel's inet_diag bytecode, written from the spec
//! (ss-reference 4.2/4.3 and the kernel's `inet_diag_bc_run` rules).

use sockq_model::{Endpoint, Family, Socket};
use std::net::IpAddr;

fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_ne_bytes([b[i], b[i + 1]])
}
fn u32_at(b: &[u8], i: usize) -> u32 {
    u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]])
}

fn end(s: &Socket, local: bool) -> (Vec<u8>, u16) {
    let e = if local { &s.local } else { &s.peer };
    match e {
        Endpoint::Inet {
            addr: IpAddr::V4(a),
            port,
        } => (a.octets().to_vec(), *port),
        Endpoint::Inet {
            addr: IpAddr::V6(a),
            port,
        } => (a.octets().to_vec(), *port),
        _ => (vec![0; 16], 0),
    }
}

fn bits_match(a: &[u8], b: &[u8], bits: usize) -> bool {
    for i in 0..bits {
        let (x, y) = (a[i / 8] >> (7 - i % 8) & 1, b[i / 8] >> (7 - i % 8) & 1);
        if x != y {
            return false;
        }
    }
    true
}

fn hostcond(bc: &[u8], at: usize, s: &Socket, local: bool) -> bool {
    let fam = bc[at + 4];
    let plen = usize::from(bc[at + 5]);
    let port = u32_at(bc, at + 8) as i32;
    let (addr, sport) = end(s, local);
    if port != -1 && port != i32::from(sport) {
        return false;
    }
    let entry_fam = s.family.as_u8();
    let alen = if fam == 10 { 16 } else { 4 };
    let cond = &bc[at + 12..at + 12 + alen];
    if fam != 0 && fam != entry_fam {
        if entry_fam == Family::Inet6.as_u8() && fam == Family::Inet.as_u8() {
            let mapped = addr[..10].iter().all(|&b| b == 0) && addr[10] == 0xff && addr[11] == 0xff;
            return mapped && bits_match(&addr[12..], cond, plen);
        }
        return false;
    }
    plen == 0 || bits_match(&addr, cond, plen)
}

/// Runs the program on an inet socket; true means the kernel reports it.
pub fn run(bc: &[u8], s: &Socket) -> bool {
    let mut len = bc.len() as i64;
    let mut pc = 0usize;
    while len > 0 {
        let code = bc[pc];
        let yes = i64::from(bc[pc + 1]);
        let no = i64::from(u16_at(bc, pc + 2));
        let (_, sport) = end(s, true);
        let (_, dport) = end(s, false);
        let ok = match code {
            0 => true,
            1 => false,
            2 => sport >= u16_at(bc, pc + 6),
            3 => sport <= u16_at(bc, pc + 6),
            4 => dport >= u16_at(bc, pc + 6),
            5 => dport <= u16_at(bc, pc + 6),
            7 => hostcond(bc, pc, s, true),
            8 => hostcond(bc, pc, s, false),
            9 => s.ifindex == u32_at(bc, pc + 4),
            10 => s.mark.unwrap_or(0) & u32_at(bc, pc + 8) == u32_at(bc, pc + 4),
            11 => sport == u16_at(bc, pc + 6),
            12 => dport == u16_at(bc, pc + 6),
            13 => {
                let id = u64::from_ne_bytes(bc[pc + 4..pc + 12].try_into().unwrap());
                s.cgroup_id.unwrap_or(0) == id
            }
            c => panic!("op {c} not expected"),
        };
        let step = if ok { yes } else { no };
        pc = pc.wrapping_add(step as usize);
        len -= step;
    }
    len == 0
}
