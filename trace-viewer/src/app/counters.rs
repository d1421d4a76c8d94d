//! Counter tracks: the model's counter series (heap in use, queue depths, alive tasks, user
//! counters) and the allocation rate derived from the allocator's counters, each a step
//! function drawn as one compact lane.
//!
//! Derived once when a trace is opened. A track keeps its points and a min/max segment tree
//! over them ([`CounterTrack::min_max`]), so the timeline folds a lane per pixel column
//! with two binary searches and one tree query per column.

use trace_analysis::model::{CounterKind, Model, Nanos};
use trace_analysis::units::format_bytes;

/// What a counter's values measure, for formatting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterUnit {
    /// A count (tasks, queue depth, a user value).
    Count,
    /// Bytes.
    Bytes,
    /// Bytes per second.
    BytesPerSec,
}

impl CounterUnit {
    /// `v` in this unit: "12", "1.5 MiB", "3 MiB/s"; negative byte counts keep their sign.
    pub fn format(self, v: f64) -> String {
        let bytes = |v: f64| {
            let text = format_bytes(v.abs().round() as u64);
            if v < 0.0 { format!("-{text}") } else { text }
        };
        match self {
            CounterUnit::Count if v.fract() == 0.0 && v.abs() < 1e15 => format!("{v:.0}"),
            CounterUnit::Count => format!("{v:.3}"),
            CounterUnit::Bytes => bytes(v),
            CounterUnit::BytesPerSec => format!("{}/s", bytes(v)),
        }
    }
}

/// What colour family a track is drawn in (the palette is the widget's business).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterStyle {
    /// Heap and allocation.
    Memory,
    /// Run queues.
    Queue,
    /// Tasks and threads alive.
    Population,
    /// User counters.
    User,
}

/// One counter lane's data.
#[derive(Debug, Clone)]
pub struct CounterTrack {
    /// Its name ("heap in use", "worker 0 queue", a user counter's name).
    pub label: String,
    /// How values are written.
    pub unit: CounterUnit,
    /// How it is drawn.
    pub style: CounterStyle,
    /// A note for the tooltip (how a derived series was computed), if any.
    pub note: Option<String>,
    /// The recorder's own bookkeeping (`trace_rt.*`), not the program's: listed apart, in
    /// the collapsed "recorder internals" section.
    pub internal: bool,
    /// Point times, ascending; each value holds until the next point.
    pub times: Vec<Nanos>,
    /// The values at those times.
    pub values: Vec<f64>,
    tree: MinMaxTree,
}

impl CounterTrack {
    /// A track of `points` sorted by time.
    pub fn new(
        label: impl Into<String>,
        unit: CounterUnit,
        style: CounterStyle,
        points: &[(Nanos, f64)],
    ) -> CounterTrack {
        let times: Vec<Nanos> = points.iter().map(|p| p.0).collect();
        let values: Vec<f64> = points.iter().map(|p| p.1).collect();
        CounterTrack {
            label: label.into(),
            unit,
            style,
            note: None,
            internal: false,
            tree: MinMaxTree::new(&values),
            times,
            values,
        }
    }

    /// The value holding at `t` (the last point at or before it), if any.
    pub fn value_at(&self, t: Nanos) -> Option<f64> {
        let i = self.times.partition_point(|&x| x <= t);
        (i > 0).then(|| self.values[i - 1])
    }

    /// The least and greatest of the values of points `range`.
    pub fn min_max(&self, range: std::ops::Range<usize>) -> (f64, f64) {
        if range.len() <= 32 {
            // A short run: a scan of adjacent values beats the tree's scattered reads.
            return self.values[range]
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
        }
        self.tree.query(range.start, range.end)
    }
}

/// Minimum and maximum over index ranges in O(log n): an iterative segment tree.
#[derive(Debug, Clone, Default)]
struct MinMaxTree {
    n: usize,
    min: Vec<f64>,
    max: Vec<f64>,
}

impl MinMaxTree {
    fn new(values: &[f64]) -> MinMaxTree {
        let n = values.len();
        let mut min = vec![f64::INFINITY; 2 * n];
        let mut max = vec![f64::NEG_INFINITY; 2 * n];
        min[n..].copy_from_slice(values);
        max[n..].copy_from_slice(values);
        for i in (1..n).rev() {
            min[i] = min[2 * i].min(min[2 * i + 1]);
            max[i] = max[2 * i].max(max[2 * i + 1]);
        }
        MinMaxTree { n, min, max }
    }

    /// Over `[lo, hi)`; `(inf, -inf)` when empty.
    fn query(&self, lo: usize, hi: usize) -> (f64, f64) {
        let (mut lo, mut hi) = (lo.min(self.n) + self.n, hi.min(self.n) + self.n);
        let (mut mn, mut mx) = (f64::INFINITY, f64::NEG_INFINITY);
        while lo < hi {
            if lo & 1 == 1 {
                mn = mn.min(self.min[lo]);
                mx = mx.max(self.max[lo]);
                lo += 1;
            }
            if hi & 1 == 1 {
                hi -= 1;
                mn = mn.min(self.min[hi]);
                mx = mx.max(self.max[hi]);
            }
            lo /= 2;
            hi /= 2;
        }
        (mn, mx)
    }
}

/// The tracks of `model`, in lane order: heap in use, allocation rate, global queue, worker
/// queues, alive tasks, blocking threads, user counters, then the recorder's own counters
/// (user counters named `trace_rt.*`, marked [`CounterTrack::internal`]). The cumulative
/// "allocated" series is shown as its rate.
pub fn counter_tracks(model: &Model) -> Vec<CounterTrack> {
    let rank = |k: &CounterKind| match k {
        CounterKind::HeapInUse => 0,
        CounterKind::AllocatedBytes => 1,
        CounterKind::GlobalQueue => 2,
        CounterKind::WorkerQueue(_) => 3,
        CounterKind::AliveTasks => 4,
        CounterKind::BlockingThreads => 5,
        CounterKind::User(name) if is_internal(name) => 7,
        CounterKind::User(_) => 6,
    };
    let mut series: Vec<_> = model
        .counters
        .iter()
        .filter(|s| !s.points.is_empty())
        .collect();
    series.sort_by(|a, b| (rank(&a.kind), &a.kind).cmp(&(rank(&b.kind), &b.kind)));
    series
        .into_iter()
        .map(|s| {
            let (label, unit, style) = match &s.kind {
                CounterKind::HeapInUse => (
                    "heap in use".into(),
                    CounterUnit::Bytes,
                    CounterStyle::Memory,
                ),
                CounterKind::AllocatedBytes => {
                    let window = rate_window(model.span().len());
                    let mut t = CounterTrack::new(
                        "allocation rate",
                        CounterUnit::BytesPerSec,
                        CounterStyle::Memory,
                        &rate_points(&s.points, window),
                    );
                    t.note = Some(format!(
                        "bytes allocated per {}, as a rate",
                        trace_analysis::units::format_duration(window)
                    ));
                    return t;
                }
                CounterKind::GlobalQueue => (
                    "global queue".into(),
                    CounterUnit::Count,
                    CounterStyle::Queue,
                ),
                CounterKind::WorkerQueue(i) => (
                    format!("worker {i} queue"),
                    CounterUnit::Count,
                    CounterStyle::Queue,
                ),
                CounterKind::AliveTasks => (
                    "alive tasks".into(),
                    CounterUnit::Count,
                    CounterStyle::Population,
                ),
                CounterKind::BlockingThreads => (
                    "blocking threads".into(),
                    CounterUnit::Count,
                    CounterStyle::Population,
                ),
                CounterKind::User(name) => (name.clone(), CounterUnit::Count, CounterStyle::User),
            };
            let mut t = CounterTrack::new(label, unit, style, &s.points);
            t.internal = matches!(&s.kind, CounterKind::User(name) if is_internal(name));
            t
        })
        .collect()
}

/// Whether a user counter's name is the recorder's own (`trace_rt.alloc.sample_rate`, …).
pub fn is_internal(name: &str) -> bool {
    name.starts_with("trace_rt.")
}

/// The window the allocation rate is measured over: 1 ms, or longer on long traces so the
/// series has at most 100 000 steps.
pub fn rate_window(trace_len: Nanos) -> Nanos {
    (trace_len / 100_000).max(1_000_000)
}

/// The rate (per second) of a cumulative series, over consecutive windows of `window` ns
/// aligned on 0: one point where the rate changes. The increase reported at a point counts
/// in the window that point falls in (the allocator reports a thread's bytes when it has
/// enough of them, so finer attribution would be guesswork).
pub fn rate_points(cumulative: &[(Nanos, f64)], window: Nanos) -> Vec<(Nanos, f64)> {
    let window = window.max(1);
    let per_sec = 1e9 / window as f64;
    let mut out: Vec<(Nanos, f64)> = Vec::new();
    let mut push = |t: Nanos, v: f64| {
        if out.last().is_none_or(|&(_, last)| last != v) {
            out.push((t, v));
        }
    };
    let mut prev = 0.0;
    let mut i = 0;
    while i < cumulative.len() {
        let b = cumulative[i].0 / window;
        let mut sum = 0.0;
        while i < cumulative.len() && cumulative[i].0 / window == b {
            sum += cumulative[i].1 - prev;
            prev = cumulative[i].1;
            i += 1;
        }
        push(b * window, sum * per_sec);
        // The next window with data may not be the next one: nothing in between.
        let next = cumulative.get(i).map(|p| p.0 / window);
        if next != Some(b + 1) {
            push((b + 1) * window, 0.0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_max_tree_matches_a_scan() {
        let values: Vec<f64> = (0..1000u64)
            .map(|i| ((i * 7919) % 1013) as f64 - 500.0)
            .collect();
        let tree = MinMaxTree::new(&values);
        for (lo, hi) in [(0, 1000), (3, 4), (17, 513), (999, 1000), (500, 777)] {
            let want = values[lo..hi]
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                });
            assert_eq!(tree.query(lo, hi), want, "{lo}..{hi}");
        }
        assert_eq!(tree.query(5, 5), (f64::INFINITY, f64::NEG_INFINITY));
    }

    #[test]
    fn the_allocation_rate_counts_bytes_per_window() {
        // Cumulative: 1000 B at 0.2 ms, 3000 at 0.7 ms, 4000 at 2.5 ms; 1 ms windows.
        let cum = [(200_000, 1000.0), (700_000, 3000.0), (2_500_000, 4000.0)];
        let r = rate_points(&cum, 1_000_000);
        assert_eq!(
            r,
            [
                (0, 3e6),
                (1_000_000, 0.0),
                (2_000_000, 1e6),
                (3_000_000, 0.0)
            ]
        );
        assert_eq!(rate_window(1_000_000_000), 1_000_000);
        assert_eq!(rate_window(3_600_000_000_000), 36_000_000);
    }

    #[test]
    fn values_are_written_in_their_unit() {
        assert_eq!(CounterUnit::Count.format(12.0), "12");
        assert_eq!(CounterUnit::Count.format(1.5), "1.500");
        assert_eq!(CounterUnit::Bytes.format(1536.0), "1.5 KiB");
        assert_eq!(CounterUnit::Bytes.format(-2048.0), "-2 KiB");
        assert_eq!(CounterUnit::BytesPerSec.format(3.0 * 1048576.0), "3 MiB/s");
    }

    #[test]
    fn tracks_come_in_lane_order_with_the_rate_derived() {
        let s = trace_analysis::synthetic::Synthetic {
            sample_ns: 20_000,
            ..Default::default()
        };
        let model = Model::build(&trace_format::Trace::from_bytes(s.bytes()).unwrap()).unwrap();
        let tracks = counter_tracks(&model);
        let labels: Vec<&str> = tracks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "heap in use",
                "allocation rate",
                "global queue",
                "worker 0 queue",
                "worker 1 queue",
                "alive tasks",
                "blocking threads",
                trace_analysis::synthetic::USER_COUNTER
            ]
        );
        let rate = &tracks[1];
        assert_eq!(rate.unit, CounterUnit::BytesPerSec);
        assert!(rate.note.as_deref().unwrap().contains("1 ms"));
        assert!(rate.values.iter().any(|&v| v > 0.0));
        // Global queue at sample k is k % 5.
        assert_eq!(tracks[2].values[..6], [0.0, 1.0, 2.0, 3.0, 4.0, 0.0]);
    }
}
