//! Smoke test: the harness still runs end to end (a few hundred sockets, one
//! round) and prints its table. It never judges speed.
//!
//! Needs root (network namespaces): skips with a reason otherwise, and fails
//! instead under `CI=true`. The sockq binary comes from `SOCKQ_BIN`, else a
//! built `sockq` next to this test's target dir, else `ss` stands in for it
//! (said on stdout; under `CI=true` a missing sockq fails instead).

use std::path::{Path, PathBuf};
use std::process::Command;

fn is_root() -> bool {
    // /proc/self/status "Uid:" real effective ...; no libc call needed.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn skip(reason: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "smoke test cannot run under CI: {reason}"
    );
    eprintln!("skipping the bench smoke test: {reason}");
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// SOCKQ_BIN, else target/{release,debug}/sockq beside this test binary.
fn sockq_binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("SOCKQ_BIN") {
        return Some(PathBuf::from(p));
    }
    // This binary is <target>/<profile>/sockq-bench; the test runs from
    // crates/bench, so also try the workspace's default target dir.
    let bench = Path::new(env!("CARGO_BIN_EXE_sockq-bench"));
    let target = bench.parent()?.parent()?.to_path_buf();
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target");
    [target, workspace]
        .iter()
        .flat_map(|t| [t.join("release/sockq"), t.join("debug/sockq")])
        .find(|p| p.is_file())
}

#[test]
fn quick_run_prints_a_table() {
    if !is_root() {
        return skip("needs root for network namespaces");
    }
    let Some(ss) = find_in_path("ss") else {
        return skip("ss (iproute2) is not installed");
    };
    if find_in_path("ip").is_none() {
        return skip("ip (iproute2) is not installed");
    }
    // Without a built sockq the harness can still be smoke-tested with ss
    // standing in, but never silently, and never under CI.
    let sockq = match sockq_binary() {
        Some(p) => p,
        None => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "no sockq binary (SOCKQ_BIN, target/{{release,debug}}/sockq), and CI=true forbids ss standing in"
            );
            println!("no sockq binary found: ss stands in for it");
            ss.clone()
        }
    };
    eprintln!("sockq binary: {}", sockq.display());
    let out = Command::new(env!("CARGO_BIN_EXE_sockq-bench"))
        .arg("--quick")
        .arg("--sockq")
        .arg(&sockq)
        .arg("--ss")
        .arg(&ss)
        .output()
        .unwrap_or_else(|e| panic!("cannot run sockq-bench: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "harness failed: {stderr}\n{stdout}");
    assert!(
        stdout.contains("| command | ss wall | sockq wall |"),
        "{stdout}"
    );
    assert!(stdout.contains("| `-tan` |"), "{stdout}");
    assert!(
        stdout.contains("floor: the kernel's work alone"),
        "{stdout}"
    );
    assert!(stdout.contains("BENCH {\"sockets\":300,"), "{stdout}");
    // The floor dump saw the sockets the workers built (not zero, not all lost).
    let seen = stdout
        .lines()
        .find_map(|l| l.split_once(" seen by the kernel dump"))
        .and_then(|(l, _)| l.rsplit(", ").next()?.parse::<u32>().ok());
    assert!(
        seen.is_some_and(|n| n > 250),
        "floor count: {seen:?}\n{stdout}"
    );
    // The /proc floor walked real fds: at least the sockets the kernel dump saw (every one
    // of them is held open by a worker).
    let proc_floor = stdout
        .lines()
        .find(|l| l.starts_with("| /proc: readlinkat of every fd, two threads |"))
        .and_then(|l| l.trim_end_matches(" |").rsplit("| ").next())
        .and_then(|n| n.trim().parse::<u32>().ok());
    assert!(
        proc_floor.zip(seen).is_some_and(|(p, k)| p >= k),
        "/proc floor {proc_floor:?} against the dump's {seen:?}\n{stdout}"
    );
    // Everything was torn down: the namespace it announced is gone.
    let ns = stderr
        .split_whitespace()
        .find(|w| w.starts_with("sockq-bench-"))
        .map(|w| w.trim_end_matches(|c: char| !c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no namespace named on stderr: {stderr}"));
    assert!(
        !Path::new("/var/run/netns").join(ns).exists(),
        "namespace {ns} was left behind"
    );
}
