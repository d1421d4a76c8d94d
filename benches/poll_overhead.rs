//! Added cost per task poll of trace-rt's tokio instrumentation, on a 2-worker multi-thread
//! runtime, measured beside an uninstrumented runtime in the same run.
//!
//! Run both builds (each full run takes well under 3 minutes on 2 cores):
//!
//! ```text
//! cargo bench -p trace-rt-benches --bench poll_overhead
//! cargo bench -p trace-rt-benches --bench poll_overhead --features wakes
//! ```
//!
//! (`-- --quick` shortens criterion's part.) Criterion's detailed statistics come first; the
//! side-by-side table at the end is the figure to report.
//!
//! Workloads:
//! - yield loop: 64 tasks × `YIELDS` `tokio::task::yield_now`, so 64 × (`YIELDS` + 1) polls
//!   (counted from the workload, not from tokio's `worker_poll_count`, which misses polls
//!   taken from the "run next" slot);
//! - ping-pong: 20 pairs of tasks exchanging `ROUNDS` round trips over tokio unbounded mpsc
//!   channels, 2 polls per round trip.
//!
//! Modes, each its own runtime built the same way (2 workers, `enable_all`), measured
//! round-robin (the starting mode rotates each round): one discarded warm-up round, then 7
//! repetitions of `SUBS` rounds each (a repetition sums its rounds, which smooths this VM's
//! run-to-run noise of ±20 %). Figures are medians of the 7 repetitions; "added" is the
//! median of the per-repetition differences to `plain`. Modes:
//! - `plain`: no trace-rt hooks;
//! - `instrumented-idle`: `trace_rt::instrument`, nothing recording;
//! - `recording`: `instrument` + `trace_rt::start` to a file in a temp dir (the writer thread,
//!   the runtime sampler, CPU sampling at 99 Hz and the stalled-poll watchdog run as they
//!   would in production);
//! - `recording-no-stacks`: the same with `Config::stacks(false)` (no CPU samples, no stall
//!   watchdog), so the difference to `recording` is what stacks cost;
//! - `recording+latency`: `instrument_with(schedule_latency: true)` + recording.
//!
//! With `--features wakes`, tokio's `tracing` feature is on for the whole binary and
//! `trace_rt::wake_layer()` is installed as the global subscriber before any runtime is
//! built, so every mode of that build runs under it (`plain` there is tokio with `tracing`
//! plus the subscriber, no trace-rt hooks), and every recording mode also records wakes:
//! its recording modes are `recording+wakes` and `recording+latency+wakes`.
//!
//! To see what the subscriber alone costs, `POLL_OVERHEAD_NO_SUBSCRIBER=1` skips installing
//! it in the wakes build (its recording modes then record no wakes).
//!
//! Only the workload is timed (spawn to last join); session start and stop are not. The
//! "writer+sampler CPU" column is the CPU time trace-rt's own threads used meanwhile (on 2
//! cores kept busy by 2 workers, it delays the workers by about half of it).

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::Criterion;
use tokio::runtime::Runtime;
use trace_rt_benches::{median, quartiles};

/// Yields per task in the yield loop (64 tasks).
const YIELDS: u64 = 20_000;
/// Round trips per pair in the ping-pong (20 pairs).
const ROUNDS: u64 = 20_000;
const YIELD_TASKS: u64 = 64;
const PAIRS: u64 = 20;
const REPS: usize = 7;
/// Round-robin rounds summed into one repetition (smooths this VM's run-to-run noise).
const SUBS: usize = 4;
/// The budget (docs/ARCHITECTURE.md, "Budgets"): added ns per poll in the default mode,
/// yield loop, 2 workers.
const BUDGET_NS: f64 = 15.0;
const WAKES: bool = cfg!(feature = "wakes");

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Plain,
    Idle,
    Recording,
    /// Recording with stacks off: no CPU samples, no stall watchdog, no allocation stacks.
    RecordingNoStacks,
    RecordingLatency,
}

impl Mode {
    const ALL: [Mode; 5] = [
        Mode::Plain,
        Mode::Idle,
        Mode::Recording,
        Mode::RecordingNoStacks,
        Mode::RecordingLatency,
    ];

    fn label(self) -> &'static str {
        match (self, subscriber_installed()) {
            (Mode::Plain, _) => "plain",
            (Mode::Idle, _) => "instrumented-idle",
            (Mode::Recording, false) => "recording",
            (Mode::Recording, true) => "recording+wakes",
            (Mode::RecordingNoStacks, false) => "recording-no-stacks",
            (Mode::RecordingNoStacks, true) => "recording-no-stacks+wakes",
            (Mode::RecordingLatency, false) => "recording+latency",
            (Mode::RecordingLatency, true) => "recording+latency+wakes",
        }
    }

    fn records(self) -> bool {
        matches!(
            self,
            Mode::Recording | Mode::RecordingNoStacks | Mode::RecordingLatency
        )
    }
}

#[derive(Clone, Copy, Debug)]
enum Workload {
    /// 64 tasks, each yielding this many times.
    Yield(u64),
    /// 20 pairs, each doing this many round trips.
    PingPong(u64),
}

impl Workload {
    /// Polls the workload makes (counted from its structure).
    fn polls(self) -> u64 {
        match self {
            Workload::Yield(n) => YIELD_TASKS * (n + 1),
            Workload::PingPong(m) => 2 * PAIRS * m,
        }
    }

    /// The unit a figure is reported per: polls (yield loop) or round trips (ping-pong).
    fn units(self) -> u64 {
        match self {
            Workload::Yield(_) => self.polls(),
            Workload::PingPong(m) => PAIRS * m,
        }
    }

    async fn run(self) {
        match self {
            Workload::Yield(n) => {
                let tasks: Vec<_> = (0..YIELD_TASKS)
                    .map(|_| {
                        tokio::spawn(async move {
                            for _ in 0..n {
                                tokio::task::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.expect("yield task");
                }
            }
            Workload::PingPong(m) => {
                let mut tasks = Vec::with_capacity(2 * PAIRS as usize);
                for _ in 0..PAIRS {
                    let (to_b, mut from_a) = tokio::sync::mpsc::unbounded_channel::<u64>();
                    let (to_a, mut from_b) = tokio::sync::mpsc::unbounded_channel::<u64>();
                    tasks.push(tokio::spawn(async move {
                        for i in 0..m {
                            to_b.send(i).expect("send");
                            from_b.recv().await.expect("recv");
                        }
                    }));
                    tasks.push(tokio::spawn(async move {
                        while let Some(i) = from_a.recv().await {
                            to_a.send(i).expect("send");
                        }
                    }));
                }
                for t in tasks {
                    t.await.expect("ping-pong task");
                }
            }
        }
    }
}

/// One measured run.
#[derive(Clone, Copy, Debug, Default)]
struct Run {
    wall: Duration,
    file_bytes: u64,
    events: u64,
    lost_events: u64,
    /// CPU time trace-rt's own threads (writer, sampler) used during the timed part.
    tracer_cpu_ns: u64,
    /// Minor page faults of the whole process during the timed part.
    minor_faults: u64,
}

impl Run {
    fn add(&mut self, other: &Run) {
        self.wall += other.wall;
        self.file_bytes += other.file_bytes;
        self.events += other.events;
        self.lost_events += other.lost_events;
        self.tracer_cpu_ns += other.tracer_cpu_ns;
        self.minor_faults += other.minor_faults;
    }
}

/// CPU nanoseconds used so far by this process's threads named `trace-rt-*` (Linux;
/// 0 elsewhere). A thread that has exited is not counted.
fn tracer_threads_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.starts_with("trace-rt-"))
        })
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// Field `n` of this process's `/proc/self/stat`, numbered as in proc(5) (Linux; `None`
/// elsewhere). The fields after the command name start at 3 (state).
fn own_stat(n: usize) -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(n.checked_sub(3)?)?
        .parse()
        .ok()
}

/// Minor page faults of this process so far (0 where unknown): a first touch of a page
/// inside a hook is a trap into the kernel on the recording thread.
fn minor_faults() -> u64 {
    own_stat(10).unwrap_or(0)
}

/// A mode with its runtime.
struct Bench {
    mode: Mode,
    rt: Runtime,
}

impl Bench {
    fn new(mode: Mode) -> Bench {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2).enable_all();
        match mode {
            Mode::Plain => {}
            Mode::Idle | Mode::Recording | Mode::RecordingNoStacks => {
                trace_rt::instrument(&mut b);
            }
            Mode::RecordingLatency => {
                trace_rt::instrument_with(
                    &mut b,
                    trace_rt::Options {
                        schedule_latency: true,
                    },
                );
            }
        }
        Bench {
            mode,
            rt: b.build().expect("runtime"),
        }
    }

    /// Runs `work` once, recording to a file in `dir` in the recording modes.
    fn run(&self, work: Workload, dir: &Path) -> Run {
        let path = dir.join(format!("{:?}.rtt", self.mode));
        let session = self.mode.records().then(|| {
            trace_rt::Config::default()
                .stacks(self.mode != Mode::RecordingNoStacks)
                .start(&path)
                .expect("start recording")
        });
        let cpu_before = session.as_ref().map(|_| tracer_threads_cpu_ns());
        let faults_before = minor_faults();
        let start = Instant::now();
        self.rt.block_on(work.run());
        let wall = start.elapsed();
        let mut run = Run {
            wall,
            minor_faults: minor_faults().saturating_sub(faults_before),
            ..Run::default()
        };
        if let Some(before) = cpu_before {
            run.tracer_cpu_ns = tracer_threads_cpu_ns().saturating_sub(before);
        }
        if let Some(session) = session {
            let summary = session.stop().expect("stop recording");
            run.file_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
            run.events = summary.events;
            run.lost_events = summary.lost_events;
            let _ = std::fs::remove_file(&path);
        }
        run
    }
}

fn criterion_benches(c: &mut Criterion, benches: &[Bench], dir: &Path) {
    // Each criterion iteration is one poll (yield loop) or one round trip (ping-pong): a
    // call runs the workload sized to about `iters` units (at least `MIN_PER_TASK` per task,
    // so that spawning and session start-up do not dominate small calls) and scales the time
    // to exactly `iters` units.
    const MIN_PER_TASK: u64 = 1_000;
    let mut g = c.benchmark_group("yield_loop_per_poll");
    for b in benches {
        g.bench_function(b.mode.label(), |bencher| {
            bencher.iter_custom(|iters| {
                let work = Workload::Yield((iters / YIELD_TASKS).max(MIN_PER_TASK));
                let run = b.run(work, dir);
                run.wall.mul_f64(iters as f64 / work.units() as f64)
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("ping_pong_per_round_trip");
    for b in benches {
        g.bench_function(b.mode.label(), |bencher| {
            bencher.iter_custom(|iters| {
                let work = Workload::PingPong((iters / PAIRS).max(MIN_PER_TASK));
                let run = b.run(work, dir);
                run.wall.mul_f64(iters as f64 / work.units() as f64)
            })
        });
    }
    g.finish();
}

/// Medians over the repetitions of one mode and workload.
struct Stats {
    /// ns per unit: median, min, max.
    ns: (f64, f64, f64),
    /// Median over repetitions of (this mode − plain), ns per unit.
    added: f64,
    /// Lower and upper quartiles of the same differences.
    added_middle_half: (f64, f64),
    bytes_per_poll: f64,
    events_per_poll: f64,
    tracer_cpu_per_poll: f64,
    faults_per_kpoll: f64,
    lost_events: u64,
}

/// `runs[r]` is repetition `r` of this mode (the sum of its sub-rounds), `plain[r]` the same
/// for `plain`; each covers `subs` runs of `work`.
fn stats(runs: &[Run], plain: &[Run], work: Workload, subs: u64) -> Stats {
    let units = (work.units() * subs) as f64;
    let polls = (work.polls() * subs) as f64;
    let per = |f: &dyn Fn(&Run) -> f64| -> Vec<f64> { runs.iter().map(f).collect() };
    let ns_of = |r: &Run| r.wall.as_nanos() as f64 / units;
    let mut ns = per(&ns_of);
    let med = median(&mut ns);
    let mut diffs: Vec<f64> = runs
        .iter()
        .zip(plain)
        .map(|(r, p)| ns_of(r) - ns_of(p))
        .collect();
    let (lo, added, hi) = quartiles(&mut diffs);
    Stats {
        ns: (med, ns[0], ns[ns.len() - 1]),
        added,
        added_middle_half: (lo, hi),
        bytes_per_poll: median(&mut per(&|r| r.file_bytes as f64 / polls)),
        events_per_poll: median(&mut per(&|r| r.events as f64 / polls)),
        tracer_cpu_per_poll: median(&mut per(&|r| r.tracer_cpu_ns as f64 / polls)),
        faults_per_kpoll: median(&mut per(&|r| 1000.0 * r.minor_faults as f64 / polls)),
        lost_events: runs.iter().map(|r| r.lost_events).sum(),
    }
}

/// CPU time so far (Linux, in clock ticks): (whole machine busy, whole machine total, this
/// process), to tell how much of the machine other processes took during the runs.
fn cpu_ticks() -> Option<(u64, u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let cpu: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy = cpu[0] + cpu[1] + cpu[2] + cpu[5] + cpu[6] + cpu.get(7).copied().unwrap_or(0);
    let total = busy + cpu[3] + cpu[4];
    // utime + stime
    Some((busy, total, own_stat(14)? + own_stat(15)?))
}

/// The share of the machine's CPU time that other processes used between two readings.
fn others_share(before: Option<(u64, u64, u64)>, after: Option<(u64, u64, u64)>) -> String {
    match (before, after) {
        (Some(b), Some(a)) if a.1 > b.1 => {
            let others = (a.0 - b.0).saturating_sub(a.2 - b.2);
            format!("{:.0}%", 100.0 * others as f64 / (a.1 - b.1) as f64)
        }
        _ => "?".into(),
    }
}

/// The interleaved runs and the summary table.
fn side_by_side(benches: &[Bench], dir: &Path, yields: u64, rounds: u64, reps: usize, subs: usize) {
    let cpu_before = cpu_ticks();
    let works = [Workload::Yield(yields), Workload::PingPong(rounds)];
    // runs[workload][mode][repetition], each the sum of `subs` round-robin sub-rounds.
    let mut runs = vec![vec![vec![Run::default(); reps]; benches.len()]; works.len()];
    let mut turn = 0;
    // One warm-up round, not kept, then the repetitions.
    for rep in 0..=reps {
        for _ in 0..if rep == 0 { 1 } else { subs } {
            for (w, &work) in works.iter().enumerate() {
                for k in 0..benches.len() {
                    let m = (k + turn) % benches.len();
                    let run = benches[m].run(work, dir);
                    if rep > 0 {
                        runs[w][m][rep - 1].add(&run);
                    }
                }
            }
            turn += 1;
        }
    }
    let cpu_after = cpu_ticks();
    let plain = benches
        .iter()
        .position(|b| b.mode == Mode::Plain)
        .expect("plain mode");
    let table = |w: usize| -> Vec<Stats> {
        (0..benches.len())
            .map(|m| stats(&runs[w][m], &runs[w][plain], works[w], subs as u64))
            .collect()
    };
    let (y, p) = (table(0), table(1));

    println!();
    if WAKES && !subscriber_installed() {
        println!(
            "== per-poll overhead — build: --features wakes, POLL_OVERHEAD_NO_SUBSCRIBER set \
             (tokio `tracing` feature on, no subscriber installed: no wakes recorded) =="
        );
    } else if WAKES {
        println!(
            "== per-poll overhead — build: --features wakes (tokio `tracing` feature on; \
             trace_rt::wake_layer() is the global subscriber in every mode, so `plain` is \
             tokio+tracing+subscriber without trace-rt hooks) =="
        );
    } else {
        println!("== per-poll overhead — build: default (tokio without its `tracing` feature) ==");
    }
    println!(
        "2-worker multi-thread runtime; yield loop {YIELD_TASKS} tasks x {yields} yields \
         ({} polls); ping-pong {PAIRS} pairs x {rounds} round trips over mpsc (2 polls each); \
         {reps} repetitions of {subs} round-robin rounds over the modes; medians of the \
         repetitions (min..max in brackets), added = median of per-repetition differences to \
         plain; other processes took {} of the machine's CPU time meanwhile",
        works[0].polls(),
        others_share(cpu_before, cpu_after),
    );
    println!(
        "| mode | ns/poll (yield) | added ns/poll | ns/round trip (ping-pong) | added ns/round trip | \
         file B/poll yield | file B/poll ping-pong | events/poll yield | events/poll ping-pong | writer+sampler CPU ns/poll yield | page faults per 1k polls yield | lost events |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (i, b) in benches.iter().enumerate() {
        let rec = |v: f64, digits: usize| {
            if b.mode.records() {
                format!("{v:.digits$}")
            } else {
                "—".into()
            }
        };
        let added = |v: f64| {
            if i == plain {
                "—".to_string()
            } else {
                format!("{v:+.1}")
            }
        };
        println!(
            "| {} | {:.1} [{:.1}..{:.1}] | {} | {:.1} [{:.1}..{:.1}] | {} | {} | {} | {} | {} | {} | {:.2} | {} |",
            b.mode.label(),
            y[i].ns.0,
            y[i].ns.1,
            y[i].ns.2,
            added(y[i].added),
            p[i].ns.0,
            p[i].ns.1,
            p[i].ns.2,
            added(p[i].added),
            rec(y[i].bytes_per_poll, 2),
            rec(p[i].bytes_per_poll, 2),
            rec(y[i].events_per_poll, 2),
            rec(p[i].events_per_poll, 2),
            rec(y[i].tracer_cpu_per_poll, 1),
            y[i].faults_per_kpoll,
            if b.mode.records() {
                (y[i].lost_events + p[i].lost_events).to_string()
            } else {
                "—".into()
            },
        );
    }
    let rec = benches
        .iter()
        .position(|b| b.mode == Mode::Recording)
        .expect("recording mode");
    let added = y[rec].added;
    let added_pp = p[rec].added / 2.0;
    if WAKES {
        println!(
            "budget: <= {BUDGET_NS} ns added per poll applies to the default mode (default build, \
             no wakes); here {} adds {added:+.1} ns/poll (yield) and {added_pp:+.1} ns/poll \
             (ping-pong, per round trip / 2) over this build's plain",
            benches[rec].mode.label()
        );
    } else {
        // Judged on the middle half of the repetitions, not the median alone: on a noisy
        // machine the median of one run lands on either side of a budget it is close to.
        let (lo, hi) = y[rec].added_middle_half;
        println!(
            "budget: <= {BUDGET_NS} ns added per poll in the default mode (recording, yield loop): \
             {added:+.1} ns/poll (middle half of the repetitions {lo:+.1} … {hi:+.1}) -> {} \
             (ping-pong: {added_pp:+.1} ns/poll = added per round trip / 2)",
            if hi <= BUDGET_NS {
                "MET"
            } else if lo > BUDGET_NS {
                "NOT MET"
            } else {
                "INCONCLUSIVE (the middle half straddles the budget: this run's noise is larger \
                 than the distance to it)"
            }
        );
    }
}

/// Whether the wakes build installs the wake layer (it does unless told not to).
fn subscriber_installed() -> bool {
    WAKES && std::env::var_os("POLL_OVERHEAD_NO_SUBSCRIBER").is_none()
}

fn install_wake_layer() {
    #[cfg(feature = "wakes")]
    if subscriber_installed() {
        use tracing_subscriber::prelude::*;
        tracing_subscriber::registry()
            .with(trace_rt::wake_layer())
            .init();
    }
}

fn main() {
    install_wake_layer();
    let dir = tempfile::tempdir().expect("tempdir");
    let benches: Vec<Bench> = Mode::ALL.iter().map(|&m| Bench::new(m)).collect();
    let args: Vec<String> = std::env::args().collect();
    // `cargo test --benches` runs bench targets without `--bench` (and criterion's own test
    // mode passes `--test`): a tiny smoke run of every mode and workload, then exit.
    if args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench") {
        println!("poll_overhead: smoke run for `cargo test` (its figures mean nothing)");
        side_by_side(&benches, dir.path(), 10, 10, 1, 1);
        return;
    }
    let mut c = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
        .configure_from_args();
    criterion_benches(&mut c, &benches, dir.path());
    c.final_summary();
    side_by_side(&benches, dir.path(), YIELDS, ROUNDS, REPS, SUBS);
}
