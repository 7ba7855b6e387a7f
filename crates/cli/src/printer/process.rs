//! Formatting of process ownership: the `users:((...))` field (`-p`, `-T`)
//! and the escaping of process names. Pure formatting into a
//! byte buffer; the data comes from `sockq_proc`.
//!
//! # Escaping
//!
//! Names come from other processes and may contain anything: every one
//! goes through [`crate::sanitize::escape_bytes`], the terminal's one
//! escaping function (valid UTF-8 is kept, unlike ss, which turns every
//! non-ASCII byte into `?`; `"` and `\` are escaped, so `("name",…)`
//! always parses back).
//!
//! The process-info blocks of `-P` are in `printer::blocks`.

use crate::sanitize::escape_bytes;
use sockq_model::Owner;
use std::io::Write;

/// Appends ` users:(("comm",pid=P,fd=F),…)` exactly as ss prints it (with
/// `threads`: `("comm",pid=P,tid=T,fd=F)`), in the given order. Nothing is
/// written when there are no owners, as with ss.
pub fn write_users(out: &mut Vec<u8>, owners: &[Owner], threads: bool) {
    if owners.is_empty() {
        return;
    }
    out.extend_from_slice(b" users:(");
    for (i, o) in owners.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(b"(\"");
        escape_bytes(out, o.comm.as_bytes());
        let _ = write!(out, "\",pid={}", o.pid);
        if threads {
            let _ = write!(out, ",tid={}", o.tid.unwrap_or(o.pid));
        }
        let _ = write!(out, ",fd={})", o.fd);
    }
    out.push(b')');
}

#[cfg(test)]
mod tests {
    use super::*;
    use sockq_model::Comm;

    fn esc(raw: &[u8]) -> String {
        let mut out = Vec::new();
        escape_bytes(&mut out, raw);
        String::from_utf8(out).unwrap_or_default()
    }

    fn owner(comm: &[u8], pid: u32, tid: Option<u32>, fd: u32) -> Owner {
        Owner {
            comm: Comm::new(comm),
            pid,
            tid,
            fd,
        }
    }

    #[test]
    fn escapes_hostile_names() {
        assert_eq!(esc(b"nginx"), "nginx");
        assert_eq!(esc(b"a)b"), "a)b");
        assert_eq!(esc(b"a\"b"), "a\\\"b");
        assert_eq!(esc(b"a\\b"), "a\\\\b");
        assert_eq!(esc(b"x\ny"), "x\\x0ay");
        assert_eq!(esc(b"\x1b[31mred"), "\\x1b[31mred");
        assert_eq!(esc(b"nul\0del\x7f"), "nul\\x00del\\x7f");
        // Valid UTF-8 is kept (ss prints "caf??").
        assert_eq!(esc("café→日本".as_bytes()), "café→日本");
        // Bidi override, isolate, mark; C1 control; line separator.
        assert_eq!(esc("a\u{202e}b".as_bytes()), "a\\u{202e}b");
        assert_eq!(esc("\u{2066}x\u{2069}".as_bytes()), "\\u{2066}x\\u{2069}");
        assert_eq!(esc("\u{200f}".as_bytes()), "\\u{200f}");
        assert_eq!(esc("\u{85}".as_bytes()), "\\u{0085}");
        assert_eq!(esc("\u{2028}".as_bytes()), "\\u{2028}");
        // Invalid UTF-8 bytes.
        assert_eq!(esc(b"x\xffy\xc3"), "x\\xffy\\xc3");
        assert_eq!(esc(b"x\x01y\xc3\xa9)z"), "x\\x01yé)z");
    }

    #[test]
    fn users_like_ss() {
        let mut out = Vec::new();
        write_users(
            &mut out,
            &[
                owner(b"nginx", 1161, None, 6),
                owner(b"nginx", 1160, None, 6),
            ],
            false,
        );
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            " users:((\"nginx\",pid=1161,fd=6),(\"nginx\",pid=1160,fd=6))"
        );

        let mut out = Vec::new();
        write_users(
            &mut out,
            &[
                owner(b"python3", 12297, Some(12349), 4),
                owner(b"python3", 12297, Some(12297), 4),
            ],
            true,
        );
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            " users:((\"python3\",pid=12297,tid=12349,fd=4),(\"python3\",pid=12297,tid=12297,fd=4))"
        );

        let mut out = Vec::new();
        write_users(&mut out, &[], false);
        assert!(out.is_empty());

        // A hostile name cannot close the quote or the list.
        let mut out = Vec::new();
        write_users(&mut out, &[owner(b"x\",pid=1,fd=2))\n", 7, None, 3)], false);
        assert_eq!(
            String::from_utf8(out).unwrap_or_default(),
            " users:((\"x\\\",pid=1,fd=2))\\x0a\",pid=7,fd=3))"
        );
    }
}
