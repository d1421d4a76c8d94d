//! The mutator utilization distribution: [`mud`] gives quantiles of the window mean over all
//! window starts. The distribution of the window integral is accumulated on a grid ([`Grid`])
//! from the sweeps of the bands that can hold the quantiles' mass, the most promising first,
//! and each quantile is narrowed by finer grids over the same bands down to one integral
//! unit, inside which it is solved exactly. Window 0 takes the quantiles of u itself
//! ([`Utilization::value_quantiles`]).

use std::collections::BTreeMap;

use super::bounds::Level;
use super::curve::mmu;
use super::series::Utilization;
use super::sweep::LANES;

/// Buckets per refining pass of [`mud`] (tests use 4, so that small series take several).
const MUD_GRID: u64 = if cfg!(test) { 4 } else { 4096 };

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

impl Utilization {
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
}
