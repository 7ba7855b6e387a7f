//! The by-length attribute decoders (tcp_info, mptcp_info, skmem) at any length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockq_netlink::inet::{decode_mptcp_info, decode_skmem, decode_tcp_info};

fuzz_target!(|data: &[u8]| {
    let _ = decode_tcp_info(data);
    let _ = decode_mptcp_info(data);
    let _ = decode_skmem(data);
});
