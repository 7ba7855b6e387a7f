//! `-s`: ss's summary layout, counted so that it is right inside a network
//! namespace.
//!
//! ss reads `/proc/net/sockstat`, whose `TCP: alloc` and `orphan` (and
//! `mem`) are global across namespaces, so inside a netns its TCP line can
//! read `100070 (estab 12, closed 100054, …)`. sockq counts from the
//! namespace's own sock_diag dumps instead, and takes from sockstat only the
//! values the kernel keeps per namespace. How each number is computed:
//!
//! * `Total`: sockstat's `sockets: used` (per namespace since Linux 4.16,
//!   [`Sockstat::sockets_used`]) when it was read, else the number of
//!   sockets added (every family that was dumped).
//! * `TCP: N`: every TCP socket in the dumps (both families, every state,
//!   time-wait and request sockets included); ss prints alloc + tw.
//! * `estab`: TCP sockets in ESTABLISHED or CLOSE-WAIT, which is what
//!   snmp's `Tcp: CurrEstab` (RFC 1213 tcpCurrEstab, ss's source) counts.
//! * `closed`: TCP sockets in CLOSE (ss subtracts hashed sockets from the
//!   global alloc instead).
//! * `orphaned`: TCP sockets with no owning file (inode 0) in a state that
//!   only close() leads to: FIN-WAIT-1, FIN-WAIT-2, CLOSING, LAST-ACK.
//!   Time-wait sockets (see below) and unaccepted children (ESTAB or
//!   CLOSE-WAIT with inode 0) are not orphans. This is the kernel's orphan
//!   count restricted to the namespace; sockstat's `orphan` is global.
//! * `timewait`: time-wait sockets as above (sockstat's `tw`, per namespace,
//!   counts the same sockets).
//! * Transport `RAW`, `UDP`, `TCP`: sockets of the table in the IPv4 and
//!   IPv6 dumps. TCP leaves out time-wait and request sockets, like
//!   sockstat's `inuse`. When a table could not be dumped (no raw_diag
//!   module, for example) the caller copies sockstat's per-namespace `inuse`
//!   ([`SummaryCounts::fill_missing`]).
//! * `INET`: RAW + UDP + TCP, per column.
//! * `FRAG`: sockstat's and sockstat6's `FRAG: inuse` (per namespace).
//!
//! Read `/proc/thread-self/net/sockstat`: `/proc/net` follows the process's
//! main thread, not a thread that entered another namespace.

use sockq_model::{Family, Socket, State, Table, TimerKind};
use std::io::Write as _;

/// Counters behind the summary, one pair `[IPv4, IPv6]` per transport.
/// Every field is public so that the JSON printer can emit them as they are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SummaryCounts {
    /// sockstat `sockets: used`, when read (per namespace).
    pub sockets_used: Option<u64>,
    /// Sockets added, every family.
    pub sockets_seen: u64,
    /// TCP sockets of every state.
    pub tcp_total: u64,
    /// TCP in ESTABLISHED or CLOSE-WAIT (tcpCurrEstab).
    pub tcp_estab: u64,
    /// TCP in CLOSE.
    pub tcp_closed: u64,
    /// Orphaned TCP sockets (see the module doc).
    pub tcp_orphaned: u64,
    /// TCP time-wait sockets.
    pub tcp_timewait: u64,
    /// RAW sockets: IPv4, IPv6.
    pub raw: [u64; 2],
    /// UDP sockets: IPv4, IPv6.
    pub udp: [u64; 2],
    /// TCP sockets that hold a hash slot (no time-wait, no request socket).
    pub tcp: [u64; 2],
    /// IP fragment queues: IPv4, IPv6.
    pub frag: [u64; 2],
}

impl SummaryCounts {
    /// Counts one socket from a dump.
    pub fn add(&mut self, s: &Socket) {
        self.sockets_seen += 1;
        let col = match s.family {
            Family::Inet => 0,
            Family::Inet6 => 1,
            _ => return,
        };
        match s.table {
            Table::Raw => self.raw[col] += 1,
            Table::Udp => self.udp[col] += 1,
            Table::Tcp => {
                self.tcp_total += 1;
                let tw = s.state == State::TimeWait
                    || s.timer.is_some_and(|t| t.kind == TimerKind::TimeWait);
                let request = matches!(s.state, State::SynRecv | State::NewSynRecv);
                match s.state {
                    State::Established | State::CloseWait => self.tcp_estab += 1,
                    State::Close => self.tcp_closed += 1,
                    _ => {}
                }
                if tw {
                    self.tcp_timewait += 1;
                } else if !request {
                    self.tcp[col] += 1;
                    let closing = matches!(
                        s.state,
                        State::FinWait1 | State::FinWait2 | State::Closing | State::LastAck
                    );
                    if s.inode == 0 && closing {
                        self.tcp_orphaned += 1;
                    }
                }
            }
            _ => {}
        }
    }

    /// RAW + UDP + TCP, per column.
    pub fn inet(&self) -> [u64; 2] {
        [
            self.raw[0] + self.udp[0] + self.tcp[0],
            self.raw[1] + self.udp[1] + self.tcp[1],
        ]
    }

    /// The `Total:` number.
    pub fn total(&self) -> u64 {
        self.sockets_used.unwrap_or(self.sockets_seen)
    }

    /// Takes the per-namespace values of sockstat (v4) and sockstat6 (v6):
    /// `sockets: used`, FRAG, and the `inuse` count of each table named in
    /// `missing` (tables whose dump failed).
    pub fn fill_missing(&mut self, v4: &Sockstat, v6: &Sockstat, missing: &[Table]) {
        if v4.sockets_used.is_some() {
            self.sockets_used = v4.sockets_used;
        }
        self.frag = [v4.frag_inuse, v6.frag_inuse];
        for t in missing {
            match t {
                Table::Raw => self.raw = [v4.raw_inuse, v6.raw_inuse],
                Table::Udp => self.udp = [v4.udp_inuse, v6.udp_inuse],
                Table::Tcp => self.tcp = [v4.tcp_inuse, v6.tcp_inuse],
                _ => {}
            }
        }
    }
}

/// The per-namespace numbers of one `/proc/net/sockstat` or `sockstat6`
/// file (whose v6 lines are `TCP6:`, `UDP6:`, `RAW6:`, `FRAG6:`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sockstat {
    /// `sockets: used` (sockstat only).
    pub sockets_used: Option<u64>,
    /// `TCP: inuse`.
    pub tcp_inuse: u64,
    /// `TCP: tw`.
    pub tcp_tw: u64,
    /// `UDP: inuse`.
    pub udp_inuse: u64,
    /// `RAW: inuse`.
    pub raw_inuse: u64,
    /// `FRAG: inuse`.
    pub frag_inuse: u64,
}

impl Sockstat {
    /// Parses the file's text; unknown lines and fields are ignored.
    pub fn parse(text: &str) -> Sockstat {
        let mut s = Sockstat::default();
        for line in text.lines() {
            let Some((label, rest)) = line.split_once(':') else {
                continue;
            };
            let mut words = rest.split_whitespace();
            while let (Some(k), Some(v)) = (words.next(), words.next()) {
                let Ok(v) = v.parse::<u64>() else { continue };
                match (label.trim_end_matches('6'), k) {
                    ("sockets", "used") => s.sockets_used = Some(v),
                    ("TCP", "inuse") => s.tcp_inuse = v,
                    ("TCP", "tw") => s.tcp_tw = v,
                    ("UDP", "inuse") => s.udp_inuse = v,
                    ("RAW", "inuse") => s.raw_inuse = v,
                    ("FRAG", "inuse") => s.frag_inuse = v,
                    _ => {}
                }
            }
        }
        s
    }
}

/// Writes the summary in ss's layout: `Total:`, the TCP line, a blank line,
/// the transport table (label, TAB, two spaces, then `%-9d %-9d %-9d`, so
/// lines end in spaces) and a final blank line.
pub fn write_summary(out: &mut Vec<u8>, c: &SummaryCounts) {
    let _ = writeln!(out, "Total: {}", c.total());
    let _ = writeln!(
        out,
        "TCP:   {} (estab {}, closed {}, orphaned {}, timewait {})",
        c.tcp_total, c.tcp_estab, c.tcp_closed, c.tcp_orphaned, c.tcp_timewait
    );
    out.push(b'\n');
    out.extend_from_slice(b"Transport Total     IP        IPv6\n");
    for (label, v) in [
        ("RAW", c.raw),
        ("UDP", c.udp),
        ("TCP", c.tcp),
        ("INET", c.inet()),
        ("FRAG", c.frag),
    ] {
        let _ = writeln!(out, "{label}\t  {:<9} {:<9} {:<9}", v[0] + v[1], v[0], v[1]);
    }
    out.push(b'\n');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use sockq_model::Timer;

    fn sock(table: Table, family: Family, state: State, inode: u32) -> Socket {
        let mut s = Socket::new(table, family, state);
        s.inode = inode;
        s
    }

    fn fixture() -> SummaryCounts {
        let mut c = SummaryCounts::default();
        let v = [
            sock(Table::Tcp, Family::Inet, State::Listen, 10),
            sock(Table::Tcp, Family::Inet, State::Established, 11),
            sock(Table::Tcp, Family::Inet, State::Established, 0), // accept queue
            sock(Table::Tcp, Family::Inet6, State::Established, 12),
            sock(Table::Tcp, Family::Inet6, State::FinWait1, 0), // orphan
            sock(Table::Tcp, Family::Inet6, State::LastAck, 0),  // orphan
            sock(Table::Tcp, Family::Inet6, State::LastAck, 14), // still owned
            sock(Table::Tcp, Family::Inet, State::TimeWait, 0),
            sock(Table::Tcp, Family::Inet, State::SynRecv, 0), // request socket
            sock(Table::Tcp, Family::Inet, State::Close, 13),
            sock(Table::Udp, Family::Inet, State::Close, 20),
            sock(Table::Udp, Family::Inet6, State::Close, 21),
            sock(Table::Udp, Family::Inet6, State::Established, 22),
            sock(Table::Raw, Family::Inet, State::Close, 30),
            sock(Table::UnixStream, Family::Unix, State::Established, 40),
        ];
        for s in &v {
            c.add(s);
        }
        // A time-wait socket still in FIN-WAIT-2 carries the timewait timer.
        let mut fw2 = sock(Table::Tcp, Family::Inet6, State::FinWait2, 0);
        fw2.timer = Some(Timer {
            kind: TimerKind::TimeWait,
            expires_ms: 100,
            retrans: 0,
        });
        c.add(&fw2);
        c
    }

    #[test]
    fn close_wait_counts_as_established() {
        // tcpCurrEstab counts ESTABLISHED and CLOSE-WAIT; FIN-WAIT-2 is not in it.
        let mut c = SummaryCounts::default();
        for st in [State::Established, State::CloseWait, State::FinWait2] {
            c.add(&sock(Table::Tcp, Family::Inet, st, 1));
        }
        assert_eq!(c.tcp_estab, 2);
        assert_eq!(c.tcp_total, 3);
    }

    #[test]
    fn counts() {
        let c = fixture();
        assert_eq!(c.sockets_seen, 16);
        assert_eq!(c.tcp_total, 11);
        assert_eq!(c.tcp_estab, 3);
        assert_eq!(c.tcp_closed, 1);
        // The unaccepted ESTAB child has inode 0 but is no orphan.
        assert_eq!(c.tcp_orphaned, 2);
        assert_eq!(c.tcp_timewait, 2);
        assert_eq!(c.tcp, [4, 4]);
        assert_eq!(c.udp, [1, 2]);
        assert_eq!(c.raw, [1, 0]);
        assert_eq!(c.inet(), [6, 6]);
    }

    #[test]
    fn layout() {
        let mut c = fixture();
        c.sockets_used = Some(28);
        c.frag = [0, 1];
        let mut out = Vec::new();
        write_summary(&mut out, &c);
        let want = "Total: 28\n\
TCP:   11 (estab 3, closed 1, orphaned 2, timewait 2)\n\
\n\
Transport Total     IP        IPv6\n\
RAW\t  1         1         0        \n\
UDP\t  3         1         2        \n\
TCP\t  8         4         4        \n\
INET\t  12        6         6        \n\
FRAG\t  1         0         1        \n\
\n";
        assert_eq!(String::from_utf8(out).unwrap(), want);
        // Without sockstat the total is what the dumps held.
        c.sockets_used = None;
        assert_eq!(c.total(), 16);
    }

    /// The numbers of spec 6.8's example give its exact text.
    #[test]
    fn spec_example() {
        let c = SummaryCounts {
            sockets_used: Some(28),
            tcp_total: 100_070,
            tcp_estab: 12,
            tcp_closed: 100_054,
            tcp_timewait: 1,
            raw: [1, 0],
            udp: [3, 1],
            tcp: [10, 6],
            ..SummaryCounts::default()
        };
        let mut out = Vec::new();
        write_summary(&mut out, &c);
        let want = "Total: 28\n\
TCP:   100070 (estab 12, closed 100054, orphaned 0, timewait 1)\n\
\n\
Transport Total     IP        IPv6\n\
RAW\t  1         1         0        \n\
UDP\t  4         3         1        \n\
TCP\t  16        10        6        \n\
INET\t  21        14        7        \n\
FRAG\t  0         0         0        \n\
\n";
        assert_eq!(String::from_utf8(out).unwrap(), want);
    }

    #[test]
    fn sockstat_parse_and_fill() {
        let v4 = Sockstat::parse(
            "sockets: used 15\nTCP: inuse 1 orphan 0 tw 2 alloc 299993 mem 323\n\
             UDP: inuse 3 mem 0\nUDPLITE: inuse 0\nRAW: inuse 4\nFRAG: inuse 5 memory 0\n",
        );
        assert_eq!(v4.sockets_used, Some(15));
        assert_eq!(
            (
                v4.tcp_inuse,
                v4.tcp_tw,
                v4.udp_inuse,
                v4.raw_inuse,
                v4.frag_inuse
            ),
            (1, 2, 3, 4, 5)
        );
        let v6 = Sockstat::parse(
            "TCP6: inuse 6\nUDP6: inuse 7\nUDPLITE6: inuse 0\nRAW6: inuse 8\nFRAG6: inuse 9 memory 0\n",
        );
        assert_eq!(
            (v6.sockets_used, v6.tcp_inuse, v6.raw_inuse, v6.frag_inuse),
            (None, 6, 8, 9)
        );
        let mut c = fixture();
        c.fill_missing(&v4, &v6, &[Table::Raw]);
        assert_eq!(c.raw, [4, 8]);
        assert_eq!(c.udp, [1, 2], "dumped tables keep their counts");
        assert_eq!(c.frag, [5, 9]);
        assert_eq!(c.total(), 15);
        assert_eq!(
            Sockstat::parse("garbage\n: x y\nTCP: inuse x"),
            Sockstat::default()
        );
    }
}
