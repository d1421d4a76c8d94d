//! The mutator utilization of a trace: 0 inside a process-wide pause, otherwise the fraction
//! of the workers existing at that time that are not inside a thread-scoped pause — and, in
//! responsiveness mode, not inside a poll longer than a threshold (the whole of such a poll
//! counts as unavailable: the worker could not run anything else during it).
//!
//! A worker exists from its start (its `ThreadStart`, or the first poll or park seen on it)
//! to its stop (`ThreadStop`, else the end of the trace): only then does it count, so a
//! runtime that starts after the recording or shuts down before it ends is not a pause, and
//! time with no worker at all is left out of the series (see
//! [`Utilization::from_workers`]). Threads that share a worker index (a `block_in_place`
//! moves the worker to a new thread) count as one worker, which exists while any of them
//! does and is available while any of them is.
//!
//! Turns a [`Model`] into the [`Utilization`] step functions the [`mmu`](super::mmu) module
//! measures, for the whole runtime or per worker, and measures how much worker time long
//! polls take ([`long_polls`]).

use serde::Serialize;

use super::mmu::{Utilization, UtilizationError, WorkerIntervals};
use crate::model::{Model, Nanos, Span, ThreadIx};

/// Which utilization to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UtilizationOptions {
    /// Responsiveness mode: polls longer than this make their worker unavailable.
    pub long_poll: Option<Nanos>,
}

/// Why a trace has no utilization.
#[derive(Debug, thiserror::Error)]
pub enum NoUtilization {
    /// The trace has no worker threads (recorded without `trace_rt::instrument`, or without
    /// any runtime activity).
    #[error("the trace has no tokio worker threads, so there is no utilization to measure")]
    NoWorkers,
    /// The trace spans no time.
    #[error("the trace spans no time")]
    Empty,
    /// The series could not be built.
    #[error("{0}")]
    Series(#[from] UtilizationError),
}

/// The spans in both sorted, disjoint lists.
fn intersect(a: &[Span], b: &[Span]) -> Vec<Span> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        let s = Span::new(a[i].start.max(b[j].start), a[i].end.min(b[j].end));
        if !s.is_empty() {
            out.push(s);
        }
        if a[i].end < b[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

/// When worker thread `w` exists: from its start, or the first poll or park seen on it if
/// earlier (a worker parked when the recording started is idle from the start), to its stop
/// or the end of the trace.
fn lifetime(model: &Model, w: ThreadIx) -> Span {
    let thread = &model.threads[w.index()];
    let first_poll = model.thread_polls(w).first().map(|p| p.start);
    let first_park = thread.parks.first().map(|p| p.start);
    let start = [thread.start, first_poll, first_park]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(model.end);
    Span::new(start, thread.stop.unwrap_or(model.end).min(model.end))
}

/// The polls of worker thread `w` longer than `threshold`, as disjoint sorted spans.
fn long_poll_spans(model: &Model, w: ThreadIx, threshold: Nanos) -> Vec<Span> {
    let mut spans: Vec<Span> = (model.thread_polls(w).iter())
        .filter(|p| p.span().len() > threshold)
        .map(|p| p.span())
        .collect();
    spans.sort_by_key(|s| s.start);
    Span::union(spans)
}

/// One worker slot (tokio's worker index): its first thread, when it exists and when it is
/// unavailable, the latter from `own` (a thread's own unavailable spans, sorted, disjoint).
///
/// Threads sharing a worker index (a `block_in_place` hands the worker's core to a new
/// thread) form one slot: it exists while any of them does and is unavailable only while
/// each of them is unavailable or not there.
fn slots(
    model: &Model,
    own: impl Fn(ThreadIx) -> Vec<Span>,
) -> Vec<(ThreadIx, Vec<Span>, Vec<Span>)> {
    let whole = model.span();
    // `workers()` is sorted by index: consecutive threads with one index form a slot.
    let mut out: Vec<(ThreadIx, Vec<Span>, Vec<Span>)> = Vec::new();
    for w in model.workers() {
        let life = lifetime(model, w);
        // Unavailable, or not there: outside its life the thread holds nothing of the slot.
        let mut gone: Vec<Span> = own(w);
        gone.push(Span::new(whole.start, life.start));
        gone.push(Span::new(life.end, whole.end));
        gone.sort_by_key(|s| s.start);
        let gone = Span::union(gone);
        match out.last_mut() {
            Some((first, exists, unavailable))
                if model.threads[first.index()].index == model.threads[w.index()].index =>
            {
                *unavailable = intersect(unavailable, &gone);
                exists.push(life);
                exists.sort_by_key(|s| s.start);
                *exists = Span::union(std::mem::take(exists));
            }
            _ => out.push((w, Span::union([life]), gone)),
        }
    }
    for (_, exists, unavailable) in &mut out {
        *unavailable = intersect(unavailable, exists);
    }
    out
}

/// What [`Utilization::from_workers`] takes, per worker slot, with each slot's first thread.
struct Inputs {
    first: Vec<ThreadIx>,
    process: Vec<(u64, u64)>,
    workers: Vec<WorkerIntervals>,
}

/// The process-wide pauses and, per worker slot, its first thread and intervals.
fn inputs(model: &Model, options: UtilizationOptions) -> Result<Inputs, NoUtilization> {
    if model.workers().is_empty() {
        return Err(NoUtilization::NoWorkers);
    }
    if model.end <= model.start {
        return Err(NoUtilization::Empty);
    }
    let process = (model.process_pauses.iter())
        .map(|p| (p.span.start, p.span.end))
        .collect();
    let own = |w: ThreadIx| {
        let thread = &model.threads[w.index()];
        let mut spans: Vec<Span> = thread.pauses.iter().map(|p| p.span).collect();
        if let Some(threshold) = options.long_poll {
            spans.extend(long_poll_spans(model, w, threshold));
        }
        spans.sort_by_key(|s| s.start);
        Span::union(spans)
    };
    let pairs = |spans: Vec<Span>| spans.into_iter().map(|s| (s.start, s.end)).collect();
    let (mut first, mut workers) = (Vec::new(), Vec::new());
    for (w, exists, unavailable) in slots(model, own) {
        first.push(w);
        workers.push(WorkerIntervals {
            exists: pairs(exists),
            unavailable: pairs(unavailable),
        });
    }
    Ok(Inputs {
        first,
        process,
        workers,
    })
}

/// The utilization of the whole runtime over the trace.
///
/// ```
/// use trace_format::{build::TraceBuilder, Event, PauseScope, StringId, ThreadKind};
/// use trace_analysis::analysis::{mmu, utilization::{utilization, UtilizationOptions}};
/// let mut b = TraceBuilder::new();
/// b.string(1, "gc");
/// for (thread, index) in [(1, 0), (2, 1)] {
///     b.push(thread, 0, Event::ThreadStart { kind: ThreadKind::Worker, index });
/// }
/// b.push(1, 100, Event::PauseBegin { kind: StringId(1), scope: PauseScope::Process });
/// b.push(1, 200, Event::PauseEnd { kind: StringId(1), scope: PauseScope::Process });
/// b.push(2, 1000, Event::WorkerPark);
/// let model = trace_analysis::model::Model::build(&trace_format::Trace::from_bytes(b.to_bytes())?)?;
/// let u = utilization(&model, UtilizationOptions::default())?;
/// assert_eq!(mmu::mmu(&u, 100), 0.0);
/// assert_eq!(mmu::mmu(&u, 1000), 0.9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn utilization(
    model: &Model,
    options: UtilizationOptions,
) -> Result<Utilization, NoUtilization> {
    let Inputs {
        process, workers, ..
    } = inputs(model, options)?;
    Ok(Utilization::from_workers(
        model.start,
        model.end,
        &process,
        &workers,
    )?)
}

/// One utilization per worker (each 0 or 1, over the time that worker exists), with the
/// worker's (first) thread index. A worker that never exists in the trace's time is left out.
pub fn utilization_per_worker(
    model: &Model,
    options: UtilizationOptions,
) -> Result<Vec<(ThreadIx, Utilization)>, NoUtilization> {
    let Inputs {
        first,
        process,
        workers,
    } = inputs(model, options)?;
    let mut out = Vec::with_capacity(first.len());
    for (w, worker) in first.into_iter().zip(&workers) {
        match Utilization::from_workers(
            model.start,
            model.end,
            &process,
            std::slice::from_ref(worker),
        ) {
            Ok(u) => out.push((w, u)),
            Err(UtilizationError::NoWorkerTime) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}

/// How much worker time polls longer than a threshold took: the report's hint that the
/// responsiveness MMU matters even when there are no pauses.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LongPolls {
    /// The threshold: polls longer than this count.
    pub threshold_ns: Nanos,
    /// Worker time: each worker's life (start to stop), summed.
    pub worker_ns: Nanos,
    /// Worker time inside polls longer than the threshold.
    pub long_poll_ns: Nanos,
    /// `long_poll_ns / worker_ns` (0 without worker time).
    pub share: f64,
    /// Polls longer than the threshold on worker threads.
    pub count: u64,
    /// The longest poll on a worker thread, if there is any poll.
    pub worst: Option<WorkerPoll>,
}

/// One poll on a worker thread, as the report names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorkerPoll {
    /// The task's label (its name, else its spawn location, with its id).
    pub task: String,
    /// Its trace task id.
    pub task_id: u64,
    /// Its spawn location (`file:line:column`), null when not recorded.
    pub location: Option<String>,
    /// The worker thread's label.
    pub thread: String,
    /// Start, ns since the trace start.
    pub start_ns: Nanos,
    /// Duration.
    pub duration_ns: Nanos,
    /// True when the file holds no end for the poll: it lasted at least `duration_ns`.
    pub cut: bool,
    /// Of cut polls, those still running when a finished recording stopped
    /// ([`Model::still_running`]); the others are where the thread's data ends.
    pub still_running: bool,
}

/// The share of worker time spent in polls longer than `threshold` (a worker slot counts
/// while one of its threads is inside such a poll, as the responsiveness utilization counts
/// it unavailable), and the longest poll on a worker; `None` without worker threads.
///
/// ```
/// use trace_format::{build::TraceBuilder, Event, TaskId, ThreadKind};
/// use trace_analysis::analysis::utilization::long_polls;
/// let mut b = TraceBuilder::new();
/// b.push(1, 0, Event::ThreadStart { kind: ThreadKind::Worker, index: 0 });
/// b.push(1, 1_000, Event::PollStart { task: TaskId(7) });
/// b.push(1, 3_000_000, Event::PollEnd { ready: false });
/// b.push(1, 10_000_000, Event::WorkerPark);
/// let model = trace_analysis::model::Model::build(&trace_format::Trace::from_bytes(b.to_bytes())?)?;
/// let l = long_polls(&model, 1_000_000).unwrap();
/// assert_eq!((l.long_poll_ns, l.worker_ns, l.count), (2_999_000, 10_000_000, 1));
/// assert_eq!(l.worst.unwrap().duration_ns, 2_999_000);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn long_polls(model: &Model, threshold: Nanos) -> Option<LongPolls> {
    let workers = model.workers();
    if workers.is_empty() {
        return None;
    }
    let (mut worker_ns, mut long_poll_ns) = (0, 0);
    for (_, exists, long) in slots(model, |w| long_poll_spans(model, w, threshold)) {
        worker_ns += exists.iter().map(Span::len).sum::<Nanos>();
        long_poll_ns += long.iter().map(Span::len).sum::<Nanos>();
    }
    let mut count = 0;
    let mut worst: Option<&crate::model::Poll> = None;
    for &w in &workers {
        for p in model.thread_polls(w) {
            let len = p.span().len();
            count += u64::from(len > threshold);
            if worst.is_none_or(|b| len > b.span().len()) {
                worst = Some(p);
            }
        }
    }
    let worst = worst.map(|p| {
        let task = &model.tasks[p.task.index()];
        WorkerPoll {
            task: model.task_label(p.task),
            task_id: task.id.0,
            location: (task.location != trace_format::LocationId::NONE)
                .then(|| model.location_label(task.location)),
            thread: model.threads[p.thread().index()].label(),
            start_ns: p.start,
            duration_ns: p.span().len(),
            cut: p.cut(),
            still_running: model.still_running(p),
        }
    });
    Some(LongPolls {
        threshold_ns: threshold,
        worker_ns,
        long_poll_ns,
        share: if worker_ns == 0 {
            0.0
        } else {
            long_poll_ns as f64 / worker_ns as f64
        },
        count,
        worst,
    })
}

#[cfg(test)]
mod tests {
    use trace_format::build::TraceBuilder;
    use trace_format::{Event, PauseScope, StringId, TaskId, ThreadKind, Trace};

    use super::*;
    use crate::analysis::mmu::mmu;

    fn model(b: &TraceBuilder) -> Model {
        Model::build(&Trace::from_bytes(b.to_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn thread_pauses_and_long_polls_take_one_worker_out() {
        let mut b = TraceBuilder::new();
        b.string(1, "alloc");
        for (thread, index) in [(1, 0), (2, 1)] {
            b.push(
                thread,
                0,
                Event::ThreadStart {
                    kind: ThreadKind::Worker,
                    index,
                },
            );
        }
        b.push(
            1,
            100,
            Event::PauseBegin {
                kind: StringId(1),
                scope: PauseScope::Thread,
            },
        );
        b.push(
            1,
            300,
            Event::PauseEnd {
                kind: StringId(1),
                scope: PauseScope::Thread,
            },
        );
        b.push(2, 500, Event::PollStart { task: TaskId(1) });
        b.push(2, 900, Event::PollEnd { ready: false });
        b.push(2, 1000, Event::PollStart { task: TaskId(1) });
        b.push(2, 1010, Event::PollEnd { ready: false });
        let m = model(&b);
        let plain = utilization(&m, UtilizationOptions::default()).unwrap();
        assert_eq!(plain.times(), &[0, 100, 300]);
        assert_eq!(plain.available(), &[2, 1, 2]);
        assert_eq!(mmu(&plain, 200), 0.5);
        let responsive = utilization(
            &m,
            UtilizationOptions {
                long_poll: Some(100),
            },
        )
        .unwrap();
        assert_eq!(responsive.available(), &[2, 1, 2, 1, 2]);
        assert_eq!(mmu(&responsive, 400), 0.5);

        let per = utilization_per_worker(&m, UtilizationOptions::default()).unwrap();
        assert_eq!(per.len(), 2);
        assert_eq!(mmu(&per[0].1, 200), 0.0);
        assert_eq!(mmu(&per[1].1, 200), 1.0);
    }

    #[test]
    fn stopped_workers_leave_the_denominator_and_shared_indexes_are_one_worker() {
        let mut b = TraceBuilder::new();
        b.string(1, "alloc");
        // Worker 1 stops at 100; worker 0 is paused in [600, 700).
        b.push(
            1,
            0,
            Event::ThreadStart {
                kind: ThreadKind::Worker,
                index: 0,
            },
        );
        b.push(
            2,
            0,
            Event::ThreadStart {
                kind: ThreadKind::Worker,
                index: 1,
            },
        );
        b.push(2, 100, Event::ThreadStop);
        b.push(
            1,
            600,
            Event::PauseBegin {
                kind: StringId(1),
                scope: PauseScope::Thread,
            },
        );
        b.push(
            1,
            700,
            Event::PauseEnd {
                kind: StringId(1),
                scope: PauseScope::Thread,
            },
        );
        // Thread 3 took over worker 0's index (block_in_place); it is available throughout
        // [600, 700) while thread 1 is paused there, so worker 0 is available.
        b.push(
            3,
            50,
            Event::ThreadStart {
                kind: ThreadKind::Worker,
                index: 0,
            },
        );
        b.push(
            1,
            800,
            Event::PauseBegin {
                kind: StringId(1),
                scope: PauseScope::Thread,
            },
        );
        b.push(
            1,
            900,
            Event::PauseEnd {
                kind: StringId(1),
                scope: PauseScope::Thread,
            },
        );
        b.push(1, 1000, Event::WorkerPark);
        let m = model(&b);
        let u = utilization(&m, UtilizationOptions::default()).unwrap();
        // Two workers until 100, then one: a denominator of lcm(2, 1).
        assert_eq!(u.total(), 2);
        assert_eq!(
            mmu(&u, 100),
            1.0,
            "thread 3 covers worker 0 while thread 1 is paused; worker 1 is gone, not paused"
        );
        let per = utilization_per_worker(&m, UtilizationOptions::default()).unwrap();
        assert_eq!(per.len(), 2);
        assert_eq!((per[1].1.start(), per[1].1.end()), (0, 100));
        assert_eq!(mmu(&per[1].1, 50), 1.0);
        let mut b2 = b.clone();
        b2.push(
            3,
            650,
            Event::PauseBegin {
                kind: StringId(1),
                scope: PauseScope::Thread,
            },
        );
        b2.push(
            3,
            660,
            Event::PauseEnd {
                kind: StringId(1),
                scope: PauseScope::Thread,
            },
        );
        let u = utilization(&model(&b2), UtilizationOptions::default()).unwrap();
        assert_eq!(
            mmu(&u, 10),
            0.0,
            "both holders of worker 0 paused, the only worker left"
        );
    }

    /// A worker that stops before the trace ends, or starts after it began, is not
    /// unavailable: with no pause the MMU is 1 at every window.
    #[test]
    fn late_start_and_early_stop_are_not_pauses() {
        let mut b = TraceBuilder::new();
        // The trace runs [0, 10 000) on a thread that is no worker.
        b.push(
            9,
            0,
            Event::ThreadStart {
                kind: ThreadKind::Other,
                index: 0,
            },
        );
        for (thread, index, start, stop) in [(1, 0, 1_000, 8_000), (2, 1, 2_000, 9_000)] {
            b.push(
                thread,
                start,
                Event::ThreadStart {
                    kind: ThreadKind::Worker,
                    index,
                },
            );
            b.push(thread, start + 10, Event::PollStart { task: TaskId(1) });
            b.push(thread, start + 500, Event::PollEnd { ready: false });
            b.push(thread, stop, Event::ThreadStop);
        }
        b.push(9, 10_000, Event::WorkerPark);
        let m = model(&b);
        for options in [
            UtilizationOptions::default(),
            UtilizationOptions {
                long_poll: Some(1_000),
            },
        ] {
            let u = utilization(&m, options).unwrap();
            // Only the time some worker exists: [1 000, 9 000).
            assert_eq!((u.start(), u.end()), (1_000, 9_000));
            for w in [0, 1, 100, 1_000, 5_000, 8_000, u64::MAX] {
                assert_eq!(mmu(&u, w), 1.0, "window {w}");
            }
            assert_eq!(u.mean(), 1.0);
            for (_, per) in utilization_per_worker(&m, options).unwrap() {
                assert_eq!(mmu(&per, 100), 1.0);
            }
        }
    }

    /// Time with no worker at all is cut out: it is neither 0 nor 1, and the worst windows
    /// are given in trace time.
    #[test]
    fn time_without_workers_is_left_out() {
        let mut b = TraceBuilder::new();
        b.string(1, "gc");
        // Worker 0 in [0, 1 000); then no worker until worker 1 in [3 000, 5 000), paused
        // in [4 000, 4 500).
        b.push(
            1,
            0,
            Event::ThreadStart {
                kind: ThreadKind::Worker,
                index: 0,
            },
        );
        b.push(1, 1_000, Event::ThreadStop);
        b.push(
            2,
            3_000,
            Event::ThreadStart {
                kind: ThreadKind::Worker,
                index: 1,
            },
        );
        b.push(
            2,
            4_000,
            Event::PauseBegin {
                kind: StringId(1),
                scope: PauseScope::Thread,
            },
        );
        b.push(
            2,
            4_500,
            Event::PauseEnd {
                kind: StringId(1),
                scope: PauseScope::Thread,
            },
        );
        b.push(2, 5_000, Event::ThreadStop);
        let u = utilization(&model(&b), UtilizationOptions::default()).unwrap();
        assert_eq!(u.duration(), 3_000);
        assert_eq!(u.mean(), 2_500.0 / 3_000.0);
        assert_eq!(mmu(&u, 500), 0.0);
        let worst = crate::analysis::mmu::worst_windows(&u, 1_000, 3);
        let got: Vec<(u64, u64, f64)> = worst
            .iter()
            .map(|w| (w.start, w.end, w.utilization))
            .collect();
        assert_eq!(got, [(3_500, 4_500, 0.5), (0, 1_000, 1.0)]);
        // A window across the stretch without workers is longer in trace time.
        let across = crate::analysis::mmu::worst_windows(&u, 2_000, 1);
        assert_eq!(
            (across[0].start, across[0].end, across[0].utilization),
            (500, 4_500, 0.75)
        );
    }

    #[test]
    fn long_polls_are_measured_over_worker_time() {
        let mut b = TraceBuilder::new();
        b.location(1, "src/slow.rs", 7, 5);
        b.push(
            1,
            0,
            Event::ThreadStart {
                kind: ThreadKind::Worker,
                index: 0,
            },
        );
        b.push(
            1,
            0,
            Event::TaskSpawn {
                task: TaskId(1),
                kind: trace_format::TaskKind::Async,
                tokio_id: 1,
                parent: TaskId::NONE,
                location: trace_format::LocationId(1),
                name: StringId::NONE,
            },
        );
        b.push(
            2,
            0,
            Event::ThreadStart {
                kind: ThreadKind::Worker,
                index: 1,
            },
        );
        // Worker 0: polls of 3 and 1 ms; worker 1: 0.5 ms, then stops at 5 ms.
        b.push(1, 1_000_000, Event::PollStart { task: TaskId(1) });
        b.push(1, 4_000_000, Event::PollEnd { ready: false });
        b.push(1, 5_000_000, Event::PollStart { task: TaskId(1) });
        b.push(1, 6_000_000, Event::PollEnd { ready: false });
        b.push(2, 1_000_000, Event::PollStart { task: TaskId(2) });
        b.push(2, 1_500_000, Event::PollEnd { ready: false });
        b.push(2, 5_000_000, Event::ThreadStop);
        b.push(1, 10_000_000, Event::WorkerPark);
        let m = model(&b);
        let l = long_polls(&m, 1_000_000).unwrap();
        assert_eq!(l.worker_ns, 15_000_000);
        assert_eq!(l.long_poll_ns, 3_000_000);
        assert_eq!(l.count, 1);
        assert_eq!(l.share, 0.2);
        let worst = l.worst.unwrap();
        assert_eq!((worst.start_ns, worst.duration_ns), (1_000_000, 3_000_000));
        assert_eq!(worst.location.as_deref(), Some("src/slow.rs:7:5"));
        assert_eq!(worst.thread, "worker 0");
        assert!(long_polls(&m, 10_000_000).unwrap().long_poll_ns == 0);
        let mut none = TraceBuilder::new();
        none.push(1, 0, Event::PollStart { task: TaskId(1) });
        none.push(1, 10, Event::PollEnd { ready: true });
        assert!(long_polls(&model(&none), 1).is_none());
    }

    #[test]
    fn a_trace_without_workers_says_so() {
        let mut b = TraceBuilder::new();
        b.push(1, 0, Event::PollStart { task: TaskId(1) });
        b.push(1, 10, Event::PollEnd { ready: true });
        let err = utilization(&model(&b), UtilizationOptions::default()).unwrap_err();
        assert!(matches!(err, NoUtilization::NoWorkers), "{err}");
    }
}
