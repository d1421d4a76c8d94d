//! The default mode (tokio's hooks, no wake layer) on real runtimes: every task, poll,
//! worker and runtime sample appears, exactly.

mod common;

use std::time::Duration;

use common::{Model, assert_polls_well_formed, record, serial};
use trace_format::{TaskKind, ThreadKind};

fn multi_thread(workers: usize) -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(workers);
    trace_rt::instrument(&mut b);
    b.enable_all().build().unwrap()
}

#[test]
fn every_task_and_poll_is_recorded_exactly() {
    let _g = serial();
    let rt = multi_thread(2);
    const TASKS: usize = 50;
    const YIELDS: usize = 20;
    let (trace, ()) = record(|| {
        rt.block_on(async {
            let handles: Vec<_> = (0..TASKS)
                .map(|_| {
                    tokio::spawn(async {
                        for _ in 0..YIELDS {
                            tokio::task::yield_now().await;
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        })
    });
    let m = Model::build(&trace);
    let ours = m.spawned_at("tokio_hooks.rs");
    assert_eq!(ours.len(), TASKS);
    for (id, t) in ours {
        // One poll per yield plus the first; the last one completes the task.
        assert_eq!(t.polls.len(), YIELDS + 1, "task {id}");
        assert_eq!(t.polls.iter().filter(|p| p.2).count(), 1, "task {id}");
        assert!(t.polls.last().unwrap().2);
        assert!(t.terminate.is_some(), "task {id} never terminated");
        assert_eq!(t.kind, Some(TaskKind::Async));
        assert!(
            t.location
                .ends_with(&format!("tokio_hooks.rs:{}", line_of_spawn())),
            "{}",
            t.location
        );
    }
    assert_polls_well_formed(&m);
    // Both workers declared themselves with their index.
    let mut workers: Vec<u32> = m
        .thread_kinds
        .values()
        .filter(|(k, _)| *k == ThreadKind::Worker)
        .map(|(_, i)| *i)
        .collect();
    workers.sort();
    workers.dedup();
    assert_eq!(workers, vec![0, 1]);
}

fn line_of_spawn() -> u32 {
    // The `tokio::spawn` in `every_task_and_poll_is_recorded_exactly`.
    let src = include_str!("tokio_hooks.rs");
    src.lines()
        .position(|l| l.trim_start().starts_with("tokio::spawn(async {"))
        .unwrap() as u32
        + 1
}

/// tokio calls no spawn or poll hook for `spawn_blocking` work, only the terminate hook, on
/// the blocking-pool thread that ran it. Without the wake layer (which records the work from
/// tokio's spans) that end alone must not become a task that appears from nowhere, with no
/// spawn and no polls (the viewer showed 752 such "tasks" on the quickstart trace).
#[test]
fn spawn_blocking_work_is_not_a_task_seen_only_at_its_end() {
    let _g = serial();
    let rt = multi_thread(2);
    const CALLS: usize = 20;
    let (trace, ()) = record(|| {
        rt.block_on(async {
            for i in 0..CALLS {
                assert_eq!(tokio::task::spawn_blocking(move || i).await.unwrap(), i);
            }
            // Three at once need three blocking-pool threads.
            let together = std::sync::Arc::new(std::sync::Barrier::new(3));
            let calls: Vec<_> = (0..3)
                .map(|_| {
                    let together = together.clone();
                    tokio::task::spawn_blocking(move || {
                        together.wait();
                    })
                })
                .collect();
            for c in calls {
                c.await.unwrap();
            }
            tokio::spawn(async { tokio::task::yield_now().await })
                .await
                .unwrap();
        })
    });
    let m = Model::build(&trace);
    // Each blocking-pool thread has an index of its own (FORMAT: a per-kind counter).
    let blocking: Vec<u32> = m
        .thread_kinds
        .values()
        .filter(|(k, _)| *k == ThreadKind::Blocking)
        .map(|(_, i)| *i)
        .collect();
    let mut distinct = blocking.clone();
    distinct.sort();
    distinct.dedup();
    assert!(blocking.len() >= 3, "{blocking:?}");
    assert_eq!(distinct.len(), blocking.len(), "{blocking:?}");
    let from_nowhere: Vec<u64> = m
        .tasks
        .iter()
        .filter(|(_, t)| t.spawn.is_none() && t.polls.is_empty() && t.wakes.is_empty())
        .map(|(&id, _)| id)
        .collect();
    assert!(
        from_nowhere.is_empty(),
        "{} tasks seen only at their end: {from_nowhere:?}",
        from_nowhere.len()
    );
    // The async task spawned after them is whole.
    let ours = m.spawned_at("tokio_hooks.rs");
    assert_eq!(ours.len(), 1);
    assert_eq!(ours[0].1.polls.len(), 2);
    assert!(ours[0].1.terminate.is_some());
}

#[test]
fn parents_parks_and_samples() {
    let _g = serial();
    let rt = multi_thread(2);
    let (trace, parent_id) = record(|| {
        rt.block_on(async {
            let parent = tokio::spawn(async {
                let child =
                    tokio::spawn(async { tokio::time::sleep(Duration::from_millis(5)).await });
                child.await.unwrap();
                trace_rt_task_id()
            });
            let id = parent.await.unwrap();
            // Idle long enough for parks and a few runtime samples.
            tokio::time::sleep(Duration::from_millis(60)).await;
            id
        })
    });
    let m = Model::build(&trace);
    let child = m
        .tasks
        .values()
        .find(|t| t.parent == parent_id)
        .expect("child task with the parent recorded");
    assert_eq!(
        child.polls.len(),
        2,
        "sleep: first poll pends, second completes"
    );
    assert!(m.parks.iter().any(|p| p.2), "no park recorded");
    assert!(m.parks.iter().any(|p| !p.2), "no unpark recorded");
    assert!(
        m.runtime_samples >= 2,
        "{} runtime samples",
        m.runtime_samples
    );
    assert_polls_well_formed(&m);
}

fn trace_rt_task_id() -> u64 {
    tokio::task::id().to_string().parse().unwrap()
}

#[test]
fn current_thread_runtime_and_many_sessions() {
    let _g = serial();
    let mut b = tokio::runtime::Builder::new_current_thread();
    trace_rt::instrument(&mut b);
    let rt = b.enable_all().build().unwrap();
    for round in 0..3 {
        let (trace, ()) = record(|| {
            rt.block_on(async {
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..10 {
                    set.spawn(async { tokio::task::yield_now().await });
                }
                while set.join_next().await.is_some() {}
            })
        });
        let m = Model::build(&trace);
        let ours = m.spawned_at("tokio_hooks.rs");
        assert_eq!(ours.len(), 10, "round {round}");
        assert!(
            ours.iter()
                .all(|(_, t)| t.polls.len() == 2 && t.terminate.is_some())
        );
        assert_polls_well_formed(&m);
    }
}

#[test]
fn not_recording_records_nothing_and_runtime_still_works() {
    let _g = serial();
    let rt = multi_thread(2);
    let n = rt.block_on(async {
        let mut total = 0;
        for i in 0..100 {
            total += tokio::spawn(async move { i }).await.unwrap();
        }
        total
    });
    assert_eq!(n, 4950);
    assert!(!trace_rt::is_recording());
}

#[test]
fn block_on_root_future_is_a_task() {
    let _g = serial();
    let rt = multi_thread(2);
    let (trace, ()) = record(|| {
        trace_rt::block_on(&rt, async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            tokio::spawn(async {}).await.unwrap();
        })
    });
    let m = Model::build(&trace);
    let (root_id, root) = m
        .tasks
        .iter()
        .find(|(_, t)| t.kind == Some(TaskKind::BlockOn))
        .expect("block_on root task");
    assert!(
        root.location.contains("tokio_hooks.rs"),
        "{}",
        root.location
    );
    assert!(
        root.polls.len() >= 2,
        "pends on the sleep: {:?}",
        root.polls
    );
    assert!(root.polls.last().unwrap().2, "last poll completes");
    assert!(root.terminate.is_some());
    let child = m.spawned_at("tokio_hooks.rs");
    assert!(
        child.iter().any(|(_, t)| t.parent == *root_id),
        "child has the root as parent"
    );
    assert_polls_well_formed(&m);
    // The viewer names it by its place in the recorder's own id range, not by the raw id.
    let viewer = trace_analysis::model::Model::build(&trace).unwrap();
    let ix = viewer
        .tasks
        .iter()
        .position(|t| t.id.0 == *root_id)
        .unwrap();
    let label = viewer.task_label(trace_analysis::model::TaskIx(ix as u32));
    assert!(
        label.contains("tokio_hooks.rs:") && label.contains(" #root"),
        "{label}"
    );
}

#[test]
fn schedule_latency_is_recorded_at_its_poll_and_becomes_scheduler_wait() {
    let _g = serial();
    let mut b = tokio::runtime::Builder::new_current_thread();
    trace_rt::instrument_with(
        &mut b,
        trace_rt::Options {
            schedule_latency: true,
        },
    );
    let rt = b.enable_all().build().unwrap();
    let (trace, ()) = record(|| {
        rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..8 {
                set.spawn(async {
                    for _ in 0..5 {
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                });
            }
            while set.join_next().await.is_some() {}
        })
    });
    // Each latency directly follows its poll's start on the same thread, at the same time.
    let mut latencies = 0;
    for thread in trace.thread_ids() {
        let mut previous: Option<trace_format::Record<'_>> = None;
        for r in trace.thread_events(thread) {
            let r = r.unwrap();
            if let trace_format::Event::ScheduleLatency { task, .. } = r.event {
                let p = previous.expect("a latency after a poll start");
                assert_eq!(p.event, trace_format::Event::PollStart { task });
                assert_eq!(p.time, r.time, "stamped with its poll's start");
                latencies += 1;
            }
            previous = Some(r);
        }
    }
    assert!(latencies >= 8 * 5, "{latencies} latencies");
    // Without wake events, the analysis counts them as scheduler wait.
    let m = trace_analysis::model::Model::build(&trace).unwrap();
    let paused = trace_analysis::analysis::states::paused_spans(&m);
    let sched: u64 = (0..m.tasks.len() as u32)
        .map(trace_analysis::model::TaskIx)
        .map(|t| trace_analysis::analysis::states::task_totals(&m, t, &paused).sched_wait)
        .sum();
    assert!(sched > 0);
}
