//! Shared pieces of the trace-rt benchmarks: workloads that produce realistic event mixes,
//! and timing helpers that measure several things side by side in one run.

use std::time::Instant;

use trace_rt::raw::{Event, TaskId, TaskKind, WakeSource, record};

/// Runs `f` `iters` times and returns the nanoseconds per iteration.
pub fn ns_per_iter(iters: u64, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_nanos() as f64 / iters as f64
}

/// The median of `xs` (which it sorts).
pub fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// The lower quartile, median and upper quartile of `xs` (nearest rank; it sorts `xs`):
/// the middle half of a set of repetitions, which says whether a figure's distance from a
/// budget is larger than the run's noise.
///
/// ```
/// let (lo, mid, hi) = trace_rt_benches::quartiles(&mut [5.0, 1.0, 4.0, 2.0, 3.0]);
/// assert_eq!((lo, mid, hi), (2.0, 3.0, 4.0));
/// ```
pub fn quartiles(xs: &mut [f64]) -> (f64, f64, f64) {
    xs.sort_by(f64::total_cmp);
    let at = |q: f64| xs[((xs.len() - 1) as f64 * q).round() as usize];
    (at(0.25), xs[xs.len() / 2], at(0.75))
}

/// Emits the events a tokio runtime produces for `rounds` channel ping-pong round trips
/// between pairs of tasks, with spawns, terminations, park/unpark and runtime samples in
/// the proportions a busy service shows. Each event takes the real clock, so time deltas
/// are what a hot loop produces. Returns the number of events recorded.
pub fn scheduler_mix(thread_index: u64, tasks: u64, rounds: u64) -> u64 {
    let base = 1 + thread_index * 1_000_000;
    let mut n = 0;
    let mut rec = |e: Event<'_>| {
        record(&e);
        n += 1;
    };
    rec(Event::WorkerUnpark);
    for t in 0..tasks {
        rec(Event::TaskSpawn {
            task: TaskId(base + t),
            kind: TaskKind::Async,
            tokio_id: base + t,
            parent: TaskId::NONE,
            location: trace_rt::raw::LocationId(1 + (t % 4) as u32),
            name: trace_rt::raw::StringId::NONE,
        });
    }
    for r in 0..rounds {
        for pair in 0..tasks / 2 {
            let a = TaskId(base + 2 * pair);
            let b = TaskId(base + 2 * pair + 1);
            rec(Event::PollStart { task: a });
            rec(Event::Wake {
                task: b,
                waker: a,
                source: WakeSource::Task,
            });
            rec(Event::PollEnd { ready: false });
            rec(Event::PollStart { task: b });
            rec(Event::Wake {
                task: a,
                waker: b,
                source: WakeSource::Task,
            });
            rec(Event::PollEnd { ready: false });
        }
        if r % 64 == 63 {
            rec(Event::WorkerPark);
            rec(Event::WorkerUnpark);
        }
        if r % 256 == 255 {
            rec(Event::RuntimeSample {
                global_queue: r % 7,
                alive_tasks: tasks,
                blocking_threads: 1,
            });
        }
    }
    for t in 0..tasks {
        rec(Event::PollStart {
            task: TaskId(base + t),
        });
        rec(Event::PollEnd { ready: true });
        rec(Event::TaskTerminate {
            task: TaskId(base + t),
        });
    }
    n
}
