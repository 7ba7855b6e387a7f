//! Benchmark command strings: shell-like splitting and the `:P` placeholder.

use crate::error::BenchError;

/// The commands timed by default (both tools get the same arguments).
pub const DEFAULT_COMMANDS: &[&str] = &[
    "-tan",
    "-tanp",
    "-tanoie",
    "-tn state established '( sport = :P )'",
    "-tln",
    "--json -tan",
];

/// Splits `s` like a POSIX shell would for plain words, '…' and "…".
pub fn split(s: &str) -> Result<Vec<String>, BenchError> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(unclosed(s)),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err(unclosed(s)),
                        },
                        Some(c) => cur.push(c),
                        None => return Err(unclosed(s)),
                    }
                }
            }
            '\\' => {
                in_word = true;
                if let Some(c) = chars.next() {
                    cur.push(c);
                }
            }
            c if c.is_whitespace() => {
                if in_word {
                    out.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        out.push(cur);
    }
    Ok(out)
}

fn unclosed(s: &str) -> BenchError {
    BenchError::Usage(format!("unclosed quote in command {s:?}"))
}

/// Replaces each `:P` not followed by a letter or digit with `:port`.
pub fn substitute_port(s: &str, port: u16) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut rest = s;
    while let Some(i) = rest.find(":P") {
        let (before, after) = rest.split_at(i);
        let tail = after.get(2..).unwrap_or("");
        out.push_str(before);
        if tail.chars().next().is_some_and(|c| c.is_alphanumeric()) {
            out.push_str(":P");
        } else {
            out.push(':');
            out.push_str(&port.to_string());
        }
        rest = tail;
    }
    out.push_str(rest);
    out
}

/// Output flags ss lacks: such a command is compared with its text twin.
const OTHER_FORMATS: [&str; 3] = ["--json", "-j", "--metrics"];

/// Is this the JSON (or `--metrics`) form of a command (ss has neither)?
pub fn is_json(args: &[String]) -> bool {
    args.iter().any(|a| OTHER_FORMATS.contains(&a.as_str()))
}

/// The same arguments without the JSON or metrics flag: the text twin to
/// compare with.
pub fn text_twin(args: &[String]) -> Vec<String> {
    args.iter()
        .filter(|a| !OTHER_FORMATS.contains(&a.as_str()))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_quotes() -> Result<(), BenchError> {
        assert_eq!(
            split("-tn state established '( sport = :443 )'")?,
            ["-tn", "state", "established", "( sport = :443 )"]
        );
        assert_eq!(
            split(r#"a "b \"c\"" d\ e ''"#)?,
            ["a", "b \"c\"", "d e", ""]
        );
        assert!(split("'open").is_err());
        Ok(())
    }

    #[test]
    fn port_placeholder() {
        assert_eq!(substitute_port("( sport = :P )", 443), "( sport = :443 )");
        assert_eq!(substitute_port("dport = :P", 80), "dport = :80");
        assert_eq!(substitute_port(":Pq", 80), ":Pq");
    }

    #[test]
    fn json_twin() {
        let a: Vec<String> = ["--json", "-tan"].map(String::from).to_vec();
        assert!(is_json(&a));
        assert_eq!(text_twin(&a), ["-tan"]);
    }
}
