//! The record writer: [`Out`] prints each record straight into a buffer that it hands to
//! the output in pieces of a few hundred KiB.
//!
//! # Why by hand
//!
//! The records are typed and derive serde's `Serialize` ([`super::record`]), and serde_json
//! writes exactly the bytes this writer writes (a test checks it on random records). But
//! the export has a budget of 5 M trace events/s, and `serde_json::to_writer` per record
//! misses it by half: serde_json escapes every key and composes names through `fmt`, where
//! this writer writes keys as literals, numbers through a digit-pair table, and scans
//! strings once for characters to escape. Measured on a shared 2-core machine whose load
//! (2.5 to 7.7) moved every wall-clock figure, hence ranges over runs and a CPU-time rate:
//!
//! | writer                          | bench, wall | export thread's CPU |
//! |---------------------------------|-------------|---------------------|
//! | serde_json, the same records    | 1.0 – 2.4   | 2.8 – 3.0           |
//! | this one                        | 3.5 – 5.7   | 5.9 – 7.7           |
//! | byte fragments from the emitter | 2.5 – 7.6   | 6.4 – 9.7           |
//!
//! In M trace events/s. "bench, wall": `cargo bench -p trace-analysis --bench export`
//! (10 M events, export to a sink), the figure its budget line checks. "CPU": the same
//! trace generator at 3 M events, events per second of the exporting thread's CPU time,
//! the best of seven exports. The last row is the writer this one replaced, which wrote
//! byte fragments straight from the emitter's decisions. Side by side, serde_json took
//! 2.4 to 2.6 times this writer's time.

use std::io::{self, Write};

use super::record::{Args, Cat, Event, Meta, MetaArgs, Micros, Name, Phase};

/// Buffered output is handed to the writer in pieces of about this size.
const FLUSH_AT: usize = 256 * 1024;

/// The output: `{"traceEvents":[`, one record a line, `]}`.
pub(super) struct Out<W: Write> {
    w: W,
    buf: Vec<u8>,
    /// Bytes handed to `w` so far.
    bytes: u64,
    records: u64,
}

impl<W: Write> Out<W> {
    pub(super) fn new(w: W) -> Self {
        let mut buf = Vec::with_capacity(FLUSH_AT + 64 * 1024);
        buf.extend_from_slice(b"{\"traceEvents\":[");
        Out {
            w,
            buf,
            bytes: 0,
            records: 0,
        }
    }

    pub(super) fn meta(&mut self, r: &Meta<'_>) {
        self.begin(r.ph);
        self.raw(b",\"name\":");
        self.str(r.name);
        self.raw(b",\"pid\":");
        self.u64(u64::from(r.pid));
        if let Some(tid) = r.tid {
            self.raw(b",\"tid\":");
            self.u64(u64::from(tid));
        }
        match r.args {
            MetaArgs::Name { name } => {
                self.raw(b",\"args\":{\"name\":");
                self.name(name);
            }
            MetaArgs::SortIndex { sort_index } => {
                self.raw(b",\"args\":{\"sort_index\":");
                self.u64(u64::from(sort_index));
            }
        }
        self.raw(b"}}");
    }

    pub(super) fn event(&mut self, r: &Event<'_>) {
        self.begin(r.ph);
        self.raw(match r.cat {
            Cat::Poll => b",\"cat\":\"poll\"",
            Cat::Wake => b",\"cat\":\"wake\"",
            Cat::Idle => b",\"cat\":\"idle\"",
            Cat::Pause => b",\"cat\":\"pause\"",
            Cat::Region => b",\"cat\":\"region\"",
            Cat::Log => b",\"cat\":\"log\"",
            Cat::Lost => b",\"cat\":\"lost\"",
            Cat::Alloc => b",\"cat\":\"alloc\"",
            Cat::Counter => b",\"cat\":\"counter\"",
        });
        self.raw(b",\"pid\":");
        self.u64(u64::from(r.pid));
        self.raw(b",\"tid\":");
        self.u64(u64::from(r.tid));
        self.raw(b",\"ts\":");
        self.us(r.ts);
        if let Some(dur) = r.dur {
            self.raw(b",\"dur\":");
            self.us(dur);
        }
        if let Some(s) = r.s {
            self.raw(b",\"s\":");
            self.str(s);
        }
        self.raw(b",\"name\":");
        self.name(r.name);
        self.args(&r.args);
        if let Some(id) = r.bind_id {
            self.raw(b",\"bind_id\":");
            self.u64(id);
        }
        if r.flow_out {
            self.raw(b",\"flow_out\":true");
        }
        if r.flow_in {
            self.raw(b",\"flow_in\":true");
        }
        self.raw(b"}");
    }

    /// `,"args":{…}`, keys in [`Args`] order.
    fn args(&mut self, args: &Args<'_>) {
        match *args {
            Args::None => return,
            Args::PollOnThread {
                task,
                at,
                ready,
                cut,
            } => {
                self.raw(b",\"args\":{\"task\":");
                match task {
                    Some(id) => self.u64(id),
                    None => self.raw(b"null"),
                }
                self.opt_str(b",\"at\":", at);
                self.flags(ready, cut);
            }
            Args::PollOnTask { thread, ready, cut } => {
                self.raw(b",\"args\":{\"thread\":");
                self.str(thread);
                self.flags(ready, cut);
            }
            Args::Pause { scope, thread, cut } => {
                self.raw(b",\"args\":{\"scope\":");
                self.str(scope.name());
                self.opt_str(b",\"thread\":", thread);
                self.flags(false, cut);
            }
            Args::Region { id, task, cut } => {
                self.raw(b",\"args\":{\"id\":");
                self.u64(id);
                self.opt_u64(b",\"task\":", task);
                self.flags(false, cut);
            }
            Args::Wake { source, task } => {
                self.raw(b",\"args\":{\"source\":");
                self.str(source);
                self.opt_u64(b",\"task\":", task);
            }
            Args::Woken { source, by } => {
                self.raw(b",\"args\":{\"source\":");
                self.str(source);
                self.opt_u64(b",\"by\":", by);
            }
            Args::Log {
                level,
                target,
                task,
            } => {
                self.raw(b",\"args\":{\"level\":");
                self.str(level);
                self.raw(b",\"target\":");
                self.str(target);
                self.opt_u64(b",\"task\":", task);
            }
            Args::Lost { chunks, events } => {
                self.raw(b",\"args\":{\"chunks\":");
                self.u64(chunks);
                self.raw(b",\"events\":");
                self.u64(events);
            }
            Args::Alloc { bytes, task } => {
                self.raw(b",\"args\":{\"bytes\":");
                self.u64(bytes);
                self.opt_u64(b",\"task\":", task);
            }
            Args::Counter(c) => {
                self.raw(b",\"args\":{");
                self.str(c.key);
                self.raw(b":");
                self.f64(c.value);
            }
        }
        self.raw(b"}");
    }

    #[inline]
    fn opt_str(&mut self, key: &[u8], v: Option<&str>) {
        if let Some(v) = v {
            self.raw(key);
            self.str(v);
        }
    }

    #[inline]
    fn opt_u64(&mut self, key: &[u8], v: Option<u64>) {
        if let Some(v) = v {
            self.raw(key);
            self.u64(v);
        }
    }

    #[inline]
    fn flags(&mut self, ready: bool, cut: bool) {
        if ready {
            self.raw(b",\"ready\":true");
        }
        if cut {
            self.raw(b",\"cut\":true");
        }
    }

    /// A record's separator and `{"ph":"…"`.
    #[inline]
    fn begin(&mut self, ph: Phase) {
        self.raw(if self.records == 0 { b"\n" } else { b",\n" });
        self.records += 1;
        self.raw(match ph {
            Phase::Meta => b"{\"ph\":\"M\"",
            Phase::Slice => b"{\"ph\":\"X\"",
            Phase::Instant => b"{\"ph\":\"i\"",
            Phase::Counter => b"{\"ph\":\"C\"",
        });
    }

    #[inline]
    fn name(&mut self, name: Name<'_>) {
        self.buf.push(b'"');
        match name {
            Name::Text(text) => escape_into(&mut self.buf, text),
            Name::Numbered(text, id) => {
                escape_into(&mut self.buf, text);
                self.raw(b" #");
                self.u64(id);
            }
            Name::Pause(kind) => {
                self.raw(b"pause: ");
                escape_into(&mut self.buf, kind);
            }
            Name::Count(before, n, after) => {
                escape_into(&mut self.buf, before);
                self.u64(n);
                escape_into(&mut self.buf, after);
            }
            Name::Track { text, id, lane } => {
                escape_into(&mut self.buf, text);
                if let Some(id) = id {
                    self.raw(b" #");
                    self.u64(id);
                }
                if lane > 0 {
                    self.raw(" · lane ".as_bytes());
                    self.u64(u64::from(lane));
                }
            }
        }
        self.buf.push(b'"');
    }

    #[inline]
    fn raw(&mut self, s: &[u8]) {
        self.buf.extend_from_slice(s);
    }

    #[inline]
    fn u64(&mut self, v: u64) {
        push_u64(&mut self.buf, v);
    }

    /// Nanoseconds as microseconds with three decimals.
    fn us(&mut self, t: Micros) {
        let ns = t.0;
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
    #[inline]
    fn str(&mut self, s: &str) {
        self.buf.push(b'"');
        escape_into(&mut self.buf, s);
        self.buf.push(b'"');
    }

    /// A finite number: integers without a fraction, others as serde_json writes them.
    fn f64(&mut self, v: f64) {
        if v == v.trunc() && v.abs() < 9.0e15 {
            if v < 0.0 {
                self.buf.push(b'-');
            }
            push_u64(&mut self.buf, v.abs() as u64);
        } else {
            serde_json::to_writer(&mut self.buf, &v).expect("a Vec takes every write");
        }
    }

    pub(super) fn flush_if_full(&mut self) -> io::Result<()> {
        if self.buf.len() >= FLUSH_AT {
            self.flush_buf()?;
        }
        Ok(())
    }

    /// Ends the document and flushes everything; returns the bytes written in all.
    pub(super) fn finish(mut self) -> io::Result<u64> {
        self.buf.extend_from_slice(b"\n]}\n");
        self.flush_buf()?;
        self.w.flush()?;
        Ok(self.bytes)
    }

    fn flush_buf(&mut self) -> io::Result<()> {
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

/// Appends `s` JSON-escaped (without quotes), as serde_json escapes it.
#[inline]
fn escape_into(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    // Most strings (labels, names) need nothing: check without branching per byte, which
    // the compiler turns into a few vector compares.
    let plain = bytes.iter().fold(true, |plain, &b| {
        plain & (b >= 0x20) & (b != b'"') & (b != b'\\')
    });
    if plain {
        buf.extend_from_slice(bytes);
    } else {
        escape_slow(buf, bytes);
    }
}

#[cold]
fn escape_slow(buf: &mut Vec<u8>, bytes: &[u8]) {
    for &b in bytes {
        match b {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            0x08 => buf.extend_from_slice(b"\\b"),
            0x0c => buf.extend_from_slice(b"\\f"),
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
