//! Sampled allocations: what an `AllocSample` event stands for.
//!
//! A recorder samples allocations at random by bytes (like Go's `MemProfileRate`): an
//! allocation of `size` bytes is sampled with probability `1 − e^(−size/rate)`, where `rate`
//! is the mean number of bytes between samples. The recorder writes the rate in effect as a
//! `Counter` named [`SAMPLE_RATE_COUNTER`]; a reader weighs each sample by [`sample_weight`]
//! to estimate bytes allocated, per task or any other grouping. Recorder and readers share
//! these definitions so that their estimates agree.

/// The default mean distance between samples: 512 KiB allocated, as in Go.
///
/// ```
/// assert_eq!(trace_format::sampling::DEFAULT_SAMPLE_RATE, 524_288);
/// ```
pub const DEFAULT_SAMPLE_RATE: u64 = 512 * 1024;

/// The `Counter` event name under which each thread records the sample rate in effect.
///
/// A reader finds its string id among the trace's strings:
///
/// ```no_run
/// # let trace = trace_format::Trace::open("x.rtt")?;
/// let rate_name = trace
///     .strings()
///     .find(|(_, s)| *s == trace_format::sampling::SAMPLE_RATE_COUNTER)
///     .map(|(id, _)| id);
/// # Ok::<(), trace_format::ReadError>(())
/// ```
pub const SAMPLE_RATE_COUNTER: &str = "trace_rt.alloc.sample_rate";

/// The number of bytes one sampled allocation of `size` bytes stands for, at sample rate
/// `rate`: `size / (1 − e^(−size/rate))`, the inverse of its probability of being sampled.
/// Summing it over the samples of a task (or any subset) estimates the bytes it allocated,
/// without bias; the relative standard error of the sum is about √(rate / bytes).
///
/// ```
/// use trace_format::sampling::sample_weight;
/// // A small allocation stands for about `rate` bytes, a huge one for its own size.
/// assert!((sample_weight(1024, 512 * 1024) - 524_800.0).abs() < 1.0);
/// assert!((sample_weight(64 << 20, 512 * 1024) - (64 << 20) as f64).abs() < 1.0);
/// assert_eq!(sample_weight(100, 1), 100.0); // rate 1: every allocation is sampled
/// ```
pub fn sample_weight(size: u64, rate: u64) -> f64 {
    if rate <= 1 || size == 0 {
        return size as f64;
    }
    let p = sample_probability(size, rate);
    size as f64 / p
}

/// The probability that an allocation of `size` bytes is sampled at sample rate `rate`:
/// `1 − e^(−size/rate)` (1 when `rate` is 1, 0 when it is 0).
///
/// ```
/// use trace_format::sampling::sample_probability;
/// assert!((sample_probability(512 * 1024, 512 * 1024) - 0.632).abs() < 0.001);
/// assert_eq!(sample_probability(8, 0), 0.0);
/// ```
pub fn sample_probability(size: u64, rate: u64) -> f64 {
    match rate {
        0 => 0.0,
        1 => 1.0,
        r => -(-(size as f64) / r as f64).exp_m1(),
    }
}
