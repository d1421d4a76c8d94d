//! Where finished chunks go. The writer thread feeds a [`Sink`]; [`FileSink`] streams to a
//! file, [`MemorySink`] keeps the bytes (tests, tools), and later sinks (flight recorder,
//! network) plug in the same way.

use std::fs::File;
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use trace_format::{End, EventChunkHeader, Header, Meta, TraceWriter};

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

/// Streams the trace to a file through a buffered writer.
pub struct FileSink {
    path: PathBuf,
    file: Option<File>,
    writer: Option<TraceWriter<BufWriter<File>>>,
}

impl FileSink {
    /// Creates (or truncates) the file now, so that a bad path fails before recording starts.
    pub fn create(path: impl AsRef<Path>) -> io::Result<FileSink> {
        let path = path.as_ref().to_path_buf();
        let file = File::create(&path).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot create {}: {e}", path.display()))
        })?;
        Ok(FileSink {
            path,
            file: Some(file),
            writer: None,
        })
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn writer(&mut self) -> io::Result<&mut TraceWriter<BufWriter<File>>> {
        self.writer
            .as_mut()
            .ok_or_else(|| io::Error::other("trace file is not open"))
    }
}

impl Sink for FileSink {
    fn header(&mut self, header: &Header) -> io::Result<()> {
        let file = self
            .file
            .take()
            .ok_or_else(|| io::Error::other("trace header written twice"))?;
        self.writer = Some(TraceWriter::new(
            BufWriter::with_capacity(1 << 20, file),
            header,
        )?);
        Ok(())
    }

    fn meta(&mut self, meta: &Meta) -> io::Result<()> {
        self.writer()?.write_meta(meta)
    }

    fn events(&mut self, header: &EventChunkHeader, events: &[u8]) -> io::Result<()> {
        self.writer()?.write_events(header, events)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer()?.flush()
    }

    fn finish(&mut self, end: &End) -> io::Result<u64> {
        let w = self
            .writer
            .take()
            .ok_or_else(|| io::Error::other("trace file is not open"))?;
        let out = w.finish(end)?;
        let file = out.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        Ok(file.metadata()?.len())
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
