//! The sockq filter language: ss's expressions, parsed with pest into an
//! owned tree, compiled against the host (services, DNS, interfaces) into a
//! [`Filter`] that matches [`sockq_model::Socket`]s in user space and emits
//! inet_diag bytecode for the kernel.
//!
//! The pipeline is three stages, each with its own error:
//! [`parse`] (syntax, [`ParseError`]) → [`compile`] (values, [`CompileError`])
//! → [`Filter::matches`] / [`Filter::bytecode`].
//!
//! ```
//! use sockq_filter::{compile, parse, Env};
//! use sockq_model::{Endpoint, Family, Socket, State, Table, TableSet};
//!
//! struct NoHost;
//! impl Env for NoHost {
//!     fn service_port(&self, name: &str, _: bool, _: bool) -> Result<Option<u16>, String> {
//!         Ok((name == "http").then_some(80))
//!     }
//!     fn resolve_host(&self, _: &str, _: Option<Family>) -> Vec<std::net::IpAddr> { Vec::new() }
//!     fn interface_index(&self, _: &str) -> Option<u32> { None }
//!     fn cgroup_id(&self, _: &str) -> Option<u64> { None }
//!     fn ephemeral_ports(&self) -> (u16, u16) { (32768, 60999) }
//!     fn preferred_family(&self) -> Option<Family> { None }
//!     fn tables(&self) -> TableSet { TableSet::of(&[Table::Tcp]) }
//!     fn user_id(&self, _: &str) -> Option<u32> { None }
//! }
//!
//! let expr = parse("( sport = :http or sport = :443 )").unwrap();
//! let filter = compile(&expr, &NoHost).unwrap();
//! let mut s = Socket::new(Table::Tcp, Family::Inet, State::Listen);
//! s.local = Endpoint::Inet { addr: [0, 0, 0, 0].into(), port: 80 };
//! assert!(filter.matches(&s, &[]));
//! assert_eq!(filter.bytecode().map(|b| b.len()), Some(36));
//! ```
#![forbid(unsafe_code)]

mod ast;
pub mod bytecode;
mod compile;
mod env;
mod error;
mod glob;
mod names;
mod node;
mod parse;
mod value;
mod words;

pub use ast::{Cmp, Expr, Field, Pred, Term, escape_value};
pub use compile::{Filter, compile};
pub use env::Env;
pub use error::{CompileError, CompileErrorKind};
pub use glob::Glob;
pub use node::{HostCond, NoFacts, Node, ProcField, ProcessFacts, Side};
pub use parse::{MAX_DEPTH, ParseError, ParseErrorKind, parse};
pub use value::number;
pub use words::{StateWordError, peel_state_words};

use std::ops::Range;

/// How many characters of the expression an error shows; longer expressions
/// are cut to a window around the problem, so a 1 MB filter file never gives
/// a 2 MB message.
const SHOWN_CHARS: usize = 120;
/// How many characters of the message an error shows (it may quote input).
const MESSAGE_CHARS: usize = 300;

/// Renders an error as three lines: `sockq: MSG`, the expression, and
/// carets under `span` (at least one caret; columns count characters).
///
/// Control characters (newlines, escapes) are shown as spaces. An expression
/// longer than 120 characters is shown as a window of 120 around the start of
/// `span`, with `…` where text was left out; a message longer than 300
/// characters is cut the same way.
pub fn render_error(src: &str, span: Range<usize>, msg: &str) -> String {
    let one_line = |s: &str| -> Vec<char> {
        s.chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect()
    };
    let start = span.start.min(src.len());
    let end = span.end.clamp(start, src.len());
    let col = src.get(..start).map_or(start, |s| s.chars().count());
    let width = src.get(start..end).map_or(1, |s| s.chars().count()).max(1);
    let text = one_line(src);
    let total = text.len();
    let (from, to) = if total <= SHOWN_CHARS {
        (0, total)
    } else {
        let from = col.saturating_sub(SHOWN_CHARS / 3).min(total);
        (from, (from + SHOWN_CHARS).min(total))
    };
    let mut shown: String = if from > 0 {
        "…".into()
    } else {
        String::new()
    };
    shown.extend(text.get(from..to).unwrap_or_default());
    if to < total {
        shown.push('…');
    }
    let caret_col = col - from + usize::from(from > 0);
    let width = if to < total {
        width.min(to.saturating_sub(col)).max(1)
    } else {
        width
    };
    let msg = &glob::show_bytes(msg);
    let mut message: String = one_line(msg).into_iter().take(MESSAGE_CHARS).collect();
    if msg.chars().count() > MESSAGE_CHARS {
        message.push('…');
    }
    format!(
        "sockq: {message}\n{shown}\n{}{}",
        " ".repeat(caret_col),
        "^".repeat(width)
    )
}
