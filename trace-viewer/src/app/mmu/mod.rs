//! The MMU view: minimum mutator utilization against window length, the MUD percentile
//! curves, each worker's curve, and the worst windows of a chosen length, each a link into
//! the timeline.
//!
//! - [`data`]: the curves, computed on a background thread;
//! - [`panel`]: the view;
//! - [`MmuState`]: the curves (computed when the view is first shown, again when the
//!   responsiveness mode changes), the responsiveness curve drawn beside the pause curve
//!   when the trace has long polls (a blocked worker shows there, not on the pause curve),
//!   and the view's options.

pub mod data;
pub mod panel;

use std::sync::Arc;

use data::MmuData;

use super::jobs::{Job, Lazy};
use super::open_trace::OpenTrace;
use trace_analysis::analysis::mmu::Window;
use trace_analysis::analysis::utilization::{UtilizationOptions, long_polls};

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
    /// While the responsiveness mode is off: draw the responsiveness curve (polls longer
    /// than the threshold unavailable) beside the pause curve, when the trace has such polls.
    pub beside: bool,
    /// List the worst windows of that curve (when drawn) rather than of the pause curve:
    /// they count pauses and long polls alike, so a blocked worker is found there.
    pub worst_of_beside: bool,
    /// The window and curve (`true`: the one beside) `worst` was listed for.
    pub worst_for: Option<(u64, bool)>,
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
    /// The responsiveness curve drawn beside: `None` inside when the trace has no poll
    /// longer than the threshold it was computed for ([`MmuState::beside_for`]).
    pub beside: Lazy<Option<MmuData>>,
    /// The threshold `beside` is (being) computed for.
    pub beside_for: Option<u64>,
}

impl Default for MmuState {
    /// No curves yet; the percentile curves shown, responsiveness mode off (1 ms offered)
    /// with its curve beside the pause curve.
    fn default() -> Self {
        MmuState {
            curves: Lazy::Idle,
            view: MmuView {
                percentiles: true,
                long_poll_threshold: 1_000_000,
                beside: true,
                worst_of_beside: true,
                ..MmuView::default()
            },
            beside: Lazy::Idle,
            beside_for: None,
        }
    }
}

impl MmuState {
    /// Starts computing the curves of `trace`, unless they are, and the responsiveness
    /// curve beside them when it is shown; `wake` asks for a repaint.
    pub fn ensure(
        &mut self,
        trace: &Arc<OpenTrace>,
        wake: impl Fn() + Send + Sync + Clone + 'static,
    ) {
        if matches!(self.curves, Lazy::Idle) {
            let trace = trace.clone();
            let options = UtilizationOptions {
                long_poll: self.view.long_poll,
            };
            self.curves = Lazy::Running(Job::spawn("MMU", wake.clone(), move |h| {
                MmuData::compute(&trace.model, options, &|d, t| h.progress(d, t))
            }));
        }
        let threshold = self.view.long_poll_threshold;
        if self.beside_shown() && self.beside_for != Some(threshold) {
            if let Lazy::Running(job) = &self.beside {
                job.cancel();
            }
            self.beside_for = Some(threshold);
            let trace = trace.clone();
            self.beside = Lazy::Running(Job::spawn("MMU (responsiveness)", wake, move |h| {
                // Without a poll that long the curve is the pause curve: not drawn twice.
                if long_polls(&trace.model, threshold).is_none_or(|l| l.count == 0) {
                    return Ok(None);
                }
                let options = UtilizationOptions {
                    long_poll: Some(threshold),
                };
                MmuData::compute(&trace.model, options, &|d, t| h.progress(d, t)).map(Some)
            }));
        }
    }

    /// Whether the responsiveness curve is wanted beside the pause curve (the mode is off
    /// and the option on).
    pub fn beside_shown(&self) -> bool {
        self.view.beside && self.view.long_poll.is_none()
    }

    /// The responsiveness curve to draw beside the pause curve, when it is shown, ready and
    /// the trace has long polls.
    pub fn beside_curve(&self) -> Option<&MmuData> {
        if !self.beside_shown() || self.beside_for != Some(self.view.long_poll_threshold) {
            return None;
        }
        self.beside.get().and_then(|d| d.as_ref().as_ref())
    }

    /// Picks up the finished curves.
    pub fn poll(&mut self) {
        self.curves.poll();
        self.beside.poll();
    }

    /// Chooses the window whose worst windows are listed.
    pub fn choose_window(&mut self, window: u64) {
        if self.curves.get().is_some() {
            self.view.chosen = Some(window);
            self.refresh_worst();
        }
    }

    /// Whether the worst windows listed are the responsiveness curve's: asked for, and that
    /// curve drawn.
    pub fn worst_of_beside(&self) -> bool {
        self.view.worst_of_beside && self.beside_curve().is_some()
    }

    /// Lists the worst windows of the chosen length again when the window or the curve
    /// they come from changed (the curve beside may come in, or be hidden, later).
    pub fn refresh_worst(&mut self) {
        let Some(window) = self.view.chosen else {
            return;
        };
        let of_beside = self.worst_of_beside();
        if self.view.worst_for == Some((window, of_beside)) {
            return;
        }
        let data = if of_beside {
            self.beside_curve()
        } else {
            self.curves.get().map(|d| &**d)
        };
        if let Some(d) = data {
            self.view.worst = d.worst(window);
            self.view.worst_for = Some((window, of_beside));
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
        self.view.worst_for = None;
    }
}
