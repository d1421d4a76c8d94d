//! The task breakdown (Go's "goroutine analysis", grouped by spawn location): where each
//! group of tasks spent its time, the longest polls, groups that look leaked and long-lived
//! waiters ([`leaks`]), how busy each worker was, and the pauses by kind.
//!
//! Built by [`Breakdown::compute`] from the [`states`](super::states) partition, so every
//! number here adds up to the tasks' lifetimes. Serializes to the `breakdown` part of the
//! report's JSON.

use std::collections::{BTreeMap, BinaryHeap};

use rayon::prelude::*;
use serde::Serialize;
use trace_format::sampling::sample_weight;
use trace_format::{PauseScope, TaskKind};

use super::groups::{GroupBy, TaskGroups};
use super::states::{StateTotals, TaskState, WaitReason, for_each_segment, paused_spans};
use crate::model::{AllocSample, Model, Nanos, Span, TaskIx};

pub mod leaks;
pub use leaks::{WAIT_SITES, WaitSite, WaitingGroup, WaitingTask};

/// What [`Breakdown::compute`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakdownOptions {
    /// A task still alive at the end of the trace that has been waiting this long is stuck:
    /// its group is a leak suspect when it also grew ([`leaks`]), else long-lived.
    pub leak_threshold: Nanos,
    /// How many of the longest polls to list.
    pub longest_polls: usize,
    /// How many leak-suspect groups (and long-lived groups) to list (all are counted).
    pub leak_suspects: usize,
    /// How many of each such group's stuck tasks to list, oldest waiting first.
    pub leak_tasks: usize,
    /// What groups tasks (default: spawn location).
    pub group_by: GroupBy,
}

impl Default for BreakdownOptions {
    /// Leak threshold 1 s, 10 longest polls, 20 leak-suspect groups of 10 tasks each.
    fn default() -> Self {
        BreakdownOptions {
            leak_threshold: 1_000_000_000,
            longest_polls: 10,
            leak_suspects: 20,
            leak_tasks: 10,
            group_by: GroupBy::Location,
        }
    }
}

/// Distribution of one quantity over the tasks of a group (nanoseconds, or a count).
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize)]
pub struct Stats {
    /// Sum over the tasks.
    pub total: u64,
    /// Mean per task.
    pub mean: f64,
    /// Median.
    pub p50: u64,
    /// 99th percentile (nearest rank).
    pub p99: u64,
    /// Largest.
    pub max: u64,
}

impl Stats {
    /// Stats of `values` (sorted in place).
    pub fn of(values: &mut [u64]) -> Stats {
        if values.is_empty() {
            return Stats::default();
        }
        values.sort_unstable();
        let total: u64 = values.iter().sum();
        let rank =
            |q: f64| values[((q * values.len() as f64).ceil() as usize).clamp(1, values.len()) - 1];
        Stats {
            total,
            mean: total as f64 / values.len() as f64,
            p50: rank(0.5),
            p99: rank(0.99),
            max: values[values.len() - 1],
        }
    }
}

/// The columns of the breakdown: one per task state, plus the lifetime they partition.
pub const COLUMNS: [&str; 12] = [
    "lifetime",
    "running",
    "sched_wait",
    "wait_task",
    "wait_io",
    "wait_timer",
    "wait_blocking",
    "wait_foreign",
    "wait_self",
    "wait_unknown",
    "paused",
    "no_data",
];

fn columns_of(t: &StateTotals) -> [u64; 12] {
    let w = |r| t.wait(r);
    [
        t.total(),
        t.running,
        t.sched_wait,
        w(WaitReason::Task),
        w(WaitReason::Io),
        w(WaitReason::Timer),
        w(WaitReason::Blocking),
        w(WaitReason::Foreign),
        w(WaitReason::SelfWake),
        w(WaitReason::Unknown),
        t.paused,
        t.no_data,
    ]
}

/// A task group ([`groups`](super::groups): spawn location, name and kind) and where its
/// tasks spent their time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// `file:line:col`, or the name, or `<unknown location>`.
    pub label: String,
    /// Spawn location id (0 = unknown).
    pub location: u32,
    /// Task name, or empty.
    pub name: String,
    /// `"async"`, `"block_on"`, `"blocking"`, `"local"`, or `"unknown"` (spawn not in the trace).
    pub kind: &'static str,
    /// Number of tasks.
    pub tasks: u64,
    /// Tasks alive at the start of the trace (spawned before it, or at its first instant).
    pub alive_at_start: u64,
    /// Tasks still alive at the end of the trace.
    pub alive_at_end: u64,
    /// When the group is a leak suspect ([`leaks`]): its tasks stuck waiting at the end;
    /// else 0.
    pub leak_suspects: u64,
    /// Polls per task.
    pub polls: Stats,
    /// Time per task in each of [`COLUMNS`], keyed by column name.
    pub states: BTreeMap<&'static str, Stats>,
    /// Sampled allocations made while the group's tasks were polled.
    pub alloc_samples: u64,
    /// The bytes of those samples.
    pub alloc_sampled_bytes: u64,
    /// Estimated bytes the group allocated: each sample of `s` bytes stands for
    /// `s / (1 − e^(−s/rate))` bytes ([`trace_format::sampling::sample_weight`], with the rate the
    /// recorder wrote as the `trace_rt.alloc.sample_rate` counter; 512 KiB when absent).
    /// Relative standard error about √(rate / bytes).
    pub alloc_estimated_bytes: u64,
    /// Indexes of the group's tasks, by spawn time (not serialized).
    #[serde(skip)]
    pub task_ixs: Vec<TaskIx>,
}

/// The bytes each sampled allocation of `model` stands for:
/// [`trace_format::sampling::sample_weight`] with the sampling rate in force at the time (the
/// `trace_rt.alloc.sample_rate` counter the recorder writes; 512 KiB when absent).
pub fn alloc_sample_weights(model: &Model) -> impl Fn(&AllocSample) -> f64 + '_ {
    move |s: &AllocSample| sample_weight(s.size, model.alloc_sample_rate_at(s.time))
}

impl Group {
    /// Total time of a column over the group's tasks.
    pub fn total(&self, column: &str) -> u64 {
        self.states.get(column).map_or(0, |s| s.total)
    }
}

/// One of the longest polls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LongPoll {
    /// The task's label.
    pub task: String,
    /// Its trace task id.
    pub task_id: u64,
    /// Its group's label.
    pub group: String,
    /// The thread's label.
    pub thread: String,
    /// Start, ns since trace start.
    pub start_ns: Nanos,
    /// Duration.
    pub duration_ns: Nanos,
    /// True when the file holds no end for the poll: it lasted at least `duration_ns`.
    pub cut: bool,
    /// Of cut polls, those still running when a finished recording stopped; the others are
    /// where the thread's data ends (lost data, or a recording cut short), and what the poll
    /// did after that is unknown.
    pub still_running: bool,
}

/// How one worker (or blocking-pool) thread spent its time.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ThreadUse {
    /// Its label ("worker 0 (tokio-runtime-worker)").
    pub thread: String,
    /// `"worker"`, `"blocking"`, `"other"`.
    pub kind: &'static str,
    /// The part of the trace the thread existed in.
    pub span_ns: Nanos,
    /// Polling tasks (or running blocking closures), outside pauses.
    pub busy_ns: Nanos,
    /// Parked, outside pauses.
    pub idle_ns: Nanos,
    /// In a process-wide or thread-scoped pause.
    pub paused_ns: Nanos,
    /// Everything else (the scheduler's own work, unrecorded time).
    pub other_ns: Nanos,
    /// `busy / span`.
    pub busy_fraction: f64,
    /// Polls run.
    pub polls: u64,
    /// The longest poll.
    pub longest_poll_ns: Nanos,
}

/// Pauses of one kind and scope.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PauseKind {
    /// The kind ("compaction", "alloc", …).
    pub kind: String,
    /// `"process"` or `"thread"`.
    pub scope: &'static str,
    /// How many.
    pub count: u64,
    /// Sum of their durations.
    pub total_ns: Nanos,
    /// The longest.
    pub max_ns: Nanos,
    /// Mean duration.
    pub mean_ns: f64,
}

/// The whole breakdown. See the module docs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breakdown {
    /// What grouped the tasks (`location`, `name` or `region`).
    pub group_by: GroupBy,
    /// The leak threshold used.
    pub leak_threshold_ns: Nanos,
    /// For a cut recording (no end record), the time waiting is counted until
    /// ([`Model::complete_until`](crate::model::Model::complete_until)); `None` for a
    /// finished one, where it counts until the end.
    pub complete_until_ns: Option<Nanos>,
    /// Number of tasks.
    pub tasks: u64,
    /// State totals over every task, by column.
    pub totals: BTreeMap<&'static str, u64>,
    /// Groups, by total running time, largest first.
    pub groups: Vec<Group>,
    /// The longest polls, longest first.
    pub longest_polls: Vec<LongPoll>,
    /// Leak suspects: groups whose alive count grew, with stuck tasks; by growth, largest
    /// first (at most the configured number).
    pub leak_suspects: Vec<WaitingGroup>,
    /// All leak-suspect groups, also those not listed.
    pub leak_suspect_count: u64,
    /// The stuck tasks of all leak-suspect groups.
    pub leak_suspect_tasks: u64,
    /// Long-lived tasks: the other groups with stuck tasks (a watcher, a pool), each with why
    /// it is not a suspect; longest waiting first (at most the configured number).
    pub long_lived: Vec<WaitingGroup>,
    /// All long-lived groups, also those not listed.
    pub long_lived_count: u64,
    /// Worker and blocking-pool threads, and other threads that ran polls (a `block_on`).
    pub threads: Vec<ThreadUse>,
    /// Pauses by kind and scope.
    pub pauses: Vec<PauseKind>,
}

struct TaskResult {
    totals: StateTotals,
    /// `Some(since)` when alive at the end and waiting since `since`.
    waiting_at_end: Option<Nanos>,
}

fn task_result(model: &Model, task: TaskIx, paused: &[Span]) -> TaskResult {
    let mut totals = StateTotals::default();
    let life = model.tasks[task.index()].lifetime(model.end);
    // Whether the task's last state (ignoring pauses) is waiting, i.e. not runnable.
    let (mut waiting, mut last_end) = (false, life.start);
    for_each_segment(model, task, paused, |s| {
        totals.add(s.state, s.span.len());
        match s.state {
            TaskState::Waiting(_) => waiting = true,
            TaskState::Running | TaskState::SchedWait => waiting = false,
            TaskState::Paused | TaskState::NoData => {}
        }
        last_end = s.span.end;
    });
    // Waiting since its last poll ended (a pause splitting that poll does not move it).
    let idle_since = model
        .task_polls(task)
        .map(|p| p.end)
        .max()
        .map_or(life.start, |end| end.clamp(life.start, life.end));
    let alive = model.tasks[task.index()].terminate.is_none();
    TaskResult {
        totals,
        waiting_at_end: (alive && waiting && last_end == model.end).then_some(idle_since),
    }
}

fn kind_name(kind: Option<TaskKind>) -> &'static str {
    match kind {
        Some(TaskKind::Async) => "async",
        Some(TaskKind::BlockOn) => "block_on",
        Some(TaskKind::Blocking) => "blocking",
        Some(TaskKind::Local) => "local",
        None => "unknown",
    }
}

impl Breakdown {
    /// Computes the breakdown of every task of `model` (in parallel over tasks).
    pub fn compute(model: &Model, options: &BreakdownOptions) -> Breakdown {
        let paused = paused_spans(model);
        let results: Vec<TaskResult> = (0..model.tasks.len() as u32)
            .into_par_iter()
            .map(TaskIx)
            .map(|t| task_result(model, t, &paused))
            .collect();

        // The tasks' groups (location, name, kind), in order of first spawn.
        let task_groups = TaskGroups::by(model, options.group_by);
        let mut samples = vec![(0u64, 0u64, 0f64); task_groups.len()];
        let weight = alloc_sample_weights(model);
        for s in &model.alloc_samples {
            if s.task.index() < model.tasks.len() {
                let g = task_groups.group_of(s.task);
                samples[g].0 += 1;
                samples[g].1 += s.size;
                samples[g].2 += weight(s);
            }
        }

        // Tasks alive at the end that waited at least the threshold. Waiting counts only
        // while the file is complete: in a cut recording the wake or terminate that ended it
        // may be in the lost tail.
        let stuck: Vec<Option<(Nanos, Nanos)>> = results
            .iter()
            .map(|r| {
                let since = r.waiting_at_end?;
                let waited = model.complete_until.saturating_sub(since);
                (waited >= options.leak_threshold).then_some((since, waited))
            })
            .collect();
        let leaks = leaks::classify(
            model,
            &task_groups,
            &stuck,
            options.leak_threshold,
            options.leak_tasks,
        );

        let mut totals = StateTotals::default();
        let mut groups: Vec<Group> = Vec::with_capacity(task_groups.len());
        for (g, group) in task_groups.iter().enumerate() {
            let (key, tasks) = (group.key, &group.tasks);
            let name = model.string(key.name).to_string();
            let mut columns: Vec<Vec<u64>> = vec![Vec::with_capacity(tasks.len()); COLUMNS.len()];
            let mut polls = Vec::with_capacity(tasks.len());
            let (mut alive, mut alive_at_start) = (0, 0);
            for &t in tasks {
                let r = &results[t.index()];
                for (c, v) in columns.iter_mut().zip(columns_of(&r.totals)) {
                    c.push(v);
                }
                add_totals(&mut totals, &r.totals);
                polls.push(u64::from(model.task_poll_count(t)));
                let task = &model.tasks[t.index()];
                if task.terminate.is_none() {
                    alive += 1;
                }
                if task.spawn.is_none_or(|s| s <= model.start)
                    && task.terminate.is_none_or(|e| e > model.start)
                {
                    alive_at_start += 1;
                }
            }
            let states = COLUMNS
                .iter()
                .zip(columns.iter_mut())
                .map(|(&name, values)| (name, Stats::of(values)))
                .collect();
            groups.push(Group {
                label: group.label.clone(),
                location: key.location.0,
                name,
                kind: kind_name(key.kind),
                tasks: tasks.len() as u64,
                alive_at_start,
                alive_at_end: alive,
                leak_suspects: leaks.suspect_tasks[g],
                polls: Stats::of(&mut polls),
                states,
                alloc_samples: samples[g].0,
                alloc_sampled_bytes: samples[g].1,
                alloc_estimated_bytes: samples[g].2.round() as u64,
                task_ixs: tasks.clone(),
            });
        }

        let longest_polls = longest_polls(model, options.longest_polls)
            .into_iter()
            .map(|p| {
                let poll = &model.polls[p as usize];
                LongPoll {
                    task: model.task_label(poll.task),
                    task_id: model.tasks[poll.task.index()].id.0,
                    group: task_groups[task_groups.group_of(poll.task)].label.clone(),
                    thread: model.threads[poll.thread().index()].label(),
                    start_ns: poll.start,
                    duration_ns: poll.span().len(),
                    cut: poll.cut(),
                    still_running: model.still_running(poll),
                }
            })
            .collect();

        groups.sort_by(|a, b| {
            b.total("running")
                .cmp(&a.total("running"))
                .then(b.total("lifetime").cmp(&a.total("lifetime")))
                .then(a.label.cmp(&b.label))
        });

        Breakdown {
            group_by: options.group_by,
            leak_threshold_ns: options.leak_threshold,
            complete_until_ns: model.end_record.is_none().then_some(model.complete_until),
            tasks: model.tasks.len() as u64,
            totals: COLUMNS.iter().copied().zip(columns_of(&totals)).collect(),
            groups,
            longest_polls,
            leak_suspect_count: leaks.suspects.len() as u64,
            leak_suspect_tasks: leaks.suspects.iter().map(|g| g.stuck).sum(),
            leak_suspects: leaks
                .suspects
                .into_iter()
                .take(options.leak_suspects)
                .collect(),
            long_lived_count: leaks.long_lived.len() as u64,
            long_lived: leaks
                .long_lived
                .into_iter()
                .take(options.leak_suspects)
                .collect(),
            threads: thread_use(model, &paused),
            pauses: pause_kinds(model),
        }
    }
}

fn add_totals(sum: &mut StateTotals, t: &StateTotals) {
    sum.running += t.running;
    sum.sched_wait += t.sched_wait;
    sum.paused += t.paused;
    sum.no_data += t.no_data;
    for (a, b) in sum.waiting.iter_mut().zip(t.waiting) {
        *a += b;
    }
}

/// Indexes of the `n` longest polls, longest first.
fn longest_polls(model: &Model, n: usize) -> Vec<u32> {
    let mut heap = BinaryHeap::with_capacity(n + 1);
    for (i, p) in model.polls.iter().enumerate() {
        heap.push(std::cmp::Reverse((
            p.span().len(),
            std::cmp::Reverse(i as u32),
        )));
        if heap.len() > n {
            heap.pop();
        }
    }
    let mut out: Vec<_> = heap.into_iter().map(|r| r.0).collect();
    out.sort_by(|a, b| b.cmp(a));
    out.into_iter().map(|(_, i)| i.0).collect()
}

/// Total length of the intersection of two sets of disjoint, sorted spans.
fn overlap(a: &[Span], b: &[Span]) -> Nanos {
    let (mut i, mut j, mut sum) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        sum += a[i].overlap(b[j]);
        if a[i].end < b[j].end {
            i += 1;
        } else {
            j += 1;
        }
    }
    sum
}

fn clip(spans: &[Span], to: Span) -> Vec<Span> {
    spans
        .iter()
        .filter_map(|s| {
            let c = Span {
                start: s.start.max(to.start),
                end: s.end.min(to.end),
            };
            (c.end > c.start).then_some(c)
        })
        .collect()
}

fn thread_use(model: &Model, process_paused: &[Span]) -> Vec<ThreadUse> {
    model
        .thread_ixs()
        .filter_map(|ix| {
            let th = &model.threads[ix.index()];
            let kind = match th.kind {
                Some(trace_format::ThreadKind::Worker) => "worker",
                Some(trace_format::ThreadKind::Blocking) => "blocking",
                _ if th.polls.is_empty() => return None,
                _ => "other",
            };
            let span = Span {
                start: th.start.unwrap_or(model.start).min(model.end),
                end: th.stop.unwrap_or(model.end).min(model.end),
            };
            let span = Span {
                start: span.start,
                end: span.end.max(span.start),
            };
            let polls = model.thread_polls(ix);
            let busy = clip(&Span::union(polls.iter().map(|p| p.span())), span);
            let idle = clip(&Span::union(th.parks.iter().copied()), span);
            let mut pauses: Vec<Span> = th
                .pauses
                .iter()
                .map(|p| p.span)
                .chain(process_paused.iter().copied())
                .collect();
            pauses.sort_by_key(|s| s.start);
            let paused = clip(&Span::union(pauses), span);
            let len = |v: &[Span]| v.iter().map(Span::len).sum::<Nanos>();
            let paused_ns = len(&paused);
            let busy_ns = len(&busy) - overlap(&busy, &paused);
            let idle_ns = len(&idle) - overlap(&idle, &paused);
            // Busy and idle never overlap in a well-formed trace; if they do, do not let
            // `other` go negative.
            let other_ns = span.len().saturating_sub(busy_ns + idle_ns + paused_ns);
            Some(ThreadUse {
                thread: th.label(),
                kind,
                span_ns: span.len(),
                busy_ns,
                idle_ns,
                paused_ns,
                other_ns,
                busy_fraction: if span.is_empty() {
                    0.0
                } else {
                    busy_ns as f64 / span.len() as f64
                },
                polls: polls.len() as u64,
                longest_poll_ns: polls.iter().map(|p| p.span().len()).max().unwrap_or(0),
            })
        })
        .collect()
}

fn pause_kinds(model: &Model) -> Vec<PauseKind> {
    let mut by: BTreeMap<(String, &'static str), (u64, Nanos, Nanos)> = BTreeMap::new();
    let all = model
        .process_pauses
        .iter()
        .chain(model.threads.iter().flat_map(|t| t.pauses.iter()));
    for p in all {
        let scope = match p.scope {
            PauseScope::Process => "process",
            PauseScope::Thread => "thread",
        };
        let e = by
            .entry((model.string(p.kind).to_string(), scope))
            .or_default();
        e.0 += 1;
        e.1 += p.span.len();
        e.2 = e.2.max(p.span.len());
    }
    let mut out: Vec<PauseKind> = by
        .into_iter()
        .map(|((kind, scope), (count, total, max))| PauseKind {
            kind,
            scope,
            count,
            total_ns: total,
            max_ns: max,
            mean_ns: total as f64 / count as f64,
        })
        .collect();
    out.sort_by(|a, b| b.total_ns.cmp(&a.total_ns).then(a.kind.cmp(&b.kind)));
    out
}

#[cfg(test)]
mod tests;
