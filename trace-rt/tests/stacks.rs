//! Stacks in the trace: stalled polls sampled by wall clock (`StallSample`), with stacks
//! that name the blocking code by address (symbols are resolved elsewhere).
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

fn record(threshold: Duration, f: impl FnOnce()) -> Trace {
    let sink = trace_rt::MemorySink::new();
    let session = trace_rt::Config::default()
        .stall_threshold(threshold)
        .start_with_sink(sink.clone())
        .expect("start");
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
    // The sampling record says what was sampled.
    let info = trace.code().sampling().expect("a sampling record");
    assert_eq!(info.stall_threshold_ns, 5_000_000);
    assert!(info.stall_samples >= samples.len() as u64);
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
