//! 2. Periodic stop-the-world pauses cause p99 spikes.
//!
//! The service: a client sends a request every 500 µs; the acceptor spawns a handler for
//! each, which looks the request up in a shared index (`std::sync::RwLock`, read side) and
//! answers. Every 100 ms a maintenance thread rebuilds the index: it takes the write lock for
//! 12 ms — a stop-the-world pause for this service, since no request can be served without
//! the index — and declares it with `trace_rt::pause("gc")`, as a garbage collector, a
//! compaction or a snapshot would.
//!
//! What the trace shows: the pauses by kind (`gc`, process-wide, their count and length),
//! the handlers' time inside them as `paused`, and the minimum mutator utilization: 0 for
//! every window shorter than a pause (1 ms, 10 ms), so no latency target under 12 ms can be
//! met by every request — p50 is fast, p99 is the pause.
//!
//! `--fixed` rebuilds the index incrementally: 12 pauses of 1 ms, 4 ms apart. The same work,
//! but MMU at 10 ms rises from 0 to about 0.8 and the p99 falls to about a millisecond.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use trace_analysis::analysis::overview::{Analysis, AnalysisOptions};
use trace_analysis::model::Model;
use trace_analysis::units::format_duration;

use super::{
    Args, Error, Problem, Recorded, SpawnSite, client, group, latency_line, record, spin_for,
};

/// The pause kind.
pub const KIND: &str = "gc";
/// How long the index is locked for writing (the pause).
pub const PAUSE: Duration = Duration::from_millis(12);
/// How often the index is rebuilt.
pub const EVERY: Duration = Duration::from_millis(100);
/// The time between two requests.
pub const REQUEST_EVERY: Duration = Duration::from_micros(500);

/// The problem, for [`super::main`].
pub const PROBLEM: Problem = Problem {
    name: "stop_the_world",
    title: "periodic stop-the-world pauses",
    run,
    options: |_| AnalysisOptions::default(),
    report_flags: |_| String::new(),
    verdict,
    next_steps: &[
        "mmu {trace} --windows 1ms,5ms,10ms,20ms,50ms,100ms --percentiles --worst 3",
        "export {trace} --chrome stop_the_world.json   # ui.perfetto.dev: the 'process pauses' track",
    ],
};

/// Records the service (the incremental rebuild with `args.fixed`).
pub fn run(args: &Args) -> Result<Recorded, Error> {
    let handlers = SpawnSite::default();
    let fixed = args.fixed;
    let (mut latencies, summary) = {
        let handlers = handlers.clone();
        record(args, false, move |duration| {
            service(duration, handlers, fixed)
        })?
    };
    let served = latencies.len();
    Ok(Recorded {
        trace: args.out.clone(),
        summary,
        symptom: format!(
            "{served} requests, latency from arrival to response {}",
            latency_line(&mut latencies)
        ),
        culprit: KIND.into(),
        victims_spawned_at: Some(handlers.label()),
        culprit_function: None,
    })
}

async fn service(duration: Duration, handlers: SpawnSite, fixed: bool) -> Vec<Duration> {
    // The index: 4096 entries, read by every request.
    let index: Arc<RwLock<Vec<u64>>> = Arc::new(RwLock::new((0..4096).collect()));
    let done = Arc::new(AtomicBool::new(false));
    let maintenance = {
        let (index, done) = (index.clone(), done.clone());
        std::thread::Builder::new()
            .name("maintenance".into())
            .spawn(move || rebuild_periodically(&index, &done, fixed))
            .expect("spawn the maintenance thread")
    };

    let mut requests = client(REQUEST_EVERY, duration);
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let acceptor = {
        let latencies = latencies.clone();
        tokio::spawn(async move {
            let mut spawned = Vec::new();
            let mut key = 0u64;
            while let Some(arrived) = requests.recv().await {
                key = (key + 97) % 4096;
                let (index, latencies) = (index.clone(), latencies.clone());
                spawned.push(handlers.spawn(async move {
                    let value = index.read().unwrap()[key as usize];
                    spin_for(Duration::from_micros(50));
                    std::hint::black_box(value);
                    latencies.lock().unwrap().push(arrived.elapsed());
                }));
            }
            for h in spawned {
                let _ = h.await;
            }
        })
    };
    let _ = acceptor.await;
    done.store(true, Ordering::Relaxed);
    let _ = maintenance.join();
    std::mem::take(&mut *latencies.lock().unwrap())
}

/// Every [`EVERY`], rebuilds the index under the write lock, declared as a `gc` pause: all at
/// once (the problem), or in 1 ms slices (`fixed`).
fn rebuild_periodically(index: &RwLock<Vec<u64>>, done: &AtomicBool, fixed: bool) {
    let kind = trace_rt::PauseKind::new(KIND);
    let mut next = Instant::now() + EVERY;
    while !done.load(Ordering::Relaxed) {
        if let Some(gap) = next.checked_duration_since(Instant::now()) {
            std::thread::sleep(gap.min(Duration::from_millis(5)));
            continue;
        }
        next += EVERY;
        let slices = if fixed { PAUSE.as_millis() as u32 } else { 1 };
        for slice in 0..slices {
            if slice > 0 {
                std::thread::sleep(Duration::from_millis(4));
            }
            let _stw = kind.pause();
            let mut index = index.write().unwrap();
            index.rotate_left(1);
            spin_for(PAUSE / slices);
        }
    }
}

/// Names the pause kind and what it does to utilization and to the requests.
pub fn verdict(model: &Model, analysis: &Analysis, recorded: &Recorded) -> String {
    let b = &analysis.breakdown;
    let Some(p) = b.pauses.first() else {
        return "no pauses in the trace".into();
    };
    let mut line = format!(
        "{} {}-wide pauses of kind {:?}, up to {} each, {} in all ({:.1}% of the trace)",
        p.count,
        p.scope,
        p.kind,
        format_duration(p.max_ns),
        format_duration(p.total_ns),
        p.total_ns as f64 * 100.0 / model.end.saturating_sub(model.start).max(1) as f64
    );
    if let Some(m) = &analysis.mmu {
        let mmu = m
            .windows
            .iter()
            .map(|w| format!("{} {:.2}", format_duration(w.window), w.mmu))
            .collect::<Vec<_>>()
            .join(", ");
        line += &format!("; MMU {mmu}");
    }
    if let Some(g) = recorded
        .victims_spawned_at
        .as_deref()
        .and_then(|label| group(analysis, label))
    {
        line += &format!(
            "; the request handlers ({}) spent {} paused against {} running",
            g.label,
            format_duration(g.total("paused")),
            format_duration(g.total("running"))
        );
    }
    line
}
