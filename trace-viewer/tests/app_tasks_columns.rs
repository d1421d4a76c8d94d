//! The Tasks tab answers "which group blocks its worker", driven headless: keys `1`…`n` pick
//! the tabs, the table shows poll durations (mean, p99, max), allocated bytes and sampled CPU
//! and stall time per group, sorts by them, shows the selected group's poll-duration
//! histogram, and the report's other tables are its sub-views.

use egui::Key;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use trace_analysis::synthetic::Synthetic;
use trace_viewer::app::tasks::SubView;
use trace_viewer::app::tasks::panel::HISTOGRAM_TITLE;
use trace_viewer::app::tasks::table::Column;
use trace_viewer::app::trace_view::Tab;
use trace_viewer::app::{TAB_TASKS, TABS, ViewerApp};

mod common;
use common::*;

fn tab(h: &Harness<'_, ViewerApp>) -> Tab {
    h.state().trace_view().unwrap().tab
}

fn wait_rows(h: &mut Harness<'_, ViewerApp>) {
    wait_for(h, "the breakdown", |a| {
        a.trace_view().is_some_and(|s| !s.tasks.rows.is_empty())
    });
}

#[test]
fn key_2_shows_the_tasks_tab_with_poll_and_allocation_columns() {
    let (_dir, mut h) = open(&Synthetic::default());
    assert_eq!(tab(&h), Tab::Timeline);
    assert_eq!(TABS[1].1, TAB_TASKS);
    h.key_press(Key::Num2);
    h.run_steps(2);
    assert_eq!(tab(&h), Tab::Tasks);
    wait_rows(&mut h);
    for title in ["p99 poll", "max poll", "mean poll", "allocated"] {
        h.get_by_label(title);
    }
    // No stack samples in this trace: no CPU or stall columns reading "0 ns".
    assert!(h.query_by_label(Column::Cpu.title()).is_none());
    assert!(h.query_by_label(Column::Stalled.title()).is_none());
    // Every key picks its tab, in the tab bar's order.
    for (k, &(t, _)) in TABS.iter().enumerate().rev() {
        h.key_press([Key::Num1, Key::Num2, Key::Num3, Key::Num4, Key::Num5][k]);
        h.run_steps(2);
        assert_eq!(tab(&h), t, "key {}", k + 1);
    }
    // Typing a digit into a text box does not switch tabs.
    h.key_press(Key::Slash);
    h.run_steps(2);
    assert!(h.state().trace_view().unwrap().search.open);
    h.key_press(Key::Num3);
    h.run_steps(2);
    assert_eq!(tab(&h), Tab::Timeline);
}

/// Three quick tasks spawned at src/fast.rs (10 µs polls) and one at src/block.rs whose
/// one poll blocks its worker for 20 ms, with CPU and stall samples and an allocation in it.
const TRACE: &str = r#"
location id=1 file="src/fast.rs" line=5 column=9
location id=2 file="src/block.rs" line=9 column=5
sampling cpu_method="perf_event" cpu_reason="" cpu_hz=100 stall_threshold_ns=10000000 max_frames=128 cpu_samples=2 stall_samples=1 lost_samples=0 truncated_stacks=0 stacks=1 addresses=1 resolved_addresses=1 symbolize_ns=0
stack id=1 frames=0x10
symbol addr=0x10 function="app::block" file="src/block.rs" line=12 column=5
1 0 thread_start kind=worker index=0
1 1 task_spawn task=1 kind=async tokio_id=1 parent=0 location=1 name=0
1 2 task_spawn task=2 kind=async tokio_id=2 parent=0 location=1 name=0
1 3 task_spawn task=3 kind=async tokio_id=3 parent=0 location=1 name=0
1 4 task_spawn task=4 kind=async tokio_id=4 parent=0 location=2 name=0
1 1000 poll_start task=1
1 11000 poll_end ready=true
1 20000 poll_start task=2
1 30000 poll_end ready=true
1 40000 poll_start task=3
1 50000 poll_end ready=true
1 100000 poll_start task=4
1 5000000 cpu_sample task=4 stack=1
1 10000000 alloc_sample_at size=100 task=4 stack=1
1 15000000 stall_sample task=4 stack=1
1 16000000 cpu_sample task=4 stack=1
1 20100000 poll_end ready=true
1 21000000 thread_stop
"#;

#[test]
fn the_blocking_group_leads_by_max_poll_with_its_histogram_and_long_poll() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = trace_format::text::undump(TRACE).unwrap();
    let path = write(dir.path(), "block.rtt", &bytes);
    let mut h = harness(Some(path));
    wait_opened(&mut h);
    h.get_by_label(TAB_TASKS).click();
    wait_rows(&mut h);
    let block = "src/block.rs:9:5";
    let fast = "src/fast.rs:5:9";
    {
        let rows = &h.state().trace_view().unwrap().tasks.rows;
        let r = rows.iter().find(|r| r.label == block).unwrap();
        assert_eq!(
            (r.poll_max, r.poll_p99, r.polls),
            (20_000_000, 20_000_000, 1)
        );
        assert!(r.allocated > 0 && r.cpu > 0 && r.stalled > 0, "{r:?}");
        let f = rows.iter().find(|r| r.label == fast).unwrap();
        assert_eq!((f.poll_max, f.poll_mean, f.polls), (10_000, 10_000, 3));
        assert_eq!((f.allocated, f.cpu, f.stalled), (0, 0, 0));
    }
    // The samples' columns are shown, and the blocking poll reads 20 ms.
    h.get_by_label(Column::Cpu.title());
    h.get_by_label(Column::Stalled.title());
    assert!(!h.get_all_by_label("20 ms").collect::<Vec<_>>().is_empty());
    // Sorted by max poll, the blocking group comes first, and its histogram is shown.
    h.get_by_label(Column::MaxPoll.title()).click();
    h.run_steps(3);
    assert_eq!(
        h.state().trace_view().unwrap().tasks.table.sort,
        Column::MaxPoll
    );
    let y = |h: &Harness<'_, ViewerApp>, label: &str| h.get_by_label(label).rect().top();
    assert!(y(&h, block) < y(&h, fast));
    h.get_by_label(&format!("{HISTOGRAM_TITLE} {block}"));
    // A click on a row's cell picks its group for the histogram.
    h.get_all_by_label("10 µs").next().unwrap().click();
    h.run_steps(3);
    let tasks = &h.state().trace_view().unwrap().tasks;
    assert_eq!(tasks.rows[tasks.selected.unwrap()].label, fast);
    h.get_by_label(&format!("{HISTOGRAM_TITLE} {fast}"));
    // The report's longest polls, as a sub-view: the 20 ms poll first; a click shows it.
    h.get_by_label_contains("longest polls").click();
    h.run_steps(3);
    assert_eq!(
        h.state().trace_view().unwrap().tasks.sub_view,
        SubView::LongestPolls
    );
    let links: Vec<_> = h.get_all_by_label_contains("src/block.rs:9:5 #4").collect();
    assert_eq!(links.len(), 1);
    links[0].click();
    h.run_steps(3);
    let tv = h.state().trace_view().unwrap();
    assert_eq!(tv.tab, Tab::Timeline);
    let span = tv.view.time.span();
    assert!(span < 25_000_000.0, "zoomed to the poll: {span}");
    // The threads and pauses tables.
    h.key_press(Key::Num2);
    h.run_steps(2);
    h.get_by_label_contains("threads").click();
    h.run_steps(3);
    h.get_by_label("busy %");
}

/// A watcher spawned at the start and waiting all along, and ten tasks spawned one a second
/// at src/leak.rs that never finish: the leak-suspects sub-view names the growing group
/// with why, lists its tasks (a click shows the wait), and sets the watcher apart.
#[test]
fn the_leak_view_names_the_growing_group_and_sets_the_watcher_apart() {
    const S: u64 = 1_000_000_000;
    let mut text = String::from(
        "location id=1 file=\"src/watch.rs\" line=3 column=5\n\
         location id=2 file=\"src/leak.rs\" line=8 column=9\n\
         1 0 thread_start kind=worker index=0\n\
         1 0 task_spawn task=1 kind=async tokio_id=1 parent=0 location=1 name=0\n\
         1 1000 poll_start task=1\n\
         1 2000 poll_end ready=false\n",
    );
    for i in 0..10u64 {
        let t = (i + 1) * S;
        let task = i + 2;
        text += &format!(
            "1 {t} task_spawn task={task} kind=async tokio_id={task} parent=0 location=2 name=0\n\
             1 {} poll_start task={task}\n\
             1 {} poll_end ready=false\n",
            t + 1000,
            t + 2000
        );
    }
    text += &format!("1 {} thread_stop\n", 12 * S);
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "leak.rtt",
        &trace_format::text::undump(&text).unwrap(),
    );
    let mut h = harness(Some(path));
    wait_opened(&mut h);
    h.key_press(Key::Num2);
    h.run_steps(2);
    wait_rows(&mut h);
    h.get_by_label_contains("leak suspects").click();
    h.run_steps(3);
    assert_eq!(
        h.state().trace_view().unwrap().tasks.sub_view,
        SubView::LeakSuspects
    );
    h.get_by_label("suspect: src/leak.rs:8:9");
    h.get_by_label_contains("alive grew from 0 to 10");
    h.get_by_label("long-lived: src/watch.rs:3:5");
    assert!(h.query_by_label("suspect: src/watch.rs:3:5").is_none());
    // The oldest waiting leaked task first; a click shows its wait in the timeline.
    let first = h
        .get_all_by_label_contains("src/leak.rs:8:9 #")
        .next()
        .unwrap();
    first.click();
    h.run_steps(3);
    assert_eq!(h.state().trace_view().unwrap().tab, Tab::Timeline);
}
