//! The Regions view (Go's "user-defined regions" page, for `tracing` spans): the region
//! groups of `trace_analysis::analysis::regions` (spans grouped by name and their
//! low-cardinality fields, as `trace-viewer regions` prints them) as a sortable table; a
//! group picked shows its latency histogram and its regions slowest first, a bar picked
//! only the regions in that bucket; a region clicked is shown in the timeline.
//!
//! - [`panel`]: the view;
//! - [`RegionsState`]: the groups (computed in the background when the view is first
//!   shown), the table's order, and the picked group with its histogram and list (computed
//!   once when picked, not each frame). The grouping, the histogram and the order of a
//!   group's regions are the analysis's; this module only keeps what was picked.

pub mod panel;

use std::cmp::Ordering;
use std::sync::Arc;

use super::jobs::{Job, Lazy};
use super::open_trace::OpenTrace;
use trace_analysis::analysis::regions::{Bucket, RegionGroup, RegionGroups, RegionsOptions};
use trace_analysis::model::{Model, SampleKind};

/// The groups, and which optional columns the trace has data for.
#[derive(Debug)]
pub struct RegionsData {
    /// The region groups, largest total first.
    pub groups: RegionGroups,
    /// The trace has allocation samples (the "allocated" column is shown).
    pub alloc: bool,
    /// The trace has CPU samples (the "CPU samples" column is shown).
    pub cpu: bool,
}

impl RegionsData {
    /// Groups the spans of `model` as `trace-viewer regions` does by default.
    pub fn build(model: &Model) -> RegionsData {
        let has = |k: SampleKind| model.samples.iter().any(|s| s.kind == k);
        RegionsData {
            groups: RegionGroups::build(model, &RegionsOptions::default()),
            alloc: has(SampleKind::Alloc),
            cpu: has(SampleKind::Cpu),
        }
    }
}

/// A column of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// Name and field values.
    Group,
    /// Regions.
    Count,
    /// Summed latency.
    Total,
    /// Median latency.
    P50,
    /// 99th percentile latency.
    P99,
    /// Longest.
    Max,
    /// Share of the lifetime entered.
    Busy,
    /// Time in long polls inside.
    LongPolls,
    /// Bytes allocated inside (only with allocation samples).
    Alloc,
    /// CPU samples inside (only with CPU samples).
    Cpu,
}

impl Column {
    /// Every column, in display order.
    pub const ALL: [Column; 10] = [
        Column::Group,
        Column::Count,
        Column::Total,
        Column::P50,
        Column::P99,
        Column::Max,
        Column::Busy,
        Column::LongPolls,
        Column::Alloc,
        Column::Cpu,
    ];

    /// Its header.
    pub fn title(self) -> &'static str {
        match self {
            Column::Group => "region",
            Column::Count => "count",
            Column::Total => "total",
            Column::P50 => "p50",
            Column::P99 => "p99",
            Column::Max => "max",
            Column::Busy => "busy",
            Column::LongPolls => "in long polls",
            Column::Alloc => "allocated",
            Column::Cpu => "CPU samples",
        }
    }

    /// Whether `data` has what it shows.
    pub fn shown(self, data: &RegionsData) -> bool {
        match self {
            Column::Alloc => data.alloc,
            Column::Cpu => data.cpu,
            _ => true,
        }
    }

    /// Orders two groups by this column, ascending.
    fn cmp(self, a: &RegionGroup, b: &RegionGroup) -> Ordering {
        match self {
            Column::Group => group_label(a).cmp(&group_label(b)),
            Column::Count => a.count.cmp(&b.count),
            Column::Total => a.total_ns.cmp(&b.total_ns),
            Column::P50 => a.p50_ns.cmp(&b.p50_ns),
            Column::P99 => a.p99_ns.cmp(&b.p99_ns),
            Column::Max => a.max_ns.cmp(&b.max_ns),
            Column::Busy => a.busy_share.total_cmp(&b.busy_share),
            Column::LongPolls => a.long_poll_ns.cmp(&b.long_poll_ns),
            Column::Alloc => a.alloc_bytes.cmp(&b.alloc_bytes),
            Column::Cpu => a.cpu_samples.cmp(&b.cpu_samples),
        }
    }
}

/// A group's name and the values of its grouping fields: `request route=/users`.
pub fn group_label(g: &RegionGroup) -> String {
    let mut s = g.name.clone();
    for (k, v) in &g.fields {
        s.push_str(&format!(" {k}={v}"));
    }
    s
}

/// The picked group, with what the view shows of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Picked {
    /// Index into the groups.
    pub group: usize,
    /// Its latency histogram.
    pub histogram: Vec<Bucket>,
    /// The bar picked (index into `histogram`), if one is.
    pub bucket: Option<usize>,
    /// The regions listed (the group's, or the bar's), slowest first: indices into
    /// `Model::spans`.
    pub regions: Vec<u32>,
}

/// The Regions view's state.
#[derive(Debug)]
pub struct RegionsState {
    /// The groups, computed when the view is first shown.
    pub data: Lazy<RegionsData>,
    /// The column the table is sorted by.
    pub sort: Column,
    /// Largest first.
    pub descending: bool,
    /// The group picked, if any.
    pub picked: Option<Picked>,
}

impl Default for RegionsState {
    /// Sorted by total latency, largest first (the analysis's order); nothing picked.
    fn default() -> Self {
        RegionsState {
            data: Lazy::Idle,
            sort: Column::Total,
            descending: true,
            picked: None,
        }
    }
}

impl RegionsState {
    /// Starts grouping the spans of `trace`, unless it was; `wake` asks for a repaint.
    pub fn ensure(&mut self, trace: &Arc<OpenTrace>, wake: impl Fn() + Send + Sync + 'static) {
        if matches!(self.data, Lazy::Idle) {
            let trace = trace.clone();
            self.data = Lazy::Running(Job::spawn("region groups", wake, move |_| {
                Ok(RegionsData::build(&trace.model))
            }));
        }
    }

    /// Picks up the finished groups.
    pub fn poll(&mut self) {
        self.data.poll();
    }

    /// A header clicked: sort by `c`, or reverse the order when it is already sorted by it.
    /// Numbers sort largest first at first, names alphabetically.
    pub fn click_header(&mut self, c: Column) {
        if self.sort == c {
            self.descending = !self.descending;
        } else {
            self.sort = c;
            self.descending = c != Column::Group;
        }
    }

    /// The order of `groups` in the table (indices), ties kept in the analysis's order.
    pub fn order(&self, groups: &[RegionGroup]) -> Vec<usize> {
        let mut order: Vec<usize> = (0..groups.len()).collect();
        order.sort_by(|&a, &b| {
            let o = self.sort.cmp(&groups[a], &groups[b]);
            if self.descending { o.reverse() } else { o }
        });
        order
    }

    /// Picks group `group` of `groups` (built from `model`): its histogram and all its
    /// regions, slowest first. Picking the picked group again keeps it.
    pub fn pick_group(&mut self, model: &Model, groups: &RegionGroups, group: usize) {
        let Some(g) = groups.groups.get(group) else {
            return;
        };
        if self.picked.as_ref().is_some_and(|p| p.group == group) {
            self.pick_bucket(model, groups, None);
            return;
        }
        self.picked = Some(Picked {
            group,
            histogram: g.histogram(model),
            bucket: None,
            regions: g.slowest(model, None),
        });
    }

    /// Picks bar `bucket` of the picked group's histogram (`None`: the whole group): the
    /// list shows only its regions, slowest first.
    pub fn pick_bucket(&mut self, model: &Model, groups: &RegionGroups, bucket: Option<usize>) {
        let Some(p) = &mut self.picked else {
            return;
        };
        let Some(g) = groups.groups.get(p.group) else {
            return;
        };
        let b = bucket.and_then(|b| p.histogram.get(b));
        p.bucket = b.and(bucket);
        p.regions = g.slowest(model, b);
    }
}
