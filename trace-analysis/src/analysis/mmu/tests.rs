//! Tests of the MMU module: hand-checked series, each constructor, and property tests of
//! [`mmu`], [`worst_windows`] and [`mud`] against brute force over random step functions.

use proptest::prelude::*;

use super::bounds::Level;
use super::testing::steps_strategy;
use super::*;

const S: u64 = 1_000_000_000;

fn reference() -> Utilization {
    Utilization::from_steps(
        vec![0, S, 2 * S, 3 * S, 4 * S],
        vec![1, 0, 1, 0, 1],
        1,
        5 * S,
    )
    .unwrap()
}

#[test]
fn reference_series_matches_design_values() {
    let u = reference();
    assert_eq!(mmu(&u, 1_000_000), 0.0);
    assert_eq!(mmu(&u, S), 0.0);
    assert_eq!(mmu(&u, 2 * S), 0.5);
    assert_eq!(mmu(&u, 3 * S), 1.0 / 3.0);
    assert_eq!(mmu(&u, 4 * S), 0.5);
    assert_eq!(mmu(&u, 5 * S), 0.6);
    assert_eq!(mmu(&u, 6 * S), 0.6);
    assert_eq!(mmu(&u, u64::MAX), 0.6);
    assert_eq!(u.mean(), 0.6);
    // With every band count the answers are the same.
    for bands in 1..=12 {
        let u = reference().with_bands(bands);
        let got: Vec<f64> = [1, S, 2 * S, 3 * S, 4 * S, 5 * S]
            .iter()
            .map(|&w| mmu(&u, w))
            .collect();
        assert_eq!(got, [0.0, 0.0, 0.5, 1.0 / 3.0, 0.5, 0.6], "{bands} bands");
    }
}

#[test]
fn window_zero_is_least_step_value() {
    let u = Utilization::from_steps(vec![0, 10, 10, 20], vec![4, 0, 3, 2], 4, 30).unwrap();
    // The zero-length step of 0 does not count.
    assert_eq!(mmu(&u, 0), 0.5);
    assert_eq!(u.times(), &[0, 10, 20]);
    assert_eq!(u.available(), &[4, 3, 2]);
}

#[test]
fn from_steps_merges_and_validates() {
    let u = Utilization::from_steps(vec![5, 6, 8, 8, 9], vec![1, 1, 0, 2, 2], 2, 12).unwrap();
    assert_eq!(u.times(), &[5, 8]);
    assert_eq!(u.available(), &[1, 2]);
    assert_eq!((u.start(), u.end(), u.duration()), (5, 12, 7));
    assert_eq!(u.steps().collect::<Vec<_>>(), vec![(5, 0.5), (8, 1.0)]);
    assert_eq!(u.mean_over(0, 100), Some(u.mean()));
    assert_eq!(u.mean_over(6, 10), Some((0.5 * 2.0 + 2.0) / 4.0));
    assert_eq!(u.mean_over(20, 30), None);

    use UtilizationError as E;
    let err = |t: Vec<u64>, a: Vec<u32>, total, end| {
        Utilization::from_steps(t, a, total, end).unwrap_err()
    };
    assert_eq!(err(vec![], vec![], 1, 5), E::NoSteps);
    assert_eq!(
        err(vec![0], vec![], 1, 5),
        E::LengthMismatch {
            times: 1,
            values: 0
        }
    );
    assert_eq!(
        err(vec![5], vec![1], 1, 5),
        E::EmptyRange { start: 5, end: 5 }
    );
    assert_eq!(err(vec![0], vec![0], 0, 5), E::NoWorkers);
    assert_eq!(
        err(vec![0, 3, 2], vec![0, 1, 0], 1, 5),
        E::Unsorted { index: 2 }
    );
    assert_eq!(err(vec![0, 6], vec![0, 1], 1, 5), E::Unsorted { index: 1 });
    assert_eq!(
        err(vec![0, 1], vec![0, 3], 2, 5),
        E::ValueOutOfRange {
            index: 1,
            value: 3,
            total: 2
        }
    );
    assert_eq!(err(vec![0], vec![1], 2, u64::MAX), E::TooLarge);
    assert!(E::TooLarge.to_string().contains("too large"));
}

#[test]
fn from_intervals_overlapping_thread_and_process_pauses() {
    // Three workers over [0, 100).
    // Worker 0: [10, 30) and [20, 40) overlap: unavailable [10, 40).
    // Worker 1: [35, 50) and [50, 55) touch: unavailable [35, 55).
    // Worker 2: [38, 39).
    // Process pauses [45, 60) and [50, 65) overlap: 0 on [45, 65).
    let u = Utilization::from_intervals(
        0,
        100,
        3,
        &[(50, 65), (45, 60)],
        &[
            vec![(20, 40), (10, 30)],
            vec![(50, 55), (35, 50)],
            vec![(38, 39)],
        ],
    )
    .unwrap();
    assert_eq!(u.times(), &[0, 10, 35, 38, 39, 40, 45, 65]);
    assert_eq!(u.available(), &[3, 2, 1, 0, 1, 2, 0, 3]);
    assert_eq!(u.total(), 3);
    assert_eq!(mmu(&u, 20), 0.0);
    assert_eq!(mmu(&u, 0), 0.0);
}

#[test]
fn from_intervals_clamps_and_ignores_empty() {
    let u = Utilization::from_intervals(
        100,
        200,
        2,
        &[(0, 110), (190, 500), (150, 150)],
        &[vec![(50, 120), (180, 170)], vec![(195, 300), (300, 400)]],
    )
    .unwrap();
    // Paused [100, 110) and [190, 200); worker 0 down [100, 120).
    assert_eq!(u.times(), &[100, 110, 120, 190]);
    assert_eq!(u.available(), &[0, 1, 2, 0]);
    assert_eq!(u.end(), 200);
    // No pauses at all: one step of 1.
    let u = Utilization::from_intervals(0, 10, 4, &[], &[]).unwrap();
    assert_eq!((u.times(), u.available()), (&[0][..], &[4][..]));
    assert_eq!(mmu(&u, 3), 1.0);
    // A pause covering everything.
    let u = Utilization::from_intervals(0, 10, 1, &[(0, 10)], &[]).unwrap();
    assert_eq!(u.available(), &[0]);
    assert_eq!(u.mean(), 0.0);

    use UtilizationError as E;
    assert_eq!(
        Utilization::from_intervals(5, 5, 1, &[], &[]).unwrap_err(),
        E::EmptyRange { start: 5, end: 5 }
    );
    assert_eq!(
        Utilization::from_intervals(0, 5, 0, &[], &[]).unwrap_err(),
        E::NoWorkers
    );
    assert_eq!(
        Utilization::from_intervals(0, 5, 1, &[], &[vec![], vec![]]).unwrap_err(),
        E::TooManySeries {
            series: 2,
            workers: 1
        }
    );
}

#[test]
fn per_worker_gives_one_series_each() {
    let series = per_worker(0, 100, &[(90, 100)], &[vec![(10, 20)], vec![]]).unwrap();
    assert_eq!(series.len(), 2);
    assert_eq!(series[0].times(), &[0, 10, 20, 90]);
    assert_eq!(series[0].available(), &[1, 0, 1, 0]);
    assert_eq!(series[1].times(), &[0, 90]);
    assert_eq!(series[1].available(), &[1, 0]);
    assert_eq!(mmu(&series[0], 50), 40.0 / 50.0);
    assert_eq!(mmu(&series[1], 50), 40.0 / 50.0);
    assert_eq!(mmu(&series[0], 10), 0.0);
    assert_eq!(mmu(&series[0], 20), 0.5);
    assert_eq!(mmu(&series[1], 20), 0.5);
    assert_eq!(mmu(&series[1], 5), 0.0);
}

fn worker(exists: &[(u64, u64)], unavailable: &[(u64, u64)]) -> WorkerIntervals {
    WorkerIntervals {
        exists: exists.to_vec(),
        unavailable: unavailable.to_vec(),
    }
}

#[test]
fn from_workers_counts_only_existing_workers_exactly() {
    // A runtime of 4 workers shutting down one at a time from 60 on; worker 0 paused in
    // [10, 20) and, once it is the last one, in [95, 98); a process pause in [30, 35).
    let workers = [
        worker(&[(0, 100)], &[(10, 20), (95, 98)]),
        worker(&[(0, 90)], &[(92, 99)]),
        worker(&[(0, 80)], &[]),
        worker(&[(0, 60)], &[]),
    ];
    let u = Utilization::from_workers(0, 150, &[(30, 35)], &workers).unwrap();
    // Denominator lcm(4, 3, 2, 1) = 12: 3/4, 1, 0, 1 (4 then 3 then 2 workers), 1, 0, 1.
    assert_eq!(u.total(), 12);
    assert_eq!(u.times(), &[0, 10, 20, 30, 35, 95, 98]);
    assert_eq!(u.available(), &[12, 9, 12, 0, 12, 0, 12]);
    assert_eq!(u.end(), 100, "nothing after the last worker stops");
    assert_eq!(mmu(&u, 1), 0.0);
    assert_eq!(mmu(&u, 10), 0.5);
    assert_eq!(mmu(&u, 50), 42.5 / 50.0);
    // Unavailability outside a worker's life does not count: worker 1's [92, 99).
    assert_eq!(u.mean(), (100.0 - 2.5 - 5.0 - 3.0) / 100.0);
    // With no worker at all there is nothing to measure.
    assert_eq!(
        Utilization::from_workers(0, 10, &[], &[worker(&[(20, 30)], &[])]).unwrap_err(),
        UtilizationError::NoWorkerTime
    );
    assert_eq!(
        Utilization::from_workers(0, 10, &[], &[]).unwrap_err(),
        UtilizationError::NoWorkers
    );
}

#[test]
fn from_workers_cuts_out_time_without_workers() {
    // One worker in [10, 20) and [50, 60), paused in [55, 60); a second in [58, 70).
    let workers = [
        worker(&[(50, 60), (10, 20)], &[(55, 60)]),
        worker(&[(58, 70)], &[]),
    ];
    let u = Utilization::from_workers(0, 100, &[], &workers).unwrap();
    // Series: [10, 20) 1; cut [20, 50); [20, 25) 1, [25, 28) 0, [28, 30) 1/2, [30, 40) 1.
    assert_eq!(u.times(), &[10, 25, 28, 30]);
    assert_eq!(u.available(), &[2, 0, 1, 2]);
    assert_eq!((u.start(), u.end(), u.total()), (10, 40, 2));
    assert_eq!(
        [10, 19, 20, 25, 39, 40].map(|t| u.trace_time(t)),
        [10, 19, 50, 55, 69, 70]
    );
    let worst = worst_windows(&u, 4, 2);
    assert_eq!((worst[0].start, worst[0].end), (55, 59));
    // A window across the cut ends later in trace time.
    assert_eq!(
        worst_windows(&u, 12, 1)[0],
        Window {
            start: 18,
            end: 60,
            utilization: 16.0 / 24.0
        }
    );
    // The whole series.
    let all = worst_windows(&u, 1_000, 1)[0];
    assert_eq!((all.start, all.end), (10, 70));
}

#[test]
fn from_workers_rounds_when_the_common_multiple_is_too_large() {
    // 40 workers stopping one at a time: lcm(1..=40) does not fit in 32 bits.
    let workers: Vec<WorkerIntervals> = (0..40u64)
        .map(|i| {
            worker(
                &[(0, 1_000 + 10 * i)],
                if i == 0 { &[(500, 600)] } else { &[] },
            )
        })
        .collect();
    let u = Utilization::from_workers(0, 10_000, &[], &workers).unwrap();
    assert!(u.total() >= 1 << 20, "{}", u.total());
    assert!(
        (mmu(&u, 100) - 39.0 / 40.0).abs() < 1e-6,
        "{}",
        mmu(&u, 100)
    );
    assert!((mmu(&u, 1) - 39.0 / 40.0).abs() < 1e-6);
    assert!((mmu(&u, 1_000) - (1.0 - 100.0 / 40.0 / 1_000.0)).abs() < 1e-6);
    assert_eq!(u.end(), 1_390);
}

#[test]
fn log_spaced_windows_are_ascending_and_distinct() {
    let w = log_spaced_windows(1_000, 10_000_000_000, 100);
    assert_eq!(w.len(), 100);
    assert_eq!((w[0], w[99]), (1_000, 10_000_000_000));
    assert!(w.windows(2).all(|p| p[0] < p[1]));
    // Ratio between neighbours is constant (10^7 over 99 steps).
    let r = 10f64.powf(7.0 / 99.0);
    assert!(((w[50] as f64 / w[49] as f64) - r).abs() < 1e-3);
    // Few distinct values: deduplicated.
    assert_eq!(log_spaced_windows(1, 4, 100), vec![1, 2, 3, 4]);
    assert_eq!(log_spaced_windows(0, 0, 3), vec![1]);
    assert_eq!(log_spaced_windows(5, 9, 1), vec![5]);
    assert_eq!(log_spaced_windows(5, 9, 0), Vec::<u64>::new());
    assert_eq!(log_spaced_windows(9, 5, 2), vec![9]);
}

#[test]
fn worst_windows_on_reference_series() {
    let u = reference();
    let got: Vec<(u64, u64, f64)> = worst_windows(&u, S, 10)
        .iter()
        .map(|w| (w.start / S, w.end / S, w.utilization))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, 2, 0.0),
            (3, 4, 0.0),
            (0, 1, 1.0),
            (2, 3, 1.0),
            (4, 5, 1.0)
        ]
    );
    let three = worst_windows(&u, 3 * S, 10);
    assert_eq!(three.len(), 1);
    assert_eq!((three[0].start, three[0].utilization), (S, 1.0 / 3.0));
    assert_eq!(
        worst_windows(&u, 9 * S, 3),
        vec![Window {
            start: 0,
            end: 5 * S,
            utilization: 0.6
        }]
    );
    assert!(worst_windows(&u, 0, 3).is_empty());
    assert!(worst_windows(&u, S, 0).is_empty());
}

#[test]
fn mud_of_reference_series_is_uniform() {
    // 1 s windows over 1,0,1,0,1: the window mean sweeps evenly over [0, 1] four times.
    let u = reference();
    let qs = [0.0, 0.001, 0.01, 0.05, 0.25, 0.5, 0.9, 1.0];
    for bands in [1, 3, 7] {
        let got = mud(&u.clone().with_bands(bands), S, &qs);
        for (g, q) in got.iter().zip(qs) {
            assert!((g - q).abs() < 1e-9, "{bands} bands: q {q} gave {g}");
        }
    }
}

#[test]
fn mud_with_point_mass_and_special_windows() {
    // 1 for 9 s, then 0 for 1 s; 1 s windows: 8/9 of the starts have mean 1 (a point
    // mass), 1/9 spread evenly over [0, 1).
    let u = Utilization::from_steps(vec![0, 9 * S], vec![1, 0], 1, 10 * S).unwrap();
    let got = mud(
        &u,
        S,
        &[0.0, 0.01, 0.1, 1.0 / 9.0, 0.2, 1.0, f64::NAN, -1.0, 2.0],
    );
    let want = [0.0, 0.09, 0.9, 1.0, 1.0, 1.0, 0.0, 0.0, 1.0];
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-9, "{got:?}");
    }
    // Window 0: quantiles of u(t) itself (90% at 1, 10% at 0).
    assert_eq!(
        mud(&u, 0, &[0.0, 0.05, 0.1, 0.11, 1.0]),
        [0.0, 0.0, 0.0, 1.0, 1.0]
    );
    // Window at least the duration: the mean.
    assert_eq!(mud(&u, 10 * S, &[0.0, 0.5]), [0.9, 0.9]);
    assert!(mud(&u, S, &[]).is_empty());
}

#[test]
fn mmu_curve_is_mmu_per_window() {
    let u = reference();
    let windows = log_spaced_windows(1, 6 * S, 50);
    let curve = mmu_curve(&u, &windows);
    assert_eq!(curve.len(), windows.len());
    for p in &curve {
        assert_eq!(p.mmu, mmu(&u, p.window));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn mmu_matches_brute_force(s in steps_strategy(), w in 0u64..80, bands in 1usize..12) {
        let u = s.build(bands);
        let got = mmu(&u, w);
        let want = s.brute_mmu(w);
        prop_assert!((got - want).abs() < 1e-9, "mmu({w}) = {got}, brute force {want}");
    }

    #[test]
    fn band_bounds_are_lower_bounds(s in steps_strategy(), w in 1u64..1000) {
        let d = s.end() - s.start;
        // Windows shorter than the series.
        prop_assume!(d >= 2);
        let w = 1 + w % (d - 1);
        for bands in 1..=d as usize {
            let u = s.build(bands);
            let level = Level::new(&u, w);
            prop_assert_eq!(level.range(level.bounds.len() - 1).1, s.end() - w);
            for (m, &bound) in level.bounds.iter().enumerate() {
                let (lo, hi) = level.range(m);
                prop_assert!(lo <= hi);
                let least = (lo..=hi).map(|t| s.integral(t, t + w)).min().unwrap();
                prop_assert!(
                    bound <= least,
                    "{bands} bands, band {m} [{lo}, {hi}]: bound {bound} > {least}"
                );
            }
        }
    }

    #[test]
    fn worst_windows_are_greedy_disjoint_and_exact(
        s in steps_strategy(), w in 1u64..40, n in 1usize..6, bands in 1usize..12,
    ) {
        let u = s.build(bands);
        let got = worst_windows(&u, w, n);
        let d = s.end() - s.start;
        if w >= d {
            prop_assert_eq!(got.len(), 1);
            prop_assert_eq!((got[0].start, got[0].end), (s.start, s.end()));
            return Ok(());
        }
        prop_assert!(!got.is_empty() && got.len() <= n);
        prop_assert_eq!(got[0].utilization, mmu(&u, w));
        prop_assert!((got[0].utilization - s.brute_mmu(w)).abs() < 1e-12);
        for (i, win) in got.iter().enumerate() {
            prop_assert_eq!(win.end, win.start + w);
            prop_assert!(win.start >= s.start && win.end <= s.end());
            // The stated utilization is the true mean.
            prop_assert_eq!(win.utilization, s.mean(win.start, win.end));
            // Disjoint from the earlier ones, and no better.
            for prev in &got[..i] {
                prop_assert!(win.start >= prev.end || win.end <= prev.start);
                prop_assert!(prev.utilization <= win.utilization);
            }
            // Greedy: the best window disjoint from the earlier ones.
            let free = |t: u64, upto: usize| got[..upto].iter().all(|p| t + w <= p.start || t >= p.end);
            let best = s.starts(w).filter(|&t| free(t, i)).map(|t| s.mean(t, t + w))
                .fold(f64::INFINITY, f64::min);
            prop_assert!((win.utilization - best).abs() < 1e-12, "window {i}: {} vs {best}", win.utilization);
        }
        if got.len() < n {
            let k = got.len();
            let free = |t: u64| got.iter().all(|p| t + w <= p.start || t >= p.end);
            prop_assert!(s.starts(w).all(|t| !free(t)), "stopped early with {k} windows");
        }
    }

    #[test]
    fn mud_matches_brute_force_distribution(
        s in steps_strategy(), w in 1u64..1000, q in 0.0f64..1.0, bands in 1usize..12,
    ) {
        let u = s.build(bands);
        let d = s.end() - s.start;
        // Windows shorter than the series.
        prop_assume!(d >= 2);
        let w = 1 + w % (d - 1);
        // Low quantiles only (as in use), so that the search stops before the last band.
        let q = q * q * 0.2;
        let qs = [0.0, 0.001, 0.01, q];
        let got = mud(&u, w, &qs);
        prop_assert_eq!(got[0], mmu(&u, w));
        // Monotone in q.
        let mut by_q: Vec<(f64, f64)> = qs.iter().copied().zip(got.iter().copied()).collect();
        by_q.sort_by(|a, b| a.0.total_cmp(&b.0));
        prop_assert!(by_q.windows(2).all(|p| p[0].1 <= p[1].1), "{by_q:?}");
        let mass = (d - w) as f64;
        let scale = (w * u64::from(s.total)) as f64;
        for (&v, &q) in got.iter().zip(&qs) {
            prop_assert!((0.0..=1.0).contains(&v));
            // v is the quantile: below it less than q of the mass, at or above it at least q.
            let x = v * scale;
            let delta = 1e-6;
            let tol = 1e-9 * mass;
            prop_assert!(s.brute_cdf(w, x - delta) <= q * mass + tol,
                "q {q}: {v}: cdf below {} > {}", s.brute_cdf(w, x - delta), q * mass);
            prop_assert!(s.brute_cdf(w, x + delta) >= q * mass - tol,
                "q {q}: {v}: cdf above {} < {}", s.brute_cdf(w, x + delta), q * mass);
        }
    }
}

/// Timing for the module documentation; run with
/// `cargo test -p trace-analysis --release --lib mmu::tests::timing -- --ignored --nocapture`.
#[test]
#[ignore = "timing, run by hand"]
fn timing_10m_steps() {
    use std::time::Instant;
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    let n = 10_000_000usize;
    for scenario in ["noise", "dips"] {
        let (mut times, mut avail) = (Vec::with_capacity(n), Vec::with_capacity(n));
        let (mut t, mut prev) = (0u64, 8u32);
        for i in 0..n {
            times.push(t);
            let c = if scenario == "noise" {
                // 4 to 8 of 8 workers, steps of 1 ns to 2 µs: no structure to prune.
                t += 1 + rand(2_000);
                let c = 4 + rand(5) as u32;
                if c == prev {
                    if c == 8 { 7 } else { c + 1 }
                } else {
                    c
                }
            } else if i % 2 == 0 {
                // All 8 workers for 20 to 180 µs, then one or two paused for 1 to 20 µs;
                // a process-wide pause of 1 ms every 10 000 dips (about 1 s).
                t += 20_000 + rand(160_000);
                8
            } else if i % 20_000 == 1 {
                t += 1_000_000;
                0
            } else {
                t += 1_000 + rand(19_000);
                6 + rand(2) as u32
            };
            avail.push(c);
            prev = c;
        }
        let clock = Instant::now();
        let u = Utilization::from_steps(times, avail, 8, t).unwrap();
        let build = clock.elapsed();
        let windows = log_spaced_windows(1_000, u.duration(), 100);
        let clock = Instant::now();
        let curve = mmu_curve(&u, &windows);
        let curve_time = clock.elapsed();
        let clock = Instant::now();
        let worst = worst_windows(&u, 1_000_000, 10);
        let worst_time = clock.elapsed();
        let clock = Instant::now();
        let q = mud(&u, 1_000_000, &[0.0, 0.001, 0.01, 0.05]);
        let mud_time = clock.elapsed();
        println!(
            "{scenario}: {} steps over {} ms: build {build:?}, curve of {} windows \
             {curve_time:?}, worst 10 of 1 ms {worst_time:?}, mud of 1 ms {mud_time:?}",
            u.step_count(),
            u.duration() / 1_000_000,
            windows.len(),
        );
        let at = |w: u64| curve.iter().find(|p| p.window >= w).unwrap().mmu;
        println!(
            "  mmu 10 µs {} 1 ms {} 100 ms {} all {}; worst {:?}; mud {q:?}",
            at(10_000),
            at(1_000_000),
            at(100_000_000),
            curve.last().unwrap().mmu,
            worst[0]
        );
    }
}
