//! The owned syntax tree: what was written, before any lookup.

use std::fmt;
use std::ops::Range;

/// A parsed expression: the tree plus what the parser noticed about grouping.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expr {
    /// The tree.
    pub term: Term,
    /// Set when `and` and `or` were mixed without parentheses, e.g.
    /// `sport = :22 or dport = :22 and dst 10.0.0.2`: one line saying how it was grouped.
    pub grouping_note: Option<String>,
}

impl Expr {
    /// Whether any predicate tests `field` (e.g. `dev`, whose names are
    /// resolved per network namespace).
    pub fn uses(&self, field: Field) -> bool {
        self.term.uses(field)
    }
}

impl Term {
    /// Whether any predicate of this subtree tests `field`.
    pub fn uses(&self, field: Field) -> bool {
        match self {
            Term::And(v) | Term::Or(v) => v.iter().any(|t| t.uses(field)),
            Term::Not(t) => t.uses(field),
            Term::Pred(p) => p.field == field,
        }
    }
}

/// A node of the tree. Chains at one parenthesis level are flattened:
/// `a or b or c` is one `Or` of three, `(a or b) or c` an `Or` inside an `Or`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Term {
    /// `a and b`, `a & b`, `a && b` or `a b` (two or more operands).
    And(Vec<Term>),
    /// `a or b`, `a | b`, `a || b` (two or more operands).
    Or(Vec<Term>),
    /// `not a`, `! a`.
    Not(Box<Term>),
    /// One predicate, e.g. `sport = :80`.
    Pred(Pred),
}

/// A predicate as written: field, comparison and the raw value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pred {
    /// What is tested.
    pub field: Field,
    /// The comparison; `Eq` when none was written (`sport :80`).
    pub cmp: Cmp,
    /// The value with backslash escapes removed; empty for `autobound`.
    pub value: String,
    /// Byte range of the whole predicate in the source.
    pub span: Range<usize>,
    /// Byte range of the comparison (empty when none was written).
    pub cmp_span: Range<usize>,
    /// Byte range of the value.
    pub value_span: Range<usize>,
}

/// The field a predicate tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Field {
    /// `src HOST`: the local end.
    Src,
    /// `dst HOST`: the remote end.
    Dst,
    /// `sport PORT`: the local port.
    Sport,
    /// `dport PORT`: the remote port.
    Dport,
    /// `dev IFACE`.
    Dev,
    /// `fwmark MARK[/MASK]`.
    Fwmark,
    /// `cgroup PATH`.
    Cgroup,
    /// `autobound`.
    Autobound,
    /// `state NAME` inside an expression (sockq).
    State,
    /// `uid OP N` (sockq).
    Uid,
    /// `user [=|!=] NAME|UID` (sockq).
    User,
    /// `inode OP N` (sockq).
    Inode,
    /// `rqueue OP N` (sockq).
    Rqueue,
    /// `squeue OP N` (sockq).
    Squeue,
    /// `pid OP N` (sockq): any owning process.
    Pid,
    /// `comm [=|!=] GLOB` (sockq): any owning process name.
    Comm,
    /// `unit [=|!=] GLOB` (sockq): any owning process's systemd unit.
    Unit,
    /// `container [=|!=] GLOB` (sockq): any owning process's container
    /// (its name, id, short id or `runtime:name` label).
    Container,
    /// `exe [=|!=] GLOB` (sockq): any owning process's binary path.
    Exe,
}

impl Field {
    /// Every field.
    pub const ALL: [Field; 19] = [
        Field::Src,
        Field::Dst,
        Field::Sport,
        Field::Dport,
        Field::Dev,
        Field::Fwmark,
        Field::Cgroup,
        Field::Autobound,
        Field::State,
        Field::Uid,
        Field::User,
        Field::Inode,
        Field::Rqueue,
        Field::Squeue,
        Field::Pid,
        Field::Comm,
        Field::Unit,
        Field::Container,
        Field::Exe,
    ];

    /// The keyword.
    pub fn keyword(self) -> &'static str {
        match self {
            Field::Src => "src",
            Field::Dst => "dst",
            Field::Sport => "sport",
            Field::Dport => "dport",
            Field::Dev => "dev",
            Field::Fwmark => "fwmark",
            Field::Cgroup => "cgroup",
            Field::Autobound => "autobound",
            Field::State => "state",
            Field::Uid => "uid",
            Field::User => "user",
            Field::Inode => "inode",
            Field::Rqueue => "rqueue",
            Field::Squeue => "squeue",
            Field::Pid => "pid",
            Field::Comm => "comm",
            Field::Unit => "unit",
            Field::Container => "container",
            Field::Exe => "exe",
        }
    }

    /// Parses a keyword (case-sensitive, as ss).
    pub fn from_keyword(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.keyword() == s)
    }

    /// Whether `<`, `>`, `<=` and `>=` make sense for this field.
    pub fn is_ordered(self) -> bool {
        matches!(
            self,
            Field::Sport
                | Field::Dport
                | Field::Uid
                | Field::Inode
                | Field::Rqueue
                | Field::Squeue
                | Field::Pid
        )
    }
}

/// A comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cmp {
    /// `=`, `==`, `eq` or nothing.
    Eq,
    /// `!=`, `ne`, `neq`.
    Ne,
    /// `<`, `lt`.
    Lt,
    /// `>`, `gt`.
    Gt,
    /// `<=`, `le`, `leq`.
    Le,
    /// `>=`, `ge`, `geq`.
    Ge,
}

impl Cmp {
    /// Parses any spelling.
    pub fn parse(s: &str) -> Option<Cmp> {
        Some(match s {
            "=" | "==" | "eq" => Cmp::Eq,
            "!=" | "ne" | "neq" => Cmp::Ne,
            "<" | "lt" => Cmp::Lt,
            ">" | "gt" => Cmp::Gt,
            "<=" | "le" | "leq" => Cmp::Le,
            ">=" | "ge" | "geq" => Cmp::Ge,
            _ => return None,
        })
    }

    /// The canonical spelling.
    pub fn symbol(self) -> &'static str {
        match self {
            Cmp::Eq => "=",
            Cmp::Ne => "!=",
            Cmp::Lt => "<",
            Cmp::Gt => ">",
            Cmp::Le => "<=",
            Cmp::Ge => ">=",
        }
    }

    /// Applies the comparison to two numbers.
    #[inline]
    pub fn test<T: PartialOrd>(self, a: T, b: T) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Gt => a > b,
            Cmp::Le => a <= b,
            Cmp::Ge => a >= b,
        }
    }
}

/// Writes a value so that the parser reads it back unchanged: blanks,
/// backslashes, `&`, `|`, parentheses and a leading `=`, `!`, `<`, `>` are
/// escaped, and so is a value that would read as a keyword.
pub fn escape_value(v: &str, out: &mut String) {
    const RESERVED: [&str; 11] = [
        "and",
        "or",
        "not",
        "src",
        "dst",
        "sport",
        "dport",
        "dev",
        "fwmark",
        "cgroup",
        "autobound",
    ];
    let reserved_prefix = RESERVED.iter().any(|k| {
        v.strip_prefix(k).is_some_and(|rest| {
            rest.is_empty() || rest.starts_with(['=', '!', '<', '>', '(', ')', '&', '|'])
        })
    });
    for (i, c) in v.chars().enumerate() {
        if let [b] = crate::glob::value_bytes(c.encode_utf8(&mut [0u8; 4])).as_slice()
            && !b.is_ascii()
        {
            out.push_str(&format!("\\x{b:02x}"));
            continue;
        }
        let special = matches!(c, ' ' | '\t' | '\n' | '\r' | '\\' | '&' | '|' | '(' | ')')
            || (i == 0 && (matches!(c, '=' | '!' | '<' | '>') || reserved_prefix));
        if special {
            out.push('\\');
        }
        out.push(c);
    }
}

impl fmt::Display for Pred {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field == Field::Autobound {
            return f.write_str("autobound");
        }
        let mut v = String::new();
        escape_value(&self.value, &mut v);
        write!(f, "{} {} {}", self.field.keyword(), self.cmp.symbol(), v)
    }
}

impl fmt::Display for Term {
    /// Fully parenthesised: every operator and every predicate gets parentheses.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, v: &[Term], op: &str| -> fmt::Result {
            f.write_str("(")?;
            for (i, t) in v.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                write!(f, "{t}")?;
            }
            f.write_str(")")
        };
        match self {
            Term::And(v) => list(f, v, "and"),
            Term::Or(v) => list(f, v, "or"),
            Term::Not(t) => write!(f, "(not {t})"),
            Term::Pred(p) => write!(f, "({p})"),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.term.fmt(f)
    }
}

impl Term {
    /// Sets every span to `0..0`, so that trees from different sources compare equal.
    pub fn clear_spans(&mut self) {
        match self {
            Term::And(v) | Term::Or(v) => v.iter_mut().for_each(Term::clear_spans),
            Term::Not(t) => t.clear_spans(),
            Term::Pred(p) => {
                p.span = 0..0;
                p.cmp_span = 0..0;
                p.value_span = 0..0;
            }
        }
    }

    /// Calls `f` on every predicate, left to right.
    pub fn for_each_pred<'a>(&'a self, f: &mut dyn FnMut(&'a Pred)) {
        match self {
            Term::And(v) | Term::Or(v) => v.iter().for_each(|t| t.for_each_pred(f)),
            Term::Not(t) => t.for_each_pred(f),
            Term::Pred(p) => f(p),
        }
    }
}
