//! `-s`: ss's summary layout, or one JSON object with `--json`.

use crate::config::{Config, Format};
use crate::error::CliError;
use crate::printer::summary::{SummaryCounts, write_summary};
use std::io::Write;

/// Prints the counts and flushes.
pub fn write(cfg: &Config, counts: &SummaryCounts) -> Result<(), CliError> {
    let mut out = Vec::new();
    if cfg.format == Format::Table {
        write_summary(&mut out, counts);
    } else {
        crate::printer::json::summary(&mut out, counts);
        out.push(b'\n');
    }
    let mut w = std::io::stdout().lock();
    w.write_all(&out)?;
    w.flush()?;
    Ok(())
}
