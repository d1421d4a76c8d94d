//! Stacks sampled by a signal: the handler, the per-thread buffer of samples it fills, the
//! registry of threads the watchdog can signal, and the stalled-poll watchdog.
//!
//! One real-time signal is installed once per process (the first free one from
//! `SIGRTMIN + 4`: a signal the application already handles is never taken) and never
//! removed, so a late signal is harmless. The handler is async-signal-safe: it allocates
//! nothing and takes no lock; it reads const-initialised thread-locals without
//! destructors, walks the stack from the interrupted registers (`walk::walk_from`),
//! interns it, and pushes `(time, kind, task, stack)` into the thread's fixed buffer
//! ([`Pending`]: alike samples count into one entry). The thread writes those as
//! `StallSample`/`CpuSample` events before its next event (`flush`), so each thread's
//! events stay in time order; samples still pending when the session stops, or that find
//! the buffer full, are counted lost.
//!
//! Stalled polls: each registered thread publishes when its current poll started (one
//! relaxed store per poll start and end, in its registry entry). The watchdog thread looks
//! every half threshold (1 to 10 ms; twice that while no poll runs); a poll running longer than the threshold gets the
//! signal (`tgkill`), again every threshold while it lasts, and half as often after each
//! [`STALL_BACKOFF`] samples of that poll, so that a poll running for seconds on the CPU
//! (its stack changing each time) does not fill the buffer.

use std::cell::Cell;
use std::sync::atomic::{
    AtomicI32, AtomicI64, AtomicPtr, AtomicU32, AtomicU64, AtomicUsize, Ordering,
};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use trace_format::{Event, StackId};

use super::cpu;
use super::pending::{Kind, Pending};
use super::state::Stacks;
use super::walk::{Frames, walk_from};
use crate::clock;

/// Stall samples of one poll taken every threshold before the interval doubles (and
/// doubles again after as many more, up to 64 thresholds).
pub(crate) const STALL_BACKOFF: u32 = 16;
/// Threads the watchdog can watch at once; more are not sampled.
const MAX_THREADS: usize = 1024;

/// The session's stacks while it records (null otherwise), for the handler.
static ACTIVE: AtomicPtr<Stacks> = AtomicPtr::new(std::ptr::null_mut());
/// Handlers running now: the stop waits for none before the stacks may go.
static IN_HANDLER: AtomicUsize = AtomicUsize::new(0);
/// The signal installed (0: none yet).
static SIGNAL: AtomicI32 = AtomicI32::new(0);
static INSTALL: Mutex<()> = Mutex::new(());

/// A registered thread, as the watchdog sees it. Each on cache lines of its own: its
/// thread stores `poll_start` at every poll start and end, and two workers' entries
/// sharing a line would pass it back and forth between their cores on every poll.
#[repr(align(128))]
struct Entry {
    /// Kernel thread id (0: free entry).
    tid: AtomicI32,
    /// Clock ticks at which the current poll started (0: not in a poll).
    poll_start: AtomicU64,
    /// Ticks when the watchdog last signalled this poll.
    last_signal: AtomicU64,
    /// Signals sent during the poll that started at `signalled_poll` (for the back-off).
    /// Only the watchdog thread uses these two.
    signals_in_poll: AtomicU32,
    signalled_poll: AtomicU64,
    /// The thread's CPU sampler (`cpu::NONE`: none).
    sampler: AtomicI64,
}

#[allow(clippy::declare_interior_mutable_const)]
const FREE: Entry = Entry {
    tid: AtomicI32::new(0),
    poll_start: AtomicU64::new(0),
    last_signal: AtomicU64::new(0),
    signals_in_poll: AtomicU32::new(0),
    signalled_poll: AtomicU64::new(0),
    sampler: AtomicI64::new(cpu::NONE),
};
static THREADS: [Entry; MAX_THREADS] = [FREE; MAX_THREADS];
/// Entries ever taken (the watchdog scans only these).
static USED: AtomicUsize = AtomicUsize::new(0);

/// What the handler and the hooks keep per thread.
struct ThreadSampling {
    pending: Pending,
    /// This thread's entry in `THREADS` + 1 (0: none).
    entry: Cell<usize>,
}

thread_local! {
    // Const-initialised and without a destructor: the handler may touch it at any time.
    static PENDING_SAMPLES: ThreadSampling = const {
        ThreadSampling { pending: Pending::new(), entry: Cell::new(0) }
    };
}

fn signal_lost(stacks: &Stacks) {
    stacks.lost_samples.fetch_add(1, Ordering::Relaxed);
}

/// Installs the sampling signal's handler once per process; the signal, or `None` when no
/// real-time signal is free.
pub(crate) fn install() -> Option<i32> {
    let _g = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    let s = SIGNAL.load(Ordering::Relaxed);
    if s != 0 {
        return Some(s);
    }
    for sig in libc::SIGRTMIN() + 4..=libc::SIGRTMAX() {
        // SAFETY: `old` and `new` are valid sigaction structs; querying (null new) and then
        // installing a handler with the signature SA_SIGINFO requires.
        unsafe {
            let mut old: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(sig, std::ptr::null(), &mut old) != 0
                || old.sa_sigaction != libc::SIG_DFL
            {
                continue; // The application's (or unusable): never stolen.
            }
            let mut new: libc::sigaction = std::mem::zeroed();
            new.sa_sigaction = handler as *const () as usize;
            new.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
            libc::sigemptyset(&mut new.sa_mask);
            if libc::sigaction(sig, &new, std::ptr::null_mut()) == 0 {
                SIGNAL.store(sig, Ordering::Relaxed);
                return Some(sig);
            }
        }
    }
    None
}

/// Makes `stacks` the handler's target (a session starting).
pub(crate) fn activate(stacks: &Arc<Stacks>) {
    ACTIVE.store(Arc::as_ptr(stacks) as *mut Stacks, Ordering::SeqCst);
}

/// Detaches the handler from the session's stacks and waits (briefly: handlers never
/// block) until no handler uses them, so that they can be freed.
pub(crate) fn deactivate() {
    ACTIVE.store(std::ptr::null_mut(), Ordering::SeqCst);
    let start = std::time::Instant::now();
    while IN_HANDLER.load(Ordering::SeqCst) != 0 && start.elapsed() < Duration::from_secs(1) {
        std::thread::yield_now();
    }
}

/// The calling thread's kernel id.
fn gettid() -> i32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

/// Registers the calling thread for stall and CPU sampling (when it attaches to a session
/// recording `stacks`): takes a registry entry, starts its CPU sampler, and looks up its
/// stack bounds, which the handler needs. Not signal-safe.
pub(crate) fn register_thread(epoch: u64, stacks: &Stacks) {
    let _ = super::state::thread_stack();
    let _ = PENDING_SAMPLES.try_with(|p| {
        p.pending.reset(epoch);
        let tid = gettid();
        if p.entry.get() == 0 {
            for (i, e) in THREADS.iter().enumerate() {
                if e.tid.load(Ordering::Relaxed) == 0
                    && e.tid
                        .compare_exchange(0, tid, Ordering::AcqRel, Ordering::Relaxed)
                        .is_ok()
                {
                    e.poll_start.store(0, Ordering::Relaxed);
                    p.entry.set(i + 1);
                    USED.fetch_max(i + 1, Ordering::AcqRel);
                    break;
                }
            }
        }
        let Some(i) = p.entry.get().checked_sub(1) else {
            return; // Registry full: not sampled.
        };
        let e = &THREADS[i];
        // A sampler left from an earlier session (normally closed by its stop).
        cpu::close(&e.sampler);
        if stacks.cpu.period_ns > 0
            && let Some(sig) = install()
        {
            let h = stacks.cpu.start_thread(tid, sig);
            // SeqCst with the EPOCH load below and the stop's EPOCH store and swap in
            // `cpu::close`: either the stop's sweep sees our handle, or we see the stop.
            e.sampler.store(h, Ordering::SeqCst);
            // The stop may have closed every sampler meanwhile: then close ours too.
            if crate::epoch::EPOCH.load(Ordering::SeqCst) != epoch {
                cpu::close(&e.sampler);
            }
        }
    });
}

/// Stops every thread's CPU sampler (the session stops).
pub(crate) fn stop_samplers() {
    for e in &THREADS {
        cpu::close(&e.sampler);
    }
}

/// Frees the calling thread's registry entry (it is exiting).
pub(crate) fn unregister_thread() {
    let _ = PENDING_SAMPLES.try_with(|p| {
        if let Some(i) = p.entry.replace(0).checked_sub(1) {
            cpu::close(&THREADS[i].sampler);
            THREADS[i].poll_start.store(0, Ordering::Relaxed);
            THREADS[i].tid.store(0, Ordering::Release);
        }
    });
}

/// A poll starts (`start`: its time in ticks) or ends (0) on this thread.
#[inline]
pub(crate) fn set_poll_start(start: u64) {
    let _ = PENDING_SAMPLES.try_with(|p| {
        if let Some(i) = p.entry.get().checked_sub(1) {
            THREADS[i].poll_start.store(start, Ordering::Relaxed);
        }
    });
}

/// Whether this thread has samples to write (the one load the hot path pays).
#[inline(always)]
pub(crate) fn has_pending() -> bool {
    PENDING_SAMPLES
        .try_with(|p| !p.pending.is_empty())
        .unwrap_or(false)
}

/// Writes this thread's pending samples as events (through `write`, which returns false
/// when it cannot write now: they then stay pending). Samples of another session than
/// `epoch` are dropped.
#[cold]
#[inline(never)]
pub(crate) fn flush(epoch: u64, write: impl FnMut(u64, &Event<'_>) -> bool) {
    let _ = PENDING_SAMPLES.try_with(|p| p.pending.drain(epoch, write));
}

/// The interrupted context's instruction, stack and frame pointers.
///
/// # Safety
/// `uc` is the `ucontext_t` the kernel passed to an SA_SIGINFO handler.
#[cfg(all(target_os = "linux", target_arch = "x86_64"))]
unsafe fn registers(uc: *mut libc::c_void) -> (u64, u64, u64) {
    // SAFETY: per the contract, `uc` points to a valid ucontext_t.
    let g = unsafe { &(*(uc as *const libc::ucontext_t)).uc_mcontext.gregs };
    (
        g[libc::REG_RIP as usize] as u64,
        g[libc::REG_RSP as usize] as u64,
        g[libc::REG_RBP as usize] as u64,
    )
}

#[cfg(all(target_os = "linux", target_arch = "aarch64"))]
unsafe fn registers(uc: *mut libc::c_void) -> (u64, u64, u64) {
    // SAFETY: per the contract, `uc` points to a valid ucontext_t.
    let m = unsafe { &(*(uc as *const libc::ucontext_t)).uc_mcontext };
    (m.pc, m.sp, m.regs[29])
}

#[cfg(not(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
)))]
unsafe fn registers(_uc: *mut libc::c_void) -> (u64, u64, u64) {
    (0, 0, 0)
}

/// The signal handler (async-signal-safe: see the module docs).
extern "C" fn handler(_sig: libc::c_int, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    // SAFETY: errno is thread-local; saved and restored around anything that may set it.
    let errno = unsafe { *libc::__errno_location() };
    IN_HANDLER.fetch_add(1, Ordering::SeqCst);
    let p = ACTIVE.load(Ordering::SeqCst);
    if !p.is_null() {
        // SAFETY: `deactivate` waits for `IN_HANDLER` to drop to 0 before the stacks can be
        // freed, and we counted ourselves in before loading the pointer.
        let stacks = unsafe { &*p };
        // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
        let code = unsafe { (*info).si_code };
        let kind = if code == libc::SI_TKILL {
            Kind::Stall
        } else {
            Kind::Cpu
        };
        // SAFETY: `uc` is the handler's ucontext.
        let regs = unsafe { registers(uc) };
        sample(stacks, kind, regs);
    }
    IN_HANDLER.fetch_sub(1, Ordering::SeqCst);
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Takes one sample of the interrupted code into this thread's pending buffer.
fn sample(stacks: &Stacks, kind: Kind, (ip, sp, fp): (u64, u64, u64)) {
    let epoch = crate::epoch::EPOCH.load(Ordering::Relaxed);
    let _ = PENDING_SAMPLES.try_with(|p| {
        if epoch == 0 || p.pending.epoch() != epoch {
            return; // Not (yet) recording on this thread.
        }
        let stack = match super::state::thread_stack_cached() {
            Some(bounds) => {
                let mut frames = Frames::new();
                walk_from(ip, sp, fp, &bounds, &stacks.text, &mut frames);
                stacks.intern(&frames)
            }
            None => StackId::NONE,
        };
        let task = crate::context::current_task();
        if p.pending.push(clock::now(), task, kind, stack) {
            match kind {
                Kind::Cpu => &stacks.cpu_samples,
                Kind::Stall => &stacks.stall_samples,
            }
            .fetch_add(1, Ordering::Relaxed);
        } else {
            signal_lost(stacks);
        }
    });
}

/// Sets the calling thread's timer slack (how late the kernel may wake it, to batch wake-ups).
fn set_timer_slack(slack: Duration) {
    // SAFETY: PR_SET_TIMERSLACK takes a value in ns and touches only this thread.
    unsafe { libc::prctl(libc::PR_SET_TIMERSLACK, slack.as_nanos() as libc::c_ulong) };
}

/// Starts the stalled-poll watchdog: every half threshold, signals each registered thread
/// whose current poll has run longer than `threshold_ticks`, again every threshold while
/// the poll lasts (backing off after `STALL_BACKOFF` signals). Ends when the session stops.
pub(crate) fn spawn_watchdog(
    stopped: impl Fn() -> bool + Send + 'static,
    threshold: Duration,
    threshold_ticks: u64,
) -> std::io::Result<Option<std::thread::JoinHandle<()>>> {
    let Some(sig) = install() else {
        return Ok(None);
    };
    // SAFETY: getpid has no preconditions.
    let pid = unsafe { libc::getpid() };
    std::thread::Builder::new()
        .name("trace-rt-stalls".into())
        .spawn(move || {
            // Half the threshold (1 to 10 ms): a stall is first sampled at most half a
            // threshold late, and a 5 ms threshold wakes this thread 400 times a second
            // while polls run (each wake-up preempts a busy worker on a small machine:
            // a quarter threshold cost several per cent of a loopback service's
            // throughput on 2 cores), half as often while none does. The wake-ups need
            // no precision: a timer slack of an eighth of the tick lets the kernel batch
            // them with other timers.
            let tick = (threshold / 2).clamp(Duration::from_millis(1), Duration::from_millis(10));
            set_timer_slack(tick / 8);
            let mut in_poll = true;
            while !stopped() {
                std::thread::sleep(if in_poll { tick } else { 2 * tick });
                in_poll = false;
                let now = clock::now();
                let used = USED.load(Ordering::Acquire);
                for e in &THREADS[..used] {
                    let tid = e.tid.load(Ordering::Acquire);
                    if tid == 0 {
                        continue;
                    }
                    let start = e.poll_start.load(Ordering::Relaxed);
                    in_poll |= start != 0;
                    if start == 0 || now.saturating_sub(start) < threshold_ticks {
                        continue;
                    }
                    // Signals so far in this poll: every threshold, then half as often
                    // after each `STALL_BACKOFF` of them.
                    if e.signalled_poll.swap(start, Ordering::Relaxed) != start {
                        e.signals_in_poll.store(0, Ordering::Relaxed);
                    }
                    let sent = e.signals_in_poll.load(Ordering::Relaxed);
                    let interval = threshold_ticks << (sent / STALL_BACKOFF).min(6);
                    let last = e.last_signal.load(Ordering::Relaxed);
                    if last > start && now.saturating_sub(last) < interval {
                        continue;
                    }
                    e.last_signal.store(now, Ordering::Relaxed);
                    e.signals_in_poll.store(sent + 1, Ordering::Relaxed);
                    // SAFETY: tgkill with our own pid; a thread that exited meanwhile gives
                    // ESRCH (its entry is freed before it goes), a reused tid in this
                    // process gets a harmless sample.
                    unsafe { libc::syscall(libc::SYS_tgkill, pid, tid, sig) };
                }
            }
        })
        .map(Some)
}
