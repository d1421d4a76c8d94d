//! Unit tests of the breakdown's pieces. Whole traces with every number worked out by hand
//! (state totals per group, leak suspects, longest polls, threads, pauses, a cut recording)
//! are golden files: `tests/testdata/breakdown_*.txt`, run by `tests/golden.rs`.

use trace_format::{Trace, text};

use super::*;

#[test]
fn sampled_allocations_are_weighted_by_their_chance_of_being_sampled() {
    // Every allocation sampled (rate 1): each stands for itself.
    assert_eq!(sample_weight(512, 1), 512.0);
    // Small ones stand for about a sample rate's worth; large ones for themselves.
    let small = sample_weight(16, 524_288);
    assert!((small - 524_296.0).abs() < 1.0, "{small}");
    let large = sample_weight(64 << 20, 524_288);
    assert!((large - (64u64 << 20) as f64).abs() < 1.0, "{large}");

    // The rate the recorder wrote is used for samples after it.
    let bytes = text::undump(
        "string id=9 text=\"trace_rt.alloc.sample_rate\"\n\
         1 0 counter name=9 value=1\n\
         1 5 poll_start task=1\n\
         1 6 alloc_sample size=100 task=1\n\
         1 7 alloc_sample size=300 task=1\n\
         1 8 poll_end ready=true\n\
         end\n",
    )
    .unwrap();
    let m = Model::build(&Trace::from_bytes(bytes).unwrap()).unwrap();
    let bd = Breakdown::compute(&m, &BreakdownOptions::default());
    assert_eq!(bd.groups[0].alloc_estimated_bytes, 400);
}

#[test]
fn stats_use_nearest_rank_percentiles() {
    let mut v: Vec<u64> = (1..=100).rev().collect();
    let s = Stats::of(&mut v);
    assert_eq!((s.total, s.p50, s.p99, s.max), (5050, 50, 99, 100));
    assert_eq!(s.mean, 50.5);
    assert_eq!(
        Stats::of(&mut [7]),
        Stats {
            total: 7,
            mean: 7.0,
            p50: 7,
            p99: 7,
            max: 7
        }
    );
    assert_eq!(Stats::of(&mut []), Stats::default());
}
