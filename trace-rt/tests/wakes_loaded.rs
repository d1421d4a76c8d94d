//! Wake mode under load: a loopback service whose truth is known. Connection tasks wait only
//! on their sockets, sleepers only on the timer, yielders only on themselves (`yield_now`),
//! all at once on one runtime, so that workers deliver I/O and timer wakes in driver turns
//! between tasks (maintenance, `park_yield`) right where they also run deferred
//! `yield_now` wakes. Every wake must keep its true source.
#![cfg(feature = "wakes")]

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Once};
use std::time::Duration;

use common::{Model, TaskInfo, assert_analysis_partition, serial};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use trace_format::{Trace, WakeSource};

const CONNECTIONS: usize = 6;
const ROUND_TRIPS: usize = 150;
const SLEEPERS: usize = 4;
const SLEEPS: usize = 40;
const YIELDERS: usize = 4;
const YIELDS: usize = 300;

fn install_layer() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use tracing_subscriber::prelude::*;
        tracing_subscriber::registry()
            .with(trace_rt::wake_layer())
            .init();
    });
}

fn runtime(multi_thread: bool) -> tokio::runtime::Runtime {
    install_layer();
    let mut b = if multi_thread {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    trace_rt::instrument(&mut b);
    b.enable_all().build().unwrap()
}

/// Records `f` into memory; with `TRACE_RT_WAKES_TEST_OUT` set, also writes the trace
/// there (to look at it with `trace-viewer report`).
fn record<R>(name: &str, f: impl FnOnce() -> R) -> (Trace, R) {
    let sink = trace_rt::MemorySink::new();
    let session = trace_rt::Config::default()
        .start_with_sink(sink.clone())
        .expect("start");
    let r = f();
    std::thread::sleep(Duration::from_millis(20));
    let summary = session.stop().expect("stop");
    assert_eq!(summary.lost_events, 0, "{summary}");
    let bytes = sink.bytes();
    if let Some(dir) = std::env::var_os("TRACE_RT_WAKES_TEST_OUT") {
        std::fs::write(
            std::path::Path::new(&dir).join(format!("{name}.rtt")),
            &bytes,
        )
        .unwrap();
    }
    let trace = Trace::from_bytes(bytes).expect("read back");
    trace.validate().expect("valid trace");
    assert_analysis_partition(&trace);
    (trace, r)
}

fn id_now() -> u64 {
    tokio::task::id().to_string().parse().unwrap()
}

/// Task ids of each role, reported by the tasks themselves.
#[derive(Default)]
struct Roles {
    connections: Vec<u64>,
    sleepers: Vec<u64>,
    yielders: Vec<u64>,
}

/// Some work between yields, so that the yielders keep the workers busy.
fn spin(n: u64) -> u64 {
    (0..n).fold(0u64, |a, i| {
        std::hint::black_box(a.wrapping_mul(31).wrapping_add(i))
    })
}

async fn loaded_service() -> Roles {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let mut handlers = vec![];
        for _ in 0..CONNECTIONS {
            let (mut s, _) = listener.accept().await.unwrap();
            handlers.push(tokio::spawn(async move {
                let mut buf = [0u8; 64];
                for _ in 0..ROUND_TRIPS {
                    s.read_exact(&mut buf).await.unwrap();
                    s.write_all(&buf).await.unwrap();
                }
                id_now()
            }));
        }
        let mut ids = vec![];
        for h in handlers {
            ids.push(h.await.unwrap());
        }
        ids
    });
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|_| {
            tokio::spawn(async move {
                let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
                s.set_nodelay(true).unwrap();
                let mut buf = [7u8; 64];
                for _ in 0..ROUND_TRIPS {
                    s.write_all(&buf).await.unwrap();
                    s.read_exact(&mut buf).await.unwrap();
                }
                id_now()
            })
        })
        .collect();
    let sleepers: Vec<_> = (0..SLEEPERS)
        .map(|_| {
            tokio::spawn(async {
                for _ in 0..SLEEPS {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                id_now()
            })
        })
        .collect();
    let yielders: Vec<_> = (0..YIELDERS)
        .map(|_| {
            tokio::spawn(async {
                for i in 0..YIELDS {
                    spin(2_000 + i as u64);
                    tokio::task::yield_now().await;
                }
                id_now()
            })
        })
        .collect();
    let mut roles = Roles::default();
    for c in clients {
        roles.connections.push(c.await.unwrap());
    }
    roles.connections.extend(server.await.unwrap());
    for s in sleepers {
        roles.sleepers.push(s.await.unwrap());
    }
    for y in yielders {
        roles.yielders.push(y.await.unwrap());
    }
    roles
}

/// Polls of `t` that ended pending: each one waited for one wake.
fn pending_polls(t: &TaskInfo) -> usize {
    t.polls.iter().filter(|p| !p.2).count()
}

fn sources(t: &TaskInfo) -> BTreeMap<String, usize> {
    let mut by = BTreeMap::new();
    for w in &t.wakes {
        *by.entry(format!("{:?}", w.source)).or_insert(0) += 1;
    }
    by
}

fn check_loaded_service(multi_thread: bool) {
    let _g = serial();
    let rt = runtime(multi_thread);
    let name = if multi_thread {
        "loaded_multi_thread"
    } else {
        "loaded_current_thread"
    };
    let (trace, roles) = record(name, || rt.block_on(loaded_service()));
    let m = Model::build(&trace);
    let mut wrong = vec![];
    for &id in &roles.yielders {
        let t = &m.tasks[&id];
        // One deferred wake per `yield_now`, none from anything else.
        let selfs = t
            .wakes
            .iter()
            .filter(|w| w.source == WakeSource::SelfWake)
            .count();
        if selfs != YIELDS || t.wakes.len() != YIELDS {
            wrong.push(format!("yielder {id}: {:?}", sources(t)));
        }
    }
    for &id in &roles.sleepers {
        let t = &m.tasks[&id];
        // One timer wake per sleep that waited: a sleep whose deadline passed before its
        // first poll (its worker descheduled on a loaded machine) ends without waiting, in
        // the same poll; so each pending poll is one sleep's wait.
        let waits = pending_polls(t);
        let timers = t
            .wakes
            .iter()
            .filter(|w| w.source == WakeSource::Timer)
            .count();
        if timers != waits || t.wakes.len() != waits || waits == 0 || waits > SLEEPS {
            wrong.push(format!(
                "sleeper {id}: {:?}, {waits} pending polls",
                sources(t)
            ));
        }
    }
    assert_eq!(roles.connections.len(), 2 * CONNECTIONS);
    for &id in &roles.connections {
        let t = &m.tasks[&id];
        // A connection waits only on its socket (its accept and connect included).
        if t.wakes.is_empty() || t.wakes.iter().any(|w| w.source != WakeSource::Io) {
            wrong.push(format!("connection {id}: {:?}", sources(t)));
        }
    }
    assert!(
        wrong.is_empty(),
        "{name}: misread wakes:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn loaded_service_on_two_workers_keeps_wake_sources() {
    check_loaded_service(true);
}

#[test]
fn loaded_service_on_current_thread_keeps_wake_sources() {
    check_loaded_service(false);
}

/// Requests per mini-redis client, and how often a client pauses (1 ms) between them.
const REQUESTS: usize = 120;
const PAUSE_EVERY: usize = 10;

/// A small redis-like service (mini-redis's shape): a shared map, connections that read
/// line requests and answer them, clients that pause between requests. Its connections
/// spend their life waiting on their sockets, which must read as I/O, never as self. Two
/// background tasks keep the workers busy (so that they turn the driver between tasks
/// rather than parking), as a loaded server's other work would.
async fn mini_redis_shape() -> (Vec<u64>, Vec<u64>) {
    const CLIENTS: usize = 8;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let db: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let server = tokio::spawn(async move {
        let mut conns = vec![];
        for _ in 0..CLIENTS {
            let (s, _) = listener.accept().await.unwrap();
            let db = db.clone();
            conns.push(tokio::spawn(async move {
                let (r, mut w) = s.into_split();
                let mut lines = BufReader::new(r).lines();
                while let Some(line) = lines.next_line().await.unwrap() {
                    let mut parts = line.splitn(3, ' ');
                    let reply = match (parts.next(), parts.next(), parts.next()) {
                        (Some("SET"), Some(k), Some(v)) => {
                            db.lock().unwrap().insert(k.into(), v.into());
                            "OK".to_string()
                        }
                        (Some("GET"), Some(k), None) => {
                            db.lock().unwrap().get(k).cloned().unwrap_or_default()
                        }
                        _ => "ERR".to_string(),
                    };
                    w.write_all(format!("{reply}\n").as_bytes()).await.unwrap();
                }
                id_now()
            }));
        }
        let mut ids = vec![];
        for c in conns {
            ids.push(c.await.unwrap());
        }
        ids
    });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            tokio::spawn(async move {
                let s = tokio::net::TcpStream::connect(addr).await.unwrap();
                s.set_nodelay(true).unwrap();
                let (r, mut w) = s.into_split();
                let mut lines = BufReader::new(r).lines();
                for i in 0..REQUESTS {
                    let req = if i % 2 == 0 {
                        format!("SET k{c}-{i} v{i}\n")
                    } else {
                        format!("GET k{c}-{}\n", i - 1)
                    };
                    w.write_all(req.as_bytes()).await.unwrap();
                    let reply = lines.next_line().await.unwrap().unwrap();
                    assert!(reply == "OK" || reply == format!("v{}", i - 1), "{reply}");
                    if i % PAUSE_EVERY == PAUSE_EVERY - 1 {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
                id_now()
            })
        })
        .collect();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let background: Vec<_> = (0..2)
        .map(|_| {
            let done = done.clone();
            tokio::spawn(async move {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    spin(20_000);
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut client_ids = vec![];
    for c in clients {
        client_ids.push(c.await.unwrap());
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for b in background {
        b.await.unwrap();
    }
    (server.await.unwrap(), client_ids)
}

#[test]
fn mini_redis_shape_connections_wait_on_io() {
    let _g = serial();
    let rt = runtime(true);
    let (trace, (conns, clients)) = record("mini_redis_shape", || rt.block_on(mini_redis_shape()));
    let m = Model::build(&trace);
    let mut wrong = vec![];
    for id in conns {
        let t = &m.tasks[&id];
        if t.wakes.is_empty() || t.wakes.iter().any(|w| w.source != WakeSource::Io) {
            wrong.push(format!("connection {id}: {:?}", sources(t)));
        }
    }
    for id in clients {
        let t = &m.tasks[&id];
        // Each request waits on the socket for its reply, each pause on the timer: never on
        // itself. (Their counts are not exact: a reply may be there before the read, a
        // pause's deadline may pass before its first poll on a loaded machine, and a read
        // that registered its waker and then found data leaves it registered, so a later
        // readiness can wake a pausing client, which reads as its timer.)
        let timers = t
            .wakes
            .iter()
            .filter(|w| w.source == WakeSource::Timer)
            .count();
        let others = t
            .wakes
            .iter()
            .any(|w| !matches!(w.source, WakeSource::Io | WakeSource::Timer));
        if timers == 0 || others {
            wrong.push(format!("client {id}: {:?}", sources(t)));
        }
    }
    assert!(wrong.is_empty(), "misread wakes:\n{}", wrong.join("\n"));
}
