//! Times one `/proc` scan: `cargo run --release -p sockq-proc --example scan [-T]`.
#![allow(clippy::unwrap_used)]

use sockq_proc::{ScanOptions, scan};
use std::time::Instant;

fn main() {
    let opts = ScanOptions {
        proc_root: ScanOptions::proc_root_from_env(),
        threads: std::env::args().any(|a| a == "-T"),
    };
    for _ in 0..3 {
        let t = Instant::now();
        let map = scan(&opts).unwrap();
        println!(
            "{} sockets, {} holders, {} denied in {:?}",
            map.len(),
            map.holders(),
            map.denied(),
            t.elapsed()
        );
    }
}
