//! The desktop window (egui/eframe): `trace-viewer FILE`.
//!
//! One folder per view, each holding the view's state, what it computes and its drawing;
//! what the views do not own is in leaf modules beside them. The logic is kept apart from
//! drawing so tests check it without a display.
//!
//! Opening a trace:
//! - [`open_job`]: opening a file on a background thread with progress and cancel;
//! - [`open_trace`]: the open trace — the model and what the window derives from it once
//!   (task groups, pauses, counter tracks, region rows, log indexes);
//! - [`trace_view`]: an open trace with its views; it holds each view's state and carries
//!   out what one view asks of another (reveal a task, show a group or a time range).
//!
//! The views:
//! - [`timeline`]: lanes over time — lanes, folding, the scene of a frame and its hit test,
//!   tooltips, painting and the panel;
//! - [`details`]: the selection's details, the wakes behind it, the selected range's
//!   summary, and the panel;
//! - [`tasks`]: the task breakdown table;
//! - [`regions`]: the region groups (`tracing` spans), their latency histograms and
//!   slowest regions;
//! - [`mmu`]: minimum mutator utilization curves and worst windows;
//! - [`flame`]: flame graphs of the stack samples of any selection, and the differential
//!   graph of two;
//! - [`search`]: what a query matches, and the search bar.
//!
//! Shared by them:
//! - [`view`]: the visible time range, zoom and pan math, scroll, selection — pure;
//! - [`axis`]: time-axis ticks from the whole trace down to nanoseconds — pure;
//! - [`counters`]: the counter tracks (series derived once) — pure;
//! - [`sorted`]: searches in sorted sequences;
//! - [`labels`] and [`palette`]: the words and colours for task states and the rest;
//! - [`jobs`]: work on background threads, and analyses computed on first use;
//! - [`export`]: the export window;
//! - [`status`] and [`menu`]: the empty, opening and error screens, the banner, the menu
//!   bar and the "Open" window; [`action`]: what they ask the app to do;
//! - [`recent`]: the recent-files list and the small file it is kept in;
//! - [`frame_stats`]: per-frame timings printed with `TRACE_VIEWER_FRAME_STATS=1`.
//!
//! [`ViewerApp`] wires them into an [`eframe::App`]; [`run_window`] opens the window.

pub mod action;
pub mod axis;
pub mod counters;
pub mod details;
pub mod export;
pub mod flame;
pub mod frame_stats;
pub mod jobs;
pub mod labels;
pub mod menu;
pub mod mmu;
pub mod open_job;
pub mod open_trace;
pub mod palette;
pub mod recent;
pub mod regions;
pub mod search;
pub mod sorted;
pub mod status;
pub mod tasks;
pub mod timeline;
pub mod trace_view;
pub mod view;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use egui::{Key, KeyboardShortcut, Modifiers, Ui};

use action::Action;
use open_job::{OpenJob, OpenOutcome};
use recent::RecentFiles;
use trace_view::{Tab, TraceView};

/// The Timeline tab's name.
pub const TAB_TIMELINE: &str = "Timeline";
/// The Tasks tab's name.
pub const TAB_TASKS: &str = "Tasks";
/// The Regions tab's name.
pub const TAB_REGIONS: &str = "Regions";
/// The MMU tab's name.
pub const TAB_MMU: &str = "MMU";
/// The Flame graph tab's name.
pub const TAB_FLAME: &str = "Flame graph";

/// The tabs, in the order the tab bar shows them; keys `1`…`9` pick them in this order.
pub const TABS: &[(Tab, &str)] = &[
    (Tab::Timeline, TAB_TIMELINE),
    (Tab::Tasks, TAB_TASKS),
    (Tab::Regions, TAB_REGIONS),
    (Tab::Mmu, TAB_MMU),
    (Tab::Flame, TAB_FLAME),
];

/// The digit keys that pick the tabs: `1` the first of [`TABS`], `2` the second, ….
const TAB_KEYS: [Key; 9] = [
    Key::Num1,
    Key::Num2,
    Key::Num3,
    Key::Num4,
    Key::Num5,
    Key::Num6,
    Key::Num7,
    Key::Num8,
    Key::Num9,
];

/// The tab the digit key `key` picks (`1` the first of [`TABS`]), if any.
///
/// ```
/// use egui::Key;
/// use trace_viewer::app::{tab_for_key, trace_view::Tab};
/// assert_eq!(tab_for_key(Key::Num2), Some(Tab::Tasks));
/// assert_eq!(tab_for_key(Key::Num9), None);
/// ```
pub fn tab_for_key(key: Key) -> Option<Tab> {
    let i = TAB_KEYS.iter().position(|&k| k == key)?;
    TABS.get(i).map(|&(tab, _)| tab)
}

/// The window's size when it opens on a monitor of `monitor` points: 90 % of it each way,
/// leaving room for the title bar and a desktop panel — 1440×900 on a 1600×1000 screen,
/// 1728×972 on 1920×1080 — and never below the window's minimum size; 1280×800 when the
/// monitor's size is not known.
///
/// ```
/// use trace_viewer::app::initial_window_size;
/// assert_eq!(initial_window_size(Some(egui::vec2(1600.0, 1000.0))), egui::vec2(1440.0, 900.0));
/// ```
pub fn initial_window_size(monitor: Option<egui::Vec2>) -> egui::Vec2 {
    match monitor {
        Some(m) if m.x > 1.0 && m.y > 1.0 => (m * 0.9).round().max(MIN_WINDOW_SIZE),
        _ => DEFAULT_WINDOW_SIZE,
    }
}

/// The window's size before the monitor's is known.
const DEFAULT_WINDOW_SIZE: egui::Vec2 = egui::vec2(1280.0, 800.0);
/// The least the window can be made.
const MIN_WINDOW_SIZE: egui::Vec2 = egui::vec2(480.0, 320.0);

/// What the window is showing.
#[derive(Debug)]
pub enum Screen {
    /// Nothing open.
    Empty,
    /// A trace is being opened.
    Opening(OpenJob),
    /// The trace could not be shown.
    Failed {
        /// The file.
        path: PathBuf,
        /// Why.
        error: String,
    },
    /// A trace is open.
    Open(Box<TraceView>),
}

/// How the window behaves beyond what it shows.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Where the recent-files list is kept (`None`: in memory only).
    pub recent_file: Option<PathBuf>,
    /// File > Open uses the system's file dialog (off in tests, which must not start one).
    pub native_dialog: bool,
    /// Why the system's file dialog cannot be used here (see [`file_chooser_problem`]):
    /// File > Open then shows the "Open" window with this note.
    pub file_chooser_note: Option<String>,
}

/// The window's application state.
pub struct ViewerApp {
    screen: Screen,
    /// Recently opened traces.
    recent: RecentFiles,
    /// File > Open uses the native dialog.
    native_dialog: bool,
    /// The native dialog in progress: its answer comes on this channel; when it started.
    picking: Option<(mpsc::Receiver<Option<PathBuf>>, Instant)>,
    /// Why File > Open shows the "Open" window instead of the system's dialog, if it should
    /// say so.
    file_chooser_note: Option<String>,
    /// The "Open" window's text, while it is shown.
    open_dialog: Option<String>,
    /// A line about what just happened (e.g. a canceled opening), shown on the empty screen.
    notice: Option<String>,
    /// The window is still to be sized to the screen.
    fit_to_screen: bool,
    /// Per-frame timings, when asked for.
    stats: Option<frame_stats::FrameStats>,
    /// The input taken out of egui's for this frame (for the timings).
    taken_input: Vec<egui::Event>,
    ctx: egui::Context,
}

impl ViewerApp {
    /// A window showing nothing, or opening `path`; recent files kept in memory only, no
    /// native dialog.
    pub fn new(ctx: &egui::Context, path: Option<PathBuf>) -> ViewerApp {
        Self::with_options(ctx, path, AppOptions::default())
    }

    /// [`ViewerApp::new`] with `options`.
    pub fn with_options(
        ctx: &egui::Context,
        path: Option<PathBuf>,
        options: AppOptions,
    ) -> ViewerApp {
        let mut app = ViewerApp {
            screen: Screen::Empty,
            recent: match options.recent_file {
                Some(f) => RecentFiles::read_from(f),
                None => RecentFiles::in_memory(),
            },
            native_dialog: options.native_dialog,
            file_chooser_note: options.file_chooser_note,
            picking: None,
            open_dialog: None,
            notice: None,
            fit_to_screen: false,
            stats: None,
            taken_input: Vec::new(),
            ctx: ctx.clone(),
        };
        if let Some(p) = path {
            app.open(p);
        }
        app
    }

    /// Starts opening `path` (whatever was open is closed).
    pub fn open(&mut self, path: PathBuf) {
        if let Screen::Opening(job) = &self.screen {
            job.cancel();
        }
        let ctx = self.ctx.clone();
        self.notice = None;
        self.open_dialog = None;
        self.screen = Screen::Opening(OpenJob::start(path, move || ctx.request_repaint()));
    }

    /// Shows the progress of `job` (started by the caller, e.g. with a progress hook of its
    /// own) and the trace when it is done.
    pub fn adopt(&mut self, job: OpenJob) {
        self.notice = None;
        self.screen = Screen::Opening(job);
    }

    /// What is shown.
    pub fn screen(&self) -> &Screen {
        &self.screen
    }

    /// The open trace, if any.
    pub fn trace_view(&self) -> Option<&TraceView> {
        match &self.screen {
            Screen::Open(s) => Some(s),
            _ => None,
        }
    }

    /// The open trace, if any, to change.
    pub fn trace_view_mut(&mut self) -> Option<&mut TraceView> {
        match &mut self.screen {
            Screen::Open(s) => Some(s),
            _ => None,
        }
    }

    /// True while a trace is being opened.
    pub fn is_opening(&self) -> bool {
        matches!(self.screen, Screen::Opening(_))
    }

    /// The recent-files list.
    pub fn recent(&self) -> &RecentFiles {
        &self.recent
    }

    /// Starts the native file dialog on a thread of its own (it blocks until answered);
    /// its answer is picked up by [`ViewerApp::poll_picker`].
    fn browse(&mut self) {
        if self.picking.is_some() {
            return;
        }
        let (tx, rx) = mpsc::channel();
        let ctx = self.ctx.clone();
        let start_dir = self
            .recent
            .entries()
            .first()
            .and_then(|p| p.parent())
            .map(Path::to_path_buf);
        let spawned = std::thread::Builder::new()
            .name("trace-viewer-file-dialog".into())
            .spawn(move || {
                let mut dialog = rfd::FileDialog::new()
                    .set_title("Open trace")
                    .add_filter("trace-rt traces", &["rtt"])
                    .add_filter("all files", &["*"]);
                if let Some(dir) = start_dir {
                    dialog = dialog.set_directory(dir);
                }
                let _ = tx.send(dialog.pick_file());
                ctx.request_repaint();
            });
        if spawned.is_ok() {
            self.picking = Some((rx, Instant::now()));
        }
    }

    /// Opens what the native dialog picked, once it answered.
    fn poll_picker(&mut self) {
        let Some((rx, since)) = &self.picking else {
            return;
        };
        match rx.try_recv() {
            Ok(picked) => {
                let answered_in = since.elapsed();
                self.picking = None;
                match picked {
                    Some(path) => self.open(path),
                    // No one cancels a dialog that fast: it never opened (the portal is
                    // missing or failed). Say so, and let the path be typed from now on.
                    None if answered_in < DIALOG_NEVER_OPENED => {
                        self.native_dialog = false;
                        self.file_chooser_note = Some(FILE_CHOOSER_FAILED.into());
                        self.apply(Action::ShowOpenPathDialog);
                    }
                    None => {}
                }
            }
            Err(mpsc::TryRecvError::Empty) => {}
            Err(mpsc::TryRecvError::Disconnected) => self.picking = None,
        }
    }

    /// The notice on the empty screen.
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }

    /// Picks up a finished opening.
    fn poll_open(&mut self) {
        let Screen::Opening(job) = &self.screen else {
            return;
        };
        let Some(outcome) = job.poll() else {
            return;
        };
        self.screen = match outcome {
            OpenOutcome::Opened(trace) => {
                self.recent.add(&trace.path);
                let title = format!("{} — trace-viewer", trace.path.display());
                self.ctx
                    .send_viewport_cmd(egui::ViewportCommand::Title(title));
                Screen::Open(Box::new(TraceView::new(trace)))
            }
            OpenOutcome::Failed { path, error } => Screen::Failed { path, error },
            OpenOutcome::Canceled => {
                self.notice = Some("Opening was canceled.".into());
                Screen::Empty
            }
        };
    }

    /// Carries out `action`.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::ShowOpenDialog if self.native_dialog => self.browse(),
            Action::Browse => self.browse(),
            Action::ClearRecent => self.recent.clear(),
            Action::ShowOpenDialog | Action::ShowOpenPathDialog => {
                let current = match &self.screen {
                    Screen::Failed { path, .. } => path.display().to_string(),
                    Screen::Open(s) => s.trace.path.display().to_string(),
                    _ => String::new(),
                };
                self.open_dialog = Some(current);
            }
            Action::HideOpenDialog => self.open_dialog = None,
            Action::Open(path) => self.open(path),
            Action::CancelOpen => {
                if let Screen::Opening(job) = &self.screen {
                    job.cancel();
                }
            }
            Action::CloseTrace => {
                if let Screen::Opening(job) = &self.screen {
                    job.cancel();
                }
                self.screen = Screen::Empty;
            }
            Action::Quit => self.ctx.send_viewport_cmd(egui::ViewportCommand::Close),
            Action::Fit => {
                if let Some(s) = self.trace_view_mut() {
                    s.fit_selection();
                }
            }
            Action::FitAll => {
                if let Some(s) = self.trace_view_mut() {
                    s.view.fit_all();
                }
            }
            Action::CollapseAll(c) => {
                if let Some(s) = self.trace_view_mut() {
                    s.set_all_collapsed(c);
                }
            }
            Action::DismissBanner => {
                if let Some(s) = self.trace_view_mut() {
                    s.banner_dismissed = true;
                }
            }
            Action::ShowExport => {
                if let Some(s) = self.trace_view_mut() {
                    s.show_export();
                }
            }
            Action::HideExport => {
                if let Some(s) = self.trace_view_mut()
                    && let Some(e) = s.export.take()
                    && let Some(job) = e.job
                {
                    job.cancel();
                }
            }
            Action::StartExport => {
                let ctx = self.ctx.clone();
                if let Some(s) = self.trace_view_mut() {
                    s.start_export(move || ctx.request_repaint());
                }
            }
            Action::CancelExport => {
                if let Some(s) = self.trace_view_mut()
                    && let Some(job) = s.export.as_ref().and_then(|e| e.job.as_ref())
                {
                    job.cancel();
                }
            }
        }
    }

    /// Prints each frame's timings to stderr from now on ([`frame_stats`]).
    pub fn print_frame_stats(&mut self) {
        self.stats.get_or_insert_with(frame_stats::FrameStats::new);
    }

    /// Sizes the window to the screen ([`initial_window_size`]) and centres it once the
    /// monitor's size is known: winit tells it only once the window exists. (Not in tests,
    /// whose harness has no monitor.)
    pub fn size_to_screen(&mut self) {
        self.fit_to_screen = true;
    }

    /// Sizes the window to the screen and centres it, once the monitor's size is known.
    fn fit_to_screen(&mut self, ctx: &egui::Context) {
        if !self.fit_to_screen {
            return;
        }
        let (monitor, outer, inner) = ctx.input(|i| {
            let v = i.viewport();
            (v.monitor_size, v.outer_rect, v.inner_rect)
        });
        let Some(monitor) = monitor else {
            return;
        };
        self.fit_to_screen = false;
        let size = initial_window_size(Some(monitor));
        ctx.send_viewport_cmd(egui::ViewportCommand::InnerSize(size));
        // Centred as egui centres a window: on the monitor at the origin, with the
        // decorations' size as it is now.
        let frame = match (outer, inner) {
            (Some(o), Some(i)) => (o.size() - i.size()).max(egui::Vec2::ZERO),
            _ => egui::Vec2::ZERO,
        };
        let pos = ((monitor - size - frame) * 0.5).max(egui::Vec2::ZERO);
        ctx.send_viewport_cmd(egui::ViewportCommand::OuterPosition(pos.to_pos2()));
    }

    /// Keys `1`…`9` pick a tab of an open trace, unless a text box has the keyboard.
    fn tab_keys(&mut self, ctx: &egui::Context) {
        if ctx.egui_wants_keyboard_input() {
            return;
        }
        let Some(tv) = self.trace_view_mut() else {
            return;
        };
        ctx.input_mut(|i| {
            for key in TAB_KEYS {
                if let Some(tab) = tab_for_key(key)
                    && i.consume_key(Modifiers::NONE, key)
                {
                    tv.tab = tab;
                }
            }
        });
    }

    /// Files dropped onto the window: open the first.
    fn dropped_file(ctx: &egui::Context) -> Option<PathBuf> {
        ctx.input(|i| i.raw.dropped_files.first().map(|f| f.path().to_path_buf()))
    }
}

impl eframe::App for ViewerApp {
    /// Wheel events over the timeline go to the timeline alone ([`timeline::TimelineState::take_wheel`]).
    fn raw_input_hook(&mut self, ctx: &egui::Context, raw_input: &mut egui::RawInput) {
        if let Screen::Open(tv) = &mut self.screen
            && tv.tab == Tab::Timeline
        {
            let pointer = ctx.input(|i| i.pointer.latest_pos());
            // Over a window or a popup, the wheel is theirs (and egui's).
            let covered = |p| {
                ctx.layer_id_at(p)
                    .is_some_and(|l| l != egui::LayerId::background())
            };
            tv.timeline.take_wheel(raw_input, pointer, covered);
            if self.stats.is_some() {
                self.taken_input = tv.timeline.wheel.clone();
            }
        }
    }

    fn logic(&mut self, ctx: &egui::Context, _frame: &mut eframe::Frame) {
        if let Some(stats) = &mut self.stats {
            stats.begin(ctx);
        }
        self.poll_open();
        self.poll_picker();
        let wake = {
            let ctx = ctx.clone();
            move || ctx.request_repaint()
        };
        if let Some(s) = self.trace_view_mut() {
            s.poll_jobs();
            s.ensure_analyses(wake);
        }
        if let Some(path) = Self::dropped_file(ctx) {
            self.open(path);
        }
        self.fit_to_screen(ctx);
        self.tab_keys(ctx);
        if ctx.input_mut(|i| i.consume_shortcut(&KeyboardShortcut::new(Modifiers::COMMAND, Key::O)))
        {
            self.apply(Action::ShowOpenDialog);
        }
    }

    fn ui(&mut self, ui: &mut Ui, frame: &mut eframe::Frame) {
        let mut actions = Vec::new();
        egui::Panel::top("menu").show(ui, |ui| {
            let has_trace = self.trace_view().is_some();
            let can_close = !matches!(self.screen, Screen::Empty);
            actions.extend(menu::bar(ui, has_trace, can_close, self.recent.entries()));
        });
        if let Screen::Open(tv) = &mut self.screen {
            if tv.banner_shown() {
                egui::Panel::top("banner").show(ui, |ui| {
                    actions.extend(status::banner(ui, &tv.problems));
                });
            }
            egui::Panel::top("tabs").show(ui, |ui| {
                ui.horizontal(|ui| {
                    for (k, &(tab, name)) in TABS.iter().enumerate() {
                        let label = ui.selectable_label(tv.tab == tab, name);
                        let label = match TAB_KEYS.get(k) {
                            Some(key) => label.on_hover_text(format!("key {}", key.name())),
                            None => label,
                        };
                        if label.clicked() {
                            tv.tab = tab;
                        }
                    }
                });
            });
            if tv.tab == Tab::Timeline && tv.search.open {
                let viewport = tv.timeline.scene.area.height();
                egui::Panel::top("search").show(ui, |ui| tv.show_search_bar(ui, viewport));
            }
            if tv.tab == Tab::Timeline
                && (tv.view.selection.is_some()
                    || (tv.view.range.is_some() && tv.view.range_anchor.is_none()))
            {
                let viewport = tv.timeline.scene.area.height();
                egui::Panel::right("details")
                    .default_size(340.0)
                    .show(ui, |ui| tv.show_details(ui, viewport));
            }
        }
        egui::CentralPanel::default().show(ui, |ui| match &mut self.screen {
            Screen::Empty => actions.extend(status::empty(
                ui,
                self.notice.as_deref(),
                self.recent.entries(),
            )),
            Screen::Opening(job) => {
                actions.extend(status::opening(ui, job));
                // Keep the progress moving even if no chunk reports for a while.
                ui.ctx()
                    .request_repaint_after(std::time::Duration::from_millis(100));
            }
            Screen::Failed { path, error } => {
                actions.extend(status::error(ui, path, error));
            }
            Screen::Open(tv) => {
                let viewport = tv.timeline.scene.area.height();
                let viewport = if viewport.is_finite() && viewport > 0.0 {
                    viewport
                } else {
                    600.0
                };
                match tv.tab {
                    Tab::Timeline => tv.show_timeline(ui),
                    Tab::Tasks => tv.show_tasks(ui, viewport),
                    Tab::Regions => tv.show_regions(ui, viewport),
                    Tab::Mmu => tv.show_mmu(ui),
                    Tab::Flame => tv.show_flame_view(ui),
                }
            }
        });
        if let Some(text) = &mut self.open_dialog {
            actions.extend(menu::open_dialog(
                ui.ctx(),
                text,
                self.file_chooser_note.as_deref(),
                self.native_dialog,
            ));
        }
        if let Screen::Open(tv) = &mut self.screen {
            let visible = tv.visible_span();
            if let Some(state) = &mut tv.export {
                actions.extend(export::window(ui.ctx(), state, visible));
            }
        }
        for a in actions {
            self.apply(a);
        }
        if let Some(stats) = &mut self.stats {
            let taken = std::mem::take(&mut self.taken_input);
            eprintln!("{}", stats.end(ui.ctx(), frame, &taken).text());
        }
    }
}

/// A native dialog answered faster than this never opened.
const DIALOG_NEVER_OPENED: Duration = Duration::from_millis(400);

/// The "Open" window's note after the system's file dialog failed to open.
pub const FILE_CHOOSER_FAILED: &str = "The system's file chooser did not open (is \
    xdg-desktop-portal running?). Type the path, or drop a .rtt file onto the window.";

/// Why the system's file dialog cannot open here, if that can be told beforehand: on Linux
/// and the BSDs it is the XDG desktop portal, reached over the D-Bus session bus, and there
/// is none when `DBUS_SESSION_BUS_ADDRESS` is unset and `$XDG_RUNTIME_DIR/bus` does not
/// exist. `env` looks a variable up, `exists` a path.
///
/// ```
/// # use std::ffi::OsString;
/// # use trace_viewer::app::file_chooser_problem;
/// let no_bus = file_chooser_problem(|_| None, |_| false);
/// assert!(cfg!(not(target_os = "linux")) || no_bus.unwrap().contains("D-Bus"));
/// let bus = |k: &str| (k == "DBUS_SESSION_BUS_ADDRESS").then(|| OsString::from("unix:path=/b"));
/// assert_eq!(file_chooser_problem(bus, |_| false), None);
/// ```
pub fn file_chooser_problem(
    env: impl Fn(&str) -> Option<OsString>,
    exists: impl Fn(&Path) -> bool,
) -> Option<String> {
    let portal = cfg!(all(
        unix,
        not(target_os = "macos"),
        not(target_os = "android")
    ));
    if !portal || env("DBUS_SESSION_BUS_ADDRESS").is_some_and(|v| !v.is_empty()) {
        return None;
    }
    let bus = env("XDG_RUNTIME_DIR").map(|d| PathBuf::from(d).join("bus"));
    if bus.is_some_and(|b| exists(&b)) {
        return None;
    }
    Some(
        "No system file chooser here (no D-Bus session bus for the XDG desktop portal). Type \
         the path, or drop a .rtt file onto the window."
            .into(),
    )
}

/// Why no window can be opened here, if that can be told beforehand: on Linux and the
/// BSDs, neither `WAYLAND_DISPLAY` nor `DISPLAY` is set. `env` looks a variable up.
pub fn display_problem(env: impl Fn(&str) -> Option<OsString>) -> Option<String> {
    let set = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    let needs_display = cfg!(all(
        unix,
        not(target_os = "macos"),
        not(target_os = "android")
    ));
    (needs_display && !set("WAYLAND_DISPLAY") && !set("DISPLAY")).then(|| {
        "no display to open the window on (neither WAYLAND_DISPLAY nor DISPLAY is set)".into()
    })
}

/// Opens the window, opening `path` in it if given; returns when it is closed. Fails with a
/// message when the window cannot be opened (no display, no OpenGL).
pub fn run_window(path: Option<PathBuf>) -> Result<(), String> {
    if let Some(problem) = display_problem(|k| std::env::var_os(k)) {
        return Err(problem);
    }
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("trace-viewer")
            .with_app_id("trace-viewer")
            .with_inner_size(DEFAULT_WINDOW_SIZE)
            .with_min_inner_size(MIN_WINDOW_SIZE)
            .with_drag_and_drop(true),
        ..Default::default()
    };
    let file_chooser_note = file_chooser_problem(|k| std::env::var_os(k), Path::exists);
    let app_options = AppOptions {
        recent_file: recent::default_file(|k| std::env::var_os(k)),
        native_dialog: file_chooser_note.is_none(),
        file_chooser_note,
    };
    let frame_stats = frame_stats::enabled_by(std::env::var_os(frame_stats::ENV_VAR).as_deref());
    eframe::run_native(
        "trace-viewer",
        options,
        Box::new(move |cc| {
            let mut app = ViewerApp::with_options(&cc.egui_ctx, path, app_options);
            app.size_to_screen();
            if frame_stats {
                app.print_frame_stats();
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| format!("cannot open the window: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_opens_sized_to_the_screen() {
        let size = |w, h| initial_window_size(Some(egui::vec2(w, h)));
        // The issue's screens: at least 1440×850 on 1600×1000, not 1280×800 on 1920×1080.
        let s = size(1600.0, 1000.0);
        assert!(s.x >= 1440.0 && s.y >= 850.0, "{s:?}");
        assert!(s.x < 1600.0 && s.y < 1000.0, "room for decorations: {s:?}");
        let s = size(1920.0, 1080.0);
        assert!(s.x > 1280.0 && s.y > 800.0, "{s:?}");
        assert!(s.x <= 1920.0 && s.y <= 1080.0, "{s:?}");
        // A small screen: the window fits it, down to the minimum size.
        let s = size(1024.0, 600.0);
        assert!(s.x <= 1024.0 && s.y <= 600.0, "{s:?}");
        assert_eq!(size(300.0, 200.0), MIN_WINDOW_SIZE);
        // Unknown (or nonsense) monitor size: the default.
        assert_eq!(initial_window_size(None), DEFAULT_WINDOW_SIZE);
        assert_eq!(size(0.0, 0.0), DEFAULT_WINDOW_SIZE);
    }

    #[test]
    fn digit_keys_follow_the_tab_list() {
        for (k, &(tab, _)) in TABS.iter().enumerate() {
            assert_eq!(tab_for_key(TAB_KEYS[k]), Some(tab));
        }
        assert_eq!(tab_for_key(TAB_KEYS[TABS.len()]), None);
        assert_eq!(tab_for_key(Key::Num0), None);
        assert_eq!(tab_for_key(Key::W), None);
    }

    #[test]
    fn no_display_is_told_before_trying() {
        let none = |_: &str| None;
        let x11 = |k: &str| (k == "DISPLAY").then(|| OsString::from(":0"));
        let wayland = |k: &str| (k == "WAYLAND_DISPLAY").then(|| OsString::from("wayland-0"));
        let empty = |_: &str| Some(OsString::new());
        if cfg!(all(
            unix,
            not(target_os = "macos"),
            not(target_os = "android")
        )) {
            assert!(display_problem(none).unwrap().contains("DISPLAY"));
            assert!(display_problem(empty).is_some());
        }
        assert!(display_problem(x11).is_none());
        assert!(display_problem(wayland).is_none());
    }
}
