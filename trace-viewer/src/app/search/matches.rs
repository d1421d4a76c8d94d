//! Search (the `/` key): what matches a query — tasks by id (`930` or `#930`, as the report,
//! tooltips and details name them), name or spawn location, regions by name — and the next
//! or previous match in time from the current one.
//!
//! Matching is a case-insensitive substring test, done once per query on the distinct
//! names and locations (few) rather than on every task or region. Tasks that match are
//! listed, by start; regions are not (a trace can hold millions of them): the next one is
//! found from the current time by binary search in each thread's regions and a scan to the
//! first one whose name matches.

use std::collections::HashSet;

use crate::app::open_trace::OpenTrace;
use trace_analysis::model::{Nanos, Span, TaskIx, ThreadIx};

/// One thing found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A task.
    Task(TaskIx),
    /// A region: `region` indexes its thread's `Thread::regions`.
    Region {
        /// The thread.
        thread: ThreadIx,
        /// Which of its regions.
        region: u32,
    },
}

impl Found {
    /// What the timeline zooms to: the task's lifetime or the region.
    pub fn span(&self, trace: &OpenTrace) -> Span {
        let model = &trace.model;
        match *self {
            Found::Task(t) => model.tasks[t.index()].lifetime(model.end),
            Found::Region { thread, region } => {
                model.threads[thread.index()].regions[region as usize].span
            }
        }
    }

    /// The order of matches: by start, then tasks before regions, then by index.
    fn key(&self, trace: &OpenTrace) -> (Nanos, u8, u64) {
        let start = self.span(trace).start;
        match *self {
            Found::Task(t) => (start, 0, u64::from(t.0)),
            Found::Region { thread, region } => {
                (start, 1, u64::from(thread.0) << 32 | u64::from(region))
            }
        }
    }

    /// A line for the search bar: "task src/x.rs:10:5 #3" or "region parse on worker 0".
    pub fn describe(&self, trace: &OpenTrace) -> String {
        let model = &trace.model;
        match *self {
            Found::Task(t) => format!("task {}", model.task_label(t)),
            Found::Region { thread, region } => {
                let r = &model.threads[thread.index()].regions[region as usize];
                format!(
                    "region {} on {}",
                    model.string(r.name),
                    model.threads[thread.index()].label()
                )
            }
        }
    }
}

/// What a query matches.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Matches {
    /// The query, as typed.
    pub query: String,
    /// Matching tasks, by start (then index).
    pub tasks: Vec<TaskIx>,
    /// The tasks whose id the query is (`930` or `#930`): shown first.
    pub by_id: Vec<TaskIx>,
    /// Names of matching regions.
    region_names: HashSet<u32>,
    /// How many regions match.
    pub regions: usize,
}

impl Matches {
    /// Finds what `query` matches in `trace` (nothing for a blank query).
    pub fn find(trace: &OpenTrace, query: &str) -> Matches {
        let needle = query.trim().to_lowercase();
        let mut m = Matches {
            query: query.to_string(),
            ..Matches::default()
        };
        if needle.is_empty() {
            return m;
        }
        let model = &trace.model;
        // `#930` names a task by id only; a bare `930` may also be in a name or a location.
        let (id, only_id) = match needle.strip_prefix('#') {
            Some(rest) => (rest.trim().parse::<u64>().ok(), true),
            None => (needle.parse::<u64>().ok(), false),
        };
        if let Some(id) = id {
            m.by_id = (model.tasks.iter().enumerate())
                .filter(|(_, t)| t.id.0 == id)
                .map(|(ix, _)| TaskIx(ix as u32))
                .collect();
        }
        if only_id && id.is_some() {
            m.tasks = m.by_id.clone();
            return m;
        }
        let hit = |s: &str| s.to_lowercase().contains(&needle);
        // Decide once per distinct name and location.
        let mut names: std::collections::HashMap<u32, bool> = Default::default();
        let mut locations: std::collections::HashMap<u32, bool> = Default::default();
        for (ix, t) in model.tasks.iter().enumerate() {
            let by_name = *names
                .entry(t.name.0)
                .or_insert_with(|| hit(model.string(t.name)));
            let by_location = *locations
                .entry(t.location.0)
                .or_insert_with(|| hit(&model.location_label(t.location)));
            if by_name || by_location || m.by_id.contains(&TaskIx(ix as u32)) {
                m.tasks.push(TaskIx(ix as u32));
            }
        }
        m.tasks
            .sort_by_key(|&t| (model.tasks[t.index()].lifetime(model.end).start, t));
        let mut region_names: std::collections::HashMap<u32, bool> = Default::default();
        for th in &model.threads {
            for r in &th.regions {
                let yes = *region_names
                    .entry(r.name.0)
                    .or_insert_with(|| hit(model.string(r.name)));
                m.regions += usize::from(yes);
            }
        }
        m.region_names = region_names
            .into_iter()
            .filter_map(|(k, yes)| yes.then_some(k))
            .collect();
        m
    }

    /// Number of matches.
    pub fn len(&self) -> usize {
        self.tasks.len() + self.regions
    }

    /// True when nothing matches.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first match after `from` in time order (`backwards`: the last one before it),
    /// going round to the other end when there is none; when `from` is `None`, the task the
    /// query names by id, else the first (last) one.
    pub fn step(&self, trace: &OpenTrace, from: Option<Found>, backwards: bool) -> Option<Found> {
        if from.is_none()
            && let Some(&t) = self.by_id.first()
        {
            return Some(Found::Task(t));
        }
        let key = from.map(|f| f.key(trace));
        self.step_from(trace, key, backwards)
            .or_else(|| self.step_from(trace, None, backwards))
    }

    fn step_from(
        &self,
        trace: &OpenTrace,
        key: Option<(Nanos, u8, u64)>,
        backwards: bool,
    ) -> Option<Found> {
        let model = &trace.model;
        let after = |f: &Found| key.is_none_or(|k| f.key(trace) > k);
        let before = |f: &Found| key.is_none_or(|k| f.key(trace) < k);
        let mut best: Option<Found> = None;
        let mut consider = |f: Found| {
            let better = match best {
                None => true,
                Some(b) if backwards => f.key(trace) > b.key(trace),
                Some(b) => f.key(trace) < b.key(trace),
            };
            if better {
                best = Some(f);
            }
        };
        // Tasks: by binary search in the sorted list.
        let i = self.tasks.partition_point(|&t| !after(&Found::Task(t)));
        if backwards {
            let j = self.tasks.partition_point(|&t| before(&Found::Task(t)));
            if j > 0 {
                consider(Found::Task(self.tasks[j - 1]));
            }
        } else if let Some(&t) = self.tasks.get(i) {
            consider(Found::Task(t));
        }
        // Regions: from the current time on (or back), the first whose name matches.
        if self.region_names.is_empty() {
            return best;
        }
        for (th, thread) in model.threads.iter().enumerate() {
            let regions = &thread.regions;
            let found = |r: usize| Found::Region {
                thread: ThreadIx(th as u32),
                region: r as u32,
            };
            let matches = |r: usize| self.region_names.contains(&regions[r].name.0);
            if backwards {
                let end = key.map_or(regions.len(), |k| {
                    regions.partition_point(|r| r.span.start <= k.0)
                });
                if let Some(r) = (0..end).rev().find(|&r| matches(r) && before(&found(r))) {
                    consider(found(r));
                }
            } else {
                let start = key.map_or(0, |k| regions.partition_point(|r| r.span.start < k.0));
                if let Some(r) = (start..regions.len()).find(|&r| matches(r) && after(&found(r))) {
                    consider(found(r));
                }
            }
        }
        best
    }
}

/// The search bar's status: "12 matches (3 tasks, 9 regions) — showing …" with the match
/// shown (`current`, described), or "no match".
pub fn status(m: &Matches, current: Option<String>) -> String {
    if m.is_empty() {
        return "no match".into();
    }
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let counts = format!(
        "{} ({}, {})",
        plural(m.len(), "match", "matches"),
        plural(m.tasks.len(), "task", "tasks"),
        plural(m.regions, "region", "regions")
    );
    match current {
        Some(what) => format!("{counts} — showing {what}"),
        None => format!("{counts} — Enter shows the first"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trace_analysis::synthetic::{REGION_INNER, REGION_OUTER, Synthetic};

    fn opened(s: &Synthetic) -> OpenTrace {
        OpenTrace::from_bytes(s.bytes())
    }

    #[test]
    fn tasks_match_by_location_and_regions_by_name_ignoring_case() {
        let s = Synthetic {
            regions_every: 3,
            ..Synthetic::default()
        };
        let t = opened(&s);
        // Tasks 1, 4, 7, 10 are spawned at line 10.
        let m = Matches::find(&t, "SERVICE.rs:10:");
        assert_eq!(m.tasks.len(), 4);
        assert_eq!(m.regions, 0);
        assert!(
            m.tasks
                .iter()
                .all(|&x| t.model.tasks[x.index()].id.0 % 3 == 1)
        );
        let m = Matches::find(&t, REGION_INNER);
        assert!(m.tasks.is_empty());
        let regions: usize = t.model.threads.iter().map(|th| th.regions.len()).sum();
        assert_eq!(
            m.regions * 2,
            regions,
            "half the regions are the inner ones"
        );
        assert!(Matches::find(&t, "  ").is_empty());
        assert!(Matches::find(&t, "no such thing").is_empty());
    }

    #[test]
    fn stepping_visits_every_match_in_time_order_and_goes_round() {
        let s = Synthetic {
            regions_every: 4,
            ..Synthetic::default()
        };
        let t = opened(&s);
        // Regions named handle_request, and tasks spawned at line 20.
        for query in [REGION_OUTER, "service.rs:20"] {
            let m = Matches::find(&t, query);
            assert!(!m.is_empty());
            let mut seen = Vec::new();
            let mut cur = None;
            for _ in 0..m.len() {
                cur = m.step(&t, cur, false);
                seen.push(cur.unwrap());
            }
            let starts: Vec<Nanos> = seen.iter().map(|f| f.span(&t).start).collect();
            assert!(starts.windows(2).all(|w| w[0] <= w[1]), "{starts:?}");
            let mut unique = seen.clone();
            unique.dedup();
            assert_eq!(unique.len(), m.len(), "{query}: each match once");
            // Round to the first again; backwards from the first is the last.
            assert_eq!(m.step(&t, cur, false), Some(seen[0]));
            assert_eq!(m.step(&t, Some(seen[0]), true), Some(*seen.last().unwrap()));
            assert_eq!(m.step(&t, Some(seen[2]), true), Some(seen[1]));
        }
        assert!(Matches::find(&t, "nothing").step(&t, None, false).is_none());
    }

    #[test]
    fn a_task_id_finds_the_task_with_or_without_its_hash() {
        let t = opened(&Synthetic::default());
        let task = TaskIx(7);
        let id = t.model.tasks[task.index()].id.0;
        for query in [format!("{id}"), format!("#{id}"), format!("  # {id} ")] {
            let m = Matches::find(&t, &query);
            assert!(m.tasks.contains(&task), "{query:?}: {m:?}");
            assert_eq!(m.by_id, [task], "{query:?}");
            // Enter shows it first, whatever else the number is found in.
            assert_eq!(
                m.step(&t, None, false),
                Some(Found::Task(task)),
                "{query:?}"
            );
            assert!(
                m.step(&t, None, false)
                    .unwrap()
                    .describe(&t)
                    .ends_with(&format!("#{id}"))
            );
        }
        // `#` names an id only: no task is named or spawned at "#7".
        assert_eq!(Matches::find(&t, &format!("#{id}")).len(), 1);
        assert!(Matches::find(&t, "#999999").is_empty());
        assert!(Matches::find(&t, "#").is_empty());
    }

    #[test]
    fn the_status_counts_matches() {
        let t = opened(&Synthetic::default());
        let m = Matches::find(&t, "service.rs:10");
        assert_eq!(
            status(&m, None),
            "4 matches (4 tasks, 0 regions) — Enter shows the first"
        );
        let first = m.step(&t, None, false).unwrap();
        assert_eq!(
            status(&m, Some(first.describe(&t))),
            "4 matches (4 tasks, 0 regions) — showing task src/service.rs:10:5 #1"
        );
        assert_eq!(status(&Matches::find(&t, "zzz"), None), "no match");
    }
}
