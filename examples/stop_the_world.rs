//! Problem 2: periodic stop-the-world pauses (`trace_rt::pause("gc")`) cause p99 spikes.
//!
//! ```text
//! cargo run --release --example stop_the_world [-- --seconds 2 --out stop_the_world.rtt --fixed --report]
//! ```
//!
//! The service and what its trace shows: `examples/src/problems/pauses.rs`; the walk from
//! symptom to cause with `trace-viewer`: `examples/README.md`.

fn main() -> std::process::ExitCode {
    trace_rt_examples::problems::main(&trace_rt_examples::problems::pauses::PROBLEM)
}
