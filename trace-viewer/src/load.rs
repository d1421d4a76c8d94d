//! Opening trace files: checks that a path names a regular file (so a directory, a FIFO or a
//! device gets a clear message instead of an mmap error or a hang), maps and indexes it with
//! [`trace_format::Trace::open`], and, for readers that want to show whatever they can,
//! salvages the readable prefix of a file whose later bytes are damaged.

use std::io::{self, Read};
use std::path::{Path, PathBuf};

use trace_format::{ReadError, Trace};

/// A trace opened from a file.
#[derive(Debug)]
pub struct Loaded {
    /// The path it was opened from.
    pub path: PathBuf,
    /// The file's size in bytes (including any cut-off or damaged tail).
    pub file_size: u64,
    /// The opened trace.
    pub trace: Trace,
    /// Set by [`open_salvaging`] when the file is corrupt: the error that stopped the reader,
    /// while [`Self::trace`] holds only the whole frames before the damage.
    pub salvaged_from: Option<ReadError>,
}

/// Opens the trace at `path`. Fails, with a message that names the problem, for a missing or
/// unreadable path, a directory or other non-regular file, and anything
/// [`Trace::open`] rejects.
pub fn open(path: impl AsRef<Path>) -> Result<Loaded, ReadError> {
    let path = path.as_ref();
    let file_size = regular_file_len(path)?;
    let trace = Trace::open(path)?;
    Ok(Loaded {
        path: path.to_path_buf(),
        file_size,
        trace,
        salvaged_from: None,
    })
}

/// Like [`open`], but when the file is corrupt part-way (a damaged frame after a readable
/// header) returns the trace made of the whole frames before the damage, with the error in
/// [`Loaded::salvaged_from`]. Errors that leave nothing readable are returned as they are.
pub fn open_salvaging(path: impl AsRef<Path>) -> Result<Loaded, ReadError> {
    let path = path.as_ref();
    match open(path) {
        Err(err @ ReadError::Corrupt { offset, .. }) => match read_prefix(path, offset) {
            Some(bytes) => match Trace::from_bytes(bytes) {
                Ok(trace) => Ok(Loaded {
                    path: path.to_path_buf(),
                    file_size: regular_file_len(path).unwrap_or(offset),
                    trace,
                    salvaged_from: Some(err),
                }),
                Err(_) => Err(err),
            },
            None => Err(err),
        },
        other => other,
    }
}

/// The first `len` bytes of the file, or `None` if they cannot be read.
fn read_prefix(path: &Path, len: u64) -> Option<Vec<u8>> {
    let file = std::fs::File::open(path).ok()?;
    let mut bytes = Vec::new();
    file.take(len).read_to_end(&mut bytes).ok()?;
    (bytes.len() as u64 == len).then_some(bytes)
}

/// The length of the regular file at `path`, or an error saying why it is not one.
fn regular_file_len(path: &Path) -> Result<u64, ReadError> {
    let io_err = |source| ReadError::Io {
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if meta.is_dir() {
        return Err(io_err(io::Error::new(
            io::ErrorKind::IsADirectory,
            "it is a directory, not a trace file",
        )));
    }
    if !meta.is_file() {
        return Err(io_err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file (a device, pipe or socket cannot be read as a trace)",
        )));
    }
    Ok(meta.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use trace_format::build::TraceBuilder;
    use trace_format::{Event, TaskId};

    fn sample() -> Vec<u8> {
        let mut b = TraceBuilder::new();
        b.chunk_capacity = 64;
        for i in 0..100u64 {
            b.push(1, i * 10, Event::PollStart { task: TaskId(1) });
            b.push(1, i * 10 + 5, Event::PollEnd { ready: false });
        }
        b.to_bytes()
    }

    #[test]
    fn missing_file_names_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.rtt");
        let err = open(&path).unwrap_err().to_string();
        assert!(err.contains("nope.rtt"), "{err}");
    }

    #[test]
    fn directory_is_refused_clearly() {
        let dir = tempfile::tempdir().unwrap();
        let err = open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("directory"), "{err}");
    }

    #[test]
    fn salvage_keeps_the_frames_before_the_damage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.rtt");
        let mut bytes = sample();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0xFF;
        std::fs::write(&path, &bytes).unwrap();

        let err = open(&path).unwrap_err();
        assert!(matches!(err, ReadError::Corrupt { .. }), "{err}");

        let loaded = open_salvaging(&path).unwrap();
        let Some(ReadError::Corrupt { offset, .. }) = loaded.salvaged_from else {
            panic!("expected a salvaged corrupt trace");
        };
        assert_eq!(loaded.trace.valid_len(), offset);
        assert_eq!(loaded.file_size, bytes.len() as u64);
        assert!(!loaded.trace.chunks().is_empty());
        loaded.trace.validate().unwrap();
    }

    #[test]
    fn salvage_does_not_invent_a_trace_from_a_damaged_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.rtt");
        let mut bytes = sample();
        bytes[20] ^= 0xFF; // inside the header frame
        std::fs::write(&path, &bytes).unwrap();
        assert!(open_salvaging(&path).is_err());
    }
}
