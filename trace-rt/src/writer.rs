//! The writer thread: drains full chunks and metadata into the session's sink, returns
//! chunks to the pool, copies what quiet threads' chunks hold, and on stop collects every
//! thread's unfinished chunk and writes the end record. All I/O happens here, never on
//! recording threads.
//!
//! Quiet threads: a thread hands its chunk over when the chunk is full or older than the
//! flush interval, but only when it records its next event. A thread that goes quiet would
//! keep its events until the stop, and lose them to a `kill -9`. So the writer watches the
//! slots, and once a thread has kept the same chunk for a flush interval it *peeks*: marks
//! the slot `peek` (a compare-and-swap, like the thread's own `busy`), copies the committed
//! events, and puts the chunk back. The thread is not slowed: its events go on beyond the
//! committed length as usual, and if it wants to hand the chunk over meanwhile it takes it
//! from `peek` without waiting (then the chunk goes to the full queue whatever happens, and
//! only the writer recycles it, after the copy). The copy becomes a chunk in the file of its
//! own; the rest of the chunk, when it arrives, is re-encoded as another one (every chunk is
//! decodable on its own: its time and task deltas start afresh). A thread's chunks carry
//! consecutive `seq` numbers in the file, so the writer renumbers: a chunk's pieces take
//! consecutive numbers and push the thread's later chunks up by as many, and a chunk the
//! thread dropped stays a gap.
//!
//! Loss, not retries: after the sink's first error nothing more is given to it (a full disk
//! is not written to again); every chunk after it is dropped and counted, and the error goes
//! to [`crate::Session::stop`] with the summary. A stop has a deadline
//! ([`crate::Config::stop_timeout`]): past three quarters of it, chunks still to be written
//! are dropped and counted, so that the end record (with those counts) is written in time.

use std::collections::HashMap;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use trace_format::codec::{self, ChunkDecoder, EncodeState};
use trace_format::{End, Event, EventChunkHeader, Header, Meta};

use crate::chunk::Chunk;
use crate::shared::{Shared, Slot, is_chunk, peek};
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
pub(crate) fn spawn(
    shared: Arc<Shared>,
    sink: Box<dyn Sink>,
    header: Header,
) -> io::Result<(JoinHandle<()>, Receiver<Outcome>)> {
    let (tx, rx) = sync_channel(1);
    let handle = std::thread::Builder::new()
        .name("trace-rt-writer".into())
        .spawn(move || {
            // The writer's own allocations (buffers, metadata, freeing the stack table at the
            // stop) are the recorder's, not the application's: counted, never sampled or
            // timed as slow-call pauses.
            let outcome = crate::alloc::unrecorded(|| Writer::new(shared, sink).run(&header));
            send(&tx, outcome);
        })?;
    Ok((handle, rx))
}

/// Hands the outcome to the stop (which may have given up waiting: then nobody reads it).
fn send(tx: &SyncSender<Outcome>, outcome: Outcome) {
    let _ = tx.try_send(outcome);
}

/// The events of a chunk that the application recorded: all but the `Lost` marker that may
/// open it (it reports drops already counted).
fn user_events(header: &EventChunkHeader, bytes: &[u8]) -> u64 {
    let marker = matches!(
        ChunkDecoder::new(bytes, header.base_time).next(),
        Some(Ok((_, Event::Lost { .. })))
    );
    u64::from(header.event_count).saturating_sub(u64::from(marker))
}

/// Adds `n` to a counter only the writer changes (no read-modify-write needed).
fn bump(counter: &AtomicU64, n: u64) {
    counter.store(counter.load(Ordering::Relaxed) + n, Ordering::Relaxed);
}

/// What the writer knows of one recording thread's chunks.
#[derive(Default)]
struct ThreadOut {
    /// Chunks written for this thread beyond one per thread chunk: a chunk whose seq is `s`
    /// goes out as `s + extra` (and its pieces, if peeked, as the numbers after it).
    extra: u32,
    /// What peeks wrote of the thread's current chunk.
    peeked: Option<Peeked>,
}

/// The part of a thread's chunk that peeks have written.
#[derive(Clone, Copy)]
struct Peeked {
    /// The chunk's sequence number (the thread's).
    seq: u32,
    /// Bytes of its events written (whole events).
    bytes: usize,
    /// Time of the last event written: the next piece's base time.
    end_time: u64,
    /// Chunks written from it so far.
    pieces: u32,
}

/// A slot as the writer's last look saw it.
struct Watched {
    slot: Arc<Slot>,
    chunk: *mut Chunk,
    seq: u32,
    /// Since when the slot has held this chunk (as far as the writer saw).
    since: Instant,
}

/// A chunk's events from byte `from` on, re-encoded into `out` as a chunk of their own
/// whose base time is `base` (the time of the event before them); with `from == 0`, the
/// chunk's bytes as they are. Returns the header fields: `(count, end_time)`.
fn piece(bytes: &[u8], base_time: u64, from: usize, base: u64, out: &mut Vec<u8>) -> (u32, u64) {
    out.clear();
    let mut decoder = ChunkDecoder::new(bytes, base_time);
    let mut state = EncodeState::new(base);
    let (mut count, mut end_time) = (0u32, base);
    loop {
        let at = decoder.position();
        // A decoding error cannot come from the recorder's own encoding; stop there.
        let Some(Ok((time, event))) = decoder.next() else {
            break;
        };
        if at < from {
            continue;
        }
        if from == 0 {
            out.extend_from_slice(&bytes[at..decoder.position()]);
        } else {
            let len = out.len();
            out.resize(len + codec::max_encoded_len(&event), 0);
            let n = codec::encode(&mut state, &mut out[len..], time, &event);
            out.truncate(len + n);
        }
        count += 1;
        end_time = time;
    }
    (count, end_time)
}

struct Writer {
    shared: Arc<Shared>,
    sink: Box<dyn Sink>,
    /// The sink's first error: nothing more is written after it.
    error: Option<io::Error>,
    /// While stopping: past this, chunks are dropped (and counted) rather than written.
    write_until: Option<Instant>,
    end_time: u64,
    threads: HashMap<u32, ThreadOut>,
    watched: Vec<Watched>,
    /// A peek's copy of a chunk's committed bytes.
    copy: Vec<u8>,
    /// A piece of a chunk, re-encoded.
    encoded: Vec<u8>,
    /// The first stack id not yet written.
    next_stack: u64,
    /// Packs the stacks written against those written before (bounded memory).
    packer: trace_format::pack::StackPacker,
    /// Every code address in the stacks written, and whether it was ever a stack's first
    /// frame (then it is looked up as it is; otherwise as a return address).
    stack_addrs: HashMap<u64, bool>,
}

impl Writer {
    fn new(shared: Arc<Shared>, sink: Box<dyn Sink>) -> Self {
        Writer {
            shared,
            sink,
            error: None,
            write_until: None,
            end_time: 0,
            threads: HashMap::new(),
            watched: Vec::new(),
            copy: Vec::new(),
            encoded: Vec::new(),
            next_stack: 1,
            packer: Default::default(),
            stack_addrs: HashMap::new(),
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
            let mut wrote = self.drain();
            if stopping {
                break;
            }
            wrote |= self.peek_quiet_threads();
            if wrote {
                unflushed_since.get_or_insert_with(Instant::now);
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
            // Stacks just before the chunk: its events were recorded after their stacks
            // were interned, so it refers only to stacks defined by now. Written here rather
            // than every round, the stacks met between two chunks share one record (a
            // record costs about 17 bytes of framing, as much as a stack or two).
            self.write_stacks(false);
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

    /// Writes a thread's chunk `seq` whose events are `bytes` (whole events): handed over
    /// (`header`, the thread's own) or collected at the stop. Only what peeks have not
    /// written yet, under the chunk's number in the file.
    fn write_thread_chunk(
        &mut self,
        thread: u32,
        seq: u32,
        base_time: u64,
        bytes: &[u8],
        header: Option<&EventChunkHeader>,
    ) {
        let t = self.threads.entry(thread).or_default();
        let peeked = match t.peeked.take() {
            Some(p) if p.seq == seq => Some(p),
            // A peeked chunk always comes back to the writer, and in order; were one ever
            // missing, the numbers it took stay taken and its rest is a gap.
            Some(p) => {
                t.extra = t.extra.wrapping_add(p.pieces);
                None
            }
            None => None,
        };
        let first = seq.wrapping_add(t.extra);
        match (peeked, header) {
            (None, Some(h)) => {
                // The common case: the chunk as its thread wrote it.
                if h.event_count > 0 {
                    let h = EventChunkHeader { seq: first, ..*h };
                    self.write_chunk(&h, bytes);
                }
            }
            (peeked, _) => {
                let (from, base, pieces) =
                    peeked.map_or((0, base_time, 0), |p| (p.bytes, p.end_time, p.pieces));
                let mut out = std::mem::take(&mut self.encoded);
                let (count, end_time) = piece(bytes, base_time, from, base, &mut out);
                let mut written = pieces;
                if count > 0 {
                    let h = EventChunkHeader {
                        thread,
                        seq: first.wrapping_add(pieces),
                        base_time: base,
                        end_time,
                        event_count: count,
                    };
                    self.write_chunk(&h, &out);
                    written += 1;
                }
                self.encoded = out;
                // The chunk took `written` numbers in the file instead of one.
                let t = self.threads.entry(thread).or_default();
                t.extra = t.extra.wrapping_add(written.saturating_sub(1));
            }
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
            // SAFETY: the writer owns a chunk popped from the full queue (no peek of it is
            // under way: peeks run on this thread); `len` is what its thread wrote.
            let bytes = unsafe { full.chunk.as_ref().prefix(full.len) };
            let h = &full.header;
            self.write_thread_chunk(h.thread, h.seq, h.base_time, bytes, Some(h));
            // SAFETY: as above; it came from `Box::into_raw`, and nothing refers to it now.
            self.shared
                .pool
                .give_back(unsafe { Box::from_raw(full.chunk.as_ptr()) });
        }
        wrote
    }

    /// Writes the stacks defined since the last call as one `Meta::PackedStacks` record
    /// (`all`: at the stop, skipping any still being defined). Returns whether it wrote one.
    /// Packed, each stack costs its own inner frames, a few bytes each: the outer frames it
    /// shares with a stack written before are named, not repeated.
    fn write_stacks(&mut self, all: bool) -> bool {
        let Some(stacks) = self.shared.stacks.load_full() else {
            return false;
        };
        let mut defs = Vec::new();
        stacks.table.drain_new(&mut self.next_stack, all, &mut defs);
        if defs.is_empty() {
            return false;
        }
        for d in &defs {
            for (i, &addr) in d.frames.iter().enumerate() {
                *self.stack_addrs.entry(addr).or_insert(false) |= i == 0;
            }
        }
        if self.error.is_none() {
            // Packed only while the sink takes records: a stack packed but never written must
            // not become another's base.
            let packed = self.packer.pack(&defs);
            let r = self.sink.meta(&Meta::PackedStacks(packed));
            self.check(r);
        }
        true
    }

    /// At the stop: names the code of every address in the stacks written (`Meta::Symbols`,
    /// timed), lists the mapped files (`Meta::Mappings`), and says how sampling went
    /// (`Meta::Sampling`), so the trace needs no binary to be read.
    ///
    /// Naming the code runs on a thread of its own and is waited for only while the stop's
    /// deadline leaves room (a quarter of the stop timeout is kept for the end record): past
    /// that, the trace goes without symbols (`resolved_addresses` 0 of `addresses`; `trace-viewer
    /// symbolize` can add them later) rather than without its end record.
    fn write_code_records(&mut self, stacks: &crate::stacks::Stacks, deadline: Instant) {
        let mut info = stacks.sampling_info();
        #[cfg(not(target_os = "linux"))]
        let _ = deadline;
        #[cfg(target_os = "linux")]
        if !self.stack_addrs.is_empty() {
            use crate::stacks::symbolize::{Addr, resolve};
            let addrs: Vec<Addr> = self
                .stack_addrs
                .iter()
                .map(|(&addr, &first)| Addr {
                    addr,
                    is_return: !first,
                })
                .collect();
            info.addresses = addrs.len() as u64;
            let started = Instant::now();
            let (tx, rx) = sync_channel(1);
            let spawned = std::thread::Builder::new()
                .name("trace-rt-symbolize".into())
                .spawn(move || {
                    let resolved = crate::alloc::unrecorded(|| resolve(&addrs));
                    let _ = tx.send(resolved);
                });
            let wait = deadline
                .checked_duration_since(Instant::now())
                .map_or(Duration::ZERO, |left| {
                    left.saturating_sub(self.shared.stop_timeout / 4)
                });
            let resolved = match spawned {
                Ok(_) => rx.recv_timeout(wait).ok(),
                Err(_) => None,
            };
            info.symbolize_ns = started.elapsed().as_nanos() as u64;
            let Some(resolved) = resolved else {
                if self.error.is_none() {
                    let r = self.sink.meta(&Meta::Sampling(info));
                    self.check(r);
                }
                return;
            };
            info.resolved_addresses = resolved.resolved;
            if self.error.is_none() && !resolved.symbols.addrs.is_empty() {
                let packed = trace_format::pack::pack_symbols(&resolved.symbols);
                let r = self.sink.meta(&Meta::PackedSymbols(packed));
                self.check(r);
            }
            if self.error.is_none() && !resolved.mappings.is_empty() {
                let r = self.sink.meta(&Meta::Mappings(resolved.mappings));
                self.check(r);
            }
        }
        if self.error.is_none() {
            let r = self.sink.meta(&Meta::Sampling(info));
            self.check(r);
        }
    }

    /// Looks at every slot; a chunk that has sat in its slot for a flush interval is
    /// peeked at (see the module docs). Returns whether anything was written.
    fn peek_quiet_threads(&mut self) -> bool {
        let known = self.watched.len();
        let mut new = Vec::new();
        self.shared.slots_since(known, &mut new);
        let now = Instant::now();
        self.watched.extend(new.into_iter().map(|slot| Watched {
            slot,
            chunk: std::ptr::null_mut(),
            seq: 0,
            since: now,
        }));
        let interval = self.shared.flush_interval;
        let mut quiet = Vec::new();
        for (i, w) in self.watched.iter_mut().enumerate() {
            // Acquire: every chunk this thread handed over before installing this one is in
            // the full queue now (the drain below writes it before the peek's piece).
            let seq = w.slot.seq.load(Ordering::Acquire);
            let chunk = w.slot.current.load(Ordering::Acquire);
            if !is_chunk(chunk) || chunk != w.chunk || seq != w.seq {
                (w.chunk, w.seq, w.since) = (chunk, seq, now);
            } else if now.duration_since(w.since) >= interval {
                quiet.push(i);
            }
        }
        if quiet.is_empty() {
            return false;
        }
        // The threads' earlier chunks first: a thread's pieces are numbered in order.
        self.drain();
        let mut wrote = false;
        for i in quiet {
            wrote |= self.peek(i);
            self.watched[i].since = now;
        }
        wrote
    }

    /// Copies what the chunk in watched slot `i` holds beyond what was written of it, and
    /// writes it as a chunk of its own. Returns whether it wrote anything.
    fn peek(&mut self, i: usize) -> bool {
        let w = &self.watched[i];
        let (slot, p) = (w.slot.clone(), w.chunk);
        if slot
            .current
            .compare_exchange(p, peek(), Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            return false; // the thread is handing it over, or has: it comes through the queue
        }
        // The thread cannot install another chunk while the slot says `peek`.
        let seq = slot.seq.load(Ordering::Relaxed);
        let done = match self.threads.get(&slot.thread).and_then(|t| t.peeked) {
            Some(pk) if pk.seq == seq => pk.bytes,
            _ => 0,
        };
        let mut copied = None;
        if seq == w.seq {
            // SAFETY: chunks stay allocated while the session lives, and this one is the
            // slot's (the CAS): its thread writes only beyond `committed` (read with Acquire),
            // and if it takes the chunk back meanwhile it hands it to the full queue, which
            // only this thread pops, so the bytes stay as they are until the copy is done.
            let chunk = unsafe { &*p };
            let committed = chunk.committed.load(Ordering::Acquire);
            if committed > done {
                self.copy.clear();
                // SAFETY: as above.
                self.copy
                    .extend_from_slice(unsafe { chunk.prefix(committed) });
                copied = Some(chunk.base_time.load(Ordering::Relaxed));
                // Before the chunk is given back: its thread must not drop it in place now.
                slot.peeked.store(seq.wrapping_add(1), Ordering::Relaxed);
            }
        }
        // Fails when the thread took the chunk back meanwhile (it hands it over).
        let _ = slot
            .current
            .compare_exchange(peek(), p, Ordering::Release, Ordering::Relaxed);
        let Some(base_time) = copied else {
            return false;
        };
        let copy = std::mem::take(&mut self.copy);
        let t = self.threads.entry(slot.thread).or_default();
        if t.peeked.is_some_and(|pk| pk.seq != seq) {
            // As in `write_thread_chunk`: never happens; numbers taken stay taken.
            t.extra = t.extra.wrapping_add(t.peeked.map_or(0, |pk| pk.pieces));
            t.peeked = None;
        }
        let pk = *t.peeked.get_or_insert(Peeked {
            seq,
            bytes: 0,
            end_time: base_time,
            pieces: 0,
        });
        let first = seq.wrapping_add(t.extra);
        let mut out = std::mem::take(&mut self.encoded);
        let (count, end_time) = piece(&copy, base_time, pk.bytes, pk.end_time, &mut out);
        let wrote = count > 0;
        if wrote {
            let h = EventChunkHeader {
                thread: slot.thread,
                seq: first.wrapping_add(pk.pieces),
                base_time: pk.end_time,
                end_time,
                event_count: count,
            };
            self.write_chunk(&h, &out);
            // Written or (after an error) counted as lost: either way not to be written again.
            if let Some(t) = self.threads.get_mut(&slot.thread) {
                t.peeked = Some(Peeked {
                    seq,
                    bytes: copy.len(),
                    end_time,
                    pieces: pk.pieces + 1,
                });
            }
        }
        self.encoded = out;
        self.copy = copy;
        wrote
    }

    fn finish(mut self) -> Outcome {
        self.dropping(); // sets `write_until`
        let deadline = self.shared.stop_deadline.get().copied();
        let deadline = deadline.unwrap_or_else(|| Instant::now() + self.shared.stop_timeout);
        std::thread::sleep(STOP_GRACE);
        // Take the threads' chunks first, then write what they handed over before (each
        // thread's chunks in order), then the chunks taken.
        let unfinished = self.shared.collect_unfinished(deadline);
        self.drain();
        for (slot, chunk, committed) in unfinished {
            // SAFETY: `chunk` stays allocated while `slot` lives; its thread writes only
            // beyond `committed`, which was read with Acquire.
            let chunk = unsafe { &*chunk };
            let bytes = unsafe { chunk.prefix(committed) };
            let base_time = chunk.base_time.load(Ordering::Relaxed);
            let seq = slot.seq.load(Ordering::Relaxed);
            self.write_thread_chunk(slot.thread, seq, base_time, bytes, None);
        }
        // Chunks of threads that were busy handing one over when the slots were collected.
        self.drain();
        self.write_stacks(true);
        // The recording ended when it was switched off: the task dumps taken since, and
        // naming the code below, take time that is not recorded (a poll cut by the stop
        // must not read as lasting through them).
        let stopped_at = self.shared.stopped_at.get().copied();
        let end_time = self
            .end_time
            .max(stopped_at.unwrap_or_else(crate::clock::now));
        if let Some(stacks) = self.shared.stacks.load_full() {
            self.write_code_records(&stacks, deadline);
        }
        // Frees the table now, not whenever the last thread of this session records again.
        self.shared.stacks.store(None);
        let progress = &self.shared.progress;
        let end = End {
            end_time,
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
