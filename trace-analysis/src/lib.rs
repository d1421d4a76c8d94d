//! trace-analysis: reads traces recorded by trace-rt and explains them, without a window.
//!
//! It is the library under the `trace-viewer` command line and desktop window, and one a
//! program can build its own analysis on. In the order data flows (see
//! docs/ARCHITECTURE.md at the repository root):
//!
//! - [`open`]: opening trace files with clear errors (and salvaging the readable part of a
//!   damaged one);
//! - [`summary`]: the whole-trace summary (recorder, duration, threads, events by kind, lost
//!   data, warnings) behind `report` and `check`; its serialized form is the report's JSON
//!   schema;
//! - [`model`]: every event decoded once, in parallel per thread, into indexed tables
//!   (threads and their lanes, tasks, polls, wakes, pauses, counters, logs, lost data);
//! - [`analysis`]: answers computed from the model: task states, the breakdown by spawn
//!   location, utilization and MMU, the report's overview;
//! - [`report`]: the summary and the analysis as text or JSON (`trace-viewer report`);
//! - [`export`]: Chrome trace JSON for Perfetto and `chrome://tracing`, streamed;
//! - [`units`]: formatting and parsing of durations, byte sizes and timestamps;
//! - `synthetic` (feature `synthetic`): generated traces for tests and benchmarks.
//!
//! ```
//! use trace_analysis::analysis::states::{paused_spans, task_totals};
//! use trace_analysis::model::{Model, TaskIx};
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("t.rtt");
//! # let mut b = trace_format::build::TraceBuilder::new();
//! # b.thread(1, "worker-0");
//! # b.push(1, 10, trace_format::Event::PollStart { task: trace_format::TaskId(1) });
//! # b.push(1, 30, trace_format::Event::PollEnd { ready: true });
//! # std::fs::write(&path, b.to_bytes())?;
//! let (_file, model) = trace_analysis::open::open_model(&path, Default::default())?;
//! let paused = paused_spans(&model);
//! for (ix, task) in model.tasks.iter().enumerate() {
//!     let totals = task_totals(&model, TaskIx(ix as u32), &paused);
//!     println!("task #{}: {totals:?}", task.id.0);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod analysis;
pub mod export;
pub mod model;
pub mod open;
pub mod report;
pub mod summary;
#[cfg(feature = "synthetic")]
pub mod synthetic;
pub mod units;
