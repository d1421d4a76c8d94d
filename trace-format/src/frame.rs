//! The byte layout around records: the file preamble and the checksummed frames that hold
//! every chunk. This is the only module that knows byte offsets.

/// The first 8 bytes of every trace file.
pub const MAGIC: [u8; 8] = *b"TRACE-RT";
/// The format version this crate writes.
pub const VERSION: u16 = 1;
/// Versions this crate reads.
pub const READABLE_VERSIONS: std::ops::RangeInclusive<u16> = 1..=1;
/// How far above the newest readable version a version may be and still be taken for a
/// newer format (versions count up by one from 1); anything further, or 0, is a damaged
/// preamble, not a reason to look for a newer reader.
pub const NEWER_VERSION_SPAN: u16 = 16;
/// Bytes before the first frame: magic, version (u16 LE), reserved (u16, zero).
pub const PREAMBLE_LEN: usize = 12;

/// Bytes of a frame header: kind (u8), reserved (u8, u16), payload length (u32 LE), payload
/// CRC-32 (u32 LE), CRC-32 of the first 12 header bytes (u32 LE).
pub const FRAME_HEADER_LEN: usize = 16;
/// Largest payload a frame may declare (a guard against absurd lengths).
pub const MAX_FRAME_PAYLOAD: u32 = 1 << 30;

/// Bytes of the fixed header at the start of an event chunk's payload.
pub const EVENT_CHUNK_HEADER_LEN: usize = 32;

/// Kinds of frame. Unknown kinds are skipped by readers.
pub mod kind {
    /// A postcard [`crate::Header`]; always the first frame.
    pub const HEADER: u8 = 1;
    /// An event chunk: [`crate::EventChunkHeader`] then encoded events.
    pub const EVENTS: u8 = 2;
    /// A postcard [`crate::Meta`].
    pub const META: u8 = 3;
    /// A postcard [`crate::End`]; the last frame of a finished trace.
    pub const END: u8 = 4;
}

/// The file preamble for [`VERSION`].
pub fn preamble() -> [u8; PREAMBLE_LEN] {
    let mut p = [0u8; PREAMBLE_LEN];
    p[..8].copy_from_slice(&MAGIC);
    p[8..10].copy_from_slice(&VERSION.to_le_bytes());
    p
}

/// Builds the header of a frame holding a payload with the given CRC and length.
pub fn frame_header(kind: u8, payload_len: u32, payload_crc: u32) -> [u8; FRAME_HEADER_LEN] {
    let mut h = [0u8; FRAME_HEADER_LEN];
    h[0] = kind;
    h[4..8].copy_from_slice(&payload_len.to_le_bytes());
    h[8..12].copy_from_slice(&payload_crc.to_le_bytes());
    let hc = crc32fast::hash(&h[..12]);
    h[12..16].copy_from_slice(&hc.to_le_bytes());
    h
}

/// A frame header read back and checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Frame kind.
    pub kind: u8,
    /// Payload length.
    pub len: u32,
    /// CRC-32 of the payload.
    pub crc: u32,
}

/// Parses a frame header; `Err` with a reason when its own checksum or reserved bytes are wrong.
pub fn parse_frame_header(h: &[u8; FRAME_HEADER_LEN]) -> Result<FrameHeader, &'static str> {
    let stored = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
    if crc32fast::hash(&h[..12]) != stored {
        return Err("frame header checksum mismatch");
    }
    if h[1] != 0 || h[2] != 0 || h[3] != 0 {
        return Err("frame header reserved bytes are not zero");
    }
    let len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
    if len > MAX_FRAME_PAYLOAD {
        return Err("frame length is implausibly large");
    }
    Ok(FrameHeader {
        kind: h[0],
        len,
        crc: u32::from_le_bytes([h[8], h[9], h[10], h[11]]),
    })
}

/// The fixed fields at the start of an event chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventChunkHeader {
    /// Trace-local id of the thread that wrote every event in the chunk.
    pub thread: u32,
    /// Per-thread sequence number, from 0; a gap means chunks were lost.
    pub seq: u32,
    /// Time the event deltas start from (usually the first event's time).
    pub base_time: u64,
    /// Time of the last event (equal to `base_time` for an empty chunk).
    pub end_time: u64,
    /// Number of events.
    pub event_count: u32,
}

impl EventChunkHeader {
    /// The header's bytes: thread, seq (u32 LE), base, end (u64 LE), count (u32 LE), reserved (u32).
    pub fn to_bytes(&self) -> [u8; EVENT_CHUNK_HEADER_LEN] {
        let mut b = [0u8; EVENT_CHUNK_HEADER_LEN];
        b[0..4].copy_from_slice(&self.thread.to_le_bytes());
        b[4..8].copy_from_slice(&self.seq.to_le_bytes());
        b[8..16].copy_from_slice(&self.base_time.to_le_bytes());
        b[16..24].copy_from_slice(&self.end_time.to_le_bytes());
        b[24..28].copy_from_slice(&self.event_count.to_le_bytes());
        b
    }

    /// Parses the header from the start of an event chunk payload.
    pub fn from_bytes(b: &[u8; EVENT_CHUNK_HEADER_LEN]) -> Result<Self, &'static str> {
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(a)
        };
        if u32_at(28) != 0 {
            return Err("event chunk reserved field is not zero");
        }
        let h = EventChunkHeader {
            thread: u32_at(0),
            seq: u32_at(4),
            base_time: u64_at(8),
            end_time: u64_at(16),
            event_count: u32_at(24),
        };
        if h.end_time < h.base_time {
            return Err("event chunk ends before it begins");
        }
        Ok(h)
    }
}
