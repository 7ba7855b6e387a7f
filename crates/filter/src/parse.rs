//! Source text to [`Expr`]: the pest grammar, precedence, and errors that
//! name the problem.

use crate::ast::{Cmp, Expr, Field, Pred, Term};
use pest::Parser as _;
use pest::iterators::Pair;
use std::num::NonZeroUsize;
use std::ops::Range;

#[derive(pest_derive::Parser)]
#[grammar = "../../grammar/filter.pest"]
struct Grammar;

/// How deep parentheses and `not`s may nest.
pub const MAX_DEPTH: usize = 256;

/// Bounds pest's work on hostile input (calls per parse).
const CALL_LIMIT: usize = 5_000_000;

/// A syntax error: where, and what was wrong.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind}")]
pub struct ParseError {
    /// Byte range in the source to underline.
    pub span: Range<usize>,
    /// What was wrong.
    pub kind: ParseErrorKind,
}

/// What was wrong with the syntax. Each variant names an input that triggers it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// `` (nothing but blanks).
    #[error("the expression is empty")]
    Empty,
    /// `( )`.
    #[error("empty parentheses: put an expression between `(` and `)`")]
    EmptyParens,
    /// `( sport = :80`.
    #[error("unclosed `(`: expected `)` before the end")]
    UnclosedParen,
    /// `sport = :80 )`.
    #[error("unbalanced `)`: there is no `(` to close")]
    UnbalancedParen,
    /// `sport = :80 or`.
    #[error("`{0}` needs an expression after it")]
    MissingOperand(String),
    /// `sportx = :80`.
    #[error(
        "unknown keyword `{0}`: expected src, dst, sport, dport, dev, fwmark, cgroup, autobound, state, uid, user, inode, rqueue, squeue, pid, comm, unit, container or exe"
    )]
    UnknownKeyword(String),
    /// `sport = 80 or 443`.
    #[error("expected a predicate such as `sport = :80` (src, dst, sport, dport, …), found `{0}`")]
    ExpectedPredicate(String),
    /// `sport =`.
    #[error("`{0}` needs a value")]
    MissingValue(String),
    /// `src > 10.0.0.1`.
    #[error("`{field}` takes `=` or `!=`, not `{cmp}`")]
    BadComparison {
        /// The field keyword.
        field: &'static str,
        /// The comparison as written.
        cmp: String,
    },
    /// 300 nested `(`.
    #[error("the expression nests deeper than {MAX_DEPTH} parentheses and `not`s")]
    TooDeep,
    /// Input so large or odd that the parser gave up.
    #[error("the expression is too complex to parse")]
    TooComplex,
    /// Anything else, e.g. `sport = :80 = 1`.
    #[error("unexpected `{0}`")]
    Unexpected(String),
}

fn err(span: Range<usize>, kind: ParseErrorKind) -> ParseError {
    ParseError { span, kind }
}

/// Parses a filter expression.
pub fn parse(src: &str) -> Result<Expr, ParseError> {
    if src.trim().is_empty() {
        return Err(err(0..src.len(), ParseErrorKind::Empty));
    }
    check_paren_depth(src)?;
    pest::set_call_limit(NonZeroUsize::new(CALL_LIMIT));
    let mut pairs = Grammar::parse(Rule::filter, src).map_err(|e| classify(src, &e))?;
    let filter = pairs
        .next()
        .ok_or_else(|| err(0..0, ParseErrorKind::Empty))?;
    let expr = filter
        .into_inner()
        .find(|p| p.as_rule() == Rule::expr)
        .ok_or_else(|| err(0..0, ParseErrorKind::Empty))?;
    let mut note = None;
    let term = build_expr(expr, 0, &mut note)?;
    Ok(Expr {
        term,
        grouping_note: note,
    })
}

/// Rejects deep nesting before pest recurses into it.
fn check_paren_depth(src: &str) -> Result<(), ParseError> {
    let mut depth = 0usize;
    let mut escaped = false;
    for (i, b) in src.bytes().enumerate() {
        match b {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'(' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(err(i..i + 1, ParseErrorKind::TooDeep));
                }
            }
            b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

/// Builds one parenthesis level: `or` of `and`s of unary terms.
fn build_expr(
    pair: Pair<'_, Rule>,
    depth: usize,
    note: &mut Option<String>,
) -> Result<Term, ParseError> {
    let mut ors: Vec<Vec<Term>> = vec![Vec::new()];
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::or_op => ors.push(Vec::new()),
            Rule::unary => {
                let t = build_unary(p, depth, note)?;
                if let Some(last) = ors.last_mut() {
                    last.push(t);
                }
            }
            _ => {}
        }
    }
    let mixed = ors.len() > 1 && ors.iter().any(|a| a.len() > 1);
    let mut alts: Vec<Term> = ors
        .into_iter()
        .map(|mut ands| {
            if ands.len() == 1 {
                ands.pop().unwrap_or(Term::And(Vec::new()))
            } else {
                Term::And(ands)
            }
        })
        .collect();
    let term = if alts.len() == 1 {
        alts.pop().unwrap_or(Term::Or(Vec::new()))
    } else {
        Term::Or(alts)
    };
    if mixed && note.is_none() {
        *note = Some(format!(
            "`and` binds tighter than `or`, so this was read as {term} (ss would group left to right); add parentheses to say what you mean"
        ));
    }
    Ok(term)
}

fn build_unary(
    pair: Pair<'_, Rule>,
    depth: usize,
    note: &mut Option<String>,
) -> Result<Term, ParseError> {
    let mut nots = 0usize;
    let mut inner = None;
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::not_op => {
                nots += 1;
                if depth + nots > MAX_DEPTH {
                    let s = p.as_span();
                    return Err(err(s.start()..s.end(), ParseErrorKind::TooDeep));
                }
            }
            Rule::group => {
                let e = p
                    .into_inner()
                    .find(|q| q.as_rule() == Rule::expr)
                    .ok_or_else(|| err(0..0, ParseErrorKind::EmptyParens))?;
                inner = Some(build_expr(e, depth + nots + 1, note)?);
            }
            Rule::pred => inner = Some(Term::Pred(build_pred(p)?)),
            _ => {}
        }
    }
    let mut t = inner.ok_or_else(|| err(0..0, ParseErrorKind::Unexpected(String::new())))?;
    for _ in 0..nots {
        t = Term::Not(Box::new(t));
    }
    Ok(t)
}

fn range(p: &Pair<'_, Rule>) -> Range<usize> {
    let s = p.as_span();
    s.start()..s.end()
}

/// Removes backslash escapes: `\c` is `c`, except `\xHH` (two hex
/// digits), which is the byte HH, and `\u{NNNN}`, the character U+NNNN:
/// sockq prints control bytes, bytes that are not UTF-8 and invisible
/// characters that way, so a printed name works as a value.
fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut it = v.chars();
    while let Some(c) = it.next() {
        if c == '\\' {
            let rest = it.as_str();
            if let Some(byte) = rest
                .strip_prefix('x')
                .and_then(|h| h.get(..2))
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(crate::glob::byte_char(byte));
                it = rest.get(3..).unwrap_or("").chars();
                continue;
            }
            // `\u{NNNN}`: a character sockq prints escaped (bidi, zero-width).
            if let Some(ch) = rest
                .strip_prefix("u{")
                .and_then(|r| r.split_once('}'))
                .filter(|(h, _)| (1..=6).contains(&h.len()))
                .and_then(|(h, tail)| {
                    let c = u32::from_str_radix(h, 16).ok().and_then(char::from_u32)?;
                    Some((c, tail))
                })
            {
                out.push(ch.0);
                it = ch.1.chars();
                continue;
            }
            if let Some(n) = it.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn build_pred(pair: Pair<'_, Rule>) -> Result<Pred, ParseError> {
    let span = range(&pair);
    let mut field = None;
    let mut cmp = Cmp::Eq;
    let mut cmp_span = span.start..span.start;
    let mut cmp_text = String::new();
    let mut value = String::new();
    let mut value_span = span.end..span.end;
    for p in pair.into_inner() {
        match p.as_rule() {
            Rule::autobound => field = Some(Field::Autobound),
            Rule::field => field = Field::from_keyword(p.as_str()),
            Rule::cmp => {
                cmp = Cmp::parse(p.as_str()).unwrap_or(Cmp::Eq);
                cmp_text = p.as_str().to_string();
                cmp_span = range(&p);
            }
            Rule::value => {
                value = unescape(p.as_str());
                value_span = range(&p);
            }
            _ => {}
        }
    }
    let field =
        field.ok_or_else(|| err(span.clone(), ParseErrorKind::Unexpected(String::new())))?;
    if field != Field::Autobound && !field.is_ordered() && !matches!(cmp, Cmp::Eq | Cmp::Ne) {
        return Err(err(
            cmp_span,
            ParseErrorKind::BadComparison {
                field: field.keyword(),
                cmp: cmp_text,
            },
        ));
    }
    Ok(Pred {
        field,
        cmp,
        value,
        span,
        cmp_span,
        value_span,
    })
}

// ---- turning pest's "expected X" into what a user can act on ----

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// The token that ends just before `pos` (blanks skipped), as a range.
fn token_before(src: &str, pos: usize) -> Option<Range<usize>> {
    let b = src.as_bytes();
    let mut end = pos.min(b.len());
    while end > 0 && b.get(end - 1).copied().is_some_and(is_blank) {
        end -= 1;
    }
    if end == 0 {
        return None;
    }
    let last = b.get(end - 1).copied().unwrap_or(b' ');
    if last == b'(' || last == b')' {
        return Some(end - 1..end);
    }
    let mut start = end;
    while start > 0 {
        let c = b.get(start - 1).copied().unwrap_or(b' ');
        if is_blank(c) || c == b'(' || c == b')' {
            break;
        }
        start -= 1;
    }
    Some(start..end)
}

/// The token that starts at `pos`: a parenthesis, or a run of other non-blanks.
fn token_at(src: &str, pos: usize) -> Range<usize> {
    let b = src.as_bytes();
    if matches!(b.get(pos), Some(b'(') | Some(b')')) {
        return pos..pos + 1;
    }
    let mut end = pos;
    while let Some(&c) = b.get(end) {
        if is_blank(c) || c == b'(' || c == b')' {
            break;
        }
        end += 1;
    }
    pos..end
}

/// Splits a word that glues keywords and operators (`sport=:80`) to get
/// its leading keyword-like part.
fn leading_word(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
        .unwrap_or(s.len());
    s.get(..end).unwrap_or(s)
}

fn is_connective(t: &str) -> bool {
    matches!(t, "and" | "&" | "&&" | "or" | "|" | "||" | "not" | "!")
}

fn classify(src: &str, e: &pest::error::Error<Rule>) -> ParseError {
    use pest::error::{ErrorVariant, InputLocation};
    let mut pos = match e.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    if let ErrorVariant::CustomError { message } = &e.variant
        && message.contains("call limit")
    {
        return err(0..src.len(), ParseErrorKind::TooComplex);
    }
    let b = src.as_bytes();
    while b.get(pos).copied().is_some_and(is_blank) {
        pos += 1;
    }
    let text = |r: &Range<usize>| src.get(r.clone()).unwrap_or("").to_string();
    let prev = token_before(src, pos);
    let prev_text = prev.as_ref().map(text).unwrap_or_default();
    // Parenthesis balance of everything before `pos`, and the last open `(`.
    let mut opens: Vec<usize> = Vec::new();
    let mut escaped = false;
    for (i, c) in src.bytes().enumerate().take(pos) {
        match c {
            _ if escaped => escaped = false,
            b'\\' => escaped = true,
            b'(' => opens.push(i),
            b')' => {
                opens.pop();
            }
            _ => {}
        }
    }
    let prev_is_field =
        Field::from_keyword(&prev_text).is_some() || Cmp::parse(&prev_text).is_some();
    let field_name = |r: &Option<Range<usize>>| -> String {
        // For `sport =`, name the field, not the `=`.
        match r {
            Some(r) if Cmp::parse(&text(r)).is_some() => token_before(src, r.start)
                .map(|q| text(&q))
                .unwrap_or_else(|| text(r)),
            Some(r) => text(r),
            None => String::new(),
        }
    };
    let here = token_at(src, pos);
    let here_text = text(&here);
    if pos >= src.len() {
        if let Some(r) = prev.clone() {
            if is_connective(&prev_text) {
                return err(r, ParseErrorKind::MissingOperand(prev_text));
            }
            if prev_text == "(" {
                return err(r, ParseErrorKind::UnclosedParen);
            }
            if prev_is_field {
                return err(r.clone(), ParseErrorKind::MissingValue(field_name(&prev)));
            }
        }
        if let Some(&open) = opens.last() {
            return err(open..open + 1, ParseErrorKind::UnclosedParen);
        }
        return err(pos..pos, ParseErrorKind::Unexpected("end".into()));
    }
    if here_text == ")" {
        if prev_text == "(" {
            let start = prev.map(|r| r.start).unwrap_or(pos);
            return err(start..pos + 1, ParseErrorKind::EmptyParens);
        }
        if opens.is_empty() {
            return err(here, ParseErrorKind::UnbalancedParen);
        }
        if is_connective(&prev_text) {
            return err(
                prev.unwrap_or(here),
                ParseErrorKind::MissingOperand(prev_text),
            );
        }
        if prev_is_field {
            return err(here, ParseErrorKind::MissingValue(field_name(&prev)));
        }
        return err(here, ParseErrorKind::Unexpected(here_text));
    }
    if prev_is_field && !is_connective(&here_text) {
        return err(here, ParseErrorKind::MissingValue(field_name(&prev)));
    }
    if prev_is_field {
        let name = field_name(&prev);
        return err(prev.unwrap_or(here), ParseErrorKind::MissingValue(name));
    }
    if is_connective(&prev_text) && is_connective(&here_text) {
        return err(here, ParseErrorKind::MissingOperand(prev_text));
    }
    if is_connective(&here_text) || here_text.starts_with(['&', '|']) {
        return err(here, ParseErrorKind::Unexpected(here_text));
    }
    let word = leading_word(&here_text);
    if !word.is_empty() && word.bytes().next().is_some_and(|c| c.is_ascii_alphabetic()) {
        let r = here.start..here.start + word.len();
        if Field::from_keyword(word).is_some() || Cmp::parse(word).is_some() {
            return err(here, ParseErrorKind::Unexpected(here_text));
        }
        return err(r, ParseErrorKind::UnknownKeyword(word.to_string()));
    }
    err(here, ParseErrorKind::ExpectedPredicate(here_text))
}
