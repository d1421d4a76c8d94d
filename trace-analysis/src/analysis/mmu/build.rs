//! Building a [`Utilization`]: from steps ([`Utilization::from_steps`]); from the pauses of
//! workers that exist throughout ([`Utilization::from_intervals`]); from workers that start
//! and stop ([`Utilization::from_workers`]: one denominator, the least common multiple of the
//! worker counts, and the stretches without a worker cut out); one series per worker
//! ([`per_worker`]); and why a series cannot be built ([`UtilizationError`]).

use std::fmt;

use super::series::Utilization;

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
    /// window may span the cut (its [`Window`](super::Window) then ends later in trace time
    /// than `start + window`). [`times`](Self::times) and the other accessors are in series
    /// time; [`trace_time`](Self::trace_time) and [`worst_windows`](super::worst_windows)
    /// give trace time.
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

/// Per-worker mode: one series per worker, each 0 inside a process-wide pause and otherwise
/// 1 when that worker is available, 0 when not. `unavailable[i]` as in
/// [`Utilization::from_intervals`].
///
/// The per-worker MMU of a window is the least of the workers' [`mmu`](super::mmu())s.
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
