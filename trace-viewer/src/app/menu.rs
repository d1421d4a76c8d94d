//! The menu bar and the "Open" window.

use std::path::{Path, PathBuf};

use egui::{Key, Ui};

use crate::app::action::Action;

/// The File menu's submenu of recent files.
pub const OPEN_RECENT: &str = "Open Recent";
/// Its last entry.
pub const CLEAR_RECENT: &str = "Clear the list";

/// Shows the menu bar; `has_trace` enables the view entries, `can_close` "Close trace"
/// (something is open, opening or failed to open); `recent` lists recently opened files,
/// most recent first.
pub fn bar(ui: &mut Ui, has_trace: bool, can_close: bool, recent: &[PathBuf]) -> Option<Action> {
    let mut action = None;
    egui::MenuBar::new().ui(ui, |ui| {
        ui.menu_button("File", |ui| {
            if ui.button("Open…  (Ctrl+O)").clicked() {
                action = Some(Action::ShowOpenDialog);
            }
            if ui.button("Open path…").clicked() {
                action = Some(Action::ShowOpenPathDialog);
            }
            ui.add_enabled_ui(!recent.is_empty(), |ui| {
                ui.menu_button(OPEN_RECENT, |ui| {
                    for p in recent {
                        if ui
                            .button(recent_label(p))
                            .on_hover_text(p.display().to_string())
                            .clicked()
                        {
                            action = Some(Action::Open(p.clone()));
                        }
                    }
                    ui.separator();
                    if ui.button(CLEAR_RECENT).clicked() {
                        action = Some(Action::ClearRecent);
                    }
                });
            });
            if ui
                .add_enabled(has_trace, egui::Button::new(EXPORT_MENU))
                .clicked()
            {
                action = Some(Action::ShowExport);
            }
            if ui
                .add_enabled(can_close, egui::Button::new(CLOSE_TRACE))
                .clicked()
            {
                action = Some(Action::CloseTrace);
            }
            ui.separator();
            if ui.button("Quit").clicked() {
                action = Some(Action::Quit);
            }
        });
        ui.add_enabled_ui(has_trace, |ui| {
            ui.menu_button("View", |ui| {
                if ui.button("Fit selection or whole trace  (F)").clicked() {
                    action = Some(Action::Fit);
                }
                if ui.button("Whole trace").clicked() {
                    action = Some(Action::FitAll);
                }
                ui.separator();
                if ui.button("Expand all task groups").clicked() {
                    action = Some(Action::CollapseAll(false));
                }
                if ui.button("Collapse all task groups").clicked() {
                    action = Some(Action::CollapseAll(true));
                }
            });
        });
        ui.menu_button("Help", |ui| {
            ui.label(KEYS_HELP);
        });
    });
    action
}

/// A recent file's menu entry: its name, then the folder it is in.
pub fn recent_label(path: &Path) -> String {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    );
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => format!("{name} — {}", dir.display()),
        None => name,
    }
}

/// The File menu entry that closes the trace.
pub const CLOSE_TRACE: &str = "Close trace";

/// The File menu entry that opens the export window.
pub const EXPORT_MENU: &str = "Export to Perfetto (Chrome JSON)…";

/// What the keys and the mouse do.
pub const KEYS_HELP: &str = "\
W / S, mouse wheel   zoom in / out (at the pointer)
A / D, drag          pan earlier / later
Shift + wheel        pan
drag up / down, wheel over the lane names, PgUp / PgDn   scroll lanes
drag on the time axis, Shift + drag   select a time range (totals in the details)
F                    fit the range, else the selection, else the whole trace
/                    search tasks (name, spawn location) and regions; Enter: next
                     match, Shift + Enter: previous, Esc: close
Esc                  clear the selection and the range
click a slice        details; click a folded (grey) slice to zoom to it
click a group name   collapse / expand it";

/// The "Open" window: a path to type (or paste; Enter opens it), Open and Cancel, and
/// Browse… for the native dialog when `native` (the app uses one). `path` is its text;
/// `note` says why the system's dialog is not used, if it should.
pub fn open_dialog(
    ctx: &egui::Context,
    path: &mut String,
    note: Option<&str>,
    native: bool,
) -> Option<Action> {
    let mut action = None;
    let mut open = true;
    egui::Window::new("Open trace")
        .open(&mut open)
        .collapsible(false)
        .resizable(false)
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .show(ctx, |ui| {
            if let Some(note) = note {
                ui.label(egui::RichText::new(note).color(ui.visuals().warn_fg_color));
            }
            ui.label("Path of a .rtt file (or drop one onto the window):");
            let edit = ui.add(
                egui::TextEdit::singleline(path)
                    .desired_width(420.0)
                    .hint_text("/path/to/trace.rtt"),
            );
            // Read Enter before taking the focus back: Enter makes the edit give it up, and
            // taking it again in the same frame would hide that it did.
            let enter = edit.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
            if !enter && ui.memory(|m| m.focused().is_none()) {
                edit.request_focus();
            }
            ui.horizontal(|ui| {
                if (ui.button("Open").clicked() || enter) && !path.trim().is_empty() {
                    action = Some(Action::Open(path.trim().into()));
                }
                if ui.button("Cancel").clicked() {
                    action = Some(Action::HideOpenDialog);
                }
                if native && ui.button("Browse…").clicked() {
                    action = Some(Action::Browse);
                }
            });
        });
    if !open {
        action = Some(Action::HideOpenDialog);
    }
    action
}
