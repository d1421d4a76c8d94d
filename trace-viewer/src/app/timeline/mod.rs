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
use super::view::ViewState;
use trace_analysis::model::TaskIx;

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
        }
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

    fn relayout(&mut self, trace: &OpenTrace) {
        self.lanes = Lanes::build_with(trace, &self.collapsed, self.sections);
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
