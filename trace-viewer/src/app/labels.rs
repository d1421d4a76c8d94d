//! Words for what the window shows: a name for each task state and wait reason, and for
//! what made a wake — the same in the lanes' legend, the tooltips, the Tasks table and the
//! details panel.

use trace_analysis::analysis::states::{TaskState, WaitReason};
use trace_format::WakeSource;

/// Who or what made a wake: "woken by the I/O driver", … (a task waker is a link instead).
pub fn wake_source_label(source: WakeSource) -> &'static str {
    match source {
        WakeSource::Task => "by a task",
        WakeSource::Io => "by the I/O driver",
        WakeSource::Timer => "by a timer",
        WakeSource::Blocking => "by the blocking pool",
        WakeSource::Foreign => "by a thread outside the runtime",
        WakeSource::SelfWake => "by itself (yield)",
        WakeSource::Unknown => "by something unknown",
    }
}

/// A human name for a state: "running", "scheduler wait", "waiting (timer)", "paused".
pub fn state_label(state: TaskState) -> String {
    match state {
        TaskState::Running => "running".into(),
        TaskState::SchedWait => "scheduler wait (runnable)".into(),
        TaskState::Paused => "paused (process-wide pause)".into(),
        TaskState::Waiting(r) => format!("waiting ({})", wait_label(r)),
    }
}

/// A short name for the legend: "running", "sched wait", "wait: timer", "paused".
pub fn short_state_label(state: TaskState) -> String {
    match state {
        TaskState::Running => "running".into(),
        TaskState::SchedWait => "sched wait".into(),
        TaskState::Paused => "paused".into(),
        TaskState::Waiting(r) => format!("wait: {}", r.name()),
    }
}

/// What woke a waiting task, in words.
pub fn wait_label(r: WaitReason) -> &'static str {
    match r {
        WaitReason::Task => "woken by a task",
        WaitReason::Io => "I/O",
        WaitReason::Timer => "timer",
        WaitReason::Blocking => "blocking pool",
        WaitReason::Foreign => "foreign thread",
        WaitReason::SelfWake => "self-wake / yield",
        WaitReason::Unknown => "unknown",
    }
}
