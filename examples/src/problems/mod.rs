//! Six small tokio services, each reproducing one classic problem, and what a trace says
//! about it.
//!
//! | module | problem | the report names |
//! |---|---|---|
//! | [`blocking`] | a blocking call inside async code stalls a worker | the stalled worker and the task that blocked it (longest polls), the function that blocks (stalled polls' stacks), the victims' scheduler wait |
//! | [`pauses`] | periodic stop-the-world pauses cause p99 spikes | the pause kind, MMU 0 at windows shorter than the pause |
//! | [`contention`] | a `std::sync::Mutex`-guarded map under load | the contending group: the most running time, polls twice as long as the work they do; the function that waits on the lock |
//! | [`leak`] | tasks stuck forever on a channel nobody sends to | the leaking spawn location (the leak suspect whose alive tasks grew most) |
//! | [`alloc`] | responses built by repeated string concatenation | the allocating group (most sampled allocation bytes) and function, the allocation rate |
//! | [`http`] | an axum service with one CPU-heavy handler | the bad handler, although every connection task shares one spawn location inside axum |
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
//! must show. The culprit function is named by the compiler ([`CodeCulprit`]). The tests
//! compare both with the report.

pub mod alloc;
pub mod blocking;
pub mod contention;
pub mod http;
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
use trace_analysis::analysis::hotspots::FunctionName;
use trace_analysis::analysis::overview::{Analysis, AnalysisOptions};
use trace_analysis::model::{Model, short_source_path};
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
    /// The function the code part of the report must name, where the problem is in one.
    pub culprit_function: Option<CodeCulprit>,
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
    record_with(args, schedule_latency, recorder_config(), service)
}

/// The recorder's configuration for the examples: the defaults, but a stop that may take
/// up to 10 s. At the stop the recorder names the code in the stacks, and gives up (the trace
/// then holds addresses only) when that takes longer than three quarters of the stop
/// timeout, 1 s by default: a debug test binary with axum's and hyper's debug info, on a
/// loaded 2-core machine, can take longer, and the examples are there to name functions.
pub fn recorder_config() -> trace_rt::Config {
    trace_rt::Config::default().stop_timeout(Duration::from_secs(10))
}

/// [`record`] with the recorder's `config` (from [`recorder_config`], with a stall
/// threshold of the problem's own).
pub fn record_with<F, Fut>(
    args: &Args,
    schedule_latency: bool,
    config: trace_rt::Config,
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
    let session = config.start(&args.out)?;
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

/// A function a problem blames, as the code part of the report (`code` in `report --json`)
/// must name it: the function that sleeps, waits on the lock, concatenates.
///
/// Its path comes from the compiler ([`std::any::type_name_of_val`] of the function item),
/// its file from `file!()`, so that nothing here is a name typed by hand. Symbolizers name a
/// function by its path where the binary's symbols or full debug info say it, but DWARF line
/// tables alone (`debug = "line-tables-only"`, and inlined calls) name it without its path
/// (`handle`, `lock<…>`), and an async fn's body `{async_fn#0}`: [`CodeCulprit::matches`]
/// accepts those where the file (and, for an anonymous body, the line) is the function's.
#[derive(Debug, Clone, PartialEq)]
pub struct CodeCulprit {
    /// Full path: `trace_rt_examples::problems::contention::handle`.
    pub path: &'static str,
    /// Source file, as `file!()` gives it (relative to the workspace).
    pub file: &'static str,
    /// The lines the function spans (first, last), where its body may be named anonymously
    /// (an async fn's); `None` otherwise.
    pub lines: Option<(u32, u32)>,
}

impl CodeCulprit {
    /// Whether the report's `function` at `file:line` is this function (or its async body
    /// or a closure in it).
    ///
    /// ```
    /// use trace_rt_examples::problems::CodeCulprit;
    /// let c = CodeCulprit { path: "app::handle", file: "src/main.rs", lines: Some((10, 20)) };
    /// assert!(c.matches("app::handle", None, 0));
    /// assert!(c.matches("app::handle::{{closure}}", None, 0));
    /// assert!(c.matches("handle", Some("/home/u/app/src/main.rs"), 12));
    /// assert!(c.matches("{async_fn#0}", Some("/home/u/app/src/main.rs"), 12));
    /// assert!(!c.matches("{async_fn#0}", Some("/home/u/app/src/main.rs"), 30));
    /// assert!(!c.matches("handle", Some("/home/u/app/src/other.rs"), 12));
    /// assert!(!c.matches("app::handle_all", None, 0));
    /// ```
    pub fn matches(&self, function: &str, file: Option<&str>, line: u32) -> bool {
        if function == self.path
            || function
                .strip_prefix(self.path)
                .is_some_and(|rest| rest.starts_with("::{"))
        {
            return true;
        }
        let in_file = file.is_some_and(|f| f.replace('\\', "/").ends_with(self.file));
        let own = self.path.rsplit("::").next().unwrap_or(self.path);
        let bare = function.split('<').next().unwrap_or(function);
        in_file
            && (bare == own
                || (function.starts_with('{')
                    && self.lines.is_some_and(|(a, b)| (a..=b).contains(&line))))
    }
}

/// A site's share of one kind of weight in the report's code part.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteTotal {
    /// The site (its heaviest line).
    pub site: FunctionName,
    /// Its weight: stall time (ns) or estimated bytes.
    pub weight: u64,
    /// Its share of the listed weight (0..1).
    pub share: f64,
}

/// Entries `(site, weight)` summed by site function (a function met by several stacks —
/// at `lock` and at the guard's drop — is one site), heaviest first.
fn by_site<'a>(entries: impl Iterator<Item = (&'a FunctionName, u64)>) -> Vec<SiteTotal> {
    let mut out: Vec<SiteTotal> = Vec::new();
    let mut heaviest: Vec<u64> = Vec::new();
    for (site, w) in entries {
        match out
            .iter()
            .position(|s| s.site.function == site.function && s.site.file == site.file)
        {
            Some(i) => {
                out[i].weight += w;
                if w > heaviest[i] {
                    (out[i].site.line, heaviest[i]) = (site.line, w);
                }
            }
            None => {
                out.push(SiteTotal {
                    site: site.clone(),
                    weight: w,
                    share: 0.0,
                });
                heaviest.push(w);
            }
        }
    }
    let all: u64 = out.iter().map(|s| s.weight).sum();
    for s in &mut out {
        s.share = s.weight as f64 / all.max(1) as f64;
    }
    out.sort_by_key(|s| std::cmp::Reverse(s.weight));
    out
}

/// The stalled polls' sites by stall time (the report's "stalled polls by stack", summed
/// by function).
pub fn stall_sites(analysis: &Analysis) -> Vec<SiteTotal> {
    by_site(analysis.code.stalls.iter().map(|s| (&s.site, s.total_ns)))
}

/// The allocation sites by estimated bytes (the report's "allocation sites", summed by
/// function).
pub fn alloc_sites(analysis: &Analysis) -> Vec<SiteTotal> {
    by_site(analysis.code.alloc_sites.iter().map(|s| (&s.site, s.bytes)))
}

/// `handle (examples/src/problems/contention.rs:114)`: the function and where, the file
/// relative to the workspace when it is in it.
pub fn function_name(f: &FunctionName) -> String {
    let workspace = concat!(env!("CARGO_MANIFEST_DIR"), "/../");
    let root = Path::new(workspace)
        .canonicalize()
        .map(|p| format!("{}/", p.display()))
        .unwrap_or_default();
    match &f.file {
        Some(file) => {
            let file = short_source_path(file);
            let file = file.strip_prefix(root.as_str()).unwrap_or(&file);
            format!("{} ({file}:{})", f.function, f.line)
        }
        None => f.function.clone(),
    }
}

/// `"{what} in handle (examples/src/problems/contention.rs:114): 85% of {of}"`, naming the top
/// of `sites` (from [`stall_sites`] or [`alloc_sites`]), or what is missing.
pub fn site_clause(sites: &[SiteTotal], what: &str, of: &str) -> String {
    match sites.first() {
        Some(top) => format!(
            "{what} in {}: {:.0}% of {of}",
            function_name(&top.site),
            top.share * 100.0
        ),
        None => format!("no {of} in the trace to name the function with"),
    }
}
