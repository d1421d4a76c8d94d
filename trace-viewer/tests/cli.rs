//! End-to-end tests of the `trace-viewer` binary: fixture traces built with `TraceBuilder`,
//! written to a temporary directory, damaged on purpose, and run through the real executable
//! to check exit codes and output.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use trace_format::build::TraceBuilder;
use trace_format::{Event, Level, PauseScope, StringId, TaskId, TaskKind, ThreadKind, WakeSource};

const BIN: &str = env!("CARGO_BIN_EXE_trace-viewer");

/// Runs the binary without a display, so `trace-viewer FILE` can never open a window here.
fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(BIN)
        .args(args.iter().map(|a| a.as_ref()))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("the binary runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("stderr is UTF-8")
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally, not by a signal")
}

/// Asserts the process neither panicked nor printed a backtrace.
fn no_panic(o: &Output) {
    let err = stderr(o);
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(code(o) != 101, "exit 101 is a panic: {err}");
}

/// A small but varied trace: two workers and a blocking thread, tasks spawned, polled, woken
/// and terminated, a pause, a log line and a counter; small chunks so there are many.
/// Returns the builder and the number of events of each kind it holds.
fn fixture() -> (TraceBuilder, BTreeMap<&'static str, u64>) {
    let mut b = TraceBuilder::new();
    b.chunk_capacity = 96;
    b.header.process_name = "fixture-service".into();
    b.header.process_id = 4242;
    b.header.wall_clock_unix_nanos = 1_700_000_000_000_000_000;
    b.header.features = vec![("tokio_unstable".into(), "true".into())];
    b.thread(1, "tokio-worker-0")
        .thread(2, "tokio-worker-1")
        .thread(3, "tokio-blocking-0");
    b.string(1, "compaction")
        .string(2, "app")
        .string(3, "requests");

    let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut push = |b: &mut TraceBuilder, thread: u32, time: u64, e: Event<'_>| {
        *kinds.entry(e.kind_name()).or_default() += 1;
        b.push(thread, time, e);
    };
    for (thread, index) in [(1, 0), (2, 1)] {
        push(
            &mut b,
            thread,
            1_000,
            Event::ThreadStart {
                kind: ThreadKind::Worker,
                index,
            },
        );
    }
    push(
        &mut b,
        3,
        1_500,
        Event::ThreadStart {
            kind: ThreadKind::Blocking,
            index: 0,
        },
    );
    let mut t = 2_000u64;
    for task in 1..=40u64 {
        let worker = 1 + (task % 2) as u32;
        push(
            &mut b,
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
        for round in 0..3 {
            push(
                &mut b,
                worker,
                t + 100,
                Event::PollStart { task: TaskId(task) },
            );
            push(
                &mut b,
                worker,
                t + 900,
                Event::PollEnd { ready: round == 2 },
            );
            if round < 2 {
                push(
                    &mut b,
                    3,
                    t + 1_200,
                    Event::Wake {
                        task: TaskId(task),
                        waker: TaskId::NONE,
                        source: WakeSource::Blocking,
                    },
                );
            }
            t += 1_500;
        }
        push(
            &mut b,
            worker,
            t,
            Event::TaskTerminate { task: TaskId(task) },
        );
        t += 10_000;
    }
    push(
        &mut b,
        1,
        t,
        Event::PauseBegin {
            kind: StringId(1),
            scope: PauseScope::Process,
        },
    );
    push(
        &mut b,
        1,
        t + 5_000_000,
        Event::PauseEnd {
            kind: StringId(1),
            scope: PauseScope::Process,
        },
    );
    push(
        &mut b,
        2,
        t + 5_000_100,
        Event::Log {
            level: Level::Info,
            target: StringId(2),
            message: "served a request",
        },
    );
    push(
        &mut b,
        2,
        t + 5_000_200,
        Event::Counter {
            name: StringId(3),
            value: 41,
        },
    );
    (b, kinds)
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", stdout(o)))
}

#[test]
fn check_accepts_a_valid_trace() {
    let dir = tempfile::tempdir().unwrap();
    let (b, kinds) = fixture();
    let bytes = b.to_bytes();
    let path = write(dir.path(), "ok.rtt", &bytes);
    let total: u64 = kinds.values().sum();
    let size = bytes.len();
    let chunks = trace_format::Trace::from_bytes(bytes)
        .unwrap()
        .chunks()
        .len();
    assert!(chunks > 10, "the fixture should span many chunks");

    let o = run(&[&"check", &path]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let out = stdout(&o);
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some(format!("ok: {total} events, {chunks} chunks, 3 threads, 5.58 ms").as_str())
    );
    // Then where the bytes go (no samples: no per-sample line).
    let bytes_line = lines.next().unwrap_or_default();
    assert!(
        bytes_line.starts_with(&format!("bytes: {size} in all: events ")),
        "{out}"
    );
    assert_eq!(lines.next(), None, "{out}");
    assert_eq!(stderr(&o), "");
}

#[test]
fn report_describes_a_valid_trace() {
    let dir = tempfile::tempdir().unwrap();
    let (b, kinds) = fixture();
    let path = write(dir.path(), "ok.rtt", &b.to_bytes());
    let total: u64 = kinds.values().sum();

    let o = run(&[&"report", &path]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    for want in [
        "process    fixture-service (pid 4242)\n",
        "started    2023-11-14T22:13:20.000Z\n",
        "duration   5.58 ms (first event at 1 µs, last at 5.58 ms)\n",
        "features   tokio_unstable=true\n",
        "lost data  none\n",
        "status     complete\n",
        "threads (3)\n",
        "tokio-blocking-0  blocking 0",
        "warnings (0)\n  none\n",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert!(text.contains(&format!("events     {total} (")), "{text}");
    assert!(
        text.contains(&format!("  poll_start      {:>3}", kinds["poll_start"])),
        "{text}"
    );
    assert_eq!(stderr(&o), "");
}

#[test]
fn report_json_has_the_right_counts() {
    let dir = tempfile::tempdir().unwrap();
    let (b, kinds) = fixture();
    let bytes = b.to_bytes();
    let path = write(dir.path(), "ok.rtt", &bytes);

    let o = run(&[&"report", &path, &"--json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v = json(&o);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["file"]["size_bytes"], bytes.len() as u64);
    assert_eq!(v["file"]["valid_bytes"], bytes.len() as u64);
    assert_eq!(v["process"]["name"], "fixture-service");
    assert_eq!(v["process"]["pid"], 4242);
    assert_eq!(v["wall_clock_start"], "2023-11-14T22:13:20.000000000Z");
    assert_eq!(v["clock"]["source"], "monotonic");
    assert_eq!(v["features"]["tokio_unstable"], "true");
    assert_eq!(v["events"], kinds.values().sum::<u64>());
    let by_kind: BTreeMap<String, u64> =
        serde_json::from_value(v["events_by_kind"].clone()).unwrap();
    let expected: BTreeMap<String, u64> = kinds.iter().map(|(k, n)| (k.to_string(), *n)).collect();
    assert_eq!(by_kind, expected);
    assert_eq!(v["first_event_ns"], 1_000);
    assert_eq!(
        v["duration_ns"],
        v["last_event_ns"].as_u64().unwrap() - 1_000
    );
    let threads = v["threads"].as_array().unwrap();
    let names: Vec<&str> = threads
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["tokio-worker-0", "tokio-worker-1", "tokio-blocking-0"]
    );
    assert_eq!(threads[1]["kind"], "worker");
    assert_eq!(threads[1]["index"], 1);
    let per_thread: u64 = threads.iter().map(|t| t["events"].as_u64().unwrap()).sum();
    assert_eq!(per_thread, v["events"].as_u64().unwrap());
    assert_eq!(v["lost"]["events"], 0);
    assert_eq!(v["end_record"]["events"], v["events"]);
    assert_eq!(v["warnings"].as_array().unwrap().len(), 0);
    assert!(v["error"].is_null());
    assert_eq!(v["complete"], true);
}

#[test]
fn truncated_trace_fails_check_but_reports() {
    let dir = tempfile::tempdir().unwrap();
    let (b, _) = fixture();
    let bytes = b.to_bytes();
    let cut = &bytes[..bytes.len() - 40];
    let path = write(dir.path(), "cut.rtt", cut);

    let o = run(&[&"check", &path]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.starts_with("error: incomplete trace ("), "{err}");
    assert!(err.contains("cut short"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert_eq!(stdout(&o), "");

    let o = run(&[&"report", &path]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("  - trace is cut short: read up to byte"),
        "{text}"
    );
    assert!(
        text.contains("status     cut: the recording did not finish"),
        "{text}"
    );
    assert!(text.contains("not read"), "{text}");

    let o = run(&[&"report", &"--json", &path]);
    assert_eq!(code(&o), 0);
    let v = json(&o);
    assert_eq!(v["warnings"][0]["kind"], "truncated");
    assert_eq!(v["status"], "cut");
    assert_eq!(v["complete"], false);
    assert!(v["end_record"].is_null());
    assert!(v["file"]["valid_bytes"].as_u64() < v["file"]["size_bytes"].as_u64());
}

#[test]
fn trace_without_end_record_is_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let (b, _) = fixture();
    let path = write(dir.path(), "unfinished.rtt", &b.write(false));
    let o = run(&[&"check", &path]);
    assert_eq!(code(&o), 3);
    assert!(stderr(&o).contains("no end record"), "{}", stderr(&o));
}

#[test]
fn corrupt_trace_is_an_error_with_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let (b, kinds) = fixture();
    let mut bytes = b.to_bytes();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5A;
    let path = write(dir.path(), "bad.rtt", &bytes);

    let o = run(&[&"check", &path]);
    assert_eq!(code(&o), 1);
    let err = stderr(&o);
    assert!(err.starts_with("error: corrupt trace at byte "), "{err}");
    assert!(err.contains("checksum mismatch"), "{err}");
    assert_eq!(stdout(&o), "");

    // report prints what it could read before the damage, then the error.
    let o = run(&[&"report", &path]);
    no_panic(&o);
    assert_eq!(code(&o), 1);
    assert!(stderr(&o).starts_with("error: corrupt trace at byte "));
    let text = stdout(&o);
    assert!(text.contains("status     corrupt"), "{text}");
    assert!(text.contains(", read up to byte "), "{text}");
    // The missing end record is explained by the error, not warned about separately.
    assert!(text.contains("warnings (0)"), "{text}");
    assert!(text.contains("\nerror\n  corrupt trace at byte "), "{text}");

    let o = run(&[&"report", &path, &"--json"]);
    assert_eq!(code(&o), 1);
    let v = json(&o);
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .starts_with("corrupt trace at byte ")
    );
    let read = v["events"].as_u64().unwrap();
    assert!(read > 0 && read < kinds.values().sum::<u64>(), "{read}");
    assert_eq!(v["complete"], false);
}

#[test]
fn lost_data_is_shown() {
    let dir = tempfile::tempdir().unwrap();
    let (mut b, _) = fixture();
    b.push(
        2,
        9_000_000,
        Event::Lost {
            chunks: 3,
            events: 1_200,
        },
    );
    b.push(
        1,
        9_000_000,
        Event::Lost {
            chunks: 1,
            events: 34,
        },
    );
    let path = write(dir.path(), "lossy.rtt", &b.to_bytes());

    let o = run(&[&"check", &path]);
    assert_eq!(code(&o), 3);
    assert!(
        stderr(&o).contains("dropped 4 chunk(s) with 1234 event(s)"),
        "{}",
        stderr(&o)
    );

    let o = run(&[&"report", &path]);
    assert_eq!(code(&o), 0);
    let text = stdout(&o);
    assert!(
        text.contains("lost data  4 chunks with 1234 events dropped (2 lost events reporting"),
        "{text}"
    );

    let v = json(&run(&[&"report", &path, &"--json"]));
    assert_eq!(v["lost"]["events"], 1_234);
    assert_eq!(v["lost"]["chunks"], 4);
    assert_eq!(v["lost"]["from_lost_events"]["records"], 2);
    assert_eq!(v["events_by_kind"]["lost"], 2);
    assert_eq!(v["threads"][1]["lost_events"], 1_200);
    assert_eq!(v["warnings"][0]["kind"], "lost_data");
}

#[test]
fn not_a_trace_gets_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let junk: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let path = write(dir.path(), "junk.bin", &junk);
    for cmd in ["check", "report"] {
        let o = run(&[&cmd, &path]);
        no_panic(&o);
        assert_eq!(code(&o), 1, "{cmd}");
        assert_eq!(
            stderr(&o),
            "error: not a trace-rt trace (the file does not start with \"TRACE-RT\")\n"
        );
    }
}

#[test]
fn missing_file_gets_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("does-not-exist.rtt");
    for cmd in ["check", "report"] {
        let o = run(&[&cmd, &path]);
        assert_eq!(code(&o), 1, "{cmd}");
        let err = stderr(&o);
        assert!(err.starts_with("error: cannot read "), "{err}");
        assert!(err.contains("does-not-exist.rtt"), "{err}");
        assert!(err.contains("No such file"), "{err}");
    }
}

#[test]
fn empty_file_directory_and_garbage_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let empty = write(dir.path(), "empty.rtt", b"");
    let short = write(dir.path(), "short.rtt", b"TRACE-");
    let (b, _) = fixture();
    let bytes = b.to_bytes();
    let header_only = write(dir.path(), "header.rtt", &bytes[..40]);
    for (path, want) in [
        (empty.as_path(), "cut short inside its header"),
        (short.as_path(), "cut short inside its header"),
        (header_only.as_path(), "cut short inside its header"),
        (dir.path(), "directory"),
    ] {
        for cmd in ["check", "report"] {
            let o = run(&[&cmd, &path]);
            no_panic(&o);
            assert_eq!(code(&o), 1, "{cmd} {}", path.display());
            assert!(stderr(&o).contains(want), "{cmd}: {}", stderr(&o));
        }
    }
}

#[cfg(all(unix, not(target_os = "macos")))]
#[test]
fn the_window_without_a_display_says_so_and_exits_4() {
    let dir = tempfile::tempdir().unwrap();
    let (b, _) = fixture();
    let path = write(dir.path(), "ok.rtt", &b.to_bytes());
    for args in [vec![&path as &dyn AsRef<std::ffi::OsStr>], vec![]] {
        let o = run(&args);
        no_panic(&o);
        assert_eq!(code(&o), 4, "{}", stderr(&o));
        let err = stderr(&o);
        assert!(err.starts_with("trace-viewer: no display"), "{err}");
        assert!(err.contains("WAYLAND_DISPLAY nor DISPLAY"), "{err}");
        assert!(err.contains("trace-viewer report "), "{err}");
        assert_eq!(stdout(&o), "");
    }
}

#[test]
fn usage_errors_exit_2_and_help_lists_exit_codes() {
    let o = run(&[&"report"]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("FILE"), "{}", stderr(&o));

    let o = run(&[&"--help"]);
    assert_eq!(code(&o), 0);
    let help = stdout(&o);
    for want in [
        "check",
        "report",
        "Exit codes:",
        "incomplete",
        "4  the window",
    ] {
        assert!(help.contains(want), "missing {want:?} in\n{help}");
    }
    let o = run(&[&"check", &"--help"]);
    assert!(stdout(&o).contains("Exit codes:"));
}

/// Recomputes the checksums of the frame that starts at `start` (a writer with a bug, or a
/// file edited on purpose: the damage is behind valid checksums).
fn reseal(b: &mut [u8], start: usize) {
    use trace_format::frame::{FRAME_HEADER_LEN, frame_header};
    let len = u32::from_le_bytes(b[start + 4..start + 8].try_into().unwrap()) as usize;
    let body = start + FRAME_HEADER_LEN..start + FRAME_HEADER_LEN + len;
    let h = frame_header(b[start], len as u32, crc32fast::hash(&b[body]));
    b[start..start + FRAME_HEADER_LEN].copy_from_slice(&h);
}

/// Issue 16, point 3: a recording that ends without its end record (a full disk, a kill) is
/// reported as cut, with what is known lost and that the rest is unknown — never "lost data
/// none" — in text and JSON.
#[test]
fn a_trace_cut_short_is_reported_as_cut_with_its_known_loss() {
    let dir = tempfile::tempdir().unwrap();
    let (mut b, _) = fixture();
    b.push(
        2,
        9_000_000,
        Event::Lost {
            chunks: 2,
            events: 500,
        },
    );
    let bytes = b.write(false);
    // Cut inside the last frame, as a failed write leaves it.
    let cut = write(dir.path(), "full-disk.rtt", &bytes[..bytes.len() - 7]);
    // And a file with no drop before the cut: the loss is still not "none".
    let (b, _) = fixture();
    let quiet = write(dir.path(), "killed.rtt", &b.write(false));

    let o = run(&[&"report", &cut]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(!text.contains("lost data  none"), "{text}");
    assert!(
        text.contains("lost data  at least 2 chunks with 500 events dropped (1 lost event"),
        "{text}"
    );
    assert!(
        text.contains("; unknown after ") && text.contains("(the trace is cut: no end record)"),
        "{text}"
    );
    assert!(
        text.contains("status     cut: the recording did not finish (no end record)"),
        "{text}"
    );
    let v = json(&run(&[&"report", &cut, &"--json"]));
    assert_eq!(v["status"], "cut");
    assert_eq!(v["complete"], false);
    assert_eq!(v["lost"]["tail_unknown"], true);
    assert_eq!(v["lost"]["events"], 500);
    assert!(v["end_record"].is_null());

    let o = run(&[&"report", &quiet]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(!text.contains("lost data  none"), "{text}");
    assert!(
        text.contains("lost data  unknown after 5.58 ms (the trace is cut: no end record); none known before\n"),
        "{text}"
    );
    let v = json(&run(&[&"report", &quiet, &"--json"]));
    assert_eq!(v["status"], "cut");
    assert_eq!(v["lost"]["tail_unknown"], true);
    assert_eq!(v["lost"]["events"], 0);

    // A finished trace is not cut.
    let (b, _) = fixture();
    let whole = write(dir.path(), "whole.rtt", &b.to_bytes());
    let v = json(&run(&[&"report", &whole, &"--json"]));
    assert_eq!(v["status"], "complete");
    assert_eq!(v["lost"]["tail_unknown"], false);
}

/// Issue 16, point 4: a flipped byte behind recomputed checksums (a chunk that declares one
/// event more than it holds) is corrupt for every command, with the same exit code.
#[test]
fn damage_behind_valid_checksums_fails_every_command_alike() {
    let dir = tempfile::tempdir().unwrap();
    let (b, _) = fixture();
    let mut bytes = b.to_bytes();
    let trace = trace_format::Trace::from_bytes(bytes.clone()).unwrap();
    let c = trace.chunks()[trace.chunks().len() / 2];
    bytes[c.offset as usize + 16 + 24] += 1; // event_count
    reseal(&mut bytes, c.offset as usize);
    let path = write(dir.path(), "resealed.rtt", &bytes);
    let json_out = dir.path().join("out.json");

    let o = run(&[&"check", &path]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let want = format!("error: corrupt trace at byte {}: chunk declares", c.offset);
    assert!(stderr(&o).starts_with(&want), "{}", stderr(&o));

    for args in [
        vec![&"report" as &dyn AsRef<std::ffi::OsStr>, &path],
        vec![&"report", &path, &"--json"],
        vec![&"mmu", &path],
        vec![&"export", &path, &"--chrome", &json_out],
    ] {
        let o = run(&args);
        no_panic(&o);
        assert_eq!(code(&o), 1, "{:?}: {}", o.status, stderr(&o));
        assert!(stderr(&o).contains(&want[7..]), "{}", stderr(&o));
    }
    let text = stdout(&run(&[&"report", &path]));
    assert!(text.contains("status     corrupt"), "{text}");
    assert!(!text.contains("status     complete"), "{text}");
    let v = json(&run(&[&"report", &path, &"--json"]));
    assert_eq!(v["status"], "corrupt");
    assert_eq!(v["file"]["valid_bytes"], c.offset);
}

/// Issue 16, point 11: an output that is the input trace — by the same name, another name,
/// a symbolic link or a hard link — is refused with exit 2, and the trace is left intact.
#[cfg(unix)]
#[test]
fn an_output_that_is_the_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (b, _) = fixture();
    let bytes = b.to_bytes();
    let path = write(dir.path(), "x.rtt", &bytes);
    let symlink = dir.path().join("link.json");
    std::os::unix::fs::symlink(&path, &symlink).unwrap();
    let hardlink = dir.path().join("hard.json");
    std::fs::hard_link(&path, &hardlink).unwrap();
    let dotted = dir.path().join(".").join("x.rtt");

    for out in [&path, &dotted, &symlink, &hardlink] {
        let o = run(&[&"export", &path, &"--chrome", out]);
        no_panic(&o);
        assert_eq!(code(&o), 2, "{}: {}", out.display(), stderr(&o));
        let err = stderr(&o);
        assert!(
            err.starts_with("error: the output ") && err.contains("is the input trace"),
            "{err}"
        );
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{}", out.display());
    }
    // Through the symbolic link as the input, too.
    let o = run(&[&"export", &symlink, &"--chrome", &path]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert_eq!(std::fs::read(&path).unwrap(), bytes);

    // Standard output appended to the trace (`report x.rtt >> x.rtt`).
    for cmd in ["report", "check", "mmu"] {
        let append = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let o = Command::new(BIN)
            .args([cmd, path.to_str().unwrap()])
            .stdout(append)
            .output()
            .unwrap();
        assert_eq!(code(&o), 2, "{cmd}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("standard output is the input trace"),
            "{}",
            stderr(&o)
        );
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{cmd}");
    }

    // `dump -o` and `undump -o` write files too: not over what they read.
    let text = dir.path().join("x.txt");
    let o = run(&[&"dump", &path, &"-o", &text]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text_bytes = std::fs::read(&text).unwrap();
    for (cmd, input, output) in [("dump", &path, &hardlink), ("undump", &text, &text)] {
        let o = run(&[&cmd, input, &"-o", output]);
        assert_eq!(code(&o), 2, "{cmd}: {}", stderr(&o));
        assert!(stderr(&o).contains("is the input"), "{}", stderr(&o));
    }
    assert_eq!(std::fs::read(&path).unwrap(), bytes);
    assert_eq!(std::fs::read(&text).unwrap(), text_bytes);

    // Another file is fine.
    let other = dir.path().join("x.json");
    let o = run(&[&"export", &path, &"--chrome", &other]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// Issue 16, point 15: version 0 or a damaged version is not a reason to look for a newer
/// trace-viewer; a version a little above the newest known one is.
#[test]
fn damaged_and_newer_versions_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    let (b, _) = fixture();
    let bytes = b.to_bytes();
    for (version, newer) in [(0u16, false), (0x0101, false), (0xFFFF, false), (2, true)] {
        let mut b = bytes.clone();
        b[8..10].copy_from_slice(&version.to_le_bytes());
        let path = write(dir.path(), &format!("v{version}.rtt"), &b);
        for cmd in ["check", "report"] {
            let o = run(&[&cmd, &path]);
            assert_eq!(code(&o), 1, "{cmd}");
            let err = stderr(&o);
            assert_eq!(err.contains("use a newer trace-viewer"), newer, "{err}");
            if !newer {
                assert!(
                    err.starts_with(&format!(
                        "error: trace header is damaged: its format version reads {version}"
                    )),
                    "{err}"
                );
            }
        }
    }
}

/// Issue 16, point 15: a cut followed by zeros (power loss leaves zero-filled blocks) is a
/// cut (exit 3) with a warning naming where the zeros start, not corruption.
#[test]
fn a_cut_followed_by_zeros_is_a_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (b, _) = fixture();
    let bytes = b.to_bytes();
    let cut = bytes.len() * 2 / 3;
    let mut padded = bytes[..cut].to_vec();
    padded.resize(cut.next_multiple_of(4096) + 4096, 0);
    let path = write(dir.path(), "power-loss.rtt", &padded);

    let o = run(&[&"check", &path]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(err.starts_with("error: incomplete trace ("), "{err}");
    assert!(
        err.contains(&format!(
            "from byte {cut} to the end the file holds only zeros"
        )),
        "{err}"
    );
    let o = run(&[&"report", &path]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("status     cut"), "{}", stdout(&o));
}

/// Issue 16, point 15: megabytes of extension frames (skippable, per FORMAT.md) are skipped:
/// `check` passes with one short note, `report` calls the trace complete.
#[test]
fn extension_frames_are_skipped_with_one_short_note() {
    use trace_format::frame::{PREAMBLE_LEN, frame_header};
    let dir = tempfile::tempdir().unwrap();
    let (b, _) = fixture();
    let bytes = b.to_bytes();
    let header_len = u32::from_le_bytes(
        bytes[PREAMBLE_LEN + 4..PREAMBLE_LEN + 8]
            .try_into()
            .unwrap(),
    );
    let at = PREAMBLE_LEN + 16 + header_len as usize;
    let mut with_ext = bytes[..at].to_vec();
    let payload = [7u8; 8];
    let mut n = 0;
    while with_ext.len() < 8 << 20 {
        with_ext.extend_from_slice(&frame_header(0xC8, 8, crc32fast::hash(&payload)));
        with_ext.extend_from_slice(&payload);
        n += 1;
    }
    with_ext.extend_from_slice(&bytes[at..]);
    let path = write(dir.path(), "extended.rtt", &with_ext);

    let o = run(&[&"check", &path]);
    assert_eq!(code(&o), 0, "{}", &stderr(&o)[..stderr(&o).len().min(500)]);
    let err = stderr(&o);
    assert!(err.len() < 300, "{} bytes of stderr", err.len());
    assert!(
        err.starts_with(&format!(
            "note: skipped {n} frame(s) of unknown kind(s) 200 "
        )),
        "{err}"
    );
    assert!(stdout(&o).starts_with("ok: "), "{}", stdout(&o));

    let o = run(&[&"report", &path]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("status     complete\n"), "{text}");
    assert!(text.len() < 8_000, "{} bytes", text.len());
}
