//! `trace-viewer mmu FILE`: minimum mutator utilization per window size, with MUD
//! percentiles, worst windows and per-worker curves on request, as text or JSON.
//!
//! JSON (`--json`) is one object: `schema_version` (1), `workers`, `mean`, `long_poll_ns`
//! (null unless `--long-poll`), and `windows[]`, each with `window_ns`, `mmu`, and when asked
//! `percentiles` (`worst`, `p99_9`, `p99`, `p95`: the utilization that 99.9 % / 99 % / 95 % of
//! windows are at or above), `worst_windows[]` (`start`, `end`, `utilization`; ns since the
//! trace start) and `per_worker[]` (`thread`, `mmu`). `--worst` lists at most [`MAX_WORST`]
//! windows per size (a note on stderr says when it was capped).
//!
//! Utilization counts each worker from its start to its stop, and leaves out time with no
//! worker at all (see [`trace_analysis::analysis::utilization`]).

use std::io::{self, Write};
use std::path::Path;

use serde::Serialize;

use super::exit::{EXIT_CORRUPT, EXIT_OK};
use trace_analysis::analysis::mmu::{self, Window, log_spaced_windows};
use trace_analysis::analysis::utilization::{
    UtilizationOptions, utilization, utilization_per_worker,
};
use trace_analysis::model::{BuildOptions, Nanos};
use trace_analysis::open;
use trace_analysis::report::table::{self, Align};
use trace_analysis::units::format_duration;

/// Most worst windows listed per window size: `--worst` above this lists this many and says
/// so on stderr (a million lines is past what anyone reads; the JSON stays bounded).
pub const MAX_WORST: usize = 1_000_000;

/// What `mmu` prints.
#[derive(Debug, Clone, Default)]
pub struct MmuArgs {
    /// Window sizes; empty = 20 log-spaced windows from 10 µs to the trace's length.
    pub windows: Vec<Nanos>,
    /// Add MUD percentiles.
    pub percentiles: bool,
    /// Add each worker's MMU.
    pub per_worker: bool,
    /// List this many worst windows per window size.
    pub worst: usize,
    /// Responsiveness mode: polls longer than this make their worker unavailable.
    pub long_poll: Option<Nanos>,
    /// Print JSON.
    pub json: bool,
}

#[derive(Serialize)]
struct Percentiles {
    worst: f64,
    p99_9: f64,
    p99: f64,
    p95: f64,
}

#[derive(Serialize)]
struct WorkerMmu {
    thread: String,
    mmu: f64,
}

#[derive(Serialize)]
struct Row {
    window_ns: Nanos,
    mmu: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    percentiles: Option<Percentiles>,
    #[serde(skip_serializing_if = "Option::is_none")]
    worst_windows: Option<Vec<Window>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    per_worker: Option<Vec<WorkerMmu>>,
}

#[derive(Serialize)]
struct MmuJson {
    schema_version: u32,
    workers: usize,
    mean: f64,
    long_poll_ns: Option<Nanos>,
    windows: Vec<Row>,
}

/// Runs `mmu` on `path`; returns the exit code.
pub fn run(
    path: &Path,
    args: &MmuArgs,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    let (file, model) = match open::open_model(path, BuildOptions::default()) {
        Ok(l) => l,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(EXIT_CORRUPT);
        }
    };
    // Like `report`: a corrupt trace is measured as far as it reads, then exits 1.
    let salvaged_code = match &file.salvaged_from {
        Some(e) => {
            writeln!(err, "error: {e}; measured the part of the trace before it")?;
            EXIT_CORRUPT
        }
        None => EXIT_OK,
    };
    let worst = args.worst.min(MAX_WORST);
    if worst < args.worst {
        writeln!(
            err,
            "note: --worst {} is more than the {MAX_WORST} windows listed at most; listing \
             up to {MAX_WORST} per window size",
            args.worst
        )?;
    }
    let options = UtilizationOptions {
        long_poll: args.long_poll,
    };
    let u = match utilization(&model, options) {
        Ok(u) => u,
        Err(e) => {
            writeln!(err, "error: {e}")?;
            return Ok(EXIT_CORRUPT);
        }
    };
    let per_worker = if args.per_worker {
        utilization_per_worker(&model, options).unwrap_or_default()
    } else {
        Vec::new()
    };
    let windows = if args.windows.is_empty() {
        log_spaced_windows(10_000, u.duration().max(10_000), 20)
    } else {
        args.windows.clone()
    };
    let rows: Vec<Row> = windows
        .iter()
        .map(|&w| Row {
            window_ns: w,
            mmu: mmu::mmu(&u, w),
            percentiles: args.percentiles.then(|| {
                let q = mmu::mud(&u, w, &[0.0, 0.001, 0.01, 0.05]);
                Percentiles {
                    worst: q[0],
                    p99_9: q[1],
                    p99: q[2],
                    p95: q[3],
                }
            }),
            worst_windows: (worst > 0).then(|| mmu::worst_windows(&u, w, worst)),
            per_worker: args.per_worker.then(|| {
                per_worker
                    .iter()
                    .map(|(thread, u)| WorkerMmu {
                        thread: model.threads[thread.index()].label(),
                        mmu: mmu::mmu(u, w),
                    })
                    .collect()
            }),
        })
        .collect();

    if args.json {
        let doc = MmuJson {
            schema_version: 1,
            workers: model.workers().len(),
            mean: u.mean(),
            long_poll_ns: args.long_poll,
            windows: rows,
        };
        serde_json::to_writer_pretty(&mut *out, &doc).map_err(io::Error::from)?;
        writeln!(out)?;
        return Ok(salvaged_code);
    }

    writeln!(
        out,
        "{} workers over {}, mean utilization {:.3}{}",
        model.workers().len(),
        format_duration(u.duration()),
        u.mean(),
        match args.long_poll {
            Some(t) => format!(
                " (responsiveness: polls longer than {} count as unavailable)",
                format_duration(t)
            ),
            None => String::new(),
        }
    )?;
    let mut head = vec!["window".to_string(), "MMU".to_string()];
    if args.percentiles {
        head.extend(["99.9% ≥", "99% ≥", "95% ≥"].map(String::from));
    }
    for (thread, _) in &per_worker {
        head.push(model.threads[thread.index()].label());
    }
    let mut table_rows = vec![head];
    for r in &rows {
        let mut row = vec![format_duration(r.window_ns), format!("{:.4}", r.mmu)];
        if let Some(p) = &r.percentiles {
            row.extend([p.p99_9, p.p99, p.p95].map(|v| format!("{v:.4}")));
        }
        for w in r.per_worker.iter().flatten() {
            row.push(format!("{:.4}", w.mmu));
        }
        table_rows.push(row);
    }
    let align = vec![Align::Right; table_rows[0].len()];
    out.write_all(table::render(&table_rows, &align, "  ").as_bytes())?;
    for r in &rows {
        if let Some(worst) = &r.worst_windows {
            writeln!(out, "\nworst windows of {}:", format_duration(r.window_ns))?;
            for w in worst {
                writeln!(
                    out,
                    "  {} – {}  utilization {:.4}",
                    format_duration(w.start),
                    format_duration(w.end),
                    w.utilization
                )?;
            }
        }
    }
    Ok(salvaged_code)
}
