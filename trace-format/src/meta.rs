//! Records stored as postcard-encoded chunks: the file header, metadata (strings, locations,
//! threads) and the end record. They are rare and structured, so they favour clarity over size.

use serde::{Deserialize, Serialize};

/// How trace time units relate to real time. Event times are in units; a unit is a raw clock
/// tick (TSC or equivalent), possibly divided by a power of two by the recorder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockInfo {
    /// Where the ticks come from: `"tsc"` (x86 time-stamp counter), `"cntvct"` (Arm generic
    /// timer), `"monotonic"` (OS monotonic clock in nanoseconds), or a name for tests.
    pub source: String,
    /// Nanoseconds per time unit, as a 32.32 fixed-point number.
    pub nanos_per_unit_q32: u64,
}

impl ClockInfo {
    /// A clock whose units are nanoseconds.
    pub fn nanoseconds() -> Self {
        ClockInfo {
            source: "monotonic".into(),
            nanos_per_unit_q32: 1 << 32,
        }
    }

    /// Converts a duration in units to nanoseconds (saturating).
    ///
    /// ```
    /// let clock = trace_format::ClockInfo { source: "tsc".into(), nanos_per_unit_q32: 3 << 31 };
    /// assert_eq!(clock.units_to_nanos(1000), 1500);
    /// ```
    #[inline]
    pub fn units_to_nanos(&self, units: u64) -> u64 {
        let ns = (u128::from(units) * u128::from(self.nanos_per_unit_q32)) >> 32;
        u64::try_from(ns).unwrap_or(u64::MAX)
    }
}

/// The first record of every trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Calibration of event times.
    pub clock: ClockInfo,
    /// Time (in units) that the trace starts at; reported times are relative to it.
    pub start_time: u64,
    /// Wall-clock time at `start_time`, in nanoseconds since the Unix epoch.
    pub wall_clock_unix_nanos: u64,
    /// Name and version of the program that wrote the trace, e.g. `"trace-rt 0.1.0"`.
    pub recorder: String,
    /// Process id of the traced process.
    pub process_id: u32,
    /// Name of the traced process (its executable name).
    pub process_name: String,
    /// Capacity in bytes of the recorder's event chunks.
    pub chunk_capacity: u32,
    /// What the recorder could see, as `(key, value)` pairs, e.g. `("tokio_unstable", "true")`.
    /// Readers show these; unknown keys are fine.
    pub features: Vec<(String, String)>,
}

impl Header {
    /// Looks up a feature value.
    pub fn feature(&self, key: &str) -> Option<&str> {
        self.features
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// An interned string: [`crate::StringId`] `id` stands for `text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StringDef {
    /// The id used by events (never 0).
    pub id: u32,
    /// The text.
    pub text: String,
}

/// A source location: [`crate::LocationId`] `id` stands for `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationDef {
    /// The id used by events (never 0).
    pub id: u32,
    /// Source file path as the compiler saw it.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// A thread that wrote events: the `thread` of event chunks, with its OS name and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadDef {
    /// Trace-local thread id.
    pub thread: u32,
    /// The thread's name (`std::thread::Thread::name`), or empty.
    pub name: String,
    /// The OS thread id, or 0 when unknown.
    pub os_id: u64,
}

/// A metadata record. A reader skips (with a warning) a record kind it does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Meta {
    /// String definitions.
    Strings(Vec<StringDef>),
    /// Location definitions.
    Locations(Vec<LocationDef>),
    /// A thread description.
    Thread(ThreadDef),
}

/// The last record of a trace that was finished properly. Its absence means the file was cut.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct End {
    /// Time (in units) the recording stopped.
    pub end_time: u64,
    /// Events written to the file.
    pub events: u64,
    /// Event chunks written to the file.
    pub chunks: u64,
    /// Chunks dropped because the writer fell behind.
    pub lost_chunks: u64,
    /// Events in the dropped chunks.
    pub lost_events: u64,
}
