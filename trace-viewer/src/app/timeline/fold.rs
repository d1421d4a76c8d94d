//! Tracy-style folding. Intervals narrower than [`MIN_SLICE_PX`] are merged with their
//! neighbours into one "folded" piece, and the search for where a fold ends jumps over the
//! intervals inside it by a galloping search. So the number of pieces, and the work to find
//! them, depend on the width of the screen, not on how many intervals the trace has. A fold
//! of task states takes the colour of the state that covers most of its time
//! ([`dominant_state`]).

use std::ops::Range;

use super::xmap::XMap;
use crate::app::sorted::disjoint_in;
use trace_analysis::analysis::states::{Segment, TaskState};
use trace_analysis::model::{Nanos, Span};

/// Intervals narrower than this (in points) fold into their neighbours.
pub const MIN_SLICE_PX: f32 = 3.0;

/// Intervals that start within this distance (in points) of a fold's right edge join it.
pub const FOLD_GAP_PX: f32 = 1.0;

/// One piece of a folded lane.
#[derive(Debug, Clone, PartialEq)]
pub enum Piece {
    /// One interval, `ix`, wide enough to show by itself (or alone between wide gaps).
    One {
        /// Its index.
        ix: usize,
        /// Left edge.
        x0: f32,
        /// Right edge.
        x1: f32,
    },
    /// Intervals `ixs` merged into one piece because they are too narrow to tell apart.
    Folded {
        /// Their indexes.
        ixs: Range<usize>,
        /// Left edge.
        x0: f32,
        /// Right edge.
        x1: f32,
    },
}

/// Folds intervals `range` of a sequence sorted by start (`start(i)`, `end(i)`) for display
/// through `xmap`, calling `emit` with each piece from left to right.
///
/// An interval at least `min_px` wide is a piece of its own. A narrower one starts a fold,
/// and every interval that starts less than `gap_px` right of the fold's right edge joins it
/// (found by binary search, not by visiting them), unless it is itself wide: then the fold
/// stops before it. For intervals that do not overlap (one thread's polls, one task's
/// states) the number of pieces, and the steps to find them, are bounded by the width of
/// the timeline in points (times the log of the count for the searches).
pub fn fold(
    range: Range<usize>,
    start: impl Fn(usize) -> Nanos,
    end: impl Fn(usize) -> Nanos,
    xmap: &XMap,
    min_px: f32,
    gap_px: f32,
    mut emit: impl FnMut(Piece),
) {
    // First index in `lo..hi` whose start is at or after `t`. Galloping from `lo` first: a
    // fold step usually moves a point's worth of intervals, so this reads a few nearby
    // starts instead of searching (and missing the cache) over the whole rest of the lane.
    let first_at_or_after = |mut lo: usize, mut hi: usize, t: f64| {
        let mut step = 1;
        while lo + step < hi && (start(lo + step - 1) as f64) < t {
            lo += step;
            step *= 2;
        }
        hi = hi.min(lo + step);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if (start(mid) as f64) < t {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    };
    let mut i = range.start;
    while i < range.end {
        let x0 = xmap.x(start(i));
        let x1 = xmap.x(end(i)).max(x0);
        if x1 - x0 >= min_px {
            emit(Piece::One { ix: i, x0, x1 });
            i += 1;
            continue;
        }
        let first = i;
        let mut fx1 = x1;
        let mut next = i + 1;
        loop {
            let j = first_at_or_after(next, range.end, xmap.t(fx1 + gap_px));
            if j == next {
                break;
            }
            let k = j - 1;
            let kx0 = xmap.x(start(k));
            let kx1 = xmap.x(end(k)).max(kx0);
            if kx1 - kx0 >= min_px {
                // The last joiner is wide: the fold stops before it.
                if k > next {
                    fx1 = fx1.max(xmap.x(end(k - 1)).min(kx0));
                }
                next = k;
                break;
            }
            fx1 = fx1.max(kx1);
            next = j;
        }
        if next - first == 1 {
            emit(Piece::One { ix: first, x0, x1 });
        } else {
            emit(Piece::Folded {
                ixs: first..next,
                x0,
                x1: fx1,
            });
        }
        i = next;
    }
}

/// The state that covers the most time among `segments[ixs]`: exact for up to
/// [`DOMINANT_SAMPLES`] segments, otherwise estimated from that many evenly spaced instants
/// (each found by binary search), so a fold costs the same however many segments it holds.
pub fn dominant_state(segments: &[Segment], ixs: Range<usize>) -> TaskState {
    let mut tally: Vec<(TaskState, u64)> = Vec::with_capacity(4);
    let mut add = |state: TaskState, w: u64| match tally.iter_mut().find(|(s, _)| *s == state) {
        Some((_, t)) => *t += w,
        None => tally.push((state, w)),
    };
    let run = &segments[ixs];
    if run.len() <= DOMINANT_SAMPLES {
        for s in run {
            add(s.state, s.span.len());
        }
    } else {
        let (t0, t1) = (run[0].span.start, run[run.len() - 1].span.end);
        let len = t1.saturating_sub(t0);
        for k in 0..DOMINANT_SAMPLES as u64 {
            let t = t0 + (len * (2 * k + 1)) / (2 * DOMINANT_SAMPLES as u64);
            let i = run.partition_point(|s| s.span.end <= t).min(run.len() - 1);
            add(run[i].state, 1);
        }
    }
    tally
        .into_iter()
        .max_by_key(|&(_, w)| w)
        .map_or(TaskState::Running, |(s, _)| s)
}

/// Instants sampled by [`dominant_state`] in a large fold.
pub const DOMINANT_SAMPLES: usize = 16;

/// Folds disjoint spans sorted by start that overlap `[t0, t1)` (idle stretches, pauses),
/// calling `emit` with each piece's index range, the span it covers and its edges.
pub fn fold_spans(
    spans: &[Span],
    t0: Nanos,
    t1: Nanos,
    xmap: &XMap,
    mut emit: impl FnMut(Range<usize>, Span, f32, f32),
) {
    fold(
        disjoint_in(spans, |s| *s, t0, t1),
        |i| spans[i].start,
        |i| spans[i].end,
        xmap,
        MIN_SLICE_PX,
        FOLD_GAP_PX,
        |p| {
            let (ixs, x0, x1) = match p {
                Piece::One { ix, x0, x1 } => (ix..ix + 1, x0, x1),
                Piece::Folded { ixs, x0, x1 } => (ixs, x0, x1),
            };
            let span = Span::new(spans[ixs.start].start, spans[ixs.end - 1].end);
            emit(ixs, span, x0, x1);
        },
    );
}
