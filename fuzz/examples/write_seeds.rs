//! Writes a few valid traces into `corpus/read_trace/` as fuzzing seeds:
//! `cargo run --example write_seeds` (from this directory).

use std::path::Path;

use trace_format::build::TraceBuilder;
use trace_format::{
    Event, Level, LocationId, PauseScope, StringId, TaskId, TaskKind, ThreadKind, WakeSource,
};

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/read_trace");
    std::fs::create_dir_all(&dir)?;

    // Every event kind once, on two threads, in a few chunks, with and without an end record.
    let mut b = TraceBuilder::new();
    b.chunk_capacity = 128;
    b.string(1, "worker").string(2, "gc");
    b.location(1, "src/main.rs", 3, 4);
    for thread in [1u32, 2] {
        b.thread(thread, "worker");
        let mut t = u64::from(thread) * 10;
        let mut push = |e: Event<'_>| {
            t += 7;
            b.push(thread, t, e);
        };
        push(Event::ThreadStart {
            kind: ThreadKind::Worker,
            index: thread,
        });
        push(Event::TaskSpawn {
            task: TaskId(1),
            kind: TaskKind::Async,
            tokio_id: 9,
            parent: TaskId::NONE,
            location: LocationId(1),
            name: StringId(1),
        });
        for source in WakeSource::ALL {
            push(Event::Wake {
                task: TaskId(1),
                waker: TaskId(2),
                source,
            });
        }
        push(Event::PollStart { task: TaskId(1) });
        push(Event::PollEnd { ready: false });
        push(Event::ScheduleLatency {
            task: TaskId(1),
            nanos: 1000,
        });
        push(Event::TaskTerminate { task: TaskId(1) });
        push(Event::BlockingStart { task: TaskId(3) });
        push(Event::BlockingEnd);
        push(Event::AllocCounters {
            allocs: 1,
            frees: 2,
            alloc_bytes: 3,
            free_bytes: 4,
        });
        push(Event::AllocSample {
            size: 4096,
            task: TaskId(1),
        });
        push(Event::PauseBegin {
            kind: StringId(2),
            scope: PauseScope::Process,
        });
        push(Event::PauseEnd {
            kind: StringId(2),
            scope: PauseScope::Thread,
        });
        push(Event::RegionBegin {
            id: 5,
            name: StringId(1),
        });
        push(Event::RegionEnd { id: 5 });
        push(Event::Log {
            level: Level::Warn,
            target: StringId(1),
            message: "héllo",
        });
        push(Event::Counter {
            name: StringId(1),
            value: -3,
        });
        push(Event::RuntimeSample {
            global_queue: 1,
            alive_tasks: 2,
            blocking_threads: 3,
        });
        push(Event::WorkerQueueSample {
            worker: 0,
            depth: 4,
        });
        push(Event::Lost {
            chunks: 1,
            events: 10,
        });
        push(Event::Unknown {
            tag: 0x80,
            payload: b"ext",
        });
        push(Event::WorkerPark);
        push(Event::WorkerUnpark);
        push(Event::ThreadStop);
    }
    std::fs::write(dir.join("all_kinds.rtt"), b.to_bytes())?;
    std::fs::write(dir.join("all_kinds_unfinished.rtt"), b.write(false))?;

    // A tiny trace: one chunk with two events.
    let mut b = TraceBuilder::new();
    b.push(1, 100, Event::PollStart { task: TaskId(3) });
    b.push(1, 250, Event::PollEnd { ready: true });
    std::fs::write(dir.join("tiny.rtt"), b.to_bytes())?;

    // Packed stacks (one built on another, across two records) and packed symbols, with
    // samples naming them.
    let mut b = TraceBuilder::new();
    let defs: Vec<trace_format::StackDef> = (1..=3u32)
        .map(|id| trace_format::StackDef {
            id,
            frames: vec![0x5555_0000_1000 + u64::from(id) * 8, 0x5555_0000_2000, 0x7f00_0000_0010],
        })
        .collect();
    let mut packer = trace_format::pack::StackPacker::default();
    b.meta(trace_format::Meta::PackedStacks(packer.pack(&defs[..1])));
    b.meta(trace_format::Meta::PackedStacks(packer.pack(&defs[1..])));
    b.meta(trace_format::Meta::PackedSymbols(trace_format::pack::pack_symbols(
        &trace_format::Symbols::build([(
            0x5555_0000_2000u64,
            vec![("app::main", Some("/src/main.rs"), 3, 1)],
        )]),
    )));
    for (t, id) in [(10, 1), (20, 2), (30, 3)] {
        b.push(
            1,
            t,
            Event::CpuSample {
                task: TaskId(1),
                stack: trace_format::StackId(id),
            },
        );
    }
    std::fs::write(dir.join("packed_code.rtt"), b.to_bytes())?;

    // Header and end record only.
    std::fs::write(dir.join("empty.rtt"), TraceBuilder::new().to_bytes())?;
    println!("wrote seeds to {}", dir.display());
    Ok(())
}
