//! Periodic runtime samples: while a session records, a background thread reads each
//! instrumented runtime's metrics (global queue depth, alive tasks, blocking threads, each
//! worker's local queue depth) and records them. Runtimes are found through their threads:
//! the first thread of a runtime registers its handle, the last one to stop removes it.

use std::collections::HashMap;
use std::sync::{Mutex, Once};
use std::time::Duration;

use trace_format::Event;

use crate::local::record;

/// How often runtimes are sampled while recording.
pub(crate) const SAMPLE_PERIOD: Duration = Duration::from_millis(10);

struct Registered {
    handle: tokio::runtime::Handle,
    threads: usize,
}

static RUNTIMES: Mutex<Option<HashMap<String, Registered>>> = Mutex::new(None);

fn runtime_key(handle: &tokio::runtime::Handle) -> String {
    #[cfg(tokio_unstable)]
    {
        handle.id().to_string()
    }
    #[cfg(not(tokio_unstable))]
    {
        // Without runtime ids, one entry per process: the first runtime seen.
        let _ = handle;
        "runtime".to_string()
    }
}

/// Called on every runtime thread start.
pub(crate) fn register_current_runtime() {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let key = runtime_key(&handle);
    let mut guard = RUNTIMES.lock().unwrap_or_else(|p| p.into_inner());
    guard
        .get_or_insert_with(HashMap::new)
        .entry(key)
        .or_insert(Registered { handle, threads: 0 })
        .threads += 1;
}

/// Called on every runtime thread stop.
pub(crate) fn unregister_current_runtime() {
    let Ok(handle) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let key = runtime_key(&handle);
    let mut guard = RUNTIMES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(map) = guard.as_mut()
        && let Some(r) = map.get_mut(&key)
    {
        r.threads = r.threads.saturating_sub(1);
        if r.threads == 0 {
            map.remove(&key);
        }
    }
}

/// Starts the sampling thread once per process. It sleeps while nothing records.
pub(crate) fn ensure_started() {
    static START: Once = Once::new();
    START.call_once(|| {
        let _ = std::thread::Builder::new()
            .name("trace-rt-sampler".into())
            .spawn(|| {
                loop {
                    if crate::shared::is_recording() {
                        sample_all();
                        std::thread::sleep(SAMPLE_PERIOD);
                    } else {
                        std::thread::sleep(SAMPLE_PERIOD * 5);
                    }
                }
            });
    });
}

/// The runtimes with threads alive now (also the task dumps' list at a stop).
pub(crate) fn runtimes() -> Vec<tokio::runtime::Handle> {
    let guard = RUNTIMES.lock().unwrap_or_else(|p| p.into_inner());
    guard
        .as_ref()
        .map(|m| m.values().map(|r| r.handle.clone()).collect())
        .unwrap_or_default()
}

fn sample_all() {
    for handle in runtimes() {
        let m = handle.metrics();
        #[cfg(tokio_unstable)]
        let blocking = m.num_blocking_threads() as u64;
        #[cfg(not(tokio_unstable))]
        let blocking = 0;
        record(&Event::RuntimeSample {
            global_queue: m.global_queue_depth() as u64,
            alive_tasks: m.num_alive_tasks() as u64,
            blocking_threads: blocking,
        });
        #[cfg(tokio_unstable)]
        for worker in 0..m.num_workers() {
            record(&Event::WorkerQueueSample {
                worker: worker as u32,
                depth: m.worker_local_queue_depth(worker) as u64,
            });
        }
    }
}
