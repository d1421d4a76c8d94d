//! Wake mode (`--features wakes`): tokio's waker events through `trace_rt::wake_layer()`
//! give every wake its waker and source. Each case here builds one kind of wake on purpose.
#![cfg(feature = "wakes")]

mod common;

use std::sync::Once;
use std::time::Duration;

use common::{Model, assert_partition, assert_polls_well_formed, record, serial};
use trace_format::{TaskKind, WakeSource};

fn install_layer() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use tracing_subscriber::prelude::*;
        tracing_subscriber::registry()
            .with(trace_rt::wake_layer())
            .init();
    });
}

fn current_thread() -> tokio::runtime::Runtime {
    install_layer();
    let mut b = tokio::runtime::Builder::new_current_thread();
    trace_rt::instrument(&mut b);
    b.enable_all().build().unwrap()
}

fn multi_thread() -> tokio::runtime::Runtime {
    install_layer();
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(2);
    trace_rt::instrument(&mut b);
    b.enable_all().build().unwrap()
}

fn id_now() -> u64 {
    tokio::task::id().to_string().parse().unwrap()
}

async fn ping_pong_pair(rounds: usize) -> (u64, u64) {
    let (to_b, mut from_a) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let (to_a, mut from_b) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let a = tokio::spawn(async move {
        for i in 0..rounds {
            to_b.send(i).unwrap();
            from_b.recv().await.unwrap();
        }
        id_now()
    });
    let b = tokio::spawn(async move {
        for i in 0..rounds {
            from_a.recv().await.unwrap();
            to_a.send(i).unwrap();
        }
        id_now()
    });
    (a.await.unwrap(), b.await.unwrap())
}

#[test]
fn ping_pong_wakes_are_attributed_to_the_right_task() {
    let _g = serial();
    const PAIRS: usize = 4;
    const M: usize = 50;
    let rt = current_thread();
    let (trace, pairs) = record(|| {
        rt.block_on(async {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..PAIRS {
                set.spawn(ping_pong_pair(M));
            }
            let mut pairs = vec![];
            while let Some(r) = set.join_next().await {
                pairs.push(r.unwrap());
            }
            pairs
        })
    });
    let m = Model::build(&trace);
    assert_eq!(pairs.len(), PAIRS);
    for (a, b) in pairs {
        let (ta, tb) = (&m.tasks[&a], &m.tasks[&b]);
        // A sends first and waits for every reply: first poll + one per reply.
        assert_eq!(ta.polls.len(), M + 1, "A {a}");
        // B's first message is already there at its first poll.
        assert_eq!(tb.polls.len(), M, "B {b}");
        assert_eq!(ta.wakes.len(), M, "A {a}: {:?}", ta.wakes);
        assert_eq!(tb.wakes.len(), M - 1, "B {b}: {:?}", tb.wakes);
        assert!(
            ta.wakes
                .iter()
                .all(|w| w.source == WakeSource::Task && w.waker == b)
        );
        assert!(
            tb.wakes
                .iter()
                .all(|w| w.source == WakeSource::Task && w.waker == a)
        );
    }
    assert_polls_well_formed(&m);
    assert_partition(&m);
}

/// On two workers the hooks' timestamps can be late by however long the OS deschedules a
/// worker between tokio's poll and the after-poll hook (this machine runs 5+ threads on 2
/// cores), so only attribution is checked exactly here; the exact partition and overlap
/// checks run on the current-thread tests.
#[test]
fn ping_pong_on_two_workers_keeps_attribution() {
    let _g = serial();
    let rt = multi_thread();
    let (trace, (a, b)) =
        record(|| rt.block_on(async { tokio::spawn(ping_pong_pair(200)).await.unwrap() }));
    let m = Model::build(&trace);
    for (task, other) in [(a, b), (b, a)] {
        let t = &m.tasks[&task];
        let by_task: Vec<_> = t
            .wakes
            .iter()
            .filter(|w| w.source == WakeSource::Task)
            .collect();
        assert!(
            by_task.iter().all(|w| w.waker == other),
            "task {task}: {by_task:?}"
        );
        // Every poll after the first was preceded by a wake (a message may also arrive
        // before the receiver waits, which needs no wake).
        assert!(!by_task.is_empty());
        assert!(
            t.wakes.len() + 1 >= t.polls.len(),
            "task {task}: {} wakes, {} polls",
            t.wakes.len(),
            t.polls.len()
        );
    }
}

#[test]
fn sleeping_task_waits_on_the_timer() {
    let _g = serial();
    for rt in [current_thread(), multi_thread()] {
        let (trace, id) = record(|| {
            rt.block_on(async {
                tokio::spawn(async {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    id_now()
                })
                .await
                .unwrap()
            })
        });
        let m = Model::build(&trace);
        let t = &m.tasks[&id];
        assert_eq!(t.polls.len(), 2);
        assert_eq!(t.wakes.len(), 1, "{:?}", t.wakes);
        let w = t.wakes[0];
        assert_eq!(w.source, WakeSource::Timer);
        let waited = w.time - t.polls[0].1;
        assert!(
            (19_000_000..40_000_000).contains(&waited),
            "timer wait {waited} ns"
        );
        assert_partition(&m);
    }
}

#[test]
fn socket_reader_waits_on_io() {
    let _g = serial();
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = multi_thread();
    let (trace, id) = record(|| {
        rt.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let reader = tokio::spawn(async move {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 5];
                s.read_exact(&mut buf).await.unwrap();
                id_now()
            });
            let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
            tokio::time::sleep(Duration::from_millis(10)).await;
            c.write_all(b"hello").await.unwrap();
            reader.await.unwrap()
        })
    });
    let m = Model::build(&trace);
    let t = &m.tasks[&id];
    assert!(!t.wakes.is_empty());
    assert!(
        t.wakes.iter().all(|w| w.source == WakeSource::Io),
        "{:?} polls {:?} parks {:?}",
        t.wakes,
        t.polls,
        m.parks
    );
    assert_partition(&m);
}

#[test]
fn spawn_blocking_result_wakes_from_the_blocking_pool() {
    let _g = serial();
    let rt = multi_thread();
    let (trace, id) = record(|| {
        rt.block_on(async {
            tokio::spawn(async {
                tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(10)))
                    .await
                    .unwrap();
                id_now()
            })
            .await
            .unwrap()
        })
    });
    let m = Model::build(&trace);
    let t = &m.tasks[&id];
    assert_eq!(t.wakes.len(), 1, "{:?}", t.wakes);
    assert_eq!(t.wakes[0].source, WakeSource::Blocking);
    let blocking: Vec<_> = m
        .tasks
        .values()
        .filter(|t| t.kind == Some(TaskKind::Blocking) && t.parent == id)
        .collect();
    assert_eq!(blocking.len(), 1, "the spawn_blocking task with its parent");
    assert!(
        m.blocking.iter().any(|&(_, d, _)| d >= 10_000_000),
        "blocking work of >= 10 ms: {:?}",
        m.blocking
    );
    assert_partition(&m);
}

#[test]
fn yield_now_is_a_self_wake() {
    let _g = serial();
    for rt in [current_thread(), multi_thread()] {
        let (trace, id) = record(|| {
            rt.block_on(async {
                tokio::spawn(async {
                    for _ in 0..5 {
                        tokio::task::yield_now().await;
                    }
                    id_now()
                })
                .await
                .unwrap()
            })
        });
        let m = Model::build(&trace);
        let t = &m.tasks[&id];
        assert_eq!(t.polls.len(), 6);
        assert_eq!(t.wakes.len(), 5, "{:?}", t.wakes);
        assert!(
            t.wakes.iter().all(|w| w.source == WakeSource::SelfWake),
            "{:?}",
            t.wakes
        );
        assert_partition(&m);
    }
}

#[test]
fn tasks_spawned_inside_libraries_appear() {
    let _g = serial();
    let rt = multi_thread();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f.txt");
    std::fs::write(&path, b"data").unwrap();
    let (trace, ()) = record(|| {
        rt.block_on(async {
            // tokio::fs runs its work on the blocking pool through its own spawn_blocking.
            assert_eq!(tokio::fs::read(&path).await.unwrap(), b"data");
        })
    });
    let m = Model::build(&trace);
    let lib: Vec<_> = m
        .tasks
        .values()
        .filter(|t| t.kind == Some(TaskKind::Blocking) && t.location.contains("tokio"))
        .collect();
    assert!(
        !lib.is_empty(),
        "no task spawned inside tokio::fs: {:?}",
        m.tasks
    );
}

/// `trace_rt::block_on` records the root future as a task; tokio's own `block_on` span must
/// not add a second one, which nothing polls (it read as waiting for the scheduler until the
/// end of the trace).
#[test]
fn block_on_root_is_one_task() {
    let _g = serial();
    for rt in [current_thread(), multi_thread()] {
        let (trace, ()) = record(|| {
            trace_rt::block_on(&rt, async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                tokio::spawn(async {}).await.unwrap();
            })
        });
        let m = Model::build(&trace);
        let roots: Vec<_> = m
            .tasks
            .iter()
            .filter(|(_, t)| t.location.contains("wakes.rs") && t.kind != Some(TaskKind::Async))
            .collect();
        assert_eq!(roots.len(), 1, "{roots:#?}");
        let (&id, root) = roots[0];
        assert_eq!(root.kind, Some(TaskKind::BlockOn));
        assert!(
            id >= trace_format::TaskId::FIRST_OWN,
            "trace-rt's own id: {id}"
        );
        assert!(
            root.polls.len() >= 2,
            "pends on the sleep: {:?}",
            root.polls
        );
        assert!(root.terminate.is_some());
        assert_partition(&m);
    }
}

/// tokio runs each worker as `spawn_blocking` work of its own. Built and dropped while
/// recording, a runtime's workers must not read as blocking tasks spanning their lifetime
/// (in tokio's own source), and the program's blocking work stays whole.
#[test]
fn worker_threads_are_not_blocking_tasks() {
    let _g = serial();
    let (trace, ()) = record(|| {
        let rt = multi_thread();
        rt.block_on(async {
            tokio::spawn(async { tokio::task::yield_now().await })
                .await
                .unwrap();
            tokio::task::spawn_blocking(|| 1).await.unwrap();
        });
        drop(rt);
    });
    let m = Model::build(&trace);
    let blocking: Vec<_> = m
        .tasks
        .values()
        .filter(|t| t.kind == Some(TaskKind::Blocking))
        .collect();
    assert_eq!(blocking.len(), 1, "{blocking:#?}");
    assert!(blocking[0].location.contains("wakes.rs"), "{blocking:#?}");
    assert!(blocking[0].terminate.is_some());
    let viewer = trace_analysis::model::Model::build(&trace).unwrap();
    let polls_of_blocking: usize = (0..viewer.tasks.len() as u32)
        .map(trace_analysis::model::TaskIx)
        .filter(|&t| viewer.tasks[t.index()].kind == Some(TaskKind::Blocking))
        .map(|t| viewer.task_polls(t).len())
        .sum();
    assert_eq!(polls_of_blocking, 1, "its run, start to end");
    let unknown: Vec<_> = m.tasks.iter().filter(|(_, t)| t.kind.is_none()).collect();
    assert!(
        unknown.is_empty(),
        "tasks seen only at their end: {unknown:#?}"
    );
}

/// tokio calls no task hooks for `LocalSet` tasks; the wake layer records them from their
/// spans: spawn, polls (plus one for dropping the finished future), wakes, terminate.
#[test]
fn local_set_tasks_are_recorded_whole() {
    let _g = serial();
    const ROUNDS: usize = 5;
    for rt in [current_thread(), multi_thread()] {
        let (trace, (a, b)) = record(|| {
            tokio::task::LocalSet::new().block_on(&rt, async {
                let (to_b, mut from_a) = tokio::sync::mpsc::unbounded_channel::<usize>();
                let (to_a, mut from_b) = tokio::sync::mpsc::unbounded_channel::<usize>();
                let a = tokio::task::spawn_local(async move {
                    for i in 0..ROUNDS {
                        to_b.send(i).unwrap();
                        from_b.recv().await.unwrap();
                    }
                    id_now()
                });
                let b = tokio::task::spawn_local(async move {
                    for i in 0..ROUNDS {
                        from_a.recv().await.unwrap();
                        to_a.send(i).unwrap();
                    }
                    id_now()
                });
                (a.await.unwrap(), b.await.unwrap())
            })
        });
        let m = Model::build(&trace);
        for (id, other) in [(a, b), (b, a)] {
            let t = &m.tasks[&id];
            assert_eq!(t.kind, Some(TaskKind::Local), "task {id}");
            assert!(
                t.spawn.is_some() && t.terminate.is_some(),
                "task {id}: {t:?}"
            );
            // ROUNDS + 1 polls, give or take the first round's order, plus the drop.
            assert!(
                (ROUNDS + 1..=ROUNDS + 2).contains(&t.polls.len()),
                "task {id}: {} polls",
                t.polls.len()
            );
            let from_other = t
                .wakes
                .iter()
                .filter(|w| w.source == WakeSource::Task && w.waker == other)
                .count();
            assert!(from_other >= ROUNDS - 1, "task {id}: {:?}", t.wakes);
        }
        assert_polls_well_formed(&m);
        assert_partition(&m);
    }
}

/// tokio's spawn hook carries no name; the wake layer takes it from the task's span, for
/// async, blocking and `LocalSet` tasks alike.
#[test]
fn task_names_from_the_builder_are_recorded() {
    let _g = serial();
    for rt in [current_thread(), multi_thread()] {
        let (trace, ()) = record(|| {
            tokio::task::LocalSet::new().block_on(&rt, async {
                let builder = || tokio::task::Builder::new();
                builder()
                    .name("pinger")
                    .spawn(async { tokio::task::yield_now().await })
                    .unwrap()
                    .await
                    .unwrap();
                builder()
                    .name("disk-writer")
                    .spawn_blocking(|| 1)
                    .unwrap()
                    .await
                    .unwrap();
                builder()
                    .name("local-worker")
                    .spawn_local(async {})
                    .unwrap()
                    .await
                    .unwrap();
                tokio::spawn(async {}).await.unwrap();
            })
        });
        let viewer = trace_analysis::model::Model::build(&trace).unwrap();
        let mut named: Vec<(String, Option<TaskKind>)> = viewer
            .tasks
            .iter()
            .map(|t| (viewer.string(t.name).to_string(), t.kind))
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            named,
            vec![
                (String::new(), Some(TaskKind::Async)),
                ("disk-writer".into(), Some(TaskKind::Blocking)),
                ("local-worker".into(), Some(TaskKind::Local)),
                ("pinger".into(), Some(TaskKind::Async)),
            ]
        );
    }
}
