//! The export window: File > Export to Perfetto writes Chrome trace JSON, of the whole trace
//! or of the visible time range, on a background thread with progress and Cancel.

use std::path::Path;
use std::sync::Arc;

use egui::{ProgressBar, RichText};

use crate::app::action::Action;
use crate::app::jobs::{ExportRequest, Job, default_export_path, export};
use crate::app::open_trace::OpenTrace;
use trace_analysis::export::chrome::ExportStats;
use trace_analysis::model::Span;
use trace_analysis::units::{format_bytes, format_duration};

/// The window's title.
pub const TITLE: &str = "Export to Perfetto";
/// The button that starts the export.
pub const EXPORT: &str = "Export";

/// The export window: what it will write, the export running, what the last one did.
#[derive(Debug)]
pub struct ExportState {
    /// Target path, as typed.
    pub path: String,
    /// Only the visible time range.
    pub visible_only: bool,
    /// The export in progress.
    pub job: Option<Job<Result<ExportStats, String>>>,
    /// What the last export did (or why it failed).
    pub outcome: Option<Result<String, String>>,
}

impl ExportState {
    /// The window for `trace`, proposing `x.json` beside `x.rtt`.
    pub fn new(trace: &Path) -> ExportState {
        ExportState {
            path: default_export_path(trace).display().to_string(),
            visible_only: false,
            job: None,
            outcome: None,
        }
    }

    /// Starts exporting `trace` as the window says (`visible`: the time range in view);
    /// `wake` asks for a repaint. Nothing happens while an export runs or without a path.
    pub fn start(
        &mut self,
        trace: &Arc<OpenTrace>,
        visible: Span,
        wake: impl Fn() + Send + Sync + 'static,
    ) {
        if self.job.is_some() || self.path.trim().is_empty() {
            return;
        }
        let request = ExportRequest {
            path: self.path.trim().into(),
            range: self.visible_only.then_some(visible),
        };
        let trace = trace.clone();
        let what = format!("exporting to {}", request.path.display());
        self.outcome = None;
        self.job = Some(Job::spawn(what, wake, move |h| export(&trace, &request, h)));
    }

    /// Picks up the finished export: what it wrote, or why not.
    pub fn poll(&mut self) {
        if let Some(job) = &self.job
            && let Some(result) = job.poll()
        {
            let path = self.path.trim().to_string();
            self.outcome = Some(match result {
                Ok(Ok(stats)) => Ok(format!(
                    "Wrote {} events ({}) to {path}: open it in ui.perfetto.dev",
                    stats.events,
                    format_bytes(stats.bytes)
                )),
                Ok(Err(e)) => Err(e),
                Err(e) => Err(e.to_string()),
            });
            self.job = None;
        }
    }
}

/// Shows the export window for `state`; `visible` is the time range in view.
pub fn window(ctx: &egui::Context, state: &mut ExportState, visible: Span) -> Option<Action> {
    let mut action = None;
    let mut open = true;
    egui::Window::new(TITLE)
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |ui| {
            ui.label("Chrome trace JSON, for ui.perfetto.dev or chrome://tracing.");
            ui.add_space(4.0);
            let running = state.job.is_some();
            ui.add_enabled_ui(!running, |ui| {
                ui.horizontal(|ui| {
                    ui.label("File:");
                    ui.add(egui::TextEdit::singleline(&mut state.path).desired_width(380.0));
                });
                ui.checkbox(
                    &mut state.visible_only,
                    format!(
                        "Only what overlaps the visible range ({})",
                        describe_span(visible)
                    ),
                );
            });
            ui.add_space(4.0);
            if let Some(job) = &state.job {
                ui.label(&job.what);
                let bar = match job.fraction() {
                    Some(f) => ProgressBar::new(f).show_percentage(),
                    None => ProgressBar::new(0.0).animate(true),
                };
                ui.add(bar.desired_width(400.0));
                if ui.button("Cancel").clicked() {
                    action = Some(Action::CancelExport);
                }
            } else {
                match &state.outcome {
                    Some(Ok(msg)) => {
                        ui.label(RichText::new(msg).strong());
                    }
                    Some(Err(e)) => {
                        ui.colored_label(ui.visuals().error_fg_color, e);
                    }
                    None => {}
                }
                ui.horizontal(|ui| {
                    if ui.button(EXPORT).clicked() {
                        action = Some(Action::StartExport);
                    }
                    if ui.button("Close").clicked() {
                        action = Some(Action::HideExport);
                    }
                });
            }
        });
    if !open {
        action = Some(Action::HideExport);
    }
    action
}

/// Describes `span` for the export window: "1.2 ms from 3.4 s".
pub fn describe_span(span: Span) -> String {
    format!(
        "{} from {}",
        format_duration(span.len()),
        format_duration(span.start)
    )
}
