//! Opening a trace's model for a command: the one place that prints why a trace cannot be
//! read (exit 1) and warns that a damaged one is used as far as it reads.

use std::io::{self, Write};
use std::path::Path;

use trace_analysis::model::{BuildOptions, Model};
use trace_analysis::open;

use super::exit::EXIT_CORRUPT;

/// The model of the trace at `path`, or the exit code after saying why there is none.
/// `doing` completes "the trace is damaged; … what reads" (e.g. "profiling").
pub(super) fn model_or_exit(
    path: &Path,
    doing: &str,
    err: &mut dyn Write,
) -> io::Result<Result<Model, u8>> {
    let (file, model) = match open::open_model(path, BuildOptions::default()) {
        Ok(m) => m,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(Err(EXIT_CORRUPT));
        }
    };
    if let Some(e) = &file.salvaged_from {
        writeln!(
            err,
            "warning: the trace is damaged; {doing} what reads: {e}"
        )?;
    }
    Ok(Ok(model))
}
