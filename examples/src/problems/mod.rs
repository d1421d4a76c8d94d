//! Five small tokio services, each reproducing one classic problem, and what a trace says
//! about it.
//!
//! | module | problem | the report names |
//! |---|---|---|
//! | [`blocking`] | a blocking call inside async code stalls a worker | the stalled worker and the task that blocked it (longest polls), the victims' scheduler wait |
//! | [`pauses`] | periodic stop-the-world pauses cause p99 spikes | the pause kind, MMU 0 at windows shorter than the pause |
//! | [`contention`] | a `std::sync::Mutex`-guarded map under load | the contending group: the most running time, polls twice as long as the work they do |
//! | [`leak`] | tasks stuck forever on a channel nobody sends to | the leaking spawn location (the group with the most leak suspects) |
//! | [`alloc`] | responses built by repeated string concatenation | the allocating group (most sampled allocation bytes), the allocation rate |
//!
//! Each module has a `PROBLEM` ([`Problem`]): `run` records the service into a trace (with
//! [`Args`]: how long, where, and `--fixed` to run the corrected code instead), `options` are
//! the analysis options the problem needs (a shorter leak threshold for brief runs), and
//! `verdict` turns the analysis into the line that names the culprit. [`main`] is the whole
//! program of each `examples/<name>.rs`.
//!
//! The culprit's spawn location is not guessed by the analysis code here: each service
//! spawns the tasks to blame through a [`SpawnSite`], which remembers the `file:line:col` of
//! the spawn call — the same location tokio hands the recorder, so the group label the report
//! must show. The tests compare the two.

pub mod alloc;
pub mod blocking;
pub mod contention;
pub mod leak;
pub mod pauses;

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedReceiver;
use trace_analysis::analysis::breakdown::Group;
use trace_analysis::analysis::overview::{Analysis, AnalysisOptions};
use trace_analysis::model::Model;
use trace_analysis::units::format_duration;

/// Errors of the examples: boxed, with a message.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// Worker threads of every example's runtime: small, like the 2-core machines these problems
/// hurt most on.
pub const WORKERS: usize = 2;

/// Command-line arguments shared by the examples.
#[derive(Debug, Clone, PartialEq)]
pub struct Args {
    /// How long the service runs while recording (`--seconds`, default 2).
    pub seconds: f64,
    /// Where the trace goes (`--out`, default `<example>.rtt`).
    pub out: PathBuf,
    /// Run the corrected service instead (`--fixed`), to compare.
    pub fixed: bool,
    /// Also print the whole `trace-viewer report` (`--report`).
    pub report: bool,
}

impl Args {
    /// `seconds` of recording to `out`, the problem (not fixed), no full report.
    pub fn new(out: impl Into<PathBuf>, seconds: f64) -> Args {
        Args {
            seconds,
            out: out.into(),
            fixed: false,
            report: false,
        }
    }

    /// Parses `[--seconds S] [--out PATH] [--fixed] [--report]` (the program name already
    /// removed); `TRACE_RT_EXAMPLE_SECONDS` sets the default duration.
    pub fn parse(
        default_out: &str,
        args: impl IntoIterator<Item = String>,
    ) -> Result<Args, String> {
        let seconds = match std::env::var("TRACE_RT_EXAMPLE_SECONDS") {
            Ok(s) => parse_seconds(&s)?,
            Err(_) => 2.0,
        };
        let mut parsed = Args::new(default_out, seconds);
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--seconds" => {
                    let v = args.next().ok_or("--seconds needs a value")?;
                    parsed.seconds = parse_seconds(&v)?;
                }
                "--out" => parsed.out = args.next().ok_or("--out needs a path")?.into(),
                "--fixed" => parsed.fixed = true,
                "--report" => parsed.report = true,
                "-h" | "--help" => return Err(String::new()),
                other => return Err(format!("unexpected argument {other:?}")),
            }
        }
        Ok(parsed)
    }

    /// The recording's length.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.seconds)
    }
}

fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.trim_end_matches('s').parse::<f64>() {
        Ok(v) if v > 0.0 && v <= 3600.0 => Ok(v),
        _ => Err(format!(
            "seconds must be a number between 0 and 3600, got {s:?}"
        )),
    }
}

/// What a recorded run left behind.
#[derive(Debug)]
pub struct Recorded {
    /// The trace file.
    pub trace: PathBuf,
    /// The recorder's summary (events, bytes, losses).
    pub summary: trace_rt::Summary,
    /// What a user of the service would notice, measured by the service itself
    /// (latencies, throughput): one line.
    pub symptom: String,
    /// What the report must name: the spawn location (`file:line:col`, the label of their
    /// group in the report) of the tasks to blame — or, for pauses, the pause kind.
    pub culprit: String,
    /// The spawn location of the tasks that suffer (the requests' handlers), where the
    /// problem has distinct victims.
    pub victims_spawned_at: Option<String>,
}

/// One of the problems: how to run it and how to read its trace.
pub struct Problem {
    /// The example's name (`cargo run --example NAME`) and default trace file stem.
    pub name: &'static str,
    /// What it reproduces, in a few words.
    pub title: &'static str,
    /// Records the service (the corrected one with `args.fixed`).
    pub run: fn(&Args) -> Result<Recorded, Error>,
    /// The analysis options the problem needs, given the recording's length.
    pub options: fn(&Args) -> AnalysisOptions,
    /// The extra `trace-viewer report` flags that match those options.
    pub report_flags: fn(&Args) -> String,
    /// The line that names the culprit, from the analysis.
    pub verdict: fn(&Model, &Analysis, &Recorded) -> String,
    /// `trace-viewer` commands that walk from the symptom to the cause (`{trace}` stands for
    /// the trace file).
    pub next_steps: &'static [&'static str],
}

/// Loads `path` and computes the report's analysis with `options`.
pub fn analyze(path: &Path, options: &AnalysisOptions) -> Result<(Model, Analysis), Error> {
    let loaded = trace_analysis::open::open(path)?;
    let model = Model::build(&loaded.trace)?;
    let analysis = Analysis::compute(&model, options);
    Ok((model, analysis))
}

/// The whole program of `examples/<problem>.rs`: parse the arguments, record, print the
/// symptom, the culprit and the commands to look further.
pub fn main(problem: &Problem) -> ExitCode {
    let default_out = format!("{}.rtt", problem.name);
    let args = match Args::parse(&default_out, std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {e}");
            }
            eprintln!(
                "usage: cargo run --release --example {} -- [--seconds S] [--out PATH] \
                 [--fixed] [--report]\n  (TRACE_RT_EXAMPLE_SECONDS sets the default of 2 s)",
                problem.name
            );
            return ExitCode::from(2);
        }
    };
    match run_and_explain(problem, &args, &mut std::io::stdout()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `problem` with `args` and writes what [`main`] prints to `out`.
pub fn run_and_explain(problem: &Problem, args: &Args, out: &mut dyn Write) -> Result<(), Error> {
    writeln!(
        out,
        "{}: recording {} s{} to {} ...",
        problem.title,
        args.seconds,
        if args.fixed {
            " of the FIXED service"
        } else {
            ""
        },
        args.out.display()
    )?;
    let recorded = (problem.run)(args)?;
    writeln!(out, "symptom: {}", recorded.symptom)?;
    writeln!(out, "recorded: {}", recorded.summary)?;
    let options = (problem.options)(args);
    if args.report {
        // What `trace-viewer report FILE` prints.
        let report = trace_analysis::report::Report::from_file(&recorded.trace, &options)?;
        out.write_all(report.to_text().as_bytes())?;
        if let Some(e) = &report.summary.error {
            return Err(format!("the trace is damaged: {e}").into());
        }
    }
    let (model, analysis) = analyze(&recorded.trace, &options)?;
    writeln!(
        out,
        "\nculprit: {}",
        (problem.verdict)(&model, &analysis, &recorded)
    )?;
    let trace = recorded.trace.display().to_string();
    let flags = (problem.report_flags)(args);
    writeln!(out, "\nfrom symptom to cause (examples/README.md):")?;
    writeln!(
        out,
        "  cargo run --release -p trace-viewer -- report {trace}{flags}"
    )?;
    for step in problem.next_steps {
        writeln!(
            out,
            "  cargo run --release -p trace-viewer -- {}",
            step.replace("{trace}", &trace)
        )?;
    }
    Ok(())
}

/// Builds a 2-worker runtime instrumented by trace-rt, records `service(duration)` on it
/// into `args.out`, and returns its output and the recorder's summary.
///
/// `schedule_latency` asks tokio to measure every task's time from wake to poll, so that the
/// report can split scheduler wait from waiting without the `wakes` feature.
pub fn record<F, Fut>(
    args: &Args,
    schedule_latency: bool,
    service: F,
) -> Result<(Fut::Output, trace_rt::Summary), Error>
where
    F: FnOnce(Duration) -> Fut,
    Fut: Future,
{
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(WORKERS);
    trace_rt::instrument_with(&mut builder, trace_rt::Options { schedule_latency });
    let rt = builder.enable_all().build()?;
    let session = trace_rt::start(&args.out)?;
    let output = trace_rt::block_on(&rt, service(args.duration()));
    // Let polls in flight end, so that the trace ends between polls.
    std::thread::sleep(Duration::from_millis(20));
    let summary = session.stop()?;
    drop(rt);
    Ok((output, summary))
}

/// Remembers where one kind of task is spawned: the `file:line:col` that the recorder gets
/// from tokio, and so the label of the tasks' group in the report.
#[derive(Debug, Clone, Default)]
pub struct SpawnSite(Arc<OnceLock<String>>);

impl SpawnSite {
    /// `tokio::spawn(future)`, remembering the caller's location (the first one, if called
    /// from several places).
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let at = std::panic::Location::caller();
        self.0
            .get_or_init(|| format!("{}:{}:{}", at.file(), at.line(), at.column()));
        tokio::spawn(future)
    }

    /// The remembered location, or `"<never spawned>"`.
    pub fn label(&self) -> String {
        self.0
            .get()
            .cloned()
            .unwrap_or_else(|| "<never spawned>".into())
    }
}

/// A load generator outside the runtime, like the clients of a real service: a thread that
/// sends the arrival time of one request every `period` (on a fixed schedule: a late request
/// is not made up for by a shorter gap) for `duration`, then closes the channel.
pub fn client(period: Duration, duration: Duration) -> UnboundedReceiver<Instant> {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("client".into())
        .spawn(move || {
            let start = Instant::now();
            let mut next = start;
            while next.duration_since(start) < duration {
                if let Some(gap) = next.checked_duration_since(Instant::now()) {
                    std::thread::sleep(gap);
                }
                if tx.send(next).is_err() {
                    return;
                }
                next += period;
            }
        })
        .expect("spawn the client thread");
    rx
}

/// A small deterministic random number generator (xorshift), so that runs are repeatable.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// True with probability `1 / n`.
    pub fn one_in(&mut self, n: u64) -> bool {
        self.next_u64().is_multiple_of(n)
    }
}

/// Spins on the CPU for `d` (the examples' stand-in for real work).
pub fn spin_for(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

/// Latencies collected by a service: `"p50 80 µs, p99 21.3 ms, max 24.1 ms (n = 1950)"`.
pub fn latency_line(latencies: &mut [Duration]) -> String {
    if latencies.is_empty() {
        return "no requests".into();
    }
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((q * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1;
        format_duration(latencies[i].as_nanos() as u64)
    };
    format!(
        "p50 {}, p99 {}, max {} (n = {})",
        at(0.5),
        at(0.99),
        at(1.0),
        latencies.len()
    )
}

/// The group labelled `label`, if the analysis has it.
pub fn group<'a>(analysis: &'a Analysis, label: &str) -> Option<&'a Group> {
    analysis.breakdown.groups.iter().find(|g| g.label == label)
}
