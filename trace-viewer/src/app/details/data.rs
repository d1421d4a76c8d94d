//! What the details panel shows about the selection, computed once when the selection
//! changes (never while drawing): a task's identity, where it was spawned, its parent, its
//! time in each state, its polls; the clicked poll and the wake that readied it; a thread's
//! use of its time.

use trace_format::{TaskId, TaskKind};

use super::wake::wake_before_poll;
use crate::app::open_trace::OpenTrace;
use trace_analysis::analysis::breakdown::alloc_sample_weights;
use trace_analysis::analysis::profile::{Profile, SampleFilter};
use trace_analysis::analysis::states::{StateTotals, TaskState, task_totals};
use trace_analysis::model::{Nanos, Poll, SampleKind, Span, TaskIx, ThreadIx, Wake};

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
    /// "Waits at": where it waited when the recording stopped (a tokio task dump), one list
    /// per leaf future it waited on, outermost frame first, each `(function, file:line)`.
    pub waits_at: Vec<Vec<(String, String)>>,
    /// Why there is no await trace although the recorder took task dumps (a dump that timed
    /// out), for a task alive at the end.
    pub waits_at_note: Option<String>,
}

impl TaskDetails {
    /// Gathers the details of `task` (walks its polls once and all tasks once).
    pub fn compute(trace: &OpenTrace, task: TaskIx) -> TaskDetails {
        let model = &trace.model;
        let t = &model.tasks[task.index()];
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
            parent: (t.parent != TaskIx::NONE).then(|| (t.parent, model.task_label(t.parent))),
            children,
            spawn: t.spawn,
            terminate: t.terminate,
            lifetime: t.lifetime(model.end),
            totals,
            polls: model.task_poll_count(task),
            longest_poll: longest,
            wakes: model.task_wakes(task).len(),
            alloc_samples: (n, bytes, estimated.round() as u64),
            waits_at: waits_at(model, task),
            waits_at_note: (t.terminate.is_none() && model.await_trace(task).is_none())
                .then(|| {
                    model
                        .task_dumps
                        .failures()
                        .map(|r| {
                            format!(
                                "runtime {}: {}",
                                r.runtime,
                                r.error.as_deref().unwrap_or("")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; ")
                })
                .filter(|n| !n.is_empty()),
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

/// The task's await trace from the trace's task dump, code frames only, outermost first.
fn waits_at(model: &trace_analysis::model::Model, task: TaskIx) -> Vec<Vec<(String, String)>> {
    let Some(trace) = model.await_trace(task) else {
        return Vec::new();
    };
    trace
        .frames()
        .into_iter()
        .map(|frames| {
            frames
                .into_iter()
                .map(|f| {
                    let place = f.file.as_deref().map_or(String::new(), |file| {
                        format!(
                            "{}:{}",
                            trace_analysis::model::short_source_path(file),
                            f.line
                        )
                    });
                    (f.name().to_string(), place)
                })
                .collect()
        })
        .collect()
}

/// The index in `Model::polls` of `p`, a reference into it.
pub fn poll_index(trace: &OpenTrace, p: &Poll) -> u32 {
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
    /// Where it stalled, when it has stall samples.
    pub stall: Option<PollStall>,
}

/// Where a stalled poll was: its stall samples and their most common stack.
#[derive(Debug, Clone, PartialEq)]
pub struct PollStall {
    /// Its stall samples.
    pub samples: u64,
    /// The wall time they stand for.
    pub wall: u64,
    /// Samples with the most common stack.
    pub stack_samples: u64,
    /// That stack, innermost first: `(function, file:line)`.
    pub frames: Vec<(String, String)>,
}

impl PollStall {
    /// The stall samples of poll `poll`, `None` when it has none.
    pub fn compute(trace: &OpenTrace, poll: u32) -> Option<PollStall> {
        trace.stalled_polls.binary_search(&poll).ok()?;
        let p = trace.model.polls.get(poll as usize)?;
        let profile = Profile::build(&trace.model, &SampleFilter::poll(SampleKind::Stall, p));
        let top = profile
            .stacks
            .iter()
            .max_by_key(|s| (s.samples, s.weight, std::cmp::Reverse(s.stack)))?;
        let frames = profile
            .path(top.leaf)
            .into_iter()
            .map(|f| {
                let function = profile.function(f.function);
                let file = function.file.as_deref().unwrap_or("unknown file");
                let at = if f.line > 0 {
                    format!("{file}:{}", f.line)
                } else {
                    file.to_string()
                };
                (function.name.clone(), at)
            })
            .collect();
        Some(PollStall {
            samples: profile.total_samples(),
            wall: profile.total_weight(),
            stack_samples: top.samples,
            frames,
        })
    }
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
            thread: (p.thread(), model.threads[p.thread().index()].label()),
            span: p.span(),
            ready: p.ready(),
            cut: p.cut(),
            number,
            woken: wake_before_poll(trace, poll),
            stall: PollStall::compute(trace, poll),
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
        let t = &model.threads[thread.index()];
        let polls = model.thread_polls(thread);
        ThreadDetails {
            thread,
            label: t.label(),
            id: t.id,
            polls: polls.len(),
            busy: polls.iter().map(|p| p.span().len()).sum(),
            idle: t.parks.iter().map(|s| s.len()).sum(),
            pauses: t.pauses.len(),
            lost: trace.lost_by_thread[thread.index()].len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::details::wake::wake_before_poll;
    use trace_analysis::synthetic::Synthetic;

    fn opened(s: &Synthetic) -> OpenTrace {
        OpenTrace::from_bytes(s.bytes())
    }

    #[test]
    fn a_stalled_poll_shows_its_most_common_stack_innermost_first() {
        let t = crate::app::flame::tests::opened();
        let polls = &t.model.polls;
        let second = polls.iter().position(|p| p.task == TaskIx(1)).unwrap() as u32;
        let first = polls.iter().position(|p| p.task == TaskIx(0)).unwrap() as u32;
        assert_eq!(t.stalled_polls, [second]);
        let d = PollDetails::compute(&t, second);
        let st = d.stall.expect("the second poll stalled");
        assert_eq!((st.samples, st.stack_samples), (2, 2));
        assert_eq!(
            st.frames,
            [
                ("std::thread::sleep".into(), "std/src/thread.rs:100".into()),
                ("app::main".into(), "src/main.rs:40".into()),
            ]
        );
        assert!(PollDetails::compute(&t, first).stall.is_none());
    }

    #[test]
    fn task_details_add_up_and_name_the_task() {
        let s = Synthetic::default();
        let t = opened(&s);
        let d = TaskDetails::compute(&t, TaskIx(0));
        assert_eq!(d.id, TaskId(1));
        assert_eq!(d.location, "src/service.rs:10:5");
        assert_eq!(d.kind, "async");
        assert_eq!(d.polls, s.polls_per_task);
        assert_eq!(d.totals.total(), d.lifetime.len());
        assert_eq!(d.totals.running, u64::from(s.polls_per_task) * s.poll_ns);
        let (poll, len) = d.longest_poll.unwrap();
        assert_eq!(len, s.poll_ns);
        assert_eq!(t.model.polls[poll as usize].task, TaskIx(0));
        let rows = d.state_rows();
        let sum: f64 = rows.iter().map(|r| r.2).sum();
        assert!((sum - 1.0).abs() < 1e-9, "{rows:?}");
        assert!(d.parent.is_none());
        assert_eq!(d.children, 1, "task 1 is the blocking task's parent");

        let blocking = TaskDetails::compute(&t, TaskIx(s.tasks));
        assert_eq!(blocking.kind, "spawn_blocking");
        assert_eq!(blocking.parent.as_ref().map(|p| p.0), Some(TaskIx(0)));
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
        let d = TaskDetails::compute(&t, TaskIx(task as u32));
        assert_eq!(d.alloc_samples, (2, 400, 400));
        let other = TaskDetails::compute(&t, TaskIx(1 - task as u32));
        assert_eq!(other.alloc_samples, (1, 7, 7));
    }

    #[test]
    fn a_task_shows_where_it_waits_from_the_task_dump() {
        use trace_format::build::TraceBuilder;
        use trace_format::{DumpedTask, Event, LocationId, Meta, StringId, SymbolFrame, TaskDump};
        let mut b = TraceBuilder::new();
        for (task, t) in [(7, 10), (8, 20)] {
            b.push(
                1,
                t,
                Event::TaskSpawn {
                    task: TaskId(task),
                    kind: TaskKind::Async,
                    tokio_id: task,
                    parent: TaskId(0),
                    location: LocationId(0),
                    name: StringId(0),
                },
            );
            b.push(1, t + 1, Event::PollStart { task: TaskId(task) });
            b.push(1, t + 2, Event::PollEnd { ready: false });
        }
        let frame = |function, file, line| SymbolFrame {
            function,
            file,
            line,
            column: 1,
        };
        b.meta(Meta::TaskDump(TaskDump {
            runtime: "1".into(),
            time: 30,
            wait_ns: 5,
            error: String::new(),
            strings: vec![
                "tokio::sync::mpsc::bounded::Receiver<T>::recv::{{closure}}".into(),
                "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.54.1/src/sync/mpsc/bounded.rs".into(),
                "core::future::poll_fn::PollFn<F>::poll".into(),
                "app::jobs::wait_for_job::{{closure}}".into(),
                "/home/me/app/src/jobs.rs".into(),
            ],
            tasks: vec![DumpedTask {
                tokio_id: 7,
                // Innermost first, as recorded.
                backtraces: vec![vec![
                    frame(0, 1, 12),
                    frame(2, SymbolFrame::NO_FILE, 0),
                    frame(3, 4, 25),
                ]],
            }],
        }));
        let t = OpenTrace::from_bytes(b.to_bytes());
        let ix = |id| {
            TaskIx(
                t.model
                    .tasks
                    .iter()
                    .position(|x| x.id == TaskId(id))
                    .unwrap() as u32,
            )
        };
        let d = TaskDetails::compute(&t, ix(7));
        assert_eq!(
            d.waits_at,
            [vec![
                (
                    "app::jobs::wait_for_job".to_string(),
                    "/home/me/app/src/jobs.rs:25".to_string()
                ),
                (
                    "tokio::sync::mpsc::bounded::Receiver<T>::recv".to_string(),
                    "tokio-1.54.1/src/sync/mpsc/bounded.rs:12".to_string()
                ),
            ]]
        );
        assert_eq!(d.waits_at_note, None);
        // Not in the dump: nothing to show, and no dump failed.
        let other = TaskDetails::compute(&t, ix(8));
        assert!(other.waits_at.is_empty());
        assert_eq!(other.waits_at_note, None);
    }

    #[test]
    fn a_timed_out_task_dump_is_said_for_a_task_alive_at_the_end() {
        use trace_format::build::TraceBuilder;
        use trace_format::{Event, Meta, TaskDump};
        let mut b = TraceBuilder::new();
        b.push(1, 10, Event::PollStart { task: TaskId(3) });
        b.push(1, 12, Event::PollEnd { ready: false });
        b.meta(Meta::TaskDump(TaskDump {
            runtime: "2".into(),
            error: "the task dump timed out after 2s".into(),
            ..TaskDump::default()
        }));
        let t = OpenTrace::from_bytes(b.to_bytes());
        let d = TaskDetails::compute(&t, TaskIx(0));
        assert!(d.waits_at.is_empty());
        assert_eq!(
            d.waits_at_note.as_deref(),
            Some("runtime 2: the task dump timed out after 2s")
        );
    }

    #[test]
    fn poll_details_number_the_poll() {
        let s = Synthetic::default();
        let t = opened(&s);
        let polls: Vec<&Poll> = t.model.task_polls(TaskIx(2)).collect();
        let third = poll_index(&t, polls[2]);
        let d = PollDetails::compute(&t, third);
        assert_eq!(d.number, 3);
        assert_eq!(d.span.len(), s.poll_ns);
        assert!(!d.ready);
        assert!(d.thread.1.starts_with("worker 0"), "{}", d.thread.1);
    }

    #[test]
    fn a_poll_knows_the_wake_that_readied_it() {
        let s = Synthetic::default();
        let t = opened(&s);
        let polls: Vec<u32> = t
            .model
            .task_polls(TaskIx(0))
            .map(|p| poll_index(&t, p))
            .collect();
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
}
