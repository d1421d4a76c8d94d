//! trace-rt beside its peers: the same tokio workloads, untraced and under each tracer, in
//! alternating child processes; a markdown report on stdout, progress on stderr.
//!
//! ```text
//! cargo run --release --manifest-path benches/peers/Cargo.toml            # full run
//! cargo run --release --manifest-path benches/peers/Cargo.toml -- --quick # smoke run
//! ```
//!
//! Options: `--quick` (tiny sizes, 1 repetition unless `--reps` says otherwise),
//! `--reps N` (default 5), `--tracers a,b,...` and `--workloads a,b,...` (subsets; the
//! untraced baseline always runs), `--baseline-exe PATH`, `--list`. It exits with 1 when
//! any run failed (after printing the report). See README.md for what is measured and how.
//!
//! The binary re-executes itself once per (tracer, workload, repetition) with `--child`:
//! each tracer needs a fresh process (a `tracing` subscriber, a dial9 recorder and a
//! trace-rt session are process-wide), and fresh processes keep one tracer's leftovers
//! (threads, memory, files) from slowing the next. Within a repetition the tracers run in
//! an order that rotates from one repetition to the next, so slow drifts of this shared
//! machine spread over all of them.

mod micro;
mod report;
mod tracer;
mod workload;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use report::{Cell, Report, RunResult};
use tracer::Tracer;
use workload::{Sizes, Workload};

/// The options of a parent run.
#[derive(Debug)]
struct Options {
    quick: bool,
    reps: usize,
    tracers: Vec<Tracer>,
    workloads: Vec<Workload>,
    micro: bool,
    /// Another build of this harness whose untraced runs join the comparison.
    baseline_exe: Option<PathBuf>,
}

const USAGE: &str =
    "usage: trace-rt-peers [--quick] [--reps N] [--tracers a,b,...] [--workloads a,b,...]
                      [--baseline-exe PATH] [--list]
  --quick             tiny sizes (a smoke run; figures mean nothing), 1 repetition unless --reps
  --reps N            repetitions of every (tracer, workload) pair (default 5)
  --tracers a,b,...   subset of tracers (the untraced baseline always runs); see --list
  --workloads a,b,... subset of: yield, pingpong, spawn, tcp, micro
  --baseline-exe PATH also run the untraced workloads with another build of this harness
                      (README: one built with --no-default-features, without tokio's `tracing`)
  --list              list the tracers and workloads of this build
Exits with 1 when any run failed (after printing the report).";

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut opts = Options {
        quick: false,
        reps: 0,
        tracers: Tracer::all(),
        workloads: Workload::ALL.to_vec(),
        micro: true,
        baseline_exe: None,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs a value"))
        };
        match arg.as_str() {
            "--quick" => opts.quick = true,
            "--reps" => {
                opts.reps = value()?
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or("--reps needs a positive number")?;
            }
            "--tracers" => {
                let mut list = vec![Tracer::Untraced];
                for name in value()?.split(',').filter(|n| !n.is_empty()) {
                    let t = Tracer::parse(name)
                        .ok_or_else(|| format!("unknown tracer {name:?} (see --list)"))?;
                    if !list.contains(&t) {
                        list.push(t);
                    }
                }
                // Report order, whatever the order given.
                opts.tracers = Tracer::all()
                    .into_iter()
                    .filter(|t| list.contains(t))
                    .collect();
            }
            "--workloads" => {
                let names = value()?;
                let names: Vec<&str> = names.split(',').filter(|n| !n.is_empty()).collect();
                for name in &names {
                    if *name != "micro" && Workload::parse(name).is_none() {
                        return Err(format!("unknown workload {name:?} (see --list)"));
                    }
                }
                opts.micro = names.contains(&"micro");
                opts.workloads = Workload::ALL
                    .into_iter()
                    .filter(|w| names.contains(&w.name()))
                    .collect();
            }
            "--baseline-exe" => opts.baseline_exe = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    if opts.reps == 0 {
        opts.reps = if opts.quick { 1 } else { 5 };
    }
    if opts.baseline_exe.is_some() {
        opts.tracers.insert(1, Tracer::OtherBuild);
    }
    Ok(opts)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("--child") => return child(&args[1..]),
        Some("--help" | "-h") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Some("--list") => {
            for t in Tracer::all() {
                println!("tracer   {:12} {}", t.name(), t.label());
            }
            let sizes = Sizes::full();
            for w in Workload::ALL {
                println!("workload {:12} {}", w.name(), w.describe(&sizes));
            }
            println!(
                "workload {:12} one trace-rt event beside one bare TSC read",
                "micro"
            );
            return ExitCode::SUCCESS;
        }
        _ => {}
    }
    let opts = match parse_options(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    parent(&opts, &args)
}

/// Runs every child, then prints the report.
fn parent(opts: &Options, args: &[String]) -> ExitCode {
    let sizes = if opts.quick {
        Sizes::quick()
    } else {
        Sizes::full()
    };
    let dir = std::env::temp_dir().join(format!("trace-rt-peers-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    // A child that hangs (a peer that never shuts down) is killed after this long.
    let limit = Duration::from_secs(if opts.quick { 120 } else { 600 });
    let started = Instant::now();
    let load_before = report::CpuTicks::read();

    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot find this executable: {e}");
            return ExitCode::FAILURE;
        }
    };
    let micro = opts.micro.then(|| {
        eprintln!("[micro] one trace-rt event vs one bare TSC read");
        let mut child_args = vec!["--child".to_string(), "micro".into(), "micro".into()];
        if opts.quick {
            child_args.push("--quick".into());
        }
        run_child(&exe, &child_args, &dir.join("micro"), limit)
    });

    // cells[(tracer, workload)]: one entry per repetition.
    let mut cells: BTreeMap<(usize, usize), Cell> = BTreeMap::new();
    let n = opts.tracers.len();
    for rep in 0..opts.reps {
        for (w, &work) in opts.workloads.iter().enumerate() {
            for k in 0..n {
                let t = (k + rep) % n;
                let tracer = opts.tracers[t];
                let cell = cells.entry((t, w)).or_default();
                // A tracer that failed once on a workload will fail again: skip it.
                if cell.error.is_some() {
                    cell.runs.push(None);
                    continue;
                }
                // The other build runs its own untraced workload.
                let (exe, name) = match (tracer, &opts.baseline_exe) {
                    (Tracer::OtherBuild, Some(other)) => (other, Tracer::Untraced.name()),
                    _ => (&exe, tracer.name()),
                };
                let mut child_args = vec!["--child".to_string(), name.into(), work.name().into()];
                if opts.quick {
                    child_args.push("--quick".into());
                }
                let run_dir = dir.join(format!("{}-{}-{rep}", tracer.name(), work.name()));
                match run_child(exe, &child_args, &run_dir, limit) {
                    Ok(run) => {
                        eprintln!(
                            "[rep {}/{}] {:8} {:38} {}",
                            rep + 1,
                            opts.reps,
                            work.name(),
                            tracer.label(),
                            report::progress_line(work, &run)
                        );
                        cell.runs.push(Some(run));
                    }
                    Err(e) => {
                        eprintln!(
                            "[rep {}/{}] {:8} {:38} FAILED: {e}",
                            rep + 1,
                            opts.reps,
                            work.name(),
                            tracer.label()
                        );
                        cell.runs.push(None);
                        cell.error = Some(e);
                    }
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let report = Report {
        command: std::iter::once("cargo run --release --manifest-path benches/peers/Cargo.toml")
            .chain((!args.is_empty()).then_some("--"))
            .chain(args.iter().map(String::as_str))
            .collect::<Vec<_>>()
            .join(" "),
        quick: opts.quick,
        reps: opts.reps,
        sizes,
        tracers: opts.tracers.clone(),
        workloads: opts.workloads.clone(),
        cells,
        micro,
        others_share: report::CpuTicks::read().others_share_since(&load_before),
        elapsed: started.elapsed(),
        baseline_exe: opts.baseline_exe.as_ref().map(|p| p.display().to_string()),
    };
    report.print();
    eprintln!("done in {:.0} s", started.elapsed().as_secs_f64());
    // After the report, so that a failed peer still leaves every other figure.
    let failed =
        report.cells.values().any(|c| c.error.is_some()) || matches!(report.micro, Some(Err(_)));
    if failed {
        eprintln!("some runs failed: see the report's Failures section");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// Runs `exe` (this binary, or the `--baseline-exe` build) with `args` in `dir` (created,
/// then removed), its output in files there, killed after `limit`. Returns the `RESULT`
/// line's values, or why there are none.
fn run_child(
    exe: &Path,
    args: &[String],
    dir: &Path,
    limit: Duration,
) -> Result<RunResult, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    let result = run_child_in(exe, args, dir, limit);
    let _ = std::fs::remove_dir_all(dir);
    result
}

fn run_child_in(
    exe: &Path,
    args: &[String],
    dir: &Path,
    limit: Duration,
) -> Result<RunResult, String> {
    let out_path = dir.join("stdout");
    let err_path = dir.join("stderr");
    let file = |p: &PathBuf| std::fs::File::create(p).map_err(|e| format!("{}: {e}", p.display()));
    let mut child = Command::new(exe)
        .args(args)
        .arg("--dir")
        .arg(dir)
        // A recording started from the environment would trace the harness itself.
        .env_remove("TRACE_RT_OUT")
        .env_remove("DIAL9_ENABLED")
        .stdin(Stdio::null())
        .stdout(file(&out_path)?)
        .stderr(file(&err_path)?)
        .spawn()
        .map_err(|e| format!("spawn child: {e}"))?;
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("killed after {} s", limit.as_secs()));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("wait for child: {e}")),
        }
    };
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let stderr = std::fs::read_to_string(&err_path).unwrap_or_default();
    if !status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(4).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!("child exited with {status}: {}", tail.join(" | ")));
    }
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .map(report::parse_result)
        .ok_or_else(|| format!("no RESULT line from child; stderr: {}", stderr.trim()))
}

/// Child mode: `--child TRACER WORKLOAD [--quick] --dir DIR`, or `--child micro micro ...`.
/// Prints one `RESULT key=value ...` line.
fn child(args: &[String]) -> ExitCode {
    let quick = args.iter().any(|a| a == "--quick");
    let dir = args
        .iter()
        .position(|a| a == "--dir")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let (Some(tracer), Some(work)) = (args.first(), args.get(1)) else {
        eprintln!("--child needs a tracer and a workload");
        return ExitCode::from(2);
    };
    if tracer == "micro" {
        let (iters, reps) = if quick { (10_000, 3) } else { (2_000_000, 7) };
        let m = micro::run(iters, reps);
        println!(
            "RESULT tsc_ns={} instant_ns={} event_ns={} event_idle_ns={} lost={}",
            m.tsc_ns, m.instant_ns, m.event_ns, m.event_idle_ns, m.lost
        );
        return ExitCode::SUCCESS;
    }
    let (Some(tracer), Some(work)) = (Tracer::parse(tracer), Workload::parse(work)) else {
        eprintln!("unknown tracer or workload: {tracer} {work}");
        return ExitCode::from(2);
    };
    let sizes = if quick { Sizes::quick() } else { Sizes::full() };
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let installed = tracer.install(&dir);
    let warm = workload::run(&installed.rt, installed.spawner, work, sizes.warm_up());
    let cpu_before = report::process_cpu_ns();
    let m = workload::run(&installed.rt, installed.spawner, work, sizes);
    let cpu = report::process_cpu_ns().saturating_sub(cpu_before);
    let out = installed.finish();
    let mut line = format!(
        "RESULT wall_ns={} units={} planned={} polls={} cpu_ns={cpu} traced_units={} traced_polls={} bytes={}",
        m.wall.as_nanos(),
        m.units,
        work.planned_units(&sizes),
        m.polls,
        warm.units + m.units,
        warm.polls + m.polls,
        out.bytes,
    );
    if let Some(e) = out.events {
        line += &format!(" events={e}");
    }
    if let Some(l) = out.lost {
        line += &format!(" lost={l}");
    }
    if !m.latencies_ns.is_empty() {
        let mut lat = m.latencies_ns;
        lat.sort_unstable();
        let q = |p: f64| lat[((lat.len() - 1) as f64 * p).round() as usize];
        line += &format!(" p50_ns={} p99_ns={}", q(0.50), q(0.99));
    }
    println!("{line}");
    ExitCode::SUCCESS
}
