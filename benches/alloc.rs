//! Cost of one allocation + free pair through trace-rt's `TracingAllocator`, beside the plain
//! system allocator, measured side by side in one run.
//!
//! Run: `cargo bench -p trace-rt-benches --bench alloc` (about 30 s).
//!
//! This binary's global allocator is `TracingAllocator<System>`. Every figure calls the
//! allocator directly (`GlobalAlloc::alloc` then `dealloc` of the same block, the pointer
//! passed through `black_box`), so they differ only in the allocator:
//! - `System`: the inner allocator alone;
//! - `TracingAllocator, not recording`: no session (one relaxed load per call);
//! - `TracingAllocator, recording (defaults)`: a session recording into memory, default
//!   settings: a sample per 512 KiB on average; calls timed against the 100 µs slow-call
//!   threshold only for blocks of 64 KiB or more, so not the blocks measured here;
//! - `… recording, every call timed`: `timed_min_size` 0, two clock reads per call;
//! - `… recording, no timing, no sampling`: counters only.
//!
//! Each figure is the median of 7 repetitions of 2 million pairs, the modes interleaved in
//! every repetition. A second table does the same through `Box` (the `__rust_alloc` path a
//! program takes). The last lines say how many events the recordings wrote.

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::time::Duration;

use trace_rt::{MemorySink, TracingAllocator};
use trace_rt_benches::{median, ns_per_iter};

#[global_allocator]
static GLOBAL: TracingAllocator<System> = TracingAllocator::new(System);

const PAIRS: u64 = 2_000_000;
const REPS: usize = 7;

/// One allocation and free of `layout` through `a`.
#[inline(always)]
fn pair(a: &impl GlobalAlloc, layout: Layout) {
    // SAFETY: `layout` has a non-zero size; the block is freed with the layout it was
    // allocated with, by the allocator that allocated it (checked not null).
    unsafe {
        let p = black_box(a.alloc(layout));
        assert!(!p.is_null());
        a.dealloc(p, layout);
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    System,
    Idle,
    Recording,
    RecordingTimeAll,
    CountersOnly,
}

const MODES: [(Mode, &str); 5] = [
    (Mode::System, "System"),
    (Mode::Idle, "TracingAllocator, not recording"),
    (Mode::Recording, "TracingAllocator, recording (defaults)"),
    (
        Mode::RecordingTimeAll,
        "TracingAllocator, recording, every call timed",
    ),
    (
        Mode::CountersOnly,
        "TracingAllocator, recording, no timing, no sampling",
    ),
];

/// ns per pair for `mode`, with blocks of `size` bytes, direct calls or through `Box`.
fn measure(mode: Mode, size: usize, iters: u64, boxed: bool, events: &mut u64) -> f64 {
    let layout = Layout::from_size_align(size, 8).unwrap();
    let recording = !matches!(mode, Mode::System | Mode::Idle);
    match mode {
        Mode::RecordingTimeAll => GLOBAL.set_timed_min_size(0),
        Mode::CountersOnly => {
            GLOBAL.set_slow_threshold(Duration::ZERO);
            GLOBAL.set_sample_rate(0);
        }
        _ => {}
    }
    let session = recording.then(|| {
        trace_rt::Config::default()
            .buffer_size(64 << 20)
            .start_with_sink(MemorySink::new())
            .expect("start")
    });
    let ns = match (mode, boxed) {
        (Mode::System, false) => ns_per_iter(iters, || pair(&System, layout)),
        (_, false) => ns_per_iter(iters, || pair(&GLOBAL, layout)),
        (Mode::System, true) => f64::NAN, // `Box` always goes through the global allocator
        (_, true) => ns_per_iter(iters, || {
            let b: Box<[u8]> = black_box(vec![0u8; black_box(size)].into_boxed_slice());
            drop(b);
        }),
    };
    if let Some(s) = session {
        let summary = s.stop().expect("stop");
        *events += summary.events;
    }
    GLOBAL.set_slow_threshold(trace_rt::alloc::DEFAULT_SLOW_THRESHOLD);
    GLOBAL.set_sample_rate(trace_rt::alloc::DEFAULT_SAMPLE_RATE);
    GLOBAL.set_timed_min_size(trace_rt::alloc::DEFAULT_TIMED_MIN_SIZE);
    ns
}

fn table(size: usize, boxed: bool, iters: u64, reps: usize) {
    let mut results: Vec<Vec<f64>> = vec![vec![]; MODES.len()];
    let mut events = vec![0u64; MODES.len()];
    for rep in 0..reps {
        // Rotate the starting mode so that no mode always runs first.
        for k in 0..MODES.len() {
            let i = (k + rep) % MODES.len();
            results[i].push(measure(MODES[i].0, size, iters, boxed, &mut events[i]));
        }
    }
    let base = median(&mut results[0].clone());
    println!();
    println!(
        "== {size}-byte blocks, {} (ns per alloc+free pair, medians of {reps} x {iters} pairs) ==",
        if boxed {
            "through Box (global allocator path)"
        } else {
            "direct GlobalAlloc calls"
        }
    );
    for (i, (mode, name)) in MODES.iter().enumerate() {
        let m = median(&mut results[i]);
        if m.is_nan() {
            continue;
        }
        let extra = if *mode == Mode::System || base.is_nan() {
            String::new()
        } else {
            format!("   {:+6.2} ns vs System", m - base)
        };
        let ev = if events[i] > 0 {
            format!(
                "   ({:.4} events/pair)",
                events[i] as f64 / (iters * reps as u64) as f64
            )
        } else {
            String::new()
        };
        println!("{name:<54} {m:7.2} ns{extra}{ev}");
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: keep that a smoke run.
    let full = args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test");
    let (iters, reps) = if full { (PAIRS, REPS) } else { (1000, 1) };
    for size in [64, 1024, 256 << 10] {
        table(size, false, iters, reps);
    }
    table(64, true, iters, reps);
}
