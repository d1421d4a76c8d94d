//! The allocator wrapper's settings: their defaults, and the values a
//! [`TracingAllocator`](super::TracingAllocator) holds, changeable at run time, which each
//! thread reads when it starts recording in a session (the sample rate also whenever it
//! draws its next sample distance).

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use trace_format::sampling::DEFAULT_SAMPLE_RATE;

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
/// The default [`TracingAllocator::with_counters_interval`]: a thread writes its
/// `AllocCounters` at most this often (unless its heap changed by
/// [`MAX_UNREPORTED_HEAP`] since its last one).
///
/// [`TracingAllocator::with_counters_interval`]: super::TracingAllocator::with_counters_interval
/// [`MAX_UNREPORTED_HEAP`]: super::MAX_UNREPORTED_HEAP
///
/// ```
/// assert_eq!(
///     trace_rt::alloc::DEFAULT_COUNTERS_INTERVAL,
///     std::time::Duration::from_millis(10)
/// );
/// ```
pub const DEFAULT_COUNTERS_INTERVAL: Duration = Duration::from_millis(10);

/// A [`TracingAllocator`](super::TracingAllocator)'s settings.
pub(super) struct Settings {
    /// Mean bytes allocated per sample (1: every allocation; 0: none).
    pub(super) sample_rate: AtomicU64,
    /// Slow-call threshold in nanoseconds (0: calls are not timed).
    pub(super) slow_ns: AtomicU64,
    /// The smallest block whose calls are timed.
    pub(super) timed_min: AtomicU64,
    /// How often at most a thread writes its `AllocCounters`, in nanoseconds.
    pub(super) counters_ns: AtomicU64,
}

impl Settings {
    /// The defaults: [`DEFAULT_SAMPLE_RATE`], [`DEFAULT_SLOW_THRESHOLD`],
    /// [`DEFAULT_TIMED_MIN_SIZE`], [`DEFAULT_COUNTERS_INTERVAL`].
    pub(super) const fn new() -> Self {
        Settings {
            sample_rate: AtomicU64::new(DEFAULT_SAMPLE_RATE),
            slow_ns: AtomicU64::new(DEFAULT_SLOW_THRESHOLD.as_nanos() as u64),
            timed_min: AtomicU64::new(DEFAULT_TIMED_MIN_SIZE),
            counters_ns: AtomicU64::new(DEFAULT_COUNTERS_INTERVAL.as_nanos() as u64),
        }
    }
}

pub(super) const fn saturating_nanos(d: Duration) -> u64 {
    let n = d.as_nanos();
    if n > u64::MAX as u128 {
        u64::MAX
    } else {
        n as u64
    }
}
