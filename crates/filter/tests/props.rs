//! Property tests: printing and parsing agree; the kernel program accepts a
//! superset of user space, and exactly user space when it is exact.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{TestEnv, vm};
use proptest::prelude::*;
use sockq_filter::{Cmp, Field, Pred, Term, compile, parse};
use sockq_model::{Endpoint, Family, Socket, State, Table};
use std::net::IpAddr;

fn pred_strategy() -> impl Strategy<Value = Term> {
    let field = prop::sample::select(Field::ALL.to_vec());
    let cmp = prop::sample::select(vec![Cmp::Eq, Cmp::Ne, Cmp::Lt, Cmp::Gt, Cmp::Le, Cmp::Ge]);
    // Values with every character the printer must escape.
    let value = "[a-z0-9:./*@\\[\\]()&| =!<>\\\\-]{1,10}";
    (field, cmp, value).prop_map(|(field, cmp, value)| {
        let (cmp, value) = if field == Field::Autobound {
            (Cmp::Eq, String::new())
        } else if field.is_ordered() || matches!(cmp, Cmp::Eq | Cmp::Ne) {
            (cmp, value)
        } else {
            (Cmp::Eq, value)
        };
        Term::Pred(Pred {
            field,
            cmp,
            value,
            span: 0..0,
            cmp_span: 0..0,
            value_span: 0..0,
        })
    })
}

fn term_strategy() -> impl Strategy<Value = Term> {
    pred_strategy().prop_recursive(5, 40, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 2..4).prop_map(Term::And),
            prop::collection::vec(inner.clone(), 2..4).prop_map(Term::Or),
            inner.prop_map(|t| Term::Not(Box::new(t))),
        ]
    })
}

const PREDS: &[&str] = &[
    "sport = :22",
    "sport = :80",
    "dport = :22",
    "sport >= 1024",
    "sport < 2000",
    "dport > 30000",
    "dport <= 80",
    "src 10.0.0.0/8",
    "src 10.0.0.1",
    "dst 10.0.0.2",
    "src ::/0",
    "src [fec0:42::24]",
    "dst fec0:42::/32",
    "src 127.0.0.1",
    "src [::ffff:127.0.0.1]",
    "src 0.0.0.0/0",
    "src inet:*",
    "src inet6:*",
    "dst *:22",
    "src multi.test",
    "src localhost:8080",
    "dev lo",
    "dev 2",
    "fwmark = 0x10",
    "fwmark 0/0x10",
    "cgroup /system.slice/nginx.service",
    "src unix:*",
    "src link:ip",
    "dst :314796",
    "autobound",
    "state listening",
    "uid = 0",
    "inode < 500",
    "rqueue > 0",
    "squeue = 0",
    "pid = 100",
    "comm nginx",
    "src any",
    "dst 127.1",
    "src 10.0.0.0/24:22",
    "dst != 10.0.0.1",
    "src 127.0.0.0/8:8080",
];

fn expr_strategy() -> impl Strategy<Value = String> {
    let leaf = prop::sample::select(PREDS.to_vec()).prop_map(String::from);
    leaf.prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("( {a} and {b} )")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("( {a} or {b} )")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} {b}")),
            (inner.clone(), inner.clone(), inner.clone())
                .prop_map(|(a, b, c)| format!("{a} or {b} and {c}")),
            inner.prop_map(|a| format!("not ( {a} )")),
        ]
    })
}

fn socket_strategy() -> impl Strategy<Value = Socket> {
    let v4 = prop::sample::select(vec![
        "10.0.0.1",
        "10.0.0.2",
        "127.0.0.1",
        "0.0.0.0",
        "192.168.1.1",
    ]);
    let v6 = prop::sample::select(vec![
        "::",
        "fec0:42::24",
        "fec0:42::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::1",
    ]);
    let port = prop_oneof![
        prop::sample::select(vec![0u16, 22, 80, 1024, 2000, 8080, 30000, 45000, 65535]),
        any::<u16>(),
    ];
    (
        any::<bool>(),
        (v4.clone(), v4),
        (v6.clone(), v6),
        (port.clone(), port),
        0u32..4,
        prop::option::of(prop::sample::select(vec![0u32, 0x10, 0x11, 0x20])),
        prop::option::of(prop::sample::select(vec![1234u64, 99])),
        0u8..14,
        (prop::option::of(0u32..2), 0u32..1000, 0u32..3, 0u32..3),
    )
        .prop_map(|(is6, a4, a6, ports, ifindex, mark, cgroup, state, misc)| {
            let (la, pa): (IpAddr, IpAddr) = if is6 {
                (
                    a6.0.parse().unwrap_or(IpAddr::from([0u8; 16])),
                    a6.1.parse().unwrap_or(IpAddr::from([0u8; 16])),
                )
            } else {
                (
                    a4.0.parse().unwrap_or(IpAddr::from([0u8; 4])),
                    a4.1.parse().unwrap_or(IpAddr::from([0u8; 4])),
                )
            };
            let fam = if is6 { Family::Inet6 } else { Family::Inet };
            let mut s = Socket::new(Table::Tcp, fam, State::from_u8(state));
            s.local = Endpoint::Inet {
                addr: la,
                port: ports.0,
            };
            s.peer = Endpoint::Inet {
                addr: pa,
                port: ports.1,
            };
            s.ifindex = ifindex;
            s.mark = mark;
            s.cgroup_id = cgroup;
            s.uid = misc.0;
            s.inode = misc.1;
            s.recv_q = misc.2;
            s.send_q = misc.3;
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn print_then_parse_gives_the_same_tree(t in term_strategy()) {
        let text = t.to_string();
        let mut back = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?.term;
        back.clear_spans();
        prop_assert_eq!(back, t, "{}", text);
    }

    #[test]
    fn kernel_accepts_a_superset(
        e in expr_strategy(),
        socks in prop::collection::vec(socket_strategy(), 16),
    ) {
        let f = compile(&parse(&e).map_err(|x| TestCaseError::fail(format!("{e}: {x}")))?, &TestEnv::default())
            .map_err(|x| TestCaseError::fail(format!("{e}: {x}")))?;
        let bc = f.bytecode();
        if let Some(b) = &bc {
            prop_assert!(sockq_filter::bytecode::audit(b).is_ok(), "{}", e);
        }
        for s in &socks {
            let user = f.matches(s, &[]);
            let kernel = bc.as_ref().is_none_or(|b| vm::run(b, s));
            if user {
                prop_assert!(kernel, "kernel drops a match: {} on {:?}", e, s);
            }
            if f.kernel_exact() {
                prop_assert_eq!(kernel, user, "{} on {:?}", e, s);
            }
        }
    }
}
