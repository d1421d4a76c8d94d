//! An open trace in the window: the trace, its lanes, the view, the selection and what
//! the details panel shows for it. The panels read it and ask for changes through its
//! methods; none of this draws.

use std::sync::Arc;

use super::details::DetailsState;
use super::export::ExportState;
use super::jobs::{ExportRequest, Job, default_export_path, export};
use super::mmu::MmuState;
use super::open_trace::OpenTrace;
use super::search::SearchState;
use super::search::matches::Found;
use super::tasks::TasksState;
use super::timeline::lanes::{LaneKind, Lanes, Sections, default_collapsed};
use super::timeline::scene::{Hit, Scene};
use super::timeline::segments::SegmentCache;
use super::view::{Selection, ViewState};
use trace_analysis::model::{NO_TASK, Span, TaskIx};
use trace_analysis::units::format_bytes;

/// An open trace.
#[derive(Debug)]
pub struct TraceView {
    /// The trace (shared with background jobs).
    pub trace: Arc<OpenTrace>,
    /// The view of it.
    pub view: ViewState,
    /// Per task group: collapsed to its header.
    pub collapsed: Vec<bool>,
    /// The other lane sections' folding.
    pub sections: Sections,
    /// The lanes (rebuilt when a group is collapsed or expanded).
    pub lanes: Lanes,
    /// Task states of the task lanes seen so far.
    pub cache: SegmentCache,
    /// The details of the selection and the selected range.
    pub details: DetailsState,
    /// Problems with the data (the banner), empty for a complete trace.
    pub problems: Vec<String>,
    /// The banner was dismissed.
    pub banner_dismissed: bool,
    /// The last frame's timeline layout (hit testing, tests).
    pub scene: Scene,
    /// The export window, while shown.
    pub export: Option<ExportState>,
    /// The view shown.
    pub tab: Tab,
    /// The Tasks view.
    pub tasks: TasksState,
    /// The MMU view.
    pub mmu: MmuState,
    /// The search bar.
    pub search: SearchState,
}

/// The views of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Lanes over time.
    Timeline,
    /// The task breakdown table.
    Tasks,
    /// Minimum mutator utilization.
    Mmu,
}

impl TraceView {
    /// Opens `trace` showing all of it.
    pub fn new(trace: Box<OpenTrace>) -> TraceView {
        let collapsed = default_collapsed(&trace);
        let lanes = Lanes::build(&trace, &collapsed);
        let mut span = trace.model.span();
        if span.is_empty() {
            span = Span::new(span.start, span.start + 1_000);
        }
        let problems = trace.problems();
        TraceView {
            view: ViewState::new(span),
            collapsed,
            sections: Sections::default(),
            lanes,
            cache: SegmentCache::default(),
            details: DetailsState::default(),
            problems,
            banner_dismissed: false,
            scene: Scene::default(),
            export: None,
            tab: Tab::Timeline,
            tasks: TasksState::default(),
            mmu: MmuState::default(),
            search: SearchState::default(),
            trace: Arc::from(trace),
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

    /// Collapses or expands the counter lanes.
    pub fn toggle_counters(&mut self) {
        self.sections.counters_collapsed = !self.sections.counters_collapsed;
        self.relayout();
    }

    fn relayout(&mut self) {
        self.lanes = Lanes::build_with(&self.trace, &self.collapsed, self.sections);
        // The last frame's layout refers to the old lanes.
        self.scene = Scene {
            area: self.scene.area,
            ..Scene::default()
        };
    }

    /// Selects `selection` (or clears it) and computes what the details panel shows.
    pub fn select(&mut self, selection: Option<Selection>) {
        self.details.select(&self.trace, &mut self.view, selection);
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
        self.scroll_to_lane(
            LaneKind::Task {
                task,
                group: group.unwrap_or(usize::MAX),
            },
            viewport_height,
        );
    }

    /// F: fits the view to the selected range, else the selection (the clicked poll or
    /// stretch, else the task's lifetime), or to the whole trace when nothing is selected.
    pub fn fit_selection(&mut self) {
        if let Some(range) = self.view.range {
            self.view.fit_to(range);
            return;
        }
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
            // A region or a log line selects the task it happened in.
            Some(&Hit::Region { thread, region }) => {
                let task = self.trace.model.threads[thread as usize].regions[region as usize].task;
                if task != NO_TASK {
                    self.select(Some(Selection::of_task(task)));
                }
            }
            Some(&Hit::Logs { thread, first, .. }) => {
                let log = self.trace.logs_by_thread[thread as usize][first as usize];
                let task = self.trace.model.logs[log as usize].task;
                if task != NO_TASK {
                    self.select(Some(Selection::of_task(task)));
                }
            }
            Some(_) => {}
            None => self.select(None),
        }
    }

    /// Shows the export window, proposing `x.json` beside `x.rtt`.
    pub fn show_export(&mut self) {
        if self.export.is_none() {
            self.export = Some(ExportState {
                path: default_export_path(&self.trace.path).display().to_string(),
                visible_only: false,
                job: None,
                outcome: None,
            });
        }
    }

    /// The time range the view shows, clamped to the trace.
    pub fn visible_span(&self) -> Span {
        let (t0, t1) = self.view.visible_nanos();
        let trace = self.trace.model.span();
        Span::new(t0.max(trace.start), t1.min(trace.end))
    }

    /// Starts exporting as the export window says; `wake` asks for a repaint.
    pub fn start_export(&mut self, wake: impl Fn() + Send + Sync + 'static) {
        let range = self.visible_span();
        let Some(state) = &mut self.export else {
            return;
        };
        if state.job.is_some() || state.path.trim().is_empty() {
            return;
        }
        let request = ExportRequest {
            path: state.path.trim().into(),
            range: state.visible_only.then_some(range),
        };
        let trace = self.trace.clone();
        let what = format!("exporting to {}", request.path.display());
        state.outcome = None;
        state.job = Some(Job::spawn(what, wake, move |h| export(&trace, &request, h)));
    }

    /// Starts the analyses the current view needs; `wake` asks for a repaint.
    pub fn ensure_analyses(&mut self, wake: impl Fn() + Send + Sync + Clone + 'static) {
        if self.tab == Tab::Tasks {
            self.tasks.ensure(&self.trace, wake.clone());
        }
        if self.tab == Tab::Mmu {
            self.mmu.ensure(&self.trace, wake.clone());
        }
        self.details.ensure_range(&self.trace, &self.view, wake);
    }

    /// Esc: clears the selection and the range.
    pub fn clear(&mut self) {
        self.details.clear(&self.trace, &mut self.view);
    }

    /// Shows the timeline with the group of `task` expanded and scrolled into view.
    pub fn show_group_of(&mut self, task: TaskIx, viewport_height: f32) {
        self.tab = Tab::Timeline;
        let Some(g) = self
            .trace
            .groups
            .iter()
            .position(|g| g.tasks.contains(&task))
        else {
            return;
        };
        if self.collapsed[g] {
            self.collapsed[g] = false;
            self.relayout();
        }
        if let Some(i) = self.lanes.find(LaneKind::Group(g)) {
            self.view.scroll_y = self.lanes.lanes[i].top;
            self.view
                .clamp_scroll(self.lanes.height, viewport_height.max(1.0));
        }
    }

    /// `/`: shows the search bar with the keyboard in it.
    pub fn open_search(&mut self) {
        self.search.open();
    }

    /// Shows `found`, the match the search bar stepped to: the task selected, its lane in
    /// view and the view zoomed to its lifetime; a region zoomed to, its task selected and
    /// its thread's lane in view.
    pub fn show_found(&mut self, found: Found, viewport_height: f32) {
        self.tab = Tab::Timeline;
        match found {
            Found::Task(task) => self.reveal_task(task, viewport_height),
            Found::Region { thread, region } => {
                let task = self.trace.model.threads[thread as usize].regions[region as usize].task;
                if task != NO_TASK {
                    self.select(Some(Selection::of_task(task)));
                }
                self.scroll_to_lane(LaneKind::Regions(thread), viewport_height);
            }
        }
        self.view.fit_to(found.span(&self.trace));
    }

    /// Scrolls the lanes so the lane of `kind` is in view, if it is not.
    fn scroll_to_lane(&mut self, kind: LaneKind, viewport_height: f32) {
        if let Some(i) = self.lanes.find(kind) {
            let lane = self.lanes.lanes[i];
            if lane.top < self.view.scroll_y || lane.bottom() > self.view.scroll_y + viewport_height
            {
                self.view.scroll_y = (lane.top - viewport_height / 3.0).max(0.0);
                self.view
                    .clamp_scroll(self.lanes.height, viewport_height.max(1.0));
            }
        }
    }

    /// Shows `span` in the timeline.
    pub fn jump_to(&mut self, span: Span) {
        self.tab = Tab::Timeline;
        self.view.fit_to(span);
    }

    /// Picks up finished background work.
    pub fn poll_jobs(&mut self) {
        self.tasks.poll();
        self.mmu.poll();
        self.details.poll();
        if let Some(state) = &mut self.export
            && let Some(job) = &state.job
            && let Some(result) = job.poll()
        {
            let path = state.path.trim().to_string();
            state.outcome = Some(match result {
                Ok(Ok(stats)) => Ok(format!(
                    "Wrote {} events ({}) to {path}: open it in ui.perfetto.dev",
                    stats.events,
                    format_bytes(stats.bytes)
                )),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(e.to_string()),
            });
            state.job = None;
        }
    }

    /// True while the banner about missing data is shown.
    pub fn banner_shown(&self) -> bool {
        !self.problems.is_empty() && !self.banner_dismissed
    }
}
