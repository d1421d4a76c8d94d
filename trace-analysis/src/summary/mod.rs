//! The whole-trace summary: who recorded it, how long it spans, which threads wrote how many
//! events of which kinds, how much data was lost and what the reader warned about.
//!
//! [`TraceSummary::from_trace`] computes it in one pass over every thread's events. It is the data
//! behind `trace-viewer report` (text and `--json`) and `trace-viewer check`, and the
//! overview the window will show. Its serialized form is the report's JSON schema, so fields
//! are only ever added (with [`SCHEMA_VERSION`] unchanged), never renamed or removed.
//!
//! # Module map
//!
//! Each uses only those listed before it.
//!
//! - `schema`: [`TraceSummary`] and the records it is made of: the report's JSON schema.
//! - `status`: warnings ([`WarningInfo`]) and the overall status ([`TraceSummary::status_of`]).
//! - `compute`: [`TraceSummary::from_trace`], the one pass over the trace.

mod compute;
mod schema;
mod status;
#[cfg(test)]
mod tests;

pub use schema::{
    ClockSummary, EndSummary, FileInfo, LostCount, LostEvents, LostSummary, ProcessInfo,
    SCHEMA_VERSION, ThreadSummary, TraceSummary, WarningInfo,
};
