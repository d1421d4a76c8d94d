//! The Flame graph view: the CPU, stall or allocation profile of a selection — the whole
//! trace, a time range, a thread, a task, a task group or one poll — as a flame graph
//! (click a frame to zoom into it, hover for self and total, search a function name), and
//! the differential graph of two selections: a baseline set earlier in this trace, or
//! another trace of the same program (before and after a fix), against the current one.
//!
//! - [`panel`]: the view;
//! - [`FlameState`]: what is shown (the [`Scope`], the kind, the baseline), the profile
//!   built for it (in the background when the trace has many samples), the zoom and the
//!   search. The layout, search and comparison are `trace_analysis::analysis::flame`.

pub mod panel;

use std::path::PathBuf;
use std::sync::Arc;

use super::jobs::{Job, Lazy};
use super::open_job::{OpenJob, OpenOutcome};
use super::open_trace::OpenTrace;
use trace_analysis::analysis::flame::{self, Diff, ROOT, SearchMatch};
use trace_analysis::analysis::profile::{Profile, SampleFilter};
use trace_analysis::model::{SampleKind, Span, TaskIx, ThreadIx};
use trace_analysis::units::format_duration;

/// Traces with fewer samples than this build their profile at once, in the frame; more in
/// the background.
pub const BACKGROUND_SAMPLES: usize = 50_000;

/// Which samples a flame graph shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every sample.
    Whole,
    /// The samples taken in a time range.
    Range(Span),
    /// The samples taken on one thread.
    Thread(ThreadIx),
    /// The samples taken while one task was polled.
    Task(TaskIx),
    /// The samples of the tasks of one group (index into the trace's task groups).
    Group(usize),
    /// The samples of one poll (index into `Model::polls`).
    Poll(u32),
}

impl Scope {
    /// The samples of `kind` it selects in `trace`.
    pub fn filter(&self, trace: &OpenTrace, kind: SampleKind) -> SampleFilter {
        let f = SampleFilter::new(kind);
        match *self {
            Scope::Whole => f,
            Scope::Range(span) => f.span(span),
            Scope::Thread(t) => f.thread(t),
            Scope::Task(t) => f.tasks(vec![t]),
            Scope::Group(g) => f.tasks(
                trace
                    .groups
                    .get(g)
                    .map(|g| g.tasks.clone())
                    .unwrap_or_default(),
            ),
            Scope::Poll(p) => match trace.model.polls.get(p as usize) {
                Some(poll) => SampleFilter::poll(kind, poll),
                None => f.tasks(Vec::new()),
            },
        }
    }

    /// What it is, in words ("task 12 (src/main.rs:7:5)", "from 1 ms to 2 ms").
    pub fn label(&self, trace: &OpenTrace) -> String {
        let model = &trace.model;
        match *self {
            Scope::Whole => "the whole trace".into(),
            Scope::Range(s) => format!(
                "{} from {} to {}",
                format_duration(s.len()),
                format_duration(s.start),
                format_duration(s.end)
            ),
            Scope::Thread(t) => model
                .threads
                .get(t.index())
                .map_or_else(|| "a thread".into(), |t| t.label()),
            Scope::Task(t) => format!("task {}", model.task_label(t)),
            Scope::Group(g) => trace
                .groups
                .get(g)
                .map_or_else(|| "a group".into(), |g| format!("group {}", g.label)),
            Scope::Poll(p) => match model.polls.get(p as usize) {
                Some(poll) => format!(
                    "one poll of {} at {}",
                    model.task_label(poll.task),
                    format_duration(poll.start)
                ),
                None => "a poll".into(),
            },
        }
    }
}

/// What a flame graph is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Baseline {
    /// A selection of this trace.
    Selection(Scope),
    /// The whole of another trace (loaded with [`FlameState::load_other`]; its number).
    Trace(u64),
}

/// Another trace of the same program to compare with, loaded in the view.
#[derive(Debug)]
pub struct OtherTrace {
    /// Its number (a new one for each trace loaded).
    pub id: u64,
    /// The trace.
    pub trace: Arc<OpenTrace>,
}

/// What one flame graph shows: its selection, kind and baseline (when comparing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlameKey {
    /// The selection.
    pub scope: Scope,
    /// CPU, stall or allocation samples.
    pub kind: SampleKind,
    /// The baseline it is compared with, if any.
    pub baseline: Option<Baseline>,
}

/// A profile ready to draw, with its comparison when there is a baseline.
#[derive(Debug)]
pub struct FlameData {
    /// What it was built for.
    pub key: FlameKey,
    /// The profile of the selection.
    pub profile: Profile,
    /// The baseline's profile and each frame's share before and after.
    pub compared: Option<(Profile, Diff)>,
    /// The largest change of a frame's share ([`Diff::max_abs_delta`]), for the colours.
    pub max_delta: f64,
}

impl FlameData {
    /// Builds the profiles `key` asks for; `other` is the other trace a
    /// [`Baseline::Trace`] names (no comparison without it).
    pub fn build(trace: &OpenTrace, key: FlameKey, other: Option<&OpenTrace>) -> FlameData {
        let profile = Profile::build(&trace.model, &key.scope.filter(trace, key.kind));
        let base = match key.baseline {
            Some(Baseline::Selection(b)) => {
                Some(Profile::build(&trace.model, &b.filter(trace, key.kind)))
            }
            Some(Baseline::Trace(_)) => {
                other.map(|o| Profile::build(&o.model, &SampleFilter::new(key.kind)))
            }
            None => None,
        };
        let compared = base.map(|base| {
            let d = flame::diff(&profile, &base);
            (base, d)
        });
        FlameData::new(key, profile, compared)
    }

    /// A profile and its comparison, ready to draw.
    pub fn new(key: FlameKey, profile: Profile, compared: Option<(Profile, Diff)>) -> FlameData {
        let max_delta = compared.as_ref().map_or(1.0, |(_, d)| d.max_abs_delta());
        FlameData {
            key,
            profile,
            compared,
            max_delta,
        }
    }
}

/// The Flame graph view's state.
#[derive(Debug)]
pub struct FlameState {
    /// The selection shown.
    pub scope: Scope,
    /// The kind of samples.
    pub kind: SampleKind,
    /// The baseline: set with "set as baseline", or another trace loaded.
    pub baseline: Option<Baseline>,
    /// Compare with the baseline (when there is one).
    pub compare: bool,
    /// The profile of what is shown (or being built).
    pub data: Lazy<FlameData>,
    /// The node zoomed into ([`ROOT`]: none).
    pub zoom: u32,
    /// The search box.
    pub query: String,
    /// What `data` is (being) built for.
    pub requested: Option<FlameKey>,
    /// The path typed in the "compare with trace" box.
    pub other_path: String,
    /// Another trace loaded to compare with.
    pub other: Option<OtherTrace>,
    /// That trace being opened.
    pub opening_other: Option<OpenJob>,
    /// Why the last one could not be opened.
    pub other_error: Option<String>,
    /// Where the last frame drew the graph (for tests), `None` before.
    pub area: Option<egui::Rect>,
    /// The last search: its query, the profile searched, and what matched (a search walks
    /// every node, so it runs when the query or the profile changes, not every frame).
    found: Option<(String, Arc<FlameData>, Arc<SearchMatch>)>,
}

impl Default for FlameState {
    /// The whole trace's CPU profile.
    fn default() -> Self {
        FlameState {
            scope: Scope::Whole,
            kind: SampleKind::Cpu,
            baseline: None,
            compare: false,
            data: Lazy::Idle,
            zoom: ROOT,
            query: String::new(),
            requested: None,
            other_path: String::new(),
            other: None,
            opening_other: None,
            other_error: None,
            area: None,
            found: None,
        }
    }
}

impl FlameState {
    /// What should be shown now.
    pub fn key(&self) -> FlameKey {
        FlameKey {
            scope: self.scope,
            kind: self.kind,
            baseline: if self.compare { self.baseline } else { None },
        }
    }

    /// Shows `scope` (the kind, baseline and search kept; the zoom is reset when the new
    /// profile is built).
    pub fn show(&mut self, scope: Scope) {
        self.scope = scope;
    }

    /// Makes the current selection the baseline later selections are compared with.
    pub fn set_baseline(&mut self) {
        self.baseline = Some(Baseline::Selection(self.scope));
        self.compare = false;
    }

    /// Forgets the baseline (and the other trace).
    pub fn clear_baseline(&mut self) {
        self.baseline = None;
        self.compare = false;
        self.other = None;
    }

    /// Starts opening the trace at `path` (another recording of the same program) to
    /// compare with; once open, it is the baseline. `wake` asks for a repaint.
    pub fn load_other(&mut self, path: PathBuf, wake: impl Fn() + Send + Sync + 'static) {
        if let Some(job) = self.opening_other.take() {
            job.cancel();
        }
        self.other_error = None;
        self.opening_other = Some(OpenJob::start(path, wake));
    }

    /// What the baseline is, in words.
    pub fn baseline_label(&self, trace: &OpenTrace) -> Option<String> {
        Some(match self.baseline? {
            Baseline::Selection(s) => s.label(trace),
            Baseline::Trace(_) => match &self.other {
                Some(o) => format!("all of {}", o.trace.path.display()),
                None => "another trace".into(),
            },
        })
    }

    /// The profile when it is ready and built for what is asked now.
    pub fn ready(&self) -> Option<&Arc<FlameData>> {
        self.data.get().filter(|d| d.key == self.key())
    }

    /// Builds the profile of what is asked, unless it is built or being built: at once for
    /// a trace with few samples, else in the background; `wake` asks for a repaint.
    pub fn ensure(&mut self, trace: &Arc<OpenTrace>, wake: impl Fn() + Send + Sync + 'static) {
        let key = self.key();
        if self.requested == Some(key) && !matches!(self.data, Lazy::Idle) {
            return;
        }
        let other = match key.baseline {
            Some(Baseline::Trace(id)) => self
                .other
                .as_ref()
                .filter(|o| o.id == id)
                .map(|o| o.trace.clone()),
            _ => None,
        };
        if let Lazy::Running(job) = &self.data {
            job.cancel();
        }
        self.zoom = ROOT;
        self.requested = Some(key);
        if trace.model.samples.len() < BACKGROUND_SAMPLES {
            let data = FlameData::build(trace, key, other.as_deref());
            self.data = Lazy::Ready(Ok(Arc::new(data)));
        } else {
            let trace = trace.clone();
            self.data = Lazy::Running(Job::spawn("flame graph", wake, move |_| {
                Ok(FlameData::build(&trace, key, other.as_deref()))
            }));
        }
    }

    /// What the search box matches in `data`.
    pub fn found(&mut self, data: &Arc<FlameData>) -> Arc<SearchMatch> {
        match &self.found {
            Some((q, d, m)) if *q == self.query && Arc::ptr_eq(d, data) => m.clone(),
            _ => {
                let m = Arc::new(flame::search(&data.profile, &self.query));
                self.found = Some((self.query.clone(), data.clone(), m.clone()));
                m
            }
        }
    }

    /// Picks up a finished profile, and the other trace once open (it becomes the
    /// baseline, compared).
    pub fn poll(&mut self) {
        self.data.poll();
        let Some(outcome) = self.opening_other.as_ref().and_then(OpenJob::poll) else {
            return;
        };
        self.opening_other = None;
        match outcome {
            OpenOutcome::Opened(t) => {
                let id = self.other.as_ref().map_or(1, |o| o.id + 1);
                self.other = Some(OtherTrace {
                    id,
                    trace: Arc::from(t),
                });
                self.baseline = Some(Baseline::Trace(id));
                self.compare = true;
            }
            OpenOutcome::Failed { path, error } => {
                self.other_error = Some(format!("{}: {error}", path.display()));
            }
            OpenOutcome::Canceled => {}
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
