//! Problem 3: lock contention on a `std::sync::Mutex`-guarded map under load.
//!
//! ```text
//! cargo run --release --example lock_contention [-- --seconds 2 --out lock_contention.rtt --fixed --report]
//! ```
//!
//! The service and what its trace shows: `examples/src/problems/contention.rs`; the walk from
//! symptom to cause with `trace-viewer`: `examples/README.md`.

fn main() -> std::process::ExitCode {
    trace_rt_examples::problems::main(&trace_rt_examples::problems::contention::PROBLEM)
}
