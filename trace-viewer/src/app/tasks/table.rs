//! The task breakdown table (Go's "goroutine analysis"): one row per task group (spawn
//! location, name and kind), from [`Breakdown`] and the groups' [`GroupPolls`], with sorting
//! and a filter — pure, so tests check the order without a window.

use trace_analysis::analysis::breakdown::Breakdown;
use trace_analysis::analysis::poll_stats::GroupPolls;
use trace_analysis::analysis::states::{TaskState, WaitReason};
use trace_analysis::model::{Nanos, TaskIx};

/// A column of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// Spawn location (or name).
    Group,
    /// Number of tasks.
    Tasks,
    /// Tasks alive at the end.
    Alive,
    /// Polls, all tasks.
    Polls,
    /// Mean poll duration.
    MeanPoll,
    /// 99th percentile of the poll durations.
    P99Poll,
    /// Longest poll.
    MaxPoll,
    /// Running time, all tasks.
    Running,
    /// Scheduler wait.
    SchedWait,
    /// Waiting, any reason.
    Waiting,
    /// Paused.
    Paused,
    /// Lifetime (the sum of the states).
    Lifetime,
    /// Estimated bytes allocated in the group's polls.
    Allocated,
    /// CPU time sampled in the group's polls.
    Cpu,
    /// Stalled-poll time sampled in the group's polls.
    Stalled,
}

impl Column {
    /// Every column, in display order.
    pub const ALL: [Column; 15] = [
        Column::Group,
        Column::Tasks,
        Column::Alive,
        Column::Polls,
        Column::MeanPoll,
        Column::P99Poll,
        Column::MaxPoll,
        Column::Running,
        Column::SchedWait,
        Column::Waiting,
        Column::Paused,
        Column::Lifetime,
        Column::Allocated,
        Column::Cpu,
        Column::Stalled,
    ];

    /// The columns shown: all but the CPU and stall columns when the trace has no such
    /// samples (`cpu`, `stall`), where they would read as "none of the time".
    pub fn shown(cpu: bool, stall: bool) -> Vec<Column> {
        Column::ALL
            .into_iter()
            .filter(|&c| match c {
                Column::Cpu => cpu,
                Column::Stalled => stall,
                _ => true,
            })
            .collect()
    }

    /// Its header.
    pub fn title(self) -> &'static str {
        match self {
            Column::Group => "spawned at",
            Column::Tasks => "tasks",
            Column::Alive => "alive",
            Column::Polls => "polls",
            Column::Running => "running",
            Column::SchedWait => "sched wait",
            Column::Waiting => "waiting",
            Column::Paused => "paused",
            Column::Lifetime => "lifetime",
            Column::MeanPoll => "mean poll",
            Column::P99Poll => "p99 poll",
            Column::MaxPoll => "max poll",
            Column::Allocated => "allocated",
            Column::Cpu => "CPU",
            Column::Stalled => "stalled",
        }
    }

    /// What it means (the header's tooltip).
    pub fn help(self) -> &'static str {
        match self {
            Column::Group => "what groups the tasks; click to show them in the timeline",
            Column::Tasks => "tasks in the group",
            Column::Alive => "tasks alive at the end of the trace (and leak suspects)",
            Column::Polls => "polls of the group's tasks",
            Column::MeanPoll => "mean duration of the group's polls",
            Column::P99Poll => "99th percentile of the group's poll durations (nearest rank)",
            Column::MaxPoll => "the group's longest poll",
            Column::Running => "time in polls, summed over the tasks",
            Column::SchedWait => "time runnable but not polled, summed over the tasks",
            Column::Waiting => "time waiting for a wake, any source, summed over the tasks",
            Column::Paused => "time inside process-wide pauses, summed over the tasks",
            Column::Lifetime => "spawn to terminate (or the trace's end), summed over the tasks",
            Column::Allocated => {
                "bytes allocated in the group's polls, estimated from the allocation samples"
            }
            Column::Cpu => "CPU time sampled in the group's polls",
            Column::Stalled => {
                "time the group's polls ran past the stall threshold, from the stall samples"
            }
        }
    }

    /// True for the columns that hold a size in bytes (the others hold a count or a time).
    pub fn is_bytes(self) -> bool {
        self == Column::Allocated
    }

    /// True for the columns that hold a count.
    pub fn is_count(self) -> bool {
        matches!(self, Column::Tasks | Column::Alive | Column::Polls)
    }
}

/// One group of tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// "file:line:col", or the name.
    pub label: String,
    /// `async`, `blocking`, …
    pub kind: &'static str,
    /// Tasks.
    pub tasks: u64,
    /// Alive at the end.
    pub alive: u64,
    /// Leak suspects among them.
    pub leak_suspects: u64,
    /// Polls.
    pub polls: u64,
    /// Poll durations: mean (rounded), p99 and max, in ns.
    pub poll_mean: Nanos,
    /// 99th percentile poll duration.
    pub poll_p99: Nanos,
    /// Longest poll.
    pub poll_max: Nanos,
    /// Estimated bytes allocated.
    pub allocated: u64,
    /// Sampled CPU time.
    pub cpu: Nanos,
    /// Sampled stalled-poll time.
    pub stalled: Nanos,
    /// Time per state, summed over the tasks, in legend order (running, sched wait, the
    /// wait reasons, paused).
    pub states: Vec<(TaskState, Nanos)>,
    /// The group's first task (to find it in the timeline).
    pub first_task: Option<TaskIx>,
}

impl Row {
    /// Time in `state`.
    pub fn time(&self, state: TaskState) -> Nanos {
        self.states
            .iter()
            .find(|(s, _)| *s == state)
            .map_or(0, |(_, ns)| *ns)
    }

    /// Waiting, any reason.
    pub fn waiting(&self) -> Nanos {
        self.states
            .iter()
            .filter(|(s, _)| matches!(s, TaskState::Waiting(_)))
            .map(|(_, ns)| ns)
            .sum()
    }

    /// The sum of the states.
    pub fn lifetime(&self) -> Nanos {
        self.states.iter().map(|(_, ns)| ns).sum()
    }

    /// The value of column `c` (0 for the group's label).
    pub fn key(&self, c: Column) -> u64 {
        match c {
            Column::Group => 0,
            Column::Tasks => self.tasks,
            Column::Alive => self.alive,
            Column::Polls => self.polls,
            Column::MeanPoll => self.poll_mean,
            Column::P99Poll => self.poll_p99,
            Column::MaxPoll => self.poll_max,
            Column::Allocated => self.allocated,
            Column::Cpu => self.cpu,
            Column::Stalled => self.stalled,
            Column::Running => self.time(TaskState::Running),
            Column::SchedWait => self.time(TaskState::SchedWait),
            Column::Waiting => self.waiting(),
            Column::Paused => self.time(TaskState::Paused),
            Column::Lifetime => self.lifetime(),
        }
    }
}

/// The rows of `b`, in its order (by running time); `polls[i]` holds the poll figures of
/// `b.groups[i]` (zero when missing).
pub fn rows(b: &Breakdown, polls: &[GroupPolls]) -> Vec<Row> {
    let none = GroupPolls::default();
    b.groups
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let p = polls.get(i).unwrap_or(&none);
            let mut states = vec![
                (TaskState::Running, g.total("running")),
                (TaskState::SchedWait, g.total("sched_wait")),
            ];
            for r in WaitReason::ALL {
                let name = TaskState::Waiting(r).name();
                states.push((TaskState::Waiting(r), g.total(name)));
            }
            states.push((TaskState::Paused, g.total("paused")));
            Row {
                label: g.label.clone(),
                kind: g.kind,
                tasks: g.tasks,
                alive: g.alive_at_end,
                leak_suspects: g.leak_suspects,
                polls: g.polls.total,
                poll_mean: p.duration.mean.round() as Nanos,
                poll_p99: p.duration.p99,
                poll_max: p.duration.max,
                allocated: g.alloc_estimated_bytes,
                cpu: p.cpu_ns,
                stalled: p.stall_ns,
                states,
                first_task: g.task_ixs.first().copied(),
            }
        })
        .collect()
}

/// Sort order and filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableState {
    /// The column sorted by.
    pub sort: Column,
    /// Largest (or Z) first.
    pub descending: bool,
    /// Only rows whose label contains this (case-insensitive).
    pub filter: String,
}

impl Default for TableState {
    /// By running time, largest first, no filter.
    fn default() -> Self {
        TableState {
            sort: Column::Running,
            descending: true,
            filter: String::new(),
        }
    }
}

impl TableState {
    /// A click on `c`'s header: sorts by it (numbers largest first, labels A to Z), or
    /// reverses the order when it already is the sort column.
    pub fn click_header(&mut self, c: Column) {
        if self.sort == c {
            self.descending = !self.descending;
        } else {
            self.sort = c;
            self.descending = c != Column::Group;
        }
    }

    /// The indexes of the rows to show, in order.
    pub fn view(&self, rows: &[Row]) -> Vec<usize> {
        let filter = self.filter.trim().to_lowercase();
        let mut ix: Vec<usize> = (0..rows.len())
            .filter(|&i| filter.is_empty() || rows[i].label.to_lowercase().contains(&filter))
            .collect();
        ix.sort_by(|&a, &b| {
            let (ra, rb) = (&rows[a], &rows[b]);
            let ord = match self.sort {
                Column::Group => ra.label.cmp(&rb.label),
                c => ra.key(c).cmp(&rb.key(c)),
            };
            let ord = if self.descending { ord.reverse() } else { ord };
            ord.then(a.cmp(&b))
        });
        ix
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(label: &str, tasks: u64, running: u64, waiting: u64) -> Row {
        Row {
            label: label.into(),
            kind: "async",
            tasks,
            alive: 0,
            leak_suspects: 0,
            polls: tasks * 2,
            poll_mean: running / (tasks * 2),
            poll_p99: running / tasks,
            poll_max: running,
            allocated: waiting * 1_000,
            cpu: 0,
            stalled: 0,
            states: vec![
                (TaskState::Running, running),
                (TaskState::Waiting(WaitReason::Io), waiting),
            ],
            first_task: None,
        }
    }

    #[test]
    fn headers_sort_and_reverse() {
        let rows = vec![
            row("src/b.rs:1:1", 5, 10, 100),
            row("src/a.rs:1:1", 50, 30, 1),
            row("src/c.rs:1:1", 1, 20, 50),
        ];
        let mut t = TableState::default();
        assert_eq!(t.view(&rows), [1, 2, 0], "by running, largest first");
        t.click_header(Column::Running);
        assert_eq!(t.view(&rows), [0, 2, 1]);
        t.click_header(Column::Tasks);
        assert_eq!(t.view(&rows), [1, 0, 2]);
        t.click_header(Column::Group);
        assert_eq!(t.view(&rows), [1, 0, 2], "A to Z");
        t.click_header(Column::Group);
        assert_eq!(t.view(&rows), [2, 0, 1]);
        t.click_header(Column::Waiting);
        assert_eq!(t.view(&rows), [0, 2, 1]);
        t.click_header(Column::Lifetime);
        assert_eq!(t.view(&rows), [0, 2, 1]);
        t.click_header(Column::MaxPoll);
        assert_eq!(t.view(&rows), [1, 2, 0], "longest poll first");
        t.click_header(Column::P99Poll);
        assert_eq!(t.view(&rows), [2, 0, 1], "p99: 20, 2, 0 ns");
        t.click_header(Column::Allocated);
        assert_eq!(t.view(&rows), [0, 2, 1]);
        t.click_header(Column::Allocated);
        assert_eq!(t.view(&rows), [1, 2, 0]);
    }

    #[test]
    fn cpu_and_stall_columns_only_with_their_samples() {
        let all = Column::shown(true, true);
        assert_eq!(all, Column::ALL);
        let none = Column::shown(false, false);
        assert!(!none.contains(&Column::Cpu) && !none.contains(&Column::Stalled));
        assert!(none.contains(&Column::P99Poll) && none.contains(&Column::Allocated));
        assert_eq!(Column::shown(false, true).len(), Column::ALL.len() - 1);
    }

    #[test]
    fn the_filter_matches_labels_ignoring_case() {
        let rows = vec![
            row("src/Server.rs:1:1", 1, 1, 1),
            row("src/db.rs:9:9", 1, 2, 1),
        ];
        let t = TableState {
            filter: " server ".into(),
            ..TableState::default()
        };
        assert_eq!(t.view(&rows), [0]);
        let t = TableState {
            filter: "nothing".into(),
            ..TableState::default()
        };
        assert!(t.view(&rows).is_empty());
    }

    #[test]
    fn rows_carry_every_state_of_the_breakdown() {
        use trace_analysis::analysis::breakdown::{Breakdown, BreakdownOptions};
        use trace_analysis::model::Model;
        use trace_analysis::synthetic::Synthetic;
        let s = Synthetic::default();
        let model = Model::build(&trace_format::Trace::from_bytes(s.bytes()).unwrap()).unwrap();
        let b = Breakdown::compute(&model, &BreakdownOptions::default());
        let polls = super::super::group_polls(&model, &b);
        let rows = rows(&b, &polls);
        assert_eq!(rows.len(), b.groups.len());
        for (r, g) in rows.iter().zip(&b.groups) {
            assert_eq!(r.lifetime(), g.total("lifetime"));
            assert_eq!(r.time(TaskState::Running), g.total("running"));
            assert_eq!(r.tasks, g.tasks);
            assert_eq!(r.allocated, g.alloc_estimated_bytes);
            // Each group's own polls: their count and the longest of them.
            let durations: Vec<u64> = g
                .task_ixs
                .iter()
                .flat_map(|&t| model.task_polls(t))
                .map(|p| p.span().len())
                .collect();
            assert_eq!(r.polls, durations.len() as u64);
            assert_eq!(r.poll_max, durations.iter().copied().max().unwrap_or(0));
            assert!(
                r.poll_p99 <= r.poll_max && r.poll_mean <= r.poll_max,
                "{r:?}"
            );
        }
        assert!(rows.iter().any(|r| r.poll_max > 0));
        let tasks: u64 = rows.iter().map(|r| r.tasks).sum();
        assert_eq!(tasks, u64::from(s.tasks) + 1);
    }
}
