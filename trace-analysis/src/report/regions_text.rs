//! The region groups (`tracing` spans grouped by name and fields) as text, for `report` and
//! `trace-viewer regions`.

use super::table::{Align, render};
use crate::analysis::regions::RegionGroups;
use crate::model::Nanos;
use crate::units::{format_bytes, format_duration};

/// The groups as a table (the first `limit` when given, saying how many are left out),
/// with a line saying what they are grouped by; `long_poll` is the threshold the groups
/// were computed with.
pub fn render_regions_text(
    groups: &RegionGroups,
    long_poll: Nanos,
    limit: Option<usize>,
) -> String {
    let mut s = String::new();
    let by: Vec<String> = groups
        .by
        .iter()
        .map(|(name, f)| {
            if f.is_empty() {
                format!("{name}: name only")
            } else {
                format!("{name}: {}", f.join(", "))
            }
        })
        .collect();
    s += &format!(
        "regions (`tracing` spans, creation to close), grouped by {}{}\n",
        if groups.auto {
            "the fields with few values — "
        } else {
            ""
        },
        if by.is_empty() {
            "-".to_string()
        } else {
            by.join("; ")
        }
    );
    let mut rows = vec![
        [
            "name",
            "fields",
            "count",
            "total",
            "p50",
            "p99",
            "max",
            "busy",
            &format!("in polls ≥ {}", format_duration(long_poll)),
            "allocated",
            "cpu samples",
        ]
        .map(String::from)
        .to_vec(),
    ];
    let shown = limit.unwrap_or(usize::MAX).min(groups.groups.len());
    for g in &groups.groups[..shown] {
        let fields: Vec<String> = g.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let count = if g.open > 0 {
            format!("{} ({} open)", g.count, g.open)
        } else {
            g.count.to_string()
        };
        rows.push(vec![
            g.name.clone(),
            if fields.is_empty() {
                "-".into()
            } else {
                fields.join(" ")
            },
            count,
            format_duration(g.total_ns),
            format_duration(g.p50_ns),
            format_duration(g.p99_ns),
            format_duration(g.max_ns),
            format!("{:.0}%", g.busy_share * 100.0),
            format_duration(g.long_poll_ns),
            // Not measured is not zero.
            if groups.allocations_recorded {
                format_bytes(g.alloc_bytes)
            } else {
                "-".into()
            },
            if groups.cpu_sampled {
                g.cpu_samples.to_string()
            } else {
                "-".into()
            },
        ]);
    }
    use Align::{Left, Right};
    s += &render(
        &rows,
        &[
            Left, Left, Right, Right, Right, Right, Right, Right, Right, Right, Right,
        ],
        "  ",
    );
    if shown < groups.groups.len() {
        s += &format!(
            "  … and {} more groups (trace-viewer regions)\n",
            groups.groups.len() - shown
        );
    }
    s
}
