//! The worked example in FORMAT.md is produced by this code: the test regenerates the bytes
//! and checks that the hex dump in FORMAT.md is exactly them, and that they read back.

use trace_format::codec::{self, EncodeState};
use trace_format::{
    ClockInfo, End, Event, EventChunkHeader, Header, Level, LocationId, StringId, TaskId, TaskKind,
    ThreadKind, Trace, TraceWriter, WakeSource,
};

fn example_events() -> Vec<(u64, Event<'static>)> {
    vec![
        (
            1000,
            Event::ThreadStart {
                kind: ThreadKind::Worker,
                index: 0,
            },
        ),
        (
            1000,
            Event::TaskSpawn {
                task: TaskId(5),
                kind: TaskKind::Async,
                tokio_id: 1,
                parent: TaskId::NONE,
                location: LocationId(1),
                name: StringId(2),
            },
        ),
        (1003, Event::PollStart { task: TaskId(5) }),
        (
            1300,
            Event::Wake {
                task: TaskId(6),
                waker: TaskId(5),
                source: WakeSource::Task,
            },
        ),
        (1310, Event::PollEnd { ready: false }),
        (
            1310,
            Event::Log {
                level: Level::Info,
                target: StringId(2),
                message: "hé",
            },
        ),
        (
            1400,
            Event::Counter {
                name: StringId(3),
                value: -2,
            },
        ),
    ]
}

fn example_file() -> Vec<u8> {
    let header = Header {
        clock: ClockInfo {
            source: "tsc".into(),
            nanos_per_unit_q32: 3 << 31,
        },
        start_time: 1000,
        wall_clock_unix_nanos: 0,
        recorder: "ex".into(),
        process_id: 7,
        process_name: "app".into(),
        chunk_capacity: 4096,
        features: vec![("k".into(), "v".into())],
    };
    let mut w = TraceWriter::new(Vec::new(), &header).unwrap();
    let events = example_events();
    let mut buf = vec![0u8; 1024];
    let mut state = EncodeState::new(1000);
    let mut len = 0;
    for (t, e) in &events {
        len += codec::encode(&mut state, &mut buf[len..], *t, e);
    }
    let ch = EventChunkHeader {
        thread: 1,
        seq: 0,
        base_time: 1000,
        end_time: state.last_time,
        event_count: events.len() as u32,
    };
    w.write_events(&ch, &buf[..len]).unwrap();
    w.finish(&End {
        end_time: 1400,
        events: 7,
        chunks: 1,
        lost_chunks: 0,
        lost_events: 0,
    })
    .unwrap()
}

/// The hex dump between the example markers in FORMAT.md.
fn bytes_in_format_md() -> Vec<u8> {
    let md = include_str!("../FORMAT.md");
    let start = md.find("<!-- example:begin -->").expect("begin marker");
    let end = md.find("<!-- example:end -->").expect("end marker");
    let mut out = Vec::new();
    for line in md[start..end].lines() {
        let Some((addr, hex)) = line.split_once(": ") else {
            continue;
        };
        assert_eq!(
            usize::from_str_radix(addr, 16).unwrap(),
            out.len(),
            "{line}"
        );
        for b in hex.split_whitespace() {
            out.push(u8::from_str_radix(b, 16).unwrap());
        }
    }
    out
}

fn hex_dump(b: &[u8]) -> String {
    let mut s = String::new();
    for (i, line) in b.chunks(16).enumerate() {
        let hex: Vec<String> = line.iter().map(|x| format!("{x:02x}")).collect();
        s += &format!("{:04x}: {}\n", i * 16, hex.join(" "));
    }
    s
}

#[test]
fn format_md_example_is_what_the_code_writes() {
    let bytes = example_file();
    assert_eq!(
        bytes_in_format_md(),
        bytes,
        "FORMAT.md's example is stale; the bytes are now:\n{}",
        hex_dump(&bytes)
    );
}

#[test]
fn format_md_example_reads_back() {
    let trace = Trace::from_bytes(bytes_in_format_md()).unwrap();
    assert!(trace.warnings().is_empty(), "{:?}", trace.warnings());
    assert_eq!(trace.validate().unwrap(), 7);
    let c = trace.chunks()[0];
    assert_eq!((c.offset, c.events_offset, c.events_len), (55, 103, 34));
    assert_eq!(trace.end().unwrap().events, 7);
    let got: Vec<(u64, Event<'_>)> = trace
        .thread_events(1)
        .map(|r| r.map(|r| (r.time, r.event)))
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(got, example_events());
    assert_eq!(trace.to_nanos(1400), 600);
    // The CRC is CRC-32/ISO-HDLC: its standard check value.
    assert_eq!(crc32fast::hash(b"123456789"), 0xCBF4_3926);
}

/// Exactly the tags no kind of the spec table owns are reserved (an error in version 1);
/// `tests/spec_table.rs` checks that FORMAT.md's table lists the same ones.
#[test]
fn reserved_tags_match_format_md() {
    let assigned: Vec<u8> = trace_format::EventKind::ALL
        .iter()
        .flat_map(|k| k.tags())
        .collect();
    assert!(assigned.contains(&0x18) && assigned.contains(&0xFF));
    for t in 0..=u8::MAX {
        // Tag, delta 0, then enough zero bytes for any argument list.
        let mut bytes = vec![t, 0];
        bytes.extend_from_slice(&[0; 16]);
        let first = codec::ChunkDecoder::new(&bytes, 0).next().unwrap();
        let reserved = matches!(&first, Err(e) if e.reason == "unknown event tag");
        assert_eq!(reserved, !assigned.contains(&t), "tag {t:#04x}: {first:?}");
    }
}
