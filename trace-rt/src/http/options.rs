//! [`Options`]: where the HTTP trigger listens and what it may do.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::FlightRecorder;
use crate::session::Config;

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
    pub(super) addr: SocketAddr,
    pub(super) max_duration: Duration,
    pub(super) config: Config,
    pub(super) flight: Option<Arc<FlightRecorder>>,
    pub(super) header_read_timeout: Duration,
    pub(super) max_connections: usize,
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
    ///
    /// [`Server::local_addr`]: super::Server::local_addr
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
    /// One more closes the connection idle the longest (see the [module docs](super)).
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
