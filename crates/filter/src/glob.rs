//! fnmatch-like globs (`*`, `?`, `[...]`, `\x`), matched without allocating.

/// A compiled glob.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    pat: Vec<u8>,
    fold: bool,
}

/// A name to match, without building it: unix abstract names are shown as
/// `@` plus the bytes with NULs turned into `@`.
#[derive(Clone, Copy)]
pub(crate) enum Subject<'a> {
    Plain(&'a [u8]),
    Abstract(&'a [u8]),
}

impl Subject<'_> {
    fn len(self) -> usize {
        match self {
            Subject::Plain(b) => b.len(),
            Subject::Abstract(b) => b.len() + 1,
        }
    }

    fn at(self, i: usize) -> u8 {
        match self {
            Subject::Plain(b) => b.get(i).copied().unwrap_or(0),
            Subject::Abstract(b) => match i.checked_sub(1) {
                None => b'@',
                Some(j) => match b.get(j).copied().unwrap_or(0) {
                    0 => b'@',
                    c => c,
                },
            },
        }
    }
}

/// Where the bytes 0x80..=0xFF of a value written `\xHH` live inside a
/// `String`: plane 16's last private-use characters (no name uses them).
const BYTE_BASE: u32 = 0x10_ff00;

/// The char that stands for `byte` in a parsed value (ASCII stays ASCII).
pub(crate) fn byte_char(byte: u8) -> char {
    if byte.is_ascii() {
        char::from(byte)
    } else {
        char::from_u32(BYTE_BASE + u32::from(byte)).unwrap_or(char::REPLACEMENT_CHARACTER)
    }
}

/// The raw bytes a parsed value stands for: [`byte_char`] undone.
pub fn value_bytes(v: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(v.len());
    for c in v.chars() {
        match u32::from(c).checked_sub(BYTE_BASE + 0x80) {
            Some(b) if b < 0x80 => out.push((b + 0x80) as u8),
            _ => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    out
}

/// A parsed value for a message: the bytes of [`byte_char`] as `\xHH`.
pub(crate) fn show_bytes(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match u32::from(c).checked_sub(BYTE_BASE + 0x80) {
            Some(b) if b < 0x80 => out.push_str(&format!("\\x{:02x}", b + 0x80)),
            _ => out.push(c),
        }
    }
    out
}

impl Glob {
    /// A glob; `fold` makes it ASCII case-insensitive (ss's `FNM_CASEFOLD`).
    /// Bytes written `\xHH` in the expression are matched as raw bytes.
    pub fn new(pattern: &str, fold: bool) -> Glob {
        Glob {
            pat: value_bytes(pattern),
            fold,
        }
    }

    /// The pattern text.
    pub fn pattern(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.pat)
    }

    /// Whether `name` matches the whole pattern.
    pub fn matches(&self, name: &[u8]) -> bool {
        self.matches_subject(Subject::Plain(name))
    }

    fn eq(&self, a: u8, b: u8) -> bool {
        if self.fold {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    }

    /// Matches one `[...]` class at `p` (just after `[`) against `c`.
    /// Returns whether it matched and where the pattern continues, or None
    /// when the class is not closed (then `[` is a literal, as in fnmatch).
    fn class(&self, mut p: usize, c: u8) -> Option<(bool, usize)> {
        let pat = &self.pat;
        let negate = matches!(pat.get(p), Some(b'!') | Some(b'^'));
        if negate {
            p += 1;
        }
        let mut hit = false;
        let mut first = true;
        loop {
            let mut lo = *pat.get(p)?;
            if lo == b']' && !first {
                return Some((hit != negate, p + 1));
            }
            first = false;
            if lo == b'\\' {
                p += 1;
                lo = *pat.get(p)?;
            }
            p += 1;
            let mut hi = lo;
            if pat.get(p) == Some(&b'-') && pat.get(p + 1).is_some_and(|&b| b != b']') {
                hi = *pat.get(p + 1)?;
                p += 2;
                if hi == b'\\' {
                    hi = *pat.get(p)?;
                    p += 1;
                }
            }
            let in_range = |x: u8| lo <= x && x <= hi;
            if in_range(c)
                || (self.fold
                    && (in_range(c.to_ascii_lowercase()) || in_range(c.to_ascii_uppercase())))
            {
                hit = true;
            }
        }
    }

    pub(crate) fn matches_subject(&self, s: Subject<'_>) -> bool {
        let pat = &self.pat;
        let (mut p, mut i) = (0usize, 0usize);
        // Where to resume after the last `*`: (pattern index after it, subject index).
        let mut star: Option<(usize, usize)> = None;
        let n = s.len();
        loop {
            if p < pat.len() || i < n {
                let step = match pat.get(p) {
                    Some(b'*') => {
                        star = Some((p + 1, i));
                        p += 1;
                        continue;
                    }
                    Some(_) if i >= n => None,
                    Some(b'?') => Some(p + 1),
                    Some(b'[') => match self.class(p + 1, s.at(i)) {
                        Some((true, next)) => Some(next),
                        Some((false, _)) => None,
                        None => self.eq(b'[', s.at(i)).then_some(p + 1),
                    },
                    // `\` quotes a glob character only: before anything else it
                    // is a backslash of the name (sockq prints one as `\\`,
                    // which the expression has already turned into `\`).
                    Some(b'\\')
                        if pat
                            .get(p + 1)
                            .is_some_and(|c| matches!(c, b'*' | b'?' | b'[' | b']' | b'\\')) =>
                    {
                        let lit = pat.get(p + 1).copied().unwrap_or(0);
                        self.eq(lit, s.at(i)).then_some(p + 2)
                    }
                    Some(&c) => self.eq(c, s.at(i)).then_some(p + 1),
                    None => None,
                };
                match step {
                    Some(np) => {
                        p = np;
                        i += 1;
                    }
                    None => match star {
                        Some((sp, si)) if si < n => {
                            star = Some((sp, si + 1));
                            p = sp;
                            i = si + 1;
                        }
                        _ => return false,
                    },
                }
            } else {
                return true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        Glob::new(p, true).matches(s.as_bytes())
    }

    #[test]
    fn basics() {
        assert!(m("*", ""));
        assert!(m("/run/*", "/run/a/b.sock"));
        assert!(m("*DEMO*", "/tmp/demo1.sock"));
        assert!(!Glob::new("*DEMO*", false).matches(b"/tmp/demo1.sock"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("[a-c]x", "Bx"));
        assert!(m("[!a-c]x", "dx"));
        assert!(!m("[!a-c]x", "ax"));
        assert!(m("[]]", "]"));
        assert!(m("a\\*", "a*"));
        assert!(!m("a\\*", "ab"));
        assert!(m("[abc", "[abc"));
        assert!(m("*a*b*c", "xxaxxbxxc"));
        assert!(!m("*a*b*c", "xxaxxbxx"));
    }

    #[test]
    fn abstract_names() {
        let g = Glob::new("@foo*", true);
        assert!(g.matches_subject(Subject::Abstract(b"foo\0bar")));
        let g = Glob::new("@foo@bar", true);
        assert!(g.matches_subject(Subject::Abstract(b"foo\0bar")));
        assert!(!g.matches_subject(Subject::Plain(b"foo\0bar")));
    }
}
