//! A session's stack state ([`Stacks`]: the intern table, the executable text ranges, the
//! sampling counters and settings) and each thread's stack bounds, which the walks need.
//! What the signal handler, the allocator and the writer share; it calls into no sampling
//! code, so the handler (`signal`) and the hooks' entry points (`stacks`) both use it.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use trace_format::StackId;

#[cfg(all(target_os = "linux", not(miri)))]
use super::cpu;
use super::table::StackTable;
use super::walk::{self, Frames, TextRanges, ThreadStack, WalkStart};

/// Default number of distinct stacks a session's table holds.
/// (Small under Miri, which walks no stacks and checks every byte of an allocation.)
pub(crate) const DEFAULT_STACKS: usize = if cfg!(miri) { 64 } else { 64 * 1024 };
/// Default number of frames, over all distinct stacks, a session's table holds.
pub(crate) const DEFAULT_FRAMES: usize = if cfg!(miri) { 1024 } else { 2 * 1024 * 1024 };

/// A session's stack state, allocated when it starts.
pub(crate) struct Stacks {
    pub(crate) table: StackTable,
    pub(crate) text: TextRanges,
    /// Stacks walked that were cut (too deep, or a frame pointer leading outside the stack).
    pub(crate) truncated: AtomicU64,
    /// Samples taken by the signal handler, by kind, and those lost (a thread's buffer
    /// full).
    pub(crate) cpu_samples: AtomicU64,
    pub(crate) stall_samples: AtomicU64,
    pub(crate) lost_samples: AtomicU64,
    /// Polls running longer than this are sampled by wall clock (0: off); for the record.
    pub(crate) stall_threshold_ns: u64,
    #[cfg(all(target_os = "linux", not(miri)))]
    pub(crate) cpu: cpu::CpuSampling,
}

thread_local! {
    /// This thread's stack bounds (`lo == hi == 0`: not looked up yet; `hi == 1`: unknown).
    /// Const-initialised, no destructor: readable from a signal handler.
    static THREAD_STACK: Cell<ThreadStack> = const { Cell::new(ThreadStack { lo: 0, hi: 0 }) };
}

/// The calling thread's stack bounds, looked up on first use. Not signal-safe the first time.
pub(crate) fn thread_stack() -> Option<ThreadStack> {
    let s = THREAD_STACK.get();
    if s.hi == 0 {
        let s = ThreadStack::of_current_thread().unwrap_or(ThreadStack { lo: 0, hi: 1 });
        THREAD_STACK.set(s);
        return (s.hi > 1).then_some(s);
    }
    (s.hi > 1).then_some(s)
}

/// The calling thread's stack bounds if already looked up (signal-safe).
pub(crate) fn thread_stack_cached() -> Option<ThreadStack> {
    let s = THREAD_STACK.get();
    (s.hi > 1).then_some(s)
}

impl Stacks {
    /// A table for `stacks` distinct stacks of `frames` frames in all; CPU samples at
    /// `cpu_hz` (0: off), by timer signal only with `force_timer`.
    pub(crate) fn new(
        stacks: usize,
        frames: usize,
        cpu_hz: u32,
        force_timer: bool,
        stall_threshold_ns: u64,
    ) -> Stacks {
        #[cfg(not(all(target_os = "linux", not(miri))))]
        let _ = (cpu_hz, force_timer);
        Stacks {
            table: StackTable::new(stacks, frames),
            text: TextRanges::read(),
            truncated: AtomicU64::new(0),
            cpu_samples: AtomicU64::new(0),
            stall_samples: AtomicU64::new(0),
            lost_samples: AtomicU64::new(0),
            stall_threshold_ns,
            #[cfg(all(target_os = "linux", not(miri)))]
            cpu: cpu::CpuSampling::new(cpu_hz, force_timer),
        }
    }

    /// What the sampling record says at the stop (the writer fills in the symbolization
    /// fields).
    pub(crate) fn sampling_info(&self) -> trace_format::SamplingInfo {
        #[cfg(all(target_os = "linux", not(miri)))]
        let ((cpu_method, cpu_reason), cpu_hz) = (self.cpu.describe(), self.cpu.hz);
        #[cfg(not(all(target_os = "linux", not(miri))))]
        let (cpu_method, cpu_reason, cpu_hz) = ("off".into(), "not supported here".into(), 0);
        trace_format::SamplingInfo {
            cpu_method,
            cpu_reason,
            cpu_hz,
            stall_threshold_ns: self.stall_threshold_ns,
            max_frames: walk::MAX_FRAMES as u32,
            cpu_samples: self.cpu_samples.load(Ordering::Relaxed),
            stall_samples: self.stall_samples.load(Ordering::Relaxed),
            lost_samples: self.lost_samples.load(Ordering::Relaxed)
                + self.table.lost.load(Ordering::Relaxed),
            truncated_stacks: self.truncated.load(Ordering::Relaxed),
            stacks: self.table.defined(),
            ..Default::default()
        }
    }

    /// Interns a walked stack, counting it if truncated.
    pub(crate) fn intern(&self, frames: &Frames) -> StackId {
        if frames.truncated {
            self.truncated.fetch_add(1, Ordering::Relaxed);
        }
        self.table.intern(frames.as_slice())
    }

    /// The stack from `start` (read by a function still running: its caller first),
    /// interned. Not for signal handlers (the thread's bounds may be looked up now).
    pub(crate) fn capture_from(&self, start: WalkStart) -> StackId {
        let Some(stack) = thread_stack() else {
            return StackId::NONE;
        };
        let mut frames = Frames::new();
        walk::capture_from(start, &stack, &self.text, &mut frames);
        self.intern(&frames)
    }
}
