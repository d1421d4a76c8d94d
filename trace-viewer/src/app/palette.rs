//! Colours: one per task state (the same in lanes, legend and details), a stable colour per
//! task for worker lanes, and the colours of folds, idle time, pauses and lost data.

use egui::Color32;

use crate::app::counters::CounterStyle;
use trace_analysis::analysis::states::{TaskState, WaitReason};
use trace_analysis::model::TaskIx;

/// The colour of a task state.
pub fn state_color(state: TaskState) -> Color32 {
    match state {
        TaskState::Running => Color32::from_rgb(76, 175, 80),
        TaskState::SchedWait => Color32::from_rgb(255, 179, 0),
        TaskState::Paused => Color32::from_rgb(229, 57, 53),
        TaskState::Waiting(r) => match r {
            WaitReason::Task => Color32::from_rgb(121, 134, 203),
            WaitReason::Io => Color32::from_rgb(79, 195, 247),
            WaitReason::Timer => Color32::from_rgb(186, 104, 200),
            WaitReason::Blocking => Color32::from_rgb(161, 136, 127),
            WaitReason::Foreign => Color32::from_rgb(240, 98, 146),
            WaitReason::SelfWake => Color32::from_rgb(174, 213, 129),
            WaitReason::Unknown => Color32::from_rgb(96, 112, 122),
        },
    }
}

/// Every state, in legend order.
pub fn legend_states() -> Vec<TaskState> {
    let mut v = vec![TaskState::Running, TaskState::SchedWait];
    v.extend(WaitReason::ALL.into_iter().map(TaskState::Waiting));
    v.push(TaskState::Paused);
    v
}

/// A stable, distinct-looking colour for a task's polls on worker lanes.
pub fn task_color(task: TaskIx) -> Color32 {
    // Golden-ratio hue steps keep neighbouring task ids apart.
    let h = (f64::from(task.0) * 0.618_033_988_75).fract() as f32;
    egui::ecolor::Hsva::new(h, 0.55, 0.80, 1.0).into()
}

/// Folded slices.
pub const FOLDED: Color32 = Color32::from_rgb(140, 140, 140);
/// A folded stretch of task states: its main state's colour, darkened.
pub fn folded(c: Color32) -> Color32 {
    Color32::from_rgb(
        (u16::from(c.r()) * 5 / 8) as u8,
        (u16::from(c.g()) * 5 / 8) as u8,
        (u16::from(c.b()) * 5 / 8) as u8,
    )
}

/// Idle (parked) threads.
pub const PARK: Color32 = Color32::from_rgb(95, 95, 95);
/// Thread-scoped pauses.
pub const THREAD_PAUSE: Color32 = Color32::from_rgb(229, 57, 53);
/// Process-wide pauses, over all lanes.
pub const PROCESS_PAUSE: Color32 = Color32::from_rgba_premultiplied(60, 12, 12, 60);
/// Holes in the data.
pub const LOST: Color32 = Color32::from_rgb(255, 40, 40);

/// The line colour of a counter lane.
pub fn counter_color(style: CounterStyle) -> Color32 {
    match style {
        CounterStyle::Memory => Color32::from_rgb(255, 167, 38),
        CounterStyle::Queue => Color32::from_rgb(79, 195, 247),
        CounterStyle::Population => Color32::from_rgb(129, 199, 132),
        CounterStyle::User => Color32::from_rgb(206, 147, 216),
    }
}

/// The area under a counter's line: its colour, faint.
pub fn counter_area(style: CounterStyle) -> Color32 {
    counter_color(style).gamma_multiply(0.3)
}

/// A region's colour, by its name: soft, so the labels stay readable.
pub fn region_color(name: trace_format::StringId) -> Color32 {
    let h = (f64::from(name.0) * 0.618_033_988_75 + 0.3).fract() as f32;
    egui::ecolor::Hsva::new(h, 0.35, 0.85, 1.0).into()
}

/// A log marker's colour, by level.
pub fn log_color(level: trace_format::Level) -> Color32 {
    use trace_format::Level;
    match level {
        Level::Error => Color32::from_rgb(255, 82, 82),
        Level::Warn => Color32::from_rgb(255, 193, 7),
        Level::Info => Color32::from_rgb(100, 181, 246),
        Level::Debug => Color32::from_rgb(176, 190, 197),
        Level::Trace => Color32::from_rgb(120, 130, 135),
    }
}
