//! Fuzzes the trace reader: any bytes may be given to `Trace::from_bytes`; when they open,
//! validation and every way of iterating events must finish without panicking.

#![no_main]

use libfuzzer_sys::fuzz_target;
use trace_format::Trace;

fuzz_target!(|data: &[u8]| {
    let Ok(trace) = Trace::from_bytes(data.to_vec()) else {
        return;
    };
    for w in trace.warnings() {
        let _ = w.to_string();
    }
    let validated = trace.validate();
    let mut merged_ok = true;
    let mut merged = 0u64;
    for r in trace.events() {
        match r {
            Ok(r) => {
                let _ = trace.to_nanos(r.time);
                let _ = r.event.kind_name();
                merged += 1;
            }
            Err(e) => {
                let _ = e.to_string();
                merged_ok = false;
            }
        }
    }
    let mut per_thread = 0u64;
    let mut threads_ok = true;
    let ids: Vec<_> = trace.thread_ids().collect();
    for thread in ids {
        for r in trace.thread_events(thread) {
            match r {
                Ok(_) => per_thread += 1,
                Err(_) => threads_ok = false,
            }
        }
    }
    for c in trace.chunks() {
        for r in trace.chunk_events(c) {
            if r.is_err() {
                break;
            }
        }
    }
    // The three views agree: a valid trace iterates without error and yields the same count.
    if let Ok(n) = validated {
        assert!(
            merged_ok && threads_ok,
            "validate() passed but iteration failed"
        );
        assert_eq!(n, merged);
        assert_eq!(n, per_thread);
    } else {
        assert!(!merged_ok || !threads_ok || merged == per_thread);
    }
});
