//! Peak memory of building a model (issue 16, point 14), measured as the rise of the
//! process's peak resident set while it loads (Linux: `/proc/self/status`, with the peak reset
//! through `/proc/self/clear_refs` first).
//!
//! Allocator counters are often most of a trace's events (75 % of a recorded allocation-heavy
//! service). The model keeps two series for them (heap in use, bytes allocated: 16 bytes per
//! point each); building them must not also hold every raw counter event and a merged copy at
//! the same time (about 56 bytes per event at the peak before).
#![cfg(target_os = "linux")]

use trace_analysis::model::{CounterKind, Model};
use trace_format::{Event, TaskId, ThreadKind, Trace};

/// `(resident, peak resident)` in bytes.
fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| {
                v.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .unwrap()
                    * 1024
            })
            .unwrap()
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Two worker threads of `per_thread` allocator counter events each (and a poll every 100),
/// encoded straight into chunks: building the fixture leaves no freed heap behind for the
/// load to reuse, which would hide what the load itself needs.
fn alloc_heavy_trace(per_thread: u64) -> Vec<u8> {
    use trace_format::codec::{self, EncodeState, MAX_FIXED_EVENT_LEN};
    use trace_format::{ClockInfo, End, EventChunkHeader, Header, TraceWriter};
    let header = Header {
        clock: ClockInfo::nanoseconds(),
        start_time: 0,
        wall_clock_unix_nanos: 0,
        recorder: "test".into(),
        process_id: 1,
        process_name: "test".into(),
        chunk_capacity: 64 << 10,
        features: vec![],
    };
    let mut w = TraceWriter::new(Vec::new(), &header).unwrap();
    let (mut chunks, mut events) = (0, 0);
    for thread in 1..=2u32 {
        let mut seq = 0;
        let mut buf = vec![0u8; 64 << 10];
        let (mut len, mut count, mut state, mut base) = (0, 0, EncodeState::new(0), 0);
        let mut flush = |buf: &[u8], count: u32, base: u64, end: u64, seq: &mut u32| {
            let chunk = EventChunkHeader {
                thread,
                seq: *seq,
                base_time: base,
                end_time: end,
                event_count: count,
            };
            w.write_events(&chunk, buf).unwrap();
            *seq += 1;
        };
        let mut all = vec![(
            0,
            Event::ThreadStart {
                kind: ThreadKind::Worker,
                index: thread - 1,
            },
        )];
        for i in 0..per_thread {
            let t = 10 + i * 10 + u64::from(thread);
            all.push((
                t,
                Event::AllocCounters {
                    allocs: 3,
                    frees: 2,
                    alloc_bytes: 300 + i % 7,
                    free_bytes: 200,
                },
            ));
            if i % 100 == 0 {
                all.push((
                    t,
                    Event::PollStart {
                        task: TaskId(i + 1),
                    },
                ));
                all.push((t + 5, Event::PollEnd { ready: true }));
            }
        }
        for (t, e) in all {
            if len + MAX_FIXED_EVENT_LEN > buf.len() {
                flush(&buf[..len], count, base, state.last_time, &mut seq);
                chunks += 1;
                (len, count, state, base) = (0, 0, EncodeState::new(t), t);
            }
            len += codec::encode(&mut state, &mut buf[len..], t, &e);
            count += 1;
            events += 1;
        }
        flush(&buf[..len], count, base, state.last_time, &mut seq);
        chunks += 1;
    }
    w.finish(&End {
        end_time: 0,
        events,
        chunks,
        lost_chunks: 0,
        lost_events: 0,
    })
    .unwrap()
}

#[test]
fn allocator_counters_are_not_held_twice_while_loading() {
    const PER_THREAD: u64 = 400_000;
    let trace = Trace::from_bytes(alloc_heavy_trace(PER_THREAD)).unwrap();
    let events = trace.validate().unwrap();

    // Reset the peak to the current resident size ("5": Linux 4.0 and later).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let (before, _) = rss();
    let model = Model::build(&trace).unwrap();
    let (_, peak) = rss();
    let peak = (peak - before) as usize;

    let heap = model
        .counters
        .iter()
        .find(|c| c.kind == CounterKind::HeapInUse)
        .unwrap();
    assert_eq!(heap.points.len() as u64, 2 * PER_THREAD);
    let growth: u64 = (0..PER_THREAD).map(|i| 100 + i % 7).sum();
    assert_eq!(heap.points.last().unwrap().1, (2 * growth) as f64);
    assert!(heap.points.is_sorted_by_key(|p| p.0));

    let per_event = |bytes: usize| bytes as f64 / events as f64;
    eprintln!(
        "{events} events: resident set rose by {:.1} B/event at the peak while loading",
        per_event(peak)
    );
    // The two series are 32 bytes per counter event; holding the raw events (24 bytes each)
    // and a merged copy of them as well made 58.
    assert!(
        per_event(peak) <= 40.0,
        "peak {:.1} B/event while loading",
        per_event(peak)
    );
}
