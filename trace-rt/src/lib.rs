//! trace-rt: an execution tracer for async Rust.
//!
//! It records what every thread (and, with the tokio instrumentation, every task) did, with
//! raw-TSC timestamps, into a compact binary trace that `trace-viewer` turns into reports,
//! timelines and MMU curves.
//!
//! # Recording
//!
//! ```no_run
//! let session = trace_rt::start("x.rtt")?;     // stream to a file
//! // ... run the workload ...
//! let summary = session.stop()?;               // flush, finish
//! println!("{summary}");                       // events, bytes, chunks, lost
//! # Ok::<(), trace_rt::Error>(())
//! ```
//!
//! # How it works
//!
//! Data flows one way: hooks → [`raw::record`] → the thread's own chunk (no lock, no
//! allocation, no atomic read-modify-write per event) → a full chunk is handed to the
//! writer thread through a lock-free queue → the [`Sink`] (a file) → `trace-format` reader.
//!
//! - While nothing records, a hook costs one relaxed atomic load.
//! - Memory is bounded: a session allocates `buffer_size` bytes of chunks up front. When the
//!   writer falls behind and no chunk is free, a thread drops its chunk's events, counts
//!   them, and writes a `Lost` event; recording threads never wait.
//! - A thread hands over its chunk when full or older than the flush interval (1 s), and
//!   when it exits. [`Session::stop`] collects every thread's unfinished chunk.
//!
//! Module map: `clock` (TSC ticks and calibration), `local` (the per-thread hot path),
//! `chunk` (buffers and their pool), `session` (start, stop, configuration), `writer` (the
//! writer thread), `sink` (where chunks go), `intern` (string ids).

#![warn(missing_docs)]

pub mod activation;
mod chunk;
mod clock;
mod flight;
mod intern;
mod local;
pub mod runtime;
mod sampler;
mod session;
mod sink;
#[cfg(feature = "wakes")]
mod wakes;
mod writer;

pub use activation::{Recording, env_recording, record_for};
pub use flight::FlightRecorder;
pub use intern::{intern, intern_location};
pub use runtime::{Options, instrument, instrument_with};
pub use session::{Config, Error, Session, Summary, is_recording, start};
pub use sink::{FileSink, MemorySink, Sink};
pub use trace_format;
#[cfg(feature = "wakes")]
pub use wakes::{WakeLayer, wake_layer};

/// Low-level recording for instrumentation authors: write any [`Event`] on the current
/// thread. Most users want the higher-level APIs instead.
pub mod raw {
    pub use crate::clock::raw_ticks;
    pub use crate::local::record;
    pub use trace_format::{
        Event, Level, LocationId, PauseScope, StringId, TaskId, TaskKind, ThreadKind, WakeSource,
    };
}
