//! The worst disjoint windows of one length ([`worst_windows`]), chosen
//! greedily in O(n log n) for n steps, plus O(log n) per window listed.
//!
//! For a window w, F(t) = ∫ u over `[t, t + w)` is piecewise linear in the window start t,
//! with breakpoints where t or t + w crosses a step boundary (at most 2n + 2 of them, all
//! whole nanoseconds). The greedy choice is: the least F over the allowed starts (the
//! earliest on ties), then remove the starts whose window overlaps it, `(c - w, c + w)` for
//! a chosen start c, and repeat. The allowed starts are a union of closed ranges, and on
//! each range the earliest least F lies either on a range end or on a breakpoint p with
//! F(previous breakpoint) > F(p) ≤ F(next breakpoint) (F is linear between breakpoints: from
//! any other breakpoint, a neighbour or a range end is at least as good and earlier, or
//! strictly better).
//!
//! So one sweep collects those breakpoints, in time order, into a min-tree keyed by (F, t)
//! (a segment tree holding the index of its least leaf): the least allowed one is at the
//! root, and a choice removes the candidates in `(c - w, c + w)` by marking the O(log n)
//! nodes that cover that range empty (the allowed set only shrinks, so nothing comes back).
//! The two new range ends, c − w and c + w, go to a small heap (F by two prefix-integral
//! lookups); one of those that a later choice covers is dropped when it comes up, checked
//! against the chosen starts (an ordered set).
//!
//! Cost: one sweep and building the tree, O(n); each window listed, O(log n). Memory: 16
//! bytes per candidate (at most about one per two breakpoints) and 8 per tree leaf (a
//! power of two).

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};

use serde::Serialize;

use super::series::{Utilization, ratio};

/// A window of the series and its mean utilization.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Window {
    /// Start (ns, trace time).
    pub start: u64,
    /// End (ns, exclusive, trace time): `start` + the window length, plus any stretch with
    /// no worker inside the window (not part of the series: see
    /// [`Utilization::from_workers`]).
    pub end: u64,
    /// Mean of u over `[start, end)`.
    pub utilization: f64,
}

/// The `n` worst disjoint windows of length `window`, worst first.
///
/// Chosen greedily: the first is a worst window overall (its utilization is
/// [`mmu`](super::mmu())`(u, window)`), each next one is a worst window disjoint from those
/// before it (the earliest on ties), until `n` are found or no disjoint window is left. Each
/// window's `utilization` is exactly the mean of u over it.
///
/// A window of 0 gives no windows; a window of at least the series' duration gives the
/// whole series as the one window. `n` may be anything (`usize::MAX`: every window of the
/// greedy choice): the cost is O(s log s) for s steps plus O(log s) per window listed.
/// Window times are trace times ([`Utilization::trace_time`]).
///
/// ```
/// use trace_analysis::analysis::mmu::{Utilization, worst_windows};
///
/// let s = 1_000_000_000;
/// let u = Utilization::from_steps(vec![0, s, 2 * s, 3 * s, 4 * s], vec![1, 0, 1, 0, 1], 1, 5 * s)?;
/// let worst = worst_windows(&u, s, 3);
/// // The two pauses, then the earliest of the windows of 1.
/// assert_eq!(worst.iter().map(|w| (w.start / s, w.utilization)).collect::<Vec<_>>(),
///            vec![(1, 0.0), (3, 0.0), (0, 1.0)]);
/// # Ok::<(), trace_analysis::analysis::mmu::UtilizationError>(())
/// ```
pub fn worst_windows(u: &Utilization, window: u64, n: usize) -> Vec<Window> {
    if n == 0 || window == 0 {
        return Vec::new();
    }
    if window >= u.duration() {
        return vec![Window {
            start: u.trace_time(u.start()),
            end: u.trace_time_end(u.end()),
            utilization: u.mean(),
        }];
    }
    u.worst(window, n)
        .into_iter()
        .map(|(start, f)| Window {
            start: u.trace_time(start),
            end: u.trace_time_end(start + window),
            utilization: ratio(f, window, u.total),
        })
        .collect()
}

impl Utilization {
    /// Greedy worst disjoint windows: `(start, F)`, worst first, the earliest on ties; at
    /// most `n`. Requires `1 <= w < duration`.
    fn worst(&self, w: u64, n: usize) -> Vec<(u64, u64)> {
        let (first, last) = (self.start(), self.end() - w);
        let candidates = self.candidates(w, first, last);
        let mut tree = MinTree::new(&candidates);
        let mut ends: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
        let mut chosen: BTreeSet<u64> = BTreeSet::new();
        let mut out = Vec::new();
        // Starts in (c - w, c + w) make windows that overlap [c, c + w).
        let allowed = |chosen: &BTreeSet<u64>, t: u64| {
            chosen.range(..=t).next_back().is_none_or(|&c| t >= c + w)
                && chosen.range(t..).next().is_none_or(|&c| c >= t + w)
        };
        while out.len() < n {
            while let Some(&Reverse((_, t))) = ends.peek() {
                if allowed(&chosen, t) {
                    break;
                }
                ends.pop();
            }
            let (f, t) = match (tree.least(), ends.peek()) {
                (Some(a), Some(&Reverse(b))) => a.min(b),
                (Some(a), None) => a,
                (None, Some(&Reverse(b))) => b,
                (None, None) => break,
            };
            out.push((t, f));
            chosen.insert(t);
            // The candidates this choice covers, itself included, leave for good.
            let from = candidates.partition_point(|c| c.1 + w <= t);
            let to = candidates.partition_point(|c| c.1 < t + w);
            tree.remove(from, to);
            // The ends of the allowed ranges this choice cut.
            for end in [t.checked_sub(w).filter(|&x| x >= first), Some(t + w)] {
                if let Some(x) = end.filter(|&x| x <= last && allowed(&chosen, x)) {
                    ends.push(Reverse((self.window_integral(x, w), x)));
                }
            }
        }
        out
    }

    /// F over `[t, t + w)`; requires `t + w <= end`.
    fn window_integral(&self, t: u64, w: u64) -> u64 {
        self.integral_to(t + w).1 - self.integral_to(t).1
    }

    /// The breakpoints `(F, t)` of F on `[first, last]`, in time order, that can be the
    /// earliest least F of a range of allowed starts: F falls into them and does not fall
    /// right after.
    fn candidates(&self, w: u64, first: u64, last: u64) -> Vec<(u64, u64)> {
        let mut out = Vec::new();
        let mut e = self.edge(w, first, last);
        let (mut before, mut at) = (u64::MAX, (e.f, e.t));
        while e.t < e.end {
            self.advance(&mut e, w);
            if before > at.0 && e.f >= at.0 {
                out.push(at);
            }
            (before, at) = (at.0, (e.f, e.t));
        }
        if before > at.0 {
            out.push(at);
        }
        out
    }
}

/// A segment tree over keys (in a fixed order) that gives the least key left and removes
/// ranges of them for good. Node i holds the index of the least key left under it, or
/// [`MinTree::EMPTY`]; an empty node stays empty (removal is final), so removing a range
/// only marks the nodes that cover it and recomputes their ancestors.
struct MinTree<'a> {
    keys: &'a [(u64, u64)],
    /// Leaves at `[size, 2 * size)`, `size` a power of two; the root at 1.
    node: Vec<u32>,
    size: usize,
}

impl<'a> MinTree<'a> {
    const EMPTY: u32 = u32::MAX;

    fn new(keys: &'a [(u64, u64)]) -> Self {
        let size = keys.len().max(1).next_power_of_two();
        let mut node = vec![Self::EMPTY; 2 * size];
        for (i, slot) in node[size..size + keys.len()].iter_mut().enumerate() {
            // Fewer than 2^32 - 1 candidates: at most one per two steps of a series whose
            // integrals fit in 64 bits, which is far beyond memory before that.
            *slot = i as u32;
        }
        let mut tree = Self { keys, node, size };
        for i in (1..size).rev() {
            tree.node[i] = tree.better(tree.node[2 * i], tree.node[2 * i + 1]);
        }
        tree
    }

    fn better(&self, a: u32, b: u32) -> u32 {
        match (a, b) {
            (Self::EMPTY, _) => b,
            (_, Self::EMPTY) => a,
            _ if self.keys[a as usize] <= self.keys[b as usize] => a,
            _ => b,
        }
    }

    /// The least key left.
    fn least(&self) -> Option<(u64, u64)> {
        let i = self.node[1];
        (i != Self::EMPTY).then(|| self.keys[i as usize])
    }

    /// Removes the keys at indexes `[from, to)`.
    fn remove(&mut self, from: usize, to: usize) {
        if from >= to {
            return;
        }
        let (left, right) = (from + self.size, to - 1 + self.size);
        let (mut lo, mut hi) = (left, right + 1);
        while lo < hi {
            if lo & 1 == 1 {
                self.node[lo] = Self::EMPTY;
                lo += 1;
            }
            if hi & 1 == 1 {
                hi -= 1;
                self.node[hi] = Self::EMPTY;
            }
            (lo, hi) = (lo >> 1, hi >> 1);
        }
        // The nodes that cover the range partly lie on the paths from the root to its two
        // ends; an empty one stays empty.
        for leaf in [left, right] {
            let mut i = leaf >> 1;
            while i >= 1 {
                if self.node[i] != Self::EMPTY {
                    self.node[i] = self.better(self.node[2 * i], self.node[2 * i + 1]);
                }
                i >>= 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BinaryHeap;

    use proptest::prelude::*;

    use super::super::bounds::Level;
    use super::super::testing::{Steps, steps_strategy};
    use super::*;

    /// The banded search this module replaced (quadratic in the number of windows listed),
    /// kept to check that the answers are the same.
    fn banded_worst(u: &Utilization, w: u64, n: usize) -> Vec<(u64, u64)> {
        struct Band {
            bound: u64,
            exact: Option<(u64, u64)>,
            version: u32,
            dead: bool,
        }
        let level = Level::new(u, w);
        let nb = level.bounds.len();
        let mut bands: Vec<Band> = (level.bounds.iter())
            .map(|&bound| Band {
                bound,
                exact: None,
                version: 0,
                dead: false,
            })
            .collect();
        let mut heap: BinaryHeap<_> = (level.bounds.iter().enumerate())
            .map(|(k, &bound)| Reverse((bound, k, 0u32)))
            .collect();
        let mut chosen: Vec<u64> = Vec::new();
        let mut out = Vec::new();
        while out.len() < n {
            let Some(Reverse((_, k, version))) = heap.pop() else {
                break;
            };
            let band = &mut bands[k];
            if band.dead || band.version != version {
                continue;
            }
            if let Some((f, t)) = band.exact {
                out.push((t, f));
                let at = chosen.partition_point(|&c| c < t);
                chosen.insert(at, t);
                let first = (t.saturating_sub(w).max(u.start()) - u.start()) / level.width;
                let last = ((t + w - u.start()) / level.width).min(nb as u64 - 1);
                let touched = first as usize..=last as usize;
                for (kk, b) in touched.clone().zip(&mut bands[touched]) {
                    if !b.dead {
                        b.exact = None;
                        b.version += 1;
                        heap.push(Reverse((b.bound, kk, b.version)));
                    }
                }
            } else {
                let (lo, hi) = level.range(k);
                match min_allowed(u, w, lo, hi, &chosen) {
                    None => band.dead = true,
                    Some((f, t)) => {
                        band.bound = f;
                        band.exact = Some((f, t));
                        band.version += 1;
                        heap.push(Reverse((f, k, band.version)));
                    }
                }
            }
        }
        out
    }

    /// The least F (and the earliest t reaching it) over starts in `[lo, hi]` allowed by
    /// `chosen`, as the banded search found it.
    fn min_allowed(
        u: &Utilization,
        w: u64,
        lo: u64,
        hi: u64,
        chosen: &[u64],
    ) -> Option<(u64, u64)> {
        let mut best: Option<(u64, u64)> = None;
        let mut piece = |a: u64, b: u64| {
            u.sweep(w, a, b, |_, t, f| {
                if best.is_none_or(|b| (f, t) < b) {
                    best = Some((f, t));
                }
            })
        };
        let mut cursor = lo;
        let first = chosen.partition_point(|&c| c + w <= lo);
        for &c in &chosen[first..] {
            if cursor > hi {
                break;
            }
            if c >= w && c - w >= cursor {
                piece(cursor, (c - w).min(hi));
            }
            cursor = cursor.max(c + w);
        }
        if cursor <= hi {
            piece(cursor, hi);
        }
        best
    }

    /// The greedy choice by brute force over every whole-nanosecond start.
    fn brute_worst(s: &Steps, w: u64, n: usize) -> Vec<(u64, u64)> {
        let mut out: Vec<(u64, u64)> = Vec::new();
        while out.len() < n {
            let free = |t: u64| out.iter().all(|&(c, _)| t + w <= c || t >= c + w);
            let best = s
                .starts(w)
                .filter(|&t| free(t))
                .map(|t| (s.integral(t, t + w), t))
                .min();
            match best {
                Some((f, t)) => out.push((t, f)),
                None => break,
            }
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn same_windows_as_brute_force_and_the_banded_search(
            s in steps_strategy(),
            w in 1u64..1000,
            n in prop_oneof![1usize..12, Just(usize::MAX)],
            bands in 1usize..12,
        ) {
            let u = s.build(bands);
            let d = u.duration();
            // Windows shorter than the series.
            prop_assume!(d >= 2);
            let w = 1 + w % (d - 1);
            let got = u.worst(w, n);
            prop_assert_eq!(&got, &brute_worst(&s, w, n));
            prop_assert_eq!(&got, &banded_worst(&u, w, n));
            let listed: Vec<(u64, u64)> = worst_windows(&u, w, n)
                .iter()
                .map(|x| (x.start, x.end - x.start))
                .collect();
            prop_assert_eq!(listed, got.iter().map(|&(t, _)| (t, w)).collect::<Vec<_>>());
        }
    }

    proptest! {
        #[test]
        fn min_tree_gives_the_least_key_left(
            f in prop::collection::vec(0u64..20, 0..70),
            removals in prop::collection::vec((0usize..80, 0usize..80), 0..12),
        ) {
            let keys: Vec<(u64, u64)> = f.iter().enumerate().map(|(t, &f)| (f, t as u64)).collect();
            let mut tree = MinTree::new(&keys);
            let mut left = vec![true; keys.len()];
            for (a, b) in removals {
                let (from, to) = (a.min(b).min(keys.len()), a.max(b).min(keys.len()));
                tree.remove(from, to);
                left[from..to].iter_mut().for_each(|l| *l = false);
                let want = keys.iter().zip(&left).filter(|(_, l)| **l).map(|(k, _)| *k).min();
                prop_assert_eq!(tree.least(), want);
            }
        }
    }

    #[test]
    fn every_disjoint_window_when_asked_for_all() {
        // 1 for 1000 ns: the windows of 10 ns tile the series from its start.
        let u = Utilization::from_steps(vec![0], vec![1], 1, 1000).unwrap();
        let all = u.worst(10, usize::MAX);
        assert_eq!(all.len(), 100);
        assert!(
            all.iter()
                .enumerate()
                .all(|(i, &(t, f))| (t, f) == (10 * i as u64, 10))
        );
        // A dip at [505, 507): its window first, then the tiling around it.
        let u = Utilization::from_steps(vec![0, 505, 507], vec![2, 0, 2], 2, 1000).unwrap();
        let all = u.worst(10, usize::MAX);
        assert_eq!(all[0], (497, 16));
        let mut starts: Vec<u64> = all.iter().map(|&(t, _)| t).collect();
        starts.sort_unstable();
        assert!(starts.windows(2).all(|p| p[1] >= p[0] + 10), "{starts:?}");
        assert_eq!(all.len(), 99);
    }
}
