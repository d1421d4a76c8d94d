//! Per-thread CPU-time samplers: each thread that records gets one when it attaches to a
//! session, delivering the sampling signal to that thread every `period` of its CPU time.
//! First `perf_event_open` (software task clock, this thread only, user space only; the
//! overflow signalled to this thread with `F_SETOWN_EX`/`F_SETSIG`), and where that is
//! refused (`perf_event_paranoid` > 2, seccomp in containers) a POSIX timer on the
//! thread's CPU clock (`timer_create(CLOCK_THREAD_CPUTIME_ID)`, `SIGEV_THREAD_ID`). The
//! method and the reason are kept for the trace's sampling record.
//!
//! A sampler is closed by whoever first takes its handle from the thread's registry entry:
//! the thread when it exits, or the stop.

use std::sync::atomic::{AtomicI32, AtomicI64, AtomicU8, Ordering};

/// How CPU samples are taken.
pub(crate) const OFF: u8 = 0;
pub(crate) const PERF: u8 = 1;
pub(crate) const TIMER: u8 = 2;

/// A sampler handle in a registry entry: `-1` none; a perf fd (`>= 0`, tagged below); or a
/// timer id.
pub(crate) const NONE: i64 = -1;
const TIMER_TAG: i64 = 1 << 40;

/// The session's CPU sampling settings and outcome.
pub(crate) struct CpuSampling {
    /// Sampling period in ns of thread CPU time (0: off).
    pub(crate) period_ns: u64,
    pub(crate) hz: u32,
    /// Skip perf events (tests; `TRACE_RT_CPU_SAMPLING=timer`).
    pub(crate) force_timer: bool,
    /// The method the last thread got (`OFF` until one did).
    pub(crate) method: AtomicU8,
    /// The errno of the first refused `perf_event_open` (0: none), and of a failed timer.
    pub(crate) perf_errno: AtomicI32,
    pub(crate) timer_errno: AtomicI32,
}

impl CpuSampling {
    pub(crate) fn new(hz: u32, force_timer: bool) -> CpuSampling {
        CpuSampling {
            period_ns: if hz == 0 {
                0
            } else {
                1_000_000_000 / u64::from(hz)
            },
            hz,
            force_timer,
            method: AtomicU8::new(OFF),
            perf_errno: AtomicI32::new(0),
            timer_errno: AtomicI32::new(0),
        }
    }

    /// (method, reason) for the sampling record.
    pub(crate) fn describe(&self) -> (String, String) {
        let errno = |e: i32| std::io::Error::from_raw_os_error(e).to_string();
        if self.period_ns == 0 {
            return ("off".into(), "turned off (cpu_sample_hz = 0)".into());
        }
        let perf = self.perf_errno.load(Ordering::Relaxed);
        match self.method.load(Ordering::Relaxed) {
            PERF => ("perf_event".into(), "perf_event_open accepted".into()),
            TIMER if self.force_timer => (
                "timer_signal".into(),
                "perf events skipped by configuration".into(),
            ),
            TIMER => (
                "timer_signal".into(),
                format!("perf_event_open refused: {}", errno(perf)),
            ),
            _ => {
                let t = self.timer_errno.load(Ordering::Relaxed);
                if t != 0 {
                    (
                        "off".into(),
                        format!(
                            "no sampler: perf_event_open: {}; timer_create: {}",
                            errno(perf),
                            errno(t)
                        ),
                    )
                } else {
                    ("off".into(), "no thread was sampled".into())
                }
            }
        }
    }

    /// Starts a sampler for the calling thread (kernel id `tid`) that sends `sig`; returns
    /// its handle (`NONE` when none could start).
    pub(crate) fn start_thread(&self, tid: i32, sig: i32) -> i64 {
        if self.period_ns == 0 {
            return NONE;
        }
        if !self.force_timer && self.perf_errno.load(Ordering::Relaxed) == 0 {
            match open_perf(tid, sig, self.period_ns) {
                Ok(fd) => {
                    self.method.store(PERF, Ordering::Relaxed);
                    return i64::from(fd);
                }
                Err(e) => {
                    // Refused once, refused for every thread: not tried again.
                    let _ = self.perf_errno.compare_exchange(
                        0,
                        e.max(1),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    );
                }
            }
        }
        match start_timer(tid, sig, self.period_ns) {
            Ok(id) => {
                self.method.store(TIMER, Ordering::Relaxed);
                id | TIMER_TAG
            }
            Err(e) => {
                self.timer_errno.store(e, Ordering::Relaxed);
                NONE
            }
        }
    }
}

/// Stops and frees the sampler in `slot`, if this caller is the first to take it.
pub(crate) fn close(slot: &AtomicI64) {
    let h = slot.swap(NONE, Ordering::SeqCst);
    if h == NONE {
        return;
    }
    if h & TIMER_TAG != 0 {
        let id = (h & !TIMER_TAG) as usize as libc::timer_t;
        // SAFETY: `id` came from a successful timer_create, and the swap made us its only
        // owner: it is deleted once.
        unsafe { libc::timer_delete(id) };
    } else {
        // SAFETY: `h` is a perf fd we opened; the swap made us its only owner: closed once.
        unsafe { libc::close(h as i32) };
    }
}

fn last_errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// `struct perf_event_attr` up to `config2` (`PERF_ATTR_SIZE_VER1`, 72 bytes).
#[repr(C)]
#[derive(Default)]
struct PerfEventAttr {
    type_: u32,
    size: u32,
    config: u64,
    sample_period: u64,
    sample_type: u64,
    read_format: u64,
    flags: u64,
    wakeup_events: u32,
    bp_type: u32,
    config1: u64,
    config2: u64,
}

const PERF_TYPE_SOFTWARE: u32 = 1;
const PERF_COUNT_SW_TASK_CLOCK: u64 = 1;
const EXCLUDE_KERNEL: u64 = 1 << 5;
const EXCLUDE_HV: u64 = 1 << 6;
const F_SETSIG: libc::c_int = 10;
const F_SETOWN_EX: libc::c_int = 15;
const F_OWNER_TID: libc::c_int = 0;
const PERF_FLAG_FD_CLOEXEC: libc::c_ulong = 1 << 3;

#[repr(C)]
struct FOwnerEx {
    type_: libc::c_int,
    pid: libc::pid_t,
}

/// A task-clock perf event on thread `tid`, signalling `sig` to it every `period_ns` of its
/// CPU time. Err: the errno.
fn open_perf(tid: i32, sig: i32, period_ns: u64) -> Result<i32, i32> {
    let attr = PerfEventAttr {
        type_: PERF_TYPE_SOFTWARE,
        size: std::mem::size_of::<PerfEventAttr>() as u32,
        config: PERF_COUNT_SW_TASK_CLOCK,
        sample_period: period_ns,
        flags: EXCLUDE_KERNEL | EXCLUDE_HV,
        wakeup_events: 1,
        ..Default::default()
    };
    // SAFETY: `attr` is a valid perf_event_attr of the size it declares; pid = tid, cpu =
    // -1 (any), no group, close-on-exec.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_perf_event_open,
            &attr as *const PerfEventAttr,
            tid,
            -1,
            -1,
            PERF_FLAG_FD_CLOEXEC,
        )
    } as i32;
    if fd < 0 {
        return Err(last_errno());
    }
    let owner = FOwnerEx {
        type_: F_OWNER_TID,
        pid: tid,
    };
    // SAFETY: fcntls on the fd we just opened; `owner` is a valid f_owner_ex.
    let ok = unsafe {
        libc::fcntl(fd, F_SETOWN_EX, &owner as *const FOwnerEx) == 0
            && libc::fcntl(fd, F_SETSIG, sig) == 0
            && libc::fcntl(fd, libc::F_SETFL, libc::O_ASYNC) == 0
    };
    if !ok {
        let e = last_errno();
        // SAFETY: our fd, closed once.
        unsafe { libc::close(fd) };
        return Err(e);
    }
    Ok(fd)
}

/// A POSIX timer on the calling thread's CPU clock, signalling `sig` to thread `tid` every
/// `period_ns`. Err: the errno.
fn start_timer(tid: i32, sig: i32, period_ns: u64) -> Result<i64, i32> {
    // SAFETY: zeroed sigevent/itimerspec are valid; the out-pointer is a local.
    unsafe {
        let mut sev: libc::sigevent = std::mem::zeroed();
        sev.sigev_notify = libc::SIGEV_THREAD_ID;
        sev.sigev_signo = sig;
        sev.sigev_notify_thread_id = tid;
        let mut id: libc::timer_t = std::mem::zeroed();
        if libc::timer_create(libc::CLOCK_THREAD_CPUTIME_ID, &mut sev, &mut id) != 0 {
            return Err(last_errno());
        }
        let period = libc::timespec {
            tv_sec: (period_ns / 1_000_000_000) as libc::time_t,
            tv_nsec: (period_ns % 1_000_000_000) as libc::c_long,
        };
        let spec = libc::itimerspec {
            it_interval: period,
            it_value: period,
        };
        if libc::timer_settime(id, 0, &spec, std::ptr::null_mut()) != 0 {
            let e = last_errno();
            libc::timer_delete(id);
            return Err(e);
        }
        // glibc's timer ids are small integers (kernel ids) carried in a pointer.
        let raw = id as usize as i64;
        if raw & TIMER_TAG != 0 || raw < 0 {
            libc::timer_delete(id);
            return Err(libc::EOVERFLOW);
        }
        Ok(raw)
    }
}
