//! trace-rt: an execution tracer for async Rust.
//!
//! It records what every tokio task and worker thread did, with raw-TSC timestamps, into a
//! compact binary trace that `trace-viewer` turns into reports, MMU curves, a timeline window
//! and a Perfetto export.
//!
//! # Setup: three lines
//!
//! ```no_run
//! let mut builder = tokio::runtime::Builder::new_multi_thread();
//! trace_rt::instrument(&mut builder);                // hooks; one relaxed load each while idle
//! let rt = builder.enable_all().build()?;
//! let session = trace_rt::start("x.rtt")?;           // stream to a file
//! rt.block_on(async { /* the workload */ });
//! println!("{}", session.stop()?);                   // flush, finish, summary
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Other ways to record, all writing the same format:
//! - [`record_for`]`(duration, path)`: in the background, finishing by itself;
//! - `TRACE_RT_OUT=x.rtt TRACE_RT_SECONDS=5 ./service`: started by [`instrument`] (default
//!   10 s; it also ends, with a whole file, when every instrumented runtime has shut down or
//!   the process exits: `main` returns, `std::process::exit`, a panic in `main`);
//! - [`FlightRecorder`]: keep the last seconds in memory, [`FlightRecorder::write_to`] on demand;
//! - over HTTP (cargo feature `http`): `trace_rt::http::serve(Options::default())` serves
//!   `GET /debug/trace?seconds=N` and a flight-recorder snapshot on 127.0.0.1:6060, like Go's
//!   `/debug/pprof/trace` (see the `http` module).
//!
//! # `--cfg tokio_unstable`
//!
//! tokio offers its task hooks (spawn, poll start/end, terminate) only when built with
//! `--cfg tokio_unstable`. Add it to your workspace's `.cargo/config.toml`:
//!
//! ```toml
//! [build]
//! rustflags = ["--cfg", "tokio_unstable"]
//! ```
//!
//! Without it trace-rt still builds and records what tokio's stable hooks allow (worker
//! threads, park/unpark, runtime samples, your own events), and the trace header says so
//! (`tokio_unstable=false`, shown by `trace-viewer report`).
//!
//! # Task dumps: `--cfg tokio_taskdump`
//!
//! Add `"--cfg", "tokio_taskdump"` to the rustflags above (Linux on x86, x86_64, aarch64 or
//! s390x; the cfg does nothing elsewhere) and every stop of a recording — [`Session::stop`],
//! [`record_for`], `TRACE_RT_OUT`, the HTTP trigger, a [`FlightRecorder`] dump — takes a tokio
//! task dump of each instrumented runtime: where each task waited, as the async fns of its
//! await trace with file and line, written as a `TaskDump` record (trace-format's FORMAT.md)
//! and shown by the viewer under "Waits at". The stop waits for the dumps at most
//! [`Config::task_dump_timeout`] (default 2 s, zero turns them off); a dump that does not
//! finish in time (a runtime whose workers are blocked) is recorded as timed out. Stopping
//! from inside a runtime's own task is safe: a current-thread runtime is dumped in place, and
//! a multi-thread worker hands its work over while it waits. The trace header's `task_dumps`
//! feature says the recorder takes them.
//!
//! # Frame pointers
//!
//! Call stacks ([`Config::stacks`]: sampled allocations as `AllocSampleAt`, polls running
//! past [`Config::stall_threshold`] sampled as `StallSample`) are walked by frame pointers,
//! without allocating or locking. Build with them, beside `tokio_unstable`:
//!
//! ```toml
//! [build]
//! rustflags = ["--cfg", "tokio_unstable", "-C", "force-frame-pointers=yes"]
//! ```
//!
//! Code built without them (libc; std unless rebuilt) is recovered only where a signal
//! interrupted it, by scanning the stack for return addresses.
//!
//! # Modes: what each one sees
//!
//! | mode | how | records | wakes | added per poll |
//! |---|---|---|---|---|
//! | default | [`instrument`] | threads, park/unpark, every task's spawn (location, parent), polls (ready/pending), terminate; runtime samples every 10 ms | none: a task's waiting and scheduler-wait time are not separated | ≈ 9–28 ns, median ≈ 12 ns on a 2-core VM |
//! | schedule latency | [`instrument_with`]`(…, Options { schedule_latency: true })` | the above, plus tokio's measured schedule latency at every poll | the time of every wake (poll start − latency), source unknown | ≈ 65–80 ns |
//! | wakes (cargo feature `wakes`) | the above, plus `trace_rt::wake_layer()` in your `tracing` subscriber | the above, plus `spawn_blocking` work, `LocalSet` tasks and task names (`task::Builder::name`, which tokio's hooks do not pass on) | every wake of every task (including tasks libraries spawn), with its waker and source: task, I/O, timer, blocking pool, foreign thread, self | ≈ 160–250 ns, plus ≈ 120–210 ns for the subscriber itself even while not recording |
//!
//! "Added per poll" is wall time on a tokio yield loop with 2 workers on a 2-core VM
//! (`cargo bench -p trace-rt-benches --bench poll_overhead [--features wakes]`); an instrumented
//! runtime that is not recording adds 0–6 ns, which is tokio calling the hooks. The wakes
//! mode turns on tokio's own `tracing` instrumentation, which is what costs more per poll;
//! `benches/RESULTS.md` has the full tables. How sources are classified,
//! and the limits of that, is documented on the `wakes` module (`trace_rt::wake_layer`).
//! `block_on` futures are not tokio tasks: run them with [`block_on`] to record them as one.
//! `LocalSet` tasks (`spawn_local`, e.g. every handler under actix-rt) get none of tokio's
//! task hooks, so only the wakes mode records them (from tokio's spans).
//!
//! # Allocator, pauses and user events
//!
//! Each piece is installed on its own; all of them cost one relaxed atomic load per call
//! while nothing records.
//!
//! | piece | install | records |
//! |---|---|---|
//! | [`TracingAllocator`] | `#[global_allocator] static A: TracingAllocator<System> = TracingAllocator::new(System);` | per-thread allocation counters (heap-in-use and allocation-rate curves), sampled allocations with the task that made them (one per 512 KiB on average), allocator calls over 100 µs (for blocks of 64 KiB or more, by default) as thread pauses: see [`alloc`] |
//! | [`pause()`], [`pause_thread`] | `let _g = trace_rt::pause("compaction");` | process-wide (stop-the-world) or thread-scoped pauses, until the guard drops: see [`pause`](mod@pause) |
//! | [`layer()`] | `tracing_subscriber::registry().with(trace_rt::layer()).init();` | `tracing` spans as regions and events as logs, inside the polls of the task they run in: see [`layer`](mod@layer) |
//! | [`counter`], [`Counter`] | `trace_rt::counter("queue_depth", n);` | named values over time |
//!
//! `examples/alloc_pauses.rs` installs all of them.
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
//!   when it exits; the writer copies what a quiet thread's chunk holds once it has sat for
//!   a flush interval, so every thread's events reach the file within about a second even if
//!   the thread records nothing more. [`Session::stop`] collects every thread's unfinished
//!   chunk, and returns within [`Config::stop_timeout`] (1 s), dropping and counting what
//!   it could not write by then.
//! - The writer drains handed-over chunks every 10 ms (at once when an eighth of the pool
//!   waits) and flushes its output at most every 100 ms; [`FileSink`] writes with `O_DIRECT`
//!   on Linux where the file system allows it. After a failed write (a full disk) it writes
//!   nothing more: the rest is dropped and counted, and `stop` returns
//!   [`Error::Incomplete`] with the summary.
//!
//! Module map: `clock` (TSC ticks and calibration), `local` (the per-thread hot path),
//! `chunk` (buffers and their pool), `shared` (the recording switch, the current session,
//! the state threads and the writer share: slots and the stop's collection), `session`
//! (configuration, start, the handle that stops), `writer` (the writer thread), `sink`
//! (where chunks go), `direct_file` (the trace file's block writes), `intern` (string and
//! location ids), `context` (what the hooks know about the current thread), `runtime`
//! (tokio hooks), `sampler` (runtime samples), `wakes` (the wake layer), `activation`
//! (`record_for`, environment), `flight` (the flight recorder), `alloc` (the allocator
//! wrapper: `allocator`, per-`thread` state, `sampling`, `settings`), `pause` (pauses),
//! `layer` (the `tracing` layer), `counter` (user counters), `http` (the HTTP trigger:
//! `options`, `server`, `routes`, `body`).
//!
//! Imports run one way, with no cycle: `shared` (which uses only `chunk`) and `context`
//! (only `shared`) are leaves under the hot path (`local`) and the interner, which the
//! hooks build on; `session` uses the writer, never the reverse (docs/ARCHITECTURE.md has
//! the whole order).
//!
//! The whole design (event model, the hand-off between threads and the writer, budgets) is
//! described in docs/ARCHITECTURE.md at the repository root.

#![warn(missing_docs)]

pub mod activation;
pub mod alloc;
mod chunk;
mod clock;
mod context;
mod counter;
mod direct_file;
mod epoch;
mod flight;
#[cfg(feature = "http")]
pub mod http;
mod intern;
pub mod layer;
mod local;
pub mod pause;
pub mod runtime;
mod sampler;
mod session;
mod shared;
mod sink;
mod stacks;
mod taskdump;
#[cfg(feature = "wakes")]
mod wakes;
mod writer;

pub use activation::{Recording, env_recording, record_for};
pub use alloc::{TracingAllocator, flush_alloc_counters};
pub use counter::{Counter, counter};
pub use flight::FlightRecorder;
pub use intern::{intern, intern_location};
pub use layer::{TraceLayer, layer};
pub use pause::{PauseGuard, PauseKind, ThreadPauseGuard, pause, pause_thread};
pub use runtime::{Options, block_on, instrument, instrument_with};
pub use session::{
    Config, DEFAULT_CPU_SAMPLE_HZ, DEFAULT_STALL_THRESHOLD, DEFAULT_TASK_DUMP_TIMEOUT, Error,
    Session, Summary, start,
};
pub use shared::is_recording;
pub use sink::{FileSink, MemorySink, Sink, WriterSink};
pub use trace_format;
#[cfg(feature = "wakes")]
pub use wakes::{WakeLayer, wake_layer};

/// Internals the benchmarks time; not a stable API.
#[doc(hidden)]
#[cfg(target_os = "linux")]
pub mod __bench {
    pub use crate::stacks::symbolize::{Addr, Resolved, resolve};
}

/// Low-level recording for instrumentation authors: write any [`Event`](raw::Event) on the current
/// thread. Most users want the higher-level APIs instead.
pub mod raw {
    pub use crate::clock::raw_ticks;
    pub use crate::local::record;
    pub use trace_format::{
        Event, Level, LocationId, PauseScope, StringId, TaskId, TaskKind, ThreadKind, WakeSource,
    };
}
