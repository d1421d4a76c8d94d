//! `trace-viewer check FILE`: exit 0 only for a trace that opens, whose every chunk decodes
//! and agrees with its header ([`trace_format::Trace::validate`]), and that the reader has
//! nothing to warn about (not cut short, has its end record, lost nothing).
//!
//! Success prints one line to stdout: `ok: 1234567 events, 42 chunks, 8 threads, 3.2 s`.
//! Failure prints one line to stderr and exits [`EXIT_CORRUPT`] (unreadable, corrupt) or
//! [`EXIT_INCOMPLETE`] (readable, but something is missing).

use std::io::{self, Write};
use std::path::Path;

use super::{EXIT_CORRUPT, EXIT_INCOMPLETE, EXIT_OK};
use crate::load;
use crate::summary::{FileInfo, Summary};
use crate::units::format_duration;

/// Runs `check` on `path`; returns the exit code.
pub fn run(path: &Path, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<u8> {
    let loaded = match load::open(path) {
        Ok(l) => l,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(EXIT_CORRUPT);
        }
    };
    if let Err(e) = loaded.trace.validate() {
        writeln!(err, "error: {e}")?;
        return Ok(EXIT_CORRUPT);
    }
    let summary = Summary::from_trace(
        &loaded.trace,
        FileInfo {
            path: Some(path.display().to_string()),
            size_bytes: loaded.file_size,
            valid_bytes: 0,
        },
    );
    if let Some(e) = &summary.error {
        writeln!(err, "error: {e}")?;
        return Ok(EXIT_CORRUPT);
    }
    if !summary.warnings.is_empty() {
        let reasons: Vec<&str> = summary
            .warnings
            .iter()
            .map(|w| w.message.as_str())
            .collect();
        writeln!(
            err,
            "error: incomplete trace ({} events readable): {}",
            summary.events,
            reasons.join("; ")
        )?;
        return Ok(EXIT_INCOMPLETE);
    }
    writeln!(out, "{}", ok_line(&summary))?;
    Ok(EXIT_OK)
}

/// `ok: 1234567 events, 42 chunks, 8 threads, 3.2 s`.
fn ok_line(s: &Summary) -> String {
    format!(
        "ok: {} events, {} chunks, {} threads, {}",
        s.events,
        s.chunks,
        s.threads_with_events(),
        format_duration(s.duration_ns)
    )
}
