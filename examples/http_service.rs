//! Problem 6: an HTTP service (axum on hyper) whose connection tasks all share one spawn
//! location inside axum, with one handler that burns CPU inside its poll.
//!
//! ```text
//! cargo run --release --example http_service [-- --seconds 2 --out http_service.rtt --fixed --report]
//! ```
//!
//! The service and what its trace shows: `examples/src/problems/http.rs`; the walk from
//! symptom to cause with `trace-viewer`: `examples/README.md`.

fn main() -> std::process::ExitCode {
    trace_rt_examples::problems::main(&trace_rt_examples::problems::http::PROBLEM)
}
