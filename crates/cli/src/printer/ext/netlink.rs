//! Netlink socket details (`-e`, `-m`).

use super::shared::{ExtOptions, write_skmem};
use sockq_model::{Detail, Socket};
use std::io::Write as _;

pub(super) fn write_netlink(out: &mut Vec<u8>, s: &Socket, o: &ExtOptions) {
    if o.extended {
        let groups = match &s.detail {
            Detail::Netlink(d) => d.groups.first().copied().unwrap_or(0),
            _ => 0,
        };
        // sk and cb are only known from /proc/net/netlink; sock_diag gives 0.
        let _ = write!(out, " sk=0 cb=0 groups=0x{groups:08x}");
    }
    if o.memory
        && let Some(m) = &s.skmem
    {
        // ss puts a TAB before a netlink socket's skmem.
        out.push(b'\t');
        write_skmem(out, m);
    }
}
