//! One thread's allocator state, in thread-local cells without a destructor, and what it
//! records: the entry points count each call here; the slow path writes a slow call's
//! pause, a sample (after the sample rate) and the `AllocCounters` when they are due.
//! [`flush_alloc_counters`] and the runtime's park hook ask for the counters.

use std::cell::Cell;
use std::sync::atomic::{AtomicU32, Ordering};

use trace_format::sampling::SAMPLE_RATE_COUNTER;
use trace_format::{Event, PauseScope, StackId, StringId, TaskId};

use super::sampling::draw_distance;
use super::settings::Settings;
use crate::clock;
use crate::local::try_record_at;
use crate::shared::EPOCH;
use crate::stacks::WalkStart;

/// The pause kind of slow allocator calls.
///
/// ```
/// assert_eq!(trace_rt::alloc::SLOW_CALL_PAUSE, "alloc");
/// ```
pub const SLOW_CALL_PAUSE: &str = "alloc";
/// A thread writes its `AllocCounters` as soon as the bytes it allocated minus the bytes it
/// freed since its last one reach this much either way, however recent that one was: the
/// heap curve's error per thread stays under this plus 64 KiB.
///
/// ```
/// assert_eq!(trace_rt::alloc::MAX_UNREPORTED_HEAP, 64 * 1024);
/// ```
pub const MAX_UNREPORTED_HEAP: u64 = 64 * 1024;

/// Calls between two checks of whether `AllocCounters` are due may weigh this much (size
/// + [`CALL_WEIGHT`] each).
const CHECK_BUDGET: i64 = 64 * 1024;
const CALL_WEIGHT: i64 = 64;

/// Writes this thread's allocator counters now, if it has unreported activity and a session
/// records (for example before a thread that allocated ends; tokio runtime threads do it
/// when they park and when they stop). Does nothing without a [`TracingAllocator`].
///
/// ```
/// let session = trace_rt::Config::default().start_with_sink(trace_rt::MemorySink::new())?;
/// std::thread::spawn(|| {
///     let v: Vec<u64> = (0..1000).collect();
///     drop(v);
///     trace_rt::flush_alloc_counters();
/// })
/// .join()
/// .unwrap();
/// session.stop()?;
/// # Ok::<(), trace_rt::Error>(())
/// ```
///
/// [`TracingAllocator`]: super::TracingAllocator
pub fn flush_alloc_counters() {
    report_counters(true);
}

/// Writes this thread's allocator counters if they are due (the counters interval has passed
/// since its last ones, or its heap changed by [`MAX_UNREPORTED_HEAP`]): for a tokio worker
/// about to park, which would otherwise keep them while idle.
pub(crate) fn report_due_alloc_counters() {
    report_counters(false);
}

fn report_counters(force: bool) {
    let epoch = EPOCH.load(Ordering::Relaxed);
    if epoch == 0 {
        return;
    }
    let t = thread_state();
    if t.epoch.get() == epoch && !t.in_hook.get() && t.has_activity() {
        if force {
            t.force.set(true);
        }
        t.slow_path(None, 0, None);
    }
}

/// One thread's allocator state. No destructor, so it is usable at any point of a thread's
/// life, and each access is a plain thread-local address computation.
pub(super) struct ThreadState {
    /// The session the counters below belong to.
    epoch: Cell<u64>,
    /// Set while this thread is in `slow_path`: calls it makes are only counted.
    pub(super) in_hook: Cell<bool>,
    allocs: Cell<u64>,
    frees: Cell<u64>,
    alloc_bytes: Cell<u64>,
    free_bytes: Cell<u64>,
    /// Counts down by size + `CALL_WEIGHT` per call; below zero, whether the counters are
    /// due is checked.
    pub(super) budget: Cell<i64>,
    /// Clock (ticks) when the counters were last written (or the session started here).
    last_report: Cell<u64>,
    /// Counters interval in clock ticks (0: no time condition).
    interval_ticks: Cell<u64>,
    /// The next `slow_path` writes the counters whatever their age.
    force: Cell<bool>,
    /// Bytes to allocate before the next sample.
    pub(super) until_sample: Cell<u64>,
    /// The rate `until_sample` was drawn with.
    draw_rate: Cell<u64>,
    /// The rate last written as a `Counter` in this session (0: none).
    announced_rate: Cell<u64>,
    /// Slow-call threshold in clock ticks.
    pub(super) slow_ticks: Cell<u64>,
    /// Calls for blocks at least this large are timed (`u64::MAX`: none).
    timed_min: Cell<u64>,
    rng: Cell<u64>,
    /// A sample (size, task, rate, stack: `None` when the session records no stacks) that
    /// could not be written yet.
    pending: Cell<Option<PendingSample>>,
}

/// A sample not written yet: (size, task, rate, stack).
type PendingSample = (u64, u64, u64, Option<u32>);

thread_local! {
    static THREAD: ThreadState = const {
        ThreadState {
            epoch: Cell::new(0),
            in_hook: Cell::new(false),
            allocs: Cell::new(0),
            frees: Cell::new(0),
            alloc_bytes: Cell::new(0),
            free_bytes: Cell::new(0),
            budget: Cell::new(0),
            last_report: Cell::new(0),
            interval_ticks: Cell::new(0),
            force: Cell::new(false),
            until_sample: Cell::new(u64::MAX),
            draw_rate: Cell::new(0),
            announced_rate: Cell::new(0),
            slow_ticks: Cell::new(0),
            timed_min: Cell::new(u64::MAX),
            rng: Cell::new(0),
            pending: Cell::new(None),
        }
    };
}

/// Runs `f` with this thread's allocations counted but neither sampled nor timed: the
/// recorder's own heavy work (naming the code at stop) is not the application's.
pub(crate) fn unrecorded<R>(f: impl FnOnce() -> R) -> R {
    let t = thread_state();
    let before = t.in_hook.replace(true);
    let r = f();
    t.in_hook.set(before);
    r
}

/// This thread's state, as a plain reference: a closure-free access that inlines to one
/// thread-pointer-relative address computation.
#[inline(always)]
pub(super) fn thread_state() -> &'static ThreadState {
    // SAFETY: `THREAD` has no destructor, so its storage is valid for as long as this thread
    // runs, and the reference cannot leave the thread (`ThreadState` holds `Cell`s, so it is
    // not `Sync` and `&ThreadState` is not `Send`).
    THREAD.with(|t| unsafe { &*(t as *const ThreadState) })
}

impl ThreadState {
    #[inline(always)]
    pub(super) fn check_session(&self, epoch: u64, settings: &Settings) {
        if self.epoch.get() != epoch {
            self.start_session(epoch, settings);
        }
    }

    /// First call on this thread in a new session: what was counted belonged to the last one.
    #[cold]
    #[inline(never)]
    fn start_session(&self, epoch: u64, settings: &Settings) {
        self.epoch.set(epoch);
        self.allocs.set(0);
        self.frees.set(0);
        self.alloc_bytes.set(0);
        self.free_bytes.set(0);
        self.budget.set(CHECK_BUDGET);
        self.last_report.set(clock::now());
        let interval = settings.counters_ns.load(Ordering::Relaxed);
        self.interval_ticks.set(if interval == 0 {
            0
        } else {
            nanos_to_ticks(interval)
        });
        self.force.set(false);
        self.announced_rate.set(0);
        self.pending.set(None);
        let rate = settings.sample_rate.load(Ordering::Relaxed);
        self.draw_rate.set(rate);
        self.until_sample.set(draw_distance(&self.rng, rate));
        let ns = settings.slow_ns.load(Ordering::Relaxed);
        self.slow_ticks.set(nanos_to_ticks(ns));
        self.timed_min.set(if ns == 0 {
            u64::MAX
        } else {
            settings.timed_min.load(Ordering::Relaxed)
        });
    }

    /// Whether a call for a block of `size` bytes is timed.
    #[inline(always)]
    pub(super) fn timed(&self, size: u64) -> bool {
        size >= self.timed_min.get()
    }

    #[inline(always)]
    pub(super) fn count_alloc(&self, size: u64) {
        self.allocs.set(self.allocs.get() + 1);
        self.alloc_bytes
            .set(self.alloc_bytes.get().wrapping_add(size));
        self.spend(size);
    }

    #[inline(always)]
    pub(super) fn count_free(&self, size: u64) {
        self.frees.set(self.frees.get() + 1);
        self.free_bytes
            .set(self.free_bytes.get().wrapping_add(size));
        self.spend(size);
    }

    #[inline(always)]
    fn spend(&self, size: u64) {
        let cost = (size.min(CHECK_BUDGET as u64) as i64) + CALL_WEIGHT;
        self.budget.set(self.budget.get() - cost);
    }

    fn has_activity(&self) -> bool {
        self.allocs.get() != 0 || self.frees.get() != 0
    }

    /// Whether the counters are written now: when asked to, once the interval has passed
    /// since the last ones, or once the unreported heap change is large.
    fn counters_due(&self, now: u64) -> bool {
        let net = self.alloc_bytes.get().wrapping_sub(self.free_bytes.get()) as i64;
        self.force.get()
            || now.wrapping_sub(self.last_report.get()) >= self.interval_ticks.get()
            || net.unsigned_abs() >= MAX_UNREPORTED_HEAP
    }

    /// Writes what is due: the slow call's pause, the sample (after the rate, if this thread
    /// has not written it yet), and the counters. What cannot be written now (this thread is
    /// inside the recorder already) is kept, and the next call tries again.
    #[cold]
    #[inline(never)]
    pub(super) fn slow_path(
        &self,
        sample: Option<(u64, WalkStart)>,
        rate: u64,
        pause: Option<(u64, u64)>,
    ) {
        self.in_hook.set(true);
        if let Some((t0, t1)) = pause
            && let Some(kind) = SLOW_KIND.get()
            && try_record_at(
                t0,
                &Event::PauseBegin {
                    kind,
                    scope: PauseScope::Thread,
                },
            )
        {
            try_record_at(
                t1,
                &Event::PauseEnd {
                    kind,
                    scope: PauseScope::Thread,
                },
            );
        }
        if let Some((size, start)) = sample {
            // One pending slot: an older sample still waiting (rare) is replaced.
            // The allocating code's stack, walked from the allocator call's entry (so the
            // recorder's own frames are not in it) and interned.
            let stack = crate::shared::current()
                .and_then(|s| s.stacks.load_full())
                .map(|s| s.capture_from(start).0);
            self.pending.set(Some((
                size,
                crate::context::current_task(),
                self.draw_rate.get(),
                stack,
            )));
            self.draw_rate.set(rate);
            self.until_sample.set(draw_distance(&self.rng, rate));
        }
        let now = clock::now();
        let mut retry = false;
        if let Some((size, task, rate, stack)) = self.pending.get() {
            let task = TaskId(task);
            let event = match stack {
                Some(stack) => Event::AllocSampleAt {
                    size,
                    task,
                    stack: StackId(stack),
                },
                None => Event::AllocSample { size, task },
            };
            if self.announce(now, rate) && try_record_at(now, &event) {
                self.pending.set(None);
            } else {
                retry = true;
            }
        }
        // Checked again after another budget's worth of calls when not due.
        self.budget.set(CHECK_BUDGET);
        if self.has_activity() && self.counters_due(now) {
            let taken = (
                self.allocs.replace(0),
                self.frees.replace(0),
                self.alloc_bytes.replace(0),
                self.free_bytes.replace(0),
            );
            let written = try_record_at(
                now,
                &Event::AllocCounters {
                    allocs: taken.0,
                    frees: taken.1,
                    alloc_bytes: taken.2,
                    free_bytes: taken.3,
                },
            );
            if written {
                self.last_report.set(now);
                self.force.set(false);
            } else {
                // Calls made meanwhile were counted from zero: add back what was taken.
                self.allocs.set(self.allocs.get() + taken.0);
                self.frees.set(self.frees.get() + taken.1);
                self.alloc_bytes
                    .set(self.alloc_bytes.get().wrapping_add(taken.2));
                self.free_bytes
                    .set(self.free_bytes.get().wrapping_add(taken.3));
                retry = true;
            }
        }
        if retry {
            self.budget.set(0);
        }
        self.in_hook.set(false);
    }

    /// Makes sure the thread has written `rate` as its sample rate in this session.
    fn announce(&self, now: u64, rate: u64) -> bool {
        if self.announced_rate.get() == rate {
            return true;
        }
        let Some(name) = RATE_NAME.get() else {
            return false;
        };
        let ok = try_record_at(
            now,
            &Event::Counter {
                name,
                value: rate.min(i64::MAX as u64) as i64,
            },
        );
        if ok {
            self.announced_rate.set(rate);
        }
        ok
    }
}

/// A name interned on first use without waiting for the interner's lock.
struct LazyName {
    id: AtomicU32,
    text: &'static str,
}

static SLOW_KIND: LazyName = LazyName {
    id: AtomicU32::new(0),
    text: SLOW_CALL_PAUSE,
};
static RATE_NAME: LazyName = LazyName {
    id: AtomicU32::new(0),
    text: SAMPLE_RATE_COUNTER,
};

impl LazyName {
    fn get(&self) -> Option<StringId> {
        let id = self.id.load(Ordering::Relaxed);
        if id != 0 {
            return Some(StringId(id));
        }
        let id = crate::intern::try_intern(self.text)?;
        self.id.store(id.0, Ordering::Relaxed);
        Some(id)
    }
}

/// Converts nanoseconds to clock ticks with the session's calibration.
fn nanos_to_ticks(ns: u64) -> u64 {
    let q32 = clock::info_cached().nanos_per_unit_q32.max(1);
    ((u128::from(ns) << 32) / u128::from(q32)).clamp(1, u128::from(u64::MAX)) as u64
}
