//! What lets a search skip most of the trace: for one window length, the finest bands of the
//! series grouped by a power of two, so that a band spans at most 1/`BAND_PER_WINDOW` of the
//! window where bands that fine exist, and per band a lower bound of the window integral for
//! every window that starts in it ([`Level`]). [`mmu`](super::mmu()) and
//! [`mud`](super::mud()) sweep only the bands whose bound is low enough.

use super::series::Utilization;

/// A window is searched with bands of at most 1/this of its length (where bands that fine
/// exist). Tests use 2 so that small series are searched with grouped bands too.
const BAND_PER_WINDOW: u64 = if cfg!(test) { 2 } else { 32 };

/// The bands one window length is searched with: the finest bands grouped by a power of two
/// so that a band spans at most 1/[`BAND_PER_WINDOW`] of the window (the bound below is then
/// within that fraction of the truth), and for each band that holds window starts, a lower
/// bound for the integral of every window starting in it.
pub(super) struct Level {
    /// Window length.
    w: u64,
    start: u64,
    end: u64,
    /// Band duration.
    pub(super) width: u64,
    /// Lower bound per band, for the bands holding window starts.
    pub(super) bounds: Vec<u64>,
}

impl Level {
    /// Requires `1 <= w < duration`.
    pub(super) fn new(u: &Utilization, w: u64) -> Self {
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
    pub(super) fn range(&self, m: usize) -> (u64, u64) {
        let lo = self.start + m as u64 * self.width;
        (lo, (lo + self.width).min(self.end - self.w))
    }
}
