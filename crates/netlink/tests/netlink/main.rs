//! Tests of sockq-netlink against byte fixtures captured from a real
//! kernel and against live sockets on loopback and in private network
//! namespaces (needs root for the namespaces).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod capture;
mod common;
mod fixtures;
mod live;
mod perf;
