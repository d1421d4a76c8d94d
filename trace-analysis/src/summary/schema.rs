//! The summary's data: [`TraceSummary`] and the records it is made of, with their accessors. Their
//! serialized form is the JSON schema of `trace-viewer report --json` ([`SCHEMA_VERSION`],
//! documented on [`TraceSummary`]), so fields are only ever added, never renamed or removed.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

/// Version of the JSON schema of [`TraceSummary`]. Bumped only for incompatible changes; adding
/// fields does not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// Everything `trace-viewer report` says about a trace.
///
/// # JSON schema (version 1)
///
/// `report --json` prints this struct as one JSON object. Times are nanoseconds since the
/// trace's start (`Header::start_time`) unless named otherwise; counts are integers.
///
/// | field | type | meaning |
/// |---|---|---|
/// | `schema_version` | integer | `1`; bumped only for incompatible changes, new fields may appear at any time |
/// | `file.path` | string or null | the path as given on the command line |
/// | `file.size_bytes` | integer | file size on disk |
/// | `file.valid_bytes` | integer | bytes of whole, readable frames (less than `size_bytes` when the file is cut or damaged) |
/// | `recorder` | string | program that wrote the trace, e.g. `"trace-rt 0.1.0"` |
/// | `process.name`, `process.pid` | string, integer | the traced process |
/// | `wall_clock_start` | string or null | wall-clock time of the trace start, RFC 3339 UTC with nanoseconds; null when the recorder did not set it (0) |
/// | `wall_clock_start_unix_nanos` | integer or null | the same instant in nanoseconds since the Unix epoch |
/// | `clock.source` | string | tick source: `"tsc"`, `"cntvct"`, `"monotonic"`, … |
/// | `clock.nanos_per_unit` | number | nanoseconds per trace time unit |
/// | `features` | object string → string | what the recorder could see, e.g. `{"tokio_unstable": "true"}` |
/// | `first_event_ns`, `last_event_ns` | integer or null | time of the first and last event; null without events |
/// | `duration_ns` | integer | `last_event_ns - first_event_ns`, 0 without events |
/// | `chunks` | integer | event chunks in the file |
/// | `events` | integer | events decoded |
/// | `events_by_kind` | object string → integer | events per kind (`Event::kind_name`: `"poll_start"`, `"wake"`, …); kinds that do not occur are absent |
/// | `bytes_per_event` | number or null | `file.size_bytes / events`; null without events |
/// | `threads[]` | array | one entry per thread, by id: `id`, `name` (may be empty), `os_id` (0 if unknown), `kind` (`"worker"`, `"blocking"`, `"other"` or null when the thread recorded no `thread_start`), `index` (worker index or per-kind counter, or null), `chunks`, `events`, `lost_chunks`, `lost_events` (from its `lost` events), `missing_chunks` (gaps in its chunk sequence) |
/// | `lost.chunks`, `lost.events` | integer | best estimate of the data the recorder dropped: the largest of the sources below (they count the same drops from different sides, so they are not added); with `lost.tail_unknown` only a lower bound |
/// | `lost.tail_unknown` | boolean | true when the file does not say what happened after its data ends (no end record: the recording was cut, or the rest of the file is damaged): whatever was dropped or written after the last event read is unknown and not in the counts |
/// | `lost.from_lost_events` | object | `records` (number of `lost` events), `chunks`, `events` (their sums) |
/// | `lost.from_end_record` | object or null | `chunks`, `events` as counted by the end record; null without one |
/// | `lost.missing_chunks` | integer | chunk sequence numbers missing from the file, all threads |
/// | `end_record` | object or null | `end_time_ns`, `events`, `chunks`, `lost_chunks`, `lost_events`; null when the recording did not finish |
/// | `warnings[]` | array | `{kind, message, benign}`; `kind` is one of `truncated`, `no_end_record`, `unknown_frame`, `unreadable_meta`, `bad_code`, `missing_chunks`, `lost_data`; `benign` is true for frames of unknown kinds (extensions the format lets readers skip), which do not make a trace incomplete |
/// | `error` | string or null | the error that stopped reading (a corrupt chunk); the rest of the summary covers what was read before it |
/// | `status` | string | `"complete"` (valid, nothing lost), `"incomplete"` (valid and finished, but data was lost or a record skipped: see `warnings`), `"cut"` (no end record: the recording did not finish, e.g. a crash, a kill or a full disk; see `lost.tail_unknown`) or `"corrupt"` (`error` is set) |
/// | `complete` | boolean | `status == "complete"`: no error and no warning other than benign ones |
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TraceSummary {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The file the trace came from.
    pub file: FileInfo,
    /// Program that wrote the trace.
    pub recorder: String,
    /// The traced process.
    pub process: ProcessInfo,
    /// Wall-clock start as RFC 3339 UTC (nanosecond precision); `None` when unknown.
    pub wall_clock_start: Option<String>,
    /// Wall-clock start in nanoseconds since the Unix epoch; `None` when unknown.
    pub wall_clock_start_unix_nanos: Option<u64>,
    /// The trace clock.
    pub clock: ClockSummary,
    /// Header features, in file order (the first of duplicate keys wins).
    #[serde(serialize_with = "pairs_as_map")]
    pub features: Vec<(String, String)>,
    /// Time of the first event, in ns since the trace start.
    pub first_event_ns: Option<u64>,
    /// Time of the last event, in ns since the trace start.
    pub last_event_ns: Option<u64>,
    /// Last minus first event time, in ns.
    pub duration_ns: u64,
    /// Event chunks in the file.
    pub chunks: u64,
    /// Events decoded.
    pub events: u64,
    /// Events per kind name.
    pub events_by_kind: BTreeMap<&'static str, u64>,
    /// File size divided by events.
    pub bytes_per_event: Option<f64>,
    /// Threads, by id.
    pub threads: Vec<ThreadSummary>,
    /// Data the recorder dropped.
    pub lost: LostSummary,
    /// The end record, if the recording finished.
    pub end_record: Option<EndSummary>,
    /// What the reader noticed.
    pub warnings: Vec<WarningInfo>,
    /// The error that stopped reading, if any.
    pub error: Option<String>,
    /// `"complete"`, `"incomplete"`, `"cut"` or `"corrupt"`; see [`TraceSummary::status_of`].
    pub status: &'static str,
    /// No error and no warning other than benign ones.
    pub complete: bool,
}

/// Where the trace came from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct FileInfo {
    /// The path as given by the user, if the trace came from a file.
    pub path: Option<String>,
    /// Size on disk in bytes.
    pub size_bytes: u64,
    /// Bytes of whole frames ([`Trace::valid_len`](trace_format::Trace::valid_len)).
    pub valid_bytes: u64,
}

/// The traced process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessInfo {
    /// Executable name.
    pub name: String,
    /// Process id.
    pub pid: u32,
}

/// The trace clock.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClockSummary {
    /// Tick source name.
    pub source: String,
    /// Nanoseconds per time unit.
    pub nanos_per_unit: f64,
}

/// One thread that wrote events (or was described by metadata).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ThreadSummary {
    /// Trace-local thread id.
    pub id: u32,
    /// Thread name from metadata, or empty.
    pub name: String,
    /// OS thread id, or 0 when unknown.
    pub os_id: u64,
    /// Role from the thread's `thread_start` events: `"worker"`, `"blocking"`, `"other"`. A
    /// worker declaration wins over an earlier one (tokio starts its workers as blocking-pool
    /// threads, so a worker's first `thread_start` says "blocking"); the model does the same.
    pub kind: Option<&'static str>,
    /// Worker index (or per-kind counter) from that event.
    pub index: Option<u32>,
    /// Event chunks it wrote.
    pub chunks: u64,
    /// Events decoded from them.
    pub events: u64,
    /// Chunks dropped, summed from its `lost` events.
    pub lost_chunks: u64,
    /// Events dropped, summed from its `lost` events.
    pub lost_events: u64,
    /// Gaps in its chunk sequence numbers.
    pub missing_chunks: u64,
}

impl ThreadSummary {
    /// `"worker 0"`, `"blocking 3"`, or `""` when the role is unknown.
    pub fn role(&self) -> String {
        match (self.kind, self.index) {
            (Some(kind), Some(index)) => format!("{kind} {index}"),
            (Some(kind), None) => kind.to_string(),
            _ => String::new(),
        }
    }
}

/// Data the recorder dropped, from every place a trace records it.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct LostSummary {
    /// Best estimate of chunks dropped: the largest of the sources.
    pub chunks: u64,
    /// Best estimate of events dropped: the largest of the sources.
    pub events: u64,
    /// Sums of the `lost` events.
    pub from_lost_events: LostEvents,
    /// What the end record says, if there is one.
    pub from_end_record: Option<LostCount>,
    /// Chunk sequence numbers missing from the file, over all threads.
    pub missing_chunks: u64,
    /// The file does not say what happened after its data ends (no end record): drops after
    /// the last event read are unknown, and the counts above are a lower bound.
    pub tail_unknown: bool,
}

impl LostSummary {
    /// Whether any source reports lost data.
    pub fn any(&self) -> bool {
        self.chunks > 0 || self.events > 0
    }
}

/// Sums of `Event::Lost` events.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct LostEvents {
    /// Number of `lost` events.
    pub records: u64,
    /// Chunks they report dropped.
    pub chunks: u64,
    /// Events they report dropped.
    pub events: u64,
}

/// A count of dropped chunks and events.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct LostCount {
    /// Chunks dropped.
    pub chunks: u64,
    /// Events in them.
    pub events: u64,
}

/// The end record of a finished recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndSummary {
    /// When the recording stopped, in ns since the trace start.
    pub end_time_ns: u64,
    /// Events the recorder wrote.
    pub events: u64,
    /// Chunks the recorder wrote.
    pub chunks: u64,
    /// Chunks it dropped.
    pub lost_chunks: u64,
    /// Events in them.
    pub lost_events: u64,
}

/// A reader warning with a stable kind for programs and a sentence for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WarningInfo {
    /// `truncated`, `no_end_record`, `unknown_frame`, `unreadable_meta`, `bad_code`, `missing_chunks` or
    /// `lost_data`.
    pub kind: &'static str,
    /// What happened, in words.
    pub message: String,
    /// Nothing the recording wrote is missing (frames of unknown kinds, skipped as the format
    /// allows): the trace is still complete.
    pub benign: bool,
}

impl TraceSummary {
    /// Number of threads that wrote at least one chunk.
    pub fn threads_with_events(&self) -> usize {
        self.threads.iter().filter(|t| t.chunks > 0).count()
    }
}

/// Serializes `(key, value)` pairs as a JSON object, keeping the first of duplicate keys.
fn pairs_as_map<S: Serializer>(pairs: &[(String, String)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = s.serialize_map(None)?;
    for (i, (k, v)) in pairs.iter().enumerate() {
        if !pairs[..i].iter().any(|(earlier, _)| earlier == k) {
            map.serialize_entry(k, v)?;
        }
    }
    map.end()
}
