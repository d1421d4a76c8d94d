//! A recording session: its configuration ([`Config`]), starting one (the header, the
//! writer thread, switching recording on), the [`Session`] handle that stops it, and what a
//! stop returns ([`Summary`], [`Error`]). The state the session shares with recording
//! threads and the writer, and the process-wide switch, live in `shared`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use trace_format::Header;

use crate::chunk::ChunkPool;
use crate::clock;
use crate::shared::{EPOCH, Shared, is_recording, set_current};
use crate::sink::{FileSink, Sink};
use crate::writer;

static NEXT_EPOCH: AtomicU64 = AtomicU64::new(1);
/// Serialises starting and stopping.
static CONTROL: Mutex<()> = Mutex::new(());

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
    /// Stack table size (distinct stacks, frames); `None`: no stacks.
    stacks: Option<(usize, usize)>,
    stall_threshold: Duration,
    cpu_sample_hz: u32,
    force_timer_sampling: bool,
    task_dump_timeout: Duration,
}

/// Default [`Config::task_dump_timeout`].
pub const DEFAULT_TASK_DUMP_TIMEOUT: Duration = Duration::from_secs(2);

/// Default [`Config::cpu_sample_hz`].
pub const DEFAULT_CPU_SAMPLE_HZ: u32 = 99;

/// `TRACE_RT_CPU_HZ`: CPU samples per second (0: off), if set and valid.
fn env_cpu_hz() -> Option<u32> {
    let v = std::env::var("TRACE_RT_CPU_HZ").ok()?;
    match v.trim().parse::<u32>() {
        Ok(hz) if hz <= 10_000 => Some(hz),
        _ => {
            eprintln!("trace-rt: ignoring TRACE_RT_CPU_HZ={v:?} (not a rate from 0 to 10000)");
            None
        }
    }
}

/// Default [`Config::stall_threshold`].
pub const DEFAULT_STALL_THRESHOLD: Duration = Duration::from_millis(5);

/// `TRACE_RT_STALL_MS`: the stall threshold in milliseconds (0: off), if set and valid.
fn env_stall_threshold() -> Option<Duration> {
    let v = std::env::var("TRACE_RT_STALL_MS").ok()?;
    match v.trim().parse::<f64>() {
        Ok(ms) if ms.is_finite() && ms >= 0.0 => Some(Duration::from_secs_f64(ms / 1000.0)),
        _ => {
            eprintln!("trace-rt: ignoring TRACE_RT_STALL_MS={v:?} (not a number of milliseconds)");
            None
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            chunk_size: 64 * 1024,
            buffer_size: 16 * 1024 * 1024,
            flush_interval: Duration::from_secs(1),
            stop_timeout: Duration::from_secs(1),
            features: Vec::new(),
            stacks: Some((crate::stacks::DEFAULT_STACKS, crate::stacks::DEFAULT_FRAMES)),
            stall_threshold: env_stall_threshold().unwrap_or(DEFAULT_STALL_THRESHOLD),
            cpu_sample_hz: env_cpu_hz().unwrap_or(DEFAULT_CPU_SAMPLE_HZ),
            force_timer_sampling: std::env::var("TRACE_RT_CPU_SAMPLING")
                .is_ok_and(|v| v == "timer"),
            task_dump_timeout: DEFAULT_TASK_DUMP_TIMEOUT,
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

    /// How long the stop waits for the task dumps of the instrumented runtimes, all
    /// together, naming their code included (default 2 s; zero: no task dumps). Only a
    /// recorder built with `--cfg tokio_taskdump` takes them (see the crate docs, "Task
    /// dumps"); a dump that does not finish in time is recorded as timed out. This wait
    /// comes before, and beside, [`Config::stop_timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// let session = trace_rt::Config::default()
    ///     .task_dump_timeout(Duration::from_millis(500))
    ///     .start_with_sink(trace_rt::MemorySink::new())?;
    /// session.stop()?;
    /// # Ok::<(), trace_rt::Error>(())
    /// ```
    pub fn task_dump_timeout(mut self, timeout: Duration) -> Self {
        self.task_dump_timeout = timeout;
        self
    }

    /// Whether events carry call stacks (default on): sampled allocations are then written
    /// as `AllocSampleAt` with the allocating code's stack. Stacks are walked by frame
    /// pointers, so build with `-C force-frame-pointers=yes` (see the crate docs).
    ///
    /// ```
    /// let session = trace_rt::Config::default()
    ///     .stacks(false)
    ///     .start_with_sink(trace_rt::MemorySink::new())?;
    /// session.stop()?;
    /// # Ok::<(), trace_rt::Error>(())
    /// ```
    pub fn stacks(mut self, on: bool) -> Self {
        self.stacks = on.then(|| {
            self.stacks
                .unwrap_or((crate::stacks::DEFAULT_STACKS, crate::stacks::DEFAULT_FRAMES))
        });
        self
    }

    /// Sizes the table of distinct stacks, allocated when the session starts (default 65 536
    /// stacks, 2 Mi frames in all: 16 MiB of address space, touched as it fills). A stack
    /// that finds the table full is recorded without one (and counted as lost). Turns
    /// stacks on.
    ///
    /// ```
    /// let session = trace_rt::Config::default()
    ///     .stack_table(1024, 32 * 1024)
    ///     .start_with_sink(trace_rt::MemorySink::new())?;
    /// session.stop()?;
    /// # Ok::<(), trace_rt::Error>(())
    /// ```
    pub fn stack_table(mut self, stacks: usize, frames: usize) -> Self {
        self.stacks = Some((stacks, frames));
        self
    }

    /// A poll running longer than this has its stack sampled by wall clock, every this long
    /// while it lasts, as `StallSample` events (default [`DEFAULT_STALL_THRESHOLD`], 5 ms;
    /// env `TRACE_RT_STALL_MS`; zero turns it off; needs stacks on and Linux): a worker
    /// blocked in `sleep`, a mutex or a blocking read uses no CPU, so CPU samples miss it.
    /// Polls shorter than this cost one store more; a watchdog thread looks every half
    /// threshold (1 to 10 ms; twice that while no poll runs).
    ///
    /// ```
    /// let session = trace_rt::Config::default()
    ///     .stall_threshold(std::time::Duration::from_millis(20))
    ///     .start_with_sink(trace_rt::MemorySink::new())?;
    /// session.stop()?;
    /// # Ok::<(), trace_rt::Error>(())
    /// ```
    pub fn stall_threshold(mut self, threshold: Duration) -> Self {
        self.stall_threshold = threshold;
        self
    }

    /// CPU samples per second of each recording thread's CPU time (default
    /// [`DEFAULT_CPU_SAMPLE_HZ`], 99; env `TRACE_RT_CPU_HZ`; 0 turns them off; at most
    /// 10 000): `CpuSample` events with the task being polled and the stack. Every thread
    /// that records gets a sampler when it first records: a `perf_event_open` task clock
    /// where the kernel allows it, else a POSIX CPU-time timer; the trace's sampling record
    /// says which and why. Needs stacks on and Linux.
    ///
    /// ```
    /// let session = trace_rt::Config::default()
    ///     .cpu_sample_hz(199)
    ///     .start_with_sink(trace_rt::MemorySink::new())?;
    /// session.stop()?;
    /// # Ok::<(), trace_rt::Error>(())
    /// ```
    pub fn cpu_sample_hz(mut self, hz: u32) -> Self {
        self.cpu_sample_hz = hz.min(10_000);
        self
    }

    /// Takes CPU samples with per-thread CPU-time timers even where perf events are allowed
    /// (env `TRACE_RT_CPU_SAMPLING=timer`): the fallback, for testing it.
    pub fn force_timer_sampling(mut self, on: bool) -> Self {
        self.force_timer_sampling = on;
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
        // Readers tell "no dump taken" from "this recorder takes none".
        if crate::taskdump::ENABLED && !self.task_dump_timeout.is_zero() {
            features.push(("task_dumps".to_string(), "true".to_string()));
        }
        features.extend(self.features.iter().cloned());
        let info_q32 = info.nanos_per_unit_q32;
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
        let shared = Arc::new(Shared::new(
            epoch,
            ChunkPool::new(self.buffer_size / self.chunk_size, self.chunk_size),
            flush_ticks,
            self.flush_interval,
            self.stop_timeout,
            self.stacks.map(|(n, f)| {
                Arc::new(crate::stacks::Stacks::new(
                    n,
                    f,
                    self.cpu_sample_hz,
                    self.force_timer_sampling,
                    if cfg!(all(target_os = "linux", not(miri))) {
                        self.stall_threshold.as_nanos().min(u128::from(u64::MAX)) as u64
                    } else {
                        0
                    },
                ))
            }),
        ));
        let writer =
            writer::spawn(shared.clone(), Box::new(sink), header).map_err(|source| Error::Io {
                path: PathBuf::from("<writer thread>"),
                source,
            })?;
        shared.set_writer(writer.0.thread().clone());
        crate::intern::publish_session(&shared);
        let mut watchdog = None;
        #[cfg(all(target_os = "linux", not(miri)))]
        if let Some(stacks) = shared.stacks.load_full() {
            crate::stacks::signal::activate(&stacks);
            let ns = self
                .stall_threshold
                .as_nanos()
                .min(u128::from(u64::MAX >> 32)) as u64;
            if ns > 0 {
                let ticks = ((u128::from(ns) << 32) / u128::from(info_q32.max(1))).max(1) as u64;
                // Without the watchdog there are no stall samples; recording goes on.
                let stop = shared.clone();
                watchdog = crate::stacks::signal::spawn_watchdog(
                    move || stop.stop.load(Ordering::Acquire),
                    self.stall_threshold,
                    ticks,
                )
                .ok()
                .flatten();
            }
        }
        EPOCH.store(epoch, Ordering::SeqCst);
        Ok(Session {
            shared,
            writer: Some(writer),
            path: None,
            started: Instant::now(),
            watchdog,
            epoch,
            task_dump_timeout: self.task_dump_timeout,
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
    /// The stalled-poll watchdog thread, joined at the stop (it holds the shared state,
    /// whose memory must not be freed while a later session records allocations).
    watchdog: Option<JoinHandle<()>>,
    /// This session's recording epoch (the runtimes registered for its task dumps).
    epoch: u64,
    /// [`Config::task_dump_timeout`]; zero: no task dumps at the stop.
    task_dump_timeout: Duration,
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

    /// [`Session::stop`] without the task dumps, when nobody will read them (a flight
    /// recorder that is stopped, not dumped): each dump pauses every worker of a runtime.
    pub(crate) fn stop_without_task_dump(mut self) -> Result<Summary, Error> {
        self.task_dump_timeout = Duration::ZERO;
        self.finish()
    }

    fn finish(&mut self) -> Result<Summary, Error> {
        let Some((writer, outcome)) = self.writer.take() else {
            return Err(Error::Config("session already stopped".into()));
        };
        {
            let _control = CONTROL.lock().unwrap_or_else(|p| p.into_inner());
            set_current(None);
            EPOCH.store(0, Ordering::SeqCst);
        }
        let _ = self.shared.stopped_at.set(crate::clock::now());
        // With recording off (tokio re-polls every task to dump it: those are no polls of
        // the application) and the writer still running: every way of stopping comes here.
        for meta in crate::taskdump::dump_all(self.epoch, self.task_dump_timeout) {
            self.shared.push_meta(meta);
        }
        let deadline = Instant::now() + self.shared.stop_timeout;
        let _ = self.shared.stop_deadline.set(deadline);
        // The writer names the stacks' code and writes how sampling went, at its finish.
        #[cfg(all(target_os = "linux", not(miri)))]
        if self.shared.stacks.load_full().is_some() {
            crate::stacks::signal::stop_samplers();
            crate::stacks::signal::deactivate();
        }
        self.shared.stop.store(true, Ordering::Release);
        writer.thread().unpark();
        if let Some(w) = self.watchdog.take() {
            // It sees `stop` within a millisecond.
            let _ = w.join();
        }
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
    use std::io;

    use trace_format::codec::ChunkDecoder;
    use trace_format::{End, Event, EventChunkHeader, Meta, TaskId, Trace};

    use super::*;
    use crate::MemorySink;
    use crate::local::try_record_at;

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

    // The whole pipeline: recording threads, the writer's peeks of a quiet thread's chunk,
    // the stop.

    /// A chunk received: its header and its events' `(time, task)`.
    type Got = (EventChunkHeader, Vec<(u64, u64)>);

    /// Keeps the trace, and every chunk's header and events as they arrive.
    #[derive(Clone, Default)]
    struct Chunks {
        inner: MemorySink,
        got: Arc<Mutex<Vec<Got>>>,
    }

    impl Chunks {
        fn got(&self) -> Vec<Got> {
            self.got.lock().unwrap().clone()
        }

        fn events(&self) -> usize {
            self.got().iter().map(|(_, e)| e.len()).sum()
        }

        fn wait_for(&self, events: usize) {
            let give_up = Instant::now() + Duration::from_secs(20);
            while self.events() < events {
                assert!(
                    Instant::now() < give_up,
                    "{} of {events} events",
                    self.events()
                );
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }

    impl Sink for Chunks {
        fn header(&mut self, header: &Header) -> io::Result<()> {
            self.inner.header(header)
        }
        fn meta(&mut self, meta: &Meta) -> io::Result<()> {
            self.inner.meta(meta)
        }
        fn events(&mut self, header: &EventChunkHeader, events: &[u8]) -> io::Result<()> {
            // Each chunk decodes on its own, from its own base time.
            let decoded = ChunkDecoder::new(events, header.base_time)
                .map(|e| {
                    let (time, event) = e.expect("a chunk the writer wrote decodes alone");
                    let task = match event {
                        Event::PollStart { task } => task.0,
                        _ => 0,
                    };
                    (time, task)
                })
                .collect::<Vec<_>>();
            assert_eq!(decoded.len() as u32, header.event_count, "{header:?}");
            assert_eq!(
                decoded.last().map_or(header.base_time, |e| e.0),
                header.end_time
            );
            self.got.lock().unwrap().push((*header, decoded));
            self.inner.events(header, events)
        }
        fn flush(&mut self) -> io::Result<()> {
            self.inner.flush()
        }
        fn finish(&mut self, end: &End) -> io::Result<u64> {
            self.inner.finish(end)
        }
    }

    fn poll(task: u64) -> Event<'static> {
        Event::PollStart { task: TaskId(task) }
    }

    /// Events at the thread's previous event's time (as the allocator records) stay in the
    /// chunk the writer has already peeked at (a fresh clock reading past the flush interval
    /// would start a new chunk): the chunk goes to the file in pieces, the first as written,
    /// the others re-encoded from the piece before's last time (task ids afresh), one after
    /// a second peek, one from the stop's collection, one from a hand-over; the thread's
    /// next chunks are numbered after the pieces.
    #[test]
    fn a_peeked_chunk_that_fills_on_goes_out_in_pieces_numbered_in_order() {
        let sink = Chunks::default();
        let session = Config::default()
            .flush_interval(Duration::from_millis(20))
            .start_with_sink(sink.clone())
            .unwrap();
        let mut expected = Vec::new();
        let mut task = 1000;
        // `fresh`: at a fresh clock reading; else at the previous event's time.
        let mut record = |n: usize, fresh: bool| {
            for _ in 0..n {
                task += 3;
                if fresh {
                    crate::raw::record(&poll(task));
                } else {
                    assert!(try_record_at(0, &poll(task)));
                }
                expected.push(task);
            }
            expected.len()
        };
        // Piece 0 (a peek), piece 1 (a second peek, re-encoded).
        sink.wait_for(record(5, true));
        sink.wait_for(record(4, false));
        // Piece 2: the chunk's rest, handed over when a fresh event needs a new chunk (the
        // first chunk is past its flush interval by now); then the next chunk, peeked.
        record(3, false);
        sink.wait_for(record(2, true));
        // The next chunk's rest, collected by the stop.
        record(2, false);
        let summary = session.stop().unwrap();
        assert_eq!(summary.lost_events, 0, "{summary}");
        let got = sink.got();
        let seqs: Vec<u32> = got.iter().map(|(h, _)| h.seq).collect();
        let counts: Vec<u32> = got.iter().map(|(h, _)| h.event_count).collect();
        assert_eq!(seqs, [0, 1, 2, 3, 4], "counts {counts:?}");
        assert_eq!(counts, [5, 4, 3, 2, 2]);
        let tasks: Vec<u64> = got
            .iter()
            .flat_map(|(_, e)| e.iter().map(|e| e.1))
            .collect();
        assert_eq!(tasks, expected);
        // Pieces follow each other in time.
        for w in got.windows(2) {
            assert!(w[1].0.base_time >= w[0].0.end_time, "{:?}", w);
        }
        let trace = Trace::from_bytes(sink.inner.bytes()).unwrap();
        assert!(trace.warnings().is_empty(), "{:?}", trace.warnings());
        assert_eq!(trace.validate().unwrap(), 16);
    }
}
