//! `trace-viewer regions FILE [--by FIELD,...] [--long-poll D] [--json]`: the trace's
//! `tracing` spans grouped by name and field values (by default each name's
//! low-cardinality fields, so a per-request `id` does not split groups), with latency
//! (count, total, p50, p99, max), busy share, time in long polls, and the allocation and CPU
//! samples of their tasks inside them ([`trace_analysis::analysis::regions`]).
//!
//! JSON: `{"by": {name: [field, …]}, "auto": bool, "groups": [{"name", "fields", "count",
//! "open", "total_ns", "p50_ns", "p99_ns", "max_ns", "busy_share", "long_poll_ns",
//! "alloc_bytes", "cpu_samples"}]}`, largest total first.
//!
//! Exit codes: 0 (also for a trace without spans, which says how to record them on
//! stderr); 1 the trace cannot be read.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;

use super::exit::EXIT_OK;
use trace_analysis::analysis::regions::{RegionGroups, RegionsOptions};
use trace_analysis::report::render_regions_text;
use trace_analysis::units::parse_duration;

/// Arguments of `regions`.
#[derive(Debug, Args)]
pub struct RegionsArgs {
    /// The trace file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Group by these span fields, comma-separated (default: each span name's fields with
    /// few distinct values).
    #[arg(long, value_name = "FIELDS", value_delimiter = ',')]
    pub by: Vec<String>,
    /// Polls at least this long count as long polls (default 1ms).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub long_poll: Option<u64>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs `regions`; returns the exit code.
pub fn run(args: &RegionsArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<u8> {
    let model = match super::load::model_or_exit(&args.file, "grouping", err)? {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    let mut options = RegionsOptions::default();
    if !args.by.is_empty() {
        options.by = Some(args.by.clone());
    }
    if let Some(l) = args.long_poll {
        options.long_poll = l;
    }
    if model.spans.is_empty() {
        let segments: usize = model.threads.iter().map(|t| t.regions.len()).sum();
        if segments > 0 {
            writeln!(
                err,
                "note: the trace has {segments} region enters but no span records: it was \
                 recorded before trace-rt recorded spans whole (creation, fields, close)"
            )?;
        } else {
            writeln!(
                err,
                "note: the trace has no `tracing` spans: add trace_rt::layer() to the \
                 service's tracing subscriber (README, \"tracing\") and record again"
            )?;
        }
    }
    let groups = RegionGroups::build(&model, &options);
    if args.json {
        serde_json::to_writer_pretty(&mut *out, &groups).map_err(io::Error::other)?;
        writeln!(out)?;
    } else {
        write!(
            out,
            "{}",
            render_regions_text(&groups, options.long_poll, None)
        )?;
    }
    Ok(EXIT_OK)
}
