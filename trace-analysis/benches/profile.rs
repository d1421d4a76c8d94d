//! Profile benchmark: builds the stack profile (tree of resolved frames with self and total
//! weight, what a flame graph draws) of 1 M synthetic CPU samples, and the top functions, and
//! prints how long each takes (the window's flame graph must build in ≤ 200 ms for 1 M
//! samples).
//!
//! ```text
//! cargo bench -p trace-analysis --features synthetic --bench profile      # 1 M samples
//! PROFILE_BENCH_SAMPLES=10000000 PROFILE_BENCH_STACKS=100000 cargo bench -p trace-analysis --features synthetic --bench profile
//! ```
//!
//! Samples are spread over `PROFILE_BENCH_STACKS` distinct stacks (default 20 000), generated
//! by `trace_analysis::synthetic::cpu_profile` (the viewer's bench uses the same).

use std::hint::black_box;
use std::time::{Duration, Instant};

use trace_analysis::analysis::profile::Profile;
use trace_analysis::model::SampleKind;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = env("PROFILE_BENCH_SAMPLES", 1_000_000);
    let stacks = env("PROFILE_BENCH_STACKS", 20_000) as u32;
    let (code, samples) = trace_analysis::synthetic::cpu_profile(n, stacks);

    let mut build = Vec::new();
    let mut top = Vec::new();
    let mut nodes = 0;
    for _ in 0..5 {
        let t = Instant::now();
        let p = Profile::from_samples(&code, Some(SampleKind::Cpu), &samples);
        build.push(t.elapsed());
        nodes = p.nodes.len();
        let t = Instant::now();
        black_box(p.top_functions());
        top.push(t.elapsed());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    println!(
        "profile of {n} samples over {stacks} stacks ({nodes} tree nodes): build {:.1} ms, \
         top functions {:.1} ms (median of 5; budget: build <= 200 ms for 1 M)",
        median(&mut build).as_secs_f64() * 1e3,
        median(&mut top).as_secs_f64() * 1e3
    );
}
