//! The time axis: where the ticks go and what they say, for any zoom from the whole trace
//! down to single nanoseconds.
//!
//! Ticks fall on round times (1, 2 or 5 × 10^k ns) at least [`MIN_TICK_SPACING`] points
//! apart. When the view is far from the trace start compared with the tick step (zoomed in
//! on 3.5 s at 10 ns per tick), each tick would need ten digits; instead the axis shows a
//! *base* time once, in full, and the ticks as offsets from it (`+20 ns`), as Perfetto does.

use super::view::TimeView;
use trace_analysis::units::format_duration;

/// Ticks are at least this many points apart.
pub const MIN_TICK_SPACING: f32 = 90.0;

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
    /// When ticks are offsets: the time they count from, and how to write it.
    pub base: Option<(u64, String)>,
    /// The ticks, left to right.
    pub ticks: Vec<Tick>,
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
    let step = round_step(view.span() * f64::from(MIN_TICK_SPACING) / f64::from(width));
    let stepf = step as f64;
    // Offsets from a base when absolute labels would need more than three digits.
    let base = if view.end > stepf * 100.0 {
        let unit = stepf * 100.0;
        let b = (view.start.max(0.0) / unit).floor() * unit;
        Some(b as u64)
    } else {
        None
    };
    let mut ticks = Vec::new();
    let first = (view.start.max(0.0) / stepf).ceil() as u64;
    let mut n = first;
    loop {
        let time = n.saturating_mul(step);
        if time as f64 > view.end || ticks.len() > 1_000 {
            break;
        }
        let label = match base {
            Some(b) if time == b => "+0".to_string(),
            Some(b) => format!("+{}", format_duration(time - b)),
            None => format_duration(time),
        };
        ticks.push(Tick {
            x: view.x_of(time as f64, left, width),
            time,
            label,
        });
        n += 1;
    }
    Axis {
        step,
        base: base.map(|b| (b, format_precise(b, step.saturating_mul(100)))),
        ticks,
    }
}

/// `t` in seconds with as many decimals as `resolution` (a power of ten times 1, 2 or 5 ns)
/// needs: `format_precise(3_500_000_012, 1) == "3.500000012 s"`.
pub fn format_precise(t: u64, resolution: u64) -> String {
    let digits = resolution.max(1).ilog10().min(9);
    let decimals = 9 - digits as usize;
    let secs = t / 1_000_000_000;
    let frac = t % 1_000_000_000;
    if decimals == 0 {
        format!("{secs} s")
    } else {
        let frac = format!("{frac:09}");
        format!("{secs}.{} s", &frac[..decimals])
    }
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
    fn whole_trace_ticks_are_absolute() {
        let v = TimeView {
            start: 0.0,
            end: 2_000_000_000.0,
        };
        let a = axis(&v, 0.0, 1_000.0);
        assert_eq!(a.step, 200_000_000);
        assert!(a.base.is_none());
        let labels: Vec<&str> = a.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels[..3], ["0 ns", "200 ms", "400 ms"]);
        assert_eq!(labels.last(), Some(&"2 s"));
        assert!((a.ticks[1].x - 100.0).abs() < 1e-3);
    }

    #[test]
    fn nanosecond_zoom_far_into_the_trace_counts_from_a_base() {
        let v = TimeView {
            start: 3_500_000_010.0,
            end: 3_500_000_030.0,
        };
        let a = axis(&v, 0.0, 1_000.0);
        assert_eq!(a.step, 2);
        let (base, text) = a.base.clone().unwrap();
        assert_eq!(base, 3_500_000_000);
        assert_eq!(text, "3.5000000 s");
        let labels: Vec<&str> = a.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels[0], "+10 ns");
        assert_eq!(labels.last(), Some(&"+30 ns"));
        // Ticks sit at their times.
        for t in &a.ticks {
            assert!((t.x - v.x_of(t.time as f64, 0.0, 1_000.0)).abs() < 1e-3);
        }
    }

    #[test]
    fn offsets_stay_within_three_digits() {
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
                // Each label must be exact: parse the offset back.
                let off = t.time - a.base.as_ref().map_or(0, |b| b.0);
                // Exact: at most three significant digits, which format_duration keeps.
                let mut sig = off;
                while sig >= 1_000 && sig.is_multiple_of(10) {
                    sig /= 10;
                }
                assert!(sig < 1_000, "offset {off} at {v:?}");
                if off > 0 {
                    let want = match a.base {
                        Some(_) => format!("+{}", format_duration(off)),
                        None => format_duration(off),
                    };
                    assert_eq!(t.label, want);
                }
            }
        }
    }

    #[test]
    fn precise_times() {
        assert_eq!(format_precise(3_500_000_012, 1), "3.500000012 s");
        assert_eq!(format_precise(3_510_000_000, 10_000_000), "3.51 s");
        assert_eq!(format_precise(12_000_000_000, 1_000_000_000), "12 s");
    }
}
