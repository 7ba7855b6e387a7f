//! Resolved configuration: what to dump, how to filter it, how to print it.
//!
//! This follows ss's selection rules (spec sections 1.1, 1.2 and 2): table
//! and family options add their default states, `-a`/`-l`/`-B` replace the
//! mask (the last one wins), `state`/`exclude` words replace that, and the
//! families and tables are then completed from each other.

use crate::args::{Args, SortKey};
use crate::error::CliError;
use clap::ArgMatches;
use sockq_model::{Family, FamilySet, State, StateSet, Table, TableSet};
use std::path::PathBuf;

/// How rows are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// ss's aligned table.
    Table,
    /// One JSON array.
    Json,
    /// One JSON object per line.
    JsonLines,
}

/// Where `--metrics` output goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MetricsTo {
    /// `--metrics`: stdout.
    Stdout,
    /// `--metrics-file PATH`: the file, replaced atomically.
    File(PathBuf),
}

/// Which details to show.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Show {
    /// `-o` (also set by `-e` and `-b`).
    pub timers: bool,
    /// `-e`.
    pub extended: bool,
    /// `-m`.
    pub memory: bool,
    /// `-i`.
    pub info: bool,
    /// `-p` (also set by `-T` and `-P`).
    pub processes: bool,
    /// `-T`.
    pub threads: bool,
    /// `-P`.
    pub process_info: bool,
    /// `-b`.
    pub bpf: bool,
    /// `--tos`.
    pub tos: bool,
    /// `--cgroup`.
    pub cgroup: bool,
    /// `--inet-sockopt`.
    pub inet_sockopt: bool,
}

/// Everything `run` needs, resolved from the command line.
#[derive(Debug)]
pub struct Config {
    /// Tables to dump.
    pub tables: TableSet,
    /// Families to dump.
    pub families: FamilySet,
    /// State mask sent to the kernel and checked in user space.
    pub states: StateSet,
    /// The family used to read filter values without a prefix (ss's preferred family).
    pub preferred_family: Option<Family>,
    /// Filter words left after `state`/`exclude` (joined later).
    pub filter_words: Vec<String>,
    /// Whether the states came from an explicit selection (`-a`, `-l`, `state …`).
    pub explicit_states: bool,
    /// `-n`.
    pub numeric: bool,
    /// `-r`.
    pub resolve: bool,
    /// Print the header.
    pub header: bool,
    /// Print Recv-Q/Send-Q.
    pub queues: bool,
    /// `-O`.
    pub oneline: bool,
    /// Details.
    pub show: Show,
    /// Output format.
    pub format: Format,
    /// `--sort`.
    pub sort: Option<SortKey>,
    /// `-s`.
    pub summary: bool,
    /// `--explain`.
    pub explain: bool,
    /// `-D FILE`.
    pub diag_file: Option<PathBuf>,
    /// `--replay FILE`: the TCP table from a `-D` dump, read whole.
    pub replay: Option<PathBuf>,
    /// `-F FILE`.
    pub filter_file: Option<PathBuf>,
    /// `-N`.
    pub net: Option<std::ffi::OsString>,
    /// `--all-netns`.
    pub all_netns: bool,
    /// Whether `state`/`exclude` words were given (what `-K` accepts as a
    /// selection besides an expression).
    pub state_words: bool,
    /// `-K`.
    pub kill: bool,
    /// `--dry-run`.
    pub dry_run: bool,
    /// `-E`.
    pub events: bool,
    /// Send no bytecode (`--no-bytecode` or SOCKQ_NO_BYTECODE=1).
    pub no_bytecode: bool,
    /// Whether any table or family option was given.
    pub explicit_tables: bool,
    /// `--metrics` or `--metrics-file`: where the exposition goes.
    pub metrics: Option<MetricsTo>,
    /// The tables the user named one by one (`-S`, `--vsock`, `-f xdp`,
    /// `-A sctp`; not `-a`, `-f inet` or `-A all`): a missing diag module is
    /// reported only for these.
    pub named_tables: TableSet,
}

fn last_index(m: &ArgMatches, id: &str) -> Option<usize> {
    if m.value_source(id) != Some(clap::parser::ValueSource::CommandLine) {
        return None;
    }
    m.indices_of(id).and_then(|i| i.max())
}

fn first_index(m: &ArgMatches, id: &str) -> Option<usize> {
    if m.value_source(id) != Some(clap::parser::ValueSource::CommandLine) {
        return None;
    }
    m.indices_of(id).and_then(|mut i| i.next())
}

/// `--metrics`/`--metrics-file`, and the options they exclude: they are an
/// output format of their own, a snapshot written once.
fn metrics_destination(a: &Args) -> Result<Option<MetricsTo>, CliError> {
    let dest = match (a.metrics, &a.metrics_file) {
        (false, None) => return Ok(None),
        (true, Some(_)) => {
            return Err(CliError::Usage(
                "--metrics prints and --metrics-file writes a file: use one of them".into(),
            ));
        }
        (true, None) => MetricsTo::Stdout,
        (false, Some(p)) => MetricsTo::File(p.clone()),
    };
    let flag = if a.metrics {
        "--metrics"
    } else {
        "--metrics-file"
    };
    let other = [
        (a.json, "--json"),
        (a.json_lines, "--json-lines"),
        (a.events, "-E"),
        (a.kill, "-K"),
        (a.summary, "-s"),
        (a.diag.is_some(), "-D"),
    ];
    if let Some((_, o)) = other.iter().find(|(on, _)| *on) {
        return Err(CliError::Usage(format!(
            "{flag} is an output of its own and cannot be combined with {o}"
        )));
    }
    Ok(Some(dest))
}

impl Config {
    /// Resolves the flags. `m` is the raw clap match, used only for the
    /// order of options, which ss's rules depend on.
    pub fn new(a: &Args, m: &ArgMatches) -> Result<Config, CliError> {
        if a.context || a.contexts {
            return Err(CliError::Runtime(
                "SELinux is not enabled: -Z and -z are not supported".into(),
            ));
        }
        let mut tables = TableSet::EMPTY;
        let mut families = FamilySet::EMPTY;
        let mut states = StateSet::EMPTY;
        let mut explicit_tables = false;
        let mut named_tables = TableSet::EMPTY;
        // Every table/family option in command-line order, for "last wins"
        // and for the first -A that clears what came before it.
        let first_query = first_index(m, "query");
        let mut preferred: Option<(usize, Family)> = None;
        let table_flags: [(&str, bool, Table); 8] = [
            ("tcp", a.tcp, Table::Tcp),
            ("udp", a.udp, Table::Udp),
            ("udplite", a.udplite, Table::UdpLite),
            ("raw", a.raw, Table::Raw),
            ("dccp", a.dccp, Table::Dccp),
            ("sctp", a.sctp, Table::Sctp),
            ("mptcp", a.mptcp, Table::Mptcp),
            ("xdp", a.xdp, Table::Xdp),
        ];
        for (id, on, t) in table_flags {
            if !on {
                continue;
            }
            explicit_tables = true;
            named_tables = named_tables.with(t);
            // A table flag before the first -A is cleared by it.
            if let (Some(q), Some(i)) = (first_query, last_index(m, id))
                && i < q
            {
                continue;
            }
            tables = tables.with(t);
            states = states.union(t.default_states());
        }
        let mut fam_opts: Vec<(usize, Family)> = Vec::new();
        let fam_flags: [(&str, bool, Family); 6] = [
            ("unix", a.unix, Family::Unix),
            ("packet", a.packet, Family::Packet),
            ("vsock", a.vsock, Family::Vsock),
            ("tipc", a.tipc, Family::Tipc),
            ("ipv4", a.ipv4, Family::Inet),
            ("ipv6", a.ipv6, Family::Inet6),
        ];
        for (id, on, f) in fam_flags {
            if on {
                fam_opts.push((last_index(m, id).unwrap_or(0), f));
            }
        }
        if let Some(idx) = m.indices_of("family") {
            for (i, name) in idx.zip(a.family.iter()) {
                if name == "help" {
                    return Err(CliError::Usage(
                        "families: inet, inet6, link, unix, netlink, vsock, tipc, xdp".into(),
                    ));
                }
                let f = Family::parse_name(name).ok_or_else(|| {
                    CliError::Usage(format!(
                        "\"{}\" is invalid family (expected inet, inet6, link, unix, netlink, vsock, tipc or xdp)",
                        crate::sanitize::escaped(name.as_bytes())
                    ))
                })?;
                fam_opts.push((i, f));
            }
        }
        fam_opts.sort_by_key(|(i, _)| *i);
        for (i, f) in &fam_opts {
            explicit_tables = true;
            // Families of their own tables name them (vsock, tipc, xdp);
            // inet and inet6 name no single table.
            if !matches!(f, Family::Inet | Family::Inet6) {
                named_tables = named_tables.union(f.tables());
            }
            families = families.with(*f);
            states = states.union(f.default_states());
            preferred = Some((*i, *f));
        }
        // -A: a comma list of table ids; `!` removes. The first -A clears
        // the set, and sets the state mask to SS_CONN unless -a/-l/-B came first.
        if !a.query.is_empty() {
            explicit_tables = true;
            let mut q = TableSet::EMPTY;
            for word in &a.query {
                for id in word.split(',') {
                    let (neg, id) = match id.strip_prefix('!') {
                        Some(rest) => (true, rest),
                        None => (false, id),
                    };
                    let set = TableSet::parse_query_id(id)
                        .ok_or_else(|| CliError::Usage(crate::usage::bad_query_id(id)))?;
                    q = if neg { q.minus(set) } else { q.union(set) };
                    if !neg && !matches!(id, "all" | "inet") {
                        named_tables = named_tables.union(set);
                    }
                }
            }
            // Table flags after the first -A were kept above.
            tables = tables.union(q);
            let state_before = ["all", "listening", "bound_inactive"]
                .iter()
                .filter_map(|id| last_index(m, id))
                .any(|i| Some(i) < first_query);
            if !state_before {
                states = states.union(StateSet::CONN);
            }
        }
        // -a / -l / -B: the last one wins and replaces the mask.
        let mut explicit_states = false;
        let state_opts = [
            ("all", a.all, StateSet::ALL),
            ("listening", a.listening, StateSet::LISTENING),
            ("bound_inactive", a.bound_inactive, StateSet::BOUND_INACTIVE),
        ];
        let mut chosen: Option<(usize, StateSet)> = None;
        for (id, on, set) in state_opts {
            if on {
                let i = last_index(m, id).unwrap_or(0);
                if chosen.is_none_or(|(j, _)| i >= j) {
                    chosen = Some((i, set));
                }
            }
        }
        let default_mask = chosen.map(|(_, s)| s);
        if tables.is_empty() && families.is_empty() {
            tables = TableSet::all();
            states = default_mask.unwrap_or(StateSet::CONN);
        } else if let Some(s) = default_mask {
            states = s;
        }
        if default_mask.is_some() {
            explicit_states = true;
        }
        // state/exclude words, before the expression.
        let words: Vec<String> = a
            .filter
            .iter()
            .map(|w| crate::usage::filter_text(w.as_encoded_bytes()))
            .collect();
        let (words_mask, rest) =
            sockq_filter::peel_state_words(&words).map_err(|e| CliError::Usage(e.to_string()))?;
        let state_words = words_mask.is_some();
        if let Some(mask) = words_mask {
            states = mask;
            explicit_states = true;
        }
        // --replay: the file holds TCP replies only.
        if a.replay.is_some() {
            let inet = families.contains(Family::Inet) || families.contains(Family::Inet6);
            tables = if tables.contains(Table::Tcp) || (tables.is_empty() && inet) {
                TableSet::of(&[Table::Tcp])
            } else {
                TableSet::EMPTY
            };
            if tables.is_empty() {
                return Err(CliError::Usage(
                    "--replay replays TCP replies: select TCP (-t) or no table".into(),
                ));
            }
        }
        // filter_merge_defaults: complete families from tables and back.
        for t in Table::ALL {
            if tables.contains(t) && FamilySet(families.0 & t.families().0).is_empty() {
                families = FamilySet(families.0 | t.families().0);
            }
        }
        for f in Family::ALL {
            if families.contains(f) && (tables.0 & f.tables().0) == 0 {
                tables = tables.union(f.tables());
            }
        }
        // Drop tables none of whose families survived (e.g. -t -x keeps both).
        for t in Table::ALL {
            if tables.contains(t) && FamilySet(families.0 & t.families().0).is_empty() {
                tables = tables.minus(TableSet::of(&[t]));
            }
        }
        let format = if a.json_lines {
            Format::JsonLines
        } else if a.json {
            Format::Json
        } else {
            Format::Table
        };
        let show = Show {
            timers: a.options || a.extended || a.bpf,
            extended: a.extended,
            memory: a.memory,
            info: a.info,
            processes: a.processes || a.threads || a.process_info || a.sort == Some(SortKey::Pid),
            threads: a.threads,
            process_info: a.process_info,
            bpf: a.bpf,
            tos: a.tos,
            cgroup: a.cgroup,
            inet_sockopt: a.inet_sockopt,
        };
        if a.dry_run && !a.kill {
            return Err(CliError::Usage("--dry-run only goes with -K".into()));
        }
        if a.replay.is_some() {
            let other = [
                (a.kill, "-K"),
                (a.events, "-E"),
                (a.diag.is_some(), "-D"),
                (a.all_netns, "--all-netns"),
                (a.net.is_some(), "-N"),
            ];
            if let Some((_, flag)) = other.iter().find(|(on, _)| *on) {
                return Err(CliError::Usage(format!(
                    "--replay shows a saved dump: {flag} cannot be combined with it"
                )));
            }
        }
        if a.kill && a.events {
            return Err(CliError::Usage("-K and -E cannot be combined".into()));
        }
        if a.all_netns {
            let other = [
                (a.kill, "-K"),
                (a.events, "-E"),
                (a.summary, "-s"),
                (a.diag.is_some(), "-D"),
            ];
            if let Some((_, flag)) = other.iter().find(|(on, _)| *on) {
                return Err(CliError::Usage(format!(
                    "{flag} works on one namespace: use -N NETNS instead of --all-netns"
                )));
            }
        }
        let metrics = metrics_destination(a)?;
        if a.events && a.sort.is_some() {
            return Err(CliError::Usage(
                "--sort cannot order events that have not happened yet".into(),
            ));
        }
        let no_bytecode =
            a.no_bytecode || std::env::var_os("SOCKQ_NO_BYTECODE").is_some_and(|v| v == "1");
        Ok(Config {
            tables,
            families,
            states,
            preferred_family: preferred.map(|(_, f)| f),
            filter_words: rest,
            explicit_states,
            numeric: a.numeric,
            resolve: a.resolve,
            header: !a.no_header,
            queues: !a.no_queues,
            oneline: a.oneline,
            show,
            format,
            sort: a.sort,
            summary: a.summary,
            explain: a.explain,
            diag_file: a.diag.clone(),
            replay: a.replay.clone(),
            filter_file: a.filter_file.clone(),
            net: a.net.clone(),
            all_netns: a.all_netns,
            state_words,
            kill: a.kill,
            dry_run: a.dry_run,
            events: a.events,
            no_bytecode,
            explicit_tables,
            metrics,
            named_tables,
        })
    }

    /// The inet families to query for an inet table, in dump order.
    pub fn inet_families(&self) -> impl Iterator<Item = Family> + '_ {
        [Family::Inet, Family::Inet6]
            .into_iter()
            .filter(|f| self.families.contains(*f))
    }

    /// Whether the Netid column is shown: hidden when exactly one table is selected.
    pub fn show_netid(&self) -> bool {
        self.tables.len() != 1
    }

    /// Whether the State column is shown: hidden when exactly one state is selected.
    pub fn show_state(&self) -> bool {
        !self.states.is_single()
    }

    /// Whether a state is selected.
    pub fn wants_state(&self, s: State) -> bool {
        self.states.contains(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    fn cfg(args: &[&str]) -> Config {
        let mut v = vec!["sockq"];
        v.extend_from_slice(args);
        let m = Args::command()
            .try_get_matches_from(v)
            .unwrap_or_else(|e| panic!("{e}"));
        let a = Args::from_arg_matches(&m).unwrap_or_else(|e| panic!("{e}"));
        Config::new(&a, &m).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn default_is_all_tables_connected() {
        let c = cfg(&[]);
        assert_eq!(c.tables, TableSet::all());
        assert_eq!(c.states, StateSet::CONN);
        assert!(c.show_netid());
    }

    #[test]
    fn tcp_listening() {
        let c = cfg(&["-tl"]);
        assert_eq!(c.tables, TableSet::of(&[Table::Tcp]));
        assert_eq!(c.states, StateSet::LISTENING);
        assert!(c.families.contains(Family::Inet) && c.families.contains(Family::Inet6));
        assert!(!c.show_netid());
        assert!(c.show_state());
    }

    #[test]
    fn ipv4_alone_gives_inet_tables_over_v4() {
        let c = cfg(&["-4"]);
        assert!(c.tables.contains(Table::Tcp) && c.tables.contains(Table::Udp));
        assert!(!c.tables.contains(Table::UnixStream));
        assert!(c.families.contains(Family::Inet));
        assert!(!c.families.contains(Family::Inet6));
    }

    #[test]
    fn four_and_six_list_both() {
        let c = cfg(&["-t", "-4", "-6"]);
        assert_eq!(c.inet_families().count(), 2);
        assert_eq!(c.preferred_family, Some(Family::Inet6));
    }

    #[test]
    fn unix_and_tcp() {
        let c = cfg(&["-x", "-t"]);
        assert!(c.tables.contains(Table::Tcp));
        assert!(c.tables.contains(Table::UnixStream));
        assert!(c.families.contains(Family::Inet6));
    }

    #[test]
    fn query_clears_earlier_tables() {
        let c = cfg(&["-t", "-A", "udp"]);
        assert_eq!(c.tables, TableSet::of(&[Table::Udp]));
        let c = cfg(&["-A", "udp", "-t"]);
        assert_eq!(c.tables, TableSet::of(&[Table::Udp, Table::Tcp]));
        let c = cfg(&["-A", "all,!unix"]);
        assert!(!c.tables.contains(Table::UnixStream));
        assert!(c.tables.contains(Table::Netlink));
    }

    #[test]
    fn last_state_option_wins() {
        assert_eq!(cfg(&["-t", "-a", "-l"]).states, StateSet::LISTENING);
        assert_eq!(cfg(&["-t", "-l", "-a"]).states, StateSet::ALL);
    }

    #[test]
    fn state_words_override() {
        let c = cfg(&["-ta", "state", "established", "( sport = :80 )"]);
        assert_eq!(c.states, StateSet::of(State::Established));
        assert_eq!(c.filter_words, vec!["( sport = :80 )".to_string()]);
        assert!(!c.show_state());
    }

    #[test]
    fn udp_defaults_to_established() {
        assert_eq!(cfg(&["-u"]).states, StateSet::of(State::Established));
    }

    #[test]
    fn named_tables_are_the_ones_given_one_by_one() {
        for args in [
            &["-a"][..],
            &["-ln"],
            &["-f", "inet"],
            &["-A", "all"],
            &["-A", "inet"],
        ] {
            assert_eq!(cfg(args).named_tables, TableSet::EMPTY, "{args:?}");
        }
        assert!(cfg(&["-S"]).named_tables.contains(Table::Sctp));
        assert!(cfg(&["--xdp"]).named_tables.contains(Table::Xdp));
        assert!(cfg(&["--vsock"]).named_tables.contains(Table::VsockStream));
        assert!(
            cfg(&["-f", "vsock"])
                .named_tables
                .contains(Table::VsockDgram)
        );
        assert!(cfg(&["-A", "dccp,tcp"]).named_tables.contains(Table::Dccp));
        assert!(
            !cfg(&["-A", "inet,!dccp"])
                .named_tables
                .contains(Table::Dccp)
        );
    }

    #[test]
    fn replay_is_the_tcp_table() {
        let tcp = TableSet::of(&[Table::Tcp]);
        for args in [
            &["--replay", "f"][..],
            &["-a", "--replay", "f"],
            &["-4", "--replay", "f"],
            &["-t", "--replay", "f"],
            &["-tu", "--replay", "f"],
        ] {
            assert_eq!(cfg(args).tables, tcp, "{args:?}");
        }
        assert_eq!(
            cfg(&["-6", "--replay", "f"]).families,
            FamilySet::of(&[Family::Inet6])
        );
    }
}
