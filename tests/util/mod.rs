//! Shared helpers for the end-to-end tests, one file per concern: `run` (runners with
//! timeouts), `shadow` (the unprivileged shadow), `scene` (namespaces and sockets), `table`
//! (parsing and comparing ss-style output), `podman` (a real container) and `prometheus`
//! (node_exporter and Prometheus on loopback).
//!
//! * [`sockq`], [`ss`] and [`run`] start the two tools with a timeout.
//! * [`run`] also runs every sockq command again as `nobody` (the unprivileged shadow, see
//!   [`shadow_unprivileged`]) and fails the test unless that run ends cleanly.
//! * [`root_or_skip`] decides whether a root-only test runs.
//! * [`Netns`] is a private network namespace that is removed on drop, with [`Netns::exec`] to run
//!   a program inside it and [`Netns::enter`] to create sockets inside it.
//! * [`Mix`] is the known set of real sockets that the differential and filter tests compare on.
//! * [`parse_table`], [`parse_rows`] and [`compare_rows`] turn ss-style output into rows and
//!   compare two outputs with a readable diff.
//!
//! The harness proves itself against ss: with `SOCKQ_E2E_SUBJECT=ss` every "sockq" command runs
//! `ss` instead, so the comparisons must all pass (except the ones that check a documented
//! deviation from ss, which then skip).

#![allow(dead_code)] // Not every test module uses every helper.

use std::ffi::OsString;
use std::process::{Command, Output};

mod oracle;
mod podman;
mod prometheus;
mod run;
mod scene;
mod shadow;
mod table;

pub(crate) use oracle::*;
pub(crate) use podman::*;
pub(crate) use prometheus::*;
pub(crate) use run::*;
pub(crate) use scene::*;
pub(crate) use shadow::*;
pub(crate) use table::*;

/// Self-tests of the harness; they need neither root nor sockq.
mod selftest {
    use super::*;

    const SS61: &str = "\
State  Recv-Q Send-Q Local Address:Port  Peer Address:PortProcess
LISTEN 0      128          0.0.0.0:22         0.0.0.0:*          
ESTAB  0      0           10.0.0.1:22        10.0.0.1:36266      
";

    #[test]
    fn parse_table_reads_header_and_rows() {
        let t = parse_table(SS61);
        assert!(!t.has_netid && t.has_state);
        assert_eq!(t.rows.len(), 2);
        assert_eq!(t.rows[1].state.as_deref(), Some("ESTAB"));
        assert_eq!(t.rows[1].local, "10.0.0.1:22");
        assert_eq!(t.rows[1].peer, "10.0.0.1:36266");
        assert_eq!(t.rows[0].send_q, "128");
        assert!(t.rows[0].extra.is_empty());
    }

    #[test]
    fn parse_rows_handles_netid_unix_and_no_header() {
        let text = "tcp LISTEN 0 5 127.0.0.1:80 0.0.0.0:*\nu_str LISTEN 0 3 @x 42 * 0\n";
        let rows = parse_rows(text, true, true);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1].local, "@x 42");
        assert_eq!(rows[1].peer, "* 0");
        assert!(rows[0].is_inet() && !rows[1].is_inet());
        let bare = parse_rows("0 5 127.0.0.1:80 0.0.0.0:*\n", false, false);
        assert_eq!(bare[0].recv_q, "0");
        assert_eq!(bare[0].state, None);
    }

    #[test]
    fn compare_rows_reports_differences_and_order() {
        let a = parse_table(SS61).rows;
        let mut b = a.clone();
        assert!(compare_rows("same", "", &a, "", &b, Order::Exact).is_ok());
        b.reverse();
        assert!(compare_rows("any order", "", &a, "", &b, Order::Any).is_ok());
        let err = compare_rows("order", "", &a, "", &b, Order::Exact)
            .err()
            .unwrap_or_default();
        assert!(err.contains("different order"), "{err}");
        b[0].recv_q = "9".into();
        let err = compare_rows("diff", "", &a, "", &b, Order::Any)
            .err()
            .unwrap_or_default();
        assert!(
            err.contains("- ESTAB 0 0 10.0.0.1:22 10.0.0.1:36266"),
            "{err}"
        );
        assert!(
            err.contains("+ ESTAB 9 0 10.0.0.1:22 10.0.0.1:36266"),
            "{err}"
        );
    }

    #[test]
    fn ss61_layout_becomes_head_layout() {
        let head = "\
State  Recv-Q Send-Q Local Address:Port  Peer Address:Port
LISTEN 0      128          0.0.0.0:22         0.0.0.0:*
ESTAB  0      0           10.0.0.1:22        10.0.0.1:36266
";
        assert_eq!(ss61_to_head(SS61), head);
    }

    fn output(code: i32, stdout: &str, stderr: &str) -> Output {
        use std::os::unix::process::ExitStatusExt as _;
        Output {
            status: std::process::ExitStatus::from_raw(code << 8),
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    #[test]
    fn unprivileged_checks_accept_clean_runs_and_catch_bad_ones() {
        let table = "State Recv-Q Send-Q Local Address:Port Peer Address:Port\n";
        let root = output(0, table, "");
        let ok = |o: &Output, r: &Output| unprivileged_problems(o, r).is_empty();
        assert!(ok(
            &output(0, table, "sockq: 3 processes could not be read\n"),
            &root
        ));
        assert!(ok(
            &output(
                1,
                "",
                "sockq: entering network namespace t: Operation not permitted (os error 1)\n"
            ),
            &root
        ));
        assert!(
            !ok(
                &output(1, "", "sockq: dumping tcp: invalid argument\n"),
                &root
            ),
            "a failure root did not have needs a permission reason"
        );
        let filter_error = "sockq: bad port\nsport = :x\n        ^^\n";
        let root_usage = output(2, "", filter_error);
        assert!(ok(&output(2, "", filter_error), &root_usage));
        assert!(
            !ok(&output(1, "", filter_error), &root_usage),
            "echo lines need status 2"
        );
        assert!(!ok(
            &output(101, "", "thread 'main' panicked at x.rs:1\n"),
            &root
        ));
        assert!(!ok(&output(3, "", ""), &root));
        assert!(!ok(&output(1, "", "error: two\nlines\n"), &root));
        assert!(!ok(&output(0, "garbage\n", ""), &root), "not a table");
        let killed = {
            use std::os::unix::process::ExitStatusExt as _;
            Output {
                status: std::process::ExitStatus::from_raw(11),
                stdout: Vec::new(),
                stderr: Vec::new(),
            }
        };
        assert!(!ok(&killed, &root), "a signal death");
        let json_root = output(0, "[{\"a\":1}]", "");
        assert!(ok(&output(0, "[]", ""), &json_root));
        assert!(!ok(&output(0, "[{\"a\":", ""), &json_root), "cut JSON");
        let lines_root = output(0, "{\"a\":1}\n{\"a\":2}\n", "");
        assert!(ok(&output(0, "{\"a\":1}\n", ""), &lines_root));
        assert!(!ok(&output(0, "{\"a\":1}\n{\n", ""), &lines_root));
    }

    #[test]
    fn unprivileged_exit_codes_follow_root() {
        let root = output(0, "", "");
        let ok = |o: &Output, r: &Output| unprivileged_problems(o, r).is_empty();
        assert!(
            !ok(&output(2, "", "sockq: bad thing\n"), &root),
            "exit 2 where root exited 0 needs a permission reason"
        );
        assert!(ok(
            &output(2, "", "sockq: reading f: Permission denied\n"),
            &root
        ));
        let usage = output(2, "", "sockq: bad\n");
        assert!(
            !ok(&output(0, "", ""), &usage),
            "root's usage error must stay one"
        );
        assert!(!ok(&output(1, "", "sockq: EPERM\n"), &usage));
        assert!(ok(&output(2, "", "sockq: bad\n"), &usage));
        // -N: only an interface name, looked up inside, may fail first at entering.
        let no_dev = output(2, "", "sockq: no interface named \"x0\"\n");
        let denied = output(
            1,
            "",
            "sockq: cannot enter network namespace \"n\" (/run/netns/n): Operation not permitted\n",
        );
        assert!(ok(&denied, &no_dev));
        assert!(
            !ok(&denied, &usage),
            "a syntax error is found before entering"
        );
    }

    #[test]
    fn rows_must_match_without_privileged_options() {
        let a = |l: &str| words(l).into_iter().map(OsString::from).collect::<Vec<_>>();
        for yes in ["-tan", "-xa", "-tni sport = :80", "-s", "-tan --json"] {
            assert!(rows_must_match(&a(yes)), "{yes}");
        }
        for no in [
            "-tanp",
            "-tP",
            "-tK",
            "-N x -t",
            "--all-netns -t",
            "-t --proc",
            "-t --process-info",
            "--net=x -t",
            "-t fwmark = 1",
            "-t --sort pid",
        ] {
            assert!(!rows_must_match(&a(no)), "{no}");
        }
    }

    #[test]
    fn row_problems_tolerate_churn_but_not_lost_rows() {
        const HEAD: &str = "State Recv-Q Send-Q Local Address:Port Peer Address:Port\n";
        let table = |rows: &[&str]| output(0, &format!("{HEAD}{}", rows.join("")), "");
        let a = "LISTEN 0 5 127.0.0.1:80 0.0.0.0:*\n";
        let b = "ESTAB 0 0 127.0.0.1:80 127.0.0.1:5000\n";
        let b_queued = "ESTAB 7 0 127.0.0.1:80 127.0.0.1:5000\n";
        let c = "TIME-WAIT 0 0 127.0.0.1:81 127.0.0.1:5001\n";
        let never = || -> Output { panic!("no rerun needed") };
        // Queues aside.
        assert!(row_problems(&table(&[a, b_queued]), &table(&[a, b]), true, never).is_empty());
        // A row gone between the runs (root's rerun agrees): fine.
        let p = row_problems(&table(&[a]), &table(&[a, c]), true, || table(&[a]));
        assert!(p.is_empty(), "{p:?}");
        // A row both root runs show, missing as nobody: caught.
        let p = row_problems(&table(&[a]), &table(&[a, b]), true, || table(&[a, b]));
        assert_eq!(p.len(), 1, "{p:?}");
        // A duplicated row: caught.
        let p = row_problems(&table(&[a, a]), &table(&[a]), true, || table(&[a]));
        assert_eq!(p.len(), 1, "{p:?}");
        // A row neither root run shows, in a test namespace: caught; on the host: allowed.
        let p = row_problems(&table(&[a, c]), &table(&[a]), true, || table(&[a]));
        assert_eq!(p.len(), 1, "{p:?}");
        let p = row_problems(&table(&[a, c]), &table(&[a]), false, || table(&[a]));
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn shadow_recognises_sockq_commands_only() {
        let sq = sockq_program();
        let mut direct = Command::new(&sq);
        direct.args(["-tan"]);
        assert_eq!(
            sockq_invocation(&direct),
            Some((None, vec![OsString::from("-tan")]))
        );
        let mut inside = Command::new("ip");
        inside.args(["netns", "exec", "n1"]).arg(&sq).arg("-uan");
        assert_eq!(
            sockq_invocation(&inside),
            Some((Some("n1".to_owned()), vec![OsString::from("-uan")]))
        );
        let mut other = Command::new("ip");
        other.args(["netns", "exec", "n1", "setpriv"]).arg(&sq);
        assert_eq!(sockq_invocation(&other), None);
        assert_eq!(sockq_invocation(&Command::new("ss")), None);
        assert!(kills(&[OsString::from("-tK")]));
        assert!(kills(&[OsString::from("--kill")]));
        assert!(!kills(&[OsString::from("-K"), OsString::from("--dry-run")]));
        assert!(!kills(&[OsString::from("-tan")]));
    }

    #[test]
    fn run_captures_both_streams_and_the_status() {
        let out = run(Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]));
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
    }
}
