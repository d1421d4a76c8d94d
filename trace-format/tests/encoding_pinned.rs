//! The encoding is pinned: a fixed list holding every event tag (each wake source, both poll
//! ends, every enum value, the largest values) encodes to exactly the bytes below, which were
//! produced by the hand-written codec before the codec was generated from the event spec
//! table. A change to the table that changes any byte fails here.

use trace_format::build::TraceBuilder;
use trace_format::codec::{self, EncodeState};
use trace_format::{
    Event, Level, LocationId, PauseScope, StringId, TaskId, TaskKind, ThreadKind, WakeSource,
};

fn every_tag() -> Vec<Event<'static>> {
    let mut v = vec![];
    for kind in [ThreadKind::Worker, ThreadKind::Blocking, ThreadKind::Other] {
        v.push(Event::ThreadStart { kind, index: 3 });
    }
    v.push(Event::ThreadStart {
        kind: ThreadKind::Other,
        index: u32::MAX,
    });
    v.extend([Event::ThreadStop, Event::WorkerPark, Event::WorkerUnpark]);
    for kind in [
        TaskKind::Async,
        TaskKind::BlockOn,
        TaskKind::Blocking,
        TaskKind::Local,
    ] {
        v.push(Event::TaskSpawn {
            task: TaskId(1000),
            kind,
            tokio_id: 77,
            parent: TaskId(999),
            location: LocationId(4),
            name: StringId(5),
        });
    }
    v.push(Event::TaskSpawn {
        task: TaskId(codec::MAX_TASK_ID),
        kind: TaskKind::Async,
        tokio_id: u64::MAX,
        parent: TaskId::NONE,
        location: LocationId(u32::MAX),
        name: StringId(u32::MAX),
    });
    v.push(Event::PollStart { task: TaskId(1) });
    v.push(Event::PollStart {
        task: TaskId(TaskId::FIRST_OWN),
    });
    v.push(Event::PollEnd { ready: false });
    v.push(Event::PollEnd { ready: true });
    for source in WakeSource::ALL {
        v.push(Event::Wake {
            task: TaskId(3),
            waker: TaskId(2),
            source,
        });
    }
    v.push(Event::Wake {
        task: TaskId(3),
        waker: TaskId::NONE,
        source: WakeSource::Io,
    });
    v.push(Event::TaskTerminate { task: TaskId(3) });
    v.push(Event::ScheduleLatency {
        task: TaskId(3),
        nanos: 12_345,
    });
    v.push(Event::BlockingStart { task: TaskId(40) });
    v.push(Event::BlockingEnd);
    v.push(Event::AllocCounters {
        allocs: 1,
        frees: 300,
        alloc_bytes: 1 << 40,
        free_bytes: u64::MAX,
    });
    v.push(Event::AllocSample {
        size: 4096,
        task: TaskId(40),
    });
    for scope in [PauseScope::Process, PauseScope::Thread] {
        v.push(Event::PauseBegin {
            kind: StringId(9),
            scope,
        });
        v.push(Event::PauseEnd {
            kind: StringId(9),
            scope,
        });
    }
    v.push(Event::RegionBegin {
        id: 1 << 33,
        name: StringId(6),
    });
    v.push(Event::RegionEnd { id: 1 << 33 });
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
            message: "hé \"q\"\n",
        });
    }
    v.push(Event::Counter {
        name: StringId(8),
        value: i64::MIN,
    });
    v.push(Event::Counter {
        name: StringId(8),
        value: -3,
    });
    v.push(Event::RuntimeSample {
        global_queue: 5,
        alive_tasks: 6,
        blocking_threads: 7,
    });
    v.push(Event::WorkerQueueSample {
        worker: 2,
        depth: 128,
    });
    v.push(Event::Lost {
        chunks: 2,
        events: 500,
    });
    v.push(Event::Unknown {
        tag: 0x80,
        payload: &[],
    });
    v.push(Event::Unknown {
        tag: 0xFF,
        payload: &[0, 1, 0xFF],
    });
    v
}

/// One chunk's event bytes, times stepping by 1, 0 and 300 from base 1000.
fn encoded() -> Vec<u8> {
    let events = every_tag();
    let mut buf = vec![0u8; events.iter().map(codec::max_encoded_len).sum()];
    let mut state = EncodeState::new(1000);
    let mut len = 0;
    for (i, e) in events.iter().enumerate() {
        let time = 1000 + [1u64, 0, 300][i % 3] * i as u64;
        len += codec::encode(&mut state, &mut buf[len..], time, e);
    }
    buf.truncate(len);
    buf
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02x}")).collect()
}

const PINNED_EVENTS: &str = concat!(
    "010000030100010301d8040203010002ffffffff0f020003840704001000d10f004d02040510840703014d0204051000",
    "03024d020405100003034d020405108407b1f0ffffffffffffff0100ffffffffffffffffff0100ffffffff0fffffffff",
    "0f1100fcffffffffffffffff011100ffffffffffffffff7f12840713001800faffffffffffffff7f0219840703021a00",
    "03021b0003021c840703021d0003021e0003021984070300140001150001b9601684074b1700200001ac028080808080",
    "20ffffffffffffffffff0121840780200128000900290009002884070901290009013000808080802006318407808080",
    "8020320000070868c3a9202271220a320001070868c3a9202271220a32840702070868c3a9202271220a320003070868",
    "c3a9202271220a320004070868c3a9202271220a33840708ffffffffffffffffff013300080538000506073984070280",
    "013f0002f403800000ff8407030001ff",
);

const PINNED_FILE_CRC: u32 = 1684329131;
const PINNED_FILE_LEN: usize = 1620;

#[test]
fn every_tag_encodes_to_the_pinned_bytes() {
    assert_eq!(hex(&encoded()), PINNED_EVENTS);
}

#[test]
fn a_many_chunk_file_is_byte_identical() {
    let mut b = TraceBuilder::new();
    b.chunk_capacity = 100;
    // Not the builder's default, which holds the crate version.
    b.header.recorder = "pinned".into();
    b.string(1, "worker").location(1, "src/main.rs", 10, 5);
    b.thread(1, "one").thread(7, "seven");
    for (i, e) in every_tag().into_iter().enumerate() {
        b.push(1, 10 * i as u64, e);
        b.push(7, 10 * i as u64 + 3, e);
    }
    let bytes = b.to_bytes();
    assert_eq!(
        (bytes.len(), crc32fast::hash(&bytes)),
        (PINNED_FILE_LEN, PINNED_FILE_CRC)
    );
}
