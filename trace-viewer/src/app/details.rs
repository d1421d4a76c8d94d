//! What the details panel shows about the selection, computed once when the selection
//! changes (never while drawing): a task's identity, where it was spawned, its parent, its
//! time in each state, its polls; the clicked poll; for a clicked wait, who ended it.

use trace_format::{TaskId, TaskKind};

use super::labels::state_label;
use super::open_trace::OpenTrace;
use super::timeline::scene::Hit;
use trace_analysis::analysis::breakdown::alloc_sample_weights;
use trace_analysis::analysis::states::{StateTotals, TaskState, task_totals};
use trace_analysis::model::{NO_TASK, Nanos, Poll, Span, TaskIx, ThreadIx, Wake};
use trace_analysis::units::format_duration;

/// About one task.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskDetails {
    /// The task.
    pub task: TaskIx,
    /// Its label (name or location, and id).
    pub label: String,
    /// The trace-local id.
    pub id: TaskId,
    /// tokio's id (0: unknown).
    pub tokio_id: u64,
    /// `async`, `block_on`, `spawn_blocking`, `local`, or `unknown`.
    pub kind: &'static str,
    /// Spawn location, `file:line:col` or `<unknown location>`.
    pub location: String,
    /// The name given at spawn, or empty.
    pub name: String,
    /// The parent task and its label.
    pub parent: Option<(TaskIx, String)>,
    /// Tasks it spawned.
    pub children: usize,
    /// When it was spawned, if the trace saw it.
    pub spawn: Option<Nanos>,
    /// When it terminated, if it did while recording.
    pub terminate: Option<Nanos>,
    /// The stretch its states partition.
    pub lifetime: Span,
    /// Its time in each state.
    pub totals: StateTotals,
    /// Number of polls.
    pub polls: u32,
    /// Its longest poll (index into `Model::polls`) and that poll's length.
    pub longest_poll: Option<(u32, Nanos)>,
    /// Wakes of it in the trace.
    pub wakes: usize,
    /// Sampled allocations made while it was polled: count, bytes requested, and the bytes
    /// they stand for (see [`alloc_sample_weights`]).
    pub alloc_samples: (usize, u64, u64),
}

impl TaskDetails {
    /// Gathers the details of `task` (walks its polls once and all tasks once).
    pub fn compute(trace: &OpenTrace, task: TaskIx) -> TaskDetails {
        let model = &trace.model;
        let t = &model.tasks[task as usize];
        let totals = task_totals(model, task, &trace.paused);
        let mut longest: Option<(u32, Nanos)> = None;
        for p in model.task_polls(task) {
            let len = p.span().len();
            if longest.is_none_or(|(_, l)| len > l) {
                longest = Some((poll_index(trace, p), len));
            }
        }
        let children = model.tasks.iter().filter(|c| c.parent == task).count();
        let weight = alloc_sample_weights(model);
        let (mut n, mut bytes, mut estimated) = (0, 0, 0.0);
        for s in model.alloc_samples.iter().filter(|s| s.task == task) {
            n += 1;
            bytes += s.size;
            estimated += weight(s);
        }
        TaskDetails {
            task,
            label: model.task_label(task),
            id: t.id,
            tokio_id: t.tokio_id,
            kind: match t.kind {
                Some(TaskKind::Async) => "async",
                Some(TaskKind::BlockOn) => "block_on",
                Some(TaskKind::Blocking) => "spawn_blocking",
                Some(TaskKind::Local) => "local",
                None => "unknown (spawned before the recording)",
            },
            location: model.location_label(t.location),
            name: model.string(t.name).to_string(),
            parent: (t.parent != NO_TASK).then(|| (t.parent, model.task_label(t.parent))),
            children,
            spawn: t.spawn,
            terminate: t.terminate,
            lifetime: t.lifetime(model.end),
            totals,
            polls: model.task_poll_count(task),
            longest_poll: longest,
            wakes: model.task_wakes(task).len(),
            alloc_samples: (n, bytes, estimated.round() as u64),
        }
    }

    /// Each state with its time and share of the lifetime, largest first, zeros left out.
    pub fn state_rows(&self) -> Vec<(TaskState, Nanos, f64)> {
        use trace_analysis::analysis::states::WaitReason;
        let mut rows: Vec<(TaskState, Nanos)> = [TaskState::Running, TaskState::SchedWait]
            .into_iter()
            .chain(WaitReason::ALL.into_iter().map(TaskState::Waiting))
            .chain([TaskState::Paused])
            .map(|s| (s, self.totals.get(s)))
            .filter(|&(_, ns)| ns > 0)
            .collect();
        rows.sort_by_key(|&(_, ns)| std::cmp::Reverse(ns));
        let total = self.totals.total().max(1) as f64;
        rows.into_iter()
            .map(|(s, ns)| (s, ns, ns as f64 / total))
            .collect()
    }
}

/// The index in `Model::polls` of `p`, a reference into it.
fn poll_index(trace: &OpenTrace, p: &Poll) -> u32 {
    let base = trace.model.polls.as_ptr() as usize;
    ((p as *const Poll as usize - base) / std::mem::size_of::<Poll>()) as u32
}

/// About a clicked poll.
#[derive(Debug, Clone, PartialEq)]
pub struct PollDetails {
    /// Index into `Model::polls`.
    pub poll: u32,
    /// The thread that ran it, and its label.
    pub thread: (ThreadIx, String),
    /// When.
    pub span: Span,
    /// Completed the task.
    pub ready: bool,
    /// Its end is not in the file.
    pub cut: bool,
    /// Which of the task's polls it is (1-based).
    pub number: usize,
    /// The wake that made it runnable, if the trace has one.
    pub woken: Option<Wake>,
}

impl PollDetails {
    /// The details of poll `poll`.
    pub fn compute(trace: &OpenTrace, poll: u32) -> PollDetails {
        let model = &trace.model;
        let p = model.polls[poll as usize];
        let number = model
            .task_polls(p.task)
            .position(|q| q.start == p.start && q.thread() == p.thread())
            .map_or(0, |i| i + 1);
        PollDetails {
            poll,
            thread: (p.thread(), model.threads[p.thread() as usize].label()),
            span: p.span(),
            ready: p.ready(),
            cut: p.cut(),
            number,
            woken: wake_before_poll(trace, poll),
        }
    }
}

/// About a thread (its lane name was clicked).
#[derive(Debug, Clone, PartialEq)]
pub struct ThreadDetails {
    /// The thread.
    pub thread: ThreadIx,
    /// Its label.
    pub label: String,
    /// The trace-local id.
    pub id: u32,
    /// Polls it ran.
    pub polls: usize,
    /// Time inside polls.
    pub busy: Nanos,
    /// Time parked.
    pub idle: Nanos,
    /// Thread-scoped pauses.
    pub pauses: usize,
    /// Holes in its data.
    pub lost: usize,
}

impl ThreadDetails {
    /// Gathers the details of `thread` (walks its polls once).
    pub fn compute(trace: &OpenTrace, thread: ThreadIx) -> ThreadDetails {
        let model = &trace.model;
        let t = &model.threads[thread as usize];
        let polls = model.thread_polls(thread);
        ThreadDetails {
            thread,
            label: t.label(),
            id: t.id,
            polls: polls.len(),
            busy: polls.iter().map(|p| p.span().len()).sum(),
            idle: t.parks.iter().map(|s| s.len()).sum(),
            pauses: t.pauses.len(),
            lost: trace.lost_by_thread[thread as usize].len(),
        }
    }
}

/// The wake that ended a wait of `task` that ran until `end`: the first wake of the task at
/// or after `start` and at or before `end`.
pub fn wake_ending(trace: &OpenTrace, task: TaskIx, span: Span) -> Option<Wake> {
    let wakes = trace.model.task_wakes(task);
    let i = wakes.partition_point(|w| w.time < span.start);
    wakes.get(i).filter(|w| w.time <= span.end).copied()
}

/// The wake that made poll `poll` runnable: the task's last wake at or before the poll's
/// start, and after its previous poll started (a wake during a poll readies the next one).
/// `None` for a first poll (made runnable by its spawn) or without wake events.
pub fn wake_before_poll(trace: &OpenTrace, poll: u32) -> Option<Wake> {
    let model = &trace.model;
    let p = model.polls[poll as usize];
    let previous = model
        .task_polls(p.task)
        .take_while(|q| q.start < p.start)
        .last()
        .map(|q| q.start);
    let wakes = model.task_wakes(p.task);
    let i = wakes.partition_point(|w| w.time <= p.start);
    let w = *wakes[..i].last()?;
    previous.is_none_or(|s| w.time >= s).then_some(w)
}

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
            vec![
                model.task_label(poll.task),
                format!("poll on {}", model.threads[poll.thread() as usize].label()),
                at(poll.span()),
                outcome.into(),
            ]
        }
        Hit::Segment { task, span, state } => {
            let mut lines = vec![model.task_label(task), state_label(state), at(span)];
            if let TaskState::Waiting(_) = state
                && let Some(w) = wake_ending(trace, task, span)
                && w.waker != NO_TASK
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
            format!("{} idle (parked)", model.threads[thread as usize].label()),
            at(span),
        ],
        Hit::ThreadPause { thread, span } => vec![
            format!("{} paused", model.threads[thread as usize].label()),
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
            let r = &model.threads[thread as usize].regions[region as usize];
            let mut lines = vec![
                format!("region {}", model.string(r.name)),
                at(r.span),
                format!("on {}", model.threads[thread as usize].label()),
            ];
            if r.task != NO_TASK {
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
        Hit::Lost {
            thread,
            time,
            chunks,
            events,
        } => vec![
            format!("data lost on {}", model.threads[thread as usize].label()),
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
    let ixs = &trace.logs_by_thread[thread as usize];
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
            model.threads[thread as usize].label()
        ));
        if l.task != NO_TASK {
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
    use trace_analysis::analysis::states::WaitReason;
    use trace_analysis::synthetic::Synthetic;

    fn opened(s: &Synthetic) -> OpenTrace {
        OpenTrace::from_bytes(s.bytes())
    }

    #[test]
    fn task_details_add_up_and_name_the_task() {
        let s = Synthetic::default();
        let t = opened(&s);
        let d = TaskDetails::compute(&t, 0);
        assert_eq!(d.id, TaskId(1));
        assert_eq!(d.location, "src/service.rs:10:5");
        assert_eq!(d.kind, "async");
        assert_eq!(d.polls, s.polls_per_task);
        assert_eq!(d.totals.total(), d.lifetime.len());
        assert_eq!(d.totals.running, u64::from(s.polls_per_task) * s.poll_ns);
        let (poll, len) = d.longest_poll.unwrap();
        assert_eq!(len, s.poll_ns);
        assert_eq!(t.model.polls[poll as usize].task, 0);
        let rows = d.state_rows();
        let sum: f64 = rows.iter().map(|r| r.2).sum();
        assert!((sum - 1.0).abs() < 1e-9, "{rows:?}");
        assert!(d.parent.is_none());
        assert_eq!(d.children, 1, "task 1 is the blocking task's parent");

        let blocking = TaskDetails::compute(&t, s.tasks);
        assert_eq!(blocking.kind, "spawn_blocking");
        assert_eq!(blocking.parent.as_ref().map(|p| p.0), Some(0));
    }

    #[test]
    fn task_details_sum_the_task_s_sampled_allocations() {
        use trace_format::build::TraceBuilder;
        use trace_format::{Event, StringId};
        let mut b = TraceBuilder::new();
        b.string(9, "trace_rt.alloc.sample_rate");
        // Rate 1: every byte sampled, so a sample stands for exactly its size.
        b.push(
            1,
            0,
            Event::Counter {
                name: StringId(9),
                value: 1,
            },
        );
        for (task, t, size) in [(1, 10, 100), (2, 20, 7), (1, 30, 300)] {
            b.push(1, t, Event::PollStart { task: TaskId(task) });
            b.push(
                1,
                t + 1,
                Event::AllocSample {
                    size,
                    task: TaskId(task),
                },
            );
            b.push(1, t + 2, Event::PollEnd { ready: false });
        }
        let t = OpenTrace::from_bytes(b.to_bytes());
        let task = t
            .model
            .tasks
            .iter()
            .position(|x| x.id == TaskId(1))
            .unwrap();
        let d = TaskDetails::compute(&t, task as TaskIx);
        assert_eq!(d.alloc_samples, (2, 400, 400));
        let other = TaskDetails::compute(&t, 1 - task as TaskIx);
        assert_eq!(other.alloc_samples, (1, 7, 7));
    }

    #[test]
    fn poll_details_number_the_poll() {
        let s = Synthetic::default();
        let t = opened(&s);
        let polls: Vec<&Poll> = t.model.task_polls(2).collect();
        let third = poll_index(&t, polls[2]);
        let d = PollDetails::compute(&t, third);
        assert_eq!(d.number, 3);
        assert_eq!(d.span.len(), s.poll_ns);
        assert!(!d.ready);
        assert!(d.thread.1.starts_with("worker 0"), "{}", d.thread.1);
    }

    #[test]
    fn the_wake_that_ended_a_wait_is_found() {
        let s = Synthetic::default();
        let t = opened(&s);
        let wake = t.model.task_wakes(0)[0];
        let found = wake_ending(&t, 0, Span::new(wake.time - 10, wake.time + 10)).unwrap();
        assert_eq!(found, wake);
        assert!(wake_ending(&t, 0, Span::new(0, 10)).is_none());
        assert_eq!(
            state_label(TaskState::Waiting(WaitReason::Timer)),
            "waiting (timer)"
        );
    }

    #[test]
    fn a_poll_knows_the_wake_that_readied_it() {
        let s = Synthetic::default();
        let t = opened(&s);
        let polls: Vec<u32> = t.model.task_polls(0).map(|p| poll_index(&t, p)).collect();
        // The first poll follows the spawn; each later one a wake just before it.
        assert!(wake_before_poll(&t, polls[0]).is_none());
        for &p in &polls[1..] {
            let w = wake_before_poll(&t, p).unwrap();
            let start = t.model.polls[p as usize].start;
            assert!(
                w.time <= start && start - w.time < s.gap_ns,
                "{w:?} {start}"
            );
        }
        let d = PollDetails::compute(&t, polls[1]);
        assert_eq!(d.woken, wake_before_poll(&t, polls[1]));
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
        let n = t.logs_by_thread[w as usize].len() as u32;
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
        let poll = t.model.task_polls(0).next().unwrap();
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
            .find_map(|task| {
                t.model
                    .task_wakes(task)
                    .iter()
                    .find(|w| w.waker != NO_TASK)
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
