//! `--generate`: shell completions (bash, zsh, fish) and the man page.
//!
//! The option lists come from the clap definitions, so they cannot drift.
//! clap_complete alone completes file names for every value; here `-f`,
//! `-A`, `-N` and the `state`/`exclude` words complete what they take:
//! zsh and fish post-process clap_complete's script, bash is written here
//! (its generated script has no hook for a value's candidates).

use crate::args::{Args, SortKey};
use crate::error::CliError;
use crate::usage::{FAMILIES, QUERY_IDS, STATE_GROUPS, STATES, state_words};
use clap::{Arg, Command, CommandFactory, ValueEnum};

/// Words that may start a filter term (besides `state` and `exclude`).
pub const FILTER_FIELDS: &[&str] = &[
    "sport",
    "dport",
    "src",
    "dst",
    "dev",
    "fwmark",
    "cgroup",
    "autobound",
    "uid",
    "user",
    "inode",
    "rqueue",
    "squeue",
    "pid",
    "comm",
];

/// Where `-N NAME` looks for named namespaces (as `ip netns`).
const NETNS_DIR: &str = "/var/run/netns";

/// The text `--generate WHAT` prints.
pub fn text(what: &str) -> Result<String, CliError> {
    let cmd = Args::command();
    match what {
        "bash" => Ok(bash(&cmd)),
        "zsh" => zsh(cmd),
        "fish" => fish(cmd),
        "man" => Ok(man(&cmd)),
        other => Err(CliError::Usage(format!(
            "--generate takes bash, zsh, fish or man, not \"{other}\""
        ))),
    }
}

/// `--generate WHAT` to stdout.
pub fn generate(what: &str) -> Result<(), CliError> {
    use std::io::Write as _;
    let text = text(what)?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(())
}

fn sort_keys() -> Vec<String> {
    SortKey::value_variants()
        .iter()
        .filter_map(|k| k.to_possible_value())
        .map(|v| v.get_name().to_string())
        .collect()
}

fn visible_args(cmd: &Command) -> impl Iterator<Item = &Arg> {
    cmd.get_arguments().filter(|a| !a.is_hide_set())
}

fn filter_words() -> String {
    let mut v = vec!["state", "exclude"];
    v.extend_from_slice(FILTER_FIELDS);
    v.join(" ")
}

fn states_line() -> String {
    state_words().collect::<Vec<_>>().join(" ")
}

/// clap_complete's script for `shell`, in memory (it panics on a failed
/// write; a closed pipe is an ordinary error here).
fn clap_script(shell: clap_complete::Shell, mut cmd: Command) -> Result<String, CliError> {
    let mut v = Vec::new();
    clap_complete::generate(shell, &mut cmd, "sockq", &mut v);
    String::from_utf8(v).map_err(|e| CliError::Runtime(format!("completion script: {e}")))
}

/// Replaces `from` by `to`, which must occur: a clap_complete upgrade that
/// changes its output fails the tests instead of losing the candidates.
fn must_replace(text: &mut String, from: &str, to: &str) -> Result<(), CliError> {
    if !text.contains(from) {
        return Err(CliError::Runtime(format!(
            "completion script: clap_complete's output changed (no {from:?})"
        )));
    }
    *text = text.replace(from, to);
    Ok(())
}

fn bash(cmd: &Command) -> String {
    let mut opts: Vec<String> = Vec::new();
    for a in visible_args(cmd) {
        if let Some(s) = a.get_short() {
            opts.push(format!("-{s}"));
        }
        if let Some(l) = a.get_long() {
            opts.push(format!("--{l}"));
        }
    }
    opts.push("--help".into());
    opts.push("-h".into());
    format!(
        r#"# bash completion for sockq (sockq --generate bash)

_sockq_netns() {{
    local f
    for f in {NETNS_DIR}/*; do
        [[ -e $f ]] && printf '%s\n' "${{f##*/}}"
    done
}}

_sockq() {{
    local cur="${{COMP_WORDS[COMP_CWORD]}}" prev="" prev2=""
    (( COMP_CWORD > 0 )) && prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    (( COMP_CWORD > 1 )) && prev2="${{COMP_WORDS[COMP_CWORD-2]}}"
    COMPREPLY=()
    case "$prev" in
        -f|--family|-[!-]*f)
            COMPREPLY=($(compgen -W "{families}" -- "$cur"))
            return 0 ;;
        -A|--query|--socket|-[!-]*A)
            # A comma list; `!` before an id removes it.
            local head="" last="$cur" neg=""
            if [[ $cur == *,* ]]; then head="${{cur%,*}},"; last="${{cur##*,}}"; fi
            if [[ $last == '!'* ]]; then neg='!'; last="${{last#!}}"; fi
            COMPREPLY=($(compgen -P "$head$neg" -W "{ids}" -- "$last"))
            return 0 ;;
        -N|--net|-[!-]*N)
            if [[ $cur == pid:* ]]; then
                COMPREPLY=($(compgen -P pid: -W "$(cd /proc 2>/dev/null && echo [0-9]*)" -- "${{cur#pid:}}"))
            elif [[ $cur == */* || $cur == .* ]]; then
                COMPREPLY=($(compgen -f -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$(_sockq_netns) pid:" -- "$cur"))
            fi
            # `pid:` alone is to be continued, not ended with a space.
            if [[ ${{#COMPREPLY[@]}} -eq 1 && ${{COMPREPLY[0]}} == pid: ]]; then
                compopt -o nospace 2>/dev/null
            fi
            return 0 ;;
        -D|--diag|-F|--filter|-[!-]*D|-[!-]*F)
            COMPREPLY=($(compgen -f -- "$cur"))
            return 0 ;;
        --sort)
            COMPREPLY=($(compgen -W "{sort}" -- "$cur"))
            return 0 ;;
        --generate)
            COMPREPLY=($(compgen -W "bash zsh fish man" -- "$cur"))
            return 0 ;;
        state|exclude)
            if [[ $prev2 != --sort ]]; then
                COMPREPLY=($(compgen -W "{states}" -- "$cur"))
                return 0
            fi ;;
    esac
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "{opts}" -- "$cur"))
        return 0
    fi
    COMPREPLY=($(compgen -W "{words}" -- "$cur"))
    return 0
}}

complete -F _sockq sockq
"#,
        families = FAMILIES.join(" "),
        ids = QUERY_IDS.join(" "),
        sort = sort_keys().join(" "),
        states = states_line(),
        opts = opts.join(" "),
        words = filter_words(),
    )
}

fn zsh(cmd: Command) -> Result<String, CliError> {
    let mut s = clap_script(clap_complete::Shell::Zsh, cmd)?;
    let helpers = format!(
        r#"autoload -U is-at-least

_sockq_netns() {{
    local -a ns pids
    if [[ $PREFIX == pid:* ]]; then
        pids=( /proc/<->(N:t) )
        compset -P 'pid:'
        compadd -a pids
    elif [[ $PREFIX == */* || $PREFIX == .* ]]; then
        _files
    else
        ns=( {NETNS_DIR}/*(N:t) )
        compadd -a ns
        compadd -S '' pid:
    fi
}}

_sockq_query() {{
    compset -P '*,'
    compset -P '!'
    compadd -- {ids}
}}

_sockq_filter() {{
    if [[ ${{words[CURRENT-1]}} == (state|exclude) ]]; then
        compadd -- {states}
    else
        compadd -- {words}
    fi
}}
"#,
        ids = QUERY_IDS.join(" "),
        states = states_line(),
        words = filter_words(),
    );
    must_replace(&mut s, "autoload -U is-at-least\n", &helpers)?;
    must_replace(
        &mut s,
        ":FAMILY:_default'",
        &format!(":FAMILY:({})'", FAMILIES.join(" ")),
    )?;
    must_replace(&mut s, ":QUERY:_default'", ":QUERY:_sockq_query'")?;
    must_replace(&mut s, ":NETNS:_default'", ":NETNS:_sockq_netns'")?;
    let line = s
        .lines()
        .find(|l| l.starts_with("'*::filter") && l.ends_with(":_default' \\"))
        .map(str::to_string)
        .ok_or_else(|| {
            CliError::Runtime("completion script: clap_complete's output changed (filter)".into())
        })?;
    let fixed = line.replace(":_default' \\", ":_sockq_filter' \\");
    must_replace(&mut s, &line, &fixed)?;
    Ok(s)
}

fn fish(cmd: Command) -> Result<String, CliError> {
    let mut s = clap_script(clap_complete::Shell::Fish, cmd)?;
    for (flag, add) in [
        (
            "-s f -l family ",
            format!(" -f -a \"{}\"", FAMILIES.join(" ")),
        ),
        ("-s A -l query ", " -f -a \"(__sockq_query)\"".to_string()),
        ("-s N -l net ", " -f -a \"(__sockq_netns)\"".to_string()),
    ] {
        let line = s
            .lines()
            .find(|l| l.contains(flag) && l.ends_with(" -r"))
            .map(str::to_string)
            .ok_or_else(|| {
                CliError::Runtime(format!(
                    "completion script: clap_complete's output changed ({flag})"
                ))
            })?;
        must_replace(&mut s, &line, &format!("{line}{add}"))?;
    }
    let head = format!(
        r#"# fish completion for sockq (sockq --generate fish)
function __sockq_netns
    for f in {NETNS_DIR}/*
        basename $f
    end
    echo pid:
end

function __sockq_query
    set -l tok (commandline -ct)
    set -l head (string replace -r '[^,]*$' '' -- $tok)
    set -l last (string replace -r '^.*,' '' -- $tok)
    set -l neg ''
    string match -q -- '!*' $last; and set neg '!'
    for id in {ids}
        echo "$head$neg$id"
    end
end

function __sockq_after_state
    set -l t (commandline -opc)
    contains -- "$t[-1]" state exclude
end

"#,
        ids = QUERY_IDS.join(" "),
    );
    let tail = format!(
        "complete -c sockq -n __sockq_after_state -f -a \"{}\"\n\
         complete -c sockq -n 'not __sockq_after_state' -f -a \"{}\"\n",
        states_line(),
        filter_words(),
    );
    Ok(format!("{head}{s}{tail}"))
}

// ---- the man page ----

/// Text for roff: backslashes, hyphens (so they are not typeset as
/// hyphenation dashes) and a leading `.` or `'` (which would be a request).
fn roff(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split('\n') {
        if !out.is_empty() {
            out.push('\n');
        }
        if line.starts_with(['.', '\'']) {
            out.push_str("\\&");
        }
        for c in line.chars() {
            match c {
                '\\' => out.push_str("\\e"),
                '-' => out.push_str("\\-"),
                c => out.push(c),
            }
        }
    }
    out
}

fn bold(s: &str) -> String {
    format!("\\fB{}\\fR", roff(s))
}

fn italic(s: &str) -> String {
    format!("\\fI{}\\fR", roff(s))
}

/// `-f, --family FAMILY` in roff.
fn arg_label(a: &Arg) -> String {
    let mut parts = Vec::new();
    if let Some(s) = a.get_short() {
        parts.push(bold(&format!("-{s}")));
    }
    if let Some(l) = a.get_long() {
        parts.push(bold(&format!("--{l}")));
    }
    let mut label = parts.join(", ");
    if a.get_action().takes_values()
        && let Some(v) = a.get_value_names().and_then(|v| v.first())
    {
        label.push(' ');
        label.push_str(&italic(v.as_str()));
    }
    label
}

/// `[-f FAMILY]` for the synopsis.
fn synopsis_item(a: &Arg) -> Option<String> {
    let flag = match (a.get_short(), a.get_long()) {
        (Some(s), _) => format!("-{s}"),
        (None, Some(l)) => format!("--{l}"),
        (None, None) => return None,
    };
    let mut item = bold(&flag);
    if a.get_action().takes_values() {
        let v = a
            .get_value_names()
            .and_then(|v| v.first())
            .map_or("VALUE".to_string(), |v| v.to_string());
        item.push(' ');
        item.push_str(&italic(&v));
    }
    Some(format!("[{item}]"))
}

const FILTER_TEXT: &str = r#"The filter is ss's language. It is [ state STATE-FILTER ] [ EXPRESSION ]: first state words, then an expression. Options and filter words may be mixed; -- ends the options. More words can come from a file with -F.
.PP
State words: "state NAME" selects a state or group (repeatable), "exclude NAME" removes one. They replace the states of -a, -l and the default.
.PP
An expression is predicates joined by "and" (also "&", "&&", or nothing), "or" ("|", "||"), negated by "not" ("!"), grouped by parentheses (quote them for the shell). "not" binds tighter than "and", "and" tighter than "or".
.PP
Predicates: "FIELD [COMPARISON] VALUE", where COMPARISON is one of = == eq, != ne neq, < lt, > gt, <= le leq, >= ge geq (default =).
.TP
.B src, dst
a host: an address with an optional prefix length and port (10.0.0.0/8, [::1]:8080, *:22), a host name, or a family-prefixed value: unix:PATH (a glob; "@" starts an abstract name), link:PROTO:IFACE, netlink:PROTO:PORTID, vsock:CID:PORT, inet:..., inet6:...
.TP
.B sport, dport
a port: :80, 80, :http (a service name), * for any; every comparison.
.TP
.B dev
an interface name or index.
.TP
.B fwmark
MARK or MARK/MASK.
.TP
.B cgroup
a cgroup v2 path.
.TP
.B autobound
unix sockets with a kernel-chosen abstract name (no value).
.TP
.B state
a state name or group, inside an expression.
.TP
.B uid, user, inode, rqueue, squeue, pid
numbers (user also takes a user name); every comparison.
.TP
.B comm
a glob on the name of any owning process.
.PP
In a value, a backslash keeps the next character; \xHH is the byte HH (how sockq prints bytes that are not UTF-8 or are control characters, so a path copied from the output works as a value)."#;

const EXAMPLES: &[(&str, &str)] = &[
    (
        "sockq -tlnp",
        "listening TCP sockets, numeric, with their processes",
    ),
    (
        "sockq -tlnP '( sport = :80 )'",
        "what listens on port 80: processes, binary, working directory, log files",
    ),
    (
        "sockq -tn state established '( dport = :ssh or sport = :ssh )'",
        "established SSH connections",
    ),
    (
        "sockq -tn 'dst 10.0.0.0/8 and dport != 22'",
        "connections to 10/8 except SSH",
    ),
    ("sockq -xa 'src /run/*'", "unix sockets under /run"),
    (
        "sockq -ta exclude listening",
        "every TCP socket but listeners",
    ),
    (
        "sockq --all-netns -tln",
        "listeners in every network namespace, with a Netns column",
    ),
    (
        "sockq -N pid:1234 -tan",
        "the sockets of the network namespace of process 1234",
    ),
    ("sockq -tnj | jq '.[] | .peer.address'", "JSON for scripts"),
    (
        "sockq -K --dry-run dport = :5000",
        "what -K would close, closing nothing",
    ),
    (
        "sockq --explain -t 'dst 10.0.0.0/8'",
        "the parsed filter and the bytecode sent to the kernel",
    ),
];

const ENVIRONMENT: &[(&str, &str)] = &[
    (
        "TCPDIAG_FILE",
        "Read TCP sockets from this file of sock_diag replies (written by -D) instead of asking the kernel, as ss does.",
    ),
    (
        "PROC_ROOT",
        "Where /proc is (default /proc): processes, /proc/net fallbacks, the ephemeral port range.",
    ),
    (
        "PROC_NET_TCP, PROC_NET_TCP6, PROC_NET_UDP, PROC_NET_UDP6, PROC_NET_RAW, PROC_NET_RAW6",
        "Files the /proc fallbacks read instead of PROC_ROOT/net/..., as in ss.",
    ),
    (
        "PROC_IP_LOCAL_PORT_RANGE",
        "The ephemeral port range file (default PROC_ROOT/sys/net/ipv4/ip_local_port_range).",
    ),
    (
        "COLUMNS",
        "The screen width when standard output is not a terminal.",
    ),
    (
        "SOCKQ_NETNS_DIR",
        "Where --all-netns finds named namespaces (default /var/run/netns).",
    ),
    (
        "SOCKQ_NO_BYTECODE",
        "1: filter in user space only, sending the kernel no bytecode (testing; as --no-bytecode).",
    ),
];

fn man(cmd: &Command) -> String {
    let version = cmd.get_version().unwrap_or("");
    let mut m = String::new();
    let mut line = |s: &str| {
        m.push_str(s);
        m.push('\n');
    };
    line(&format!(
        ".TH SOCKQ 8 \"\" \"sockq {}\" \"System Administration\"",
        roff(version)
    ));
    line(".SH NAME");
    let about = cmd
        .get_about()
        .map(|a| a.to_string())
        .unwrap_or_default()
        .trim_end_matches('.')
        .to_string();
    // "investigate …": NAME is a phrase, not a sentence.
    let about = match about.chars().next() {
        Some(c) => format!("{}{}", c.to_lowercase(), &about[c.len_utf8()..]),
        None => about,
    };
    line(&format!("sockq \\- {}", roff(&about)));
    line(".SH SYNOPSIS");
    line(&format!(
        "{} [{}] [ {} {} ] [ {} ]",
        bold("sockq"),
        italic("OPTIONS"),
        bold("state"),
        italic("STATE-FILTER"),
        italic("EXPRESSION")
    ));
    line(".PP");
    let items: Vec<String> = visible_args(cmd)
        .filter(|a| !a.is_positional())
        .filter_map(synopsis_item)
        .collect();
    line(&format!("{} {}", bold("sockq"), items.join(" ")));
    line(".SH DESCRIPTION");
    line(&roff(
        "sockq lists sockets the way ss(8) does, from the kernel's sock_diag interface, and adds JSON output, the processes that hold each socket (their binary, working directory and log files), and every network namespace of the host at once.",
    ));
    line(".PP");
    line(&roff(
        "With no option, it lists the connected sockets of every table ss lists. Table and family options narrow the tables, state options and state words choose the states, and the filter expression chooses sockets.",
    ));
    // Options, grouped as --help groups them.
    line(".SH OPTIONS");
    let mut headings: Vec<Option<&str>> = Vec::new();
    for a in visible_args(cmd).filter(|a| !a.is_positional()) {
        if !headings.contains(&a.get_help_heading()) {
            headings.push(a.get_help_heading());
        }
    }
    for h in headings {
        line(&format!(".SS {}", roff(h.unwrap_or("Other"))));
        for a in visible_args(cmd).filter(|a| !a.is_positional() && a.get_help_heading() == h) {
            line(".TP");
            line(&arg_label(a));
            let help = a
                .get_long_help()
                .or(a.get_help())
                .map(|s| s.to_string())
                .unwrap_or_default();
            let values: Vec<String> = a
                .get_possible_values()
                .iter()
                .filter(|v| !v.is_hide_set())
                .map(|v| v.get_name().to_string())
                .collect();
            if values.is_empty() {
                line(&roff(&help));
            } else {
                line(&roff(&format!("{help} ({})", values.join(", "))));
            }
        }
    }
    line(".TP");
    line(&format!("{}, {}", bold("-h"), bold("--help")));
    line("Print the help and exit.");
    line(".SH FILTER");
    for l in FILTER_TEXT.lines() {
        if l.starts_with('.') {
            line(l);
        } else {
            line(&roff(l));
        }
    }
    line(".SH STATES");
    line(&roff(
        "State names, for state, exclude and the state predicate:",
    ));
    line(".PP");
    line(&roff(&STATES.join(", ")));
    line(".PP");
    line("Groups:");
    for (name, meaning) in STATE_GROUPS {
        line(".TP");
        line(&bold(name));
        line(&roff(meaning));
    }
    line(".PP");
    line(&roff(
        "Without a state option, sockq lists connected sockets (all but listening, closed, time-wait and syn-recv); -a lists every state, -l listening and closed ones, -B TCP sockets bound but inactive.",
    ));
    line(".SH EXAMPLES");
    for (ex, what) in EXAMPLES {
        line(".TP");
        line(&bold(ex));
        line(&roff(what));
    }
    line(".SH EXIT STATUS");
    for (code, what) in [
        (
            "0",
            "Success, also when nothing matched or the reader of the output went away.",
        ),
        (
            "1",
            "A runtime error: the kernel refused a request, /proc or a namespace could not be read, a kill failed, output could not be written.",
        ),
        (
            "2",
            "A usage error: an unknown or ambiguous option, a bad value, conflicting options, a filter that does not parse.",
        ),
    ] {
        line(".TP");
        line(&bold(code));
        line(&roff(what));
    }
    line(".SH ENVIRONMENT");
    for (var, what) in ENVIRONMENT {
        line(".TP");
        line(&bold(var));
        line(&roff(what));
    }
    line(".SH FILES");
    for (file, what) in [
        (NETNS_DIR, "named network namespaces (-N NAME, --all-netns)"),
        ("/etc/services", "service names for ports"),
        ("/proc", "processes, and the /proc/net fallbacks"),
    ] {
        line(".TP");
        line(&bold(file));
        line(&roff(what));
    }
    line(".SH SEE ALSO");
    line(&format!(
        "{}(8), {}(8), {}(7), {}(7), {}(5)",
        bold("ss"),
        bold("ip-netns"),
        bold("sock_diag"),
        bold("netlink"),
        bold("proc")
    ));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_output_generates() {
        for w in ["bash", "zsh", "fish", "man"] {
            let t = text(w).unwrap_or_else(|e| panic!("{w}: {e}"));
            assert!(t.contains("sockq"), "{w}");
        }
    }

    #[test]
    fn roff_escapes() {
        assert_eq!(roff("a-b\\c"), "a\\-b\\ec");
        assert_eq!(roff(".x\n'y"), "\\&.x\n\\&'y");
    }
}
