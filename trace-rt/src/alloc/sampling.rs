//! Which allocations are sampled: each thread counts down a distance in bytes drawn from an
//! exponential distribution, so that every allocation is sampled independently with a
//! known probability (the estimator and its error are in the `alloc` module's docs).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::clock;

/// Bytes until the next sample: `ceil(Exp(rate))`, so that an allocation of `s` bytes
/// exhausts it with probability `1 − e^(−s/rate)`. 0 samples every allocation (rate 1);
/// `u64::MAX` none (rate 0).
pub(super) fn draw_distance(rng: &Cell<u64>, rate: u64) -> u64 {
    match rate {
        0 => u64::MAX,
        1 => 0,
        r => {
            // Uniform in (0, 1): 53 random bits, centred in their interval.
            let u = ((next_random(rng) >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
            let d = (-u.ln() * r as f64).ceil();
            // `as` saturates; a distance is at least one byte.
            (d as u64).max(1)
        }
    }
}

/// xorshift64* (Vigna), seeded per thread on first use.
fn next_random(rng: &Cell<u64>) -> u64 {
    let mut x = rng.get();
    if x == 0 {
        x = seed(rng as *const Cell<u64> as u64);
    }
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    rng.set(x);
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

fn seed(salt: u64) -> u64 {
    static SEQ: AtomicU64 = AtomicU64::new(0x853C_49E6_748F_EA9B);
    let n = SEQ.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
    let mut z = n ^ salt.rotate_left(32) ^ clock::now();
    // splitmix64 finaliser.
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) | 1
}

#[cfg(test)]
mod tests {
    use trace_format::sampling::{sample_probability, sample_weight};

    use super::*;

    /// The sampler as the allocator runs it: returns the estimate of the bytes in `sizes`.
    fn estimate(rng: &Cell<u64>, rate: u64, sizes: impl Iterator<Item = u64>) -> f64 {
        let mut until = draw_distance(rng, rate);
        let mut est = 0.0;
        for s in sizes {
            if s >= until {
                est += sample_weight(s, rate);
                until = draw_distance(rng, rate);
            } else {
                until -= s;
            }
        }
        est
    }

    #[test]
    fn estimator_is_unbiased_with_the_documented_error() {
        let rng = Cell::new(12345);
        // 64 MiB in 1 KiB blocks at 512 KiB per sample, 400 times.
        let truth = (64u64 << 20) as f64;
        let runs: Vec<f64> = (0..400)
            .map(|_| estimate(&rng, 512 * 1024, std::iter::repeat_n(1024, 65536)))
            .collect();
        let mean = runs.iter().sum::<f64>() / runs.len() as f64;
        let sd = (runs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / runs.len() as f64).sqrt();
        let p = sample_probability(1024, 512 * 1024);
        let predicted = (65536.0 * 1024f64.powi(2) * (1.0 - p) / p).sqrt();
        // The documented approximation: √(rate / bytes) relative.
        assert!((predicted / truth - (512.0 * 1024.0 / truth).sqrt()).abs() < 0.001);
        // Mean within 4 standard errors of the mean; spread within 15 % of the prediction.
        let se_mean = predicted / (runs.len() as f64).sqrt();
        assert!(
            (mean - truth).abs() < 4.0 * se_mean,
            "mean {mean} truth {truth}"
        );
        assert!(
            (sd / predicted - 1.0).abs() < 0.15,
            "sd {sd} predicted {predicted}"
        );
    }

    #[test]
    fn mixed_sizes_are_unbiased() {
        let rng = Cell::new(99);
        let sizes: Vec<u64> = (0..20_000u64)
            .map(|i| [16, 200, 5000, 900_000][(i % 4) as usize])
            .collect();
        let truth: f64 = sizes.iter().map(|&s| s as f64).sum();
        let runs = 200;
        let mean = (0..runs)
            .map(|_| estimate(&rng, 512 * 1024, sizes.iter().copied()))
            .sum::<f64>()
            / runs as f64;
        assert!(
            (mean / truth - 1.0).abs() < 0.01,
            "mean {mean} truth {truth}"
        );
    }

    #[test]
    fn rate_one_samples_everything_and_zero_nothing() {
        let rng = Cell::new(7);
        assert_eq!(draw_distance(&rng, 1), 0);
        assert_eq!(draw_distance(&rng, 0), u64::MAX);
        assert_eq!(estimate(&rng, 1, [1, 2, 3].into_iter()), 6.0);
        assert_eq!(estimate(&rng, 0, [1, 2, 3].into_iter()), 0.0);
        for _ in 0..1000 {
            assert!(draw_distance(&rng, 512) >= 1);
        }
    }
}
