use trace_format::build::TraceBuilder;
use trace_format::{Event, LocationId, PauseScope, StringId, TaskId, TaskKind, Trace, WakeSource};

use super::*;
use crate::model::Model;

const T: u32 = 1; // the worker thread
const W: u32 = 2; // a thread that wakes

fn spawn(b: &mut TraceBuilder, time: u64, task: u64) {
    b.push(
        W,
        time,
        Event::TaskSpawn {
            task: TaskId(task),
            kind: TaskKind::Async,
            tokio_id: task,
            parent: TaskId::NONE,
            location: LocationId::NONE,
            name: StringId::NONE,
        },
    );
}

fn poll(b: &mut TraceBuilder, task: u64, start: u64, end: u64, ready: bool) {
    b.push(T, start, Event::PollStart { task: TaskId(task) });
    if ready {
        b.push(T, end, Event::TaskTerminate { task: TaskId(task) });
    }
    b.push(T, end, Event::PollEnd { ready });
}

fn wake(b: &mut TraceBuilder, time: u64, task: u64, source: WakeSource) {
    b.push(
        W,
        time,
        Event::Wake {
            task: TaskId(task),
            waker: TaskId::NONE,
            source,
        },
    );
}

fn segments(b: &TraceBuilder, task: u64) -> Vec<(TaskState, u64, u64)> {
    let m = Model::load(&Trace::from_bytes(b.to_bytes()).unwrap()).unwrap();
    let ix = m.tasks.iter().position(|t| t.id == TaskId(task)).unwrap() as TaskIx;
    let mut out = vec![];
    for_each_segment(&m, ix, &paused_spans(&m), |s| {
        out.push((s.state, s.span.start, s.span.end))
    });
    assert_partition(&m, ix, &out);
    out
}

fn assert_partition(m: &Model, task: TaskIx, segments: &[(TaskState, u64, u64)]) {
    let life = m.tasks[task as usize].lifetime(m.end);
    let mut at = life.start;
    for &(state, start, end) in segments {
        assert_eq!(start, at, "gap or overlap before {state:?} in {segments:?}");
        assert!(end > start, "empty segment {state:?} in {segments:?}");
        at = end;
    }
    assert_eq!(
        at, life.end,
        "segments end before the lifetime does: {segments:?}"
    );
    let totals = task_totals(m, task, &paused_spans(m));
    assert_eq!(totals.total(), life.len());
}

use TaskState::*;
use WaitReason as R;

#[test]
fn wake_during_the_poll_makes_the_task_runnable_at_its_end() {
    let mut b = TraceBuilder::new();
    spawn(&mut b, 0, 1);
    poll(&mut b, 1, 5, 20, false);
    wake(&mut b, 12, 1, WakeSource::Task);
    poll(&mut b, 1, 30, 40, true);
    assert_eq!(
        segments(&b, 1),
        [
            (SchedWait, 0, 5),
            (Running, 5, 20),
            (SchedWait, 20, 30),
            (Running, 30, 40)
        ]
    );
}

#[test]
fn each_wait_is_attributed_to_the_wake_that_ends_it() {
    let mut b = TraceBuilder::new();
    spawn(&mut b, 0, 1);
    let sources = [
        (WakeSource::Io, R::Io),
        (WakeSource::Timer, R::Timer),
        (WakeSource::Blocking, R::Blocking),
        (WakeSource::Foreign, R::Foreign),
        (WakeSource::SelfWake, R::SelfWake),
        (WakeSource::Task, R::Task),
    ];
    let mut expected = vec![(SchedWait, 0, 100)];
    let mut t = 100;
    for (source, reason) in sources {
        poll(&mut b, 1, t, t + 10, false);
        expected.push((Running, t, t + 10));
        wake(&mut b, t + 50, 1, source);
        // A second wake before the poll changes nothing: the first one ended the wait.
        wake(&mut b, t + 60, 1, WakeSource::Task);
        expected.push((Waiting(reason), t + 10, t + 50));
        expected.push((SchedWait, t + 50, t + 100));
        t += 100;
    }
    poll(&mut b, 1, t, t + 10, true);
    expected.push((Running, t, t + 10));
    assert_eq!(segments(&b, 1), expected);
}

#[test]
fn without_wakes_schedule_latency_splits_the_unknown_wait() {
    let mut b = TraceBuilder::new();
    spawn(&mut b, 0, 1);
    poll(&mut b, 1, 10, 20, false);
    b.push(T, 100, Event::PollStart { task: TaskId(1) });
    // As recorded: with its own clock read, just after the poll starts.
    b.push(
        T,
        103,
        Event::ScheduleLatency {
            task: TaskId(1),
            nanos: 30,
        },
    );
    b.push(T, 110, Event::PollEnd { ready: false });
    poll(&mut b, 1, 200, 210, false); // no latency recorded for this one
    // Still waiting at the end of the trace.
    b.push(W, 300, Event::WorkerPark);
    assert_eq!(
        segments(&b, 1),
        [
            (SchedWait, 0, 10),
            (Running, 10, 20),
            (Waiting(R::Unknown), 20, 70),
            (SchedWait, 70, 100),
            (Running, 100, 110),
            (Waiting(R::Unknown), 110, 200),
            (Running, 200, 210),
            (Waiting(R::Unknown), 210, 300),
        ]
    );
}

#[test]
fn process_pauses_are_carved_out_of_any_state() {
    let mut b = TraceBuilder::new();
    b.string(1, "gc");
    let gc = StringId(1);
    spawn(&mut b, 0, 1);
    poll(&mut b, 1, 10, 50, false);
    wake(&mut b, 80, 1, WakeSource::Timer);
    poll(&mut b, 1, 100, 120, true);
    // Two overlapping pauses from two threads: 40..60 and 55..90; one inside a poll: 105..110.
    b.push(
        3,
        40,
        Event::PauseBegin {
            kind: gc,
            scope: PauseScope::Process,
        },
    );
    b.push(
        3,
        60,
        Event::PauseEnd {
            kind: gc,
            scope: PauseScope::Process,
        },
    );
    b.push(
        4,
        55,
        Event::PauseBegin {
            kind: gc,
            scope: PauseScope::Process,
        },
    );
    b.push(
        4,
        90,
        Event::PauseEnd {
            kind: gc,
            scope: PauseScope::Process,
        },
    );
    b.push(
        3,
        105,
        Event::PauseBegin {
            kind: gc,
            scope: PauseScope::Process,
        },
    );
    b.push(
        3,
        110,
        Event::PauseEnd {
            kind: gc,
            scope: PauseScope::Process,
        },
    );
    // A thread-scoped pause does not pause tasks.
    b.push(
        3,
        0,
        Event::PauseBegin {
            kind: gc,
            scope: PauseScope::Thread,
        },
    );
    b.push(
        3,
        5,
        Event::PauseEnd {
            kind: gc,
            scope: PauseScope::Thread,
        },
    );
    assert_eq!(
        segments(&b, 1),
        [
            (SchedWait, 0, 10),
            (Running, 10, 40),
            (Paused, 40, 50),
            (Paused, 50, 80),
            (Paused, 80, 90),
            (SchedWait, 90, 100),
            (Running, 100, 105),
            (Paused, 105, 110),
            (Running, 110, 120),
        ]
    );
}

#[test]
fn late_hook_timestamps_are_clamped_so_polls_do_not_overlap() {
    let mut b = TraceBuilder::new();
    spawn(&mut b, 10, 1);
    // Poll on thread 5 that "starts" before the spawn and one that starts before the
    // previous poll ended (a preempted after-poll hook on another worker).
    b.push(5, 5, Event::PollStart { task: TaskId(1) });
    b.push(5, 30, Event::PollEnd { ready: false });
    poll(&mut b, 1, 25, 40, false);
    assert_eq!(segments(&b, 1), [(Running, 10, 30), (Running, 30, 40)]);
}

#[test]
fn a_task_first_seen_by_its_wake_starts_runnable() {
    let mut b = TraceBuilder::new();
    wake(&mut b, 10, 1, WakeSource::Io);
    poll(&mut b, 1, 25, 40, true);
    assert_eq!(segments(&b, 1), [(SchedWait, 10, 25), (Running, 25, 40)]);
}

/// Small xorshift so the random traces are the same on every run.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[test]
fn the_partition_holds_on_random_traces() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..400 {
        let mut b = TraceBuilder::new();
        b.string(1, "stw");
        let tasks = 1 + rng.below(4);
        for task in 1..=tasks {
            let mut t = rng.below(50);
            if rng.below(4) > 0 {
                spawn(&mut b, t, task);
            }
            let polls = rng.below(6);
            for i in 0..polls {
                t += rng.below(30);
                if rng.below(3) == 0 {
                    let sources = [
                        WakeSource::Task,
                        WakeSource::Io,
                        WakeSource::Timer,
                        WakeSource::SelfWake,
                    ];
                    wake(
                        &mut b,
                        t.saturating_sub(rng.below(40)),
                        task,
                        sources[rng.below(4) as usize],
                    );
                }
                let start = t;
                t += rng.below(20);
                // Polls of different tasks may interleave in time on one thread only if
                // nested; record each task on its own thread to keep the file plausible.
                let thread = 10 + task as u32;
                b.push(thread, start, Event::PollStart { task: TaskId(task) });
                let last = i + 1 == polls;
                if last && rng.below(2) == 0 {
                    b.push(thread, t, Event::TaskTerminate { task: TaskId(task) });
                    b.push(thread, t, Event::PollEnd { ready: true });
                } else if !(last && rng.below(3) == 0) {
                    b.push(thread, t, Event::PollEnd { ready: false });
                }
            }
        }
        for _ in 0..rng.below(3) {
            let s = rng.below(200);
            let kind = StringId(1);
            b.push(
                3,
                s,
                Event::PauseBegin {
                    kind,
                    scope: PauseScope::Process,
                },
            );
            b.push(
                3,
                s + rng.below(40),
                Event::PauseEnd {
                    kind,
                    scope: PauseScope::Process,
                },
            );
        }
        let m = Model::load(&Trace::from_bytes(b.to_bytes()).unwrap()).unwrap();
        let paused = paused_spans(&m);
        for ix in 0..m.tasks.len() as TaskIx {
            let mut segs = vec![];
            for_each_segment(&m, ix, &paused, |s| {
                segs.push((s.state, s.span.start, s.span.end))
            });
            let running: u64 = segs
                .iter()
                .filter(|s| s.0 == Running)
                .map(|s| s.2 - s.1)
                .sum();
            let polled: u64 = m.task_polls(ix).map(|p| p.span().len()).sum();
            assert!(
                running <= polled,
                "case {case}: running {running} > polled {polled}"
            );
            assert_partition(&m, ix, &segs);
        }
    }
}
