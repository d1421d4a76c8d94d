//! Building a [`Model`] from a [`Trace`]: the entry points, their options, progress and
//! errors.
//!
//! Each thread's chunks are decoded on a core of their own (rayon) into a [`Part`]
//! ([`super::decode`]); the parts are then joined into the model's tables
//! ([`super::assemble`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;
use trace_format::{ChunkInfo, ReadError, ThreadId, Trace};

use super::assemble::assemble;
use super::decode::Part;
use super::tables::Model;

/// How far loading has got, in bytes of event data decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Bytes decoded so far.
    pub done_bytes: u64,
    /// Bytes of event data in the trace.
    pub total_bytes: u64,
}

impl Progress {
    /// Done fraction in `[0, 1]`.
    pub fn fraction(&self) -> f64 {
        if self.total_bytes == 0 {
            1.0
        } else {
            self.done_bytes as f64 / self.total_bytes as f64
        }
    }
}

/// Options for [`Model::build_with`].
#[derive(Default, Clone, Copy)]
pub struct BuildOptions<'a> {
    /// Called (from any loading thread) after each chunk.
    pub progress: Option<&'a (dyn Fn(Progress) + Sync)>,
    /// Checked after each chunk; loading stops with [`BuildError::Canceled`] once it is set.
    pub cancel: Option<&'a AtomicBool>,
}

/// Why a model could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The trace could not be read (see [`crate::open::open_model`]).
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A chunk does not decode, or disagrees with its header: the file is damaged from the
    /// frame at `frame_offset` on. Of several damaged chunks, the first in file order
    /// that was decoded (each thread stops at its first), so a reader can salvage the
    /// prefix before it ([`crate::open::open_model`] does).
    #[error("{error}")]
    Damaged {
        /// File offset of the damaged chunk's frame.
        frame_offset: u64,
        /// What is wrong, as [`Trace::chunk_events`] says it.
        #[source]
        error: ReadError,
    },
    /// [`BuildOptions::cancel`] was set.
    #[error("loading was canceled")]
    Canceled,
}

impl Model {
    /// Decodes every event of `trace` into a model, using all cores.
    ///
    /// ```
    /// use trace_format::{Event, TaskId, build::TraceBuilder};
    /// let mut b = TraceBuilder::new();
    /// b.push(0, 100, Event::PollStart { task: TaskId(7) });
    /// b.push(0, 250, Event::PollEnd { ready: true });
    /// let trace = trace_format::Trace::from_bytes(b.to_bytes())?;
    /// let model = trace_analysis::model::Model::build(&trace)?;
    /// assert_eq!(model.polls.len(), 1);
    /// assert_eq!(model.polls[0].span().len(), 150);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(trace: &Trace) -> Result<Model, BuildError> {
        Self::build_with(trace, BuildOptions::default())
    }

    /// [`Model::build`] with progress reports and cancellation.
    pub fn build_with(trace: &Trace, options: BuildOptions<'_>) -> Result<Model, BuildError> {
        let mut by_thread: BTreeMap<ThreadId, Vec<&ChunkInfo>> = BTreeMap::new();
        for c in trace.chunks() {
            by_thread.entry(c.header.thread).or_default().push(c);
        }
        for chunks in by_thread.values_mut() {
            chunks.sort_by_key(|c| c.header.seq);
        }
        let total_bytes = trace.chunks().iter().map(|c| u64::from(c.events_len)).sum();
        let done = AtomicU64::new(0);
        let tracker = Tracker {
            options,
            done: &done,
            total_bytes,
        };
        let results: Vec<Result<Part, BuildError>> = by_thread
            .into_par_iter()
            .map(|(thread, chunks)| decode_thread(trace, thread, &chunks, &tracker))
            .collect();
        let mut parts = Vec::with_capacity(results.len());
        let mut failed: Option<BuildError> = None;
        for result in results {
            match result {
                Ok(part) => parts.push(part),
                // Every thread is decoded to its end or first damage (no short cut), so the
                // error is the same whichever thread finishes first.
                Err(e) => {
                    failed = Some(match failed {
                        Some(f) => f.first(e),
                        None => e,
                    })
                }
            }
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(assemble(trace, parts)),
        }
    }
}

impl BuildError {
    /// Of two errors from different threads, the one to report: a cancel, else the damage
    /// earlier in the file.
    fn first(self, other: BuildError) -> BuildError {
        match (&self, &other) {
            (
                BuildError::Damaged {
                    frame_offset: a, ..
                },
                BuildError::Damaged {
                    frame_offset: b, ..
                },
            ) if b < a => other,
            (BuildError::Damaged { .. }, BuildError::Canceled) => other,
            _ => self,
        }
    }
}

/// Progress and cancellation, shared by the threads' decoders.
struct Tracker<'a> {
    options: BuildOptions<'a>,
    done: &'a AtomicU64,
    total_bytes: u64,
}

impl Tracker<'_> {
    fn chunk_done(&self, bytes: u64) -> Result<(), BuildError> {
        let done_bytes = self.done.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(progress) = self.options.progress {
            progress(Progress {
                done_bytes,
                total_bytes: self.total_bytes,
            });
        }
        match self.options.cancel {
            Some(c) if c.load(Ordering::Relaxed) => Err(BuildError::Canceled),
            _ => Ok(()),
        }
    }
}

/// Decodes one thread's chunks, in sequence order, to the end or the first damage.
fn decode_thread(
    trace: &Trace,
    thread: ThreadId,
    chunks: &[&ChunkInfo],
    tracker: &Tracker<'_>,
) -> Result<Part, BuildError> {
    let mut part = Part {
        thread,
        ..Part::default()
    };
    let mut expected_seq = None;
    for chunk in chunks {
        let seq = chunk.header.seq;
        if let Some(expected) = expected_seq
            && seq > expected
        {
            let at = trace.to_nanos(chunk.header.base_time);
            part.missing_chunks(at, u64::from(seq - expected));
        }
        expected_seq = Some(seq.wrapping_add(1));
        part.decode_chunk(trace, chunk)
            .map_err(|error| BuildError::Damaged {
                frame_offset: chunk.offset,
                error,
            })?;
        tracker.chunk_done(u64::from(chunk.events_len))?;
    }
    Ok(part)
}
