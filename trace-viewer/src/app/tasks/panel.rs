//! The Tasks view: the task breakdown by task group as a sortable, filterable table with
//! a stacked bar of each group's time by state. Clicking a group shows its tasks in the
//! timeline.

use egui::{Grid, RichText, ScrollArea, Sense, Ui, vec2};

use super::TasksState;
use super::table::Column;
use crate::app::jobs::Lazy;
use crate::app::palette;
use trace_analysis::analysis::groups::GroupBy;
use trace_analysis::model::TaskIx;
use trace_analysis::units::format_duration;

/// The filter box's hint (tests find the box by its role).
pub const FILTER_HINT: &str = "filter by spawn location";

/// What a click in the table asks for, naming the group by its first task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Show the group's tasks in the timeline.
    ShowGroup(TaskIx),
    /// Show the group's flame graph.
    Flame(TaskIx),
}

/// The link that opens a group's flame graph (tests look for it).
pub const FLAME_LINK: &str = "flame";

/// The grouping choices, as the view names them.
pub const GROUPINGS: [(GroupBy, &str); 3] = [
    (GroupBy::Location, "spawn location"),
    (GroupBy::Name, "task name"),
    (GroupBy::Region, "root region"),
];

/// Shows the table of `tasks`; returns what a click on a group asks for.
pub fn show(ui: &mut Ui, tasks: &mut TasksState) -> Option<Request> {
    // Shown while computing too, so a slow grouping can be changed again.
    let mut by = tasks.group_by;
    ui.horizontal(|ui| {
        ui.label("group tasks by");
        for (g, name) in GROUPINGS {
            ui.selectable_value(&mut by, g, name)
                .on_hover_text(match g {
                    GroupBy::Location => {
                        "where they were spawned (file:line:col), their name and kind"
                    }
                    GroupBy::Name => "their task name; unnamed tasks by where they were spawned",
                    GroupBy::Region => {
                        "the root tracing span each task entered first, with its fields \
                     (e.g. the route of a request); tasks without one by where they were spawned"
                    }
                });
        }
    });
    tasks.set_group_by(by);
    match &tasks.breakdown {
        Lazy::Idle | Lazy::Running(_) => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("Computing the task breakdown…");
            });
            return None;
        }
        Lazy::Ready(Err(e)) => {
            ui.colored_label(ui.visuals().error_fg_color, e);
            return None;
        }
        Lazy::Ready(Ok(_)) => {}
    }
    let b = tasks.breakdown.get().cloned().expect("ready");
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("{} tasks in {} groups", b.tasks, b.groups.len())).strong());
        ui.add_space(16.0);
        ui.add(
            egui::TextEdit::singleline(&mut tasks.table.filter)
                .hint_text(FILTER_HINT)
                .desired_width(260.0),
        );
        if b.leak_suspect_count > 0 {
            ui.add_space(16.0);
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!(
                    "{} leak suspect(s): groups whose alive tasks grew, {} tasks waiting ≥ {}",
                    b.leak_suspect_count,
                    b.leak_suspect_tasks,
                    format_duration(b.leak_threshold_ns)
                ),
            )
            .on_hover_text(
                b.leak_suspects
                    .iter()
                    .map(|s| format!("{}: {}", s.group, s.why))
                    .collect::<Vec<_>>()
                    .join("\n"),
            );
        }
    });
    ui.add_space(4.0);
    let order = tasks.table.view(&tasks.rows);
    let mut clicked_header = None;
    let mut clicked_row = None;
    ScrollArea::both()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            Grid::new("task-table")
                .striped(true)
                .min_col_width(40.0)
                .show(ui, |ui| {
                    for c in Column::ALL {
                        let mut title = c.title().to_string();
                        if tasks.table.sort == c {
                            title.push_str(if tasks.table.descending { " v" } else { " ^" });
                        }
                        if ui.button(RichText::new(title).strong()).clicked() {
                            clicked_header = Some(c);
                        }
                    }
                    ui.label(RichText::new("time by state").strong());
                    ui.end_row();
                    for &i in &order {
                        let r = &tasks.rows[i];
                        ui.horizontal(|ui| {
                            if ui
                                .link(&r.label)
                                .on_hover_text(format!(
                                    "{} tasks; show them in the timeline",
                                    r.kind
                                ))
                                .clicked()
                            {
                                clicked_row = r.first_task.map(Request::ShowGroup);
                            }
                            if ui
                                .small_button(FLAME_LINK)
                                .on_hover_text("The group's flame graph")
                                .clicked()
                            {
                                clicked_row = r.first_task.map(Request::Flame);
                            }
                        });
                        ui.label(r.tasks.to_string());
                        if r.leak_suspects > 0 {
                            ui.colored_label(
                                ui.visuals().warn_fg_color,
                                format!("{} ({} leak?)", r.alive, r.leak_suspects),
                            );
                        } else {
                            ui.label(r.alive.to_string());
                        }
                        ui.label(r.polls.to_string());
                        ui.label(format_duration(
                            r.time(trace_analysis::analysis::states::TaskState::Running),
                        ));
                        ui.label(format_duration(
                            r.time(trace_analysis::analysis::states::TaskState::SchedWait),
                        ));
                        ui.label(format_duration(r.waiting()));
                        ui.label(format_duration(
                            r.time(trace_analysis::analysis::states::TaskState::Paused),
                        ));
                        ui.label(format_duration(r.lifetime()));
                        let (rect, resp) =
                            ui.allocate_exact_size(vec2(180.0, 12.0), Sense::hover());
                        let total = r.lifetime().max(1) as f32;
                        let mut x = rect.left();
                        for &(state, ns) in &r.states {
                            let w = rect.width() * ns as f32 / total;
                            if w > 0.0 {
                                ui.painter().rect_filled(
                                    egui::Rect::from_min_size(
                                        egui::pos2(x, rect.top()),
                                        vec2(w, rect.height()),
                                    ),
                                    0.0,
                                    palette::state_color(state),
                                );
                            }
                            x += w;
                        }
                        resp.on_hover_ui(|ui| {
                            for &(state, ns) in &r.states {
                                if ns > 0 {
                                    ui.label(format!(
                                        "{}: {} ({:.1}%)",
                                        crate::app::labels::state_label(state),
                                        format_duration(ns),
                                        ns as f64 * 100.0 / f64::from(total)
                                    ));
                                }
                            }
                        });
                        ui.end_row();
                    }
                });
        });
    if let Some(c) = clicked_header {
        tasks.table.click_header(c);
    }
    clicked_row
}
