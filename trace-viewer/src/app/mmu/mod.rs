//! The MMU view: minimum mutator utilization against window length, the MUD percentile
//! curves, each worker's curve, and the worst windows of a chosen length, each a link into
//! the timeline.
//!
//! - [`data`]: the curves, computed on a background thread;
//! - [`panel`]: the view;
//! - [`MmuState`]: the curves (computed when the view is first shown, again when the
//!   responsiveness mode changes) and the view's options.

pub mod data;
pub mod panel;

use std::sync::Arc;

use data::MmuData;

use super::jobs::{Job, Lazy};
use super::open_trace::OpenTrace;
use trace_analysis::analysis::mmu::Window;
use trace_analysis::analysis::utilization::UtilizationOptions;

/// The MMU view's options and chosen window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MmuView {
    /// Show each worker's curve.
    pub per_worker: bool,
    /// Show the MUD percentile curves.
    pub percentiles: bool,
    /// The window whose worst windows are listed.
    pub chosen: Option<u64>,
    /// Those worst windows.
    pub worst: Vec<Window>,
    /// Responsiveness mode: polls longer than this count as unavailable (`None`: off).
    pub long_poll: Option<u64>,
    /// The threshold the responsiveness toggle turns on.
    pub long_poll_threshold: u64,
}

/// The long-poll thresholds offered in the MMU view.
pub const LONG_POLL_THRESHOLDS: [u64; 4] = [100_000, 1_000_000, 10_000_000, 100_000_000];

/// The MMU view's state.
#[derive(Debug)]
pub struct MmuState {
    /// The curves, computed when the view is first shown.
    pub curves: Lazy<MmuData>,
    /// The options and the chosen window.
    pub view: MmuView,
}

impl Default for MmuState {
    /// No curves yet; the percentile curves shown, responsiveness mode off (1 ms offered).
    fn default() -> Self {
        MmuState {
            curves: Lazy::Idle,
            view: MmuView {
                percentiles: true,
                long_poll_threshold: 1_000_000,
                ..MmuView::default()
            },
        }
    }
}

impl MmuState {
    /// Starts computing the curves of `trace`, unless they are; `wake` asks for a repaint.
    pub fn ensure(&mut self, trace: &Arc<OpenTrace>, wake: impl Fn() + Send + Sync + 'static) {
        if matches!(self.curves, Lazy::Idle) {
            let trace = trace.clone();
            let options = UtilizationOptions {
                long_poll: self.view.long_poll,
            };
            self.curves = Lazy::Running(Job::spawn("MMU", wake, move |h| {
                MmuData::compute(&trace.model, options, &|d, t| h.progress(d, t))
            }));
        }
    }

    /// Picks up the finished curves.
    pub fn poll(&mut self) {
        self.curves.poll();
    }

    /// Chooses the window whose worst windows are listed.
    pub fn choose_window(&mut self, window: u64) {
        if let Some(d) = self.curves.get() {
            self.view.worst = d.worst(window);
            self.view.chosen = Some(window);
        }
    }

    /// Turns the responsiveness mode on (polls longer than `threshold` count as unavailable)
    /// or off (`None`); the curves are computed again and the chosen window forgotten.
    pub fn set_long_poll(&mut self, long_poll: Option<u64>) {
        if let Some(t) = long_poll {
            self.view.long_poll_threshold = t;
        }
        if long_poll == self.view.long_poll {
            return;
        }
        self.view.long_poll = long_poll;
        if let Lazy::Running(job) = &self.curves {
            job.cancel();
        }
        self.curves = Lazy::Idle;
        self.view.chosen = None;
        self.view.worst.clear();
    }
}
