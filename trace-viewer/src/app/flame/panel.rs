//! The Flame graph view: the selection and kind chosen above the graph, the search box, the
//! baseline buttons, and the graph (root on top, callees below; click to zoom, hover for
//! self and total). Compared with a baseline, frames are coloured by how their share grew
//! (red) or shrank (blue).

use egui::{Color32, FontId, Rect, RichText, Sense, Ui, pos2, vec2};

use super::{FlameData, FlameState, Scope};
use crate::app::jobs::Lazy;
use crate::app::open_trace::OpenTrace;
use trace_analysis::analysis::flame::{self, FlameLayout, ROOT, SearchMatch};
use trace_analysis::analysis::profile::Profile;
use trace_analysis::model::{SampleKind, Span};
use trace_analysis::units::{format_bytes, format_duration};

/// The search box's hint (tests find the box by it).
pub const SEARCH_HINT: &str = "search function";
/// The hint of the box for another trace's path (tests find the box by it).
pub const OTHER_HINT: &str = "path of a trace recorded before";
/// The button that loads it.
pub const LOAD_OTHER: &str = "Load and compare";
/// Height of a row of frames.
pub const ROW_HEIGHT: f32 = 18.0;
/// The root frame's name.
pub const ROOT_NAME: &str = "all";

/// The kinds offered, with their names.
pub const KINDS: [(SampleKind, &str); 3] = [
    (SampleKind::Cpu, "CPU"),
    (SampleKind::Stall, "Stalled polls"),
    (SampleKind::Alloc, "Allocations"),
];

/// A weight of `kind` in words: CPU and stall weights are nanoseconds, allocation weights
/// bytes.
pub fn format_weight(kind: Option<SampleKind>, w: u64) -> String {
    match kind {
        Some(SampleKind::Alloc) => format_bytes(w),
        _ => format_duration(w),
    }
}

/// Shows the view: `visible` is the timeline's visible range and `range` its selected
/// range, offered as selections.
pub fn show(
    ui: &mut Ui,
    trace: &OpenTrace,
    state: &mut FlameState,
    visible: Span,
    range: Option<Span>,
) {
    toolbar(ui, trace, state, visible, range);
    ui.separator();
    let data = match &state.data {
        Lazy::Ready(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
            return;
        }
        _ => match state.ready() {
            Some(d) => d.clone(),
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("Building the profile…");
                });
                return;
            }
        },
    };
    let p = &data.profile;
    if p.total_samples() == 0 {
        ui.label(format!(
            "No {} samples in {}. Record with stack sampling on (see the README).",
            state.kind.name(),
            state.scope.label(trace)
        ));
        return;
    }
    let found = state.found(&data);
    ui.horizontal(|ui| {
        ui.label(format!(
            "{} samples, {}",
            p.total_samples(),
            format_weight(p.kind, p.total_weight())
        ));
        if !state.query.trim().is_empty() {
            ui.add_space(12.0);
            ui.label(format!(
                "matched: {} frames, {:.1}% of the weight",
                found.count,
                found.weight as f64 * 100.0 / p.total_weight().max(1) as f64
            ));
        }
        if let Some((base, d)) = &data.compared {
            ui.add_space(12.0);
            ui.label(format!(
                "baseline: {} samples, {}; {:.1}% of it on frames gone",
                base.total_samples(),
                format_weight(base.kind, base.total_weight()),
                d.gone * 100.0
            ));
        }
    });
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            let searching = !state.query.trim().is_empty();
            let (area, clicked) = graph(ui, &data, state.zoom, &found, searching);
            state.area = Some(area);
            if let Some(node) = clicked {
                state.zoom = node;
            }
        });
}

fn toolbar(
    ui: &mut Ui,
    trace: &OpenTrace,
    state: &mut FlameState,
    visible: Span,
    range: Option<Span>,
) {
    ui.horizontal_wrapped(|ui| {
        ui.label("Profile of");
        egui::ComboBox::from_id_salt("flame-scope")
            .selected_text(state.scope.label(trace))
            .width(260.0)
            .show_ui(ui, |ui| {
                let mut offer = |ui: &mut Ui, scope: Scope, text: String| {
                    if ui.selectable_label(state.scope == scope, text).clicked() {
                        state.show(scope);
                    }
                };
                offer(ui, Scope::Whole, "the whole trace".into());
                offer(
                    ui,
                    Scope::Range(visible),
                    "the timeline's visible range".into(),
                );
                if let Some(r) = range {
                    offer(ui, Scope::Range(r), "the selected range".into());
                }
                for t in trace.model.thread_ixs() {
                    offer(ui, Scope::Thread(t), trace.model.threads[t.index()].label());
                }
            });
        ui.add_space(8.0);
        for (kind, name) in KINDS {
            if ui.selectable_label(state.kind == kind, name).clicked() {
                state.kind = kind;
            }
        }
        ui.add_space(8.0);
        ui.add(
            egui::TextEdit::singleline(&mut state.query)
                .hint_text(SEARCH_HINT)
                .desired_width(180.0),
        );
        if state.zoom != ROOT && ui.button("Reset zoom").clicked() {
            state.zoom = ROOT;
        }
        ui.add_space(8.0);
        if ui
            .button("Set as baseline")
            .on_hover_text("Compare later selections with this one")
            .clicked()
        {
            state.set_baseline();
        }
        if let Some(label) = state.baseline_label(trace) {
            ui.checkbox(&mut state.compare, format!("compare with {label}"));
            if ui.button("Clear baseline").clicked() {
                state.clear_baseline();
            }
        }
    });
    ui.horizontal(|ui| {
        ui.label("or another recording of the program:");
        ui.add(
            egui::TextEdit::singleline(&mut state.other_path)
                .hint_text(OTHER_HINT)
                .desired_width(320.0),
        );
        let path = state.other_path.trim().to_string();
        if ui
            .add_enabled(!path.is_empty(), egui::Button::new(LOAD_OTHER))
            .clicked()
        {
            let ctx = ui.ctx().clone();
            state.load_other(path.into(), move || ctx.request_repaint());
        }
        if state.opening_other.is_some() {
            ui.spinner();
        }
        if let Some(e) = &state.other_error {
            ui.colored_label(ui.visuals().error_fg_color, e);
        }
    });
}

/// Draws the graph; returns where, and the node clicked (to zoom into).
fn graph(
    ui: &mut Ui,
    data: &FlameData,
    zoom: u32,
    found: &SearchMatch,
    searching: bool,
) -> (Rect, Option<u32>) {
    let width = ui.available_width().max(100.0);
    let p = &data.profile;
    let layout = flame::layout(p, zoom, 1.0 / f64::from(width));
    let (area, resp) =
        ui.allocate_exact_size(vec2(width, layout.rows as f32 * ROW_HEIGHT), Sense::click());
    let painter = ui.painter_at(area);
    let font = FontId::proportional(12.0);
    let diff = data.compared.as_ref().map(|(_, d)| (d, data.max_delta));
    for r in &layout.rects {
        let rect = frame_rect(area, r.depth, r.x0, r.x1);
        if !ui.is_rect_visible(rect) {
            continue;
        }
        let name = node_name(p, r.node);
        let mut fill = match diff {
            Some((d, max)) => diff_color(d.delta(r.node) / max),
            None => name_color(name),
        };
        if searching {
            fill = if found.nodes[r.node as usize] {
                Color32::from_rgb(230, 60, 200)
            } else {
                fill.gamma_multiply(0.35)
            };
        }
        painter.rect_filled(rect.shrink2(vec2(0.5, 0.5)), 1.0, fill);
        if rect.width() > 28.0 {
            painter.with_clip_rect(rect.shrink(2.0)).text(
                pos2(rect.left() + 3.0, rect.center().y),
                egui::Align2::LEFT_CENTER,
                name,
                font.clone(),
                Color32::BLACK,
            );
        }
    }
    let hovered = resp.hover_pos().and_then(|pos| hit(&layout, area, pos));
    if let Some(node) = hovered {
        resp.clone()
            .on_hover_ui_at_pointer(|ui| tooltip(ui, data, zoom, node));
    }
    (area, if resp.clicked() { hovered } else { None })
}

/// Where a laid-out frame goes in `area`.
pub fn frame_rect(area: Rect, depth: u32, x0: f64, x1: f64) -> Rect {
    let w = f64::from(area.width());
    Rect::from_min_max(
        pos2(
            area.left() + (x0 * w) as f32,
            area.top() + depth as f32 * ROW_HEIGHT,
        ),
        pos2(
            area.left() + (x1 * w) as f32,
            area.top() + (depth + 1) as f32 * ROW_HEIGHT,
        ),
    )
}

/// The node of the frame at `pos` in `area`, if any.
pub fn hit(layout: &FlameLayout, area: Rect, pos: egui::Pos2) -> Option<u32> {
    if !area.contains(pos) {
        return None;
    }
    let depth = ((pos.y - area.top()) / ROW_HEIGHT) as u32;
    let x = f64::from((pos.x - area.left()) / area.width());
    layout
        .rects
        .iter()
        .find(|r| r.depth == depth && r.x0 <= x && x < r.x1)
        .map(|r| r.node)
}

/// A node's function name ([`ROOT_NAME`] for the root).
pub fn node_name(p: &Profile, node: u32) -> &str {
    if node == ROOT {
        ROOT_NAME
    } else {
        &p.function(p.node_frame(node).function).name
    }
}

fn tooltip(ui: &mut Ui, data: &FlameData, zoom: u32, node: u32) {
    let p = &data.profile;
    let n = &p.nodes[node as usize];
    ui.label(RichText::new(node_name(p, node)).strong());
    if node != ROOT {
        let f = p.node_frame(node);
        let file = p
            .function(f.function)
            .file
            .as_deref()
            .unwrap_or("unknown file");
        ui.label(if f.line > 0 {
            format!("{file}:{}", f.line)
        } else {
            file.to_string()
        });
    }
    let total = p.total_weight().max(1) as f64;
    let pct = |w: u64| w as f64 * 100.0 / total;
    ui.label(format!(
        "self: {} ({:.1}%), {} samples",
        format_weight(p.kind, n.self_weight),
        pct(n.self_weight),
        n.self_samples
    ));
    ui.label(format!(
        "total: {} ({:.1}%), {} samples",
        format_weight(p.kind, n.total_weight),
        pct(n.total_weight),
        n.total_samples
    ));
    if zoom != ROOT {
        let z = p.nodes[zoom as usize].total_weight.max(1) as f64;
        ui.label(format!(
            "{:.1}% of the zoomed frame",
            n.total_weight as f64 * 100.0 / z
        ));
    }
    if let Some((_, d)) = &data.compared {
        ui.label(format!(
            "baseline {:.1}%, now {:.1}% ({:+.1} points)",
            d.before[node as usize] * 100.0,
            d.after[node as usize] * 100.0,
            d.delta(node) * 100.0
        ));
    }
    ui.weak("click to zoom into it");
}

/// A warm colour picked by the function name, so a function keeps its colour.
pub fn name_color(name: &str) -> Color32 {
    let h = name.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    let g = 90 + (h % 120) as u8;
    let b = 40 + ((h >> 8) % 50) as u8;
    Color32::from_rgb(225 + ((h >> 16) % 30) as u8, g, b)
}

/// Red for a share that grew, blue for one that shrank, by `t` from −1 to 1; grey for none.
pub fn diff_color(t: f64) -> Color32 {
    let t = t.clamp(-1.0, 1.0);
    let k = (t.abs() * 190.0) as u8;
    if t >= 0.0 {
        Color32::from_rgb(225, 225 - k, 225 - k)
    } else {
        Color32::from_rgb(225 - k, 225 - k, 225)
    }
}
