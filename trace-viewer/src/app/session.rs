//! An open trace in the window: the loaded trace, its lanes, the view, the selection and what
//! the details panel shows for it. The panels read it and ask for changes through its
//! methods; none of this draws.

use super::details::{PollDetails, TaskDetails, ThreadDetails};
use super::layout::{Hit, LaneKind, Lanes, Scene, SegmentCache, default_collapsed};
use super::load_job::LoadedTrace;
use super::state::{Selection, ViewState};
use crate::model::{Span, TaskIx};

/// An open trace.
#[derive(Debug)]
pub struct Session {
    /// The trace.
    pub trace: Box<LoadedTrace>,
    /// The view of it.
    pub view: ViewState,
    /// Per task group: collapsed to its header.
    pub collapsed: Vec<bool>,
    /// The lanes (rebuilt when a group is collapsed or expanded).
    pub lanes: Lanes,
    /// Task states of the task lanes seen so far.
    pub cache: SegmentCache,
    /// Details of the selected task.
    pub task_details: Option<TaskDetails>,
    /// Details of the selected poll.
    pub poll_details: Option<PollDetails>,
    /// Details of the selected thread.
    pub thread_details: Option<ThreadDetails>,
    /// Problems with the data (the banner), empty for a complete trace.
    pub problems: Vec<String>,
    /// The banner was dismissed.
    pub banner_dismissed: bool,
    /// The last frame's timeline layout (hit testing, tests).
    pub scene: Scene,
}

impl Session {
    /// Opens `trace` showing all of it.
    pub fn new(trace: Box<LoadedTrace>) -> Session {
        let collapsed = default_collapsed(&trace);
        let lanes = Lanes::build(&trace, &collapsed);
        let mut span = trace.model.span();
        if span.is_empty() {
            span = Span::new(span.start, span.start + 1_000);
        }
        let problems = trace.problems();
        Session {
            view: ViewState::new(span),
            collapsed,
            lanes,
            cache: SegmentCache::default(),
            task_details: None,
            poll_details: None,
            thread_details: None,
            problems,
            banner_dismissed: false,
            scene: Scene::default(),
            trace,
        }
    }

    /// Collapses or expands task group `g`.
    pub fn toggle_group(&mut self, g: usize) {
        if let Some(c) = self.collapsed.get_mut(g) {
            *c = !*c;
            self.relayout();
        }
    }

    /// Collapses (`true`) or expands every task group.
    pub fn set_all_collapsed(&mut self, collapsed: bool) {
        self.collapsed.iter_mut().for_each(|c| *c = collapsed);
        self.relayout();
    }

    fn relayout(&mut self) {
        self.lanes = Lanes::build(&self.trace, &self.collapsed);
        // The last frame's layout refers to the old lanes.
        self.scene = Scene {
            area: self.scene.area,
            ..Scene::default()
        };
    }

    /// Selects `selection` (or clears it) and computes what the details panel shows.
    pub fn select(&mut self, selection: Option<Selection>) {
        let task = selection.and_then(|s| s.task());
        if task != self.task_details.as_ref().map(|d| d.task) {
            self.task_details = task.map(|t| TaskDetails::compute(&self.trace, t));
        }
        let poll = match selection {
            Some(Selection::Task { poll, .. }) => poll,
            _ => None,
        };
        self.poll_details = poll.map(|p| PollDetails::compute(&self.trace, p));
        self.thread_details = match selection {
            Some(Selection::Thread(t)) => Some(ThreadDetails::compute(&self.trace, t)),
            _ => None,
        };
        self.view.selection = selection;
    }

    /// Selects `task` and makes its lane visible: expands its group and scrolls to it.
    pub fn reveal_task(&mut self, task: TaskIx, viewport_height: f32) {
        self.select(Some(Selection::of_task(task)));
        let group = self
            .trace
            .groups
            .iter()
            .position(|g| g.tasks.contains(&task));
        if let Some(g) = group
            && self.collapsed[g]
        {
            self.collapsed[g] = false;
            self.relayout();
        }
        if let Some(i) = self.lanes.find(LaneKind::Task {
            task,
            group: group.unwrap_or(usize::MAX),
        }) {
            let lane = self.lanes.lanes[i];
            if lane.top < self.view.scroll_y || lane.bottom() > self.view.scroll_y + viewport_height
            {
                self.view.scroll_y = (lane.top - viewport_height / 3.0).max(0.0);
                self.view
                    .clamp_scroll(self.lanes.height, viewport_height.max(1.0));
            }
        }
    }

    /// F: fits the view to the selection (the clicked poll or stretch, else the task's
    /// lifetime), or to the whole trace when nothing is selected.
    pub fn fit_selection(&mut self) {
        match self.view.selection {
            Some(Selection::Task { poll: Some(p), .. }) => {
                self.view.fit_to(self.trace.model.polls[p as usize].span())
            }
            Some(Selection::Task {
                segment: Some((span, _)),
                ..
            }) => self.view.fit_to(span),
            Some(Selection::Task { task, .. }) => self
                .view
                .fit_to(self.trace.model.tasks[task as usize].lifetime(self.trace.model.end)),
            _ => self.view.fit_all(),
        }
    }

    /// A click on the timeline at `hit` (`None`: on empty space): selects a poll or a
    /// task state stretch (and so its task), zooms to folded slices, clears the selection
    /// on empty space.
    pub fn click(&mut self, hit: Option<&Hit>) {
        match hit {
            Some(&Hit::Poll(p)) => {
                let task = self.trace.model.polls[p as usize].task;
                self.select(Some(Selection::Task {
                    task,
                    poll: Some(p),
                    segment: None,
                }));
            }
            Some(&Hit::Segment { task, span, state }) => self.select(Some(Selection::Task {
                task,
                poll: None,
                segment: Some((span, state)),
            })),
            Some(&Hit::Folded { span, .. }) => self.view.fit_to(span),
            Some(_) => {}
            None => self.select(None),
        }
    }

    /// True while the banner about missing data is shown.
    pub fn banner_shown(&self) -> bool {
        !self.problems.is_empty() && !self.banner_dismissed
    }
}
