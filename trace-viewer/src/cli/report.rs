//! `trace-viewer report FILE [--json]`: prints the [`Report`] of a trace and maps what it
//! found to an exit code.
//!
//! A trace that is cut short or lost data is reported with its warnings and exits 0: the
//! report did its job. A corrupt trace is summarized as far as it reads, the error goes to
//! stderr and the exit code is 1, as `check`'s. A file that cannot be read at all prints
//! only the error.

use std::io::{self, Write};
use std::path::Path;

use super::exit::{EXIT_CORRUPT, EXIT_OK};
use trace_analysis::analysis::overview::AnalysisOptions;
use trace_analysis::report::Report;

/// Runs `report` on `path`; returns the exit code.
pub fn run(
    path: &Path,
    json: bool,
    options: &AnalysisOptions,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let report = match Report::from_file(path, options) {
        Ok(r) => r,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(EXIT_CORRUPT);
        }
    };
    if json {
        report.write_json(out)?;
    } else {
        out.write_all(report.to_text().as_bytes())?;
    }
    Ok(match &report.summary.error {
        Some(e) => {
            writeln!(err, "error: {e}")?;
            EXIT_CORRUPT
        }
        None => EXIT_OK,
    })
}
