//! [`Expr`] to [`Filter`]: lookups through [`Env`], then a tree that
//! evaluates without allocating.
//!
//! This is the top of the filter's stages: it calls [`crate::value`] for the
//! leaves and [`crate::bytecode`] for the kernel's program, both of which
//! only know [`crate::node`] below them.

use crate::ast::{Cmp, Expr, Field, Pred, Term};
use crate::bytecode;
use crate::env::Env;
use crate::error::{CompileError, CompileErrorKind};
use crate::glob::Glob;
use crate::node::{HostCond, NoFacts, Node, ProcField, ProcessFacts, Side};
use crate::value;
use sockq_model::{FamilySet, Owner, Socket, StateSet};

/// A compiled filter.
#[derive(Clone, Debug)]
pub struct Filter {
    pub(crate) node: Node,
    pub(crate) text: String,
    pub(crate) note: Option<String>,
    pub(crate) families: Option<FamilySet>,
    pub(crate) owners: bool,
    pub(crate) kernel: bytecode::Kernel,
}

/// Compiles an expression, resolving names through `env`.
pub fn compile(expr: &Expr, env: &dyn Env) -> Result<Filter, CompileError> {
    let mut families: Option<FamilySet> = None;
    let mut owners = false;
    let node = term(&expr.term, env, &mut families, &mut owners)?;
    let kernel = bytecode::Kernel::new(&node);
    Ok(Filter {
        node,
        text: expr.term.to_string(),
        note: expr.grouping_note.clone(),
        families,
        owners,
        kernel,
    })
}

fn term(
    t: &Term,
    env: &dyn Env,
    fams: &mut Option<FamilySet>,
    owners: &mut bool,
) -> Result<Node, CompileError> {
    Ok(match t {
        Term::And(v) => Node::And(
            v.iter()
                .map(|t| term(t, env, fams, owners))
                .collect::<Result<_, _>>()?,
        ),
        Term::Or(v) => Node::Or(
            v.iter()
                .map(|t| term(t, env, fams, owners))
                .collect::<Result<_, _>>()?,
        ),
        Term::Not(t) => Node::Not(Box::new(term(t, env, fams, owners)?)),
        Term::Pred(p) => pred(p, env, fams, owners).map_err(|kind| CompileError {
            span: if p.value_span.is_empty() {
                p.span.clone()
            } else {
                p.value_span.clone()
            },
            kind,
        })?,
    })
}

fn pred(
    p: &Pred,
    env: &dyn Env,
    fams: &mut Option<FamilySet>,
    owners: &mut bool,
) -> Result<Node, CompileErrorKind> {
    let v = p.value.as_str();
    let num = |v: &str| value::number_u32(v);
    // `!=` is `not =` for every field, as ss desugars it.
    let (cmp, negate) = match p.cmp {
        Cmp::Ne => (Cmp::Eq, true),
        c => (c, false),
    };
    let node = match p.field {
        Field::Src | Field::Dst => {
            let side = if p.field == Field::Src {
                Side::Local
            } else {
                Side::Remote
            };
            let (conds, fam) = value::host(v, env).map_err(|e| value::quoted(v).unwrap_or(e))?;
            if let Some(f) = fam {
                *fams = Some(fams.unwrap_or_default().with(f));
            }
            Node::Host(side, conds)
        }
        Field::Sport | Field::Dport => {
            let side = if p.field == Field::Sport {
                Side::Local
            } else {
                Side::Remote
            };
            let port = value::port(v, env, 65535)?;
            match (cmp, port) {
                (Cmp::Eq, port) => Node::Host(side, vec![HostCond::any(None, port)]),
                (_, None) => return Err(CompileErrorKind::RangeOfAny(p.cmp.symbol())),
                (c, Some(n)) => {
                    let n = n as u16;
                    match c {
                        Cmp::Ge => Node::Port(side, Cmp::Ge, n),
                        Cmp::Le => Node::Port(side, Cmp::Le, n),
                        Cmp::Gt => Node::Not(Box::new(Node::Port(side, Cmp::Le, n))),
                        _ => Node::Not(Box::new(Node::Port(side, Cmp::Ge, n))),
                    }
                }
            }
        }
        Field::Dev => match env.interface_index(v) {
            Some(i) => Node::Dev(i),
            None => {
                Node::Dev(num(v).map_err(|_| CompileErrorKind::UnknownInterface(v.to_string()))?)
            }
        },
        Field::Fwmark => {
            let (m, k) = value::mark(v)?;
            Node::Mark(m, k)
        }
        Field::Cgroup => match env.cgroup_id(v) {
            Some(id) if id != 0 => Node::Cgroup(id),
            _ => return Err(CompileErrorKind::UnknownCgroup(v.to_string())),
        },
        Field::Autobound => {
            let (lo, hi) = env.ephemeral_ports();
            Node::Auto(lo, hi)
        }
        Field::State => Node::State(
            StateSet::parse_name(v).ok_or_else(|| CompileErrorKind::UnknownState(v.to_string()))?,
        ),
        Field::Uid => Node::Uid(cmp, num(v)?),
        Field::User => match value::number(v) {
            Some(n) => Node::Uid(
                cmp,
                u32::try_from(n).map_err(|_| CompileErrorKind::BadNumber(v.to_string()))?,
            ),
            None => Node::Uid(
                cmp,
                env.user_id(v)
                    .ok_or_else(|| CompileErrorKind::UnknownUser(v.to_string()))?,
            ),
        },
        Field::Inode => Node::Inode(cmp, num(v)?),
        Field::Rqueue => Node::Rqueue(cmp, num(v)?),
        Field::Squeue => Node::Squeue(cmp, num(v)?),
        Field::Pid => {
            *owners = true;
            Node::Pid(cmp, num(v)?)
        }
        Field::Comm => {
            *owners = true;
            Node::Comm(Glob::new(v, false))
        }
        Field::Unit => {
            *owners = true;
            Node::Proc(ProcField::Unit, Glob::new(v, false))
        }
        Field::Container => {
            *owners = true;
            Node::Proc(ProcField::Container, Glob::new(v, false))
        }
        Field::Exe => {
            *owners = true;
            Node::Proc(ProcField::Exe, Glob::new(v, false))
        }
    };
    Ok(if negate {
        Node::Not(Box::new(node))
    } else {
        node
    })
}

impl Filter {
    /// Whether the socket matches, with `owners` the processes holding it
    /// (needed only when [`Filter::needs_owners`]). Works for every family.
    #[inline]
    pub fn matches(&self, s: &Socket, owners: &[Owner]) -> bool {
        self.node.eval(s, owners, &NoFacts)
    }

    /// [`Filter::matches`] with the owners' unit, container and binary
    /// answered by `facts` (`unit`, `container`, `exe`; without facts those
    /// match nothing).
    #[inline]
    pub fn matches_with(&self, s: &Socket, owners: &[Owner], facts: &dyn ProcessFacts) -> bool {
        self.node.eval(s, owners, facts)
    }

    /// Whether `unit`, `container` or `exe` appear: the caller must give
    /// [`ProcessFacts`] to [`Filter::matches_with`].
    pub fn needs_process_facts(&self) -> bool {
        self.node.uses_proc()
    }

    /// The inet_diag bytecode to send: it accepts a superset of what
    /// [`Filter::matches`] accepts. `None` when it would accept everything.
    pub fn bytecode(&self) -> Option<Vec<u8>> {
        self.kernel.code.clone()
    }

    /// Whether the bytecode decides exactly what [`Filter::matches`] decides
    /// for inet sockets (nothing had to be left to user space).
    pub fn kernel_exact(&self) -> bool {
        self.kernel.exact
    }

    /// Whether `pid`, `comm`, `unit`, `container` or `exe` appear, so the
    /// caller must build the process map.
    pub fn needs_owners(&self) -> bool {
        self.owners
    }

    /// The families named by explicit prefixes (`src inet:…`, `src unix:…`):
    /// like ss, they limit the listing to those families. sockq takes the
    /// union of every prefix in the expression (ss keeps only the last).
    pub fn family_restriction(&self) -> Option<FamilySet> {
        self.families
    }

    /// The expression fully parenthesised, then the bytecode disassembled.
    pub fn explain(&self) -> String {
        let mut out = format!("expression: {}\n", self.text);
        out.push_str(&self.kernel.explain());
        out
    }

    /// Set when `and` and `or` were mixed without parentheses.
    pub fn grouping_note(&self) -> Option<String> {
        self.note.clone()
    }

    /// The compiled tree.
    pub fn node(&self) -> &Node {
        &self.node
    }
}
