//! The writer thread: drains full chunks and metadata into the session's sink, returns
//! chunks to the pool, and on stop collects every thread's unfinished chunk and writes the
//! end record. All I/O happens here, never on recording threads.
//!
//! Loss, not retries: after the sink's first error nothing more is given to it (a full disk
//! is not written to again); every chunk after it is dropped and counted, and the error goes
//! to [`crate::Session::stop`] with the summary. A stop has a deadline
//! ([`crate::Config::stop_timeout`]): past three quarters of it, chunks still to be written
//! are dropped and counted, so that the end record (with those counts) is written in time.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use trace_format::codec::ChunkDecoder;
use trace_format::{End, Event, EventChunkHeader, Header};

use crate::session::Shared;
use crate::sink::Sink;

/// What the writer did, handed back when it exits: the totals of the end record (or of what
/// it would have said, when it could not be written).
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) events: u64,
    pub(crate) chunks: u64,
    pub(crate) bytes: u64,
    /// Every loss: threads' drops, and chunks that reached the writer but were not written.
    pub(crate) lost_chunks: u64,
    pub(crate) lost_events: u64,
    /// The sink's first error.
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

/// Starts the writer thread; its [`Outcome`] arrives on the receiver when it is done (the
/// stop waits for it only until its deadline).
/// The events of a chunk that the application recorded: all but the `Lost` marker that may
/// open it (it reports drops already counted).
fn user_events(header: &EventChunkHeader, bytes: &[u8]) -> u64 {
    let marker = matches!(
        ChunkDecoder::new(bytes, header.base_time).next(),
        Some(Ok((_, Event::Lost { .. })))
    );
    u64::from(header.event_count).saturating_sub(u64::from(marker))
}

pub(crate) fn spawn(
    shared: Arc<Shared>,
    sink: Box<dyn Sink>,
    header: Header,
) -> io::Result<(JoinHandle<()>, Receiver<Outcome>)> {
    let (tx, rx) = sync_channel(1);
    let handle = std::thread::Builder::new()
        .name("trace-rt-writer".into())
        .spawn(move || {
            let outcome = Writer::new(shared, sink).run(&header);
            send(&tx, outcome);
        })?;
    Ok((handle, rx))
}

/// Hands the outcome to the stop (which may have given up waiting: then nobody reads it).
fn send(tx: &SyncSender<Outcome>, outcome: Outcome) {
    let _ = tx.try_send(outcome);
}

struct Writer {
    shared: Arc<Shared>,
    sink: Box<dyn Sink>,
    /// The sink's first error: nothing more is written after it.
    error: Option<io::Error>,
    /// While stopping: past this, chunks are dropped (and counted) rather than written.
    write_until: Option<Instant>,
    end_time: u64,
}

/// Adds `n` to a counter only the writer changes (no read-modify-write needed).
fn bump(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Ordering::Relaxed) + n, Ordering::Relaxed);
}

impl Writer {
    fn new(shared: Arc<Shared>, sink: Box<dyn Sink>) -> Self {
        Writer {
            shared,
            sink,
            error: None,
            write_until: None,
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
                        if self.error.is_none() {
                            let r = self.sink.flush();
                            self.check(r);
                        }
                        unflushed_since = None;
                    }
                }
            }
            std::thread::park_timeout(wait);
        }
        self.finish()
    }

    /// Remembers the first error; the sink is not called again after it.
    fn check(&mut self, r: io::Result<()>) {
        if let Err(e) = r
            && self.error.is_none()
        {
            self.error = Some(e);
        }
    }

    /// Whether chunks are to be dropped rather than written: after an error, or past the
    /// stop's writing time (checked before every chunk: a stop can come while the writer is
    /// working through a long queue).
    fn dropping(&mut self) -> bool {
        if self.error.is_some() {
            return true;
        }
        if self.write_until.is_none() && self.shared.stop.load(Ordering::Acquire) {
            // The stop sets its deadline before `stop`.
            let deadline = self.shared.stop_deadline.get().copied();
            let deadline = deadline.unwrap_or_else(|| Instant::now() + self.shared.stop_timeout);
            // A quarter of the time is kept for the end record (and a file's sync).
            let reserve = self.shared.stop_timeout / 4;
            self.write_until = Some(deadline.checked_sub(reserve).unwrap_or(deadline));
        }
        self.write_until.is_some_and(|t| Instant::now() >= t)
    }

    fn write_chunk(&mut self, header: &EventChunkHeader, bytes: &[u8]) {
        let r = if self.dropping() {
            None
        } else {
            Some(self.sink.events(header, bytes))
        };
        let progress = &self.shared.progress;
        if let Some(Ok(())) = r {
            bump(&progress.chunks, 1);
            bump(&progress.events, u64::from(header.event_count));
            self.end_time = self.end_time.max(header.end_time);
        } else {
            bump(&progress.lost_chunks, 1);
            bump(&progress.lost_events, user_events(header, bytes));
        }
        if let Some(r) = r {
            self.check(r);
        }
    }

    /// Writes pending metadata and full chunks. Returns whether anything was written.
    fn drain(&mut self) -> bool {
        let mut wrote = false;
        while let Some(meta) = self.shared.pop_meta() {
            wrote = true;
            if self.error.is_none() {
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

    fn finish(mut self) -> Outcome {
        self.dropping(); // sets `write_until`
        let deadline = self.shared.stop_deadline.get().copied();
        let deadline = deadline.unwrap_or_else(|| Instant::now() + self.shared.stop_timeout);
        std::thread::sleep(STOP_GRACE);
        self.drain();
        for (slot, chunk, committed) in self.shared.collect_unfinished(deadline) {
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
        let progress = &self.shared.progress;
        let end = End {
            end_time: self.end_time.max(crate::clock::now()),
            events: progress.events.load(Ordering::Relaxed),
            chunks: progress.chunks.load(Ordering::Relaxed),
            lost_chunks: self.shared.lost_chunks.load(Ordering::Relaxed)
                + progress.lost_chunks.load(Ordering::Relaxed),
            lost_events: self.shared.lost_events.load(Ordering::Relaxed)
                + progress.lost_events.load(Ordering::Relaxed),
        };
        self.shared.pool.release_free();
        // The summary reports what the file says (a drop racing the stop after this point
        // is in neither).
        let mut out = Outcome {
            events: end.events,
            chunks: end.chunks,
            lost_chunks: end.lost_chunks,
            lost_events: end.lost_events,
            ..Outcome::default()
        };
        match self.error.take() {
            // After an error the sink is not called again: the file has no end record.
            Some(e) => out.error = Some(e),
            None => match self.sink.finish(&end) {
                Ok(bytes) => out.bytes = bytes,
                Err(e) => out.error = Some(e),
            },
        }
        out
    }
}
