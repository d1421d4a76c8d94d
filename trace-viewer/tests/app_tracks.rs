//! The window's counter, region and log lanes, search, wake arrows, recent files and the
//! MMU options, driven headless with egui_kittest (no display, no GPU).

use std::path::PathBuf;

use egui::{Event, Pos2, vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use trace_analysis::synthetic::Synthetic;
use trace_viewer::app::ViewerApp;
use trace_viewer::app::timeline::lanes::LaneKind;
use trace_viewer::app::timeline::tooltip::describe_counter;

mod common;
use common::*;

/// Rests the pointer at `pos` until the tooltip shows (egui waits a moment).
fn hover(h: &mut Harness<'_, ViewerApp>, pos: Pos2) {
    h.event(Event::PointerMoved(pos));
    for _ in 0..60 {
        h.step();
    }
}

/// The synthetic trace with counters, regions and logs.
fn rich() -> Synthetic {
    Synthetic {
        sample_ns: 20_000,
        regions_every: 2,
        ..Synthetic::default()
    }
}

#[test]
fn counter_lanes_show_each_series_with_its_value_under_the_pointer() {
    let (_dir, mut h) = open(&rich());
    let tv = h.state().trace_view().unwrap();
    let tracks = &tv.trace.counters;
    assert_eq!(
        tracks.len(),
        8,
        "heap, rate, global, 2 workers, alive, blocking, user"
    );
    // Every counter lane is drawn, with columns, under its header.
    assert_eq!(tv.timeline.scene.counters.len(), tracks.len());
    for lane in &tv.timeline.scene.counters {
        assert!(!lane.columns.is_empty(), "{}", tracks[lane.track].label);
        assert!(lane.columns.len() <= lane.rect.width() as usize + 1);
        assert!(lane.scale.1 > lane.scale.0);
    }
    // The global queue (0..=4) is scaled to its visible max.
    let global = tv
        .timeline
        .scene
        .counters
        .iter()
        .find(|c| tracks[c.track].label == "global queue")
        .unwrap()
        .clone();
    assert_eq!(global.scale, (0.0, 4.0));
    // Hovering it tells the value at the pointer's time.
    let pos = Pos2::new(
        global.rect.left() + global.rect.width() * 0.4,
        global.rect.center().y,
    );
    hover(&mut h, pos);
    let tv = h.state().trace_view().unwrap();
    let (track, t) = tv.timeline.scene.counter_at(pos).unwrap();
    assert_eq!(track, global.track);
    let lines = describe_counter(&tv.trace, track, t);
    h.get_by_label("global queue");
    h.get_by_label(&lines[1]);

    // Clicking the header folds the counters away.
    let header = tv
        .timeline
        .scene
        .lanes
        .iter()
        .find(|&&(i, _)| tv.timeline.lanes.lanes[i].kind == LaneKind::CounterHeader)
        .unwrap()
        .1;
    click(&h, Pos2::new(header.left() - 100.0, header.center().y));
    h.run_steps(3);
    let tv = h.state().trace_view().unwrap();
    assert!(tv.timeline.sections.counters_collapsed);
    assert!(tv.timeline.scene.counters.is_empty());
    assert!(
        !tv.timeline
            .lanes
            .lanes
            .iter()
            .any(|l| matches!(l.kind, LaneKind::Counter(_)))
    );
}

#[test]
fn regions_and_logs_have_a_lane_under_their_thread_with_tooltips() {
    use trace_analysis::synthetic::{LOG_MESSAGE, LOG_TARGET, REGION_INNER, REGION_OUTER};
    use trace_viewer::app::timeline::scene::Hit;
    let s = rich();
    let (_dir, mut h) = open(&s);
    // Each worker's lane is followed by its regions lane.
    let tv = h.state().trace_view().unwrap();
    let kinds: Vec<LaneKind> = tv.timeline.lanes.lanes.iter().map(|l| l.kind).collect();
    for w in tv.trace.model.workers() {
        let i = kinds
            .iter()
            .position(|&k| k == LaneKind::Thread(w))
            .unwrap();
        assert_eq!(kinds[i + 1], LaneKind::Regions(w));
    }
    // Zoom to the first round: regions are wide enough to show apart, and labelled.
    h.state_mut()
        .trace_view_mut()
        .unwrap()
        .view
        .fit_to(trace_analysis::model::Span::new(0, s.round_start(0, 1)));
    h.run_steps(2);
    let tv = h.state().trace_view().unwrap();
    let region = |name: &str| {
        tv.timeline.scene.items.iter().find(|i| match i.hit {
            Hit::Region { thread, region } => {
                let r = &tv.trace.model.threads[thread.index()].regions[region as usize];
                tv.trace.model.string(r.name) == name
            }
            _ => false,
        })
    };
    let outer = region(REGION_OUTER).expect("an outer region").clone();
    let inner = region(REGION_INNER).expect("an inner region").clone();
    // The nested one is drawn one row lower, inside the outer one's time.
    assert!(inner.rect.top() > outer.rect.top());
    assert!(
        tv.timeline
            .scene
            .labels
            .iter()
            .any(|l| l.text == REGION_OUTER)
    );
    let log = tv
        .timeline
        .scene
        .items
        .iter()
        .find(|i| matches!(i.hit, Hit::Logs { count: 1, .. }))
        .expect("a log marker")
        .clone();
    assert!(log.rect.top() > inner.rect.top());

    hover(&mut h, outer.rect.center());
    h.get_by_label(&format!("region {REGION_OUTER}"));
    hover(&mut h, log.rect.center());
    h.get_by_label(&format!("INFO {LOG_TARGET}: {LOG_MESSAGE}"));
    // Clicking a region selects the task it ran in.
    click(&h, outer.rect.center());
    h.run_steps(2);
    let tv = h.state().trace_view().unwrap();
    let Hit::Region { thread, region } = outer.hit else {
        unreachable!()
    };
    let task = tv.trace.model.threads[thread.index()].regions[region as usize].task;
    assert_eq!(tv.view.selection.and_then(|s| s.task()), Some(task));
}

#[test]
fn slash_opens_search_and_enter_jumps_to_each_match() {
    use egui::Key;
    use trace_viewer::app::search::bar;
    use trace_viewer::app::search::matches::Found;
    let s = rich();
    let (_dir, mut h) = open(&s);
    assert!(h.query_by_label(bar::BOX_LABEL).is_none());
    h.key_press(Key::Slash);
    h.run_steps(3);
    let tv = h.state().trace_view().unwrap();
    assert!(
        tv.search.open && tv.search.text.is_empty(),
        "no '/' typed in"
    );
    h.get_by_label(bar::BOX_LABEL);
    // Tasks spawned at line 20 (2, 5, 8, 11): the keyboard is in the box already.
    h.get_by_role(egui::Role::TextInput)
        .type_text("service.rs:20");
    h.run_steps(2);
    h.get_by_label_contains("4 matches (4 tasks, 0 regions)");
    let mut seen = Vec::new();
    for _ in 0..4 {
        h.key_press(Key::Enter);
        h.run_steps(2);
        let tv = h.state().trace_view().unwrap();
        let Some(Found::Task(task)) = tv.search.current else {
            panic!("a task is shown: {:?}", tv.search.current)
        };
        // Selected, its lane in view, the view on its lifetime.
        assert_eq!(tv.view.selection.and_then(|s| s.task()), Some(task));
        assert!(
            tv.timeline.scene.lanes.iter().any(|&(i, _)| matches!(
                tv.timeline.lanes.lanes[i].kind,
                LaneKind::Task { task: t, .. } if t == task
            )),
            "the task's lane is drawn"
        );
        let life = tv.trace.model.tasks[task.index()].lifetime(tv.trace.model.end);
        let v = tv.view.time;
        assert!(v.start <= life.start as f64 && v.end >= life.end as f64);
        assert!(v.span() < life.len() as f64 * 1.1);
        seen.push(tv.trace.model.tasks[task.index()].id.0);
    }
    assert_eq!(seen, [2, 5, 8, 11], "in time order");
    h.get_by_label_contains("showing task src/service.rs:20:5 #11");
    // Shift + Enter goes back.
    h.event(Event::Key {
        key: Key::Enter,
        physical_key: None,
        pressed: true,
        repeat: false,
        modifiers: egui::Modifiers::SHIFT,
    });
    h.run_steps(2);
    h.get_by_label_contains("showing task src/service.rs:20:5 #8");

    // A region name: the view zooms to the region, on its thread's lane.
    let edit = h.get_by_role(egui::Role::TextInput);
    edit.focus();
    h.run_steps(1);
    h.state_mut().trace_view_mut().unwrap().search.text.clear();
    h.get_by_role(egui::Role::TextInput)
        .type_text(trace_analysis::synthetic::REGION_INNER);
    h.run_steps(2);
    h.key_press(Key::Enter);
    h.run_steps(2);
    let tv = h.state().trace_view().unwrap();
    let Some(Found::Region { thread, region }) = tv.search.current else {
        panic!("a region is shown")
    };
    let r = tv.trace.model.threads[thread.index()].regions[region as usize];
    let v = tv.view.time;
    assert!(v.start <= r.span.start as f64 && v.end >= r.span.end as f64);
    assert!(v.span() < r.span.len() as f64 * 1.1);
    // Esc closes the bar.
    h.key_press(Key::Escape);
    h.run_steps(2);
    assert!(!h.state().trace_view().unwrap().search.open);
}

#[test]
fn a_clicked_poll_shows_who_woke_it_with_an_arrow_and_a_link_to_the_waker() {
    use trace_analysis::model::{Span, TaskIx};
    use trace_viewer::app::details::panel as details;
    use trace_viewer::app::details::wake::wake_before_poll;
    use trace_viewer::app::timeline::scene::Hit;
    let s = Synthetic::default();
    let (_dir, mut h) = open(&s);
    // A poll readied by another task.
    let tv = h.state().trace_view().unwrap();
    let (poll, wake) = (0..tv.trace.model.polls.len() as u32)
        .find_map(|p| {
            let w = wake_before_poll(&tv.trace, p)?;
            (w.waker != TaskIx::NONE).then_some((p, w))
        })
        .expect("a poll woken by a task");
    let p = tv.trace.model.polls[poll as usize];
    let waker_label = tv.trace.model.task_label(wake.waker);
    h.state_mut()
        .trace_view_mut()
        .unwrap()
        .view
        .fit_to(Span::new(wake.time - 30_000, p.end + 30_000));
    h.run_steps(2);
    let tv = h.state().trace_view().unwrap();
    let rect = tv
        .timeline
        .scene
        .items
        .iter()
        .find(|i| i.hit == Hit::Poll(poll))
        .expect("the poll is drawn")
        .rect;
    assert!(
        tv.timeline.scene.arrow.is_none(),
        "no arrow before a selection"
    );
    click(&h, rect.center());
    h.run_steps(2);
    let tv = h.state().trace_view().unwrap();
    assert_eq!(tv.details.poll.as_ref().unwrap().woken, Some(wake));
    // The arrow runs from the wake, on its thread's lane, to the poll's start.
    let arrow = tv.timeline.scene.arrow.expect("an arrow");
    let x = |t: u64| tv.timeline.scene.xmap.x(t);
    assert!((arrow.from.x - x(wake.time)).abs() < 0.5, "{arrow:?}");
    assert!((arrow.to.x - x(p.start)).abs() < 0.5, "{arrow:?}");
    assert!((arrow.to.y - rect.center().y).abs() < tv.timeline.lanes.lanes[0].height / 2.0);
    h.get_by_label(details::WOKEN_BY);
    // The link selects the waker.
    h.get_by_label(&waker_label).click();
    h.run_steps(2);
    let tv = h.state().trace_view().unwrap();
    assert_eq!(tv.view.selection.and_then(|s| s.task()), Some(wake.waker));
}

#[test]
fn opened_files_are_remembered_in_the_recent_list_across_restarts() {
    use trace_viewer::app::AppOptions;
    use trace_viewer::app::menu;
    let dir = tempfile::tempdir().unwrap();
    let recent_file = dir.path().join("config/trace-viewer/recent");
    let (a, b) = (
        write(dir.path(), "a.rtt", &Synthetic::default().bytes()),
        write(dir.path(), "b.rtt", &Synthetic::default().bytes()),
    );
    let start = |path: Option<PathBuf>| {
        let recent_file = recent_file.clone();
        let mut h = Harness::builder()
            .with_size(vec2(1400.0, 900.0))
            .build_eframe(move |cc| {
                ViewerApp::with_options(
                    &cc.egui_ctx,
                    path,
                    AppOptions {
                        recent_file: Some(recent_file),
                        native_dialog: false,
                    },
                )
            });
        wait_for(&mut h, "the trace", |a| !a.is_opening());
        h
    };
    drop(start(Some(a.clone())));
    let mut h = start(Some(b.clone()));
    assert_eq!(h.state().recent().entries(), [b.clone(), a.clone()]);
    let text = std::fs::read_to_string(&recent_file).unwrap();
    assert_eq!(text, format!("{}\n{}\n", b.display(), a.display()));

    // File > Open Recent > a.rtt opens it, and it moves to the top.
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label(menu::OPEN_RECENT).hover();
    h.run_steps(4);
    h.get_by_label(&menu::recent_label(&a)).click();
    h.run_steps(1);
    wait_for(&mut h, "the recent trace", |app| {
        !app.is_opening() && app.trace_view().is_some_and(|s| s.trace.path == a)
    });
    assert_eq!(h.state().recent().entries(), [a.clone(), b.clone()]);

    // A damaged list file: the window still starts, with what can be read.
    std::fs::write(&recent_file, b"\xff\xfe garbage\nnot/absolute\n").unwrap();
    let h = start(None);
    assert!(h.state().recent().entries().is_empty());
    h.get_by_label("Open a trace…");
}

#[test]
fn the_mmu_view_toggles_per_worker_curves_and_the_responsiveness_mode() {
    use trace_viewer::app::TAB_MMU;
    use trace_viewer::app::mmu::panel;
    // Polls of 200 µs, no pause: only long polls can lower the utilization.
    let s = Synthetic {
        poll_ns: 200_000,
        pauses: false,
        ..Synthetic::default()
    };
    let (_dir, mut h) = open(&s);
    h.get_by_label(TAB_MMU).click();
    let ready = |a: &ViewerApp| a.trace_view().is_some_and(|s| s.mmu.curves.get().is_some());
    wait_for(&mut h, "the MMU curves", ready);
    let plain = h
        .state()
        .trace_view()
        .unwrap()
        .mmu
        .curves
        .get()
        .unwrap()
        .clone();
    assert_eq!(plain.long_poll, None);
    assert_eq!(plain.mmu[0], 1.0);
    // Per worker: a checkbox that shows each worker's curve.
    assert!(!h.state().trace_view().unwrap().mmu.view.per_worker);
    h.get_by_label("per worker").click();
    h.run_steps(2);
    assert!(h.state().trace_view().unwrap().mmu.view.per_worker);
    // Responsiveness: polls longer than 100 µs count as unavailable.
    h.get_by_label(&panel::threshold_label(100_000)).click();
    h.run_steps(1);
    wait_for(&mut h, "the responsiveness curves", ready);
    let strict = h
        .state()
        .trace_view()
        .unwrap()
        .mmu
        .curves
        .get()
        .unwrap()
        .clone();
    assert_eq!(strict.long_poll, Some(100_000));
    assert!(strict.mean < plain.mean);
    assert_eq!(strict.mmu[0], 0.0);
    h.get_by_label_contains("(polls > 100 µs count as unavailable)");
    // Off again.
    h.get_by_label(panel::RESPONSIVENESS).click();
    h.run_steps(1);
    wait_for(&mut h, "the plain curves", ready);
    assert_eq!(
        h.state()
            .trace_view()
            .unwrap()
            .mmu
            .curves
            .get()
            .unwrap()
            .long_poll,
        None
    );
}
