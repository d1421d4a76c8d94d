//! What the MMU view plots, computed on a background thread: the MMU curve over log-spaced
//! windows, the MUD percentile curves (the utilization that 99.9 %, 99 % and 95 % of windows
//! reach), each worker's own curve, and — for a chosen window — the worst windows to jump to.

use trace_analysis::analysis::mmu::{self, Utilization, Window, log_spaced_windows};
use trace_analysis::analysis::utilization::{
    UtilizationOptions, utilization, utilization_per_worker,
};
use trace_analysis::model::Model;

/// Windows on the curve.
pub const CURVE_POINTS: usize = 60;
/// The smallest window plotted (1 µs).
pub const MIN_WINDOW_NS: u64 = 1_000;
/// The MUD quantiles plotted, with their names.
pub const PERCENTILES: [(f64, &str); 3] = [(0.001, "99.9%"), (0.01, "99%"), (0.05, "95%")];
/// How many worst windows are listed.
pub const WORST: usize = 10;

/// The curves.
#[derive(Debug, Clone)]
pub struct MmuData {
    /// Workers measured.
    pub workers: usize,
    /// Mean utilization over the trace.
    pub mean: f64,
    /// Window lengths (ns), ascending.
    pub windows: Vec<u64>,
    /// MMU at each window.
    pub mmu: Vec<f64>,
    /// At each window, the utilization that [`PERCENTILES`] of windows reach.
    pub percentiles: Vec<[f64; 3]>,
    /// Each worker's MMU at each window, with the worker's label.
    pub per_worker: Vec<(String, Vec<f64>)>,
    /// The utilization step function (for worst windows).
    pub utilization: Utilization,
    /// Responsiveness mode: polls longer than this counted as unavailable.
    pub long_poll: Option<u64>,
}

impl MmuData {
    /// Computes the curves of `model` (with `options`: the responsiveness mode);
    /// `progress(done, total)` after each window. Fails with the reason when the trace has
    /// no utilization (no workers).
    pub fn compute(
        model: &Model,
        options: UtilizationOptions,
        progress: &dyn Fn(u64, u64),
    ) -> Result<MmuData, String> {
        let u = utilization(model, options).map_err(|e| e.to_string())?;
        let per = utilization_per_worker(model, options).unwrap_or_default();
        let windows =
            log_spaced_windows(MIN_WINDOW_NS, u.duration().max(MIN_WINDOW_NS), CURVE_POINTS);
        let total = windows.len() as u64;
        let mut curve = Vec::with_capacity(windows.len());
        let mut percentiles = Vec::with_capacity(windows.len());
        for (i, &w) in windows.iter().enumerate() {
            curve.push(mmu::mmu(&u, w));
            let q = mmu::mud(&u, w, &PERCENTILES.map(|(q, _)| q));
            percentiles.push([q[0], q[1], q[2]]);
            progress(i as u64 + 1, total);
        }
        let per_worker = per
            .iter()
            .map(|(t, wu)| {
                let label = model.threads[t.index()].label();
                (label, windows.iter().map(|&w| mmu::mmu(wu, w)).collect())
            })
            .collect();
        Ok(MmuData {
            workers: u.total() as usize,
            mean: u.mean(),
            windows,
            mmu: curve,
            percentiles,
            per_worker,
            utilization: u,
            long_poll: options.long_poll,
        })
    }

    /// The window on the curve nearest (on the log scale) to `window` ns.
    pub fn nearest_window(&self, window: f64) -> Option<u64> {
        let lw = window.max(1.0).ln();
        self.windows.iter().copied().min_by(|a, b| {
            let da = ((*a as f64).ln() - lw).abs();
            let db = ((*b as f64).ln() - lw).abs();
            da.total_cmp(&db)
        })
    }

    /// The MMU at `window` ns, read off the curve between its two nearest points (linear on
    /// the log axis the plot draws); `None` outside the curve's windows.
    pub fn mmu_at(&self, window: f64) -> Option<f64> {
        let (first, last) = (*self.windows.first()? as f64, *self.windows.last()? as f64);
        if !(first..=last).contains(&window) {
            return None;
        }
        let i = self.windows.partition_point(|&w| (w as f64) < window);
        if i == 0 {
            return self.mmu.first().copied();
        }
        let (w0, w1) = (self.windows[i - 1] as f64, self.windows[i] as f64);
        let (m0, m1) = (self.mmu[i - 1], self.mmu[i]);
        let f = (window.ln() - w0.ln()) / (w1.ln() - w0.ln());
        Some(m0 + (m1 - m0) * f)
    }

    /// The [`WORST`] worst disjoint windows of length `window`, worst first.
    pub fn worst(&self, window: u64) -> Vec<Window> {
        mmu::worst_windows(&self.utilization, window, WORST)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trace_analysis::synthetic::Synthetic;

    #[test]
    fn curves_cover_the_windows_and_the_pause_shows() {
        let s = Synthetic::default();
        let model = Model::build(&trace_format::Trace::from_bytes(s.bytes()).unwrap()).unwrap();
        let calls = std::cell::Cell::new(0);
        let d = MmuData::compute(&model, UtilizationOptions::default(), &|_, _| {
            calls.set(calls.get() + 1)
        })
        .unwrap();
        assert_eq!(d.workers, s.workers as usize);
        assert_eq!(d.mmu.len(), d.windows.len());
        assert_eq!(d.percentiles.len(), d.windows.len());
        assert_eq!(calls.get(), d.windows.len());
        assert_eq!(d.windows[0], MIN_WINDOW_NS);
        // The process-wide pause (25 µs) makes short windows 0.
        assert_eq!(d.mmu[0], 0.0);
        // MMU only rises with the window here, and never exceeds the percentiles.
        for (m, p) in d.mmu.iter().zip(&d.percentiles) {
            assert!(
                *m <= p[0] + 1e-9 && p[0] <= p[1] + 1e-9 && p[1] <= p[2] + 1e-9,
                "{m} {p:?}"
            );
        }
        assert_eq!(d.per_worker.len(), s.workers as usize);
        assert!(d.per_worker[0].0.starts_with("worker 0"));
        // The worst window of 10 µs is inside the pause.
        let w = d.worst(10_000);
        assert_eq!(w[0].utilization, 0.0);
        // The plotted window nearest to 10 µs (log scale), and the ends.
        let near = d.nearest_window(10_000.0).unwrap();
        assert!(d.windows.contains(&near));
        let ratio = near as f64 / 10_000.0;
        let step = (d.windows[1] as f64 / d.windows[0] as f64).sqrt();
        assert!(ratio <= step && ratio >= 1.0 / step, "{near}");
        assert_eq!(d.nearest_window(1.0), Some(d.windows[0]));
        assert_eq!(d.nearest_window(1e18), d.windows.last().copied());
        // Read between points (where hovering the plot usually is): within its neighbours.
        assert_eq!(d.mmu_at(d.windows[3] as f64), Some(d.mmu[3]));
        let between = ((d.windows[20] as f64).ln() + (d.windows[21] as f64).ln()) / 2.0;
        let m = d.mmu_at(between.exp()).unwrap();
        let (lo, hi) = (d.mmu[20].min(d.mmu[21]), d.mmu[20].max(d.mmu[21]));
        assert!((lo..=hi).contains(&m), "{m} not in {lo}..{hi}");
        assert!((m - (d.mmu[20] + d.mmu[21]) / 2.0).abs() < 1e-9);
        assert_eq!(d.mmu_at(1.0), None);
    }

    #[test]
    fn long_polls_lower_the_responsiveness_curves() {
        let s = Synthetic {
            poll_ns: 200_000,
            pauses: false,
            ..Synthetic::default()
        };
        let model = Model::build(&trace_format::Trace::from_bytes(s.bytes()).unwrap()).unwrap();
        let plain = MmuData::compute(&model, UtilizationOptions::default(), &|_, _| {}).unwrap();
        let long_poll = Some(100_000);
        let strict =
            MmuData::compute(&model, UtilizationOptions { long_poll }, &|_, _| {}).unwrap();
        assert_eq!((plain.long_poll, strict.long_poll), (None, long_poll));
        assert!(
            strict.mean < plain.mean,
            "{} vs {}",
            strict.mean,
            plain.mean
        );
        assert_eq!(
            plain.mmu[0], 1.0,
            "no pause: every window is fully available"
        );
        assert_eq!(strict.mmu[0], 0.0, "inside a long poll on every worker");
        // Per worker too.
        assert!(strict.per_worker[0].1[0] < plain.per_worker[0].1[0]);
    }

    #[test]
    fn a_trace_without_workers_says_why() {
        let mut b = trace_format::build::TraceBuilder::new();
        b.push(
            1,
            10,
            trace_format::Event::PollStart {
                task: trace_format::TaskId(1),
            },
        );
        b.push(1, 20, trace_format::Event::PollEnd { ready: true });
        let model = Model::build(&trace_format::Trace::from_bytes(b.to_bytes()).unwrap()).unwrap();
        let e = MmuData::compute(&model, UtilizationOptions::default(), &|_, _| {}).unwrap_err();
        assert!(e.contains("no tokio worker threads"), "{e}");
    }
}
