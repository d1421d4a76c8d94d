//! Lays a frame out without drawing anything ([`build_scene`]), so tests check it without a
//! GPU and the frame cost can be measured apart from egui: each lane in view is folded over
//! the time range shown ([`fold`](super::fold)) into rectangles — a thread's polls, idle
//! stretches, pauses and holes in its data; a task's states; a thread's regions and log
//! markers; a counter per pixel column — and the process-wide pauses over all of them.

use egui::{Rect, pos2};

use super::arrow::wake_arrow;
use super::counters::{fold_columns, scale};
use super::fold::{FOLD_GAP_PX, MIN_SLICE_PX, Piece, dominant_state, fold, fold_spans};
use super::lanes::{LOG_ROW_HEIGHT, LaneKind, Lanes, REGION_ROW_HEIGHT};
use super::scene::{CounterLane, Fill, Hit, Item, Label, Mark, Scene};
use super::segments::SegmentCache;
use super::xmap::XMap;
use crate::app::details::wake::WakeLink;
use crate::app::open_trace::OpenTrace;
use crate::app::sorted::{disjoint_in, gallop};
use crate::app::view::TimeView;
use trace_analysis::analysis::states::thread_data_end;
use trace_analysis::model::{Nanos, Span, ThreadIx};
use trace_format::Level;

/// Log lines closer than this (in points) are shown as one marker.
pub const LOG_MARKER_PX: f32 = 3.0;

/// Slices at least this wide get a text label.
pub const LABEL_MIN_PX: f32 = 48.0;

/// The inputs of [`build_scene`].
pub struct SceneInput<'a> {
    /// The trace.
    pub trace: &'a OpenTrace,
    /// Its lanes.
    pub lanes: &'a Lanes,
    /// The visible time range.
    pub view: &'a TimeView,
    /// How far the lanes are scrolled down.
    pub scroll_y: f32,
    /// The lanes area on screen.
    pub area: Rect,
    /// The wake to draw an arrow for (the selected poll's or wait's).
    pub wake: Option<&'a WakeLink>,
}

/// Lays out the frame: the rectangles for every lane in view.
pub fn build_scene(input: &SceneInput<'_>, cache: &mut SegmentCache) -> Scene {
    let SceneInput {
        trace,
        lanes,
        view,
        scroll_y,
        area,
        wake,
    } = *input;
    let xmap = XMap::new(view, area.left(), area.width());
    let (t0, t1) = xmap.visible_nanos();
    let mut scene = Scene {
        area,
        xmap,
        arrow: wake.and_then(|w| wake_arrow(lanes, w, &xmap, area, scroll_y)),
        ..Scene::default()
    };
    for li in lanes.shown(scroll_y, area.height()) {
        let lane = lanes.lanes[li];
        let top = area.top() + lanes.screen_top(li, scroll_y);
        let lane_rect = Rect::from_min_max(
            pos2(area.left(), top),
            pos2(area.right(), top + lane.height),
        );
        scene.lanes.push((li, lane_rect));
        match lane.kind {
            LaneKind::Thread(thread) => {
                thread_lane(&mut scene, trace, thread, li, lane_rect);
            }
            LaneKind::Task { task, .. } => {
                let segments = cache.get(trace, task);
                let range = disjoint_in(segments, |s| s.span, t0, t1);
                let (y0, y1) = (lane_rect.top() + 1.0, lane_rect.bottom() - 1.0);
                fold(
                    range,
                    |i| segments[i].span.start,
                    |i| segments[i].span.end,
                    &xmap,
                    MIN_SLICE_PX,
                    FOLD_GAP_PX,
                    |p| match p {
                        Piece::One { ix, x0, x1 } => {
                            let s = segments[ix];
                            scene.items.push(Item {
                                rect: hrect(x0, x1, y0, y1),
                                fill: Fill::State(s.state),
                                hit: Hit::Segment {
                                    task,
                                    span: s.span,
                                    state: s.state,
                                },
                            });
                        }
                        Piece::Folded { ixs, x0, x1 } => {
                            let mostly = dominant_state(segments, ixs.clone());
                            scene.items.push(Item {
                                rect: hrect(x0, x1, y0, y1),
                                fill: Fill::FoldedStates(mostly),
                                hit: Hit::Folded {
                                    lane: li,
                                    span: Span::new(
                                        segments[ixs.start].span.start,
                                        segments[ixs.end - 1].span.end,
                                    ),
                                    count: ixs.len(),
                                    what: "state changes",
                                    mostly: Some(mostly),
                                },
                            });
                        }
                    },
                );
            }
            LaneKind::Regions(thread) => {
                regions_lane(&mut scene, trace, thread, li, lane_rect);
            }
            LaneKind::Counter(track) => {
                let mut columns = Vec::new();
                fold_columns(&trace.counters[track], &xmap, trace.model.end, |c| {
                    columns.push(c)
                });
                scene.counters.push(CounterLane {
                    lane: li,
                    track,
                    rect: lane_rect,
                    scale: scale(&columns),
                    columns,
                });
            }
            LaneKind::Group(_) | LaneKind::CounterHeader | LaneKind::RecorderHeader => {}
        }
    }
    // Process-wide pauses over every lane.
    let (y0, y1) = (
        area.top(),
        area.top() + (lanes.height - scroll_y).min(area.height()),
    );
    fold_spans(&trace.paused, t0, t1, &xmap, |_, span, x0, x1| {
        scene.overlays.push(Item {
            rect: hrect(x0, x1, y0, y1),
            fill: Fill::ProcessPause,
            hit: Hit::ProcessPause(span),
        })
    });
    scene
}

/// A rectangle from `x0` to `x1` (at least one point wide) and `y0` to `y1`.
/// Marks the poll slice `rect` as stalled: a band along its bottom.
fn stalled_mark(scene: &mut Scene, rect: Rect) {
    let top = rect.bottom() - (rect.height() * 0.3).max(2.0);
    scene.marks.push((
        Rect::from_min_max(pos2(rect.left(), top), rect.right_bottom()),
        Mark::Stalled,
    ));
}

fn hrect(x0: f32, x1: f32, y0: f32, y1: f32) -> Rect {
    Rect::from_min_max(pos2(x0, y0), pos2(x1.max(x0 + 1.0), y1))
}

/// Lays out lane `li` (at `lane` on screen): a thread's idle stretches, polls, pauses and
/// lost-data markers, over the time range `scene.xmap` shows.
fn thread_lane(scene: &mut Scene, trace: &OpenTrace, thread: ThreadIx, li: usize, lane: Rect) {
    let xmap = &{ scene.xmap }; // a copy: `scene` is borrowed mutably below
    let (t0, t1) = xmap.visible_nanos();
    let model = &trace.model;
    let th = &model.threads[thread.index()];
    let h = lane.height();

    // Idle: a thin bar through the middle.
    let (py0, py1) = (lane.top() + h * 0.45, lane.top() + h * 0.55);
    fold_spans(&th.parks, t0, t1, xmap, |ixs, span, x0, x1| {
        scene.items.push(Item {
            rect: hrect(x0, x1, py0, py1),
            fill: Fill::Park,
            hit: if ixs.len() == 1 {
                Hit::Park { thread, span }
            } else {
                Hit::Folded {
                    lane: li,
                    span,
                    count: ixs.len(),
                    what: "idle stretches",
                    mostly: None,
                }
            },
        });
    });

    // Polls.
    let polls = model.thread_polls_in(thread, t0, t1);
    let base = th.polls.start + offset_in(model.thread_polls(thread), polls) as u32;
    let (y0, y1) = (lane.top() + 2.0, lane.bottom() - 2.0);
    fold(
        0..polls.len(),
        |i| polls[i].start,
        |i| polls[i].end,
        xmap,
        MIN_SLICE_PX,
        FOLD_GAP_PX,
        |p| match p {
            Piece::One { ix, x0, x1 } => {
                let poll = &polls[ix];
                let rect = hrect(x0, x1, y0, y1);
                let global = base + ix as u32;
                if trace.stalled_polls.binary_search(&global).is_ok() {
                    stalled_mark(scene, rect);
                }
                scene.items.push(Item {
                    rect,
                    fill: Fill::Task(poll.task),
                    hit: Hit::Poll(base + ix as u32),
                });
                label(scene, rect, || model.task_label(poll.task));
            }
            Piece::Folded { ixs, x0, x1 } => {
                let rect = hrect(x0, x1, y0, y1);
                let (lo, hi) = (base + ixs.start as u32, base + ixs.end as u32);
                let first = trace.stalled_polls.partition_point(|&p| p < lo);
                if trace.stalled_polls.get(first).is_some_and(|&p| p < hi) {
                    stalled_mark(scene, rect);
                }
                scene.items.push(Item {
                    rect,
                    fill: Fill::FoldedPolls,
                    hit: Hit::Folded {
                        lane: li,
                        span: Span::new(polls[ixs.start].start, polls[ixs.end - 1].end),
                        count: ixs.len(),
                        what: "polls",
                        mostly: None,
                    },
                })
            }
        },
    );

    // CPU samples: a tick along the top, one per point at most (like the polls, folded).
    let times = &trace.cpu_times[thread.index()];
    let lo = times.partition_point(|&t| t < t0);
    let hi = times.partition_point(|&t| t <= t1);
    let mut i = lo;
    while i < hi {
        let x = xmap.x(times[i]).floor();
        scene.marks.push((
            Rect::from_min_max(pos2(x, lane.top()), pos2(x + 1.0, lane.top() + 4.0)),
            Mark::CpuSamples,
        ));
        // Skip the samples on this point.
        let next_t = xmap.t(x + 1.0).ceil().max(0.0) as Nanos;
        i += 1 + times[i + 1..hi].partition_point(|&t| t < next_t);
    }

    // Thread-scoped pauses: a band along the bottom.
    let (qy0, qy1) = (lane.bottom() - 5.0, lane.bottom());
    fold_spans(
        &trace.thread_paused[thread.index()],
        t0,
        t1,
        xmap,
        |_, span, x0, x1| {
            scene.items.push(Item {
                rect: hrect(x0, x1, qy0, qy1),
                fill: Fill::ThreadPause,
                hit: Hit::ThreadPause { thread, span },
            })
        },
    );

    // Where the thread's data ends early: the rest of its lane is "no data", with a red
    // edge where it ends.
    if let Some(d) = thread_data_end(&trace.model, thread)
        && d <= t1
    {
        let x0 = xmap.x(d);
        let x1 = xmap.x(trace.model.end).max(x0 + 2.0);
        let hit = Hit::DataEnds { thread, time: d };
        scene.items.push(Item {
            rect: Rect::from_min_max(pos2(x0, lane.top()), pos2(x1, lane.bottom())),
            fill: Fill::NoData,
            hit: hit.clone(),
        });
        scene.items.push(Item {
            rect: Rect::from_min_max(pos2(x0 - 1.0, lane.top()), pos2(x0 + 1.0, lane.bottom())),
            fill: Fill::Lost,
            hit,
        });
    }

    // Holes in the data: a red tick at the point the data resumes, one per point at most.
    let lost = &trace.lost_by_thread[thread.index()];
    let lo = lost.partition_point(|m| m.time < t0);
    let hi = lost.partition_point(|m| m.time <= t1);
    let mut last_x = f32::NEG_INFINITY;
    let mut i = lo;
    while i < hi {
        let m = lost[i];
        let x = xmap.x(m.time);
        if x - last_x >= 1.0 {
            scene.items.push(Item {
                rect: Rect::from_min_max(pos2(x - 1.0, lane.top()), pos2(x + 1.0, lane.bottom())),
                fill: Fill::Lost,
                hit: Hit::Lost {
                    thread,
                    time: m.time,
                    chunks: m.chunks,
                    events: m.events,
                },
            });
            last_x = x;
            i += 1;
        } else {
            // Skip the markers on this point.
            let next_t = xmap.t(last_x + 1.0).ceil().max(0.0) as Nanos;
            i = i + 1 + lost[i + 1..hi].partition_point(|m| m.time < next_t);
        }
    }
}

/// A thread's regions (a row per depth, folded like polls) and its log lines (a marker per
/// few points, standing for the lines there).
fn regions_lane(scene: &mut Scene, trace: &OpenTrace, thread: ThreadIx, li: usize, lane: Rect) {
    let xmap = &{ scene.xmap }; // a copy: `scene` is borrowed mutably below
    let (t0, t1) = xmap.visible_nanos();
    let regions = &trace.model.threads[thread.index()].regions;
    for (depth, row) in trace.region_rows[thread.index()].iter().enumerate() {
        let y0 = lane.top() + 1.0 + depth as f32 * REGION_ROW_HEIGHT;
        let y1 = y0 + REGION_ROW_HEIGHT - 1.0;
        let spans = &row.spans;
        fold(
            disjoint_in(spans, |s| *s, t0, t1),
            |i| spans[i].start,
            |i| spans[i].end,
            xmap,
            MIN_SLICE_PX,
            FOLD_GAP_PX,
            |p| match p {
                Piece::One { ix, x0, x1 } => {
                    let name = regions[row.ix[ix] as usize].name;
                    let rect = hrect(x0, x1, y0, y1);
                    scene.items.push(Item {
                        rect,
                        fill: Fill::Region(name),
                        hit: Hit::Region {
                            thread,
                            region: row.ix[ix],
                        },
                    });
                    label(scene, rect, || trace.model.string(name).to_string());
                }
                Piece::Folded { ixs, x0, x1 } => scene.items.push(Item {
                    rect: hrect(x0, x1, y0, y1),
                    fill: Fill::FoldedRegions,
                    hit: Hit::Folded {
                        lane: li,
                        span: Span::new(spans[ixs.start].start, spans[ixs.end - 1].end),
                        count: ixs.len(),
                        what: "regions",
                        mostly: None,
                    },
                }),
            },
        );
    }
    let times = &trace.log_times[thread.index()];
    if times.is_empty() {
        return;
    }
    let (logs, all) = (&trace.logs_by_thread[thread.index()], &trace.model.logs);
    let (y0, y1) = (lane.bottom() - LOG_ROW_HEIGHT, lane.bottom() - 1.0);
    let mut i = times.partition_point(|&t| t < t0);
    let hi = times.partition_point(|&t| t < t1.max(t0 + 1));
    while i < hi {
        let x = xmap.x(times[i]);
        // The lines within a marker's width of this one share its marker.
        let until = xmap.t(x + LOG_MARKER_PX).ceil().max(0.0) as Nanos;
        let j = i + 1 + gallop(&times[i + 1..hi], |&t| t < until);
        let level = if j - i <= 16 {
            (i..j)
                .map(|k| all[logs[k] as usize].level)
                .max()
                .unwrap_or(Level::Info)
        } else {
            // Many lines on one tick: the first one's level, or the worst warning or error
            // among them (found in the list of those, not by reading every line).
            let warnings = &trace.log_warnings[thread.index()];
            let w0 = warnings.partition_point(|&w| (w as usize) < i);
            let w1 = w0 + gallop(&warnings[w0..], |&w| (w as usize) < j);
            warnings[w0..w1]
                .iter()
                .take(16)
                .map(|&w| all[logs[w as usize] as usize].level)
                .chain([all[logs[i] as usize].level])
                .max()
                .unwrap_or(Level::Info)
        };
        scene.items.push(Item {
            rect: Rect::from_min_max(pos2(x - 1.0, y0), pos2(x + 1.5, y1)),
            fill: Fill::Log(level),
            hit: Hit::Logs {
                first: i as u32,
                count: (j - i) as u32,
                thread,
            },
        });
        i = j;
    }
}

/// Where `sub`, a subslice of `all`, starts in it.
fn offset_in<T>(all: &[T], sub: &[T]) -> usize {
    let size = std::mem::size_of::<T>().max(1);
    (sub.as_ptr() as usize).saturating_sub(all.as_ptr() as usize) / size
}

/// Adds a label inside `rect` when it is wide enough.
fn label(scene: &mut Scene, rect: Rect, text: impl FnOnce() -> String) {
    let visible = rect.intersect(scene.area);
    if visible.width() >= LABEL_MIN_PX {
        scene.labels.push(Label {
            pos: pos2(visible.left() + 3.0, visible.center().y),
            max_width: visible.width() - 6.0,
            text: text(),
        });
    }
}
