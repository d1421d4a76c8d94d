//! An open trace: the model and what the window derives from it once, when the file is
//! opened — task groups, merged pauses, per-thread lost-data markers, counter tracks, region
//! rows and log indexes — so drawing a frame never walks the whole trace. Shared, read-only,
//! by every view and background job of the window.

use std::path::PathBuf;
use std::time::Duration;

use super::counters::{CounterTrack, counter_tracks};
use trace_analysis::analysis::groups::TaskGroups;
use trace_analysis::analysis::states::paused_spans;
use trace_analysis::model::{LostMarker, Model, Nanos, Sample, SampleKind, Span, ThreadIx};

/// One thread's regions at one nesting depth.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegionRow {
    /// Their spans, by start (searched every frame: kept together).
    pub spans: Vec<Span>,
    /// Each one's index in `Thread::regions`.
    pub ix: Vec<u32>,
}

/// Region nesting depths drawn (deeper regions are left out of the lanes).
pub const REGION_ROWS: usize = 6;

/// A trace opened in the window, and what the window derives from it once.
#[derive(Debug)]
pub struct OpenTrace {
    /// The file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub file_size: u64,
    /// The model.
    pub model: Model,
    /// Bytes of whole, readable frames.
    pub valid_bytes: u64,
    /// When the file is corrupt part-way: the error; the model holds what precedes it.
    pub salvaged_from: Option<String>,
    /// The task groups (by spawn location, name and kind, as in the Tasks table and the
    /// report), in order of their first task: one collapsible group of task lanes each.
    pub groups: TaskGroups,
    /// The process-wide pauses merged into disjoint spans (input of the task states).
    pub paused: Vec<Span>,
    /// Each thread's thread-scoped pauses merged into disjoint spans.
    pub thread_paused: Vec<Vec<Span>>,
    /// Each thread's lost-data markers, by time.
    pub lost_by_thread: Vec<Vec<LostMarker>>,
    /// The counter lanes' data, in lane order.
    pub counters: Vec<CounterTrack>,
    /// Per thread, per nesting depth (up to [`REGION_ROWS`]): its regions at that depth,
    /// by start. Regions nested deeper are not drawn.
    pub region_rows: Vec<Vec<RegionRow>>,
    /// Per thread: its log lines (indexes into `Model::logs`), by time.
    pub logs_by_thread: Vec<Vec<u32>>,
    /// Per thread: the times of those lines (searched every frame: kept together, not
    /// read through the index).
    pub log_times: Vec<Vec<Nanos>>,
    /// Per thread: where its WARN and ERROR lines are among them, so a tick standing for
    /// many lines shows the most severe one without reading them all.
    pub log_warnings: Vec<Vec<u32>>,
    /// Per thread: the times of its CPU samples, in order (ticks on its lane).
    pub cpu_times: Vec<Vec<Nanos>>,
    /// The polls with stall samples (indexes into `Model::polls`, ascending): marked on
    /// the timeline, their stack in the details panel.
    pub stalled_polls: Vec<u32>,
    /// How long opening and decoding took.
    pub open_time: Duration,
}

#[cfg(test)]
impl OpenTrace {
    /// A sound trace held in memory, derived as when the window opens a file (for tests).
    pub(crate) fn from_bytes(bytes: Vec<u8>) -> OpenTrace {
        let n = bytes.len() as u64;
        let trace = trace_format::Trace::from_bytes(bytes).expect("a readable trace");
        let model = Model::build(&trace).expect("a trace the model builds from");
        OpenTrace::new("x.rtt".into(), n, n, model, None)
    }
}

impl OpenTrace {
    /// Derives the window's tables from `model`.
    pub fn new(
        path: PathBuf,
        file_size: u64,
        valid_bytes: u64,
        model: Model,
        salvaged_from: Option<String>,
    ) -> OpenTrace {
        let groups = TaskGroups::of(&model);
        let paused = paused_spans(&model);
        let thread_paused = model
            .threads
            .iter()
            .map(|t| {
                let mut spans: Vec<Span> = t.pauses.iter().map(|p| p.span).collect();
                spans.sort_by_key(|s| s.start);
                Span::union(spans)
            })
            .collect();
        let mut lost_by_thread = vec![Vec::new(); model.threads.len()];
        for m in &model.lost {
            if let Some(v) = lost_by_thread.get_mut(m.thread.index()) {
                v.push(*m);
            }
        }
        let counters = counter_tracks(&model);
        let region_rows = model
            .threads
            .iter()
            .map(|t| {
                let mut rows: Vec<RegionRow> = Vec::new();
                for (i, r) in t.regions.iter().enumerate() {
                    let d = usize::from(r.depth);
                    if d < REGION_ROWS {
                        if rows.len() <= d {
                            rows.resize(d + 1, RegionRow::default());
                        }
                        rows[d].spans.push(r.span);
                        rows[d].ix.push(i as u32);
                    }
                }
                rows
            })
            .collect();
        let mut logs_by_thread = vec![Vec::new(); model.threads.len()];
        let mut log_times = vec![Vec::new(); model.threads.len()];
        let mut log_warnings = vec![Vec::new(); model.threads.len()];
        for (i, l) in model.logs.iter().enumerate() {
            if let Some(v) = logs_by_thread.get_mut(l.thread.index()) {
                if l.level >= trace_format::Level::Warn {
                    log_warnings[l.thread.index()].push(v.len() as u32);
                }
                v.push(i as u32);
                log_times[l.thread.index()].push(l.time);
            }
        }
        let mut cpu_times = vec![Vec::new(); model.threads.len()];
        let mut stalled_polls = Vec::new();
        for s in &model.samples {
            match s.kind {
                SampleKind::Cpu => {
                    if let Some(v) = cpu_times.get_mut(s.thread.index()) {
                        v.push(s.time);
                    }
                }
                SampleKind::Stall if s.poll != Sample::NO_POLL => stalled_polls.push(s.poll),
                _ => {}
            }
        }
        stalled_polls.sort_unstable();
        stalled_polls.dedup();
        OpenTrace {
            cpu_times,
            stalled_polls,
            counters,
            region_rows,
            logs_by_thread,
            log_times,
            log_warnings,
            path,
            file_size,
            valid_bytes,
            model,
            salvaged_from,
            groups,
            paused,
            thread_paused,
            lost_by_thread,
            open_time: Duration::ZERO,
        }
    }

    /// What the banner says when data is missing: the reader's warnings, the salvage error,
    /// lost-data totals. Empty for a complete trace.
    pub fn problems(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if let Some(e) = &self.salvaged_from {
            lines.push(format!(
                "{e}; showing the {} readable before the damage",
                trace_analysis::units::format_bytes(self.valid_bytes)
            ));
        }
        for w in &self.model.warnings {
            lines.push(w.to_string());
        }
        if !self.model.lost.is_empty() {
            let chunks: u64 = self.model.lost.iter().map(|m| m.chunks).sum();
            let events: u64 = self.model.lost.iter().map(|m| m.events).sum();
            let threads = self.lost_by_thread.iter().filter(|v| !v.is_empty()).count();
            lines.push(format!(
                "{} hole(s) in the data on {threads} thread(s): {chunks} chunk(s) with {events} \
                 event(s) missing (marked in red on the lanes)",
                self.model.lost.len()
            ));
        }
        lines
    }

    /// Threads in lane order: workers by index, then blocking-pool threads, then other threads
    /// that ran polls, paused or left regions or logs (the `block_on` thread, application
    /// threads using `tracing`), each by id.
    pub fn thread_order(&self) -> Vec<ThreadIx> {
        use trace_format::ThreadKind;
        let model = &self.model;
        let mut order = model.workers();
        let rank = |t: &trace_analysis::model::Thread| match t.kind {
            Some(ThreadKind::Blocking) => 0,
            _ => 1,
        };
        let mut rest: Vec<ThreadIx> = model
            .thread_ixs()
            .filter(|&i| {
                let t = &model.threads[i.index()];
                !t.is_worker()
                    && (t.kind == Some(ThreadKind::Blocking)
                        || !t.polls.is_empty()
                        || !t.pauses.is_empty()
                        || !t.regions.is_empty()
                        || !self.logs_by_thread[i.index()].is_empty())
            })
            .collect();
        rest.sort_by_key(|&i| (rank(&model.threads[i.index()]), model.threads[i.index()].id));
        order.extend(rest);
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trace_analysis::model::TaskIx;

    #[test]
    fn the_timeline_groups_tasks_as_the_tasks_table_does() {
        // Two task names spawned at one place, and a task of unknown location: the
        // timeline's groups are the breakdown's (the Tasks table's), with its labels.
        let t = OpenTrace::from_bytes(
            trace_format::text::undump(
                "location id=1 file=\"src/a.rs\" line=10 column=5\n\
                 string id=7 text=\"accept\"\n\
                 string id=8 text=\"serve\"\n\
                 1 10 task_spawn task=1 location=1 name=7\n\
                 1 20 task_spawn task=2 location=1 name=8\n\
                 1 30 task_spawn task=3 location=1 name=7\n\
                 1 40 task_spawn task=4\n\
                 end\n",
            )
            .unwrap(),
        );
        let breakdown = trace_analysis::analysis::breakdown::Breakdown::compute(
            &t.model,
            &trace_analysis::analysis::breakdown::BreakdownOptions::default(),
        );
        let timeline: Vec<(String, Vec<TaskIx>)> = t
            .groups
            .iter()
            .map(|g| (g.label.clone(), g.tasks.clone()))
            .collect();
        let mut table: Vec<(String, Vec<TaskIx>)> = breakdown
            .groups
            .iter()
            .map(|g| (g.label.clone(), g.task_ixs.clone()))
            .collect();
        // The table sorts by running time; the timeline lists groups by first spawn.
        table.sort_by_key(|(_, tasks)| tasks[0]);
        assert_eq!(timeline, table);
        assert_eq!(timeline.len(), 3, "{timeline:?}");
    }
}
