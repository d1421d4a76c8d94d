//! Tests of the timeline laid out without drawing: folding, the lanes, the scene of a frame
//! and its hit test, the segment cache.

use std::cell::Cell;
use std::path::PathBuf;

use egui::{Rect, pos2};

use super::build::{SceneInput, build_scene};
use super::fold::*;
use super::lanes::*;
use super::scene::*;
use super::segments::SegmentCache;
use super::xmap::XMap;
use crate::app::open_trace::OpenTrace;
use crate::app::view::TimeView;
use trace_analysis::analysis::states::{Segment, TaskState};
use trace_analysis::model::{Model, Span, TaskIx};
use trace_analysis::synthetic::Synthetic;

fn opened(s: &Synthetic) -> OpenTrace {
    OpenTrace::from_bytes(s.bytes())
}

fn xmap(t0: f64, t1: f64, width: f32) -> XMap {
    XMap::new(&TimeView { start: t0, end: t1 }, 0.0, width)
}

/// Folds `spans` (sorted, disjoint) and returns the pieces.
fn fold_spans(spans: &[(u64, u64)], xmap: &XMap) -> Vec<Piece> {
    let mut out = vec![];
    fold(
        0..spans.len(),
        |i| spans[i].0,
        |i| spans[i].1,
        xmap,
        MIN_SLICE_PX,
        FOLD_GAP_PX,
        |p| out.push(p),
    );
    out
}

fn covered(pieces: &[Piece]) -> Vec<usize> {
    pieces
        .iter()
        .flat_map(|p| match p {
            Piece::One { ix, .. } => *ix..*ix + 1,
            Piece::Folded { ixs, .. } => ixs.clone(),
        })
        .collect()
}

#[test]
fn wide_slices_are_pieces_of_their_own() {
    // 10 slices of 100 ns every 200 ns, 1 ns per point: each 100 points wide.
    let spans: Vec<(u64, u64)> = (0..10).map(|i| (i * 200, i * 200 + 100)).collect();
    let pieces = fold_spans(&spans, &xmap(0.0, 2_000.0, 2_000.0));
    assert_eq!(pieces.len(), 10);
    for (i, p) in pieces.iter().enumerate() {
        let Piece::One { ix, x0, x1 } = p.clone() else {
            panic!("{p:?}")
        };
        assert_eq!(ix, i);
        assert!((x0 - (i * 200) as f32).abs() < 1e-3);
        assert!((x1 - x0 - 100.0).abs() < 1e-3);
    }
}

#[test]
fn sub_pixel_slices_fold_into_one_piece() {
    // 1000 slices of 1 ns every 10 ns; 1000 ns per point: the whole run is 10 points wide.
    let spans: Vec<(u64, u64)> = (0..1_000).map(|i| (i * 10, i * 10 + 1)).collect();
    let pieces = fold_spans(&spans, &xmap(0.0, 1_000_000.0, 1_000.0));
    assert_eq!(pieces.len(), 1, "{pieces:?}");
    let Piece::Folded { ixs, x0, x1 } = &pieces[0] else {
        panic!("{pieces:?}")
    };
    assert_eq!(*ixs, 0..1_000);
    assert!(x0.abs() < 1e-3);
    assert!((x1 - 9.991).abs() < 1e-2, "{x1}");
}

#[test]
fn a_fold_stops_before_a_wide_slice_and_after_a_gap() {
    // Tiny slices, then a wide one, then tiny ones far away.
    let mut spans: Vec<(u64, u64)> = (0..50).map(|i| (i * 10, i * 10 + 2)).collect();
    spans.push((500, 5_000)); // 45 points wide at 100 ns per point
    spans.extend((0..5).map(|i| (50_000 + i * 10, 50_000 + i * 10 + 2)));
    let pieces = fold_spans(&spans, &xmap(0.0, 100_000.0, 1_000.0));
    assert_eq!(covered(&pieces), (0..56).collect::<Vec<_>>());
    assert!(
        matches!(&pieces[0], Piece::Folded { ixs, .. } if *ixs == (0..50)),
        "{pieces:?}"
    );
    assert!(matches!(pieces[1], Piece::One { ix: 50, .. }), "{pieces:?}");
    assert!(
        matches!(&pieces[2], Piece::Folded { ixs, .. } if *ixs == (51..56)),
        "{pieces:?}"
    );
    assert_eq!(pieces.len(), 3);
}

#[test]
fn a_lone_narrow_slice_stays_one_piece() {
    let spans = [(0, 1), (50_000, 50_001)];
    let pieces = fold_spans(&spans, &xmap(0.0, 100_000.0, 1_000.0));
    assert!(matches!(
        pieces[..],
        [Piece::One { ix: 0, .. }, Piece::One { ix: 1, .. }]
    ));
}

#[test]
fn folding_cost_depends_on_the_width_not_the_count() {
    // A million slices with irregular lengths and gaps, on a 1000-point timeline.
    let mut spans = Vec::with_capacity(1_000_000);
    let mut t = 0u64;
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    for _ in 0..1_000_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = 1 + x % 3_000;
        // Now and then a long one, wide enough to show.
        let len = if x.is_multiple_of(5_000) {
            len * 10_000
        } else {
            len
        };
        spans.push((t, t + len));
        t += len + x % 2_000;
    }
    let width = 1_000.0;
    let map = xmap(0.0, t as f64, width);
    let reads = Cell::new(0usize);
    let mut pieces = vec![];
    fold(
        0..spans.len(),
        |i| {
            reads.set(reads.get() + 1);
            spans[i].0
        },
        |i| spans[i].1,
        &map,
        MIN_SLICE_PX,
        FOLD_GAP_PX,
        |p| pieces.push(p),
    );
    assert_eq!(
        covered(&pieces).len(),
        spans.len(),
        "every slice is in one piece"
    );
    assert!(
        pieces.len() <= 2 * width as usize,
        "{} pieces",
        pieces.len()
    );
    // Binary searches: about log2(1e6) = 20 reads per search, a few searches per point.
    assert!(
        reads.get() < 200 * width as usize,
        "{} reads of start times",
        reads.get()
    );
    // Pieces go left to right without overlapping.
    let edges: Vec<(f32, f32)> = pieces
        .iter()
        .map(|p| match p {
            Piece::One { x0, x1, .. } | Piece::Folded { x0, x1, .. } => (*x0, *x1),
        })
        .collect();
    for w in edges.windows(2) {
        assert!(w[0].0 <= w[1].0, "{w:?}");
    }
}

#[test]
fn lanes_list_threads_then_groups_and_collapse() {
    let s = Synthetic::default();
    let t = opened(&s);
    let lanes = Lanes::build(&t, &vec![false; t.groups.len()]);
    let kinds: Vec<LaneKind> = lanes.lanes.iter().map(|l| l.kind).collect();
    // Two workers and the blocking thread come first.
    assert!(matches!(
        kinds[..3],
        [
            LaneKind::Thread(_),
            LaneKind::Thread(_),
            LaneKind::Thread(_)
        ]
    ));
    assert_eq!(
        t.model.threads[match kinds[2] {
            LaneKind::Thread(i) => i.index(),
            _ => unreachable!(),
        }]
        .kind,
        Some(trace_format::ThreadKind::Blocking)
    );
    // Three locations and the blocking task's group; 13 tasks.
    let groups = kinds
        .iter()
        .filter(|k| matches!(k, LaneKind::Group(_)))
        .count();
    let tasks = kinds
        .iter()
        .filter(|k| matches!(k, LaneKind::Task { .. }))
        .count();
    assert_eq!((groups, tasks), (4, 13));
    // Lanes are stacked without gaps.
    for w in lanes.lanes.windows(2) {
        assert_eq!(w[0].bottom(), w[1].top);
    }
    assert_eq!(lanes.height, lanes.lanes.last().unwrap().bottom());

    let mut collapsed = vec![false; t.groups.len()];
    collapsed[0] = true;
    let fewer = Lanes::build(&t, &collapsed);
    assert_eq!(
        fewer.lanes.len(),
        lanes.lanes.len() - t.groups[0].tasks.len()
    );
}

#[test]
fn visible_lanes_are_found_by_height() {
    let t = opened(&Synthetic::default());
    let lanes = Lanes::build(&t, &vec![false; t.groups.len()]);
    let all = lanes.visible(0.0, lanes.height);
    assert_eq!(all, 0..lanes.lanes.len());
    let first = lanes.visible(0.0, 1.0);
    assert_eq!(first, 0..1);
    let y = lanes.lanes[5].top + 1.0;
    assert_eq!(lanes.visible(y, y + 1.0), 5..6);
    assert_eq!(lanes.at(y), Some(5));
    assert_eq!(lanes.at(-1.0), None);
    assert_eq!(lanes.at(lanes.height + 1.0), None);
    assert_eq!(
        lanes
            .visible(lanes.height + 10.0, lanes.height + 20.0)
            .len(),
        0
    );
}

#[test]
fn big_groups_start_collapsed() {
    let s = Synthetic {
        tasks: 100,
        locations: 2,
        ..Synthetic::default()
    };
    let t = opened(&s);
    assert_eq!(default_collapsed(&t), [true, true, false]);
}

fn scene_of(t: &OpenTrace, view: TimeView, area: Rect) -> Scene {
    let lanes = Lanes::build(t, &vec![false; t.groups.len()]);
    let mut cache = SegmentCache::default();
    build_scene(
        &SceneInput {
            trace: t,
            lanes: &lanes,
            view: &view,
            scroll_y: 0.0,
            area,
            wake: None,
        },
        &mut cache,
    )
}

#[test]
fn a_poll_gets_the_rectangle_of_its_time_on_its_worker_lane() {
    let s = Synthetic::default();
    let t = opened(&s);
    // Worker 0's second task, second round.
    let (start, end) = s.poll_span(0, 1, 1);
    // 10 ns per point from x = 100.
    let view = TimeView {
        start: start as f64 - 1_000.0,
        end: start as f64 + 9_000.0,
    };
    let area = Rect::from_min_max(pos2(100.0, 50.0), pos2(1_100.0, 650.0));
    let scene = scene_of(&t, view, area);
    let item = scene
        .items
        .iter()
        .find(|i| matches!(i.hit, Hit::Poll(p) if t.model.polls[p as usize].start == start))
        .expect("the poll is drawn");
    assert!((item.rect.left() - 200.0).abs() < 1e-2, "{:?}", item.rect);
    assert!((item.rect.right() - (200.0 + (end - start) as f32 / 10.0)).abs() < 1e-2);
    // On the first lane (worker 0).
    assert!(item.rect.top() >= 50.0 && item.rect.bottom() <= 50.0 + THREAD_LANE_HEIGHT);
    assert_eq!(
        item.fill,
        Fill::Task(
            t.model.polls[match item.hit {
                Hit::Poll(p) => p as usize,
                _ => unreachable!(),
            }]
            .task
        )
    );
    // The hit test finds it back, and a label fits (1000 points wide, clipped to the view).
    let hit = scene.hit(item.rect.center()).unwrap();
    assert_eq!(hit.hit, item.hit);
    assert!(
        scene
            .labels
            .iter()
            .any(|l| l.text.contains("src/service.rs:30:5")),
        "{:?}",
        scene.labels
    );
}

#[test]
fn task_lanes_show_states_and_whole_trace_zoom_folds() {
    let s = Synthetic {
        tasks: 4,
        polls_per_task: 2_000,
        poll_ns: 100,
        gap_ns: 10,
        park_ns: 200,
        ..Synthetic::default()
    };
    let t = opened(&s);
    let area = Rect::from_min_max(pos2(0.0, 0.0), pos2(800.0, 2_000.0));
    let scene = scene_of(&t, TimeView::fit(t.model.span()), area);
    // 8000 polls over 800 points: folded, so far fewer rectangles than polls.
    let polls = scene
        .items
        .iter()
        .filter(|i| matches!(i.hit, Hit::Poll(_)))
        .count();
    let folded = scene
        .items
        .iter()
        .filter(|i| i.fill == Fill::FoldedPolls)
        .count();
    assert!(folded > 0);
    assert!(polls + folded < 2_000, "{polls} polls + {folded} folds");
    assert!(scene.items.len() < 20 * 800, "{} items", scene.items.len());

    // Zoomed in on one poll of task 1: running, and the wait before it.
    let (start, _) = s.poll_span(0, 7, 0);
    let view = TimeView {
        start: start as f64 - 200.0,
        end: start as f64 + 300.0,
    };
    let scene = scene_of(&t, view, area);
    let states: Vec<TaskState> = scene
        .items
        .iter()
        .filter_map(|i| match i.hit {
            Hit::Segment {
                task: TaskIx(0),
                state,
                ..
            } => Some(state),
            _ => None,
        })
        .collect();
    assert!(states.contains(&TaskState::Running), "{states:?}");
    assert!(
        states.iter().any(|s| matches!(s, TaskState::Waiting(_))),
        "{states:?}"
    );
}

#[test]
fn pauses_span_all_lanes_and_lost_data_is_marked() {
    let s = Synthetic {
        lost: true,
        ..Synthetic::default()
    };
    let t = opened(&s);
    assert_eq!(t.paused.len(), 1);
    let area = Rect::from_min_max(pos2(0.0, 0.0), pos2(1_000.0, 2_000.0));
    let scene = scene_of(&t, TimeView::fit(t.model.span()), area);
    let pause = &scene.overlays[0];
    assert_eq!(pause.hit, Hit::ProcessPause(t.paused[0]));
    assert_eq!(pause.rect.top(), 0.0);
    let lanes = Lanes::build(&t, &vec![false; t.groups.len()]);
    assert_eq!(pause.rect.bottom(), lanes.height);
    assert!(scene.items.iter().any(|i| matches!(
        i.hit,
        Hit::Lost {
            chunks: 3,
            events: 100,
            ..
        }
    )));
    assert!(
        scene
            .items
            .iter()
            .any(|i| matches!(i.hit, Hit::ThreadPause { .. }))
    );
    assert!(scene.items.iter().any(|i| i.fill == Fill::Park));
}

#[test]
fn scrolling_shows_later_lanes_only() {
    let s = Synthetic {
        tasks: 30,
        ..Synthetic::default()
    };
    let t = opened(&s);
    // Nothing pinned: every lane scrolls.
    let unpinned = Sections {
        pin_top: false,
        ..Sections::default()
    };
    let lanes = Lanes::build_with(&t, &vec![false; t.groups.len()], unpinned);
    assert_eq!((lanes.pinned, lanes.pinned_height), (0, 0.0));
    let area = Rect::from_min_max(pos2(0.0, 100.0), pos2(500.0, 200.0));
    let mut cache = SegmentCache::default();
    let view = TimeView::fit(t.model.span());
    let scene = build_scene(
        &SceneInput {
            trace: &t,
            lanes: &lanes,
            view: &view,
            scroll_y: 300.0,
            area,
            wake: None,
        },
        &mut cache,
    );
    let shown: Vec<usize> = scene.lanes.iter().map(|&(i, _)| i).collect();
    assert_eq!(shown, lanes.visible(300.0, 400.0).collect::<Vec<_>>());
    for (i, r) in &scene.lanes {
        assert!((r.top() - (100.0 + lanes.lanes[*i].top - 300.0)).abs() < 1e-3);
    }
    for item in &scene.items {
        assert!(
            item.rect.bottom() > 100.0 && item.rect.top() < 200.0,
            "{item:?}"
        );
    }
}

#[test]
fn a_fold_takes_the_colour_of_its_main_state() {
    use trace_analysis::analysis::states::WaitReason;
    let timer = TaskState::Waiting(WaitReason::Timer);
    let mut segments = vec![];
    let mut t = 0;
    for _ in 0..100 {
        for (state, len) in [
            (TaskState::Running, 2),
            (timer, 7),
            (TaskState::SchedWait, 1),
        ] {
            segments.push(Segment {
                span: Span::new(t, t + len),
                state,
            });
            t += len;
        }
    }
    // Few segments: counted exactly; many: sampled.
    assert_eq!(dominant_state(&segments, 0..3), timer);
    assert_eq!(dominant_state(&segments, 0..1), TaskState::Running);
    assert_eq!(dominant_state(&segments, 0..segments.len()), timer);
    assert_eq!(dominant_state(&segments, 3..200), timer);
}

#[test]
fn a_log_tick_for_many_lines_shows_the_worst_level_among_them() {
    use trace_format::{Event, Level, StringId, ThreadKind, build::TraceBuilder};
    // One thread, 100 INFO lines 10 ns apart with one ERROR among them.
    let mut b = TraceBuilder::new();
    b.thread(1, "app");
    b.push(
        1,
        0,
        Event::ThreadStart {
            kind: ThreadKind::Other,
            index: 0,
        },
    );
    for k in 0..100u64 {
        let level = if k == 57 { Level::Error } else { Level::Info };
        b.push(
            1,
            10 + k * 10,
            Event::Log {
                level,
                target: StringId::NONE,
                message: "line",
            },
        );
    }
    let bytes = b.to_bytes();
    let size = bytes.len() as u64;
    let model = Model::build(&trace_format::Trace::from_bytes(bytes).unwrap()).unwrap();
    let t = OpenTrace::new(PathBuf::from("x.rtt"), size, size, model, None);
    assert_eq!(t.log_warnings[0], [57]);
    let ticks = |view: TimeView| {
        let scene = scene_of(
            &t,
            view,
            Rect::from_min_max(pos2(0.0, 0.0), pos2(100.0, 400.0)),
        );
        scene
            .items
            .iter()
            .filter_map(|i| match (i.fill, &i.hit) {
                (Fill::Log(level), Hit::Logs { count, .. }) => Some((level, *count)),
                _ => None,
            })
            .collect::<Vec<_>>()
    };
    // 100 points for 100 µs: every line on one tick, which shows the error.
    let all = ticks(TimeView {
        start: 0.0,
        end: 100_000.0,
    });
    assert_eq!(all, [(Level::Error, 100)]);
    // Zoomed in to lines 0..=9: no error among them.
    let some = ticks(TimeView {
        start: 0.0,
        end: 105.0,
    });
    assert!(some.iter().all(|&(l, _)| l == Level::Info), "{some:?}");
    assert_eq!(some.iter().map(|&(_, n)| n).sum::<u32>(), 10);
}

#[test]
fn cpu_samples_tick_the_worker_lane_and_stalled_polls_are_marked() {
    // One worker: two CPU samples in the first poll, one in the second, which stalled.
    let t = crate::app::flame::tests::opened();
    let area = Rect::from_min_max(pos2(0.0, 0.0), pos2(400.0, 600.0));
    // 0..400 ns on 400 points: samples at 110, 120 and 305 each get a tick.
    let scene = scene_of(
        &t,
        TimeView {
            start: 0.0,
            end: 400.0,
        },
        area,
    );
    let ticks: Vec<f32> = scene
        .marks
        .iter()
        .filter(|(_, m)| *m == Mark::CpuSamples)
        .map(|(r, _)| r.left())
        .collect();
    assert_eq!(ticks, [110.0, 120.0, 305.0]);
    // The second poll (300..401) is marked; the first is not.
    let stalled: Vec<Rect> = scene
        .marks
        .iter()
        .filter(|(_, m)| *m == Mark::Stalled)
        .map(|(r, _)| *r)
        .collect();
    assert_eq!(stalled.len(), 1, "{stalled:?}");
    assert!((stalled[0].left() - 300.0).abs() < 1.0, "{stalled:?}");
    let poll = scene
        .items
        .iter()
        .find(|i| matches!(i.hit, Hit::Poll(_)) && (i.rect.left() - 300.0).abs() < 1.0)
        .unwrap();
    assert_eq!(stalled[0].bottom(), poll.rect.bottom());
    // Its tooltip says so; the first poll's does not.
    let lines = super::tooltip::describe_hit(&t, &poll.hit);
    assert_eq!(lines.last().unwrap(), super::tooltip::STALLED_HINT);
    let first = scene
        .items
        .iter()
        .find(|i| matches!(i.hit, Hit::Poll(_)) && (i.rect.left() - 100.0).abs() < 1.0)
        .unwrap();
    assert!(
        !super::tooltip::describe_hit(&t, &first.hit)
            .contains(&super::tooltip::STALLED_HINT.to_string())
    );
    // Zoomed out so far that the samples share a point: one tick, and the folded polls
    // are marked as holding a stalled one.
    let scene = scene_of(
        &t,
        TimeView {
            start: 0.0,
            end: 400_000.0,
        },
        area,
    );
    let ticks = scene
        .marks
        .iter()
        .filter(|(_, m)| *m == Mark::CpuSamples)
        .count();
    assert_eq!(ticks, 1);
    assert!(scene.marks.iter().any(|(_, m)| *m == Mark::Stalled));
    // A trace without samples has no marks.
    let plain = opened(&Synthetic::default());
    let scene = scene_of(&plain, TimeView::fit(plain.model.span()), area);
    assert!(scene.marks.is_empty());
}

#[test]
fn the_legend_says_what_worker_lane_colours_mean_and_none_is_a_state() {
    let entries = super::panel::legend_entries();
    let (colors, label) = &entries[0];
    assert!(label.starts_with("worker lanes"), "{label}");
    assert!(
        colors
            .iter()
            .all(|&c| (0..1000).any(|t| crate::app::palette::task_color(TaskIx(t)) == c))
    );
    // Every other entry's colour is at least a few just-noticeable steps from any task colour.
    for (colors, label) in &entries[1..] {
        for &c in colors {
            for t in 0..1000 {
                let d =
                    crate::app::palette::distance(c, crate::app::palette::task_color(TaskIx(t)));
                assert!(
                    d >= crate::app::palette::MIN_TASK_STATE_DISTANCE,
                    "{label}: task {t}"
                );
            }
        }
    }
}

#[test]
fn pinned_workers_and_counters_stay_at_the_top_while_the_rest_scrolls() {
    let s = Synthetic {
        tasks: 30,
        ..Synthetic::default()
    };
    let t = opened(&s);
    let lanes = Lanes::build(&t, &vec![false; t.groups.len()]);
    // The workers (and the counters, if any) first, pinned; the blocking thread after them.
    let workers = t.model.workers().len();
    assert!(workers > 0 && lanes.pinned >= workers, "{}", lanes.pinned);
    for l in &lanes.lanes[..lanes.pinned] {
        match l.kind {
            LaneKind::Thread(th) => assert!(t.model.threads[th.index()].is_worker()),
            LaneKind::Regions(_)
            | LaneKind::CounterHeader
            | LaneKind::RecorderHeader
            | LaneKind::Counter(_) => {}
            k => panic!("{k:?} is pinned"),
        }
    }
    assert_eq!(lanes.pinned_height, lanes.lanes[lanes.pinned - 1].bottom());
    let area = Rect::from_min_max(pos2(0.0, 100.0), pos2(500.0, 300.0));
    let view = TimeView::fit(t.model.span());
    let mut cache = SegmentCache::default();
    let scroll_y = 300.0;
    let scene = build_scene(
        &SceneInput {
            trace: &t,
            lanes: &lanes,
            view: &view,
            scroll_y,
            area,
            wake: None,
        },
        &mut cache,
    );
    let band = area.top() + lanes.pinned_height;
    let shown: Vec<usize> = scene.lanes.iter().map(|&(i, _)| i).collect();
    // Every pinned lane, at its own top; then only scrolled lanes wholly below them.
    assert_eq!(shown[..lanes.pinned], (0..lanes.pinned).collect::<Vec<_>>());
    for &(i, r) in &scene.lanes {
        if i < lanes.pinned {
            assert_eq!(r.top(), area.top() + lanes.lanes[i].top);
        } else {
            assert!(
                r.top() >= band - 0.5,
                "lane {i} at {r:?} is under the pinned lanes"
            );
            assert_eq!(r.top(), area.top() + lanes.lanes[i].top - scroll_y);
        }
        // The lane under a point of its rectangle is found back (gutter clicks).
        let y = r.center().y - area.top();
        assert_eq!(lanes.at_screen(y, scroll_y), Some(i));
    }
    assert!(
        shown.len() > lanes.pinned,
        "some task lanes scroll into view"
    );
}

fn task_lanes(state: &super::TimelineState) -> Vec<TaskIx> {
    state
        .lanes
        .lanes
        .iter()
        .filter_map(|l| match l.kind {
            LaneKind::Task { task, .. } => Some(task),
            _ => None,
        })
        .collect()
}

#[test]
fn zoomed_in_task_lanes_can_show_only_active_tasks_sorted_by_time_in_a_state() {
    let s = Synthetic::default();
    let t = opened(&s);
    let mut state = super::TimelineState::new(&t);
    let all = task_lanes(&state);
    // One poll's time: only the task polled then is active.
    let (start, end) = s.poll_span(0, 1, 1);
    let view = TimeView {
        start: start as f64,
        end: end as f64,
    };
    let polled: Vec<TaskIx> = t
        .model
        .polls
        .iter()
        .filter(|p| p.start < end && p.end > start)
        .map(|p| p.task)
        .collect();
    state.follow_view(&t, &view);
    assert_eq!(
        task_lanes(&state),
        all,
        "nothing asked: every task, spawn order"
    );
    state.task_options.active_only = true;
    state.follow_view(&t, &view);
    let active = task_lanes(&state);
    assert!(!active.is_empty() && active.len() < all.len(), "{active:?}");
    for task in &active {
        assert!(polled.contains(task), "{task:?} was not polled in view");
    }
    for task in &polled {
        assert!(active.contains(task), "{task:?} was polled in view");
    }
    // The whole trace, most scheduler wait first within each group.
    state.task_options = super::TaskLaneOptions {
        active_only: false,
        sort_by: Some(TaskState::SchedWait),
    };
    let whole = TimeView::fit(t.model.span());
    state.follow_view(&t, &whole);
    let sorted = task_lanes(&state);
    assert_eq!(sorted.len(), all.len());
    let wait = |task: TaskIx| -> u64 {
        let mut total = 0;
        trace_analysis::analysis::states::for_each_segment(&t.model, task, &t.paused, |s| {
            if s.state == TaskState::SchedWait {
                total += s.span.end - s.span.start;
            }
        });
        total
    };
    for w in state.lanes.lanes.windows(2) {
        if let (LaneKind::Task { task: a, group: ga }, LaneKind::Task { task: b, group: gb }) =
            (w[0].kind, w[1].kind)
            && ga == gb
        {
            assert!(wait(a) >= wait(b), "{a:?} before {b:?}");
        }
    }
    assert_ne!(sorted, all, "some group's order changed");
    // Asking for nothing again lists every task in spawn order.
    state.task_options = super::TaskLaneOptions::default();
    state.follow_view(&t, &whole);
    assert_eq!(task_lanes(&state), all);
}

/// The synthetic trace with counters, and the recorder's own `trace_rt.alloc.sample_rate`.
fn with_internal_counter() -> OpenTrace {
    let s = Synthetic {
        sample_ns: 20_000,
        ..Synthetic::default()
    };
    let mut b = s.build();
    b.string(9_001, "trace_rt.alloc.sample_rate");
    b.push(
        1,
        1_000,
        trace_format::Event::Counter {
            name: trace_format::StringId(9_001),
            value: 64,
        },
    );
    OpenTrace::from_bytes(b.to_bytes())
}

#[test]
fn recorder_counters_are_listed_apart_and_folded_away() {
    let t = with_internal_counter();
    let internal: Vec<usize> = (0..t.counters.len())
        .filter(|&k| t.counters[k].internal)
        .collect();
    assert_eq!(internal.len(), 1);
    assert_eq!(t.counters[internal[0]].label, "trace_rt.alloc.sample_rate");
    // Not among the counters shown: under a folded "recorder internals" header.
    let mut state = super::TimelineState::new(&t);
    let kinds: Vec<LaneKind> = state.lanes.lanes.iter().map(|l| l.kind).collect();
    assert!(
        !kinds.contains(&LaneKind::Counter(internal[0])),
        "{kinds:?}"
    );
    let header = kinds.iter().position(|k| *k == LaneKind::RecorderHeader);
    let last_counter = kinds
        .iter()
        .rposition(|k| matches!(k, LaneKind::Counter(_)))
        .unwrap();
    assert!(header.unwrap() > last_counter, "after the user's counters");
    // Unfolded, it is listed below its header.
    state.toggle_recorder(&t);
    let i = state.lanes.find(LaneKind::Counter(internal[0])).unwrap();
    assert_eq!(state.lanes.lanes[i - 1].kind, LaneKind::RecorderHeader);
}

#[test]
fn a_counter_lane_scales_from_zero_and_says_its_least_and_greatest_value() {
    let t = with_internal_counter();
    let lanes = Lanes::build(&t, &vec![false; t.groups.len()]);
    let area = Rect::from_min_max(pos2(0.0, 0.0), pos2(800.0, 4_000.0));
    let scene = {
        let mut cache = SegmentCache::default();
        build_scene(
            &SceneInput {
                trace: &t,
                lanes: &lanes,
                view: &TimeView::fit(t.model.span()),
                scroll_y: 0.0,
                area,
                wake: None,
            },
            &mut cache,
        )
    };
    let heap = scene
        .counters
        .iter()
        .find(|c| t.counters[c.track].label == "heap in use")
        .expect("the heap lane");
    let min = heap
        .columns
        .iter()
        .map(|c| c.min)
        .fold(f64::INFINITY, f64::min);
    let max = heap.columns.iter().map(|c| c.max).fold(0.0, f64::max);
    assert!(min > 0.0 && max > min, "{min} {max}");
    // The bottom of the lane is 0, not the least value: a small change stays small.
    assert_eq!(heap.scale.0, 0.0);
    let unit = t.counters[heap.track].unit;
    assert_eq!(
        heap.caption(&t),
        format!(
            "heap in use  {} – {}",
            unit.format(0.0),
            unit.format(heap.scale.1)
        )
    );
    assert_eq!(
        heap.range_text(&t).unwrap(),
        format!("min {} · max {}", unit.format(min), unit.format(max))
    );
}
