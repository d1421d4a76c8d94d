//! The compact encoding of events inside an event chunk: `tag: u8`, `delta: varint`, then the
//! event's arguments. Each kind's tag and arguments come from the spec table
//! ([`crate::spec`]), which generates the per-kind code; this module holds what is common to
//! all kinds (encoding an event, decoding a chunk), and `args.rs` the per-argument
//! primitives that generated code calls (so they sit below the spec, and this module above
//! it). FORMAT.md gives the table in prose.
//!
//! Two per-chunk running values keep events small: the time of the previous event (so each
//! event stores a short delta) and the previous task id mentioned (so task ids are stored as a
//! small signed difference). Both reset at the start of every chunk, which keeps chunks
//! independently decodable.

use crate::spec::Event;
use crate::varint::MAX_VARINT_LEN;

pub(crate) mod args;

use args::Cursor;
pub use args::EncodeState;

/// Event tags. The first tag of each kind comes from the spec table ([`crate::spec`]); values
/// 0x80..=0xFF are extension events that carry a byte length, so a reader can skip kinds it
/// does not know.
pub mod tag {
    pub use crate::spec::tags::*;

    /// `PollEnd { ready: false }`.
    pub const POLL_END_PENDING: u8 = POLL_END;
    /// `PollEnd { ready: true }`.
    pub const POLL_END_READY: u8 = POLL_END + 1;
    /// `WAKE_BASE + source as u8`, one tag per [`crate::WakeSource`].
    pub const WAKE_BASE: u8 = WAKE;
    /// The tag of the last [`crate::WakeSource`].
    pub const WAKE_LAST: u8 = WAKE + crate::event::WakeSource::ALL.len() as u8 - 1;
}

/// Largest task id the encoding round-trips. Recorders hand out ids from 1 upwards.
pub const MAX_TASK_ID: u64 = (1 << 63) - 1;

/// Encoded size bound of every event except those with a payload (`Log`, `Unknown`), whose
/// bound is this plus the payload length; see [`max_encoded_len`].
pub const MAX_FIXED_EVENT_LEN: usize = 2 + 6 * MAX_VARINT_LEN;

/// An upper bound of the bytes [`encode`] writes for `event`.
#[inline]
pub fn max_encoded_len(event: &Event<'_>) -> usize {
    MAX_FIXED_EVENT_LEN + event.payload_len()
}

/// Encodes `event` at `time` into the start of `out` and returns the number of bytes written.
///
/// `out` must hold at least [`max_encoded_len`]`(event)` bytes. A time earlier than the
/// previous event's is written as equal to it: within a thread, time never goes backwards.
///
/// ```
/// use trace_format::{codec, Event, TaskId};
/// let mut state = codec::EncodeState::new(1_000);
/// let mut buf = [0u8; codec::MAX_FIXED_EVENT_LEN];
/// let n = codec::encode(&mut state, &mut buf, 1_005, &Event::PollStart { task: TaskId(7) });
/// assert_eq!(n, 3); // tag, time delta 5, task delta +7
/// ```
#[inline(always)]
pub fn encode(state: &mut EncodeState, out: &mut [u8], time: u64, event: &Event<'_>) -> usize {
    let time = time.max(state.last_time);
    let delta = time - state.last_time;
    state.last_time = time;
    // Tag, delta, then the arguments the spec table lists, generated from the table.
    event.encode_with_delta(out, delta, state)
}

/// Why the bytes of an event chunk could not be decoded. `offset` is relative to the start
/// of the chunk's event bytes; the reader turns it into a file offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// Where the offending event starts.
    pub offset: usize,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Iterates the events of one chunk's event bytes, yielding `(time, event)`.
/// After an error it yields nothing more.
#[derive(Debug, Clone)]
pub struct ChunkDecoder<'a> {
    cursor: Cursor<'a>,
    failed: bool,
}

impl<'a> ChunkDecoder<'a> {
    /// Decodes `bytes`, the events of a chunk whose base time is `base_time`.
    pub fn new(bytes: &'a [u8], base_time: u64) -> Self {
        Self::with_state(bytes, EncodeState::new(base_time))
    }

    /// Offset of the next event within the chunk's event bytes.
    pub fn position(&self) -> usize {
        self.cursor.pos
    }

    /// Continues decoding `bytes` from running values `state` (rather than a chunk's start).
    pub(crate) fn with_state(bytes: &'a [u8], state: EncodeState) -> Self {
        ChunkDecoder {
            cursor: Cursor {
                bytes,
                pos: 0,
                state,
            },
            failed: false,
        }
    }
}

impl<'a> Iterator for ChunkDecoder<'a> {
    type Item = Result<(u64, Event<'a>), DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        let c = &mut self.cursor;
        if self.failed || c.pos >= c.bytes.len() {
            return None;
        }
        let start = c.pos;
        let fail = |this: &mut Self, reason| {
            this.failed = true;
            Some(Err(DecodeError {
                offset: start,
                reason,
            }))
        };
        let t = c.bytes[start];
        c.pos += 1;
        let Some(delta) = c.var() else {
            return fail(self, "event cut short or malformed varint");
        };
        let Some(time) = c.state.last_time.checked_add(delta) else {
            return fail(self, "event time overflows");
        };
        c.state.last_time = time;
        match Event::decode_args(t, c) {
            Ok(ev) => Some(Ok((time, ev))),
            Err(reason) => fail(self, reason),
        }
    }
}

impl std::iter::FusedIterator for ChunkDecoder<'_> {}
