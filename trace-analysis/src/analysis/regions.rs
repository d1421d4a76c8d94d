//! Region groups: the trace's `tracing` spans ([`Model::spans`], one region each) grouped by
//! name and the values of chosen fields, with their latency (creation to close) and what
//! happened inside — Go's "user-defined regions" page, for spans.
//!
//! Which fields group: those given (`--by route,method`), or by default each name's
//! low-cardinality fields, so that a per-request `id` does not split groups: a field groups
//! when it has at most [`MAX_AUTO_VALUES`] distinct values among the name's spans and at
//! least two spans per value on average.
//!
//! Each group keeps its spans ([`RegionGroup::spans`], slowest first), so a view can draw
//! the group's latency histogram ([`RegionGroup::histogram`], log-scale buckets) and list the
//! regions of the group or of one bucket, slowest first ([`RegionGroup::slowest`]).
//!
//! ```
//! use trace_analysis::analysis::regions::{RegionGroups, RegionsOptions};
//! use trace_analysis::model::Model;
//!
//! fn show(model: &Model) {
//!     let by_route = RegionsOptions { by: Some(vec!["route".into()]), ..Default::default() };
//!     for g in RegionGroups::build(model, &by_route).groups {
//!         println!("{} {:?}: {} spans, p99 {} ns", g.name, g.fields, g.count, g.p99_ns);
//!     }
//! }
//! ```

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::breakdown::Stats;
use crate::model::{Model, Nanos, SampleKind, SpanRegion, TaskIx};

/// A field with more distinct values than this never groups by default.
pub const MAX_AUTO_VALUES: usize = 20;

/// How to group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionsOptions {
    /// Group by these fields (a span without one groups under `-`); `None`: each name's
    /// low-cardinality fields.
    pub by: Option<Vec<String>>,
    /// A poll at least this long counts as a long poll (default 1 ms).
    pub long_poll: Nanos,
}

impl Default for RegionsOptions {
    fn default() -> Self {
        RegionsOptions {
            by: None,
            long_poll: 1_000_000,
        }
    }
}

/// The spans of one name and one set of field values.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionGroup {
    /// The spans' name.
    pub name: String,
    /// The grouping fields and their values.
    pub fields: BTreeMap<String, String>,
    /// Spans in the group.
    pub count: u64,
    /// Of those, still open at the end of the data (not in the latency figures).
    pub open: u64,
    /// Latency (creation to close) of the closed spans: sum, median, 99th percentile, max.
    pub total_ns: u64,
    /// Median latency.
    pub p50_ns: u64,
    /// 99th percentile latency.
    pub p99_ns: u64,
    /// Longest.
    pub max_ns: u64,
    /// Share of the spans' lifetime spent entered (busy), 0..1.
    pub busy_share: f64,
    /// Time in long polls of the spans' tasks while the spans were alive.
    pub long_poll_ns: u64,
    /// Estimated bytes allocated by the spans' tasks while the spans were alive (sampled).
    pub alloc_bytes: u64,
    /// CPU samples of the spans' tasks while the spans were alive.
    pub cpu_samples: u64,
    /// The spans, indices into [`Model::spans`]: the closed ones slowest first, then the
    /// open ones (by creation). Not in the JSON.
    #[serde(skip)]
    pub spans: Vec<u32>,
}

/// Region groups, largest total first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionGroups {
    /// The fields grouped by, per span name.
    pub by: BTreeMap<String, Vec<String>>,
    /// Whether those were chosen automatically.
    pub auto: bool,
    /// The trace records allocations (`TracingAllocator`): without, `alloc_bytes` is 0 for
    /// want of a measurement.
    pub allocations_recorded: bool,
    /// The trace has CPU samples: without, `cpu_samples` is 0 for want of a measurement.
    pub cpu_sampled: bool,
    /// The groups.
    pub groups: Vec<RegionGroup>,
}

impl RegionGroups {
    /// Groups the model's spans.
    pub fn build(model: &Model, options: &RegionsOptions) -> RegionGroups {
        let mut by_name: BTreeMap<&str, Vec<(u32, &SpanRegion)>> = BTreeMap::new();
        for (i, s) in model.spans.iter().enumerate() {
            by_name
                .entry(model.string(s.name))
                .or_default()
                .push((i as u32, s));
        }
        let inside = Inside::new(model, options.long_poll);
        let mut by = BTreeMap::new();
        let mut groups = Vec::new();
        for (name, spans) in by_name {
            let fields = match &options.by {
                Some(f) => f.clone(),
                None => {
                    let only: Vec<&SpanRegion> = spans.iter().map(|&(_, s)| s).collect();
                    low_cardinality_fields(model, &only)
                }
            };
            let mut keyed: BTreeMap<Vec<String>, Vec<(u32, &SpanRegion)>> = BTreeMap::new();
            for &(i, s) in &spans {
                let key = fields
                    .iter()
                    .map(|f| span_value(model, s, f).unwrap_or("-").to_string())
                    .collect();
                keyed.entry(key).or_default().push((i, s));
            }
            for (values, spans) in keyed {
                groups.push(group(name, &fields, values, &spans, &inside));
            }
            by.insert(name.to_string(), fields);
        }
        groups.sort_by(|a, b| {
            b.total_ns
                .cmp(&a.total_ns)
                .then(b.count.cmp(&a.count))
                .then(a.name.cmp(&b.name))
        });
        RegionGroups {
            by,
            auto: options.by.is_none(),
            allocations_recorded: !model.alloc_samples.is_empty()
                || model
                    .counters
                    .iter()
                    .any(|c| c.kind == crate::model::CounterKind::HeapInUse),
            cpu_sampled: model.samples.iter().any(|s| s.kind == SampleKind::Cpu),
            groups,
        }
    }
}

/// What groups a span under `key`: its field of that name, else, for `target`, the
/// span's target (the module path of the code that made it: the same `#[instrument]`ed
/// name, e.g. mini-redis's `apply`, in `cmd::get` and in `cmd::set`).
///
/// ```
/// # use trace_analysis::model::Model;
/// # use trace_analysis::analysis::regions::span_value;
/// # fn show(model: &Model) {
/// for s in &model.spans {
///     println!("{:?} {:?}", span_value(model, s, "route"), span_value(model, s, "target"));
/// }
/// # }
/// ```
pub fn span_value<'m>(model: &'m Model, span: &'m SpanRegion, key: &str) -> Option<&'m str> {
    match span.field(key) {
        Some(v) => Some(v),
        None if key == TARGET => Some(model.string(span.target)),
        None => None,
    }
}

/// The pseudo-field naming a span's target ([`span_value`]).
pub const TARGET: &str = "target";

/// The fields of `spans` (one name) that group by default: fields with few values (at most
/// [`MAX_AUTO_VALUES`], and at most one per two spans), and the target when spans of the
/// name come from several.
pub(crate) fn low_cardinality_fields(model: &Model, spans: &[&SpanRegion]) -> Vec<String> {
    let mut values: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut targets: BTreeSet<&str> = BTreeSet::new();
    for s in spans {
        for kv in s.fields.split(' ') {
            if let Some((k, v)) = kv.split_once('=') {
                values.entry(k).or_default().insert(v);
            }
        }
        targets.insert(model.string(s.target));
    }
    let few = |n: usize| n <= MAX_AUTO_VALUES && n * 2 <= spans.len();
    let mut out: Vec<String> = values
        .into_iter()
        .filter(|(_, v)| few(v.len()))
        .map(|(k, _)| k.to_string())
        .collect();
    if targets.len() > 1 && few(targets.len()) && !out.iter().any(|f| f == TARGET) {
        out.push(TARGET.to_string());
    }
    out
}

fn group(
    name: &str,
    fields: &[String],
    values: Vec<String>,
    indexed: &[(u32, &SpanRegion)],
    inside: &Inside<'_>,
) -> RegionGroup {
    // Closed ones slowest first (ties by creation), then the open ones by creation: the
    // order a view lists them in.
    let mut order: Vec<(u32, &SpanRegion)> = indexed.to_vec();
    order.sort_by_key(|&(i, s)| {
        (
            !s.closed,
            std::cmp::Reverse(s.closed.then(|| s.span.len())),
            s.span.start,
            i,
        )
    });
    let spans: Vec<&SpanRegion> = indexed.iter().map(|&(_, s)| s).collect();
    let mut lat: Vec<u64> = spans
        .iter()
        .filter(|s| s.closed)
        .map(|s| s.span.len())
        .collect();
    // The same percentiles as the breakdown's.
    let lat = Stats::of(&mut lat);
    let life: u64 = spans.iter().map(|s| s.span.len()).sum();
    let busy: u64 = spans.iter().map(|s| s.busy.min(s.span.len())).sum();
    let (mut long_poll_ns, mut alloc_bytes, mut cpu_samples) = (0, 0, 0);
    for s in &spans {
        let (l, a, c) = inside.of(s);
        long_poll_ns += l;
        alloc_bytes += a;
        cpu_samples += c;
    }
    RegionGroup {
        name: name.to_string(),
        fields: fields.iter().cloned().zip(values).collect(),
        count: spans.len() as u64,
        open: spans.iter().filter(|s| !s.closed).count() as u64,
        total_ns: lat.total,
        p50_ns: lat.p50,
        p99_ns: lat.p99,
        max_ns: lat.max,
        busy_share: if life == 0 {
            0.0
        } else {
            busy as f64 / life as f64
        },
        long_poll_ns,
        alloc_bytes,
        cpu_samples,
        spans: order.into_iter().map(|(i, _)| i).collect(),
    }
}

/// One bar of a latency histogram: the regions whose latency is in `lo_ns..hi_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bucket {
    /// Lowest latency in it.
    pub lo_ns: u64,
    /// Latencies below this (exclusive).
    pub hi_ns: u64,
    /// Closed regions in it.
    pub count: u64,
}

impl Bucket {
    /// Whether latency `ns` falls in it.
    pub fn contains(&self, ns: u64) -> bool {
        (self.lo_ns..self.hi_ns).contains(&ns)
    }
}

/// The bounds of the log-scale bucket that holds `ns`: steps of 1, 2 and 5 in each decade
/// (1 µs, 2 µs, 5 µs, 10 µs, …), so bucket edges read as round durations; 0 has `0..1`.
///
/// ```
/// use trace_analysis::analysis::regions::bucket_of;
/// assert_eq!(bucket_of(0), (0, 1));
/// assert_eq!(bucket_of(1_999), (1_000, 2_000));
/// assert_eq!(bucket_of(2_000), (2_000, 5_000));
/// assert_eq!(bucket_of(7_300_000), (5_000_000, 10_000_000));
/// ```
pub fn bucket_of(ns: u64) -> (u64, u64) {
    if ns == 0 {
        return (0, 1);
    }
    let mut decade = 1u64;
    while ns / decade >= 10 {
        decade *= 10;
    }
    let lo = decade
        * match ns / decade {
            1 => 1,
            2..=4 => 2,
            _ => 5,
        };
    (lo, next_edge(lo))
}

/// The bucket edge after `edge` (an edge of [`bucket_of`]), saturating at `u64::MAX`.
fn next_edge(edge: u64) -> u64 {
    if edge == 0 {
        return 1;
    }
    let mut decade = 1u64;
    while edge / decade >= 10 {
        decade *= 10;
    }
    let step = match edge / decade {
        1 => 2,
        2 => 5,
        _ => 10,
    };
    decade.saturating_mul(step)
}

impl RegionGroup {
    /// The latency histogram of the group's closed regions (Go's "user-defined regions"
    /// page): log-scale buckets ([`bucket_of`]) from the fastest region's to the slowest's,
    /// empty buckets between them included so the shape reads right; empty when no region
    /// closed. `model` is the one the group was built from.
    pub fn histogram(&self, model: &Model) -> Vec<Bucket> {
        let lat = || {
            self.spans
                .iter()
                .map(|&i| &model.spans[i as usize])
                .filter(|s| s.closed)
                .map(|s| s.span.len())
        };
        let (Some(min), Some(max)) = (lat().min(), lat().max()) else {
            return Vec::new();
        };
        let mut buckets = Vec::new();
        let (mut lo, last) = (bucket_of(min).0, bucket_of(max).0);
        loop {
            let hi = next_edge(lo);
            buckets.push(Bucket {
                lo_ns: lo,
                hi_ns: hi,
                count: 0,
            });
            if lo >= last || hi == u64::MAX {
                break;
            }
            lo = hi;
        }
        for ns in lat() {
            // The last bucket also takes `u64::MAX`, its saturated (exclusive) end.
            let at = buckets
                .partition_point(|b| b.hi_ns <= ns)
                .min(buckets.len() - 1);
            buckets[at].count += 1;
        }
        buckets
    }

    /// The group's regions, slowest first (indices into [`Model::spans`]): all of them (the
    /// ones still open at the end last), or only the closed ones in `bucket`.
    pub fn slowest(&self, model: &Model, bucket: Option<&Bucket>) -> Vec<u32> {
        match bucket {
            None => self.spans.clone(),
            Some(b) => self
                .spans
                .iter()
                .copied()
                .filter(|&i| {
                    let s = &model.spans[i as usize];
                    s.closed && b.contains(s.span.len())
                })
                .collect(),
        }
    }
}

/// What a span's task did while the span was alive: long polls, allocation and CPU samples.
struct Inside<'m> {
    model: &'m Model,
    long_poll: Nanos,
    /// Per task: its allocation and CPU samples (time, weight, is CPU), by time.
    samples: HashMap<TaskIx, Vec<(Nanos, u64, bool)>>,
}

impl<'m> Inside<'m> {
    fn new(model: &'m Model, long_poll: Nanos) -> Self {
        let mut samples: HashMap<TaskIx, Vec<(Nanos, u64, bool)>> = HashMap::new();
        for s in &model.samples {
            if s.task != TaskIx::NONE && s.kind != SampleKind::Stall {
                samples.entry(s.task).or_default().push((
                    s.time,
                    s.weight,
                    s.kind == SampleKind::Cpu,
                ));
            }
        }
        for v in samples.values_mut() {
            v.sort_by_key(|x| x.0);
        }
        Inside {
            model,
            long_poll,
            samples,
        }
    }

    /// (long-poll ns, allocated bytes, CPU samples) of `s`'s task within its lifetime.
    fn of(&self, s: &SpanRegion) -> (u64, u64, u64) {
        if s.task == TaskIx::NONE {
            return (0, 0, 0);
        }
        let life = s.span;
        let long = self
            .model
            .task_polls(s.task)
            .filter(|p| p.end.saturating_sub(p.start) >= self.long_poll)
            .map(|p| p.end.min(life.end).saturating_sub(p.start.max(life.start)))
            .sum();
        let (mut alloc, mut cpu) = (0, 0);
        if let Some(v) = self.samples.get(&s.task) {
            let from = v.partition_point(|x| x.0 < life.start);
            for &(t, w, is_cpu) in &v[from..] {
                if t >= life.end {
                    break;
                }
                if is_cpu {
                    cpu += 1;
                } else {
                    alloc += w;
                }
            }
        }
        (long, alloc, cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One task per span: `spans` is (route, id, creation, latency); the last one with
    /// latency `None` never closes.
    fn model(spans: &[(&str, u32, u64, Option<u64>)]) -> Model {
        let mut text = String::from(
            "string id=3 text=\"request\"\nstring id=4 text=\"app\"\n1 0 thread_start kind=worker index=0\n",
        );
        let mut events = Vec::new();
        for &(route, id, at, lat) in spans {
            events.push((
                at,
                format!("task_spawn task={id} kind=async tokio_id={id} parent=0 location=0 name=0"),
            ));
            events.push((at + 1, format!("poll_start task={id}")));
            events.push((at + 2, format!("span_new id={id} parent=0 name=3 target=4 level=info fields=\"route={route} id={id}\"")));
            events.push((at + 3, "poll_end ready=false".to_string()));
            if let Some(lat) = lat {
                events.push((at + 2 + lat, format!("span_close id={id}")));
            }
        }
        events.sort_by_key(|e| e.0);
        for (t, e) in events {
            text.push_str(&format!("1 {t} {e}\n"));
        }
        let bytes = trace_format::text::undump(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        Model::build(&trace_format::Trace::from_bytes(bytes).unwrap()).unwrap()
    }

    #[test]
    fn buckets_step_1_2_5_per_decade() {
        assert_eq!(bucket_of(1), (1, 2));
        assert_eq!(bucket_of(9), (5, 10));
        assert_eq!(bucket_of(10), (10, 20));
        assert_eq!(bucket_of(49_999), (20_000, 50_000));
        assert_eq!(bucket_of(50_000), (50_000, 100_000));
        assert_eq!(bucket_of(u64::MAX), (10_000_000_000_000_000_000, u64::MAX));
    }

    #[test]
    fn a_group_lists_its_spans_slowest_first_and_counts_them_in_log_buckets() {
        let m = model(&[
            ("/a", 1, 1_000, Some(1_500)),
            ("/a", 2, 2_000, Some(12_000)),
            ("/b", 3, 3_000, Some(700)),
            ("/a", 4, 4_000, Some(1_200)),
            ("/a", 5, 5_000, Some(4_000)),
            ("/b", 6, 6_000, Some(800)),
            ("/a", 7, 7_000, None),
        ]);
        let by = RegionsOptions {
            by: Some(vec!["route".into()]),
            ..Default::default()
        };
        let g = RegionGroups::build(&m, &by);
        let a = g.groups.iter().find(|g| g.fields["route"] == "/a").unwrap();
        let ids =
            |ixs: &[u32]| -> Vec<u64> { ixs.iter().map(|&i| m.spans[i as usize].id).collect() };
        // Closed slowest first, the open one last.
        assert_eq!(ids(&a.spans), [2, 5, 1, 4, 7]);
        assert_eq!(ids(&a.slowest(&m, None)), [2, 5, 1, 4, 7]);
        let h = a.histogram(&m);
        let shape: Vec<(u64, u64, u64)> = h.iter().map(|b| (b.lo_ns, b.hi_ns, b.count)).collect();
        // 1.2 and 1.5 µs, 4 µs, none in 5–10 µs (kept, so the shape reads right), 12 µs.
        assert_eq!(
            shape,
            [
                (1_000, 2_000, 2),
                (2_000, 5_000, 1),
                (5_000, 10_000, 0),
                (10_000, 20_000, 1)
            ]
        );
        assert_eq!(h.iter().map(|b| b.count).sum::<u64>(), a.count - a.open);
        assert_eq!(ids(&a.slowest(&m, Some(&h[0]))), [1, 4]);
        assert!(a.slowest(&m, Some(&h[2])).is_empty());
        let b = g.groups.iter().find(|g| g.fields["route"] == "/b").unwrap();
        assert_eq!(ids(&b.spans), [6, 3]);
        assert_eq!(b.histogram(&m).len(), 1);
    }

    #[test]
    fn a_group_with_no_closed_span_has_an_empty_histogram() {
        let m = model(&[("/a", 1, 1_000, None)]);
        let g = RegionGroups::build(&m, &RegionsOptions::default());
        assert!(g.groups[0].histogram(&m).is_empty());
        assert_eq!(g.groups[0].slowest(&m, None).len(), 1);
    }

    /// One `#[instrument]`ed name in two modules (mini-redis's `apply` in `cmd::get` and
    /// `cmd::set`): grouped by target by default, and by `--by target`.
    #[test]
    fn one_name_in_several_targets_groups_by_target() {
        let mut text = String::from(
            "string id=3 text=\"apply\"\nstring id=4 text=\"mini_redis::cmd::get\"\n\
             string id=5 text=\"mini_redis::cmd::set\"\n1 0 thread_start kind=worker index=0\n",
        );
        for i in 0..6u64 {
            let target = if i % 3 == 0 { 5 } else { 4 };
            let at = 100 * i + 10;
            text += &format!(
                "1 {at} span_new id={} parent=0 name=3 target={target} level=info fields=\"\"\n\
                 1 {} span_close id={}\n",
                i + 1,
                at + 5 + i,
                i + 1
            );
        }
        let bytes = trace_format::text::undump(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let m = Model::build(&trace_format::Trace::from_bytes(bytes).unwrap()).unwrap();
        for by in [None, Some(vec![TARGET.to_string()])] {
            let g = RegionGroups::build(
                &m,
                &RegionsOptions {
                    by: by.clone(),
                    ..Default::default()
                },
            );
            let got: Vec<(String, u64)> = g
                .groups
                .iter()
                .map(|g| (g.fields[TARGET].clone(), g.count))
                .collect();
            assert_eq!(
                got,
                [
                    ("mini_redis::cmd::get".to_string(), 4),
                    ("mini_redis::cmd::set".to_string(), 2)
                ],
                "{by:?}"
            );
        }
    }
}
