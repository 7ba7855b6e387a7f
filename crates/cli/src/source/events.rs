//! `-E`: follow destroyed TCP and UDP sockets as they happen.
//!
//! Rows are printed and flushed one at a time, each with a leading `Time`
//! column: seconds since the Unix epoch with milliseconds (`1718000000.123`,
//! the receive time; unambiguous, sortable and free of time zones). JSON
//! gets a `time` field. The filter and the families apply, not the state
//! mask (a destroyed TCP socket is in CLOSE), as in ss. SIGINT, SIGTERM and
//! a closed output pipe end the run with status 0 and no message: when
//! stdout is a pipe or a socket it is polled with the netlink socket, so a
//! reader that goes away (`sockq -E | head -1`) ends the run at once, not at
//! the next event. Notifications the kernel dropped (ENOBUFS) are reported
//! on stderr, one line each time, and the receive buffer is raised.

use crate::config::Config;
use crate::error::CliError;
use sockq_model::{Family, FamilySet, Socket, Table};
use sockq_netlink::events::{
    EventSocket, Wake, group, install_stop_handlers, output_can_hang_up, stop_requested,
};
use std::ops::ControlFlow;
use std::os::fd::AsFd;

/// Why following ended.
pub enum Ended {
    /// A signal, or the callback broke (a write failed).
    Stopped,
    /// Nobody reads stdout any more: nothing left to flush to.
    OutputClosed,
}

/// How often the loop looks at the stop flag when nothing happens.
const POLL_MS: i32 = 200;

/// The multicast groups for the selected tables and families.
fn groups(cfg: &Config, families: FamilySet) -> Vec<u32> {
    let mut g = Vec::new();
    let (v4, v6) = (
        families.contains(Family::Inet),
        families.contains(Family::Inet6),
    );
    let (tcp, udp) = (
        cfg.tables.contains(Table::Tcp),
        cfg.tables.contains(Table::Udp),
    );
    if tcp && v4 {
        g.push(group::INET_TCP_DESTROY);
    }
    if udp && v4 {
        g.push(group::INET_UDP_DESTROY);
    }
    if tcp && v6 {
        g.push(group::INET6_TCP_DESTROY);
    }
    if udp && v6 {
        g.push(group::INET6_UDP_DESTROY);
    }
    g
}

/// Follows destroyed sockets of the selected tcp/udp tables and `families`
/// in the calling thread's namespace until a signal, a closed stdout, or
/// `on_event` breaks. Every socket of those groups goes to `on_event`.
pub fn follow(
    cfg: &Config,
    families: FamilySet,
    on_event: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
) -> Result<Ended, CliError> {
    let groups = groups(cfg, families);
    if groups.is_empty() {
        return Err(CliError::Usage(
            "-E follows tcp and udp sockets only: select -t or -u".into(),
        ));
    }
    install_stop_handlers().map_err(|e| CliError::Netlink {
        context: "-E".into(),
        source: e,
    })?;
    let mut sock = EventSocket::new(&groups).map_err(|e| CliError::Netlink {
        context: "-E".into(),
        source: e,
    })?;
    let stdout = std::io::stdout();
    let watch = output_can_hang_up(stdout.as_fd()).then(|| stdout.as_fd());
    let mut overruns = 0u64;
    let mut last_rcvbuf = sock.receive_buffer();
    while !stop_requested() {
        match sock.wait(POLL_MS, watch, on_event) {
            Ok(Wake::Idle) => {}
            // A write failed: the sink's finish() reports it (a closed pipe quietly).
            Ok(Wake::Break) => break,
            Ok(Wake::OutputClosed) => return Ok(Ended::OutputClosed),
            Ok(Wake::Lost { rcvbuf }) => {
                overruns += 1;
                let times = if overruns == 1 {
                    "once".to_owned()
                } else {
                    format!("{overruns} times so far")
                };
                // Past rmem_max without CAP_NET_ADMIN, or at sockq's own cap,
                // the buffer cannot grow: say so rather than claim it did.
                let raised = match rcvbuf {
                    Some(b) if Some(b) != last_rcvbuf => {
                        format!("; receive buffer raised to {} KiB", b / 1024)
                    }
                    Some(b) => format!("; receive buffer stays at {} KiB (its limit)", b / 1024),
                    None => String::new(),
                };
                last_rcvbuf = rcvbuf.or(last_rcvbuf);
                eprintln_quiet!(
                    "sockq: the kernel dropped socket events (receive buffer overrun, \
                     {times}){raised}"
                );
            }
            Err(e) => {
                return Err(CliError::Netlink {
                    context: "-E".into(),
                    source: e,
                });
            }
        }
    }
    Ok(Ended::Stopped)
}
