//! The text form (`text::dump`, `text::undump`): exact round trips on every kind of file the
//! reader opens, the example in FORMAT.md, hand-written fixtures, and errors that name the
//! line.

use trace_format::build::TraceBuilder;
use trace_format::codec::{self, EncodeState};
use trace_format::text::{self, ParseError};
use trace_format::{
    DumpedTask, End, Event, EventChunkHeader, Level, LocationId, MappingDef, Meta, PauseScope,
    SamplingInfo, StackDef, StackId, StringId, SymbolFrame, Symbols, TaskDump, TaskId, TaskKind,
    ThreadKind, Trace, TraceWriter, WakeSource,
};

fn dump(bytes: &[u8]) -> String {
    let mut out = Vec::new();
    text::dump(bytes, &mut out).expect("dumps");
    String::from_utf8(out).expect("the text is UTF-8")
}

/// `undump(dump(bytes))` is `bytes` up to the last whole frame, and dumping that again
/// prints the same text.
fn assert_round_trip(bytes: &[u8]) -> String {
    let valid = Trace::from_bytes(bytes.to_vec()).unwrap().valid_len() as usize;
    let t = dump(bytes);
    let back = text::undump(&t).unwrap_or_else(|e| panic!("{e}\n{t}"));
    assert!(
        back == bytes[..valid],
        "bytes differ after undump; text:\n{t}"
    );
    assert_eq!(dump(&back), t);
    t
}

/// Every kind, every enum value and extreme values.
fn every_kind() -> Vec<Event<'static>> {
    let mut v = vec![
        Event::ThreadStart {
            kind: ThreadKind::Blocking,
            index: u32::MAX,
        },
        Event::ThreadStop,
        Event::WorkerPark,
        Event::WorkerUnpark,
        Event::PollStart {
            task: TaskId(TaskId::FIRST_OWN + 4),
        },
        Event::PollEnd { ready: true },
        Event::TaskTerminate {
            task: TaskId(codec::MAX_TASK_ID),
        },
        Event::ScheduleLatency {
            task: TaskId(3),
            nanos: u64::MAX,
        },
        Event::BlockingStart { task: TaskId(1) },
        Event::BlockingEnd,
        Event::AllocCounters {
            allocs: 1,
            frees: 2,
            alloc_bytes: 3,
            free_bytes: 4,
        },
        Event::AllocSampleAt {
            size: u64::MAX,
            task: TaskId(9),
            stack: StackId(u32::MAX),
        },
        Event::CpuSample {
            task: TaskId(0),
            stack: StackId(1),
        },
        Event::StallSample {
            task: TaskId(3),
            stack: StackId(0),
        },
        Event::AllocSample {
            size: 9,
            task: TaskId::NONE,
        },
        Event::RegionBegin {
            id: 7,
            name: StringId(u32::MAX),
        },
        Event::RegionEnd { id: 7 },
        Event::Counter {
            name: StringId(1),
            value: i64::MIN,
        },
        Event::RuntimeSample {
            global_queue: 1,
            alive_tasks: 2,
            blocking_threads: 3,
        },
        Event::WorkerQueueSample {
            worker: 3,
            depth: 4,
        },
        Event::Lost {
            chunks: 1,
            events: 2,
        },
        Event::Unknown {
            tag: 0x80,
            payload: b"",
        },
        Event::Unknown {
            tag: 0xFE,
            payload: &[0, b'"', 0xFF, b'\\', b'#', 0xC3, 0xA9],
        },
    ];
    for kind in [
        TaskKind::Async,
        TaskKind::BlockOn,
        TaskKind::Blocking,
        TaskKind::Local,
    ] {
        v.push(Event::TaskSpawn {
            task: TaskId(10),
            kind,
            tokio_id: 10,
            parent: TaskId(2),
            location: LocationId(1),
            name: StringId(2),
        });
    }
    for source in WakeSource::ALL {
        v.push(Event::Wake {
            task: TaskId(10),
            waker: TaskId(2),
            source,
        });
    }
    for scope in [PauseScope::Process, PauseScope::Thread] {
        v.push(Event::PauseBegin {
            kind: StringId(3),
            scope,
        });
        v.push(Event::PauseEnd {
            kind: StringId(3),
            scope,
        });
    }
    for (level, message) in [
        (Level::Trace, ""),
        (
            Level::Debug,
            "a \"quoted\" \\ line\nand\ta tab # not a comment",
        ),
        (Level::Info, "h\u{e9} \u{1f600} \u{0} \u{85} \r"),
        (Level::Warn, "w"),
        (Level::Error, "e"),
    ] {
        v.push(Event::Log {
            level,
            target: StringId(4),
            message,
        });
    }
    v
}

fn many_chunk_trace() -> TraceBuilder {
    let mut b = TraceBuilder::new();
    b.chunk_capacity = 80;
    b.header.features = vec![
        ("tokio_unstable".into(), "true".into()),
        ("é".into(), "\"".into()),
    ];
    b.string(1, "worker")
        .string(2, "")
        .string(u32::MAX, "é€😀\n");
    b.location(1, "src/main.rs", 10, 5)
        .location(2, "", u32::MAX, 0);
    b.thread(1, "one").thread(u32::MAX, "max");
    for (i, e) in every_kind().into_iter().enumerate() {
        b.push(1, 10 * i as u64, e);
        b.push(u32::MAX, 10 * i as u64 + 3, e);
        b.push(0, u64::MAX - 1000 + i as u64, e);
    }
    b
}

#[test]
fn every_kind_round_trips_exactly_through_a_many_chunk_file() {
    let bytes = many_chunk_trace().to_bytes();
    let t = assert_round_trip(&bytes);
    assert!(t.matches("\nchunk ").count() > 10, "{t}");
    // Every argument is named.
    assert!(
        t.contains(" wake task=10 waker=2 source=self_wake\n"),
        "{t}"
    );
    assert!(t.contains(" poll_start task=root5\n"), "{t}");
}

#[test]
fn the_events_read_back_are_the_events_written() {
    let bytes = many_chunk_trace().to_bytes();
    let back = text::undump(&dump(&bytes)).unwrap();
    let (a, b) = (
        Trace::from_bytes(bytes).unwrap(),
        Trace::from_bytes(back).unwrap(),
    );
    let events = |t: &Trace| -> Vec<(u64, u32, String)> {
        t.events()
            .map(|r| r.map(|r| (r.time, r.thread, format!("{:?}", r.event))))
            .collect::<Result<_, _>>()
            .unwrap()
    };
    assert_eq!(events(&a), events(&b));
    assert_eq!(a.header(), b.header());
    assert_eq!(a.end(), b.end());
    assert_eq!(a.threads(), b.threads());
}

#[test]
fn cut_and_unfinished_files_round_trip_up_to_their_last_whole_frame() {
    let b = many_chunk_trace();
    let unfinished = b.write(false);
    let t = assert_round_trip(&unfinished);
    assert!(!t.contains("\nend "), "{t}");
    let full = b.to_bytes();
    for cut in [full.len() - 3, full.len() / 2, 200] {
        assert_round_trip(&full[..cut]);
    }
}

#[test]
fn frames_the_text_cannot_express_are_kept_raw() {
    let mut w = TraceWriter::new(Vec::new(), &TraceBuilder::new().header).unwrap();
    // A frame kind from a newer writer, and a META variant this reader does not know.
    w.write_frame(9, &[1, 2, 3, 0xFF]).unwrap();
    w.write_frame(3, &[7, 1, 2]).unwrap();
    // A chunk with a redundant varint (delta `80 00` for 0): readers accept it, writers never
    // write it.
    let events = [Event::PollStart { task: TaskId(1) }];
    let mut buf = vec![0u8; 64];
    let n = codec::encode(&mut EncodeState::new(5), &mut buf, 5, &events[0]);
    let mut long = vec![buf[0], 0x80, 0x00];
    long.extend_from_slice(&buf[2..n]);
    let head = EventChunkHeader {
        thread: 1,
        seq: 0,
        base_time: 5,
        end_time: 5,
        event_count: 1,
    };
    w.write_events(&head, &long).unwrap();
    // A chunk whose header disagrees with its events (count and end time).
    let head = EventChunkHeader {
        thread: 1,
        seq: 1,
        base_time: 5,
        end_time: 99,
        event_count: 3,
    };
    w.write_events(&head, &buf[..n]).unwrap();
    // A chunk with a reserved tag: it does not decode.
    let head = EventChunkHeader {
        thread: 2,
        seq: 0,
        base_time: 0,
        end_time: 0,
        event_count: 1,
    };
    w.write_events(&head, &[0x05, 0]).unwrap();
    // An end record with a field from a newer writer after its own.
    let mut end = postcard::to_stdvec(&End::default()).unwrap();
    end.push(42);
    w.write_frame(4, &end).unwrap();
    let bytes = w.into_inner();

    let t = assert_round_trip(&bytes);
    assert!(
        t.contains("frame kind=0x09 payload=\"\\x01\\x02\\x03\\xff\"\n"),
        "{t}"
    );
    assert_eq!(t.matches("\nframe kind=0x02 ").count(), 2, "{t}");
    assert!(
        t.contains("chunk thread=1 seq=1 base_time=5 end_time=99 events=3\n"),
        "{t}"
    );
    assert!(t.contains("\nframe kind=0x04 "), "{t}");
}

/// The worked example's bytes, from FORMAT.md's hex dump.
fn example_bytes() -> Vec<u8> {
    let md = include_str!("../FORMAT.md");
    let start = md.find("<!-- example:begin -->").unwrap();
    let end = md.find("<!-- example:end -->").unwrap();
    let mut out = Vec::new();
    for line in md[start..end].lines() {
        if let Some((_, hex)) = line.split_once(": ") {
            out.extend(
                hex.split_whitespace()
                    .map(|b| u8::from_str_radix(b, 16).unwrap()),
            );
        }
    }
    out
}

#[test]
fn format_md_text_example_is_the_dump_of_the_worked_example() {
    let md = include_str!("../FORMAT.md");
    let start = md.find("<!-- text:begin -->").unwrap();
    let end = md.find("<!-- text:end -->").unwrap();
    let block = &md[start..end];
    let body = &block[block.find("```text\n").unwrap() + 8..block.rfind("```").unwrap()];
    let bytes = example_bytes();
    assert_eq!(bytes.len(), 159);
    assert_eq!(assert_round_trip(&bytes), body);
}

#[test]
fn a_hand_written_fixture_fills_in_what_is_left_out() {
    let bytes = text::undump(
        "# a fixture\n\
         thread id=1 name=\"worker-0\"\n\
         \n\
         1 100 task_spawn task=1 # comment after an event\n\
         1 110 poll_start task=1\n\
         2 120 wake task=1 source=io\n\
         1 150 poll_end\n\
         end\n",
    )
    .unwrap();
    let trace = Trace::from_bytes(bytes).unwrap();
    assert!(trace.warnings().is_empty(), "{:?}", trace.warnings());
    assert_eq!(trace.validate().unwrap(), 4);
    assert_eq!(trace.header().recorder, "trace-format text");
    assert_eq!(trace.threads()[&1].name, "worker-0");
    let end = trace.end().unwrap();
    assert_eq!((end.end_time, end.events, end.chunks), (150, 4, 3));
    let events: Vec<(u64, u32, Event<'_>)> = trace
        .events()
        .map(|r| r.map(|r| (r.time, r.thread, r.event)))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        events,
        [
            (
                100,
                1,
                Event::TaskSpawn {
                    task: TaskId(1),
                    kind: TaskKind::Async,
                    tokio_id: 0,
                    parent: TaskId::NONE,
                    location: LocationId::NONE,
                    name: StringId::NONE
                }
            ),
            (110, 1, Event::PollStart { task: TaskId(1) }),
            (
                120,
                2,
                Event::Wake {
                    task: TaskId(1),
                    waker: TaskId::NONE,
                    source: WakeSource::Io
                }
            ),
            (150, 1, Event::PollEnd { ready: false }),
        ]
    );
}

fn error(text: &str) -> ParseError {
    match text::undump(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e,
    }
}

#[test]
fn bad_text_is_an_error_naming_its_line() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "1 10 poll_start\n1 20 pol_end\n",
            2,
            "unknown event kind `pol_end`",
        ),
        (
            "\n\n1 10 poll_start tsk=1\n",
            3,
            "has no argument `tsk` (its arguments: task)",
        ),
        ("1 10 poll_start task=x\n", 1, "`task`: expected a task id"),
        ("1 10 poll_end ready=maybe\n", 1, "expected true or false"),
        (
            "1 10 wake source=sometimes\n",
            1,
            "expected one of task io timer",
        ),
        ("1 10 thread_start index=4294967296\n", 1, "too large"),
        (
            "1 20 poll_start\n1 10 poll_start\n",
            2,
            "time goes backwards",
        ),
        (
            "1 20 poll_start\n2 0 poll_start\n1 10 poll_start\n",
            3,
            "goes back in time",
        ),
        ("1 10 log message=\"open\n", 1, "not closed"),
        ("1 10 log message=unquoted\n", 1, "expected a quoted string"),
        ("1 10 poll_start task=1 task=2\n", 1, "given twice"),
        ("1\n", 1, "the time is missing"),
        ("1 10 unknown tag=0x10\n", 1, "extension range"),
        (
            "1 10 poll_start task=9223372036854775808\n",
            1,
            "cannot be encoded",
        ),
        ("1 10 poll_start\nheader\n", 2, "header must be the first"),
        ("strings\nfeature key=\"k\"\n", 2, "must follow the header"),
        ("end\n1 10 poll_start\n", 2, "nothing may follow the end"),
        ("frobnicate x=1\n", 1, "unknown record `frobnicate`"),
        ("string 1 \"x\"\n", 1, "name=value arguments only"),
        (
            "chunk thread=1 seq=0\nchunk thread=1 seq=0\nend\n",
            2,
            "reader rejects",
        ),
    ];
    for (text, line, message) in cases {
        let e = error(text);
        assert_eq!(e.line, *line, "{text:?}: {e}");
        assert!(e.message.contains(message), "{text:?}: {e}");
    }
}

/// Task ids a damaged chunk can decode to (any u64: the running task id wraps) print as
/// `TaskId` displays them, `root…` up to u64::MAX, and read back (found by the proptest below).
#[test]
fn task_ids_up_to_u64_max_round_trip() {
    let mut w = TraceWriter::new(Vec::new(), &TraceBuilder::new().header).unwrap();
    let head = EventChunkHeader {
        thread: 3,
        seq: 0,
        base_time: 0,
        end_time: 0,
        event_count: 0,
    };
    // A wake of task `zigzag⁻¹(61)` = -31 (wrapped: 2^64 - 31) by no task.
    w.write_events(&head, &[0x18 + 5, 0, 62, 0]).unwrap();
    let t = assert_round_trip(&w.into_inner());
    assert!(
        t.contains(&format!(
            " wake task={} waker=0 source=self_wake\n",
            TaskId(u64::MAX - 30)
        )),
        "{t}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 300, ..Default::default() })]

    /// Any bytes in a chunk (behind valid checksums, as a damaged writer could leave them)
    /// dump without a panic and still round-trip exactly.
    #[test]
    fn any_chunk_bytes_round_trip(
        events in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200),
        base in proptest::prelude::any::<u64>(),
    ) {
        let mut w = TraceWriter::new(Vec::new(), &TraceBuilder::new().header).unwrap();
        let head = EventChunkHeader { thread: 3, seq: 0, base_time: base, end_time: base, event_count: 0 };
        w.write_events(&head, &events).unwrap();
        assert_round_trip(&w.into_inner());
    }
}

/// Stacks, symbols (inlined frames, unknown files), mappings and sampling information come
/// back exactly, and the reader serves them.
#[test]
fn code_records_round_trip_and_read_back() {
    let mut b = TraceBuilder::new();
    b.meta(Meta::Stacks(vec![
        StackDef {
            id: 1,
            frames: vec![0x5555_0000_1010, 0x5555_0000_2020, u64::MAX],
        },
        StackDef {
            id: 2,
            frames: vec![],
        },
    ]));
    b.meta(Meta::Symbols(Symbols::build([
        (
            0x5555_0000_1010u64,
            vec![
                ("app::inner", Some("src/a.rs"), 3, 9),
                ("app::burn_cpu", Some("src/a.rs"), 12, 5),
            ],
        ),
        (0x5555_0000_2020, vec![("main", None, 0, 0)]),
    ])));
    b.meta(Meta::Mappings(vec![MappingDef {
        start: 0x5555_0000_0000,
        end: 0x5555_0010_0000,
        file_offset: 0x1000,
        path: "/usr/bin/app é".into(),
        build_id: vec![0xde, 0xad, 0x00, 0x01],
    }]));
    b.meta(Meta::Sampling(SamplingInfo {
        cpu_method: "timer_signal".into(),
        cpu_reason: "perf_event_open: Permission denied".into(),
        cpu_hz: 99,
        stall_threshold_ns: 5_000_000,
        max_frames: 128,
        cpu_samples: 10,
        stall_samples: 2,
        lost_samples: 1,
        truncated_stacks: 3,
        stacks: 2,
        addresses: 3,
        resolved_addresses: 2,
        symbolize_ns: 12_345,
    }));
    b.thread(1, "worker-0");
    b.push(
        1,
        10,
        Event::CpuSample {
            task: TaskId(1),
            stack: StackId(1),
        },
    );
    let bytes = b.to_bytes();
    let text = assert_round_trip(&bytes);
    for want in [
        "stack id=1 frames=0x555500001010,0x555500002020,0xffffffffffffffff\n",
        "stack id=2\n",
        "symbol addr=0x555500001010 function=\"app::inner\" file=\"src/a.rs\" line=3 column=9\n",
        "symbol_frame function=\"app::burn_cpu\" file=\"src/a.rs\" line=12 column=5\n",
        "symbol addr=0x555500002020 function=\"main\" line=0 column=0\n",
        "build_id=dead0001\n",
        "sampling cpu_method=\"timer_signal\"",
        "1 10 cpu_sample task=1 stack=1\n",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
    assert!(
        !text.contains("frame kind="),
        "a record was kept raw:\n{text}"
    );

    let trace = Trace::from_bytes(bytes).unwrap();
    let code = trace.code();
    let frames = code.stack(StackId(1)).unwrap();
    assert_eq!(frames.len(), 3);
    let names: Vec<_> = code.frames_at(frames[0]).map(|f| f.function).collect();
    assert_eq!(names, ["app::inner", "app::burn_cpu"]);
    let main = code.frames_at(frames[1]).next().unwrap();
    assert_eq!((main.function, main.file), ("main", None));
    assert_eq!(code.frames_at(frames[2]).count(), 0);
    assert_eq!(code.mappings()[0].build_id, [0xde, 0xad, 0x00, 0x01]);
    assert_eq!(code.sampling().unwrap().cpu_method, "timer_signal");
    assert!(code.stack(StackId::NONE).is_none());
}

/// A later symbols record overrides an address an earlier one resolved
/// (`trace-viewer symbolize` appends one).
#[test]
fn a_later_symbols_record_overrides_an_address() {
    let mut b = TraceBuilder::new();
    b.meta(Meta::Symbols(Symbols::build([(
        0x10u64,
        vec![("old", None, 0, 0)],
    )])));
    b.meta(Meta::Symbols(Symbols::build([
        (0x10u64, vec![("new", Some("src/x.rs"), 1, 1)]),
        (0x20, vec![("other", None, 0, 0)]),
    ])));
    let trace = Trace::from_bytes(b.to_bytes()).unwrap();
    let f = trace.code().frames_at(0x10).next().unwrap();
    assert_eq!((f.function, f.file, f.line), ("new", Some("src/x.rs"), 1));
    assert_eq!(trace.code().resolved_count(), 2);
}

/// A symbols record not in the form writers produce is kept as a raw frame (and comes back).
#[test]
fn a_symbols_record_in_another_form_is_kept_raw() {
    let mut sym = Symbols::build([(0x10u64, vec![("f", Some("a.rs"), 1, 1)])]);
    sym.strings.push("unused".into());
    let mut b = TraceBuilder::new();
    b.meta(Meta::Symbols(sym));
    let text = assert_round_trip(&b.to_bytes());
    assert!(text.contains("frame kind=0x03"), "{text}");
}

/// A task dump record (issue 20: where tasks wait) reads back with its tasks and frames,
/// `dump` shows each await trace as comments, and the record itself round-trips exactly
/// (kept as a `frame` line). An old reader skips it with a warning, like any unknown META.
#[test]
fn task_dumps_read_back_and_dump_as_comments() {
    let mut b = TraceBuilder::new();
    let dump = TaskDump {
        runtime: "1".into(),
        time: 42,
        wait_ns: 1234,
        error: String::new(),
        strings: vec![
            "tokio::sync::mpsc::Receiver<T>::recv".into(),
            "app::wait_for_job::{{closure}}".into(),
            "src/jobs.rs".into(),
        ],
        tasks: vec![DumpedTask {
            tokio_id: 7,
            backtraces: vec![vec![
                SymbolFrame {
                    function: 0,
                    file: SymbolFrame::NO_FILE,
                    line: 0,
                    column: 0,
                },
                SymbolFrame {
                    function: 1,
                    file: 2,
                    line: 25,
                    column: 9,
                },
            ]],
        }],
    };
    let failed = TaskDump {
        runtime: "2".into(),
        error: "timed out".into(),
        ..TaskDump::default()
    };
    b.meta(Meta::TaskDump(dump.clone()));
    b.meta(Meta::TaskDump(failed.clone()));
    let bytes = b.to_bytes();
    let trace = Trace::from_bytes(bytes.clone()).unwrap();
    assert_eq!(trace.task_dumps(), [dump, failed]);
    assert!(trace.file_bytes().meta_bytes("task_dumps") > 0);
    let text = assert_round_trip(&bytes);
    for want in [
        "# task_dump runtime=1 tasks=1 wait_ns=1234\n",
        "#   tokio task 7\n",
        "#     ╼ app::wait_for_job::{{closure}} at src/jobs.rs:25\n#     └╼ tokio::sync::mpsc::Receiver<T>::recv\n",
        "# task_dump runtime=2 tasks=0 wait_ns=0 error=\"timed out\"\n",
    ] {
        assert!(text.contains(want), "missing {want:?} in\n{text}");
    }
}
