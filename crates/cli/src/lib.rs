//! The `sockq` command: clap arguments, then a resolved [`config::Config`],
//! then [`run::run`]: a one-way pipeline of [`plan`], [`scope`], [`source`],
//! [`select`] and [`sink`] (docs/architecture.md).
//!
//! Errors from every crate end up as a [`error::CliError`], which maps them to
//! a message and an exit code in one place.

/// `eprintln!` that never panics: a closed or broken stderr (`2>&1 | head`)
/// loses the message instead of aborting the run.
macro_rules! eprintln_quiet {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

pub mod args;
pub mod cgroup;
pub mod config;
pub mod error;
pub mod filtering;
pub mod generate;
pub mod hints;
pub mod names;
pub mod outfile;
pub mod plan;
pub mod printer;
pub mod resolve;
pub mod run;
pub mod sanitize;
pub mod scope;
pub mod select;
pub mod services;
pub mod sink;
pub mod source;
pub mod usage;

use clap::{CommandFactory, FromArgMatches};
use error::CliError;
use std::ffi::OsString;
use std::process::ExitCode;

/// Parses the command line. Help and version print to stdout and exit 0;
/// any other clap error becomes one line and exit 2 (never the whole usage).
pub fn parse_args(argv: Vec<OsString>) -> Result<config::Config, CliError> {
    let matches = match args::Args::command().try_get_matches_from(&argv) {
        Ok(m) => m,
        Err(e) => return Err(clap_error(e, &argv)),
    };
    let a = args::Args::from_arg_matches(&matches).map_err(|e| clap_error(e, &argv))?;
    if let Some(what) = &a.generate {
        generate::generate(what)?;
        return Err(CliError::Done);
    }
    config::Config::new(&a, &matches)
}

/// One line for a clap error. What the user typed is shown through the
/// terminal escaper (`\x1b` for ESC), never raw: clap's own text would pass
/// some control bytes through and silently drop others.
fn clap_error(e: clap::Error, argv: &[OsString]) -> CliError {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let text = |k: ContextKind| match e.get(k) {
        Some(ContextValue::String(s)) => Some(s.as_str()),
        _ => None,
    };
    let shown = |s: &str| sanitize::escaped(s.as_bytes());
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            CliError::Done
        }
        ErrorKind::UnknownArgument => {
            let Some(arg) = text(ContextKind::InvalidArg) else {
                return first_line(&e);
            };
            if let Some(msg) = usage::ambiguous_long(&args::Args::command(), arg) {
                return CliError::Usage(msg);
            }
            let suggestion = match text(ContextKind::SuggestedArg) {
                Some(s) => Some(s.to_owned()),
                None => usage::similar(&args::Args::command(), arg),
            };
            let hint = suggestion.map_or_else(String::new, |s| format!("; did you mean '{s}'?"));
            // clap hands an argument that is not UTF-8 over lossily: show
            // the bytes that were typed.
            let raw = argv
                .iter()
                .skip(1)
                .map(|a| a.as_encoded_bytes())
                .find(|a| arg.contains('\u{fffd}') && String::from_utf8_lossy(a) == arg)
                .unwrap_or(arg.as_bytes());
            CliError::Usage(format!(
                "unexpected argument '{}' found{hint} (see --help)",
                sanitize::escaped(raw)
            ))
        }
        ErrorKind::InvalidValue | ErrorKind::TooManyValues => {
            let (Some(arg), Some(value)) = (
                text(ContextKind::InvalidArg),
                text(ContextKind::InvalidValue),
            ) else {
                return first_line(&e);
            };
            CliError::Usage(if e.kind() == ErrorKind::InvalidValue && value.is_empty() {
                // clap's wording for `-f` at the end of the line.
                format!("a value is required for '{arg}' but none was supplied (see --help)")
            } else if e.kind() == ErrorKind::InvalidValue {
                format!("invalid value '{}' for '{arg}' (see --help)", shown(value))
            } else {
                format!(
                    "unexpected value '{}' for '{arg}' found; no more were expected (see --help)",
                    shown(value)
                )
            })
        }
        ErrorKind::InvalidUtf8 => CliError::Usage(usage::not_utf8(argv)),
        _ => first_line(&e),
    }
}

/// clap's first line, without its `error: ` prefix and usage dump, escaped
/// (it may quote what the user typed).
fn first_line(e: &clap::Error) -> CliError {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or("invalid arguments");
    let msg = first.strip_prefix("error: ").unwrap_or(first);
    CliError::Usage(format!(
        "{} (see --help)",
        sanitize::escaped(msg.as_bytes())
    ))
}

/// The binary's entry point.
pub fn main() -> ExitCode {
    let cfg = match parse_args(std::env::args_os().collect()) {
        Ok(c) => c,
        Err(e) => return e.report(),
    };
    match run::run(&cfg) {
        Ok(o) => ExitCode::from(o.code),
        Err(e) => e.report(),
    }
}
