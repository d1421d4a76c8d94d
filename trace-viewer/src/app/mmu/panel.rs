//! The MMU view: minimum mutator utilization against window length on a log axis, with the
//! MUD percentile curves and each worker's curve as options, and — when the trace has long
//! polls — the responsiveness curve beside the pause curve. Hovering the plot tells the
//! window and the curves' utilization there. Clicking the plot (or a window button) lists
//! the worst windows of that length, every one reachable (the list scrolls where the
//! window is short); each links into the timeline.

use egui::{Color32, RichText, Ui};
use egui_plot::{HoverPosition, Legend, Line, Plot, PlotPoints};

use super::data::{MmuData, PERCENTILES, WORST};
use super::{LONG_POLL_THRESHOLDS, MmuState, MmuView};
use crate::app::jobs::Lazy;
use trace_analysis::model::Span;
use trace_analysis::units::format_duration;

/// The plot's id (and accessibility hint).
pub const PLOT: &str = "mmu-plot";

/// The responsiveness curve's checkbox (tests find it by this label).
pub const BESIDE: &str = "responsiveness curve beside";

/// The choice to list the worst windows of the responsiveness curve (tests click it).
pub const WORST_OF_BESIDE: &str = "with long polls unavailable";
/// The choice to list the worst windows of the pause curve.
pub const WORST_OF_PAUSES: &str = "pauses only";

/// The least height of the plot, taken from the worst-window list first.
const MIN_PLOT_HEIGHT: f32 = 160.0;
/// The least height of the plot, even when the list then shows only a few rows.
const SQUEEZED_PLOT_HEIGHT: f32 = 80.0;
/// Rows of the worst-window list kept visible before the plot shrinks below
/// [`MIN_PLOT_HEIGHT`].
const MIN_LIST_ROWS: f32 = 3.0;

/// The responsiveness curve's colour (the pause curve is green).
const BESIDE_COLOR: Color32 = Color32::from_rgb(239, 83, 80);

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
    let beside = mmu.beside_curve().cloned();
    if let Some(b) = &beside {
        ui.colored_label(
            BESIDE_COLOR,
            format!(
                "{}: mean utilization {:.1}% — the pause curve does not see a worker \
                 blocked inside a poll; this one does",
                beside_name(mmu.view.long_poll_threshold),
                b.mean * 100.0
            ),
        );
    }
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

    // Room for the whole worst-window list below the plot; where the window is too short,
    // the plot keeps its least height and the list scrolls (it keeps a few rows at least).
    let spacing = ui.spacing();
    let row = spacing
        .interact_size
        .y
        .max(ui.text_style_height(&egui::TextStyle::Body))
        + spacing.item_spacing.y;
    let header = 6.0 + row + spacing.item_spacing.y;
    let available = ui.available_height();
    let plot_height = if mmu.view.chosen.is_some() {
        let all = header + WORST as f32 * row;
        let squeezed = (available - header - MIN_LIST_ROWS * row).max(SQUEEZED_PLOT_HEIGHT);
        (available - all).max(MIN_PLOT_HEIGHT.min(squeezed))
    } else {
        available.max(SQUEEZED_PLOT_HEIGHT)
    };
    let clicked_at = plot(ui, &data, beside.as_ref(), &mmu.view, plot_height);
    if let Some(x) = clicked_at {
        choose = data.nearest_window(10f64.powf(x));
    }
    if let Some(w) = choose {
        mmu.choose_window(w);
    }
    mmu.refresh_worst();

    let mut jump = None;
    if let Some(w) = mmu.view.chosen {
        ui.separator();
        ui.horizontal(|ui| {
            ui.label(RichText::new(format!("Worst {} windows", format_duration(w))).strong());
            if beside.is_some() {
                ui.add_space(8.0);
                let mut of_beside = mmu.view.worst_of_beside;
                ui.selectable_value(&mut of_beside, true, WORST_OF_BESIDE)
                    .on_hover_text("Of the responsiveness curve: pauses and long polls count");
                ui.selectable_value(&mut of_beside, false, WORST_OF_PAUSES)
                    .on_hover_text("Of the pause curve: only pauses count");
                mmu.view.worst_of_beside = of_beside;
            }
        });
        egui::ScrollArea::vertical()
            .id_salt("mmu-worst")
            .max_height(ui.available_height())
            .auto_shrink([false, true])
            .show(ui, |ui| {
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
    let mut beside = mmu.view.beside;
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
        ui.add_space(16.0);
        ui.add_enabled(!on, egui::Checkbox::new(&mut beside, BESIDE))
            .on_hover_text(
                "While long polls do not count as unavailable: draw the curve where they do \
                 beside the pause curve, when the trace has polls longer than the threshold",
            );
    });
    mmu.view.beside = beside;
    mmu.set_long_poll(on.then_some(threshold));
}

/// A threshold's button: "> 1 ms".
pub fn threshold_label(t: u64) -> String {
    format!("> {}", format_duration(t))
}

/// The responsiveness curve's name: "MMU, polls > 1 ms unavailable".
pub fn beside_name(threshold: u64) -> String {
    format!("MMU, polls {} unavailable", threshold_label(threshold))
}

/// What hovering the plot at (`x`, `y`) tells: near a curve's point, that curve's name and
/// value (`curve`: its name, empty elsewhere); elsewhere, the window and the utilization of
/// the MMU curve (and of the responsiveness curve beside it) at that window.
pub fn hover_label(
    data: &MmuData,
    beside: Option<(&str, &MmuData)>,
    curve: &str,
    x: f64,
    y: f64,
) -> String {
    let window = 10f64.powf(x);
    let w = format_duration(window.round() as u64);
    if !curve.is_empty() {
        return format!("{curve}\nwindow {w}: {:.1}%", y * 100.0);
    }
    let mut label = format!("window {w}");
    let name = if data.long_poll.is_some() {
        "MMU (long polls unavailable)"
    } else {
        "MMU"
    };
    if let Some(u) = data.mmu_at(window) {
        label.push_str(&format!("\n{name}: {:.1}%", u * 100.0));
    }
    if let Some((name, b)) = beside
        && let Some(u) = b.mmu_at(window)
    {
        label.push_str(&format!("\n{name}: {:.1}%", u * 100.0));
    }
    label
}

/// Draws the curves, and `beside` (the responsiveness curve) when given; returns the x
/// (log10 of the window) of a click.
fn plot(
    ui: &mut Ui,
    data: &MmuData,
    beside: Option<&MmuData>,
    view: &MmuView,
    height: f32,
) -> Option<f64> {
    let xs: Vec<f64> = data.windows.iter().map(|&w| (w as f64).log10()).collect();
    let series =
        |ys: &[f64]| -> PlotPoints<'static> { xs.iter().zip(ys).map(|(&x, &y)| [x, y]).collect() };
    let beside_name = beside_name(view.long_poll_threshold);
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
            Some(hover_label(
                data,
                beside.map(|b| (beside_name.as_str(), b)),
                name,
                p.x,
                p.y,
            ))
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
            if let Some(b) = beside {
                let points: PlotPoints<'static> = b
                    .windows
                    .iter()
                    .zip(&b.mmu)
                    .map(|(&w, &y)| [(w as f64).log10(), y])
                    .collect();
                plot_ui.line(
                    Line::new(beside_name.clone(), points)
                        .color(BESIDE_COLOR)
                        .width(2.5),
                );
            }
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
