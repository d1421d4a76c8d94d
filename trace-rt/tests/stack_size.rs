//! What stacks cost in the file: a recording of deep call paths sampled many times writes
//! each new stack in a few bytes (its own inner frames, delta-coded; the outer frames named
//! by an earlier stack that shares them), not the ~7 bytes per frame of absolute addresses.
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

mod common;

use std::time::{Duration, Instant};

use common::serial;
use trace_format::{Event, StackDef, Trace};

/// Spins in one of a few leaf loops until `until`; never inlined, so samples land in it.
#[inline(never)]
fn leaf(until: Instant) -> u64 {
    let mut x = 1u64;
    while Instant::now() < until {
        for _ in 0..1000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    x
}

/// `depth` frames of recursion, then `leaf`: a deep stack with a common outer part.
#[inline(never)]
fn deep(depth: u32, until: Instant) -> u64 {
    if depth == 0 {
        return leaf(until);
    }
    std::hint::black_box(deep(depth - 1, until)).wrapping_add(u64::from(depth))
}

#[test]
fn stacks_of_a_recording_cost_a_few_bytes_each() {
    let _g = serial();
    let sink = trace_rt::MemorySink::new();
    let session = trace_rt::Config::default()
        .cpu_sample_hz(1000)
        .start_with_sink(sink.clone())
        .expect("start");
    std::thread::spawn(|| {
        // An event attaches the thread to the session (and the last one flushes it).
        trace_rt::raw::record(&Event::Counter {
            name: trace_rt::intern("attach"),
            value: 1,
        });
        // Several depths, so that stacks differ in their inner frames too.
        for round in 0..12 {
            deep(20 + round % 4, Instant::now() + Duration::from_millis(25));
        }
        trace_rt::raw::record(&Event::Counter {
            name: trace_rt::intern("attach"),
            value: 2,
        });
    })
    .join()
    .unwrap();
    session.stop().expect("stop");
    let trace = Trace::from_bytes(sink.bytes()).expect("read back");
    trace.validate().expect("valid trace");

    let mut defs: Vec<StackDef> = trace
        .code()
        .stacks()
        .map(|(id, frames)| StackDef {
            id: id.0,
            frames: frames.to_vec(),
        })
        .collect();
    defs.sort_by_key(|d| d.id);
    let frames: usize = defs.iter().map(|d| d.frames.len()).sum();
    let written = trace.file_bytes().meta_bytes("stacks");
    // What the same stacks cost as plain `Meta::Stacks` (absolute addresses, postcard
    // varints; one record, the least framing).
    let varint = |v: u64| trace_format::varint::put(&mut [0u8; 10], 0, v);
    let plain: usize = defs
        .iter()
        .map(|d| {
            varint(d.id.into())
                + varint(d.frames.len() as u64)
                + d.frames.iter().map(|&f| varint(f)).sum::<usize>()
        })
        .sum();
    println!(
        "{} stacks, {frames} frames: {written} bytes written ({:.1} per stack), {plain} as \
         plain stacks",
        defs.len(),
        written as f64 / defs.len().max(1) as f64
    );
    assert!(defs.len() >= 5, "too few stacks to measure: {}", defs.len());
    assert!(
        frames >= defs.len() * 20,
        "the stacks should be deep: {frames} frames"
    );
    // Generous: a new stack costs its id, base and a few delta-coded inner frames.
    assert!(
        (written as usize) < defs.len() * 40,
        "{written} bytes for {} stacks",
        defs.len()
    );
    assert!((written as usize) * 3 < plain, "{written} vs {plain} plain");
}
