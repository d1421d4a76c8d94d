//! The Tasks view's grouping, driven headless: four connection tasks spawned at one place
//! serve two routes; grouped by root region they are two groups named by route.

use egui_kittest::kittest::Queryable;
use trace_analysis::analysis::groups::GroupBy;
use trace_viewer::app::{TAB_TASKS, ViewerApp};

mod common;
use common::*;

const TRACE: &str = r#"
location id=1 file="src/serve.rs" line=389 column=5
string id=3 text="request"
string id=4 text="app"
1 0 thread_start kind=worker index=0
1 1 task_spawn task=1 kind=async tokio_id=1 parent=0 location=1 name=0
1 2 task_spawn task=2 kind=async tokio_id=2 parent=0 location=1 name=0
1 3 task_spawn task=3 kind=async tokio_id=3 parent=0 location=1 name=0
1 4 task_spawn task=4 kind=async tokio_id=4 parent=0 location=1 name=0
1 100 poll_start task=1
1 101 span_new id=11 parent=0 name=3 target=4 level=info fields="route=/a id=1"
1 102 region_begin id=11 name=3
1 150 region_end id=11
1 151 span_close id=11
1 160 poll_end ready=true
1 200 poll_start task=2
1 201 span_new id=12 parent=0 name=3 target=4 level=info fields="route=/b id=2"
1 202 region_begin id=12 name=3
1 250 region_end id=12
1 251 span_close id=12
1 260 poll_end ready=true
1 300 poll_start task=3
1 301 span_new id=13 parent=0 name=3 target=4 level=info fields="route=/a id=3"
1 302 region_begin id=13 name=3
1 350 region_end id=13
1 351 span_close id=13
1 360 poll_end ready=true
1 400 poll_start task=4
1 401 span_new id=14 parent=0 name=3 target=4 level=info fields="route=/b id=4"
1 402 region_begin id=14 name=3
1 450 region_end id=14
1 451 span_close id=14
1 460 poll_end ready=true
"#;

fn labels(h: &egui_kittest::Harness<'_, ViewerApp>) -> Vec<String> {
    let mut l: Vec<String> = h
        .state()
        .trace_view()
        .unwrap()
        .tasks
        .rows
        .iter()
        .map(|r| r.label.clone())
        .collect();
    l.sort();
    l
}

#[test]
fn grouping_by_root_region_splits_tasks_spawned_at_one_place_by_route() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = trace_format::text::undump(TRACE).unwrap();
    let path = write(dir.path(), "group.rtt", &bytes);
    let mut h = harness(Some(path));
    wait_opened(&mut h);
    h.get_by_label(TAB_TASKS).click();
    wait_for(&mut h, "the breakdown", |a| {
        !a.trace_view().unwrap().tasks.rows.is_empty()
    });
    assert_eq!(labels(&h), ["src/serve.rs:389:5"]);
    h.get_by_label("root region").click();
    wait_for(&mut h, "the breakdown by region", |a| {
        a.trace_view().unwrap().tasks.rows.len() == 2
    });
    assert_eq!(
        h.state().trace_view().unwrap().tasks.group_by,
        GroupBy::Region
    );
    // Each span's route names its group; the per-request id, unique, does not.
    assert_eq!(
        labels(&h),
        ["region request route=/a", "region request route=/b"]
    );
}
