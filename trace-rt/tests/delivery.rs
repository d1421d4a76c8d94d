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
    Config::default()
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
