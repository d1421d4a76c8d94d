//! Like `read_trace`, but first repairs the preamble and every frame's length and checksums,
//! so that mutations reach what lies behind the checksums: event decoding, chunk headers and
//! postcard records (damage a buggy writer could produce). Must never panic either.

#![no_main]

use libfuzzer_sys::fuzz_target;
use trace_format::Trace;

mod reseal;

fuzz_target!(|data: &[u8]| {
    let b = reseal::resealed(data);
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
