//! The mutator utilization of a trace, as DESIGN.md's "Pauses and MMU" defines it: 0 inside
//! a process-wide pause, otherwise the fraction of worker threads not inside a thread-scoped
//! pause — and, in responsiveness mode, not inside a poll longer than a threshold (the whole
//! of such a poll counts as unavailable: the worker could not run anything else during it).
//!
//! Turns a [`Model`] into the [`Utilization`] step functions the [`mmu`](super::mmu) module
//! measures, for the whole runtime or per worker.

use super::mmu::{Utilization, UtilizationError, per_worker};
use crate::model::{Model, Nanos, ThreadIx};

/// Which utilization to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UtilizationOptions {
    /// Responsiveness mode: polls at least this long make their worker unavailable.
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

/// The worker threads, the process-wide pauses and, per worker, when it was unavailable.
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
    let process: Vec<(u64, u64)> = model
        .process_pauses
        .iter()
        .map(|p| (p.span.start, p.span.end))
        .collect();
    let unavailable = workers
        .iter()
        .map(|&w| {
            let thread = &model.threads[w as usize];
            let mut spans: Vec<(u64, u64)> = thread
                .pauses
                .iter()
                .map(|p| (p.span.start, p.span.end))
                .collect();
            if let Some(threshold) = options.long_poll {
                spans.extend(
                    model
                        .thread_polls(w)
                        .iter()
                        .filter(|p| p.span().len() >= threshold)
                        .map(|p| (p.start, p.end)),
                );
            }
            spans
        })
        .collect();
    Ok((workers, process, unavailable))
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
    fn a_trace_without_workers_says_so() {
        let mut b = TraceBuilder::new();
        b.push(1, 0, Event::PollStart { task: TaskId(1) });
        b.push(1, 10, Event::PollEnd { ready: true });
        let err = utilization(&model(&b), UtilizationOptions::default()).unwrap_err();
        assert!(matches!(err, NoUtilization::NoWorkers), "{err}");
    }
}
