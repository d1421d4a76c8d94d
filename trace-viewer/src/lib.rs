//! trace-viewer: reads traces recorded by trace-rt and explains them.
//!
//! The library holds everything that is not the process entry point, so the command line
//! and the desktop window share one implementation. In the order data flows (see
//! docs/ARCHITECTURE.md at the repository root):
//!
//! - [`load`]: opening trace files with clear errors (and salvaging the readable part of a
//!   damaged one);
//! - [`summary`]: the whole-trace summary (recorder, duration, threads, events by kind, lost
//!   data, warnings) behind `report` and `check`; its serialized form is the report's JSON
//!   schema;
//! - [`model`]: every event decoded once, in parallel per thread, into indexed tables
//!   (threads and their lanes, tasks, polls, wakes, pauses, counters, logs, lost data);
//! - [`analysis`]: answers computed from the model: task states, the breakdown by spawn
//!   location, utilization and MMU, the report's overview;
//! - [`units`]: formatting of durations, byte sizes and timestamps;
//! - [`export`]: Chrome trace JSON for Perfetto and `chrome://tracing`, streamed;
//! - [`cli`]: argument parsing, exit codes and the commands (`check`, `report`, `mmu`,
//!   `export`, `dump`, `undump`), and opening the window;
//! - [`app`]: the desktop window (egui/eframe): timeline, tasks, MMU, details, search and
//!   export panels, loading on a background thread with progress.
//!
//! The binary `trace-viewer` (src/main.rs) only parses arguments and calls [`cli::run`].

#![warn(missing_docs)]

pub mod analysis;
pub mod app;
pub mod cli;
pub mod export;
pub mod load;
pub mod model;
pub mod summary;
pub mod units;
