//! The HTTP trigger (cargo feature `http`): Go's `/debug/pprof/trace?seconds=N`, for
//! trace-rt. [`serve`] starts a small HTTP/1 server on a thread of its own (with its own
//! single-threaded tokio runtime, which is not instrumented) that serves:
//!
//! | request | answer |
//! |---|---|
//! | `GET /debug/trace?seconds=N` | records for `N` seconds (default 1, decimals allowed, at most [`Options::max_duration`]) and streams the trace file as it is written |
//! | `GET /debug/trace/flight` | a snapshot of the [`FlightRecorder`](crate::FlightRecorder) given to [`Options::flight_recorder`] |
//! | `GET /debug/trace/` | a short text index of the above |
//!
//! One recording runs at a time in a process: a request while another recording runs
//! (started over HTTP or in code) gets `409 Conflict` with the reason. Nothing in a request
//! names a file: the trace goes back in the response. The server binds `127.0.0.1:6060`
//! unless told otherwise; traces show what a service does, so keep it off public interfaces.
//!
//! ```no_run
//! let server = trace_rt::http::serve(trace_rt::http::Options::default())?;
//! println!("curl -o x.rtt 'http://{}/debug/trace?seconds=5'", server.local_addr());
//! # Ok::<(), trace_rt::Error>(())
//! ```
//!
//! The recording streams: the response starts at once and the writer thread hands the
//! client each chunk as it is written, so memory stays at the recorder's buffer however long
//! the recording. A client that stops reading for [`CLIENT_STALL_LIMIT`] ends the recording
//! (the recorder counts what it then drops); a client that disconnects ends it at once.
//!
//! A flight-recorder snapshot streams too, from the ring itself (no copy of it is made); one
//! is sent at a time, and a request while one is being sent gets `409 Conflict`.
//!
//! The server's sockets are the application's own file descriptors, so it holds few:
//! - a connection that does not send a complete request head within
//!   [`Options::header_read_timeout`] (default 5 s), whether just opened or idle between
//!   requests, is closed;
//! - at most [`Options::max_connections`] (default 16) are open at once. A connection
//!   arriving at the limit closes the one that has been idle (serving no request) the
//!   longest, so idle connections cannot keep a real request out; when every one is serving
//!   a request, the new one is closed at once.
//!
//! Query values are percent-decoded (`seconds=%31` is `seconds=1`; `+` is a space), as
//! browsers and `curl --data-urlencode` encode them.
//!
//! The server's parts: `options` (what [`serve`] is given), `server` (the thread, accepting
//! and limiting connections), `routes` (what each request gets) and `body` (a trace streamed
//! from the recorder's writer thread to the client).

mod body;
mod options;
mod routes;
mod server;

pub use body::CLIENT_STALL_LIMIT;
pub use options::{DEFAULT_HEADER_READ_TIMEOUT, DEFAULT_MAX_CONNECTIONS, Options};
pub use server::{Server, serve};
