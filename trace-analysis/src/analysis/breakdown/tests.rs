//! Unit tests of the breakdown's pieces, and of which groups are leak suspects and which
//! long-lived. Whole traces with every number worked out by hand (state totals per group,
//! stuck tasks, longest polls, threads, pauses, a cut recording) are golden files:
//! `trace-viewer/tests/testdata/breakdown_*.txt`, run by `trace-viewer/tests/golden.rs`.

use trace_format::{Trace, text};

use super::*;

#[test]
fn sampled_allocations_are_weighted_by_their_chance_of_being_sampled() {
    // Every allocation sampled (rate 1): each stands for itself.
    assert_eq!(sample_weight(512, 1), 512.0);
    // Small ones stand for about a sample rate's worth; large ones for themselves.
    let small = sample_weight(16, 524_288);
    assert!((small - 524_296.0).abs() < 1.0, "{small}");
    let large = sample_weight(64 << 20, 524_288);
    assert!((large - (64u64 << 20) as f64).abs() < 1.0, "{large}");

    // The rate the recorder wrote is used for samples after it.
    let bytes = text::undump(
        "string id=9 text=\"trace_rt.alloc.sample_rate\"\n\
         1 0 counter name=9 value=1\n\
         1 5 poll_start task=1\n\
         1 6 alloc_sample size=100 task=1\n\
         1 7 alloc_sample size=300 task=1\n\
         1 8 poll_end ready=true\n\
         end\n",
    )
    .unwrap();
    let m = Model::build(&Trace::from_bytes(bytes).unwrap()).unwrap();
    let bd = Breakdown::compute(&m, &BreakdownOptions::default());
    assert_eq!(bd.groups[0].alloc_estimated_bytes, 400);
}

#[test]
fn stats_use_nearest_rank_percentiles() {
    let mut v: Vec<u64> = (1..=100).rev().collect();
    let s = Stats::of(&mut v);
    assert_eq!((s.total, s.p50, s.p99, s.max), (5050, 50, 99, 100));
    assert_eq!(s.mean, 50.5);
    assert_eq!(
        Stats::of(&mut [7]),
        Stats {
            total: 7,
            mean: 7.0,
            p50: 7,
            p99: 7,
            max: 7
        }
    );
    assert_eq!(Stats::of(&mut []), Stats::default());
}

const S: u64 = 1_000_000_000;
const MS: u64 = 1_000_000;

/// The breakdown of a trace in text form, with one worker (thread 1) whose events are
/// `events` (`(time, event)`, sorted here), a location per `file` (ids from 1), and an
/// event at `end`.
fn breakdown(files: &[&str], mut events: Vec<(u64, String)>, end: u64) -> Breakdown {
    let mut text = String::new();
    for (i, f) in files.iter().enumerate() {
        text += &format!("location id={} file=\"{f}\" line=1 column=1\n", i + 1);
    }
    events.push((0, "thread_start kind=worker index=0".into()));
    events.push((end, "worker_park".into()));
    events.sort_by_key(|e| e.0);
    for (time, e) in events {
        text += &format!("1 {time} {e}\n");
    }
    text += "end\n";
    let bytes = text::undump(&text).unwrap();
    let m = Model::build(&Trace::from_bytes(bytes).unwrap()).unwrap();
    Breakdown::compute(&m, &BreakdownOptions::default())
}

/// Task `task` spawned at `location` at `at` (`None`: before the recording), polled once
/// 10 ns later; it then waits to the end.
fn waiter(task: u64, location: u32, at: Option<u64>) -> Vec<(u64, String)> {
    let mut e = Vec::new();
    let at = match at {
        Some(at) => {
            e.push((
                at,
                format!("task_spawn task={task} tokio_id={task} location={location}"),
            ));
            at
        }
        None => 0,
    };
    e.push((at + 10, format!("poll_start task={task}")));
    e.push((at + 20, "poll_end ready=false".into()));
    e
}

#[test]
fn tasks_spawned_over_time_and_never_woken_are_a_leak_suspect_with_their_growth() {
    // 20 tasks from one location, one every 500 ms from 0.5 s to 10 s; the trace ends at 12 s.
    let events = (1..=20)
        .flat_map(|t| waiter(t, 1, Some(t * 500 * MS)))
        .collect();
    let b = breakdown(&["src/leak.rs"], events, 12 * S);
    assert_eq!(b.leak_suspect_count, 1, "{:#?}", b.leak_suspects);
    assert_eq!(b.leak_suspect_tasks, 20);
    assert!(b.long_lived.is_empty(), "{:#?}", b.long_lived);
    let s = &b.leak_suspects[0];
    assert_eq!(s.group, "src/leak.rs:1:1");
    assert_eq!((s.alive_at_start, s.alive_at_end, s.growth), (0, 20, 20));
    assert_eq!((s.tasks, s.finished, s.stuck), (20, 0, 20));
    // Tenths of 1.2 s: spawns in all but the last.
    assert_eq!(s.rose_in_tenths, 9);
    assert!(s.growing_at_end);
    assert!(
        (s.growth_per_s - 20.0 / 12.0).abs() < 1e-9,
        "{}",
        s.growth_per_s
    );
    // The last one has waited 2 s less 20 ns.
    assert_eq!(s.stuck_at_least_ns, 2 * S - 20);
    assert_eq!(
        s.why,
        "alive grew from 0 to 20 over 12 s, rising in 9 of 10 tenths; none of its 20 tasks \
         finished; 20 waiting ≥ 2 s for a wake that never came"
    );
    // Oldest waiting first, at most 10 listed; every one kept for the views.
    let ids: Vec<u64> = s.oldest_waiting.iter().map(|t| t.task_id).collect();
    assert_eq!(ids, (1..=10).collect::<Vec<_>>());
    assert_eq!(s.oldest_waiting[0].waiting_since_ns, 500 * MS + 20);
    assert_eq!(s.oldest_waiting[0].waited_ns, 12 * S - 500 * MS - 20);
    assert_eq!(s.waiting_tasks.len(), 20);
    assert_eq!(
        s.waiting_tasks[19],
        s.waiting_tasks.iter().copied().max().unwrap()
    );
    assert_eq!(b.groups[0].leak_suspects, 20);
    assert_eq!(b.groups[0].alive_at_start, 0);
}

#[test]
fn a_watcher_alive_the_whole_recording_is_long_lived_not_a_suspect() {
    // One watcher spawned at the recording's first instant, one 1 ms later (as a service's
    // shutdown listener is when the recording wraps the service); both wait to the end.
    let mut events = waiter(1, 1, Some(0));
    events.extend(waiter(2, 2, Some(MS)));
    let b = breakdown(&["src/shutdown.rs", "src/purge.rs"], events, 12 * S);
    assert_eq!(b.leak_suspect_count, 0, "{:#?}", b.leak_suspects);
    assert_eq!(b.leak_suspect_tasks, 0);
    assert!(b.groups.iter().all(|g| g.leak_suspects == 0));
    assert_eq!(b.long_lived_count, 2);
    let got: Vec<(&str, u64, &str)> = b
        .long_lived
        .iter()
        .map(|l| (l.group.as_str(), l.stuck, l.why.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                "src/shutdown.rs:1:1",
                1,
                "one task, alive the whole recording, waiting since 20 ns: a long-lived \
                 waiter (a watcher, a periodic job), not a growing group"
            ),
            (
                "src/purge.rs:1:1",
                1,
                "one task alive, spawned while recording, waiting since 1 ms: a long-lived \
                 waiter (a watcher, a periodic job), not a growing group"
            ),
        ]
    );
    assert_eq!(b.long_lived[0].oldest_waiting[0].task_id, 1);
}

#[test]
fn a_steady_pool_or_one_started_with_the_recording_is_not_a_suspect() {
    // 50 workers spawned before the recording (so with no location) and alive at its end, each last polled in the first
    // 5 s; 30 more spawned in its first 30 ms, all waiting for work to the end.
    let mut events: Vec<(u64, String)> = (1..=50)
        .flat_map(|t| {
            let mut w = waiter(t, 1, None);
            w.iter_mut().for_each(|e| e.0 += t * 100 * MS);
            w
        })
        .collect();
    events.extend((51..=80).flat_map(|t| waiter(t, 2, Some((t - 50) * MS))));
    let b = breakdown(&["src/unused.rs", "src/startup.rs"], events, 12 * S);
    assert_eq!(b.leak_suspect_count, 0, "{:#?}", b.leak_suspects);
    let got: Vec<(&str, u64, u64, i64, &str)> = b
        .long_lived
        .iter()
        .map(|l| {
            let g = l.group.as_str();
            (g, l.alive_at_start, l.stuck, l.growth, l.why.as_str())
        })
        .collect();
    assert_eq!(
        got,
        [
            (
                "src/startup.rs:1:1",
                0,
                30,
                30,
                "alive grew from 0 to 30 in the first half of the recording only, then stopped: a \
                 pool started while recording"
            ),
            (
                "<spawn not recorded>",
                50,
                50,
                0,
                "alive count did not grow (from 50 to 50): a pool or long-lived tasks"
            ),
        ],
        "{:#?}",
        b.long_lived
    );
}

#[test]
fn leak_suspects_rank_by_growth() {
    // Three leaking locations: 5, 12 and 3 tasks spread over 10 s (trace ends at 12 s);
    // one more task at the first that finishes.
    let mut events = Vec::new();
    let mut task = 0;
    for (location, n) in [(1u32, 5u64), (2, 12), (3, 3)] {
        for i in 0..n {
            task += 1;
            events.extend(waiter(task, location, Some(S + i * 9 * S / n)));
        }
    }
    task += 1;
    events.push((
        S,
        format!("task_spawn task={task} tokio_id={task} location=1"),
    ));
    events.push((2 * S, format!("poll_start task={task}")));
    events.push((2 * S + 5, format!("task_terminate task={task}")));
    events.push((2 * S + 5, "poll_end ready=true".into()));
    let b = breakdown(&["src/a.rs", "src/b.rs", "src/c.rs"], events, 12 * S);
    let got: Vec<(&str, i64, u64, u64)> = b
        .leak_suspects
        .iter()
        .map(|s| (s.group.as_str(), s.growth, s.stuck, s.finished))
        .collect();
    assert_eq!(
        got,
        [
            ("src/b.rs:1:1", 12, 12, 0),
            ("src/a.rs:1:1", 5, 5, 1),
            ("src/c.rs:1:1", 3, 3, 0)
        ]
    );
    assert_eq!((b.leak_suspect_count, b.leak_suspect_tasks), (3, 20));
    assert!(
        b.leak_suspects[1].why.contains("1 of its 6 tasks finished"),
        "{}",
        b.leak_suspects[1].why
    );
}

#[test]
fn grouped_by_root_region_the_suspect_is_the_region_that_grows() {
    // A library spawns every connection at one line; 10 requests to /stuck (one a second)
    // never finish, 10 to /ok do. By location there is one group; by root region the
    // suspect is the /stuck route's group alone.
    let mut text = String::from(
        "location id=1 file=\"src/serve.rs\" line=1 column=1\n\
         string id=3 text=\"request\"\n\
         string id=4 text=\"app\"\n\
         1 0 thread_start kind=worker index=0\n",
    );
    for i in 0..20u64 {
        let (task, at) = (i + 1, (i / 2 + 1) * S + i % 2 * 100);
        let route = if i % 2 == 0 { "/stuck" } else { "/ok" };
        text += &format!(
            "1 {at} task_spawn task={task} tokio_id={task} location=1\n\
             1 {} poll_start task={task}\n\
             1 {} span_new id={task} parent=0 name=3 target=4 level=info fields=\"route={route} id={i}\"\n\
             1 {} region_begin id={task} name=3\n\
             1 {} region_end id={task}\n",
            at + 1,
            at + 2,
            at + 3,
            at + 4,
        );
        if route == "/ok" {
            text += &format!(
                "1 {} span_close id={task}\n1 {} task_terminate task={task}\n1 {} poll_end ready=true\n",
                at + 5,
                at + 6,
                at + 6
            );
        } else {
            text += &format!("1 {} poll_end ready=false\n", at + 5);
        }
    }
    text += &format!("1 {} worker_park\nend\n", 13 * S);
    let m = Model::build(&Trace::from_bytes(text::undump(&text).unwrap()).unwrap()).unwrap();
    let by = |group_by| {
        let o = BreakdownOptions {
            group_by,
            ..BreakdownOptions::default()
        };
        let b = Breakdown::compute(&m, &o);
        b.leak_suspects
            .iter()
            .map(|s| (s.group.clone(), s.growth, s.tasks, s.finished))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        by(GroupBy::Location),
        [("src/serve.rs:1:1".to_string(), 10, 20, 10)]
    );
    assert_eq!(
        by(GroupBy::Region),
        [("region request route=/stuck".to_string(), 10, 10, 0)]
    );
}
