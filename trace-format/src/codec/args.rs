//! What the code generated from the spec table ([`crate::spec`]) encodes and decodes
//! arguments with: the running values that make an event relative to the ones before it
//! ([`EncodeState`]), the cursor an event's arguments are read from ([`Cursor`]), and how each
//! argument type is stored ([`Arg`], [`TagArg`]). It knows the argument types
//! ([`crate::event`]) and varints, nothing about event kinds, so the spec can build on it and
//! the chunk codec ([`crate::codec`]) on the spec.

use crate::event::{
    Level, LocationId, PauseScope, StackId, StringId, TaskId, TaskKind, ThreadKind, WakeSource,
};
use crate::varint::{self, MAX_VARINT_LEN};

/// The running values that make events relative to the ones before them in the same chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EncodeState {
    /// Time of the previous event (the chunk's base time before the first one).
    pub last_time: u64,
    /// Last non-zero task id mentioned.
    pub last_task: u64,
}

impl EncodeState {
    /// The state at the start of a chunk whose base time is `base_time`.
    #[inline]
    pub fn new(base_time: u64) -> Self {
        EncodeState {
            last_time: base_time,
            last_task: 0,
        }
    }
}

/// A position in a chunk's event bytes and the running values there: what the chunk decoder
/// reads tags and time deltas with and the generated code reads arguments with.
#[derive(Debug, Clone)]
pub(crate) struct Cursor<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) pos: usize,
    pub(crate) state: EncodeState,
}

impl<'a> Cursor<'a> {
    pub(crate) fn byte(&mut self) -> Option<u8> {
        let b = *self.bytes.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    pub(crate) fn var(&mut self) -> Option<u64> {
        varint::get(self.bytes, &mut self.pos)
    }

    pub(crate) fn var32(&mut self) -> Option<u32> {
        self.var().and_then(|v| u32::try_from(v).ok())
    }

    pub(crate) fn task(&mut self) -> Option<TaskId> {
        let e = self.var()?;
        if e == 0 {
            return Some(TaskId::NONE);
        }
        let v = self
            .state
            .last_task
            .wrapping_add(varint::unzigzag(e - 1) as u64);
        self.state.last_task = v;
        Some(TaskId(v))
    }

    pub(crate) fn payload(&mut self) -> Option<&'a [u8]> {
        let len = usize::try_from(self.var()?).ok()?;
        let end = self.pos.checked_add(len)?;
        let b = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(b)
    }
}

/// How one argument type is stored in an event's bytes. Implemented for every type the spec
/// table uses; the generated codec calls these, and they inline to what a hand-written
/// encoder would do.
pub(crate) trait Arg<'a>: Copy {
    /// The encoding's name in FORMAT.md's event table.
    const ENCODING: &'static str;
    /// The most bytes [`Arg::put`] writes, not counting a payload's own bytes.
    const MAX_LEN: usize;
    /// Writes the argument at `out[pos..]`, returns the position after it.
    fn put(self, out: &mut [u8], pos: usize, state: &mut EncodeState) -> usize;
    /// Reads the argument.
    fn get(d: &mut Cursor<'a>) -> Result<Self, &'static str>;
    /// Payload bytes written beyond [`Arg::MAX_LEN`] (a message's or extension's bytes).
    #[inline(always)]
    fn payload_len(self) -> usize {
        0
    }
}

/// An argument folded into the tag: the kind owns [`TagArg::COUNT`] consecutive tags, and the
/// argument is the tag's offset from the first.
pub(crate) trait TagArg: Copy {
    /// How many tags the kind owns.
    const COUNT: u8;
    /// This value's offset from the kind's first tag.
    fn offset(self) -> u8;
    /// The value at `offset` (`offset < COUNT`).
    fn from_offset(offset: u8) -> Self;
}

pub(crate) const CUT: &str = "event cut short or malformed varint";

impl Arg<'_> for u64 {
    const ENCODING: &'static str = "varint";
    const MAX_LEN: usize = MAX_VARINT_LEN;
    #[inline(always)]
    fn put(self, out: &mut [u8], pos: usize, _: &mut EncodeState) -> usize {
        varint::put(out, pos, self)
    }
    #[inline]
    fn get(d: &mut Cursor<'_>) -> Result<Self, &'static str> {
        d.var().ok_or(CUT)
    }
}

impl Arg<'_> for u32 {
    const ENCODING: &'static str = "varint(u32)";
    const MAX_LEN: usize = 5;
    #[inline(always)]
    fn put(self, out: &mut [u8], pos: usize, _: &mut EncodeState) -> usize {
        varint::put(out, pos, u64::from(self))
    }
    #[inline]
    fn get(d: &mut Cursor<'_>) -> Result<Self, &'static str> {
        d.var32().ok_or(CUT)
    }
}

impl Arg<'_> for i64 {
    const ENCODING: &'static str = "zigzag";
    const MAX_LEN: usize = MAX_VARINT_LEN;
    #[inline(always)]
    fn put(self, out: &mut [u8], pos: usize, _: &mut EncodeState) -> usize {
        varint::put(out, pos, varint::zigzag(self))
    }
    #[inline]
    fn get(d: &mut Cursor<'_>) -> Result<Self, &'static str> {
        d.var().map(varint::unzigzag).ok_or(CUT)
    }
}

impl Arg<'_> for TaskId {
    const ENCODING: &'static str = "T";
    const MAX_LEN: usize = MAX_VARINT_LEN;
    #[inline(always)]
    fn put(self, out: &mut [u8], pos: usize, state: &mut EncodeState) -> usize {
        if self.0 == 0 {
            return varint::put(out, pos, 0);
        }
        let delta = self.0.wrapping_sub(state.last_task) as i64;
        state.last_task = self.0;
        // Wraps (to "no task") only for ids above `MAX_TASK_ID`, which the format cannot
        // hold; release builds always wrapped, and this keeps debug builds from panicking
        // on them (the text form's checks catch them).
        varint::put(out, pos, varint::zigzag(delta).wrapping_add(1))
    }
    #[inline]
    fn get(d: &mut Cursor<'_>) -> Result<Self, &'static str> {
        d.task().ok_or(CUT)
    }
}

macro_rules! id_arg {
    ($ty:ident) => {
        impl Arg<'_> for $ty {
            const ENCODING: &'static str = stringify!($ty);
            const MAX_LEN: usize = 5;
            #[inline(always)]
            fn put(self, out: &mut [u8], pos: usize, _: &mut EncodeState) -> usize {
                varint::put(out, pos, u64::from(self.0))
            }
            #[inline]
            fn get(d: &mut Cursor<'_>) -> Result<Self, &'static str> {
                d.var32().map($ty).ok_or(CUT)
            }
        }
    };
}
id_arg!(StringId);
id_arg!(LocationId);
id_arg!(StackId);

macro_rules! u8_arg {
    ($ty:ident, $bad:literal) => {
        impl Arg<'_> for $ty {
            const ENCODING: &'static str = "u8";
            const MAX_LEN: usize = 1;
            #[inline(always)]
            fn put(self, out: &mut [u8], pos: usize, _: &mut EncodeState) -> usize {
                out[pos] = self as u8;
                pos + 1
            }
            #[inline]
            fn get(d: &mut Cursor<'_>) -> Result<Self, &'static str> {
                $ty::from_u8(d.byte().ok_or(CUT)?).ok_or($bad)
            }
        }
    };
}
u8_arg!(ThreadKind, "bad thread kind");
u8_arg!(TaskKind, "bad task kind");
u8_arg!(PauseScope, "bad pause scope");
u8_arg!(Level, "bad log level");

impl<'a> Arg<'a> for &'a [u8] {
    const ENCODING: &'static str = "bytes";
    const MAX_LEN: usize = MAX_VARINT_LEN;
    #[inline(always)]
    fn put(self, out: &mut [u8], pos: usize, _: &mut EncodeState) -> usize {
        let pos = varint::put(out, pos, self.len() as u64);
        out[pos..pos + self.len()].copy_from_slice(self);
        pos + self.len()
    }
    #[inline]
    fn get(d: &mut Cursor<'a>) -> Result<Self, &'static str> {
        d.payload().ok_or(CUT)
    }
    #[inline(always)]
    fn payload_len(self) -> usize {
        self.len()
    }
}

impl<'a> Arg<'a> for &'a str {
    const ENCODING: &'static str = "bytes";
    const MAX_LEN: usize = MAX_VARINT_LEN;
    #[inline(always)]
    fn put(self, out: &mut [u8], pos: usize, state: &mut EncodeState) -> usize {
        self.as_bytes().put(out, pos, state)
    }
    #[inline]
    fn get(d: &mut Cursor<'a>) -> Result<Self, &'static str> {
        // The only text argument today is a log message; the reason names it as before.
        std::str::from_utf8(d.payload().ok_or(CUT)?).map_err(|_| "log message is not UTF-8")
    }
    #[inline(always)]
    fn payload_len(self) -> usize {
        self.len()
    }
}

impl TagArg for bool {
    const COUNT: u8 = 2;
    #[inline(always)]
    fn offset(self) -> u8 {
        u8::from(self)
    }
    #[inline]
    fn from_offset(offset: u8) -> Self {
        offset != 0
    }
}

impl TagArg for WakeSource {
    const COUNT: u8 = WakeSource::ALL.len() as u8;
    #[inline(always)]
    fn offset(self) -> u8 {
        self as u8
    }
    #[inline]
    fn from_offset(offset: u8) -> Self {
        WakeSource::ALL[usize::from(offset)]
    }
}
