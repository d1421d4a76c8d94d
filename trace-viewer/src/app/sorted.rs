//! Searches in sorted sequences, shared by the timeline's lanes, its counter lanes and the
//! range summary: a galloping `partition_point` for answers near the start, and the run of
//! disjoint intervals overlapping a time range.

use std::ops::Range;

use trace_analysis::model::{Nanos, Span};

/// `partition_point` for a predicate that usually turns false near the start: doubling
/// steps, then a binary search in the last step (a pixel column or a fold step holds a few
/// items, so this reads a few nearby ones instead of searching the whole rest).
pub fn gallop<T>(items: &[T], before: impl Fn(&T) -> bool) -> usize {
    let mut hi = 1;
    while hi < items.len() && before(&items[hi - 1]) {
        hi *= 2;
    }
    let lo = hi / 2;
    let hi = hi.min(items.len());
    lo + items[lo..hi].partition_point(before)
}

/// The index range of intervals sorted by start, that do not overlap each other, which
/// overlap `[t0, t1)`.
pub fn disjoint_in<T>(
    items: &[T],
    span: impl Fn(&T) -> Span,
    t0: Nanos,
    t1: Nanos,
) -> Range<usize> {
    let hi = items.partition_point(|x| span(x).start < t1);
    let lo = items[..hi].partition_point(|x| span(x).end <= t0);
    lo..hi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gallop_finds_what_a_binary_search_finds() {
        let times: Vec<Nanos> = (0..300u64).map(|i| i * 3 / 2).collect();
        for n in [0, 1, 2, 5, 64, 300] {
            for cut in [0, 1, 2, 7, 100, 449, 450, 1000] {
                let want = times[..n].partition_point(|&t| t < cut);
                assert_eq!(gallop(&times[..n], |&t| t < cut), want, "{n} {cut}");
            }
        }
    }
}
