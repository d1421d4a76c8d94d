//! Production hardening: what happens to a recording when the process is killed, the disk
//! is full, an application task panics, or the runtime goes away mid-recording. Overload
//! (more events than the writer can write) is covered in `recording.rs`
//! (`writer_falling_behind_drops_and_counts_without_blocking_or_growing`), and the
//! environment-started recording that ends with its runtime in `activation.rs`.

mod common;

use std::io::BufRead;
use std::time::{Duration, Instant};

use common::{Model, serial};
use trace_format::{Event, Trace, Warning};

fn instrumented_runtime(workers: usize) -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(workers);
    trace_rt::instrument(&mut b);
    b.enable_all().build().unwrap()
}

/// The largest value a counter named `name` reached in `trace`.
fn counter_max(trace: &Trace, name: &str) -> Option<i64> {
    let id = trace
        .strings()
        .find_map(|(id, s)| (s == name).then_some(id))?;
    trace
        .events()
        .filter_map(|r| match r.ok()?.event {
            Event::Counter { name, value } if name == id => Some(value),
            _ => None,
        })
        .max()
}

/// Run as a child process by `sigkill_mid_recording_leaves_a_file_that_reads_back`: records
/// a busy service until it is killed, publishing the milliseconds since the start as a counter.
#[test]
#[ignore = "child process of sigkill_mid_recording_leaves_a_file_that_reads_back"]
fn sigkill_child() {
    let path = std::env::var_os("HARDENING_OUT").expect("HARDENING_OUT");
    let rt = instrumented_runtime(2);
    let _session = trace_rt::start(&path).unwrap();
    let started = Instant::now();
    let elapsed_ms = trace_rt::Counter::new("elapsed_ms");
    println!("recording");
    rt.block_on(async move {
        loop {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..8 {
                set.spawn(async { tokio::time::sleep(Duration::from_millis(1)).await });
            }
            set.join_all().await;
            elapsed_ms.set(started.elapsed().as_millis() as i64);
        }
    });
}

#[cfg(unix)]
#[test]
fn sigkill_mid_recording_leaves_a_file_that_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("killed.rtt");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "sigkill_child", "--nocapture"])
        .env("HARDENING_OUT", &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    // libtest prints "running 1 test" first.
    let ready = lines.find(|l| l.as_ref().is_ok_and(|l| l.contains("recording")));
    assert!(ready.is_some(), "the child never started recording");
    std::thread::sleep(Duration::from_millis(2500));
    child.kill().unwrap(); // SIGKILL: no destructor, no end record
    child.wait().unwrap();

    let trace = Trace::open(&path).expect("a killed recording still opens");
    assert!(trace.end().is_none());
    assert!(
        trace
            .warnings()
            .iter()
            .any(|w| matches!(w, Warning::NoEndRecord | Warning::Truncated { .. })),
        "{:?}",
        trace.warnings()
    );
    // Busy threads hand over their chunks at least once a second (the default flush
    // interval), the writer writes them within 10 ms and flushes what it wrote within 100 ms:
    // the file holds the service's progress up to about a second before the kill.
    let reached = counter_max(&trace, "elapsed_ms").expect("counter events in the file");
    eprintln!("the killed recording's file reaches {reached} ms of 2500 ms");
    assert!(
        reached >= 1000,
        "the file stops at {reached} ms of a 2500 ms recording"
    );
    let m = Model::build(&trace);
    assert!(
        m.tasks.values().filter(|t| t.terminate.is_some()).count() > 100,
        "tasks in the file: {}",
        m.tasks.len()
    );
    // The viewer opens it too.
    let model = trace_analysis::model::Model::build(&trace).expect("the viewer loads it");
    assert!(!model.tasks.is_empty());
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_reported_and_the_service_keeps_running() {
    let _g = serial();
    let rt = instrumented_runtime(2);
    let session = trace_rt::start("/dev/full").unwrap();
    let done = rt.block_on(async {
        let mut done = 0u32;
        for _ in 0..2000 {
            done += tokio::spawn(async {
                tokio::task::yield_now().await;
                1
            })
            .await
            .unwrap();
        }
        done
    });
    assert_eq!(done, 2000, "the service was disturbed");
    let err = session.stop().unwrap_err().to_string();
    assert!(err.contains("/dev/full") && err.contains("space"), "{err}");
    // Recording works again afterwards, in the same process.
    let (trace, _) = common::record(|| rt.block_on(async { tokio::spawn(async {}).await }));
    assert!(Model::build(&trace).tasks.len() == 1);
}

#[test]
fn a_panicking_task_does_not_disturb_the_recording() {
    let _g = serial();
    let rt = instrumented_runtime(2);
    let (trace, results) = common::record(|| {
        rt.block_on(async {
            let mut results = Vec::new();
            for i in 0..50u32 {
                results.push(
                    tokio::spawn(async move {
                        tokio::task::yield_now().await;
                        if i % 5 == 0 {
                            panic!("task {i} fails on purpose");
                        }
                        i
                    })
                    .await,
                );
            }
            results
        })
    });
    let panicked = results
        .iter()
        .filter(|r| r.as_ref().is_err_and(|e| e.is_panic()))
        .count();
    assert_eq!(panicked, 10);
    // `common::record` has checked that nothing was lost and that every task's states tile
    // its lifetime; the panicking tasks are there, polled twice and terminated.
    let m = Model::build(&trace);
    let tasks: Vec<_> = m
        .tasks
        .values()
        .filter(|t| t.location.contains("hardening.rs"))
        .collect();
    assert_eq!(tasks.len(), 50);
    for t in tasks {
        assert_eq!(t.polls.len(), 2, "{t:?}");
        assert!(t.terminate.is_some(), "{t:?}");
    }
}

#[test]
fn dropping_the_runtime_mid_recording_ends_cleanly() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dropped.rtt");
    let session = trace_rt::start(&path).unwrap();
    let rt = instrumented_runtime(2);
    rt.block_on(async {
        // Tasks that never finish, a timer far away and a blocking call still running when
        // the runtime goes away.
        for _ in 0..10 {
            tokio::spawn(std::future::pending::<()>());
            tokio::spawn(tokio::time::sleep(Duration::from_secs(3600)));
        }
        tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(50)));
        tokio::task::yield_now().await;
    });
    let dropping = Instant::now();
    drop(rt);
    assert!(dropping.elapsed() < Duration::from_secs(10));
    // The application goes on after the runtime; the recording ends when it says so.
    let summary = session.stop().unwrap();
    assert_eq!(summary.lost_events, 0, "{summary}");
    let trace = Trace::open(&path).unwrap();
    assert!(trace.warnings().is_empty(), "{:?}", trace.warnings());
    trace.validate().unwrap();
    common::assert_analysis_partition(&trace);
    let m = Model::build(&trace);
    // Every worker and blocking thread that started also stopped (a worker is a pool
    // thread first: it starts as blocking, then as a worker).
    let mut started = std::collections::BTreeSet::new();
    let mut stopped = std::collections::BTreeSet::new();
    for r in trace.events() {
        let r = r.unwrap();
        match r.event {
            Event::ThreadStart { .. } => started.insert(r.thread),
            Event::ThreadStop => stopped.insert(r.thread),
            _ => false,
        };
    }
    assert!(started.len() >= 3, "{started:?}"); // two workers, one blocking thread
    assert_eq!(started, stopped);
    // The tasks that never finished were dropped with the runtime: each one ends.
    let pending: Vec<_> = m
        .tasks
        .values()
        .filter(|t| t.location.contains("hardening.rs"))
        .collect();
    assert!(pending.len() >= 20, "{}", pending.len());
    assert!(pending.iter().all(|t| t.terminate.is_some()), "{pending:?}");
}
