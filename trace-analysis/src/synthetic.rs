//! Generated traces for the window's tests (and its benchmark): worker threads running tasks
//! spawned at a few locations, with idle stretches, wakes of every source, a process-wide
//! and a thread-scoped pause, a blocking-pool thread, and optionally a hole in the data,
//! counters (runtime samples, allocator counters, a user counter) and `tracing` regions
//! and logs; and CPU samples with their stacks for profile benchmarks ([`cpu_profile`]).
//!
//! The layout is regular so tests can compute where things are: worker `w` runs its tasks
//! in rounds; in each round every one of its tasks is polled once for `poll_ns`, one after
//! the other with `gap_ns` between polls, then the worker parks for `park_ns`.

use trace_format::build::TraceBuilder;
use trace_format::code::CodeInfo;
use trace_format::{
    Event, LocationId, PauseScope, StackId, StringId, Symbols, TaskId, TaskKind, ThreadKind,
    WakeSource,
};

use crate::model::{Sample, SampleKind, TaskIx, ThreadIx};

/// What to generate.
#[derive(Debug, Clone, PartialEq)]
pub struct Synthetic {
    /// Worker threads (trace thread ids 1..=workers).
    pub workers: u32,
    /// Async tasks, spread over the workers round-robin.
    pub tasks: u32,
    /// Polls per task (the last one completes the task).
    pub polls_per_task: u32,
    /// Spawn locations (`src/service.rs:<10 × n>:5`), tasks spread over them round-robin.
    pub locations: u32,
    /// Length of each poll.
    pub poll_ns: u64,
    /// Gap between two polls on a worker (at least 2 ns).
    pub gap_ns: u64,
    /// How long a worker parks after each round.
    pub park_ns: u64,
    /// Add a process-wide pause ("compaction") in the middle of the trace and a
    /// thread-scoped pause on the last worker.
    pub pauses: bool,
    /// Add a blocking-pool thread running one `spawn_blocking` task.
    pub blocking: bool,
    /// Add a `Lost` marker (3 chunks, 100 events) on the first worker in the middle.
    pub lost: bool,
    /// When not 0: a sampler thread writes a runtime sample, every worker's queue depth and
    /// the user counter [`USER_COUNTER`] this often, and each worker reports its allocator
    /// counters when it parks.
    pub sample_ns: u64,
    /// When not 0: every this many polls (counted per worker) run inside a region
    /// [`REGION_OUTER`] with [`REGION_INNER`] nested in its first half, and log
    /// [`LOG_MESSAGE`] in the middle.
    pub regions_every: u32,
}

impl Default for Synthetic {
    /// 2 workers, 12 tasks × 5 polls of 10 µs, 3 locations, pauses and a blocking thread.
    fn default() -> Self {
        Synthetic {
            workers: 2,
            tasks: 12,
            polls_per_task: 5,
            locations: 3,
            poll_ns: 10_000,
            gap_ns: 1_000,
            park_ns: 50_000,
            pauses: true,
            blocking: true,
            lost: false,
            sample_ns: 0,
            regions_every: 0,
        }
    }
}

/// The string id of the pause kind "compaction".
pub const PAUSE_KIND: StringId = StringId(1);
/// The outer region's name.
pub const REGION_OUTER: &str = "handle_request";
/// The nested region's name.
pub const REGION_INNER: &str = "parse";
/// The log line's message.
pub const LOG_MESSAGE: &str = "request handled";
/// The log line's target.
pub const LOG_TARGET: &str = "service::handler";
/// The user counter's name.
pub const USER_COUNTER: &str = "requests_in_flight";
/// Bytes a worker reports allocating (and half of it freed) at its `k`-th park.
pub fn alloc_bytes_at_park(k: u64) -> (u64, u64) {
    (4096 * (k % 7 + 1), 2048 * (k % 7 + 1))
}

const OUTER_ID: StringId = StringId(2);
const INNER_ID: StringId = StringId(3);
const TARGET_ID: StringId = StringId(4);
const COUNTER_ID: StringId = StringId(5);

impl Synthetic {
    /// The tasks worker `w` runs (trace task ids, 1-based).
    pub fn tasks_of(&self, w: u32) -> impl Iterator<Item = u64> + '_ {
        (0..self.tasks)
            .filter(move |i| i % self.workers == w)
            .map(|i| u64::from(i) + 1)
    }

    /// When round `round` of worker `w` starts (its first poll).
    pub fn round_start(&self, w: u32, round: u32) -> u64 {
        // The tasks `i < tasks` with `i % workers == w`, counted without visiting them (this
        // runs for every poll generated).
        let n = u64::from(self.tasks.saturating_sub(w).div_ceil(self.workers.max(1)));
        let round_len = n * (self.poll_ns + self.gap_ns) + self.park_ns;
        1_000 + u64::from(round) * round_len
    }

    /// The `k`-th poll (0-based) of the `j`-th task of worker `w` in round `round`:
    /// `[start, end)`.
    pub fn poll_span(&self, w: u32, round: u32, j: u64) -> (u64, u64) {
        let start = self.round_start(w, round) + j * (self.poll_ns + self.gap_ns);
        (start, start + self.poll_ns)
    }

    /// The end of the last round on any worker.
    pub fn end(&self) -> u64 {
        (0..self.workers)
            .map(|w| self.round_start(w, self.polls_per_task))
            .max()
            .unwrap_or(0)
    }

    /// Builds the trace.
    pub fn build(&self) -> TraceBuilder {
        let mut b = TraceBuilder::new();
        b.header.process_name = "synthetic".into();
        b.header.features = vec![("tokio_unstable".into(), "true".into())];
        b.string(PAUSE_KIND.0, "compaction");
        b.string(OUTER_ID.0, REGION_OUTER);
        b.string(INNER_ID.0, REGION_INNER);
        b.string(TARGET_ID.0, LOG_TARGET);
        b.string(COUNTER_ID.0, USER_COUNTER);
        for l in 0..self.locations.max(1) {
            b.location(l + 1, "src/service.rs", 10 * (l + 1), 5);
        }
        let sources = [
            WakeSource::Task,
            WakeSource::Io,
            WakeSource::Timer,
            WakeSource::Blocking,
            WakeSource::Foreign,
            WakeSource::SelfWake,
        ];
        let mid = self.end() / 2;
        for w in 0..self.workers {
            let thread = w + 1;
            b.thread(thread, &format!("tokio-runtime-worker-{w}"));
            b.push(
                thread,
                0,
                Event::ThreadStart {
                    kind: ThreadKind::Worker,
                    index: w,
                },
            );
            let tasks: Vec<u64> = self.tasks_of(w).collect();
            // Spawned by their worker just before its first round.
            for &task in &tasks {
                b.push(
                    thread,
                    100 + task * 800 / (u64::from(self.tasks) + 1),
                    Event::TaskSpawn {
                        task: TaskId(task),
                        kind: TaskKind::Async,
                        tokio_id: task,
                        parent: TaskId::NONE,
                        location: LocationId(
                            ((task - 1) % u64::from(self.locations.max(1))) as u32 + 1,
                        ),
                        name: StringId::NONE,
                    },
                );
            }
            let mut paused_process = !(self.pauses && w == 0);
            let mut paused_thread = !(self.pauses && w + 1 == self.workers && self.workers > 1);
            let mut lost = !(self.lost && w == 0);
            let mut polls_here = 0u32;
            for round in 0..self.polls_per_task {
                let last = round + 1 == self.polls_per_task;
                for (j, &task) in tasks.iter().enumerate() {
                    let (start, end) = self.poll_span(w, round, j as u64);
                    if round > 0 {
                        // Woken while the worker was parked, by a source that rotates.
                        let source = sources[(task as usize + round as usize) % sources.len()];
                        b.push(
                            thread,
                            start.saturating_sub(self.gap_ns / 2 + 1),
                            Event::Wake {
                                task: TaskId(task),
                                waker: if source == WakeSource::Task {
                                    TaskId(tasks[(j + 1) % tasks.len()])
                                } else {
                                    TaskId::NONE
                                },
                                source,
                            },
                        );
                    }
                    b.push(thread, start, Event::PollStart { task: TaskId(task) });
                    polls_here += 1;
                    if self.regions_every > 0 && polls_here.is_multiple_of(self.regions_every) {
                        let id = u64::from(polls_here) << 8 | u64::from(w);
                        let quarter = self.poll_ns / 4;
                        b.push(thread, start + 1, Event::RegionBegin { id, name: OUTER_ID });
                        b.push(
                            thread,
                            start + 2,
                            Event::RegionBegin {
                                id: id + 1,
                                name: INNER_ID,
                            },
                        );
                        b.push(thread, start + quarter, Event::RegionEnd { id: id + 1 });
                        b.push(
                            thread,
                            start + 2 * quarter,
                            Event::Log {
                                level: trace_format::Level::Info,
                                target: TARGET_ID,
                                message: LOG_MESSAGE,
                            },
                        );
                        b.push(thread, end - 1, Event::RegionEnd { id });
                    }
                    if last {
                        b.push(thread, end, Event::TaskTerminate { task: TaskId(task) });
                    }
                    b.push(thread, end, Event::PollEnd { ready: last });
                }
                let (_, round_end) = self.poll_span(w, round, tasks.len() as u64);
                let park_start = round_end - self.poll_ns;
                let park_end = park_start + self.park_ns;
                if !lost && park_start >= mid {
                    lost = true;
                    b.push(
                        thread,
                        park_start,
                        Event::Lost {
                            chunks: 3,
                            events: 100,
                        },
                    );
                }
                // A pause of `scope` from the park's start, `len` long.
                let mut pause = |scope, len| {
                    let kind = PAUSE_KIND;
                    b.push(thread, park_start, Event::PauseBegin { kind, scope });
                    b.push(thread, park_start + len, Event::PauseEnd { kind, scope });
                };
                if !paused_process && park_start >= mid {
                    paused_process = true;
                    pause(PauseScope::Process, self.park_ns / 2);
                }
                if !paused_thread && park_start >= mid / 2 {
                    paused_thread = true;
                    pause(PauseScope::Thread, self.park_ns / 4);
                }
                if self.sample_ns > 0 {
                    let (alloc_bytes, free_bytes) = alloc_bytes_at_park(u64::from(round));
                    b.push(
                        thread,
                        park_start + self.park_ns / 2 + 1,
                        Event::AllocCounters {
                            allocs: 4,
                            frees: 2,
                            alloc_bytes,
                            free_bytes,
                        },
                    );
                }
                b.push(thread, park_start + self.park_ns / 2 + 1, Event::WorkerPark);
                b.push(thread, park_end - self.gap_ns, Event::WorkerUnpark);
            }
        }
        if self.blocking {
            let thread = self.workers + 1;
            let task = u64::from(self.tasks) + 1;
            b.thread(thread, "tokio-runtime-blocking");
            b.push(
                thread,
                0,
                Event::ThreadStart {
                    kind: ThreadKind::Blocking,
                    index: 0,
                },
            );
            let start = self.end() / 4;
            b.push(
                thread,
                start,
                Event::TaskSpawn {
                    task: TaskId(task),
                    kind: TaskKind::Blocking,
                    tokio_id: task,
                    parent: TaskId(1),
                    location: LocationId::NONE,
                    name: StringId::NONE,
                },
            );
            b.push(
                thread,
                start + 10,
                Event::BlockingStart { task: TaskId(task) },
            );
            b.push(thread, start + self.end() / 4, Event::BlockingEnd);
            b.push(
                thread,
                start + self.end() / 4 + 1,
                Event::TaskTerminate { task: TaskId(task) },
            );
        }
        if self.sample_ns > 0 {
            self.samples(&mut b);
        }
        b
    }

    /// The sampler thread: runtime samples, worker queues and the user counter. At sample
    /// `k`: global queue `k % 5`, alive tasks `tasks - k % 3`, worker `w`'s queue
    /// `(k + w) % 4`, the user counter `k % 10`.
    fn samples(&self, b: &mut TraceBuilder) {
        let thread = self.workers + 2;
        b.thread(thread, "trace-rt-sampler");
        b.push(
            thread,
            0,
            Event::ThreadStart {
                kind: ThreadKind::Other,
                index: 0,
            },
        );
        let end = self.end();
        let mut t = self.sample_ns;
        let mut k = 0u64;
        while t < end {
            b.push(
                thread,
                t,
                Event::RuntimeSample {
                    global_queue: k % 5,
                    alive_tasks: u64::from(self.tasks) - k % 3,
                    blocking_threads: 1,
                },
            );
            for w in 0..self.workers {
                b.push(
                    thread,
                    t,
                    Event::WorkerQueueSample {
                        worker: w,
                        depth: (k + u64::from(w)) % 4,
                    },
                );
            }
            b.push(
                thread,
                t,
                Event::Counter {
                    name: COUNTER_ID,
                    value: (k % 10) as i64,
                },
            );
            t += self.sample_ns;
            k += 1;
        }
    }

    /// The trace as file bytes.
    pub fn bytes(&self) -> Vec<u8> {
        self.build().to_bytes()
    }
}

/// `n` CPU samples over `stacks` distinct stacks of 20 to 60 frames drawn from 4 000 code
/// addresses, each resolved to one to three functions (inlined frames), the stacks sharing
/// their outer frames and a few stacks holding most samples, like a service's profile: what
/// the profile and flame-graph benchmarks build.
///
/// ```
/// let (code, samples) = trace_analysis::synthetic::cpu_profile(1000, 50);
/// assert_eq!(samples.len(), 1000);
/// assert!(samples.iter().all(|s| code.stack(s.stack).is_some()));
/// ```
pub fn cpu_profile(n: usize, stacks: u32) -> (CodeInfo, Vec<Sample>) {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let mut rand = move |m: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % m
    };
    const ADDRS: u64 = 4_000;
    let mut code = CodeInfo::default();
    let names: Vec<String> = (0..ADDRS)
        .map(|a| format!("app::module{}::function_{a}", a % 37))
        .collect();
    code.add_symbols(Symbols::build((0..ADDRS).map(|a| {
        let frames: Vec<_> = (0..1 + a % 3)
            .map(|i| {
                let f = names[((a + i * 977) % ADDRS) as usize].as_str();
                (f, Some("src/module.rs"), (a % 500 + i) as u32, 1)
            })
            .collect();
        (0x1000 + a * 16, frames)
    })));
    for id in 1..=stacks {
        // Stacks share their outer frames (main, the runtime), as real ones do.
        let depth = 20 + rand(41);
        let mut frames: Vec<u64> = (0..depth).map(|_| 0x1000 + rand(ADDRS) * 16).collect();
        let shared = (depth / 2) as usize;
        for (i, f) in frames.iter_mut().rev().take(shared).enumerate() {
            *f = 0x1000 + (i as u64 * 7 % ADDRS) * 16;
        }
        code.add_stack(id, frames);
    }
    let samples: Vec<Sample> = (0..n)
        .map(|i| Sample {
            time: i as u64 * 10_000,
            kind: SampleKind::Cpu,
            thread: ThreadIx((i % 8) as u32),
            task: TaskIx((i % 1000) as u32),
            // Skewed: a few stacks hold most samples.
            stack: StackId(
                1 + (rand(u64::from(stacks)) * rand(u64::from(stacks)) / u64::from(stacks)) as u32,
            ),
            weight: 10_101_010,
            size: 0,
            poll: Sample::NO_POLL,
        })
        .collect();

    (code, samples)
}
