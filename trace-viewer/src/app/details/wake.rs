//! Wakes behind the selection: the wake that ended a wait, the wake that readied a poll,
//! and the link from one to the other that the timeline draws as an arrow.

use crate::app::open_trace::OpenTrace;
use crate::app::view::Selection;
use trace_analysis::analysis::states::TaskState;
use trace_analysis::model::{Nanos, Span, TaskIx, ThreadIx, Wake};

/// The wake that ended a wait of `task` that ran until `end`: the first wake of the task at
/// or after `start` and at or before `end`.
pub fn wake_ending(trace: &OpenTrace, task: TaskIx, span: Span) -> Option<Wake> {
    let wakes = trace.model.task_wakes(task);
    let i = wakes.partition_point(|w| w.time < span.start);
    wakes.get(i).filter(|w| w.time <= span.end).copied()
}

/// The wake that made poll `poll` runnable: the task's last wake at or before the poll's
/// start, and after its previous poll started (a wake during a poll readies the next one).
/// `None` for a first poll (made runnable by its spawn) or without wake events.
pub fn wake_before_poll(trace: &OpenTrace, poll: u32) -> Option<Wake> {
    let model = &trace.model;
    let p = model.polls[poll as usize];
    let previous = model
        .task_polls(p.task)
        .take_while(|q| q.start < p.start)
        .last()
        .map(|q| q.start);
    let wakes = model.task_wakes(p.task);
    let i = wakes.partition_point(|w| w.time <= p.start);
    let w = *wakes[..i].last()?;
    previous.is_none_or(|s| w.time >= s).then_some(w)
}

/// A wake and what it made runnable, for the arrow between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WakeLink {
    /// The wake: it starts on its thread's lane (else on the waker task's lane) at its time.
    pub wake: Wake,
    /// Where the arrow ends.
    pub to: WakeTarget,
    /// When.
    pub to_time: Nanos,
}

/// Where a wake arrow ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WakeTarget {
    /// On a thread's lane: the poll the wake readied.
    Thread(ThreadIx),
    /// On a task's lane: the end of the wait the wake ended.
    Task(TaskIx),
}

/// The link of `selection`: the selected poll's wake (`woken`, to the poll's start on its
/// thread), or the wake that ended the selected wait (to the wait's end on the task's lane).
pub fn wake_link(
    trace: &OpenTrace,
    selection: Option<Selection>,
    woken: Option<Wake>,
) -> Option<WakeLink> {
    match selection? {
        Selection::Task { poll: Some(p), .. } => {
            let wake = woken?;
            let poll = trace.model.polls[p as usize];
            Some(WakeLink {
                wake,
                to: WakeTarget::Thread(poll.thread()),
                to_time: poll.start,
            })
        }
        Selection::Task {
            task,
            segment: Some((span, TaskState::Waiting(_))),
            ..
        } => {
            let wake = wake_ending(trace, task, span)?;
            Some(WakeLink {
                wake,
                to: WakeTarget::Task(task),
                to_time: span.end,
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::labels::state_label;
    use trace_analysis::analysis::states::WaitReason;
    use trace_analysis::synthetic::Synthetic;

    fn opened(s: &Synthetic) -> OpenTrace {
        OpenTrace::from_bytes(s.bytes())
    }

    #[test]
    fn the_wake_that_ended_a_wait_is_found() {
        let s = Synthetic::default();
        let t = opened(&s);
        let wake = t.model.task_wakes(TaskIx(0))[0];
        let found = wake_ending(&t, TaskIx(0), Span::new(wake.time - 10, wake.time + 10)).unwrap();
        assert_eq!(found, wake);
        assert!(wake_ending(&t, TaskIx(0), Span::new(0, 10)).is_none());
        assert_eq!(
            state_label(TaskState::Waiting(WaitReason::Timer)),
            "waiting (timer)"
        );
    }
}
