//! Building whole traces in memory from lists of events: the fixture generator for tests,
//! benchmarks and fuzzing seeds. Real recordings come from `trace-rt`, which uses the same
//! codec and writer.

use std::collections::BTreeMap;

use crate::codec::{self, EncodeState};
use crate::event::ThreadId;
use crate::frame::EventChunkHeader;
use crate::meta::{ClockInfo, End, Header, LocationDef, Meta, StringDef, ThreadDef};
use crate::spec::Event;
use crate::writer::TraceWriter;

/// An owned copy of an event, kept in its encoded form (the codec is the one place that
/// knows every variant, so copying and borrowing back need no per-variant code).
#[derive(Clone, PartialEq, Eq)]
pub struct OwnedEvent {
    /// The event encoded at time 0 from a fresh [`EncodeState`].
    bytes: Vec<u8>,
}

impl OwnedEvent {
    /// Copies an event.
    pub fn new(event: &Event<'_>) -> Self {
        let mut bytes = vec![0u8; codec::max_encoded_len(event)];
        let n = codec::encode(&mut EncodeState::new(0), &mut bytes, 0, event);
        bytes.truncate(n);
        OwnedEvent { bytes }
    }

    /// The event, borrowing its payload from this copy.
    pub fn event(&self) -> Event<'_> {
        match codec::ChunkDecoder::new(&self.bytes, 0).next() {
            Some(Ok((_, event))) => event,
            // Only an `Unknown` event with a tag outside the extension range (which no
            // reader can decode either) fails to come back.
            _ => panic!(
                "OwnedEvent holds an event the codec cannot decode: {:?}",
                self.bytes
            ),
        }
    }
}

impl std::fmt::Debug for OwnedEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match codec::ChunkDecoder::new(&self.bytes, 0).next() {
            Some(Ok((_, event))) => event.fmt(f),
            _ => write!(f, "OwnedEvent({:?})", self.bytes),
        }
    }
}

/// Accumulates per-thread events and writes them as a valid trace, splitting each thread's
/// events into chunks of at most `chunk_capacity` encoded bytes, as the recorder does.
///
/// ```
/// use trace_format::{build::TraceBuilder, Event, TaskId, Trace};
/// let mut b = TraceBuilder::new();
/// b.thread(1, "worker-0");
/// b.push(1, 10, Event::PollStart { task: TaskId(1) });
/// b.push(1, 20, Event::PollEnd { ready: true });
/// let trace = Trace::from_bytes(b.to_bytes()).unwrap();
/// assert_eq!(trace.validate().unwrap(), 2);
/// ```
#[derive(Debug, Clone)]
pub struct TraceBuilder {
    /// Header written at the start; tweak freely.
    pub header: Header,
    /// Largest chunk payload in bytes.
    pub chunk_capacity: usize,
    threads: BTreeMap<ThreadId, (ThreadDef, Vec<(u64, OwnedEvent)>)>,
    strings: Vec<StringDef>,
    locations: Vec<LocationDef>,
    extra_meta: Vec<Meta>,
}

impl Default for TraceBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl TraceBuilder {
    /// An empty trace with a nanosecond clock starting at 0.
    pub fn new() -> Self {
        TraceBuilder {
            header: Header {
                clock: ClockInfo::nanoseconds(),
                start_time: 0,
                wall_clock_unix_nanos: 0,
                recorder: concat!("trace-format ", env!("CARGO_PKG_VERSION"), " builder").into(),
                process_id: 0,
                process_name: "generated".into(),
                chunk_capacity: 64 * 1024,
                features: vec![],
            },
            chunk_capacity: 64 * 1024,
            threads: BTreeMap::new(),
            strings: vec![],
            locations: vec![],
            extra_meta: Vec::new(),
        }
    }

    /// Declares a thread's name (threads are also created implicitly by [`Self::push`]).
    pub fn thread(&mut self, thread: ThreadId, name: &str) -> &mut Self {
        self.entry(thread).0.name = name.into();
        self
    }

    fn entry(&mut self, thread: ThreadId) -> &mut (ThreadDef, Vec<(u64, OwnedEvent)>) {
        self.threads.entry(thread).or_insert_with(|| {
            (
                ThreadDef {
                    thread,
                    name: String::new(),
                    os_id: 0,
                },
                vec![],
            )
        })
    }

    /// Defines a string id.
    pub fn string(&mut self, id: u32, text: &str) -> &mut Self {
        self.strings.push(StringDef {
            id,
            text: text.into(),
        });
        self
    }

    /// Adds a metadata record (stacks, symbols, mappings, sampling), written after the
    /// strings and locations.
    pub fn meta(&mut self, record: Meta) -> &mut Self {
        self.extra_meta.push(record);
        self
    }

    /// Defines a location id.
    pub fn location(&mut self, id: u32, file: &str, line: u32, column: u32) -> &mut Self {
        self.locations.push(LocationDef {
            id,
            file: file.into(),
            line,
            column,
        });
        self
    }

    /// Appends an event to `thread` at `time`. Times within a thread should not decrease
    /// (a decreasing time is stored as equal to the previous one, as the recorder does).
    pub fn push(&mut self, thread: ThreadId, time: u64, event: Event<'_>) -> &mut Self {
        self.entry(thread).1.push((time, OwnedEvent::new(&event)));
        self
    }

    /// Writes the trace, with an end record.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.write(true)
    }

    /// Writes the trace; without an end record when `finish` is false.
    pub fn write(&self, finish: bool) -> Vec<u8> {
        let mut w = TraceWriter::new(Vec::new(), &self.header).expect("writing to memory");
        if !self.strings.is_empty() {
            w.write_meta(&Meta::Strings(self.strings.clone()))
                .expect("writing to memory");
        }
        if !self.locations.is_empty() {
            w.write_meta(&Meta::Locations(self.locations.clone()))
                .expect("writing to memory");
        }
        for m in &self.extra_meta {
            w.write_meta(m).expect("writing to memory");
        }
        let mut end = End::default();
        let mut buf = vec![0u8; self.chunk_capacity.max(codec::MAX_FIXED_EVENT_LEN) * 2];
        for (thread, (def, events)) in &self.threads {
            w.write_meta(&Meta::Thread(def.clone()))
                .expect("writing to memory");
            let mut seq = 0u32;
            let mut i = 0;
            while i < events.len() {
                let base = events[i].0;
                let mut state = EncodeState::new(base);
                let mut len = 0;
                let mut count = 0u32;
                while i < events.len() {
                    let ev = events[i].1.event();
                    let need = codec::max_encoded_len(&ev);
                    if count > 0 && len + need > self.chunk_capacity {
                        break;
                    }
                    if buf.len() < len + need {
                        buf.resize(len + need, 0);
                    }
                    len += codec::encode(&mut state, &mut buf[len..], events[i].0, &ev);
                    count += 1;
                    i += 1;
                }
                let header = EventChunkHeader {
                    thread: *thread,
                    seq,
                    base_time: base,
                    end_time: state.last_time,
                    event_count: count,
                };
                w.write_events(&header, &buf[..len])
                    .expect("writing to memory");
                seq += 1;
                end.chunks += 1;
                end.events += u64::from(count);
                end.end_time = end.end_time.max(state.last_time);
            }
        }
        if finish {
            w.finish(&end).expect("writing to memory")
        } else {
            w.into_inner()
        }
    }
}
