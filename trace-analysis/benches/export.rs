//! Chrome JSON export throughput on a generated trace of 10 M events (budget, in
//! docs/ARCHITECTURE.md: export ≥ 5 M events/s), with the model load time and the analysis
//! (task breakdown, MMU) beside it.
//!
//! The MMU is measured in responsiveness mode with the median poll length as the threshold,
//! so about half the polls become unavailability steps (millions of steps, rather than the
//! handful a few pauses would give).
//!
//! `cargo bench -p trace-analysis --bench export` runs the full size and prints the figures;
//! without `--bench` (e.g. `cargo test --benches`) it smoke-runs on 100 k events.
//! `EXPORT_BENCH_EVENTS=N` overrides the size.
//!
//! The trace: 4 workers polling 20 000 tasks round-robin; every poll wakes the task the same
//! worker polls next (poll start, wake, poll end: 3 events), and every 16th poll is followed
//! by a park. Each export is timed once (the machine is shared; run the bench once, not in a
//! loop) to `std::io::sink()` and to a file.

use std::time::{Duration, Instant};

use trace_analysis::analysis::breakdown::{Breakdown, BreakdownOptions};
use trace_analysis::analysis::mmu;
use trace_analysis::analysis::utilization::{UtilizationOptions, utilization};
use trace_analysis::export::chrome::{ChromeOptions, ExportStats, write_chrome};
use trace_analysis::model::{Model, Span};
use trace_format::build::TraceBuilder;
use trace_format::{Event, LocationId, StringId, TaskId, TaskKind, ThreadKind, Trace, WakeSource};

const WORKERS: u32 = 4;
const TASKS: u64 = 20_000;

fn generate(target_events: u64) -> TraceBuilder {
    let mut b = TraceBuilder::new();
    b.header.process_name = "export-bench".into();
    b.header.process_id = 4242;
    b.location(1, "src/server.rs", 120, 9)
        .location(2, "src/client.rs", 48, 13);
    let mut events = 0u64;
    for w in 0..WORKERS {
        b.thread(w + 1, &format!("tokio-runtime-worker-{w}"));
        b.push(
            w + 1,
            0,
            Event::ThreadStart {
                kind: ThreadKind::Worker,
                index: w,
            },
        );
        events += 1;
    }
    for task in 1..=TASKS {
        b.push(
            1,
            task,
            Event::TaskSpawn {
                task: TaskId(task),
                kind: TaskKind::Async,
                tokio_id: task,
                parent: TaskId::NONE,
                location: LocationId(1 + (task % 2) as u32),
                name: StringId::NONE,
            },
        );
        events += 1;
    }
    let per_worker = (target_events.saturating_sub(events) / u64::from(WORKERS)).max(4);
    let start = TASKS + 1_000;
    for w in 0..WORKERS {
        let thread = w + 1;
        let mut written = 0u64;
        let mut i = 0u64;
        while written + 3 <= per_worker {
            let t = start + i * 1_000 + u64::from(w) * 37;
            let task = (i * u64::from(WORKERS) + u64::from(w)) % TASKS + 1;
            let next = ((i + 1) * u64::from(WORKERS) + u64::from(w)) % TASKS + 1;
            b.push(thread, t, Event::PollStart { task: TaskId(task) });
            b.push(
                thread,
                t + 211,
                Event::Wake {
                    task: TaskId(next),
                    waker: TaskId(task),
                    source: WakeSource::Task,
                },
            );
            b.push(thread, t + 433, Event::PollEnd { ready: false });
            written += 3;
            if i % 16 == 15 && written + 2 <= per_worker {
                b.push(thread, t + 500, Event::WorkerPark);
                b.push(thread, t + 900, Event::WorkerUnpark);
                written += 2;
            }
            i += 1;
        }
    }
    b
}

fn rate(n: u64, d: Duration) -> f64 {
    n as f64 / d.as_secs_f64().max(1e-9)
}

fn report(what: &str, model: &Model, stats: &ExportStats, took: Duration) {
    println!(
        "{what:<28} {:>8.3} s  {:>6.2} M trace events/s  {:>6.2} M JSON events/s  {:>7.1} MB/s  \
         ({} JSON events, {:.1} MB, {} flows)",
        took.as_secs_f64(),
        rate(model.events, took) / 1e6,
        rate(stats.events, took) / 1e6,
        rate(stats.bytes, took) / 1e6,
        stats.events,
        stats.bytes as f64 / 1e6,
        stats.flows,
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let target: u64 = std::env::var("EXPORT_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 10_000_000 } else { 100_000 });

    let t = Instant::now();
    let bytes = generate(target).to_bytes();
    println!(
        "generated {:.1} MB of trace in {:.2} s",
        bytes.len() as f64 / 1e6,
        t.elapsed().as_secs_f64()
    );

    let t = Instant::now();
    let trace = Trace::from_bytes(bytes).expect("a valid trace");
    let open = t.elapsed();
    let t = Instant::now();
    let model = Model::build(&trace).expect("the trace loads");
    let load = t.elapsed();
    println!(
        "model: {} events, {} polls, {} wakes, {} tasks; open {:.3} s, load {:.3} s ({:.1} M events/s)",
        model.events,
        model.polls.len(),
        model.wakes.len(),
        model.tasks.len(),
        open.as_secs_f64(),
        load.as_secs_f64(),
        rate(model.events, load) / 1e6,
    );

    let t = Instant::now();
    let breakdown = Breakdown::compute(&model, &BreakdownOptions::default());
    println!(
        "{:<28} {:>8.3} s  ({} groups, {} tasks)",
        "task breakdown",
        t.elapsed().as_secs_f64(),
        breakdown.groups.len(),
        breakdown.tasks
    );
    let mut lens: Vec<u64> = model.polls.iter().map(|p| p.span().len()).collect();
    let median = if lens.is_empty() {
        1
    } else {
        let mid = lens.len() / 2;
        *lens.select_nth_unstable(mid).1
    };
    drop(lens);
    let t = Instant::now();
    let u = utilization(
        &model,
        UtilizationOptions {
            long_poll: Some(median.max(1)),
        },
    )
    .expect("the trace has workers");
    println!(
        "{:<28} {:>8.3} s  ({} steps, polls ≥ {} ns unavailable)",
        "utilization (responsiveness)",
        t.elapsed().as_secs_f64(),
        u.step_count(),
        median
    );
    let windows = mmu::log_spaced_windows(1_000, u.duration().max(1_000), 100);
    let t = Instant::now();
    let curve = mmu::mmu_curve(&u, &windows);
    println!(
        "{:<28} {:>8.3} s  ({} windows; MMU(1 ms) = {:.3})",
        "MMU curve",
        t.elapsed().as_secs_f64(),
        curve.len(),
        mmu::mmu(&u, 1_000_000)
    );
    let t = Instant::now();
    let q = mmu::mud(&u, 1_000_000, &[0.0, 0.001, 0.01, 0.05]);
    let worst = mmu::worst_windows(&u, 1_000_000, 10);
    println!(
        "{:<28} {:>8.3} s  (MUD of 1 ms: {:.3} {:.3} {:.3} {:.3}; {} worst windows)",
        "MUD + 10 worst windows",
        t.elapsed().as_secs_f64(),
        q[0],
        q[1],
        q[2],
        q[3],
        worst.len()
    );

    let options = ChromeOptions::default();
    let t = Instant::now();
    let stats = write_chrome(&model, &options, std::io::sink()).expect("export to sink");
    let to_sink = t.elapsed();
    report("export to sink", &model, &stats, to_sink);

    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("export.json");
    let t = Instant::now();
    let file = std::fs::File::create(&path).expect("create the output file");
    let stats = write_chrome(&model, &options, file).expect("export to file");
    let to_file = t.elapsed();
    report("export to file", &model, &stats, to_file);
    drop(dir);

    let tenth = Span {
        start: model.start + (model.end - model.start) / 2,
        end: model.start + (model.end - model.start) * 6 / 10,
    };
    let t = Instant::now();
    let stats = write_chrome(
        &model,
        &ChromeOptions {
            range: Some(tenth),
            progress: None,
        },
        std::io::sink(),
    )
    .expect("range export");
    let took = t.elapsed();
    println!(
        "{:<28} {:>8.3} s  ({} JSON events, {:.1} MB)",
        "export 10% range to sink",
        took.as_secs_f64(),
        stats.events,
        stats.bytes as f64 / 1e6
    );

    let budget = 5e6;
    let achieved = rate(model.events, to_sink);
    println!(
        "budget: export ≥ 5 M trace events/s — {:.2} M/s to sink: {}",
        achieved / 1e6,
        if achieved >= budget { "met" } else { "NOT met" }
    );
}
