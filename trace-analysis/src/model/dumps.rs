//! Task dumps: where each task waited when the recording stopped (`Meta::TaskDump` records,
//! written by trace-rt built with `--cfg tokio_taskdump`), matched to the trace's tasks by
//! tokio's task id. This module owns [`TaskDumps`], [`AwaitTrace`] and their queries.

use std::collections::HashMap;
use std::fmt::Write as _;

use trace_format::{SymbolFrame, Trace};

use super::tables::{Nanos, Task, TaskIx};

/// The trace's task dumps: one per runtime, the latest when a trace holds several for one
/// runtime (a flight-recorder file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TaskDumps {
    /// One per runtime, in file order.
    pub runtimes: Vec<RuntimeDump>,
    /// Trace task → (runtime dump, task in it).
    by_task: HashMap<TaskIx, (u32, u32)>,
}

/// One runtime's dump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeDump {
    /// tokio's runtime id, or empty.
    pub runtime: String,
    /// When the dump was asked for.
    pub time: Nanos,
    /// How long the recorder waited for it, in ns.
    pub wait_ns: u64,
    /// Why it did not finish (timed out, runtime gone), or `None`.
    pub error: Option<String>,
    /// The tasks it found.
    pub tasks: Vec<AwaitTrace>,
}

/// Where one task waited: tokio's await trace of its last poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitTrace {
    /// tokio's task id.
    pub tokio_id: u64,
    /// The trace's task with that id, or [`TaskIx::NONE`] when the trace has no spawn for
    /// it (a task spawned before the recording, or the recorder's own).
    pub task: TaskIx,
    /// One backtrace per leaf future the task waits on, each innermost (the leaf) first.
    pub backtraces: Vec<Vec<AwaitFrame>>,
}

/// One frame of an await trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwaitFrame {
    /// The demangled function; an `async fn`'s body reads `path::name::{{closure}}`.
    pub function: String,
    /// Source file, when known.
    pub file: Option<String>,
    /// 1-based line, 0 when unknown.
    pub line: u32,
}

impl AwaitFrame {
    /// The function without the `::{{closure}}` suffixes of async bodies.
    ///
    /// ```
    /// # use trace_analysis::model::AwaitFrame;
    /// let f = AwaitFrame { function: "app::wait_for_job::{{closure}}".into(), file: None, line: 0 };
    /// assert_eq!(f.name(), "app::wait_for_job");
    /// ```
    pub fn name(&self) -> &str {
        let mut s = self.function.as_str();
        while let Some(head) = s.strip_suffix("::{{closure}}") {
            s = head;
        }
        s
    }

    /// Machinery rather than code that waits: std/core/alloc, tokio's task harness and its
    /// tracing wrappers. Left out of [`AwaitTrace::frames`].
    pub fn is_machinery(&self) -> bool {
        let f = self.function.trim_start_matches('<');
        [
            "core::",
            "std::",
            "alloc::",
            "tokio::runtime::",
            "tokio::util::trace",
        ]
        .iter()
        .any(|p| f.starts_with(p))
    }

    /// `name at file:line` (a dependency's file shortened as spawn locations are).
    pub fn label(&self) -> String {
        let mut s = self.name().to_string();
        if let Some(file) = &self.file {
            let short = super::short_source_path(file);
            let _ = write!(s, " at {short}:{}", self.line);
        }
        s
    }
}

impl AwaitTrace {
    /// Each backtrace's frames that are code (not machinery), outermost first: the task's
    /// own future down to the leaf it waits on. An async fn's body and the closure it polls
    /// read alike (`recv::{{closure}}`, `recv`): a frame like the one before it (same name,
    /// file and line) is shown once.
    pub fn frames(&self) -> Vec<Vec<&AwaitFrame>> {
        self.backtraces
            .iter()
            .map(|bt| {
                let mut out: Vec<&AwaitFrame> = Vec::new();
                for f in bt.iter().rev().filter(|f| !f.is_machinery()) {
                    if !out.last().is_some_and(|p| {
                        p.name() == f.name() && p.file == f.file && p.line == f.line
                    }) {
                        out.push(f);
                    }
                }
                out
            })
            .collect()
    }

    /// Whether a frame of the trace is in `function` (matched on [`AwaitFrame::name`]'s
    /// last path segments, e.g. `wait_for_job` or `jobs::wait_for_job`).
    pub fn mentions(&self, function: &str) -> bool {
        self.backtraces.iter().flatten().any(|f| {
            let n = f.name();
            n == function || n.ends_with(&format!("::{function}"))
        })
    }

    /// One line per frame, outermost first, indented as a tree (the "Waits at" text).
    pub fn text(&self) -> String {
        let mut out = String::new();
        for (b, frames) in self.frames().iter().enumerate() {
            if b > 0 {
                out.push_str("and\n");
            }
            for (depth, f) in frames.iter().enumerate() {
                let arrow = if depth == 0 { "╼" } else { "└╼" };
                let _ = writeln!(out, "{:w$}{arrow} {}", "", f.label(), w = depth.min(12));
            }
        }
        out
    }
}

impl TaskDumps {
    /// Reads the trace's dumps and matches their tasks to `tasks` by tokio id (the latest
    /// spawn with that id, when tokio reused one).
    pub(super) fn build(trace: &Trace, tasks: &[Task]) -> TaskDumps {
        let mut by_tokio: HashMap<u64, TaskIx> = HashMap::new();
        for (i, t) in tasks.iter().enumerate() {
            // A task whose spawn the trace lacks has no `tokio_id`, but trace-rt's id of a
            // tokio task is its tokio id.
            let id = if t.tokio_id != 0 { t.tokio_id } else { t.id.0 };
            // Later spawns come later in the table, and win.
            if id != 0 && (t.tokio_id != 0 || !by_tokio.contains_key(&id)) {
                by_tokio.insert(id, TaskIx(i as u32));
            }
        }
        let mut runtimes: Vec<RuntimeDump> = Vec::new();
        for d in trace.task_dumps() {
            let frame = |f: &SymbolFrame| AwaitFrame {
                function: d.string(f.function).to_string(),
                file: (f.file != SymbolFrame::NO_FILE).then(|| d.string(f.file).to_string()),
                line: f.line,
            };
            let dump = RuntimeDump {
                runtime: d.runtime.clone(),
                time: trace.to_nanos(d.time),
                wait_ns: d.wait_ns,
                error: (!d.error.is_empty()).then(|| d.error.clone()),
                tasks: d
                    .tasks
                    .iter()
                    .map(|t| AwaitTrace {
                        tokio_id: t.tokio_id,
                        task: by_tokio.get(&t.tokio_id).copied().unwrap_or(TaskIx::NONE),
                        backtraces: t
                            .backtraces
                            .iter()
                            .map(|bt| bt.iter().map(frame).collect())
                            .collect(),
                    })
                    .collect(),
            };
            // A later dump of the same runtime replaces an earlier one.
            match runtimes.iter_mut().find(|r| r.runtime == dump.runtime) {
                Some(r) if r.time <= dump.time => *r = dump,
                Some(_) => {}
                None => runtimes.push(dump),
            }
        }
        let mut by_task = HashMap::new();
        for (r, rt) in runtimes.iter().enumerate() {
            for (t, at) in rt.tasks.iter().enumerate() {
                if at.task != TaskIx::NONE {
                    by_task.insert(at.task, (r as u32, t as u32));
                }
            }
        }
        TaskDumps { runtimes, by_task }
    }

    /// Whether the trace holds any dump (finished or not).
    pub fn is_empty(&self) -> bool {
        self.runtimes.is_empty()
    }

    /// Where `task` waited when the recording stopped, if a dump found it.
    pub fn await_trace(&self, task: TaskIx) -> Option<&AwaitTrace> {
        let &(r, t) = self.by_task.get(&task)?;
        Some(&self.runtimes[r as usize].tasks[t as usize])
    }

    /// The dumps that did not finish, with why (for warnings: a task of such a runtime has
    /// no await trace although the recorder took dumps).
    pub fn failures(&self) -> impl Iterator<Item = &RuntimeDump> {
        self.runtimes.iter().filter(|r| r.error.is_some())
    }
}

#[cfg(test)]
mod tests {
    use trace_format::build::TraceBuilder;
    use trace_format::{
        DumpedTask, Event, LocationId, Meta, StringId, SymbolFrame, TaskDump, TaskId, TaskKind,
        Trace,
    };

    use super::super::Model;
    use super::*;

    fn frame(function: u32, file: u32, line: u32) -> SymbolFrame {
        SymbolFrame {
            function,
            file,
            line,
            column: 0,
        }
    }

    fn dump(runtime: &str, time: u64, tokio_ids: &[u64]) -> Meta {
        Meta::TaskDump(TaskDump {
            runtime: runtime.into(),
            time,
            strings: vec![
                "tokio::sync::notify::Notified::poll_notified".into(),
                "core::future::poll_fn::PollFn<F>::poll".into(),
                format!("app::wait_{time}::{{{{closure}}}}"),
                "src/app.rs".into(),
                format!("app::wait_{time}"),
            ],
            tasks: tokio_ids
                .iter()
                .map(|&tokio_id| DumpedTask {
                    tokio_id,
                    // The async fn's body and its closure at one place: shown once.
                    backtraces: vec![vec![
                        frame(0, SymbolFrame::NO_FILE, 0),
                        frame(1, SymbolFrame::NO_FILE, 0),
                        frame(4, 3, 7),
                        frame(2, 3, 7),
                    ]],
                })
                .collect(),
            ..TaskDump::default()
        })
    }

    /// Tasks 5 (spawned, tokio id 50) and 6 (polled only: its spawn predates the trace).
    fn model(metas: Vec<Meta>) -> Model {
        let mut b = TraceBuilder::new();
        b.push(
            1,
            10,
            Event::TaskSpawn {
                task: TaskId(5),
                kind: TaskKind::Async,
                tokio_id: 50,
                parent: TaskId(0),
                location: LocationId(0),
                name: StringId(0),
            },
        );
        for (t, task) in [(11, 5), (20, 6)] {
            b.push(1, t, Event::PollStart { task: TaskId(task) });
            b.push(1, t + 1, Event::PollEnd { ready: false });
        }
        for m in metas {
            b.meta(m);
        }
        Model::build(&Trace::from_bytes(b.to_bytes()).unwrap()).unwrap()
    }

    fn ix(m: &Model, id: u64) -> TaskIx {
        TaskIx(m.tasks.iter().position(|t| t.id == TaskId(id)).unwrap() as u32)
    }

    #[test]
    fn dumped_tasks_match_by_tokio_id_and_the_latest_dump_of_a_runtime_wins() {
        // Runtime 1 twice (a flight-recorder file): the later one, in file order or not.
        let m = model(vec![dump("1", 40, &[50, 6, 99]), dump("1", 30, &[50])]);
        assert_eq!(m.task_dumps.runtimes.len(), 1);
        assert_eq!(m.task_dumps.runtimes[0].time, 40);
        let spawned = m
            .await_trace(ix(&m, 5))
            .expect("matched by its spawn's tokio id");
        assert!(spawned.mentions("wait_40"));
        assert!(spawned.mentions("app::wait_40"));
        assert!(!spawned.mentions("wait_30"));
        assert!(
            m.await_trace(ix(&m, 6)).is_some(),
            "a task without spawn matches by its id"
        );
        // Not in the trace: kept, unmatched.
        let rt = &m.task_dumps.runtimes[0];
        assert_eq!(rt.tasks[2].task, TaskIx::NONE);
        assert_eq!(m.task_dumps.failures().count(), 0);
    }

    #[test]
    fn an_await_trace_reads_outermost_first_without_machinery() {
        let m = model(vec![dump("1", 40, &[50])]);
        let t = m.await_trace(ix(&m, 5)).unwrap();
        let names: Vec<&str> = t.frames()[0].iter().map(|f| f.name()).collect();
        assert_eq!(
            names,
            [
                "app::wait_40",
                "tokio::sync::notify::Notified::poll_notified"
            ]
        );
        assert_eq!(
            t.text(),
            "╼ app::wait_40 at src/app.rs:7\n └╼ tokio::sync::notify::Notified::poll_notified\n"
        );
    }

    #[test]
    fn a_trace_without_dumps_has_none() {
        let m = model(Vec::new());
        assert!(m.task_dumps.is_empty());
        assert!(m.await_trace(ix(&m, 5)).is_none());
    }
}
