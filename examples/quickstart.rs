//! Quickstart: record a few seconds of a small multi-threaded workload, then print the
//! report that `trace-viewer report` would print.
//!
//! ```text
//! cargo run --release --example quickstart [-- OUT.rtt [SECONDS]]
//! ```
//!
//! The workload: a dispatcher thread feeds jobs of varying cost to four worker threads
//! through a shared queue. Each job is recorded as a region, the queue depth as a counter,
//! and slow jobs as log lines, using the low-level `trace_rt::raw::record` API. (Once the
//! tokio instrumentation lands, `trace_rt::instrument` records all of this by itself.)

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use trace_rt::raw::{Event, Level, record};

struct Queue {
    jobs: Mutex<VecDeque<u64>>,
    ready: Condvar,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "quickstart.rtt".into());
    let seconds: f64 = match args.next() {
        Some(s) => s
            .parse()
            .map_err(|_| format!("SECONDS must be a number, got {s:?}"))?,
        None => 3.0,
    };

    let job = trace_rt::intern("job");
    let depth = trace_rt::intern("queue_depth");
    let target = trace_rt::intern("quickstart");

    println!("recording {seconds} s of a 4-worker job queue to {out} ...");
    let session = trace_rt::start(&out)?;

    let queue = Arc::new(Queue {
        jobs: Mutex::new(VecDeque::new()),
        ready: Condvar::new(),
    });
    let done = Arc::new(AtomicBool::new(false));
    let completed = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let (queue, done, completed) = (queue.clone(), done.clone(), completed.clone());
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    let mut region = 0u64;
                    loop {
                        let cost = {
                            let mut jobs = queue.jobs.lock().expect("queue lock");
                            loop {
                                if done.load(Ordering::Relaxed) {
                                    return;
                                }
                                if let Some(c) = jobs.pop_front() {
                                    break c;
                                }
                                jobs = queue
                                    .ready
                                    .wait_timeout(jobs, Duration::from_millis(10))
                                    .expect("queue lock")
                                    .0;
                            }
                        };
                        region += 1;
                        let id = region * 4 + i as u64;
                        record(&Event::RegionBegin { id, name: job });
                        spin_for(Duration::from_micros(cost));
                        record(&Event::RegionEnd { id });
                        if cost > 380 {
                            let message = format!("slow job: {cost} µs");
                            record(&Event::Log {
                                level: Level::Warn,
                                target,
                                message: &message,
                            });
                        }
                        completed.fetch_add(1, Ordering::Relaxed);
                    }
                })
                .expect("spawn worker")
        })
        .collect();

    // The dispatcher: bursts of jobs with costs from 5 µs to 400 µs.
    let start = Instant::now();
    let mut rng = 0x2545_f491_4f6c_dd1du64;
    while start.elapsed().as_secs_f64() < seconds {
        let burst = 1 + next(&mut rng) % 16;
        {
            let mut jobs = queue.jobs.lock().expect("queue lock");
            for _ in 0..burst {
                jobs.push_back(5 + next(&mut rng) % 400);
            }
            record(&Event::Counter {
                name: depth,
                value: jobs.len() as i64,
            });
        }
        queue.ready.notify_all();
        std::thread::sleep(Duration::from_millis(2));
    }
    done.store(true, Ordering::Relaxed);
    queue.ready.notify_all();
    for w in workers {
        w.join().expect("worker panicked");
    }

    let summary = session.stop()?;
    println!(
        "{} jobs done; {summary}\n",
        completed.load(Ordering::Relaxed)
    );
    let code = trace_viewer::cli::report::run(
        out.as_ref(),
        false,
        &mut std::io::stdout(),
        &mut std::io::stderr(),
    )?;
    println!(
        "\nnext: `cargo run --release -p trace-viewer -- report {out}` (or `check`, `--json`)"
    );
    std::process::exit(i32::from(code));
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
