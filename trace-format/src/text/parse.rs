//! Parsing the text form and writing the trace it describes ([`undump`]).

use std::collections::{BTreeMap, HashMap};

use super::args::{Args, TextArg, parse_hex_bytes, parse_hex_list};
use super::token::{Token, bare, tokenize};
use crate::codec::{self, ChunkDecoder, EncodeState};
use crate::frame::{self, EventChunkHeader, kind};
use crate::meta::{
    ClockInfo, End, Header, LocationDef, MappingDef, Meta, PackedStack, SamplingInfo, StackDef,
    StringDef, Symbols, ThreadDef,
};
use crate::reader::{ReadError, Trace};
use crate::spec::{Event, EventKind};

/// Why text could not be turned into a trace: the line (from 1) and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    /// The offending line, counting from 1.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// One frame as the text gives it: `(function, file, line, column)`.
type OwnedSymbolFrame = (String, Option<String>, u32, u32);

/// One frame being built, in file order.
enum Frame {
    Header(Header),
    Strings(Vec<StringDef>),
    Locations(Vec<LocationDef>),
    Thread(ThreadDef),
    Stacks(Vec<StackDef>),
    /// The stacks, and the id of the last one.
    PackedStacks(Vec<PackedStack>, u32),
    /// Addresses with their frames `(function, file, line, column)`, innermost first; packed
    /// or not.
    Symbols(Vec<(u64, Vec<OwnedSymbolFrame>)>, bool),
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
    /// The frames of every stack defined so far (packed stacks build on them).
    stacks: HashMap<u32, Vec<u64>>,
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
                self.stacks.insert(def.id, def.frames.clone());
                match self.frames.last_mut() {
                    Some((_, Frame::Stacks(defs))) => defs.push(def),
                    _ => self.frames.push((n, Frame::Stacks(vec![def]))),
                }
                &["id", "frames"]
            }
            "packed_stacks" => {
                self.frames.push((n, Frame::PackedStacks(vec![], 0)));
                &[]
            }
            "packed_stack" => {
                let id: u32 = args.take("id")?;
                let base_id: u32 = args.take("base")?;
                let shared: u32 = args.take("shared")?;
                let frames = parse_hex_list(args.take_token("frames"))
                    .map_err(|e| format!("`frames`: {e}"))?;
                let s = shared as usize;
                let (base_back, base): (u32, &[u64]) = if base_id == 0 {
                    if s != 0 {
                        return Err("`shared` must be 0 for a stack without a base".into());
                    }
                    (0, &[])
                } else {
                    let Some(base) = self.stacks.get(&base_id) else {
                        return Err(format!("base stack {base_id} is not defined before"));
                    };
                    if base_id >= id {
                        return Err("a base stack's id must be lower".into());
                    }
                    (id - base_id, base)
                };
                if s > frames.len()
                    || s > base.len()
                    || frames[frames.len() - s..] != base[base.len() - s..]
                {
                    return Err(format!(
                        "the last {shared} frames are not the last {shared} of stack {base_id}"
                    ));
                }
                let own = crate::pack::own_deltas(base, s, &frames);
                self.stacks.insert(id, frames);
                let (list, last) = match self.frames.last_mut() {
                    Some((_, Frame::PackedStacks(list, last))) => (list, last),
                    _ => {
                        self.frames.push((n, Frame::PackedStacks(vec![], 0)));
                        match self.frames.last_mut() {
                            Some((_, Frame::PackedStacks(list, last))) => (list, last),
                            _ => unreachable!("just pushed"),
                        }
                    }
                };
                list.push(PackedStack {
                    id_delta: id.wrapping_sub(*last),
                    base_back,
                    shared,
                    own,
                });
                *last = id;
                &["id", "base", "shared", "frames"]
            }
            "symbols" | "packed_symbols" => {
                self.frames
                    .push((n, Frame::Symbols(vec![], *word == "packed_symbols")));
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
                        Some((_, Frame::Symbols(list, _))) => list.push((addr, vec![frame])),
                        _ => self
                            .frames
                            .push((n, Frame::Symbols(vec![(addr, vec![frame])], false))),
                    }
                    &["addr", "function", "file", "line", "column"]
                } else {
                    match self.frames.last_mut() {
                        Some((_, Frame::Symbols(list, _))) if !list.is_empty() => {
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
                Frame::PackedStacks(list, _) => put_frame(
                    &mut out,
                    kind::META,
                    &postcard_bytes(&Meta::PackedStacks(list)),
                ),
                Frame::Symbols(list, packed) => {
                    let sym = Symbols::build(list.iter().map(|(addr, frames)| {
                        (
                            *addr,
                            frames
                                .iter()
                                .map(|(f, file, l, c)| (f.as_str(), file.as_deref(), *l, *c)),
                        )
                    }));
                    let meta = if packed {
                        Meta::PackedSymbols(crate::pack::pack_symbols(&sym))
                    } else {
                        Meta::Symbols(sym)
                    };
                    put_frame(&mut out, kind::META, &postcard_bytes(&meta))
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
