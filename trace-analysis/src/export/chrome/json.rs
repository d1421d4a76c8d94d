//! The JSON record writer: a buffer handed to the output in pieces, numbers and escaped
//! strings written straight into it.

use std::io::{self, Write};

use crate::model::Nanos;

/// Buffered output is handed to the writer in pieces of about this size.
const FLUSH_AT: usize = 256 * 1024;

/// The start of an event up to its pid: `,\n{"ph":PH,"cat":CAT,"pid":`, one copy.
macro_rules! head {
    ($ph:literal, $cat:literal) => {
        Head(concat!(",\n{\"ph\":\"", $ph, "\",\"cat\":\"", $cat, "\",\"pid\":").as_bytes())
    };
}
pub(super) use head;

/// An event's start, made by [`head!`].
#[derive(Clone, Copy)]
pub(super) struct Head(pub(super) &'static [u8]);

/// The output buffer and the bytes handed on so far.
pub(super) struct Out<W: Write> {
    pub(super) w: W,
    pub(super) buf: Vec<u8>,
    pub(super) bytes: u64,
}

impl<W: Write> Out<W> {
    pub(super) fn new(w: W) -> Self {
        Out {
            w,
            buf: Vec::with_capacity(FLUSH_AT + 64 * 1024),
            bytes: 0,
        }
    }

    #[inline]
    pub(super) fn raw(&mut self, s: &[u8]) {
        self.buf.extend_from_slice(s);
    }

    #[inline]
    pub(super) fn u64(&mut self, v: u64) {
        push_u64(&mut self.buf, v);
    }

    /// Nanoseconds as microseconds with three decimals.
    #[inline]
    pub(super) fn us(&mut self, ns: Nanos) {
        push_u64(&mut self.buf, ns / 1000);
        let f = (ns % 1000) as usize;
        let pair = f % 100 * 2;
        self.buf.extend_from_slice(&[
            b'.',
            b'0' + (f / 100) as u8,
            DIGIT_PAIRS[pair],
            DIGIT_PAIRS[pair + 1],
        ]);
    }

    /// A JSON string.
    pub(super) fn str(&mut self, s: &str) {
        self.buf.push(b'"');
        escape_into(&mut self.buf, s);
        self.buf.push(b'"');
    }

    /// A finite number: integers without a fraction, others in Rust's shortest round-trip
    /// form (which JSON accepts).
    pub(super) fn f64(&mut self, v: f64) {
        if v == v.trunc() && v.abs() < 9.0e15 {
            if v < 0.0 {
                self.buf.push(b'-');
            }
            push_u64(&mut self.buf, v.abs() as u64);
        } else {
            let _ = write!(self.buf, "{v}");
        }
    }

    pub(super) fn flush_if_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.flush_buf()?;
        }
        Ok(())
    }

    pub(super) fn flush_buf(&mut self) -> io::Result<()> {
        self.w.write_all(&self.buf)?;
        self.bytes += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }
}

/// "00" to "99".
const DIGIT_PAIRS: &[u8; 200] = b"\
    0001020304050607080910111213141516171819\
    2021222324252627282930313233343536373839\
    4041424344454647484950515253545556575859\
    6061626364656667686970717273747576777879\
    8081828384858687888990919293949596979899";

fn push_u64(buf: &mut Vec<u8>, mut v: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        i -= 2;
        tmp[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    }
    if v >= 10 {
        let pair = v as usize * 2;
        i -= 2;
        tmp[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        tmp[i] = b'0' + v as u8;
    }
    buf.extend_from_slice(&tmp[i..]);
}

/// Appends `s` JSON-escaped (without quotes).
pub(super) fn escape_into(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    if !bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\') {
        buf.extend_from_slice(bytes);
        return;
    }
    for &b in bytes {
        match b {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            0..0x20 => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                buf.extend_from_slice(b"\\u00");
                buf.push(HEX[usize::from(b >> 4)]);
                buf.push(HEX[usize::from(b & 15)]);
            }
            _ => buf.push(b),
        }
    }
}
