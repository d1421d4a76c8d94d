//! 4. A task leak: tasks stuck forever waiting on a channel nobody sends to.
//!
//! The service: for each request (one per millisecond) the acceptor registers a oneshot
//! reply channel in a `pending` map, spawns a task that waits for the reply and answers the
//! client, and passes the request to a backend task. The backend answers by taking the
//! sender out of the map. But when the upstream call fails (1 request in 10) the backend's
//! error path just moves on — the sender stays in the map, alive, so the waiting task is
//! never woken, not even with an error. Nothing crashes; memory and the number of tasks
//! grow slowly, forever.
//!
//! What the trace shows: the leaked tasks are alive at the end of the trace and have been
//! waiting since their only poll, and the count of alive tasks spawned where the reply
//! waiters are keeps growing through the recording: `report` names that spawn location as
//! the one leak suspect, with its growth and its oldest waiting tasks. The service's
//! shutdown listener also waits the whole run, longer than any leaked task, but it is one
//! task that never multiplies: the report lists it apart, as a long-lived task.
//!
//! `--fixed` drops the sender on the error path (`pending.remove(&id)`), so the waiter wakes
//! with an error, answers the client, and ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use trace_analysis::analysis::overview::{Analysis, AnalysisOptions};
use trace_analysis::model::{CounterKind, Model};
use trace_analysis::units::format_duration;

use super::{Args, Error, Problem, Recorded, Rng, SpawnSite, client, record, spin_for};

/// One request in this many fails upstream (and leaks its waiter), on average.
pub const FAIL_EVERY: u64 = 10;
/// The time between two requests.
pub const REQUEST_EVERY: Duration = Duration::from_millis(1);

/// The problem, for [`super::main`].
pub const PROBLEM: Problem = Problem {
    name: "task_leak",
    title: "a task leak",
    run,
    options,
    report_flags: |args| {
        format!(
            " --leak-threshold {}",
            format_duration(leak_threshold(args).as_nanos() as u64).replace(' ', "")
        )
    },
    verdict,
    next_steps: &[
        "report {trace} --json   # breakdown.leak_suspects[]: growth, why, oldest waiting tasks",
        "export {trace} --chrome task_leak.json   # ui.perfetto.dev: the 'alive tasks' counter climbs",
    ],
};

/// The leak threshold for a recording of `args.seconds`: a quarter of it, at most 1 s (the
/// report's default), so that tasks leaked in the first three quarters are suspects.
pub fn leak_threshold(args: &Args) -> Duration {
    Duration::from_millis(((args.seconds * 250.0) as u64).clamp(1, 1000))
}

fn options(args: &Args) -> AnalysisOptions {
    let mut o = AnalysisOptions::default();
    o.breakdown.leak_threshold = leak_threshold(args).as_nanos() as u64;
    o
}

/// Records the service (dropping the sender on the error path with `args.fixed`).
pub fn run(args: &Args) -> Result<Recorded, Error> {
    let waiters = SpawnSite::default();
    let fixed = args.fixed;
    let ((outcome, shutdown), summary) = {
        let waiters = waiters.clone();
        record(args, false, move |duration| {
            service(duration, waiters, fixed)
        })?
    };
    // The shutdown listener waited for the whole recording; let it go now.
    drop(shutdown);
    Ok(Recorded {
        trace: args.out.clone(),
        summary,
        symptom: format!(
            "{} requests: {} answered, {} answered with an error, {} never answered \
             ({} reply senders still in the pending map)",
            outcome.requests,
            outcome.answered,
            outcome.errors,
            outcome.requests - outcome.answered - outcome.errors,
            outcome.pending
        ),
        culprit: waiters.label(),
        victims_spawned_at: None,
        culprit_function: None,
    })
}

/// What the clients saw.
#[derive(Debug, Default)]
struct Outcome {
    requests: u64,
    answered: u64,
    errors: u64,
    pending: usize,
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<String>>>>;

async fn service(
    duration: Duration,
    waiters: SpawnSite,
    fixed: bool,
) -> (Outcome, oneshot::Sender<()>) {
    // Waits for the end of the process to flush something: a legitimate long wait.
    let (shutdown, shutdown_rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = shutdown_rx.await;
    });

    let pending: Pending = Arc::default();
    let answered = Arc::new(Mutex::new((0u64, 0u64)));
    let (to_backend, mut backend_rx) = tokio::sync::mpsc::unbounded_channel::<u64>();
    let backend = {
        let pending = pending.clone();
        tokio::spawn(async move {
            let mut rng = Rng::new(11);
            while let Some(id) = backend_rx.recv().await {
                spin_for(Duration::from_micros(20)); // the upstream call
                if rng.one_in(FAIL_EVERY) {
                    // The upstream call failed. The bug: the reply sender stays in `pending`.
                    if fixed {
                        pending.lock().unwrap().remove(&id);
                    }
                    continue;
                }
                if let Some(reply) = pending.lock().unwrap().remove(&id) {
                    let _ = reply.send(format!("reply to {id}"));
                }
            }
        })
    };

    let mut requests = client(REQUEST_EVERY, duration);
    let mut n = 0u64;
    while requests.recv().await.is_some() {
        n += 1;
        let (reply_tx, reply_rx) = oneshot::channel();
        pending.lock().unwrap().insert(n, reply_tx);
        let answered = answered.clone();
        waiters.spawn(async move {
            let ok = reply_rx.await.is_ok();
            let mut a = answered.lock().unwrap();
            if ok { a.0 += 1 } else { a.1 += 1 }
        });
        let _ = to_backend.send(n);
    }
    drop(to_backend);
    let _ = backend.await;
    // Let the last replies reach their waiters.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let (ok, errors) = *answered.lock().unwrap();
    let outcome = Outcome {
        requests: n,
        answered: ok,
        errors,
        pending: pending.lock().unwrap().len(),
    };
    // The leaked waiters' senders must outlive the recording, as they would in a service
    // that keeps running.
    std::mem::forget(pending);
    (outcome, shutdown)
}

/// Names the leak suspect that grew most and why, and the long-lived tasks set apart.
pub fn verdict(model: &Model, analysis: &Analysis, _recorded: &Recorded) -> String {
    let b = &analysis.breakdown;
    let mut line = match b.leak_suspects.first() {
        Some(top) => format!(
            "{} ({} of {}): {}",
            top.group,
            plural(b.leak_suspect_count, "leak suspect", "leak suspects"),
            plural(b.groups.len() as u64, "group", "groups"),
            top.why
        ),
        None => format!(
            "no leak suspects (no group's alive tasks grew with tasks waiting ≥ {})",
            format_duration(b.leak_threshold_ns)
        ),
    };
    if !b.long_lived.is_empty() {
        let groups: Vec<String> = b
            .long_lived
            .iter()
            .map(|l| format!("{} ({} waiting)", l.group, l.stuck))
            .collect();
        line += &format!("; long-lived, not suspects: {}", groups.join(", "));
    }
    if let Some(alive) = model
        .counters
        .iter()
        .find(|c| c.kind == CounterKind::AliveTasks)
        && let (Some(first), Some(last)) = (alive.points.first(), alive.points.last())
    {
        line += &format!(
            "; alive tasks went from {} to {}",
            first.1 as u64, last.1 as u64
        );
    }
    line
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
