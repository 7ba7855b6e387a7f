//! Bad expressions: each names the problem and points at it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::TestEnv;
use sockq_filter::{compile, parse, render_error};

/// Parses and compiles; returns the message and the underlined text.
fn fail(src: &str) -> (String, String) {
    let (span, msg) = match parse(src) {
        Err(e) => (e.span.clone(), e.to_string()),
        Ok(expr) => match compile(&expr, &TestEnv::default()) {
            Err(e) => (e.span.clone(), e.to_string()),
            Ok(_) => panic!("{src}: accepted"),
        },
    };
    (msg, src.get(span).unwrap_or("?").to_string())
}

#[test]
fn each_error_names_the_problem_and_points_at_it() {
    let cases: &[(&str, &str, &str)] = &[
        ("sport = :99999", "port 99999 is out of range", ":99999"),
        (
            "dport = 10.0.0.1:22",
            "\"10.0.0.1:22\" does not look like a port",
            "10.0.0.1:22",
        ),
        ("src 300.1.1.1", "300 is more than 255", "300.1.1.1"),
        (
            "sport = :nosuchservice",
            "no such service",
            ":nosuchservice",
        ),
        ("sport = :both", "ambiguous port \"both\"", ":both"),
        ("( sport = :80", "unclosed `(`", "("),
        ("sport = :80 )", "unbalanced `)`", ")"),
        ("sport = :80 or", "`or` needs an expression after it", "or"),
        ("not", "`not` needs an expression after it", "not"),
        ("( )", "empty parentheses", "( )"),
        ("sport = :80 ( )", "empty parentheses", "( )"),
        ("sportx = :80", "unknown keyword `sportx`", "sportx"),
        ("SPORT = :80", "unknown keyword `SPORT`", "SPORT"),
        ("sport =", "`sport` needs a value", "="),
        ("src and", "`src` needs a value", "src"),
        ("src > 10.0.0.1", "`src` takes `=` or `!=`, not `>`", ">"),
        ("sport = 80 or 443", "found `443`", "443"),
        ("127.0.0.1", "found `127.0.0.1`", "127.0.0.1"),
        (
            "sport = :80 and and dport = 1",
            "`and` needs an expression after it",
            "and",
        ),
        ("state listen", "unknown state \"listen\"", "listen"),
        ("dev nosuch", "no interface named \"nosuch\"", "nosuch"),
        ("src [::]/0", "write a prefix inside the brackets", "[::]/0"),
        (
            "src inet6:10.0.0.1",
            "not an address of family inet6",
            "inet6:10.0.0.1",
        ),
        (
            "src no-such.invalid",
            "neither an address nor a host name",
            "no-such.invalid",
        ),
        ("sport >= *", "needs a port number", "*"),
        ("fwmark = x", "cannot parse mark \"x\"", "x"),
        ("src 10.0.0.0/33", "prefix length \"33\"", "10.0.0.0/33"),
        (
            "src link:nosuch",
            "unknown ethertype \"nosuch\"",
            "link:nosuch",
        ),
        ("cgroup /nope", "no cgroup \"/nope\"", "/nope"),
        ("user nobody-here", "no user named", "nobody-here"),
        ("uid = x", "\"x\" is not a number", "x"),
        ("   ", "empty", "   "),
    ];
    for (src, msg, under) in cases {
        let (m, s) = fail(src);
        assert!(m.contains(msg), "{src}: message {m:?} lacks {msg:?}");
        assert_eq!(&s, under, "{src}: {m}");
        assert!(!m.contains('\n'), "{src}: not one line");
    }
}

#[test]
fn deep_nesting_is_a_clean_error() {
    let deep = format!("{}sport = :80{}", "( ".repeat(300), ") ".repeat(300));
    let e = parse(&deep).expect_err("too deep");
    assert!(e.to_string().contains("nests deeper"), "{e}");
    let nots = format!("{}sport = :80", "! ".repeat(100_000));
    assert!(parse(&nots).is_err());
    // Within the limit it parses.
    let ok = format!("{}sport = :80{}", "( ".repeat(200), ") ".repeat(200));
    assert!(parse(&ok).is_ok());
    // A very long flat chain is fine: no recursion per operand.
    let long = vec!["sport = :80"; 20_000].join(" or ");
    assert!(parse(&long).is_ok());
}

#[test]
fn rendering_puts_carets_under_the_span() {
    let src = "sport = :99999";
    let e = compile(&parse(src).expect("parses"), &TestEnv::default()).expect_err("bad port");
    let text = render_error(src, e.span.clone(), &e.to_string());
    assert_eq!(
        text,
        "sockq: port 99999 is out of range: ports are 0 to 65535\nsport = :99999\n        ^^^^^^"
    );
    let text = render_error("a", 1..1, "m");
    assert_eq!(text, "sockq: m\na\n ^");
}
