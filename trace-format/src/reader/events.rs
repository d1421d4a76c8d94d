//! Decoding the events of an indexed trace: one chunk ([`ChunkEvents`]), one thread's chunks
//! in sequence ([`ThreadEvents`]), or every thread merged in time order ([`MergedEvents`]).

use std::collections::BinaryHeap;
use std::fmt;

use super::bytes::Bytes;
use super::error::ReadError;
use crate::codec::{ChunkDecoder, DecodeError};
use crate::event::ThreadId;
use crate::frame::EventChunkHeader;
use crate::spec::Event;

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
    /// Time in clock units (see [`Trace::to_nanos`](crate::Trace::to_nanos)).
    pub time: u64,
    /// The thread that wrote it.
    pub thread: ThreadId,
    /// What happened.
    pub event: Event<'a>,
}

/// Events of one chunk. See [`Trace::chunk_events`](crate::Trace::chunk_events).
#[derive(Clone)]
pub struct ChunkEvents<'a> {
    inner: ChunkDecoder<'a>,
    base_offset: u64,
    chunk: ChunkInfo,
    count: u32,
    last_time: u64,
    state: ChunkState,
    /// The bytes to release once the chunk has been read to its end.
    release: Option<(&'a Bytes, std::ops::Range<usize>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    Decoding,
    /// An error was yielded; nothing more follows.
    Failed,
    Done,
}

impl fmt::Debug for ChunkEvents<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkEvents")
            .field("chunk", &self.chunk)
            .field("count", &self.count)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<'a> ChunkEvents<'a> {
    /// The events of `chunk`, whose bytes are in `bytes`.
    pub(super) fn new(bytes: &'a Bytes, chunk: &ChunkInfo) -> Self {
        let start = chunk.events_offset as usize;
        let range = start..start + chunk.events_len as usize;
        let events = bytes.get(range.clone()).unwrap_or(&[]);
        ChunkEvents {
            inner: ChunkDecoder::new(events, chunk.header.base_time),
            base_offset: chunk.events_offset,
            chunk: *chunk,
            count: 0,
            last_time: chunk.header.base_time,
            state: ChunkState::Decoding,
            release: Some((bytes, range)),
        }
    }

    /// Bytes of the chunk's events decoded so far: the difference across one `next` is the
    /// size of that event (`trace-viewer check` adds them up per kind).
    pub fn bytes_read(&self) -> usize {
        self.inner.position()
    }

    /// The error for a chunk whose events do not match its header, if they do not.
    fn header_mismatch(&self) -> Option<ReadError> {
        let h = &self.chunk.header;
        if self.count != h.event_count {
            return Some(ReadError::corrupt(
                self.chunk.offset,
                format!(
                    "chunk declares {} events but holds {}",
                    h.event_count, self.count
                ),
            ));
        }
        (self.last_time != h.end_time).then(|| {
            ReadError::corrupt(
                self.chunk.offset,
                "chunk end time does not match its last event",
            )
        })
    }
}

impl<'a> Iterator for ChunkEvents<'a> {
    type Item = Result<(u64, Event<'a>), ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.state != ChunkState::Decoding {
            return None;
        }
        match self.inner.next() {
            Some(Ok((time, event))) => {
                self.count = self.count.saturating_add(1);
                self.last_time = time;
                Some(Ok((time, event)))
            }
            Some(Err(DecodeError { offset, reason })) => {
                self.state = ChunkState::Failed;
                Some(Err(ReadError::corrupt(
                    self.base_offset + offset as u64,
                    reason,
                )))
            }
            None => {
                if let Some((bytes, range)) = self.release.take() {
                    bytes.release(range);
                }
                match self.header_mismatch() {
                    Some(e) => {
                        self.state = ChunkState::Failed;
                        Some(Err(e))
                    }
                    None => {
                        self.state = ChunkState::Done;
                        None
                    }
                }
            }
        }
    }
}

/// Events of one thread. See [`Trace::thread_events`](crate::Trace::thread_events).
pub struct ThreadEvents<'a> {
    bytes: &'a Bytes,
    /// Every chunk of the trace; `chunks` indexes it.
    all: &'a [ChunkInfo],
    thread: ThreadId,
    chunks: &'a [usize],
    current: Option<ChunkEvents<'a>>,
}

impl<'a> ThreadEvents<'a> {
    /// The events of `all[i]` for each `i` in `chunks`, the chunks of `thread` in order.
    pub(super) fn new(
        bytes: &'a Bytes,
        all: &'a [ChunkInfo],
        thread: ThreadId,
        chunks: &'a [usize],
    ) -> Self {
        ThreadEvents {
            bytes,
            all,
            thread,
            chunks,
            current: None,
        }
    }
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
            self.current = Some(ChunkEvents::new(self.bytes, &self.all[first]));
        }
    }
}

/// Events of all threads in time order. See [`Trace::events`](crate::Trace::events). Yields
/// an error (and then stops) when any chunk fails to decode.
pub struct MergedEvents<'a> {
    cursors: Vec<std::iter::Peekable<ThreadEvents<'a>>>,
    heap: BinaryHeap<std::cmp::Reverse<(u64, ThreadId, usize)>>,
    pending_error: Option<ReadError>,
}

impl<'a> MergedEvents<'a> {
    /// Merges the events of `threads`, ties broken by thread id.
    pub(super) fn new(threads: impl Iterator<Item = ThreadEvents<'a>>) -> Self {
        let mut cursors: Vec<_> = threads.map(Iterator::peekable).collect();
        let mut heap = BinaryHeap::new();
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
