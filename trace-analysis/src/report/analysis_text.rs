//! The text form of the report's analysis part: coverage, tasks by spawn location, longest
//! polls, leak suspects and long-lived tasks, thread use, pauses and MMU (with the responsiveness MMU and the
//! share of worker time in long polls), and the long-poll headline for the first screen.

use super::table::{self, Align};
use crate::analysis::breakdown::{Breakdown, Group, WaitingGroup};
use crate::analysis::mmu::MmuPoint;
use crate::analysis::overview::Analysis;
use crate::analysis::utilization::{LongPolls, WorkerPoll};
use crate::units::{format_bytes, format_duration};

/// Groups shown in the text report; the JSON has all of them.
const MAX_GROUPS: usize = 15;

fn dur(ns: u64) -> String {
    if ns == 0 {
        "-".into()
    } else {
        format_duration(ns)
    }
}

fn pct(part: u64, whole: u64) -> String {
    if whole == 0 {
        "-".into()
    } else {
        format!("{:.1}%", part as f64 * 100.0 / whole as f64)
    }
}

/// The wait reasons of a group with any time, largest first: `"timer 1.2 s, io 30 ms"`.
fn waits(g: &Group) -> String {
    let mut w: Vec<(&str, u64)> = [
        ("task", "wait_task"),
        ("io", "wait_io"),
        ("timer", "wait_timer"),
        ("blocking", "wait_blocking"),
        ("foreign", "wait_foreign"),
        ("self", "wait_self"),
        ("unknown", "wait_unknown"),
    ]
    .iter()
    .map(|&(name, column)| (name, g.total(column)))
    .filter(|&(_, v)| v > 0)
    .collect();
    w.sort_by_key(|&(_, v)| std::cmp::Reverse(v));
    if w.is_empty() {
        return "-".into();
    }
    w.iter()
        .map(|(name, v)| format!("{name} {}", format_duration(*v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `"1 ms: 0.998<sep>10 ms: 1.000"`.
fn mmu_points(points: &[MmuPoint], sep: &str) -> String {
    points
        .iter()
        .map(|p| format!("{}: {:.3}", format_duration(p.window), p.mmu))
        .collect::<Vec<_>>()
        .join(sep)
}

/// `"75.0% of worker time was inside polls longer than 1 ms (1234 polls)"`.
fn long_poll_line(l: &LongPolls) -> String {
    let share = l.share * 100.0;
    format!(
        "{} of worker time was inside polls longer than {} ({} {})",
        if share > 0.0 && share < 0.05 {
            "<0.1%".to_string()
        } else {
            format!("{share:.1}%")
        },
        format_duration(l.threshold_ns),
        l.count,
        if l.count == 1 { "poll" } else { "polls" }
    )
}

/// A poll's duration; for one with no end in the file, `"5 s (still running)"` when a
/// finished recording stopped during it, else `"≥ 5 s (data ends)"`: its thread's data stops
/// there, and it lasted at least that long.
fn poll_duration(ns: u64, cut: bool, still_running: bool) -> String {
    match (cut, still_running) {
        (false, _) => format_duration(ns),
        (true, true) => format_duration(ns) + " (still running)",
        (true, false) => format!("≥ {} (data ends)", format_duration(ns)),
    }
}

/// `"20.1 ms, task handler #42 (spawned at src/main.rs:10:5) on worker 0 at 1.23 s"`.
fn worker_poll(p: &WorkerPoll) -> String {
    let location = match &p.location {
        Some(l) if !p.task.starts_with(l.as_str()) => format!(" (spawned at {l})"),
        _ => String::new(),
    };
    format!(
        "{}, task {}{} on {} at {}",
        poll_duration(p.duration_ns, p.cut, p.still_running),
        p.task,
        location,
        p.thread,
        format_duration(p.start_ns)
    )
}

/// The lines for the report's first screen, right under the file summary: when polls over
/// the long-poll threshold take a noticeable share of worker time, their share, the longest
/// one and the MMU with them counted as unavailable beside the pause-only MMU. Empty when
/// they do not (or there is no MMU).
pub fn render_headline(a: &Analysis) -> String {
    let Some(m) = a.mmu.as_ref().filter(|m| m.long_polls_noticeable) else {
        return String::new();
    };
    let l = &m.long_polls;
    let mut text = format!("\nlong polls: {}\n", long_poll_line(l));
    if let Some(p) = &l.worst {
        text += &format!("  longest: {}\n", worker_poll(p));
    }
    text += &format!(
        "  MMU with them unavailable   {}\n",
        mmu_points(&m.responsiveness.windows, "  ")
    );
    if m.responsiveness.windows != m.windows {
        text += &format!(
            "  MMU of pauses alone         {}\n",
            mmu_points(&m.windows, "  ")
        );
    }
    text += &format!(
        "  (per window: trace-viewer mmu FILE --long-poll {})\n",
        format_duration(l.threshold_ns).replace(' ', "")
    );
    text
}

/// Renders the analysis as text sections.
pub fn render_analysis_text(a: &Analysis) -> String {
    use Align::{Left, Right};
    let mut text = String::new();

    text.push_str("\ncoverage\n");
    let yes = |b: bool| if b { "yes" } else { "no" };
    let c = &a.coverage;
    text += &format!(
        "  tasks {}, wakes {}, schedule latency {}, allocator {}, pauses {}, tracing {}\n",
        yes(c.tasks),
        yes(c.wakes),
        yes(c.schedule_latency),
        yes(c.allocator),
        yes(c.pauses),
        yes(c.tracing)
    );
    for note in &c.notes {
        text += &format!("  note: {note}\n");
    }

    let b = &a.breakdown;
    text += &format!(
        "\ntasks by {} ({} tasks in {} groups; times are totals over the group's tasks)\n",
        b.group_by.heading(),
        b.tasks,
        b.groups.len()
    );
    if b.groups.is_empty() {
        text.push_str("  none\n");
    } else {
        let allocs = b.groups.iter().any(|g| g.alloc_samples > 0);
        let mut head: Vec<String> = [
            if b.group_by == crate::analysis::groups::GroupBy::Location {
                "spawned at"
            } else {
                "group"
            },
            "tasks",
            "alive",
            "polls",
            "running",
            "sched wait",
            "paused",
        ]
        .map(String::from)
        .to_vec();
        if allocs {
            head.push("allocated (est.)".into());
        }
        head.push("waiting (by wake source)".into());
        let mut rows = vec![head];
        for g in b.groups.iter().take(MAX_GROUPS) {
            let mut row = vec![
                g.label.clone(),
                g.tasks.to_string(),
                if g.alive_at_end == 0 {
                    "-".into()
                } else {
                    g.alive_at_end.to_string()
                },
                g.polls.total.to_string(),
                dur(g.total("running")),
                dur(g.total("sched_wait")),
                dur(g.total("paused")),
            ];
            if allocs {
                row.push(if g.alloc_samples == 0 {
                    "-".into()
                } else {
                    format_bytes(g.alloc_estimated_bytes)
                });
            }
            row.push(waits(g));
            rows.push(row);
        }
        let mut align = vec![Left, Right, Right, Right, Right, Right, Right];
        if allocs {
            align.push(Right);
        }
        align.push(Left);
        text += &table::render(&rows, &align, "  ");
        if b.groups.len() > MAX_GROUPS {
            text += &format!(
                "  … {} more groups (all of them in --json)\n",
                b.groups.len() - MAX_GROUPS
            );
        }
    }

    text.push_str(&super::code_text::render_code_text(&a.code));
    if !a.regions.groups.is_empty() {
        text.push('\n');
        let long_poll = crate::analysis::regions::RegionsOptions::default().long_poll;
        text.push_str(&super::regions_text::render_regions_text(
            &a.regions,
            long_poll,
            Some(10),
        ));
    }

    text.push_str("\nlongest polls\n");
    if b.longest_polls.is_empty() {
        text.push_str("  none\n");
    } else {
        let mut rows = vec![
            ["duration", "at", "thread", "task"]
                .map(String::from)
                .to_vec(),
        ];
        for p in &b.longest_polls {
            rows.push(vec![
                poll_duration(p.duration_ns, p.cut, p.still_running),
                format_duration(p.start_ns),
                p.thread.clone(),
                p.task.clone(),
            ]);
        }
        text += &table::render(&rows, &[Right, Right, Left, Left], "  ");
    }

    text += &leaks(b);

    text.push_str("\nthreads\n");
    if b.threads.is_empty() {
        text.push_str("  none\n");
    } else {
        let mut rows = vec![
            [
                "thread",
                "busy",
                "idle",
                "paused",
                "other",
                "polls",
                "longest poll",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for t in &b.threads {
            rows.push(vec![
                t.thread.clone(),
                pct(t.busy_ns, t.span_ns),
                pct(t.idle_ns, t.span_ns),
                pct(t.paused_ns, t.span_ns),
                pct(t.other_ns, t.span_ns),
                t.polls.to_string(),
                dur(t.longest_poll_ns),
            ]);
        }
        text += &table::render(
            &rows,
            &[Left, Right, Right, Right, Right, Right, Right],
            "  ",
        );
    }

    text.push_str("\npauses\n");
    if b.pauses.is_empty() {
        text.push_str("  none\n");
    } else {
        let mut rows = vec![
            ["kind", "scope", "count", "total", "mean", "max"]
                .map(String::from)
                .to_vec(),
        ];
        for p in &b.pauses {
            rows.push(vec![
                p.kind.clone(),
                p.scope.to_string(),
                p.count.to_string(),
                format_duration(p.total_ns),
                format_duration(p.mean_ns.round() as u64),
                format_duration(p.max_ns),
            ]);
        }
        text += &table::render(&rows, &[Left, Left, Right, Right, Right, Right], "  ");
    }

    text.push_str("\nminimum mutator utilization\n");
    match (&a.mmu, &a.mmu_unavailable) {
        (Some(m), _) => {
            text += &format!(
                "  {} workers, mean utilization {:.3}\n  MMU   {}\n",
                m.workers,
                m.mean,
                mmu_points(&m.windows, "   ")
            );
            text += &format!(
                "  at {}: worst {:.3}, 99.9% of windows ≥ {:.3}, 99% ≥ {:.3}, 95% ≥ {:.3}\n",
                format_duration(m.mud_window_ns),
                m.mud.worst,
                m.mud.p99_9,
                m.mud.p99,
                m.mud.p95
            );
            for w in m.worst_windows.iter().filter(|w| w.utilization < 1.0) {
                text += &format!(
                    "  worst window at {}: utilization {:.3}\n",
                    format_duration(w.start),
                    w.utilization
                );
            }
            let r = &m.responsiveness;
            text += &format!(
                "  with polls over {} as unavailable (responsiveness): mean {:.3}\n  MMU   {}\n",
                format_duration(r.long_poll_ns),
                r.mean,
                mmu_points(&r.windows, "   ")
            );
            text += &format!("  {}\n", long_poll_line(&m.long_polls));
            if let Some(p) = &m.long_polls.worst {
                text += &format!("  longest poll on a worker: {}\n", worker_poll(p));
            }
        }
        (None, Some(why)) => text += &format!("  not available: {why}\n"),
        (None, None) => text.push_str("  not available\n"),
    }

    let an = &a.anomalies;
    if an.unmatched_ends + an.overlapping_polls + an.duplicate_spawns > 0 {
        text += &format!(
            "\nrepairs: {} ends without a start, {} polls overlapping the same task's previous poll \
             (clamped), {} duplicate spawns\n",
            an.unmatched_ends, an.overlapping_polls, an.duplicate_spawns
        );
    }
    text
}

/// Stuck tasks listed per leak-suspect group in the text; the JSON has more.
const WAITING_TASKS: usize = 5;

/// Where a group's stuck tasks wait, from the task dump: per await trace, how many wait
/// there and its frames, outermost first, one per line.
fn wait_sites(g: &WaitingGroup) -> String {
    let mut text = String::new();
    for site in &g.wait_sites {
        text += &format!("      {} of {} wait at (task dump):\n", site.tasks, g.stuck);
        for (depth, frame) in site.frames.iter().enumerate() {
            let indent = "  ".repeat(depth.min(8));
            text += &format!("        {indent}{frame}\n");
        }
    }
    text
}

/// The leak suspects (groups whose alive count grew, with why, and their longest waiting
/// tasks) and the long-lived tasks (the other groups with stuck tasks, with why not).
fn leaks(b: &Breakdown) -> String {
    use Align::{Left, Right};
    let cut = match b.complete_until_ns {
        // The wake or terminate that ended a wait may be in the tail the cut lost.
        Some(t) => format!(
            "; recording cut: waiting counted until {}",
            format_duration(t)
        ),
        None => String::new(),
    };
    let threshold = format_duration(b.leak_threshold_ns);
    let mut text = format!(
        "\nleak suspects (groups whose alive tasks grew, with tasks waiting ≥ {threshold}{cut}): \
         {}\n",
        b.leak_suspect_count
    );
    for s in &b.leak_suspects {
        text += &format!("  {:+}  {}\n      {}\n", s.growth, s.group, s.why);
        text += &wait_sites(s);
        let mut rows = vec![["waiting for", "polls", "task"].map(String::from).to_vec()];
        for t in s.oldest_waiting.iter().take(WAITING_TASKS) {
            rows.push(vec![
                format_duration(t.waited_ns),
                t.polls.to_string(),
                t.task.clone(),
            ]);
        }
        text += &table::render(&rows, &[Right, Right, Left], "      ");
        more(&mut text, "      ", s.stuck, rows.len() as u64 - 1);
    }
    more(
        &mut text,
        "  ",
        b.leak_suspect_count,
        b.leak_suspects.len() as u64,
    );

    text += &format!(
        "\nlong-lived tasks (alive at the end, waiting ≥ {threshold}, in groups that are not \
         leak suspects): {}\n",
        b.long_lived_count
    );
    for l in &b.long_lived {
        text += &format!("  {}  {}\n      {}\n", l.group, waiting(l), l.why);
        text += &wait_sites(l);
    }
    more(
        &mut text,
        "  ",
        b.long_lived_count,
        b.long_lived.len() as u64,
    );
    text
}

/// `"1 waiting 12 s"`, `"50 waiting, the longest 12 s"`.
fn waiting(g: &WaitingGroup) -> String {
    let longest = format_duration(g.oldest_waiting.first().map_or(0, |t| t.waited_ns));
    match g.stuck {
        1 => format!("1 task waiting {longest}"),
        n => format!("{n} tasks waiting, the longest {longest}"),
    }
}

fn more(text: &mut String, indent: &str, all: u64, shown: u64) {
    if all > shown {
        *text += &format!("{indent}… {} more\n", all - shown);
    }
}

#[cfg(test)]
mod tests {
    use trace_format::build::TraceBuilder;
    use trace_format::{Event, TaskId, ThreadKind, Trace};

    use super::render_analysis_text;
    use crate::analysis::overview::{Analysis, AnalysisOptions};
    use crate::model::Model;

    /// A worker inside a poll when the recording was cut, or when a finished one stopped:
    /// only the second is "still running"; the first is where the data ends.
    #[test]
    fn an_open_poll_reads_data_ends_in_a_cut_recording() {
        let text = |finish: bool| {
            let mut b = TraceBuilder::new();
            b.push(
                1,
                0,
                Event::ThreadStart {
                    kind: ThreadKind::Worker,
                    index: 0,
                },
            );
            b.push(1, 1_000_000_000, Event::PollStart { task: TaskId(7) });
            b.push(2, 5_000_000_000, Event::WorkerPark);
            let model = Model::build(&Trace::from_bytes(b.write(finish)).unwrap()).unwrap();
            render_analysis_text(&Analysis::compute(&model, &AnalysisOptions::default()))
        };
        let cut = text(false);
        assert!(cut.contains("≥ 2.85 s (data ends)"), "{cut}");
        assert!(
            cut.contains("recording cut: waiting counted until"),
            "{cut}"
        );
        assert!(!cut.contains("still running"), "{cut}");
        let finished = text(true);
        assert!(finished.contains("(still running)"), "{finished}");
        assert!(!finished.contains("data ends"), "{finished}");
    }

    /// A group whose alive tasks grew is a suspect, with its growth, why and its oldest
    /// waiting tasks; a lone watcher is listed apart, long-lived.
    #[test]
    fn leak_suspects_say_why_and_long_lived_tasks_are_apart() {
        let mut trace = String::from(
            "location id=1 file=\"src/leak.rs\" line=1 column=1\n\
             location id=2 file=\"src/watch.rs\" line=1 column=1\n\
             1 0 thread_start kind=worker index=0\n\
             1 0 task_spawn task=9 tokio_id=9 location=2\n\
             1 1 poll_start task=9\n\
             1 2 poll_end ready=false\n",
        );
        for t in 1..=6u64 {
            let at = t * 1_000_000_000;
            trace += &format!(
                "1 {at} task_spawn task={t} tokio_id={t} location=1\n\
                 1 {} poll_start task={t}\n1 {} poll_end ready=false\n",
                at + 1,
                at + 2
            );
        }
        trace += "1 10000000000 worker_park\nend\n";
        let bytes = trace_format::text::undump(&trace).unwrap();
        let model = Model::build(&Trace::from_bytes(bytes).unwrap()).unwrap();
        let text = render_analysis_text(&Analysis::compute(&model, &AnalysisOptions::default()));
        for want in [
            "leak suspects (groups whose alive tasks grew, with tasks waiting ≥ 1 s): 1\n  \
             +6  src/leak.rs:1:1\n      alive grew from 0 to 6 over 10 s, rising in 6 of 10 tenths; \
             none of its 6 tasks finished; 6 waiting ≥ 4 s for a wake that never came\n",
            "              9 s      1  src/leak.rs:1:1 #1\n",
            "      … 1 more\n",
            "long-lived tasks (alive at the end, waiting ≥ 1 s, in groups that are not leak \
             suspects): 1\n  src/watch.rs:1:1  1 task waiting 10 s\n      one task, alive \
             the whole recording",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }

    /// With a task dump, each group says where its stuck tasks wait: per await trace, how
    /// many share it and its frames, outermost first, indented as a tree.
    #[test]
    fn a_group_says_where_its_tasks_wait_from_the_task_dump() {
        use super::{WaitingGroup, wait_sites};
        use crate::analysis::breakdown::WaitSite;
        let group = WaitingGroup {
            group: "src/jobs.rs:40:9".into(),
            tasks: 20,
            finished: 0,
            alive_at_start: 0,
            alive_at_end: 20,
            growth: 20,
            growth_per_s: 40.0,
            rose_in_tenths: 10,
            growing_at_end: true,
            stuck: 20,
            stuck_at_least_ns: 1,
            why: String::new(),
            wait_sites: vec![WaitSite {
                frames: vec![
                    "app::wait_for_job at src/jobs.rs:25".into(),
                    "tokio::sync::mpsc::Receiver<T>::recv at tokio-1.54/src/sync/mpsc/bounded.rs:500"
                        .into(),
                ],
                tasks: 19,
            }],
            oldest_waiting: Vec::new(),
            waiting_tasks: Vec::new(),
        };
        assert_eq!(
            wait_sites(&group),
            "      19 of 20 wait at (task dump):\n\
             \x20       app::wait_for_job at src/jobs.rs:25\n\
             \x20         tokio::sync::mpsc::Receiver<T>::recv at \
             tokio-1.54/src/sync/mpsc/bounded.rs:500\n"
        );
    }
}
