//! The extended output after the address columns: timers (`-o`), socket
//! details (`-e`), memory (`-m`), protocol info (`-i`), `--tos`,
//! `--cgroup`, `--inet-sockopt`, packet filters (`-b`), in ss's order and
//! spellings (spec sections 6.4 to 6.7). Pure functions over a byte buffer.
//!
//! Deliberate differences from ss HEAD: netlink `-e` and `-m` print without
//! `-p` (ss bug 22), and the delack timer is named (`delack`, as HEAD 7.1).
//!
//! One module per family's detail printer; the options and what they share
//! in `shared`; numbers and times in [`crate::printer::num`].

mod inet;
mod netlink;
mod packet;
mod shared;
mod unix;
mod xdp;

use inet::write_inet;
pub use inet::{write_mptcp_info, write_tcp_info};
use netlink::write_netlink;
use packet::write_packet;
pub use shared::{ExtOptions, write_skmem, write_timer};
use sockq_model::{Family, Socket};
use unix::write_unix;
use xdp::write_xdp;

/// Writes everything that follows the address columns (and ` users:(…)`)
/// for any family: it starts with a space or a `\n\t` break, and is empty
/// when nothing is to be shown. `cgroup_path` turns a cgroup id into its
/// path under the cgroup2 mount (`None` prints `unreachable:ID`).
pub fn write_ext<'c>(
    out: &mut Vec<u8>,
    s: &Socket,
    o: &ExtOptions,
    cgroup_path: &dyn Fn(u64) -> Option<&'c [u8]>,
) {
    match s.family {
        Family::Inet | Family::Inet6 => write_inet(out, s, o, cgroup_path),
        Family::Unix => write_unix(out, s, o),
        Family::Packet => write_packet(out, s, o),
        Family::Netlink => write_netlink(out, s, o),
        Family::Xdp => write_xdp(out, s, o),
        // ss prints nothing extra for vsock; TIPC has only --tipcinfo.
        Family::Vsock | Family::Tipc | Family::Other(_) => {}
    }
}

#[cfg(test)]
mod tests;
