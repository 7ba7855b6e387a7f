//! Timing checks, run by hand in release mode:
//! `cargo test --release -p sockq-netlink --test netlink -- --ignored perf --nocapture`.

use crate::common::*;
use sockq_model::{Family, State, StateSet, Table};
use sockq_netlink::{DiagSocket, ext, replay};
use std::net::TcpListener;
use std::ops::ControlFlow;
use std::time::Instant;

#[test]
#[ignore = "timing; run by hand in release mode"]
fn perf_decode_100k_from_fixture() {
    let data = fixture("multipart.bin");
    let start = Instant::now();
    let mut n = 0usize;
    while n < 100_000 {
        replay(&data, &mut |s| {
            n += usize::from(s.state == State::Listen);
            ControlFlow::Continue(())
        })
        .unwrap();
    }
    eprintln!(
        "decoded {n} sockets (with tcp_info, skmem, cong) in {:?}",
        start.elapsed()
    );
}

#[test]
#[ignore = "timing; run by hand in release mode, as root"]
fn perf_live_dump_19k() {
    in_netns(|| {
        // Stays under a hard RLIMIT_NOFILE of 20000.
        let many: Vec<_> = (10_000..29_000)
            .map(|p| TcpListener::bind(("127.0.0.1", p)).unwrap())
            .collect();
        let mut nl = DiagSocket::new().unwrap();
        for extensions in [0, ext::INFO | ext::SKMEMINFO | ext::CONG] {
            let req = request(Family::Inet, Table::Tcp, StateSet::ALL, extensions, None);
            let start = Instant::now();
            let mut n = 0;
            nl.dump_inet(&req, &mut |_| {
                n += 1;
                ControlFlow::Continue(())
            })
            .unwrap();
            assert_eq!(n, many.len());
            eprintln!(
                "live dump of {n} sockets, ext {extensions:#x}: {:?}",
                start.elapsed()
            );
            // The same dump without decoding: the kernel's share.
            let bytes = req.to_bytes(0).unwrap();
            let start = Instant::now();
            nl.dump_raw(&bytes, &mut |_, _| Ok(ControlFlow::Continue(())))
                .unwrap();
            eprintln!("  raw dump without decoding: {:?}", start.elapsed());
        }
    });
}
