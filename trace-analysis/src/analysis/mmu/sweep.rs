//! The window sweep, on which the MMU search, the worst windows and the MUD all run. For a
//! window length w, F(t), the integral of u over `[t, t + w)`, is continuous and piecewise
//! linear in the window start t, with breakpoints where t or t + w crosses a step boundary.
//! [`Utilization::sweep`] visits them in order, O(1) each, with one cursor ([`Edge`]) on each
//! window edge and a running integer integral; a long range is cut into `LANES` pieces swept
//! in lockstep. [`Utilization::runs`] groups the bands a search sweeps into runs.

use super::series::Utilization;

/// Independent sweeps run in lockstep over a long range.
pub(super) const LANES: usize = 2;
/// Ranges with fewer steps than this are swept in one lane (tests use lanes almost always).
const LANE_MIN_STEPS: usize = if cfg!(test) { 2 } else { 4096 };

/// One window sweep: window start `t` (until `end`), the steps holding the window's left
/// and right edges, and F = the integral over the window.
pub(super) struct Edge {
    i: usize,
    j: usize,
    pub(super) t: u64,
    pub(super) end: u64,
    pub(super) f: u64,
}

impl Utilization {
    /// A window sweep positioned at window start `t0`, to run until `t1`.
    pub(super) fn edge(&self, w: u64, t0: u64, t1: u64) -> Edge {
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
    pub(super) fn advance(&self, e: &mut Edge, w: u64) {
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
    pub(super) fn sweep(&self, w: u64, t0: u64, t1: u64, mut visit: impl FnMut(usize, u64, u64)) {
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

    /// Runs `(first, last)` of bands among `bands` (ascending), joining runs separated by at
    /// most `gap` bands.
    pub(super) fn runs(
        &self,
        bands: impl Iterator<Item = usize>,
        gap: usize,
    ) -> Vec<(usize, usize)> {
        let mut runs: Vec<(usize, usize)> = Vec::new();
        for k in bands {
            match runs.last_mut() {
                Some(run) if k <= run.1 + 1 + gap => run.1 = k,
                _ => runs.push((k, k)),
            }
        }
        runs
    }
}
