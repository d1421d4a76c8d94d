//! Minimum mutator utilization (MMU): how much of the runtime was available to tasks in the
//! worst window of a given length.
//!
//! This module owns the utilization step function and every answer computed from it, and
//! nothing else: it knows nothing about trace files, events or how answers are shown. The
//! caller turns a trace into intervals (when each worker exists, process-wide pauses,
//! per-worker unavailability) and hands them to [`Utilization::from_workers`] (or
//! [`Utilization::from_intervals`] when the workers exist throughout); everything after that
//! is pure arithmetic on the step function.
//!
//! - [`Utilization`]: u(t) ∈ [0, 1], a step function (nanoseconds). u(t) is 0 inside a
//!   process-wide pause and otherwise the fraction of the workers existing at t that are
//!   available (not inside a thread-scoped pause or, in the "responsiveness" mode, not inside
//!   an over-long poll). A worker counts only from its start to its stop, as Go counts the Ps
//!   that exist when their number changes: a runtime that starts late or shuts down is not a
//!   pause. Time when no worker exists is not part of the series (it is cut out, so windows
//!   cover only time with workers). Per-worker mode is one series per worker: [`per_worker`].
//! - [`mmu`]: MMU(w) = the minimum over all windows `[t, t + w)` inside the trace of the mean
//!   of u over the window; [`mmu_curve`] over many windows, e.g. [`log_spaced_windows`].
//! - [`worst_windows`]: the n worst disjoint windows of one length, so a viewer can jump to
//!   them.
//! - [`mud`]: the mutator utilization distribution (quantiles of the window mean over all
//!   window positions), e.g. Go's "worst, 99.9th, 99th, 95th percentile".
//!
//! # Exactness
//!
//! Utilization is stored as an integer count of available workers per step over a common
//! denominator (the number of workers; when that changes, the least common multiple of the
//! counts, see [`Utilization::from_workers`]), so every integral of u is an exact integer
//! (count × nanoseconds, `u64`; the constructors reject series whose total integral could
//! overflow). MMU and the worst windows compare exact integers and round once, when an
//! integral is divided by `window × workers` to give the reported `f64`. [`mud`] is exact up
//! to `f64` rounding of the probability masses (see its documentation).
//!
//! # Algorithm and cost
//!
//! For a window w, the window integral F(t) = ∫ u over `[t, t + w)` is continuous and
//! piecewise linear in the window start t, with breakpoints where t or t + w crosses a step
//! boundary, so its minimum lies on a breakpoint (or an end of the allowed range). A sweep
//! with two cursors (one on each window edge) and a running integer integral visits every
//! breakpoint in order in O(1) each.
//!
//! Long sweeps are cut into two pieces swept in lockstep, which lets the CPU overlap the two
//! dependency chains (about 1.6× faster than one).
//!
//! To avoid sweeping the whole trace for every window, the trace is cut into *bands* of
//! equal duration (as in Go's `internal/trace` MMU code): about one per 16 steps, at most
//! 2^20, each with its least value, its prefix integral and its first step. A window of
//! length w is searched with these bands grouped by a power of two, so that a band spans at
//! most w/32 where possible; per band, the prefix integrals and least values give a lower
//! bound for the integral of every window that starts in it. Bands whose bound is below
//! the best window found so far are swept exactly (adjacent ones in one sweep), the most
//! promising first; the rest are skipped. The answer is the same as a full sweep; only the
//! work changes.
//!
//! Cost, for n steps:
//!
//! - Building a [`Utilization`]: O(n) for [`Utilization::from_steps`], O(k log k) for
//!   [`Utilization::from_intervals`] with k intervals. Memory: 12 bytes per step plus about
//!   1.4 bytes per step of index.
//! - [`mmu`], one window: O(n / 16) for the bounds plus the sweeps of the bands not ruled out,
//!   O(n) in the worst case. Bounds prune well where the worst windows stand out (pauses,
//!   bursts of unavailability); they cannot where window means differ by less than the
//!   bound's slack (about 1/32 of the value range, or 2 finest bands, relative to w), e.g.
//!   white noise, or long windows over a uniform trace, and then the search is a full sweep.
//!   A window with mean 0 ends the search at once.
//! - [`mmu_curve`]: one [`mmu`] per window: O(n) per window at worst.
//! - [`worst_windows`]: one sweep collecting the breakpoints where F has a local minimum
//!   into a min-tree, then O(log n) per window listed, whatever the count asked for (see the
//!   `worst` submodule): O(n log n) in all. It does not use the bands, so even a few windows
//!   cost a full sweep.
//! - [`mud`]: one pass over the bands needed to hold the highest quantile's mass (all of them
//!   at worst), then about log₂₀₄₈(window × workers) − 1 refining passes over the same bands,
//!   each O(steps in those bands).
//!
//! Measured (`cargo test --release`, `timing_10m_steps` below, two runs on a 2-core VM shared
//! with other builds, load ≈ 3), 10 M steps, 8 workers, 100 log-spaced windows from 1 µs to
//! the whole trace:
//!
//! | series | build | MMU curve (100 windows) | 10 worst 1 ms windows | MUD, 4 quantiles, 1 ms |
//! |---|---|---|---|---|
//! | noise: 4–8 workers at random, steps of 1 ns–2 µs (10 s) | 0.17 s | 2.3–2.9 s | 0.26 s | 0.6–0.9 s |
//! | dips: all 8 for 20–180 µs, then 6 or 7 for 1–20 µs, 1 ms process pause every ~1 s (553 s) | 0.14–0.17 s | 2.9–3.1 s | 0.45 s | 0.7–0.8 s |
//!
//! One full sweep of 10 M steps takes about 0.06 s, so the worst case for a curve of 100
//! windows is about 6 s. The worst-windows column is from `cargo bench -p trace-analysis
//! --bench mmu` (`MMU_BENCH_STEPS=10000000`, the same two series), which also lists many
//! windows: 1 000 000 worst 1 µs windows in 2.3 s (noise) and 1.8 s (dips); every disjoint
//! 1 ms window of the dips series (412 271) in 4.1 s. The banded search this replaced took
//! 0.01–0.06 s for 10 windows but grew quadratically with their number.
//!
//! # Example
//!
//! ```
//! use trace_analysis::analysis::mmu::{Utilization, mmu, mmu_curve, worst_windows};
//!
//! const S: u64 = 1_000_000_000;
//! // Two workers over 10 s; worker 0 paused in [2 s, 3 s), a process-wide pause in [6 s, 7 s).
//! let u = Utilization::from_intervals(0, 10 * S, 2, &[(6 * S, 7 * S)], &[vec![(2 * S, 3 * S)]])?;
//! assert_eq!(mmu(&u, S), 0.0); // the process-wide pause
//! assert_eq!(mmu(&u, 10 * S), u.mean()); // 1 - 0.5/10 - 1/10 = 0.85
//! assert!((u.mean() - 0.85).abs() < 1e-12);
//! let worst = worst_windows(&u, S, 2);
//! assert_eq!((worst[0].start, worst[0].utilization), (6 * S, 0.0));
//! assert_eq!((worst[1].start, worst[1].utilization), (2 * S, 0.5));
//! let curve = mmu_curve(&u, &[S, 4 * S]);
//! assert_eq!(curve[1].mmu, 0.75); // e.g. [3 s, 7 s): 1, 1, 1, 0
//! # Ok::<(), trace_analysis::analysis::mmu::UtilizationError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

mod worst;

/// Steps between two stored prefix integrals.
const CHECKPOINT_STRIDE: usize = 64;
/// Steps per finest band (on average).
const STEPS_PER_BAND: usize = 16;
/// Most finest bands a series is cut into.
const MAX_BANDS: usize = 1 << 20;
/// A window is searched with bands of at most 1/this of its length (where bands that fine
/// exist). Tests use 2 so that small series are searched with grouped bands too.
const BAND_PER_WINDOW: u64 = if cfg!(test) { 2 } else { 32 };
/// Independent sweeps run in lockstep over a long range.
const LANES: usize = 2;
/// Ranges with fewer steps than this are swept in one lane (tests use lanes almost always).
const LANE_MIN_STEPS: usize = if cfg!(test) { 2 } else { 4096 };
/// [`mmu`] sweeps across up to this many bands it could skip rather than start a new sweep
/// (starting one costs about as much as sweeping a few bands).
const RUN_GAP: usize = 4;
/// Buckets per refining pass of [`mud`] (tests use 4, so that small series take several).
const MUD_GRID: u64 = if cfg!(test) { 4 } else { 4096 };

/// Why a [`Utilization`] could not be built.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UtilizationError {
    /// No steps were given.
    NoSteps,
    /// `times` and `available` have different lengths.
    LengthMismatch {
        /// Number of step start times.
        times: usize,
        /// Number of step values.
        values: usize,
    },
    /// The series would cover no time: `end` is not after `start`.
    EmptyRange {
        /// Start of the series (ns).
        start: u64,
        /// End of the series (ns).
        end: u64,
    },
    /// The denominator (number of workers) is 0.
    NoWorkers,
    /// Step `index` starts before the step before it, or after `end`.
    Unsorted {
        /// Index of the offending step.
        index: usize,
    },
    /// Step `index` has more available workers than the total.
    ValueOutOfRange {
        /// Index of the offending step.
        index: usize,
        /// Its available count.
        value: u32,
        /// The total it must not exceed.
        total: u32,
    },
    /// More per-worker interval lists than workers.
    TooManySeries {
        /// Number of interval lists given.
        series: usize,
        /// Number of workers.
        workers: usize,
    },
    /// duration × workers does not fit in 64 bits, so integrals could overflow.
    TooLarge,
    /// No worker exists at any time in the range.
    NoWorkerTime,
}

impl fmt::Display for UtilizationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoSteps => write!(f, "utilization series has no steps"),
            Self::LengthMismatch { times, values } => write!(
                f,
                "utilization series has {times} step times but {values} values"
            ),
            Self::EmptyRange { start, end } => write!(
                f,
                "utilization series covers no time: end {end} ns is not after start {start} ns"
            ),
            Self::NoWorkers => write!(f, "utilization series has no workers (denominator 0)"),
            Self::Unsorted { index } => write!(
                f,
                "utilization step {index} starts before the previous step or after the end"
            ),
            Self::ValueOutOfRange {
                index,
                value,
                total,
            } => write!(
                f,
                "utilization step {index} has {value} available workers out of {total}"
            ),
            Self::TooManySeries { series, workers } => write!(
                f,
                "{series} per-worker interval lists for {workers} workers"
            ),
            Self::TooLarge => write!(
                f,
                "utilization series too large: duration × workers exceeds 2^64"
            ),
            Self::NoWorkerTime => write!(f, "no worker exists at any time in the trace"),
        }
    }
}

impl std::error::Error for UtilizationError {}

/// A mutator utilization step function u(t) on `[start, end)`, times in nanoseconds.
///
/// Step i has the value `available[i] / total` on `[times[i], times[i + 1])`; the last step
/// runs to `end`. Values are kept as integer counts over a common denominator (the number of
/// workers), so integrals are exact. Steps have positive length and adjacent steps differ
/// (the constructors drop empty steps and merge equal neighbours).
///
/// Times are series time: trace time, less any stretch with no worker that
/// [`from_workers`](Self::from_workers) cut out ([`trace_time`](Self::trace_time) maps
/// back; without such a stretch the two are the same).
#[derive(Clone, PartialEq, Eq)]
pub struct Utilization {
    /// Step starts, then `end`, then a `u64::MAX` sentinel: `steps + 2` entries.
    times: Vec<u64>,
    /// Available count per step, then a 0 sentinel: `steps + 1` entries.
    avail: Vec<u32>,
    /// Denominator: the number of workers, or a common multiple of the worker counts when
    /// that changes (see [`Utilization::from_workers`]).
    total: u32,
    /// Time with no worker, cut out of the series: `(series time, total time cut up to and
    /// including this gap)`, by series time. Empty unless workers were all gone for a while.
    gaps: Vec<(u64, u64)>,
    /// `checkpoints[c]` = integral from `start` to `times[c * CHECKPOINT_STRIDE]`.
    checkpoints: Vec<u64>,
    /// Duration of each of the finest bands (the last may be shorter).
    band_width: u64,
    /// Least available count of any step overlapping each finest band.
    band_min: Vec<u32>,
    /// `band_cum[e]` = integral from `start` to the start of finest band e (clamped to
    /// `end`): one more entry than bands.
    band_cum: Vec<u64>,
    /// `band_first[e]` = the step holding the start of finest band e (clamped to `end`): one
    /// more entry than bands.
    band_first: Vec<usize>,
}

/// One worker for [`Utilization::from_workers`]: when it exists and when it is unavailable
/// (half-open intervals in ns, in any order, possibly overlapping).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerIntervals {
    /// When the worker exists: from its start to its stop.
    pub exists: Vec<(u64, u64)>,
    /// When it is unavailable (a thread-scoped pause, a long poll in responsiveness mode);
    /// only the parts inside `exists` count.
    pub unavailable: Vec<(u64, u64)>,
}

impl fmt::Debug for Utilization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Utilization")
            .field("start", &self.start())
            .field("end", &self.end())
            .field("steps", &self.step_count())
            .field("total", &self.total)
            .field("mean", &self.mean())
            .finish()
    }
}

impl Utilization {
    /// Builds a series from steps: step i has `available[i]` of `total` workers available
    /// (value `available[i] / total`) from `times[i]` until the next step, the last until
    /// `end`.
    ///
    /// `times` must be non-decreasing, start before `end` and not exceed it; steps of zero
    /// length are dropped and equal neighbours merged. Errors name the first offending step.
    ///
    /// ```
    /// use trace_analysis::analysis::mmu::{Utilization, mmu};
    ///
    /// // The reference series: 1, 0, 1, 0, 1 over five 1 s steps.
    /// let s = 1_000_000_000;
    /// let u = Utilization::from_steps(vec![0, s, 2 * s, 3 * s, 4 * s], vec![1, 0, 1, 0, 1], 1, 5 * s)?;
    /// assert_eq!(mmu(&u, 2 * s), 0.5);
    /// assert_eq!(mmu(&u, 5 * s), 0.6);
    /// # Ok::<(), trace_analysis::analysis::mmu::UtilizationError>(())
    /// ```
    pub fn from_steps(
        mut times: Vec<u64>,
        mut available: Vec<u32>,
        total: u32,
        end: u64,
    ) -> Result<Self, UtilizationError> {
        if times.len() != available.len() {
            return Err(UtilizationError::LengthMismatch {
                times: times.len(),
                values: available.len(),
            });
        }
        let Some(&start) = times.first() else {
            return Err(UtilizationError::NoSteps);
        };
        if end <= start {
            return Err(UtilizationError::EmptyRange { start, end });
        }
        if total == 0 {
            return Err(UtilizationError::NoWorkers);
        }
        check_size(end - start, total)?;
        for i in 0..times.len() {
            if (i > 0 && times[i] < times[i - 1]) || times[i] > end {
                return Err(UtilizationError::Unsorted { index: i });
            }
            if available[i] > total {
                return Err(UtilizationError::ValueOutOfRange {
                    index: i,
                    value: available[i],
                    total,
                });
            }
        }
        // Drop empty steps and merge equal neighbours, in place.
        let n = times.len();
        let mut kept = 0;
        for i in 0..n {
            let next = if i + 1 < n { times[i + 1] } else { end };
            if next == times[i] || (kept > 0 && available[kept - 1] == available[i]) {
                continue;
            }
            times[kept] = times[i];
            available[kept] = available[i];
            kept += 1;
        }
        times.truncate(kept);
        available.truncate(kept);
        Ok(Self::assemble(times, available, total, end))
    }

    /// Builds u(t) on `[start, end)` with `workers` workers that exist throughout: 0 inside
    /// any of `process_pauses`; otherwise the fraction of the workers that are available.
    /// [`from_workers`](Self::from_workers) is the general form, for workers that start or
    /// stop.
    ///
    /// `unavailable[i]` holds the intervals `(from, to)` (half-open, ns) when worker i is
    /// unavailable: inside a thread-scoped pause or, in responsiveness mode, inside a poll
    /// longer than the threshold. Intervals may overlap each other and come in any order;
    /// they are clamped to `[start, end)` and empty ones (`to <= from`) are ignored. A
    /// worker's overlapping intervals count once. Workers without a list (when
    /// `unavailable.len() < workers`) are always available.
    ///
    /// ```
    /// use trace_analysis::analysis::mmu::Utilization;
    ///
    /// // Two workers; worker 0 paused in [10, 30) and [20, 40); worker 1 in [30, 50);
    /// // a process-wide pause in [60, 70).
    /// let u = Utilization::from_intervals(
    ///     0, 100, 2, &[(60, 70)], &[vec![(20, 40), (10, 30)], vec![(30, 50)]])?;
    /// assert_eq!(u.times(), &[0, 10, 30, 40, 50, 60, 70]);
    /// assert_eq!(u.available(), &[2, 1, 0, 1, 2, 0, 2]);
    /// # Ok::<(), trace_analysis::analysis::mmu::UtilizationError>(())
    /// ```
    pub fn from_intervals(
        start: u64,
        end: u64,
        workers: usize,
        process_pauses: &[(u64, u64)],
        unavailable: &[Vec<(u64, u64)>],
    ) -> Result<Self, UtilizationError> {
        if end <= start {
            return Err(UtilizationError::EmptyRange { start, end });
        }
        if workers == 0 {
            return Err(UtilizationError::NoWorkers);
        }
        if unavailable.len() > workers {
            return Err(UtilizationError::TooManySeries {
                series: unavailable.len(),
                workers,
            });
        }
        u32::try_from(workers).map_err(|_| UtilizationError::TooLarge)?;
        let list: Vec<WorkerIntervals> = (0..workers)
            .map(|i| WorkerIntervals {
                exists: vec![(start, end)],
                unavailable: unavailable.get(i).cloned().unwrap_or_default(),
            })
            .collect();
        Self::from_workers(start, end, process_pauses, &list)
    }

    /// Builds u(t) over the time in `[start, end)` when at least one of `workers` exists:
    /// 0 inside any of `process_pauses`; otherwise the fraction of the workers existing at t
    /// that are available. A worker counts (in the denominator and, when available, in the
    /// numerator) only inside its [`exists`](WorkerIntervals::exists) intervals, as Go's MMU
    /// counts the Ps that exist when their number changes: a runtime that starts late or
    /// shuts down early is not unavailable.
    ///
    /// Time when no worker exists is not part of the series: before the first worker and
    /// after the last one the series simply starts later or ends earlier; a stretch with no
    /// worker in between is cut out, so the series is shorter than `[start, end)` and a
    /// window may span the cut (its [`Window`] then ends later in trace time than `start +
    /// window`). [`times`](Self::times) and the other accessors are in series time;
    /// [`trace_time`](Self::trace_time) and [`worst_windows`] give trace time.
    ///
    /// Intervals are half-open, in any order, may overlap, and are clamped to `[start,
    /// end)`; a worker's unavailable intervals count only where it exists.
    ///
    /// Exactness: the values share one denominator, the least common multiple of the worker
    /// counts that occur (e.g. 12 when a runtime of 4 workers shuts down one at a time), so
    /// integrals stay exact integers. Where that multiple would not fit (more than 2^32, or
    /// duration × multiple over 2^64: many distinct counts), values are rounded to the
    /// largest denominator that fits instead, off by at most half of its inverse (about
    /// 10^-7 for an hour-long trace).
    ///
    /// ```
    /// use trace_analysis::analysis::mmu::{Utilization, WorkerIntervals, mmu};
    ///
    /// // Worker 0 exists in [0, 100), worker 1 in [20, 60) and is paused in [40, 50).
    /// let workers = [
    ///     WorkerIntervals { exists: vec![(0, 100)], unavailable: vec![] },
    ///     WorkerIntervals { exists: vec![(20, 60)], unavailable: vec![(40, 50)] },
    /// ];
    /// let u = Utilization::from_workers(0, 120, &[], &workers)?;
    /// // 1 of 1, 2 of 2, 1 of 2, 2 of 2, 1 of 1; nothing after 100, when no worker exists.
    /// assert_eq!(u.times(), &[0, 40, 50]);
    /// assert_eq!(u.available(), &[2, 1, 2]);
    /// assert_eq!((u.total(), u.end()), (2, 100));
    /// assert_eq!(mmu(&u, 10), 0.5);
    /// # Ok::<(), trace_analysis::analysis::mmu::UtilizationError>(())
    /// ```
    pub fn from_workers(
        start: u64,
        end: u64,
        process_pauses: &[(u64, u64)],
        workers: &[WorkerIntervals],
    ) -> Result<Self, UtilizationError> {
        if end <= start {
            return Err(UtilizationError::EmptyRange { start, end });
        }
        if workers.is_empty() {
            return Err(UtilizationError::NoWorkers);
        }
        u32::try_from(workers.len()).map_err(|_| UtilizationError::TooLarge)?;

        // (time, change in existing workers, in unavailable existing workers, in pause depth)
        let mut events: Vec<(u64, i32, i32, i32)> = Vec::new();
        for worker in workers {
            let exists = merged(&worker.exists, start, end);
            for &(a, b) in &exists {
                events.push((a, 1, 0, 0));
                events.push((b, -1, 0, 0));
            }
            let down = intersect(&merged(&worker.unavailable, start, end), &exists);
            for (a, b) in down {
                events.push((a, 0, 1, 0));
                events.push((b, 0, -1, 0));
            }
        }
        for (a, b) in merged(process_pauses, start, end) {
            events.push((a, 0, 0, 1));
            events.push((b, 0, 0, -1));
        }
        events.sort_unstable_by_key(|e| e.0);

        // Pieces `(from, to, available, existing)` in trace time, where some worker exists.
        let mut pieces: Vec<(u64, u64, u32, u32)> = Vec::new();
        let (mut existing, mut down, mut paused) = (0i64, 0i64, 0i64);
        let mut k = 0;
        while k < events.len() {
            let t = events[k].0;
            while k < events.len() && events[k].0 == t {
                existing += i64::from(events[k].1);
                down += i64::from(events[k].2);
                paused += i64::from(events[k].3);
                k += 1;
            }
            if let Some(last) = pieces.last_mut()
                && last.1 == u64::MAX
            {
                last.1 = t;
            }
            if existing > 0 && t < end {
                // down <= existing: each worker's intervals were merged and cut to its life.
                let available = if paused > 0 { 0 } else { existing - down };
                pieces.push((t, u64::MAX, available as u32, existing as u32));
            }
        }
        pieces.retain(|p| p.1 > p.0);
        let live: u64 = pieces.iter().map(|p| p.1 - p.0).sum();
        if live == 0 {
            return Err(UtilizationError::NoWorkerTime);
        }

        // One denominator for all: the least common multiple of the worker counts.
        let most = pieces.iter().map(|p| p.3).max().unwrap_or(1);
        let mut counts: Vec<u32> = pieces.iter().map(|p| p.3).collect();
        counts.sort_unstable();
        counts.dedup();
        let multiple = counts.iter().try_fold(1u64, |l, &c| {
            let l = l / gcd(l, u64::from(c)) * u64::from(c);
            (l <= u64::from(u32::MAX)).then_some(l)
        });
        let exact = multiple.filter(|&l| live.checked_mul(l).is_some());
        let total = match exact {
            Some(l) => l,
            None => {
                let fits = (u64::MAX / live).min(u64::from(u32::MAX));
                if fits < u64::from(most) {
                    return Err(UtilizationError::TooLarge);
                }
                fits
            }
        };
        let value = |available: u32, existing: u32| -> u32 {
            let (a, n, d) = (
                u128::from(available),
                u128::from(existing),
                u128::from(total),
            );
            // Exact when `existing` divides `total`; otherwise rounded to the nearest.
            ((a * d + n / 2) / n) as u32
        };

        // Series time: trace time less the stretches with no worker cut out before it.
        let mut times = Vec::with_capacity(pieces.len());
        let mut available: Vec<u32> = Vec::with_capacity(pieces.len());
        let mut gaps = Vec::new();
        let (mut cut, mut previous_end) = (0u64, pieces[0].0);
        for &(from, to, a, n) in &pieces {
            if from > previous_end {
                let at = previous_end - cut;
                cut += from - previous_end;
                gaps.push((at, cut));
            }
            previous_end = to;
            let v = value(a, n);
            if available.last() != Some(&v) {
                times.push(from - cut);
                available.push(v);
            }
        }
        let mut u = Self::assemble(times, available, total as u32, previous_end - cut);
        u.gaps = gaps;
        Ok(u)
    }

    /// The trace time of series time `t` (they differ after a stretch with no worker was
    /// cut out; see [`from_workers`](Self::from_workers)). A `t` exactly at a cut is taken
    /// as the start of what follows it; [`worst_windows`] maps window ends to the end of
    /// what precedes the cut.
    ///
    /// ```
    /// use trace_analysis::analysis::mmu::{Utilization, WorkerIntervals};
    ///
    /// // One worker in [0, 10) and [30, 40): [10, 30) is cut out.
    /// let w = [WorkerIntervals { exists: vec![(0, 10), (30, 40)], unavailable: vec![] }];
    /// let u = Utilization::from_workers(0, 40, &[], &w)?;
    /// assert_eq!(u.duration(), 20);
    /// assert_eq!((u.trace_time(5), u.trace_time(10), u.trace_time(15)), (5, 30, 35));
    /// # Ok::<(), trace_analysis::analysis::mmu::UtilizationError>(())
    /// ```
    pub fn trace_time(&self, t: u64) -> u64 {
        let k = self.gaps.partition_point(|g| g.0 <= t);
        t + k.checked_sub(1).map_or(0, |k| self.gaps[k].1)
    }

    /// The trace time of series time `t` as the end of a window: before a cut at `t`.
    fn trace_time_end(&self, t: u64) -> u64 {
        let k = self.gaps.partition_point(|g| g.0 < t);
        t + k.checked_sub(1).map_or(0, |k| self.gaps[k].1)
    }

    /// Sets up sentinels, checkpoints and bands. `times`/`available`: normalized steps.
    fn assemble(mut times: Vec<u64>, mut available: Vec<u32>, total: u32, end: u64) -> Self {
        let n = available.len();
        debug_assert!(n > 0 && times.len() == n && times[n - 1] < end);
        times.push(end);
        times.push(u64::MAX);
        available.push(0);
        let mut checkpoints = Vec::with_capacity(n / CHECKPOINT_STRIDE + 1);
        let mut cum = 0u64;
        for i in 0..n {
            if i % CHECKPOINT_STRIDE == 0 {
                checkpoints.push(cum);
            }
            cum += u64::from(available[i]) * (times[i + 1] - times[i]);
        }
        let mut u = Self {
            times,
            avail: available,
            total,
            gaps: Vec::new(),
            checkpoints,
            band_width: 1,
            band_min: Vec::new(),
            band_cum: Vec::new(),
            band_first: Vec::new(),
        };
        u.build_bands((n / STEPS_PER_BAND).clamp(1, MAX_BANDS));
        u
    }

    /// Cuts the series into (about) `bands` finest bands of equal duration.
    fn build_bands(&mut self, bands: usize) {
        let (start, end, n) = (self.start(), self.end(), self.step_count());
        let duration = end - start;
        let width = duration.div_ceil(bands.max(1) as u64).max(1);
        let count = duration.div_ceil(width) as usize;
        let mut band_min = vec![u32::MAX; count];
        for i in 0..n {
            let first = ((self.times[i] - start) / width) as usize;
            let last = ((self.times[i + 1] - 1 - start) / width) as usize;
            for m in &mut band_min[first..=last] {
                *m = (*m).min(self.avail[i]);
            }
        }
        let mut band_cum = Vec::with_capacity(count + 1);
        let mut band_first = Vec::with_capacity(count + 1);
        let (mut cum, mut i) = (0u64, 0usize);
        for e in 0..=count as u64 {
            let x = start.saturating_add(e * width).min(end);
            while i + 1 < n && self.times[i + 1] <= x {
                cum += u64::from(self.avail[i]) * (self.times[i + 1] - self.times[i]);
                i += 1;
            }
            band_cum.push(cum + u64::from(self.avail[i]) * (x - self.times[i]));
            band_first.push(i);
        }
        self.band_width = width;
        self.band_min = band_min;
        self.band_cum = band_cum;
        self.band_first = band_first;
    }

    /// Start of the series (ns).
    pub fn start(&self) -> u64 {
        self.times[0]
    }

    /// End of the series (ns, exclusive).
    pub fn end(&self) -> u64 {
        self.times[self.step_count()]
    }

    /// `end - start` (ns).
    pub fn duration(&self) -> u64 {
        self.end() - self.start()
    }

    /// Number of steps (after merging equal neighbours); at least 1.
    pub fn step_count(&self) -> usize {
        self.avail.len() - 1
    }

    /// The denominator: the number of workers the series counts, or, when that number
    /// changes, a common multiple of the counts (see [`from_workers`](Self::from_workers)).
    pub fn total(&self) -> u32 {
        self.total
    }

    /// Start time of each step.
    pub fn times(&self) -> &[u64] {
        &self.times[..self.step_count()]
    }

    /// Available workers during each step (value = available / [`total`](Self::total)).
    pub fn available(&self) -> &[u32] {
        &self.avail[..self.step_count()]
    }

    /// The steps as `(start time, value in [0, 1])`.
    pub fn steps(&self) -> impl Iterator<Item = (u64, f64)> + '_ {
        let total = f64::from(self.total);
        self.times()
            .iter()
            .zip(self.available())
            .map(move |(&t, &a)| (t, f64::from(a) / total))
    }

    /// Mean of u over the whole series.
    pub fn mean(&self) -> f64 {
        ratio(self.integral_to(self.end()).1, self.duration(), self.total)
    }

    /// Mean of u over `[from, to)` clamped to the series; `None` when that is empty.
    pub fn mean_over(&self, from: u64, to: u64) -> Option<f64> {
        let (from, to) = (from.max(self.start()), to.min(self.end()));
        (from < to).then(|| {
            let integral = self.integral_to(to).1 - self.integral_to(from).1;
            ratio(integral, to - from, self.total)
        })
    }

    /// Least value of any step.
    pub fn min_value(&self) -> f64 {
        let min = self.available().iter().copied().min().unwrap_or(0);
        f64::from(min) / f64::from(self.total)
    }

    /// Returns the step containing `x` and the integral (count × ns) from the start to `x`.
    /// Requires `start <= x <= end`; `end` belongs to the last step.
    fn integral_to(&self, x: u64) -> (usize, u64) {
        // The step lies between those holding the starts of x's band and of the next band.
        let e = ((x - self.start()) / self.band_width) as usize;
        let lo = self.band_first[e];
        let hi = self.band_first[(e + 1).min(self.band_first.len() - 1)];
        let k = lo + self.times[lo..=hi].partition_point(|&t| t <= x) - 1;
        let c = k / CHECKPOINT_STRIDE;
        let mut cum = self.checkpoints[c];
        for s in c * CHECKPOINT_STRIDE..k {
            cum += u64::from(self.avail[s]) * (self.times[s + 1] - self.times[s]);
        }
        (k, cum + u64::from(self.avail[k]) * (x - self.times[k]))
    }

    /// A window sweep positioned at window start `t0`, to run until `t1`.
    fn edge(&self, w: u64, t0: u64, t1: u64) -> Edge {
        let (i, left) = self.integral_to(t0);
        let (j, right) = self.integral_to(t0 + w);
        Edge {
            i,
            j,
            t: t0,
            end: t1,
            f: right - left,
        }
    }

    /// Moves `e` to the next breakpoint of F (or its end). Requires `e.t < e.end`.
    #[inline(always)]
    fn advance(&self, e: &mut Edge, w: u64) {
        // t < end <= series end - w, so both window edges lie strictly inside their steps.
        let dl = self.times[e.i + 1] - e.t;
        let dr = self.times[e.j + 1] - (e.t + w);
        let d = dl.min(dr).min(e.end - e.t);
        // The true result is in range; intermediate wrap-around cancels out.
        e.f =
            e.f.wrapping_add(d * u64::from(self.avail[e.j]))
                .wrapping_sub(d * u64::from(self.avail[e.i]));
        e.t += d;
        e.i += usize::from(d == dl);
        e.j += usize::from(d == dr);
    }

    /// Visits `(lane, t, F(t))` at every breakpoint of F in `[t0, t1]` and at both ends,
    /// where F(t) is the integral over `[t, t + w)`. Long ranges are cut into [`LANES`]
    /// consecutive pieces swept in lockstep (independent dependency chains, so the CPU
    /// overlaps them); within a lane, visits come in order of t and F is linear between
    /// consecutive ones. Requires `1 <= w < duration` and `start <= t0 <= t1 <= end - w`.
    #[inline]
    fn sweep(&self, w: u64, t0: u64, t1: u64, mut visit: impl FnMut(usize, u64, u64)) {
        let n = self.step_count();
        let steps = self.times[..n].partition_point(|&t| t <= t1 + w)
            - self.times[..n].partition_point(|&t| t <= t0);
        if steps < LANE_MIN_STEPS {
            let mut e = self.edge(w, t0, t1);
            visit(0, e.t, e.f);
            while e.t < e.end {
                self.advance(&mut e, w);
                visit(0, e.t, e.f);
            }
            return;
        }
        let cut = |l: usize| t0 + ((t1 - t0) as u128 * l as u128 / LANES as u128) as u64;
        let mut lanes: [Edge; LANES] = std::array::from_fn(|l| self.edge(w, cut(l), cut(l + 1)));
        for (l, e) in lanes.iter().enumerate() {
            visit(l, e.t, e.f);
        }
        loop {
            let mut live = false;
            for (l, e) in lanes.iter_mut().enumerate() {
                if e.t < e.end {
                    self.advance(e, w);
                    visit(l, e.t, e.f);
                    live = true;
                }
            }
            if !live {
                break;
            }
        }
    }

    /// The least F(t) over all window starts, and the earliest t reaching it. Requires
    /// `1 <= w < duration`.
    fn min_window(&self, w: u64) -> (u64, u64) {
        let level = Level::new(self, w);
        let bounds = &level.bounds;
        let nb = bounds.len();
        let mut best = (u64::MAX, u64::MAX);
        let sweep = |lo: u64, hi: u64, best: &mut (u64, u64)| {
            self.sweep(w, lo, hi, |_, t, f| {
                if f <= best.0 && (f < best.0 || t < best.1) {
                    *best = (f, t);
                }
            });
        };
        // A first answer from the most promising band, then every band whose bound is below
        // the best so far, swept in runs of adjacent bands (long sweeps use all lanes).
        let seed = (0..nb).min_by_key(|&k| bounds[k]).unwrap_or(0);
        let (lo, hi) = level.range(seed);
        sweep(lo, hi, &mut best);
        let candidates = (0..nb).filter(|&k| k != seed && bounds[k] < best.0);
        let mut runs = self.runs(candidates, RUN_GAP);
        runs.sort_unstable_by_key(|&(a, b)| bounds[a..=b].iter().min().copied());
        for (mut a, mut b) in runs {
            while a <= b && bounds[a] >= best.0 {
                a += 1;
            }
            while b > a && bounds[b] >= best.0 {
                b -= 1;
            }
            if a <= b && best.0 > 0 {
                sweep(level.range(a).0, level.range(b).1, &mut best);
            }
        }
        best
    }

    /// Runs `(first, last)` of bands among `bands` (ascending), joining runs separated by at
    /// most `gap` bands.
    fn runs(&self, bands: impl Iterator<Item = usize>, gap: usize) -> Vec<(usize, usize)> {
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for k in bands {
            match runs.last_mut() {
                Some(run) if k <= run.1 + 1 + gap => run.1 = k,
                _ => runs.push((k, k)),
            }
        }
        runs
    }

    /// Quantiles of u(t) itself, t uniform over the series (the window-0 distribution).
    fn value_quantiles(&self, quantiles: &[f64]) -> Vec<f64> {
        let mut by_value: BTreeMap<u32, u64> = BTreeMap::new();
        for i in 0..self.step_count() {
            *by_value.entry(self.avail[i]).or_default() += self.times[i + 1] - self.times[i];
        }
        let total = self.duration() as f64;
        quantiles
            .iter()
            .map(|&q| {
                let target = q * total;
                let mut cum = 0u64;
                let mut value = 0;
                for (&v, &d) in &by_value {
                    cum += d;
                    value = v;
                    if cum as f64 >= target {
                        break;
                    }
                }
                f64::from(value) / f64::from(self.total)
            })
            .collect()
    }

    /// Rebuilds the bands with a given count, to exercise banding on small series.
    #[cfg(test)]
    fn with_bands(mut self, bands: usize) -> Self {
        self.build_bands(bands);
        self
    }
}

/// The bands one window length is searched with: the finest bands grouped by a power of two
/// so that a band spans at most 1/[`BAND_PER_WINDOW`] of the window (the bound below is then
/// within that fraction of the truth), and for each band that holds window starts, a lower
/// bound for the integral of every window starting in it.
struct Level {
    /// Window length.
    w: u64,
    start: u64,
    end: u64,
    /// Band duration.
    width: u64,
    /// Lower bound per band, for the bands holding window starts.
    bounds: Vec<u64>,
}

impl Level {
    /// Requires `1 <= w < duration`.
    fn new(u: &Utilization, w: u64) -> Self {
        let (fine, fine_count) = (u.band_width, u.band_min.len());
        let mut factor = 1usize;
        while factor * 2 <= fine_count
            && (fine * factor as u64 * 2).saturating_mul(BAND_PER_WINDOW) <= w
        {
            factor *= 2;
        }
        let width = fine * factor as u64;
        let grouped: Vec<u32>;
        let mins: &[u32] = if factor == 1 {
            &u.band_min
        } else {
            grouped = (u.band_min.chunks(factor))
                .map(|c| c.iter().copied().min().unwrap_or(u32::MAX))
                .collect();
            &grouped
        };
        // Bands past the end hold no part of any window: they never lower a bound.
        let min = |m: usize| u64::from(mins.get(m).copied().unwrap_or(u32::MAX));
        let fine_min = |e: usize| u64::from(u.band_min.get(e).copied().unwrap_or(u32::MAX));
        let cum = &u.band_cum;
        let duration = u.duration();
        // A lower bound for the integral from the start to start + x.
        let integral_below = |x: u64| {
            let e = (x / fine) as usize;
            let partial = x - e as u64 * fine;
            cum[e]
                + if partial > 0 {
                    partial * fine_min(e)
                } else {
                    0
                }
        };
        let count = ((duration - w) / width) as usize + 1;
        let bounds = (0..count)
            .map(|m| {
                if w < width {
                    // [t, t + w) lies within bands m and m + 1.
                    return w * min(m).min(min(m + 1));
                }
                // Every window starting in [lo, lo + width] covers [lo + width, lo + w): at
                // least the finest bands inside it plus the least value over the rest. The
                // other width ns of the window lie in band m and in bands m + q and m + q + 1.
                let x = m as u64 * width + w;
                let common = integral_below(x) - cum[(m + 1) * factor];
                let q = (w / width) as usize;
                let coarse = common + width * min(m).min(min(m + q)).min(min(m + q + 1));
                // Finer, per finest band g = [s, s + fine) of band m: for t in it,
                // F(t) = I(t + w) - I(t) >= I(s + w) - I(s + fine) + (the least value over
                // [t, s + fine) and [s + w, t + w)) * fine.
                let mut fine_bound = u64::MAX;
                for g in m * factor..(m + 1) * factor {
                    let s = g as u64 * fine;
                    if s > duration - w {
                        break;
                    }
                    let e = ((s + w) / fine) as usize;
                    let least = fine_min(g).min(fine_min(e)).min(fine_min(e + 1));
                    // w >= fine, so g is a whole band: s + fine <= duration - w + fine.
                    let b = (integral_below(s + w) + fine * least).saturating_sub(cum[g + 1]);
                    fine_bound = fine_bound.min(b);
                }
                coarse.max(fine_bound)
            })
            .collect();
        Self {
            w,
            start: u.start(),
            end: u.end(),
            width,
            bounds,
        }
    }

    /// The window starts `[lo, hi]` band `m` covers.
    fn range(&self, m: usize) -> (u64, u64) {
        let lo = self.start + m as u64 * self.width;
        (lo, (lo + self.width).min(self.end - self.w))
    }
}

/// One window sweep: window start `t` (until `end`), the steps holding the window's left
/// and right edges, and F = the integral over the window.
struct Edge {
    i: usize,
    j: usize,
    t: u64,
    end: u64,
    f: u64,
}

/// `list` clamped to `[start, end)`, sorted and merged into disjoint intervals.
fn merged(list: &[(u64, u64)], start: u64, end: u64) -> Vec<(u64, u64)> {
    let mut v: Vec<(u64, u64)> = (list.iter())
        .map(|&(a, b)| (a.max(start), b.min(end)))
        .filter(|&(a, b)| a < b)
        .collect();
    v.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The parts of `a` inside `b` (both sorted and disjoint).
fn intersect(a: &[(u64, u64)], b: &[(u64, u64)]) -> Vec<(u64, u64)> {
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < a.len() && j < b.len() {
        let (from, to) = (a[i].0.max(b[j].0), a[i].1.min(b[j].1));
        if from < to {
            out.push((from, to));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

fn check_size(duration: u64, total: u32) -> Result<(), UtilizationError> {
    duration
        .checked_mul(u64::from(total))
        .map(|_| ())
        .ok_or(UtilizationError::TooLarge)
}

/// Mean value of an integral (count × ns) over `duration` ns.
fn ratio(integral: u64, duration: u64, total: u32) -> f64 {
    // duration * total fits: checked at construction (duration <= the series' duration).
    integral as f64 / (duration * u64::from(total)) as f64
}

/// Per-worker mode: one series per worker, each 0 inside a process-wide pause and otherwise
/// 1 when that worker is available, 0 when not. `unavailable[i]` as in
/// [`Utilization::from_intervals`].
///
/// The per-worker MMU of a window is the least of the workers' [`mmu`]s.
pub fn per_worker(
    start: u64,
    end: u64,
    process_pauses: &[(u64, u64)],
    unavailable: &[Vec<(u64, u64)>],
) -> Result<Vec<Utilization>, UtilizationError> {
    unavailable
        .iter()
        .map(|series| {
            Utilization::from_intervals(start, end, 1, process_pauses, std::slice::from_ref(series))
        })
        .collect()
}

/// Minimum mutator utilization for windows of `window` ns: the least mean of u over
/// `[t, t + window)` for all `t` with the window inside the series. Exact (one rounding).
///
/// A window of at least the series' duration gives the whole-series mean; a window of 0 the
/// least value of any step. See the module documentation for the cost.
///
/// ```
/// use trace_analysis::analysis::mmu::{Utilization, mmu};
///
/// let s = 1_000_000_000;
/// let u = Utilization::from_steps(vec![0, s, 2 * s, 3 * s, 4 * s], vec![1, 0, 1, 0, 1], 1, 5 * s)?;
/// assert_eq!(mmu(&u, 1_000_000), 0.0);
/// assert_eq!(mmu(&u, 3 * s), 1.0 / 3.0);
/// assert_eq!(mmu(&u, 60 * s), 0.6);
/// # Ok::<(), trace_analysis::analysis::mmu::UtilizationError>(())
/// ```
pub fn mmu(u: &Utilization, window: u64) -> f64 {
    if window == 0 {
        return u.min_value();
    }
    if window >= u.duration() {
        return u.mean();
    }
    let (f, _) = u.min_window(window);
    ratio(f, window, u.total)
}

/// One point of an MMU curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MmuPoint {
    /// Window length (ns).
    pub window: u64,
    /// [`mmu`] for that window.
    pub mmu: f64,
}

/// [`mmu`] for each of `windows`, in the given order.
///
/// ```
/// use trace_analysis::analysis::mmu::{Utilization, log_spaced_windows, mmu_curve};
///
/// // 4 workers for 1 s; only one of them available in [100 µs, 200 µs).
/// let u = Utilization::from_steps(vec![0, 100_000, 200_000], vec![4, 1, 4], 4, 1_000_000_000)?;
/// let curve = mmu_curve(&u, &log_spaced_windows(1_000, u.duration(), 100));
/// assert_eq!(curve.len(), 100);
/// assert_eq!((curve[0].window, curve[0].mmu), (1_000, 0.25));
/// assert_eq!(curve.last().unwrap().mmu, u.mean());
/// // With one dip the curve only rises.
/// assert!(curve.windows(2).all(|p| p[0].mmu <= p[1].mmu));
/// # Ok::<(), trace_analysis::analysis::mmu::UtilizationError>(())
/// ```
pub fn mmu_curve(u: &Utilization, windows: &[u64]) -> Vec<MmuPoint> {
    windows
        .iter()
        .map(|&window| MmuPoint {
            window,
            mmu: mmu(u, window),
        })
        .collect()
}

/// `count` window lengths spaced evenly on a log scale from `min` to `max` (ns), rounded to
/// whole nanoseconds, ascending, without duplicates (so possibly fewer than `count`).
///
/// `min` is raised to 1 and `max` to `min`; the first window is `min` and, for
/// `count >= 2`, the last is `max`. Go's trace viewer plots 100 such windows.
pub fn log_spaced_windows(min: u64, max: u64, count: usize) -> Vec<u64> {
    let lo = min.max(1);
    let hi = max.max(lo);
    if count == 0 {
        return Vec::new();
    }
    if count == 1 || lo == hi {
        return vec![lo];
    }
    let span = (hi as f64 / lo as f64).ln();
    let mut out: Vec<u64> = (0..count)
        .map(|i| {
            if i + 1 == count {
                hi
            } else {
                let x = lo as f64 * (span * i as f64 / (count - 1) as f64).exp();
                (x.round() as u64).clamp(lo, hi)
            }
        })
        .collect();
    out.dedup();
    out
}

/// A window of the series and its mean utilization.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Window {
    /// Start (ns, trace time).
    pub start: u64,
    /// End (ns, exclusive, trace time): `start` + the window length, plus any stretch with
    /// no worker inside the window (not part of the series: see
    /// [`Utilization::from_workers`]).
    pub end: u64,
    /// Mean of u over `[start, end)`.
    pub utilization: f64,
}

/// The `n` worst disjoint windows of length `window`, worst first.
///
/// Chosen greedily: the first is a worst window overall (its utilization is
/// [`mmu`]`(u, window)`), each next one is a worst window disjoint from those before it (the
/// earliest on ties), until `n` are found or no disjoint window is left. Each window's
/// `utilization` is exactly the mean of u over it.
///
/// A window of 0 gives no windows; a window of at least the series' duration gives the
/// whole series as the one window. `n` may be anything (`usize::MAX`: every window of the
/// greedy choice): the cost is O(s log s) for s steps plus O(log s) per window listed.
/// Window times are trace times ([`Utilization::trace_time`]).
///
/// ```
/// use trace_analysis::analysis::mmu::{Utilization, worst_windows};
///
/// let s = 1_000_000_000;
/// let u = Utilization::from_steps(vec![0, s, 2 * s, 3 * s, 4 * s], vec![1, 0, 1, 0, 1], 1, 5 * s)?;
/// let worst = worst_windows(&u, s, 3);
/// // The two pauses, then the earliest of the windows of 1.
/// assert_eq!(worst.iter().map(|w| (w.start / s, w.utilization)).collect::<Vec<_>>(),
///            vec![(1, 0.0), (3, 0.0), (0, 1.0)]);
/// # Ok::<(), trace_analysis::analysis::mmu::UtilizationError>(())
/// ```
pub fn worst_windows(u: &Utilization, window: u64, n: usize) -> Vec<Window> {
    if n == 0 || window == 0 {
        return Vec::new();
    }
    if window >= u.duration() {
        return vec![Window {
            start: u.trace_time(u.start()),
            end: u.trace_time_end(u.end()),
            utilization: u.mean(),
        }];
    }
    u.worst(window, n)
        .into_iter()
        .map(|(start, f)| Window {
            start: u.trace_time(start),
            end: u.trace_time_end(start + window),
            utilization: ratio(f, window, u.total),
        })
        .collect()
}

/// Mutator utilization distribution: for windows of `window` ns, quantiles of the mean
/// utilization over all window starts `t` in `[start, end - window]`, `t` uniform.
///
/// For each `q` (clamped to [0, 1]; NaN counts as 0) the result is the least utilization v
/// such that a fraction q of window starts have a window mean of at most v. So `q = 0` is
/// the worst window ([`mmu`], exactly), and Go's "99.9th, 99th, 95th percentile" MUD lines
/// are `q = 0.001, 0.01, 0.05` (counted from the bad end).
///
/// Exactness: the distribution is piecewise uniform between window integrals that are whole
/// numbers (count × ns), and the quantile is found by narrowing it to one such unit, inside
/// which it is solved exactly. The only error is `f64` rounding in summing the masses
/// (relative to the number of window starts, about 1e-12 in practice), which can move a
/// quantile only where the distribution is nearly flat.
///
/// A window of 0 gives quantiles of u(t) itself; a window of at least the series' duration
/// gives the whole-series mean for every quantile.
///
/// ```
/// use trace_analysis::analysis::mmu::{Utilization, mud};
///
/// // 1 for 9 s, then 0 for 1 s. For 1 s windows: starts in [0, 8] have mean 1, starts in
/// // [8, 9] fall linearly to 0, so 1/9 of the starts are spread evenly over [0, 1).
/// let s = 1_000_000_000;
/// let u = Utilization::from_steps(vec![0, 9 * s], vec![1, 0], 1, 10 * s)?;
/// let q = mud(&u, s, &[0.0, 0.05, 0.5]);
/// assert_eq!(q[0], 0.0);
/// assert!((q[1] - 0.45).abs() < 1e-9);
/// assert_eq!(q[2], 1.0);
/// # Ok::<(), trace_analysis::analysis::mmu::UtilizationError>(())
/// ```
pub fn mud(u: &Utilization, window: u64, quantiles: &[f64]) -> Vec<f64> {
    let qs: Vec<f64> = quantiles
        .iter()
        .map(|&q| if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) })
        .collect();
    if window == 0 {
        return u.value_quantiles(&qs);
    }
    if window >= u.duration() {
        return vec![u.mean(); qs.len()];
    }
    let w = window;
    let range = w * u64::from(u.total);
    let scale = range as f64;
    let mass = (u.end() - w - u.start()) as f64;
    let mut out = vec![f64::NAN; qs.len()];
    if qs.contains(&0.0) {
        let m = mmu(u, w);
        for (o, _) in out.iter_mut().zip(&qs).filter(|(_, q)| **q == 0.0) {
            *o = m;
        }
    }
    let Some(max_target) = qs.iter().copied().reduce(f64::max).map(|q| q * mass) else {
        return out;
    };
    if max_target == 0.0 {
        return out;
    }

    // Pass 1: bands in order of their lower bound, until the bands left cannot hold any
    // window below the highest quantile.
    let level = Level::new(u, w);
    let bounds = &level.bounds;
    let nb = bounds.len();
    let mut order: Vec<usize> = (0..nb).collect();
    order.sort_unstable_by_key(|&k| bounds[k]);
    // Feeds the segments of F for the starts in bands `run.0..=run.1` to `grids`.
    let feed = |runs: &[(usize, usize)], grids: &mut [Grid]| {
        for &(a, b) in runs {
            let mut prev: [Option<(u64, u64)>; LANES] = [None; LANES];
            let (lo, hi) = (level.range(a).0, level.range(b).1);
            u.sweep(w, lo, hi, |lane, t, f| {
                if let Some((pt, pf)) = prev[lane] {
                    for g in grids.iter_mut() {
                        g.add(t - pt, pf, f);
                    }
                }
                prev[lane] = Some((t, f));
            });
        }
    };
    let mut first = [Grid::new(0, range)];
    let mut done = 0;
    let mut cum = Vec::new();
    // Batches of 1, 1, 2, 4, … bands: checking after each batch costs one pass over the grid.
    while done < nb {
        let end = (2 * done).clamp(1, nb);
        let mut batch = order[done..end].to_vec();
        batch.sort_unstable();
        feed(&u.runs(batch.into_iter(), 0), &mut first);
        done = end;
        let next_bound = order.get(done).map_or(u64::MAX, |&k| bounds[k]);
        cum = first[0].cumulative();
        if let Some(j) = cum.iter().position(|&m| m >= max_target)
            && first[0].at(j) < next_bound
        {
            break;
        }
    }
    let mut processed = order[..done].to_vec();
    processed.sort_unstable();
    let bands = u.runs(processed.into_iter(), 0);

    // Then narrow each quantile to one integral unit.
    let mut pending: Vec<(usize, f64)> = Vec::new();
    let mut grids: Vec<Grid> = Vec::new();
    let resolve = |i: usize,
                   target: f64,
                   grid: &Grid,
                   cum: &[f64],
                   out: &mut [f64],
                   pending: &mut Vec<(usize, f64)>,
                   next: &mut Vec<Grid>| {
        match grid.solve(cum, target) {
            Ok(x) => out[i] = x / scale,
            Err((lo, hi)) => {
                pending.push((i, target));
                next.push(Grid::new(lo, hi));
            }
        }
    };
    for (i, &q) in qs.iter().enumerate() {
        if q > 0.0 {
            resolve(
                i,
                q * mass,
                &first[0],
                &cum,
                &mut out,
                &mut pending,
                &mut grids,
            );
        }
    }
    while !pending.is_empty() {
        feed(&bands, &mut grids);
        let (todo, current) = (std::mem::take(&mut pending), std::mem::take(&mut grids));
        for ((i, target), grid) in todo.into_iter().zip(current) {
            let cum = grid.cumulative();
            resolve(i, target, &grid, &cum, &mut out, &mut pending, &mut grids);
        }
    }
    out
}

/// The cumulative distribution M(x) (mass of window starts whose integral F is at most x)
/// sampled at grid points `lo, lo + step, …, hi`. F is linear between breakpoints, so each
/// segment of F contributes either a point mass (F constant) or mass spread evenly over
/// `[min F, max F]`: M gains slope at the lower end and loses it at the upper one. Those
/// kinks are recorded per grid cell and summed in [`cumulative`](Self::cumulative).
struct Grid {
    lo: u64,
    hi: u64,
    step: u64,
    /// Mass entirely at or below `lo`.
    base: f64,
    /// Slope (mass per integral unit) starting in each cell.
    slope: Vec<f64>,
    /// Mass added at each grid point by kinks and point masses since the previous point.
    jump: Vec<f64>,
    /// Point mass exactly at each grid point.
    point: Vec<f64>,
}

impl Grid {
    fn new(lo: u64, hi: u64) -> Self {
        // A power of two, so that finding a cell is a shift.
        let step = (hi - lo).div_ceil(MUD_GRID).max(1).next_power_of_two();
        let len = (hi - lo).div_ceil(step) as usize + 1;
        Self {
            lo,
            hi,
            step,
            base: 0.0,
            slope: vec![0.0; len],
            jump: vec![0.0; len],
            point: vec![0.0; len],
        }
    }

    /// Grid point j.
    fn at(&self, j: usize) -> u64 {
        self.lo
            .saturating_add((j as u64).saturating_mul(self.step))
            .min(self.hi)
    }

    /// The first grid point at or above x, for `x <= hi`.
    fn index(&self, x: u64) -> usize {
        if x <= self.lo {
            0
        } else {
            (((x - self.lo - 1) >> self.step.trailing_zeros()) + 1) as usize
        }
    }

    /// Adds `len` ns of window starts along which F goes linearly from `fa` to `fb`.
    fn add(&mut self, len: u64, fa: u64, fb: u64) {
        let (a, b) = (fa.min(fb), fa.max(fb));
        let mass = len as f64;
        if b <= self.lo {
            self.base += mass;
        } else if a > self.hi {
        } else if a == b {
            let j = self.index(a);
            self.jump[j] += mass;
            if self.at(j) == a {
                self.point[j] += mass;
            }
        } else {
            let s = mass / (b - a) as f64;
            self.kink(a, s);
            if b <= self.hi {
                self.kink(b, -s);
            }
        }
    }

    /// From x on, M grows by `s` per unit more.
    fn kink(&mut self, x: u64, s: f64) {
        let j = self.index(x);
        self.jump[j] += s * (self.at(j) - x) as f64;
        self.slope[j] += s;
    }

    /// M at every grid point.
    fn cumulative(&self) -> Vec<f64> {
        let mut out = Vec::with_capacity(self.jump.len());
        let (mut m, mut slope) = (self.base, 0.0);
        for j in 0..self.jump.len() {
            if j > 0 {
                m += slope * (self.at(j) - self.at(j - 1)) as f64;
            }
            m += self.jump[j];
            slope += self.slope[j];
            out.push(m);
        }
        out
    }

    /// The least x with M(x) >= target (`Ok`), or the narrower range `(lo, hi]` holding it
    /// (`Err`), given M at the grid points. Requires M(lo) < target unless lo is 0.
    fn solve(&self, cum: &[f64], target: f64) -> Result<f64, (u64, u64)> {
        // Rounding may leave the top a hair below a target of all the mass.
        let j = cum
            .iter()
            .position(|&m| m >= target)
            .unwrap_or(cum.len() - 1);
        if j == 0 {
            return Ok(self.at(0) as f64);
        }
        let (a, b) = (self.at(j - 1), self.at(j));
        if b - a > 1 {
            return Err((a, b));
        }
        // Breakpoints of M are whole numbers: M is linear on [a, b) and may jump at b.
        let below = cum[j] - self.point[j];
        if below < target {
            Ok(b as f64)
        } else {
            Ok(a as f64 + (target - cum[j - 1]) / (below - cum[j - 1]))
        }
    }
}

#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
