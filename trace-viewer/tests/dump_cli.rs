//! `trace-viewer dump` and `undump` end to end, through the real binary: a trace recorded by
//! trace-rt from a real tokio runtime goes to text and back byte for byte, and bad text is
//! an error that names the line, with exit status 2.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_trace-viewer");

fn run(args: &[&dyn AsRef<std::ffi::OsStr>], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(BIN)
        .args(args.iter().map(|a| a.as_ref()))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "panic: {err}");
    out
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

/// Records a short trace of a real runtime: spawns, polls, wakes from tasks and a channel,
/// timers, a blocking call, a worker parking.
fn record(path: &Path) {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    trace_rt::instrument(&mut builder);
    let rt = builder.enable_all().build().unwrap();
    let session = trace_rt::start(path).unwrap();
    rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(4);
        let consumer = tokio::spawn(async move {
            let mut sum = 0;
            while let Some(v) = rx.recv().await {
                sum += v;
            }
            sum
        });
        for p in 0..3 {
            let tx = tx.clone();
            tokio::spawn(async move {
                for i in 0..20 {
                    tx.send(p * 100 + i).await.unwrap();
                    if i % 5 == 0 {
                        tokio::time::sleep(std::time::Duration::from_micros(50)).await;
                    }
                }
            });
        }
        drop(tx);
        tokio::task::spawn_blocking(|| std::thread::sleep(std::time::Duration::from_millis(1)))
            .await
            .unwrap();
        consumer.await.unwrap()
    });
    session.stop().unwrap();
    drop(rt);
}

#[test]
fn a_recorded_trace_dumps_and_undumps_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    let original = dir.path().join("recorded.rtt");
    record(&original);

    let dumped = run(&[&"dump", &original], None);
    assert_eq!(
        code(&dumped),
        0,
        "{}",
        String::from_utf8_lossy(&dumped.stderr)
    );
    let text = String::from_utf8(dumped.stdout).unwrap();
    for needle in [
        "\nheader ",
        "\nthread ",
        "\nchunk ",
        " poll_start task=",
        " task_spawn ",
        "\nend ",
    ] {
        assert!(text.contains(needle), "no {needle:?} in the dump");
    }
    assert!(
        !text.contains("\nframe "),
        "a recorded trace needs no raw frames"
    );

    // dump | undump - -o - | dump -: the same text, and the same bytes in between.
    let back = run(&[&"undump", &"-", &"-o", &"-"], Some(text.as_bytes()));
    assert_eq!(code(&back), 0, "{}", String::from_utf8_lossy(&back.stderr));
    assert!(
        back.stdout == std::fs::read(&original).unwrap(),
        "undump(dump(x)) != x"
    );
    let again = run(&[&"dump", &"-"], Some(&back.stdout));
    assert_eq!(code(&again), 0);
    assert_eq!(String::from_utf8(again.stdout).unwrap(), text);

    // And through files.
    let text_path = dir.path().join("recorded.txt");
    let rebuilt = dir.path().join("rebuilt.rtt");
    assert_eq!(
        code(&run(&[&"dump", &original, &"-o", &text_path], None)),
        0
    );
    assert_eq!(
        code(&run(&[&"undump", &text_path, &"-o", &rebuilt], None)),
        0
    );
    assert!(std::fs::read(&rebuilt).unwrap() == std::fs::read(&original).unwrap());
}

#[test]
fn bad_text_names_the_line_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("bad.txt");
    std::fs::write(&text, "1 10 poll_start task=1\n\n1 20 poll_stop\n").unwrap();
    let out_path = dir.path().join("out.rtt");
    let o = run(&[&"undump", &text, &"-o", &out_path], None);
    assert_eq!(code(&o), 2);
    let err = String::from_utf8(o.stderr).unwrap();
    assert!(
        err.contains("bad.txt:3: unknown event kind `poll_stop`"),
        "{err}"
    );
    assert!(!out_path.exists(), "nothing is written for bad text");
}

#[test]
fn dump_of_a_missing_or_non_trace_file_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&[&"dump", &dir.path().join("missing.rtt")], None);
    assert_eq!(code(&o), 1);
    let not_trace = dir.path().join("x.rtt");
    std::fs::write(&not_trace, b"hello, world").unwrap();
    let o = run(&[&"dump", &not_trace], None);
    assert_eq!(code(&o), 1);
    assert!(String::from_utf8_lossy(&o.stderr).contains("not a trace-rt trace"));
}

#[test]
fn a_cut_trace_dumps_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("full.rtt");
    std::fs::write(
        &full,
        trace_format::text::undump("1 10 poll_start task=1\n1 20 poll_end\nend\n").unwrap(),
    )
    .unwrap();
    let bytes = std::fs::read(&full).unwrap();
    let cut = dir.path().join("cut.rtt");
    std::fs::write(&cut, &bytes[..bytes.len() - 4]).unwrap();
    let o = run(&[&"dump", &cut], None);
    assert_eq!(code(&o), 0);
    assert!(String::from_utf8_lossy(&o.stderr).contains("warning: trace is cut short"));
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(
        text.contains("1 20 poll_end ready=false\n") && !text.contains("\nend "),
        "{text}"
    );
}

#[test]
fn dump_to_an_unwritable_path_names_it_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("t.rtt");
    std::fs::write(&trace, trace_format::text::undump("end\n").unwrap()).unwrap();
    let out = dir.path().join("missing-dir").join("t.txt");
    let o = run(&[&"dump", &trace, &"-o", &out], None);
    assert_eq!(code(&o), 1);
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot write"));
    let o = run(&[&"undump", &"-", &"-o", &out], Some(b"end\n"));
    assert_eq!(code(&o), 1);
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot write"));
}
