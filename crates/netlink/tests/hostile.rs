//! Kernel replies that misbehave, crafted byte by byte and fed through the
//! same decoder path as a live dump (`dump_from_bytes`, `replay`,
//! `decode_*`), plus a replay of the saved fuzz corpus
//! (`fuzz/corpus-seed/{decode,tcp_info}`), which is what CI runs when
//! cargo-fuzz is not installed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use sockq_model::{Family, State, Table, TimerKind};
use sockq_netlink::inet::{
    INET_DIAG_MSG_LEN, attr, decode_mptcp_info, decode_skmem, decode_tcp_info,
};
use sockq_netlink::msg::{
    NLM_F_DUMP_INTR, NLM_F_MULTI, NLMSG_DONE, NLMSG_ERROR, NLMSG_HDRLEN, NlHeader,
    SOCK_DIAG_BY_FAMILY, align4, push_attr,
};
use sockq_netlink::{
    Error, HOLD_BUDGET, MAX_DUMP_RETRIES, Walk, cookie_offset, decode_inet, decode_inet_into,
    decode_netlink, decode_packet, decode_tipc, decode_unix, decode_vsock, decode_xdp,
    dump_from_bytes, ipv4_first, replay, retry_interrupted,
};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

/// `EPERM` (the same number on every Linux architecture).
const EPERM: i32 = 1;

/// One netlink message: header (with `len` = 16 + payload) and padded payload.
fn message(ty: u16, flags: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; NLMSG_HDRLEN];
    NlHeader {
        len: u32::try_from(NLMSG_HDRLEN + payload.len()).unwrap(),
        ty,
        flags,
        seq: 1,
        pid: 0,
    }
    .write(&mut out);
    out.extend_from_slice(payload);
    out.resize(align4(out.len()), 0);
    out
}

/// An `inet_diag_msg` for 127.0.0.1:`sport` -> 127.0.0.1:`dport` in `state`.
fn inet_msg(state: u8, sport: u16, dport: u16, inode: u32) -> Vec<u8> {
    let mut h = vec![0u8; INET_DIAG_MSG_LEN];
    h[0] = 2; // AF_INET
    h[1] = state;
    h[4..6].copy_from_slice(&sport.to_be_bytes());
    h[6..8].copy_from_slice(&dport.to_be_bytes());
    h[8..12].copy_from_slice(&[127, 0, 0, 1]);
    h[24..28].copy_from_slice(&[127, 0, 0, 1]);
    h[68..72].copy_from_slice(&inode.to_ne_bytes());
    h
}

fn done(errno: i32) -> Vec<u8> {
    message(NLMSG_DONE, NLM_F_MULTI, &(-errno).to_ne_bytes())
}

fn nlmsg_error(errno: i32) -> Vec<u8> {
    // errno, then the echoed request header.
    let mut p = (-errno).to_ne_bytes().to_vec();
    p.extend_from_slice(&[0u8; NLMSG_HDRLEN]);
    message(NLMSG_ERROR, 0, &p)
}

/// Runs a dump over `data` the way `DiagSocket::dump_inet` does; returns
/// the sockets seen and the result.
fn dump(data: &[u8]) -> (Vec<sockq_model::Socket>, Result<(), Error>) {
    let mut seen = Vec::new();
    let r = dump_from_bytes(data, &mut |ty, payload| {
        if ty == SOCK_DIAG_BY_FAMILY {
            seen.push(decode_inet(payload, Table::Tcp)?);
        }
        Ok(ControlFlow::Continue(()))
    });
    (seen, r)
}

#[test]
fn a_message_longer_than_the_buffer_is_an_error_naming_it() {
    let mut data = message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, &inet_msg(10, 22, 0, 1));
    let second = message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, &inet_msg(1, 22, 4000, 2));
    data.extend_from_slice(&second[..40]); // cut 40 bytes into the second message
    let (seen, r) = dump(&data);
    assert_eq!(seen.len(), 1, "the complete first message is still decoded");
    let e = r.unwrap_err();
    assert!(matches!(e, Error::Truncated { .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        format!(
            "truncated netlink message type 20 at offset {}: want {} bytes, got 40",
            data.len() - 40,
            second.len()
        )
    );
}

#[test]
fn a_header_cut_short_and_a_zero_length_are_errors_not_loops() {
    let (_, r) = dump(&[1, 2, 3, 4, 5]);
    assert_eq!(
        r.unwrap_err().to_string(),
        "truncated netlink header at offset 0: want 16 bytes, got 5"
    );
    // nlmsg_len 0 would loop forever if the walk trusted it.
    let mut zero = message(SOCK_DIAG_BY_FAMILY, 0, &inet_msg(10, 1, 0, 1));
    zero[..4].copy_from_slice(&0u32.to_ne_bytes());
    let (seen, r) = dump(&zero);
    assert!(seen.is_empty());
    assert!(
        r.unwrap_err()
            .to_string()
            .starts_with("truncated netlink message type 20 at offset 0")
    );
}

#[test]
fn a_payload_shorter_than_inet_diag_msg_is_an_error_naming_it() {
    let data = [
        message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, &[2, 10, 0, 0]),
        done(0),
    ]
    .concat();
    let (_, r) = dump(&data);
    assert_eq!(
        r.unwrap_err().to_string(),
        "truncated inet_diag_msg: want 72 bytes, got 4"
    );
}

#[test]
fn an_attribute_running_past_the_message_is_an_error_naming_it() {
    let mut p = inet_msg(1, 22, 4000, 7);
    push_attr(&mut p, attr::SHUTDOWN, &[3]).unwrap();
    // An INFO attribute that claims 300 bytes but has 8.
    p.extend_from_slice(&300u16.to_ne_bytes());
    p.extend_from_slice(&attr::INFO.to_ne_bytes());
    p.extend_from_slice(&[0u8; 8]);
    let e = decode_inet(&p, Table::Tcp).unwrap_err();
    assert_eq!(
        e.to_string(),
        "truncated inet_diag_msg attribute 2 at offset 8: want 300 bytes, got 12"
    );
    // Through the dump loop, with DONE after it, and with the bytes ending
    // right after it (the decode error wins over the missing DONE).
    let msg = message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, &p);
    for data in [[msg.clone(), done(0)].concat(), msg] {
        let (seen, r) = dump(&data);
        assert!(seen.is_empty());
        assert_eq!(r.unwrap_err().to_string(), e.to_string());
    }
    // And through the -D file replay, which adds the offset.
    let file = [message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, &p), done(0)].concat();
    let e = replay(&file, &mut |_| ControlFlow::Continue(())).unwrap_err();
    assert_eq!(
        e.to_string(),
        "truncated inet_diag_msg attribute 2 at offset 8 in dump file message at offset 0: \
         want 300 bytes, got 12"
    );
}

#[test]
fn nlmsg_error_mid_dump_ends_it_with_the_kernel_error() {
    let data = [
        message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, &inet_msg(10, 22, 0, 1)),
        message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, &inet_msg(10, 23, 0, 2)),
        nlmsg_error(EPERM),
        message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, &inet_msg(10, 24, 0, 3)),
        done(0),
    ]
    .concat();
    let (seen, r) = dump(&data);
    assert_eq!(seen.len(), 2, "rows before the error were delivered");
    let e = r.unwrap_err();
    assert!(matches!(e, Error::Kernel { errno: 1, .. }), "{e:?}");
    assert_eq!(
        e.to_string(),
        "captured sock_diag dump: kernel answered: operation not permitted (errno 1)"
    );
    // DONE carrying an error code is an error too; -ENOENT means no module.
    let (_, r) = dump(&[done(EPERM)].concat());
    assert!(matches!(r, Err(Error::Kernel { errno: 1, .. })));
    let (_, r) = dump(&done(2));
    assert!(matches!(r, Err(Error::ProtocolMissing { .. })));
    // The replay of a -D file reports an NLMSG_ERROR with its offset.
    let e = replay(&data, &mut |_| ControlFlow::Continue(())).unwrap_err();
    assert!(
        e.to_string().starts_with("dump file message at offset"),
        "{e}"
    );
}

#[test]
fn dump_intr_reads_every_row_then_asks_for_a_retry() {
    let data = [
        message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, &inet_msg(10, 22, 0, 1)),
        message(
            SOCK_DIAG_BY_FAMILY,
            NLM_F_MULTI | NLM_F_DUMP_INTR,
            &inet_msg(10, 23, 0, 2),
        ),
        message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, &inet_msg(10, 24, 0, 3)),
        done(0),
    ]
    .concat();
    let (seen, r) = dump(&data);
    assert_eq!(seen.len(), 3);
    let e = r.unwrap_err();
    assert!(matches!(e, Error::DumpInterrupted { .. }) && e.is_retryable());
    // The flag on DONE alone counts as well.
    let mut d = done(0);
    d[6..8].copy_from_slice(&(NLM_F_MULTI | NLM_F_DUMP_INTR).to_ne_bytes());
    let (_, r) = dump(&d);
    assert!(matches!(r, Err(Error::DumpInterrupted { .. })));
}

/// An inet message whose cookie (low half) is `cookie`, for the retry tests.
fn with_cookie(sport: u16, cookie: u32, flags: u16) -> Vec<u8> {
    let mut p = inet_msg(1, sport, 40000, 1000 + cookie);
    p[44..48].copy_from_slice(&cookie.to_ne_bytes());
    message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI | flags, &p)
}

/// Runs `retry_interrupted` over crafted dumps, one per attempt (the last
/// one repeats), through `dump_from_bytes`; returns the source ports seen in
/// order, the number of dumps made and the result.
fn retried(attempts: &[Vec<u8>]) -> (Vec<u16>, usize, Result<(), Error>) {
    let mut ports = Vec::new();
    let mut made = 0;
    let r = retry_interrupted(
        MAX_DUMP_RETRIES,
        cookie_offset(SOCK_DIAG_BY_FAMILY, 2),
        &mut |on| {
            let data = &attempts[made.min(attempts.len() - 1)];
            made += 1;
            dump_from_bytes(data, on)
        },
        &mut |ty, payload| {
            if ty == SOCK_DIAG_BY_FAMILY
                && let sockq_model::Endpoint::Inet { port, .. } =
                    decode_inet(payload, Table::Tcp)?.local
            {
                ports.push(port);
            }
            Ok(ControlFlow::Continue(()))
        },
    );
    (ports, made, r)
}

#[test]
fn dump_intr_is_retried_and_each_socket_is_delivered_once() {
    // The first walk is flagged and misses socket 4; the retry sees the
    // table as it is now: 1 and 3 again, 2 gone, 4 new.
    let first = [
        with_cookie(1, 11, 0),
        with_cookie(2, 12, NLM_F_DUMP_INTR),
        with_cookie(3, 13, 0),
        done(0),
    ]
    .concat();
    let second = [
        with_cookie(3, 13, 0),
        with_cookie(4, 14, 0),
        with_cookie(1, 11, 0),
        done(0),
    ]
    .concat();
    let (ports, made, r) = retried(&[first, second]);
    r.unwrap();
    assert_eq!(made, 2);
    assert_eq!(ports, [1, 2, 3, 4]);
}

#[test]
fn a_dump_interrupted_every_time_gives_up_after_the_retries() {
    let always = [with_cookie(1, 11, NLM_F_DUMP_INTR), done(0)].concat();
    let mut later = always.clone();
    later.splice(0..0, with_cookie(5, 15, NLM_F_DUMP_INTR));
    let (ports, made, r) = retried(&[always, later]);
    assert_eq!(made as u32, MAX_DUMP_RETRIES + 1);
    assert_eq!(ports, [1, 5], "every socket read is still delivered, once");
    let e = r.unwrap_err();
    assert!(matches!(e, Error::DumpInterrupted { attempts } if attempts == MAX_DUMP_RETRIES + 1));
    assert_eq!(
        e.to_string(),
        format!(
            "dump interrupted {} times: the socket table changed or replies were dropped",
            MAX_DUMP_RETRIES + 1
        )
    );
}

#[test]
fn a_consumer_that_stops_is_not_retried() {
    let flagged = [
        with_cookie(1, 11, NLM_F_DUMP_INTR),
        with_cookie(2, 12, 0),
        done(0),
    ]
    .concat();
    let mut made = 0;
    let mut seen = 0;
    let r = retry_interrupted(
        MAX_DUMP_RETRIES,
        cookie_offset(SOCK_DIAG_BY_FAMILY, 2),
        &mut |on| {
            made += 1;
            dump_from_bytes(&flagged, on)
        },
        &mut |_, _| {
            seen += 1;
            Ok(ControlFlow::Break(()))
        },
    );
    r.unwrap();
    assert_eq!((made, seen), (1, 1));
}

#[test]
fn an_interrupted_walk_of_both_families_still_passes_on_its_ipv6_rows() {
    // The legacy request's replies (type 18), IPv6 among IPv4, flagged on
    // every attempt: after the retries the IPv6 rows still come, last, then
    // the error.
    let legacy = |family: u8, sport: u16, cookie: u32| {
        let mut p = inet_msg(1, sport, 40000, 1000 + cookie);
        p[0] = family;
        p[44..48].copy_from_slice(&cookie.to_ne_bytes());
        message(18, NLM_F_MULTI | NLM_F_DUMP_INTR, &p)
    };
    let data = [
        legacy(10, 6, 16),
        legacy(2, 4, 14),
        legacy(10, 7, 17),
        done(0),
    ]
    .concat();
    let mut families = Vec::new();
    let r = ipv4_first(
        &mut |walk, on| {
            assert_eq!(walk, Walk::Both, "the held IPv6 rows fit the budget");
            retry_interrupted(
                MAX_DUMP_RETRIES,
                cookie_offset(18, 0),
                &mut |o| dump_from_bytes(&data, o),
                on,
            )
        },
        HOLD_BUDGET,
        &mut |s| {
            families.push(s.family);
            ControlFlow::Continue(())
        },
    );
    assert_eq!(families, [Family::Inet, Family::Inet6, Family::Inet6]);
    assert!(matches!(r, Err(Error::DumpInterrupted { attempts: 4 })));
}

/// The legacy reply (type 18) for `family` with source port `sport`.
fn legacy(family: u8, sport: u16) -> Vec<u8> {
    let mut p = inet_msg(1, sport, 40000, 1000 + u32::from(sport));
    p[0] = family;
    p[44..48].copy_from_slice(&u32::from(sport).to_ne_bytes());
    p
}

/// Runs [`ipv4_first`] over a both-families walk of `both` (ports; odd
/// ones IPv6) and, when asked for, an IPv6 walk of `v6`; returns the ports
/// passed on, the walks made and the result.
fn both_families(
    both: &[u16],
    v6: &[u16],
    budget: usize,
    interrupted: bool,
) -> (Vec<u16>, Vec<Walk>, Result<(), Error>) {
    let flags = if interrupted {
        NLM_F_MULTI | NLM_F_DUMP_INTR
    } else {
        NLM_F_MULTI
    };
    let mut first: Vec<u8> = both
        .iter()
        .flat_map(|&p| message(18, flags, &legacy(if p % 2 == 1 { 10 } else { 2 }, p)))
        .collect();
    first.extend(done(0));
    let mut second: Vec<u8> = v6
        .iter()
        .flat_map(|&p| message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, &legacy(10, p)))
        .collect();
    second.extend(done(0));
    let mut walks = Vec::new();
    let mut ports = Vec::new();
    let r = ipv4_first(
        &mut |walk, on| {
            walks.push(walk);
            dump_from_bytes(if walk == Walk::Both { &first } else { &second }, on)
        },
        budget,
        &mut |s| {
            let sockq_model::Endpoint::Inet { port, .. } = s.local else {
                panic!("not inet: {:?}", s.local);
            };
            assert_eq!(s.family == Family::Inet6, port % 2 == 1);
            ports.push(port);
            ControlFlow::Continue(())
        },
    );
    (ports, walks, r)
}

#[test]
fn ipv6_rows_within_the_budget_are_held_and_come_last() {
    let walk: Vec<u16> = (2..200).collect();
    let (ports, walks, r) = both_families(&walk, &[], HOLD_BUDGET, false);
    r.unwrap();
    assert_eq!(walks, [Walk::Both]);
    let v4 = walk.iter().filter(|p| *p % 2 == 0);
    let v6 = walk.iter().filter(|p| *p % 2 == 1);
    assert_eq!(ports, v4.chain(v6).copied().collect::<Vec<_>>());
}

#[test]
fn ipv6_rows_past_the_budget_come_from_a_walk_of_their_own() {
    // The second walk's IPv6 sockets differ from the first walk's (the
    // table changed between them): only the second walk's are shown, once.
    let walk: Vec<u16> = (2..400).collect();
    let v6: Vec<u16> = (101..601).step_by(2).collect();
    let (ports, walks, r) = both_families(&walk, &v6, 1000, false);
    r.unwrap();
    assert_eq!(walks, [Walk::Both, Walk::Ipv6]);
    let v4 = walk.iter().filter(|p| *p % 2 == 0);
    assert_eq!(ports, v4.chain(&v6).copied().collect::<Vec<_>>());
    // A budget of zero never holds.
    let (ports, walks, r) = both_families(&[2, 3, 4], &[3], 0, false);
    r.unwrap();
    assert_eq!(
        (ports, walks),
        (vec![2, 4, 3], vec![Walk::Both, Walk::Ipv6])
    );
}

#[test]
fn an_interrupted_walk_past_the_budget_still_walks_ipv6_then_reports() {
    let (ports, walks, r) = both_families(&[2, 3, 4, 5], &[3, 5], 0, true);
    assert_eq!(
        (ports, walks),
        (vec![2, 4, 3, 5], vec![Walk::Both, Walk::Ipv6])
    );
    assert!(matches!(r, Err(Error::DumpInterrupted { attempts: 1 })));
}

#[test]
fn a_family_without_cookies_is_not_retried() {
    // tipc replies carry no cookie at a fixed place: a retry could not tell
    // delivered sockets apart, so the first interrupted dump is reported.
    let flagged = [with_cookie(1, 11, NLM_F_DUMP_INTR), done(0)].concat();
    let mut made = 0;
    let r = retry_interrupted(
        MAX_DUMP_RETRIES,
        None,
        &mut |on| {
            made += 1;
            dump_from_bytes(&flagged, on)
        },
        &mut |_, _| Ok(ControlFlow::Continue(())),
    );
    assert_eq!(made, 1);
    assert!(matches!(r, Err(Error::DumpInterrupted { attempts: 1 })));
}

#[test]
fn an_error_other_than_dump_intr_is_not_retried() {
    let failing = [with_cookie(1, 11, NLM_F_DUMP_INTR), nlmsg_error(EPERM)].concat();
    let (ports, made, r) = retried(&[failing]);
    assert_eq!((ports, made), (vec![1], 1));
    assert!(matches!(r, Err(Error::Kernel { errno: EPERM, .. })));
}

#[test]
fn decoding_into_a_reused_record_leaves_nothing_behind() {
    let mut with = inet_msg(1, 22, 4000, 9);
    push_attr(&mut with, attr::CONG, b"cubic\0").unwrap();
    push_attr(&mut with, attr::INFO, &[7u8; 104]).unwrap();
    push_attr(&mut with, attr::SHUTDOWN, &[1]).unwrap();
    let mut other = inet_msg(1, 24, 4001, 11);
    push_attr(&mut other, attr::CONG, b"bbr\0").unwrap();
    let plain = inet_msg(10, 23, 0, 10);
    let mut s = decode_inet(&plain, Table::Tcp).unwrap();
    for p in [&with, &plain, &with, &other, &with] {
        decode_inet_into(p, Table::Tcp, &mut s).unwrap();
        assert_eq!(s, decode_inet(p, Table::Tcp).unwrap());
    }
    // A failed decode leaves no half-old record that could be mistaken
    // for a socket: it is an error for the caller.
    assert!(decode_inet_into(&with[..10], Table::Tcp, &mut s).is_err());
}

#[test]
fn unknown_attributes_states_families_and_timers_are_kept_not_fatal() {
    let mut p = inet_msg(200, 22, 4000, 9);
    p[2] = 77; // unknown timer code
    push_attr(&mut p, 99, &[1, 2, 3, 4, 5]).unwrap(); // unknown attribute
    push_attr(&mut p, 0x3fff, &[]).unwrap(); // highest type, empty
    push_attr(&mut p, attr::MARK, &[1]).unwrap(); // known but short: skipped
    push_attr(&mut p, attr::SHUTDOWN, &[2]).unwrap();
    let data = [message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, &p), done(0)].concat();
    let (seen, r) = dump(&data);
    r.unwrap();
    let s = seen.first().unwrap();
    assert_eq!(s.state, State::Other(200));
    assert_eq!(s.inode, 9);
    assert_eq!(s.mark, None);
    assert_eq!(s.shutdown.map(|x| x.0), Some(2));
    assert!(matches!(
        s.timer.map(|t| t.kind),
        Some(TimerKind::Other(77))
    ));
    // An unknown family decodes too (its addresses as IPv6-sized).
    let mut f = inet_msg(1, 1, 2, 3);
    f[0] = 99;
    let s = decode_inet(&f, Table::Tcp).unwrap();
    assert_eq!(s.family, Family::Other(99));
    // Unknown message types in a dump are skipped, not fatal.
    let data = [
        message(0x7777, NLM_F_MULTI, &[1, 2, 3]),
        message(SOCK_DIAG_BY_FAMILY, NLM_F_MULTI, &inet_msg(10, 22, 0, 1)),
        done(0),
    ]
    .concat();
    let (seen, r) = dump(&data);
    r.unwrap();
    assert_eq!(seen.len(), 1);
}

#[test]
fn by_length_attributes_decode_at_every_length() {
    let bytes: Vec<u8> = (0..600u32).map(|i| (i * 37 % 251) as u8).collect();
    for n in 0..bytes.len() {
        let d = &bytes[..n];
        let t = decode_tcp_info(d);
        let _ = decode_mptcp_info(d);
        let m = decode_skmem(d);
        if n < 4 {
            assert_eq!(m.rmem_alloc, 0);
            assert_eq!(t.state, 0);
        }
    }
}

/// Pseudo-random bytes (xorshift), reproducible without a dependency.
fn noise(seed: u64, n: usize) -> Vec<u8> {
    let mut x = seed | 1;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

type Decoder = fn(&[u8]) -> Result<sockq_model::Socket, Error>;

const DECODERS: [(&str, Decoder); 10] = [
    ("inet tcp", |p| decode_inet(p, Table::Tcp)),
    ("inet udp", |p| decode_inet(p, Table::Udp)),
    ("inet mptcp", |p| decode_inet(p, Table::Mptcp)),
    ("unix", decode_unix),
    ("packet", decode_packet),
    ("netlink", decode_netlink),
    ("vsock", decode_vsock),
    ("xdp", decode_xdp),
    ("tipc", decode_tipc),
    ("inet raw", |p| decode_inet(p, Table::Raw)),
];

#[test]
fn every_decoder_survives_every_short_length_and_noise() {
    for (name, decode) in DECODERS {
        for n in 0..160 {
            for seed in 0..8 {
                let r = decode(&noise(seed * 1000 + n as u64, n));
                if n == 0 {
                    assert!(r.is_err(), "{name}: an empty payload decoded");
                }
            }
            // All zero: lengths in attribute headers are 0, never a loop.
            let _ = decode(&vec![0u8; n]);
        }
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The files of one saved corpus directory; the directory must hold some.
fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = repo_root().join("fuzz/corpus-seed").join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", dir.display());
    assert!(
        files.len() <= 200,
        "{} holds more than 200 files",
        dir.display()
    );
    files
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect()
}

/// Exactly what `fuzz/fuzz_targets/decode.rs` does with one input.
#[test]
fn decode_corpus_replays_cleanly() {
    let mut decoded = 0usize;
    for (_path, data) in corpus("decode") {
        if let Some((&pick, rest)) = data.split_first()
            && let Some((_, decode)) = DECODERS.get(usize::from(pick % 10))
            && decode(rest).is_ok()
        {
            decoded += 1;
        }
        let _ = dump_from_bytes(&data, &mut |ty, payload| {
            if ty == SOCK_DIAG_BY_FAMILY {
                let _ = decode_inet(payload, Table::Tcp);
            }
            Ok(ControlFlow::Continue(()))
        });
        let _ = replay(&data, &mut |_| ControlFlow::Continue(()));
    }
    assert!(decoded > 0, "no corpus input decoded at all");
}

/// Exactly what `fuzz/fuzz_targets/tcp_info.rs` does with one input.
#[test]
fn tcp_info_corpus_replays_cleanly() {
    for (_path, data) in corpus("tcp_info") {
        let _ = decode_tcp_info(&data);
        let _ = decode_mptcp_info(&data);
        let _ = decode_skmem(&data);
    }
}
