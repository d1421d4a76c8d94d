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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;

use crate::codec::{self, ChunkDecoder, EncodeState};
use crate::event::{
    Event, EventKind, Level, LocationId, PauseScope, StackId, StringId, TaskId, TaskKind,
    ThreadKind, WakeSource,
};
use crate::frame::{self, EventChunkHeader, kind};
use crate::meta::{
    ClockInfo, End, Header, LocationDef, MappingDef, Meta, SamplingInfo, StackDef, StringDef,
    Symbols, ThreadDef,
};
use crate::reader::{ReadError, Trace, Warning};

/// Why a trace could not be printed as text.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// The trace cannot be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// The text could not be written.
    #[error("cannot write the text: {0}")]
    Io(#[from] io::Error),
}

/// Why text could not be turned into a trace: the line (from 1) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// The offending line, counting from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// The first line [`dump`] prints.
pub const FIRST_LINE: &str = "# trace-rt trace, text form (trace-viewer undump reads it back)";

// ---------------------------------------------------------------------------------------------
// Printing

/// Prints the trace held in `bytes` as text to `out` and returns the reader's warnings (a
/// cut file is printed up to its last whole frame). Fails only when the reader rejects the
/// trace or `out` fails.
pub fn dump(bytes: &[u8], out: &mut dyn io::Write) -> Result<Vec<Warning>, DumpError> {
    let trace = Trace::from_bytes(bytes.to_vec())?;
    let valid = usize::try_from(trace.valid_len()).map_or(bytes.len(), |v| v.min(bytes.len()));
    let mut text = String::with_capacity(1 << 16);
    text.push_str(FIRST_LINE);
    text.push('\n');
    let mut pos = frame::PREAMBLE_LEN;
    while pos + frame::FRAME_HEADER_LEN <= valid {
        let head: &[u8; frame::FRAME_HEADER_LEN] = bytes[pos..pos + frame::FRAME_HEADER_LEN]
            .try_into()
            .expect("frame header length");
        // The reader checked every frame up to `valid`; these only guard against a mismatch.
        let h = frame::parse_frame_header(head).map_err(|reason| ReadError::Corrupt {
            offset: pos as u64,
            reason: reason.into(),
        })?;
        let start = pos + frame::FRAME_HEADER_LEN;
        let Some(payload) = bytes.get(start..start + h.len as usize) else {
            break;
        };
        print_frame(&mut text, h.kind, payload, pos);
        pos = start + payload.len();
        if text.len() > 1 << 16 {
            out.write_all(text.as_bytes())?;
            text.clear();
        }
    }
    out.write_all(text.as_bytes())?;
    Ok(trace.warnings().to_vec())
}

/// Decodes a postcard record if re-encoding it gives back exactly `payload`.
fn canonical<T: serde::de::DeserializeOwned + serde::Serialize>(payload: &[u8]) -> Option<T> {
    let value: T = postcard::from_bytes(payload).ok()?;
    (postcard::to_stdvec(&value).ok()? == payload).then_some(value)
}

fn print_frame(text: &mut String, kind: u8, payload: &[u8], offset: usize) {
    match kind {
        kind::HEADER => {
            if let Some(h) = canonical::<Header>(payload) {
                return print_header(text, &h);
            }
        }
        kind::META => match canonical::<Meta>(payload) {
            Some(Meta::Strings(defs)) => {
                text.push_str("strings\n");
                for d in defs {
                    line(text, "string", |l| {
                        write_arg(l, "id", d.id);
                        write_arg(l, "text", d.text.as_str());
                    });
                }
                return;
            }
            Some(Meta::Locations(defs)) => {
                text.push_str("locations\n");
                for d in defs {
                    line(text, "location", |l| {
                        write_arg(l, "id", d.id);
                        write_arg(l, "file", d.file.as_str());
                        write_arg(l, "line", d.line);
                        write_arg(l, "column", d.column);
                    });
                }
                return;
            }
            Some(Meta::Thread(d)) => {
                return line(text, "thread", |l| {
                    write_arg(l, "id", d.thread);
                    write_arg(l, "name", d.name.as_str());
                    write_arg(l, "os_id", d.os_id);
                });
            }
            Some(Meta::Stacks(defs)) => {
                text.push_str("stacks\n");
                for d in defs {
                    line(text, "stack", |l| {
                        write_arg(l, "id", d.id);
                        write_hex_list(l, "frames", &d.frames);
                    });
                }
                return;
            }
            Some(Meta::Symbols(sym)) if symbols_are_canonical(&sym) => {
                return print_symbols(text, &sym);
            }
            Some(Meta::Mappings(maps)) => {
                text.push_str("mappings\n");
                for m in maps {
                    line(text, "mapping", |l| {
                        let _ = write!(l, " start={:#x} end={:#x}", m.start, m.end);
                        let _ = write!(l, " file_offset={:#x}", m.file_offset);
                        write_arg(l, "path", m.path.as_str());
                        if !m.build_id.is_empty() {
                            l.push_str(" build_id=");
                            for b in &m.build_id {
                                let _ = write!(l, "{b:02x}");
                            }
                        }
                    });
                }
                return;
            }
            Some(Meta::Sampling(i)) => {
                return line(text, "sampling", |l| {
                    write_arg(l, "cpu_method", i.cpu_method.as_str());
                    write_arg(l, "cpu_reason", i.cpu_reason.as_str());
                    write_arg(l, "cpu_hz", i.cpu_hz);
                    write_arg(l, "stall_threshold_ns", i.stall_threshold_ns);
                    write_arg(l, "max_frames", i.max_frames);
                    write_arg(l, "cpu_samples", i.cpu_samples);
                    write_arg(l, "stall_samples", i.stall_samples);
                    write_arg(l, "lost_samples", i.lost_samples);
                    write_arg(l, "truncated_stacks", i.truncated_stacks);
                    write_arg(l, "stacks", i.stacks);
                    write_arg(l, "addresses", i.addresses);
                    write_arg(l, "resolved_addresses", i.resolved_addresses);
                    write_arg(l, "symbolize_ns", i.symbolize_ns);
                });
            }
            Some(Meta::Symbols(_)) | None => {}
        },
        kind::EVENTS => match print_chunk(text, payload) {
            Ok(()) => return,
            Err(why) => {
                let _ = writeln!(text, "# the chunk at byte {offset} is kept raw: {why}");
            }
        },
        kind::END => {
            if let Some(e) = canonical::<End>(payload) {
                return line(text, "end", |l| {
                    write_arg(l, "end_time", e.end_time);
                    write_arg(l, "events", e.events);
                    write_arg(l, "chunks", e.chunks);
                    write_arg(l, "lost_chunks", e.lost_chunks);
                    write_arg(l, "lost_events", e.lost_events);
                });
            }
        }
        _ => {}
    }
    line(text, "frame", |l| {
        write_arg(l, "kind", kind);
        write_arg(l, "payload", payload);
    });
}

/// Appends ` name=0x1,0x2,…` (nothing for an empty list: left out, it reads back empty).
fn write_hex_list(out: &mut String, name: &str, values: &[u64]) {
    if values.is_empty() {
        return;
    }
    let _ = write!(out, " {name}=");
    for (i, v) in values.iter().enumerate() {
        let _ = write!(out, "{}{v:#x}", if i == 0 { "" } else { "," });
    }
}

/// One frame as the text gives it: `(function, file, line, column)`.
type OwnedSymbolFrame = (String, Option<String>, u32, u32);

/// One address's frames as `(function, file, line, column)`.
type SymbolLines<'s> = Vec<(&'s str, Option<&'s str>, u32, u32)>;

fn symbol_lines(sym: &Symbols) -> Vec<(u64, SymbolLines<'_>)> {
    sym.addrs
        .iter()
        .map(|a| {
            let frames = a
                .frames
                .iter()
                .map(|f| {
                    let file =
                        (f.file != crate::meta::SymbolFrame::NO_FILE).then(|| sym.string(f.file));
                    (sym.string(f.function), file, f.line, f.column)
                })
                .collect();
            (a.addr, frames)
        })
        .collect()
}

/// Whether the text form gives `sym` back: the form [`Symbols::build`] makes (strings in
/// order of first use, each once), every address with at least one frame.
fn symbols_are_canonical(sym: &Symbols) -> bool {
    sym.addrs.iter().all(|a| !a.frames.is_empty())
        && sym
            .addrs
            .iter()
            .flat_map(|a| &a.frames)
            .all(|f| (f.function as usize) < sym.strings.len())
        && Symbols::build(symbol_lines(sym)) == *sym
}

/// `symbols`, then per address a `symbol` line with its innermost frame and a `symbol_frame`
/// line for each frame around it.
fn print_symbols(text: &mut String, sym: &Symbols) {
    text.push_str("symbols\n");
    for (addr, frames) in symbol_lines(sym) {
        for (i, (function, file, ln, column)) in frames.into_iter().enumerate() {
            let word = if i == 0 { "symbol" } else { "symbol_frame" };
            line(text, word, |l| {
                if i == 0 {
                    let _ = write!(l, " addr={addr:#x}");
                }
                write_arg(l, "function", function);
                if let Some(file) = file {
                    write_arg(l, "file", file);
                }
                write_arg(l, "line", ln);
                write_arg(l, "column", column);
            });
        }
    }
}

fn line(text: &mut String, word: &str, args: impl FnOnce(&mut String)) {
    text.push_str(word);
    args(text);
    text.push('\n');
}

fn print_header(text: &mut String, h: &Header) {
    line(text, "header", |l| {
        write_arg(l, "clock_source", h.clock.source.as_str());
        write_arg(l, "nanos_per_unit_q32", h.clock.nanos_per_unit_q32);
        write_arg(l, "start_time", h.start_time);
        write_arg(l, "wall_clock_unix_nanos", h.wall_clock_unix_nanos);
        write_arg(l, "recorder", h.recorder.as_str());
        write_arg(l, "process_id", h.process_id);
        write_arg(l, "process_name", h.process_name.as_str());
        write_arg(l, "chunk_capacity", h.chunk_capacity);
    });
    for (k, v) in &h.features {
        line(text, "feature", |l| {
            write_arg(l, "key", k.as_str());
            write_arg(l, "value", v.as_str());
        });
    }
}

/// Prints a chunk's header line and its events, or says why they would not come back
/// byte for byte (then nothing is printed).
fn print_chunk(text: &mut String, payload: &[u8]) -> Result<(), String> {
    let head: &[u8; frame::EVENT_CHUNK_HEADER_LEN] = payload
        .get(..frame::EVENT_CHUNK_HEADER_LEN)
        .and_then(|h| h.try_into().ok())
        .ok_or("chunk header cut short")?;
    let h = EventChunkHeader::from_bytes(head)?;
    let bytes = &payload[frame::EVENT_CHUNK_HEADER_LEN..];
    let events = ChunkDecoder::new(bytes, h.base_time)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("event at chunk byte {}: {}", e.offset, e.reason))?;
    // Only a chunk that encodes back to the same bytes is printed as events (a writer using
    // longer varints than needed would not).
    let mut again = vec![0u8; events.iter().map(|(_, e)| codec::max_encoded_len(e)).sum()];
    let mut state = EncodeState::new(h.base_time);
    let mut len = 0;
    for (t, e) in &events {
        len += codec::encode(&mut state, &mut again[len..], *t, e);
    }
    if again[..len] != *bytes {
        return Err("its events are not in the form writers produce".into());
    }
    line(text, "chunk", |l| {
        write_arg(l, "thread", h.thread);
        write_arg(l, "seq", h.seq);
        write_arg(l, "base_time", h.base_time);
        // Printed only where the header disagrees with the events (a hand-made file).
        if h.end_time != state.last_time {
            write_arg(l, "end_time", h.end_time);
        }
        if h.event_count as usize != events.len() {
            write_arg(l, "events", h.event_count);
        }
    });
    for (t, e) in &events {
        print_event(text, h.thread, *t, e);
    }
    Ok(())
}

/// Appends one event line: `thread time kind name=value …`.
pub(crate) fn print_event(text: &mut String, thread: u32, time: u64, e: &Event<'_>) {
    let _ = write!(text, "{thread} {time} {}", e.kind_name());
    e.write_text_args(text);
    text.push('\n');
}

/// Appends ` name=value`.
pub(crate) fn write_arg<'a, T: TextArg<'a>>(out: &mut String, name: &str, value: T) {
    out.push(' ');
    out.push_str(name);
    out.push('=');
    value.write(out);
}

/// Writes `bytes` as a quoted string: UTF-8 text as it is, except `"`, `\` and control
/// characters, which are escaped; bytes that are not UTF-8 as `\xNN`.
fn write_quoted(out: &mut String, mut bytes: &[u8]) {
    out.push('"');
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                write_escaped(out, s);
                break;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                write_escaped(out, std::str::from_utf8(valid).unwrap_or_default());
                let bad = e.error_len().unwrap_or(rest.len());
                for b in &rest[..bad] {
                    let _ = write!(out, "\\x{b:02x}");
                }
                bytes = &rest[bad..];
            }
        }
    }
    out.push('"');
}

fn write_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Argument values

/// A value in the text: a bare word (numbers, names) or a quoted string, unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token<'l> {
    Bare(&'l str),
    Quoted(Vec<u8>),
}

/// How an argument type is written in the text form and read back.
pub(crate) trait TextArg<'a>: Sized {
    /// Appends the value.
    fn write(self, out: &mut String);
    /// Reads the value; `Err` says what was expected.
    fn parse(token: &'a Token<'_>) -> Result<Self, String>;
    /// The value of an argument left out.
    fn zero() -> Self;
}

fn bare<'t>(token: &'t Token<'_>, what: &str) -> Result<&'t str, String> {
    match token {
        Token::Bare(s) => Ok(s),
        Token::Quoted(_) => Err(format!("expected {what}, found a quoted string")),
    }
}

/// `0x1,0x2,…` (or nothing) as numbers.
fn parse_hex_list(token: Option<&Token<'_>>) -> Result<Vec<u64>, String> {
    let Some(token) = token else {
        return Ok(vec![]);
    };
    let s = bare(token, "a comma-separated list of addresses")?;
    if s.is_empty() {
        return Ok(vec![]);
    }
    s.split(',')
        .map(|item| parse_u64(&Token::Bare(item)))
        .collect()
}

/// Hex digits, two per byte.
fn parse_hex_bytes(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("an odd number of hex digits in `{s}`"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .ok_or_else(|| format!("expected hex digits, found `{s}`"))
        })
        .collect()
}

fn parse_u64(token: &Token<'_>) -> Result<u64, String> {
    let s = bare(token, "an unsigned integer")?;
    let parsed = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("expected an unsigned integer, found `{s}`"))
}

macro_rules! uint_text {
    ($ty:ty) => {
        impl TextArg<'_> for $ty {
            fn write(self, out: &mut String) {
                let _ = write!(out, "{self}");
            }
            fn parse(token: &Token<'_>) -> Result<Self, String> {
                let v = parse_u64(token)?;
                <$ty>::try_from(v).map_err(|_| format!("{v} is too large (at most {})", <$ty>::MAX))
            }
            fn zero() -> Self {
                0
            }
        }
    };
}
uint_text!(u64);
uint_text!(u32);

impl TextArg<'_> for u8 {
    fn write(self, out: &mut String) {
        let _ = write!(out, "{self:#04x}");
    }
    fn parse(token: &Token<'_>) -> Result<Self, String> {
        let v = parse_u64(token)?;
        u8::try_from(v).map_err(|_| format!("{v} is too large (at most 255)"))
    }
    fn zero() -> Self {
        0
    }
}

impl TextArg<'_> for i64 {
    fn write(self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
    fn parse(token: &Token<'_>) -> Result<Self, String> {
        let s = bare(token, "an integer")?;
        s.parse()
            .map_err(|_| format!("expected an integer, found `{s}`"))
    }
    fn zero() -> Self {
        0
    }
}

impl TextArg<'_> for TaskId {
    fn write(self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
    /// `17`, or `root1` for the recorder's own ids, as `TaskId` displays them.
    fn parse(token: &Token<'_>) -> Result<Self, String> {
        let s = bare(token, "a task id")?;
        if let Some(n) = s.strip_prefix("root") {
            // `rootN` is `FIRST_OWN + N - 1`, for any id that `Display` writes that way.
            let id = n.parse::<u64>().ok().and_then(|n| {
                n.checked_sub(1)
                    .and_then(|m| TaskId::FIRST_OWN.checked_add(m))
            });
            return id
                .map(TaskId)
                .ok_or_else(|| format!("expected a task id (`17`, `root1`), found `{s}`"));
        }
        parse_u64(token)
            .map(TaskId)
            .map_err(|_| format!("expected a task id (`17`, `root1`), found `{s}`"))
    }
    fn zero() -> Self {
        TaskId::NONE
    }
}

macro_rules! id_text {
    ($ty:ident) => {
        impl TextArg<'_> for $ty {
            fn write(self, out: &mut String) {
                let _ = write!(out, "{}", self.0);
            }
            fn parse(token: &Token<'_>) -> Result<Self, String> {
                u32::parse(token).map($ty)
            }
            fn zero() -> Self {
                $ty(0)
            }
        }
    };
}
id_text!(StringId);
id_text!(LocationId);
id_text!(StackId);

macro_rules! enum_text {
    ($ty:ident, $zero:expr) => {
        impl TextArg<'_> for $ty {
            fn write(self, out: &mut String) {
                out.push_str(self.text_name());
            }
            fn parse(token: &Token<'_>) -> Result<Self, String> {
                let s = bare(token, "a name")?;
                $ty::from_text_name(s)
                    .ok_or_else(|| format!("expected one of {}found `{s}`", $ty::TEXT_NAMES))
            }
            fn zero() -> Self {
                $zero
            }
        }
    };
}
enum_text!(ThreadKind, ThreadKind::Worker);
enum_text!(TaskKind, TaskKind::Async);
enum_text!(WakeSource, WakeSource::Task);
enum_text!(PauseScope, PauseScope::Process);
enum_text!(Level, Level::Trace);

impl TextArg<'_> for bool {
    fn write(self, out: &mut String) {
        out.push_str(if self { "true" } else { "false" });
    }
    fn parse(token: &Token<'_>) -> Result<Self, String> {
        match bare(token, "true or false")? {
            "true" => Ok(true),
            "false" => Ok(false),
            s => Err(format!("expected true or false, found `{s}`")),
        }
    }
    fn zero() -> Self {
        false
    }
}

impl<'a> TextArg<'a> for &'a [u8] {
    fn write(self, out: &mut String) {
        write_quoted(out, self);
    }
    fn parse(token: &'a Token<'_>) -> Result<Self, String> {
        match token {
            Token::Quoted(b) => Ok(b),
            Token::Bare(s) => Err(format!("expected a quoted string, found `{s}`")),
        }
    }
    fn zero() -> Self {
        &[]
    }
}

impl<'a> TextArg<'a> for &'a str {
    fn write(self, out: &mut String) {
        write_quoted(out, self.as_bytes());
    }
    fn parse(token: &'a Token<'_>) -> Result<Self, String> {
        std::str::from_utf8(<&[u8]>::parse(token)?)
            .map_err(|_| "the string is not valid UTF-8".to_string())
    }
    fn zero() -> Self {
        ""
    }
}

/// An optional value: the argument given, or `None` (its zero) when it is left out.
impl<'a, T: TextArg<'a>> TextArg<'a> for Option<T> {
    fn write(self, out: &mut String) {
        if let Some(v) = self {
            v.write(out);
        }
    }
    fn parse(token: &'a Token<'_>) -> Result<Self, String> {
        T::parse(token).map(Some)
    }
    fn zero() -> Self {
        None
    }
}

/// The `name=value` arguments of one line, taken one by one by name; what is left over at
/// the end is an error.
pub(crate) struct Args<'t, 'a> {
    items: &'a [(&'t str, Token<'t>)],
    taken: Vec<bool>,
}

impl<'t, 'a> Args<'t, 'a> {
    fn new(items: &'a [(&'t str, Token<'t>)]) -> Result<Self, String> {
        for (i, (name, _)) in items.iter().enumerate() {
            if items[..i].iter().any(|(n, _)| n == name) {
                return Err(format!("argument `{name}` is given twice"));
            }
        }
        Ok(Args {
            items,
            taken: vec![false; items.len()],
        })
    }

    /// The argument `name`, or its zero value when it is left out.
    pub(crate) fn take<T: TextArg<'a>>(&mut self, name: &str) -> Result<T, String> {
        match self.items.iter().position(|(n, _)| *n == name) {
            Some(i) => {
                self.taken[i] = true;
                T::parse(&self.items[i].1).map_err(|e| format!("`{name}`: {e}"))
            }
            None => Ok(T::zero()),
        }
    }

    /// Whether the argument `name` is given.
    fn has(&self, name: &str) -> bool {
        self.items.iter().any(|(n, _)| *n == name)
    }

    /// The argument `name`, or `default` when it is left out.
    fn take_or<T: TextArg<'a>>(&mut self, name: &str, default: T) -> Result<T, String> {
        match self.has(name) {
            true => self.take(name),
            false => Ok(default),
        }
    }

    /// The raw token of `name`, if given.
    fn take_token(&mut self, name: &str) -> Option<&'a Token<'t>> {
        let i = self.items.iter().position(|(n, _)| *n == name)?;
        self.taken[i] = true;
        Some(&self.items[i].1)
    }

    fn take_string(&mut self, name: &str, default: &str) -> Result<String, String> {
        Ok(match self.take::<Option<&str>>(name)? {
            Some(s) => s.to_owned(),
            None => default.to_owned(),
        })
    }

    /// Fails on an argument that was not taken; `known` lists the ones that exist.
    fn finish(&self, what: &str, known: &[&str]) -> Result<(), String> {
        match self.taken.iter().position(|t| !t) {
            None => Ok(()),
            Some(i) => Err(format!(
                "{what} has no argument `{}` (its arguments: {})",
                self.items[i].0,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Parsing

/// Splits a line into tokens: bare words and quoted strings, each optionally `name=`-prefixed.
/// A `#` where a token would start begins a comment.
fn tokenize(line: &str) -> Result<Vec<(Option<&str>, Token<'_>)>, String> {
    let mut out = vec![];
    let b = line.as_bytes();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() || b[i] == b'#' {
            return Ok(out);
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'"' {
            i += 1;
        }
        let mut name = None;
        if i < b.len() && b[i] == b'=' {
            if i == start {
                return Err("`=` without an argument name before it".into());
            }
            name = Some(&line[start..i]);
            i += 1;
        } else if i > start {
            // A bare word without a name.
            if i < b.len() && b[i] == b'"' {
                return Err(format!("unexpected `\"` after `{}`", &line[start..i]));
            }
            out.push((None, Token::Bare(&line[start..i])));
            continue;
        }
        if i < b.len() && b[i] == b'"' {
            let (bytes, end) = unquote(line, i)?;
            i = end;
            out.push((name, Token::Quoted(bytes)));
        } else {
            let vstart = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                if b[i] == b'"' || b[i] == b'=' {
                    return Err(format!("unexpected `{}` in a value", b[i] as char));
                }
                i += 1;
            }
            if i == vstart {
                return Err(format!("`{}=` has no value", name.unwrap_or_default()));
            }
            out.push((name, Token::Bare(&line[vstart..i])));
        }
        if i < b.len() && !b[i].is_ascii_whitespace() {
            return Err("a quoted string must be followed by a space".into());
        }
    }
}

/// Reads the quoted string starting at `line[start]` (a `"`); returns its bytes and the
/// position after the closing quote.
fn unquote(line: &str, start: usize) -> Result<(Vec<u8>, usize), String> {
    let mut out = Vec::new();
    let mut chars = line[start + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, start + 1 + i + 1)),
            '\\' => {
                let bad = || "a `\\` escape must be one of \\\" \\\\ \\n \\t \\r \\xNN \\u{N}";
                match chars.next().map(|(_, c)| c) {
                    Some('"') => out.push(b'"'),
                    Some('\\') => out.push(b'\\'),
                    Some('n') => out.push(b'\n'),
                    Some('t') => out.push(b'\t'),
                    Some('r') => out.push(b'\r'),
                    Some('x') => {
                        let hex: String = chars.by_ref().take(2).map(|(_, c)| c).collect();
                        let v = (hex.len() == 2)
                            .then(|| u8::from_str_radix(&hex, 16).ok())
                            .flatten()
                            .ok_or_else(|| format!("`\\x{hex}`: expected two hex digits"))?;
                        out.push(v);
                    }
                    Some('u') => {
                        let bad_u = "`\\u` must be followed by {hex digits} naming a character";
                        if chars.next().map(|(_, c)| c) != Some('{') {
                            return Err(bad_u.into());
                        }
                        let mut hex = String::new();
                        loop {
                            match chars.next() {
                                Some((_, '}')) => break,
                                Some((_, c)) if c.is_ascii_hexdigit() && hex.len() < 6 => {
                                    hex.push(c)
                                }
                                _ => return Err(bad_u.into()),
                            }
                        }
                        let c = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or(bad_u)?;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                    _ => return Err(bad().into()),
                }
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Err("a quoted string is not closed on its line".into())
}

/// One frame being built, in file order.
enum Frame {
    Header(Header),
    Strings(Vec<StringDef>),
    Locations(Vec<LocationDef>),
    Thread(ThreadDef),
    Stacks(Vec<StackDef>),
    /// Addresses with their frames `(function, file, line, column)`, innermost first.
    Symbols(Vec<(u64, Vec<OwnedSymbolFrame>)>),
    Mappings(Vec<MappingDef>),
    Sampling(SamplingInfo),
    Chunk(Chunk),
    End(EndLine),
    Raw(u8, Vec<u8>),
}

/// A chunk being encoded.
struct Chunk {
    thread: u32,
    seq: u32,
    /// `None` until given or set by the first event.
    base_time: Option<u64>,
    end_time: Option<u64>,
    event_count: Option<u32>,
    state: EncodeState,
    bytes: Vec<u8>,
    count: u32,
}

/// An `end` line: fields left out are computed from the chunks.
#[derive(Default)]
struct EndLine {
    end_time: Option<u64>,
    events: Option<u64>,
    chunks: Option<u64>,
    lost_chunks: u64,
    lost_events: u64,
}

/// The header of a text without a `header` line.
pub fn default_header() -> Header {
    Header {
        clock: ClockInfo::nanoseconds(),
        start_time: 0,
        wall_clock_unix_nanos: 0,
        recorder: "trace-format text".into(),
        process_id: 0,
        process_name: String::new(),
        chunk_capacity: 64 * 1024,
        features: vec![],
    }
}

#[derive(Default)]
struct Parser {
    frames: Vec<(usize, Frame)>,
    /// The next sequence number of each thread's chunks.
    next_seq: BTreeMap<u32, u32>,
    /// The time of each thread's last event.
    last_time: BTreeMap<u32, u64>,
}

/// Parses the text form and writes the binary trace it describes.
///
/// Errors name the line. The result is also opened with the reader, so a text that
/// describes a trace the reader would reject (say, two chunks of one thread with the same
/// `seq`) is an error here rather than a file that does not open.
pub fn undump(text: &str) -> Result<Vec<u8>, ParseError> {
    let mut p = Parser::default();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let tokens = tokenize(line).map_err(|message| ParseError { line: n, message })?;
        p.line(n, &tokens)
            .map_err(|message| ParseError { line: n, message })?;
    }
    let (bytes, offsets) = p.write();
    if let Err(e) = Trace::from_bytes(bytes.clone()) {
        let line = match &e {
            ReadError::Corrupt { offset, .. } => offsets
                .iter()
                .rev()
                .find(|(o, _)| *o <= *offset as usize)
                .map_or(0, |(_, l)| *l),
            _ => 0,
        };
        return Err(ParseError {
            line,
            message: format!("the text describes a trace the reader rejects: {e}"),
        });
    }
    Ok(bytes)
}

impl Parser {
    fn line(&mut self, n: usize, tokens: &[(Option<&str>, Token<'_>)]) -> Result<(), String> {
        let Some((None, Token::Bare(word))) = tokens.first() else {
            return match tokens.first() {
                None => Ok(()),
                Some(_) => Err("a line starts with a word or a thread id".into()),
            };
        };
        if word.as_bytes()[0].is_ascii_digit() {
            return self.event(n, tokens);
        }
        let mut named = Vec::with_capacity(tokens.len());
        for (name, value) in &tokens[1..] {
            match name {
                Some(name) => named.push((*name, value.clone())),
                None => return Err(format!("`{word}` takes name=value arguments only")),
            }
        }
        let mut args = Args::new(&named)?;
        if let Some((_, Frame::End(_))) = self.frames.last() {
            return Err("nothing may follow the end record".into());
        }
        let known: &[&str] = match *word {
            "header" => {
                if !self.frames.is_empty() {
                    return Err("the header must be the first record".into());
                }
                let d = default_header();
                let h = Header {
                    clock: ClockInfo {
                        source: args.take_string("clock_source", &d.clock.source)?,
                        nanos_per_unit_q32: args
                            .take_or("nanos_per_unit_q32", d.clock.nanos_per_unit_q32)?,
                    },
                    start_time: args.take("start_time")?,
                    wall_clock_unix_nanos: args.take("wall_clock_unix_nanos")?,
                    recorder: args.take_string("recorder", &d.recorder)?,
                    process_id: args.take("process_id")?,
                    process_name: args.take_string("process_name", &d.process_name)?,
                    chunk_capacity: args.take_or("chunk_capacity", d.chunk_capacity)?,
                    features: vec![],
                };
                self.frames.push((n, Frame::Header(h)));
                &[
                    "clock_source",
                    "nanos_per_unit_q32",
                    "start_time",
                    "wall_clock_unix_nanos",
                    "recorder",
                    "process_id",
                    "process_name",
                    "chunk_capacity",
                ]
            }
            "feature" => {
                let Some((_, Frame::Header(h))) = self.frames.last_mut() else {
                    return Err("a feature line must follow the header line".into());
                };
                let key = args.take_string("key", "")?;
                let value = args.take_string("value", "")?;
                h.features.push((key, value));
                &["key", "value"]
            }
            "strings" => {
                self.frames.push((n, Frame::Strings(vec![])));
                &[]
            }
            "string" => {
                let def = StringDef {
                    id: args.take("id")?,
                    text: args.take_string("text", "")?,
                };
                match self.frames.last_mut() {
                    Some((_, Frame::Strings(defs))) => defs.push(def),
                    _ => self.frames.push((n, Frame::Strings(vec![def]))),
                }
                &["id", "text"]
            }
            "locations" => {
                self.frames.push((n, Frame::Locations(vec![])));
                &[]
            }
            "location" => {
                let def = LocationDef {
                    id: args.take("id")?,
                    file: args.take_string("file", "")?,
                    line: args.take("line")?,
                    column: args.take("column")?,
                };
                match self.frames.last_mut() {
                    Some((_, Frame::Locations(defs))) => defs.push(def),
                    _ => self.frames.push((n, Frame::Locations(vec![def]))),
                }
                &["id", "file", "line", "column"]
            }
            "thread" => {
                let def = ThreadDef {
                    thread: args.take("id")?,
                    name: args.take_string("name", "")?,
                    os_id: args.take("os_id")?,
                };
                self.frames.push((n, Frame::Thread(def)));
                &["id", "name", "os_id"]
            }
            "stacks" => {
                self.frames.push((n, Frame::Stacks(vec![])));
                &[]
            }
            "stack" => {
                let def = StackDef {
                    id: args.take("id")?,
                    frames: parse_hex_list(args.take_token("frames"))
                        .map_err(|e| format!("`frames`: {e}"))?,
                };
                match self.frames.last_mut() {
                    Some((_, Frame::Stacks(defs))) => defs.push(def),
                    _ => self.frames.push((n, Frame::Stacks(vec![def]))),
                }
                &["id", "frames"]
            }
            "symbols" => {
                self.frames.push((n, Frame::Symbols(vec![])));
                &[]
            }
            "symbol" | "symbol_frame" => {
                let frame = (
                    args.take_string("function", "")?,
                    args.take::<Option<&str>>("file")?.map(str::to_owned),
                    args.take("line")?,
                    args.take("column")?,
                );
                if *word == "symbol" {
                    let addr: u64 = args.take("addr")?;
                    match self.frames.last_mut() {
                        Some((_, Frame::Symbols(list))) => list.push((addr, vec![frame])),
                        _ => self
                            .frames
                            .push((n, Frame::Symbols(vec![(addr, vec![frame])]))),
                    }
                    &["addr", "function", "file", "line", "column"]
                } else {
                    match self.frames.last_mut() {
                        Some((_, Frame::Symbols(list))) if !list.is_empty() => {
                            list.last_mut().expect("not empty").1.push(frame)
                        }
                        _ => return Err("a symbol_frame line must follow a symbol line".into()),
                    }
                    &["function", "file", "line", "column"]
                }
            }
            "mappings" => {
                self.frames.push((n, Frame::Mappings(vec![])));
                &[]
            }
            "mapping" => {
                let build_id = match args.take_token("build_id") {
                    None => vec![],
                    Some(t) => parse_hex_bytes(bare(t, "hex digits")?)
                        .map_err(|e| format!("`build_id`: {e}"))?,
                };
                let def = MappingDef {
                    start: args.take("start")?,
                    end: args.take("end")?,
                    file_offset: args.take("file_offset")?,
                    path: args.take_string("path", "")?,
                    build_id,
                };
                match self.frames.last_mut() {
                    Some((_, Frame::Mappings(defs))) => defs.push(def),
                    _ => self.frames.push((n, Frame::Mappings(vec![def]))),
                }
                &["start", "end", "file_offset", "path", "build_id"]
            }
            "sampling" => {
                let info = SamplingInfo {
                    cpu_method: args.take_string("cpu_method", "")?,
                    cpu_reason: args.take_string("cpu_reason", "")?,
                    cpu_hz: args.take("cpu_hz")?,
                    stall_threshold_ns: args.take("stall_threshold_ns")?,
                    max_frames: args.take("max_frames")?,
                    cpu_samples: args.take("cpu_samples")?,
                    stall_samples: args.take("stall_samples")?,
                    lost_samples: args.take("lost_samples")?,
                    truncated_stacks: args.take("truncated_stacks")?,
                    stacks: args.take("stacks")?,
                    addresses: args.take("addresses")?,
                    resolved_addresses: args.take("resolved_addresses")?,
                    symbolize_ns: args.take("symbolize_ns")?,
                };
                self.frames.push((n, Frame::Sampling(info)));
                &[
                    "cpu_method",
                    "cpu_reason",
                    "cpu_hz",
                    "stall_threshold_ns",
                    "max_frames",
                    "cpu_samples",
                    "stall_samples",
                    "lost_samples",
                    "truncated_stacks",
                    "stacks",
                    "addresses",
                    "resolved_addresses",
                    "symbolize_ns",
                ]
            }
            "chunk" => {
                let thread: u32 = args.take("thread")?;
                let next = self.next_seq.get(&thread).copied().unwrap_or(0);
                let seq = args.take_or("seq", next)?;
                let base_time = args.take_or("base_time", None)?;
                let end_time = args.take_or("end_time", None)?;
                let event_count = args.take_or("events", None)?;
                self.open_chunk(n, thread, seq, base_time);
                if let Some((_, Frame::Chunk(c))) = self.frames.last_mut() {
                    c.end_time = end_time;
                    c.event_count = event_count;
                }
                &["thread", "seq", "base_time", "end_time", "events"]
            }
            "end" => {
                let mut e = EndLine::default();
                for (k, _) in &named {
                    match *k {
                        "end_time" => e.end_time = Some(args.take(k)?),
                        "events" => e.events = Some(args.take(k)?),
                        "chunks" => e.chunks = Some(args.take(k)?),
                        "lost_chunks" => e.lost_chunks = args.take(k)?,
                        "lost_events" => e.lost_events = args.take(k)?,
                        _ => {}
                    }
                }
                self.frames.push((n, Frame::End(e)));
                &["end_time", "events", "chunks", "lost_chunks", "lost_events"]
            }
            "frame" => {
                let kind: u8 = args.take("kind")?;
                let payload: &[u8] = args.take("payload")?;
                if kind == frame::kind::HEADER && !self.frames.is_empty() {
                    return Err("the header must be the first record".into());
                }
                self.frames.push((n, Frame::Raw(kind, payload.to_vec())));
                &["kind", "payload"]
            }
            other => {
                return Err(format!(
                    "unknown record `{other}` (a line is an event `THREAD TIME KIND ARGS`, or \
                     one of header, feature, strings, string, locations, location, thread, \
                     stacks, stack, symbols, symbol, symbol_frame, mappings, mapping, \
                     sampling, chunk, end, frame)"
                ));
            }
        };
        args.finish(&format!("`{word}`"), known)
    }

    fn open_chunk(&mut self, n: usize, thread: u32, seq: u32, base_time: Option<u64>) {
        self.next_seq.insert(thread, seq.wrapping_add(1));
        let chunk = Chunk {
            thread,
            seq,
            base_time,
            end_time: None,
            event_count: None,
            state: EncodeState::new(base_time.unwrap_or(0)),
            bytes: vec![],
            count: 0,
        };
        self.frames.push((n, Frame::Chunk(chunk)));
    }

    fn event(&mut self, n: usize, tokens: &[(Option<&str>, Token<'_>)]) -> Result<(), String> {
        let positional = |i: usize, what: &str| match tokens.get(i) {
            Some((None, t)) => Ok(t),
            _ => Err(format!(
                "an event line is `THREAD TIME KIND name=value …`; {what} is missing"
            )),
        };
        let thread =
            u32::parse(positional(0, "the thread")?).map_err(|e| format!("thread: {e}"))?;
        let time = u64::parse(positional(1, "the time")?).map_err(|e| format!("time: {e}"))?;
        let kind_name = bare(positional(2, "the kind")?, "an event kind")?;
        let kind = EventKind::from_name(kind_name).ok_or_else(|| {
            let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.name()).collect();
            format!(
                "unknown event kind `{kind_name}` (kinds: {})",
                names.join(", ")
            )
        })?;
        let mut named = Vec::with_capacity(tokens.len());
        for (name, value) in &tokens[3..] {
            match name {
                Some(name) => named.push((*name, value.clone())),
                None => return Err("event arguments are name=value".into()),
            }
        }
        let mut args = Args::new(&named)?;
        let event = Event::parse_text_args(kind, &mut args)?;
        let known: Vec<&str> = kind.args().iter().map(|a| a.name).collect();
        let known = match kind {
            EventKind::Unknown => vec!["tag", "payload"],
            _ => known,
        };
        args.finish(&format!("`{kind_name}`"), &known)?;
        if let Event::Unknown { tag, .. } = event
            && tag < codec::tag::EXTENSION_FIRST
        {
            return Err(format!(
                "an unknown event's tag must be in the extension range 0x80..=0xff, not {tag:#04x}"
            ));
        }

        // The chunk it goes into: the current one if it is this thread's, else a new one.
        let current =
            matches!(self.frames.last(), Some((_, Frame::Chunk(c))) if c.thread == thread);
        if !current {
            if let Some((_, Frame::End(_))) = self.frames.last() {
                return Err("nothing may follow the end record".into());
            }
            if let Some(&last) = self.last_time.get(&thread)
                && time < last
            {
                return Err(format!(
                    "thread {thread} goes back in time: {time} after {last}"
                ));
            }
            let seq = self.next_seq.get(&thread).copied().unwrap_or(0);
            self.open_chunk(n, thread, seq, Some(time));
        }
        let Some((_, Frame::Chunk(c))) = self.frames.last_mut() else {
            return Err("internal error: no chunk is open".into());
        };
        if c.base_time.is_none() {
            c.base_time = Some(time);
            c.state = EncodeState::new(time);
        }
        if time < c.state.last_time {
            return Err(format!(
                "time goes backwards within the chunk of thread {thread}: {time} after {}",
                c.state.last_time
            ));
        }
        let before = c.state;
        let len = c.bytes.len();
        c.bytes.resize(len + codec::max_encoded_len(&event), 0);
        let written = codec::encode(&mut c.state, &mut c.bytes[len..], time, &event);
        c.bytes.truncate(len + written);
        // The encoding has limits (task ids below 2^63); never write something else silently.
        match ChunkDecoder::with_state(&c.bytes[len..], before).next() {
            Some(Ok(back)) if back == (time, event) => {}
            _ => {
                return Err(format!(
                    "this event cannot be encoded as written (task ids must be below 2^63): {event:?}"
                ));
            }
        }
        c.count += 1;
        self.last_time.insert(thread, time);
        Ok(())
    }

    /// Writes the frames; also returns each frame's byte offset and line.
    fn write(self) -> (Vec<u8>, Vec<(usize, usize)>) {
        let mut out = frame::preamble().to_vec();
        let mut offsets = vec![];
        let has_header = matches!(
            self.frames.first(),
            Some((_, Frame::Header(_))) | Some((_, Frame::Raw(kind::HEADER, _)))
        );
        if !has_header {
            put_frame(&mut out, kind::HEADER, &postcard_bytes(&default_header()));
        }
        let mut end = End::default();
        for (_, f) in &self.frames {
            if let Frame::Chunk(c) = f {
                end.events += u64::from(c.count);
                end.chunks += 1;
                end.end_time = end.end_time.max(c.state.last_time);
            }
        }
        for (n, f) in self.frames {
            offsets.push((out.len(), n));
            match f {
                Frame::Header(h) => put_frame(&mut out, kind::HEADER, &postcard_bytes(&h)),
                Frame::Strings(d) => {
                    put_frame(&mut out, kind::META, &postcard_bytes(&Meta::Strings(d)))
                }
                Frame::Locations(d) => {
                    put_frame(&mut out, kind::META, &postcard_bytes(&Meta::Locations(d)))
                }
                Frame::Thread(d) => {
                    put_frame(&mut out, kind::META, &postcard_bytes(&Meta::Thread(d)))
                }
                Frame::Stacks(d) => {
                    put_frame(&mut out, kind::META, &postcard_bytes(&Meta::Stacks(d)))
                }
                Frame::Symbols(list) => {
                    let sym = Symbols::build(list.iter().map(|(addr, frames)| {
                        (
                            *addr,
                            frames
                                .iter()
                                .map(|(f, file, l, c)| (f.as_str(), file.as_deref(), *l, *c)),
                        )
                    }));
                    put_frame(&mut out, kind::META, &postcard_bytes(&Meta::Symbols(sym)))
                }
                Frame::Mappings(d) => {
                    put_frame(&mut out, kind::META, &postcard_bytes(&Meta::Mappings(d)))
                }
                Frame::Sampling(i) => {
                    put_frame(&mut out, kind::META, &postcard_bytes(&Meta::Sampling(i)))
                }
                Frame::Chunk(c) => {
                    let h = EventChunkHeader {
                        thread: c.thread,
                        seq: c.seq,
                        base_time: c.base_time.unwrap_or(0),
                        end_time: c.end_time.unwrap_or(c.state.last_time),
                        event_count: c.event_count.unwrap_or(c.count),
                    };
                    let mut payload = h.to_bytes().to_vec();
                    payload.extend_from_slice(&c.bytes);
                    put_frame(&mut out, kind::EVENTS, &payload);
                }
                Frame::End(e) => {
                    let e = End {
                        end_time: e.end_time.unwrap_or(end.end_time),
                        events: e.events.unwrap_or(end.events),
                        chunks: e.chunks.unwrap_or(end.chunks),
                        lost_chunks: e.lost_chunks,
                        lost_events: e.lost_events,
                    };
                    put_frame(&mut out, kind::END, &postcard_bytes(&e));
                }
                Frame::Raw(k, payload) => put_frame(&mut out, k, &payload),
            }
        }
        (out, offsets)
    }
}

fn postcard_bytes<T: serde::Serialize>(value: &T) -> Vec<u8> {
    postcard::to_stdvec(value).expect("postcard encodes to memory")
}

fn put_frame(out: &mut Vec<u8>, kind: u8, payload: &[u8]) {
    // Frames over the format's limit are left to the reader's check in `undump`.
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&frame::frame_header(kind, len, crc32fast::hash(payload)));
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_round_trips_any_bytes() {
        let cases: [&[u8]; 6] = [
            b"",
            b"plain",
            "h\u{e9} \"q\" \\ \n\t\r \u{0} \u{85} \u{1f600}".as_bytes(),
            &[0xff, 0x00, b'a', 0xc3],
            &[0xc3, 0xa9, 0x80],
            b"#not a comment",
        ];
        for bytes in cases {
            let mut s = String::new();
            write_quoted(&mut s, bytes);
            let line = format!("x={s} y=1");
            let toks = tokenize(&line).unwrap();
            assert_eq!(
                toks[0],
                (Some("x"), Token::Quoted(bytes.to_vec())),
                "{line}"
            );
            assert_eq!(toks[1], (Some("y"), Token::Bare("1")));
        }
    }

    #[test]
    fn bad_tokens_are_errors() {
        for bad in [
            "x=\"open",
            "x=",
            "=1",
            "x=\"a\"b",
            "x=\"\\q\"",
            "x=\"\\x4\"",
            "x=a\"b",
        ] {
            assert!(tokenize(bad).is_err(), "{bad}");
        }
        assert_eq!(tokenize("  # only a comment").unwrap(), vec![]);
    }
}
