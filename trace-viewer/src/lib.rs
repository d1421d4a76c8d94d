//! trace-viewer: the command line and the desktop window for traces recorded by trace-rt.
//!
//! What a trace means — opening files, the model, the analyses, the report, the export — is
//! the `trace-analysis` crate; this crate presents it (see docs/ARCHITECTURE.md at the
//! repository root):
//!
//! - [`cli`]: argument parsing, exit codes and the commands (`check`, `report`, `mmu`,
//!   `export`, `dump`, `undump`), and opening the window;
//! - [`app`]: the desktop window (egui/eframe): timeline, tasks, MMU, details, search and
//!   export panels, opening traces on a background thread with progress.
//!
//! The binary `trace-viewer` (src/main.rs) only parses arguments and calls [`cli::run`].

#![warn(missing_docs)]

pub mod app;
pub mod cli;
