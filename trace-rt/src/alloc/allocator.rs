//! [`TracingAllocator`]: its settings and the `GlobalAlloc` entry points, which count each
//! call in the thread's state (`thread.rs`) and leave the rest to its slow path.

use std::alloc::{GlobalAlloc, Layout};
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::settings::{Settings, saturating_nanos};
use super::thread::thread_state;
use crate::clock;
use crate::shared::EPOCH;
use crate::stacks::WalkStart;

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
pub struct TracingAllocator<A> {
    inner: A,
    settings: Settings,
}

impl<A> TracingAllocator<A> {
    /// Wraps `inner` with the default sample rate ([`DEFAULT_SAMPLE_RATE`]), slow-call
    /// threshold ([`DEFAULT_SLOW_THRESHOLD`]), smallest timed block
    /// ([`DEFAULT_TIMED_MIN_SIZE`]) and counters interval ([`DEFAULT_COUNTERS_INTERVAL`]).
    ///
    /// [`DEFAULT_SAMPLE_RATE`]: super::DEFAULT_SAMPLE_RATE
    /// [`DEFAULT_SLOW_THRESHOLD`]: super::DEFAULT_SLOW_THRESHOLD
    /// [`DEFAULT_TIMED_MIN_SIZE`]: super::DEFAULT_TIMED_MIN_SIZE
    /// [`DEFAULT_COUNTERS_INTERVAL`]: super::DEFAULT_COUNTERS_INTERVAL
    ///
    /// ```
    /// #[global_allocator]
    /// static ALLOC: trace_rt::TracingAllocator<std::alloc::System> =
    ///     trace_rt::TracingAllocator::new(std::alloc::System);
    /// ```
    pub const fn new(inner: A) -> Self {
        TracingAllocator {
            inner,
            settings: Settings::new(),
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
        self.settings.sample_rate = AtomicU64::new(bytes);
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
        self.settings.slow_ns = AtomicU64::new(saturating_nanos(threshold));
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
        self.settings.timed_min = AtomicU64::new(bytes);
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
        self.settings.counters_ns = AtomicU64::new(saturating_nanos(interval));
        self
    }

    /// How often at most a thread writes its `AllocCounters`.
    ///
    /// ```
    /// let a = trace_rt::TracingAllocator::new(std::alloc::System);
    /// assert_eq!(a.counters_interval(), trace_rt::alloc::DEFAULT_COUNTERS_INTERVAL);
    /// ```
    pub fn counters_interval(&self) -> Duration {
        Duration::from_nanos(self.settings.counters_ns.load(Ordering::Relaxed))
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
        self.settings
            .counters_ns
            .store(saturating_nanos(interval), Ordering::Relaxed);
    }

    /// The mean number of bytes allocated per sample.
    ///
    /// ```
    /// let a = trace_rt::TracingAllocator::new(std::alloc::System);
    /// assert_eq!(a.sample_rate(), trace_rt::alloc::DEFAULT_SAMPLE_RATE);
    /// ```
    pub fn sample_rate(&self) -> u64 {
        self.settings.sample_rate.load(Ordering::Relaxed)
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
        self.settings.sample_rate.store(bytes, Ordering::Relaxed);
    }

    /// The slow-call threshold (zero: calls are not timed).
    ///
    /// ```
    /// let a = trace_rt::TracingAllocator::new(std::alloc::System);
    /// assert_eq!(a.slow_threshold(), trace_rt::alloc::DEFAULT_SLOW_THRESHOLD);
    /// ```
    pub fn slow_threshold(&self) -> Duration {
        Duration::from_nanos(self.settings.slow_ns.load(Ordering::Relaxed))
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
        self.settings
            .slow_ns
            .store(saturating_nanos(threshold), Ordering::Relaxed);
    }

    /// The smallest block whose calls are timed.
    ///
    /// ```
    /// let a = trace_rt::TracingAllocator::new(std::alloc::System);
    /// assert_eq!(a.timed_min_size(), trace_rt::alloc::DEFAULT_TIMED_MIN_SIZE);
    /// ```
    pub fn timed_min_size(&self) -> u64 {
        self.settings.timed_min.load(Ordering::Relaxed)
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
        self.settings.timed_min.store(bytes, Ordering::Relaxed);
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

impl<A: fmt::Debug> fmt::Debug for TracingAllocator<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The settings' fields, as when they were the struct's own.
        let s = &self.settings;
        f.debug_struct("TracingAllocator")
            .field("inner", &self.inner)
            .field("sample_rate", &s.sample_rate)
            .field("slow_ns", &s.slow_ns)
            .field("timed_min", &s.timed_min)
            .field("counters_ns", &s.counters_ns)
            .finish()
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
        t.check_session(epoch, &self.settings);
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
        t.check_session(epoch, &self.settings);
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
            let rate = self.settings.sample_rate.load(Ordering::Relaxed);
            // Read here, at the allocator's entry (this is inlined into it), so that the
            // sample's stack starts there and leaves the recorder's frames out.
            let start = WalkStart::here();
            let sample = sample.map(|size| (size, start));
            t.slow_path(sample, rate, slow_call.then_some((t0, t1)));
        }
        p
    }
}
