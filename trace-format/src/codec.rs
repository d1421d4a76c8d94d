//! The compact encoding of events inside an event chunk: `tag: u8`, `delta: varint`, then the
//! event's arguments. See FORMAT.md for the table of tags.
//!
//! Two per-chunk running values keep events small: the time of the previous event (so each
//! event stores a short delta) and the previous task id mentioned (so task ids are stored as a
//! small signed difference). Both reset at the start of every chunk, which keeps chunks
//! independently decodable.

use crate::event::{Event, Level, PauseScope, TaskId, TaskKind, ThreadKind, WakeSource};
use crate::varint::{self, MAX_VARINT_LEN};

/// Event tags. Values 0x80..=0xFF are extension events that carry a byte length, so a reader
/// can skip kinds it does not know.
#[allow(missing_docs)] // each tag is named after the Event variant it encodes
pub mod tag {
    pub const THREAD_START: u8 = 0x01;
    pub const THREAD_STOP: u8 = 0x02;
    pub const WORKER_PARK: u8 = 0x03;
    pub const WORKER_UNPARK: u8 = 0x04;
    pub const TASK_SPAWN: u8 = 0x10;
    pub const POLL_START: u8 = 0x11;
    pub const POLL_END_PENDING: u8 = 0x12;
    pub const POLL_END_READY: u8 = 0x13;
    pub const TASK_TERMINATE: u8 = 0x14;
    pub const SCHEDULE_LATENCY: u8 = 0x15;
    pub const BLOCKING_START: u8 = 0x16;
    pub const BLOCKING_END: u8 = 0x17;
    /// `WAKE_BASE + source as u8`, one tag per [`crate::WakeSource`].
    pub const WAKE_BASE: u8 = 0x18;
    pub const WAKE_LAST: u8 = 0x1E;
    pub const ALLOC_COUNTERS: u8 = 0x20;
    pub const ALLOC_SAMPLE: u8 = 0x21;
    pub const PAUSE_BEGIN: u8 = 0x28;
    pub const PAUSE_END: u8 = 0x29;
    pub const REGION_BEGIN: u8 = 0x30;
    pub const REGION_END: u8 = 0x31;
    pub const LOG: u8 = 0x32;
    pub const COUNTER: u8 = 0x33;
    pub const RUNTIME_SAMPLE: u8 = 0x38;
    pub const WORKER_QUEUE_SAMPLE: u8 = 0x39;
    pub const LOST: u8 = 0x3F;
    /// First tag of the skippable extension range.
    pub const EXTENSION_FIRST: u8 = 0x80;
}

/// Largest task id the encoding round-trips. Recorders hand out ids from 1 upwards.
pub const MAX_TASK_ID: u64 = (1 << 63) - 1;

/// Encoded size bound of every event except those with a payload (`Log`, `Unknown`), whose
/// bound is this plus the payload length; see [`max_encoded_len`].
pub const MAX_FIXED_EVENT_LEN: usize = 2 + 6 * MAX_VARINT_LEN;

/// The running values that make events relative to the ones before them in the same chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncodeState {
    /// Time of the previous event (the chunk's base time before the first one).
    pub last_time: u64,
    /// Last non-zero task id mentioned.
    pub last_task: u64,
}

impl EncodeState {
    /// The state at the start of a chunk whose base time is `base_time`.
    #[inline]
    pub fn new(base_time: u64) -> Self {
        EncodeState {
            last_time: base_time,
            last_task: 0,
        }
    }
}

/// An upper bound of the bytes [`encode`] writes for `event`.
#[inline]
pub fn max_encoded_len(event: &Event<'_>) -> usize {
    match event {
        Event::Log { message, .. } => MAX_FIXED_EVENT_LEN + message.len(),
        Event::Unknown { payload, .. } => MAX_FIXED_EVENT_LEN + payload.len(),
        _ => MAX_FIXED_EVENT_LEN,
    }
}

#[inline(always)]
fn put_task(out: &mut [u8], pos: usize, state: &mut EncodeState, task: TaskId) -> usize {
    if task.0 == 0 {
        return varint::put(out, pos, 0);
    }
    let delta = task.0.wrapping_sub(state.last_task) as i64;
    state.last_task = task.0;
    varint::put(out, pos, varint::zigzag(delta) + 1)
}

#[inline(always)]
fn put_bytes(out: &mut [u8], pos: usize, bytes: &[u8]) -> usize {
    let pos = varint::put(out, pos, bytes.len() as u64);
    out[pos..pos + bytes.len()].copy_from_slice(bytes);
    pos + bytes.len()
}

/// Encodes `event` at `time` into the start of `out` and returns the number of bytes written.
///
/// `out` must hold at least [`max_encoded_len`]`(event)` bytes. A time earlier than the
/// previous event's is written as equal to it: within a thread, time never goes backwards.
///
/// ```
/// use trace_format::{codec, Event, TaskId};
/// let mut state = codec::EncodeState::new(1_000);
/// let mut buf = [0u8; codec::MAX_FIXED_EVENT_LEN];
/// let n = codec::encode(&mut state, &mut buf, 1_005, &Event::PollStart { task: TaskId(7) });
/// assert_eq!(n, 3); // tag, time delta 5, task delta +7
/// ```
#[inline(always)]
pub fn encode(state: &mut EncodeState, out: &mut [u8], time: u64, event: &Event<'_>) -> usize {
    let time = time.max(state.last_time);
    let delta = time - state.last_time;
    state.last_time = time;
    let t = match event {
        Event::ThreadStart { .. } => tag::THREAD_START,
        Event::ThreadStop => tag::THREAD_STOP,
        Event::WorkerPark => tag::WORKER_PARK,
        Event::WorkerUnpark => tag::WORKER_UNPARK,
        Event::TaskSpawn { .. } => tag::TASK_SPAWN,
        Event::PollStart { .. } => tag::POLL_START,
        Event::PollEnd { ready: false } => tag::POLL_END_PENDING,
        Event::PollEnd { ready: true } => tag::POLL_END_READY,
        Event::Wake { source, .. } => tag::WAKE_BASE + *source as u8,
        Event::TaskTerminate { .. } => tag::TASK_TERMINATE,
        Event::ScheduleLatency { .. } => tag::SCHEDULE_LATENCY,
        Event::BlockingStart { .. } => tag::BLOCKING_START,
        Event::BlockingEnd => tag::BLOCKING_END,
        Event::AllocCounters { .. } => tag::ALLOC_COUNTERS,
        Event::AllocSample { .. } => tag::ALLOC_SAMPLE,
        Event::PauseBegin { .. } => tag::PAUSE_BEGIN,
        Event::PauseEnd { .. } => tag::PAUSE_END,
        Event::RegionBegin { .. } => tag::REGION_BEGIN,
        Event::RegionEnd { .. } => tag::REGION_END,
        Event::Log { .. } => tag::LOG,
        Event::Counter { .. } => tag::COUNTER,
        Event::RuntimeSample { .. } => tag::RUNTIME_SAMPLE,
        Event::WorkerQueueSample { .. } => tag::WORKER_QUEUE_SAMPLE,
        Event::Lost { .. } => tag::LOST,
        Event::Unknown { tag, .. } => *tag,
    };
    out[0] = t;
    let mut p = varint::put(out, 1, delta);
    match *event {
        Event::ThreadStart { kind, index } => {
            out[p] = kind as u8;
            p = varint::put(out, p + 1, u64::from(index));
        }
        Event::ThreadStop
        | Event::WorkerPark
        | Event::WorkerUnpark
        | Event::PollEnd { .. }
        | Event::BlockingEnd => {}
        Event::TaskSpawn {
            task,
            kind,
            tokio_id,
            parent,
            location,
            name,
        } => {
            p = put_task(out, p, state, task);
            out[p] = kind as u8;
            p = varint::put(out, p + 1, tokio_id);
            p = put_task(out, p, state, parent);
            p = varint::put(out, p, u64::from(location.0));
            p = varint::put(out, p, u64::from(name.0));
        }
        Event::PollStart { task }
        | Event::TaskTerminate { task }
        | Event::BlockingStart { task } => {
            p = put_task(out, p, state, task);
        }
        Event::Wake { task, waker, .. } => {
            p = put_task(out, p, state, task);
            p = put_task(out, p, state, waker);
        }
        Event::ScheduleLatency { task, nanos } => {
            p = put_task(out, p, state, task);
            p = varint::put(out, p, nanos);
        }
        Event::AllocCounters {
            allocs,
            frees,
            alloc_bytes,
            free_bytes,
        } => {
            p = varint::put(out, p, allocs);
            p = varint::put(out, p, frees);
            p = varint::put(out, p, alloc_bytes);
            p = varint::put(out, p, free_bytes);
        }
        Event::AllocSample { size, task } => {
            p = varint::put(out, p, size);
            p = put_task(out, p, state, task);
        }
        Event::PauseBegin { kind, scope } | Event::PauseEnd { kind, scope } => {
            p = varint::put(out, p, u64::from(kind.0));
            out[p] = scope as u8;
            p += 1;
        }
        Event::RegionBegin { id, name } => {
            p = varint::put(out, p, id);
            p = varint::put(out, p, u64::from(name.0));
        }
        Event::RegionEnd { id } => {
            p = varint::put(out, p, id);
        }
        Event::Log {
            level,
            target,
            message,
        } => {
            out[p] = level as u8;
            p = varint::put(out, p + 1, u64::from(target.0));
            p = put_bytes(out, p, message.as_bytes());
        }
        Event::Counter { name, value } => {
            p = varint::put(out, p, u64::from(name.0));
            p = varint::put(out, p, varint::zigzag(value));
        }
        Event::RuntimeSample {
            global_queue,
            alive_tasks,
            blocking_threads,
        } => {
            p = varint::put(out, p, global_queue);
            p = varint::put(out, p, alive_tasks);
            p = varint::put(out, p, blocking_threads);
        }
        Event::WorkerQueueSample { worker, depth } => {
            p = varint::put(out, p, u64::from(worker));
            p = varint::put(out, p, depth);
        }
        Event::Lost { chunks, events } => {
            p = varint::put(out, p, chunks);
            p = varint::put(out, p, events);
        }
        Event::Unknown { payload, .. } => {
            p = put_bytes(out, p, payload);
        }
    }
    p
}

/// Why the bytes of an event chunk could not be decoded. `offset` is relative to the start
/// of the chunk's event bytes; the reader turns it into a file offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Where the offending event starts.
    pub offset: usize,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Iterates the events of one chunk's event bytes, yielding `(time, event)`.
/// After an error it yields nothing more.
#[derive(Debug, Clone)]
pub struct ChunkDecoder<'a> {
    bytes: &'a [u8],
    pos: usize,
    state: EncodeState,
    failed: bool,
}

impl<'a> ChunkDecoder<'a> {
    /// Decodes `bytes`, the events of a chunk whose base time is `base_time`.
    pub fn new(bytes: &'a [u8], base_time: u64) -> Self {
        ChunkDecoder {
            bytes,
            pos: 0,
            state: EncodeState::new(base_time),
            failed: false,
        }
    }

    /// Offset of the next event within the chunk's event bytes.
    pub fn position(&self) -> usize {
        self.pos
    }

    fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn var(&mut self) -> Option<u64> {
        varint::get(self.bytes, &mut self.pos)
    }

    fn var32(&mut self) -> Option<u32> {
        self.var().and_then(|v| u32::try_from(v).ok())
    }

    fn task(&mut self) -> Option<TaskId> {
        let e = self.var()?;
        if e == 0 {
            return Some(TaskId::NONE);
        }
        let v = self
            .state
            .last_task
            .wrapping_add(varint::unzigzag(e - 1) as u64);
        self.state.last_task = v;
        Some(TaskId(v))
    }

    fn payload(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.var()?).ok()?;
        let end = self.pos.checked_add(len)?;
        let b = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(b)
    }

    fn decode_one(&mut self, t: u8) -> Result<Event<'a>, &'static str> {
        const CUT: &str = "event cut short or malformed varint";
        use crate::{LocationId, StringId};
        let ev = match t {
            tag::THREAD_START => Event::ThreadStart {
                kind: ThreadKind::from_u8(self.byte().ok_or(CUT)?).ok_or("bad thread kind")?,
                index: self.var32().ok_or(CUT)?,
            },
            tag::THREAD_STOP => Event::ThreadStop,
            tag::WORKER_PARK => Event::WorkerPark,
            tag::WORKER_UNPARK => Event::WorkerUnpark,
            tag::TASK_SPAWN => Event::TaskSpawn {
                task: self.task().ok_or(CUT)?,
                kind: TaskKind::from_u8(self.byte().ok_or(CUT)?).ok_or("bad task kind")?,
                tokio_id: self.var().ok_or(CUT)?,
                parent: self.task().ok_or(CUT)?,
                location: LocationId(self.var32().ok_or(CUT)?),
                name: StringId(self.var32().ok_or(CUT)?),
            },
            tag::POLL_START => Event::PollStart {
                task: self.task().ok_or(CUT)?,
            },
            tag::POLL_END_PENDING => Event::PollEnd { ready: false },
            tag::POLL_END_READY => Event::PollEnd { ready: true },
            tag::WAKE_BASE..=tag::WAKE_LAST => Event::Wake {
                task: self.task().ok_or(CUT)?,
                waker: self.task().ok_or(CUT)?,
                source: WakeSource::ALL[usize::from(t - tag::WAKE_BASE)],
            },
            tag::TASK_TERMINATE => Event::TaskTerminate {
                task: self.task().ok_or(CUT)?,
            },
            tag::SCHEDULE_LATENCY => Event::ScheduleLatency {
                task: self.task().ok_or(CUT)?,
                nanos: self.var().ok_or(CUT)?,
            },
            tag::BLOCKING_START => Event::BlockingStart {
                task: self.task().ok_or(CUT)?,
            },
            tag::BLOCKING_END => Event::BlockingEnd,
            tag::ALLOC_COUNTERS => Event::AllocCounters {
                allocs: self.var().ok_or(CUT)?,
                frees: self.var().ok_or(CUT)?,
                alloc_bytes: self.var().ok_or(CUT)?,
                free_bytes: self.var().ok_or(CUT)?,
            },
            tag::ALLOC_SAMPLE => Event::AllocSample {
                size: self.var().ok_or(CUT)?,
                task: self.task().ok_or(CUT)?,
            },
            tag::PAUSE_BEGIN | tag::PAUSE_END => {
                let kind = StringId(self.var32().ok_or(CUT)?);
                let scope =
                    PauseScope::from_u8(self.byte().ok_or(CUT)?).ok_or("bad pause scope")?;
                if t == tag::PAUSE_BEGIN {
                    Event::PauseBegin { kind, scope }
                } else {
                    Event::PauseEnd { kind, scope }
                }
            }
            tag::REGION_BEGIN => Event::RegionBegin {
                id: self.var().ok_or(CUT)?,
                name: StringId(self.var32().ok_or(CUT)?),
            },
            tag::REGION_END => Event::RegionEnd {
                id: self.var().ok_or(CUT)?,
            },
            tag::LOG => Event::Log {
                level: Level::from_u8(self.byte().ok_or(CUT)?).ok_or("bad log level")?,
                target: StringId(self.var32().ok_or(CUT)?),
                message: std::str::from_utf8(self.payload().ok_or(CUT)?)
                    .map_err(|_| "log message is not UTF-8")?,
            },
            tag::COUNTER => Event::Counter {
                name: StringId(self.var32().ok_or(CUT)?),
                value: varint::unzigzag(self.var().ok_or(CUT)?),
            },
            tag::RUNTIME_SAMPLE => Event::RuntimeSample {
                global_queue: self.var().ok_or(CUT)?,
                alive_tasks: self.var().ok_or(CUT)?,
                blocking_threads: self.var().ok_or(CUT)?,
            },
            tag::WORKER_QUEUE_SAMPLE => Event::WorkerQueueSample {
                worker: self.var32().ok_or(CUT)?,
                depth: self.var().ok_or(CUT)?,
            },
            tag::LOST => Event::Lost {
                chunks: self.var().ok_or(CUT)?,
                events: self.var().ok_or(CUT)?,
            },
            tag::EXTENSION_FIRST..=u8::MAX => Event::Unknown {
                tag: t,
                payload: self.payload().ok_or(CUT)?,
            },
            _ => return Err("unknown event tag"),
        };
        Ok(ev)
    }
}

impl<'a> Iterator for ChunkDecoder<'a> {
    type Item = Result<(u64, Event<'a>), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.pos >= self.bytes.len() {
            return None;
        }
        let start = self.pos;
        let fail = |this: &mut Self, reason| {
            this.failed = true;
            Some(Err(DecodeError {
                offset: start,
                reason,
            }))
        };
        let t = self.bytes[start];
        self.pos += 1;
        let Some(delta) = self.var() else {
            return fail(self, "event cut short or malformed varint");
        };
        let Some(time) = self.state.last_time.checked_add(delta) else {
            return fail(self, "event time overflows");
        };
        self.state.last_time = time;
        match self.decode_one(t) {
            Ok(ev) => Some(Ok((time, ev))),
            Err(reason) => fail(self, reason),
        }
    }
}

impl std::iter::FusedIterator for ChunkDecoder<'_> {}
