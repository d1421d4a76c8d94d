//! Work that takes longer than a frame (exporting, the task breakdown, the MMU curve) runs on
//! a thread of its own ([`Job`]); the window polls for the result each frame and shows
//! progress. An analysis a view needs is computed on first use ([`Lazy`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;

use super::open_trace::OpenTrace;
use trace_analysis::export::chrome::{ChromeOptions, ExportStats, write_chrome};
use trace_analysis::model::Span;

/// What a job's closure gets: progress reporting and the cancel flag.
#[derive(Clone)]
pub struct JobHandle {
    done: Arc<AtomicU64>,
    total: Arc<AtomicU64>,
    cancel: Arc<AtomicBool>,
    wake: Arc<dyn Fn() + Send + Sync>,
}

impl std::fmt::Debug for JobHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobHandle")
            .field("done", &self.done)
            .field("total", &self.total)
            .field("cancel", &self.cancel)
            .finish_non_exhaustive()
    }
}

impl JobHandle {
    /// Reports `done` of `total` units.
    pub fn progress(&self, done: u64, total: u64) {
        self.total.store(total, Ordering::Relaxed);
        self.done.store(done, Ordering::Relaxed);
        (self.wake)();
    }

    /// True once the job was asked to stop.
    pub fn canceled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// A job's thread ended without a result (it panicked, or could not start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the background work stopped without a result")]
pub struct JobLost;

/// A computation on a background thread.
#[derive(Debug)]
pub struct Job<T> {
    handle: JobHandle,
    result: mpsc::Receiver<T>,
    /// What it does, for the status line ("exporting to x.json").
    pub what: String,
}

impl<T: Send + 'static> Job<T> {
    /// Runs `work` on a new thread; `wake` is called on progress and at the end (the window
    /// passes a repaint request).
    pub fn spawn(
        what: impl Into<String>,
        wake: impl Fn() + Send + Sync + 'static,
        work: impl FnOnce(&JobHandle) -> T + Send + 'static,
    ) -> Job<T> {
        let handle = JobHandle {
            done: Arc::default(),
            total: Arc::default(),
            cancel: Arc::default(),
            wake: Arc::new(wake),
        };
        let (tx, result) = mpsc::channel();
        let h = handle.clone();
        // Should the thread not start, the channel is closed and `poll` says so.
        let _ = thread::Builder::new()
            .name("trace-viewer-job".into())
            .spawn(move || {
                let out = work(&h);
                let _ = tx.send(out);
                (h.wake)();
            });
        Job {
            handle,
            result,
            what: what.into(),
        }
    }

    /// The result, once the work is done; [`JobLost`] if the thread died without one.
    pub fn poll(&self) -> Option<Result<T, JobLost>> {
        match self.result.try_recv() {
            Ok(v) => Some(Ok(v)),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(Err(JobLost)),
        }
    }

    /// Waits for the result.
    pub fn wait(self) -> Result<T, JobLost> {
        self.result.recv().map_err(|_| JobLost)
    }

    /// Done fraction, `None` before the first report.
    pub fn fraction(&self) -> Option<f32> {
        let total = self.handle.total.load(Ordering::Relaxed);
        let done = self.handle.done.load(Ordering::Relaxed);
        (total > 0).then(|| (done as f64 / total as f64).clamp(0.0, 1.0) as f32)
    }

    /// Asks the work to stop.
    pub fn cancel(&self) {
        self.handle.cancel.store(true, Ordering::Relaxed);
    }
}

/// An analysis computed in the background on first use.
#[derive(Debug)]
pub enum Lazy<T> {
    /// Not asked for yet.
    Idle,
    /// Being computed.
    Running(Job<Result<T, String>>),
    /// Done, or why not.
    Ready(Result<Arc<T>, String>),
}

impl<T: Send + 'static> Lazy<T> {
    /// The result, when ready and successful.
    pub fn get(&self) -> Option<&Arc<T>> {
        match self {
            Lazy::Ready(Ok(v)) => Some(v),
            _ => None,
        }
    }

    /// Moves a finished job's result in.
    pub fn poll(&mut self) {
        if let Lazy::Running(job) = self
            && let Some(r) = job.poll()
        {
            *self = Lazy::Ready(match r {
                Ok(Ok(v)) => Ok(Arc::new(v)),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(e.to_string()),
            });
        }
    }
}

/// What to export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportRequest {
    /// Where to write the JSON.
    pub path: PathBuf,
    /// Only this time range (what overlaps it), or everything.
    pub range: Option<Span>,
}

/// The default export file for a trace: `x.rtt` → `x.json`.
pub fn default_export_path(trace: &Path) -> PathBuf {
    trace.with_extension("json")
}

/// Exports `trace` as Chrome trace JSON (for Perfetto) to `request.path`, removing the
/// file again if writing fails or is canceled.
pub fn export(
    trace: &OpenTrace,
    request: &ExportRequest,
    handle: &JobHandle,
) -> Result<ExportStats, String> {
    let path = &request.path;
    if path.is_dir() {
        return Err(format!("{} is a directory", path.display()));
    }
    let file = std::fs::File::create(path)
        .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let progress = |done: u64, total: u64| handle.progress(done, total);
    let options = ChromeOptions {
        range: request.range,
        progress: Some(&progress),
    };
    let canceled = std::io::Error::other("canceled");
    let out = CancelWriter {
        inner: file,
        handle,
        canceled: Some(canceled),
    };
    match write_chrome(&trace.model, &options, out) {
        Ok(stats) => Ok(stats),
        Err(e) => {
            let _ = std::fs::remove_file(path);
            if handle.canceled() {
                Err("export canceled".into())
            } else {
                Err(format!("cannot write {}: {e}", path.display()))
            }
        }
    }
}

/// Stops a streaming write once the job is canceled.
struct CancelWriter<'a, W> {
    inner: W,
    handle: &'a JobHandle,
    canceled: Option<std::io::Error>,
}

impl<W: std::io::Write> std::io::Write for CancelWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.handle.canceled() {
            return Err(self
                .canceled
                .take()
                .unwrap_or_else(|| std::io::Error::other("canceled")));
        }
        self.inner.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trace_analysis::synthetic::Synthetic;

    fn opened() -> Arc<OpenTrace> {
        Arc::new(OpenTrace::from_bytes(Synthetic::default().bytes()))
    }

    #[test]
    fn export_writes_perfetto_json_in_the_background() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let trace = opened();
        let request = ExportRequest {
            path: path.clone(),
            range: None,
        };
        let job = Job::spawn("export", || {}, move |h| export(&trace, &request, h));
        let stats = job.wait().unwrap().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(stats.bytes, bytes.len() as u64);
        let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert!(doc["traceEvents"].as_array().unwrap().len() as u64 == stats.events);
    }

    #[test]
    fn a_canceled_export_leaves_no_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.json");
        let trace = opened();
        let request = ExportRequest {
            path: path.clone(),
            range: None,
        };
        let job = Job::spawn(
            "export",
            || {},
            move |h| {
                h.cancel.store(true, Ordering::Relaxed);
                export(&trace, &request, h)
            },
        );
        assert_eq!(job.wait().unwrap().unwrap_err(), "export canceled");
        assert!(!path.exists());
    }

    #[test]
    fn exporting_onto_a_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let trace = opened();
        let request = ExportRequest {
            path: dir.path().to_path_buf(),
            range: None,
        };
        let job = Job::spawn("export", || {}, move |h| export(&trace, &request, h));
        assert!(job.wait().unwrap().unwrap_err().contains("directory"));
        assert_eq!(
            default_export_path(Path::new("/a/b.rtt")),
            Path::new("/a/b.json")
        );
    }
}
