//! Where everything in the timeline goes, computed without drawing anything, so tests can
//! check it without a GPU and the frame cost can be measured apart from egui.
//!
//! - [`Lanes`]: the rows of the timeline (worker, blocking and other threads, each followed
//!   by a lane of its `tracing` regions and logs when it has any; the counters; then task
//!   groups by spawn location, each with one row per task unless collapsed), with their
//!   vertical positions, and the binary search for the rows in view.
//! - [`fold`]: Tracy-style folding. Intervals narrower than [`MIN_SLICE_PX`] are merged with
//!   their neighbours into one "folded" piece, and the search for where a fold ends jumps
//!   over the intervals inside it by a galloping search. So the number of pieces, and the
//!   work to find them, depend on the width of the screen, not on how many intervals the
//!   trace has.
//! - [`build_scene`]: the rectangles of one frame (what colour, which poll or state stretch
//!   each stands for), labels for slices wide enough to hold one, the counter lanes folded
//!   per pixel column ([`counters`](super::counters)), and the hit test that maps a pointer
//!   position back to the thing under it.

use std::collections::HashMap;
use std::ops::Range;

use egui::{Pos2, Rect, pos2};

use super::counters::{Column, fold_columns, gallop, scale};
use super::open_trace::OpenTrace;
use super::view::TimeView;
use trace_analysis::analysis::states::{Segment, TaskState, for_each_segment};
use trace_analysis::model::{NO_TASK, Nanos, Span, TaskIx, ThreadIx, Wake};
use trace_format::{Level, StringId};

/// Height of a thread lane, in points.
pub const THREAD_LANE_HEIGHT: f32 = 24.0;
/// Height of a task lane.
pub const TASK_LANE_HEIGHT: f32 = 16.0;
/// Height of a task group's header lane (and of the counters' header).
pub const GROUP_LANE_HEIGHT: f32 = 20.0;
/// Height of a counter lane.
pub const COUNTER_LANE_HEIGHT: f32 = 28.0;
/// Height of one row of regions (one nesting depth) in a thread's regions lane.
pub const REGION_ROW_HEIGHT: f32 = 13.0;
/// Height of the row of log markers at the bottom of a regions lane.
pub const LOG_ROW_HEIGHT: f32 = 10.0;
/// Log lines closer than this (in points) are shown as one marker.
pub const LOG_MARKER_PX: f32 = 3.0;
/// Intervals narrower than this (in points) fold into their neighbours.
pub const MIN_SLICE_PX: f32 = 3.0;
/// Intervals that start within this distance (in points) of a fold's right edge join it.
pub const FOLD_GAP_PX: f32 = 1.0;
/// Slices at least this wide get a text label.
pub const LABEL_MIN_PX: f32 = 48.0;
/// Groups with more tasks than this start collapsed.
pub const EXPAND_LIMIT: usize = 32;

/// What a lane shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LaneKind {
    /// A thread: the polls it ran, its idle (parked) time, its pauses and holes in its data.
    Thread(ThreadIx),
    /// The header of a task group (an index into [`OpenTrace::groups`]).
    Group(usize),
    /// One task: its states over its lifetime.
    Task {
        /// The task.
        task: TaskIx,
        /// Its group.
        group: usize,
    },
    /// A thread's `tracing` regions, one row per nesting depth, and its log lines.
    Regions(ThreadIx),
    /// The header of the counter lanes.
    CounterHeader,
    /// A counter (an index into [`OpenTrace::counters`]).
    Counter(usize),
}

/// Which of the lane sections other than task groups are collapsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sections {
    /// The counter lanes are folded into their header.
    pub counters_collapsed: bool,
}

/// One row of the timeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lane {
    /// What it shows.
    pub kind: LaneKind,
    /// Its top, in points from the top of the first lane.
    pub top: f32,
    /// Its height.
    pub height: f32,
}

impl Lane {
    /// Its bottom.
    pub fn bottom(&self) -> f32 {
        self.top + self.height
    }
}

/// The rows of the timeline, top to bottom.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Lanes {
    /// The lanes, by `top`.
    pub lanes: Vec<Lane>,
    /// The height of all of them.
    pub height: f32,
}

impl Lanes {
    /// The lanes of `trace`, with the groups whose flag in `collapsed` is set shown as their
    /// header only.
    pub fn build(trace: &OpenTrace, collapsed: &[bool]) -> Lanes {
        Self::build_with(trace, collapsed, Sections::default())
    }

    /// [`Lanes::build`], with the other sections folded as `sections` says: threads, then
    /// counters, then task groups.
    pub fn build_with(trace: &OpenTrace, collapsed: &[bool], sections: Sections) -> Lanes {
        let mut lanes = Lanes::default();
        for t in thread_order(trace) {
            lanes.push(LaneKind::Thread(t), THREAD_LANE_HEIGHT);
            let rows = trace.region_rows[t as usize].len();
            let logs = !trace.logs_by_thread[t as usize].is_empty();
            if rows > 0 || logs {
                let h = rows as f32 * REGION_ROW_HEIGHT + if logs { LOG_ROW_HEIGHT } else { 0.0 };
                lanes.push(LaneKind::Regions(t), h + 2.0);
            }
        }
        if !trace.counters.is_empty() {
            lanes.push(LaneKind::CounterHeader, GROUP_LANE_HEIGHT);
            if !sections.counters_collapsed {
                for k in 0..trace.counters.len() {
                    lanes.push(LaneKind::Counter(k), COUNTER_LANE_HEIGHT);
                }
            }
        }
        for (g, group) in trace.groups.iter().enumerate() {
            lanes.push(LaneKind::Group(g), GROUP_LANE_HEIGHT);
            if !collapsed.get(g).copied().unwrap_or(false) {
                for &task in &group.tasks {
                    lanes.push(LaneKind::Task { task, group: g }, TASK_LANE_HEIGHT);
                }
            }
        }
        lanes
    }

    fn push(&mut self, kind: LaneKind, height: f32) {
        self.lanes.push(Lane {
            kind,
            top: self.height,
            height,
        });
        self.height += height;
    }

    /// The lanes that overlap `[y0, y1)` (in lane coordinates), found by binary search.
    pub fn visible(&self, y0: f32, y1: f32) -> Range<usize> {
        let lo = self.lanes.partition_point(|l| l.bottom() <= y0);
        let hi = self.lanes.partition_point(|l| l.top < y1);
        lo..hi.max(lo)
    }

    /// The lane at height `y` (lane coordinates).
    pub fn at(&self, y: f32) -> Option<usize> {
        let i = self.lanes.partition_point(|l| l.bottom() <= y);
        (i < self.lanes.len() && self.lanes[i].top <= y).then_some(i)
    }

    /// The index of the lane of `kind`, if shown.
    pub fn find(&self, kind: LaneKind) -> Option<usize> {
        self.lanes.iter().position(|l| l.kind == kind)
    }
}

/// Which groups start collapsed: those with more than [`EXPAND_LIMIT`] tasks.
pub fn default_collapsed(trace: &OpenTrace) -> Vec<bool> {
    trace
        .groups
        .iter()
        .map(|g| g.tasks.len() > EXPAND_LIMIT)
        .collect()
}

/// Threads in lane order: workers by index, then blocking-pool threads, then other threads
/// that ran polls, paused or left regions or logs (the `block_on` thread, application
/// threads using `tracing`), each by id.
pub fn thread_order(trace: &OpenTrace) -> Vec<ThreadIx> {
    use trace_format::ThreadKind;
    let model = &trace.model;
    let mut order = model.workers();
    let rank = |t: &trace_analysis::model::Thread| match t.kind {
        Some(ThreadKind::Blocking) => 0,
        _ => 1,
    };
    let mut rest: Vec<ThreadIx> = (0..model.threads.len() as ThreadIx)
        .filter(|&i| {
            let t = &model.threads[i as usize];
            !t.is_worker()
                && (t.kind == Some(ThreadKind::Blocking)
                    || !t.polls.is_empty()
                    || !t.pauses.is_empty()
                    || !t.regions.is_empty()
                    || !trace.logs_by_thread[i as usize].is_empty())
        })
        .collect();
    rest.sort_by_key(|&i| {
        (
            rank(&model.threads[i as usize]),
            model.threads[i as usize].id,
        )
    });
    order.extend(rest);
    order
}

/// Maps trace time to horizontal position in points, and back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct XMap {
    /// Time at `left`.
    pub t0: f64,
    /// Nanoseconds per point.
    pub ns_per_px: f64,
    /// Left edge of the timeline.
    pub left: f32,
    /// Its width.
    pub width: f32,
}

impl XMap {
    /// The mapping that shows `view` from `left` over `width` points.
    pub fn new(view: &TimeView, left: f32, width: f32) -> XMap {
        let width = width.max(1.0);
        XMap {
            t0: view.start,
            ns_per_px: view.span() / f64::from(width),
            left,
            width,
        }
    }

    /// The position of `t`, clamped to a little beyond the timeline's edges (so a slice that
    /// runs off screen keeps a sane width).
    pub fn x(&self, t: Nanos) -> f32 {
        let x = (t as f64 - self.t0) / self.ns_per_px;
        let margin = 1_000.0;
        x.clamp(-margin, f64::from(self.width) + margin) as f32 + self.left
    }

    /// The time at position `x`.
    pub fn t(&self, x: f32) -> f64 {
        self.t0 + f64::from(x - self.left) * self.ns_per_px
    }

    /// The whole nanoseconds in view, `[t0, t1)`, clamped at 0.
    pub fn visible_nanos(&self) -> (Nanos, Nanos) {
        let t0 = self.t0.max(0.0).floor() as Nanos;
        let t1 = self.t(self.left + self.width).max(0.0).ceil() as Nanos;
        (t0, t1.max(t0))
    }
}

/// One piece of a folded lane.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// One interval, `ix`, wide enough to show by itself (or alone between wide gaps).
    One {
        /// Its index.
        ix: usize,
        /// Left edge.
        x0: f32,
        /// Right edge.
        x1: f32,
    },
    /// Intervals `ixs` merged into one piece because they are too narrow to tell apart.
    Folded {
        /// Their indexes.
        ixs: Range<usize>,
        /// Left edge.
        x0: f32,
        /// Right edge.
        x1: f32,
    },
}

/// Folds intervals `range` of a sequence sorted by start (`start(i)`, `end(i)`) for display
/// through `xmap`, calling `emit` with each piece from left to right.
///
/// An interval at least `min_px` wide is a piece of its own. A narrower one starts a fold,
/// and every interval that starts less than `gap_px` right of the fold's right edge joins it
/// (found by binary search, not by visiting them), unless it is itself wide: then the fold
/// stops before it. For intervals that do not overlap (one thread's polls, one task's
/// states) the number of pieces, and the steps to find them, are bounded by the width of
/// the timeline in points (times the log of the count for the searches).
pub fn fold(
    range: Range<usize>,
    start: impl Fn(usize) -> Nanos,
    end: impl Fn(usize) -> Nanos,
    xmap: &XMap,
    min_px: f32,
    gap_px: f32,
    mut emit: impl FnMut(Piece),
) {
    // First index in `lo..hi` whose start is at or after `t`. Galloping from `lo` first: a
    // fold step usually moves a point's worth of intervals, so this reads a few nearby
    // starts instead of searching (and missing the cache) over the whole rest of the lane.
    let first_at_or_after = |mut lo: usize, mut hi: usize, t: f64| {
        let mut step = 1;
        while lo + step < hi && (start(lo + step - 1) as f64) < t {
            lo += step;
            step *= 2;
        }
        hi = hi.min(lo + step);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if (start(mid) as f64) < t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    };
    let mut i = range.start;
    while i < range.end {
        let x0 = xmap.x(start(i));
        let x1 = xmap.x(end(i)).max(x0);
        if x1 - x0 >= min_px {
            emit(Piece::One { ix: i, x0, x1 });
            i += 1;
            continue;
        }
        let first = i;
        let mut fx1 = x1;
        let mut next = i + 1;
        loop {
            let j = first_at_or_after(next, range.end, xmap.t(fx1 + gap_px));
            if j == next {
                break;
            }
            let k = j - 1;
            let kx0 = xmap.x(start(k));
            let kx1 = xmap.x(end(k)).max(kx0);
            if kx1 - kx0 >= min_px {
                // The last joiner is wide: the fold stops before it.
                if k > next {
                    fx1 = fx1.max(xmap.x(end(k - 1)).min(kx0));
                }
                next = k;
                break;
            }
            fx1 = fx1.max(kx1);
            next = j;
        }
        if next - first == 1 {
            emit(Piece::One { ix: first, x0, x1 });
        } else {
            emit(Piece::Folded {
                ixs: first..next,
                x0,
                x1: fx1,
            });
        }
        i = next;
    }
}

/// The index range of intervals sorted by start, that do not overlap each other, which
/// overlap `[t0, t1)`.
pub fn disjoint_in<T>(
    items: &[T],
    span: impl Fn(&T) -> Span,
    t0: Nanos,
    t1: Nanos,
) -> Range<usize> {
    let hi = items.partition_point(|x| span(x).start < t1);
    let lo = items[..hi].partition_point(|x| span(x).end <= t0);
    lo..hi
}

/// Each task's state stretches ([`for_each_segment`]), computed when its lane first comes
/// into view and kept, up to a bound on the segments held (then the cache starts over).
#[derive(Debug, Default)]
pub struct SegmentCache {
    map: HashMap<TaskIx, Vec<Segment>>,
    held: usize,
}

impl SegmentCache {
    /// Segments held at most before the cache is emptied (24 bytes each).
    pub const MAX_SEGMENTS: usize = 8_000_000;

    /// The segments of `task`, by time.
    pub fn get(&mut self, trace: &OpenTrace, task: TaskIx) -> &[Segment] {
        if !self.map.contains_key(&task) {
            let mut v = Vec::with_capacity(trace.model.task_poll_count(task) as usize * 3 + 2);
            for_each_segment(&trace.model, task, &trace.paused, |s| v.push(s));
            v.shrink_to_fit();
            if self.held + v.len() > Self::MAX_SEGMENTS {
                self.map.clear();
                self.held = 0;
            }
            self.held += v.len();
            self.map.insert(task, v);
        }
        &self.map[&task]
    }

    /// Forgets everything (a new trace).
    pub fn clear(&mut self) {
        self.map.clear();
        self.held = 0;
    }
}

/// The state that covers the most time among `segments[ixs]`: exact for up to
/// [`DOMINANT_SAMPLES`] segments, otherwise estimated from that many evenly spaced instants
/// (each found by binary search), so a fold costs the same however many segments it holds.
pub fn dominant_state(segments: &[Segment], ixs: Range<usize>) -> TaskState {
    let mut tally: Vec<(TaskState, u64)> = Vec::with_capacity(4);
    let mut add = |state: TaskState, w: u64| match tally.iter_mut().find(|(s, _)| *s == state) {
        Some((_, t)) => *t += w,
        None => tally.push((state, w)),
    };
    let run = &segments[ixs];
    if run.len() <= DOMINANT_SAMPLES {
        for s in run {
            add(s.state, s.span.len());
        }
    } else {
        let (t0, t1) = (run[0].span.start, run[run.len() - 1].span.end);
        let len = t1.saturating_sub(t0);
        for k in 0..DOMINANT_SAMPLES as u64 {
            let t = t0 + (len * (2 * k + 1)) / (2 * DOMINANT_SAMPLES as u64);
            let i = run.partition_point(|s| s.span.end <= t).min(run.len() - 1);
            add(run[i].state, 1);
        }
    }
    tally
        .into_iter()
        .max_by_key(|&(_, w)| w)
        .map_or(TaskState::Running, |(s, _)| s)
}

/// Instants sampled by [`dominant_state`] in a large fold.
pub const DOMINANT_SAMPLES: usize = 16;

/// What colour a rectangle gets (the palette is the widget's business).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// A poll, coloured by its task.
    Task(TaskIx),
    /// A task state stretch.
    State(TaskState),
    /// Folded polls of a thread.
    FoldedPolls,
    /// Folded state stretches of a task, coloured (darker) by the state that covers most of
    /// their time.
    FoldedStates(TaskState),
    /// A thread parked (idle).
    Park,
    /// A thread-scoped pause.
    ThreadPause,
    /// A process-wide pause (drawn over all lanes).
    ProcessPause,
    /// A hole in a thread's data.
    Lost,
    /// A region, coloured by its name.
    Region(StringId),
    /// Regions too narrow to show apart.
    FoldedRegions,
    /// A log line marker, by the most severe level it stands for.
    Log(Level),
}

/// What a rectangle stands for: shown in the tooltip, selected on click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hit {
    /// A poll: an index into `Model::polls`.
    Poll(u32),
    /// A task's state stretch.
    Segment {
        /// The task.
        task: TaskIx,
        /// When.
        span: Span,
        /// In what state.
        state: TaskState,
    },
    /// Several intervals too narrow to show apart.
    Folded {
        /// The lane.
        lane: usize,
        /// From the first one's start to the last one's end.
        span: Span,
        /// How many.
        count: usize,
        /// What they are ("polls", "parks", "states", …).
        what: &'static str,
        /// For task states: the state covering most of their time.
        mostly: Option<TaskState>,
    },
    /// A thread parked.
    Park {
        /// The thread.
        thread: ThreadIx,
        /// When.
        span: Span,
    },
    /// A thread-scoped pause.
    ThreadPause {
        /// The thread.
        thread: ThreadIx,
        /// When.
        span: Span,
    },
    /// A process-wide pause.
    ProcessPause(Span),
    /// A region: `region` indexes its thread's `Thread::regions`.
    Region {
        /// The thread.
        thread: ThreadIx,
        /// Which of its regions.
        region: u32,
    },
    /// Log lines close together (one when `count` is 1).
    Logs {
        /// The first: an index into the thread's `OpenTrace::logs_by_thread`.
        first: u32,
        /// How many (the thread's lines from `first` on).
        count: u32,
        /// The thread.
        thread: ThreadIx,
    },
    /// A hole in a thread's data.
    Lost {
        /// The thread.
        thread: ThreadIx,
        /// Where the data resumes.
        time: Nanos,
        /// Chunks missing.
        chunks: u64,
        /// Events in them (0 when not counted).
        events: u64,
    },
}

/// One rectangle of the frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Where, in screen points.
    pub rect: Rect,
    /// Its colour.
    pub fill: Fill,
    /// What it is.
    pub hit: Hit,
}

/// A text label inside a slice.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// Left-centre of the text.
    pub pos: Pos2,
    /// Room for it, in points.
    pub max_width: f32,
    /// The text.
    pub text: String,
}

/// Everything in the lanes area for one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// The lanes area, in screen points.
    pub area: Rect,
    /// Rectangles, in drawing order (later ones on top).
    pub items: Vec<Item>,
    /// Process-wide pauses, drawn translucent over every lane.
    pub overlays: Vec<Item>,
    /// Labels.
    pub labels: Vec<Label>,
    /// Lanes drawn, with their screen rectangles.
    pub lanes: Vec<(usize, Rect)>,
    /// Counter lanes drawn.
    pub counters: Vec<CounterLane>,
    /// The time mapping the frame was laid out with.
    pub xmap: XMap,
    /// The selected wake's arrow.
    pub arrow: Option<Arrow>,
}

/// A counter lane of one frame: its pixel columns and vertical scale.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterLane {
    /// The lane.
    pub lane: usize,
    /// The track (an index into [`OpenTrace::counters`]).
    pub track: usize,
    /// Its screen rectangle.
    pub rect: Rect,
    /// The values at the bottom and the top of the lane.
    pub scale: (f64, f64),
    /// Its columns, left to right.
    pub columns: Vec<Column>,
}

impl CounterLane {
    /// The height of `v` in the lane (clamped to it), leaving a point free at the top.
    pub fn y(&self, v: f64) -> f32 {
        let (lo, hi) = self.scale;
        let share = ((v - lo) / (hi - lo)).clamp(0.0, 1.0) as f32;
        self.rect.bottom() - 1.0 - share * (self.rect.height() - 3.0)
    }

    /// The lane's name with the top of its scale: "heap in use  ≤ 12 MiB".
    pub fn caption(&self, trace: &OpenTrace) -> String {
        let t = &trace.counters[self.track];
        format!("{}  ≤ {}", t.label, t.unit.format(self.scale.1))
    }
}

impl Default for Scene {
    fn default() -> Self {
        Scene {
            area: Rect::NOTHING,
            items: Vec::new(),
            overlays: Vec::new(),
            labels: Vec::new(),
            lanes: Vec::new(),
            counters: Vec::new(),
            xmap: XMap::new(
                &TimeView {
                    start: 0.0,
                    end: 1.0,
                },
                0.0,
                1.0,
            ),
            arrow: None,
        }
    }
}

impl Scene {
    /// The item under `pos`: the topmost rectangle there, else a pause overlay. Rectangles
    /// narrower than a few points are hit within a small margin so they can be pointed at.
    pub fn hit(&self, pos: Pos2) -> Option<&Item> {
        let slack = |r: &Rect| {
            let grow = ((MIN_SLICE_PX - r.width()) / 2.0).max(0.0);
            r.expand2(egui::vec2(grow, 0.0))
        };
        if !self.area.contains(pos) {
            return None;
        }
        self.items
            .iter()
            .rev()
            .find(|i| slack(&i.rect).contains(pos))
            .or_else(|| {
                self.overlays
                    .iter()
                    .rev()
                    .find(|i| slack(&i.rect).contains(pos))
            })
    }

    /// The counter under `pos` and the time there: `(track, time)`.
    pub fn counter_at(&self, pos: Pos2) -> Option<(usize, Nanos)> {
        if !self.area.contains(pos) {
            return None;
        }
        let c = self.counters.iter().find(|c| c.rect.contains(pos))?;
        Some((c.track, self.xmap.t(pos.x).max(0.0).round() as Nanos))
    }

    /// The lane under `pos`.
    pub fn lane_at(&self, pos: Pos2) -> Option<usize> {
        self.lanes
            .iter()
            .find(|(_, r)| r.contains(pos))
            .map(|&(lane, _)| lane)
    }
}

/// The inputs of [`build_scene`].
pub struct SceneInput<'a> {
    /// The trace.
    pub trace: &'a OpenTrace,
    /// Its lanes.
    pub lanes: &'a Lanes,
    /// The visible time range.
    pub view: &'a TimeView,
    /// How far the lanes are scrolled down.
    pub scroll_y: f32,
    /// The lanes area on screen.
    pub area: Rect,
    /// The wake to draw an arrow for (the selected poll's or wait's).
    pub wake: Option<&'a WakeLink>,
}

/// A wake and what it made runnable, for the arrow between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WakeLink {
    /// The wake: it starts on its thread's lane (else on the waker task's lane) at its time.
    pub wake: Wake,
    /// Where the arrow ends.
    pub to: WakeTarget,
    /// When.
    pub to_time: Nanos,
}

/// Where a wake arrow ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeTarget {
    /// On a thread's lane: the poll the wake readied.
    Thread(ThreadIx),
    /// On a task's lane: the end of the wait the wake ended.
    Task(TaskIx),
}

/// An arrow, in screen points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrow {
    /// The tail.
    pub from: Pos2,
    /// The head.
    pub to: Pos2,
}

/// The arrow of `link` in a frame showing `lanes` scrolled by `scroll_y` in `area`, if both
/// its ends have a lane (either may be off screen: the painter clips it).
pub fn wake_arrow(
    lanes: &Lanes,
    link: &WakeLink,
    xmap: &XMap,
    area: Rect,
    scroll_y: f32,
) -> Option<Arrow> {
    let centre = |i: usize| {
        let l = lanes.lanes[i];
        area.top() + l.top - scroll_y + l.height / 2.0
    };
    let task_lane = |task: TaskIx| {
        lanes
            .lanes
            .iter()
            .position(|l| matches!(l.kind, LaneKind::Task { task: t, .. } if t == task))
    };
    let w = link.wake;
    let from = lanes
        .find(LaneKind::Thread(w.thread))
        .or_else(|| (w.waker != NO_TASK).then(|| task_lane(w.waker)).flatten())?;
    let to = match link.to {
        WakeTarget::Thread(t) => lanes.find(LaneKind::Thread(t)),
        WakeTarget::Task(t) => task_lane(t),
    }?;
    Some(Arrow {
        from: pos2(xmap.x(w.time), centre(from)),
        to: pos2(xmap.x(link.to_time), centre(to)),
    })
}

/// Lays out the frame: the rectangles for every lane in view.
pub fn build_scene(input: &SceneInput<'_>, cache: &mut SegmentCache) -> Scene {
    let SceneInput {
        trace,
        lanes,
        view,
        scroll_y,
        area,
        wake,
    } = *input;
    let xmap = XMap::new(view, area.left(), area.width());
    let (t0, t1) = xmap.visible_nanos();
    let mut scene = Scene {
        area,
        xmap,
        arrow: wake.and_then(|w| wake_arrow(lanes, w, &xmap, area, scroll_y)),
        ..Scene::default()
    };
    for li in lanes.visible(scroll_y, scroll_y + area.height()) {
        let lane = lanes.lanes[li];
        let top = area.top() + lane.top - scroll_y;
        let lane_rect = Rect::from_min_max(
            pos2(area.left(), top),
            pos2(area.right(), top + lane.height),
        );
        scene.lanes.push((li, lane_rect));
        match lane.kind {
            LaneKind::Thread(thread) => {
                thread_lane(&mut scene, trace, thread, li, lane_rect);
            }
            LaneKind::Task { task, .. } => {
                let segments = cache.get(trace, task);
                let range = disjoint_in(segments, |s| s.span, t0, t1);
                let (y0, y1) = (lane_rect.top() + 1.0, lane_rect.bottom() - 1.0);
                fold(
                    range,
                    |i| segments[i].span.start,
                    |i| segments[i].span.end,
                    &xmap,
                    MIN_SLICE_PX,
                    FOLD_GAP_PX,
                    |p| match p {
                        Piece::One { ix, x0, x1 } => {
                            let s = segments[ix];
                            scene.items.push(Item {
                                rect: hrect(x0, x1, y0, y1),
                                fill: Fill::State(s.state),
                                hit: Hit::Segment {
                                    task,
                                    span: s.span,
                                    state: s.state,
                                },
                            });
                        }
                        Piece::Folded { ixs, x0, x1 } => {
                            let mostly = dominant_state(segments, ixs.clone());
                            scene.items.push(Item {
                                rect: hrect(x0, x1, y0, y1),
                                fill: Fill::FoldedStates(mostly),
                                hit: Hit::Folded {
                                    lane: li,
                                    span: Span::new(
                                        segments[ixs.start].span.start,
                                        segments[ixs.end - 1].span.end,
                                    ),
                                    count: ixs.len(),
                                    what: "state changes",
                                    mostly: Some(mostly),
                                },
                            });
                        }
                    },
                );
            }
            LaneKind::Regions(thread) => {
                regions_lane(&mut scene, trace, thread, li, lane_rect);
            }
            LaneKind::Counter(track) => {
                let mut columns = Vec::new();
                fold_columns(&trace.counters[track], &xmap, trace.model.end, |c| {
                    columns.push(c)
                });
                scene.counters.push(CounterLane {
                    lane: li,
                    track,
                    rect: lane_rect,
                    scale: scale(&columns),
                    columns,
                });
            }
            LaneKind::Group(_) | LaneKind::CounterHeader => {}
        }
    }
    // Process-wide pauses over every lane.
    let (y0, y1) = (
        area.top(),
        area.top() + (lanes.height - scroll_y).min(area.height()),
    );
    fold_spans(&trace.paused, t0, t1, &xmap, |_, span, x0, x1| {
        scene.overlays.push(Item {
            rect: hrect(x0, x1, y0, y1),
            fill: Fill::ProcessPause,
            hit: Hit::ProcessPause(span),
        })
    });
    scene
}

/// Folds disjoint spans sorted by start that overlap `[t0, t1)` (idle stretches, pauses),
/// calling `emit` with each piece's index range, the span it covers and its edges.
fn fold_spans(
    spans: &[Span],
    t0: Nanos,
    t1: Nanos,
    xmap: &XMap,
    mut emit: impl FnMut(Range<usize>, Span, f32, f32),
) {
    fold(
        disjoint_in(spans, |s| *s, t0, t1),
        |i| spans[i].start,
        |i| spans[i].end,
        xmap,
        MIN_SLICE_PX,
        FOLD_GAP_PX,
        |p| {
            let (ixs, x0, x1) = match p {
                Piece::One { ix, x0, x1 } => (ix..ix + 1, x0, x1),
                Piece::Folded { ixs, x0, x1 } => (ixs, x0, x1),
            };
            let span = Span::new(spans[ixs.start].start, spans[ixs.end - 1].end);
            emit(ixs, span, x0, x1);
        },
    );
}

/// A rectangle from `x0` to `x1` (at least one point wide) and `y0` to `y1`.
fn hrect(x0: f32, x1: f32, y0: f32, y1: f32) -> Rect {
    Rect::from_min_max(pos2(x0, y0), pos2(x1.max(x0 + 1.0), y1))
}

/// Lays out lane `li` (at `lane` on screen): a thread's idle stretches, polls, pauses and
/// lost-data markers, over the time range `scene.xmap` shows.
fn thread_lane(scene: &mut Scene, trace: &OpenTrace, thread: ThreadIx, li: usize, lane: Rect) {
    let xmap = &{ scene.xmap }; // a copy: `scene` is borrowed mutably below
    let (t0, t1) = xmap.visible_nanos();
    let model = &trace.model;
    let th = &model.threads[thread as usize];
    let h = lane.height();

    // Idle: a thin bar through the middle.
    let (py0, py1) = (lane.top() + h * 0.45, lane.top() + h * 0.55);
    fold_spans(&th.parks, t0, t1, xmap, |ixs, span, x0, x1| {
        scene.items.push(Item {
            rect: hrect(x0, x1, py0, py1),
            fill: Fill::Park,
            hit: if ixs.len() == 1 {
                Hit::Park { thread, span }
            } else {
                Hit::Folded {
                    lane: li,
                    span,
                    count: ixs.len(),
                    what: "idle stretches",
                    mostly: None,
                }
            },
        });
    });

    // Polls.
    let polls = model.thread_polls_in(thread, t0, t1);
    let base = th.polls.start + offset_in(model.thread_polls(thread), polls) as u32;
    let (y0, y1) = (lane.top() + 2.0, lane.bottom() - 2.0);
    fold(
        0..polls.len(),
        |i| polls[i].start,
        |i| polls[i].end,
        xmap,
        MIN_SLICE_PX,
        FOLD_GAP_PX,
        |p| match p {
            Piece::One { ix, x0, x1 } => {
                let poll = &polls[ix];
                let rect = hrect(x0, x1, y0, y1);
                scene.items.push(Item {
                    rect,
                    fill: Fill::Task(poll.task),
                    hit: Hit::Poll(base + ix as u32),
                });
                label(scene, rect, || model.task_label(poll.task));
            }
            Piece::Folded { ixs, x0, x1 } => scene.items.push(Item {
                rect: hrect(x0, x1, y0, y1),
                fill: Fill::FoldedPolls,
                hit: Hit::Folded {
                    lane: li,
                    span: Span::new(polls[ixs.start].start, polls[ixs.end - 1].end),
                    count: ixs.len(),
                    what: "polls",
                    mostly: None,
                },
            }),
        },
    );

    // Thread-scoped pauses: a band along the bottom.
    let (qy0, qy1) = (lane.bottom() - 5.0, lane.bottom());
    fold_spans(
        &trace.thread_paused[thread as usize],
        t0,
        t1,
        xmap,
        |_, span, x0, x1| {
            scene.items.push(Item {
                rect: hrect(x0, x1, qy0, qy1),
                fill: Fill::ThreadPause,
                hit: Hit::ThreadPause { thread, span },
            })
        },
    );

    // Holes in the data: a red tick at the point the data resumes, one per point at most.
    let lost = &trace.lost_by_thread[thread as usize];
    let lo = lost.partition_point(|m| m.time < t0);
    let hi = lost.partition_point(|m| m.time <= t1);
    let mut last_x = f32::NEG_INFINITY;
    let mut i = lo;
    while i < hi {
        let m = lost[i];
        let x = xmap.x(m.time);
        if x - last_x >= 1.0 {
            scene.items.push(Item {
                rect: Rect::from_min_max(pos2(x - 1.0, lane.top()), pos2(x + 1.0, lane.bottom())),
                fill: Fill::Lost,
                hit: Hit::Lost {
                    thread,
                    time: m.time,
                    chunks: m.chunks,
                    events: m.events,
                },
            });
            last_x = x;
            i += 1;
        } else {
            // Skip the markers on this point.
            let next_t = xmap.t(last_x + 1.0).ceil().max(0.0) as Nanos;
            i = i + 1 + lost[i + 1..hi].partition_point(|m| m.time < next_t);
        }
    }
}

/// A thread's regions (a row per depth, folded like polls) and its log lines (a marker per
/// few points, standing for the lines there).
fn regions_lane(scene: &mut Scene, trace: &OpenTrace, thread: ThreadIx, li: usize, lane: Rect) {
    let xmap = &{ scene.xmap }; // a copy: `scene` is borrowed mutably below
    let (t0, t1) = xmap.visible_nanos();
    let regions = &trace.model.threads[thread as usize].regions;
    for (depth, row) in trace.region_rows[thread as usize].iter().enumerate() {
        let y0 = lane.top() + 1.0 + depth as f32 * REGION_ROW_HEIGHT;
        let y1 = y0 + REGION_ROW_HEIGHT - 1.0;
        let spans = &row.spans;
        fold(
            disjoint_in(spans, |s| *s, t0, t1),
            |i| spans[i].start,
            |i| spans[i].end,
            xmap,
            MIN_SLICE_PX,
            FOLD_GAP_PX,
            |p| match p {
                Piece::One { ix, x0, x1 } => {
                    let name = regions[row.ix[ix] as usize].name;
                    let rect = hrect(x0, x1, y0, y1);
                    scene.items.push(Item {
                        rect,
                        fill: Fill::Region(name),
                        hit: Hit::Region {
                            thread,
                            region: row.ix[ix],
                        },
                    });
                    label(scene, rect, || trace.model.string(name).to_string());
                }
                Piece::Folded { ixs, x0, x1 } => scene.items.push(Item {
                    rect: hrect(x0, x1, y0, y1),
                    fill: Fill::FoldedRegions,
                    hit: Hit::Folded {
                        lane: li,
                        span: Span::new(spans[ixs.start].start, spans[ixs.end - 1].end),
                        count: ixs.len(),
                        what: "regions",
                        mostly: None,
                    },
                }),
            },
        );
    }
    let times = &trace.log_times[thread as usize];
    if times.is_empty() {
        return;
    }
    let (logs, all) = (&trace.logs_by_thread[thread as usize], &trace.model.logs);
    let (y0, y1) = (lane.bottom() - LOG_ROW_HEIGHT, lane.bottom() - 1.0);
    let mut i = times.partition_point(|&t| t < t0);
    let hi = times.partition_point(|&t| t < t1.max(t0 + 1));
    while i < hi {
        let x = xmap.x(times[i]);
        // The lines within a marker's width of this one share its marker.
        let until = xmap.t(x + LOG_MARKER_PX).ceil().max(0.0) as Nanos;
        let j = i + 1 + gallop(&times[i + 1..hi], |&t| t < until);
        let level = if j - i <= 16 {
            (i..j)
                .map(|k| all[logs[k] as usize].level)
                .max()
                .unwrap_or(Level::Info)
        } else {
            // Many lines on one tick: the first one's level, or the worst warning or error
            // among them (found in the list of those, not by reading every line).
            let warnings = &trace.log_warnings[thread as usize];
            let w0 = warnings.partition_point(|&w| (w as usize) < i);
            let w1 = w0 + gallop(&warnings[w0..], |&w| (w as usize) < j);
            warnings[w0..w1]
                .iter()
                .take(16)
                .map(|&w| all[logs[w as usize] as usize].level)
                .chain([all[logs[i] as usize].level])
                .max()
                .unwrap_or(Level::Info)
        };
        scene.items.push(Item {
            rect: Rect::from_min_max(pos2(x - 1.0, y0), pos2(x + 1.5, y1)),
            fill: Fill::Log(level),
            hit: Hit::Logs {
                first: i as u32,
                count: (j - i) as u32,
                thread,
            },
        });
        i = j;
    }
}

/// Where `sub`, a subslice of `all`, starts in it.
fn offset_in<T>(all: &[T], sub: &[T]) -> usize {
    let size = std::mem::size_of::<T>().max(1);
    (sub.as_ptr() as usize).saturating_sub(all.as_ptr() as usize) / size
}

/// Adds a label inside `rect` when it is wide enough.
fn label(scene: &mut Scene, rect: Rect, text: impl FnOnce() -> String) {
    let visible = rect.intersect(scene.area);
    if visible.width() >= LABEL_MIN_PX {
        scene.labels.push(Label {
            pos: pos2(visible.left() + 3.0, visible.center().y),
            max_width: visible.width() - 6.0,
            text: text(),
        });
    }
}

#[cfg(test)]
mod tests;
