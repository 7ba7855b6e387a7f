//! Fixture sockets and a fixed host environment for the filter tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod vm;

use sockq_filter::{Env, Filter, compile, parse};
use sockq_model::{Comm, Endpoint, Family, Owner, Socket, State, Table, TableSet, UnixName};
use std::net::IpAddr;

/// A host with a few services, names, interfaces and users.
pub struct TestEnv {
    pub preferred: Option<Family>,
    pub tables: TableSet,
}

impl Default for TestEnv {
    fn default() -> Self {
        TestEnv {
            preferred: None,
            tables: TableSet::of(&[Table::Tcp, Table::Udp]),
        }
    }
}

impl Env for TestEnv {
    fn service_port(&self, name: &str, tcp: bool, udp: bool) -> Result<Option<u16>, String> {
        // "both" has different tcp and udp ports, to test ambiguity.
        let t = match name {
            "http" => Some(80),
            "https" => Some(443),
            "ssh" => Some(22),
            "domain" => Some(53),
            "both" => Some(1000),
            _ => None,
        };
        let u = match name {
            "domain" => Some(53),
            "both" => Some(2000),
            _ => None,
        };
        match (tcp.then_some(t).flatten(), udp.then_some(u).flatten()) {
            (Some(a), Some(b)) if a != b => Err(format!("ambiguous port \"{name}\"")),
            (Some(a), _) | (None, Some(a)) => Ok(Some(a)),
            (None, None) => Ok(None),
        }
    }

    fn resolve_host(&self, name: &str, family: Option<Family>) -> Vec<IpAddr> {
        let all: Vec<IpAddr> = match name {
            "localhost" => vec!["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()],
            "multi.test" => vec!["10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap()],
            "v6.test" => vec!["fec0:42::24".parse().unwrap()],
            _ => vec![],
        };
        all.into_iter()
            .filter(|a| match family {
                Some(Family::Inet) => a.is_ipv4(),
                Some(Family::Inet6) => a.is_ipv6(),
                _ => true,
            })
            .collect()
    }

    fn interface_index(&self, name: &str) -> Option<u32> {
        match name {
            "lo" => Some(1),
            "eth0" => Some(2),
            _ => None,
        }
    }

    fn cgroup_id(&self, path: &str) -> Option<u64> {
        (path == "/system.slice/nginx.service").then_some(1234)
    }

    fn ephemeral_ports(&self) -> (u16, u16) {
        (32768, 60999)
    }

    fn preferred_family(&self) -> Option<Family> {
        self.preferred
    }

    fn tables(&self) -> TableSet {
        self.tables
    }

    fn user_id(&self, name: &str) -> Option<u32> {
        match name {
            "root" => Some(0),
            "alice" => Some(1000),
            _ => None,
        }
    }
}

/// A named fixture socket with its owners.
pub struct Fixture {
    pub name: &'static str,
    pub socket: Socket,
    pub owners: Vec<Owner>,
}

fn inet(
    table: Table,
    state: State,
    local: (&str, u16),
    peer: (&str, u16),
    uid: u32,
    inode: u32,
) -> Socket {
    let la: IpAddr = local.0.parse().unwrap();
    let pa: IpAddr = peer.0.parse().unwrap();
    let family = if la.is_ipv4() {
        Family::Inet
    } else {
        Family::Inet6
    };
    let mut s = Socket::new(table, family, state);
    s.local = Endpoint::Inet {
        addr: la,
        port: local.1,
    };
    s.peer = Endpoint::Inet {
        addr: pa,
        port: peer.1,
    };
    s.uid = Some(uid);
    s.inode = inode;
    if family == Family::Inet6 {
        s.v6only = Some(false);
    }
    s
}

fn unix(
    table: Table,
    state: State,
    name: Option<UnixName>,
    inode: u32,
    peer: (Option<UnixName>, u32),
) -> Socket {
    let mut s = Socket::new(table, Family::Unix, state);
    s.local = Endpoint::Unix { name, inode };
    s.peer = Endpoint::Unix {
        name: peer.0,
        inode: peer.1,
    };
    s.inode = inode;
    s
}

fn owner(comm: &str, pid: u32, fd: u32) -> Owner {
    Owner {
        comm: Comm::new(comm.as_bytes()),
        pid,
        tid: None,
        fd,
    }
}

/// The fixture set: ss1.dump's seven sockets (spec 8.3), then more.
pub fn fixtures() -> Vec<Fixture> {
    use State::*;
    use Table::*;
    let mut v = Vec::new();
    let mut add = |name: &'static str, socket: Socket, owners: Vec<Owner>| {
        v.push(Fixture {
            name,
            socket,
            owners,
        })
    };
    let mut s = inet(Tcp, Listen, ("0.0.0.0", 22), ("0.0.0.0", 0), 0, 411);
    s.send_q = 128;
    add("ss1-listen", s, vec![]);
    add(
        "ss1-a",
        inet(
            Tcp,
            Established,
            ("10.0.0.1", 22),
            ("10.0.0.1", 36266),
            0,
            15840,
        ),
        vec![],
    );
    add(
        "ss1-b",
        inet(
            Tcp,
            Established,
            ("10.0.0.1", 36266),
            ("10.0.0.1", 22),
            1000,
            15057,
        ),
        vec![],
    );
    add(
        "ss1-c",
        inet(
            Tcp,
            Established,
            ("10.0.0.1", 22),
            ("10.0.0.2", 50312),
            0,
            15834,
        ),
        vec![],
    );
    let mut s = inet(Tcp, Listen, ("::", 22), ("::", 0), 0, 413);
    s.send_q = 128;
    s.v6only = Some(true);
    add("ss1-v6listen", s, vec![]);
    add(
        "ss1-v6a",
        inet(
            Tcp,
            Established,
            ("fec0:42::24", 40520),
            ("fec0:42::1", 22),
            1000,
            1647,
        ),
        vec![],
    );
    add(
        "ss1-v6b",
        inet(
            Tcp,
            Established,
            ("fec0:42::24", 22),
            ("fec0:42::1", 44248),
            0,
            14185,
        ),
        vec![],
    );
    add(
        "lo8080",
        inet(Tcp, Listen, ("127.0.0.1", 8080), ("0.0.0.0", 0), 0, 100),
        vec![owner("nginx", 100, 6)],
    );
    add(
        "any80",
        inet(Tcp, Listen, ("0.0.0.0", 80), ("0.0.0.0", 0), 33, 101),
        vec![owner("nginx", 100, 7), owner("nginx", 101, 7)],
    );
    add(
        "dual2222",
        inet(Tcp, Listen, ("::", 2222), ("::", 0), 0, 102),
        vec![],
    );
    let mut s = inet(Tcp, Listen, ("::", 2223), ("::", 0), 0, 103);
    s.v6only = Some(true);
    add("v6only2223", s, vec![]);
    add(
        "mapped2222",
        inet(
            Tcp,
            Established,
            ("::ffff:127.0.0.1", 2222),
            ("::ffff:127.0.0.1", 41000),
            0,
            104,
        ),
        vec![],
    );
    add(
        "client8080",
        inet(
            Tcp,
            Established,
            ("127.0.0.1", 45000),
            ("127.0.0.1", 8080),
            1000,
            105,
        ),
        vec![owner("curl", 200, 3)],
    );
    add(
        "accepted8080",
        inet(
            Tcp,
            Established,
            ("127.0.0.1", 8080),
            ("127.0.0.1", 45000),
            0,
            106,
        ),
        vec![owner("nginx", 100, 9)],
    );
    let mut s = inet(Udp, Close, ("127.0.0.53", 53), ("0.0.0.0", 0), 101, 107);
    s.ifindex = 1;
    add("udp53", s, vec![]);
    let mut s = inet(
        Tcp,
        Established,
        ("10.0.0.1", 443),
        ("10.0.0.9", 51000),
        33,
        108,
    );
    s.mark = Some(0x10);
    s.cgroup_id = Some(1234);
    s.recv_q = 5;
    s.send_q = 100;
    add("marked", s, vec![]);
    add(
        "u-run",
        unix(
            UnixStream,
            Listen,
            Some(UnixName::Path(b"/run/demo1.sock".to_vec())),
            314796,
            (None, 0),
        ),
        vec![owner("systemd", 1, 20)],
    );
    add(
        "u-abs",
        unix(
            UnixStream,
            Established,
            Some(UnixName::Abstract(b"foo\0bar".to_vec())),
            5000,
            (None, 5001),
        ),
        vec![],
    );
    add(
        "u-auto",
        unix(
            UnixDgram,
            Close,
            Some(UnixName::Abstract(b"0a1b2".to_vec())),
            6000,
            (None, 0),
        ),
        vec![],
    );
    add(
        "u-unnamed",
        unix(
            UnixStream,
            Established,
            None,
            7000,
            (Some(UnixName::Path(b"/run/demo1.sock".to_vec())), 314796),
        ),
        vec![],
    );
    let mut s = Socket::new(PacketRaw, Family::Packet, Close);
    s.local = Endpoint::Packet {
        protocol: 3,
        ifindex: 2,
    };
    s.ifindex = 2;
    s.inode = 8000;
    add("pkt-all", s, vec![]);
    let mut s = Socket::new(PacketDgram, Family::Packet, Close);
    s.local = Endpoint::Packet {
        protocol: 0x0800,
        ifindex: 0,
    };
    s.inode = 8001;
    add("pkt-ip", s, vec![]);
    let mut s = Socket::new(Netlink, Family::Netlink, Close);
    s.local = Endpoint::Netlink {
        protocol: 0,
        portid: 1234,
    };
    s.peer = Endpoint::NetlinkPeer {
        group: 0,
        portid: 0,
    };
    s.inode = 9000;
    add("nl-rtnl", s, vec![]);
    let mut s = Socket::new(Netlink, Family::Netlink, Close);
    s.local = Endpoint::Netlink {
        protocol: 4,
        portid: 0,
    };
    s.inode = 9001;
    add("nl-diag", s, vec![]);
    v
}

/// The first seven fixtures: ss1.dump.
pub fn ss1() -> Vec<Fixture> {
    fixtures().into_iter().take(7).collect()
}

pub fn filter(expr: &str) -> Filter {
    filter_with(expr, &TestEnv::default())
}

pub fn filter_with(expr: &str, env: &TestEnv) -> Filter {
    let e = parse(expr).unwrap_or_else(|e| panic!("{expr}: {e}"));
    compile(&e, env).unwrap_or_else(|e| panic!("{expr}: {e}"))
}

/// Names of the fixtures that match, in fixture order.
pub fn matching(f: &Filter, set: &[Fixture]) -> Vec<&'static str> {
    set.iter()
        .filter(|x| f.matches(&x.socket, &x.owners))
        .map(|x| x.name)
        .collect()
}

/// Expands a want list: names separated by blanks or commas; `ALL` means
/// every fixture and `-name` removes one.
pub fn expand(want: &str, set: &[Fixture]) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    let words: Vec<&str> = want.split([' ', ',']).filter(|w| !w.is_empty()).collect();
    if words.first() == Some(&"ALL") {
        out = set.iter().map(|f| f.name).collect();
    }
    for w in &words {
        if let Some(n) = w.strip_prefix('-') {
            out.retain(|x| *x != n);
        }
    }
    let mut named: Vec<&str> = words
        .iter()
        .filter(|w| **w != "ALL" && !w.starts_with('-') && **w != "nothing")
        .copied()
        .collect();
    for f in set {
        if let Some(i) = named.iter().position(|n| *n == f.name) {
            named.remove(i);
            out.push(f.name);
        }
    }
    assert!(named.is_empty(), "unknown fixture names {named:?}");
    set.iter()
        .map(|f| f.name)
        .filter(|n| out.contains(n))
        .collect()
}
