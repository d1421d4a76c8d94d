//! Building a [`Model`] from a [`Trace`].
//!
//! Each thread's chunks are decoded on a core of their own (rayon) into a [`Part`]: begins are
//! paired with ends on per-thread stacks that carry over chunk boundaries, so a poll split
//! across two chunks is still one poll. Holes (a `Lost` event, a gap in chunk sequence
//! numbers) close whatever is open as `cut`. The parts are then joined: task ids are mapped to
//! dense indexes, polls grouped per thread and indexed per task, wakes grouped per task, and
//! counter series merged.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;
use trace_format::{
    ChunkInfo, Event, Level, PauseScope, ReadError, StringId, TaskId, TaskKind, ThreadId,
    ThreadKind, Trace, WakeSource,
};

use super::{
    AllocSample, Anomalies, CounterKind, CounterSeries, Log, LostMarker, Model, NO_TASK, Nanos,
    Pause, Poll, Region, Span, Task, TaskIx, Thread, ThreadIx, Wake,
};

/// How far loading has got, in bytes of event data decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes decoded so far.
    pub done_bytes: u64,
    /// Bytes of event data in the trace.
    pub total_bytes: u64,
}

impl Progress {
    /// Done fraction in `[0, 1]`.
    pub fn fraction(&self) -> f64 {
        if self.total_bytes == 0 {
            1.0
        } else {
            self.done_bytes as f64 / self.total_bytes as f64
        }
    }
}

/// Options for [`Model::build_with`].
#[derive(Default, Clone, Copy)]
pub struct BuildOptions<'a> {
    /// Called (from any loading thread) after each chunk.
    pub progress: Option<&'a (dyn Fn(Progress) + Sync)>,
    /// Checked after each chunk; loading stops with [`BuildError::Canceled`] once it is set.
    pub cancel: Option<&'a AtomicBool>,
}

/// Why a model could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The trace could not be read (see [`crate::open::open_model`]).
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A chunk does not decode, or disagrees with its header: the file is damaged from the
    /// frame at `frame_offset` on. Of several damaged chunks, the first in file order
    /// that was decoded (each thread stops at its first), so a reader can salvage the
    /// prefix before it ([`crate::open::open_model`] does).
    #[error("{error}")]
    Damaged {
        /// File offset of the damaged chunk's frame.
        frame_offset: u64,
        /// What is wrong, as [`Trace::chunk_events`] says it.
        #[source]
        error: ReadError,
    },
    /// [`BuildOptions::cancel`] was set.
    #[error("loading was canceled")]
    Canceled,
}

impl Model {
    /// Decodes every event of `trace` into a model, using all cores.
    ///
    /// ```
    /// use trace_format::{Event, TaskId, build::TraceBuilder};
    /// let mut b = TraceBuilder::new();
    /// b.push(0, 100, Event::PollStart { task: TaskId(7) });
    /// b.push(0, 250, Event::PollEnd { ready: true });
    /// let trace = trace_format::Trace::from_bytes(b.to_bytes())?;
    /// let model = trace_analysis::model::Model::build(&trace)?;
    /// assert_eq!(model.polls.len(), 1);
    /// assert_eq!(model.polls[0].span().len(), 150);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(trace: &Trace) -> Result<Model, BuildError> {
        Self::build_with(trace, BuildOptions::default())
    }

    /// [`Model::build`] with progress reports and cancellation.
    pub fn build_with(trace: &Trace, options: BuildOptions<'_>) -> Result<Model, BuildError> {
        let mut by_thread: BTreeMap<ThreadId, Vec<&ChunkInfo>> = BTreeMap::new();
        for c in trace.chunks() {
            by_thread.entry(c.header.thread).or_default().push(c);
        }
        for chunks in by_thread.values_mut() {
            chunks.sort_by_key(|c| c.header.seq);
        }
        let total_bytes = trace.chunks().iter().map(|c| u64::from(c.events_len)).sum();
        let done = AtomicU64::new(0);
        let tracker = Tracker {
            options,
            done: &done,
            total_bytes,
        };
        let results: Vec<Result<Part, BuildError>> = by_thread
            .into_par_iter()
            .map(|(thread, chunks)| decode_thread(trace, thread, &chunks, &tracker))
            .collect();
        let mut parts = Vec::with_capacity(results.len());
        let mut failed: Option<BuildError> = None;
        for result in results {
            match result {
                Ok(part) => parts.push(part),
                // Every thread is decoded to its end or first damage (no short cut), so the
                // error is the same whichever thread finishes first.
                Err(e) => {
                    failed = Some(match failed {
                        Some(f) => f.first(e),
                        None => e,
                    })
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(assemble(trace, parts)),
        }
    }
}

impl BuildError {
    /// Of two errors from different threads, the one to report: a cancel, else the damage
    /// earlier in the file.
    fn first(self, other: BuildError) -> BuildError {
        match (&self, &other) {
            (
                BuildError::Damaged {
                    frame_offset: a, ..
                },
                BuildError::Damaged {
                    frame_offset: b, ..
                },
            ) if b < a => other,
            (BuildError::Damaged { .. }, BuildError::Canceled) => other,
            _ => self,
        }
    }
}

struct Tracker<'a> {
    options: BuildOptions<'a>,
    done: &'a AtomicU64,
    total_bytes: u64,
}

impl Tracker<'_> {
    fn chunk_done(&self, bytes: u64) -> Result<(), BuildError> {
        let done_bytes = self.done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(progress) = self.options.progress {
            progress(Progress {
                done_bytes,
                total_bytes: self.total_bytes,
            });
        }
        match self.options.cancel {
            Some(c) if c.load(Ordering::Relaxed) => Err(BuildError::Canceled),
            _ => Ok(()),
        }
    }
}

struct RawPoll {
    start: Nanos,
    end: Nanos,
    task: TaskId,
    ready: bool,
    cut: bool,
}

struct RawSpawn {
    time: Nanos,
    task: TaskId,
    kind: TaskKind,
    tokio_id: u64,
    parent: TaskId,
    location: trace_format::LocationId,
    name: StringId,
}

struct RawWake {
    time: Nanos,
    task: TaskId,
    waker: TaskId,
    source: WakeSource,
}

struct RawPause {
    span: Span,
    kind: StringId,
    scope: PauseScope,
    depth: u16,
    cut: bool,
}

struct RawRegion {
    span: Span,
    id: u64,
    name: StringId,
    task: TaskId,
    depth: u16,
    cut: bool,
}

struct RawLog {
    time: Nanos,
    task: TaskId,
    level: Level,
    target: StringId,
    message: Box<str>,
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum RawCounter {
    GlobalQueue,
    AliveTasks,
    BlockingThreads,
    WorkerQueue(u32),
    User(StringId),
}

/// Everything one thread's chunks say, with begins and ends paired.
#[derive(Default)]
struct Part {
    thread: ThreadId,
    kind: Option<ThreadKind>,
    index: u32,
    start: Option<Nanos>,
    stop: Option<Nanos>,
    first: Option<Nanos>,
    last: Nanos,
    events: u64,
    polls: Vec<RawPoll>,
    parks: Vec<Span>,
    pauses: Vec<RawPause>,
    regions: Vec<RawRegion>,
    spawns: Vec<RawSpawn>,
    wakes: Vec<RawWake>,
    terminates: Vec<(Nanos, TaskId)>,
    latencies: Vec<(Nanos, TaskId, u64)>,
    logs: Vec<RawLog>,
    counters: Vec<(Nanos, RawCounter, f64)>,
    /// `(time, bytes allocated, bytes freed)` since the thread's previous counters.
    alloc: Blocks<(Nanos, u64, u64)>,
    samples: Vec<(Nanos, u64, TaskId)>,
    lost: Vec<(Nanos, u64, u64)>,
    // Open at the end of the thread's data: closed by `assemble` at the end of the trace.
    open_polls: Vec<(Nanos, TaskId)>,
    open_park: Option<Nanos>,
    /// The first unpark of a worker that was parked before the recording started.
    parked_at_start: Option<Nanos>,
    open_pauses: Vec<(Nanos, StringId, PauseScope)>,
    /// Process-wide pause begins (`true`) and ends, paired across threads by `assemble`.
    process_pause_marks: Vec<(Nanos, StringId, bool)>,
    open_regions: Vec<(Nanos, u64, StringId, TaskId)>,
    unmatched_ends: u64,
    cut_intervals: u64,
}

impl Part {
    fn current_task(&self) -> TaskId {
        self.open_polls.last().map_or(TaskId::NONE, |p| p.1)
    }

    /// Closes everything open at `at` because the data after it is missing.
    fn cut_open(&mut self, at: Nanos) {
        self.close_open(at, at, true);
    }

    /// Closes open intervals at `at`, and an open park (idle) at `idle_until`.
    fn close_open(&mut self, at: Nanos, idle_until: Nanos, cut: bool) {
        while let Some((start, task)) = self.open_polls.pop() {
            self.polls.push(RawPoll {
                start,
                end: at.max(start),
                task,
                ready: false,
                cut,
            });
            self.cut_intervals += u64::from(cut);
        }
        if let Some(start) = self.open_park.take() {
            self.parks.push(Span {
                start,
                end: idle_until.max(start),
            });
        }
        while let Some((start, kind, scope)) = self.open_pauses.pop() {
            let depth = self.open_pauses.len() as u16;
            self.pauses.push(RawPause {
                span: Span {
                    start,
                    end: at.max(start),
                },
                kind,
                scope,
                depth,
                cut,
            });
            self.cut_intervals += u64::from(cut);
        }
        while let Some((start, id, name, task)) = self.open_regions.pop() {
            let depth = self.open_regions.len() as u16;
            self.regions.push(RawRegion {
                span: Span {
                    start,
                    end: at.max(start),
                },
                id,
                name,
                task,
                depth,
                cut,
            });
            self.cut_intervals += u64::from(cut);
        }
    }

    fn end_poll(&mut self, t: Nanos, ready: bool) {
        match self.open_polls.pop() {
            Some((start, task)) => self.polls.push(RawPoll {
                start,
                end: t.max(start),
                task,
                ready,
                cut: false,
            }),
            None => self.unmatched_ends += 1,
        }
    }

    fn apply(&mut self, t: Nanos, event: Event<'_>) {
        match event {
            Event::ThreadStart { kind, index } => {
                // The first declaration, unless a later one says worker: tokio starts its
                // workers as blocking-pool threads (the summary uses the same rule).
                if self.kind.is_none() || kind == ThreadKind::Worker {
                    self.kind = Some(kind);
                    self.index = index;
                }
                self.start.get_or_insert(t);
            }
            Event::ThreadStop => self.stop = Some(t),
            Event::WorkerPark => {
                if let Some(start) = self.open_park.replace(t) {
                    self.parks.push(Span::new(start, t));
                }
            }
            Event::WorkerUnpark => match self.open_park.take() {
                Some(start) => self.parks.push(Span::new(start, t)),
                // A worker parked when the recording started: idle since then.
                None if self.parks.is_empty()
                    && self.polls.is_empty()
                    && self.open_polls.is_empty()
                    && self.parked_at_start.is_none() =>
                {
                    self.parked_at_start = Some(t)
                }
                None => self.unmatched_ends += 1,
            },
            Event::TaskSpawn {
                task,
                kind,
                tokio_id,
                parent,
                location,
                name,
            } => self.spawns.push(RawSpawn {
                time: t,
                task,
                kind,
                tokio_id,
                parent,
                location,
                name,
            }),
            Event::PollStart { task } | Event::BlockingStart { task } => {
                self.open_polls.push((t, task))
            }
            Event::PollEnd { ready } => self.end_poll(t, ready),
            Event::BlockingEnd => self.end_poll(t, true),
            Event::Wake {
                task,
                waker,
                source,
            } => self.wakes.push(RawWake {
                time: t,
                task,
                waker,
                source,
            }),
            Event::TaskTerminate { task } => self.terminates.push((t, task)),
            Event::ScheduleLatency { task, nanos } => {
                // Recorded right after its poll starts, with a clock read of its own: keep
                // the poll's start time so the analysis can find the poll it belongs to.
                let at = match self.open_polls.last() {
                    Some(&(start, open)) if open == task => start,
                    _ => t,
                };
                self.latencies.push((at, task, nanos));
            }
            Event::AllocCounters {
                alloc_bytes,
                free_bytes,
                ..
            } => self.alloc.push((t, alloc_bytes, free_bytes)),
            Event::AllocSample { size, task } | Event::AllocSampleAt { size, task, .. } => {
                self.samples.push((t, size, task))
            }
            // A process-wide guard may be dropped on another thread: paired in `assemble`.
            Event::PauseBegin {
                kind,
                scope: PauseScope::Process,
            } => self.process_pause_marks.push((t, kind, true)),
            Event::PauseEnd {
                kind,
                scope: PauseScope::Process,
            } => self.process_pause_marks.push((t, kind, false)),
            Event::PauseBegin { kind, scope } => self.open_pauses.push((t, kind, scope)),
            Event::PauseEnd { kind, scope } => {
                match self
                    .open_pauses
                    .iter()
                    .rposition(|&(_, k, s)| k == kind && s == scope)
                {
                    Some(i) => {
                        let (start, kind, scope) = self.open_pauses.remove(i);
                        self.pauses.push(RawPause {
                            span: Span::new(start, t),
                            kind,
                            scope,
                            depth: i as u16,
                            cut: false,
                        });
                    }
                    None => self.unmatched_ends += 1,
                }
            }
            Event::RegionBegin { id, name } => {
                let task = self.current_task();
                self.open_regions.push((t, id, name, task));
            }
            Event::RegionEnd { id } => match self.open_regions.iter().rposition(|r| r.1 == id) {
                Some(i) => {
                    let (start, id, name, task) = self.open_regions.remove(i);
                    self.regions.push(RawRegion {
                        span: Span::new(start, t),
                        id,
                        name,
                        task,
                        depth: i as u16,
                        cut: false,
                    });
                }
                None => self.unmatched_ends += 1,
            },
            Event::Log {
                level,
                target,
                message,
            } => {
                let task = self.current_task();
                self.logs.push(RawLog {
                    time: t,
                    task,
                    level,
                    target,
                    message: message.into(),
                });
            }
            Event::Counter { name, value } => {
                self.counters
                    .push((t, RawCounter::User(name), value as f64))
            }
            Event::RuntimeSample {
                global_queue,
                alive_tasks,
                blocking_threads,
            } => {
                self.counters
                    .push((t, RawCounter::GlobalQueue, global_queue as f64));
                self.counters
                    .push((t, RawCounter::AliveTasks, alive_tasks as f64));
                self.counters
                    .push((t, RawCounter::BlockingThreads, blocking_threads as f64));
            }
            Event::WorkerQueueSample { worker, depth } => {
                self.counters
                    .push((t, RawCounter::WorkerQueue(worker), depth as f64))
            }
            Event::Lost { chunks, events } => {
                let before = self.last;
                self.cut_open(before);
                self.lost.push((t, chunks, events));
            }
            // Stacks are read from the trace's code records by the views that show them.
            Event::CpuSample { .. } | Event::StallSample { .. } | Event::Unknown { .. } => {}
        }
    }
}

fn decode_thread(
    trace: &Trace,
    thread: ThreadId,
    chunks: &[&ChunkInfo],
    tracker: &Tracker<'_>,
) -> Result<Part, BuildError> {
    let mut part = Part {
        thread,
        ..Part::default()
    };
    let mut expected_seq = None;
    for chunk in chunks {
        let seq = chunk.header.seq;
        if let Some(expected) = expected_seq
            && seq > expected
        {
            // Chunks missing from the file: whatever was open may have ended in them.
            let before = part.last;
            part.cut_open(before);
            let at = trace.to_nanos(chunk.header.base_time);
            part.lost.push((at, u64::from(seq - expected), 0));
        }
        expected_seq = Some(seq.wrapping_add(1));
        for item in trace.chunk_events(chunk) {
            let (time, event) = item.map_err(|error| BuildError::Damaged {
                frame_offset: chunk.offset,
                error,
            })?;
            let t = trace.to_nanos(time);
            part.first.get_or_insert(t);
            part.apply(t, event);
            part.last = part.last.max(t);
            part.events += 1;
        }
        tracker.chunk_done(u64::from(chunk.events_len))?;
    }
    Ok(part)
}

/// How long before its last event a cut recording may be missing data: a recorder hands
/// every thread's events to its writer within the flush interval (also a thread that went
/// quiet), which writes them within [`WRITE_SLACK_NS`] more. Recorders say their interval in
/// the header feature `flush_interval_ns`; 1 s is the default of those that do not.
const DEFAULT_FLUSH_INTERVAL_NS: Nanos = 1_000_000_000;
/// The writer's own delay before data reaches the file (its 10 ms rounds and 100 ms flushes).
const WRITE_SLACK_NS: Nanos = 150_000_000;

/// [`Model::complete_until`]: `end` for a finished recording, else `end` less the time the
/// recorder may have held data back.
fn complete_until(trace: &Trace, end: Nanos) -> Nanos {
    if trace.end().is_some() {
        return end;
    }
    let flush = trace
        .header()
        .features
        .iter()
        .find(|(k, _)| k == "flush_interval_ns")
        .and_then(|(_, v)| v.parse::<Nanos>().ok())
        .unwrap_or(DEFAULT_FLUSH_INTERVAL_NS);
    end.saturating_sub(flush.saturating_add(WRITE_SLACK_NS))
}

/// Dense task indexes for the file's task ids.
struct TaskTable {
    tasks: Vec<Task>,
    index: HashMap<u64, TaskIx, foldhash::fast::RandomState>,
}

impl TaskTable {
    /// The index of `id`, adding a task first seen at `time` if the trace has not spawned it.
    fn get_or_add(&mut self, id: TaskId, time: Nanos) -> TaskIx {
        if id == TaskId::NONE {
            return NO_TASK;
        }
        if let Some(&ix) = self.index.get(&id.0) {
            let task = &mut self.tasks[ix as usize];
            if task.spawn.is_none() && time < task.first_seen {
                task.first_seen = time;
            }
            return ix;
        }
        let ix = self.tasks.len() as TaskIx;
        self.tasks.push(Task {
            id,
            kind: None,
            tokio_id: 0,
            parent: NO_TASK,
            location: trace_format::LocationId::NONE,
            name: StringId::NONE,
            spawn: None,
            terminate: None,
            first_seen: time,
        });
        self.index.insert(id.0, ix);
        ix
    }

    /// The index of `id` if the trace knows it.
    fn get(&self, id: TaskId) -> TaskIx {
        self.index.get(&id.0).copied().unwrap_or(NO_TASK)
    }
}

fn assemble(trace: &Trace, mut parts: Vec<Part>) -> Model {
    let mut anomalies = Anomalies::default();
    let start = parts.iter().filter_map(|p| p.first).min().unwrap_or(0);
    let mut end = parts.iter().map(|p| p.last).max().unwrap_or(0);
    if let Some(e) = trace.end() {
        end = end.max(trace.to_nanos(e.end_time));
    }

    // Whatever is still open ran until the recording stopped; in a cut recording, until at
    // least the time up to which the file is known to be complete (a poll that started
    // before it and has no end in the file was still running there; one that started after
    // it may have ended in the missing tail). Idle stays idle to the end either way.
    let complete_until = complete_until(trace, end);
    for part in &mut parts {
        part.close_open(complete_until, end, true);
        anomalies.cut_intervals += part.cut_intervals;
        anomalies.unmatched_ends += part.unmatched_ends;
    }

    // Tasks: spawned ones by spawn time, then the others by first sight.
    let mut spawns: Vec<RawSpawn> = parts
        .iter_mut()
        .flat_map(|p| std::mem::take(&mut p.spawns))
        .collect();
    spawns.par_sort_unstable_by_key(|s| (s.time, s.task));
    let mut table = TaskTable {
        tasks: Vec::with_capacity(spawns.len()),
        index: HashMap::with_capacity_and_hasher(spawns.len(), Default::default()),
    };
    let mut parents = Vec::with_capacity(spawns.len());
    for s in &spawns {
        if s.task == TaskId::NONE {
            anomalies.events_without_task += 1;
            continue;
        }
        if table.index.contains_key(&s.task.0) {
            anomalies.duplicate_spawns += 1;
            continue;
        }
        let ix = table.get_or_add(s.task, s.time);
        let task = &mut table.tasks[ix as usize];
        task.kind = Some(s.kind);
        task.tokio_id = s.tokio_id;
        task.location = s.location;
        task.name = s.name;
        task.spawn = Some(s.time);
        parents.push((ix, s.parent));
    }
    drop(spawns);

    // Polls, grouped by thread.
    let mut polls = Vec::with_capacity(parts.iter().map(|p| p.polls.len()).sum());
    let mut threads = Vec::with_capacity(parts.len());
    for (thread_ix, part) in parts.iter_mut().enumerate() {
        let mut raw = std::mem::take(&mut part.polls);
        if !raw.is_sorted_by_key(|p| p.start) {
            // Nested polls end inner-first; order by start, outer before inner.
            raw.sort_by_key(|p| (p.start, std::cmp::Reverse(p.end)));
        }
        let first = polls.len() as u32;
        for p in &raw {
            if p.task == TaskId::NONE {
                anomalies.events_without_task += 1;
                continue;
            }
            let task = table.get_or_add(p.task, p.start);
            polls.push(Poll::new(
                p.start,
                p.end,
                task,
                thread_ix as ThreadIx,
                p.ready,
                p.cut,
            ));
        }
        let range = first..polls.len() as u32;
        let own = &polls[range.start as usize..];
        let poll_end_max = (!own.is_sorted_by_key(|p| p.end)).then(|| {
            own.iter()
                .scan(0, |max, p| {
                    *max = p.end.max(*max);
                    Some(*max)
                })
                .collect()
        });
        let def = trace.threads().get(&part.thread);
        let mut parks = std::mem::take(&mut part.parks);
        if let Some(unpark) = part.parked_at_start {
            parks.push(Span::new(start, unpark));
        }
        parks.sort_by_key(|s| s.start);
        threads.push(Thread {
            id: part.thread,
            name: def.map(|d| d.name.clone()).unwrap_or_default(),
            kind: part.kind,
            index: part.index,
            start: part.start.or(part.first),
            stop: part.stop,
            polls: range,
            parks,
            pauses: Vec::new(),
            regions: Vec::new(),
            poll_end_max,
        });
    }

    for &(ix, parent) in &parents {
        table.tasks[ix as usize].parent = table.get(parent);
    }

    // Wakes: wakers first (a waker with no polls in the file is still a task).
    let mut wakes = Vec::with_capacity(parts.iter().map(|p| p.wakes.len()).sum());
    for (thread_ix, part) in parts.iter_mut().enumerate() {
        for w in std::mem::take(&mut part.wakes) {
            if w.task == TaskId::NONE {
                anomalies.events_without_task += 1;
                continue;
            }
            let waker = table.get_or_add(w.waker, w.time);
            let task = table.get_or_add(w.task, w.time);
            wakes.push(Wake {
                time: w.time,
                task,
                waker,
                thread: thread_ix as ThreadIx,
                source: w.source,
            });
        }
    }

    for part in &parts {
        for &(t, id) in &part.terminates {
            if id == TaskId::NONE {
                anomalies.events_without_task += 1;
                continue;
            }
            let ix = table.get_or_add(id, t);
            let task = &mut table.tasks[ix as usize];
            task.terminate = Some(task.terminate.map_or(t, |old| old.min(t)));
        }
    }

    let mut schedule_latencies = Vec::new();
    let mut logs = Vec::new();
    let mut alloc_samples = Vec::new();
    let mut process_pauses = Vec::new();
    let mut lost = Vec::new();
    for (thread_ix, part) in parts.iter_mut().enumerate() {
        let thread = thread_ix as ThreadIx;
        for &(t, id, nanos) in &part.latencies {
            if id != TaskId::NONE {
                schedule_latencies.push((t, table.get_or_add(id, t), nanos));
            }
        }
        for l in std::mem::take(&mut part.logs) {
            logs.push(Log {
                time: l.time,
                thread,
                task: table.get_or_add(l.task, l.time),
                level: l.level,
                target: l.target,
                message: l.message,
            });
        }
        for &(time, size, id) in &part.samples {
            alloc_samples.push(AllocSample {
                time,
                size,
                task: table.get_or_add(id, time),
                thread,
            });
        }
        let mut own_pauses = Vec::new();
        for p in std::mem::take(&mut part.pauses) {
            let pause = Pause {
                span: p.span,
                kind: p.kind,
                scope: p.scope,
                thread,
                depth: p.depth,
                cut: p.cut,
            };
            match p.scope {
                PauseScope::Process => process_pauses.push(pause),
                PauseScope::Thread => own_pauses.push(pause),
            }
        }
        own_pauses.sort_by_key(|p| (p.span.start, p.depth));
        threads[thread_ix].pauses = own_pauses;
        let mut regions: Vec<Region> = std::mem::take(&mut part.regions)
            .into_iter()
            .map(|r| Region {
                span: r.span,
                id: r.id,
                name: r.name,
                task: table.get_or_add(r.task, r.span.start),
                depth: r.depth,
                cut: r.cut,
            })
            .collect();
        regions.sort_by_key(|r| (r.span.start, r.depth));
        threads[thread_ix].regions = regions;
        for &(time, chunks, events) in &part.lost {
            lost.push(LostMarker {
                time,
                thread,
                chunks,
                events,
            });
        }
    }
    schedule_latencies.sort_unstable_by_key(|&(t, task, _)| (task, t));
    logs.sort_by_key(|l| l.time);
    alloc_samples.sort_by_key(|s| s.time);
    pair_process_pauses(&mut parts, end, &mut process_pauses, &mut anomalies);
    process_pauses.sort_by_key(|p| (p.span.start, p.depth));
    lost.sort_by_key(|l| (l.time, l.thread));

    let counters = counter_series(trace, &mut parts);

    // Per-task indexes: polls (counting sort, then time order within each task), wakes.
    let tasks = table.tasks;
    let n = tasks.len();
    let mut task_poll_offsets = vec![0u32; n + 1];
    for p in &polls {
        task_poll_offsets[p.task as usize + 1] += 1;
    }
    for i in 0..n {
        task_poll_offsets[i + 1] += task_poll_offsets[i];
    }
    let mut fill = task_poll_offsets.clone();
    let mut task_poll_index = vec![0u32; polls.len()];
    for (i, p) in polls.iter().enumerate() {
        let slot = &mut fill[p.task as usize];
        task_poll_index[*slot as usize] = i as u32;
        *slot += 1;
    }
    for t in 0..n {
        let slice =
            &mut task_poll_index[task_poll_offsets[t] as usize..task_poll_offsets[t + 1] as usize];
        if !slice.is_sorted_by_key(|&i| polls[i as usize].start) {
            slice.sort_by_key(|&i| polls[i as usize].start);
        }
        let mut prev_end = 0;
        for &i in slice.iter() {
            let p = &polls[i as usize];
            if p.start < prev_end {
                anomalies.overlapping_polls += 1;
            }
            prev_end = prev_end.max(p.end);
        }
    }
    wakes.par_sort_unstable_by_key(|w| (w.task, w.time, w.thread));
    let mut task_wake_offsets = vec![0u32; n + 1];
    for w in &wakes {
        task_wake_offsets[w.task as usize + 1] += 1;
    }
    for i in 0..n {
        task_wake_offsets[i + 1] += task_wake_offsets[i];
    }

    let mut model = Model {
        header: trace.header().clone(),
        complete_until,
        end_record: trace.end().cloned(),
        warnings: trace.warnings().to_vec(),
        end,
        start,
        events: parts.iter().map(|p| p.events).sum(),
        threads,
        tasks,
        polls,
        wakes,
        process_pauses,
        counters,
        logs,
        alloc_samples,
        schedule_latencies,
        lost,
        anomalies,
        task_poll_index,
        task_poll_offsets,
        task_wake_offsets,
        strings: trace
            .strings()
            .map(|(id, s)| (id.0, s.to_string()))
            .collect(),
        locations: trace.locations().map(|l| (l.id, l.clone())).collect(),
    };
    // tokio reports completion from inside the final poll: a task ends when that poll does.
    for ix in 0..model.tasks.len() {
        if let Some(last) = model.task_polls(ix as TaskIx).map(|p| p.end).max()
            && let Some(term) = model.tasks[ix].terminate
        {
            model.tasks[ix].terminate = Some(term.max(last));
        }
    }
    model
}

/// Pairs process-wide pause begins and ends across threads (a guard may be dropped on another
/// thread than the one that took it), in time order: an end closes the latest open pause of
/// its kind. Pauses still open at the end of the trace are closed there as cut.
fn pair_process_pauses(
    parts: &mut [Part],
    end: Nanos,
    out: &mut Vec<Pause>,
    anomalies: &mut Anomalies,
) {
    let mut marks: Vec<(Nanos, ThreadIx, StringId, bool)> = Vec::new();
    for (thread, part) in parts.iter_mut().enumerate() {
        for (t, kind, begin) in std::mem::take(&mut part.process_pause_marks) {
            marks.push((t, thread as ThreadIx, kind, begin));
        }
    }
    marks.sort_by_key(|m| (m.0, m.1));
    let mut open: Vec<(Nanos, ThreadIx, StringId)> = Vec::new();
    for (t, thread, kind, begin) in marks {
        if begin {
            open.push((t, thread, kind));
            continue;
        }
        match open.iter().rposition(|o| o.2 == kind) {
            Some(i) => {
                let (start, thread, kind) = open.remove(i);
                out.push(Pause {
                    span: Span::new(start, t),
                    kind,
                    scope: PauseScope::Process,
                    thread,
                    depth: i as u16,
                    cut: false,
                });
            }
            None => anomalies.unmatched_ends += 1,
        }
    }
    while let Some((start, thread, kind)) = open.pop() {
        anomalies.cut_intervals += 1;
        out.push(Pause {
            span: Span::new(start, end),
            kind,
            scope: PauseScope::Process,
            thread,
            depth: open.len() as u16,
            cut: true,
        });
    }
}

fn counter_series(trace: &Trace, parts: &mut [Part]) -> Vec<CounterSeries> {
    let mut by_kind: BTreeMap<RawCounter, Vec<(Nanos, f64)>> = BTreeMap::new();
    for part in parts.iter_mut() {
        for (t, kind, v) in std::mem::take(&mut part.counters) {
            by_kind.entry(kind).or_default().push((t, v));
        }
    }
    let mut series: Vec<CounterSeries> = by_kind
        .into_iter()
        .map(|(kind, mut points)| {
            points.sort_by_key(|p| p.0);
            let kind = match kind {
                RawCounter::GlobalQueue => CounterKind::GlobalQueue,
                RawCounter::AliveTasks => CounterKind::AliveTasks,
                RawCounter::BlockingThreads => CounterKind::BlockingThreads,
                RawCounter::WorkerQueue(i) => CounterKind::WorkerQueue(i),
                RawCounter::User(name) => {
                    CounterKind::User(trace.string(name).unwrap_or("").to_string())
                }
            };
            CounterSeries { kind, points }
        })
        .collect();

    // The allocator's counters are often most of a trace's events: merge the threads' lists
    // (each in time order) straight into the two series, freeing each block of the input as
    // it is consumed, so the input and the series are never both held whole.
    let total: usize = parts.iter().map(|p| p.alloc.len()).sum();
    if total > 0 {
        let lists: Vec<_> = parts
            .iter_mut()
            .map(|p| std::mem::take(&mut p.alloc).into_sorted_iter(|a| a.0))
            .collect();
        let (mut heap, mut allocated) = (0i128, 0u128);
        let mut heap_points = Vec::with_capacity(total);
        let mut alloc_points = Vec::with_capacity(total);
        for (t, a, f) in merge_by_key(lists, |a| a.0) {
            heap += i128::from(a) - i128::from(f);
            allocated += u128::from(a);
            heap_points.push((t, heap as f64));
            alloc_points.push((t, allocated as f64));
        }
        series.push(CounterSeries {
            kind: CounterKind::HeapInUse,
            points: heap_points,
        });
        series.push(CounterSeries {
            kind: CounterKind::AllocatedBytes,
            points: alloc_points,
        });
    }
    series
}

/// Items in blocks of [`Blocks::BLOCK`]: growing never copies what is there, and consuming
/// it ([`Blocks::into_sorted_iter`]) frees each block as soon as it has been read.
struct Blocks<T> {
    blocks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Default for Blocks<T> {
    fn default() -> Self {
        Blocks {
            blocks: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Blocks<T> {
    const BLOCK: usize = 1 << 16;

    fn push(&mut self, item: T) {
        match self.blocks.last_mut() {
            Some(last) if last.len() < Self::BLOCK => last.push(item),
            _ => {
                let mut block = Vec::with_capacity(Self::BLOCK);
                block.push(item);
                self.blocks.push(block);
            }
        }
        self.len += 1;
    }

    fn len(&self) -> usize {
        self.len
    }

    /// The items ordered by `key` (stable: equal keys keep their order). Items that are in
    /// order already, as a thread's events are, are yielded block by block, each freed once
    /// read; otherwise they are gathered and sorted first.
    fn into_sorted_iter<K: Ord>(
        self,
        key: impl Fn(&T) -> K,
    ) -> std::iter::Flatten<std::vec::IntoIter<Vec<T>>> {
        let sorted = self
            .blocks
            .iter()
            .flatten()
            .zip(self.blocks.iter().flatten().skip(1))
            .all(|(a, b)| key(a) <= key(b));
        if sorted {
            return self.blocks.into_iter().flatten();
        }
        let mut all: Vec<T> = self.blocks.into_iter().flatten().collect();
        all.sort_by_key(key);
        vec![all].into_iter().flatten()
    }
}

/// Merges lists that are each ordered by `key` into one ordered list (ties: the earlier
/// list first, like a stable sort of their concatenation).
fn merge_by_key<T, K: Ord + Copy, I: Iterator<Item = T>>(
    lists: Vec<I>,
    key: impl Fn(&T) -> K,
) -> impl Iterator<Item = T> {
    let mut heads: Vec<std::iter::Peekable<I>> =
        lists.into_iter().map(Iterator::peekable).collect();
    let mut heap: std::collections::BinaryHeap<std::cmp::Reverse<(K, usize)>> = heads
        .iter_mut()
        .enumerate()
        .filter_map(|(i, h)| h.peek().map(|x| std::cmp::Reverse((key(x), i))))
        .collect();
    std::iter::from_fn(move || {
        let std::cmp::Reverse((_, i)) = heap.pop()?;
        let item = heads[i].next()?;
        if let Some(next) = heads[i].peek() {
            heap.push(std::cmp::Reverse((key(next), i)));
        }
        Some(item)
    })
}

#[cfg(test)]
mod merge_tests {
    use super::*;

    #[test]
    fn merging_is_a_stable_sort_of_the_concatenation() {
        let lists = vec![
            vec![(1, 'a'), (3, 'a'), (3, 'b'), (9, 'a')],
            vec![],
            vec![(0, 'c'), (3, 'c'), (10, 'c')],
            vec![(3, 'd')],
        ];
        let mut want: Vec<(i32, char)> = lists.iter().flatten().copied().collect();
        want.sort_by_key(|x| x.0);
        let got: Vec<_> =
            merge_by_key(lists.into_iter().map(Vec::into_iter).collect(), |x| x.0).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn blocks_keep_order_and_sort_when_needed() {
        let mut b = Blocks::default();
        let n = Blocks::<(u64, u64)>::BLOCK * 2 + 5;
        for i in 0..n as u64 {
            b.push((i / 3, i));
        }
        assert_eq!(b.len(), n);
        assert_eq!(b.blocks.len(), 3);
        let got: Vec<_> = b.into_sorted_iter(|x| x.0).collect();
        assert_eq!(got.len(), n);
        assert!(got.windows(2).all(|w| w[0].1 + 1 == w[1].1));

        // Out of order (a damaged file's times): sorted, stable for equal keys.
        let mut b = Blocks::default();
        for x in [(5, 0), (1, 1), (5, 2), (0, 3)] {
            b.push(x);
        }
        let got: Vec<_> = b.into_sorted_iter(|x| x.0).collect();
        assert_eq!(got, [(0, 3), (1, 1), (5, 0), (5, 2)]);
    }
}
