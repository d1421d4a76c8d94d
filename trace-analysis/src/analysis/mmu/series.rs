//! [`Utilization`] as stored: its steps, as integer counts of available workers over one
//! denominator, and the index that makes any integral cheap: a prefix integral every
//! `CHECKPOINT_STRIDE` steps, and the finest bands (equal durations, about one per
//! `STEPS_PER_BAND` steps), each with its least value, prefix integral and first step. Also
//! the accessors, exact integrals and means, and the map from series time back to trace time.
//!
//! `build` makes a series from steps or intervals; the other modules compute answers from
//! one.

use std::fmt;

/// Steps between two stored prefix integrals.
const CHECKPOINT_STRIDE: usize = 64;
/// Steps per finest band (on average).
const STEPS_PER_BAND: usize = 16;
/// Most finest bands a series is cut into.
const MAX_BANDS: usize = 1 << 20;

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
    pub(super) times: Vec<u64>,
    /// Available count per step, then a 0 sentinel: `steps + 1` entries.
    pub(super) avail: Vec<u32>,
    /// Denominator: the number of workers, or a common multiple of the worker counts when
    /// that changes (see [`Utilization::from_workers`]).
    pub(super) total: u32,
    /// Time with no worker, cut out of the series: `(series time, total time cut up to and
    /// including this gap)`, by series time. Empty unless workers were all gone for a while.
    pub(super) gaps: Vec<(u64, u64)>,
    /// `checkpoints[c]` = integral from `start` to `times[c * CHECKPOINT_STRIDE]`.
    checkpoints: Vec<u64>,
    /// Duration of each of the finest bands (the last may be shorter).
    pub(super) band_width: u64,
    /// Least available count of any step overlapping each finest band.
    pub(super) band_min: Vec<u32>,
    /// `band_cum[e]` = integral from `start` to the start of finest band e (clamped to
    /// `end`): one more entry than bands.
    pub(super) band_cum: Vec<u64>,
    /// `band_first[e]` = the step holding the start of finest band e (clamped to `end`): one
    /// more entry than bands.
    band_first: Vec<usize>,
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
    /// Sets up sentinels, checkpoints and bands. `times`/`available`: normalized steps.
    pub(super) fn assemble(
        mut times: Vec<u64>,
        mut available: Vec<u32>,
        total: u32,
        end: u64,
    ) -> Self {
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
    pub(super) fn integral_to(&self, x: u64) -> (usize, u64) {
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

    /// The trace time of series time `t` (they differ after a stretch with no worker was
    /// cut out; see [`from_workers`](Self::from_workers)). A `t` exactly at a cut is taken
    /// as the start of what follows it; [`worst_windows`](super::worst_windows) maps window
    /// ends to the end of what precedes the cut.
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
    pub(super) fn trace_time_end(&self, t: u64) -> u64 {
        let k = self.gaps.partition_point(|g| g.0 < t);
        t + k.checked_sub(1).map_or(0, |k| self.gaps[k].1)
    }

    /// Rebuilds the bands with a given count, to exercise banding on small series.
    #[cfg(test)]
    pub(super) fn with_bands(mut self, bands: usize) -> Self {
        self.build_bands(bands);
        self
    }
}

/// Mean value of an integral (count × ns) over `duration` ns.
pub(super) fn ratio(integral: u64, duration: u64, total: u32) -> f64 {
    // duration * total fits: checked at construction (duration <= the series' duration).
    integral as f64 / (duration * u64::from(total)) as f64
}
