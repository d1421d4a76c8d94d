//! Frame work, driven headless: an idle window repeats no work that grows with the trace
//! and settles (asks for no more frames once nothing changes).

use egui::Key;
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
