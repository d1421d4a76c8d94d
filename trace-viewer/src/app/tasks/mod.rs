//! The Tasks view (Go's "goroutine analysis"): the task breakdown as a table with one row
//! per task group, sortable and filterable, each with a bar of its time by state; a click on
//! a group shows its tasks in the timeline.
//!
//! - [`table`]: the rows, their order and filter — pure;
//! - [`panel`]: the view;
//! - [`TasksState`]: the breakdown (computed in the background when the view is first
//!   shown, and again when the grouping changes: spawn location, task name or root
//!   region), its rows, the table's order and filter.

pub mod panel;
pub mod table;

use std::sync::Arc;

use table::{Row, TableState};

use super::jobs::{Job, Lazy};
use super::open_trace::OpenTrace;
use trace_analysis::analysis::breakdown::{Breakdown, BreakdownOptions};
use trace_analysis::analysis::groups::GroupBy;

/// The Tasks view's state.
#[derive(Debug)]
pub struct TasksState {
    /// The task breakdown, computed when the view is first shown.
    pub breakdown: Lazy<Breakdown>,
    /// Its table rows.
    pub rows: Vec<Row>,
    /// The table's order and filter.
    pub table: TableState,
    /// What groups the tasks.
    pub group_by: GroupBy,
}

impl Default for TasksState {
    fn default() -> Self {
        TasksState {
            breakdown: Lazy::Idle,
            rows: Vec::new(),
            table: TableState::default(),
            group_by: GroupBy::Location,
        }
    }
}

impl TasksState {
    /// Starts computing the breakdown of `trace`, unless it was; `wake` asks for a repaint.
    pub fn ensure(&mut self, trace: &Arc<OpenTrace>, wake: impl Fn() + Send + Sync + 'static) {
        if matches!(self.breakdown, Lazy::Idle) {
            let trace = trace.clone();
            let options = BreakdownOptions {
                group_by: self.group_by,
                ..BreakdownOptions::default()
            };
            self.breakdown = Lazy::Running(Job::spawn("task breakdown", wake, move |_| {
                Ok(Breakdown::compute(&trace.model, &options))
            }));
        }
    }

    /// Groups the tasks by `by` from now on: the breakdown is computed again.
    pub fn set_group_by(&mut self, by: GroupBy) {
        if by != self.group_by {
            self.group_by = by;
            self.breakdown = Lazy::Idle;
            self.rows.clear();
        }
    }

    /// Picks up the finished breakdown and makes its rows.
    pub fn poll(&mut self) {
        self.breakdown.poll();
        if self.rows.is_empty()
            && let Some(b) = self.breakdown.get()
        {
            self.rows = table::rows(b);
        }
    }
}
