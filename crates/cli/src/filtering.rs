//! The filter of one run: the expression from the command line and `-F`,
//! compiled against this host (services, DNS, interfaces, cgroups).

use crate::config::Config;
use crate::error::CliError;
use crate::services::{self, Proto, Services};
use sockq_filter::{Env, Filter};
use sockq_model::{Family, FamilySet, Owner, Socket, TableSet};
use std::io::Read;
use std::net::{IpAddr, ToSocketAddrs};

/// The host lookups the filter language needs.
struct HostEnv<'a> {
    cfg: &'a Config,
    /// With `--all-netns`: interface names this namespace lacks are noted
    /// here and match no socket (index u32::MAX), instead of failing the
    /// whole run; `None` makes them an error, as in ss.
    missing: Option<&'a std::cell::RefCell<Vec<String>>>,
}

/// No interface has this index: a `dev` test for a name the namespace
/// lacks matches nothing there.
const NO_INTERFACE: u32 = u32::MAX;

impl Env for HostEnv<'_> {
    fn service_port(&self, name: &str, tcp: bool, udp: bool) -> Result<Option<u16>, String> {
        let db = Services::system();
        let t = if tcp { db.port(name, Proto::Tcp) } else { None };
        let u = if udp { db.port(name, Proto::Udp) } else { None };
        match (t, u) {
            (Some(a), Some(b)) if a != b => Err(format!("ambiguous port \"{name}\"")),
            (Some(a), _) | (None, Some(a)) => Ok(Some(a)),
            (None, None) => {
                // Other tables (dccp, sctp) and no table at all: any protocol.
                Ok(db
                    .port(name, Proto::Tcp)
                    .or_else(|| db.port(name, Proto::Udp))
                    .or_else(|| db.port(name, Proto::Sctp))
                    .or_else(|| db.port(name, Proto::Dccp)))
            }
        }
    }

    fn resolve_host(&self, name: &str, family: Option<Family>) -> Vec<IpAddr> {
        let mut v: Vec<IpAddr> = (name, 0u16)
            .to_socket_addrs()
            .map(|it| it.map(|sa| sa.ip()).collect())
            .unwrap_or_default();
        v.retain(|a| match family {
            Some(Family::Inet) => a.is_ipv4(),
            Some(Family::Inet6) => a.is_ipv6(),
            _ => true,
        });
        v.dedup();
        v
    }

    fn interface_index(&self, name: &str) -> Option<u32> {
        let found = sockq_netlink::interface_index(name);
        match (found, self.missing) {
            (None, Some(m)) if name.parse::<u32>().is_err() => {
                m.borrow_mut().push(name.to_owned());
                Some(NO_INTERFACE)
            }
            (found, _) => found,
        }
    }

    fn cgroup_id(&self, path: &str) -> Option<u64> {
        crate::cgroup::cgroup_id(path)
    }

    fn ephemeral_ports(&self) -> (u16, u16) {
        services::ephemeral_range()
    }

    fn preferred_family(&self) -> Option<Family> {
        self.cfg.preferred_family
    }

    fn tables(&self) -> TableSet {
        self.cfg.tables
    }

    fn user_id(&self, name: &str) -> Option<u32> {
        let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
        passwd.lines().find_map(|l| {
            let mut f = l.split(':');
            let (user, _, uid) = (f.next()?, f.next()?, f.next()?);
            (user == name).then(|| uid.parse().ok()).flatten()
        })
    }
}

/// The compiled filter, or none.
pub struct FilterSet {
    filter: Option<Filter>,
    bytecode: Option<Vec<u8>>,
    no_bytecode: bool,
    /// The source and parsed expression when it names interfaces (`dev`),
    /// kept to compile it again inside each namespace of `--all-netns`.
    per_netns: Option<(String, sockq_filter::Expr)>,
}

/// Reads `-F FILE` (or `-` for stdin): its words continue the expression.
/// Lines whose first non-blank character is `#` are comments. Unlike ss,
/// a line starting with `0` is kept.
fn read_filter_file(path: &std::path::Path) -> Result<String, CliError> {
    let mut text = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| CliError::Usage(format!("reading the filter from stdin: {e}")))?;
    } else {
        text = std::fs::read_to_string(path).map_err(|e| {
            CliError::Usage(format!("cannot read filter file {}: {e}", path.display()))
        })?;
    }
    Ok(text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join(" "))
}

/// Builds the run's filter from the expression words and `-F`.
pub fn build(cfg: &Config) -> Result<FilterSet, CliError> {
    let mut src = cfg.filter_words.join(" ");
    if let Some(path) = &cfg.filter_file {
        let file = read_filter_file(path)?;
        if !file.trim().is_empty() {
            // Joined by AND, and parenthesised so precedence cannot regroup them.
            src = if src.trim().is_empty() {
                file
            } else {
                format!("( {src} ) ( {file} )")
            };
        }
    }
    if src.trim().is_empty() {
        return Ok(FilterSet {
            filter: None,
            bytecode: None,
            no_bytecode: cfg.no_bytecode,
            per_netns: None,
        });
    }
    let expr = sockq_filter::parse(&src).map_err(|e| {
        CliError::Filter(sockq_filter::render_error(
            &src,
            e.span.clone(),
            &e.to_string(),
        ))
    })?;
    // With --all-netns each namespace compiles `dev` names itself
    // (FilterSet::for_this_netns); here they need not exist.
    let missing = std::cell::RefCell::new(Vec::new());
    compiled(cfg, src, expr, true, cfg.all_netns.then_some(&missing))
}

/// Compiles a parsed expression against this thread's view of the host
/// (its network namespace for interface names); `note`: print the grouping
/// note (once per run).
fn compiled(
    cfg: &Config,
    src: String,
    expr: sockq_filter::Expr,
    note: bool,
    missing: Option<&std::cell::RefCell<Vec<String>>>,
) -> Result<FilterSet, CliError> {
    let env = HostEnv { cfg, missing };
    let filter = sockq_filter::compile(&expr, &env).map_err(|e| {
        CliError::Filter(sockq_filter::render_error(
            &src,
            e.span.clone(),
            &e.to_string(),
        ))
    })?;
    if note && let Some(note) = filter.grouping_note() {
        eprintln_quiet!("sockq: note: {note}");
    }
    let bytecode = if cfg.no_bytecode {
        None
    } else {
        filter.bytecode()
    };
    let per_netns = expr.uses(sockq_filter::Field::Dev).then_some((src, expr));
    Ok(FilterSet {
        filter: Some(filter),
        bytecode,
        no_bytecode: cfg.no_bytecode,
        per_netns,
    })
}

impl FilterSet {
    /// For `--all-netns`: the filter compiled again in the calling thread's
    /// network namespace when it names interfaces (`dev eth0` is a
    /// different index, or absent, in each namespace); `None` when the
    /// filter does not depend on the namespace.
    ///
    /// The names this namespace has no interface for are returned too: there
    /// they match no socket.
    pub fn for_this_netns(
        &self,
        cfg: &Config,
    ) -> Result<Option<(FilterSet, Vec<String>)>, CliError> {
        let Some((src, expr)) = &self.per_netns else {
            return Ok(None);
        };
        let missing = std::cell::RefCell::new(Vec::new());
        let f = compiled(cfg, src.clone(), expr.clone(), false, Some(&missing))?;
        Ok(Some((f, missing.into_inner())))
    }

    /// The interface names the expression tests with `dev` (for the
    /// `--all-netns` note about names no namespace has).
    pub fn dev_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        if let Some((_, expr)) = &self.per_netns {
            collect_dev(&expr.term, &mut names);
        }
        names
    }

    /// Whether the socket passes (always true without a filter).
    #[inline]
    pub fn matches(&self, s: &Socket, owners: &[Owner]) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(s, owners))
    }

    /// The kernel bytecode to send, if any.
    pub fn bytecode(&self) -> Option<Vec<u8>> {
        if self.no_bytecode {
            None
        } else {
            self.bytecode.clone()
        }
    }

    /// Families the expression restricts the listing to (ss's side effect of
    /// family prefixes such as `src inet:…`).
    pub fn family_restriction(&self) -> Option<FamilySet> {
        self.filter.as_ref().and_then(Filter::family_restriction)
    }

    /// Whether the expression needs the process map.
    pub fn needs_owners(&self) -> bool {
        self.filter.as_ref().is_some_and(Filter::needs_owners)
    }

    /// Whether bytecode is sent (the kernel may refuse it: EPERM for fwmark).
    pub fn sends_bytecode(&self) -> bool {
        !self.no_bytecode && self.bytecode.is_some()
    }

    /// `--explain` text.
    pub fn explain(&self) -> String {
        match &self.filter {
            Some(f) => f.explain(),
            None => "no filter: every socket of the selected tables and states".into(),
        }
    }
}

fn collect_dev(t: &sockq_filter::Term, out: &mut Vec<String>) {
    use sockq_filter::Term;
    match t {
        Term::And(v) | Term::Or(v) => v.iter().for_each(|t| collect_dev(t, out)),
        Term::Not(t) => collect_dev(t, out),
        Term::Pred(p) => {
            if p.field == sockq_filter::Field::Dev
                && p.value.parse::<u32>().is_err()
                && !out.contains(&p.value)
            {
                out.push(p.value.clone());
            }
        }
    }
}
