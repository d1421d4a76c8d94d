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

/// DESIGN.md's reference series: one worker, utilization 1,0,1,0,1 over five 1 s steps (two
/// process-wide "stw" pauses), a task that finishes and one that never wakes again.
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
        (Some(1), Some(1))
    );
    // Waiting from 500 ns to 5 s, of which 2 s paused.
    assert_eq!(leak["states"]["paused"]["total"], 2 * S);
    assert_eq!(leak["states"]["wait_unknown"]["total"], 5 * S - 500 - 2 * S);
    assert_eq!(v["breakdown"]["leak_suspect_count"], 1);
    assert_eq!(
        v["breakdown"]["leak_suspects"][0]["group"],
        "src/leak.rs:3:5"
    );
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
    assert_eq!(strict["breakdown"]["leak_suspect_count"], 0);
    let text = run(&[&"report", &path]);
    let out = String::from_utf8(text.stdout).unwrap();
    for want in [
        "tasks by spawn location (2 tasks in 2 groups",
        "leak suspects (alive at the end, waiting ≥ 1 s): 1",
        "stw   process      2",
        "MMU   1 ms: 0.000",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
}
