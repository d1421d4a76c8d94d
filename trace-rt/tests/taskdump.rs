//! Task dumps at stop (`--cfg tokio_taskdump`), end to end: every way of stopping records
//! where each task waits, matched to the trace's tasks, with the async fns' file and line;
//! a dump that cannot finish says so. Run as `.ci/run` does:
//!
//! ```text
//! RUSTFLAGS="--cfg tokio_unstable --cfg tokio_taskdump -C force-frame-pointers=yes" \
//!   cargo test -p trace-rt --all-features --test taskdump --target-dir target/taskdump
//! ```
#![cfg(all(tokio_unstable, tokio_taskdump))]

mod common;

use std::time::Duration;

use common::serial;
use trace_analysis::model::{Model, TaskIx};
use trace_format::Trace;

/// The number of stuck workers in the issue's scenario.
const STUCK: usize = 20;

/// Waits for a job that never comes (its sender is kept alive).
#[inline(never)]
async fn wait_for_job(mut jobs: tokio::sync::mpsc::Receiver<u32>) -> Option<u32> {
    jobs.recv().await
}

/// A long-lived watcher, alive for the whole recording by design.
#[inline(never)]
async fn watch_for_shutdown(mut shutdown: tokio::sync::watch::Receiver<bool>) {
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            return;
        }
    }
}

/// Shuts `rt` down without waiting forever: tokio 1.54's dump can leave a worker waiting
/// on its barrier for good after a worker came late to an earlier dump
/// (tokio-rs/tokio#8370), and dropping the runtime would then never return.
fn shut(rt: tokio::runtime::Runtime) {
    rt.shutdown_timeout(Duration::from_secs(1));
}

fn runtime(workers: usize) -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(workers);
    trace_rt::instrument(&mut b);
    b.enable_all().build().unwrap()
}

/// Keeps the senders alive: the tasks stay stuck until it is dropped.
struct Stuck {
    _jobs: Vec<tokio::sync::mpsc::Sender<u32>>,
    _shutdown: tokio::sync::watch::Sender<bool>,
}

/// Spawns the issue's workload on `rt`: 20 tasks stuck in `wait_for_job` and a watcher.
fn spawn_stuck(rt: &tokio::runtime::Handle) -> Stuck {
    let mut jobs = Vec::new();
    for _ in 0..STUCK {
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        jobs.push(tx);
        rt.spawn(wait_for_job(rx));
    }
    let (tx, rx) = tokio::sync::watch::channel(false);
    rt.spawn(watch_for_shutdown(rx));
    // Every task has run its first poll and waits.
    std::thread::sleep(Duration::from_millis(100));
    Stuck {
        _jobs: jobs,
        _shutdown: tx,
    }
}

/// The model's await traces: the tasks found waiting in `function`, each frame of it with
/// this file and a line.
fn waiting_in(m: &Model, function: &str) -> Vec<TaskIx> {
    m.task_ixs()
        .filter(|&t| {
            m.await_trace(t).is_some_and(|a| {
                a.backtraces.iter().flatten().any(|f| {
                    f.name().ends_with(function)
                        && f.file
                            .as_deref()
                            .is_some_and(|p| p.ends_with("taskdump.rs"))
                        && f.line > 0
                })
            })
        })
        .collect()
}

/// Checks the issue's scenario in a recorded trace.
fn assert_stuck_tasks_dumped(trace: &Trace) {
    assert_eq!(
        trace.header().feature("task_dumps"),
        Some("true"),
        "the header says the recorder takes dumps"
    );
    let m = Model::build(trace).unwrap();
    assert!(!m.task_dumps.is_empty(), "no task dump in the trace");
    // The recorder's own task, which asks for the dump, is not listed.
    for r in &m.task_dumps.runtimes {
        for t in &r.tasks {
            assert!(
                !t.backtraces
                    .iter()
                    .flatten()
                    .any(|f| f.function.contains("Handle::dump")),
                "{}",
                t.text()
            );
        }
    }
    // The trace ends when recording was switched off, before the dumps: a poll cut by the
    // stop does not read as lasting through them.
    if let Some(end) = trace.end() {
        let end = trace.to_nanos(end.end_time);
        for r in &m.task_dumps.runtimes {
            assert!(
                end <= r.time,
                "the trace ends at {end}, after a dump at {}",
                r.time
            );
        }
    }
    let stuck = waiting_in(&m, "wait_for_job");
    assert_eq!(
        stuck.len(),
        STUCK,
        "tasks waiting in wait_for_job: {stuck:?}; dumps: {:#?}",
        m.task_dumps.runtimes
    );
    for &t in &stuck {
        assert!(
            m.tasks[t.index()].spawn.is_some(),
            "matched to a spawned task"
        );
        let text = m.await_trace(t).unwrap().text();
        assert!(text.contains("wait_for_job at "), "{text}");
    }
    assert_eq!(waiting_in(&m, "watch_for_shutdown").len(), 1);
    // The dump that found them finished. (Other runtimes of this test binary, shut down
    // by earlier tests, may be recorded as gone.)
    let found = m
        .task_dumps
        .runtimes
        .iter()
        .find(|r| r.tasks.iter().any(|t| t.task == stuck[0]))
        .unwrap();
    assert_eq!(found.error, None);
}

#[test]
fn session_stop_dumps_twenty_tasks_stuck_in_wait_for_job() {
    let _g = serial();
    let rt = runtime(2);
    let sink = trace_rt::MemorySink::new();
    let session = trace_rt::Config::default()
        .start_with_sink(sink.clone())
        .unwrap();
    let stuck = spawn_stuck(rt.handle());
    session.stop().unwrap();
    let trace = Trace::from_bytes(sink.bytes()).unwrap();
    assert_stuck_tasks_dumped(&trace);
    drop(stuck);
    shut(rt);
}

/// The issue's done-when: 20 tasks stuck on a channel in a named async fn, spawned through
/// the recording (a leak grows), are one leak-suspect group whose wait site, from the
/// dump, names that fn; the watcher, alive and waiting all along, is not a suspect.
#[test]
fn leak_suspects_say_where_they_wait_and_the_watcher_is_not_one() {
    use trace_analysis::analysis::breakdown::{Breakdown, BreakdownOptions};
    let _g = serial();
    let rt = runtime(2);
    let sink = trace_rt::MemorySink::new();
    let session = trace_rt::Config::default()
        .start_with_sink(sink.clone())
        .unwrap();
    let (shutdown, rx) = tokio::sync::watch::channel(false);
    rt.spawn(watch_for_shutdown(rx));
    let mut jobs = Vec::new();
    for _ in 0..STUCK {
        std::thread::sleep(Duration::from_millis(25));
        let (tx, rx) = tokio::sync::mpsc::channel::<u32>(1);
        jobs.push(tx);
        rt.spawn(wait_for_job(rx));
    }
    // Well past the 100 ms threshold, even for a task whose first poll came late.
    std::thread::sleep(Duration::from_millis(400));
    session.stop().unwrap();
    let trace = Trace::from_bytes(sink.bytes()).unwrap();
    let m = Model::build(&trace).unwrap();
    let b = Breakdown::compute(
        &m,
        &BreakdownOptions {
            leak_threshold: 100_000_000,
            ..BreakdownOptions::default()
        },
    );
    assert_eq!(b.leak_suspect_count, 1, "{:#?}", b.leak_suspects);
    let suspect = &b.leak_suspects[0];
    assert_eq!(suspect.stuck, STUCK as u64, "{suspect:#?}");
    let site = &suspect.wait_sites[0];
    assert_eq!(site.tasks, STUCK as u64, "{:#?}", suspect.wait_sites);
    assert!(
        site.frames
            .iter()
            .any(|f| f.contains("wait_for_job at ") && f.contains("taskdump.rs:")),
        "{site:#?}"
    );
    assert!(
        suspect.oldest_waiting.iter().all(|t| t
            .waits_at
            .as_ref()
            .is_some_and(|w| w.iter().any(|f| f.contains("wait_for_job")))),
        "{suspect:#?}"
    );
    // The watcher is set apart, and says where it waits.
    assert!(
        !b.leak_suspects.iter().any(|s| s
            .wait_sites
            .iter()
            .any(|w| w.frames.iter().any(|f| f.contains("watch_for_shutdown")))),
        "{:#?}",
        b.leak_suspects
    );
    assert!(
        b.long_lived.iter().any(|l| l
            .wait_sites
            .iter()
            .any(|w| w.frames.iter().any(|f| f.contains("watch_for_shutdown")))),
        "{:#?}",
        b.long_lived
    );
    drop((jobs, shutdown));
    shut(rt);
}

#[test]
fn record_for_dumps_when_it_ends() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("record_for.rtt");
    let rt = runtime(2);
    let recording = trace_rt::record_for(Duration::from_millis(300), &path).unwrap();
    let stuck = spawn_stuck(rt.handle());
    recording.wait().unwrap();
    assert_stuck_tasks_dumped(&Trace::open(&path).unwrap());
    drop(stuck);
    shut(rt);
}

#[test]
fn a_flight_recorder_dump_holds_the_latest_task_dump() {
    let _g = serial();
    let rt = runtime(2);
    let flight = trace_rt::FlightRecorder::start(Duration::from_secs(10), 16 << 20).unwrap();
    let stuck = spawn_stuck(rt.handle());
    let mut first = Vec::new();
    flight.write_into(&mut first).unwrap();
    assert_stuck_tasks_dumped(&Trace::from_bytes(first).unwrap());
    // A second dump replaces the first one's record: still one dump per runtime.
    let mut second = Vec::new();
    flight.write_into(&mut second).unwrap();
    let trace = Trace::from_bytes(second).unwrap();
    assert_eq!(trace.task_dumps().len(), 1);
    assert_stuck_tasks_dumped(&trace);
    flight.stop().unwrap();
    drop(stuck);
    shut(rt);
}

/// With the wake layer on (it adds markers to tokio's deferred wakes by polling
/// `yield_now`), a flight-recorder dump shows where the tasks wait and nothing of the
/// recorder's: the dump is taken with recording switched off, when the layer adds none.
#[cfg(feature = "wakes")]
#[test]
fn a_dump_under_the_wake_layer_shows_no_recorder_frame() {
    use tracing_subscriber::layer::SubscriberExt;
    let _g = serial();
    // tokio's task spans take the subscriber of the thread that spawns them.
    let _subscriber = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(trace_rt::wake_layer()),
    );
    let rt = runtime(2);
    let flight = trace_rt::FlightRecorder::start(Duration::from_secs(10), 16 << 20).unwrap();
    let stuck = spawn_stuck(rt.handle());
    let mut bytes = Vec::new();
    flight.write_into(&mut bytes).unwrap();
    let trace = Trace::from_bytes(bytes).unwrap();
    assert_stuck_tasks_dumped(&trace);
    let m = Model::build(&trace).unwrap();
    for t in m.task_ixs() {
        if let Some(a) = m.await_trace(t) {
            assert!(
                !a.backtraces
                    .iter()
                    .flatten()
                    .any(|f| f.function.contains("trace_rt::")),
                "{}",
                a.text()
            );
        }
    }
    flight.stop().unwrap();
    drop(stuck);
    shut(rt);
}

#[cfg(feature = "http")]
#[test]
fn an_http_recording_dumps_when_it_ends() {
    let _g = serial();
    let rt = runtime(2);
    let server = trace_rt::http::serve(
        trace_rt::http::Options::default().addr("127.0.0.1:0".parse().unwrap()),
    )
    .unwrap();
    let url = format!("http://{}/debug/trace?seconds=0.5", server.local_addr());
    let client = std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut r = agent.get(&url).call().unwrap();
        r.body_mut()
            .with_config()
            .limit(1 << 30)
            .read_to_vec()
            .unwrap()
    });
    // The tasks are spawned while the request records, so the trace has their spawns.
    while !trace_rt::is_recording() {
        std::thread::sleep(Duration::from_millis(5));
    }
    let stuck = spawn_stuck(rt.handle());
    let bytes = client.join().unwrap();
    assert_stuck_tasks_dumped(&Trace::from_bytes(bytes).unwrap());
    drop(server);
    drop(stuck);
    shut(rt);
}

/// Run as a child process by `the_environment_recording_dumps_when_it_ends`.
#[test]
#[ignore = "child process of the_environment_recording_dumps_when_it_ends"]
fn env_child() {
    let rt = runtime(2);
    let stuck = spawn_stuck(rt.handle());
    // TRACE_RT_SECONDS ends the recording while the tasks are stuck.
    trace_rt::env_recording()
        .expect("env recording")
        .wait()
        .unwrap();
    drop(stuck);
    shut(rt);
}

#[test]
fn the_environment_recording_dumps_when_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("env.rtt");
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--ignored", "--exact", "env_child", "--nocapture"])
        .env("TRACE_RT_OUT", &path)
        .env("TRACE_RT_SECONDS", "0.5")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "child failed: {stderr}");
    assert_stuck_tasks_dumped(&Trace::open(&path).unwrap());
}

/// Stopping from inside a task of a current-thread runtime: its only thread is the caller,
/// so the dump is taken in place (waiting for a spawned task would deadlock).
#[test]
fn stopping_from_a_current_thread_task_does_not_deadlock() {
    let _g = serial();
    let mut b = tokio::runtime::Builder::new_current_thread();
    trace_rt::instrument(&mut b);
    let rt = b.enable_all().build().unwrap();
    let sink = trace_rt::MemorySink::new();
    let session = trace_rt::Config::default()
        .start_with_sink(sink.clone())
        .unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel::<u32>(1);
    rt.block_on(async move {
        tokio::spawn(wait_for_job(rx));
        tokio::task::yield_now().await;
        tokio::spawn(async move { session.stop().unwrap() })
            .await
            .unwrap();
    });
    let trace = Trace::from_bytes(sink.bytes()).unwrap();
    let m = Model::build(&trace).unwrap();
    assert_eq!(waiting_in(&m, "wait_for_job").len(), 1);
    drop(tx);
}

/// Stopping from a worker of the multi-thread runtime being dumped: tokio's dump needs
/// every worker, so the stopping worker hands its work over while it waits.
#[test]
fn stopping_from_a_worker_does_not_deadlock() {
    let _g = serial();
    let rt = runtime(2);
    let sink = trace_rt::MemorySink::new();
    let session = trace_rt::Config::default()
        .start_with_sink(sink.clone())
        .unwrap();
    let stuck = spawn_stuck(rt.handle());
    rt.block_on(async move {
        tokio::spawn(async move { session.stop().unwrap() })
            .await
            .unwrap();
    });
    assert_stuck_tasks_dumped(&Trace::from_bytes(sink.bytes()).unwrap());
    drop(stuck);
    shut(rt);
}

/// A runtime whose only worker is blocked cannot dump: the stop gives up after the timeout
/// and the trace says so.
#[test]
fn a_dump_of_a_blocked_runtime_times_out_and_the_trace_says_so() {
    let _g = serial();
    let rt = runtime(1);
    let sink = trace_rt::MemorySink::new();
    let session = trace_rt::Config::default()
        .task_dump_timeout(Duration::from_millis(300))
        .start_with_sink(sink.clone())
        .unwrap();
    let (blocked_tx, blocked_rx) = std::sync::mpsc::channel::<()>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    rt.spawn(async move {
        blocked_tx.send(()).unwrap();
        // Blocks the worker (not a task that waits): tokio cannot dump this runtime.
        let _ = release_rx.recv_timeout(Duration::from_secs(30));
    });
    blocked_rx.recv().unwrap();
    session.stop().unwrap();
    release_tx.send(()).unwrap();
    shut(rt);
    let trace = Trace::from_bytes(sink.bytes()).unwrap();
    let m = Model::build(&trace).unwrap();
    let failed: Vec<_> = m
        .task_dumps
        .failures()
        .filter(|r| r.error.as_deref().is_some_and(|e| e.contains("timed out")))
        .collect();
    assert_eq!(failed.len(), 1, "{:#?}", m.task_dumps.runtimes);
    let why = failed[0].error.as_deref().unwrap();
    assert!(why.contains("timed out"), "{why}");
    assert!(failed[0].tasks.is_empty());
}
