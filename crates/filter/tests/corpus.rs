//! Replays the saved fuzz corpus (`fuzz/corpus-seed/filter`) through parse,
//! compile, matching, bytecode audit and explain, as the `filter` fuzz target
//! does: this is what CI runs when cargo-fuzz is not installed. Also holds
//! the regression tests for what fuzzing and the bad-input table found.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{TestEnv, fixtures};
use sockq_filter::{bytecode, compile, parse, render_error};
use std::path::Path;
use std::time::{Duration, Instant};

#[test]
fn filter_corpus_replays_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus-seed/filter");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(
        (1..=200).contains(&files.len()),
        "{} files in {}",
        files.len(),
        dir.display()
    );
    let env = TestEnv::default();
    let set = fixtures();
    let (mut parsed, mut compiled) = (0, 0);
    for path in &files {
        let data = std::fs::read(path).unwrap();
        let Ok(src) = std::str::from_utf8(&data) else {
            continue;
        };
        let start = Instant::now();
        let short = |span: std::ops::Range<usize>, msg: String| {
            let text = render_error(src, span, &msg);
            assert!(
                text.chars().count() < 1200,
                "{}: long error",
                path.display()
            );
        };
        let expr = match parse(src) {
            Ok(e) => e,
            Err(e) => {
                short(e.span.clone(), e.to_string());
                continue;
            }
        };
        parsed += 1;
        let filter = match compile(&expr, &env) {
            Ok(f) => f,
            Err(e) => {
                short(e.span.clone(), e.to_string());
                continue;
            }
        };
        compiled += 1;
        for f in &set {
            let _ = filter.matches(&f.socket, &f.owners);
        }
        if let Some(bc) = filter.bytecode()
            && let Err(e) = bytecode::audit(&bc)
        {
            panic!(
                "{}: {src:?} compiles to bytecode that fails the audit: {e}\n{}",
                path.display(),
                bytecode::disassemble(&bc)
            );
        }
        let _ = filter.explain();
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{}: {src:?} took {:?}",
            path.display(),
            start.elapsed()
        );
    }
    assert!(
        parsed > 0 && compiled > 0,
        "{parsed} parsed, {compiled} compiled"
    );
}

/// Found by the bad-input table: a port above 65535 after a real address
/// compiled to a filter that never matches; it is an error now. `src :N`
/// alone keeps ss's meaning (N may be a unix inode).
#[test]
fn port_out_of_range_after_an_address_is_an_error() {
    let env = TestEnv::default();
    for (src, shown) in [
        ("src 10.0.0.1:99999", "99999"),
        ("dst [::1]:70000", "70000"),
        ("dst localhost:65536", "65536"),
    ] {
        let e = compile(&parse(src).unwrap(), &env).expect_err(src);
        assert_eq!(
            e.to_string(),
            format!("port {shown} is out of range: ports are 0 to 65535"),
            "{src}"
        );
    }
    assert!(compile(&parse("src 10.0.0.1:65535").unwrap(), &env).is_ok());
    assert!(compile(&parse("src :99999").unwrap(), &env).is_ok());
}

/// Found by the bad-input table: a 1 MB expression gave an error message
/// that repeated the whole megabyte and a megabyte of carets.
#[test]
fn errors_on_huge_expressions_show_a_window() {
    let src = "sport = :80 or ".repeat(70_000) + "sportx = 1";
    let e = parse(&src).expect_err("too complex or unknown keyword");
    let text = render_error(&src, e.span.clone(), &e.to_string());
    assert!(text.len() < 1000, "{} bytes of error", text.len());
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    // The caret still points under the problem within the window.
    let tail = "x".repeat(200) + " = 1 or sportx = :80";
    let e = parse(&tail).expect_err("unknown keyword");
    let text = render_error(&tail, e.span.clone(), &e.to_string());
    let lines: Vec<&str> = text.lines().collect();
    let caret = lines[2].find('^').unwrap();
    let shown: Vec<char> = lines[1].chars().collect();
    assert_eq!(shown.first(), Some(&'x'), "{text}");
    assert!(lines[0].chars().count() <= 310, "{}", lines[0]);
    assert!(shown.len() <= 122, "{}", lines[1]);
    assert!(caret < shown.len());
    // Short expressions are shown whole, control characters as spaces.
    assert_eq!(
        render_error("sport\t= :1\x1b[31m", 0..5, "m"),
        "sockq: m\nsport = :1 [31m\n^^^^^"
    );
}
