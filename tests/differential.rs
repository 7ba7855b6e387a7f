//! sockq against ss on the same real sockets, in a private network namespace.
//!
//! Each test builds [`Mix`] (listeners, established, half-closed, TIME-WAIT, SYN-SENT, a full
//! accept queue, connected and unconnected UDP, raw sockets) in a fresh namespace, runs
//! `ip netns exec NS ss ARGS` and `ip netns exec NS sockq ARGS`, and compares the parsed rows.
//!
//! * Only rows of the inet tables are compared. Unix, netlink and packet tables are out of
//!   scope here, and the netlink table lists each tool's own sock_diag socket.
//! * Order must match exactly: both tools send one dump request per table and family, in the
//!   same table order, and the kernel returns its hash order for both.
//! * The namespace is private, so the row set is known; sockets are per namespace for inet,
//!   unix and netlink sock_diag alike.

use crate::util::{
    Mix, Netns, Order, Row, Table, assert_no_failures, compare_rows, parse_rows, parse_table,
    root_or_skip, run, show_output, small_mix, ss61_to_head, stdout_text, subject_is_ss,
    try_parse_table, words,
};

/// Selections compared numerically (`-n`): tables, families, `-a`/`-l`, state words.
const NUMERIC_CASES: &[&str] = &[
    "-tan",
    "-tln",
    "-tn",
    "-uan",
    "-uln",
    "-un",
    "-wan",
    "-an",
    "-ln",
    "-n",
    "-4 -tan",
    "-6 -tan",
    "-4 -uan",
    "-6 -uan",
    "-4 -an",
    "-6 -an",
    "-4 -n",
    "-6 -ln",
    "-an -f inet",
    "-an -f inet6",
    "-an -A tcp,udp",
    "-an -A inet",
    "-ln -A raw",
    "-ta -n state established",
    "-tan state time-wait",
    "-tn state connected",
    "-tan exclude listening",
    "-tan state listening",
    "-tan state syn-sent",
    "-tan state fin-wait-2",
    "-tan state close-wait",
    "-tan state bucket",
    "-tan state synchronized",
    "-tan state big",
    "-tan state all",
    "-tn exclude all",
    "-tan state established state listening",
    "-tan excl established excl listening state listening",
    "-tan exclude time-wait exclude syn-sent",
    "-uan state established",
    "-uan state unconnected",
    "-un state connected",
    "-an state listening",
];

/// Selections without `-n`: ports go through /etc/services (`http`, `mdns`, `icmp`...), and
/// ephemeral ports stay numeric.
const NAMED_CASES: &[&str] = &[
    "-ta",
    "-tl",
    "-t",
    "-ua",
    "-u",
    "-wa",
    "-a",
    "-l",
    "-ta state time-wait",
    "-4 -a",
    "-6 -l",
];

/// Runs `args` under both tools in `ns` and compares their inet rows. A mismatch is retried
/// once: TIME-WAIT sockets expire after 60 s, and one could vanish between the two runs.
fn compare_in(ns: &Netns, args: &str, order: Order) -> Result<(), String> {
    compare_once(ns, args, order).or_else(|_| compare_once(ns, args, order))
}

fn compare_once(ns: &Netns, args: &str, order: Order) -> Result<(), String> {
    let ss_out = run(&mut ns.ss(words(args)));
    let sq_out = run(&mut ns.sockq(words(args)));
    if !ss_out.status.success() {
        return Err(format!(
            "ss {args} failed ({}): harness problem\n{}",
            ss_out.status,
            show_output(&ss_out)
        ));
    }
    if !sq_out.status.success() {
        return Err(format!(
            "sockq {args} failed ({})\n{}",
            sq_out.status,
            show_output(&sq_out)
        ));
    }
    let (ss_text, sq_text) = (stdout_text(&ss_out), stdout_text(&sq_out));
    let ss_table = parse_table(&ss_text);
    let sq_table = try_parse_table(&sq_text).map_err(|e| format!("sockq {args}: {e}"))?;
    same_columns(args, &ss_table, &sq_table)?;
    compare_rows(
        args,
        &ss_text,
        &inet_rows(&ss_table.rows),
        &sq_text,
        &inet_rows(&sq_table.rows),
        order,
    )
}

/// The Netid and State columns are hidden by the same rules in both tools.
fn same_columns(args: &str, ss: &Table, sockq: &Table) -> Result<(), String> {
    if (ss.has_netid, ss.has_state) == (sockq.has_netid, sockq.has_state) {
        return Ok(());
    }
    Err(format!(
        "{args}: columns differ: ss has Netid={} State={}, sockq has Netid={} State={}",
        ss.has_netid, ss.has_state, sockq.has_netid, sockq.has_state
    ))
}

fn inet_rows(rows: &[Row]) -> Vec<Row> {
    rows.iter().filter(|r| r.is_inet()).cloned().collect()
}

fn compare_cases(test: &str, cases: &[&str]) {
    if !root_or_skip(test) {
        return;
    }
    let ns = Netns::new();
    let _mix = Mix::build(&ns);
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|args| compare_in(&ns, args, Order::Exact).err())
        .collect();
    assert_no_failures(&failures);
}

#[test]
fn numeric_selections_match_ss() {
    compare_cases("numeric_selections_match_ss", NUMERIC_CASES);
}

#[test]
fn service_names_match_ss() {
    compare_cases("service_names_match_ss", NAMED_CASES);
}

/// `-H` drops the header; the rows stay the same. Columns are taken from ss's headed output.
#[test]
fn headerless_rows_match_ss() {
    if !root_or_skip("headerless_rows_match_ss") {
        return;
    }
    let ns = Netns::new();
    let _mix = Mix::build(&ns);
    let mut failures = Vec::new();
    for args in ["-tan", "-uan", "-an", "-tn state established", "-ua"] {
        let headed = parse_table(&stdout_text(&run(&mut ns.ss(words(args)))));
        let h_args = format!("-H {args}");
        let ss_text = stdout_text(&run(&mut ns.ss(words(&h_args))));
        let sq_out = run(&mut ns.sockq(words(&h_args)));
        let sq_text = stdout_text(&sq_out);
        if !sq_out.status.success() {
            failures.push(format!("sockq {h_args} failed\n{}", show_output(&sq_out)));
            continue;
        }
        if sq_text.lines().next().is_some_and(|l| l.contains("Recv-Q")) {
            failures.push(format!("sockq {h_args} printed a header:\n{sq_text}"));
            continue;
        }
        let parse = |t: &str| inet_rows(&parse_rows(t, headed.has_netid, headed.has_state));
        if let Err(e) = compare_rows(
            &h_args,
            &ss_text,
            &parse(&ss_text),
            &sq_text,
            &parse(&sq_text),
            Order::Exact,
        ) {
            failures.push(e);
        }
    }
    assert_no_failures(&failures);
}

/// `-4 -6` together: sockq lists both families, v4 then v6 (ss lists only the last one, a
/// documented deviation), so sockq's rows are ss `-4`'s rows followed by ss `-6`'s.
#[test]
fn both_families_are_the_union_of_each() {
    if !root_or_skip("both_families_are_the_union_of_each") {
        return;
    }
    if subject_is_ss() {
        println!("skipping both_families_are_the_union_of_each: checks a deviation from ss");
        return;
    }
    let ns = Netns::new();
    let _mix = Mix::build(&ns);
    let mut failures = Vec::new();
    for (table, both) in [
        ("-tan", "-4 -6 -tan"),
        ("-uan", "-6 -4 -uan"),
        ("-tln", "-4 -6 -tln"),
    ] {
        let v4 = stdout_text(&run(&mut ns.ss(words(&format!("-4 {table}")))));
        let v6 = stdout_text(&run(&mut ns.ss(words(&format!("-6 {table}")))));
        let mut expected = parse_table(&v4).rows;
        expected.extend(parse_table(&v6).rows);
        let sq_out = run(&mut ns.sockq(words(both)));
        let sq_text = stdout_text(&sq_out);
        let result = try_parse_table(&sq_text).and_then(|t| {
            let ss_text = format!("{v4}{v6}");
            compare_rows(both, &ss_text, &expected, &sq_text, &t.rows, Order::Exact)
        });
        if let Err(e) = result {
            failures.push(format!("{e}\n{}", show_output(&sq_out)));
        }
    }
    assert_no_failures(&failures);
}

/// The whole stdout, byte for byte, on a small socket set.
///
/// The installed ss is 6.1, which always has a `Process` column: its header ends in
/// `PortProcess` and every line is padded to the full width. sockq follows iproute2 HEAD, which
/// drops the column without `-p` and never pads the last column. [`ss61_to_head`] removes exactly
/// that difference (the trailing `Process` header token and trailing blanks) from ss's output;
/// sockq's output is compared unchanged.
#[test]
fn whole_output_matches_ss_byte_for_byte() {
    if !root_or_skip("whole_output_matches_ss_byte_for_byte") {
        return;
    }
    let ns = Netns::new();
    let _held = small_mix(&ns);
    let mut failures = Vec::new();
    for args in [
        "-tan",
        "-tln",
        "-Htan",
        "-tn",
        "-4 -tan",
        "-6 -tln",
        "-ta",
        "-tan state listening",
    ] {
        let expected = ss61_to_head(&stdout_text(&run(&mut ns.ss(words(args)))));
        let sq_out = run(&mut ns.sockq(words(args)));
        let actual = if subject_is_ss() {
            ss61_to_head(&stdout_text(&sq_out))
        } else {
            stdout_text(&sq_out)
        };
        if actual != expected || !sq_out.status.success() {
            failures.push(format!(
                "{args}: stdout differs ({})\n--- expected (ss, HEAD layout) ---\n{expected}\
                 --- sockq ---\n{actual}---\n{:?}\n{:?}",
                sq_out.status, expected, actual
            ));
        }
    }
    assert_no_failures(&failures);
}
