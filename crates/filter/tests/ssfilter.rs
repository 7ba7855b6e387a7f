//! iproute2's testsuite cases (ss/ssfilter.t, spec 8.4) on ss1.dump's records.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{filter, matching, ss1};

#[test]
fn the_twelve_cases() {
    let listen = ["ss1-listen"];
    let b = ["ss1-b"];
    let c = ["ss1-c"];
    let cases: [(&str, &[&str]); 12] = [
        ("dport = 22", &b),
        ("dport 22", &b),
        ("( dport = 22 )", &b),
        ("src = 0.0.0.0", &listen),
        ("src 0.0.0.0", &listen),
        ("src 0.0.0.0 sport = 22", &listen),
        ("src 0.0.0.0 and sport = 22", &listen),
        ("src 10.0.0.1 and sport = 22 and dport = 50312", &c),
        ("src 10.0.0.1 and sport = 22 and ( dport = 50312 )", &c),
        ("src 10.0.0.1 and ( sport = 22 and dport = 50312 )", &c),
        ("( src 10.0.0.1 and sport = 22 ) and dport = 50312", &c),
        ("( src 0.0.0.0 or src 10.0.0.1 ) and dst 10.0.0.2", &c),
    ];
    // Replay shows only the IPv4 part of the dump (rows 1-4).
    let v4: Vec<_> = ss1().into_iter().take(4).collect();
    for (expr, want) in cases {
        let f = filter(expr);
        assert_eq!(matching(&f, &v4), want, "{expr}");
        assert!(f.grouping_note().is_none(), "{expr}");
    }
}
