//! The two escaping functions: every string taken from the system (unix
//! paths, abstract names, comm, command lines, exe, cwd, file names, cgroup
//! paths, interface names, `-r` host names) goes through [`escape_bytes`]
//! before it reaches a terminal, or through [`json_str`] before it goes
//! into a JSON document. Nothing else escapes, so a field cannot be spelled
//! two ways.
//!
//! # Terminal
//!
//! Printable UTF-8 is kept. Then:
//!
//! * `\` and `"` become `\\` and `\"` (so `users:(("comm",…))` always
//!   parses back);
//! * control bytes (0x00-0x1f, 0x7f) and bytes that are not UTF-8 become
//!   `\xNN` (lowercase hex): ESC is `\x1b`, a newline `\x0a`;
//! * C1 controls (U+0080-U+009F) and invisible characters that reorder or
//!   hide text (bidi marks, embeddings, overrides and isolates, U+2028 and
//!   U+2029, zero-width characters, the BOM) become `\u{NNNN}`.
//!
//! One spelling, `\xNN`, for every byte, rather than `\n`/`\e` for some:
//! it is unambiguous for all 256 bytes, and the filter language reads
//! `\xNN` and `\u{NNNN}` back (`\"` and `\\` too), so any name sockq
//! prints can be pasted as a filter value and selects the same socket.
//!
//! # JSON
//!
//! RFC 8259 escapes (`\"`, `\\`, `\n`, `\r`, `\t`), `\u00NN` for the other
//! control characters, and `\uNNNN` for C1 controls and the same invisible
//! characters as the terminal (raw U+2028/U+2029 break JavaScript parsers;
//! the others would reorder or hide text in a log viewer). JSON strings are
//! Unicode: a byte that is not UTF-8 becomes U+FFFD.

use std::io::Write as _;

/// Characters that change how the text around them is shown, while
/// showing nothing themselves; escaped by both outputs.
pub fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{80}'..='\u{9f}'     // C1 controls
        | '\u{ad}'              // soft hyphen
        | '\u{61c}'             // Arabic letter mark
        | '\u{180e}'            // Mongolian vowel separator
        | '\u{200b}'..='\u{200f}' // zero-width space/joiners, LRM, RLM
        | '\u{2028}'..='\u{202e}' // line/paragraph separators, embeddings, overrides
        | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
        | '\u{2066}'..='\u{206f}' // isolates, deprecated format characters
        | '\u{feff}'            // zero-width no-break space (BOM)
        | '\u{fff9}'..='\u{fffb}' // interlinear annotation
    )
}

/// Appends `raw`, escaped for a terminal (see the module docs).
pub fn escape_bytes(out: &mut Vec<u8>, raw: &[u8]) {
    // Fast path: plain printable ASCII without `\` or `"`.
    if raw
        .iter()
        .all(|&b| (0x20..0x7f).contains(&b) && b != b'\\' && b != b'"')
    {
        out.extend_from_slice(raw);
        return;
    }
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\\' => out.extend_from_slice(b"\\\\"),
                '"' => out.extend_from_slice(b"\\\""),
                c if c.is_ascii_control() => hex(out, c as u8),
                c if is_invisible(c) => {
                    let _ = write!(out, "\\u{{{:04x}}}", c as u32);
                }
                c => {
                    let mut b = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                }
            }
        }
        for &b in chunk.invalid() {
            hex(out, b);
        }
    }
}

fn hex(out: &mut Vec<u8>, b: u8) {
    const H: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(&[b'\\', b'x', H[usize::from(b >> 4)], H[usize::from(b & 15)]]);
}

/// `escape_bytes` into a new string.
pub fn escaped(raw: &[u8]) -> String {
    let mut v = Vec::with_capacity(raw.len());
    escape_bytes(&mut v, raw);
    String::from_utf8(v).unwrap_or_default()
}

/// Appends `raw` as a JSON string, quotes included (see the module docs).
pub fn json_str(out: &mut Vec<u8>, raw: &[u8]) {
    out.push(b'"');
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '"' => out.extend_from_slice(b"\\\""),
                '\\' => out.extend_from_slice(b"\\\\"),
                '\n' => out.extend_from_slice(b"\\n"),
                '\r' => out.extend_from_slice(b"\\r"),
                '\t' => out.extend_from_slice(b"\\t"),
                c if c.is_ascii_control() || is_invisible(c) => {
                    let _ = write!(out, "\\u{:04x}", c as u32);
                }
                c => {
                    let mut b = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
                }
            }
        }
        if !chunk.invalid().is_empty() {
            out.extend_from_slice("\u{fffd}".as_bytes());
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(raw: &[u8]) -> String {
        let mut v = Vec::new();
        json_str(&mut v, raw);
        String::from_utf8(v).unwrap_or_default()
    }

    #[test]
    fn terminal_spelling() {
        assert_eq!(escaped(b"/run/x.sock"), "/run/x.sock");
        assert_eq!(escaped(b"a\nb\x1b[31mc\td"), "a\\x0ab\\x1b[31mc\\x09d");
        assert_eq!(escaped("x\u{202e}y".as_bytes()), "x\\u{202e}y");
        assert_eq!(
            escaped("a\u{2028}b\u{200b}c\u{85}".as_bytes()),
            "a\\u{2028}b\\u{200b}c\\u{0085}"
        );
        assert_eq!(escaped("caf\u{e9}".as_bytes()), "caf\u{e9}");
        assert_eq!(escaped(b"a\xffb"), "a\\xffb");
        assert_eq!(escaped(b"back\\slash \"q\""), "back\\\\slash \\\"q\\\"");
    }

    #[test]
    fn json_spelling() {
        assert_eq!(json(b"a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
        assert_eq!(json(b"\x1b[1m\x7f"), "\"\\u001b[1m\\u007f\"");
        assert_eq!(
            json("\u{85}\u{2028}\u{2029}\u{200b}\u{202e}\u{feff}".as_bytes()),
            "\"\\u0085\\u2028\\u2029\\u200b\\u202e\\ufeff\""
        );
        assert_eq!(json(b"a\xff\xfeb"), "\"a\u{fffd}\u{fffd}b\"");
        assert_eq!(json("caf\u{e9}".as_bytes()), "\"caf\u{e9}\"");
    }
}
