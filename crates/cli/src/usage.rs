//! Usage errors a person can act on, and the word lists behind them (also
//! used by the shell completions and the man page, so that all three agree
//! with what the parser accepts).

use clap::Command;
use std::ffi::OsString;

/// `-f` values, in the order ss documents them.
pub const FAMILIES: &[&str] = &[
    "inet", "inet6", "link", "unix", "netlink", "vsock", "tipc", "xdp",
];

/// `-A` table ids (`!` before one removes it).
pub const QUERY_IDS: &[&str] = &[
    "all",
    "inet",
    "tcp",
    "mptcp",
    "udp",
    "udplite",
    "dccp",
    "sctp",
    "raw",
    "unix",
    "unix_stream",
    "u_str",
    "unix_dgram",
    "u_dgr",
    "unix_seqpacket",
    "u_seq",
    "packet",
    "packet_raw",
    "p_raw",
    "packet_dgram",
    "p_dgr",
    "netlink",
    "tipc",
    "vsock",
    "vsock_stream",
    "v_str",
    "vsock_dgram",
    "v_dgr",
    "xdp",
];

/// State names accepted after `state` and `exclude`.
pub const STATES: &[&str] = &[
    "established",
    "syn-sent",
    "syn-recv",
    "fin-wait-1",
    "fin-wait-2",
    "time-wait",
    "closed",
    "close-wait",
    "last-ack",
    "listening",
    "closing",
    "bound-inactive",
    "unknown",
];

/// State groups, with what each one means (for the man page).
pub const STATE_GROUPS: &[(&str, &str)] = &[
    ("all", "every state"),
    ("connected", "all but listening and closed"),
    ("synchronized", "connected, except syn-sent"),
    ("bucket", "minisockets: syn-recv and time-wait"),
    ("big", "all but the bucket states"),
    ("syn-rcv", "alias of syn-recv"),
    ("unconnected", "alias of closed"),
    ("close", "alias of closed"),
];

/// Every word `state`/`exclude` accepts.
pub fn state_words() -> impl Iterator<Item = &'static str> {
    STATES
        .iter()
        .copied()
        .chain(STATE_GROUPS.iter().map(|(n, _)| *n))
}

/// `-A` with an unknown id: the message lists the valid ones.
pub fn bad_query_id(id: &str) -> String {
    format!(
        "\"{}\" is illegal socket table id (expected one of {}; `!ID` removes one)",
        crate::sanitize::escaped(id.as_bytes()),
        QUERY_IDS.join(", ")
    )
}

/// Every long option (and visible or hidden alias) of `cmd`.
fn long_names(cmd: &Command) -> Vec<String> {
    let mut v = Vec::new();
    for a in cmd.get_arguments() {
        if let Some(l) = a.get_long() {
            v.push(l.to_string());
        }
        if let Some(al) = a.get_all_aliases() {
            v.extend(al.iter().map(|s| s.to_string()));
        }
    }
    v.push("help".into());
    v
}

/// `--proc` with several long options starting with `proc`: a message that
/// names them all. clap says only "unexpected argument".
pub fn ambiguous_long(cmd: &Command, arg: &str) -> Option<String> {
    let word = arg.strip_prefix("--")?;
    let word = word.split('=').next().unwrap_or(word);
    if word.is_empty() {
        return None;
    }
    let mut hits: Vec<String> = long_names(cmd)
        .into_iter()
        .filter(|l| l.starts_with(word))
        .collect();
    hits.sort();
    hits.dedup();
    if hits.len() < 2 {
        return None;
    }
    let list: Vec<String> = hits.iter().map(|h| format!("--{h}")).collect();
    Some(format!(
        "option '--{}' is ambiguous: it could be {} (see --help)",
        crate::sanitize::escaped(word.as_bytes()),
        list.join(", ")
    ))
}

/// The closest long option to a mistyped one (`--numerc` → `--numeric`),
/// when clap had no suggestion of its own.
pub fn similar(cmd: &Command, arg: &str) -> Option<String> {
    let word = arg.strip_prefix("--")?;
    let word = word.split('=').next().unwrap_or(word);
    long_names(cmd)
        .into_iter()
        .map(|l| (edit_distance(word, &l), l))
        .filter(|(d, l)| *d <= 2.max(l.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, l)| format!("--{l}"))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev.get(j).copied().unwrap_or(0) + usize::from(ca != *cb);
            let del = prev.get(j + 1).copied().unwrap_or(0) + 1;
            let ins = cur.get(j).copied().unwrap_or(0) + 1;
            cur.push(sub.min(del).min(ins));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

/// Filter text from bytes (an argument or `-F`): UTF-8 stays as is, a
/// byte that is not UTF-8 or a control byte other than the grammar's
/// whitespace becomes `\xHH`, the filter language's spelling of a raw byte
/// (and the one sockq prints). The expression means the same, and every
/// message that quotes it (state words, filter errors and their caret line)
/// shows `\x1b`, never a raw ESC.
pub fn filter_text(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    // Backslashes just written: after an odd run, the next character is
    // escaped by the last one, which then starts the `\xHH` itself.
    let mut run = 0usize;
    let byte = |out: &mut String, run: usize, b: u8| {
        let hex = format!("x{b:02x}");
        if run % 2 == 1 {
            out.push_str(&hex);
        } else {
            out.push('\\');
            out.push_str(&hex);
        }
    };
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_ascii_control() && !matches!(c, ' ' | '\t' | '\n' | '\r') {
                byte(&mut out, run, c as u8);
                run = 0;
            } else {
                out.push(c);
                run = if c == '\\' { run + 1 } else { 0 };
            }
        }
        for &b in chunk.invalid() {
            byte(&mut out, run, b);
            run = 0;
        }
    }
    out
}

/// clap's "invalid UTF-8 was detected" names no argument: find the first
/// one that is not UTF-8 and the option it belongs to.
pub fn not_utf8(argv: &[OsString]) -> String {
    let Some(i) = argv.iter().skip(1).position(|a| a.to_str().is_none()) else {
        return "invalid UTF-8 in the arguments (see --help)".into();
    };
    let i = i + 1;
    let arg = argv[i].as_encoded_bytes();
    let shown = crate::sanitize::escaped(arg);
    // `--family=x\xff`: the option is in the same argument.
    if arg.starts_with(b"--")
        && let Some(eq) = arg.iter().position(|&b| b == b'=')
    {
        let opt = crate::sanitize::escaped(&arg[..eq]);
        let value = crate::sanitize::escaped(&arg[eq + 1..]);
        return format!(
            "the value of {opt} is not valid UTF-8: \"{value}\" (this option takes text)"
        );
    }
    let prev = argv
        .get(i - 1)
        .and_then(|p| p.to_str())
        .filter(|p| i > 1 && p.starts_with('-') && !p.contains('=') && p.len() >= 2 && *p != "--");
    match prev.map(|p| crate::sanitize::escaped(p.as_bytes())) {
        Some(opt) => {
            format!("the value of {opt} is not valid UTF-8: \"{shown}\" (this option takes text)")
        }
        None => format!("argument {i} is not valid UTF-8: \"{shown}\" (see --help)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockq_model::{Family, StateSet, TableSet};

    #[test]
    fn lists_match_the_parsers() {
        for f in FAMILIES {
            assert!(Family::parse_name(f).is_some(), "{f}");
        }
        for q in QUERY_IDS {
            assert!(TableSet::parse_query_id(q).is_some(), "{q}");
        }
        for s in state_words() {
            assert!(StateSet::parse_name(s).is_some(), "{s}");
        }
    }

    #[test]
    fn filter_text_spells_control_and_invalid_bytes() {
        assert_eq!(filter_text(b"sport = :22"), "sport = :22");
        assert_eq!(filter_text(b"a\x1b[31m\xff"), "a\\x1b[31m\\xff");
        // The grammar's whitespace stays (a -F file has lines).
        assert_eq!(filter_text(b"a\tb\nc\r"), "a\tb\nc\r");
        // `\ESC` was the escaped ESC: still one byte, `\x1b`.
        assert_eq!(filter_text(b"a\\\x1b"), "a\\x1b");
        assert_eq!(filter_text(b"a\\\\\x1b"), "a\\\\\\x1b");
        assert_eq!(filter_text(b"a\\\xff"), "a\\xff");
    }

    #[test]
    fn usage_messages_escape_what_was_typed() {
        use clap::CommandFactory;
        let cmd = crate::args::Args::command();
        let m = ambiguous_long(&cmd, "--proc\x1b").unwrap_or_default();
        assert!(!m.contains('\x1b'), "{m}");
        let m = bad_query_id("x\x1b[31m");
        assert!(m.starts_with("\"x\\x1b[31m\""), "{m}");
        let argv: Vec<OsString> = ["sockq", "-f", "in\x1b"].map(OsString::from).to_vec();
        assert!(!not_utf8(&argv).contains('\x1b'));
    }

    #[test]
    fn ambiguity_and_suggestions() {
        use clap::CommandFactory;
        let cmd = crate::args::Args::command();
        let m = ambiguous_long(&cmd, "--proc").unwrap_or_default();
        assert!(
            m.contains("--processes") && m.contains("--process-info"),
            "{m}"
        );
        assert_eq!(ambiguous_long(&cmd, "--numeric"), None);
        assert_eq!(similar(&cmd, "--numerc").as_deref(), Some("--numeric"));
        assert_eq!(similar(&cmd, "--zzzzzzzz"), None);
    }
}
