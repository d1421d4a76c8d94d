//! Quickstart: record a few seconds of a small tokio service, then print the report that
//! `trace-viewer report` prints.
//!
//! ```text
//! cargo run --release --example quickstart [-- OUT.rtt [SECONDS]]
//! cargo run --release --example quickstart --features wakes    # every wake, with its source
//! ```
//!
//! The workload, on a 4-worker runtime instrumented with `trace_rt::instrument`: a
//! dispatcher task sends jobs over a channel to 8 handler tasks; each job does some CPU work,
//! sometimes sleeps on a timer, and sometimes calls `spawn_blocking`; a ticker task records
//! the queue depth as a counter. Everything tokio does is recorded by the hooks. With the
//! `wakes` feature, `trace_rt::wake_layer()` is the `tracing` subscriber too, so the report
//! splits each task's waiting by what woke it (another task, a timer, the blocking pool, …).

use std::time::{Duration, Instant};

use trace_rt::raw::{Event, record};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "quickstart.rtt".into());
    let seconds: f64 = match args.next() {
        Some(s) => s
            .parse()
            .map_err(|_| format!("SECONDS must be a number, got {s:?}"))?,
        None => 3.0,
    };

    // Before the runtime is built: tokio's spans for tasks that already exist are not seen.
    #[cfg(feature = "wakes")]
    {
        use tracing_subscriber::prelude::*;
        tracing_subscriber::registry()
            .with(trace_rt::wake_layer())
            .init();
    }

    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(4);
    trace_rt::instrument(&mut builder);
    let rt = builder.enable_all().build()?;

    println!("recording {seconds} s of a small tokio service to {out} ...");
    let session = trace_rt::start(&out)?;
    let jobs_done = trace_rt::block_on(&rt, service(Duration::from_secs_f64(seconds)));
    // Shut the runtime down before stopping: a task's JoinHandle can see it finish before
    // the worker's after-poll hook runs, and stopping first would cut that last poll short.
    drop(rt);
    let summary = session.stop()?;

    println!("{jobs_done} jobs done; {summary}\n");
    // What `trace-viewer report FILE` prints.
    let report = trace_analysis::report::Report::from_file(
        out.as_ref(),
        &trace_analysis::analysis::overview::AnalysisOptions::default(),
    )?;
    print!("{}", report.to_text());
    println!(
        "\nnext: `cargo run --release -p trace-viewer -- report {out}` (or `check`, `--json`)"
    );
    if let Some(e) = &report.summary.error {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
    Ok(())
}

async fn service(duration: Duration) -> u64 {
    let depth = trace_rt::intern("queue_depth");
    let (tx, rx) = tokio::sync::mpsc::channel::<u64>(256);
    let rx = std::sync::Arc::new(tokio::sync::Mutex::new(rx));
    let mut handlers = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let rx = rx.clone();
        handlers.spawn(async move {
            let mut done = 0u64;
            loop {
                let job = rx.lock().await.recv().await;
                let Some(cost) = job else { return done };
                handle(cost).await;
                done += 1;
            }
        });
    }
    let ticker_tx = tx.clone();
    let ticker = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(5));
        while !ticker_tx.is_closed() {
            tick.tick().await;
            let queued = ticker_tx.max_capacity() - ticker_tx.capacity();
            record(&Event::Counter {
                name: depth,
                value: queued as i64,
            });
        }
    });

    // The dispatcher: bursts of jobs costing 5–300 µs of CPU.
    let start = Instant::now();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    while start.elapsed() < duration {
        for _ in 0..1 + next(&mut rng) % 16 {
            if tx.send(5 + next(&mut rng) % 300).await.is_err() {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    drop(tx);
    ticker.abort();
    let mut total = 0;
    while let Some(done) = handlers.join_next().await {
        total += done.unwrap_or(0);
    }
    total
}

async fn handle(cost: u64) {
    spin_for(Duration::from_micros(cost));
    match cost % 10 {
        0 => tokio::time::sleep(Duration::from_micros(cost)).await,
        1 => {
            let _ =
                tokio::task::spawn_blocking(move || spin_for(Duration::from_micros(cost))).await;
        }
        _ => tokio::task::yield_now().await,
    }
}

fn spin_for(d: Duration) {
    let t = Instant::now();
    while t.elapsed() < d {
        std::hint::spin_loop();
    }
}

fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}
