//! `trace-viewer dump FILE [-o OUT]` and `trace-viewer undump TEXT -o FILE`: a trace as text
//! and back ([`trace_format::text`]; the syntax is in trace-format's FORMAT.md, "Text form").
//!
//! `dump` prints one event per line (thread, time, kind, named arguments) with the header,
//! metadata and end record; the reader's warnings (a cut file, lost data) go to stderr.
//! `undump` builds the binary trace back: `dump`, `undump`, `dump` prints the same text twice,
//! and `undump` of a dump gives back the file byte for byte up to its last whole frame.
//! `-` reads standard input or writes standard output.
//!
//! Exit codes: 0 done; 1 the trace cannot be read, or the output cannot be written;
//! 2 usage errors and text `undump` cannot parse (the message names the line).

use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use trace_format::text;

use super::exit::{EXIT_CORRUPT, EXIT_OK, EXIT_USAGE};
use super::paths::same_file;
use trace_analysis::open;

/// Arguments of `trace-viewer dump`.
#[derive(Debug, Args)]
pub struct DumpArgs {
    /// The trace file (`-`: standard input).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Write the text to OUT instead of standard output.
    #[arg(short, long, value_name = "OUT")]
    pub output: Option<PathBuf>,
}

/// Arguments of `trace-viewer undump`.
#[derive(Debug, Args)]
pub struct UndumpArgs {
    /// The text form of a trace, as `dump` prints it (`-`: standard input).
    #[arg(value_name = "TEXT")]
    pub text: PathBuf,
    /// Write the binary trace to FILE (`-`: standard output).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

fn is_stdio(path: &Path) -> bool {
    path.as_os_str() == "-"
}

fn read_input(path: &Path) -> io::Result<Vec<u8>> {
    if is_stdio(path) {
        let mut bytes = Vec::new();
        io::stdin().lock().read_to_end(&mut bytes)?;
        Ok(bytes)
    } else {
        std::fs::read(path)
    }
}

/// Writes `bytes` to `path` (or `out` for `-`); on failure says so on `err`.
fn write_output(
    path: Option<&Path>,
    bytes: &[u8],
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> io::Result<u8> {
    match path.filter(|p| !is_stdio(p)) {
        None => out.write_all(bytes).map(|()| EXIT_OK),
        Some(path) => match std::fs::write(path, bytes) {
            Ok(()) => Ok(EXIT_OK),
            Err(e) => {
                writeln!(err, "error: cannot write {}: {e}", path.display())?;
                Ok(EXIT_CORRUPT)
            }
        },
    }
}

/// Whether `output` would overwrite `input` (then says so on `err`): writing it would
/// destroy what the command reads.
fn output_is_input(input: &Path, output: Option<&Path>, err: &mut dyn Write) -> io::Result<bool> {
    match output.filter(|o| !is_stdio(o) && !is_stdio(input)) {
        Some(o) if same_file(input, o) => {
            writeln!(
                err,
                "error: the output {} is the input {}: writing it would destroy the input; \
                 choose another output path",
                o.display(),
                input.display()
            )?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Runs `dump`; returns the exit code.
pub fn run_dump(args: &DumpArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<u8> {
    if output_is_input(&args.file, args.output.as_deref(), err)? {
        return Ok(EXIT_USAGE);
    }
    // Open through `load` first for its messages (missing file, a directory, not a trace).
    if !is_stdio(&args.file)
        && let Err(e) = open::open(&args.file)
    {
        writeln!(err, "error: {e}")?;
        return Ok(EXIT_CORRUPT);
    }
    let bytes = match read_input(&args.file) {
        Ok(b) => b,
        Err(e) => {
            writeln!(err, "error: cannot read {}: {e}", args.file.display())?;
            return Ok(EXIT_CORRUPT);
        }
    };
    // The text is several times the size of the trace (9x for the quickstart): streamed.
    let result = match args.output.as_deref().filter(|p| !is_stdio(p)) {
        None => text::dump(&bytes, out),
        Some(path) => match std::fs::File::create(path) {
            Ok(file) => {
                let mut file = io::BufWriter::new(file);
                text::dump(&bytes, &mut file).and_then(|w| Ok(file.flush().map(|()| w)?))
            }
            Err(e) => {
                writeln!(err, "error: cannot write {}: {e}", path.display())?;
                return Ok(EXIT_CORRUPT);
            }
        },
    };
    match result {
        Ok(warnings) => {
            for w in warnings {
                writeln!(err, "warning: {w}")?;
            }
            Ok(EXIT_OK)
        }
        // Standard output's errors (a closed pipe) are the caller's to report.
        Err(text::DumpError::Io(e)) if args.output.as_deref().is_none_or(is_stdio) => Err(e),
        Err(e) => {
            if let Some(path) = args.output.as_deref().filter(|p| !is_stdio(p)) {
                // Not a partial text that looks complete.
                let _ = std::fs::remove_file(path);
            }
            writeln!(err, "error: {e}")?;
            Ok(EXIT_CORRUPT)
        }
    }
}

/// Runs `undump`; returns the exit code.
pub fn run_undump(args: &UndumpArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<u8> {
    if output_is_input(&args.text, Some(&args.output), err)? {
        return Ok(EXIT_USAGE);
    }
    let name = args.text.display();
    let input = match read_input(&args.text) {
        Ok(b) => b,
        Err(e) => {
            writeln!(err, "error: cannot read {name}: {e}")?;
            return Ok(EXIT_CORRUPT);
        }
    };
    let Ok(textual) = std::str::from_utf8(&input) else {
        writeln!(err, "error: {name} is not UTF-8 text")?;
        return Ok(EXIT_USAGE);
    };
    match text::undump(textual) {
        Ok(bytes) => write_output(Some(&args.output), &bytes, out, err),
        Err(e) => {
            writeln!(err, "error: {name}:{}: {}", e.line, e.message)?;
            Ok(EXIT_USAGE)
        }
    }
}
