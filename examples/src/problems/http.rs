//! 6. A real HTTP service (axum on hyper) with one bad handler.
//!
//! The service: an axum router with four async-fn handlers — `get_user`, `list_orders`,
//! `health` and `export_orders` — served on a loopback port. `axum::serve` spawns one task per
//! connection, all at the same line inside axum, and each request runs its handler inside
//! that task: every task in the trace has the same spawn location, so the task breakdown can
//! say *that* the connections are slow but not *which handler* makes them so. The load
//! generator, in the same process, is [`CLIENTS`] keep-alive HTTP/1.1 clients on tokio
//! `TcpStream`s, each sending requests back to back; one request in [`EXPORT_EVERY`] is
//! `GET /export`.
//!
//! The bad handler: `export_orders` computes the export's checksum right in the async fn,
//! [`EXPORT_CPU`] of CPU inside one poll, standing in for serializing a large response,
//! hashing or compressing inline. Its worker runs nothing else meanwhile; the cheap requests
//! queued behind it wait.
//!
//! What the trace shows: the CPU samples and the stalled polls' stacks, which carry the task
//! being polled, put the connections' time in `export_orders` — the report's "top function
//! of each task group" names it for the one connection group, and "stalled polls by stack"
//! names it as where the workers were held.
//!
//! `--fixed` computes the checksum on the blocking pool (`spawn_blocking`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use trace_analysis::analysis::overview::{Analysis, AnalysisOptions};
use trace_analysis::model::Model;
use trace_analysis::units::format_duration;

use super::{
    Args, CodeCulprit, Error, Problem, Recorded, SpawnSite, function_name, latency_line, record,
    site_clause, stall_sites,
};

/// Keep-alive client connections.
pub const CLIENTS: usize = 8;
/// One request in this many is `GET /export`.
pub const EXPORT_EVERY: usize = 8;
/// CPU time `export_orders` spends in one poll.
pub const EXPORT_CPU: Duration = Duration::from_millis(10);
/// The file of axum's connection tasks' spawn location (`axum-<version>/src/serve/…`): the
/// report's group label starts with `axum-` and contains this.
pub const AXUM_SERVE: &str = "/src/serve/";

/// The problem, for [`super::main`].
pub const PROBLEM: Problem = Problem {
    name: "http_service",
    title: "an HTTP service (axum) with one CPU-heavy handler",
    run,
    options: |_| AnalysisOptions::default(),
    report_flags: |_| String::new(),
    verdict,
    next_steps: &[
        "pprof {trace} --profile cpu -o http_service.cpu.pb.gz   # then: go tool pprof -top -cum http_service.cpu.pb.gz",
        "pprof {trace} --profile stall -o http_service.stall.pb.gz   # then: go tool pprof -tagfocus spawn=axum -top -cum http_service.stall.pb.gz",
    ],
};

/// The bad handler as the compiler names it, for the report to match.
pub fn bad_handler() -> CodeCulprit {
    CodeCulprit {
        path: std::any::type_name_of_val(&export_orders),
        file: file!(),
        lines: Some((EXPORT_FIRST_LINE, EXPORT_LAST_LINE)),
    }
}

/// Records the service (the export on the blocking pool with `args.fixed`).
pub fn run(args: &Args) -> Result<Recorded, Error> {
    let clients = SpawnSite::default();
    let fixed = args.fixed;
    let (result, summary) = {
        let clients = clients.clone();
        record(args, false, move |duration| {
            service(duration, clients, fixed)
        })?
    };
    let (mut fast, mut exports) = result?;
    let served = fast.len() + exports.len();
    Ok(Recorded {
        trace: args.out.clone(),
        summary,
        symptom: format!(
            "{served} requests ({:.0}/s); GET /users, /orders, /health: {}; GET /export: {}",
            served as f64 / args.seconds,
            latency_line(&mut fast),
            latency_line(&mut exports)
        ),
        culprit: format!("axum-…{AXUM_SERVE}…"),
        victims_spawned_at: Some(clients.label()),
        culprit_function: Some(bad_handler()),
    })
}

/// Request latencies seen by the clients: the cheap endpoints', the exports'.
type Latencies = (Vec<Duration>, Vec<Duration>);

async fn service(duration: Duration, clients: SpawnSite, fixed: bool) -> Result<Latencies, Error> {
    let app = Router::new()
        .route("/users/{id}", get(get_user))
        .route("/orders", get(list_orders))
        .route("/health", get(health))
        .route(
            "/export",
            get(move || async move {
                if fixed {
                    export_orders_fixed().await
                } else {
                    export_orders().await
                }
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let stop = Arc::new(tokio::sync::Notify::new());
    let server = {
        let stop = stop.clone();
        tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move { stop.notified().await })
                .await
        })
    };

    let start = Instant::now();
    let failed = Arc::new(AtomicBool::new(false));
    let mut spawned = Vec::new();
    for c in 0..CLIENTS {
        let failed = failed.clone();
        spawned.push(clients.spawn(async move {
            let r = client(addr, c, start, duration).await;
            if r.is_err() {
                failed.store(true, Ordering::Relaxed);
            }
            r
        }));
    }
    let (mut fast, mut exports) = (Vec::new(), Vec::new());
    let mut error = None;
    for h in spawned {
        match h.await? {
            Ok((f, e)) => {
                fast.extend(f);
                exports.extend(e);
            }
            Err(e) => error = Some(e),
        }
    }
    stop.notify_one();
    server.await??;
    match error {
        Some(e) => Err(e),
        None => Ok((fast, exports)),
    }
}

/// One keep-alive client: requests back to back until `duration` has passed since `start`.
async fn client(
    addr: std::net::SocketAddr,
    id: usize,
    start: Instant,
    duration: Duration,
) -> Result<Latencies, Error> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (read, mut write) = stream.into_split();
    let mut read = BufReader::new(read);
    let (mut fast, mut exports) = (Vec::new(), Vec::new());
    let mut n = id; // Clients start at different points of the mix.
    while start.elapsed() < duration {
        n += 1;
        let path = match n % EXPORT_EVERY {
            0 => "/export".to_string(),
            1 | 4 => "/orders".to_string(),
            2 => "/health".to_string(),
            _ => format!("/users/{}", n % 100),
        };
        let t = Instant::now();
        write
            .write_all(format!("GET {path} HTTP/1.1\r\nHost: localhost\r\n\r\n").as_bytes())
            .await?;
        read_response(&mut read).await?;
        if path == "/export" {
            &mut exports
        } else {
            &mut fast
        }
        .push(t.elapsed());
    }
    Ok((fast, exports))
}

/// Reads one response (status line, headers, a `content-length` body); an error unless 200.
async fn read_response<R: tokio::io::AsyncBufRead + Unpin>(read: &mut R) -> Result<(), Error> {
    let mut line = String::new();
    read.read_line(&mut line).await?;
    if !line.starts_with("HTTP/1.1 200") {
        return Err(format!("unexpected response {line:?}").into());
    }
    let mut length = 0usize;
    loop {
        line.clear();
        if read.read_line(&mut line).await? == 0 {
            return Err("connection closed in the headers".into());
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse()?;
        }
    }
    let mut body = vec![0; length];
    read.read_exact(&mut body).await?;
    Ok(())
}

async fn get_user(Path(id): Path<u64>) -> String {
    format!("{{\"id\":{id},\"name\":\"user {id}\"}}")
}

async fn list_orders() -> String {
    let orders: Vec<String> = (0..20).map(|i| format!("{{\"order\":{i}}}")).collect();
    format!("[{}]", orders.join(","))
}

async fn health() -> &'static str {
    "ok"
}

const EXPORT_FIRST_LINE: u32 = line!();
/// The bad handler: the export's checksum computed right here, in the async fn, on the
/// worker — [`EXPORT_CPU`] inside one poll.
async fn export_orders() -> String {
    let start = Instant::now();
    let (mut rows, mut digest) = (0u64, 0u64);
    while start.elapsed() < EXPORT_CPU {
        for _ in 0..64 {
            digest = (digest.rotate_left(5) ^ rows).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            rows += 1;
        }
    }
    format!("{rows} rows, checksum {digest:016x}")
}
const EXPORT_LAST_LINE: u32 = line!();

/// The same work on the blocking pool: the worker is free meanwhile.
async fn export_orders_fixed() -> String {
    tokio::task::spawn_blocking(checksum)
        .await
        .unwrap_or_default()
}

fn checksum() -> String {
    let start = Instant::now();
    let (mut rows, mut digest) = (0u64, 0u64);
    while start.elapsed() < EXPORT_CPU {
        for _ in 0..64 {
            digest = (digest.rotate_left(5) ^ rows).wrapping_mul(0x9e37_79b9_7f4a_7c15);
            rows += 1;
        }
    }
    format!("{rows} rows, checksum {digest:016x}")
}

/// Names the connection group (axum's one spawn location), its top function from the CPU
/// samples, and the function the stalled polls were in.
pub fn verdict(_model: &Model, analysis: &Analysis, _recorded: &Recorded) -> String {
    let Some(connections) = connection_group(analysis) else {
        return "no axum connection tasks in the trace".into();
    };
    let mut line = format!(
        "all {} connection tasks were spawned at {} ({} running)",
        connections.tasks,
        connections.label,
        format_duration(connections.total("running"))
    );
    match analysis
        .code
        .groups
        .iter()
        .find(|g| g.group == connections.label)
    {
        Some(top) => {
            let by = format!("{:?}", top.by).to_lowercase();
            line += &format!(
                "; their top function by {by}: {} ({:.0}% of their {by} samples' time)",
                function_name(&top.site),
                top.share * 100.0,
            );
        }
        None => line += "; no samples of theirs to name a function with",
    }
    line += "; ";
    line += &site_clause(
        &stall_sites(analysis),
        "the workers were held",
        "the stalled polls' time",
    );
    line
}

/// The group of axum's connection tasks: spawned in `axum-<version>/src/serve/`.
pub fn connection_group(
    analysis: &Analysis,
) -> Option<&trace_analysis::analysis::breakdown::Group> {
    analysis
        .breakdown
        .groups
        .iter()
        .find(|g| g.label.starts_with("axum-") && g.label.contains(AXUM_SERVE))
}
