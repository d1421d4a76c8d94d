//! Exports of a trace model to other tools' formats.
//!
//! - [`chrome`]: Chrome trace JSON (the Trace Event Format), for Perfetto
//!   (<https://ui.perfetto.dev>) and `chrome://tracing`; behind `trace-viewer export --chrome`.

pub mod chrome;
