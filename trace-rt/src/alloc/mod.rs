//! The allocator wrapper: [`TracingAllocator`] records what the global allocator does while a
//! session records, at a cost of one relaxed atomic load per call while nothing records.
//!
//! ```
//! #[global_allocator]
//! static ALLOC: trace_rt::TracingAllocator<std::alloc::System> =
//!     trace_rt::TracingAllocator::new(std::alloc::System);
//! ```
//!
//! # What is recorded
//!
//! Each thread counts its allocator calls in thread-local cells (no lock, no atomic, no
//! allocation) and writes three kinds of events on its own timeline:
//!
//! - **`AllocCounters`** `{ allocs, frees, alloc_bytes, free_bytes }`: the thread's activity
//!   since its previous `AllocCounters`. They are coalesced by time and by heap change, so
//!   that an allocation-heavy service does not drown its trace in them: every time the
//!   calls since the last check weigh 64 KiB (each call counts as its size, up to 64 KiB,
//!   plus 64 bytes: at most 1024 calls), the thread writes one if the counters interval
//!   ([`DEFAULT_COUNTERS_INTERVAL`], 10 ms, see
//!   [`TracingAllocator::with_counters_interval`]) has passed since its last one, or if the
//!   bytes it allocated minus those it freed since then reach [`MAX_UNREPORTED_HEAP`]
//!   (64 KiB) either way. A tokio runtime thread also writes one when it parks if they are
//!   due, and always when it stops; [`flush_alloc_counters`] writes one on demand. So a
//!   thread writes at most about 100 per second, plus one per 64 KiB its heap grows or
//!   shrinks. A `realloc` counts as one free of the old size and one allocation of the new
//!   size.
//! - **`AllocSample`** `{ size, task }`: a random allocation, with the task being polled on
//!   the thread (0 outside tasks). On average one sample per [`DEFAULT_SAMPLE_RATE`]
//!   (512 KiB) allocated, configurable like Go's `MemProfileRate` (see below).
//! - **`PauseBegin`/`PauseEnd`** of kind `"alloc"`, scope `Thread`: an allocator call that
//!   took longer than the slow-call threshold (default [`DEFAULT_SLOW_THRESHOLD`], 100 µs),
//!   from its start to its end, measured with two clock reads (TSC) around the call. Two
//!   clock reads cost more than a small allocation itself (about 20 ns against 5 ns on the
//!   benchmark machine), so by default only calls for blocks of at least
//!   [`DEFAULT_TIMED_MIN_SIZE`] (64 KiB) are timed: the ones that map, unmap, copy or zero
//!   large memory, and whose memory takes microseconds to use anyway.
//!   [`TracingAllocator::with_timed_min_size`]`(0)` times every call (catching, for example,
//!   lock contention inside the allocator on small blocks) at about +40 ns per
//!   allocation + free pair; a threshold of zero turns the timing off.
//!
//! # The heap curve
//!
//! Heap in use at time `t`, relative to when recording started, is
//! `Σ alloc_bytes − Σ free_bytes` over every `AllocCounters` event of every thread up to `t`
//! (bytes as requested from the allocator, not the allocator's own overhead). Counting
//! starts with the recording: memory allocated before it and freed during it makes the
//! curve go below zero.
//!
//! The bound: after every allocator call, the bytes a thread allocated minus those it freed
//! and has not reported are less than [`MAX_UNREPORTED_HEAP`] + 64 KiB (128 KiB) either
//! way, so the heap curve is within `threads × 128 KiB` of the truth at every point, also
//! while a thread idles. The allocation rate (`Σ alloc_bytes` or `Σ allocs` per unit of
//! time) has the counters interval's resolution: a busy thread's allocations reach the
//! trace at most one interval (10 ms) plus 64 KiB of calls late; an idle thread's last
//! interval of activity stays unreported until it next allocates past an interval, parks
//! after one, or stops (a tokio runtime thread reports everything when it stops; any other
//! thread that ends keeps what it had not reported). With a counters interval of zero a
//! thread writes them at every check: at most 64 KiB of allocated plus freed bytes are
//! unreported per thread, at the cost of one event per 64 KiB or 1024 calls (on an
//! allocation-heavy service, most of the trace's events).
//!
//! # Sampling, the estimator and its error
//!
//! Sampling follows Go's heap profiler: each thread draws the number of bytes until its
//! next sample from an exponential distribution with mean `rate` and counts it down by the
//! size of every allocation; the allocation that exhausts it is sampled and a new distance
//! is drawn. Because the exponential distribution is memoryless, an allocation of `s` bytes
//! is sampled with probability `p(s) = 1 − e^(−s/rate)`, independently of every other
//! allocation. So the Horvitz–Thompson estimate
//!
//! ```text
//! bytes allocated ≈ Σ over samples of  s / p(s)  =  Σ s / (1 − e^(−s/rate))     (sample_weight)
//! ```
//!
//! summed over any subset (a task, a spawn location, a time window) is **unbiased**, with
//! variance `Σ over all allocations of s² (1 − p(s)) / p(s)`. For allocations much smaller
//! than `rate`, each sample stands for about `rate` bytes and the relative standard error of
//! an estimate of `B` bytes is about `√(rate / B)`: 8.8 % for 64 MiB at the default 512 KiB,
//! 2.8 % for 640 MiB. Allocations larger than `rate` are almost always sampled and count
//! close to their own size. A rate of 1 samples every allocation (weight = size); 0 turns
//! sampling off.
//!
//! The rate in effect is in the trace: before a thread's first sample in a recording, and
//! whenever it changes, the thread writes a `Counter` named `trace_rt.alloc.sample_rate`
//! ([`SAMPLE_RATE_COUNTER`]) holding it. Each sample's rate is the last such value on its
//! thread before it.
//!
//! # Safety against re-entrancy and thread exit
//!
//! The recorder itself allocates (registering a thread, queueing metadata, interning a
//! name). While a thread is inside the allocator's recording path, allocations it makes are
//! counted but never recorded from (a thread-local flag). An allocation made while the thread
//! is inside the recorder for another reason keeps its events for a later call instead of
//! recording them (the recorder's own re-entrancy check tells it). The allocator's
//! thread-local state has no destructor, so it works at any point of a thread's life,
//! including while thread-locals are being destroyed; once the recorder's own state of an
//! exiting thread is gone, that thread's allocator events are no longer recorded. Names are
//! interned without waiting on the interner's lock (the allocator may run inside it); a call
//! that finds it locked records its pause or rate later.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use trace_format::{Event, PauseScope, StringId, TaskId};

use crate::clock;
use crate::local::try_record_at;
use crate::shared::EPOCH;

// Shared with readers of the trace (the viewer estimates bytes per task the same way).
pub use trace_format::sampling::{
    DEFAULT_SAMPLE_RATE, SAMPLE_RATE_COUNTER, sample_probability, sample_weight,
};

/// The default threshold over which an allocator call is recorded as a pause of kind
/// `"alloc"`.
///
/// ```
/// assert_eq!(trace_rt::alloc::DEFAULT_SLOW_THRESHOLD, std::time::Duration::from_micros(100));
/// ```
pub const DEFAULT_SLOW_THRESHOLD: Duration = Duration::from_micros(100);

/// By default, only calls for blocks at least this large are timed for the slow-call pauses.
///
/// ```
/// let a = trace_rt::TracingAllocator::new(std::alloc::System);
/// assert_eq!(a.timed_min_size(), trace_rt::alloc::DEFAULT_TIMED_MIN_SIZE);
/// ```
pub const DEFAULT_TIMED_MIN_SIZE: u64 = 64 * 1024;

/// The pause kind of slow allocator calls.
///
/// ```
/// assert_eq!(trace_rt::alloc::SLOW_CALL_PAUSE, "alloc");
/// ```
pub const SLOW_CALL_PAUSE: &str = "alloc";

/// The default [`TracingAllocator::with_counters_interval`]: a thread writes its
/// `AllocCounters` at most this often (unless its heap changed by
/// [`MAX_UNREPORTED_HEAP`] since its last one).
///
/// ```
/// assert_eq!(
///     trace_rt::alloc::DEFAULT_COUNTERS_INTERVAL,
///     std::time::Duration::from_millis(10)
/// );
/// ```
pub const DEFAULT_COUNTERS_INTERVAL: Duration = Duration::from_millis(10);

/// A thread writes its `AllocCounters` as soon as the bytes it allocated minus the bytes it
/// freed since its last one reach this much either way, however recent that one was: the
/// heap curve's error per thread stays under this plus 64 KiB.
///
/// ```
/// assert_eq!(trace_rt::alloc::MAX_UNREPORTED_HEAP, 64 * 1024);
/// ```
pub const MAX_UNREPORTED_HEAP: u64 = 64 * 1024;

/// Calls between two checks of whether `AllocCounters` are due may weigh this much (size
/// + [`CALL_WEIGHT`] each).
const CHECK_BUDGET: i64 = 64 * 1024;
const CALL_WEIGHT: i64 = 64;

/// A [`GlobalAlloc`] wrapper that records allocator activity into the trace: per-thread
/// counters, sampled allocations with the task that made them, and slow calls as pauses.
/// See the [module docs](crate::alloc) for what exactly is recorded and how to read it.
///
/// While nothing records, each call costs one relaxed atomic load on top of the inner
/// allocator. While recording, a few thread-local additions, plus two clock reads for the
/// calls that are timed (by default those for blocks of 64 KiB or more).
///
/// ```
/// use std::alloc::System;
/// use trace_rt::TracingAllocator;
///
/// #[global_allocator]
/// static ALLOC: TracingAllocator<System> = TracingAllocator::new(System)
///     .with_sample_rate(256 * 1024)                                  // one sample per 256 KiB
///     .with_slow_threshold(std::time::Duration::from_micros(50));  // pauses over 50 µs
///
/// let session = trace_rt::Config::default().start_with_sink(trace_rt::MemorySink::new())?;
/// let v = vec![0u8; 1 << 20];                 // counted, and almost surely sampled
/// drop(v);
/// trace_rt::flush_alloc_counters();
/// session.stop()?;
/// # Ok::<(), trace_rt::Error>(())
/// ```
#[derive(Debug)]
pub struct TracingAllocator<A> {
    inner: A,
    sample_rate: AtomicU64,
    slow_ns: AtomicU64,
    timed_min: AtomicU64,
    counters_ns: AtomicU64,
}

impl<A> TracingAllocator<A> {
    /// Wraps `inner` with the default sample rate ([`DEFAULT_SAMPLE_RATE`]), slow-call
    /// threshold ([`DEFAULT_SLOW_THRESHOLD`]), smallest timed block
    /// ([`DEFAULT_TIMED_MIN_SIZE`]) and counters interval ([`DEFAULT_COUNTERS_INTERVAL`]).
    ///
    /// ```
    /// #[global_allocator]
    /// static ALLOC: trace_rt::TracingAllocator<std::alloc::System> =
    ///     trace_rt::TracingAllocator::new(std::alloc::System);
    /// ```
    pub const fn new(inner: A) -> Self {
        TracingAllocator {
            inner,
            sample_rate: AtomicU64::new(DEFAULT_SAMPLE_RATE),
            slow_ns: AtomicU64::new(DEFAULT_SLOW_THRESHOLD.as_nanos() as u64),
            timed_min: AtomicU64::new(DEFAULT_TIMED_MIN_SIZE),
            counters_ns: AtomicU64::new(DEFAULT_COUNTERS_INTERVAL.as_nanos() as u64),
        }
    }

    /// Sets the mean number of bytes allocated per sample (1: every allocation; 0: no
    /// samples).
    ///
    /// ```
    /// # use std::alloc::System;
    /// static ALLOC: trace_rt::TracingAllocator<System> =
    ///     trace_rt::TracingAllocator::new(System).with_sample_rate(64 * 1024);
    /// assert_eq!(ALLOC.sample_rate(), 64 * 1024);
    /// ```
    pub const fn with_sample_rate(mut self, bytes: u64) -> Self {
        self.sample_rate = AtomicU64::new(bytes);
        self
    }

    /// Sets the duration over which an allocator call is recorded as a pause (zero: calls
    /// are not timed).
    ///
    /// ```
    /// # use std::{alloc::System, time::Duration};
    /// static ALLOC: trace_rt::TracingAllocator<System> =
    ///     trace_rt::TracingAllocator::new(System).with_slow_threshold(Duration::from_millis(1));
    /// assert_eq!(ALLOC.slow_threshold(), Duration::from_millis(1));
    /// ```
    pub const fn with_slow_threshold(mut self, threshold: Duration) -> Self {
        self.slow_ns = AtomicU64::new(saturating_nanos(threshold));
        self
    }

    /// Sets the smallest block whose allocator calls are timed for the slow-call pauses (0:
    /// every call; a `realloc` is timed when its old or new size is this large).
    ///
    /// ```
    /// # use std::alloc::System;
    /// static ALLOC: trace_rt::TracingAllocator<System> =
    ///     trace_rt::TracingAllocator::new(System).with_timed_min_size(0); // time every call
    /// assert_eq!(ALLOC.timed_min_size(), 0);
    /// ```
    pub const fn with_timed_min_size(mut self, bytes: u64) -> Self {
        self.timed_min = AtomicU64::new(bytes);
        self
    }

    /// Sets how often at most a thread writes its `AllocCounters` (see the
    /// [module docs](crate::alloc)); zero: whenever 64 KiB or 1024 calls went by.
    ///
    /// ```
    /// # use std::{alloc::System, time::Duration};
    /// static ALLOC: trace_rt::TracingAllocator<System> =
    ///     trace_rt::TracingAllocator::new(System).with_counters_interval(Duration::from_millis(1));
    /// assert_eq!(ALLOC.counters_interval(), Duration::from_millis(1));
    /// ```
    pub const fn with_counters_interval(mut self, interval: Duration) -> Self {
        self.counters_ns = AtomicU64::new(saturating_nanos(interval));
        self
    }

    /// How often at most a thread writes its `AllocCounters`.
    ///
    /// ```
    /// let a = trace_rt::TracingAllocator::new(std::alloc::System);
    /// assert_eq!(a.counters_interval(), trace_rt::alloc::DEFAULT_COUNTERS_INTERVAL);
    /// ```
    pub fn counters_interval(&self) -> Duration {
        Duration::from_nanos(self.counters_ns.load(Ordering::Relaxed))
    }

    /// Changes the counters interval; each thread uses the new one from the next recording
    /// on.
    ///
    /// ```
    /// let a = trace_rt::TracingAllocator::new(std::alloc::System);
    /// a.set_counters_interval(std::time::Duration::ZERO); // every 64 KiB or 1024 calls
    /// assert!(a.counters_interval().is_zero());
    /// ```
    pub fn set_counters_interval(&self, interval: Duration) {
        self.counters_ns
            .store(saturating_nanos(interval), Ordering::Relaxed);
    }

    /// The mean number of bytes allocated per sample.
    ///
    /// ```
    /// let a = trace_rt::TracingAllocator::new(std::alloc::System);
    /// assert_eq!(a.sample_rate(), trace_rt::alloc::DEFAULT_SAMPLE_RATE);
    /// ```
    pub fn sample_rate(&self) -> u64 {
        self.sample_rate.load(Ordering::Relaxed)
    }

    /// Changes the sample rate at run time (like assigning Go's `runtime.MemProfileRate`).
    /// Each thread switches to it when it draws its next sample distance: after its next
    /// sample, or when the next recording starts.
    ///
    /// ```
    /// let a = trace_rt::TracingAllocator::new(std::alloc::System);
    /// a.set_sample_rate(4096);
    /// assert_eq!(a.sample_rate(), 4096);
    /// ```
    pub fn set_sample_rate(&self, bytes: u64) {
        self.sample_rate.store(bytes, Ordering::Relaxed);
    }

    /// The slow-call threshold (zero: calls are not timed).
    ///
    /// ```
    /// let a = trace_rt::TracingAllocator::new(std::alloc::System);
    /// assert_eq!(a.slow_threshold(), trace_rt::alloc::DEFAULT_SLOW_THRESHOLD);
    /// ```
    pub fn slow_threshold(&self) -> Duration {
        Duration::from_nanos(self.slow_ns.load(Ordering::Relaxed))
    }

    /// Changes the slow-call threshold; each thread uses the new one from the next
    /// recording on.
    ///
    /// ```
    /// let a = trace_rt::TracingAllocator::new(std::alloc::System);
    /// a.set_slow_threshold(std::time::Duration::ZERO); // no timing
    /// assert!(a.slow_threshold().is_zero());
    /// ```
    pub fn set_slow_threshold(&self, threshold: Duration) {
        self.slow_ns
            .store(saturating_nanos(threshold), Ordering::Relaxed);
    }

    /// The smallest block whose calls are timed.
    ///
    /// ```
    /// let a = trace_rt::TracingAllocator::new(std::alloc::System);
    /// assert_eq!(a.timed_min_size(), trace_rt::alloc::DEFAULT_TIMED_MIN_SIZE);
    /// ```
    pub fn timed_min_size(&self) -> u64 {
        self.timed_min.load(Ordering::Relaxed)
    }

    /// Changes the smallest timed block; each thread uses the new one from the next
    /// recording on.
    ///
    /// ```
    /// let a = trace_rt::TracingAllocator::new(std::alloc::System);
    /// a.set_timed_min_size(0); // time every call
    /// assert_eq!(a.timed_min_size(), 0);
    /// ```
    pub fn set_timed_min_size(&self, bytes: u64) {
        self.timed_min.store(bytes, Ordering::Relaxed);
    }

    /// The wrapped allocator.
    ///
    /// ```
    /// let a = trace_rt::TracingAllocator::new(std::alloc::System);
    /// let _system: &std::alloc::System = a.inner();
    /// ```
    pub fn inner(&self) -> &A {
        &self.inner
    }
}

const fn saturating_nanos(d: Duration) -> u64 {
    let n = d.as_nanos();
    if n > u64::MAX as u128 {
        u64::MAX
    } else {
        n as u64
    }
}

/// Writes this thread's allocator counters now, if it has unreported activity and a session
/// records (for example before a thread that allocated ends; tokio runtime threads do it
/// when they park and when they stop). Does nothing without a [`TracingAllocator`].
///
/// ```
/// let session = trace_rt::Config::default().start_with_sink(trace_rt::MemorySink::new())?;
/// std::thread::spawn(|| {
///     let v: Vec<u64> = (0..1000).collect();
///     drop(v);
///     trace_rt::flush_alloc_counters();
/// })
/// .join()
/// .unwrap();
/// session.stop()?;
/// # Ok::<(), trace_rt::Error>(())
/// ```
pub fn flush_alloc_counters() {
    report_counters(true);
}

/// Writes this thread's allocator counters if they are due (the counters interval has passed
/// since its last ones, or its heap changed by [`MAX_UNREPORTED_HEAP`]): for a tokio worker
/// about to park, which would otherwise keep them while idle.
pub(crate) fn report_due_alloc_counters() {
    report_counters(false);
}

fn report_counters(force: bool) {
    let epoch = EPOCH.load(Ordering::Relaxed);
    if epoch == 0 {
        return;
    }
    let t = thread_state();
    if t.epoch.get() == epoch && !t.in_hook.get() && t.has_activity() {
        if force {
            t.force.set(true);
        }
        t.slow_path(None, 0, None);
    }
}

// SAFETY: every method forwards to `inner` with the caller's arguments unchanged, so the
// inner allocator's guarantees hold; the bookkeeping around the calls touches only this
// thread's cells (no allocation through `self`, no unwinding: nothing in it panics).
unsafe impl<A: GlobalAlloc> GlobalAlloc for TracingAllocator<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let epoch = EPOCH.load(Ordering::Relaxed);
        if epoch == 0 {
            // SAFETY: forwarded unchanged; the caller upholds `alloc`'s contract.
            return unsafe { self.inner.alloc(layout) };
        }
        // SAFETY: as above.
        self.traced_alloc(epoch, layout.size(), 0, || unsafe {
            self.inner.alloc(layout)
        })
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let epoch = EPOCH.load(Ordering::Relaxed);
        if epoch == 0 {
            // SAFETY: forwarded unchanged; the caller upholds `alloc_zeroed`'s contract.
            return unsafe { self.inner.alloc_zeroed(layout) };
        }
        // SAFETY: as above.
        self.traced_alloc(epoch, layout.size(), 0, || unsafe {
            self.inner.alloc_zeroed(layout)
        })
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let epoch = EPOCH.load(Ordering::Relaxed);
        if epoch == 0 {
            // SAFETY: forwarded unchanged; the caller upholds `dealloc`'s contract.
            return unsafe { self.inner.dealloc(ptr, layout) };
        }
        let t = thread_state();
        t.check_session(epoch, self);
        if t.in_hook.get() {
            // SAFETY: as above.
            unsafe { self.inner.dealloc(ptr, layout) };
            t.count_free(layout.size() as u64);
            return;
        }
        let size = layout.size() as u64;
        let timed = t.timed(size);
        let t0 = if timed { clock::now() } else { 0 };
        // SAFETY: as above.
        unsafe { self.inner.dealloc(ptr, layout) };
        let t1 = if timed { clock::now() } else { 0 };
        t.count_free(size);
        let slow_call = timed && t1.wrapping_sub(t0) >= t.slow_ticks.get();
        if slow_call || t.budget.get() < 0 {
            t.slow_path(None, 0, slow_call.then_some((t0, t1)));
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let epoch = EPOCH.load(Ordering::Relaxed);
        if epoch == 0 {
            // SAFETY: forwarded unchanged; the caller upholds `realloc`'s contract.
            return unsafe { self.inner.realloc(ptr, layout, new_size) };
        }
        let old = layout.size() as u64;
        // SAFETY: as above.
        let p = self.traced_alloc(epoch, new_size, old, || unsafe {
            self.inner.realloc(ptr, layout, new_size)
        });
        if !p.is_null() {
            // The old block is gone: a free of its size.
            let t = thread_state();
            t.count_free(old);
            if t.budget.get() < 0 && !t.in_hook.get() {
                t.slow_path(None, 0, None);
            }
        }
        p
    }
}

impl<A> TracingAllocator<A> {
    /// An allocating call while recording: `call` returns the new block (or null); `old` is
    /// the size of the block a `realloc` replaces (0 otherwise), for the timing decision.
    #[inline(always)]
    fn traced_alloc(
        &self,
        epoch: u64,
        size: usize,
        old: u64,
        call: impl FnOnce() -> *mut u8,
    ) -> *mut u8 {
        let t = thread_state();
        t.check_session(epoch, self);
        let size = size as u64;
        if t.in_hook.get() {
            let p = call();
            if !p.is_null() {
                t.count_alloc(size);
            }
            return p;
        }
        let timed = t.timed(size.max(old));
        let t0 = if timed { clock::now() } else { 0 };
        let p = call();
        let t1 = if timed { clock::now() } else { 0 };
        let slow_call = timed && t1.wrapping_sub(t0) >= t.slow_ticks.get();
        let mut sample = None;
        if !p.is_null() {
            t.count_alloc(size);
            let until = t.until_sample.get();
            if size >= until {
                sample = Some(size);
            } else {
                t.until_sample.set(until - size);
            }
        }
        if slow_call || sample.is_some() || t.budget.get() < 0 {
            let rate = self.sample_rate.load(Ordering::Relaxed);
            t.slow_path(sample, rate, slow_call.then_some((t0, t1)));
        }
        p
    }
}

/// One thread's allocator state. No destructor, so it is usable at any point of a thread's
/// life, and each access is a plain thread-local address computation.
struct ThreadState {
    /// The session the counters below belong to.
    epoch: Cell<u64>,
    /// Set while this thread is in `slow_path`: calls it makes are only counted.
    in_hook: Cell<bool>,
    allocs: Cell<u64>,
    frees: Cell<u64>,
    alloc_bytes: Cell<u64>,
    free_bytes: Cell<u64>,
    /// Counts down by size + `CALL_WEIGHT` per call; below zero, whether the counters are
    /// due is checked.
    budget: Cell<i64>,
    /// Clock (ticks) when the counters were last written (or the session started here).
    last_report: Cell<u64>,
    /// Counters interval in clock ticks (0: no time condition).
    interval_ticks: Cell<u64>,
    /// The next `slow_path` writes the counters whatever their age.
    force: Cell<bool>,
    /// Bytes to allocate before the next sample.
    until_sample: Cell<u64>,
    /// The rate `until_sample` was drawn with.
    draw_rate: Cell<u64>,
    /// The rate last written as a `Counter` in this session (0: none).
    announced_rate: Cell<u64>,
    /// Slow-call threshold in clock ticks.
    slow_ticks: Cell<u64>,
    /// Calls for blocks at least this large are timed (`u64::MAX`: none).
    timed_min: Cell<u64>,
    rng: Cell<u64>,
    /// A sample (size, task, rate) that could not be written yet.
    pending: Cell<Option<(u64, u64, u64)>>,
}

thread_local! {
    static THREAD: ThreadState = const {
        ThreadState {
            epoch: Cell::new(0),
            in_hook: Cell::new(false),
            allocs: Cell::new(0),
            frees: Cell::new(0),
            alloc_bytes: Cell::new(0),
            free_bytes: Cell::new(0),
            budget: Cell::new(0),
            last_report: Cell::new(0),
            interval_ticks: Cell::new(0),
            force: Cell::new(false),
            until_sample: Cell::new(u64::MAX),
            draw_rate: Cell::new(0),
            announced_rate: Cell::new(0),
            slow_ticks: Cell::new(0),
            timed_min: Cell::new(u64::MAX),
            rng: Cell::new(0),
            pending: Cell::new(None),
        }
    };
}

/// This thread's state, as a plain reference: a closure-free access that inlines to one
/// thread-pointer-relative address computation.
#[inline(always)]
fn thread_state() -> &'static ThreadState {
    // SAFETY: `THREAD` has no destructor, so its storage is valid for as long as this thread
    // runs, and the reference cannot leave the thread (`ThreadState` holds `Cell`s, so it is
    // not `Sync` and `&ThreadState` is not `Send`).
    THREAD.with(|t| unsafe { &*(t as *const ThreadState) })
}

impl ThreadState {
    #[inline(always)]
    fn check_session<A>(&self, epoch: u64, alloc: &TracingAllocator<A>) {
        if self.epoch.get() != epoch {
            self.start_session(epoch, alloc);
        }
    }

    /// First call on this thread in a new session: what was counted belonged to the last one.
    #[cold]
    #[inline(never)]
    fn start_session<A>(&self, epoch: u64, alloc: &TracingAllocator<A>) {
        self.epoch.set(epoch);
        self.allocs.set(0);
        self.frees.set(0);
        self.alloc_bytes.set(0);
        self.free_bytes.set(0);
        self.budget.set(CHECK_BUDGET);
        self.last_report.set(clock::now());
        let interval = alloc.counters_ns.load(Ordering::Relaxed);
        self.interval_ticks.set(if interval == 0 {
            0
        } else {
            nanos_to_ticks(interval)
        });
        self.force.set(false);
        self.announced_rate.set(0);
        self.pending.set(None);
        let rate = alloc.sample_rate.load(Ordering::Relaxed);
        self.draw_rate.set(rate);
        self.until_sample.set(draw_distance(&self.rng, rate));
        let ns = alloc.slow_ns.load(Ordering::Relaxed);
        self.slow_ticks.set(nanos_to_ticks(ns));
        self.timed_min.set(if ns == 0 {
            u64::MAX
        } else {
            alloc.timed_min.load(Ordering::Relaxed)
        });
    }

    /// Whether a call for a block of `size` bytes is timed.
    #[inline(always)]
    fn timed(&self, size: u64) -> bool {
        size >= self.timed_min.get()
    }

    #[inline(always)]
    fn count_alloc(&self, size: u64) {
        self.allocs.set(self.allocs.get() + 1);
        self.alloc_bytes
            .set(self.alloc_bytes.get().wrapping_add(size));
        self.spend(size);
    }

    #[inline(always)]
    fn count_free(&self, size: u64) {
        self.frees.set(self.frees.get() + 1);
        self.free_bytes
            .set(self.free_bytes.get().wrapping_add(size));
        self.spend(size);
    }

    #[inline(always)]
    fn spend(&self, size: u64) {
        let cost = (size.min(CHECK_BUDGET as u64) as i64) + CALL_WEIGHT;
        self.budget.set(self.budget.get() - cost);
    }

    fn has_activity(&self) -> bool {
        self.allocs.get() != 0 || self.frees.get() != 0
    }

    /// Whether the counters are written now: when asked to, once the interval has passed
    /// since the last ones, or once the unreported heap change is large.
    fn counters_due(&self, now: u64) -> bool {
        let net = self.alloc_bytes.get().wrapping_sub(self.free_bytes.get()) as i64;
        self.force.get()
            || now.wrapping_sub(self.last_report.get()) >= self.interval_ticks.get()
            || net.unsigned_abs() >= MAX_UNREPORTED_HEAP
    }

    /// Writes what is due: the slow call's pause, the sample (after the rate, if this thread
    /// has not written it yet), and the counters. What cannot be written now (this thread is
    /// inside the recorder already) is kept, and the next call tries again.
    #[cold]
    #[inline(never)]
    fn slow_path(&self, sample: Option<u64>, rate: u64, pause: Option<(u64, u64)>) {
        self.in_hook.set(true);
        if let Some((t0, t1)) = pause
            && let Some(kind) = SLOW_KIND.get()
            && try_record_at(
                t0,
                &Event::PauseBegin {
                    kind,
                    scope: PauseScope::Thread,
                },
            )
        {
            try_record_at(
                t1,
                &Event::PauseEnd {
                    kind,
                    scope: PauseScope::Thread,
                },
            );
        }
        if let Some(size) = sample {
            // One pending slot: an older sample still waiting (rare) is replaced.
            self.pending.set(Some((
                size,
                crate::context::current_task(),
                self.draw_rate.get(),
            )));
            self.draw_rate.set(rate);
            self.until_sample.set(draw_distance(&self.rng, rate));
        }
        let now = clock::now();
        let mut retry = false;
        if let Some((size, task, rate)) = self.pending.get() {
            if self.announce(now, rate)
                && try_record_at(
                    now,
                    &Event::AllocSample {
                        size,
                        task: TaskId(task),
                    },
                )
            {
                self.pending.set(None);
            } else {
                retry = true;
            }
        }
        // Checked again after another budget's worth of calls when not due.
        self.budget.set(CHECK_BUDGET);
        if self.has_activity() && self.counters_due(now) {
            let taken = (
                self.allocs.replace(0),
                self.frees.replace(0),
                self.alloc_bytes.replace(0),
                self.free_bytes.replace(0),
            );
            let written = try_record_at(
                now,
                &Event::AllocCounters {
                    allocs: taken.0,
                    frees: taken.1,
                    alloc_bytes: taken.2,
                    free_bytes: taken.3,
                },
            );
            if written {
                self.last_report.set(now);
                self.force.set(false);
            } else {
                // Calls made meanwhile were counted from zero: add back what was taken.
                self.allocs.set(self.allocs.get() + taken.0);
                self.frees.set(self.frees.get() + taken.1);
                self.alloc_bytes
                    .set(self.alloc_bytes.get().wrapping_add(taken.2));
                self.free_bytes
                    .set(self.free_bytes.get().wrapping_add(taken.3));
                retry = true;
            }
        }
        if retry {
            self.budget.set(0);
        }
        self.in_hook.set(false);
    }

    /// Makes sure the thread has written `rate` as its sample rate in this session.
    fn announce(&self, now: u64, rate: u64) -> bool {
        if self.announced_rate.get() == rate {
            return true;
        }
        let Some(name) = RATE_NAME.get() else {
            return false;
        };
        let ok = try_record_at(
            now,
            &Event::Counter {
                name,
                value: rate.min(i64::MAX as u64) as i64,
            },
        );
        if ok {
            self.announced_rate.set(rate);
        }
        ok
    }
}

/// A name interned on first use without waiting for the interner's lock.
struct LazyName {
    id: AtomicU32,
    text: &'static str,
}

static SLOW_KIND: LazyName = LazyName {
    id: AtomicU32::new(0),
    text: SLOW_CALL_PAUSE,
};
static RATE_NAME: LazyName = LazyName {
    id: AtomicU32::new(0),
    text: SAMPLE_RATE_COUNTER,
};

impl LazyName {
    fn get(&self) -> Option<StringId> {
        let id = self.id.load(Ordering::Relaxed);
        if id != 0 {
            return Some(StringId(id));
        }
        let id = crate::intern::try_intern(self.text)?;
        self.id.store(id.0, Ordering::Relaxed);
        Some(id)
    }
}

/// Converts nanoseconds to clock ticks with the session's calibration.
fn nanos_to_ticks(ns: u64) -> u64 {
    let q32 = clock::info_cached().nanos_per_unit_q32.max(1);
    ((u128::from(ns) << 32) / u128::from(q32)).clamp(1, u128::from(u64::MAX)) as u64
}

/// Bytes until the next sample: `ceil(Exp(rate))`, so that an allocation of `s` bytes
/// exhausts it with probability `1 − e^(−s/rate)`. 0 samples every allocation (rate 1);
/// `u64::MAX` none (rate 0).
fn draw_distance(rng: &Cell<u64>, rate: u64) -> u64 {
    match rate {
        0 => u64::MAX,
        1 => 0,
        r => {
            // Uniform in (0, 1): 53 random bits, centred in their interval.
            let u = ((next_random(rng) >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
            let d = (-u.ln() * r as f64).ceil();
            // `as` saturates; a distance is at least one byte.
            (d as u64).max(1)
        }
    }
}

/// xorshift64* (Vigna), seeded per thread on first use.
fn next_random(rng: &Cell<u64>) -> u64 {
    let mut x = rng.get();
    if x == 0 {
        x = seed(rng as *const Cell<u64> as u64);
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng.set(x);
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

fn seed(salt: u64) -> u64 {
    static SEQ: AtomicU64 = AtomicU64::new(0x853C_49E6_748F_EA9B);
    let n = SEQ.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    let mut z = n ^ salt.rotate_left(32) ^ clock::now();
    // splitmix64 finaliser.
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) | 1
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sampler as the allocator runs it: returns the estimate of the bytes in `sizes`.
    fn estimate(rng: &Cell<u64>, rate: u64, sizes: impl Iterator<Item = u64>) -> f64 {
        let mut until = draw_distance(rng, rate);
        let mut est = 0.0;
        for s in sizes {
            if s >= until {
                est += sample_weight(s, rate);
                until = draw_distance(rng, rate);
            } else {
                until -= s;
            }
        }
        est
    }

    #[test]
    fn estimator_is_unbiased_with_the_documented_error() {
        let rng = Cell::new(12345);
        // 64 MiB in 1 KiB blocks at 512 KiB per sample, 400 times.
        let truth = (64u64 << 20) as f64;
        let runs: Vec<f64> = (0..400)
            .map(|_| estimate(&rng, 512 * 1024, std::iter::repeat_n(1024, 65536)))
            .collect();
        let mean = runs.iter().sum::<f64>() / runs.len() as f64;
        let sd = (runs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / runs.len() as f64).sqrt();
        let p = sample_probability(1024, 512 * 1024);
        let predicted = (65536.0 * 1024f64.powi(2) * (1.0 - p) / p).sqrt();
        // The documented approximation: √(rate / bytes) relative.
        assert!((predicted / truth - (512.0 * 1024.0 / truth).sqrt()).abs() < 0.001);
        // Mean within 4 standard errors of the mean; spread within 15 % of the prediction.
        let se_mean = predicted / (runs.len() as f64).sqrt();
        assert!(
            (mean - truth).abs() < 4.0 * se_mean,
            "mean {mean} truth {truth}"
        );
        assert!(
            (sd / predicted - 1.0).abs() < 0.15,
            "sd {sd} predicted {predicted}"
        );
    }

    #[test]
    fn mixed_sizes_are_unbiased() {
        let rng = Cell::new(99);
        let sizes: Vec<u64> = (0..20_000u64)
            .map(|i| [16, 200, 5000, 900_000][(i % 4) as usize])
            .collect();
        let truth: f64 = sizes.iter().map(|&s| s as f64).sum();
        let runs = 200;
        let mean = (0..runs)
            .map(|_| estimate(&rng, 512 * 1024, sizes.iter().copied()))
            .sum::<f64>()
            / runs as f64;
        assert!(
            (mean / truth - 1.0).abs() < 0.01,
            "mean {mean} truth {truth}"
        );
    }

    #[test]
    fn rate_one_samples_everything_and_zero_nothing() {
        let rng = Cell::new(7);
        assert_eq!(draw_distance(&rng, 1), 0);
        assert_eq!(draw_distance(&rng, 0), u64::MAX);
        assert_eq!(estimate(&rng, 1, [1, 2, 3].into_iter()), 6.0);
        assert_eq!(estimate(&rng, 0, [1, 2, 3].into_iter()), 0.0);
        for _ in 0..1000 {
            assert!(draw_distance(&rng, 512) >= 1);
        }
    }
}
