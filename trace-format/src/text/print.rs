//! Printing a trace as text ([`dump`]): every frame in file order, as the lines
//! [`super::undump`] reads back; a frame the text cannot give back byte for byte is printed
//! raw.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;

use super::args::{write_arg, write_hex_list};
use crate::codec::{self, ChunkDecoder, EncodeState};
use crate::frame::{self, EventChunkHeader, kind};
use crate::meta::{End, Header, Meta, Symbols};
use crate::reader::{ReadError, Trace, Warning};
use crate::spec::Event;

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

/// The first line [`dump`] prints.
pub const FIRST_LINE: &str = "# trace-rt trace, text form (trace-viewer undump reads it back)";

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
    // The frames of every stack defined so far: packed stacks are printed whole.
    let mut stacks = HashMap::new();
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
        print_frame(&mut text, h.kind, payload, pos, &mut stacks);
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

fn print_frame(
    text: &mut String,
    kind: u8,
    payload: &[u8],
    offset: usize,
    stacks: &mut HashMap<u32, Vec<u64>>,
) {
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
                for d in &defs {
                    stacks.insert(d.id, d.frames.clone());
                }
                for d in defs {
                    line(text, "stack", |l| {
                        write_arg(l, "id", d.id);
                        write_hex_list(l, "frames", &d.frames);
                    });
                }
                return;
            }
            Some(Meta::PackedStacks(packed)) => {
                if let Some(lines) = packed_stack_lines(&packed, stacks) {
                    text.push_str("packed_stacks\n");
                    for (id, base, shared, frames) in lines {
                        line(text, "packed_stack", |l| {
                            write_arg(l, "id", id);
                            write_arg(l, "base", base);
                            write_arg(l, "shared", shared);
                            write_hex_list(l, "frames", &frames);
                        });
                    }
                    return;
                }
            }
            Some(Meta::Symbols(sym)) if symbols_are_canonical(&sym) => {
                text.push_str("symbols\n");
                return print_symbols(text, &sym);
            }
            Some(Meta::PackedSymbols(p)) => {
                if let Ok(sym) = crate::pack::unpack_symbols(&p)
                    && symbols_are_canonical(&sym)
                    && crate::pack::pack_symbols(&sym) == p
                {
                    text.push_str("packed_symbols\n");
                    return print_symbols(text, &sym);
                }
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
            // Kept as a `frame` line (exact), after a readable comment of what it holds.
            Some(Meta::TaskDump(d)) => print_task_dump_comment(text, &d),
            Some(Meta::Symbols(_)) | None => {} // A record that does not parse: the reader skips it, and so do stacks here.
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

/// One `packed_stack` line: `(id, base id or 0, shared, frames)`.
type PackedStackLine = (u32, u32, u32, Vec<u64>);

/// A packed stacks record as `packed_stack` lines, defining its stacks
/// in `stacks` as the reader does; `None` (print it raw) when a stack cannot be read.
fn packed_stack_lines(
    packed: &[crate::meta::PackedStack],
    stacks: &mut HashMap<u32, Vec<u64>>,
) -> Option<Vec<PackedStackLine>> {
    let mut lines = Vec::with_capacity(packed.len());
    let mut whole = true;
    let mut prev = 0u32;
    for p in packed {
        let id = prev.wrapping_add(p.id_delta);
        prev = id;
        // One at a time, so that each line's frames are read before a later stack of the
        // record could define the same id again.
        let one = crate::meta::PackedStack {
            id_delta: id,
            ..p.clone()
        };
        match crate::pack::unpack_stacks(std::slice::from_ref(&one), stacks) {
            Ok(()) => {
                let base = if p.base_back == 0 {
                    0
                } else {
                    id - p.base_back
                };
                lines.push((id, base, p.shared, stacks[&id].clone()));
            }
            Err(_) => whole = false,
        }
    }
    whole.then_some(lines)
}

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

/// A task dump as `#` comment lines (the parser skips them): each task's await trace,
/// outermost frame first down to the leaf future, as the viewer shows it.
fn print_task_dump_comment(text: &mut String, d: &crate::TaskDump) {
    let _ = write!(
        text,
        "# task_dump runtime={} tasks={} wait_ns={}",
        d.runtime,
        d.tasks.len(),
        d.wait_ns
    );
    if !d.error.is_empty() {
        let _ = write!(text, " error={:?}", d.error);
    }
    text.push('\n');
    for t in &d.tasks {
        let _ = writeln!(text, "#   tokio task {}", t.tokio_id);
        for bt in &t.backtraces {
            for (i, f) in bt.iter().rev().enumerate() {
                let arrow = if i == 0 { "╼" } else { "└╼" };
                let _ = write!(text, "#     {arrow} {}", d.string(f.function));
                if f.file != crate::SymbolFrame::NO_FILE {
                    let _ = write!(text, " at {}:{}", d.string(f.file), f.line);
                }
                text.push('\n');
            }
        }
    }
}
