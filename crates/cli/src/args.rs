//! The command line, as close to ss's flags as clap allows.
//!
//! Nothing here makes a syscall: [`crate::config::Config`] turns these flags
//! into what to dump and how to print it.

use clap::{ArgAction, Parser};
use std::path::PathBuf;

/// Output format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SortKey {
    /// Local port, then local address.
    Lport,
    /// Peer port.
    Pport,
    /// State, in kernel order.
    State,
    /// Receive queue, largest first.
    RecvQ,
    /// Send queue, largest first.
    SendQ,
    /// Lowest owning pid (implies -p).
    Pid,
    /// Socket inode.
    Inode,
}

/// Investigate sockets, the way ss does, plus JSON, processes and every namespace.
///
/// FILTER is `[ state STATE-FILTER ] [ EXPRESSION ]`, ss's language:
/// `sockq -tlnp '( sport = :80 )'`, `sockq state established '( dport = :ssh )'`.
/// See docs/filter-language.md.
#[derive(Parser, Debug, Default)]
#[command(
    name = "sockq",
    version,
    disable_version_flag = true,
    args_override_self = true,
    infer_long_args = true,
    max_term_width = 100,
    after_help = "Exit status: 0 success (also when nothing matched), 1 runtime error, 2 usage or filter error."
)]
pub struct Args {
    /// Print the version and exit.
    #[arg(short = 'V', long, short_alias = 'v', action = ArgAction::Version, help_heading = "General")]
    pub version: Option<bool>,

    // ---- Output ----
    /// Don't resolve service names.
    #[arg(short = 'n', long, help_heading = "Output")]
    pub numeric: bool,
    /// Resolve host names (reverse DNS, bounded wait).
    #[arg(short = 'r', long, help_heading = "Output")]
    pub resolve: bool,
    /// Don't print the header line.
    #[arg(short = 'H', long = "no-header", help_heading = "Output")]
    pub no_header: bool,
    /// Don't print the Recv-Q and Send-Q columns.
    #[arg(short = 'Q', long = "no-queues", help_heading = "Output")]
    pub no_queues: bool,
    /// Keep each socket on one line.
    #[arg(short = 'O', long, help_heading = "Output")]
    pub oneline: bool,
    /// Print one JSON array of socket objects (docs/json.md).
    #[arg(short = 'j', long, help_heading = "Output")]
    pub json: bool,
    /// Print one JSON object per line.
    #[arg(long = "json-lines", conflicts_with = "json", help_heading = "Output")]
    pub json_lines: bool,
    /// Print the selected sockets as Prometheus text exposition: counts per
    /// listener and service port, never per connection (docs/metrics.md).
    #[arg(long, help_heading = "Output")]
    pub metrics: bool,
    /// Write the --metrics exposition to PATH, replaced atomically (for
    /// node_exporter's textfile collector, docs/fleet.md).
    #[arg(long = "metrics-file", value_name = "PATH", help_heading = "Output")]
    pub metrics_file: Option<PathBuf>,
    /// Sort rows (holds all rows in memory).
    #[arg(long, value_enum, value_name = "KEY", help_heading = "Output")]
    pub sort: Option<SortKey>,
    /// Print the parsed filter and the kernel bytecode, then exit.
    #[arg(long, help_heading = "Output")]
    pub explain: bool,

    // ---- Details ----
    /// Show timer information.
    #[arg(short = 'o', long, help_heading = "Socket details")]
    pub options: bool,
    /// Show detailed socket information (implies -o).
    #[arg(short = 'e', long, help_heading = "Socket details")]
    pub extended: bool,
    /// Show socket memory usage.
    #[arg(short = 'm', long, help_heading = "Socket details")]
    pub memory: bool,
    /// Show internal TCP information.
    #[arg(short = 'i', long, help_heading = "Socket details")]
    pub info: bool,
    /// Show the processes using each socket.
    #[arg(short = 'p', long, help_heading = "Socket details")]
    pub processes: bool,
    /// Show the threads using each socket (implies -p).
    #[arg(short = 'T', long, help_heading = "Socket details")]
    pub threads: bool,
    /// Show each owning process: binary, cwd, command line, log files (implies -p).
    #[arg(short = 'P', long = "process-info", help_heading = "Socket details")]
    pub process_info: bool,
    /// Show bpf filters of packet sockets (implies -o).
    #[arg(short = 'b', long, help_heading = "Socket details")]
    pub bpf: bool,
    /// Show ToS and priority information.
    #[arg(long, help_heading = "Socket details")]
    pub tos: bool,
    /// Show the cgroup path.
    #[arg(long, help_heading = "Socket details")]
    pub cgroup: bool,
    /// Show inet socket options.
    #[arg(long = "inet-sockopt", help_heading = "Socket details")]
    pub inet_sockopt: bool,
    /// Show TIPC socket details.
    #[arg(long, help_heading = "Socket details")]
    pub tipcinfo: bool,
    /// Show a summary of socket counts.
    #[arg(short = 's', long, help_heading = "Socket details")]
    pub summary: bool,

    // ---- Tables and families ----
    /// TCP sockets.
    #[arg(short = 't', long, help_heading = "Socket tables")]
    pub tcp: bool,
    /// UDP sockets.
    #[arg(short = 'u', long, help_heading = "Socket tables")]
    pub udp: bool,
    /// UDP-Lite sockets.
    #[arg(long, help_heading = "Socket tables")]
    pub udplite: bool,
    /// RAW sockets.
    #[arg(short = 'w', long, help_heading = "Socket tables")]
    pub raw: bool,
    /// DCCP sockets.
    #[arg(short = 'd', long, help_heading = "Socket tables")]
    pub dccp: bool,
    /// SCTP sockets.
    #[arg(short = 'S', long, help_heading = "Socket tables")]
    pub sctp: bool,
    /// MPTCP sockets.
    #[arg(short = 'M', long, help_heading = "Socket tables")]
    pub mptcp: bool,
    /// Unix domain sockets.
    #[arg(short = 'x', long, help_heading = "Socket tables")]
    pub unix: bool,
    /// Packet sockets.
    #[arg(short = '0', long, help_heading = "Socket tables")]
    pub packet: bool,
    /// vsock sockets.
    #[arg(long, help_heading = "Socket tables")]
    pub vsock: bool,
    /// TIPC sockets.
    #[arg(long, help_heading = "Socket tables")]
    pub tipc: bool,
    /// XDP sockets.
    #[arg(long, help_heading = "Socket tables")]
    pub xdp: bool,
    /// IPv4 only.
    #[arg(short = '4', long, help_heading = "Socket tables")]
    pub ipv4: bool,
    /// IPv6 only (with -4: both families).
    #[arg(short = '6', long, help_heading = "Socket tables")]
    pub ipv6: bool,
    /// Family: inet, inet6, link, unix, netlink, vsock, tipc, xdp (repeatable).
    #[arg(
        short = 'f',
        long,
        value_name = "FAMILY",
        help_heading = "Socket tables"
    )]
    pub family: Vec<String>,
    /// Tables: all, inet, tcp, udp, raw, unix, packet, netlink, ... (comma list, `!` removes).
    #[arg(
        short = 'A',
        long = "query",
        alias = "socket",
        value_name = "QUERY",
        help_heading = "Socket tables"
    )]
    pub query: Vec<String>,

    // ---- States ----
    /// Display all sockets.
    #[arg(short = 'a', long, help_heading = "States")]
    pub all: bool,
    /// Display listening sockets.
    #[arg(short = 'l', long, help_heading = "States")]
    pub listening: bool,
    /// Display TCP sockets that are bound but inactive.
    #[arg(short = 'B', long = "bound-inactive", help_heading = "States")]
    pub bound_inactive: bool,

    // ---- Sources ----
    /// Dump raw TCP replies into FILE (- for stdout), then exit.
    #[arg(
        short = 'D',
        long = "diag",
        value_name = "FILE",
        // -D writes replies and exits: any other mode would be silently ignored.
        conflicts_with_all = ["events", "kill", "summary", "json", "json_lines", "dry_run"],
        help_heading = "Input and namespaces"
    )]
    pub diag: Option<PathBuf>,
    /// Replay a -D dump as the TCP table: every message (both families), with the state mask and -4/-6.
    #[arg(long, value_name = "FILE", help_heading = "Input and namespaces")]
    pub replay: Option<PathBuf>,
    /// Read more filter words from FILE (- for stdin).
    #[arg(
        short = 'F',
        long = "filter",
        value_name = "FILE",
        help_heading = "Input and namespaces"
    )]
    pub filter_file: Option<PathBuf>,
    /// Switch to a network namespace: NAME, a path, or pid:PID.
    #[arg(
        short = 'N',
        long = "net",
        value_name = "NETNS",
        // A path need not be UTF-8.
        value_parser = clap::value_parser!(std::ffi::OsString),
        help_heading = "Input and namespaces"
    )]
    pub net: Option<std::ffi::OsString>,
    /// Every network namespace on the host, with a Netns column (beyond ss).
    #[arg(
        long = "all-netns",
        conflicts_with = "net",
        help_heading = "Input and namespaces"
    )]
    pub all_netns: bool,

    // ---- Actions ----
    /// Forcibly close the matching sockets (needs a filter or a state).
    #[arg(
        short = 'K',
        long,
        conflicts_with = "summary",
        help_heading = "Actions"
    )]
    pub kill: bool,
    /// With -K: show what would be closed, close nothing.
    #[arg(long = "dry-run", help_heading = "Actions")]
    pub dry_run: bool,
    /// Follow destroyed sockets.
    #[arg(
        short = 'E',
        long,
        conflicts_with = "summary",
        help_heading = "Actions"
    )]
    pub events: bool,

    /// Show SELinux contexts (not supported: no SELinux here).
    #[arg(short = 'Z', long, hide = true)]
    pub context: bool,
    /// Show SELinux socket contexts (not supported).
    #[arg(short = 'z', long, hide = true)]
    pub contexts: bool,

    /// Disable kernel bytecode: filter in user space only (for testing).
    #[arg(long = "no-bytecode", hide = true)]
    pub no_bytecode: bool,

    /// Print shell completions (bash, zsh, fish) or the man page (man), then exit.
    #[arg(long, value_name = "WHAT", hide = true, value_parser = ["bash", "zsh", "fish", "man"])]
    pub generate: Option<String>,

    /// `[ state STATE-FILTER ] [ EXPRESSION ]`
    // OsString: a unix path that is not UTF-8 is a valid value.
    #[arg(value_name = "FILTER", value_parser = clap::value_parser!(std::ffi::OsString))]
    pub filter: Vec<std::ffi::OsString>,
}
