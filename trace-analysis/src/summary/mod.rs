//! The whole-trace summary: who recorded it, how long it spans, which threads wrote how many
//! events of which kinds, how much data was lost and what the reader warned about.
//!
//! [`Summary::from_trace`] computes it in one pass over every thread's events. It is the data
//! behind `trace-viewer report` (text and `--json`) and `trace-viewer check`, and the
//! overview the window will show. Its serialized form is the report's JSON schema, so fields
//! are only ever added (with [`SCHEMA_VERSION`] unchanged), never renamed or removed.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};
use trace_format::{Event, EventKind, ReadError, ThreadKind, Trace, Warning};

use crate::units::format_rfc3339_utc;

/// Version of the JSON schema of [`Summary`]. Bumped only for incompatible changes; adding
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
/// | `warnings[]` | array | `{kind, message, benign}`; `kind` is one of `truncated`, `no_end_record`, `unknown_frame`, `unreadable_meta`, `missing_chunks`, `lost_data`; `benign` is true for frames of unknown kinds (extensions the format lets readers skip), which do not make a trace incomplete |
/// | `error` | string or null | the error that stopped reading (a corrupt chunk); the rest of the summary covers what was read before it |
/// | `status` | string | `"complete"` (valid, nothing lost), `"incomplete"` (valid and finished, but data was lost or a record skipped: see `warnings`), `"cut"` (no end record: the recording did not finish, e.g. a crash, a kill or a full disk; see `lost.tail_unknown`) or `"corrupt"` (`error` is set) |
/// | `complete` | boolean | `status == "complete"`: no error and no warning other than benign ones |
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
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
    /// `"complete"`, `"incomplete"`, `"cut"` or `"corrupt"`; see [`Summary::status_of`].
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
    /// Bytes of whole frames ([`Trace::valid_len`]).
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
    /// `truncated`, `no_end_record`, `unknown_frame`, `unreadable_meta`, `missing_chunks` or
    /// `lost_data`.
    pub kind: &'static str,
    /// What happened, in words.
    pub message: String,
    /// Nothing the recording wrote is missing (frames of unknown kinds, skipped as the format
    /// allows): the trace is still complete.
    pub benign: bool,
}

impl WarningInfo {
    /// Describes a reader warning.
    pub fn from_warning(w: &Warning) -> Self {
        let kind = match w {
            Warning::Truncated { .. } => "truncated",
            Warning::NoEndRecord => "no_end_record",
            Warning::UnknownFrames { .. } => "unknown_frame",
            Warning::UnreadableMeta { .. } => "unreadable_meta",
            Warning::MissingChunks { .. } => "missing_chunks",
            Warning::LostData { .. } => "lost_data",
        };
        WarningInfo {
            kind,
            message: w.to_string(),
            benign: w.is_benign(),
        }
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

/// Number of event kinds; see [`kind_slot`].
const KINDS: usize = EventKind::COUNT;

/// A dense index per event kind, so counting needs no hashing; it comes from trace-format's
/// event spec table, so every kind has one.
fn kind_slot(e: &Event<'_>) -> usize {
    e.kind().index()
}

fn thread_kind_name(kind: ThreadKind) -> &'static str {
    match kind {
        ThreadKind::Worker => "worker",
        ThreadKind::Blocking => "blocking",
        ThreadKind::Other => "other",
    }
}

impl Summary {
    /// Summarizes `trace`, decoding every event once. `file` describes where it came from
    /// (its `valid_bytes` is taken from the trace). A chunk that fails to decode does not stop
    /// the summary: its thread's remaining events are skipped, the first such error is kept in
    /// [`Summary::error`], and the other threads are still counted.
    pub fn from_trace(trace: &Trace, file: FileInfo) -> Summary {
        let header = trace.header();
        let mut kind_counts = [0u64; KINDS];
        let mut kind_names = [""; KINDS];
        let mut first: Option<u64> = None;
        let mut last: Option<u64> = None;
        let mut error: Option<ReadError> = None;
        let mut lost_events = LostEvents::default();

        let mut chunks_per_thread: BTreeMap<u32, u64> = BTreeMap::new();
        for c in trace.chunks() {
            *chunks_per_thread.entry(c.header.thread).or_default() += 1;
        }
        let mut missing_per_thread: BTreeMap<u32, u64> = BTreeMap::new();
        for w in trace.warnings() {
            if let Warning::MissingChunks { thread, missing } = w {
                *missing_per_thread.entry(*thread).or_default() += missing;
            }
        }

        // Every thread that wrote chunks or was described, in id order.
        let mut ids: Vec<u32> = trace.thread_ids().collect();
        ids.extend(trace.threads().keys().copied());
        ids.sort_unstable();
        ids.dedup();

        let mut threads = Vec::with_capacity(ids.len());
        for id in ids {
            let def = trace.threads().get(&id);
            let mut t = ThreadSummary {
                id,
                name: def.map(|d| d.name.clone()).unwrap_or_default(),
                os_id: def.map_or(0, |d| d.os_id),
                kind: None,
                index: None,
                chunks: chunks_per_thread.get(&id).copied().unwrap_or(0),
                events: 0,
                lost_chunks: 0,
                lost_events: 0,
                missing_chunks: missing_per_thread.get(&id).copied().unwrap_or(0),
            };
            for record in trace.thread_events(id) {
                let record = match record {
                    Ok(r) => r,
                    Err(e) => {
                        error.get_or_insert(e);
                        break;
                    }
                };
                let time = trace.to_nanos(record.time);
                first = Some(first.map_or(time, |f| f.min(time)));
                last = Some(last.map_or(time, |l| l.max(time)));
                t.events += 1;
                let slot = kind_slot(&record.event);
                kind_counts[slot] += 1;
                kind_names[slot] = record.event.kind_name();
                match record.event {
                    Event::ThreadStart { kind, index }
                        if t.kind.is_none() || kind == ThreadKind::Worker =>
                    {
                        t.kind = Some(thread_kind_name(kind));
                        t.index = Some(index);
                    }
                    Event::Lost { chunks, events } => {
                        t.lost_chunks = t.lost_chunks.saturating_add(chunks);
                        t.lost_events = t.lost_events.saturating_add(events);
                        lost_events.records += 1;
                        lost_events.chunks = lost_events.chunks.saturating_add(chunks);
                        lost_events.events = lost_events.events.saturating_add(events);
                    }
                    _ => {}
                }
            }
            threads.push(t);
        }

        let events: u64 = threads.iter().map(|t| t.events).sum();
        let events_by_kind = kind_counts
            .iter()
            .zip(kind_names)
            .filter(|(n, _)| **n > 0)
            .map(|(n, name)| (name, *n))
            .collect();

        let end = trace.end();
        let from_end_record = end.map(|e| LostCount {
            chunks: e.lost_chunks,
            events: e.lost_events,
        });
        let missing_chunks = missing_per_thread.values().sum::<u64>();
        let lost = LostSummary {
            chunks: lost_events
                .chunks
                .max(from_end_record.as_ref().map_or(0, |l| l.chunks))
                .max(missing_chunks),
            events: lost_events
                .events
                .max(from_end_record.as_ref().map_or(0, |l| l.events)),
            from_lost_events: lost_events.clone(),
            from_end_record,
            missing_chunks,
            tail_unknown: end.is_none(),
        };

        let mut warnings: Vec<WarningInfo> = trace
            .warnings()
            .iter()
            .map(WarningInfo::from_warning)
            .collect();
        // The reader only warns about drops the end record reports; drops reported by `lost`
        // events alone (a cut file, or an end record that does not count them) are warned
        // about here.
        let reader_warned = trace
            .warnings()
            .iter()
            .any(|w| matches!(w, Warning::LostData { .. }));
        if !reader_warned && (lost_events.chunks > 0 || lost_events.events > 0) {
            warnings.push(WarningInfo {
                kind: "lost_data",
                message: format!(
                    "the recorder dropped {} chunk(s) with {} event(s) before they reached \
                     the file (reported by {} lost event(s))",
                    lost_events.chunks, lost_events.events, lost_events.records
                ),
                benign: false,
            });
        }

        let size_bytes = file.size_bytes;
        let wall = (header.wall_clock_unix_nanos != 0).then_some(header.wall_clock_unix_nanos);
        let error = error.map(|e| e.to_string());
        let status = Self::status_of(error.is_some(), end.is_some(), &warnings);
        Summary {
            schema_version: SCHEMA_VERSION,
            file: FileInfo {
                valid_bytes: trace.valid_len(),
                ..file
            },
            recorder: header.recorder.clone(),
            process: ProcessInfo {
                name: header.process_name.clone(),
                pid: header.process_id,
            },
            wall_clock_start: wall.map(|w| format_rfc3339_utc(w, 9)),
            wall_clock_start_unix_nanos: wall,
            clock: ClockSummary {
                source: header.clock.source.clone(),
                nanos_per_unit: header.clock.nanos_per_unit_q32 as f64 / (1u64 << 32) as f64,
            },
            features: header.features.clone(),
            first_event_ns: first,
            last_event_ns: last,
            duration_ns: match (first, last) {
                (Some(f), Some(l)) => l - f,
                _ => 0,
            },
            chunks: trace.chunks().len() as u64,
            events,
            events_by_kind,
            bytes_per_event: (events > 0).then(|| size_bytes as f64 / events as f64),
            threads,
            lost,
            end_record: end.map(|e| EndSummary {
                end_time_ns: trace.to_nanos(e.end_time),
                events: e.events,
                chunks: e.chunks,
                lost_chunks: e.lost_chunks,
                lost_events: e.lost_events,
            }),
            warnings,
            error,
            status,
            complete: status == "complete",
        }
    }

    /// The overall status: `"corrupt"` with an error; else `"cut"` without an end record (the
    /// recording did not finish: what came after its last event is unknown); else
    /// `"incomplete"` with any warning that is not benign; else `"complete"`.
    pub fn status_of(error: bool, end_record: bool, warnings: &[WarningInfo]) -> &'static str {
        if error {
            "corrupt"
        } else if !end_record {
            "cut"
        } else if warnings.iter().any(|w| !w.benign) {
            "incomplete"
        } else {
            "complete"
        }
    }

    /// Records the error that stopped reading (keeping an earlier one) and marks the summary
    /// incomplete.
    pub fn set_error(&mut self, error: impl ToString) {
        if self.error.is_none() {
            self.error = Some(error.to_string());
        }
        self.status = "corrupt";
        self.complete = false;
    }

    /// Records that this summary covers only the readable prefix of a damaged file (see
    /// [`crate::open::open_salvaging`]): sets the error and drops the `no_end_record`
    /// warning, which only says that the end of the file was not read, as the error already
    /// does.
    pub fn set_salvaged(&mut self, error: impl ToString) {
        self.set_error(error);
        self.warnings.retain(|w| w.kind != "no_end_record");
    }

    /// Number of threads that wrote at least one chunk.
    pub fn threads_with_events(&self) -> usize {
        self.threads.iter().filter(|t| t.chunks > 0).count()
    }
}

#[cfg(test)]
mod tests;
