//! `check`, `report`, `mmu` and `export` agree about damage (issue 16, point 4): a byte
//! changed anywhere in a frame's payload, with the frame's checksums recomputed so that only
//! decoding can find it, is corrupt for every command (exit 1) or for none. Before they shared
//! one validation, `report` called such files "complete" (exit 0) where `check` said corrupt.
//!
//! The commands run in this process through [`trace_viewer::cli::run`], so hundreds of
//! damaged files take seconds.

use clap::Parser;
use proptest::prelude::*;
use trace_format::build::TraceBuilder;
use trace_format::frame::{FRAME_HEADER_LEN, PREAMBLE_LEN, frame_header};
use trace_format::{Event, Level, PauseScope, StringId, TaskId, TaskKind, ThreadKind, WakeSource};
use trace_viewer::cli::{self, Cli};

/// Two workers and a blocking thread, 30 tasks spawned, polled, woken and terminated, a
/// pause and a log line, in small chunks.
fn fixture() -> Vec<u8> {
    let mut b = TraceBuilder::new();
    b.chunk_capacity = 80;
    b.thread(1, "worker-0")
        .thread(2, "worker-1")
        .thread(3, "blocking-0");
    b.string(1, "gc").string(2, "app");
    for (thread, index) in [(1, 0), (2, 1)] {
        b.push(
            thread,
            1_000,
            Event::ThreadStart {
                kind: ThreadKind::Worker,
                index,
            },
        );
    }
    b.push(
        3,
        1_000,
        Event::ThreadStart {
            kind: ThreadKind::Blocking,
            index: 0,
        },
    );
    let mut t = 2_000;
    for task in 1..=30u64 {
        let worker = 1 + (task % 2) as u32;
        b.push(
            worker,
            t,
            Event::TaskSpawn {
                task: TaskId(task),
                kind: TaskKind::Async,
                tokio_id: task,
                parent: TaskId::NONE,
                location: Default::default(),
                name: StringId::NONE,
            },
        );
        b.push(worker, t + 100, Event::PollStart { task: TaskId(task) });
        b.push(worker, t + 700, Event::PollEnd { ready: false });
        b.push(
            3,
            t + 800,
            Event::Wake {
                task: TaskId(task),
                waker: TaskId::NONE,
                source: WakeSource::Blocking,
            },
        );
        b.push(worker, t + 900, Event::PollStart { task: TaskId(task) });
        b.push(worker, t + 1_200, Event::PollEnd { ready: true });
        b.push(
            worker,
            t + 1_200,
            Event::TaskTerminate { task: TaskId(task) },
        );
        t += 2_000;
    }
    b.push(
        1,
        t,
        Event::PauseBegin {
            kind: StringId(1),
            scope: PauseScope::Process,
        },
    );
    b.push(
        1,
        t + 50_000,
        Event::PauseEnd {
            kind: StringId(1),
            scope: PauseScope::Process,
        },
    );
    b.push(
        2,
        t + 60_000,
        Event::Log {
            level: Level::Warn,
            target: StringId(2),
            message: "slow",
        },
    );
    b.to_bytes()
}

/// Where every frame's payload lies: `(frame start, payload range)`.
fn payloads(bytes: &[u8]) -> Vec<(usize, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut pos = PREAMBLE_LEN;
    while pos < bytes.len() {
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        let body = pos + FRAME_HEADER_LEN;
        out.push((pos, body..body + len));
        pos = body + len;
    }
    out
}

/// Runs the command line `args` in this process: `(exit code, stdout, stderr)`.
fn run(args: &[&str]) -> (u8, String, String) {
    let cli =
        Cli::try_parse_from(std::iter::once("trace-viewer").chain(args.iter().copied())).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let code = cli::run(cli, &mut out, &mut err);
    (
        code,
        String::from_utf8(out).unwrap(),
        String::from_utf8(err).unwrap(),
    )
}

/// Every command's verdict on the file at `path`.
struct Verdicts {
    check: u8,
    report: u8,
    status: String,
    mmu: u8,
    export: u8,
    check_err: String,
}

fn verdicts(path: &str, json_out: &str) -> Verdicts {
    let (check, _, check_err) = run(&["check", path]);
    let (report, json, _) = run(&["report", path, "--json"]);
    // Nothing is printed for a file that cannot be read at all (a damaged header).
    let status = if json.is_empty() {
        "unreadable".to_string()
    } else {
        serde_json::from_str::<serde_json::Value>(&json).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (mmu, _, _) = run(&["mmu", path, "--windows", "1ms"]);
    let (export, _, _) = run(&["export", path, "--chrome", json_out]);
    Verdicts {
        check,
        report,
        status,
        mmu,
        export,
        check_err,
    }
}

#[test]
fn the_fixture_is_sound_for_every_command() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ok.rtt");
    std::fs::write(&path, fixture()).unwrap();
    let out = dir.path().join("ok.json");
    let v = verdicts(path.to_str().unwrap(), out.to_str().unwrap());
    assert_eq!(
        (v.check, v.report, v.status.as_str(), v.mmu, v.export),
        (0, 0, "complete", 0, 0),
        "{}",
        v.check_err
    );
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// A changed byte in any frame's payload, checksums recomputed: all commands agree.
    #[test]
    fn commands_agree_on_resealed_damage(frame in any::<prop::sample::Index>(),
                                         at in any::<prop::sample::Index>(),
                                         xor in 1u8..=255) {
        let mut bytes = fixture();
        let frames = payloads(&bytes);
        let (start, body) = frames[frame.index(frames.len())].clone();
        prop_assume!(!body.is_empty());
        let i = body.start + at.index(body.len());
        bytes[i] ^= xor;
        let h = frame_header(bytes[start], body.len() as u32, crc32fast::hash(&bytes[body]));
        bytes[start..start + FRAME_HEADER_LEN].copy_from_slice(&h);

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("damaged.rtt");
        std::fs::write(&path, &bytes).unwrap();
        let out = dir.path().join("out.json");
        let v = verdicts(path.to_str().unwrap(), out.to_str().unwrap());
        let what = format!("byte {i} ^ {xor:#x}: check {} ({})", v.check, v.check_err.trim());
        match v.check {
            // Corrupt for one is corrupt for all, with the same exit code.
            1 => {
                prop_assert_eq!(v.report, 1, "report: {}", what);
                prop_assert!(matches!(v.status.as_str(), "corrupt" | "unreadable"), "{}: {}", v.status, what);
                prop_assert_eq!(v.mmu, 1, "mmu: {}", what);
                prop_assert_eq!(v.export, 1, "export: {}", what);
            }
            // Sound (a changed name, a changed time): nobody calls it damaged.
            0 | 3 => {
                prop_assert_eq!(v.report, 0, "report: {}", what);
                prop_assert_eq!(v.export, 0, "export: {}", what);
                prop_assert_ne!(v.mmu, 1, "mmu: {}", what);
                // And `report` calls it complete exactly when `check` passes it.
                prop_assert_eq!(v.status == "complete", v.check == 0, "status {}: {}", v.status, what);
            }
            other => prop_assert!(false, "check exit {other}: {what}"),
        }
    }
}
