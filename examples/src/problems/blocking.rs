//! 1. A blocking call inside async code stalls a worker.
//!
//! The service: an acceptor receives one request per millisecond and spawns a handler task
//! for each (a little CPU work, a `yield_now` standing in for a fast downstream call, a
//! little more CPU work). Every 50th request also spawns an audit task that writes an audit
//! record with a *blocking* call: `std::thread::sleep(20 ms)`, standing in for a synchronous
//! file write + `fsync`, a blocking HTTP client, or `std::sync::mpsc::recv`. While it sleeps,
//! its worker thread cannot run anything else: on a 2-worker runtime, every handler queued
//! behind it waits for the other worker — or for both, when two audits overlap.
//!
//! What the trace shows (recorded with tokio's schedule latency, so that time from wake to
//! poll is measured): the handlers' scheduler wait is many times their running time; the
//! longest polls are all the audit task's, each as long as the blocking call; the worker
//! that ran them shows that poll as its longest; the stalled polls' stacks (sampled while
//! they last) name the function that blocks, `write_audit_record`, in the report's code part.
//!
//! `--fixed` moves the blocking call to `tokio::task::spawn_blocking`, where blocking belongs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use trace_analysis::analysis::overview::{Analysis, AnalysisOptions};
use trace_analysis::model::Model;
use trace_analysis::units::format_duration;

use super::{
    Args, CodeCulprit, Error, Problem, Recorded, Rng, SpawnSite, client, group, latency_line,
    record, site_clause, spin_for, stall_sites,
};

/// How long the audit task blocks its worker.
pub const BLOCKING_CALL: Duration = Duration::from_millis(20);
/// One audit task per this many requests, on average (at random, as requests come).
pub const AUDIT_EVERY: u64 = 50;
/// The time between two requests.
pub const REQUEST_EVERY: Duration = Duration::from_micros(500);

/// The problem, for [`super::main`].
pub const PROBLEM: Problem = Problem {
    name: "blocking_in_async",
    title: "a blocking call inside async code",
    run,
    options: |_| AnalysisOptions::default(),
    report_flags: |_| String::new(),
    verdict,
    next_steps: &[
        "mmu {trace} --long-poll 10ms --per-worker --worst 3 --windows 1ms,10ms,100ms,1s",
        "export {trace} --chrome blocking_in_async.json --from 180ms --to 220ms   # ui.perfetto.dev: the worker tracks",
    ],
};

/// Records the service (the corrected one with `args.fixed`).
pub fn run(args: &Args) -> Result<Recorded, Error> {
    let (audits, handlers) = (SpawnSite::default(), SpawnSite::default());
    let fixed = args.fixed;
    let (mut latencies, summary) = {
        let (audits, handlers) = (audits.clone(), handlers.clone());
        record(args, true, move |duration| {
            service(duration, audits, handlers, fixed)
        })?
    };
    let served = latencies.len();
    Ok(Recorded {
        trace: args.out.clone(),
        summary,
        symptom: format!(
            "{served} requests, latency from arrival to response {}",
            latency_line(&mut latencies)
        ),
        culprit: audits.label(),
        victims_spawned_at: Some(handlers.label()),
        culprit_function: Some(CodeCulprit {
            path: std::any::type_name_of_val(&write_audit_record),
            file: file!(),
            lines: None,
        }),
    })
}

async fn service(
    duration: Duration,
    audits: SpawnSite,
    handlers: SpawnSite,
    fixed: bool,
) -> Vec<Duration> {
    let mut requests = client(REQUEST_EVERY, duration);
    let latencies = Arc::new(Mutex::new(Vec::new()));
    let acceptor = {
        let latencies = latencies.clone();
        tokio::spawn(async move {
            let mut spawned = Vec::new();
            let (mut n, mut rng) = (0u64, Rng::new(7));
            while let Some(arrived) = requests.recv().await {
                n += 1;
                let latencies = latencies.clone();
                spawned.push(handlers.spawn(async move {
                    spin_for(Duration::from_micros(100));
                    latencies.lock().unwrap().push(arrived.elapsed());
                }));
                if rng.one_in(AUDIT_EVERY) {
                    spawned.push(audits.spawn(audit(n, fixed)));
                }
            }
            for h in spawned {
                let _ = h.await;
            }
        })
    };
    let _ = acceptor.await;
    std::mem::take(&mut *latencies.lock().unwrap())
}

/// Writes an audit record: with a blocking call on the worker (the bug), or on the blocking
/// pool (`fixed`).
async fn audit(request: u64, fixed: bool) {
    let record = format!("request {request} served");
    if fixed {
        let _ = tokio::task::spawn_blocking(move || write_audit_record(&record)).await;
    } else {
        write_audit_record(&record);
    }
}

/// A synchronous write + fsync: blocks the calling thread.
fn write_audit_record(record: &str) {
    std::hint::black_box(record);
    std::thread::sleep(BLOCKING_CALL);
}

/// Names the stalled worker, the task that stalled it, the function it was blocked in (the
/// top site of the stalled polls' stacks), and what the request handlers paid.
pub fn verdict(_model: &Model, analysis: &Analysis, recorded: &Recorded) -> String {
    let b = &analysis.breakdown;
    let Some(worker) = b
        .threads
        .iter()
        .filter(|t| t.kind == "worker")
        .max_by_key(|t| t.longest_poll_ns)
    else {
        return "no worker threads in the trace".into();
    };
    let mut line = match b.longest_polls.first() {
        Some(p) if p.duration_ns < BLOCKING_CALL.as_nanos() as u64 / 2 => format!(
            "no worker stalled: the longest poll took {} ({})",
            format_duration(p.duration_ns),
            p.task
        ),
        Some(p) => format!(
            "{} ran a {} poll of {} (tasks spawned at {}); {}",
            worker.thread,
            format_duration(worker.longest_poll_ns),
            p.task,
            p.group,
            site_clause(
                &stall_sites(analysis),
                "the worker was blocked",
                "the stalled polls' time"
            )
        ),
        None => "no polls in the trace".into(),
    };
    if let Some(handlers) = recorded
        .victims_spawned_at
        .as_deref()
        .and_then(|label| group(analysis, label))
    {
        let wait = &handlers.states["sched_wait"];
        line += &format!(
            "; meanwhile the request handlers ({}) waited up to {} for a worker (p99 {}), \
             {} in all against {} running",
            handlers.label,
            format_duration(wait.max),
            format_duration(wait.p99),
            format_duration(wait.total),
            format_duration(handlers.total("running"))
        );
    }
    line
}
