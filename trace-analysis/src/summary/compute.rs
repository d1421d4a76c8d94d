//! [`TraceSummary::from_trace`]: one pass over every thread's events that counts them by thread and
//! kind, finds the first and last event times, reads each thread's role and sums the data lost
//! as every source reports it.

use std::collections::BTreeMap;

use trace_format::{Event, EventKind, ReadError, ThreadKind, Trace, Warning};

use super::schema::{
    ClockSummary, EndSummary, FileInfo, LostCount, LostEvents, LostSummary, ProcessInfo,
    SCHEMA_VERSION, ThreadSummary, TraceSummary,
};
use super::status::warnings_of;
use crate::units::format_rfc3339_utc;

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

impl TraceSummary {
    /// Summarizes `trace`, decoding every event once. `file` describes where it came from
    /// (its `valid_bytes` is taken from the trace). A chunk that fails to decode does not stop
    /// the summary: its thread's remaining events are skipped, the first such error is kept in
    /// [`TraceSummary::error`], and the other threads are still counted.
    pub fn from_trace(trace: &Trace, file: FileInfo) -> TraceSummary {
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

        let warnings = warnings_of(trace, &lost_events);

        let size_bytes = file.size_bytes;
        let wall = (header.wall_clock_unix_nanos != 0).then_some(header.wall_clock_unix_nanos);
        let error = error.map(|e| e.to_string());
        let status = Self::status_of(error.is_some(), end.is_some(), &warnings);
        TraceSummary {
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
}
