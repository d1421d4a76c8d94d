//! Per-frame timings for reports of a slow window: with `TRACE_VIEWER_FRAME_STATS=1` the
//! window prints one line per frame to stderr — what the app's own code took, what eframe
//! measured for the frame before (the app, tessellation and the OpenGL calls, not the
//! buffer swap), the time since the frame before ended (idle, swap, vsync), the shapes and
//! vertices handed to the renderer, the input that came with the frame and, for a frame
//! without input, what asked for it.
//!
//! Off by default: measuring costs a clock read and a walk over the frame's shapes.

use std::fmt::Write as _;
use std::time::{Duration, Instant, SystemTime};

/// The environment variable that turns the per-frame lines on (any value but `0` or empty).
pub const ENV_VAR: &str = "TRACE_VIEWER_FRAME_STATS";

/// Whether `value` (the variable's) turns the lines on.
///
/// ```
/// use trace_viewer::app::frame_stats::enabled_by;
/// assert!(enabled_by(Some("1".as_ref())));
/// assert!(!enabled_by(Some("0".as_ref())));
/// assert!(!enabled_by(None));
/// ```
pub fn enabled_by(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty() && v != "0")
}

/// What one frame did, as the line prints it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrameLine {
    /// Frames shown since the window opened.
    pub frame: u64,
    /// egui passes run for it (more than one when a pass was discarded).
    pub passes: u64,
    /// Wall-clock time at its start, in seconds since the Unix epoch (to line it up with
    /// the time input was sent).
    pub unix_s: f64,
    /// The app's code (logic and ui), this frame.
    pub app: Duration,
    /// eframe's CPU time of the frame before: the app, egui's end of pass, tessellation and
    /// the OpenGL calls (not the buffer swap).
    pub last_cpu: Option<Duration>,
    /// From the end of the frame before's app code to the start of this one's: that
    /// frame's tessellation, painting and swap (vsync), then any idle wait for input.
    pub since_last: Option<Duration>,
    /// Shapes painted.
    pub shapes: usize,
    /// Vertices of the meshes among them.
    pub mesh_vertices: usize,
    /// Mouse wheel events that came with the frame.
    pub wheel: usize,
    /// Their deltas, e.g. `0,-1 line`.
    pub wheel_deltas: Vec<String>,
    /// All input events that came with it.
    pub events: usize,
    /// Why it was painted, when no input came: the repaint requests of the frame before.
    pub causes: Vec<String>,
}

impl FrameLine {
    /// The line printed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use trace_viewer::app::frame_stats::FrameLine;
    /// let line = FrameLine {
    ///     frame: 7,
    ///     passes: 1,
    ///     app: Duration::from_micros(2_500),
    ///     shapes: 120,
    ///     wheel: 1,
    ///     events: 1,
    ///     ..FrameLine::default()
    /// };
    /// assert!(line.text().starts_with("frame 7 "));
    /// assert!(line.text().contains("app 2.50 ms"));
    /// ```
    pub fn text(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let mut s = format!(
            "frame {} at {:.3}: app {:.2} ms",
            self.frame,
            self.unix_s,
            ms(self.app)
        );
        if self.passes > 1 {
            let _ = write!(s, " in {} passes", self.passes);
        }
        if let Some(d) = self.last_cpu {
            let _ = write!(s, ", last frame's CPU {:.2} ms", ms(d));
        }
        if let Some(d) = self.since_last {
            let _ = write!(s, ", {:.2} ms since its app code ended", ms(d));
        }
        let _ = write!(
            s,
            ", {} shapes ({} mesh vertices), input: {} wheel",
            self.shapes, self.mesh_vertices, self.wheel
        );
        if !self.wheel_deltas.is_empty() {
            let _ = write!(s, " ({})", self.wheel_deltas.join("; "));
        }
        let _ = write!(s, " / {} events", self.events);
        if self.events == 0 && !self.causes.is_empty() {
            let _ = write!(s, ", repaint asked by {}", self.causes.join("; "));
        }
        s
    }
}

/// Measures frames; [`FrameStats::begin`] at the start of the app's code,
/// [`FrameStats::end`] at its end.
#[derive(Debug, Default)]
pub struct FrameStats {
    frames: u64,
    /// The pass the current frame started at (its first pass).
    frame_pass: Option<u64>,
    started: Option<Instant>,
    /// The app's time in earlier passes of this frame.
    app_in_frame: Duration,
    /// When the last frame's app code ended.
    last_end: Option<Instant>,
    /// When this frame's first pass began, measured from `last_end`.
    since_last: Option<Duration>,
}

impl FrameStats {
    /// Stats for a new window.
    pub fn new() -> FrameStats {
        FrameStats::default()
    }

    /// The app's code starts (each pass of a frame calls this).
    pub fn begin(&mut self, ctx: &egui::Context) {
        let now = Instant::now();
        let frame = ctx.cumulative_frame_nr();
        if self.frame_pass != Some(frame) {
            // A new frame (not a second pass of the last one).
            self.frame_pass = Some(frame);
            self.app_in_frame = Duration::ZERO;
            self.since_last = self.last_end.map(|e| now.duration_since(e));
        }
        self.started = Some(now);
    }

    /// The app's code ends; returns the frame's line (the caller prints it). `taken` are
    /// input events the app took out of egui's input before the frame (the timeline's
    /// wheel events).
    pub fn end(
        &mut self,
        ctx: &egui::Context,
        frame: &eframe::Frame,
        taken: &[egui::Event],
    ) -> FrameLine {
        let now = Instant::now();
        let app = self
            .started
            .take()
            .map_or(Duration::ZERO, |s| now.duration_since(s));
        self.app_in_frame += app;
        self.last_end = Some(now);
        self.frames += 1;
        let (shapes, mesh_vertices) = count_shapes(ctx);
        let (wheel_deltas, events) = ctx.input(|i| {
            let wheel: Vec<String> = taken
                .iter()
                .chain(&i.raw.events)
                .filter_map(|e| match e {
                    egui::Event::MouseWheel { unit, delta, .. } => {
                        Some(format!("{},{} {unit:?}", delta.x, delta.y).to_lowercase())
                    }
                    _ => None,
                })
                .collect();
            (wheel, taken.len() + i.raw.events.len())
        });
        let causes = causes(&ctx.repaint_causes());
        let unix_s = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
            - self.app_in_frame.as_secs_f64();
        FrameLine {
            frame: self.frames,
            passes: ctx.current_pass_index() as u64 + 1,
            unix_s,
            app: self.app_in_frame,
            last_cpu: frame
                .info()
                .cpu_usage
                .map(|s| Duration::from_secs_f32(s.max(0.0))),
            since_last: self.since_last,
            shapes,
            mesh_vertices,
            wheel: wheel_deltas.len(),
            wheel_deltas,
            events,
            causes,
        }
    }
}

/// The shapes painted so far this pass, over all layers, and their meshes' vertices.
fn count_shapes(ctx: &egui::Context) -> (usize, usize) {
    let mut layers: Vec<egui::LayerId> = ctx.memory(|m| m.layer_ids().collect());
    if !layers.contains(&egui::LayerId::background()) {
        layers.push(egui::LayerId::background());
    }
    ctx.graphics(|g| {
        let mut shapes = 0;
        let mut vertices = 0;
        for &id in &layers {
            let Some(list) = g.get(id) else { continue };
            for clipped in list.all_entries() {
                shapes += 1;
                vertices += mesh_vertices(&clipped.shape);
            }
        }
        (shapes, vertices)
    })
}

fn mesh_vertices(shape: &egui::Shape) -> usize {
    match shape {
        egui::Shape::Mesh(m) => m.vertices.len(),
        egui::Shape::Vec(v) => v.iter().map(mesh_vertices).sum(),
        _ => 0,
    }
}

/// The repaint requests, each place once with how many times it asked, paths in the
/// cargo registry shortened to the crate's (`egui-0.37.0/src/context.rs:579`).
fn causes(causes: &[egui::RepaintCause]) -> Vec<String> {
    let mut out: Vec<(String, usize)> = Vec::new();
    for c in causes {
        let file = match c.file.find("/registry/src/") {
            Some(k) => {
                let rest = &c.file[k + "/registry/src/".len()..];
                rest.split_once('/').map_or(rest, |(_, r)| r)
            }
            None => c.file,
        };
        let mut text = format!("{file}:{}", c.line);
        if !c.reason.is_empty() {
            text = format!("{text} ({})", c.reason);
        }
        match out.iter_mut().find(|(t, _)| *t == text) {
            Some((_, n)) => *n += 1,
            None => out.push((text, 1)),
        }
    }
    out.into_iter()
        .map(|(t, n)| if n > 1 { format!("{t} ×{n}") } else { t })
        .collect()
}
