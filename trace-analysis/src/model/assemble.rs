//! Joining the threads' [`Part`]s into the [`Model`]'s tables: task ids become dense
//! indexes ([`TaskTable`]), polls are grouped per thread and indexed per task, wakes grouped
//! per task, process-wide pauses paired across threads, and counter series merged.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use trace_format::sampling::sample_weight;
use trace_format::{PauseScope, StringId, TaskId, Trace};

use super::blocks::merge_by_key;
use super::decode::{Part, RawCounter, RawSpawn};
use super::index::{Grouped, group_offsets, group_rows};
use super::samples::weigh_stalls;
use super::spans::assemble_spans;
use super::tables::{
    AllocSample, Anomalies, CounterKind, CounterSeries, DEFAULT_CPU_HZ, Log, LostMarker, Model,
    Nanos, Pause, Poll, Region, Sample, SampleKind, Span, Task, TaskIx, Thread, ThreadIx, Wake,
};

/// How long before its last event a cut recording may be missing data: a recorder hands
/// every thread's events to its writer within the flush interval (also a thread that went
/// quiet), which writes them within [`WRITE_SLACK_NS`] more. Recorders say their interval in
/// the header feature `flush_interval_ns`; 1 s is the default of those that do not.
const DEFAULT_FLUSH_INTERVAL_NS: Nanos = 1_000_000_000;
/// The writer's own delay before data reaches the file (its 10 ms rounds and 100 ms flushes).
const WRITE_SLACK_NS: Nanos = 150_000_000;

/// [`Model::complete_until`]: `end` for a finished recording, else `end` less the time the
/// recorder may have held data back.
fn complete_until(trace: &Trace, end: Nanos) -> Nanos {
    if trace.end().is_some() {
        return end;
    }
    let flush = trace
        .header()
        .features
        .iter()
        .find(|(k, _)| k == "flush_interval_ns")
        .and_then(|(_, v)| v.parse::<Nanos>().ok())
        .unwrap_or(DEFAULT_FLUSH_INTERVAL_NS);
    end.saturating_sub(flush.saturating_add(WRITE_SLACK_NS))
}

/// Dense task indexes for the file's task ids.
struct TaskTable {
    tasks: Vec<Task>,
    index: HashMap<u64, TaskIx, foldhash::fast::RandomState>,
}

impl TaskTable {
    /// The index of `id`, adding a task first seen at `time` if the trace has not spawned it.
    fn get_or_add(&mut self, id: TaskId, time: Nanos) -> TaskIx {
        if id == TaskId::NONE {
            return TaskIx::NONE;
        }
        if let Some(&ix) = self.index.get(&id.0) {
            let task = &mut self.tasks[ix.index()];
            if task.spawn.is_none() && time < task.first_seen {
                task.first_seen = time;
            }
            return ix;
        }
        let ix = TaskIx(self.tasks.len() as u32);
        self.tasks.push(Task {
            id,
            kind: None,
            tokio_id: 0,
            parent: TaskIx::NONE,
            location: trace_format::LocationId::NONE,
            name: StringId::NONE,
            spawn: None,
            terminate: None,
            first_seen: time,
        });
        self.index.insert(id.0, ix);
        ix
    }

    /// The index of `id` if the trace knows it.
    fn get(&self, id: TaskId) -> TaskIx {
        self.index.get(&id.0).copied().unwrap_or(TaskIx::NONE)
    }
}

/// Builds the model from the threads' parts (in thread id order).
pub(super) fn assemble(trace: &Trace, mut parts: Vec<Part>) -> Model {
    let mut anomalies = Anomalies::default();
    let start = parts.iter().filter_map(|p| p.first).min().unwrap_or(0);
    let mut end = parts.iter().map(|p| p.last).max().unwrap_or(0);
    if let Some(e) = trace.end() {
        end = end.max(trace.to_nanos(e.end_time));
    }

    // Whatever is still open ran until the recording stopped; in a cut recording, until at
    // least the time up to which the file is known to be complete (a poll that started
    // before it and has no end in the file was still running there; one that started after
    // it may have ended in the missing tail). Idle stays idle to the end either way.
    let complete_until = complete_until(trace, end);
    for part in &mut parts {
        part.close_open(complete_until, end, true);
        anomalies.cut_intervals += part.cut_intervals;
        anomalies.unmatched_ends += part.unmatched_ends;
    }

    // Task indexes are given in the order tasks are first met here: spawned ones by spawn
    // time, then the others as polls, wakes, terminations and the rest name them.
    let (mut table, parents) = spawned_tasks(&mut parts, &mut anomalies);
    let (polls, mut threads) =
        polls_by_thread(trace, &mut parts, start, &mut table, &mut anomalies);
    for &(ix, parent) in &parents {
        table.tasks[ix.index()].parent = table.get(parent);
    }
    let mut wakes = wakes(&mut parts, &mut table, &mut anomalies);
    terminations(&parts, &mut table, &mut anomalies);
    let mut rest = per_thread_records(&mut parts, &mut threads, &mut table);
    pair_process_pauses(&mut parts, end, &mut rest.process_pauses, &mut anomalies);
    rest.process_pauses.sort_by_key(|p| (p.span.start, p.depth));
    let counters = counter_series(trace, &mut parts);
    let marks: Vec<_> = parts
        .iter_mut()
        .flat_map(|p| std::mem::take(&mut p.span_marks))
        .collect();
    let spans = assemble_spans(marks, threads.iter().map(|t| &t.regions[..]), end);

    // Per-task indexes: polls in time order within each task (and the overlaps counted),
    // wakes sorted by task so the offsets alone index them.
    let tasks = table.tasks;
    let Grouped {
        offsets: task_poll_offsets,
        rows: mut task_poll_index,
    } = group_rows(tasks.len(), polls.iter().map(|p| p.task.0));
    for t in 0..tasks.len() {
        let range = task_poll_offsets[t] as usize..task_poll_offsets[t + 1] as usize;
        let slice = &mut task_poll_index[range];
        if !slice.is_sorted_by_key(|&i| polls[i as usize].start) {
            slice.sort_by_key(|&i| polls[i as usize].start);
        }
        let mut prev_end = 0;
        for &i in slice.iter() {
            let p = &polls[i as usize];
            if p.start < prev_end {
                anomalies.overlapping_polls += 1;
            }
            prev_end = prev_end.max(p.end);
        }
    }
    wakes.par_sort_unstable_by_key(|w| (w.task, w.time, w.thread));
    let task_wake_offsets = group_offsets(tasks.len(), wakes.iter().map(|w| w.task.0));

    let task_dumps = super::dumps::TaskDumps::build(trace, &tasks);
    let mut model = Model {
        header: trace.header().clone(),
        complete_until,
        end_record: trace.end().cloned(),
        warnings: trace.warnings().to_vec(),
        end,
        start,
        events: parts.iter().map(|p| p.events).sum(),
        threads,
        tasks,
        polls,
        wakes,
        process_pauses: rest.process_pauses,
        counters,
        spans,
        logs: rest.logs,
        alloc_samples: rest.alloc_samples,
        samples: rest.samples,
        code: trace.code().clone(),
        task_dumps,
        schedule_latencies: rest.schedule_latencies,
        lost: rest.lost,
        anomalies,
        task_poll_index,
        task_poll_offsets,
        task_wake_offsets,
        strings: trace
            .strings()
            .map(|(id, s)| (id.0, s.to_string()))
            .collect(),
        locations: trace.locations().map(|l| (l.id, l.clone())).collect(),
    };
    weigh_samples(&mut model);
    // tokio reports completion from inside the final poll: a task ends when that poll does.
    for ix in 0..model.tasks.len() {
        if let Some(last) = model.task_polls(TaskIx(ix as u32)).map(|p| p.end).max()
            && let Some(term) = model.tasks[ix].terminate
        {
            model.tasks[ix].terminate = Some(term.max(last));
        }
    }
    model
}

/// Gives each of the model's samples its weight (see `samples`' module docs).
fn weigh_samples(model: &mut Model) {
    if model.samples.is_empty() {
        return;
    }
    let sampling = model.code.sampling();
    let hz = sampling.map_or(0, |s| s.cpu_hz);
    let cpu_ns = 1_000_000_000 / u64::from(if hz == 0 { DEFAULT_CPU_HZ } else { hz });
    let stall_period = sampling.map_or(0, |s| s.stall_threshold_ns);
    let alloc: Vec<u64> = model
        .samples
        .iter()
        .filter(|s| s.kind == SampleKind::Alloc)
        .map(|s| sample_weight(s.size, model.alloc_sample_rate_at(s.time)).round() as u64)
        .collect();
    let mut alloc = alloc.into_iter();
    let mut stalls: Vec<Vec<usize>> = vec![Vec::new(); model.threads.len()];
    for (i, s) in model.samples.iter_mut().enumerate() {
        match s.kind {
            SampleKind::Cpu => s.weight = cpu_ns,
            SampleKind::Alloc => s.weight = alloc.next().unwrap_or(0),
            SampleKind::Stall => stalls[s.thread.index()].push(i),
        }
    }
    for (thread, rows) in stalls.into_iter().enumerate() {
        if rows.is_empty() {
            continue;
        }
        let mut own: Vec<Sample> = rows.iter().map(|&i| model.samples[i]).collect();
        let range = model.threads[thread].polls.clone();
        let polls = &model.polls[range.start as usize..range.end as usize];
        weigh_stalls(&mut own, polls, range.start, stall_period);
        for (&i, s) in rows.iter().zip(own) {
            model.samples[i] = s;
        }
    }
}

/// The spawned tasks, by spawn time, and each one's parent as the file names it.
fn spawned_tasks(
    parts: &mut [Part],
    anomalies: &mut Anomalies,
) -> (TaskTable, Vec<(TaskIx, TaskId)>) {
    let mut spawns: Vec<RawSpawn> = parts
        .iter_mut()
        .flat_map(|p| std::mem::take(&mut p.spawns))
        .collect();
    spawns.par_sort_unstable_by_key(|s| (s.time, s.task));
    let mut table = TaskTable {
        tasks: Vec::with_capacity(spawns.len()),
        index: HashMap::with_capacity_and_hasher(spawns.len(), Default::default()),
    };
    let mut parents = Vec::with_capacity(spawns.len());
    for s in &spawns {
        if s.task == TaskId::NONE {
            anomalies.events_without_task += 1;
            continue;
        }
        if table.index.contains_key(&s.task.0) {
            anomalies.duplicate_spawns += 1;
            continue;
        }
        let ix = table.get_or_add(s.task, s.time);
        let task = &mut table.tasks[ix.index()];
        task.kind = Some(s.kind);
        task.tokio_id = s.tokio_id;
        task.location = s.location;
        task.name = s.name;
        task.spawn = Some(s.time);
        parents.push((ix, s.parent));
    }
    (table, parents)
}

/// The polls, grouped by thread (each thread's by start, outer before inner), and the
/// threads with their polls and idle intervals (pauses and regions come later).
fn polls_by_thread(
    trace: &Trace,
    parts: &mut [Part],
    start: Nanos,
    table: &mut TaskTable,
    anomalies: &mut Anomalies,
) -> (Vec<Poll>, Vec<Thread>) {
    let mut polls = Vec::with_capacity(parts.iter().map(|p| p.polls.len()).sum());
    let mut threads = Vec::with_capacity(parts.len());
    for (thread_ix, part) in parts.iter_mut().enumerate() {
        let mut raw = std::mem::take(&mut part.polls);
        if !raw.is_sorted_by_key(|p| p.start) {
            // Nested polls end inner-first; order by start, outer before inner.
            raw.sort_by_key(|p| (p.start, std::cmp::Reverse(p.end)));
        }
        let first = polls.len() as u32;
        for p in &raw {
            if p.task == TaskId::NONE {
                anomalies.events_without_task += 1;
                continue;
            }
            let task = table.get_or_add(p.task, p.start);
            polls.push(Poll::new(
                p.start,
                p.end,
                task,
                ThreadIx(thread_ix as u32),
                p.ready,
                p.cut,
            ));
        }
        let range = first..polls.len() as u32;
        let own = &polls[range.start as usize..];
        let poll_end_max = (!own.is_sorted_by_key(|p| p.end)).then(|| {
            own.iter()
                .scan(0, |max, p| {
                    *max = p.end.max(*max);
                    Some(*max)
                })
                .collect()
        });
        let def = trace.threads().get(&part.thread);
        let mut parks = std::mem::take(&mut part.parks);
        if let Some(unpark) = part.parked_at_start {
            parks.push(Span::new(start, unpark));
        }
        parks.sort_by_key(|s| s.start);
        threads.push(Thread {
            id: part.thread,
            name: def.map(|d| d.name.clone()).unwrap_or_default(),
            kind: part.kind,
            index: part.index,
            start: part.start.or(part.first),
            stop: part.stop,
            polls: range,
            parks,
            pauses: Vec::new(),
            regions: Vec::new(),
            poll_end_max,
        });
    }
    (polls, threads)
}

/// The wakes, by thread (wakers are indexed first: a waker with no polls in the file is
/// still a task).
fn wakes(parts: &mut [Part], table: &mut TaskTable, anomalies: &mut Anomalies) -> Vec<Wake> {
    let mut wakes = Vec::with_capacity(parts.iter().map(|p| p.wakes.len()).sum());
    for (thread_ix, part) in parts.iter_mut().enumerate() {
        for w in std::mem::take(&mut part.wakes) {
            if w.task == TaskId::NONE {
                anomalies.events_without_task += 1;
                continue;
            }
            let waker = table.get_or_add(w.waker, w.time);
            let task = table.get_or_add(w.task, w.time);
            wakes.push(Wake {
                time: w.time,
                task,
                waker,
                thread: ThreadIx(thread_ix as u32),
                source: w.source,
            });
        }
    }
    wakes
}

/// Sets each task's termination: its first `TaskTerminate`.
fn terminations(parts: &[Part], table: &mut TaskTable, anomalies: &mut Anomalies) {
    for part in parts {
        for &(t, id) in &part.terminates {
            if id == TaskId::NONE {
                anomalies.events_without_task += 1;
                continue;
            }
            let ix = table.get_or_add(id, t);
            let task = &mut table.tasks[ix.index()];
            task.terminate = Some(task.terminate.map_or(t, |old| old.min(t)));
        }
    }
}

/// The model's other tables, gathered from every thread by [`per_thread_records`].
struct Records {
    schedule_latencies: Vec<(Nanos, TaskIx, u64)>,
    logs: Vec<Log>,
    alloc_samples: Vec<AllocSample>,
    /// CPU, stall and allocation samples, not yet weighed, by time.
    samples: Vec<Sample>,
    /// The process-wide pauses that one thread began and ended; the others are paired
    /// across threads by [`pair_process_pauses`].
    process_pauses: Vec<Pause>,
    lost: Vec<LostMarker>,
}

/// Schedule latencies, logs, allocation samples, pauses, regions and lost-data markers of
/// every thread; each thread's own pauses and regions go to `threads`.
fn per_thread_records(
    parts: &mut [Part],
    threads: &mut [Thread],
    table: &mut TaskTable,
) -> Records {
    let mut schedule_latencies = Vec::new();
    let mut logs = Vec::new();
    let mut alloc_samples = Vec::new();
    let mut samples = Vec::new();
    let mut process_pauses = Vec::new();
    let mut lost = Vec::new();
    for (thread_ix, part) in parts.iter_mut().enumerate() {
        let thread = ThreadIx(thread_ix as u32);
        for &(t, id, nanos) in &part.latencies {
            if id != TaskId::NONE {
                schedule_latencies.push((t, table.get_or_add(id, t), nanos));
            }
        }
        for l in std::mem::take(&mut part.logs) {
            logs.push(Log {
                time: l.time,
                thread,
                task: table.get_or_add(l.task, l.time),
                level: l.level,
                target: l.target,
                message: l.message,
            });
        }
        for &(time, size, id) in &part.samples {
            alloc_samples.push(AllocSample {
                time,
                size,
                task: table.get_or_add(id, time),
                thread,
            });
        }
        for r in std::mem::take(&mut part.code_samples) {
            samples.push(Sample {
                time: r.time,
                kind: r.kind,
                thread,
                task: table.get_or_add(r.task, r.time),
                stack: r.stack,
                weight: 0,
                size: r.size,
                poll: Sample::NO_POLL,
            });
        }
        let mut own_pauses = Vec::new();
        for p in std::mem::take(&mut part.pauses) {
            let pause = Pause {
                span: p.span,
                kind: p.kind,
                scope: p.scope,
                thread,
                depth: p.depth,
                cut: p.cut,
            };
            match p.scope {
                PauseScope::Process => process_pauses.push(pause),
                PauseScope::Thread => own_pauses.push(pause),
            }
        }
        own_pauses.sort_by_key(|p| (p.span.start, p.depth));
        threads[thread_ix].pauses = own_pauses;
        let mut regions: Vec<Region> = std::mem::take(&mut part.regions)
            .into_iter()
            .map(|r| Region {
                span: r.span,
                id: r.id,
                name: r.name,
                task: table.get_or_add(r.task, r.span.start),
                depth: r.depth,
                cut: r.cut,
            })
            .collect();
        regions.sort_by_key(|r| (r.span.start, r.depth));
        threads[thread_ix].regions = regions;
        for &(time, chunks, events) in &part.lost {
            lost.push(LostMarker {
                time,
                thread,
                chunks,
                events,
            });
        }
    }
    schedule_latencies.sort_unstable_by_key(|&(t, task, _)| (task, t));
    logs.sort_by_key(|l| l.time);
    alloc_samples.sort_by_key(|s| s.time);
    samples.sort_by_key(|s| (s.time, s.thread));
    lost.sort_by_key(|l| (l.time, l.thread));
    Records {
        schedule_latencies,
        logs,
        alloc_samples,
        samples,
        process_pauses,
        lost,
    }
}

/// Pairs process-wide pause begins and ends across threads (a guard may be dropped on another
/// thread than the one that took it), in time order: an end closes the latest open pause of
/// its kind. Pauses still open at the end of the trace are closed there as cut.
fn pair_process_pauses(
    parts: &mut [Part],
    end: Nanos,
    out: &mut Vec<Pause>,
    anomalies: &mut Anomalies,
) {
    let mut marks: Vec<(Nanos, ThreadIx, StringId, bool)> = Vec::new();
    for (thread, part) in parts.iter_mut().enumerate() {
        for (t, kind, begin) in std::mem::take(&mut part.process_pause_marks) {
            marks.push((t, ThreadIx(thread as u32), kind, begin));
        }
    }
    marks.sort_by_key(|m| (m.0, m.1));
    let mut open: Vec<(Nanos, ThreadIx, StringId)> = Vec::new();
    for (t, thread, kind, begin) in marks {
        if begin {
            open.push((t, thread, kind));
            continue;
        }
        match open.iter().rposition(|o| o.2 == kind) {
            Some(i) => {
                let (start, thread, kind) = open.remove(i);
                out.push(Pause {
                    span: Span::new(start, t),
                    kind,
                    scope: PauseScope::Process,
                    thread,
                    depth: i as u16,
                    cut: false,
                });
            }
            None => anomalies.unmatched_ends += 1,
        }
    }
    while let Some((start, thread, kind)) = open.pop() {
        anomalies.cut_intervals += 1;
        out.push(Pause {
            span: Span::new(start, end),
            kind,
            scope: PauseScope::Process,
            thread,
            depth: open.len() as u16,
            cut: true,
        });
    }
}

/// The counter series: runtime and user counters by kind, then the heap in use and the
/// bytes allocated, accumulated over every thread's allocator counters in time order.
fn counter_series(trace: &Trace, parts: &mut [Part]) -> Vec<CounterSeries> {
    let mut by_kind: BTreeMap<RawCounter, Vec<(Nanos, f64)>> = BTreeMap::new();
    for part in parts.iter_mut() {
        for (t, kind, v) in std::mem::take(&mut part.counters) {
            by_kind.entry(kind).or_default().push((t, v));
        }
    }
    let mut series: Vec<CounterSeries> = by_kind
        .into_iter()
        .map(|(kind, mut points)| {
            points.sort_by_key(|p| p.0);
            let kind = match kind {
                RawCounter::GlobalQueue => CounterKind::GlobalQueue,
                RawCounter::AliveTasks => CounterKind::AliveTasks,
                RawCounter::BlockingThreads => CounterKind::BlockingThreads,
                RawCounter::WorkerQueue(i) => CounterKind::WorkerQueue(i),
                RawCounter::User(name) => {
                    CounterKind::User(trace.string(name).unwrap_or("").to_string())
                }
            };
            CounterSeries { kind, points }
        })
        .collect();

    // The allocator's counters are often most of a trace's events: merge the threads' lists
    // (each in time order) straight into the two series, freeing each block of the input as
    // it is consumed, so the input and the series are never both held whole.
    let total: usize = parts.iter().map(|p| p.alloc.len()).sum();
    if total > 0 {
        let lists: Vec<_> = parts
            .iter_mut()
            .map(|p| std::mem::take(&mut p.alloc).into_sorted_iter(|a| a.0))
            .collect();
        let (mut heap, mut allocated) = (0i128, 0u128);
        let mut heap_points = Vec::with_capacity(total);
        let mut alloc_points = Vec::with_capacity(total);
        for (t, a, f) in merge_by_key(lists, |a| a.0) {
            heap += i128::from(a) - i128::from(f);
            allocated += u128::from(a);
            heap_points.push((t, heap as f64));
            alloc_points.push((t, allocated as f64));
        }
        series.push(CounterSeries {
            kind: CounterKind::HeapInUse,
            points: heap_points,
        });
        series.push(CounterSeries {
            kind: CounterKind::AllocatedBytes,
            points: alloc_points,
        });
    }
    series
}
