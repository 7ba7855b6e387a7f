//! The kernel's share of a filter: inet_diag bytecode (INET_DIAG_REQ_BYTECODE).
//!
//! Only inet sockets see bytecode, so a condition that can only hold for
//! another family (`src unix:…`) is exactly "false" here. Conditions the
//! kernel cannot test (`state`, `uid`, `autobound`, …) are replaced so that
//! the program accepts a superset: true where they count positively, false
//! under an odd number of `not`s. User space then decides.

use crate::ast::Cmp;
use crate::node::{HostCond, Node, Side};
use sockq_model::Family;
use std::fmt::Write as _;

/// `INET_DIAG_BC_*` op codes.
pub mod op {
    /// No operation.
    pub const NOP: u8 = 0;
    /// Unconditional jump by `no`.
    pub const JMP: u8 = 1;
    /// Local port >= N.
    pub const S_GE: u8 = 2;
    /// Local port <= N.
    pub const S_LE: u8 = 3;
    /// Remote port >= N.
    pub const D_GE: u8 = 4;
    /// Remote port <= N.
    pub const D_LE: u8 = 5;
    /// No SOCK_BINDPORT_LOCK (never emitted by sockq).
    pub const AUTO: u8 = 6;
    /// Local host condition.
    pub const S_COND: u8 = 7;
    /// Remote host condition.
    pub const D_COND: u8 = 8;
    /// Bound interface.
    pub const DEV_COND: u8 = 9;
    /// Mark and mask.
    pub const MARK_COND: u8 = 10;
    /// Local port == N.
    pub const S_EQ: u8 = 11;
    /// Remote port == N.
    pub const D_EQ: u8 = 12;
    /// cgroup v2 id.
    pub const CGROUP_COND: u8 = 13;
}

/// A kernel-expressible tree.
#[derive(Clone, Debug, PartialEq)]
enum K {
    True,
    False,
    And(Vec<K>),
    Or(Vec<K>),
    Not(Box<K>),
    /// One hostcond per alternative: (family byte, prefix length, port, address).
    Host(Side, Vec<(u8, u8, i32, [u8; 16])>),
    Port(Side, Cmp, u16),
    Dev(u32),
    Mark(u32, u32),
    Cgroup(u64),
}

/// The kernel program of a filter.
#[derive(Clone, Debug)]
pub(crate) struct Kernel {
    pub code: Option<Vec<u8>>,
    pub exact: bool,
    /// Predicates left to user space, for `explain`.
    pub user_only: Vec<&'static str>,
}

fn and(v: Vec<K>) -> K {
    let mut out = Vec::new();
    for k in v {
        match k {
            K::True => {}
            K::False => return K::False,
            k => out.push(k),
        }
    }
    match out.len() {
        0 => K::True,
        1 => out.pop().unwrap_or(K::True),
        _ => K::And(out),
    }
}

fn or(v: Vec<K>) -> K {
    let mut out = Vec::new();
    for k in v {
        match k {
            K::False => {}
            K::True => return K::True,
            k => out.push(k),
        }
    }
    match out.len() {
        0 => K::False,
        1 => out.pop().unwrap_or(K::False),
        _ => K::Or(out),
    }
}

fn not(k: K) -> K {
    match k {
        K::True => K::False,
        K::False => K::True,
        k => K::Not(Box::new(k)),
    }
}

/// Over-approximates (`over`) or under-approximates `n` with what the kernel can test.
fn approx(n: &Node, over: bool, exact: &mut bool, user: &mut Vec<&'static str>) -> K {
    let mut unknown = |what: &'static str| {
        *exact = false;
        if !user.contains(&what) {
            user.push(what);
        }
        if over { K::True } else { K::False }
    };
    match n {
        Node::And(v) => and(v.iter().map(|n| approx(n, over, exact, user)).collect()),
        Node::Or(v) => or(v.iter().map(|n| approx(n, over, exact, user)).collect()),
        Node::Not(n) => not(approx(n, !over, exact, user)),
        Node::Host(side, conds) => {
            let alts: Vec<_> = conds
                .iter()
                .filter_map(|c| match c {
                    HostCond::Inet {
                        family,
                        plen,
                        addr,
                        port,
                    } => {
                        let port = match port {
                            None => -1,
                            Some(p) if *p <= 65535 => *p as i32,
                            // A unix inode (`src :INODE`): never an inet port.
                            Some(_) => return None,
                        };
                        let fam = family.map_or(0, Family::as_u8);
                        Some((fam, *plen, port, *addr))
                    }
                    // Other families never match an inet socket.
                    _ => None,
                })
                .collect();
            if alts.is_empty() {
                K::False
            } else {
                K::Host(*side, alts)
            }
        }
        Node::Port(side, cmp, p) => K::Port(*side, *cmp, *p),
        Node::Dev(i) => K::Dev(*i),
        Node::Mark(v, m) => K::Mark(*v, *m),
        Node::Cgroup(id) => K::Cgroup(*id),
        Node::Auto(..) => unknown("autobound"),
        Node::State(_) => unknown("state"),
        Node::Uid(..) => unknown("uid/user"),
        Node::Inode(..) => unknown("inode"),
        Node::Rqueue(..) => unknown("rqueue"),
        Node::Squeue(..) => unknown("squeue"),
        Node::Pid(..) => unknown("pid"),
        Node::Comm(_) => unknown("comm"),
        Node::Proc(..) => unknown("process facts"),
    }
}

fn push_op(out: &mut Vec<u8>, code: u8, yes: u8, no: u16) {
    out.push(code);
    out.push(yes);
    out.extend_from_slice(&no.to_ne_bytes());
}

/// The size of the op at `at`, from its code (and family for hostconds).
fn op_size(code: &[u8], at: usize) -> usize {
    match code.get(at).copied() {
        Some(op::S_COND | op::D_COND) => {
            let fam = code.get(at + 4).copied().unwrap_or(0);
            12 + if fam == 10 { 16 } else { 4 }
        }
        Some(op::S_GE | op::S_LE | op::D_GE | op::D_LE | op::S_EQ | op::D_EQ | op::DEV_COND) => 8,
        Some(op::MARK_COND | op::CGROUP_COND) => 12,
        _ => 4,
    }
}

fn no_at(code: &[u8], at: usize) -> usize {
    let b = [
        code.get(at + 2).copied().unwrap_or(0),
        code.get(at + 3).copied().unwrap_or(0),
    ];
    usize::from(u16::from_ne_bytes(b))
}

fn set_no(code: &mut [u8], at: usize, no: usize) {
    let v = u16::try_from(no).unwrap_or(u16::MAX).to_ne_bytes();
    if let Some(s) = code.get_mut(at + 2..at + 4) {
        s.copy_from_slice(&v);
    }
}

/// Emits `k` (never True or False) as ss does.
fn emit(k: &K) -> Vec<u8> {
    match k {
        K::True | K::False => Vec::new(),
        K::Host(side, alts) => {
            let code = if *side == Side::Local {
                op::S_COND
            } else {
                op::D_COND
            };
            let mut ops: Vec<Vec<u8>> = Vec::new();
            for (fam, plen, port, addr) in alts {
                let alen = if *fam == 10 { 16 } else { 4 };
                let l = 12 + alen;
                let mut o = Vec::with_capacity(l);
                push_op(&mut o, code, l as u8, (l + 4) as u16);
                o.push(*fam);
                o.push(*plen);
                o.extend_from_slice(&[0, 0]);
                o.extend_from_slice(&port.to_ne_bytes());
                o.extend_from_slice(addr.get(..alen).unwrap_or(&[]));
                ops.push(o);
            }
            // Between alternatives a JMP to the end: the list is an OR.
            let total: usize = ops.iter().map(Vec::len).sum::<usize>() + 4 * (ops.len() - 1);
            let mut out = Vec::with_capacity(total);
            let n = ops.len();
            for (i, o) in ops.into_iter().enumerate() {
                out.extend_from_slice(&o);
                if i + 1 < n {
                    let remaining = total - out.len();
                    push_op(&mut out, op::JMP, 4, remaining as u16);
                }
            }
            out
        }
        K::Port(side, cmp, p) => {
            let code = match (side, cmp) {
                (Side::Local, Cmp::Ge) => op::S_GE,
                (Side::Local, _) => op::S_LE,
                (Side::Remote, Cmp::Ge) => op::D_GE,
                (Side::Remote, _) => op::D_LE,
            };
            let mut o = Vec::with_capacity(8);
            push_op(&mut o, code, 8, 12);
            push_op(&mut o, 0, 0, *p);
            o
        }
        K::Dev(i) => {
            let mut o = Vec::with_capacity(8);
            push_op(&mut o, op::DEV_COND, 8, 12);
            o.extend_from_slice(&i.to_ne_bytes());
            o
        }
        K::Mark(v, m) => {
            let mut o = Vec::with_capacity(12);
            push_op(&mut o, op::MARK_COND, 12, 16);
            o.extend_from_slice(&v.to_ne_bytes());
            o.extend_from_slice(&m.to_ne_bytes());
            o
        }
        K::Cgroup(id) => {
            let mut o = Vec::with_capacity(12);
            push_op(&mut o, op::CGROUP_COND, 12, 16);
            o.extend_from_slice(&id.to_ne_bytes());
            o
        }
        K::And(v) => {
            let mut a = Vec::new();
            for (i, k) in v.iter().enumerate() {
                let b = emit(k);
                if i == 0 {
                    a = b;
                    continue;
                }
                // Every jump to A's reject target now goes to the whole reject target.
                let la = a.len();
                let mut at = 0;
                while at < la {
                    if at + no_at(&a, at) == la + 4 {
                        let no = no_at(&a, at) + b.len();
                        set_no(&mut a, at, no);
                    }
                    at += op_size(&a, at);
                }
                a.extend_from_slice(&b);
            }
            a
        }
        K::Or(v) => {
            let mut a = Vec::new();
            for (i, k) in v.iter().enumerate() {
                let b = emit(k);
                if i > 0 {
                    push_op(&mut a, op::JMP, 4, (b.len() + 4) as u16);
                }
                a.extend_from_slice(&b);
            }
            a
        }
        K::Not(k) => {
            let mut a = emit(k);
            push_op(&mut a, op::JMP, 4, 8);
            a
        }
    }
}

impl Kernel {
    pub fn new(n: &Node) -> Kernel {
        let mut exact = true;
        let mut user = Vec::new();
        let k = approx(n, true, &mut exact, &mut user);
        let code = match &k {
            K::True => None,
            // Nothing inet can match: a program that rejects everything.
            K::False => {
                let mut o = Vec::new();
                push_op(&mut o, op::JMP, 4, 8);
                Some(o)
            }
            k => Some(emit(k)),
        };
        // Programs longer than the u16 jumps can span are not sent.
        let sent = code.filter(|c| c.len() < 60000 && audit(c).is_ok());
        if sent.is_none() && k != K::True {
            exact = false;
        }
        let code = sent;
        Kernel {
            code,
            exact,
            user_only: user,
        }
    }

    pub fn explain(&self) -> String {
        let mut out = String::new();
        match &self.code {
            None => out.push_str("kernel bytecode: none (the kernel returns every socket)\n"),
            Some(c) => {
                let _ = writeln!(out, "kernel bytecode: {} bytes", c.len());
                out.push_str(&disassemble(c));
            }
        }
        if self.user_only.is_empty() {
            out.push_str("user space: re-checks every socket with the expression\n");
        } else {
            let _ = writeln!(
                out,
                "user space: re-checks every socket; only user space tests: {}",
                self.user_only.join(", ")
            );
        }
        out
    }
}

/// Checks a program as the kernel's `inet_diag_bc_audit` does.
pub fn audit(bc: &[u8]) -> Result<(), String> {
    let total = bc.len();
    let mut at = 0usize;
    let mut len = total as i64;
    if !total.is_multiple_of(4) {
        return Err("length is not a multiple of 4".into());
    }
    while len > 0 {
        let code = bc.get(at).copied().ok_or("truncated op")?;
        let yes = i64::from(bc.get(at + 1).copied().ok_or("truncated op")?);
        let no = no_at(bc, at) as i64;
        let min_len: i64 = match code {
            op::S_COND | op::D_COND => {
                let fam = bc.get(at + 4).copied().ok_or("truncated hostcond")?;
                let plen = bc.get(at + 5).copied().ok_or("truncated hostcond")?;
                let alen = match fam {
                    0 => 0,
                    2 => 4,
                    10 => 16,
                    f => return Err(format!("@{at}: bad family {f}")),
                };
                if i64::from(plen) > 8 * alen {
                    return Err(format!("@{at}: prefix longer than the address"));
                }
                if len < 12 + alen {
                    return Err(format!("@{at}: hostcond runs past the end"));
                }
                12 + alen
            }
            op::S_GE | op::S_LE | op::D_GE | op::D_LE | op::S_EQ | op::D_EQ | op::DEV_COND => 8,
            op::MARK_COND | op::CGROUP_COND => 12,
            op::AUTO | op::JMP | op::NOP => 4,
            c => return Err(format!("@{at}: unknown op code {c}")),
        };
        if len < min_len {
            return Err(format!("@{at}: operand runs past the end"));
        }
        if code != op::NOP {
            if no < min_len || no > len + 4 || no % 4 != 0 {
                return Err(format!("@{at}: bad no={no}"));
            }
            if no < len && !valid_cc(bc, at, len, len - no) {
                return Err(format!("@{at}: no={no} does not land on an op"));
            }
        }
        if yes < min_len || yes > len + 4 || yes % 4 != 0 {
            return Err(format!("@{at}: bad yes={yes}"));
        }
        at += yes as usize;
        len -= yes;
    }
    Ok(())
}

/// Whether following `yes` links from `at` reaches the point with `cc` bytes left.
fn valid_cc(bc: &[u8], mut at: usize, mut len: i64, cc: i64) -> bool {
    while len >= 0 {
        if cc > len {
            return false;
        }
        if cc == len {
            return true;
        }
        let yes = i64::from(bc.get(at + 1).copied().unwrap_or(0));
        if yes < 4 || yes % 4 != 0 {
            return false;
        }
        len -= yes;
        at += yes as usize;
    }
    false
}

/// One line per op: `@OFFSET NAME yes=Y no=N {operand}`.
pub fn disassemble(bc: &[u8]) -> String {
    let mut out = String::new();
    let mut at = 0;
    while at + 4 <= bc.len() {
        let code = bc.get(at).copied().unwrap_or(0);
        let yes = bc.get(at + 1).copied().unwrap_or(0);
        let no = no_at(bc, at);
        let u32_at = |i: usize| -> u32 {
            let mut b = [0u8; 4];
            if let Some(s) = bc.get(i..i + 4) {
                b.copy_from_slice(s);
            }
            u32::from_ne_bytes(b)
        };
        let name = match code {
            op::NOP => "NOP",
            op::JMP => "JMP",
            op::S_GE => "S_GE",
            op::S_LE => "S_LE",
            op::D_GE => "D_GE",
            op::D_LE => "D_LE",
            op::AUTO => "AUTO",
            op::S_COND => "S_COND",
            op::D_COND => "D_COND",
            op::DEV_COND => "DEV_COND",
            op::MARK_COND => "MARK_COND",
            op::S_EQ => "S_EQ",
            op::D_EQ => "D_EQ",
            op::CGROUP_COND => "CGROUP_COND",
            _ => "?",
        };
        let _ = write!(out, "  @{at:<4} {name:<11} yes={yes:<3} no={no:<4}");
        match code {
            op::S_COND | op::D_COND => {
                let fam = bc.get(at + 4).copied().unwrap_or(0);
                let plen = bc.get(at + 5).copied().unwrap_or(0);
                let port = u32_at(at + 8) as i32;
                let fam_name = match fam {
                    0 => "unspec",
                    2 => "inet",
                    10 => "inet6",
                    _ => "?",
                };
                let alen = if fam == 10 { 16 } else { 4 };
                let addr = bc.get(at + 12..at + 12 + alen).unwrap_or(&[]);
                let addr_text = match (fam, addr.len()) {
                    (10, 16) => {
                        let mut a = [0u8; 16];
                        a.copy_from_slice(addr);
                        std::net::Ipv6Addr::from(a).to_string()
                    }
                    (2, 4) => format!("{}.{}.{}.{}", addr[0], addr[1], addr[2], addr[3]),
                    _ => "*".into(),
                };
                let port_text = if port == -1 {
                    "*".to_string()
                } else {
                    port.to_string()
                };
                let _ = write!(
                    out,
                    " family={fam_name} addr={addr_text}/{plen} port={port_text}"
                );
            }
            op::S_GE | op::S_LE | op::D_GE | op::D_LE | op::S_EQ | op::D_EQ => {
                let _ = write!(out, " port={}", no_at(bc, at + 4));
            }
            op::DEV_COND => {
                let _ = write!(out, " ifindex={}", u32_at(at + 4));
            }
            op::MARK_COND => {
                let _ = write!(
                    out,
                    " mark={:#x} mask={:#x}",
                    u32_at(at + 4),
                    u32_at(at + 8)
                );
            }
            op::CGROUP_COND => {
                let mut b = [0u8; 8];
                if let Some(x) = bc.get(at + 4..at + 12) {
                    b.copy_from_slice(x);
                }
                let id = u64::from_ne_bytes(b);
                let _ = write!(out, " cgroup={id}");
            }
            _ => {}
        }
        out.push('\n');
        at += op_size(bc, at).max(4);
    }
    out
}
