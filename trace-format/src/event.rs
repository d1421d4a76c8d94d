//! The types of events' arguments: ids (tasks, strings, locations, stacks, threads), thread
//! roles, task kinds, wake sources, pause scopes, log levels. The events themselves,
//! [`Event`](crate::Event) and [`EventKind`](crate::EventKind), are generated from the spec
//! table ([`crate::spec`]), which builds on this module; nothing here depends on them.
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

/// A call stack, defined by a [`crate::Meta::Stacks`] record. `StackId::NONE` (0) means no
/// stack was taken (or it was lost).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct StackId(pub u32);

impl StackId {
    /// No stack; never defined in the file.
    pub const NONE: StackId = StackId(0);
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
    /// Another task (channels, locks, notify); the waking task is in
    /// [`Event::Wake::waker`](crate::Event::Wake::waker).
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

/// Severity of a [`Event::Log`](crate::Event::Log), as in `tracing`.
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

macro_rules! u8_enum {
    ($ty:ident { $($variant:ident = $n:literal $text:literal),* $(,)? }) => {
        impl $ty {
            /// Decodes the byte written by `as u8`; `None` for values this version does not know.
            pub fn from_u8(v: u8) -> Option<Self> {
                match v {
                    $($n => Some($ty::$variant),)*
                    _ => None,
                }
            }

            /// The value's name in the text form of traces.
            pub(crate) fn text_name(self) -> &'static str {
                match self {
                    $($ty::$variant => $text,)*
                }
            }

            /// The value named `name` in the text form.
            pub(crate) fn from_text_name(name: &str) -> Option<Self> {
                match name {
                    $($text => Some($ty::$variant),)*
                    _ => None,
                }
            }

            /// Every name the text form accepts, for error messages.
            pub(crate) const TEXT_NAMES: &'static str = concat!($($text, " "),*);
        }
    };
}

u8_enum!(ThreadKind { Worker = 0 "worker", Blocking = 1 "blocking", Other = 2 "other" });
u8_enum!(TaskKind { Async = 0 "async", BlockOn = 1 "block_on", Blocking = 2 "blocking", Local = 3 "local" });
u8_enum!(WakeSource {
    Task = 0 "task", Io = 1 "io", Timer = 2 "timer", Blocking = 3 "blocking",
    Foreign = 4 "foreign", SelfWake = 5 "self_wake", Unknown = 6 "unknown",
});
u8_enum!(PauseScope { Process = 0 "process", Thread = 1 "thread" });
u8_enum!(Level { Trace = 0 "trace", Debug = 1 "debug", Info = 2 "info", Warn = 3 "warn", Error = 4 "error" });

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
