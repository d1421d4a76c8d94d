//! The recorder's clock: raw TSC (or equivalent) ticks on the hot path, calibrated to
//! nanoseconds once per session for the trace header.

use std::sync::OnceLock;

use trace_format::ClockInfo;

static CLOCK: OnceLock<quanta::Clock> = OnceLock::new();

/// The process clock, calibrated on first use (calibration takes a few milliseconds, so
/// [`crate::start`] does it before recording begins).
pub(crate) fn clock() -> &'static quanta::Clock {
    CLOCK.get_or_init(quanta::Clock::new)
}

/// Current time in trace units (raw ticks).
#[inline(always)]
pub(crate) fn now() -> u64 {
    // `clock()` is initialised before any session makes the hot path reachable.
    match CLOCK.get() {
        Some(c) => c.raw(),
        None => 0,
    }
}

/// A bare clock read, for benchmarks that compare the cost of an event with it.
#[doc(hidden)]
#[inline(always)]
pub fn raw_ticks() -> u64 {
    clock().raw()
}

/// Calibration of [`now`]'s units for the trace header.
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

#[cfg(test)]
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
