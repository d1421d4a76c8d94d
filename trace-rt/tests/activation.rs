//! The ways to start a recording, end to end: `record_for`, the environment variables
//! (in a child process, as a user would run it), and the flight recorder.

mod common;

use std::time::{Duration, Instant};

use common::{Model, serial};
use trace_format::{Event, Trace};
use trace_rt::raw::record;

fn instrumented_runtime() -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(2);
    trace_rt::instrument(&mut b);
    b.enable_all().build().unwrap()
}

#[test]
fn record_for_finishes_by_itself() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("record_for.rtt");
    let rt = instrumented_runtime();
    let started = Instant::now();
    let recording = trace_rt::record_for(Duration::from_millis(300), &path).unwrap();
    assert!(trace_rt::is_recording());
    rt.block_on(async {
        while started.elapsed() < Duration::from_millis(600) {
            tokio::spawn(async { tokio::task::yield_now().await })
                .await
                .unwrap();
        }
    });
    assert!(
        !trace_rt::is_recording(),
        "still recording after its duration"
    );
    let summary = recording.wait().unwrap();
    assert!(recording.is_finished());
    assert!(summary.events > 0);
    let trace = Trace::open(&path).unwrap();
    assert!(trace.warnings().is_empty(), "{:?}", trace.warnings());
    let end = trace.end().unwrap();
    let recorded = trace.to_nanos(end.end_time);
    assert!(
        (290_000_000..450_000_000).contains(&recorded),
        "recorded for {recorded} ns"
    );
    assert!(!Model::build(&trace).spawned_at("activation.rs").is_empty());
}

/// Run as a child process by `environment_variables_start_a_recording`.
#[test]
#[ignore = "child process of environment_variables_start_a_recording"]
fn env_child() {
    let rt = instrumented_runtime();
    rt.block_on(async {
        for _ in 0..100 {
            tokio::spawn(async {
                tokio::time::sleep(Duration::from_millis(1)).await;
            })
            .await
            .unwrap();
        }
    });
    drop(rt);
    // The recording ends by itself once the runtime is gone; wait for the file to be done.
    let summary = trace_rt::env_recording()
        .expect("env recording")
        .wait()
        .unwrap();
    println!("child summary: {summary}");
}

#[test]
fn environment_variables_start_a_recording() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("env.rtt");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "env_child", "--nocapture"])
        .env("TRACE_RT_OUT", &path)
        .env("TRACE_RT_SECONDS", "30")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {stderr}");
    assert!(
        stderr.contains("trace-rt: recording 30.000 s to"),
        "{stderr}"
    );
    let trace = Trace::open(&path).unwrap();
    assert!(
        trace.end().is_some(),
        "the runtime's shutdown finished the file"
    );
    let m = Model::build(&trace);
    let tasks = m.spawned_at("activation.rs");
    assert_eq!(tasks.len(), 100);

    // A bad value is reported and the program runs without recording.
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "env_child", "--nocapture"])
        .env("TRACE_RT_OUT", dir.path().join("bad.rtt"))
        .env("TRACE_RT_SECONDS", "soon")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TRACE_RT_SECONDS must be a positive number"),
        "{stderr}"
    );
    assert!(!dir.path().join("bad.rtt").exists());
}

#[test]
fn flight_recorder_dumps_the_recent_past_and_keeps_recording() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let name = trace_rt::intern("flight");
    let config = trace_rt::Config::default().flush_interval(Duration::from_millis(20));
    let flight =
        trace_rt::FlightRecorder::start_with(config, Duration::from_millis(100), 64 << 20).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let producer = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut v = 0i64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // The value is the producer's elapsed milliseconds.
                record(&Event::Counter {
                    name,
                    value: start.elapsed().as_millis() as i64,
                });
                v += 1;
                std::thread::sleep(Duration::from_micros(50));
            }
            v
        })
    };
    std::thread::sleep(Duration::from_millis(500));
    for dump in 0..3 {
        let path = dir.path().join(format!("dump{dump}.rtt"));
        let summary = flight.write_to(&path).unwrap();
        assert!(summary.events > 0);
        let trace = Trace::open(&path).unwrap();
        assert!(
            trace.warnings().is_empty(),
            "dump {dump}: {:?}",
            trace.warnings()
        );
        assert_eq!(trace.validate().unwrap(), summary.events);
        assert_eq!(trace.header().feature("flight_recorder"), Some("true"));
        let values: Vec<i64> = trace
            .events()
            .filter_map(|r| match r.unwrap().event {
                Event::Counter { value, .. } => Some(value),
                _ => None,
            })
            .collect();
        let (first, last) = (values[0], *values.last().unwrap());
        // About the last 100 ms (whole chunks, so a little more), up to the dump.
        assert!(
            last - first >= 80,
            "dump {dump}: only {first}..{last} ms kept"
        );
        assert!(
            last - first <= 400,
            "dump {dump}: {first}..{last} ms kept, expected ~100"
        );
        assert!(values.windows(2).all(|w| w[0] <= w[1]));
        std::thread::sleep(Duration::from_millis(150));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(producer.join().unwrap() > 0);
    flight.stop().unwrap();
    assert!(!trace_rt::is_recording());
}
