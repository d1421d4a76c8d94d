//! What one stack sample costs, measured side by side in one run (Linux).
//!
//! Run: `cargo bench -p trace-rt-benches --bench sampling` (about a minute).
//!
//! 1. **One CPU sample** (the interrupt, the signal handler, a walk of 32 frames and the
//!    intern): a thread does a fixed amount of arithmetic 32 calls deep, recording, once
//!    with CPU sampling off and once at 10 000 Hz (perf events, then the timer-signal
//!    fallback), the modes interleaved in each repetition. The thread's CPU time
//!    (`CLOCK_THREAD_CPUTIME_ID`, which counts the interrupt and the handler) grows by
//!    the samples' cost: (CPU with − CPU without) / samples taken, per repetition.
//! 2. **One allocation sample with its stack**: `alloc` + `free` of 64 bytes through this
//!    binary's `TracingAllocator`, 32 calls deep, recording, with no sampling, with every
//!    allocation sampled without stacks (`AllocSample`) and with stacks (`AllocSampleAt`):
//!    the differences are a sample's cost and its stack's.
//!
//! Figures are medians of the per-repetition figures, with the middle half in brackets.
//! The budgets: a CPU sample ≤ 3 µs, an allocation sample with its stack ≤ 2 µs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::time::{Duration, Instant};

use trace_format::Trace;
use trace_rt::{MemorySink, TracingAllocator};
use trace_rt_benches::quartiles;

#[global_allocator]
static GLOBAL: TracingAllocator<System> = TracingAllocator::new(System);

/// Frames between the measured code and the thread's entry, as the budgets say.
const DEPTH: u32 = 32;
const CPU_SAMPLE_BUDGET_NS: f64 = 3000.0;
const ALLOC_SAMPLE_BUDGET_NS: f64 = 2000.0;

/// Runs `f` `depth` non-inlined calls deeper than the caller.
#[inline(never)]
fn deep<R>(depth: u32, f: &mut dyn FnMut() -> R) -> R {
    if depth == 0 {
        return f();
    }
    let r = deep(black_box(depth - 1), f);
    black_box(&r);
    r
}

/// This thread's CPU time (Linux).
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// A fixed amount of arithmetic (no memory traffic, no system calls).
#[inline(never)]
fn work(iters: u64) -> u64 {
    let mut x = 1u64;
    for _ in 0..iters {
        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
    }
    x
}

#[derive(Clone, Copy, PartialEq)]
enum CpuMode {
    Off,
    PerfEvent,
    Timer,
}

/// Records while a new thread does `iters` of work `DEPTH` deep; returns its CPU time and
/// the CPU samples the recording took.
fn cpu_run(mode: CpuMode, iters: u64) -> (Duration, u64) {
    let sink = MemorySink::new();
    let session = trace_rt::Config::default()
        .stall_threshold(Duration::ZERO)
        .cpu_sample_hz(if mode == CpuMode::Off { 0 } else { 10_000 })
        .force_timer_sampling(mode == CpuMode::Timer)
        .buffer_size(64 << 20)
        .start_with_sink(sink.clone())
        .expect("start");
    let cpu = std::thread::spawn(move || {
        // One event attaches the thread (and starts its sampler).
        trace_rt::counter("bench", 0);
        let t0 = thread_cpu();
        let x = deep(DEPTH, &mut || {
            // Write the pending samples now and then (at most 64 wait per thread).
            let mut x = 0;
            for i in 0..iters / 100_000 {
                x ^= work(100_000);
                if i % 16 == 0 {
                    trace_rt::counter("bench", i as i64);
                }
            }
            x
        });
        black_box(x);
        thread_cpu() - t0
    })
    .join()
    .expect("bench thread");
    session.stop().expect("stop");
    let trace = Trace::from_bytes(sink.bytes()).expect("read back");
    let samples = trace.code().sampling().map_or(0, |s| s.cpu_samples);
    (cpu, samples)
}

#[derive(Clone, Copy, PartialEq)]
enum AllocMode {
    NoSampling,
    Sampled,
    SampledWithStacks,
}

/// ns per 64-byte alloc + free pair, `DEPTH` deep, recording in `mode`.
fn alloc_run(mode: AllocMode, pairs: u64) -> f64 {
    GLOBAL.set_sample_rate(if mode == AllocMode::NoSampling { 0 } else { 1 });
    let session = trace_rt::Config::default()
        .stacks(mode == AllocMode::SampledWithStacks)
        .buffer_size(256 << 20)
        .start_with_sink(MemorySink::new())
        .expect("start");
    let layout = Layout::from_size_align(64, 8).unwrap();
    let ns = deep(DEPTH, &mut || {
        let start = Instant::now();
        for _ in 0..pairs {
            // SAFETY: a non-zero size; freed with the layout it was allocated with.
            unsafe {
                let p = black_box(GLOBAL.alloc(layout));
                assert!(!p.is_null());
                GLOBAL.dealloc(p, layout);
            }
        }
        start.elapsed().as_nanos() as f64 / pairs as f64
    });
    let summary = session.stop().expect("stop");
    assert_eq!(summary.lost_events, 0, "{summary}");
    GLOBAL.set_sample_rate(trace_rt::alloc::DEFAULT_SAMPLE_RATE);
    ns
}

fn fmt_q((lo, mid, hi): (f64, f64, f64)) -> String {
    format!("{mid:8.0} ns  [{lo:.0} … {hi:.0}]")
}

fn verdict((lo, _, hi): (f64, f64, f64), budget: f64) -> &'static str {
    if hi <= budget {
        "met"
    } else if lo > budget {
        "MISSED"
    } else {
        "INCONCLUSIVE (the middle half straddles the budget)"
    }
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: a smoke run then.
    let full = std::env::args().any(|a| a == "--bench");
    let (reps, iters, pairs) = if full {
        (9, 400_000_000, 200_000)
    } else {
        (1, 2_000_000, 2_000)
    };

    println!("== one CPU sample: 32 frames deep, 10 000 Hz, {reps} repetitions ==");
    let (mut perf, mut timer) = (Vec::new(), Vec::new());
    let mut methods_ok = true;
    for rep in 0..reps {
        let mut order = [CpuMode::Off, CpuMode::PerfEvent, CpuMode::Timer];
        order.rotate_left(rep % 3);
        let mut cpu = [(Duration::ZERO, 0u64); 3];
        for m in order {
            cpu[m as usize] = cpu_run(m, iters);
        }
        let off = cpu[CpuMode::Off as usize].0.as_nanos() as f64;
        for (m, out) in [
            (CpuMode::PerfEvent, &mut perf),
            (CpuMode::Timer, &mut timer),
        ] {
            let (t, n) = cpu[m as usize];
            if n == 0 {
                methods_ok = false;
                continue;
            }
            out.push((t.as_nanos() as f64 - off) / n as f64);
        }
        println!(
            "  rep {rep}: off {:.1} ms; perf {:.1} ms / {} samples; timer {:.1} ms / {} samples",
            off / 1e6,
            cpu[1].0.as_secs_f64() * 1e3,
            cpu[1].1,
            cpu[2].0.as_secs_f64() * 1e3,
            cpu[2].1
        );
    }
    if !methods_ok {
        println!("  (a method took no samples here: perf events refused, or not Linux)");
    }
    for (name, xs) in [("perf events", &mut perf), ("timer signal", &mut timer)] {
        if xs.is_empty() {
            continue;
        }
        let q = quartiles(xs);
        println!(
            "{name:<14} {} per sample   budget ≤ {CPU_SAMPLE_BUDGET_NS:.0} ns: {}",
            fmt_q(q),
            verdict(q, CPU_SAMPLE_BUDGET_NS)
        );
    }

    println!();
    println!(
        "== one allocation sample: 64-byte alloc+free pairs, 32 frames deep, {reps} repetitions of {pairs} =="
    );
    let modes = [
        AllocMode::NoSampling,
        AllocMode::Sampled,
        AllocMode::SampledWithStacks,
    ];
    let mut ns: Vec<Vec<f64>> = vec![Vec::new(); 3];
    for rep in 0..reps {
        let mut order = modes;
        order.rotate_left(rep % 3);
        for m in order {
            ns[m as usize].push(alloc_run(m, pairs));
        }
    }
    let diff =
        |a: usize, b: usize| -> Vec<f64> { ns[a].iter().zip(&ns[b]).map(|(x, y)| x - y).collect() };
    let (mut sample, mut with_stack, mut stack) = (diff(1, 0), diff(2, 0), diff(2, 1));
    let base = quartiles(&mut ns[0].clone());
    println!("pair, no sampling            {}", fmt_q(base));
    println!(
        "added by a sample            {}",
        fmt_q(quartiles(&mut sample))
    );
    println!(
        "… of which its stack         {}",
        fmt_q(quartiles(&mut stack))
    );
    let q = quartiles(&mut with_stack);
    println!(
        "a sample with its stack      {}   budget ≤ {ALLOC_SAMPLE_BUDGET_NS:.0} ns: {}",
        fmt_q(q),
        verdict(q, ALLOC_SAMPLE_BUDGET_NS)
    );
}
