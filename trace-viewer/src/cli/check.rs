//! `trace-viewer check FILE`: exit 0 only for a trace that opens, whose every chunk decodes
//! and agrees with its header (the validation [`trace_analysis::open::open_salvaging`] shares with
//! every other command), and that the reader has nothing to warn about (not cut short, has
//! its end record, lost nothing). Frames of unknown kinds, which the format reserves for
//! extensions, are skipped with a note and do not fail the check.
//!
//! Success prints one line to stdout: `ok: 1234567 events, 42 chunks, 8 threads, 3.2 s`.
//! Failure prints one line to stderr and exits [`EXIT_CORRUPT`] (unreadable, corrupt) or
//! [`EXIT_INCOMPLETE`] (readable, but something is missing). Every line is short, whatever
//! the file holds: a long list of reasons is cut to its first few and a count.

use std::io::{self, Write};
use std::path::Path;

use super::exit::{EXIT_CORRUPT, EXIT_INCOMPLETE, EXIT_OK};
use trace_analysis::open;
use trace_analysis::summary::{FileInfo, TraceSummary};
use trace_analysis::units::format_duration;

/// Reasons listed in full on the `incomplete trace` line; more are counted.
const MAX_REASONS: usize = 4;

/// Runs `check` on `path`; returns the exit code.
pub fn run(path: &Path, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<u8> {
    let file = match open::open_salvaging(path) {
        Ok(l) => l,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(EXIT_CORRUPT);
        }
    };
    if let Some(e) = &file.salvaged_from {
        writeln!(err, "error: {e}")?;
        return Ok(EXIT_CORRUPT);
    }
    let summary = TraceSummary::from_trace(
        &file.trace,
        FileInfo {
            path: Some(path.display().to_string()),
            size_bytes: file.file_size,
            valid_bytes: 0,
        },
    );
    if let Some(e) = &summary.error {
        writeln!(err, "error: {e}")?;
        return Ok(EXIT_CORRUPT);
    }
    for note in summary.warnings.iter().filter(|w| w.benign) {
        writeln!(err, "note: {}", note.message)?;
    }
    let reasons: Vec<&str> = summary
        .warnings
        .iter()
        .filter(|w| !w.benign)
        .map(|w| w.message.as_str())
        .collect();
    if !reasons.is_empty() {
        let mut line = reasons[..reasons.len().min(MAX_REASONS)].join("; ");
        if reasons.len() > MAX_REASONS {
            line += &format!(
                "; and {} more warnings (trace-viewer report lists them)",
                reasons.len() - MAX_REASONS
            );
        }
        writeln!(
            err,
            "error: incomplete trace ({} events readable): {line}",
            summary.events
        )?;
        return Ok(EXIT_INCOMPLETE);
    }
    writeln!(out, "{}", ok_line(&summary))?;
    Ok(EXIT_OK)
}

/// `ok: 1234567 events, 42 chunks, 8 threads, 3.2 s`.
fn ok_line(s: &TraceSummary) -> String {
    format!(
        "ok: {} events, {} chunks, {} threads, {}",
        s.events,
        s.chunks,
        s.threads_with_events(),
        format_duration(s.duration_ns)
    )
}
