//! Opening trace files: checks that a path names a regular file (so a directory, a FIFO or a
//! device gets a clear message instead of an mmap error or a hang), maps and indexes it with
//! [`trace_format::Trace::open`], and validates it. Every command (`check`, `report`, `mmu`,
//! `export`) and the window share one validation, so whatever damage `check` finds, the others
//! find too: a frame that fails its checks, or a chunk that does not decode or disagrees with
//! its header, and the file is read as the whole frames before the first damage (in file
//! order), the error kept with it. Two ways to get there:
//!
//! - [`open_salvaging`] (`check`) validates every chunk in a pass of its own;
//! - [`open_model`] (`report`, `mmu`, `export`, the window) builds the [`Model`] and lets its
//!   decode find the damage, so a valid file is decoded once, not twice.

use std::io;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use trace_format::{ReadError, Trace};

use crate::model::{BuildError, BuildOptions, Model};

/// A trace opened from a file.
#[derive(Debug)]
pub struct TraceFile {
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
pub fn open(path: impl AsRef<Path>) -> Result<TraceFile, ReadError> {
    let path = path.as_ref();
    let file_size = regular_file_len(path)?;
    let trace = Trace::open(path)?;
    Ok(TraceFile {
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
/// in [`TraceFile::salvaged_from`]. Errors that leave nothing readable are returned as they are.
///
/// This costs a decode of every event; readers that build a [`Model`] anyway use
/// [`open_model`], which finds the same damage while decoding.
pub fn open_salvaging(path: impl AsRef<Path>) -> Result<TraceFile, ReadError> {
    let loaded = open_frames(path.as_ref())?;
    match first_damaged_chunk(&loaded.trace) {
        None => Ok(loaded),
        // The chunks before it were validated: the prefix needs no second pass.
        Some((frame_offset, err)) => salvage_before(loaded, frame_offset, err),
    }
}

/// Opens the trace at `path` and decodes it into a [`Model`] (with `options`' progress and
/// cancel), salvaging exactly what [`open_salvaging`] salvages — the same prefix, the same
/// error in [`TraceFile::salvaged_from`] — without a separate validation pass: the model's decode
/// checks every chunk against its header itself. A valid file is decoded once; a file with a
/// damaged chunk is decoded again up to that chunk's frame.
///
/// ```
/// use trace_format::{Event, TaskId, build::TraceBuilder};
/// let mut b = TraceBuilder::new();
/// b.push(0, 100, Event::PollStart { task: TaskId(7) });
/// b.push(0, 250, Event::PollEnd { ready: true });
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("t.rtt");
/// std::fs::write(&path, b.to_bytes())?;
/// let (loaded, model) = trace_analysis::open::open_model(&path, Default::default())?;
/// assert!(loaded.salvaged_from.is_none());
/// assert_eq!(model.polls.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn open_model(
    path: impl AsRef<Path>,
    options: BuildOptions<'_>,
) -> Result<(TraceFile, Model), BuildError> {
    let mut loaded = open_frames(path.as_ref())?;
    loop {
        match Model::build_with(&loaded.trace, options) {
            Ok(model) => return Ok((loaded, model)),
            // Each thread stops at its first damaged chunk (in sequence order), so damage
            // earlier in the file may not have been seen yet: decode the prefix again until
            // it decodes. Each round cuts the trace shorter, so this ends; an undamaged
            // prefix is exactly what `first_damaged_chunk` would have found.
            Err(BuildError::Damaged {
                frame_offset,
                error,
            }) => loaded = salvage_before(loaded, frame_offset, error)?,
            Err(e) => return Err(e),
        }
    }
}

/// [`open`], except that a frame that fails its checks leaves the trace of the whole frames
/// before it, with the error in [`TraceFile::salvaged_from`].
fn open_frames(path: &Path) -> Result<TraceFile, ReadError> {
    let file_size = regular_file_len(path)?;
    let (trace, salvaged_from) = match Trace::open(path) {
        Ok(trace) => (trace, None),
        Err(err @ ReadError::Corrupt { offset, .. }) => match Trace::open_prefix(path, offset) {
            Ok(trace) => (trace, Some(err)),
            Err(_) => return Err(err),
        },
        Err(err) => return Err(err),
    };
    Ok(TraceFile {
        path: path.to_path_buf(),
        file_size,
        trace,
        salvaged_from,
    })
}

/// `loaded` cut to the whole frames before the one at `frame_offset`, damaged by `err`, which
/// replaces any earlier salvage error (it is damage earlier in the file). When nothing before
/// it is readable, `err` itself.
fn salvage_before(
    loaded: TraceFile,
    frame_offset: u64,
    err: ReadError,
) -> Result<TraceFile, ReadError> {
    // Unmap before mapping again.
    drop(loaded.trace);
    match Trace::open_prefix(&loaded.path, frame_offset) {
        Ok(trace) => Ok(TraceFile {
            trace,
            salvaged_from: Some(err),
            ..loaded
        }),
        Err(_) => Err(err),
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
        miscount(&mut bytes, &c);
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

    /// Makes chunk `c` of `bytes` declare one event more than it holds, and reseals its frame
    /// (damage that only decoding finds).
    fn miscount(bytes: &mut [u8], c: &trace_format::ChunkInfo) {
        let count_at = c.offset as usize + trace_format::frame::FRAME_HEADER_LEN + 24;
        bytes[count_at] += 1;
        let frame_end = (c.events_offset + u64::from(c.events_len)) as usize;
        let crc = crc32fast::hash(&bytes[c.offset as usize + 16..frame_end]);
        let h = trace_format::frame::frame_header(
            trace_format::frame::kind::EVENTS,
            (frame_end - c.offset as usize - 16) as u32,
            crc,
        );
        bytes[c.offset as usize..c.offset as usize + 16].copy_from_slice(&h);
    }

    /// Two threads' chunks, thread 1's before thread 2's in the file.
    fn two_threads() -> Vec<u8> {
        let mut b = TraceBuilder::new();
        b.chunk_capacity = 64;
        for thread in [1, 2] {
            for i in 0..100u64 {
                b.push(thread, i * 10, Event::PollStart { task: TaskId(1) });
                b.push(thread, i * 10 + 5, Event::PollEnd { ready: false });
            }
        }
        b.to_bytes()
    }

    /// `open_model` (no validation pass: the model's decode finds the damage) salvages the
    /// same prefix with the same error as `open_salvaging`, for damage of every kind, and
    /// both stop at the first damage in the file.
    #[test]
    fn open_model_salvages_what_open_salvaging_does() {
        let clean = two_threads();
        let chunks = Trace::from_bytes(clean.clone()).unwrap().chunks().to_vec();
        let (first, last) = (&chunks[0], &chunks[chunks.len() - 1]);
        let early = &chunks[chunks.len() / 4]; // thread 1
        let late = &chunks[chunks.len() * 3 / 4]; // thread 2
        let flip = |bytes: &mut Vec<u8>, at: usize| bytes[at] ^= 0xFF;
        type Damage<'a> = Box<dyn Fn(&mut Vec<u8>) + 'a>;
        // (what to damage, where the readable prefix must end)
        let cases: Vec<(&str, Damage, Option<u64>)> = vec![
            ("nothing", Box::new(|_| {}), None),
            (
                "a frame",
                Box::new(|b| flip(b, late.events_offset as usize + 1)),
                Some(late.offset),
            ),
            (
                "a count",
                Box::new(|b| miscount(b, late)),
                Some(late.offset),
            ),
            (
                "the first chunk",
                Box::new(|b| miscount(b, first)),
                Some(first.offset),
            ),
            (
                "the last chunk",
                Box::new(|b| miscount(b, last)),
                Some(last.offset),
            ),
            (
                // Each thread stops at its own damage: the earlier one is reported.
                "a count in each thread",
                Box::new(|b| {
                    miscount(b, late);
                    miscount(b, early);
                }),
                Some(early.offset),
            ),
            (
                // The frame damage cuts the file; the chunk before it must still be found.
                "a count, then a frame",
                Box::new(|b| {
                    miscount(b, early);
                    flip(b, late.events_offset as usize + 1);
                }),
                Some(early.offset),
            ),
        ];
        let dir = tempfile::tempdir().unwrap();
        for (what, damage, cut_at) in cases {
            let path = dir.path().join("x.rtt");
            let mut bytes = clean.clone();
            damage(&mut bytes);
            std::fs::write(&path, &bytes).unwrap();

            let checked = open_salvaging(&path).unwrap();
            let (loaded, model) = open_model(&path, BuildOptions::default()).unwrap();
            let error = |l: &TraceFile| l.salvaged_from.as_ref().map(ToString::to_string);
            assert_eq!(error(&loaded), error(&checked), "{what}");
            assert_eq!(
                loaded.trace.valid_len(),
                checked.trace.valid_len(),
                "{what}"
            );
            let cut = cut_at.unwrap_or(bytes.len() as u64);
            assert_eq!(checked.trace.valid_len(), cut, "{what}");
            assert_eq!(loaded.file_size, bytes.len() as u64, "{what}");
            let events = loaded.trace.validate().unwrap();
            assert_eq!(model.events, events, "{what}");
        }
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
