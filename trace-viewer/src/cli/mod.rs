//! The command line: argument parsing (clap derive), exit codes, and one module per command.
//! Commands write to the `out` and `err` streams they are given (so tests can capture them,
//! and a closed pipe is an error to handle, not a panic) and return the process exit code.
//!
//! - [`check`]: `trace-viewer check FILE`, exit 0 only for a valid, complete trace;
//! - [`report`]: `trace-viewer report FILE [--json]`, the summary and the analysis (task
//!   breakdown, leak suspects, threads, pauses, MMU) as text or JSON;
//! - [`mmu`]: `trace-viewer mmu FILE [--windows LIST] [--percentiles] [--per-worker]
//!   [--worst N] [--long-poll T] [--json]`;
//! - [`dump`]: `trace-viewer dump FILE` and `trace-viewer undump TEXT -o FILE`, a trace as
//!   text (one event per line) and back;
//! - [`pprof`]: `trace-viewer pprof FILE --profile cpu|stall|alloc -o OUT.pb.gz [--from T]
//!   [--to T]`, the trace's samples as a gzipped pprof profile for `go tool pprof`;
//! - [`symbolize`]: `trace-viewer symbolize FILE --binary PATH [-o OUT] [--force]`, names
//!   the code in a trace recorded from a stripped binary with the unstripped one;
//! - `trace-viewer [FILE]` opens the desktop window ([`crate::app`]), or says why it cannot
//!   (no display) and exits with [`EXIT_NO_WINDOW`].

pub mod check;
pub mod dump;
mod exit;
pub mod export;
mod load;
pub mod mmu;
mod paths;
pub mod pprof;
pub mod regions;
pub mod report;
pub mod symbolize;

pub use exit::{EXIT_CORRUPT, EXIT_INCOMPLETE, EXIT_NO_WINDOW, EXIT_OK, EXIT_USAGE};
pub use paths::same_file;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

use trace_analysis::analysis::groups::GroupBy;
use trace_analysis::analysis::overview::AnalysisOptions;
use trace_analysis::units::{parse_duration, parse_window};

const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success; for `check`: the trace is valid and complete
  1  the trace is corrupt or cannot be read (missing file, not a trace, damaged chunk),
     or it holds nothing the command measures (`mmu` on a trace without tokio workers,
     `pprof` on a trace without samples of the profile's kind)
  2  usage error (also: an output that is the input trace itself; for `undump`: text it
     cannot parse, the message names the line; for `symbolize`: a binary that cannot be
     read or whose build id matches no recorded file)
  3  `check` only: the trace reads but is incomplete (cut short, no end record,
     lost data, missing chunks)
  4  the window could not be opened (no display: use the subcommands)";

/// trace-viewer: look at traces recorded by trace-rt.
#[derive(Debug, Parser)]
#[command(
    name = "trace-viewer",
    version,
    about = "Look at traces recorded by trace-rt",
    long_about = "Look at traces recorded by trace-rt.\n\n\
                  `trace-viewer FILE` opens the trace in the desktop window (`trace-viewer` \
                  alone opens an empty one); the subcommands work in a terminal.",
    after_help = EXIT_CODES_HELP,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    /// Trace file to open in the desktop window.
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,

    /// What to do with the trace.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check that a trace is valid and complete
    ///
    /// Decodes every chunk. Exit 0 and print a one-line summary, or print the reason to
    /// stderr and exit 1 (corrupt, unreadable) or 3 (incomplete).
    #[command(after_help = EXIT_CODES_HELP)]
    Check {
        /// The trace file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
    },
    /// Summarize a trace: recorder, duration, threads, events by kind, lost data
    ///
    /// Prints recorder, process, wall-clock start, duration, clock, features, threads,
    /// events by kind, bytes per event, lost data and warnings. A trace that is cut short
    /// is reported with its warnings (exit 0); a corrupt one is summarized as far as it
    /// reads, then the error is printed (exit 1).
    #[command(after_help = EXIT_CODES_HELP)]
    Report {
        /// The trace file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Print JSON (schema in trace-viewer/README.md) instead of text.
        #[arg(long)]
        json: bool,
        /// A task alive at the end that has waited this long is a leak suspect.
        #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
        leak_threshold: u64,
        /// Responsiveness MMU: polls longer than this make their worker unavailable.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        long_poll: Option<u64>,
        /// Group tasks by spawn `location` (default), task `name`, or root `region` (the
        /// root `tracing` span each task entered first, with its fields): for tasks a
        /// library spawns at one line. Tasks without a name or region keep their location.
        #[arg(long, value_name = "BY", default_value = "location", value_parser = parse_group_by)]
        group_by: GroupBy,
    },
    /// Minimum mutator utilization: the worst share of the workers available in any window
    ///
    /// Utilization is 0 during a process-wide pause and otherwise the share of workers not in
    /// a thread-scoped pause (or, with --long-poll, not in a poll that long). Durations take
    /// a unit: 250us, 10ms, 1.5s.
    #[command(after_help = EXIT_CODES_HELP)]
    Mmu {
        /// The trace file.
        #[arg(value_name = "FILE")]
        file: PathBuf,
        /// Window sizes, comma-separated (default: 20 log-spaced from 10µs to the trace length).
        #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_window)]
        windows: Vec<u64>,
        /// Add MUD percentiles (the utilization 99.9%, 99%, 95% of windows reach).
        #[arg(long)]
        percentiles: bool,
        /// Add each worker's own MMU.
        #[arg(long)]
        per_worker: bool,
        /// List the N worst disjoint windows of each size (at most 1000000).
        #[arg(long, value_name = "N", default_value_t = 0)]
        worst: usize,
        /// Responsiveness mode: polls longer than this make their worker unavailable.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        long_poll: Option<u64>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Export a trace as Chrome trace JSON, for Perfetto (ui.perfetto.dev) or chrome://tracing
    ///
    /// One track per worker/blocking thread and per task (polls as slices, idle, pauses,
    /// regions, logs), wake arrows, counters, a process-pause track. Times take a unit:
    /// 250us, 10ms, 1.5s. A corrupt trace is exported up to the damage and exits 1.
    #[command(after_help = EXIT_CODES_HELP)]
    Export(export::ExportArgs),
    /// Print a trace as text: one event per line (thread, time, kind, arguments), metadata included
    ///
    /// `undump` reads the text back into the same trace. The syntax is in trace-format's
    /// FORMAT.md ("Text form"). Warnings (a cut file) go to stderr.
    #[command(after_help = EXIT_CODES_HELP)]
    Dump(dump::DumpArgs),
    /// Build a binary trace from its text form (as `dump` prints it, or written by hand)
    #[command(after_help = EXIT_CODES_HELP)]
    Undump(dump::UndumpArgs),
    /// Name the code in a trace recorded from a stripped binary, with the unstripped binary
    ///
    /// Uses the mappings the recording kept (file, load address, build id): addresses in the
    /// file whose build id is the binary's are resolved (function, file, line, inlined
    /// frames) and written as a symbols record into a copy of the trace (default
    /// FILE.sym.rtt; the input is never overwritten).
    #[command(after_help = EXIT_CODES_HELP)]
    Symbolize(symbolize::SymbolizeArgs),
    /// Write CPU, stalled-poll or allocation samples as a pprof profile (gzipped profile.proto)
    ///
    /// Functions, files and lines come from the symbols in the trace, so `go tool pprof
    /// -http=: OUT.pb.gz` (or any pprof reader) needs no binary. Samples are labelled with
    /// their task's spawn location (`spawn`), task id (`task`) and thread (`thread`) for
    /// `-tagfocus`. A trace without samples of the kind exits 1 and says how to record them.
    #[command(after_help = EXIT_CODES_HELP)]
    Pprof(pprof::PprofArgs),
    /// Group `tracing` spans by name and field values: count, latency, busy share, long polls
    ///
    /// Each span is one region, creation to close. By default each name's fields with few
    /// distinct values group (a per-request `id` does not split groups); `--by route,method`
    /// chooses them. Needs a trace recorded with `trace_rt::layer()` in the subscriber.
    #[command(after_help = EXIT_CODES_HELP)]
    Regions(regions::RegionsArgs),
}

/// Runs a parsed command line, writing results to `out` and diagnostics to `err`, and
/// returns the exit code. Never panics on any input file.
pub fn run(cli: Cli, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    if let Some(input) = cli.command.as_ref().map(Command::input)
        && stdout_is(input)
    {
        let _ = writeln!(
            err,
            "error: standard output is the input trace {}: writing to it would destroy \
             the trace; redirect the output to another file",
            input.display()
        );
        return EXIT_USAGE;
    }
    let result = match cli.command {
        Some(Command::Check { file }) => check::run(&file, out, err),
        Some(Command::Report {
            file,
            json,
            leak_threshold,
            long_poll,
            group_by,
        }) => {
            let mut options = AnalysisOptions::default();
            options.breakdown.leak_threshold = leak_threshold;
            options.breakdown.group_by = group_by;
            options.utilization.long_poll = long_poll;
            report::run(&file, json, &options, out, err)
        }
        Some(Command::Mmu {
            file,
            windows,
            percentiles,
            per_worker,
            worst,
            long_poll,
            json,
        }) => {
            let args = mmu::MmuArgs {
                windows,
                percentiles,
                per_worker,
                worst,
                long_poll,
                json,
            };
            mmu::run(&file, &args, out, err)
        }
        Some(Command::Export(args)) => export::run(&args, out, err),
        Some(Command::Dump(args)) => dump::run_dump(&args, out, err),
        Some(Command::Undump(args)) => dump::run_undump(&args, out, err),
        Some(Command::Symbolize(args)) => symbolize::run(&args, out, err),
        Some(Command::Pprof(args)) => pprof::run(&args, out, err),
        Some(Command::Regions(args)) => regions::run(&args, out, err),
        None => window(cli.file, err),
    };
    let result = result.and_then(|code| out.flush().map(|()| code));
    match result {
        Ok(code) => code,
        Err(e) => {
            // A closed pipe (`| head`) is the reader's choice, not something to report.
            if e.kind() != io::ErrorKind::BrokenPipe {
                let _ = writeln!(err, "error: cannot write output: {e}");
            }
            EXIT_CORRUPT
        }
    }
}

fn parse_group_by(s: &str) -> Result<GroupBy, String> {
    GroupBy::parse(s)
        .ok_or_else(|| format!("`{s}` is not a grouping: use location, name or region"))
}

impl Command {
    /// The trace file the command reads.
    pub fn input(&self) -> &Path {
        match self {
            Command::Check { file } | Command::Report { file, .. } | Command::Mmu { file, .. } => {
                file
            }
            Command::Export(args) => &args.file,
            Command::Dump(args) => &args.file,
            Command::Undump(args) => &args.text,
            Command::Symbolize(args) => &args.file,
            Command::Pprof(args) => args.input(),
            Command::Regions(args) => &args.file,
        }
    }
}

/// Whether this process's standard output is the file at `path` (`report x.rtt >> x.rtt`
/// would append the report to the trace while it is being read).
fn stdout_is(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::fd::AsFd;
        use std::os::unix::fs::MetadataExt;
        let Ok(fd) = io::stdout().as_fd().try_clone_to_owned() else {
            return false;
        };
        let (Ok(out), Ok(input)) = (std::fs::File::from(fd).metadata(), std::fs::metadata(path))
        else {
            return false;
        };
        out.is_file() && (out.dev(), out.ino()) == (input.dev(), input.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        false
    }
}

/// `trace-viewer [FILE]`: opens the window and returns when it is closed, or says why it
/// cannot be opened.
fn window(file: Option<PathBuf>, err: &mut dyn Write) -> io::Result<u8> {
    match crate::app::run_window(file.clone()) {
        Ok(()) => Ok(EXIT_OK),
        Err(e) => {
            writeln!(err, "trace-viewer: {e}")?;
            let file = file.map_or_else(|| "FILE".to_string(), |f| f.display().to_string());
            writeln!(
                err,
                "In a terminal, for a text summary of the trace run:  trace-viewer report {file}\n\
                 To check that it is valid run:                      trace-viewer check {file}"
            )?;
            Ok(EXIT_NO_WINDOW)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("trace-viewer").chain(args.iter().copied()))
    }

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn file_alone_and_subcommands_both_parse() {
        let cli = parse(&["x.rtt"]).unwrap();
        assert_eq!(cli.file, Some(PathBuf::from("x.rtt")));
        assert!(cli.command.is_none());

        let cli = parse(&["report", "x.rtt", "--json"]).unwrap();
        assert!(cli.file.is_none());
        assert!(matches!(
            cli.command,
            Some(Command::Report { json: true, .. })
        ));

        let cli = parse(&["check", "x.rtt"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Check { .. })));
    }

    #[test]
    fn no_arguments_open_an_empty_window() {
        let cli = parse(&[]).unwrap();
        assert!(cli.file.is_none() && cli.command.is_none());
    }

    #[test]
    fn usage_errors_are_rejected() {
        assert!(parse(&["check"]).is_err());
        assert!(parse(&["x.rtt", "report", "y.rtt"]).is_err());
        assert!(parse(&["report", "x.rtt", "--frobnicate"]).is_err());
        assert_eq!(
            parse(&["check"]).unwrap_err().exit_code(),
            EXIT_USAGE as i32
        );
    }

    #[test]
    fn help_documents_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("3  `check` only"), "{help}");
    }
}
