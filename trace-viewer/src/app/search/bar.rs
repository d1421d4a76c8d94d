//! The search bar (`/`): a query box over the timeline; Enter shows the next match,
//! Shift + Enter the previous one, Esc closes it.

use egui::{Key, Ui};

use super::SearchState;
use super::matches::{Found, status};
use crate::app::open_trace::OpenTrace;

/// The label before the query box (tests find the box by it).
pub const BOX_LABEL: &str = "Search:";
/// The button that closes the bar.
pub const CLOSE: &str = "Close search";

/// Shows the bar for `search` over `trace`; returns the match Enter (or Next, Previous)
/// stepped to, for the caller to show.
pub fn bar(ui: &mut Ui, search: &mut SearchState, trace: &OpenTrace) -> Option<Found> {
    let mut step = None;
    let mut found = None;
    let mut close = false;
    ui.horizontal(|ui| {
        let label = ui.label(BOX_LABEL);
        let edit = egui::TextEdit::singleline(&mut search.text)
            .desired_width(320.0)
            .hint_text("task name, spawn location or region name");
        let resp = ui.add(edit).labelled_by(label.id);
        if std::mem::take(&mut search.focus) {
            resp.request_focus();
        }
        // A single-line box gives the keyboard up on Enter: take it back for the next one.
        if resp.lost_focus() {
            if let Some(shift) = enter_pressed(ui) {
                step = Some(shift);
                resp.request_focus();
            } else if ui.input(|i| i.key_pressed(Key::Escape)) {
                close = true;
            }
        }
        if ui.button("Next").on_hover_text("Enter").clicked() {
            step = Some(false);
        }
        if ui
            .button("Previous")
            .on_hover_text("Shift + Enter")
            .clicked()
        {
            step = Some(true);
        }
        if let Some(backwards) = step {
            found = search.step(trace, backwards);
        }
        let status = status_line(search, trace);
        ui.label(status);
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui.button(CLOSE).on_hover_text("Esc").clicked() {
                close = true;
            }
        });
    });
    if close {
        search.open = false;
    }
    found
}

/// Whether Enter was pressed this frame, and if so with Shift.
fn enter_pressed(ui: &Ui) -> Option<bool> {
    ui.input(|i| {
        i.events.iter().find_map(|e| match e {
            egui::Event::Key {
                key: Key::Enter,
                pressed: true,
                modifiers,
                ..
            } => Some(modifiers.shift),
            _ => None,
        })
    })
}

/// The status after the box: counts and the match shown.
fn status_line(search: &mut SearchState, trace: &OpenTrace) -> String {
    if search.text.trim().is_empty() {
        return String::new();
    }
    search.refresh(trace);
    let current = search.current.map(|f| f.describe(trace));
    match &search.matches {
        Some(m) => status(m, current),
        None => String::new(),
    }
}
