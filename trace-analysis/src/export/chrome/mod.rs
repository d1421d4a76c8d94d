//! Chrome trace JSON (the Trace Event Format) as Perfetto and `chrome://tracing` import it,
//! written by a streaming writer: [`write_chrome`].
//!
//! # What each track holds
//!
//! One process (the traced one: its pid, or 1 when the trace does not know it; its name as
//! `process_name`). Every track is a thread of that process with a 32-bit, non-zero tid
//! (never the pid) that is allocated in display order, and `thread_name` +
//! `thread_sort_index` metadata written just before the track's first event, so only tracks
//! with something on them appear:
//!
//! 1. **process pauses** (when the trace has any): process-wide pauses as `X` slices named
//!    `pause: KIND`;
//! 2. one track per **recording thread** (workers by index, then blocking-pool threads, then
//!    the others), holding the polls it ran (`X`, named with the task's label, args `task`,
//!    `at` for named tasks, `ready`/`cut` flags), its parked intervals (`X` named `idle`),
//!    its thread-scoped pauses, its `tracing` regions (named by the span), log lines and
//!    lost-data markers (`i` instants: the message; `data lost: N events`), sampled
//!    allocations (`i`, `alloc N bytes`), and the wakes made by no task (I/O driver, timers,
//!    blocking pool, foreign threads: zero-length `X` slices named `wake #ID`);
//! 3. one track per **task**, ordered by spawn location (tasks from the same location are
//!    neighbours, groups in order of their first spawn): its polls again (args `thread`), and
//!    the wakes it made (zero-length `wake #ID` slices at the wake's instant, inside the poll
//!    that made them);
//! 4. **counters** (`C` events, one series per counter track): heap in use, bytes
//!    allocated, global and per-worker queue depths, alive tasks, blocking threads and user
//!    counters.
//!
//! Every poll therefore appears exactly twice: once on its thread's track and once on its
//! task's track.
//!
//! # Nesting
//!
//! Slices on one track must nest (Perfetto drops or misplaces partially overlapping ones).
//! Polls on a thread nest by construction (nested polls come from `block_in_place` +
//! `block_on`) and a task's polls do not overlap, but idle intervals, pauses and regions are
//! only put on their thread's track when they nest with its polls and with each other; one
//! that does not (a span exited out of order, a pause that outlives a poll) goes to an extra
//! track named `THREAD · lane N` beside it. The same greedy lane assignment protects every
//! other track (overlapping pauses of different threads on the process-pause track, the rare
//! overlapping polls of one task), so any input exports as properly nested tracks.
//!
//! # Wake arrows
//!
//! Each wake becomes a v2 flow (`bind_id` + `flow_out`/`flow_in`, id = the wake's index + 1,
//! unique per edge) from a zero-length `wake` slice at the wake's instant to the woken task's
//! next poll on its task track. Perfetto binds a v2 flow to the slice that carries it, and a
//! slice carries only one `bind_id`, so a poll that wakes three tasks cannot hold three
//! outgoing arrows: the zero-length child slice carries each edge (and shows where in the
//! poll the wake happened). The poll that a wake leads to is chosen as the analysis chooses
//! the wake that ends a wait: a task's wakes since the start of its previous poll, the first
//! of them, point to its next poll; later ones in the same stretch (the task was already
//! runnable) get a `wake` slice but no arrow. When the wake and the poll it leads to happen in
//! the same nanosecond, the arrow ends on a zero-length `woken` slice at the start of that
//! poll, so that the file still lists the arrow's start before its end.
//!
//! # Ordering
//!
//! Events are written sorted by `(ts, −dur)` over the whole file, which is what the Trace
//! Event Format's importers expect and what both of them handle best: on one track a parent
//! comes before the children that start with it, and an arrow's start comes before its end. Per
//! track order would be enough for nesting alone, but Perfetto resolves flows in the order it
//! reads them, so the whole file is merged: a heap merges a few sorted sources (each thread's
//! polls, each thread's idle/pause/region intervals, process pauses, wakes, logs, lost
//! markers, allocation samples, one per counter series). A poll's two copies have the same
//! key, so the task copy is written right after the thread copy and needs no source of its
//! own. Ties are broken by kind (wakes first, then polls, then the rest, `woken` last) and
//! then by source, so the output is deterministic. Metadata (`M`) events carry no time and
//! are exempt.
//!
//! # Time range
//!
//! With [`ChromeOptions::range`] `[from, to)`, a slice is written when it overlaps the range
//! (`start < to` and `end > from`; a zero-length one when `from ≤ start < to`), and written
//! whole, not clipped, so its `ts`/`dur` are the recorded ones. Instants and counter points are
//! written when `from ≤ t < to`; each counter series also gets its value in force at `from`
//! as a point at `from`. A flow is written only when both its ends are.
//!
//! # Units
//!
//! `ts` and `dur` are microseconds since the start of the trace, printed from integer
//! nanoseconds as `µs.nnn` (1 234 567 ns → `1234.567`), so no float rounding is involved.
//!
//! # How it is built
//!
//! [`write_chrome`] runs in steps, each a module: `plan` decides everything that needs the
//! whole trace before the first byte (lanes, arrows, track layout, labels); `merge` turns the
//! model into sorted sources and orders them into one stream; `emit` turns each item into
//! typed records (`record`: one type per kind of record and of `args`), with a track's
//! metadata before its first event; `json` writes the records. The records derive serde's
//! `Serialize`, but `json` prints them by hand, byte for byte as serde_json would, because
//! serde_json is too slow for the export budget (≥ 5 M trace events/s): its module docs
//! have the figures.

mod emit;
mod json;
mod merge;
mod plan;
mod record;
#[cfg(test)]
mod tests;

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::collections::binary_heap::PeekMut;
use std::io::{self, Write};

use crate::model::{Model, Nanos, Span};

pub use emit::ExportStats;
use emit::Exporter;
use merge::Source;
use plan::Plan;

/// Options for [`write_chrome`].
#[derive(Default, Clone, Copy)]
pub struct ChromeOptions<'a> {
    /// Export only what overlaps `[start, end)` of trace time (see the module docs); `None`
    /// exports everything.
    pub range: Option<Span>,
    /// Called now and then, and once at the end, with `(items done, items total)`: the
    /// trace items (polls, intervals, wakes, logs, counter points, …) written so far.
    pub progress: Option<&'a dyn Fn(u64, u64)>,
}

/// Writes `model` as Chrome trace JSON to `out`, streaming: the JSON is produced in order and
/// handed to `out` in pieces of a few hundred KiB, never held whole (`out` needs no
/// buffering of its own). See the module docs for what goes where.
///
/// Fails with the first error `out` returns, or with `InvalidInput` for a range that ends
/// before it starts.
///
/// ```
/// use trace_format::{Event, TaskId, Trace, build::TraceBuilder};
/// use trace_analysis::export::chrome::{ChromeOptions, write_chrome};
/// use trace_analysis::model::Model;
///
/// let mut b = TraceBuilder::new();
/// b.push(1, 1_000, Event::PollStart { task: TaskId(7) });
/// b.push(1, 1_234_567, Event::PollEnd { ready: true });
/// let model = Model::build(&Trace::from_bytes(b.to_bytes())?)?;
///
/// let mut json = Vec::new();
/// let stats = write_chrome(&model, &ChromeOptions::default(), &mut json)?;
/// assert_eq!(stats.slices, 2); // the poll on its thread's track and on its task's track
/// assert_eq!(stats.bytes, json.len() as u64);
///
/// let doc: serde_json::Value = serde_json::from_slice(&json)?;
/// let polls: Vec<_> = doc["traceEvents"]
///     .as_array()
///     .unwrap()
///     .iter()
///     .filter(|e| e["ph"] == "X")
///     .collect();
/// assert_eq!(polls[0]["ts"], 1.0); // µs
/// assert_eq!(polls[0]["dur"], 1233.567);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_chrome(
    model: &Model,
    options: &ChromeOptions<'_>,
    out: impl Write,
) -> io::Result<ExportStats> {
    let range = options.range.unwrap_or(Span {
        start: 0,
        end: Nanos::MAX,
    });
    if range.end < range.start {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "the export range ends ({} ns) before it starts ({} ns)",
                range.end, range.start
            ),
        ));
    }
    let plan = Plan::new(model, range)?;
    let mut sources = plan.sources();
    let total: u64 = sources.iter().map(Source::len).sum();

    let mut exp = Exporter::new(model, &plan, out, total, options.progress);
    exp.begin()?;

    let mut heap = BinaryHeap::with_capacity(sources.len());
    for (i, s) in sources.iter_mut().enumerate() {
        if let Some(k) = s.key(model, range) {
            heap.push(Reverse(k.with_source(i)));
        }
    }
    while let Some(mut top) = heap.peek_mut() {
        let i = top.0.source as usize;
        exp.emit(&mut sources[i])?;
        match sources[i].key(model, range) {
            Some(k) => top.0 = k.with_source(i),
            None => {
                PeekMut::pop(top);
            }
        }
    }
    exp.finish()
}
