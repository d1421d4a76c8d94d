//! Helpers for tests that run real tokio workloads and check the recorded trace: record a
//! closure into memory, and index the result per task and per thread.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use trace_format::{Event, TaskKind, ThreadKind, Trace, WakeSource};

/// The recorder is process-global: tests in one binary take turns.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records whatever `f` does into memory and returns the trace.
pub fn record<R>(f: impl FnOnce() -> R) -> (Trace, R) {
    let sink = trace_rt::MemorySink::new();
    let session = trace_rt::Config::default()
        .start_with_sink(sink.clone())
        .expect("start");
    let r = f();
    // A task's last poll wakes its JoinHandle before the worker's after-poll hook runs: let
    // in-flight polls finish so that the trace ends between polls.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let summary = session.stop().expect("stop");
    assert_eq!(summary.lost_events, 0, "{summary}");
    let trace = Trace::from_bytes(sink.bytes()).expect("read back");
    trace.validate().expect("valid trace");
    #[cfg(not(miri))]
    assert_analysis_partition(&trace);
    (trace, r)
}

/// Checks, with the viewer's own model and task-state analysis, the partition of
/// docs/ARCHITECTURE.md ("Task states") on every task of a recorded trace: running,
/// scheduler wait, waiting and paused tile the task's lifetime with no gap and no overlap;
/// and no two polls overlap on one thread unless one is nested inside the other.
#[cfg(not(miri))]
pub fn assert_analysis_partition(trace: &Trace) {
    use trace_analysis::analysis::states::{for_each_segment, paused_spans};
    let m = trace_analysis::model::Model::build(trace).expect("the viewer loads the trace");
    let paused = paused_spans(&m);
    for task in 0..m.tasks.len() as u32 {
        let life = m.tasks[task as usize].lifetime(m.end);
        let mut at = life.start;
        for_each_segment(&m, trace_analysis::model::TaskIx(task), &paused, |s| {
            assert_eq!(s.span.start, at, "task {task}: gap or overlap at {s:?}");
            assert!(
                s.span.end > s.span.start,
                "task {task}: empty segment {s:?}"
            );
            at = s.span.end;
        });
        assert_eq!(
            at, life.end,
            "task {task}: states end before its lifetime does"
        );
    }
    for thread in 0..m.threads.len() as u32 {
        let polls = m.thread_polls(trace_analysis::model::ThreadIx(thread));
        let mut open: Vec<u64> = Vec::new(); // ends of the polls enclosing the current one
        for p in polls {
            while open.last().is_some_and(|&end| end <= p.start) {
                open.pop();
            }
            if let Some(&end) = open.last() {
                assert!(
                    p.end <= end,
                    "thread {thread}: poll {p:?} overlaps an enclosing poll"
                );
            }
            open.push(p.end);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wake {
    pub time: u64,
    pub thread: u32,
    pub waker: u64,
    pub source: WakeSource,
}

#[derive(Debug, Default, Clone)]
pub struct TaskInfo {
    pub spawn: Option<(u64, u32)>,
    pub kind: Option<TaskKind>,
    pub parent: u64,
    pub location: String,
    /// (start, end, ready, thread)
    pub polls: Vec<(u64, u64, bool, u32)>,
    pub wakes: Vec<Wake>,
    pub terminate: Option<u64>,
    pub latencies: Vec<u64>,
}

#[derive(Debug, Default)]
pub struct Model {
    pub tasks: BTreeMap<u64, TaskInfo>,
    pub thread_kinds: BTreeMap<u32, (ThreadKind, u32)>,
    /// (time, thread, event kind name)
    pub parks: Vec<(u64, u32, bool)>,
    pub blocking: Vec<(u64, u64, u32)>,
    pub runtime_samples: usize,
}

impl Model {
    pub fn build(trace: &Trace) -> Model {
        let mut m = Model::default();
        for thread in trace.thread_ids() {
            let mut open: Vec<(u64, u64)> = vec![];
            let mut blocking_open: Option<(u64, u64)> = None;
            for r in trace.thread_events(thread) {
                let r = r.expect("decode");
                let t = trace.to_nanos(r.time);
                match r.event {
                    Event::ThreadStart { kind, index } => {
                        m.thread_kinds.insert(thread, (kind, index));
                    }
                    Event::TaskSpawn {
                        task,
                        kind,
                        parent,
                        location,
                        ..
                    } => {
                        let e = m.tasks.entry(task.0).or_default();
                        e.spawn = Some((t, thread));
                        e.kind = Some(kind);
                        e.parent = parent.0;
                        e.location = trace
                            .location(location)
                            .map(|l| format!("{}:{}", l.file, l.line))
                            .unwrap_or_default();
                    }
                    Event::PollStart { task } => open.push((task.0, t)),
                    Event::PollEnd { ready } => {
                        let (task, start) = open.pop().expect("poll end without start");
                        m.tasks
                            .entry(task)
                            .or_default()
                            .polls
                            .push((start, t, ready, thread));
                    }
                    Event::Wake {
                        task,
                        waker,
                        source,
                    } => m.tasks.entry(task.0).or_default().wakes.push(Wake {
                        time: t,
                        thread,
                        waker: waker.0,
                        source,
                    }),
                    Event::TaskTerminate { task } => {
                        m.tasks.entry(task.0).or_default().terminate = Some(t);
                    }
                    Event::ScheduleLatency { task, nanos } => {
                        m.tasks.entry(task.0).or_default().latencies.push(nanos)
                    }
                    Event::WorkerPark => m.parks.push((t, thread, true)),
                    Event::WorkerUnpark => m.parks.push((t, thread, false)),
                    Event::BlockingStart { task } => blocking_open = Some((task.0, t)),
                    Event::BlockingEnd => {
                        if let Some((task, s)) = blocking_open.take() {
                            m.blocking.push((task, t - s, thread));
                        }
                    }
                    Event::RuntimeSample { .. } => m.runtime_samples += 1,
                    _ => {}
                }
            }
            assert!(open.is_empty() || open.len() == 1, "unbalanced polls");
        }
        for t in m.tasks.values_mut() {
            t.polls.sort();
            t.wakes.sort_by_key(|w| w.time);
        }
        m
    }

    /// Tasks spawned at a location containing `needle`.
    pub fn spawned_at(&self, needle: &str) -> Vec<(u64, &TaskInfo)> {
        self.tasks
            .iter()
            .filter(|(_, t)| t.location.contains(needle))
            .map(|(id, t)| (*id, t))
            .collect()
    }
}

/// A task's polls never overlap each other, and polls on one thread never overlap.
pub fn assert_polls_well_formed(m: &Model) {
    let mut per_thread: BTreeMap<u32, Vec<(u64, u64)>> = BTreeMap::new();
    for (id, t) in &m.tasks {
        for w in t.polls.windows(2) {
            assert!(w[0].1 <= w[1].0, "task {id}: polls overlap {w:?}");
        }
        for p in &t.polls {
            assert!(p.0 <= p.1, "task {id}: poll ends before it starts");
            per_thread.entry(p.3).or_default().push((p.0, p.1));
        }
        if let (Some((spawn, _)), Some(first)) = (t.spawn, t.polls.first()) {
            assert!(spawn <= first.0, "task {id} polled before spawned");
        }
        // The wake layer sees a `LocalSet` task end when its span closes, just after the
        // last poll (tokio has no terminate hook for them).
        if let (Some(end), Some(last)) = (t.terminate, t.polls.last())
            && t.kind != Some(TaskKind::Local)
        {
            assert!(last.2, "task {id}: last poll before terminate is not ready");
            assert!(
                last.0 <= end && end <= last.1,
                "task {id}: terminate {end} outside last poll {last:?} of {:?}",
                t.polls
            );
        }
    }
    for (thread, mut polls) in per_thread {
        polls.sort();
        for w in polls.windows(2) {
            assert!(w[0].1 <= w[1].0, "thread {thread}: polls overlap {w:?}");
        }
    }
}

/// Checks the task-state partition (docs/ARCHITECTURE.md, "Task states") on every task that
/// was spawned and terminated in the trace: from spawn to terminate, time is running (polls),
/// waiting (pending poll end → the wake that ends it) or scheduler wait (spawn or wake → poll
/// start), with no gap and no overlap. Needs wake events (wake mode).
pub fn assert_partition(m: &Model) {
    for (id, t) in &m.tasks {
        let (Some((spawn, _)), Some(end)) = (t.spawn, t.terminate) else {
            continue;
        };
        if t.kind != Some(TaskKind::Async) {
            continue;
        }
        let (mut running, mut waiting, mut sched) = (0u64, 0u64, 0u64);
        let mut ready_at = spawn; // runnable since
        let mut wakes = t.wakes.iter().peekable();
        for (i, &(start, stop, ready, _)) in t.polls.iter().enumerate() {
            assert!(
                start >= ready_at,
                "task {id}: poll {i} starts before it was runnable"
            );
            sched += start - ready_at;
            running += stop - start;
            // Wakes that happen while the task runs leave it runnable when the poll ends.
            let mut woken_during = false;
            while let Some(w) = wakes.peek() {
                if w.time <= stop {
                    woken_during = true;
                    wakes.next();
                } else {
                    break;
                }
            }
            if ready {
                assert_eq!(i + 1, t.polls.len(), "task {id}: polled after completing");
                break;
            }
            if woken_during {
                ready_at = stop;
            } else {
                let w = wakes
                    .next()
                    .unwrap_or_else(|| panic!("task {id}: pending poll {i} never woken: {t:?}"));
                waiting += w.time - stop;
                ready_at = w.time;
            }
        }
        let last_stop = t.polls.last().map_or(spawn, |p| p.1);
        let lifetime = last_stop - spawn;
        assert_eq!(
            running + waiting + sched,
            lifetime,
            "task {id}: partition does not add up"
        );
        assert!(
            end <= last_stop,
            "task {id}: terminated after its last poll"
        );
    }
}

/// A sink that holds every chunk write until released, like a stalled disk: producers that
/// finish while it is closed cannot have waited for the writer.
#[derive(Clone)]
pub struct StalledSink {
    pub inner: trace_rt::MemorySink,
    gate: std::sync::Arc<(Mutex<bool>, std::sync::Condvar)>,
}

impl StalledSink {
    pub fn new() -> Self {
        StalledSink {
            inner: trace_rt::MemorySink::new(),
            gate: Default::default(),
        }
    }

    pub fn release(&self) {
        *self.gate.0.lock().unwrap() = true;
        self.gate.1.notify_all();
    }
}

impl trace_rt::Sink for StalledSink {
    fn header(&mut self, header: &trace_format::Header) -> std::io::Result<()> {
        self.inner.header(header)
    }
    fn meta(&mut self, meta: &trace_format::Meta) -> std::io::Result<()> {
        self.inner.meta(meta)
    }
    fn events(
        &mut self,
        header: &trace_format::EventChunkHeader,
        events: &[u8],
    ) -> std::io::Result<()> {
        let mut open = self.gate.0.lock().unwrap();
        while !*open {
            open = self.gate.1.wait(open).unwrap();
        }
        drop(open);
        self.inner.events(header, events)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
    fn finish(&mut self, end: &trace_format::End) -> std::io::Result<u64> {
        self.inner.finish(end)
    }
}
