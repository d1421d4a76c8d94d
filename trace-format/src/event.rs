//! The event model: everything a trace can say happened, independent of how it is encoded.
//!
//! Every event is written by the thread it happened on, so the thread is implied by the chunk
//! that holds the event. Times are in the trace's clock units (see [`crate::ClockInfo`]).

use serde::{Deserialize, Serialize};

/// A trace-local task id. Every spawn gets a new one, even when tokio reuses its own ids.
/// `TaskId::NONE` (0) means "no task".
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct TaskId(pub u64);

impl TaskId {
    /// No task: an absent parent, a wake from outside any task.
    pub const NONE: TaskId = TaskId(0);

    /// The first id of the tasks a recorder makes itself rather than takes from tokio
    /// (trace-rt's `block_on` roots). tokio counts its ids up from 1, so they stay below.
    pub const FIRST_OWN: u64 = 1 << 62;

    /// `None` for [`TaskId::NONE`].
    pub fn get(self) -> Option<TaskId> {
        (self.0 != 0).then_some(self)
    }
}

/// tokio's ids as they are (`17`); the recorder's own ids as `root1`, `root2`, … (rather
/// than `4611686018427387904`).
///
/// ```
/// use trace_format::TaskId;
/// assert_eq!(TaskId(17).to_string(), "17");
/// assert_eq!(TaskId(TaskId::FIRST_OWN).to_string(), "root1");
/// ```
impl std::fmt::Display for TaskId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.checked_sub(Self::FIRST_OWN) {
            Some(n) => write!(f, "root{}", n + 1),
            None => write!(f, "{}", self.0),
        }
    }
}

/// An interned string, defined by a [`crate::Meta::Strings`] record. `StringId::NONE` (0) is the
/// empty string / "no name".
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct StringId(pub u32);

impl StringId {
    /// The empty string; never defined in the file.
    pub const NONE: StringId = StringId(0);
}

/// A source location (file, line, column), defined by a [`crate::Meta::Locations`] record.
/// `LocationId::NONE` (0) means unknown.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct LocationId(pub u32);

impl LocationId {
    /// Unknown location; never defined in the file.
    pub const NONE: LocationId = LocationId(0);
}

/// A trace-local thread id: the `thread` field of event chunks and [`crate::Meta::Thread`].
pub type ThreadId = u32;

/// What role a thread plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum ThreadKind {
    /// A tokio worker thread (multi-thread runtime) or the thread driving a current-thread runtime.
    Worker = 0,
    /// A thread of tokio's blocking pool.
    Blocking = 1,
    /// Any other thread that recorded events.
    Other = 2,
}

/// What a task is, as far as the scheduler is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum TaskKind {
    /// A future spawned on the runtime (`tokio::spawn`, `JoinSet::spawn`, …).
    Async = 0,
    /// The root future passed to `block_on`, recorded as a task.
    BlockOn = 1,
    /// A `spawn_blocking` closure.
    Blocking = 2,
    /// A task of a `LocalSet`.
    Local = 3,
}

/// Who or what woke a task; the waiting time that the wake ends is attributed to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum WakeSource {
    /// Another task (channels, locks, notify); the waking task is in [`Event::Wake::waker`].
    Task = 0,
    /// The I/O driver (socket or file readiness).
    Io = 1,
    /// The timer driver (sleep, interval, timeout).
    Timer = 2,
    /// A blocking-pool thread (`spawn_blocking` completing).
    Blocking = 3,
    /// A thread that is not part of the runtime.
    Foreign = 4,
    /// The task woke itself while being polled (`yield_now`, cooperative budget).
    SelfWake = 5,
    /// The recorder could not tell.
    Unknown = 6,
}

/// Whether a pause stops the whole process or only the thread it is recorded on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum PauseScope {
    /// Stop-the-world: no task makes progress anywhere.
    Process = 0,
    /// Only the recording thread is unavailable.
    Thread = 1,
}

/// Severity of a [`Event::Log`], as in `tracing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[repr(u8)]
pub enum Level {
    /// Very verbose.
    Trace = 0,
    /// Debugging detail.
    Debug = 1,
    /// Normal information.
    Info = 2,
    /// Something unexpected.
    Warn = 3,
    /// A failure.
    Error = 4,
}

impl Level {
    /// The level as `tracing` prints it.
    ///
    /// ```
    /// assert_eq!(trace_format::Level::Warn.name(), "WARN");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Level::Trace => "TRACE",
            Level::Debug => "DEBUG",
            Level::Info => "INFO",
            Level::Warn => "WARN",
            Level::Error => "ERROR",
        }
    }
}

/// One thing that happened on one thread. Borrowed payloads (log messages, extension data)
/// point into the trace bytes when decoded.
// Fields are described by their variant's doc; FORMAT.md gives each one's encoding.
#[allow(missing_docs)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// The thread started (or was first seen) in the given role. `index` is the worker index
    /// for workers, otherwise a per-kind counter.
    ThreadStart { kind: ThreadKind, index: u32 },
    /// The thread is about to exit.
    ThreadStop,
    /// A worker has no work and parks (goes idle).
    WorkerPark,
    /// A parked worker wakes up.
    WorkerUnpark,

    /// A task was spawned by the current thread (and, if one is being polled, by `parent`).
    TaskSpawn {
        task: TaskId,
        kind: TaskKind,
        /// tokio's own id; tokio may reuse it, the trace-local `task` never is.
        tokio_id: u64,
        parent: TaskId,
        location: LocationId,
        name: StringId,
    },
    /// This thread starts polling `task`.
    PollStart { task: TaskId },
    /// The innermost poll open on this thread ends; `ready` when the future completed.
    PollEnd { ready: bool },
    /// `task` was made runnable. `waker` is the task being polled by the waking thread, if any.
    Wake {
        task: TaskId,
        waker: TaskId,
        source: WakeSource,
    },
    /// The task finished (or was dropped) and will not be polled again.
    TaskTerminate { task: TaskId },
    /// tokio's measured delay between the task being scheduled and this poll starting.
    ScheduleLatency { task: TaskId, nanos: u64 },

    /// A blocking-pool thread starts running the `spawn_blocking` closure of `task`.
    BlockingStart { task: TaskId },
    /// The blocking closure started last on this thread returned.
    BlockingEnd,

    /// Allocator activity on this thread since its previous `AllocCounters` event.
    AllocCounters {
        allocs: u64,
        frees: u64,
        alloc_bytes: u64,
        free_bytes: u64,
    },
    /// A sampled allocation of `size` bytes made while `task` (or no task) was polled.
    AllocSample { size: u64, task: TaskId },

    /// A pause of the given kind begins.
    PauseBegin { kind: StringId, scope: PauseScope },
    /// The pause of the given kind and scope that began last ends.
    PauseEnd { kind: StringId, scope: PauseScope },

    /// A user region (e.g. a `tracing` span) is entered on this thread.
    RegionBegin { id: u64, name: StringId },
    /// The region `id` is exited on this thread.
    RegionEnd { id: u64 },
    /// A user log line (e.g. a `tracing` event).
    Log {
        level: Level,
        target: StringId,
        message: &'a str,
    },
    /// A user or runtime counter took `value`.
    Counter { name: StringId, value: i64 },

    /// Runtime-wide sample.
    RuntimeSample {
        global_queue: u64,
        alive_tasks: u64,
        blocking_threads: u64,
    },
    /// One worker's local run-queue depth.
    WorkerQueueSample { worker: u32, depth: u64 },

    /// This thread dropped `chunks` whole chunks holding `events` events just before this
    /// point because the writer fell behind. Never silent.
    Lost { chunks: u64, events: u64 },

    /// An event kind from a newer writer that this reader does not know; `tag` and `payload`
    /// are kept so it can be skipped or passed through.
    Unknown { tag: u8, payload: &'a [u8] },
}

impl Event<'_> {
    /// A short stable name for the kind of event ("poll_start", "wake", …), used in reports.
    pub fn kind_name(&self) -> &'static str {
        match self {
            Event::ThreadStart { .. } => "thread_start",
            Event::ThreadStop => "thread_stop",
            Event::WorkerPark => "worker_park",
            Event::WorkerUnpark => "worker_unpark",
            Event::TaskSpawn { .. } => "task_spawn",
            Event::PollStart { .. } => "poll_start",
            Event::PollEnd { .. } => "poll_end",
            Event::Wake { .. } => "wake",
            Event::TaskTerminate { .. } => "task_terminate",
            Event::ScheduleLatency { .. } => "schedule_latency",
            Event::BlockingStart { .. } => "blocking_start",
            Event::BlockingEnd => "blocking_end",
            Event::AllocCounters { .. } => "alloc_counters",
            Event::AllocSample { .. } => "alloc_sample",
            Event::PauseBegin { .. } => "pause_begin",
            Event::PauseEnd { .. } => "pause_end",
            Event::RegionBegin { .. } => "region_begin",
            Event::RegionEnd { .. } => "region_end",
            Event::Log { .. } => "log",
            Event::Counter { .. } => "counter",
            Event::RuntimeSample { .. } => "runtime_sample",
            Event::WorkerQueueSample { .. } => "worker_queue_sample",
            Event::Lost { .. } => "lost",
            Event::Unknown { .. } => "unknown",
        }
    }
}

macro_rules! u8_enum {
    ($ty:ident { $($variant:ident = $n:literal),* $(,)? }) => {
        impl $ty {
            /// Decodes the byte written by `as u8`; `None` for values this version does not know.
            pub fn from_u8(v: u8) -> Option<Self> {
                match v {
                    $($n => Some($ty::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

u8_enum!(ThreadKind { Worker = 0, Blocking = 1, Other = 2 });
u8_enum!(TaskKind { Async = 0, BlockOn = 1, Blocking = 2, Local = 3 });
u8_enum!(WakeSource { Task = 0, Io = 1, Timer = 2, Blocking = 3, Foreign = 4, SelfWake = 5, Unknown = 6 });
u8_enum!(PauseScope { Process = 0, Thread = 1 });
u8_enum!(Level { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4 });

impl WakeSource {
    /// Every source, in tag order.
    pub const ALL: [WakeSource; 7] = [
        WakeSource::Task,
        WakeSource::Io,
        WakeSource::Timer,
        WakeSource::Blocking,
        WakeSource::Foreign,
        WakeSource::SelfWake,
        WakeSource::Unknown,
    ];
}
