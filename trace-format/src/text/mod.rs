//! The text form of traces: a whole trace — header, metadata, every chunk's events, the end
//! record — as lines of text that people can read, edit and write by hand (test fixtures),
//! and that build the binary trace back. FORMAT.md ("Text form") describes the syntax.
//!
//! [`dump`] prints a trace; [`undump`] parses the text and writes the trace. For any trace the
//! reader opens, `undump(dump(x))` is `x` byte for byte up to its last whole frame (a frame
//! the text cannot express as records — an unknown kind, a record in a form no writer
//! produces, a chunk that does not decode — is kept as a raw `frame` line), so `dump`,
//! `undump`, `dump` prints the same text twice.
//!
//! ```
//! use trace_format::{text, Trace};
//! let bytes = text::undump(
//!     "thread id=1 name=\"worker-0\"\n\
//!      1 100 poll_start task=7\n\
//!      1 150 poll_end ready=true\n\
//!      end\n",
//! )?;
//! let trace = Trace::from_bytes(bytes.clone())?;
//! assert_eq!(trace.end().unwrap().events, 2);
//! let mut again = Vec::new();
//! text::dump(&bytes, &mut again)?;
//! assert_eq!(text::undump(std::str::from_utf8(&again).unwrap())?, bytes);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Its files, each using only the ones before it: `token.rs` splits a line into bare words
//! and quoted strings; `args.rs` writes and reads each argument type (the code the spec table
//! generates for each kind's arguments calls it, so it sits below [`crate::spec`]);
//! `print.rs` is [`dump`]; `parse.rs` is [`undump`].

pub(crate) mod args;
mod parse;
mod print;
mod token;

pub use parse::{ParseError, default_header, undump};
pub use print::{DumpError, FIRST_LINE, dump};
