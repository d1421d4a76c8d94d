//! Opening a trace on a background thread, so the window stays responsive: the file is opened
//! and decoded with [`open_model`] (a corrupt file shows what precedes the damage), reporting
//! progress, and can be canceled at any chunk. The result is an [`OpenTrace`].

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::open_trace::OpenTrace;
use trace_analysis::model::{BuildError, BuildOptions, Progress};
use trace_analysis::open::open_model;

/// What opening a trace ended with.
#[derive(Debug)]
pub enum OpenOutcome {
    /// The trace, ready to show.
    Opened(Box<OpenTrace>),
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

/// A trace being opened on a background thread.
#[derive(Debug)]
pub struct OpenJob {
    path: PathBuf,
    done_bytes: Arc<AtomicU64>,
    total_bytes: Arc<AtomicU64>,
    cancel: Arc<AtomicBool>,
    result: mpsc::Receiver<OpenOutcome>,
    started: Instant,
}

impl OpenJob {
    /// Starts opening `path`; `on_progress` is called from the decoding threads after each
    /// chunk and once at the end (the window passes a repaint request).
    pub fn start(path: PathBuf, on_progress: impl Fn() + Send + Sync + 'static) -> OpenJob {
        let done_bytes = Arc::new(AtomicU64::new(0));
        let total_bytes = Arc::new(AtomicU64::new(0));
        let cancel = Arc::new(AtomicBool::new(false));
        let (tx, result) = mpsc::channel();
        let job = OpenJob {
            path: path.clone(),
            done_bytes: done_bytes.clone(),
            total_bytes: total_bytes.clone(),
            cancel: cancel.clone(),
            result,
            started: Instant::now(),
        };
        let spawned = thread::Builder::new()
            .name("trace-viewer-open".into())
            .spawn(move || {
                let on_progress = &on_progress;
                let report = move |p: Progress| {
                    total_bytes.store(p.total_bytes, Ordering::Relaxed);
                    done_bytes.store(p.done_bytes, Ordering::Relaxed);
                    on_progress();
                };
                let outcome = open_file(&path, &report, &cancel);
                // The window may be gone; nothing to do then.
                let _ = tx.send(outcome);
                on_progress();
            });
        if let Err(e) = spawned {
            // No thread: report it as the job's result.
            let (tx, result) = mpsc::channel();
            let _ = tx.send(OpenOutcome::Failed {
                path: job.path.clone(),
                error: format!("cannot start the opening thread: {e}"),
            });
            return OpenJob { result, ..job };
        }
        job
    }

    /// The file being opened.
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

    /// How long it has been opening.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Asks the opening thread to stop at the next chunk.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// True once [`cancel`](Self::cancel) was called.
    pub fn is_canceled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// The outcome, once the thread has finished.
    pub fn poll(&self) -> Option<OpenOutcome> {
        match self.result.try_recv() {
            Ok(OpenOutcome::Opened(mut t)) => {
                t.open_time = self.elapsed();
                Some(OpenOutcome::Opened(t))
            }
            Ok(other) => Some(other),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(OpenOutcome::Failed {
                path: self.path.clone(),
                error: "the opening thread stopped without a result (a bug: please report it)"
                    .into(),
            }),
        }
    }

    /// Waits for the outcome (tests, and opening before the window shows it).
    pub fn wait(self) -> OpenOutcome {
        let started = self.started;
        match self.result.recv() {
            Ok(OpenOutcome::Opened(mut t)) => {
                t.open_time = started.elapsed();
                OpenOutcome::Opened(t)
            }
            Ok(other) => other,
            Err(_) => OpenOutcome::Failed {
                path: self.path.clone(),
                error: "the opening thread stopped without a result".into(),
            },
        }
    }
}

/// Opens and decodes `path` (on the calling thread).
pub fn open_file(
    path: &Path,
    progress: &(dyn Fn(Progress) + Sync),
    cancel: &AtomicBool,
) -> OpenOutcome {
    let failed = |error: String| OpenOutcome::Failed {
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
        Ok(Ok((file, model))) => OpenOutcome::Opened(Box::new(OpenTrace::new(
            file.path,
            file.file_size,
            file.trace.valid_len(),
            model,
            file.salvaged_from.map(|e| e.to_string()),
        ))),
        Ok(Err(BuildError::Canceled)) => OpenOutcome::Canceled,
        Ok(Err(e)) => failed(e.to_string()),
        Err(_) => failed("the trace could not be decoded (internal error while opening)".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trace_format::build::TraceBuilder;
    use trace_format::{Event, TaskId};
    fn write(dir: &Path, bytes: &[u8]) -> PathBuf {
        let path = dir.join("t.rtt");
        std::fs::write(&path, bytes).unwrap();
        path
    }

    #[test]
    fn groups_follow_spawn_locations_in_order_of_appearance() {
        let bytes = trace_format::text::undump(
            "location id=1 file=\"src/a.rs\" line=10 column=5\n\
             location id=2 file=\"src/b.rs\" line=20 column=9\n\
             1 10 task_spawn task=1 location=2\n\
             1 20 task_spawn task=2 location=1\n\
             1 30 task_spawn task=3 location=2\n\
             1 40 task_spawn task=4\n\
             end\n",
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &bytes);
        let OpenOutcome::Opened(t) = OpenJob::start(path, || {}).wait() else {
            panic!("expected a trace");
        };
        let groups: Vec<(&str, Vec<u32>)> = t
            .groups
            .iter()
            .map(|g| (g.label.as_str(), g.tasks.iter().map(|t| t.0).collect()))
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
    fn a_missing_file_fails_with_its_path() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope.rtt");
        match OpenJob::start(path, || {}).wait() {
            OpenOutcome::Failed { error, .. } => assert!(error.contains("nope.rtt"), "{error}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_truncated_file_opens_with_its_problems() {
        let mut b = TraceBuilder::new();
        b.chunk_capacity = 64;
        for i in 0..200u64 {
            b.push(1, i * 10, Event::PollStart { task: TaskId(1) });
            b.push(1, i * 10 + 5, Event::PollEnd { ready: false });
        }
        let bytes = b.to_bytes();
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), &bytes[..bytes.len() - 30]);
        let OpenOutcome::Opened(t) = OpenJob::start(path, || {}).wait() else {
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
        let OpenOutcome::Opened(t) = OpenJob::start(path, || {}).wait() else {
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
            open_file(&path, &|_| {}, &cancel),
            OpenOutcome::Canceled
        ));
    }
}
