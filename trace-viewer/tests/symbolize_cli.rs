//! End to end tests of `trace-viewer symbolize`: a trace that records this test binary's own
//! code mapping (from /proc/self/maps, with its build id) and a stack holding the address of
//! one of its functions is re-symbolized with this binary, as a trace recorded from a
//! stripped build would be with the unstripped one.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use trace_format::build::TraceBuilder;
use trace_format::{Event, MappingDef, Meta, StackDef, StackId, Symbols, TaskId, Trace};

const BIN: &str = env!("CARGO_BIN_EXE_trace-viewer");

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(BIN)
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("the binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[inline(never)]
fn distinctive_symbolize_target(x: u64) -> u64 {
    std::hint::black_box(x.wrapping_mul(0x9e37_79b9).rotate_left(13))
}

/// This binary's executable mapping that holds `addr`.
fn own_mapping(addr: u64, build_id: Vec<u8>) -> MappingDef {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    for line in maps.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let (a, b) = f[0].split_once('-').unwrap();
        let (start, end) = (
            u64::from_str_radix(a, 16).unwrap(),
            u64::from_str_radix(b, 16).unwrap(),
        );
        if (start..end).contains(&addr) {
            return MappingDef {
                start,
                end,
                file_offset: u64::from_str_radix(f[2], 16).unwrap(),
                path: f[5..].join(" "),
                build_id,
            };
        }
    }
    panic!("{addr:#x} is not mapped");
}

fn exe() -> PathBuf {
    std::env::current_exe().unwrap()
}

fn own_build_id() -> Vec<u8> {
    blazesym::helper::read_elf_build_id(&exe())
        .unwrap()
        .expect("the test binary has a build id")
        .into_owned()
}

/// A trace with one CPU sample whose stack is `[target, return address into it]`, the
/// mapping of this binary (with `build_id`), and a symbols record naming the target wrongly,
/// as a recording from a stripped binary would (its dynamic symbols at best).
fn trace_file(dir: &Path, build_id: Vec<u8>, with_mappings: bool) -> (PathBuf, u64) {
    let target = distinctive_symbolize_target as *const () as u64;
    let mut b = TraceBuilder::new();
    b.meta(Meta::Stacks(vec![StackDef {
        id: 1,
        frames: vec![target, target + 2],
    }]));
    b.meta(Meta::Symbols(Symbols::build([(
        target,
        vec![("stripped_placeholder", None, 0, 0)],
    )])));
    if with_mappings {
        b.meta(Meta::Mappings(vec![own_mapping(target, build_id)]));
    }
    b.push(
        1,
        100,
        Event::CpuSample {
            task: TaskId(0),
            stack: StackId(1),
        },
    );
    let path = dir.join("stripped.rtt");
    std::fs::write(&path, b.to_bytes()).unwrap();
    (path, target)
}

#[test]
fn symbolizes_a_function_of_the_recorded_binary() {
    let dir = tempfile::tempdir().unwrap();
    let (file, target) = trace_file(dir.path(), own_build_id(), true);
    let before = std::fs::read(&file).unwrap();
    let o = run(&[&"symbolize", &file, &"--binary", &exe()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(
        text(&o.stdout).contains("resolved 2 of 2"),
        "{}",
        text(&o.stdout)
    );
    assert_eq!(
        std::fs::read(&file).unwrap(),
        before,
        "the input is unchanged"
    );

    let out = dir.path().join("stripped.sym.rtt");
    let trace = Trace::open(&out).unwrap();
    assert!(trace.end().is_some(), "still a finished trace");
    assert_eq!(trace.validate().unwrap(), 1);
    for addr in [target, target + 2] {
        let frames: Vec<_> = trace.code().frames_at(addr).collect();
        let f = frames.last().expect("resolved");
        assert!(
            f.function.contains("distinctive_symbolize_target"),
            "{frames:?}"
        );
        assert!(f.file.unwrap().ends_with("symbolize_cli.rs"), "{frames:?}");
        assert!(f.line > 0);
    }
    // The symbols went in packed, as recorders write them.
    let mut dumped = Vec::new();
    trace_format::text::dump(&std::fs::read(&out).unwrap(), &mut dumped).unwrap();
    assert!(
        text(&dumped).contains("\npacked_symbols\n"),
        "{}",
        text(&dumped)
    );
    // `check` agrees the output is valid and complete.
    let o = run(&[&"check", &out]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
}

#[test]
fn explicit_output_is_used() {
    let dir = tempfile::tempdir().unwrap();
    let (file, target) = trace_file(dir.path(), own_build_id(), true);
    let out = dir.path().join("named.rtt");
    let o = run(&[&"symbolize", &file, &"--binary", &exe(), &"-o", &out]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let trace = Trace::open(&out).unwrap();
    assert!(
        trace
            .code()
            .frames_at(target)
            .any(|f| f.function.contains("distinctive"))
    );
}

#[test]
fn build_id_mismatch_is_refused_unless_forced() {
    let dir = tempfile::tempdir().unwrap();
    let (file, target) = trace_file(dir.path(), vec![0xde, 0xad, 0xbe, 0xef], true);
    let o = run(&[&"symbolize", &file, &"--binary", &exe()]);
    assert_eq!(o.status.code(), Some(2));
    let err = text(&o.stderr);
    assert!(
        err.contains("build id") && err.contains("deadbeef"),
        "{err}"
    );
    assert!(err.contains("--force"), "{err}");
    assert!(!dir.path().join("stripped.sym.rtt").exists());

    let o = run(&[&"symbolize", &file, &"--binary", &exe(), &"--force"]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let trace = Trace::open(dir.path().join("stripped.sym.rtt")).unwrap();
    assert!(
        trace
            .code()
            .frames_at(target)
            .any(|f| f.function.contains("distinctive"))
    );
}

#[test]
fn missing_binary_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = trace_file(dir.path(), own_build_id(), true);
    let o = run(&[&"symbolize", &file, &"--binary", &dir.path().join("nope")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("cannot read the binary"),
        "{}",
        text(&o.stderr)
    );
}

#[test]
fn output_that_is_the_input_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = trace_file(dir.path(), own_build_id(), true);
    let before = std::fs::read(&file).unwrap();
    let o = run(&[&"symbolize", &file, &"--binary", &exe(), &"-o", &file]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("is the input trace"),
        "{}",
        text(&o.stderr)
    );
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn trace_without_mappings_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (file, _) = trace_file(dir.path(), own_build_id(), false);
    let o = run(&[&"symbolize", &file, &"--binary", &exe()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        text(&o.stderr).contains("no mappings"),
        "{}",
        text(&o.stderr)
    );
}
