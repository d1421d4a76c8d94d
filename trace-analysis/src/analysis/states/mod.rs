//! Task states: each task's lifetime (spawn → terminate) partitioned, with no gap and no
//! overlap, into running, scheduler wait, waiting (by what woke it) and paused, as
//! docs/ARCHITECTURE.md's "Task states" describes them.
//!
//! How each stretch between two polls is classified:
//! - after the spawn (or a wake that came while the task was still running), it is
//!   runnable: **scheduler wait** until the next poll;
//! - after a pending poll, it is **waiting** until the first wake that follows, attributed to
//!   that wake's source (another task, I/O, a timer, the blocking pool, a foreign thread, a
//!   self-wake), then scheduler wait until the next poll;
//! - without a wake event (a trace recorded without wake mode, or a wake lost with dropped
//!   data) the wait is attributed to **unknown**, except that tokio's measured schedule
//!   latency, when recorded, is counted as scheduler wait at the end of the stretch;
//! - after the last poll of a task that is still alive, it is waiting (its wake has not
//!   come) until the end of the trace.
//!
//! A known limit: tokio defers a `yield_now` wake until the worker finishes its current
//! scheduler turn, and the recorder stamps it then. If that worker is held up (say, blocked
//! inside another task's poll), the yielded task reads as waiting (self-wake or unknown)
//! until the deferred wake, not as scheduler wait, although it was runnable all along.
//!
//! - when the file is cut or damaged (no end record), a task still alive at the end is
//!   known up to its last poll or wake; past the point where the file stops being complete
//!   (`Model::complete_until`) or the data of the thread that last polled it ends
//!   ([`thread_data_end`]), the rest of its lifetime is **no data** — not a wait or a
//!   scheduler wait that the missing polls would have ended.
//!
//! Any of these overlapped by a process-wide pause counts as **paused** instead, so
//! paused time is carved out of the others (like Go's GC time) and the parts still sum to the
//! lifetime.
//!
//! Repairs, so the partition holds on any trace: a poll that starts before the task's
//! previous poll ended (a hook preempted between tokio's poll and its timestamp) starts when
//! the previous one ended; polls before the spawn start at the spawn.

use crate::model::{Model, Nanos, Span, TaskIx, ThreadIx};
use trace_format::WakeSource;

/// Why a task was waiting: the source of the wake that ended the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WaitReason {
    /// Woken by another task (channels, locks, notify).
    Task,
    /// Woken by the I/O driver.
    Io,
    /// Woken by a timer.
    Timer,
    /// Woken by a blocking-pool thread.
    Blocking,
    /// Woken by a thread outside the runtime.
    Foreign,
    /// Woke itself (yield, cooperative budget).
    SelfWake,
    /// No wake in the trace says (recorded without wake mode, or the wake was lost), or the
    /// task was still waiting when the trace ended.
    Unknown,
}

impl WaitReason {
    /// Every reason, in the order reports show them.
    pub const ALL: [WaitReason; 7] = [
        WaitReason::Task,
        WaitReason::Io,
        WaitReason::Timer,
        WaitReason::Blocking,
        WaitReason::Foreign,
        WaitReason::SelfWake,
        WaitReason::Unknown,
    ];

    /// The reason a wake of this source ends a wait with.
    pub fn from_source(source: WakeSource) -> WaitReason {
        match source {
            WakeSource::Task => WaitReason::Task,
            WakeSource::Io => WaitReason::Io,
            WakeSource::Timer => WaitReason::Timer,
            WakeSource::Blocking => WaitReason::Blocking,
            WakeSource::Foreign => WaitReason::Foreign,
            WakeSource::SelfWake => WaitReason::SelfWake,
            WakeSource::Unknown => WaitReason::Unknown,
        }
    }

    /// A short stable name: `"task"`, `"io"`, `"timer"`, `"blocking"`, `"foreign"`, `"self"`,
    /// `"unknown"`.
    pub fn name(self) -> &'static str {
        match self {
            WaitReason::Task => "task",
            WaitReason::Io => "io",
            WaitReason::Timer => "timer",
            WaitReason::Blocking => "blocking",
            WaitReason::Foreign => "foreign",
            WaitReason::SelfWake => "self",
            WaitReason::Unknown => "unknown",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What a task is doing at a moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Being polled.
    Running,
    /// Runnable, waiting for a worker.
    SchedWait,
    /// Waiting for a wake, by what ended the wait.
    Waiting(WaitReason),
    /// Inside a process-wide pause.
    Paused,
    /// After the data of the thread that last polled it ends (a cut or damaged file).
    NoData,
}

impl TaskState {
    /// A short stable name: `"running"`, `"sched_wait"`, `"wait_<reason>"`, `"paused"`.
    pub fn name(self) -> &'static str {
        match self {
            TaskState::Running => "running",
            TaskState::SchedWait => "sched_wait",
            TaskState::Paused => "paused",
            TaskState::NoData => "no_data",
            TaskState::Waiting(r) => match r {
                WaitReason::Task => "wait_task",
                WaitReason::Io => "wait_io",
                WaitReason::Timer => "wait_timer",
                WaitReason::Blocking => "wait_blocking",
                WaitReason::Foreign => "wait_foreign",
                WaitReason::SelfWake => "wait_self",
                WaitReason::Unknown => "wait_unknown",
            },
        }
    }
}

/// A stretch of one task's lifetime in one state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// When.
    pub span: Span,
    /// In what state.
    pub state: TaskState,
}

/// Time spent in each state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StateTotals {
    /// Running (being polled).
    pub running: Nanos,
    /// Runnable, waiting for a worker.
    pub sched_wait: Nanos,
    /// Waiting, by [`WaitReason`] (indexed in [`WaitReason::ALL`] order).
    pub waiting: [Nanos; 7],
    /// Inside process-wide pauses.
    pub paused: Nanos,
    /// After its data ends ([`TaskState::NoData`]).
    pub no_data: Nanos,
}

impl StateTotals {
    /// Adds `len` to `state`.
    pub fn add(&mut self, state: TaskState, len: Nanos) {
        match state {
            TaskState::Running => self.running += len,
            TaskState::SchedWait => self.sched_wait += len,
            TaskState::Waiting(r) => self.waiting[r.index()] += len,
            TaskState::Paused => self.paused += len,
            TaskState::NoData => self.no_data += len,
        }
    }

    /// Time waiting for `reason`.
    pub fn wait(&self, reason: WaitReason) -> Nanos {
        self.waiting[reason.index()]
    }

    /// Time waiting for any reason.
    pub fn waiting_total(&self) -> Nanos {
        self.waiting.iter().sum()
    }

    /// The sum of all states: the lifetime they partition.
    pub fn total(&self) -> Nanos {
        self.running + self.sched_wait + self.waiting_total() + self.paused + self.no_data
    }

    /// Time in `state`.
    pub fn get(&self, state: TaskState) -> Nanos {
        match state {
            TaskState::Running => self.running,
            TaskState::SchedWait => self.sched_wait,
            TaskState::Waiting(r) => self.wait(r),
            TaskState::Paused => self.paused,
            TaskState::NoData => self.no_data,
        }
    }
}

/// The process-wide pauses of `model` merged into disjoint spans, by start (the input of
/// [`for_each_segment`]).
pub fn paused_spans(model: &Model) -> Vec<Span> {
    let mut spans: Vec<Span> = model.process_pauses.iter().map(|p| p.span).collect();
    spans.sort_by_key(|s| s.start);
    Span::union(spans)
}

/// Calls `f` with the segments that partition `task`'s lifetime, in time order. `paused` is
/// [`paused_spans`] of the model (computed once by the caller).
///
/// ```
/// use trace_format::{build::TraceBuilder, Event, TaskId, TaskKind, WakeSource, LocationId, StringId};
/// use trace_analysis::analysis::states::{for_each_segment, paused_spans, TaskState, WaitReason};
/// let mut b = TraceBuilder::new();
/// b.push(1, 0, Event::TaskSpawn { task: TaskId(1), kind: TaskKind::Async, tokio_id: 1,
///     parent: TaskId::NONE, location: LocationId::NONE, name: StringId::NONE });
/// b.push(1, 10, Event::PollStart { task: TaskId(1) });
/// b.push(1, 20, Event::PollEnd { ready: false });
/// b.push(2, 50, Event::Wake { task: TaskId(1), waker: TaskId::NONE, source: WakeSource::Timer });
/// b.push(1, 60, Event::PollStart { task: TaskId(1) });
/// b.push(1, 70, Event::TaskTerminate { task: TaskId(1) });
/// b.push(1, 70, Event::PollEnd { ready: true });
/// let model = trace_analysis::model::Model::build(&trace_format::Trace::from_bytes(b.to_bytes())?)?;
/// let mut states = vec![];
/// for_each_segment(&model, trace_analysis::model::TaskIx(0), &paused_spans(&model), |s| states.push((s.state, s.span.len())));
/// assert_eq!(states, [
///     (TaskState::SchedWait, 10), (TaskState::Running, 10),
///     (TaskState::Waiting(WaitReason::Timer), 30), (TaskState::SchedWait, 10),
///     (TaskState::Running, 10),
/// ]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn for_each_segment(model: &Model, task: TaskIx, paused: &[Span], mut f: impl FnMut(Segment)) {
    let mut overlay = PauseOverlay::new(paused);
    let mut emit = |start: Nanos, end: Nanos, state: TaskState| {
        if end > start {
            overlay.split(Span { start, end }, state, &mut f);
        }
    };
    let t = &model.tasks[task.index()];
    let mut life = t.lifetime(model.end);
    // In a cut or damaged file, a task still alive at the end is known only up to its last
    // poll or wake, once past where the file stops being complete (`complete_until`) or
    // the data of the thread that polled it last ends: after that, that it was not polled
    // (or not terminated) is not evidence.
    let cut = (t.terminate.is_none() && model.end_record.is_none())
        .then(|| {
            let last_poll = model.task_polls(task).last();
            let known = last_poll
                .map(|p| p.end)
                .into_iter()
                .chain(model.task_wakes(task).last().map(|w| w.time))
                .max()
                .unwrap_or(life.start);
            let thread_end = last_poll
                .and_then(|p| thread_data_end(model, p.thread()))
                .unwrap_or(Nanos::MAX);
            known.max(model.complete_until.min(thread_end))
        })
        .filter(|&d| d < life.end && d >= life.start);
    let no_data_end = life.end;
    if let Some(d) = cut {
        life.end = d;
    }
    let wakes = model.task_wakes(task);
    let latencies = model.task_schedule_latencies(task);
    let (mut next_wake, mut next_latency) = (0usize, 0usize);

    // `runnable_since`: the stretch starting at `cursor` begins runnable (spawned, or woken
    // while the previous poll was still running) rather than waiting.
    let mut cursor = life.start;
    let mut runnable_since_start = t.spawn.is_some();
    // Wakes at or after this time count for the stretch being classified.
    let mut wake_floor = life.start;

    let mut classify = |from: Nanos,
                        to: Nanos,
                        runnable: bool,
                        wake_floor: Nanos,
                        poll_follows: bool,
                        emit: &mut dyn FnMut(Nanos, Nanos, TaskState)| {
        while next_wake < wakes.len() && wakes[next_wake].time < wake_floor {
            next_wake += 1;
        }
        let wake = wakes.get(next_wake).filter(|w| w.time <= to).copied();
        if wake.is_some() {
            next_wake += 1;
        }
        if runnable || wake.is_some_and(|w| w.time <= from) {
            emit(from, to, TaskState::SchedWait);
        } else if let Some(w) = wake {
            let at = w.time.clamp(from, to);
            emit(
                from,
                at,
                TaskState::Waiting(WaitReason::from_source(w.source)),
            );
            emit(at, to, TaskState::SchedWait);
        } else {
            // No wake: tokio's schedule latency of the next poll, when recorded, is the
            // runnable part at the end of the stretch.
            let mut sched = 0;
            if poll_follows {
                while next_latency < latencies.len() && latencies[next_latency].0 < to {
                    next_latency += 1;
                }
                if let Some(&(at, _, nanos)) = latencies.get(next_latency)
                    && at == to
                {
                    sched = nanos.min(to - from);
                    next_latency += 1;
                }
            }
            emit(from, to - sched, TaskState::Waiting(WaitReason::Unknown));
            emit(to - sched, to, TaskState::SchedWait);
        }
    };

    for p in model.task_polls(task) {
        let start = p.start.clamp(cursor, life.end);
        let end = p.end.clamp(start, life.end);
        classify(
            cursor,
            start,
            runnable_since_start,
            wake_floor,
            true,
            &mut emit,
        );
        emit(start, end, TaskState::Running);
        // A wake during this poll makes the task runnable as soon as the poll ends.
        wake_floor = start;
        runnable_since_start = false;
        cursor = end;
    }
    if cursor < life.end {
        classify(
            cursor,
            life.end,
            runnable_since_start,
            wake_floor,
            false,
            &mut emit,
        );
    }
    emit(life.end, no_data_end, TaskState::NoData);
}

/// When `thread`'s data ends early: in a file without an end record (cut, or damaged
/// mid-way), the end of the thread's last poll, park, pause or region, when that is before
/// the end of the trace and the thread did not stop. `None` when its data lasts to the end.
///
/// ```
/// use trace_format::{build::TraceBuilder, Event, TaskId, TaskKind, LocationId, StringId};
/// use trace_analysis::analysis::states::{for_each_segment, paused_spans, thread_data_end, TaskState};
/// use trace_analysis::model::{Model, TaskIx, ThreadIx};
/// let mut b = TraceBuilder::new();
/// for (task, thread) in [(1, 1), (2, 2)] {
///     b.push(thread, 0, Event::TaskSpawn { task: TaskId(task), kind: TaskKind::Async,
///         tokio_id: task, parent: TaskId::NONE, location: LocationId::NONE, name: StringId::NONE });
/// }
/// b.push(1, 10, Event::PollStart { task: TaskId(1) });
/// b.push(1, 20, Event::PollEnd { ready: false });
/// // Thread 2 goes on to 100; thread 1's data stops at 20; no end record (a cut file).
/// b.push(2, 90, Event::PollStart { task: TaskId(2) });
/// b.push(2, 100, Event::PollEnd { ready: false });
/// let model = Model::build(&trace_format::Trace::from_bytes(b.write(false))?)?;
/// let first = model.task_polls(TaskIx(0)).last().unwrap().thread();
/// assert_eq!(thread_data_end(&model, first), Some(20));
/// let mut states = vec![];
/// for_each_segment(&model, TaskIx(0), &paused_spans(&model), |s| states.push((s.state, s.span.len())));
/// assert_eq!(states, [(TaskState::SchedWait, 10), (TaskState::Running, 10), (TaskState::NoData, 80)]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn thread_data_end(model: &Model, thread: ThreadIx) -> Option<Nanos> {
    if model.end_record.is_some() {
        return None;
    }
    let t = model.threads.get(thread.index())?;
    if t.stop.is_some() {
        return None;
    }
    let polls = &model.polls[t.polls.start as usize..t.polls.end as usize];
    // Poll ends are not monotone with nested polls: the latest of the last few is enough
    // in practice, the latest of all is exact.
    let last_poll = polls.iter().rev().take(64).map(|p| p.end).max();
    let end = [
        last_poll,
        t.parks.last().map(|s| s.end),
        t.pauses.last().map(|p| p.span.end),
        t.regions.iter().rev().take(64).map(|r| r.span.end).max(),
        t.start,
    ]
    .into_iter()
    .flatten()
    .max()?;
    (end < model.end).then_some(end)
}

/// The totals of [`for_each_segment`] for one task.
pub fn task_totals(model: &Model, task: TaskIx, paused: &[Span]) -> StateTotals {
    let mut totals = StateTotals::default();
    for_each_segment(model, task, paused, |s| totals.add(s.state, s.span.len()));
    totals
}

/// Splits segments (which arrive in time order) around the paused spans.
struct PauseOverlay<'a> {
    paused: &'a [Span],
    next: usize,
}

impl<'a> PauseOverlay<'a> {
    fn new(paused: &'a [Span]) -> Self {
        PauseOverlay { paused, next: 0 }
    }

    fn split(&mut self, span: Span, state: TaskState, f: &mut impl FnMut(Segment)) {
        while self.next < self.paused.len() && self.paused[self.next].end <= span.start {
            self.next += 1;
        }
        let mut at = span.start;
        let mut i = self.next;
        while at < span.end {
            match self.paused.get(i) {
                Some(p) if p.start < span.end => {
                    if p.start > at {
                        f(Segment {
                            span: Span {
                                start: at,
                                end: p.start,
                            },
                            state,
                        });
                    }
                    let end = p.end.min(span.end);
                    let start = p.start.max(at);
                    if end > start {
                        f(Segment {
                            span: Span { start, end },
                            state: TaskState::Paused,
                        });
                    }
                    at = end.max(at);
                    if p.end <= span.end {
                        i += 1;
                    }
                }
                _ => {
                    f(Segment {
                        span: Span {
                            start: at,
                            end: span.end,
                        },
                        state,
                    });
                    at = span.end;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
