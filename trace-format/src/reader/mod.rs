//! Reading a trace: the file is mapped (or held) whole, its frames are checked once on open
//! and indexed, metadata is loaded, and events are decoded lazily per chunk, per thread or
//! merged across threads in global time order.
//!
//! Robustness rules: a file that ends inside a frame reads back to its last whole frame with
//! a [`Warning::Truncated`]; a frame whose checksums fail is a [`ReadError::Corrupt`] naming
//! its byte offset. No input makes the reader panic.
//!
//! This file opens a trace, checks and indexes its frames and answers queries about it
//! ([`Trace`]); `error.rs` holds [`ReadError`] and [`Warning`]; `bytes.rs` the mapped (or
//! held) bytes and handing read pages back to the OS; `events.rs` the event iterators.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

mod bytes;
mod error;
mod events;

use bytes::Bytes;
pub use error::{ReadError, Warning};
pub use events::{ChunkEvents, ChunkInfo, MergedEvents, Record, ThreadEvents};

/// Where a trace's bytes go, each frame counted whole (its frame header included), so the
/// parts add up to [`Trace::valid_len`]. `trace-viewer check` prints it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileBytes {
    /// The preamble, the header and the end record.
    pub framing: u64,
    /// Event chunks.
    pub events: u64,
    /// Metadata records per kind ([`Meta::kind_name`], or `unreadable`): `(records, bytes)`.
    pub meta: BTreeMap<&'static str, (u64, u64)>,
    /// Frames of kinds this reader does not know.
    pub unknown: u64,
}

impl FileBytes {
    /// Bytes of the metadata records of `kind` ([`Meta::kind_name`]); 0 when there are none.
    pub fn meta_bytes(&self, kind: &str) -> u64 {
        self.meta.get(kind).map_or(0, |&(_, b)| b)
    }
}

use crate::code::CodeInfo;
use crate::event::{LocationId, StringId, ThreadId};
use crate::frame::{self, EventChunkHeader, kind};
use crate::meta::{End, Header, LocationDef, Meta, TaskDump, ThreadDef};

/// Bytes scanned at open between two releases of the pages behind the scan.
const RELEASE_EVERY: usize = 8 << 20;

/// An open trace. Cheap to query; events are decoded on demand.
///
/// ```no_run
/// let trace = trace_format::Trace::open("x.rtt")?;
/// for w in trace.warnings() { eprintln!("warning: {w}"); }
/// for record in trace.events() {
///     let record = record?;
///     println!("{} ns thread {} {:?}", trace.to_nanos(record.time), record.thread, record.event);
/// }
/// # Ok::<(), trace_format::ReadError>(())
/// ```
pub struct Trace {
    bytes: Bytes,
    header: Header,
    chunks: Vec<ChunkInfo>,
    /// Chunk indices per thread, in sequence order.
    by_thread: BTreeMap<ThreadId, Vec<usize>>,
    strings: HashMap<u32, String>,
    locations: HashMap<u32, LocationDef>,
    threads: BTreeMap<ThreadId, ThreadDef>,
    code: CodeInfo,
    task_dumps: Vec<TaskDump>,
    end: Option<End>,
    warnings: Vec<Warning>,
    valid_len: u64,
    file_bytes: FileBytes,
}

impl fmt::Debug for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Trace")
            .field("header", &self.header)
            .field("chunks", &self.chunks.len())
            .field("warnings", &self.warnings)
            .finish_non_exhaustive()
    }
}

impl Trace {
    /// Maps and indexes the file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Trace, ReadError> {
        Self::open_prefix(path, u64::MAX)
    }

    /// Maps the file at `path` and indexes only its first `len` bytes, as if the file ended
    /// there: the readable part of a file that is damaged at byte `len` (frames are checked
    /// in order, so every frame before the first damaged one is sound).
    ///
    /// ```no_run
    /// use trace_format::{ReadError, Trace};
    /// let trace = match Trace::open("x.rtt") {
    ///     Err(ReadError::Corrupt { offset, .. }) => Trace::open_prefix("x.rtt", offset)?,
    ///     other => other?,
    /// };
    /// # Ok::<(), ReadError>(())
    /// ```
    pub fn open_prefix(path: impl AsRef<Path>, len: u64) -> Result<Trace, ReadError> {
        let path = path.as_ref();
        let io = |source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let file_len = file.metadata().map_err(io)?.len();
        if file_len == 0 || len == 0 {
            return Err(ReadError::TruncatedHeader { len: 0 });
        }
        // SAFETY: the map is read-only and the reader treats its contents as untrusted bytes
        // (every access is bounds-checked and validated). The remaining hazard, another
        // process truncating the file while it is mapped, is inherent to mmap and documented
        // in FORMAT.md; traces are written once and not modified afterwards.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(io)?;
        let limit = usize::try_from(len).unwrap_or(usize::MAX).min(map.len());
        Self::parse(Bytes::Mapped(map), limit)
    }

    /// Indexes a trace held in memory.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Trace, ReadError> {
        let limit = bytes.len();
        Self::parse(Bytes::Owned(bytes), limit)
    }

    /// Indexes `bytes[..limit]`.
    fn parse(bytes: Bytes, limit: usize) -> Result<Trace, ReadError> {
        let data: &[u8] = &bytes[..limit];
        let file_len = data.len() as u64;
        if data.len() < 8 {
            return Err(if frame::MAGIC.starts_with(data) {
                ReadError::TruncatedHeader { len: file_len }
            } else {
                ReadError::NotATrace
            });
        }
        if data[..8] != frame::MAGIC {
            return Err(ReadError::NotATrace);
        }
        if data.len() < frame::PREAMBLE_LEN {
            return Err(ReadError::TruncatedHeader { len: file_len });
        }
        let version = u16::from_le_bytes([data[8], data[9]]);
        if !frame::READABLE_VERSIONS.contains(&version) {
            let newest = *frame::READABLE_VERSIONS.end();
            return Err(
                if version > newest && version - newest <= frame::NEWER_VERSION_SPAN {
                    ReadError::UnsupportedVersion(version)
                } else {
                    ReadError::DamagedVersion(version)
                },
            );
        }
        if data[10] != 0 || data[11] != 0 {
            return Err(ReadError::corrupt(
                8,
                "preamble reserved bytes are not zero",
            ));
        }

        let mut header: Option<Header> = None;
        let mut chunks = Vec::new();
        let mut strings = HashMap::new();
        let mut locations = HashMap::new();
        let mut threads = BTreeMap::new();
        let mut code = CodeInfo::default();
        let mut task_dumps = Vec::new();
        let mut end = None;
        let mut warnings = Vec::new();
        let mut unknown: Option<(u64, [bool; 256], u64)> = None;
        let mut unreadable_meta: Option<(u64, u64)> = None;
        let mut bad_code: Option<(u64, String)> = None;
        let mut bad = |n: u64, why: String| match &mut bad_code {
            Some((count, _)) => *count += n,
            None => bad_code = Some((n, why)),
        };
        let mut file_bytes = FileBytes {
            framing: frame::PREAMBLE_LEN as u64,
            ..FileBytes::default()
        };
        let mut pos = frame::PREAMBLE_LEN;
        let mut valid_len = pos as u64;
        let mut released = 0;
        // Where the zero bytes that end the file start; found only when a frame fails.
        let mut zero_tail: Option<usize> = None;
        let mut zero_tail_start = || *zero_tail.get_or_insert_with(|| bytes.zero_tail_start(limit));

        while pos < data.len() {
            let offset = pos as u64;
            let rest = &data[pos..];
            let Some(head) = rest.first_chunk::<{ frame::FRAME_HEADER_LEN }>() else {
                warnings.push(cut_at(pos, data.len(), zero_tail_start()));
                break;
            };
            let fh = match frame::parse_frame_header(head) {
                Ok(fh) => fh,
                Err(reason) => match cut_by_zeros(
                    pos,
                    pos + frame::FRAME_HEADER_LEN,
                    data.len(),
                    zero_tail_start(),
                ) {
                    Some(cut) => {
                        warnings.push(cut);
                        break;
                    }
                    None => return Err(ReadError::corrupt(offset, reason)),
                },
            };
            let body_start = pos + frame::FRAME_HEADER_LEN;
            let body_end = body_start + fh.len as usize;
            let Some(payload) = data.get(body_start..body_end) else {
                warnings.push(cut_at(pos, data.len(), zero_tail_start()));
                break;
            };
            if crc32fast::hash(payload) != fh.crc {
                match cut_by_zeros(pos, body_end, data.len(), zero_tail_start()) {
                    Some(cut) => {
                        warnings.push(cut);
                        break;
                    }
                    None => return Err(ReadError::corrupt(offset, "chunk checksum mismatch")),
                }
            }
            if header.is_none() && fh.kind != kind::HEADER {
                return Err(ReadError::corrupt(
                    offset,
                    "first chunk is not the trace header",
                ));
            }
            if end.is_some() {
                return Err(ReadError::corrupt(offset, "data after the end record"));
            }
            let frame_len = (body_end - pos) as u64;
            match fh.kind {
                kind::HEADER | kind::END => file_bytes.framing += frame_len,
                kind::EVENTS => file_bytes.events += frame_len,
                kind::META => {} // by kind, below
                _ => file_bytes.unknown += frame_len,
            }
            match fh.kind {
                kind::HEADER => {
                    if header.is_some() {
                        return Err(ReadError::corrupt(offset, "second trace header"));
                    }
                    let h: Header = postcard::from_bytes(payload).map_err(|e| {
                        ReadError::corrupt(offset, format!("unreadable trace header: {e}"))
                    })?;
                    header = Some(h);
                }
                kind::EVENTS => {
                    let Some(ch) = payload.first_chunk::<{ frame::EVENT_CHUNK_HEADER_LEN }>()
                    else {
                        return Err(ReadError::corrupt(
                            offset,
                            "event chunk shorter than its header",
                        ));
                    };
                    let ch = EventChunkHeader::from_bytes(ch)
                        .map_err(|r| ReadError::corrupt(offset, r))?;
                    chunks.push(ChunkInfo {
                        offset,
                        events_offset: (body_start + frame::EVENT_CHUNK_HEADER_LEN) as u64,
                        events_len: fh.len - frame::EVENT_CHUNK_HEADER_LEN as u32,
                        header: ch,
                    });
                }
                kind::META => match postcard::from_bytes::<Meta>(payload).inspect(|m| {
                    let e = file_bytes.meta.entry(m.kind_name()).or_default();
                    e.0 += 1;
                    e.1 += frame_len;
                }) {
                    Ok(Meta::Strings(defs)) => {
                        for d in defs {
                            strings.insert(d.id, d.text);
                        }
                    }
                    Ok(Meta::Locations(defs)) => {
                        for d in defs {
                            locations.insert(d.id, d);
                        }
                    }
                    Ok(Meta::Thread(t)) => {
                        threads.insert(t.thread, t);
                    }
                    Ok(Meta::Stacks(defs)) => {
                        for d in defs {
                            code.add_stack(d.id, d.frames);
                        }
                    }
                    Ok(Meta::PackedStacks(packed)) => {
                        if let Err((e, n)) = code.add_packed_stacks(&packed) {
                            bad(n, format!("stack {} {}", e.id, e.reason));
                        }
                    }
                    Ok(Meta::Symbols(s)) => code.add_symbols(s),
                    Ok(Meta::PackedSymbols(p)) => match crate::pack::unpack_symbols(&p) {
                        Ok(s) => code.add_symbols(s),
                        Err(why) => bad(1, format!("{why} (at byte {offset})")),
                    },
                    Ok(Meta::Mappings(m)) => code.add_mappings(m),
                    Ok(Meta::Sampling(s)) => code.set_sampling(s),
                    Ok(Meta::TaskDump(d)) => task_dumps.push(d),
                    Err(_) => {
                        let e = file_bytes.meta.entry("unreadable").or_default();
                        e.0 += 1;
                        e.1 += frame_len;
                        unreadable_meta.get_or_insert((0, offset)).0 += 1
                    }
                },
                kind::END => {
                    let e: End = postcard::from_bytes(payload).map_err(|e| {
                        ReadError::corrupt(offset, format!("unreadable end record: {e}"))
                    })?;
                    end = Some(e);
                }
                other => {
                    // Counted, not listed: a file may hold millions of them.
                    let u = unknown.get_or_insert((0, [false; 256], offset));
                    u.0 += 1;
                    u.1[usize::from(other)] = true;
                }
            }
            pos = body_end;
            valid_len = pos as u64;
            if pos - released >= RELEASE_EVERY {
                bytes.release(released..pos);
                released = pos;
            }
        }
        bytes.release(released..pos);

        let Some(header) = header else {
            return Err(ReadError::TruncatedHeader { len: file_len });
        };
        if let Some((count, seen, first_offset)) = unknown {
            let kinds = (0..=255u8).filter(|&k| seen[usize::from(k)]).collect();
            warnings.push(Warning::UnknownFrames {
                count,
                kinds,
                first_offset,
            });
        }
        if let Some((count, first_offset)) = unreadable_meta {
            warnings.push(Warning::UnreadableMeta {
                count,
                first_offset,
            });
        }
        if let Some((count, first)) = bad_code {
            warnings.push(Warning::BadCode { count, first });
        }
        if end.is_none()
            && !warnings
                .iter()
                .any(|w| matches!(w, Warning::Truncated { .. }))
        {
            warnings.push(Warning::NoEndRecord);
        }

        let mut by_thread: BTreeMap<ThreadId, Vec<usize>> = BTreeMap::new();
        for (i, c) in chunks.iter().enumerate() {
            by_thread.entry(c.header.thread).or_default().push(i);
        }
        for (thread, list) in by_thread.iter_mut() {
            list.sort_by_key(|&i| chunks[i].header.seq);
            for w in list.windows(2) {
                if chunks[w[0]].header.seq == chunks[w[1]].header.seq {
                    return Err(ReadError::corrupt(
                        chunks[w[1]].offset,
                        format!(
                            "thread {thread} has two chunks with sequence number {}",
                            chunks[w[1]].header.seq
                        ),
                    ));
                }
            }
            // Sequence numbers start at 0, so gaps before the first chunk count as missing too.
            let last = u64::from(chunks[*list.last().expect("non-empty")].header.seq);
            let missing = last + 1 - list.len() as u64;
            if missing > 0 {
                warnings.push(Warning::MissingChunks {
                    thread: *thread,
                    missing,
                });
            }
        }
        if let Some(e) = &end
            && (e.lost_chunks > 0 || e.lost_events > 0)
        {
            warnings.push(Warning::LostData {
                chunks: e.lost_chunks,
                events: e.lost_events,
            });
        }

        Ok(Trace {
            bytes,
            header,
            chunks,
            by_thread,
            strings,
            locations,
            code,
            task_dumps,
            threads,
            end,
            warnings,
            valid_len,
            file_bytes,
        })
    }

    /// Where the file's bytes go: events, and each kind of metadata.
    pub fn file_bytes(&self) -> &FileBytes {
        &self.file_bytes
    }

    /// The trace header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The end record, if the recording finished properly.
    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// What the reader noticed while opening (truncation, missing chunks, lost data).
    pub fn warnings(&self) -> &[Warning] {
        &self.warnings
    }

    /// Bytes of whole frames (the file length unless it was cut).
    pub fn valid_len(&self) -> u64 {
        self.valid_len
    }

    /// Every event chunk, in file order.
    pub fn chunks(&self) -> &[ChunkInfo] {
        &self.chunks
    }

    /// The threads that wrote chunks, in id order.
    pub fn thread_ids(&self) -> impl Iterator<Item = ThreadId> + '_ {
        self.by_thread.keys().copied()
    }

    /// Thread descriptions from metadata.
    pub fn threads(&self) -> &BTreeMap<ThreadId, ThreadDef> {
        &self.threads
    }

    /// The text of a string id (`None` for undefined ids; id 0 is `""`).
    pub fn string(&self, id: StringId) -> Option<&str> {
        if id.0 == 0 {
            return Some("");
        }
        self.strings.get(&id.0).map(String::as_str)
    }

    /// The trace's stacks, their symbols, mapped files and how stacks were sampled.
    pub fn code(&self) -> &CodeInfo {
        &self.code
    }

    /// The task dumps the recording took when it stopped, one per runtime, in file order
    /// (empty for a recorder built without `--cfg tokio_taskdump`).
    pub fn task_dumps(&self) -> &[TaskDump] {
        &self.task_dumps
    }

    /// A location by id.
    pub fn location(&self, id: LocationId) -> Option<&LocationDef> {
        self.locations.get(&id.0)
    }

    /// Every defined string, in no particular order.
    pub fn strings(&self) -> impl Iterator<Item = (StringId, &str)> + '_ {
        self.strings
            .iter()
            .map(|(&id, s)| (StringId(id), s.as_str()))
    }

    /// Every defined location, in no particular order.
    pub fn locations(&self) -> impl Iterator<Item = &LocationDef> + '_ {
        self.locations.values()
    }

    /// Nanoseconds from the trace start to `time` (0 for times before the start).
    pub fn to_nanos(&self, time: u64) -> u64 {
        self.header
            .clock
            .units_to_nanos(time.saturating_sub(self.header.start_time))
    }

    /// Decodes the events of one chunk, yielding `(time, event)`. After its last event it
    /// checks that the chunk holds as many events as its header declares and that the last
    /// one is at the header's end time, and yields an error if not: every way of reading
    /// events (per chunk, per thread, merged, [`Trace::validate`]) sees the same damage.
    ///
    /// Once a chunk has been read to its end, the pages of the file that only it uses are
    /// handed back to the OS (they are read again from the page cache if needed), so a pass
    /// over a large mapped trace does not keep the whole file resident.
    pub fn chunk_events(&self, chunk: &ChunkInfo) -> ChunkEvents<'_> {
        ChunkEvents::new(&self.bytes, chunk)
    }

    /// The events written by `thread`, in order, across its chunks.
    pub fn thread_events(&self, thread: ThreadId) -> ThreadEvents<'_> {
        let chunks = self
            .by_thread
            .get(&thread)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        ThreadEvents::new(&self.bytes, &self.chunks, thread, chunks)
    }

    /// Every event of every thread, merged in global time order (ties broken by thread id).
    pub fn events(&self) -> MergedEvents<'_> {
        MergedEvents::new(self.thread_ids().map(|t| self.thread_events(t)))
    }

    /// Decodes every chunk and checks that its header agrees with its events. Returns the
    /// number of events, or the first error in file order.
    pub fn validate(&self) -> Result<u64, ReadError> {
        self.chunks.iter().try_fold(0u64, |total, c| {
            Ok(total + u64::from(self.validate_chunk(c)?))
        })
    }

    /// Decodes one chunk and checks that its header agrees with its events (see
    /// [`Trace::chunk_events`]). Returns its number of events. Chunks are independent, so
    /// they may be validated in any order or in parallel.
    pub fn validate_chunk(&self, chunk: &ChunkInfo) -> Result<u32, ReadError> {
        let mut count = 0u32;
        for ev in self.chunk_events(chunk) {
            ev?;
            count = count.saturating_add(1);
        }
        Ok(count)
    }
}

/// The cut warning for a frame at `pos` that fails its checks, when the file (`len` bytes)
/// ends in zeros from `zeros` on and they reach back into the frame (which ends at
/// `frame_end`): the frame was being written when data stopped reaching the disk (power
/// loss, a full disk: the file system extended the file but never wrote the blocks), so it
/// is a cut, not damage. The zeros must be a frame header's worth or cover the frame
/// header's checksum, so that the zero bytes that end many a whole frame do not turn damage
/// to it into a cut.
fn cut_by_zeros(pos: usize, frame_end: usize, len: usize, zeros: usize) -> Option<Warning> {
    (zeros < frame_end && (len - zeros >= frame::FRAME_HEADER_LEN || zeros <= pos + 12))
        .then(|| cut_at(pos, len, zeros))
}

/// The warning for a file cut at `pos` (the end of its last whole frame), whose `len` bytes
/// end in zeros from `zeros` on (`len` when they do not).
fn cut_at(pos: usize, len: usize, zeros: usize) -> Warning {
    // Zeros are worth naming when they are what was discarded, or a block of them at least.
    let named = zeros < len && (zeros <= pos || len - zeros >= frame::FRAME_HEADER_LEN);
    Warning::Truncated {
        valid_len: pos as u64,
        discarded: (len - pos) as u64,
        zeros_from: named.then(|| zeros.max(pos) as u64),
    }
}
