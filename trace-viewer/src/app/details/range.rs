//! What a selected time range holds: every task's time in each state inside it (summed), how
//! many tasks were alive in it, and how busy each thread was. Computed on a background
//! thread when the range is chosen.

use crate::app::open_trace::OpenTrace;
use crate::app::sorted::disjoint_in;
use trace_analysis::analysis::states::{StateTotals, for_each_segment};
use trace_analysis::model::{Nanos, Span};

/// A thread's use of the range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadShare {
    /// Its label.
    pub label: String,
    /// Time in polls inside the range.
    pub busy: Nanos,
    /// Time parked inside the range.
    pub idle: Nanos,
}

/// The contents of a time range.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeSummary {
    /// The range.
    pub span: Span,
    /// Tasks alive in it.
    pub tasks: usize,
    /// Their time in each state inside it, summed.
    pub totals: StateTotals,
    /// Threads in lane order.
    pub threads: Vec<ThreadShare>,
}

impl RangeSummary {
    /// Sums what `span` holds (walks the polls of the tasks alive in it).
    pub fn compute(trace: &OpenTrace, span: Span) -> RangeSummary {
        let model = &trace.model;
        let mut totals = StateTotals::default();
        let mut tasks = 0;
        for task in model.task_ixs() {
            let life = model.tasks[task.index()].lifetime(model.end);
            if life.overlap(span) == 0 {
                continue;
            }
            tasks += 1;
            for_each_segment(model, task, &trace.paused, |s| {
                totals.add(s.state, s.span.overlap(span));
            });
        }
        let threads = trace
            .thread_order()
            .into_iter()
            .map(|t| {
                let busy = model
                    .thread_polls_in(t, span.start, span.end)
                    .iter()
                    .map(|p| p.span().overlap(span))
                    .sum();
                let parks = &model.threads[t.index()].parks;
                let idle = parks[disjoint_in(parks, |s| *s, span.start, span.end)]
                    .iter()
                    .map(|p| p.overlap(span))
                    .sum();
                ThreadShare {
                    label: model.threads[t.index()].label(),
                    busy,
                    idle,
                }
            })
            .collect();
        RangeSummary {
            span,
            tasks,
            totals,
            threads,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trace_analysis::synthetic::Synthetic;

    #[test]
    fn a_range_sums_the_states_of_the_tasks_alive_in_it() {
        let s = Synthetic::default();
        let t = OpenTrace::from_bytes(s.bytes());
        // The second round of worker 0.
        let span = Span::new(s.round_start(0, 1), s.round_start(0, 2));
        let r = RangeSummary::compute(&t, span);
        // Every task alive over the whole range: the states add up to its length each.
        let alive: Vec<_> = t
            .model
            .task_ixs()
            .filter(|&i| t.model.tasks[i.index()].lifetime(t.model.end).overlap(span) > 0)
            .collect();
        assert_eq!(r.tasks, alive.len());
        let want: u64 = alive
            .iter()
            .map(|&i| t.model.tasks[i.index()].lifetime(t.model.end).overlap(span))
            .sum();
        assert_eq!(r.totals.total(), want);
        // Worker 0 ran each of its 6 tasks once in the round.
        let w0 = &r.threads[0];
        assert!(w0.label.starts_with("worker 0"));
        assert_eq!(w0.busy, 6 * s.poll_ns);
        assert!(w0.idle > 0 && w0.busy + w0.idle <= span.len());
        // Worker 0's 6 tasks each ran one poll in the range, worker 1's overlapping ones too.
        assert!(r.totals.running >= 6 * s.poll_ns);
    }
}
