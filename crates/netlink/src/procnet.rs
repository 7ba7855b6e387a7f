//! The `/proc/net/{tcp,udp,raw,udplite}[6]` fallback, for kernels (or
//! tables) without a sock_diag handler: raw sockets on kernels without
//! raw_diag, or when `PROC_NET_*`/`PROC_ROOT` ask for it.
//!
//! Rows from /proc know less than sock_diag: no cookie, ifindex, mark,
//! cgroup or v6only (`None`, so `::` prints as `*`), and no extensions.

use crate::error::Error;
use sockq_model::{Endpoint, Family, Socket, State, StateSet, Table, Timer, TimerKind};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// USER_HZ: /proc/net reports timer expiry in clock ticks of 1/100 s.
const USER_HZ: u64 = 100;

/// The file for `table` in `family`: the `PROC_NET_*` variable when set
/// (tcp, udp and raw only, as in ss), else `proc_root/net/<file>`. `None`
/// for tables without a /proc file.
pub fn proc_path(table: Table, family: Family, proc_root: &Path) -> Option<PathBuf> {
    let v6 = family == Family::Inet6;
    let (file, var) = match table {
        Table::Tcp => ("tcp", Some("PROC_NET_TCP")),
        Table::Udp => ("udp", Some("PROC_NET_UDP")),
        Table::Raw => ("raw", Some("PROC_NET_RAW")),
        Table::UdpLite => ("udplite", None),
        _ => return None,
    };
    let suffix = if v6 { "6" } else { "" };
    if let Some(var) = var
        && let Some(p) = std::env::var_os(format!("{var}{suffix}"))
    {
        return Some(PathBuf::from(p));
    }
    Some(proc_root.join("net").join(format!("{file}{suffix}")))
}

/// Reads the /proc/net file of `table` in `family` (see [`proc_path`]) and
/// calls `on_socket` for each row whose state is in `states`, until it
/// breaks. The state filter is applied here, as the kernel does for dumps.
///
/// A missing file is an [`Error::Io`]; a table without a /proc file is an
/// [`Error::ProtocolMissing`]; a malformed row is an [`Error::Decode`].
pub fn read_inet(
    table: Table,
    family: Family,
    states: StateSet,
    proc_root: &Path,
    on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
) -> Result<(), Error> {
    let Some(path) = proc_path(table, family, proc_root) else {
        return Err(Error::ProtocolMissing {
            what: format!("{table} ({family}): no /proc/net fallback"),
        });
    };
    let text =
        std::fs::read(&path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
    parse_inet(&text, table, family, states, &mut |s| on_socket(s)).map_err(|e| match e {
        Error::Decode(m) => Error::Decode(format!("{}: {m}", path.display())),
        e => e,
    })
}

/// Parses the contents of a `/proc/net/{tcp,udp,raw,udplite}[6]` file.
pub fn parse_inet(
    text: &[u8],
    table: Table,
    family: Family,
    states: StateSet,
    on_socket: &mut dyn FnMut(&Socket) -> ControlFlow<()>,
) -> Result<(), Error> {
    // The first line is the column header.
    for (i, line) in text.split(|&b| b == b'\n').enumerate().skip(1) {
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let s = parse_line(line, table, family).ok_or_else(|| {
            Error::Decode(format!(
                "line {}: {:?}",
                i + 1,
                String::from_utf8_lossy(line)
            ))
        })?;
        if states.contains(s.state) && on_socket(&s).is_break() {
            break;
        }
    }
    Ok(())
}

fn hex_u32(s: &[u8]) -> Option<u32> {
    u32::from_str_radix(std::str::from_utf8(s).ok()?, 16).ok()
}

fn dec_u32(s: &[u8]) -> Option<u32> {
    std::str::from_utf8(s).ok()?.parse().ok()
}

/// `ADDR:PORT` with ADDR as 8 or 32 hex digits of host-order u32 words.
fn endpoint(s: &[u8], family: Family) -> Option<Endpoint> {
    let colon = s.iter().rposition(|&b| b == b':')?;
    let (a, p) = (s.get(..colon)?, s.get(colon + 1..)?);
    let port = u16::try_from(hex_u32(p)?).ok()?;
    let mut bytes = [0u8; 16];
    let words = a.len() / 8;
    if a.len() % 8 != 0 || !(words == 1 || words == 4) {
        return None;
    }
    for (w, chunk) in a.chunks(8).enumerate() {
        let v = hex_u32(chunk)?;
        bytes
            .get_mut(w * 4..w * 4 + 4)?
            .copy_from_slice(&v.to_ne_bytes());
    }
    let addr = match (family, words) {
        (Family::Inet, 1) => IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3])),
        (Family::Inet6, 4) => IpAddr::V6(Ipv6Addr::from(bytes)),
        _ => return None,
    };
    Some(Endpoint::Inet { addr, port })
}

fn split_pair(s: &[u8]) -> Option<(&[u8], &[u8])> {
    let c = s.iter().position(|&b| b == b':')?;
    Some((s.get(..c)?, s.get(c + 1..)?))
}

/// One row: `sl local rem st tx:rx tr:when retrnsmt uid timeout inode ...`.
fn parse_line(line: &[u8], table: Table, family: Family) -> Option<Socket> {
    let mut f = line
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    let _sl = f.next()?;
    let local = endpoint(f.next()?, family)?;
    let peer = endpoint(f.next()?, family)?;
    let state = State::from_u8(u8::try_from(hex_u32(f.next()?)?).ok()?);
    let (tx, rx) = split_pair(f.next()?)?;
    let (tr, when) = split_pair(f.next()?)?;
    let retrnsmt = hex_u32(f.next()?)?;
    let uid = dec_u32(f.next()?)?;
    // TCP: icsk_probes_out; 0 elsewhere.
    let probes = dec_u32(f.next()?)?;
    let inode = dec_u32(f.next()?)?;

    let mut s = Socket::new(table, family, state);
    if table == Table::Raw {
        // The local "port" of a raw socket is its protocol.
        s.raw_protocol = local.inet().and_then(|(_, p)| u8::try_from(p).ok());
    }
    s.local = local;
    s.peer = peer;
    s.send_q = hex_u32(tx)?;
    s.recv_q = hex_u32(rx)?;
    s.uid = Some(uid);
    s.inode = inode;
    let code = u8::try_from(hex_u32(tr)?).ok()?;
    // The jiffies delta is printed as a signed clock_t in %08lX: a timer
    // already due shows as a huge value; treat anything over i32 as 0.
    let ticks = u64::from_str_radix(std::str::from_utf8(when).ok()?, 16).ok()?;
    let ticks = if ticks > i32::MAX as u64 { 0 } else { ticks };
    let expires_ms = u32::try_from((ticks * 1000).div_ceil(USER_HZ)).unwrap_or(u32::MAX);
    s.timer = TimerKind::from_u8(code).map(|kind| Timer {
        kind,
        expires_ms,
        // As in sock_diag: retransmits for `on`, probes otherwise.
        retrans: u8::try_from(if kind == TimerKind::On {
            retrnsmt
        } else {
            probes
        })
        .unwrap_or(u8::MAX),
    });
    Some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TCP: &str = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:0277 00000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 411 1 0000000000000000 100 0 0 10 0
   1: 0100000A:0016 0200000A:C488 01 00000010:00000000 02:000AF4FB 00000000  1000        2 15840 2 0000000000000000 20 4 30 10 -1
";

    const TCP6: &str = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 413 1 0000000000000000 100 0 0 10 0
   1: 4200C0FE000000000000000024000000:9E48 4200C0FE000000000000000001000000:0016 06 00000000:00000000 03:00000BB8 00000000     0        0 0 3 0000000000000000
";

    fn collect(text: &str, table: Table, fam: Family, states: StateSet) -> Vec<Socket> {
        let mut v = Vec::new();
        let r = parse_inet(text.as_bytes(), table, fam, states, &mut |s| {
            v.push(s.clone());
            ControlFlow::Continue(())
        });
        assert!(r.is_ok(), "{r:?}");
        v
    }

    #[test]
    fn tcp4_rows() {
        let v = collect(TCP, Table::Tcp, Family::Inet, StateSet::ALL);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].state, State::Listen);
        assert_eq!(
            v[0].local.inet(),
            Some((IpAddr::V4(Ipv4Addr::LOCALHOST), 631))
        );
        assert_eq!(
            (v[0].recv_q, v[0].send_q, v[0].inode, v[0].uid),
            (3, 0, 411, Some(0))
        );
        assert_eq!(v[0].timer, None);
        assert_eq!(v[0].v6only, None);
        let e = &v[1];
        assert_eq!(e.state, State::Established);
        assert_eq!(e.local.inet().map(|x| x.1), Some(22));
        assert_eq!(
            e.peer.inet().map(|x| x.0.to_string()),
            Some("10.0.0.2".into())
        );
        assert_eq!(e.peer.inet().map(|x| x.1), Some(50312));
        assert_eq!(e.send_q, 16);
        assert_eq!(e.uid, Some(1000));
        // 0xAF4FB ticks = 718075 * 10 ms.
        assert_eq!(
            e.timer,
            Some(Timer {
                kind: TimerKind::Keepalive,
                expires_ms: 7_180_750,
                retrans: 2
            })
        );
        let only_listen = collect(TCP, Table::Tcp, Family::Inet, StateSet::of(State::Listen));
        assert_eq!(only_listen.len(), 1);
    }

    #[test]
    fn tcp6_rows() {
        let v = collect(TCP6, Table::Tcp, Family::Inet6, StateSet::ALL);
        assert_eq!(v.len(), 2);
        assert_eq!(
            v[0].local.inet().map(|x| x.0.to_string()),
            Some("::".into())
        );
        assert_eq!(
            v[1].local.inet().map(|x| x.0.to_string()),
            Some("fec0:42::24".into())
        );
        assert_eq!(v[1].peer.inet().map(|x| x.1), Some(22));
        assert_eq!(v[1].state, State::TimeWait);
        assert_eq!(
            v[1].timer.map(|t| (t.kind, t.expires_ms)),
            Some((TimerKind::TimeWait, 30_000))
        );
    }

    #[test]
    fn bad_rows_are_errors_not_panics() {
        for bad in [
            "hdr\n 0: zz:1 0:0 0A",
            "hdr\n 0: 0100007F:0277",
            "hdr\n 0: 0100007F:FFFFF 00000000:0000 0A 0:0 0:0 0 0 0 0",
        ] {
            let r = parse_inet(
                bad.as_bytes(),
                Table::Tcp,
                Family::Inet,
                StateSet::ALL,
                &mut |_| ControlFlow::Continue(()),
            );
            assert!(matches!(r, Err(Error::Decode(_))), "{bad}: {r:?}");
        }
    }

    #[test]
    fn paths() {
        let root = Path::new("/x");
        assert_eq!(
            proc_path(Table::UdpLite, Family::Inet6, root),
            Some(PathBuf::from("/x/net/udplite6"))
        );
        assert_eq!(proc_path(Table::Mptcp, Family::Inet, root), None);
    }
}
