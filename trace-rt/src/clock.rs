//! The recorder's clock: raw TSC (or equivalent) ticks on the hot path, calibrated to
//! nanoseconds once per session for the trace header.

use std::sync::OnceLock;

use trace_format::ClockInfo;

#[cfg(not(miri))]
static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();

/// The process clock, calibrated on first use (calibration takes a few milliseconds, so
/// [`crate::start`] does it before recording begins).
#[cfg(not(miri))]
pub(crate) fn clock() -> &'static quanta::Clock {
    CLOCK.get_or_init(quanta::Clock::new)
}

/// Current time in trace units (raw ticks).
#[cfg(not(miri))]
#[inline(always)]
pub(crate) fn now() -> u64 {
    // `clock()` is initialised before any session makes the hot path reachable.
    match CLOCK.get() {
        Some(c) => c.raw(),
        None => 0,
    }
}

/// A bare clock read, for benchmarks that compare the cost of an event with it.
#[cfg(not(miri))]
#[doc(hidden)]
#[inline(always)]
pub fn raw_ticks() -> u64 {
    clock().raw()
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
    // quanta falls back to the OS monotonic clock (already nanoseconds, scale exactly 1)
    // where no usable TSC exists; a calibrated TSC is never exactly 1 GHz.
    let is_monotonic = q32 == 1 << 32;
    let source = if is_monotonic {
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
}
