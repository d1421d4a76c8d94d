//! The window on a generated trace of 10 M events, headless (budgets, in
//! docs/ARCHITECTURE.md: open ≤ 1 s, ≤ 24 bytes of memory per event, a frame — UI +
//! tessellation — ≤ 8 ms at any zoom).
//!
//! - open: the window's own open path (`OpenJob`: open, decode in parallel, derive the lane
//!   tables), timed once;
//! - memory: heap bytes the open trace holds (a counting global allocator: live bytes
//!   after opening minus before), per event;
//! - frame: the timeline panel laid out, painted and tessellated by egui on a 1920×1080
//!   screen, with every task group expanded (20 000 task lanes, the visible ones drawn) and
//!   the counter lanes shown, at
//!   the whole trace, a 1 ms window in the middle and a 50 ns window; the first frame at
//!   each zoom (which computes the task lanes' states) is shown apart from the median and
//!   worst of the next 30.
//!
//! - flame graph (issue 19's budgets: build ≤ 200 ms for 1 M samples, a frame ≤ 8 ms): the
//!   profile of 1 M synthetic CPU samples over 20 000 stacks of 20 to 60 frames (as
//!   `trace-analysis`'s profile bench makes them) built, laid out at 1920 px, compared with
//!   another half of the samples, and the Flame graph view drawn and tessellated — whole,
//!   zoomed, searched and compared.
//!
//! `cargo bench -p trace-viewer --bench viewer` runs the full size and prints the figures;
//! without `--bench` (e.g. `cargo test --benches`) it smoke-runs on 100 k events.
//! `VIEWER_BENCH_EVENTS=N` overrides the size; `VIEWER_BENCH_PLAIN=1` leaves the counters,
//! regions and logs out of the trace (to compare with figures taken before their lanes);
//! `VIEWER_BENCH_SAVE=PATH` writes the generated trace to PATH and stops (to open the same
//! trace in the real window, e.g. with `TRACE_VIEWER_FRAME_STATS=1`).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use trace_analysis::analysis::flame;
use trace_analysis::analysis::profile::Profile;
use trace_analysis::model::{SampleKind, Span};
use trace_analysis::synthetic::Synthetic;
use trace_viewer::app::flame::{Baseline, FlameData, Scope};
use trace_viewer::app::jobs::Lazy;
use trace_viewer::app::open_job::{OpenJob, OpenOutcome};
use trace_viewer::app::trace_view::TraceView;

/// Counts live heap bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: forwarded as is.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: forwarded as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// A synthetic trace of about `events` events: 4 workers, 20 000 tasks at 3 locations, each
/// poll preceded by a wake (3 events per poll), a park per round, counters, regions and logs.
fn params(events: u64) -> Synthetic {
    let tasks = 20_000u32.min((events / 30).max(10) as u32);
    Synthetic {
        workers: 4,
        tasks,
        polls_per_task: (events / (3 * u64::from(tasks))).max(2) as u32,
        locations: 3,
        poll_ns: 2_000,
        gap_ns: 200,
        park_ns: 5_000,
        pauses: true,
        blocking: true,
        lost: false,
        // Runtime samples, worker queues and a user counter every 100 µs, allocator
        // counters at each park: 10 counter lanes; two nested regions and a log line in
        // every 20th poll.
        sample_ns: 100_000,
        regions_every: 20,
    }
}

/// Runs one frame of the timeline panel and tessellates it; returns how long it took.
fn frame(ctx: &egui::Context, tv: &mut TraceView) -> Duration {
    frame_of(ctx, tv, TraceView::show_timeline)
}

/// Runs one frame of `view` and tessellates it; returns how long it took.
fn frame_of(
    ctx: &egui::Context,
    tv: &mut TraceView,
    view: fn(&mut TraceView, &mut egui::Ui),
) -> Duration {
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(
            egui::Pos2::ZERO,
            egui::vec2(1920.0, 1080.0),
        )),
        ..Default::default()
    };
    let start = Instant::now();
    let mut output = ctx.run_ui(input, |ui| {
        egui::CentralPanel::default().show(ui, |ui| view(tv, ui));
    });
    let clipped = ctx.tessellate(output.shapes, output.pixels_per_point);
    let took = start.elapsed();
    std::hint::black_box(clipped);
    // No renderer here to upload the font atlas to.
    output.textures_delta.clear();
    took
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let events: u64 = std::env::var("VIEWER_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if full { 10_000_000 } else { 100_000 });
    let mut s = params(events);
    if std::env::var_os("VIEWER_BENCH_PLAIN").is_some() {
        // The trace as before the counter, region and log lanes, to compare with.
        s.sample_ns = 0;
        s.regions_every = 0;
    }
    if let Some(save) = std::env::var_os("VIEWER_BENCH_SAVE") {
        std::fs::write(&save, s.bytes()).expect("writing the trace");
        println!("trace written to {}", std::path::Path::new(&save).display());
        return;
    }
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("viewer-bench.rtt");
    {
        let bytes = s.bytes();
        std::fs::write(&path, &bytes).expect("writing the trace");
        println!(
            "trace: {} workers, {} tasks × {} polls, {:.1} MB",
            s.workers,
            s.tasks,
            s.polls_per_task,
            bytes.len() as f64 / 1e6
        );
    }

    let before = live();
    let started = Instant::now();
    let OpenOutcome::Opened(trace) = OpenJob::start(path, || {}).wait() else {
        panic!("the generated trace loads");
    };
    let open = started.elapsed();
    let held = live() - before;
    let n = trace.model.events;
    println!(
        "open: {:.0} ms for {n} events ({:.1} M events/s)",
        ms(open),
        n as f64 / open.as_secs_f64() / 1e6
    );
    println!(
        "memory: {:.1} MB held, {:.1} bytes per event",
        held as f64 / 1e6,
        held as f64 / n as f64
    );

    let ctx = egui::Context::default();
    let mut tv = TraceView::new(trace);
    tv.set_all_collapsed(false);
    let whole = tv.trace.model.span();
    let mid = (whole.start + whole.end) / 2;
    let zooms = [
        ("whole trace", None),
        ("1 ms", Some(Span::new(mid, mid + 1_000_000))),
        ("50 ns", Some(Span::new(mid, mid + 50))),
    ];
    for (name, span) in zooms {
        match span {
            None => tv.view.fit_all(),
            Some(span) => {
                tv.view.time = trace_viewer::app::view::TimeView {
                    start: span.start as f64,
                    end: span.end as f64,
                }
            }
        }
        let first = frame(&ctx, &mut tv);
        let mut times: Vec<Duration> = (0..30).map(|_| frame(&ctx, &mut tv)).collect();
        times.sort();
        println!(
            "frame at {name:>11}: first {:6.2} ms, median {:5.2} ms, worst {:5.2} ms \
             ({} rectangles, {} lanes)",
            ms(first),
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1]),
            tv.timeline.scene.items.len() + tv.timeline.scene.overlays.len(),
            tv.timeline.scene.lanes.len(),
        );
    }
    flame_figures(&ctx, &mut tv, if full { 1_000_000 } else { 20_000 });
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// The flame graph's figures: build, layout, comparison and the view's frames.
fn flame_figures(ctx: &egui::Context, tv: &mut TraceView, n: usize) {
    let (code, samples) = trace_analysis::synthetic::cpu_profile(n, 20_000);
    let mut build = Vec::new();
    let mut profile = None;
    for _ in 0..5 {
        let t = Instant::now();
        profile = Some(Profile::from_samples(
            &code,
            Some(SampleKind::Cpu),
            &samples,
        ));
        build.push(t.elapsed());
    }
    let profile = profile.expect("built");
    let mut lay = Vec::new();
    let mut rects = 0;
    for _ in 0..30 {
        let t = Instant::now();
        let l = flame::layout(&profile, flame::ROOT, 1.0 / 1920.0);
        lay.push(t.elapsed());
        rects = l.rects.len();
    }
    let t = Instant::now();
    let half = Profile::from_samples(&code, Some(SampleKind::Cpu), &samples[..n / 2]);
    let diff = flame::diff(&profile, &half);
    let compare = t.elapsed();
    println!(
        "flame: {n} samples ({} tree nodes): build {:.1} ms (median of 5; budget 200 ms), \
         layout {:.2} ms ({rects} frames at 1920 px), baseline built and compared {:.1} ms",
        profile.nodes.len(),
        ms(median(&mut build)),
        ms(median(&mut lay)),
        ms(compare)
    );
    // The deepest frame still a tenth of the whole: zoomed into.
    let deep = (0..profile.nodes.len() as u32)
        .filter(|&i| profile.nodes[i as usize].total_weight * 10 >= profile.total_weight())
        .max_by_key(|&i| profile.path(i).len())
        .unwrap_or(flame::ROOT);
    let compared_with = (half, diff);
    for (name, zoom, query, compared) in [
        ("whole", flame::ROOT, "", false),
        ("zoomed", deep, "", false),
        ("searched", flame::ROOT, "module3::", false),
        ("compared", flame::ROOT, "", true),
    ] {
        tv.tab = trace_viewer::app::trace_view::Tab::Flame;
        tv.flame.compare = compared;
        tv.flame.baseline = compared.then_some(Baseline::Selection(Scope::Whole));
        let key = tv.flame.key();
        let data = FlameData::new(
            key,
            profile.clone(),
            compared.then(|| compared_with.clone()),
        );
        tv.flame.requested = Some(key);
        tv.flame.data = Lazy::Ready(Ok(std::sync::Arc::new(data)));
        tv.flame.zoom = zoom;
        tv.flame.query = query.into();
        let first = frame_of(ctx, tv, TraceView::show_flame_view);
        let mut times: Vec<Duration> = (0..30)
            .map(|_| frame_of(ctx, tv, TraceView::show_flame_view))
            .collect();
        println!(
            "flame frame {name:>8}: first {:6.2} ms, median {:5.2} ms, worst {:5.2} ms",
            ms(first),
            ms(median(&mut times)),
            ms(*times.iter().max().expect("frames"))
        );
    }
}
