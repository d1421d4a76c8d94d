//! The allocator wrapper as a global allocator, in tests small enough for Miri (which checks
//! its forwarding to the inner allocator, the re-entrant paths where the recorder allocates
//! from inside the allocator, and thread exit, for undefined behaviour and data races), and
//! that also run in a normal `cargo test`:
//!
//! ```text
//! MIRIFLAGS="-Zmiri-disable-isolation" cargo +nightly miri test -p trace-rt --test miri_alloc
//! ```
//!
//! Every allocation is sampled and every call is timed as slow (under Miri the clock advances
//! by one unit per read), so that each allocator call goes through the recording path, in
//! minimum-size chunks that run out.

mod common;

use std::alloc::System;
use std::hint::black_box;
use std::time::Duration;

use common::serial;
use trace_format::{Event, Trace};
use trace_rt::{Config, MemorySink, TracingAllocator};

#[global_allocator]
static ALLOC: TracingAllocator<System> = TracingAllocator::new(System)
    .with_sample_rate(1)
    .with_slow_threshold(Duration::from_nanos(1))
    .with_timed_min_size(0);

const SIZE: usize = 777;

/// Allocates, grows (realloc), zero-allocates and frees; `n` blocks of [`SIZE`] bytes.
fn churn(n: usize) {
    let mut v: Vec<Vec<u8>> = Vec::new();
    for i in 0..n {
        v.push(black_box(vec![i as u8; SIZE]));
    }
    let z: Vec<u64> = black_box(vec![0; 9]);
    let s = format!("{z:?}{}", v.len());
    black_box(s);
}

thread_local! {
    /// Allocates in its destructor, which runs while the thread's other thread-locals (the
    /// recorder's among them) are being destroyed.
    static ALLOCATES_ON_EXIT: AllocatesOnDrop = const { AllocatesOnDrop };
}

struct AllocatesOnDrop;

impl Drop for AllocatesOnDrop {
    fn drop(&mut self) {
        black_box(vec![1u8; 100]);
    }
}

fn read_back(sink: &MemorySink, events: u64) -> Trace {
    let trace = Trace::from_bytes(sink.bytes()).unwrap();
    assert_eq!(trace.validate().unwrap(), events);
    trace
}

#[test]
fn every_allocation_is_recorded_from_threads_that_exit() {
    let _g = serial();
    churn(2); // before any recording
    let sink = MemorySink::new();
    let session = Config::default()
        .chunk_size(4096)
        .buffer_size(64 * 4096)
        // Miri is far slower than the default 1 s stop deadline allows.
        .stop_timeout(std::time::Duration::from_secs(3600))
        .start_with_sink(sink.clone())
        .unwrap();
    let threads: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(|| {
                ALLOCATES_ON_EXIT.with(|_| {});
                churn(6);
                trace_rt::intern("miri-alloc"); // allocates under the interner's lock
                trace_rt::flush_alloc_counters();
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap(); // exited while recording
    }
    let summary = session.stop().unwrap();
    churn(2); // after
    assert_eq!(summary.lost_events, 0, "{summary}");
    let trace = read_back(&sink, summary.events);
    let mut samples = 0;
    let (mut begins, mut ends) = (0, 0);
    // Only the two churning threads: the writer thread allocates too, and a slow call of its
    // that straddles `stop` can record its begin before the session ends and its end after.
    for thread in trace.thread_ids() {
        let events: Vec<Event<'_>> = trace
            .thread_events(thread)
            .map(|r| r.unwrap().event)
            .collect();
        let own = events
            .iter()
            .filter(|e| {
                matches!(e, Event::AllocSample { size, .. } | Event::AllocSampleAt { size, .. }
                    if *size == SIZE as u64)
            })
            .count();
        if own == 0 {
            continue;
        }
        samples += own;
        begins += events
            .iter()
            .filter(|e| matches!(e, Event::PauseBegin { .. }))
            .count();
        ends += events
            .iter()
            .filter(|e| matches!(e, Event::PauseEnd { .. }))
            .count();
    }
    assert_eq!(samples, 12, "every block of both threads sampled");
    assert_eq!(begins, ends);
    assert!(begins > 0);
}

#[test]
fn allocating_while_sessions_start_stop_and_drop_chunks() {
    let _g = serial();
    for round in 0..2 {
        let sink = MemorySink::new();
        let session = Config::default()
            .chunk_size(4096)
            .buffer_size(2 * 4096) // runs out: chunks are dropped and counted
            // Miri is far slower than the default 1 s stop deadline allows.
            .stop_timeout(std::time::Duration::from_secs(3600))
            .start_with_sink(sink.clone())
            .unwrap();
        let worker = std::thread::spawn(move || {
            churn(4 + round);
        });
        churn(3);
        // The stop races the worker's allocations.
        let summary = session.stop().unwrap();
        worker.join().unwrap();
        read_back(&sink, summary.events);
    }
}
