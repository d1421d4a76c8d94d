//! The timeline panel: time axis on top, lane names on the left, lanes in the middle, the
//! state legend at the bottom. Turns pointer and keyboard input into [`ViewInput`]s and
//! selections, lays the frame out ([`build_scene`]) and hands it to the painter; what it
//! asks of the rest of the window (the search bar) it returns as a [`Request`].

use egui::{
    Color32, Event, FontId, Key, MouseWheelUnit, Pos2, Rect, Role, Sense, Stroke, Ui, WidgetInfo,
    pos2, vec2,
};

use super::TimelineState;
use super::build::{SceneInput, build_scene};
use super::lanes::LaneKind;
use super::paint;
use super::scene::Hit;
use super::tooltip::{describe_counter, describe_hit};
use crate::app::axis::{axis, pointer_time};
use crate::app::details::DetailsState;
use crate::app::labels::{elide_middle, short_state_label};
use crate::app::open_trace::OpenTrace;
use crate::app::palette;
use crate::app::view::{Geometry, Selection, ViewInput, ViewState};
use trace_analysis::model::TaskIx;

/// Width of the lane-name column at first (drag its right border to change it).
pub const GUTTER_WIDTH: f32 = 230.0;
/// The narrowest lane-name column.
pub const MIN_GUTTER_WIDTH: f32 = 80.0;
/// Width of the grip on the lane-name column's right border.
const GRIP_WIDTH: f32 = 8.0;
/// Height of the time axis.
pub const AXIS_HEIGHT: f32 = 24.0;
/// Height of the legend strip.
pub const LEGEND_HEIGHT: f32 = 22.0;

/// The accessibility label of the lanes area (tests find it by this).
pub const LANES_LABEL: &str = "timeline lanes";
/// The accessibility label of the lane-name column's border (drag it to resize).
pub const GRIP_LABEL: &str = "lane names border";
/// The accessibility label of the time axis (drag on it to select a range).
pub const AXIS_LABEL: &str = "time axis";

/// Where the parts of the panel go inside `full`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PanelRects {
    /// The time axis.
    pub axis: Rect,
    /// Lane names.
    pub gutter: Rect,
    /// Lanes.
    pub lanes: Rect,
    /// The legend.
    pub legend: Rect,
    /// Left of the axis, above the lane names: the lanes menu.
    pub corner: Rect,
}

impl PanelRects {
    /// Splits `full`, with a lane-name column `gutter_width` wide (kept between
    /// [`MIN_GUTTER_WIDTH`] and 70 % of `full`).
    pub fn new(full: Rect, gutter_width: f32) -> PanelRects {
        let w = gutter_width.min(full.width() * 0.7).max(MIN_GUTTER_WIDTH);
        let left = (full.left() + w).min(full.right() - 50.0);
        let top = full.top() + AXIS_HEIGHT;
        let bottom = (full.bottom() - LEGEND_HEIGHT).max(top + 10.0);
        PanelRects {
            axis: Rect::from_min_max(pos2(left, full.top()), pos2(full.right(), top)),
            gutter: Rect::from_min_max(pos2(full.left(), top), pos2(left, bottom)),
            lanes: Rect::from_min_max(pos2(left, top), pos2(full.right(), bottom)),
            legend: Rect::from_min_max(pos2(full.left(), bottom), full.max),
            corner: Rect::from_min_max(full.min, pos2(left, top)),
        }
    }

    /// The geometry the view state needs.
    pub fn geometry(&self, content_height: f32) -> Geometry {
        Geometry {
            left: self.lanes.left(),
            width: self.lanes.width(),
            viewport_height: self.lanes.height(),
            content_height,
        }
    }
}

/// What the Timeline view works on.
pub struct Parts<'a> {
    /// The trace.
    pub trace: &'a OpenTrace,
    /// The view: time range, scroll, selection, selected range.
    pub view: &'a mut ViewState,
    /// The lanes, their folding and the last frame.
    pub timeline: &'a mut TimelineState,
    /// The selection's details (a click selects; the selected wake is drawn as an arrow).
    pub details: &'a mut DetailsState,
}

/// What the view asks of the rest of the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// `/`: show the search bar, with the keyboard in it.
    OpenSearch,
}

/// Shows the timeline in the rest of `ui`.
pub fn show(ui: &mut Ui, mut tl: Parts<'_>) -> Option<Request> {
    let mut request = None;
    let full = ui.available_rect_before_wrap();
    tl.timeline.panel = full;
    let taken_wheel = std::mem::take(&mut tl.timeline.wheel);
    let mut rects = PanelRects::new(full, tl.timeline.gutter_width);
    let lanes_resp = ui.interact(
        rects.lanes,
        ui.scope_id().with("timeline-lanes"),
        Sense::click_and_drag(),
    );
    lanes_resp.widget_info(|| WidgetInfo::labeled(Role::Canvas, true, LANES_LABEL));
    // The lane-name column's border, over the lanes' edge (added later, so it wins the
    // pointer there): dragging it resizes the column and does not pan.
    let grip = Rect::from_min_max(
        pos2(rects.gutter.right() - GRIP_WIDTH / 2.0, rects.axis.top()),
        pos2(
            rects.gutter.right() + GRIP_WIDTH / 2.0,
            rects.gutter.bottom(),
        ),
    );
    let grip_resp = ui
        .interact(grip, ui.scope_id().with("timeline-grip"), Sense::drag())
        .on_hover_cursor(egui::CursorIcon::ResizeHorizontal);
    grip_resp.widget_info(|| WidgetInfo::labeled(Role::Splitter, true, GRIP_LABEL));
    if grip_resp.dragged() {
        let w = rects.gutter.width() + grip_resp.drag_delta().x;
        tl.timeline.gutter_width = w.clamp(MIN_GUTTER_WIDTH, full.width() * 0.7);
        rects = PanelRects::new(full, tl.timeline.gutter_width);
    }
    let gutter_resp = ui.interact(
        rects.gutter,
        ui.scope_id().with("timeline-gutter"),
        Sense::click(),
    );
    let axis_resp = ui.interact(
        rects.axis,
        ui.scope_id().with("timeline-axis"),
        Sense::drag(),
    );
    axis_resp.widget_info(|| WidgetInfo::labeled(Role::Canvas, true, AXIS_LABEL));

    // Range selection: drag on the time axis, or shift + drag on the lanes.
    let pointer_t = |view: &ViewState, p: Pos2| {
        view.time
            .time_at(p.x, rects.lanes.left(), rects.lanes.width())
    };
    let shift = ui.input(|i| i.modifiers.shift);
    if (axis_resp.drag_started() || (lanes_resp.drag_started() && shift))
        && let Some(p) = ui.input(|i| i.pointer.press_origin())
    {
        let t = pointer_t(tl.view, p);
        tl.view.range_start(t);
    }
    if tl.view.range_anchor.is_some() {
        if let Some(p) = ui.input(|i| i.pointer.interact_pos()) {
            let t = pointer_t(tl.view, p);
            tl.view.range_drag(t);
        }
        if axis_resp.drag_stopped()
            || lanes_resp.drag_stopped()
            || !ui.input(|i| i.pointer.any_down())
        {
            tl.view.range_end();
        }
    }

    // Input first, so this frame shows its effect.
    let geometry = rects.geometry(tl.timeline.lanes.height);
    let ranging = tl.view.range_anchor.is_some();
    for input in gather_input(ui, &rects, &lanes_resp, ranging, &taken_wheel) {
        tl.view.apply(input, &geometry);
    }
    if !ui.egui_wants_keyboard_input() {
        // `/` opens the search bar; its character must not land in the box.
        let slash = ui.input_mut(|i| {
            let pressed = i.consume_key(egui::Modifiers::NONE, Key::Slash);
            if pressed {
                i.events
                    .retain(|e| !matches!(e, Event::Text(t) if t == "/"));
            }
            pressed
        });
        if slash {
            request = Some(Request::OpenSearch);
        }
        if ui.input(|i| i.key_pressed(Key::F)) {
            tl.view.fit_selection(&tl.trace.model);
        }
        if ui.input(|i| i.key_pressed(Key::Escape)) {
            tl.details.clear(tl.trace, tl.view);
        }
    }
    tl.view
        .clamp_scroll(tl.timeline.lanes.height, rects.lanes.height());

    // A click on a lane name may change the lanes: before the layout.
    if gutter_resp.clicked()
        && let Some(pos) = gutter_resp.interact_pointer_pos()
    {
        gutter_click(&mut tl, rects.lanes.top(), pos);
    }
    lanes_menu(ui, &mut tl, rects.corner);
    tl.timeline.follow_view(tl.trace, &tl.view.time);

    // Layout.
    let input = SceneInput {
        trace: tl.trace,
        lanes: &tl.timeline.lanes,
        view: &tl.view.time,
        scroll_y: tl.view.scroll_y,
        area: rects.lanes,
        wake: tl.details.wake_link.as_ref(),
    };
    tl.timeline.scene = build_scene(&input, &mut tl.timeline.cache);

    // Clicks.
    if lanes_resp.clicked()
        && let Some(pos) = lanes_resp.interact_pointer_pos()
    {
        let hit = tl.timeline.scene.hit(pos).map(|i| i.hit.clone());
        click(&mut tl, hit.as_ref());
    }

    // Paint.
    let painter = ui.painter();
    let text = ui.visuals().text_color();
    let ax = axis(&tl.view.time, rects.lanes.left(), rects.lanes.width());
    painter.rect_filled(rects.lanes, 0.0, ui.visuals().extreme_bg_color);
    paint::paint_grid(painter, rects.lanes, &ax);
    let hover = lanes_resp
        .hover_pos()
        .and_then(|p| tl.timeline.scene.hit(p).cloned());
    paint::paint_scene(
        painter,
        &tl.timeline.scene,
        &tl.trace.model,
        &tl.trace.counters,
        tl.view.selection,
        hover.as_ref(),
    );
    let counter_hover = lanes_resp
        .hover_pos()
        .and_then(|p| Some((p, tl.timeline.scene.counter_at(p)?)));
    if let Some((p, _)) = counter_hover
        && let Some(lane) = tl
            .timeline
            .scene
            .counters
            .iter()
            .find(|c| c.rect.contains(p))
    {
        paint::paint_counter_cursor(painter, lane.rect, p.x);
    }
    // Each counter's least and greatest value in view, on its lane's right.
    let small = FontId::proportional(10.0);
    for lane in &tl.timeline.scene.counters {
        if let Some(text) = lane.range_text(tl.trace) {
            // On a dark plate: the lane's area may be filled up to the top.
            let p = painter.with_clip_rect(lane.rect);
            let color = ui.visuals().text_color();
            let galley = p.layout_no_wrap(text, small.clone(), color);
            let at = pos2(
                lane.rect.right() - 4.0 - galley.size().x,
                lane.rect.top() + 1.0,
            );
            p.rect_filled(
                Rect::from_min_size(at, galley.size()).expand(1.0),
                2.0,
                Color32::from_black_alpha(170),
            );
            p.galley(at, galley, color);
        }
    }
    if let Some(arrow) = tl.timeline.scene.arrow {
        paint::paint_arrow(painter, rects.lanes, arrow);
    }
    // The whole time under the pointer, on the axis.
    tl.timeline.pointer_time = ui
        .input(|i| i.pointer.hover_pos())
        .filter(|p| rects.lanes.contains(*p) || rects.axis.contains(*p))
        .map(|p| {
            let t = pointer_t(tl.view, p);
            (p.x, pointer_time(&tl.view.time, t, rects.lanes.width()))
        });
    let pointer = tl
        .timeline
        .pointer_time
        .as_ref()
        .map(|(x, s)| (*x, s.as_str()));
    paint::paint_axis(painter, rects.axis, &ax, &tl.timeline.scene, pointer, text);
    if let Some(range) = tl.view.range {
        paint::paint_range(painter, rects.axis, rects.lanes, &tl.view.time, range);
    }
    paint_gutter(ui, &tl, &rects);
    paint_legend(ui, rects.legend);

    let lines = match (&hover, counter_hover) {
        (Some(item), _) => Some(describe_hit(tl.trace, &item.hit)),
        (None, Some((_, (track, t)))) => Some(describe_counter(tl.trace, track, t)),
        _ => None,
    };
    if let Some(lines) = lines {
        lanes_resp.on_hover_ui_at_pointer(|ui| {
            let mut lines = lines.into_iter();
            if let Some(title) = lines.next() {
                ui.strong(title);
            }
            for line in lines {
                ui.label(line);
            }
        });
    }
    request
}

/// Wheel, drag and key presses over the timeline, as view gestures; `taken_wheel` are the
/// wheel events taken out of egui's input for the panel (`TimelineState::take_wheel`).
fn gather_input(
    ui: &Ui,
    rects: &PanelRects,
    lanes: &egui::Response,
    ranging: bool,
    taken_wheel: &[Event],
) -> Vec<ViewInput> {
    let mut out = Vec::new();
    let pointer = ui.input(|i| i.pointer.hover_pos());
    let over_lanes = pointer.filter(|p| rects.lanes.contains(*p) || rects.axis.contains(*p));
    let over_gutter = pointer.filter(|p| rects.gutter.contains(*p));
    let page = rects.lanes.height();
    ui.input(|i| {
        for e in taken_wheel.iter().chain(&i.events) {
            if let Event::MouseWheel {
                unit,
                delta,
                modifiers,
                ..
            } = e
            {
                let scale = match unit {
                    MouseWheelUnit::Point => 1.0,
                    MouseWheelUnit::Line => crate::app::view::WHEEL_NOTCH_POINTS,
                    MouseWheelUnit::Page => page,
                };
                let mut d = *delta * scale;
                if modifiers.shift {
                    // Shift + wheel: the vertical wheel pans.
                    d = vec2(d.x + d.y, 0.0);
                }
                if let Some(p) = over_lanes {
                    out.push(ViewInput::Wheel {
                        dx: d.x,
                        dy: d.y,
                        x: p.x,
                    });
                } else if over_gutter.is_some() {
                    out.push(ViewInput::ScrollLanes { dy: d.y });
                }
            }
        }
    });
    if lanes.dragged() && !ranging {
        let d = lanes.drag_delta();
        if d != egui::Vec2::ZERO {
            out.push(ViewInput::Drag { dx: d.x, dy: d.y });
        }
    }
    if !ui.egui_wants_keyboard_input() {
        let x = over_lanes.map(|p| p.x);
        ui.input(|i| {
            for e in &i.events {
                if let Event::Key {
                    key,
                    pressed: true,
                    modifiers,
                    ..
                } = e
                {
                    if modifiers.command || modifiers.alt {
                        continue;
                    }
                    match key {
                        Key::W => out.push(ViewInput::KeyZoom { zoom_in: true, x }),
                        Key::S => out.push(ViewInput::KeyZoom { zoom_in: false, x }),
                        Key::A => out.push(ViewInput::KeyPan { later: false }),
                        Key::D => out.push(ViewInput::KeyPan { later: true }),
                        Key::PageDown => out.push(ViewInput::ScrollLanes { dy: -page * 0.9 }),
                        Key::PageUp => out.push(ViewInput::ScrollLanes { dy: page * 0.9 }),
                        _ => {}
                    }
                }
            }
        });
    }
    out
}

/// Selects `selection` (or clears it) and computes its details.
fn select(tl: &mut Parts<'_>, selection: Option<Selection>) {
    tl.details.select(tl.trace, tl.view, selection);
}

/// A click on the lanes at `hit` (`None`: on empty space): selects a poll or a task state
/// stretch (and so its task), zooms to folded slices, clears the selection on empty space.
fn click(tl: &mut Parts<'_>, hit: Option<&Hit>) {
    let model = &tl.trace.model;
    match hit {
        Some(&Hit::Poll(p)) => {
            let task = model.polls[p as usize].task;
            select(
                tl,
                Some(Selection::Task {
                    task,
                    poll: Some(p),
                    segment: None,
                }),
            );
        }
        Some(&Hit::Segment { task, span, state }) => select(
            tl,
            Some(Selection::Task {
                task,
                poll: None,
                segment: Some((span, state)),
            }),
        ),
        Some(&Hit::Folded { span, .. }) => tl.view.fit_to(span),
        // A region or a log line selects the task it happened in.
        Some(&Hit::Region { thread, region }) => {
            let task = model.threads[thread.index()].regions[region as usize].task;
            if task != TaskIx::NONE {
                select(tl, Some(Selection::of_task(task)));
            }
        }
        Some(&Hit::Logs { thread, first, .. }) => {
            let log = tl.trace.logs_by_thread[thread.index()][first as usize];
            let task = model.logs[log as usize].task;
            if task != TaskIx::NONE {
                select(tl, Some(Selection::of_task(task)));
            }
        }
        Some(_) => {}
        None => select(tl, None),
    }
}

/// A click on a lane name: toggles a group, selects a task or a thread.
fn gutter_click(tl: &mut Parts<'_>, lanes_top: f32, pos: Pos2) {
    let Some(i) = tl
        .timeline
        .lanes
        .at_screen(pos.y - lanes_top, tl.view.scroll_y)
    else {
        return;
    };
    match tl.timeline.lanes.lanes[i].kind {
        LaneKind::Group(g) => tl.timeline.toggle_group(tl.trace, g),
        LaneKind::CounterHeader => tl.timeline.toggle_counters(tl.trace),
        LaneKind::RecorderHeader => tl.timeline.toggle_recorder(tl.trace),
        LaneKind::Thread(t) | LaneKind::Regions(t) => select(tl, Some(Selection::Thread(t))),
        LaneKind::Counter(_) => {}
        LaneKind::Task { task, .. } => select(tl, Some(Selection::of_task(task))),
    }
}

/// The label of the lanes menu (tests find it by this).
pub const LANES_MENU: &str = "Lanes";
/// Its entries.
pub const PIN_LABEL: &str = "Pin workers and counters at the top";
/// Its entries.
pub const ACTIVE_ONLY_LABEL: &str = "Only tasks active in view";
/// Its entries.
pub const SORT_LABEL: &str = "Sort tasks by time in view in";

/// The lanes menu, in the corner left of the axis: pinning, and which task lanes show in
/// which order.
fn lanes_menu(ui: &mut Ui, tl: &mut Parts<'_>, corner: Rect) {
    let mut pinned = tl.timeline.sections.pin_top;
    let mut opts = tl.timeline.task_options;
    ui.scope_builder(egui::UiBuilder::new().max_rect(corner.shrink(2.0)), |ui| {
        ui.menu_button(LANES_MENU, |ui| {
            ui.checkbox(&mut pinned, PIN_LABEL);
            ui.separator();
            ui.checkbox(&mut opts.active_only, ACTIVE_ONLY_LABEL);
            ui.label(SORT_LABEL);
            ui.radio_value(&mut opts.sort_by, None, "spawn order");
            for state in palette::legend_states() {
                ui.radio_value(&mut opts.sort_by, Some(state), short_state_label(state));
            }
        });
    });
    if pinned != tl.timeline.sections.pin_top {
        tl.timeline.set_pinned(tl.trace, pinned);
    }
    tl.timeline.task_options = opts;
}

/// Lane names.
fn paint_gutter(ui: &Ui, tl: &Parts<'_>, rects: &PanelRects) {
    let painter = ui.painter().with_clip_rect(rects.gutter);
    let visuals = ui.visuals();
    painter.rect_filled(rects.gutter, 0.0, visuals.panel_fill);
    let model = &tl.trace.model;
    let font = FontId::proportional(12.0);
    let small = FontId::proportional(11.0);
    let selected_task = tl.view.selection.and_then(|s| s.task());
    for &(li, lane_rect) in &tl.timeline.scene.lanes {
        let Some(&lane) = tl.timeline.lanes.lanes.get(li) else {
            continue;
        };
        let rect = Rect::from_min_max(
            pos2(rects.gutter.left(), lane_rect.top()),
            pos2(rects.gutter.right(), lane_rect.bottom()),
        );
        let (text, font, color, indent) = match lane.kind {
            LaneKind::Thread(t) => (
                model.threads[t.index()].label(),
                font.clone(),
                visuals.strong_text_color(),
                4.0,
            ),
            LaneKind::Group(g) => {
                let group = &tl.trace.groups[g];
                header(&painter, visuals, rect, tl.timeline.collapsed[g]);
                (
                    format!("{} ({} tasks)", group.label, group.tasks.len()),
                    font.clone(),
                    visuals.strong_text_color(),
                    18.0,
                )
            }
            LaneKind::Regions(_) => (
                "  spans and logs".into(),
                small.clone(),
                visuals.weak_text_color(),
                4.0,
            ),
            LaneKind::CounterHeader => {
                header(
                    &painter,
                    visuals,
                    rect,
                    tl.timeline.sections.counters_collapsed,
                );
                let user = tl.trace.counters.iter().filter(|c| !c.internal).count();
                (
                    format!("counters ({user})"),
                    font.clone(),
                    visuals.strong_text_color(),
                    18.0,
                )
            }
            LaneKind::RecorderHeader => {
                header(
                    &painter,
                    visuals,
                    rect,
                    tl.timeline.sections.recorder_collapsed,
                );
                let n = tl.trace.counters.iter().filter(|c| c.internal).count();
                (
                    format!("recorder internals ({n})"),
                    small.clone(),
                    visuals.weak_text_color(),
                    18.0,
                )
            }
            LaneKind::Counter(_) => {
                let caption = tl
                    .timeline
                    .scene
                    .counters
                    .iter()
                    .find(|c| c.lane == li)
                    .map(|c| c.caption(tl.trace))
                    .unwrap_or_default();
                (caption, small.clone(), visuals.text_color(), 20.0)
            }
            LaneKind::Task { task, .. } => {
                if selected_task == Some(task) {
                    painter.rect_filled(rect, 0.0, visuals.selection.bg_fill);
                }
                let t = &model.tasks[task.index()];
                let name = model.string(t.name);
                let text = if name.is_empty() {
                    format!("task #{}", t.id)
                } else {
                    format!("{name} #{}", t.id)
                };
                (text, small.clone(), visuals.text_color(), 20.0)
            }
        };
        // Too long: shortened in the middle, keeping file:line and the task count.
        let room = rect.right() - 4.0 - (rect.left() + indent);
        let text = elide_middle(&text, |s| {
            painter
                .layout_no_wrap(s.to_string(), font.clone(), color)
                .size()
                .x
                <= room
        });
        painter.text(
            pos2(rect.left() + indent, rect.center().y),
            egui::Align2::LEFT_CENTER,
            text,
            font,
            color,
        );
        painter.line_segment(
            [rect.left_bottom(), rect.right_bottom()],
            Stroke::new(1.0, visuals.faint_bg_color),
        );
    }
    painter.line_segment(
        [rects.gutter.right_top(), rects.gutter.right_bottom()],
        visuals.widgets.noninteractive.bg_stroke,
    );
}

/// A section header's background and its triangle: pointing right when `collapsed`, down
/// when expanded.
fn header(painter: &egui::Painter, visuals: &egui::Visuals, rect: Rect, collapsed: bool) {
    painter.rect_filled(rect, 0.0, visuals.faint_bg_color);
    let c = pos2(rect.left() + 9.0, rect.center().y);
    let points = if collapsed {
        vec![
            c + vec2(-3.0, -5.0),
            c + vec2(4.0, 0.0),
            c + vec2(-3.0, 5.0),
        ]
    } else {
        vec![
            c + vec2(-5.0, -3.0),
            c + vec2(5.0, -3.0),
            c + vec2(0.0, 4.0),
        ]
    };
    painter.add(egui::Shape::convex_polygon(
        points,
        visuals.strong_text_color(),
        Stroke::NONE,
    ));
}

/// What the legend shows, left to right: the colours and the words for each entry. The first
/// says what the worker lanes' colours mean (one dark tone per task: which task ran), so
/// they are not read as task states.
pub fn legend_entries() -> Vec<(Vec<Color32>, String)> {
    let mut v = vec![(
        (1..4).map(|t| palette::task_color(TaskIx(t))).collect(),
        "worker lanes: a dark tone per task".to_string(),
    )];
    for (k, s) in palette::legend_states().into_iter().enumerate() {
        let label = short_state_label(s);
        let label = if k == 0 {
            format!("task lanes: {label}")
        } else {
            label
        };
        v.push((vec![palette::state_color(s)], label));
    }
    v.push((vec![palette::FOLDED], "folded (zoom in)".into()));
    v.push((vec![palette::PARK], "idle".into()));
    v.push((vec![palette::LOST], "data lost".into()));
    v
}

/// The legend: what the lanes' colours mean.
fn paint_legend(ui: &Ui, rect: Rect) {
    let painter = ui.painter().with_clip_rect(rect);
    let font = FontId::proportional(11.0);
    let text = ui.visuals().text_color();
    let mut x = rect.left() + 6.0;
    let y = rect.center().y;
    for (colors, label) in legend_entries() {
        // A swatch of 10 points, split between its colours.
        let w = 10.0 / colors.len() as f32;
        for (k, c) in colors.into_iter().enumerate() {
            let r = Rect::from_min_size(pos2(x + k as f32 * w, y - 5.0), vec2(w, 10.0));
            painter.rect_filled(r, 0.0, c);
        }
        let galley = painter.layout_no_wrap(label, font.clone(), text);
        let w = galley.size().x;
        painter.galley(pos2(x + 13.0, y - galley.size().y / 2.0), galley, text);
        x += 13.0 + w + 12.0;
    }
}
