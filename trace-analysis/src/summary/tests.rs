//! Tests of the summary: counts, thread roles, the JSON shape, status, lost data, and cut or
//! damaged files that must summarize without panicking.

use super::*;
use trace_format::build::TraceBuilder;
use trace_format::{
    ClockInfo, End, Event, EventChunkHeader, PauseScope, StringId, TaskId, TaskKind, ThreadKind,
    Trace, TraceWriter, WakeSource,
};

fn summarize(bytes: Vec<u8>) -> TraceSummary {
    let size = bytes.len() as u64;
    let trace = Trace::from_bytes(bytes).unwrap();
    TraceSummary::from_trace(
        &trace,
        FileInfo {
            path: None,
            size_bytes: size,
            valid_bytes: 0,
        },
    )
}

fn two_threads() -> TraceBuilder {
    let mut b = TraceBuilder::new();
    b.header.wall_clock_unix_nanos = 1_700_000_000_000_000_000;
    b.header.process_name = "svc".into();
    b.header.process_id = 42;
    b.header.features = vec![
        ("tokio_unstable".into(), "true".into()),
        ("tokio_unstable".into(), "ignored duplicate".into()),
    ];
    b.thread(1, "worker-0").thread(2, "blocking-0");
    b.push(
        1,
        1_000,
        Event::ThreadStart {
            kind: ThreadKind::Worker,
            index: 0,
        },
    );
    b.push(
        1,
        1_100,
        Event::TaskSpawn {
            task: TaskId(1),
            kind: TaskKind::Async,
            tokio_id: 1,
            parent: TaskId::NONE,
            location: Default::default(),
            name: StringId::NONE,
        },
    );
    b.push(1, 1_200, Event::PollStart { task: TaskId(1) });
    b.push(1, 1_300, Event::PollEnd { ready: false });
    b.push(
        2,
        500,
        Event::ThreadStart {
            kind: ThreadKind::Blocking,
            index: 3,
        },
    );
    b.push(
        2,
        2_000,
        Event::Wake {
            task: TaskId(1),
            waker: TaskId::NONE,
            source: WakeSource::Blocking,
        },
    );
    b.push(
        1,
        2_500,
        Event::PauseBegin {
            kind: StringId::NONE,
            scope: PauseScope::Process,
        },
    );
    b
}

#[test]
fn counts_times_threads_and_kinds() {
    let s = summarize(two_threads().to_bytes());
    assert_eq!(s.events, 7);
    assert_eq!(s.chunks, 2);
    assert_eq!(s.first_event_ns, Some(500));
    assert_eq!(s.last_event_ns, Some(2_500));
    assert_eq!(s.duration_ns, 2_000);
    assert_eq!(s.events_by_kind["thread_start"], 2);
    assert_eq!(s.events_by_kind["poll_start"], 1);
    assert_eq!(s.events_by_kind["wake"], 1);
    assert!(!s.events_by_kind.contains_key("lost"));
    assert_eq!(s.threads.len(), 2);
    assert_eq!(s.threads[0].name, "worker-0");
    assert_eq!(s.threads[0].role(), "worker 0");
    assert_eq!(s.threads[0].events, 5);
    assert_eq!(s.threads[1].role(), "blocking 3");
    assert_eq!(s.threads[1].events, 2);
    assert_eq!(s.process.name, "svc");
    assert_eq!(
        s.wall_clock_start.as_deref(),
        Some("2023-11-14T22:13:20.000000000Z")
    );
    assert!(s.complete, "{:?}", s.warnings);
    assert!(!s.lost.any());
    assert_eq!(s.end_record.as_ref().unwrap().events, 7);
    assert!(s.bytes_per_event.unwrap() > 1.0);
}

/// A runtime built while recording: tokio starts each worker as a blocking-pool thread
/// (its `thread_start` says blocking) and the worker declares itself on its first poll.
/// The thread table and the model's thread lanes both call it a worker.
#[test]
fn a_worker_started_as_a_blocking_thread_is_a_worker() {
    let mut b = TraceBuilder::new();
    b.thread(1, "tokio-runtime-worker");
    for (t, kind, index) in [(100, ThreadKind::Blocking, 0), (200, ThreadKind::Worker, 1)] {
        b.push(1, t, Event::ThreadStart { kind, index });
    }
    b.push(1, 300, Event::WorkerPark);
    let bytes = b.to_bytes();
    let s = summarize(bytes.clone());
    assert_eq!(s.threads[0].role(), "worker 1");
    let trace = Trace::from_bytes(bytes).unwrap();
    let model = crate::model::Model::build(&trace).unwrap();
    assert_eq!(model.threads[0].label(), "worker 1 (tokio-runtime-worker)");
}

#[test]
fn json_uses_the_documented_shape() {
    let s = summarize(two_threads().to_bytes());
    let v: serde_json::Value = serde_json::to_value(&s).unwrap();
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["features"]["tokio_unstable"], "true");
    assert_eq!(v["events_by_kind"]["pause_begin"], 1);
    assert_eq!(v["threads"][1]["kind"], "blocking");
    assert_eq!(v["lost"]["from_lost_events"]["records"], 0);
    assert_eq!(v["clock"]["nanos_per_unit"], 1.0);
    assert!(v["error"].is_null());
    assert_eq!(v["status"], "complete");
    assert_eq!(v["lost"]["tail_unknown"], false);
    assert_eq!(v["complete"], true);
}

#[test]
fn status_orders_corrupt_cut_incomplete_complete() {
    let warning = |benign| WarningInfo {
        kind: "unknown_frame",
        message: String::new(),
        benign,
    };
    assert_eq!(TraceSummary::status_of(true, true, &[]), "corrupt");
    assert_eq!(TraceSummary::status_of(true, false, &[]), "corrupt");
    assert_eq!(TraceSummary::status_of(false, false, &[]), "cut");
    assert_eq!(
        TraceSummary::status_of(false, true, &[warning(false)]),
        "incomplete"
    );
    assert_eq!(
        TraceSummary::status_of(false, true, &[warning(true)]),
        "complete"
    );
    assert_eq!(TraceSummary::status_of(false, true, &[]), "complete");

    let s = summarize(two_threads().write(false));
    assert_eq!(s.status, "cut");
    assert!(s.lost.tail_unknown && !s.complete);
}

#[test]
fn empty_trace_has_no_times() {
    let s = summarize(TraceBuilder::new().to_bytes());
    assert_eq!(s.events, 0);
    assert_eq!(s.first_event_ns, None);
    assert_eq!(s.duration_ns, 0);
    assert_eq!(s.bytes_per_event, None);
    assert_eq!(s.wall_clock_start, None);
    assert!(s.complete);
}

#[test]
fn lost_events_are_summed_and_warned_about() {
    let mut b = two_threads();
    b.push(
        1,
        3_000,
        Event::Lost {
            chunks: 2,
            events: 300,
        },
    );
    b.push(
        2,
        3_000,
        Event::Lost {
            chunks: 1,
            events: 50,
        },
    );
    let s = summarize(b.to_bytes());
    assert_eq!(s.lost.from_lost_events.records, 2);
    assert_eq!(s.lost.chunks, 3);
    assert_eq!(s.lost.events, 350);
    assert_eq!(s.threads[0].lost_events, 300);
    assert_eq!(s.events_by_kind["lost"], 2);
    assert!(s.warnings.iter().any(|w| w.kind == "lost_data"));
    assert!(!s.complete);
}

/// A hand-written trace whose end record reports drops and whose thread skips a sequence
/// number, as a recorder that fell behind writes it.
#[test]
fn end_record_and_missing_chunks_count_as_lost() {
    let header = trace_format::Header {
        clock: ClockInfo::nanoseconds(),
        start_time: 0,
        wall_clock_unix_nanos: 0,
        recorder: "test".into(),
        process_id: 1,
        process_name: "test".into(),
        chunk_capacity: 1024,
        features: vec![],
    };
    let mut w = TraceWriter::new(Vec::new(), &header).unwrap();
    for seq in [0, 3] {
        let chunk = EventChunkHeader {
            thread: 7,
            seq,
            base_time: 10,
            end_time: 10,
            event_count: 0,
        };
        w.write_events(&chunk, &[]).unwrap();
    }
    let bytes = w
        .finish(&End {
            end_time: 10,
            events: 0,
            chunks: 2,
            lost_chunks: 2,
            lost_events: 90,
        })
        .unwrap();
    let s = summarize(bytes);
    assert_eq!(s.lost.missing_chunks, 2);
    assert_eq!(s.threads[0].missing_chunks, 2);
    assert_eq!(
        s.lost.from_end_record,
        Some(LostCount {
            chunks: 2,
            events: 90
        })
    );
    assert_eq!((s.lost.chunks, s.lost.events), (2, 90));
    let kinds: Vec<_> = s.warnings.iter().map(|w| w.kind).collect();
    assert_eq!(kinds, ["missing_chunks", "lost_data"]);
}

#[test]
fn cut_traces_summarize_without_panicking() {
    let mut b = two_threads();
    b.chunk_capacity = 16;
    let bytes = b.to_bytes();
    for len in 0..bytes.len() {
        if let Ok(trace) = Trace::from_bytes(bytes[..len].to_vec()) {
            let s = TraceSummary::from_trace(&trace, FileInfo::default());
            assert!(s.events <= 7);
            if len < bytes.len() {
                assert!(!s.complete, "cut at {len} looks complete");
            }
        }
    }
}

#[test]
fn garbage_never_panics() {
    // A small deterministic xorshift stream: random bytes after a valid preamble, and
    // single-byte damage anywhere in a valid trace.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let valid = two_threads().to_bytes();
    for _ in 0..300 {
        let mut bytes = valid.clone();
        let i = next() as usize % bytes.len();
        bytes[i] = next() as u8;
        if let Ok(trace) = Trace::from_bytes(bytes) {
            let _ = TraceSummary::from_trace(&trace, FileInfo::default());
        }
        let mut junk = valid[..12].to_vec();
        junk.extend((0..next() % 200).map(|_| next() as u8));
        if let Ok(trace) = Trace::from_bytes(junk) {
            let _ = TraceSummary::from_trace(&trace, FileInfo::default());
        }
    }
}
