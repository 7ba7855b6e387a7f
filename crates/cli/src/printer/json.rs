//! `--json` and `--json-lines`: one object per socket, streamed.
//!
//! The array is written as sockets arrive, so memory does not grow with the
//! number of sockets. Numbers are numbers in raw units (bytes, ms, bps);
//! absent fields are left out, never `null`. The schema is docs/json.md.

use crate::config::Show;
use crate::names::Names;
use sockq_model::{Endpoint, Owner, ProcessInfo, Socket, UnixName};
use std::io::{self, Write};
use std::net::IpAddr;

/// Streams socket objects.
pub struct JsonPrinter<W: Write> {
    out: W,
    lines: bool,
    count: u64,
    buf: Vec<u8>,
    netns: Option<Vec<u8>>,
    time: Option<f64>,
    /// `-K --dry-run`: the `action` field of every object.
    action: Option<&'static str>,
    /// `-s`: the summary object, written in the same document.
    summary: Option<Vec<u8>>,
}

pub use super::json_obj::{Obj, push_str};

fn push_addr(b: &mut Vec<u8>, a: IpAddr) {
    b.push(b'"');
    let _ = write!(b, "{a}");
    b.push(b'"');
}

fn unix_name_bytes(n: &UnixName) -> Vec<u8> {
    n.display_bytes()
}

/// An interface name, raw (JSON-escaped once, by `Obj::str`), or `ifN`.
fn ifname(names: &Names, ifindex: u32) -> Vec<u8> {
    names
        .ifname_bytes(ifindex)
        .unwrap_or_else(|| format!("if{ifindex}").into_bytes())
}

fn endpoint(b: &mut Vec<u8>, s: &Socket, e: &Endpoint, local: bool, names: &Names) {
    let mut o = Obj::new(b);
    match e {
        Endpoint::Inet { addr, port } => {
            o.raw("address", |b| push_addr(b, *addr));
            o.num("port", *port);
            if local && s.ifindex != 0 {
                o.str("interface", &ifname(names, s.ifindex));
            }
            if let Some(h) = names.host(*addr) {
                o.str("host", h.as_bytes());
            }
            if let Some(svc) = names.service(s.table, *port) {
                o.str("service", svc.as_bytes());
            }
        }
        Endpoint::Unix { name, inode } => {
            if let Some(n) = name {
                o.str("name", &unix_name_bytes(n));
                o.bool("abstract", matches!(n, UnixName::Abstract(_)));
            }
            o.num("inode", *inode);
        }
        Endpoint::Packet { protocol, ifindex } => {
            o.num("protocol", *protocol);
            if let Some(n) = sockq_model::names::ethertype_name(*protocol) {
                o.str("protocol_name", n.as_bytes());
            }
            if *ifindex != 0 {
                o.num("ifindex", *ifindex)
                    .str("interface", &ifname(names, *ifindex));
            }
        }
        Endpoint::Netlink { protocol, portid } => {
            o.num("protocol", *protocol);
            if let Some(n) = sockq_model::names::netlink_protocol_name(*protocol) {
                o.str("protocol_name", n.as_bytes());
            }
            o.int("portid", *portid);
        }
        Endpoint::NetlinkPeer { group, portid } => {
            o.num("group", *group).num("portid", *portid);
        }
        Endpoint::Vsock { cid, port } => {
            o.num("cid", *cid).num("port", *port);
        }
        Endpoint::Tipc { node, reference } => {
            o.num("node", *node).num("reference", *reference);
        }
        Endpoint::Xdp { ifindex, queue } => {
            o.num("ifindex", *ifindex).num("queue", *queue);
        }
        Endpoint::None => {}
    }
    o.end();
}

fn tcp_info(b: &mut Vec<u8>, t: &sockq_model::TcpInfo) {
    let mut o = Obj::new(b);
    macro_rules! nums {
        ($($f:ident),*) => { $( o.num(stringify!($f), t.$f); )* };
    }
    o.num("state", t.state)
        .num("ca_state", t.ca_state)
        .num("retransmits", t.retransmits);
    o.num("probes", t.probes)
        .num("backoff", t.backoff)
        .num("options", t.options);
    o.num("snd_wscale", t.snd_wscale)
        .num("rcv_wscale", t.rcv_wscale);
    o.bool("delivery_rate_app_limited", t.delivery_rate_app_limited);
    o.num("fastopen_client_fail", t.fastopen_client_fail);
    nums!(
        rto,
        ato,
        snd_mss,
        rcv_mss,
        unacked,
        sacked,
        lost,
        retrans,
        fackets,
        last_data_sent,
        last_ack_sent,
        last_data_recv,
        last_ack_recv,
        pmtu,
        rcv_ssthresh,
        rtt,
        rttvar,
        snd_ssthresh,
        snd_cwnd,
        advmss,
        reordering,
        rcv_rtt,
        rcv_space,
        total_retrans,
        pacing_rate,
        max_pacing_rate,
        bytes_acked,
        bytes_received,
        segs_out,
        segs_in,
        notsent_bytes,
        min_rtt,
        data_segs_in,
        data_segs_out,
        delivery_rate,
        busy_time,
        rwnd_limited,
        sndbuf_limited,
        delivered,
        delivered_ce,
        bytes_sent,
        bytes_retrans,
        dsack_dups,
        reord_seen,
        rcv_ooopack,
        snd_wnd,
        rcv_wnd,
        rehash,
        total_rto,
        total_rto_recoveries,
        total_rto_time,
        received_ce
    );
    o.end();
}

impl<W: Write> JsonPrinter<W> {
    /// A printer; `lines` gives one object per line instead of an array.
    pub fn new(out: W, lines: bool) -> Self {
        JsonPrinter {
            out,
            lines,
            count: 0,
            buf: Vec::with_capacity(1024),
            netns: None,
            time: None,
            action: None,
            summary: None,
        }
    }

    /// `action` in every following object (`"would-close"` for a dry run).
    pub fn set_action(&mut self, action: Option<&'static str>) {
        self.action = action;
    }

    /// Puts the `-s` summary object in the same document: the output is
    /// `{"summary": …, "sockets": […]}` instead of an array (with
    /// `--json-lines`, a first line `{"summary": …}`).
    pub fn set_summary(&mut self, summary: Vec<u8>) {
        self.summary = Some(summary);
    }

    /// What comes before the first socket (or before nothing).
    fn opening(&self, b: &mut Vec<u8>) {
        match (&self.summary, self.lines) {
            (Some(sum), false) => {
                b.extend_from_slice(b"{\"summary\":");
                b.extend_from_slice(sum);
                b.extend_from_slice(b",\"sockets\":[\n");
            }
            (Some(sum), true) => {
                b.extend_from_slice(b"{\"summary\":");
                b.extend_from_slice(sum);
                b.extend_from_slice(b"}\n");
            }
            (None, false) => b.extend_from_slice(b"[\n"),
            (None, true) => {}
        }
    }

    /// Fields written first in the following objects: `netns` (the
    /// namespace label, `--all-netns`) and `time` (seconds since the epoch,
    /// `-E`). `None` leaves a field out.
    pub fn set_context(&mut self, netns: Option<&[u8]>, time: Option<f64>) {
        self.netns = netns.map(<[u8]>::to_vec);
        self.time = time;
    }

    /// Flushes what was written (`-E` prints each event at once).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Writes one socket object.
    pub fn socket<'i, 'c>(
        &mut self,
        s: &Socket,
        owners: &[Owner],
        show: &Show,
        names: &Names,
        info: &dyn Fn(u32) -> Option<&'i ProcessInfo>,
        cgroup: &dyn Fn(u64) -> Option<&'c [u8]>,
    ) -> io::Result<()> {
        let mut b = std::mem::take(&mut self.buf);
        b.clear();
        if self.count == 0 {
            self.opening(&mut b);
        } else if !self.lines {
            b.extend_from_slice(b",\n");
        }
        self.buf = b;
        let b = &mut self.buf;
        let mut o = Obj::new(b);
        if let Some(n) = &self.netns {
            o.str("netns", n);
        }
        if let Some(t) = self.time {
            o.float("time", t);
        }
        if let Some(a) = self.action {
            o.str("action", a.as_bytes());
        }
        o.str("netid", s.table.netid().as_bytes());
        o.str("state", s.state.name().as_bytes());
        o.num("recv_q", s.recv_q).num("send_q", s.send_q);
        o.raw("local", |b| endpoint(b, s, &s.local, true, names));
        o.raw("peer", |b| endpoint(b, s, &s.peer, false, names));
        o.num("inode", s.inode);
        if s.cookie != 0 {
            o.num("cookie", s.cookie);
        }
        if let Some(u) = s.uid {
            o.num("uid", u);
        }
        if let Some(v) = s.v6only {
            o.bool("v6only", v);
        }
        if show.timers
            && let Some(t) = &s.timer
        {
            o.raw("timer", |b| {
                let mut t_o = Obj::new(b);
                t_o.str("name", t.kind.name().as_bytes())
                    .num("expires_ms", t.expires_ms)
                    .num("retrans", t.retrans);
                t_o.end();
            });
        }
        if show.extended {
            if let Some(sh) = s.shutdown {
                o.str("shutdown", sh.arrow().as_bytes());
            }
            if let Some(m) = s.mark {
                o.num("fwmark", m);
            }
        }
        if (show.extended || show.cgroup)
            && let Some(id) = s.cgroup_id
        {
            o.num("cgroup_id", id);
            if let Some(p) = cgroup(id) {
                o.str("cgroup", p);
            }
        }
        if show.tos {
            if let Some(v) = s.tos {
                o.num("tos", v);
            }
            if let Some(v) = s.tclass {
                o.num("tclass", v);
            }
            if let Some(v) = s.class_id {
                o.num("class_id", v);
            }
        }
        if show.inet_sockopt
            && let Some(v) = s.sockopt
        {
            o.num("inet_sockopt", v);
        }
        if show.memory
            && let Some(m) = &s.skmem
        {
            o.raw("skmem", |b| {
                let mut m_o = Obj::new(b);
                m_o.num("rmem_alloc", m.rmem_alloc)
                    .num("rcvbuf", m.rcvbuf)
                    .num("wmem_alloc", m.wmem_alloc)
                    .num("sndbuf", m.sndbuf)
                    .num("fwd_alloc", m.fwd_alloc)
                    .num("wmem_queued", m.wmem_queued)
                    .num("optmem", m.optmem);
                if let Some(v) = m.backlog {
                    m_o.num("backlog", v);
                }
                if let Some(v) = m.drops {
                    m_o.num("drops", v);
                }
                m_o.end();
            });
        }
        if show.info {
            if let Some(c) = &s.cong {
                o.str("cong", c.as_bytes());
            }
            if let Some(t) = &s.tcp_info {
                o.raw("tcp_info", |b| tcp_info(b, t));
            }
            if let Some(bbr) = &s.bbr {
                o.raw("bbr", |b| {
                    let mut x = Obj::new(b);
                    x.num("bw_bps", bbr.bw.saturating_mul(8))
                        .num("min_rtt_us", bbr.min_rtt)
                        .num("pacing_gain", bbr.pacing_gain)
                        .num("cwnd_gain", bbr.cwnd_gain);
                    x.end();
                });
            }
        }
        if show.processes {
            o.raw("users", |b| {
                b.push(b'[');
                for (i, ow) in owners.iter().enumerate() {
                    if i > 0 {
                        b.push(b',');
                    }
                    let mut u = Obj::new(b);
                    u.str("comm", ow.comm.as_bytes()).num("pid", ow.pid);
                    if let Some(t) = ow.tid {
                        u.num("tid", t);
                    }
                    u.num("fd", ow.fd);
                    u.end();
                }
                b.push(b']');
            });
        }
        if show.process_info {
            o.raw("processes", |b| {
                b.push(b'[');
                let mut seen: Vec<u32> = Vec::new();
                for ow in owners {
                    if seen.contains(&ow.pid) {
                        continue;
                    }
                    if let Some(p) = info(ow.pid) {
                        if !seen.is_empty() {
                            b.push(b',');
                        }
                        seen.push(ow.pid);
                        super::json_process::process_info(b, p);
                    }
                }
                b.push(b']');
            });
        }
        o.end();
        if self.lines {
            self.buf.push(b'\n');
        }
        self.count += 1;
        self.out.write_all(&self.buf)
    }

    /// Closes the array and flushes.
    pub fn finish(&mut self) -> io::Result<()> {
        let mut end = Vec::new();
        if self.count == 0 {
            self.opening(&mut end);
            if !self.lines {
                // `[\n` becomes `[]`.
                end.pop();
                end.push(b']');
            }
        } else if !self.lines {
            end.extend_from_slice(b"\n]");
        }
        if !self.lines {
            if self.summary.is_some() {
                end.push(b'}');
            }
            end.push(b'\n');
        }
        self.out.write_all(&end)?;
        self.out.flush()
    }
}

/// `-s --json`: the summary counters as one object.
pub fn summary(b: &mut Vec<u8>, c: &super::summary::SummaryCounts) {
    let pair = |b: &mut Vec<u8>, v: [u64; 2]| {
        let mut o = Obj::new(b);
        o.num("ipv4", v[0])
            .num("ipv6", v[1])
            .num("total", v[0] + v[1]);
        o.end();
    };
    let mut o = Obj::new(b);
    o.num("total", c.total());
    o.raw("tcp", |b| {
        let mut t = Obj::new(b);
        t.num("total", c.tcp_total)
            .num("estab", c.tcp_estab)
            .num("closed", c.tcp_closed)
            .num("orphaned", c.tcp_orphaned)
            .num("timewait", c.tcp_timewait);
        t.end();
    });
    o.raw("transport", |b| {
        let mut t = Obj::new(b);
        t.raw("raw", |b| pair(b, c.raw))
            .raw("udp", |b| pair(b, c.udp))
            .raw("tcp", |b| pair(b, c.tcp))
            .raw("inet", |b| pair(b, c.inet()))
            .raw("frag", |b| pair(b, c.frag));
        t.end();
    });
    o.end();
    b.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockq_model::{Comm, Family, Shutdown, SkMem, State, Table, Timer, TimerKind, UnixName};
    use std::net::Ipv4Addr;

    fn render(s: &Socket, owners: &[Owner], show: Show) -> String {
        let names = Names::new(true, false);
        let mut p = JsonPrinter::new(Vec::new(), true);
        p.socket(s, owners, &show, &names, &|_| None, &|_| {
            Some(b"/system.slice/x.service".as_slice())
        })
        .unwrap_or_else(|e| panic!("{e}"));
        String::from_utf8_lossy(&p.out).into_owned()
    }

    fn tcp() -> Socket {
        let mut s = Socket::new(Table::Tcp, Family::Inet, State::Established);
        s.local = Endpoint::Inet {
            addr: Ipv4Addr::new(10, 0, 0, 1).into(),
            port: 22,
        };
        s.peer = Endpoint::Inet {
            addr: Ipv4Addr::new(10, 0, 0, 2).into(),
            port: 50312,
        };
        s.inode = 15834;
        s.cookie = 5;
        s.uid = Some(0);
        s.timer = Some(Timer {
            kind: TimerKind::Keepalive,
            expires_ms: 7153358,
            retrans: 0,
        });
        s.shutdown = Some(Shutdown(0));
        s.cgroup_id = Some(42);
        s.skmem = Some(SkMem {
            rmem_alloc: 0,
            rcvbuf: 131072,
            sndbuf: 87040,
            ..SkMem::default()
        });
        s
    }

    #[test]
    fn inet_plain_and_detailed() {
        let s = tcp();
        assert_eq!(
            render(&s, &[], Show::default()),
            r#"{"netid":"tcp","state":"ESTAB","recv_q":0,"send_q":0,"local":{"address":"10.0.0.1","port":22},"peer":{"address":"10.0.0.2","port":50312},"inode":15834,"cookie":5,"uid":0}
"#
        );
        let show = Show {
            timers: true,
            extended: true,
            memory: true,
            processes: true,
            ..Show::default()
        };
        let owners = [Owner {
            comm: Comm::new(b"ssh\"d"),
            pid: 7,
            tid: None,
            fd: 3,
        }];
        assert_eq!(
            render(&s, &owners, show),
            r#"{"netid":"tcp","state":"ESTAB","recv_q":0,"send_q":0,"local":{"address":"10.0.0.1","port":22},"peer":{"address":"10.0.0.2","port":50312},"inode":15834,"cookie":5,"uid":0,"timer":{"name":"keepalive","expires_ms":7153358,"retrans":0},"shutdown":"<->","cgroup_id":42,"cgroup":"/system.slice/x.service","skmem":{"rmem_alloc":0,"rcvbuf":131072,"wmem_alloc":0,"sndbuf":87040,"fwd_alloc":0,"wmem_queued":0,"optmem":0},"users":[{"comm":"ssh\"d","pid":7,"fd":3}]}
"#
        );
    }

    #[test]
    fn unix_packet_netlink() {
        let mut u = Socket::new(Table::UnixDgram, Family::Unix, State::Close);
        u.local = Endpoint::Unix {
            name: Some(UnixName::Abstract(b"x\0y\n".to_vec())),
            inode: 9,
        };
        u.peer = Endpoint::Unix {
            name: Some(UnixName::Path(b"/run/p".to_vec())),
            inode: 10,
        };
        u.inode = 9;
        assert_eq!(
            render(&u, &[], Show::default()),
            r#"{"netid":"u_dgr","state":"UNCONN","recv_q":0,"send_q":0,"local":{"name":"@x@y\n","abstract":true,"inode":9},"peer":{"name":"/run/p","abstract":false,"inode":10},"inode":9}
"#
        );
        let mut p = Socket::new(Table::PacketRaw, Family::Packet, State::Close);
        p.local = Endpoint::Packet {
            protocol: 0x0800,
            ifindex: 0,
        };
        p.inode = 3;
        assert_eq!(
            render(&p, &[], Show::default()),
            r#"{"netid":"p_raw","state":"UNCONN","recv_q":0,"send_q":0,"local":{"protocol":2048,"protocol_name":"ip"},"peer":{},"inode":3}
"#
        );
        let mut n = Socket::new(Table::Netlink, Family::Netlink, State::Close);
        n.local = Endpoint::Netlink {
            protocol: 4,
            portid: -1,
        };
        n.peer = Endpoint::NetlinkPeer {
            group: 0,
            portid: 0,
        };
        assert_eq!(
            render(&n, &[], Show::default()),
            r#"{"netid":"nl","state":"UNCONN","recv_q":0,"send_q":0,"local":{"protocol":4,"protocol_name":"tcpdiag","portid":-1},"peer":{"group":0,"portid":0},"inode":0}
"#
        );
    }

    #[test]
    fn array_framing() {
        let names = Names::new(true, false);
        let mut p = JsonPrinter::new(Vec::new(), false);
        p.finish().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.out, b"[]\n");
        let mut p = JsonPrinter::new(Vec::new(), false);
        for _ in 0..2 {
            p.socket(&tcp(), &[], &Show::default(), &names, &|_| None, &|_| None)
                .unwrap_or_else(|e| panic!("{e}"));
        }
        p.finish().unwrap_or_else(|e| panic!("{e}"));
        let v: Vec<serde_json::Value> =
            serde_json::from_slice(&p.out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(v.len(), 2);
    }

    #[test]
    fn summary_and_action_in_one_document() {
        let names = Names::new(true, false);
        for n in 0..2 {
            let mut p = JsonPrinter::new(Vec::new(), false);
            p.set_summary(b"{\"total\":3}".to_vec());
            p.set_action(Some("would-close"));
            for _ in 0..n {
                p.socket(&tcp(), &[], &Show::default(), &names, &|_| None, &|_| None)
                    .unwrap_or_else(|e| panic!("{e}"));
            }
            p.finish().unwrap_or_else(|e| panic!("{e}"));
            let v: serde_json::Value =
                serde_json::from_slice(&p.out).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(v["summary"]["total"], 3);
            assert_eq!(v["sockets"].as_array().map(Vec::len), Some(n));
            if n > 0 {
                assert_eq!(v["sockets"][0]["action"], "would-close");
            }
        }
        let mut p = JsonPrinter::new(Vec::new(), true);
        p.set_summary(b"{\"total\":3}".to_vec());
        p.socket(&tcp(), &[], &Show::default(), &names, &|_| None, &|_| None)
            .unwrap_or_else(|e| panic!("{e}"));
        p.finish().unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8(p.out).unwrap_or_default();
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["summary"]["total"], 3);
    }
}
