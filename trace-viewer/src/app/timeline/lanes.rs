//! The rows of the timeline, top to bottom: worker, blocking and other threads, each
//! followed by a lane of its `tracing` regions and logs when it has any; the counters; then
//! the task groups, each with one row per task unless collapsed. Their vertical positions,
//! and the binary search for the rows in view.

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
        for t in trace.thread_order() {
            lanes.push(LaneKind::Thread(t), THREAD_LANE_HEIGHT);
            let rows = trace.region_rows[t.index()].len();
            let logs = !trace.logs_by_thread[t.index()].is_empty();
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
