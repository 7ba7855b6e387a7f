//! The second oracle, ss 7.1 (the text layout sockq follows), and the shared folder beside the
//! repository (`../shared`: the iproute2 source tarball and fixtures).
//!
//! Both are found relative to the repository, as CI lays them out. When one is missing, the
//! test skips with a printed reason, except under `CI=true`, where it fails.

use std::ffi::{OsStr, OsString};
use std::path::PathBuf;
use std::process::Command;

use super::*;

/// True under `CI=true`, where a missing prerequisite is a failure rather than a skip.
fn in_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| v == "true")
}

/// Skips (prints the reason, returns `None`) or, under `CI=true`, panics.
fn missing<T>(test: &str, reason: &str) -> Option<T> {
    let reason = format!("skipping {test}: {reason}");
    if in_ci() {
        panic!("{reason}, and CI=true forbids skipping");
    }
    println!("{reason}");
    None
}

/// `../shared` beside the repository: the iproute2 7.1 source tarball (`oracle/`) and
/// `fixtures/`. `None` (after printing why) when it is missing; a panic under `CI=true`.
pub(crate) fn shared_dir(test: &str) -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared");
    if dir.join("oracle").is_dir() {
        return Some(dir);
    }
    missing(test, &format!("{} is missing", dir.display()))
}

/// The iproute2 source tarball in `../shared/oracle/`.
pub(crate) fn iproute2_tarball(test: &str) -> Option<PathBuf> {
    let dir = shared_dir(test)?.join("oracle");
    let found = std::fs::read_dir(&dir).ok().and_then(|entries| {
        entries.filter_map(Result::ok).map(|e| e.path()).find(|p| {
            p.file_name()
                .and_then(OsStr::to_str)
                .is_some_and(|n| n.starts_with("iproute2-") && n.ends_with(".tar.gz"))
        })
    });
    match found {
        Some(p) => Some(p),
        None => missing(test, &format!("no iproute2-*.tar.gz in {}", dir.display())),
    }
}

/// The ss 7.1 program: `SOCKQ_SS71` (set by scripts/test), else `target/oracle/ss`, which
/// scripts/test builds from `../shared/oracle`. `None` (after printing why) when neither
/// exists; a panic under `CI=true`.
pub(crate) fn ss71_program(test: &str) -> Option<OsString> {
    let candidate = match std::env::var_os("SOCKQ_SS71") {
        Some(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/oracle/ss"),
    };
    if candidate.is_file() {
        return Some(candidate.into_os_string());
    }
    missing(
        test,
        &format!(
            "ss 7.1 not found at {} (scripts/test builds it; or set SOCKQ_SS71)",
            candidate.display()
        ),
    )
}

/// A command for ss 7.1, with the same environment as [`sockq`].
pub(crate) fn ss71(program: &OsStr) -> Command {
    tool_command(program)
}

impl Netns {
    /// ss 7.1 (`program`, from [`ss71_program`]) run inside the namespace.
    pub(crate) fn ss71<S: AsRef<OsStr>>(
        &self,
        program: &OsStr,
        args: impl IntoIterator<Item = S>,
    ) -> Command {
        self.exec(program, args)
    }
}
