//! A recording session: configuration, the state shared by recording threads and the writer,
//! starting, and the stop protocol that collects every thread's unfinished chunk.
//!
//! A thread's slot publishes the chunk it is filling. Three parties may take that chunk: the
//! thread itself (to hand it over: `busy`), the stop (`stolen`), and the writer, which
//! briefly marks a quiet thread's chunk `peek` to copy what it holds (see `writer.rs`), so
//! that a thread that records nothing more still gets its events into the file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use crossbeam_queue::SegQueue;
use trace_format::{Header, Meta};

use crate::chunk::{Chunk, ChunkPool, FullChunk};
use crate::clock;
use crate::sink::{FileSink, Sink};
use crate::writer;

/// Non-zero while a session records: the one load every hook pays when not recording.
pub(crate) static EPOCH: AtomicU64 = AtomicU64::new(0);
static NEXT_EPOCH: AtomicU64 = AtomicU64::new(1);
static CURRENT: ArcSwapOption<Shared> = ArcSwapOption::const_empty();
/// Serialises starting and stopping.
static CONTROL: Mutex<()> = Mutex::new(());

pub(crate) fn current() -> Option<Arc<Shared>> {
    CURRENT.load_full()
}

pub(crate) fn set_current(shared: Option<Arc<Shared>>) {
    CURRENT.store(shared);
}

/// Whether a session is recording right now.
pub fn is_recording() -> bool {
    EPOCH.load(Ordering::Relaxed) != 0
}

/// Slot states besides a real chunk pointer (heap pointers are never 1, 2 or 3).
pub(crate) fn busy() -> *mut Chunk {
    std::ptr::without_provenance_mut(1)
}
pub(crate) fn stolen() -> *mut Chunk {
    std::ptr::without_provenance_mut(2)
}
pub(crate) fn peek() -> *mut Chunk {
    std::ptr::without_provenance_mut(3)
}
pub(crate) fn is_chunk(p: *mut Chunk) -> bool {
    !p.is_null() && p != busy() && p != stolen() && p != peek()
}

/// One thread's link with a session: the chunk it is filling, published so that the stop
/// can collect it and the writer can peek at it.
///
/// `current` is null (no chunk), a chunk pointer (the thread may be writing into it),
/// `busy` (the thread is handing its chunk to the writer), `peek` (the writer is copying
/// the chunk's committed events; the thread may go on writing beyond them, or take the
/// chunk back without waiting: `peek` → `busy`), or `stolen` (the session stopped and took
/// the chunk, or will take nothing more).
pub(crate) struct Slot {
    pub(crate) thread: u32,
    pub(crate) current: AtomicPtr<Chunk>,
    /// Sequence number of the chunk in `current` (stored before the chunk is published).
    pub(crate) seq: AtomicU32,
    /// `seq + 1` of the last chunk the writer peeked at and wrote part of (0: none). Such a
    /// chunk must reach the writer whole (its rest is still to be written): its thread never
    /// drops it in place when the pool is empty.
    pub(crate) peeked: AtomicU32,
    /// Set by the thread when it saw the stop while it was `busy`.
    pub(crate) handoff_done: AtomicBool,
    /// The chunk the stop took; its thread may still finish one event in it, so it is freed
    /// only when the slot is dropped (by then the thread has let go of the slot).
    stolen_chunk: AtomicPtr<Chunk>,
}

impl Slot {
    fn new(thread: u32) -> Self {
        Slot {
            thread,
            current: AtomicPtr::new(std::ptr::null_mut()),
            seq: AtomicU32::new(0),
            peeked: AtomicU32::new(0),
            handoff_done: AtomicBool::new(false),
            stolen_chunk: AtomicPtr::new(std::ptr::null_mut()),
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        for p in [*self.current.get_mut(), *self.stolen_chunk.get_mut()] {
            if is_chunk(p) {
                // SAFETY: chunk pointers in a slot come from `Box::into_raw`; the slot is
                // being dropped, so neither its thread nor the writer can use them any more.
                drop(unsafe { Box::from_raw(p) });
            }
        }
    }
}

/// Every slot of the session, in registration order; slots are never removed while the
/// session lives.
#[derive(Default)]
struct Registry {
    slots: Vec<Arc<Slot>>,
    closed: bool,
}

/// State shared by the recording threads, the writer thread and the [`Session`] handle.
pub(crate) struct Shared {
    pub(crate) epoch: u64,
    pub(crate) pool: ChunkPool,
    /// Chunk age (in ticks) after which a thread hands its chunk over even if not full.
    pub(crate) flush_ticks: u64,
    /// The same as a duration: how long the writer lets a quiet thread's chunk sit before
    /// it peeks at it.
    pub(crate) flush_interval: Duration,
    registry: Mutex<Registry>,
    meta: SegQueue<Meta>,
    pub(crate) lost_chunks: AtomicU64,
    pub(crate) lost_events: AtomicU64,
    /// What the writer has written and dropped so far (the stop's summary when the writer
    /// does not finish in time).
    pub(crate) progress: Progress,
    pub(crate) stop: AtomicBool,
    /// How long a stop may take ([`Config::stop_timeout`]).
    pub(crate) stop_timeout: Duration,
    /// When the stop must have returned; set before `stop`.
    pub(crate) stop_deadline: OnceLock<Instant>,
    writer: OnceLock<Thread>,
}

/// The writer's running totals, kept where the stop can read them even when the writer is
/// stuck in its sink. Only the writer stores them.
#[derive(Default)]
pub(crate) struct Progress {
    pub(crate) events: AtomicU64,
    pub(crate) chunks: AtomicU64,
    /// Chunks and events that reached the writer but were not written: after a sink error,
    /// or past the stop's deadline.
    pub(crate) lost_chunks: AtomicU64,
    pub(crate) lost_events: AtomicU64,
}

impl Shared {
    pub(crate) fn push_meta(&self, meta: Meta) {
        self.meta.push(meta);
    }

    pub(crate) fn pop_meta(&self) -> Option<Meta> {
        self.meta.pop()
    }

    /// Queues a full chunk for the writer. The writer finds it on its next round (it drains
    /// every [`crate::writer::WRITE_PERIOD`]); it is woken at once (a futex wake; never
    /// blocks) only when an eighth of the pool is queued. Waking it for every chunk cost a
    /// context switch per chunk, on cores the application keeps busy.
    pub(crate) fn hand_over(&self, full: FullChunk) {
        if self.pool.push_full(full) >= self.pool.count().div_ceil(8)
            && let Some(t) = self.writer.get()
        {
            t.unpark();
        }
    }

    pub(crate) fn count_lost(&self, chunks: u64, events: u64) {
        self.lost_chunks.fetch_add(chunks, Ordering::Relaxed);
        self.lost_events.fetch_add(events, Ordering::Relaxed);
    }

    /// Appends the slots registered after the first `known` to `out` (some of them: the
    /// rest on a later call).
    ///
    /// Nothing is allocated while the registry is locked: the writer thread calls this
    /// outside any record, so with [`crate::TracingAllocator`] installed an allocation here
    /// records an event, and this thread's first event registers it, which takes the same
    /// lock (Miri found the deadlock). Room is made first; slots registered meanwhile wait.
    pub(crate) fn slots_since(&self, known: usize, out: &mut Vec<Arc<Slot>>) {
        let count = self
            .registry
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .slots
            .len();
        out.reserve(count.saturating_sub(known));
        let room = out.capacity() - out.len();
        let reg = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        out.extend(reg.slots.iter().skip(known).take(room).cloned());
    }

    /// Registers a thread; `None` once the session is stopping.
    pub(crate) fn register(&self, thread: u32) -> Option<Arc<Slot>> {
        let mut reg = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        if reg.closed {
            return None;
        }
        let slot = Arc::new(Slot::new(thread));
        reg.slots.push(slot.clone());
        Some(slot)
    }

    /// Stop protocol, on the writer thread after recording was switched off: takes every
    /// thread's current chunk and returns `(slot, chunk, committed length)` for each
    /// non-empty one. A thread busy handing over its chunk is waited for (it never blocks,
    /// so this is short), until `deadline` at the latest.
    pub(crate) fn collect_unfinished(
        &self,
        deadline: Instant,
    ) -> Vec<(Arc<Slot>, *mut Chunk, usize)> {
        let slots = {
            let mut reg = self.registry.lock().unwrap_or_else(|p| p.into_inner());
            reg.closed = true;
            reg.slots.clone()
        };
        let mut out = Vec::new();
        for slot in slots {
            let p = slot.current.swap(stolen(), Ordering::AcqRel);
            // Peeks happen on the writer thread, which is running this.
            debug_assert!(p != peek());
            if p == busy() {
                let deadline = deadline.min(Instant::now() + Duration::from_secs(1));
                while !slot.handoff_done.load(Ordering::Acquire) && Instant::now() < deadline {
                    std::thread::yield_now();
                }
            } else if is_chunk(p) {
                slot.stolen_chunk.store(p, Ordering::Relaxed);
                // SAFETY: `p` is a live chunk: it stays allocated until the slot drops.
                let committed = unsafe { &*p }.committed.load(Ordering::Acquire);
                if committed > 0 {
                    out.push((slot, p, committed));
                }
            }
        }
        out
    }
}

/// How to record. Start with [`Config::default`] and adjust.
///
/// ```no_run
/// let session = trace_rt::Config::default()
///     .buffer_size(64 << 20)
///     .start("trace.rtt")?;
/// session.stop()?;
/// # Ok::<(), trace_rt::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    chunk_size: usize,
    buffer_size: usize,
    flush_interval: Duration,
    stop_timeout: Duration,
    features: Vec<(String, String)>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            chunk_size: 64 * 1024,
            buffer_size: 16 * 1024 * 1024,
            flush_interval: Duration::from_secs(1),
            stop_timeout: Duration::from_secs(1),
            features: Vec::new(),
        }
    }
}

impl Config {
    /// Bytes per chunk, the unit a thread fills and hands to the writer (default 64 KiB,
    /// between 4 KiB and 16 MiB).
    pub fn chunk_size(mut self, bytes: usize) -> Self {
        self.chunk_size = bytes;
        self
    }

    /// Total memory for event chunks (default 16 MiB), allocated and committed when the
    /// session starts (so that no hook takes a page fault on a chunk's first use). When every
    /// chunk is in use and the writer has not caught up, a thread whose chunk is full drops
    /// that chunk's events, counts them, and refills it (a `Lost` event opens it); chunks
    /// already queued for the writer are never dropped.
    pub fn buffer_size(mut self, bytes: usize) -> Self {
        self.buffer_size = bytes;
        self
    }

    /// A thread hands over its chunk once it is this old even if not full, so the file
    /// never lags far behind (default 1 s). A thread that records nothing more does not hand
    /// anything over: the writer then copies what its chunk holds once the chunk has sat
    /// this long, so that everything a thread recorded is in the file within about this
    /// interval plus the writer's flush period (100 ms), even if the process is then killed.
    pub fn flush_interval(mut self, interval: Duration) -> Self {
        self.flush_interval = interval;
        self
    }

    /// How long [`Session::stop`] (or dropping the [`Session`]) may take (default 1 s).
    ///
    /// The writer writes what is still queued for three quarters of it, then drops the rest
    /// (counted as lost, in the summary and the end record) and ends the file; a sink that
    /// is still busy at the deadline is left to finish on its own, and `stop` returns
    /// [`Error::Incomplete`]. So the stop takes at most about this long, even at process exit
    /// with a slow disk or a stalled client.
    ///
    /// ```
    /// use std::time::Duration;
    /// let session = trace_rt::Config::default()
    ///     .stop_timeout(Duration::from_millis(200))
    ///     .start_with_sink(trace_rt::MemorySink::new())?;
    /// session.stop()?;
    /// # Ok::<(), trace_rt::Error>(())
    /// ```
    pub fn stop_timeout(mut self, timeout: Duration) -> Self {
        self.stop_timeout = timeout;
        self
    }

    /// Adds a `(key, value)` to the header's feature list (instrumentation layers use this
    /// to say what they could see).
    pub fn feature(mut self, key: &str, value: &str) -> Self {
        self.features.push((key.into(), value.into()));
        self
    }

    /// Starts recording to the file at `path` (created or truncated now).
    pub fn start(self, path: impl AsRef<Path>) -> Result<Session, Error> {
        let path = path.as_ref();
        let sink = FileSink::create(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut session = self.start_with_sink(sink)?;
        session.path = Some(path.to_path_buf());
        Ok(session)
    }

    /// Starts recording into any [`Sink`].
    pub fn start_with_sink(self, sink: impl Sink) -> Result<Session, Error> {
        if !(4096..=16 << 20).contains(&self.chunk_size) {
            return Err(Error::Config(format!(
                "chunk size must be between 4 KiB and 16 MiB, got {} bytes",
                self.chunk_size
            )));
        }
        if self.buffer_size < 2 * self.chunk_size {
            return Err(Error::Config(format!(
                "buffer size ({} bytes) must hold at least two chunks of {} bytes",
                self.buffer_size, self.chunk_size
            )));
        }
        let _control = CONTROL.lock().unwrap_or_else(|p| p.into_inner());
        if is_recording() {
            return Err(Error::AlreadyRecording);
        }
        let info = clock::info_cached().clone();
        let start_time = clock::now();
        let wall = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let flush_ns = self
            .flush_interval
            .as_nanos()
            .min(u128::from(u64::MAX >> 32)) as u64;
        let flush_ticks = ((u128::from(flush_ns) << 32)
            / u128::from(info.nanos_per_unit_q32.max(1)))
        .min(u128::from(u64::MAX)) as u64;
        let mut features = vec![
            (
                "tokio_unstable".to_string(),
                cfg!(tokio_unstable).to_string(),
            ),
            // Every event reaches the writer within this interval, a quiet thread's too: a
            // reader of a cut recording knows how much of its tail may be missing.
            ("flush_interval_ns".to_string(), flush_ns.to_string()),
        ];
        features.extend(self.features.iter().cloned());
        let header = Header {
            clock: info,
            start_time,
            wall_clock_unix_nanos: wall,
            recorder: concat!("trace-rt ", env!("CARGO_PKG_VERSION")).into(),
            process_id: std::process::id(),
            process_name: std::env::current_exe()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_default(),
            chunk_capacity: self.chunk_size as u32,
            features,
        };
        let epoch = NEXT_EPOCH.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(Shared {
            epoch,
            pool: ChunkPool::new(self.buffer_size / self.chunk_size, self.chunk_size),
            flush_ticks,
            flush_interval: self.flush_interval,
            registry: Mutex::new(Registry::default()),
            meta: SegQueue::new(),
            lost_chunks: AtomicU64::new(0),
            lost_events: AtomicU64::new(0),
            progress: Progress::default(),
            stop: AtomicBool::new(false),
            stop_timeout: self.stop_timeout,
            stop_deadline: OnceLock::new(),
            writer: OnceLock::new(),
        });
        let writer =
            writer::spawn(shared.clone(), Box::new(sink), header).map_err(|source| Error::Io {
                path: PathBuf::from("<writer thread>"),
                source,
            })?;
        let _ = shared.writer.set(writer.0.thread().clone());
        crate::intern::publish_session(&shared);
        EPOCH.store(epoch, Ordering::SeqCst);
        Ok(Session {
            shared,
            writer: Some(writer),
            path: None,
            started: Instant::now(),
        })
    }
}

/// Starts recording to `path` with the default [`Config`].
///
/// ```no_run
/// let session = trace_rt::start("x.rtt")?;
/// // ... run the workload ...
/// let summary = session.stop()?;
/// println!("{summary}");
/// # Ok::<(), trace_rt::Error>(())
/// ```
pub fn start(path: impl AsRef<Path>) -> Result<Session, Error> {
    Config::default().start(path)
}

/// Why recording could not start or finish.
///
/// ```
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let session = trace_rt::Config::default().start_with_sink(trace_rt::MemorySink::new())?;
/// match session.stop() {
///     Ok(summary) => println!("{summary}"),
///     // The trace is incomplete (a full disk, a sink past the stop's deadline), but the
///     // summary still says what was written and what was lost.
///     Err(e @ trace_rt::Error::Incomplete { .. }) => {
///         eprintln!("{e}");
///         let lost = e.summary().map_or(0, |s| s.lost_events);
///         eprintln!("{lost} events lost");
///     }
///     Err(e) => return Err(e.into()),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Another session is recording; only one can at a time.
    #[error("a trace-rt recording is already running in this process")]
    AlreadyRecording,
    /// A configuration value is out of range.
    #[error("invalid trace-rt configuration: {0}")]
    Config(String),
    /// The trace could not be written.
    #[error("cannot write trace {}: {source}", path.display())]
    Io {
        /// The trace file (or what failed).
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The recording ended but its trace is incomplete: writing failed (a full disk: nothing
    /// after the first failed write is written, and the file has no end record), or the sink
    /// had not finished when [`Config::stop_timeout`] ran out. `summary` says what was written
    /// and what was lost; its loss counts include everything dropped after the failure.
    #[error("cannot write trace {}: {source}; {}", path.display(), Counts(summary))]
    Incomplete {
        /// The trace file (or `<sink>`).
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
        /// What was written and lost, as far as the recorder knows.
        summary: Box<Summary>,
    },
}

impl Error {
    /// The recording's summary, when the recording ran and its trace is incomplete
    /// ([`Error::Incomplete`]).
    pub fn summary(&self) -> Option<&Summary> {
        match self {
            Error::Incomplete { summary, .. } => Some(summary),
            _ => None,
        }
    }
}

/// A running recording. [`Session::stop`] finishes it; dropping the handle stops it too
/// (discarding the summary).
#[must_use = "recording stops when the session is dropped"]
pub struct Session {
    shared: Arc<Shared>,
    /// The writer thread and where it sends its outcome.
    writer: Option<(JoinHandle<()>, Receiver<writer::Outcome>)>,
    path: Option<PathBuf>,
    started: Instant,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("path", &self.path)
            .field("epoch", &self.shared.epoch)
            .finish_non_exhaustive()
    }
}

/// What a finished recording wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The trace file, when recording to a file.
    pub path: Option<PathBuf>,
    /// Wall-clock time from start to stop.
    pub duration: Duration,
    /// Events written.
    pub events: u64,
    /// Event chunks written.
    pub chunks: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Chunks dropped: because the writer fell behind, after a write failed, or at the
    /// stop's deadline.
    pub lost_chunks: u64,
    /// Events dropped (in lost chunks, or while a thread had no chunk).
    pub lost_events: u64,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(p) = &self.path {
            write!(f, "{}: ", p.display())?;
        }
        write!(f, "{}", Counts(self))
    }
}

/// A summary's figures without its path (an error names the path already).
struct Counts<'a>(&'a Summary);

impl std::fmt::Display for Counts<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = self.0;
        write!(f, "{} events in {} chunks", s.events, s.chunks)?;
        // No byte count when it is unknown (a sink that failed); no per-event figure without
        // events (the bytes are then the header and end record).
        if s.bytes > 0 {
            write!(f, ", {} bytes", s.bytes)?;
            if s.events > 0 {
                write!(f, " ({:.2} bytes/event)", s.bytes as f64 / s.events as f64)?;
            }
        }
        write!(f, " over {:.3} s", s.duration.as_secs_f64())?;
        if s.lost_events > 0 || s.lost_chunks > 0 {
            write!(
                f,
                "; LOST {} events in {} chunks",
                s.lost_events, s.lost_chunks
            )?;
        }
        Ok(())
    }
}

impl Session {
    /// The trace file, when recording to a file.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Stops recording, writes every thread's unfinished chunk and the end record, and
    /// returns what was written.
    ///
    /// It returns within [`Config::stop_timeout`] (default 1 s): what could not be written by
    /// then is dropped and counted. [`Error::Incomplete`] (with the summary) when a write
    /// failed or the sink did not finish in time.
    pub fn stop(mut self) -> Result<Summary, Error> {
        self.finish()
    }

    fn finish(&mut self) -> Result<Summary, Error> {
        let Some((writer, outcome)) = self.writer.take() else {
            return Err(Error::Config("session already stopped".into()));
        };
        let deadline = Instant::now() + self.shared.stop_timeout;
        let _ = self.shared.stop_deadline.set(deadline);
        {
            let _control = CONTROL.lock().unwrap_or_else(|p| p.into_inner());
            set_current(None);
            EPOCH.store(0, Ordering::SeqCst);
        }
        self.shared.stop.store(true, Ordering::Release);
        writer.thread().unpark();
        let path = || self.path.clone().unwrap_or_else(|| PathBuf::from("<sink>"));
        let left = deadline.saturating_duration_since(Instant::now());
        let outcome = match outcome.recv_timeout(left) {
            Ok(outcome) => {
                // It has sent its last word: joining is immediate.
                let _ = writer.join();
                outcome
            }
            Err(RecvTimeoutError::Timeout) => {
                // The sink is still busy (hung, or far slower than the deadline allows): leave
                // the writer thread to it, and say what is known.
                return Err(Error::Incomplete {
                    path: path(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        format!(
                            "the trace sink did not finish within the stop timeout ({:?}), \
                             so the trace may have no end record",
                            self.shared.stop_timeout
                        ),
                    ),
                    summary: Box::new(self.summary_so_far()),
                });
            }
            Err(RecvTimeoutError::Disconnected) => {
                let _ = writer.join();
                return Err(Error::Incomplete {
                    path: path(),
                    source: std::io::Error::other("trace writer thread panicked"),
                    summary: Box::new(self.summary_so_far()),
                });
            }
        };
        let summary = Summary {
            path: self.path.clone(),
            duration: self.started.elapsed(),
            events: outcome.events,
            chunks: outcome.chunks,
            bytes: outcome.bytes,
            lost_chunks: outcome.lost_chunks,
            lost_events: outcome.lost_events,
        };
        match outcome.error {
            Some(source) => Err(Error::Incomplete {
                path: path(),
                source,
                summary: Box::new(summary),
            }),
            None => Ok(summary),
        }
    }

    /// The summary from the writer's running totals (when it has not finished): every loss
    /// counted so far; chunks still queued or held by threads are in neither count.
    fn summary_so_far(&self) -> Summary {
        let s = &self.shared;
        let p = &s.progress;
        Summary {
            path: self.path.clone(),
            duration: self.started.elapsed(),
            events: p.events.load(Ordering::Relaxed),
            chunks: p.chunks.load(Ordering::Relaxed),
            bytes: 0,
            lost_chunks: s.lost_chunks.load(Ordering::Relaxed)
                + p.lost_chunks.load(Ordering::Relaxed),
            lost_events: s.lost_events.load(Ordering::Relaxed)
                + p.lost_events.load(Ordering::Relaxed),
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = self.finish();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(events: u64, bytes: u64) -> Summary {
        Summary {
            path: None,
            duration: Duration::from_millis(5),
            events,
            chunks: events.div_ceil(1000),
            bytes,
            lost_chunks: 0,
            lost_events: 0,
        }
    }

    /// An empty recording (an idle flight recorder's dump) has no per-event size: the bytes
    /// are the header and end record alone, so "121.00 bytes/event" was a made-up figure.
    #[test]
    fn an_empty_recording_has_no_bytes_per_event_figure() {
        let empty = summary(0, 121).to_string();
        assert!(!empty.contains("/event"), "{empty}");
        assert!(
            empty.contains("0 events") && empty.contains("121 bytes"),
            "{empty}"
        );
        let some = summary(4, 121).to_string();
        assert!(some.contains("30.25 bytes/event"), "{some}");
    }
}
