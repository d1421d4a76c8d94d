//! The Regions view: the region groups as a sortable table; under it, for the picked group,
//! its latency histogram (one bar per log-scale bucket, click one to keep its regions) and
//! its regions slowest first, each a link that shows the region in the timeline.

use egui::{Grid, RichText, ScrollArea, Sense, Ui, vec2};

use super::{Column, RegionsData, RegionsState, group_label};
use crate::app::jobs::Lazy;
use crate::app::open_trace::OpenTrace;
use trace_analysis::analysis::regions::Bucket;
use trace_analysis::model::{Model, TaskIx};
use trace_analysis::units::{format_bytes, format_duration};

/// What a click in the view asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Show this region (an index into `Model::spans`) in the timeline: zoomed to, its
    /// time range and task selected.
    ShowRegion(u32),
}

/// What the view says when the trace has no spans (tests look for its start).
pub const NO_SPANS: &str = "No regions: this trace has no `tracing` spans.";

/// The button that lists the whole picked group again after a bar was picked.
pub const ALL_REGIONS: &str = "all regions of the group";

/// Width of the longest histogram bar.
const BAR_WIDTH: f32 = 260.0;

/// A bar's label, also its accessible name and tooltip: "3 regions from 1 ms to 2 ms".
pub fn bar_label(b: &Bucket) -> String {
    format!(
        "{} region{} from {} to {}",
        b.count,
        if b.count == 1 { "" } else { "s" },
        format_duration(b.lo_ns),
        format_duration(b.hi_ns)
    )
}

/// A region's line in the list: latency, fields, task and start ("12 ms  route=/a id=7  task
/// src/main.rs:3:5 #7  at 1.2 ms"); a region still open at the end says so.
pub fn region_label(model: &Model, ix: u32) -> String {
    let s = &model.spans[ix as usize];
    let mut label = format_duration(s.span.len());
    if !s.closed {
        label.push_str("+ (open)");
    }
    if !s.fields.is_empty() {
        label.push_str("  ");
        label.push_str(&s.fields);
    }
    if s.task != TaskIx::NONE {
        label.push_str(&format!("  task {}", model.task_label(s.task)));
    }
    label.push_str(&format!("  at {}", format_duration(s.span.start)));
    label
}

/// Shows the view; returns what a click asks for.
pub fn show(ui: &mut Ui, trace: &OpenTrace, state: &mut RegionsState) -> Option<Request> {
    let data = match &state.data {
        Lazy::Idle | Lazy::Running(_) => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Grouping the regions…");
            });
            return None;
        }
        Lazy::Ready(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
            return None;
        }
        Lazy::Ready(Ok(d)) => d.clone(),
    };
    if data.groups.groups.is_empty() {
        no_spans(ui);
        return None;
    }
    let regions: u64 = data.groups.groups.iter().map(|g| g.count).sum();
    let by: Vec<String> = data
        .groups
        .by
        .iter()
        .map(|(name, f)| {
            if f.is_empty() {
                name.clone()
            } else {
                format!("{name}: {}", f.join(", "))
            }
        })
        .collect();
    ui.horizontal_wrapped(|ui| {
        ui.label(
            RichText::new(format!(
                "{regions} regions in {} groups",
                data.groups.groups.len()
            ))
            .strong(),
        );
        ui.label(format!(
            "(`tracing` spans, creation to close), grouped by the fields with few values — {}",
            by.join("; ")
        ));
    });
    ui.add_space(4.0);
    let picked_group = table(ui, state, &data);
    if let Some(g) = picked_group {
        state.pick_group(&trace.model, &data.groups, g);
    }
    // Borrowed, not cloned: the list can hold every region of a large group.
    let picked = state.picked.as_ref()?;
    ui.separator();
    let g = data.groups.groups.get(picked.group)?;
    ui.label(
        RichText::new(format!(
            "{}: {} regions, p50 {}, p99 {}, max {}",
            group_label(g),
            g.count,
            format_duration(g.p50_ns),
            format_duration(g.p99_ns),
            format_duration(g.max_ns)
        ))
        .strong(),
    );
    let mut request = None;
    let mut bucket_clicked = None;
    ui.horizontal_top(|ui| {
        ui.vertical(|ui| {
            ui.set_width(BAR_WIDTH + 220.0);
            bucket_clicked = histogram(ui, &picked.histogram, picked.bucket);
        });
        ui.separator();
        ui.vertical(|ui| request = list(ui, &trace.model, picked));
    });
    if let Some(b) = bucket_clicked {
        state.pick_bucket(&trace.model, &data.groups, b);
    }
    request
}

/// The empty state: what regions are and how to record them.
fn no_spans(ui: &mut Ui) {
    ui.add_space(8.0);
    ui.label(RichText::new(NO_SPANS).strong());
    ui.label(
        "Regions are the spans of the `tracing` crate, each from its creation to its close \
         (e.g. one per request). To record them, add the recorder's layer to your subscriber \
         and instrument your code:",
    );
    ui.code(
        "use tracing_subscriber::prelude::*;\n\
         tracing_subscriber::registry().with(trace_rt::layer()).init();\n\
         // then #[tracing::instrument] on async fns, or\n\
         tokio::spawn(handle(req).instrument(tracing::info_span!(\"request\", route)));",
    );
    ui.label("A level filter on the layer must keep the spans' level (see the README).");
}

/// The table; returns the group whose row was clicked.
fn table(ui: &mut Ui, state: &mut RegionsState, data: &RegionsData) -> Option<usize> {
    let groups = &data.groups.groups;
    let order = state.order(groups);
    let columns: Vec<Column> = Column::ALL.into_iter().filter(|c| c.shown(data)).collect();
    let mut clicked_header = None;
    let mut clicked_row = None;
    let height = if state.picked.is_some() {
        (ui.available_height() * 0.4).max(120.0)
    } else {
        ui.available_height()
    };
    ScrollArea::both()
        .id_salt("region-table")
        .max_height(height)
        .auto_shrink([false, true])
        .show(ui, |ui| {
            Grid::new("region-groups")
                .striped(true)
                .min_col_width(40.0)
                .show(ui, |ui| {
                    for &c in &columns {
                        let mut title = c.title().to_string();
                        if state.sort == c {
                            title.push_str(if state.descending { " v" } else { " ^" });
                        }
                        if ui.button(RichText::new(title).strong()).clicked() {
                            clicked_header = Some(c);
                        }
                    }
                    ui.end_row();
                    for &i in &order {
                        let g = &groups[i];
                        let picked = state.picked.as_ref().is_some_and(|p| p.group == i);
                        for &c in &columns {
                            match c {
                                Column::Group => {
                                    let open = if g.open > 0 {
                                        format!(" ({} still open at the end)", g.open)
                                    } else {
                                        String::new()
                                    };
                                    if ui
                                        .selectable_label(picked, group_label(g))
                                        .on_hover_text(format!(
                                            "{} regions{open}; show their latency histogram \
                                             and list them, slowest first",
                                            g.count
                                        ))
                                        .clicked()
                                    {
                                        clicked_row = Some(i);
                                    }
                                }
                                Column::Count => {
                                    ui.label(g.count.to_string());
                                }
                                Column::Total => {
                                    ui.label(format_duration(g.total_ns));
                                }
                                Column::P50 => {
                                    ui.label(format_duration(g.p50_ns));
                                }
                                Column::P99 => {
                                    ui.label(format_duration(g.p99_ns));
                                }
                                Column::Max => {
                                    ui.label(format_duration(g.max_ns));
                                }
                                Column::Busy => {
                                    ui.label(format!("{:.0}%", g.busy_share * 100.0));
                                }
                                Column::LongPolls => {
                                    ui.label(format_duration(g.long_poll_ns));
                                }
                                Column::Alloc => {
                                    ui.label(format_bytes(g.alloc_bytes));
                                }
                                Column::Cpu => {
                                    ui.label(g.cpu_samples.to_string());
                                }
                            }
                        }
                        ui.end_row();
                    }
                });
        });
    if let Some(c) = clicked_header {
        state.click_header(c);
    }
    clicked_row
}

/// The histogram, one row per bucket (range, bar, count); returns the bar clicked
/// (`Some(None)`: the whole group again).
fn histogram(ui: &mut Ui, buckets: &[Bucket], picked: Option<usize>) -> Option<Option<usize>> {
    let mut clicked = None;
    ui.label(RichText::new("latency histogram (closed regions)").strong());
    if buckets.is_empty() {
        ui.label("No region of this group closed within the recording.");
        return None;
    }
    let most = buckets.iter().map(|b| b.count).max().unwrap_or(0).max(1);
    Grid::new("region-histogram")
        .num_columns(3)
        .spacing(vec2(8.0, 2.0))
        .show(ui, |ui| {
            for (i, b) in buckets.iter().enumerate() {
                ui.label(format!(
                    "{} – {}",
                    format_duration(b.lo_ns),
                    format_duration(b.hi_ns)
                ));
                let label = bar_label(b);
                let (rect, resp) = ui.allocate_exact_size(vec2(BAR_WIDTH, 14.0), Sense::click());
                let resp = resp.on_hover_text(&label);
                resp.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Button, true, &label));
                let w = (rect.width() * b.count as f32 / most as f32).max(if b.count > 0 {
                    2.0
                } else {
                    0.0
                });
                let visuals = ui.visuals();
                let color = if picked == Some(i) {
                    visuals.selection.bg_fill
                } else if resp.hovered() {
                    visuals.widgets.hovered.fg_stroke.color
                } else {
                    visuals.widgets.inactive.fg_stroke.color
                };
                ui.painter().rect_filled(
                    egui::Rect::from_min_size(rect.min, vec2(w, rect.height())),
                    1.0,
                    color,
                );
                if resp.clicked() {
                    clicked = Some(Some(i));
                }
                ui.label(b.count.to_string());
                ui.end_row();
            }
        });
    if picked.is_some() && ui.button(ALL_REGIONS).clicked() {
        clicked = Some(None);
    }
    clicked
}

/// The picked group's (or bar's) regions, slowest first; returns the one clicked.
fn list(ui: &mut Ui, model: &Model, picked: &super::Picked) -> Option<Request> {
    let what = match picked.bucket.and_then(|b| picked.histogram.get(b)) {
        Some(b) => format!(
            "{} regions from {} to {}, slowest first — click one to see it in the timeline",
            picked.regions.len(),
            format_duration(b.lo_ns),
            format_duration(b.hi_ns)
        ),
        None => format!(
            "{} regions, slowest first — click one to see it in the timeline",
            picked.regions.len()
        ),
    };
    ui.label(RichText::new(what).strong());
    let mut clicked = None;
    let row = ui.text_style_height(&egui::TextStyle::Body) + ui.spacing().item_spacing.y;
    ScrollArea::vertical()
        .id_salt("region-list")
        .auto_shrink([false, false])
        .show_rows(ui, row, picked.regions.len(), |ui, rows| {
            for &ix in &picked.regions[rows] {
                if ui.link(region_label(model, ix)).clicked() {
                    clicked = Some(Request::ShowRegion(ix));
                }
            }
        });
    clicked
}
