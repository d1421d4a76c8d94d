//! Poll durations and stack samples per task group: how long each group's polls took (mean,
//! p99, max and a histogram) and the CPU and stalled-poll time sampled inside them — the
//! figures that tell a group that blocks its worker from one that is merely busy.
//!
//! [`PollStats::compute`] takes the [`TaskGroups`] the caller shows (spawn location, name or
//! root region), so its groups line up with the [`breakdown`](super::breakdown) of the same
//! grouping: [`PollStats::of_group`] answers for a group index.
//!
//! ```
//! use trace_analysis::analysis::groups::TaskGroups;
//! use trace_analysis::analysis::poll_stats::PollStats;
//! use trace_analysis::model::Model;
//!
//! let trace = trace_format::text::undump(
//!     "1 0 thread_start kind=worker index=0\n\
//!      1 1 task_spawn task=1 kind=async tokio_id=1 parent=0 location=0 name=0\n\
//!      1 10 poll_start task=1\n\
//!      1 30 poll_end ready=false\n\
//!      1 40 poll_start task=1\n\
//!      1 1040 poll_end ready=true\n",
//! )?;
//! let model = Model::build(&trace_format::Trace::from_bytes(trace)?)?;
//! let groups = TaskGroups::of(&model);
//! let stats = PollStats::compute(&model, &groups);
//! let g = stats.of_group(0);
//! assert_eq!((g.polls, g.duration.max, g.duration.mean), (2, 1000, 510.0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use rayon::prelude::*;
use serde::Serialize;

use super::breakdown::Stats;
use super::groups::TaskGroups;
use crate::model::{Model, Nanos, SampleKind};

/// The lower edges of the poll-duration histogram's buckets, in nanoseconds: below 1 µs,
/// then one bucket per doubling from 1 µs up to ~1 s (2^20 µs), then everything longer. A
/// doubling per bucket keeps a 20 ms blocking poll apart from the 50 µs polls around it.
pub const HISTOGRAM_EDGES_NS: [Nanos; 22] = {
    let mut edges = [0; 22];
    let mut i = 1;
    while i < 22 {
        edges[i] = 1_000 << (i - 1);
        i += 1;
    }
    edges
};

/// The bucket of [`HISTOGRAM_EDGES_NS`] that a poll of `ns` falls in.
///
/// ```
/// use trace_analysis::analysis::poll_stats::bucket_of;
/// assert_eq!(bucket_of(999), 0);
/// assert_eq!(bucket_of(1_000), 1);
/// assert_eq!(bucket_of(20_000_000), 15); // 16.4 ms ≤ 20 ms < 32.8 ms
/// assert_eq!(bucket_of(u64::MAX), 21);
/// ```
pub fn bucket_of(ns: Nanos) -> usize {
    HISTOGRAM_EDGES_NS.partition_point(|&e| e <= ns) - 1
}

/// One group's polls and the samples taken in them.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct GroupPolls {
    /// Polls of the group's tasks.
    pub polls: u64,
    /// Their durations: total, mean, p50, p99 (nearest rank) and max, in ns.
    pub duration: Stats,
    /// How many polls fall in each bucket of [`HISTOGRAM_EDGES_NS`].
    pub histogram: [u64; HISTOGRAM_EDGES_NS.len()],
    /// CPU samples taken while the group's tasks were polled.
    pub cpu_samples: u64,
    /// The CPU time they stand for (the sum of their weights), in ns.
    pub cpu_ns: Nanos,
    /// Stall samples (polls past the stall threshold) in the group's tasks.
    pub stall_samples: u64,
    /// The stalled time they stand for, in ns.
    pub stall_ns: Nanos,
}

/// [`GroupPolls`] for every group of a [`TaskGroups`].
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct PollStats {
    /// Indexed like the groups they were computed for.
    pub groups: Vec<GroupPolls>,
}

impl PollStats {
    /// The poll durations and samples of each of `groups`, tasks of `model` (in parallel over
    /// groups; each group's durations are held only while its figures are computed).
    pub fn compute(model: &Model, groups: &TaskGroups) -> PollStats {
        let mut out: Vec<GroupPolls> = groups
            .par_iter()
            .map(|g| {
                let mut durations: Vec<Nanos> = g
                    .tasks
                    .iter()
                    .flat_map(|&t| model.task_polls(t))
                    .map(|p| p.span().len())
                    .collect();
                let mut histogram = [0; HISTOGRAM_EDGES_NS.len()];
                for &d in &durations {
                    histogram[bucket_of(d)] += 1;
                }
                GroupPolls {
                    polls: durations.len() as u64,
                    duration: Stats::of(&mut durations),
                    histogram,
                    ..GroupPolls::default()
                }
            })
            .collect();
        for s in &model.samples {
            if s.task.index() >= model.tasks.len() {
                continue;
            }
            let g = &mut out[groups.group_of(s.task)];
            match s.kind {
                SampleKind::Cpu => {
                    g.cpu_samples += 1;
                    g.cpu_ns += s.weight;
                }
                SampleKind::Stall => {
                    g.stall_samples += 1;
                    g.stall_ns += s.weight;
                }
                SampleKind::Alloc => {}
            }
        }
        PollStats { groups: out }
    }

    /// The figures of group `g` (an index into the groups they were computed for).
    ///
    /// # Panics
    ///
    /// When `g` is not such an index.
    pub fn of_group(&self, g: usize) -> &GroupPolls {
        &self.groups[g]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::groups::GroupBy;

    /// Two groups: task 1 (src/a.rs) polled for 20 ns, 2 µs and 3 ms; tasks 2 and 3
    /// (src/b.rs) once each for 500 ns and 40 ms, with CPU and stall samples in task 3.
    const TRACE: &str = r#"
location id=1 file="src/a.rs" line=1 column=1
location id=2 file="src/b.rs" line=2 column=2
sampling cpu_method="perf_event" cpu_reason="" cpu_hz=100 stall_threshold_ns=10000000 max_frames=128 cpu_samples=2 stall_samples=3 lost_samples=0 truncated_stacks=0 stacks=1 addresses=1 resolved_addresses=1 symbolize_ns=0
stack id=1 frames=0x10
symbol addr=0x10 function="app::block" file="src/main.rs" line=1 column=1
1 0 thread_start kind=worker index=0
1 1 task_spawn task=1 kind=async tokio_id=1 parent=0 location=1 name=0
1 2 task_spawn task=2 kind=async tokio_id=2 parent=0 location=2 name=0
1 3 task_spawn task=3 kind=async tokio_id=3 parent=0 location=2 name=0
1 100 poll_start task=1
1 120 poll_end ready=false
1 1000 poll_start task=1
1 3000 poll_end ready=false
1 10000 poll_start task=1
1 3010000 poll_end ready=true
1 4000000 poll_start task=2
1 4000500 poll_end ready=true
1 5000000 poll_start task=3
1 15000000 cpu_sample task=3 stack=1
1 20000000 stall_sample task=3 stack=1
1 30000000 stall_sample task=3 stack=1
1 40000000 cpu_sample task=3 stack=1
1 45000000 poll_end ready=true
"#;

    fn model() -> Model {
        let bytes = trace_format::text::undump(TRACE).unwrap();
        Model::build(&trace_format::Trace::from_bytes(bytes).unwrap()).unwrap()
    }

    #[test]
    fn durations_histogram_and_samples_per_group() {
        let m = model();
        let groups = TaskGroups::by(&m, GroupBy::Location);
        let s = PollStats::compute(&m, &groups);
        assert_eq!(s.groups.len(), 2);
        let a = s.of_group(groups.group_of(crate::model::TaskIx(0)));
        assert_eq!(a.polls, 3);
        assert_eq!(
            (a.duration.max, a.duration.p99, a.duration.total),
            (3_000_000, 3_000_000, 3_002_020)
        );
        assert_eq!(a.histogram[0], 1, "20 ns: below 1 µs");
        assert_eq!(a.histogram[2], 1, "2 µs: 2–4 µs");
        assert_eq!(a.histogram[bucket_of(3_000_000)], 1);
        assert_eq!(a.histogram.iter().sum::<u64>(), a.polls);
        assert_eq!((a.cpu_samples, a.stall_samples), (0, 0));
        let b = s.of_group(groups.group_of(crate::model::TaskIx(1)));
        assert_eq!(b.polls, 2);
        assert_eq!(
            (b.duration.max, b.duration.mean),
            (40_000_000, 20_000_250.0)
        );
        assert_eq!(b.histogram[0], 1);
        assert_eq!(b.histogram[bucket_of(40_000_000)], 1);
        assert_eq!((b.cpu_samples, b.stall_samples), (2, 2));
        assert!(b.cpu_ns > 0 && b.stall_ns > 0, "{b:?}");
    }

    #[test]
    fn every_poll_is_in_one_bucket() {
        for (i, &e) in HISTOGRAM_EDGES_NS.iter().enumerate() {
            assert_eq!(bucket_of(e), i);
            if e > 0 {
                assert_eq!(bucket_of(e - 1), i - 1);
            }
        }
        assert_eq!(HISTOGRAM_EDGES_NS[21], 1_000 << 20);
    }
}
