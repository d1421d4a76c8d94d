//! Unit tests of the export's pieces: the record writer against serde_json, its numbers and
//! escapes, lane packing and tids. The export as a whole is tested in
//! `trace-viewer/tests/chrome_export.rs` and the golden `chrome_*` cases.

use proptest::prelude::*;

use super::json::Out;
use super::plan::{Layout, Packer};
use super::record::{Args, Cat, CounterArg, Event, Meta, MetaArgs, Micros, Name, Phase, Scope};
use crate::model::Nanos;

/// What [`Out`] writes for `records`, one per line, without the document around them.
fn written(write: impl FnOnce(&mut Out<&mut Vec<u8>>)) -> Vec<String> {
    let mut bytes = Vec::new();
    let mut out = Out::new(&mut bytes);
    write(&mut out);
    let len = out.finish().unwrap();
    assert_eq!(len, bytes.len() as u64);
    let text = String::from_utf8(bytes).unwrap();
    let inner = text
        .strip_prefix("{\"traceEvents\":[\n")
        .and_then(|t| t.strip_suffix("\n]}\n"))
        .unwrap_or_else(|| panic!("not a trace document: {text:?}"));
    inner.split(",\n").map(str::to_string).collect()
}

fn slice<'a>(ts: Nanos, dur: Nanos, name: Name<'a>, args: Args<'a>) -> Event<'a> {
    Event {
        ph: Phase::Slice,
        cat: Cat::Poll,
        pid: 7,
        tid: 2,
        ts: Micros(ts),
        dur: Some(Micros(dur)),
        s: None,
        name,
        args,
        bind_id: None,
        flow_out: false,
        flow_in: false,
    }
}

#[test]
fn microseconds_are_exact() {
    let cases: [(Nanos, &str); 5] = [
        (0, "0.000"),
        (7, "0.007"),
        (1_000, "1.000"),
        (1_234_567, "1234.567"),
        (u64::MAX, "18446744073709551.615"),
    ];
    for (ns, want) in cases {
        let lines = written(|o| o.event(&slice(ns, 0, Name::Text("p"), Args::None)));
        assert!(
            lines[0].contains(&format!("\"ts\":{want},\"dur\":0.000,")),
            "{ns} ns: {}",
            lines[0]
        );
    }
}

#[test]
fn strings_are_escaped_as_serde_json_escapes_them() {
    let text = "a\"b\\c\nd\u{1}é\u{8}\u{c}\r\t\u{1f}";
    let event = slice(0, 0, Name::Numbered(text, 3), Args::None);
    let lines = written(|o| o.event(&event));
    assert!(
        lines[0].contains(r#""name":"a\"b\\c\nd\u0001é\b\f\r\t\u001f #3""#),
        "{}",
        lines[0]
    );
    assert_eq!(lines[0], serde_json::to_string(&event).unwrap());
}

#[test]
fn a_record_per_line() {
    let meta = Meta {
        ph: Phase::Meta,
        name: "process_name",
        pid: 7,
        tid: None,
        args: MetaArgs::Name {
            name: Name::Text("app"),
        },
    };
    let lines = written(|o| {
        o.meta(&meta);
        o.event(&slice(1, 2, Name::Text("p"), Args::None));
    });
    assert_eq!(
        lines,
        [
            r#"{"ph":"M","name":"process_name","pid":7,"args":{"name":"app"}}"#,
            r#"{"ph":"X","cat":"poll","pid":7,"tid":2,"ts":0.001,"dur":0.002,"name":"p"}"#,
        ]
    );
}

/// Owned material for a random record (records borrow their strings).
#[derive(Debug, Clone)]
struct Material {
    strings: [String; 3],
    numbers: [u64; 4],
    flags: [bool; 3],
    value: f64,
    /// Which phase, name and args.
    pick: [u8; 3],
}

fn material() -> impl Strategy<Value = Material> {
    // Printable text, control characters, quotes, backslashes and non-ASCII.
    let text = "[a-z \"\\\\\u{0}-\u{1f}é·→]{0,12}";
    let value = prop_oneof![
        any::<i32>().prop_map(f64::from),
        (-1e18..1e18f64),
        Just(-0.0),
        Just(1e300),
        Just(1.5e-7),
    ];
    (
        [text, text, text],
        any::<[u64; 4]>(),
        any::<[bool; 3]>(),
        value,
        any::<[u8; 3]>(),
    )
        .prop_map(|(strings, numbers, flags, value, pick)| Material {
            strings,
            numbers,
            flags,
            value,
            pick,
        })
}

fn name(m: &Material) -> Name<'_> {
    let [a, b, _] = &m.strings;
    let [n, id, ..] = m.numbers;
    match m.pick[1] % 5 {
        0 => Name::Text(a),
        1 => Name::Numbered(a, id),
        2 => Name::Pause(b),
        3 => Name::Count("alloc ", n, " bytes"),
        _ => Name::Track {
            text: a,
            id: m.flags[0].then_some(id),
            lane: n as u32,
        },
    }
}

fn args(m: &Material) -> Args<'_> {
    let [a, b, c] = &m.strings;
    let [n, id, ..] = m.numbers;
    let [f0, f1, f2] = m.flags;
    let task = f2.then_some(id);
    match m.pick[2] % 11 {
        0 => Args::None,
        1 => Args::PollOnThread {
            task,
            at: f0.then_some(a.as_str()),
            ready: f1,
            cut: f2,
        },
        2 => Args::PollOnTask {
            thread: b,
            ready: f0,
            cut: f1,
        },
        3 => Args::Pause {
            scope: if f0 { Scope::Process } else { Scope::Thread },
            thread: f0.then_some(c.as_str()),
            cut: f1,
        },
        4 => Args::Region {
            id: n,
            task,
            cut: f0,
        },
        5 => Args::Wake { source: "io", task },
        6 => Args::Woken {
            source: "task",
            by: task,
        },
        7 => Args::Log {
            level: "WARN",
            target: c,
            task,
        },
        8 => Args::Lost {
            chunks: n,
            events: id,
        },
        9 => Args::Alloc { bytes: n, task },
        _ => Args::Counter(CounterArg {
            key: "bytes",
            value: m.value,
        }),
    }
}

fn event(m: &Material) -> Event<'_> {
    let [ts, dur, id, tid] = m.numbers;
    let (ph, dur, s) = match m.pick[0] % 3 {
        0 => (Phase::Slice, Some(Micros(dur)), None),
        1 => (Phase::Instant, None, Some("t")),
        _ => (Phase::Counter, None, None),
    };
    Event {
        ph,
        cat: Cat::Wake,
        pid: tid as u32 ^ 1,
        tid: tid as u32,
        ts: Micros(ts),
        dur,
        s,
        name: name(m),
        args: args(m),
        bind_id: m.flags[1].then_some(id),
        flow_out: m.flags[1] && m.flags[0],
        flow_in: m.flags[1] && !m.flags[0],
    }
}

fn meta(m: &Material) -> Meta<'_> {
    Meta {
        ph: Phase::Meta,
        name: "thread_name",
        pid: m.numbers[0] as u32,
        tid: m.flags[0].then_some(m.numbers[1] as u32),
        args: if m.flags[1] {
            MetaArgs::Name { name: name(m) }
        } else {
            MetaArgs::SortIndex {
                sort_index: m.numbers[2] as u32,
            }
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The hand writer is a faster serde_json: the same bytes for every record.
    #[test]
    fn the_writer_writes_what_serde_json_writes(m in material()) {
        let (e, meta) = (event(&m), meta(&m));
        let lines = written(|o| {
            o.event(&e);
            o.meta(&meta);
        });
        prop_assert_eq!(&lines[0], &serde_json::to_string(&e).unwrap());
        prop_assert_eq!(&lines[1], &serde_json::to_string(&meta).unwrap());
    }
}

#[test]
fn packer_moves_only_partial_overlaps() {
    let mut p = Packer::default();
    assert_eq!(p.place(0, 100, 0), 0);
    assert_eq!(p.place(10, 20, 0), 0); // inside
    assert_eq!(p.place(20, 20, 0), 0); // zero-length at a boundary
    assert_eq!(p.place(50, 150, 0), 1); // partial overlap
    assert_eq!(p.place(100, 120, 0), 0); // after the first closed
    assert_eq!(p.place(110, 160, 0), 2); // overlaps lane 0's and lane 1's open ones
}

#[test]
fn tids_skip_the_pid() {
    let layout = Layout {
        pid: 3,
        tracks: vec![],
        pauses_base: 0,
        thread_base: vec![],
        task_base: vec![],
        counters: 0,
        extra_lanes: 0,
    };
    let tids: Vec<u32> = (0..4).map(|d| layout.tid(d)).collect();
    assert_eq!(tids, [1, 2, 4, 5]);
}
