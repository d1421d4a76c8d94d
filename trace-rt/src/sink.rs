//! Where finished chunks go. The writer thread feeds a [`Sink`]; [`WriterSink`] streams into
//! any `io::Write` (the HTTP trigger's responses use it), [`FileSink`] streams to a file,
//! [`MemorySink`] keeps the bytes (tests, tools); the flight recorder's ring is another.

use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use trace_format::{End, EventChunkHeader, Header, Meta, TraceWriter};

use crate::direct_file::DirectFile;

/// Receives a trace frame by frame, on the recorder's writer thread.
///
/// Calls come in this order: [`Sink::header`] once, then any mix of [`Sink::meta`],
/// [`Sink::events`] and [`Sink::flush`], then [`Sink::finish`] once. An error stops the
/// recording's output (later chunks are counted as lost) and is returned by
/// [`crate::Session::stop`].
pub trait Sink: Send + 'static {
    /// Starts the trace.
    fn header(&mut self, header: &Header) -> io::Result<()>;
    /// Writes a metadata record.
    fn meta(&mut self, meta: &Meta) -> io::Result<()>;
    /// Writes an event chunk.
    fn events(&mut self, header: &EventChunkHeader, events: &[u8]) -> io::Result<()>;
    /// Makes everything written so far durable enough to survive a crash of this process.
    fn flush(&mut self) -> io::Result<()>;
    /// Writes the end record and closes the trace. Returns the total bytes written.
    fn finish(&mut self, end: &End) -> io::Result<u64>;
}

/// Streams the trace into any writer (a pipe, a socket, an HTTP response) through a buffer.
///
/// ```
/// let (mut reader, writer) = std::io::pipe()?;
/// let session = trace_rt::Config::default()
///     .start_with_sink(trace_rt::WriterSink::new(writer))?;
/// trace_rt::counter("requests", 1);
/// session.stop()?; // finishes the trace and drops the writer: the pipe ends
/// let mut bytes = Vec::new();
/// std::io::Read::read_to_end(&mut reader, &mut bytes)?;
/// assert!(trace_format::Trace::from_bytes(bytes).unwrap().end().is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct WriterSink<W: Write + Send + 'static> {
    stream: Stream<BufWriter<W>>,
}

impl<W: Write + Send + 'static> WriterSink<W> {
    /// A sink with a 1 MiB buffer in front of `out`.
    pub fn new(out: W) -> Self {
        Self::with_capacity(1 << 20, out)
    }

    /// A sink with a `capacity`-byte buffer in front of `out`: the size of the writes `out`
    /// receives.
    pub fn with_capacity(capacity: usize, out: W) -> Self {
        WriterSink {
            stream: Stream::new(BufWriter::with_capacity(capacity, out)),
        }
    }

    /// Writes the end record, flushes, and hands back the writer with the bytes written.
    fn finish_into(&mut self, end: &End) -> io::Result<(W, u64)> {
        let (out, bytes) = self.stream.finish(end)?;
        Ok((out.into_inner().map_err(|e| e.into_error())?, bytes))
    }
}

impl<W: Write + Send + 'static> Sink for WriterSink<W> {
    fn header(&mut self, header: &Header) -> io::Result<()> {
        self.stream.header(header)
    }

    fn meta(&mut self, meta: &Meta) -> io::Result<()> {
        self.stream.writer()?.write_meta(meta)
    }

    fn events(&mut self, header: &EventChunkHeader, events: &[u8]) -> io::Result<()> {
        self.stream.writer()?.write_events(header, events)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.writer()?.flush()
    }

    fn finish(&mut self, end: &End) -> io::Result<u64> {
        self.finish_into(end).map(|(_, bytes)| bytes)
    }
}

/// Streams the trace to a file, and syncs it to disk at the end.
///
/// On Linux the file is written with `O_DIRECT` where its file system allows it: the trace
/// goes to the disk in 1 MiB blocks without being copied into the page cache, which costs the
/// writer thread about a quarter less CPU than buffered writes (elsewhere, and for a path
/// that is not a regular file, buffered writes).
pub struct FileSink {
    path: PathBuf,
    stream: Stream<DirectFile>,
}

impl FileSink {
    /// Creates (or truncates) the file now, so that a bad path fails before recording starts.
    pub fn create(path: impl AsRef<Path>) -> io::Result<FileSink> {
        let path = path.as_ref().to_path_buf();
        let file = DirectFile::create(&path).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
        })?;
        Ok(FileSink {
            path,
            stream: Stream::new(file),
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Sink for FileSink {
    fn header(&mut self, header: &Header) -> io::Result<()> {
        self.stream.header(header)
    }

    fn meta(&mut self, meta: &Meta) -> io::Result<()> {
        self.stream.writer()?.write_meta(meta)
    }

    fn events(&mut self, header: &EventChunkHeader, events: &[u8]) -> io::Result<()> {
        self.stream.writer()?.write_events(header, events)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.writer()?.flush()
    }

    fn finish(&mut self, end: &End) -> io::Result<u64> {
        let (file, _) = self.stream.finish(end)?;
        let file = file.into_file()?;
        file.sync_all()?;
        Ok(file.metadata()?.len())
    }
}

/// A trace written frame by frame into `W`: what [`WriterSink`] and [`FileSink`] share.
struct Stream<W: Write> {
    /// `W` until the header is written, then inside `writer`.
    out: Option<W>,
    writer: Option<TraceWriter<W>>,
}

impl<W: Write> Stream<W> {
    fn new(out: W) -> Self {
        Stream {
            out: Some(out),
            writer: None,
        }
    }

    fn header(&mut self, header: &Header) -> io::Result<()> {
        let out = self
            .out
            .take()
            .ok_or_else(|| io::Error::other("trace header written twice"))?;
        self.writer = Some(TraceWriter::new(out, header)?);
        Ok(())
    }

    fn writer(&mut self) -> io::Result<&mut TraceWriter<W>> {
        self.writer
            .as_mut()
            .ok_or_else(|| io::Error::other("trace output is not open"))
    }

    /// Writes the end record, flushes, and hands back `W` with the trace's length.
    fn finish(&mut self, end: &End) -> io::Result<(W, u64)> {
        self.writer
            .take()
            .ok_or_else(|| io::Error::other("trace output is not open"))?
            .finish_counted(end)
    }
}

/// Keeps the trace in memory; [`MemorySink::bytes`] returns it once finished.
///
/// ```
/// let sink = trace_rt::MemorySink::new();
/// let session = trace_rt::Config::default().start_with_sink(sink.clone()).unwrap();
/// session.stop().unwrap();
/// let trace = trace_format::Trace::from_bytes(sink.bytes()).unwrap();
/// assert!(trace.end().is_some());
/// ```
#[derive(Clone, Default)]
pub struct MemorySink {
    bytes: Arc<Mutex<Vec<u8>>>,
    writer: Arc<Mutex<Option<TraceWriter<Vec<u8>>>>>,
}

impl MemorySink {
    /// An empty sink.
    pub fn new() -> Self {
        Self::default()
    }

    /// The finished trace's bytes (empty until the session stopped).
    pub fn bytes(&self) -> Vec<u8> {
        self.bytes.lock().map(|b| b.clone()).unwrap_or_default()
    }

    fn with<R>(&self, f: impl FnOnce(&mut TraceWriter<Vec<u8>>) -> io::Result<R>) -> io::Result<R> {
        let mut w = self
            .writer
            .lock()
            .map_err(|_| io::Error::other("memory sink poisoned"))?;
        f(w.as_mut()
            .ok_or_else(|| io::Error::other("trace not started"))?)
    }
}

impl Sink for MemorySink {
    fn header(&mut self, header: &Header) -> io::Result<()> {
        let w = TraceWriter::new(Vec::new(), header)?;
        *self
            .writer
            .lock()
            .map_err(|_| io::Error::other("memory sink poisoned"))? = Some(w);
        Ok(())
    }

    fn meta(&mut self, meta: &Meta) -> io::Result<()> {
        self.with(|w| w.write_meta(meta))
    }

    fn events(&mut self, header: &EventChunkHeader, events: &[u8]) -> io::Result<()> {
        self.with(|w| w.write_events(header, events))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn finish(&mut self, end: &End) -> io::Result<u64> {
        let w = self
            .writer
            .lock()
            .map_err(|_| io::Error::other("memory sink poisoned"))?
            .take()
            .ok_or_else(|| io::Error::other("trace not started"))?;
        let bytes = w.finish(end)?;
        let len = bytes.len() as u64;
        *self
            .bytes
            .lock()
            .map_err(|_| io::Error::other("memory sink poisoned"))? = bytes;
        Ok(len)
    }
}
