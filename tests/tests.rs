//! End-to-end tests: they run the `sockq` binary on real sockets.
//!
//! Tests that need root (network namespaces, other users' processes, kill)
//! skip with a printed reason when not root, and fail instead under `CI=true`.

/// Shared helpers: running sockq and ss, test namespaces, socket fixtures.
mod util;

/// Malformed command lines and expressions: exact messages and exit codes.
mod bad_input;
/// Churn: connections opening and closing under `-p` dumps; memory per run.
mod churn;
/// Command-line behaviour: exit codes, usage errors, broken pipes.
mod cli;
/// Issue 14, the command line: -K with an empty -F, conflicting modes,
/// helpful usage errors, non-UTF-8 arguments, completions, the man page.
mod cli_fidelity;
/// Socket details (-o, -e, -m, -i, unix, packet, netlink, -s) against ss, live.
mod details;
/// sockq's rows against ss's rows for the same sockets (inet tables).
mod differential;
/// `-E` into a closed pipe, lost events (ENOBUFS); dumps into `| head`.
mod events;
/// Features run end to end nowhere else: sockq-only predicates, -K selection, --sort keys,
/// selection flags, states, --explain, -D -, COLUMNS, abbreviations, -E --json-lines.
mod features;
/// Regressions from hostile use: bound-inactive, interface bytes, /proc raw rows, endless
/// inputs, --all-netns races and privilege, warnings and owner notices.
mod fidelity;
/// The filter language end to end: ssfilter.t replay, live expressions.
mod filter;
/// Who a process is and where its output goes: podman, systemd units, tee, the journal.
mod identity;
/// --metrics and --metrics-file: promtool, node_exporter and Prometheus.
mod metrics;
/// Namespaces (-N, --all-netns), -K, -E and --sort.
mod namespaces;
/// JSON schema, jc on sockq's text, -r, escaping of hostile names.
mod output;
/// Partial privilege: sockq's commands as `nobody`.
mod privilege;
/// Process ownership: -p, -T, the process-info block, nginx.
mod process;
/// iproute2's own testsuite (ssfilter.t) run verbatim with sockq as `$SS`.
mod testsuite;
