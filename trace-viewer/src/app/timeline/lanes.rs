//! The rows of the timeline, top to bottom: worker, blocking and other threads, each
//! followed by a lane of its `tracing` regions and logs when it has any; the counters; then
//! the task groups, each with one row per task unless collapsed. Their vertical positions,
//! and the binary search for the rows in view.
//!
//! With [`Sections::pin_top`] (the default) the workers and the counters come first and stay
//! at the top of the view, [pinned](Lanes::pinned): the rest scrolls below them, so a task's
//! lane can be lined up with the worker that ran (or blocked) it.

use std::ops::Range;

use crate::app::open_trace::OpenTrace;
use trace_analysis::model::{TaskIx, ThreadIx};

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
    /// The header of the recorder's own counters (`trace_rt.*`), under the others.
    RecorderHeader,
    /// A counter (an index into [`OpenTrace::counters`]).
    Counter(usize),
}

/// Which of the lane sections other than task groups are collapsed, and which are pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sections {
    /// The counter lanes are folded into their header.
    pub counters_collapsed: bool,
    /// The recorder's own counters are folded into their header (as they start).
    pub recorder_collapsed: bool,
    /// The worker lanes (with their regions) and the counters come first and do not scroll.
    pub pin_top: bool,
}

impl Default for Sections {
    fn default() -> Sections {
        Sections {
            counters_collapsed: false,
            recorder_collapsed: true,
            pin_top: true,
        }
    }
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
    /// How many of the first lanes are pinned: drawn at their `top` whatever the scroll.
    pub pinned: usize,
    /// The height of the pinned lanes; the others scroll below it.
    pub pinned_height: f32,
}

impl Lanes {
    /// The lanes of `trace`, with the groups whose flag in `collapsed` is set shown as their
    /// header only.
    pub fn build(trace: &OpenTrace, collapsed: &[bool]) -> Lanes {
        Self::build_with(trace, collapsed, Sections::default())
    }

    /// [`Lanes::build`], with the other sections folded as `sections` says: threads, then
    /// counters, then task groups (workers and counters first, pinned, with
    /// [`Sections::pin_top`]).
    pub fn build_with(trace: &OpenTrace, collapsed: &[bool], sections: Sections) -> Lanes {
        Self::build_full(trace, collapsed, sections, None)
    }

    /// [`Lanes::build_with`], listing the tasks of group `g` as `tasks[g]` (filtered or
    /// sorted) instead of all of them.
    pub fn build_full(
        trace: &OpenTrace,
        collapsed: &[bool],
        sections: Sections,
        tasks: Option<&[Vec<TaskIx>]>,
    ) -> Lanes {
        let mut lanes = Lanes::default();
        let order = trace.thread_order();
        let is_worker = |t: ThreadIx| trace.model.threads[t.index()].is_worker();
        let (first, rest): (Vec<ThreadIx>, Vec<ThreadIx>) = if sections.pin_top {
            order.into_iter().partition(|&t| is_worker(t))
        } else {
            (order, Vec::new())
        };
        lanes.threads(trace, &first);
        if !trace.counters.is_empty() {
            lanes.push(LaneKind::CounterHeader, GROUP_LANE_HEIGHT);
            if !sections.counters_collapsed {
                let counters = &trace.counters;
                for k in (0..counters.len()).filter(|&k| !counters[k].internal) {
                    lanes.push(LaneKind::Counter(k), COUNTER_LANE_HEIGHT);
                }
                if counters.iter().any(|c| c.internal) {
                    lanes.push(LaneKind::RecorderHeader, GROUP_LANE_HEIGHT);
                    if !sections.recorder_collapsed {
                        for k in (0..counters.len()).filter(|&k| counters[k].internal) {
                            lanes.push(LaneKind::Counter(k), COUNTER_LANE_HEIGHT);
                        }
                    }
                }
            }
        }
        if sections.pin_top {
            lanes.pinned = lanes.lanes.len();
            lanes.pinned_height = lanes.height;
        }
        lanes.threads(trace, &rest);
        for (g, group) in trace.groups.iter().enumerate() {
            lanes.push(LaneKind::Group(g), GROUP_LANE_HEIGHT);
            if !collapsed.get(g).copied().unwrap_or(false) {
                let list = tasks.and_then(|t| t.get(g)).unwrap_or(&group.tasks);
                for &task in list {
                    lanes.push(LaneKind::Task { task, group: g }, TASK_LANE_HEIGHT);
                }
            }
        }
        lanes
    }

    /// Thread lanes, each followed by its regions lane if it has regions or logs.
    fn threads(&mut self, trace: &OpenTrace, threads: &[ThreadIx]) {
        for &t in threads {
            self.push(LaneKind::Thread(t), THREAD_LANE_HEIGHT);
            let rows = trace.region_rows[t.index()].len();
            let logs = !trace.logs_by_thread[t.index()].is_empty();
            if rows > 0 || logs {
                let h = rows as f32 * REGION_ROW_HEIGHT + if logs { LOG_ROW_HEIGHT } else { 0.0 };
                self.push(LaneKind::Regions(t), h + 2.0);
            }
        }
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

    /// Where lane `i`'s top is, in points below the top of a view scrolled by `scroll_y`:
    /// pinned lanes do not scroll.
    pub fn screen_top(&self, i: usize, scroll_y: f32) -> f32 {
        let top = self.lanes[i].top;
        if i < self.pinned { top } else { top - scroll_y }
    }

    /// The lanes shown in a view `height` points high scrolled by `scroll_y`: the pinned
    /// ones, then the scrolled ones wholly below them (one partly hidden under the pinned
    /// lanes is left out rather than drawn over them).
    pub fn shown(&self, scroll_y: f32, height: f32) -> impl Iterator<Item = usize> + '_ {
        let band = self.pinned_height.min(height);
        let scrolled = self.visible(scroll_y + band, scroll_y + height);
        let first = scrolled.start.max(self.pinned);
        (0..self.pinned.min(self.lanes.len()))
            .filter(move |&i| self.lanes[i].top < height)
            .chain(
                (first..scrolled.end.max(first))
                    .filter(move |&i| band == 0.0 || self.lanes[i].top - scroll_y >= band - 0.5),
            )
    }

    /// The lane at `y` points below the top of a view scrolled by `scroll_y`.
    pub fn at_screen(&self, y: f32, scroll_y: f32) -> Option<usize> {
        if y < self.pinned_height {
            self.at(y).filter(|&i| i < self.pinned)
        } else {
            self.at(y + scroll_y).filter(|&i| i >= self.pinned)
        }
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
