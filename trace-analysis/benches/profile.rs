//! Profile benchmark: builds the stack profile (tree of resolved frames with self and total
//! weight, what a flame graph draws) of 1 M synthetic CPU samples, and the top functions, and
//! prints how long each takes (the window's flame graph must build in ≤ 200 ms for 1 M
//! samples).
//!
//! ```text
//! cargo bench -p trace-analysis --bench profile                     # 1 M samples
//! PROFILE_BENCH_SAMPLES=10000000 PROFILE_BENCH_STACKS=100000 cargo bench -p trace-analysis --bench profile
//! ```
//!
//! Samples are spread over `PROFILE_BENCH_STACKS` distinct stacks (default 20 000) of 20 to
//! 60 frames drawn from 4 000 addresses, each resolved to one to three functions (inlined
//! frames), like a service's profile.

use std::hint::black_box;
use std::time::{Duration, Instant};

use trace_analysis::analysis::profile::Profile;
use trace_analysis::model::{Sample, SampleKind, TaskIx, ThreadIx};
use trace_format::code::CodeInfo;
use trace_format::{StackId, Symbols};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let n = env("PROFILE_BENCH_SAMPLES", 1_000_000);
    let stacks = env("PROFILE_BENCH_STACKS", 20_000) as u32;
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    const ADDRS: u64 = 4_000;
    let mut code = CodeInfo::default();
    let names: Vec<String> = (0..ADDRS)
        .map(|a| format!("app::module{}::function_{a}", a % 37))
        .collect();
    code.add_symbols(Symbols::build((0..ADDRS).map(|a| {
        let frames: Vec<_> = (0..1 + a % 3)
            .map(|i| {
                let f = names[((a + i * 977) % ADDRS) as usize].as_str();
                (f, Some("src/module.rs"), (a % 500 + i) as u32, 1)
            })
            .collect();
        (0x1000 + a * 16, frames)
    })));
    for id in 1..=stacks {
        // Stacks share their outer frames (main, the runtime), as real ones do.
        let depth = 20 + rand(41);
        let mut frames: Vec<u64> = (0..depth).map(|_| 0x1000 + rand(ADDRS) * 16).collect();
        let shared = (depth / 2) as usize;
        for (i, f) in frames.iter_mut().rev().take(shared).enumerate() {
            *f = 0x1000 + (i as u64 * 7 % ADDRS) * 16;
        }
        code.add_stack(id, frames);
    }
    let samples: Vec<Sample> = (0..n)
        .map(|i| Sample {
            time: i as u64 * 10_000,
            kind: SampleKind::Cpu,
            thread: ThreadIx((i % 8) as u32),
            task: TaskIx((i % 1000) as u32),
            // Skewed: a few stacks hold most samples.
            stack: StackId(1 + (rand(stacks as u64) * rand(stacks as u64) / stacks as u64) as u32),
            weight: 10_101_010,
            size: 0,
            poll: Sample::NO_POLL,
        })
        .collect();

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
