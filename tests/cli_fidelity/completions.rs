//! Completions (run in a real bash) and the man page (rendered by groff).

use std::process::Command;

use super::split;
use crate::util::{Netns, TempFile, root_or_skip, run, sockq, subject_is_ss};

// ---- Completions and the man page ----

/// `sockq --generate WHAT` (must succeed).
fn generated(what: &str) -> String {
    let out = run(sockq().args(["--generate", what]));
    let (code, text, err) = split(&out);
    assert_eq!(code, 0, "--generate {what}: {err}");
    assert!(err.is_empty(), "--generate {what}: stderr {err:?}");
    text
}

/// The bash script in a real bash: `complete -p` names the function, and
/// calling it with COMP_WORDS set gives families for `-f`, table ids for
/// `-A` (in a comma list, with `!`), namespace names for `-N`, and state
/// names after `state`/`exclude`.
#[test]
fn bash_completion_offers_families_tables_namespaces_and_states() {
    if subject_is_ss() {
        return;
    }
    let script = TempFile::new("cf-bash", generated("bash").as_bytes());
    let ns = root_or_skip("bash_completion (the -N part)").then(Netns::new);
    let probe = format!(
        r#"source {script}
complete -p sockq
t() {{ COMP_WORDS=("$@"); COMP_CWORD=$(( ${{#COMP_WORDS[@]}} - 1 )); COMPREPLY=(); _sockq; echo "$* => ${{COMPREPLY[*]}}"; }}
t sockq -f ''
t sockq -tf ine
t sockq -A tcp,u_
t sockq -A '!ne'
t sockq -N ''
t sockq state ''
t sockq -t exclude clo
t sockq --sort re
t sockq -t sp
t sockq --proc
"#,
        script = script.path().display()
    );
    let out = Command::new("bash")
        .arg("--norc")
        .arg("-c")
        .arg(&probe)
        .output()
        .unwrap_or_else(|e| panic!("bash: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "bash: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply = |words: &str| -> Vec<String> {
        let line = text
            .lines()
            .find(|l| l.starts_with(&format!("{words} =>")))
            .unwrap_or_else(|| panic!("no line for {words:?} in {text}"));
        line.split_once("=>")
            .map(|(_, r)| r.split_whitespace().map(str::to_string).collect())
            .unwrap_or_default()
    };
    assert!(text.contains("complete -F _sockq sockq"), "{text}");
    assert_eq!(
        reply("sockq -f "),
        [
            "inet", "inet6", "link", "unix", "netlink", "vsock", "tipc", "xdp"
        ]
    );
    assert_eq!(reply("sockq -tf ine"), ["inet", "inet6"]);
    assert_eq!(
        reply("sockq -A tcp,u_"),
        ["tcp,u_str", "tcp,u_dgr", "tcp,u_seq"]
    );
    assert_eq!(reply("sockq -A !ne"), ["!netlink"]);
    let states = reply("sockq state ");
    for s in [
        "established",
        "listening",
        "bound-inactive",
        "connected",
        "bucket",
    ] {
        assert!(states.contains(&s.to_string()), "{s} in {states:?}");
    }
    assert_eq!(
        reply("sockq -t exclude clo"),
        ["closed", "close-wait", "closing", "close"]
    );
    assert_eq!(reply("sockq --sort re"), ["recv-q"]);
    assert_eq!(reply("sockq -t sp"), ["sport"]);
    assert_eq!(reply("sockq --proc"), ["--processes", "--process-info"]);
    if let Some(ns) = &ns {
        let names = reply("sockq -N ");
        assert!(
            names.contains(&ns.name().to_string()),
            "-N should offer {}: {names:?}",
            ns.name()
        );
        assert!(
            !names.iter().any(|n| n.contains('/')),
            "-N offers names, not files: {names:?}"
        );
    }
}

/// zsh and fish scripts carry the same candidates (neither shell is
/// installed here to run them).
#[test]
fn zsh_and_fish_completions_offer_the_candidates() {
    if subject_is_ss() {
        return;
    }
    let zsh = generated("zsh");
    for want in [
        ":FAMILY:(inet inet6 link unix netlink vsock tipc xdp)'",
        ":QUERY:_sockq_query'",
        ":NETNS:_sockq_netns'",
        ":_sockq_filter'",
        "/var/run/netns/*(N:t)",
        "compadd -- established syn-sent",
        "u_str",
    ] {
        assert!(zsh.contains(want), "zsh script lacks {want:?}");
    }
    assert!(!zsh.contains(":FAMILY:_default"), "zsh: -f completes files");
    let fish = generated("fish");
    let line = |flag: &str| {
        fish.lines()
            .find(|l| l.contains(flag))
            .unwrap_or_else(|| panic!("fish: no line for {flag}"))
            .to_string()
    };
    assert!(
        line("-s f -l family")
            .ends_with("-r -f -a \"inet inet6 link unix netlink vsock tipc xdp\""),
        "{}",
        line("-s f -l family")
    );
    assert!(line("-s A -l query").contains("(__sockq_query)"));
    assert!(line("-s N -l net ").contains("(__sockq_netns)"));
    assert!(fish.contains("-n __sockq_after_state -f -a \"established syn-sent"));
    assert!(fish.contains("for f in /var/run/netns/*"));
}

/// The man page rendered by groff: every section the issue asks for, the
/// filter language, state names and groups, arguments in SYNOPSIS, every
/// environment variable the code reads, and no "sockq - sockq:".
#[test]
fn man_page_renders_with_every_section() {
    if subject_is_ss() {
        return;
    }
    let page = TempFile::new("cf-man", generated("man").as_bytes());
    let out = match Command::new("groff")
        .args(["-man", "-Tutf8", "-P-cbou", "-ww"])
        .arg(page.path())
        .output()
    {
        Ok(o) => o,
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none_or(|v| v != "true"),
                "groff is needed (groff-base): {e}"
            );
            println!("skipping man_page_renders_with_every_section: no groff ({e})");
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && err.is_empty(), "groff: {err}");
    // Lines of the section body, joined (groff fills and hyphenates).
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    for section in [
        "NAME",
        "SYNOPSIS",
        "DESCRIPTION",
        "OPTIONS",
        "FILTER",
        "STATES",
        "EXAMPLES",
        "EXIT STATUS",
        "ENVIRONMENT",
        "SEE ALSO",
    ] {
        assert!(
            text.lines().any(|l| l == section),
            "no {section} section in:\n{text}"
        );
    }
    assert!(!flat.contains("sockq - sockq"), "NAME repeats the name");
    assert!(flat.contains("sockq - investigate sockets"), "NAME");
    for synopsis in [
        "[-f FAMILY]",
        "[-A QUERY]",
        "[-N NETNS]",
        "[-D FILE]",
        "[--sort KEY]",
    ] {
        assert!(flat.contains(synopsis), "SYNOPSIS lacks {synopsis}");
    }
    for word in [
        "sport, dport",
        "src, dst",
        "autobound",
        "bound-inactive",
        "time-wait",
        "synchronized",
        "bucket",
        "sockq -tlnp",
        "ss(8)",
        "ip-netns(8)",
    ] {
        assert!(flat.contains(word), "man page lacks {word:?}");
    }
    // Every environment variable the sources read by name.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates");
    let mut vars = std::collections::BTreeSet::new();
    let mut stack = vec![root];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                if !p.ends_with("bench") && !p.ends_with("tests") {
                    stack.push(p);
                }
            } else if p.extension().is_some_and(|x| x == "rs") && !p.ends_with("tests.rs") {
                let all = std::fs::read_to_string(&p).unwrap_or_default();
                // What the program reads, not its unit tests.
                let src = all.split("#[cfg(test)]").next().unwrap_or_default();
                for pat in ["env::var(\"", "env::var_os(\""] {
                    for (i, _) in src.match_indices(pat) {
                        let rest = &src[i + pat.len()..];
                        if let Some(end) = rest.find('"') {
                            vars.insert(rest[..end].to_string());
                        }
                    }
                }
            }
        }
    }
    assert!(vars.contains("PROC_ROOT"), "scan found {vars:?}");
    for v in vars
        .iter()
        .map(String::as_str)
        .chain(["PROC_NET_TCP", "COLUMNS"])
    {
        assert!(flat.contains(v), "ENVIRONMENT lacks {v}");
    }
}
