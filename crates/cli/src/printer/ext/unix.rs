//! Unix socket details (`-e`, `-m`).

use super::shared::{ExtOptions, arrow, write_skmem};
use crate::printer::num::push_u64 as num;
use sockq_model::{Detail, Socket};
use std::io::Write as _;

/// glibc's `major`/`minor` applied to the kernel's internal dev_t
/// (`major << 20 | minor`), as ss does: hence `dev:0/65024` for 254:0.
fn dev_split(dev: u32) -> (u32, u32) {
    ((dev >> 8) & 0xfff, (dev & 0xff) | ((dev >> 12) & 0xfff00))
}

pub(super) fn write_unix(out: &mut Vec<u8>, s: &Socket, o: &ExtOptions) {
    if o.memory
        && let Some(m) = &s.skmem
    {
        write_skmem(out, m);
    }
    if o.extended {
        arrow(out, s);
        if let Detail::Unix(d) = &s.detail {
            if let Some((ino, dev)) = d.vfs {
                let (maj, min) = dev_split(dev);
                let _ = write!(out, " ino:{ino} dev:{maj}/{min}");
            }
            if let Some(p) = &d.pending {
                out.extend_from_slice(b" peers:");
                for i in p {
                    out.push(b' ');
                    num(out, u64::from(*i));
                }
            }
        }
    }
}
