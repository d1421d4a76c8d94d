//! Call stacks in the trace: walking them (`walk`), interning them into
//! [`StackId`](trace_format::StackId)s (`table`), and the session's stack state (`state`:
//! [`Stacks`]), which the writer drains into stack records; sampling them on CPU time
//! (`cpu`) and in stalled polls (`signal`, which keeps each thread's samples in `pending`);
//! and, at stop, naming their code: `symbolize` turns the distinct addresses into function
//! names, files and lines (inlined frames included), `mappings` lists the executable files
//! with their build ids, so a trace recorded from a stripped binary can be symbolized later
//! (`trace-viewer symbolize`).
//!
//! Stacks are walked by frame pointers: build with `-C force-frame-pointers=yes` (the
//! workspace's `.cargo/config.toml` does) or stacks stop at the first frame without one.

#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) mod cpu;
#[cfg(target_os = "linux")]
pub(crate) mod mappings;
// Used by the signal handler only (Linux, not Miri); tested everywhere, Miri included.
#[cfg_attr(not(all(target_os = "linux", not(miri))), allow(dead_code))]
pub(crate) mod pending;
#[cfg(all(target_os = "linux", not(miri)))]
pub(crate) mod signal;
pub(crate) mod state;
#[cfg(target_os = "linux")]
pub(crate) mod symbolize;
pub(crate) mod table;
pub(crate) mod walk;

pub(crate) use state::{DEFAULT_FRAMES, DEFAULT_STACKS, Stacks};
pub(crate) use walk::WalkStart;

// The hooks' entry points into signal sampling (no-ops where it is not built).

/// A thread attached to a session recording stacks (`epoch`): registers it for sampling.
pub(crate) fn thread_attached(epoch: u64, stacks: &Stacks) {
    #[cfg(all(target_os = "linux", not(miri)))]
    signal::register_thread(epoch, stacks);
    #[cfg(not(all(target_os = "linux", not(miri))))]
    let _ = (epoch, stacks);
}

/// The thread is exiting: it can no longer be sampled.
pub(crate) fn thread_exiting() {
    #[cfg(all(target_os = "linux", not(miri)))]
    signal::unregister_thread();
}

/// A poll started at `time` (ticks), or ended (0): what the stall watchdog reads.
#[inline(always)]
pub(crate) fn set_poll_start(time: u64) {
    #[cfg(all(target_os = "linux", not(miri)))]
    signal::set_poll_start(time);
    #[cfg(not(all(target_os = "linux", not(miri))))]
    let _ = time;
}
