//! The on-disk format of trace-rt traces.
//!
//! This crate owns everything about bytes and nothing about tokio or the viewer. Its
//! modules, in dependency order: each uses only modules listed before it, so none imports
//! another that imports it back.
//!
//! - [`varint`]: LEB128 varints and zigzag, the integers of event arguments;
//! - [`event`]: the types of events' arguments — task, string, location, stack and thread
//!   ids, thread roles, task kinds, wake sources, pause scopes, log levels;
//! - [`frame`]: the file preamble and the checksummed frames around every record;
//! - [`meta`]: postcard-encoded records — header (clock calibration, wall-clock anchor),
//!   strings, locations, threads, stacks, symbols, mappings, sampling, end record;
//! - [`pack`]: the compact forms of stacks (outer frames shared with an earlier stack, own
//!   frames delta-coded) and symbol tables (sorted, delta-coded, compressed);
//! - [`sampling`]: what a sampled allocation stands for;
//! - the argument primitives the spec's generated code calls: `codec/args.rs` (the
//!   encoder's running values, the cursor events are decoded from, how each argument type
//!   is stored) and `text/args.rs` (how each argument type is written as text and read
//!   back, over the tokenizer in `text/token.rs`);
//! - [`spec`]: the one table of event kinds (tag, name, arguments) that generates the
//!   [`Event`] enum, [`EventKind`], the tags, the kind names and counts, and each kind's
//!   encoding, decoding, printing and parsing;
//! - [`codec`]: the compact encoding of events inside a chunk (tag, varint time delta,
//!   arguments): [`codec::encode`], [`codec::ChunkDecoder`];
//! - [`writer`]: a streaming writer;
//! - [`code`]: a trace's stacks, symbols, mapped files and sampling, collected from its
//!   records;
//! - [`reader`]: an mmap reader that indexes chunks, validates them and iterates events per
//!   chunk, per thread or merged in time order;
//! - [`text`]: the text form of a whole trace (`trace-viewer dump`/`undump`), one event per
//!   line, metadata included, for reading traces and writing them by hand in tests;
//! - [`build`]: builds traces in memory from event lists (test fixtures).
//!
//! The written specification is `FORMAT.md` next to this crate's `Cargo.toml`.
//!
//! ```
//! use trace_format::{build::TraceBuilder, Event, TaskId, Trace};
//! let mut b = TraceBuilder::new();
//! b.push(1, 100, Event::PollStart { task: TaskId(3) });
//! b.push(1, 250, Event::PollEnd { ready: false });
//! let trace = Trace::from_bytes(b.to_bytes())?;
//! let times: Vec<u64> = trace.events().map(|r| r.map(|r| trace.to_nanos(r.time))).collect::<Result<_, _>>()?;
//! assert_eq!(times, [100, 250]);
//! # Ok::<(), trace_format::ReadError>(())
//! ```

#![warn(missing_docs)]

pub mod build;
pub mod code;
pub mod codec;
pub mod event;
pub mod frame;
pub mod meta;
pub mod pack;
pub mod reader;
pub mod sampling;
pub mod spec;
pub mod text;
pub mod varint;
pub mod writer;

pub use event::{
    Level, LocationId, PauseScope, StackId, StringId, TaskId, TaskKind, ThreadId, ThreadKind,
    WakeSource,
};
pub use frame::EventChunkHeader;
pub use meta::{
    AddrSymbol, ClockInfo, DumpedTask, End, Header, LocationDef, MappingDef, Meta, PackedStack,
    PackedSymbols, SamplingInfo, StackDef, StringDef, SymbolFrame, Symbols, TaskDump, ThreadDef,
};
pub use reader::{ChunkInfo, FileBytes, ReadError, Record, Trace, Warning};
pub use spec::{ArgSpec, Event, EventKind};
pub use writer::TraceWriter;
