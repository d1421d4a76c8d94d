//! Microbenchmarks: one trace-rt event beside one bare TSC read, in the same process.

use std::hint::black_box;
use std::time::Instant;

use trace_rt::raw::{Event, TaskId, raw_ticks, record};

/// Medians of interleaved repetitions, in nanoseconds per operation.
#[derive(Debug)]
pub struct Micro {
    /// One bare clock read, the one trace-rt stamps events with (the TSC on x86_64).
    pub tsc_ns: f64,
    /// One `std::time::Instant::now()`, for scale.
    pub instant_ns: f64,
    /// One `PollStart` event recorded while a session records into memory.
    pub event_ns: f64,
    /// The same call while nothing records.
    pub event_idle_ns: f64,
    /// Events the session reported lost (the figure assumes none).
    pub lost: u64,
}

fn ns_per_iter(iters: u64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn poll_start() -> Event<'static> {
    Event::PollStart {
        task: TaskId(black_box(17)),
    }
}

/// Runs `reps` interleaved repetitions of `iters` operations each.
pub fn run(iters: u64, reps: usize) -> Micro {
    // Large enough that the memory sink never runs out of chunks in one repetition.
    let session = trace_rt::Config::default()
        .buffer_size(512 << 20)
        .start_with_sink(trace_rt::MemorySink::new())
        .expect("start trace-rt");
    let (mut tsc, mut instant, mut event) = (vec![], vec![], vec![]);
    for _ in 0..reps {
        tsc.push(ns_per_iter(iters, || {
            black_box(raw_ticks());
        }));
        event.push(ns_per_iter(iters, || record(&poll_start())));
        instant.push(ns_per_iter(iters, || {
            black_box(Instant::now());
        }));
    }
    let summary = session.stop().expect("stop trace-rt");
    let idle: Vec<f64> = (0..reps)
        .map(|_| ns_per_iter(iters, || record(&poll_start())))
        .collect();
    Micro {
        tsc_ns: median(tsc),
        instant_ns: median(instant),
        event_ns: median(event),
        event_idle_ns: median(idle),
        lost: summary.lost_events,
    }
}
