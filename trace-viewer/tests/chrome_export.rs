//! Tests of the Chrome trace JSON export (`trace_analysis::export::chrome` and
//! `trace-viewer export`). Exact output on small traces (wake arrows, nanosecond precision,
//! a poll cut by the end, an empty trace) is in golden files, `tests/testdata/chrome_*.txt`,
//! run by `tests/golden.rs`.
//!
//! [`check`] is the checker: it parses the JSON and verifies what Perfetto needs — slices nest
//! on every track, events are sorted by `(ts, −dur)`, every flow id has exactly one start and
//! one end bound to existing `X` slices (start first), metadata names every tid, tids are
//! 32-bit, non-zero and not the pid, and `ts`/`dur` are printed as µs with three decimals.
//! [`compare_polls`] then checks the µs values against the model: every poll exactly once on
//! its thread's track and once on its task's track, to the nanosecond.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use trace_analysis::export::chrome::{ChromeOptions, ExportStats, write_chrome};
use trace_analysis::model::{CounterKind, Model, Nanos, Span};
use trace_format::Trace;

// ---------------------------------------------------------------------------------------------
// The checker.

/// One event of the export, with its times in nanoseconds.
#[derive(Debug, Clone)]
struct Ev {
    /// Position in the file.
    pos: usize,
    ph: String,
    tid: u64,
    ts: Nanos,
    dur: Nanos,
    v: Value,
}

impl Ev {
    fn cat(&self) -> &str {
        self.v["cat"].as_str().unwrap_or("")
    }

    fn name(&self) -> &str {
        self.v["name"].as_str().unwrap_or("")
    }
}

/// A checked export.
#[derive(Debug)]
struct Checked {
    /// Every non-metadata event, in file order.
    events: Vec<Ev>,
    /// tid → track name.
    names: HashMap<u64, String>,
    /// flow id → (start event, end event), as positions in `events`.
    flows: BTreeMap<u64, (usize, usize)>,
    process_name: String,
}

impl Checked {
    /// The track name of `e` without a ` · lane N` suffix.
    fn track(&self, e: &Ev) -> &str {
        let name = &self.names[&e.tid];
        name.split(" · lane ").next().unwrap()
    }

    fn with_cat<'a>(&'a self, cat: &'a str) -> impl Iterator<Item = &'a Ev> + 'a {
        self.events.iter().filter(move |e| e.cat() == cat)
    }
}

/// µs with exactly three decimals, as a string.
fn is_us(raw: &str) -> bool {
    let Some((int, frac)) = raw.split_once('.') else {
        return false;
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.len() == 3
        && frac.bytes().all(|b| b.is_ascii_digit())
}

/// The raw text of a numeric field in one event's line.
fn raw_field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let at = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = &line[at..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(&rest[..end])
}

fn to_ns(v: &Value) -> Nanos {
    let us = v.as_f64().expect("a number");
    assert!(us >= 0.0, "negative time {us}");
    (us * 1000.0).round() as Nanos
}

/// Parses and checks an export; panics with a message saying what is wrong.
fn check(text: &str) -> Checked {
    let doc: Value = serde_json::from_str(text).expect("the export is valid JSON");
    let all = doc["traceEvents"].as_array().expect("a traceEvents array");

    // One event per line, with ts/dur printed as µs.nnn.
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.first(), Some(&"{\"traceEvents\":["));
    assert_eq!(lines.last(), Some(&"]}"));
    assert_eq!(lines.len(), all.len() + 2, "one event per line");
    for line in &lines[1..lines.len() - 1] {
        for key in ["ts", "dur"] {
            if let Some(raw) = raw_field(line, key) {
                assert!(
                    is_us(raw),
                    "{key} {raw:?} is not µs with 3 decimals: {line}"
                );
            }
        }
    }

    let pid = all[0]["pid"].as_u64().expect("a numeric pid");
    assert!(pid > 0 && pid < 1 << 32, "pid {pid}");
    let mut process_names = Vec::new();
    let mut names: HashMap<u64, String> = HashMap::new();
    let mut sort_index: HashMap<u64, i64> = HashMap::new();
    let mut events = Vec::new();
    for (pos, v) in all.iter().enumerate() {
        assert_eq!(v["pid"].as_u64(), Some(pid), "one pid for all: {v}");
        let ph = v["ph"].as_str().expect("a phase").to_string();
        if ph == "M" {
            let name = v["name"].as_str().unwrap();
            match name {
                "process_name" => {
                    assert!(v.get("tid").is_none());
                    process_names.push(v["args"]["name"].as_str().unwrap().to_string());
                }
                "thread_name" => {
                    let tid = v["tid"].as_u64().unwrap();
                    let name = v["args"]["name"].as_str().unwrap().to_string();
                    assert!(!name.is_empty(), "empty thread name: {v}");
                    assert!(names.insert(tid, name).is_none(), "tid {tid} named twice");
                }
                "thread_sort_index" => {
                    let tid = v["tid"].as_u64().unwrap();
                    let i = v["args"]["sort_index"].as_i64().unwrap();
                    assert!(
                        sort_index.insert(tid, i).is_none(),
                        "tid {tid} sorted twice"
                    );
                }
                other => panic!("metadata Perfetto does not import: {other}"),
            }
            continue;
        }
        let tid = v["tid"].as_u64().unwrap_or_else(|| panic!("no tid: {v}"));
        assert!(tid > 0 && tid < 1 << 32 && tid != pid, "bad tid {tid}");
        assert!(
            names.contains_key(&tid) && sort_index.contains_key(&tid),
            "tid {tid} is used before its metadata: {v}"
        );
        let ts = to_ns(&v["ts"]);
        let dur = match ph.as_str() {
            "X" => to_ns(&v["dur"]),
            "i" => {
                assert_eq!(v["s"], "t", "instants are thread-scoped: {v}");
                0
            }
            "C" => {
                let args = v["args"].as_object().expect("counter args");
                assert_eq!(args.len(), 1, "one series per counter event: {v}");
                assert!(
                    args.values()
                        .all(|x| x.as_f64().is_some_and(f64::is_finite))
                );
                0
            }
            other => panic!("unexpected phase {other}: {v}"),
        };
        assert!(v["name"].is_string(), "no name: {v}");
        events.push(Ev {
            pos,
            ph,
            tid,
            ts,
            dur,
            v: v.clone(),
        });
    }
    assert_eq!(process_names.len(), 1, "one process_name");

    // Global order by (ts, −dur).
    for w in events.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        assert!(
            (a.ts, Nanos::MAX - a.dur) <= (b.ts, Nanos::MAX - b.dur),
            "out of order:\n{}\n{}",
            a.v,
            b.v
        );
    }

    // Slices nest on every track (instants count as zero-length slices).
    let mut open: HashMap<u64, Vec<(Nanos, usize)>> = HashMap::new();
    for e in events.iter().filter(|e| e.ph != "C") {
        let stack = open.entry(e.tid).or_default();
        while stack.last().is_some_and(|&(end, _)| end <= e.ts) {
            stack.pop();
        }
        if let Some(&(end, parent)) = stack.last() {
            assert!(
                e.ts + e.dur <= end,
                "partial overlap on tid {} ({}):\n{}\n{}",
                e.tid,
                names[&e.tid],
                all[parent],
                e.v
            );
        }
        stack.push((e.ts + e.dur, e.pos));
    }

    // Flows: each id one flow_out and one flow_in, on X slices, start before end.
    let mut outs: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut ins: HashMap<u64, Vec<usize>> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        let (out, inn) = (e.v.get("flow_out"), e.v.get("flow_in"));
        let Some(id) = e.v.get("bind_id") else {
            assert!(
                out.is_none() && inn.is_none(),
                "flow without bind_id: {}",
                e.v
            );
            continue;
        };
        assert_eq!(e.ph, "X", "flows bind to complete slices: {}", e.v);
        let id = id.as_u64().expect("numeric bind_id");
        match (out, inn) {
            (Some(Value::Bool(true)), None) => outs.entry(id).or_default().push(i),
            (None, Some(Value::Bool(true))) => ins.entry(id).or_default().push(i),
            _ => panic!("a bind_id needs exactly one of flow_out/flow_in: {}", e.v),
        }
    }
    let mut flows = BTreeMap::new();
    for (id, o) in &outs {
        let i = ins
            .get(id)
            .unwrap_or_else(|| panic!("flow {id} has no end"));
        assert_eq!((o.len(), i.len()), (1, 1), "flow id {id} reused");
        assert!(o[0] < i[0], "flow {id} ends before it starts");
        assert!(events[o[0]].ts <= events[i[0]].ts);
        flows.insert(*id, (o[0], i[0]));
    }
    for id in ins.keys() {
        assert!(outs.contains_key(id), "flow {id} has no start");
    }
    Checked {
        events,
        names,
        flows,
        process_name: process_names.remove(0),
    }
}

/// `start < end` overlap, or a zero-length interval inside — the export's range rule.
fn overlaps(range: Option<Span>, start: Nanos, end: Nanos) -> bool {
    let Some(r) = range else { return true };
    if start == end {
        r.start <= start && start < r.end
    } else {
        start < r.end && end > r.start
    }
}

fn in_range(range: Option<Span>, t: Nanos) -> bool {
    range.is_none_or(|r| r.start <= t && t < r.end)
}

type PollKey = (String, Nanos, Nanos, String);

/// Every poll of the model (overlapping `range`) exactly once on its thread's track (with its
/// task id) and once on its task's track (with its thread), with exact ts and dur.
fn compare_polls(c: &Checked, m: &Model, range: Option<Span>) {
    let mut want: BTreeMap<PollKey, u32> = BTreeMap::new();
    for p in &m.polls {
        if !overlaps(range, p.start, p.end) {
            continue;
        }
        let thread = m.threads[p.thread().index()].label();
        let id = m.tasks[p.task.index()].id.0.to_string();
        *want
            .entry((thread.clone(), p.start, p.end - p.start, id))
            .or_default() += 1;
        *want
            .entry((m.task_label(p.task), p.start, p.end - p.start, thread))
            .or_default() += 1;
    }
    let mut got: BTreeMap<PollKey, u32> = BTreeMap::new();
    for e in c.with_cat("poll") {
        assert_eq!(e.ph, "X");
        let args = &e.v["args"];
        let other = match (args.get("task"), args.get("thread")) {
            (Some(task), None) => task.to_string(),
            (None, Some(thread)) => thread.as_str().unwrap().to_string(),
            _ => panic!("a poll copy names its task or its thread: {}", e.v),
        };
        *got.entry((c.track(e).to_string(), e.ts, e.dur, other))
            .or_default() += 1;
    }
    assert_eq!(got, want);
}

/// The arrows the model implies: per task, the first wake since the start of its previous
/// poll leads to its next poll. `(wake time, poll start, woken task)`.
fn expected_flows(m: &Model, range: Option<Span>) -> Vec<(Nanos, Nanos, String)> {
    let mut out = Vec::new();
    for t in m.task_ixs() {
        let wakes = m.task_wakes(t);
        let (mut i, mut floor) = (0, 0);
        for p in m.task_polls(t) {
            while i < wakes.len() && wakes[i].time < floor {
                i += 1;
            }
            if i < wakes.len() && wakes[i].time <= p.start {
                let w = wakes[i].time;
                if in_range(range, w) && range.is_none_or(|r| p.start < r.end) {
                    out.push((w, p.start, m.task_label(t)));
                }
                i += 1;
            }
            floor = p.start;
        }
    }
    out.sort();
    out
}

fn flows_of(c: &Checked) -> Vec<(Nanos, Nanos, String)> {
    let mut out: Vec<_> = c
        .flows
        .values()
        .map(|&(o, i)| {
            let (o, i) = (&c.events[o], &c.events[i]);
            assert_eq!(o.cat(), "wake");
            assert_eq!(o.dur, 0, "arrows start on a zero-length wake slice");
            assert!(
                i.cat() == "poll" || (i.cat() == "wake" && i.name() == "woken"),
                "arrows end on a poll or a `woken` marker: {}",
                i.v
            );
            // The arrow ends on the woken task's track.
            assert_eq!(
                o.name(),
                format!("wake #{}", c.track(i).rsplit('#').next().unwrap())
            );
            (o.ts, i.ts, c.track(i).to_string())
        })
        .collect();
    out.sort();
    out
}

/// The label of the thread with trace id `id`.
fn thread_label(m: &Model, id: u32) -> String {
    m.threads.iter().find(|t| t.id == id).unwrap().label()
}

fn load(bytes: &[u8]) -> Model {
    Model::build(&Trace::from_bytes(bytes.to_vec()).unwrap()).unwrap()
}

fn export(m: &Model, range: Option<Span>) -> (String, ExportStats) {
    let mut out = Vec::new();
    let stats = write_chrome(
        m,
        &ChromeOptions {
            range,
            progress: None,
        },
        &mut out,
    )
    .unwrap();
    assert_eq!(stats.bytes, out.len() as u64);
    (String::from_utf8(out).unwrap(), stats)
}

// ---------------------------------------------------------------------------------------------
// The fixture.

/// When the fixture starts; round r starts at `T0 + 1000 + 1000 r`.
const T0: Nanos = 1_234_567;
/// Ping-pong rounds in the fixture.
const ROUNDS: u64 = 20;

/// The trace of `tests/testdata/chrome_ping_pong.txt`, in the text form: two tasks playing
/// ping-pong across two workers with wakes between them, and around them every other kind
/// of thing the export writes (the file's comment lists them). The constants above locate
/// things in it; that golden file also pins the whole export.
fn ping_pong() -> Vec<u8> {
    let file = include_str!("testdata/chrome_ping_pong.txt");
    let start = file.find("-- trace --\n").expect("a trace section") + "-- trace --\n".len();
    let end = file.find("-- want --\n").expect("a want section");
    trace_format::text::undump(&file[start..end]).expect("the fixture parses")
}

// ---------------------------------------------------------------------------------------------
// Tests.

#[test]
fn full_export_passes_the_checker_and_matches_the_model() {
    let m = load(&ping_pong());
    assert!(m.anomalies.overlapping_polls > 0, "the fixture has them");
    assert!(
        m.polls.iter().any(|p| p.cut()),
        "the fixture has a cut poll"
    );
    let (text, stats) = export(&m, None);
    let c = check(&text);
    compare_polls(&c, &m, None);
    assert_eq!(c.process_name, "ping \"pong\"");

    // Idle, pauses, regions, instants and counters: each once, with its recorded times.
    let parks: Vec<(Nanos, Nanos)> = m
        .threads
        .iter()
        .flat_map(|t| t.parks.iter().map(|s| (s.start, s.len())))
        .collect();
    let mut got: Vec<(Nanos, Nanos)> = c.with_cat("idle").map(|e| (e.ts, e.dur)).collect();
    let mut want = parks.clone();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    let thread_pauses: usize = m.threads.iter().map(|t| t.pauses.len()).sum();
    assert_eq!(
        c.with_cat("pause").count(),
        thread_pauses + m.process_pauses.len()
    );
    assert_eq!(m.process_pauses.len(), 2);
    assert!(
        c.with_cat("pause")
            .all(|e| e.name() == "pause: compaction" || e.name() == "pause: stall")
    );
    let regions: usize = m.threads.iter().map(|t| t.regions.len()).sum();
    assert_eq!(c.with_cat("region").count(), regions);
    assert_eq!(c.with_cat("log").count(), m.logs.len());
    assert_eq!(c.with_cat("alloc").count(), m.alloc_samples.len());
    let lost: Vec<&Ev> = c.with_cat("lost").collect();
    assert_eq!(lost.len(), 1);
    assert_eq!(lost[0].name(), "data lost: 300 events");
    assert_eq!(lost[0].ts, T0 + 45_000);
    let points: usize = m.counters.iter().map(|s| s.points.len()).sum();
    assert_eq!(c.with_cat("counter").count(), points);
    let counter_names: std::collections::BTreeSet<&str> =
        c.with_cat("counter").map(Ev::name).collect();
    for name in [
        "heap in use",
        "allocated",
        "global queue",
        "alive tasks",
        "blocking threads",
        "worker 0 queue",
        "requests",
    ] {
        assert!(counter_names.contains(name), "no {name} counter");
    }

    // The log line with quotes, a newline, a tab and a control character survives.
    assert!(
        c.with_cat("log")
            .any(|e| e.name() == "ping \"1\"\nsent\t\u{1}")
    );

    // Wake arrows: the model's, each once; the I/O wake in the same nanosecond as its poll
    // ends on a `woken` marker.
    assert_eq!(flows_of(&c), expected_flows(&m, None));
    assert_eq!(stats.flows as usize, c.flows.len());
    assert!(c.flows.len() >= 2 * ROUNDS as usize - 2);
    let woken: Vec<&Ev> = c.with_cat("wake").filter(|e| e.name() == "woken").collect();
    assert_eq!(woken.len(), 1);
    assert_eq!(woken[0].ts, T0 + 1_000 + 7 * 1_000 + 400);
    assert_eq!(c.with_cat("wake").count(), m.wakes.len() + 1);

    // Overlapping intervals went to lanes, so they still nest.
    for lane in [
        &"process pauses · lane 1".to_string(),
        &format!("{} · lane 1", thread_label(&m, 2)),
        &"src/worker.rs:5:1 #11 · lane 1".to_string(),
    ] {
        assert!(c.names.values().any(|n| n == lane), "no track {lane:?}");
    }
    assert!(stats.extra_lanes >= 3);

    // Flags on polls.
    let cut: Vec<&Ev> = c
        .with_cat("poll")
        .filter(|e| e.v["args"]["cut"] == true)
        .collect();
    assert_eq!(cut.len(), 2, "the cut poll on both its tracks");
    assert!(cut.iter().all(|e| e.ts == T0 + 50_000));
    assert!(
        c.with_cat("poll")
            .filter(|e| e.v["args"]["ready"] == true)
            .count()
            >= 6
    );
    // A named task says where it was spawned.
    assert!(
        c.with_cat("poll")
            .any(|e| e.name() == "ping #1" && e.v["args"]["at"] == "src/ping.rs:10:5")
    );

    // Stats agree with the file.
    assert_eq!(
        stats.events as usize,
        c.events.len() + stats.metadata as usize
    );
    assert_eq!(stats.tracks as usize, c.names.len());
    assert_eq!(
        stats.slices as usize,
        c.events.iter().filter(|e| e.ph == "X").count()
    );
    assert_eq!(
        stats.instants as usize,
        c.events.iter().filter(|e| e.ph == "i").count()
    );
    assert_eq!(stats.counter_points as usize, points);
}

#[test]
fn tracks_are_ordered_workers_then_threads_then_tasks_by_location() {
    let m = load(&ping_pong());
    let c = check(&export(&m, None).0);
    let mut by_tid: Vec<(&u64, &String)> = c.names.iter().collect();
    by_tid.sort();
    let names: Vec<&str> = by_tid.iter().map(|(_, n)| n.as_str()).collect();
    let pos = |name: &str| {
        names
            .iter()
            .position(|n| *n == name)
            .unwrap_or_else(|| panic!("no track {name} in {names:?}"))
    };
    let [w0, w1, blocking, main] = [1, 2, 3, 4].map(|id| thread_label(&m, id));
    assert!(pos("process pauses") < pos(&w0));
    assert!(pos(&w0) < pos(&w1));
    assert!(pos(&w1) < pos(&blocking));
    assert!(pos(&blocking) < pos(&main));
    assert!(pos(&main) < pos("ping #1"));
    assert!(pos("ping #1") < pos("src/pong.rs:20:9 #2"));
    // Tasks from src/worker.rs, spawned at different times with others between, are
    // neighbours.
    let (a, b) = (pos("src/worker.rs:5:1 #12"), pos("src/worker.rs:5:1 #11"));
    assert!(a.abs_diff(b) == 1, "{names:?}");
    // The pid is never a tid.
    assert!(!c.names.contains_key(&3));
}

#[test]
fn a_range_keeps_what_overlaps_it_whole_and_only_arrows_with_both_ends() {
    let m = load(&ping_pong());
    // From inside round 4's ping poll to inside round 10's pong poll.
    let range = Span {
        start: T0 + 5_250,
        end: T0 + 11_650,
    };
    let (text, stats) = export(&m, Some(range));
    let c = check(&text);
    compare_polls(&c, &m, Some(range));
    assert_eq!(flows_of(&c), expected_flows(&m, Some(range)));
    assert!(stats.flows > 0);
    for e in &c.events {
        match e.ph.as_str() {
            "X" => assert!(overlaps(Some(range), e.ts, e.ts + e.dur), "{}", e.v),
            _ => assert!(in_range(Some(range), e.ts), "{}", e.v),
        }
    }
    // Round 10's pong wakes ping inside the range, but ping's next poll is after it: no
    // arrow. Round 4's ping poll overlaps `from`, the wake before it does not: no arrow.
    let late = c
        .with_cat("wake")
        .find(|e| e.ts == T0 + 11_600)
        .expect("the last wake in the range");
    assert!(late.v.get("bind_id").is_none(), "{}", late.v);
    let first_ping = c
        .with_cat("poll")
        .find(|e| e.ts == T0 + 5_000 && c.track(e) == "ping #1")
        .expect("round 4's ping poll overlaps the range");
    assert!(first_ping.v.get("bind_id").is_none(), "{}", first_ping.v);
    // Slices crossing the bounds are whole: a process pause starts before `from`.
    assert!(
        c.with_cat("pause")
            .any(|e| e.ts < range.start && e.ts + e.dur > range.start)
    );
    // Each counter series starts with its value at `from`.
    for series in &m.counters {
        let name = match &series.kind {
            CounterKind::HeapInUse => "heap in use".to_string(),
            CounterKind::AllocatedBytes => "allocated".to_string(),
            other => other.label(),
        };
        let before = series.points.iter().rev().find(|p| p.0 < range.start);
        let Some(&(_, value)) = before else { continue };
        let first = c
            .with_cat("counter")
            .find(|e| e.name() == name)
            .unwrap_or_else(|| panic!("no {name} points"));
        assert_eq!(first.ts, range.start, "{name}");
        let v = first.v["args"]
            .as_object()
            .unwrap()
            .values()
            .next()
            .unwrap();
        assert_eq!(v.as_f64(), Some(value), "{name}");
    }
    // Fewer polls than the whole export.
    let (_, all) = export(&m, None);
    assert!(stats.slices < all.slices);
}

/// The checker rejects what Perfetto would misread (so passing it means something).
#[test]
fn the_checker_catches_broken_exports() {
    let doc = |events: &[&str]| {
        let meta = [
            r#"{"ph":"M","name":"process_name","pid":9,"args":{"name":"p"}}"#,
            r#"{"ph":"M","name":"thread_name","pid":9,"tid":1,"args":{"name":"a"}}"#,
            r#"{"ph":"M","name":"thread_sort_index","pid":9,"tid":1,"args":{"sort_index":0}}"#,
        ];
        let all: Vec<&str> = meta.iter().chain(events).copied().collect();
        format!("{{\"traceEvents\":[\n{}\n]}}\n", all.join(",\n"))
    };
    let x = |ts: &str, dur: &str| {
        format!(r#"{{"ph":"X","pid":9,"tid":1,"ts":{ts},"dur":{dur},"name":"s"}}"#)
    };
    let ok = [x("1.000", "5.000"), x("2.000", "1.000")];
    check(&doc(&ok.iter().map(String::as_str).collect::<Vec<_>>()));
    let bad: Vec<Vec<String>> = vec![
        // partial overlap
        vec![x("1.000", "5.000"), x("2.000", "5.000")],
        // out of order
        vec![x("2.000", "1.000"), x("1.000", "5.000")],
        // child before parent at the same ts
        vec![x("1.000", "1.000"), x("1.000", "5.000")],
        // not three decimals
        vec![x("1.5", "1.000")],
        // a tid without metadata
        vec![r#"{"ph":"X","pid":9,"tid":2,"ts":1.000,"dur":1.000,"name":"s"}"#.into()],
        // tid 0
        vec![r#"{"ph":"X","pid":9,"tid":0,"ts":1.000,"dur":1.000,"name":"s"}"#.into()],
        // a flow without an end
        vec![
            r#"{"ph":"X","pid":9,"tid":1,"ts":1.000,"dur":0.000,"name":"w","bind_id":1,"flow_out":true}"#.into(),
        ],
        // a flow id used twice
        vec![
            r#"{"ph":"X","pid":9,"tid":1,"ts":1.000,"dur":0.000,"name":"w","bind_id":1,"flow_out":true}"#.into(),
            r#"{"ph":"X","pid":9,"tid":1,"ts":2.000,"dur":0.000,"name":"w","bind_id":1,"flow_out":true}"#.into(),
            r#"{"ph":"X","pid":9,"tid":1,"ts":3.000,"dur":0.000,"name":"p","bind_id":1,"flow_in":true}"#.into(),
        ],
        // a flow that ends before it starts (same ts, wrong order)
        vec![
            r#"{"ph":"X","pid":9,"tid":1,"ts":1.000,"dur":0.000,"name":"p","bind_id":1,"flow_in":true}"#.into(),
            r#"{"ph":"X","pid":9,"tid":1,"ts":1.000,"dur":0.000,"name":"w","bind_id":1,"flow_out":true}"#.into(),
        ],
    ];
    for events in bad {
        let text = doc(&events.iter().map(String::as_str).collect::<Vec<_>>());
        let caught = std::panic::catch_unwind(|| check(&text));
        assert!(caught.is_err(), "the checker accepted:\n{text}");
    }
}

#[test]
fn an_inverted_range_is_an_error() {
    let m = load(&ping_pong());
    let err = write_chrome(
        &m,
        &ChromeOptions {
            range: Some(Span { start: 10, end: 5 }),
            progress: None,
        },
        std::io::sink(),
    )
    .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn progress_reaches_the_total() {
    let m = load(&ping_pong());
    let seen = std::cell::RefCell::new(Vec::new());
    let progress = |done: u64, total: u64| seen.borrow_mut().push((done, total));
    write_chrome(
        &m,
        &ChromeOptions {
            range: None,
            progress: Some(&progress),
        },
        std::io::sink(),
    )
    .unwrap();
    let seen = seen.into_inner();
    let &(done, total) = seen.last().unwrap();
    assert_eq!(done, total);
    assert!(total as usize >= m.polls.len());
}

/// Writes fail part-way: the error comes back, nothing panics.
#[test]
fn a_failing_writer_is_an_error() {
    struct Full(usize);
    impl std::io::Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0 < buf.len() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    "disk full",
                ));
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let m = load(&ping_pong());
    let err = write_chrome(&m, &ChromeOptions::default(), Full(100)).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::StorageFull);
}

/// A trace recorded by trace-rt from a real tokio runtime exports cleanly.
#[test]
fn a_recorded_trace_exports_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recorded.rtt");
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    builder.worker_threads(2);
    trace_rt::instrument(&mut builder);
    let rt = builder.enable_all().build().unwrap();
    let session = trace_rt::start(&path).unwrap();
    rt.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<u64>(4);
        let consumer = tokio::spawn(async move {
            let mut sum = 0;
            while let Some(v) = rx.recv().await {
                sum += v;
            }
            sum
        });
        let producers: Vec<_> = (0..4)
            .map(|p| {
                let tx = tx.clone();
                tokio::spawn(async move {
                    for i in 0..50 {
                        tx.send(p * 100 + i).await.unwrap();
                        if i % 10 == 0 {
                            tokio::task::yield_now().await;
                        }
                    }
                })
            })
            .collect();
        drop(tx);
        for p in producers {
            p.await.unwrap();
        }
        tokio::task::spawn_blocking(|| std::thread::sleep(std::time::Duration::from_millis(1)))
            .await
            .unwrap();
        consumer.await.unwrap()
    });
    session.stop().unwrap();
    drop(rt);

    let trace = Trace::open(&path).unwrap();
    let m = Model::build(&trace).unwrap();
    assert!(m.polls.len() > 20, "{} polls", m.polls.len());
    let (text, _) = export(&m, None);
    let c = check(&text);
    compare_polls(&c, &m, None);
    assert_eq!(flows_of(&c), expected_flows(&m, None));
    // And a range in the middle.
    let mid = m.start + (m.end - m.start) / 3;
    let range = Span {
        start: mid,
        end: mid + (m.end - m.start) / 3,
    };
    let c = check(&export(&m, Some(range)).0);
    compare_polls(&c, &m, Some(range));
}

// ---------------------------------------------------------------------------------------------
// The command line.

const BIN: &str = env!("CARGO_BIN_EXE_trace-viewer");

fn run(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Output {
    Command::new(BIN)
        .args(args.iter().map(|a| a.as_ref()))
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn fixture_file(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("pingpong.rtt");
    std::fs::write(&path, ping_pong()).unwrap();
    path
}

#[test]
fn cli_export_writes_checked_json_and_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let trace = fixture_file(dir.path());
    let out = dir.path().join("out.json");
    let o = run(&[&"export", &trace, &"--chrome", &out]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    let stdout = text(&o.stdout);
    assert!(stdout.starts_with("wrote "), "{stdout}");
    assert!(stdout.contains("out.json"), "{stdout}");
    assert!(stdout.contains("wake arrows"), "{stdout}");
    let json = std::fs::read_to_string(&out).unwrap();
    let c = check(&json);
    let m = load(&ping_pong());
    compare_polls(&c, &m, None);
    // No progress bar when stderr is not a terminal.
    assert!(!text(&o.stderr).contains('%'), "{}", text(&o.stderr));
}

#[test]
fn cli_export_range_and_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let trace = fixture_file(dir.path());
    let o = run(&[
        &"export",
        &trace,
        &"--chrome",
        &"-",
        &"--from",
        &"5us",
        &"--to",
        &"12.5us",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(text(&o.stderr).starts_with("wrote "), "{}", text(&o.stderr));
    let c = check(&text(&o.stdout));
    let range = Some(Span {
        start: 5_000,
        end: 12_500,
    });
    compare_polls(&c, &load(&ping_pong()), range);
}

#[test]
fn cli_export_to_an_unwritable_path_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let trace = fixture_file(dir.path());
    let out = dir.path().join("no-such-dir").join("out.json");
    let o = run(&[&"export", &trace, &"--chrome", &out]);
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    assert!(err.contains("cannot write"), "{err}");
    assert!(err.contains(&out.display().to_string()), "{err}");
    // A directory is not a file to write to.
    let o = run(&[&"export", &trace, &"--chrome", &dir.path()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("directory"));
}

#[test]
fn cli_export_rejects_bad_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let trace = fixture_file(dir.path());
    let out = dir.path().join("out.json");
    let o = run(&[
        &"export",
        &trace,
        &"--chrome",
        &out,
        &"--from",
        &"20ms",
        &"--to",
        &"10ms",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o.stderr).contains("--from 20 ms"),
        "{}",
        text(&o.stderr)
    );
    assert!(!out.exists(), "nothing written for a usage error");
    // A bare number has no unit.
    let o = run(&[&"export", &trace, &"--chrome", &out, &"--from", &"10"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o.stderr).contains("no unit"), "{}", text(&o.stderr));
    // --chrome is required.
    let o = run(&[&"export", &trace]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn cli_export_of_a_missing_or_corrupt_trace_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let o = run(&[&"export", &dir.path().join("nope.rtt"), &"--chrome", &out]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stderr).contains("nope.rtt"));
    assert!(!out.exists(), "no empty file left behind");

    // Damage a chunk in the middle: the part before it is exported, exit 1.
    let mut bytes = ping_pong();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xFF;
    let trace = dir.path().join("corrupt.rtt");
    std::fs::write(&trace, &bytes).unwrap();
    let o = run(&[&"export", &trace, &"--chrome", &out]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("error: corrupt"), "{err}");
    assert!(err.contains("before the damage"), "{err}");
    check(&std::fs::read_to_string(&out).unwrap());
}

#[test]
fn cli_export_keeps_an_existing_file_when_the_trace_cannot_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("keep.json");
    std::fs::write(&out, "precious").unwrap();
    let o = run(&[&"export", &dir.path().join("nope.rtt"), &"--chrome", &out]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "precious");
}
