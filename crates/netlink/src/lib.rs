//! sock_diag I/O and decoding for sockq.
//!
//! This crate talks to the kernel: it opens a `NETLINK_SOCK_DIAG` socket
//! ([`DiagSocket`]), runs multi-part dumps ([`DiagSocket::dump_raw`], which
//! the other families reuse), and decodes inet replies into
//! [`sockq_model::Socket`] records ([`DiagSocket::dump_inet`],
//! [`decode_inet`]). It also holds the `/proc/net` fallback ([`procnet`]),
//! the replay of `-D` dump files ([`replay()`]) and interface name lookup
//! ([`interface_names`], [`interface_index`]). It is the only sockq crate
//! with `unsafe` code: libc calls for interface names, `setns` and signal
//! handlers, each with a `SAFETY:` comment.
//!
//! netlink-packet-sock-diag 0.5 supplies the 56-byte `inet_diag_req_v2`.
//! This crate fills the gaps it leaves:
//!
//! * **Request attributes.** The crate's `InetRequest` cannot carry
//!   attributes, so `INET_DIAG_REQ_BYTECODE` (kernel filter) and
//!   `INET_DIAG_REQ_PROTOCOL` (protocols over 255, such as MPTCP 262) are
//!   appended by hand and `nlmsg_len` is fixed ([`InetRequest::to_bytes`]).
//! * **The reply header.** The crate's timer type drops the TIME-WAIT
//!   expiry, the keepalive probe count and unknown timer codes, so the
//!   72-byte `inet_diag_msg` is decoded here.
//! * **Attributes by length.** `tcp_info` (280 bytes on Linux 6.18) and
//!   `mptcp_info` are decoded by length into zero-filled buffers, so older
//!   (shorter) and newer (longer) kernels both work; a short known
//!   attribute never loses the socket. CGROUP_ID, SOCKOPT, BBR, DCTCP and
//!   Vegas info are decoded too.
//! * **Speed.** Messages are walked in place in the receive buffer: the
//!   plain path allocates nothing per socket.
//!
//! ```no_run
//! use sockq_model::{Family, StateSet, Table};
//! use sockq_netlink::{DiagSocket, InetRequest};
//! use std::ops::ControlFlow;
//!
//! let mut nl = DiagSocket::new()?;
//! let mut req = InetRequest::new(Family::Inet, Table::Tcp);
//! req.states = StateSet::LISTENING;
//! nl.dump_inet(&req, &mut |s| {
//!     println!("{:?} {:?}", s.state, s.local);
//!     ControlFlow::Continue(())
//! })?;
//! # Ok::<(), sockq_netlink::Error>(())
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod both;
pub mod destroy;
pub mod error;
pub mod events;
pub mod held;
mod ifname;
pub mod inet;
pub mod msg;
pub mod nl;
pub mod ns;
pub mod other;
pub mod packet;
pub mod procnet;
pub mod replay;
mod retry;
mod socket;
mod sockopt;
pub mod unix;

pub use both::{HOLD_BUDGET, Walk, ipv4_first, tcp6_in_use};
pub use error::Error;
pub use ifname::{interface_index, interface_names};
pub use inet::{InetRequest, decode_inet, decode_inet_into, ext};
pub use msg::OnMessage;
pub use nl::{decode_netlink, netlink_request};
pub use other::{decode_tipc, decode_vsock, decode_xdp, tipc_request, vsock_request, xdp_request};
pub use packet::{decode_packet, packet_request};
pub use replay::{ReplayMode, replay, replay_reader};
pub use retry::{MAX_DUMP_RETRIES, cookie_offset, retry_interrupted};
pub use socket::{DiagSocket, dump_from_bytes};
pub use unix::{decode_unix, fill_unix_peer_names, unix_request};
