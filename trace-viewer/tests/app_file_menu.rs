//! The File menu does what it says: Enter opens the typed path, "Close trace" is off with
//! nothing open, File > Open without a system file chooser says why and asks for a path,
//! and a trace without events says so instead of drawing an empty timeline.

use egui::Key;
use egui::accesskit::Role;
use egui::vec2;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use trace_analysis::synthetic::Synthetic;
use trace_viewer::app::menu::CLOSE_TRACE;
use trace_viewer::app::trace_view::NO_EVENTS;
use trace_viewer::app::{AppOptions, Screen, ViewerApp};

mod common;
use common::*;

fn open_file_menu(h: &mut Harness<'_, ViewerApp>) {
    h.get_by_label("File").click();
    h.run_steps(2);
}

#[test]
fn enter_in_the_open_path_window_opens_the_trace() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "typed.rtt", &Synthetic::default().bytes());
    let mut h = harness(None);
    open_file_menu(&mut h);
    h.get_by_label_contains("Open path").click();
    h.run_steps(4);
    h.get_by_role(Role::TextInput)
        .type_text(&path.display().to_string());
    h.run_steps(2);
    h.key_press(Key::Enter);
    h.run_steps(2);
    wait_opened(&mut h);
    assert_eq!(
        h.state().trace_view().map(|t| t.trace.path.clone()),
        Some(path)
    );
}

#[test]
fn close_trace_is_off_with_nothing_open_and_closes_an_open_trace() {
    let mut h = harness(None);
    open_file_menu(&mut h);
    assert!(h.get_by_label(CLOSE_TRACE).accesskit_node().is_disabled());
    h.key_press(Key::Escape);
    h.run_steps(2);
    let (_dir, mut h) = open(&Synthetic::default());
    open_file_menu(&mut h);
    let close = h.get_by_label(CLOSE_TRACE);
    assert!(!close.accesskit_node().is_disabled());
    close.click();
    h.run_steps(2);
    assert!(matches!(h.state().screen(), Screen::Empty));
}

#[test]
fn without_a_file_chooser_file_open_says_why_and_asks_for_the_path() {
    let note = trace_viewer::app::file_chooser_problem(|_| None, |_| false)
        .unwrap_or_else(|| "no file chooser".into());
    let shown = note.clone();
    let mut h = Harness::builder()
        .with_size(vec2(1400.0, 900.0))
        .build_eframe(move |cc| {
            ViewerApp::with_options(
                &cc.egui_ctx,
                None,
                AppOptions {
                    recent_file: None,
                    native_dialog: false,
                    file_chooser_note: Some(note),
                },
            )
        });
    open_file_menu(&mut h);
    h.get_by_label_contains("Open…").click();
    h.run_steps(4);
    h.get_by_label(&shown);
    h.get_by_role(Role::TextInput);
}

#[test]
fn a_cut_file_without_events_says_so() {
    // The header and nothing else: a recording killed before its first chunk.
    let bytes = trace_format::text::undump("").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "empty.rtt", &bytes);
    let mut h = harness(Some(path));
    wait_opened(&mut h);
    assert_eq!(h.state().trace_view().unwrap().trace.model.events, 0);
    h.get_by_label_contains(NO_EVENTS);
}
