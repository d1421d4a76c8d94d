use trace_format::{StackId, Trace};

use super::*;
use crate::model::Model;

/// Worker 1 polls task 1 (CPU in `app::burn`, inlined into `app::handler`, and one sample in
/// `std::thread::sleep` outside any task), then task 2 stalls in `sleep` twice and
/// allocates in `app::concat` (under the recorder's allocator frame). CPU at 100 Hz, every
/// allocation sampled (rate 1).
pub(crate) const CODE_TRACE: &str = r#"
string id=1 text="trace_rt.alloc.sample_rate"
location id=1 file="src/server.rs" line=7 column=5
sampling cpu_method="perf_event" cpu_reason="" cpu_hz=100 stall_threshold_ns=40 max_frames=128 cpu_samples=3 stall_samples=2 lost_samples=0 truncated_stacks=0 stacks=3 addresses=5 resolved_addresses=5 symbolize_ns=0
stack id=1 frames=0x10,0x20
stack id=2 frames=0x30,0x20
stack id=3 frames=0x40,0x50,0x20
symbol addr=0x10 function="app::burn" file="src/main.rs" line=12 column=5
symbol_frame function="app::handler" file="src/main.rs" line=30 column=9
symbol addr=0x20 function="app::main" file="src/main.rs" line=40 column=1
symbol addr=0x30 function="std::thread::sleep" file="std/src/thread.rs" line=100 column=1
symbol addr=0x40 function="trace_rt::alloc::sample" file="trace-rt/src/alloc.rs" line=5 column=1
symbol addr=0x50 function="app::concat" file="src/main.rs" line=50 column=3
1 0 thread_start kind=worker index=0
1 1 task_spawn task=1 kind=async tokio_id=1 parent=0 location=1 name=0
1 2 task_spawn task=2 kind=async tokio_id=2 parent=0 location=1 name=0
1 100 poll_start task=1
1 110 cpu_sample task=1 stack=1
1 120 cpu_sample task=1 stack=1
1 200 poll_end ready=false
1 250 cpu_sample task=0 stack=2
1 300 poll_start task=2
1 301 counter name=1 value=1
1 310 stall_sample task=2 stack=2
1 320 stall_sample task=2 stack=2
1 350 alloc_sample_at size=100 task=2 stack=3
1 401 poll_end ready=true
"#;

pub(crate) fn code_model() -> Model {
    let bytes = trace_format::text::undump(CODE_TRACE).expect("the fixture parses");
    Model::build(&Trace::from_bytes(bytes).unwrap()).unwrap()
}

fn name(p: &Profile, f: FunctionIx) -> &str {
    &p.function(f).name
}

#[test]
fn the_samples_table_has_every_sample_with_its_task_stack_and_weight() {
    let m = code_model();
    let rows: Vec<_> = m
        .samples
        .iter()
        .map(|s| (s.time, s.kind, s.task, s.stack, s.weight))
        .collect();
    let (t1, t2) = (TaskIx(0), TaskIx(1));
    assert_eq!(
        rows,
        [
            (110, SampleKind::Cpu, t1, StackId(1), 10_000_000),
            (120, SampleKind::Cpu, t1, StackId(1), 10_000_000),
            (250, SampleKind::Cpu, TaskIx::NONE, StackId(2), 10_000_000),
            // The stalled poll (300..401) split between its two samples.
            (310, SampleKind::Stall, t2, StackId(2), 51),
            (320, SampleKind::Stall, t2, StackId(2), 50),
            // Rate 1: the allocation stands for its own size.
            (350, SampleKind::Alloc, t2, StackId(3), 100),
        ]
    );
    let stall = &m.samples[3];
    assert_eq!(m.polls[stall.poll as usize].start, 300);
    assert_eq!(m.samples[5].size, 100);
    assert_eq!(m.samples[5].objects(), 1.0);
}

#[test]
fn a_stall_sample_outside_any_poll_stands_for_the_watchdog_period() {
    let text = CODE_TRACE.replace(
        "1 401 poll_end ready=true\n",
        "1 401 poll_end ready=true\n1 500 stall_sample task=0 stack=2\n",
    );
    let bytes = trace_format::text::undump(&text).unwrap();
    let m = Model::build(&Trace::from_bytes(bytes).unwrap()).unwrap();
    assert_eq!(
        m.samples.last().map(|s| (s.weight, s.poll)),
        Some((40, Sample::NO_POLL))
    );
}

#[test]
fn the_cpu_tree_expands_inlined_frames_with_self_and_total() {
    let m = code_model();
    let p = Profile::build(&m, &SampleFilter::new(SampleKind::Cpu));
    assert_eq!((p.total_samples(), p.total_weight()), (3, 30_000_000));
    // root → main → {handler → burn, sleep}
    assert_eq!(p.children_of(0).len(), 1);
    let main = p.children_of(0)[0];
    let f = p.node_frame(main);
    assert_eq!((name(&p, f.function), f.line), ("app::main", 40));
    assert_eq!(p.nodes[main as usize].total_samples, 3);
    let kids: Vec<_> = p
        .children_of(main)
        .iter()
        .map(|&c| {
            (
                name(&p, p.node_frame(c).function).to_string(),
                p.nodes[c as usize].total_samples,
            )
        })
        .collect();
    assert_eq!(
        kids,
        [
            ("app::handler".to_string(), 2),
            ("std::thread::sleep".to_string(), 1)
        ]
    );
    let handler = p.children_of(main)[0];
    let burn = p.children_of(handler)[0];
    let n = &p.nodes[burn as usize];
    assert_eq!((n.self_samples, n.total_weight), (2, 20_000_000));
    assert_eq!(p.nodes[handler as usize].self_weight, 0);
    let path: Vec<_> = p
        .path(burn)
        .iter()
        .map(|f| (name(&p, f.function).to_string(), f.line))
        .collect();
    assert_eq!(
        path,
        [
            ("app::burn".into(), 12),
            ("app::handler".into(), 30),
            ("app::main".into(), 40)
        ]
    );
    assert_eq!(
        p.function(p.node_frame(burn).function).file.as_deref(),
        Some("src/main.rs")
    );
}

#[test]
fn top_functions_are_flat_and_cumulative_like_pprof_top() {
    let m = code_model();
    let p = Profile::build(&m, &SampleFilter::new(SampleKind::Cpu));
    let top: Vec<_> = p
        .top_functions()
        .iter()
        .map(|t| {
            (
                name(&p, t.function).to_string(),
                t.flat_samples,
                t.cum_samples,
            )
        })
        .collect();
    assert_eq!(
        top,
        [
            ("app::burn".to_string(), 2, 2),
            ("std::thread::sleep".to_string(), 1, 1),
            ("app::main".to_string(), 0, 3),
            ("app::handler".to_string(), 0, 2),
        ]
    );
}

#[test]
fn a_recursive_function_counts_once_per_stack_in_cum() {
    let text = CODE_TRACE.replace(
        "stack id=1 frames=0x10,0x20",
        "stack id=1 frames=0x20,0x20,0x20",
    );
    let bytes = trace_format::text::undump(&text).unwrap();
    let m = Model::build(&Trace::from_bytes(bytes).unwrap()).unwrap();
    let p = Profile::build(&m, &SampleFilter::new(SampleKind::Cpu));
    let main = p
        .top_functions()
        .into_iter()
        .find(|t| name(&p, t.function) == "app::main")
        .unwrap();
    assert_eq!((main.flat_samples, main.cum_samples), (2, 3));
}

#[test]
fn filters_select_by_task_thread_range_and_poll() {
    let m = code_model();
    let count = |f: SampleFilter| Profile::build(&m, &f).total_samples();
    assert_eq!(
        count(SampleFilter::new(SampleKind::Cpu).tasks(vec![TaskIx(0)])),
        2
    );
    assert_eq!(
        count(SampleFilter::new(SampleKind::Cpu).span(Span::new(115, 260))),
        2
    );
    assert_eq!(
        count(SampleFilter::new(SampleKind::Cpu).thread(ThreadIx(0))),
        3
    );
    assert_eq!(
        count(SampleFilter::new(SampleKind::Cpu).thread(ThreadIx(1))),
        0
    );
    let poll = m.task_polls(TaskIx(1)).next().unwrap();
    let p = Profile::build(&m, &SampleFilter::poll(SampleKind::Stall, poll));
    assert_eq!((p.total_samples(), p.total_weight()), (2, 101));
    assert_eq!(count(SampleFilter::poll(SampleKind::Cpu, poll)), 0);
}

#[test]
fn allocation_stacks_leave_out_the_recorders_frames_and_name_the_site() {
    let m = code_model();
    let p = Profile::build(&m, &SampleFilter::new(SampleKind::Alloc));
    assert_eq!(p.total_weight(), 100);
    let leaf = p.stacks[0].leaf;
    let path: Vec<_> = p
        .path(leaf)
        .iter()
        .map(|f| name(&p, f.function).to_string())
        .collect();
    assert_eq!(path, ["app::concat", "app::main"]);
    let stall = Profile::build(&m, &SampleFilter::new(SampleKind::Stall));
    let site = stall.site(stall.stacks[0].leaf).unwrap();
    assert_eq!(name(&stall, site.function), "app::main");
}

#[test]
fn unresolved_addresses_and_missing_stacks_are_frames_of_their_own() {
    let text = CODE_TRACE.replace("stack id=1 frames=0x10,0x20", "stack id=1 frames=0x99,0x20");
    let bytes = trace_format::text::undump(&text).unwrap();
    let m = Model::build(&Trace::from_bytes(bytes).unwrap()).unwrap();
    let p = Profile::build(&m, &SampleFilter::new(SampleKind::Cpu));
    assert_eq!(name(&p, p.top_functions()[0].function), "0x99");
    let mut none = m.samples[0];
    none.stack = StackId(77);
    let p = Profile::from_samples(&m.code, Some(SampleKind::Cpu), [&none]);
    assert_eq!(name(&p, p.top_functions()[0].function), NO_STACK);
}

#[test]
fn only_allocation_stacks_lose_the_recorders_frames_with_what_is_inlined_into_them() {
    // The allocator wrapper's address has `Option::map` inlined into it.
    let text = CODE_TRACE.replace(
        "symbol addr=0x40 function=\"trace_rt::alloc::sample\" file=\"trace-rt/src/alloc.rs\" line=5 column=1",
        "symbol addr=0x40 function=\"core::option::Option<T>::map\" file=\"core/src/option.rs\" line=9 column=1\n\
         symbol_frame function=\"trace_rt::alloc::sample\" file=\"trace-rt/src/alloc.rs\" line=5 column=1",
    );
    let text = text.replace(
        "1 250 cpu_sample task=0 stack=2",
        "1 250 cpu_sample task=0 stack=3",
    );
    let bytes = trace_format::text::undump(&text).unwrap();
    let m = Model::build(&Trace::from_bytes(bytes).unwrap()).unwrap();
    let p = Profile::build(&m, &SampleFilter::new(SampleKind::Alloc));
    let path: Vec<_> = p
        .path(p.stacks[0].leaf)
        .iter()
        .map(|f| name(&p, f.function).to_string())
        .collect();
    assert_eq!(path, ["app::concat", "app::main"]);
    // A CPU sample in the recorder is the recorder's cost: its frames stay.
    let p = Profile::build(
        &m,
        &SampleFilter::new(SampleKind::Cpu).span(Span::new(250, 251)),
    );
    let path: Vec<_> = p
        .path(p.stacks[0].leaf)
        .iter()
        .map(|f| name(&p, f.function).to_string())
        .collect();
    assert_eq!(
        path,
        [
            "core::option::Option<T>::map",
            "trace_rt::alloc::sample",
            "app::concat",
            "app::main"
        ]
    );
}
