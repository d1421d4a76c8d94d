//! Golden tests: every file in `tests/testdata/` is a trace in the text form with the output
//! an analysis must give on it. One harness runs them all.
//!
//! A file is txtar-style: free text first (what the case is about), holding one line
//! `run: ANALYSIS [ARGS…]`; then sections, each opened by a `-- NAME --` line:
//! `-- trace --` (the trace in trace-format's text form, FORMAT.md "Text form") and
//! `-- want --` (the expected output, compared exactly). Analyses:
//!
//! - `model`: what `Model::build` makes of the trace, one line per thing (threads with their
//!   polls, parks, pauses and regions; tasks with their wakes; process pauses, logs,
//!   counters, lost data, schedule latencies, anomalies), times in ns;
//! - `states [TASK…]`: each task's lifetime partitioned into states
//!   (`trace_analysis::analysis::states::for_each_segment`), one `STATE START END` line per
//!   segment, for the tasks given by id (default: all). The harness also checks for every
//!   task that the segments cover the lifetime without gap or overlap and that
//!   `task_totals` add up to it;
//! - `breakdown [leak_threshold=DURATION]`: `Breakdown::compute` as `report --json` writes
//!   it; the harness also checks that the state columns add up to the lifetime;
//! - `cli ARGS…`: the `trace-viewer` command line (`trace_viewer::cli::run`) with `TRACE`
//!   standing for the trace file: `cli mmu TRACE --windows 1s`, `cli export TRACE --chrome -`.
//!   The output is stdout; a non-zero exit adds `exit N` and stderr.
//!
//! `UPDATE_GOLDEN=1 cargo test -p trace-viewer --test golden` rewrites the `want` sections
//! with what the code gives now (review the diff before committing it).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use clap::Parser;
use trace_analysis::analysis::breakdown::{Breakdown, BreakdownOptions, COLUMNS};
use trace_analysis::analysis::states::{for_each_segment, paused_spans, task_totals};
use trace_analysis::model::{Model, TaskIx, ThreadIx};
use trace_format::{Trace, text};

/// One `-- NAME --` section: its name, its text, and the line it starts on (1-based).
struct Section {
    name: String,
    body: String,
    first_line: usize,
}

/// A txtar file: the comment before the first section, and the sections.
struct Txtar {
    comment: String,
    sections: Vec<Section>,
}

fn section_name(line: &str) -> Option<&str> {
    line.strip_prefix("-- ")?.strip_suffix(" --")
}

fn parse_txtar(text: &str) -> Txtar {
    let mut comment = String::new();
    let mut sections: Vec<Section> = vec![];
    for (i, line) in text.split_inclusive('\n').enumerate() {
        match section_name(line.trim_end_matches('\n')) {
            Some(name) => sections.push(Section {
                name: name.to_string(),
                body: String::new(),
                first_line: i + 2,
            }),
            None => match sections.last_mut() {
                Some(s) => s.body.push_str(line),
                None => comment.push_str(line),
            },
        }
    }
    Txtar { comment, sections }
}

fn format_txtar(t: &Txtar) -> String {
    let mut out = t.comment.clone();
    for s in &t.sections {
        let _ = writeln!(out, "-- {} --", s.name);
        out.push_str(&s.body);
        if !s.body.is_empty() && !s.body.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Runs `run` (the `run:` line, split on whitespace) on the trace; `Err` for a broken case.
fn analyse(run: &[&str], trace_bytes: &[u8], dir: &Path) -> Result<String, String> {
    let trace = Trace::from_bytes(trace_bytes.to_vec()).map_err(|e| e.to_string())?;
    let model = || Model::build(&trace).map_err(|e| e.to_string());
    match run {
        ["model"] => Ok(render_model(&model()?)),
        ["states", tasks @ ..] => {
            let m = model()?;
            let wanted: Vec<u64> = tasks
                .iter()
                .map(|t| t.parse().map_err(|_| format!("bad task id {t}")))
                .collect::<Result<_, _>>()?;
            states(&m, &wanted)
        }
        ["breakdown", options @ ..] => {
            let mut o = BreakdownOptions::default();
            for opt in options {
                match opt.split_once('=') {
                    Some(("leak_threshold", d)) => {
                        o.leak_threshold = trace_analysis::units::parse_duration(d)?;
                    }
                    _ => return Err(format!("unknown breakdown option {opt}")),
                }
            }
            let b = Breakdown::compute(&model()?, &o);
            let parts: u64 = COLUMNS[1..].iter().map(|c| b.totals[c]).sum();
            if parts != b.totals["lifetime"] {
                return Err(format!(
                    "the state columns add up to {parts}, not the lifetime {}",
                    b.totals["lifetime"]
                ));
            }
            let mut json = serde_json::to_string_pretty(&b).map_err(|e| e.to_string())?;
            json.push('\n');
            Ok(json)
        }
        ["cli", args @ ..] => {
            let path = dir.join("trace.rtt");
            std::fs::write(&path, trace_bytes).map_err(|e| e.to_string())?;
            let path_str = path.to_str().ok_or("temporary path is not UTF-8")?;
            let argv = std::iter::once("trace-viewer").chain(
                args.iter()
                    .map(|a| if *a == "TRACE" { path_str } else { a }),
            );
            let cli = trace_viewer::cli::Cli::try_parse_from(argv).map_err(|e| e.to_string())?;
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let code = trace_viewer::cli::run(cli, &mut out, &mut err);
            let mut text = String::from_utf8(out).map_err(|e| e.to_string())?;
            if code != 0 {
                let err = String::from_utf8_lossy(&err).replace(path_str, "TRACE");
                let _ = write!(text, "exit {code}\n{err}");
            }
            Ok(text)
        }
        _ => Err(format!("unknown analysis {run:?}")),
    }
}

/// A task by its trace id (`-` for none).
fn task_name(m: &Model, task: TaskIx) -> String {
    match m.tasks.get(task.index()) {
        Some(t) => format!("task {}", t.id),
        None => "no task".into(),
    }
}

/// The `model` analysis.
fn render_model(m: &Model) -> String {
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(
        o,
        "span {}..{}, complete until {}, {} events",
        m.start, m.end, m.complete_until, m.events
    );
    let _ = writeln!(o, "anomalies {:?}", m.anomalies);
    let opt = |v: Option<u64>| v.map_or("-".to_string(), |v| v.to_string());
    for (ix, t) in m.threads.iter().enumerate() {
        let _ = writeln!(
            o,
            "thread {} ({}): start {} stop {}",
            t.id,
            t.label(),
            opt(t.start),
            opt(t.stop)
        );
        for p in m.thread_polls(ThreadIx(ix as u32)) {
            let _ = writeln!(
                o,
                "  poll {} {}..{}{}{}",
                task_name(m, p.task),
                p.start,
                p.end,
                if p.ready() { " ready" } else { "" },
                if p.cut() { " cut" } else { "" }
            );
        }
        for p in &t.parks {
            let _ = writeln!(o, "  park {}..{}", p.start, p.end);
        }
        for p in &t.pauses {
            let _ = writeln!(
                o,
                "  pause {:?} {:?} {}..{} depth {}{}",
                m.string(p.kind),
                p.scope,
                p.span.start,
                p.span.end,
                p.depth,
                if p.cut { " cut" } else { "" }
            );
        }
        for r in &t.regions {
            let _ = writeln!(
                o,
                "  region {} {:?} {}..{} {} depth {}{}",
                r.id,
                m.string(r.name),
                r.span.start,
                r.span.end,
                task_name(m, r.task),
                r.depth,
                if r.cut { " cut" } else { "" }
            );
        }
    }
    for (ix, t) in m.tasks.iter().enumerate() {
        let _ = writeln!(
            o,
            "task {}: kind {:?} tokio_id {} parent {} location {:?} name {:?} spawn {} \
             first_seen {} terminate {}",
            t.id,
            t.kind,
            t.tokio_id,
            task_name(m, t.parent),
            m.location_label(t.location),
            m.string(t.name),
            opt(t.spawn),
            t.first_seen,
            opt(t.terminate)
        );
        for w in m.task_wakes(TaskIx(ix as u32)) {
            let _ = writeln!(
                o,
                "  woken {} by {} on thread {} ({:?})",
                w.time,
                task_name(m, w.waker),
                m.threads[w.thread.index()].id,
                w.source
            );
        }
    }
    for p in &m.process_pauses {
        let _ = writeln!(
            o,
            "process pause {:?} {}..{} from thread {}{}",
            m.string(p.kind),
            p.span.start,
            p.span.end,
            m.threads[p.thread.index()].id,
            if p.cut { " cut" } else { "" }
        );
    }
    for l in &m.logs {
        let _ = writeln!(
            o,
            "log {} thread {} {} {:?} {:?} {:?}",
            l.time,
            m.threads[l.thread.index()].id,
            task_name(m, l.task),
            l.level,
            m.string(l.target),
            l.message
        );
    }
    for c in &m.counters {
        let points: Vec<String> = c.points.iter().map(|(t, v)| format!("{t}={v}")).collect();
        let _ = writeln!(o, "counter {:?}: {}", c.kind.label(), points.join(" "));
    }
    for a in &m.alloc_samples {
        let _ = writeln!(
            o,
            "alloc sample {} {} bytes {} thread {}",
            a.time,
            a.size,
            task_name(m, a.task),
            m.threads[a.thread.index()].id
        );
    }
    for (time, task, nanos) in &m.schedule_latencies {
        let _ = writeln!(
            o,
            "schedule latency {time} {} {nanos} ns",
            task_name(m, *task)
        );
    }
    for l in &m.lost {
        let _ = writeln!(
            o,
            "lost {} thread {}: {} chunks, {} events",
            l.time,
            m.threads[l.thread.index()].id,
            l.chunks,
            l.events
        );
    }
    out
}

/// The `states` analysis, checking the partition of every task on the way.
fn states(m: &Model, wanted: &[u64]) -> Result<String, String> {
    let paused = paused_spans(m);
    let mut out = String::new();
    for (ix, task) in m.tasks.iter().enumerate() {
        let ix = TaskIx(ix as u32);
        let life = task.lifetime(m.end);
        let mut segments = vec![];
        for_each_segment(m, ix, &paused, |s| segments.push(s));
        let mut at = life.start;
        for s in &segments {
            if s.span.start != at || s.span.end <= s.span.start {
                return Err(format!(
                    "task {}: gap, overlap or empty segment at {at}: {segments:?}",
                    task.id
                ));
            }
            at = s.span.end;
        }
        if at != life.end {
            return Err(format!(
                "task {}: segments end at {at}, the lifetime at {}",
                task.id, life.end
            ));
        }
        let total = task_totals(m, ix, &paused).total();
        if total != life.len() {
            return Err(format!(
                "task {}: state totals {total} != lifetime {}",
                task.id,
                life.len()
            ));
        }
        if !wanted.is_empty() && !wanted.contains(&task.id.0) {
            continue;
        }
        let _ = writeln!(out, "task {}", task.id);
        for s in &segments {
            let _ = writeln!(out, "  {} {} {}", s.state.name(), s.span.start, s.span.end);
        }
    }
    Ok(out)
}

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/testdata")
}

/// Runs one golden file; `Err` describes a mismatch or a broken case. With `update`, a
/// mismatch rewrites the file instead.
fn run_case(path: &Path, update: bool) -> Result<(), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let mut t = parse_txtar(&text);
    let run_line = t
        .comment
        .lines()
        .find_map(|l| l.strip_prefix("run: "))
        .ok_or("no `run:` line before the first section")?
        .to_string();
    let run: Vec<&str> = run_line.split_whitespace().collect();
    let trace = t
        .sections
        .iter()
        .find(|s| s.name == "trace")
        .ok_or("no `-- trace --` section")?;
    let bytes = text::undump(&trace.body)
        .map_err(|e| format!("line {}: {}", trace.first_line + e.line - 1, e.message))?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let got = analyse(&run, &bytes, dir.path())?;
    let want = t.sections.iter_mut().find(|s| s.name == "want");
    match want {
        Some(w) if w.body == got => Ok(()),
        _ if update => {
            match t.sections.iter_mut().find(|s| s.name == "want") {
                Some(w) => w.body = got,
                None => t.sections.push(Section {
                    name: "want".into(),
                    body: got,
                    first_line: 0,
                }),
            }
            std::fs::write(path, format_txtar(&t)).map_err(|e| e.to_string())?;
            eprintln!("updated {}", path.display());
            Ok(())
        }
        Some(w) => Err(format!(
            "output differs from `want` (UPDATE_GOLDEN=1 rewrites it):\n{}",
            diff(&w.body, &got)
        )),
        None => Err("no `-- want --` section (UPDATE_GOLDEN=1 writes it)".into()),
    }
}

/// The lines that differ, with their numbers in `want`.
fn diff(want: &str, got: &str) -> String {
    let (w, g): (Vec<&str>, Vec<&str>) = (want.lines().collect(), got.lines().collect());
    let mut out = String::new();
    for i in 0..w.len().max(g.len()) {
        let (a, b) = (w.get(i), g.get(i));
        if a != b {
            let _ = writeln!(
                out,
                "want line {}:\n  - {}\n  + {}",
                i + 1,
                a.unwrap_or(&"<none>"),
                b.unwrap_or(&"<none>")
            );
            if out.lines().count() > 30 {
                out.push_str("  …\n");
                break;
            }
        }
    }
    out
}

#[test]
fn golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some_and(|v| v != "0");
    let mut files: Vec<PathBuf> = std::fs::read_dir(testdata())
        .expect("tests/testdata exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no golden files");
    let mut failures = String::new();
    for f in &files {
        if let Err(e) = run_case(f, update) {
            let _ = writeln!(failures, "{}: {e}\n", f.display());
        }
    }
    assert!(failures.is_empty(), "{failures}");
}

#[test]
fn the_harness_catches_a_wrong_want_and_a_broken_trace() {
    let dir = tempfile::tempdir().unwrap();
    let case = |body: &str| {
        let p = dir.path().join("case.txt");
        std::fs::write(&p, body).unwrap();
        run_case(&p, false)
    };
    let ok = "run: states\n-- trace --\n1 0 task_spawn task=1\n1 5 poll_start task=1\n\
              1 9 poll_end ready=true\nend\n-- want --\ntask 1\n  sched_wait 0 5\n  running 5 9\n";
    assert_eq!(case(ok), Ok(()));
    let wrong = ok.replace("running 5 9", "running 5 8");
    assert!(case(&wrong).unwrap_err().contains("want line 3"));
    let broken = ok.replace("poll_end ready=true", "poll_end ready=yes");
    assert!(
        case(&broken).unwrap_err().starts_with("line 5:"),
        "{:?}",
        case(&broken)
    );
    assert!(
        case("-- trace --\nend\n")
            .unwrap_err()
            .contains("no `run:` line")
    );
}
