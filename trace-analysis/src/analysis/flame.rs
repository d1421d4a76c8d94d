//! Flame graphs of a [`Profile`]: where each frame goes (its depth and its share of the
//! width), zoomed into any frame; which frames a search matches and how much weight they
//! hold; and the differential graph of two profiles (each frame's share of its profile
//! before and after). Drawing is left to the views: this module only says what to draw.
//!
//! Widths are weights: a frame spans its total weight over the zoomed frame's, and its
//! callees sit under it side by side, heaviest first, so self weight is the part of a
//! frame no callee covers. Frames narrower than the minimum width asked for are left out
//! with their callees, so the layout is bounded by what can be seen, not by the profile.
//!
//! ```
//! use trace_analysis::analysis::flame;
//! use trace_analysis::analysis::profile::{Profile, SampleFilter};
//! use trace_analysis::model::{Model, SampleKind};
//! # let mut b = trace_format::build::TraceBuilder::new();
//! # b.thread(1, "worker-0");
//! # let model = Model::build(&trace_format::Trace::from_bytes(b.to_bytes())?)?;
//! let profile = Profile::build(&model, &SampleFilter::new(SampleKind::Cpu));
//! // The whole profile on a graph 1000 pixels wide: frames under a pixel are left out.
//! let layout = flame::layout(&profile, flame::ROOT, 1.0 / 1000.0);
//! for r in &layout.rects {
//!     println!("depth {} from {:.3} to {:.3}", r.depth, r.x0, r.x1);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;

use super::profile::{Function, Profile};

/// The root node of a profile (every sample): zooming into it shows the whole profile.
pub const ROOT: u32 = 0;

/// A frame placed in the graph.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FlameRect {
    /// Its tree node in the profile ([`Profile::nodes`]).
    pub node: u32,
    /// Rows from the top: the root (every sample) is 0, its callees 1, …
    pub depth: u32,
    /// Left edge, as a fraction of the zoomed frame's total weight (0 to 1).
    pub x0: f64,
    /// Right edge, likewise.
    pub x1: f64,
}

/// What a flame graph draws.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FlameLayout {
    /// The frames: the zoomed frame's callers full width above it, the zoomed frame full
    /// width, and its callees under it; callers before callees.
    pub rects: Vec<FlameRect>,
    /// Rows needed (the deepest rect's depth + 1).
    pub rows: u32,
}

/// Lays out `profile` zoomed into node `zoom` ([`ROOT`]: all of it), leaving out frames
/// narrower than `min_width` (a fraction of the width, e.g. one pixel over the graph's
/// width) and their callees.
pub fn layout(profile: &Profile, zoom: u32, min_width: f64) -> FlameLayout {
    let zoom = if (zoom as usize) < profile.nodes.len() {
        zoom
    } else {
        ROOT
    };
    let mut out = FlameLayout::default();
    let total = profile.nodes[zoom as usize].total_weight;
    if total == 0 {
        return out;
    }
    // The callers, full width: clicking one zooms back out.
    let mut callers = Vec::new();
    let mut n = zoom;
    while n != ROOT {
        n = profile.nodes[n as usize].parent;
        callers.push(n);
    }
    for (depth, &node) in callers.iter().rev().enumerate() {
        out.rects.push(FlameRect {
            node,
            depth: depth as u32,
            x0: 0.0,
            x1: 1.0,
        });
    }
    let mut stack = vec![(zoom, callers.len() as u32, 0.0f64)];
    let scale = 1.0 / total as f64;
    while let Some((node, depth, x0)) = stack.pop() {
        let w = profile.nodes[node as usize].total_weight as f64 * scale;
        out.rects.push(FlameRect {
            node,
            depth,
            x0,
            x1: x0 + w,
        });
        out.rows = out.rows.max(depth + 1);
        let mut x = x0;
        for &c in profile.children_of(node) {
            let cw = profile.nodes[c as usize].total_weight as f64 * scale;
            // Children are heaviest first: the rest are narrower still.
            if cw < min_width {
                break;
            }
            stack.push((c, depth + 1, x));
            x += cw;
        }
    }
    out.rows = out.rows.max(callers.len() as u32 + 1);
    out
}

/// The share (0 to 1) of `profile`'s weight that node `node` holds, callees included.
pub fn share(profile: &Profile, node: u32) -> f64 {
    let total = profile.total_weight();
    if total == 0 {
        return 0.0;
    }
    profile.nodes[node as usize].total_weight as f64 / total as f64
}

/// What a search for a function name matches.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchMatch {
    /// Per node: whether its function's name contains the query.
    pub nodes: Vec<bool>,
    /// The weight of the samples with a matching function on their stack (each sample once,
    /// however many of its frames match).
    pub weight: u64,
    /// Matching nodes.
    pub count: usize,
}

/// Finds the frames whose function name contains `query` (ignoring case); an empty query
/// matches nothing.
pub fn search(profile: &Profile, query: &str) -> SearchMatch {
    let q = query.trim().to_lowercase();
    let mut out = SearchMatch {
        nodes: vec![false; profile.nodes.len()],
        weight: 0,
        count: 0,
    };
    if q.is_empty() {
        return out;
    }
    let matched: Vec<bool> = profile
        .frames
        .functions()
        .iter()
        .map(|f| f.name.to_lowercase().contains(&q))
        .collect();
    // Per node: a matching frame on its path (callers are created before callees).
    let mut covered = vec![false; profile.nodes.len()];
    for i in 1..profile.nodes.len() {
        let n = &profile.nodes[i];
        let hit = matched[profile.frames.frame(n.frame).function.0 as usize];
        let above = covered[n.parent as usize];
        out.nodes[i] = hit;
        covered[i] = hit || above;
        if hit {
            out.count += 1;
            if !above {
                out.weight += n.total_weight;
            }
        }
    }
    out
}

/// Two profiles compared frame by frame: a frame of the current profile is the same frame
/// of the baseline when its path from the root (function, file and line of each frame) is.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Diff {
    /// Per node of the current profile: its share of the baseline's weight (0 when the
    /// baseline never reached it).
    pub before: Vec<f64>,
    /// Per node of the current profile: its share of the current profile's weight.
    pub after: Vec<f64>,
    /// The share of the baseline's weight on paths the current profile does not have.
    pub gone: f64,
}

impl Diff {
    /// How node `node`'s share changed: after − before (−1 to 1).
    pub fn delta(&self, node: u32) -> f64 {
        self.after[node as usize] - self.before[node as usize]
    }

    /// The largest change of any frame (for colour scales), at least a tiny positive value.
    pub fn max_abs_delta(&self) -> f64 {
        (1..self.after.len())
            .map(|i| (self.after[i] - self.before[i]).abs())
            .fold(1e-12, f64::max)
    }
}

/// Compares `current` with `baseline` (shares, so profiles of different lengths compare).
pub fn diff(current: &Profile, baseline: &Profile) -> Diff {
    type Key<'a> = (u32, &'a Function, u32);
    // Every baseline node by its parent and its frame.
    let mut index: HashMap<Key<'_>, u32, foldhash::fast::RandomState> = HashMap::default();
    for (i, n) in baseline.nodes.iter().enumerate().skip(1) {
        let f = baseline.frames.frame(n.frame);
        index.insert((n.parent, baseline.function(f.function), f.line), i as u32);
    }
    let base_total = baseline.total_weight();
    let cur_total = current.total_weight();
    let frac = |w: u64, t: u64| if t == 0 { 0.0 } else { w as f64 / t as f64 };
    let mut matched: Vec<Option<u32>> = vec![None; current.nodes.len()];
    matched[0] = Some(0);
    let mut before = vec![0.0; current.nodes.len()];
    let mut after = vec![0.0; current.nodes.len()];
    let mut reached = vec![false; baseline.nodes.len()];
    reached[0] = true;
    for (i, n) in current.nodes.iter().enumerate() {
        after[i] = frac(n.total_weight, cur_total);
        if i == 0 {
            before[0] = if base_total > 0 { 1.0 } else { 0.0 };
            continue;
        }
        let f = current.frames.frame(n.frame);
        matched[i] = matched[n.parent as usize].and_then(|p| {
            index
                .get(&(p, current.function(f.function), f.line))
                .copied()
        });
        if let Some(b) = matched[i] {
            before[i] = frac(baseline.nodes[b as usize].total_weight, base_total);
            reached[b as usize] = true;
        }
    }
    // Baseline weight under frames the current profile never reached (each subtree once).
    let mut gone = 0u64;
    for (i, n) in baseline.nodes.iter().enumerate().skip(1) {
        if !reached[i] && reached[n.parent as usize] {
            gone += n.total_weight;
        }
    }
    Diff {
        before,
        after,
        gone: frac(gone, base_total),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::profile::SampleFilter;
    use crate::analysis::profile::tests::code_model;
    use crate::model::{Model, SampleKind, Span};

    fn name(p: &Profile, node: u32) -> &str {
        &p.function(p.node_frame(node).function).name
    }

    fn find(p: &Profile, path: &[&str]) -> u32 {
        let mut node = ROOT;
        for want in path {
            node = *p
                .children_of(node)
                .iter()
                .find(|&&c| name(p, c) == *want)
                .unwrap_or_else(|| panic!("no {want} under {node}"));
        }
        node
    }

    fn cpu(model: &Model) -> Profile {
        Profile::build(model, &SampleFilter::new(SampleKind::Cpu))
    }

    #[test]
    fn widths_are_weights_and_callees_sit_under_their_callers() {
        let m = code_model();
        let p = cpu(&m);
        let l = layout(&p, ROOT, 0.0);
        // 3 CPU samples: two in main > handler > burn, one in main > sleep.
        let main = find(&p, &["app::main"]);
        let burn = find(&p, &["app::main", "app::handler", "app::burn"]);
        let sleep = find(&p, &["app::main", "std::thread::sleep"]);
        let rect = |n: u32| *l.rects.iter().find(|r| r.node == n).unwrap();
        assert_eq!(
            (rect(ROOT).x0, rect(ROOT).x1, rect(ROOT).depth),
            (0.0, 1.0, 0)
        );
        assert_eq!(
            (rect(main).x0, rect(main).x1, rect(main).depth),
            (0.0, 1.0, 1)
        );
        let (b, s) = (rect(burn), rect(sleep));
        assert!((b.x1 - b.x0 - 2.0 / 3.0).abs() < 1e-12, "{b:?}");
        assert!((s.x1 - s.x0 - 1.0 / 3.0).abs() < 1e-12, "{s:?}");
        assert_eq!(b.depth, 3);
        assert_eq!(s.depth, 2);
        // Side by side under main, heaviest first, not overlapping.
        let h = rect(find(&p, &["app::main", "app::handler"]));
        assert!(h.x1 <= s.x0 + 1e-12, "{h:?} {s:?}");
        assert_eq!(l.rows, 4);
        assert_eq!(l.rects.len(), p.nodes.len());
        assert!((share(&p, burn) - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn frames_under_the_minimum_width_are_left_out_with_their_callees() {
        let m = code_model();
        let p = cpu(&m);
        let l = layout(&p, ROOT, 0.5);
        let names: Vec<&str> = l.rects.iter().skip(1).map(|r| name(&p, r.node)).collect();
        assert_eq!(names, ["app::main", "app::handler", "app::burn"]);
    }

    #[test]
    fn zooming_widens_a_frame_to_the_whole_graph_and_keeps_its_callers_above() {
        let m = code_model();
        let p = cpu(&m);
        let handler = find(&p, &["app::main", "app::handler"]);
        let l = layout(&p, handler, 0.0);
        let rows: Vec<(&str, u32, f64, f64)> = l
            .rects
            .iter()
            .map(|r| {
                let n = if r.node == ROOT {
                    "all"
                } else {
                    name(&p, r.node)
                };
                (n, r.depth, r.x0, r.x1)
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("all", 0, 0.0, 1.0),
                ("app::main", 1, 0.0, 1.0),
                ("app::handler", 2, 0.0, 1.0),
                ("app::burn", 3, 0.0, 1.0),
            ]
        );
        // Sleep is not under handler: gone from the zoomed graph. Back out: the root.
        assert_eq!(layout(&p, ROOT, 0.0).rects.len(), p.nodes.len());
        // A node that does not exist (a stale zoom) shows everything.
        assert_eq!(layout(&p, 9_999, 0.0).rects.len(), p.nodes.len());
    }

    #[test]
    fn search_marks_matching_frames_and_counts_each_sample_once() {
        let m = code_model();
        let p = cpu(&m);
        let s = search(&p, "APP::");
        // main, handler and burn match; the weight is every sample (all under main), once.
        assert_eq!(s.count, 3);
        assert_eq!(s.weight, p.total_weight());
        let s = search(&p, "burn");
        assert_eq!(s.count, 1);
        assert!(s.nodes[find(&p, &["app::main", "app::handler", "app::burn"]) as usize]);
        assert_eq!(s.weight * 3, p.total_weight() * 2);
        assert_eq!(search(&p, " ").count, 0);
        assert_eq!(search(&p, "nothing like it").weight, 0);
    }

    #[test]
    fn diff_gives_each_frame_its_share_before_and_after() {
        let m = code_model();
        // Before: the first two CPU samples (burn); after: all three (burn, sleep).
        let before = Profile::build(
            &m,
            &SampleFilter::new(SampleKind::Cpu).span(Span::new(0, 200)),
        );
        let after = cpu(&m);
        let d = diff(&after, &before);
        let burn = find(&after, &["app::main", "app::handler", "app::burn"]);
        let sleep = find(&after, &["app::main", "std::thread::sleep"]);
        assert_eq!(d.before[burn as usize], 1.0);
        assert!((d.after[burn as usize] - 2.0 / 3.0).abs() < 1e-12);
        assert!((d.delta(burn) + 1.0 / 3.0).abs() < 1e-12, "burn shrank");
        assert_eq!(d.before[sleep as usize], 0.0, "sleep is new");
        assert!((d.delta(sleep) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(d.delta(find(&after, &["app::main"])), 0.0);
        assert!((d.max_abs_delta() - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(d.gone, 0.0);
        // The other way round, sleep's share is gone from the current profile.
        let back = diff(&before, &after);
        assert!((back.gone - 1.0 / 3.0).abs() < 1e-12, "{}", back.gone);
    }
}
