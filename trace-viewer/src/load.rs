//! Opening trace files: checks that a path names a regular file (so a directory, a FIFO or a
//! device gets a clear message instead of an mmap error or a hang), maps and indexes it with
//! [`trace_format::Trace::open`], and validates it: [`open_salvaging`] is the one validation
//! every command (`check`, `report`, `mmu`, `export`) and the window share, so whatever
//! damage `check` finds, the others find too. For readers that want to show whatever they
//! can, it salvages the readable prefix of a file whose later bytes are damaged.

use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
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

/// Opens the trace at `path` like [`open`], then validates every chunk (decodes it and checks
/// it against its header, in parallel). When the file is damaged part-way — a frame that
/// fails its checks, or a chunk that does not decode or disagrees with its header — returns
/// the trace made of the whole frames before the first damage (in file order), with the error
/// in [`Loaded::salvaged_from`]. Errors that leave nothing readable are returned as they are.
pub fn open_salvaging(path: impl AsRef<Path>) -> Result<Loaded, ReadError> {
    let path = path.as_ref();
    let file_size = regular_file_len(path)?;
    let salvage = |err: ReadError, offset: u64| match Trace::open_prefix(path, offset) {
        Ok(trace) => Ok(Loaded {
            path: path.to_path_buf(),
            file_size,
            trace,
            salvaged_from: Some(err),
        }),
        Err(_) => Err(err),
    };
    let trace = match Trace::open(path) {
        Ok(trace) => trace,
        Err(err @ ReadError::Corrupt { offset, .. }) => return salvage(err, offset),
        Err(err) => return Err(err),
    };
    match first_damaged_chunk(&trace) {
        None => Ok(Loaded {
            path: path.to_path_buf(),
            file_size,
            trace,
            salvaged_from: None,
        }),
        Some((frame_offset, err)) => {
            drop(trace);
            salvage(err, frame_offset)
        }
    }
}

/// The first chunk in file order that fails validation: its frame's offset and the error.
fn first_damaged_chunk(trace: &Trace) -> Option<(u64, ReadError)> {
    trace
        .chunks()
        .par_iter()
        .filter_map(|c| trace.validate_chunk(c).err().map(|e| (c.offset, e)))
        .min_by_key(|(offset, _)| *offset)
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

    /// Damage behind valid checksums (a chunk that declares more events than it holds) is
    /// found by the shared validation, and the trace is salvaged before that chunk.
    #[test]
    fn salvage_stops_at_a_chunk_that_disagrees_with_its_header() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.rtt");
        let mut bytes = sample();
        let full = Trace::from_bytes(bytes.clone()).unwrap();
        let c = full.chunks()[full.chunks().len() / 2];
        let count_at = c.offset as usize + trace_format::frame::FRAME_HEADER_LEN + 24;
        bytes[count_at] += 1;
        let frame_end = (c.events_offset + u64::from(c.events_len)) as usize;
        let crc = crc32fast_hash(&bytes[c.offset as usize + 16..frame_end]);
        let h = trace_format::frame::frame_header(
            trace_format::frame::kind::EVENTS,
            (frame_end - c.offset as usize - 16) as u32,
            crc,
        );
        bytes[c.offset as usize..c.offset as usize + 16].copy_from_slice(&h);
        std::fs::write(&path, &bytes).unwrap();

        // The file opens: every frame checks out.
        open(&path).unwrap();
        let loaded = open_salvaging(&path).unwrap();
        let err = loaded.salvaged_from.as_ref().unwrap().to_string();
        assert!(
            err.contains("declares") && err.contains(&c.offset.to_string()),
            "{err}"
        );
        assert_eq!(loaded.trace.valid_len(), c.offset);
        loaded.trace.validate().unwrap();
    }

    /// CRC-32 of `bytes` (the frame checksum), without a dependency for one test.
    fn crc32fast_hash(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 != 0 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
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
