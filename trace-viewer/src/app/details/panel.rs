//! The details panel: what was computed about the selection (a task, the clicked
//! poll or state stretch, a thread), with links to the parent task, the waker and the
//! longest poll.

use egui::{Color32, Grid, RichText, Sense, Ui, vec2};

use super::DetailsState;
use super::wake::wake_ending;
use crate::app::flame::Scope;
use crate::app::jobs::Lazy;
use crate::app::labels::{state_label, wake_source_label};
use crate::app::open_trace::OpenTrace;
use crate::app::palette;
use crate::app::view::{Selection, ViewState};
use trace_analysis::model::{Span, TaskIx, Wake};
use trace_analysis::units::{format_bytes, format_duration};

/// The panel's heading (tests look for it).
pub const HEADING: &str = "Details";

/// What a click in the panel asks of the other views.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Select this task and bring it into view.
    Reveal(TaskIx),
    /// Show the flame graph of this selection.
    Flame(Scope),
}

/// The link that opens a flame graph of what is shown (tests look for it).
pub const FLAME_LINK: &str = "flame graph";

/// What a click in the panel asks for.
enum Action {
    Reveal(TaskIx),
    Flame(Scope),
    Zoom(Span),
    Close,
    ClearRange,
}

/// What the panel reads.
struct Shown<'a> {
    trace: &'a OpenTrace,
    view: &'a ViewState,
    details: &'a DetailsState,
}

/// Shows the details of the selection and the range of `view`; returns what a link clicked
/// asks of the other views (a task to select and bring into view, a flame graph).
pub fn show(
    ui: &mut Ui,
    trace: &OpenTrace,
    view: &mut ViewState,
    details: &mut DetailsState,
) -> Option<Request> {
    let mut action = None;
    ui.horizontal(|ui| {
        ui.heading(HEADING);
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            if ui
                .button("Close")
                .on_hover_text("Clear the selection (Esc)")
                .clicked()
            {
                action = Some(Action::Close);
            }
        });
    });
    ui.separator();
    let s = Shown {
        trace,
        view,
        details,
    };
    egui::ScrollArea::vertical().show(ui, |ui| {
        if s.view.range.is_some() {
            range_section(ui, &s, &mut action);
            ui.separator();
        }
        selection_section(ui, &s, &mut action);
    });
    match action {
        Some(Action::Reveal(task)) => return Some(Request::Reveal(task)),
        Some(Action::Flame(scope)) => return Some(Request::Flame(scope)),
        Some(Action::Zoom(span)) => view.fit_to(span),
        Some(Action::Close) => details.clear(trace, view),
        Some(Action::ClearRange) => view.range = None,
        None => {}
    }
    None
}

fn selection_section(ui: &mut Ui, s: &Shown<'_>, action: &mut Option<Action>) {
    match s.view.selection {
        Some(Selection::Task { segment, .. }) => {
            task_section(ui, s, segment, action);
        }
        Some(Selection::Thread(_)) => thread_section(ui, s, action),
        None => {
            ui.label("Click a slice in the timeline to see it here.");
        }
    }
}

/// The heading of the range section (tests look for it).
pub const RANGE_HEADING: &str = "Selected range";

fn range_section(ui: &mut Ui, s: &Shown<'_>, action: &mut Option<Action>) {
    let Some(range) = s.view.range else {
        return;
    };
    ui.horizontal(|ui| {
        ui.label(RichText::new(RANGE_HEADING).strong().size(15.0));
        if ui.link("zoom to it").clicked() {
            *action = Some(Action::Zoom(range));
        }
        if ui.link("clear").clicked() {
            *action = Some(Action::ClearRange);
        }
        if ui
            .link(FLAME_LINK)
            .on_hover_text("The flame graph of the samples in the range")
            .clicked()
        {
            *action = Some(Action::Flame(Scope::Range(range)));
        }
    });
    ui.label(format!(
        "{} from {} to {}",
        format_duration(range.len()),
        format_duration(range.start),
        format_duration(range.end)
    ));
    let summary = match &s.details.range {
        Lazy::Ready(Ok(r)) if r.span == range => r.clone(),
        _ => {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("summing…");
            });
            return;
        }
    };
    ui.label(format!(
        "{} tasks alive in it; their time by state:",
        summary.tasks
    ));
    let total = summary.totals.total().max(1) as f64;
    Grid::new("range-states").num_columns(3).show(ui, |ui| {
        for state in palette::legend_states() {
            let ns = summary.totals.get(state);
            if ns == 0 {
                continue;
            }
            ui.horizontal(|ui| {
                let (r, _) = ui.allocate_exact_size(vec2(10.0, 10.0), Sense::hover());
                ui.painter()
                    .rect_filled(r, 1.0, palette::state_color(state));
                ui.label(state_label(state));
            });
            ui.label(format_duration(ns));
            ui.label(format!("{:.1}%", ns as f64 * 100.0 / total));
            ui.end_row();
        }
    });
    ui.add_space(4.0);
    ui.label("threads (busy / idle):");
    Grid::new("range-threads").num_columns(3).show(ui, |ui| {
        let len = range.len().max(1) as f64;
        for t in &summary.threads {
            ui.label(&t.label);
            ui.label(format!("{:.1}%", t.busy as f64 * 100.0 / len));
            ui.label(format!("{:.1}%", t.idle as f64 * 100.0 / len));
            ui.end_row();
        }
    });
}

/// The heading of the await trace (tests look for it).
pub const WAITS_AT: &str = "Waits at";

/// Where the task waited when the recording stopped (a tokio task dump): each frame
/// outermost first, indented as a tree, its file and line beside it.
fn waits_at_section(ui: &mut Ui, d: &super::data::TaskDetails) {
    if d.waits_at.is_empty() && d.waits_at_note.is_none() {
        return;
    }
    ui.add_space(8.0);
    ui.label(RichText::new(WAITS_AT).strong())
        .on_hover_text("Where the task waited when the recording stopped (tokio task dump)");
    if let Some(note) = &d.waits_at_note {
        ui.label(format!("no await trace: {note}"));
    }
    for (i, frames) in d.waits_at.iter().enumerate() {
        if i > 0 {
            ui.label("and");
        }
        for (depth, (function, place)) in frames.iter().enumerate() {
            let arrow = if depth == 0 { "╼" } else { "└╼" };
            let text = format!("{:w$}{arrow} {function}", "", w = depth.min(12));
            ui.horizontal(|ui| {
                ui.label(RichText::new(text).monospace());
                if !place.is_empty() {
                    ui.label(RichText::new(place).weak());
                }
            });
        }
    }
}

fn task_section(
    ui: &mut Ui,
    s: &Shown<'_>,
    segment: Option<(Span, trace_analysis::analysis::states::TaskState)>,
    action: &mut Option<Action>,
) {
    let Some(d) = &s.details.task else {
        return;
    };
    let model = &s.trace.model;
    ui.horizontal(|ui| {
        ui.label(RichText::new(&d.label).strong().size(15.0));
        if ui
            .link(FLAME_LINK)
            .on_hover_text("The flame graph of the task's samples")
            .clicked()
        {
            *action = Some(Action::Flame(Scope::Task(d.task)));
        }
    });
    ui.add_space(4.0);
    Grid::new("task-details")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            let row = |ui: &mut Ui, k: &str, v: String| {
                ui.label(k);
                ui.label(v);
                ui.end_row();
            };
            row(ui, "task id", d.id.to_string());
            row(
                ui,
                "tokio id",
                if d.tokio_id == 0 {
                    "unknown".into()
                } else {
                    d.tokio_id.to_string()
                },
            );
            row(ui, "kind", d.kind.into());
            row(ui, "spawned at", d.location.clone());
            if !d.name.is_empty() {
                row(ui, "name", d.name.clone());
            }
            ui.label("parent");
            match &d.parent {
                Some((p, label)) => {
                    if ui
                        .link(label)
                        .on_hover_text("Select the parent task")
                        .clicked()
                    {
                        *action = Some(Action::Reveal(*p));
                    }
                }
                None => {
                    ui.label("none in the trace");
                }
            }
            ui.end_row();
            row(ui, "children", d.children.to_string());
            row(
                ui,
                "spawned",
                d.spawn.map_or("before the recording".into(), |t| {
                    format!("at {}", format_duration(t))
                }),
            );
            row(
                ui,
                "terminated",
                d.terminate.map_or("still alive at the end".into(), |t| {
                    format!("at {}", format_duration(t))
                }),
            );
            row(ui, "lifetime", format_duration(d.lifetime.len()));
            row(ui, "polls", d.polls.to_string());
            ui.label("longest poll");
            match d.longest_poll {
                Some((p, len)) => {
                    if ui
                        .link(format_duration(len))
                        .on_hover_text("Zoom to it")
                        .clicked()
                    {
                        *action = Some(Action::Zoom(model.polls[p as usize].span()));
                    }
                }
                None => {
                    ui.label("-");
                }
            }
            ui.end_row();
            row(ui, "wakes", d.wakes.to_string());
            let (n, sampled, estimated) = d.alloc_samples;
            row(
                ui,
                "allocated",
                if n == 0 {
                    "no sampled allocation".into()
                } else {
                    format!(
                        "≈ {} ({n} samples of {})",
                        format_bytes(estimated),
                        format_bytes(sampled)
                    )
                },
            );
        });

    waits_at_section(ui, d);

    ui.add_space(8.0);
    ui.label(RichText::new("time by state").strong());
    let rows = d.state_rows();
    // A stacked bar of the shares.
    let (rect, _) =
        ui.allocate_exact_size(vec2(ui.available_width().min(300.0), 12.0), Sense::hover());
    let mut x = rect.left();
    for &(state, _, share) in &rows {
        let w = rect.width() * share as f32;
        ui.painter().rect_filled(
            egui::Rect::from_min_size(egui::pos2(x, rect.top()), vec2(w, rect.height())),
            0.0,
            palette::state_color(state),
        );
        x += w;
    }
    Grid::new("task-states").num_columns(3).show(ui, |ui| {
        for (state, ns, share) in rows {
            ui.horizontal(|ui| {
                let (r, _) = ui.allocate_exact_size(vec2(10.0, 10.0), Sense::hover());
                ui.painter()
                    .rect_filled(r, 1.0, palette::state_color(state));
                ui.label(state_label(state));
            });
            ui.label(format_duration(ns));
            ui.label(format!("{:.1}%", share * 100.0));
            ui.end_row();
        }
    });

    if let Some(p) = &s.details.poll {
        ui.add_space(8.0);
        ui.horizontal(|ui| {
            ui.label(RichText::new(format!("poll {} of {}", p.number, d.polls)).strong());
            if ui
                .link(FLAME_LINK)
                .on_hover_text("The flame graph of this poll's samples")
                .clicked()
            {
                *action = Some(Action::Flame(Scope::Poll(p.poll)));
            }
        });
        Grid::new("poll-details").num_columns(2).show(ui, |ui| {
            ui.label("thread");
            ui.label(&p.thread.1);
            ui.end_row();
            ui.label("started");
            ui.label(format!("at {}", format_duration(p.span.start)));
            ui.end_row();
            ui.label("duration");
            ui.label(format_duration(p.span.len()));
            ui.end_row();
            ui.label("outcome");
            ui.label(if p.cut {
                "end not recorded"
            } else if p.ready {
                "ready (task completed)"
            } else {
                "pending"
            });
            ui.end_row();
            if let Some(w) = p.woken {
                woken_rows(ui, s, w, action);
            }
        });
        if let Some(st) = &p.stall {
            ui.add_space(4.0);
            ui.colored_label(
                ui.visuals().warn_fg_color,
                format!(
                    "{STALLED}: {} stall samples ({})",
                    st.samples,
                    format_duration(st.wall)
                ),
            );
            ui.label(format!(
                "where ({} of {} samples), innermost first:",
                st.stack_samples, st.samples
            ));
            // Truncated to the panel's width (names and paths run long); the whole on hover.
            for (function, at) in &st.frames {
                ui.add(egui::Label::new(RichText::new(function).monospace()).truncate())
                    .on_hover_text(function);
                ui.add(egui::Label::new(RichText::new(format!("    {at}")).weak()).truncate())
                    .on_hover_text(at);
            }
        }
    }
    if let Some((span, state)) = segment {
        ui.add_space(8.0);
        ui.label(RichText::new("selected stretch").strong());
        Grid::new("segment-details").num_columns(2).show(ui, |ui| {
            ui.label("state");
            ui.colored_label(palette::state_color(state), state_label(state));
            ui.end_row();
            ui.label("from");
            ui.label(format!(
                "{} for {}",
                format_duration(span.start),
                format_duration(span.len())
            ));
            ui.end_row();
            if matches!(
                state,
                trace_analysis::analysis::states::TaskState::Waiting(_)
            ) && let Some(w) = wake_ending(s.trace, d.task, span)
            {
                woken_rows(ui, s, w, action);
            }
        });
    }
}

/// What the details of a stalled poll start with (tests look for it).
pub const STALLED: &str = "stalled";

/// The label of the "woken by" row (tests look for it).
pub const WOKEN_BY: &str = "woken by";

/// Two grid rows about a wake: who made it (a link selecting the waker task, or what woke
/// it) and when and where.
fn woken_rows(ui: &mut Ui, s: &Shown<'_>, w: Wake, action: &mut Option<Action>) {
    let model = &s.trace.model;
    ui.label(WOKEN_BY);
    if w.waker != TaskIx::NONE {
        if ui
            .link(model.task_label(w.waker))
            .on_hover_text("Select the waker task (the arrow shows the wake)")
            .clicked()
        {
            *action = Some(Action::Reveal(w.waker));
        }
    } else {
        ui.label(wake_source_label(w.source));
    }
    ui.end_row();
    ui.label("wake");
    ui.label(format!(
        "at {} on {}",
        format_duration(w.time),
        model.threads[w.thread.index()].label()
    ));
    ui.end_row();
}

fn thread_section(ui: &mut Ui, s: &Shown<'_>, action: &mut Option<Action>) {
    let Some(d) = &s.details.thread else {
        return;
    };
    ui.horizontal(|ui| {
        ui.label(RichText::new(&d.label).strong().size(15.0));
        if let Some(Selection::Thread(t)) = s.view.selection
            && ui
                .link(FLAME_LINK)
                .on_hover_text("The flame graph of the thread's samples")
                .clicked()
        {
            *action = Some(Action::Flame(Scope::Thread(t)));
        }
    });
    Grid::new("thread-details")
        .num_columns(2)
        .striped(true)
        .show(ui, |ui| {
            let mut row = |k: &str, v: String| {
                ui.label(k);
                ui.label(v);
                ui.end_row();
            };
            row("thread id", d.id.to_string());
            row("polls", d.polls.to_string());
            row("busy (in polls)", format_duration(d.busy));
            row("idle (parked)", format_duration(d.idle));
            row("pauses", d.pauses.to_string());
            row(
                "data lost",
                if d.lost == 0 {
                    "none".into()
                } else {
                    format!("{} hole(s)", d.lost)
                },
            );
        });
    if d.lost > 0 {
        ui.colored_label(
            Color32::from_rgb(255, 120, 120),
            "This thread's lanes are incomplete where the red marks are.",
        );
    }
}
