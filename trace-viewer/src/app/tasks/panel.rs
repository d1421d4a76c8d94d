//! The Tasks view: the task breakdown by task group as a sortable, filterable table that
//! fills the window's width — poll durations, allocated bytes, sampled CPU and stall time
//! and a stacked bar of each group's time by state — with the selected group's
//! poll-duration histogram below it, and the report's other tables as sub-views. Clicking a
//! group shows its tasks in the timeline; clicking a task in the other tables shows it there.

use egui::{Align, Layout, Rect, RichText, Sense, Ui, pos2, vec2};
use egui_extras::{Column as Col, TableBuilder};

use super::table::{Column, Row};
use super::{SubView, TasksData, TasksState};
use crate::app::jobs::Lazy;
use crate::app::palette;
use trace_analysis::analysis::groups::GroupBy;
use trace_analysis::analysis::poll_stats::{GroupPolls, HISTOGRAM_EDGES_NS};
use trace_analysis::model::{Span, TaskIx};
use trace_analysis::units::{format_bytes, format_duration};

/// The filter box's hint (tests find the box by its role).
pub const FILTER_HINT: &str = "filter by spawn location";

/// What a click in the view asks for, naming a group by its first task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Show the group's tasks in the timeline.
    ShowGroup(TaskIx),
    /// Show the group's flame graph.
    Flame(TaskIx),
    /// Select a task and show `span` of it in the timeline (a long poll, a leak's wait).
    ShowTask(TaskIx, Span),
}

/// The link that opens a group's flame graph (tests look for it).
pub const FLAME_LINK: &str = "flame";

/// The histogram's heading, before the group's label (tests look for it).
pub const HISTOGRAM_TITLE: &str = "poll durations of";

/// The grouping choices, as the view names them.
pub const GROUPINGS: [(GroupBy, &str); 3] = [
    (GroupBy::Location, "spawn location"),
    (GroupBy::Name, "task name"),
    (GroupBy::Region, "root region"),
];

const ROW_HEIGHT: f32 = 20.0;
const HISTOGRAM_HEIGHT: f32 = 150.0;

/// Shows the Tasks view of `tasks`; returns what a click asks for.
pub fn show(ui: &mut Ui, tasks: &mut TasksState) -> Option<Request> {
    // Shown while computing too, so a slow grouping can be changed again.
    ui.horizontal(|ui| {
        for v in SubView::ALL {
            let mut title = v.title().to_string();
            if let Some(d) = tasks.data.get() {
                let n = match v {
                    SubView::Groups => d.breakdown.groups.len(),
                    SubView::LongestPolls => d.breakdown.longest_polls.len(),
                    SubView::LeakSuspects => d.breakdown.leak_suspect_count as usize,
                    SubView::Threads => d.breakdown.threads.len(),
                    SubView::Pauses => d.breakdown.pauses.len(),
                };
                title = format!("{title} ({n})");
            }
            ui.selectable_value(&mut tasks.sub_view, v, title);
        }
        ui.separator();
        let mut by = tasks.group_by;
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
        tasks.set_group_by(by);
    });
    match &tasks.data {
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
    let d = tasks.data.get().cloned().expect("ready");
    ui.add_space(4.0);
    match tasks.sub_view {
        SubView::Groups => groups(ui, tasks, &d),
        SubView::LongestPolls => longest_polls(ui, &d),
        SubView::LeakSuspects => leak_suspects(ui, &d),
        SubView::Threads => {
            threads(ui, &d);
            None
        }
        SubView::Pauses => {
            pauses(ui, &d);
            None
        }
    }
}

/// A poll's duration as the report writes it: marked when its end is not in the file.
fn poll_duration(ns: u64, cut: bool, still_running: bool) -> String {
    match (cut, still_running) {
        (false, _) => format_duration(ns),
        (true, true) => format_duration(ns) + " (still running)",
        (true, false) => format!("≥ {} (data ends)", format_duration(ns)),
    }
}

/// A value of `c` in `r`, as the table shows it.
fn cell_text(r: &Row, c: Column) -> String {
    let v = r.key(c);
    if c.is_bytes() {
        format_bytes(v)
    } else if c.is_count() {
        v.to_string()
    } else {
        format_duration(v)
    }
}

/// The table of task groups, and the selected group's histogram below it.
fn groups(ui: &mut Ui, tasks: &mut TasksState, d: &TasksData) -> Option<Request> {
    let b = &d.breakdown;
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
    // Sorted when the rows, the sort or the filter change; borrowed out for this frame.
    tasks.order();
    let order = std::mem::take(&mut tasks.order);
    let selected = tasks
        .selected
        .filter(|s| order.contains(s))
        .or(order.first().copied());
    // The histogram takes the bottom of the view; the table the rest, all of its width.
    if let Some(i) = selected {
        egui::Panel::bottom("task-histogram")
            .resizable(false)
            .exact_size(HISTOGRAM_HEIGHT)
            .show(ui, |ui| {
                histogram(ui, &tasks.rows[i].label, &d.polls[i]);
            });
    }
    let columns = Column::shown(d.has_cpu, d.has_stall);
    // A click on a cell's text picks the row, rather than starting a text selection.
    ui.style_mut().interaction.selectable_labels = false;
    let mut clicked_header = None;
    let mut request = None;
    let mut clicked_row = None;
    let mut table = TableBuilder::new(ui)
        .id_salt("task-table")
        .striped(true)
        .sense(Sense::click())
        .cell_layout(Layout::left_to_right(Align::Center))
        .auto_shrink([false, false]);
    for c in &columns {
        table = table.column(match c {
            // As wide as the longest label in view (with its flame button).
            Column::Group => Col::auto().at_least(160.0).clip(true),
            _ => Col::auto().at_least(56.0),
        });
    }
    table
        .column(Col::remainder().at_least(120.0))
        .header(ROW_HEIGHT + 4.0, |mut header| {
            for &c in &columns {
                header.col(|ui| {
                    let mut title = c.title().to_string();
                    if tasks.table.sort == c {
                        title.push_str(if tasks.table.descending { " v" } else { " ^" });
                    }
                    if ui
                        .button(RichText::new(title).strong())
                        .on_hover_text(c.help())
                        .clicked()
                    {
                        clicked_header = Some(c);
                    }
                });
            }
            header.col(|ui| {
                ui.label(RichText::new("time by state").strong());
            });
        })
        .body(|body| {
            body.rows(ROW_HEIGHT, order.len(), |mut row| {
                let i = order[row.index()];
                let r = &tasks.rows[i];
                row.set_selected(Some(i) == selected);
                for &c in &columns {
                    row.col(|ui| match c {
                        Column::Group => {
                            if ui
                                .link(&r.label)
                                .on_hover_text(format!(
                                    "{} tasks; show them in the timeline",
                                    r.kind
                                ))
                                .clicked()
                            {
                                request = r.first_task.map(Request::ShowGroup);
                            }
                            if ui
                                .small_button(FLAME_LINK)
                                .on_hover_text("The group's flame graph")
                                .clicked()
                            {
                                request = r.first_task.map(Request::Flame);
                            }
                        }
                        Column::Alive if r.leak_suspects > 0 => {
                            ui.colored_label(
                                ui.visuals().warn_fg_color,
                                format!("{} ({} leak?)", r.alive, r.leak_suspects),
                            );
                        }
                        _ => {
                            ui.label(cell_text(r, c));
                        }
                    });
                }
                row.col(|ui| state_bar(ui, r));
                if row.response().clicked() {
                    clicked_row = Some(i);
                }
            });
        });
    tasks.order = order;
    if let Some(c) = clicked_header {
        tasks.table.click_header(c);
    }
    if let Some(i) = clicked_row {
        tasks.selected = Some(i);
    }
    request
}

/// A stacked bar of `r`'s time by state, as wide as the cell.
fn state_bar(ui: &mut Ui, r: &Row) {
    let width = ui.available_width().max(40.0);
    let (rect, resp) = ui.allocate_exact_size(vec2(width, 12.0), Sense::hover());
    let total = r.lifetime().max(1) as f32;
    let mut x = rect.left();
    for &(state, ns) in &r.states {
        let w = rect.width() * ns as f32 / total;
        if w > 0.0 {
            ui.painter().rect_filled(
                Rect::from_min_size(pos2(x, rect.top()), vec2(w, rect.height())),
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
}

/// The range of histogram bucket `i`: "< 1 µs", "1.02 ms – 2.05 ms", "≥ 1.05 s".
pub fn bucket_range(i: usize) -> String {
    let e = &HISTOGRAM_EDGES_NS;
    match i {
        0 => format!("< {}", format_duration(e[1])),
        i if i + 1 >= e.len() => format!("≥ {}", format_duration(e[e.len() - 1])),
        i => format!("{} – {}", format_duration(e[i]), format_duration(e[i + 1])),
    }
}

/// The poll-duration histogram of the group `label`: a bar per bucket, below 1 µs to over
/// 1 s, its height the logarithm of the count so that a few long polls among thousands of
/// short ones still show.
fn histogram(ui: &mut Ui, label: &str, p: &GroupPolls) {
    ui.add_space(4.0);
    ui.horizontal(|ui| {
        ui.label(RichText::new(format!("{HISTOGRAM_TITLE} {label}")).strong());
        ui.label(format!(
            "{} polls · mean {} · p50 {} · p99 {} · max {} (bar height: log of the count; \
             click a row to pick the group)",
            p.polls,
            format_duration(p.duration.mean.round() as u64),
            format_duration(p.duration.p50),
            format_duration(p.duration.p99),
            format_duration(p.duration.max),
        ));
    });
    if p.polls == 0 {
        ui.label("no polls");
        return;
    }
    // Every bucket, always: a 20 ms poll stands at the same place whatever the group.
    let (first, last) = (0, HISTOGRAM_EDGES_NS.len() - 1);
    let max = p.histogram.iter().copied().max().unwrap_or(1) as f32;
    let avail = ui.available_size();
    let (rect, _) = ui.allocate_exact_size(vec2(avail.x, avail.y.max(40.0)), Sense::hover());
    let label_h = 16.0;
    let plot = Rect::from_min_max(rect.min, pos2(rect.max.x, rect.max.y - label_h));
    let n = (last - first + 1) as f32;
    let w = plot.width() / n;
    let painter = ui.painter_at(rect);
    let text = ui.visuals().text_color();
    let bar = ui.visuals().selection.bg_fill;
    for (k, b) in (first..=last).enumerate() {
        let count = p.histogram[b];
        let x = plot.left() + k as f32 * w;
        let cell = Rect::from_min_max(pos2(x, plot.top()), pos2(x + w, plot.bottom()));
        if count > 0 {
            let h = plot.height() * (1.0 + count as f32).ln() / (1.0 + max).ln();
            painter.rect_filled(
                Rect::from_min_max(
                    pos2(x + 1.0, plot.bottom() - h),
                    pos2(x + w - 1.0, plot.bottom()),
                ),
                0.0,
                bar,
            );
        }
        if k % 2 == 0 {
            painter.text(
                pos2(x, rect.bottom()),
                egui::Align2::LEFT_BOTTOM,
                if b == 0 {
                    "0".to_string()
                } else {
                    format_duration(HISTOGRAM_EDGES_NS[b])
                },
                egui::FontId::proportional(10.0),
                text,
            );
        }
        ui.interact(cell, ui.scope_id().with(("bucket", b)), Sense::hover())
            .on_hover_text(format!("{}: {count} polls", bucket_range(b)));
    }
}

/// A table of `n` rows of text cells under `headers`; `cell(row, col, ui)` fills a cell.
fn text_table(
    ui: &mut Ui,
    id: &str,
    fill_height: bool,
    headers: &[&str],
    n: usize,
    mut cell: impl FnMut(usize, usize, &mut Ui),
) {
    let mut table = TableBuilder::new(ui)
        .id_salt(id)
        .striped(true)
        .cell_layout(Layout::left_to_right(Align::Center))
        .auto_shrink([false, !fill_height])
        // A table among others (inside the caller's scroll area) is as tall as its rows.
        .vscroll(fill_height);
    for (k, _) in headers.iter().enumerate() {
        table = table.column(if k + 1 == headers.len() {
            Col::remainder().at_least(80.0).clip(true)
        } else {
            Col::auto().at_least(60.0)
        });
    }
    table
        .header(ROW_HEIGHT + 4.0, |mut header| {
            for h in headers {
                header.col(|ui| {
                    ui.label(RichText::new(*h).strong());
                });
            }
        })
        .body(|body| {
            body.rows(ROW_HEIGHT, n, |mut row| {
                let i = row.index();
                for k in 0..headers.len() {
                    row.col(|ui| cell(i, k, ui));
                }
            });
        });
}

/// The longest polls, longest first; a click on one shows it in the timeline.
fn longest_polls(ui: &mut Ui, d: &TasksData) -> Option<Request> {
    let polls = &d.breakdown.longest_polls;
    ui.label("The longest polls of the trace: a poll this long holds its worker; click one to see it in the timeline.");
    let mut request = None;
    text_table(
        ui,
        "longest-polls",
        true,
        &["duration", "task", "thread", "at", "group"],
        polls.len(),
        |i, k, ui| {
            let p = &polls[i];
            match k {
                0 => {
                    ui.label(poll_duration(p.duration_ns, p.cut, p.still_running));
                }
                1 => {
                    if ui
                        .link(&p.task)
                        .on_hover_text("show this poll in the timeline")
                        .clicked()
                        && let Some(t) = d.long_poll_tasks[i]
                    {
                        let span = Span::new(p.start_ns, p.start_ns + p.duration_ns.max(1));
                        request = Some(Request::ShowTask(t, span));
                    }
                }
                2 => {
                    ui.label(&p.thread);
                }
                3 => {
                    ui.label(format_duration(p.start_ns));
                }
                _ => {
                    ui.label(&p.group);
                }
            }
        },
    );
    request
}

/// Leak suspects (groups whose alive tasks grow) and, apart, long-lived waiting groups:
/// each with why, then its tasks that waited longest.
fn leak_suspects(ui: &mut Ui, d: &TasksData) -> Option<Request> {
    let b = &d.breakdown;
    ui.label(format!(
        "{} leak suspect group(s): groups whose alive tasks grew through the recording, with \
         {} task(s) alive at the end and waiting ≥ {}. Click a task to see its wait in the \
         timeline.",
        b.leak_suspect_count,
        b.leak_suspect_tasks,
        format_duration(b.leak_threshold_ns),
    ));
    let mut request = None;
    egui::ScrollArea::vertical().show(ui, |ui| {
        for (title, groups) in [("suspect", &b.leak_suspects), ("long-lived", &b.long_lived)] {
            if title == "long-lived" && !groups.is_empty() {
                ui.separator();
                ui.label(format!(
                    "Long-lived, not suspected ({} group(s)): tasks waiting the whole time by \
                 design, such as shutdown watchers.",
                    b.long_lived_count
                ));
            }
            for (gi, g) in groups.iter().enumerate() {
                ui.push_id((title, gi), |ui| {
                    ui.strong(format!("{title}: {}", g.group));
                    ui.label(&g.why);
                    for site in &g.wait_sites {
                        ui.label(format!(
                            "{} of {} wait at (task dump):",
                            site.tasks, g.stuck
                        ));
                        for (depth, frame) in site.frames.iter().enumerate() {
                            ui.monospace(format!("{}{frame}", "  ".repeat(depth.min(8) + 1)));
                        }
                    }
                    text_table(
                        ui,
                        "leak-tasks",
                        false,
                        &["waited", "task", "since", "polls"],
                        g.oldest_waiting.len(),
                        |i, k, ui| {
                            let l = &g.oldest_waiting[i];
                            match k {
                                0 => {
                                    ui.label(format_duration(l.waited_ns));
                                }
                                1 => {
                                    if ui
                                        .link(&l.task)
                                        .on_hover_text("show its wait in the timeline")
                                        .clicked()
                                    {
                                        let span = Span::new(
                                            l.waiting_since_ns,
                                            l.waiting_since_ns + l.waited_ns.max(1),
                                        );
                                        request = Some(Request::ShowTask(l.task_ix, span));
                                    }
                                }
                                2 => {
                                    ui.label(format_duration(l.waiting_since_ns));
                                }
                                _ => {
                                    ui.label(l.polls.to_string());
                                }
                            }
                        },
                    );
                });
            }
        }
    });
    request
}

/// How busy each thread was.
fn threads(ui: &mut Ui, d: &TasksData) {
    let threads = &d.breakdown.threads;
    ui.label("Each thread's time: busy (in polls), idle (parked), paused and the rest.");
    text_table(
        ui,
        "threads",
        true,
        &[
            "thread",
            "kind",
            "busy %",
            "busy",
            "idle",
            "paused",
            "other",
            "polls",
            "longest poll",
        ],
        threads.len(),
        |i, k, ui| {
            let t = &threads[i];
            let text = match k {
                0 => t.thread.clone(),
                1 => t.kind.to_string(),
                2 => format!("{:.1}%", t.busy_fraction * 100.0),
                3 => format_duration(t.busy_ns),
                4 => format_duration(t.idle_ns),
                5 => format_duration(t.paused_ns),
                6 => format_duration(t.other_ns),
                7 => t.polls.to_string(),
                _ => format_duration(t.longest_poll_ns),
            };
            ui.label(text);
        },
    );
}

/// Pauses by kind.
fn pauses(ui: &mut Ui, d: &TasksData) {
    let pauses = &d.breakdown.pauses;
    if pauses.is_empty() {
        ui.label("No pauses in this trace.");
        return;
    }
    text_table(
        ui,
        "pauses",
        true,
        &["kind", "scope", "count", "total", "max", "mean"],
        pauses.len(),
        |i, k, ui| {
            let p = &pauses[i];
            let text = match k {
                0 => p.kind.clone(),
                1 => p.scope.to_string(),
                2 => p.count.to_string(),
                3 => format_duration(p.total_ns),
                4 => format_duration(p.max_ns),
                _ => format_duration(p.mean_ns.round() as u64),
            };
            ui.label(text);
        },
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_ranges_read_as_durations() {
        assert_eq!(bucket_range(0), "< 1 µs");
        assert_eq!(bucket_range(1), "1 µs – 2 µs");
        assert!(bucket_range(HISTOGRAM_EDGES_NS.len() - 1).starts_with("≥ 1.05 s"));
    }
}
