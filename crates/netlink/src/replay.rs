//! Replaying a `-D` dump file (`TCPDIAG_FILE`).
//!
//! Unlike ss, which stops at the first NLMSG_DONE and so ignores the IPv6
//! half of a two-family dump, every message in the file is read: DONE
//! messages are skipped and the walk goes on.

use crate::error::Error;
use crate::inet::decode_inet;
use crate::msg::{self, Messages, NLMSG_DONE, NLMSG_ERROR, NLMSG_NOOP, NLMSG_OVERRUN};
use sockq_model::{Socket, Table};
use std::ops::ControlFlow;

/// Decodes every socket in `data` (the bytes of a dump file) as a TCP
/// socket and calls `on_socket` for each, until it breaks.
///
/// NLMSG_ERROR in the file gives [`Error::Kernel`]; a message cut short
/// gives [`Error::Truncated`]. The message type of socket records is not
/// checked (ss does not either), so legacy TCPDIAG_GETSOCK replies work.
pub fn replay(
    data: &[u8],
    on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
) -> Result<(), Error> {
    for m in Messages::new(data) {
        let (h, payload, at) = m?;
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
            _ => {
                let s = decode_inet(payload, Table::Tcp).map_err(|e| match e {
                    Error::Truncated { what, want, got } => Error::Truncated {
                        what: format!("{what} in dump file message at offset {at}"),
                        want,
                        got,
                    },
                    e => e,
                })?;
                if on_socket(&s).is_break() {
                    break;
                }
            }
        }
    }
    Ok(())
}
