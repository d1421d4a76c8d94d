//! Task groups: the one definition of "tasks spawned at one place" that the breakdown, the
//! report, the window's timeline and its Tasks table all use, so a trace shows the same
//! groups with the same labels everywhere.
//!
//! A group is keyed by spawn location, task name and task kind ([`GroupKey`]): tasks
//! spawned at one line under two names, or as `spawn` and `spawn_blocking` where the
//! location is unknown, are different groups. Groups are listed in order of their first
//! task, and each group's tasks in the order the model lists them (spawned tasks by spawn
//! time, then those spawned before the recording).
//!
//! When a library spawns every task at one line (a server's connections), group by what
//! the tasks serve instead ([`GroupBy`]): by task name, or by root region — the root
//! `tracing` span a task entered first, named with its low-cardinality fields
//! (`request method=GET route=/users`). Tasks without a name (or a region) keep their
//! spawn-location group.

use std::collections::HashMap;
use std::ops::Deref;

use trace_format::{LocationId, StringId, TaskKind};

use crate::model::{Model, TaskIx};

/// What groups tasks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    /// Spawn location, name and kind (the default).
    #[default]
    Location,
    /// Task name (`tokio::task::Builder::name`), else location.
    Name,
    /// Root region (the root `tracing` span the task entered first, with its fields),
    /// else location.
    Region,
}

impl GroupBy {
    /// `location`, `name` or `region`.
    ///
    /// ```
    /// use trace_analysis::analysis::groups::GroupBy;
    /// assert_eq!(GroupBy::parse("region"), Some(GroupBy::Region));
    /// assert_eq!(GroupBy::parse("spawn"), None);
    /// ```
    pub fn parse(s: &str) -> Option<GroupBy> {
        match s {
            "location" => Some(GroupBy::Location),
            "name" => Some(GroupBy::Name),
            "region" => Some(GroupBy::Region),
            _ => None,
        }
    }

    /// How a report heading names the grouping.
    pub fn heading(self) -> &'static str {
        match self {
            GroupBy::Location => "spawn location",
            GroupBy::Name => "task name (else spawn location)",
            GroupBy::Region => "root region (else spawn location)",
        }
    }
}

/// What tasks share to be in one group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupKey {
    /// Where they were spawned ([`LocationId::NONE`]: unknown).
    pub location: LocationId,
    /// The name given at spawn ([`StringId::NONE`]: none).
    pub name: StringId,
    /// How they were spawned (`None`: the spawn is not in the trace).
    pub kind: Option<TaskKind>,
    /// Grouped by root region ([`GroupBy::Region`]): which one (from 1); 0 otherwise.
    pub region: u32,
}

/// Tasks spawned at one place, with one name and kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskGroup {
    /// What its tasks share.
    pub key: GroupKey,
    /// `file:line:col`; without a known location the name, else what kind of task it is
    /// (`block_on`, `spawn_blocking <unknown location>`, `<spawn not recorded>`,
    /// `<unknown location>`).
    pub label: String,
    /// Its tasks, in the order the model lists them (never empty).
    pub tasks: Vec<TaskIx>,
}

/// Every task of a trace in its group. Derefs to the groups, in order of their first task.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TaskGroups {
    groups: Vec<TaskGroup>,
    /// Per task: the index of its group.
    group_of: Vec<u32>,
}

impl TaskGroups {
    /// Groups the tasks of `model`.
    ///
    /// ```
    /// use trace_analysis::analysis::groups::TaskGroups;
    /// use trace_analysis::model::{Model, TaskIx};
    /// use trace_format::build::TraceBuilder;
    /// use trace_format::{Event, LocationId, StringId, TaskId, TaskKind};
    ///
    /// let mut b = TraceBuilder::new();
    /// b.location(1, "src/server.rs", 12, 9);
    /// for task in 1..=3 {
    ///     let spawn = Event::TaskSpawn {
    ///         task: TaskId(task),
    ///         kind: TaskKind::Async,
    ///         tokio_id: task,
    ///         parent: TaskId::NONE,
    ///         location: LocationId(1),
    ///         name: StringId::NONE,
    ///     };
    ///     b.push(1, 10 * task, spawn);
    /// }
    /// let trace = trace_format::Trace::from_bytes(b.to_bytes())?;
    /// let model = Model::build(&trace)?;
    /// let groups = TaskGroups::of(&model);
    /// assert_eq!(groups.len(), 1);
    /// assert_eq!(groups[0].label, "src/server.rs:12:9");
    /// assert_eq!(groups[0].tasks, [TaskIx(0), TaskIx(1), TaskIx(2)]);
    /// assert_eq!(groups.group_of(TaskIx(2)), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn of(model: &Model) -> TaskGroups {
        TaskGroups::by(model, GroupBy::Location)
    }

    /// Groups the tasks of `model` by `by` (see [`GroupBy`]).
    pub fn by(model: &Model, by: GroupBy) -> TaskGroups {
        let regions = match by {
            GroupBy::Region => root_regions(model),
            _ => RootRegions::default(),
        };
        let mut index: HashMap<GroupKey, u32> = HashMap::new();
        let mut groups: Vec<TaskGroup> = Vec::new();
        let mut group_of = Vec::with_capacity(model.tasks.len());
        for (ix, t) in model.tasks.iter().enumerate() {
            let mut key = GroupKey {
                location: t.location,
                name: t.name,
                kind: t.kind,
                region: 0,
            };
            if by == GroupBy::Name && t.name != StringId::NONE {
                key.location = LocationId::NONE;
            }
            if let Some(&r) = regions.of_task.get(&TaskIx(ix as u32)) {
                key = GroupKey {
                    location: LocationId::NONE,
                    name: StringId::NONE,
                    kind: None,
                    region: r,
                };
            }
            let g = *index.entry(key).or_insert_with(|| {
                let label = match key.region {
                    0 => label(model, key),
                    r => regions.labels[r as usize - 1].clone(),
                };
                groups.push(TaskGroup {
                    key,
                    label,
                    tasks: Vec::new(),
                });
                groups.len() as u32 - 1
            });
            groups[g as usize].tasks.push(TaskIx(ix as u32));
            group_of.push(g);
        }
        TaskGroups { groups, group_of }
    }

    /// The index of the group of `task`.
    ///
    /// # Panics
    ///
    /// When `task` is not a task of the model the groups were made of.
    pub fn group_of(&self, task: TaskIx) -> usize {
        self.group_of[task.index()] as usize
    }

    /// The groups, in order of their first task.
    pub fn as_slice(&self) -> &[TaskGroup] {
        &self.groups
    }
}

impl Deref for TaskGroups {
    type Target = [TaskGroup];

    fn deref(&self) -> &[TaskGroup] {
        &self.groups
    }
}

/// Each task's root region (an index from 1 into `labels`), for tasks that entered a span.
#[derive(Default)]
struct RootRegions {
    of_task: HashMap<TaskIx, u32>,
    labels: Vec<String>,
}

/// The root span each task entered first, labelled `name field=value …` with the
/// low-cardinality fields of that name's root spans (as `regions` groups by default).
fn root_regions(model: &Model) -> RootRegions {
    let root = |mut ix: usize| {
        while let Some(p) = model.spans[ix].parent {
            ix = p as usize;
        }
        ix
    };
    // Each task's first span (spans are in creation order), and its root.
    let mut first: HashMap<TaskIx, usize> = HashMap::new();
    for (ix, s) in model.spans.iter().enumerate() {
        if s.task != TaskIx::NONE {
            first.entry(s.task).or_insert_with(|| root(ix));
        }
    }
    let mut by_name: HashMap<&str, Vec<&crate::model::SpanRegion>> = HashMap::new();
    for &r in first.values() {
        let s = &model.spans[r];
        by_name.entry(model.string(s.name)).or_default().push(s);
    }
    let fields: HashMap<&str, Vec<String>> = by_name
        .iter()
        .map(|(&name, spans)| (name, super::regions::low_cardinality_fields(model, spans)))
        .collect();
    let mut out = RootRegions::default();
    let mut label_ix: HashMap<String, u32> = HashMap::new();
    let mut tasks: Vec<(TaskIx, usize)> = first.into_iter().collect();
    tasks.sort();
    for (task, r) in tasks {
        let s = &model.spans[r];
        let name = model.string(s.name);
        let mut label = format!("region {name}");
        for f in &fields[name] {
            let value = super::regions::span_value(model, s, f).unwrap_or("-");
            label += &format!(" {f}={value}");
        }
        let next = label_ix.len() as u32 + 1;
        let ix = *label_ix.entry(label.clone()).or_insert_with(|| {
            out.labels.push(label);
            next
        });
        out.of_task.insert(task, ix);
    }
    out
}

/// A group's label: its spawn location; without one its tasks' name, else their kind.
fn label(model: &Model, key: GroupKey) -> String {
    if key.location != LocationId::NONE {
        return model.location_label(key.location);
    }
    let name = model.string(key.name);
    if !name.is_empty() {
        return name.to_string();
    }
    match key.kind {
        Some(TaskKind::BlockOn) => "block_on".into(),
        Some(TaskKind::Blocking) => "spawn_blocking <unknown location>".into(),
        None => "<spawn not recorded>".into(),
        Some(TaskKind::Async | TaskKind::Local) => "<unknown location>".into(),
    }
}

#[cfg(test)]
mod tests {
    use trace_format::{Trace, text};

    use super::*;

    fn groups(trace: &str) -> (Model, TaskGroups) {
        let model =
            Model::build(&Trace::from_bytes(text::undump(trace).unwrap()).unwrap()).unwrap();
        let groups = TaskGroups::of(&model);
        (model, groups)
    }

    #[test]
    fn groups_key_on_location_name_and_kind_in_order_of_first_task() {
        let (model, g) = groups(
            "location id=1 file=\"src/a.rs\" line=10 column=5\n\
             location id=2 file=\"src/b.rs\" line=20 column=9\n\
             string id=7 text=\"accept\"\n\
             1 10 task_spawn task=1 kind=async tokio_id=1 parent=0 location=2 name=0\n\
             1 20 task_spawn task=2 kind=async tokio_id=2 parent=0 location=1 name=0\n\
             1 30 task_spawn task=3 kind=async tokio_id=3 parent=0 location=2 name=0\n\
             1 40 task_spawn task=4 kind=async tokio_id=4 parent=0 location=2 name=7\n\
             1 50 task_spawn task=5 kind=async tokio_id=5 parent=0 location=0 name=7\n\
             1 60 task_spawn task=6 kind=async tokio_id=6 parent=0 location=0 name=0\n\
             1 70 task_spawn task=7 kind=blocking tokio_id=7 parent=0 location=0 name=0\n\
             1 80 task_spawn task=8 kind=block_on tokio_id=8 parent=0 location=0 name=0\n\
             1 90 poll_start task=9\n\
             1 95 poll_end ready=true\n\
             end\n",
        );
        let got: Vec<(&str, Vec<u32>)> = g
            .iter()
            .map(|g| (g.label.as_str(), g.tasks.iter().map(|t| t.0).collect()))
            .collect();
        assert_eq!(
            got,
            [
                ("src/b.rs:20:9", vec![0, 2]),
                ("src/a.rs:10:5", vec![1]),
                ("src/b.rs:20:9", vec![3]),
                ("accept", vec![4]),
                ("<unknown location>", vec![5]),
                ("spawn_blocking <unknown location>", vec![6]),
                ("block_on", vec![7]),
                ("<spawn not recorded>", vec![8]),
            ]
        );
        assert_eq!(g[3].key.name, model.tasks[3].name);
        for (gi, group) in g.iter().enumerate() {
            for &t in &group.tasks {
                assert_eq!(g.group_of(t), gi);
            }
        }
        assert_eq!(g.as_slice().len(), 8);
    }

    #[test]
    fn grouped_by_name_named_tasks_join_across_locations_and_the_rest_keep_theirs() {
        let model = Model::build(
            &Trace::from_bytes(
                text::undump(
                    "location id=1 file=\"src/a.rs\" line=10 column=5\n\
                     location id=2 file=\"src/b.rs\" line=20 column=9\n\
                     string id=7 text=\"conn\"\n\
                     1 10 task_spawn task=1 kind=async tokio_id=1 parent=0 location=1 name=7\n\
                     1 20 task_spawn task=2 kind=async tokio_id=2 parent=0 location=2 name=7\n\
                     1 30 task_spawn task=3 kind=async tokio_id=3 parent=0 location=2 name=0\n\
                     end\n",
                )
                .unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        let g = TaskGroups::by(&model, GroupBy::Name);
        let got: Vec<(&str, usize)> = g
            .iter()
            .map(|g| (g.label.as_str(), g.tasks.len()))
            .collect();
        assert_eq!(got, [("conn", 2), ("src/b.rs:20:9", 1)]);
        // Without spans, grouping by region is grouping by location.
        assert_eq!(
            TaskGroups::by(&model, GroupBy::Region).as_slice(),
            TaskGroups::of(&model).as_slice()
        );
    }
}
