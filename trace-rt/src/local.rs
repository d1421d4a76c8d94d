//! The hot path: each thread encodes its events into its own chunk, with no lock, no
//! allocation and no atomic read-modify-write per event. Once per chunk (when it is full or
//! older than the flush interval) the thread hands it to the writer and takes a fresh one
//! from the pool; if none is free, the chunk's events are dropped and counted, and a `Lost`
//! event opens the next chunk. See `shared.rs` for how a stop collects unfinished chunks,
//! and `writer.rs` for how the writer copies a quiet thread's chunk; only the hand-over
//! (`Attached::rotate`, `Attached::retire`) deals with them, never the per-event path.

use std::cell::{Cell, UnsafeCell};
use std::ptr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use trace_format::codec::{self, EncodeState};
use trace_format::{Event, EventChunkHeader, Meta, ThreadDef};

use crate::chunk::{Chunk, FullChunk};
use crate::clock;
use crate::shared::{EPOCH, Shared, Slot, busy, peek};

static NEXT_THREAD: AtomicU32 = AtomicU32::new(1);

/// Records `event` on the current thread if a session is recording.
///
/// This is the primitive every hook uses; instrumentation layers call it with the events
/// they observe. It never blocks, allocates (except once per thread per session), or
/// panics. Re-entrant calls (e.g. from an allocator hook while recording) are dropped.
///
/// ```
/// use trace_rt::raw::{record, Event};
/// let session = trace_rt::Config::default().start_with_sink(trace_rt::MemorySink::new())?;
/// record(&Event::Counter { name: trace_rt::intern("queue"), value: 3 });
/// assert_eq!(session.stop()?.events, 1);
/// # Ok::<(), trace_rt::Error>(())
/// ```
#[inline]
pub fn record(event: &Event<'_>) {
    let epoch = EPOCH.load(Ordering::Relaxed);
    if epoch == 0 {
        return;
    }
    record_in(epoch, || *event, clock_now);
}

/// [`record`] for the hooks that run on every poll or task, with the `epoch` the hook read
/// (non-zero). `make` builds the event inside the call, so each call site gets its own copy
/// of the encoder with the event's kind known at compile time, which folds it to a few
/// stores; `record`'s single shared copy dispatches on the kind at run time.
/// Measured with callgrind on the yield loop: 278 → 198 instructions per poll (160 with [`Hot`]).
#[inline(always)]
pub(crate) fn record_hot<'a>(epoch: u64, make: impl FnOnce() -> Event<'a> + Copy) {
    record_in(epoch, make, clock_now);
}

#[inline(always)]
fn clock_now(_last: u64) -> u64 {
    clock::now()
}

/// Records `event` at the time of this thread's previous event, without reading the clock:
/// for an event that belongs to the one just recorded (tokio's schedule latency of the poll
/// that has just started), so that it costs no second clock read and carries its poll's time.
/// Otherwise the same as [`record_hot`].
#[inline(always)]
pub(crate) fn record_hot_with_previous_time<'a>(
    epoch: u64,
    make: impl FnOnce() -> Event<'a> + Copy,
) {
    // 0: this thread holds no chunk, so there is no previous event to take the time of.
    record_in(
        epoch,
        make,
        |last| if last == 0 { clock::now() } else { last },
    );
}

/// Writes the event `make` builds at the time `time` gives from the thread's last event
/// time: directly into the thread's chunk when [`Hot`] allows it, else through
/// [`record_slow`]. (The event is built inside the thread-local access so that its kind is
/// known where it is encoded.)
#[inline(always)]
fn record_in<'a>(
    epoch: u64,
    make: impl FnOnce() -> Event<'a> + Copy,
    time: impl FnOnce(u64) -> u64 + Copy,
) {
    // Samples the signal handler took since this thread's last event come first.
    #[cfg(all(target_os = "linux", not(miri)))]
    if crate::stacks::signal::has_pending() {
        crate::stacks::signal::flush(epoch, try_record_at);
    }
    // `HOT` has no destructor, so it is reachable for the thread's whole life.
    let _ = HOT.try_with(|hot| {
        if !hot.write(epoch, &make(), time) {
            // Built again here rather than kept from above, so that the fast path does not
            // have to keep the event in memory for this call.
            record_slow(epoch, &make(), time);
        }
    });
}

/// Everything [`Hot::write`] does not handle: joining a session, handing over a full or old
/// chunk, a thread with no chunk, a re-entrant call, the session stopping.
#[cold]
#[inline(never)]
fn record_slow(epoch: u64, event: &Event<'_>, time: impl FnOnce(u64) -> u64) {
    if LOCAL
        .try_with(|local| local.record(epoch, event, time))
        .is_err()
    {
        // The thread is exiting and its recorder state is gone (another thread-local's
        // destructor is recording): the event cannot be written.
        lost_one();
    }
}

/// For hooks that can run inside the recorder itself (the allocator: the recorder allocates
/// while it registers a thread or queues metadata): records `event` at `time` (ticks, raised
/// to the thread's previous event time if earlier, so it may lie in the past) and returns
/// `true`; or, when this thread is already inside [`record`] or its recorder state is gone
/// (the thread is exiting) or nothing records, returns `false` without writing or counting
/// anything, so that the caller can keep what it wanted to record and try again later.
pub(crate) fn try_record_at(time: u64, event: &Event<'_>) -> bool {
    let epoch = EPOCH.load(Ordering::Relaxed);
    if epoch == 0 {
        return false;
    }
    LOCAL
        .try_with(|local| local.try_record_at(epoch, time, event))
        .unwrap_or(false)
}

/// The time of this thread's last event (0: none in its chunk).
#[inline(always)]
pub(crate) fn last_event_time() -> u64 {
    HOT.try_with(|hot| hot.state.get().last_time).unwrap_or(0)
}

thread_local! {
    static HOT: Hot = const { Hot::detached() };
    static LOCAL: Local = const {
        Local {
            busy: Cell::new(false),
            inner: UnsafeCell::new(Inner { epoch: 0, thread: 0, attached: None }),
        }
    };
}

/// The part of a thread's recording state that every event reads: where it goes in the
/// chunk being filled. It lives apart from [`Local`] in a thread-local without a destructor,
/// so that reaching it costs no check of the destructor's registration, and one comparison
/// (`gate`) tells whether an event may be written here directly.
struct Hot {
    /// The epoch in which events may be written directly: that of the session this thread
    /// is attached to while it holds a chunk, and 0 (never an epoch) otherwise and while
    /// [`Local`] is busy, so that a re-entrant call takes the slow path, which drops it.
    gate: Cell<u64>,
    /// The chunk's bytes and its published length; valid while `gate` is non-zero (the
    /// session's slot, which [`Attached`] keeps alive, frees a stolen chunk only when it drops).
    data: Cell<*mut u8>,
    committed: Cell<*const AtomicUsize>,
    /// Bytes written to the chunk.
    pos: Cell<usize>,
    /// The last `pos` at which an event of [`codec::MAX_FIXED_EVENT_LEN`] bytes still fits.
    room: Cell<usize>,
    /// Past this time the chunk is handed over even if not full (the flush interval).
    deadline: Cell<u64>,
    /// Events in the chunk.
    count: Cell<u32>,
    state: Cell<EncodeState>,
}

impl Hot {
    const fn detached() -> Hot {
        Hot {
            gate: Cell::new(0),
            data: Cell::new(ptr::null_mut()),
            committed: Cell::new(ptr::null()),
            pos: Cell::new(0),
            room: Cell::new(0),
            deadline: Cell::new(0),
            count: Cell::new(0),
            state: Cell::new(EncodeState {
                last_time: 0,
                last_task: 0,
            }),
        }
    }

    /// Writes `event` if this thread holds a chunk of session `epoch` with room for it and
    /// not older than the flush interval; `false` (nothing written) otherwise.
    #[inline(always)]
    fn write(&self, epoch: u64, event: &Event<'_>, time: impl FnOnce(u64) -> u64) -> bool {
        let now = time(self.state.get().last_time);
        // 0 for every event but a log or an unknown one with a payload.
        let extra = codec::max_encoded_len(event) - codec::MAX_FIXED_EVENT_LEN;
        let pos = self.pos.get();
        if self.gate.get() != epoch || pos + extra > self.room.get() || now > self.deadline.get() {
            return false;
        }
        let len = codec::MAX_FIXED_EVENT_LEN + extra;
        // A non-zero gate means `data` is this thread's chunk (or the stop stole it, and it
        // stays allocated while our slot lives), `pos + len` is within its capacity (`room`
        // check), and this thread is the only one writing it, beyond `committed`.
        let buf = ptr::slice_from_raw_parts_mut(self.data.get().wrapping_add(pos), len);
        // SAFETY: as for `data`.
        let committed = unsafe { &*self.committed.get() };
        // SAFETY: as above.
        unsafe { self.append(buf, now, event, committed) };
        true
    }

    /// Encodes `event` into `buf` (the chunk's bytes from `pos` on) and publishes it.
    ///
    /// `buf` is a raw pointer, not `&mut [u8]`, because publishing lets the stop read the
    /// bytes just written: a `&mut` argument would still be live (Miri: "strongly protected")
    /// until this function returns, and that read would invalidate it. The `&mut` made here
    /// ends before the `committed` store.
    ///
    /// # Safety
    /// `buf` lies inside a chunk this thread owns (or owned until the stop took it), beyond
    /// its committed length, and nothing else writes or references those bytes.
    #[inline(always)]
    unsafe fn append(&self, buf: *mut [u8], now: u64, event: &Event<'_>, committed: &AtomicUsize) {
        let mut state = self.state.get();
        // SAFETY: per the contract, `buf` is valid and unaliased for writes.
        let written = codec::encode(&mut state, unsafe { &mut *buf }, now, event);
        let pos = self.pos.get() + written;
        self.state.set(state);
        self.pos.set(pos);
        self.count.set(self.count.get() + 1);
        committed.store(pos, Ordering::Release);
    }

    /// Starts filling `chunk` at `now`.
    fn install(&self, chunk: &Chunk, flush_ticks: u64, now: u64) {
        self.data.set(chunk.data());
        self.committed.set(&chunk.committed);
        self.pos.set(0);
        self.room
            .set(chunk.capacity().saturating_sub(codec::MAX_FIXED_EVENT_LEN));
        self.deadline.set(now.saturating_add(flush_ticks));
        self.count.set(0);
        self.state.set(EncodeState::new(now));
    }
}

struct Local {
    /// Set while `inner` is borrowed; a re-entrant call sees it and drops its event.
    busy: Cell<bool>,
    inner: UnsafeCell<Inner>,
}

impl Local {
    /// Writes `event` at the time `time` gives from the thread's last event time.
    fn record(&self, epoch: u64, event: &Event<'_>, time: impl FnOnce(u64) -> u64) {
        if !self.write(epoch, event, time) {
            lost_one();
        }
    }

    /// See [`try_record_at`].
    fn try_record_at(&self, epoch: u64, time: u64, event: &Event<'_>) -> bool {
        self.write(epoch, event, |last| time.max(last))
    }

    /// Writes `event` through [`Inner`], with the fast path closed meanwhile; `false`
    /// (nothing written) when this thread is already inside a write.
    fn write(&self, epoch: u64, event: &Event<'_>, time: impl FnOnce(u64) -> u64) -> bool {
        if self.busy.replace(true) {
            return false;
        }
        let _ = HOT.try_with(|hot| {
            hot.gate.set(0);
            // SAFETY: `busy` was false, so no other reference to `inner` exists on this
            // thread (only this thread can reach it) until we clear `busy` below.
            let inner = unsafe { &mut *self.inner.get() };
            inner.write(hot, epoch, event, time);
            hot.gate.set(inner.gate());
        });
        self.busy.set(false);
        true
    }
}

/// An event that cannot be written (it arrived while this thread was inside `record`, from
/// an allocator hook, or after the thread's recorder state was destroyed): counted as lost.
#[cold]
#[inline(never)]
fn lost_one() {
    if let Some(shared) = crate::shared::current() {
        shared.count_lost(0, 1);
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        crate::stacks::thread_exiting();
        let inner = self.inner.get_mut();
        let _ = HOT.try_with(|hot| {
            // Destructors of other thread-locals may still record: they must not write into
            // a chunk this thread no longer holds.
            hot.gate.set(0);
            if let Some(attached) = inner.attached.take()
                && EPOCH.load(Ordering::Relaxed) == inner.epoch
            {
                attached.retire(hot);
            }
        });
    }
}

struct Inner {
    /// The session epoch this thread last synchronised with.
    epoch: u64,
    /// Trace-local thread id, assigned on first use and kept for the thread's life.
    thread: u32,
    attached: Option<Attached>,
}

impl Inner {
    /// Attaches to the current session if needed, then writes `event` at the time `time`
    /// gives from the thread's last event time.
    fn write(&mut self, hot: &Hot, epoch: u64, event: &Event<'_>, time: impl FnOnce(u64) -> u64) {
        if self.epoch != epoch {
            self.switch_session(epoch);
        }
        let Some(a) = &mut self.attached else {
            return;
        };
        // Without a chunk there is no previous event to go from (`hot` may still hold an
        // earlier chunk's, even an earlier session's): 0.
        let last = if a.chunk.is_null() {
            0
        } else {
            hot.state.get().last_time
        };
        let now = time(last);
        if !a.write(hot, now, event) {
            // The session took our chunk (it is stopping): let go of it.
            self.attached = None;
        }
    }

    /// What [`Hot::gate`] should be now that nothing borrows `self`.
    fn gate(&self) -> u64 {
        match &self.attached {
            Some(a) if !a.chunk.is_null() => self.epoch,
            _ => 0,
        }
    }

    #[cold]
    #[inline(never)]
    fn switch_session(&mut self, epoch: u64) {
        // The previous session, if any, has collected what it could of our chunk.
        self.attached = None;
        self.epoch = epoch;
        if self.thread == 0 {
            self.thread = NEXT_THREAD.fetch_add(1, Ordering::Relaxed);
        }
        let Some(shared) = crate::shared::current().filter(|s| s.epoch == epoch) else {
            return;
        };
        let Some(slot) = shared.register(self.thread) else {
            return;
        };
        let name = std::panic::catch_unwind(|| std::thread::current().name().map(String::from))
            .ok()
            .flatten()
            .unwrap_or_default();
        if let Some(stacks) = &*shared.stacks.load() {
            crate::stacks::thread_attached(epoch, stacks);
        }
        shared.push_meta(Meta::Thread(ThreadDef {
            thread: self.thread,
            name,
            os_id: 0,
        }));
        self.attached = Some(Attached {
            flush_ticks: shared.flush_ticks,
            shared,
            slot,
            chunk: ptr::null_mut(),
            seq: 0,
            pending_lost: (0, 0),
            chunk_lost: (0, 0),
        });
    }
}

/// A thread's recording state within one session (the chunk's fill state is in [`Hot`]).
struct Attached {
    shared: Arc<Shared>,
    slot: Arc<Slot>,
    /// The chunk being filled (owned by this thread while the slot points at it), or null.
    chunk: *mut Chunk,
    /// Sequence number of `chunk`.
    seq: u32,
    flush_ticks: u64,
    /// Chunks and events dropped since the last `Lost` event was written.
    pending_lost: (u64, u64),
    /// What the `Lost` event opening the current chunk reports, (0, 0) if there is none.
    chunk_lost: (u64, u64),
}

enum Rotate {
    /// A chunk with room for the event is installed.
    Ready,
    /// No chunk is available: the event was counted as lost.
    Dropped,
    /// The session is stopping and took the slot.
    Stopped,
}

impl Attached {
    /// Records one event at `now` (not earlier than the chunk's last event); `false` when
    /// the session has taken this thread's slot.
    fn write(&mut self, hot: &Hot, now: u64, event: &Event<'_>) -> bool {
        let need = codec::max_encoded_len(event);
        let fits = !self.chunk.is_null()
            && hot.pos.get() + need <= hot.room.get() + codec::MAX_FIXED_EVENT_LEN;
        if !fits || now > hot.deadline.get() {
            match self.rotate(hot, now, need) {
                Rotate::Ready => {}
                Rotate::Dropped => return true,
                Rotate::Stopped => return false,
            }
        }
        // SAFETY: `chunk` is non-null and has room for `need` bytes after a `Ready` rotate or
        // when `fits`; this thread owns it, and writes only beyond the
        // committed length even if the session stole it since.
        let chunk = unsafe { &*self.chunk };
        let buf = chunk.tail(hot.pos.get(), need);
        // SAFETY: as above: owned (or stolen and written only beyond `committed`), in bounds.
        unsafe { hot.append(buf, now, event, &chunk.committed) };
        true
    }

    fn header(&self, hot: &Hot) -> EventChunkHeader {
        EventChunkHeader {
            thread: self.slot.thread,
            seq: self.seq,
            // SAFETY: only called while this thread owns a non-null chunk.
            base_time: unsafe { &*self.chunk }.base_time.load(Ordering::Relaxed),
            end_time: hot.state.get().last_time,
            event_count: hot.count.get(),
        }
    }

    fn lose(&mut self, chunks: u64, events: u64) {
        self.pending_lost.0 += chunks;
        self.pending_lost.1 += events;
        self.shared.count_lost(chunks, events);
    }

    /// Hands the current chunk to the writer (or drops its events if no fresh chunk is
    /// free) and installs a chunk with room for `need` bytes.
    #[cold]
    #[inline(never)]
    fn rotate(&mut self, hot: &Hot, now: u64, need: usize) -> Rotate {
        if need > self.shared.pool.chunk_size() {
            self.lose(0, 1);
            return Rotate::Dropped;
        }
        if self.chunk.is_null() {
            let Some(fresh) = self.shared.pool.take() else {
                self.lose(0, 1);
                return Rotate::Dropped;
            };
            return self.install(hot, ptr::null_mut(), Box::into_raw(fresh), now);
        }
        // Take the chunk back from the slot so that a stop cannot collect it half-handed-over.
        let Some(peeked) = self.take_back() else {
            return Rotate::Stopped;
        };
        let old = self.chunk;
        let header = self.header(hot);
        let len = hot.pos.get();
        let next = match self.shared.pool.take() {
            Some(fresh) => {
                self.hand_over(old, header, len);
                Box::into_raw(fresh)
            }
            None if peeked => {
                // The writer is behind, but it has written part of this chunk (or is reading
                // it right now): the chunk must reach it whole and must not be reused here.
                // Hand it over and go without a chunk: this event is lost, like every one
                // until a chunk is free again (then a `Lost` event opens it).
                self.hand_over(old, header, len);
                self.chunk = ptr::null_mut();
                self.seq = self.seq.wrapping_add(1);
                if self
                    .slot
                    .current
                    .compare_exchange(busy(), ptr::null_mut(), Ordering::AcqRel, Ordering::Acquire)
                    .is_err()
                {
                    self.slot.handoff_done.store(true, Ordering::Release);
                    return Rotate::Stopped;
                }
                self.lose(0, 1);
                return Rotate::Dropped;
            }
            None => {
                // The writer is behind: drop this chunk's events and reuse it. A `Lost` event
                // opening it is not a lost user event, but what it reported must be carried
                // to the next one.
                let marker = self.chunk_lost;
                let events = u64::from(hot.count.get()) - u64::from(marker != (0, 0));
                self.pending_lost.0 += marker.0;
                self.pending_lost.1 += marker.1;
                self.lose(1, events);
                old
            }
        };
        self.seq = self.seq.wrapping_add(1);
        self.install(hot, busy(), next, now)
    }

    /// Takes this thread's chunk back from the slot (`busy`), so that neither the stop nor a
    /// peek of the writer can start on it. `None`: the stop took it. `Some(peeked)`: whether
    /// the writer has written part of it, or is copying it at this moment (the slot says
    /// `peek`; the thread takes it anyway, without waiting for the copy): then the chunk
    /// must go to the writer, and only the writer may recycle it.
    fn take_back(&self) -> Option<bool> {
        let mut expected = self.chunk;
        loop {
            match self.slot.current.compare_exchange(
                expected,
                busy(),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // Acquire: the writer stores `peeked` before it ends its peek.
                    let peeked = self.slot.peeked.load(Ordering::Relaxed);
                    return Some(expected == peek() || peeked == self.seq.wrapping_add(1));
                }
                // The writer began or ended a peek meanwhile (each retry follows a step of
                // the writer's, so this ends).
                Err(now) if now == peek() || now == self.chunk => expected = now,
                Err(_) => return None,
            }
        }
    }

    /// Queues `chunk` (taken back from the slot) for the writer.
    fn hand_over(&self, chunk: *mut Chunk, header: EventChunkHeader, len: usize) {
        // Not turned back into a `Box`: the writer may still be reading it (a peek). Never
        // null: the callers hold a chunk.
        if let Some(chunk) = ptr::NonNull::new(chunk) {
            self.shared.hand_over(FullChunk { chunk, header, len });
        }
    }

    /// Publishes `next` in the slot (which holds `expected`) and starts filling it.
    fn install(&mut self, hot: &Hot, expected: *mut Chunk, next: *mut Chunk, now: u64) -> Rotate {
        // SAFETY: this thread owns `next` (fresh from the pool or taken back from the slot).
        let chunk = unsafe { &*next };
        chunk.base_time.store(now, Ordering::Relaxed);
        chunk.committed.store(0, Ordering::Relaxed);
        // Release: a writer that reads this seq also sees every chunk handed over before it
        // in the full queue (it writes those first).
        self.slot.seq.store(self.seq, Ordering::Release);
        if self
            .slot
            .current
            .compare_exchange(expected, next, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            // The session stopped meanwhile; `next` was never published, so it is ours.
            // SAFETY: `next` came from `Box::into_raw` and no one else can reach it.
            self.shared.pool.give_back(unsafe { Box::from_raw(next) });
            self.chunk = ptr::null_mut();
            self.slot.handoff_done.store(true, Ordering::Release);
            return Rotate::Stopped;
        }
        self.chunk = next;
        hot.install(chunk, self.flush_ticks, now);
        self.chunk_lost = self.pending_lost;
        if self.pending_lost != (0, 0) {
            let (chunks, events) = std::mem::take(&mut self.pending_lost);
            let lost = Event::Lost { chunks, events };
            let buf = chunk.tail(0, codec::MAX_FIXED_EVENT_LEN);
            // SAFETY: as in `write`: this thread owns the fresh chunk, which has room.
            unsafe { hot.append(buf, now, &lost, &chunk.committed) };
        }
        Rotate::Ready
    }

    /// The thread is exiting while the session records: hand over what it wrote.
    fn retire(mut self, hot: &Hot) {
        if self.chunk.is_null() {
            return;
        }
        let Some(peeked) = self.take_back() else {
            return; // stolen by the stop, which writes it
        };
        if hot.count.get() > 0 || peeked {
            self.hand_over(self.chunk, self.header(hot), hot.pos.get());
        } else {
            // SAFETY: the slot is busy and the writer never peeked at this chunk, so this
            // thread owns it alone; it came from `Box::into_raw`.
            self.shared
                .pool
                .give_back(unsafe { Box::from_raw(self.chunk) });
        }
        self.chunk = ptr::null_mut();
        if self
            .slot
            .current
            .compare_exchange(busy(), ptr::null_mut(), Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            self.slot.handoff_done.store(true, Ordering::Release);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use trace_format::TaskId;
    use trace_format::codec::ChunkDecoder;

    use super::*;
    use crate::chunk::ChunkPool;

    /// The stop reads a chunk's committed prefix while the chunk's thread goes on writing
    /// beyond it, so bytes must be readable from the moment they are published. Under Miri
    /// (`.ci/miri`) this catches a writer that still holds a live `&mut` over bytes it has
    /// published (Stacked Borrows); natively it checks that every prefix read is whole events.
    #[test]
    fn published_bytes_are_readable_while_the_thread_writes_on() {
        const EVENTS: u64 = if cfg!(miri) { 1_500 } else { 10_000 };
        let pool = ChunkPool::new(1, 64 * 1024);
        let chunk = pool.take().expect("a free chunk");
        let chunk: &Chunk = &chunk;
        let done = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut last = 0;
                loop {
                    let finished = done.load(Ordering::Acquire);
                    let committed = chunk.committed.load(Ordering::Acquire);
                    if committed != last {
                        last = committed;
                        // SAFETY: `committed` was read with Acquire; nothing writes below it.
                        let bytes = unsafe { chunk.prefix(committed) };
                        if !cfg!(miri) {
                            let mut events = ChunkDecoder::new(bytes, 0);
                            assert!(events.by_ref().all(|e| e.is_ok()));
                            assert_eq!(events.position(), committed, "a whole number of events");
                        }
                    }
                    if finished {
                        return;
                    }
                    std::hint::spin_loop();
                }
            });
            let hot = Hot::detached();
            hot.install(chunk, u64::MAX, 0);
            for i in 0..EVENTS {
                let buf = chunk.tail(hot.pos.get(), codec::MAX_FIXED_EVENT_LEN);
                let event = Event::PollStart {
                    task: TaskId(i + 1),
                };
                // SAFETY: this thread is the chunk's only writer, beyond `committed`, and
                // `EVENTS` fixed-size events fit in it.
                unsafe { hot.append(buf, i, &event, &chunk.committed) };
            }
            done.store(true, Ordering::Release);
        });
    }
}
