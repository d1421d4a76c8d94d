//! `trace-viewer export FILE --chrome OUT [--from T] [--to T]`: the trace as Chrome trace JSON
//! ([`trace_analysis::export::chrome`]) for Perfetto or `chrome://tracing`.
//!
//! `OUT` is checked before the trace is loaded, so a typo in its directory fails at once;
//! an existing file is only replaced once loading succeeded, and a partly written one is
//! removed. `-` writes the JSON to standard output (the summary then goes to stderr).
//! `--from`/`--to` take times since the start of the trace with a unit (`10ms`, `1.5s`).
//!
//! Exit codes: 0 written; 1 the trace cannot be read or is corrupt (for a corrupt trace the
//! readable part before the damage is still exported, as `report` summarizes it), or `OUT`
//! cannot be written; 2 usage errors (a bad time, `--from` not before `--to`, an `OUT` that
//! is the input trace itself — by name, through a symbolic link or as a hard link — which is
//! refused before anything is opened for writing).
//!
//! A progress bar is drawn on stderr when stderr is a terminal and the work takes longer than
//! half a second; the last line says what was written.

use std::fs::{File, OpenOptions};
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use clap::Args;

use super::exit::{EXIT_CORRUPT, EXIT_OK, EXIT_USAGE};
use super::paths::same_file;
use trace_analysis::export::chrome::{ChromeOptions, ExportStats, write_chrome};
use trace_analysis::model::{BuildOptions, Model, Span};
use trace_analysis::open;
use trace_analysis::units::{format_bytes, format_duration, parse_duration};

/// Arguments of `trace-viewer export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The trace file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Write Chrome trace JSON (for ui.perfetto.dev or chrome://tracing) to OUT; `-` writes
    /// it to standard output.
    #[arg(long, value_name = "OUT")]
    pub chrome: PathBuf,
    /// Export only what overlaps the time from T on (since the start of the trace, with a
    /// unit: 250us, 10ms, 1.5s). Slices that cross the bound are kept whole.
    #[arg(long, value_name = "T", value_parser = parse_duration)]
    pub from: Option<u64>,
    /// Export only what overlaps the time before T (same form as --from).
    #[arg(long, value_name = "T", value_parser = parse_duration)]
    pub to: Option<u64>,
}

/// Runs `export`; returns the exit code.
pub fn run(args: &ExportArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<u8> {
    let range = match (args.from, args.to) {
        (Some(from), Some(to)) if from >= to => {
            writeln!(
                err,
                "error: --from {} is not before --to {}: the range would be empty",
                format_duration(from),
                format_duration(to)
            )?;
            return Ok(EXIT_USAGE);
        }
        (None, None) => None,
        (from, to) => Some(Span {
            start: from.unwrap_or(0),
            end: to.unwrap_or(u64::MAX),
        }),
    };
    let started = Instant::now();
    let to_stdout = args.chrome.as_os_str() == "-";
    if !to_stdout && same_file(&args.file, &args.chrome) {
        writeln!(
            err,
            "error: the output {} is the input trace {}: writing JSON to it would destroy \
             the trace; choose another output file",
            args.chrome.display(),
            args.file.display()
        )?;
        return Ok(EXIT_USAGE);
    }

    // Fail early on an unwritable OUT, without truncating an existing file yet.
    let mut target = if to_stdout {
        None
    } else {
        match Target::open(&args.chrome) {
            Ok(t) => Some(t),
            Err(e) => {
                writeln!(err, "error: cannot write {}: {e}", args.chrome.display())?;
                return Ok(EXIT_CORRUPT);
            }
        }
    };
    let fail = |target: Option<Target>, err: &mut dyn Write, message: String| {
        if let Some(t) = target {
            t.discard();
        }
        writeln!(err, "{message}").map(|()| EXIT_CORRUPT)
    };

    let bar = Bar::new();
    let progress = |p: trace_analysis::model::Progress| bar.draw("loading", p.fraction());
    let options = BuildOptions {
        progress: Some(&progress),
        cancel: None,
    };
    let (file, model) = match open::open_model(&args.file, options) {
        Ok(l) => l,
        Err(e) => {
            bar.clear();
            return fail(target, err, format!("error: {e}"));
        }
    };
    let loaded_in = started.elapsed();

    let export_progress = |done: u64, total: u64| {
        bar.draw("exporting", done as f64 / total.max(1) as f64);
    };
    let options = ChromeOptions {
        range,
        progress: Some(&export_progress),
    };
    let result = match &mut target {
        Some(t) => t.write(&model, &options),
        None => write_chrome(&model, &options, &mut *out),
    };
    bar.clear();
    let stats = match result {
        Ok(stats) => stats,
        Err(e) => {
            let what = if to_stdout {
                "standard output".to_string()
            } else {
                args.chrome.display().to_string()
            };
            return fail(target, err, format!("error: cannot write {what}: {e}"));
        }
    };

    let line = summary_line(
        &stats,
        &args.chrome,
        to_stdout,
        loaded_in,
        started.elapsed(),
    );
    if to_stdout {
        writeln!(err, "{line}")?;
    } else {
        writeln!(out, "{line}")?;
    }
    if let Some(range) = range
        && (range.start > model.end || range.end < model.start)
    {
        writeln!(
            err,
            "warning: the range does not overlap the trace, which runs from {} to {}",
            format_duration(model.start),
            format_duration(model.end)
        )?;
    }
    for w in &model.warnings {
        writeln!(err, "warning: {w}")?;
    }
    Ok(match &file.salvaged_from {
        Some(e) => {
            writeln!(err, "error: {e}")?;
            writeln!(
                err,
                "note: only the part of the trace before the damage was exported"
            )?;
            EXIT_CORRUPT
        }
        None => EXIT_OK,
    })
}

/// `wrote 1234 events (56.7 KiB) to x.json in 120 ms: …`.
fn summary_line(
    s: &ExportStats,
    path: &Path,
    to_stdout: bool,
    load: Duration,
    total: Duration,
) -> String {
    let target = if to_stdout {
        "standard output".to_string()
    } else {
        path.display().to_string()
    };
    let secs = total.as_secs_f64().max(1e-9);
    format!(
        "wrote {} events ({}) to {target} in {} (load {}, {:.1} M events/s): {} slices, {} \
         wake arrows, {} instants, {} counter points, {} tracks",
        s.events,
        format_bytes(s.bytes),
        format_duration(total.as_nanos() as u64),
        format_duration(load.as_nanos() as u64),
        s.events as f64 / secs / 1e6,
        s.slices,
        s.flows,
        s.instants,
        s.counter_points,
        s.tracks,
    )
}

/// The output file, opened without truncation; removed on failure if this run created it or
/// had started to replace it.
struct Target {
    path: PathBuf,
    file: File,
    /// A regular file (not a device or pipe such as `/dev/null`, which is neither emptied
    /// nor removed).
    regular: bool,
    created: bool,
    touched: bool,
}

impl Target {
    fn open(path: &Path) -> io::Result<Target> {
        if path.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::IsADirectory,
                "it is a directory",
            ));
        }
        let created = !path.exists();
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)?;
        let regular = file.metadata()?.is_file();
        Ok(Target {
            path: path.to_path_buf(),
            file,
            regular,
            created,
            touched: false,
        })
    }

    /// Empties the file and writes the model to it.
    fn write(&mut self, model: &Model, options: &ChromeOptions<'_>) -> io::Result<ExportStats> {
        self.touched = true;
        if self.regular {
            self.file.set_len(0)?;
        }
        write_chrome(model, options, &mut self.file)
    }

    /// Removes the file if this run created it or started replacing it; an existing file it
    /// has not touched is left as it was.
    fn discard(self) {
        drop(self.file);
        if self.regular && (self.created || self.touched) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// A one-line progress bar on stderr, drawn only when stderr is a terminal and the work has
/// taken half a second, at most ten times a second.
struct Bar {
    enabled: bool,
    start: Instant,
    last: Mutex<Option<Instant>>,
}

impl Bar {
    fn new() -> Bar {
        Bar {
            enabled: io::stderr().is_terminal(),
            start: Instant::now(),
            last: Mutex::new(None),
        }
    }

    fn draw(&self, label: &str, fraction: f64) {
        if !self.enabled || self.start.elapsed() < Duration::from_millis(500) {
            return;
        }
        let Ok(mut last) = self.last.try_lock() else {
            return;
        };
        if last.is_some_and(|l| l.elapsed() < Duration::from_millis(100)) {
            return;
        }
        *last = Some(Instant::now());
        let fraction = fraction.clamp(0.0, 1.0);
        const WIDTH: usize = 30;
        let filled = (fraction * WIDTH as f64) as usize;
        let _ = write!(
            io::stderr(),
            "\r{label:<9} {:>3}% [{}{}]",
            (fraction * 100.0) as u32,
            "=".repeat(filled),
            " ".repeat(WIDTH - filled)
        );
    }

    fn clear(&self) {
        let drawn = self.last.lock().map(|l| l.is_some()).unwrap_or(true);
        if self.enabled && drawn {
            let _ = write!(io::stderr(), "\r\x1b[2K");
        }
    }
}
