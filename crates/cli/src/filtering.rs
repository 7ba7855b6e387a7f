//! The filter of one run: the expression from the command line and `-F`,
//! compiled against this host (services, DNS, interfaces, cgroups).

use crate::config::Config;
use crate::error::CliError;
use crate::services::{self, Proto, Services};
use sockq_filter::{Env, Filter};
use sockq_model::{Family, FamilySet, Owner, Socket, TableSet};
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::Read;
use std::net::{IpAddr, ToSocketAddrs};

/// The host lookups the filter language needs.
struct HostEnv<'a> {
    cfg: &'a Config,
    /// With `--all-netns`: an interface name this namespace lacks matches
    /// no socket here (index [`NO_INTERFACE`]) instead of failing the run.
    lenient: bool,
    /// Interface names looked up (numbers aside), and those not found.
    asked: RefCell<BTreeSet<String>>,
    missing: RefCell<BTreeSet<String>>,
    /// Host names and their addresses: recorded by the host's compile and,
    /// when `replay`, answered from here, so that a namespace's compile
    /// asks DNS nothing (its resolver may be unreachable from there).
    hosts: RefCell<Vec<HostLookup>>,
    replay: bool,
}

/// One resolved host name: (name, family asked for, addresses).
type HostLookup = (String, Option<Family>, Vec<IpAddr>);

impl<'a> HostEnv<'a> {
    fn new(cfg: &'a Config, lenient: bool, hosts: Option<Vec<HostLookup>>) -> HostEnv<'a> {
        HostEnv {
            cfg,
            lenient,
            asked: RefCell::default(),
            missing: RefCell::default(),
            replay: hosts.is_some(),
            hosts: RefCell::new(hosts.unwrap_or_default()),
        }
    }
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
        if self.replay
            && let Some((_, _, v)) = self
                .hosts
                .borrow()
                .iter()
                .find(|(n, f, _)| n == name && *f == family)
        {
            return v.clone();
        }
        let v = lookup_host(name, family);
        self.hosts
            .borrow_mut()
            .push((name.to_owned(), family, v.clone()));
        v
    }

    fn interface_index(&self, name: &str) -> Option<u32> {
        let found = sockq_netlink::interface_index(name);
        // A number is an index, not a name (the compiler falls back to it).
        if sockq_filter::number(name).is_some() {
            return found;
        }
        self.asked.borrow_mut().insert(name.to_owned());
        if found.is_none() && self.lenient {
            self.missing.borrow_mut().insert(name.to_owned());
            return Some(NO_INTERFACE);
        }
        found
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
    /// With `--all-netns`, when the expression names interfaces: what it
    /// takes to compile it again inside each namespace.
    per_netns: Option<PerNetns>,
}

/// The expression and the host's lookups, for [`FilterSet::for_this_netns`].
struct PerNetns {
    src: String,
    expr: sockq_filter::Expr,
    hosts: Vec<HostLookup>,
    /// The interface names it tests.
    names: BTreeSet<String>,
}

/// The most `-F` may read (4 MiB; a filter is a few lines): `/dev/zero` or
/// a FIFO that never ends fails here instead of growing memory.
const MAX_FILTER_FILE: u64 = 4 << 20;

/// Reads `-F FILE` (or `-` for stdin): its words continue the expression.
/// Lines whose first non-blank character is `#` are comments. Unlike ss,
/// a line starting with `0` is kept.
fn read_filter_file(path: &std::path::Path) -> Result<String, CliError> {
    let (what, input): (String, Box<dyn Read>) = if path.as_os_str() == "-" {
        (
            "the filter from stdin".into(),
            Box::new(std::io::stdin().lock()),
        )
    } else {
        let f = std::fs::File::open(path).map_err(|e| {
            CliError::Usage(format!(
                "cannot read filter file {}: {e}",
                crate::sanitize::escaped(path.as_os_str().as_encoded_bytes())
            ))
        })?;
        (
            format!(
                "filter file {}",
                crate::sanitize::escaped(path.as_os_str().as_encoded_bytes())
            ),
            Box::new(f),
        )
    };
    let mut bytes = Vec::new();
    input
        .take(MAX_FILTER_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| CliError::Usage(format!("cannot read {what}: {e}")))?;
    if bytes.len() as u64 > MAX_FILTER_FILE {
        return Err(CliError::Usage(format!(
            "{what} is larger than {} MiB; a filter is a few lines",
            MAX_FILTER_FILE >> 20
        )));
    }
    // Bytes that are not UTF-8 (a unix path) are spelled `\xHH`.
    let text = crate::usage::filter_text(&bytes);
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
    // With --all-netns or -N the namespace compiles interface names itself
    // (FilterSet::for_this_netns, FilterSet::in_this_netns); here they need
    // not exist.
    let elsewhere = cfg.all_netns || cfg.net.is_some();
    let env = HostEnv::new(cfg, elsewhere, None);
    let (filter, bytecode) = compiled(cfg, &src, &expr, &env, true)?;
    let names = env.asked.take();
    let per_netns = (elsewhere && !names.is_empty()).then(|| PerNetns {
        src,
        expr,
        hosts: env.hosts.take(),
        names,
    });
    Ok(FilterSet {
        filter: Some(filter),
        bytecode,
        no_bytecode: cfg.no_bytecode,
        per_netns,
    })
}

/// Compiles a parsed expression against `env` (this thread's view of the
/// host: its network namespace for interface names); `note`: print the
/// grouping note (once per run).
fn compiled(
    cfg: &Config,
    src: &str,
    expr: &sockq_filter::Expr,
    env: &HostEnv<'_>,
    note: bool,
) -> Result<(Filter, Option<Vec<u8>>), CliError> {
    let filter = sockq_filter::compile(expr, env).map_err(|e| {
        CliError::Filter(sockq_filter::render_error(
            src,
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
    Ok((filter, bytecode))
}

fn lookup_host(name: &str, family: Option<Family>) -> Vec<IpAddr> {
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
        let Some(p) = &self.per_netns else {
            return Ok(None);
        };
        let env = HostEnv::new(cfg, true, Some(p.hosts.clone()));
        let (filter, bytecode) = compiled(cfg, &p.src, &p.expr, &env, false)?;
        let set = FilterSet {
            filter: Some(filter),
            bytecode,
            no_bytecode: self.no_bytecode,
            per_netns: None,
        };
        Ok(Some((set, env.missing.take().into_iter().collect())))
    }

    /// For `-N`: the filter built on the host, compiled again in the calling
    /// thread's namespace when it names interfaces. There, unlike with
    /// `--all-netns`, a name with no interface is the usual filter error.
    /// Host names keep the addresses looked up on the host.
    pub fn in_this_netns(self, cfg: &Config) -> Result<FilterSet, CliError> {
        let Some(p) = &self.per_netns else {
            return Ok(self);
        };
        let env = HostEnv::new(cfg, false, Some(p.hosts.clone()));
        let (filter, bytecode) = compiled(cfg, &p.src, &p.expr, &env, false)?;
        Ok(FilterSet {
            filter: Some(filter),
            bytecode,
            no_bytecode: self.no_bytecode,
            per_netns: None,
        })
    }

    /// The interface names the expression tests (for the `--all-netns` note
    /// about names no namespace has).
    pub fn interface_names(&self) -> Vec<String> {
        self.per_netns
            .as_ref()
            .map(|p| p.names.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether there is an expression at all (`-F /dev/null` gives none).
    pub fn has_expression(&self) -> bool {
        self.filter.is_some()
    }

    /// Whether the socket passes (always true without a filter).
    #[inline]
    pub fn matches(&self, s: &Socket, owners: &[Owner]) -> bool {
        self.filter.as_ref().is_none_or(|f| f.matches(s, owners))
    }

    /// [`FilterSet::matches`], with `unit`, `container` and `exe` answered
    /// by `facts`.
    #[inline]
    pub fn matches_with(
        &self,
        s: &Socket,
        owners: &[Owner],
        facts: &dyn sockq_filter::ProcessFacts,
    ) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|f| f.matches_with(s, owners, facts))
    }

    /// Whether the expression asks about owners' units, containers or binaries.
    pub fn needs_process_facts(&self) -> bool {
        self.filter
            .as_ref()
            .is_some_and(Filter::needs_process_facts)
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
