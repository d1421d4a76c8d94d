//! What one stack sample costs, measured side by side in one run (Linux).
//!
//! Run: `cargo bench -p trace-rt-benches --bench sampling` (about a minute).
//!
//! 1. **One CPU sample** (the interrupt, the signal handler, a walk of 32 frames and the
//!    intern): a thread does a fixed amount of arithmetic 32 calls deep, recording, once
//!    with CPU sampling off and once at 10 000 Hz (perf events, then the timer-signal
//!    fallback), the modes interleaved in each repetition. The thread's CPU time
//!    (`CLOCK_THREAD_CPUTIME_ID`, which counts the interrupt and the handler) grows by
//!    the samples' cost: (CPU with − CPU without) / samples taken, per repetition. The
//!    timer fires on scheduler ticks (about 250 Hz at most), too few samples for this to
//!    resolve; so the signal path is also timed directly: the thread sends itself the
//!    sampling signal (`tgkill`, which the handler samples like a stalled poll: the same
//!    walk, intern and push), beside the same signal into an empty handler.
//! 2. **One allocation sample with its stack**: `alloc` + `free` of 64 bytes through this
//!    binary's `TracingAllocator`, 32 calls deep, recording, with no sampling, with every
//!    allocation sampled without stacks (`AllocSample`) and with stacks (`AllocSampleAt`):
//!    the differences are a sample's cost and its stack's.
//!
//! Figures are medians of the per-repetition figures, with the middle half in brackets.
//! `SAMPLING_BENCH_HZ` sets the CPU sampling rate measured, `SAMPLING_BENCH_REPS` the
//! repetitions (the timer fallback fires on scheduler ticks, about 250 Hz at most, so its
//! few samples need more repetitions to rise above the noise).
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

/// This thread's CPU time in the kernel (Linux; tick-based, so coarse).
fn thread_system() -> Duration {
    // SAFETY: a zeroed rusage is valid; a valid out-pointer.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_THREAD, &mut ru);
        ru
    };
    Duration::new(ru.ru_stime.tv_sec as u64, ru.ru_stime.tv_usec as u32 * 1000)
}

/// The CPU sampling rate measured (`SAMPLING_BENCH_HZ`, default 10 000).
fn bench_hz() -> u32 {
    std::env::var("SAMPLING_BENCH_HZ")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000)
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

/// Records while a new thread does `iters` of work `DEPTH` deep; returns its CPU time, its
/// part in the kernel, and the CPU samples the recording took.
fn cpu_run(mode: CpuMode, iters: u64) -> (Duration, Duration, u64) {
    let sink = MemorySink::new();
    let session = trace_rt::Config::default()
        .stall_threshold(Duration::ZERO)
        .cpu_sample_hz(if mode == CpuMode::Off { 0 } else { bench_hz() })
        .force_timer_sampling(mode == CpuMode::Timer)
        .buffer_size(64 << 20)
        .start_with_sink(sink.clone())
        .expect("start");
    let cpu = std::thread::spawn(move || {
        // One event attaches the thread (and starts its sampler).
        trace_rt::counter("bench", 0);
        let (t0, s0) = (thread_cpu(), thread_system());
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
        (thread_cpu() - t0, thread_system() - s0)
    })
    .join()
    .expect("bench thread");
    session.stop().expect("stop");
    let trace = Trace::from_bytes(sink.bytes()).expect("read back");
    let samples = trace.code().sampling().map_or(0, |s| s.cpu_samples);
    (cpu.0, cpu.1, samples)
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

/// The real-time signal trace-rt's handler was installed on (the first with a handler
/// from `SIGRTMIN + 4` on, once a session started), or `None`.
fn trace_rt_signal() -> Option<i32> {
    (libc::SIGRTMIN() + 4..=libc::SIGRTMAX()).find(|&sig| {
        // SAFETY: queries the disposition only (null new action, valid out-pointer).
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            libc::sigaction(sig, std::ptr::null(), &mut old) == 0
                && old.sa_sigaction != libc::SIG_DFL
                && old.sa_sigaction != libc::SIG_IGN
        }
    })
}

extern "C" fn empty_handler(_: libc::c_int) {}

/// ns per signal the calling thread sends itself with `tgkill` (`n` times, `DEPTH` deep):
/// the system call, the delivery, the handler and the return.
fn self_signal_ns(sig: i32, n: u64) -> f64 {
    // SAFETY: getpid/gettid have no preconditions.
    let (pid, tid) = unsafe { (libc::getpid(), libc::syscall(libc::SYS_gettid) as i32) };
    deep(DEPTH, &mut || {
        let start = Instant::now();
        for _ in 0..n {
            // SAFETY: a signal to this very thread, whose handler is installed.
            unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) };
        }
        start.elapsed().as_nanos() as f64 / n as f64
    })
}

/// One signal sample, timed directly: what the timer fallback's samples cost apart from the
/// timer's expiry (checked on the scheduler tick anyway). trace-rt's handler treats a
/// signal the thread sends itself like a stall sample: the same walk (32 frames), intern
/// and push. Beside it, the same signal path into an empty handler. Returns both, per
/// repetition.
fn signal_sample_costs(reps: usize, n: u64) -> Option<(Vec<f64>, Vec<f64>)> {
    let session = trace_rt::Config::default()
        .stall_threshold(Duration::from_millis(5))
        .cpu_sample_hz(0)
        .start_with_sink(MemorySink::new())
        .expect("start");
    let ours = trace_rt_signal();
    let costs = std::thread::spawn(move || {
        // One event registers the thread with the handler.
        trace_rt::counter("bench", 0);
        let ours = ours?;
        let empty = (libc::SIGRTMIN()..libc::SIGRTMAX())
            .rev()
            .find(|&s| s != ours)?;
        // SAFETY: installs a handler that does nothing on a signal nobody else uses here.
        unsafe { libc::signal(empty, empty_handler as *const () as libc::sighandler_t) };
        let (mut with, mut without) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            with.push(self_signal_ns(ours, n));
            trace_rt::counter("bench", 1); // writes the pending samples
            without.push(self_signal_ns(empty, n));
        }
        Some((with, without))
    })
    .join()
    .expect("bench thread");
    session.stop().expect("stop");
    costs
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
    let reps = std::env::var("SAMPLING_BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(9);
    let (reps, iters, pairs) = if full {
        (reps, 400_000_000, 200_000)
    } else {
        (1, 2_000_000, 2_000)
    };

    println!(
        "== one CPU sample: 32 frames deep, {} Hz, {reps} repetitions ==",
        bench_hz()
    );
    let (mut perf, mut timer) = (Vec::new(), Vec::new());
    let mut methods_ok = true;
    for rep in 0..reps {
        let mut order = [CpuMode::Off, CpuMode::PerfEvent, CpuMode::Timer];
        order.rotate_left(rep % 3);
        let mut cpu = [(Duration::ZERO, Duration::ZERO, 0u64); 3];
        for m in order {
            cpu[m as usize] = cpu_run(m, iters);
        }
        let off = cpu[CpuMode::Off as usize].0.as_nanos() as f64;
        for (m, out) in [
            (CpuMode::PerfEvent, &mut perf),
            (CpuMode::Timer, &mut timer),
        ] {
            let (t, _, n) = cpu[m as usize];
            if n == 0 {
                methods_ok = false;
                continue;
            }
            out.push((t.as_nanos() as f64 - off) / n as f64);
        }
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "  rep {rep}: CPU ms (in the kernel) / samples: off {:.1} ({:.0}); perf {:.1} ({:.0}) / {}; timer {:.1} ({:.0}) / {}",
            ms(cpu[0].0),
            ms(cpu[0].1),
            ms(cpu[1].0),
            ms(cpu[1].1),
            cpu[1].2,
            ms(cpu[2].0),
            ms(cpu[2].1),
            cpu[2].2
        );
    }
    if !methods_ok {
        println!("  (a method took no samples here: perf events refused, or not Linux)");
    }
    if !perf.is_empty() {
        let q = quartiles(&mut perf);
        println!(
            "perf events    {} per sample   budget ≤ {CPU_SAMPLE_BUDGET_NS:.0} ns: {}",
            fmt_q(q),
            verdict(q, CPU_SAMPLE_BUDGET_NS)
        );
    }
    if !timer.is_empty() {
        // A few hundred samples against CPU-time noise of about 0.5 %: the signal path's
        // cost is timed directly below instead.
        println!(
            "timer signal   {} per sample   (too few samples to resolve a few µs: see below)",
            fmt_q(quartiles(&mut timer))
        );
    }

    println!();
    println!(
        "== one signal sample, timed directly (tgkill to itself, 32 frames deep), {reps} repetitions =="
    );
    match signal_sample_costs(reps, if full { 20_000 } else { 100 }) {
        Some((mut with, mut without)) => {
            let mut handler: Vec<f64> = with.iter().zip(&without).map(|(a, b)| a - b).collect();
            let q = quartiles(&mut with);
            println!(
                "signal into trace-rt's handler {}   budget ≤ {CPU_SAMPLE_BUDGET_NS:.0} ns: {}",
                fmt_q(q),
                verdict(q, CPU_SAMPLE_BUDGET_NS)
            );
            println!(
                "… into an empty handler        {}",
                fmt_q(quartiles(&mut without))
            );
            println!(
                "… the handler itself           {}",
                fmt_q(quartiles(&mut handler))
            );
        }
        None => println!("  (no sampling signal installed here)"),
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
