//! The trace model: what a trace says happened, decoded once into compact, indexed tables that
//! the analysis, the exporters and the window query without touching the file again.
//!
//! Built by [`Model::build`] from an open [`Trace`](trace_format::Trace). All times are
//! nanoseconds since the trace's start ([`Nanos`]). Tables are columnar-ish plain vectors:
//!
//! - [`Model::threads`]: one [`Thread`] per recording thread, each with its lanes — the polls
//!   it ran (as a range of [`Model::polls`], sorted by start), its idle (parked) intervals,
//!   thread-scoped pauses and `tracing` regions;
//! - [`Model::tasks`]: one [`Task`] per trace task, with its spawn, terminate, parent and
//!   location; [`Model::task_polls`] and [`Model::task_wakes`] index its polls and wakes in
//!   time order;
//! - [`Model::spans`]: each `tracing` span as one region, creation to close, with its
//!   fields and its busy (entered) time ([`SpanRegion`]);
//! - [`Model::process_pauses`], [`Model::counters`], [`Model::logs`],
//!   [`Model::alloc_samples`] and [`Model::lost`] (where data is missing, never silent);
//! - [`Model::samples`]: CPU, stalled-poll and allocation samples with their thread, task,
//!   stack and weight ([`Sample`]), and [`Model::code`], the stacks and their symbols;
//! - [`Model::task_dumps`]: where each task waited when the recording stopped (tokio task
//!   dumps, [`Model::await_trace`]).
//!
//! Pairs that the file leaves open (a poll whose end was lost or that was still running when
//! the recording stopped) are closed at the loss, at the end of the trace, or — in a cut
//! recording — where the file stops being complete ([`Model::complete_until`]), and flagged
//! as `cut`, so every interval has an end.
//!
//! Modules, each using only those listed before it: `source_path` (short paths of spawn
//! locations), `tables` (the types above and their queries), `samples` (the
//! samples table's weights), `spans` (one region per `tracing` span), `index` and `blocks` (sorting
//! and indexing helpers), `decode` (one thread's events into rows), `dumps` (task dumps matched to tasks), `assemble` (the rows
//! of every thread into the tables), `build` ([`Model::build`], options, progress, errors).

mod assemble;
mod blocks;
mod build;
mod decode;
mod dumps;
mod index;
mod samples;
mod source_path;
mod spans;
mod tables;

pub use build::{BuildError, BuildOptions, Progress};
pub use dumps::{AwaitFrame, AwaitTrace, RuntimeDump, TaskDumps};
pub use source_path::short_source_path;
pub use tables::*;

#[cfg(test)]
mod tests;
