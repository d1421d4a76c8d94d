//! What the hooks know about the current thread: the task being polled on it, whether it is
//! one of tokio's threads and has been declared a worker, its parks, and (wake mode) what
//! the wake layer hands to the runtime hooks on the same thread. Like tokio's
//! `runtime/context.rs`: a leaf (it uses only `shared`'s switch) that the hook modules
//! (`runtime`, `wakes`, `alloc`) read and write without importing each other.
//!
//! Every accessor tolerates a thread whose thread-locals are being destroyed (it then reads
//! "nothing": no task, not a runtime thread).

use std::cell::Cell;
use std::sync::atomic::Ordering;

#[cfg(feature = "wakes")]
use trace_format::StringId;

use crate::epoch::EPOCH;

/// What the hooks know about the current thread.
pub(crate) struct HookThread {
    /// The task being polled here (0 when none): the parent of spawns, the waker of wakes.
    pub(crate) current: Cell<u64>,
    /// The session `current` was set in (so a stale value from an earlier one is ignored).
    pub(crate) current_epoch: Cell<u64>,
    /// The task being polled terminated inside this poll.
    pub(crate) ready: Cell<bool>,
    /// Whether this thread was declared a worker in the current session.
    pub(crate) worker_epoch: Cell<u64>,
    /// Whether this thread is one of tokio's (worker or blocking pool).
    pub(crate) runtime_thread: Cell<bool>,
    /// Whether this thread was counted as a live worker (see `activation::worker_started`).
    pub(crate) counted_worker: Cell<bool>,
    /// Parks so far on this thread, and the clock at the last one (wake classification;
    /// kept only with the `wakes` feature).
    #[cfg_attr(not(feature = "wakes"), allow(dead_code))]
    pub(crate) parks: Cell<u64>,
    #[cfg_attr(not(feature = "wakes"), allow(dead_code))]
    pub(crate) park_time: Cell<u64>,
}

thread_local! {
    pub(crate) static HOOK: HookThread = const {
        HookThread {
            current: Cell::new(0),
            current_epoch: Cell::new(0),
            ready: Cell::new(false),
            worker_epoch: Cell::new(0),
            runtime_thread: Cell::new(false),
            counted_worker: Cell::new(false),
            parks: Cell::new(0),
            park_time: Cell::new(0),
        }
    };
}

/// The task being polled on this thread, if any (0: none).
pub(crate) fn current_task() -> u64 {
    let epoch = EPOCH.load(Ordering::Relaxed);
    HOOK.try_with(|h| {
        if h.current_epoch.get() == epoch {
            h.current.get()
        } else {
            0
        }
    })
    .unwrap_or(0)
}

/// Parks so far on this thread and the clock (ticks) at the last one.
#[cfg_attr(not(feature = "wakes"), allow(dead_code))]
pub(crate) fn park_state() -> (u64, u64) {
    HOOK.try_with(|h| (h.parks.get(), h.park_time.get()))
        .unwrap_or((0, 0))
}

/// Whether this thread belongs to a tokio runtime.
#[cfg_attr(not(feature = "wakes"), allow(dead_code))]
pub(crate) fn on_runtime_thread() -> bool {
    HOOK.try_with(|h| h.runtime_thread.get()).unwrap_or(false)
}

/// Whether this thread is a runtime worker (tokio's scheduler context is set on it, which
/// is also true while it runs the I/O and timer drivers).
#[cfg_attr(not(any(feature = "wakes", tokio_unstable)), allow(dead_code))]
pub(crate) fn on_worker_thread() -> bool {
    tokio::runtime::worker_index().is_some()
}

#[cfg(feature = "wakes")]
thread_local! {
    /// The last `spawn_blocking` work whose start was recorded on this thread: (task, epoch
    /// of the session that recorded it).
    static BLOCKING_STARTED: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    /// The name of the task whose span was just made on this thread, for the spawn hook
    /// that tokio calls next on the same thread: (task, name).
    static SPAWN_NAME: Cell<(u64, StringId)> = const { Cell::new((0, StringId::NONE)) };
}

/// Remembers that this thread recorded the start of blocking work `task` in session `epoch`.
///
/// `#[inline]`, like the other setter: the layer wrote these thread-locals in place when
/// they were its own, and still does.
#[cfg(feature = "wakes")]
#[inline]
pub(crate) fn set_blocking_started(task: u64, epoch: u64) {
    let _ = BLOCKING_STARTED.try_with(|b| b.set((task, epoch)));
}

/// Whether this thread recorded the start of blocking work `task` in session `epoch`, so
/// that its end belongs in the trace. Work that began before the recording, and tokio's own
/// worker threads (run as blocking work), would otherwise end without having begun.
#[cfg(feature = "wakes")]
pub(crate) fn blocking_start_recorded(task: u64, epoch: u64) -> bool {
    epoch != 0
        && BLOCKING_STARTED
            .try_with(|b| b.get() == (task, epoch))
            .unwrap_or(false)
}

/// Without the wake layer nothing records the start of `spawn_blocking` work.
#[cfg(not(feature = "wakes"))]
pub(crate) fn blocking_start_recorded(_task: u64, _epoch: u64) -> bool {
    false
}

/// Hands `name` (`task::Builder::name`) to the spawn hook of `task`, which tokio calls next
/// on this thread.
#[cfg(feature = "wakes")]
#[inline]
pub(crate) fn set_spawn_name(task: u64, name: StringId) {
    let _ = SPAWN_NAME.try_with(|n| n.set((task, name)));
}

/// The name `task::Builder::name` gave `task`, when the layer just saw its span made on
/// this thread ([`StringId::NONE`] otherwise). tokio's spawn hook carries no name.
#[cfg(feature = "wakes")]
pub(crate) fn take_spawn_name(task: u64) -> StringId {
    SPAWN_NAME
        .try_with(|n| match n.replace((0, StringId::NONE)) {
            (t, name) if t == task => name,
            _ => StringId::NONE,
        })
        .unwrap_or(StringId::NONE)
}
