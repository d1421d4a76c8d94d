//! The time axis: where the ticks go and what they say, for any zoom from the whole trace
//! down to single nanoseconds; and how the window writes a time since the trace start.
//!
//! Ticks fall on round times (1, 2 or 5 × 10^k ns) at least [`MIN_TICK_SPACING`] points
//! apart (more when their labels are long). Every tick says its whole time since the trace
//! start, all in one unit — the unit of the latest time in view, as [`format_precise`]
//! writes any time in the window — with the decimals the step needs (`184.002 ms`,
//! `3.500000010 s`): no offsets from a base, which read as short times.

use super::view::TimeView;

/// Ticks are at least this many points apart.
pub const MIN_TICK_SPACING: f32 = 90.0;

/// Points a tick label's character takes, about (11-point proportional font), to space
/// long labels further apart.
const LABEL_CHAR_PX: f32 = 7.0;

/// One tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// Its position.
    pub x: f32,
    /// Its time, in nanoseconds since the trace start.
    pub time: u64,
    /// Its text.
    pub label: String,
}

/// The ticks of a view.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Nanoseconds between ticks.
    pub step: u64,
    /// The unit every tick is written in.
    pub unit: TimeUnit,
    /// The ticks, left to right.
    pub ticks: Vec<Tick>,
}

/// A unit times are written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimeUnit {
    /// Nanoseconds.
    Ns,
    /// Microseconds.
    Us,
    /// Milliseconds.
    Ms,
    /// Seconds.
    S,
}

impl TimeUnit {
    /// The unit a time `t` (ns) is written in: the largest not over it, as for durations
    /// (`183 ms`, `3.5 s`).
    pub fn of(t: u64) -> TimeUnit {
        match t {
            0..1_000 => TimeUnit::Ns,
            1_000..1_000_000 => TimeUnit::Us,
            1_000_000..1_000_000_000 => TimeUnit::Ms,
            _ => TimeUnit::S,
        }
    }

    /// Nanoseconds in one of it.
    pub fn nanos(self) -> u64 {
        match self {
            TimeUnit::Ns => 1,
            TimeUnit::Us => 1_000,
            TimeUnit::Ms => 1_000_000,
            TimeUnit::S => 1_000_000_000,
        }
    }

    /// Its symbol.
    pub fn symbol(self) -> &'static str {
        match self {
            TimeUnit::Ns => "ns",
            TimeUnit::Us => "µs",
            TimeUnit::Ms => "ms",
            TimeUnit::S => "s",
        }
    }
}

/// The smallest round step (1, 2 or 5 × 10^k ns, at least 1 ns) of at least `min_ns`.
pub fn round_step(min_ns: f64) -> u64 {
    let mut step = 1u64;
    loop {
        for m in [1, 2, 5] {
            let s = step.saturating_mul(m);
            if s as f64 >= min_ns {
                return s;
            }
        }
        if step > u64::MAX / 10 {
            return u64::MAX;
        }
        step *= 10;
    }
}

/// The axis for `view` drawn from `left` over `width` points.
pub fn axis(view: &TimeView, left: f32, width: f32) -> Axis {
    let width = width.max(1.0);
    let unit = TimeUnit::of(view.end.max(0.0) as u64);
    let step_for = |spacing: f32| round_step(view.span() * f64::from(spacing) / f64::from(width));
    let mut step = step_for(MIN_TICK_SPACING);
    // Long labels (many decimals far into a trace) get more room.
    let chars = format_in(view.end.max(0.0) as u64, unit, step)
        .chars()
        .count();
    let spacing = MIN_TICK_SPACING.max(chars as f32 * LABEL_CHAR_PX + 12.0);
    if spacing > MIN_TICK_SPACING {
        step = step_for(spacing);
    }
    let stepf = step as f64;
    let mut ticks = Vec::new();
    let mut n = (view.start.max(0.0) / stepf).ceil() as u64;
    loop {
        let time = n.saturating_mul(step);
        if time as f64 > view.end || ticks.len() > 1_000 {
            break;
        }
        ticks.push(Tick {
            x: view.x_of(time as f64, left, width),
            time,
            label: format_in(time, unit, step),
        });
        n += 1;
    }
    Axis { step, unit, ticks }
}

/// `t` (ns since the trace start) in its own unit ([`TimeUnit::of`]) with as many decimals
/// as `resolution` (a power of ten times 1, 2 or 5 ns) needs — how the window writes a time:
/// `format_precise(3_500_000_012, 1) == "3.500000012 s"`, `format_precise(183_000_000,
/// 1_000_000) == "183 ms"`.
///
/// ```
/// use trace_viewer::app::axis::format_precise;
/// assert_eq!(format_precise(184_002_000, 1_000), "184.002 ms");
/// ```
pub fn format_precise(t: u64, resolution: u64) -> String {
    format_in(t, TimeUnit::of(t), resolution)
}

/// `t` in `unit`, with as many decimals as `resolution` needs there.
pub fn format_in(t: u64, unit: TimeUnit, resolution: u64) -> String {
    let per = unit.nanos();
    let digits = resolution.max(1).ilog10().min(per.ilog10());
    let decimals = (per.ilog10() - digits) as usize;
    let whole = t / per;
    if decimals == 0 {
        // Rounded to the unit.
        let whole = (t + per / 2) / per;
        format!("{whole} {}", unit.symbol())
    } else {
        let frac = format!("{:0width$}", t % per, width = per.ilog10() as usize);
        format!("{whole}.{} {}", &frac[..decimals], unit.symbol())
    }
}

/// The time under the pointer, for the axis: in the axis's unit, precise to about one
/// point of `view` drawn `width` points wide.
pub fn pointer_time(view: &TimeView, t: f64, width: f32) -> String {
    let per_point = view.span() / f64::from(width.max(1.0));
    let resolution = round_step(per_point);
    let t = t.max(0.0).round() as u64;
    format_in(t, TimeUnit::of(view.end.max(0.0) as u64), resolution)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_round() {
        assert_eq!(round_step(0.0), 1);
        assert_eq!(round_step(1.0), 1);
        assert_eq!(round_step(1.5), 2);
        assert_eq!(round_step(3.0), 5);
        assert_eq!(round_step(7.0), 10);
        assert_eq!(round_step(120_000.0), 200_000);
        assert_eq!(round_step(1e30), u64::MAX);
    }

    #[test]
    fn whole_trace_ticks_are_absolute_in_one_unit() {
        let v = TimeView {
            start: 0.0,
            end: 2_000_000_000.0,
        };
        let a = axis(&v, 0.0, 1_000.0);
        assert_eq!(a.step, 200_000_000);
        assert_eq!(a.unit, TimeUnit::S);
        let labels: Vec<&str> = a.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels[..3], ["0.0 s", "0.2 s", "0.4 s"]);
        assert_eq!(labels.last(), Some(&"2.0 s"));
        assert!((a.ticks[1].x - 100.0).abs() < 1e-3);
    }

    #[test]
    fn zoomed_ticks_say_their_whole_time_not_an_offset() {
        // The issue's case: 0.18 s into the trace at a 2 ms step read `0.1 s +` / `+84 ms`.
        let v = TimeView {
            start: 180_000_000.0,
            end: 192_000_000.0,
        };
        let a = axis(&v, 0.0, 1_000.0);
        assert_eq!(a.unit, TimeUnit::Ms);
        let labels: Vec<&str> = a.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels[0], "180 ms");
        assert!(labels.contains(&"184 ms"), "{labels:?}");
        for l in &labels {
            assert!(!l.starts_with('+'), "{l}");
        }
    }

    #[test]
    fn nanosecond_zoom_far_into_the_trace_keeps_whole_times_apart() {
        let v = TimeView {
            start: 3_500_000_010.0,
            end: 3_500_000_030.0,
        };
        let a = axis(&v, 0.0, 1_000.0);
        let labels: Vec<&str> = a.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels[0], "3.500000010 s");
        assert_eq!(labels.last(), Some(&"3.500000030 s"));
        // Long labels get room: ticks at least as far apart as the labels are wide.
        for w in a.ticks.windows(2) {
            assert!(w[1].x - w[0].x >= w[0].label.chars().count() as f32 * LABEL_CHAR_PX);
        }
        // Ticks sit at their times, and each label is distinct.
        for t in &a.ticks {
            assert!((t.x - v.x_of(t.time as f64, 0.0, 1_000.0)).abs() < 1e-3);
        }
        let mut uniq = labels.clone();
        uniq.dedup();
        assert_eq!(uniq, labels);
    }

    #[test]
    fn every_tick_label_is_exact_in_the_axis_unit() {
        for (start, span) in [
            (1.234e9, 1e5),
            (7.77e8, 3e3),
            (5e10, 1e9),
            (123_456.0, 10.0),
        ] {
            let v = TimeView {
                start,
                end: start + span,
            };
            let a = axis(&v, 0.0, 1_200.0);
            assert!(a.ticks.len() >= 5, "{v:?}: {a:?}");
            for t in &a.ticks {
                // The label parses back to the tick's time.
                let (num, sym) = t.label.split_once(' ').unwrap();
                assert_eq!(sym, a.unit.symbol());
                let (w, f) = num.split_once('.').unwrap_or((num, ""));
                let per = a.unit.nanos();
                let frac: u64 = if f.is_empty() {
                    0
                } else {
                    f.parse::<u64>().unwrap() * per / 10u64.pow(f.len() as u32)
                };
                assert_eq!(
                    w.parse::<u64>().unwrap() * per + frac,
                    t.time,
                    "{}",
                    t.label
                );
            }
        }
    }

    #[test]
    fn the_pointer_time_is_precise_to_a_point() {
        let v = TimeView {
            start: 180_000_000.0,
            end: 190_000_000.0,
        };
        // 10 µs per point.
        assert_eq!(pointer_time(&v, 184_023_456.0, 1_000.0), "184.02 ms");
        // In the unit of the ticks beside it (seconds here), not its own.
        let whole = TimeView {
            start: 0.0,
            end: 1_200_000_000.0,
        };
        assert_eq!(pointer_time(&whole, 454_123_456.0, 1_200.0), "0.454 s");
    }

    #[test]
    fn precise_times() {
        assert_eq!(format_precise(3_500_000_012, 1), "3.500000012 s");
        assert_eq!(format_precise(3_510_000_000, 10_000_000), "3.51 s");
        assert_eq!(format_precise(12_000_000_000, 1_000_000_000), "12 s");
        // Under a second, in ms like the rest of the window (was `0.183 s`).
        assert_eq!(format_precise(183_000_000, 1_000_000), "183 ms");
        assert_eq!(format_precise(183_400_000, 100_000), "183.4 ms");
        assert_eq!(format_precise(999, 1), "999 ns");
    }
}
