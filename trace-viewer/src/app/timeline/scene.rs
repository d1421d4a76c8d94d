//! One laid-out frame of the timeline: its rectangles (what colour, which poll or state
//! stretch each stands for), the labels of slices wide enough to hold one, the counter lanes
//! folded per pixel column and the wake arrow; and the hit test that maps a pointer position
//! back to the thing under it. Built by [`build_scene`](super::build::build_scene), painted
//! by [`paint`](super::paint).

use egui::{Pos2, Rect};

use super::arrow::Arrow;
use super::counters::Column;
use super::fold::MIN_SLICE_PX;
use super::xmap::XMap;
use crate::app::open_trace::OpenTrace;
use crate::app::view::TimeView;
use trace_analysis::analysis::states::TaskState;
use trace_analysis::model::{Nanos, Span, TaskIx, ThreadIx};
use trace_format::{Level, StringId};

/// What colour a rectangle gets (the palette is the widget's business).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    /// A poll, coloured by its task.
    Task(TaskIx),
    /// A task state stretch.
    State(TaskState),
    /// Folded polls of a thread.
    FoldedPolls,
    /// Folded state stretches of a task, coloured (darker) by the state that covers most of
    /// their time.
    FoldedStates(TaskState),
    /// A thread parked (idle).
    Park,
    /// A thread-scoped pause.
    ThreadPause,
    /// A process-wide pause (drawn over all lanes).
    ProcessPause,
    /// A hole in a thread's data.
    Lost,
    /// A thread's lane after its data ends (a cut or damaged file).
    NoData,
    /// A region, coloured by its name.
    Region(StringId),
    /// Regions too narrow to show apart.
    FoldedRegions,
    /// A log line marker, by the most severe level it stands for.
    Log(Level),
}

/// What a rectangle stands for: shown in the tooltip, selected on click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Hit {
    /// A poll: an index into `Model::polls`.
    Poll(u32),
    /// A task's state stretch.
    Segment {
        /// The task.
        task: TaskIx,
        /// When.
        span: Span,
        /// In what state.
        state: TaskState,
    },
    /// Several intervals too narrow to show apart.
    Folded {
        /// The lane.
        lane: usize,
        /// From the first one's start to the last one's end.
        span: Span,
        /// How many.
        count: usize,
        /// What they are ("polls", "parks", "states", …).
        what: &'static str,
        /// For task states: the state covering most of their time.
        mostly: Option<TaskState>,
    },
    /// A thread parked.
    Park {
        /// The thread.
        thread: ThreadIx,
        /// When.
        span: Span,
    },
    /// A thread-scoped pause.
    ThreadPause {
        /// The thread.
        thread: ThreadIx,
        /// When.
        span: Span,
    },
    /// A process-wide pause.
    ProcessPause(Span),
    /// A region: `region` indexes its thread's `Thread::regions`.
    Region {
        /// The thread.
        thread: ThreadIx,
        /// Which of its regions.
        region: u32,
    },
    /// Log lines close together (one when `count` is 1).
    Logs {
        /// The first: an index into the thread's `OpenTrace::logs_by_thread`.
        first: u32,
        /// How many (the thread's lines from `first` on).
        count: u32,
        /// The thread.
        thread: ThreadIx,
    },
    /// Where a thread's data ends, before the end of the trace (a cut or damaged file).
    DataEnds {
        /// The thread.
        thread: ThreadIx,
        /// Its last event.
        time: Nanos,
    },
    /// A hole in a thread's data.
    Lost {
        /// The thread.
        thread: ThreadIx,
        /// Where the data resumes.
        time: Nanos,
        /// Chunks missing.
        chunks: u64,
        /// Events in them (0 when not counted).
        events: u64,
    },
}

/// A mark drawn over the lanes, not hit by the pointer (what it marks is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// CPU samples of a thread: a tick per point at the top of its lane.
    CpuSamples,
    /// A poll with stall samples (or folded polls among which one is): a band along the
    /// bottom of its slice.
    Stalled,
}

/// One rectangle of the frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Where, in screen points.
    pub rect: Rect,
    /// Its colour.
    pub fill: Fill,
    /// What it is.
    pub hit: Hit,
}

/// A text label inside a slice.
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// Left-centre of the text.
    pub pos: Pos2,
    /// Room for it, in points.
    pub max_width: f32,
    /// The text.
    pub text: String,
}

/// Everything in the lanes area for one frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// The lanes area, in screen points.
    pub area: Rect,
    /// Rectangles, in drawing order (later ones on top).
    pub items: Vec<Item>,
    /// Process-wide pauses, drawn translucent over every lane.
    pub overlays: Vec<Item>,
    /// Labels.
    pub labels: Vec<Label>,
    /// Lanes drawn, with their screen rectangles.
    pub lanes: Vec<(usize, Rect)>,
    /// Counter lanes drawn.
    pub counters: Vec<CounterLane>,
    /// The time mapping the frame was laid out with.
    pub xmap: XMap,
    /// The selected wake's arrow.
    pub arrow: Option<Arrow>,
    /// Marks over the rectangles: CPU sample ticks, stalled polls.
    pub marks: Vec<(Rect, Mark)>,
}

/// A counter lane of one frame: its pixel columns and vertical scale.
#[derive(Debug, Clone, PartialEq)]
pub struct CounterLane {
    /// The lane.
    pub lane: usize,
    /// The track (an index into [`OpenTrace::counters`]).
    pub track: usize,
    /// Its screen rectangle.
    pub rect: Rect,
    /// The values at the bottom and the top of the lane.
    pub scale: (f64, f64),
    /// Its columns, left to right.
    pub columns: Vec<Column>,
}

impl CounterLane {
    /// The height of `v` in the lane (clamped to it), leaving a point free at the top.
    pub fn y(&self, v: f64) -> f32 {
        let (lo, hi) = self.scale;
        let share = ((v - lo) / (hi - lo)).clamp(0.0, 1.0) as f32;
        self.rect.bottom() - 1.0 - share * (self.rect.height() - 3.0)
    }

    /// The lane's name with its scale, bottom to top: "heap in use  0 – 12 MiB" (the
    /// bottom is 0 unless values go below it, so a flat series does not read as a climb).
    pub fn caption(&self, trace: &OpenTrace) -> String {
        let t = &trace.counters[self.track];
        format!(
            "{}  {} – {}",
            t.label,
            t.unit.format(self.scale.0),
            t.unit.format(self.scale.1)
        )
    }

    /// The least and greatest value in view, written on the lane: "min 990 KiB · max 1 MiB"
    /// (`flat 1 MiB` when they are equal); `None` with nothing in view.
    pub fn range_text(&self, trace: &OpenTrace) -> Option<String> {
        let unit = trace.counters[self.track].unit;
        let min = self.columns.iter().map(|c| c.min).reduce(f64::min)?;
        let max = self.columns.iter().map(|c| c.max).reduce(f64::max)?;
        Some(if min == max {
            format!("flat {}", unit.format(min))
        } else {
            format!("min {} · max {}", unit.format(min), unit.format(max))
        })
    }
}

impl Default for Scene {
    fn default() -> Self {
        Scene {
            area: Rect::NOTHING,
            items: Vec::new(),
            overlays: Vec::new(),
            labels: Vec::new(),
            lanes: Vec::new(),
            counters: Vec::new(),
            xmap: XMap::new(
                &TimeView {
                    start: 0.0,
                    end: 1.0,
                },
                0.0,
                1.0,
            ),
            arrow: None,
            marks: Vec::new(),
        }
    }
}

impl Scene {
    /// The item under `pos`: the topmost rectangle there, else a pause overlay. Rectangles
    /// narrower than a few points are hit within a small margin so they can be pointed at.
    pub fn hit(&self, pos: Pos2) -> Option<&Item> {
        let slack = |r: &Rect| {
            let grow = ((MIN_SLICE_PX - r.width()) / 2.0).max(0.0);
            r.expand2(egui::vec2(grow, 0.0))
        };
        if !self.area.contains(pos) {
            return None;
        }
        self.items
            .iter()
            .rev()
            .find(|i| slack(&i.rect).contains(pos))
            .or_else(|| {
                self.overlays
                    .iter()
                    .rev()
                    .find(|i| slack(&i.rect).contains(pos))
            })
    }

    /// The counter under `pos` and the time there: `(track, time)`.
    pub fn counter_at(&self, pos: Pos2) -> Option<(usize, Nanos)> {
        if !self.area.contains(pos) {
            return None;
        }
        let c = self.counters.iter().find(|c| c.rect.contains(pos))?;
        Some((c.track, self.xmap.t(pos.x).max(0.0).round() as Nanos))
    }

    /// The lane under `pos`.
    pub fn lane_at(&self, pos: Pos2) -> Option<usize> {
        self.lanes
            .iter()
            .find(|(_, r)| r.contains(pos))
            .map(|&(lane, _)| lane)
    }
}
