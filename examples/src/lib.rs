//! The services behind the trace-rt examples, as a library so that the example binaries stay
//! thin and the tests can run the same code briefly in-process.
//!
//! [`problems`] holds six small tokio services that each reproduce one classic problem
//! (blocking in async code, stop-the-world pauses, lock contention, a task leak, allocation
//! pressure, an HTTP service with one bad handler); each records itself and names its
//! culprit — spawn location and function — with `trace_analysis::analysis`.
//! `examples/README.md` walks from each symptom to its root cause with `trace-viewer`.

pub mod problems;
