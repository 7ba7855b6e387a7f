//! Aggregation and encoding on fixture records (no kernel).

use super::*;
use sockq_model::{Comm, Family, TcpInfo};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

fn v4(a: [u8; 4], port: u16) -> Endpoint {
    Endpoint::Inet {
        addr: IpAddr::V4(Ipv4Addr::from(a)),
        port,
    }
}

fn tcp(state: State, local: Endpoint, peer: Endpoint, inode: u32) -> Socket {
    let mut s = Socket::new(Table::Tcp, Family::Inet, state);
    s.local = local;
    s.peer = peer;
    s.inode = inode;
    s.uid = Some(0);
    s
}

fn owner(comm: &[u8], pid: u32) -> Owner {
    Owner {
        comm: Comm::new(comm),
        pid,
        tid: None,
        fd: 3,
    }
}

fn text(c: Collector, run: &RunInfo) -> String {
    encode(c.finish(None, run, None)).unwrap()
}

fn samples<'a>(t: &'a str, name: &str) -> Vec<&'a str> {
    t.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .collect()
}

#[test]
fn listeners_are_listed_and_connections_counted_by_direction() {
    let mut c = Collector::new();
    let nginx = [owner(b"nginx", 10), owner(b"nginx", 11)];
    let mut l = tcp(
        State::Listen,
        v4([127, 0, 0, 2], 80),
        v4([0, 0, 0, 0], 0),
        5,
    );
    l.recv_q = 3;
    l.send_q = 511;
    c.socket(&l, Some(&nginx));
    // Three accepted connections (local port 80) and one outgoing to :6379.
    for i in 0..3u16 {
        let s = tcp(
            State::Established,
            v4([127, 0, 0, 2], 80),
            v4([127, 0, 0, 1], 40000 + i),
            100 + u32::from(i),
        );
        c.socket(&s, Some(&nginx[..1]));
    }
    let mut out = tcp(
        State::CloseWait,
        v4([127, 0, 0, 1], 50000),
        v4([127, 0, 0, 9], 6379),
        200,
    );
    out.recv_q = 7;
    c.socket(&out, Some(&[owner(b"app", 20)]));
    let t = text(c, &RunInfo::default());
    assert_eq!(
        samples(&t, "sockq_listening"),
        [
            "sockq_listening{netns=\"\",proto=\"tcp\",address=\"127.0.0.2\",port=\"80\",comm=\"nginx\",user=\"root\"} 1"
        ],
        "{t}"
    );
    assert_eq!(
        samples(&t, "sockq_listen_queue_length"),
        [
            "sockq_listen_queue_length{netns=\"\",proto=\"tcp\",address=\"127.0.0.2\",port=\"80\",comm=\"nginx\",user=\"root\"} 3"
        ]
    );
    assert_eq!(
        samples(&t, "sockq_listen_queue_limit")[0]
            .rsplit(' ')
            .next(),
        Some("511")
    );
    assert_eq!(
        samples(&t, "sockq_connections"),
        [
            "sockq_connections{netns=\"\",proto=\"tcp\",state=\"ESTAB\",direction=\"in\",port=\"80\",comm=\"nginx\"} 3",
            "sockq_connections{netns=\"\",proto=\"tcp\",state=\"CLOSE-WAIT\",direction=\"out\",port=\"6379\",comm=\"app\"} 1",
        ],
        "{t}"
    );
    assert_eq!(
        samples(&t, "sockq_connection_receive_queue_bytes"),
        [
            "sockq_connection_receive_queue_bytes{netns=\"\",proto=\"tcp\",direction=\"in\",port=\"80\",comm=\"nginx\"} 0",
            "sockq_connection_receive_queue_bytes{netns=\"\",proto=\"tcp\",direction=\"out\",port=\"6379\",comm=\"app\"} 7",
        ]
    );
    // No -i: no retransmit sums.
    assert!(samples(&t, "sockq_connection_retransmitted_segments").is_empty());
    assert_eq!(
        samples(&t, "sockq_collection_sockets"),
        ["sockq_collection_sockets{netns=\"\",proto=\"tcp\"} 5"]
    );
    assert!(t.contains("# TYPE sockq_connections gauge\n"), "{t}");
    assert!(
        t.contains("\nsockq_collection_process_scan_partial 0\n"),
        "{t}"
    );
}

#[test]
fn direction_does_not_depend_on_the_order_sockets_arrive_in() {
    // The accepted connection comes before its listener (another family's
    // dump, or a namespace dumped later): still `in`.
    let mut c = Collector::new();
    c.socket(
        &tcp(
            State::Established,
            v4([10, 0, 0, 1], 22),
            v4([10, 0, 0, 2], 51000),
            7,
        ),
        Some(&[]),
    );
    let mut l = tcp(
        State::Listen,
        Endpoint::Inet {
            addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            port: 22,
        },
        Endpoint::None,
        8,
    );
    l.family = Family::Inet6;
    l.v6only = Some(false);
    c.socket(&l, Some(&[owner(b"sshd", 1)]));
    let t = text(c, &RunInfo::default());
    assert!(
        t.contains("sockq_connections{netns=\"\",proto=\"tcp\",state=\"ESTAB\",direction=\"in\",port=\"22\",comm=\"\"} 1"),
        "{t}"
    );
    // The dual-stack wildcard reads as ss prints it.
    assert!(t.contains("address=\"*\",port=\"22\""), "{t}");
}

#[test]
fn namespaces_keep_their_listeners_apart() {
    let mut c = Collector::new();
    c.begin_netns("a");
    c.socket(
        &tcp(State::Listen, v4([0, 0, 0, 0], 80), Endpoint::None, 1),
        Some(&[]),
    );
    c.begin_netns("b");
    // Local port 80 in b, where nothing listens on 80: out, to port 443.
    c.socket(
        &tcp(
            State::Established,
            v4([10, 0, 0, 1], 80),
            v4([10, 0, 0, 2], 443),
            2,
        ),
        Some(&[]),
    );
    let t = text(c, &RunInfo::default());
    assert!(
        t.contains("sockq_connections{netns=\"b\",proto=\"tcp\",state=\"ESTAB\",direction=\"out\",port=\"443\",comm=\"\"} 1"),
        "{t}"
    );
    assert!(t.contains("sockq_listening{netns=\"a\""), "{t}");
}

#[test]
fn series_are_bounded_by_ports_not_connections() {
    let mut c = Collector::new();
    c.socket(
        &tcp(State::Listen, v4([127, 0, 0, 1], 8080), Endpoint::None, 1),
        Some(&[owner(b"srv", 1)]),
    );
    for i in 0..20_000u32 {
        let (local, peer) = if i % 2 == 0 {
            (
                v4([127, 0, 0, 1], 8080),
                v4([127, 0, 0, 1], 20_000 + (i / 2) as u16),
            )
        } else {
            (
                v4([127, 0, 0, 1], 20_000 + (i / 2) as u16),
                v4([127, 0, 0, 1], 8080),
            )
        };
        c.socket(
            &tcp(State::Established, local, peer, 10 + i),
            Some(&[owner(b"srv", 1)]),
        );
    }
    let t = text(c, &RunInfo::default());
    let series = t.lines().filter(|l| !l.starts_with('#')).count();
    // listening + 2 queues, 2 connection series (in and out), 2×2 queue
    // sums, 1 socket count, 4 self-metrics.
    assert_eq!(series, 3 + 2 + 4 + 1 + 4, "{t}");
    assert!(t.contains("direction=\"in\",port=\"8080\",comm=\"srv\"} 10000"));
    assert!(t.contains("direction=\"out\",port=\"8080\",comm=\"srv\"} 10000"));
}

#[test]
fn label_values_are_escaped_once_per_output() {
    let mut c = Collector::new();
    c.begin_netns("ns\"q");
    let mut s = Socket::new(Table::UnixStream, Family::Unix, State::Listen);
    s.local = Endpoint::Unix {
        name: Some(sockq_model::UnixName::Path(b"/run/a\nb\\c\xff".to_vec())),
        inode: 9,
    };
    c.socket(&s, Some(&[owner(b"evil\"\x1b[31m", 3)]));
    let t = text(c, &RunInfo::default());
    let line = samples(&t, "sockq_listening");
    // sanitize turns \n into `\n`, \ into `\\`, ESC into `\e`, 0xff into
    // `\xff`; the exposition then escapes each `\` and `"` again.
    assert_eq!(
        line,
        [
            "sockq_listening{netns=\"ns\\\"q\",proto=\"u_str\",address=\"/run/a\\\\nb\\\\\\\\c\\\\xff\",port=\"\",comm=\"evil\\\"\\\\e[31m\",user=\"\"} 1"
        ],
        "{t}"
    );
}

#[test]
fn owners_are_looked_up_at_the_end_and_retransmits_summed_with_info() {
    let mut c = Collector::new();
    let mut s = tcp(
        State::Established,
        v4([10, 0, 0, 1], 40000),
        v4([10, 0, 0, 2], 443),
        0,
    );
    let mut info = TcpInfo {
        total_retrans: 4,
        ..TcpInfo::default()
    };
    s.tcp_info = Some(Box::new(info.clone()));
    c.socket(&s, None);
    info.total_retrans = 5;
    s.tcp_info = Some(Box::new(info));
    c.socket(&s, None);
    let t = encode(c.finish(None, &RunInfo::default(), None)).unwrap();
    assert!(
        t.contains("sockq_connection_retransmitted_segments{netns=\"\",proto=\"tcp\",direction=\"out\",port=\"443\",comm=\"\"} 9"),
        "{t}"
    );
}

#[test]
fn udp_servers_listen_and_unbound_sockets_are_only_seen() {
    let mut c = Collector::new();
    let mut srv = Socket::new(Table::Udp, Family::Inet, State::Close);
    srv.local = v4([0, 0, 0, 0], 53);
    srv.recv_q = 100;
    c.socket(&srv, Some(&[owner(b"dnsmasq", 5)]));
    let mut unbound = Socket::new(Table::Udp, Family::Inet, State::Close);
    unbound.local = v4([0, 0, 0, 0], 0);
    c.socket(&unbound, Some(&[]));
    let t = text(c, &RunInfo::default());
    assert_eq!(samples(&t, "sockq_listening").len(), 1, "{t}");
    // Recv-Q of a UDP socket is bytes, not an accept queue.
    assert!(samples(&t, "sockq_listen_queue_length").is_empty(), "{t}");
    assert!(samples(&t, "sockq_connections").is_empty(), "{t}");
    assert!(t.contains("sockq_collection_sockets{netns=\"\",proto=\"udp\"} 2"));
}

#[test]
fn self_metrics_report_a_partial_scan() {
    let run = RunInfo {
        duration: Duration::from_millis(1500),
        unreadable_processes: 3,
        failed_namespaces: 1,
    };
    let t = text(Collector::new(), &run);
    assert!(
        t.contains("\nsockq_collection_duration_seconds 1.5\n"),
        "{t}"
    );
    assert!(
        t.contains("\nsockq_collection_process_scan_partial 1\n"),
        "{t}"
    );
    assert!(
        t.contains("\nsockq_collection_processes_unreadable 3\n"),
        "{t}"
    );
    assert!(t.contains("\nsockq_collection_netns_failed 1\n"), "{t}");
}

#[test]
#[ignore = "writes a sample exposition to $SOCKQ_METRICS_SAMPLE for promtool"]
fn sample_for_promtool() {
    let Some(path) = std::env::var_os("SOCKQ_METRICS_SAMPLE") else {
        return;
    };
    let mut c = Collector::new();
    let mut l = tcp(State::Listen, v4([127, 0, 0, 2], 80), Endpoint::None, 1);
    l.send_q = 511;
    c.socket(&l, Some(&[owner(b"nginx", 1)]));
    let mut s = tcp(
        State::Established,
        v4([127, 0, 0, 2], 80),
        v4([127, 0, 0, 1], 40000),
        2,
    );
    s.tcp_info = Some(Box::default());
    c.socket(&s, Some(&[owner(b"nginx", 1)]));
    std::fs::write(
        path,
        encode(c.finish(None, &RunInfo::default(), None)).unwrap(),
    )
    .unwrap();
}

#[test]
fn listeners_get_unit_and_container_when_identity_is_known() {
    let mut c = Collector::new();
    c.socket(
        &tcp(State::Listen, v4([0, 0, 0, 0], 80), Endpoint::None, 1),
        Some(&[owner(b"nginx", 42), owner(b"nginx", 7)]),
    );
    let mut asked = Vec::new();
    let mut who = |pid: u32| {
        asked.push(pid);
        Who {
            unit: Some("nginx.service".into()),
            container: Some("podman:web".into()),
        }
    };
    let t = encode(c.finish(None, &RunInfo::default(), Some(&mut who))).unwrap();
    assert_eq!(asked, [7], "the lowest pid");
    assert!(
        t.contains(
            "comm=\"nginx\",user=\"root\",unit=\"nginx.service\",container=\"podman:web\"} 1"
        ),
        "{t}"
    );
}
