//! tokio instrumentation: the runtime hooks that turn what tokio does into trace events.
//!
//! | tokio hook (cfg) | events |
//! |---|---|
//! | `on_thread_start` / `on_thread_stop` (stable) | `ThreadStart` (blocking-pool thread) / `ThreadStop` |
//! | `on_thread_park` / `on_thread_unpark` (stable) | `WorkerPark` / `WorkerUnpark`, and the thread becomes a `Worker` |
//! | `on_task_spawn` (`tokio_unstable`) | `TaskSpawn` with spawn location and parent (the task polled by the spawning thread) |
//! | `on_before_task_poll` / `on_after_task_poll` (`tokio_unstable`) | `PollStart` / `PollEnd` (ready when the task terminated inside the poll), `ScheduleLatency` when tracked |
//! | `on_task_terminate` (`tokio_unstable`) | `TaskTerminate`; none for `spawn_blocking` work unless `trace_rt::wake_layer` is in use |
//!
//! tokio calls only the terminate hook for `spawn_blocking` work (no spawn, no polls), on the
//! blocking-pool thread that ran it, including the blocking task each worker runs on when the
//! runtime shuts down. The default mode drops that event rather than show a task with no
//! spawn and no polls; the wake layer records such work whole, from tokio's spans, when it
//! started during the recording (a worker's own blocking task is not recorded at all).
//!
//! tokio runs its worker threads on blocking-pool threads, so every runtime thread starts
//! as `Blocking`; the first poll or park on a thread re-declares it as `Worker` with tokio's
//! worker index (a thread's role is the one its last `ThreadStart` gives).
//!
//! Timestamps are taken inside the hooks, so a poll's recorded start and end can be late by
//! however long the OS deschedules the worker between tokio's poll and the hook. On an
//! oversubscribed machine this can make a poll appear to end after the same task's next poll
//! began on another worker; the analysis clamps such overlaps.
//!
//! Trace task ids are tokio's task ids (a process-wide 64-bit counter that tokio does not
//! reuse in practice); a `TaskSpawn` always starts a new task, so a reused id would still read
//! as two tasks. Without `--cfg tokio_unstable` only the stable thread hooks exist; the trace
//! header's `tokio_unstable` feature says which it was.

use std::hash::Hasher;

use trace_format::{Event, TaskId, TaskKind, ThreadKind};

use crate::context::{HOOK, HookThread, blocking_start_recorded, current_task, on_worker_thread};
use crate::local::{record, record_hot, record_hot_with_previous_time};
use crate::shared::EPOCH;

/// Installs trace-rt's hooks on a tokio runtime builder (multi-thread or current-thread).
///
/// While no session records, each hook costs one relaxed atomic load. Call it before
/// `build()`; it replaces hooks set earlier on the same builder. If `TRACE_RT_OUT` is set,
/// this also starts a recording (see [`crate::activation`]).
///
/// ```
/// let mut builder = tokio::runtime::Builder::new_multi_thread();
/// trace_rt::instrument(&mut builder);
/// let rt = builder.enable_all().build().unwrap();
/// rt.block_on(async { tokio::spawn(async {}).await.unwrap() });
/// ```
pub fn instrument(builder: &mut tokio::runtime::Builder) -> &mut tokio::runtime::Builder {
    instrument_with(builder, Options::default())
}

/// What [`instrument_with`] records beyond the defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Ask tokio to measure each task's schedule latency (time from being woken to being
    /// polled) and record it as `ScheduleLatency` events, from which the analysis derives
    /// wake times for every task. Costs two clock reads per poll inside tokio.
    pub schedule_latency: bool,
}

/// [`instrument`] with [`Options`].
pub fn instrument_with(
    builder: &mut tokio::runtime::Builder,
    options: Options,
) -> &mut tokio::runtime::Builder {
    builder
        .on_thread_start(on_thread_start)
        .on_thread_stop(on_thread_stop)
        .on_thread_park(|| {
            let epoch = EPOCH.load(std::sync::atomic::Ordering::Relaxed);
            if epoch != 0 {
                let _ = HOOK.try_with(|h| {
                    declare_worker(h, epoch);
                    // Only the wake layer needs to know when this thread last blocked.
                    #[cfg(feature = "wakes")]
                    {
                        h.parks.set(h.parks.get() + 1);
                        h.park_time.set(crate::clock::now());
                    }
                });
                // The allocator's counters of the busy period, if due, before the thread
                // idles (at most once per counters interval: parks can be very frequent).
                crate::alloc::report_due_alloc_counters();
                record(&Event::WorkerPark);
            }
        })
        .on_thread_unpark(|| {
            if EPOCH.load(std::sync::atomic::Ordering::Relaxed) != 0 {
                record(&Event::WorkerUnpark);
            }
        });
    #[cfg(tokio_unstable)]
    {
        builder
            .on_task_spawn(|meta| on_spawn(task_id(meta.id()), meta.spawned_at()))
            .on_before_task_poll(|meta| {
                on_poll_start(task_id(meta.id()), meta.schedule_latency());
            })
            .on_after_task_poll(|_| on_poll_end())
            .on_task_terminate(|meta| on_terminate(task_id(meta.id())));
        if options.schedule_latency {
            builder.track_task_schedule_latency();
        }
    }
    #[cfg(not(tokio_unstable))]
    let _ = options;
    crate::sampler::ensure_started();
    crate::activation::from_env_once();
    builder
}

/// tokio's task id as a number. `tokio::task::Id` exposes no accessor, but its `Hash` writes
/// exactly its `u64`, which this hasher captures (a test checks it against `Display`).
#[cfg_attr(not(tokio_unstable), allow(dead_code))]
pub(crate) fn task_id(id: tokio::task::Id) -> u64 {
    struct Capture(u64);
    impl Hasher for Capture {
        fn finish(&self) -> u64 {
            self.0
        }
        fn write(&mut self, bytes: &[u8]) {
            for &b in bytes {
                self.0 = self.0.rotate_left(8) ^ u64::from(b);
            }
        }
        fn write_u64(&mut self, v: u64) {
            self.0 = v;
        }
    }
    let mut h = Capture(0);
    std::hash::Hash::hash(&id, &mut h);
    h.0
}

/// Blocking-pool threads started in this process, all runtimes together: the `index` of
/// their `ThreadStart` (workers are counted too; they start as blocking-pool threads).
static BLOCKING_THREADS_STARTED: std::sync::atomic::AtomicU32 =
    std::sync::atomic::AtomicU32::new(0);

fn on_thread_start() {
    let _ = HOOK.try_with(|h| h.runtime_thread.set(true));
    crate::sampler::register_current_runtime();
    let index = BLOCKING_THREADS_STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if EPOCH.load(std::sync::atomic::Ordering::Relaxed) != 0 {
        record(&Event::ThreadStart {
            kind: ThreadKind::Blocking,
            index,
        });
    }
}

fn on_thread_stop() {
    crate::sampler::unregister_current_runtime();
    if EPOCH.load(std::sync::atomic::Ordering::Relaxed) != 0 {
        crate::alloc::flush_alloc_counters();
        record(&Event::ThreadStop);
    }
    // After this thread's own last events: the last worker to stop may end the recording.
    if HOOK
        .try_with(|h| h.counted_worker.replace(false))
        .unwrap_or(false)
    {
        crate::activation::worker_stopped();
    }
}

/// Declares the thread `h` describes a worker once per session (on its first poll or park).
#[inline]
fn declare_worker(h: &HookThread, epoch: u64) {
    if h.worker_epoch.get() != epoch {
        h.worker_epoch.set(epoch);
        // Once per thread and session: the stop dumps the tasks of the runtimes seen.
        crate::taskdump::register_current(epoch);
        // A thread running `block_on` on a multi-thread runtime polls without being one
        // of its workers.
        if let Some(index) = tokio::runtime::worker_index() {
            record(&Event::ThreadStart {
                kind: ThreadKind::Worker,
                index: index as u32,
            });
            // A current-thread runtime's driver thread (`block_on`'s) has a worker index
            // too, but tokio calls no thread hook on it: only pool threads are counted.
            if h.runtime_thread.get() && !h.counted_worker.replace(true) {
                crate::activation::worker_started();
            }
        }
    }
}

#[cfg_attr(not(tokio_unstable), allow(dead_code))]
fn on_spawn(task: u64, location: &'static std::panic::Location<'static>) {
    let epoch = EPOCH.load(std::sync::atomic::Ordering::Relaxed);
    if epoch == 0 {
        return;
    }
    let parent = TaskId(current_task());
    let location = crate::intern::intern_location(location);
    // Only tokio's span knows a task's name; the wake layer hands it over.
    #[cfg(feature = "wakes")]
    let name = crate::context::take_spawn_name(task);
    #[cfg(not(feature = "wakes"))]
    let name = trace_format::StringId::NONE;
    record_hot(epoch, || Event::TaskSpawn {
        task: TaskId(task),
        kind: TaskKind::Async,
        tokio_id: task,
        parent,
        location,
        name,
    });
}

#[cfg_attr(not(tokio_unstable), allow(dead_code))]
#[inline]
pub(crate) fn on_poll_start(task: u64, latency: Option<std::time::Duration>) {
    let epoch = EPOCH.load(std::sync::atomic::Ordering::Relaxed);
    if epoch == 0 {
        return;
    }
    let _ = HOOK.try_with(|h| {
        h.current.set(task);
        h.current_epoch.set(epoch);
        h.ready.set(false);
        declare_worker(h, epoch);
    });
    record_hot(epoch, || Event::PollStart { task: TaskId(task) });
    // For the stalled-poll watchdog: one store.
    crate::stacks::set_poll_start(crate::local::last_event_time());
    if let Some(l) = latency {
        // Stamped with the poll start's time: it belongs to that poll, and a second clock
        // read per poll would be wasted.
        let nanos = l.as_nanos().min(u128::from(u64::MAX)) as u64;
        record_hot_with_previous_time(epoch, || Event::ScheduleLatency {
            task: TaskId(task),
            nanos,
        });
    }
}

#[cfg_attr(not(tokio_unstable), allow(dead_code))]
#[inline]
pub(crate) fn on_poll_end() {
    let epoch = EPOCH.load(std::sync::atomic::Ordering::Relaxed);
    if epoch == 0 {
        return;
    }
    let ready = HOOK
        .try_with(|h| {
            h.current.set(0);
            h.ready.replace(false)
        })
        .unwrap_or(false);
    crate::stacks::set_poll_start(0);
    record_hot(epoch, || Event::PollEnd { ready });
}

#[cfg_attr(not(tokio_unstable), allow(dead_code))]
pub(crate) fn on_terminate(task: u64) {
    let epoch = EPOCH.load(std::sync::atomic::Ordering::Relaxed);
    if epoch == 0 {
        return;
    }
    let (in_its_poll, runtime_thread) = HOOK
        .try_with(|h| {
            let in_its_poll = h.current.get() == task;
            if in_its_poll {
                h.ready.set(true);
            }
            (in_its_poll, h.runtime_thread.get())
        })
        .unwrap_or((false, false));
    // tokio calls no spawn or poll hook for `spawn_blocking` work, only this one, on the
    // blocking-pool thread that ran it (no scheduler is set there; a thread that took over
    // a worker in `block_in_place` has one). Alone, the event would make a task with no
    // spawn and no polls appear out of nowhere; the wake layer records the work's start from
    // tokio's span, and then its end belongs in the trace.
    if !in_its_poll
        && runtime_thread
        && !on_worker_thread()
        && !blocking_start_recorded(task, epoch)
    {
        return;
    }
    record_hot(epoch, || Event::TaskTerminate { task: TaskId(task) });
}

/// Ids for futures that trace-rt itself turns into tasks (`block_on` roots), kept far above
/// tokio's counter so they never collide with tokio task ids.
static NEXT_OWN_TASK: std::sync::atomic::AtomicU64 =
    std::sync::atomic::AtomicU64::new(TaskId::FIRST_OWN);

/// Runs `future` to completion on `rt` like `Runtime::block_on`, recording the root future
/// as a task (kind `BlockOn`) with its polls, so that time spent in `main`'s future shows up
/// and tasks it spawns have it as their parent.
///
/// ```
/// let mut builder = tokio::runtime::Builder::new_current_thread();
/// trace_rt::instrument(&mut builder);
/// let rt = builder.enable_all().build().unwrap();
/// let answer = trace_rt::block_on(&rt, async { 42 });
/// assert_eq!(answer, 42);
/// ```
#[track_caller]
pub fn block_on<F: std::future::Future>(rt: &tokio::runtime::Runtime, future: F) -> F::Output {
    let task = NEXT_OWN_TASK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let location = std::panic::Location::caller();
    if EPOCH.load(std::sync::atomic::Ordering::Relaxed) != 0 {
        record(&Event::TaskSpawn {
            task: TaskId(task),
            kind: TaskKind::BlockOn,
            tokio_id: 0,
            parent: TaskId(current_task()),
            location: crate::intern::intern_location(location),
            name: trace_format::StringId::NONE,
        });
    }
    rt.block_on(RootTask {
        task,
        future: std::pin::pin!(future),
    })
}

/// Records each poll of a `block_on` root future.
struct RootTask<'a, F> {
    task: u64,
    future: std::pin::Pin<&'a mut F>,
}

impl<F: std::future::Future> std::future::Future for RootTask<'_, F> {
    type Output = F::Output;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        let task = self.task;
        // The root future is polled on the thread calling `block_on`, outside tokio's task
        // hooks; it reports its polls the same way tasks do.
        let outer = begin_nested_poll(task);
        let r = self.future.as_mut().poll(cx);
        if r.is_ready() {
            // As tokio does for tasks: the terminate comes inside the last poll.
            on_terminate(task);
        }
        // A `block_on` inside a task (rare) restores the task it interrupted.
        end_nested_poll(outer);
        r
    }
}

/// What a nested poll interrupted on this thread: the task being polled and its session
/// (`(0, 0)`: nothing).
pub(crate) type Interrupted = (u64, u64);

/// Starts a poll that tokio's task hooks do not report (a `block_on` root, a `LocalSet`
/// task), possibly inside another task's poll on this thread.
pub(crate) fn begin_nested_poll(task: u64) -> Interrupted {
    let outer = HOOK
        .try_with(|h| (h.current.get(), h.current_epoch.get()))
        .unwrap_or((0, 0));
    on_poll_start(task, None);
    outer
}

/// Ends the poll [`begin_nested_poll`] started, and makes the task it interrupted current again.
pub(crate) fn end_nested_poll((current, epoch): Interrupted) {
    on_poll_end();
    let _ = HOOK.try_with(|h| {
        h.current.set(current);
        h.current_epoch.set(epoch);
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn task_id_matches_display() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        for _ in 0..10 {
            let h = rt.spawn(async {});
            let id = h.id();
            assert_eq!(super::task_id(id).to_string(), id.to_string());
        }
    }
}
