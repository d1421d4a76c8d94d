//! Results of the child runs, their statistics, and the markdown report.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::tracer::{Tracer, WORKERS};
use crate::workload::{Sizes, Workload};

/// The `key=value` pairs of one child's `RESULT` line.
pub type RunResult = BTreeMap<String, f64>;

/// Parses the part of a `RESULT` line after the prefix.
pub fn parse_result(line: &str) -> RunResult {
    line.split_whitespace()
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// The runs of one (tracer, workload) pair, one entry per repetition (`None`: failed or
/// skipped), and the first failure.
#[derive(Debug, Default)]
pub struct Cell {
    /// Repetition `r`'s result.
    pub runs: Vec<Option<RunResult>>,
    /// Why a run failed, if one did.
    pub error: Option<String>,
}

/// The figure a workload is compared on, per unit: ns per poll/task, or (TCP) ns per
/// request, the inverse of throughput.
fn ns_per_unit(r: &RunResult) -> Option<f64> {
    Some(r.get("wall_ns")? / r.get("units")?.max(1.0))
}

/// CPU time of all the process's threads per unit, in ns.
fn cpu_per_unit(r: &RunResult) -> Option<f64> {
    Some(r.get("cpu_ns")? / r.get("units")?.max(1.0))
}

/// Trace bytes per unit of work (warm-up included); `None` when nothing was written.
fn bytes_per_unit(r: &RunResult) -> Option<f64> {
    let b = *r.get("bytes")?;
    if b > 0.0 {
        Some(b / r.get("traced_units")?.max(1.0))
    } else {
        None
    }
}

/// Trace bytes per event, where the tracer counted its events.
fn bytes_per_event(r: &RunResult) -> Option<f64> {
    let e = *r.get("events")?;
    if e > 0.0 {
        Some(r.get("bytes")? / e)
    } else {
        None
    }
}

/// Lower quartile, median and upper quartile (nearest rank).
fn quartiles(mut xs: Vec<f64>) -> Option<Quartiles> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    let at = |q: f64| xs[((xs.len() - 1) as f64 * q).round() as usize];
    Some(Quartiles {
        lo: at(0.25),
        mid: xs[xs.len() / 2],
        hi: at(0.75),
    })
}

/// The middle half of a set of per-repetition figures, and its median.
#[derive(Debug, Clone, Copy)]
struct Quartiles {
    lo: f64,
    mid: f64,
    hi: f64,
}

impl Quartiles {
    /// A budget is met when both quartiles meet it and not met when neither does; between,
    /// this machine's noise is larger than the budget.
    fn judge(self, ok: impl Fn(f64) -> bool) -> Option<bool> {
        match (ok(self.lo), ok(self.hi)) {
            (true, true) => Some(true),
            (false, false) => Some(false),
            _ => None,
        }
    }
}

fn median(mut xs: Vec<f64>) -> Option<f64> {
    if xs.is_empty() {
        return None;
    }
    xs.sort_by(f64::total_cmp);
    Some(xs[xs.len() / 2])
}

impl Cell {
    fn values(&self, f: impl Fn(&RunResult) -> Option<f64>) -> Vec<f64> {
        self.runs.iter().flatten().filter_map(f).collect()
    }

    fn median(&self, f: impl Fn(&RunResult) -> Option<f64>) -> Option<f64> {
        median(self.values(f))
    }

    fn range(&self, f: impl Fn(&RunResult) -> Option<f64>) -> Option<(f64, f64)> {
        let v = self.values(f);
        let lo = v.iter().copied().reduce(f64::min)?;
        let hi = v.iter().copied().reduce(f64::max)?;
        Some((lo, hi))
    }

    /// `f(this run's metric, the baseline's metric in the same repetition)` for every
    /// repetition where both ran: pairs runs that ran close in time.
    fn paired_values(
        &self,
        base: &Cell,
        metric: impl Fn(&RunResult) -> Option<f64>,
        f: impl Fn(f64, f64) -> f64,
    ) -> Vec<f64> {
        self.runs
            .iter()
            .zip(&base.runs)
            .filter_map(|(a, b)| Some(f(metric(a.as_ref()?)?, metric(b.as_ref()?)?)))
            .collect()
    }

    /// The median of [`Cell::paired_values`].
    fn paired(
        &self,
        base: &Cell,
        metric: impl Fn(&RunResult) -> Option<f64>,
        f: impl Fn(f64, f64) -> f64,
    ) -> Option<f64> {
        median(self.paired_values(base, metric, f))
    }

    fn sum(&self, key: &str) -> Option<f64> {
        let v = self.values(|r| r.get(key).copied());
        (!v.is_empty()).then(|| v.iter().sum())
    }
}

/// The line printed to stderr after each child run.
pub fn progress_line(work: Workload, r: &RunResult) -> String {
    let ns = ns_per_unit(r).unwrap_or(f64::NAN);
    match work {
        Workload::Tcp => format!(
            "{:9.0} req/s  p50 {:6.1} µs  p99 {:6.1} µs",
            1e9 / ns,
            r.get("p50_ns").copied().unwrap_or(f64::NAN) / 1e3,
            r.get("p99_ns").copied().unwrap_or(f64::NAN) / 1e3
        ),
        _ => format!("{ns:9.1} ns/{}", work.unit()),
    }
}

/// CPU nanoseconds used so far by this process's live threads (Linux; 0 elsewhere).
pub fn process_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// CPU time counters (Linux, clock ticks): the whole machine's busy and total time, and
/// this process's with its finished children.
#[derive(Debug, Clone, Copy)]
pub struct CpuTicks(Option<(u64, u64, u64)>);

impl CpuTicks {
    /// Reads the counters now.
    pub fn read() -> CpuTicks {
        CpuTicks(Self::try_read())
    }

    fn try_read() -> Option<(u64, u64, u64)> {
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
        let own = std::fs::read_to_string("/proc/self/stat").ok()?;
        // utime stime cutime cstime: fields 14–17, i.e. 11–14 after the command name.
        let own: u64 = own
            .rsplit_once(')')?
            .1
            .split_whitespace()
            .skip(11)
            .take(4)
            .filter_map(|v| v.parse::<u64>().ok())
            .sum();
        Some((busy, total, own))
    }

    /// The share of the machine's CPU time that other processes used since `before`.
    pub fn others_share_since(&self, before: &CpuTicks) -> Option<f64> {
        let (b, a) = (before.0?, self.0?);
        (a.1 > b.1).then(|| {
            let others = (a.0 - b.0).saturating_sub(a.2 - b.2);
            others as f64 / (a.1 - b.1) as f64
        })
    }
}

/// Everything the report needs.
pub struct Report {
    /// The command that produced it.
    pub command: String,
    /// Whether sizes were the smoke-run ones.
    pub quick: bool,
    /// Repetitions of every pair.
    pub reps: usize,
    /// Workload sizes.
    pub sizes: Sizes,
    /// Tracers in report order; the first is the untraced baseline.
    pub tracers: Vec<Tracer>,
    /// Workloads in report order.
    pub workloads: Vec<Workload>,
    /// Results by (index in `tracers`, index in `workloads`).
    pub cells: BTreeMap<(usize, usize), Cell>,
    /// The microbenchmark's result, if it ran.
    pub micro: Option<Result<RunResult, String>>,
    /// Share of the machine's CPU other processes took meanwhile.
    pub others_share: Option<f64>,
    /// How long the whole run took.
    pub elapsed: Duration,
    /// The other build whose untraced runs joined the comparison, if any.
    pub baseline_exe: Option<String>,
}

fn f1(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.1}"))
}

fn f2(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:.2}"))
}

fn signed(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{v:+.1}"))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("—".into(), |v| format!("{:+.1} %", 100.0 * v))
}

/// Thousands separated by thin spaces, as the other RESULTS tables write them.
fn big(v: Option<f64>) -> String {
    let Some(v) = v else { return "—".into() };
    let digits = format!("{:.0}", v.round());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The trace-rt mode a peer is compared with: the one that records the same kind of data.
fn counterpart(peer: Tracer) -> Tracer {
    #[cfg(feature = "peers")]
    if peer == Tracer::Dial9Spawn {
        return Tracer::RtWakes;
    }
    let _ = peer; // only dial9-spawn has another counterpart; without the peers, unused
    Tracer::Rt
}

fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores ({model})")
}

/// Whether this run's figures can be judged against budgets at all.
fn judgeable(quick: bool) -> bool {
    !quick && !cfg!(debug_assertions)
}

impl Report {
    fn cell(&self, t: usize, w: usize) -> Option<&Cell> {
        self.cells.get(&(t, w))
    }

    fn workload_index(&self, w: Workload) -> Option<usize> {
        self.workloads.iter().position(|&x| x == w)
    }

    fn tracer_index(&self, t: Tracer) -> Option<usize> {
        self.tracers.iter().position(|&x| x == t)
    }

    /// Median added ns per unit of tracer `t` over the baseline on workload `w`.
    fn added(&self, t: usize, w: usize) -> Option<f64> {
        self.cell(t, w)?
            .paired(self.cell(0, w)?, ns_per_unit, |a, b| a - b)
    }

    /// Median ratio to the baseline (ns per unit).
    fn ratio(&self, t: usize, w: usize) -> Option<f64> {
        self.cell(t, w)?
            .paired(self.cell(0, w)?, ns_per_unit, |a, b| a / b)
    }

    /// Median change of throughput against the baseline (negative: a loss).
    fn throughput_change(&self, t: usize, w: usize) -> Option<f64> {
        self.cell(t, w)?
            .paired(self.cell(0, w)?, ns_per_unit, |a, b| b / a - 1.0)
    }

    /// Quartiles of the added ns per unit over the baseline.
    fn added_quartiles(&self, t: Tracer, w: Workload) -> Option<Quartiles> {
        let (t, w) = (self.tracer_index(t)?, self.workload_index(w)?);
        quartiles(
            self.cell(t, w)?
                .paired_values(self.cell(0, w)?, ns_per_unit, |a, b| a - b),
        )
    }

    /// Quartiles of the change of throughput against the baseline.
    fn change_quartiles(&self, t: Tracer, w: Workload) -> Option<Quartiles> {
        let (t, w) = (self.tracer_index(t)?, self.workload_index(w)?);
        quartiles(
            self.cell(t, w)?
                .paired_values(self.cell(0, w)?, ns_per_unit, |a, b| b / a - 1.0),
        )
    }

    /// Median added CPU time (all threads) per unit over the baseline.
    fn added_cpu(&self, t: usize, w: usize) -> Option<f64> {
        self.cell(t, w)?
            .paired(self.cell(0, w)?, cpu_per_unit, |a, b| a - b)
    }

    fn added_of(&self, t: Tracer, w: Workload) -> Option<f64> {
        self.added(self.tracer_index(t)?, self.workload_index(w)?)
    }

    fn failed(&self, t: usize, w: usize) -> Option<&str> {
        self.cell(t, w)?.error.as_deref()
    }

    /// Prints the whole report as markdown.
    pub fn print(&self) {
        println!("## trace-rt and its peers, side by side");
        println!();
        println!("- command: `{}`", self.command);
        println!(
            "- machine: {}; tokio runtime with {WORKERS} workers; every run is its own process",
            machine()
        );
        println!(
            "- {} repetitions; within each, the tracers run in an order rotated by one per repetition; \
             figures are medians over repetitions ([min..max] where shown); \"added\" and \"×\" are medians \
             of per-repetition differences and ratios to the untraced run of the same repetition",
            self.reps
        );
        println!(
            "- other processes took {} of the machine's CPU time during the run, which took {:.0} s{}",
            self.others_share
                .map_or("?".into(), |s| format!("{:.0} %", 100.0 * s)),
            self.elapsed.as_secs_f64(),
            match (self.quick, cfg!(debug_assertions)) {
                (true, _) => " — **--quick: smoke-run sizes, the figures mean nothing**",
                (false, true) => " — **debug build: the figures mean nothing (use --release)**",
                (false, false) => "",
            }
        );
        println!(
            "- every child runs the workload once at a tenth of its size (warm-up), then once measured; \
             trace bytes cover both runs and are divided by both runs' units"
        );
        for &w in &self.workloads {
            println!("- {}", w.describe(&self.sizes));
        }
        if let Some(exe) = &self.baseline_exe {
            println!(
                "- \"{}\": the untraced workloads run by `{exe}` (README: built with \
                 `--no-default-features`, i.e. tokio without its `tracing` feature); its \
                 \"added\" is that build minus this one's untraced run, negative where the \
                 feature costs this build time",
                Tracer::OtherBuild.label()
            );
        }
        println!();
        self.print_overview();
        for (wi, &w) in self.workloads.iter().enumerate() {
            self.print_workload(wi, w);
        }
        self.print_file_sizes();
        self.print_micro();
        self.print_budgets();
        self.print_failures();
    }

    fn print_overview(&self) {
        if self.workloads.is_empty() {
            return;
        }
        println!("### Overview (added per unit over untraced; TCP: change of requests/s)");
        println!();
        let mut head = "| tracer |".to_string();
        let mut rule = "|---|".to_string();
        for w in &self.workloads {
            head += &match w {
                Workload::Tcp => " TCP req/s (change) | TCP p99 µs |".to_string(),
                _ => format!(" {} ns/{} (added) |", w.name(), w.unit()),
            };
            rule += if *w == Workload::Tcp {
                "---|---|"
            } else {
                "---|"
            };
        }
        println!("{head}");
        println!("{rule}");
        for (ti, t) in self.tracers.iter().enumerate() {
            let mut row = format!("| {} |", t.label());
            for (wi, &w) in self.workloads.iter().enumerate() {
                let Some(cell) = self.cell(ti, wi) else {
                    row += if w == Workload::Tcp {
                        " — | — |"
                    } else {
                        " — |"
                    };
                    continue;
                };
                if self.failed(ti, wi).is_some() {
                    row += if w == Workload::Tcp {
                        " failed | — |"
                    } else {
                        " failed |"
                    };
                    continue;
                }
                let ns = cell.median(ns_per_unit);
                let extra = |s: String| if ti == 0 { String::new() } else { s };
                row += &match w {
                    Workload::Tcp => format!(
                        " {}{} | {} |",
                        big(ns.map(|n| 1e9 / n)),
                        extra(format!(" ({})", pct(self.throughput_change(ti, wi)))),
                        f1(cell.median(|r| Some(r.get("p99_ns")? / 1e3)))
                    ),
                    _ => format!(
                        " {}{} |",
                        f1(ns),
                        extra(format!(" ({})", signed(self.added(ti, wi))))
                    ),
                };
            }
            println!("{row}");
        }
        println!();
    }

    fn print_workload(&self, wi: usize, w: Workload) {
        println!("### {}", w.describe(&self.sizes));
        println!();
        let unit = w.unit();
        if w == Workload::Tcp {
            println!(
                "| tracer | requests/s [min..max] | change | p50 µs | p99 µs | CPU µs/request, all threads (added) | trace B/request | lost events |"
            );
            println!("|---|---|---|---|---|---|---|---|");
        } else {
            println!(
                "| tracer | ns/{unit} [min..max] | added ns/{unit} | × untraced | CPU ns/{unit}, all threads (added) | trace B/{unit} | events/{unit} | B/event | lost events |"
            );
            println!("|---|---|---|---|---|---|---|---|---|");
        }
        for (ti, t) in self.tracers.iter().enumerate() {
            let Some(cell) = self.cell(ti, wi) else {
                continue;
            };
            if let Some(e) = &cell.error {
                let first = e.lines().next().unwrap_or("");
                println!("| {} | failed: {} |", t.label(), first.replace('|', "/"));
                continue;
            }
            let cpu = cell.median(cpu_per_unit);
            // CPU time is less sensitive than wall time to other processes taking the
            // cores, and it counts the tracer's own threads.
            let cpu_added = if ti == 0 {
                String::new()
            } else {
                format!(" ({})", signed(self.added_cpu(ti, wi)))
            };
            let cpu_added_us = if ti == 0 {
                String::new()
            } else {
                let added = self.added_cpu(ti, wi);
                format!(
                    " ({})",
                    added.map_or("—".into(), |c| format!("{:+.2}", c / 1e3))
                )
            };
            let bytes = cell.median(bytes_per_unit);
            let events = cell.median(|r| Some(r.get("events")? / r.get("traced_units")?.max(1.0)));
            let per_event = cell.median(bytes_per_event);
            let lost = cell.sum("lost").map_or("—".into(), |l| format!("{l:.0}"));
            let base = ti == 0;
            if w == Workload::Tcp {
                let rps = |r: &RunResult| Some(1e9 / ns_per_unit(r)?);
                let (lo, hi) = cell.range(rps).unwrap_or((f64::NAN, f64::NAN));
                println!(
                    "| {} | {} [{}..{}] | {} | {} | {} | {}{cpu_added_us} | {} | {} |",
                    t.label(),
                    big(cell.median(rps)),
                    big(Some(lo)),
                    big(Some(hi)),
                    if base {
                        "—".into()
                    } else {
                        pct(self.throughput_change(ti, wi))
                    },
                    f1(cell.median(|r| Some(r.get("p50_ns")? / 1e3))),
                    f1(cell.median(|r| Some(r.get("p99_ns")? / 1e3))),
                    f2(cpu.map(|c| c / 1e3)),
                    f1(bytes),
                    lost,
                );
            } else {
                let (lo, hi) = cell.range(ns_per_unit).unwrap_or((f64::NAN, f64::NAN));
                println!(
                    "| {} | {} [{lo:.1}..{hi:.1}] | {} | {} | {}{cpu_added} | {} | {} | {} | {} |",
                    t.label(),
                    f1(cell.median(ns_per_unit)),
                    if base {
                        "—".into()
                    } else {
                        signed(self.added(ti, wi))
                    },
                    if base {
                        "—".into()
                    } else {
                        format!("{}×", f2(self.ratio(ti, wi)))
                    },
                    f1(cpu),
                    f1(bytes),
                    f2(events),
                    f2(per_event),
                    lost,
                );
            }
        }
        println!();
        // Runs that stopped early (spawn-heavy's time limit) measured fewer units.
        for (ti, t) in self.tracers.iter().enumerate() {
            let Some(cell) = self.cell(ti, wi) else {
                continue;
            };
            let done = cell.median(|r| r.get("units").copied());
            let planned = cell.median(|r| r.get("planned").copied());
            if let (Some(done), Some(planned)) = (done, planned)
                && done < planned
            {
                println!(
                    "- {}: stopped at the time limit after a median of {} of {} {unit}s",
                    t.label(),
                    big(Some(done)),
                    big(Some(planned))
                );
            }
        }
        if self.tracers.iter().enumerate().any(|(ti, _)| {
            self.cell(ti, wi).is_some_and(|c| {
                c.median(|r| Some(r.get("planned")? - r.get("units")?))
                    .is_some_and(|d| d > 0.0)
            })
        }) {
            println!();
        }
    }

    /// Bytes per poll (or per task, per request) of the tracers that write a binary file.
    fn print_file_sizes(&self) {
        #[cfg(feature = "peers")]
        let writers = [
            Tracer::Rt,
            Tracer::RtWakes,
            Tracer::Dial9,
            Tracer::Dial9Spawn,
            Tracer::Chrome,
        ];
        #[cfg(not(feature = "peers"))]
        let writers = [Tracer::Rt];
        let writers: Vec<(usize, Tracer)> = writers
            .into_iter()
            .filter_map(|t| Some((self.tracer_index(t)?, t)))
            .collect();
        if writers.is_empty() || self.workloads.is_empty() {
            return;
        }
        println!("### Trace size: bytes per unit (bytes per event)");
        println!();
        let mut head = "| workload |".to_string();
        for (_, t) in &writers {
            head += &format!(" {} |", t.label());
        }
        println!("{head}");
        println!("|---|{}", "---|".repeat(writers.len()));
        for (wi, w) in self.workloads.iter().enumerate() {
            let mut row = format!("| {} (per {}) |", w.name(), w.unit());
            for &(ti, _) in &writers {
                let Some(cell) = self.cell(ti, wi).filter(|c| c.error.is_none()) else {
                    row += " — |";
                    continue;
                };
                let per_unit = cell.median(bytes_per_unit);
                let per_event = cell.median(bytes_per_event);
                row += &match per_event {
                    Some(e) => format!(" {} ({e:.2}) |", f2(per_unit)),
                    None => format!(" {} |", f2(per_unit)),
                };
            }
            println!("{row}");
        }
        println!();
    }

    fn micro(&self) -> Option<&RunResult> {
        self.micro.as_ref()?.as_ref().ok()
    }

    fn print_micro(&self) {
        let Some(m) = &self.micro else { return };
        println!(
            "### One trace-rt event vs one bare TSC read (medians of interleaved repetitions)"
        );
        println!();
        let m = match m {
            Ok(m) => m,
            Err(e) => {
                println!("failed: {e}");
                println!();
                return;
            }
        };
        let g = |k: &str| m.get(k).copied();
        println!("| figure | ns |");
        println!("|---|---|");
        println!(
            "| bare TSC read (`trace_rt::raw::raw_ticks`) | {} |",
            f2(g("tsc_ns"))
        );
        println!("| `Instant::now()` | {} |", f2(g("instant_ns")));
        println!(
            "| trace-rt: record one event while recording | {} (= {}× the TSC read; lost {}) |",
            f2(g("event_ns")),
            f2(g("event_ns").zip(g("tsc_ns")).map(|(e, t)| e / t)),
            g("lost").map_or("?".into(), |l| format!("{l:.0}"))
        );
        println!(
            "| trace-rt: the same call while not recording | {} |",
            f2(g("event_idle_ns"))
        );
        println!();
    }

    fn print_budgets(&self) {
        println!("### Budgets (docs/ARCHITECTURE.md) this harness measures");
        println!();
        // Smoke runs and debug builds still print the figures, never a verdict; `None`
        // means the figure's quartiles straddle the budget.
        let verdict = |ok: Option<bool>| {
            if !judgeable(self.quick) {
                "n/a (smoke run or debug build)"
            } else {
                match ok {
                    Some(true) => "**met**",
                    Some(false) => "**not met**",
                    None => "inconclusive: the middle half of the repetitions straddles the budget",
                }
            }
        };
        let quart = |q: Option<Quartiles>, fmt: &dyn Fn(f64) -> String| {
            q.map_or("—".into(), |q| {
                format!("{} (middle half {} … {})", fmt(q.mid), fmt(q.lo), fmt(q.hi))
            })
        };
        let ns = |v: f64| format!("{v:+.1} ns");
        let share = |v: f64| format!("{:+.1} %", 100.0 * v);
        println!("| budget | measured (median of per-repetition figures) | verdict |");
        println!("|---|---|---|");
        if let Some(m) = self.micro() {
            let ratio = m.get("event_ns").zip(m.get("tsc_ns")).map(|(e, t)| e / t);
            println!(
                "| one event on the hot path ≤ 1.5× one bare TSC read | {}× ({} ns vs {} ns) | {} |",
                f2(ratio),
                f2(m.get("event_ns").copied()),
                f2(m.get("tsc_ns").copied()),
                verdict(ratio.map(|r| r <= 1.5))
            );
        }
        // Rows only for figures this run measured, like the TCP row below.
        if let Some(rt) = self.added_quartiles(Tracer::Rt, Workload::Yield) {
            println!(
                "| added cost per poll, yield loop, 2 workers ≤ 15 ns (recording, default mode) | {} per poll | {} |",
                quart(Some(rt), &ns),
                verdict(rt.judge(|a| a <= 15.0))
            );
            // "Well below every peer": at most half of the cheapest peer's added cost.
            let cheapest = self
                .tracers
                .iter()
                .filter(|t| t.is_peer())
                .filter_map(|&t| Some((t, self.added_of(t, Workload::Yield)?)))
                .min_by(|a, b| a.1.total_cmp(&b.1));
            if let Some((peer, cost)) = cheapest {
                println!(
                    "| … and well below every peer in the same run (taken as: at most half the cheapest peer's) | {} per poll vs {} {cost:+.1} ns | {} |",
                    quart(Some(rt), &ns),
                    peer.label(),
                    verdict(rt.judge(|a| a <= cost / 2.0))
                );
            }
        }
        let loss = self.change_quartiles(Tracer::Rt, Workload::Tcp);
        if loss.is_some() {
            println!(
                "| end-to-end loopback request/response ≤ 1 % throughput loss (recording, default mode) | {} requests/s | {} |",
                quart(loss, &share),
                verdict(loss.and_then(|q| q.judge(|l| l >= -0.01)))
            );
        }
        // What CPU sampling and the stall watchdog add, as a share of the CPU the service
        // used recording with stacks off (each repetition paired with its own).
        let sampling = (|| {
            let (a, b) = (
                self.tracer_index(Tracer::Rt)?,
                self.tracer_index(Tracer::RtNoStacks)?,
            );
            let w = self.workload_index(Workload::Tcp)?;
            quartiles(self.cell(a, w)?.paired_values(
                self.cell(b, w)?,
                cpu_per_unit,
                |x, y| x / y - 1.0,
            ))
        })();
        if sampling.is_some() {
            println!(
                "| CPU sampling at 99 Hz ≤ 1 % added CPU on the loopback service (`rt` against `rt-no-stacks`, CPU of all threads per request) | {} | {} |",
                quart(sampling, &share),
                verdict(sampling.and_then(|q| q.judge(|c| c <= 0.01)))
            );
        }
        let idle = self.added_of(Tracer::RtIdle, Workload::Yield);
        let idle_call = self.micro().and_then(|m| m.get("event_idle_ns").copied());
        if idle.is_some() || idle_call.is_some() {
            println!(
                "| not recording: one relaxed atomic load per hook | {} ns/poll added on the yield loop; {} ns per `record` call | timing cannot count loads: see `trace-rt/src/local.rs` |",
                signed(idle),
                f2(idle_call)
            );
        }
        if let Some(t) = self.tracer_index(Tracer::Rt) {
            let per_event: Vec<(Workload, f64)> = self
                .workloads
                .iter()
                .enumerate()
                .filter_map(|(wi, &w)| {
                    let c = self.cell(t, wi)?;
                    let v = c.median(bytes_per_event)?;
                    Some((w, v))
                })
                .collect();
            if !per_event.is_empty() {
                let list: Vec<String> = per_event
                    .iter()
                    .map(|(w, v)| format!("{} {v:.2}", w.name()))
                    .collect();
                let over: Vec<&str> = per_event
                    .iter()
                    .filter(|x| x.1 > 4.0)
                    .map(|x| x.0.name())
                    .collect();
                let verdict = if !judgeable(self.quick) {
                    verdict(None).to_string()
                } else if over.is_empty() {
                    "**met**".to_string()
                } else if over.len() == per_event.len() {
                    "**not met**".to_string()
                } else {
                    format!("**not met** on {} (met on the others)", over.join(", "))
                };
                println!(
                    "| file size ≤ 4 bytes per event on average (per workload) | {} B/event | {verdict} |",
                    list.join(", ")
                );
            }
        }
        println!();
        self.print_peer_wins();
    }

    /// Where a peer's added wall time per unit is below that of the trace-rt mode that
    /// records the same kind of data: dial9 with its own spawn (wakes) against trace-rt
    /// with wakes, every other peer against trace-rt's default mode.
    fn print_peer_wins(&self) {
        let mut wins = Vec::new();
        for (wi, &w) in self.workloads.iter().enumerate() {
            for (ti, &t) in self.tracers.iter().enumerate() {
                if !t.is_peer() {
                    continue;
                }
                let ours = counterpart(t);
                let Some(oi) = self.tracer_index(ours) else {
                    continue;
                };
                let (Some(theirs), Some(our)) = (self.added(ti, wi), self.added(oi, wi)) else {
                    continue;
                };
                if theirs >= our {
                    continue;
                }
                let cpu = |i| signed(self.added_cpu(i, wi));
                wins.push(if w == Workload::Tcp {
                    format!(
                        "- tcp: {} changes requests/s by {}, {} by {}",
                        t.label(),
                        pct(self.throughput_change(ti, wi)),
                        ours.label(),
                        pct(self.throughput_change(oi, wi))
                    )
                } else {
                    format!(
                        "- {}: {} adds {theirs:+.1} ns/{unit} (CPU {}), {} {our:+.1} (CPU {})",
                        w.name(),
                        t.label(),
                        cpu(ti),
                        ours.label(),
                        cpu(oi),
                        unit = w.unit(),
                    )
                });
            }
        }
        if wins.is_empty() {
            println!(
                "No peer added less wall time than trace-rt recording the same kind of data \
                 (hooks only, or with wakes) on any workload in this run."
            );
        } else {
            println!(
                "Where a peer added less wall time than trace-rt recording the same kind of data \
                 (hooks only, or with wakes) in this run:"
            );
            for w in wins {
                println!("{w}");
            }
        }
        println!();
    }

    fn print_failures(&self) {
        let mut any = false;
        for ((t, w), cell) in &self.cells {
            if let Some(e) = &cell.error {
                if !any {
                    println!("### Failures");
                    println!();
                    any = true;
                }
                println!(
                    "- {} on {}: {}",
                    self.tracers[*t].label(),
                    self.workloads[*w].name(),
                    e
                );
            }
        }
        if let Some(Err(e)) = &self.micro {
            if !any {
                println!("### Failures");
                println!();
            }
            println!("- microbenchmark: {e}");
        }
    }
}
