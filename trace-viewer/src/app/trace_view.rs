//! An open trace in the window, with its views: the trace, the view of it (time range,
//! scroll, selection), each view's state (timeline, details, tasks, regions, MMU, flame
//! graph, search), the
//! export window and the banner about missing data.
//!
//! Each view draws itself from its own state and returns what it asks of the others (a
//! task to reveal, a group or a time range to show in the timeline); this is where those
//! requests are carried out, so the views do not know each other.

use std::sync::Arc;

use egui::Ui;

use super::details::{self, DetailsState};
use super::export::ExportState;
use super::flame::{self, FlameState, Scope};
use super::mmu::{self, MmuState};
use super::open_trace::OpenTrace;
use super::regions::{self, RegionsState};
use super::search::matches::Found;
use super::search::{self, SearchState};
use super::tasks::{self, TasksState};
use super::timeline::lanes::LaneKind;
use super::timeline::panel::{Parts, Request};
use super::timeline::{self, TimelineState};
use super::view::{Selection, ViewState};
use trace_analysis::model::{Span, TaskIx};

/// An open trace.
#[derive(Debug)]
pub struct TraceView {
    /// The trace (shared with background jobs).
    pub trace: Arc<OpenTrace>,
    /// The view of it.
    pub view: ViewState,
    /// The Timeline view: lanes, their folding, the last frame.
    pub timeline: TimelineState,
    /// The details of the selection and the selected range.
    pub details: DetailsState,
    /// The Tasks view.
    pub tasks: TasksState,
    /// The Regions view.
    pub regions: RegionsState,
    /// The MMU view.
    pub mmu: MmuState,
    /// The Flame graph view.
    pub flame: FlameState,
    /// The search bar.
    pub search: SearchState,
    /// The export window, while shown.
    pub export: Option<ExportState>,
    /// Problems with the data (the banner), empty for a complete trace.
    pub problems: Vec<String>,
    /// The banner was dismissed.
    pub banner_dismissed: bool,
    /// The view shown.
    pub tab: Tab,
}

/// The views of a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Lanes over time.
    Timeline,
    /// The task breakdown table.
    Tasks,
    /// The region groups (`tracing` spans) and their latencies.
    Regions,
    /// Minimum mutator utilization.
    Mmu,
    /// Flame graphs of the stack samples.
    Flame,
}

/// What the timeline says of a trace without events.
pub const NO_EVENTS: &str = "This trace holds no events.";

impl TraceView {
    /// Opens `trace` showing all of it.
    pub fn new(trace: Box<OpenTrace>) -> TraceView {
        let mut span = trace.model.span();
        if span.is_empty() {
            span = Span::new(span.start, span.start + 1_000);
        }
        TraceView {
            view: ViewState::new(span),
            timeline: TimelineState::new(&trace),
            details: DetailsState::default(),
            tasks: TasksState::default(),
            regions: RegionsState::default(),
            mmu: MmuState::default(),
            flame: FlameState::default(),
            search: SearchState::default(),
            export: None,
            problems: trace.problems(),
            banner_dismissed: false,
            tab: Tab::Timeline,
            trace: Arc::from(trace),
        }
    }

    /// Collapses (`true`) or expands every task group.
    pub fn set_all_collapsed(&mut self, collapsed: bool) {
        self.timeline.set_all_collapsed(&self.trace, collapsed);
    }

    /// Selects `selection` (or clears it) and computes what the details panel shows.
    pub fn select(&mut self, selection: Option<Selection>) {
        self.details.select(&self.trace, &mut self.view, selection);
    }

    /// F: fits the view to the selected range, else the selection, or to the whole trace.
    pub fn fit_selection(&mut self) {
        self.view.fit_selection(&self.trace.model);
    }

    /// Selects `task` and makes its lane visible: expands its group and scrolls to it.
    pub fn reveal_task(&mut self, task: TaskIx, viewport_height: f32) {
        self.select(Some(Selection::of_task(task)));
        self.timeline
            .reveal_task(&self.trace, &mut self.view, task, viewport_height);
    }

    /// Shows the timeline with the group of `task` expanded and scrolled into view.
    pub fn show_group_of(&mut self, task: TaskIx, viewport_height: f32) {
        self.tab = Tab::Timeline;
        self.timeline
            .show_group_of(&self.trace, &mut self.view, task, viewport_height);
    }

    /// Shows `found`, the match the search bar stepped to: the task selected, its lane in
    /// view and the view zoomed to its lifetime; a region zoomed to, its task selected and
    /// its thread's lane in view.
    pub fn show_found(&mut self, found: Found, viewport_height: f32) {
        self.tab = Tab::Timeline;
        match found {
            Found::Task(task) => self.reveal_task(task, viewport_height),
            Found::Region { thread, region } => {
                let task = self.trace.model.threads[thread.index()].regions[region as usize].task;
                if task != TaskIx::NONE {
                    self.select(Some(Selection::of_task(task)));
                }
                self.timeline.scroll_to_lane(
                    &mut self.view,
                    LaneKind::Regions(thread),
                    viewport_height,
                );
            }
        }
        self.view.fit_to(found.span(&self.trace));
    }

    /// Shows `span` in the timeline.
    pub fn jump_to(&mut self, span: Span) {
        self.tab = Tab::Timeline;
        self.view.fit_to(span);
    }

    /// The Timeline view, in the rest of `ui`.
    pub fn show_timeline(&mut self, ui: &mut Ui) {
        if self.trace.model.events == 0 {
            // An empty 0–1 µs timeline would read as a trace of nothing happening.
            ui.centered_and_justified(|ui| {
                ui.label(format!(
                    "{NO_EVENTS}{}",
                    if self.trace.model.end_record.is_none() {
                        " The file ends before its first chunk of events: the recording was \
                         cut (killed, or a full disk) before it wrote one."
                    } else {
                        " The recording stopped before anything was recorded."
                    }
                ));
            });
            return;
        }
        let parts = Parts {
            trace: &self.trace,
            view: &mut self.view,
            timeline: &mut self.timeline,
            details: &mut self.details,
        };
        if let Some(Request::OpenSearch) = timeline::panel::show(ui, parts) {
            self.search.open();
        }
    }

    /// The Tasks view; `viewport_height` is the timeline's (to scroll a group into view).
    pub fn show_tasks(&mut self, ui: &mut Ui, viewport_height: f32) {
        match tasks::panel::show(ui, &mut self.tasks) {
            Some(tasks::panel::Request::ShowGroup(task)) => {
                self.show_group_of(task, viewport_height)
            }
            Some(tasks::panel::Request::Flame(task)) => {
                let group = self.trace.groups.group_of(task);
                self.show_flame(Scope::Group(group));
            }
            Some(tasks::panel::Request::ShowTask(task, span)) => {
                self.tab = Tab::Timeline;
                self.reveal_task(task, viewport_height);
                self.view.fit_to(span);
            }
            None => {}
        }
    }

    /// Shows the flame graph of `scope`.
    pub fn show_flame(&mut self, scope: Scope) {
        self.tab = Tab::Flame;
        self.flame.show(scope);
    }

    /// The Flame graph view.
    pub fn show_flame_view(&mut self, ui: &mut Ui) {
        let visible = self.visible_span();
        flame::panel::show(ui, &self.trace, &mut self.flame, visible, self.view.range);
    }

    /// Shows region `span` (an index into `Model::spans`) in the timeline: the view zoomed
    /// to it, its time range selected, and its task (if a task entered it) selected with
    /// its lane in view.
    pub fn show_region(&mut self, span: u32, viewport_height: f32) {
        let Some(region) = self.trace.model.spans.get(span as usize) else {
            return;
        };
        let (range, task) = (region.span, region.task);
        self.tab = Tab::Timeline;
        if task != TaskIx::NONE {
            self.reveal_task(task, viewport_height);
        }
        self.view.range = Some(range);
        self.view.range_anchor = None;
        self.view.fit_to(range);
    }

    /// The Regions view; `viewport_height` is the timeline's (to scroll a task into view).
    pub fn show_regions(&mut self, ui: &mut Ui, viewport_height: f32) {
        if let Some(regions::panel::Request::ShowRegion(span)) =
            regions::panel::show(ui, &self.trace, &mut self.regions)
        {
            self.show_region(span, viewport_height);
        }
    }

    /// The MMU view.
    pub fn show_mmu(&mut self, ui: &mut Ui) {
        if let Some(span) = mmu::panel::show(ui, &mut self.mmu) {
            self.jump_to(span);
        }
    }

    /// The search bar; `viewport_height` is the timeline's (to scroll a match into view).
    pub fn show_search_bar(&mut self, ui: &mut Ui, viewport_height: f32) {
        if let Some(found) = search::bar::bar(ui, &mut self.search, &self.trace) {
            self.show_found(found, viewport_height);
        }
    }

    /// The details panel; `viewport_height` is the timeline's (to scroll a task into view).
    pub fn show_details(&mut self, ui: &mut Ui, viewport_height: f32) {
        match details::panel::show(ui, &self.trace, &mut self.view, &mut self.details) {
            Some(details::panel::Request::Reveal(task)) => self.reveal_task(task, viewport_height),
            Some(details::panel::Request::Flame(scope)) => self.show_flame(scope),
            None => {}
        }
    }

    /// Shows the export window, proposing `x.json` beside `x.rtt`.
    pub fn show_export(&mut self) {
        if self.export.is_none() {
            self.export = Some(ExportState::new(&self.trace.path));
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
        let visible = self.visible_span();
        if let Some(state) = &mut self.export {
            state.start(&self.trace, visible, wake);
        }
    }

    /// Starts the analyses the current view needs; `wake` asks for a repaint.
    pub fn ensure_analyses(&mut self, wake: impl Fn() + Send + Sync + Clone + 'static) {
        if self.tab == Tab::Tasks {
            self.tasks.ensure(&self.trace, wake.clone());
        }
        if self.tab == Tab::Regions {
            self.regions.ensure(&self.trace, wake.clone());
        }
        if self.tab == Tab::Mmu {
            self.mmu.ensure(&self.trace, wake.clone());
        }
        if self.tab == Tab::Flame {
            self.flame.ensure(&self.trace, wake.clone());
        }
        self.details.ensure_range(&self.trace, &self.view, wake);
    }

    /// Picks up finished background work.
    pub fn poll_jobs(&mut self) {
        self.tasks.poll();
        self.regions.poll();
        self.mmu.poll();
        self.flame.poll();
        self.details.poll();
        if let Some(state) = &mut self.export {
            state.poll();
        }
    }

    /// True while the banner about missing data is shown.
    pub fn banner_shown(&self) -> bool {
        !self.problems.is_empty() && !self.banner_dismissed
    }
}
