//! Allocator, pauses and user events: installs every piece of trace-rt beside the tokio
//! instrumentation, records a small service for a few seconds, and prints what the trace
//! says about memory and pauses.
//!
//! ```text
//! cargo run --release --example alloc_pauses [-- OUT.rtt [SECONDS]]
//! ```
//!
//! Pieces installed:
//! - `trace_rt::TracingAllocator` as the global allocator (per-thread counters → heap curve,
//!   sampled allocations with their task, slow allocator calls as thread pauses);
//! - `trace_rt::layer()` in the `tracing` subscriber (spans → regions, events → logs);
//! - `trace_rt::pause("compaction")` every 250 ms (process-wide) and
//!   `trace_rt::pause_thread("flush")` in a handler (this thread only);
//! - `trace_rt::Counter` for the number of cached entries.
//!
//! The workload: request handlers that allocate response buffers (one of them, "bulky",
//! allocates ten times more), a cache that grows and is compacted (freed) under a pause, and
//! a background flush. The printout estimates the bytes allocated by each spawn location
//! from the samples, rebuilds the heap curve from the counters, and lists the pauses.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use trace_format::{Event, PauseScope, Trace};
use tracing::Instrument;
use tracing_subscriber::prelude::*;

// 1. The allocator: one line.
#[global_allocator]
static ALLOC: trace_rt::TracingAllocator<std::alloc::System> =
    trace_rt::TracingAllocator::new(std::alloc::System);

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "alloc_pauses.rtt".into());
    let seconds: f64 = match args.next() {
        Some(s) => s
            .parse()
            .map_err(|_| format!("SECONDS must be a number, got {s:?}"))?,
        None => 2.0,
    };

    // 2. The tracing layer, for spans and events (INFO and above).
    tracing_subscriber::registry()
        .with(trace_rt::layer().with_filter(tracing_subscriber::filter::LevelFilter::INFO))
        .init();

    // 3. The tokio instrumentation, then record.
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    trace_rt::instrument(&mut builder);
    let rt = builder.enable_all().build()?;
    println!("recording {seconds} s to {out} ...");
    let session = trace_rt::start(&out)?;
    let served = trace_rt::block_on(&rt, service(Duration::from_secs_f64(seconds)));
    let summary = session.stop()?;
    drop(rt);
    println!("{served} requests served; {summary}\n");

    report(&Trace::open(&out)?);
    println!("\nnext: `cargo run --release -p trace-viewer -- report {out}`");
    Ok(())
}

async fn service(duration: Duration) -> u64 {
    let cached = trace_rt::Counter::new("cache_entries");
    let cache = std::sync::Arc::new(std::sync::Mutex::new(HashMap::<u64, Vec<u8>>::new()));
    let start = Instant::now();

    // Compaction: every 250 ms the whole process stops while the cache is emptied.
    let compactor = {
        let cache = cache.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            while start.elapsed() < duration {
                tick.tick().await;
                // 4. A process-wide pause, until the guard drops.
                let _stw = trace_rt::pause("compaction");
                let mut c = cache.lock().unwrap();
                tracing::info!(entries = c.len(), "compacting");
                c.clear();
                c.shrink_to_fit();
                cached.set(0);
                std::thread::sleep(Duration::from_millis(5));
            }
        })
    };

    // Two small handlers and a bulky one, spawned at different lines so that the samples
    // tell their allocations apart by spawn location.
    let mut handlers = tokio::task::JoinSet::new();
    for _ in 0..2 {
        handlers.spawn(handler(
            "small",
            2_000,
            cache.clone(),
            cached,
            start,
            duration,
        ));
    }
    handlers.spawn(handler(
        "bulky",
        20_000,
        cache.clone(),
        cached,
        start,
        duration,
    ));
    let mut total = 0;
    while let Some(r) = handlers.join_next().await {
        total += r.unwrap();
    }
    compactor.await.unwrap();
    total
}

/// Serves requests of `bytes` each until `duration` has passed, inside a `handler` span.
fn handler(
    name: &'static str,
    bytes: usize,
    cache: std::sync::Arc<std::sync::Mutex<HashMap<u64, Vec<u8>>>>,
    cached: trace_rt::Counter,
    start: Instant,
    duration: Duration,
) -> impl std::future::Future<Output = u64> {
    async move {
        let mut served = 0u64;
        while start.elapsed() < duration {
            let response = handle(served, bytes).await;
            {
                let mut c = cache.lock().unwrap();
                c.insert(served, response);
                cached.set(c.len() as i64);
            }
            served += 1;
            if served.is_multiple_of(100) {
                // 5. A pause of this worker thread only.
                let _flush = trace_rt::pause_thread("flush");
                std::thread::sleep(Duration::from_millis(2));
                tracing::warn!(served, "flushed");
            }
        }
        served
    }
    .instrument(tracing::info_span!("handler", name))
}

async fn handle(id: u64, bytes: usize) -> Vec<u8> {
    let mut body = Vec::new();
    for chunk in 0..8 {
        body.extend(std::iter::repeat_n((id + chunk) as u8, bytes / 8));
        tokio::task::yield_now().await;
    }
    tokio::time::sleep(Duration::from_micros(200)).await;
    body
}

/// What the trace says: bytes by spawn location (from the samples), the heap curve (from the
/// counters), pauses by kind, regions and logs.
fn report(trace: &Trace) {
    let rate_name = trace
        .strings()
        .find(|(_, s)| *s == trace_rt::alloc::SAMPLE_RATE_COUNTER)
        .map(|(id, _)| id);
    let mut location_of: HashMap<u64, String> = HashMap::new();
    let mut by_location: BTreeMap<String, (f64, u64)> = BTreeMap::new();
    let mut rate: HashMap<u32, u64> = HashMap::new();
    let (mut heap, mut peak, mut allocated) = (0i64, 0i64, 0u64);
    let mut open: HashMap<(String, u8, Option<u32>), Vec<u64>> = HashMap::new();
    let mut pauses: BTreeMap<(String, &str), Vec<u64>> = BTreeMap::new();
    let (mut regions, mut logs) = (0u64, 0u64);
    for r in trace.events() {
        let Ok(r) = r else { break };
        match r.event {
            Event::TaskSpawn { task, location, .. } => {
                let loc = trace
                    .location(location)
                    .map(|l| format!("{}:{}", l.file, l.line))
                    .unwrap_or_else(|| "?".into());
                location_of.insert(task.0, loc);
            }
            Event::Counter { name, value } if Some(name) == rate_name => {
                rate.insert(r.thread, value as u64);
            }
            Event::AllocSample { size, task } | Event::AllocSampleAt { size, task, .. } => {
                let rate = rate.get(&r.thread).copied().unwrap_or(1);
                let loc = match task.0 {
                    0 => "(outside tasks)".to_string(),
                    t => location_of.get(&t).cloned().unwrap_or_else(|| "?".into()),
                };
                let e = by_location.entry(loc).or_default();
                e.0 += trace_rt::alloc::sample_weight(size, rate);
                e.1 += 1;
            }
            Event::AllocCounters {
                alloc_bytes,
                free_bytes,
                ..
            } => {
                heap += alloc_bytes as i64 - free_bytes as i64;
                peak = peak.max(heap);
                allocated += alloc_bytes;
            }
            Event::PauseBegin { kind, scope } => {
                let key = pause_key(trace, kind, scope, r.thread);
                open.entry(key).or_default().push(r.time);
            }
            Event::PauseEnd { kind, scope } => {
                let key = pause_key(trace, kind, scope, r.thread);
                if let Some(begin) = open.get_mut(&key).and_then(Vec::pop) {
                    let scope = if scope == PauseScope::Process {
                        "process"
                    } else {
                        "thread"
                    };
                    pauses
                        .entry((key.0, scope))
                        .or_default()
                        .push(trace.to_nanos(r.time) - trace.to_nanos(begin));
                }
            }
            Event::RegionBegin { .. } => regions += 1,
            Event::Log { .. } => logs += 1,
            _ => {}
        }
    }
    const MIB: f64 = (1 << 20) as f64;
    println!(
        "allocated {:.1} MiB in all; heap in use (relative to the start, with the recorder's own \
         ~1 MiB output buffer): peak {:.2} MiB, end {:.2} MiB",
        allocated as f64 / MIB,
        peak as f64 / MIB,
        heap as f64 / MIB
    );
    println!("bytes allocated by spawn location, estimated from the samples:");
    let mut rows: Vec<_> = by_location.into_iter().collect();
    rows.sort_by(|a, b| b.1.0.total_cmp(&a.1.0));
    for (loc, (bytes, n)) in rows.iter().take(6) {
        // Each sample stands for ~rate bytes: relative error about 1/sqrt(samples).
        println!(
            "  {:>9.2} MiB ± {:>4.1}%  ({n:>5} samples)  {loc}",
            bytes / MIB,
            100.0 / (*n as f64).sqrt()
        );
    }
    println!("pauses:");
    for ((kind, scope), ds) in &pauses {
        let total: u64 = ds.iter().sum();
        let max = ds.iter().max().copied().unwrap_or(0);
        println!(
            "  {kind:<12} {scope:<8} {:>5} pauses, total {:>8.2} ms, longest {:>7.3} ms",
            ds.len(),
            total as f64 / 1e6,
            max as f64 / 1e6
        );
    }
    println!("tracing: {regions} regions (span entries), {logs} logs");
}

fn pause_key(
    trace: &Trace,
    kind: trace_format::StringId,
    scope: PauseScope,
    thread: u32,
) -> (String, u8, Option<u32>) {
    let name = trace.string(kind).unwrap_or("?").to_string();
    (
        name,
        scope as u8,
        (scope == PauseScope::Thread).then_some(thread),
    )
}
