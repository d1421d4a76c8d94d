//! The Timeline view: lanes over time for threads, their regions and logs, counters and task
//! groups, zoomed and panned down to nanoseconds.
//!
//! Laid out without drawing, so tests check every frame without a GPU and the frame cost can
//! be measured apart from egui:
//!
//! - [`lanes`]: the rows and their heights, task groups folded to their header;
//! - [`xmap`]: trace time to points on screen;
//! - [`fold`]: Tracy-style folding of slices narrower than a few points, so a frame's work
//!   depends on the width of the screen, not on the trace;
//! - [`segments`]: the task lanes' state stretches, computed when first in view;
//! - [`counters`]: counter lanes folded per pixel column;
//! - [`arrow`]: the wake arrow of the selection;
//! - [`scene`]: a laid-out frame and its hit test; [`build`] lays one out;
//! - [`tooltip`]: what the tooltips say;
//!
//! then drawn: [`paint`] paints a scene; [`panel`] is the view itself (axis, lane names,
//! legend, pointer and keyboard input). [`TimelineState`] holds the lanes, their folding and
//! the last frame.

pub mod arrow;
pub mod build;
pub mod counters;
pub mod fold;
pub mod lanes;
pub mod paint;
pub mod panel;
pub mod scene;
pub mod segments;
pub mod tooltip;
pub mod xmap;

use lanes::{LaneKind, Lanes, Sections, default_collapsed};
use scene::Scene;
use segments::SegmentCache;

use super::open_trace::OpenTrace;
use super::view::{TimeView, ViewState};
use crate::app::sorted::disjoint_in;
use trace_analysis::analysis::states::TaskState;
use trace_analysis::model::{Nanos, TaskIx};

/// How expanded groups list their tasks once zoomed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TaskLaneOptions {
    /// Only the tasks polled in the visible time range.
    pub active_only: bool,
    /// Most time in this state (in the visible range) first; `None`: by spawn.
    pub sort_by: Option<TaskState>,
}

impl TaskLaneOptions {
    /// Whether the task lanes depend on the visible range.
    pub fn follows_view(&self) -> bool {
        self.active_only || self.sort_by.is_some()
    }
}

/// The Timeline view's state.
#[derive(Debug)]
pub struct TimelineState {
    /// Per task group: collapsed to its header.
    pub collapsed: Vec<bool>,
    /// The other lane sections' folding.
    pub sections: Sections,
    /// The lanes (rebuilt when a group is collapsed or expanded).
    pub lanes: Lanes,
    /// Task states of the task lanes seen so far.
    pub cache: SegmentCache,
    /// The last frame's layout (hit testing, tests).
    pub scene: Scene,
    /// Filtering and order of the task lanes.
    pub task_options: TaskLaneOptions,
    /// Width of the lane-name column, in points.
    pub gutter_width: f32,
    /// The last frame's pointer over the lanes or the axis: its x and the time there.
    pub pointer_time: Option<(f32, String)>,
    /// The whole panel (axis, lane names, lanes, legend) as the last frame laid it out.
    pub panel: egui::Rect,
    /// Wheel events over the panel, taken out of egui's input before egui saw them
    /// ([`TimelineState::take_wheel`]); the next frame's panel applies them.
    pub wheel: Vec<egui::Event>,
    /// The visible range the task lanes were filtered and sorted for, if they were.
    lists_for: Option<(Nanos, Nanos)>,
    /// Per group, its task lanes as filtered and sorted for `lists_for`.
    lists: Option<Vec<Vec<TaskIx>>>,
}

impl TimelineState {
    /// The lanes of `trace`, big groups collapsed.
    pub fn new(trace: &OpenTrace) -> TimelineState {
        let collapsed = default_collapsed(trace);
        let lanes = Lanes::build(trace, &collapsed);
        TimelineState {
            collapsed,
            sections: Sections::default(),
            lanes,
            cache: SegmentCache::default(),
            scene: Scene::default(),
            task_options: TaskLaneOptions::default(),
            gutter_width: panel::GUTTER_WIDTH,
            pointer_time: None,
            panel: egui::Rect::NOTHING,
            wheel: Vec::new(),
            lists_for: None,
            lists: None,
        }
    }

    /// Filters and sorts the expanded groups' task lanes for the visible range of `view`
    /// when [`TimelineState::task_options`] ask for it and the range changed since (the
    /// cost is the expanded tasks' state stretches in view, not every frame's).
    pub fn follow_view(&mut self, trace: &OpenTrace, view: &TimeView) {
        if !self.task_options.follows_view() {
            if self.lists.take().is_some() {
                self.lists_for = None;
                self.relayout(trace);
            }
            return;
        }
        let range = (
            view.start.max(0.0).floor() as Nanos,
            view.end.max(0.0).ceil() as Nanos,
        );
        if self.lists_for == Some(range) && self.lists.is_some() {
            return;
        }
        let (t0, t1) = range;
        let opts = self.task_options;
        let mut lists = Vec::with_capacity(trace.groups.len());
        for (g, group) in trace.groups.iter().enumerate() {
            if self.collapsed.get(g).copied().unwrap_or(false) {
                lists.push(Vec::new());
                continue;
            }
            let mut keyed: Vec<(Nanos, TaskIx)> = Vec::new();
            for &task in &group.tasks {
                let segments = self.cache.get(trace, task);
                let shown = &segments[disjoint_in(segments, |s| s.span, t0, t1)];
                if opts.active_only && !shown.iter().any(|s| s.state == TaskState::Running) {
                    continue;
                }
                let time = opts.sort_by.map_or(0, |state| {
                    shown
                        .iter()
                        .filter(|s| s.state == state)
                        .map(|s| s.span.end.min(t1).saturating_sub(s.span.start.max(t0)))
                        .sum()
                });
                keyed.push((time, task));
            }
            if opts.sort_by.is_some() {
                // Stable: equal times keep spawn order.
                keyed.sort_by_key(|&(time, _)| std::cmp::Reverse(time));
            }
            lists.push(keyed.into_iter().map(|(_, t)| t).collect());
        }
        self.lists = Some(lists);
        self.relayout(trace);
        self.lists_for = Some(range);
    }

    /// Takes the mouse wheel events of `raw` that land on the panel (where the pointer is at
    /// `pointer`, with nothing of egui's over it) out of egui's input: the panel zooms and
    /// pans by them itself, while egui would also smooth each notch over the next frames and
    /// ask for a frame for each step of that (a dozen frames per notch, each a whole frame
    /// of lanes) although nothing of egui's scrolls there. Returns how many it took.
    pub fn take_wheel(
        &mut self,
        raw: &mut egui::RawInput,
        pointer: Option<egui::Pos2>,
        covered: impl Fn(egui::Pos2) -> bool,
    ) -> usize {
        // The pointer as of each event: moves come in the same list.
        let mut at = pointer;
        let mut taken = Vec::new();
        raw.events.retain(|e| match e {
            egui::Event::PointerMoved(p) => {
                at = Some(*p);
                true
            }
            egui::Event::PointerGone => {
                at = None;
                true
            }
            egui::Event::MouseWheel { .. }
                if at.is_some_and(|p| self.panel.contains(p) && !covered(p)) =>
            {
                taken.push(e.clone());
                false
            }
            _ => true,
        });
        let n = taken.len();
        // A frame that did not show the panel leaves its events behind: they are dropped.
        self.wheel = taken;
        n
    }

    /// Collapses or expands task group `g`.
    pub fn toggle_group(&mut self, trace: &OpenTrace, g: usize) {
        if let Some(c) = self.collapsed.get_mut(g) {
            *c = !*c;
            self.relayout(trace);
        }
    }

    /// Collapses (`true`) or expands every task group.
    pub fn set_all_collapsed(&mut self, trace: &OpenTrace, collapsed: bool) {
        self.collapsed.iter_mut().for_each(|c| *c = collapsed);
        self.relayout(trace);
    }

    /// Collapses or expands the counter lanes.
    pub fn toggle_counters(&mut self, trace: &OpenTrace) {
        self.sections.counters_collapsed = !self.sections.counters_collapsed;
        self.relayout(trace);
    }

    /// Expands group `g` if it is collapsed.
    fn expand(&mut self, trace: &OpenTrace, g: usize) {
        if self.collapsed[g] {
            self.collapsed[g] = false;
            self.relayout(trace);
        }
    }

    /// Collapses or expands the recorder's own counters.
    pub fn toggle_recorder(&mut self, trace: &OpenTrace) {
        self.sections.recorder_collapsed = !self.sections.recorder_collapsed;
        self.relayout(trace);
    }

    /// Pins (or unpins) the worker and counter lanes at the top.
    pub fn set_pinned(&mut self, trace: &OpenTrace, pinned: bool) {
        self.sections.pin_top = pinned;
        self.relayout(trace);
    }

    fn relayout(&mut self, trace: &OpenTrace) {
        // A group expanded since the lists were made has none yet: make them again.
        if self.lists.is_some() {
            self.lists_for = None;
        }
        self.lanes =
            Lanes::build_full(trace, &self.collapsed, self.sections, self.lists.as_deref());
        // The last frame's layout refers to the old lanes.
        self.scene = Scene {
            area: self.scene.area,
            ..Scene::default()
        };
    }

    /// Makes the lane of `task` visible in `view`: expands its group and scrolls to it.
    pub fn reveal_task(
        &mut self,
        trace: &OpenTrace,
        view: &mut ViewState,
        task: TaskIx,
        viewport_height: f32,
    ) {
        let group = trace.groups.group_of(task);
        self.expand(trace, group);
        self.scroll_to_lane(view, LaneKind::Task { task, group }, viewport_height);
    }

    /// Expands the group of `task` and scrolls `view` to its header.
    pub fn show_group_of(
        &mut self,
        trace: &OpenTrace,
        view: &mut ViewState,
        task: TaskIx,
        viewport_height: f32,
    ) {
        let g = trace.groups.group_of(task);
        self.expand(trace, g);
        if let Some(i) = self.lanes.find(LaneKind::Group(g))
            && i >= self.lanes.pinned
        {
            view.scroll_y = self.lanes.lanes[i].top - self.lanes.pinned_height;
            view.clamp_scroll(self.lanes.height, viewport_height.max(1.0));
        }
    }

    /// Scrolls `view` so the lane of `kind` is in view, if it is not (pinned lanes always
    /// are: the scroll moves the lanes below them).
    pub fn scroll_to_lane(&self, view: &mut ViewState, kind: LaneKind, viewport_height: f32) {
        if let Some(i) = self.lanes.find(kind)
            && i >= self.lanes.pinned
        {
            let lane = self.lanes.lanes[i];
            let band = self.lanes.pinned_height;
            let top = lane.top - view.scroll_y;
            if top < band || top + lane.height > viewport_height {
                let below = (viewport_height - band).max(0.0);
                view.scroll_y = (lane.top - band - below / 3.0).max(0.0);
                view.clamp_scroll(self.lanes.height, viewport_height.max(1.0));
            }
        }
    }
}

#[cfg(test)]
mod tests;
