//! Model tests that need many chunks, query functions or load options. What the model makes
//! of hand-made traces (tasks, polls cut at a loss or the end, wakes by task, pauses, regions,
//! logs, counters, schedule latencies, parks) is in golden files:
//! `tests/testdata/model_*.txt`, run by `tests/golden.rs`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use trace_format::{Trace, text};

use super::*;

/// The trace that `lines` (the text form) describe, with an end record.
fn trace(lines: &str) -> Trace {
    let bytes = text::undump(&format!("{lines}end\n")).unwrap_or_else(|e| panic!("{e}"));
    Trace::from_bytes(bytes).unwrap()
}

/// Text lines of a pending poll of `task` on `thread` from `start` to `end`.
fn poll_lines(out: &mut String, thread: u32, task: u64, start: u64, end: u64) {
    let _ = writeln!(out, "{thread} {start} poll_start task={task}");
    let _ = writeln!(out, "{thread} {end} poll_end");
}

#[test]
fn polls_split_across_chunks_are_paired() {
    // A new chunk every three events, so polls start in one chunk and end in the next.
    let mut lines = String::from("1 0 thread_start kind=worker index=0\n");
    for i in 0..50u64 {
        if i % 3 == 0 {
            lines.push_str("chunk thread=1\n");
        }
        poll_lines(&mut lines, 1, 1 + i % 3, 10 + i * 100, 60 + i * 100);
    }
    let trace = trace(&lines);
    assert!(trace.chunks().len() > 10, "the test needs many chunks");
    let m = Model::build(&trace).unwrap();
    assert_eq!(m.polls.len(), 50);
    assert!(m.polls.iter().all(|p| p.span().len() == 50 && !p.cut()));
    assert_eq!(m.anomalies, Anomalies::default());
    assert_eq!(m.tasks.len(), 3);
    for t in (0..3).map(TaskIx) {
        let polls: Vec<_> = m.task_polls(t).collect();
        assert!(polls.windows(2).all(|w| w[0].start < w[1].start));
        assert!(
            polls
                .iter()
                .all(|p| p.task == t && p.thread() == ThreadIx(0))
        );
    }
    assert_eq!(m.threads[0].label(), "worker 0");
    assert!(m.threads[0].is_worker());
}

#[test]
fn visible_polls_are_found_by_time_even_when_nested() {
    let mut lines = String::new();
    for i in 0..100u64 {
        poll_lines(&mut lines, 1, 1, i * 10, i * 10 + 5);
    }
    // A long outer poll with a nested one inside (block_in_place + block_on).
    lines.push_str("1 2000 poll_start task=2\n");
    poll_lines(&mut lines, 1, 3, 2100, 2200);
    lines.push_str("1 5000 poll_end\n");
    poll_lines(&mut lines, 1, 1, 6000, 6005);
    let m = Model::build(&trace(&lines)).unwrap();
    let starts = |t0, t1| -> Vec<u64> {
        m.thread_polls_in(ThreadIx(0), t0, t1)
            .iter()
            .map(|p| p.start)
            .collect()
    };
    assert_eq!(starts(12, 31), vec![10, 20, 30]);
    assert_eq!(starts(15, 20), Vec::<u64>::new());
    // Inside the outer poll, after the nested one ended: the outer one is found (and the
    // nested one comes along, being between it and the range).
    assert_eq!(starts(3000, 3001), vec![2000, 2100]);
    assert_eq!(starts(2150, 2160), vec![2000, 2100]);
    assert_eq!(starts(5500, 7000), vec![6000]);
}

#[test]
fn loading_reports_progress_and_can_be_canceled() {
    // Four threads of 200 polls, a chunk every 10 polls.
    let mut lines = String::new();
    for t in 1..=4u32 {
        for i in 0..200u64 {
            if i % 10 == 0 {
                let _ = writeln!(lines, "chunk thread={t}");
            }
            poll_lines(&mut lines, t, u64::from(t), i * 10, i * 10 + 5);
        }
    }
    let trace = trace(&lines);
    let last = AtomicU64::new(0);
    let calls = AtomicU64::new(0);
    let progress = |p: Progress| {
        last.fetch_max(p.done_bytes, Ordering::Relaxed);
        calls.fetch_add(1, Ordering::Relaxed);
        assert!(p.done_bytes <= p.total_bytes);
    };
    let m = Model::build_with(
        &trace,
        BuildOptions {
            progress: Some(&progress),
            cancel: None,
        },
    )
    .unwrap();
    assert_eq!(m.polls.len(), 800);
    let total: u64 = trace.chunks().iter().map(|c| u64::from(c.events_len)).sum();
    assert_eq!(last.load(Ordering::Relaxed), total);
    assert_eq!(calls.load(Ordering::Relaxed), trace.chunks().len() as u64);

    let cancel = AtomicBool::new(true);
    let err = Model::build_with(
        &trace,
        BuildOptions {
            progress: None,
            cancel: Some(&cancel),
        },
    )
    .unwrap_err();
    assert!(matches!(err, BuildError::Canceled));
}

#[test]
fn events_naming_no_task_and_times_going_backwards_are_survived() {
    // One event per chunk, so a later chunk can start earlier (the text form allows that
    // only across `chunk` lines).
    let events = [
        // A spawn of task id 0 (found by the CLI fuzzer: it indexed out of bounds).
        "5 task_spawn task=0 tokio_id=100",
        "10 poll_start task=0",
        "20 poll_end",
        "30 wake task=0 waker=1 source=task",
        "40 task_terminate task=0",
        "100 pause_begin kind=1 scope=thread",
        "50 pause_end kind=1 scope=thread",
        "200 worker_park",
        "150 worker_unpark",
    ];
    let mut lines = String::from("string id=1 text=\"alloc\"\n");
    for e in events {
        let _ = writeln!(lines, "chunk thread=1\n1 {e}");
    }
    let m = Model::build(&trace(&lines)).unwrap();
    assert_eq!(m.anomalies.events_without_task, 4);
    assert!(m.tasks.is_empty());
    assert!(m.polls.is_empty() && m.wakes.is_empty());
    assert!(
        m.threads[0]
            .pauses
            .iter()
            .all(|p| p.span.end >= p.span.start)
    );
    assert!(m.threads[0].parks.iter().all(|p| p.end >= p.start));
    // And the analysis over it does not panic either.
    let b = crate::analysis::breakdown::Breakdown::compute(&m, &Default::default());
    assert!(b.pauses.iter().all(|p| p.total_ns < 1_000));
}
