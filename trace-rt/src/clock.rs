//! The recorder's clock: raw TSC (or equivalent) ticks on the hot path, calibrated to
//! nanoseconds once per session for the trace header.

use std::sync::OnceLock;

use trace_format::ClockInfo;

#[cfg(not(miri))]
static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();

/// Set once [`CLOCK`] is known to read the x86 TSC, so that [`now`] can read it inline:
/// quanta's `raw` is an out-of-line call that first matches on the clock's kind (callgrind on
/// the yield loop: 198 → 189 instructions per poll with the inline read).
#[cfg(all(not(miri), target_arch = "x86_64"))]
static DIRECT_TSC: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The process clock, calibrated on first use (calibration takes a few milliseconds, so
/// [`crate::session::start`] does it before recording begins).
#[cfg(not(miri))]
pub(crate) fn clock() -> &'static quanta::Clock {
    CLOCK.get_or_init(|| {
        let clock = quanta::Clock::new();
        #[cfg(target_arch = "x86_64")]
        if !is_monotonic(&clock) {
            DIRECT_TSC.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        clock
    })
}

/// Whether quanta fell back to the OS monotonic clock (already nanoseconds, scale exactly 1)
/// for want of a usable TSC; a calibrated TSC is never exactly 1 GHz.
#[cfg(not(miri))]
fn is_monotonic(clock: &quanta::Clock) -> bool {
    // Nanoseconds for 2^32 ticks is exactly nanoseconds-per-tick in 32.32 fixed point.
    clock.delta_as_nanos(0, 1 << 32) == 1 << 32
}

/// Current time in trace units (raw ticks).
#[cfg(not(miri))]
#[inline(always)]
pub(crate) fn now() -> u64 {
    #[cfg(target_arch = "x86_64")]
    if DIRECT_TSC.load(std::sync::atomic::Ordering::Relaxed) {
        // SAFETY: `rdtsc` exists on every x86_64 CPU and has no preconditions. quanta's raw
        // read of a TSC clock is this same instruction (its `Counter` source), so the ticks
        // agree with the calibration in the header.
        return unsafe { core::arch::x86_64::_rdtsc() };
    }
    // `clock()` is initialised before any session makes the hot path reachable.
    match CLOCK.get() {
        Some(c) => c.raw(),
        None => 0,
    }
}

/// A bare clock read, the one events are stamped with, for benchmarks that compare the cost
/// of an event with it.
#[cfg(not(miri))]
#[doc(hidden)]
#[inline(always)]
pub fn raw_ticks() -> u64 {
    clock(); // calibrates on first use, as a session start does
    now()
}

/// [`info`], computed once: the calibration does not change within a process.
pub(crate) fn info_cached() -> &'static ClockInfo {
    static INFO: OnceLock<ClockInfo> = OnceLock::new();
    INFO.get_or_init(info)
}

/// Calibration of [`now`]'s units for the trace header.
#[cfg(not(miri))]
pub(crate) fn info() -> ClockInfo {
    let c = clock();
    // Nanoseconds for 2^32 ticks is exactly nanoseconds-per-tick in 32.32 fixed point.
    let q32 = c.delta_as_nanos(0, 1 << 32);
    let source = if is_monotonic(c) {
        "monotonic"
    } else if cfg!(target_arch = "x86_64") {
        "tsc"
    } else if cfg!(target_arch = "aarch64") {
        "cntvct"
    } else {
        "monotonic"
    };
    ClockInfo {
        source: source.into(),
        nanos_per_unit_q32: q32,
    }
}

/// Under Miri, quanta cannot run: its TSC detection and read (`cpuid`, `_rdtsc`) are
/// intrinsics Miri does not implement, and its calibration would take minutes. These stand in
/// for the functions above (same signatures) so that Miri can check the unsafe recording
/// protocol. The clock is a global counter with 1 ns per unit: strictly increasing, the same
/// on every run, and bumped with `Relaxed` so that it adds no happens-before edge between
/// threads that could hide a data race from Miri.
#[cfg(miri)]
mod miri_clock {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::ClockInfo;

    static TICKS: AtomicU64 = AtomicU64::new(0);

    pub(crate) fn now() -> u64 {
        TICKS.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// See the non-Miri `raw_ticks`.
    pub fn raw_ticks() -> u64 {
        now()
    }

    pub(crate) fn info() -> ClockInfo {
        ClockInfo {
            source: "monotonic".into(),
            nanos_per_unit_q32: 1 << 32,
        }
    }
}
#[cfg(miri)]
pub use miri_clock::raw_ticks;
#[cfg(miri)]
pub(crate) use miri_clock::{info, now};

#[cfg(test)]
#[cfg(not(miri))] // compares quanta's calibration with wall time
mod tests {
    #[test]
    fn calibration_matches_wall_time() {
        let info = super::info();
        let t0 = super::clock().raw();
        let w0 = std::time::Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let t1 = super::clock().raw();
        let wall = w0.elapsed().as_nanos() as f64;
        let ticks = info.units_to_nanos(t1 - t0) as f64;
        assert!((ticks / wall - 1.0).abs() < 0.05, "{ticks} vs {wall}");
    }

    /// The inline TSC read and quanta's read are the same counter: each falls between two
    /// reads of the other.
    #[test]
    fn inline_read_agrees_with_quanta() {
        let clock = super::clock();
        for _ in 0..1000 {
            let a = clock.raw();
            let b = super::now();
            let c = clock.raw();
            let d = super::now();
            assert!(a <= b && b <= c && c <= d, "{a} {b} {c} {d}");
        }
    }
}
