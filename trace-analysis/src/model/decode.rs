//! Decoding one thread's events into a [`Part`]: begins are paired with ends on per-thread
//! stacks that carry over chunk boundaries, so a poll split across two chunks is still one
//! poll, and holes (a `Lost` event, missing chunks) close whatever is open as `cut`. A part
//! holds the file's task ids; [`super::assemble`] maps them to the model's tables.

use trace_format::{
    ChunkInfo, Event, Level, PauseScope, ReadError, StackId, StringId, TaskId, TaskKind, ThreadId,
    ThreadKind, Trace, WakeSource,
};

use super::blocks::Blocks;
use super::spans::SpanMark;
use super::tables::{Nanos, SampleKind, Span};

/// A poll, paired; its task is the file's id.
pub(super) struct RawPoll {
    pub(super) start: Nanos,
    pub(super) end: Nanos,
    pub(super) task: TaskId,
    pub(super) ready: bool,
    pub(super) cut: bool,
}

/// A `TaskSpawn` event.
pub(super) struct RawSpawn {
    pub(super) time: Nanos,
    pub(super) task: TaskId,
    pub(super) kind: TaskKind,
    pub(super) tokio_id: u64,
    pub(super) parent: TaskId,
    pub(super) location: trace_format::LocationId,
    pub(super) name: StringId,
}

/// A `Wake` event.
pub(super) struct RawWake {
    pub(super) time: Nanos,
    pub(super) task: TaskId,
    pub(super) waker: TaskId,
    pub(super) source: WakeSource,
}

/// A pause, paired (process-wide ones are paired across threads later).
pub(super) struct RawPause {
    pub(super) span: Span,
    pub(super) kind: StringId,
    pub(super) scope: PauseScope,
    pub(super) depth: u16,
    pub(super) cut: bool,
}

/// A `tracing` region, paired.
pub(super) struct RawRegion {
    pub(super) span: Span,
    pub(super) id: u64,
    pub(super) name: StringId,
    pub(super) task: TaskId,
    pub(super) depth: u16,
    pub(super) cut: bool,
}

/// A log line.
pub(super) struct RawLog {
    pub(super) time: Nanos,
    pub(super) task: TaskId,
    pub(super) level: Level,
    pub(super) target: StringId,
    pub(super) message: Box<str>,
}

/// A CPU, stall or allocation sample; its task is the file's id.
pub(super) struct RawSample {
    pub(super) time: Nanos,
    pub(super) kind: SampleKind,
    pub(super) task: TaskId,
    pub(super) stack: StackId,
    pub(super) size: u64,
}

/// Which series a counter point belongs to, before user counters' names are resolved.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum RawCounter {
    GlobalQueue,
    AliveTasks,
    BlockingThreads,
    WorkerQueue(u32),
    User(StringId),
}

/// Everything one thread's chunks say, with begins and ends paired.
#[derive(Default)]
pub(super) struct Part {
    pub(super) thread: ThreadId,
    pub(super) kind: Option<ThreadKind>,
    pub(super) index: u32,
    pub(super) start: Option<Nanos>,
    pub(super) stop: Option<Nanos>,
    pub(super) first: Option<Nanos>,
    pub(super) last: Nanos,
    pub(super) events: u64,
    pub(super) polls: Vec<RawPoll>,
    pub(super) parks: Vec<Span>,
    pub(super) pauses: Vec<RawPause>,
    pub(super) regions: Vec<RawRegion>,
    pub(super) spawns: Vec<RawSpawn>,
    pub(super) wakes: Vec<RawWake>,
    pub(super) terminates: Vec<(Nanos, TaskId)>,
    pub(super) latencies: Vec<(Nanos, TaskId, u64)>,
    pub(super) logs: Vec<RawLog>,
    pub(super) counters: Vec<(Nanos, RawCounter, f64)>,
    /// `(time, bytes allocated, bytes freed)` since the thread's previous counters.
    pub(super) alloc: Blocks<(Nanos, u64, u64)>,
    pub(super) samples: Vec<(Nanos, u64, TaskId)>,
    /// CPU, stall and allocation samples, for the samples table.
    pub(super) code_samples: Vec<RawSample>,
    pub(super) lost: Vec<(Nanos, u64, u64)>,
    // Open at the end of the thread's data: closed by `assemble` at the end of the trace.
    pub(super) open_polls: Vec<(Nanos, TaskId)>,
    pub(super) open_park: Option<Nanos>,
    /// The first unpark of a worker that was parked before the recording started.
    pub(super) parked_at_start: Option<Nanos>,
    pub(super) open_pauses: Vec<(Nanos, StringId, PauseScope)>,
    /// Process-wide pause begins (`true`) and ends, paired across threads by `assemble`.
    pub(super) process_pause_marks: Vec<(Nanos, StringId, bool)>,
    pub(super) open_regions: Vec<(Nanos, u64, StringId, TaskId)>,
    /// `tracing` span creations, later fields and closes, for `spans`.
    pub(super) span_marks: Vec<(Nanos, SpanMark)>,
    pub(super) unmatched_ends: u64,
    pub(super) cut_intervals: u64,
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
    pub(super) fn close_open(&mut self, at: Nanos, idle_until: Nanos, cut: bool) {
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

    fn sample(&mut self, time: Nanos, kind: SampleKind, task: TaskId, stack: StackId, size: u64) {
        self.code_samples.push(RawSample {
            time,
            kind,
            task,
            stack,
            size,
        });
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

    /// Adds `count` chunks missing from the file before a chunk that starts at `at`: whatever
    /// was open may have ended in them.
    pub(super) fn missing_chunks(&mut self, at: Nanos, count: u64) {
        let before = self.last;
        self.cut_open(before);
        self.lost.push((at, count, 0));
    }

    /// Applies a chunk's events in order (the event loop lives here, beside [`Part::apply`],
    /// so that it is compiled with it); stops at the first that does not decode.
    pub(super) fn decode_chunk(
        &mut self,
        trace: &Trace,
        chunk: &ChunkInfo,
    ) -> Result<(), ReadError> {
        for item in trace.chunk_events(chunk) {
            let (time, event) = item?;
            let t = trace.to_nanos(time);
            self.first.get_or_insert(t);
            self.apply(t, event);
            self.last = self.last.max(t);
            self.events += 1;
        }
        Ok(())
    }

    /// Applies the thread's next event, at `t`.
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
            Event::AllocSample { size, task } => {
                self.samples.push((t, size, task));
                self.sample(t, SampleKind::Alloc, task, StackId::NONE, size);
            }
            Event::AllocSampleAt { size, task, stack } => {
                self.samples.push((t, size, task));
                self.sample(t, SampleKind::Alloc, task, stack, size);
            }
            Event::CpuSample { task, stack } => self.sample(t, SampleKind::Cpu, task, stack, 0),
            Event::StallSample { task, stack } => self.sample(t, SampleKind::Stall, task, stack, 0),
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
            Event::SpanNew {
                id,
                parent,
                name,
                target,
                level,
                fields,
            } => self.span_marks.push((
                t,
                SpanMark::New {
                    id,
                    parent,
                    name,
                    target,
                    level,
                    fields: fields.to_string(),
                },
            )),
            Event::SpanRecord { id, fields } => self.span_marks.push((
                t,
                SpanMark::Record {
                    id,
                    fields: fields.to_string(),
                },
            )),
            Event::SpanClose { id } => self.span_marks.push((t, SpanMark::Close { id })),
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
            Event::Unknown { .. } => {}
        }
    }
}
