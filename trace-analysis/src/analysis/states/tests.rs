//! The partition on random traces. Hand-made cases (each wait's attribution, schedule
//! latency, pauses, clamped polls, tasks first seen by their wake) are golden files:
//! `tests/testdata/states_*.txt`, run by `tests/golden.rs`, which also checks the partition
//! of every task in them.

use std::fmt::Write as _;

use trace_format::{Trace, text};

use super::*;
use crate::model::Model;

fn assert_partition(m: &Model, task: TaskIx, segments: &[(TaskState, u64, u64)]) {
    let life = m.tasks[task.index()].lifetime(m.end);
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

/// Event lines of a trace in the text form, per thread; a time earlier than the thread's
/// previous one is written as equal to it (as the recorder does).
#[derive(Default)]
struct Lines(std::collections::BTreeMap<u32, (u64, String)>);
impl Lines {
    fn at(&mut self, thread: u32, time: u64, event: &str) {
        let (last, text) = self.0.entry(thread).or_default();
        *last = time.max(*last);
        let _ = writeln!(text, "{thread} {last} {event}");
    }
    fn build(self) -> Model {
        let mut all = String::from("string id=1 text=\"stw\"\n");
        for (_, text) in self.0.values() {
            all.push_str(text);
        }
        all.push_str("end\n");
        let bytes = text::undump(&all).unwrap_or_else(|e| panic!("{e}\n{all}"));
        Model::build(&Trace::from_bytes(bytes).unwrap()).unwrap()
    }
}

#[test]
fn the_partition_holds_on_random_traces() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for case in 0..400 {
        let mut b = Lines::default();
        let tasks = 1 + rng.below(4);
        for task in 1..=tasks {
            let mut t = rng.below(50);
            if rng.below(4) > 0 {
                b.at(2, t, &format!("task_spawn task={task} tokio_id={task}"));
            }
            let polls = rng.below(6);
            for i in 0..polls {
                t += rng.below(30);
                if rng.below(3) == 0 {
                    let sources = ["task", "io", "timer", "self_wake"];
                    let source = sources[rng.below(4) as usize];
                    let at = t.saturating_sub(rng.below(40));
                    b.at(2, at, &format!("wake task={task} source={source}"));
                }
                let start = t;
                t += rng.below(20);
                // Polls of different tasks may interleave in time on one thread only if
                // nested; record each task on its own thread to keep the file plausible.
                let thread = 10 + task as u32;
                b.at(thread, start, &format!("poll_start task={task}"));
                let last = i + 1 == polls;
                if last && rng.below(2) == 0 {
                    b.at(thread, t, &format!("task_terminate task={task}"));
                    b.at(thread, t, "poll_end ready=true");
                } else if !(last && rng.below(3) == 0) {
                    b.at(thread, t, "poll_end ready=false");
                }
            }
        }
        for _ in 0..rng.below(3) {
            let s = rng.below(200);
            b.at(3, s, "pause_begin kind=1 scope=process");
            b.at(3, s + rng.below(40), "pause_end kind=1 scope=process");
        }
        let m = b.build();
        let paused = paused_spans(&m);
        for ix in m.task_ixs() {
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

#[test]
fn states_stop_where_the_data_of_the_tasks_thread_ends() {
    use trace_format::{Event, LocationId, StringId, TaskId, TaskKind, WakeSource};
    let build = |finish: bool| {
        let mut b = trace_format::build::TraceBuilder::new();
        for (task, thread) in [(1, 1), (2, 2)] {
            b.push(
                thread,
                0,
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
        b.push(1, 10, Event::PollStart { task: TaskId(1) });
        b.push(1, 20, Event::PollEnd { ready: false });
        // Woken from thread 2; the poll that followed on thread 1 is not in the file.
        b.push(
            2,
            30,
            Event::Wake {
                task: TaskId(1),
                waker: TaskId::NONE,
                source: WakeSource::Timer,
            },
        );
        b.push(2, 90, Event::PollStart { task: TaskId(2) });
        b.push(2, 800, Event::PollEnd { ready: false });
        Model::build(&trace_format::Trace::from_bytes(b.write(finish)).unwrap()).unwrap()
    };
    let states = |m: &Model| {
        let mut v = vec![];
        for_each_segment(m, TaskIx(0), &paused_spans(m), |s| {
            v.push((s.state, s.span.start, s.span.end))
        });
        v
    };
    // Cut: the wake at 30 is known; no 770 ns of scheduler wait after it (thread 1's data
    // ended at 20, the poll the wake led to is not in the file).
    let cut = build(false);
    assert_eq!(
        states(&cut),
        [
            (TaskState::SchedWait, 0, 10),
            (TaskState::Running, 10, 20),
            (TaskState::Waiting(WaitReason::Timer), 20, 30),
            (TaskState::NoData, 30, 800),
        ]
    );
    let totals = task_totals(&cut, TaskIx(0), &paused_spans(&cut));
    assert_eq!((totals.no_data, totals.total()), (770, 800));
    // Finished: thread 1 was idle, its data did not end; the wake and the wait stand.
    let finished = build(true);
    let s = states(&finished);
    assert!(s.iter().all(|x| x.0 != TaskState::NoData), "{s:?}");
    assert_eq!(s[2], (TaskState::Waiting(WaitReason::Timer), 20, 30));
}
