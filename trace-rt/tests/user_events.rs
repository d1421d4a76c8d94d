//! Pauses, the `tracing` layer and counters on real threads and runtimes, read back from
//! the trace: a periodic process-wide pause, nesting and overlap, spans and events inside
//! the polls of the task that made them, and counter values.

mod common;

use std::collections::BTreeMap;
use std::sync::Once;
use std::time::Duration;

use common::{record, serial};
use trace_format::{Event, Level, PauseScope, Trace};
use tracing::Instrument;

fn string(trace: &Trace, id: trace_format::StringId) -> &str {
    trace.string(id).unwrap_or("<unknown>")
}

/// Every pause, matched as the module docs say: a `PauseEnd` closes the latest open
/// `PauseBegin` of its kind and scope (per thread for thread scope). Returns
/// (kind, scope, thread of the begin, begin ns, end ns).
fn pauses(trace: &Trace) -> Vec<(String, PauseScope, u32, u64, u64)> {
    // (kind, scope, thread for thread scope) → open pauses (thread, begin ns)
    type Key = (String, u8, Option<u32>);
    let mut open: BTreeMap<Key, Vec<(u32, u64)>> = BTreeMap::new();
    let mut out = vec![];
    for r in trace.events() {
        let r = r.unwrap();
        let t = trace.to_nanos(r.time);
        match r.event {
            Event::PauseBegin { kind, scope } => {
                let key = (
                    string(trace, kind).to_string(),
                    scope as u8,
                    (scope == PauseScope::Thread).then_some(r.thread),
                );
                open.entry(key).or_default().push((r.thread, t));
            }
            Event::PauseEnd { kind, scope } => {
                let key = (
                    string(trace, kind).to_string(),
                    scope as u8,
                    (scope == PauseScope::Thread).then_some(r.thread),
                );
                let (thread, begin) = open
                    .get_mut(&key)
                    .and_then(Vec::pop)
                    .unwrap_or_else(|| panic!("end without begin: {key:?}"));
                out.push((key.0, scope, thread, begin, t));
            }
            _ => {}
        }
    }
    assert!(
        open.values().all(Vec::is_empty),
        "unclosed pauses: {open:?}"
    );
    out.sort_by_key(|p| p.3);
    out
}

#[test]
fn a_20_ms_pause_every_100_ms_for_1_s_appears_as_ten_20_ms_pauses() {
    let _g = serial();
    let (trace, ()) = record(|| {
        std::thread::spawn(|| {
            let start = std::time::Instant::now();
            for i in 0..10u32 {
                // Pause i starts at i × 100 ms.
                let next = Duration::from_millis(100) * i;
                std::thread::sleep(next.saturating_sub(start.elapsed()));
                let _p = trace_rt::pause("compaction");
                std::thread::sleep(Duration::from_millis(20));
            }
        })
        .join()
        .unwrap();
    });
    let ps = pauses(&trace);
    let ms: Vec<f64> = ps.iter().map(|p| (p.4 - p.3) as f64 / 1e6).collect();
    println!("pauses (ms): {ms:.2?}");
    assert_eq!(ps.len(), 10, "{ps:?}");
    for (p, d) in ps.iter().zip(&ms) {
        assert_eq!(p.0, "compaction");
        assert_eq!(p.1, PauseScope::Process);
        // A sleep lasts at least what it was asked; a loaded machine can add a few ms.
        assert!((20.0..35.0).contains(d), "pause of {d} ms");
    }
    // One every 100 ms: begins 100 ms apart (the schedule is absolute, so it does not drift).
    for w in ps.windows(2) {
        let gap = (w[1].3 - w[0].3) as f64 / 1e6;
        assert!((85.0..115.0).contains(&gap), "pauses {gap} ms apart");
    }
    let span = (ps[9].4 - ps[0].3) as f64 / 1e6;
    assert!((915.0..990.0).contains(&span), "ten pauses over {span} ms");
}

#[test]
fn nested_and_overlapping_pauses_pair_by_kind_and_scope() {
    let _g = serial();
    let before = trace_rt::pause("before"); // made while nothing records: never recorded
    let (trace, outlives) = record(|| {
        drop(before);
        let outer = trace_rt::pause("gc");
        let inner = trace_rt::pause("gc"); // nested, same kind
        std::thread::sleep(Duration::from_millis(2));
        drop(inner);
        let other = trace_rt::PauseKind::new("io").pause(); // overlaps "gc", not nested
        std::thread::sleep(Duration::from_millis(2));
        drop(outer);
        // A process-wide pause may end on another thread.
        std::thread::spawn(move || drop(other)).join().unwrap();
        // Thread-scoped pauses of the same kind on two threads at once are independent.
        let mine = trace_rt::pause_thread("flush");
        std::thread::spawn(|| {
            let _theirs = trace_rt::pause_thread("flush");
            std::thread::sleep(Duration::from_millis(2));
        })
        .join()
        .unwrap();
        drop(mine);
        trace_rt::pause("outlives") // dropped after the recording: no end, and no begin dangling
    });
    drop(outlives);
    let ps = pauses_without_outlives(&trace);
    let kinds: Vec<(&str, PauseScope)> = ps.iter().map(|p| (p.0.as_str(), p.1)).collect();
    assert_eq!(
        kinds,
        vec![
            ("gc", PauseScope::Process),
            ("gc", PauseScope::Process),
            ("io", PauseScope::Process),
            ("flush", PauseScope::Thread),
            ("flush", PauseScope::Thread),
        ]
    );
    // The outer "gc" contains the inner one; "io" begins inside "gc" and ends after it.
    let (gc_outer, gc_inner, io) = (&ps[0], &ps[1], &ps[2]);
    assert!(gc_outer.3 <= gc_inner.3 && gc_inner.4 <= gc_outer.4);
    assert!(io.3 > gc_outer.3 && io.3 < gc_outer.4 && io.4 > gc_outer.4);
    // The two "flush" pauses were on different threads; the second is inside the first.
    assert_ne!(ps[3].2, ps[4].2);
    assert!(ps[3].3 <= ps[4].3 && ps[4].4 <= ps[3].4);
}

/// [`pauses`], after checking that the "outlives" pause left just its begin.
fn pauses_without_outlives(trace: &Trace) -> Vec<(String, PauseScope, u32, u64, u64)> {
    let mut begins = 0;
    for r in trace.events() {
        if let Event::PauseBegin { kind, .. } = r.unwrap().event {
            assert_ne!(string(trace, kind), "before");
            begins += usize::from(string(trace, kind) == "outlives");
        }
    }
    assert_eq!(begins, 1);
    // Rebuild the trace's pauses without the unclosed one.
    let mut open: Vec<(String, PauseScope, u32, u64)> = vec![];
    let mut out = vec![];
    for r in trace.events() {
        let r = r.unwrap();
        let t = trace.to_nanos(r.time);
        match r.event {
            Event::PauseBegin { kind, scope } if string(trace, kind) != "outlives" => {
                open.push((string(trace, kind).into(), scope, r.thread, t))
            }
            Event::PauseEnd { kind, scope } => {
                let k = string(trace, kind);
                let i = open
                    .iter()
                    .rposition(|o| {
                        o.0 == k
                            && o.1 == scope
                            && (scope == PauseScope::Process || o.2 == r.thread)
                    })
                    .expect("end without begin");
                let o = open.remove(i);
                out.push((o.0, o.1, o.2, o.3, t));
            }
            _ => {}
        }
    }
    assert!(open.is_empty());
    out.sort_by_key(|p| p.3);
    out
}

#[test]
fn counters_record_their_values() {
    let _g = serial();
    trace_rt::counter("ignored", 1); // not recording
    let queue = trace_rt::Counter::new("queue");
    let (trace, ()) = record(|| {
        for v in [3, 1, -4] {
            queue.set(v);
        }
        trace_rt::counter("cache", i64::MAX);
    });
    let values: Vec<(String, i64)> = trace
        .events()
        .filter_map(|r| match r.unwrap().event {
            Event::Counter { name, value } => Some((string(&trace, name).to_string(), value)),
            _ => None,
        })
        .collect();
    assert_eq!(
        values,
        vec![
            ("queue".into(), 3),
            ("queue".into(), 1),
            ("queue".into(), -4),
            ("cache".into(), i64::MAX)
        ]
    );
}

/// The layer as the process's subscriber (worker threads need a global one), installed once,
/// with a per-layer filter as the layer's docs suggest.
fn install_layer() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        use tracing_subscriber::prelude::*;
        // Only this test's spans and events: with the `wakes` feature tokio's own spans
        // would reach the layer too.
        let ours = tracing_subscriber::filter::Targets::new()
            .with_target("user_events", tracing::Level::TRACE);
        tracing_subscriber::registry()
            .with(trace_rt::layer().with_filter(ours))
            .init();
    });
}

#[test]
fn spans_and_events_appear_as_regions_and_logs_inside_their_task_polls() {
    let _g = serial();
    install_layer();
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(2);
    trace_rt::instrument(&mut b);
    let rt = b.enable_all().build().unwrap();
    const TASKS: u64 = 4;
    const STEPS: u64 = 5;
    let (trace, ids) = record(|| {
        rt.block_on(async {
            let handles: Vec<_> = (0..TASKS)
                .map(|k| {
                    tokio::spawn(
                        async move {
                            for i in 0..STEPS {
                                tracing::info!(job = k, i, "step");
                                tokio::task::yield_now().await;
                            }
                            tracing::warn!("done");
                            tokio::task::id().to_string().parse::<u64>().unwrap()
                        }
                        .instrument(tracing::info_span!("job", k)),
                    )
                })
                .collect();
            let mut ids = vec![];
            for h in handles {
                ids.push(h.await.unwrap());
            }
            ids
        })
    });
    // Walk each thread: the task being polled, and the regions open inside the poll.
    #[derive(Default, Debug)]
    struct Seen {
        regions: usize,
        /// `(time, message, level)`: a task's polls may run on several workers, and threads
        /// are walked one after another, so logs are put in time order afterwards.
        logs: Vec<(u64, String, Level)>,
    }
    let mut seen: BTreeMap<u64, Seen> = BTreeMap::new();
    for thread in trace.thread_ids() {
        let mut poll: Option<u64> = None;
        let mut regions: Vec<u64> = vec![];
        for r in trace.thread_events(thread) {
            let r = r.unwrap();
            match r.event {
                Event::PollStart { task } => poll = Some(task.0),
                Event::PollEnd { .. } => {
                    assert!(regions.is_empty(), "a region open across a poll end");
                    poll = None;
                }
                Event::RegionBegin { id, name } => {
                    assert_eq!(string(&trace, name), "job");
                    let task = poll.expect("region outside any poll");
                    seen.entry(task).or_default().regions += 1;
                    regions.push(id);
                }
                Event::RegionEnd { id } => {
                    assert_eq!(regions.pop(), Some(id), "region ends out of order");
                }
                Event::Log {
                    level,
                    target,
                    message,
                } => {
                    assert_eq!(string(&trace, target), "user_events");
                    assert_eq!(regions.len(), 1, "log outside its span");
                    let task = poll.expect("log outside any poll");
                    let s = seen.entry(task).or_default();
                    s.logs.push((r.time, message.to_string(), level));
                }
                _ => {}
            }
        }
    }
    for (k, id) in ids.iter().enumerate() {
        let s = seen
            .get(id)
            .unwrap_or_else(|| panic!("task {id}: nothing seen"));
        // One region per poll (the first, one after each yield), and one more when
        // `Instrumented` drops the finished future inside its span (in the last poll).
        assert!(
            (STEPS as usize + 1..=STEPS as usize + 2).contains(&s.regions),
            "task {id}: {s:?}"
        );
        let mut logs = s.logs.clone();
        logs.sort_by_key(|l| l.0);
        let messages: Vec<&str> = logs.iter().map(|l| l.1.as_str()).collect();
        let levels: Vec<Level> = logs.iter().map(|l| l.2).collect();
        let mut expected: Vec<String> = (0..STEPS).map(|i| format!("step job={k} i={i}")).collect();
        expected.push("done".into());
        assert_eq!(messages, expected, "task {id}");
        assert_eq!(levels.last(), Some(&Level::Warn));
        assert!(levels[..STEPS as usize].iter().all(|l| *l == Level::Info));
    }
    // Only our tasks made regions and logs.
    assert_eq!(seen.len(), ids.len(), "{seen:?}");
}

/// A spin of `d` wall time inside a poll (busy time of the span that is entered).
fn spin(d: Duration) {
    let start = std::time::Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[test]
fn an_instrumented_task_is_one_span_with_its_fields_and_its_busy_and_idle_time() {
    let _g = serial();
    install_layer();
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(2);
    trace_rt::instrument(&mut b);
    let rt = b.enable_all().build().unwrap();
    const REQUESTS: u64 = 3;
    let (trace, ()) = record(|| {
        rt.block_on(async {
            let handles: Vec<_> = (0..REQUESTS)
                .map(|i| {
                    tokio::spawn(
                        async move {
                            spin(Duration::from_millis(2));
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            spin(Duration::from_millis(2));
                            tracing::Span::current().record("status", 200);
                        }
                        .instrument(tracing::info_span!(
                            "request",
                            route = "/users",
                            id = i,
                            status = tracing::field::Empty
                        )),
                    )
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
        })
    });
    let model = trace_analysis::model::Model::build(&trace).unwrap();
    let requests: Vec<_> = model
        .spans
        .iter()
        .filter(|s| model.string(s.name) == "request")
        .collect();
    // One region per span, although each was entered once per poll and once more on drop.
    assert_eq!(requests.len(), REQUESTS as usize, "{:?}", model.spans);
    let mut ids: Vec<&str> = requests.iter().filter_map(|s| s.field("id")).collect();
    ids.sort();
    assert_eq!(ids, ["0", "1", "2"]);
    for s in &requests {
        assert_eq!(s.field("route"), Some("/users"), "{s:?}");
        assert_eq!(s.field("status"), Some("200"), "recorded later: {s:?}");
        assert_eq!(model.string(s.target), "user_events");
        assert_eq!(s.level, Level::Info);
        assert!(s.closed, "{s:?}");
        assert!(s.enters >= 3, "two polls and the drop: {s:?}");
        // Alive at least the sleep and both spins; busy at least the spins, idle at least
        // most of the sleep.
        assert!(s.span.len() >= 24_000_000, "{s:?}");
        assert!(s.busy >= 4_000_000, "{s:?}");
        assert!(s.idle() >= 15_000_000, "{s:?}");
        assert_ne!(s.task, trace_analysis::model::TaskIx::NONE);
    }
}

#[test]
fn the_layer_records_nothing_while_not_recording() {
    let _g = serial();
    install_layer();
    let span = tracing::info_span!("early");
    let entered = span.enter();
    tracing::info!("not recorded");
    let (trace, ()) = record(|| {
        tracing::info!("recorded");
        drop(entered); // entered before the recording: an end without a begin
    });
    let events: Vec<String> = trace
        .events()
        .filter_map(|r| match r.unwrap().event {
            Event::Log { message, .. } => Some(format!("log {message}")),
            Event::RegionBegin { .. } => Some("begin".into()),
            Event::RegionEnd { .. } => Some("end".into()),
            _ => None,
        })
        .collect();
    assert_eq!(events, vec!["log recorded", "end"]);
}
