//! View state of the window, kept apart from drawing so it can be tested without egui: the
//! visible time range and the zoom/pan math on it, the vertical scroll of the lanes, and what
//! is selected.
//!
//! Times are nanoseconds since the trace start as `f64`, so a view can be a few nanoseconds
//! wide anywhere in a trace of hours (an `f64` holds every integer nanosecond up to 104 days).

use trace_analysis::analysis::states::TaskState;
use trace_analysis::model::{Model, Nanos, Span, TaskIx, ThreadIx};

/// The narrowest view: this many nanoseconds across the whole timeline.
pub const MIN_SPAN_NS: f64 = 10.0;

/// How far one zoom step goes — a key press (W/S) or one notch of a mouse wheel: the view's
/// span is divided (W, wheel up) or multiplied (S, wheel down) by it. Fine enough to stop
/// where wanted; ten steps are 9.3×.
pub const KEY_ZOOM_FACTOR: f64 = 1.25;

/// The points one wheel notch (one line, as winit reports a mouse wheel) scrolls: the
/// timeline turns a line into this many points, and this many points zoom one
/// [`KEY_ZOOM_FACTOR`] step.
pub const WHEEL_NOTCH_POINTS: f32 = 40.0;

/// How far a key press (A/D) pans, as a share of the view's span.
pub const KEY_PAN_FRACTION: f64 = 0.1;

/// The visible time range `[start, end)` of the timeline, in nanoseconds since the trace start.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeView {
    /// Time at the left edge.
    pub start: f64,
    /// Time at the right edge (> `start`).
    pub end: f64,
}

impl TimeView {
    /// The whole of `trace`, with a small margin on both sides so the first and last slices
    /// do not touch the edges.
    pub fn fit(trace: Span) -> TimeView {
        Self::fit_span(trace.start as f64, trace.end as f64)
    }

    /// `[start, end)` with a 2% margin each side, at least [`MIN_SPAN_NS`] wide.
    pub fn fit_span(start: f64, end: f64) -> TimeView {
        let len = (end - start).max(MIN_SPAN_NS);
        let margin = len * 0.02;
        let mid = (start + end) / 2.0;
        let half = len / 2.0 + margin;
        TimeView {
            start: mid - half,
            end: mid + half,
        }
    }

    /// `end - start`.
    pub fn span(&self) -> f64 {
        self.end - self.start
    }

    /// The time at horizontal position `x` of a timeline drawn from `left` to `left + width`.
    pub fn time_at(&self, x: f32, left: f32, width: f32) -> f64 {
        self.start + (f64::from(x - left) / f64::from(width.max(1.0))) * self.span()
    }

    /// The horizontal position of time `t` on a timeline drawn from `left` to `left + width`.
    pub fn x_of(&self, t: f64, left: f32, width: f32) -> f32 {
        left + ((t - self.start) / self.span() * f64::from(width)) as f32
    }

    /// Zooms by `factor` (> 1 zooms in: the span shrinks by that factor) keeping time
    /// `anchor` where it is on screen, within the limits of [`Limits`].
    pub fn zoom(&mut self, factor: f64, anchor: f64, limits: &Limits) {
        if !(factor.is_finite() && factor > 0.0) {
            return;
        }
        let span = (self.span() / factor).clamp(MIN_SPAN_NS, limits.max_span());
        // Where the anchor sits, as a share of the width: kept.
        let at = ((anchor - self.start) / self.span()).clamp(0.0, 1.0);
        self.start = anchor - at * span;
        self.end = self.start + span;
        self.clamp_to(limits);
    }

    /// Zooms by `factor` around the time under `x`.
    pub fn zoom_at_x(&mut self, factor: f64, x: f32, left: f32, width: f32, limits: &Limits) {
        let anchor = self.time_at(x, left, width);
        self.zoom(factor, anchor, limits);
    }

    /// Moves the view by `dt` nanoseconds (positive: later), within the limits.
    pub fn pan(&mut self, dt: f64, limits: &Limits) {
        if !dt.is_finite() {
            return;
        }
        self.start += dt;
        self.end += dt;
        self.clamp_to(limits);
    }

    /// Moves the view as a drag of `dx` points would move the content (positive `dx`: the
    /// content moves right, so the view moves to earlier times).
    pub fn pan_px(&mut self, dx: f32, width: f32, limits: &Limits) {
        let dt = -f64::from(dx) / f64::from(width.max(1.0)) * self.span();
        self.pan(dt, limits);
    }

    /// Keeps at least part of the trace in view, and the span within the zoom limits.
    fn clamp_to(&mut self, limits: &Limits) {
        let span = self.span().clamp(MIN_SPAN_NS, limits.max_span());
        // The view may run past either end of the trace by up to 90% of its width.
        let lo = limits.trace.start as f64 - span * 0.9;
        let hi = (limits.trace.end as f64 + span * 0.9 - span).max(lo);
        self.start = self.start.clamp(lo, hi);
        self.end = self.start + span;
    }

    /// True when `span` overlaps the view.
    pub fn overlaps(&self, span: Span) -> bool {
        (span.start as f64) < self.end && (span.end as f64) >= self.start
    }
}

/// What the view may show: zooming out stops at a little more than the whole trace, panning
/// keeps part of the trace in view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The trace's extent.
    pub trace: Span,
}

impl Limits {
    /// The widest span a view may have: the trace and a margin.
    pub fn max_span(&self) -> f64 {
        (self.trace.len() as f64 * 1.2).max(MIN_SPAN_NS * 10.0)
    }
}

/// A thing that can be clicked in the timeline and shown in the details panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// A task; `poll` and `segment` say what of it was clicked, if anything.
    Task {
        /// The task.
        task: TaskIx,
        /// The poll clicked (an index into `Model::polls`), when a poll was clicked.
        poll: Option<u32>,
        /// The state stretch clicked in the task's lane, when one was.
        segment: Option<(Span, TaskState)>,
    },
    /// A thread (its lane label was clicked).
    Thread(ThreadIx),
}

impl Selection {
    /// The task selected, if any.
    pub fn task(&self) -> Option<TaskIx> {
        match *self {
            Selection::Task { task, .. } => Some(task),
            Selection::Thread(_) => None,
        }
    }

    /// Just a task.
    pub fn of_task(task: TaskIx) -> Selection {
        Selection::Task {
            task,
            poll: None,
            segment: None,
        }
    }
}

/// The view: time range, vertical scroll of the lanes, selection.
#[derive(Debug, Clone, PartialEq)]
pub struct ViewState {
    /// The visible time range.
    pub time: TimeView,
    /// The zoom and pan limits.
    pub limits: Limits,
    /// How far the lanes are scrolled down, in points.
    pub scroll_y: f32,
    /// What is selected.
    pub selection: Option<Selection>,
    /// The selected time range (dragged on the time axis, or shift + drag on the lanes).
    pub range: Option<Span>,
    /// Where the range drag started, while it goes on.
    pub range_anchor: Option<f64>,
}

impl ViewState {
    /// A view of the whole trace, nothing selected.
    pub fn new(trace: Span) -> ViewState {
        ViewState {
            time: TimeView::fit(trace),
            limits: Limits { trace },
            scroll_y: 0.0,
            selection: None,
            range: None,
            range_anchor: None,
        }
    }

    /// Shows the whole trace.
    pub fn fit_all(&mut self) {
        self.time = TimeView::fit(self.limits.trace);
    }

    /// Shows `span` (with a margin), at least [`MIN_SPAN_NS`] wide.
    pub fn fit_to(&mut self, span: Span) {
        self.time = TimeView::fit_span(span.start as f64, span.end as f64);
        let limits = self.limits;
        self.time.zoom(1.0, self.time.start, &limits);
    }

    /// F: fits the view to the selected range, else the selection (the clicked poll or
    /// stretch, else the task's lifetime), or to the whole trace when nothing is selected.
    pub fn fit_selection(&mut self, model: &Model) {
        if let Some(range) = self.range {
            self.fit_to(range);
            return;
        }
        match self.selection {
            Some(Selection::Task { poll: Some(p), .. }) => {
                self.fit_to(model.polls[p as usize].span())
            }
            Some(Selection::Task {
                segment: Some((span, _)),
                ..
            }) => self.fit_to(span),
            Some(Selection::Task { task, .. }) => {
                self.fit_to(model.tasks[task.index()].lifetime(model.end))
            }
            _ => self.fit_all(),
        }
    }

    /// W (`in_ = true`) or S: one zoom step around `anchor` (the time under the pointer, or
    /// the middle of the view).
    pub fn key_zoom(&mut self, zoom_in: bool, anchor: Option<f64>) {
        let anchor = anchor.unwrap_or((self.time.start + self.time.end) / 2.0);
        let factor = if zoom_in {
            KEY_ZOOM_FACTOR
        } else {
            1.0 / KEY_ZOOM_FACTOR
        };
        let limits = self.limits;
        self.time.zoom(factor, anchor, &limits);
    }

    /// A (`later = false`) or D: one pan step.
    pub fn key_pan(&mut self, later: bool) {
        let dt = self.time.span() * KEY_PAN_FRACTION;
        let limits = self.limits;
        self.time.pan(if later { dt } else { -dt }, &limits);
    }

    /// Scrolls the lanes by `dy` points (positive: content moves down, showing earlier
    /// lanes), keeping the scroll within `[0, content_height - viewport_height]`.
    pub fn scroll_by(&mut self, dy: f32, content_height: f32, viewport_height: f32) {
        self.scroll_y =
            (self.scroll_y - dy).clamp(0.0, (content_height - viewport_height).max(0.0));
    }

    /// Keeps the scroll valid after the content or the viewport changed size.
    pub fn clamp_scroll(&mut self, content_height: f32, viewport_height: f32) {
        self.scroll_by(0.0, content_height, viewport_height);
    }

    /// The `[start, end)` whole nanoseconds the view shows, clamped to non-negative times
    /// (what the lane queries take).
    pub fn visible_nanos(&self) -> (Nanos, Nanos) {
        let t0 = self.time.start.max(0.0).floor() as Nanos;
        let t1 = self.time.end.max(0.0).ceil() as Nanos;
        (t0, t1.max(t0))
    }
}

impl ViewState {
    /// Starts selecting a range at time `t`.
    pub fn range_start(&mut self, t: f64) {
        self.range_anchor = Some(t);
        self.range = None;
    }

    /// The range drag is at time `t`: the range runs from the anchor to `t` (either way),
    /// clamped to the trace, whole nanoseconds, at least 1 ns.
    pub fn range_drag(&mut self, t: f64) {
        let Some(a) = self.range_anchor else {
            return;
        };
        let trace = self.limits.trace;
        let clamp = |x: f64| x.clamp(trace.start as f64, trace.end as f64);
        let (lo, hi) = (clamp(a.min(t)), clamp(a.max(t)));
        let start = lo.floor() as Nanos;
        let end = (hi.ceil() as Nanos).max(start + 1);
        self.range = Some(Span::new(start, end));
    }

    /// The range drag ended.
    pub fn range_end(&mut self) {
        self.range_anchor = None;
    }
}

/// Where the timeline is on screen, for turning input into view changes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Geometry {
    /// Left edge of the lanes area.
    pub left: f32,
    /// Its width.
    pub width: f32,
    /// Its height.
    pub viewport_height: f32,
    /// The height of all lanes.
    pub content_height: f32,
}

/// One user gesture on the timeline.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ViewInput {
    /// Mouse wheel over the lanes at `x`: `dy` zooms around `x` (up: in), `dx` pans
    /// (a horizontal wheel or trackpad swipe; shift turns a vertical wheel into one).
    Wheel {
        /// Horizontal movement, in points (positive: content moves right).
        dx: f32,
        /// Vertical movement, in points (positive: wheel up).
        dy: f32,
        /// Pointer position.
        x: f32,
    },
    /// Mouse wheel over the lane labels: scrolls the lanes.
    ScrollLanes {
        /// Positive: content moves down.
        dy: f32,
    },
    /// The lanes dragged by `(dx, dy)` points: pans in time and scrolls.
    Drag {
        /// Horizontal.
        dx: f32,
        /// Vertical.
        dy: f32,
    },
    /// W (`zoom_in`) or S, around the pointer when it is over the lanes.
    KeyZoom {
        /// W.
        zoom_in: bool,
        /// Pointer position, if over the lanes.
        x: Option<f32>,
    },
    /// A or D (`later`).
    KeyPan {
        /// D.
        later: bool,
    },
}

impl ViewState {
    /// Applies a gesture.
    pub fn apply(&mut self, input: ViewInput, g: &Geometry) {
        let limits = self.limits;
        match input {
            ViewInput::Wheel { dx, dy, x } => {
                if dy != 0.0 {
                    self.time
                        .zoom_at_x(wheel_zoom_factor(dy), x, g.left, g.width, &limits);
                }
                if dx != 0.0 {
                    self.time.pan_px(dx, g.width, &limits);
                }
            }
            ViewInput::ScrollLanes { dy } => {
                self.scroll_by(dy, g.content_height, g.viewport_height);
            }
            ViewInput::Drag { dx, dy } => {
                if dx != 0.0 {
                    self.time.pan_px(dx, g.width, &limits);
                }
                if dy != 0.0 {
                    self.scroll_by(dy, g.content_height, g.viewport_height);
                }
            }
            ViewInput::KeyZoom { zoom_in, x } => {
                let anchor = x.map(|x| self.time.time_at(x, g.left, g.width));
                self.key_zoom(zoom_in, anchor);
            }
            ViewInput::KeyPan { later } => self.key_pan(later),
        }
    }
}

/// The zoom factor for a mouse-wheel movement of `dy` points (positive: wheel up, zoom in):
/// one zoom step ([`KEY_ZOOM_FACTOR`]) per notch ([`WHEEL_NOTCH_POINTS`]), and in proportion
/// for the finer movements of a trackpad.
///
/// ```
/// use trace_viewer::app::view::{KEY_ZOOM_FACTOR, WHEEL_NOTCH_POINTS, wheel_zoom_factor};
/// assert!((wheel_zoom_factor(WHEEL_NOTCH_POINTS) - KEY_ZOOM_FACTOR).abs() < 1e-12);
/// ```
pub fn wheel_zoom_factor(dy: f32) -> f64 {
    KEY_ZOOM_FACTOR.powf(f64::from(dy) / f64::from(WHEEL_NOTCH_POINTS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            trace: Span::new(0, 1_000_000_000),
        }
    }

    #[test]
    fn fit_shows_the_whole_trace_with_a_margin() {
        let v = TimeView::fit(Span::new(1_000, 2_000));
        assert!(v.start < 1_000.0 && v.end > 2_000.0, "{v:?}");
        assert!((v.span() - 1_040.0).abs() < 1e-9, "{v:?}");
    }

    #[test]
    fn x_and_time_are_inverse() {
        let v = TimeView {
            start: 100.0,
            end: 1_100.0,
        };
        for x in [10.0f32, 60.0, 510.0, 1_010.0] {
            let t = v.time_at(x, 10.0, 1_000.0);
            assert!((v.x_of(t, 10.0, 1_000.0) - x).abs() < 1e-3);
        }
        assert_eq!(v.time_at(10.0, 10.0, 1_000.0), 100.0);
        assert_eq!(v.time_at(1_010.0, 10.0, 1_000.0), 1_100.0);
    }

    #[test]
    fn zoom_keeps_the_point_under_the_cursor_fixed() {
        let limits = limits();
        let mut v = TimeView {
            start: 200_000_000.0,
            end: 600_000_000.0,
        };
        let (left, width) = (50.0, 800.0);
        for (factor, x) in [(2.0, 250.0f32), (1.7, 700.0), (0.5, 60.0), (10.0, 849.0)] {
            let before = v.time_at(x, left, width);
            v.zoom_at_x(factor, x, left, width, &limits);
            let after = v.time_at(x, left, width);
            assert!(
                (before - after).abs() < 1e-6 * v.span().max(1.0),
                "{factor} at {x}: {before} → {after}"
            );
        }
    }

    #[test]
    fn zoom_goes_down_to_nanoseconds_and_out_to_the_trace() {
        let limits = limits();
        let mut v = TimeView::fit(limits.trace);
        for _ in 0..200 {
            v.zoom(2.0, 123_456_789.0, &limits);
        }
        assert_eq!(v.span(), MIN_SPAN_NS);
        assert!(v.start <= 123_456_789.0 && v.end >= 123_456_789.0, "{v:?}");
        for _ in 0..200 {
            v.zoom(0.5, 5.0, &limits);
        }
        assert!((v.span() - limits.max_span()).abs() < 1e-3, "{v:?}");
        assert!(v.overlaps(limits.trace));
    }

    #[test]
    fn pan_moves_by_the_drag_and_keeps_the_trace_in_reach() {
        let limits = limits();
        let mut v = TimeView {
            start: 400_000_000.0,
            end: 500_000_000.0,
        };
        // Dragging the content 100 points left on an 1000-point timeline shows 10% later.
        v.pan_px(-100.0, 1_000.0, &limits);
        assert!((v.start - 410_000_000.0).abs() < 1e-3, "{v:?}");
        assert!((v.span() - 100_000_000.0).abs() < 1e-3);
        v.pan(1e12, &limits);
        assert!(v.start < 1_000_000_000.0, "{v:?}");
        assert!(v.overlaps(limits.trace));
        v.pan(-1e12, &limits);
        assert!(v.end > 0.0, "{v:?}");
        assert!((v.span() - 100_000_000.0).abs() < 1e-3);
    }

    #[test]
    fn bad_factors_and_deltas_are_ignored() {
        let limits = limits();
        let mut v = TimeView::fit(limits.trace);
        let before = v;
        v.zoom(f64::NAN, 0.0, &limits);
        v.zoom(0.0, 0.0, &limits);
        v.zoom(-1.0, 0.0, &limits);
        v.pan(f64::INFINITY, &limits);
        assert_eq!(v, before);
    }

    #[test]
    fn keys_zoom_and_pan_in_steps() {
        let mut s = ViewState::new(Span::new(0, 1_000_000));
        let span = s.time.span();
        s.key_zoom(true, None);
        assert!((s.time.span() - span / KEY_ZOOM_FACTOR).abs() < 1e-6);
        s.key_zoom(false, None);
        assert!((s.time.span() - span).abs() < 1e-6);
        s.key_zoom(true, None);
        let start = s.time.start;
        s.key_pan(true);
        assert!((s.time.start - start - s.time.span() * KEY_PAN_FRACTION).abs() < 1e-6);
        s.key_pan(false);
        assert!((s.time.start - start).abs() < 1e-6);
    }

    #[test]
    fn fit_to_a_tiny_span_stays_at_the_minimum_width() {
        let mut s = ViewState::new(Span::new(0, 1_000_000));
        s.fit_to(Span::new(500, 501));
        assert!(s.time.span() >= MIN_SPAN_NS);
        assert!(s.time.start <= 500.0 && s.time.end >= 501.0, "{:?}", s.time);
    }

    #[test]
    fn scroll_stays_within_the_content() {
        let mut s = ViewState::new(Span::new(0, 10));
        s.scroll_by(-50.0, 1_000.0, 300.0);
        assert_eq!(s.scroll_y, 50.0);
        s.scroll_by(-10_000.0, 1_000.0, 300.0);
        assert_eq!(s.scroll_y, 700.0);
        s.scroll_by(10_000.0, 1_000.0, 300.0);
        assert_eq!(s.scroll_y, 0.0);
        s.scroll_by(-10.0, 100.0, 300.0);
        assert_eq!(s.scroll_y, 0.0);
    }

    #[test]
    fn visible_nanos_cover_the_view() {
        let mut s = ViewState::new(Span::new(0, 1_000));
        s.time = TimeView {
            start: -10.5,
            end: 99.5,
        };
        assert_eq!(s.visible_nanos(), (0, 100));
    }

    #[test]
    fn gestures_zoom_pan_and_scroll() {
        let mut s = ViewState::new(Span::new(0, 1_000_000));
        let g = Geometry {
            left: 100.0,
            width: 1_000.0,
            viewport_height: 200.0,
            content_height: 1_000.0,
        };
        // Wheel up at x = 300 zooms in there.
        let at = s.time.time_at(300.0, g.left, g.width);
        let span = s.time.span();
        s.apply(
            ViewInput::Wheel {
                dx: 0.0,
                dy: 50.0,
                x: 300.0,
            },
            &g,
        );
        assert!(s.time.span() < span);
        assert!((s.time.time_at(300.0, g.left, g.width) - at).abs() < 1e-6);
        // Dragging right shows earlier times and scrolls.
        s.scroll_y = 100.0;
        let start = s.time.start;
        s.apply(
            ViewInput::Drag {
                dx: 100.0,
                dy: 30.0,
            },
            &g,
        );
        assert!((start - s.time.start - s.time.span() / 10.0).abs() < 1e-6);
        assert_eq!(s.scroll_y, 70.0);
        s.apply(ViewInput::ScrollLanes { dy: -1_000.0 }, &g);
        assert_eq!(s.scroll_y, 800.0);
        // W at the pointer keeps the pointer's time.
        let at = s.time.time_at(900.0, g.left, g.width);
        s.apply(
            ViewInput::KeyZoom {
                zoom_in: true,
                x: Some(900.0),
            },
            &g,
        );
        assert!((s.time.time_at(900.0, g.left, g.width) - at).abs() < 1e-6);
        let start = s.time.start;
        s.apply(ViewInput::KeyPan { later: true }, &g);
        assert!(s.time.start > start);
    }

    #[test]
    fn a_range_is_dragged_either_way_and_kept_in_the_trace() {
        let mut s = ViewState::new(Span::new(100, 1_000));
        s.range_drag(500.0);
        assert_eq!(s.range, None, "no drag started");
        s.range_start(700.4);
        s.range_drag(300.6);
        assert_eq!(s.range, Some(Span::new(300, 701)));
        s.range_drag(5_000.0);
        assert_eq!(s.range, Some(Span::new(700, 1_000)));
        s.range_drag(700.4);
        assert_eq!(s.range, Some(Span::new(700, 701)), "at least 1 ns");
        s.range_end();
        assert_eq!(s.range_anchor, None);
        assert_eq!(s.range, Some(Span::new(700, 701)));
    }

    #[test]
    fn wheel_up_zooms_in() {
        assert!(wheel_zoom_factor(40.0) > 1.0);
        assert!(wheel_zoom_factor(-40.0) < 1.0);
        assert_eq!(wheel_zoom_factor(0.0), 1.0);
    }

    #[test]
    fn a_wheel_notch_zooms_as_far_as_a_key_press() {
        let notch = wheel_zoom_factor(WHEEL_NOTCH_POINTS);
        assert!((notch - KEY_ZOOM_FACTOR).abs() < 1e-12, "{notch}");
        let out = wheel_zoom_factor(-WHEEL_NOTCH_POINTS);
        assert!((out - 1.0 / KEY_ZOOM_FACTOR).abs() < 1e-12, "{out}");
        // Half a notch (a trackpad's finer steps) is half the step, in log terms.
        let half = wheel_zoom_factor(WHEEL_NOTCH_POINTS / 2.0);
        assert!((half * half - KEY_ZOOM_FACTOR).abs() < 1e-12, "{half}");
        // In a view: one notch at the middle zooms as far as W.
        let g = Geometry {
            left: 0.0,
            width: 1_000.0,
            viewport_height: 200.0,
            content_height: 1_000.0,
        };
        let mut key = ViewState::new(Span::new(0, 1_000_000));
        let mut wheel = key.clone();
        key.apply(
            ViewInput::KeyZoom {
                zoom_in: true,
                x: Some(500.0),
            },
            &g,
        );
        wheel.apply(
            ViewInput::Wheel {
                dx: 0.0,
                dy: WHEEL_NOTCH_POINTS,
                x: 500.0,
            },
            &g,
        );
        let (k, w) = (key.time.span(), wheel.time.span());
        assert!((k - w).abs() < 1e-6 * k, "{k} {w}");
    }
}
