//! End-to-end tests of the recorder core: record from real threads into real sinks, read
//! the result back with `trace-format`, and check it exactly.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

use common::{StalledSink, serial};
use trace_format::{Event, StringId, Trace, Warning};
use trace_rt::raw::record;
use trace_rt::{Config, MemorySink};

/// Per-thread values of `Counter` events named `name`, keyed by thread name (or id).
fn counters_by_thread(trace: &Trace, name: StringId) -> BTreeMap<String, Vec<i64>> {
    let mut out: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for t in trace.thread_ids() {
        let tname = match trace.threads().get(&t) {
            Some(d) if !d.name.is_empty() => d.name.clone(),
            _ => format!("thread {t}"),
        };
        for r in trace.thread_events(t) {
            if let Event::Counter { name: n, value } = r.unwrap().event
                && n == name
            {
                out.entry(tname.clone()).or_default().push(value);
            }
        }
    }
    out
}

#[test]
fn ten_million_events_from_four_threads_read_back_exactly() {
    let _g = serial();
    const THREADS: usize = 4;
    const PER_THREAD: i64 = 2_500_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ten_million.rtt");
    let name = trace_rt::intern("seq");
    // Room for the whole run, so that nothing may be dropped and any loss is a bug. No CPU
    // samples: the count below is of the test's own events.
    let session = Config::default()
        .cpu_sample_hz(0)
        .buffer_size(256 << 20)
        .start(&path)
        .unwrap();
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let barrier = barrier.clone();
            std::thread::Builder::new()
                .name(format!("producer-{i}"))
                .spawn(move || {
                    barrier.wait();
                    for v in 0..PER_THREAD {
                        record(&Event::Counter { name, value: v });
                    }
                })
                .unwrap()
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let summary = session.stop().unwrap();
    assert_eq!(summary.lost_events, 0, "{summary}");
    assert_eq!(
        summary.events,
        THREADS as u64 * PER_THREAD as u64,
        "{summary}"
    );

    let trace = Trace::open(&path).unwrap();
    assert!(trace.warnings().is_empty(), "{:?}", trace.warnings());
    assert_eq!(trace.validate().unwrap(), summary.events);
    let by_thread = counters_by_thread(&trace, name);
    assert_eq!(by_thread.len(), THREADS);
    let expected: Vec<i64> = (0..PER_THREAD).collect();
    for i in 0..THREADS {
        let got = &by_thread[&format!("producer-{i}")];
        assert!(
            got == &expected,
            "producer-{i}: {} values, not 0..{PER_THREAD} in order",
            got.len()
        );
    }
    // Merged order is globally non-decreasing in time.
    let mut last = 0;
    for r in trace.events() {
        let r = r.unwrap();
        assert!(r.time >= last);
        last = r.time;
    }
}

fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

#[test]
fn writer_falling_behind_drops_and_counts_without_blocking_or_growing() {
    let _g = serial();
    const THREADS: usize = 4;
    const PER_THREAD: usize = 25_000;
    let sink = StalledSink::new();
    let buffer = 4 << 20;
    // It counts its own events exactly: no CPU samples (one dropped for a full buffer
    // would be counted lost beside the test's own).
    let session = Config::default()
        .cpu_sample_hz(0)
        .chunk_size(64 << 10)
        .buffer_size(buffer)
        .start_with_sink(sink.clone())
        .unwrap();
    let name = trace_rt::intern("overload");
    let target = trace_rt::intern("test");
    // 1 KiB messages: 4 threads × 25 000 × 1 KiB ≈ 100 MiB through a 4 MiB buffer.
    let message = "x".repeat(1024);
    let rss_before = resident_bytes();
    let started = Instant::now();
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let message = message.clone();
            std::thread::Builder::new()
                .name(format!("overload-{i}"))
                .spawn(move || {
                    for v in 0..PER_THREAD {
                        record(&Event::Counter {
                            name,
                            value: v as i64,
                        });
                        record(&Event::Log {
                            level: trace_format::Level::Info,
                            target,
                            message: &message,
                        });
                    }
                })
                .unwrap()
        })
        .collect();
    // The sink is stalled the whole time: if any producer waited for the writer, these
    // joins would never return.
    for h in handles {
        h.join().unwrap();
    }
    let producing = started.elapsed();
    let rss_after = resident_bytes();
    sink.release();
    let summary = session.stop().unwrap();
    assert!(producing < Duration::from_secs(60));
    assert!(
        summary.lost_events > 0 && summary.lost_chunks > 0,
        "{summary}"
    );
    if let (Some(a), Some(b)) = (rss_before, rss_after) {
        let grown = b.saturating_sub(a);
        assert!(
            grown < buffer as u64 + (32 << 20),
            "resident memory grew by {grown} bytes"
        );
    }

    let trace = Trace::from_bytes(sink.inner.bytes()).unwrap();
    trace.validate().unwrap();
    let end = trace.end().unwrap().clone();
    assert_eq!(end.lost_events, summary.lost_events);
    assert!(
        trace
            .warnings()
            .iter()
            .any(|w| matches!(w, Warning::LostData { .. }))
    );
    // Every produced event is either in the file or counted as lost.
    let mut written = 0u64;
    let mut lost_markers = 0u64;
    for r in trace.events() {
        match r.unwrap().event {
            Event::Counter { .. } | Event::Log { .. } => written += 1,
            Event::Lost { events, .. } => lost_markers += events,
            other => panic!("unexpected {other:?}"),
        }
    }
    let produced = (THREADS * PER_THREAD * 2) as u64;
    assert_eq!(written + summary.lost_events, produced);
    assert!(lost_markers <= summary.lost_events && lost_markers > 0);
}

#[test]
fn many_sessions_in_one_process_each_hold_their_own_events() {
    let _g = serial();
    let name = trace_rt::intern("session");
    // Long-lived threads that record in every session, plus short-lived ones.
    let (tx, rx) = std::sync::mpsc::channel::<Option<i64>>();
    let rx = Arc::new(Mutex::new(rx));
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let rx = rx.clone();
            let done = done_tx.clone();
            std::thread::spawn(move || {
                loop {
                    let msg = rx.lock().unwrap().recv().unwrap();
                    let Some(v) = msg else { break };
                    for _ in 0..100 {
                        record(&Event::Counter { name, value: v });
                    }
                    done.send(()).unwrap();
                }
            })
        })
        .collect();
    for round in 0..20i64 {
        let sink = MemorySink::new();
        // Counts its own events exactly: no CPU samples.
        let session = Config::default()
            .cpu_sample_hz(0)
            .start_with_sink(sink.clone())
            .unwrap();
        for _ in 0..4 {
            tx.send(Some(round)).unwrap();
        }
        for _ in 0..4 {
            done_rx.recv().unwrap();
        }
        std::thread::spawn(move || record(&Event::Counter { name, value: round }))
            .join()
            .unwrap();
        let summary = session.stop().unwrap();
        assert_eq!(summary.events, 401, "round {round}: {summary}");
        let trace = Trace::from_bytes(sink.bytes()).unwrap();
        assert!(trace.warnings().is_empty(), "{:?}", trace.warnings());
        let values: Vec<i64> = trace
            .events()
            .map(|r| match r.unwrap().event {
                Event::Counter { value, .. } => value,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(values.len(), 401);
        assert!(
            values.iter().all(|&v| v == round),
            "round {round} got {values:?}"
        );
        // Not recording between sessions: these go nowhere.
        record(&Event::Counter { name, value: -1 });
    }
    for _ in &workers {
        tx.send(None).unwrap();
    }
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn stopping_while_threads_record_loses_nothing_silently() {
    let _g = serial();
    let name = trace_rt::intern("racing");
    for _ in 0..5 {
        let sink = MemorySink::new();
        // Counts its own events exactly: no CPU samples.
        let session = Config::default()
            .cpu_sample_hz(0)
            .start_with_sink(sink.clone())
            .unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let handles: Vec<_> = (0..3)
            .map(|_| {
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut n = 0i64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        record(&Event::Counter { name, value: n });
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(30));
        let summary = session.stop().unwrap();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let produced: i64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
        let trace = Trace::from_bytes(sink.bytes()).unwrap();
        assert_eq!(trace.validate().unwrap(), summary.events);
        assert!(summary.events <= produced as u64);
        // Each thread's values are increasing, and every value missing before its last one
        // was counted as lost (events racing the stop may also be missing at the end).
        let mut missing = 0;
        for values in counters_by_thread(&trace, name).values() {
            if let Some(w) = values.windows(2).position(|w| w[0] >= w[1]) {
                panic!(
                    "not increasing at {w}: {:?} {summary} {:?}",
                    &values[w.saturating_sub(3)..(w + 4).min(values.len())],
                    trace.threads()
                );
            }
            missing += values.last().map_or(0, |&l| l as u64 + 1) - values.len() as u64;
        }
        assert!(
            missing <= summary.lost_events,
            "{missing} missing, {summary}"
        );
    }
}

#[test]
fn start_errors_are_clear() {
    let _g = serial();
    let err = trace_rt::start("/nonexistent-dir/x.rtt").unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("/nonexistent-dir/x.rtt"), "{msg}");

    let session = Config::default()
        .start_with_sink(MemorySink::new())
        .unwrap();
    let err = Config::default()
        .start_with_sink(MemorySink::new())
        .unwrap_err();
    assert!(matches!(err, trace_rt::Error::AlreadyRecording), "{err}");
    session.stop().unwrap();

    let err = Config::default()
        .chunk_size(10)
        .start_with_sink(MemorySink::new())
        .unwrap_err();
    assert!(err.to_string().contains("chunk size"), "{err}");
    let err = Config::default()
        .chunk_size(64 << 10)
        .buffer_size(64 << 10)
        .start_with_sink(MemorySink::new())
        .unwrap_err();
    assert!(err.to_string().contains("two chunks"), "{err}");
}

#[cfg(target_os = "linux")]
#[test]
fn full_disk_is_reported_and_the_program_keeps_running() {
    let _g = serial();
    let name = trace_rt::intern("disk-full");
    let session = trace_rt::start("/dev/full").unwrap();
    for v in 0..200_000 {
        record(&Event::Counter { name, value: v });
    }
    let err = session.stop().unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("/dev/full") && msg.to_lowercase().contains("space"),
        "{msg}"
    );
    // The recorder is usable again afterwards.
    let session = Config::default()
        .start_with_sink(MemorySink::new())
        .unwrap();
    record(&Event::Counter { name, value: 1 });
    assert_eq!(session.stop().unwrap().events, 1);
}

#[test]
fn threads_that_exit_mid_session_hand_over_their_events() {
    let _g = serial();
    let name = trace_rt::intern("short-lived");
    let sink = MemorySink::new();
    let session = Config::default().start_with_sink(sink.clone()).unwrap();
    for t in 0..16 {
        std::thread::spawn(move || {
            for v in 0..1000 {
                record(&Event::Counter {
                    name,
                    value: t * 1000 + v,
                });
            }
        })
        .join()
        .unwrap();
    }
    // The writer has them before stop: exiting threads hand over their chunk.
    std::thread::sleep(Duration::from_millis(200));
    let summary = session.stop().unwrap();
    assert_eq!(summary.events, 16_000);
    let trace = Trace::from_bytes(sink.bytes()).unwrap();
    assert_eq!(trace.thread_ids().count(), 16);
    assert_eq!(trace.validate().unwrap(), 16_000);
}
