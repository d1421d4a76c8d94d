//! Ways to start a recording besides [`crate::start`]: for a fixed time in the background
//! ([`record_for`]), and from the environment when a runtime is instrumented
//! (`TRACE_RT_OUT=path TRACE_RT_SECONDS=N`).
//!
//! A recording started from the environment ends, with its end record, at the first of:
//! - `TRACE_RT_SECONDS` (default 10 s) after it started;
//! - the moment the last worker thread of every instrumented multi-thread runtime stops
//!   (`Runtime` dropped, `shutdown_timeout`, `shutdown_background`): the last worker's
//!   `on_thread_stop` hook finishes the file, and tokio waits for that hook before a drop
//!   (or `shutdown_timeout`, up to its timeout) returns;
//! - the process's exit (`main` returns, `std::process::exit`, a panic in `main`), through an
//!   `atexit` handler on Unix that stops the recording and waits for the file, while the
//!   process's other threads still run. This is also what ends the recording of a program
//!   whose only runtime is a current-thread one (it has no worker thread to watch).
//!
//! The stop takes as long as the recorder needs to write what it holds (bounded by the
//! session's stop timeout). A process killed by a signal (`SIGKILL`, or a signal it does not
//! handle) runs no exit handler: its file has no end record and reads back to its last
//! written chunk.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, Once};
use std::time::{Duration, Instant};

use crate::session::{Config, Error, Summary};

/// Default length of an environment-started recording when `TRACE_RT_SECONDS` is unset.
pub const DEFAULT_ENV_SECONDS: f64 = 10.0;

/// A recording running in the background; see [`record_for`].
///
/// Dropping the handle does not stop the recording: it finishes on its own.
#[derive(Debug, Clone)]
pub struct Recording {
    state: Arc<(Mutex<State>, Condvar)>,
    path: PathBuf,
}

#[derive(Debug, Default)]
struct State {
    stop_early: bool,
    result: Option<Result<Summary, String>>,
}

impl Recording {
    /// The trace file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Waits until the recording has finished and returns its summary.
    pub fn wait(&self) -> Result<Summary, Error> {
        let (lock, cv) = &*self.state;
        let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
        while st.result.is_none() {
            st = cv.wait(st).unwrap_or_else(|p| p.into_inner());
        }
        match st.result.clone().expect("checked above") {
            Ok(s) => Ok(s),
            Err(msg) => Err(Error::Io {
                path: self.path.clone(),
                source: std::io::Error::other(msg),
            }),
        }
    }

    /// Stops the recording now instead of at the end of its duration, and waits for it.
    pub fn stop(&self) -> Result<Summary, Error> {
        {
            let (lock, cv) = &*self.state;
            lock.lock().unwrap_or_else(|p| p.into_inner()).stop_early = true;
            cv.notify_all();
        }
        self.wait()
    }

    /// Whether it has finished.
    pub fn is_finished(&self) -> bool {
        self.state
            .0
            .lock()
            .map(|s| s.result.is_some())
            .unwrap_or(true)
    }
}

/// Records to `path` for `duration` in the background, then finishes the file by itself.
///
/// ```no_run
/// let recording = trace_rt::record_for(std::time::Duration::from_secs(5), "x.rtt")?;
/// // ... the application keeps running ...
/// let summary = recording.wait()?;
/// # Ok::<(), trace_rt::Error>(())
/// ```
pub fn record_for(duration: Duration, path: impl AsRef<Path>) -> Result<Recording, Error> {
    record_for_with(Config::default(), duration, path, |_| {})
}

fn record_for_with(
    config: Config,
    duration: Duration,
    path: impl AsRef<Path>,
    on_done: impl FnOnce(&Result<Summary, Error>) + Send + 'static,
) -> Result<Recording, Error> {
    let path = path.as_ref().to_path_buf();
    let session = config.start(&path)?;
    let recording = Recording {
        state: Arc::new((Mutex::new(State::default()), Condvar::new())),
        path,
    };
    let state = recording.state.clone();
    let spawned = std::thread::Builder::new()
        .name("trace-rt-timer".into())
        .spawn(move || {
            let deadline = Instant::now() + duration;
            let (lock, cv) = &*state;
            let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
            loop {
                let now = Instant::now();
                if st.stop_early || now >= deadline {
                    break;
                }
                let wait = (deadline - now).min(Duration::from_millis(100));
                st = cv
                    .wait_timeout(st, wait)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            drop(st);
            let result = session.stop();
            on_done(&result);
            let mut st = lock.lock().unwrap_or_else(|p| p.into_inner());
            st.result = Some(result.map_err(|e| e.to_string()));
            cv.notify_all();
        });
    match spawned {
        Ok(_) => Ok(recording),
        Err(source) => Err(Error::Io {
            path: recording.path.clone(),
            source,
        }),
    }
}

/// Worker threads of instrumented runtimes alive now (each counted from its first park or
/// poll while recording until it stops; see [`crate::runtime`]).
static LIVE_WORKERS: AtomicUsize = AtomicUsize::new(0);

/// A worker thread of an instrumented runtime was seen for the first time.
pub(crate) fn worker_started() {
    LIVE_WORKERS.fetch_add(1, Ordering::Relaxed);
}

/// A worker counted by [`worker_started`] is stopping (tokio's `on_thread_stop`, on the
/// worker itself). The last one ends the environment's recording before returning: tokio
/// waits for every thread's stop hook before `Runtime` drop or `shutdown_timeout` returns,
/// so the file is finished before `main` goes on to return or exit.
pub(crate) fn worker_stopped() {
    if LIVE_WORKERS.fetch_sub(1, Ordering::AcqRel) == 1 {
        end_env_recording();
    }
}

/// Stops the environment's recording (if any, and if still running) and waits for its file
/// to be finished.
fn end_env_recording() {
    if let Some(recording) = env_recording() {
        let _ = recording.stop();
    }
}

/// Runs when the process exits (`main` returned, `std::process::exit`, a panic in `main`),
/// while the process's other threads still run: the recording's own threads finish the file.
#[cfg(unix)]
extern "C" fn end_env_recording_at_exit() {
    // Unwinding out of an `extern "C"` function aborts the process: never let a panic out.
    let _ = std::panic::catch_unwind(end_env_recording);
}

/// Has the process finish the environment's recording when it exits.
fn end_at_exit() {
    #[cfg(unix)]
    {
        // SAFETY: `atexit` only stores the pointer to a function that takes no argument and
        // never unwinds; it runs on the exiting thread before the process ends.
        if unsafe { libc::atexit(end_env_recording_at_exit) } != 0 {
            eprintln!(
                "trace-rt: cannot register an exit handler: if the process exits while \
                 recording, the trace will have no end record"
            );
        }
    }
}

/// Parses `TRACE_RT_SECONDS`.
fn env_seconds(value: Option<&str>) -> Result<Duration, String> {
    let Some(v) = value else {
        return Ok(Duration::from_secs_f64(DEFAULT_ENV_SECONDS));
    };
    match v.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && s.is_finite() && s < 1e9 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "TRACE_RT_SECONDS must be a positive number of seconds, got {v:?}"
        )),
    }
}

/// Starts a recording if `TRACE_RT_OUT` is set; once per process (from [`crate::instrument`]).
/// Problems are reported on stderr: the application keeps running either way.
pub(crate) fn from_env_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let Some(out) = std::env::var_os("TRACE_RT_OUT").filter(|v| !v.is_empty()) else {
            return;
        };
        let seconds = std::env::var("TRACE_RT_SECONDS").ok();
        let duration = match env_seconds(seconds.as_deref()) {
            Ok(d) => d,
            Err(msg) => {
                eprintln!("trace-rt: not recording: {msg}");
                return;
            }
        };
        let path = PathBuf::from(out);
        let shown = path.display().to_string();
        match record_for_with(Config::default(), duration, &path, move |r| match r {
            Ok(s) => eprintln!("trace-rt: recorded {s}"),
            Err(e) => eprintln!("trace-rt: recording failed: {e}"),
        }) {
            Ok(rec) => {
                eprintln!(
                    "trace-rt: recording {:.3} s to {shown} (TRACE_RT_OUT)",
                    duration.as_secs_f64()
                );
                *ENV_RECORDING.lock().unwrap_or_else(|p| p.into_inner()) = Some(rec);
                end_at_exit();
            }
            Err(e) => eprintln!("trace-rt: not recording: {e}"),
        }
    });
}

static ENV_RECORDING: Mutex<Option<Recording>> = Mutex::new(None);

/// The recording started from the environment, if any (to wait for it before exiting).
///
/// ```no_run
/// // At the end of main, so the file is complete even if the process ends sooner:
/// if let Some(r) = trace_rt::env_recording() {
///     let _ = r.stop();
/// }
/// ```
pub fn env_recording() -> Option<Recording> {
    ENV_RECORDING.lock().ok().and_then(|g| g.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_parse() {
        assert_eq!(env_seconds(None).unwrap(), Duration::from_secs(10));
        assert_eq!(
            env_seconds(Some("2.5")).unwrap(),
            Duration::from_millis(2500)
        );
        for bad in ["", "-1", "0", "abc", "inf", "NaN"] {
            let e = env_seconds(Some(bad)).unwrap_err();
            assert!(e.contains("TRACE_RT_SECONDS"), "{e}");
        }
    }
}
