//! Terminal safety: every name taken from the system (unix paths, abstract
//! names, comm, cmdline, cgroup paths, file names) goes through here before
//! it is printed, so that a hostile name cannot move the cursor, change
//! colours or reorder text.
//!
//! Printable UTF-8 is kept as is. Control characters become `\n`, `\t`,
//! `\e` or `\xNN`, bidirectional overrides and isolates become `\u{NNNN}`,
//! bytes that are not UTF-8 become `\xNN`, and `\` becomes `\\`.

/// Appends `raw`, escaped for a terminal.
pub fn escape_bytes(out: &mut Vec<u8>, raw: &[u8]) {
    // Fast path: plain printable ASCII without a backslash.
    if raw.iter().all(|&b| (0x20..0x7f).contains(&b) && b != b'\\') {
        out.extend_from_slice(raw);
        return;
    }
    let mut rest = raw;
    while !rest.is_empty() {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                escape_str(out, s);
                return;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                escape_str(out, std::str::from_utf8(good).unwrap_or(""));
                let n = e.error_len().unwrap_or(bad.len()).max(1).min(bad.len());
                for b in &bad[..n] {
                    hex(out, *b);
                }
                rest = &bad[n..];
            }
        }
    }
}

fn hex(out: &mut Vec<u8>, b: u8) {
    const H: &[u8; 16] = b"0123456789abcdef";
    out.extend_from_slice(&[b'\\', b'x', H[usize::from(b >> 4)], H[usize::from(b & 15)]]);
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}')
}

fn escape_str(out: &mut Vec<u8>, s: &str) {
    for c in s.chars() {
        match c {
            '\\' => out.extend_from_slice(b"\\\\"),
            '\n' => out.extend_from_slice(b"\\n"),
            '\t' => out.extend_from_slice(b"\\t"),
            '\r' => out.extend_from_slice(b"\\r"),
            '\x1b' => out.extend_from_slice(b"\\e"),
            c if (c as u32) < 0x20 || c == '\x7f' => hex(out, c as u8),
            c if ('\u{80}'..='\u{9f}').contains(&c) || is_bidi(c) => {
                out.extend_from_slice(format!("\\u{{{:04x}}}", c as u32).as_bytes());
            }
            c => {
                let mut b = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
}

/// `escape_bytes` into a new string.
pub fn escaped(raw: &[u8]) -> String {
    let mut v = Vec::with_capacity(raw.len());
    escape_bytes(&mut v, raw);
    String::from_utf8(v).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_hostile_names() {
        assert_eq!(escaped(b"/run/x.sock"), "/run/x.sock");
        assert_eq!(escaped(b"a\nb\x1b[31mc"), "a\\nb\\e[31mc");
        assert_eq!(escaped("x\u{202e}y".as_bytes()), "x\\u{202e}y");
        assert_eq!(escaped("caf\u{e9}".as_bytes()), "caf\u{e9}");
        assert_eq!(escaped(b"a\xffb"), "a\\xffb");
        assert_eq!(escaped(b"back\\slash"), "back\\\\slash");
    }
}
