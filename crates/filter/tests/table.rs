//! Expressions and the fixture sockets each must match (spec 3.5 and more).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{expand, filter, fixtures, matching};

const SPORT22: &str = "ss1-listen ss1-a ss1-c ss1-v6listen ss1-v6b";
const LISTENERS: &str = "ss1-listen ss1-v6listen lo8080 any80 dual2222 v6only2223 u-run";

fn table() -> Vec<(&'static str, String)> {
    let s = |x: &str| x.to_string();
    vec![
        // 1: every spelling of one port
        ("sport = :80", s("any80")),
        ("sport :80", s("any80")),
        ("sport 80", s("any80")),
        ("sport == 80", s("any80")),
        ("sport eq http", s("any80")),
        ("sport=:80", s("any80")),
        ("(sport=:http)", s("any80")),
        ("sport = 0x50", s("any80")),
        ("sport = 0120", s("any80")),
        // 2
        ("( sport = :http or sport = :https )", s("any80 marked")),
        ("(sport = :http||sport = :https)", s("any80 marked")),
        // 3
        ("dport != :22", s("ALL -ss1-b -ss1-v6a")),
        ("dport ne 22", s("ALL -ss1-b -ss1-v6a")),
        ("dport neq :ssh", s("ALL -ss1-b -ss1-v6a")),
        ("dport = :ssh", s("ss1-b ss1-v6a")),
        // 4: dport > 1024 is not (dport <= 1024); non-inet "ports" follow ss
        (
            "dport > :1024",
            s(
                "ss1-a ss1-c ss1-v6b mapped2222 client8080 accepted8080 marked u-abs u-unnamed pkt-all pkt-ip nl-rtnl nl-diag",
            ),
        ),
        // 5, 6: ranges
        (
            "sport >= 2222 and sport <= 2223",
            s("dual2222 v6only2223 mapped2222"),
        ),
        ("sport gt :8000 and sport lt 9000", s("lo8080 accepted8080")),
        ("sport ge 22 and sport le 22", s(SPORT22)),
        (
            "sport geq 8080 and sport leq 8080",
            s("lo8080 accepted8080"),
        ),
        (
            "sport < 1024",
            s(
                "ss1-listen ss1-a ss1-c ss1-v6listen ss1-v6b any80 udp53 marked pkt-all pkt-ip nl-diag",
            ),
        ),
        // 7-10: remote prefixes
        ("dst 10.0.0.0/8", s("ss1-a ss1-b ss1-c marked")),
        ("dst 127.0.0.1:8080", s("client8080")),
        ("dst [127.0.0.1]:8080", s("client8080")),
        ("dst 127.0.0.1:45000", s("accepted8080")),
        ("dst 127.0.0/24 and dport = 8080", s("client8080")),
        ("dst 127.1", s("nothing")),
        ("src 10.1", s("nothing")),
        ("dst 10.0.0.2/32:50312", s("ss1-c")),
        ("src 10.0.0.0/24:22", s("ss1-a ss1-c")),
        ("src 10.0.0.1/8", s("ss1-a ss1-b ss1-c marked")),
        (
            "src 127.0.0.1/8",
            s("lo8080 mapped2222 client8080 accepted8080 udp53"),
        ),
        ("dst 0.0.0.0", s("ss1-listen lo8080 any80 udp53")),
        // 11, 12: IPv6, bracketed or not
        ("src [::1]", s("nothing")),
        ("src ::1", s("nothing")),
        (
            "src ::/0",
            s("ss1-v6listen ss1-v6a ss1-v6b dual2222 v6only2223 mapped2222"),
        ),
        (
            "src [::/0]",
            s("ss1-v6listen ss1-v6a ss1-v6b dual2222 v6only2223 mapped2222"),
        ),
        ("src [::]", s("ss1-v6listen dual2222 v6only2223")),
        ("src ::", s("ss1-v6listen dual2222 v6only2223")),
        ("src ::/128", s("ss1-v6listen dual2222 v6only2223")),
        ("src fec0:42::24", s("ss1-v6a ss1-v6b")),
        ("src [fec0:42::24]:22", s("ss1-v6b")),
        ("src fec0:42::/32", s("ss1-v6a ss1-v6b")),
        ("dst fec0:42::1", s("ss1-v6a ss1-v6b")),
        ("dst [fec0:42::1]:22", s("ss1-v6a")),
        ("src inet6:[fec0:42::24]", s("ss1-v6a ss1-v6b")),
        // 13, 14: v4-mapped
        ("src 127.0.0.1 and sport = 2222", s("mapped2222")),
        ("src [::ffff:127.0.0.1]", s("mapped2222")),
        ("src ::ffff:127.0.0.1", s("mapped2222")),
        // 15-18: wildcards
        ("src 0.0.0.0", s("ss1-listen any80")),
        ("src = 0.0.0.0", s("ss1-listen any80")),
        ("src *:8080", s("lo8080 accepted8080")),
        ("src :8080", s("lo8080 accepted8080")),
        ("dst *:*", s("ALL")),
        ("src any", s("ALL")),
        ("src default", s("ALL")),
        ("src = *", s("ALL")),
        ("sport = -1", s("ALL")),
        (
            "src 0.0.0.0/0",
            s(
                "ss1-listen ss1-a ss1-b ss1-c lo8080 any80 mapped2222 client8080 accepted8080 udp53 marked",
            ),
        ),
        // 19, 20: names and family prefixes
        (
            "src localhost",
            s("lo8080 mapped2222 client8080 accepted8080"),
        ),
        ("src localhost:8080", s("lo8080 accepted8080")),
        ("src multi.test", s("ss1-a ss1-b ss1-c marked")),
        ("dst multi.test", s("ss1-a ss1-b ss1-c")),
        ("src inet:127.0.0.1:8080", s("lo8080 accepted8080")),
        // 21-24: connectives and grouping
        ("src 10.0.0.1 sport = 22", s("ss1-a ss1-c")),
        ("sport = 22 or dport = 22 and dst 10.0.0.2", s(SPORT22)),
        ("( sport = 22 or dport = 22 ) and dst 10.0.0.2", s("ss1-c")),
        (
            "! sport = 22",
            s("ALL -ss1-listen -ss1-a -ss1-c -ss1-v6listen -ss1-v6b"),
        ),
        (
            "!(sport = 22)",
            s("ALL -ss1-listen -ss1-a -ss1-c -ss1-v6listen -ss1-v6b"),
        ),
        (
            "not ( sport = 22 or dport = 22 )",
            s("ALL -ss1-listen -ss1-a -ss1-c -ss1-v6listen -ss1-v6b -ss1-b -ss1-v6a"),
        ),
        (
            "not(sport=22 or sport=80)",
            s("ALL -ss1-listen -ss1-a -ss1-c -ss1-v6listen -ss1-v6b -any80"),
        ),
        ("not not sport = :80", s("any80")),
        (
            "sport = 22 ! dst 10.0.0.2",
            s("ss1-listen ss1-a ss1-v6listen ss1-v6b"),
        ),
        ("src 10.0.0.1 & sport = 22 && dport = 50312", s("ss1-c")),
        (
            "sport = 22 | sport = 80 || sport = 8080",
            s("ss1-listen ss1-a ss1-c ss1-v6listen ss1-v6b lo8080 any80 accepted8080"),
        ),
        ("(src 10.0.0.1)(dport = 22)", s("ss1-b")),
        (
            "src 10.0.0.1 and ( sport = 22 and dport = 50312 )",
            s("ss1-c"),
        ),
        ("dst 10.0.0.1 or dst 10.0.0.2", s("ss1-a ss1-b ss1-c")),
        ("dst != 10.0.0.1", s("ALL -ss1-a -ss1-b")),
        (
            "dport neq 22 and dport ne 0 and src 10.0.0.0/8",
            s("ss1-a ss1-c marked"),
        ),
        // 25: marks
        ("fwmark = 0x10", s("marked")),
        ("fwmark = 0x10/0xf0", s("marked")),
        ("fwmark = 0/0x10", s("ALL -marked")),
        ("fwmark != 0x10 and sport = 443", s("nothing")),
        // 26: devices
        ("dev lo", s("udp53")),
        ("dev = 1", s("udp53")),
        ("dev != lo", s("ALL -udp53")),
        ("dev eth0", s("pkt-all")),
        // 27: autobound partitions the sockets
        ("autobound", s("ss1-b ss1-v6a client8080 u-auto u-unnamed")),
        (
            "not autobound",
            s("ALL -ss1-b -ss1-v6a -client8080 -u-auto -u-unnamed"),
        ),
        ("autobound and src 127.0.0.1", s("client8080")),
        (
            "dst 127.0.0.1 and not autobound",
            s("mapped2222 accepted8080"),
        ),
        // 28, 29: unix
        ("src unix:/run/*", s("u-run")),
        ("src unix:*DEMO*", s("u-run")),
        ("src unix:/RUN/DEMO1.SOCK", s("u-run")),
        ("src unix:@foo*", s("u-abs")),
        ("src unix:@foo@bar", s("u-abs")),
        ("src unix:@[0-9a-f]????", s("u-auto")),
        ("dst unix:/run/demo1.sock", s("u-unnamed")),
        ("src unix:*", s("u-run u-abs u-auto u-unnamed")),
        ("dst unix:*", s("u-run u-abs u-auto u-unnamed")),
        ("src :314796", s("u-run")),
        ("dst :314796", s("u-unnamed")),
        // 30, 31: packet and netlink
        ("src link:ip", s("pkt-ip")),
        ("src link:0x0800", s("pkt-ip")),
        ("src link:IPv6", s("nothing")),
        ("src link:all", s("pkt-all")),
        ("src link:*:eth0", s("pkt-all")),
        ("src link:*:2", s("pkt-all")),
        ("src netlink:rtnl", s("nl-rtnl")),
        ("src netlink:*:kernel", s("nl-diag")),
        ("src netlink:tcpdiag:0", s("nl-diag")),
        ("src netlink:4", s("nl-diag")),
        ("src vsock:*", s("nothing")),
        // 32: cgroup
        ("cgroup = /system.slice/nginx.service", s("marked")),
        ("cgroup != /system.slice/nginx.service", s("ALL -marked")),
        // beyond ss: state, uid, user, inode, queues, pid, comm
        ("state listening", s(LISTENERS)),
        (
            "sport = :443 or state listening",
            s(&format!("{LISTENERS} marked")),
        ),
        (
            "state established and uid = 1000",
            s("ss1-b ss1-v6a client8080"),
        ),
        (
            "state connected and src 10.0.0.1",
            s("ss1-a ss1-b ss1-c marked"),
        ),
        ("state time-wait", s("nothing")),
        (
            "state != listening and src 10.0.0.0/8",
            s("ss1-a ss1-b ss1-c marked"),
        ),
        ("uid >= 1000", s("ss1-b ss1-v6a client8080")),
        (
            "uid != 0",
            s(
                "ss1-b ss1-v6a any80 client8080 udp53 marked u-run u-abs u-auto u-unnamed pkt-all pkt-ip nl-rtnl nl-diag",
            ),
        ),
        ("user alice", s("ss1-b ss1-v6a client8080")),
        ("user = 1000", s("ss1-b ss1-v6a client8080")),
        ("user root and sport = 22", s(SPORT22)),
        ("inode = 15840", s("ss1-a")),
        ("inode 314796", s("u-run")),
        (
            "inode < 500",
            s(
                "ss1-listen ss1-v6listen lo8080 any80 dual2222 v6only2223 mapped2222 client8080 accepted8080 udp53 marked",
            ),
        ),
        ("rqueue > 0", s("marked")),
        ("squeue >= 128", s("ss1-listen ss1-v6listen")),
        (
            "rqueue = 0 and squeue = 0 and state established",
            s(
                "ss1-a ss1-b ss1-c ss1-v6a ss1-v6b mapped2222 client8080 accepted8080 u-abs u-unnamed",
            ),
        ),
        ("pid = 100", s("lo8080 any80 accepted8080")),
        ("pid 101", s("any80")),
        ("pid != 100", s("ALL -lo8080 -any80 -accepted8080")),
        ("pid < 100", s("u-run")),
        ("comm nginx", s("lo8080 any80 accepted8080")),
        ("comm = ng*", s("lo8080 any80 accepted8080")),
        (
            "comm != nginx and state established and src 127.0.0.1",
            s("mapped2222 client8080"),
        ),
    ]
}

#[test]
fn expressions_match_their_sockets() {
    let set = fixtures();
    let cases = table();
    assert!(cases.len() >= 80, "only {} cases", cases.len());
    let mut failures = Vec::new();
    for (expr, want) in &cases {
        let f = common::filter(expr);
        let got = matching(&f, &set);
        let want = expand(want, &set);
        if got != want {
            failures.push(format!("{expr}\n   want {want:?}\n   got  {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn grouping_note_only_for_unparenthesised_mixes() {
    assert!(
        filter("sport = 22 or dport = 22 and dst 10.0.0.2")
            .grouping_note()
            .is_some()
    );
    assert!(
        filter("sport = 22 or dport = 22 dst 10.0.0.2")
            .grouping_note()
            .is_some()
    );
    assert!(
        filter("( sport = 22 or dport = 22 ) and dst 10.0.0.2")
            .grouping_note()
            .is_none()
    );
    assert!(
        filter("sport = 22 or ( dport = 22 and dst 10.0.0.2 )")
            .grouping_note()
            .is_none()
    );
    assert!(
        filter("sport = 22 or dport = 22 or dst 10.0.0.2")
            .grouping_note()
            .is_none()
    );
    assert!(
        filter("sport = 22 dport = 22 and dst 10.0.0.2")
            .grouping_note()
            .is_none()
    );
}

#[test]
fn family_prefixes_restrict_families() {
    use sockq_model::{Family, FamilySet};
    assert_eq!(filter("sport = :80").family_restriction(), None);
    assert_eq!(
        filter("src inet:127.0.0.1").family_restriction(),
        Some(FamilySet::of(&[Family::Inet]))
    );
    assert_eq!(
        filter("src inet:127.0.0.1 or src unix:/x").family_restriction(),
        Some(FamilySet::of(&[Family::Inet, Family::Unix]))
    );
}

#[test]
fn owners_needed_only_for_process_predicates() {
    assert!(!filter("sport = :80 and uid = 0 and user root").needs_owners());
    assert!(filter("not pid = 1").needs_owners());
    assert!(filter("sport = :80 or comm sshd").needs_owners());
}

#[test]
fn preferred_family_reads_values() {
    use common::{TestEnv, filter_with};
    use sockq_model::Family;
    let set = fixtures();
    let unix = TestEnv {
        preferred: Some(Family::Unix),
        ..TestEnv::default()
    };
    assert_eq!(matching(&filter_with("src *DEMO*", &unix), &set), ["u-run"]);
    let nl = TestEnv {
        preferred: Some(Family::Netlink),
        ..TestEnv::default()
    };
    assert_eq!(
        matching(&filter_with("src tcpdiag:0", &nl), &set),
        ["nl-diag"]
    );
    let v4 = TestEnv {
        preferred: Some(Family::Inet),
        ..TestEnv::default()
    };
    assert_eq!(
        matching(&filter_with("src localhost", &v4), &set),
        ["lo8080", "mapped2222", "client8080", "accepted8080"]
    );
}

#[test]
fn backslash_escapes_keep_blanks() {
    // `sport\ =` is one word, as in ss: not a keyword, so an error.
    assert!(sockq_filter::parse("sport\\ = :80").is_err());
    let set = fixtures();
    let f = common::filter("src unix:/run/demo1\\.sock");
    assert_eq!(matching(&f, &set), ["u-run"]);
}
