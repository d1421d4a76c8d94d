//! The Timeline view: lanes over time for threads, their regions and logs, counters and task
//! groups, zoomed and panned down to nanoseconds.
//!
//! Laid out without drawing, so tests check every frame without a GPU and the frame cost can
//! be measured apart from egui:
//!
//! - [`lanes`]: the rows and their heights, task groups folded to their header;
//! - [`xmap`]: trace time to points on screen;
//! - [`fold`]: Tracy-style folding of slices narrower than a few points, so a frame's work
//!   depends on the width of the screen, not on the trace;
//! - [`segments`]: the task lanes' state stretches, computed when first in view;
//! - [`counters`]: counter lanes folded per pixel column;
//! - [`arrow`]: the wake arrow of the selection;
//! - [`scene`]: a laid-out frame and its hit test; [`build`] lays one out;
//! - [`tooltip`]: what the tooltips say;
//!
//! then drawn: [`paint`] paints a scene; [`panel`] is the view itself (axis, lane names,
//! legend, pointer and keyboard input).

pub mod arrow;
pub mod build;
pub mod counters;
pub mod fold;
pub mod lanes;
pub mod paint;
pub mod panel;
pub mod scene;
pub mod segments;
pub mod tooltip;
pub mod xmap;

#[cfg(test)]
mod tests;
