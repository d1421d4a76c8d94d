//! Problem 4: a task leak — tasks stuck forever waiting on a channel nobody sends to.
//!
//! ```text
//! cargo run --release --example task_leak [-- --seconds 2 --out task_leak.rtt --fixed --report]
//! ```
//!
//! The service and what its trace shows: `examples/src/problems/leak.rs`; the walk from
//! symptom to cause with `trace-viewer`: `examples/README.md`.

fn main() -> std::process::ExitCode {
    trace_rt_examples::problems::main(&trace_rt_examples::problems::leak::PROBLEM)
}
