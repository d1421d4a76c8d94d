//! The horizontal mapping of a frame: trace time to points on screen, and back.

use crate::app::view::TimeView;
use trace_analysis::model::Nanos;

/// Maps trace time to horizontal position in points, and back.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct XMap {
    /// Time at `left`.
    pub t0: f64,
    /// Nanoseconds per point.
    pub ns_per_px: f64,
    /// Left edge of the timeline.
    pub left: f32,
    /// Its width.
    pub width: f32,
}

impl XMap {
    /// The mapping that shows `view` from `left` over `width` points.
    pub fn new(view: &TimeView, left: f32, width: f32) -> XMap {
        let width = width.max(1.0);
        XMap {
            t0: view.start,
            ns_per_px: view.span() / f64::from(width),
            left,
            width,
        }
    }

    /// The position of `t`, clamped to a little beyond the timeline's edges (so a slice that
    /// runs off screen keeps a sane width).
    pub fn x(&self, t: Nanos) -> f32 {
        let x = (t as f64 - self.t0) / self.ns_per_px;
        let margin = 1_000.0;
        x.clamp(-margin, f64::from(self.width) + margin) as f32 + self.left
    }

    /// The time at position `x`.
    pub fn t(&self, x: f32) -> f64 {
        self.t0 + f64::from(x - self.left) * self.ns_per_px
    }

    /// The whole nanoseconds in view, `[t0, t1)`, clamped at 0.
    pub fn visible_nanos(&self) -> (Nanos, Nanos) {
        let t0 = self.t0.max(0.0).floor() as Nanos;
        let t1 = self.t(self.left + self.width).max(0.0).ceil() as Nanos;
        (t0, t1.max(t0))
    }
}
