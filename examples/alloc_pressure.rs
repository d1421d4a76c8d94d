//! Problem 5: allocation pressure from building responses by repeated string concatenation.
//!
//! ```text
//! cargo run --release --example alloc_pressure [-- --seconds 2 --out alloc_pressure.rtt --fixed --report]
//! ```
//!
//! The service and what its trace shows: `examples/src/problems/alloc.rs`; the walk from
//! symptom to cause with `trace-viewer`: `examples/README.md`.

// The allocator wrapper: without it the trace has no allocation data to blame anyone with.
#[global_allocator]
static ALLOC: trace_rt::TracingAllocator<std::alloc::System> =
    trace_rt::TracingAllocator::new(std::alloc::System);

fn main() -> std::process::ExitCode {
    trace_rt_examples::problems::main(&trace_rt_examples::problems::alloc::PROBLEM)
}
