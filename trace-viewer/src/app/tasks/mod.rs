//! The Tasks view (Go's "goroutine analysis"): the task breakdown as a table with one row
//! per task group, sortable and filterable — poll durations (mean, p99, max), allocated
//! bytes, sampled CPU and stall time, and a bar of its time by state — with the selected
//! group's poll-duration histogram; a click on a group shows its tasks in the timeline. The
//! report's other tables (longest polls, leak suspects, threads, pauses) are its sub-views:
//! they come from the same breakdown.
//!
//! - [`table`]: the rows, their order and filter — pure;
//! - [`panel`]: the view;
//! - [`TasksState`]: the breakdown and the groups' poll figures (computed in the background
//!   when the view is first shown, and again when the grouping changes: spawn location,
//!   task name or root region), its rows, the table's order and filter, the sub-view and
//!   the selected group.

pub mod panel;
pub mod table;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use table::{Row, TableState};

use super::jobs::{Job, Lazy};
use super::open_trace::OpenTrace;
use trace_analysis::analysis::breakdown::{Breakdown, BreakdownOptions};
use trace_analysis::analysis::groups::{GroupBy, TaskGroups};
use trace_analysis::analysis::poll_stats::{GroupPolls, PollStats};
use trace_analysis::model::{Model, TaskIx};

/// What the Tasks view shows, computed in the background.
#[derive(Debug, Clone)]
pub struct TasksData {
    /// The task breakdown (as `report` computes it, with the view's grouping).
    pub breakdown: Breakdown,
    /// The poll figures of each of `breakdown.groups`, in its order.
    pub polls: Vec<GroupPolls>,
    /// The trace has CPU samples in tasks (the CPU column is shown).
    pub has_cpu: bool,
    /// The trace has stall samples in tasks (the stalled column is shown).
    pub has_stall: bool,
    /// The task of each of `breakdown.longest_polls`, to show it in the timeline.
    pub long_poll_tasks: Vec<Option<TaskIx>>,
}

impl TasksData {
    /// The breakdown of `model` grouped by `group_by`, with its groups' poll figures.
    pub fn compute(model: &Model, group_by: GroupBy) -> TasksData {
        let options = BreakdownOptions {
            group_by,
            ..BreakdownOptions::default()
        };
        let breakdown = Breakdown::compute(model, &options);
        let polls = group_polls(model, &breakdown);
        let ids: HashSet<u64> = breakdown.longest_polls.iter().map(|p| p.task_id).collect();
        let mut ixs: HashMap<u64, TaskIx> = HashMap::with_capacity(ids.len());
        for (i, t) in model.tasks.iter().enumerate() {
            if ids.contains(&t.id.0) {
                ixs.entry(t.id.0).or_insert(TaskIx(i as u32));
            }
        }
        TasksData {
            long_poll_tasks: (breakdown.longest_polls.iter())
                .map(|p| ixs.get(&p.task_id).copied())
                .collect(),
            has_cpu: polls.iter().any(|p| p.cpu_samples > 0),
            has_stall: polls.iter().any(|p| p.stall_samples > 0),
            breakdown,
            polls,
        }
    }
}

/// The poll figures of each group of `b`, in its order: [`PollStats`] over the same
/// grouping, matched by each group's first task.
pub fn group_polls(model: &Model, b: &Breakdown) -> Vec<GroupPolls> {
    let groups = TaskGroups::by(model, b.group_by);
    let stats = PollStats::compute(model, &groups);
    b.groups
        .iter()
        .map(|g| {
            g.task_ixs
                .first()
                .map(|&t| stats.of_group(groups.group_of(t)).clone())
                .unwrap_or_default()
        })
        .collect()
}

/// The Tasks view's sub-views: the group table and the report's other tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SubView {
    /// One row per task group.
    #[default]
    Groups,
    /// The longest polls.
    LongestPolls,
    /// Tasks that look leaked.
    LeakSuspects,
    /// How busy each thread was.
    Threads,
    /// Pauses by kind.
    Pauses,
}

impl SubView {
    /// Every sub-view, in the order of its selector.
    pub const ALL: [SubView; 5] = [
        SubView::Groups,
        SubView::LongestPolls,
        SubView::LeakSuspects,
        SubView::Threads,
        SubView::Pauses,
    ];

    /// Its name in the selector.
    pub fn title(self) -> &'static str {
        match self {
            SubView::Groups => "task groups",
            SubView::LongestPolls => "longest polls",
            SubView::LeakSuspects => "leak suspects",
            SubView::Threads => "threads",
            SubView::Pauses => "pauses",
        }
    }
}

/// The Tasks view's state.
#[derive(Debug)]
pub struct TasksState {
    /// The task breakdown and poll figures, computed when the view is first shown.
    pub data: Lazy<TasksData>,
    /// Its table rows.
    pub rows: Vec<Row>,
    /// The table's order and filter.
    pub table: TableState,
    /// What groups the tasks.
    pub group_by: GroupBy,
    /// The sub-view shown.
    pub sub_view: SubView,
    /// The row whose poll-duration histogram is shown (an index into `rows`); `None`: the
    /// first row shown.
    pub selected: Option<usize>,
    /// The rows shown, in order: filtered and sorted when the rows, the sort or the filter
    /// change, not every frame.
    order: Vec<usize>,
    /// The order and filter `order` was made for (`None`: to be made again).
    order_for: Option<TableState>,
    /// How many times the rows were filtered and sorted (tests check idle frames add none).
    pub sorts: u64,
}

impl Default for TasksState {
    fn default() -> Self {
        TasksState {
            data: Lazy::Idle,
            rows: Vec::new(),
            table: TableState::default(),
            group_by: GroupBy::Location,
            sub_view: SubView::default(),
            selected: None,
            order: Vec::new(),
            order_for: None,
            sorts: 0,
        }
    }
}

impl TasksState {
    /// Starts computing the breakdown of `trace`, unless it was; `wake` asks for a repaint.
    pub fn ensure(&mut self, trace: &Arc<OpenTrace>, wake: impl Fn() + Send + Sync + 'static) {
        if matches!(self.data, Lazy::Idle) {
            let trace = trace.clone();
            let group_by = self.group_by;
            self.data = Lazy::Running(Job::spawn("task breakdown", wake, move |_| {
                Ok(TasksData::compute(&trace.model, group_by))
            }));
        }
    }

    /// Groups the tasks by `by` from now on: the breakdown is computed again.
    pub fn set_group_by(&mut self, by: GroupBy) {
        if by != self.group_by {
            self.group_by = by;
            self.data = Lazy::Idle;
            self.rows.clear();
            self.order_for = None;
            self.selected = None;
        }
    }

    /// Picks up the finished breakdown and makes its rows.
    pub fn poll(&mut self) {
        self.data.poll();
        if self.rows.is_empty()
            && let Some(d) = self.data.get()
        {
            self.rows = table::rows(&d.breakdown, &d.polls);
            self.order_for = None;
        }
    }

    /// The rows shown, in order (indices into `rows`), filtered and sorted again only when
    /// the rows, the sort column, its direction or the filter changed.
    pub fn order(&mut self) -> &[usize] {
        if self.order_for.as_ref() != Some(&self.table) {
            self.order = self.table.view(&self.rows);
            self.order_for = Some(self.table.clone());
            self.sorts += 1;
        }
        &self.order
    }
}
