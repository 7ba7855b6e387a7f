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
pub mod names;
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

use clap::{CommandFactory, FromArgMatches};
use error::CliError;
use std::ffi::OsString;
use std::process::ExitCode;

/// Parses the command line. Help and version print to stdout and exit 0;
/// any other clap error becomes one line and exit 2 (never the whole usage).
pub fn parse_args(argv: Vec<OsString>) -> Result<config::Config, CliError> {
    let matches = match args::Args::command().try_get_matches_from(argv) {
        Ok(m) => m,
        Err(e) => return Err(clap_error(e)),
    };
    let a = args::Args::from_arg_matches(&matches).map_err(clap_error)?;
    if let Some(what) = &a.generate {
        generate(what)?;
        return Err(CliError::Done);
    }
    config::Config::new(&a, &matches)
}

/// `--generate`: completions and the man page, from the clap definitions.
fn generate(what: &str) -> Result<(), CliError> {
    use clap_complete::Shell;
    use std::io::Write as _;
    let mut cmd = args::Args::command();
    let mut out = std::io::stdout().lock();
    let shell = match what {
        "bash" => Shell::Bash,
        "zsh" => Shell::Zsh,
        "fish" => Shell::Fish,
        _ => {
            return clap_mangen::Man::new(cmd)
                .section("8")
                .render(&mut out)
                .map_err(CliError::from);
        }
    };
    // Into memory first: clap_complete panics when its writer fails (a
    // closed pipe), while a failed write here is an ordinary error.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "sockq", &mut script);
    out.write_all(&script)?;
    out.flush()?;
    Ok(())
}

fn clap_error(e: clap::Error) -> CliError {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            CliError::Done
        }
        _ => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let msg = first.strip_prefix("error: ").unwrap_or(first);
            CliError::Usage(format!("{msg} (see --help)"))
        }
    }
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
