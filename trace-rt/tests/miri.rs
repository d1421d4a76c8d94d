//! Small tests that drive every unsafe path of the recorder, sized to run under Miri (which
//! checks them for undefined behaviour and data races) as well as in a normal `cargo test`:
//!
//! ```text
//! MIRIFLAGS="-Zmiri-disable-isolation" cargo +nightly miri test -p trace-rt --test miri
//! ```
//!
//! (`.ci/miri` runs them over several scheduler seeds.) Chunks are the minimum 4 KiB and the
//! pool holds 2 to 4 of them, and most events carry a ~900-byte message, so that a handful
//! of events fills a chunk: hand-overs, pool exhaustion (chunk reuse and `Lost` events),
//! thread exit, and the stop stealing chunks that threads are still writing all happen
//! within a few dozen events.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Barrier, OnceLock};
use std::time::Duration;

use common::{StalledSink, serial};
use trace_format::{Event, Level, StringId, Trace, Warning};
use trace_rt::raw::record;
use trace_rt::{Config, MemorySink, Session, Summary};

const CHUNK: usize = 4096;
/// Fills most of a 4 KiB chunk in four events.
const MESSAGE: &str = concat!(
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
);

/// Minimum-size chunks, `chunks` of them; a stop timeout far beyond what Miri (about a
/// thousand times slower than native code, on the wall clock) needs to stop a session.
fn small(chunks: usize) -> Config {
    Config::default()
        .chunk_size(CHUNK)
        .buffer_size(chunks * CHUNK)
        .stop_timeout(Duration::from_secs(3600))
}

/// The counter's name and the log's target, interned once (`intern` takes a lock, which
/// would add synchronisation between the recording threads on every event).
fn names() -> (StringId, StringId) {
    static NAMES: OnceLock<(StringId, StringId)> = OnceLock::new();
    *NAMES.get_or_init(|| (trace_rt::intern("miri-seq"), trace_rt::intern("miri")))
}

/// Records event number `i` of a thread: a counter holding `i`, then a large log message
/// (two events).
fn record_pair(i: i64) {
    let (name, target) = names();
    record(&Event::Counter { name, value: i });
    record(&Event::Log {
        level: Level::Info,
        target,
        message: MESSAGE,
    });
}

/// Reads the sink's trace back and checks it against the summary. When threads `raced` the
/// stop, some of their events may be counted as lost after the end record was written.
fn read_back(sink: &MemorySink, summary: &Summary, raced: bool) -> Trace {
    let trace = Trace::from_bytes(sink.bytes()).unwrap();
    assert_eq!(trace.validate().unwrap(), summary.events, "{summary}");
    let end = trace.end().expect("end record").clone();
    assert_eq!(end.events, summary.events);
    if raced {
        assert!(end.lost_events <= summary.lost_events, "{end:?} {summary}");
        assert!(end.lost_chunks <= summary.lost_chunks, "{end:?} {summary}");
    } else {
        assert_eq!(end.lost_events, summary.lost_events);
        assert_eq!(end.lost_chunks, summary.lost_chunks);
    }
    for w in trace.warnings() {
        assert!(
            matches!(w, Warning::LostData { .. } | Warning::MissingChunks { .. }),
            "{w}"
        );
    }
    trace
}

/// Per thread: the counter values in the trace, and the events that `Lost` markers report.
struct Written {
    counters: BTreeMap<u32, Vec<i64>>,
    user_events: u64,
    lost_markers: u64,
}

fn written(trace: &Trace) -> Written {
    let (name, _) = names();
    let mut w = Written {
        counters: BTreeMap::new(),
        user_events: 0,
        lost_markers: 0,
    };
    for t in trace.thread_ids() {
        let mut last_time = 0;
        for r in trace.thread_events(t) {
            let r = r.unwrap();
            assert!(r.time >= last_time, "time went backwards on thread {t}");
            last_time = r.time;
            match r.event {
                Event::Counter { name: n, value } if n == name => {
                    w.user_events += 1;
                    w.counters.entry(t).or_default().push(value);
                }
                Event::Log { message, .. } => {
                    assert_eq!(message, MESSAGE);
                    w.user_events += 1;
                }
                Event::Lost { events, .. } => w.lost_markers += events,
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    w
}

/// Each thread's counters increase, and every one missing before a thread's last one was
/// counted as lost. Returns how many are missing.
fn check_counters(w: &Written, summary: &Summary) -> u64 {
    let mut missing = 0;
    for (t, values) in &w.counters {
        assert!(
            values.windows(2).all(|p| p[0] < p[1]),
            "thread {t}: {values:?}"
        );
        missing += values.last().map_or(0, |&l| l as u64 + 1) - values.len() as u64;
    }
    // Lost events include log events too, so this is a bound, not an equality.
    assert!(
        missing <= summary.lost_events,
        "{missing} missing, {summary}"
    );
    missing
}

/// Three long-lived threads record in several sessions; each session is stopped while they
/// are still recording, so the stop steals chunks that are being written (and waits for
/// threads caught handing a chunk over), and each thread's first event in the next session
/// finds its old chunk stolen and attaches to the new one. Small pools and, in most rounds,
/// a flush interval shorter than an event make threads hand over and reuse chunks all the
/// time, which widens the window in which the stop finds a slot busy.
#[test]
fn stop_steals_chunks_from_recording_threads_over_several_sessions() {
    let _g = serial();
    const WORKERS: usize = 3;
    /// (chunks in the pool, flush after every event) per session.
    const ROUNDS: [(usize, bool); 5] = [(2, false), (3, true), (4, true), (2, true), (4, false)];
    /// Pairs each worker records before the stop is requested.
    const BEFORE: i64 = 2;
    /// At most this many pairs in all; after `BEFORE`, workers record until they see the
    /// stop (so the stop races them).
    const MAX: i64 = 40;
    let start = Arc::new(Barrier::new(WORKERS + 1));
    let running = Arc::new(Barrier::new(WORKERS + 1));
    let done = Arc::new(Barrier::new(WORKERS + 1));
    let workers: Vec<_> = (0..WORKERS)
        .map(|i| {
            let (start, running, done) = (start.clone(), running.clone(), done.clone());
            std::thread::Builder::new()
                .name(format!("miri-worker-{i}"))
                .spawn(move || {
                    let mut produced = Vec::new();
                    for _ in ROUNDS {
                        start.wait();
                        let mut n = 0;
                        while n < BEFORE {
                            record_pair(n);
                            n += 1;
                        }
                        running.wait();
                        while n < MAX && trace_rt::is_recording() {
                            record_pair(n);
                            n += 1;
                        }
                        produced.push(2 * n as u64);
                        done.wait();
                    }
                    produced
                })
                .unwrap()
        })
        .collect();
    let mut summaries = Vec::new();
    for (round, (chunks, flush_every_event)) in ROUNDS.into_iter().enumerate() {
        let sink = MemorySink::new();
        let mut config = small(chunks);
        if flush_every_event {
            config = config.flush_interval(Duration::from_nanos(1));
        }
        let session = config.start_with_sink(sink.clone()).unwrap();
        start.wait();
        running.wait();
        let summary = session.stop().unwrap();
        done.wait();
        let trace = read_back(&sink, &summary, true);
        let w = written(&trace);
        let markers = marker_count(&trace);
        assert_eq!(w.user_events + markers, summary.events);
        check_counters(&w, &summary);
        // Every worker had recorded `BEFORE` pairs when the stop began: those are in the
        // trace or counted as lost.
        let complete: u64 = w
            .counters
            .values()
            .map(|v| v.iter().filter(|&&x| x < BEFORE).count() as u64)
            .sum();
        assert!(
            complete + summary.lost_events >= (WORKERS as u64) * BEFORE as u64,
            "round {round}: {complete} early counters, {summary}"
        );
        summaries.push((summary, w.user_events));
    }
    let produced: Vec<Vec<u64>> = workers.into_iter().map(|h| h.join().unwrap()).collect();
    for (round, (summary, user_events)) in summaries.iter().enumerate() {
        let total: u64 = produced.iter().map(|p| p[round]).sum();
        assert!(
            user_events + summary.lost_events <= total,
            "round {round}: {total} produced, {summary}"
        );
    }
}

/// Number of `Lost` marker events in the trace (written by the recorder, not the user).
fn marker_count(trace: &Trace) -> u64 {
    trace
        .events()
        .filter(|r| matches!(r.as_ref().unwrap().event, Event::Lost { .. }))
        .count() as u64
}

/// With the writer stalled and a pool of three chunks, the first hand-overs take free
/// chunks; then the pool is empty and threads reuse their own chunk, dropping its events and
/// opening it with a `Lost` event (repeatedly, carrying the count along). One thread exits
/// in that state (its chunk goes to the full queue), the other is still attached when the
/// stop steals its chunk. Nothing races the stop, so the accounting is exact.
#[test]
fn exhausted_pool_reuses_chunks_and_reports_lost_events() {
    let _g = serial();
    const PAIRS: i64 = 10; // about five chunks per thread
    let sink = StalledSink::new();
    let session = small(3).start_with_sink(sink.clone()).unwrap();
    // Each thread takes a chunk before either fills one, so both get one and then share
    // the third.
    let attached = Arc::new(Barrier::new(2));
    let other = {
        let attached = attached.clone();
        std::thread::Builder::new()
            .name("miri-exhaust".into())
            .spawn(move || {
                record_pair(0);
                attached.wait();
                (1..PAIRS).for_each(record_pair);
            })
            .unwrap()
    };
    record_pair(0);
    attached.wait();
    (1..PAIRS).for_each(record_pair);
    // An event larger than a chunk is dropped and counted.
    let (_, target) = names();
    let huge = "x".repeat(CHUNK);
    record(&Event::Log {
        level: Level::Info,
        target,
        message: &huge,
    });
    other.join().unwrap();
    sink.release();
    let summary = session.stop().unwrap();
    assert!(
        summary.lost_chunks > 0 && summary.lost_events > 0,
        "{summary}"
    );

    let trace = read_back(&sink.inner, &summary, false);
    assert!(
        trace
            .warnings()
            .iter()
            .any(|w| matches!(w, Warning::LostData { .. }))
    );
    let w = written(&trace);
    assert_eq!(w.user_events + marker_count(&trace), summary.events);
    assert_eq!(
        w.user_events + summary.lost_events,
        2 * 2 * PAIRS as u64 + 1,
        "{summary}"
    );
    assert!(w.lost_markers > 0 && w.lost_markers <= summary.lost_events);
    check_counters(&w, &summary);
}

/// Threads that exit while the session records hand their chunk over from their
/// thread-local destructor: some are joined before the stop (everything they recorded is in
/// the trace or counted as lost), others exit while the stop collects their slots.
#[test]
fn threads_exiting_while_recording_hand_over_their_chunks() {
    let _g = serial();
    const PAIRS: i64 = 5;
    let sink = MemorySink::new();
    let session = small(4).start_with_sink(sink.clone()).unwrap();
    let spawn = |i: usize| {
        std::thread::Builder::new()
            .name(format!("miri-exit-{i}"))
            .spawn(|| (0..PAIRS).for_each(record_pair))
            .unwrap()
    };
    let early: Vec<_> = (0..3).map(spawn).collect();
    for h in early {
        h.join().unwrap();
    }
    let summary = session.stop().unwrap();
    let trace = read_back(&sink, &summary, false);
    let w = written(&trace);
    assert_eq!(
        w.user_events + summary.lost_events,
        3 * 2 * PAIRS as u64,
        "{summary}"
    );
    check_counters(&w, &summary);

    // Exits racing the stop: each thread records a pair, lets the stop begin, records a few
    // more (handing over a chunk after every event) and exits.
    for round in 0..2 {
        let sink = MemorySink::new();
        let session = small(3)
            .flush_interval(Duration::from_nanos(1))
            .start_with_sink(sink.clone())
            .unwrap();
        let begun = Arc::new(Barrier::new(3));
        let late: Vec<_> = (0..2)
            .map(|i| {
                let begun = begun.clone();
                std::thread::Builder::new()
                    .name(format!("miri-exit-{round}-{i}"))
                    .spawn(move || {
                        record_pair(0);
                        begun.wait();
                        (1..3).for_each(record_pair);
                    })
                    .unwrap()
            })
            .collect();
        begun.wait();
        let summary = session.stop().unwrap();
        for h in late {
            h.join().unwrap();
        }
        let trace = read_back(&sink, &summary, true);
        let w = written(&trace);
        assert!(w.user_events <= 2 * 2 * 3);
        check_counters(&w, &summary);
    }
}

/// A thread-local destructor that records after the recorder's own thread state is gone
/// (destructors run in reverse order of first use, so a thread-local used before the first
/// event is destroyed after the recorder's): the event is counted as lost, and it is not
/// written into the chunk the thread has already handed to the writer.
#[test]
fn recording_from_a_later_thread_local_destructor_counts_the_event_as_lost() {
    struct RecordsOnDrop;
    impl Drop for RecordsOnDrop {
        fn drop(&mut self) {
            let (name, _) = names();
            record(&Event::Counter { name, value: 99 });
        }
    }
    thread_local! {
        static LATE: RecordsOnDrop = const { RecordsOnDrop };
    }
    let _g = serial();
    let sink = MemorySink::new();
    let session = small(4).start_with_sink(sink.clone()).unwrap();
    std::thread::Builder::new()
        .name("miri-late-dtor".into())
        .spawn(|| {
            LATE.with(|_| {});
            (0..2).for_each(record_pair);
        })
        .unwrap()
        .join()
        .unwrap();
    let summary = session.stop().unwrap();
    let trace = read_back(&sink, &summary, false);
    let w = written(&trace);
    assert_eq!(w.user_events, 4, "{summary}");
    assert_eq!(summary.lost_events, 1, "{summary}");
    assert_eq!(
        w.counters.values().flatten().copied().collect::<Vec<_>>(),
        [0, 1]
    );
}

/// A thread whose chunk the stop took records again: nothing is recorded between sessions,
/// and in the next session it attaches afresh (its old slot and stolen chunk are let go).
/// A session dropped without `stop` is finished by its destructor.
#[test]
fn thread_with_stolen_chunk_records_in_the_next_session() {
    let _g = serial();
    let (name, _) = names();
    let mut traces = Vec::new();
    for (session_no, base) in [(0, 0i64), (1, 100), (2, 200)] {
        let sink = MemorySink::new();
        let session: Session = small(2).start_with_sink(sink.clone()).unwrap();
        (base..base + 3).for_each(record_pair);
        if session_no == 2 {
            drop(session);
            traces.push((Trace::from_bytes(sink.bytes()).unwrap(), base));
        } else {
            let summary = session.stop().unwrap();
            traces.push((read_back(&sink, &summary, false), base));
        }
        // Not recording: goes nowhere.
        record(&Event::Counter { name, value: -1 });
    }
    for (trace, base) in &traces {
        trace.validate().unwrap();
        let w = written(trace);
        let values: Vec<i64> = w.counters.values().flatten().copied().collect();
        assert!(
            values.iter().all(|v| (*base..base + 3).contains(v)),
            "{values:?}"
        );
    }
}

/// The writer peeks at chunks of threads that pause (and so hold a chunk for longer than
/// the flush interval) while those threads wake up and record on: beyond the committed
/// length, or handing the chunk over, taking it from the writer's `peek` mid-copy. With a
/// pool of two chunks a thread often finds no free chunk just after a peek, and must hand
/// the peeked chunk over rather than reuse it. Nothing races the stop (the threads are
/// joined first), so the accounting is exact: every event is in the trace once or counted
/// as lost, and each thread's chunks are numbered without a duplicate.
#[test]
fn writer_peeks_race_threads_that_record_on_and_hand_over() {
    let _g = serial();
    const PAIRS: i64 = 8;
    const THREADS: usize = 2;
    for chunks in [2, 4] {
        let sink = MemorySink::new();
        let session = small(chunks)
            .flush_interval(Duration::from_millis(2))
            .start_with_sink(sink.clone())
            .unwrap();
        let threads: Vec<_> = (0..THREADS)
            .map(|i| {
                std::thread::Builder::new()
                    .name(format!("miri-peeked-{chunks}-{i}"))
                    .spawn(move || {
                        for n in 0..PAIRS {
                            record_pair(n);
                            if n % 3 == 1 {
                                // Long enough for the writer to see the chunk sit, twice.
                                std::thread::sleep(Duration::from_millis(25));
                            }
                        }
                    })
                    .unwrap()
            })
            .collect();
        for h in threads {
            h.join().unwrap();
        }
        let summary = session.stop().unwrap();
        let trace = read_back(&sink, &summary, false);
        let w = written(&trace);
        assert_eq!(w.user_events + marker_count(&trace), summary.events);
        assert_eq!(
            w.user_events + summary.lost_events,
            (THREADS as u64) * 2 * PAIRS as u64,
            "{summary}"
        );
        check_counters(&w, &summary);
    }
}
