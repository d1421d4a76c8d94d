//! Test support shared by the MMU tests (`tests`, `worst::tests`): random step functions
//! ([`Steps`]) and brute-force answers over them, the truths the fast paths are checked
//! against.

use proptest::prelude::*;

use super::series::Utilization;

/// A random step function: (start, [(duration, available)], total).
#[derive(Debug, Clone)]
pub(super) struct Steps {
    pub(super) start: u64,
    pub(super) steps: Vec<(u64, u32)>,
    pub(super) total: u32,
}

impl Steps {
    pub(super) fn end(&self) -> u64 {
        self.start + self.steps.iter().map(|s| s.0).sum::<u64>()
    }

    pub(super) fn build(&self, bands: usize) -> Utilization {
        let mut times = Vec::new();
        let mut t = self.start;
        for &(d, _) in &self.steps {
            times.push(t);
            t += d;
        }
        let avail = self.steps.iter().map(|s| s.1).collect();
        Utilization::from_steps(times, avail, self.total, t)
            .unwrap()
            .with_bands(bands)
    }

    /// Integral over [a, b), naively.
    pub(super) fn integral(&self, a: u64, b: u64) -> u64 {
        let mut t = self.start;
        let mut sum = 0;
        for &(d, c) in &self.steps {
            let (lo, hi) = (t.max(a), (t + d).min(b));
            if hi > lo {
                sum += u64::from(c) * (hi - lo);
            }
            t += d;
        }
        sum
    }

    pub(super) fn mean(&self, a: u64, b: u64) -> f64 {
        self.integral(a, b) as f64 / ((b - a) * u64::from(self.total)) as f64
    }

    /// Window starts; breakpoints are whole numbers, so these hold every extreme.
    pub(super) fn starts(&self, w: u64) -> std::ops::RangeInclusive<u64> {
        self.start..=self.end() - w
    }

    pub(super) fn brute_mmu(&self, w: u64) -> f64 {
        let d = self.end() - self.start;
        if w == 0 {
            let min = self.steps.iter().filter(|s| s.0 > 0).map(|s| s.1).min();
            return f64::from(min.unwrap()) / f64::from(self.total);
        }
        if w >= d {
            return self.mean(self.start, self.end());
        }
        self.starts(w)
            .map(|t| self.mean(t, t + w))
            .fold(f64::INFINITY, f64::min)
    }

    /// Mass of window starts with integral F <= x (in integral units), naively: F is
    /// linear on each [t, t + 1].
    pub(super) fn brute_cdf(&self, w: u64, x: f64) -> f64 {
        let mut m = 0.0;
        for t in self.start..self.end() - w {
            let (fa, fb) = (
                self.integral(t, t + w) as f64,
                self.integral(t + 1, t + 1 + w) as f64,
            );
            let (a, b) = (fa.min(fb), fa.max(fb));
            m += if a == b {
                f64::from(u8::from(a <= x))
            } else {
                ((x - a) / (b - a)).clamp(0.0, 1.0)
            };
        }
        m
    }
}

pub(super) fn steps_strategy() -> impl Strategy<Value = Steps> {
    (1u32..5, 0u64..4).prop_flat_map(|(total, start)| {
        prop::collection::vec((1u64..7, 0..=total), 1..12).prop_map(move |steps| Steps {
            start,
            steps,
            total,
        })
    })
}
