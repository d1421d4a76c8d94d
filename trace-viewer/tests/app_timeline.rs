//! The window driven headless with egui_kittest (no display, no GPU): opening generated
//! traces, zooming and panning with keys, wheel and drag, clicking a slice to see its task
//! in the details panel, collapsing a task group, and the error panel and banner for damaged
//! files.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use egui::{Event, Key, Modifiers, MouseWheelUnit, PointerButton, Pos2, TouchPhase, vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use trace_analysis::synthetic::Synthetic;
use trace_viewer::app::details::panel as details;
use trace_viewer::app::open_job::OpenJob;
use trace_viewer::app::status;
use trace_viewer::app::timeline::lanes::LaneKind;
use trace_viewer::app::timeline::panel as timeline;
use trace_viewer::app::timeline::scene::Hit;
use trace_viewer::app::view::{KEY_ZOOM_FACTOR, TimeView, WHEEL_NOTCH_POINTS};
use trace_viewer::app::{Screen, ViewerApp};

mod common;
use common::*;

fn view(h: &Harness<'_, ViewerApp>) -> TimeView {
    h.state().trace_view().expect("a trace is open").view.time
}

fn lanes_center(h: &Harness<'_, ViewerApp>) -> Pos2 {
    h.state().trace_view().unwrap().timeline.scene.area.center()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn opens_a_trace_and_shows_its_lanes() {
    let s = Synthetic::default();
    let (_dir, h) = open(&s);
    let tv = h.state().trace_view().unwrap();
    assert_eq!(
        tv.trace.model.polls.len() as u32,
        s.tasks * s.polls_per_task + 1
    );
    // The whole trace is in view, and every kind of lane is drawn.
    let v = view(&h);
    assert!(
        v.start <= 0.0 && v.end >= tv.trace.model.end as f64,
        "{v:?}"
    );
    let kinds: Vec<LaneKind> = tv
        .timeline
        .scene
        .lanes
        .iter()
        .map(|&(i, _)| tv.timeline.lanes.lanes[i].kind)
        .collect();
    assert!(kinds.iter().any(|k| matches!(k, LaneKind::Thread(_))));
    assert!(kinds.iter().any(|k| matches!(k, LaneKind::Group(_))));
    assert!(kinds.iter().any(|k| matches!(k, LaneKind::Task { .. })));
    assert!(
        tv.timeline
            .scene
            .items
            .iter()
            .any(|i| matches!(i.hit, Hit::Poll(_)))
    );
    assert!(
        tv.timeline
            .scene
            .items
            .iter()
            .any(|i| matches!(i.hit, Hit::Segment { .. }))
    );
    assert_eq!(
        tv.timeline.scene.overlays.len(),
        1,
        "the process-wide pause"
    );
    assert!(!tv.banner_shown(), "{:?}", tv.problems);
    h.get_by_label(timeline::LANES_LABEL);
    h.get_by_label("File");
}

#[test]
fn keys_zoom_and_pan() {
    let (_dir, mut h) = open(&Synthetic::default());
    // Keep the pointer off the lanes: W/S zoom around the middle.
    let v0 = view(&h);
    h.key_press(Key::W);
    h.run_steps(2);
    let v1 = view(&h);
    assert!(
        close(v1.span() * KEY_ZOOM_FACTOR, v0.span()),
        "{v0:?} → {v1:?}"
    );
    assert!(close((v1.start + v1.end) / 2.0, (v0.start + v0.end) / 2.0));
    for _ in 0..5 {
        h.key_press(Key::W);
    }
    h.run_steps(2);
    let v2 = view(&h);
    h.key_press(Key::D);
    h.run_steps(2);
    let v3 = view(&h);
    assert!(
        close(v3.start - v2.start, v2.span() * 0.1),
        "{v2:?} → {v3:?}"
    );
    assert!(close(v3.span(), v2.span()));
    h.key_press(Key::A);
    h.run_steps(2);
    assert!(close(view(&h).start, v2.start));
    h.key_press(Key::S);
    h.run_steps(2);
    assert!(close(view(&h).span(), v2.span() * KEY_ZOOM_FACTOR));
    // F with nothing selected shows the whole trace again.
    h.key_press(Key::F);
    h.run_steps(2);
    assert!(close(view(&h).span(), v0.span()));
}

#[test]
fn zooming_in_far_reaches_nanoseconds_and_keeps_drawing() {
    let (_dir, mut h) = open(&Synthetic::default());
    for _ in 0..120 {
        h.key_press(Key::W);
    }
    h.run_steps(2);
    let v = view(&h);
    assert!(v.span() <= 10.0 + 1e-9, "{v:?}");
    // The axis counts nanoseconds: a step of a few, and labels down to the nanosecond
    // (as many decimals as the unit has digits below it).
    let tv = h.state().trace_view().unwrap();
    let ax = trace_viewer::app::axis::axis(&v, 0.0, tv.timeline.scene.area.width());
    assert!(ax.step <= 5, "{ax:?}");
    let per = ax.unit.nanos();
    for t in &ax.ticks {
        let decimals = t
            .label
            .split_once('.')
            .map_or(0, |(_, f)| f.split(' ').next().unwrap().len());
        assert_eq!(decimals as u32, per.ilog10(), "{}", t.label);
    }
}

fn wheel(h: &Harness<'_, ViewerApp>, pos: Pos2, dx: f32, dy: f32, modifiers: Modifiers) {
    h.event(Event::PointerMoved(pos));
    h.event(Event::MouseWheel {
        unit: MouseWheelUnit::Point,
        delta: vec2(dx, dy),
        phase: TouchPhase::Move,
        source: egui::MouseWheelSource::Wheel,
        modifiers,
    });
}

#[test]
fn the_wheel_zooms_at_the_pointer_and_shift_wheel_pans() {
    let (_dir, mut h) = open(&Synthetic::default());
    let area = h.state().trace_view().unwrap().timeline.scene.area;
    let pos = Pos2::new(area.left() + area.width() * 0.3, area.top() + 10.0);
    let v0 = view(&h);
    let at = v0.time_at(pos.x, area.left(), area.width());
    // Three notches' worth: one zoom step (as W) each.
    let notches = 3;
    wheel(&h, pos, 0.0, 3.0 * WHEEL_NOTCH_POINTS, Modifiers::NONE);
    h.run_steps(2);
    let v1 = view(&h);
    assert!(
        close(v1.span(), v0.span() / KEY_ZOOM_FACTOR.powi(notches)),
        "{v0:?} → {v1:?}"
    );
    assert!(
        (v1.time_at(pos.x, area.left(), area.width()) - at).abs() < v1.span() * 1e-6,
        "the time under the pointer stays put"
    );
    wheel(&h, pos, 0.0, -100.0, Modifiers::SHIFT);
    h.run_steps(2);
    let v2 = view(&h);
    assert!(close(v2.span(), v1.span()));
    assert!(v2.start > v1.start, "{v1:?} → {v2:?}");
}

#[test]
fn dragging_pans_in_time() {
    let (_dir, mut h) = open(&Synthetic::default());
    h.key_press(Key::W);
    h.key_press(Key::W);
    h.run_steps(2);
    let v0 = view(&h);
    let a = lanes_center(&h);
    let b = a + vec2(200.0, 0.0);
    h.event(Event::PointerMoved(a));
    h.drag_at(a);
    for i in 1..=4 {
        h.event(Event::PointerMoved(a + vec2(50.0 * i as f32, 0.0)));
    }
    h.drop_at(b);
    h.run_steps(2);
    let v1 = view(&h);
    let area = h.state().trace_view().unwrap().timeline.scene.area;
    let moved = v0.start - v1.start;
    let want = 200.0 / f64::from(area.width()) * v0.span();
    assert!(
        (moved - want).abs() < want * 0.1,
        "moved {moved}, want {want}"
    );
    // A drag is not a click: nothing got selected.
    assert!(h.state().trace_view().unwrap().view.selection.is_none());
}

#[test]
fn clicking_a_poll_shows_its_task_in_the_details_panel() {
    let s = Synthetic::default();
    let (_dir, mut h) = open(&s);
    // Zoom to the first rounds so polls are wide.
    h.state_mut()
        .trace_view_mut()
        .unwrap()
        .view
        .fit_to(trace_analysis::model::Span::new(0, s.round_start(0, 2)));
    h.run_steps(2);
    let tv = h.state().trace_view().unwrap();
    let (pos, task) = tv
        .timeline
        .scene
        .items
        .iter()
        .find_map(|i| match i.hit {
            Hit::Poll(p) if i.rect.width() > 20.0 => {
                Some((i.rect.center(), tv.trace.model.polls[p as usize].task))
            }
            _ => None,
        })
        .expect("a wide poll");
    let label = tv.trace.model.task_label(task);
    assert!(h.query_by_label(details::HEADING).is_none());

    click(&h, pos);
    h.run_steps(2);
    let tv = h.state().trace_view().unwrap();
    assert_eq!(tv.view.selection.and_then(|s| s.task()), Some(task));
    let d = tv.details.task.as_ref().unwrap();
    assert_eq!(d.polls, s.polls_per_task);
    h.get_by_label(details::HEADING);
    h.get_by_label(&label);
    h.get_by_label("src/service.rs:10:5");
    h.get_by_label_contains("poll 1 of 5");

    // F zooms to the clicked poll; Esc clears the selection and closes the panel.
    h.key_press(Key::F);
    h.run_steps(2);
    assert!(view(&h).span() < 2.0 * s.poll_ns as f64, "{:?}", view(&h));
    h.key_press(Key::Escape);
    h.run_steps(2);
    assert!(h.state().trace_view().unwrap().view.selection.is_none());
    assert!(h.query_by_label(details::HEADING).is_none());
}

#[test]
fn clicking_a_task_state_selects_the_task() {
    let s = Synthetic::default();
    let (_dir, mut h) = open(&s);
    let tv = h.state().trace_view().unwrap();
    let (pos, task) = tv
        .timeline
        .scene
        .items
        .iter()
        .find_map(|i| match i.hit {
            Hit::Segment { task, .. } if i.rect.width() > 10.0 => Some((i.rect.center(), task)),
            _ => None,
        })
        .expect("a wide state stretch");
    click(&h, pos);
    h.run_steps(2);
    let tv = h.state().trace_view().unwrap();
    assert_eq!(tv.view.selection.and_then(|s| s.task()), Some(task));
    h.get_by_label_contains("selected stretch");
}

#[test]
fn clicking_a_group_name_collapses_it() {
    let s = Synthetic::default();
    let (_dir, mut h) = open(&s);
    let tv = h.state().trace_view().unwrap();
    let before = tv.timeline.lanes.lanes.len();
    let (li, rect) = *tv
        .timeline
        .scene
        .lanes
        .iter()
        .find(|&&(i, _)| matches!(tv.timeline.lanes.lanes[i].kind, LaneKind::Group(0)))
        .unwrap();
    let tasks = tv.trace.groups[0].tasks.len();
    assert!(tasks > 0 && li > 0);
    click(&h, Pos2::new(rect.left() - 100.0, rect.center().y));
    h.run_steps(2);
    let tv = h.state().trace_view().unwrap();
    assert!(tv.timeline.collapsed[0]);
    assert_eq!(tv.timeline.lanes.lanes.len(), before - tasks);
}

#[test]
fn a_file_that_is_not_a_trace_shows_the_error_panel() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "junk.rtt", &[0x42; 4096]);
    let mut h = harness(Some(path));
    wait_opened(&mut h);
    assert!(matches!(h.state().screen(), Screen::Failed { .. }));
    h.get_by_label(status::ERROR_HEADING);
    h.get_by_label_contains("not a trace-rt trace");
    // The error panel offers to open another file.
    h.get_by_label("Open another trace…").click();
    // A window takes a few frames to appear.
    h.run_steps(10);
    h.get_by_role(egui::Role::TextInput);
}

#[test]
fn a_missing_file_shows_the_error_panel_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(Some(dir.path().join("missing.rtt")));
    wait_opened(&mut h);
    h.get_by_label(status::ERROR_HEADING);
    h.get_by_label_contains("No such file");
    assert!(
        h.query_all_by_label_contains("missing.rtt").count() >= 2,
        "path and error"
    );
}

#[test]
fn a_truncated_trace_opens_with_a_banner() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = Synthetic::default().build();
    b.chunk_capacity = 256;
    let bytes = b.to_bytes();
    let path = write(dir.path(), "cut.rtt", &bytes[..bytes.len() - 100]);
    let mut h = harness(Some(path));
    wait_opened(&mut h);
    let tv = h.state().trace_view().expect("a cut trace still opens");
    assert!(tv.banner_shown());
    assert!(
        tv.problems.iter().any(|p| p.contains("cut short")),
        "{:?}",
        tv.problems
    );
    h.get_by_label_contains(status::BANNER_HEADING);
    h.get_by_label_contains("cut short");
    h.get_by_label("Dismiss").click();
    h.run_steps(2);
    assert!(h.query_by_label_contains(status::BANNER_HEADING).is_none());
}

#[test]
fn a_corrupt_trace_opens_up_to_the_damage_with_a_banner() {
    let dir = tempfile::tempdir().unwrap();
    let mut b = Synthetic::default().build();
    b.chunk_capacity = 256;
    let mut bytes = b.to_bytes();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x5A;
    let path = write(dir.path(), "bad.rtt", &bytes);
    let mut h = harness(Some(path));
    wait_opened(&mut h);
    assert!(h.state().trace_view().is_some());
    h.get_by_label_contains("corrupt trace at byte");
}

#[test]
fn lost_data_is_in_the_banner_and_on_the_lanes() {
    let s = Synthetic {
        lost: true,
        ..Synthetic::default()
    };
    let (_dir, h) = open(&s);
    let tv = h.state().trace_view().unwrap();
    assert!(
        tv.timeline
            .scene
            .items
            .iter()
            .any(|i| matches!(i.hit, Hit::Lost { .. }))
    );
    h.get_by_label_contains("hole(s) in the data");
}

#[test]
fn opening_shows_progress_and_can_be_canceled() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "t.rtt", &Synthetic::default().bytes());
    let mut h = harness(None);
    h.get_by_label("Open a trace…");
    // The opening thread waits in its first progress report until the test lets it go.
    let release = Arc::new(AtomicBool::new(false));
    let gate = release.clone();
    let job = OpenJob::start(path, move || {
        while !gate.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    h.state_mut().adopt(job);
    h.run_steps(2);
    assert!(h.state().is_opening());
    h.get_by_label_contains("Opening t.rtt");
    h.get_by_label(status::CANCEL).click();
    h.run_steps(2);
    release.store(true, Ordering::Relaxed);
    wait_opened(&mut h);
    assert!(matches!(h.state().screen(), Screen::Empty));
    assert_eq!(h.state().notice(), Some("Opening was canceled."));
    h.get_by_label("Opening was canceled.");
}

#[test]
fn file_open_dialog_opens_a_typed_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "typed.rtt", &Synthetic::default().bytes());
    let mut h = harness(None);
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label_contains("Open…").click();
    h.run_steps(10);
    let edit = h.get_by_role(egui::Role::TextInput);
    edit.type_text(&path.display().to_string());
    h.run_steps(2);
    h.get_by_label("Open").click();
    h.run_steps(1);
    wait_opened(&mut h);
    assert_eq!(h.state().trace_view().unwrap().trace.path, path);
}

/// Steps until the export window's job is done.
fn wait_exported(h: &mut Harness<'_, ViewerApp>) {
    wait_for(h, "the export", |a| {
        a.trace_view()
            .and_then(|s| s.export.as_ref())
            .is_none_or(|e| e.job.is_none())
    });
}

#[test]
fn file_export_writes_perfetto_json_of_the_whole_trace_or_the_visible_range() {
    use trace_viewer::app::{export, menu};
    let s = Synthetic::default();
    let (dir, mut h) = open(&s);
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label(menu::EXPORT_MENU).click();
    h.run_steps(10);
    h.get_by_label(export::TITLE);
    // It proposes the trace's name with .json.
    let want = dir.path().join("synthetic.json");
    let state = h.state().trace_view().unwrap().export.as_ref().unwrap();
    assert_eq!(PathBuf::from(&state.path), want);
    h.get_by_label(export::EXPORT).click();
    h.run_steps(1);
    wait_exported(&mut h);
    h.get_by_label_contains("open it in ui.perfetto.dev");
    let whole: serde_json::Value = serde_json::from_slice(&std::fs::read(&want).unwrap()).unwrap();
    let slices = |v: &serde_json::Value| {
        v["traceEvents"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["ph"] == "X")
            .count()
    };

    // Now only the first round of polls: fewer slices.
    h.state_mut()
        .trace_view_mut()
        .unwrap()
        .view
        .fit_to(trace_analysis::model::Span::new(0, s.round_start(0, 1)));
    h.run_steps(2);
    h.get_by_label_contains("Only what overlaps the visible range")
        .click();
    h.run_steps(2);
    h.get_by_label(export::EXPORT).click();
    h.run_steps(1);
    wait_exported(&mut h);
    let part: serde_json::Value = serde_json::from_slice(&std::fs::read(&want).unwrap()).unwrap();
    assert!(slices(&part) > 0);
    assert!(
        slices(&part) < slices(&whole),
        "{} vs {}",
        slices(&part),
        slices(&whole)
    );
    h.get_by_label("Close").click();
    h.run_steps(2);
    assert!(h.state().trace_view().unwrap().export.is_none());
}

#[test]
fn the_tasks_table_sorts_filters_and_leads_to_the_timeline() {
    use trace_viewer::app::TAB_TASKS;
    use trace_viewer::app::tasks::table::Column;
    use trace_viewer::app::trace_view::Tab;
    // Groups of 4, 3 and 3 tasks, and the blocking task alone (it runs longest).
    let s = Synthetic {
        tasks: 10,
        ..Synthetic::default()
    };
    let (_dir, mut h) = open(&s);
    h.get_by_label(TAB_TASKS).click();
    wait_for(&mut h, "the breakdown", |a| {
        a.trace_view().is_some_and(|s| !s.tasks.rows.is_empty())
    });
    // By running time, largest first: the 4-task group, then the 3-task groups, then the
    // spawn_blocking task alone.
    let y = |h: &Harness<'_, ViewerApp>, label: &str| h.get_by_label(label).rect().top();
    let blocking = "spawn_blocking <unknown location>";
    let (a, b) = ("src/service.rs:10:5", "src/service.rs:20:5");
    assert!(y(&h, a) < y(&h, b) && y(&h, b) < y(&h, blocking));
    // Clicking the sorted column reverses it.
    h.get_by_label(&format!("{} v", Column::Running.title()))
        .click();
    h.run_steps(2);
    assert!(y(&h, blocking) < y(&h, b) && y(&h, b) < y(&h, a));
    // By task count, most first.
    h.get_by_label(Column::Tasks.title()).click();
    h.run_steps(2);
    assert_eq!(
        h.state().trace_view().unwrap().tasks.table.sort,
        Column::Tasks
    );
    assert!(y(&h, a) < y(&h, b) && y(&h, b) < y(&h, blocking));
    h.get_by_label(&format!("{} v", Column::Tasks.title()))
        .click();
    h.run_steps(2);
    assert!(y(&h, blocking) < y(&h, a));
    // Filter.
    h.get_by_role(egui::Role::TextInput).focus();
    h.run_steps(1);
    h.get_by_role(egui::Role::TextInput).type_text("30:5");
    h.run_steps(3);
    assert!(h.query_by_label("src/service.rs:10:5").is_none());
    h.get_by_label("src/service.rs:30:5").click();
    h.run_steps(3);
    let tv = h.state().trace_view().unwrap();
    assert_eq!(tv.tab, Tab::Timeline);
    let g = tv
        .trace
        .groups
        .iter()
        .position(|g| g.label == "src/service.rs:30:5")
        .unwrap();
    assert!(!tv.timeline.collapsed[g]);
    // Its header lane is in view.
    assert!(
        tv.timeline
            .scene
            .lanes
            .iter()
            .any(|&(i, _)| tv.timeline.lanes.lanes[i].kind == LaneKind::Group(g))
    );
}

#[test]
fn the_mmu_view_lists_worst_windows_that_jump_into_the_timeline() {
    use trace_viewer::app::TAB_MMU;
    use trace_viewer::app::trace_view::Tab;
    let s = Synthetic::default();
    let (_dir, mut h) = open(&s);
    h.get_by_label(TAB_MMU).click();
    wait_for(&mut h, "the MMU curves", |a| {
        a.trace_view().is_some_and(|s| s.mmu.curves.get().is_some())
    });
    h.get_by_label_contains("mean utilization");
    h.get_by_label("10 µs").click();
    h.run_steps(3);
    h.get_by_label_contains("Worst 10 µs windows");
    // The worst one is inside the process-wide pause: utilization 0.
    let pause = h.state().trace_view().unwrap().trace.paused[0];
    let worst = h.state().trace_view().unwrap().mmu.view.worst[0];
    assert_eq!(worst.utilization, 0.0);
    assert!(
        worst.start >= pause.start && worst.end <= pause.end,
        "{worst:?} in {pause:?}"
    );
    h.get_by_label(&format!(
        "at {}: utilization 0.0%",
        trace_viewer::app::mmu::panel::window_start(worst.start, 10_000)
    ))
    .click();
    h.run_steps(3);
    let tv = h.state().trace_view().unwrap();
    assert_eq!(tv.tab, Tab::Timeline);
    let v = tv.view.time;
    assert!(
        v.start <= worst.start as f64 && v.end >= worst.end as f64,
        "{v:?}"
    );
    assert!(v.span() < 2.0 * (worst.end - worst.start) as f64, "{v:?}");
    // The pause overlay is on screen.
    assert!(!tv.timeline.scene.overlays.is_empty());
}

#[test]
fn dragging_on_the_time_axis_selects_a_range_and_sums_it() {
    use trace_viewer::app::timeline::panel::AXIS_LABEL;
    let s = Synthetic::default();
    let (_dir, mut h) = open(&s);
    let axis = h.get_by_label(AXIS_LABEL).rect();
    let area = h.state().trace_view().unwrap().timeline.scene.area;
    let v0 = view(&h);
    let (a, b) = (
        Pos2::new(area.left() + area.width() * 0.2, axis.center().y),
        Pos2::new(area.left() + area.width() * 0.6, axis.center().y),
    );
    h.event(Event::PointerMoved(a));
    h.drag_at(a);
    for i in 1..=4 {
        h.event(Event::PointerMoved(a + (b - a) * (i as f32 / 4.0)));
    }
    h.drop_at(b);
    h.run_steps(2);
    let range = h.state().trace_view().unwrap().view.range.expect("a range");
    let t = |p: Pos2| v0.time_at(p.x, area.left(), area.width());
    assert!(
        (range.start as f64 - t(a)).abs() <= 1.0 + v0.span() * 1e-9,
        "{range:?}"
    );
    assert!(
        (range.end as f64 - t(b)).abs() <= 1.0 + v0.span() * 1e-9,
        "{range:?}"
    );
    // The view did not move, and the details panel sums the range.
    assert!(close(view(&h).start, v0.start));
    wait_for(&mut h, "the range summary", |a| {
        a.trace_view()
            .and_then(|s| match &s.details.range {
                trace_viewer::app::jobs::Lazy::Ready(Ok(r)) => Some(r.span == range),
                _ => None,
            })
            .unwrap_or(false)
    });
    h.get_by_label(details::RANGE_HEADING);
    h.get_by_label_contains("tasks alive in it");
    // F fits it; Esc clears it.
    h.key_press(Key::F);
    h.run_steps(2);
    let v = view(&h);
    assert!(v.start <= range.start as f64 && v.end >= range.end as f64);
    assert!(v.span() < range.len() as f64 * 1.1, "{v:?}");
    h.key_press(Key::Escape);
    h.run_steps(2);
    assert!(h.state().trace_view().unwrap().view.range.is_none());
    assert!(h.query_by_label(details::RANGE_HEADING).is_none());
}

#[test]
fn shift_drag_on_the_lanes_selects_a_range_instead_of_panning() {
    let (_dir, mut h) = open(&Synthetic::default());
    let v0 = view(&h);
    let area = h.state().trace_view().unwrap().timeline.scene.area;
    let a = lanes_center(&h);
    let b = a + vec2(150.0, 0.0);
    h.event(Event::ModifiersChanged(Modifiers::SHIFT));
    h.event(Event::PointerMoved(a));
    h.event(Event::PointerButton {
        pos: a,
        button: PointerButton::Primary,
        pressed: true,
        modifiers: Modifiers::SHIFT,
    });
    for i in 1..=3 {
        h.event(Event::PointerMoved(a + vec2(50.0 * i as f32, 0.0)));
    }
    h.event(Event::PointerButton {
        pos: b,
        button: PointerButton::Primary,
        pressed: false,
        modifiers: Modifiers::SHIFT,
    });
    h.event(Event::ModifiersChanged(Modifiers::NONE));
    h.run_steps(2);
    assert!(close(view(&h).start, v0.start), "no pan");
    let range = h.state().trace_view().unwrap().view.range.expect("a range");
    let want = 150.0 / f64::from(area.width()) * v0.span();
    assert!(
        (range.len() as f64 - want).abs() < want * 0.05 + 2.0,
        "{range:?} vs {want}"
    );
}

#[test]
fn a_location_clicked_in_the_tasks_tab_keeps_the_workers_in_view() {
    use trace_viewer::app::TAB_TASKS;
    // Enough tasks (groups expanded) that the last group's header is pages below the workers.
    let s = Synthetic {
        tasks: 90,
        ..Synthetic::default()
    };
    let (_dir, mut h) = open(&s);
    h.state_mut()
        .trace_view_mut()
        .unwrap()
        .set_all_collapsed(false);
    h.get_by_label(TAB_TASKS).click();
    wait_for(&mut h, "the breakdown", |a| {
        a.trace_view().is_some_and(|s| !s.tasks.rows.is_empty())
    });
    h.get_by_label("spawn_blocking <unknown location>").click();
    h.run_steps(3);
    let tv = h.state().trace_view().unwrap();
    assert!(tv.view.scroll_y > 0.0, "the lanes scrolled to the group");
    let shown: Vec<LaneKind> = tv
        .timeline
        .scene
        .lanes
        .iter()
        .map(|&(i, _)| tv.timeline.lanes.lanes[i].kind)
        .collect();
    let g = tv
        .trace
        .groups
        .iter()
        .position(|g| g.label == "spawn_blocking <unknown location>")
        .unwrap();
    assert!(shown.contains(&LaneKind::Group(g)), "{shown:?}");
    for w in tv.trace.model.workers() {
        assert!(
            shown.contains(&LaneKind::Thread(w)),
            "worker {w:?}: {shown:?}"
        );
    }
}

#[test]
fn the_lanes_menu_shows_only_tasks_active_in_view_and_unpins() {
    let (_dir, mut h) = open(&Synthetic::default());
    let tasks = |h: &Harness<'_, ViewerApp>| {
        let tl = &h.state().trace_view().unwrap().timeline;
        tl.lanes
            .lanes
            .iter()
            .filter(|l| matches!(l.kind, LaneKind::Task { .. }))
            .count()
    };
    let all = tasks(&h);
    // Zoom in far around the middle: a few polls in view.
    for _ in 0..12 {
        h.key_press(Key::W);
    }
    h.run_steps(2);
    assert_eq!(tasks(&h), all);
    h.get_by_label(timeline::LANES_MENU).click();
    h.run_steps(2);
    h.get_by_label(timeline::ACTIVE_ONLY_LABEL).click();
    h.run_steps(3);
    let v = view(&h);
    let tv = h.state().trace_view().unwrap();
    let polled: std::collections::BTreeSet<_> = tv
        .trace
        .model
        .polls
        .iter()
        .filter(|p| (p.start as f64) < v.end && (p.end as f64) > v.start)
        .map(|p| p.task)
        .collect();
    assert!(tasks(&h) < all, "{} of {all}", tasks(&h));
    assert_eq!(tasks(&h), polled.len());
    // Unpinned, the lanes are in thread order again: nothing pinned.
    assert!(tv.timeline.lanes.pinned > 0);
    if h.query_by_label(timeline::PIN_LABEL).is_none() {
        h.get_by_label(timeline::LANES_MENU).click();
        h.run_steps(2);
    }
    h.get_by_label(timeline::PIN_LABEL).click();
    h.run_steps(3);
    assert_eq!(h.state().trace_view().unwrap().timeline.lanes.pinned, 0);
}

#[test]
fn dragging_the_lane_names_border_resizes_the_column_and_does_not_pan() {
    let (_dir, mut h) = open(&Synthetic::default());
    h.key_press(Key::W);
    h.run_steps(2);
    let v0 = view(&h);
    let left0 = h.state().trace_view().unwrap().timeline.scene.area.left();
    // The border, half-way down the lanes.
    let a = Pos2::new(left0, lanes_center(&h).y);
    h.event(Event::PointerMoved(a));
    h.drag_at(a);
    for i in 1..=4 {
        h.event(Event::PointerMoved(a + vec2(30.0 * i as f32, 0.0)));
    }
    h.drop_at(a + vec2(120.0, 0.0));
    h.run_steps(2);
    let tv = h.state().trace_view().unwrap();
    let left1 = tv.timeline.scene.area.left();
    assert!(
        (left1 - left0 - 120.0).abs() < 2.0,
        "the lanes start at {left0} then {left1}"
    );
    assert_eq!(view(&h), v0, "the timeline did not pan");
    assert!(tv.view.selection.is_none());
}

#[test]
fn hovering_the_lanes_shows_the_whole_time_there_on_the_axis() {
    let (_dir, mut h) = open(&Synthetic::default());
    for _ in 0..6 {
        h.key_press(Key::W);
    }
    h.run_steps(2);
    let p = lanes_center(&h) + vec2(37.0, 0.0);
    h.event(Event::PointerMoved(p));
    h.run_steps(2);
    let tv = h.state().trace_view().unwrap();
    let (x, text) = tv
        .timeline
        .pointer_time
        .clone()
        .expect("a time on the axis");
    assert_eq!(x, p.x);
    let area = tv.timeline.scene.area;
    let v = view(&h);
    let t = v.time_at(p.x, area.left(), area.width());
    // The whole time since the trace start, to about a point: no `+` offset.
    let want = trace_viewer::app::axis::pointer_time(&v, t, area.width());
    assert_eq!(text, want);
    assert!(!text.starts_with('+'));
    let (num, _) = text.split_once(' ').unwrap();
    assert!(num.parse::<f64>().is_ok(), "{text}");
    // Off the lanes: none.
    h.event(Event::PointerMoved(Pos2::new(2.0, area.bottom() - 2.0)));
    h.run_steps(2);
    assert!(
        h.state()
            .trace_view()
            .unwrap()
            .timeline
            .pointer_time
            .is_none()
    );
}

#[test]
fn a_thread_whose_data_ends_early_is_marked_and_its_tasks_states_stop_there() {
    use trace_analysis::analysis::states::{TaskState, for_each_segment, thread_data_end};
    let dir = tempfile::tempdir().unwrap();
    let mut b = Synthetic::default().build();
    b.chunk_capacity = 256;
    let bytes = b.to_bytes();
    // Cut off the last chunks: some thread's data ends before the others'.
    let path = write(dir.path(), "cut.rtt", &bytes[..bytes.len() * 3 / 4]);
    let mut h = harness(Some(path));
    wait_opened(&mut h);
    h.run_steps(2);
    let tv = h.state().trace_view().expect("a cut trace still opens");
    let model = &tv.trace.model;
    let (thread, end) = model
        .thread_ixs()
        .find_map(|t| Some((t, thread_data_end(model, t)?)))
        .expect("a thread's data ends early");
    assert!(end < model.end);
    // Its lane is marked where the data ends.
    assert!(
        tv.timeline
            .scene
            .items
            .iter()
            .any(|i| i.hit == Hit::DataEnds { thread, time: end }),
        "no mark on {thread:?} at {end}"
    );
    // A task it polled last, alive after that: no data from there, no wait.
    let task = (0..model.tasks.len() as u32)
        .map(trace_analysis::model::TaskIx)
        .find(|&t| {
            model
                .task_polls(t)
                .last()
                .is_some_and(|p| p.thread() == thread)
                && model.tasks[t.index()].lifetime(model.end).end > end
        })
        .expect("a task last polled there");
    // Known up to its last wake at most (one may come from another thread); process-wide
    // pauses, known from the other threads, are still carved out of the rest.
    let known = model
        .task_wakes(task)
        .last()
        .map_or(end, |w| w.time.max(end));
    let mut after = vec![];
    for_each_segment(model, task, &tv.trace.paused, |s| {
        if s.span.end > known {
            after.push(s);
        }
    });
    assert!(after[0].span.start <= known, "{after:?}");
    assert!(
        after
            .iter()
            .all(|s| matches!(s.state, TaskState::NoData | TaskState::Paused)),
        "{after:?}"
    );
    assert!(after.iter().any(|s| s.state == TaskState::NoData));
}
