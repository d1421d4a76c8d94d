//! CPU the writer thread spends per MiB of trace written to a file: [`trace_rt::FileSink`]
//! (`O_DIRECT` in 1 MiB blocks where the file system allows it) beside a
//! [`trace_rt::WriterSink`] over a plain `File` (buffered writes through the page cache, what
//! `FileSink` did before), in the same run; the buffered sink twice: flushed as the writer
//! does now, and after every chunk, as it did before.
//!
//! Run: `cargo bench -p trace-rt-benches --bench sink_write`
//!
//! Each repetition writes 256 MiB of 64 KiB event chunks (real encoded poll events) through
//! each sink, in rotating order, flushing every 32 chunks as the writer thread does about
//! every 100 ms under load (or after every chunk); the figure is the writing thread's CPU time (Linux:
//! `/proc/thread-self/schedstat`) up to the end record, medians of 7. The files live in
//! cargo's target directory, whose file system decides whether `O_DIRECT` is possible (tmpfs
//! refuses it, and `FileSink` then writes through the page cache like the other sink).
//! Not counted: the kernel's later write-back of the buffered sink's dirty pages, which
//! `O_DIRECT` does not need.

use std::time::Instant;

use trace_format::codec::{self, EncodeState};
use trace_format::{ClockInfo, Event, EventChunkHeader, Header, TaskId};
use trace_rt::Sink;
use trace_rt_benches::median;

const CHUNK: usize = 64 << 10;
const CHUNKS_PER_REP: usize = 4096; // 256 MiB
const FLUSH_EVERY: usize = 32;
const REPS: usize = 7;

/// One chunk of poll start/end events, as a worker's chunk holds them.
fn chunk_bytes() -> (Vec<u8>, u32) {
    let mut out = vec![0u8; CHUNK];
    let mut state = EncodeState::new(0);
    let (mut pos, mut count, mut time) = (0, 0u32, 0u64);
    while pos + 2 * codec::MAX_FIXED_EVENT_LEN <= CHUNK {
        time += 150;
        let task = TaskId(1 + u64::from(count % 64));
        pos += codec::encode(
            &mut state,
            &mut out[pos..],
            time,
            &Event::PollStart { task },
        );
        time += 90;
        pos += codec::encode(
            &mut state,
            &mut out[pos..],
            time,
            &Event::PollEnd { ready: false },
        );
        count += 2;
    }
    out.truncate(pos);
    (out, count)
}

/// Nanoseconds this thread has run on a CPU, where Linux tells.
fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// Writes one repetition through `sink` on a thread of its own, flushing every `flush_every`
/// chunks; returns (CPU ns, wall ns).
fn write_through(
    mut sink: Box<dyn Sink>,
    flush_every: usize,
    chunk: &[u8],
    count: u32,
) -> (Option<u64>, u64) {
    std::thread::scope(|s| {
        s.spawn(move || {
            let header = Header {
                clock: ClockInfo::nanoseconds(),
                start_time: 0,
                wall_clock_unix_nanos: 0,
                recorder: "sink_write bench".into(),
                process_id: std::process::id(),
                process_name: "sink_write".into(),
                chunk_capacity: CHUNK as u32,
                features: Vec::new(),
            };
            let cpu0 = thread_cpu_ns();
            let wall0 = Instant::now();
            sink.header(&header).expect("header");
            for i in 0..CHUNKS_PER_REP {
                let h = EventChunkHeader {
                    thread: 1,
                    seq: i as u32,
                    base_time: 0,
                    end_time: 1,
                    event_count: count,
                };
                sink.events(&h, chunk).expect("write");
                if i % flush_every == flush_every - 1 {
                    sink.flush().expect("flush");
                }
            }
            sink.flush().expect("flush");
            let cpu = thread_cpu_ns().zip(cpu0).map(|(b, a)| b - a);
            (cpu, wall0.elapsed().as_nanos() as u64)
        })
        .join()
        .expect("writer thread")
    })
}

fn main() {
    if std::env::args().any(|a| a == "--test") {
        return; // `cargo test --benches`: nothing to check here
    }
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temp dir");
    let (chunk, count) = chunk_bytes();
    let mib = (CHUNKS_PER_REP * chunk.len()) as f64 / f64::from(1 << 20);
    const ROWS: [(&str, bool, usize); 3] = [
        ("FileSink (O_DIRECT where possible)", true, FLUSH_EVERY),
        ("WriterSink<File> (page cache)", false, FLUSH_EVERY),
        ("WriterSink<File>, flushed after every chunk", false, 1),
    ];
    let mut cpu = [const { Vec::new() }; 3];
    let mut wall = [const { Vec::new() }; 3];
    for rep in 0..REPS {
        for k in 0..ROWS.len() {
            let row = (rep + k) % ROWS.len();
            let (_, direct, flush_every) = ROWS[row];
            let path = dir.path().join("bench.rtt");
            let sink: Box<dyn Sink> = if direct {
                Box::new(trace_rt::FileSink::create(&path).expect("create"))
            } else {
                let file = std::fs::File::create(&path).expect("create");
                Box::new(trace_rt::WriterSink::new(file))
            };
            let (c, w) = write_through(sink, flush_every, &chunk, count);
            if let Some(c) = c {
                cpu[row].push(c as f64 / 1e3 / mib);
            }
            wall[row].push(w as f64 / 1e6);
            std::fs::remove_file(&path).expect("remove");
        }
    }
    println!(
        "== trace file writes: {REPS} repetitions of {mib:.0} MiB in 64 KiB chunks per sink, \
         rotating; medians (min..max)"
    );
    println!("| sink | writer CPU µs per MiB | wall ms per repetition |");
    println!("|---|---|---|");
    for (row, (name, _, _)) in ROWS.iter().enumerate() {
        let c = if cpu[row].is_empty() {
            "n/a (no /proc/thread-self/schedstat)".to_string()
        } else {
            let (lo, hi) = min_max(&cpu[row]);
            format!("{:.0} ({lo:.0}..{hi:.0})", median(&mut cpu[row]))
        };
        let (lo, hi) = min_max(&wall[row]);
        println!(
            "| {name} | {c} | {:.0} ({lo:.0}..{hi:.0}) |",
            median(&mut wall[row])
        );
    }
    if cpu.iter().all(|c| !c.is_empty()) {
        let direct = median(&mut cpu[0]);
        println!(
            "writer CPU per MiB, FileSink / buffered: {:.2}; / buffered flushed per chunk: {:.2}",
            direct / median(&mut cpu[1]),
            direct / median(&mut cpu[2])
        );
    }
}

fn min_max(xs: &[f64]) -> (f64, f64) {
    xs.iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &x| (lo.min(x), hi.max(x)))
}
