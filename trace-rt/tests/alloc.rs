//! The allocator wrapper installed as this test binary's global allocator, on real
//! workloads with known ground truth: bytes attributed to a task by sampling, the heap curve
//! rebuilt from the per-thread counters, exact counts at sample rate 1, slow calls as
//! pauses, and the re-entrancy and thread-exit cases.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use common::serial;
use trace_format::{Event, PauseScope, Trace};
use trace_rt::TracingAllocator;
use trace_rt::alloc::{
    DEFAULT_SAMPLE_RATE, SAMPLE_RATE_COUNTER, sample_probability, sample_weight,
};

#[global_allocator]
static ALLOC: TracingAllocator<SlowSizes> = TracingAllocator::new(SlowSizes);

/// The system allocator, except that allocating exactly [`SLOW_SIZE`] bytes takes
/// [`SLOW_CALL`]: slow calls with a known duration.
struct SlowSizes;

const SLOW_SIZE: usize = 12_345;
const SLOW_CALL: Duration = Duration::from_millis(2);

// SAFETY: forwards to `System`, only delayed.
unsafe impl GlobalAlloc for SlowSizes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() == SLOW_SIZE {
            // A busy wait: no allocation, no system call.
            let start = std::time::Instant::now();
            while start.elapsed() < SLOW_CALL {
                std::hint::spin_loop();
            }
        }
        // SAFETY: the caller upholds `alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }
}

const BLOCK: usize = 1024;
const BLOCKS: usize = 64 * 1024; // 64 MiB in 1 KiB blocks

/// Restores the allocator's settings when a test ends, passing or not.
struct Settings;

impl Settings {
    /// Sample rate and slow-call threshold; every call is timed (not only large ones).
    fn set(rate: u64, slow: Duration) -> Settings {
        ALLOC.set_sample_rate(rate);
        ALLOC.set_slow_threshold(slow);
        ALLOC.set_timed_min_size(0);
        Settings
    }
}

impl Drop for Settings {
    fn drop(&mut self) {
        ALLOC.set_sample_rate(DEFAULT_SAMPLE_RATE);
        ALLOC.set_slow_threshold(trace_rt::alloc::DEFAULT_SLOW_THRESHOLD);
        ALLOC.set_timed_min_size(trace_rt::alloc::DEFAULT_TIMED_MIN_SIZE);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(2);
    trace_rt::instrument(&mut b);
    b.enable_all().build().unwrap()
}

fn task_id() -> u64 {
    tokio::task::id().to_string().parse().unwrap()
}

/// Records `f` into a file (a file sink does not grow the heap as it writes, so the heap
/// curve is the workload's) and reads it back, checking that nothing was lost.
fn record_to_file<R>(f: impl FnOnce() -> R) -> (Trace, R) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("alloc.rtt");
    let session = trace_rt::start(&path).unwrap();
    let r = f();
    std::thread::sleep(Duration::from_millis(20));
    let summary = session.stop().unwrap();
    assert_eq!(summary.lost_events, 0, "{summary}");
    let trace = Trace::open(&path).unwrap();
    trace.validate().unwrap();
    (trace, r)
}

/// A task allocates 64 MiB in 1 KiB blocks (into a vector allocated before it started),
/// holds them for a while, and frees them. Returns its task id and the holder's size.
fn allocate_64_mib(rt: &tokio::runtime::Runtime) -> (u64, usize) {
    rt.block_on(async {
        let mut holder: Vec<Vec<u8>> = Vec::with_capacity(BLOCKS);
        let holder_bytes = holder.capacity() * std::mem::size_of::<Vec<u8>>();
        let task = tokio::spawn(async move {
            for i in 0..BLOCKS {
                holder.push(vec![i as u8; BLOCK]);
                if i % 4096 == 4095 {
                    tokio::task::yield_now().await;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(black_box(holder));
            tokio::time::sleep(Duration::from_millis(50)).await;
            task_id()
        });
        (task.await.unwrap(), holder_bytes)
    })
}

/// Sums the estimated bytes of the samples taken while `task` was polled, each weighted at
/// the rate its thread last announced; also returns the number of samples.
fn attributed(trace: &Trace, task: u64) -> (f64, usize) {
    let rate_name = trace
        .strings()
        .find(|(_, s)| *s == SAMPLE_RATE_COUNTER)
        .map(|(id, _)| id);
    let (mut bytes, mut samples) = (0.0, 0);
    for thread in trace.thread_ids() {
        let mut rate = None;
        for r in trace.thread_events(thread) {
            match r.unwrap().event {
                Event::Counter { name, value } if Some(name) == rate_name => {
                    rate = Some(value as u64)
                }
                Event::AllocSample { size, task: t }
                | Event::AllocSampleAt { size, task: t, .. } => {
                    let rate = rate.expect("a sample before its thread announced the rate");
                    if t.0 == task {
                        bytes += sample_weight(size, rate);
                        samples += 1;
                    }
                }
                _ => {}
            }
        }
    }
    (bytes, samples)
}

/// The documented standard error of the estimate of `n` allocations of `size` bytes.
fn standard_error(n: usize, size: u64, rate: u64) -> f64 {
    let p = sample_probability(size, rate);
    (n as f64 * (size as f64).powi(2) * (1.0 - p) / p).sqrt()
}

fn check_attribution(rate: u64) {
    let _g = serial();
    let _s = Settings::set(rate, trace_rt::alloc::DEFAULT_SLOW_THRESHOLD);
    let rt = runtime();
    let (trace, (task, _)) = record_to_file(|| allocate_64_mib(&rt));
    let (est, samples) = attributed(&trace, task);
    let truth = (BLOCKS * BLOCK) as f64;
    let se = standard_error(BLOCKS, BLOCK as u64, rate);
    println!(
        "rate {rate}: {samples} samples, estimate {:.2} MiB for 64 MiB, error {:+.2}% (standard error {:.2}%)",
        est / (1 << 20) as f64,
        (est / truth - 1.0) * 100.0,
        se / truth * 100.0
    );
    // 4 standard errors: a false failure about once in 16 000 runs.
    assert!(
        (est - truth).abs() <= 4.0 * se,
        "estimate {est} for {truth} bytes, standard error {se}"
    );
}

#[test]
fn a_task_allocating_64_mib_is_attributed_64_mib_at_the_default_rate() {
    // About 128 samples: standard error 8.8 %.
    check_attribution(DEFAULT_SAMPLE_RATE);
}

#[test]
fn a_task_allocating_64_mib_is_attributed_64_mib_at_4_kib_per_sample() {
    // About 16 000 samples: standard error 0.8 %.
    check_attribution(4096);
}

/// (time ns, heap bytes) after every `AllocCounters`, all threads merged by time, except
/// the recorder's writer thread (its output buffer, about 1 MiB, is allocated during the
/// recording and freed after it: real heap, but not the workload's).
fn heap_curve(trace: &Trace) -> Vec<(u64, i64)> {
    let writer = trace
        .threads()
        .values()
        .find(|t| t.name == "trace-rt-writer")
        .map(|t| t.thread);
    let mut heap = 0i64;
    let mut curve = vec![];
    for r in trace.events() {
        let r = r.unwrap();
        if Some(r.thread) == writer {
            continue;
        }
        if let Event::AllocCounters {
            alloc_bytes,
            free_bytes,
            ..
        } = r.event
        {
            heap += alloc_bytes as i64 - free_bytes as i64;
            curve.push((trace.to_nanos(r.time), heap));
        }
    }
    curve
}

#[test]
fn the_heap_curve_rises_by_64_mib_and_falls_back() {
    let _g = serial();
    let _s = Settings::set(DEFAULT_SAMPLE_RATE, trace_rt::alloc::DEFAULT_SLOW_THRESHOLD);
    let rt = runtime();
    let (trace, (_, holder)) = record_to_file(|| allocate_64_mib(&rt));
    let curve = heap_curve(&trace);
    let (peak_at, peak) = *curve.iter().max_by_key(|p| p.1).unwrap();
    let (end_at, end) = *curve.last().unwrap();
    let expected = (BLOCKS * BLOCK + holder) as i64;
    const MIB: f64 = (1 << 20) as f64;
    println!(
        "heap: peak {:.2} MiB at {:.1} ms (expected {:.2} MiB), end {:.3} MiB at {:.1} ms, {} counter events",
        peak as f64 / MIB,
        peak_at as f64 / 1e6,
        expected as f64 / MIB,
        end as f64 / MIB,
        end_at as f64 / 1e6,
        curve.len()
    );
    // Each thread may hold back 64 KiB; the runtime and the test harness allocate a little,
    // and memory allocated before the recording (by earlier tests) and freed during it
    // shifts the whole curve. So: the rise from the lowest point before the peak, and the
    // fall from the peak to the end, are each the workload's 64 MiB and its holder.
    // (The curve starts at 0 when the recording starts.)
    let low = curve
        .iter()
        .filter(|p| p.0 < peak_at)
        .map(|p| p.1)
        .fold(0, i64::min);
    let (rise, fall) = (peak - low, peak - end);
    println!(
        "rise {:.3} MiB, fall {:.3} MiB",
        rise as f64 / MIB,
        fall as f64 / MIB
    );
    for (what, v) in [("rise", rise), ("fall", fall)] {
        assert!(
            v.abs_diff(expected) <= 512 << 10,
            "{what} {v} for {expected}"
        );
    }
    // The fall comes after the peak was held for the 50 ms sleep.
    let fall = curve
        .iter()
        .find(|p| p.0 > peak_at && p.1 < peak - expected / 2)
        .expect("no fall");
    assert!(
        fall.0 - peak_at >= 30_000_000,
        "peak held for only {} ns",
        fall.0 - peak_at
    );
}

/// Per-thread (samples of `size`, allocs, frees, alloc bytes, free bytes, pauses).
#[derive(Debug, Default)]
struct ThreadAlloc {
    samples_of_size: usize,
    allocs: u64,
    frees: u64,
    alloc_bytes: u64,
    free_bytes: u64,
    /// (begin, end) of each slow-call pause.
    pauses: Vec<(u64, u64)>,
    announced: Vec<i64>,
}

fn per_thread(trace: &Trace, size: u64) -> BTreeMap<u32, ThreadAlloc> {
    let name = |wanted: &str| {
        trace
            .strings()
            .find(|(_, s)| *s == wanted)
            .map(|(id, _)| id)
    };
    let (rate_name, alloc_kind) = (name(SAMPLE_RATE_COUNTER), name("alloc"));
    let mut out = BTreeMap::new();
    for thread in trace.thread_ids() {
        let t: &mut ThreadAlloc = out.entry(thread).or_default();
        let mut open = vec![];
        for r in trace.thread_events(thread) {
            let r = r.unwrap();
            match r.event {
                Event::AllocSample { size: s, .. } | Event::AllocSampleAt { size: s, .. }
                    if s == size =>
                {
                    assert!(!t.announced.is_empty(), "sample before the rate");
                    t.samples_of_size += 1;
                }
                Event::AllocCounters {
                    allocs,
                    frees,
                    alloc_bytes,
                    free_bytes,
                } => {
                    t.allocs += allocs;
                    t.frees += frees;
                    t.alloc_bytes += alloc_bytes;
                    t.free_bytes += free_bytes;
                }
                Event::Counter { name, value } if Some(name) == rate_name => {
                    t.announced.push(value)
                }
                Event::PauseBegin { kind, scope } => {
                    assert_eq!(Some(kind), alloc_kind);
                    assert_eq!(scope, PauseScope::Thread);
                    open.push(r.time);
                }
                Event::PauseEnd { kind, scope } => {
                    assert_eq!(Some(kind), alloc_kind);
                    assert_eq!(scope, PauseScope::Thread);
                    let begin = open.pop().expect("pause end without begin");
                    assert!(begin <= r.time);
                    t.pauses.push((begin, r.time));
                }
                _ => {}
            }
        }
        assert!(open.is_empty(), "thread {thread}: unclosed pause");
    }
    out
}

/// Allocates a block of a size nothing else allocates; never inlined, so that its code is
/// its own and a stack walked inside the allocation returns into it.
#[inline(never)]
fn allocate_at_a_known_place(size: usize) -> Vec<u8> {
    black_box(vec![7u8; black_box(size)])
}

#[test]
fn sampled_allocations_carry_the_allocating_functions_stack() {
    let _g = serial();
    let _s = Settings::set(1, Duration::ZERO);
    const SIZE: usize = 4321; // nothing else allocates this size
    let (trace, ()) = record_to_file(|| {
        std::thread::spawn(|| {
            for _ in 0..10 {
                drop(allocate_at_a_known_place(SIZE));
            }
        })
        .join()
        .unwrap();
    });
    let f = allocate_at_a_known_place as *const () as u64;
    let mut samples = 0;
    for r in trace.events() {
        match r.unwrap().event {
            Event::AllocSampleAt { size, stack, .. } if size == SIZE as u64 => {
                samples += 1;
                let frames = trace.code().stack(stack).expect("a defined stack");
                // A return address inside the function (generously bounded in size).
                assert!(
                    frames.iter().any(|&a| a > f && a < f + 4096),
                    "no frame in allocate_at_a_known_place ({f:#x}): {frames:x?}"
                );
            }
            Event::AllocSample { size, .. } if size == SIZE as u64 => {
                panic!("a sample without a stack while stacks are on")
            }
            _ => {}
        }
    }
    assert_eq!(samples, 10);
}

#[test]
fn at_rate_one_every_allocation_is_sampled_counted_and_timed() {
    let _g = serial();
    // Every allocation sampled, every call longer than 1 ns a pause.
    let _s = Settings::set(1, Duration::from_nanos(1));
    const N: usize = 3000;
    const SIZE: usize = 777; // nothing else allocates this size
    let (trace, ()) = record_to_file(|| {
        std::thread::spawn(|| {
            for i in 0..N {
                let v = black_box(vec![i as u8; SIZE]);
                drop(v);
            }
            trace_rt::flush_alloc_counters();
        })
        .join()
        .unwrap();
    });
    let threads = per_thread(&trace, SIZE as u64);
    let (_, t) = threads
        .iter()
        .find(|(_, t)| t.samples_of_size > 0)
        .expect("the allocating thread");
    assert_eq!(t.samples_of_size, N, "every allocation sampled once");
    assert_eq!(t.announced, vec![1], "the rate, once");
    assert!(t.allocs >= N as u64 && t.frees >= N as u64, "{t:?}");
    assert!(t.alloc_bytes >= (N * SIZE) as u64, "{t:?}");
    // What the thread allocated it freed, apart from its own bits (thread name, handle).
    assert!(t.alloc_bytes.abs_diff(t.free_bytes) < 4096, "{t:?}");
    // Each call lasted at least a clock tick or two; most are pauses.
    assert!(t.pauses.len() >= N, "{} pauses", t.pauses.len());
}

#[test]
fn slow_calls_over_the_threshold_are_thread_pauses() {
    let _g = serial();
    let _s = Settings::set(0, Duration::from_micros(500));
    const SLOW: usize = 10;
    let (trace, ()) = record_to_file(|| {
        std::thread::spawn(|| {
            for _ in 0..SLOW {
                let v: Vec<u8> = black_box(Vec::with_capacity(SLOW_SIZE));
                drop(v);
                std::thread::sleep(Duration::from_millis(1));
            }
        })
        .join()
        .unwrap();
    });
    let threads = per_thread(&trace, u64::MAX);
    let mut slow = vec![];
    for t in threads.values() {
        for &(b, e) in &t.pauses {
            let ns = trace.to_nanos(e) - trace.to_nanos(b);
            // Every recorded call took longer than the threshold; the ones made slow on
            // purpose took about their 2 ms.
            assert!(
                ns >= 490_000,
                "a pause of {ns} ns under the 500 µs threshold"
            );
            if ns >= 1_900_000 {
                slow.push(ns);
            }
        }
    }
    println!("slow calls (ns): {slow:?}");
    assert_eq!(slow.len(), SLOW, "{slow:?}");
    // Timing adds two clock reads; preemption on a busy machine can add more.
    assert!(slow.iter().all(|&ns| ns < 20_000_000), "{slow:?}");
}

#[test]
fn by_default_only_calls_for_large_blocks_are_timed() {
    let _g = serial();
    let _s = Settings::set(0, Duration::from_nanos(1)); // every timed call is a pause
    ALLOC.set_timed_min_size(trace_rt::alloc::DEFAULT_TIMED_MIN_SIZE);
    let (trace, ()) = record_to_file(|| {
        std::thread::spawn(|| {
            for i in 0..1000 {
                drop(black_box(vec![i as u8; 100]));
            }
            for i in 0..10 {
                drop(black_box(vec![i as u8; 1 << 20]));
            }
        })
        .join()
        .unwrap();
    });
    let threads = per_thread(&trace, 0);
    let busiest = threads.values().max_by_key(|t| t.allocs).unwrap();
    assert!(busiest.allocs >= 1010, "{busiest:?}");
    // The ten 1 MiB allocations and their frees, not the thousand small ones.
    assert!(
        (10..=30).contains(&busiest.pauses.len()),
        "{} pauses",
        busiest.pauses.len()
    );
}

#[test]
fn not_recording_before_and_after_a_session_allocates_normally() {
    let _g = serial();
    let _s = Settings::set(1, Duration::from_nanos(1));
    // Before any session, between sessions, and after: plain allocation.
    let mut keep = vec![];
    for i in 0..1000 {
        keep.push(vec![i as u8; i % 300 + 1]);
    }
    for round in 0..3 {
        let (trace, ()) = common::record(|| {
            for v in keep.iter_mut() {
                // Exact capacity, so the push grows the block: a realloc of memory
                // allocated before the session.
                v.shrink_to_fit();
                v.push(round);
            }
            trace_rt::flush_alloc_counters();
        });
        let counted: u64 = per_thread(&trace, 0)
            .values()
            .map(|t| t.allocs)
            .max()
            .unwrap();
        assert!(
            counted >= keep.len() as u64,
            "round {round}: {counted} allocations"
        );
        keep.truncate(500 - round as usize * 100);
    }
    assert!(keep.iter().all(|v| !v.is_empty()));
}

thread_local! {
    /// Allocates in its destructor, which runs while the thread's other thread-locals
    /// (the recorder's among them) are being destroyed.
    static ALLOCATES_ON_EXIT: AllocatesOnDrop = const { AllocatesOnDrop };
}

struct AllocatesOnDrop;

impl Drop for AllocatesOnDrop {
    fn drop(&mut self) {
        let v: Vec<u64> = black_box((0..10_000).collect());
        let s = format!("{}", v.len());
        black_box(s);
    }
}

/// Threads allocate (and intern names, which allocates under the interner's lock) with every
/// allocation sampled and timed, in tiny chunks that run out, while sessions start and stop
/// around them and threads exit mid-recording with a thread-local that allocates during
/// teardown. Nothing may deadlock, panic or corrupt a trace.
#[test]
fn reentrancy_thread_exit_and_session_changes_are_safe() {
    let _g = serial();
    let _s = Settings::set(1, Duration::from_nanos(1));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..3)
        .map(|w| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let s: String = format!("worker {w} round {n}");
                    trace_rt::intern(&s);
                    let _ = std::thread::spawn(move || {
                        ALLOCATES_ON_EXIT.with(|_| {});
                        let m: BTreeMap<u64, Vec<u8>> =
                            (0..50).map(|i| (i, vec![0; (i * 37) as usize])).collect();
                        black_box(m);
                    })
                    .join();
                    n += 1;
                }
                n
            })
        })
        .collect();
    for round in 0..12 {
        let sink = trace_rt::MemorySink::new();
        let session = trace_rt::Config::default()
            .chunk_size(4096)
            .buffer_size(if round % 2 == 0 { 4 * 4096 } else { 1 << 20 })
            .start_with_sink(sink.clone())
            .unwrap();
        std::thread::sleep(Duration::from_millis(30));
        let summary = session.stop().unwrap();
        let trace = Trace::from_bytes(sink.bytes()).unwrap();
        assert_eq!(trace.validate().unwrap(), summary.events);
        std::thread::sleep(Duration::from_millis(5));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rounds: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    assert!(rounds > 0);
}

/// Allocator events and all events in `trace`: (`AllocCounters`, `AllocSample`, sample-rate
/// counters and slow-call pauses, all events).
fn allocator_share(trace: &Trace) -> (u64, u64, u64, u64) {
    let id = |wanted: &str| {
        trace
            .strings()
            .find_map(|(id, s)| (s == wanted).then_some(id))
    };
    let (rate, alloc_kind) = (id(SAMPLE_RATE_COUNTER), id("alloc"));
    let (mut counters, mut samples, mut other, mut all) = (0, 0, 0, 0);
    for r in trace.events() {
        all += 1;
        match r.unwrap().event {
            Event::AllocCounters { .. } => counters += 1,
            Event::AllocSample { .. } | Event::AllocSampleAt { .. } => samples += 1,
            Event::Counter { name, .. } if Some(name) == rate => other += 1,
            Event::PauseBegin { kind, .. } | Event::PauseEnd { kind, .. }
                if Some(kind) == alloc_kind =>
            {
                other += 1
            }
            _ => {}
        }
    }
    (counters, samples, other, all)
}

/// A service that handles one request per millisecond, each in a task of its own that runs
/// `handler`, for `requests` requests.
fn serve_requests(rt: &tokio::runtime::Runtime, requests: usize, handler: fn(usize) -> usize) {
    rt.block_on(async {
        let mut tick = tokio::time::interval(Duration::from_millis(1));
        let mut handlers = Vec::with_capacity(requests);
        for n in 0..requests {
            tick.tick().await;
            handlers.push(tokio::spawn(async move { black_box(handler(n)) }));
        }
        for h in handlers {
            h.await.unwrap();
        }
    });
}

/// An allocation-heavy handler of many small blocks: 4 000 short strings per request.
fn small_blocks(n: usize) -> usize {
    (0..4000).map(|i| black_box(format!("{n}:{i}")).len()).sum()
}

/// `examples/src/problems/alloc.rs`'s page: 200 items by repeated concatenation (each item
/// copies the page so far: about 1.7 MB allocated per 6 KB page).
fn concatenated_page(n: usize) -> usize {
    let mut body = String::new();
    for item in 0..200 {
        body = format!("{body}<li>item {item} of page {n}</li>");
    }
    body.len()
}

#[test]
fn allocator_events_stay_a_small_share_of_an_allocation_heavy_service() {
    let _g = serial();
    let rt = runtime();
    // Many small blocks per request: every allocator event counts against the budget.
    let (trace, ()) = record_to_file(|| serve_requests(&rt, 600, small_blocks));
    let (counters, samples, other, all) = allocator_share(&trace);
    let share = (counters + samples + other) as f64 / all as f64;
    println!(
        "small blocks: {counters} AllocCounters, {samples} AllocSample, {other} other \
         allocator events of {all} events: {:.1} %",
        share * 100.0
    );
    assert!(share <= 0.10, "allocator events are {:.1} %", share * 100.0);

    // Quadratic concatenation (1.7 MB allocated per request): the samples follow the bytes
    // allocated (one per 512 KiB, the sample rate's choice); the counters stay few.
    let (trace, ()) = record_to_file(|| serve_requests(&rt, 600, concatenated_page));
    let (counters, samples, other, all) = allocator_share(&trace);
    let share = counters as f64 / all as f64;
    println!(
        "concatenation: {counters} AllocCounters ({:.1} %), {samples} AllocSample ({:.1} %), \
         {other} other allocator events, of {all} events",
        share * 100.0,
        samples as f64 * 100.0 / all as f64
    );
    assert!(share <= 0.10, "AllocCounters are {:.1} %", share * 100.0);
}

/// The heap-curve bound holds for a thread that allocates a lot within one counters
/// interval and then idles without reporting: its unreported heap stays under
/// `MAX_UNREPORTED_HEAP` + 64 KiB.
#[test]
fn a_thread_that_allocates_then_idles_keeps_its_heap_within_the_bound() {
    let _g = serial();
    const BLOCKS: usize = 4096; // 4 MiB of 1 KiB blocks
    let (allocated_tx, allocated_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let (trace, thread) = record_to_file(|| {
        let thread = std::thread::spawn(move || {
            let blocks: Vec<Vec<u8>> = (0..BLOCKS).map(|i| vec![i as u8; BLOCK]).collect();
            allocated_tx.send(()).unwrap();
            // Idle, holding them, until the recording is over: no flush, no exit.
            release_rx.recv().unwrap();
            drop(black_box(blocks));
        });
        allocated_rx.recv().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        thread
    });
    release_tx.send(()).unwrap();
    thread.join().unwrap();
    let truth = (BLOCKS * BLOCK + BLOCKS * std::mem::size_of::<Vec<u8>>()) as i64;
    let reported = per_thread(&trace, 0)
        .values()
        .map(|t| t.alloc_bytes as i64 - t.free_bytes as i64)
        .max()
        .unwrap();
    let bound = (trace_rt::alloc::MAX_UNREPORTED_HEAP + 64 * 1024) as i64;
    println!("held {truth} bytes, reported {reported}");
    assert!(
        reported <= truth && truth - reported < bound,
        "held {truth} bytes, reported {reported}: more than {bound} unreported"
    );
}
