//! The workloads: each one runs the same way under every tracer, driven from one root task.

use std::hint::black_box;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

/// One of the measured workloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// Tasks that do nothing but `yield_now`: the tracer's cost per poll, nearly alone.
    Yield,
    /// Pairs of tasks exchanging a number over two mpsc channels: polls with wakes.
    PingPong,
    /// Many short tasks, spawned from one task in batches: spawn and terminate events.
    Spawn,
    /// A loopback TCP echo service and its clients, in the same runtime.
    Tcp,
}

impl Workload {
    /// Every workload, in the order they run and are reported.
    pub const ALL: [Workload; 4] = [
        Workload::Yield,
        Workload::PingPong,
        Workload::Spawn,
        Workload::Tcp,
    ];

    /// The short name used on the command line and between the parent and its children.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Yield => "yield",
            Workload::PingPong => "pingpong",
            Workload::Spawn => "spawn",
            Workload::Tcp => "tcp",
        }
    }

    /// The workload named `name`, if any.
    pub fn parse(name: &str) -> Option<Workload> {
        Workload::ALL.into_iter().find(|w| w.name() == name)
    }

    /// What one unit of the workload is (figures are per unit).
    pub fn unit(self) -> &'static str {
        match self {
            Workload::Yield | Workload::PingPong => "poll",
            Workload::Spawn => "task",
            Workload::Tcp => "request",
        }
    }

    /// The units a run does unless it stops early (only spawn-heavy can).
    pub fn planned_units(self, s: &Sizes) -> u64 {
        match self {
            Workload::Yield => s.yield_tasks * (s.yields + 1),
            Workload::PingPong => 2 * s.pairs * s.rounds,
            Workload::Spawn => s.tasks,
            Workload::Tcp => s.conns * s.requests,
        }
    }

    /// What the workload is, with its sizes, for the report.
    pub fn describe(self, s: &Sizes) -> String {
        match self {
            Workload::Yield => format!(
                "yield loop: {} tasks × {} `yield_now` = {} polls",
                s.yield_tasks,
                s.yields,
                s.yield_tasks * (s.yields + 1)
            ),
            Workload::PingPong => format!(
                "channel ping-pong: {} pairs × {} round trips over tokio mpsc = {} polls",
                s.pairs,
                s.rounds,
                2 * s.pairs * s.rounds
            ),
            Workload::Spawn => format!(
                "spawn-heavy: {} tasks that return at once, spawned from one task in batches of {SPAWN_BATCH} and joined \
                 (spawning stops after {} s)",
                s.tasks,
                s.spawn_limit.as_secs_f64()
            ),
            Workload::Tcp => format!(
                "loopback TCP echo: {} connections × {} requests of {PAYLOAD} B, each answered with {PAYLOAD} B; \
                 server and clients in the same runtime",
                s.conns, s.requests
            ),
        }
    }
}

/// How big each workload is.
#[derive(Clone, Copy, Debug)]
pub struct Sizes {
    /// Yield loop: tasks, and yields per task.
    pub yield_tasks: u64,
    /// Yields per task.
    pub yields: u64,
    /// Ping-pong: pairs of tasks, and round trips per pair.
    pub pairs: u64,
    /// Round trips per pair.
    pub rounds: u64,
    /// Spawn-heavy: tasks in all.
    pub tasks: u64,
    /// Spawn-heavy: stop spawning (between batches) once the run has taken this long, so
    /// that the slowest peers (tens of µs per task) do not take minutes per run; their
    /// cost per task is then measured over fewer tasks, and the report says so.
    pub spawn_limit: Duration,
    /// TCP: client connections, and requests per connection.
    pub conns: u64,
    /// Requests per connection.
    pub requests: u64,
}

impl Sizes {
    /// The sizes of a full run: each workload takes some 20–100 ms untraced on the 2-core
    /// VM, long enough to swamp start-up effects, short enough that the slowest peers
    /// (whose costs are 10–100× higher) finish in seconds.
    pub fn full() -> Sizes {
        Sizes {
            yield_tasks: 64,
            yields: 10_000,
            pairs: 20,
            rounds: 10_000,
            tasks: 1_000_000,
            spawn_limit: Duration::from_secs(5),
            conns: 8,
            requests: 4_000,
        }
    }

    /// Tiny sizes for a smoke run (`--quick`): every code path, figures meaningless.
    pub fn quick() -> Sizes {
        Sizes {
            yield_tasks: 8,
            yields: 100,
            pairs: 4,
            rounds: 100,
            tasks: 5_000,
            spawn_limit: Duration::from_secs(5),
            conns: 2,
            requests: 100,
        }
    }

    /// A tenth of these sizes (at least one of everything): the warm-up run before the
    /// measured one, so that threads, allocator pools and the tracer are warm.
    pub fn warm_up(self) -> Sizes {
        let t = |n: u64| (n / 10).max(1);
        Sizes {
            yield_tasks: self.yield_tasks,
            yields: t(self.yields),
            pairs: self.pairs,
            rounds: t(self.rounds),
            tasks: t(self.tasks),
            spawn_limit: self.spawn_limit / 5,
            conns: self.conns,
            requests: t(self.requests),
        }
    }
}

/// Tasks the spawn-heavy workload spawns before it joins them.
pub const SPAWN_BATCH: u64 = 1_024;
/// Bytes of a TCP request and of its response.
pub const PAYLOAD: usize = 64;

/// What one run of a workload measured.
#[derive(Debug, Default)]
pub struct Measured {
    /// Wall-clock time of the measured part (set-up such as binding and connecting excluded).
    pub wall: Duration,
    /// Units of work done (polls, tasks or requests: see [`Workload::unit`]).
    pub units: u64,
    /// Task polls the workload makes, counted from its structure (0 where unknown): tokio's
    /// `worker_poll_count` misses polls taken from the "run next" slot.
    pub polls: u64,
    /// Per-request latencies in nanoseconds (TCP only).
    pub latencies_ns: Vec<u64>,
}

/// How the workload spawns its tasks: tokio's own `spawn`, or dial9's, which wraps each
/// future to record its wakes (dial9 sees wakes only of tasks it spawned itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spawner {
    /// `tokio::spawn`.
    Tokio,
    /// `dial9::spawn` (and `dial9::spawn_in` for the root task).
    #[cfg(feature = "peers")]
    Dial9,
}

impl Spawner {
    fn spawn<F>(self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Spawner::Tokio => tokio::spawn(future),
            #[cfg(feature = "peers")]
            Spawner::Dial9 => dial9::spawn(future),
        }
    }

    fn spawn_root<F>(self, rt: &Runtime, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self {
            Spawner::Tokio => rt.spawn(future),
            #[cfg(feature = "peers")]
            Spawner::Dial9 => dial9::spawn_in(rt.handle(), future),
        }
    }
}

/// Runs `work` once on `rt`. The driver is a spawned task (not `block_on`'s future, which
/// no tracer sees as a task), so that every tracer sees the same tasks and the spawn-heavy
/// workload spawns from a worker thread, as a service does.
pub fn run(rt: &Runtime, spawner: Spawner, work: Workload, sizes: Sizes) -> Measured {
    let root = spawner.spawn_root(rt, async move {
        match work {
            Workload::Yield => yield_loop(spawner, sizes.yield_tasks, sizes.yields).await,
            Workload::PingPong => ping_pong(spawner, sizes.pairs, sizes.rounds).await,
            Workload::Spawn => spawn_heavy(spawner, sizes.tasks, sizes.spawn_limit).await,
            Workload::Tcp => tcp_echo(spawner, sizes.conns, sizes.requests).await,
        }
    });
    rt.block_on(root).expect("workload driver task")
}

async fn yield_loop(sp: Spawner, tasks: u64, yields: u64) -> Measured {
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            sp.spawn(async move {
                for _ in 0..yields {
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("yield task");
    }
    let polls = tasks * (yields + 1);
    Measured {
        wall: start.elapsed(),
        units: polls,
        polls,
        latencies_ns: Vec::new(),
    }
}

async fn ping_pong(sp: Spawner, pairs: u64, rounds: u64) -> Measured {
    let start = Instant::now();
    let mut handles = Vec::with_capacity(2 * pairs as usize);
    for _ in 0..pairs {
        let (to_b, mut from_a) = tokio::sync::mpsc::unbounded_channel::<u64>();
        let (to_a, mut from_b) = tokio::sync::mpsc::unbounded_channel::<u64>();
        handles.push(sp.spawn(async move {
            for i in 0..rounds {
                to_b.send(i).expect("send");
                from_b.recv().await.expect("recv");
            }
        }));
        handles.push(sp.spawn(async move {
            while let Some(i) = from_a.recv().await {
                to_a.send(i).expect("send");
            }
        }));
    }
    for h in handles {
        h.await.expect("ping-pong task");
    }
    // One poll of each side per round trip (the first and last polls are not counted).
    let polls = 2 * pairs * rounds;
    Measured {
        wall: start.elapsed(),
        units: polls,
        polls,
        latencies_ns: Vec::new(),
    }
}

async fn spawn_heavy(sp: Spawner, tasks: u64, limit: Duration) -> Measured {
    let start = Instant::now();
    let mut handles = Vec::with_capacity(SPAWN_BATCH as usize);
    let mut done = 0;
    while done < tasks && start.elapsed() < limit {
        let batch = (tasks - done).min(SPAWN_BATCH);
        for i in 0..batch {
            handles.push(sp.spawn(async move { black_box(i) }));
        }
        for h in handles.drain(..) {
            h.await.expect("short task");
        }
        done += batch;
    }
    Measured {
        wall: start.elapsed(),
        units: done,
        polls: done,
        latencies_ns: Vec::new(),
    }
}

async fn tcp_echo(sp: Spawner, conns: u64, requests: u64) -> Measured {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let server = sp.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            stream.set_nodelay(true).expect("nodelay");
            sp.spawn(serve(stream));
        }
    });
    let mut streams = Vec::with_capacity(conns as usize);
    for _ in 0..conns {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("nodelay");
        streams.push(stream);
    }
    let start = Instant::now();
    let clients: Vec<_> = streams
        .into_iter()
        .map(|s| sp.spawn(client(s, requests)))
        .collect();
    let mut latencies_ns = Vec::with_capacity((conns * requests) as usize);
    for c in clients {
        latencies_ns.extend(c.await.expect("client task"));
    }
    let wall = start.elapsed();
    // The handlers end on their own: each client closed its connection when it returned.
    server.abort();
    Measured {
        wall,
        units: conns * requests,
        polls: 0,
        latencies_ns,
    }
}

/// Echoes fixed-size requests until the client closes the connection.
async fn serve(mut stream: TcpStream) {
    let mut buf = [0u8; PAYLOAD];
    while stream.read_exact(&mut buf).await.is_ok() {
        if stream.write_all(&buf).await.is_err() {
            return;
        }
    }
}

/// Sends `requests` requests one after the other; returns each one's latency.
async fn client(mut stream: TcpStream, requests: u64) -> Vec<u64> {
    let request = [7u8; PAYLOAD];
    let mut response = [0u8; PAYLOAD];
    let mut latencies = Vec::with_capacity(requests as usize);
    for _ in 0..requests {
        let t = Instant::now();
        stream.write_all(&request).await.expect("write request");
        stream
            .read_exact(&mut response)
            .await
            .expect("read response");
        latencies.push(t.elapsed().as_nanos() as u64);
    }
    latencies
}
