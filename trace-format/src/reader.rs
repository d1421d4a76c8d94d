//! Reading a trace: the file is mapped (or held) whole, its frames are checked once on open
//! and indexed, metadata is loaded, and events are decoded lazily per chunk, per thread or
//! merged across threads in global time order.
//!
//! Robustness rules: a file that ends inside a frame reads back to its last whole frame with
//! a [`Warning::Truncated`]; a frame whose checksums fail is a [`ReadError::Corrupt`] naming
//! its byte offset. No input makes the reader panic.

use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::codec::{ChunkDecoder, DecodeError};
use crate::event::{Event, ThreadId};
use crate::frame::{self, EventChunkHeader, kind};
use crate::meta::{End, Header, LocationDef, Meta, ThreadDef};

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or mapped.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The first bytes are not the trace-rt magic.
    #[error("not a trace-rt trace (the file does not start with \"TRACE-RT\")")]
    NotATrace,
    /// The file was written by a format version this reader does not know.
    #[error(
        "unsupported trace format version {0} (this reader handles versions {min} to {max}); \
         use a newer trace-viewer",
        min = frame::READABLE_VERSIONS.start(),
        max = frame::READABLE_VERSIONS.end()
    )]
    UnsupportedVersion(u16),
    /// The file ends before its header is complete.
    #[error("trace is cut short inside its header ({len} bytes); nothing can be read")]
    TruncatedHeader {
        /// File length.
        len: u64,
    },
    /// A frame or event is damaged.
    #[error("corrupt trace at byte {offset}: {reason}")]
    Corrupt {
        /// Byte offset in the file of the damaged frame or event.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

impl ReadError {
    fn corrupt(offset: u64, reason: impl Into<String>) -> Self {
        ReadError::Corrupt {
            offset,
            reason: reason.into(),
        }
    }
}

/// Something the reader noticed that does not stop it from reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The file ends inside a frame: everything up to `valid_len` was read, `discarded` bytes
    /// after it were not.
    Truncated {
        /// Bytes of whole frames.
        valid_len: u64,
        /// Bytes of the partial frame at the end.
        discarded: u64,
    },
    /// The file has no end record: the recording did not finish (crash, kill, full disk) or
    /// the file was cut exactly at a frame boundary.
    NoEndRecord,
    /// A frame of a kind this reader does not know was skipped.
    UnknownFrame {
        /// Its byte offset.
        offset: u64,
        /// Its kind.
        kind: u8,
    },
    /// A metadata record this reader cannot decode (probably from a newer writer) was skipped.
    UnreadableMeta {
        /// Its byte offset.
        offset: u64,
    },
    /// A thread's chunk sequence has gaps: chunks were dropped before they reached the file.
    MissingChunks {
        /// The thread.
        thread: ThreadId,
        /// How many sequence numbers are missing.
        missing: u64,
    },
    /// The recorder reported dropped data (from `Lost` events and the end record).
    LostData {
        /// Chunks dropped.
        chunks: u64,
        /// Events in them.
        events: u64,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Truncated {
                valid_len,
                discarded,
            } => write!(
                f,
                "trace is cut short: read up to byte {valid_len}, the last {discarded} bytes \
                 (a partial chunk) were discarded"
            ),
            Warning::NoEndRecord => write!(
                f,
                "trace has no end record: the recording did not finish, data after the last \
                 chunk is missing"
            ),
            Warning::UnknownFrame { offset, kind } => {
                write!(f, "skipped a chunk of unknown kind {kind} at byte {offset}")
            }
            Warning::UnreadableMeta { offset } => {
                write!(f, "skipped an unreadable metadata record at byte {offset}")
            }
            Warning::MissingChunks { thread, missing } => {
                write!(
                    f,
                    "thread {thread}: {missing} chunk(s) missing from the file"
                )
            }
            Warning::LostData { chunks, events } => write!(
                f,
                "the recorder dropped {chunks} chunk(s) with {events} event(s) because the \
                 writer fell behind"
            ),
        }
    }
}

/// Where an event chunk is and what its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkInfo {
    /// Byte offset of the chunk's frame.
    pub offset: u64,
    /// Byte offset of its first event.
    pub events_offset: u64,
    /// Length of its event bytes.
    pub events_len: u32,
    /// The fixed header.
    pub header: EventChunkHeader,
}

/// One decoded event with the thread that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Time in clock units (see [`Trace::to_nanos`]).
    pub time: u64,
    /// The thread that wrote it.
    pub thread: ThreadId,
    /// What happened.
    pub event: Event<'a>,
}

enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

/// An open trace. Cheap to query; events are decoded on demand.
///
/// ```no_run
/// let trace = trace_format::Trace::open("x.rtt")?;
/// for w in trace.warnings() { eprintln!("warning: {w}"); }
/// for record in trace.events() {
///     let record = record?;
///     println!("{} ns thread {} {:?}", trace.to_nanos(record.time), record.thread, record.event);
/// }
/// # Ok::<(), trace_format::ReadError>(())
/// ```
pub struct Trace {
    bytes: Bytes,
    header: Header,
    chunks: Vec<ChunkInfo>,
    /// Chunk indices per thread, in sequence order.
    by_thread: BTreeMap<ThreadId, Vec<usize>>,
    strings: HashMap<u32, String>,
    locations: HashMap<u32, LocationDef>,
    threads: BTreeMap<ThreadId, ThreadDef>,
    end: Option<End>,
    warnings: Vec<Warning>,
    valid_len: u64,
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("header", &self.header)
            .field("chunks", &self.chunks.len())
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

impl Trace {
    /// Maps and indexes the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Trace, ReadError> {
        let path = path.as_ref();
        let io = |source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len == 0 {
            return Err(ReadError::TruncatedHeader { len: 0 });
        }
        // SAFETY: the map is read-only and the reader treats its contents as untrusted bytes
        // (every access is bounds-checked and validated). The remaining hazard, another
        // process truncating the file while it is mapped, is inherent to mmap and documented
        // in FORMAT.md; traces are written once and not modified afterwards.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        Self::parse(Bytes::Mapped(map))
    }

    /// Indexes a trace held in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Trace, ReadError> {
        Self::parse(Bytes::Owned(bytes))
    }

    fn parse(bytes: Bytes) -> Result<Trace, ReadError> {
        let data: &[u8] = &bytes;
        let file_len = data.len() as u64;
        if data.len() < 8 {
            return Err(if frame::MAGIC.starts_with(data) {
                ReadError::TruncatedHeader { len: file_len }
            } else {
                ReadError::NotATrace
            });
        }
        if data[..8] != frame::MAGIC {
            return Err(ReadError::NotATrace);
        }
        if data.len() < frame::PREAMBLE_LEN {
            return Err(ReadError::TruncatedHeader { len: file_len });
        }
        let version = u16::from_le_bytes([data[8], data[9]]);
        if !frame::READABLE_VERSIONS.contains(&version) {
            return Err(ReadError::UnsupportedVersion(version));
        }
        if data[10] != 0 || data[11] != 0 {
            return Err(ReadError::corrupt(
                8,
                "preamble reserved bytes are not zero",
            ));
        }

        let mut header: Option<Header> = None;
        let mut chunks = Vec::new();
        let mut strings = HashMap::new();
        let mut locations = HashMap::new();
        let mut threads = BTreeMap::new();
        let mut end = None;
        let mut warnings = Vec::new();
        let mut pos = frame::PREAMBLE_LEN;
        let mut valid_len = pos as u64;

        while pos < data.len() {
            let offset = pos as u64;
            let rest = &data[pos..];
            let Some(head) = rest.first_chunk::<{ frame::FRAME_HEADER_LEN }>() else {
                warnings.push(truncated(offset, file_len));
                break;
            };
            // A crash can leave the end of a file zero-filled (space allocated, data never
            // written): that is a cut, not damage.
            if rest.iter().all(|&b| b == 0) {
                warnings.push(truncated(offset, file_len));
                break;
            }
            let fh = frame::parse_frame_header(head).map_err(|r| ReadError::corrupt(offset, r))?;
            let body_start = pos + frame::FRAME_HEADER_LEN;
            let Some(payload) = data.get(body_start..body_start + fh.len as usize) else {
                warnings.push(truncated(offset, file_len));
                break;
            };
            if crc32fast::hash(payload) != fh.crc {
                return Err(ReadError::corrupt(offset, "chunk checksum mismatch"));
            }
            if header.is_none() && fh.kind != kind::HEADER {
                return Err(ReadError::corrupt(
                    offset,
                    "first chunk is not the trace header",
                ));
            }
            if end.is_some() {
                return Err(ReadError::corrupt(offset, "data after the end record"));
            }
            match fh.kind {
                kind::HEADER => {
                    if header.is_some() {
                        return Err(ReadError::corrupt(offset, "second trace header"));
                    }
                    let h: Header = postcard::from_bytes(payload).map_err(|e| {
                        ReadError::corrupt(offset, format!("unreadable trace header: {e}"))
                    })?;
                    header = Some(h);
                }
                kind::EVENTS => {
                    let Some(ch) = payload.first_chunk::<{ frame::EVENT_CHUNK_HEADER_LEN }>()
                    else {
                        return Err(ReadError::corrupt(
                            offset,
                            "event chunk shorter than its header",
                        ));
                    };
                    let ch = EventChunkHeader::from_bytes(ch)
                        .map_err(|r| ReadError::corrupt(offset, r))?;
                    chunks.push(ChunkInfo {
                        offset,
                        events_offset: (body_start + frame::EVENT_CHUNK_HEADER_LEN) as u64,
                        events_len: fh.len - frame::EVENT_CHUNK_HEADER_LEN as u32,
                        header: ch,
                    });
                }
                kind::META => match postcard::from_bytes::<Meta>(payload) {
                    Ok(Meta::Strings(defs)) => {
                        for d in defs {
                            strings.insert(d.id, d.text);
                        }
                    }
                    Ok(Meta::Locations(defs)) => {
                        for d in defs {
                            locations.insert(d.id, d);
                        }
                    }
                    Ok(Meta::Thread(t)) => {
                        threads.insert(t.thread, t);
                    }
                    Err(_) => warnings.push(Warning::UnreadableMeta { offset }),
                },
                kind::END => {
                    let e: End = postcard::from_bytes(payload).map_err(|e| {
                        ReadError::corrupt(offset, format!("unreadable end record: {e}"))
                    })?;
                    end = Some(e);
                }
                other => warnings.push(Warning::UnknownFrame {
                    offset,
                    kind: other,
                }),
            }
            pos = body_start + payload.len();
            valid_len = pos as u64;
        }

        let Some(header) = header else {
            return Err(ReadError::TruncatedHeader { len: file_len });
        };
        if end.is_none()
            && !warnings
                .iter()
                .any(|w| matches!(w, Warning::Truncated { .. }))
        {
            warnings.push(Warning::NoEndRecord);
        }

        let mut by_thread: BTreeMap<ThreadId, Vec<usize>> = BTreeMap::new();
        for (i, c) in chunks.iter().enumerate() {
            by_thread.entry(c.header.thread).or_default().push(i);
        }
        for (thread, list) in by_thread.iter_mut() {
            list.sort_by_key(|&i| chunks[i].header.seq);
            for w in list.windows(2) {
                if chunks[w[0]].header.seq == chunks[w[1]].header.seq {
                    return Err(ReadError::corrupt(
                        chunks[w[1]].offset,
                        format!(
                            "thread {thread} has two chunks with sequence number {}",
                            chunks[w[1]].header.seq
                        ),
                    ));
                }
            }
            // Sequence numbers start at 0, so gaps before the first chunk count as missing too.
            let last = u64::from(chunks[*list.last().expect("non-empty")].header.seq);
            let missing = last + 1 - list.len() as u64;
            if missing > 0 {
                warnings.push(Warning::MissingChunks {
                    thread: *thread,
                    missing,
                });
            }
        }
        if let Some(e) = &end
            && (e.lost_chunks > 0 || e.lost_events > 0)
        {
            warnings.push(Warning::LostData {
                chunks: e.lost_chunks,
                events: e.lost_events,
            });
        }

        Ok(Trace {
            bytes,
            header,
            chunks,
            by_thread,
            strings,
            locations,
            threads,
            end,
            warnings,
            valid_len,
        })
    }

    /// The trace header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The end record, if the recording finished properly.
    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// What the reader noticed while opening (truncation, missing chunks, lost data).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Bytes of whole frames (the file length unless it was cut).
    pub fn valid_len(&self) -> u64 {
        self.valid_len
    }

    /// Every event chunk, in file order.
    pub fn chunks(&self) -> &[ChunkInfo] {
        &self.chunks
    }

    /// The threads that wrote chunks, in id order.
    pub fn thread_ids(&self) -> impl Iterator<Item = ThreadId> + '_ {
        self.by_thread.keys().copied()
    }

    /// Thread descriptions from metadata.
    pub fn threads(&self) -> &BTreeMap<ThreadId, ThreadDef> {
        &self.threads
    }

    /// The text of a string id (`None` for undefined ids; id 0 is `""`).
    pub fn string(&self, id: crate::StringId) -> Option<&str> {
        if id.0 == 0 {
            return Some("");
        }
        self.strings.get(&id.0).map(String::as_str)
    }

    /// A location by id.
    pub fn location(&self, id: crate::LocationId) -> Option<&LocationDef> {
        self.locations.get(&id.0)
    }

    /// Every defined string, in no particular order.
    pub fn strings(&self) -> impl Iterator<Item = (crate::StringId, &str)> + '_ {
        self.strings
            .iter()
            .map(|(&id, s)| (crate::StringId(id), s.as_str()))
    }

    /// Every defined location, in no particular order.
    pub fn locations(&self) -> impl Iterator<Item = &LocationDef> + '_ {
        self.locations.values()
    }

    /// Nanoseconds from the trace start to `time` (0 for times before the start).
    pub fn to_nanos(&self, time: u64) -> u64 {
        self.header
            .clock
            .units_to_nanos(time.saturating_sub(self.header.start_time))
    }

    /// Decodes the events of one chunk, yielding `(time, event)`.
    pub fn chunk_events(&self, chunk: &ChunkInfo) -> ChunkEvents<'_> {
        let start = chunk.events_offset as usize;
        let bytes = self
            .bytes
            .get(start..start + chunk.events_len as usize)
            .unwrap_or(&[]);
        ChunkEvents {
            inner: ChunkDecoder::new(bytes, chunk.header.base_time),
            base_offset: chunk.events_offset,
        }
    }

    /// The events written by `thread`, in order, across its chunks.
    pub fn thread_events(&self, thread: ThreadId) -> ThreadEvents<'_> {
        let chunks = self
            .by_thread
            .get(&thread)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        ThreadEvents {
            trace: self,
            thread,
            chunks,
            current: None,
        }
    }

    /// Every event of every thread, merged in global time order (ties broken by thread id).
    pub fn events(&self) -> MergedEvents<'_> {
        let mut cursors = Vec::new();
        let mut heap = BinaryHeap::new();
        for thread in self.thread_ids() {
            cursors.push(self.thread_events(thread).peekable());
        }
        for (i, c) in cursors.iter_mut().enumerate() {
            if let Some(Ok(r)) = c.peek() {
                heap.push(std::cmp::Reverse((r.time, r.thread, i)));
            }
        }
        MergedEvents {
            cursors,
            heap,
            pending_error: None,
        }
    }

    /// Decodes every chunk and checks that its header agrees with its events. Returns the
    /// number of events.
    pub fn validate(&self) -> Result<u64, ReadError> {
        let mut total = 0u64;
        for c in &self.chunks {
            let mut count = 0u32;
            let mut last = c.header.base_time;
            for ev in self.chunk_events(c) {
                let (t, _) = ev?;
                count = count.saturating_add(1);
                last = t;
            }
            if count != c.header.event_count {
                return Err(ReadError::corrupt(
                    c.offset,
                    format!(
                        "chunk declares {} events but holds {count}",
                        c.header.event_count
                    ),
                ));
            }
            if last != c.header.end_time {
                return Err(ReadError::corrupt(
                    c.offset,
                    "chunk end time does not match its last event",
                ));
            }
            total += u64::from(count);
        }
        Ok(total)
    }
}

fn truncated(offset: u64, file_len: u64) -> Warning {
    Warning::Truncated {
        valid_len: offset,
        discarded: file_len - offset,
    }
}

/// Events of one chunk. See [`Trace::chunk_events`].
#[derive(Debug, Clone)]
pub struct ChunkEvents<'a> {
    inner: ChunkDecoder<'a>,
    base_offset: u64,
}

impl<'a> Iterator for ChunkEvents<'a> {
    type Item = Result<(u64, Event<'a>), ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(
            self.inner
                .next()?
                .map_err(|DecodeError { offset, reason }| {
                    ReadError::corrupt(self.base_offset + offset as u64, reason)
                }),
        )
    }
}

/// Events of one thread. See [`Trace::thread_events`].
pub struct ThreadEvents<'a> {
    trace: &'a Trace,
    thread: ThreadId,
    chunks: &'a [usize],
    current: Option<ChunkEvents<'a>>,
}

impl<'a> Iterator for ThreadEvents<'a> {
    type Item = Result<Record<'a>, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(cur) = &mut self.current {
                match cur.next() {
                    Some(Ok((time, event))) => {
                        return Some(Ok(Record {
                            time,
                            thread: self.thread,
                            event,
                        }));
                    }
                    Some(Err(e)) => {
                        self.chunks = &[];
                        self.current = None;
                        return Some(Err(e));
                    }
                    None => self.current = None,
                }
            }
            let (&first, rest) = self.chunks.split_first()?;
            self.chunks = rest;
            self.current = Some(self.trace.chunk_events(&self.trace.chunks[first]));
        }
    }
}

/// Events of all threads in time order. See [`Trace::events`]. Yields an error (and then
/// stops) when any chunk fails to decode.
pub struct MergedEvents<'a> {
    cursors: Vec<std::iter::Peekable<ThreadEvents<'a>>>,
    heap: BinaryHeap<std::cmp::Reverse<(u64, ThreadId, usize)>>,
    pending_error: Option<ReadError>,
}

impl<'a> Iterator for MergedEvents<'a> {
    type Item = Result<Record<'a>, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending_error.take() {
            self.heap.clear();
            return Some(Err(e));
        }
        if self.heap.is_empty() {
            // A cursor whose very first item is an error never entered the heap.
            for c in &mut self.cursors {
                if let Some(Err(_)) = c.peek() {
                    let e = c.next().and_then(Result::err);
                    self.cursors.clear();
                    return e.map(Err);
                }
            }
            return None;
        }
        let std::cmp::Reverse((_, _, i)) = self.heap.pop()?;
        let cursor = &mut self.cursors[i];
        let record = match cursor.next()? {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        };
        match cursor.peek() {
            Some(Ok(r)) => self.heap.push(std::cmp::Reverse((r.time, r.thread, i))),
            Some(Err(_)) => {
                self.pending_error = cursor.next().and_then(Result::err);
            }
            None => {}
        }
        Some(Ok(record))
    }
}
