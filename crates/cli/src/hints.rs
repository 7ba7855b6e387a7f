//! Whether hints meant for people (advice such as "run as root", the
//! other-namespace hint) go to stderr: only when stderr is a terminal, or
//! when `SOCKQ_HINTS=1` asks for them. Scripts that merge stderr into what
//! they parse get errors and real warnings, never advice.

/// `SOCKQ_HINTS=1` shows the hints even when stderr is not a terminal
/// (tests, `script`-less automation).
pub const HINTS_VAR: &str = "SOCKQ_HINTS";

/// True when a hint for people may be printed: stderr is a terminal, or
/// [`HINTS_VAR`] is `1`.
pub fn wanted() -> bool {
    use std::io::IsTerminal;
    std::env::var_os(HINTS_VAR).is_some_and(|v| v == "1") || std::io::stderr().is_terminal()
}
