//! Prints the identity and followed streams of the pids given as arguments
//! (without unix peers: `proc` does not speak netlink).
#![allow(clippy::print_stdout)]

use sockq_proc::{Detailer, ScanOptions, scan_with_ends};

fn main() {
    let opts = ScanOptions {
        proc_root: ScanOptions::proc_root_from_env(),
        threads: false,
    };
    let owners = match scan_with_ends(&opts, None) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("scan: {e}");
            std::process::exit(1);
        }
    };
    let Ok(mut d) = Detailer::new(&opts.proc_root, Some(&owners)) else {
        eprintln!("cannot open {}", opts.proc_root.display());
        std::process::exit(1);
    };
    for pid in std::env::args().skip(1).filter_map(|a| a.parse().ok()) {
        println!("{pid}: {:#?}", d.detail(pid));
    }
}
