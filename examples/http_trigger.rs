//! HTTP trigger: a small tokio service that serves trace-rt's `/debug/trace` endpoints, so a
//! recording can be taken from outside, like Go's `/debug/pprof/trace?seconds=N`.
//!
//! ```text
//! cargo run --release --example http_trigger [-- [ADDR] [SECONDS_TO_RUN]]
//! curl -o x.rtt 'http://127.0.0.1:6060/debug/trace?seconds=2'
//! curl -o flight.rtt 'http://127.0.0.1:6060/debug/trace/flight'   # needs --flight
//! cargo run --release -p trace-viewer -- report x.rtt
//! ```
//!
//! ADDR defaults to 127.0.0.1:6060; the service runs for SECONDS_TO_RUN (default 60), or
//! until killed. With `--flight` as the first argument, a flight recorder keeps the last 10 s
//! in memory and `/debug/trace/flight` serves it (then `/debug/trace` answers 409: one
//! recording at a time).

use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let flight = args.first().is_some_and(|a| a == "--flight");
    if flight {
        args.remove(0);
    }
    let addr = args
        .first()
        .map(|a| a.parse())
        .transpose()
        .map_err(|e| format!("ADDR must be IP:PORT: {e}"))?
        .unwrap_or_else(|| "127.0.0.1:6060".parse().unwrap());
    let seconds: f64 = match args.get(1) {
        Some(s) => s
            .parse()
            .map_err(|_| format!("SECONDS_TO_RUN must be a number, got {s:?}"))?,
        None => 60.0,
    };

    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    trace_rt::instrument(&mut builder);
    let rt = builder.enable_all().build()?;

    let mut options = trace_rt::http::Options::default().addr(addr);
    let recorder = if flight {
        let f = Arc::new(trace_rt::FlightRecorder::start(
            Duration::from_secs(10),
            32 << 20,
        )?);
        options = options.flight_recorder(f.clone());
        Some(f)
    } else {
        None
    };
    let server = trace_rt::http::serve(options)?;
    let base = format!("http://{}", server.local_addr());
    println!("serving {base}/debug/trace/ for {seconds} s; try:");
    if flight {
        println!("  curl -o flight.rtt '{base}/debug/trace/flight'");
    } else {
        println!("  curl -o x.rtt '{base}/debug/trace?seconds=2'");
    }
    println!("  cargo run --release -p trace-viewer -- report x.rtt");

    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let requests = rt.block_on(service(until));
    println!("{requests} requests served");
    drop(server);
    if let Some(f) = recorder.and_then(|f| Arc::try_unwrap(f).ok()) {
        f.stop()?;
    }
    Ok(())
}

/// Clients send requests to handlers over a channel; each handler does a little CPU work
/// and sometimes waits on a timer.
async fn service(until: Instant) -> u64 {
    let (tx, rx) = tokio::sync::mpsc::channel::<(u64, tokio::sync::oneshot::Sender<u64>)>(64);
    let rx = Arc::new(tokio::sync::Mutex::new(rx));
    for _ in 0..4 {
        let rx = rx.clone();
        tokio::spawn(async move {
            loop {
                let Some((n, reply)) = rx.lock().await.recv().await else {
                    return;
                };
                if n.is_multiple_of(8) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let answer = (0..2_000u64).fold(n, |a, i| a.wrapping_mul(31).wrapping_add(i));
                let _ = reply.send(answer);
            }
        });
    }
    let mut served = 0u64;
    while Instant::now() < until {
        let (reply, answer) = tokio::sync::oneshot::channel();
        if tx.send((served, reply)).await.is_err() {
            break;
        }
        let _ = answer.await;
        served += 1;
        if served.is_multiple_of(64) {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    served
}
