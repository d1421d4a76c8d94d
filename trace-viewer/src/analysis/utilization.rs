//! The mutator utilization of a trace, as DESIGN.md's "Pauses and MMU" defines it: 0 inside
//! a process-wide pause, otherwise the fraction of workers not inside a thread-scoped pause —
//! and, in responsiveness mode, not inside a poll longer than a threshold (the whole of such a
//! poll counts as unavailable: the worker could not run anything else during it). A worker
//! thread that stopped is unavailable from then on; threads that share a worker index (a
//! `block_in_place` moves the worker to a new thread) count as one worker.
//!
//! Turns a [`Model`] into the [`Utilization`] step functions the [`mmu`](super::mmu) module
//! measures, for the whole runtime or per worker.

use super::mmu::{Utilization, UtilizationError, per_worker};
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

/// `(start, end)` intervals, as the [`mmu`](super::mmu) module takes them.
type Intervals = Vec<(u64, u64)>;

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

/// One worker slot (tokio's worker index) per series: the first thread that held it, and
/// the process-wide pauses and per-slot unavailable intervals.
///
/// A thread is unavailable inside its thread-scoped pauses, its long polls (responsiveness
/// mode) and after it stopped. Threads sharing a worker index (a `block_in_place` hands the
/// worker's core to a new thread) form one slot, available whenever any of them is.
fn inputs(
    model: &Model,
    options: UtilizationOptions,
) -> Result<(Vec<ThreadIx>, Intervals, Vec<Intervals>), NoUtilization> {
    let workers = model.workers();
    if workers.is_empty() {
        return Err(NoUtilization::NoWorkers);
    }
    if model.end <= model.start {
        return Err(NoUtilization::Empty);
    }
    let process: Intervals = model
        .process_pauses
        .iter()
        .map(|p| (p.span.start, p.span.end))
        .collect();
    let unavailable_of = |w: ThreadIx| -> Vec<Span> {
        let thread = &model.threads[w as usize];
        let mut spans: Vec<Span> = thread.pauses.iter().map(|p| p.span).collect();
        if let Some(threshold) = options.long_poll {
            spans.extend(
                model
                    .thread_polls(w)
                    .iter()
                    .filter(|p| p.span().len() > threshold)
                    .map(|p| p.span()),
            );
        }
        if let Some(stop) = thread.stop {
            spans.push(Span::new(stop, model.end));
        }
        spans.sort_by_key(|s| s.start);
        Span::union(spans)
    };
    // `workers()` is sorted by index: consecutive threads with one index form a slot.
    let mut slots: Vec<ThreadIx> = Vec::new();
    let mut unavailable: Vec<Vec<Span>> = Vec::new();
    for w in workers {
        let index = model.threads[w as usize].index;
        let own = unavailable_of(w);
        match slots.last() {
            Some(&first) if model.threads[first as usize].index == index => {
                let slot = unavailable.last_mut().expect("one list per slot");
                *slot = intersect(slot, &own);
            }
            _ => {
                slots.push(w);
                unavailable.push(own);
            }
        }
    }
    let unavailable = unavailable
        .into_iter()
        .map(|spans| spans.into_iter().map(|s| (s.start, s.end)).collect())
        .collect();
    Ok((slots, process, unavailable))
}

/// The utilization of the whole runtime over the trace.
///
/// ```
/// use trace_format::{build::TraceBuilder, Event, PauseScope, StringId, ThreadKind};
/// use trace_viewer::analysis::{mmu, utilization::{utilization, UtilizationOptions}};
/// let mut b = TraceBuilder::new();
/// b.string(1, "gc");
/// for (thread, index) in [(1, 0), (2, 1)] {
///     b.push(thread, 0, Event::ThreadStart { kind: ThreadKind::Worker, index });
/// }
/// b.push(1, 100, Event::PauseBegin { kind: StringId(1), scope: PauseScope::Process });
/// b.push(1, 200, Event::PauseEnd { kind: StringId(1), scope: PauseScope::Process });
/// b.push(2, 1000, Event::WorkerPark);
/// let model = trace_viewer::model::Model::load(&trace_format::Trace::from_bytes(b.to_bytes())?)?;
/// let u = utilization(&model, UtilizationOptions::default())?;
/// assert_eq!(mmu::mmu(&u, 100), 0.0);
/// assert_eq!(mmu::mmu(&u, 1000), 0.9);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn utilization(
    model: &Model,
    options: UtilizationOptions,
) -> Result<Utilization, NoUtilization> {
    let (workers, process, unavailable) = inputs(model, options)?;
    Ok(Utilization::from_intervals(
        model.start,
        model.end,
        workers.len(),
        &process,
        &unavailable,
    )?)
}

/// One utilization per worker thread (each 0 or 1), with the worker's thread index.
pub fn utilization_per_worker(
    model: &Model,
    options: UtilizationOptions,
) -> Result<Vec<(ThreadIx, Utilization)>, NoUtilization> {
    let (workers, process, unavailable) = inputs(model, options)?;
    let series = per_worker(model.start, model.end, &process, &unavailable)?;
    Ok(workers.into_iter().zip(series).collect())
}

#[cfg(test)]
mod tests {
    use trace_format::build::TraceBuilder;
    use trace_format::{Event, PauseScope, StringId, TaskId, ThreadKind, Trace};

    use super::*;
    use crate::analysis::mmu::mmu;

    fn model(b: &TraceBuilder) -> Model {
        Model::load(&Trace::from_bytes(b.to_bytes()).unwrap()).unwrap()
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
    fn stopped_workers_are_unavailable_and_shared_indexes_are_one_worker() {
        let mut b = TraceBuilder::new();
        b.string(1, "alloc");
        // Worker 1 stops at 100; worker 0 is paused in [600, 700): nobody is available.
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
        // [800, 900) while thread 1 is paused there, so worker 0 is available.
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
        assert_eq!(u.total(), 2, "two worker indexes");
        assert_eq!(
            mmu(&u, 100),
            0.5,
            "thread 3 covers worker 0 while thread 1 is paused"
        );
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
            "both holders of worker 0 paused, worker 1 stopped"
        );
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
