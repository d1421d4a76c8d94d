//! End-to-end tests of the analysis commands (`report`'s analysis part and `mmu`) through the
//! real binary, on traces built so every number is known. The MMU values of the reference
//! series (per window, worst windows, percentiles, per worker, text) are golden files:
//! `tests/testdata/mmu_reference_*.txt`, run by `tests/golden.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use trace_format::build::TraceBuilder;
use trace_format::{Event, LocationId, PauseScope, StringId, TaskId, TaskKind, ThreadKind};

const BIN: &str = env!("CARGO_BIN_EXE_trace-viewer");
const S: u64 = 1_000_000_000;

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(BIN)
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("the binary runs")
}

fn json(o: &Output) -> serde_json::Value {
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("valid JSON")
}

fn write(dir: &Path, name: &str, b: &TraceBuilder) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, b.to_bytes()).unwrap();
    path
}

/// The MMU's reference series (trace-viewer/README.md, "What the MMU measures"): one worker,
/// utilization 1,0,1,0,1 over five 1 s steps (two process-wide "stw" pauses), a task that
/// finishes and one that never wakes again.
fn reference_trace() -> TraceBuilder {
    let mut b = TraceBuilder::new();
    b.string(1, "stw")
        .location(1, "src/app.rs", 10, 9)
        .location(2, "src/leak.rs", 3, 5);
    b.push(
        1,
        0,
        Event::ThreadStart {
            kind: ThreadKind::Worker,
            index: 0,
        },
    );
    for (task, location) in [(1, 1), (2, 2)] {
        b.push(
            1,
            0,
            Event::TaskSpawn {
                task: TaskId(task),
                kind: TaskKind::Async,
                tokio_id: task,
                parent: TaskId::NONE,
                location: LocationId(location),
                name: StringId::NONE,
            },
        );
    }
    b.push(1, 100, Event::PollStart { task: TaskId(1) });
    b.push(1, 200, Event::TaskTerminate { task: TaskId(1) });
    b.push(1, 300, Event::PollEnd { ready: true });
    b.push(1, 400, Event::PollStart { task: TaskId(2) });
    b.push(1, 500, Event::PollEnd { ready: false });
    for start in [S, 3 * S] {
        b.push(
            2,
            start,
            Event::PauseBegin {
                kind: StringId(1),
                scope: PauseScope::Process,
            },
        );
        b.push(
            2,
            start + S,
            Event::PauseEnd {
                kind: StringId(1),
                scope: PauseScope::Process,
            },
        );
    }
    b.push(1, 5 * S, Event::WorkerPark);
    b
}

#[test]
fn mmu_errors_are_clear() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = TraceBuilder::new();
    b.push(1, 0, Event::PollStart { task: TaskId(1) });
    b.push(1, 10, Event::PollEnd { ready: true });
    let path = write(dir.path(), "noworkers.rtt", &b);
    let o = run(&[&"mmu", &path]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no tokio worker threads"));
    let o = run(&[&"mmu", &path, &"--windows", &"10"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("no unit"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Bad windows are usage errors (exit 2) with a message that says what is wrong, never an
/// MMU of 0 from a window of 0 ns.
#[test]
fn mmu_rejects_bad_windows_with_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "ref.rtt", &reference_trace());
    for (windows, want) in [
        ("0ms", "at least 1 ns"),
        ("1ms,0s", "at least 1 ns"),
        ("0.0000001ns", "less than 1 ns"),
        (" -1ms", "negative"),
        (",,,", "empty item"),
        ("1ms,,2ms", "empty item"),
    ] {
        let o = run(&[&"mmu", &path, &"--windows", &windows]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{windows:?}: {err}");
        assert!(err.contains(want), "{windows:?}: {err}");
        assert!(o.stdout.is_empty(), "{windows:?}");
    }
}

#[test]
fn report_json_has_breakdown_leaks_threads_pauses_and_mmu() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "ref.rtt", &reference_trace());
    let v = json(&run(&[&"report", &path, &"--json"]));
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["coverage"]["tasks"], true);
    assert_eq!(v["coverage"]["wakes"], false);
    let groups = v["breakdown"]["groups"].as_array().unwrap();
    let app = groups
        .iter()
        .find(|g| g["label"] == "src/app.rs:10:9")
        .unwrap();
    assert_eq!(app["tasks"], 1);
    assert_eq!(app["states"]["running"]["total"], 200);
    assert_eq!(app["states"]["sched_wait"]["total"], 100);
    let leak = groups
        .iter()
        .find(|g| g["label"] == "src/leak.rs:3:5")
        .unwrap();
    assert_eq!(
        (
            leak["alive_at_end"].as_u64(),
            leak["leak_suspects"].as_u64()
        ),
        (Some(1), Some(0))
    );
    // Waiting from 500 ns to 5 s, of which 2 s paused.
    assert_eq!(leak["states"]["paused"]["total"], 2 * S);
    assert_eq!(leak["states"]["wait_unknown"]["total"], 5 * S - 500 - 2 * S);
    // One task alive and waiting the whole recording: long-lived, not a leak suspect.
    assert_eq!(v["breakdown"]["leak_suspect_count"], 0);
    assert_eq!(v["breakdown"]["long_lived_count"], 1);
    assert_eq!(v["breakdown"]["long_lived"][0]["group"], "src/leak.rs:3:5");
    assert_eq!(v["breakdown"]["pauses"][0]["kind"], "stw");
    assert_eq!(v["breakdown"]["pauses"][0]["count"], 2);
    assert_eq!(v["breakdown"]["threads"][0]["thread"], "worker 0");
    assert_eq!(v["mmu"]["mean"], 0.6);
    assert_eq!(v["mmu"]["windows"][3]["window"], S);
    assert_eq!(v["mmu"]["windows"][3]["mmu"], 0.0);

    let strict = json(&run(&[
        &"report",
        &path,
        &"--json",
        &"--leak-threshold",
        &"10s",
    ]));
    assert_eq!(strict["breakdown"]["long_lived_count"], 0);
    let text = run(&[&"report", &path]);
    let out = String::from_utf8(text.stdout).unwrap();
    for want in [
        "tasks by spawn location (2 tasks in 2 groups",
        "leak suspects (groups whose alive tasks grew, with tasks waiting ≥ 1 s): 0",
        "long-lived tasks (alive at the end, waiting ≥ 1 s, in groups that are not leak \
         suspects): 1\n  src/leak.rs:3:5  1 task waiting 5 s\n      one task, alive the \
         whole recording",
        "stw   process      2",
        "MMU   1 ms: 0.000",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
}

/// Two workers that start after the trace began and stop before it ends (a runtime built
/// late and shut down early), no pause: the MMU is 1 at every window, not 0 after shutdown.
#[test]
fn a_runtime_that_starts_late_and_shuts_down_is_not_a_pause() {
    let mut b = TraceBuilder::new();
    b.location(1, "src/app.rs", 10, 9);
    b.push(
        9,
        0,
        Event::ThreadStart {
            kind: ThreadKind::Other,
            index: 0,
        },
    );
    for (thread, index) in [(1, 0), (2, 1)] {
        b.push(
            thread,
            100_000_000 + thread as u64,
            Event::ThreadStart {
                kind: ThreadKind::Worker,
                index,
            },
        );
        b.push(thread, 200_000_000, Event::PollStart { task: TaskId(1) });
        b.push(thread, 200_100_000, Event::PollEnd { ready: false });
        b.push(thread, 2 * S + thread as u64, Event::ThreadStop);
    }
    b.push(9, 3 * S, Event::WorkerPark);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "shutdown.rtt", &b);
    let v = json(&run(&[&"report", &path, &"--json"]));
    for w in v["mmu"]["windows"].as_array().unwrap() {
        assert_eq!(w["mmu"], 1.0, "{:#}", v["mmu"]);
    }
    assert_eq!(v["mmu"]["mean"], 1.0);
    assert_eq!(v["mmu"]["mud"]["worst"], 1.0);
    let text = String::from_utf8(run(&[&"report", &path]).stdout).unwrap();
    assert!(
        text.contains("MMU   1 ms: 1.000   10 ms: 1.000   100 ms: 1.000   1 s: 1.000"),
        "{text}"
    );
    let m = json(&run(&[
        &"mmu",
        &path,
        &"--windows",
        &"1us,1ms,1s,10s",
        &"--json",
    ]));
    for w in m["windows"].as_array().unwrap() {
        assert_eq!(w["mmu"], 1.0, "{m:#}");
    }
}

/// A worker held by one 30 ms poll in a 100 ms trace of 2 workers: 15 % of worker time. The
/// text report says so right under the file summary, with the longest poll and the MMU with
/// long polls counted as unavailable; the JSON has the same numbers. A trace without long
/// polls has no such block.
#[test]
fn report_names_long_polls_on_its_first_screen() {
    let mut b = TraceBuilder::new();
    b.location(1, "src/slow.rs", 7, 5);
    for (thread, index) in [(1, 0), (2, 1)] {
        b.push(
            thread,
            0,
            Event::ThreadStart {
                kind: ThreadKind::Worker,
                index,
            },
        );
    }
    b.push(
        1,
        0,
        Event::TaskSpawn {
            task: TaskId(1),
            kind: TaskKind::Async,
            tokio_id: 1,
            parent: TaskId::NONE,
            location: LocationId(1),
            name: StringId::NONE,
        },
    );
    b.push(1, 10_000_000, Event::PollStart { task: TaskId(1) });
    b.push(1, 40_000_000, Event::PollEnd { ready: false });
    b.push(2, 50_000_000, Event::PollStart { task: TaskId(1) });
    b.push(2, 50_200_000, Event::PollEnd { ready: true });
    b.push(1, 100_000_000, Event::WorkerPark);
    b.push(2, 100_000_000, Event::WorkerPark);
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "long.rtt", &b);

    let v = json(&run(&[&"report", &path, &"--json"]));
    let m = &v["mmu"];
    assert_eq!(m["windows"][0]["mmu"], 1.0, "no pause: {m:#}");
    assert_eq!(m["long_polls_noticeable"], true);
    let long = &m["long_polls"];
    assert_eq!(long["threshold_ns"], 1_000_000);
    assert_eq!(long["worker_ns"], 200_000_000);
    assert_eq!(long["long_poll_ns"], 30_000_000);
    assert_eq!(long["share"], 0.15);
    assert_eq!(long["count"], 1);
    assert_eq!(long["worst"]["location"], "src/slow.rs:7:5");
    assert_eq!(long["worst"]["thread"], "worker 0");
    assert_eq!(long["worst"]["start_ns"], 10_000_000);
    assert_eq!(long["worst"]["duration_ns"], 30_000_000);
    let r = &m["responsiveness"];
    assert_eq!(r["long_poll_ns"], 1_000_000);
    assert_eq!(r["windows"][0]["mmu"], 0.5);
    assert_eq!(r["windows"][1]["mmu"], 0.5);

    let text = String::from_utf8(run(&[&"report", &path]).stdout).unwrap();
    let block = "\nlong polls: 15.0% of worker time was inside polls longer than 1 ms (1 poll)\n  \
                 longest: 30 ms, task src/slow.rs:7:5 #1 on worker 0 at 10 ms\n  \
                 MMU with them unavailable   1 ms: 0.500  10 ms: 0.500  100 ms: 0.850  1 s: 0.850\n  \
                 MMU of pauses alone         1 ms: 1.000  10 ms: 1.000  100 ms: 1.000  1 s: 1.000\n";
    let at = text
        .find(block)
        .unwrap_or_else(|| panic!("no long-poll block in\n{text}"));
    let status = text.find("\nstatus ").expect("a status line");
    let threads = text.find("\nthreads (").expect("a threads section");
    assert!(
        status < at && at < threads,
        "not right under the summary:\n{text}"
    );

    // The reference trace's polls are under 1 µs: nothing to say on the first screen.
    let quiet = write(dir.path(), "ref.rtt", &reference_trace());
    let text = String::from_utf8(run(&[&"report", &quiet]).stdout).unwrap();
    assert!(!text.contains("long polls:"), "{text}");
    assert!(
        text.contains("0.0% of worker time was inside polls longer than 1 ms (0 polls)"),
        "{text}"
    );
}
