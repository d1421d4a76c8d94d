//! A recording started from the environment (`TRACE_RT_OUT`, `TRACE_RT_SECONDS`) ends with
//! an end record however `main` ends: dropping the runtime, `shutdown_timeout`,
//! `shutdown_background`, returning from `main` with the runtime still running,
//! `std::process::exit` (from `main` or from a task), a panic in `main`, or a current-thread
//! runtime (which has no worker thread to watch).
//!
//! This test has no libtest harness: the same binary is the parent, which runs each ending
//! as a child process and reads the child's trace back, and the child (`ENV_END_MODE` set),
//! whose `main` really returns or exits the way a service would.

use std::process::Command;
use std::time::Duration;

use trace_format::{Event, Trace};

const MODES: &[&str] = &[
    "drop",
    "shutdown_timeout",
    "shutdown_background",
    "return_running",
    "exit_from_main",
    "exit_from_task",
    "panic",
    "current_thread",
];

/// Counter names whose last value the child prints and the parent looks for.
const LAST_MAIN: &str = "env_end.last_main";
const LAST_TASK: &str = "env_end.last_task";

fn main() {
    match std::env::var("ENV_END_MODE") {
        Ok(mode) => child(&mode),
        Err(_) => parent(),
    }
}

/// A service that runs briefly, then ends the way `mode` says.
fn child(mode: &str) {
    let current_thread = mode == "current_thread";
    let mut b = if current_thread {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    };
    trace_rt::instrument(&mut b);
    let rt = b.enable_all().build().unwrap();
    assert!(
        trace_rt::is_recording(),
        "TRACE_RT_OUT started no recording"
    );
    let exit_from_task = mode == "exit_from_task";
    rt.block_on(async move {
        for round in 0..50u64 {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..8 {
                set.spawn(async { tokio::time::sleep(Duration::from_micros(500)).await });
            }
            set.join_all().await;
            trace_rt::counter(LAST_MAIN, round as i64);
        }
        // The last event of the run on a worker (or, for exit_from_task, the last event at
        // all), then the last one on the thread running `main`.
        let task = tokio::spawn(async move {
            trace_rt::counter(LAST_TASK, 7);
            if exit_from_task {
                std::process::exit(0);
            }
        });
        task.await.unwrap();
        trace_rt::counter(LAST_MAIN, 1000);
    });
    // A blocking call still running when the runtime goes away (shutdown_timeout does not
    // wait for it; a plain drop would).
    if mode == "shutdown_timeout" || mode == "shutdown_background" {
        rt.spawn_blocking(|| std::thread::sleep(Duration::from_secs(30)));
    }
    match mode {
        "drop" => {
            drop(rt);
            // The last worker's stop hook ended the recording before the drop returned.
            assert!(!trace_rt::is_recording(), "still recording after the drop");
        }
        "current_thread" => drop(rt),
        "shutdown_timeout" => rt.shutdown_timeout(Duration::from_millis(1)),
        "shutdown_background" => rt.shutdown_background(),
        "return_running" => std::mem::forget(rt),
        "exit_from_main" => std::process::exit(0),
        "panic" => panic!("the service failed (on purpose)"),
        other => panic!("unknown ENV_END_MODE {other}"),
    }
}

/// The last value of the counter named `name`.
fn last_counter(trace: &Trace, name: &str) -> Option<i64> {
    let id = trace
        .strings()
        .find_map(|(id, s)| (s == name).then_some(id))?;
    trace
        .events()
        .filter_map(|r| match r.ok()?.event {
            Event::Counter { name, value } if name == id => Some(value),
            _ => None,
        })
        .last()
}

fn parent() {
    let dir = tempfile::tempdir().unwrap();
    let mut failures = Vec::new();
    for &mode in MODES {
        let path = dir.path().join(format!("{mode}.rtt"));
        let out = Command::new(std::env::current_exe().unwrap())
            .env("ENV_END_MODE", mode)
            .env("TRACE_RT_OUT", &path)
            .env("TRACE_RT_SECONDS", "20")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let want_code = if mode == "panic" { 101 } else { 0 };
        let result = (|| {
            if out.status.code() != Some(want_code) {
                return Err(format!("child exited with {}", out.status));
            }
            let trace = Trace::open(&path).map_err(|e| format!("unreadable: {e}"))?;
            if trace.end().is_none() {
                return Err("trace has no end record".into());
            }
            if !trace.warnings().is_empty() {
                return Err(format!("warnings: {:?}", trace.warnings()));
            }
            trace.validate().map_err(|e| format!("invalid: {e}"))?;
            let end = trace.end().expect("checked");
            if end.lost_events != 0 {
                return Err(format!("{} events lost", end.lost_events));
            }
            if last_counter(&trace, LAST_TASK) != Some(7) {
                return Err("the task's last event is missing".into());
            }
            // exit_from_task ends the process before `main` records its last value.
            let want_main = if mode == "exit_from_task" { 49 } else { 1000 };
            let got = last_counter(&trace, LAST_MAIN);
            if got != Some(want_main) {
                return Err(format!("main's last event: {got:?}, expected {want_main}"));
            }
            Ok(())
        })();
        match result {
            Ok(()) => println!("env_end {mode} ... ok"),
            Err(e) => {
                println!("env_end {mode} ... FAILED: {e}\n  child stderr: {stderr}");
                failures.push(mode);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "endings without a whole trace: {failures:?}"
    );
    println!("env_end: {} endings, all whole", MODES.len());
}
