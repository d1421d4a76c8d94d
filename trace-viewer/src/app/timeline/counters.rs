//! The counter lanes of a frame: a track folded per pixel column ([`fold_columns`]), each
//! column showing the least and greatest value the counter took in its time range, found
//! with two binary searches and one tree query. The work per frame is bounded by the screen
//! width, however many points the trace has.

use super::xmap::XMap;
use crate::app::counters::CounterTrack;
use crate::app::sorted::gallop;
use trace_analysis::model::Nanos;

/// One pixel column (or a run of columns where the value did not change) of a counter lane.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Column {
    /// Left edge, in points.
    pub x0: f32,
    /// Right edge.
    pub x1: f32,
    /// The least value the counter took inside.
    pub min: f64,
    /// The greatest.
    pub max: f64,
}

/// Folds `track` for a timeline of `width` points from `left` where point `x` is at time
/// `t0 + (x - left) * ns_per_px`: columns left to right, one per point where the counter
/// changes, merged runs where it does not. Nothing is drawn before the first point or from
/// `end` (the trace's end) on.
pub fn fold_columns(track: &CounterTrack, xmap: &XMap, end: Nanos, mut emit: impl FnMut(Column)) {
    let times = &track.times;
    let n = times.len();
    if n == 0 {
        return;
    }
    let right = xmap.left + xmap.width;
    let end_x = xmap.x(end).min(right);
    // Pixel columns start at whole points from `left`.
    let col_of = |x: f32| (x - xmap.left).floor() + xmap.left;
    let mut xa = xmap.left.max(col_of(xmap.x(times[0])));
    let mut i = 0;
    let mut pending: Option<Column> = None;
    let mut flush = |c: Column, pending: &mut Option<Column>| match pending {
        Some(p) if p.min == c.min && p.max == c.max && p.x1 >= c.x0 => p.x1 = c.x1,
        _ => {
            if let Some(p) = pending.replace(c) {
                emit(p);
            }
        }
    };
    while xa < end_x && i < n {
        // The point holding at the column's start.
        let ta = xmap.t(xa);
        i += gallop(&times[i + 1..], |&t| (t as f64) <= ta);
        let tb = xmap.t(xa + 1.0);
        // Points starting before the column ends: `i` (holding at its start) to `j`.
        let j = i + 1 + gallop(&times[i + 1..], |&t| (t as f64) < tb);
        if j == i + 1 {
            // Only `i` here: it holds until the next point's column (or the end).
            let next_x = match times.get(j) {
                Some(&t) => col_of(xmap.x(t)),
                None => end_x,
            };
            let x1 = next_x.max(xa + 1.0).min(end_x.max(xa + 1.0));
            let v = track.values[i];
            flush(
                Column {
                    x0: xa,
                    x1,
                    min: v,
                    max: v,
                },
                &mut pending,
            );
            xa = x1;
        } else {
            let (min, max) = track.min_max(i..j);
            flush(
                Column {
                    x0: xa,
                    x1: xa + 1.0,
                    min,
                    max,
                },
                &mut pending,
            );
            i = j - 1;
            xa += 1.0;
        }
    }
    if let Some(p) = pending {
        emit(p);
    }
}

/// The vertical scale of a lane: from the least of 0 and the lowest value shown to the
/// highest value shown (never an empty range).
pub fn scale(columns: &[Column]) -> (f64, f64) {
    let lo = columns.iter().map(|c| c.min).fold(0.0, f64::min);
    let hi = columns.iter().map(|c| c.max).fold(lo, f64::max);
    if hi > lo { (lo, hi) } else { (lo, lo + 1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::counters::{CounterStyle, CounterUnit};
    use crate::app::view::TimeView;

    fn xmap(t0: f64, t1: f64, width: f32) -> XMap {
        XMap::new(&TimeView { start: t0, end: t1 }, 0.0, width)
    }

    fn track(points: &[(Nanos, f64)]) -> CounterTrack {
        CounterTrack::new("c", CounterUnit::Count, CounterStyle::User, points)
    }

    fn columns(t: &CounterTrack, map: &XMap, end: Nanos) -> Vec<Column> {
        let mut v = vec![];
        fold_columns(t, map, end, |c| v.push(c));
        v
    }

    #[test]
    fn zoomed_in_a_step_function_is_a_few_runs() {
        // 0 from 100, 5 from 400, 2 from 700; the trace ends at 900; 1 ns per point.
        let t = track(&[(100, 0.0), (400, 5.0), (700, 2.0)]);
        let cols = columns(&t, &xmap(0.0, 1000.0, 1000.0), 900);
        let runs: Vec<(f32, f32, f64, f64)> =
            cols.iter().map(|c| (c.x0, c.x1, c.min, c.max)).collect();
        assert_eq!(
            runs,
            [
                (100.0, 400.0, 0.0, 0.0),
                (400.0, 700.0, 5.0, 5.0),
                (700.0, 900.0, 2.0, 2.0)
            ]
        );
        assert_eq!(t.value_at(399), Some(0.0));
        assert_eq!(t.value_at(400), Some(5.0));
        assert_eq!(t.value_at(99), None);
        assert_eq!(scale(&cols), (0.0, 5.0));
    }

    #[test]
    fn zoomed_out_each_column_holds_its_min_and_max_and_cost_follows_the_width() {
        // A million points, a sawtooth 0..=99, on 500 points.
        let points: Vec<(Nanos, f64)> = (0..1_000_000u64)
            .map(|i| (i * 10, (i % 100) as f64))
            .collect();
        let t = track(&points);
        let cols = columns(&t, &xmap(0.0, 10_000_000.0, 500.0), 10_000_000);
        assert!(cols.len() <= 500, "{}", cols.len());
        // Every column covers whole teeth: 0 to 99 (merged into one run).
        assert!(
            cols.iter().all(|c| c.min == 0.0 && c.max == 99.0),
            "{:?}",
            &cols[..3]
        );
        assert_eq!(cols.first().unwrap().x0, 0.0);
        assert_eq!(cols.last().unwrap().x1, 500.0);
    }

    #[test]
    fn a_column_with_a_change_spans_both_values() {
        // 1 ns per 10 points: the step from 1 to 3 at 55 lands inside column 5.
        let t = track(&[(0, 1.0), (55, 3.0)]);
        let cols = columns(&t, &xmap(0.0, 100.0, 10.0), 100);
        assert_eq!(
            cols,
            [
                Column {
                    x0: 0.0,
                    x1: 5.0,
                    min: 1.0,
                    max: 1.0
                },
                Column {
                    x0: 5.0,
                    x1: 6.0,
                    min: 1.0,
                    max: 3.0
                },
                Column {
                    x0: 6.0,
                    x1: 10.0,
                    min: 3.0,
                    max: 3.0
                },
            ]
        );
        // Panned so the view starts after the change: the value holding there.
        let cols = columns(&t, &xmap(70.0, 90.0, 10.0), 100);
        assert_eq!(
            cols,
            [Column {
                x0: 0.0,
                x1: 10.0,
                min: 3.0,
                max: 3.0
            }]
        );
    }
}
