//! What reaches the sink, and when: a sink that fails (a full disk) is not retried and the
//! stop's error carries the loss; a slow or hung sink cannot hold `Session::stop` (or a
//! dropped session) past its deadline; a thread that goes quiet still gets what it recorded
//! into the file within the flush interval.

mod common;

use std::io::{self, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::serial;
use trace_format::{End, Event, EventChunkHeader, Header, Meta, Trace, Warning};
use trace_rt::raw::record;
use trace_rt::{Config, MemorySink, Sink, WriterSink};

const CHUNK: usize = 4096;

/// Records `n` counters named `name` (values `0..n`) on this thread.
fn counters(name: &str, n: i64) {
    let name = trace_rt::intern(name);
    for value in 0..n {
        record(&Event::Counter { name, value });
    }
}

/// Values of the counter `name` in `trace`, in each thread's order.
fn counter_values(trace: &Trace, name: &str) -> Vec<i64> {
    let Some(id) = trace
        .strings()
        .find_map(|(id, s)| (s == name).then_some(id))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for t in trace.thread_ids() {
        for r in trace.thread_events(t) {
            if let Event::Counter { name, value } = r.unwrap().event
                && name == id
            {
                out.push(value);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// A full disk

/// An `io::Write` that takes `room` bytes, then fails every write with ENOSPC, counting the
/// attempts it refused.
struct FillsUp {
    room: u64,
    written: Arc<AtomicU64>,
    refused: Arc<AtomicU64>,
}

impl Write for FillsUp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.written.load(Ordering::Relaxed);
        if written >= self.room {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(io::Error::from_raw_os_error(28)); // ENOSPC
        }
        let n = (buf.len() as u64).min(self.room - written);
        self.written.fetch_add(n, Ordering::Relaxed);
        Ok(n as usize)
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.refused.load(Ordering::Relaxed) > 0 {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(io::Error::from_raw_os_error(28));
        }
        Ok(())
    }
}

/// The disk fills up early in a recording: the writer tries the failed write once, never
/// again (it used to retry it at every flush, every 100 ms, until the stop), drops and counts
/// everything after it, and `stop` returns the error together with the summary, whose loss
/// counts are not zero.
#[test]
fn a_sink_that_fills_up_is_not_retried_and_the_loss_is_counted() {
    let _g = serial();
    let written = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let out = FillsUp {
        room: 64 << 10,
        written: written.clone(),
        refused: refused.clone(),
    };
    let session = Config::default()
        .chunk_size(CHUNK)
        .flush_interval(Duration::from_millis(20))
        .start_with_sink(WriterSink::with_capacity(CHUNK, out))
        .unwrap();
    // About 1 MiB of counters, in bursts, with pauses in which the writer flushes.
    for _ in 0..10 {
        counters("fills-up", 30_000);
        std::thread::sleep(Duration::from_millis(30));
    }
    let first_refusal = refused.load(Ordering::Relaxed);
    assert!(first_refusal > 0, "the sink never filled up");
    // Rounds of the writer (a flush is due every 100 ms): none may touch the sink again.
    std::thread::sleep(Duration::from_millis(350));
    let later = refused.load(Ordering::Relaxed) - first_refusal;
    let stopping = Instant::now();
    let err = session.stop().unwrap_err();
    eprintln!("stop took {:?}: {err}", stopping.elapsed());
    assert_eq!(later, 0, "the writer retried a failed sink {later} times");
    let msg = err.to_string();
    assert!(msg.to_lowercase().contains("space"), "{msg}");
    let summary = err.summary().expect("the error carries the summary");
    assert!(
        summary.lost_events > 0 && summary.lost_chunks > 0,
        "{summary}"
    );
    assert!(msg.contains("LOST"), "the message shows the loss: {msg}");
    assert!(summary.events < 300_000, "{summary}");
}

/// Mounts a `size`-byte tmpfs on `dir`; `false` (with a message) where mounting is refused.
#[cfg(target_os = "linux")]
fn mount_tmpfs(dir: &std::path::Path, size: &str) -> bool {
    let out = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
        .arg(dir)
        .output();
    match out {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            eprintln!(
                "SKIPPED: cannot mount a tmpfs here ({}); the ENOSPC sink test covers the logic",
                String::from_utf8_lossy(&o.stderr).trim()
            );
            false
        }
        Err(e) => {
            eprintln!("SKIPPED: cannot run mount ({e}); the ENOSPC sink test covers the logic");
            false
        }
    }
}

/// A real file system that fills up (a 512 KiB tmpfs) under a recording three times its
/// size: `stop` returns an error that carries the summary with the loss, and the file reads
/// back as cut short, with every event up to the cut.
#[cfg(target_os = "linux")]
#[test]
fn a_file_system_that_fills_up_ends_the_file_and_reports_the_loss() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    if !mount_tmpfs(dir.path(), "512k") {
        return;
    }
    struct Unmount<'a>(&'a std::path::Path);
    impl Drop for Unmount<'_> {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(self.0).status();
        }
    }
    let _unmount = Unmount(dir.path());
    let path = dir.path().join("full.rtt");
    let session = Config::default()
        .chunk_size(16 << 10)
        .flush_interval(Duration::from_millis(20))
        .start(&path)
        .unwrap();
    for _ in 0..20 {
        counters("tmpfs", 40_000);
        std::thread::sleep(Duration::from_millis(20));
    }
    let err = session.stop().unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("full.rtt") && msg.to_lowercase().contains("space"),
        "{msg}"
    );
    let summary = err.summary().expect("the error carries the summary");
    assert!(
        summary.lost_events > 0 && summary.lost_chunks > 0,
        "{summary}"
    );
    let trace = Trace::open(&path).expect("a file cut by a full disk still opens");
    assert!(trace.end().is_none());
    assert!(
        trace
            .warnings()
            .iter()
            .any(|w| matches!(w, Warning::NoEndRecord | Warning::Truncated { .. })),
        "{:?}",
        trace.warnings()
    );
    let values = counter_values(&trace, "tmpfs");
    assert!(!values.is_empty());
    // What the file holds was written before the failure: at most what the summary counts.
    assert!(values.len() as u64 <= summary.events, "{summary}");
}

// ---------------------------------------------------------------------------------------
// A slow or hung sink

/// A memory sink that takes `delay` per chunk, or blocks every chunk while `hung` is set.
#[derive(Clone)]
struct SlowSink {
    inner: MemorySink,
    delay: Duration,
    hung: Arc<AtomicBool>,
    chunks: Arc<AtomicU64>,
}

impl SlowSink {
    fn new(delay: Duration) -> Self {
        SlowSink {
            inner: MemorySink::new(),
            delay,
            hung: Arc::new(AtomicBool::new(false)),
            chunks: Arc::default(),
        }
    }
}

impl Sink for SlowSink {
    fn header(&mut self, header: &Header) -> io::Result<()> {
        self.inner.header(header)
    }
    fn meta(&mut self, meta: &Meta) -> io::Result<()> {
        self.inner.meta(meta)
    }
    fn events(&mut self, header: &EventChunkHeader, events: &[u8]) -> io::Result<()> {
        std::thread::sleep(self.delay);
        while self.hung.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.chunks.fetch_add(1, Ordering::Relaxed);
        self.inner.events(header, events)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
    fn finish(&mut self, end: &End) -> io::Result<u64> {
        self.inner.finish(end)
    }
}

/// Fills the queue of a session writing into a 20 ms-per-chunk sink: 4 KiB chunks, a pool
/// of 256 (five seconds of writing). Returns how many counters were recorded.
fn fill_the_queue(name: &str) -> u64 {
    let n = 250_000;
    counters(name, n);
    n as u64
}

fn slow_session(sink: &SlowSink, timeout: Duration) -> trace_rt::Session {
    // No CPU samples: the checks count the test's own events exactly.
    Config::default()
        .cpu_sample_hz(0)
        .chunk_size(CHUNK)
        .buffer_size(256 * CHUNK)
        .stop_timeout(timeout)
        .start_with_sink(sink.clone())
        .unwrap()
}

/// Checks a trace a stop cut short by its deadline: it ends whole, its end record counts
/// what was dropped, and every recorded counter is either in it or counted as lost.
fn check_cut_by_deadline(trace: &Trace, name: &str, recorded: u64, lost_events: u64) {
    let end = trace.end().expect("the end record is written").clone();
    assert!(end.lost_chunks > 0 && end.lost_events > 0, "{end:?}");
    assert_eq!(end.lost_events, lost_events);
    assert_eq!(trace.validate().unwrap(), end.events);
    let values = counter_values(trace, name);
    let markers: u64 = trace
        .events()
        .filter(|r| matches!(r.as_ref().unwrap().event, Event::Lost { .. }))
        .count() as u64;
    assert_eq!(values.len() as u64 + markers, end.events);
    assert_eq!(values.len() as u64 + end.lost_events, recorded, "{end:?}");
}

/// A sink that takes 20 ms per chunk with five seconds of chunks queued: `stop` returns
/// within its deadline (plus a generous margin; it blocked 5.2 s before), drops what it
/// could not write, counts it, and still ends the file with the end record.
#[test]
fn stop_with_a_slow_sink_returns_by_its_deadline_and_counts_what_it_dropped() {
    let _g = serial();
    let sink = SlowSink::new(Duration::from_millis(20));
    let timeout = Duration::from_millis(500);
    let session = slow_session(&sink, timeout);
    let recorded = fill_the_queue("slow-sink");
    let stopping = Instant::now();
    let summary = session.stop().unwrap();
    let took = stopping.elapsed();
    eprintln!("stop took {took:?}: {summary}");
    assert!(took < 3 * timeout, "stop took {took:?}");
    assert!(
        summary.lost_chunks > 0 && summary.lost_events > 0,
        "{summary}"
    );
    let trace = Trace::from_bytes(sink.inner.bytes()).unwrap();
    check_cut_by_deadline(&trace, "slow-sink", recorded, summary.lost_events);
}

/// The same for a session that is dropped instead of stopped.
#[test]
fn dropping_a_session_with_a_slow_sink_returns_by_its_deadline() {
    let _g = serial();
    let sink = SlowSink::new(Duration::from_millis(20));
    let timeout = Duration::from_millis(500);
    let session = slow_session(&sink, timeout);
    let recorded = fill_the_queue("slow-drop");
    let dropping = Instant::now();
    drop(session);
    let took = dropping.elapsed();
    eprintln!("drop took {took:?}");
    assert!(took < 3 * timeout, "drop took {took:?}");
    let trace = Trace::from_bytes(sink.inner.bytes()).unwrap();
    let lost = trace.end().map_or(0, |e| e.lost_events);
    check_cut_by_deadline(&trace, "slow-drop", recorded, lost);
}

/// A sink that never returns: `stop` gives up at its deadline and says so, with what it
/// knows of the recording; the writer thread is left to the sink.
#[test]
fn stop_with_a_hung_sink_returns_by_its_deadline_with_an_error() {
    let _g = serial();
    let sink = SlowSink::new(Duration::ZERO);
    let timeout = Duration::from_millis(300);
    let session = slow_session(&sink, timeout);
    counters("hung", 1000);
    // Let the writer take the first chunks, then hang it.
    std::thread::sleep(Duration::from_millis(50));
    sink.hung.store(true, Ordering::Release);
    counters("hung", 100_000);
    let stopping = Instant::now();
    let err = session.stop().unwrap_err();
    let took = stopping.elapsed();
    eprintln!("stop took {took:?}: {err}");
    assert!(took < 3 * timeout, "stop took {took:?}");
    let summary = err.summary().expect("the error carries the summary");
    assert!(summary.events < 101_000, "{summary}");
    let msg = err.to_string();
    assert!(msg.contains("did not finish"), "{msg}");
    // The writer thread is still inside the sink; let it go (the next session is separate).
    sink.hung.store(false, Ordering::Release);
    let sink2 = MemorySink::new();
    let session = Config::default().start_with_sink(sink2.clone()).unwrap();
    counters("after-hung", 3);
    assert_eq!(session.stop().unwrap().events, 3);
}

// ---------------------------------------------------------------------------------------
// Quiet threads

/// A chunk as the sink received it: the thread, its number, the counters in it (name id,
/// value).
#[derive(Debug, Clone)]
struct Received {
    thread: u32,
    seq: u32,
    counters: Vec<(u32, i64)>,
}

/// A memory sink that also decodes every chunk as it arrives.
#[derive(Clone, Default)]
struct WatchingSink {
    inner: MemorySink,
    received: Arc<std::sync::Mutex<Vec<Received>>>,
}

impl WatchingSink {
    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Values of counter `name` received so far, per thread, in arrival order.
    fn values(&self, name: trace_format::StringId) -> Vec<i64> {
        let received = self.received.lock().unwrap();
        received
            .iter()
            .flat_map(|r| r.counters.iter())
            .filter(|(n, _)| *n == name.0)
            .map(|&(_, v)| v)
            .collect()
    }
}

impl Sink for WatchingSink {
    fn header(&mut self, header: &Header) -> io::Result<()> {
        self.inner.header(header)
    }
    fn meta(&mut self, meta: &Meta) -> io::Result<()> {
        self.inner.meta(meta)
    }
    fn events(&mut self, header: &EventChunkHeader, events: &[u8]) -> io::Result<()> {
        let mut counters = Vec::new();
        let mut n = 0;
        for e in trace_format::codec::ChunkDecoder::new(events, header.base_time) {
            let (_, e) = e.expect("every chunk the writer writes decodes on its own");
            n += 1;
            if let Event::Counter { name, value } = e {
                counters.push((name.0, value));
            }
        }
        assert_eq!(n, header.event_count, "{header:?}");
        self.received.lock().unwrap().push(Received {
            thread: header.thread,
            seq: header.seq,
            counters,
        });
        self.inner.events(header, events)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
    fn finish(&mut self, end: &End) -> io::Result<u64> {
        self.inner.finish(end)
    }
}

/// Each thread's chunks are numbered 0, 1, 2, … with no number twice and none missing.
fn assert_consecutive_seqs(received: &[Received]) {
    let mut by_thread: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
    for r in received {
        by_thread.entry(r.thread).or_default().push(r.seq);
    }
    for (thread, mut seqs) in by_thread {
        seqs.sort_unstable();
        let expected: Vec<u32> = (0..seqs.len() as u32).collect();
        assert_eq!(seqs, expected, "thread {thread}'s chunk numbers");
    }
}

/// A thread records a burst, then records nothing more (it stays alive): everything it
/// recorded reaches the sink while the session goes on, within about a flush interval, with
/// no event twice; the finished trace reads back with every event exactly once. Before,
/// the chunk stayed with the thread until the stop (a `kill -9` lost it all).
#[test]
fn a_quiet_threads_events_reach_the_sink_within_the_flush_interval() {
    let _g = serial();
    const N: i64 = 3000;
    let interval = Duration::from_millis(200);
    let sink = WatchingSink::default();
    let session = Config::default()
        .chunk_size(16 << 10)
        .flush_interval(interval)
        .start_with_sink(sink.clone())
        .unwrap();
    let name = trace_rt::intern("quiet");
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let (recorded_tx, recorded_rx) = std::sync::mpsc::channel::<Instant>();
    let quiet = std::thread::Builder::new()
        .name("quiet".into())
        .spawn(move || {
            for value in 0..N {
                record(&Event::Counter { name, value });
            }
            recorded_tx.send(Instant::now()).unwrap();
            // Alive, attached and silent until the test ends.
            let _ = done_rx.recv();
        })
        .unwrap();
    let recorded = recorded_rx.recv().unwrap();
    // Generous, for a loaded machine: the design bound is one flush interval plus the
    // writer's rounds (10 ms) and its flush period (100 ms).
    let give_up = recorded + Duration::from_secs(10);
    let arrived = loop {
        if sink.values(name).len() as i64 >= N {
            break Instant::now();
        }
        assert!(
            Instant::now() < give_up,
            "{} of {N} events of a quiet thread reached the sink in 10 s",
            sink.values(name).len()
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    eprintln!(
        "a quiet thread's {N} events reached the sink {:?} after its last one (flush interval {interval:?})",
        arrived - recorded
    );
    // Nothing twice, in order.
    assert_eq!(sink.values(name), (0..N).collect::<Vec<_>>());
    // Nothing is written twice later (the stop finds nothing new in the chunk).
    std::thread::sleep(interval * 2);
    let summary = session.stop().unwrap();
    done_tx.send(()).unwrap();
    quiet.join().unwrap();
    assert_eq!(summary.lost_events, 0, "{summary}");
    let received = sink.received();
    assert_consecutive_seqs(&received);
    let trace = Trace::from_bytes(sink.inner.bytes()).unwrap();
    assert!(trace.warnings().is_empty(), "{:?}", trace.warnings());
    assert_eq!(trace.validate().unwrap(), summary.events);
    assert_eq!(counter_values(&trace, "quiet"), (0..N).collect::<Vec<_>>());
}

/// Peeks racing hand-overs: threads record in short bursts with pauses around the flush
/// interval, into small chunks, so that the writer copies chunks while their threads write
/// on, fill them and hand them over (taking them from the writer's `peek` without waiting);
/// some threads exit mid-way. Every event arrives exactly once, with consecutive numbers.
#[test]
fn peeks_racing_hand_overs_deliver_every_event_exactly_once() {
    let _g = serial();
    const THREADS: usize = 4;
    const PER_THREAD: i64 = 20_000;
    let sink = WatchingSink::default();
    let session = Config::default()
        .chunk_size(CHUNK)
        .buffer_size(4096 * CHUNK)
        .flush_interval(Duration::from_millis(1))
        .start_with_sink(sink.clone())
        .unwrap();
    let name = trace_rt::intern("race");
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::Builder::new()
                .name(format!("race-{t}"))
                .spawn(move || {
                    let mut rng = 0x9e3779b97f4a7c15u64 ^ t as u64;
                    let mut value = 0;
                    while value < PER_THREAD {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        let burst = (rng % 300) as i64 + 1;
                        for _ in 0..burst.min(PER_THREAD - value) {
                            record(&Event::Counter {
                                name,
                                value: value + t as i64 * PER_THREAD,
                            });
                            value += 1;
                        }
                        // Pauses around the writer's round (10 ms), in which it peeks.
                        match rng % 6 {
                            0 => std::thread::yield_now(),
                            1 | 2 => std::thread::sleep(Duration::from_micros(rng % 15_000)),
                            _ => {}
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
    assert_eq!(summary.lost_events, 0, "{summary}");
    let received = sink.received();
    assert_consecutive_seqs(&received);
    let trace = Trace::from_bytes(sink.inner.bytes()).unwrap();
    assert!(trace.warnings().is_empty(), "{:?}", trace.warnings());
    assert_eq!(trace.validate().unwrap(), summary.events);
    let mut values = counter_values(&trace, "race");
    values.sort_unstable();
    assert_eq!(values, (0..THREADS as i64 * PER_THREAD).collect::<Vec<_>>());
    eprintln!("{summary}; {} chunks received", received.len());
}

/// The same race with a pool too small for the load and a slow sink: threads find no free
/// chunk, some of them holding a chunk the writer has already written part of (which they
/// hand over rather than reuse). Every event is in the file at most once, and every one
/// missing is counted as lost.
#[test]
fn peeks_with_an_exhausted_pool_count_every_missing_event_once() {
    let _g = serial();
    const THREADS: usize = 3;
    const PER_THREAD: i64 = 30_000;
    let sink = SlowSink::new(Duration::from_millis(2));
    let session = Config::default()
        .chunk_size(CHUNK)
        .buffer_size(8 * CHUNK)
        .flush_interval(Duration::from_millis(1))
        .stop_timeout(Duration::from_secs(30))
        .start_with_sink(sink.clone())
        .unwrap();
    let name = trace_rt::intern("exhausted");
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                for value in 0..PER_THREAD {
                    record(&Event::Counter {
                        name,
                        value: value + t as i64 * PER_THREAD,
                    });
                    if value % 500 == 0 {
                        std::thread::sleep(Duration::from_millis(3));
                    }
                }
            })
        })
        .collect();
    for h in threads {
        h.join().unwrap();
    }
    let summary = session.stop().unwrap();
    let trace = Trace::from_bytes(sink.inner.bytes()).unwrap();
    assert_eq!(trace.validate().unwrap(), summary.events);
    let mut values = counter_values(&trace, "exhausted");
    let written = values.len() as u64;
    values.sort_unstable();
    values.dedup();
    assert_eq!(values.len() as u64, written, "an event was written twice");
    eprintln!("{summary}");
    assert!(summary.lost_events > 0, "the pool never ran out: {summary}");
    assert_eq!(
        written + summary.lost_events,
        THREADS as u64 * PER_THREAD as u64,
        "{summary}"
    );
    for w in trace.warnings() {
        assert!(
            matches!(w, Warning::LostData { .. } | Warning::MissingChunks { .. }),
            "{w}"
        );
    }
    // A `Lost` event that reports no chunk: its thread went without one for a while, which
    // here means it found its peeked chunk's pool empty and handed the chunk over.
    let chunkless = trace
        .events()
        .filter(|r| matches!(r.as_ref().unwrap().event, Event::Lost { chunks: 0, .. }))
        .count();
    eprintln!("{chunkless} times a thread went without a chunk");
}

/// A [`WatchingSink`] whose chunk writes can be held (like a stalled disk) and let go.
#[derive(Clone, Default)]
struct GatedSink {
    watching: WatchingSink,
    closed: Arc<(std::sync::Mutex<bool>, std::sync::Condvar)>,
}

impl GatedSink {
    fn set_closed(&self, closed: bool) {
        *self.closed.0.lock().unwrap() = closed;
        self.closed.1.notify_all();
    }
}

impl Sink for GatedSink {
    fn header(&mut self, header: &Header) -> io::Result<()> {
        self.watching.header(header)
    }
    fn meta(&mut self, meta: &Meta) -> io::Result<()> {
        self.watching.meta(meta)
    }
    fn events(&mut self, header: &EventChunkHeader, events: &[u8]) -> io::Result<()> {
        let mut closed = self.closed.0.lock().unwrap();
        while *closed {
            closed = self.closed.1.wait(closed).unwrap();
        }
        drop(closed);
        self.watching.events(header, events)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.watching.flush()
    }
    fn finish(&mut self, end: &End) -> io::Result<u64> {
        self.watching.finish(end)
    }
}

/// A quiet thread's chunk has been peeked (part of it is in the file) when the writer
/// stalls and the pool runs dry; then the thread records again and must hand the chunk
/// over: it may not drop it in place (the writer owns its written part), so it hands it to
/// the writer and goes without a chunk, losing (and counting) its new events instead. No
/// event is written twice, and none is counted as lost that was written.
#[test]
fn a_peeked_chunk_is_handed_over_not_dropped_when_the_pool_is_empty() {
    let _g = serial();
    let interval = Duration::from_millis(20);
    let sink = GatedSink::default();
    let session = Config::default()
        .chunk_size(CHUNK)
        .buffer_size(4 * CHUNK)
        .flush_interval(interval)
        .start_with_sink(sink.clone())
        .unwrap();
    let name = trace_rt::intern("peeked-then-dry");
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let quiet = std::thread::spawn(move || {
        (0..10).for_each(|value| record(&Event::Counter { name, value }));
        go_rx.recv().unwrap();
        // Long after the chunk's flush interval: this event needs a fresh chunk.
        (10..20).for_each(|value| record(&Event::Counter { name, value }));
        go_rx.recv().unwrap();
    });
    // The writer copies the quiet thread's ten events.
    let give_up = Instant::now() + Duration::from_secs(10);
    while sink.watching.values(name).len() < 10 {
        assert!(
            Instant::now() < give_up,
            "the quiet thread was never peeked"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    // Stall the writer and use up every chunk from this thread.
    sink.set_closed(true);
    let filler = trace_rt::intern("filler");
    for value in 0..5_000 {
        record(&Event::Counter {
            name: filler,
            value,
        });
    }
    go_tx.send(()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    sink.set_closed(false);
    let summary = session.stop().unwrap();
    go_tx.send(()).unwrap();
    quiet.join().unwrap();
    let trace = Trace::from_bytes(sink.watching.inner.bytes()).unwrap();
    assert_eq!(trace.validate().unwrap(), summary.events);
    let quiet_values = counter_values(&trace, "peeked-then-dry");
    // The ten peeked events once each; the ten recorded while the pool was dry are lost.
    assert_eq!(quiet_values, (0..10).collect::<Vec<_>>(), "{summary}");
    let fillers = counter_values(&trace, "filler").len() as u64;
    assert_eq!(
        quiet_values.len() as u64 + fillers + summary.lost_events,
        10 + 10 + 5_000,
        "{summary}"
    );
    let chunkless: Vec<_> = trace
        .events()
        .filter_map(|r| match r.unwrap().event {
            Event::Lost { chunks: 0, events } => Some(events),
            _ => None,
        })
        .collect();
    eprintln!("{summary}; chunkless losses {chunkless:?}");
}

/// Run as a child process by `a_killed_process_keeps_what_its_quiet_threads_recorded`: a
/// service that bursts 8 tasks for 0.3 s, then idles (its workers park, `main` waits)
/// until it is killed.
#[test]
#[ignore = "child process of a_killed_process_keeps_what_its_quiet_threads_recorded"]
fn quiet_after_burst_child() {
    let path = std::env::var_os("DELIVERY_OUT").expect("DELIVERY_OUT");
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(2);
    trace_rt::instrument(&mut b);
    let rt = b.enable_all().build().unwrap();
    let _session = trace_rt::start(&path).unwrap();
    trace_rt::counter("main-started", 1);
    rt.block_on(async {
        let burst_end = Instant::now() + Duration::from_millis(300);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                tokio::spawn(async move {
                    while Instant::now() < burst_end {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
    });
    trace_rt::counter("main-idle", 1);
    println!("idle");
    // Idle: nothing records on this thread or the workers from now on.
    std::thread::sleep(Duration::from_secs(3600));
}

/// `kill -9` of a service that went idle after a short burst: every thread's events up to
/// the idle point are in the file — the 8 spawns and the main thread's events (main records
/// nothing after the burst), all 8 terminates (on workers that park and stay parked).
/// Before, those chunks stayed with their quiet threads and the kill lost them all.
#[cfg(unix)]
#[test]
fn a_killed_process_keeps_what_its_quiet_threads_recorded() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quiet-killed.rtt");
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "quiet_after_burst_child",
            "--nocapture",
        ])
        .env("DELIVERY_OUT", &path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufReader::new(stdout).lines();
    let idle = lines.find(|l| l.as_ref().is_ok_and(|l| l.contains("idle")));
    assert!(idle.is_some(), "the child never went idle");
    // About 3 s after the start: the flush interval (1 s) and the writer's flush (100 ms)
    // have long passed since the last event of the burst.
    std::thread::sleep(Duration::from_secs(3).saturating_sub(started.elapsed()));
    child.kill().unwrap(); // SIGKILL: no destructor, no stop
    child.wait().unwrap();

    let trace = Trace::open(&path).expect("a killed recording opens");
    assert!(trace.end().is_none());
    let mut spawns = Vec::new();
    let mut terminates = 0;
    for r in trace.events() {
        match r.unwrap().event {
            Event::TaskSpawn { task, location, .. } => {
                let loc = trace.location(location).map(|l| l.file.clone());
                if loc.is_some_and(|f| f.contains("delivery.rs")) {
                    spawns.push(task);
                }
            }
            Event::TaskTerminate { task } if spawns.contains(&task) => terminates += 1,
            _ => {}
        }
    }
    assert_eq!(spawns.len(), 8, "spawns in the file");
    assert_eq!(terminates, 8, "terminates in the file");
    assert_eq!(counter_values(&trace, "main-started"), [1]);
    assert_eq!(counter_values(&trace, "main-idle"), [1]);

    // What the report makes of it: the recording says how much of its tail may be missing,
    // no poll is "still running", and none of the burst's tasks is a leak suspect.
    let flush = trace
        .header()
        .features
        .iter()
        .find(|(k, _)| k == "flush_interval_ns")
        .map(|(_, v)| v.clone());
    assert_eq!(flush.as_deref(), Some("1000000000"));
    let model = trace_analysis::model::Model::build(&trace).unwrap();
    assert!(model.complete_until < model.end);
    let b = trace_analysis::analysis::breakdown::Breakdown::compute(&model, &Default::default());
    assert!(
        b.longest_polls.iter().all(|p| !p.still_running),
        "{:?}",
        b.longest_polls
    );
    assert_eq!(b.leak_suspect_count, 0, "{:?}", b.leak_suspects);
}
