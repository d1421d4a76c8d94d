//! Stacks in the trace: stalled polls sampled by wall clock (`StallSample`) and CPU samples,
//! with stacks that hold the culprit function's address, and the symbols the recording
//! writes at stop that name it (function, this file, a line), so no binary is needed.
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

mod common;

use std::time::Duration;

use common::serial;
use trace_format::{Event, Meta, Trace};

/// Blocks its thread inside a poll; never inlined, so a sampled stack passes through it.
#[inline(never)]
fn sleepy() {
    std::thread::sleep(std::hint::black_box(Duration::from_millis(50)));
}

/// Does not block: polls shorter than the threshold get no samples.
#[inline(never)]
fn quick() -> u64 {
    std::hint::black_box(42)
}

/// Whether `addr` lies in the code of `f` (a generous bound on a small function's size).
fn inside(addr: u64, f: u64) -> bool {
    addr > f && addr < f + 1024
}

/// Whether the trace's own symbols name a function called `name` in this file at some frame
/// of `stack`.
fn names(trace: &Trace, stack: trace_format::StackId, name: &str) -> bool {
    let code = trace.code();
    code.stack(stack).unwrap_or_default().iter().any(|&a| {
        code.frames_at(a).any(|f| {
            f.function.ends_with(name)
                && f.file.is_some_and(|p| p.ends_with("stacks.rs"))
                && f.line > 0
        })
    })
}

fn record(threshold: Duration, f: impl FnOnce()) -> Trace {
    record_with(trace_rt::Config::default().stall_threshold(threshold), f)
}

fn record_with(config: trace_rt::Config, f: impl FnOnce()) -> Trace {
    let sink = trace_rt::MemorySink::new();
    let session = config.start_with_sink(sink.clone()).expect("start");
    f();
    std::thread::sleep(Duration::from_millis(20));
    let summary = session.stop().expect("stop");
    assert_eq!(summary.lost_events, 0, "{summary}");
    let trace = Trace::from_bytes(sink.bytes()).expect("read back");
    trace.validate().expect("valid trace");
    trace
}

fn runtime() -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(2);
    trace_rt::instrument(&mut b);
    b.enable_all().build().unwrap()
}

#[test]
#[cfg_attr(not(tokio_unstable), ignore = "poll hooks need --cfg tokio_unstable")]
fn a_poll_blocked_in_sleep_gets_stall_samples_naming_the_blocking_function() {
    let _g = serial();
    let rt = runtime();
    let trace = record(Duration::from_millis(5), || {
        rt.block_on(async {
            tokio::spawn(async {
                quick();
                sleepy();
            })
            .await
            .unwrap();
        });
    });
    drop(rt);
    // Stall samples lie inside a poll, on the worker that ran it.
    let mut samples = Vec::new();
    for thread in trace.thread_ids() {
        let mut in_poll = false;
        for r in trace.thread_events(thread) {
            match r.unwrap().event {
                Event::PollStart { .. } => in_poll = true,
                Event::PollEnd { .. } => in_poll = false,
                Event::StallSample { task, stack } => {
                    assert!(in_poll, "a stall sample outside a poll");
                    assert_ne!(task.0, 0, "the polled task");
                    samples.push(stack);
                }
                _ => {}
            }
        }
    }
    // 50 ms blocked, threshold 5 ms, one sample per threshold: about 9; at least a few even
    // on a loaded machine.
    assert!(samples.len() >= 2, "{} stall samples", samples.len());
    let f = sleepy as *const () as u64;
    let named = samples
        .iter()
        .filter(|&&s| {
            let frames = trace.code().stack(s).expect("a defined stack");
            frames.iter().any(|&a| inside(a, f))
        })
        .count();
    let first = trace.code().stack(samples[0]).unwrap();
    println!(
        "{} samples, {named} in sleepy ({f:#x}); first: {first:x?}",
        samples.len()
    );
    assert!(
        named * 2 >= samples.len(),
        "sleepy ({f:#x}) missing: {first:x?}"
    );
    // The recording named the code at stop: the same samples name `sleepy` by symbol.
    let by_name = samples
        .iter()
        .filter(|&&s| names(&trace, s, "sleepy"))
        .count();
    assert_eq!(by_name, named, "symbols disagree with addresses");
    // The sampling record says what was sampled, and how long naming the code took.
    let info = trace.code().sampling().expect("a sampling record");
    assert_eq!(info.stall_threshold_ns, 5_000_000);
    assert!(info.stall_samples >= samples.len() as u64);
    assert!(
        info.addresses > 0 && info.resolved_addresses > 0,
        "{info:?}"
    );
    assert!(info.symbolize_ns > 0, "{info:?}");
}

#[test]
#[cfg_attr(not(tokio_unstable), ignore = "poll hooks need --cfg tokio_unstable")]
fn short_polls_and_a_zero_threshold_get_no_stall_samples() {
    let _g = serial();
    let rt = runtime();
    let stalls = |trace: &Trace| {
        trace
            .events()
            .filter(|r| matches!(r.as_ref().unwrap().event, Event::StallSample { .. }))
            .count()
    };
    // Short polls only, for longer than the threshold in all.
    let trace = record(Duration::from_millis(5), || {
        rt.block_on(async {
            for _ in 0..200 {
                tokio::spawn(async { quick() }).await.unwrap();
                tokio::time::sleep(Duration::from_micros(100)).await;
            }
        });
    });
    assert_eq!(stalls(&trace), 0);
    // A long poll with stall sampling off.
    let trace = record(Duration::ZERO, || {
        rt.block_on(async { tokio::spawn(async { sleepy() }).await.unwrap() });
    });
    assert_eq!(stalls(&trace), 0);
    let _ = Meta::Stacks(Vec::new());
}

/// Blocks its thread for `ms` inside a poll; never inlined.
#[inline(never)]
fn long_sleep(ms: u64) {
    std::thread::sleep(std::hint::black_box(Duration::from_millis(ms)));
}

#[test]
#[cfg_attr(not(tokio_unstable), ignore = "poll hooks need --cfg tokio_unstable")]
fn a_poll_blocked_for_a_second_keeps_every_stall_sample_and_backs_off() {
    let _g = serial();
    let rt = runtime();
    // 1 ms threshold: 16 samples 1 ms apart, 16 at 2 ms, 16 at 4 ms, … about 90 in the
    // second, each of the same stack: more than a thread's buffer held before counting.
    let trace = record(Duration::from_millis(1), || {
        rt.block_on(async { tokio::spawn(async { long_sleep(1000) }).await.unwrap() });
    });
    drop(rt);
    let mut times = Vec::new();
    for r in trace.events() {
        let r = r.unwrap();
        if let Event::StallSample { stack, .. } = r.event {
            assert!(names(&trace, stack, "long_sleep"));
            times.push(r.time);
        }
    }
    let info = trace.code().sampling().expect("a sampling record").clone();
    println!("{} stall samples, {info:?}", times.len());
    assert_eq!(info.lost_samples, 0, "{info:?}");
    assert_eq!(info.stall_samples, times.len() as u64);
    // More than the 64 a buffer of distinct entries held; far fewer than one per ms.
    assert!(times.len() > 64, "{} stall samples", times.len());
    assert!(
        times.len() < 300,
        "{} stall samples: no back-off",
        times.len()
    );
    // Written in time order, spread over the stall.
    assert!(times.windows(2).all(|w| w[0] <= w[1]));
    assert!(times[times.len() - 1] - times[0] > 500_000_000 / 2);
}

/// Burns `ms` milliseconds of this thread's CPU time; never inlined.
#[inline(never)]
fn burn(ms: u64) -> u64 {
    let start = cpu_time();
    let mut x = 1u64;
    while cpu_time() - start < Duration::from_millis(ms) {
        for _ in 0..10_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    x
}

/// This thread's CPU time.
fn cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid out-pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Waits (up to 10 s) until the process has at most `fds` files open again: the stop closed
/// every sampler, but when naming the code outlasted the stop's deadline (a loaded machine),
/// the symbolizer thread finishes alone and closes its ELF files later. A sampler left open
/// never closes. Fewer is fine: an earlier test's symbolizer may close its files meanwhile.
fn assert_fds_back_to(fds: usize, what: &str) {
    let start = std::time::Instant::now();
    while open_fds() > fds && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let now = open_fds();
    assert!(now <= fds, "{what}: {now} files open, {fds} before");
}

/// A thread that records (one event attaches it to the session) and burns CPU.
fn recording_thread(ms: u64) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        trace_rt::raw::record(&Event::Counter {
            name: trace_rt::intern("attach"),
            value: 1,
        });
        let x = burn(ms);
        // An event after the burn writes the samples it took.
        trace_rt::raw::record(&Event::Counter {
            name: trace_rt::intern("attach"),
            value: 2,
        });
        x
    })
}

fn check_cpu_samples(force_timer: bool) -> String {
    let _g = serial();
    let fds = open_fds();
    let trace = record_with(
        trace_rt::Config::default()
            .cpu_sample_hz(99)
            .force_timer_sampling(force_timer),
        || {
            recording_thread(300).join().unwrap();
        },
    );
    assert_fds_back_to(fds, "a sampler left open");
    let f = burn as *const () as u64;
    let (mut samples, mut in_burn) = (0, 0);
    for r in trace.events() {
        if let Event::CpuSample { stack, .. } = r.unwrap().event {
            samples += 1;
            let frames = trace.code().stack(stack).expect("a defined stack");
            if frames.iter().any(|&a| inside(a, f)) {
                in_burn += 1;
                assert!(
                    names(&trace, stack, "burn"),
                    "burn unnamed: {:?} {:?}",
                    frames
                        .iter()
                        .map(|&a| trace.code().frames_at(a).collect::<Vec<_>>())
                        .collect::<Vec<_>>(),
                    trace.code().sampling()
                );
            }
        }
    }
    let info = trace.code().sampling().expect("sampling record").clone();
    println!("{info:?}: {samples} samples, {in_burn} in burn");
    // 300 ms of CPU at 99 Hz: about 30 (a loaded machine does not change CPU time).
    assert!(samples >= 10, "{samples} CPU samples ({info:?})");
    assert!(
        in_burn * 10 >= samples * 8,
        "{in_burn} of {samples} in burn"
    );
    assert_eq!(info.cpu_samples, samples as u64 + info.lost_samples);
    assert_eq!(info.cpu_hz, 99);
    info.cpu_method
}

#[test]
fn cpu_samples_by_perf_events_land_in_the_burning_function() {
    let method = check_cpu_samples(false);
    let paranoid = std::fs::read_to_string("/proc/sys/kernel/perf_event_paranoid")
        .ok()
        .and_then(|s| s.trim().parse::<i32>().ok());
    // Where the kernel allows it, perf events are used; else the fallback, with its reason.
    if paranoid.is_some_and(|p| p <= 2) && method != "perf_event" {
        println!("perf events refused despite perf_event_paranoid <= 2 (seccomp?)");
    }
    assert!(
        method == "perf_event" || method == "timer_signal",
        "{method}"
    );
}

#[test]
fn cpu_samples_by_the_timer_fallback_land_in_the_burning_function() {
    assert_eq!(check_cpu_samples(true), "timer_signal");
}

#[test]
fn sampled_threads_that_exit_and_a_stop_during_sampling_are_harmless() {
    let _g = serial();
    for force_timer in [false, true] {
        let fds = open_fds();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let spinner = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                trace_rt::raw::record(&Event::Counter {
                    name: trace_rt::intern("attach"),
                    value: 1,
                });
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    burn(5);
                }
            })
        };
        let trace = record_with(
            trace_rt::Config::default()
                .cpu_sample_hz(999)
                .force_timer_sampling(force_timer),
            || {
                // Threads that exit while being sampled.
                for _ in 0..4 {
                    recording_thread(30).join().unwrap();
                }
            },
        );
        // The stop came while `spinner` was being sampled: its sampler is closed, and it
        // runs on unharmed.
        assert_fds_back_to(
            fds,
            &format!("a sampler left open (force_timer {force_timer})"),
        );
        burn(50);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        spinner.join().unwrap();
        let info = trace.code().sampling().unwrap();
        assert!(info.cpu_samples > 0, "{info:?}");
        // A later session samples again.
        let trace = record_with(trace_rt::Config::default().cpu_sample_hz(999), || {
            recording_thread(30).join().unwrap();
        });
        assert!(trace.code().sampling().unwrap().cpu_samples > 0);
    }
}

/// Takes a contended lock inside a poll; never inlined.
#[inline(never)]
fn contended(m: &std::sync::Mutex<u64>) -> u64 {
    *m.lock().unwrap() + 1
}

#[test]
#[cfg_attr(not(tokio_unstable), ignore = "poll hooks need --cfg tokio_unstable")]
fn a_poll_blocked_on_a_contended_mutex_gets_stall_samples_naming_the_locking_function() {
    let _g = serial();
    let rt = runtime();
    let m = std::sync::Arc::new(std::sync::Mutex::new(0u64));
    let trace = record(Duration::from_millis(5), || {
        let guard = m.lock().unwrap();
        let m2 = m.clone();
        let task = rt.spawn(async move { contended(&m2) });
        std::thread::sleep(Duration::from_millis(60));
        drop(guard);
        rt.block_on(task).unwrap();
    });
    drop(rt);
    let f = contended as *const () as u64;
    let (mut samples, mut named) = (0, 0);
    for r in trace.events() {
        if let Event::StallSample { stack, .. } = r.unwrap().event {
            samples += 1;
            let frames = trace.code().stack(stack).expect("a defined stack");
            if frames.iter().any(|&a| inside(a, f)) {
                named += 1;
            }
        }
    }
    println!("{samples} stall samples, {named} in contended ({f:#x})");
    assert!(samples >= 2, "{samples} stall samples");
    assert!(named * 2 >= samples, "{named} of {samples} in contended");
}
