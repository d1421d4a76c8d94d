//! Problem 1: a blocking call (`std::thread::sleep`) inside async code stalls a worker.
//!
//! ```text
//! cargo run --release --example blocking_in_async [-- --seconds 2 --out blocking_in_async.rtt --fixed --report]
//! ```
//!
//! The service and what its trace shows: `examples/src/problems/blocking.rs`; the walk from
//! symptom to cause with `trace-viewer`: `examples/README.md`.

fn main() -> std::process::ExitCode {
    trace_rt_examples::problems::main(&trace_rt_examples::problems::blocking::PROBLEM)
}
