//! Round-trip tests: every event variant, with extreme argument values, survives encoding and
//! decoding unchanged — at the codec level (one chunk's bytes) and at the file level (a whole
//! multi-thread, many-chunk trace read back through [`Trace`]).
//!
//! Task ids are generated in `0..=codec::MAX_TASK_ID`. Larger ids are not supported by the
//! encoding (the zigzag of their difference can overflow); recorders hand out ids from 1
//! upwards, so they never occur, and they are deliberately not tested here.

use proptest::collection::vec;
use proptest::prelude::*;
use trace_format::build::{OwnedEvent, TraceBuilder};
use trace_format::codec::{self, ChunkDecoder, EncodeState, MAX_TASK_ID};
use trace_format::{
    Event, Level, LocationId, PauseScope, StringId, TaskId, TaskKind, ThreadKind, Trace, WakeSource,
};

// ---------------------------------------------------------------------------------------------
// Strategies

fn u64_arg() -> impl Strategy<Value = u64> {
    prop_oneof![
        3 => 0..300u64,
        1 => Just(0u64),
        1 => Just(u64::MAX),
        1 => Just(1u64 << 63),
        1 => Just((1u64 << 56) - 1),
        2 => any::<u64>(),
    ]
}

fn i64_arg() -> impl Strategy<Value = i64> {
    prop_oneof![
        3 => -300..300i64,
        1 => Just(i64::MIN),
        1 => Just(i64::MAX),
        2 => any::<i64>(),
    ]
}

fn u32_arg() -> impl Strategy<Value = u32> {
    prop_oneof![
        3 => 0..300u32,
        1 => Just(0u32),
        1 => Just(u32::MAX),
        2 => any::<u32>(),
    ]
}

fn task_id() -> impl Strategy<Value = TaskId> {
    prop_oneof![
        1 => Just(0u64),
        1 => Just(1u64),
        1 => Just(MAX_TASK_ID),
        1 => Just(MAX_TASK_ID - 1),
        4 => 1..64u64,
        2 => 0..=MAX_TASK_ID,
    ]
    .prop_map(TaskId)
}

fn string_id() -> impl Strategy<Value = StringId> {
    u32_arg().prop_map(StringId)
}

fn location_id() -> impl Strategy<Value = LocationId> {
    u32_arg().prop_map(LocationId)
}

fn thread_kind() -> impl Strategy<Value = ThreadKind> {
    prop_oneof![
        Just(ThreadKind::Worker),
        Just(ThreadKind::Blocking),
        Just(ThreadKind::Other)
    ]
}

fn task_kind() -> impl Strategy<Value = TaskKind> {
    prop_oneof![
        Just(TaskKind::Async),
        Just(TaskKind::BlockOn),
        Just(TaskKind::Blocking),
        Just(TaskKind::Local)
    ]
}

fn wake_source() -> impl Strategy<Value = WakeSource> {
    (0..WakeSource::ALL.len()).prop_map(|i| WakeSource::ALL[i])
}

fn pause_scope() -> impl Strategy<Value = PauseScope> {
    prop_oneof![Just(PauseScope::Process), Just(PauseScope::Thread)]
}

fn level() -> impl Strategy<Value = Level> {
    prop_oneof![
        Just(Level::Trace),
        Just(Level::Debug),
        Just(Level::Info),
        Just(Level::Warn),
        Just(Level::Error)
    ]
}

/// Empty, short ASCII, short arbitrary Unicode, and long multi-byte messages.
fn message() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => Just(String::new()),
        3 => "[a-z ]{1,20}",
        3 => vec(any::<char>(), 1..40).prop_map(String::from_iter),
        1 => vec(prop_oneof![Just('é'), Just('€'), Just('😀'), Just('a'), Just('\0')], 100..3000)
            .prop_map(String::from_iter),
    ]
}

/// Empty, small and large (length varint of 3 bytes) extension payloads.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => Just(Vec::new()),
        4 => vec(any::<u8>(), 1..24),
        1 => (20_000..70_000usize, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
    ]
}

/// Any event, every variant reachable, with extreme values mixed in.
fn event() -> BoxedStrategy<OwnedEvent> {
    let own = |e: Event<'_>| OwnedEvent::new(&e);
    prop_oneof![
        (thread_kind(), u32_arg())
            .prop_map(move |(kind, index)| own(Event::ThreadStart { kind, index })),
        Just(own(Event::ThreadStop)),
        Just(own(Event::WorkerPark)),
        Just(own(Event::WorkerUnpark)),
        (
            task_id(),
            task_kind(),
            u64_arg(),
            task_id(),
            location_id(),
            string_id()
        )
            .prop_map(move |(task, kind, tokio_id, parent, location, name)| own(
                Event::TaskSpawn {
                    task,
                    kind,
                    tokio_id,
                    parent,
                    location,
                    name
                }
            )),
        task_id().prop_map(move |task| own(Event::PollStart { task })),
        any::<bool>().prop_map(move |ready| own(Event::PollEnd { ready })),
        (task_id(), task_id(), wake_source()).prop_map(move |(task, waker, source)| own(
            Event::Wake {
                task,
                waker,
                source
            }
        )),
        task_id().prop_map(move |task| own(Event::TaskTerminate { task })),
        (task_id(), u64_arg())
            .prop_map(move |(task, nanos)| own(Event::ScheduleLatency { task, nanos })),
        task_id().prop_map(move |task| own(Event::BlockingStart { task })),
        Just(own(Event::BlockingEnd)),
        (u64_arg(), u64_arg(), u64_arg(), u64_arg()).prop_map(
            move |(allocs, frees, alloc_bytes, free_bytes)| own(Event::AllocCounters {
                allocs,
                frees,
                alloc_bytes,
                free_bytes
            })
        ),
        (u64_arg(), task_id()).prop_map(move |(size, task)| own(Event::AllocSample { size, task })),
        (string_id(), pause_scope())
            .prop_map(move |(kind, scope)| own(Event::PauseBegin { kind, scope })),
        (string_id(), pause_scope())
            .prop_map(move |(kind, scope)| own(Event::PauseEnd { kind, scope })),
        (u64_arg(), string_id()).prop_map(move |(id, name)| own(Event::RegionBegin { id, name })),
        u64_arg().prop_map(move |id| own(Event::RegionEnd { id })),
        (level(), string_id(), message()).prop_map(move |(level, target, message)| own(
            Event::Log {
                level,
                target,
                message: &message
            }
        )),
        (string_id(), i64_arg()).prop_map(move |(name, value)| own(Event::Counter { name, value })),
        (u64_arg(), u64_arg(), u64_arg()).prop_map(
            move |(global_queue, alive_tasks, blocking_threads)| own(Event::RuntimeSample {
                global_queue,
                alive_tasks,
                blocking_threads
            })
        ),
        (u32_arg(), u64_arg())
            .prop_map(move |(worker, depth)| own(Event::WorkerQueueSample { worker, depth })),
        (u64_arg(), u64_arg())
            .prop_map(move |(chunks, events)| own(Event::Lost { chunks, events })),
        (0x80..=0xFFu8, payload()).prop_map(move |(tag, payload)| own(Event::Unknown {
            tag,
            payload: &payload
        })),
    ]
    .boxed()
}

/// Time steps between consecutive events: mostly small, sometimes 0, sometimes huge.
fn time_delta() -> impl Strategy<Value = u64> {
    prop_oneof![
        4 => 0..1_000u64,
        2 => Just(0u64),
        1 => 0..(1u64 << 40),
        1 => 0..(u64::MAX / 8),
    ]
}

fn start_time() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        0..(1u64 << 50),
        Just(u64::MAX - 10_000),
        Just(u64::MAX)
    ]
}

/// Nondecreasing times from a start and deltas (saturating at `u64::MAX`, which also
/// exercises long runs of delta 0 at the very end of the clock).
fn times_from(start: u64, deltas: &[u64]) -> Vec<u64> {
    let mut t = start;
    deltas
        .iter()
        .map(|&d| {
            t = t.saturating_add(d);
            t
        })
        .collect()
}

/// A deterministic list of every variant with extreme values (and every enum value), so that
/// coverage of each variant never depends on proptest's luck.
fn every_variant() -> Vec<OwnedEvent> {
    let big = "é€😀".repeat(1000);
    let large = vec![0xA5u8; 70_000];
    let max_task = TaskId(MAX_TASK_ID);
    let mut v: Vec<Event<'_>> = vec![
        Event::ThreadStop,
        Event::WorkerPark,
        Event::WorkerUnpark,
        Event::TaskSpawn {
            task: max_task,
            kind: TaskKind::Async,
            tokio_id: u64::MAX,
            parent: TaskId(1),
            location: LocationId(u32::MAX),
            name: StringId(u32::MAX),
        },
        Event::TaskSpawn {
            task: TaskId(1),
            kind: TaskKind::Local,
            tokio_id: 0,
            parent: max_task,
            location: LocationId::NONE,
            name: StringId::NONE,
        },
        Event::PollStart { task: max_task },
        Event::PollStart { task: TaskId(1) },
        Event::PollStart { task: TaskId::NONE },
        Event::PollEnd { ready: false },
        Event::PollEnd { ready: true },
        Event::TaskTerminate { task: max_task },
        Event::ScheduleLatency {
            task: TaskId(2),
            nanos: u64::MAX,
        },
        Event::BlockingStart { task: max_task },
        Event::BlockingEnd,
        Event::AllocCounters {
            allocs: u64::MAX,
            frees: 0,
            alloc_bytes: u64::MAX,
            free_bytes: 1,
        },
        Event::AllocSample {
            size: u64::MAX,
            task: TaskId::NONE,
        },
        Event::RegionBegin {
            id: u64::MAX,
            name: StringId(u32::MAX),
        },
        Event::RegionEnd { id: u64::MAX },
        Event::Log {
            level: Level::Info,
            target: StringId(u32::MAX),
            message: "",
        },
        Event::Log {
            level: Level::Error,
            target: StringId(1),
            message: &big,
        },
        Event::Counter {
            name: StringId(u32::MAX),
            value: i64::MIN,
        },
        Event::Counter {
            name: StringId(1),
            value: i64::MAX,
        },
        Event::RuntimeSample {
            global_queue: u64::MAX,
            alive_tasks: u64::MAX,
            blocking_threads: u64::MAX,
        },
        Event::WorkerQueueSample {
            worker: u32::MAX,
            depth: u64::MAX,
        },
        Event::Lost {
            chunks: u64::MAX,
            events: u64::MAX,
        },
        Event::Unknown {
            tag: 0x80,
            payload: &[],
        },
        Event::Unknown {
            tag: 0xFF,
            payload: &large,
        },
    ];
    for kind in [ThreadKind::Worker, ThreadKind::Blocking, ThreadKind::Other] {
        v.push(Event::ThreadStart {
            kind,
            index: u32::MAX,
        });
    }
    for source in WakeSource::ALL {
        v.push(Event::Wake {
            task: max_task,
            waker: TaskId(1),
            source,
        });
    }
    for scope in [PauseScope::Process, PauseScope::Thread] {
        v.push(Event::PauseBegin {
            kind: StringId(u32::MAX),
            scope,
        });
        v.push(Event::PauseEnd {
            kind: StringId(0),
            scope,
        });
    }
    for level in [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
    ] {
        v.push(Event::Log {
            level,
            target: StringId(7),
            message: "x",
        });
    }
    v.iter().map(OwnedEvent::new).collect()
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// Encodes `(time, event)` pairs as one chunk's event bytes, checking the size bound.
fn encode_all(base: u64, events: &[(u64, OwnedEvent)]) -> Vec<u8> {
    let cap: usize = events
        .iter()
        .map(|(_, e)| codec::max_encoded_len(&e.event()))
        .sum();
    let mut buf = vec![0u8; cap];
    let mut state = EncodeState::new(base);
    let mut len = 0;
    for (t, e) in events {
        let ev = e.event();
        let n = codec::encode(&mut state, &mut buf[len..], *t, &ev);
        assert!(n <= codec::max_encoded_len(&ev), "{ev:?} took {n} bytes");
        len += n;
    }
    buf.truncate(len);
    buf
}

fn decode_all(bytes: &[u8], base: u64) -> Vec<(u64, Event<'_>)> {
    ChunkDecoder::new(bytes, base)
        .collect::<Result<Vec<_>, _>>()
        .expect("decodes")
}

fn assert_same(decoded: &[(u64, Event<'_>)], expected: &[(u64, OwnedEvent)]) {
    assert_eq!(decoded.len(), expected.len());
    for (i, ((dt, de), (et, ee))) in decoded.iter().zip(expected).enumerate() {
        assert_eq!((*dt, *de), (*et, ee.event()), "event {i}");
    }
}

// ---------------------------------------------------------------------------------------------
// Codec level

#[test]
fn every_variant_round_trips_in_one_chunk() {
    let events = every_variant();
    // All 24 variants are present.
    let mut kinds: Vec<&str> = events.iter().map(|e| e.event().kind_name()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    assert_eq!(kinds.len(), 24, "{kinds:?}");

    for (base, step) in [(0u64, 0u64), (0, 1), (5, 1 << 20), (u64::MAX - 1000, 0)] {
        let list: Vec<(u64, OwnedEvent)> = events
            .iter()
            .enumerate()
            .map(|(i, e)| (base + step * i as u64, e.clone()))
            .collect();
        let bytes = encode_all(base, &list);
        assert_same(&decode_all(&bytes, base), &list);
    }
    // The largest possible step: base 0, then u64::MAX.
    let list = vec![
        (0, events[0].clone()),
        (u64::MAX, events[3].clone()),
        (u64::MAX, events[1].clone()),
    ];
    let bytes = encode_all(0, &list);
    assert_same(&decode_all(&bytes, 0), &list);
}

#[test]
fn every_variant_round_trips_through_a_file() {
    let events = every_variant();
    let mut b = TraceBuilder::new();
    b.chunk_capacity = 100;
    for (i, e) in events.iter().enumerate() {
        b.push(u32::MAX, 10 * i as u64, e.event());
        b.push(0, 10 * i as u64 + 5, e.event());
    }
    let trace = Trace::from_bytes(b.to_bytes()).unwrap();
    assert!(trace.warnings().is_empty(), "{:?}", trace.warnings());
    assert_eq!(trace.validate().unwrap(), 2 * events.len() as u64);
    // Many chunks per thread.
    assert!(
        trace.chunks().len() >= 20,
        "{} chunks",
        trace.chunks().len()
    );
    for (thread, offset) in [(u32::MAX, 0u64), (0, 5)] {
        let got: Vec<_> = trace
            .thread_events(thread)
            .map(|r| r.map(|r| (r.time, r.event)))
            .collect::<Result<_, _>>()
            .unwrap();
        let want: Vec<_> = events
            .iter()
            .enumerate()
            .map(|(i, e)| (10 * i as u64 + offset, e.clone()))
            .collect();
        assert_same(&got, &want);
    }
}

#[test]
fn backwards_time_is_clamped_to_the_previous_time() {
    let e = OwnedEvent::new(&Event::WorkerPark);
    let mut state = EncodeState::new(100);
    let mut buf = vec![0u8; 64 * codec::MAX_FIXED_EVENT_LEN];
    let mut len = 0;
    for t in [50u64, 120, 110, 0, 130, u64::MAX, 7] {
        len += codec::encode(&mut state, &mut buf[len..], t, &e.event());
    }
    let times: Vec<u64> = decode_all(&buf[..len], 100)
        .iter()
        .map(|(t, _)| *t)
        .collect();
    assert_eq!(times, [100, 120, 120, 120, 130, u64::MAX, u64::MAX]);
}

#[test]
fn decoding_rejects_unknown_non_extension_tags() {
    // 0x00 and unassigned tags below 0x80 are reserved: a reader cannot know their length,
    // so they are errors.
    for t in [0x00u8, 0x05, 0x0F, 0x1F, 0x42, 0x7F] {
        let bytes = [t, 0, 0, 0];
        let err = ChunkDecoder::new(&bytes, 0).next().unwrap().unwrap_err();
        assert_eq!(err.offset, 0);
        assert_eq!(err.reason, "unknown event tag");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    /// A list of events with nondecreasing times decodes to exactly itself.
    #[test]
    fn codec_round_trip(
        start in start_time(),
        base_back in prop_oneof![Just(0u64), 0..1000u64],
        steps in vec((time_delta(), event()), 0..120),
    ) {
        let deltas: Vec<u64> = steps.iter().map(|(d, _)| *d).collect();
        let times = times_from(start, &deltas);
        let list: Vec<(u64, OwnedEvent)> =
            times.into_iter().zip(steps.into_iter().map(|(_, e)| e)).collect();
        // The chunk's base time is at or before the first event.
        let base = start.saturating_sub(base_back);
        let bytes = encode_all(base, &list);
        assert_same(&decode_all(&bytes, base), &list);
    }

    /// Arbitrary (not sorted) times decode as their running maximum.
    #[test]
    fn codec_clamps_backwards_times(
        base in any::<u64>(),
        list in vec((any::<u64>(), event()), 0..60),
    ) {
        let bytes = encode_all(base, &list);
        let mut t = base;
        let want: Vec<(u64, OwnedEvent)> = list
            .iter()
            .map(|(time, e)| {
                t = t.max(*time);
                (t, e.clone())
            })
            .collect();
        assert_same(&decode_all(&bytes, base), &want);
    }

    /// `max_encoded_len` bounds every event from any encoder state, at any time.
    #[test]
    fn max_encoded_len_is_an_upper_bound(
        last_time in any::<u64>(),
        last_task in prop_oneof![Just(0u64), Just(MAX_TASK_ID), 0..=MAX_TASK_ID],
        time in any::<u64>(),
        e in event(),
    ) {
        let ev = e.event();
        let bound = codec::max_encoded_len(&ev);
        let mut buf = vec![0u8; bound];
        let mut state = EncodeState { last_time, last_task };
        let n = codec::encode(&mut state, &mut buf, time, &ev);
        prop_assert!(n <= bound, "{:?} took {} > {} bytes", ev, n, bound);
    }
}

// ---------------------------------------------------------------------------------------------
// File level

/// Per thread: its id and its (time delta, event) steps.
type ThreadSteps = Vec<(u32, u64, Vec<(u64, OwnedEvent)>)>;

fn threads() -> impl Strategy<Value = ThreadSteps> {
    let thread_id = prop_oneof![Just(0u32), Just(u32::MAX), 1..16u32, any::<u32>()];
    vec(
        (thread_id, start_time(), vec((time_delta(), event()), 0..40)),
        1..5,
    )
    .prop_map(|mut v| {
        // One entry per thread id.
        v.sort_by_key(|(id, ..)| *id);
        v.dedup_by_key(|(id, ..)| *id);
        v
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// A many-chunk, multi-thread trace reads back exactly: per thread, merged, and validated.
    #[test]
    fn file_round_trip(
        threads in threads(),
        chunk_capacity in prop_oneof![64..200usize, 200..2000usize],
    ) {
        let mut b = TraceBuilder::new();
        b.chunk_capacity = chunk_capacity;
        b.string(1, "worker").string(u32::MAX, "é€😀");
        b.location(1, "src/main.rs", 10, 5).location(u32::MAX, "", u32::MAX, u32::MAX);
        let mut expected = Vec::new();
        for (thread, start, steps) in &threads {
            b.thread(*thread, &format!("thread-{thread}"));
            let deltas: Vec<u64> = steps.iter().map(|(d, _)| *d).collect();
            let list: Vec<(u64, OwnedEvent)> = times_from(*start, &deltas)
                .into_iter()
                .zip(steps.iter().map(|(_, e)| e.clone()))
                .collect();
            for (t, e) in &list {
                b.push(*thread, *t, e.event());
            }
            expected.push((*thread, list));
        }
        let total: usize = expected.iter().map(|(_, l)| l.len()).sum();

        let trace = Trace::from_bytes(b.to_bytes()).unwrap();
        prop_assert!(trace.warnings().is_empty(), "{:?}", trace.warnings());
        prop_assert_eq!(trace.validate().unwrap(), total as u64);
        prop_assert_eq!(trace.end().unwrap().events, total as u64);
        prop_assert_eq!(trace.string(StringId(u32::MAX)), Some("é€😀"));
        prop_assert_eq!(trace.location(LocationId(1)).unwrap().line, 10);
        prop_assert_eq!(trace.location(LocationId(u32::MAX)).unwrap().column, u32::MAX);
        for (thread, _) in &expected {
            let name = format!("thread-{thread}");
            prop_assert_eq!(&trace.threads()[thread].name, &name);
        }

        // Per thread, exactly what was pushed.
        for (thread, list) in &expected {
            let got: Vec<(u64, Event<'_>)> = trace
                .thread_events(*thread)
                .map(|r| r.map(|r| (r.time, r.event)))
                .collect::<Result<_, _>>()
                .unwrap();
            assert_same(&got, list);
        }

        // Merged: globally nondecreasing in time (ties by thread id), and each thread's
        // subsequence is exactly what was pushed.
        let merged: Vec<_> = trace.events().collect::<Result<_, _>>().unwrap();
        prop_assert_eq!(merged.len(), total);
        for w in merged.windows(2) {
            prop_assert!(
                (w[0].time, w[0].thread) <= (w[1].time, w[1].thread),
                "out of order: {:?} then {:?}", w[0], w[1]
            );
        }
        for (thread, list) in &expected {
            let got: Vec<(u64, Event<'_>)> = merged
                .iter()
                .filter(|r| r.thread == *thread)
                .map(|r| (r.time, r.event))
                .collect();
            assert_same(&got, list);
        }
    }
}
