//! Planning the export before anything is written: which lane each interval goes to so
//! every track nests ([`Packer`]), which poll each wake's arrow ends on ([`Flows`]), the
//! tracks in display order and their tids ([`Layout`]), and the labels ([`Labels`]).

use std::cmp::Reverse;
use std::collections::HashMap;
use std::io;

use rayon::prelude::*;
use trace_format::{LocationId, TaskKind, ThreadKind};

use crate::model::{CounterKind, Model, Nanos, Span, TaskIx, ThreadIx};

/// "None" for `u32` indexes.
pub(super) const NONE: u32 = u32::MAX;

/// At most this many polls are compared with one idle/pause/region interval to decide whether
/// it nests on the thread's track; past that it goes to a lane of its own.
const MAX_NEST_CHECKS: usize = 4096;

/// A time-ordered interval on a thread's track other than a poll.
#[derive(Debug, Clone, Copy)]
pub(super) struct Annot {
    pub(super) start: Nanos,
    pub(super) end: Nanos,
    pub(super) ix: u32,
    pub(super) kind: AnnotKind,
    /// 0: the thread's track; k ≥ 1: its k-th extra interval lane.
    pub(super) lane: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum AnnotKind {
    Park,
    Pause,
    Region,
}

/// Per thread: poll order and lanes, and its other intervals with their lanes.
pub(super) struct ThreadPlan {
    /// Global poll indexes in `(start, −end)` order, when the model's order differs.
    pub(super) order: Option<Vec<u32>>,
    /// Polls that could not nest on the thread's track: global index → extra lane (≥ 1).
    pub(super) poll_lane: HashMap<u32, u32>,
    /// Extra poll lanes.
    pub(super) poll_lanes: u32,
    /// Idle intervals, thread pauses and regions, in `(start, −end)` order.
    pub(super) annots: Vec<Annot>,
    /// Extra interval lanes.
    annot_lanes: u32,
}

/// Wake → poll links.
#[derive(Default)]
pub(super) struct Flows {
    /// Per poll: the wake whose arrow ends on it, or [`NONE`].
    pub(super) poll_in: Vec<u32>,
    /// Per wake: the poll its arrow ends on (directly or through a marker), or [`NONE`].
    pub(super) wake_to: Vec<u32>,
    /// `(poll, wake)`: arrows that end on a `woken` marker, by time.
    pub(super) markers: Vec<(u32, u32)>,
}

/// What a dense track index stands for.
#[derive(Debug, Clone, Copy)]
pub(super) enum TrackRef {
    Pauses(u32),
    Thread(ThreadIx, u32),
    Task(TaskIx, u32),
    Counters,
}

/// Tracks in display order (dense index = sort index); tids derive from the dense index.
pub(super) struct Layout {
    pub(super) pid: u32,
    pub(super) tracks: Vec<TrackRef>,
    pub(super) pauses_base: u32,
    pub(super) thread_base: Vec<u32>,
    pub(super) task_base: Vec<u32>,
    pub(super) counters: u32,
    pub(super) extra_lanes: u64,
}

impl Layout {
    /// The tid of dense track `d`: 1, 2, … skipping the pid.
    pub(super) fn tid(&self, d: u32) -> u32 {
        if d + 1 < self.pid { d + 1 } else { d + 2 }
    }
}

/// Labels, made once.
pub(super) struct Labels {
    /// Distinct "what" parts of task labels (name, location or kind).
    pub(super) whats: Vec<String>,
    /// Per task: index into `whats` of its label, and of its location when the label is its
    /// name (for the `at` argument), or [`NONE`].
    pub(super) task_what: Vec<(u32, u32)>,
    /// Per thread: its label.
    pub(super) threads: Vec<String>,
    /// Per counter series: its name and argument key.
    pub(super) counters: Vec<(String, &'static str)>,
}

pub(super) struct Plan<'m> {
    pub(super) m: &'m Model,
    pub(super) range: Span,
    pub(super) threads: Vec<ThreadPlan>,
    /// Process pauses in `(start, −end)` order with their lanes (0 = the pause track).
    pub(super) pauses: Vec<(u32, u32)>,
    /// Task polls moved off their task's track: global poll index → extra lane (≥ 1).
    pub(super) task_poll_lane: HashMap<u32, u32>,
    pub(super) flows: Flows,
    pub(super) layout: Layout,
    pub(super) labels: Labels,
}

/// Greedy assignment of intervals, given in `(start, −end)` order, to lanes where they nest.
#[derive(Default)]
pub(super) struct Packer {
    /// Per lane: the ends of the intervals still open, innermost last.
    lanes: Vec<Vec<Nanos>>,
}

impl Packer {
    /// Whether `[start, end]` nests on a lane with these open ends (closing the ones that end
    /// by `start`, which is safe because later intervals start no earlier).
    fn fits(stack: &mut Vec<Nanos>, start: Nanos, end: Nanos) -> bool {
        while stack.last().is_some_and(|&top| top <= start) {
            stack.pop();
        }
        stack.last().is_none_or(|&top| end <= top)
    }

    /// Puts the interval on the first lane from `first` on where it nests; returns the lane.
    pub(super) fn place(&mut self, start: Nanos, end: Nanos, first: usize) -> usize {
        let mut k = first;
        loop {
            if k == self.lanes.len() {
                self.lanes.push(Vec::new());
            }
            if Self::fits(&mut self.lanes[k], start, end) {
                self.lanes[k].push(end);
                return k;
            }
            k += 1;
        }
    }
}

/// Index of `item` inside `slice` (it must be an element of it).
pub(super) fn index_in<T>(slice: &[T], item: &T) -> u32 {
    let size = std::mem::size_of::<T>().max(1);
    ((item as *const T as usize - slice.as_ptr() as usize) / size) as u32
}

fn sort_key(start: Nanos, end: Nanos) -> (Nanos, Reverse<Nanos>) {
    (start, Reverse(end))
}

impl<'m> Plan<'m> {
    pub(super) fn new(m: &'m Model, range: Span) -> io::Result<Plan<'m>> {
        let threads: Vec<ThreadPlan> = (0..m.threads.len() as u32)
            .into_par_iter()
            .map(ThreadIx)
            .map(|t| plan_thread(m, t))
            .collect();

        let mut pauses: Vec<(u32, u32)> =
            (0..m.process_pauses.len() as u32).map(|i| (i, 0)).collect();
        pauses.sort_by_key(|&(i, _)| {
            let s = m.process_pauses[i as usize].span;
            (sort_key(s.start, s.end), i)
        });
        let mut packer = Packer::default();
        for (i, lane) in &mut pauses {
            let s = m.process_pauses[*i as usize].span;
            *lane = packer.place(s.start, s.end, 0) as u32;
        }
        let pause_lanes = packer.lanes.len().saturating_sub(1) as u32;

        let (task_poll_lane, task_lanes) = plan_task_lanes(m);
        let flows = plan_flows(m);
        let layout = plan_layout(m, &threads, !pauses.is_empty(), pause_lanes, &task_lanes)?;
        let labels = plan_labels(m);
        Ok(Plan {
            m,
            range,
            threads,
            pauses,
            task_poll_lane,
            flows,
            layout,
            labels,
        })
    }
}

fn plan_thread(m: &Model, t: ThreadIx) -> ThreadPlan {
    let th = &m.threads[t.index()];
    let polls = m.thread_polls(t);
    let order = (!polls.is_sorted_by_key(|p| sort_key(p.start, p.end))).then(|| {
        let mut order: Vec<u32> = (th.polls.start..th.polls.end).collect();
        order.sort_by_key(|&i| {
            let p = &m.polls[i as usize];
            (sort_key(p.start, p.end), i)
        });
        order
    });
    let mut packer = Packer::default();
    let mut poll_lane = HashMap::new();
    let mut place = |i: u32| {
        let p = &m.polls[i as usize];
        let lane = packer.place(p.start, p.end, 0);
        if lane > 0 {
            poll_lane.insert(i, lane as u32);
        }
    };
    match &order {
        Some(order) => order.iter().copied().for_each(&mut place),
        None => (th.polls.start..th.polls.end).for_each(&mut place),
    }
    let poll_lanes = packer.lanes.len().saturating_sub(1) as u32;

    let mut annots = Vec::with_capacity(th.parks.len() + th.pauses.len() + th.regions.len());
    let mut add = |span: Span, ix: usize, kind| {
        annots.push(Annot {
            start: span.start,
            end: span.end,
            ix: ix as u32,
            kind,
            lane: 0,
        })
    };
    for (i, s) in th.parks.iter().enumerate() {
        add(*s, i, AnnotKind::Park);
    }
    for (i, p) in th.pauses.iter().enumerate() {
        add(p.span, i, AnnotKind::Pause);
    }
    for (i, r) in th.regions.iter().enumerate() {
        add(r.span, i, AnnotKind::Region);
    }
    annots.sort_unstable_by_key(|a| (sort_key(a.start, a.end), a.kind, a.ix));
    let mut own = Vec::new();
    let mut extra = Packer::default();
    for a in &mut annots {
        let fits = Packer::fits(&mut own, a.start, a.end);
        if fits && nests_with_polls(m, t, a.start, a.end) {
            own.push(a.end);
        } else {
            a.lane = 1 + extra.place(a.start, a.end, 0) as u32;
        }
    }
    ThreadPlan {
        order,
        poll_lane,
        poll_lanes,
        annots,
        annot_lanes: extra.lanes.len() as u32,
    }
}

/// Whether `[start, end)` nests with every poll of thread `t` (each contains it, lies inside
/// it or is disjoint from it).
fn nests_with_polls(m: &Model, t: ThreadIx, start: Nanos, end: Nanos) -> bool {
    if start == end {
        return true;
    }
    for (checked, p) in m.thread_polls_in(t, start, end).iter().enumerate() {
        if checked >= MAX_NEST_CHECKS {
            return false;
        }
        let overlaps = p.start < end && p.end > start;
        let contains = p.start <= start && p.end >= end;
        let inside = p.start >= start && p.end <= end;
        if overlaps && !contains && !inside {
            return false;
        }
    }
    true
}

/// Lanes for the polls of tasks whose polls overlap (an anomaly the model counts; none in a
/// clean trace): global poll index → extra lane, and extra lanes per task.
fn plan_task_lanes(m: &Model) -> (HashMap<u32, u32>, HashMap<TaskIx, u32>) {
    let mut poll_lane = HashMap::new();
    let mut task_lanes = HashMap::new();
    if m.anomalies.overlapping_polls == 0 {
        return (poll_lane, task_lanes);
    }
    // Per task with overlapping polls: (task, [(poll, lane)], extra lanes).
    type Moved = (TaskIx, Vec<(u32, u32)>, u32);
    let moved: Vec<Moved> = (0..m.tasks.len() as u32)
        .into_par_iter()
        .map(TaskIx)
        .filter_map(|t| {
            if m.task_poll_count(t) < 2 {
                return None;
            }
            let mut polls: Vec<(Nanos, Nanos, u32)> = m
                .task_polls(t)
                .map(|p| (p.start, p.end, index_in(&m.polls, p)))
                .collect();
            polls.sort_unstable_by_key(|&(s, e, i)| (sort_key(s, e), i));
            let mut packer = Packer::default();
            let moved: Vec<(u32, u32)> = polls
                .iter()
                .filter_map(|&(s, e, i)| {
                    let lane = packer.place(s, e, 0);
                    (lane > 0).then_some((i, lane as u32))
                })
                .collect();
            (!moved.is_empty()).then(|| (t, moved, packer.lanes.len() as u32 - 1))
        })
        .collect();
    for (t, polls, lanes) in moved {
        poll_lane.extend(polls);
        task_lanes.insert(t, lanes);
    }
    (poll_lane, task_lanes)
}

/// Which poll each wake's arrow ends on; see the module docs.
fn plan_flows(m: &Model) -> Flows {
    if m.wakes.is_empty() {
        return Flows::default();
    }
    let mut flows = Flows {
        poll_in: vec![NONE; m.polls.len()],
        wake_to: vec![NONE; m.wakes.len()],
        markers: Vec::new(),
    };
    for t in m.task_ixs() {
        let wakes = m.task_wakes(t);
        let Some(first) = wakes.first() else {
            continue;
        };
        let base = index_in(&m.wakes, first);
        let (mut i, mut floor) = (0, 0);
        for p in m.task_polls(t) {
            while i < wakes.len() && wakes[i].time < floor {
                i += 1;
            }
            if i < wakes.len() && wakes[i].time <= p.start {
                let (pi, wi) = (index_in(&m.polls, p), base + i as u32);
                flows.wake_to[wi as usize] = pi;
                if wakes[i].time == p.start && p.end > p.start {
                    flows.markers.push((pi, wi));
                } else {
                    flows.poll_in[pi as usize] = wi;
                }
                i += 1;
            }
            floor = p.start;
        }
    }
    flows
        .markers
        .sort_unstable_by_key(|&(_, w)| (m.wakes[w as usize].time, w));
    flows
}

fn plan_layout(
    m: &Model,
    threads: &[ThreadPlan],
    has_pauses: bool,
    pause_lanes: u32,
    task_lanes: &HashMap<TaskIx, u32>,
) -> io::Result<Layout> {
    let mut tracks = Vec::new();
    let mut extra_lanes = 0u64;
    let pauses_base = tracks.len() as u32;
    if has_pauses {
        tracks.extend((0..=pause_lanes).map(TrackRef::Pauses));
        extra_lanes += u64::from(pause_lanes);
    }

    let mut order: Vec<ThreadIx> = m.thread_ixs().collect();
    order.sort_by_key(|&t| {
        let th = &m.threads[t.index()];
        match th.kind {
            Some(ThreadKind::Worker) => (0, th.index, th.id),
            Some(ThreadKind::Blocking) => (1, th.index, th.id),
            Some(ThreadKind::Other) | None => (2, 0, th.id),
        }
    });
    let mut thread_base = vec![0; m.threads.len()];
    for t in order {
        let plan = &threads[t.index()];
        thread_base[t.index()] = tracks.len() as u32;
        let lanes = plan.poll_lanes + plan.annot_lanes;
        tracks.extend((0..=lanes).map(|lane| TrackRef::Thread(t, lane)));
        extra_lanes += u64::from(lanes);
    }

    // Tasks grouped by spawn location, groups in order of their first task (tasks are in
    // spawn order).
    let mut groups: HashMap<u32, u32> = HashMap::new();
    let mut order: Vec<(u32, TaskIx)> = m
        .tasks
        .iter()
        .enumerate()
        .map(|(i, task)| {
            let next = groups.len() as u32;
            (
                *groups.entry(task.location.0).or_insert(next),
                TaskIx(i as u32),
            )
        })
        .collect();
    order.sort_unstable();
    let mut task_base = vec![0; m.tasks.len()];
    for (_, t) in order {
        task_base[t.index()] = tracks.len() as u32;
        let lanes = task_lanes.get(&t).copied().unwrap_or(0);
        tracks.extend((0..=lanes).map(|lane| TrackRef::Task(t, lane)));
        extra_lanes += u64::from(lanes);
    }
    let counters = tracks.len() as u32;
    if !m.counters.is_empty() {
        tracks.push(TrackRef::Counters);
    }
    if tracks.len() as u64 >= u64::from(u32::MAX - 2) {
        return Err(io::Error::other(format!(
            "the trace needs {} tracks, more than 32-bit thread ids can number",
            tracks.len()
        )));
    }
    let pid = match m.header.process_id {
        0 => 1,
        pid => pid,
    };
    Ok(Layout {
        pid,
        tracks,
        pauses_base,
        thread_base,
        task_base,
        counters,
        extra_lanes,
    })
}

fn plan_labels(m: &Model) -> Labels {
    let mut whats: Vec<String> = Vec::new();
    let mut index: HashMap<(u8, u32), u32> = HashMap::new();
    let mut intern = |key: (u8, u32), make: &dyn Fn() -> String| -> u32 {
        *index.entry(key).or_insert_with(|| {
            whats.push(make());
            whats.len() as u32 - 1
        })
    };
    let task_what = m
        .tasks
        .iter()
        .map(|t| {
            let name = m.string(t.name);
            let location = |loc: LocationId| move || m.location_label(loc);
            if !name.is_empty() {
                let what = intern((0, t.name.0), &|| name.to_string());
                let at = if t.location == LocationId::NONE {
                    NONE
                } else {
                    intern((1, t.location.0), &location(t.location))
                };
                (what, at)
            } else if t.location != LocationId::NONE {
                (intern((1, t.location.0), &location(t.location)), NONE)
            } else {
                let (code, text) = match t.kind {
                    Some(TaskKind::BlockOn) => (0, "block_on"),
                    Some(TaskKind::Blocking) => (1, "spawn_blocking"),
                    _ => (2, "task"),
                };
                (intern((2, code), &|| text.to_string()), NONE)
            }
        })
        .collect();
    let threads = m.threads.iter().map(|t| t.label()).collect();
    let counters = m.counters.iter().map(|c| counter_name(&c.kind)).collect();
    Labels {
        whats,
        task_what,
        threads,
        counters,
    }
}

/// A counter series' event name and argument key (Perfetto names the track "NAME KEY").
fn counter_name(kind: &CounterKind) -> (String, &'static str) {
    match kind {
        CounterKind::GlobalQueue => ("global queue".into(), "tasks"),
        CounterKind::AliveTasks => ("alive tasks".into(), "tasks"),
        CounterKind::BlockingThreads => ("blocking threads".into(), "threads"),
        CounterKind::WorkerQueue(i) => (format!("worker {i} queue"), "tasks"),
        CounterKind::HeapInUse => ("heap in use".into(), "bytes"),
        CounterKind::AllocatedBytes => ("allocated".into(), "bytes"),
        CounterKind::User(name) if name.is_empty() => ("counter".into(), "value"),
        CounterKind::User(name) => (name.clone(), "value"),
    }
}
