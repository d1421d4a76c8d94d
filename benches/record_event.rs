//! The cost of recording one event, measured beside the cost of one bare TSC read in the
//! same run, and the file bytes per event for a realistic scheduler event mix.
//!
//! Run: `cargo bench -p trace-rt-benches --bench record_event`
//! (`-- --quick` for a shorter run). The summary table at the end is the figure to report;
//! criterion's detailed statistics come first.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group};
use trace_rt::raw::{Event, TaskId, raw_ticks, record};
use trace_rt_benches::{median, ns_per_iter, scheduler_mix};

fn poll_start() -> Event<'static> {
    Event::PollStart {
        task: TaskId(black_box(17)),
    }
}

fn criterion_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("hot_path");
    g.bench_function("tsc_read", |b| b.iter(|| black_box(raw_ticks())));
    g.bench_function("record_not_recording", |b| b.iter(|| record(&poll_start())));
    let session = trace_rt::Config::default()
        .start_with_sink(trace_rt::MemorySink::new())
        .expect("start");
    g.bench_function("record_poll_start", |b| b.iter(|| record(&poll_start())));
    g.bench_function("record_poll_end", |b| {
        b.iter(|| record(&Event::PollEnd { ready: false }))
    });
    g.finish();
    // Throughput far above the writer's memory sink would count as loss; not a concern for
    // timing, and the summary reports it.
    drop(session.stop());
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(500));
    targets = criterion_benches
}

/// Interleaved runs of the TSC read and the recorded event, medians of 7.
fn side_by_side() {
    const ITERS: u64 = 2_000_000;
    let sink = trace_rt::MemorySink::new();
    let session = trace_rt::Config::default()
        .buffer_size(512 << 20)
        .start_with_sink(sink)
        .expect("start");
    let (mut tsc, mut ev, mut off) = (vec![], vec![], vec![]);
    for _ in 0..7 {
        tsc.push(ns_per_iter(ITERS, || {
            black_box(raw_ticks());
        }));
        ev.push(ns_per_iter(ITERS, || record(&poll_start())));
    }
    let summary = session.stop().expect("stop");
    for _ in 0..7 {
        off.push(ns_per_iter(ITERS, || record(&poll_start())));
    }
    let (tsc, ev, off) = (median(&mut tsc), median(&mut ev), median(&mut off));

    // The spawn hook's lookup of the spawn site's id (every TaskSpawn pays it).
    let sites = [
        std::panic::Location::caller(),
        std::panic::Location::caller(),
    ];
    let mut site = vec![];
    for _ in 0..7 {
        let mut i = 0;
        site.push(ns_per_iter(ITERS, || {
            i += 1;
            black_box(trace_rt::intern_location(sites[i & 1]));
        }));
    }
    let site = median(&mut site);

    // Bytes per event: a scheduler mix on two threads, written to a real file.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mix.rtt");
    let session = trace_rt::start(&path).expect("start");
    let handles: Vec<_> = (0..2)
        .map(|i| std::thread::spawn(move || scheduler_mix(i, 64, 20_000)))
        .collect();
    let produced: u64 = handles.into_iter().map(|h| h.join().expect("join")).sum();
    let mix = session.stop().expect("stop");
    let file_len = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);

    println!();
    println!("== trace-rt recorder hot path (medians of 7 interleaved runs) ==");
    println!("bare TSC read                 {tsc:8.2} ns");
    println!(
        "record one event (recording)  {ev:8.2} ns   = {:.2}x TSC read (budget <= 1.50x)",
        ev / tsc
    );
    println!("record one event (stopped)    {off:8.2} ns");
    println!("spawn-site id lookup          {site:8.2} ns   (two sites, alternating)");
    println!(
        "  events recorded {} lost {} (writer kept up: {})",
        summary.events,
        summary.lost_events,
        summary.lost_events == 0
    );
    println!(
        "== file size, scheduler mix (ping-pong polls + wakes, spawns, parks, samples), 2 threads =="
    );
    println!(
        "events {produced}, file {file_len} bytes = {:.2} bytes/event (budget <= 4.00); lost {}",
        file_len as f64 / mix.events.max(1) as f64,
        mix.lost_events
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: keep that a smoke run.
    if args.iter().any(|a| a == "--test") || !args.iter().any(|a| a == "--bench") {
        scheduler_mix(0, 4, 10);
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
    side_by_side();
}
