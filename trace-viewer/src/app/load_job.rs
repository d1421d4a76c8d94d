//! Loading a trace on a background thread, so the window stays responsive: the file is opened
//! and decoded with [`open_model`] (a corrupt file shows what precedes the damage), reporting
//! progress, and can be canceled at any chunk.
//!
//! The result, a [`LoadedTrace`], holds the model and what the window derives from it once
//! (task groups, merged pauses, per-thread lost markers), so drawing a frame never walks the
//! whole trace.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::counters::{CounterTrack, counter_tracks};
use trace_analysis::analysis::groups::TaskGroups;
use trace_analysis::analysis::states::paused_spans;
use trace_analysis::model::{BuildError, BuildOptions, LostMarker, Model, Nanos, Progress, Span};
use trace_analysis::open::open_model;

/// One thread's regions at one nesting depth.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionRow {
    /// Their spans, by start (searched every frame: kept together).
    pub spans: Vec<Span>,
    /// Each one's index in `Thread::regions`.
    pub ix: Vec<u32>,
}

/// Region nesting depths drawn (deeper regions are left out of the lanes).
pub const REGION_ROWS: usize = 6;

/// A loaded trace and what the window derives from it once.
#[derive(Debug)]
pub struct LoadedTrace {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub file_size: u64,
    /// The model.
    pub model: Model,
    /// Bytes of whole, readable frames.
    pub valid_bytes: u64,
    /// When the file is corrupt part-way: the error; the model holds what precedes it.
    pub salvaged_from: Option<String>,
    /// The task groups (by spawn location, name and kind, as in the Tasks table and the
    /// report), in order of their first task: one collapsible group of task lanes each.
    pub groups: TaskGroups,
    /// The process-wide pauses merged into disjoint spans (input of the task states).
    pub paused: Vec<Span>,
    /// Each thread's thread-scoped pauses merged into disjoint spans.
    pub thread_paused: Vec<Vec<Span>>,
    /// Each thread's lost-data markers, by time.
    pub lost_by_thread: Vec<Vec<LostMarker>>,
    /// The counter lanes' data, in lane order.
    pub counters: Vec<CounterTrack>,
    /// Per thread, per nesting depth (up to [`REGION_ROWS`]): its regions at that depth,
    /// by start. Regions nested deeper are not drawn.
    pub region_rows: Vec<Vec<RegionRow>>,
    /// Per thread: its log lines (indexes into `Model::logs`), by time.
    pub logs_by_thread: Vec<Vec<u32>>,
    /// Per thread: the times of those lines (searched every frame: kept together, not
    /// read through the index).
    pub log_times: Vec<Vec<Nanos>>,
    /// Per thread: where its WARN and ERROR lines are among them, so a tick standing for
    /// many lines shows the most severe one without reading them all.
    pub log_warnings: Vec<Vec<u32>>,
    /// How long opening and decoding took.
    pub load_time: Duration,
}

#[cfg(test)]
impl LoadedTrace {
    /// A sound trace held in memory, loaded as the window loads a file (for tests).
    pub(crate) fn from_bytes(bytes: Vec<u8>) -> LoadedTrace {
        let n = bytes.len() as u64;
        let trace = trace_format::Trace::from_bytes(bytes).expect("a readable trace");
        let model = Model::build(&trace).expect("a loadable trace");
        LoadedTrace::new("x.rtt".into(), n, n, model, None)
    }
}

impl LoadedTrace {
    /// Derives the window's tables from `model`.
    pub fn new(
        path: PathBuf,
        file_size: u64,
        valid_bytes: u64,
        model: Model,
        salvaged_from: Option<String>,
    ) -> LoadedTrace {
        let groups = TaskGroups::of(&model);
        let paused = paused_spans(&model);
        let thread_paused = model
            .threads
            .iter()
            .map(|t| {
                let mut spans: Vec<Span> = t.pauses.iter().map(|p| p.span).collect();
                spans.sort_by_key(|s| s.start);
                Span::union(spans)
            })
            .collect();
        let mut lost_by_thread = vec![Vec::new(); model.threads.len()];
        for m in &model.lost {
            if let Some(v) = lost_by_thread.get_mut(m.thread as usize) {
                v.push(*m);
            }
        }
        let counters = counter_tracks(&model);
        let region_rows = model
            .threads
            .iter()
            .map(|t| {
                let mut rows: Vec<RegionRow> = Vec::new();
                for (i, r) in t.regions.iter().enumerate() {
                    let d = usize::from(r.depth);
                    if d < REGION_ROWS {
                        if rows.len() <= d {
                            rows.resize(d + 1, RegionRow::default());
                        }
                        rows[d].spans.push(r.span);
                        rows[d].ix.push(i as u32);
                    }
                }
                rows
            })
            .collect();
        let mut logs_by_thread = vec![Vec::new(); model.threads.len()];
        let mut log_times = vec![Vec::new(); model.threads.len()];
        let mut log_warnings = vec![Vec::new(); model.threads.len()];
        for (i, l) in model.logs.iter().enumerate() {
            if let Some(v) = logs_by_thread.get_mut(l.thread as usize) {
                if l.level >= trace_format::Level::Warn {
                    log_warnings[l.thread as usize].push(v.len() as u32);
                }
                v.push(i as u32);
                log_times[l.thread as usize].push(l.time);
            }
        }
        LoadedTrace {
            counters,
            region_rows,
            logs_by_thread,
            log_times,
            log_warnings,
            path,
            file_size,
            valid_bytes,
            model,
            salvaged_from,
            groups,
            paused,
            thread_paused,
            lost_by_thread,
            load_time: Duration::ZERO,
        }
    }

    /// What the banner says when data is missing: the reader's warnings, the salvage error,
    /// lost-data totals. Empty for a complete trace.
    pub fn problems(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(e) = &self.salvaged_from {
            lines.push(format!(
                "{e}; showing the {} readable before the damage",
                trace_analysis::units::format_bytes(self.valid_bytes)
            ));
        }
        for w in &self.model.warnings {
            lines.push(w.to_string());
        }
        if !self.model.lost.is_empty() {
            let chunks: u64 = self.model.lost.iter().map(|m| m.chunks).sum();
            let events: u64 = self.model.lost.iter().map(|m| m.events).sum();
            let threads = self.lost_by_thread.iter().filter(|v| !v.is_empty()).count();
            lines.push(format!(
                "{} hole(s) in the data on {threads} thread(s): {chunks} chunk(s) with {events} \
                 event(s) missing (marked in red on the lanes)",
                self.model.lost.len()
            ));
        }
        lines
    }
}

/// What a load ended with.
#[derive(Debug)]
pub enum LoadOutcome {
    /// The trace, ready to show.
    Loaded(Box<LoadedTrace>),
    /// It cannot be shown: the message says why.
    Failed {
        /// The file.
        path: PathBuf,
        /// Why.
        error: String,
    },
    /// The user canceled.
    Canceled,
}

/// A trace being loaded on a background thread.
#[derive(Debug)]
pub struct LoadJob {
    path: PathBuf,
    done_bytes: Arc<AtomicU64>,
    total_bytes: Arc<AtomicU64>,
    cancel: Arc<AtomicBool>,
    result: mpsc::Receiver<LoadOutcome>,
    started: Instant,
}

impl LoadJob {
    /// Starts loading `path`; `on_progress` is called from the loading threads after each
    /// chunk and once at the end (the window passes a repaint request).
    pub fn start(path: PathBuf, on_progress: impl Fn() + Send + Sync + 'static) -> LoadJob {
        let done_bytes = Arc::new(AtomicU64::new(0));
        let total_bytes = Arc::new(AtomicU64::new(0));
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, result) = mpsc::channel();
        let job = LoadJob {
            path: path.clone(),
            done_bytes: done_bytes.clone(),
            total_bytes: total_bytes.clone(),
            cancel: cancel.clone(),
            result,
            started: Instant::now(),
        };
        let spawned = thread::Builder::new()
            .name("trace-viewer-load".into())
            .spawn(move || {
                let on_progress = &on_progress;
                let report = move |p: Progress| {
                    total_bytes.store(p.total_bytes, Ordering::Relaxed);
                    done_bytes.store(p.done_bytes, Ordering::Relaxed);
                    on_progress();
                };
                let outcome = load(&path, &report, &cancel);
                // The window may be gone; nothing to do then.
                let _ = tx.send(outcome);
                on_progress();
            });
        if let Err(e) = spawned {
            // No thread: report it as the load's result.
            let (tx, result) = mpsc::channel();
            let _ = tx.send(LoadOutcome::Failed {
                path: job.path.clone(),
                error: format!("cannot start the loading thread: {e}"),
            });
            return LoadJob { result, ..job };
        }
        job
    }

    /// The file being loaded.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `(bytes decoded, bytes to decode)`; the total is 0 until the file is indexed.
    pub fn progress(&self) -> (u64, u64) {
        (
            self.done_bytes.load(Ordering::Relaxed),
            self.total_bytes.load(Ordering::Relaxed),
        )
    }

    /// The done fraction in `[0, 1]`, `None` while the size is not known yet.
    pub fn fraction(&self) -> Option<f32> {
        match self.progress() {
            (_, 0) => None,
            (done, total) => Some((done as f64 / total as f64).clamp(0.0, 1.0) as f32),
        }
    }

    /// How long it has been loading.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Asks the loading thread to stop at the next chunk.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// True once [`cancel`](Self::cancel) was called.
    pub fn is_canceled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The outcome, once the thread has finished.
    pub fn poll(&self) -> Option<LoadOutcome> {
        match self.result.try_recv() {
            Ok(LoadOutcome::Loaded(mut t)) => {
                t.load_time = self.elapsed();
                Some(LoadOutcome::Loaded(t))
            }
            Ok(other) => Some(other),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(LoadOutcome::Failed {
                path: self.path.clone(),
                error: "the loading thread stopped without a result (a bug: please report it)"
                    .into(),
            }),
        }
    }

    /// Waits for the outcome (tests, and loading before the window opens).
    pub fn wait(self) -> LoadOutcome {
        let started = self.started;
        match self.result.recv() {
            Ok(LoadOutcome::Loaded(mut t)) => {
                t.load_time = started.elapsed();
                LoadOutcome::Loaded(t)
            }
            Ok(other) => other,
            Err(_) => LoadOutcome::Failed {
                path: self.path.clone(),
                error: "the loading thread stopped without a result".into(),
            },
        }
    }
}

/// Opens and decodes `path` (on the calling thread).
pub fn load(path: &Path, progress: &(dyn Fn(Progress) + Sync), cancel: &AtomicBool) -> LoadOutcome {
    let failed = |error: String| LoadOutcome::Failed {
        path: path.to_path_buf(),
        error,
    };
    let options = BuildOptions {
        progress: Some(progress),
        cancel: Some(cancel),
    };
    // A bug in the model must show as an error panel, not take the window down.
    let result =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| open_model(path, options)));
    match result {
        Ok(Ok((file, model))) => LoadOutcome::Loaded(Box::new(LoadedTrace::new(
            file.path,
            file.file_size,
            file.trace.valid_len(),
            model,
            file.salvaged_from.map(|e| e.to_string()),
        ))),
        Ok(Err(BuildError::Canceled)) => LoadOutcome::Canceled,
        Ok(Err(e)) => failed(e.to_string()),
        Err(_) => failed("the trace could not be decoded (internal error while loading)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trace_analysis::model::TaskIx;
    use trace_format::build::TraceBuilder;
    use trace_format::{Event, LocationId, StringId, TaskId, TaskKind};

    fn spawn(b: &mut TraceBuilder, t: u64, task: u64, location: u32) {
        b.push(
            1,
            t,
            Event::TaskSpawn {
                task: TaskId(task),
                kind: TaskKind::Async,
                tokio_id: task,
                parent: TaskId::NONE,
                location: LocationId(location),
                name: StringId::NONE,
            },
        );
    }

    fn write(dir: &Path, bytes: &[u8]) -> PathBuf {
        let path = dir.join("t.rtt");
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn groups_follow_spawn_locations_in_order_of_appearance() {
        let mut b = TraceBuilder::new();
        b.location(1, "src/a.rs", 10, 5)
            .location(2, "src/b.rs", 20, 9);
        spawn(&mut b, 10, 1, 2);
        spawn(&mut b, 20, 2, 1);
        spawn(&mut b, 30, 3, 2);
        spawn(&mut b, 40, 4, 0);
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &b.to_bytes());
        let LoadOutcome::Loaded(t) = LoadJob::start(path, || {}).wait() else {
            panic!("expected a trace");
        };
        let groups: Vec<(&str, Vec<TaskIx>)> = t
            .groups
            .iter()
            .map(|g| (g.label.as_str(), g.tasks.clone()))
            .collect();
        assert_eq!(
            groups,
            [
                ("src/b.rs:20:9", vec![0, 2]),
                ("src/a.rs:10:5", vec![1]),
                ("<unknown location>", vec![3]),
            ]
        );
        assert!(t.problems().is_empty(), "{:?}", t.problems());
    }

    #[test]
    fn the_timeline_groups_tasks_as_the_tasks_table_does() {
        // Two task names spawned at one place, and a task of unknown location: the
        // timeline's groups are the breakdown's (the Tasks table's), with its labels.
        let mut b = TraceBuilder::new();
        b.location(1, "src/a.rs", 10, 5)
            .string(7, "accept")
            .string(8, "serve");
        for (t, task, name) in [(10, 1, 7), (20, 2, 8), (30, 3, 7)] {
            b.push(
                1,
                t,
                Event::TaskSpawn {
                    task: TaskId(task),
                    kind: TaskKind::Async,
                    tokio_id: task,
                    parent: TaskId::NONE,
                    location: LocationId(1),
                    name: StringId(name),
                },
            );
        }
        spawn(&mut b, 40, 4, 0);
        let t = LoadedTrace::from_bytes(b.to_bytes());
        let breakdown = trace_analysis::analysis::breakdown::Breakdown::compute(
            &t.model,
            &trace_analysis::analysis::breakdown::BreakdownOptions::default(),
        );
        let timeline: Vec<(String, Vec<TaskIx>)> = t
            .groups
            .iter()
            .map(|g| (g.label.clone(), g.tasks.clone()))
            .collect();
        let mut table: Vec<(String, Vec<TaskIx>)> = breakdown
            .groups
            .iter()
            .map(|g| (g.label.clone(), g.task_ixs.clone()))
            .collect();
        // The table sorts by running time; the timeline lists groups by first spawn.
        table.sort_by_key(|(_, tasks)| tasks[0]);
        assert_eq!(timeline, table);
        assert_eq!(timeline.len(), 3, "{timeline:?}");
    }

    #[test]
    fn a_missing_file_fails_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.rtt");
        match LoadJob::start(path, || {}).wait() {
            LoadOutcome::Failed { error, .. } => assert!(error.contains("nope.rtt"), "{error}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_truncated_file_loads_with_its_problems() {
        let mut b = TraceBuilder::new();
        b.chunk_capacity = 64;
        for i in 0..200u64 {
            b.push(1, i * 10, Event::PollStart { task: TaskId(1) });
            b.push(1, i * 10 + 5, Event::PollEnd { ready: false });
        }
        let bytes = b.to_bytes();
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &bytes[..bytes.len() - 30]);
        let LoadOutcome::Loaded(t) = LoadJob::start(path, || {}).wait() else {
            panic!("expected a trace");
        };
        let problems = t.problems().join("\n");
        assert!(problems.contains("cut short"), "{problems}");
    }

    #[test]
    fn a_corrupt_file_is_salvaged_up_to_the_damage() {
        let mut b = TraceBuilder::new();
        b.chunk_capacity = 64;
        for i in 0..200u64 {
            b.push(1, i * 10, Event::PollStart { task: TaskId(1) });
            b.push(1, i * 10 + 5, Event::PollEnd { ready: false });
        }
        let mut bytes = b.to_bytes();
        let mid = bytes.len() / 2;
        bytes[mid] ^= 0x5A;
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &bytes);
        let LoadOutcome::Loaded(t) = LoadJob::start(path, || {}).wait() else {
            panic!("expected the part before the damage");
        };
        let problems = t.problems().join("\n");
        assert!(problems.contains("corrupt trace at byte"), "{problems}");
        assert!(
            problems.contains("readable before the damage"),
            "{problems}"
        );
        assert!(!t.model.polls.is_empty());
    }

    #[test]
    fn canceling_before_decoding_reports_canceled() {
        let mut b = TraceBuilder::new();
        b.push(1, 10, Event::PollStart { task: TaskId(1) });
        b.push(1, 20, Event::PollEnd { ready: true });
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &b.to_bytes());
        let cancel = AtomicBool::new(true);
        assert!(matches!(
            load(&path, &|_| {}, &cancel),
            LoadOutcome::Canceled
        ));
    }
}
