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
        // Darker than anything drawn: nothing is known there.
        TaskState::NoData => Color32::from_rgb(45, 45, 52),
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
    v.push(TaskState::NoData);
    v
}

/// A stable colour for a task's polls on worker lanes: a dark, muted tone whose hue steps
/// with the task, so neighbouring polls of different tasks differ, yet no poll can be read as
/// a state of the legend (all of those are lighter or greyer: see [`MIN_TASK_STATE_DISTANCE`]).
///
/// ```
/// use trace_viewer::app::palette::task_color;
/// use trace_analysis::model::TaskIx;
/// assert_ne!(task_color(TaskIx(1)), task_color(TaskIx(2)));
/// ```
pub fn task_color(task: TaskIx) -> Color32 {
    // Golden-ratio hue steps keep neighbouring task ids apart; a fixed Oklab lightness and
    // chroma keep every hue equally far from the (lighter, or grey) state colours.
    let h = (f64::from(task.0) * 0.618_033_988_75).fract() * std::f64::consts::TAU;
    from_oklab([TASK_LIGHTNESS, TASK_CHROMA * h.cos(), TASK_CHROMA * h.sin()])
}

/// Oklab lightness of the task colours: darker than every state colour.
const TASK_LIGHTNESS: f64 = 0.42;
/// Oklab chroma of the task colours: a visible hue, not a saturated one.
const TASK_CHROMA: f64 = 0.08;

/// The least Oklab distance kept between a task colour and any colour the legend names
/// (task states, folded, idle, lost data, pauses); 0.02 is about one just-noticeable step.
pub const MIN_TASK_STATE_DISTANCE: f64 = 0.09;

/// Every colour the timeline's legend gives a meaning to, other than task colours.
pub fn legend_colors() -> Vec<Color32> {
    let mut v: Vec<Color32> = legend_states().into_iter().map(state_color).collect();
    v.extend([FOLDED, PARK, LOST, THREAD_PAUSE]);
    v
}

/// A colour in Oklab (`[L, a, b]`), the perceptual space the colour rules are measured in.
pub fn oklab(c: Color32) -> [f64; 3] {
    let lin = |u: u8| {
        let x = f64::from(u) / 255.0;
        if x <= 0.040_45 {
            x / 12.92
        } else {
            ((x + 0.055) / 1.055).powf(2.4)
        }
    };
    let (r, g, b) = (lin(c.r()), lin(c.g()), lin(c.b()));
    let l = (0.412_221_470_8 * r + 0.536_332_536_3 * g + 0.051_445_992_9 * b).cbrt();
    let m = (0.211_903_498_2 * r + 0.680_699_545_1 * g + 0.107_396_956_6 * b).cbrt();
    let s = (0.088_302_461_9 * r + 0.281_718_837_6 * g + 0.629_978_700_5 * b).cbrt();
    [
        0.210_454_255_3 * l + 0.793_617_785_0 * m - 0.004_072_046_8 * s,
        1.977_998_495_1 * l - 2.428_592_205_0 * m + 0.450_593_709_9 * s,
        0.025_904_037_1 * l + 0.782_771_766_2 * m - 0.808_675_766_0 * s,
    ]
}

/// An Oklab colour in sRGB, clamped into its gamut.
fn from_oklab([ll, a, b]: [f64; 3]) -> Color32 {
    let l = (ll + 0.396_337_777_4 * a + 0.215_803_757_3 * b).powi(3);
    let m = (ll - 0.105_561_345_8 * a - 0.063_854_172_8 * b).powi(3);
    let s = (ll - 0.089_484_177_5 * a - 1.291_485_548_0 * b).powi(3);
    let enc = |x: f64| {
        let x = x.clamp(0.0, 1.0);
        let v = if x <= 0.003_130_8 {
            12.92 * x
        } else {
            1.055 * x.powf(1.0 / 2.4) - 0.055
        };
        (v * 255.0).round() as u8
    };
    Color32::from_rgb(
        enc(4.076_741_662_1 * l - 3.307_711_591_3 * m + 0.230_969_929_2 * s),
        enc(-1.268_438_004_6 * l + 2.609_757_401_1 * m - 0.341_319_396_5 * s),
        enc(-0.004_196_086_3 * l - 0.703_418_614_7 * m + 1.707_614_701_0 * s),
    )
}

/// The Oklab distance between two colours.
pub fn distance(x: Color32, y: Color32) -> f64 {
    let (p, q) = (oklab(x), oklab(y));
    ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_task_colour_is_near_a_colour_of_the_legend() {
        for t in 0..5000 {
            let c = task_color(TaskIx(t));
            for (k, l) in legend_colors().into_iter().enumerate() {
                let d = distance(c, l);
                assert!(
                    d >= MIN_TASK_STATE_DISTANCE,
                    "task {t}: {c:?} is {d:.3} from legend colour {k} {l:?}"
                );
            }
        }
    }

    #[test]
    fn oklab_round_trips_and_neighbouring_tasks_differ() {
        for c in legend_colors() {
            assert_eq!(from_oklab(oklab(c)), c);
        }
        for t in 0..100 {
            let d = distance(task_color(TaskIx(t)), task_color(TaskIx(t + 1)));
            assert!(d > 0.05, "tasks {t} and {}: {d:.3}", t + 1);
        }
    }
}
