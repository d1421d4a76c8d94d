//! The report: a trace's [`TraceSummary`] and [`Analysis`] together, as aligned text for people or
//! as JSON (schema on [`TraceSummary`], [`Analysis`] and in `trace-viewer/README.md`) for programs.
//! `trace-viewer report` prints it; so can any program (see [`Report::from_file`]).
//!
//! A trace that is cut short or lost data is reported with its warnings: its status says
//! `cut` (no end record: what came after the last event is unknown, so lost data is never
//! "none") or `incomplete`. A corrupt trace — any damage `check` finds, through the
//! validation they share ([`open::open_model`]) — is summarized as far as it reads (the whole
//! frames before the damage), with the error in [`TraceSummary::error`].

mod analysis_text;
mod code_text;
mod regions_text;
pub mod table;

use std::io::{self, Write};
use std::path::Path;

use crate::analysis::overview::{Analysis, AnalysisOptions};
use crate::model::{BuildError, BuildOptions};
use crate::open;
use crate::summary::{FileInfo, TraceSummary};
use crate::units::{format_bytes, format_duration, format_rfc3339_utc};
use analysis_text::{render_analysis_text, render_headline};
pub use regions_text::render_regions_text;
use serde::Serialize;
use table::Align;

/// A trace's summary and analysis, ready to print.
///
/// ```
/// use trace_analysis::analysis::overview::AnalysisOptions;
/// use trace_analysis::report::Report;
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().join("t.rtt");
/// # let mut b = trace_format::build::TraceBuilder::new();
/// # b.thread(1, "worker-0");
/// # b.push(1, 10, trace_format::Event::PollStart { task: trace_format::TaskId(1) });
/// # b.push(1, 20, trace_format::Event::PollEnd { ready: true });
/// # std::fs::write(&path, b.to_bytes())?;
/// let report = Report::from_file(&path, &AnalysisOptions::default())?;
/// assert!(report.summary.error.is_none());
/// print!("{}", report.to_text());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Serialize)]
pub struct Report {
    /// What the file holds: recorder, duration, threads, events by kind, lost data, status.
    #[serde(flatten)]
    pub summary: TraceSummary,
    /// What the events mean: breakdown by spawn location, pauses, MMU, long polls, leaks.
    #[serde(flatten)]
    pub analysis: Analysis,
}

impl Report {
    /// Opens the trace at `path` and computes its report. A damaged file gives the report of
    /// its readable part with the damage in [`TraceSummary::error`]; only a file with nothing
    /// readable (missing, not a trace, damaged from the start) is an error.
    pub fn from_file(path: &Path, options: &AnalysisOptions) -> Result<Report, BuildError> {
        // The model's decode finds the damage `check` finds; the summary then reads what
        // remains, so a valid trace is decoded twice (model, summary), a damaged one three
        // times.
        let (file, model) = open::open_model(path, BuildOptions::default())?;
        let mut summary = TraceSummary::from_trace(
            &file.trace,
            FileInfo {
                path: Some(path.display().to_string()),
                size_bytes: file.file_size,
                valid_bytes: 0,
            },
        );
        if let Some(e) = &file.salvaged_from {
            summary.set_salvaged(e);
        }
        // The model is of the salvaged prefix too: the analysis covers what the summary does.
        let analysis = Analysis::compute(&model, options);
        Ok(Report { summary, analysis })
    }

    /// The report as text: the summary, its headline, then the analysis's sections.
    pub fn to_text(&self) -> String {
        let headline = render_headline(&self.analysis);
        let mut text = with_headline(render_text(&self.summary), &headline);
        text.push_str(&render_analysis_text(&self.analysis));
        text
    }

    /// Writes the report as pretty-printed JSON and a newline (the `report --json` document:
    /// the summary's fields, then the analysis's).
    pub fn write_json(&self, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer_pretty(&mut *out, self).map_err(io::Error::from)?;
        writeln!(out)
    }
}

/// `summary` with `headline` right after its first block (the field table ending in
/// `status`), so that it is on the first screen whatever follows.
fn with_headline(mut summary: String, headline: &str) -> String {
    if !headline.is_empty() {
        let at = summary.find("\n\n").map_or(summary.len(), |i| i + 1);
        summary.insert_str(at, headline);
    }
    summary
}

/// Formats a number with up to four decimals, trailing zeros removed.
fn decimal(v: f64) -> String {
    let s = format!("{v:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() { "0".into() } else { s.into() }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The summary as text (the report's first part).
pub fn render_text(s: &TraceSummary) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut field = |name: &str, value: String| rows.push(vec![name.to_string(), value]);

    if let Some(path) = &s.file.path {
        field("trace", path.clone());
    }
    let mut file = format!(
        "{} ({})",
        format_bytes(s.file.size_bytes),
        plural(s.file.size_bytes, "byte", "bytes")
    );
    if s.file.valid_bytes < s.file.size_bytes {
        file += &format!(
            ", read up to byte {}, {} not read",
            s.file.valid_bytes,
            plural(s.file.size_bytes - s.file.valid_bytes, "byte", "bytes")
        );
    }
    field("file", file);
    field("recorder", s.recorder.clone());
    field(
        "process",
        format!("{} (pid {})", display_name(&s.process.name), s.process.pid),
    );
    field(
        "started",
        s.wall_clock_start_unix_nanos
            .map_or_else(|| "unknown".into(), |w| format_rfc3339_utc(w, 3)),
    );
    field(
        "duration",
        match (s.first_event_ns, s.last_event_ns) {
            (Some(first), Some(last)) => format!(
                "{} (first event at {}, last at {})",
                format_duration(s.duration_ns),
                format_duration(first),
                format_duration(last)
            ),
            _ => "no events".into(),
        },
    );
    field(
        "clock",
        format!(
            "{} ({} ns per unit)",
            s.clock.source,
            decimal(s.clock.nanos_per_unit)
        ),
    );
    field(
        "features",
        if s.features.is_empty() {
            "none".into()
        } else {
            s.features
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", ")
        },
    );
    field("chunks", s.chunks.to_string());
    field(
        "events",
        match s.bytes_per_event {
            Some(b) => format!("{} ({} bytes per event)", s.events, decimal_short(b)),
            None => "0".into(),
        },
    );
    field("lost data", lost_line(s));
    field("status", status_line(s));
    let mut text = table::render(&rows, &[Align::Left, Align::Left], "");

    text.push_str(&format!("\nthreads ({})\n", s.threads.len()));
    if s.threads.is_empty() {
        text.push_str("  none\n");
    } else {
        let mut rows = vec![
            [
                "id",
                "name",
                "role",
                "events",
                "chunks",
                "lost events",
                "missing chunks",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for t in &s.threads {
            rows.push(vec![
                t.id.to_string(),
                display_name(&t.name),
                if t.kind.is_some() {
                    t.role()
                } else {
                    "-".into()
                },
                t.events.to_string(),
                t.chunks.to_string(),
                dash_if_zero(t.lost_events),
                dash_if_zero(t.missing_chunks),
            ]);
        }
        use Align::{Left, Right};
        text += &table::render(
            &rows,
            &[Right, Left, Left, Right, Right, Right, Right],
            "  ",
        );
    }

    text.push_str("\nevents by kind\n");
    if s.events_by_kind.is_empty() {
        text.push_str("  none\n");
    } else {
        let mut kinds: Vec<(&str, u64)> = s.events_by_kind.iter().map(|(k, n)| (*k, *n)).collect();
        kinds.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        let rows: Vec<Vec<String>> = kinds
            .iter()
            .map(|(k, n)| vec![k.to_string(), n.to_string(), percent(*n, s.events)])
            .collect();
        text += &table::render(&rows, &[Align::Left, Align::Right, Align::Right], "  ");
    }

    text.push_str(&format!("\nwarnings ({})\n", s.warnings.len()));
    if s.warnings.is_empty() {
        text.push_str("  none\n");
    }
    for w in s.warnings.iter().take(MAX_WARNINGS_LISTED) {
        text += &format!("  - {}\n", w.message);
    }
    if s.warnings.len() > MAX_WARNINGS_LISTED {
        text += &format!(
            "  - and {} more (--json lists them all)\n",
            s.warnings.len() - MAX_WARNINGS_LISTED
        );
    }
    if let Some(e) = &s.error {
        text += &format!("\nerror\n  {e}\n");
    }
    text
}

/// Warnings listed in the text report; more are counted (a file can make one per thread).
const MAX_WARNINGS_LISTED: usize = 20;

/// `complete`, `incomplete (2 warnings)`, `cut: …` or `corrupt: …`.
fn status_line(s: &TraceSummary) -> String {
    let until = s
        .last_event_ns
        .map_or_else(|| "its start".to_string(), format_duration);
    match s.status {
        "corrupt" => "corrupt: only part of the trace could be read".into(),
        "cut" => format!(
            "cut: the recording did not finish (no end record); the data ends at {until}, \
             what came after is unknown"
        ),
        "incomplete" => {
            let n = s.warnings.iter().filter(|w| !w.benign).count() as u64;
            format!("incomplete ({})", plural(n, "warning", "warnings"))
        }
        other => other.into(),
    }
}

/// `n` as a share of `total`: `"50.0%"`, and `"<0.1%"` rather than a misleading `"0.0%"`.
fn percent(n: u64, total: u64) -> String {
    let p = n as f64 * 100.0 / total.max(1) as f64;
    if n > 0 && p < 0.05 {
        "<0.1%".into()
    } else {
        format!("{p:.1}%")
    }
}

fn display_name(name: &str) -> String {
    if name.is_empty() {
        "(unnamed)".into()
    } else {
        name.into()
    }
}

fn dash_if_zero(n: u64) -> String {
    if n == 0 { "-".into() } else { n.to_string() }
}

/// One decimal for bytes per event (`2.9`), two below 1.
fn decimal_short(v: f64) -> String {
    if v < 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.1}")
    }
}

/// `none`, or the best estimate followed by each source; for a trace whose end is unknown
/// (cut, or damaged), what is known and that the rest is unknown — never `none`.
fn lost_line(s: &TraceSummary) -> String {
    let known = known_lost(s);
    if !s.lost.tail_unknown {
        return known.unwrap_or_else(|| "none".into());
    }
    let until = s
        .last_event_ns
        .map_or_else(|| "its start".to_string(), format_duration);
    let why = if s.error.is_some() {
        "the rest of the file is damaged"
    } else {
        "the trace is cut: no end record"
    };
    match known {
        Some(known) => format!("at least {known}; unknown after {until} ({why})"),
        None => format!("unknown after {until} ({why}); none known before"),
    }
}

/// The best estimate of the drops the file records, followed by each source; `None` when it
/// records none.
fn known_lost(s: &TraceSummary) -> Option<String> {
    let l = &s.lost;
    if !l.any() {
        return None;
    }
    let mut sources = Vec::new();
    if l.from_lost_events.records > 0 {
        sources.push(format!(
            "{} reporting {} / {}",
            plural(l.from_lost_events.records, "lost event", "lost events"),
            plural(l.from_lost_events.chunks, "chunk", "chunks"),
            plural(l.from_lost_events.events, "event", "events"),
        ));
    }
    if let Some(end) = &l.from_end_record
        && (end.chunks > 0 || end.events > 0)
    {
        sources.push(format!(
            "end record: {} / {}",
            plural(end.chunks, "chunk", "chunks"),
            plural(end.events, "event", "events"),
        ));
    }
    if l.missing_chunks > 0 {
        sources.push(format!(
            "{} missing from the file",
            plural(l.missing_chunks, "chunk", "chunks")
        ));
    }
    Some(format!(
        "{} with {} dropped ({})",
        plural(l.chunks, "chunk", "chunks"),
        plural(l.events, "event", "events"),
        sources.join("; ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use trace_format::build::TraceBuilder;
    use trace_format::{Event, TaskId, Trace};

    fn summary(b: &TraceBuilder, finish: bool) -> TraceSummary {
        let bytes = b.write(finish);
        let size = bytes.len() as u64;
        let trace = Trace::from_bytes(bytes).unwrap();
        TraceSummary::from_trace(
            &trace,
            FileInfo {
                path: Some("x.rtt".into()),
                size_bytes: size,
                valid_bytes: 0,
            },
        )
    }

    #[test]
    fn text_report_shows_every_section() {
        let mut b = TraceBuilder::new();
        b.header.features = vec![("tokio_unstable".into(), "true".into())];
        b.thread(1, "worker-0");
        b.push(1, 1_000, Event::PollStart { task: TaskId(1) });
        b.push(1, 3_200_001_000, Event::PollEnd { ready: true });
        let text = render_text(&summary(&b, true));
        for want in [
            "trace      x.rtt\n",
            "recorder   trace-format",
            "process    generated (pid 0)\n",
            "started    unknown\n",
            "duration   3.2 s (first event at 1 µs, last at 3.2 s)\n",
            "clock      monotonic (1 ns per unit)\n",
            "features   tokio_unstable=true\n",
            "lost data  none\n",
            "status     complete\n",
            "threads (1)\n  id  name      role  events  chunks  lost events  missing chunks\n",
            "   1  worker-0  -          2       1            -               -\n",
            "events by kind\n  poll_end    1  50.0%\n  poll_start  1  50.0%\n",
            "warnings (0)\n  none\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
        assert!(!text.contains("error"), "{text}");
    }

    #[test]
    fn text_report_shows_warnings_and_lost_data() {
        let mut b = TraceBuilder::new();
        b.push(
            1,
            10,
            Event::Lost {
                chunks: 2,
                events: 300,
            },
        );
        // Finished: the loss is known.
        let text = render_text(&summary(&b, true));
        assert!(
            text.contains("status     incomplete (1 warning)\n"),
            "{text}"
        );
        assert!(
            text.contains("lost data  2 chunks with 300 events dropped (1 lost event reporting"),
            "{text}"
        );

        // Without an end record the trace is cut: what is known, and that the rest is not.
        let text = render_text(&summary(&b, false));
        assert!(
            text.contains(
                "status     cut: the recording did not finish (no end record); the data ends \
                 at 10 ns, what came after is unknown\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "lost data  at least 2 chunks with 300 events dropped (1 lost event reporting \
                 2 chunks / 300 events); unknown after 10 ns (the trace is cut: no end record)\n"
            ),
            "{text}"
        );
        assert!(text.contains("  - trace has no end record"), "{text}");
    }

    /// A recording cut with nothing dropped before the cut (a full disk, a kill) is never
    /// "lost data none".
    #[test]
    fn a_cut_trace_never_says_nothing_was_lost() {
        let mut b = TraceBuilder::new();
        b.push(1, 1_000, Event::PollStart { task: TaskId(1) });
        b.push(1, 2_000, Event::PollEnd { ready: true });
        let s = summary(&b, false);
        assert_eq!(s.status, "cut");
        assert!(s.lost.tail_unknown && !s.complete);
        let text = render_text(&s);
        assert!(!text.contains("lost data  none"), "{text}");
        assert!(
            text.contains(
                "lost data  unknown after 2 µs (the trace is cut: no end record); none known \
                 before\n"
            ),
            "{text}"
        );
    }

    /// A file with many warnings (one per thread with missing chunks) lists a bounded number.
    #[test]
    fn the_warning_list_is_bounded() {
        let mut s = summary(&TraceBuilder::new(), true);
        for i in 0..1_000 {
            s.warnings.push(crate::summary::WarningInfo {
                kind: "missing_chunks",
                message: format!("thread {i}: 1 chunk(s) missing from the file"),
                benign: false,
            });
        }
        let text = render_text(&s);
        assert!(text.contains("warnings (1000)\n"), "{text}");
        assert!(
            text.contains("  - and 980 more (--json lists them all)\n"),
            "{text}"
        );
        assert!(text.len() < 4_000, "{} bytes", text.len());
    }

    #[test]
    fn percentages_never_round_to_zero() {
        assert_eq!(percent(1, 2), "50.0%");
        assert_eq!(percent(1, 4002), "<0.1%");
        assert_eq!(percent(0, 10), "0.0%");
        assert_eq!(percent(3, 3), "100.0%");
    }

    #[test]
    fn decimals_are_trimmed() {
        assert_eq!(decimal(1.0), "1");
        assert_eq!(decimal(0.357), "0.357");
        assert_eq!(decimal(0.0), "0");
        assert_eq!(decimal_short(2.94), "2.9");
        assert_eq!(decimal_short(0.5), "0.50");
    }
}
