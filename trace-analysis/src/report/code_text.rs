//! The text form of the report's code part ([`Hotspots`]): top functions by CPU (flat and
//! cumulative), stalled polls by stack, allocation sites, and each task group's top
//! function. Each list holds at most [`crate::analysis::hotspots::TOP`] entries.

use super::table::{self, Align};
use crate::analysis::hotspots::{FunctionName, Hotspots};
use crate::units::{format_bytes, format_duration};

fn pct(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// `function (file:line)`, the file shortened as spawn locations are.
fn name(f: &FunctionName) -> String {
    match &f.file {
        Some(file) if f.line > 0 => format!(
            "{} ({}:{})",
            f.function,
            crate::model::short_source_path(file),
            f.line
        ),
        Some(file) => format!("{} ({})", f.function, crate::model::short_source_path(file)),
        None => f.function.clone(),
    }
}

/// The code part as text.
pub(super) fn render_code_text(h: &Hotspots) -> String {
    use Align::{Left, Right};
    let mut text = String::from("\ncode (from stack samples)\n");
    for note in &h.notes {
        text += &format!("  note: {note}\n");
    }

    match &h.cpu {
        None => text.push_str("\ntop functions by CPU\n  no CPU samples\n"),
        Some(cpu) => {
            text += &format!(
                "\ntop functions by CPU ({} in {} samples; flat: running it, cum: it or what it called)\n",
                format_duration(cpu.total_ns),
                cpu.samples
            );
            for (title, list) in [
                ("by flat", &cpu.flat),
                ("by cum, application functions", &cpu.cum),
            ] {
                text += &format!("  {title}\n");
                let mut rows = vec![
                    ["flat", "flat%", "cum", "cum%", "function"]
                        .map(String::from)
                        .to_vec(),
                ];
                for t in list {
                    rows.push(vec![
                        format_duration(t.flat_ns),
                        pct(t.flat_share),
                        format_duration(t.cum_ns),
                        pct(t.cum_share),
                        name(&t.name),
                    ]);
                }
                text += &table::render(&rows, &[Right, Right, Right, Right, Left], "    ");
            }
        }
    }

    text += &format!(
        "\nstalled polls by stack ({} stall samples)\n",
        h.stall_samples
    );
    if h.stalls.is_empty() {
        text.push_str("  none\n");
    } else {
        let mut rows = vec![
            [
                "total",
                "worst",
                "polls",
                "samples",
                "site (stack, innermost first)",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for s in &h.stalls {
            rows.push(vec![
                format_duration(s.total_ns),
                format_duration(s.worst_ns),
                s.polls.to_string(),
                s.samples.to_string(),
                format!("{}  [{}]", name(&s.site), s.stack.join(" < ")),
            ]);
        }
        text += &table::render(&rows, &[Right, Right, Right, Right, Left], "  ");
    }

    text.push_str("\nallocation sites by estimated bytes\n");
    if h.alloc_sites.is_empty() {
        text.push_str("  none\n");
    } else {
        let mut rows = vec![
            [
                "bytes",
                "objects",
                "samples",
                "site (stack, innermost first)",
            ]
            .map(String::from)
            .to_vec(),
        ];
        for a in &h.alloc_sites {
            rows.push(vec![
                format_bytes(a.bytes),
                a.objects.to_string(),
                a.samples.to_string(),
                format!("{}  [{}]", name(&a.site), a.stack.join(" < ")),
            ]);
        }
        text += &table::render(&rows, &[Right, Right, Right, Left], "  ");
    }

    text.push_str("\ntop function of each task group\n");
    if h.groups.is_empty() {
        text.push_str("  none\n");
    } else {
        let mut rows = vec![
            ["group", "by", "time", "share", "function"]
                .map(String::from)
                .to_vec(),
        ];
        for g in &h.groups {
            rows.push(vec![
                g.group.clone(),
                g.by.name().to_string(),
                format_duration(g.ns),
                pct(g.share),
                name(&g.site),
            ]);
        }
        text += &table::render(&rows, &[Left, Left, Right, Right, Left], "  ");
    }
    text
}
