//! Damaged files: a valid trace cut at every byte offset, and thousands of byte and bit flips.
//! The reader must never panic, must read a cut file back to its last whole chunk (with a
//! warning saying so), and must report every flipped byte as an error.

use std::collections::BTreeMap;

use trace_format::frame::{self, FRAME_HEADER_LEN, PREAMBLE_LEN};
use trace_format::{
    Event, Level, LocationId, PauseScope, ReadError, StringId, TaskId, TaskKind, ThreadId,
    ThreadKind, Trace, WakeSource, Warning, build::TraceBuilder,
};

/// A small xorshift64* generator: deterministic, seeded, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Owned copy of a decoded event, to compare traces read from different byte buffers.
type Owned = (u64, String);

fn owned(time: u64, e: &Event<'_>) -> Owned {
    (time, format!("{e:?}"))
}

/// A valid trace of a few KB: three threads, many chunks, strings, locations, an end record.
fn fixture() -> (Vec<u8>, BTreeMap<ThreadId, Vec<Owned>>) {
    let mut b = TraceBuilder::new();
    b.chunk_capacity = 160;
    b.string(1, "worker")
        .string(2, "compaction")
        .string(3, "my::target");
    b.location(1, "src/main.rs", 12, 5)
        .location(2, "src/lib.rs", 300, 1);
    let mut expected: BTreeMap<ThreadId, Vec<Owned>> = BTreeMap::new();
    let mut push = |b: &mut TraceBuilder, thread: ThreadId, time: u64, e: Event<'_>| {
        b.push(thread, time, e);
        expected.entry(thread).or_default().push(owned(time, &e));
    };
    for (w, thread) in [1u32, 2, 7].into_iter().enumerate() {
        b.thread(thread, &format!("worker-{w}"));
        let mut t = 1_000 + w as u64 * 3;
        let kind = if thread == 7 {
            ThreadKind::Blocking
        } else {
            ThreadKind::Worker
        };
        push(
            &mut b,
            thread,
            t,
            Event::ThreadStart {
                kind,
                index: w as u32,
            },
        );
        for i in 0..80u64 {
            t += 17 + i * i;
            let task = TaskId(thread as u64 * 100 + i % 5 + 1);
            match i % 8 {
                0 => push(
                    &mut b,
                    thread,
                    t,
                    Event::TaskSpawn {
                        task,
                        kind: TaskKind::Async,
                        tokio_id: i + 1,
                        parent: TaskId(1),
                        location: LocationId(1),
                        name: StringId(1),
                    },
                ),
                1 => push(
                    &mut b,
                    thread,
                    t,
                    Event::Wake {
                        task,
                        waker: TaskId::NONE,
                        source: WakeSource::ALL[i as usize % 7],
                    },
                ),
                2 => push(
                    &mut b,
                    thread,
                    t,
                    Event::Log {
                        level: Level::Info,
                        target: StringId(3),
                        message: "handled a request — ok ✓",
                    },
                ),
                3 => push(
                    &mut b,
                    thread,
                    t,
                    Event::PauseBegin {
                        kind: StringId(2),
                        scope: PauseScope::Process,
                    },
                ),
                4 => push(
                    &mut b,
                    thread,
                    t,
                    Event::PauseEnd {
                        kind: StringId(2),
                        scope: PauseScope::Process,
                    },
                ),
                5 => push(
                    &mut b,
                    thread,
                    t,
                    Event::Unknown {
                        tag: 0x90,
                        payload: b"extension",
                    },
                ),
                _ => {
                    push(&mut b, thread, t, Event::PollStart { task });
                    push(&mut b, thread, t + 5, Event::PollEnd { ready: i % 3 == 0 });
                    t += 5;
                }
            }
        }
        push(&mut b, thread, t + 1, Event::ThreadStop);
    }
    let bytes = b.to_bytes();
    (bytes, expected)
}

/// Byte offsets where frames start, plus the file length.
fn frame_boundaries(bytes: &[u8]) -> Vec<usize> {
    let mut out = vec![PREAMBLE_LEN];
    let mut pos = PREAMBLE_LEN;
    while pos < bytes.len() {
        let len = u32::from_le_bytes(bytes[pos + 4..pos + 8].try_into().unwrap()) as usize;
        pos += FRAME_HEADER_LEN + len;
        out.push(pos);
    }
    assert_eq!(pos, bytes.len());
    out
}

/// Reads everything a trace offers: validation, every thread, the merged stream, warnings'
/// messages. Returns the per-thread events, or the first error.
fn read_all(trace: &Trace) -> Result<BTreeMap<ThreadId, Vec<Owned>>, ReadError> {
    for w in trace.warnings() {
        assert!(!w.to_string().is_empty());
    }
    trace.validate()?;
    let mut per_thread = BTreeMap::new();
    for thread in trace.thread_ids() {
        let mut list = Vec::new();
        for r in trace.thread_events(thread) {
            let r = r?;
            list.push(owned(r.time, &r.event));
        }
        per_thread.insert(thread, list);
    }
    let mut n = 0;
    for r in trace.events() {
        r?;
        n += 1;
    }
    assert_eq!(n, per_thread.values().map(Vec::len).sum::<usize>());
    Ok(per_thread)
}

#[test]
fn fixture_is_valid_and_multi_chunk() {
    let (bytes, expected) = fixture();
    assert!(
        (2_000..16_000).contains(&bytes.len()),
        "{} bytes",
        bytes.len()
    );
    let trace = Trace::from_bytes(bytes).unwrap();
    assert!(trace.warnings().is_empty(), "{:?}", trace.warnings());
    assert!(trace.end().is_some());
    eprintln!(
        "fixture: {} bytes, {} chunks",
        trace.valid_len(),
        trace.chunks().len()
    );
    assert!(
        trace.chunks().len() >= 12,
        "{} chunks",
        trace.chunks().len()
    );
    assert_eq!(read_all(&trace).unwrap(), expected);
}

#[test]
fn cut_at_every_offset() {
    let (bytes, expected) = fixture();
    let full = Trace::from_bytes(bytes.clone()).unwrap();
    let boundaries = frame_boundaries(&bytes);
    // The header frame is the first one; a cut before its end leaves nothing to read.
    let header_end = boundaries[1];

    for cut in 0..=bytes.len() {
        let result = Trace::from_bytes(bytes[..cut].to_vec());
        if cut < header_end {
            match result {
                Err(ReadError::TruncatedHeader { len }) => assert_eq!(len, cut as u64),
                other => panic!("cut at {cut}: expected TruncatedHeader, got {other:?}"),
            }
            continue;
        }
        let trace = result.unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let last_whole = *boundaries.iter().rev().find(|&&b| b <= cut).unwrap();
        assert_eq!(trace.valid_len(), last_whole as u64, "cut at {cut}");
        if cut == bytes.len() {
            assert!(trace.warnings().is_empty(), "{:?}", trace.warnings());
        } else if cut == last_whole {
            assert_eq!(trace.warnings(), [Warning::NoEndRecord], "cut at {cut}");
        } else {
            let w = Warning::Truncated {
                valid_len: last_whole as u64,
                discarded: (cut - last_whole) as u64,
                zeros_from: None,
            };
            assert_eq!(trace.warnings(), std::slice::from_ref(&w), "cut at {cut}");
            let msg = w.to_string();
            assert!(
                msg.contains(&last_whole.to_string())
                    && msg.contains(&(cut - last_whole).to_string()),
                "{msg}"
            );
        }

        // Exactly the whole chunks before the cut, which per thread is a prefix.
        let got = read_all(&trace).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
        let mut want_len: BTreeMap<ThreadId, usize> = BTreeMap::new();
        for c in full.chunks() {
            if c.events_offset + u64::from(c.events_len) <= cut as u64 {
                *want_len.entry(c.header.thread).or_default() += c.header.event_count as usize;
            }
        }
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want_len.keys().collect::<Vec<_>>(),
            "cut at {cut}"
        );
        for (thread, list) in &got {
            assert_eq!(
                list.len(),
                want_len[thread],
                "cut at {cut}, thread {thread}"
            );
            assert_eq!(
                list[..],
                expected[thread][..list.len()],
                "cut at {cut}, thread {thread}"
            );
        }
    }
}

#[test]
fn short_inputs() {
    assert!(matches!(
        Trace::from_bytes(vec![]),
        Err(ReadError::TruncatedHeader { len: 0 })
    ));
    assert!(matches!(
        Trace::from_bytes(b"TRACE".to_vec()),
        Err(ReadError::TruncatedHeader { len: 5 })
    ));
    assert!(matches!(
        Trace::from_bytes(b"HELLO".to_vec()),
        Err(ReadError::NotATrace)
    ));
    assert!(matches!(
        Trace::from_bytes(b"PK\x03\x04 this is a zip file".to_vec()),
        Err(ReadError::NotATrace)
    ));
    let e = Trace::from_bytes(frame::preamble().to_vec()).unwrap_err();
    assert!(matches!(e, ReadError::TruncatedHeader { len: 12 }), "{e:?}");
    assert!(e.to_string().contains("cut short"), "{e}");
}

/// Asserts that a damaged file is reported: by `open`, or by validation or iteration.
fn assert_reported(bytes: Vec<u8>, what: &str) -> &'static str {
    match Trace::from_bytes(bytes) {
        Err(ReadError::Corrupt { .. }) => "corrupt",
        Err(ReadError::NotATrace) => "not a trace",
        Err(ReadError::UnsupportedVersion(_)) => "unsupported version",
        Err(ReadError::DamagedVersion(_)) => "damaged version",
        Err(e) => panic!("{what}: unexpected error {e:?}"),
        Ok(trace) => match read_all(&trace) {
            Err(ReadError::Corrupt { .. }) => "corrupt (late)",
            Err(e) => panic!("{what}: unexpected error {e:?}"),
            Ok(_) => panic!(
                "{what}: damage went unreported (warnings {:?})",
                trace.warnings()
            ),
        },
    }
}

#[test]
fn every_byte_and_bit_flip_is_reported() {
    let (bytes, _) = fixture();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();

    // Every offset, one random byte change each, plus random bit flips and byte changes.
    for i in 0..bytes.len() {
        let mut b = bytes.clone();
        b[i] ^= 1 + rng.below(255) as u8;
        *outcomes
            .entry(assert_reported(b, &format!("byte changed at {i}")))
            .or_default() += 1;
    }
    for case in 0..10_000 {
        let mut b = bytes.clone();
        let i = rng.below(b.len());
        if case % 2 == 0 {
            b[i] ^= 1 << rng.below(8);
        } else {
            b[i] = rng.next() as u8;
            if b[i] == bytes[i] {
                continue;
            }
        }
        *outcomes
            .entry(assert_reported(b, &format!("case {case}, offset {i}")))
            .or_default() += 1;
    }
    // A few damaged spans: several bytes overwritten at once.
    for case in 0..2_000 {
        let mut b = bytes.clone();
        let start = rng.below(b.len());
        let len = 1 + rng.below(8);
        for x in &mut b[start..(start + len).min(bytes.len())] {
            *x = rng.next() as u8;
        }
        if b == bytes {
            continue;
        }
        *outcomes
            .entry(assert_reported(b, &format!("span case {case} at {start}")))
            .or_default() += 1;
    }
    eprintln!("{} bytes, outcomes: {outcomes:?}", bytes.len());
    assert!(outcomes.contains_key("corrupt"));
    assert!(outcomes.contains_key("not a trace"));
    assert!(outcomes.contains_key("damaged version"));
}

/// Damage that keeps the checksums right (a buggy writer, or deliberate tampering): never a
/// panic; whatever is read is either an error or well-formed.
#[test]
fn damage_behind_valid_checksums_never_panics() {
    let (bytes, _) = fixture();
    let boundaries = frame_boundaries(&bytes);
    let mut rng = Rng(42);
    for case in 0..2_000 {
        let mut b = bytes.clone();
        let f = rng.below(boundaries.len() - 1);
        let (start, end) = (boundaries[f], boundaries[f + 1]);
        let payload = start + FRAME_HEADER_LEN..end;
        if payload.is_empty() {
            continue;
        }
        for _ in 0..1 + rng.below(3) {
            let i = payload.start + rng.below(payload.len());
            b[i] = if case % 3 == 0 {
                b[i] ^ (1 << rng.below(8))
            } else {
                rng.next() as u8
            };
        }
        reseal(&mut b, start, end);
        if let Ok(trace) = Trace::from_bytes(b) {
            let _ = read_all(&trace);
            for c in trace.chunks() {
                let _ = trace.chunk_events(c).count();
            }
        }
    }
}

/// Recomputes the checksums of the frame at `start..end`.
fn reseal(b: &mut [u8], start: usize, end: usize) {
    let payload_crc = crc32fast::hash(&b[start + FRAME_HEADER_LEN..end]);
    let len = (end - start - FRAME_HEADER_LEN) as u32;
    let h = frame::frame_header(b[start], len, payload_crc);
    b[start..start + FRAME_HEADER_LEN].copy_from_slice(&h);
}

#[test]
fn bad_events_behind_valid_checksums_are_errors_naming_their_offset() {
    let (bytes, _) = fixture();
    let full = Trace::from_bytes(bytes.clone()).unwrap();
    let c = full.chunks()[3];
    let frame_end = (c.events_offset + u64::from(c.events_len)) as usize;

    // A reserved event tag at the chunk's first event.
    let mut b = bytes.clone();
    b[c.events_offset as usize] = 0x00;
    reseal(&mut b, c.offset as usize, frame_end);
    let trace = Trace::from_bytes(b).unwrap();
    let e = trace.validate().unwrap_err();
    assert!(
        e.to_string()
            .contains(&format!("at byte {}: unknown event tag", c.events_offset)),
        "{e}"
    );
    assert!(trace.events().any(|r| r.is_err()));
    assert!(trace.thread_events(c.header.thread).any(|r| r.is_err()));

    // A chunk header whose event count is wrong.
    let mut b = bytes.clone();
    let count_at = c.offset as usize + FRAME_HEADER_LEN + 24;
    b[count_at] = b[count_at].wrapping_add(1);
    reseal(&mut b, c.offset as usize, frame_end);
    let trace = Trace::from_bytes(b).unwrap();
    let e = trace.validate().unwrap_err();
    assert!(
        e.to_string().contains(&format!("at byte {}", c.offset))
            && e.to_string().contains("declares"),
        "{e}"
    );
    // Every way of reading the events sees it, not only validation: a summary or model
    // built from them must not call the trace sound.
    let damaged = trace.chunks()[3];
    let e = trace.chunk_events(&damaged).find_map(Result::err).unwrap();
    assert!(e.to_string().contains("declares"), "{e}");
    let e = trace
        .thread_events(c.header.thread)
        .find_map(Result::err)
        .unwrap();
    assert!(e.to_string().contains("declares"), "{e}");
    let e = trace.events().find_map(Result::err).unwrap();
    assert!(e.to_string().contains("declares"), "{e}");

    // A chunk header whose end time is wrong.
    let mut b = bytes.clone();
    let end_at = c.offset as usize + FRAME_HEADER_LEN + 16;
    b[end_at] = b[end_at].wrapping_add(1);
    reseal(&mut b, c.offset as usize, frame_end);
    let trace = Trace::from_bytes(b).unwrap();
    for e in [
        trace.validate().unwrap_err(),
        trace.events().find_map(Result::err).unwrap(),
    ] {
        assert!(e.to_string().contains("end time does not match"), "{e}");
    }
}

/// The readable part of a file damaged part-way: `open_prefix` at the damage's offset reads
/// every whole frame before it, without copying the file.
#[test]
fn open_prefix_reads_the_frames_before_the_damage() {
    let (bytes, expected) = fixture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.rtt");
    let mut b = bytes.clone();
    b[bytes.len() / 2] ^= 0x10;
    std::fs::write(&path, &b).unwrap();
    let Err(ReadError::Corrupt { offset, .. }) = Trace::open(&path) else {
        panic!("expected corrupt");
    };
    let trace = Trace::open_prefix(&path, offset).unwrap();
    assert_eq!(trace.valid_len(), offset);
    assert_eq!(trace.warnings(), [Warning::NoEndRecord]);
    let got = read_all(&trace).unwrap();
    assert!(!got.is_empty());
    for (thread, list) in &got {
        assert_eq!(list[..], expected[thread][..list.len()]);
    }
    assert!(matches!(
        Trace::open_prefix(&path, 20),
        Err(ReadError::TruncatedHeader { len: 20 })
    ));
}

/// Only a version a little above the newest readable one is a newer format; 0 (never a
/// version) or a number far above it is a damaged preamble, and saying "use a newer
/// trace-viewer" would send the user looking for a reader that does not exist.
#[test]
fn newer_versions_and_damaged_versions_get_different_messages() {
    let (bytes, _) = fixture();
    let with_version = |version: u16| {
        let mut b = bytes.clone();
        b[8..10].copy_from_slice(&version.to_le_bytes());
        Trace::from_bytes(b).unwrap_err()
    };
    for version in [2u16, 3, 1 + frame::NEWER_VERSION_SPAN] {
        let e = with_version(version);
        assert!(
            matches!(e, ReadError::UnsupportedVersion(v) if v == version),
            "{e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains(&format!("version {version} is newer"))
                && msg.contains("newer trace-viewer"),
            "{msg}"
        );
    }
    // 0, every flip of the high byte of version 1, and garbage.
    let mut damaged = vec![
        0u16,
        2 + frame::NEWER_VERSION_SPAN,
        0x0100,
        u16::MAX,
        0xABCD,
    ];
    damaged.extend((0..8).map(|bit| 1u16 ^ (0x100 << bit)));
    for version in damaged {
        let e = with_version(version);
        assert!(
            matches!(e, ReadError::DamagedVersion(v) if v == version),
            "{version}: {e:?}"
        );
        let msg = e.to_string();
        assert!(
            msg.contains("damaged") && msg.contains(&format!("reads {version}")),
            "{msg}"
        );
        assert!(!msg.contains("newer trace-viewer"), "{msg}");
    }
}

/// Power loss (or a full disk) can leave a file whose length covers data that never reached
/// the disk: the blocks read back as zeros. Cut at every offset inside the frames and
/// followed by a block of zeros, the file reads back to its last whole frame as a cut, with
/// a warning naming where the zeros start; never as corrupt.
#[test]
fn cut_followed_by_zeros_reads_as_a_cut() {
    let (bytes, expected) = fixture();
    let boundaries = frame_boundaries(&bytes);
    let header_end = boundaries[1];
    for cut in header_end..bytes.len() {
        for zeros in [4096usize, 8192 - cut % 4096] {
            let mut b = bytes[..cut].to_vec();
            b.resize(cut + zeros, 0);
            // The last whole frame: before the cut, or past it when the bytes cut off were
            // zeros themselves.
            let last_whole = *boundaries
                .iter()
                .rev()
                .find(|&&x| x <= b.len() && b[..x] == bytes[..x])
                .unwrap();
            let trace = Trace::from_bytes(b)
                .unwrap_or_else(|e| panic!("cut at {cut} + {zeros} zeros: {e}"));
            assert_eq!(trace.valid_len(), last_whole as u64, "cut at {cut}");
            let [
                Warning::Truncated {
                    valid_len,
                    discarded,
                    zeros_from: Some(zeros_from),
                },
            ] = trace.warnings()
            else {
                panic!("cut at {cut}: {:?}", trace.warnings());
            };
            assert_eq!(*valid_len, last_whole as u64);
            assert_eq!(*discarded, (cut + zeros - last_whole) as u64);
            // The zeros start at the cut, or earlier when the bytes before it were zeros.
            let z = *zeros_from as usize;
            assert!(
                z <= cut.max(last_whole) && z >= last_whole,
                "cut at {cut}: zeros from {z}"
            );
            assert!(bytes[z.min(cut)..cut].iter().all(|&x| x == 0));
            let msg = trace.warnings()[0].to_string();
            assert!(
                msg.contains(&format!("from byte {zeros_from}")) && msg.contains("zeros"),
                "{msg}"
            );
            let got = read_all(&trace).unwrap_or_else(|e| panic!("cut at {cut}: {e}"));
            for (thread, list) in &got {
                assert_eq!(list[..], expected[thread][..list.len()], "cut at {cut}");
            }
        }
    }
}

/// Zeros do not excuse damage: a flipped byte in the last frame of a file that ends in a few
/// zero bytes (as an end record does) is still corrupt, and so is a damaged frame followed by
/// whole frames.
#[test]
fn zeros_do_not_hide_damage() {
    let (bytes, _) = fixture();
    let boundaries = frame_boundaries(&bytes);
    let last = boundaries[boundaries.len() - 2];
    assert_eq!(
        bytes[bytes.len() - 2..],
        [0, 0],
        "the end record ends in zeros"
    );
    for i in last..bytes.len() - 2 {
        let mut b = bytes.clone();
        b[i] ^= 0x40;
        assert!(
            matches!(Trace::from_bytes(b), Err(ReadError::Corrupt { .. })),
            "flip at {i}"
        );
    }
    // Zeros over the middle of the file, not reaching its end.
    let mid = boundaries[boundaries.len() / 2] + 20;
    let mut b = bytes.clone();
    b[mid..mid + 64].fill(0);
    assert!(matches!(
        Trace::from_bytes(b),
        Err(ReadError::Corrupt { .. })
    ));
}

#[test]
fn unknown_frames_are_skipped_with_a_warning() {
    let (bytes, expected) = fixture();
    let boundaries = frame_boundaries(&bytes);
    // Insert a frame of kind 0x7E after the header frame.
    let at = boundaries[1];
    let payload = b"from the future";
    let mut b = bytes[..at].to_vec();
    b.extend_from_slice(&frame::frame_header(
        0x7E,
        payload.len() as u32,
        crc32fast::hash(payload),
    ));
    b.extend_from_slice(payload);
    b.extend_from_slice(&bytes[at..]);
    let trace = Trace::from_bytes(b).unwrap();
    assert_eq!(
        trace.warnings(),
        [Warning::UnknownFrames {
            count: 1,
            kinds: vec![0x7E],
            first_offset: at as u64,
        }]
    );
    assert!(trace.warnings()[0].is_benign());
    assert_eq!(read_all(&trace).unwrap(), expected);
}

/// Megabytes of extension frames (skippable by FORMAT.md) make one short warning, not one
/// per frame.
#[test]
fn many_unknown_frames_make_one_short_warning() {
    let (bytes, expected) = fixture();
    let boundaries = frame_boundaries(&bytes);
    let at = boundaries[1];
    let mut b = bytes[..at].to_vec();
    let n = 200_000u64;
    for i in 0..n {
        let kind = [0x7E, 0xC8, 0xC9][i as usize % 3];
        let payload = i.to_le_bytes();
        b.extend_from_slice(&frame::frame_header(
            kind,
            payload.len() as u32,
            crc32fast::hash(&payload),
        ));
        b.extend_from_slice(&payload);
    }
    b.extend_from_slice(&bytes[at..]);
    assert!(b.len() > 4_000_000);
    let trace = Trace::from_bytes(b).unwrap();
    assert_eq!(
        trace.warnings(),
        [Warning::UnknownFrames {
            count: n,
            kinds: vec![0x7E, 0xC8, 0xC9],
            first_offset: at as u64,
        }]
    );
    let msg = trace.warnings()[0].to_string();
    assert!(msg.len() < 200, "{msg}");
    assert!(
        msg.contains("200000 frame(s)") && msg.contains("126, 200, 201"),
        "{msg}"
    );
    assert_eq!(read_all(&trace).unwrap(), expected);

    // Hundreds of distinct kinds still make a short message.
    let mut b = bytes[..at].to_vec();
    for kind in 5..=255u8 {
        b.extend_from_slice(&frame::frame_header(kind, 0, 0));
    }
    b.extend_from_slice(&bytes[at..]);
    let trace = Trace::from_bytes(b).unwrap();
    let msg = trace.warnings()[0].to_string();
    assert!(msg.len() < 200 && msg.contains("and 243 more"), "{msg}");
}

#[test]
fn open_reads_real_files() {
    let (bytes, expected) = fixture();
    let dir = tempfile::tempdir().unwrap();

    let path = dir.path().join("full.rtt");
    std::fs::write(&path, &bytes).unwrap();
    let trace = Trace::open(&path).unwrap();
    assert!(trace.warnings().is_empty());
    assert_eq!(trace.string(StringId(2)), Some("compaction"));
    assert_eq!(read_all(&trace).unwrap(), expected);

    let path = dir.path().join("cut.rtt");
    std::fs::write(&path, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let trace = Trace::open(&path).unwrap();
    assert!(matches!(trace.warnings(), [Warning::Truncated { .. }]));
    let got = read_all(&trace).unwrap();
    for (thread, list) in &got {
        assert_eq!(list[..], expected[thread][..list.len()]);
    }

    let path = dir.path().join("empty.rtt");
    std::fs::write(&path, b"").unwrap();
    assert!(matches!(
        Trace::open(&path),
        Err(ReadError::TruncatedHeader { len: 0 })
    ));

    let path = dir.path().join("flipped.rtt");
    let mut b = bytes.clone();
    b[bytes.len() / 2] ^= 0x10;
    std::fs::write(&path, &b).unwrap();
    let e = Trace::open(&path).unwrap_err();
    assert!(matches!(e, ReadError::Corrupt { .. }), "{e:?}");

    let missing = dir.path().join("missing.rtt");
    let e = Trace::open(&missing).unwrap_err();
    assert!(matches!(e, ReadError::Io { .. }), "{e:?}");
    assert!(e.to_string().contains("missing.rtt"), "{e}");
}

/// A crash can leave a file's tail allocated but never written (zeros): it reads as a cut.
#[test]
fn zero_filled_tail_reads_as_truncation() {
    let mut b = trace_format::build::TraceBuilder::new();
    b.chunk_capacity = 64;
    for i in 0..100u64 {
        b.push(
            1,
            i * 10,
            trace_format::Event::PollStart {
                task: trace_format::TaskId(i + 1),
            },
        );
    }
    let good = b.write(false);
    for zeros in [1usize, 15, 16, 17, 4096] {
        let mut bytes = good.clone();
        bytes.extend(std::iter::repeat_n(0u8, zeros));
        let trace = trace_format::Trace::from_bytes(bytes).unwrap();
        assert!(
            trace.warnings().iter().any(|w| matches!(
                w,
                trace_format::Warning::Truncated { discarded, .. } if *discarded == zeros as u64
            )),
            "{zeros} zeros: {:?}",
            trace.warnings()
        );
        assert_eq!(trace.validate().unwrap(), 100);
    }
}
