//! The HTTP trigger (cargo feature `http`): Go's `/debug/pprof/trace?seconds=N`, for
//! trace-rt. [`serve`] starts a small HTTP/1 server on a thread of its own (with its own
//! single-threaded tokio runtime, which is not instrumented) that serves:
//!
//! | request | answer |
//! |---|---|
//! | `GET /debug/trace?seconds=N` | records for `N` seconds (default 1, decimals allowed, at most [`Options::max_duration`]) and streams the trace file as it is written |
//! | `GET /debug/trace/flight` | a snapshot of the [`FlightRecorder`] given to [`Options::flight_recorder`] |
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

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::{Body, Frame};
use hyper::header::{ALLOW, CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use tokio::sync::{Semaphore, mpsc, oneshot};
use tokio::task::AbortHandle;

use crate::session::{Config, Error};
use crate::{FlightRecorder, Session, WriterSink};

/// How long the recorder's writer waits for a client that does not read before it gives up
/// on the response (and the recording ends).
pub const CLIENT_STALL_LIMIT: Duration = Duration::from_secs(30);

/// The default [`Options::header_read_timeout`].
///
/// ```
/// assert_eq!(trace_rt::http::DEFAULT_HEADER_READ_TIMEOUT, std::time::Duration::from_secs(5));
/// ```
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);

/// The default [`Options::max_connections`].
///
/// ```
/// assert_eq!(trace_rt::http::DEFAULT_MAX_CONNECTIONS, 16);
/// ```
pub const DEFAULT_MAX_CONNECTIONS: usize = 16;

/// Where the server listens and what it may do.
///
/// ```
/// use std::time::Duration;
/// let options = trace_rt::http::Options::default()
///     .addr("127.0.0.1:0".parse().unwrap())       // any free port
///     .max_duration(Duration::from_secs(30));
/// # let _ = options;
/// ```
#[derive(Clone)]
pub struct Options {
    addr: SocketAddr,
    max_duration: Duration,
    config: Config,
    flight: Option<Arc<FlightRecorder>>,
    header_read_timeout: Duration,
    max_connections: usize,
}

impl Default for Options {
    /// `127.0.0.1:6060`, recordings of at most 60 s, the recorder's default [`Config`], no
    /// flight recorder, [`DEFAULT_HEADER_READ_TIMEOUT`], [`DEFAULT_MAX_CONNECTIONS`].
    fn default() -> Self {
        Options {
            addr: SocketAddr::from(([127, 0, 0, 1], 6060)),
            max_duration: Duration::from_secs(60),
            config: Config::default(),
            flight: None,
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
        }
    }
}

impl std::fmt::Debug for Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("addr", &self.addr)
            .field("max_duration", &self.max_duration)
            .field("flight", &self.flight.is_some())
            .field("header_read_timeout", &self.header_read_timeout)
            .field("max_connections", &self.max_connections)
            .finish_non_exhaustive()
    }
}

impl Options {
    /// The address to listen on (port 0: any free port; see [`Server::local_addr`]).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// The longest recording a request may ask for; longer ones get `400 Bad Request`.
    pub fn max_duration(mut self, max: Duration) -> Self {
        self.max_duration = max;
        self
    }

    /// The recorder configuration of recordings started over HTTP.
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Serves snapshots of `flight` at `/debug/trace/flight`. While it runs, the flight
    /// recorder is the process's one recording, so `/debug/trace` answers `409`.
    pub fn flight_recorder(mut self, flight: Arc<FlightRecorder>) -> Self {
        self.flight = Some(flight);
        self
    }

    /// How long a connection may take to send a complete request head, counted from when
    /// it opens or from the end of its previous response; then it is closed (default
    /// [`DEFAULT_HEADER_READ_TIMEOUT`]; at least 1 ms).
    ///
    /// ```
    /// let options = trace_rt::http::Options::default()
    ///     .header_read_timeout(std::time::Duration::from_secs(2));
    /// # let _ = options;
    /// ```
    pub fn header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// The most connections open at once (default [`DEFAULT_MAX_CONNECTIONS`]; at least 1).
    /// One more closes the connection idle the longest (see the [module docs](self)).
    ///
    /// ```
    /// let options = trace_rt::http::Options::default().max_connections(4);
    /// # let _ = options;
    /// ```
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = max.max(1);
        self
    }
}

/// A running HTTP trigger. Dropping it (or [`Server::shutdown`]) stops the server and ends
/// a recording it is serving.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the server and waits for its thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Binds `options`' address and serves the trigger on a new thread named `trace-rt-http`.
///
/// Fails at once when the address cannot be bound (in use, not local).
pub fn serve(options: Options) -> Result<Server, Error> {
    let url = format!("http://{}", options.addr);
    let addr_err = |source| Error::Io {
        path: url.clone().into(),
        source,
    };
    let listener = TcpListener::bind(options.addr).map_err(addr_err)?;
    listener.set_nonblocking(true).map_err(addr_err)?;
    let addr = listener.local_addr().map_err(addr_err)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .enable_time()
        .build()
        .map_err(addr_err)?;
    let (shutdown, stop) = oneshot::channel();
    let state = Arc::new(State {
        options,
        dumping: Arc::new(Semaphore::new(1)),
    });
    let thread = std::thread::Builder::new()
        .name("trace-rt-http".into())
        .spawn(move || rt.block_on(accept_loop(listener, state, stop)))
        .map_err(addr_err)?;
    Ok(Server {
        addr,
        shutdown: Some(shutdown),
        thread: Some(thread),
    })
}

struct State {
    options: Options,
    /// One flight-recorder snapshot is sent at a time.
    dumping: Arc<Semaphore>,
}

/// The open connections, so that one arriving at the limit can close an idle one.
#[derive(Default)]
struct Connections {
    next_id: u64,
    open: BTreeMap<u64, Connection>,
}

struct Connection {
    activity: Arc<Activity>,
    task: AbortHandle,
}

/// What a connection is doing, updated by its requests.
struct Activity {
    /// Requests being served (from the request head until the response body is dropped).
    in_flight: AtomicUsize,
    /// When it last became idle (accepted, or its last response ended), in nanoseconds
    /// since `epoch`.
    idle_since: AtomicU64,
    epoch: Instant,
}

impl Activity {
    fn new(epoch: Instant) -> Self {
        let a = Activity {
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            epoch,
        };
        a.touch();
        a
    }

    fn touch(&self) {
        let nanos = self.epoch.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
        self.idle_since.store(nanos, Ordering::Release);
    }
}

impl Connections {
    /// Makes room for one more connection under `max`: closes the connection that has
    /// been idle (serving no request) the longest. False when every open connection is
    /// serving a request.
    fn make_room(&mut self, max: usize) -> bool {
        while self.open.len() >= max {
            let idle = self
                .open
                .iter()
                .filter(|(_, c)| c.activity.in_flight.load(Ordering::Acquire) == 0)
                .min_by_key(|(_, c)| c.activity.idle_since.load(Ordering::Acquire))
                .map(|(&id, _)| id);
            let Some(id) = idle else {
                return false;
            };
            if let Some(c) = self.open.remove(&id) {
                // Dropping the connection's future closes its socket.
                c.task.abort();
            }
        }
        true
    }
}

/// Removes a connection from [`Connections`] when its task ends (or is aborted).
struct Registered {
    connections: Arc<Mutex<Connections>>,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        lock(&self.connections).open.remove(&self.id);
    }
}

fn lock(connections: &Mutex<Connections>) -> std::sync::MutexGuard<'_, Connections> {
    connections.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counts a request as in flight until the response body it travels with is dropped (sent
/// or abandoned).
struct InFlight(Arc<Activity>);

impl InFlight {
    fn new(activity: &Arc<Activity>) -> Self {
        activity.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(activity.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, mut stop: oneshot::Receiver<()>) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("trace-rt http: cannot listen: {e}");
            return;
        }
    };
    let connections = Arc::new(Mutex::new(Connections::default()));
    let epoch = Instant::now();
    loop {
        let stream = tokio::select! {
            _ = &mut stop => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let mut open = lock(&connections);
        if !open.make_room(state.options.max_connections) {
            // Every connection is serving a request: this one is closed unanswered.
            continue;
        }
        let id = open.next_id;
        open.next_id += 1;
        let activity = Arc::new(Activity::new(epoch));
        let registered = Registered {
            connections: connections.clone(),
            id,
        };
        let task = tokio::spawn(serve_connection(
            stream,
            state.clone(),
            activity.clone(),
            registered,
        ));
        // Registered before the task can run (this runtime has one thread, held here).
        open.open.insert(
            id,
            Connection {
                activity,
                task: task.abort_handle(),
            },
        );
    }
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    state: Arc<State>,
    activity: Arc<Activity>,
    _registered: Registered,
) {
    let header_read_timeout = state.options.header_read_timeout;
    let service = hyper::service::service_fn(move |req| {
        let state = state.clone();
        let guard = InFlight::new(&activity);
        async move {
            let response = route(&state, &req).await;
            Ok::<_, Infallible>(response.map(|body| Tracked {
                body,
                _in_flight: guard,
            }))
        }
    });
    // A client that hangs up mid-response, or never sends its request, is not an error
    // worth reporting.
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(header_read_timeout)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .await;
}

type ResponseBody = Either<Full<Bytes>, TraceBody>;

/// A response body that keeps its request counted as in flight until it is dropped.
struct Tracked {
    body: ResponseBody,
    _in_flight: InFlight,
}

impl Body for Tracked {
    type Data = Bytes;
    type Error = <ResponseBody as Body>::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

fn text(status: StatusCode, message: impl Into<String>) -> Response<ResponseBody> {
    let mut body = message.into();
    body.push('\n');
    let mut r = Response::new(Either::Left(Full::new(Bytes::from(body))));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn trace_response(body: ResponseBody, filename: &'static str) -> Response<ResponseBody> {
    let mut r = Response::new(body);
    let headers = r.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(CONTENT_DISPOSITION, HeaderValue::from_static(filename));
    r
}

async fn route<B>(state: &State, req: &Request<B>) -> Response<ResponseBody> {
    let path = req.uri().path();
    let known = matches!(
        path,
        "/debug/trace" | "/debug/trace/flight" | "/debug/trace/" | "/"
    );
    if !known {
        return text(
            StatusCode::NOT_FOUND,
            format!("no such page: {path}; see /debug/trace/"),
        );
    }
    if req.method() != Method::GET {
        let mut r = text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{path} answers GET only"),
        );
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        return r;
    }
    match path {
        "/debug/trace" => match parse_seconds(req.uri().query(), state.options.max_duration) {
            Ok(duration) => record(state, duration),
            Err(message) => text(StatusCode::BAD_REQUEST, message),
        },
        "/debug/trace/flight" => flight_snapshot(state).await,
        _ => text(StatusCode::OK, index(state)),
    }
}

fn index(state: &State) -> String {
    let max = state.options.max_duration.as_secs_f64();
    let flight = if state.options.flight.is_some() {
        "a snapshot of the flight recorder's recent past"
    } else {
        "(not enabled: the server has no flight recorder)"
    };
    format!(
        "trace-rt HTTP trigger\n\n\
         GET /debug/trace?seconds=N   record N seconds (default 1, at most {max}) and download the trace\n\
         GET /debug/trace/flight      {flight}\n\n\
         Example: curl -o x.rtt 'http://HOST/debug/trace?seconds=5' && trace-viewer report x.rtt"
    )
}

/// The recording length a query asks for: `seconds=N`, N > 0 and at most `max`. Names and
/// values are percent-decoded first.
fn parse_seconds(query: Option<&str>, max: Duration) -> Result<Duration, String> {
    let mut seconds = None;
    for (name, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        if name != "seconds" {
            return Err(format!(
                "unknown query parameter {name:?}: /debug/trace takes seconds=N only"
            ));
        }
        seconds = Some(value);
    }
    let Some(value) = seconds else {
        return Ok(Duration::from_secs(1).min(max));
    };
    let bad = || {
        format!(
            "seconds must be a number of seconds above 0 and at most {} (got {value:?})",
            max.as_secs_f64()
        )
    };
    let n: f64 = value.parse().map_err(|_| bad())?;
    if !n.is_finite() || n <= 0.0 {
        return Err(bad());
    }
    let d = Duration::try_from_secs_f64(n).map_err(|_| bad())?;
    if d > max {
        return Err(format!(
            "seconds={value} is longer than this server's maximum of {} s",
            max.as_secs_f64()
        ));
    }
    Ok(d)
}

fn already_recording() -> Response<ResponseBody> {
    text(
        StatusCode::CONFLICT,
        "another trace-rt recording is running in this process (one at a time); \
         try again when it ends",
    )
}

/// Starts a recording into a channel that feeds the response body, and a task that ends it
/// after `duration` or when the client goes away.
fn record(state: &State, duration: Duration) -> Response<ResponseBody> {
    let (tx, rx) = mpsc::channel(CHANNEL_PIECES);
    let sink = WriterSink::with_capacity(PIECE_BYTES, ChannelWriter { tx: tx.clone() });
    let config = state.options.config.clone().feature("trigger", "http");
    let session = match config.start_with_sink(sink) {
        Ok(s) => s,
        Err(Error::AlreadyRecording) => return already_recording(),
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    tokio::spawn(end_recording(session, duration, tx));
    trace_response(
        Either::Right(TraceBody { rx }),
        "attachment; filename=\"trace.rtt\"",
    )
}

async fn end_recording(session: Session, duration: Duration, tx: mpsc::Sender<Bytes>) {
    tokio::select! {
        _ = tokio::time::sleep(duration) => {}
        _ = tx.closed() => {}
    }
    drop(tx);
    // `stop` joins the writer thread, which may wait on the client: not on this runtime.
    let stopped = tokio::task::spawn_blocking(move || session.stop()).await;
    if let Ok(Err(e)) = stopped {
        eprintln!("trace-rt http: the recording ended early: {e}");
    }
}

async fn flight_snapshot(state: &State) -> Response<ResponseBody> {
    let Some(flight) = state.options.flight.clone() else {
        return text(
            StatusCode::NOT_FOUND,
            "this server has no flight recorder (trace_rt::http::Options::flight_recorder)",
        );
    };
    // Each snapshot being sent holds its part of the channel to its client and keeps chunks
    // the ring evicts meanwhile alive: one at a time keeps that to one.
    let Ok(permit) = state.dumping.clone().try_acquire_owned() else {
        return text(
            StatusCode::CONFLICT,
            "another flight-recorder snapshot is being sent (one at a time); \
             try again when it ends",
        );
    };
    // Off this runtime's only thread: the hand-over stops and restarts a recording session.
    let snapshot = match tokio::task::spawn_blocking(move || flight.take_snapshot()).await {
        Ok(Ok(snapshot)) => snapshot,
        Ok(Err(e)) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => return text(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    };
    // Streamed from the ring's own chunks, like a recording: no copy of the ring is made.
    let (tx, rx) = mpsc::channel(CHANNEL_PIECES);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let out = io::BufWriter::with_capacity(PIECE_BYTES, ChannelWriter { tx });
        if let Err(e) = snapshot.write(out)
            && e.kind() != io::ErrorKind::BrokenPipe
        {
            eprintln!("trace-rt http: the flight-recorder snapshot ended early: {e}");
        }
    });
    trace_response(
        Either::Right(TraceBody { rx }),
        "attachment; filename=\"flight.rtt\"",
    )
}

/// Pieces of about [`PIECE_BYTES`] in flight between the writer thread and the client.
const CHANNEL_PIECES: usize = 16;
const PIECE_BYTES: usize = 256 << 10;

/// Hands written bytes to the response body. Runs on the recorder's writer thread, which
/// may wait (never a recording thread): a full channel means the client reads slowly.
struct ChannelWriter {
    tx: mpsc::Sender<Bytes>,
}

impl io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut piece = Bytes::copy_from_slice(buf);
        let started = Instant::now();
        loop {
            match self.tx.try_send(piece) {
                Ok(()) => break,
                Err(mpsc::error::TrySendError::Closed(_)) => {
                    return Err(io::Error::new(
                        io::ErrorKind::BrokenPipe,
                        "the HTTP client went away",
                    ));
                }
                Err(mpsc::error::TrySendError::Full(back)) => {
                    if started.elapsed() > CLIENT_STALL_LIMIT {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "the HTTP client stopped reading",
                        ));
                    }
                    piece = back;
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The response body of a recording: the pieces the writer thread sends, until it drops
/// the sender.
struct TraceBody {
    rx: mpsc::Receiver<Bytes>,
}

impl Body for TraceBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.rx.poll_recv(cx).map(|p| p.map(|b| Ok(Frame::data(b))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_parsed_and_bounded() {
        let max = Duration::from_secs(60);
        assert_eq!(parse_seconds(None, max), Ok(Duration::from_secs(1)));
        assert_eq!(
            parse_seconds(Some("seconds=2.5"), max),
            Ok(Duration::from_millis(2500))
        );
        assert_eq!(
            parse_seconds(Some("seconds=60"), max),
            Ok(Duration::from_secs(60))
        );
        for bad in [
            "seconds=0",
            "seconds=-1",
            "seconds=abc",
            "seconds=NaN",
            "seconds=inf",
            "seconds=",
        ] {
            let err = parse_seconds(Some(bad), max).unwrap_err();
            assert!(err.contains("above 0"), "{bad}: {err}");
        }
        let err = parse_seconds(Some("seconds=61"), max).unwrap_err();
        assert!(err.contains("maximum of 60 s"), "{err}");
        let err = parse_seconds(Some("path=/etc/passwd"), max).unwrap_err();
        assert!(err.contains("unknown query parameter"), "{err}");
        assert_eq!(
            parse_seconds(None, Duration::from_millis(10)),
            Ok(Duration::from_millis(10))
        );
    }

    #[test]
    fn query_values_are_percent_decoded() {
        let max = Duration::from_secs(60);
        for (query, want) in [
            ("seconds=%31", Duration::from_secs(1)),
            ("seconds=%32%2E5", Duration::from_millis(2500)),
            ("%73econds=3", Duration::from_secs(3)),
        ] {
            assert_eq!(parse_seconds(Some(query), max), Ok(want), "{query}");
        }
        // `+` is a space, which is not part of a number.
        let err = parse_seconds(Some("seconds=+4"), max).unwrap_err();
        assert!(err.contains("(got \" 4\")"), "{err}");
        // A malformed escape stays as it is, and is then not a number.
        let err = parse_seconds(Some("seconds=1%"), max).unwrap_err();
        assert!(err.contains("\"1%\""), "{err}");
        let err = parse_seconds(Some("seconds=%ZZ"), max).unwrap_err();
        assert!(err.contains("above 0"), "{err}");
        // The decoded name is what is checked, and shown.
        let err = parse_seconds(Some("fil%65=/etc/passwd"), max).unwrap_err();
        assert!(err.contains("unknown query parameter \"file\""), "{err}");
    }
}
