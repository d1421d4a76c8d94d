//! The window walkthrough of `examples/README.md`, driven headless: each of the five problem
//! examples records its trace here (the service from the examples' library, briefly), the
//! trace opens in the window, the test performs the steps the README's "In the window" part
//! describes for it, and the culprit's label is on screen — the spawn location of the tasks
//! to blame (or the pause kind) and, where the problem is in one function, that function,
//! named by the compiler (`Recorded::culprit_function`), not typed here.
//!
//! Each service records 0.5 s (the leak 1.5 s: the window calls a task stuck after 1 s of
//! waiting), as `examples/tests/problems.rs` does; the assertions are on what the window
//! shows first after a sort, never on timings. About 15 s in all on a loaded 2-core machine.

use std::sync::{Mutex, MutexGuard};

use egui::{Key, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use trace_rt_examples::problems::{self, Args, Problem, Recorded};
use trace_viewer::app::flame::panel::{ROW_HEIGHT, node_name};
use trace_viewer::app::tasks::SubView;
use trace_viewer::app::tasks::panel::{FLAME_LINK, HISTOGRAM_TITLE};
use trace_viewer::app::tasks::table::Column;
use trace_viewer::app::trace_view::Tab;
use trace_viewer::app::{TAB_MMU, ViewerApp};

mod common;
use common::*;

// `alloc_pressure` needs allocator data (a library cannot install the wrapper).
#[global_allocator]
static ALLOC: trace_rt::TracingAllocator<std::alloc::System> =
    trace_rt::TracingAllocator::new(std::alloc::System);

/// The recorder is process-global: the tests take turns.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records `problem` for `seconds` and opens its trace in a window of the size the window
/// opens at on a 1600×1000 screen.
fn record_and_open(
    problem: &Problem,
    seconds: f64,
) -> (tempfile::TempDir, Recorded, Harness<'static, ViewerApp>) {
    let _turn = serial();
    let dir = tempfile::tempdir().unwrap();
    let args = Args::new(dir.path().join(format!("{}.rtt", problem.name)), seconds);
    let recorded = (problem.run)(&args).expect("the service records");
    println!("{}: {}", problem.name, recorded.symptom);
    let mut h = Harness::builder()
        .with_size(egui::vec2(1440.0, 900.0))
        .build_eframe({
            let path = recorded.trace.clone();
            move |cc| ViewerApp::new(&cc.egui_ctx, Some(path))
        });
    wait_opened(&mut h);
    assert!(h.state().trace_view().is_some(), "the trace opened");
    (dir, recorded, h)
}

/// Key `2`: the Tasks tab, once its table is computed.
fn tasks_tab(h: &mut Harness<'_, ViewerApp>) {
    h.key_press(Key::Num2);
    h.run_steps(2);
    assert_eq!(h.state().trace_view().unwrap().tab, Tab::Tasks);
    wait_for(h, "the task table", |a| {
        a.trace_view().is_some_and(|t| !t.tasks.rows.is_empty())
    });
}

/// Clicks the header of column `c` (largest first) and checks that the group `label` is the
/// table's first row: its poll-duration histogram is the one shown (the first row's, until a
/// row is clicked) and no other group's link is above it.
fn sort_by_and_find_first(h: &mut Harness<'_, ViewerApp>, c: Column, label: &str) {
    h.get_by_label(c.title()).click();
    h.run_steps(3);
    let tasks = &h.state().trace_view().unwrap().tasks;
    assert_eq!((tasks.table.sort, tasks.table.descending), (c, true));
    h.get_by_label(&format!("{HISTOGRAM_TITLE} {label}"));
    let top = h.get_by_label(label).rect().top();
    for r in &h.state().trace_view().unwrap().tasks.rows {
        if r.label != label
            && let Some(other) = h.query_by_label(&r.label)
        {
            assert!(
                other.rect().top() > top,
                "{} is above {label} sorted by {}",
                r.label,
                c.title()
            );
        }
    }
}

/// The `flame` button on the row of group `label`: its flame graph, of the samples of
/// `kind` (the toolbar's button named so), once drawn.
fn flame_of_group(h: &mut Harness<'_, ViewerApp>, label: &str, kind: &str) {
    let row = h.get_by_label(label).rect().center().y;
    let button = h
        .get_all_by_label(FLAME_LINK)
        .find(|b| (b.rect().center().y - row).abs() < 8.0)
        .unwrap_or_else(|| panic!("no flame button on the row of {label}"));
    button.click();
    h.run_steps(2);
    assert_eq!(h.state().trace_view().unwrap().tab, Tab::Flame);
    h.get_by_label(kind).click();
    h.run_steps(2);
    wait_for(h, "the flame graph", |a| {
        let f = &a.trace_view().unwrap().flame;
        f.ready().is_some() && f.area.is_some()
    });
}

/// The program's own source files (the examples crate's), as a frame's tooltip shows them.
const OWN_SOURCES: &str = "examples/src/";

/// Where each flame-graph frame of `function` the README's reading points to is, and its
/// name: following each tower down to its last frame in the program's own sources (the
/// tooltip shows a frame's file), the function whose such frames hold the most weight.
/// Returns that function's widest frame: `(node, depth, x0, x1)`.
fn culprit_frame(h: &Harness<'_, ViewerApp>) -> (u32, u32, f64, f64) {
    let f = &h.state().trace_view().unwrap().flame;
    let p = &f.ready().unwrap().profile;
    let layout = trace_analysis::analysis::flame::layout(p, f.zoom, 0.0);
    let own = |node: u32| {
        node != trace_analysis::analysis::flame::ROOT
            && p.function(p.node_frame(node).function)
                .file
                .as_deref()
                .is_some_and(|file| file.replace('\\', "/").contains(OWN_SOURCES))
    };
    let rects: Vec<_> = layout.rects.iter().filter(|r| own(r.node)).collect();
    // Each own frame's weight less that of the own frames below it: the time (or bytes)
    // whose last frame in the program is this one.
    let mut by_function: Vec<(&str, f64)> = Vec::new();
    for r in &rects {
        let below: f64 = rects
            .iter()
            .filter(|c| c.depth > r.depth && c.x0 >= r.x0 && c.x1 <= r.x1)
            .filter(|c| {
                // Nearest own frames only: none in between.
                !rects
                    .iter()
                    .any(|m| m.depth > r.depth && m.depth < c.depth && m.x0 <= c.x0 && c.x1 <= m.x1)
            })
            .map(|c| c.x1 - c.x0)
            .sum();
        let name = node_name(p, r.node);
        let w = (r.x1 - r.x0) - below;
        match by_function.iter_mut().find(|(n, _)| *n == name) {
            Some(e) => e.1 += w,
            None => by_function.push((name, w)),
        }
    }
    let (name, _) = by_function
        .iter()
        .copied()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .expect("frames of the program in the profile");
    let r = rects
        .iter()
        .filter(|r| node_name(p, r.node) == name)
        .max_by(|a, b| (a.x1 - a.x0).total_cmp(&(b.x1 - b.x0)))
        .unwrap();
    (r.node, r.depth, r.x0, r.x1)
}

/// Scrolls the flame graph to the culprit's frame ([`culprit_frame`]), hovers it and checks
/// that its tooltip names `recorded`'s culprit function.
fn hover_culprit_frame(h: &mut Harness<'_, ViewerApp>, recorded: &Recorded) {
    let culprit = recorded
        .culprit_function
        .as_ref()
        .expect("a culprit function");
    let (node, depth, x0, x1) = culprit_frame(h);
    let (name, file, line) = {
        let p = &h
            .state()
            .trace_view()
            .unwrap()
            .flame
            .ready()
            .unwrap()
            .profile;
        let frame = p.node_frame(node);
        let file = p.function(frame.function).file.clone();
        (node_name(p, node).to_string(), file, frame.line)
    };
    assert!(
        culprit.matches(&name, file.as_deref(), line),
        "the flame graph points to {name} ({file:?}:{line}), expected {culprit:?}"
    );
    // Deep stacks (tokio's frames first): scroll down until the frame is in view.
    let bottom = h.ctx.content_rect().bottom() - 40.0;
    let pos = |h: &Harness<'_, ViewerApp>| {
        let area = h.state().trace_view().unwrap().flame.area.unwrap();
        let x = area.left() + ((x0 + x1) / 2.0) as f32 * area.width();
        Pos2::new(x, area.top() + (depth as f32 + 0.5) * ROW_HEIGHT)
    };
    for _ in 0..100 {
        let at = pos(h);
        if at.y < bottom {
            break;
        }
        h.event(egui::Event::PointerMoved(Pos2::new(at.x, bottom)));
        h.event(egui::Event::MouseWheel {
            unit: egui::MouseWheelUnit::Point,
            delta: egui::vec2(0.0, -100.0),
            phase: egui::TouchPhase::Move,
            source: egui::MouseWheelSource::Unknown,
            modifiers: egui::Modifiers::NONE,
        });
        h.run_steps(2);
    }
    // Scrolling is animated: let it come to rest.
    h.run_steps(30);
    let at = pos(h);
    assert!(at.y < bottom, "{name} is below the window, at y = {}", at.y);
    h.event(egui::Event::PointerMoved(at));
    h.run_steps(40);
    // The tooltip: the function's name and where it is.
    h.get_by_label(&name);
    if let Some(file) = &file {
        h.get_by_label(&format!("{file}:{line}"));
    }
}

/// Problem 1 in the window: key `2`, sort by `max poll`: the audit tasks lead with 20 ms
/// polls; their `flame` button, `Stalled polls`: the widest frame of the program is the
/// function that blocks.
#[test]
fn blocking_in_async_walkthrough_finds_the_blocking_group_and_function() {
    let (_dir, r, mut h) = record_and_open(&problems::blocking::PROBLEM, 0.5);
    tasks_tab(&mut h);
    sort_by_and_find_first(&mut h, Column::MaxPoll, &r.culprit);
    flame_of_group(&mut h, &r.culprit, "Stalled polls");
    hover_culprit_frame(&mut h, &r);
}

/// Problem 2 in the window: key `4` (MMU) shows no utilization at short windows; key `2`,
/// sub-view `pauses`: the pause kind.
#[test]
fn stop_the_world_walkthrough_finds_the_pause_kind() {
    let (_dir, r, mut h) = record_and_open(&problems::pauses::PROBLEM, 0.5);
    h.key_press(Key::Num4);
    h.run_steps(2);
    assert_eq!(h.state().trace_view().unwrap().tab, Tab::Mmu);
    h.get_by_label(TAB_MMU);
    tasks_tab(&mut h);
    // `pauses (N)`, one row per kind and scope: N was 2 once on a loaded machine, so the
    // button is found by its name; the culprit's row must be there.
    h.get_by_label_contains(&format!("{} (", SubView::Pauses.title()))
        .click();
    h.run_steps(3);
    assert_eq!(
        h.state().trace_view().unwrap().tasks.sub_view,
        SubView::Pauses
    );
    h.get_all_by_label(&r.culprit)
        .next()
        .expect("the pause kind");
    h.get_all_by_label("process")
        .next()
        .expect("a process-wide pause");
}

/// Problem 3 in the window: key `2`, sort by `stalled`: the connections lead; their `flame`
/// button, `Stalled polls`: the widest frame of the program is the function that waits on the
/// lock.
#[test]
fn lock_contention_walkthrough_finds_the_contended_group_and_the_function_at_the_lock() {
    let (_dir, r, mut h) = record_and_open(&problems::contention::PROBLEM, 0.5);
    tasks_tab(&mut h);
    sort_by_and_find_first(&mut h, Column::Stalled, &r.culprit);
    flame_of_group(&mut h, &r.culprit, "Stalled polls");
    hover_culprit_frame(&mut h, &r);
}

/// Problem 4 in the window: key `2`: the warning above the table; sub-view `leak suspects`:
/// the growing group, with why; the shutdown listener apart.
#[test]
fn task_leak_walkthrough_finds_the_leaking_group() {
    let (_dir, r, mut h) = record_and_open(&problems::leak::PROBLEM, 1.5);
    tasks_tab(&mut h);
    h.get_by_label_contains("1 leak suspect(s)");
    h.get_by_label(&format!("{} (1)", SubView::LeakSuspects.title()))
        .click();
    h.run_steps(3);
    h.get_by_label(&format!("suspect: {}", r.culprit));
    h.get_by_label_contains("alive grew from 0 to ");
    assert_eq!(h.get_all_by_label_contains("suspect: ").count(), 1);
}

/// Problem 5 in the window: key `2`, sort by `allocated`: the page handlers lead; their
/// `flame` button, `Allocations`: the widest frame of the program is the function that
/// concatenates.
#[test]
fn alloc_pressure_walkthrough_finds_the_allocating_group_and_function() {
    let (_dir, r, mut h) = record_and_open(&problems::alloc::PROBLEM, 0.5);
    tasks_tab(&mut h);
    sort_by_and_find_first(&mut h, Column::Allocated, &r.culprit);
    flame_of_group(&mut h, &r.culprit, "Allocations");
    hover_culprit_frame(&mut h, &r);
}
