//! The window's Flame graph view, driven headless with egui_kittest: opened from its tab and
//! from the Tasks table, zoomed by a click, searched, and compared with a baseline.

use egui::{Event, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use trace_viewer::app::flame::panel::{ROW_HEIGHT, node_name};
use trace_viewer::app::flame::{FlameData, Scope};
use trace_viewer::app::trace_view::Tab;
use trace_viewer::app::{TAB_FLAME, TAB_TASKS, ViewerApp};

mod common;
use common::*;

/// Two tasks spawned at one place on one worker: task 1 burns CPU in `app::burn` (two
/// samples), task 2 sleeps in `std::thread::sleep` (one CPU sample, two stall samples).
const TRACE: &str = r#"
location id=1 file="src/server.rs" line=7 column=5
sampling cpu_method="perf_event" cpu_reason="" cpu_hz=100 stall_threshold_ns=40 max_frames=128 cpu_samples=3 stall_samples=2 lost_samples=0 truncated_stacks=0 stacks=2 addresses=3 resolved_addresses=3 symbolize_ns=0
stack id=1 frames=0x10,0x20
stack id=2 frames=0x30,0x20
symbol addr=0x10 function="app::burn" file="src/main.rs" line=12 column=5
symbol_frame function="app::handler" file="src/main.rs" line=30 column=9
symbol addr=0x20 function="app::main" file="src/main.rs" line=40 column=1
symbol addr=0x30 function="std::thread::sleep" file="std/src/thread.rs" line=100 column=1
1 0 thread_start kind=worker index=0
1 1 task_spawn task=1 kind=async tokio_id=1 parent=0 location=1 name=0
1 2 task_spawn task=2 kind=async tokio_id=2 parent=0 location=1 name=0
1 100 poll_start task=1
1 110 cpu_sample task=1 stack=1
1 120 cpu_sample task=1 stack=1
1 200 poll_end ready=false
1 300 poll_start task=2
1 305 cpu_sample task=2 stack=2
1 310 stall_sample task=2 stack=2
1 320 stall_sample task=2 stack=2
1 401 poll_end ready=true
"#;

fn opened() -> (tempfile::TempDir, Harness<'static, ViewerApp>) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = trace_format::text::undump(TRACE).unwrap();
    let path = write(dir.path(), "flame.rtt", &bytes);
    let mut h = harness(Some(path));
    wait_opened(&mut h);
    (dir, h)
}

fn data(h: &Harness<'_, ViewerApp>) -> Option<std::sync::Arc<FlameData>> {
    h.state().trace_view().unwrap().flame.ready().cloned()
}

fn wait_graph(h: &mut Harness<'_, ViewerApp>) {
    wait_for(h, "the flame graph", |a| {
        let f = &a.trace_view().unwrap().flame;
        f.ready().is_some() && f.area.is_some()
    });
}

/// The centre of the frame named `name` at row `row`, found from the drawn graph.
fn frame_at(h: &Harness<'_, ViewerApp>, name: &str) -> Pos2 {
    let f = &h.state().trace_view().unwrap().flame;
    let d = f.ready().unwrap();
    let area = f.area.unwrap();
    let l = trace_analysis::analysis::flame::layout(&d.profile, f.zoom, 0.0);
    let r = l
        .rects
        .iter()
        .find(|r| node_name(&d.profile, r.node) == name)
        .unwrap();
    let x = area.left() + ((r.x0 + r.x1) / 2.0) as f32 * area.width();
    Pos2::new(x, area.top() + (r.depth as f32 + 0.5) * ROW_HEIGHT)
}

#[test]
fn the_flame_tab_draws_the_whole_trace_zooms_on_click_and_searches() {
    let (_dir, mut h) = opened();
    h.get_by_label(TAB_FLAME).click();
    wait_graph(&mut h);
    let d = data(&h).unwrap();
    assert_eq!(d.profile.total_samples(), 3);
    h.get_by_label("3 samples, 30 ms");
    // Hovering a frame tells its self and total.
    let burn = frame_at(&h, "app::burn");
    h.event(Event::PointerMoved(burn));
    h.run_steps(40);
    h.get_by_label("src/main.rs:12");
    h.get_by_label("self: 20 ms (66.7%), 2 samples");
    // A click zooms into the frame; a click on the root zooms back out.
    let handler = frame_at(&h, "app::handler");
    click(&h, handler);
    h.run_steps(3);
    let f = &h.state().trace_view().unwrap().flame;
    assert_eq!(node_name(&d.profile, f.zoom), "app::handler");
    let root = frame_at(&h, "all");
    click(&h, root);
    h.run_steps(3);
    assert_eq!(h.state().trace_view().unwrap().flame.zoom, 0);
    // The search box marks the matching frames and says what share they hold.
    // The search box is the first text box (the other takes another trace's path).
    fn search<'a>(h: &'a Harness<'_, ViewerApp>) -> egui_kittest::Node<'a> {
        h.get_all_by_role(egui::Role::TextInput).next().unwrap()
    }
    search(&h).click();
    h.run_steps(2);
    search(&h).type_text("sleep");
    h.run_steps(3);
    assert_eq!(h.state().trace_view().unwrap().flame.query, "sleep");
    h.get_by_label("matched: 1 frames, 33.3% of the weight");
}

#[test]
fn a_group_row_opens_its_flame_graph_and_a_baseline_compares() {
    let (_dir, mut h) = opened();
    h.get_by_label(TAB_TASKS).click();
    wait_for(&mut h, "the breakdown", |a| {
        !a.trace_view().unwrap().tasks.rows.is_empty()
    });
    h.get_by_label(trace_viewer::app::tasks::panel::FLAME_LINK)
        .click();
    wait_graph(&mut h);
    let tv = h.state().trace_view().unwrap();
    assert_eq!(tv.tab, Tab::Flame);
    assert_eq!(tv.flame.scope, Scope::Group(0));
    // The stall flavour: the sleeping task's two stall samples.
    h.get_by_label("Stalled polls").click();
    wait_graph(&mut h);
    assert_eq!(data(&h).unwrap().profile.total_samples(), 2);
    h.get_by_label("CPU").click();
    wait_graph(&mut h);
    assert_eq!(data(&h).unwrap().profile.total_samples(), 3);
    // Baseline: task 1's poll (as the details panel's range link would show it), then the
    // whole trace picked in the selection menu, compared with it.
    h.state_mut()
        .trace_view_mut()
        .unwrap()
        .show_flame(Scope::Range(trace_analysis::model::Span::new(100, 200)));
    wait_graph(&mut h);
    h.get_by_label("Set as baseline").click();
    h.run_steps(2);
    h.get_by_role(egui::Role::ComboBox).click();
    h.run_steps(4);
    h.get_by_label("the whole trace").click();
    h.run_steps(2);
    h.get_by_label_contains("compare with").click();
    wait_graph(&mut h);
    let d = data(&h).unwrap();
    assert_eq!(d.key.scope, Scope::Whole);
    let (base, _) = d.compared.as_ref().expect("compared with the baseline");
    assert_eq!(base.total_samples(), 2);
    let burn = frame_at(&h, "app::burn");
    h.event(Event::PointerMoved(burn));
    h.run_steps(40);
    h.get_by_label("baseline 100.0%, now 66.7% (-33.3 points)");
}

#[test]
fn a_clicked_stalled_poll_shows_its_stack_and_opens_its_flame_graph() {
    use trace_viewer::app::timeline::scene::{Hit, Mark};
    let (_dir, mut h) = opened();
    h.run_steps(3);
    let tv = h.state().trace_view().unwrap();
    let model = &tv.trace.model;
    let second = model
        .polls
        .iter()
        .position(|p| p.task == trace_analysis::model::TaskIx(1))
        .unwrap() as u32;
    let scene = &tv.timeline.scene;
    assert!(scene.marks.iter().any(|(_, m)| *m == Mark::Stalled));
    assert_eq!(
        scene
            .marks
            .iter()
            .filter(|(_, m)| *m == Mark::CpuSamples)
            .count(),
        3
    );
    let rect = scene
        .items
        .iter()
        .find(|i| i.hit == Hit::Poll(second))
        .unwrap()
        .rect;
    click(&h, rect.center());
    h.run_steps(3);
    h.get_by_label_contains("stalled: 2 stall samples");
    h.get_by_label("std::thread::sleep");
    h.get_by_label("    std/src/thread.rs:100");
    // The poll's own flame graph (the task's link comes first).
    let links = h.get_all_by_label(trace_viewer::app::details::panel::FLAME_LINK);
    links.last().unwrap().click();
    wait_graph(&mut h);
    let tv = h.state().trace_view().unwrap();
    assert_eq!(tv.flame.scope, Scope::Poll(second));
    assert_eq!(data(&h).unwrap().profile.total_samples(), 1);
}
