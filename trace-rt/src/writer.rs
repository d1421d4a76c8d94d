//! The writer thread: drains full chunks and metadata into the session's sink, returns
//! chunks to the pool, and on stop collects every thread's unfinished chunk and writes the
//! end record. All I/O happens here, never on recording threads.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use trace_format::codec::ChunkDecoder;
use trace_format::{End, EventChunkHeader, Header};

use crate::session::Shared;
use crate::sink::Sink;

/// What the writer did, handed back when it exits.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) events: u64,
    pub(crate) chunks: u64,
    pub(crate) bytes: u64,
    /// Chunks that reached the writer but could not be written (after a sink error).
    pub(crate) lost_chunks: u64,
    pub(crate) lost_events: u64,
    pub(crate) error: Option<io::Error>,
}

/// How long the writer sleeps between rounds; threads wake it sooner when many full chunks
/// wait (see `Shared::hand_over`).
pub(crate) const WRITE_PERIOD: Duration = Duration::from_millis(10);
/// How long written data may wait in the sink's buffer before a flush puts it in the file
/// (where a crash of the process no longer loses it). Flushing after every chunk instead made
/// each one a small write: for a file written with `O_DIRECT`, a padded block and a cut each.
const FLUSH_PERIOD: Duration = Duration::from_millis(100);
/// Time given to events that were in flight when recording was switched off.
const STOP_GRACE: Duration = Duration::from_millis(2);

pub(crate) fn spawn(
    shared: Arc<Shared>,
    sink: Box<dyn Sink>,
    header: Header,
) -> io::Result<JoinHandle<Outcome>> {
    std::thread::Builder::new()
        .name("trace-rt-writer".into())
        .spawn(move || Writer::new(shared, sink).run(&header))
}

struct Writer {
    shared: Arc<Shared>,
    sink: Box<dyn Sink>,
    out: Outcome,
    end_time: u64,
}

impl Writer {
    fn new(shared: Arc<Shared>, sink: Box<dyn Sink>) -> Self {
        Writer {
            shared,
            sink,
            out: Outcome::default(),
            end_time: 0,
        }
    }

    fn run(mut self, header: &Header) -> Outcome {
        self.end_time = header.start_time;
        let r = self.sink.header(header);
        self.check(r);
        // Since when written data has waited for a flush (None: nothing waits).
        let mut unflushed_since: Option<Instant> = None;
        loop {
            let stopping = self.shared.stop.load(Ordering::Acquire);
            if self.drain() {
                unflushed_since.get_or_insert_with(Instant::now);
            }
            if stopping {
                break;
            }
            let mut wait = WRITE_PERIOD;
            if let Some(since) = unflushed_since {
                match FLUSH_PERIOD.checked_sub(since.elapsed()) {
                    Some(left) if !left.is_zero() => wait = wait.min(left),
                    _ => {
                        let r = self.sink.flush();
                        self.check(r);
                        unflushed_since = None;
                    }
                }
            }
            std::thread::park_timeout(wait);
        }
        self.finish();
        self.out
    }

    /// Remembers the first error; later writes are skipped and counted as lost.
    fn check(&mut self, r: io::Result<()>) {
        if let Err(e) = r
            && self.out.error.is_none()
        {
            self.out.error = Some(e);
        }
    }

    fn write_chunk(&mut self, header: &EventChunkHeader, bytes: &[u8]) {
        if self.out.error.is_some() {
            self.out.lost_chunks += 1;
            self.out.lost_events += u64::from(header.event_count);
            return;
        }
        let r = self.sink.events(header, bytes);
        if r.is_ok() {
            self.out.chunks += 1;
            self.out.events += u64::from(header.event_count);
            self.end_time = self.end_time.max(header.end_time);
        } else {
            self.out.lost_chunks += 1;
            self.out.lost_events += u64::from(header.event_count);
        }
        self.check(r);
    }

    /// Writes pending metadata and full chunks. Returns whether anything was written.
    fn drain(&mut self) -> bool {
        let mut wrote = false;
        while let Some(meta) = self.shared.pop_meta() {
            wrote = true;
            if self.out.error.is_none() {
                let r = self.sink.meta(&meta);
                self.check(r);
            }
        }
        while let Some(full) = self.shared.pool.pop_full() {
            wrote = true;
            // SAFETY: the writer owns a chunk popped from the full queue; `len` is what its
            // thread wrote.
            let bytes = unsafe { full.chunk.prefix(full.len) };
            self.write_chunk(&full.header, bytes);
            self.shared.pool.give_back(full.chunk);
        }
        wrote
    }

    fn finish(&mut self) {
        std::thread::sleep(STOP_GRACE);
        self.drain();
        for (slot, chunk, committed) in self.shared.collect_unfinished() {
            // SAFETY: `chunk` stays allocated while `slot` lives; its thread writes only
            // beyond `committed`, which was read with Acquire.
            let chunk = unsafe { &*chunk };
            let bytes = unsafe { chunk.prefix(committed) };
            let base_time = chunk.base_time.load(Ordering::Relaxed);
            // The thread kept no header for a chunk it was still filling: count it here.
            let (mut count, mut end_time, mut valid) = (0u32, base_time, 0);
            let mut decoder = ChunkDecoder::new(bytes, base_time);
            while let Some(Ok((t, _))) = decoder.next() {
                count += 1;
                end_time = t;
                valid = decoder.position();
            }
            let bytes = &bytes[..valid];
            let header = EventChunkHeader {
                thread: slot.thread,
                seq: slot.seq.load(Ordering::Relaxed),
                base_time,
                end_time,
                event_count: count,
            };
            self.write_chunk(&header, bytes);
        }
        // Chunks handed over while the slots were being collected.
        self.drain();
        let end = End {
            end_time: self.end_time.max(crate::clock::now()),
            events: self.out.events,
            chunks: self.out.chunks,
            lost_chunks: self.shared.lost_chunks.load(Ordering::Relaxed) + self.out.lost_chunks,
            lost_events: self.shared.lost_events.load(Ordering::Relaxed) + self.out.lost_events,
        };
        // The summary reports what the file says (a drop racing the stop after this point
        // is in neither).
        self.out.lost_chunks = end.lost_chunks;
        self.out.lost_events = end.lost_events;
        self.shared.pool.release_free();
        if self.out.error.is_none() {
            match self.sink.finish(&end) {
                Ok(bytes) => self.out.bytes = bytes,
                Err(e) => self.out.error = Some(e),
            }
        }
    }
}
