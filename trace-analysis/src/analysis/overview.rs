//! The analysis behind `trace-viewer report`: what the trace could see (coverage), the task
//! breakdown, an MMU summary and the code's hot spots, computed together from one [`Model`].

use serde::Serialize;

use super::breakdown::{Breakdown, BreakdownOptions};
use super::groups::TaskGroups;
use super::hotspots::Hotspots;
use super::mmu::{self, MmuPoint, Window};
use super::regions::{RegionGroups, RegionsOptions};
use super::utilization::{LongPolls, UtilizationOptions, long_polls, utilization};
use crate::model::{Anomalies, CounterKind, Model, Nanos, TaskIx};

/// What [`Analysis::compute`] computes.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisOptions {
    /// Breakdown options.
    pub breakdown: BreakdownOptions,
    /// Window sizes of the MMU summary.
    pub mmu_windows: Vec<Nanos>,
    /// The window of the MUD percentiles and worst windows.
    pub mud_window: Nanos,
    /// How many worst windows to list.
    pub worst_windows: usize,
    /// Utilization options (responsiveness mode).
    pub utilization: UtilizationOptions,
}

impl Default for AnalysisOptions {
    /// Windows 1 ms, 10 ms, 100 ms, 1 s; MUD and 3 worst windows at 10 ms.
    fn default() -> Self {
        AnalysisOptions {
            breakdown: BreakdownOptions::default(),
            mmu_windows: vec![1_000_000, 10_000_000, 100_000_000, 1_000_000_000],
            mud_window: 10_000_000,
            worst_windows: 3,
            utilization: UtilizationOptions::default(),
        }
    }
}

/// What the recorder could see, so a reader knows which numbers to trust.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Coverage {
    /// Whether the recorder was built with `tokio_unstable` (task hooks); null when the
    /// header does not say.
    pub tokio_unstable: Option<bool>,
    /// The trace has task events (spawns or polls).
    pub tasks: bool,
    /// The trace has wake events (wake mode), so waits are attributed to their source.
    pub wakes: bool,
    /// The trace has tokio's schedule latencies.
    pub schedule_latency: bool,
    /// The trace has allocator counters or samples.
    pub allocator: bool,
    /// The trace has pauses.
    pub pauses: bool,
    /// The trace has `tracing` regions or logs.
    pub tracing: bool,
    /// What follows for the numbers, in words.
    pub notes: Vec<String>,
}

impl Coverage {
    /// Coverage of `model`.
    pub fn of(model: &Model) -> Coverage {
        let tokio_unstable = model.feature("tokio_unstable").map(|v| v == "true");
        let tasks = !model.polls.is_empty() || model.tasks.iter().any(|t| t.spawn.is_some());
        let wakes = model.has_wakes();
        let schedule_latency = !model.schedule_latencies.is_empty();
        let allocator = !model.alloc_samples.is_empty()
            || model
                .counters
                .iter()
                .any(|c| c.kind == CounterKind::HeapInUse);
        let pauses =
            !model.process_pauses.is_empty() || model.threads.iter().any(|t| !t.pauses.is_empty());
        let tracing = !model.logs.is_empty() || model.threads.iter().any(|t| !t.regions.is_empty());
        let mut notes = Vec::new();
        if tokio_unstable == Some(false) {
            notes.push(
                "recorded without --cfg tokio_unstable: no task spawns, polls or terminates, \
                 only threads, parks and runtime samples"
                    .to_string(),
            );
        }
        if tasks && !wakes {
            notes.push(if schedule_latency {
                "no wake events (wake mode off): waiting time is 'unknown' except tokio's \
                 measured schedule latency, which is counted as scheduler wait"
                    .to_string()
            } else {
                "no wake events (wake mode off): time between polls is waiting 'unknown'; \
                 scheduler wait is only seen right after spawns; record with the `wakes` \
                 feature or schedule latency to split it"
                    .to_string()
            });
        }
        let seen_only_ending = (0..model.tasks.len())
            .filter(|&t| {
                let task = &model.tasks[t];
                task.spawn.is_none()
                    && task.terminate.is_some()
                    && model.task_poll_count(TaskIx(t as u32)) == 0
            })
            .count();
        if seen_only_ending > 0 {
            notes.push(format!(
                "{seen_only_ending} tasks were seen only when they ended (no spawn, no poll):                  tokio reports spawn_blocking work to the terminate hook only; wake mode                  records it whole"
            ));
        }
        Coverage {
            tokio_unstable,
            tasks,
            wakes,
            schedule_latency,
            allocator,
            pauses,
            tracing,
            notes,
        }
    }
}

/// The poll length the report measures long polls against when `--long-poll` is not given:
/// a poll of more than 1 ms keeps its worker from everything else for that long.
pub const LONG_POLL: Nanos = 1_000_000;

/// Polls longer than this share of worker time are "noticeable": the report's first screen
/// names them.
pub const NOTICEABLE_LONG_POLLS: f64 = 0.01;

/// The MMU part of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MmuSummary {
    /// Worker threads the utilization is over.
    pub workers: usize,
    /// Mean utilization over the whole trace.
    pub mean: f64,
    /// MMU at each window of the options.
    pub windows: Vec<MmuPoint>,
    /// The window of the percentiles and worst windows.
    pub mud_window_ns: Nanos,
    /// Utilization at the worst window, and the 0.1 %, 1 % and 5 % quantiles of all windows
    /// (Go's "worst, 99.9th, 99th, 95th percentile").
    pub mud: MudPercentiles,
    /// The worst disjoint windows at the MUD window, worst first.
    pub worst_windows: Vec<Window>,
    /// Polls longer than the long-poll threshold (`--long-poll`, else [`LONG_POLL`]): their
    /// share of worker time and the longest poll on a worker.
    pub long_polls: LongPolls,
    /// True when `long_polls.share` is at least [`NOTICEABLE_LONG_POLLS`]: the text report
    /// then names them on its first screen.
    pub long_polls_noticeable: bool,
    /// The responsiveness MMU at the same windows: polls longer than the threshold count as
    /// unavailable (the same as `windows` when `--long-poll` was given).
    pub responsiveness: Responsiveness,
}

/// The MMU with long polls counted as unavailable.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Responsiveness {
    /// Polls longer than this count as unavailable.
    pub long_poll_ns: Nanos,
    /// Mean utilization over the trace.
    pub mean: f64,
    /// MMU at each window of the options.
    pub windows: Vec<MmuPoint>,
}

/// MUD percentiles of one window size.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MudPercentiles {
    /// The worst window (= MMU).
    pub worst: f64,
    /// 99.9 % of windows are better.
    pub p99_9: f64,
    /// 99 % of windows are better.
    pub p99: f64,
    /// 95 % of windows are better.
    pub p95: f64,
}

/// Everything the report adds to the file summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Analysis {
    /// What the recorder could see.
    pub coverage: Coverage,
    /// The task breakdown.
    pub breakdown: Breakdown,
    /// The MMU summary, or null when there are no workers.
    pub mmu: Option<MmuSummary>,
    /// Why there is no MMU summary.
    pub mmu_unavailable: Option<String>,
    /// Which functions burn CPU, stall polls and allocate (from the trace's stack samples).
    pub code: Hotspots,
    /// `tracing` spans grouped by name and low-cardinality fields (empty without spans).
    pub regions: RegionGroups,
    /// What the model had to repair or ignore.
    pub anomalies: Anomalies,
}

impl Analysis {
    /// Computes the analysis of `model`.
    pub fn compute(model: &Model, options: &AnalysisOptions) -> Analysis {
        let (mmu, mmu_unavailable) = match mmu_summary(model, options) {
            Ok(s) => (Some(s), None),
            Err(e) => (None, Some(e)),
        };
        Analysis {
            coverage: Coverage::of(model),
            breakdown: Breakdown::compute(model, &options.breakdown),
            mmu,
            mmu_unavailable,
            code: Hotspots::compute(model, &TaskGroups::by(model, options.breakdown.group_by)),
            regions: RegionGroups::build(model, &RegionsOptions::default()),
            anomalies: model.anomalies,
        }
    }
}

fn mmu_summary(model: &Model, options: &AnalysisOptions) -> Result<MmuSummary, String> {
    let u = utilization(model, options.utilization).map_err(|e| e.to_string())?;
    let q = mmu::mud(&u, options.mud_window, &[0.0, 0.001, 0.01, 0.05]);
    let windows = mmu::mmu_curve(&u, &options.mmu_windows);
    let threshold = options.utilization.long_poll.unwrap_or(LONG_POLL);
    let long_polls = long_polls(model, threshold).ok_or("the trace has no worker threads")?;
    let responsiveness = if options.utilization.long_poll.is_some() {
        Responsiveness {
            long_poll_ns: threshold,
            mean: u.mean(),
            windows: windows.clone(),
        }
    } else {
        let responsive = UtilizationOptions {
            long_poll: Some(threshold),
        };
        let r = utilization(model, responsive).map_err(|e| e.to_string())?;
        Responsiveness {
            long_poll_ns: threshold,
            mean: r.mean(),
            windows: mmu::mmu_curve(&r, &options.mmu_windows),
        }
    };
    Ok(MmuSummary {
        workers: model.workers().len(),
        mean: u.mean(),
        windows,
        mud_window_ns: options.mud_window,
        mud: MudPercentiles {
            worst: q[0],
            p99_9: q[1],
            p99: q[2],
            p95: q[3],
        },
        worst_windows: mmu::worst_windows(&u, options.mud_window, options.worst_windows),
        long_polls_noticeable: long_polls.share >= NOTICEABLE_LONG_POLLS,
        long_polls,
        responsiveness,
    })
}

#[cfg(test)]
mod tests {
    use trace_format::build::TraceBuilder;
    use trace_format::{Event, TaskId, ThreadKind, Trace};

    use super::*;

    #[test]
    fn coverage_explains_what_the_numbers_can_and_cannot_say() {
        let mut b = TraceBuilder::new();
        b.header.features = vec![("tokio_unstable".into(), "true".into())];
        b.push(
            1,
            0,
            Event::ThreadStart {
                kind: ThreadKind::Worker,
                index: 0,
            },
        );
        b.push(1, 10, Event::PollStart { task: TaskId(1) });
        b.push(1, 20, Event::PollEnd { ready: false });
        b.push(2, 30, Event::TaskTerminate { task: TaskId(2) });
        b.push(2, 31, Event::TaskTerminate { task: TaskId(3) });
        let model = Model::build(&Trace::from_bytes(b.to_bytes()).unwrap()).unwrap();
        let c = Coverage::of(&model);
        assert_eq!(
            (c.tokio_unstable, c.tasks, c.wakes),
            (Some(true), true, false)
        );
        assert!(
            c.notes.iter().any(|n| n.contains("no wake events")),
            "{:?}",
            c.notes
        );
        assert!(
            c.notes
                .iter()
                .any(|n| n.starts_with("2 tasks were seen only when they ended")),
            "{:?}",
            c.notes
        );
        let a = Analysis::compute(&model, &AnalysisOptions::default());
        assert_eq!(a.mmu.as_ref().map(|m| m.workers), Some(1));
        assert!(a.mmu_unavailable.is_none());
    }
}
