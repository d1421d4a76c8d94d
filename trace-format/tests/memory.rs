//! The reader's memory: a pass over a large mapped trace must not leave the whole file
//! resident. Linux only: the resident size of the file's mapping is read from
//! `/proc/self/smaps`.
#![cfg(target_os = "linux")]

use std::io::Write;
use std::path::Path;

use trace_format::codec::{self, EncodeState};
use trace_format::{
    ClockInfo, End, Event, EventChunkHeader, Header, TaskId, Trace, TraceWriter, Warning,
};

/// Writes a valid trace of `chunks` event chunks of about 60 KiB each (the same events in
/// every chunk, with increasing sequence numbers), then `zeros` zero bytes. Returns the
/// number of events.
fn write_big_trace(path: &Path, chunks: u32, zeros: u64) -> u64 {
    let mut events = vec![0u8; 64 << 10];
    let mut state = EncodeState::new(1_000);
    let (mut len, mut count, mut t) = (0, 0u32, 1_000u64);
    while len + codec::MAX_FIXED_EVENT_LEN < 60 << 10 {
        t += 7;
        let e = if count % 2 == 0 {
            Event::PollStart {
                task: TaskId(u64::from(count % 50) + 1),
            }
        } else {
            Event::PollEnd { ready: false }
        };
        len += codec::encode(&mut state, &mut events[len..], t, &e);
        count += 1;
    }
    events.truncate(len);
    let header = Header {
        clock: ClockInfo::nanoseconds(),
        start_time: 0,
        wall_clock_unix_nanos: 0,
        recorder: "memory test".into(),
        process_id: 1,
        process_name: "test".into(),
        chunk_capacity: 64 << 10,
        features: vec![],
    };
    let file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut w = TraceWriter::new(file, &header).unwrap();
    for seq in 0..chunks {
        let chunk = EventChunkHeader {
            thread: 1,
            seq,
            base_time: 1_000,
            end_time: t,
            event_count: count,
        };
        w.write_events(&chunk, &events).unwrap();
    }
    let total = u64::from(count) * u64::from(chunks);
    let mut file = w
        .finish(&End {
            end_time: t,
            events: total,
            chunks: u64::from(chunks),
            lost_chunks: 0,
            lost_events: 0,
        })
        .unwrap();
    file.write_all(&vec![0u8; zeros as usize]).unwrap();
    file.flush().unwrap();
    total
}

/// Resident bytes of this process's mappings of `path`.
fn mapped_rss(path: &Path) -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let name = path.to_str().unwrap();
    let mut in_file = false;
    let mut kb = 0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && first.chars().next().is_some_and(|c| c.is_ascii_hexdigit()) {
            in_file = line.ends_with(name);
        } else if in_file && let Some(v) = line.strip_prefix("Rss:") {
            kb += v
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .unwrap();
        }
    }
    kb * 1024
}

/// Open (the frame scan) and a full decode (validation) each hand the pages they are done
/// with back, and the bytes read again afterwards are the same.
#[test]
fn passes_over_a_mapped_trace_do_not_keep_it_resident() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.rtt");
    let events = write_big_trace(&path, 320, 0);
    let size = std::fs::metadata(&path).unwrap().len();
    assert!(size > 18 << 20, "{size} bytes");

    let trace = Trace::open(&path).unwrap();
    let after_open = mapped_rss(&path);
    assert_eq!(trace.validate().unwrap(), events);
    let after_validate = mapped_rss(&path);
    eprintln!(
        "file {size} B; mapping resident after open {after_open} B, after a full decode \
         {after_validate} B"
    );
    assert!(
        after_open < size / 8,
        "open left {after_open} of {size} bytes resident"
    );
    assert!(
        after_validate < size / 8,
        "decoding left {after_validate} of {size} bytes resident"
    );

    // Released pages read back the same: decode everything again, per thread and merged.
    assert_eq!(trace.validate().unwrap(), events);
    let mut n = 0u64;
    let mut last = 0;
    for r in trace.events() {
        let r = r.unwrap();
        assert!(matches!(
            r.event,
            Event::PollStart { .. } | Event::PollEnd { ready: false }
        ));
        last = r.time;
        n += 1;
    }
    assert_eq!((n, last), (events, trace.chunks()[0].header.end_time));
}

/// A trace followed by a long zero-filled (here sparse) tail reads as cut, and searching
/// the zeros does not make them resident.
#[test]
fn a_long_zero_tail_is_a_cut_and_is_not_kept_resident() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sparse.rtt");
    let events = write_big_trace(&path, 4, 0);
    let whole = std::fs::metadata(&path).unwrap().len();
    // Cut inside the end record, then extend the file with a hole, as a file system leaves a
    // file whose last blocks were never written.
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(whole - 3).unwrap();
    let size = whole + (64 << 20);
    file.set_len(size).unwrap();
    drop(file);

    let trace = Trace::open(&path).unwrap();
    let rss = mapped_rss(&path);
    eprintln!("file {size} B, mapping resident after open {rss} B");
    assert!(rss < 8 << 20, "{rss} bytes resident");
    let end_frame = trace.valid_len();
    assert_eq!(
        trace.warnings(),
        [Warning::Truncated {
            valid_len: end_frame,
            discarded: size - end_frame,
            zeros_from: Some(whole - 3),
        }]
    );
    assert!(trace.end().is_none());
    assert_eq!(trace.validate().unwrap(), events);
}
