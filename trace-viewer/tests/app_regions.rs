//! The window's Regions view, driven headless with egui_kittest: the region groups of a trace
//! whose requests serve three routes as a sortable table, a group's latency histogram, a
//! bar's regions, and the slowest region shown in the timeline; a trace without spans says
//! how to record them.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use trace_analysis::model::TaskIx;
use trace_viewer::app::regions::Column;
use trace_viewer::app::regions::panel::{ALL_REGIONS, NO_SPANS, region_label};
use trace_viewer::app::trace_view::Tab;
use trace_viewer::app::view::Selection;
use trace_viewer::app::{TAB_REGIONS, ViewerApp};

mod common;
use common::*;

/// The requests: route and latency (creation to close) of each, one task each.
fn requests() -> Vec<(&'static str, u64)> {
    let mut r = Vec::new();
    for k in 0..12 {
        r.push(("/fast", 1_000 + k * 100));
    }
    for k in 0..7 {
        r.push(("/medium", 20_000 + k * 2_000));
    }
    for lat in [500_000, 2_000_000, 800_000, 1_200_000] {
        r.push(("/slow", lat));
    }
    r
}

/// One worker; each request is a task polled twice, its `request` span (fields route and
/// a unique id) created and entered in the first poll, entered again and closed in the
/// second, `latency` after its creation.
fn trace_text(requests: &[(&str, u64)]) -> String {
    let mut t = String::from(
        "string id=3 text=\"request\"\nstring id=4 text=\"app\"\n\
         1 0 thread_start kind=worker index=0\n",
    );
    let mut at = 100;
    for (i, &(route, latency)) in requests.iter().enumerate() {
        let id = i + 1;
        let created = at + 2;
        let closed = created + latency;
        let lines = [
            (
                at,
                format!("task_spawn task={id} kind=async tokio_id={id} parent=0 location=0 name=0"),
            ),
            (at + 1, format!("poll_start task={id}")),
            (
                created,
                format!(
                    "span_new id={id} parent=0 name=3 target=4 level=info fields=\"route={route} id={id}\""
                ),
            ),
            (at + 3, format!("region_begin id={id} name=3")),
            (at + 4, format!("region_end id={id}")),
            (at + 5, "poll_end ready=false".to_string()),
            (closed - 3, format!("poll_start task={id}")),
            (closed - 2, format!("region_begin id={id} name=3")),
            (closed - 1, format!("region_end id={id}")),
            (closed, format!("span_close id={id}")),
            (closed + 1, "poll_end ready=true".to_string()),
        ];
        for (time, e) in lines {
            t.push_str(&format!("1 {time} {e}\n"));
        }
        at = closed + 100;
    }
    t
}

fn opened(text: &str) -> (tempfile::TempDir, Harness<'static, ViewerApp>) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = trace_format::text::undump(text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let path = write(dir.path(), "regions.rtt", &bytes);
    let mut h = harness(Some(path));
    wait_opened(&mut h);
    h.get_by_label(TAB_REGIONS).click();
    wait_for(&mut h, "the region groups", |a| {
        a.trace_view().unwrap().regions.data.get().is_some()
    });
    (dir, h)
}

/// The table's rows, top to bottom, as group labels.
fn rows(h: &Harness<'_, ViewerApp>) -> Vec<String> {
    let r = &h.state().trace_view().unwrap().regions;
    let groups = &r.data.get().unwrap().groups.groups;
    r.order(groups)
        .into_iter()
        .map(|i| trace_viewer::app::regions::group_label(&groups[i]))
        .collect()
}

#[test]
fn the_regions_tab_lists_routes_histograms_a_group_and_shows_its_slowest_region() {
    let (_dir, mut h) = opened(&trace_text(&requests()));
    // The table: one row per route (the unique id does not split them), with its count.
    h.get_by_label("23 regions in 3 groups");
    for route in ["/fast", "/medium", "/slow"] {
        h.get_by_label(&format!("request route={route}"));
    }
    for count in ["12", "7", "4"] {
        h.get_by_label(count);
    }
    // Largest total first; a header sorts by its column, again reverses.
    assert_eq!(
        rows(&h),
        [
            "request route=/slow",
            "request route=/medium",
            "request route=/fast"
        ]
    );
    h.get_by_label(Column::Count.title()).click();
    h.run_steps(2);
    assert_eq!(rows(&h)[0], "request route=/fast");
    h.get_by_label(&format!("{} v", Column::Count.title()))
        .click();
    h.run_steps(2);
    assert_eq!(rows(&h)[0], "request route=/slow");

    // Picking a group shows its histogram (log buckets, empty ones between kept) and its
    // regions slowest first.
    h.get_by_label("request route=/slow").click();
    h.run_steps(3);
    h.get_by_label("2 regions from 500 µs to 1 ms");
    h.get_by_label("1 region from 1 ms to 2 ms");
    h.get_by_label("1 region from 2 ms to 5 ms");
    let picked = |h: &Harness<'_, ViewerApp>| {
        h.state()
            .trace_view()
            .unwrap()
            .regions
            .picked
            .clone()
            .unwrap()
    };
    let trace = h.state().trace_view().unwrap().trace.clone();
    let model = &trace.model;
    let lat = |ix: u32| model.spans[ix as usize].span.len();
    let all: Vec<u64> = picked(&h).regions.iter().map(|&i| lat(i)).collect();
    assert_eq!(all, [2_000_000, 1_200_000, 800_000, 500_000]);
    // A bar keeps its regions, slowest first; the button lists the whole group again.
    h.get_by_label("2 regions from 500 µs to 1 ms").click();
    h.run_steps(3);
    let bar: Vec<u64> = picked(&h).regions.iter().map(|&i| lat(i)).collect();
    assert_eq!(bar, [800_000, 500_000]);
    h.get_by_label(ALL_REGIONS).click();
    h.run_steps(3);
    assert_eq!(picked(&h).regions.len(), 4);

    // Clicking the slowest region shows it in the timeline: zoomed to, selected.
    let slowest = picked(&h).regions[0];
    let region = model.spans[slowest as usize].clone();
    let label = region_label(model, slowest);
    let link = h.get_by_label(&label);
    let screen = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1400.0, 900.0));
    assert!(screen.contains_rect(link.rect()), "{:?}", link.rect());
    link.click();
    h.run_steps(3);
    let tv = h.state().trace_view().unwrap();
    assert_eq!(tv.tab, Tab::Timeline);
    assert_eq!(tv.view.range, Some(region.span));
    assert_ne!(region.task, TaskIx::NONE);
    assert_eq!(tv.view.selection, Some(Selection::of_task(region.task)));
    let (t0, t1) = tv.view.visible_nanos();
    assert!(
        t0 <= region.span.start && t1 >= region.span.end,
        "{t0}..{t1} shows {:?}",
        region.span
    );
    assert!(
        t1 - t0 < 2 * region.span.len(),
        "{t0}..{t1} is zoomed to {:?}",
        region.span
    );
}

#[test]
fn a_trace_without_spans_says_how_to_record_them() {
    let (_dir, h) = opened(
        "1 0 thread_start kind=worker index=0\n\
         1 1 task_spawn task=1 kind=async tokio_id=1 parent=0 location=0 name=0\n\
         1 2 poll_start task=1\n\
         1 9 poll_end ready=true\n",
    );
    h.get_by_label(NO_SPANS);
    assert!(
        h.query_by_label_contains("trace_rt::layer()").is_some(),
        "the empty state names the layer"
    );
}
