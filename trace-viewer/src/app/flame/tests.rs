use super::*;
use trace_analysis::analysis::flame::layout;

/// Worker 1 polls task 1 (two CPU samples in `app::burn` under `app::handler`), then task 2
/// (one CPU sample in `std::thread::sleep`, two stall samples there, an allocation in
/// `app::concat`); both tasks spawned at one place.
pub(crate) const FLAME_TRACE: &str = r#"
string id=1 text="trace_rt.alloc.sample_rate"
location id=1 file="src/server.rs" line=7 column=5
sampling cpu_method="perf_event" cpu_reason="" cpu_hz=100 stall_threshold_ns=40 max_frames=128 cpu_samples=3 stall_samples=2 lost_samples=0 truncated_stacks=0 stacks=3 addresses=5 resolved_addresses=5 symbolize_ns=0
stack id=1 frames=0x10,0x20
stack id=2 frames=0x30,0x20
stack id=3 frames=0x40,0x50,0x20
symbol addr=0x10 function="app::burn" file="src/main.rs" line=12 column=5
symbol_frame function="app::handler" file="src/main.rs" line=30 column=9
symbol addr=0x20 function="app::main" file="src/main.rs" line=40 column=1
symbol addr=0x30 function="std::thread::sleep" file="std/src/thread.rs" line=100 column=1
symbol addr=0x40 function="trace_rt::alloc::sample" file="trace-rt/src/alloc.rs" line=5 column=1
symbol addr=0x50 function="app::concat" file="src/main.rs" line=50 column=3
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
1 350 alloc_sample_at size=100 task=2 stack=3
1 401 poll_end ready=true
"#;

pub(crate) fn opened() -> Arc<OpenTrace> {
    let bytes = trace_format::text::undump(FLAME_TRACE).expect("the fixture parses");
    Arc::new(OpenTrace::from_bytes(bytes))
}

fn names(d: &FlameData) -> Vec<String> {
    let p = &d.profile;
    layout(p, ROOT, 0.0)
        .rects
        .iter()
        .skip(1)
        .map(|r| panel::node_name(p, r.node).to_string())
        .collect()
}

fn built(state: &mut FlameState, trace: &Arc<OpenTrace>) -> Arc<FlameData> {
    state.ensure(trace, || {});
    state.ready().expect("a small trace builds at once").clone()
}

#[test]
fn each_scope_selects_its_samples() {
    let t = opened();
    let m = &t.model;
    let mut s = FlameState::default();
    let d = built(&mut s, &t);
    assert_eq!(d.profile.total_samples(), 3);
    let (task1, task2) = (TaskIx(0), TaskIx(1));
    let count = |s: &mut FlameState, scope| {
        s.show(scope);
        built(s, &t).profile.total_samples()
    };
    assert_eq!(count(&mut s, Scope::Task(task1)), 2);
    assert_eq!(count(&mut s, Scope::Task(task2)), 1);
    assert_eq!(count(&mut s, Scope::Range(Span::new(0, 115))), 1);
    assert_eq!(count(&mut s, Scope::Thread(ThreadIx(0))), 3);
    // Both tasks were spawned at one place: one group.
    assert_eq!(count(&mut s, Scope::Group(t.groups.group_of(task2))), 3);
    let second = m.polls.iter().position(|p| p.task == task2).unwrap() as u32;
    assert_eq!(count(&mut s, Scope::Poll(second)), 1);
    assert_eq!(
        names(&built(&mut s, &t)),
        ["app::main", "std::thread::sleep"]
    );
    // A stale index selects nothing rather than panicking.
    assert_eq!(count(&mut s, Scope::Poll(9_999)), 0);
    assert_eq!(count(&mut s, Scope::Group(9_999)), 0);
    assert!(Scope::Task(task1).label(&t).starts_with("task "));
}

#[test]
fn each_kind_has_its_own_profile_and_the_zoom_resets_on_a_new_one() {
    let t = opened();
    let mut s = FlameState::default();
    built(&mut s, &t);
    s.zoom = 2;
    s.kind = SampleKind::Stall;
    let d = built(&mut s, &t);
    assert_eq!(s.zoom, ROOT);
    assert_eq!(d.profile.total_samples(), 2);
    assert_eq!(names(&d), ["app::main", "std::thread::sleep"]);
    s.kind = SampleKind::Alloc;
    let d = built(&mut s, &t);
    // The recorder's allocator frame is trimmed: the allocating function shows.
    assert_eq!(names(&d), ["app::main", "app::concat"]);
    assert_eq!(panel::format_weight(d.profile.kind, 2048), "2 KiB");
    // Asking again for the same thing keeps the profile (and the zoom).
    s.zoom = 1;
    let again = built(&mut s, &t);
    assert!(Arc::ptr_eq(&d, &again));
    assert_eq!(s.zoom, 1);
}

#[test]
fn comparing_with_a_baseline_gives_each_frame_its_change() {
    let t = opened();
    let mut s = FlameState::default();
    // Baseline: task 1's poll (burn only); then the whole trace (burn and sleep).
    s.show(Scope::Range(Span::new(100, 200)));
    built(&mut s, &t);
    s.set_baseline();
    s.show(Scope::Whole);
    let plain = built(&mut s, &t);
    assert!(plain.compared.is_none(), "not compared until asked");
    s.compare = true;
    let d = built(&mut s, &t);
    let (_, diff) = d.compared.as_ref().expect("compared");
    let p = &d.profile;
    let node = |name: &str| {
        (0..p.nodes.len() as u32)
            .find(|&n| panel::node_name(p, n) == name)
            .unwrap()
    };
    assert!(diff.delta(node("app::burn")) < 0.0, "burn's share shrank");
    assert!(diff.delta(node("std::thread::sleep")) > 0.0, "sleep is new");
    assert_eq!(diff.delta(node("app::main")), 0.0);
    s.clear_baseline();
    assert!(built(&mut s, &t).compared.is_none());
}

#[test]
fn colours_say_growth_and_shrink() {
    use egui::Color32;
    assert_eq!(panel::diff_color(0.0), Color32::from_rgb(225, 225, 225));
    let up = panel::diff_color(1.0);
    let down = panel::diff_color(-1.0);
    assert!(up.r() > up.b() && down.b() > down.r());
    assert_eq!(panel::name_color("a"), panel::name_color("a"));
}

#[test]
fn the_frame_under_the_pointer_is_found() {
    let t = opened();
    let mut s = FlameState::default();
    let d = built(&mut s, &t);
    let l = layout(&d.profile, ROOT, 0.0);
    let area = egui::Rect::from_min_size(egui::pos2(10.0, 20.0), egui::vec2(300.0, 200.0));
    let at = |x: f32, row: u32| {
        let y = 20.0 + (row as f32 + 0.5) * panel::ROW_HEIGHT;
        panel::hit(&l, area, egui::pos2(x, y)).map(|n| panel::node_name(&d.profile, n))
    };
    assert_eq!(at(15.0, 0), Some(panel::ROOT_NAME));
    // Burn is the left two thirds of row 3; sleep the right third of row 2.
    assert_eq!(at(15.0, 3), Some("app::burn"));
    assert_eq!(at(305.0, 3), None);
    assert_eq!(at(305.0, 2), Some("std::thread::sleep"));
    assert_eq!(at(5.0, 0), None);
}

#[test]
fn another_trace_of_the_program_is_a_baseline_once_loaded() {
    let t = opened();
    // "Before": the same program, without the sleeping task's CPU sample.
    let before = FLAME_TRACE.replace("1 305 cpu_sample task=2 stack=2\n", "");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("before.rtt");
    std::fs::write(&path, trace_format::text::undump(&before).unwrap()).unwrap();
    let mut s = FlameState::default();
    s.load_other(dir.path().join("missing.rtt"), || {});
    while s.opening_other.is_some() {
        std::thread::sleep(std::time::Duration::from_millis(2));
        s.poll();
    }
    assert!(s.other_error.as_deref().unwrap().contains("missing.rtt"));
    assert_eq!(s.baseline, None);
    s.load_other(path.clone(), || {});
    while s.opening_other.is_some() {
        std::thread::sleep(std::time::Duration::from_millis(2));
        s.poll();
    }
    assert_eq!(s.other_error, None);
    assert_eq!(s.baseline, Some(Baseline::Trace(1)));
    assert!(s.compare, "compared as soon as it is loaded");
    let label = s.baseline_label(&t).unwrap();
    assert!(label.contains("before.rtt"), "{label}");
    let d = built(&mut s, &t);
    let (base, diff) = d.compared.as_ref().expect("compared with the other trace");
    assert_eq!(base.total_samples(), 2);
    let p = &d.profile;
    let node = |name: &str| {
        (0..p.nodes.len() as u32)
            .find(|&n| panel::node_name(p, n) == name)
            .unwrap()
    };
    assert!((diff.delta(node("app::burn")) + 1.0 / 3.0).abs() < 1e-12);
    assert!((diff.delta(node("std::thread::sleep")) - 1.0 / 3.0).abs() < 1e-12);
    s.clear_baseline();
    assert!(s.other.is_none() && s.baseline.is_none());
}
