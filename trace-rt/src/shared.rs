//! What recording threads, the writer thread and the [`Session`](crate::Session) handle share,
//! and the process-wide switch: [`EPOCH`] (non-zero while a session records: the one load
//! every hook pays when nothing records), the session recording now ([`current`]), and a
//! session's [`Shared`] state with one [`Slot`] per thread and the stop protocol that
//! collects every thread's unfinished chunk.
//!
//! A leaf: every hook, the hot path (`local`), the interner and the writer read these
//! without going through `session`, which only starts and stops recordings.
//!
//! A thread's slot publishes the chunk it is filling. Three parties may take that chunk: the
//! thread itself (to hand it over: `busy`), the stop (`stolen`), and the writer, which
//! briefly marks a quiet thread's chunk `peek` to copy what it holds (see `writer.rs`), so
//! that a thread that records nothing more still gets its events into the file.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use crossbeam_queue::SegQueue;
use trace_format::Meta;

use crate::chunk::{Chunk, ChunkPool, FullChunk};

pub(crate) use crate::epoch::EPOCH;
static CURRENT: ArcSwapOption<Shared> = ArcSwapOption::const_empty();

/// The session recording now, if any (set by the interner when a session starts, so that no
/// string definition is missed; cleared by the stop).
pub(crate) fn current() -> Option<Arc<Shared>> {
    CURRENT.load_full()
}

pub(crate) fn set_current(shared: Option<Arc<Shared>>) {
    CURRENT.store(shared);
}

/// Whether a session is recording right now.
pub fn is_recording() -> bool {
    EPOCH.load(Ordering::Relaxed) != 0
}

/// Slot states besides a real chunk pointer (heap pointers are never 1, 2 or 3).
pub(crate) fn busy() -> *mut Chunk {
    std::ptr::without_provenance_mut(1)
}
pub(crate) fn stolen() -> *mut Chunk {
    std::ptr::without_provenance_mut(2)
}
pub(crate) fn peek() -> *mut Chunk {
    std::ptr::without_provenance_mut(3)
}
pub(crate) fn is_chunk(p: *mut Chunk) -> bool {
    !p.is_null() && p != busy() && p != stolen() && p != peek()
}

/// One thread's link with a session: the chunk it is filling, published so that the stop
/// can collect it and the writer can peek at it.
///
/// `current` is null (no chunk), a chunk pointer (the thread may be writing into it),
/// `busy` (the thread is handing its chunk to the writer), `peek` (the writer is copying
/// the chunk's committed events; the thread may go on writing beyond them, or take the
/// chunk back without waiting: `peek` → `busy`), or `stolen` (the session stopped and took
/// the chunk, or will take nothing more).
pub(crate) struct Slot {
    pub(crate) thread: u32,
    pub(crate) current: AtomicPtr<Chunk>,
    /// Sequence number of the chunk in `current` (stored before the chunk is published).
    pub(crate) seq: AtomicU32,
    /// `seq + 1` of the last chunk the writer peeked at and wrote part of (0: none). Such a
    /// chunk must reach the writer whole (its rest is still to be written): its thread never
    /// drops it in place when the pool is empty.
    pub(crate) peeked: AtomicU32,
    /// Set by the thread when it saw the stop while it was `busy`.
    pub(crate) handoff_done: AtomicBool,
    /// The chunk the stop took; its thread may still finish one event in it, so it is freed
    /// only when the slot is dropped (by then the thread has let go of the slot).
    stolen_chunk: AtomicPtr<Chunk>,
}

impl Slot {
    fn new(thread: u32) -> Self {
        Slot {
            thread,
            current: AtomicPtr::new(std::ptr::null_mut()),
            seq: AtomicU32::new(0),
            peeked: AtomicU32::new(0),
            handoff_done: AtomicBool::new(false),
            stolen_chunk: AtomicPtr::new(std::ptr::null_mut()),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        for p in [*self.current.get_mut(), *self.stolen_chunk.get_mut()] {
            if is_chunk(p) {
                // SAFETY: chunk pointers in a slot come from `Box::into_raw`; the slot is
                // being dropped, so neither its thread nor the writer can use them any more.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}

/// Every slot of the session, in registration order; slots are never removed while the
/// session lives.
#[derive(Default)]
struct Registry {
    slots: Vec<Arc<Slot>>,
    closed: bool,
}

/// State shared by the recording threads, the writer thread and the [`Session`] handle.
pub(crate) struct Shared {
    pub(crate) epoch: u64,
    pub(crate) pool: ChunkPool,
    /// Chunk age (in ticks) after which a thread hands its chunk over even if not full.
    pub(crate) flush_ticks: u64,
    /// The same as a duration: how long the writer lets a quiet thread's chunk sit before
    /// it peeks at it.
    pub(crate) flush_interval: Duration,
    registry: Mutex<Registry>,
    meta: SegQueue<Meta>,
    pub(crate) lost_chunks: AtomicU64,
    pub(crate) lost_events: AtomicU64,
    /// What the writer has written and dropped so far (the stop's summary when the writer
    /// does not finish in time).
    pub(crate) progress: Progress,
    pub(crate) stop: AtomicBool,
    /// How long a stop may take ([`Config::stop_timeout`]).
    pub(crate) stop_timeout: Duration,
    /// When the stop must have returned; set before `stop`.
    pub(crate) stop_deadline: OnceLock<Instant>,
    /// When recording was switched off (clock units): the trace's end, whatever the stop
    /// does after (task dumps, naming the code) before the writer writes the end record.
    pub(crate) stopped_at: OnceLock<u64>,
    writer: OnceLock<Thread>,
    /// The session's stack table, when it records stacks. Emptied by the writer when it
    /// finishes: threads keep the shared state of the last session they recorded in until
    /// they record again, and the table's memory must not be freed then (inside a later
    /// session, it would show in that session's heap curve).
    pub(crate) stacks: ArcSwapOption<crate::stacks::Stacks>,
}

/// The writer's running totals, kept where the stop can read them even when the writer is
/// stuck in its sink. Only the writer stores them.
#[derive(Default)]
pub(crate) struct Progress {
    pub(crate) events: AtomicU64,
    pub(crate) chunks: AtomicU64,
    /// Chunks and events that reached the writer but were not written: after a sink error,
    /// or past the stop's deadline.
    pub(crate) lost_chunks: AtomicU64,
    pub(crate) lost_events: AtomicU64,
}

impl Shared {
    /// A starting session's state: no thread registered yet, nothing lost or written.
    pub(crate) fn new(
        epoch: u64,
        pool: ChunkPool,
        flush_ticks: u64,
        flush_interval: Duration,
        stop_timeout: Duration,
        stacks: Option<Arc<crate::stacks::Stacks>>,
    ) -> Self {
        Shared {
            epoch,
            pool,
            flush_ticks,
            flush_interval,
            registry: Mutex::new(Registry::default()),
            meta: SegQueue::new(),
            lost_chunks: AtomicU64::new(0),
            lost_events: AtomicU64::new(0),
            progress: Progress::default(),
            stop: AtomicBool::new(false),
            stop_timeout,
            stop_deadline: OnceLock::new(),
            stopped_at: OnceLock::new(),
            writer: OnceLock::new(),
            stacks: ArcSwapOption::new(stacks),
        }
    }

    /// Names the writer thread, which [`Shared::hand_over`] wakes when many chunks wait.
    pub(crate) fn set_writer(&self, writer: Thread) {
        let _ = self.writer.set(writer);
    }

    pub(crate) fn push_meta(&self, meta: Meta) {
        self.meta.push(meta);
    }

    pub(crate) fn pop_meta(&self) -> Option<Meta> {
        self.meta.pop()
    }

    /// Queues a full chunk for the writer. The writer finds it on its next round (it drains
    /// every [`crate::writer::WRITE_PERIOD`]); it is woken at once (a futex wake; never
    /// blocks) only when an eighth of the pool is queued. Waking it for every chunk cost a
    /// context switch per chunk, on cores the application keeps busy.
    pub(crate) fn hand_over(&self, full: FullChunk) {
        if self.pool.push_full(full) >= self.pool.count().div_ceil(8)
            && let Some(t) = self.writer.get()
        {
            t.unpark();
        }
    }

    pub(crate) fn count_lost(&self, chunks: u64, events: u64) {
        self.lost_chunks.fetch_add(chunks, Ordering::Relaxed);
        self.lost_events.fetch_add(events, Ordering::Relaxed);
    }

    /// Appends the slots registered after the first `known` to `out` (some of them: the
    /// rest on a later call).
    ///
    /// Nothing is allocated while the registry is locked: the writer thread calls this
    /// outside any record, so with [`crate::TracingAllocator`] installed an allocation here
    /// records an event, and this thread's first event registers it, which takes the same
    /// lock (Miri found the deadlock). Room is made first; slots registered meanwhile wait.
    pub(crate) fn slots_since(&self, known: usize, out: &mut Vec<Arc<Slot>>) {
        let count = self
            .registry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .slots
            .len();
        out.reserve(count.saturating_sub(known));
        let room = out.capacity() - out.len();
        let reg = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        out.extend(reg.slots.iter().skip(known).take(room).cloned());
    }

    /// Registers a thread; `None` once the session is stopping.
    pub(crate) fn register(&self, thread: u32) -> Option<Arc<Slot>> {
        let mut reg = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if reg.closed {
            return None;
        }
        let slot = Arc::new(Slot::new(thread));
        reg.slots.push(slot.clone());
        Some(slot)
    }

    /// Stop protocol, on the writer thread after recording was switched off: takes every
    /// thread's current chunk and returns `(slot, chunk, committed length)` for each
    /// non-empty one. A thread busy handing over its chunk is waited for (it never blocks,
    /// so this is short), until `deadline` at the latest.
    pub(crate) fn collect_unfinished(
        &self,
        deadline: Instant,
    ) -> Vec<(Arc<Slot>, *mut Chunk, usize)> {
        let slots = {
            let mut reg = self.registry.lock().unwrap_or_else(|p| p.into_inner());
            reg.closed = true;
            reg.slots.clone()
        };
        let mut out = Vec::new();
        for slot in slots {
            let p = slot.current.swap(stolen(), Ordering::AcqRel);
            // Peeks happen on the writer thread, which is running this.
            debug_assert!(p != peek());
            if p == busy() {
                let deadline = deadline.min(Instant::now() + Duration::from_secs(1));
                while !slot.handoff_done.load(Ordering::Acquire) && Instant::now() < deadline {
                    std::thread::yield_now();
                }
            } else if is_chunk(p) {
                slot.stolen_chunk.store(p, Ordering::Relaxed);
                // SAFETY: `p` is a live chunk: it stays allocated until the slot drops.
                let committed = unsafe { &*p }.committed.load(Ordering::Acquire);
                if committed > 0 {
                    out.push((slot, p, committed));
                }
            }
        }
        out
    }
}
