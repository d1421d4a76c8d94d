//! Stack profiles: the samples of a selection (a kind — CPU, stall or allocation — and any
//! of a time range, a thread, a task, a group of tasks, one poll) summed into a tree of
//! resolved frames with self and total weight (what a flame graph draws), and the top
//! functions flat and cumulative (what `pprof -top` prints).
//!
//! Frames are resolved with the trace's own symbols ([`CodeInfo`]): each address expands to
//! its inlined functions (innermost first in the trace, root first in the tree), each frame
//! a function, file and line. An address the recording did not resolve is a frame named by
//! its address. The recorder's own frames at the top of an allocation's stack (the allocator
//! wrapper that asked for it) are left out: they are the same in every sample.
//!
//! Building sums the samples per stack first, so its cost is one pass over the samples plus
//! one walk per distinct stack (`benches/profile.rs` measures 1 M samples).
//!
//! ```
//! use trace_analysis::analysis::profile::{Profile, SampleFilter};
//! use trace_analysis::model::{Model, SampleKind};
//! # let mut b = trace_format::build::TraceBuilder::new();
//! # b.thread(1, "worker-0");
//! # b.push(1, 10, trace_format::Event::PollStart { task: trace_format::TaskId(1) });
//! # b.push(1, 20, trace_format::Event::PollEnd { ready: true });
//! # let model = Model::build(&trace_format::Trace::from_bytes(b.to_bytes())?)?;
//! let profile = Profile::build(&model, &SampleFilter::new(SampleKind::Cpu));
//! for f in profile.top_functions().iter().take(10) {
//!     println!("{} {} {}", f.flat, f.cum, profile.function(f.function).name);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::HashMap;

use trace_format::StackId;
use trace_format::code::CodeInfo;

use crate::model::{Model, Poll, Sample, SampleKind, Span, TaskIx, ThreadIx};

/// Which samples a profile is built from.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SampleFilter {
    /// The kind (`None`: every kind, which only makes sense for counting).
    pub kind: Option<SampleKind>,
    /// Only samples taken in `[start, end)`.
    pub span: Option<Span>,
    /// Only samples taken on this thread.
    pub thread: Option<ThreadIx>,
    /// Only samples taken while one of these tasks was polled (sorted).
    pub tasks: Option<Vec<TaskIx>>,
}

impl SampleFilter {
    /// Every sample of `kind`.
    pub fn new(kind: SampleKind) -> SampleFilter {
        SampleFilter {
            kind: Some(kind),
            ..SampleFilter::default()
        }
    }

    /// The samples of `kind` taken during `poll` (on its thread, in its task).
    pub fn poll(kind: SampleKind, poll: &Poll) -> SampleFilter {
        SampleFilter::new(kind)
            .span(poll.span())
            .thread(poll.thread())
            .tasks(vec![poll.task])
    }

    /// Limits to `[span.start, span.end)`.
    pub fn span(mut self, span: Span) -> SampleFilter {
        self.span = Some(span);
        self
    }

    /// Limits to one thread.
    pub fn thread(mut self, thread: ThreadIx) -> SampleFilter {
        self.thread = Some(thread);
        self
    }

    /// Limits to the samples of these tasks (a task, or a group's tasks).
    pub fn tasks(mut self, mut tasks: Vec<TaskIx>) -> SampleFilter {
        tasks.sort_unstable();
        self.tasks = Some(tasks);
        self
    }

    /// Whether `s` is selected.
    pub fn matches(&self, s: &Sample) -> bool {
        self.kind.is_none_or(|k| k == s.kind)
            && self
                .span
                .is_none_or(|r| s.time >= r.start && s.time < r.end)
            && self.thread.is_none_or(|t| t == s.thread)
            && self
                .tasks
                .as_ref()
                .is_none_or(|t| t.binary_search(&s.task).is_ok())
    }

    /// The selected samples of `model` (by time).
    pub fn select<'a>(&'a self, model: &'a Model) -> impl Iterator<Item = &'a Sample> + 'a {
        let all = &model.samples;
        let (lo, hi) = match self.span {
            Some(r) => (
                all.partition_point(|s| s.time < r.start),
                all.partition_point(|s| s.time < r.end),
            ),
            None => (0, all.len()),
        };
        all[lo..hi.max(lo)].iter().filter(|s| self.matches(s))
    }
}

/// Index of a function in [`Profile::function`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FunctionIx(pub u32);

/// A function: its name and source file (one per name and file).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Function {
    /// Demangled name, or the address (`0x…`) when the recording did not resolve it.
    pub name: String,
    /// Source file, when known.
    pub file: Option<String>,
}

impl Function {
    /// Whether it is the standard library's, a dependency's or the C library's: by its file
    /// ([`is_library_file`]: a crate from a registry, whatever its name, like `hyper::…`),
    /// else by its name ([`is_library`]) when the name has a path.
    /// DWARF names inlined functions (and, in builds with line tables only, most others)
    /// without their path — `lock<…>`, `handle`, `{async_fn#0}` — so neither the missing
    /// path nor a `::` inside the generic arguments says whose code it is.
    ///
    /// ```
    /// use trace_analysis::analysis::profile::Function;
    /// let f = |name: &str, file: &str| Function { name: name.into(), file: Some(file.into()) };
    /// assert!(f("lock<std::collections::HashMap<u64, app::Session>>", "/rustc/0123/library/std/src/sync/poison/mutex.rs").is_library());
    /// assert!(!f("handle", "/home/u/app/src/main.rs").is_library());
    /// let registry = "/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f";
    /// assert!(f("hyper::proto::h1::role::parse_headers", &format!("{registry}/hyper-1.12.0/src/proto/h1/role.rs")).is_library());
    /// assert!(f("tokio::spawn", "/home/u/app/src/main.rs").is_library());
    /// ```
    pub fn is_library(&self) -> bool {
        let bare = match self.name.find('<') {
            Some(0) => false, // `<T as Trait>::f`: qualified.
            Some(i) => !self.name[..i].contains("::"),
            None => !self.name.contains("::"),
        };
        match (&self.file, bare) {
            (Some(file), _) if is_library_file(file) => true,
            (Some(_), true) => false,
            _ => is_library(&self.name),
        }
    }
}

/// Whether `file` (as the symbolizer recorded it) is outside the application's sources: the
/// standard library (`/rustc/<commit>/…`, `library/…`), a crate from a registry or a git
/// checkout, a C library (`./malloc/malloc.c`, `/usr/…`), the recorder's own sources
/// (`…/trace-rt/src/…` and the format it encodes, `…/trace-format/src/…`, for a workspace
/// that builds them from a path).
///
/// ```
/// use trace_analysis::analysis::profile::is_library_file;
/// assert!(is_library_file("/root/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.54.1/src/time/sleep.rs"));
/// assert!(is_library_file("./malloc/malloc.c"));
/// assert!(!is_library_file("/home/u/app/src/main.rs"));
/// assert!(is_library_file("/home/u/trace-rt/trace-rt/src/local.rs"));
/// assert!(is_library_file("/home/u/trace-rt/trace-format/src/codec/mod.rs"));
/// assert!(!is_library_file("examples/src/problems/alloc.rs"));
/// ```
pub fn is_library_file(file: &str) -> bool {
    let file = file.replace('\\', "/");
    [
        "/rustc/",
        "library/",
        "./",
        "/usr/",
        "trace-rt/src/",
        "trace-format/src/",
    ]
    .iter()
    .any(|p| file.starts_with(p))
        || [
            "/registry/src/",
            "/git/checkouts/",
            "/.rustup/",
            "/trace-rt/src/",
            "/trace-format/src/",
        ]
        .iter()
        .any(|m| file.contains(m))
}

/// A frame: a function at a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Frame {
    /// The function.
    pub function: FunctionIx,
    /// 1-based line, 0 when unknown.
    pub line: u32,
}

/// Functions and frames met while resolving stacks, each stored once.
#[derive(Debug, Clone, Default)]
pub struct FrameTable {
    functions: Vec<Function>,
    function_index: HashMap<Function, FunctionIx, foldhash::fast::RandomState>,
    frames: Vec<Frame>,
    frame_index: HashMap<Frame, u32, foldhash::fast::RandomState>,
    /// Per stack and whether the recorder's frames were trimmed: its path.
    stacks: HashMap<(StackId, bool), Box<[u32]>, foldhash::fast::RandomState>,
    /// Per address: its frames, innermost first (empty: unresolved).
    addrs: HashMap<u64, Box<[u32]>, foldhash::fast::RandomState>,
}

/// The frame that stands for samples without a stack (allocation samples of old traces).
pub const NO_STACK: &str = "[no stack]";

impl FrameTable {
    /// The function at `ix`.
    pub fn function(&self, ix: FunctionIx) -> &Function {
        &self.functions[ix.0 as usize]
    }

    /// Every function, by index.
    pub fn functions(&self) -> &[Function] {
        &self.functions
    }

    /// The frame at `ix`.
    pub fn frame(&self, ix: u32) -> Frame {
        self.frames[ix as usize]
    }

    fn intern(&mut self, name: &str, file: Option<&str>, line: u32) -> u32 {
        let f = Function {
            name: name.to_string(),
            file: file.map(str::to_string),
        };
        let function = match self.function_index.get(&f) {
            Some(&ix) => ix,
            None => {
                let ix = FunctionIx(self.functions.len() as u32);
                self.functions.push(f.clone());
                self.function_index.insert(f, ix);
                ix
            }
        };
        let frame = Frame { function, line };
        *self.frame_index.entry(frame).or_insert_with(|| {
            self.frames.push(frame);
            self.frames.len() as u32 - 1
        })
    }

    /// The frames of `stack`, root first, inlined functions expanded (frame indexes). With
    /// `trim`, the recorder's frames on top are left out ([`recorder_lines`]): allocation
    /// stacks start in the recorder's allocator wrapper; CPU and stall stacks keep them, so
    /// the recorder's own cost shows.
    pub fn resolve(&mut self, code: &CodeInfo, stack: StackId, trim: bool) -> &[u32] {
        if !self.stacks.contains_key(&(stack, trim)) {
            let path = self.resolve_new(code, stack, trim);
            self.stacks.insert((stack, trim), path);
        }
        &self.stacks[&(stack, trim)]
    }

    fn resolve_new(&mut self, code: &CodeInfo, stack: StackId, trim: bool) -> Box<[u32]> {
        let Some(addrs) = code.stack(stack) else {
            return Box::new([self.intern(NO_STACK, None, 0)]);
        };
        let mut inner_first: Vec<u32> = Vec::with_capacity(addrs.len() * 2);
        let mut in_recorder = trim;
        for &addr in addrs {
            if !self.addrs.contains_key(&addr) {
                let mut frames = Vec::new();
                for f in code.frames_at(addr) {
                    frames.push(self.intern(f.function, f.file, f.line));
                }
                if frames.is_empty() {
                    frames.push(self.intern(&format!("{addr:#x}"), None, 0));
                }
                self.addrs.insert(addr, frames.into_boxed_slice());
            }
            let frames = &self.addrs[&addr];
            let mut skip = 0;
            if in_recorder {
                // The recorder's frames on top of the stack (its allocator wrapper), with
                // what was inlined into them.
                skip = recorder_lines(frames.iter().map(|&f| {
                    let function = self.frames[f as usize].function;
                    self.functions[function.0 as usize].name.as_str()
                }));
                in_recorder = skip == frames.len();
            }
            inner_first.extend_from_slice(&frames[skip..]);
        }
        if inner_first.is_empty() {
            inner_first.push(self.intern(NO_STACK, None, 0));
        }
        inner_first.reverse();
        inner_first.into_boxed_slice()
    }
}

/// How many of an address's functions (innermost first) are the recorder's or inlined into
/// one of its: those up to the outermost recorder function among them.
///
/// ```
/// use trace_analysis::analysis::profile::recorder_lines;
/// let at = ["core::option::Option<T>::map", "trace_rt::alloc::thread::slow_path", "app::f"];
/// assert_eq!(recorder_lines(at.into_iter()), 2);
/// assert_eq!(recorder_lines(["app::f"].into_iter()), 0);
/// ```
pub fn recorder_lines<'a>(functions: impl Iterator<Item = &'a str>) -> usize {
    functions
        .enumerate()
        .filter(|(_, f)| is_recorder_frame(f))
        .last()
        .map_or(0, |(i, _)| i + 1)
}

/// Whether `function` is the recorder's own (`trace_rt::…`): such frames on top of a stack
/// (the allocator wrapper that asked for an allocation's stack) are left out of profiles.
pub fn is_recorder_frame(function: &str) -> bool {
    function.starts_with("trace_rt::") || function.starts_with("<trace_rt::")
}

/// Whether `function` belongs to the standard library, the runtime or the C library rather
/// than the application: `std`, `core`, `alloc`, `tokio`, `tracing`, `parking_lot`,
/// `futures`, `hashbrown`, `mio`, `lock_api`, the recorder, the allocator shims (`__rustc::__rust_alloc`), and C
/// functions (no `::` in the name). The report names the first frame outside them as a
/// sample's *site*.
///
/// ```
/// use trace_analysis::analysis::profile::is_library;
/// assert!(is_library("std::thread::sleep"));
/// assert!(is_library("<alloc::vec::Vec<T> as core::clone::Clone>::clone"));
/// assert!(is_library("__GI___clock_nanosleep"));
/// assert!(is_library("<&mut alloc::string::String as core::fmt::Write>::write_fmt"));
/// assert!(is_library("<u8 as alloc::vec::spec_from_elem::SpecFromElem>::from_elem"));
/// assert!(is_library("<f64>::powf"));
/// assert!(!is_library("blocking_in_async::handler"));
/// assert!(!is_library("<app::Page as core::fmt::Display>::fmt"));
/// ```
pub fn is_library(function: &str) -> bool {
    const LIBS: [&str; 14] = [
        "__rustc::",
        "lock_api::",
        "mio::",
        "std::",
        "core::",
        "alloc::",
        "tokio::",
        "tracing::",
        "tracing_core::",
        "parking_lot::",
        "parking_lot_core::",
        "futures",
        "hashbrown::",
        "trace_rt::",
    ];
    if !function.contains("::") {
        return true;
    }
    // `<T as Trait>::f`, `<&mut T as Trait>::f`, `<T>::f`: the type's path, or the trait's
    // when the type is a primitive (`<u8 as alloc::…>`).
    let mut name = function;
    if let Some(rest) = function.strip_prefix('<') {
        let rest = rest
            .trim_start_matches('&')
            .trim_start_matches("mut ")
            .trim_start_matches("dyn ");
        let end = rest
            .find(" as ")
            .or_else(|| rest.find('>'))
            .unwrap_or(rest.len());
        let own = &rest[..end];
        name = if own.contains("::") {
            own
        } else {
            match rest.find(" as ") {
                Some(i) => &rest[i + 4..],
                None => return true, // A primitive's own method: the standard library.
            }
        };
    }
    LIBS.iter().any(|l| name.starts_with(l))
}

/// A node of the profile's tree: a frame under its caller's node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Its frame (index into the frame table; meaningless for the root).
    pub frame: u32,
    /// Its caller's node (the root's is itself).
    pub parent: u32,
    /// The nodes it calls: a range of [`Profile::children`] ([`Profile::children_of`]),
    /// heaviest first.
    pub children: std::ops::Range<u32>,
    /// Weight of the samples whose innermost frame it is.
    pub self_weight: u64,
    /// Weight of the samples through it (self included).
    pub total_weight: u64,
    /// Samples whose innermost frame it is.
    pub self_samples: u64,
    /// Samples through it.
    pub total_samples: u64,
}

/// One distinct stack of a profile and what its samples add up to.
#[derive(Debug, Clone, PartialEq)]
pub struct StackTotal {
    /// The stack.
    pub stack: StackId,
    /// Its samples' weight.
    pub weight: u64,
    /// Its samples.
    pub samples: u64,
    /// The tree node of its innermost frame.
    pub leaf: u32,
}

/// A function's share of a profile, as `pprof -top` lists it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TopFunction {
    /// The function.
    pub function: FunctionIx,
    /// Weight of the samples it was running (innermost frame).
    pub flat: u64,
    /// Weight of the samples it is on the stack of, each counted once however often it
    /// appears in it (recursion).
    pub cum: u64,
    /// Samples it was running.
    pub flat_samples: u64,
    /// Samples it is on the stack of.
    pub cum_samples: u64,
}

/// A stack profile; see the module docs.
#[derive(Debug, Clone)]
pub struct Profile {
    /// The kind of samples it sums (the filter's).
    pub kind: Option<SampleKind>,
    /// Functions and frames.
    pub frames: FrameTable,
    /// The tree: `nodes[0]` is the root (every sample), the others each a frame under its
    /// caller (created after it).
    pub nodes: Vec<Node>,
    /// Every node's children, grouped by parent ([`Node::children`]).
    pub children: Vec<u32>,
    /// Every distinct stack, heaviest first.
    pub stacks: Vec<StackTotal>,
}

impl Profile {
    /// The profile of the samples of `model` that `filter` selects.
    pub fn build(model: &Model, filter: &SampleFilter) -> Profile {
        Profile::from_samples(&model.code, filter.kind, filter.select(model))
    }

    /// The profile of `samples`, with stacks resolved in `code`.
    pub fn from_samples<'s>(
        code: &CodeInfo,
        kind: Option<SampleKind>,
        samples: impl IntoIterator<Item = &'s Sample>,
    ) -> Profile {
        let mut per_stack: HashMap<StackId, (u64, u64), foldhash::fast::RandomState> =
            HashMap::default();
        for s in samples {
            let e = per_stack.entry(s.stack).or_default();
            e.0 += s.weight;
            e.1 += 1;
        }
        let mut frames = FrameTable::default();
        let per_stack: Vec<_> = per_stack.into_iter().collect();
        let trim = kind == Some(SampleKind::Alloc);
        for &(stack, _) in &per_stack {
            frames.resolve(code, stack, trim);
        }
        // Paths in lexicographic order: paths sharing a prefix are adjacent, so the tree is
        // built by keeping the nodes of the previous path's prefix, without a lookup per
        // frame.
        let mut per_stack: Vec<(&[u32], StackId, u64, u64)> = per_stack
            .into_iter()
            .map(|(id, (w, n))| (&*frames.stacks[&(id, trim)], id, w, n))
            .collect();
        per_stack.sort_unstable();
        let new_node = |frame, parent| Node {
            frame,
            parent,
            children: 0..0,
            self_weight: 0,
            total_weight: 0,
            self_samples: 0,
            total_samples: 0,
        };
        let mut nodes = vec![new_node(u32::MAX, 0)];
        let mut stacks = Vec::with_capacity(per_stack.len());
        let mut chain: Vec<u32> = Vec::new();
        let mut prev: &[u32] = &[];
        for &(path, stack, weight, samples) in &per_stack {
            let common = prev
                .iter()
                .zip(path.iter())
                .take_while(|(a, b)| a == b)
                .count();
            chain.truncate(common);
            for &frame in &path[common..] {
                let parent = chain.last().copied().unwrap_or(0);
                nodes.push(new_node(frame, parent));
                chain.push(nodes.len() as u32 - 1);
            }
            prev = path;
            let leaf = chain.last().copied().unwrap_or(0);
            let n = &mut nodes[leaf as usize];
            n.self_weight += weight;
            n.self_samples += samples;
            stacks.push(StackTotal {
                stack,
                weight,
                samples,
                leaf,
            });
        }
        // Children are created after their parents: one backward pass sums the totals.
        for i in (1..nodes.len()).rev() {
            let n = &mut nodes[i];
            n.total_weight += n.self_weight;
            n.total_samples += n.self_samples;
            let (w, c, parent) = (n.total_weight, n.total_samples, n.parent as usize);
            nodes[parent].total_weight += w;
            nodes[parent].total_samples += c;
        }
        nodes[0].total_weight += nodes[0].self_weight;
        nodes[0].total_samples += nodes[0].self_samples;
        // Children as ranges of one array, grouped by parent, each group heaviest first.
        let mut offsets = vec![0u32; nodes.len() + 1];
        for n in &nodes[1..] {
            offsets[n.parent as usize + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let mut children = vec![0u32; nodes.len() - 1];
        let mut fill = offsets.clone();
        for (i, n) in nodes.iter().enumerate().skip(1) {
            let at = &mut fill[n.parent as usize];
            children[*at as usize] = i as u32;
            *at += 1;
        }
        for (i, n) in nodes.iter_mut().enumerate() {
            n.children = offsets[i]..offsets[i + 1];
        }
        for n in &nodes {
            children[n.children.start as usize..n.children.end as usize]
                .sort_by_key(|&c| (std::cmp::Reverse(nodes[c as usize].total_weight), c));
        }
        stacks.sort_by_key(|s| (std::cmp::Reverse(s.weight), s.stack));
        Profile {
            kind,
            frames,
            nodes,
            children,
            stacks,
        }
    }

    /// Weight of every sample.
    pub fn total_weight(&self) -> u64 {
        self.nodes[0].total_weight
    }

    /// Number of samples.
    pub fn total_samples(&self) -> u64 {
        self.nodes[0].total_samples
    }

    /// The function at `ix`.
    pub fn function(&self, ix: FunctionIx) -> &Function {
        self.frames.function(ix)
    }

    /// The children of tree node `node`, heaviest first.
    pub fn children_of(&self, node: u32) -> &[u32] {
        let r = &self.nodes[node as usize].children;
        &self.children[r.start as usize..r.end as usize]
    }

    /// The frame of tree node `node`.
    pub fn node_frame(&self, node: u32) -> Frame {
        self.frames.frame(self.nodes[node as usize].frame)
    }

    /// The frames from tree node `node` up to the root, innermost first.
    pub fn path(&self, mut node: u32) -> Vec<Frame> {
        let mut out = Vec::new();
        while node != 0 {
            out.push(self.node_frame(node));
            node = self.nodes[node as usize].parent;
        }
        out
    }

    /// Every function with its flat and cumulative weight, by flat weight then cumulative
    /// (heaviest first), as `pprof -top` sorts them.
    pub fn top_functions(&self) -> Vec<TopFunction> {
        let mut top: Vec<TopFunction> = (0..self.frames.functions.len() as u32)
            .map(|f| TopFunction {
                function: FunctionIx(f),
                flat: 0,
                cum: 0,
                flat_samples: 0,
                cum_samples: 0,
            })
            .collect();
        let mut seen: Vec<u32> = Vec::new();
        for s in &self.stacks {
            let path = self.path(s.leaf);
            if let Some(inner) = path.first() {
                let t = &mut top[inner.function.0 as usize];
                t.flat += s.weight;
                t.flat_samples += s.samples;
            }
            seen.clear();
            for f in &path {
                if !seen.contains(&f.function.0) {
                    seen.push(f.function.0);
                    let t = &mut top[f.function.0 as usize];
                    t.cum += s.weight;
                    t.cum_samples += s.samples;
                }
            }
        }
        top.retain(|t| t.cum_samples > 0);
        top.sort_by_key(|t| {
            (
                std::cmp::Reverse(t.flat),
                std::cmp::Reverse(t.cum),
                t.function,
            )
        });
        top
    }

    /// The first frame of `node`'s path (innermost first) outside the standard library and
    /// runtime ([`is_library`]), else its innermost frame: where the application's code is.
    pub fn site(&self, node: u32) -> Option<Frame> {
        let path = self.path(node);
        path.iter()
            .find(|f| !self.function(f.function).is_library())
            .or(path.first())
            .copied()
    }
}

#[cfg(test)]
pub(crate) mod tests;
