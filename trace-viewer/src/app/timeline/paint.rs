//! Paints a laid-out timeline frame: all rectangles into one [`egui::Mesh`] (a mesh of
//! 100 k rectangles costs about what 3 k separate shapes do), the pause overlays into a
//! second one, then the few labels, outlines and the time axis.

use egui::{Align2, Color32, FontId, Mesh, Painter, Rect, Shape, Stroke, StrokeKind, pos2};

use super::arrow::Arrow;
use super::scene::Fill;
use super::scene::{Hit, Item, Mark, Scene};
use crate::app::axis::Axis;
use crate::app::counters::CounterTrack;
use crate::app::labels::elide_middle;
use crate::app::palette::{
    self, FOLDED, LOST, PARK, PROCESS_PAUSE, THREAD_PAUSE, folded, log_color, region_color,
    state_color, task_color,
};
use crate::app::view::Selection;
use trace_analysis::analysis::states::TaskState;
use trace_analysis::model::Model;

/// Paints the lanes of `scene`, with the selected task's slices and `hovered` outlined.
pub fn paint_scene(
    painter: &Painter,
    scene: &Scene,
    model: &Model,
    counters: &[CounterTrack],
    selection: Option<Selection>,
    hovered: Option<&Item>,
) {
    let painter = painter.with_clip_rect(scene.area);
    // Alternate lane backgrounds so rows can be followed across the screen.
    let mut mesh = Mesh::default();
    for (lane, rect) in &scene.lanes {
        if lane % 2 == 1 {
            mesh.add_colored_rect(*rect, Color32::from_white_alpha(6));
        }
    }
    mesh.reserve_triangles(scene.items.len() * 2);
    mesh.reserve_vertices(scene.items.len() * 4);
    for item in &scene.items {
        mesh.add_colored_rect(item.rect, fill_color(item.fill));
    }
    for &(rect, mark) in &scene.marks {
        mesh.add_colored_rect(rect, mark_color(mark));
    }
    paint_counters(&mut mesh, scene, counters);
    painter.add(Shape::mesh(mesh));

    if !scene.overlays.is_empty() {
        let mut overlay = Mesh::default();
        for item in &scene.overlays {
            overlay.add_colored_rect(item.rect, fill_color(item.fill));
            // Edges, so a pause stands out even where lanes are busy.
            for x in [item.rect.left(), item.rect.right()] {
                overlay.add_colored_rect(
                    Rect::from_min_max(
                        pos2(x - 0.5, item.rect.top()),
                        pos2(x + 0.5, item.rect.bottom()),
                    ),
                    palette::THREAD_PAUSE,
                );
            }
        }
        painter.add(Shape::mesh(overlay));
    }

    let font = FontId::proportional(11.0);
    for label in &scene.labels {
        // Too long for its slice: shortened in the middle, so a task's file:line and id
        // stay (cutting the end left `example`).
        let text = elide_middle(&label.text, |s| {
            painter
                .layout_no_wrap(s.to_string(), font.clone(), Color32::BLACK)
                .size()
                .x
                <= label.max_width
        });
        if text.is_empty() {
            continue;
        }
        let galley = painter.layout_no_wrap(text, font.clone(), Color32::BLACK);
        painter.galley(
            pos2(label.pos.x, label.pos.y - galley.size().y / 2.0),
            galley,
            Color32::BLACK,
        );
    }

    if let Some(task) = selection.and_then(|s| s.task()) {
        let stroke = Stroke::new(1.5, Color32::WHITE);
        for item in &scene.items {
            let of_task = match item.hit {
                Hit::Poll(p) => model.polls[p as usize].task == task,
                Hit::Segment { task: t, .. } => t == task,
                _ => false,
            };
            if of_task {
                painter.rect_stroke(item.rect, 0.0, stroke, StrokeKind::Outside);
            }
        }
    }
    if let Some(item) = hovered {
        painter.rect_stroke(
            item.rect,
            0.0,
            Stroke::new(1.0, Color32::from_rgb(255, 255, 160)),
            StrokeKind::Outside,
        );
    }
}

/// The counter lanes: per column, a faint area from the bottom up to the least value and
/// a solid band from the least to the greatest (at least a line thick), so a step line
/// with its per-pixel range.
fn paint_counters(mesh: &mut Mesh, scene: &Scene, tracks: &[CounterTrack]) {
    for lane in &scene.counters {
        let style = tracks[lane.track].style;
        let (line, area) = (palette::counter_color(style), palette::counter_area(style));
        let bottom = lane.rect.bottom();
        for c in &lane.columns {
            let (y_min, y_max) = (lane.y(c.min), lane.y(c.max));
            if bottom - y_min > 0.5 {
                mesh.add_colored_rect(
                    Rect::from_min_max(pos2(c.x0, y_min), pos2(c.x1, bottom)),
                    area,
                );
            }
            let mid = (y_min + y_max) / 2.0;
            let (top, low) = (y_max.min(mid - 0.75), y_min.max(mid + 0.75));
            mesh.add_colored_rect(Rect::from_min_max(pos2(c.x0, top), pos2(c.x1, low)), line);
        }
    }
}

/// The wake arrow: a line from the wake to what it readied, a dot at the wake, a head at
/// the other end.
pub fn paint_arrow(painter: &Painter, area: Rect, arrow: Arrow) {
    let painter = painter.with_clip_rect(area);
    let color = Color32::from_rgb(255, 235, 59);
    let stroke = Stroke::new(1.5, color);
    let (a, b) = (arrow.from, arrow.to);
    painter.line_segment([a, b], stroke);
    painter.circle_filled(a, 3.0, color);
    let d = b - a;
    if d.length() > 1.0 {
        let dir = d.normalized();
        let side = egui::vec2(-dir.y, dir.x);
        let back = b - dir * 8.0;
        painter.add(Shape::convex_polygon(
            vec![b, back + side * 4.0, back - side * 4.0],
            color,
            Stroke::NONE,
        ));
    }
}

/// A hairline at `x` across `lane`, where the counter tooltip reads its value.
pub fn paint_counter_cursor(painter: &Painter, lane: Rect, x: f32) {
    painter.line_segment(
        [pos2(x, lane.top()), pos2(x, lane.bottom())],
        Stroke::new(1.0, Color32::from_white_alpha(160)),
    );
}

/// Paints the time axis into `rect`: ticks, their labels, the time under the pointer
/// (`pointer`: its x and text) and a mark under each process-wide pause of `scene`.
pub fn paint_axis(
    painter: &Painter,
    rect: Rect,
    axis: &Axis,
    scene: &Scene,
    pointer: Option<(f32, &str)>,
    text: Color32,
) {
    let painter = painter.with_clip_rect(rect);
    let font = FontId::proportional(11.0);
    let tick_color = text.gamma_multiply(0.6);
    for tick in &axis.ticks {
        painter.line_segment(
            [
                pos2(tick.x, rect.bottom() - 6.0),
                pos2(tick.x, rect.bottom()),
            ],
            Stroke::new(1.0, tick_color),
        );
        painter.text(
            pos2(tick.x + 2.0, rect.bottom() - 7.0),
            Align2::LEFT_BOTTOM,
            &tick.label,
            font.clone(),
            text,
        );
    }
    if let Some((x, time)) = pointer {
        // The time under the pointer, whole and precise, on a box over the ticks.
        let galley = painter.layout_no_wrap(time.to_string(), font, Color32::WHITE);
        let size = galley.size() + egui::vec2(8.0, 2.0);
        let left = (x - size.x / 2.0).clamp(rect.left(), (rect.right() - size.x).max(rect.left()));
        let bg = Rect::from_min_size(pos2(left, rect.top()), size);
        painter.rect_filled(bg, 2.0, Color32::from_rgb(40, 70, 110));
        painter.galley(pos2(left + 4.0, rect.top() + 1.0), galley, Color32::WHITE);
        painter.line_segment(
            [pos2(x, bg.bottom()), pos2(x, rect.bottom())],
            Stroke::new(1.0, Color32::WHITE),
        );
    }
    for item in &scene.overlays {
        let r = Rect::from_min_max(
            pos2(item.rect.left(), rect.bottom() - 3.0),
            pos2(item.rect.right().max(item.rect.left() + 1.0), rect.bottom()),
        );
        painter.rect_filled(r, 0.0, palette::THREAD_PAUSE);
    }
    painter.line_segment(
        [rect.left_bottom(), rect.right_bottom()],
        Stroke::new(1.0, tick_color),
    );
}

/// Vertical grid lines at the ticks, behind the lanes.
pub fn paint_grid(painter: &Painter, area: Rect, axis: &Axis) {
    let stroke = Stroke::new(1.0, Color32::from_white_alpha(10));
    for tick in &axis.ticks {
        painter.line_segment(
            [pos2(tick.x, area.top()), pos2(tick.x, area.bottom())],
            stroke,
        );
    }
}

/// The selected time range: a band over the lanes and the axis, with its length on top.
pub fn paint_range(
    painter: &Painter,
    axis: Rect,
    lanes: Rect,
    view: &crate::app::view::TimeView,
    range: trace_analysis::model::Span,
) {
    let area = axis.union(lanes);
    let painter = painter.with_clip_rect(area);
    let x0 = view.x_of(range.start as f64, lanes.left(), lanes.width());
    let x1 = view
        .x_of(range.end as f64, lanes.left(), lanes.width())
        .max(x0 + 1.0);
    let band = Rect::from_min_max(pos2(x0, area.top()), pos2(x1, area.bottom()));
    painter.rect_filled(band, 0.0, Color32::from_rgba_unmultiplied(90, 140, 255, 40));
    let edge = Stroke::new(1.0, Color32::from_rgb(120, 170, 255));
    for x in [x0, x1] {
        painter.line_segment([pos2(x, area.top()), pos2(x, area.bottom())], edge);
    }
    let label = trace_analysis::units::format_duration(range.len());
    let galley = painter.layout_no_wrap(label, FontId::proportional(11.0), Color32::WHITE);
    let at = pos2(
        ((x0 + x1) / 2.0 - galley.size().x / 2.0).max(area.left()),
        axis.top() + 1.0,
    );
    painter.rect_filled(
        Rect::from_min_size(
            at - egui::vec2(3.0, 0.0),
            galley.size() + egui::vec2(6.0, 1.0),
        ),
        2.0,
        Color32::from_rgb(40, 70, 140),
    );
    painter.galley(at, galley, Color32::WHITE);
}

/// The colour of a mark: CPU ticks white, stalled polls red.
pub fn mark_color(mark: Mark) -> Color32 {
    match mark {
        Mark::CpuSamples => Color32::from_rgb(235, 235, 235),
        Mark::Stalled => Color32::from_rgb(230, 30, 30),
    }
}

/// The colour of a scene fill.
pub fn fill_color(fill: Fill) -> Color32 {
    match fill {
        Fill::Task(t) => task_color(t),
        Fill::State(s) => state_color(s),
        Fill::FoldedPolls => FOLDED,
        Fill::FoldedStates(s) => folded(state_color(s)),
        Fill::Park => PARK,
        Fill::ThreadPause => THREAD_PAUSE,
        Fill::ProcessPause => PROCESS_PAUSE,
        Fill::Lost => LOST,
        Fill::NoData => state_color(TaskState::NoData),
        Fill::Region(name) => region_color(name),
        Fill::FoldedRegions => FOLDED,
        Fill::Log(level) => log_color(level),
    }
}
