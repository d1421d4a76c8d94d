//! What a tooltip over the timeline says: the item under the pointer (a poll, a state
//! stretch, a fold, an idle stretch, a pause, a region, log lines, a hole in the data) or a
//! counter's value at the time under it.

use super::scene::Hit;
use crate::app::details::wake::wake_ending;
use crate::app::labels::state_label;
use crate::app::open_trace::OpenTrace;
use trace_analysis::analysis::states::TaskState;
use trace_analysis::model::{Nanos, Span, TaskIx, ThreadIx};
use trace_analysis::units::format_duration;

/// The tooltip line of a poll with stall samples (tests look for it).
pub const STALLED_HINT: &str = "stalled: click for where (its stack)";

/// The tooltip of a timeline item: a title line, then details.
pub fn describe_hit(trace: &OpenTrace, hit: &Hit) -> Vec<String> {
    let model = &trace.model;
    let at = |span: Span| {
        format!(
            "{} at {}",
            format_duration(span.len()),
            format_duration(span.start)
        )
    };
    match *hit {
        Hit::Poll(p) => {
            let poll = model.polls[p as usize];
            let outcome = if poll.cut() {
                "end not recorded (cut)"
            } else if poll.ready() {
                "ready: the task completed"
            } else {
                "pending"
            };
            let mut lines = vec![
                model.task_label(poll.task),
                format!("poll on {}", model.threads[poll.thread().index()].label()),
                at(poll.span()),
                outcome.into(),
            ];
            if trace.stalled_polls.binary_search(&p).is_ok() {
                lines.push(STALLED_HINT.into());
            }
            lines
        }
        Hit::Segment { task, span, state } => {
            let mut lines = vec![model.task_label(task), state_label(state), at(span)];
            if let TaskState::Waiting(_) = state
                && let Some(w) = wake_ending(trace, task, span)
                && w.waker != TaskIx::NONE
            {
                lines.push(format!("woken by {}", model.task_label(w.waker)));
            }
            lines
        }
        Hit::Folded {
            span,
            count,
            what,
            mostly,
            ..
        } => {
            let mut lines = vec![
                format!("{count} {what}, too narrow to show apart"),
                at(span),
            ];
            if let Some(state) = mostly {
                lines.push(format!("mostly {}", state_label(state)));
            }
            lines.push("zoom in (wheel, W) or click to zoom to them".into());
            lines
        }
        Hit::Park { thread, span } => vec![
            format!("{} idle (parked)", model.threads[thread.index()].label()),
            at(span),
        ],
        Hit::ThreadPause { thread, span } => vec![
            format!("{} paused", model.threads[thread.index()].label()),
            at(span),
        ],
        Hit::ProcessPause(span) => {
            let kinds: Vec<&str> = model
                .process_pauses
                .iter()
                .filter(|p| p.span.start < span.end && p.span.end > span.start)
                .map(|p| model.string(p.kind))
                .filter(|k| !k.is_empty())
                .take(3)
                .collect();
            let mut lines = vec!["process-wide pause (all workers stopped)".into(), at(span)];
            if !kinds.is_empty() {
                lines.push(format!("kind: {}", kinds.join(", ")));
            }
            lines
        }
        Hit::Region { thread, region } => {
            let r = &model.threads[thread.index()].regions[region as usize];
            let mut lines = vec![
                format!("region {}", model.string(r.name)),
                at(r.span),
                format!("on {}", model.threads[thread.index()].label()),
            ];
            if r.task != TaskIx::NONE {
                lines.push(format!("in {}", model.task_label(r.task)));
            }
            if r.cut {
                lines.push("its exit is not recorded (closed where the data stops)".into());
            }
            lines
        }
        Hit::Logs {
            thread,
            first,
            count,
        } => describe_logs(trace, thread, first, count),
        Hit::DataEnds { thread, time } => vec![
            format!(
                "no data on {} after this",
                model.threads[thread.index()].label()
            ),
            format!(
                "its data ends at {} (the file is cut or damaged); the states of the tasks it \
                 polled last stop there",
                format_duration(time)
            ),
        ],
        Hit::Lost {
            thread,
            time,
            chunks,
            events,
        } => vec![
            format!("data lost on {}", model.threads[thread.index()].label()),
            if events > 0 {
                format!(
                    "{chunks} chunk(s) with {events} event(s) missing before {}",
                    format_duration(time)
                )
            } else {
                format!("{chunks} chunk(s) missing before {}", format_duration(time))
            },
            "what the lanes show around here is incomplete".into(),
        ],
    }
}

/// Log lines shown in one tooltip at most.
pub const LOG_LINES_SHOWN: usize = 6;

/// The tooltip of `count` log lines of `thread` from `first` (an index into its
/// `logs_by_thread`): level, target and message of each (up to [`LOG_LINES_SHOWN`]), the
/// time and the task of a single one.
pub fn describe_logs(trace: &OpenTrace, thread: ThreadIx, first: u32, count: u32) -> Vec<String> {
    let model = &trace.model;
    let ixs = &trace.logs_by_thread[thread.index()];
    let (lo, hi) = (
        first as usize,
        (first as usize + count as usize).min(ixs.len()),
    );
    let logs = || ixs[lo..hi].iter().map(|&i| &model.logs[i as usize]);
    let line = |l: &trace_analysis::model::Log| {
        let (level, target) = (l.level.name(), model.string(l.target));
        if target.is_empty() {
            format!("{level} {}", l.message)
        } else {
            format!("{level} {target}: {}", l.message)
        }
    };
    let mut lines = Vec::new();
    if hi - lo == 1 {
        let l = &model.logs[ixs[lo] as usize];
        lines.push(line(l));
        lines.push(format!(
            "at {} on {}",
            format_duration(l.time),
            model.threads[thread.index()].label()
        ));
        if l.task != TaskIx::NONE {
            lines.push(format!("in {}", model.task_label(l.task)));
        }
    } else {
        let (t0, t1) = (
            model.logs[ixs[lo] as usize].time,
            model.logs[ixs[hi - 1] as usize].time,
        );
        lines.push(format!("{} log lines", hi - lo));
        lines.push(format!(
            "from {} to {}",
            format_duration(t0),
            format_duration(t1)
        ));
        lines.extend(logs().take(LOG_LINES_SHOWN).map(line));
        if hi - lo > LOG_LINES_SHOWN {
            lines.push(format!(
                "… and {} more (zoom in)",
                hi - lo - LOG_LINES_SHOWN
            ));
        }
    }
    lines
}

/// The tooltip of a counter lane at time `t`: its name, its value there, and how a derived
/// series was computed.
pub fn describe_counter(trace: &OpenTrace, track: usize, t: Nanos) -> Vec<String> {
    let c = &trace.counters[track];
    let mut lines = vec![c.label.clone()];
    lines.push(match c.value_at(t) {
        Some(v) => format!("{} at {}", c.unit.format(v), format_duration(t)),
        None => format!("no value yet at {}", format_duration(t)),
    });
    if let Some(note) = &c.note {
        lines.push(note.clone());
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::details::data::poll_index;
    use trace_analysis::analysis::states::WaitReason;
    use trace_analysis::synthetic::Synthetic;

    fn opened(s: &Synthetic) -> OpenTrace {
        OpenTrace::from_bytes(s.bytes())
    }

    #[test]
    fn log_tooltips_list_the_lines_of_a_marker() {
        use trace_analysis::synthetic::{LOG_MESSAGE, LOG_TARGET, REGION_OUTER};
        let s = Synthetic {
            regions_every: 1,
            ..Synthetic::default()
        };
        let t = opened(&s);
        let w = t.model.workers()[0];
        let one = describe_logs(&t, w, 0, 1);
        assert_eq!(one[0], format!("INFO {LOG_TARGET}: {LOG_MESSAGE}"));
        assert!(
            one[1].starts_with("at ") && one[1].contains("worker 0"),
            "{one:?}"
        );
        assert!(one[2].starts_with("in src/service.rs"), "{one:?}");
        let n = t.logs_by_thread[w.index()].len() as u32;
        let many = describe_logs(&t, w, 0, n);
        assert_eq!(many[0], format!("{n} log lines"));
        assert_eq!(many.len(), 2 + LOG_LINES_SHOWN + 1);
        assert!(many.last().unwrap().contains("more"));
        let region = describe_hit(
            &t,
            &Hit::Region {
                thread: w,
                region: 0,
            },
        );
        assert_eq!(region[0], format!("region {REGION_OUTER}"));
        assert!(region[3].starts_with("in src/service.rs"), "{region:?}");
    }

    #[test]
    fn a_counter_tooltip_gives_the_value_at_the_time() {
        let s = Synthetic {
            sample_ns: 20_000,
            ..Synthetic::default()
        };
        let t = opened(&s);
        // Track 2 is the global queue: sample k (at (k + 1) × 20 µs) is k % 5.
        assert_eq!(t.counters[2].label, "global queue");
        let lines = describe_counter(&t, 2, 3 * 20_000 + 5);
        assert_eq!(lines, ["global queue", "2 at 60 µs"]);
        assert_eq!(describe_counter(&t, 2, 10)[1], "no value yet at 10 ns");
        assert!(describe_counter(&t, 1, 100_000)[2].contains("per 1 ms"));
    }

    #[test]
    fn tooltips_describe_what_is_under_the_pointer() {
        let s = Synthetic {
            lost: true,
            ..Synthetic::default()
        };
        let t = opened(&s);
        let poll = t.model.task_polls(TaskIx(0)).next().unwrap();
        let lines = describe_hit(&t, &Hit::Poll(poll_index(&t, poll)));
        assert_eq!(lines[0], "src/service.rs:10:5 #1");
        assert!(lines[1].starts_with("poll on worker 0"), "{lines:?}");
        assert_eq!(
            lines[2],
            format!("10 µs at {}", format_duration(poll.start))
        );
        let lines = describe_hit(&t, &Hit::ProcessPause(t.paused[0]));
        assert_eq!(lines.last().unwrap(), "kind: compaction");
        let m = t.model.lost[0];
        let lines = describe_hit(
            &t,
            &Hit::Lost {
                thread: m.thread,
                time: m.time,
                chunks: m.chunks,
                events: m.events,
            },
        );
        assert!(
            lines[1].starts_with("3 chunk(s) with 100 event(s) missing"),
            "{lines:?}"
        );
        // A wait ended by another task names it.
        let (task, wake) = (0..s.tasks)
            .map(TaskIx)
            .find_map(|task| {
                t.model
                    .task_wakes(task)
                    .iter()
                    .find(|w| w.waker != TaskIx::NONE)
                    .map(|w| (task, *w))
            })
            .unwrap();
        let lines = describe_hit(
            &t,
            &Hit::Segment {
                task,
                span: Span::new(wake.time - 5, wake.time),
                state: TaskState::Waiting(WaitReason::Task),
            },
        );
        assert_eq!(
            lines.last().unwrap(),
            &format!("woken by {}", t.model.task_label(wake.waker))
        );
    }
}
