//! Region groups: the trace's `tracing` spans ([`Model::spans`], one region each) grouped by
//! name and the values of chosen fields, with their latency (creation to close) and what
//! happened inside — Go's "user-defined regions" page, for spans.
//!
//! Which fields group: those given (`--by route,method`), or by default each name's
//! low-cardinality fields, so that a per-request `id` does not split groups: a field groups
//! when it has at most [`MAX_AUTO_VALUES`] distinct values among the name's spans and at
//! least two spans per value on average.
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
}

/// Region groups, largest total first.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionGroups {
    /// The fields grouped by, per span name.
    pub by: BTreeMap<String, Vec<String>>,
    /// Whether those were chosen automatically.
    pub auto: bool,
    /// The groups.
    pub groups: Vec<RegionGroup>,
}

impl RegionGroups {
    /// Groups the model's spans.
    pub fn build(model: &Model, options: &RegionsOptions) -> RegionGroups {
        let mut by_name: BTreeMap<&str, Vec<&SpanRegion>> = BTreeMap::new();
        for s in &model.spans {
            by_name.entry(model.string(s.name)).or_default().push(s);
        }
        let inside = Inside::new(model, options.long_poll);
        let mut by = BTreeMap::new();
        let mut groups = Vec::new();
        for (name, spans) in by_name {
            let fields = match &options.by {
                Some(f) => f.clone(),
                None => low_cardinality_fields(&spans),
            };
            let mut keyed: BTreeMap<Vec<String>, Vec<&SpanRegion>> = BTreeMap::new();
            for s in &spans {
                let key = fields
                    .iter()
                    .map(|f| s.field(f).unwrap_or("-").to_string())
                    .collect();
                keyed.entry(key).or_default().push(s);
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
            groups,
        }
    }
}

/// The fields of `spans` (one name) that group by default.
pub(crate) fn low_cardinality_fields(spans: &[&SpanRegion]) -> Vec<String> {
    let mut values: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for s in spans {
        for kv in s.fields.split(' ') {
            if let Some((k, v)) = kv.split_once('=') {
                values.entry(k).or_default().insert(v);
            }
        }
    }
    values
        .into_iter()
        .filter(|(_, v)| v.len() <= MAX_AUTO_VALUES && v.len() * 2 <= spans.len())
        .map(|(k, _)| k.to_string())
        .collect()
}

fn group(
    name: &str,
    fields: &[String],
    values: Vec<String>,
    spans: &[&SpanRegion],
    inside: &Inside<'_>,
) -> RegionGroup {
    let mut lat: Vec<u64> = spans
        .iter()
        .filter(|s| s.closed)
        .map(|s| s.span.len())
        .collect();
    lat.sort_unstable();
    let pct = |q: f64| -> u64 {
        if lat.is_empty() {
            0
        } else {
            lat[(((lat.len() - 1) as f64) * q).round() as usize]
        }
    };
    let life: u64 = spans.iter().map(|s| s.span.len()).sum();
    let busy: u64 = spans.iter().map(|s| s.busy.min(s.span.len())).sum();
    let (mut long_poll_ns, mut alloc_bytes, mut cpu_samples) = (0, 0, 0);
    for s in spans {
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
        total_ns: lat.iter().sum(),
        p50_ns: pct(0.5),
        p99_ns: pct(0.99),
        max_ns: lat.last().copied().unwrap_or(0),
        busy_share: if life == 0 {
            0.0
        } else {
            busy as f64 / life as f64
        },
        long_poll_ns,
        alloc_bytes,
        cpu_samples,
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
