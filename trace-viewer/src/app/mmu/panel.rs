//! The MMU view: minimum mutator utilization against window length on a log axis, with the
//! MUD percentile curves and each worker's curve as options. Clicking the plot (or a window
//! button) lists the worst windows of that length; each links into the timeline.

use egui::{Color32, RichText, Ui};
use egui_plot::{HoverPosition, Legend, Line, Plot, PlotPoints};

use super::data::{MmuData, PERCENTILES};
use super::{LONG_POLL_THRESHOLDS, MmuState, MmuView};
use crate::app::jobs::Lazy;
use trace_analysis::model::Span;
use trace_analysis::units::format_duration;

/// The plot's id (and accessibility hint).
pub const PLOT: &str = "mmu-plot";

/// Window lengths offered as buttons (those no longer than the trace).
pub const QUICK_WINDOWS: [u64; 6] = [
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
];

/// Shows the view of `mmu`; returns the worst window clicked, for the caller to show in
/// the timeline.
pub fn show(ui: &mut Ui, mmu: &mut MmuState) -> Option<Span> {
    let data = match &mmu.curves {
        Lazy::Idle | Lazy::Running(_) => {
            responsiveness(ui, mmu);
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Computing the MMU curves…");
            });
            return None;
        }
        Lazy::Ready(Err(e)) => {
            ui.label(format!("No MMU for this trace: {e}"));
            return None;
        }
        Lazy::Ready(Ok(d)) => d.clone(),
    };
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(format!(
                "{} workers, mean utilization {:.1}%{}",
                data.workers,
                data.mean * 100.0,
                data.long_poll.map_or(String::new(), |t| format!(
                    " (polls {} count as unavailable)",
                    threshold_label(t)
                ))
            ))
            .strong(),
        );
        ui.add_space(16.0);
        ui.checkbox(&mut mmu.view.percentiles, "percentiles (MUD)");
        ui.checkbox(&mut mmu.view.per_worker, "per worker");
    });
    responsiveness(ui, mmu);
    let mut choose = None;
    ui.horizontal(|ui| {
        ui.label("Worst windows of:");
        let longest = data.windows.last().copied().unwrap_or(0);
        for w in QUICK_WINDOWS.into_iter().filter(|&w| w <= longest) {
            let selected = mmu.view.chosen == Some(w);
            if ui.selectable_label(selected, format_duration(w)).clicked() {
                choose = Some(w);
            }
        }
        ui.label("(or click the plot)");
    });

    let worst_height = if mmu.view.chosen.is_some() {
        220.0
    } else {
        0.0
    };
    let plot_height = (ui.available_height() - worst_height).max(160.0);
    let clicked_at = plot(ui, &data, &mmu.view, plot_height);
    if let Some(x) = clicked_at {
        choose = data.nearest_window(10f64.powf(x));
    }
    if let Some(w) = choose {
        mmu.choose_window(w);
    }

    let mut jump = None;
    if let Some(w) = mmu.view.chosen {
        ui.separator();
        ui.label(RichText::new(format!("Worst {} windows", format_duration(w))).strong());
        egui::ScrollArea::vertical().show(ui, |ui| {
            for (i, win) in mmu.view.worst.iter().enumerate() {
                ui.horizontal(|ui| {
                    ui.label(format!("{}.", i + 1));
                    if ui
                        .link(format!(
                            "at {}: utilization {:.1}%",
                            window_start(win.start, w),
                            win.utilization * 100.0
                        ))
                        .on_hover_text("Show it in the timeline")
                        .clicked()
                    {
                        jump = Some(Span::new(win.start, win.end));
                    }
                });
            }
        });
    }
    jump
}

/// The responsiveness toggle's label (tests click it).
pub const RESPONSIVENESS: &str = "long polls count as unavailable";

/// The responsiveness toggle and its threshold: polls longer than it make their worker
/// unavailable, so a stalled worker shows like a pause.
fn responsiveness(ui: &mut Ui, mmu: &mut MmuState) {
    let mut on = mmu.view.long_poll.is_some();
    let mut threshold = mmu.view.long_poll_threshold;
    ui.horizontal(|ui| {
        ui.checkbox(&mut on, RESPONSIVENESS)
            .on_hover_text("Responsiveness MMU: a worker inside a poll longer than the threshold is not available to other tasks");
        for t in LONG_POLL_THRESHOLDS {
            if ui
                .selectable_label(threshold == t, threshold_label(t))
                .clicked()
            {
                threshold = t;
                on = true;
            }
        }
    });
    mmu.set_long_poll(on.then_some(threshold));
}

/// A threshold's button: "> 1 ms".
pub fn threshold_label(t: u64) -> String {
    format!("> {}", format_duration(t))
}

/// Draws the curves; returns the x (log10 of the window) of a click.
fn plot(ui: &mut Ui, data: &MmuData, view: &MmuView, height: f32) -> Option<f64> {
    let xs: Vec<f64> = data.windows.iter().map(|&w| (w as f64).log10()).collect();
    let series =
        |ys: &[f64]| -> PlotPoints<'static> { xs.iter().zip(ys).map(|(&x, &y)| [x, y]).collect() };
    let chosen = view.chosen.map(|w| (w as f64).log10());
    let response = Plot::new(PLOT)
        .height(height)
        .include_y(0.0)
        .include_y(1.0)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .legend(Legend::default())
        .x_axis_label("window")
        .y_axis_label("utilization")
        .x_axis_formatter(|mark, _| format_duration(10f64.powf(mark.value).round() as u64))
        .label_formatter(|pos| {
            let (name, p) = match pos {
                HoverPosition::NearDataPoint {
                    plot_name,
                    position,
                    ..
                } => (*plot_name, *position),
                HoverPosition::Elsewhere { position } => ("", *position),
            };
            let w = format_duration(10f64.powf(p.x).round() as u64);
            Some(if name.is_empty() {
                format!("window {w}")
            } else {
                format!("{name}\nwindow {w}: {:.1}%", p.y * 100.0)
            })
        })
        .show(ui, |plot_ui| {
            if view.per_worker {
                for (label, ys) in &data.per_worker {
                    plot_ui.line(Line::new(label.clone(), series(ys)).width(1.0));
                }
            }
            if view.percentiles {
                let colors = [
                    Color32::from_rgb(255, 179, 0),
                    Color32::from_rgb(79, 195, 247),
                    Color32::from_rgb(186, 104, 200),
                ];
                for (k, (_, name)) in PERCENTILES.iter().enumerate() {
                    let ys: Vec<f64> = data.percentiles.iter().map(|p| p[k]).collect();
                    plot_ui.line(
                        Line::new(format!("{name} of windows reach"), series(&ys))
                            .color(colors[k])
                            .width(1.5),
                    );
                }
            }
            plot_ui.line(
                Line::new("MMU", series(&data.mmu))
                    .color(Color32::from_rgb(76, 175, 80))
                    .width(2.5),
            );
            if let Some(x) = chosen {
                plot_ui.vline(egui_plot::VLine::new("chosen window", x).color(Color32::WHITE));
            }
            plot_ui.pointer_coordinate()
        });
    let clicked = response.response.clicked();
    clicked.then_some(response.inner.map(|p| p.x)).flatten()
}

/// A window's start, precise enough to tell windows of length `window` apart: in its unit,
/// as the rest of the window writes times, with decimals down to a tenth of the window.
pub fn window_start(start: u64, window: u64) -> String {
    let resolution = 10u64.pow((window / 10).max(1).ilog10());
    crate::app::axis::format_precise(start, resolution)
}
