//! The minimum mutator utilization: [`mmu`] for one window length, the least window integral,
//! found by sweeping the band with the least bound first and then only the bands whose bound
//! is below the best window so far, in runs; [`mmu_curve`] over many lengths, e.g.
//! [`log_spaced_windows`].

use serde::Serialize;

use super::bounds::Level;
use super::series::{Utilization, ratio};

/// [`mmu`] sweeps across up to this many bands it could skip rather than start a new sweep
/// (starting one costs about as much as sweeping a few bands).
const RUN_GAP: usize = 4;

impl Utilization {
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
