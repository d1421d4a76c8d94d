//! `trace-viewer pprof FILE --profile cpu|stall|alloc -o OUT.pb.gz [--from T] [--to T]`:
//! the trace's CPU, stalled-poll or allocation samples as a gzipped pprof profile
//! (`profile.proto`), which `go tool pprof` and every tool that reads pprof open without the
//! binary: each location carries its functions (inlined ones included), file and line, from
//! the symbols the recording wrote.
//!
//! Sample types: `cpu` — `samples/count`, `cpu/nanoseconds`; `stall` — `samples/count`,
//! `stall/nanoseconds` (wall time of stalled polls); `alloc` — `alloc_objects/count`,
//! `alloc_space/bytes` (estimates, unbiased like Go's). Each sample carries string labels
//! `spawn` (the task's spawn location), `task` (its trace id) and `thread`, so
//! `go tool pprof -tagfocus=spawn=src/server.rs` keeps one group's samples. Samples of one
//! stack, task and thread are one pprof sample.
//!
//! The messages ([`proto`]) are derived with prost from `profile.proto`'s schema (the
//! fields this writer fills, with their numbers), so no protoc is needed to build.

use std::collections::HashMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use clap::Args;
use flate2::Compression;
use flate2::write::GzEncoder;
use prost::Message;

use super::exit::{EXIT_CORRUPT, EXIT_OK, EXIT_USAGE};
use super::paths::same_file;
use trace_analysis::analysis::profile::{SampleFilter, recorder_lines};
use trace_analysis::model::{Model, Sample, SampleKind, Span, TaskIx, ThreadIx};
use trace_analysis::units::{format_duration, parse_duration};
use trace_format::StackId;

/// `profile.proto` (github.com/google/pprof/proto/profile.proto), the messages and fields
/// this writer fills, numbered as in the schema.
pub mod proto {
    /// A profile.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Profile {
        /// What each value of a sample is.
        #[prost(message, repeated, tag = "1")]
        pub sample_type: Vec<ValueType>,
        /// The samples.
        #[prost(message, repeated, tag = "2")]
        pub sample: Vec<Sample>,
        /// Mapped files.
        #[prost(message, repeated, tag = "3")]
        pub mapping: Vec<Mapping>,
        /// Code locations (addresses with their lines).
        #[prost(message, repeated, tag = "4")]
        pub location: Vec<Location>,
        /// Functions.
        #[prost(message, repeated, tag = "5")]
        pub function: Vec<Function>,
        /// Every string, `""` first; other messages refer to them by index.
        #[prost(string, repeated, tag = "6")]
        pub string_table: Vec<String>,
        /// When the profile starts, Unix ns.
        #[prost(int64, tag = "9")]
        pub time_nanos: i64,
        /// How long it covers.
        #[prost(int64, tag = "10")]
        pub duration_nanos: i64,
        /// What the period is.
        #[prost(message, optional, tag = "11")]
        pub period_type: Option<ValueType>,
        /// The sampling period.
        #[prost(int64, tag = "12")]
        pub period: i64,
        /// Free-form comments (string indexes).
        #[prost(int64, repeated, tag = "13")]
        pub comment: Vec<i64>,
        /// The type of the sample value tools show first (string index of its type).
        #[prost(int64, tag = "14")]
        pub default_sample_type: i64,
    }

    /// A type and unit (string indexes).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ValueType {
        /// Type, e.g. `cpu`.
        #[prost(int64, tag = "1")]
        pub r#type: i64,
        /// Unit, e.g. `nanoseconds`.
        #[prost(int64, tag = "2")]
        pub unit: i64,
    }

    /// A stack with its values and labels.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Sample {
        /// Location ids, innermost first.
        #[prost(uint64, repeated, tag = "1")]
        pub location_id: Vec<u64>,
        /// One value per sample type.
        #[prost(int64, repeated, tag = "2")]
        pub value: Vec<i64>,
        /// Labels.
        #[prost(message, repeated, tag = "3")]
        pub label: Vec<Label>,
    }

    /// A sample's label: a string (`str`) or a number (`num`).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Label {
        /// Key (string index).
        #[prost(int64, tag = "1")]
        pub key: i64,
        /// String value (string index).
        #[prost(int64, tag = "2")]
        pub str: i64,
        /// Numeric value.
        #[prost(int64, tag = "3")]
        pub num: i64,
    }

    /// A mapped file.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Mapping {
        /// Id (from 1).
        #[prost(uint64, tag = "1")]
        pub id: u64,
        /// First address.
        #[prost(uint64, tag = "2")]
        pub memory_start: u64,
        /// Address after the last.
        #[prost(uint64, tag = "3")]
        pub memory_limit: u64,
        /// Offset in the file of `memory_start`.
        #[prost(uint64, tag = "4")]
        pub file_offset: u64,
        /// Path (string index).
        #[prost(int64, tag = "5")]
        pub filename: i64,
        /// Build id, hex (string index).
        #[prost(int64, tag = "6")]
        pub build_id: i64,
        /// Locations in it carry functions (no symbolization needed).
        #[prost(bool, tag = "7")]
        pub has_functions: bool,
        /// ... and file names.
        #[prost(bool, tag = "8")]
        pub has_filenames: bool,
        /// ... and line numbers.
        #[prost(bool, tag = "9")]
        pub has_line_numbers: bool,
        /// ... and inlined frames.
        #[prost(bool, tag = "10")]
        pub has_inline_frames: bool,
    }

    /// A code address and the functions (lines) there.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Location {
        /// Id (from 1).
        #[prost(uint64, tag = "1")]
        pub id: u64,
        /// Its mapping (0: none).
        #[prost(uint64, tag = "2")]
        pub mapping_id: u64,
        /// The address.
        #[prost(uint64, tag = "3")]
        pub address: u64,
        /// Innermost (inlined) first; the last is the function the code belongs to.
        #[prost(message, repeated, tag = "4")]
        pub line: Vec<Line>,
    }

    /// A function at a line.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Line {
        /// The function's id.
        #[prost(uint64, tag = "1")]
        pub function_id: u64,
        /// 1-based line (0: unknown).
        #[prost(int64, tag = "2")]
        pub line: i64,
        /// 1-based column (0: unknown).
        #[prost(int64, tag = "3")]
        pub column: i64,
    }

    /// A function.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Function {
        /// Id (from 1).
        #[prost(uint64, tag = "1")]
        pub id: u64,
        /// Name (string index).
        #[prost(int64, tag = "2")]
        pub name: i64,
        /// Name as the linker knows it (string index; the same here).
        #[prost(int64, tag = "3")]
        pub system_name: i64,
        /// Source file (string index).
        #[prost(int64, tag = "4")]
        pub filename: i64,
    }
}

/// Arguments of `pprof`.
#[derive(Debug, Args)]
pub struct PprofArgs {
    /// The trace file.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Which samples: cpu (CPU time), stall (wall time of stalled polls) or alloc
    /// (allocations, estimated objects and bytes).
    #[arg(long, value_name = "KIND", value_parser = parse_kind)]
    pub profile: SampleKind,
    /// Where to write the gzipped profile (e.g. cpu.pb.gz).
    #[arg(short = 'o', long = "output", value_name = "OUT")]
    pub output: PathBuf,
    /// Only samples taken from time T on (since the start of the trace, with a unit: 250us,
    /// 10ms, 1.5s).
    #[arg(long, value_name = "T", value_parser = parse_duration)]
    pub from: Option<u64>,
    /// Only samples taken before time T (same form as --from).
    #[arg(long, value_name = "T", value_parser = parse_duration)]
    pub to: Option<u64>,
}

fn parse_kind(s: &str) -> Result<SampleKind, String> {
    SampleKind::parse(s).ok_or_else(|| format!("`{s}` is not a profile: use cpu, stall or alloc"))
}

/// Runs `pprof`; returns the exit code.
pub fn run(args: &PprofArgs, out: &mut dyn Write, err: &mut dyn Write) -> io::Result<u8> {
    if let (Some(from), Some(to)) = (args.from, args.to)
        && from >= to
    {
        writeln!(
            err,
            "error: --from {} is not before --to {}: the range would be empty",
            format_duration(from),
            format_duration(to)
        )?;
        return Ok(EXIT_USAGE);
    }
    if same_file(&args.file, &args.output) {
        writeln!(
            err,
            "error: the output {} is the input trace: writing it would destroy the trace",
            args.output.display()
        )?;
        return Ok(EXIT_USAGE);
    }
    let model = match super::load::model_or_exit(&args.file, "profiling", err)? {
        Ok(m) => m,
        Err(code) => return Ok(code),
    };
    let kind = args.profile;
    let mut filter = SampleFilter::new(kind);
    if args.from.is_some() || args.to.is_some() {
        filter = filter.span(Span::new(
            args.from.unwrap_or(0),
            args.to.unwrap_or(u64::MAX),
        ));
    }
    let all = model.samples.iter().filter(|s| s.kind == kind).count();
    let samples: Vec<&Sample> = filter.select(&model).collect();
    if samples.is_empty() {
        if all == 0 {
            writeln!(err, "error: {}", no_samples(kind, &model))?;
        } else {
            writeln!(
                err,
                "error: none of the trace's {all} {} samples lies between {} and {}",
                kind.name(),
                format_duration(args.from.unwrap_or(0)),
                args.to
                    .map_or_else(|| "the end".to_string(), format_duration)
            )?;
        }
        return Ok(EXIT_CORRUPT);
    }
    if !model.code.has_symbols() {
        // Without this the profile reads as empty stacks, and nothing says why.
        writeln!(
            err,
            "warning: the trace holds no symbols (naming the code did not finish before the \
             stop's deadline, or failed): its functions are unnamed addresses. Name them first \
             with `trace-viewer symbolize {} --binary PATH`.",
            args.file.display()
        )?;
    }
    let span = filter.span.unwrap_or(model.span());
    let profile = build(&model, kind, &samples, span);
    let mut bytes = Vec::new();
    {
        let mut gz = GzEncoder::new(&mut bytes, Compression::default());
        gz.write_all(&profile.encode_to_vec())?;
        gz.finish()?;
    }
    if let Err(e) = std::fs::write(&args.output, &bytes) {
        writeln!(err, "error: cannot write {}: {e}", args.output.display())?;
        return Ok(EXIT_CORRUPT);
    }
    writeln!(
        out,
        "wrote {} {} samples ({} stacks, {} functions) to {}\nopen it with:  go tool pprof -http=: {}",
        samples.len(),
        kind.name(),
        profile.sample.len(),
        profile.function.len(),
        args.output.display(),
        args.output.display()
    )?;
    Ok(EXIT_OK)
}

/// Why a trace has no samples of `kind`, and how to get them.
fn no_samples(kind: SampleKind, model: &Model) -> String {
    let how = model.code.sampling().map(|s| {
        format!(
            " (this recording: CPU sampling {} at {} Hz{}, stall threshold {})",
            s.cpu_method,
            s.cpu_hz,
            if s.cpu_reason.is_empty() {
                String::new()
            } else {
                format!(", {}", s.cpu_reason)
            },
            if s.stall_threshold_ns == 0 {
                "off".to_string()
            } else {
                format_duration(s.stall_threshold_ns)
            }
        )
    });
    let how = how.unwrap_or_else(|| {
        " (the trace says nothing about sampling: it was recorded by a trace-rt without \
         stack sampling)"
            .into()
    });
    match kind {
        SampleKind::Cpu => format!(
            "the trace has no CPU samples{how}. Record with CPU sampling on: it is on by \
             default at 99 Hz (Config::cpu_sample_hz, env TRACE_RT_CPU_HZ; 0 turns it off), \
             on Linux, with stacks on"
        ),
        SampleKind::Stall => format!(
            "the trace has no stall samples{how}: no poll ran longer than the stall \
             threshold, or stall sampling was off. Set it with Config::stall_threshold or \
             env TRACE_RT_STALL_MS (0 turns it off)"
        ),
        SampleKind::Alloc => format!(
            "the trace has no allocation samples{how}. Install trace_rt::TracingAllocator \
             as the global allocator (see the README, \"Allocator\")"
        ),
    }
}

/// Interns strings into the profile's string table.
#[derive(Default)]
struct Strings {
    table: Vec<String>,
    index: HashMap<String, i64>,
}

impl Strings {
    fn new() -> Strings {
        let mut s = Strings::default();
        s.get("");
        s
    }

    fn get(&mut self, s: &str) -> i64 {
        if let Some(&i) = self.index.get(s) {
            return i;
        }
        let i = self.table.len() as i64;
        self.table.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

/// Builds the profile of `samples` (all of `kind`).
fn build(model: &Model, kind: SampleKind, samples: &[&Sample], span: Span) -> proto::Profile {
    let code = &model.code;
    let mut strings = Strings::new();
    let value_type = |strings: &mut Strings, t: &str, u: &str| proto::ValueType {
        r#type: strings.get(t),
        unit: strings.get(u),
    };
    let (sample_type, period_type, period) = match kind {
        SampleKind::Cpu => {
            let hz = code.sampling().map_or(0, |s| s.cpu_hz);
            let period = 1_000_000_000
                / i64::from(if hz == 0 {
                    trace_analysis::model::DEFAULT_CPU_HZ
                } else {
                    hz
                });
            (
                vec![
                    value_type(&mut strings, "samples", "count"),
                    value_type(&mut strings, "cpu", "nanoseconds"),
                ],
                value_type(&mut strings, "cpu", "nanoseconds"),
                period,
            )
        }
        SampleKind::Stall => (
            vec![
                value_type(&mut strings, "samples", "count"),
                value_type(&mut strings, "stall", "nanoseconds"),
            ],
            value_type(&mut strings, "stall", "nanoseconds"),
            code.sampling().map_or(0, |s| s.stall_threshold_ns as i64),
        ),
        SampleKind::Alloc => (
            vec![
                value_type(&mut strings, "alloc_objects", "count"),
                value_type(&mut strings, "alloc_space", "bytes"),
            ],
            value_type(&mut strings, "space", "bytes"),
            model.alloc_sample_rate_at(span.start) as i64,
        ),
    };

    // Mappings, as recorded: every location in one carries its functions already.
    let mut mapping: Vec<proto::Mapping> = Vec::new();
    for (i, m) in code.mappings().iter().enumerate() {
        let build_id: String = m.build_id.iter().map(|b| format!("{b:02x}")).collect();
        mapping.push(proto::Mapping {
            id: i as u64 + 1,
            memory_start: m.start,
            memory_limit: m.end,
            file_offset: m.file_offset,
            filename: strings.get(&m.path),
            build_id: strings.get(&build_id),
            has_functions: true,
            has_filenames: true,
            has_line_numbers: true,
            has_inline_frames: true,
        });
    }
    let mapping_of = |addr: u64| {
        mapping
            .iter()
            .find(|m| addr >= m.memory_start && addr < m.memory_limit)
            .map_or(0, |m| m.id)
    };

    let mut functions: Vec<proto::Function> = Vec::new();
    let mut function_ids: HashMap<(i64, i64), u64> = HashMap::new();
    let mut locations: Vec<proto::Location> = Vec::new();
    let mut location_ids: HashMap<u64, u64> = HashMap::new();
    let mut stacks: HashMap<StackId, Vec<u64>> = HashMap::new();
    // A location for samples without a stack, made when needed.
    let mut no_stack: Option<u64> = None;

    let mut location_ids_of = |stack: StackId, strings: &mut Strings| -> Vec<u64> {
        if let Some(ids) = stacks.get(&stack) {
            return ids.clone();
        }
        let mut ids = Vec::new();
        // Allocation stacks start in the recorder's allocator wrapper.
        let mut in_recorder = kind == SampleKind::Alloc;
        for &addr in code.stack(stack).unwrap_or(&[]) {
            let frames: Vec<_> = code.frames_at(addr).collect();
            // The recorder's own frames on top of an allocation's stack (with what was
            // inlined into them): as in the report's profiles, they are left out.
            let mut skip = 0;
            if in_recorder {
                skip = recorder_lines(frames.iter().map(|f| f.function));
                in_recorder = !frames.is_empty() && skip == frames.len();
                if in_recorder {
                    continue;
                }
            }
            let mut lines = Vec::new();
            for f in &frames[skip..] {
                let name = strings.get(f.function);
                let file = strings.get(f.file.unwrap_or(""));
                let next = functions.len() as u64 + 1;
                let id = *function_ids.entry((name, file)).or_insert_with(|| {
                    functions.push(proto::Function {
                        id: next,
                        name,
                        system_name: name,
                        filename: file,
                    });
                    next
                });
                lines.push(proto::Line {
                    function_id: id,
                    line: i64::from(f.line),
                    column: i64::from(f.column),
                });
            }
            let next = locations.len() as u64 + 1;
            let id = *location_ids.entry(addr).or_insert_with(|| {
                locations.push(proto::Location {
                    id: next,
                    mapping_id: mapping_of(addr),
                    address: addr,
                    line: lines,
                });
                next
            });
            ids.push(id);
        }
        if ids.is_empty() {
            let id = *no_stack.get_or_insert_with(|| {
                let name = strings.get(trace_analysis::analysis::profile::NO_STACK);
                functions.push(proto::Function {
                    id: functions.len() as u64 + 1,
                    name,
                    system_name: name,
                    filename: 0,
                });
                locations.push(proto::Location {
                    id: locations.len() as u64 + 1,
                    mapping_id: 0,
                    address: 0,
                    line: vec![proto::Line {
                        function_id: functions.len() as u64,
                        line: 0,
                        column: 0,
                    }],
                });
                locations.len() as u64
            });
            ids.push(id);
        }
        stacks.insert(stack, ids.clone());
        ids
    };

    // One pprof sample per stack, task and thread.
    let mut grouped: HashMap<(StackId, TaskIx, ThreadIx), (f64, i64)> = HashMap::new();
    for s in samples {
        let e = grouped.entry((s.stack, s.task, s.thread)).or_default();
        match kind {
            SampleKind::Alloc => {
                e.0 += s.objects();
                e.1 += s.weight as i64;
            }
            _ => {
                e.0 += 1.0;
                e.1 += s.weight as i64;
            }
        }
    }
    let mut grouped: Vec<_> = grouped.into_iter().collect();
    grouped.sort_by_key(|&(k, _)| k);
    let (k_spawn, k_task, k_thread) = (
        strings.get("spawn"),
        strings.get("task"),
        strings.get("thread"),
    );
    let mut sample = Vec::with_capacity(grouped.len());
    for ((stack, task, thread), (count, weight)) in grouped {
        let location_id = location_ids_of(stack, &mut strings);
        let mut label = Vec::new();
        if let Some(t) = task.get() {
            let def = &model.tasks[t.index()];
            label.push(proto::Label {
                key: k_spawn,
                str: strings.get(&model.location_label(def.location)),
                num: 0,
            });
            label.push(proto::Label {
                key: k_task,
                str: strings.get(&def.id.to_string()),
                num: 0,
            });
        }
        label.push(proto::Label {
            key: k_thread,
            str: strings.get(&model.threads[thread.index()].label()),
            num: 0,
        });
        sample.push(proto::Sample {
            location_id,
            value: vec![count.round() as i64, weight],
            label,
        });
    }

    // The type tools show by default: the weight, not the count.
    let default_sample_type = sample_type[1].r#type;
    let header = &model.header;
    let time_nanos = if header.wall_clock_unix_nanos == 0 {
        0
    } else {
        header
            .wall_clock_unix_nanos
            .saturating_add(span.start.max(model.start)) as i64
    };
    let end = span.end.min(model.end);
    let comment = vec![strings.get(&format!(
        "trace-rt {} profile of {} ({})",
        kind.name(),
        header.process_name,
        model
            .code
            .sampling()
            .map_or("no sampling record".to_string(), |s| format!(
                "CPU sampling: {} at {} Hz",
                s.cpu_method, s.cpu_hz
            ))
    ))];
    proto::Profile {
        sample_type,
        sample,
        mapping,
        location: locations,
        function: functions,
        string_table: strings.table,
        time_nanos,
        duration_nanos: end.saturating_sub(span.start.max(model.start)) as i64,
        period_type: Some(period_type),
        period,
        comment,
        default_sample_type,
    }
}

impl PprofArgs {
    /// The trace file it reads.
    pub fn input(&self) -> &Path {
        &self.file
    }
}
