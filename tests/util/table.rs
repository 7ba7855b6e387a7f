//! ss-style tables: parsing rows and comparing two outputs with a readable diff.

use std::fmt::Write as _;

/// One row of an ss-style table, split on whitespace.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Row {
    /// The Netid column, when shown.
    pub(crate) netid: Option<String>,
    /// The State column, when shown.
    pub(crate) state: Option<String>,
    /// Recv-Q.
    pub(crate) recv_q: String,
    /// Send-Q.
    pub(crate) send_q: String,
    /// `Local Address:Port` as one token (unix rows: `NAME INODE`).
    pub(crate) local: String,
    /// `Peer Address:Port` as one token (unix rows: `* INODE`).
    pub(crate) peer: String,
    /// Any further tokens (process or extended information).
    pub(crate) extra: Vec<String>,
}

impl Row {
    /// The row as one line, single-spaced, for diffs.
    pub(crate) fn line(&self) -> String {
        let mut s = String::new();
        for t in [&self.netid, &self.state].into_iter().flatten() {
            s.push_str(t);
            s.push(' ');
        }
        let _ = write!(
            s,
            "{} {} {} {}",
            self.recv_q, self.send_q, self.local, self.peer
        );
        for t in &self.extra {
            s.push(' ');
            s.push_str(t);
        }
        s
    }

    /// True for rows of the inet tables (the tables sockq's differential tests cover).
    pub(crate) fn is_inet(&self) -> bool {
        const INET: [&str; 8] = ["tcp", "udp", "raw", "icmp6", "mptcp", "sctp", "dccp", "???"];
        self.netid.as_deref().is_none_or(|n| INET.contains(&n))
    }
}

/// A parsed table: which optional columns its header showed, and its rows.
#[derive(Debug)]
pub(crate) struct Table {
    /// The header showed a Netid column.
    pub(crate) has_netid: bool,
    /// The header showed a State column.
    pub(crate) has_state: bool,
    /// The data rows, in output order.
    pub(crate) rows: Vec<Row>,
}

/// Parses output that starts with a header line, taking the optional columns from the header.
/// Panics if the first line is not a header (use [`try_parse_table`] on the tool under test).
pub(crate) fn parse_table(stdout: &str) -> Table {
    try_parse_table(stdout).unwrap_or_else(|e| panic!("{e}"))
}

/// Like [`parse_table`], but a missing header is an error message instead of a panic.
pub(crate) fn try_parse_table(stdout: &str) -> Result<Table, String> {
    let header = stdout.lines().next().unwrap_or_default();
    let tokens: Vec<&str> = header.split_whitespace().collect();
    if !tokens.contains(&"Recv-Q") {
        return Err(format!("expected a header line, got {header:?}\n{stdout}"));
    }
    let has_netid = tokens.first() == Some(&"Netid");
    let has_state = tokens.contains(&"State");
    Ok(Table {
        has_netid,
        has_state,
        rows: parse_rows(stdout, has_netid, has_state),
    })
}

/// Splits ss-style rows on whitespace. A header line, if present, is skipped. Unix rows
/// (Netid `u_*`) take two tokens per endpoint.
pub(crate) fn parse_rows(stdout: &str, has_netid: bool, has_state: bool) -> Vec<Row> {
    let mut rows = Vec::new();
    for line in stdout.lines() {
        let mut t = line.split_whitespace().map(str::to_owned);
        let netid = if has_netid { t.next() } else { None };
        if matches!(netid.as_deref(), Some("Netid"))
            || (!has_netid && line.split_whitespace().any(|w| w == "Recv-Q"))
        {
            continue; // the header
        }
        let state = if has_state { t.next() } else { None };
        let two = netid.as_deref().is_some_and(|n| n.starts_with("u_"));
        let endpoint = |t: &mut dyn Iterator<Item = String>| {
            let first = t.next().unwrap_or_default();
            if two {
                format!("{first} {}", t.next().unwrap_or_default())
            } else {
                first
            }
        };
        let recv_q = t.next().unwrap_or_default();
        let send_q = t.next().unwrap_or_default();
        let local = endpoint(&mut t);
        let peer = endpoint(&mut t);
        if recv_q.is_empty() && netid.is_none() {
            continue; // a blank line
        }
        rows.push(Row {
            netid,
            state,
            recv_q,
            send_q,
            local,
            peer,
            extra: t.collect(),
        });
    }
    rows
}

/// How strictly [`compare_rows`] treats row order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Order {
    /// Same rows in the same order (both tools print one dump per table in kernel order).
    Exact,
    /// Same rows as multisets.
    Any,
}

/// Compares the rows of ss's and sockq's outputs. On a mismatch returns a message with the
/// rows only one side has and both complete outputs.
pub(crate) fn compare_rows(
    what: &str,
    ss_out: &str,
    ss_rows: &[Row],
    sockq_out: &str,
    sockq_rows: &[Row],
    order: Order,
) -> Result<(), String> {
    let mut a = ss_rows.to_vec();
    let mut b = sockq_rows.to_vec();
    a.sort();
    b.sort();
    let problem = if a != b {
        let mut msg = String::from("rows differ (- only ss, + only sockq):\n");
        for r in multiset_minus(&a, &b) {
            let _ = writeln!(msg, "- {}", r.line());
        }
        for r in multiset_minus(&b, &a) {
            let _ = writeln!(msg, "+ {}", r.line());
        }
        msg
    } else if order == Order::Exact && ss_rows != sockq_rows {
        String::from("same rows, different order\n")
    } else {
        return Ok(());
    };
    Err(format!(
        "{what}: {problem}--- ss ---\n{ss_out}--- sockq ---\n{sockq_out}-----------"
    ))
}

/// The rows of `a` not matched one-for-one by rows of `b` (both sorted).
pub(crate) fn multiset_minus<'a>(a: &'a [Row], b: &[Row]) -> Vec<&'a Row> {
    let mut rest = b.to_vec();
    a.iter()
        .filter(|r| match rest.iter().position(|x| x == *r) {
            Some(i) => {
                rest.remove(i);
                false
            }
            None => true,
        })
        .collect()
}

/// Panics with every message in `failures`, or does nothing if it is empty.
pub(crate) fn assert_no_failures(failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// ss 6.1's layout turned into HEAD's, which sockq follows: 6.1 always has a `Process` column
/// (a `Process` header token glued to `Port`, and padding on every line), while HEAD drops it
/// without `-p` and never pads the last column. Trimming each line and the header's trailing
/// `Process` gives HEAD's bytes when the Process column is empty.
pub(crate) fn ss61_to_head(stdout: &str) -> String {
    let mut out = String::with_capacity(stdout.len());
    for (i, line) in stdout.lines().enumerate() {
        let mut line = line.trim_end();
        if i == 0 && line.contains("Recv-Q") {
            line = line.strip_suffix("Process").unwrap_or(line).trim_end();
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// The process blocks of `-P` output, each with its lines.
pub(crate) fn blocks_in(out: &str) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for l in out.lines() {
        if l.starts_with("\tprocess ") {
            v.push(format!("{l}\n"));
        } else if l.starts_with("\t  ")
            && let Some(b) = v.last_mut()
        {
            b.push_str(l);
            b.push('\n');
        }
    }
    v
}
