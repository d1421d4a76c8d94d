//! The Trace Event Format records the export writes, as typed values: the emitter fills
//! them in, the writer ([`super::json`]) prints them. Fields are in the order their keys are
//! written; absent ones (`None`, `false`) are left out.

use std::fmt;

use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::value::RawValue;

use crate::model::Nanos;

/// A record's phase (`ph`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(super) enum Phase {
    /// Metadata: names and sort order of the process and its tracks.
    #[serde(rename = "M")]
    Meta,
    /// A complete slice, with a duration.
    #[serde(rename = "X")]
    Slice,
    /// An instant.
    #[serde(rename = "i")]
    Instant,
    /// A counter point.
    #[serde(rename = "C")]
    Counter,
}

/// A record's category (`cat`): what kind of item it shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Cat {
    Poll,
    Wake,
    Idle,
    Pause,
    Region,
    Log,
    Lost,
    Alloc,
    Counter,
}

/// A time in nanoseconds, written as microseconds with exactly three decimals
/// (1 234 567 ns → `1234.567`), so no float rounding is involved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Micros(pub(super) Nanos);

impl Micros {
    /// The decimals, written into `buf`.
    pub(super) fn format(self, buf: &mut [u8; 24]) -> &str {
        let (us, frac) = (self.0 / 1000, self.0 % 1000);
        let mut i = buf.len() - 4;
        buf[i..].copy_from_slice(&[
            b'.',
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ]);
        let mut v = us;
        loop {
            i -= 1;
            buf[i] = b'0' + (v % 10) as u8;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        std::str::from_utf8(&buf[i..]).expect("ASCII digits")
    }
}

/// The decimals as a JSON number, not a float, so serde_json writes what [`Out`] writes.
///
/// [`Out`]: super::json::Out
impl Serialize for Micros {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; 24];
        let number: &RawValue =
            serde_json::from_str(self.format(&mut buf)).map_err(serde::ser::Error::custom)?;
        number.serialize(s)
    }
}

/// An `M` record: `process_name` (no tid), `thread_name` or `thread_sort_index`.
#[derive(Debug, Serialize)]
pub(super) struct Meta<'a> {
    pub(super) ph: Phase,
    pub(super) name: &'static str,
    pub(super) pid: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) tid: Option<u32>,
    pub(super) args: MetaArgs<'a>,
}

/// The arguments of a [`Meta`] record.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub(super) enum MetaArgs<'a> {
    /// `{"name":…}`.
    Name { name: Name<'a> },
    /// `{"sort_index":…}`.
    SortIndex { sort_index: u32 },
}

/// An `X`, `i` or `C` record.
#[derive(Debug, Serialize)]
pub(super) struct Event<'a> {
    pub(super) ph: Phase,
    pub(super) cat: Cat,
    pub(super) pid: u32,
    pub(super) tid: u32,
    pub(super) ts: Micros,
    /// Slices only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) dur: Option<Micros>,
    /// Instants only: their scope (`"t"`, the thread).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) s: Option<&'static str>,
    pub(super) name: Name<'a>,
    #[serde(skip_serializing_if = "Args::is_none")]
    pub(super) args: Args<'a>,
    /// A v2 flow's id, with `flow_out` (its start) or `flow_in` (its end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) bind_id: Option<u64>,
    #[serde(skip_serializing_if = "is_false")]
    pub(super) flow_out: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub(super) flow_in: bool,
}

fn is_false(b: &bool) -> bool {
    !b
}

/// A record's name, composed as it is written (no string is built for it).
#[derive(Debug, Clone, Copy)]
pub(super) enum Name<'a> {
    /// The text as it is.
    Text(&'a str),
    /// `TEXT #ID`: a task's label and id, or `wake #ID`.
    Numbered(&'a str, u64),
    /// `pause: KIND`.
    Pause(&'a str),
    /// `BEFORE N AFTER`, as in `alloc 4096 bytes`.
    Count(&'static str, u64, &'static str),
    /// A track: `TEXT`, then ` #ID` for a task's, then ` · lane N` for an extra lane.
    Track {
        text: &'a str,
        id: Option<u64>,
        lane: u32,
    },
}

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Name::Text(text) => f.write_str(text),
            Name::Numbered(text, id) => write!(f, "{text} #{id}"),
            Name::Pause(kind) => write!(f, "pause: {kind}"),
            Name::Count(before, n, after) => write!(f, "{before}{n}{after}"),
            Name::Track { text, id, lane } => {
                f.write_str(text)?;
                if let Some(id) = id {
                    write!(f, " #{id}")?;
                }
                if lane > 0 {
                    write!(f, " · lane {lane}")?;
                }
                Ok(())
            }
        }
    }
}

impl Serialize for Name<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Name::Text(text) => s.serialize_str(text),
            _ => s.collect_str(self),
        }
    }
}

/// A record's `args`, by kind of record.
#[derive(Debug, Clone, Copy, Serialize)]
#[serde(untagged)]
pub(super) enum Args<'a> {
    /// No `args` key (idle slices).
    None,
    /// A poll on its thread's track: the task (`null` when unknown) and, for a named task,
    /// where it was spawned.
    PollOnThread {
        task: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        at: Option<&'a str>,
        #[serde(skip_serializing_if = "is_false")]
        ready: bool,
        #[serde(skip_serializing_if = "is_false")]
        cut: bool,
    },
    /// A poll on its task's track: the thread that ran it.
    PollOnTask {
        thread: &'a str,
        #[serde(skip_serializing_if = "is_false")]
        ready: bool,
        #[serde(skip_serializing_if = "is_false")]
        cut: bool,
    },
    /// A pause: its scope and, for a process-wide one, the thread that took it.
    Pause {
        scope: Scope,
        #[serde(skip_serializing_if = "Option::is_none")]
        thread: Option<&'a str>,
        #[serde(skip_serializing_if = "is_false")]
        cut: bool,
    },
    /// A `tracing` region: its span id and the task it was entered in.
    Region {
        id: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        task: Option<u64>,
        #[serde(skip_serializing_if = "is_false")]
        cut: bool,
    },
    /// A wake: who made it (`task`, `io`, `timer`, …) and the task it woke.
    Wake {
        source: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        task: Option<u64>,
    },
    /// The end of a wake's arrow on a `woken` marker: the wake's source and waker.
    Woken {
        source: &'static str,
        #[serde(skip_serializing_if = "Option::is_none")]
        by: Option<u64>,
    },
    /// A log line.
    Log {
        level: &'static str,
        target: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        task: Option<u64>,
    },
    /// A lost-data marker: what was lost.
    Lost { chunks: u64, events: u64 },
    /// An allocation sample.
    Alloc {
        bytes: u64,
        #[serde(skip_serializing_if = "Option::is_none")]
        task: Option<u64>,
    },
    /// A counter point.
    Counter(CounterArg),
}

impl Args<'_> {
    fn is_none(&self) -> bool {
        matches!(self, Args::None)
    }
}

/// A pause's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(super) enum Scope {
    Process,
    Thread,
}

impl Scope {
    pub(super) fn name(self) -> &'static str {
        match self {
            Scope::Process => "process",
            Scope::Thread => "thread",
        }
    }
}

/// A counter point's `args`: `{"KEY":VALUE}` (Perfetto names the track `NAME KEY`).
#[derive(Debug, Clone, Copy)]
pub(super) struct CounterArg {
    pub(super) key: &'static str,
    pub(super) value: f64,
}

impl Serialize for CounterArg {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(1))?;
        map.serialize_entry(self.key, &Number(self.value))?;
        map.end()
    }
}

/// A counter's value: an integer without a fraction when it is one (most are counts).
struct Number(f64);

impl Serialize for Number {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if v == v.trunc() && v.abs() < 9.0e15 {
            s.serialize_i64(v as i64)
        } else {
            s.serialize_f64(v)
        }
    }
}
