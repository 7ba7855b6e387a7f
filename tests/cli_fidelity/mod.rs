//! The command line's rough edges (issue 14): `-K` with an empty `-F`,
//! conflicting modes, usage errors that help, arguments that are not UTF-8,
//! shell completions and the man page.

/// `-K` with an empty `-F`, conflicting modes, usage errors, non-UTF-8 arguments.
mod args;
/// bash, zsh and fish completions; the man page.
mod completions;
/// Hostile names in every field, text and JSON.
mod escaping;
/// JSON process fields, `-s --json`, `-K --dry-run`, `-D`.
mod modes;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Output;

use crate::util::{run, sockq};

/// (exit code, stdout, stderr) of sockq with raw byte arguments.
pub(crate) fn sockq_bytes(args: &[&[u8]]) -> (i32, String, String) {
    let out = run(sockq().args(args.iter().map(|a| OsStr::from_bytes(a))));
    split(&out)
}

/// (exit code, stdout, stderr) of a finished command.
pub(crate) fn split(out: &Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A usage error: exit 2, one line on stderr containing every needle, no stdout.
pub(crate) fn assert_usage(args: &[&[u8]], needles: &[&str]) {
    let shown: Vec<String> = args
        .iter()
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let (code, out, err) = sockq_bytes(args);
    assert_eq!(code, 2, "{shown:?}: exit code (stderr {err:?})");
    assert!(out.is_empty(), "{shown:?}: stdout {out:?}");
    assert_eq!(err.lines().count(), 1, "{shown:?}: one line, got {err:?}");
    assert!(err.starts_with("sockq: "), "{shown:?}: {err:?}");
    for n in needles {
        assert!(err.contains(n), "{shown:?}: {err:?} should contain {n:?}");
    }
}
