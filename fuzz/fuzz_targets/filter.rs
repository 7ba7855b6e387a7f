//! Filter parser, compiler, bytecode and evaluator on arbitrary text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockq_filter::{Env, bytecode, compile, parse, render_error};
use sockq_model::{Comm, Endpoint, Family, Owner, Socket, State, Table, TableSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A fixed host: a few services, names, interfaces and users.
struct FakeEnv;

impl Env for FakeEnv {
    fn service_port(&self, name: &str, tcp: bool, udp: bool) -> Result<Option<u16>, String> {
        match name {
            "http" => Ok(Some(80)),
            "ssh" => Ok(Some(22)),
            "domain" if udp || tcp => Ok(Some(53)),
            "both" if tcp && udp => Err(format!("ambiguous port \"{name}\"")),
            _ => Ok(None),
        }
    }
    fn resolve_host(&self, name: &str, family: Option<Family>) -> Vec<IpAddr> {
        let all = match name {
            "localhost" => vec![
                IpAddr::V4(Ipv4Addr::LOCALHOST),
                IpAddr::V6(Ipv6Addr::LOCALHOST),
            ],
            "v6.test" => vec![IpAddr::V6(Ipv6Addr::new(0xfec0, 0x42, 0, 0, 0, 0, 0, 0x24))],
            _ => Vec::new(),
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
        None
    }
    fn tables(&self) -> TableSet {
        TableSet::of(&[Table::Tcp, Table::Udp])
    }
    fn user_id(&self, name: &str) -> Option<u32> {
        (name == "root").then_some(0)
    }
}

fn inet(state: State, local: (IpAddr, u16), peer: (IpAddr, u16)) -> Socket {
    let family = if local.0.is_ipv4() {
        Family::Inet
    } else {
        Family::Inet6
    };
    let mut s = Socket::new(Table::Tcp, family, state);
    s.local = Endpoint::Inet {
        addr: local.0,
        port: local.1,
    };
    s.peer = Endpoint::Inet {
        addr: peer.0,
        port: peer.1,
    };
    s.uid = Some(1000);
    s.inode = 4242;
    s.ifindex = 1;
    s.mark = Some(0x10);
    s.cgroup_id = Some(1234);
    s
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else {
        return;
    };
    // Error messages stay short whatever the input (a window of the text).
    let check = |span: std::ops::Range<usize>, msg: String| {
        let text = render_error(src, span, &msg);
        assert!(text.chars().count() < 1200, "error of {} chars", text.len());
    };
    let expr = match parse(src) {
        Ok(e) => e,
        Err(e) => return check(e.span.clone(), e.to_string()),
    };
    let filter = match compile(&expr, &FakeEnv) {
        Ok(f) => f,
        Err(e) => return check(e.span.clone(), e.to_string()),
    };
    let v4 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let any = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let mut unix = Socket::new(Table::UnixStream, Family::Unix, State::Listen);
    unix.local = Endpoint::Unix {
        name: None,
        inode: 7,
    };
    let sockets = [
        inet(State::Listen, (any, 22), (any, 0)),
        inet(State::Established, (v4, 22), (v4, 36266)),
        inet(State::Established, (v6, 40520), (v6, 22)),
        inet(State::Other(200), (v4, 0), (v4, 65535)),
        unix,
    ];
    let owners = [Owner {
        comm: Comm::new(b"nginx"),
        pid: 100,
        tid: None,
        fd: 3,
    }];
    for s in &sockets {
        let _ = filter.matches(s, &owners);
        let _ = filter.matches(s, &[]);
    }
    if let Some(bc) = filter.bytecode() {
        // What the compiler emits must pass the kernel's audit rules.
        if let Err(e) = bytecode::audit(&bc) {
            panic!(
                "compiled bytecode fails the audit: {e}\n{}",
                bytecode::disassemble(&bc)
            );
        }
        let _ = bytecode::disassemble(&bc);
    }
    let _ = filter.explain();
    let _ = filter.grouping_note();
    let _ = filter.family_restriction();
});
