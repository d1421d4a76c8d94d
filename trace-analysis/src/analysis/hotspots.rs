//! Hot spots: the report's answer to *which function* — the top functions by CPU (flat and
//! cumulative, as `pprof -top`), the stalled polls grouped by stack with their total and
//! worst stall, the allocation sites by estimated bytes, and each task group's top function.
//! Built on [`super::profile`].
//!
//! A stack's *site* is its innermost frame outside the standard library, the runtime and the
//! C library ([`profile::Function::is_library`]): the application function that called into the
//! sleep, the lock or the allocation. Stall and allocation stacks are grouped, and task
//! groups named, by their functions (lines left out), so the same call reached from two
//! addresses in one function is one entry.

use std::collections::HashMap;

use serde::Serialize;

use super::groups::TaskGroups;
use super::profile::{FrameTable, FunctionIx, Profile, SampleFilter};
use crate::model::{Model, Nanos, SampleKind};

/// How many entries each list keeps.
pub const TOP: usize = 10;
/// How many frames of a stack the report shows (innermost first, up to the site and its
/// caller).
const STACK_FRAMES: usize = 8;

/// A function and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionName {
    /// Demangled name (an address `0x…` when the recording did not resolve it).
    pub function: String,
    /// Source file and line of the frame (the first line met for a function), when known.
    pub file: Option<String>,
    /// 1-based line, 0 when unknown.
    pub line: u32,
}

/// One function of the CPU profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TopFunction {
    /// The function.
    #[serde(flatten)]
    pub name: FunctionName,
    /// CPU time with it innermost on the stack.
    pub flat_ns: Nanos,
    /// `flat_ns` as a share of all CPU samples (0..1).
    pub flat_share: f64,
    /// CPU time with it anywhere on the stack (once per stack).
    pub cum_ns: Nanos,
    /// `cum_ns` as a share (0..1).
    pub cum_share: f64,
}

/// The CPU part.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CpuTop {
    /// CPU samples.
    pub samples: u64,
    /// CPU time they stand for.
    pub total_ns: Nanos,
    /// The top functions by flat time.
    pub flat: Vec<TopFunction>,
    /// The top application functions (not [`Function::is_library`](super::profile::Function::is_library)) by cumulative time.
    pub cum: Vec<TopFunction>,
}

/// Stalled polls whose samples share one stack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StallStack {
    /// The stack's site (see the module docs).
    pub site: FunctionName,
    /// Its innermost frames, up to the site's caller.
    pub stack: Vec<String>,
    /// Stall time of its samples (each stall sample's share of its poll).
    pub total_ns: Nanos,
    /// The longest of the polls it was sampled in.
    pub worst_ns: Nanos,
    /// Polls it was sampled in.
    pub polls: u64,
    /// Its samples.
    pub samples: u64,
}

/// Sampled allocations with one stack.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AllocSite {
    /// The stack's site.
    pub site: FunctionName,
    /// Its innermost frames, up to the site's caller.
    pub stack: Vec<String>,
    /// Estimated bytes allocated (unbiased, like Go's `alloc_space`).
    pub bytes: u64,
    /// Estimated allocations.
    pub objects: u64,
    /// Samples.
    pub samples: u64,
}

/// A task group's top function.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupTop {
    /// The group's label (as in the breakdown).
    pub group: String,
    /// `"cpu"`, or `"stall"` for a group without CPU samples.
    pub by: SampleKind,
    /// The site with most of the group's samples of that kind.
    pub site: FunctionName,
    /// Its weight (ns).
    pub ns: Nanos,
    /// Its share of the group's samples of that kind (0..1).
    pub share: f64,
}

/// What the report says about code.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hotspots {
    /// CPU samples' top functions, or null without CPU samples.
    pub cpu: Option<CpuTop>,
    /// Stall samples.
    pub stall_samples: u64,
    /// Stalled polls grouped by stack, by total stall time (the top [`TOP`]).
    pub stalls: Vec<StallStack>,
    /// Allocation sites by estimated bytes (the top [`TOP`]).
    pub alloc_sites: Vec<AllocSite>,
    /// Each task group with samples: its top function (groups by their samples' weight, the
    /// top [`TOP`]).
    pub groups: Vec<GroupTop>,
    /// What to know to read them: how samples were taken, what is missing.
    pub notes: Vec<String>,
}

/// A stack, and whether it is an allocation's (the recorder's frames trimmed).
type Stack = (trace_format::StackId, bool);

/// A stack's functions (innermost first, lines dropped, repeats kept), their lines, and the
/// site's position among them.
type Resolved = (Vec<FunctionIx>, Vec<u32>, usize);

/// Stacks resolved to their functions and sites, each once.
struct Sites<'m> {
    model: &'m Model,
    frames: FrameTable,
    /// Per stack: its functions innermost first (lines dropped, repeats kept) and the site's
    /// position among them.
    stacks: HashMap<Stack, Resolved>,
}

impl<'m> Sites<'m> {
    fn new(model: &'m Model) -> Sites<'m> {
        Sites {
            model,
            frames: FrameTable::default(),
            stacks: HashMap::new(),
        }
    }

    /// The functions (innermost first), lines, and the site's position of `stack`; `trim`
    /// for allocation stacks ([`FrameTable::resolve`]).
    fn of(&mut self, stack: Stack) -> &Resolved {
        if !self.stacks.contains_key(&stack) {
            let path = self
                .frames
                .resolve(&self.model.code, stack.0, stack.1)
                .to_vec();
            let (functions, lines): (Vec<FunctionIx>, Vec<u32>) = path
                .iter()
                .rev()
                .map(|&f| {
                    let f = self.frames.frame(f);
                    (f.function, f.line)
                })
                .unzip();
            let site = functions
                .iter()
                .position(|&f| !self.frames.function(f).is_library())
                .unwrap_or(0);
            self.stacks.insert(stack, (functions, lines, site));
        }
        &self.stacks[&stack]
    }

    fn name(&self, f: FunctionIx, line: u32) -> FunctionName {
        let func = self.frames.function(f);
        FunctionName {
            function: func.name.clone(),
            file: func.file.clone(),
            line,
        }
    }

    fn site(&mut self, stack: Stack) -> FunctionName {
        let (functions, lines, site) = self.of(stack).clone();
        self.name(functions[site], lines[site])
    }

    /// The innermost frames up to the site's caller, at most [`STACK_FRAMES`].
    fn shown(&mut self, stack: Stack) -> Vec<String> {
        let (functions, _, site) = self.of(stack).clone();
        let n = (site + 2).min(functions.len()).min(STACK_FRAMES);
        functions[..n]
            .iter()
            .map(|&f| self.frames.function(f).name.clone())
            .collect()
    }

    /// The key stacks are grouped by: their functions.
    fn key(&mut self, stack: Stack) -> Vec<FunctionIx> {
        self.of(stack).0.clone()
    }
}

impl Hotspots {
    /// The hot spots of `model`.
    pub fn compute(model: &Model, groups: &TaskGroups) -> Hotspots {
        let mut sites = Sites::new(model);
        let mut notes = Vec::new();
        match model.code.sampling() {
            Some(s) => {
                notes.push(format!(
                    "CPU sampling: {} at {} Hz{}; stalled polls sampled past {}",
                    s.cpu_method,
                    s.cpu_hz,
                    if s.cpu_reason.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", s.cpu_reason)
                    },
                    if s.stall_threshold_ns == 0 {
                        "never (off)".into()
                    } else {
                        crate::units::format_duration(s.stall_threshold_ns)
                    }
                ));
                if s.lost_samples > 0 || s.truncated_stacks > 0 {
                    notes.push(format!(
                        "{} samples lost, {} stacks truncated",
                        s.lost_samples, s.truncated_stacks
                    ));
                }
            }
            None if model.samples.is_empty() => notes.push(
                "no stack samples: the recorder took none (recorded without stack \
                 sampling, or not on Linux)"
                    .into(),
            ),
            None => {}
        }
        if !model.samples.is_empty() && !model.code.has_symbols() {
            notes.push(
                "the trace holds no symbols: functions are addresses; name them with \
                 `trace-viewer symbolize FILE --binary PATH`"
                    .into(),
            );
        }
        Hotspots {
            cpu: cpu_top(model),
            stall_samples: count(model, SampleKind::Stall),
            stalls: stalls(model, &mut sites),
            alloc_sites: alloc_sites(model, &mut sites),
            groups: group_tops(model, groups, &mut sites),
            notes,
        }
    }
}

fn count(model: &Model, kind: SampleKind) -> u64 {
    model.samples.iter().filter(|s| s.kind == kind).count() as u64
}

fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

fn cpu_top(model: &Model) -> Option<CpuTop> {
    let p = Profile::build(model, &SampleFilter::new(SampleKind::Cpu));
    if p.total_samples() == 0 {
        return None;
    }
    // The first line each function is met at, for its file:line.
    let mut line_of: HashMap<FunctionIx, u32> = HashMap::new();
    for n in &p.nodes[1..] {
        let f = p.frames.frame(n.frame);
        line_of.entry(f.function).or_insert(f.line);
    }
    let total = p.total_weight();
    let row = |t: &super::profile::TopFunction| {
        let f = p.function(t.function);
        TopFunction {
            name: FunctionName {
                function: f.name.clone(),
                file: f.file.clone(),
                line: line_of.get(&t.function).copied().unwrap_or(0),
            },
            flat_ns: t.flat,
            flat_share: share(t.flat, total),
            cum_ns: t.cum,
            cum_share: share(t.cum, total),
        }
    };
    let mut top = p.top_functions();
    let flat = top
        .iter()
        .filter(|t| t.flat > 0)
        .take(TOP)
        .map(row)
        .collect();
    // By cum, the runtime's frames under every poll would fill the list at 100 %: it keeps
    // the application's functions.
    top.retain(|t| !p.function(t.function).is_library());
    top.sort_by_key(|t| {
        (
            std::cmp::Reverse(t.cum),
            std::cmp::Reverse(t.flat),
            t.function,
        )
    });
    let cum = top.iter().take(TOP).map(row).collect();
    Some(CpuTop {
        samples: p.total_samples(),
        total_ns: total,
        flat,
        cum,
    })
}

fn stalls(model: &Model, sites: &mut Sites<'_>) -> Vec<StallStack> {
    struct Agg {
        stack: Stack,
        total: u64,
        samples: u64,
        polls: Vec<u32>,
    }
    let mut by_key: HashMap<Vec<FunctionIx>, Agg> = HashMap::new();
    for s in model.samples.iter().filter(|s| s.kind == SampleKind::Stall) {
        let stack = (s.stack, false);
        let a = by_key.entry(sites.key(stack)).or_insert(Agg {
            stack,
            total: 0,
            samples: 0,
            polls: Vec::new(),
        });
        a.total += s.weight;
        a.samples += 1;
        if s.poll != crate::model::Sample::NO_POLL {
            a.polls.push(s.poll);
        }
    }
    let mut out: Vec<StallStack> = by_key
        .into_values()
        .map(|mut a| {
            a.polls.sort_unstable();
            a.polls.dedup();
            let worst = a
                .polls
                .iter()
                .map(|&p| model.polls[p as usize].span().len())
                .max()
                .unwrap_or(0);
            StallStack {
                site: sites.site(a.stack),
                stack: sites.shown(a.stack),
                total_ns: a.total,
                worst_ns: worst,
                polls: a.polls.len() as u64,
                samples: a.samples,
            }
        })
        .collect();
    out.sort_by(|a, b| (b.total_ns, b.samples, &a.stack).cmp(&(a.total_ns, a.samples, &b.stack)));
    out.truncate(TOP);
    out
}

fn alloc_sites(model: &Model, sites: &mut Sites<'_>) -> Vec<AllocSite> {
    let mut by_key: HashMap<Vec<FunctionIx>, (Stack, u64, f64, u64)> = HashMap::new();
    for s in model.samples.iter().filter(|s| s.kind == SampleKind::Alloc) {
        let stack = (s.stack, true);
        let a = by_key.entry(sites.key(stack)).or_insert((stack, 0, 0.0, 0));
        a.1 += s.weight;
        a.2 += s.objects();
        a.3 += 1;
    }
    let mut out: Vec<AllocSite> = by_key
        .into_values()
        .map(|(stack, bytes, objects, samples)| AllocSite {
            site: sites.site(stack),
            stack: sites.shown(stack),
            bytes,
            objects: objects.round() as u64,
            samples,
        })
        .collect();
    out.sort_by(|a, b| (b.bytes, &a.stack).cmp(&(a.bytes, &b.stack)));
    out.truncate(TOP);
    out
}

fn group_tops(model: &Model, groups: &TaskGroups, sites: &mut Sites<'_>) -> Vec<GroupTop> {
    // Per group and kind: the weight of each site function.
    let mut per: HashMap<(usize, SampleKind), HashMap<(FunctionIx, u32), u64>> = HashMap::new();
    for s in &model.samples {
        if s.kind == SampleKind::Alloc {
            continue;
        }
        let Some(task) = s.task.get() else { continue };
        let g = groups.group_of(task);
        let (functions, lines, site) = sites.of((s.stack, false));
        let key = (functions[*site], lines[*site]);
        *per.entry((g, s.kind)).or_default().entry(key).or_default() += s.weight;
    }
    let mut out = Vec::new();
    for (g, group) in groups.iter().enumerate() {
        let pick = [SampleKind::Cpu, SampleKind::Stall]
            .into_iter()
            .find_map(|k| per.get(&(g, k)).map(|m| (k, m)));
        let Some((by, m)) = pick else { continue };
        let total: u64 = m.values().sum();
        // Merge lines of one function for the choice; keep the heaviest line for display.
        let mut by_function: HashMap<FunctionIx, (u64, u32, u64)> = HashMap::new();
        for (&(f, line), &w) in m {
            let e = by_function.entry(f).or_insert((0, line, 0));
            e.0 += w;
            if w > e.2 {
                (e.1, e.2) = (line, w);
            }
        }
        let (&f, &(w, line, _)) = by_function
            .iter()
            .max_by_key(|(f, (w, _, _))| (*w, std::cmp::Reverse(**f)))
            .expect("a group with samples has a site");
        out.push(GroupTop {
            group: group.label.clone(),
            by,
            site: sites.name(f, line),
            ns: w,
            share: share(w, total),
        });
    }
    // CPU first, then by weight.
    out.sort_by(|a, b| (a.by, b.ns, &a.group).cmp(&(b.by, a.ns, &b.group)));
    out.truncate(TOP);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::profile::tests::code_model;

    #[test]
    fn the_report_names_the_functions_behind_cpu_stalls_and_allocations() {
        let m = code_model();
        let h = Hotspots::compute(&m, &TaskGroups::of(&m));
        let cpu = h.cpu.as_ref().unwrap();
        assert_eq!((cpu.samples, cpu.total_ns), (3, 30_000_000));
        let flat: Vec<_> = cpu
            .flat
            .iter()
            .map(|t| (t.name.function.as_str(), t.flat_ns))
            .collect();
        assert_eq!(
            flat,
            [
                ("app::burn", 20_000_000),
                ("std::thread::sleep", 10_000_000)
            ]
        );
        assert_eq!(cpu.flat[0].name.line, 12);
        let cum: Vec<_> = cpu
            .cum
            .iter()
            .map(|t| (t.name.function.as_str(), t.cum_ns))
            .collect();
        assert_eq!(cum[0], ("app::main", 30_000_000));
        assert_eq!(h.stall_samples, 2);
        assert_eq!(h.stalls.len(), 1);
        let s = &h.stalls[0];
        assert_eq!(s.site.function, "app::main");
        assert_eq!(s.stack, ["std::thread::sleep", "app::main"]);
        assert_eq!(
            (s.total_ns, s.worst_ns, s.polls, s.samples),
            (101, 101, 1, 2)
        );
        let a = &h.alloc_sites[0];
        assert_eq!(
            (a.site.function.as_str(), a.bytes, a.objects),
            ("app::concat", 100, 1)
        );
        // One group (both tasks spawned at one place): its top function is by CPU.
        assert_eq!(h.groups.len(), 1);
        let g = &h.groups[0];
        assert_eq!(
            (g.by, g.site.function.as_str(), g.ns, g.share),
            (SampleKind::Cpu, "app::burn", 20_000_000, 1.0)
        );
    }

    /// DWARF names inlined functions (and, in builds with line tables only, most others)
    /// without their path: `lock<…>`, `handle`. Such a frame is the application's or the
    /// library's by where its code is, not by a `::` inside its generic arguments.
    #[test]
    fn frames_named_without_their_path_are_judged_by_their_file() {
        let text = crate::analysis::profile::tests::CODE_TRACE
            .replace(
                "stack id=3 frames=0x40,0x50,0x20",
                "stack id=3 frames=0x40,0x60,0x50,0x20",
            )
            .replace(
                r#"function="app::main" file="src/main.rs""#,
                r#"function="handle" file="/home/u/app/src/main.rs""#,
            )
            .replace(
                r#"function="std::thread::sleep" file="std/src/thread.rs""#,
                r#"function="lock<std::collections::hash::map::HashMap<u64, app::Session>>" file="/rustc/0123abcd/library/std/src/sync/poison/mutex.rs""#,
            )
            .replace(
                r#"function="app::concat" file="src/main.rs" line=50 column=3"#,
                "function=\"render_page\" file=\"/home/u/app/src/main.rs\" line=50 column=3\n\
                 symbol addr=0x60 function=\"format_inner\" \
                 file=\"/rustc/0123abcd/library/alloc/src/fmt.rs\" line=5 column=1",
            )
            .replace("addresses=5 resolved_addresses=5", "addresses=6 resolved_addresses=6");
        let bytes = trace_format::text::undump(&text).unwrap();
        let m = Model::build(&trace_format::Trace::from_bytes(bytes).unwrap()).unwrap();
        let h = Hotspots::compute(&m, &TaskGroups::of(&m));
        assert_eq!(h.stalls[0].site.function, "handle");
        assert_eq!(h.stalls[0].site.line, 40);
        assert_eq!(h.alloc_sites[0].site.function, "render_page");
        let cum: Vec<_> = h
            .cpu
            .as_ref()
            .unwrap()
            .cum
            .iter()
            .map(|t| t.name.function.as_str())
            .collect();
        assert_eq!(cum, ["handle", "app::burn", "app::handler"]);
    }

    #[test]
    fn a_group_without_cpu_samples_is_named_by_its_stalls() {
        let text = crate::analysis::profile::tests::CODE_TRACE
            .replace("1 110 cpu_sample task=1 stack=1\n", "")
            .replace("1 120 cpu_sample task=1 stack=1\n", "");
        let bytes = trace_format::text::undump(&text).unwrap();
        let m = Model::build(&trace_format::Trace::from_bytes(bytes).unwrap()).unwrap();
        let h = Hotspots::compute(&m, &TaskGroups::of(&m));
        let g = &h.groups[0];
        assert_eq!(
            (g.by, g.site.function.as_str(), g.ns),
            (SampleKind::Stall, "app::main", 101)
        );
    }
}
