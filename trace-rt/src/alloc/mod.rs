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
//!   (512 KiB) allocated, configurable like Go's `MemProfileRate` (see below). When the
//!   session records stacks ([`Config::stacks`](crate::Config::stacks), on by default) it
//!   is an **`AllocSampleAt`** `{ size, task, stack }` instead, with the allocating code's
//!   call stack, walked by frame pointers from the allocator's entry: it starts at the call
//!   into the global allocator (`__rust_alloc`, or the code that called it), with none of
//!   the recorder's frames.
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

mod allocator;
mod sampling;
mod settings;
mod thread;

pub use allocator::TracingAllocator;
pub use settings::{DEFAULT_COUNTERS_INTERVAL, DEFAULT_SLOW_THRESHOLD, DEFAULT_TIMED_MIN_SIZE};
pub use thread::{MAX_UNREPORTED_HEAP, SLOW_CALL_PAUSE, flush_alloc_counters};
pub(crate) use thread::{report_due_alloc_counters, unrecorded};
// Shared with readers of the trace (the viewer estimates bytes per task the same way).
pub use trace_format::sampling::{
    DEFAULT_SAMPLE_RATE, SAMPLE_RATE_COUNTER, sample_probability, sample_weight,
};
