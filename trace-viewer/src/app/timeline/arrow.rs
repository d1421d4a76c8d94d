//! The wake arrow: from a wake, on its thread's lane, to what it made runnable (the poll it
//! readied, or the end of the wait it ended).

use egui::{Pos2, Rect, pos2};

use super::lanes::{LaneKind, Lanes};
use super::xmap::XMap;
use crate::app::details::wake::{WakeLink, WakeTarget};
use trace_analysis::model::TaskIx;

/// An arrow, in screen points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrow {
    /// The tail.
    pub from: Pos2,
    /// The head.
    pub to: Pos2,
}

/// The arrow of `link` in a frame showing `lanes` scrolled by `scroll_y` in `area`, if both
/// its ends have a lane (either may be off screen: the painter clips it).
pub fn wake_arrow(
    lanes: &Lanes,
    link: &WakeLink,
    xmap: &XMap,
    area: Rect,
    scroll_y: f32,
) -> Option<Arrow> {
    let centre =
        |i: usize| area.top() + lanes.screen_top(i, scroll_y) + lanes.lanes[i].height / 2.0;
    let task_lane = |task: TaskIx| {
        lanes
            .lanes
            .iter()
            .position(|l| matches!(l.kind, LaneKind::Task { task: t, .. } if t == task))
    };
    let w = link.wake;
    let from = lanes.find(LaneKind::Thread(w.thread)).or_else(|| {
        (w.waker != TaskIx::NONE)
            .then(|| task_lane(w.waker))
            .flatten()
    })?;
    let to = match link.to {
        WakeTarget::Thread(t) => lanes.find(LaneKind::Thread(t)),
        WakeTarget::Task(t) => task_lane(t),
    }?;
    Some(Arrow {
        from: pos2(xmap.x(w.time), centre(from)),
        to: pos2(xmap.x(link.to_time), centre(to)),
    })
}
