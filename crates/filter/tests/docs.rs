//! Runs the examples of docs/filter-language.md: `` `EXPR` --> matches: NAMES ``
//! and `` `EXPR` --> error: TEXT ``.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{TestEnv, expand, fixtures, matching};
use sockq_filter::{compile, parse};

#[test]
fn docs_examples_hold() {
    let doc = include_str!("../../../docs/filter-language.md");
    let set = fixtures();
    let mut checked = 0;
    let mut failures = Vec::new();
    for line in doc.lines().map(str::trim) {
        let Some(rest) = line.strip_prefix('`') else {
            continue;
        };
        let Some((expr, claim)) = rest.split_once("` --> ") else {
            continue;
        };
        checked += 1;
        let result = parse(expr)
            .map_err(|e| e.to_string())
            .and_then(|e| compile(&e, &TestEnv::default()).map_err(|e| e.to_string()));
        if let Some(names) = claim.strip_prefix("matches: ") {
            match result {
                Ok(f) => {
                    let want = expand(names, &set);
                    let got = matching(&f, &set);
                    if got != want {
                        failures.push(format!("{expr}: want {want:?}, got {got:?}"));
                    }
                }
                Err(e) => failures.push(format!("{expr}: {e}")),
            }
        } else if let Some(text) = claim.strip_prefix("error: ") {
            match result {
                Err(e) if e.contains(text) => {}
                Err(e) => failures.push(format!("{expr}: error {e:?} lacks {text:?}")),
                Ok(_) => failures.push(format!("{expr}: accepted")),
            }
        } else {
            failures.push(format!("{expr}: cannot read claim {claim:?}"));
        }
    }
    assert!(checked >= 40, "only {checked} examples found");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
