//! `trace-viewer symbolize FILE --binary PATH [-o OUT] [--force]`: names the code in a trace
//! recorded from a stripped binary, using the unstripped build of the same binary.
//!
//! The recording kept the process's executable mappings with their ELF build ids
//! ([`trace_format::MappingDef`]). Each stack address inside a mapping of the file whose build
//! id is the binary's is turned into a file offset (`addr - start + file_offset`), which
//! blazesym maps to the ELF virtual address through the binary's program headers and
//! resolves (DWARF lines, inlined functions, demangled names). Return addresses (every frame
//! of a stack but the first) are looked up one byte before, so the call's line is named.
//!
//! The output is the input with one more `Meta::PackedSymbols` record inserted before the END
//! frame (END must stay last; a later symbols record overrides an earlier one for the same
//! address). Every other byte is copied unchanged. `OUT` defaults to `FILE` with `.sym.rtt`
//! in place of its extension and is never the input.
//!
//! Exit codes: 0 written; 1 the trace cannot be read, is corrupt, or holds no mappings, or
//! `OUT` cannot be written; 2 usage errors: the binary cannot be read, its build id matches no
//! recorded mapping (unless `--force`, which then matches mappings by file name), or `OUT`
//! is the input trace.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Args;

use super::exit::{EXIT_CORRUPT, EXIT_OK, EXIT_USAGE};
use super::paths::same_file;
use trace_format::frame::{self, FRAME_HEADER_LEN, PREAMBLE_LEN, kind};
use trace_format::{Header, MappingDef, Meta, Symbols, Trace, TraceWriter};

/// Arguments of `trace-viewer symbolize`.
#[derive(Debug, Args)]
pub struct SymbolizeArgs {
    /// The trace file (recorded from a stripped binary).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The unstripped build of the binary that was recorded (same build id).
    #[arg(long, value_name = "PATH")]
    pub binary: PathBuf,
    /// Where to write the symbolized trace (default: FILE with `.sym.rtt` as extension).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: Option<PathBuf>,
    /// Use the binary even though its build id matches no recorded mapping: mappings of a
    /// file with the binary's file name are used instead. Names may then be wrong.
    #[arg(long)]
    pub force: bool,
}

/// The default output path: `x.rtt` → `x.sym.rtt`.
pub fn default_output(file: &Path) -> PathBuf {
    file.with_extension("sym.rtt")
}

/// Runs `symbolize`; returns the exit code.
pub fn run(args: &SymbolizeArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<u8> {
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| default_output(&args.file));
    if same_file(&args.file, &output) {
        writeln!(
            err,
            "error: the output {} is the input trace {}: the trace is never overwritten; \
             choose another output file",
            output.display(),
            args.file.display()
        )?;
        return Ok(EXIT_USAGE);
    }
    let build_id = match binary_build_id(&args.binary) {
        Ok(id) => id,
        Err(e) => {
            writeln!(
                err,
                "error: cannot read the binary {}: {e}",
                args.binary.display()
            )?;
            return Ok(EXIT_USAGE);
        }
    };
    let trace = match Trace::open(&args.file) {
        Ok(t) => t,
        Err(e) => {
            writeln!(err, "error: {}: {e}", args.file.display())?;
            return Ok(EXIT_CORRUPT);
        }
    };
    let code = trace.code();
    if code.mappings().is_empty() {
        writeln!(
            err,
            "error: {} records no mappings (it was recorded without stacks, or by a recorder \
             that did not keep them): nothing says where the binary was loaded",
            args.file.display()
        )?;
        return Ok(EXIT_CORRUPT);
    }
    let chosen = match choose_mappings(code.mappings(), &args.binary, &build_id, args.force) {
        Ok(m) => m,
        Err(msg) => {
            writeln!(err, "error: {msg}")?;
            return Ok(EXIT_USAGE);
        }
    };

    // Distinct addresses; an address that is ever a stack's first frame is an interrupted
    // instruction, looked up as it is; any other one is a return address.
    let mut addrs: HashMap<u64, bool> = HashMap::new();
    for (_, frames) in code.stacks() {
        for (i, &a) in frames.iter().enumerate() {
            let is_return = i > 0;
            addrs
                .entry(a)
                .and_modify(|r| *r &= is_return)
                .or_insert(is_return);
        }
    }
    let mut inside: Vec<(u64, u64)> = addrs
        .iter()
        .filter_map(|(&a, &is_return)| {
            let m = chosen.iter().find(|m| (m.start..m.end).contains(&a))?;
            let offset = a - m.start + m.file_offset;
            Some((a, offset.saturating_sub(u64::from(is_return))))
        })
        .collect();
    inside.sort_unstable();
    let symbols = match resolve(&args.binary, &inside) {
        Ok(s) => s,
        Err(e) => {
            writeln!(
                err,
                "error: cannot symbolize with {}: {e}",
                args.binary.display()
            )?;
            return Ok(EXIT_USAGE);
        }
    };
    let resolved = symbols.addrs.len();
    drop(trace);

    let bytes = match std::fs::read(&args.file) {
        Ok(b) => b,
        Err(e) => {
            writeln!(err, "error: cannot read {}: {e}", args.file.display())?;
            return Ok(EXIT_CORRUPT);
        }
    };
    let (keep, tail) = match split_before_end(&bytes) {
        Ok(split) => split,
        Err(msg) => {
            writeln!(err, "error: {}: {msg}", args.file.display())?;
            return Ok(EXIT_CORRUPT);
        }
    };
    if keep.len() + tail.len() < bytes.len() {
        writeln!(
            err,
            "warning: {} ends inside a frame (the recording was cut); the {} bytes of that \
             partial frame are not copied",
            args.file.display(),
            bytes.len() - keep.len() - tail.len()
        )?;
    }
    // Packed, as recorders write them: names and paths compressed, addresses delta-coded.
    let packed = Meta::PackedSymbols(trace_format::pack::pack_symbols(&symbols));
    let written = write_output(&output, keep, &meta_frame(&packed)?, tail);
    if let Err(e) = written {
        let _ = std::fs::remove_file(&output);
        writeln!(err, "error: cannot write {}: {e}", output.display())?;
        return Ok(EXIT_CORRUPT);
    }
    writeln!(
        out,
        "resolved {resolved} of {} addresses in {} ({} of {} distinct addresses lie in it); \
         wrote {}",
        inside.len(),
        args.binary.display(),
        inside.len(),
        addrs.len(),
        output.display()
    )?;
    if resolved == 0 && !inside.is_empty() {
        writeln!(
            err,
            "warning: no address resolved: is {} the unstripped build (with debug info)?",
            args.binary.display()
        )?;
    }
    Ok(EXIT_OK)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The recorded mappings of the binary: those with its build id, or with `force`, those
/// whose file has its file name.
fn choose_mappings(
    mappings: &[MappingDef],
    binary: &Path,
    build_id: &[u8],
    force: bool,
) -> Result<Vec<MappingDef>, String> {
    let by_id: Vec<MappingDef> = mappings
        .iter()
        .filter(|m| !build_id.is_empty() && m.build_id == build_id)
        .cloned()
        .collect();
    if !by_id.is_empty() {
        return Ok(by_id);
    }
    let name = binary.file_name();
    let by_name: Vec<MappingDef> = mappings
        .iter()
        .filter(|m| Path::new(&m.path).file_name() == name)
        .cloned()
        .collect();
    if force && !by_name.is_empty() {
        return Ok(by_name);
    }
    let mut files: Vec<String> = mappings
        .iter()
        .map(|m| {
            let id = if m.build_id.is_empty() {
                "no build id".to_string()
            } else {
                format!("build id {}", hex(&m.build_id))
            };
            format!("  {} ({id})", m.path)
        })
        .collect();
    files.dedup();
    let mine = if build_id.is_empty() {
        "has no build id".to_string()
    } else {
        format!("has build id {}", hex(build_id))
    };
    let hint = if force {
        "and no recorded file has its name either"
    } else if by_name.is_empty() {
        "use the binary that was recorded"
    } else {
        "it is another build of the recorded binary; --force uses it anyway (names may be wrong)"
    };
    Err(format!(
        "{} {mine}, which matches no file the trace recorded: {hint}\nrecorded files:\n{}",
        binary.display(),
        files.join("\n")
    ))
}

/// The bytes before the END frame (all of them when there is none, up to the last complete
/// frame) and the END frame itself (empty when there is none). The trace was read already,
/// so frame headers are trusted to be well formed.
fn split_before_end(bytes: &[u8]) -> Result<(&[u8], &[u8]), String> {
    let mut at = PREAMBLE_LEN;
    while at + FRAME_HEADER_LEN <= bytes.len() {
        let h: &[u8; FRAME_HEADER_LEN] = bytes[at..at + FRAME_HEADER_LEN]
            .try_into()
            .expect("slice of the header's length");
        let h = frame::parse_frame_header(h).map_err(|e| format!("{e} at byte {at}"))?;
        let next = at + FRAME_HEADER_LEN + h.len as usize;
        if next > bytes.len() {
            break;
        }
        if h.kind == kind::END {
            return Ok((&bytes[..at], &bytes[at..next]));
        }
        at = next;
    }
    Ok((&bytes[..at], &[]))
}

/// One META frame holding `meta`: [`TraceWriter`] frames it (header, checksums, postcard);
/// its preamble and header frame, written first, are dropped.
fn meta_frame(meta: &Meta) -> io::Result<Vec<u8>> {
    let header = Header {
        clock: trace_format::ClockInfo::nanoseconds(),
        start_time: 0,
        wall_clock_unix_nanos: 0,
        recorder: String::new(),
        process_id: 0,
        process_name: String::new(),
        chunk_capacity: 0,
        features: Vec::new(),
    };
    let mut w = TraceWriter::new(Vec::new(), &header)?;
    let skip = w.bytes_written() as usize;
    w.write_meta(meta)?;
    let mut bytes = w.into_inner();
    bytes.drain(..skip);
    Ok(bytes)
}

fn write_output(path: &Path, keep: &[u8], meta: &[u8], tail: &[u8]) -> io::Result<()> {
    let mut f = File::create(path)?;
    f.write_all(keep)?;
    f.write_all(meta)?;
    f.write_all(tail)?;
    f.sync_all()
}

#[cfg(target_os = "linux")]
fn binary_build_id(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::metadata(path).map_err(|e| e.to_string())?;
    blazesym::helper::read_elf_build_id(path)
        .map(|id| id.map(|id| id.into_owned()).unwrap_or_default())
        .map_err(|e| format!("not a readable ELF file ({e})"))
}

/// Resolves `(addr, file offset to look up)` pairs in the ELF file at `binary`; the result
/// is keyed by the recorded address.
#[cfg(target_os = "linux")]
fn resolve(binary: &Path, addrs: &[(u64, u64)]) -> Result<Symbols, String> {
    use blazesym::symbolize::source::{Elf, Source};
    use blazesym::symbolize::{Input, Symbolizer};
    if addrs.is_empty() {
        return Ok(Symbols::default());
    }
    let symbolizer = Symbolizer::builder()
        .enable_inlined_fns(true)
        .enable_code_info(true)
        .enable_demangling(true)
        .build();
    let offsets: Vec<u64> = addrs.iter().map(|&(_, o)| o).collect();
    let results = symbolizer
        .symbolize(&Source::Elf(Elf::new(binary)), Input::FileOffset(&offsets))
        .map_err(|e| e.to_string())?;
    let found: Vec<(u64, Vec<Frame>)> = addrs
        .iter()
        .zip(&results)
        .filter_map(|(&(a, _), r)| Some((a, frames(r.as_sym()?))))
        .collect();
    Ok(Symbols::build(found.iter().map(|(a, frames)| {
        (
            *a,
            frames
                .iter()
                .map(|(f, file, line, col)| (f.as_str(), file.as_deref(), *line, *col)),
        )
    })))
}

type Frame = (String, Option<String>, u32, u32);

/// The functions of one blazesym symbol, innermost first (blazesym lists inlined calls
/// outermost first, each with the location inside that function).
#[cfg(target_os = "linux")]
fn frames(sym: &blazesym::symbolize::Sym<'_>) -> Vec<Frame> {
    use blazesym::symbolize::CodeInfo;
    let place = |info: Option<&CodeInfo<'_>>| match info {
        Some(i) => (
            Some(i.to_path().to_string_lossy().into_owned()),
            i.line.unwrap_or(0),
            u32::from(i.column.unwrap_or(0)),
        ),
        None => (None, 0, 0),
    };
    let mut out: Vec<Frame> = sym
        .inlined
        .iter()
        .rev()
        .map(|f| {
            let (file, line, col) = place(f.code_info.as_ref());
            (f.name.to_string(), file, line, col)
        })
        .collect();
    let (file, line, col) = place(sym.code_info.as_deref());
    out.push((sym.name.to_string(), file, line, col));
    out
}

#[cfg(not(target_os = "linux"))]
fn binary_build_id(_path: &Path) -> Result<Vec<u8>, String> {
    Err("symbolize is only supported on Linux".into())
}

#[cfg(not(target_os = "linux"))]
fn resolve(_binary: &Path, _addrs: &[(u64, u64)]) -> Result<Symbols, String> {
    Err("symbolize is only supported on Linux".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use trace_format::build::TraceBuilder;

    #[test]
    fn default_output_replaces_the_extension() {
        assert_eq!(
            default_output(Path::new("d/x.rtt")),
            PathBuf::from("d/x.sym.rtt")
        );
        assert_eq!(default_output(Path::new("x")), PathBuf::from("x.sym.rtt"));
    }

    #[test]
    fn meta_is_inserted_before_end_and_the_trace_reads() {
        let mut b = TraceBuilder::new();
        b.push(1, 10, trace_format::Event::WorkerPark);
        let bytes = b.to_bytes();
        let (keep, tail) = split_before_end(&bytes).unwrap();
        assert!(!tail.is_empty());
        assert_eq!(keep.len() + tail.len(), bytes.len());
        let symbols = Symbols::build([(0x1234u64, vec![("f", Some("a.rs"), 3, 1)])]);
        let mut out = keep.to_vec();
        out.extend(meta_frame(&Meta::Symbols(symbols)).unwrap());
        out.extend(tail);
        let trace = Trace::from_bytes(out).unwrap();
        assert!(trace.end().is_some());
        assert_eq!(trace.code().frames_at(0x1234).next().unwrap().function, "f");

        // Without END (a cut recording) the record goes at the end.
        let cut = b.write(false);
        let (keep, tail) = split_before_end(&cut).unwrap();
        assert_eq!((keep.len(), tail.len()), (cut.len(), 0));
    }
}
