//! Issue "Name the code", done-when: one recording with default settings of a workload with
//! three distinctive functions — one burns CPU, one sleeps inside a poll, one allocates —
//! puts the CPU samples mostly in the first's stack, the stalled-poll samples in the
//! second's and the allocation samples in the third's, each named by the trace's own
//! symbols with this file and a line.
#![cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

use std::hint::black_box;
use std::time::{Duration, Instant};

use trace_format::{Event, StackId, Trace};

#[global_allocator]
static ALLOC: trace_rt::TracingAllocator<std::alloc::System> =
    trace_rt::TracingAllocator::new(std::alloc::System);

/// Burns about `ms` of CPU time in arithmetic (no allocation, no system call but the
/// clock).
#[inline(never)]
fn burn_cpu(ms: u64) -> u64 {
    let start = Instant::now();
    let mut x = 1u64;
    while start.elapsed() < Duration::from_millis(ms) {
        for _ in 0..1000 {
            x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1));
        }
    }
    x
}

/// Blocks its worker thread (no CPU used) inside a poll.
#[inline(never)]
fn sleep_in_poll(ms: u64) {
    std::thread::sleep(black_box(Duration::from_millis(ms)));
}

/// Allocates `n` blocks of 64 KiB and keeps the last, touching little.
#[inline(never)]
fn allocate_blocks(n: usize) -> usize {
    let mut kept = Vec::new();
    for i in 0..n {
        kept = black_box(Vec::<u8>::with_capacity(black_box(64 * 1024 + i)));
    }
    kept.capacity()
}

/// Whether a frame of `stack` is resolved by the trace's own symbols to a function whose
/// name ends with `name`, in this file, at a line.
fn names(trace: &Trace, stack: StackId, name: &str) -> bool {
    let code = trace.code();
    code.stack(stack).unwrap_or_default().iter().any(|&a| {
        code.frames_at(a).any(|f| {
            f.function.ends_with(name)
                && f.file.is_some_and(|p| p.ends_with("culprits.rs"))
                && f.line > 0
        })
    })
}

#[test]
#[cfg_attr(not(tokio_unstable), ignore = "poll hooks need --cfg tokio_unstable")]
fn cpu_stall_and_allocation_samples_name_the_burning_sleeping_and_allocating_functions() {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(2);
    trace_rt::instrument(&mut b);
    let rt = b.enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("culprits.rtt");
    let session = trace_rt::start(&path).expect("start with default settings");
    let stall_task = rt.block_on(async {
        // CPU: 600 ms in 2 ms polls (far below the stall threshold).
        let cpu = tokio::spawn(async {
            for _ in 0..300 {
                black_box(burn_cpu(2));
                tokio::task::yield_now().await;
            }
        });
        // Stalls: two polls blocked 100 ms each, using no CPU.
        let stall = tokio::spawn(async {
            for _ in 0..2 {
                sleep_in_poll(100);
                tokio::task::yield_now().await;
            }
        });
        // Allocations: 2 000 blocks of 64 KiB (about 125 MiB, some 250 samples at the
        // default rate), in short polls.
        let alloc = tokio::spawn(async {
            for _ in 0..100 {
                black_box(allocate_blocks(20));
                tokio::task::yield_now().await;
            }
        });
        let stall_id = stall.id().to_string().parse::<u64>().unwrap();
        let _ = tokio::join!(cpu, stall, alloc);
        stall_id
    });
    std::thread::sleep(Duration::from_millis(20));
    let summary = session.stop().expect("stop");
    drop(rt);
    assert_eq!(summary.lost_events, 0, "{summary}");
    let trace = Trace::open(&path).expect("read back");
    trace.validate().expect("valid trace");

    let (mut cpu, mut stall, mut alloc) = (Vec::new(), Vec::new(), Vec::new());
    let mut sleeper = None;
    for r in trace.events() {
        match r.unwrap().event {
            Event::TaskSpawn { task, tokio_id, .. } if tokio_id == stall_task => {
                sleeper = Some(task)
            }
            Event::CpuSample { stack, .. } => cpu.push(stack),
            // The sleeping task's: a short poll of another task that the OS preempts for
            // longer than the threshold is a stall too, and sampled (a loaded machine
            // preempts the burning task's polls often).
            Event::StallSample { stack, task } if Some(task) == sleeper => stall.push(stack),
            Event::StallSample { .. } => {}
            Event::AllocSampleAt { stack, .. } => alloc.push(stack),
            _ => {}
        }
    }
    // Allocation stacks start at the allocator's caller: none of the recorder's frames.
    let code = trace.code();
    for &st in &alloc {
        for &a in code.stack(st).unwrap_or_default() {
            for f in code.frames_at(a) {
                assert!(
                    !f.file.is_some_and(|p| p.contains("trace-rt/src/")),
                    "a recorder frame in an allocation stack: {f:?}"
                );
            }
        }
    }
    let share = |stacks: &[StackId], name: &str| {
        let n = stacks.iter().filter(|&&s| names(&trace, s, name)).count();
        (n, stacks.len())
    };
    let (c, ct) = share(&cpu, "burn_cpu");
    let (s, st) = share(&stall, "sleep_in_poll");
    let (a, at) = share(&alloc, "allocate_blocks");
    println!("cpu samples in burn_cpu: {c}/{ct}");
    println!("stall samples in sleep_in_poll: {s}/{st}");
    println!("allocation samples in allocate_blocks: {a}/{at}");
    // 600 ms of CPU at 99 Hz is about 60 samples; the rest of the process used little.
    assert!(ct >= 20, "{ct} CPU samples");
    assert!(c * 2 > ct, "CPU samples mostly in burn_cpu: {c}/{ct}");
    // 200 ms blocked, sampled every 5 ms after the first 5 ms.
    assert!(sleeper.is_some(), "the sleeping task's spawn");
    assert!(st >= 4, "{st} stall samples of the sleeping task");
    assert!(s * 10 >= st * 9, "stall samples in sleep_in_poll: {s}/{st}");
    assert!(at >= 50, "{at} allocation samples");
    assert!(
        a * 10 >= at * 8,
        "allocation samples in allocate_blocks: {a}/{at}"
    );
}
