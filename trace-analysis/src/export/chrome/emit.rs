//! Emission: writes each merged item as its JSON records, with its track's metadata before
//! a track's first event, and counts what it wrote ([`ExportStats`]).

use std::io::{self, Write};

use trace_format::WakeSource;

use super::json::{Head, Out, escape_into, head};
use super::merge::{PollList, Source};
use super::plan::{Annot, AnnotKind, NONE, Plan, TrackRef};
use crate::model::{Model, NO_TASK, Nanos, Poll, TaskIx, ThreadIx, Wake};

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

/// Writes merged items as JSON to an [`Out`], keeping count.
pub(super) struct Exporter<'a, 'm, W: Write> {
    m: &'m Model,
    plan: &'a Plan<'m>,
    out: Out<W>,
    /// `PID,"tid":`.
    pid_tid: Vec<u8>,
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
            pid_tid: format!("{},\"tid\":", plan.layout.pid).into_bytes(),
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
        self.out
            .raw(b"{\"traceEvents\":[\n{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":");
        self.out.u64(u64::from(self.plan.layout.pid));
        self.out.raw(b",\"args\":{\"name\":");
        self.out.str(name);
        self.out.raw(b"}}");
        self.stats.metadata += 1;
        self.stats.events += 1;
        Ok(())
    }

    /// Writes the document's end and flushes; returns what was written.
    pub(super) fn finish(mut self) -> io::Result<ExportStats> {
        self.out.raw(b"\n]}\n");
        self.out.flush_buf()?;
        self.out.w.flush()?;
        if let Some(progress) = self.progress {
            progress(self.total, self.total);
        }
        self.stats.bytes = self.out.bytes;
        Ok(self.stats)
    }

    /// The tid of dense track `d`, writing its metadata first if it is new.
    fn track(&mut self, d: u32) -> u32 {
        let tid = self.plan.layout.tid(d);
        let (word, bit) = (d as usize / 64, 1u64 << (d % 64));
        if self.seen[word] & bit == 0 {
            self.seen[word] |= bit;
            self.stats.tracks += 1;
            self.stats.metadata += 2;
            self.stats.events += 2;
            let o = &mut self.out;
            o.raw(b",\n{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":");
            o.u64(u64::from(self.plan.layout.pid));
            o.raw(b",\"tid\":");
            o.u64(u64::from(tid));
            o.raw(b",\"args\":{\"name\":\"");
            let (lane, base): (u32, &[u8]) = match self.plan.layout.tracks[d as usize] {
                TrackRef::Pauses(lane) => (lane, b"process pauses"),
                TrackRef::Thread(t, lane) => (lane, &self.plan.labels.threads[t as usize]),
                TrackRef::Task(t, lane) => {
                    let (what, _) = self.plan.labels.task_what[t as usize];
                    o.raw(&self.plan.labels.whats[what as usize]);
                    o.raw(b" #");
                    o.u64(self.m.tasks[t as usize].id.0);
                    (lane, b"")
                }
                TrackRef::Counters => (0, b"counters"),
            };
            o.raw(base);
            if lane > 0 {
                o.raw(" · lane ".as_bytes());
                o.u64(u64::from(lane));
            }
            o.raw(b"\"}},\n{\"ph\":\"M\",\"name\":\"thread_sort_index\",\"pid\":");
            o.u64(u64::from(self.plan.layout.pid));
            o.raw(b",\"tid\":");
            o.u64(u64::from(tid));
            o.raw(b",\"args\":{\"sort_index\":");
            o.u64(u64::from(d));
            o.raw(b"}}");
        }
        tid
    }

    /// Starts an event: `head` (from [`head!`]), then `PID,"tid":…,"ts":…` (callers add the
    /// rest).
    fn head(&mut self, head: Head, d: u32, ts: Nanos) {
        let tid = self.track(d);
        let o = &mut self.out;
        o.raw(head.0);
        o.raw(&self.pid_tid);
        o.u64(u64::from(tid));
        o.raw(b",\"ts\":");
        o.us(ts);
        self.stats.events += 1;
    }

    /// Starts an `X` slice (`head` from [`head!`]), up to and including `"name":`.
    fn slice(&mut self, head: Head, d: u32, start: Nanos, end: Nanos) {
        self.head(head, d, start);
        self.out.raw(b",\"dur\":");
        self.out.us(end - start);
        self.out.raw(b",\"name\":");
        self.stats.slices += 1;
    }

    /// Starts a thread-scoped instant (`head` from [`head!`]), up to and including `"name":`.
    fn instant(&mut self, head: Head, d: u32, t: Nanos) {
        self.head(head, d, t);
        self.out.raw(b",\"s\":\"t\",\"name\":");
        self.stats.instants += 1;
    }

    /// `"LABEL #ID"` of a task.
    fn task_name(&mut self, task: TaskIx) {
        if task == NO_TASK {
            self.out.raw(b"\"task (unknown)\"");
            return;
        }
        let (what, _) = self.plan.labels.task_what[task as usize];
        self.out.raw(b"\"");
        self.out.raw(&self.plan.labels.whats[what as usize]);
        self.out.raw(b" #");
        self.out.u64(self.m.tasks[task as usize].id.0);
        self.out.raw(b"\"");
    }

    /// `,"task":ID` for a known task.
    fn task_arg(&mut self, key: &[u8], task: TaskIx) {
        if task != NO_TASK {
            self.out.raw(key);
            self.out.u64(self.m.tasks[task as usize].id.0);
        }
    }

    fn flags(&mut self, ready: bool, cut: bool) {
        if ready {
            self.out.raw(b",\"ready\":true");
        }
        if cut {
            self.out.raw(b",\"cut\":true");
        }
    }

    fn flow(&mut self, wake: u32, dir: &[u8]) {
        self.out.raw(b",\"bind_id\":");
        self.out.u64(u64::from(wake) + 1);
        self.out.raw(dir);
    }

    fn thread_track(&self, t: ThreadIx) -> u32 {
        self.plan.layout.thread_base[t as usize]
    }

    fn task_track(&self, task: TaskIx, poll: u32) -> u32 {
        let lane = if self.plan.task_poll_lane.is_empty() {
            0
        } else {
            self.plan.task_poll_lane.get(&poll).copied().unwrap_or(0)
        };
        self.plan.layout.task_base[task as usize] + lane
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
                self.slice(
                    head!("X", "pause"),
                    plan.layout.pauses_base + lane,
                    p.span.start,
                    p.span.end,
                );
                self.pause_name(p.kind);
                self.out
                    .raw(b",\"args\":{\"scope\":\"process\",\"thread\":\"");
                self.out.raw(&plan.labels.threads[p.thread as usize]);
                self.out.raw(b"\"");
                self.flags(false, p.cut);
                self.out.raw(b"}}");
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
                self.slice(
                    head!("X", "wake"),
                    self.task_track(p.task, pi),
                    p.start,
                    p.start,
                );
                self.out.raw(b"\"woken\",\"args\":{\"source\":\"");
                self.out.raw(source_name(w.source).as_bytes());
                self.out.raw(b"\"");
                self.task_arg(b",\"by\":", w.waker);
                self.out.raw(b"}");
                self.flow(wi, b",\"flow_in\":true}");
            }
            Source::Logs { pos, .. } => {
                let l = &m.logs[*pos];
                *pos += 1;
                self.instant(head!("i", "log"), self.thread_track(l.thread), l.time);
                let target = m.string(l.target);
                self.out.str(if l.message.is_empty() {
                    target
                } else {
                    &l.message
                });
                self.out.raw(b",\"args\":{\"level\":\"");
                self.out.raw(l.level.name().as_bytes());
                self.out.raw(b"\",\"target\":");
                self.out.str(target);
                self.task_arg(b",\"task\":", l.task);
                self.out.raw(b"}}");
            }
            Source::Lost { pos, .. } => {
                let l = m.lost[*pos];
                *pos += 1;
                self.instant(head!("i", "lost"), self.thread_track(l.thread), l.time);
                if l.events > 0 {
                    self.out.raw(b"\"data lost: ");
                    self.out.u64(l.events);
                    self.out.raw(if l.events == 1 {
                        b" event\""
                    } else {
                        b" events\""
                    });
                } else {
                    self.out.raw(b"\"data lost: ");
                    self.out.u64(l.chunks);
                    self.out.raw(if l.chunks == 1 {
                        &b" chunk (events unknown)\""[..]
                    } else {
                        &b" chunks (events unknown)\""[..]
                    });
                }
                self.out.raw(b",\"args\":{\"chunks\":");
                self.out.u64(l.chunks);
                self.out.raw(b",\"events\":");
                self.out.u64(l.events);
                self.out.raw(b"}}");
            }
            Source::Samples { pos, .. } => {
                let s = m.alloc_samples[*pos];
                *pos += 1;
                self.instant(head!("i", "alloc"), self.thread_track(s.thread), s.time);
                self.out.raw(b"\"alloc ");
                self.out.u64(s.size);
                self.out.raw(b" bytes\",\"args\":{\"bytes\":");
                self.out.u64(s.size);
                self.task_arg(b",\"task\":", s.task);
                self.out.raw(b"}}");
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
                    self.head(head!("C", "counter"), plan.layout.counters, t);
                    let (name, key) = &plan.labels.counters[*series as usize];
                    self.out.raw(b",\"name\":\"");
                    self.out.raw(name);
                    self.out.raw(b"\",\"args\":{\"");
                    self.out.raw(key.as_bytes());
                    self.out.raw(b"\":");
                    self.out.f64(v);
                    self.out.raw(b"}}");
                    self.stats.counter_points += 1;
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
        let tp = &plan.threads[thread as usize];
        let lane = if tp.poll_lane.is_empty() {
            0
        } else {
            tp.poll_lane.get(&i).copied().unwrap_or(0)
        };
        self.slice(
            head!("X", "poll"),
            plan.layout.thread_base[thread as usize] + lane,
            p.start,
            p.end,
        );
        self.task_name(p.task);
        if p.task == NO_TASK {
            self.out.raw(b",\"args\":{\"task\":null");
        } else {
            self.task_arg(b",\"args\":{\"task\":", p.task);
            let (_, at) = plan.labels.task_what[p.task as usize];
            if at != NONE {
                self.out.raw(b",\"at\":\"");
                self.out.raw(&plan.labels.whats[at as usize]);
                self.out.raw(b"\"");
            }
        }
        self.flags(p.ready(), p.cut());
        self.out.raw(b"}}");

        if p.task == NO_TASK {
            return;
        }
        self.slice(
            head!("X", "poll"),
            self.task_track(p.task, i),
            p.start,
            p.end,
        );
        self.task_name(p.task);
        self.out.raw(b",\"args\":{\"thread\":\"");
        self.out.raw(&plan.labels.threads[thread as usize]);
        self.out.raw(b"\"");
        self.flags(p.ready(), p.cut());
        self.out.raw(b"}");
        if let Some(&wi) = plan.flows.poll_in.get(i as usize)
            && wi != NONE
            && m.wakes[wi as usize].time >= plan.range.start
        {
            self.flow(wi, b",\"flow_in\":true");
        }
        self.out.raw(b"}");
    }

    fn pause_name(&mut self, kind: trace_format::StringId) {
        let kind = self.m.string(kind);
        if kind.is_empty() {
            self.out.raw(b"\"pause\"");
        } else {
            self.out.raw(b"\"pause: ");
            escape_into(&mut self.out.buf, kind);
            self.out.raw(b"\"");
        }
    }

    fn annot(&mut self, thread: ThreadIx, a: Annot) {
        let (m, plan) = (self.m, self.plan);
        let tp = &plan.threads[thread as usize];
        let d = plan.layout.thread_base[thread as usize]
            + if a.lane == 0 {
                0
            } else {
                tp.poll_lanes + a.lane
            };
        let th = &m.threads[thread as usize];
        match a.kind {
            AnnotKind::Park => {
                self.slice(head!("X", "idle"), d, a.start, a.end);
                self.out.raw(b"\"idle\"}");
            }
            AnnotKind::Pause => {
                let p = th.pauses[a.ix as usize];
                self.slice(head!("X", "pause"), d, a.start, a.end);
                self.pause_name(p.kind);
                self.out.raw(b",\"args\":{\"scope\":\"thread\"");
                self.flags(false, p.cut);
                self.out.raw(b"}}");
            }
            AnnotKind::Region => {
                let r = th.regions[a.ix as usize];
                self.slice(head!("X", "region"), d, a.start, a.end);
                let name = m.string(r.name);
                self.out.str(if name.is_empty() { "region" } else { name });
                self.out.raw(b",\"args\":{\"id\":");
                self.out.u64(r.id);
                self.task_arg(b",\"task\":", r.task);
                self.flags(false, r.cut);
                self.out.raw(b"}}");
            }
        }
    }

    /// A zero-length `wake` slice at the wake's instant, on the waking task's track (or the
    /// waking thread's when no task woke it), carrying the arrow's start.
    fn wake(&mut self, wi: u32) {
        let (m, plan) = (self.m, self.plan);
        let w: &Wake = &m.wakes[wi as usize];
        let d = if w.waker == NO_TASK {
            self.thread_track(w.thread)
        } else {
            plan.layout.task_base[w.waker as usize]
        };
        self.slice(head!("X", "wake"), d, w.time, w.time);
        if w.task == NO_TASK {
            self.out.raw(b"\"wake\"");
        } else {
            self.out.raw(b"\"wake #");
            self.out.u64(m.tasks[w.task as usize].id.0);
            self.out.raw(b"\"");
        }
        self.out.raw(b",\"args\":{\"source\":\"");
        self.out.raw(source_name(w.source).as_bytes());
        self.out.raw(b"\"");
        self.task_arg(b",\"task\":", w.task);
        self.out.raw(b"}");
        let target = plan.flows.wake_to[wi as usize];
        if target != NONE && m.polls[target as usize].start < plan.range.end {
            self.flow(wi, b",\"flow_out\":true");
            self.stats.flows += 1;
        }
        self.out.raw(b"}");
    }
}
