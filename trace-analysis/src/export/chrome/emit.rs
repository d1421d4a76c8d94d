//! Emission: turns each merged item into its records for the writer, a track's metadata
//! before its first event, and counts what it wrote ([`ExportStats`]).

use std::io::{self, Write};

use trace_format::WakeSource;

use super::json::Out;
use super::merge::{PollList, Source};
use super::plan::{Annot, AnnotKind, NONE, Plan, TrackRef};
use super::record::{Args, Cat, CounterArg, Event, Meta, MetaArgs, Micros, Name, Phase, Scope};
use crate::model::{Model, Nanos, Poll, Span, TaskIx, ThreadIx, Wake};

/// Progress is reported every this many source items.
const PROGRESS_EVERY: u64 = 1 << 15;

/// What [`write_chrome`](super::write_chrome) wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportStats {
    /// JSON events written, of every phase.
    pub events: u64,
    /// Complete (`X`) slices: poll copies, idle, pauses, regions, wakes, `woken` markers.
    pub slices: u64,
    /// Instant (`i`) events: logs, lost-data markers, allocation samples.
    pub instants: u64,
    /// Counter (`C`) points.
    pub counter_points: u64,
    /// Metadata (`M`) events.
    pub metadata: u64,
    /// Flow arrows (each has one `flow_out` and one `flow_in`).
    pub flows: u64,
    /// Tracks (tids) written.
    pub tracks: u64,
    /// Extra tracks allocated so overlapping intervals still nest (see the
    /// [module docs](super#nesting)).
    pub extra_lanes: u64,
    /// Counter points left out because their value is not a finite number.
    pub skipped_points: u64,
    /// Bytes written.
    pub bytes: u64,
}

fn source_name(source: WakeSource) -> &'static str {
    match source {
        WakeSource::Task => "task",
        WakeSource::Io => "io",
        WakeSource::Timer => "timer",
        WakeSource::Blocking => "blocking",
        WakeSource::Foreign => "foreign",
        WakeSource::SelfWake => "self",
        WakeSource::Unknown => "unknown",
    }
}

/// Writes merged items as records to an [`Out`], keeping count.
pub(super) struct Exporter<'a, 'm, W: Write> {
    m: &'m Model,
    plan: &'a Plan<'m>,
    out: Out<W>,
    pid: u32,
    /// Dense tracks whose metadata is written.
    seen: Vec<u64>,
    stats: ExportStats,
    done: u64,
    total: u64,
    progress: Option<&'a dyn Fn(u64, u64)>,
}

impl<'a, 'm, W: Write> Exporter<'a, 'm, W> {
    /// An exporter of `plan` to `w`; `total` items are to come (for `progress`).
    pub(super) fn new(
        m: &'m Model,
        plan: &'a Plan<'m>,
        w: W,
        total: u64,
        progress: Option<&'a dyn Fn(u64, u64)>,
    ) -> Self {
        Exporter {
            m,
            plan,
            out: Out::new(w),
            pid: plan.layout.pid,
            seen: vec![0; plan.layout.tracks.len().div_ceil(64)],
            stats: ExportStats {
                extra_lanes: plan.layout.extra_lanes,
                ..ExportStats::default()
            },
            done: 0,
            total,
            progress,
        }
    }

    /// Writes the document's start and the process's metadata.
    pub(super) fn begin(&mut self) -> io::Result<()> {
        let name = match self.m.header.process_name.as_str() {
            "" => "traced process",
            name => name,
        };
        self.meta(
            "process_name",
            None,
            MetaArgs::Name {
                name: Name::Text(name),
            },
        );
        Ok(())
    }

    /// Writes the document's end and flushes; returns what was written.
    pub(super) fn finish(mut self) -> io::Result<ExportStats> {
        self.stats.bytes = self.out.finish()?;
        if let Some(progress) = self.progress {
            progress(self.total, self.total);
        }
        Ok(self.stats)
    }

    fn meta(&mut self, name: &'static str, tid: Option<u32>, args: MetaArgs<'_>) {
        self.out.meta(&Meta {
            ph: Phase::Meta,
            name,
            pid: self.pid,
            tid,
            args,
        });
        self.stats.metadata += 1;
        self.stats.events += 1;
    }

    /// The tid of dense track `d`, writing its metadata first if it is new.
    fn track(&mut self, d: u32) -> u32 {
        let tid = self.plan.layout.tid(d);
        let (word, bit) = (d as usize / 64, 1u64 << (d % 64));
        if self.seen[word] & bit == 0 {
            self.seen[word] |= bit;
            self.stats.tracks += 1;
            let labels = &self.plan.labels;
            let name = match self.plan.layout.tracks[d as usize] {
                TrackRef::Pauses(lane) => Name::Track {
                    text: "process pauses",
                    id: None,
                    lane,
                },
                TrackRef::Thread(t, lane) => Name::Track {
                    text: &labels.threads[t.index()],
                    id: None,
                    lane,
                },
                TrackRef::Task(t, lane) => Name::Track {
                    text: &labels.whats[labels.task_what[t.index()].0 as usize],
                    id: Some(self.m.tasks[t.index()].id.0),
                    lane,
                },
                TrackRef::Counters => Name::Track {
                    text: "counters",
                    id: None,
                    lane: 0,
                },
            };
            self.meta("thread_name", Some(tid), MetaArgs::Name { name });
            self.meta(
                "thread_sort_index",
                Some(tid),
                MetaArgs::SortIndex { sort_index: d },
            );
        }
        tid
    }

    /// Writes an `X` slice over `span` on dense track `d`.
    fn slice(&mut self, d: u32, cat: Cat, span: Span, name: Name<'_>, args: Args<'_>, flow: Flow) {
        let tid = self.track(d);
        let (bind_id, flow_out, flow_in) = match flow {
            Flow::None => (None, false, false),
            Flow::Out(wake) => (Some(u64::from(wake) + 1), true, false),
            Flow::In(wake) => (Some(u64::from(wake) + 1), false, true),
        };
        self.out.event(&Event {
            ph: Phase::Slice,
            cat,
            pid: self.pid,
            tid,
            ts: Micros(span.start),
            dur: Some(Micros(span.len())),
            s: None,
            name,
            args,
            bind_id,
            flow_out,
            flow_in,
        });
        self.stats.events += 1;
        self.stats.slices += 1;
    }

    /// Writes a thread-scoped `i` instant at `t` on dense track `d`.
    fn instant(&mut self, d: u32, cat: Cat, t: Nanos, name: Name<'_>, args: Args<'_>) {
        let tid = self.track(d);
        self.out.event(&Event {
            ph: Phase::Instant,
            cat,
            pid: self.pid,
            tid,
            ts: Micros(t),
            dur: None,
            s: Some("t"),
            name,
            args,
            bind_id: None,
            flow_out: false,
            flow_in: false,
        });
        self.stats.events += 1;
        self.stats.instants += 1;
    }

    /// Writes a `C` point of counter series `series`.
    fn counter(&mut self, series: usize, t: Nanos, value: f64) {
        let tid = self.track(self.plan.layout.counters);
        let (name, key) = &self.plan.labels.counters[series];
        self.out.event(&Event {
            ph: Phase::Counter,
            cat: Cat::Counter,
            pid: self.pid,
            tid,
            ts: Micros(t),
            dur: None,
            s: None,
            name: Name::Text(name),
            args: Args::Counter(CounterArg { key, value }),
            bind_id: None,
            flow_out: false,
            flow_in: false,
        });
        self.stats.events += 1;
        self.stats.counter_points += 1;
    }

    /// The label of a task: `LABEL #ID`.
    fn task_name(&self, task: TaskIx) -> Name<'a> {
        if task == TaskIx::NONE {
            return Name::Text("task (unknown)");
        }
        let labels = &self.plan.labels;
        let (what, _) = labels.task_what[task.index()];
        Name::Numbered(
            &labels.whats[what as usize],
            self.m.tasks[task.index()].id.0,
        )
    }

    /// The id of a known task.
    fn task_id(&self, task: TaskIx) -> Option<u64> {
        (task != TaskIx::NONE).then(|| self.m.tasks[task.index()].id.0)
    }

    fn thread_track(&self, t: ThreadIx) -> u32 {
        self.plan.layout.thread_base[t.index()]
    }

    fn task_track(&self, task: TaskIx, poll: u32) -> u32 {
        let lane = if self.plan.task_poll_lane.is_empty() {
            0
        } else {
            self.plan.task_poll_lane.get(&poll).copied().unwrap_or(0)
        };
        self.plan.layout.task_base[task.index()] + lane
    }

    /// Writes the next item of `src` and moves past it.
    pub(super) fn emit(&mut self, src: &mut Source) -> io::Result<()> {
        let (m, plan) = (self.m, self.plan);
        match src {
            Source::Polls { thread, polls, pos } => {
                let i = match polls {
                    PollList::Span { next, .. } => {
                        *next += 1;
                        *next - 1
                    }
                    PollList::Order(order) => {
                        *pos += 1;
                        order[*pos - 1]
                    }
                };
                self.poll(*thread, i);
            }
            Source::Annots { thread, items, pos } => {
                let a = items[*pos];
                *pos += 1;
                self.annot(*thread, a);
            }
            Source::Pauses { items, pos } => {
                let (i, lane) = items[*pos];
                *pos += 1;
                let p = &m.process_pauses[i as usize];
                let args = Args::Pause {
                    scope: Scope::Process,
                    thread: Some(&plan.labels.threads[p.thread.index()]),
                    cut: p.cut,
                };
                let name = self.pause_name(p.kind);
                let d = plan.layout.pauses_base + lane;
                self.slice(d, Cat::Pause, p.span, name, args, Flow::None);
            }
            Source::Wakes { order, pos } => {
                let (_, wi) = order[*pos];
                *pos += 1;
                self.wake(wi);
            }
            Source::Markers { items, pos } => {
                let (pi, wi) = items[*pos];
                *pos += 1;
                let p = &m.polls[pi as usize];
                let w = &m.wakes[wi as usize];
                let args = Args::Woken {
                    source: source_name(w.source),
                    by: self.task_id(w.waker),
                };
                let d = self.task_track(p.task, pi);
                let name = Name::Text("woken");
                self.slice(
                    d,
                    Cat::Wake,
                    Span::new(p.start, p.start),
                    name,
                    args,
                    Flow::In(wi),
                );
            }
            Source::Logs { pos, .. } => {
                let l = &m.logs[*pos];
                *pos += 1;
                let target = m.string(l.target);
                let name = if l.message.is_empty() {
                    target
                } else {
                    &l.message
                };
                let args = Args::Log {
                    level: l.level.name(),
                    target,
                    task: self.task_id(l.task),
                };
                let d = self.thread_track(l.thread);
                self.instant(d, Cat::Log, l.time, Name::Text(name), args);
            }
            Source::Lost { pos, .. } => {
                let l = m.lost[*pos];
                *pos += 1;
                let name = match (l.events, l.chunks) {
                    (1, _) => Name::Count("data lost: ", 1, " event"),
                    (0, 1) => Name::Count("data lost: ", 1, " chunk (events unknown)"),
                    (0, n) => Name::Count("data lost: ", n, " chunks (events unknown)"),
                    (n, _) => Name::Count("data lost: ", n, " events"),
                };
                let args = Args::Lost {
                    chunks: l.chunks,
                    events: l.events,
                };
                self.instant(self.thread_track(l.thread), Cat::Lost, l.time, name, args);
            }
            Source::Samples { pos, .. } => {
                let s = m.alloc_samples[*pos];
                *pos += 1;
                let args = Args::Alloc {
                    bytes: s.size,
                    task: self.task_id(s.task),
                };
                let name = Name::Count("alloc ", s.size, " bytes");
                self.instant(self.thread_track(s.thread), Cat::Alloc, s.time, name, args);
            }
            Source::Counter {
                series, lead, pos, ..
            } => {
                let (t, v) = match lead.take() {
                    Some(v) => (plan.range.start, v),
                    None => {
                        *pos += 1;
                        m.counters[*series as usize].points[*pos - 1]
                    }
                };
                if v.is_finite() {
                    self.counter(*series as usize, t, v);
                } else {
                    self.stats.skipped_points += 1;
                }
            }
        }
        self.done += 1;
        if self.done.is_multiple_of(PROGRESS_EVERY)
            && let Some(progress) = self.progress
        {
            progress(self.done, self.total);
        }
        self.out.flush_if_full()
    }

    /// A poll on its thread's track, then on its task's track.
    fn poll(&mut self, thread: ThreadIx, i: u32) {
        let (m, plan) = (self.m, self.plan);
        let p: &Poll = &m.polls[i as usize];
        let tp = &plan.threads[thread.index()];
        let lane = if tp.poll_lane.is_empty() {
            0
        } else {
            tp.poll_lane.get(&i).copied().unwrap_or(0)
        };
        let name = self.task_name(p.task);
        let at = match p.task {
            TaskIx::NONE => NONE,
            task => plan.labels.task_what[task.index()].1,
        };
        let args = Args::PollOnThread {
            task: self.task_id(p.task),
            at: (at != NONE).then(|| plan.labels.whats[at as usize].as_str()),
            ready: p.ready(),
            cut: p.cut(),
        };
        let d = plan.layout.thread_base[thread.index()] + lane;
        self.slice(d, Cat::Poll, p.span(), name, args, Flow::None);

        if p.task == TaskIx::NONE {
            return;
        }
        let flow = match plan.flows.poll_in.get(i as usize) {
            Some(&wi) if wi != NONE && m.wakes[wi as usize].time >= plan.range.start => {
                Flow::In(wi)
            }
            _ => Flow::None,
        };
        let args = Args::PollOnTask {
            thread: &plan.labels.threads[thread.index()],
            ready: p.ready(),
            cut: p.cut(),
        };
        let d = self.task_track(p.task, i);
        self.slice(d, Cat::Poll, p.span(), name, args, flow);
    }

    fn pause_name(&self, kind: trace_format::StringId) -> Name<'m> {
        match self.m.string(kind) {
            "" => Name::Text("pause"),
            kind => Name::Pause(kind),
        }
    }

    fn annot(&mut self, thread: ThreadIx, a: Annot) {
        let (m, plan) = (self.m, self.plan);
        let tp = &plan.threads[thread.index()];
        let d = plan.layout.thread_base[thread.index()]
            + if a.lane == 0 {
                0
            } else {
                tp.poll_lanes + a.lane
            };
        let th = &m.threads[thread.index()];
        let (cat, name, args) = match a.kind {
            AnnotKind::Park => (Cat::Idle, Name::Text("idle"), Args::None),
            AnnotKind::Pause => {
                let p = th.pauses[a.ix as usize];
                let args = Args::Pause {
                    scope: Scope::Thread,
                    thread: None,
                    cut: p.cut,
                };
                (Cat::Pause, self.pause_name(p.kind), args)
            }
            AnnotKind::Region => {
                let r = th.regions[a.ix as usize];
                let name = match m.string(r.name) {
                    "" => "region",
                    name => name,
                };
                let args = Args::Region {
                    id: r.id,
                    task: self.task_id(r.task),
                    cut: r.cut,
                };
                (Cat::Region, Name::Text(name), args)
            }
        };
        self.slice(d, cat, Span::new(a.start, a.end), name, args, Flow::None);
    }

    /// A zero-length `wake` slice at the wake's instant, on the waking task's track (or the
    /// waking thread's when no task woke it), carrying the arrow's start.
    fn wake(&mut self, wi: u32) {
        let (m, plan) = (self.m, self.plan);
        let w: &Wake = &m.wakes[wi as usize];
        let d = if w.waker == TaskIx::NONE {
            self.thread_track(w.thread)
        } else {
            plan.layout.task_base[w.waker.index()]
        };
        let task = self.task_id(w.task);
        let name = match task {
            Some(id) => Name::Numbered("wake", id),
            None => Name::Text("wake"),
        };
        let args = Args::Wake {
            source: source_name(w.source),
            task,
        };
        let target = plan.flows.wake_to[wi as usize];
        let flow = if target != NONE && m.polls[target as usize].start < plan.range.end {
            self.stats.flows += 1;
            Flow::Out(wi)
        } else {
            Flow::None
        };
        self.slice(d, Cat::Wake, Span::new(w.time, w.time), name, args, flow);
    }
}

/// The arrow a slice carries: the start or the end of wake `.0`'s.
#[derive(Clone, Copy)]
enum Flow {
    None,
    Out(u32),
    In(u32),
}
