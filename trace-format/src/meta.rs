//! Records stored as postcard-encoded chunks: the file header, metadata (strings, locations,
//! threads) and the end record. They are rare and structured, so they favour clarity over size.

use serde::{Deserialize, Serialize};

/// How trace time units relate to real time. Event times are in units; a unit is a raw clock
/// tick (TSC or equivalent), possibly divided by a power of two by the recorder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockInfo {
    /// Where the ticks come from: `"tsc"` (x86 time-stamp counter), `"cntvct"` (Arm generic
    /// timer), `"monotonic"` (OS monotonic clock in nanoseconds), or a name for tests.
    pub source: String,
    /// Nanoseconds per time unit, as a 32.32 fixed-point number.
    pub nanos_per_unit_q32: u64,
}

impl ClockInfo {
    /// A clock whose units are nanoseconds.
    pub fn nanoseconds() -> Self {
        ClockInfo {
            source: "monotonic".into(),
            nanos_per_unit_q32: 1 << 32,
        }
    }

    /// Converts a duration in units to nanoseconds (saturating).
    ///
    /// ```
    /// let clock = trace_format::ClockInfo { source: "tsc".into(), nanos_per_unit_q32: 3 << 31 };
    /// assert_eq!(clock.units_to_nanos(1000), 1500);
    /// ```
    #[inline]
    pub fn units_to_nanos(&self, units: u64) -> u64 {
        let ns = (u128::from(units) * u128::from(self.nanos_per_unit_q32)) >> 32;
        u64::try_from(ns).unwrap_or(u64::MAX)
    }
}

/// The first record of every trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    /// Calibration of event times.
    pub clock: ClockInfo,
    /// Time (in units) that the trace starts at; reported times are relative to it.
    pub start_time: u64,
    /// Wall-clock time at `start_time`, in nanoseconds since the Unix epoch.
    pub wall_clock_unix_nanos: u64,
    /// Name and version of the program that wrote the trace, e.g. `"trace-rt 0.1.0"`.
    pub recorder: String,
    /// Process id of the traced process.
    pub process_id: u32,
    /// Name of the traced process (its executable name).
    pub process_name: String,
    /// Capacity in bytes of the recorder's event chunks.
    pub chunk_capacity: u32,
    /// What the recorder could see, as `(key, value)` pairs, e.g. `("tokio_unstable", "true")`.
    /// Readers show these; unknown keys are fine.
    pub features: Vec<(String, String)>,
}

impl Header {
    /// Looks up a feature value.
    pub fn feature(&self, key: &str) -> Option<&str> {
        self.features
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// An interned string: [`crate::StringId`] `id` stands for `text`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StringDef {
    /// The id used by events (never 0).
    pub id: u32,
    /// The text.
    pub text: String,
}

/// A source location: [`crate::LocationId`] `id` stands for `file:line:column`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocationDef {
    /// The id used by events (never 0).
    pub id: u32,
    /// Source file path as the compiler saw it.
    pub file: String,
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

/// A thread that wrote events: the `thread` of event chunks, with its OS name and id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ThreadDef {
    /// Trace-local thread id.
    pub thread: u32,
    /// The thread's name (`std::thread::Thread::name`), or empty.
    pub name: String,
    /// The OS thread id, or 0 when unknown.
    pub os_id: u64,
}

/// A metadata record. A reader skips (with a warning) a record kind it does not know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Meta {
    /// String definitions.
    Strings(Vec<StringDef>),
    /// Location definitions.
    Locations(Vec<LocationDef>),
    /// A thread description.
    Thread(ThreadDef),
    /// Call stack definitions ([`crate::StackId`]s).
    Stacks(Vec<StackDef>),
    /// What the code addresses in stacks are: function, file and line, inlined calls
    /// included. Written when the recording stops (or by `trace-viewer symbolize`); a trace
    /// may hold several, a later one overriding an address an earlier one gave.
    Symbols(Symbols),
    /// The executable and libraries the process had mapped, so a trace recorded from a
    /// stripped binary can be symbolized later from the unstripped one.
    Mappings(Vec<MappingDef>),
    /// How stacks were sampled, and how it went.
    Sampling(SamplingInfo),
    /// Call stack definitions in compact form: each stack may take its outer frames from an
    /// earlier stack, and its own frames are delta-coded ([`crate::pack`]). What recorders
    /// write; `Stacks` is still read.
    PackedStacks(Vec<PackedStack>),
    /// [`Meta::Symbols`] in compact form: addresses sorted and delta-coded, the whole table
    /// compressed ([`crate::pack`]). What recorders write; `Symbols` is still read.
    PackedSymbols(PackedSymbols),
    /// Where each task of one runtime waited when the recording stopped: a tokio task dump
    /// (trace-rt built with `--cfg tokio_taskdump`), or why the dump did not finish.
    TaskDump(TaskDump),
}

impl Meta {
    /// The record's kind, as `trace-viewer check` names it: `strings`, `locations`,
    /// `threads`, `stacks`, `symbols`, `mappings`, `sampling` or `task_dumps` (the packed
    /// forms count as their plain kinds).
    pub fn kind_name(&self) -> &'static str {
        match self {
            Meta::Strings(_) => "strings",
            Meta::Locations(_) => "locations",
            Meta::Thread(_) => "threads",
            Meta::Stacks(_) | Meta::PackedStacks(_) => "stacks",
            Meta::Symbols(_) | Meta::PackedSymbols(_) => "symbols",
            Meta::Mappings(_) => "mappings",
            Meta::Sampling(_) => "sampling",
            Meta::TaskDump(_) => "task_dumps",
        }
    }
}

/// One stack of a [`Meta::PackedStacks`] record. Stack `id` is `n` frames, innermost first:
/// its last `shared` frames are the last `shared` frames of stack `id - base_back` (an
/// earlier stack, defined before this record or earlier in it; `base_back` 0: no base, and
/// `shared` is 0), and its first `n - shared` frames are its own, in `own`. Each own frame
/// is stored as the difference (wrapping, as a zigzag varint) from a reference address: the
/// base's frame at the same depth from the outermost frame when the base has an own frame
/// there, otherwise the frame just outside it (0 for the outermost frame). See
/// [`crate::pack`] and FORMAT.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackedStack {
    /// This stack's id minus the previous one's in the record (the first: minus 0).
    pub id_delta: u32,
    /// This stack's id minus its base's id; 0 when it has no base.
    pub base_back: u32,
    /// How many outer frames it shares with its base.
    pub shared: u32,
    /// Its own (inner) frames, innermost first, each as a difference from its reference.
    pub own: Vec<i64>,
}

/// A [`Meta::PackedSymbols`] record: a [`Symbols`] table whose addresses are sorted and
/// delta-coded, postcard-encoded, then compressed with raw DEFLATE (RFC 1951). See
/// [`crate::pack`] and FORMAT.md.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackedSymbols {
    /// The length of the table once inflated (a reader inflates no more than this).
    pub len: u32,
    /// The compressed table.
    pub deflated: Vec<u8>,
}

/// A call stack: [`crate::StackId`] `id` stands for `frames`, code addresses from the
/// innermost frame out. The first is the address the thread was executing (a CPU or stall
/// sample) or an address inside the call to the allocator (an allocation: its return
/// address − 1, in the allocating code); the others are return addresses, so the call is the instruction before each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackDef {
    /// The id used by events (never 0).
    pub id: u32,
    /// Code addresses, innermost first.
    pub frames: Vec<u64>,
}

/// Resolved addresses. Names and file paths are stored once each in `strings` and referred
/// to by index, so a function seen at many addresses costs its name once.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Symbols {
    /// Function names and file paths.
    pub strings: Vec<String>,
    /// One entry per resolved address.
    pub addrs: Vec<AddrSymbol>,
}

/// What one code address is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AddrSymbol {
    /// The address as it appears in [`StackDef::frames`].
    pub addr: u64,
    /// The functions at that address, innermost (inlined) first, the function the code
    /// belongs to last. Never empty.
    pub frames: Vec<SymbolFrame>,
}

/// One function of an [`AddrSymbol`]: indices into [`Symbols::strings`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolFrame {
    /// The function's demangled name.
    pub function: u32,
    /// The source file, or [`SymbolFrame::NO_FILE`].
    pub file: u32,
    /// 1-based line, or 0 when unknown.
    pub line: u32,
    /// 1-based column, or 0 when unknown.
    pub column: u32,
}

impl SymbolFrame {
    /// `file` when the source file is unknown.
    pub const NO_FILE: u32 = u32::MAX;
}

impl Symbols {
    /// Builds the record from resolved addresses, each with its frames as
    /// `(function, file, line, column)`, storing each distinct string once in order of first
    /// use. This is the one form writers produce (the text form relies on it).
    pub fn build<'s>(
        addrs: impl IntoIterator<
            Item = (
                u64,
                impl IntoIterator<Item = (&'s str, Option<&'s str>, u32, u32)>,
            ),
        >,
    ) -> Symbols {
        let mut out = Symbols::default();
        let mut index: std::collections::HashMap<&'s str, u32> = Default::default();
        let mut intern = |s: &'s str, strings: &mut Vec<String>| -> u32 {
            *index.entry(s).or_insert_with(|| {
                strings.push(s.to_string());
                (strings.len() - 1) as u32
            })
        };
        for (addr, frames) in addrs {
            let mut list = Vec::new();
            for (function, file, line, column) in frames {
                let function = intern(function, &mut out.strings);
                let file = file.map_or(SymbolFrame::NO_FILE, |f| intern(f, &mut out.strings));
                list.push(SymbolFrame {
                    function,
                    file,
                    line,
                    column,
                });
            }
            out.addrs.push(AddrSymbol { addr, frames: list });
        }
        out
    }

    /// The string at `ix`, or `""` for an index out of range.
    pub fn string(&self, ix: u32) -> &str {
        self.strings.get(ix as usize).map_or("", String::as_str)
    }
}

/// A mapped file (`/proc/self/maps` entry with code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MappingDef {
    /// First address of the mapping.
    pub start: u64,
    /// One past its last address.
    pub end: u64,
    /// The file offset mapped at `start`.
    pub file_offset: u64,
    /// The file's path.
    pub path: String,
    /// The ELF build id (`NT_GNU_BUILD_ID`), or empty when it has none.
    pub build_id: Vec<u8>,
}

/// How the recording sampled stacks.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SamplingInfo {
    /// How CPU samples were taken: `perf_event`, `timer_signal` or `off`.
    pub cpu_method: String,
    /// Why that method (a refused `perf_event_open` with its error, or "turned off").
    pub cpu_reason: String,
    /// Requested CPU samples per second of each thread's CPU time (0: off).
    pub cpu_hz: u32,
    /// Polls running longer than this were sampled by wall clock (0: off).
    pub stall_threshold_ns: u64,
    /// The most frames a stack holds; a deeper stack is cut to this many.
    pub max_frames: u32,
    /// CPU samples recorded.
    pub cpu_samples: u64,
    /// Stall samples recorded.
    pub stall_samples: u64,
    /// Samples lost (a thread's sample buffer full, or the stack table full).
    pub lost_samples: u64,
    /// Stacks that were cut: deeper than `max_frames`, or a frame pointer that led outside
    /// the thread's stack before reaching its first frame.
    pub truncated_stacks: u64,
    /// Distinct stacks.
    pub stacks: u64,
    /// Distinct code addresses.
    pub addresses: u64,
    /// Addresses the recording resolved to a function.
    pub resolved_addresses: u64,
    /// Time spent resolving addresses at stop, in ns.
    pub symbolize_ns: u64,
}

/// A task dump of one runtime ([`Meta::TaskDump`]): for each task alive at the stop, the
/// await trace of its last poll, as tokio's `Handle::dump` gives it. Function names and file
/// paths are stored once each in `strings`, as in [`Symbols`].
///
/// ```
/// use trace_format::{DumpedTask, SymbolFrame, TaskDump};
/// let dump = TaskDump {
///     runtime: "1".into(),
///     time: 0,
///     wait_ns: 1_000,
///     error: String::new(),
///     strings: vec!["app::wait_for_job".into(), "src/main.rs".into()],
///     tasks: vec![DumpedTask {
///         tokio_id: 7,
///         backtraces: vec![vec![SymbolFrame { function: 0, file: 1, line: 12, column: 5 }]],
///     }],
/// };
/// assert_eq!(dump.string(0), "app::wait_for_job");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TaskDump {
    /// tokio's id of the runtime (`Handle::id`), or empty when unknown.
    pub runtime: String,
    /// When the dump was asked for, in time units (as event times).
    pub time: u64,
    /// How long the recorder waited for it, in ns.
    pub wait_ns: u64,
    /// Empty when the dump finished; otherwise why it did not (e.g. it timed out because the
    /// runtime's workers were blocked), and `tasks` is empty.
    pub error: String,
    /// Function names and file paths.
    pub strings: Vec<String>,
    /// The tasks the dump found.
    pub tasks: Vec<DumpedTask>,
}

impl TaskDump {
    /// The string at `ix`, or `""` for an index out of range.
    pub fn string(&self, ix: u32) -> &str {
        self.strings.get(ix as usize).map_or("", String::as_str)
    }
}

/// One task of a [`TaskDump`].
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DumpedTask {
    /// tokio's task id: the `tokio_id` of the task's `TaskSpawn`.
    pub tokio_id: u64,
    /// One backtrace per leaf future the task waits on (several under `join!` or
    /// `select!`), each innermost frame first (the leaf's poll), out to the task's own
    /// future; frames are indices into [`TaskDump::strings`], inlined calls included.
    pub backtraces: Vec<Vec<SymbolFrame>>,
}

/// The last record of a trace that was finished properly. Its absence means the file was cut.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct End {
    /// Time (in units) the recording stopped.
    pub end_time: u64,
    /// Events written to the file.
    pub events: u64,
    /// Event chunks written to the file.
    pub chunks: u64,
    /// Chunks dropped because the writer fell behind.
    pub lost_chunks: u64,
    /// Events in the dropped chunks.
    pub lost_events: u64,
}
