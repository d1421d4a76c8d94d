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
        TaskState::NoData => "no data (its thread's data ends here)".into(),
        TaskState::Waiting(r) => format!("waiting ({})", wait_label(r)),
    }
}

/// A short name for the legend: "running", "sched wait", "wait: timer", "paused".
pub fn short_state_label(state: TaskState) -> String {
    match state {
        TaskState::Running => "running".into(),
        TaskState::SchedWait => "sched wait".into(),
        TaskState::Paused => "paused".into(),
        TaskState::NoData => "no data".into(),
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

/// `text` shortened in the middle until `fits` accepts it, so a path keeps its file, line
/// and whatever follows (`…/blocking.rs:94:4 (12 tasks)`, `…ing.rs:94:4 #930`): the start
/// of a path says least. Keeps as much of the start as fits before the last `/`'s file name;
/// when even that is too long, keeps the end. `""` when not even `…` fits.
///
/// ```
/// use trace_viewer::app::labels::elide_middle;
/// let fits = |s: &str| s.chars().count() <= 32;
/// assert_eq!(
///     elide_middle("examples/src/bin/blocking.rs:94:4 (12 tasks)", fits),
///     "exa…/blocking.rs:94:4 (12 tasks)"
/// );
/// ```
pub fn elide_middle(text: &str, fits: impl Fn(&str) -> bool) -> String {
    if fits(text) {
        return text.to_string();
    }
    let cuts: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    // The file name: from the last `/` before any ` (` / ` #` suffix.
    let path_end = text
        .find(" (")
        .or_else(|| text.find(" #"))
        .unwrap_or(text.len());
    let tail = text[..path_end].rfind('/').unwrap_or(0);
    let with_head = |k: usize| format!("{}…{}", &text[..cuts[k]], &text[tail..]);
    let head_cuts = cuts.partition_point(|&c| c < tail);
    if tail > 0 && fits(&with_head(0)) {
        // The longest start that fits (fits is monotone in the length).
        let (mut lo, mut hi) = (0, head_cuts.saturating_sub(1));
        while lo < hi {
            let mid = (lo + hi).div_ceil(2);
            if fits(&with_head(mid)) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return with_head(lo);
    }
    // Keep the longest end that fits.
    let with_end = |k: usize| format!("…{}", &text[cuts[k]..]);
    let n = cuts.len() - 1;
    let (mut lo, mut hi) = (0, n);
    // The smallest k (longest end) that fits; `n` leaves only "…".
    if !fits(&with_end(n)) {
        return String::new();
    }
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fits(&with_end(mid)) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    with_end(lo)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(n: usize) -> impl Fn(&str) -> bool {
        move |s: &str| s.chars().count() <= n
    }

    #[test]
    fn a_path_keeps_its_file_line_and_suffix() {
        let s = "examples/src/bin/blocking.rs:94:4 (12 tasks)";
        assert_eq!(elide_middle(s, chars(100)), s);
        let e = elide_middle(s, chars(32));
        assert_eq!(e, "exa…/blocking.rs:94:4 (12 tasks)");
        let e = elide_middle(s, chars(27));
        assert!(e.ends_with(":94:4 (12 tasks)") && e.starts_with('…'), "{e}");
        assert_eq!(e.chars().count(), 27);
        // A task label: name and id kept.
        let e = elide_middle("examples/blocking.rs:94:4 #930", chars(16));
        assert_eq!(e, "…ng.rs:94:4 #930");
        assert_eq!(elide_middle("abc", chars(0)), "");
        assert_eq!(elide_middle("abcdef", chars(3)), "…ef");
    }
}
