//! Analysis: answers computed from a trace, shared by the command line, the window and the
//! tests. Each module owns one question and knows nothing about how answers are shown.
//!
//! - [`states`]: each task's lifetime partitioned into running, scheduler wait, waiting (by
//!   wake source) and paused;
//! - [`groups`]: tasks grouped by spawn location, name and kind — the one grouping the
//!   breakdown, the report and the window show;
//! - [`breakdown`]: those states summed per task group, longest polls, leak suspects,
//!   thread use, pauses by kind;
//! - [`poll_stats`]: poll durations (mean, p99, max, histogram) and CPU and stall samples
//!   per task group;
//! - [`mmu`]: minimum mutator utilization, MUD percentiles and worst windows of a
//!   utilization step function; [`utilization`] builds that function from a trace;
//! - [`profile`]: stack profiles (a tree of frames, top functions) of any selection of
//!   CPU, stall or allocation samples;
//! - [`flame`]: a profile laid out as a flame graph (zoom, search), and two profiles
//!   compared frame by frame (the differential flame graph);
//! - [`hotspots`]: the functions behind CPU time, stalled polls and allocations, and each
//!   task group's top function (the report's "code" part);
//! - [`regions`]: `tracing` spans grouped by name and field values, with their latency
//!   and what their tasks did inside (`trace-viewer regions`);
//! - [`overview`]: all of the above for `trace-viewer report`.
pub mod breakdown;
pub mod flame;
pub mod groups;
pub mod hotspots;
pub mod mmu;
pub mod overview;
pub mod poll_stats;
pub mod profile;
pub mod regions;
pub mod states;
pub mod utilization;
