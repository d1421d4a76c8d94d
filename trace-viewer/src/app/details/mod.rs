//! The details panel: what was selected in the timeline — a task (and the poll or state
//! stretch clicked), or a thread — and what a selected time range holds, with links to the
//! parent task, the waker and the longest poll.
//!
//! - [`data`]: the details of a task, a poll, a thread — computed when the selection
//!   changes, never while drawing;
//! - [`wake`]: the wakes behind the selection, and the link the timeline draws as an arrow;
//! - [`range`]: what a selected time range holds, computed in the background;
//! - [`panel`]: the panel;
//! - [`DetailsState`]: all of that for the current selection and range.

pub mod data;
pub mod panel;
pub mod range;
pub mod wake;

use std::sync::Arc;

use data::{PollDetails, TaskDetails, ThreadDetails};
use range::RangeSummary;
use wake::{WakeLink, wake_link};

use super::jobs::{Job, Lazy};
use super::open_trace::OpenTrace;
use super::view::{Selection, ViewState};
use trace_analysis::model::Span;

/// The details of the selection and of the selected range.
#[derive(Debug)]
pub struct DetailsState {
    /// Details of the selected task.
    pub task: Option<TaskDetails>,
    /// Details of the selected poll.
    pub poll: Option<PollDetails>,
    /// Details of the selected thread.
    pub thread: Option<ThreadDetails>,
    /// The wake behind the selected poll or wait, drawn as an arrow.
    pub wake_link: Option<WakeLink>,
    /// What the selected time range holds.
    pub range: Lazy<RangeSummary>,
    /// The range `range` is (being) computed for.
    pub range_for: Option<Span>,
}

impl Default for DetailsState {
    fn default() -> Self {
        DetailsState {
            task: None,
            poll: None,
            thread: None,
            wake_link: None,
            range: Lazy::Idle,
            range_for: None,
        }
    }
}

impl DetailsState {
    /// Selects `selection` in `view` (or clears it) and computes its details.
    pub fn select(
        &mut self,
        trace: &OpenTrace,
        view: &mut ViewState,
        selection: Option<Selection>,
    ) {
        let task = selection.and_then(|s| s.task());
        if task != self.task.as_ref().map(|d| d.task) {
            self.task = task.map(|t| TaskDetails::compute(trace, t));
        }
        let poll = match selection {
            Some(Selection::Task { poll, .. }) => poll,
            _ => None,
        };
        self.poll = poll.map(|p| PollDetails::compute(trace, p));
        self.thread = match selection {
            Some(Selection::Thread(t)) => Some(ThreadDetails::compute(trace, t)),
            _ => None,
        };
        self.wake_link = wake_link(trace, selection, self.poll.as_ref().and_then(|p| p.woken));
        view.selection = selection;
    }

    /// Esc: clears the selection and the range of `view`.
    pub fn clear(&mut self, trace: &OpenTrace, view: &mut ViewState) {
        self.select(trace, view, None);
        view.range = None;
        view.range_anchor = None;
    }

    /// Keeps the range summary in step with the range selected in `view` (once its drag is
    /// over); `wake` asks for a repaint.
    pub fn ensure_range(
        &mut self,
        trace: &Arc<OpenTrace>,
        view: &ViewState,
        wake: impl Fn() + Send + Sync + 'static,
    ) {
        let range = if view.range_anchor.is_some() {
            self.range_for
        } else {
            view.range
        };
        if range == self.range_for {
            return;
        }
        if let Lazy::Running(job) = &self.range {
            job.cancel();
        }
        self.range_for = range;
        self.range = match range {
            None => Lazy::Idle,
            Some(span) => {
                let trace = trace.clone();
                Lazy::Running(Job::spawn("range", wake, move |_| {
                    Ok(RangeSummary::compute(&trace, span))
                }))
            }
        };
    }

    /// Picks up the finished range summary.
    pub fn poll(&mut self) {
        self.range.poll();
    }
}
