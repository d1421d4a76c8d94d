//! Leak suspects and long-lived tasks: which task groups hold tasks that wait at the end of
//! the recording, and which of them look leaked.
//!
//! A task waiting when the recording ends is not a leak by itself: a shutdown watcher or a
//! purge loop waits the whole recording by design, and a pool's workers wait between jobs.
//! What marks a leak is a group (spawn location, name or root region, as the breakdown
//! groups) whose count of alive tasks keeps growing, with its extra tasks stuck waiting.
//! We cannot see what a task's waker is reachable from (as Go's goroutine-leak profile does
//! from the collector), so the evidence is that growth, measured per group:
//!
//! - `alive(t)`: the group's tasks spawned by `t` (or before the recording) and not yet
//!   terminated; `growth = alive(end) − alive(start)`;
//! - how the growth spreads over the recording: in how many of its ten tenths the count
//!   rose, and whether it still rose in the second half (a pool started with the recording
//!   grows only at its start);
//! - `stuck`: tasks alive at the end that have waited at least the leak threshold for a
//!   wake that never came.
//!
//! A group is a **leak suspect** when it grew by at least two tasks, still grew in the
//! second half of the recording, and at least two of its tasks are stuck. Suspects rank by
//! growth. Every other group with a stuck task is listed apart as **long-lived tasks**,
//! each with why it is not a suspect (one task, a steady pool, growth that stopped).

use serde::Serialize;

use crate::analysis::groups::TaskGroups;
use crate::model::{Model, Nanos, TaskIx};
use crate::units::format_duration;

/// The wait sites kept per group ([`WaitingGroup::wait_sites`]).
pub const WAIT_SITES: usize = 3;

/// The slices of the recording in which growth is counted ([`WaitingGroup::rose_in_tenths`]).
const TENTHS: usize = 10;

/// A task alive at the end of the recording, waiting for at least the leak threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitingTask {
    /// The task's label.
    pub task: String,
    /// Its trace task id.
    pub task_id: u64,
    /// Since when it has been waiting (its last poll's end, or its spawn).
    pub waiting_since_ns: Nanos,
    /// How long, up to the end of the trace (or `complete_until_ns` when cut).
    pub waited_ns: Nanos,
    /// Its polls.
    pub polls: u32,
    /// Where it waits, from the trace's task dump (`--cfg tokio_taskdump`): its await
    /// trace's frames, outermost first (`name at file:line`); absent without a dump.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waits_at: Option<Vec<String>>,
    /// The model's index of the task, for views that show more of it. Not serialized.
    #[serde(skip)]
    pub task_ix: TaskIx,
}

/// Where some of a group's stuck tasks wait: one await trace, and how many share it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitSite {
    /// The await trace's frames, outermost first (`name at file:line`).
    pub frames: Vec<String>,
    /// The group's stuck tasks waiting there.
    pub tasks: u64,
}

/// A task group with tasks alive at the end and stuck waiting: a leak suspect, or
/// long-lived tasks (see the module docs for which).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitingGroup {
    /// The group's label (as in [`Breakdown::groups`](super::Breakdown::groups)).
    pub group: String,
    /// Its tasks.
    pub tasks: u64,
    /// Of those, how many terminated while recording.
    pub finished: u64,
    /// Tasks alive at the start of the recording (spawned before it, or at its first instant).
    pub alive_at_start: u64,
    /// Tasks alive at the end.
    pub alive_at_end: u64,
    /// `alive_at_end − alive_at_start`.
    pub growth: i64,
    /// `growth` per second of recording.
    pub growth_per_s: f64,
    /// In how many of the recording's ten equal slices the alive count rose.
    pub rose_in_tenths: u32,
    /// Whether it rose in the second half of the recording.
    pub growing_at_end: bool,
    /// Tasks alive at the end that have waited at least the leak threshold.
    pub stuck: u64,
    /// The shortest of their waits: every stuck task has waited at least this long.
    pub stuck_at_least_ns: Nanos,
    /// Why it is a suspect, or why not.
    pub why: String,
    /// Where its stuck tasks wait, most shared first (at most [`WAIT_SITES`]), from the
    /// trace's task dumps; empty when the trace has none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub wait_sites: Vec<WaitSite>,
    /// The stuck tasks that waited longest, oldest first (at most
    /// [`BreakdownOptions::leak_tasks`](super::BreakdownOptions::leak_tasks)).
    pub oldest_waiting: Vec<WaitingTask>,
    /// Every stuck task, oldest waiting first, for views that list them all (not
    /// serialized).
    #[serde(skip)]
    pub waiting_tasks: Vec<TaskIx>,
}

/// What [`classify`] found.
pub(super) struct Leaks {
    /// Suspects, by growth (then stuck tasks, then label).
    pub suspects: Vec<WaitingGroup>,
    /// The other groups with stuck tasks, longest waiting first.
    pub long_lived: Vec<WaitingGroup>,
    /// Per task group (as [`TaskGroups`] orders them): its stuck tasks when it is a suspect,
    /// else 0.
    pub suspect_tasks: Vec<u64>,
}

/// The alive count of one group through the recording.
struct Growth {
    alive: [u64; TENTHS + 1],
}

impl Growth {
    /// Alive counts at the start, at each tenth, and at the end of `model`'s recording.
    fn of(model: &Model, tasks: &[TaskIx]) -> Growth {
        let mut starts: Vec<Nanos> = Vec::with_capacity(tasks.len());
        let mut ends: Vec<Nanos> = Vec::new();
        for &t in tasks {
            let task = &model.tasks[t.index()];
            // Without a spawn in the trace the task existed before the recording.
            starts.push(task.spawn.unwrap_or(model.start));
            ends.extend(task.terminate);
        }
        starts.sort_unstable();
        ends.sort_unstable();
        let len = model.end.saturating_sub(model.start);
        let mut alive = [0; TENTHS + 1];
        for (k, a) in alive.iter_mut().enumerate() {
            let at = model.start + (len as u128 * k as u128 / TENTHS as u128) as Nanos;
            let started = starts.partition_point(|&s| s <= at);
            let ended = ends.partition_point(|&e| e <= at);
            *a = started.saturating_sub(ended) as u64;
        }
        // The end counts every task that never terminated.
        alive[TENTHS] = (tasks.len() - ends.len()) as u64;
        Growth { alive }
    }

    fn start(&self) -> u64 {
        self.alive[0]
    }

    fn end(&self) -> u64 {
        self.alive[TENTHS]
    }

    fn growth(&self) -> i64 {
        self.end() as i64 - self.start() as i64
    }

    fn rose_in_tenths(&self) -> u32 {
        self.alive.windows(2).filter(|w| w[1] > w[0]).count() as u32
    }

    fn growing_at_end(&self) -> bool {
        self.end() > self.alive[TENTHS / 2]
    }
}

/// Finds the leak suspects and long-lived tasks among `groups`. `stuck[t]` is
/// `Some((waiting_since, waited))` for each task alive at the end and waiting at least the
/// threshold.
pub(super) fn classify(
    model: &Model,
    groups: &TaskGroups,
    stuck: &[Option<(Nanos, Nanos)>],
    threshold: Nanos,
    list_tasks: usize,
) -> Leaks {
    let recording = model.end.saturating_sub(model.start);
    let mut out = Leaks {
        suspects: Vec::new(),
        long_lived: Vec::new(),
        suspect_tasks: vec![0; groups.len()],
    };
    for (g, group) in groups.iter().enumerate() {
        let mut waiting: Vec<(Nanos, Nanos, TaskIx)> = group
            .tasks
            .iter()
            .filter_map(|&t| stuck[t.index()].map(|(since, waited)| (since, waited, t)))
            .collect();
        if waiting.is_empty() {
            continue;
        }
        // Oldest waiting first.
        waiting.sort_unstable_by_key(|&(since, _, t)| (since, t));
        let growth = Growth::of(model, &group.tasks);
        let finished = group
            .tasks
            .iter()
            .filter(|t| model.tasks[t.index()].terminate.is_some())
            .count() as u64;
        let n_stuck = waiting.len() as u64;
        let at_least = waiting.iter().map(|w| w.1).min().unwrap_or(0);
        let suspect = growth.growth() >= 2 && growth.growing_at_end() && n_stuck >= 2;
        let why = if suspect {
            suspect_why(
                &growth,
                recording,
                group.tasks.len() as u64,
                finished,
                n_stuck,
                at_least,
            )
        } else {
            long_lived_why(&growth, n_stuck, threshold, waiting[0].0, model.start)
        };
        let oldest_waiting = waiting
            .iter()
            .take(list_tasks)
            .map(|&(since, waited, t)| WaitingTask {
                task: model.task_label(t),
                task_id: model.tasks[t.index()].id.0,
                waiting_since_ns: since,
                waited_ns: waited,
                polls: model.task_poll_count(t),
                waits_at: waits_at(model, t),
                task_ix: t,
            })
            .collect();
        let wait_sites = wait_sites(model, waiting.iter().map(|w| w.2));
        let entry = WaitingGroup {
            group: group.label.clone(),
            tasks: group.tasks.len() as u64,
            finished,
            alive_at_start: growth.start(),
            alive_at_end: growth.end(),
            growth: growth.growth(),
            growth_per_s: if recording == 0 {
                0.0
            } else {
                growth.growth() as f64 * 1e9 / recording as f64
            },
            rose_in_tenths: growth.rose_in_tenths(),
            growing_at_end: growth.growing_at_end(),
            stuck: n_stuck,
            stuck_at_least_ns: at_least,
            why,
            wait_sites,
            oldest_waiting,
            waiting_tasks: waiting.iter().map(|w| w.2).collect(),
        };
        if suspect {
            out.suspect_tasks[g] = n_stuck;
            out.suspects.push(entry);
        } else {
            out.long_lived.push(entry);
        }
    }
    out.suspects.sort_by(|a, b| {
        b.growth
            .cmp(&a.growth)
            .then(b.stuck.cmp(&a.stuck))
            .then(a.group.cmp(&b.group))
    });
    let longest = |w: &WaitingGroup| w.oldest_waiting.first().map_or(0, |t| t.waited_ns);
    out.long_lived
        .sort_by(|a, b| longest(b).cmp(&longest(a)).then(a.group.cmp(&b.group)));
    out
}

/// Where task `t` waits, from the task dump: its first await trace's frames, outermost
/// first.
fn waits_at(model: &Model, t: TaskIx) -> Option<Vec<String>> {
    let trace = model.await_trace(t)?;
    let frames = trace.frames().into_iter().next()?;
    Some(frames.iter().map(|f| f.label()).collect())
}

/// The await traces `tasks` wait at, most shared first (ties by frames), at most
/// [`WAIT_SITES`].
fn wait_sites(model: &Model, tasks: impl Iterator<Item = TaskIx>) -> Vec<WaitSite> {
    let mut sites: std::collections::HashMap<Vec<String>, u64> = Default::default();
    for t in tasks {
        if let Some(frames) = waits_at(model, t) {
            *sites.entry(frames).or_default() += 1;
        }
    }
    let mut sites: Vec<WaitSite> = sites
        .into_iter()
        .map(|(frames, tasks)| WaitSite { frames, tasks })
        .collect();
    sites.sort_by(|a, b| b.tasks.cmp(&a.tasks).then_with(|| a.frames.cmp(&b.frames)));
    sites.truncate(WAIT_SITES);
    sites
}

/// "alive grew from 0 to 20 over 10 s, rising in 9 of 10 tenths; none of the 20 tasks finished;
/// 20 waiting ≥ 1 s for a wake that never came".
fn suspect_why(
    g: &Growth,
    recording: Nanos,
    tasks: u64,
    finished: u64,
    stuck: u64,
    at_least: Nanos,
) -> String {
    let finished = match finished {
        0 => format!("none of its {tasks} tasks finished"),
        f => format!("{f} of its {tasks} tasks finished"),
    };
    format!(
        "alive grew from {} to {} over {}, rising in {} of {TENTHS} tenths; {finished}; {stuck} \
         waiting ≥ {} for a wake that never came",
        g.start(),
        g.end(),
        format_duration(recording),
        g.rose_in_tenths(),
        format_duration(at_least),
    )
}

/// Why a group with stuck tasks is not a suspect.
fn long_lived_why(g: &Growth, stuck: u64, threshold: Nanos, since: Nanos, start: Nanos) -> String {
    let since = format_duration(since.saturating_sub(start));
    if g.end() == 1 && g.growth() <= 1 {
        let alive = if g.start() == 1 {
            "one task, alive the whole recording"
        } else {
            "one task alive, spawned while recording"
        };
        return format!(
            "{alive}, waiting since {since}: a long-lived waiter (a watcher, a periodic job), \
             not a growing group"
        );
    }
    if g.growth() <= 0 {
        return format!(
            "alive count did not grow (from {} to {}): a pool or long-lived tasks",
            g.start(),
            g.end()
        );
    }
    if !g.growing_at_end() {
        return format!(
            "alive grew from {} to {} in the first half of the recording only, then stopped: a pool \
             started while recording",
            g.start(),
            g.end()
        );
    }
    if g.growth() < 2 {
        return format!(
            "alive grew by one task only (from {} to {})",
            g.start(),
            g.end()
        );
    }
    format!(
        "alive grew from {} to {}, but only {stuck} of its tasks waited ≥ {}",
        g.start(),
        g.end(),
        format_duration(threshold)
    )
}
