//! The central panel when no timeline is shown: the empty window, the opening progress
//! (cancelable), the error panel for a file that cannot be shown; and the banner above the
//! timeline for a trace that opened with data missing.

use std::path::Path;

use egui::{Align, Color32, Layout, ProgressBar, RichText, Ui};

use crate::app::action::Action;
use crate::app::open_job::OpenJob;
use trace_analysis::units::format_bytes;

/// The error panel's heading (tests look for it).
pub const ERROR_HEADING: &str = "This trace cannot be shown";
/// The banner's heading.
pub const BANNER_HEADING: &str = "This trace is incomplete";
/// The cancel button's text.
pub const CANCEL: &str = "Cancel";

/// No trace: how to open one, and the `recent` files as links. `notice` is a line about what
/// just happened (a canceled opening).
pub fn empty(ui: &mut Ui, notice: Option<&str>, recent: &[std::path::PathBuf]) -> Option<Action> {
    let mut action = None;
    ui.with_layout(Layout::top_down(Align::Center), |ui| {
        ui.add_space(ui.available_height() / 3.0);
        ui.heading("trace-viewer");
        ui.add_space(8.0);
        if let Some(n) = notice {
            ui.label(RichText::new(n).italics());
            ui.add_space(8.0);
        }
        ui.label("Open a trace recorded by trace-rt (.rtt): File > Open, or drop the file here.");
        ui.add_space(8.0);
        if ui.button("Open a trace…").clicked() {
            action = Some(Action::ShowOpenDialog);
        }
        if !recent.is_empty() {
            ui.add_space(12.0);
            ui.label(RichText::new("Recent").strong());
            for p in recent {
                if ui
                    .link(super::menu::recent_label(p))
                    .on_hover_text(p.display().to_string())
                    .clicked()
                {
                    action = Some(Action::Open(p.clone()));
                }
            }
        }
    });
    action
}

/// Opening: the file, a progress bar, and Cancel.
pub fn opening(ui: &mut Ui, job: &OpenJob) -> Option<Action> {
    let mut action = None;
    ui.with_layout(Layout::top_down(Align::Center), |ui| {
        ui.add_space(ui.available_height() / 3.0);
        ui.heading(format!("Opening {}", file_name(job.path())));
        ui.add_space(8.0);
        let (done, total) = job.progress();
        let bar = match job.fraction() {
            Some(f) => ProgressBar::new(f).text(format!(
                "{} of {} decoded",
                format_bytes(done),
                format_bytes(total)
            )),
            None => ProgressBar::new(0.0)
                .text("indexing the file…")
                .animate(true),
        };
        ui.add(bar.desired_width(400.0));
        ui.add_space(8.0);
        if job.is_canceled() {
            ui.label("canceling…");
        } else if ui.button(CANCEL).clicked() {
            action = Some(Action::CancelOpen);
        }
    });
    action
}

/// The file cannot be shown: why, and what to do.
pub fn error(ui: &mut Ui, path: &Path, error: &str) -> Option<Action> {
    let mut action = None;
    ui.with_layout(Layout::top_down(Align::Center), |ui| {
        ui.add_space(ui.available_height() / 4.0);
        ui.heading(RichText::new(ERROR_HEADING).color(ui.visuals().error_fg_color));
        ui.add_space(8.0);
        ui.label(RichText::new(path.display().to_string()).monospace());
        ui.add_space(8.0);
        egui::Frame::group(ui.style()).show(ui, |ui| {
            ui.set_max_width(700.0);
            ui.add(egui::Label::new(RichText::new(error).monospace()).selectable(true));
        });
        ui.add_space(8.0);
        ui.label(format!(
            "`trace-viewer check {}` tells whether the file is a complete trace.",
            path.display()
        ));
        ui.add_space(8.0);
        if ui.button("Open another trace…").clicked() {
            action = Some(Action::ShowOpenDialog);
        }
    });
    action
}

/// The banner over the timeline: what is missing from this trace.
pub fn banner(ui: &mut Ui, problems: &[String]) -> Option<Action> {
    let mut action = None;
    egui::Frame::new()
        .fill(Color32::from_rgb(90, 60, 0))
        .inner_margin(6.0)
        .show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(
                    RichText::new(format!("Warning: {BANNER_HEADING}"))
                        .strong()
                        .color(Color32::WHITE),
                );
                ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                    if ui.button("Dismiss").clicked() {
                        action = Some(Action::DismissBanner);
                    }
                });
            });
            for p in problems {
                ui.label(RichText::new(format!("• {p}")).color(Color32::WHITE));
            }
        });
    action
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
