//! Telling tokio's deferred wakes from its driver's wakes on a worker thread.
//!
//! Outside any poll, a worker wakes tasks at two points of one scheduler turn
//! (`park_internal`, in both schedulers, also in the zero-timeout turns of a busy worker's
//! maintenance): first its I/O and timer drivers, then `Defer::wake`, which drains the
//! wakers that `yield_now` and budget exhaustion deferred during the polls before (a LIFO
//! list). The waker events alone cannot tell them apart: an I/O or timer registration
//! clones the task's waker in its poll just as a deferral does.
//!
//! So this module puts two markers of its own in that list, with tokio's public deferral
//! (polling a `tokio::task::yield_now()` future with a marker as its waker):
//! - the *end* marker at the start of the first task poll after a drain, below every task
//!   deferral of the turn, so that it is drained last;
//! - the *start* marker after each poll that cloned the task's own waker, above its
//!   deferral (if it made one), so that it is drained first (the list does not hold the
//!   same waker twice in a row, so a run of such polls adds one marker).
//!
//! No marker is added while no session records (the layer's hooks check first), so none
//! is added while the stop takes its task dumps (tokio re-polls every task to trace it).
//!
//! Between the start marker's wake and the end marker's, every task wake on this thread is
//! a deferred one. Costs: a marker in the list makes an idle worker turn its driver once
//! without blocking before it parks; the markers are two `Arc` wakers made once.

use std::cell::Cell;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Wake, Waker};

use crate::context::park_state;

/// A marker's waker: its wake says where the drain is.
struct Marker {
    end: bool,
}

impl Wake for Marker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let _ = STATE.try_with(|s| {
            if s.pushing.get() {
                // Not deferred: tokio woke it at once (no scheduler, or `block_in_place`).
                s.woken_at_once.set(true);
            } else if self.end {
                s.draining.set(0);
                s.end_queued.set(0);
            } else {
                s.draining.set(stamp());
            }
        });
    }
}

/// The start and end markers, made once for the process.
fn markers() -> &'static (Waker, Waker) {
    static MARKERS: OnceLock<(Waker, Waker)> = OnceLock::new();
    MARKERS.get_or_init(|| {
        (
            Waker::from(Arc::new(Marker { end: false })),
            Waker::from(Arc::new(Marker { end: true })),
        )
    })
}

struct State {
    /// Inside [`push`]: a marker woken now was not deferred.
    pushing: Cell<bool>,
    woken_at_once: Cell<bool>,
    /// [`stamp`] when the start marker was drained; 0: not draining.
    draining: Cell<u64>,
    /// [`stamp`] when the end marker was queued; 0: not queued.
    end_queued: Cell<u64>,
}

thread_local! {
    static STATE: State = const {
        State {
            pushing: Cell::new(false),
            woken_at_once: Cell::new(false),
            draining: Cell::new(0),
            end_queued: Cell::new(0),
        }
    };
}

/// The thread's parks so far, plus one (never 0). A park hook means the list was drained
/// (a multi-thread worker parks only with it empty; a current-thread one drains it in the
/// same park), so a marker state from before it is stale: that covers a marker dropped
/// without a wake (a runtime shut down with it queued).
fn stamp() -> u64 {
    park_state().0.wrapping_add(1).max(1)
}

/// Queues `waker` on this worker's deferred-wake list; `false` when tokio woke it at once.
fn push(waker: &Waker) -> bool {
    let Ok(()) = STATE.try_with(|s| {
        s.pushing.set(true);
        s.woken_at_once.set(false);
    }) else {
        return false;
    };
    // `yield_now` hands its waker to the scheduler's deferred list (tokio's only public
    // way in); polled once, it is pending and its drop takes nothing back.
    let mut yielding = std::pin::pin!(tokio::task::yield_now());
    let _ = yielding.as_mut().poll(&mut Context::from_waker(waker));
    STATE
        .try_with(|s| {
            s.pushing.set(false);
            !s.woken_at_once.get()
        })
        .unwrap_or(false)
}

/// A task poll begins on this worker: no drain is under way, and the end marker goes below
/// whatever the poll defers.
pub(super) fn poll_starts() {
    let queued = STATE
        .try_with(|s| {
            s.draining.set(0);
            s.end_queued.get() == stamp()
        })
        .unwrap_or(true);
    if !queued && push(&markers().1) {
        let _ = STATE.try_with(|s| s.end_queued.set(stamp()));
    }
}

/// The task polled here cloned its own waker: the start marker goes above its deferral.
pub(super) fn self_cloned_poll_ends() {
    push(&markers().0);
}

/// Whether this thread is draining its deferred wakes: a task woken now deferred its wake
/// itself.
pub(super) fn draining() -> bool {
    STATE
        .try_with(|s| s.draining.get() == stamp())
        .unwrap_or(false)
}
