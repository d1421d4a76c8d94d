//! Pauses declared by the application: [`pause`] (the whole process stops, like a garbage
//! collector's stop-the-world phase) and [`pause_thread`] (only this thread is unavailable),
//! each a guard that ends the pause when dropped.
//!
//! ```
//! let session = trace_rt::Config::default().start_with_sink(trace_rt::MemorySink::new())?;
//! {
//!     let _stw = trace_rt::pause("compaction");      // PauseBegin { "compaction", Process }
//!     let _mine = trace_rt::pause_thread("flush");   // PauseBegin { "flush", Thread }
//! }                                                  // both PauseEnds, innermost first
//! assert_eq!(session.stop()?.events, 4);
//! # Ok::<(), trace_rt::Error>(())
//! ```
//!
//! A pause is a `PauseBegin { kind, scope }` when the guard is made and a `PauseEnd { kind,
//! scope }` when it drops, both on the thread that makes or drops the guard, with the kind
//! interned as a string. While a process-wide pause is open, mutator utilization is zero;
//! while a thread-scoped one is open, that thread does not count as available (see
//! docs/ARCHITECTURE.md, "Utilization and MMU").
//!
//! # Nesting and overlap
//!
//! Every guard records its own begin and end; nothing is merged. A reader matches each
//! `PauseEnd` with the most recent still-open `PauseBegin` of the same kind and scope: on
//! the same thread for thread-scoped pauses, across the whole process (events merged by
//! time) for process-wide ones. With guards this is exact whenever pauses of one kind nest
//! (one opened inside another closes first), which is how scoped guards behave. When two
//! pauses of the same kind overlap without nesting (two threads each holding a process-wide
//! `"gc"` guard, ending in the order they began), the time covered — the union, which is
//! what utilization uses — is still exact, while the split into individual pauses may pair
//! one's begin with the other's end. Pauses of different kinds, and different scopes, are
//! independent. A process-wide guard may be dropped on another thread; a thread-scoped one
//! cannot leave its thread (it is not `Send`).
//!
//! A pause is recorded only whole, within one recording: a guard made while nothing
//! records records nothing, even if a recording starts before it drops, and a guard whose
//! recording has stopped (or been replaced by another) records no end.

use std::marker::PhantomData;
use std::sync::atomic::Ordering;

use trace_format::{Event, PauseScope, StringId};

use crate::local::record;
use crate::shared::EPOCH;

/// A pause kind interned once, for code that pauses often.
///
/// ```
/// static COMPACTION: std::sync::OnceLock<trace_rt::PauseKind> = std::sync::OnceLock::new();
/// let kind = *COMPACTION.get_or_init(|| trace_rt::PauseKind::new("compaction"));
/// let _g = kind.pause();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PauseKind(StringId);

impl PauseKind {
    /// Interns `kind` (takes the interner's lock once).
    ///
    /// ```
    /// let gc = trace_rt::PauseKind::new("gc");
    /// assert_eq!(gc, trace_rt::PauseKind::new("gc"));
    /// ```
    pub fn new(kind: &str) -> Self {
        PauseKind(crate::intern::intern(kind))
    }

    /// The interned name.
    ///
    /// ```
    /// let gc = trace_rt::PauseKind::new("gc");
    /// assert_eq!(gc.id(), trace_rt::intern("gc"));
    /// ```
    pub fn id(self) -> StringId {
        self.0
    }

    /// Starts a process-wide pause of this kind; see [`pause`].
    ///
    /// ```
    /// let g = trace_rt::PauseKind::new("gc").pause();
    /// drop(g); // the pause ends
    /// ```
    pub fn pause(self) -> PauseGuard {
        PauseGuard {
            open: begin(self.0, PauseScope::Process),
        }
    }

    /// Starts a pause of this thread of this kind; see [`pause_thread`].
    ///
    /// ```
    /// let _g = trace_rt::PauseKind::new("flush").pause_thread();
    /// ```
    pub fn pause_thread(self) -> ThreadPauseGuard {
        ThreadPauseGuard {
            open: begin(self.0, PauseScope::Thread),
            _not_send: PhantomData,
        }
    }
}

/// Starts a process-wide (stop-the-world) pause of `kind`, which ends when the guard drops.
/// While nothing records this costs one relaxed atomic load; while recording, one interning
/// (a lock; use [`PauseKind`] on hot paths) and one event.
///
/// ```
/// let _g = trace_rt::pause("compaction");
/// // ... the process does nothing else until `_g` drops ...
/// ```
pub fn pause(kind: &str) -> PauseGuard {
    PauseGuard {
        open: begin_named(kind, PauseScope::Process),
    }
}

/// Starts a pause of the current thread only (e.g. a worker doing a long synchronous
/// flush), which ends when the guard drops. Costs as [`pause`].
///
/// ```
/// let _g = trace_rt::pause_thread("flush");
/// ```
pub fn pause_thread(kind: &str) -> ThreadPauseGuard {
    ThreadPauseGuard {
        open: begin_named(kind, PauseScope::Thread),
        _not_send: PhantomData,
    }
}

/// Ends a process-wide pause when dropped; made by [`pause`].
///
/// ```
/// let guard: trace_rt::PauseGuard = trace_rt::pause("gc");
/// // It may end on another thread.
/// std::thread::spawn(move || drop(guard)).join().unwrap();
/// ```
#[must_use = "the pause ends when the guard is dropped"]
#[derive(Debug)]
pub struct PauseGuard {
    open: Option<Open>,
}

/// Ends a thread-scoped pause when dropped; made by [`pause_thread`]. Not `Send`: the end
/// must be recorded on the thread that paused.
///
/// ```
/// let guard: trace_rt::ThreadPauseGuard = trace_rt::pause_thread("flush");
/// drop(guard); // on the same thread
/// ```
#[must_use = "the pause ends when the guard is dropped"]
#[derive(Debug)]
pub struct ThreadPauseGuard {
    open: Option<Open>,
    _not_send: PhantomData<*const ()>,
}

/// A begun pause: its kind, and the session that recorded the begin.
#[derive(Debug)]
struct Open {
    kind: StringId,
    epoch: u64,
}

fn begin_named(kind: &str, scope: PauseScope) -> Option<Open> {
    if EPOCH.load(Ordering::Relaxed) == 0 {
        return None;
    }
    begin(crate::intern::intern(kind), scope)
}

fn begin(kind: StringId, scope: PauseScope) -> Option<Open> {
    let epoch = EPOCH.load(Ordering::Relaxed);
    if epoch == 0 {
        return None;
    }
    record(&Event::PauseBegin { kind, scope });
    Some(Open { kind, epoch })
}

fn end(open: Option<Open>, scope: PauseScope) {
    if let Some(Open { kind, epoch }) = open
        && EPOCH.load(Ordering::Relaxed) == epoch
    {
        record(&Event::PauseEnd { kind, scope });
    }
}

impl Drop for PauseGuard {
    fn drop(&mut self) {
        end(self.open.take(), PauseScope::Process);
    }
}

impl Drop for ThreadPauseGuard {
    fn drop(&mut self) {
        end(self.open.take(), PauseScope::Thread);
    }
}
