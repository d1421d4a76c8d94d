//! `trace-viewer check FILE`: exit 0 only for a trace that opens, whose every chunk decodes
//! and agrees with its header (the validation [`trace_analysis::open::open_salvaging`] shares with
//! every other command), and that the reader has nothing to warn about (not cut short, has
//! its end record, lost nothing). Frames of unknown kinds, which the format reserves for
//! extensions, are skipped with a note and do not fail the check.
//!
//! Success prints to stdout `ok: 1234567 events, 42 chunks, 8 threads, 3.2 s`, then where
//! the file's bytes go (events, each kind of metadata) and, for a trace with samples, what
//! they cost per CPU sample:
//!
//! ```text
//! ok: 52113 events, 31 chunks, 9 threads, 3.0 s
//! bytes: 205445 in all: events 130012, stacks 20415, symbols 50022, mappings 1203, strings 2011, locations 1330, threads 412, sampling 180, header and end 314
//! samples: 1201 CPU, 14 stall, 160 allocation, 6.1 B each in events; per CPU sample: 8.2 B in sample events and stacks, 12.3 B with symbols and mappings
//! ```
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
    for line in byte_lines(&file.trace, file.file_size) {
        writeln!(out, "{line}")?;
    }
    Ok(EXIT_OK)
}

/// Event kinds that carry a stack.
const SAMPLE_KINDS: [&str; 3] = ["cpu_sample", "stall_sample", "alloc_sample_at"];

/// `bytes: …` (where the file's bytes go), then `samples: …` (what samples cost) when the
/// trace has any.
fn byte_lines(trace: &trace_format::Trace, file_size: u64) -> Vec<String> {
    let fb = trace.file_bytes();
    let mut parts = vec![format!("events {}", fb.events)];
    // The kinds that matter most for size first, then the rest in name order.
    let first = ["stacks", "symbols", "mappings"];
    for kind in first {
        if fb.meta.contains_key(kind) {
            parts.push(format!("{kind} {}", fb.meta_bytes(kind)));
        }
    }
    for (kind, (_, bytes)) in fb.meta.iter().filter(|(k, _)| !first.contains(k)) {
        parts.push(format!("{kind} {bytes}"));
    }
    parts.push(format!("header and end {}", fb.framing));
    if fb.unknown > 0 {
        parts.push(format!("unknown frames {}", fb.unknown));
    }
    let mut lines = vec![format!("bytes: {file_size} in all: {}", parts.join(", "))];

    // Sample events: counted and sized from the chunks (the check decoded them already,
    // so they decode).
    let mut count = [0u64; 3];
    let mut bytes = 0u64;
    for chunk in trace.chunks() {
        let mut events = trace.chunk_events(chunk);
        let mut at = 0;
        while let Some(Ok((_, e))) = events.next() {
            let end = events.bytes_read();
            if let Some(k) = SAMPLE_KINDS.iter().position(|&k| k == e.kind_name()) {
                count[k] += 1;
                bytes += (end - at) as u64;
            }
            at = end;
        }
    }
    let samples: u64 = count.iter().sum();
    if samples > 0 {
        let mut line = format!(
            "samples: {} CPU, {} stall, {} allocation, {:.1} B each in events",
            count[0],
            count[1],
            count[2],
            bytes as f64 / samples as f64
        );
        if count[0] > 0 {
            // What naming the code costs, spread over the CPU samples: the sample events
            // (all kinds) and the stacks, then with what names the addresses (symbols,
            // mappings, the sampling record): a cost per trace, which longer recordings
            // spread thinner.
            let cpu = count[0] as f64;
            let stacks = bytes + fb.meta_bytes("stacks");
            let all = stacks
                + fb.meta_bytes("symbols")
                + fb.meta_bytes("mappings")
                + fb.meta_bytes("sampling");
            line += &format!(
                "; per CPU sample: {:.1} B in sample events and stacks, {:.1} B with symbols \
                 and mappings",
                stacks as f64 / cpu,
                all as f64 / cpu
            );
        }
        lines.push(line);
    }
    lines
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

#[cfg(test)]
mod tests {
    use super::*;
    use trace_format::build::TraceBuilder;
    use trace_format::pack::{StackPacker, pack_symbols};
    use trace_format::{Event, Meta, StackDef, StackId, Symbols, TaskId};

    #[test]
    fn check_says_where_the_bytes_go_and_what_a_sample_costs() {
        let mut b = TraceBuilder::new();
        let defs: Vec<StackDef> = (1..=4)
            .map(|id| StackDef {
                id,
                frames: vec![0x5555_0000_1000 + u64::from(id), 0x5555_0000_2000],
            })
            .collect();
        b.meta(Meta::PackedStacks(StackPacker::default().pack(&defs)));
        b.meta(Meta::PackedSymbols(pack_symbols(&Symbols::build([(
            0x5555_0000_2000u64,
            vec![("main", Some("src/main.rs"), 1, 1)],
        )]))));
        b.thread(1, "worker-0");
        for i in 0..8u64 {
            let stack = StackId(1 + (i % 4) as u32);
            let task = TaskId(1);
            let e = if i < 6 {
                Event::CpuSample { task, stack }
            } else {
                Event::StallSample { task, stack }
            };
            b.push(1, 100 + i * 10, e);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.rtt");
        std::fs::write(&path, b.to_bytes()).unwrap();

        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert_eq!(run(&path, &mut out, &mut err).unwrap(), EXIT_OK);
        let out = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");

        let trace = trace_format::Trace::open(&path).unwrap();
        let fb = trace.file_bytes();
        let size = std::fs::metadata(&path).unwrap().len();
        // Only samples in the events: their bytes are the chunks' event bytes.
        let sample_bytes: u64 = trace.chunks().iter().map(|c| u64::from(c.events_len)).sum();
        let stacks = fb.meta_bytes("stacks");
        let symbols = fb.meta_bytes("symbols");
        assert!(stacks > 0 && symbols > 0);
        assert!(
            lines[1].starts_with(&format!(
                "bytes: {size} in all: events {}, stacks {stacks}, symbols {symbols}, ",
                fb.events
            )),
            "{out}"
        );
        assert!(
            lines[1].ends_with(&format!("header and end {}", fb.framing)),
            "{out}"
        );
        assert_eq!(
            lines[2],
            format!(
                "samples: 6 CPU, 2 stall, 0 allocation, {:.1} B each in events; per CPU sample: \
                 {:.1} B in sample events and stacks, {:.1} B with symbols and mappings",
                sample_bytes as f64 / 8.0,
                (sample_bytes + stacks) as f64 / 6.0,
                (sample_bytes + stacks + symbols) as f64 / 6.0,
            )
        );
    }
}
