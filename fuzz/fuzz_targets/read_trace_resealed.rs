//! Like `read_trace`, but first repairs the preamble and every frame's length and checksums,
//! so that mutations reach what lies behind the checksums: event decoding, chunk headers and
//! postcard records (damage a buggy writer could produce). Must never panic either.

#![no_main]

use libfuzzer_sys::fuzz_target;
use trace_format::Trace;
use trace_format::frame::{self, FRAME_HEADER_LEN, PREAMBLE_LEN};

fuzz_target!(|data: &[u8]| {
    let mut b = data.to_vec();
    if b.len() >= PREAMBLE_LEN {
        b[..PREAMBLE_LEN].copy_from_slice(&frame::preamble());
    }
    let mut pos = PREAMBLE_LEN;
    while pos + FRAME_HEADER_LEN <= b.len() {
        let room = (b.len() - pos - FRAME_HEADER_LEN) as u32;
        let len = u32::from_le_bytes(b[pos + 4..pos + 8].try_into().unwrap()).min(room);
        let body = pos + FRAME_HEADER_LEN;
        let crc = crc32fast::hash(&b[body..body + len as usize]);
        let mut h = frame::frame_header(b[pos], len, crc);
        h[1..4].copy_from_slice(&b[pos + 1..pos + 4]);
        let hc = crc32fast::hash(&h[..12]);
        h[12..].copy_from_slice(&hc.to_le_bytes());
        b[pos..body].copy_from_slice(&h);
        pos = body + len as usize;
    }
    let Ok(trace) = Trace::from_bytes(b) else {
        return;
    };
    let validated = trace.validate();
    let merged: Result<Vec<_>, _> = trace.events().collect();
    let ids: Vec<_> = trace.thread_ids().collect();
    let mut per_thread = 0usize;
    for thread in ids {
        for r in trace.thread_events(thread) {
            if r.is_ok() {
                per_thread += 1;
            }
        }
    }
    if let Ok(n) = validated {
        let merged = merged.expect("validate() passed but merged iteration failed");
        assert_eq!(n as usize, merged.len());
        assert_eq!(n as usize, per_thread);
    }
});
