//! 5. Allocation pressure: responses built by repeated string concatenation.
//!
//! The service: for each request (one per millisecond) the acceptor spawns a page handler,
//! which renders a list of 200 items as HTML, and a status handler, which fills a 16 KiB
//! buffer. The page handler builds its body with `body = format!("{body}<li>…</li>")`:
//! every item copies the whole body so far into a new string, so a 5 KiB page costs about
//! half a megabyte of allocations — quadratic in the page's length. Nothing leaks and the
//! heap in use stays small; the allocator is simply busy all the time.
//!
//! What the trace shows (with `trace_rt::TracingAllocator` installed as the global
//! allocator — the example binary and the tests do, this library cannot): the allocated-bytes
//! counter climbs steeply while the heap in use stays flat, and the sampled allocations (one
//! per 512 KiB on average, each with the task being polled) put almost all the bytes on the
//! page handlers' spawn location: `breakdown.groups[].alloc_sampled_bytes` in
//! `report --json`; their stacks put them in the function that concatenates,
//! `render_page` (`code.alloc_sites`).
//!
//! `--fixed` writes into one `String::with_capacity` with `write!`: one allocation per page.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use trace_analysis::analysis::overview::{Analysis, AnalysisOptions};
use trace_analysis::model::{CounterKind, Model};
use trace_analysis::units::{format_bytes, format_duration};

use super::{
    Args, CodeCulprit, Error, Problem, Recorded, SpawnSite, alloc_sites, client, latency_line,
    record, site_clause,
};

/// Items per page.
pub const ITEMS: usize = 200;
/// Bytes each status response fills.
pub const STATUS_BYTES: usize = 16 * 1024;
/// The time between two requests.
pub const REQUEST_EVERY: Duration = Duration::from_millis(1);

/// The problem, for [`super::main`].
pub const PROBLEM: Problem = Problem {
    name: "alloc_pressure",
    title: "allocation pressure from string concatenation",
    run,
    options: |_| AnalysisOptions::default(),
    report_flags: |_| String::new(),
    verdict,
    next_steps: &[
        "report {trace} --json   # breakdown.groups[].alloc_samples and alloc_sampled_bytes",
        "export {trace} --chrome alloc_pressure.json   # ui.perfetto.dev: 'allocated (bytes)' and 'heap in use' counters",
    ],
};

/// Records the service (rendering into one buffer with `args.fixed`).
pub fn run(args: &Args) -> Result<Recorded, Error> {
    let (pages, statuses) = (SpawnSite::default(), SpawnSite::default());
    let fixed = args.fixed;
    let ((served, bytes, mut render_times), summary) = {
        let (pages, statuses) = (pages.clone(), statuses.clone());
        record(args, false, move |duration| {
            service(duration, pages, statuses, fixed)
        })?
    };
    Ok(Recorded {
        trace: args.out.clone(),
        summary,
        symptom: format!(
            "{served} pages of {} each; rendering one took {}",
            format_bytes((bytes / served.max(1)) as u64),
            latency_line(&mut render_times)
        ),
        culprit: pages.label(),
        victims_spawned_at: Some(statuses.label()),
        culprit_function: Some(CodeCulprit {
            path: std::any::type_name_of_val(&render_page),
            file: file!(),
            lines: None,
        }),
    })
}

async fn service(
    duration: Duration,
    pages: SpawnSite,
    statuses: SpawnSite,
    fixed: bool,
) -> (usize, usize, Vec<Duration>) {
    let mut requests = client(REQUEST_EVERY, duration);
    let (mut spawned_pages, mut spawned_statuses) = (Vec::new(), Vec::new());
    let mut n = 0usize;
    while requests.recv().await.is_some() {
        n += 1;
        spawned_pages.push(pages.spawn(async move {
            let t = Instant::now();
            let page = render_page(n, fixed);
            (page.len(), t.elapsed())
        }));
        spawned_statuses.push(statuses.spawn(async move { render_status(n).len() }));
    }
    let (mut bytes, mut times) = (0, Vec::new());
    for h in spawned_pages {
        if let Ok((len, time)) = h.await {
            bytes += len;
            times.push(time);
        }
    }
    for h in spawned_statuses {
        let _ = h.await;
    }
    (n, bytes, times)
}

/// The page: `ITEMS` list items, by repeated concatenation (the problem) or into one
/// buffer (`fixed`).
fn render_page(request: usize, fixed: bool) -> String {
    if fixed {
        let mut body = String::with_capacity(ITEMS * 32);
        for item in 0..ITEMS {
            let _ = write!(body, "<li>item {item} of page {request}</li>");
        }
        body
    } else {
        let mut body = String::new();
        for item in 0..ITEMS {
            body = format!("{body}<li>item {item} of page {request}</li>");
        }
        body
    }
}

/// The status response: a 16 KiB buffer, one allocation.
fn render_status(request: usize) -> Vec<u8> {
    vec![request as u8; STATUS_BYTES]
}

/// Names the group that allocates the most (by sampled bytes) and the function that does
/// (the top allocation site), with the allocation rate and the heap in use from the
/// allocator counters.
pub fn verdict(model: &Model, analysis: &Analysis, _recorded: &Recorded) -> String {
    if !analysis.coverage.allocator {
        return "no allocator data in the trace: install trace_rt::TracingAllocator as the \
                #[global_allocator]"
            .into();
    }
    let b = &analysis.breakdown;
    let sampled: u64 = b.groups.iter().map(|g| g.alloc_sampled_bytes).sum();
    let Some(top) = b.groups.iter().max_by_key(|g| g.alloc_sampled_bytes) else {
        return "no tasks in the trace".into();
    };
    let mut line = format!(
        "{} made {} of the {} sampled allocations ({} of {} sampled bytes, {:.0}%)",
        top.label,
        top.alloc_samples,
        b.groups.iter().map(|g| g.alloc_samples).sum::<u64>(),
        format_bytes(top.alloc_sampled_bytes),
        format_bytes(sampled),
        top.alloc_sampled_bytes as f64 * 100.0 / sampled.max(1) as f64
    );
    line += "; ";
    line += &site_clause(&alloc_sites(analysis), "allocated", "the estimated bytes");
    let series = |kind: CounterKind| model.counters.iter().find(|c| c.kind == kind);
    let span = model.end.saturating_sub(model.start).max(1);
    if let Some(allocated) = series(CounterKind::AllocatedBytes)
        && let Some(&(_, total)) = allocated.points.last()
    {
        line += &format!(
            "; {} allocated in {} ({}/s)",
            format_bytes(total as u64),
            format_duration(span),
            format_bytes((total * 1e9 / span as f64) as u64)
        );
    }
    if let Some(heap) = series(CounterKind::HeapInUse) {
        let peak = heap.points.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        let end = heap.points.last().map_or(0.0, |p| p.1);
        line += &format!(
            ", while the heap in use peaked at {} and ended at {} (relative to the start)",
            format_bytes(peak.max(0.0) as u64),
            format_bytes(end.max(0.0) as u64)
        );
    }
    line
}
