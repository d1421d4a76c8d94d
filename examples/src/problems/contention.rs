//! 3. Lock contention: a `std::sync::Mutex`-guarded map under load.
//!
//! The service: 32 connection tasks, each receiving a request every 500 µs or so (a timer
//! stands in for the socket); a request updates the user's session in a shared
//! `Mutex<HashMap>` and renders the response — *while still holding the guard* (100 µs of
//! CPU). The lock is held for the whole render, so only one request at a time makes progress,
//! and with a `std::sync::Mutex` the other worker does not switch to other work while it
//! waits: it blocks inside its poll, in the kernel, until the guard is dropped.
//!
//! What the trace shows, and why this is the variant to reproduce: the waiting happens
//! *inside polls*, so the recorder sees it as running time. The connection group tops the
//! report by running time, both workers are busy all the time, yet the service only does one
//! worker's worth of requests; and the group's mean poll is about twice the 100 µs of work a
//! request does (one worker renders, the other waits for the lock), which is the
//! fingerprint: with 2 workers and a lock held for the whole poll, half of all running time
//! is waiting. The polls that wait longest (past [`STALL_THRESHOLD`]) have their stacks
//! sampled: the report's code part names the function that waits on `Mutex::lock`, `handle`. With a `tokio::sync::Mutex` the waiting would instead be *between* polls, as
//! task → task wakes (the `wakes` feature shows them as "waiting: task"), and the workers would
//! be free to run other tasks meanwhile — less harmful, and a different picture.
//!
//! `--fixed` renders after dropping the guard (the lock protects the map, not the render):
//! polls shrink to the work they do, and the same two workers serve about twice as many
//! requests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use trace_analysis::analysis::overview::{Analysis, AnalysisOptions};
use trace_analysis::model::Model;
use trace_analysis::units::format_duration;

use super::{
    Args, CodeCulprit, Error, Problem, Recorded, SpawnSite, latency_line, record_with, site_clause,
    spin_for, stall_sites,
};

/// Connection tasks.
pub const CONNECTIONS: u64 = 32;
/// CPU time to render one response (done under the lock, in the problem).
pub const RENDER: Duration = Duration::from_micros(100);
/// Time between two requests on one connection (at least; the timer rounds it up).
pub const THINK: Duration = Duration::from_micros(500);
/// Polls longer than this have their stacks sampled while they last (the recorder's
/// default, 5 ms, would catch only the longest waits).
pub const STALL_THRESHOLD: Duration = Duration::from_millis(1);

/// The problem, for [`super::main`].
pub const PROBLEM: Problem = Problem {
    name: "lock_contention",
    title: "lock contention on a std::sync::Mutex",
    run,
    options: |_| AnalysisOptions::default(),
    report_flags: |_| String::new(),
    verdict,
    next_steps: &[
        "report {trace} --json   # breakdown.groups[0]: states.running.total / polls.total",
        "export {trace} --chrome lock_contention.json   # ui.perfetto.dev: polls on both workers, one after the other",
    ],
};

/// Records the service (rendering outside the lock with `args.fixed`).
pub fn run(args: &Args) -> Result<Recorded, Error> {
    let connections = SpawnSite::default();
    let fixed = args.fixed;
    let (mut latencies, summary) = {
        let connections = connections.clone();
        // Polls wait for the lock for a few hundred µs to a few ms: sampled past 1 ms
        // rather than the default 5, their stacks show where they wait
        // (`TRACE_RT_STALL_MS` still decides when set).
        let mut config = super::recorder_config();
        if std::env::var_os("TRACE_RT_STALL_MS").is_none() {
            config = config.stall_threshold(STALL_THRESHOLD);
        }
        record_with(args, false, config, move |duration| {
            service(duration, connections, fixed)
        })?
    };
    let served = latencies.len();
    Ok(Recorded {
        trace: args.out.clone(),
        summary,
        symptom: format!(
            "{served} requests ({:.0}/s on {} workers), time to lock, update and render {}",
            served as f64 / args.seconds,
            super::WORKERS,
            latency_line(&mut latencies)
        ),
        culprit: connections.label(),
        victims_spawned_at: None,
        culprit_function: Some(CodeCulprit {
            path: std::any::type_name_of_val(&handle),
            file: file!(),
            lines: None,
        }),
    })
}

/// One user's session.
#[derive(Debug, Clone, Default)]
struct Session {
    requests: u64,
    last_path: String,
}

async fn service(duration: Duration, connections: SpawnSite, fixed: bool) -> Vec<Duration> {
    let sessions: Arc<Mutex<HashMap<u64, Session>>> = Arc::default();
    let start = Instant::now();
    let mut spawned = Vec::new();
    for user in 0..CONNECTIONS {
        let sessions = sessions.clone();
        spawned.push(connections.spawn(async move {
            let mut latencies = Vec::new();
            while start.elapsed() < duration {
                tokio::time::sleep(THINK).await; // the next request arrives
                let t = Instant::now();
                handle(&sessions, user, fixed);
                latencies.push(t.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for h in spawned {
        latencies.extend(h.await.unwrap_or_default());
    }
    latencies
}

/// Updates the user's session and renders the response: under the guard (the problem), or
/// from a copy after dropping it (`fixed`).
fn handle(sessions: &Mutex<HashMap<u64, Session>>, user: u64, fixed: bool) -> usize {
    let mut map = sessions.lock().unwrap();
    let session = map.entry(user).or_default();
    session.requests += 1;
    session.last_path = format!("/feed?page={}", session.requests);
    if fixed {
        let copy = session.clone();
        drop(map);
        render(&copy)
    } else {
        render(session)
    }
}

fn render(session: &Session) -> usize {
    spin_for(RENDER);
    std::hint::black_box(session.last_path.len())
}

/// Names the group that holds and waits for the lock, with the evidence: its share of the
/// running time and its polls' length against the work a request does; and the function
/// its polls stall in (the top site of the stalled polls' stacks: `handle`, at the lock).
pub fn verdict(_model: &Model, analysis: &Analysis, recorded: &Recorded) -> String {
    let b = &analysis.breakdown;
    let Some(top) = b.groups.first() else {
        return "no tasks in the trace".into();
    };
    let running: u64 = b.groups.iter().map(|g| g.total("running")).sum();
    let mean_poll = top.total("running") / top.polls.total.max(1);
    let busy = b
        .threads
        .iter()
        .filter(|t| t.kind == "worker")
        .map(|t| format!("{} {:.0}%", t.thread, t.busy_fraction * 100.0))
        .collect::<Vec<_>>()
        .join(", ");
    let ratio = mean_poll as f64 / RENDER.as_nanos() as f64;
    format!(
        "{} ({} tasks{}) has {:.0}% of all running time, in polls of {} on average for {} of \
         work each ({:.1}x{}); {}; workers busy: {}",
        top.label,
        top.tasks,
        if top.label == recorded.culprit {
            ", the connections"
        } else {
            ""
        },
        top.total("running") as f64 * 100.0 / running.max(1) as f64,
        format_duration(mean_poll),
        format_duration(RENDER.as_nanos() as u64),
        ratio,
        if ratio >= 1.5 {
            ": the excess is time blocked on the lock inside the polls"
        } else {
            ""
        },
        site_clause(
            &stall_sites(analysis),
            "polls stalled",
            "the stalled polls' time"
        ),
        busy
    )
}
