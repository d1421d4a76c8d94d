use trace_format::build::TraceBuilder;
use trace_format::{
    Event, LocationId, PauseScope, StringId, TaskId, TaskKind, ThreadKind, Trace, WakeSource,
};

use super::*;

const END: u64 = 2_000_000_000;

fn spawn(b: &mut TraceBuilder, thread: u32, time: u64, task: u64, location: u32) {
    b.push(
        thread,
        time,
        Event::TaskSpawn {
            task: TaskId(task),
            kind: TaskKind::Async,
            tokio_id: task,
            parent: TaskId::NONE,
            location: LocationId(location),
            name: StringId::NONE,
        },
    );
}

fn poll(b: &mut TraceBuilder, thread: u32, task: u64, start: u64, end: u64, ready: bool) {
    b.push(thread, start, Event::PollStart { task: TaskId(task) });
    if ready {
        b.push(thread, end, Event::TaskTerminate { task: TaskId(task) });
    }
    b.push(thread, end, Event::PollEnd { ready });
}

/// Two workers, two tasks from a.rs that finish, one from b.rs that is never woken again,
/// a 1 µs process pause and a 5 ns thread pause. Every number below follows by hand.
fn known_trace() -> Model {
    let mut b = TraceBuilder::new();
    b.location(1, "src/a.rs", 1, 1)
        .location(2, "src/b.rs", 2, 2);
    b.string(1, "gc").string(2, "alloc");
    for (thread, index) in [(1, 0), (2, 1)] {
        b.push(
            thread,
            0,
            Event::ThreadStart {
                kind: ThreadKind::Worker,
                index,
            },
        );
    }
    spawn(&mut b, 1, 0, 1, 1);
    spawn(&mut b, 1, 0, 2, 1);
    spawn(&mut b, 1, 5, 3, 2);
    poll(&mut b, 1, 1, 10, 30, false);
    poll(&mut b, 1, 3, 40, 45, false);
    b.push(
        3,
        100,
        Event::Wake {
            task: TaskId(1),
            waker: TaskId::NONE,
            source: WakeSource::Timer,
        },
    );
    poll(&mut b, 1, 1, 110, 120, true);
    b.push(1, 130, Event::WorkerPark);
    b.push(1, END, Event::WorkerUnpark);
    poll(&mut b, 2, 2, 30, 80, false);
    b.push(
        2,
        90,
        Event::PauseBegin {
            kind: StringId(2),
            scope: PauseScope::Thread,
        },
    );
    b.push(
        2,
        95,
        Event::PauseEnd {
            kind: StringId(2),
            scope: PauseScope::Thread,
        },
    );
    b.push(
        3,
        150,
        Event::Wake {
            task: TaskId(2),
            waker: TaskId::NONE,
            source: WakeSource::Io,
        },
    );
    poll(&mut b, 2, 2, 160, 170, true);
    b.push(2, 175, Event::WorkerPark);
    b.push(
        3,
        1000,
        Event::PauseBegin {
            kind: StringId(1),
            scope: PauseScope::Process,
        },
    );
    b.push(
        3,
        2000,
        Event::PauseEnd {
            kind: StringId(1),
            scope: PauseScope::Process,
        },
    );
    b.push(
        3,
        12,
        Event::AllocSample {
            size: 4096,
            task: TaskId::NONE,
        },
    );
    b.push(
        1,
        20,
        Event::AllocSample {
            size: 512,
            task: TaskId(1),
        },
    );
    Model::load(&Trace::from_bytes(b.to_bytes()).unwrap()).unwrap()
}

#[test]
fn sampled_allocations_are_weighted_by_their_chance_of_being_sampled() {
    // Every allocation sampled (rate 1): each stands for itself.
    assert_eq!(sample_weight(512, 1), 512.0);
    // Small ones stand for about a sample rate's worth; large ones for themselves.
    let small = sample_weight(16, 524_288);
    assert!((small - 524_296.0).abs() < 1.0, "{small}");
    let large = sample_weight(64 << 20, 524_288);
    assert!((large - (64u64 << 20) as f64).abs() < 1.0, "{large}");

    // The rate the recorder wrote is used for samples after it.
    let mut b = TraceBuilder::new();
    b.string(9, "trace_rt.alloc.sample_rate");
    b.push(
        1,
        0,
        Event::Counter {
            name: StringId(9),
            value: 1,
        },
    );
    b.push(1, 5, Event::PollStart { task: TaskId(1) });
    b.push(
        1,
        6,
        Event::AllocSample {
            size: 100,
            task: TaskId(1),
        },
    );
    b.push(
        1,
        7,
        Event::AllocSample {
            size: 300,
            task: TaskId(1),
        },
    );
    b.push(1, 8, Event::PollEnd { ready: true });
    let m = Model::load(&Trace::from_bytes(b.to_bytes()).unwrap()).unwrap();
    let bd = Breakdown::compute(&m, &BreakdownOptions::default());
    assert_eq!(bd.groups[0].alloc_estimated_bytes, 400);
}

#[test]
fn stats_use_nearest_rank_percentiles() {
    let mut v: Vec<u64> = (1..=100).rev().collect();
    let s = Stats::of(&mut v);
    assert_eq!((s.total, s.p50, s.p99, s.max), (5050, 50, 99, 100));
    assert_eq!(s.mean, 50.5);
    assert_eq!(
        Stats::of(&mut [7]),
        Stats {
            total: 7,
            mean: 7.0,
            p50: 7,
            p99: 7,
            max: 7
        }
    );
    assert_eq!(Stats::of(&mut []), Stats::default());
}

#[test]
fn groups_have_the_known_state_totals() {
    let m = known_trace();
    assert_eq!(m.end, END);
    let b = Breakdown::compute(&m, &BreakdownOptions::default());
    assert_eq!(b.tasks, 3);
    let a = b.groups.iter().find(|g| g.label == "src/a.rs:1:1").unwrap();
    assert_eq!(
        (a.tasks, a.alive_at_end, a.leak_suspects, a.kind),
        (2, 0, 0, "async")
    );
    assert_eq!((a.polls.total, a.polls.p50, a.polls.max), (4, 2, 2));
    let s = |c: &str| a.states[c];
    assert_eq!(
        s("lifetime"),
        Stats {
            total: 290,
            mean: 145.0,
            p50: 120,
            p99: 170,
            max: 170
        }
    );
    assert_eq!(
        s("running"),
        Stats {
            total: 90,
            mean: 45.0,
            p50: 30,
            p99: 60,
            max: 60
        }
    );
    assert_eq!(
        s("sched_wait"),
        Stats {
            total: 60,
            mean: 30.0,
            p50: 20,
            p99: 40,
            max: 40
        }
    );
    assert_eq!(
        (
            s("wait_timer").total,
            s("wait_timer").max,
            s("wait_timer").p50
        ),
        (70, 70, 0)
    );
    assert_eq!((s("wait_io").total, s("wait_io").max), (70, 70));
    assert_eq!(
        s("paused").total + s("wait_unknown").total + s("wait_task").total,
        0
    );
    assert_eq!((a.alloc_samples, a.alloc_sampled_bytes), (1, 512));
    // No sample-rate counter in the trace: trace-rt's default rate, 512 KiB.
    assert_eq!(a.alloc_estimated_bytes, 524_544);

    let leaky = b.groups.iter().find(|g| g.label == "src/b.rs:2:2").unwrap();
    assert_eq!(
        (leaky.tasks, leaky.alive_at_end, leaky.leak_suspects),
        (1, 1, 1)
    );
    assert_eq!(leaky.states["running"].total, 5);
    assert_eq!(leaky.states["sched_wait"].total, 35);
    assert_eq!(leaky.states["paused"].total, 1000);
    assert_eq!(leaky.states["wait_unknown"].total, END - 45 - 1000);
    assert_eq!(leaky.states["lifetime"].total, END - 5);

    // Groups by running time; totals add up over all tasks.
    assert_eq!(b.groups[0].label, "src/a.rs:1:1");
    assert_eq!(b.totals["running"], 95);
    assert_eq!(b.totals["lifetime"], 290 + END - 5);
    let parts: u64 = COLUMNS[1..].iter().map(|c| b.totals[c]).sum();
    assert_eq!(parts, b.totals["lifetime"]);
}

#[test]
fn leak_suspects_longest_polls_threads_and_pauses() {
    let m = known_trace();
    let b = Breakdown::compute(&m, &BreakdownOptions::default());
    assert_eq!(b.leak_suspect_count, 1);
    let l = &b.leak_suspects[0];
    assert_eq!(
        (l.task_id, l.waiting_since_ns, l.waited_ns, l.polls),
        (3, 45, END - 45, 1)
    );
    assert_eq!(l.group, "src/b.rs:2:2");
    // Below the threshold nothing is suspect.
    let strict = BreakdownOptions {
        leak_threshold: END,
        ..Default::default()
    };
    assert_eq!(Breakdown::compute(&m, &strict).leak_suspect_count, 0);

    let durations: Vec<_> = b
        .longest_polls
        .iter()
        .map(|p| (p.task_id, p.duration_ns))
        .collect();
    assert_eq!(durations, [(2, 50), (1, 20), (1, 10), (2, 10), (3, 5)]);
    assert_eq!(b.longest_polls[0].thread, "worker 1");

    let w0 = &b.threads[0];
    assert_eq!(
        (w0.thread.as_str(), w0.kind, w0.span_ns),
        ("worker 0", "worker", END)
    );
    assert_eq!(
        (w0.busy_ns, w0.paused_ns, w0.idle_ns, w0.other_ns),
        (35, 1000, END - 130 - 1000, 95)
    );
    assert_eq!((w0.polls, w0.longest_poll_ns), (3, 20));
    let w1 = &b.threads[1];
    assert_eq!(
        (w1.busy_ns, w1.paused_ns, w1.idle_ns, w1.other_ns),
        (60, 1005, END - 175 - 1000, 110)
    );

    let pauses: Vec<_> = b
        .pauses
        .iter()
        .map(|p| (p.kind.as_str(), p.scope, p.count, p.total_ns, p.max_ns))
        .collect();
    assert_eq!(
        pauses,
        [
            ("gc", "process", 1, 1000, 1000),
            ("alloc", "thread", 1, 5, 5)
        ]
    );
}

/// A recording killed while a burst's tasks were done and one worker sat in a poll: the
/// kill shape of a service that bursts, goes quiet, and is killed. What the file lacks is not
/// evidence: the worker's open poll is where its data ends (it lasted at least until the file
/// stops being complete), not a poll "still running" to the last sampler event; a task whose
/// wait began in the tail the kill may have lost is no leak suspect.
#[test]
fn a_cut_recording_says_where_data_ends_and_names_no_false_culprit() {
    const S: u64 = 1_000_000_000;
    let cut = |finish: bool| {
        let mut b = TraceBuilder::new();
        b.location(1, "src/a.rs", 1, 1);
        for (thread, index) in [(1, 0), (2, 1)] {
            b.push(
                thread,
                0,
                Event::ThreadStart {
                    kind: ThreadKind::Worker,
                    index,
                },
            );
        }
        spawn(&mut b, 1, 0, 1, 1);
        spawn(&mut b, 1, 0, 2, 1);
        spawn(&mut b, 1, 0, 3, 1);
        // Task 1 blocks worker 0 from 2 s on: its poll has no end in the file.
        b.push(1, 2 * S, Event::PollStart { task: TaskId(1) });
        // Task 2 has waited since 1 s: a real suspect either way.
        poll(&mut b, 2, 2, S / 2, S, false);
        // Task 3's wait starts 0.5 s before the last event: its wake may be lost.
        poll(&mut b, 2, 3, 9 * S, 9 * S + S / 2, false);
        // Another thread (a sampler) writes on until 10 s.
        b.push(3, 10 * S, Event::WorkerPark);
        Model::load(&Trace::from_bytes(b.write(finish)).unwrap()).unwrap()
    };

    let killed = cut(false);
    let until = 10 * S - 1_150_000_000;
    assert_eq!(killed.complete_until, until);
    let b = Breakdown::compute(&killed, &BreakdownOptions::default());
    assert_eq!(b.complete_until_ns, Some(until));
    let open = &b.longest_polls[0];
    assert_eq!(open.task_id, 1);
    assert_eq!(
        open.duration_ns,
        until - 2 * S,
        "lasted at least until the data ends"
    );
    assert!(open.cut && !open.still_running);
    let suspects: Vec<_> = b.leak_suspects.iter().map(|l| l.task_id).collect();
    assert_eq!(
        suspects,
        [2],
        "task 3's wait began in the tail the cut may have lost"
    );
    assert_eq!(b.leak_suspects[0].waited_ns, until - S);

    // The same events in a finished recording: the poll ran until the stop.
    let finished = cut(true);
    assert_eq!(finished.complete_until, finished.end);
    let b = Breakdown::compute(&finished, &BreakdownOptions::default());
    assert_eq!(b.complete_until_ns, None);
    let open = &b.longest_polls[0];
    assert_eq!(open.duration_ns, 8 * S);
    assert!(open.cut && open.still_running);
    let suspects: Vec<_> = b.leak_suspects.iter().map(|l| l.task_id).collect();
    assert_eq!(suspects, [2]);
}
