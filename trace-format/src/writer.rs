//! The streaming writer: preamble, then frames appended one at a time. It never seeks, so a
//! file cut at any point holds every frame written before the cut.

use std::io::{self, Write};

use crate::frame::{self, EventChunkHeader, kind};
use crate::meta::{End, Header, Meta};

/// Writes a trace frame by frame to any [`Write`].
///
/// ```
/// use trace_format::{TraceWriter, Header, ClockInfo, EventChunkHeader, End, Trace};
/// let header = Header {
///     clock: ClockInfo::nanoseconds(), start_time: 0, wall_clock_unix_nanos: 0,
///     recorder: "doc".into(), process_id: 1, process_name: "doc".into(),
///     chunk_capacity: 65536, features: vec![],
/// };
/// let mut w = TraceWriter::new(Vec::new(), &header).unwrap();
/// w.write_events(&EventChunkHeader::default(), &[]).unwrap();
/// let bytes = w.finish(&End::default()).unwrap();
/// let trace = Trace::from_bytes(bytes).unwrap();
/// assert_eq!(trace.chunks().len(), 1);
/// ```
#[derive(Debug)]
pub struct TraceWriter<W: Write> {
    out: W,
    bytes: u64,
}

fn postcard_bytes<T: serde::Serialize>(value: &T) -> io::Result<Vec<u8>> {
    postcard::to_stdvec(value).map_err(io::Error::other)
}

impl<W: Write> TraceWriter<W> {
    /// Writes the preamble and the header frame.
    pub fn new(out: W, header: &Header) -> io::Result<Self> {
        let mut w = TraceWriter { out, bytes: 0 };
        w.put(&frame::preamble())?;
        w.write_frame(kind::HEADER, &postcard_bytes(header)?)?;
        Ok(w)
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.bytes
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.out.write_all(b)?;
        self.bytes += b.len() as u64;
        Ok(())
    }

    /// Writes a frame of any kind with `payload` (kinds this crate does not define are skipped
    /// by readers).
    pub fn write_frame(&mut self, kind: u8, payload: &[u8]) -> io::Result<()> {
        let len = frame_len(payload.len())?;
        self.put(&frame::frame_header(kind, len, crc32fast::hash(payload)))?;
        self.put(payload)
    }

    /// Writes an event chunk: its header and its encoded events.
    pub fn write_events(&mut self, header: &EventChunkHeader, events: &[u8]) -> io::Result<()> {
        let head = header.to_bytes();
        let len = frame_len(head.len() + events.len())?;
        let mut crc = crc32fast::Hasher::new();
        crc.update(&head);
        crc.update(events);
        self.put(&frame::frame_header(kind::EVENTS, len, crc.finalize()))?;
        self.put(&head)?;
        self.put(events)
    }

    /// Writes a metadata record.
    pub fn write_meta(&mut self, meta: &Meta) -> io::Result<()> {
        self.write_frame(kind::META, &postcard_bytes(meta)?)
    }

    /// Flushes buffered bytes to the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Writes the end record, flushes, and returns the underlying writer.
    pub fn finish(self, end: &End) -> io::Result<W> {
        self.finish_counted(end).map(|(out, _)| out)
    }

    /// [`TraceWriter::finish`], also returning the bytes of the whole trace.
    pub fn finish_counted(mut self, end: &End) -> io::Result<(W, u64)> {
        self.write_frame(kind::END, &postcard_bytes(end)?)?;
        self.out.flush()?;
        Ok((self.out, self.bytes))
    }

    /// Returns the underlying writer without an end record (the trace will read as cut).
    pub fn into_inner(self) -> W {
        self.out
    }
}

fn frame_len(len: usize) -> io::Result<u32> {
    u32::try_from(len)
        .ok()
        .filter(|&l| l <= frame::MAX_FRAME_PAYLOAD)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "frame payload too large"))
}
