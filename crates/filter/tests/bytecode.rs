//! The kernel program: ss's exact bytes where ss can express the filter,
//! the audit rules, and agreement with user space on the fixtures.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{filter, fixtures, vm};
use sockq_filter::bytecode::{audit, disassemble};

fn ops(expr: &str) -> String {
    let f = filter(expr);
    match f.bytecode() {
        Some(b) => disassemble(&b)
            .lines()
            .map(|l| l.split_whitespace().take(4).collect::<Vec<_>>().join(" "))
            .collect::<Vec<_>>()
            .join(" | "),
        None => "none".into(),
    }
}

#[test]
fn sport_80_is_the_bytes_ss_sends() {
    let b = filter("sport = :80").bytecode().expect("bytecode");
    let mut want = vec![7u8, 16, 20, 0, 0, 0, 0, 0];
    want.extend_from_slice(&80i32.to_ne_bytes());
    want.extend_from_slice(&[0, 0, 0, 0]);
    assert_eq!(b, want);
}

#[test]
fn worked_examples_of_spec_4_5() {
    assert_eq!(ops("sport = :80"), "@0 S_COND yes=16 no=20");
    assert_eq!(
        ops("sport > :1024"),
        "@0 S_LE yes=8 no=12 | @8 JMP yes=4 no=8"
    );
    assert_eq!(
        ops("( sport = :80 or sport = :443 )"),
        "@0 S_COND yes=16 no=20 | @16 JMP yes=4 no=20 | @20 S_COND yes=16 no=20"
    );
    assert_eq!(
        ops("not dst 10.0.0.0/8"),
        "@0 D_COND yes=16 no=20 | @16 JMP yes=4 no=8"
    );
    assert_eq!(ops("fwmark = 0x10/0xff"), "@0 MARK_COND yes=12 no=16");
    assert_eq!(
        ops("src 127.0.0.1 dport = 22"),
        "@0 S_COND yes=16 no=36 | @16 D_COND yes=16 no=20"
    );
    assert_eq!(
        ops("src 10.0.0.1 or dst 10.0.0.2 or dport = 9"),
        "@0 S_COND yes=16 no=20 | @16 JMP yes=4 no=20 | @20 D_COND yes=16 no=20 | @36 JMP yes=4 no=20 | @40 D_COND yes=16 no=20"
    );
    let d = disassemble(&filter("dst 10.0.0.0/8:443").bytecode().expect("bc"));
    assert!(d.contains("family=inet addr=10.0.0.0/8 port=443"), "{d}");
    // sockq emits DEV_COND, which ss never does.
    assert_eq!(ops("dev lo"), "@0 DEV_COND yes=8 no=12");
    assert_eq!(
        ops("dev lo or sport = 22"),
        "@0 DEV_COND yes=8 no=12 | @8 JMP yes=4 no=20 | @12 S_COND yes=16 no=20"
    );
    assert_eq!(
        ops("cgroup /system.slice/nginx.service"),
        "@0 CGROUP_COND yes=12 no=16"
    );
}

#[test]
fn several_addresses_are_an_or() {
    // ss compiles only the first address (bug 15); sockq all of them.
    let d = disassemble(&filter("src multi.test").bytecode().expect("bc"));
    assert!(
        d.contains("addr=10.0.0.1/32") && d.contains("addr=10.0.0.2/32"),
        "{d}"
    );
    assert_eq!(
        ops("src localhost"),
        "@0 S_COND yes=16 no=20 | @16 JMP yes=4 no=32 | @20 S_COND yes=28 no=32"
    );
}

#[test]
fn user_space_only_predicates_leave_a_superset() {
    for e in [
        "autobound",
        "not autobound",
        "state listening",
        "uid = 0",
        "not uid = 0",
        "pid = 1 or sport = :80",
        "comm sshd",
        "rqueue > 0",
        "not ( inode = 5 and sport = :22 )",
    ] {
        assert_eq!(filter(e).bytecode(), None, "{e}");
        assert!(!filter(e).kernel_exact(), "{e}");
    }
    // The kernel keeps what it can.
    assert_eq!(ops("sport = :22 and uid = 0"), "@0 S_COND yes=16 no=20");
    assert_eq!(
        ops("not ( sport = :22 or uid = 0 )"),
        "@0 S_COND yes=16 no=20 | @16 JMP yes=4 no=8"
    );
    assert!(!filter("sport = :22 and uid = 0").kernel_exact());
    assert!(filter("sport = :22 and dev lo").kernel_exact());
    // Other families never match inet sockets: exactly false in the kernel.
    assert_eq!(ops("src unix:/x"), "@0 JMP yes=4 no=8");
    assert_eq!(filter("not src unix:/x").bytecode(), None);
    assert!(filter("src unix:/x or sport = :22").kernel_exact());
}

#[test]
fn every_program_passes_the_audit_and_agrees_on_fixtures() {
    let set = fixtures();
    for e in [
        "sport = :80",
        "( sport = :http or sport = :https )",
        "dport > :1024 and not src 10.0.0.0/8",
        "src localhost or dst multi.test and dport = 22",
        "not ( src ::/0 or dev lo ) and fwmark = 0/0x10",
        "src 127.0.0.1 and sport = 2222",
        "src 0.0.0.0/0",
        "not not not sport = 22 dst 10.0.0.1",
        "cgroup /system.slice/nginx.service or sport < 100",
        "dst 127.1 or src inet:* and not src inet6:*",
    ] {
        let f = filter(e);
        let b = f.bytecode().expect("bytecode");
        audit(&b).unwrap_or_else(|m| panic!("{e}: {m}"));
        assert!(f.kernel_exact(), "{e}");
        for x in set.iter().filter(|x| x.socket.table.is_inet()) {
            assert_eq!(
                vm::run(&b, &x.socket),
                f.matches(&x.socket, &x.owners),
                "{e} on {}",
                x.name
            );
        }
    }
}

#[test]
fn explain_shows_expression_and_bytecode() {
    let text = filter("sport = 22 or dport = 22 and dst 10.0.0.2").explain();
    assert!(
        text.starts_with(
            "expression: ((sport = 22) or ((dport = 22) and (dst = 10.0.0.2)))\nkernel bytecode: "
        ),
        "{text}"
    );
    assert!(text.contains("S_COND"), "{text}");
    assert!(
        filter("uid = 0")
            .explain()
            .contains("only user space tests: uid/user")
    );
}
