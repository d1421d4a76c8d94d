//! What can go wrong reading a trace ([`ReadError`]) and what the reader notices without
//! stopping ([`Warning`]), with the messages both print.

use std::fmt;
use std::path::PathBuf;

use crate::event::ThreadId;
use crate::frame;

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
    pub(super) fn corrupt(offset: u64, reason: impl Into<String>) -> Self {
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
    /// Stack or symbol records that decode but cannot be read back (a stack built on a stack
    /// that is not defined, a symbol table that does not inflate): what they define is
    /// missing. One warning for all of them, naming the first.
    BadCode {
        /// How many stacks or tables were skipped.
        count: u64,
        /// What is wrong with the first one.
        first: String,
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
            Warning::BadCode { count, first } => write!(
                f,
                "skipped {count} unreadable stack or symbol definition(s) (the first: {first}): \
                 samples may show without stacks or names"
            ),
            Warning::LostData { chunks, events } => write!(
                f,
                "the recorder dropped {chunks} chunk(s) with {events} event(s) before they \
                 reached the file"
            ),
        }
    }
}
