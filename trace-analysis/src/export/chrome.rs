//! Chrome trace JSON (the Trace Event Format) as Perfetto and `chrome://tracing` import it,
//! written by a streaming writer: [`write_chrome`].
//!
//! # What each track holds
//!
//! One process (the traced one: its pid, or 1 when the trace does not know it; its name as
//! `process_name`). Every track is a thread of that process with a 32-bit, non-zero tid
//! (never the pid) that is allocated in display order, and `thread_name` +
//! `thread_sort_index` metadata written just before the track's first event, so only tracks
//! with something on them appear:
//!
//! 1. **process pauses** (when the trace has any): process-wide pauses as `X` slices named
//!    `pause: KIND`;
//! 2. one track per **recording thread** (workers by index, then blocking-pool threads, then
//!    the others), holding the polls it ran (`X`, named with the task's label, args `task`,
//!    `at` for named tasks, `ready`/`cut` flags), its parked intervals (`X` named `idle`),
//!    its thread-scoped pauses, its `tracing` regions (named by the span), log lines and
//!    lost-data markers (`i` instants: the message; `data lost: N events`), sampled
//!    allocations (`i`, `alloc N bytes`), and the wakes made by no task (I/O driver, timers,
//!    blocking pool, foreign threads: zero-length `X` slices named `wake #ID`);
//! 3. one track per **task**, ordered by spawn location (tasks from the same location are
//!    neighbours, groups in order of their first spawn): its polls again (args `thread`), and
//!    the wakes it made (zero-length `wake #ID` slices at the wake's instant, inside the poll
//!    that made them);
//! 4. **counters** (`C` events, one series per counter track): heap in use, bytes
//!    allocated, global and per-worker queue depths, alive tasks, blocking threads and user
//!    counters.
//!
//! Every poll therefore appears exactly twice: once on its thread's track and once on its
//! task's track.
//!
//! # Nesting
//!
//! Slices on one track must nest (Perfetto drops or misplaces partially overlapping ones).
//! Polls on a thread nest by construction (nested polls come from `block_in_place` +
//! `block_on`) and a task's polls do not overlap, but idle intervals, pauses and regions are
//! only put on their thread's track when they nest with its polls and with each other; one
//! that does not (a span exited out of order, a pause that outlives a poll) goes to an extra
//! track named `THREAD · lane N` beside it. The same greedy lane assignment protects every
//! other track (overlapping pauses of different threads on the process-pause track, the rare
//! overlapping polls of one task), so any input exports as properly nested tracks.
//!
//! # Wake arrows
//!
//! Each wake becomes a v2 flow (`bind_id` + `flow_out`/`flow_in`, id = the wake's index + 1,
//! unique per edge) from a zero-length `wake` slice at the wake's instant to the woken task's
//! next poll on its task track. Perfetto binds a v2 flow to the slice that carries it, and a
//! slice carries only one `bind_id`, so a poll that wakes three tasks cannot hold three
//! outgoing arrows: the zero-length child slice carries each edge (and shows where in the
//! poll the wake happened). The poll that a wake leads to is chosen as the analysis chooses
//! the wake that ends a wait: a task's wakes since the start of its previous poll, the first
//! of them, point to its next poll; later ones in the same stretch (the task was already
//! runnable) get a `wake` slice but no arrow. When the wake and the poll it leads to happen in
//! the same nanosecond, the arrow ends on a zero-length `woken` slice at the start of that
//! poll, so that the file still lists the arrow's start before its end.
//!
//! # Ordering
//!
//! Events are written sorted by `(ts, −dur)` over the whole file, which is what the Trace
//! Event Format's importers expect and what both of them handle best: on one track a parent
//! comes before the children that start with it, and an arrow's start comes before its end. Per
//! track order would be enough for nesting alone, but Perfetto resolves flows in the order it
//! reads them, so the whole file is merged: a heap merges a few sorted sources (each thread's
//! polls, each thread's idle/pause/region intervals, process pauses, wakes, logs, lost
//! markers, allocation samples, one per counter series). A poll's two copies have the same
//! key, so the task copy is written right after the thread copy and needs no source of its
//! own. Ties are broken by kind (wakes first, then polls, then the rest, `woken` last) and
//! then by source, so the output is deterministic. Metadata (`M`) events carry no time and
//! are exempt.
//!
//! # Time range
//!
//! With [`ChromeOptions::range`] `[from, to)`, a slice is written when it overlaps the range
//! (`start < to` and `end > from`; a zero-length one when `from ≤ start < to`), and written
//! whole, not clipped, so its `ts`/`dur` are the recorded ones. Instants and counter points are
//! written when `from ≤ t < to`; each counter series also gets its value in force at `from`
//! as a point at `from`. A flow is written only when both its ends are.
//!
//! # Units
//!
//! `ts` and `dur` are microseconds since the start of the trace, printed from integer
//! nanoseconds as `µs.nnn` (1 234 567 ns → `1234.567`), so no float rounding is involved.

use std::cmp::Reverse;
use std::collections::binary_heap::PeekMut;
use std::collections::{BinaryHeap, HashMap};
use std::io::{self, Write};

use rayon::prelude::*;
use trace_format::{LocationId, TaskKind, ThreadKind, WakeSource};

use crate::model::{CounterKind, Model, NO_TASK, Nanos, Poll, Span, TaskIx, ThreadIx, Wake};

/// "None" for `u32` indexes.
const NONE: u32 = u32::MAX;

/// Buffered output is handed to the writer in pieces of about this size.
const FLUSH_AT: usize = 256 * 1024;

/// Progress is reported every this many source items.
const PROGRESS_EVERY: u64 = 1 << 15;

/// At most this many polls are compared with one idle/pause/region interval to decide whether
/// it nests on the thread's track; past that it goes to a lane of its own.
const MAX_NEST_CHECKS: usize = 4096;

/// Options for [`write_chrome`].
#[derive(Default, Clone, Copy)]
pub struct ChromeOptions<'a> {
    /// Export only what overlaps `[start, end)` of trace time (see the module docs); `None`
    /// exports everything.
    pub range: Option<Span>,
    /// Called now and then, and once at the end, with `(items done, items total)`: the
    /// trace items (polls, intervals, wakes, logs, counter points, …) written so far.
    pub progress: Option<&'a dyn Fn(u64, u64)>,
}

/// What [`write_chrome`] wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// JSON events written, of every phase.
    pub events: u64,
    /// Complete (`X`) slices: poll copies, idle, pauses, regions, wakes, `woken` markers.
    pub slices: u64,
    /// Instant (`i`) events: logs, lost-data markers, allocation samples.
    pub instants: u64,
    /// Counter (`C`) points.
    pub counter_points: u64,
    /// Metadata (`M`) events.
    pub metadata: u64,
    /// Flow arrows (each has one `flow_out` and one `flow_in`).
    pub flows: u64,
    /// Tracks (tids) written.
    pub tracks: u64,
    /// Extra tracks allocated so overlapping intervals still nest (see the module docs).
    pub extra_lanes: u64,
    /// Counter points left out because their value is not a finite number.
    pub skipped_points: u64,
    /// Bytes written.
    pub bytes: u64,
}

/// Writes `model` as Chrome trace JSON to `out`, streaming: the JSON is produced in order and
/// handed to `out` in pieces of a few hundred KiB, never held whole (`out` needs no
/// buffering of its own). See the module docs for what goes where.
///
/// Fails with the first error `out` returns, or with `InvalidInput` for a range that ends
/// before it starts.
///
/// ```
/// use trace_format::{Event, TaskId, Trace, build::TraceBuilder};
/// use trace_analysis::export::chrome::{ChromeOptions, write_chrome};
/// use trace_analysis::model::Model;
///
/// let mut b = TraceBuilder::new();
/// b.push(1, 1_000, Event::PollStart { task: TaskId(7) });
/// b.push(1, 1_234_567, Event::PollEnd { ready: true });
/// let model = Model::build(&Trace::from_bytes(b.to_bytes())?)?;
///
/// let mut json = Vec::new();
/// let stats = write_chrome(&model, &ChromeOptions::default(), &mut json)?;
/// assert_eq!(stats.slices, 2); // the poll on its thread's track and on its task's track
/// assert_eq!(stats.bytes, json.len() as u64);
///
/// let doc: serde_json::Value = serde_json::from_slice(&json)?;
/// let polls: Vec<_> = doc["traceEvents"]
///     .as_array()
///     .unwrap()
///     .iter()
///     .filter(|e| e["ph"] == "X")
///     .collect();
/// assert_eq!(polls[0]["ts"], 1.0); // µs
/// assert_eq!(polls[0]["dur"], 1233.567);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_chrome(
    model: &Model,
    options: &ChromeOptions<'_>,
    out: impl Write,
) -> io::Result<ExportStats> {
    let range = options.range.unwrap_or(Span {
        start: 0,
        end: Nanos::MAX,
    });
    if range.end < range.start {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the export range ends ({} ns) before it starts ({} ns)",
                range.end, range.start
            ),
        ));
    }
    let plan = Plan::new(model, range)?;
    let mut sources = plan.sources();
    let total: u64 = sources.iter().map(Source::len).sum();

    let mut exp = Exporter {
        m: model,
        plan: &plan,
        out: Out {
            w: out,
            buf: Vec::with_capacity(FLUSH_AT + 64 * 1024),
            bytes: 0,
        },
        pid_tid: format!("{},\"tid\":", plan.layout.pid).into_bytes(),
        seen: vec![0; plan.layout.tracks.len().div_ceil(64)],
        stats: ExportStats {
            extra_lanes: plan.layout.extra_lanes,
            ..ExportStats::default()
        },
        done: 0,
        total,
        progress: options.progress,
    };
    exp.begin()?;

    let mut heap = BinaryHeap::with_capacity(sources.len());
    for (i, s) in sources.iter_mut().enumerate() {
        if let Some(k) = s.key(model, range) {
            heap.push(Reverse(k.with_source(i)));
        }
    }
    while let Some(mut top) = heap.peek_mut() {
        let i = top.0.source as usize;
        exp.emit(&mut sources[i])?;
        match sources[i].key(model, range) {
            Some(k) => top.0 = k.with_source(i),
            None => {
                PeekMut::pop(top);
            }
        }
    }
    exp.finish()
}

// ---------------------------------------------------------------------------------------------
// Planning: lanes, flows, labels and track layout, computed before anything is written.

/// A time-ordered interval on a thread's track other than a poll.
#[derive(Debug, Clone, Copy)]
struct Annot {
    start: Nanos,
    end: Nanos,
    ix: u32,
    kind: AnnotKind,
    /// 0: the thread's track; k ≥ 1: its k-th extra interval lane.
    lane: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum AnnotKind {
    Park,
    Pause,
    Region,
}

/// Per thread: poll order and lanes, and its other intervals with their lanes.
struct ThreadPlan {
    /// Global poll indexes in `(start, −end)` order, when the model's order differs.
    order: Option<Vec<u32>>,
    /// Polls that could not nest on the thread's track: global index → extra lane (≥ 1).
    poll_lane: HashMap<u32, u32>,
    /// Extra poll lanes.
    poll_lanes: u32,
    /// Idle intervals, thread pauses and regions, in `(start, −end)` order.
    annots: Vec<Annot>,
    /// Extra interval lanes.
    annot_lanes: u32,
}

/// Wake → poll links.
#[derive(Default)]
struct Flows {
    /// Per poll: the wake whose arrow ends on it, or [`NONE`].
    poll_in: Vec<u32>,
    /// Per wake: the poll its arrow ends on (directly or through a marker), or [`NONE`].
    wake_to: Vec<u32>,
    /// `(poll, wake)`: arrows that end on a `woken` marker, by time.
    markers: Vec<(u32, u32)>,
}

/// What a dense track index stands for.
#[derive(Debug, Clone, Copy)]
enum TrackRef {
    Pauses(u32),
    Thread(ThreadIx, u32),
    Task(TaskIx, u32),
    Counters,
}

/// Tracks in display order (dense index = sort index); tids derive from the dense index.
struct Layout {
    pid: u32,
    tracks: Vec<TrackRef>,
    pauses_base: u32,
    thread_base: Vec<u32>,
    task_base: Vec<u32>,
    counters: u32,
    extra_lanes: u64,
}

impl Layout {
    /// The tid of dense track `d`: 1, 2, … skipping the pid.
    fn tid(&self, d: u32) -> u32 {
        if d + 1 < self.pid { d + 1 } else { d + 2 }
    }
}

/// Pre-escaped labels.
struct Labels {
    /// Distinct "what" parts of task labels (name, location or kind), JSON-escaped.
    whats: Vec<Vec<u8>>,
    /// Per task: index into `whats` of its label, and of its location when the label is its
    /// name (for the `at` argument), or [`NONE`].
    task_what: Vec<(u32, u32)>,
    /// Per thread: its label, JSON-escaped.
    threads: Vec<Vec<u8>>,
    /// Per counter series: JSON-escaped name and argument key.
    counters: Vec<(Vec<u8>, &'static str)>,
}

struct Plan<'m> {
    m: &'m Model,
    range: Span,
    threads: Vec<ThreadPlan>,
    /// Process pauses in `(start, −end)` order with their lanes (0 = the pause track).
    pauses: Vec<(u32, u32)>,
    /// Task polls moved off their task's track: global poll index → extra lane (≥ 1).
    task_poll_lane: HashMap<u32, u32>,
    flows: Flows,
    layout: Layout,
    labels: Labels,
}

/// Greedy assignment of intervals, given in `(start, −end)` order, to lanes where they nest.
#[derive(Default)]
struct Packer {
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
    fn place(&mut self, start: Nanos, end: Nanos, first: usize) -> usize {
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
fn index_in<T>(slice: &[T], item: &T) -> u32 {
    let size = std::mem::size_of::<T>().max(1);
    ((item as *const T as usize - slice.as_ptr() as usize) / size) as u32
}

fn sort_key(start: Nanos, end: Nanos) -> (Nanos, Reverse<Nanos>) {
    (start, Reverse(end))
}

/// Whether a slice `[start, end)` is exported for `range`.
fn slice_in(range: Span, start: Nanos, end: Nanos) -> bool {
    if start == end {
        range.start <= start && start < range.end
    } else {
        start < range.end && end > range.start
    }
}

/// Whether an instant at `t` is exported for `range`.
fn instant_in(range: Span, t: Nanos) -> bool {
    range.start <= t && t < range.end
}

impl<'m> Plan<'m> {
    fn new(m: &'m Model, range: Span) -> io::Result<Plan<'m>> {
        let threads: Vec<ThreadPlan> = (0..m.threads.len() as ThreadIx)
            .into_par_iter()
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

    /// The merge sources, each already restricted to the range.
    fn sources(&self) -> Vec<Source> {
        let (m, r) = (self.m, self.range);
        let mut sources = Vec::new();
        if !self.pauses.is_empty() {
            let items: Vec<(u32, u32)> = self
                .pauses
                .iter()
                .copied()
                .filter(|&(i, _)| {
                    let s = m.process_pauses[i as usize].span;
                    slice_in(r, s.start, s.end)
                })
                .collect();
            sources.push(Source::Pauses { items, pos: 0 });
        }
        for (t, plan) in self.threads.iter().enumerate() {
            let t = t as ThreadIx;
            let range = &m.threads[t as usize].polls;
            let polls = match &plan.order {
                Some(order) => PollList::Order(
                    order
                        .iter()
                        .copied()
                        .filter(|&i| {
                            let p = &m.polls[i as usize];
                            slice_in(r, p.start, p.end)
                        })
                        .collect(),
                ),
                None => {
                    let (lo, hi) = if r.start == 0 && r.end == Nanos::MAX {
                        (range.start, range.end)
                    } else {
                        let all = m.thread_polls(t);
                        let hi = all.partition_point(|p| p.start < r.end);
                        let within = if r.start == 0 {
                            &all[..hi]
                        } else {
                            m.thread_polls_in(t, r.start - 1, r.end)
                        };
                        match within.first() {
                            Some(first) => {
                                let lo = range.start + index_in(all, first);
                                (lo, lo + within.len() as u32)
                            }
                            None => (0, 0),
                        }
                    };
                    PollList::Span { next: lo, end: hi }
                }
            };
            sources.push(Source::Polls {
                thread: t,
                polls,
                pos: 0,
            });
            let annots: Vec<Annot> = plan
                .annots
                .iter()
                .copied()
                .filter(|a| slice_in(r, a.start, a.end))
                .collect();
            if !annots.is_empty() {
                sources.push(Source::Annots {
                    thread: t,
                    items: annots,
                    pos: 0,
                });
            }
        }
        if !m.wakes.is_empty() {
            // Sorted as packed (time, index) pairs: no indirection while sorting.
            let mut order: Vec<(Nanos, u32)> = m
                .wakes
                .iter()
                .enumerate()
                .filter(|(_, w)| instant_in(r, w.time))
                .map(|(i, w)| (w.time, i as u32))
                .collect();
            order.sort_unstable();
            sources.push(Source::Wakes { order, pos: 0 });
            let markers: Vec<(u32, u32)> = self
                .flows
                .markers
                .iter()
                .copied()
                .filter(|&(_, w)| instant_in(r, m.wakes[w as usize].time))
                .collect();
            if !markers.is_empty() {
                sources.push(Source::Markers {
                    items: markers,
                    pos: 0,
                });
            }
        }
        let bounds = |times: &dyn Fn(usize) -> Nanos, len: usize| {
            let lo = partition(len, |i| times(i) < r.start);
            let hi = partition(len, |i| times(i) < r.end);
            (lo, hi.max(lo))
        };
        let (lo, hi) = bounds(&|i| m.logs[i].time, m.logs.len());
        sources.push(Source::Logs { pos: lo, end: hi });
        let (lo, hi) = bounds(&|i| m.lost[i].time, m.lost.len());
        sources.push(Source::Lost { pos: lo, end: hi });
        let (lo, hi) = bounds(&|i| m.alloc_samples[i].time, m.alloc_samples.len());
        sources.push(Source::Samples { pos: lo, end: hi });
        for (s, series) in m.counters.iter().enumerate() {
            let points = &series.points;
            let (lo, hi) = bounds(&|i| points[i].0, points.len());
            // The value in force at `from`, unless a point sits exactly there.
            let lead = (r.start > 0
                && r.start < r.end
                && lo > 0
                && points.get(lo).is_none_or(|p| p.0 != r.start))
            .then(|| points[lo - 1].1);
            sources.push(Source::Counter {
                series: s as u32,
                lead,
                pos: lo,
                end: hi,
            });
        }
        sources
    }
}

/// The first index in `0..len` for which `pred` is false (`pred` true on a prefix).
fn partition(len: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

fn plan_thread(m: &Model, t: ThreadIx) -> ThreadPlan {
    let th = &m.threads[t as usize];
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
    let moved: Vec<Moved> = (0..m.tasks.len() as TaskIx)
        .into_par_iter()
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
    for t in 0..m.tasks.len() as TaskIx {
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

    let mut order: Vec<ThreadIx> = (0..m.threads.len() as ThreadIx).collect();
    order.sort_by_key(|&t| {
        let th = &m.threads[t as usize];
        match th.kind {
            Some(ThreadKind::Worker) => (0, th.index, th.id),
            Some(ThreadKind::Blocking) => (1, th.index, th.id),
            Some(ThreadKind::Other) | None => (2, 0, th.id),
        }
    });
    let mut thread_base = vec![0; m.threads.len()];
    for t in order {
        let plan = &threads[t as usize];
        thread_base[t as usize] = tracks.len() as u32;
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
            (*groups.entry(task.location.0).or_insert(next), i as TaskIx)
        })
        .collect();
    order.sort_unstable();
    let mut task_base = vec![0; m.tasks.len()];
    for (_, t) in order {
        task_base[t as usize] = tracks.len() as u32;
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
    let mut whats: Vec<Vec<u8>> = Vec::new();
    let mut index: HashMap<(u8, u32), u32> = HashMap::new();
    let mut intern = |key: (u8, u32), make: &dyn Fn() -> String| -> u32 {
        *index.entry(key).or_insert_with(|| {
            let mut escaped = Vec::new();
            escape_into(&mut escaped, &make());
            whats.push(escaped);
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
    let threads = m
        .threads
        .iter()
        .map(|t| {
            let mut escaped = Vec::new();
            escape_into(&mut escaped, &t.label());
            escaped
        })
        .collect();
    let counters = m
        .counters
        .iter()
        .map(|c| {
            let (name, key) = counter_name(&c.kind);
            let mut escaped = Vec::new();
            escape_into(&mut escaped, &name);
            (escaped, key)
        })
        .collect();
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

// ---------------------------------------------------------------------------------------------
// Merge sources.

/// A source's polls: a contiguous range of global indexes, or an explicit order.
enum PollList {
    Span { next: u32, end: u32 },
    Order(Vec<u32>),
}

/// One sorted stream of items to merge.
enum Source {
    Pauses {
        items: Vec<(u32, u32)>,
        pos: usize,
    },
    Polls {
        thread: ThreadIx,
        polls: PollList,
        pos: usize,
    },
    Annots {
        thread: ThreadIx,
        items: Vec<Annot>,
        pos: usize,
    },
    Wakes {
        /// `(time, wake index)`, by time.
        order: Vec<(Nanos, u32)>,
        pos: usize,
    },
    Markers {
        items: Vec<(u32, u32)>,
        pos: usize,
    },
    Logs {
        pos: usize,
        end: usize,
    },
    Lost {
        pos: usize,
        end: usize,
    },
    Samples {
        pos: usize,
        end: usize,
    },
    Counter {
        series: u32,
        lead: Option<f64>,
        pos: usize,
        end: usize,
    },
}

/// The start of an event up to its pid: `,\n{"ph":PH,"cat":CAT,"pid":`, one copy.
macro_rules! head {
    ($ph:literal, $cat:literal) => {
        Head(concat!(",\n{\"ph\":\"", $ph, "\",\"cat\":\"", $cat, "\",\"pid\":").as_bytes())
    };
}

/// An event's start, made by [`head!`].
#[derive(Clone, Copy)]
struct Head(&'static [u8]);

/// Ties at equal `(ts, dur)`: arrow starts first, arrow-ending markers last.
const RANK_WAKE: u8 = 0;
const RANK_POLL: u8 = 1;
const RANK_OTHER: u8 = 2;
const RANK_MARKER: u8 = 3;

/// Merge order: `(ts, −dur)`, then rank, then source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    ts: Nanos,
    neg_dur: Nanos,
    rank: u8,
    source: u32,
}

impl Key {
    fn new(ts: Nanos, dur: Nanos, rank: u8) -> Key {
        Key {
            ts,
            neg_dur: Nanos::MAX - dur,
            rank,
            source: 0,
        }
    }

    fn with_source(self, source: usize) -> Key {
        Key {
            source: source as u32,
            ..self
        }
    }
}

impl Source {
    /// Items in this source (an upper bound, for progress).
    fn len(&self) -> u64 {
        let n = match self {
            Source::Pauses { items, .. } => items.len(),
            Source::Polls { polls, .. } => match polls {
                PollList::Span { next, end } => (end - next) as usize,
                PollList::Order(order) => order.len(),
            },
            Source::Annots { items, .. } => items.len(),
            Source::Wakes { order, .. } => order.len(),
            Source::Markers { items, .. } => items.len(),
            Source::Logs { pos, end }
            | Source::Lost { pos, end }
            | Source::Samples { pos, end } => end - pos,
            Source::Counter { lead, pos, end, .. } => end - pos + usize::from(lead.is_some()),
        };
        n as u64
    }

    /// The key of the next item (skipping polls outside the range), or `None` at the end.
    fn key(&mut self, m: &Model, range: Span) -> Option<Key> {
        match self {
            Source::Pauses { items, pos } => items.get(*pos).map(|&(i, _)| {
                let s = m.process_pauses[i as usize].span;
                Key::new(s.start, s.len(), RANK_OTHER)
            }),
            Source::Polls { polls, pos, .. } => {
                let next = match polls {
                    PollList::Span { next, end } => {
                        while *next < *end {
                            let p = &m.polls[*next as usize];
                            if slice_in(range, p.start, p.end) {
                                break;
                            }
                            *next += 1;
                        }
                        (*next < *end).then_some(*next)
                    }
                    PollList::Order(order) => order.get(*pos).copied(),
                }?;
                let p = &m.polls[next as usize];
                Some(Key::new(p.start, p.end - p.start, RANK_POLL))
            }
            Source::Annots { items, pos, .. } => items
                .get(*pos)
                .map(|a| Key::new(a.start, a.end - a.start, RANK_OTHER)),
            Source::Wakes { order, pos } => {
                order.get(*pos).map(|&(t, _)| Key::new(t, 0, RANK_WAKE))
            }
            Source::Markers { items, pos } => items
                .get(*pos)
                .map(|&(p, _)| Key::new(m.polls[p as usize].start, 0, RANK_MARKER)),
            Source::Logs { pos, end } => {
                (pos < end).then(|| Key::new(m.logs[*pos].time, 0, RANK_OTHER))
            }
            Source::Lost { pos, end } => {
                (pos < end).then(|| Key::new(m.lost[*pos].time, 0, RANK_OTHER))
            }
            Source::Samples { pos, end } => {
                (pos < end).then(|| Key::new(m.alloc_samples[*pos].time, 0, RANK_OTHER))
            }
            Source::Counter {
                series,
                lead,
                pos,
                end,
            } => {
                if lead.is_some() {
                    Some(Key::new(range.start, 0, RANK_OTHER))
                } else {
                    (pos < end).then(|| {
                        Key::new(m.counters[*series as usize].points[*pos].0, 0, RANK_OTHER)
                    })
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Writing.

/// The output buffer and the bytes handed on so far.
struct Out<W: Write> {
    w: W,
    buf: Vec<u8>,
    bytes: u64,
}

impl<W: Write> Out<W> {
    #[inline]
    fn raw(&mut self, s: &[u8]) {
        self.buf.extend_from_slice(s);
    }

    #[inline]
    fn u64(&mut self, v: u64) {
        push_u64(&mut self.buf, v);
    }

    /// Nanoseconds as microseconds with three decimals.
    #[inline]
    fn us(&mut self, ns: Nanos) {
        push_u64(&mut self.buf, ns / 1000);
        let f = (ns % 1000) as usize;
        let pair = f % 100 * 2;
        self.buf.extend_from_slice(&[
            b'.',
            b'0' + (f / 100) as u8,
            DIGIT_PAIRS[pair],
            DIGIT_PAIRS[pair + 1],
        ]);
    }

    /// A JSON string.
    fn str(&mut self, s: &str) {
        self.buf.push(b'"');
        escape_into(&mut self.buf, s);
        self.buf.push(b'"');
    }

    /// A finite number: integers without a fraction, others in Rust's shortest round-trip
    /// form (which JSON accepts).
    fn f64(&mut self, v: f64) {
        if v == v.trunc() && v.abs() < 9.0e15 {
            if v < 0.0 {
                self.buf.push(b'-');
            }
            push_u64(&mut self.buf, v.abs() as u64);
        } else {
            let _ = write!(self.buf, "{v}");
        }
    }

    fn flush_if_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.flush_buf()?;
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        self.w.write_all(&self.buf)?;
        self.bytes += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

/// "00" to "99".
const DIGIT_PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        tmp[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize * 2;
        i -= 2;
        tmp[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        tmp[i] = b'0' + v as u8;
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends `s` JSON-escaped (without quotes).
fn escape_into(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        buf.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            0..0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                buf.extend_from_slice(b"\\u00");
                buf.push(HEX[usize::from(b >> 4)]);
                buf.push(HEX[usize::from(b & 15)]);
            }
            _ => buf.push(b),
        }
    }
}

fn source_name(source: WakeSource) -> &'static str {
    match source {
        WakeSource::Task => "task",
        WakeSource::Io => "io",
        WakeSource::Timer => "timer",
        WakeSource::Blocking => "blocking",
        WakeSource::Foreign => "foreign",
        WakeSource::SelfWake => "self",
        WakeSource::Unknown => "unknown",
    }
}

struct Exporter<'a, 'm, W: Write> {
    m: &'m Model,
    plan: &'a Plan<'m>,
    out: Out<W>,
    /// `PID,"tid":`.
    pid_tid: Vec<u8>,
    /// Dense tracks whose metadata is written.
    seen: Vec<u64>,
    stats: ExportStats,
    done: u64,
    total: u64,
    progress: Option<&'a dyn Fn(u64, u64)>,
}

impl<W: Write> Exporter<'_, '_, W> {
    fn begin(&mut self) -> io::Result<()> {
        let name = match self.m.header.process_name.as_str() {
            "" => "traced process",
            name => name,
        };
        self.out
            .raw(b"{\"traceEvents\":[\n{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":");
        self.out.u64(u64::from(self.plan.layout.pid));
        self.out.raw(b",\"args\":{\"name\":");
        self.out.str(name);
        self.out.raw(b"}}");
        self.stats.metadata += 1;
        self.stats.events += 1;
        Ok(())
    }

    fn finish(mut self) -> io::Result<ExportStats> {
        self.out.raw(b"\n]}\n");
        self.out.flush_buf()?;
        self.out.w.flush()?;
        if let Some(progress) = self.progress {
            progress(self.total, self.total);
        }
        self.stats.bytes = self.out.bytes;
        Ok(self.stats)
    }

    /// The tid of dense track `d`, writing its metadata first if it is new.
    fn track(&mut self, d: u32) -> u32 {
        let tid = self.plan.layout.tid(d);
        let (word, bit) = (d as usize / 64, 1u64 << (d % 64));
        if self.seen[word] & bit == 0 {
            self.seen[word] |= bit;
            self.stats.tracks += 1;
            self.stats.metadata += 2;
            self.stats.events += 2;
            let o = &mut self.out;
            o.raw(b",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":");
            o.u64(u64::from(self.plan.layout.pid));
            o.raw(b",\"tid\":");
            o.u64(u64::from(tid));
            o.raw(b",\"args\":{\"name\":\"");
            let (lane, base): (u32, &[u8]) = match self.plan.layout.tracks[d as usize] {
                TrackRef::Pauses(lane) => (lane, b"process pauses"),
                TrackRef::Thread(t, lane) => (lane, &self.plan.labels.threads[t as usize]),
                TrackRef::Task(t, lane) => {
                    let (what, _) = self.plan.labels.task_what[t as usize];
                    o.raw(&self.plan.labels.whats[what as usize]);
                    o.raw(b" #");
                    o.u64(self.m.tasks[t as usize].id.0);
                    (lane, b"")
                }
                TrackRef::Counters => (0, b"counters"),
            };
            o.raw(base);
            if lane > 0 {
                o.raw(" · lane ".as_bytes());
                o.u64(u64::from(lane));
            }
            o.raw(b"\"}},\n{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":");
            o.u64(u64::from(self.plan.layout.pid));
            o.raw(b",\"tid\":");
            o.u64(u64::from(tid));
            o.raw(b",\"args\":{\"sort_index\":");
            o.u64(u64::from(d));
            o.raw(b"}}");
        }
        tid
    }

    /// Starts an event: `head` (from [`head!`]), then `PID,"tid":…,"ts":…` (callers add the
    /// rest).
    fn head(&mut self, head: Head, d: u32, ts: Nanos) {
        let tid = self.track(d);
        let o = &mut self.out;
        o.raw(head.0);
        o.raw(&self.pid_tid);
        o.u64(u64::from(tid));
        o.raw(b",\"ts\":");
        o.us(ts);
        self.stats.events += 1;
    }

    /// Starts an `X` slice (`head` from [`head!`]), up to and including `"name":`.
    fn slice(&mut self, head: Head, d: u32, start: Nanos, end: Nanos) {
        self.head(head, d, start);
        self.out.raw(b",\"dur\":");
        self.out.us(end - start);
        self.out.raw(b",\"name\":");
        self.stats.slices += 1;
    }

    /// Starts a thread-scoped instant (`head` from [`head!`]), up to and including `"name":`.
    fn instant(&mut self, head: Head, d: u32, t: Nanos) {
        self.head(head, d, t);
        self.out.raw(b",\"s\":\"t\",\"name\":");
        self.stats.instants += 1;
    }

    /// `"LABEL #ID"` of a task.
    fn task_name(&mut self, task: TaskIx) {
        if task == NO_TASK {
            self.out.raw(b"\"task (unknown)\"");
            return;
        }
        let (what, _) = self.plan.labels.task_what[task as usize];
        self.out.raw(b"\"");
        self.out.raw(&self.plan.labels.whats[what as usize]);
        self.out.raw(b" #");
        self.out.u64(self.m.tasks[task as usize].id.0);
        self.out.raw(b"\"");
    }

    /// `,"task":ID` for a known task.
    fn task_arg(&mut self, key: &[u8], task: TaskIx) {
        if task != NO_TASK {
            self.out.raw(key);
            self.out.u64(self.m.tasks[task as usize].id.0);
        }
    }

    fn flags(&mut self, ready: bool, cut: bool) {
        if ready {
            self.out.raw(b",\"ready\":true");
        }
        if cut {
            self.out.raw(b",\"cut\":true");
        }
    }

    fn flow(&mut self, wake: u32, dir: &[u8]) {
        self.out.raw(b",\"bind_id\":");
        self.out.u64(u64::from(wake) + 1);
        self.out.raw(dir);
    }

    fn thread_track(&self, t: ThreadIx) -> u32 {
        self.plan.layout.thread_base[t as usize]
    }

    fn task_track(&self, task: TaskIx, poll: u32) -> u32 {
        let lane = if self.plan.task_poll_lane.is_empty() {
            0
        } else {
            self.plan.task_poll_lane.get(&poll).copied().unwrap_or(0)
        };
        self.plan.layout.task_base[task as usize] + lane
    }

    /// Writes the next item of `src` and moves past it.
    fn emit(&mut self, src: &mut Source) -> io::Result<()> {
        let (m, plan) = (self.m, self.plan);
        match src {
            Source::Polls { thread, polls, pos } => {
                let i = match polls {
                    PollList::Span { next, .. } => {
                        *next += 1;
                        *next - 1
                    }
                    PollList::Order(order) => {
                        *pos += 1;
                        order[*pos - 1]
                    }
                };
                self.poll(*thread, i);
            }
            Source::Annots { thread, items, pos } => {
                let a = items[*pos];
                *pos += 1;
                self.annot(*thread, a);
            }
            Source::Pauses { items, pos } => {
                let (i, lane) = items[*pos];
                *pos += 1;
                let p = &m.process_pauses[i as usize];
                self.slice(
                    head!("X", "pause"),
                    plan.layout.pauses_base + lane,
                    p.span.start,
                    p.span.end,
                );
                self.pause_name(p.kind);
                self.out
                    .raw(b",\"args\":{\"scope\":\"process\",\"thread\":\"");
                self.out.raw(&plan.labels.threads[p.thread as usize]);
                self.out.raw(b"\"");
                self.flags(false, p.cut);
                self.out.raw(b"}}");
            }
            Source::Wakes { order, pos } => {
                let (_, wi) = order[*pos];
                *pos += 1;
                self.wake(wi);
            }
            Source::Markers { items, pos } => {
                let (pi, wi) = items[*pos];
                *pos += 1;
                let p = &m.polls[pi as usize];
                let w = &m.wakes[wi as usize];
                self.slice(
                    head!("X", "wake"),
                    self.task_track(p.task, pi),
                    p.start,
                    p.start,
                );
                self.out.raw(b"\"woken\",\"args\":{\"source\":\"");
                self.out.raw(source_name(w.source).as_bytes());
                self.out.raw(b"\"");
                self.task_arg(b",\"by\":", w.waker);
                self.out.raw(b"}");
                self.flow(wi, b",\"flow_in\":true}");
            }
            Source::Logs { pos, .. } => {
                let l = &m.logs[*pos];
                *pos += 1;
                self.instant(head!("i", "log"), self.thread_track(l.thread), l.time);
                let target = m.string(l.target);
                self.out.str(if l.message.is_empty() {
                    target
                } else {
                    &l.message
                });
                self.out.raw(b",\"args\":{\"level\":\"");
                self.out.raw(l.level.name().as_bytes());
                self.out.raw(b"\",\"target\":");
                self.out.str(target);
                self.task_arg(b",\"task\":", l.task);
                self.out.raw(b"}}");
            }
            Source::Lost { pos, .. } => {
                let l = m.lost[*pos];
                *pos += 1;
                self.instant(head!("i", "lost"), self.thread_track(l.thread), l.time);
                if l.events > 0 {
                    self.out.raw(b"\"data lost: ");
                    self.out.u64(l.events);
                    self.out.raw(if l.events == 1 {
                        b" event\""
                    } else {
                        b" events\""
                    });
                } else {
                    self.out.raw(b"\"data lost: ");
                    self.out.u64(l.chunks);
                    self.out.raw(if l.chunks == 1 {
                        &b" chunk (events unknown)\""[..]
                    } else {
                        &b" chunks (events unknown)\""[..]
                    });
                }
                self.out.raw(b",\"args\":{\"chunks\":");
                self.out.u64(l.chunks);
                self.out.raw(b",\"events\":");
                self.out.u64(l.events);
                self.out.raw(b"}}");
            }
            Source::Samples { pos, .. } => {
                let s = m.alloc_samples[*pos];
                *pos += 1;
                self.instant(head!("i", "alloc"), self.thread_track(s.thread), s.time);
                self.out.raw(b"\"alloc ");
                self.out.u64(s.size);
                self.out.raw(b" bytes\",\"args\":{\"bytes\":");
                self.out.u64(s.size);
                self.task_arg(b",\"task\":", s.task);
                self.out.raw(b"}}");
            }
            Source::Counter {
                series, lead, pos, ..
            } => {
                let (t, v) = match lead.take() {
                    Some(v) => (plan.range.start, v),
                    None => {
                        *pos += 1;
                        m.counters[*series as usize].points[*pos - 1]
                    }
                };
                if v.is_finite() {
                    self.head(head!("C", "counter"), plan.layout.counters, t);
                    let (name, key) = &plan.labels.counters[*series as usize];
                    self.out.raw(b",\"name\":\"");
                    self.out.raw(name);
                    self.out.raw(b"\",\"args\":{\"");
                    self.out.raw(key.as_bytes());
                    self.out.raw(b"\":");
                    self.out.f64(v);
                    self.out.raw(b"}}");
                    self.stats.counter_points += 1;
                } else {
                    self.stats.skipped_points += 1;
                }
            }
        }
        self.done += 1;
        if self.done.is_multiple_of(PROGRESS_EVERY)
            && let Some(progress) = self.progress
        {
            progress(self.done, self.total);
        }
        self.out.flush_if_full()
    }

    /// A poll on its thread's track, then on its task's track.
    fn poll(&mut self, thread: ThreadIx, i: u32) {
        let (m, plan) = (self.m, self.plan);
        let p: &Poll = &m.polls[i as usize];
        let tp = &plan.threads[thread as usize];
        let lane = if tp.poll_lane.is_empty() {
            0
        } else {
            tp.poll_lane.get(&i).copied().unwrap_or(0)
        };
        self.slice(
            head!("X", "poll"),
            plan.layout.thread_base[thread as usize] + lane,
            p.start,
            p.end,
        );
        self.task_name(p.task);
        if p.task == NO_TASK {
            self.out.raw(b",\"args\":{\"task\":null");
        } else {
            self.task_arg(b",\"args\":{\"task\":", p.task);
            let (_, at) = plan.labels.task_what[p.task as usize];
            if at != NONE {
                self.out.raw(b",\"at\":\"");
                self.out.raw(&plan.labels.whats[at as usize]);
                self.out.raw(b"\"");
            }
        }
        self.flags(p.ready(), p.cut());
        self.out.raw(b"}}");

        if p.task == NO_TASK {
            return;
        }
        self.slice(
            head!("X", "poll"),
            self.task_track(p.task, i),
            p.start,
            p.end,
        );
        self.task_name(p.task);
        self.out.raw(b",\"args\":{\"thread\":\"");
        self.out.raw(&plan.labels.threads[thread as usize]);
        self.out.raw(b"\"");
        self.flags(p.ready(), p.cut());
        self.out.raw(b"}");
        if let Some(&wi) = plan.flows.poll_in.get(i as usize)
            && wi != NONE
            && m.wakes[wi as usize].time >= plan.range.start
        {
            self.flow(wi, b",\"flow_in\":true");
        }
        self.out.raw(b"}");
    }

    fn pause_name(&mut self, kind: trace_format::StringId) {
        let kind = self.m.string(kind);
        if kind.is_empty() {
            self.out.raw(b"\"pause\"");
        } else {
            self.out.raw(b"\"pause: ");
            escape_into(&mut self.out.buf, kind);
            self.out.raw(b"\"");
        }
    }

    fn annot(&mut self, thread: ThreadIx, a: Annot) {
        let (m, plan) = (self.m, self.plan);
        let tp = &plan.threads[thread as usize];
        let d = plan.layout.thread_base[thread as usize]
            + if a.lane == 0 {
                0
            } else {
                tp.poll_lanes + a.lane
            };
        let th = &m.threads[thread as usize];
        match a.kind {
            AnnotKind::Park => {
                self.slice(head!("X", "idle"), d, a.start, a.end);
                self.out.raw(b"\"idle\"}");
            }
            AnnotKind::Pause => {
                let p = th.pauses[a.ix as usize];
                self.slice(head!("X", "pause"), d, a.start, a.end);
                self.pause_name(p.kind);
                self.out.raw(b",\"args\":{\"scope\":\"thread\"");
                self.flags(false, p.cut);
                self.out.raw(b"}}");
            }
            AnnotKind::Region => {
                let r = th.regions[a.ix as usize];
                self.slice(head!("X", "region"), d, a.start, a.end);
                let name = m.string(r.name);
                self.out.str(if name.is_empty() { "region" } else { name });
                self.out.raw(b",\"args\":{\"id\":");
                self.out.u64(r.id);
                self.task_arg(b",\"task\":", r.task);
                self.flags(false, r.cut);
                self.out.raw(b"}}");
            }
        }
    }

    /// A zero-length `wake` slice at the wake's instant, on the waking task's track (or the
    /// waking thread's when no task woke it), carrying the arrow's start.
    fn wake(&mut self, wi: u32) {
        let (m, plan) = (self.m, self.plan);
        let w: &Wake = &m.wakes[wi as usize];
        let d = if w.waker == NO_TASK {
            self.thread_track(w.thread)
        } else {
            plan.layout.task_base[w.waker as usize]
        };
        self.slice(head!("X", "wake"), d, w.time, w.time);
        if w.task == NO_TASK {
            self.out.raw(b"\"wake\"");
        } else {
            self.out.raw(b"\"wake #");
            self.out.u64(m.tasks[w.task as usize].id.0);
            self.out.raw(b"\"");
        }
        self.out.raw(b",\"args\":{\"source\":\"");
        self.out.raw(source_name(w.source).as_bytes());
        self.out.raw(b"\"");
        self.task_arg(b",\"task\":", w.task);
        self.out.raw(b"}");
        let target = plan.flows.wake_to[wi as usize];
        if target != NONE && m.polls[target as usize].start < plan.range.end {
            self.flow(wi, b",\"flow_out\":true");
            self.stats.flows += 1;
        }
        self.out.raw(b"}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(ns: Nanos) -> String {
        let mut out = Out {
            w: Vec::new(),
            buf: Vec::new(),
            bytes: 0,
        };
        out.us(ns);
        String::from_utf8(out.buf).unwrap()
    }

    #[test]
    fn microseconds_are_exact() {
        assert_eq!(us(0), "0.000");
        assert_eq!(us(7), "0.007");
        assert_eq!(us(1_234_567), "1234.567");
        assert_eq!(us(1_000), "1.000");
        assert_eq!(us(u64::MAX), "18446744073709551.615");
    }

    #[test]
    fn strings_are_escaped() {
        let mut buf = Vec::new();
        escape_into(&mut buf, "a\"b\\c\nd\u{1}é");
        assert_eq!(String::from_utf8(buf).unwrap(), "a\\\"b\\\\c\\nd\\u0001é");
    }

    #[test]
    fn packer_moves_only_partial_overlaps() {
        let mut p = Packer::default();
        assert_eq!(p.place(0, 100, 0), 0);
        assert_eq!(p.place(10, 20, 0), 0); // inside
        assert_eq!(p.place(20, 20, 0), 0); // zero-length at a boundary
        assert_eq!(p.place(50, 150, 0), 1); // partial overlap
        assert_eq!(p.place(100, 120, 0), 0); // after the first closed
        assert_eq!(p.place(110, 160, 0), 2); // overlaps lane 0's and lane 1's open ones
    }

    #[test]
    fn tids_skip_the_pid() {
        let layout = Layout {
            pid: 3,
            tracks: vec![],
            pauses_base: 0,
            thread_base: vec![],
            task_base: vec![],
            counters: 0,
            extra_lanes: 0,
        };
        let tids: Vec<u32> = (0..4).map(|d| layout.tid(d)).collect();
        assert_eq!(tids, [1, 2, 4, 5]);
    }
}
