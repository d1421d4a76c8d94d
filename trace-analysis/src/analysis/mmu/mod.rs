//! Minimum mutator utilization (MMU): how much of the runtime was available to tasks in the
//! worst window of a given length.
//!
//! This module owns the utilization step function and every answer computed from it, and
//! nothing else: it knows nothing about trace files, events or how answers are shown. The
//! caller turns a trace into intervals (when each worker exists, process-wide pauses,
//! per-worker unavailability) and hands them to [`Utilization::from_workers`] (or
//! [`Utilization::from_intervals`] when the workers exist throughout); everything after that
//! is pure arithmetic on the step function.
//!
//! - [`Utilization`]: u(t) ∈ [0, 1], a step function (nanoseconds). u(t) is 0 inside a
//!   process-wide pause and otherwise the fraction of the workers existing at t that are
//!   available (not inside a thread-scoped pause or, in the "responsiveness" mode, not inside
//!   an over-long poll). A worker counts only from its start to its stop, as Go counts the Ps
//!   that exist when their number changes: a runtime that starts late or shuts down is not a
//!   pause. Time when no worker exists is not part of the series (it is cut out, so windows
//!   cover only time with workers). Per-worker mode is one series per worker: [`per_worker`].
//! - [`mmu`]: MMU(w) = the minimum over all windows `[t, t + w)` inside the trace of the mean
//!   of u over the window; [`mmu_curve`] over many windows, e.g. [`log_spaced_windows`].
//! - [`worst_windows`]: the n worst disjoint windows of one length, so a viewer can jump to
//!   them.
//! - [`mud`]: the mutator utilization distribution (quantiles of the window mean over all
//!   window positions), e.g. Go's "worst, 99.9th, 99th, 95th percentile".
//!
//! # Module map
//!
//! One file per concept; each uses only those listed before it.
//!
//! - `series`: [`Utilization`] as stored: the steps over one denominator, the prefix
//!   integrals and finest bands that index them, exact integrals, accessors, and the map
//!   from series time to trace time.
//! - `build`: building a series ([`Utilization::from_steps`],
//!   [`Utilization::from_intervals`], [`Utilization::from_workers`], [`per_worker`]) and why
//!   that can fail ([`UtilizationError`]).
//! - `sweep`: the window sweep, which visits every breakpoint of the window integral over a
//!   range of window starts.
//! - `bounds`: for one window length, the bands a search goes by and a lower bound of the
//!   window integral per band.
//! - `curve`: [`mmu`] (the banded search for the worst window), [`mmu_curve`],
//!   [`log_spaced_windows`].
//! - `worst`: [`worst_windows`].
//! - `distribution`: [`mud`].
//!
//! # Exactness
//!
//! Utilization is stored as an integer count of available workers per step over a common
//! denominator (the number of workers; when that changes, the least common multiple of the
//! counts, see [`Utilization::from_workers`]), so every integral of u is an exact integer
//! (count × nanoseconds, `u64`; the constructors reject series whose total integral could
//! overflow). MMU and the worst windows compare exact integers and round once, when an
//! integral is divided by `window × workers` to give the reported `f64`. [`mud`] is exact up
//! to `f64` rounding of the probability masses (see its documentation).
//!
//! # Algorithm and cost
//!
//! For a window w, the window integral F(t) = ∫ u over `[t, t + w)` is continuous and
//! piecewise linear in the window start t, with breakpoints where t or t + w crosses a step
//! boundary, so its minimum lies on a breakpoint (or an end of the allowed range). A sweep
//! with two cursors (one on each window edge) and a running integer integral visits every
//! breakpoint in order in O(1) each.
//!
//! Long sweeps are cut into two pieces swept in lockstep, which lets the CPU overlap the two
//! dependency chains (about 1.6× faster than one).
//!
//! To avoid sweeping the whole trace for every window, the trace is cut into *bands* of
//! equal duration (as in Go's `internal/trace` MMU code): about one per 16 steps, at most
//! 2^20, each with its least value, its prefix integral and its first step. A window of
//! length w is searched with these bands grouped by a power of two, so that a band spans at
//! most w/32 where possible; per band, the prefix integrals and least values give a lower
//! bound for the integral of every window that starts in it. Bands whose bound is below
//! the best window found so far are swept exactly (adjacent ones in one sweep), the most
//! promising first; the rest are skipped. The answer is the same as a full sweep; only the
//! work changes.
//!
//! Cost, for n steps:
//!
//! - Building a [`Utilization`]: O(n) for [`Utilization::from_steps`], O(k log k) for
//!   [`Utilization::from_intervals`] with k intervals. Memory: 12 bytes per step plus about
//!   1.4 bytes per step of index.
//! - [`mmu`], one window: O(n / 16) for the bounds plus the sweeps of the bands not ruled out,
//!   O(n) in the worst case. Bounds prune well where the worst windows stand out (pauses,
//!   bursts of unavailability); they cannot where window means differ by less than the
//!   bound's slack (about 1/32 of the value range, or 2 finest bands, relative to w), e.g.
//!   white noise, or long windows over a uniform trace, and then the search is a full sweep.
//!   A window with mean 0 ends the search at once.
//! - [`mmu_curve`]: one [`mmu`] per window: O(n) per window at worst.
//! - [`worst_windows`]: one sweep collecting the breakpoints where F has a local minimum
//!   into a min-tree, then O(log n) per window listed, whatever the count asked for (see the
//!   `worst` submodule): O(n log n) in all. It does not use the bands, so even a few windows
//!   cost a full sweep.
//! - [`mud`]: one pass over the bands needed to hold the highest quantile's mass (all of them
//!   at worst), then about log₂₀₄₈(window × workers) − 1 refining passes over the same bands,
//!   each O(steps in those bands).
//!
//! Measured (`cargo test --release`, `tests::timing_10m_steps`, two runs on a 2-core VM shared
//! with other builds, load ≈ 3), 10 M steps, 8 workers, 100 log-spaced windows from 1 µs to
//! the whole trace:
//!
//! | series | build | MMU curve (100 windows) | 10 worst 1 ms windows | MUD, 4 quantiles, 1 ms |
//! |---|---|---|---|---|
//! | noise: 4–8 workers at random, steps of 1 ns–2 µs (10 s) | 0.17 s | 2.3–2.9 s | 0.26 s | 0.6–0.9 s |
//! | dips: all 8 for 20–180 µs, then 6 or 7 for 1–20 µs, 1 ms process pause every ~1 s (553 s) | 0.14–0.17 s | 2.9–3.1 s | 0.45 s | 0.7–0.8 s |
//!
//! One full sweep of 10 M steps takes about 0.06 s, so the worst case for a curve of 100
//! windows is about 6 s. The worst-windows column is from `cargo bench -p trace-analysis
//! --bench mmu` (`MMU_BENCH_STEPS=10000000`, the same two series), which also lists many
//! windows: 1 000 000 worst 1 µs windows in 2.3 s (noise) and 1.8 s (dips); every disjoint
//! 1 ms window of the dips series (412 271) in 4.1 s. The banded search this replaced took
//! 0.01–0.06 s for 10 windows but grew quadratically with their number.
//!
//! # Example
//!
//! ```
//! use trace_analysis::analysis::mmu::{Utilization, mmu, mmu_curve, worst_windows};
//!
//! const S: u64 = 1_000_000_000;
//! // Two workers over 10 s; worker 0 paused in [2 s, 3 s), a process-wide pause in [6 s, 7 s).
//! let u = Utilization::from_intervals(0, 10 * S, 2, &[(6 * S, 7 * S)], &[vec![(2 * S, 3 * S)]])?;
//! assert_eq!(mmu(&u, S), 0.0); // the process-wide pause
//! assert_eq!(mmu(&u, 10 * S), u.mean()); // 1 - 0.5/10 - 1/10 = 0.85
//! assert!((u.mean() - 0.85).abs() < 1e-12);
//! let worst = worst_windows(&u, S, 2);
//! assert_eq!((worst[0].start, worst[0].utilization), (6 * S, 0.0));
//! assert_eq!((worst[1].start, worst[1].utilization), (2 * S, 0.5));
//! let curve = mmu_curve(&u, &[S, 4 * S]);
//! assert_eq!(curve[1].mmu, 0.75); // e.g. [3 s, 7 s): 1, 1, 1, 0
//! # Ok::<(), trace_analysis::analysis::mmu::UtilizationError>(())
//! ```

mod bounds;
mod build;
mod curve;
mod distribution;
mod series;
mod sweep;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
mod worst;

pub use build::{UtilizationError, WorkerIntervals, per_worker};
pub use curve::{MmuPoint, log_spaced_windows, mmu, mmu_curve};
pub use distribution::mud;
pub use series::Utilization;
pub use worst::{Window, worst_windows};
