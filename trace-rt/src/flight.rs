//! The flight recorder: records continuously into a bounded in-memory ring and writes the
//! most recent events to a file on demand, like Go 1.25's `FlightRecorder`. Keep it running
//! in production and dump it when something slow happens.
//!
//! The ring keeps whole chunks: the oldest are dropped once the ring holds more than
//! `max_bytes`, or once they are older than `min_age` behind the newest. A dump first stops
//! the running session (which collects every thread's unfinished chunk, so the latest events
//! are included), restarts recording into the same ring, then writes a normal trace file.
//!
//! A dump copies no event data: it takes a reference to each chunk in the ring (chunks are
//! shared, immutable buffers) and streams them to the output without holding the ring's
//! lock, so recording goes on while a slow output is written, and dumps running at the same
//! time share the ring's memory instead of each holding a copy. A chunk the ring evicts
//! while a dump still writes it is freed when that dump ends.

use std::collections::VecDeque;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use trace_format::{End, EventChunkHeader, Header, Meta, TraceWriter};

use crate::session::{Config, Error, Session, Summary};
use crate::sink::Sink;

#[derive(Clone)]
struct StoredChunk {
    session: u64,
    header: EventChunkHeader,
    /// Shared with the dumps that are writing it.
    data: Arc<[u8]>,
}

#[derive(Default)]
struct Ring {
    header: Option<Header>,
    metas: Vec<Meta>,
    chunks: VecDeque<StoredChunk>,
    bytes: usize,
    newest_end: u64,
    lost_chunks: u64,
    lost_events: u64,
}

struct RingSink {
    ring: Arc<Mutex<Ring>>,
    session: u64,
    max_bytes: usize,
    min_age: Duration,
}

impl RingSink {
    fn lock(&self) -> io::Result<std::sync::MutexGuard<'_, Ring>> {
        self.ring
            .lock()
            .map_err(|_| io::Error::other("flight recorder ring poisoned"))
    }
}

impl Sink for RingSink {
    fn header(&mut self, header: &Header) -> io::Result<()> {
        let mut ring = self.lock()?;
        if ring.header.is_none() {
            ring.header = Some(header.clone());
        }
        Ok(())
    }

    fn meta(&mut self, meta: &Meta) -> io::Result<()> {
        // Every restart re-sends the string and location tables: keep one copy.
        let mut ring = self.lock()?;
        // Each dump's stop takes a task dump: the latest of each runtime replaces the last.
        if let Meta::TaskDump(new) = meta {
            ring.metas
                .retain(|m| !matches!(m, Meta::TaskDump(old) if old.runtime == new.runtime));
        }
        if !ring.metas.contains(meta) {
            ring.metas.push(meta.clone());
        }
        Ok(())
    }

    fn events(&mut self, header: &EventChunkHeader, events: &[u8]) -> io::Result<()> {
        let (max_bytes, min_age) = (self.max_bytes, self.min_age);
        let session = self.session;
        let mut ring = self.lock()?;
        let min_age_units = ring.header.as_ref().map_or(u64::MAX, |h| {
            let ns = min_age.as_nanos().min(u128::from(u64::MAX >> 32)) as u64;
            ((u128::from(ns) << 32) / u128::from(h.clock.nanos_per_unit_q32.max(1))) as u64
        });
        ring.newest_end = ring.newest_end.max(header.end_time);
        ring.bytes += events.len();
        ring.chunks.push_back(StoredChunk {
            session,
            header: *header,
            data: events.into(),
        });
        while let Some(front) = ring.chunks.front() {
            let too_old = ring.newest_end.saturating_sub(front.header.end_time) > min_age_units;
            if ring.bytes <= max_bytes && !too_old {
                break;
            }
            let front = ring.chunks.pop_front().expect("checked");
            ring.bytes -= front.data.len();
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, end: &End) -> io::Result<u64> {
        let mut ring = self.lock()?;
        ring.lost_chunks += end.lost_chunks;
        ring.lost_events += end.lost_events;
        Ok(0)
    }
}

/// Records continuously into memory; [`FlightRecorder::write_to`] dumps the recent past.
///
/// ```no_run
/// use std::time::Duration;
/// let flight = trace_rt::FlightRecorder::start(Duration::from_secs(10), 16 << 20)?;
/// // ... later, when a request was slow:
/// let summary = flight.write_to("slow-request.rtt")?;
/// println!("{summary}");
/// # Ok::<(), trace_rt::Error>(())
/// ```
pub struct FlightRecorder {
    ring: Arc<Mutex<Ring>>,
    min_age: Duration,
    max_bytes: usize,
    config: Config,
    running: Mutex<Option<(u64, Session)>>,
}

impl std::fmt::Debug for FlightRecorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlightRecorder")
            .field("min_age", &self.min_age)
            .field("max_bytes", &self.max_bytes)
            .finish_non_exhaustive()
    }
}

impl FlightRecorder {
    /// Starts recording, keeping about the last `min_age` of events and at most `max_bytes`
    /// of event chunks in memory (plus the recorder's own chunk buffer).
    pub fn start(min_age: Duration, max_bytes: usize) -> Result<FlightRecorder, Error> {
        Self::start_with(Config::default(), min_age, max_bytes)
    }

    /// [`FlightRecorder::start`] with a recorder [`Config`].
    pub fn start_with(
        config: Config,
        min_age: Duration,
        max_bytes: usize,
    ) -> Result<FlightRecorder, Error> {
        let fr = FlightRecorder {
            ring: Arc::new(Mutex::new(Ring::default())),
            min_age,
            max_bytes,
            config,
            running: Mutex::new(None),
        };
        let session = fr.start_session(0)?;
        *fr.running.lock().unwrap_or_else(|p| p.into_inner()) = Some((0, session));
        Ok(fr)
    }

    fn start_session(&self, index: u64) -> Result<Session, Error> {
        self.config.clone().start_with_sink(RingSink {
            ring: self.ring.clone(),
            session: index,
            max_bytes: self.max_bytes,
            min_age: self.min_age,
        })
    }

    /// Writes the events in memory, up to now, as a trace file at `path`. Recording goes
    /// on; events in the few microseconds of the hand-over are not recorded.
    pub fn write_to(&self, path: impl AsRef<Path>) -> Result<Summary, Error> {
        let path = path.as_ref();
        let io_err = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        self.snapshot(
            || std::fs::File::create(path).map(io::BufWriter::new),
            io_err,
        )
        .map(|summary| Summary {
            path: Some(path.to_path_buf()),
            ..summary
        })
    }

    /// [`FlightRecorder::write_to`] into any writer (a socket, memory): the bytes of a
    /// whole trace file.
    ///
    /// ```
    /// use std::time::Duration;
    /// let flight = trace_rt::FlightRecorder::start(Duration::from_secs(10), 16 << 20)?;
    /// trace_rt::counter("requests", 1);
    /// let mut bytes = Vec::new();
    /// flight.write_into(&mut bytes)?;
    /// let trace = trace_format::Trace::from_bytes(bytes).unwrap();
    /// assert!(trace.end().is_some());
    /// # flight.stop()?;
    /// # Ok::<(), trace_rt::Error>(())
    /// ```
    pub fn write_into(&self, out: impl io::Write) -> Result<Summary, Error> {
        let io_err = |source| Error::Io {
            path: "<flight recorder snapshot>".into(),
            source,
        };
        self.snapshot(|| Ok(out), io_err)
    }

    /// Hands the recording over to a new session (so the ring holds everything up to now),
    /// then writes the ring to what `open` returns.
    fn snapshot<W: io::Write>(
        &self,
        open: impl FnOnce() -> io::Result<W>,
        io_err: impl Fn(io::Error) -> Error,
    ) -> Result<Summary, Error> {
        let snapshot = self.take_snapshot()?;
        let out = open().map_err(&io_err)?;
        snapshot.write(out).map_err(io_err)
    }

    /// Hands the recording over to a new session, so that the ring holds everything up to
    /// now, and takes the ring's contents: references to its chunks, no copy of their data.
    pub(crate) fn take_snapshot(&self) -> Result<Snapshot, Error> {
        let started = std::time::Instant::now();
        {
            let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
            let (index, session) = running
                .take()
                .ok_or_else(|| Error::Config("flight recorder is stopped".into()))?;
            let stopped = session.stop();
            let next = self.start_session(index + 1);
            match next {
                Ok(s) => *running = Some((index + 1, s)),
                Err(e) => {
                    stopped?;
                    return Err(e);
                }
            }
            stopped?;
        }
        let ring = self.ring.lock().unwrap_or_else(|p| p.into_inner());
        Ok(Snapshot {
            started,
            header: ring.header.clone(),
            metas: ring.metas.clone(),
            chunks: ring.chunks.iter().cloned().collect(),
            lost_chunks: ring.lost_chunks,
            lost_events: ring.lost_events,
        })
    }

    /// Stops recording and frees the ring.
    pub fn stop(self) -> Result<(), Error> {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        match running {
            // Nothing reads this session's end: no task dump.
            Some((_, s)) => s.stop_without_task_dump().map(|_| ()),
            None => Ok(()),
        }
    }
}

/// The ring's contents at a dump, shared with the ring (see the module docs).
pub(crate) struct Snapshot {
    started: std::time::Instant,
    header: Option<Header>,
    metas: Vec<Meta>,
    chunks: Vec<StoredChunk>,
    lost_chunks: u64,
    lost_events: u64,
}

impl Snapshot {
    /// Writes the snapshot as a trace file into `out`.
    pub(crate) fn write(&self, out: impl io::Write) -> io::Result<Summary> {
        let (events, chunks, bytes) = write_ring(self, out)?;
        Ok(Summary {
            path: None,
            duration: self.started.elapsed(),
            events,
            chunks,
            bytes,
            lost_chunks: self.lost_chunks,
            lost_events: self.lost_events,
        })
    }
}

/// Writes the ring as one trace. Chunks of consecutive sessions are renumbered per thread
/// into one sequence that keeps in-session gaps (lost chunks) but not evicted ones.
fn write_ring(ring: &Snapshot, out: impl io::Write) -> io::Result<(u64, u64, u64)> {
    let Some(first) = ring.header.clone() else {
        return Err(io::Error::other("flight recorder has not started"));
    };
    let mut header = first;
    if let Some(oldest) = ring.chunks.iter().map(|c| c.header.base_time).min() {
        header.start_time = header.start_time.max(oldest);
    }
    header
        .features
        .push(("flight_recorder".into(), "true".into()));
    let mut w = TraceWriter::new(out, &header)?;
    for m in &ring.metas {
        w.write_meta(m)?;
    }
    // (thread) -> (session, original seq, new seq) of the previous chunk.
    let mut last: std::collections::HashMap<u32, (u64, u32, u32)> = Default::default();
    let mut end = End::default();
    for c in &ring.chunks {
        let seq = match last.get(&c.header.thread) {
            None => 0,
            Some(&(session, seq, new)) if session == c.session => {
                new.wrapping_add(c.header.seq.wrapping_sub(seq))
            }
            Some(&(_, _, new)) => new.wrapping_add(1),
        };
        last.insert(c.header.thread, (c.session, c.header.seq, seq));
        w.write_events(&EventChunkHeader { seq, ..c.header }, &c.data)?;
        end.events += u64::from(c.header.event_count);
        end.chunks += 1;
        end.end_time = end.end_time.max(c.header.end_time);
    }
    end.lost_chunks = ring.lost_chunks;
    end.lost_events = ring.lost_events;
    let bytes = w.bytes_written();
    let mut out = w.finish(&end)?;
    out.flush()?;
    Ok((end.events, end.chunks, bytes))
}
