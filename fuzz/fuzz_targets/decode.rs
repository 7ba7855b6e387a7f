//! sock_diag reply decoders on arbitrary bytes: the first byte picks the
//! family decoder for the rest; every input also goes through the dump loop
//! and the `-D` file replay.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sockq_model::Table;
use sockq_netlink::{
    decode_inet, decode_netlink, decode_packet, decode_tipc, decode_unix, decode_vsock, decode_xdp,
    dump_from_bytes, replay,
};
use std::ops::ControlFlow;

fuzz_target!(|data: &[u8]| {
    if let Some((&pick, rest)) = data.split_first() {
        let _ = match pick % 10 {
            0 => decode_inet(rest, Table::Tcp),
            1 => decode_inet(rest, Table::Udp),
            2 => decode_inet(rest, Table::Mptcp),
            3 => decode_unix(rest),
            4 => decode_packet(rest),
            5 => decode_netlink(rest),
            6 => decode_vsock(rest),
            7 => decode_xdp(rest),
            8 => decode_tipc(rest),
            _ => decode_inet(rest, Table::Raw),
        };
    }
    let mut n = 0usize;
    let _ = dump_from_bytes(data, &mut |ty, payload| {
        n += 1;
        if ty == 20 {
            let _ = decode_inet(payload, Table::Tcp);
        }
        Ok(ControlFlow::Continue(()))
    });
    let _ = replay(data, &mut |_| ControlFlow::Continue(()));
});
