//! The model's tables: [`Model`] and the rows it is made of (threads, tasks, polls, wakes,
//! pauses, regions, logs, counters, samples, lost data), with their queries. A leaf of
//! `model`: building them is `build`, `decode` and `assemble`.
use std::collections::HashMap;
use std::ops::Range;

use trace_format::{
    End, Header, Level, LocationDef, LocationId, PauseScope, StackId, StringId, TaskId, TaskKind,
    ThreadId, ThreadKind, WakeSource, Warning,
};

use super::source_path::short_source_path;

/// Nanoseconds since the start of the trace.
pub type Nanos = u64;

/// Index of a task in [`Model::tasks`] — not the recorder's [`TaskId`], which the task at that
/// index carries as [`Task::id`]. [`TaskIx::NONE`] means "no task" in the model.
///
/// ```
/// use trace_analysis::model::TaskIx;
/// assert_eq!(TaskIx(3).index(), 3);
/// assert_eq!(TaskIx(3).get(), Some(TaskIx(3)));
/// assert_eq!(TaskIx::NONE.get(), None);
/// ```
///
/// An index is its own type, so a bare integer or a [`TaskId`] cannot stand in for it:
///
/// ```compile_fail
/// let ix: trace_analysis::model::TaskIx = 3u32;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskIx(pub u32);

impl TaskIx {
    /// No task: a wake from outside any task, an event outside any poll, an unknown parent.
    pub const NONE: TaskIx = TaskIx(u32::MAX);

    /// The position in [`Model::tasks`] (meaningless for [`TaskIx::NONE`]).
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// `None` for [`TaskIx::NONE`].
    #[inline]
    pub fn get(self) -> Option<TaskIx> {
        (self != TaskIx::NONE).then_some(self)
    }

    /// True for [`TaskIx::NONE`].
    #[inline]
    pub fn is_none(self) -> bool {
        self == TaskIx::NONE
    }
}

/// Index of a thread in [`Model::threads`] — not the recorder's [`ThreadId`].
///
/// ```
/// use trace_analysis::model::ThreadIx;
/// assert_eq!(ThreadIx(2).index(), 2);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadIx(pub u32);

impl ThreadIx {
    /// The position in [`Model::threads`].
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A half-open interval `[start, end)` of trace time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    /// Inclusive start.
    pub start: Nanos,
    /// Exclusive end (≥ start).
    pub end: Nanos,
}

impl Span {
    /// `[start, end)`, or the empty span at `start` when `end` comes before it (times that go
    /// backwards in a damaged file).
    pub fn new(start: Nanos, end: Nanos) -> Span {
        Span {
            start,
            end: end.max(start),
        }
    }

    /// `end - start` (0 for a span built inverted by hand).
    pub fn len(&self) -> Nanos {
        self.end.saturating_sub(self.start)
    }

    /// True for an empty interval.
    pub fn is_empty(&self) -> bool {
        self.end == self.start
    }

    /// Merges spans sorted by start into disjoint ones (empty spans are dropped).
    ///
    /// ```
    /// use trace_analysis::model::Span;
    /// let s = |start, end| Span { start, end };
    /// assert_eq!(Span::union([s(0, 5), s(3, 8), s(8, 9), s(20, 20), s(30, 31)]),
    ///            [s(0, 9), s(30, 31)]);
    /// ```
    pub fn union(sorted: impl IntoIterator<Item = Span>) -> Vec<Span> {
        let mut out: Vec<Span> = Vec::new();
        for s in sorted {
            match out.last_mut() {
                Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
                _ if !s.is_empty() => out.push(s),
                _ => {}
            }
        }
        out
    }

    /// The length of the part of `self` inside `other`.
    pub fn overlap(&self, other: Span) -> Nanos {
        self.end
            .min(other.end)
            .saturating_sub(self.start.max(other.start))
    }
}

const POLL_READY: u32 = 1 << 31;
const POLL_CUT: u32 = 1 << 30;
const POLL_THREAD_MASK: u32 = POLL_CUT - 1;

/// One poll of a task on a thread (or one `spawn_blocking` closure run on a blocking-pool
/// thread: the model treats a blocking run as that task's single poll).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Poll {
    /// When the poll started.
    pub start: Nanos,
    /// When it ended.
    pub end: Nanos,
    /// The task polled.
    pub task: TaskIx,
    // The thread index, with the ready and cut flags in the top bits (keeps a poll at 24 bytes).
    thread_flags: u32,
}

impl Poll {
    pub(super) fn new(
        start: Nanos,
        end: Nanos,
        task: TaskIx,
        thread: ThreadIx,
        ready: bool,
        cut: bool,
    ) -> Poll {
        let mut thread_flags = thread.0 & POLL_THREAD_MASK;
        if ready {
            thread_flags |= POLL_READY;
        }
        if cut {
            thread_flags |= POLL_CUT;
        }
        Poll {
            start,
            end,
            task,
            thread_flags,
        }
    }

    /// The thread that ran it.
    pub fn thread(&self) -> ThreadIx {
        ThreadIx(self.thread_flags & POLL_THREAD_MASK)
    }

    /// True when the future completed in this poll.
    pub fn ready(&self) -> bool {
        self.thread_flags & POLL_READY != 0
    }

    /// True when the file does not say when the poll ended (its end was lost, or it was still
    /// running when the recording stopped): `end` is where the data stops.
    pub fn cut(&self) -> bool {
        self.thread_flags & POLL_CUT != 0
    }

    /// `[start, end)`.
    pub fn span(&self) -> Span {
        Span {
            start: self.start,
            end: self.end,
        }
    }
}

/// A task was made runnable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wake {
    /// When.
    pub time: Nanos,
    /// The task woken.
    pub task: TaskIx,
    /// The task that woke it, or [`TaskIx::NONE`].
    pub waker: TaskIx,
    /// The thread the wake happened on.
    pub thread: ThreadIx,
    /// Who or what woke it.
    pub source: WakeSource,
}

/// One trace task: every spawn is a new one, even when tokio reuses its ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    /// The trace-local id from the file.
    pub id: TaskId,
    /// What kind of task; `None` when its spawn is not in the trace (spawned before the
    /// recording started, or by a hook tokio does not offer).
    pub kind: Option<TaskKind>,
    /// tokio's id, 0 when unknown.
    pub tokio_id: u64,
    /// The task that spawned it, or [`TaskIx::NONE`].
    pub parent: TaskIx,
    /// Spawn location ([`LocationId::NONE`] when unknown).
    pub location: LocationId,
    /// Name given at spawn ([`StringId::NONE`] when none).
    pub name: StringId,
    /// When it was spawned, if the trace saw it.
    pub spawn: Option<Nanos>,
    /// When it terminated, if it did while recording.
    pub terminate: Option<Nanos>,
    /// The first time the trace mentions it (its spawn when known).
    pub first_seen: Nanos,
}

impl Task {
    /// The part of the trace the task's states are accounted over: spawn (or first sight)
    /// to terminate (or the end of the trace, `trace_end`).
    pub fn lifetime(&self, trace_end: Nanos) -> Span {
        let start = self.spawn.unwrap_or(self.first_seen);
        let end = self.terminate.unwrap_or(trace_end).max(start);
        Span { start, end }
    }
}

/// A pause: process-wide (stop-the-world) or of one thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pause {
    /// When it began and ended.
    pub span: Span,
    /// Its kind ("compaction", "alloc", …).
    pub kind: StringId,
    /// Process-wide or thread-scoped.
    pub scope: PauseScope,
    /// The thread that recorded it.
    pub thread: ThreadIx,
    /// Nesting depth among the recording thread's open pauses (0 = outermost).
    pub depth: u16,
    /// True when its end is not in the file (closed where the data stops).
    pub cut: bool,
}

/// A `tracing` span (or other user region) entered and exited on one thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Enter to exit.
    pub span: Span,
    /// The recorder's region id (a `tracing` span id).
    pub id: u64,
    /// Its name.
    pub name: StringId,
    /// The task being polled when it was entered, or [`TaskIx::NONE`].
    pub task: TaskIx,
    /// Nesting depth among the thread's open regions (0 = outermost).
    pub depth: u16,
    /// True when its exit is not in the file.
    pub cut: bool,
}

/// A `tracing` span as one region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpanRegion {
    /// The span's id (`tracing`'s; reused after close).
    pub id: u64,
    /// Its parent span, an index into [`Model::spans`]; `None` for a root span or a
    /// parent created before the recording.
    pub parent: Option<u32>,
    /// Its name.
    pub name: StringId,
    /// Its target (module path).
    pub target: StringId,
    /// Its level.
    pub level: Level,
    /// Its fields, `name=value` pairs separated by spaces, those recorded later appended.
    pub fields: String,
    /// Creation to close (or to the end of the data when it did not close: [`Self::closed`]).
    pub span: Span,
    /// Time entered, summed over its segments (on any thread).
    pub busy: Nanos,
    /// Times it was entered.
    pub enters: u32,
    /// The task whose poll entered it first, or [`TaskIx::NONE`].
    pub task: TaskIx,
    /// Whether it closed within the recording.
    pub closed: bool,
}

impl SpanRegion {
    /// The value of field `name`, if the span has it.
    ///
    /// ```
    /// # use trace_analysis::model::*;
    /// # use trace_format::{Level, StringId};
    /// let s = SpanRegion { id: 1, parent: None, name: StringId(1), target: StringId(2),
    ///     level: Level::Info, fields: "method=GET route=/users id=7".into(),
    ///     span: Span::new(0, 10), busy: 4, enters: 2, task: TaskIx::NONE, closed: true };
    /// assert_eq!(s.field("route"), Some("/users"));
    /// assert_eq!(s.field("status"), None);
    /// assert_eq!(s.idle(), 6);
    /// ```
    pub fn field(&self, name: &str) -> Option<&str> {
        // Later values (recorded after creation) win: search from the end.
        self.fields
            .split(' ')
            .rev()
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v)
    }

    /// Time alive but not entered.
    pub fn idle(&self) -> Nanos {
        self.span.len().saturating_sub(self.busy)
    }
}

/// A log line (a `tracing` event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    /// When.
    pub time: Nanos,
    /// The thread that logged it.
    pub thread: ThreadIx,
    /// The task being polled, or [`TaskIx::NONE`].
    pub task: TaskIx,
    /// Severity.
    pub level: Level,
    /// Its target (module path).
    pub target: StringId,
    /// The message.
    pub message: Box<str>,
}

/// A sampled allocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AllocSample {
    /// When.
    pub time: Nanos,
    /// Bytes requested.
    pub size: u64,
    /// The task being polled, or [`TaskIx::NONE`].
    pub task: TaskIx,
    /// The allocating thread.
    pub thread: ThreadIx,
}

/// The CPU sampling rate assumed when a trace has CPU samples but no sampling record (the
/// recorder's default).
pub const DEFAULT_CPU_HZ: u32 = 99;

/// What a sample measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SampleKind {
    /// Where a thread spent CPU time (`CpuSample`).
    Cpu,
    /// Where a poll that ran past the stall threshold was, by wall clock (`StallSample`).
    Stall,
    /// A sampled allocation (`AllocSample`, or `AllocSampleAt` with its stack).
    Alloc,
}

impl SampleKind {
    /// `"cpu"`, `"stall"` or `"alloc"`.
    ///
    /// ```
    /// use trace_analysis::model::SampleKind;
    /// assert_eq!(SampleKind::Stall.name(), "stall");
    /// assert_eq!(SampleKind::parse("alloc"), Some(SampleKind::Alloc));
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            SampleKind::Cpu => "cpu",
            SampleKind::Stall => "stall",
            SampleKind::Alloc => "alloc",
        }
    }

    /// The kind named `name` (as [`SampleKind::name`] spells it).
    pub fn parse(name: &str) -> Option<SampleKind> {
        [SampleKind::Cpu, SampleKind::Stall, SampleKind::Alloc]
            .into_iter()
            .find(|k| k.name() == name)
    }

    /// The unit of [`Sample::weight`]: `"nanoseconds"` or `"bytes"`.
    pub fn unit(self) -> &'static str {
        match self {
            SampleKind::Cpu | SampleKind::Stall => "nanoseconds",
            SampleKind::Alloc => "bytes",
        }
    }
}

/// One CPU, stalled-poll or allocation sample ([`Model::samples`]). What its weight stands
/// for: CPU time between samples (1 s / the sampling rate), the stalled poll's wall time
/// split among its stall samples, or the bytes a sampled allocation stands for (unbiased,
/// like Go's `alloc_space`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// When it was taken.
    pub time: Nanos,
    /// What it measures.
    pub kind: SampleKind,
    /// The thread it was taken on.
    pub thread: ThreadIx,
    /// The task being polled, or [`TaskIx::NONE`].
    pub task: TaskIx,
    /// Its stack in [`Model::code`] ([`StackId::NONE`] for an allocation sample
    /// recorded without one).
    pub stack: StackId,
    /// CPU ns, stall ns or estimated bytes (see [`Sample`]).
    pub weight: u64,
    /// Allocation samples: the bytes requested (0 for the others).
    pub size: u64,
    /// Stall samples: the index in [`Model::polls`] of the poll that holds it
    /// ([`Sample::NO_POLL`] otherwise).
    pub poll: u32,
}

impl Sample {
    /// No poll (in [`Sample::poll`]).
    pub const NO_POLL: u32 = u32::MAX;

    /// Allocation samples: the number of allocations the sample stands for (its weight in
    /// bytes over its size; Go's `alloc_objects`); 1 for other kinds.
    pub fn objects(&self) -> f64 {
        match self.kind {
            SampleKind::Alloc if self.size > 0 => self.weight as f64 / self.size as f64,
            _ => 1.0,
        }
    }
}

/// Where a thread's data has a hole: chunks the recorder dropped (a `Lost` event) or chunk
/// sequence numbers missing from the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LostMarker {
    /// Where the hole ends (the first event after it).
    pub time: Nanos,
    /// The thread.
    pub thread: ThreadIx,
    /// Chunks missing.
    pub chunks: u64,
    /// Events in them, when the recorder counted them (0 for a bare sequence gap).
    pub events: u64,
}

/// What a counter series measures.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CounterKind {
    /// Tasks waiting in the runtime's global queue.
    GlobalQueue,
    /// Tasks alive in the runtime.
    AliveTasks,
    /// Threads in the blocking pool.
    BlockingThreads,
    /// One worker's local run-queue depth (by worker index).
    WorkerQueue(u32),
    /// Bytes allocated and not yet freed, all threads together (from allocator counters;
    /// relative to the start of the recording).
    HeapInUse,
    /// Bytes allocated since the start of the recording, all threads together.
    AllocatedBytes,
    /// A user counter (`trace_rt::counter`), by name.
    User(String),
}

impl CounterKind {
    /// A label for tables and tracks.
    pub fn label(&self) -> String {
        match self {
            CounterKind::GlobalQueue => "global queue".into(),
            CounterKind::AliveTasks => "alive tasks".into(),
            CounterKind::BlockingThreads => "blocking threads".into(),
            CounterKind::WorkerQueue(i) => format!("worker {i} queue"),
            CounterKind::HeapInUse => "heap in use (bytes)".into(),
            CounterKind::AllocatedBytes => "allocated (bytes)".into(),
            CounterKind::User(name) => name.clone(),
        }
    }
}

/// A counter's values over time (a step function: each value holds until the next).
#[derive(Debug, Clone, PartialEq)]
pub struct CounterSeries {
    /// What it measures.
    pub kind: CounterKind,
    /// `(time, value)`, by time.
    pub points: Vec<(Nanos, f64)>,
}

/// One recording thread and its lanes.
#[derive(Debug, Clone, PartialEq)]
pub struct Thread {
    /// The trace-local thread id.
    pub id: ThreadId,
    /// Its name, or empty.
    pub name: String,
    /// Its role; `None` when its start event is not in the trace.
    pub kind: Option<ThreadKind>,
    /// Worker index for workers, a per-kind counter otherwise.
    pub index: u32,
    /// When it started (or was first seen recording).
    pub start: Option<Nanos>,
    /// When it stopped, if it did while recording.
    pub stop: Option<Nanos>,
    /// Its polls: a range of [`Model::polls`], sorted by start.
    pub polls: Range<u32>,
    /// Parked (idle) intervals, by start.
    pub parks: Vec<Span>,
    /// Thread-scoped pauses, by start.
    pub pauses: Vec<Pause>,
    /// Regions, by start.
    pub regions: Vec<Region>,
    // Running maximum of poll ends, only when nested polls make ends non-monotone.
    pub(super) poll_end_max: Option<Vec<Nanos>>,
}

impl Thread {
    /// A label such as "worker 0", "blocking 3 (tokio-runtime-worker)".
    pub fn label(&self) -> String {
        let role = match self.kind {
            Some(ThreadKind::Worker) => format!("worker {}", self.index),
            // Older recorders wrote index 0 for every blocking thread; the id is unique.
            Some(ThreadKind::Blocking) => format!("blocking thread {}", self.id),
            Some(ThreadKind::Other) | None => format!("thread {}", self.id),
        };
        if self.name.is_empty() {
            role
        } else {
            format!("{role} ({})", self.name)
        }
    }

    /// True for a tokio worker thread.
    pub fn is_worker(&self) -> bool {
        self.kind == Some(ThreadKind::Worker)
    }
}

/// Counts of things the model had to repair or ignore; shown beside the results so nothing
/// is silently dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Anomalies {
    /// Poll, blocking, park, pause or region ends whose start is not in the file.
    pub unmatched_ends: u64,
    /// Intervals closed where data stops (lost chunks or end of trace).
    pub cut_intervals: u64,
    /// Polls that started before the same task's previous poll ended (timestamps taken late
    /// by a preempted hook); the analysis clamps them.
    pub overlapping_polls: u64,
    /// Spawn events for a task id already spawned (the later one is ignored).
    pub duplicate_spawns: u64,
    /// Polls, wakes and terminates naming no task (task id 0); ignored.
    pub events_without_task: u64,
}

/// A decoded, indexed trace. See the module docs.
#[derive(Debug, Clone)]
pub struct Model {
    /// The trace header (recorder, clock, features).
    pub header: Header,
    /// The end record, when the recording finished.
    pub end_record: Option<End>,
    /// The reader's warnings.
    pub warnings: Vec<Warning>,
    /// Time of the last event (the first is 0 or later).
    pub end: Nanos,
    /// Time up to which the file holds every thread's events: [`Model::end`] when the
    /// recording finished (it has an end record); for a cut one (killed, crashed, disk full),
    /// the end less the recorder's flush interval and writing delay, since events of the last
    /// moments may not have reached the file. A poll with no end recorded was running at least
    /// until here; after it, that something did not happen (a poll end, a terminate) is not
    /// evidence.
    pub complete_until: Nanos,
    /// Time of the first event.
    pub start: Nanos,
    /// Events decoded.
    pub events: u64,
    /// Threads, by trace thread id.
    pub threads: Vec<Thread>,
    /// Tasks: spawned ones by spawn time, then the ones first seen otherwise.
    pub tasks: Vec<Task>,
    /// Every poll, grouped by thread ([`Thread::polls`]), each group by start.
    pub polls: Vec<Poll>,
    /// Wakes, grouped by woken task and by time within a task.
    pub wakes: Vec<Wake>,
    /// Process-wide pauses, by start.
    pub process_pauses: Vec<Pause>,
    /// Counter series.
    pub counters: Vec<CounterSeries>,
    /// `tracing` spans, one region each (creation to close, busy while entered), by
    /// creation time.
    pub spans: Vec<SpanRegion>,
    /// Log lines, by time.
    pub logs: Vec<Log>,
    /// Sampled allocations, by time.
    pub alloc_samples: Vec<AllocSample>,
    /// CPU, stalled-poll and allocation samples with their stacks and weights, by time
    /// ([`Sample`]).
    pub samples: Vec<Sample>,
    /// The trace's stacks, their symbols and how they were sampled.
    pub code: trace_format::code::CodeInfo,
    /// Where tasks waited when the recording stopped (tokio task dumps; empty unless the
    /// recorder was built with `--cfg tokio_taskdump`).
    pub task_dumps: super::dumps::TaskDumps,
    /// tokio's schedule latencies `(poll time, task, nanos)`, by task then time.
    pub schedule_latencies: Vec<(Nanos, TaskIx, u64)>,
    /// Holes in the data, by time.
    pub lost: Vec<LostMarker>,
    /// What the model repaired or ignored.
    pub anomalies: Anomalies,
    pub(super) task_poll_index: Vec<u32>,
    pub(super) task_poll_offsets: Vec<u32>,
    pub(super) task_wake_offsets: Vec<u32>,
    pub(super) strings: HashMap<u32, String>,
    pub(super) locations: HashMap<u32, LocationDef>,
}

impl Model {
    /// Where `task` waited when the recording stopped: its await trace from the task dump
    /// (async fns with file and line), if the trace has one for it.
    ///
    /// ```
    /// # use trace_analysis::model::{Model, TaskIx};
    /// fn waits_in(m: &Model, task: TaskIx, function: &str) -> bool {
    ///     m.await_trace(task).is_some_and(|t| t.mentions(function))
    /// }
    /// ```
    pub fn await_trace(&self, task: TaskIx) -> Option<&super::dumps::AwaitTrace> {
        self.task_dumps.await_trace(task)
    }

    /// The whole trace as a span.
    pub fn span(&self) -> Span {
        Span {
            start: self.start,
            end: self.end,
        }
    }

    /// Every task's index, in table order.
    ///
    /// ```
    /// # use trace_analysis::model::Model;
    /// fn spawned(m: &Model) -> usize {
    ///     m.task_ixs().filter(|&t| m.tasks[t.index()].spawn.is_some()).count()
    /// }
    /// ```
    pub fn task_ixs(&self) -> impl DoubleEndedIterator<Item = TaskIx> + ExactSizeIterator + use<> {
        (0..self.tasks.len() as u32).map(TaskIx)
    }

    /// Every thread's index, in table order.
    pub fn thread_ixs(
        &self,
    ) -> impl DoubleEndedIterator<Item = ThreadIx> + ExactSizeIterator + use<> {
        (0..self.threads.len() as u32).map(ThreadIx)
    }

    /// Polls of `task`, in time order.
    pub fn task_polls(&self, task: TaskIx) -> impl ExactSizeIterator<Item = &Poll> + '_ {
        let i = task.index();
        let range = self.task_poll_offsets[i] as usize..self.task_poll_offsets[i + 1] as usize;
        self.task_poll_index[range]
            .iter()
            .map(|&p| &self.polls[p as usize])
    }

    /// Number of polls of `task`.
    pub fn task_poll_count(&self, task: TaskIx) -> u32 {
        let i = task.index();
        self.task_poll_offsets[i + 1] - self.task_poll_offsets[i]
    }

    /// Wakes of `task`, in time order.
    pub fn task_wakes(&self, task: TaskIx) -> &[Wake] {
        let i = task.index();
        &self.wakes[self.task_wake_offsets[i] as usize..self.task_wake_offsets[i + 1] as usize]
    }

    /// Schedule latencies tokio measured for `task`: `(poll time, nanos)`, by time.
    pub fn task_schedule_latencies(&self, task: TaskIx) -> &[(Nanos, TaskIx, u64)] {
        let lo = self.schedule_latencies.partition_point(|e| e.1 < task);
        let hi = self.schedule_latencies.partition_point(|e| e.1 <= task);
        &self.schedule_latencies[lo..hi]
    }

    /// The polls of `thread`, by start.
    pub fn thread_polls(&self, thread: ThreadIx) -> &[Poll] {
        let r = &self.threads[thread.index()].polls;
        &self.polls[r.start as usize..r.end as usize]
    }

    /// A slice of the polls of `thread` holding every poll that overlaps `[t0, t1)`, found by
    /// binary search so the cost does not depend on how many polls lie outside the range.
    /// Where polls nest (`block_in_place` + `block_on`), polls nested inside an overlapping
    /// one may come along although they end before `t0`.
    pub fn thread_polls_in(&self, thread: ThreadIx, t0: Nanos, t1: Nanos) -> &[Poll] {
        let polls = self.thread_polls(thread);
        let hi = polls.partition_point(|p| p.start < t1);
        let lo = match &self.threads[thread.index()].poll_end_max {
            Some(max) => max[..hi].partition_point(|&e| e <= t0),
            None => polls[..hi].partition_point(|p| p.end <= t0),
        };
        &polls[lo..hi]
    }

    /// The string `id` stands for ("" for none or unknown).
    pub fn string(&self, id: StringId) -> &str {
        self.strings.get(&id.0).map(String::as_str).unwrap_or("")
    }

    /// The location `id` stands for.
    pub fn location(&self, id: LocationId) -> Option<&LocationDef> {
        self.locations.get(&id.0)
    }

    /// Whether `poll`, which has no end in the file ([`Poll::cut`]), was still running when a
    /// finished recording stopped; otherwise a cut poll is where its thread's data ends (lost
    /// data, or a recording cut short) and it lasted at least its span.
    pub fn still_running(&self, poll: &Poll) -> bool {
        poll.cut() && self.end_record.is_some() && poll.span().end == self.end
    }

    /// `file:line:column`, or `<unknown location>`; a dependency's file is named by its crate
    /// and the path inside it ([`short_source_path`]).
    pub fn location_label(&self, id: LocationId) -> String {
        match self.location(id) {
            Some(l) => format!("{}:{}:{}", short_source_path(&l.file), l.line, l.column),
            None => "<unknown location>".into(),
        }
    }

    /// A label for a task: its name, else its spawn location, with its trace id.
    pub fn task_label(&self, task: TaskIx) -> String {
        let t = &self.tasks[task.index()];
        let name = self.string(t.name);
        let what = if !name.is_empty() {
            name.to_string()
        } else if t.location != LocationId::NONE {
            self.location_label(t.location)
        } else {
            match t.kind {
                Some(TaskKind::BlockOn) => "block_on".into(),
                Some(TaskKind::Blocking) => "spawn_blocking".into(),
                _ => "task".into(),
            }
        };
        format!("{what} #{}", t.id)
    }

    /// Worker threads, in worker-index order.
    pub fn workers(&self) -> Vec<ThreadIx> {
        let mut w: Vec<ThreadIx> = self
            .thread_ixs()
            .filter(|&i| self.threads[i.index()].is_worker())
            .collect();
        w.sort_by_key(|&i| (self.threads[i.index()].index, i));
        w
    }

    /// True when the trace carries wake events (wake mode), so waits can be attributed.
    pub fn has_wakes(&self) -> bool {
        !self.wakes.is_empty()
    }

    /// The allocation sample rate in force at `time`: the last `trace_rt.alloc.sample_rate`
    /// counter the recorder wrote before it, else 512 KiB (the default).
    pub fn alloc_sample_rate_at(&self, time: Nanos) -> u64 {
        use trace_format::sampling::{DEFAULT_SAMPLE_RATE, SAMPLE_RATE_COUNTER};
        self.counters
            .iter()
            .find(|c| matches!(&c.kind, CounterKind::User(name) if name == SAMPLE_RATE_COUNTER))
            .and_then(|r| {
                let i = r.points.partition_point(|p| p.0 <= time);
                r.points[..i].last().map(|p| p.1.max(0.0) as u64)
            })
            .unwrap_or(DEFAULT_SAMPLE_RATE)
    }

    /// A recorder feature flag from the header (`"tokio_unstable"`, …).
    pub fn feature(&self, key: &str) -> Option<&str> {
        self.header
            .features
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}
