//! Wake mode (cargo feature `wakes`): full wake coverage for every task, including tasks
//! spawned with plain `tokio::spawn` by libraries.
//!
//! tokio, built with `--cfg tokio_unstable` and its `tracing` feature, wraps every task in
//! a `runtime.spawn` span (carrying tokio's task id) and emits a `tokio::task::waker` event
//! for every waker operation (naming the span). [`wake_layer`] is a `tracing-subscriber`
//! layer that listens only to those (a per-layer filter, so other layers are unaffected) and
//! records a `Wake` event on the thread that woke the task, classified by what that thread
//! was doing:
//!
//! | the waking thread… | source |
//! |---|---|
//! | is polling the woken task itself | `SelfWake` (`Timer` while a `Sleep` of that poll registers: a timer firing then is handed back to the task by tokio's `AtomicWaker`) |
//! | is a worker outside any poll, draining its deferred wakes (see below) | `SelfWake`: tokio defers `yield_now` and budget-exhaustion wakes to the end of the scheduler turn |
//! | is polling another task | `Task`, with that task as `waker` (channels, locks, notify) |
//! | is a worker outside any poll (its I/O or timer driver) and the task's last poll registered a timer (a new `Sleep` set its deadline, or a `Sleep` reported `poll_elapsed` pending) | `Timer` |
//! | … and otherwise | `Io` |
//! | is a blocking-pool thread | `Blocking` (e.g. a `spawn_blocking` result) |
//! | is not a runtime thread | `Foreign` |
//!
//! Deferred wakes and driver wakes both come from a worker outside any poll, in the same
//! scheduler turn (the driver's first, then the deferred ones), and an I/O or timer
//! registration clones the task's waker just as a deferral does; so the layer queues two
//! markers of its own in the worker's deferred list, around the tasks' deferrals, and a
//! wake between the drain of the first and of the last is deferred (module `drain`). A
//! worker whose list holds a marker turns its driver once without blocking before it
//! parks.
//!
//! Limits:
//! - The markers go in through `tokio::task::yield_now`, so they rely on tokio deferring it
//!   (it has since 1.23). If a worker's end marker is lost (a runtime shut down mid-turn),
//!   wakes outside polls on that thread read as self-wakes until its next task poll.
//! - With `--cfg tokio_taskdump`, a task dump taken during a poll that queues a marker sees
//!   that `yield_now` as a leaf.
//! - A wake that races the task's own registration of its waker is handed back to the task
//!   by tokio's `AtomicWaker`, inside the task's poll: it reads as a self-wake (channels),
//!   except while a `Sleep` registers (a timer).
//! - A timer that fires on another worker while its task is in a later poll, before that
//!   poll reaches the `Sleep` again, reads as I/O. A sleep whose deadline passed before its
//!   first poll (a busy or descheduled worker) ends without waiting: it has no wake.
//! - A task waiting on both a timer and a socket (e.g. `timeout(read)`, or a sleep after a
//!   read that left its waker registered with the socket) is classified by whether its last
//!   pending poll touched a timer.
//! - Wakes of a task whose span was created while no subscriber was listening are not
//!   seen; `block_on` futures have no `runtime.spawn` waker events: tokio's `block_on` span
//!   is not recorded as a task (use [`crate::runtime::block_on`] for the root future), and
//!   as tokio emits no waker events for it, the root task's waiting stays unattributed.
//!
//! `spawn_blocking` work is recorded as `TaskSpawn` (kind `Blocking`) and
//! `BlockingStart`/`BlockingEnd` from its span, when it starts during the recording;
//! tokio's workers, which run as blocking work of the scheduler's, are not.
//!
//! `LocalSet` tasks (`spawn_local`) get no task hooks from tokio, so the default mode does
//! not see them at all. This layer records them from their span: the spawn, a poll for each
//! time the span is entered (one more than tokio's polls: tracing enters the span again to
//! drop the finished future, which runs its destructors), and the terminate when the span
//! closes.
//!
//! Task names (`tokio::task::Builder::name`) are only in the spans: the layer records them
//! for the tasks it spawns, and hands an async task's name to the spawn hook, which tokio
//! calls right after making the span, on the same thread.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

use trace_format::{Event, LocationId, StringId, TaskId, TaskKind, WakeSource};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event as TracingEvent, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{Filtered, Targets};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

use crate::context::{
    self, blocking_start_recorded, current_task, on_runtime_thread, on_worker_thread,
};
use crate::local::record;
use crate::runtime;

mod drain;

/// What the layer keeps in each `runtime.spawn` span.
struct TaskSpan {
    task: u64,
    kind: TaskKind,
    /// The task's current poll found a timer not yet elapsed.
    timer_pending: AtomicBool,
    /// Blocking work: [`NOT_RUN`], [`RUNNING`] or [`RAN`]. Its span is entered once to run
    /// and once more to be dropped (tracing's `Instrumented` enters it around the drop), so
    /// only the first enter and exit are its start and end.
    blocking: AtomicU8,
    /// `LocalSet` task: what its current poll interrupted on this thread (task, session).
    interrupted: (AtomicU64, AtomicU64),
}

const NOT_RUN: u8 = 0;
const RUNNING: u8 = 1;
const RAN: u8 = 2;

impl TaskSpan {
    /// Moves blocking work from phase `from` to `to`; `false` when it was not in `from`.
    fn blocking_moves(&self, from: u8, to: u8) -> bool {
        self.blocking
            .compare_exchange(from, to, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}

/// The layer; build it with [`wake_layer`].
#[derive(Debug, Default, Clone, Copy)]
pub struct WakeLayer;

/// A layer recording every task wake with its source, filtered to tokio's task and waker
/// instrumentation so that it does not change what other layers see.
///
/// ```no_run
/// use tracing_subscriber::prelude::*;
/// tracing_subscriber::registry().with(trace_rt::wake_layer()).init();
/// let mut builder = tokio::runtime::Builder::new_multi_thread();
/// trace_rt::instrument(&mut builder);
/// ```
pub fn wake_layer<S>() -> Filtered<WakeLayer, Targets, S>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let targets = Targets::new()
        .with_target("tokio::task", tracing::Level::TRACE)
        .with_target("runtime::resource::poll_op", tracing::Level::TRACE)
        .with_target("runtime::resource::state_update", tracing::Level::TRACE);
    WakeLayer.with_filter(targets)
}

#[derive(Default)]
struct SpawnFields {
    task: u64,
    kind: Option<TaskKind>,
    file: Option<String>,
    line: u32,
    col: u32,
    /// The blocking work is tokio running a worker (its scheduler launches each worker, and
    /// hands a worker over in `block_in_place`, as `spawn_blocking` work).
    runs_worker: bool,
    /// `task::Builder::name`; empty when none.
    name: String,
}

/// The `fn` of tokio's blocking work that runs a worker: its closures live in the scheduler.
const WORKER_FN_PREFIX: &str = "tokio::runtime::scheduler::";

impl Visit for SpawnFields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        match field.name() {
            "task.id" => self.task = value,
            "loc.line" => self.line = value as u32,
            "loc.col" => self.col = value as u32,
            _ => {}
        }
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record_u64(field, value as u64);
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "loc.file" => self.file = Some(value.to_string()),
            "kind" => self.kind = Some(kind_of(value)),
            "task.name" => self.name = value.to_string(),
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "kind" => self.kind = Some(kind_of(&format!("{value:?}"))),
            "fn" => self.runs_worker = format!("{value:?}").starts_with(WORKER_FN_PREFIX),
            "task.name" => self.name = format!("{value:?}"),
            _ => {}
        }
    }
}

fn kind_of(s: &str) -> TaskKind {
    match s.trim_matches('"') {
        "blocking" => TaskKind::Blocking,
        "block_on" => TaskKind::BlockOn,
        "local" => TaskKind::Local,
        _ => TaskKind::Async,
    }
}

#[derive(Default)]
struct WakerFields {
    wake: bool,
    clone: bool,
    span: u64,
}

impl Visit for WakerFields {
    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "task.id" {
            self.span = value;
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "op" {
            self.wake = value == "waker.wake" || value == "waker.wake_by_ref";
            self.clone = value == "waker.clone";
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "op" {
            let s = format!("{value:?}");
            self.wake = s.contains("waker.wake");
            self.clone = s.contains("waker.clone");
        }
    }
}

/// A `runtime::resource::state_update` event sets a `Sleep`'s deadline (its `duration`
/// field) before the timer registers: other resources update other fields.
#[derive(Default)]
struct StateUpdateFields {
    duration: bool,
}

impl Visit for StateUpdateFields {
    fn record_debug(&mut self, field: &Field, _value: &dyn std::fmt::Debug) {
        if field.name() == "duration" {
            self.duration = true;
        }
    }
}

#[derive(Default)]
struct PollOpFields {
    elapsed_op: bool,
    ready: bool,
}

impl Visit for PollOpFields {
    fn record_bool(&mut self, field: &Field, value: bool) {
        if field.name() == "is_ready" {
            self.ready = value;
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "op_name" {
            self.elapsed_op = value == "poll_elapsed";
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "op_name" {
            self.elapsed_op = format!("{value:?}").contains("poll_elapsed");
        }
    }
}

thread_local! {
    /// The `runtime.spawn` span entered on this thread (the task being polled).
    static ENTERED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// The task being polled here cloned its own waker during this poll.
    static SELF_CLONED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    /// The `Sleep`s of the poll under way here: whether one is registering its waker (its
    /// budget check reported `poll_elapsed` ready, its result is not reported yet), and how
    /// many reported pending.
    static SLEEP_POLL: std::cell::Cell<(bool, u32)> = const { std::cell::Cell::new((false, 0)) };
}

impl<S> Layer<S> for WakeLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != "runtime.spawn" {
            return;
        }
        let mut f = SpawnFields::default();
        attrs.record(&mut f);
        let kind = f.kind.unwrap_or(TaskKind::Async);
        if f.runs_worker {
            // A worker thread's whole life, not work of the program's.
            return;
        }
        // Interned only while recording: it takes a lock, and only named tasks pay it.
        let name = if f.name.is_empty() || !crate::shared::is_recording() {
            StringId::NONE
        } else {
            crate::intern::intern(&f.name)
        };
        if kind == TaskKind::Async && name != StringId::NONE {
            context::set_spawn_name(f.task, name);
        }
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(TaskSpan {
                task: f.task,
                kind,
                timer_pending: AtomicBool::new(false),
                blocking: AtomicU8::new(NOT_RUN),
                interrupted: (AtomicU64::new(0), AtomicU64::new(0)),
            });
        }
        // The runtime's spawn hook already records async tasks; blocking and `LocalSet` ones
        // have no hook. tokio's `block_on` span is no task: nothing polls it through the
        // hooks, so it would read as waiting for the scheduler for ever (`trace_rt::block_on`
        // records the root future as a task of its own).
        if !matches!(kind, TaskKind::Async | TaskKind::BlockOn) && crate::shared::is_recording() {
            let location = match f.file {
                Some(file) => crate::intern::intern_location_parts(&file, f.line, f.col),
                None => LocationId::NONE,
            };
            record(&Event::TaskSpawn {
                task: TaskId(f.task),
                kind,
                tokio_id: f.task,
                parent: TaskId(current_task()),
                location,
                name,
            });
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let ext = span.extensions();
        let Some(t) = ext.get::<TaskSpan>() else {
            return;
        };
        t.timer_pending.store(false, Ordering::Relaxed);
        let _ = ENTERED.try_with(|e| e.set(id.into_u64()));
        let _ = SLEEP_POLL.try_with(|s| s.set((false, 0)));
        if t.kind == TaskKind::Async && crate::shared::is_recording() && on_worker_thread() {
            drain::poll_starts();
        }
        match t.kind {
            // Moves on even while not recording: a later enter is the drop, whatever the
            // session.
            TaskKind::Blocking if t.blocking_moves(NOT_RUN, RUNNING) => {
                let epoch = crate::shared::EPOCH.load(Ordering::Relaxed);
                if epoch != 0 {
                    context::set_blocking_started(t.task, epoch);
                    record(&Event::BlockingStart {
                        task: TaskId(t.task),
                    });
                }
            }
            // tokio's task hooks do not see `LocalSet` tasks; their span is entered around
            // each poll (and once more around dropping the future).
            TaskKind::Local => {
                let (task, epoch) = runtime::begin_nested_poll(t.task);
                t.interrupted.0.store(task, Ordering::Relaxed);
                t.interrupted.1.store(epoch, Ordering::Relaxed);
            }
            _ => {}
        }
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        let _ = ENTERED.try_with(|e| {
            if e.get() == id.into_u64() {
                e.set(0);
            }
        });
        let Some(span) = ctx.span(id) else { return };
        let ext = span.extensions();
        let Some(t) = ext.get::<TaskSpan>() else {
            return;
        };
        match t.kind {
            TaskKind::Blocking if t.blocking_moves(RUNNING, RAN) => {
                let epoch = crate::shared::EPOCH.load(Ordering::Relaxed);
                if blocking_start_recorded(t.task, epoch) {
                    record(&Event::BlockingEnd);
                }
            }
            TaskKind::Local => runtime::end_nested_poll((
                t.interrupted.0.load(Ordering::Relaxed),
                t.interrupted.1.load(Ordering::Relaxed),
            )),
            _ => {}
        }
        if SELF_CLONED.try_with(|c| c.replace(0)).unwrap_or(0) == t.task && on_worker_thread() {
            drain::self_cloned_poll_ends();
        }
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        // A `LocalSet` task's span closes when its future is dropped: it completed or was
        // cancelled (tokio calls no terminate hook for it).
        let Some(span) = ctx.span(&id) else { return };
        if let Some(t) = span.extensions().get::<TaskSpan>()
            && t.kind == TaskKind::Local
        {
            record(&Event::TaskTerminate {
                task: TaskId(t.task),
            });
        }
    }

    fn on_event(&self, event: &TracingEvent<'_>, ctx: Context<'_, S>) {
        if !crate::shared::is_recording() {
            return;
        }
        let target = event.metadata().target();
        if target == "tokio::task::waker" {
            let mut f = WakerFields::default();
            event.record(&mut f);
            if !f.wake && !f.clone {
                return;
            }
            let Some(span) = ctx.span(&Id::from_u64(f.span.max(1))) else {
                return;
            };
            let ext = span.extensions();
            let Some(t) = ext.get::<TaskSpan>() else {
                return;
            };
            let current = current_task();
            if f.clone {
                if current != 0 && current == t.task {
                    let _ = SELF_CLONED.try_with(|c| c.set(current));
                }
                return;
            }
            let (source, waker) = if current != 0 && current == t.task {
                // A timer that fires while its task registers its waker is handed back to
                // the task by tokio's `AtomicWaker`, inside the task's own poll.
                if SLEEP_POLL.try_with(|s| s.get().0).unwrap_or(false) {
                    (WakeSource::Timer, 0)
                } else {
                    (WakeSource::SelfWake, current)
                }
            } else if current == 0 && drain::draining() {
                (WakeSource::SelfWake, t.task)
            } else if current != 0 {
                (WakeSource::Task, current)
            } else if on_worker_thread() {
                if t.timer_pending.load(Ordering::Relaxed) {
                    (WakeSource::Timer, 0)
                } else {
                    (WakeSource::Io, 0)
                }
            } else if on_runtime_thread() {
                (WakeSource::Blocking, 0)
            } else {
                (WakeSource::Foreign, 0)
            };
            record(&Event::Wake {
                task: TaskId(t.task),
                waker: TaskId(waker),
                source,
            });
        } else if target == "runtime::resource::poll_op"
            || target == "runtime::resource::state_update"
        {
            let entered = ENTERED.try_with(|e| e.get()).unwrap_or(0);
            if entered == 0 {
                return;
            }
            let Some(span) = ctx.span(&Id::from_u64(entered)) else {
                return;
            };
            let ext = span.extensions();
            let Some(t) = ext.get::<TaskSpan>() else {
                return;
            };
            if target == "runtime::resource::state_update" {
                // A `Sleep` sets its deadline before it registers: from here a timer can fire
                // on another worker before the `poll_op` that reports it pending.
                let mut f = StateUpdateFields::default();
                event.record(&mut f);
                if f.duration {
                    t.timer_pending.store(true, Ordering::Relaxed);
                }
                return;
            }
            let mut f = PollOpFields::default();
            event.record(&mut f);
            if !f.elapsed_op {
                return;
            }
            // `Sleep::poll` reports twice: its budget check (ready; or pending, and it
            // returns), then its timer's result.
            let _ = SLEEP_POLL.try_with(|s| {
                let (registering, pending) = s.get();
                if f.ready && !registering {
                    s.set((true, pending));
                } else if f.ready {
                    // Elapsed without waiting: the deadline set above is no wait, unless
                    // another `Sleep` of this poll is pending.
                    if pending == 0 {
                        t.timer_pending.store(false, Ordering::Relaxed);
                    }
                    s.set((false, pending));
                } else {
                    t.timer_pending.store(true, Ordering::Relaxed);
                    s.set((false, pending + 1));
                }
            });
        }
    }
}
