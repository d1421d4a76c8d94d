//! MMU benchmark: builds utilization series of a few shapes and prints how long the worst
//! windows take (what `trace-viewer mmu --worst N` computes per window size) as N grows, and,
//! for scale, one MMU value and the MUD at the same size.
//!
//! ```text
//! cargo bench -p trace-analysis --bench mmu                      # 1 M steps
//! MMU_BENCH_STEPS=10000000 cargo bench -p trace-analysis --bench mmu
//! ```
//!
//! The greedy choice of worst windows costs one sweep and a heap of the local minima of the
//! window integral (O(n log n) for n steps), then O(log n) per window listed: the "per
//! window" column falls towards a few µs as N grows (the sweep is paid once) and then grows
//! only with log N.

use std::hint::black_box;
use std::time::{Duration, Instant};

use trace_analysis::analysis::mmu::{self, Utilization};

/// A series of `n` steps over 8 workers.
fn series(scenario: &str, n: usize) -> Utilization {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let (mut times, mut avail) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let (mut t, mut prev) = (0u64, 8u32);
    for i in 0..n {
        times.push(t);
        let c = match scenario {
            // 4 to 8 workers at random, steps of 1 ns to 2 µs: no structure.
            "noise" => {
                t += 1 + rand(2_000);
                let c = 4 + rand(5) as u32;
                if c == prev {
                    if c == 8 { 7 } else { c + 1 }
                } else {
                    c
                }
            }
            // All 8 for 20–180 µs, then one or two paused for 1–20 µs; a process-wide pause
            // of 1 ms about every second.
            _ if i % 2 == 0 => {
                t += 20_000 + rand(160_000);
                8
            }
            _ if i % 20_000 == 1 => {
                t += 1_000_000;
                0
            }
            _ => {
                t += 1_000 + rand(19_000);
                6 + rand(2) as u32
            }
        };
        avail.push(c);
        prev = c;
    }
    Utilization::from_steps(times, avail, 8, t).expect("a valid series")
}

fn time<T>(f: impl FnOnce() -> T) -> (T, Duration) {
    let clock = Instant::now();
    let out = black_box(f());
    (out, clock.elapsed())
}

fn main() {
    let steps: usize = std::env::var("MMU_BENCH_STEPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);
    for scenario in ["noise", "dips"] {
        let (u, build) = time(|| series(scenario, steps));
        println!(
            "{scenario}: {} steps over {:.3} s, built in {:.3} s",
            u.step_count(),
            u.duration() as f64 / 1e9,
            build.as_secs_f64()
        );
        let (m, d) = time(|| mmu::mmu(&u, 1_000_000));
        println!(
            "  MMU(1 ms) = {m:.4}                       {:>9.3} s",
            d.as_secs_f64()
        );
        let (q, d) = time(|| mmu::mud(&u, 1_000_000, &[0.0, 0.001, 0.01, 0.05]));
        println!(
            "  MUD(1 ms) = {:.4} {:.4} {:.4} {:.4}     {:>9.3} s",
            q[0],
            q[1],
            q[2],
            q[3],
            d.as_secs_f64()
        );
        println!("  worst windows   asked        listed      time    per window");
        for (window, label) in [(1_000u64, "1 µs"), (1_000_000, "1 ms")] {
            // Up to the CLI's cap (`mmu --worst` lists at most 1 000 000 per window).
            for n in [10usize, 1_000, 100_000, 1_000_000] {
                let (w, d) = time(|| mmu::worst_windows(&u, window, n));
                println!(
                    "  {label:>5} {n:>14} {:>13} {:>9.3} s {:>9.0} ns",
                    w.len(),
                    d.as_secs_f64(),
                    d.as_nanos() as f64 / w.len().max(1) as f64
                );
                if w.len() < n {
                    // Every disjoint window is listed: asking for more changes nothing.
                    break;
                }
            }
        }
    }
}
