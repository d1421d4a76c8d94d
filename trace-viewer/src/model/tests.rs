use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use trace_format::build::TraceBuilder;
use trace_format::{
    Event, LocationId, PauseScope, StringId, TaskId, TaskKind, ThreadKind, Trace, WakeSource,
};

use super::*;

fn model(b: &TraceBuilder) -> Model {
    Model::load(&Trace::from_bytes(b.to_bytes()).unwrap()).unwrap()
}

fn spawn(task: u64, parent: u64, location: u32) -> Event<'static> {
    Event::TaskSpawn {
        task: TaskId(task),
        kind: TaskKind::Async,
        tokio_id: task + 100,
        parent: TaskId(parent),
        location: LocationId(location),
        name: StringId::NONE,
    }
}

fn poll(b: &mut TraceBuilder, thread: u32, task: u64, start: u64, end: u64, ready: bool) {
    b.push(thread, start, Event::PollStart { task: TaskId(task) });
    b.push(thread, end, Event::PollEnd { ready });
}

#[test]
fn polls_split_across_chunks_are_paired() {
    let mut b = TraceBuilder::new();
    b.chunk_capacity = 16; // a few events per chunk
    b.push(
        1,
        0,
        Event::ThreadStart {
            kind: ThreadKind::Worker,
            index: 0,
        },
    );
    for i in 0..50u64 {
        poll(&mut b, 1, 1 + i % 3, 10 + i * 100, 60 + i * 100, false);
    }
    let trace = Trace::from_bytes(b.to_bytes()).unwrap();
    assert!(trace.chunks().len() > 10, "the test needs many chunks");
    let m = Model::load(&trace).unwrap();
    assert_eq!(m.polls.len(), 50);
    assert!(m.polls.iter().all(|p| p.span().len() == 50 && !p.cut()));
    assert_eq!(m.anomalies, Anomalies::default());
    assert_eq!(m.tasks.len(), 3);
    for t in 0..3 {
        let polls: Vec<_> = m.task_polls(t).collect();
        assert!(polls.windows(2).all(|w| w[0].start < w[1].start));
        assert!(polls.iter().all(|p| p.task == t && p.thread() == 0));
    }
    assert_eq!(m.threads[0].label(), "worker 0");
    assert!(m.threads[0].is_worker());
}

#[test]
fn tasks_get_spawn_parent_terminate_and_first_sight() {
    let mut b = TraceBuilder::new();
    b.location(3, "src/main.rs", 10, 5);
    // Task 9 was spawned before the recording: first seen at its poll.
    poll(&mut b, 1, 9, 5, 10, false);
    b.push(1, 20, Event::PollStart { task: TaskId(9) });
    b.push(1, 21, spawn(4, 9, 3));
    b.push(1, 30, Event::PollEnd { ready: false });
    b.push(1, 40, Event::PollStart { task: TaskId(4) });
    // tokio reports termination inside the final poll.
    b.push(1, 45, Event::TaskTerminate { task: TaskId(4) });
    b.push(1, 50, Event::PollEnd { ready: true });
    let m = model(&b);
    assert_eq!(m.tasks.len(), 2);
    let child = &m.tasks[0];
    assert_eq!(child.id, TaskId(4));
    assert_eq!(child.spawn, Some(21));
    assert_eq!(
        child.terminate,
        Some(50),
        "clamped to the end of the final poll"
    );
    assert_eq!(child.kind, Some(TaskKind::Async));
    assert_eq!(child.tokio_id, 104);
    assert_eq!(m.tasks[child.parent as usize].id, TaskId(9));
    assert_eq!(m.location_label(child.location), "src/main.rs:10:5");
    let parent = &m.tasks[1];
    assert_eq!(
        (parent.spawn, parent.first_seen, parent.kind),
        (None, 5, None)
    );
    assert_eq!(parent.lifetime(m.end), Span { start: 5, end: 50 });
    assert_eq!(m.task_poll_count(1), 2);
    assert!(m.polls.iter().any(|p| p.ready() && p.task == 0));
}

#[test]
fn open_polls_are_cut_at_a_loss_and_at_the_end() {
    let mut b = TraceBuilder::new();
    b.push(1, 10, Event::PollStart { task: TaskId(1) });
    b.push(
        1,
        20,
        Event::Wake {
            task: TaskId(2),
            waker: TaskId(1),
            source: WakeSource::Task,
        },
    );
    b.push(
        1,
        500,
        Event::Lost {
            chunks: 2,
            events: 300,
        },
    );
    b.push(1, 510, Event::PollEnd { ready: false }); // its start was lost
    b.push(1, 600, Event::PollStart { task: TaskId(2) });
    b.push(2, 900, Event::WorkerPark);
    let m = model(&b);
    assert_eq!(m.end, 900);
    let polls = m.thread_polls(0);
    assert_eq!(polls.len(), 2);
    assert_eq!(
        (polls[0].start, polls[0].end, polls[0].cut()),
        (10, 20, true)
    );
    assert_eq!(
        (polls[1].start, polls[1].end, polls[1].cut()),
        (600, 900, true)
    );
    assert_eq!(m.anomalies.unmatched_ends, 1);
    assert_eq!(m.anomalies.cut_intervals, 2);
    assert_eq!(
        m.lost,
        vec![LostMarker {
            time: 500,
            thread: 0,
            chunks: 2,
            events: 300
        }]
    );
    // Parked until the end of the trace.
    assert_eq!(
        m.threads[1].parks,
        vec![Span {
            start: 900,
            end: 900
        }]
    );
}

#[test]
fn visible_polls_are_found_by_time_even_when_nested() {
    let mut b = TraceBuilder::new();
    for i in 0..100u64 {
        poll(&mut b, 1, 1, i * 10, i * 10 + 5, false);
    }
    // A long outer poll with a nested one inside (block_in_place + block_on).
    b.push(1, 2000, Event::PollStart { task: TaskId(2) });
    poll(&mut b, 1, 3, 2100, 2200, false);
    b.push(1, 5000, Event::PollEnd { ready: false });
    poll(&mut b, 1, 1, 6000, 6005, false);
    let m = model(&b);
    let starts = |t0, t1| -> Vec<u64> {
        m.thread_polls_in(0, t0, t1)
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
fn wakes_are_grouped_by_task_in_time_order() {
    let mut b = TraceBuilder::new();
    b.push(
        1,
        30,
        Event::Wake {
            task: TaskId(2),
            waker: TaskId(1),
            source: WakeSource::Task,
        },
    );
    b.push(
        2,
        10,
        Event::Wake {
            task: TaskId(2),
            waker: TaskId::NONE,
            source: WakeSource::Timer,
        },
    );
    b.push(
        2,
        20,
        Event::Wake {
            task: TaskId(1),
            waker: TaskId::NONE,
            source: WakeSource::Io,
        },
    );
    let m = model(&b);
    let of = |id: u64| {
        let ix = m.tasks.iter().position(|t| t.id == TaskId(id)).unwrap() as TaskIx;
        m.task_wakes(ix)
            .iter()
            .map(|w| (w.time, w.source))
            .collect::<Vec<_>>()
    };
    assert_eq!(of(2), vec![(10, WakeSource::Timer), (30, WakeSource::Task)]);
    assert_eq!(of(1), vec![(20, WakeSource::Io)]);
    assert!(m.has_wakes());
}

#[test]
fn pauses_regions_logs_and_counters() {
    let mut b = TraceBuilder::new();
    b.string(1, "gc")
        .string(2, "alloc")
        .string(3, "handle")
        .string(4, "app")
        .string(5, "conns");
    let (gc, alloc) = (StringId(1), StringId(2));
    b.push(
        1,
        0,
        Event::PauseBegin {
            kind: gc,
            scope: PauseScope::Process,
        },
    );
    b.push(
        1,
        5,
        Event::PauseBegin {
            kind: alloc,
            scope: PauseScope::Thread,
        },
    );
    b.push(
        1,
        7,
        Event::PauseEnd {
            kind: gc,
            scope: PauseScope::Process,
        },
    );
    b.push(
        1,
        9,
        Event::PauseEnd {
            kind: alloc,
            scope: PauseScope::Thread,
        },
    );
    b.push(1, 10, Event::PollStart { task: TaskId(1) });
    b.push(
        1,
        11,
        Event::RegionBegin {
            id: 77,
            name: StringId(3),
        },
    );
    b.push(
        1,
        12,
        Event::Log {
            level: trace_format::Level::Info,
            target: StringId(4),
            message: "hi",
        },
    );
    b.push(
        1,
        13,
        Event::AllocCounters {
            allocs: 1,
            frees: 0,
            alloc_bytes: 1000,
            free_bytes: 0,
        },
    );
    b.push(1, 14, Event::RegionEnd { id: 77 });
    b.push(1, 15, Event::PollEnd { ready: true });
    b.push(
        2,
        14,
        Event::AllocCounters {
            allocs: 1,
            frees: 1,
            alloc_bytes: 100,
            free_bytes: 600,
        },
    );
    b.push(
        2,
        16,
        Event::Counter {
            name: StringId(5),
            value: -3,
        },
    );
    b.push(
        2,
        17,
        Event::RuntimeSample {
            global_queue: 4,
            alive_tasks: 9,
            blocking_threads: 1,
        },
    );
    let m = model(&b);
    assert_eq!(m.process_pauses.len(), 1);
    assert_eq!(m.process_pauses[0].span, Span { start: 0, end: 7 });
    assert_eq!(m.string(m.process_pauses[0].kind), "gc");
    let thread_pauses = &m.threads[0].pauses;
    assert_eq!(thread_pauses.len(), 1);
    assert_eq!(
        (thread_pauses[0].span, thread_pauses[0].scope),
        (Span { start: 5, end: 9 }, PauseScope::Thread)
    );
    let r = &m.threads[0].regions[0];
    assert_eq!(
        (r.span, m.string(r.name), r.task),
        (Span { start: 11, end: 14 }, "handle", 0)
    );
    assert_eq!(
        (
            m.logs[0].task,
            &*m.logs[0].message,
            m.string(m.logs[0].target)
        ),
        (0, "hi", "app")
    );
    let series = |k: CounterKind| {
        m.counters
            .iter()
            .find(|c| c.kind == k)
            .unwrap()
            .points
            .clone()
    };
    assert_eq!(
        series(CounterKind::HeapInUse),
        vec![(13, 1000.0), (14, 500.0)]
    );
    assert_eq!(
        series(CounterKind::AllocatedBytes),
        vec![(13, 1000.0), (14, 1100.0)]
    );
    assert_eq!(series(CounterKind::User("conns".into())), vec![(16, -3.0)]);
    assert_eq!(series(CounterKind::AliveTasks), vec![(17, 9.0)]);
}

#[test]
fn loading_reports_progress_and_can_be_canceled() {
    let mut b = TraceBuilder::new();
    b.chunk_capacity = 64;
    for t in 1..=4u32 {
        for i in 0..200u64 {
            poll(&mut b, t, u64::from(t), i * 10, i * 10 + 5, false);
        }
    }
    let trace = Trace::from_bytes(b.to_bytes()).unwrap();
    let last = AtomicU64::new(0);
    let calls = AtomicU64::new(0);
    let progress = |p: Progress| {
        last.fetch_max(p.done_bytes, Ordering::Relaxed);
        calls.fetch_add(1, Ordering::Relaxed);
        assert!(p.done_bytes <= p.total_bytes);
    };
    let m = Model::load_with(
        &trace,
        LoadOptions {
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
    let err = Model::load_with(
        &trace,
        LoadOptions {
            progress: None,
            cancel: Some(&cancel),
        },
    )
    .unwrap_err();
    assert!(matches!(err, LoadError::Canceled));
}

#[test]
fn a_process_pause_may_end_on_another_thread() {
    let mut b = TraceBuilder::new();
    b.string(1, "gc");
    let gc = StringId(1);
    b.push(
        1,
        100,
        Event::PauseBegin {
            kind: gc,
            scope: PauseScope::Process,
        },
    );
    b.push(
        2,
        200,
        Event::PauseEnd {
            kind: gc,
            scope: PauseScope::Process,
        },
    );
    b.push(
        2,
        300,
        Event::PauseBegin {
            kind: gc,
            scope: PauseScope::Process,
        },
    );
    b.push(1, 1000, Event::WorkerPark);
    let m = model(&b);
    let spans: Vec<_> = m
        .process_pauses
        .iter()
        .map(|p| (p.span, p.thread, p.cut))
        .collect();
    assert_eq!(
        spans,
        [
            (
                Span {
                    start: 100,
                    end: 200
                },
                0,
                false
            ),
            (
                Span {
                    start: 300,
                    end: 1000
                },
                1,
                true
            )
        ]
    );
    assert_eq!(m.anomalies.unmatched_ends, 0);
}

#[test]
fn events_naming_no_task_and_times_going_backwards_are_survived() {
    let mut b = TraceBuilder::new();
    b.chunk_capacity = 1; // one event per chunk, so a later chunk can start earlier
    b.string(1, "alloc");
    let kind = StringId(1);
    // A spawn of task id 0 (found by the CLI fuzzer: it indexed out of bounds).
    b.push(1, 5, spawn(0, 0, 0));
    b.push(1, 10, Event::PollStart { task: TaskId::NONE });
    b.push(1, 20, Event::PollEnd { ready: false });
    b.push(
        1,
        30,
        Event::Wake {
            task: TaskId::NONE,
            waker: TaskId(1),
            source: WakeSource::Task,
        },
    );
    b.push(1, 40, Event::TaskTerminate { task: TaskId::NONE });
    b.push(
        1,
        100,
        Event::PauseBegin {
            kind,
            scope: PauseScope::Thread,
        },
    );
    b.push(
        1,
        50,
        Event::PauseEnd {
            kind,
            scope: PauseScope::Thread,
        },
    );
    b.push(1, 200, Event::WorkerPark);
    b.push(1, 150, Event::WorkerUnpark);
    let m = model(&b);
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

#[test]
fn schedule_latency_is_tied_to_the_poll_it_was_recorded_in() {
    let mut b = TraceBuilder::new();
    b.push(1, 100, Event::PollStart { task: TaskId(1) });
    b.push(
        1,
        105,
        Event::ScheduleLatency {
            task: TaskId(1),
            nanos: 30,
        },
    );
    b.push(1, 110, Event::PollEnd { ready: false });
    let m = model(&b);
    assert_eq!(m.schedule_latencies, vec![(100, 0, 30)]);
}

#[test]
fn a_worker_parked_when_the_recording_started_is_idle_from_the_start() {
    let mut b = TraceBuilder::new();
    poll(&mut b, 2, 1, 0, 10, false);
    b.push(1, 50, Event::WorkerUnpark);
    poll(&mut b, 1, 1, 60, 70, false);
    b.push(1, 80, Event::WorkerUnpark); // a stray one later is still counted
    let m = model(&b);
    assert_eq!(m.threads[0].parks, vec![Span { start: 0, end: 50 }]);
    assert_eq!(m.anomalies.unmatched_ends, 1);
}
