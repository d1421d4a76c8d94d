//! The merge: the export's items as sorted [`Source`]s, each restricted to the time range,
//! and the [`Key`] that orders them into one `(ts, −dur)` stream (see the module docs of
//! [`super`], "Ordering").

use crate::model::{Model, Nanos, Span, ThreadIx};

use super::plan::{Annot, Plan, index_in};

/// Whether a slice `[start, end)` is exported for `range`.
fn slice_in(range: Span, start: Nanos, end: Nanos) -> bool {
    if start == end {
        range.start <= start && start < range.end
    } else {
        start < range.end && end > range.start
    }
}

/// Whether an instant at `t` is exported for `range`.
fn instant_in(range: Span, t: Nanos) -> bool {
    range.start <= t && t < range.end
}

impl Plan<'_> {
    /// The merge sources, each already restricted to the range.
    pub(super) fn sources(&self) -> Vec<Source> {
        let (m, r) = (self.m, self.range);
        let mut sources = Vec::new();
        if !self.pauses.is_empty() {
            let items: Vec<(u32, u32)> = self
                .pauses
                .iter()
                .copied()
                .filter(|&(i, _)| {
                    let s = m.process_pauses[i as usize].span;
                    slice_in(r, s.start, s.end)
                })
                .collect();
            sources.push(Source::Pauses { items, pos: 0 });
        }
        for (t, plan) in self.threads.iter().enumerate() {
            let t = ThreadIx(t as u32);
            let range = &m.threads[t.index()].polls;
            let polls = match &plan.order {
                Some(order) => PollList::Order(
                    order
                        .iter()
                        .copied()
                        .filter(|&i| {
                            let p = &m.polls[i as usize];
                            slice_in(r, p.start, p.end)
                        })
                        .collect(),
                ),
                None => {
                    let (lo, hi) = if r.start == 0 && r.end == Nanos::MAX {
                        (range.start, range.end)
                    } else {
                        let all = m.thread_polls(t);
                        let hi = all.partition_point(|p| p.start < r.end);
                        let within = if r.start == 0 {
                            &all[..hi]
                        } else {
                            m.thread_polls_in(t, r.start - 1, r.end)
                        };
                        match within.first() {
                            Some(first) => {
                                let lo = range.start + index_in(all, first);
                                (lo, lo + within.len() as u32)
                            }
                            None => (0, 0),
                        }
                    };
                    PollList::Span { next: lo, end: hi }
                }
            };
            sources.push(Source::Polls {
                thread: t,
                polls,
                pos: 0,
            });
            let annots: Vec<Annot> = plan
                .annots
                .iter()
                .copied()
                .filter(|a| slice_in(r, a.start, a.end))
                .collect();
            if !annots.is_empty() {
                sources.push(Source::Annots {
                    thread: t,
                    items: annots,
                    pos: 0,
                });
            }
        }
        if !m.wakes.is_empty() {
            // Sorted as packed (time, index) pairs: no indirection while sorting.
            let mut order: Vec<(Nanos, u32)> = m
                .wakes
                .iter()
                .enumerate()
                .filter(|(_, w)| instant_in(r, w.time))
                .map(|(i, w)| (w.time, i as u32))
                .collect();
            order.sort_unstable();
            sources.push(Source::Wakes { order, pos: 0 });
            let markers: Vec<(u32, u32)> = self
                .flows
                .markers
                .iter()
                .copied()
                .filter(|&(_, w)| instant_in(r, m.wakes[w as usize].time))
                .collect();
            if !markers.is_empty() {
                sources.push(Source::Markers {
                    items: markers,
                    pos: 0,
                });
            }
        }
        let bounds = |times: &dyn Fn(usize) -> Nanos, len: usize| {
            let lo = partition(len, |i| times(i) < r.start);
            let hi = partition(len, |i| times(i) < r.end);
            (lo, hi.max(lo))
        };
        let (lo, hi) = bounds(&|i| m.logs[i].time, m.logs.len());
        sources.push(Source::Logs { pos: lo, end: hi });
        let (lo, hi) = bounds(&|i| m.lost[i].time, m.lost.len());
        sources.push(Source::Lost { pos: lo, end: hi });
        let (lo, hi) = bounds(&|i| m.alloc_samples[i].time, m.alloc_samples.len());
        sources.push(Source::Samples { pos: lo, end: hi });
        for (s, series) in m.counters.iter().enumerate() {
            let points = &series.points;
            let (lo, hi) = bounds(&|i| points[i].0, points.len());
            // The value in force at `from`, unless a point sits exactly there.
            let lead = (r.start > 0
                && r.start < r.end
                && lo > 0
                && points.get(lo).is_none_or(|p| p.0 != r.start))
            .then(|| points[lo - 1].1);
            sources.push(Source::Counter {
                series: s as u32,
                lead,
                pos: lo,
                end: hi,
            });
        }
        sources
    }
}

/// The first index in `0..len` for which `pred` is false (`pred` true on a prefix).
fn partition(len: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

/// A source's polls: a contiguous range of global indexes, or an explicit order.
pub(super) enum PollList {
    Span { next: u32, end: u32 },
    Order(Vec<u32>),
}

/// One sorted stream of items to merge.
pub(super) enum Source {
    Pauses {
        items: Vec<(u32, u32)>,
        pos: usize,
    },
    Polls {
        thread: ThreadIx,
        polls: PollList,
        pos: usize,
    },
    Annots {
        thread: ThreadIx,
        items: Vec<Annot>,
        pos: usize,
    },
    Wakes {
        /// `(time, wake index)`, by time.
        order: Vec<(Nanos, u32)>,
        pos: usize,
    },
    Markers {
        items: Vec<(u32, u32)>,
        pos: usize,
    },
    Logs {
        pos: usize,
        end: usize,
    },
    Lost {
        pos: usize,
        end: usize,
    },
    Samples {
        pos: usize,
        end: usize,
    },
    Counter {
        series: u32,
        lead: Option<f64>,
        pos: usize,
        end: usize,
    },
}

/// Ties at equal `(ts, dur)`: arrow starts first, arrow-ending markers last.
const RANK_WAKE: u8 = 0;
const RANK_POLL: u8 = 1;
const RANK_OTHER: u8 = 2;
const RANK_MARKER: u8 = 3;

/// Merge order: `(ts, −dur)`, then rank, then source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key {
    ts: Nanos,
    neg_dur: Nanos,
    rank: u8,
    pub(super) source: u32,
}

impl Key {
    pub(super) fn new(ts: Nanos, dur: Nanos, rank: u8) -> Key {
        Key {
            ts,
            neg_dur: Nanos::MAX - dur,
            rank,
            source: 0,
        }
    }

    pub(super) fn with_source(self, source: usize) -> Key {
        Key {
            source: source as u32,
            ..self
        }
    }
}

impl Source {
    /// Items in this source (an upper bound, for progress).
    pub(super) fn len(&self) -> u64 {
        let n = match self {
            Source::Pauses { items, .. } => items.len(),
            Source::Polls { polls, .. } => match polls {
                PollList::Span { next, end } => (end - next) as usize,
                PollList::Order(order) => order.len(),
            },
            Source::Annots { items, .. } => items.len(),
            Source::Wakes { order, .. } => order.len(),
            Source::Markers { items, .. } => items.len(),
            Source::Logs { pos, end }
            | Source::Lost { pos, end }
            | Source::Samples { pos, end } => end - pos,
            Source::Counter { lead, pos, end, .. } => end - pos + usize::from(lead.is_some()),
        };
        n as u64
    }

    /// The key of the next item (skipping polls outside the range), or `None` at the end.
    pub(super) fn key(&mut self, m: &Model, range: Span) -> Option<Key> {
        match self {
            Source::Pauses { items, pos } => items.get(*pos).map(|&(i, _)| {
                let s = m.process_pauses[i as usize].span;
                Key::new(s.start, s.len(), RANK_OTHER)
            }),
            Source::Polls { polls, pos, .. } => {
                let next = match polls {
                    PollList::Span { next, end } => {
                        while *next < *end {
                            let p = &m.polls[*next as usize];
                            if slice_in(range, p.start, p.end) {
                                break;
                            }
                            *next += 1;
                        }
                        (*next < *end).then_some(*next)
                    }
                    PollList::Order(order) => order.get(*pos).copied(),
                }?;
                let p = &m.polls[next as usize];
                Some(Key::new(p.start, p.end - p.start, RANK_POLL))
            }
            Source::Annots { items, pos, .. } => items
                .get(*pos)
                .map(|a| Key::new(a.start, a.end - a.start, RANK_OTHER)),
            Source::Wakes { order, pos } => {
                order.get(*pos).map(|&(t, _)| Key::new(t, 0, RANK_WAKE))
            }
            Source::Markers { items, pos } => items
                .get(*pos)
                .map(|&(p, _)| Key::new(m.polls[p as usize].start, 0, RANK_MARKER)),
            Source::Logs { pos, end } => {
                (pos < end).then(|| Key::new(m.logs[*pos].time, 0, RANK_OTHER))
            }
            Source::Lost { pos, end } => {
                (pos < end).then(|| Key::new(m.lost[*pos].time, 0, RANK_OTHER))
            }
            Source::Samples { pos, end } => {
                (pos < end).then(|| Key::new(m.alloc_samples[*pos].time, 0, RANK_OTHER))
            }
            Source::Counter {
                series,
                lead,
                pos,
                end,
            } => {
                if lead.is_some() {
                    Some(Key::new(range.start, 0, RANK_OTHER))
                } else {
                    (pos < end).then(|| {
                        Key::new(m.counters[*series as usize].points[*pos].0, 0, RANK_OTHER)
                    })
                }
            }
        }
    }
}
