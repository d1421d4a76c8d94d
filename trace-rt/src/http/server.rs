//! The server: its thread and runtime, accepting connections and keeping their number
//! under [`Options::max_connections`](super::Options::max_connections) by closing the one
//! idle the longest, and counting each connection's requests in flight until their
//! response bodies are dropped.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hyper::body::{Body, Frame};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::AbortHandle;

use super::body::ResponseBody;
use super::options::Options;
use super::routes::{State, route};
use crate::session::Error;

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
