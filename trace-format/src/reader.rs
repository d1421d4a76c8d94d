//! Reading a trace: the file is mapped (or held) whole, its frames are checked once on open
//! and indexed, metadata is loaded, and events are decoded lazily per chunk, per thread or
//! merged across threads in global time order.
//!
//! Robustness rules: a file that ends inside a frame reads back to its last whole frame with
//! a [`Warning::Truncated`]; a frame whose checksums fail is a [`ReadError::Corrupt`] naming
//! its byte offset. No input makes the reader panic.

use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use crate::code::CodeInfo;
use crate::codec::{ChunkDecoder, DecodeError};
use crate::event::{LocationId, StringId, ThreadId};
use crate::frame::{self, EventChunkHeader, kind};
use crate::meta::{End, Header, LocationDef, Meta, ThreadDef};
use crate::spec::Event;

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or mapped.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The first bytes are not the trace-rt magic.
    #[error("not a trace-rt trace (the file does not start with \"TRACE-RT\")")]
    NotATrace,
    /// The file was written by a newer format version than this reader knows (a version
    /// above the newest it reads, by at most [`frame::NEWER_VERSION_SPAN`]).
    #[error(
        "trace format version {0} is newer than this reader (it handles versions {min} to \
         {max}); use a newer trace-viewer",
        min = frame::READABLE_VERSIONS.start(),
        max = frame::READABLE_VERSIONS.end()
    )]
    UnsupportedVersion(u16),
    /// The version field holds a number that is not a format version (0, or far above the
    /// newest one): the preamble is damaged.
    #[error(
        "trace header is damaged: its format version reads {0}, which no trace-rt writes \
         (this reader handles versions {min} to {max}; versions count up from 1)",
        min = frame::READABLE_VERSIONS.start(),
        max = frame::READABLE_VERSIONS.end()
    )]
    DamagedVersion(u16),
    /// The file ends before its header is complete.
    #[error("trace is cut short inside its header ({len} bytes); nothing can be read")]
    TruncatedHeader {
        /// File length.
        len: u64,
    },
    /// A frame or event is damaged.
    #[error("corrupt trace at byte {offset}: {reason}")]
    Corrupt {
        /// Byte offset in the file of the damaged frame or event.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
}

impl ReadError {
    fn corrupt(offset: u64, reason: impl Into<String>) -> Self {
        ReadError::Corrupt {
            offset,
            reason: reason.into(),
        }
    }
}

/// Something the reader noticed that does not stop it from reading.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// The file ends inside a frame: everything up to `valid_len` was read, `discarded` bytes
    /// after it were not.
    Truncated {
        /// Bytes of whole frames.
        valid_len: u64,
        /// Bytes of the partial frame at the end.
        discarded: u64,
        /// Where the run of zero bytes that ends the file starts, when the discarded bytes
        /// end in one of at least [`frame::FRAME_HEADER_LEN`] bytes: space the file system
        /// allocated but whose data never reached the disk (power loss, a full disk).
        zeros_from: Option<u64>,
    },
    /// The file has no end record: the recording did not finish (crash, kill, full disk) or
    /// the file was cut exactly at a frame boundary.
    NoEndRecord,
    /// Frames of kinds this reader does not know (extensions from a newer writer) were
    /// skipped, as FORMAT.md allows. One warning for all of them.
    UnknownFrames {
        /// How many frames were skipped.
        count: u64,
        /// Their distinct kinds, ascending.
        kinds: Vec<u8>,
        /// Byte offset of the first one.
        first_offset: u64,
    },
    /// Metadata records this reader cannot decode (probably from a newer writer) were
    /// skipped. One warning for all of them.
    UnreadableMeta {
        /// How many records were skipped.
        count: u64,
        /// Byte offset of the first one.
        first_offset: u64,
    },
    /// A thread's chunk sequence has gaps: chunks were dropped before they reached the file.
    MissingChunks {
        /// The thread.
        thread: ThreadId,
        /// How many sequence numbers are missing.
        missing: u64,
    },
    /// The recorder reported dropped data (from `Lost` events and the end record).
    LostData {
        /// Chunks dropped.
        chunks: u64,
        /// Events in them.
        events: u64,
    },
}

impl Warning {
    /// True for warnings that say nothing is missing from what the recording wrote: frames
    /// of unknown kinds, which FORMAT.md makes skippable so that newer writers can add them.
    pub fn is_benign(&self) -> bool {
        matches!(self, Warning::UnknownFrames { .. })
    }
}

/// The first `max` items of a list, then how many more there are: keeps every message short
/// whatever the file holds.
fn bounded_list(items: &[u8], max: usize) -> String {
    let mut s = items
        .iter()
        .take(max)
        .map(u8::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > max {
        s += &format!(" and {} more", items.len() - max);
    }
    s
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::Truncated {
                valid_len,
                discarded,
                zeros_from: None,
            } => write!(
                f,
                "trace is cut short: read up to byte {valid_len}, the last {discarded} bytes \
                 (a partial chunk) were discarded"
            ),
            Warning::Truncated {
                valid_len,
                discarded,
                zeros_from: Some(zeros),
            } => write!(
                f,
                "trace is cut short: read up to byte {valid_len}, the last {discarded} bytes \
                 were discarded; from byte {zeros} to the end the file holds only zeros \
                 (space allocated but never written, as power loss or a full disk leaves it)"
            ),
            Warning::NoEndRecord => write!(
                f,
                "trace has no end record: the recording did not finish, data after the last \
                 chunk is missing"
            ),
            Warning::UnknownFrames {
                count,
                kinds,
                first_offset,
            } => write!(
                f,
                "skipped {count} frame(s) of unknown kind(s) {} (extensions this reader does \
                 not know; the first at byte {first_offset})",
                bounded_list(kinds, 8)
            ),
            Warning::UnreadableMeta {
                count,
                first_offset,
            } => write!(
                f,
                "skipped {count} unreadable metadata record(s) (the first at byte \
                 {first_offset}): some names may show as unknown"
            ),
            Warning::MissingChunks { thread, missing } => {
                write!(
                    f,
                    "thread {thread}: {missing} chunk(s) missing from the file"
                )
            }
            Warning::LostData { chunks, events } => write!(
                f,
                "the recorder dropped {chunks} chunk(s) with {events} event(s) before they \
                 reached the file"
            ),
        }
    }
}

/// Where an event chunk is and what its header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkInfo {
    /// Byte offset of the chunk's frame.
    pub offset: u64,
    /// Byte offset of its first event.
    pub events_offset: u64,
    /// Length of its event bytes.
    pub events_len: u32,
    /// The fixed header.
    pub header: EventChunkHeader,
}

/// One decoded event with the thread that wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record<'a> {
    /// Time in clock units (see [`Trace::to_nanos`]).
    pub time: u64,
    /// The thread that wrote it.
    pub thread: ThreadId,
    /// What happened.
    pub event: Event<'a>,
}

enum Bytes {
    Mapped(memmap2::Mmap),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
        }
    }
}

impl Bytes {
    /// Tells the OS that the mapped pages over `range` are not needed for now: they leave
    /// this process's resident set, and come back from the page cache (or the file) if they
    /// are read again. This keeps a pass over a large trace from making the whole file
    /// resident. A no-op for bytes held in memory and off Unix.
    ///
    /// The range is widened by [`FAULT_AROUND`] on both sides: a page fault maps the cached
    /// pages around the faulting one too, so reading a chunk also maps parts of its
    /// neighbours, which would otherwise stay mapped when those were read earlier. Pages
    /// released while another reader still needs them are simply read again.
    fn release(&self, range: std::ops::Range<usize>) {
        #[cfg(unix)]
        if let Bytes::Mapped(map) = self {
            let page = page_size();
            let start = range.start.saturating_sub(FAULT_AROUND) / page * page;
            // Within the map, as memmap2 requires; madvise itself rounds the length up to
            // whole pages, which covers the map's last, partial page.
            let end = range
                .end
                .saturating_add(FAULT_AROUND)
                .next_multiple_of(page)
                .min(map.len());
            if end > start {
                // SAFETY: `map` is a read-only `MAP_SHARED` mapping of a file (memmap2's
                // `Mmap::map`). For such a mapping MADV_DONTNEED only unmaps the pages: the
                // next access faults them back in from the page cache or the file, with the
                // same contents, exactly as after the kernel reclaims them under memory
                // pressure. So bytes borrowed from the map (by this or another thread) never
                // change; the one hazard, the file being modified while mapped, is the one
                // every mapping has (see `Trace::open` and FORMAT.md §7). `start..end` lies
                // inside the map and starts on a page. An error only means the pages stay.
                let _ = unsafe {
                    map.unchecked_advise_range(
                        memmap2::UncheckedAdvice::DontNeed,
                        start,
                        end - start,
                    )
                };
            }
        }
        #[cfg(not(unix))]
        let _ = range;
    }

    /// Where the run of zero bytes that ends `self[..len]` starts (`len` when the last byte
    /// is not zero). Scans backwards in bounded windows, releasing each (see
    /// [`Bytes::release`]), so a long zero-filled or sparse tail never becomes resident.
    fn zero_tail_start(&self, len: usize) -> usize {
        const WINDOW: usize = 1 << 20;
        const BLOCK: usize = 4096;
        let data = &self[..len];
        let mut end = len;
        while end > 0 {
            let start = end.saturating_sub(WINDOW);
            let window = &data[start..end];
            // OR-folding whole blocks (no early exit) vectorizes; only the block holding the
            // last non-zero byte is searched byte by byte.
            let mut found = None;
            let mut block_end = window.len();
            while block_end > 0 {
                let block_start = block_end.saturating_sub(BLOCK);
                let block = &window[block_start..block_end];
                if block.iter().fold(0u8, |acc, &b| acc | b) != 0 {
                    found = block.iter().rposition(|&b| b != 0).map(|i| block_start + i);
                    break;
                }
                block_end = block_start;
            }
            self.release(start..end);
            if let Some(i) = found {
                return start + i + 1;
            }
            end = start;
        }
        0
    }
}

/// The OS page size (what `madvise` ranges must be aligned to).
#[cfg(unix)]
fn page_size() -> usize {
    static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *PAGE.get_or_init(|| {
        // SAFETY: sysconf has no preconditions; it returns -1 on error, handled below.
        let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        usize::try_from(n)
            .ok()
            .filter(|n| n.is_power_of_two())
            .unwrap_or(4096)
    })
}

/// How far around a faulting page the kernel may map cached pages (Linux's default
/// `fault_around_bytes` is 64 KiB).
const FAULT_AROUND: usize = 64 << 10;

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
    end: Option<End>,
    warnings: Vec<Warning>,
    valid_len: u64,
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
        let mut end = None;
        let mut warnings = Vec::new();
        let mut unknown: Option<(u64, [bool; 256], u64)> = None;
        let mut unreadable_meta: Option<(u64, u64)> = None;
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
                kind::META => match postcard::from_bytes::<Meta>(payload) {
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
                    Ok(Meta::Symbols(s)) => code.add_symbols(s),
                    Ok(Meta::Mappings(m)) => code.add_mappings(m),
                    Ok(Meta::Sampling(s)) => code.set_sampling(s),
                    Err(_) => unreadable_meta.get_or_insert((0, offset)).0 += 1,
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
            threads,
            end,
            warnings,
            valid_len,
        })
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
        let start = chunk.events_offset as usize;
        let range = start..start + chunk.events_len as usize;
        let bytes = self.bytes.get(range.clone()).unwrap_or(&[]);
        ChunkEvents {
            inner: ChunkDecoder::new(bytes, chunk.header.base_time),
            base_offset: chunk.events_offset,
            chunk: *chunk,
            count: 0,
            last_time: chunk.header.base_time,
            state: ChunkState::Decoding,
            release: Some((&self.bytes, range)),
        }
    }

    /// The events written by `thread`, in order, across its chunks.
    pub fn thread_events(&self, thread: ThreadId) -> ThreadEvents<'_> {
        let chunks = self
            .by_thread
            .get(&thread)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        ThreadEvents {
            trace: self,
            thread,
            chunks,
            current: None,
        }
    }

    /// Every event of every thread, merged in global time order (ties broken by thread id).
    pub fn events(&self) -> MergedEvents<'_> {
        let mut cursors = Vec::new();
        let mut heap = BinaryHeap::new();
        for thread in self.thread_ids() {
            cursors.push(self.thread_events(thread).peekable());
        }
        for (i, c) in cursors.iter_mut().enumerate() {
            if let Some(Ok(r)) = c.peek() {
                heap.push(std::cmp::Reverse((r.time, r.thread, i)));
            }
        }
        MergedEvents {
            cursors,
            heap,
            pending_error: None,
        }
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

/// Events of one chunk. See [`Trace::chunk_events`].
#[derive(Clone)]
pub struct ChunkEvents<'a> {
    inner: ChunkDecoder<'a>,
    base_offset: u64,
    chunk: ChunkInfo,
    count: u32,
    last_time: u64,
    state: ChunkState,
    /// The bytes to release once the chunk has been read to its end.
    release: Option<(&'a Bytes, std::ops::Range<usize>)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    Decoding,
    /// An error was yielded; nothing more follows.
    Failed,
    Done,
}

impl fmt::Debug for ChunkEvents<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkEvents")
            .field("chunk", &self.chunk)
            .field("count", &self.count)
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl ChunkEvents<'_> {
    /// The error for a chunk whose events do not match its header, if they do not.
    fn header_mismatch(&self) -> Option<ReadError> {
        let h = &self.chunk.header;
        if self.count != h.event_count {
            return Some(ReadError::corrupt(
                self.chunk.offset,
                format!(
                    "chunk declares {} events but holds {}",
                    h.event_count, self.count
                ),
            ));
        }
        (self.last_time != h.end_time).then(|| {
            ReadError::corrupt(
                self.chunk.offset,
                "chunk end time does not match its last event",
            )
        })
    }
}

impl<'a> Iterator for ChunkEvents<'a> {
    type Item = Result<(u64, Event<'a>), ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.state != ChunkState::Decoding {
            return None;
        }
        match self.inner.next() {
            Some(Ok((time, event))) => {
                self.count = self.count.saturating_add(1);
                self.last_time = time;
                Some(Ok((time, event)))
            }
            Some(Err(DecodeError { offset, reason })) => {
                self.state = ChunkState::Failed;
                Some(Err(ReadError::corrupt(
                    self.base_offset + offset as u64,
                    reason,
                )))
            }
            None => {
                if let Some((bytes, range)) = self.release.take() {
                    bytes.release(range);
                }
                match self.header_mismatch() {
                    Some(e) => {
                        self.state = ChunkState::Failed;
                        Some(Err(e))
                    }
                    None => {
                        self.state = ChunkState::Done;
                        None
                    }
                }
            }
        }
    }
}

/// Events of one thread. See [`Trace::thread_events`].
pub struct ThreadEvents<'a> {
    trace: &'a Trace,
    thread: ThreadId,
    chunks: &'a [usize],
    current: Option<ChunkEvents<'a>>,
}

impl<'a> Iterator for ThreadEvents<'a> {
    type Item = Result<Record<'a>, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(cur) = &mut self.current {
                match cur.next() {
                    Some(Ok((time, event))) => {
                        return Some(Ok(Record {
                            time,
                            thread: self.thread,
                            event,
                        }));
                    }
                    Some(Err(e)) => {
                        self.chunks = &[];
                        self.current = None;
                        return Some(Err(e));
                    }
                    None => self.current = None,
                }
            }
            let (&first, rest) = self.chunks.split_first()?;
            self.chunks = rest;
            self.current = Some(self.trace.chunk_events(&self.trace.chunks[first]));
        }
    }
}

/// Events of all threads in time order. See [`Trace::events`]. Yields an error (and then
/// stops) when any chunk fails to decode.
pub struct MergedEvents<'a> {
    cursors: Vec<std::iter::Peekable<ThreadEvents<'a>>>,
    heap: BinaryHeap<std::cmp::Reverse<(u64, ThreadId, usize)>>,
    pending_error: Option<ReadError>,
}

impl<'a> Iterator for MergedEvents<'a> {
    type Item = Result<Record<'a>, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.pending_error.take() {
            self.heap.clear();
            return Some(Err(e));
        }
        if self.heap.is_empty() {
            // A cursor whose very first item is an error never entered the heap.
            for c in &mut self.cursors {
                if let Some(Err(_)) = c.peek() {
                    let e = c.next().and_then(Result::err);
                    self.cursors.clear();
                    return e.map(Err);
                }
            }
            return None;
        }
        let std::cmp::Reverse((_, _, i)) = self.heap.pop()?;
        let cursor = &mut self.cursors[i];
        let record = match cursor.next()? {
            Ok(r) => r,
            Err(e) => return Some(Err(e)),
        };
        match cursor.peek() {
            Some(Ok(r)) => self.heap.push(std::cmp::Reverse((r.time, r.thread, i))),
            Some(Err(_)) => {
                self.pending_error = cursor.next().and_then(Result::err);
            }
            None => {}
        }
        Some(Ok(record))
    }
}
