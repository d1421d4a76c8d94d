//! Frame work, driven headless: an idle window repeats no work that grows with the trace,
//! settles (asks for no more frames once nothing changes), and a wheel notch shows its
//! zoom in the frame that receives it and asks for no frames after it.

use eframe::App as _;
use egui::{Event, Key, Modifiers, MouseWheelUnit, Pos2, vec2};
use egui_kittest::Harness;
use trace_analysis::synthetic::Synthetic;
use trace_viewer::app::ViewerApp;
use trace_viewer::app::trace_view::Tab;

mod common;
use common::*;

fn tasks_sorts(h: &Harness<'_, ViewerApp>) -> u64 {
    h.state().trace_view().unwrap().tasks.sorts
}

#[test]
fn the_tasks_table_is_not_sorted_again_in_idle_frames() {
    let (_dir, mut h) = open(&Synthetic::default());
    h.key_press(Key::Num2);
    h.run_steps(2);
    assert_eq!(h.state().trace_view().unwrap().tab, Tab::Tasks);
    wait_for(&mut h, "the breakdown", |a| {
        a.trace_view().is_some_and(|s| !s.tasks.rows.is_empty())
    });
    let sorted = tasks_sorts(&h);
    assert!(sorted >= 1, "the table was shown sorted");
    h.run_steps(20);
    assert_eq!(
        tasks_sorts(&h),
        sorted,
        "idle frames sorted the table again"
    );
    // A new sort column sorts it once more, and that is all.
    h.state_mut()
        .trace_view_mut()
        .unwrap()
        .tasks
        .table
        .click_header(trace_viewer::app::tasks::table::Column::MaxPoll);
    h.run_steps(5);
    assert_eq!(tasks_sorts(&h), sorted + 1);
    // So does the filter.
    h.state_mut().trace_view_mut().unwrap().tasks.table.filter = "src".into();
    h.run_steps(5);
    assert_eq!(tasks_sorts(&h), sorted + 2);
}

#[test]
fn an_idle_timeline_settles() {
    let (_dir, mut h) = open(&Synthetic::default());
    // Nothing animates or polls once the trace is shown: the window waits for input.
    h.try_run()
        .expect("the idle window keeps asking for frames");
}

#[test]
fn a_wheel_notch_zooms_in_the_frame_that_receives_it() {
    let (_dir, mut h) = open(&Synthetic::default());
    h.try_run().ok();
    let before = h.state().trace_view().unwrap().view.time;
    let lanes = h.state().trace_view().unwrap().timeline.scene.area;
    let at: Pos2 = lanes.center();
    h.event(Event::PointerMoved(at));
    h.event(Event::MouseWheel {
        unit: MouseWheelUnit::Line,
        delta: vec2(0.0, 1.0),
        modifiers: Modifiers::NONE,
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
    });
    h.step();
    let after = h.state().trace_view().unwrap().view.time;
    assert!(
        after.end - after.start < before.end - before.start,
        "one frame after the notch the view is zoomed: {before:?} → {after:?}"
    );
}

/// A notch over the lanes, as the window system hands it to eframe: through the app's
/// raw-input hook first (the harness does not call it), then what is left to egui.
fn notch(h: &mut Harness<'_, ViewerApp>, at: Pos2) -> usize {
    let mut raw = egui::RawInput::default();
    raw.events.push(Event::PointerMoved(at));
    raw.events.push(Event::MouseWheel {
        unit: MouseWheelUnit::Line,
        delta: vec2(0.0, 1.0),
        modifiers: Modifiers::NONE,
        phase: egui::TouchPhase::Move,
        source: egui::MouseWheelSource::Unknown,
    });
    let ctx = h.ctx.clone();
    h.state_mut().raw_input_hook(&ctx, &mut raw);
    let left = raw.events.len();
    for e in raw.events {
        h.event(e);
    }
    left
}

#[test]
fn a_wheel_notch_over_the_lanes_asks_for_no_frames_after_its_own() {
    // Frames 1/60 s apart, as on a 60 Hz screen (the harness's default is 1/4 s).
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "t.rtt", &Synthetic::default().bytes());
    let mut h = Harness::builder()
        .with_size(vec2(1400.0, 900.0))
        .with_step_dt(1.0 / 60.0)
        .build_eframe(move |cc| ViewerApp::new(&cc.egui_ctx, Some(path)));
    wait_opened(&mut h);
    let lanes = h.state().trace_view().unwrap().timeline.scene.area;
    let at = lanes.center();
    h.event(Event::PointerMoved(at));
    h.run_steps(3);
    h.try_run().ok();
    let before = h.state().trace_view().unwrap().view.time;
    let left_to_egui = notch(&mut h, at);
    h.step();
    let after = h.state().trace_view().unwrap().view.time;
    assert!(
        after.end - after.start < before.end - before.start,
        "zoomed in the notch's frame: {before:?} → {after:?}"
    );
    // egui smooths a wheel notch it sees over the next frames, a frame per step (a dozen
    // frames of lanes per notch); the timeline's notch needs none.
    // (Before: 11 frames at 60 Hz; now the tooltip's own, at most the harness's 4.)
    h.try_run()
        .expect("a wheel notch over the lanes keeps the window repainting");
    assert_eq!(h.state().trace_view().unwrap().view.time, after);
    // The wheel event was the timeline's alone: egui saw only the move.
    assert_eq!(left_to_egui, 1);

    // Over the Tasks tab, the wheel is egui's (its table scrolls).
    h.key_press(Key::Num2);
    h.run_steps(2);
    assert_eq!(notch(&mut h, at), 2);
}
