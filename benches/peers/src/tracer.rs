//! The tracers: how each one is installed on a 2-worker runtime, and what it wrote.
//!
//! Each child process installs exactly one tracer (or none), because several of them are
//! process-global: a `tracing` subscriber can be set once, dial9 allows one recorder per
//! process, and trace-rt one session.

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::runtime::Runtime;

use crate::workload::Spawner;

/// Worker threads of every runtime (the budgets are stated for 2 workers).
pub const WORKERS: usize = 2;

/// A tracer configuration, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tracer {
    /// A plain runtime: the baseline.
    Untraced,
    /// A plain runtime in another build of this harness (`--baseline-exe`), normally one
    /// built with `--no-default-features`: no peers, and tokio without its `tracing`
    /// feature, to show what compiling that feature in costs.
    OtherBuild,
    /// trace-rt's hooks installed, nothing recording.
    RtIdle,
    /// trace-rt recording to a file, default mode (hooks, CPU samples at 99 Hz, the
    /// stalled-poll watchdog).
    Rt,
    /// trace-rt recording to a file with stacks off (`Config::stacks(false)`): what CPU
    /// sampling and the watchdog cost is the difference to `Rt`.
    RtNoStacks,
    /// trace-rt recording to a file with `trace_rt::wake_layer()` as the `tracing`
    /// subscriber (every wake, with its source).
    #[cfg(feature = "peers")]
    RtWakes,
    /// trace-rt's flight recorder: the last 10 s, at most 16 MiB, in memory.
    RtFlight,
    /// dial9 with tokio hooks and task tracking, tasks spawned with `tokio::spawn`.
    #[cfg(feature = "peers")]
    Dial9,
    /// dial9 as its README sets it up: task tracking, tasks spawned with `dial9::spawn`
    /// (which wraps each future's waker to record wakes).
    #[cfg(feature = "peers")]
    Dial9Spawn,
    /// tokio-console's `console-subscriber`, as `console_subscriber::init()` installs it.
    #[cfg(feature = "peers")]
    Console,
    /// tokio's `tracing` instrumentation into `tracing-chrome`, writing Chrome JSON.
    #[cfg(feature = "peers")]
    Chrome,
}

impl Tracer {
    /// Every tracer this build has, in report order (the baseline first).
    pub fn all() -> Vec<Tracer> {
        vec![
            Tracer::Untraced,
            Tracer::RtIdle,
            Tracer::Rt,
            Tracer::RtNoStacks,
            #[cfg(feature = "peers")]
            Tracer::RtWakes,
            Tracer::RtFlight,
            #[cfg(feature = "peers")]
            Tracer::Dial9,
            #[cfg(feature = "peers")]
            Tracer::Dial9Spawn,
            #[cfg(feature = "peers")]
            Tracer::Console,
            #[cfg(feature = "peers")]
            Tracer::Chrome,
        ]
    }

    /// The short name used on the command line and between the parent and its children.
    pub fn name(self) -> &'static str {
        match self {
            Tracer::Untraced => "untraced",
            Tracer::OtherBuild => "other-build",
            Tracer::RtIdle => "rt-idle",
            Tracer::Rt => "rt",
            Tracer::RtNoStacks => "rt-no-stacks",
            #[cfg(feature = "peers")]
            Tracer::RtWakes => "rt-wakes",
            Tracer::RtFlight => "rt-flight",
            #[cfg(feature = "peers")]
            Tracer::Dial9 => "dial9",
            #[cfg(feature = "peers")]
            Tracer::Dial9Spawn => "dial9-spawn",
            #[cfg(feature = "peers")]
            Tracer::Console => "console",
            #[cfg(feature = "peers")]
            Tracer::Chrome => "chrome",
        }
    }

    /// The label in the report.
    pub fn label(self) -> &'static str {
        match self {
            Tracer::Untraced => "untraced",
            Tracer::OtherBuild => "untraced, `--baseline-exe` build",
            Tracer::RtIdle => "trace-rt, instrumented, not recording",
            Tracer::Rt => "trace-rt recording (default mode)",
            Tracer::RtNoStacks => "trace-rt recording, stacks off",
            #[cfg(feature = "peers")]
            Tracer::RtWakes => "trace-rt recording + wakes (wake_layer)",
            Tracer::RtFlight => "trace-rt flight recorder (10 s / 16 MiB)",
            #[cfg(feature = "peers")]
            Tracer::Dial9 => "dial9 (hooks, tokio::spawn)",
            #[cfg(feature = "peers")]
            Tracer::Dial9Spawn => "dial9 + dial9::spawn (wakes)",
            #[cfg(feature = "peers")]
            Tracer::Console => "console-subscriber",
            #[cfg(feature = "peers")]
            Tracer::Chrome => "tracing + tracing-chrome",
        }
    }

    /// The tracer named `name`, if this build has it.
    pub fn parse(name: &str) -> Option<Tracer> {
        Tracer::all().into_iter().find(|t| t.name() == name)
    }

    /// Whether this is one of the peers (not trace-rt, not a baseline).
    pub fn is_peer(self) -> bool {
        !self.is_trace_rt() && !matches!(self, Tracer::Untraced | Tracer::OtherBuild)
    }

    /// Whether this is trace-rt (in any mode).
    pub fn is_trace_rt(self) -> bool {
        match self {
            Tracer::RtIdle | Tracer::Rt | Tracer::RtNoStacks | Tracer::RtFlight => true,
            #[cfg(feature = "peers")]
            Tracer::RtWakes => true,
            _ => false,
        }
    }

    /// Installs the tracer and builds the runtime it traces. Recording starts here, before
    /// the warm-up run, so that the file covers both runs.
    pub fn install(self, dir: &Path) -> Installed {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder.worker_threads(WORKERS).enable_all();
        let file = dir.join(format!("{}.trace", self.name()));
        let build = |b: &mut tokio::runtime::Builder| b.build().expect("build runtime");
        let (rt, guard, spawner) = match self {
            // The parent runs the other build's child as `untraced`; this arm only keeps
            // the match whole.
            Tracer::Untraced | Tracer::OtherBuild => {
                (build(&mut builder), Guard::None, Spawner::Tokio)
            }
            Tracer::RtIdle => {
                trace_rt::instrument(&mut builder);
                (build(&mut builder), Guard::None, Spawner::Tokio)
            }
            Tracer::Rt => {
                trace_rt::instrument(&mut builder);
                let rt = build(&mut builder);
                let session = trace_rt::start(&file).expect("start trace-rt");
                (rt, Guard::Session(session), Spawner::Tokio)
            }
            Tracer::RtNoStacks => {
                trace_rt::instrument(&mut builder);
                let rt = build(&mut builder);
                let session = trace_rt::Config::default()
                    .stacks(false)
                    .start(&file)
                    .expect("start trace-rt");
                (rt, Guard::Session(session), Spawner::Tokio)
            }
            #[cfg(feature = "peers")]
            Tracer::RtWakes => {
                use tracing_subscriber::prelude::*;
                // Before the runtime: wakes of tasks whose span was created while no
                // subscriber listened are not seen.
                tracing_subscriber::registry()
                    .with(trace_rt::wake_layer())
                    .init();
                trace_rt::instrument(&mut builder);
                let rt = build(&mut builder);
                let session = trace_rt::start(&file).expect("start trace-rt");
                (rt, Guard::Session(session), Spawner::Tokio)
            }
            Tracer::RtFlight => {
                trace_rt::instrument(&mut builder);
                let rt = build(&mut builder);
                let flight = trace_rt::FlightRecorder::start(Duration::from_secs(10), 16 << 20)
                    .expect("start flight recorder");
                (rt, Guard::Flight(flight), Spawner::Tokio)
            }
            #[cfg(feature = "peers")]
            Tracer::Dial9 | Tracer::Dial9Spawn => peers::dial9(self, builder, dir),
            #[cfg(feature = "peers")]
            Tracer::Console => {
                peers::console();
                (build(&mut builder), Guard::None, Spawner::Tokio)
            }
            #[cfg(feature = "peers")]
            Tracer::Chrome => {
                let guard = peers::chrome(&file);
                (build(&mut builder), guard, Spawner::Tokio)
            }
        };
        Installed {
            rt,
            guard,
            spawner,
            file,
        }
    }
}

/// What keeps a tracer recording; finishing it flushes the recording.
enum Guard {
    /// Nothing to finish (not recording, or a subscriber that lives as long as the process).
    None,
    /// A trace-rt session writing to [`Installed::file`].
    Session(trace_rt::Session),
    /// A trace-rt flight recorder (in memory).
    Flight(trace_rt::FlightRecorder),
    /// A dial9 recorder writing segments into the folder.
    #[cfg(feature = "peers")]
    Dial9(dial9::Recorder, PathBuf),
    /// tracing-chrome's writer, writing [`Installed::file`].
    #[cfg(feature = "peers")]
    Chrome(tracing_chrome::FlushGuard),
}

/// A runtime with its tracer installed.
pub struct Installed {
    /// The traced runtime.
    pub rt: Runtime,
    /// How the workload spawns its tasks under this tracer.
    pub spawner: Spawner,
    guard: Guard,
    file: PathBuf,
}

/// What a tracer wrote, once finished.
#[derive(Debug, Default)]
pub struct Output {
    /// Bytes of trace output on disk (0 for tracers that write no file).
    pub bytes: u64,
    /// Events in that output, where the tracer says (trace-rt's summary, dial9's decoder).
    pub events: Option<u64>,
    /// Events the tracer reported lost.
    pub lost: Option<u64>,
}

impl Installed {
    /// Stops the tracer, shuts the runtime down, and reports what the tracer wrote.
    pub fn finish(self) -> Output {
        let Installed {
            rt, guard, file, ..
        } = self;
        match guard {
            Guard::None => {
                drop(rt);
                Output::default()
            }
            Guard::Session(session) => {
                let summary = session.stop().expect("stop trace-rt");
                drop(rt);
                Output {
                    bytes: file_len(&file),
                    events: Some(summary.events),
                    lost: Some(summary.lost_events),
                }
            }
            Guard::Flight(flight) => {
                flight.stop().expect("stop flight recorder");
                drop(rt);
                Output::default()
            }
            #[cfg(feature = "peers")]
            Guard::Dial9(recorder, dir) => {
                // dial9's order: the runtime first (its workers flush their buffers as
                // they exit), then the recorder seals the last segment.
                drop(rt);
                recorder.graceful_shutdown(Duration::from_secs(30));
                peers::dial9_output(&dir)
            }
            #[cfg(feature = "peers")]
            Guard::Chrome(flush) => {
                drop(rt);
                // Dropping the guard writes the rest and closes the JSON array.
                drop(flush);
                Output {
                    bytes: file_len(&file),
                    events: None,
                    lost: None,
                }
            }
        }
    }
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// Set-up of the peers, each as its documentation recommends.
#[cfg(feature = "peers")]
mod peers {
    use super::*;
    use dial9::{Dial9HandleTokioExt, TokioAttachOptions};

    /// A dial9 recorder writing rotating segment files into `dir` (with a budget large
    /// enough that no segment is evicted), and the runtime attached to it with task
    /// tracking on, as dial9's README example does.
    pub fn dial9(
        tracer: Tracer,
        builder: tokio::runtime::Builder,
        dir: &Path,
    ) -> (Runtime, Guard, Spawner) {
        let dir = dir.join("dial9");
        let writer = dial9::DiskBuffer::builder()
            .base_path(&dir)
            .max_total_size(16 << 30)
            .max_file_size(4 << 30)
            .build();
        let recorder = dial9::recorder(writer.expect("dial9 trace writer")).build();
        let rt = recorder
            .handle()
            .attach_tokio_runtime(
                builder,
                TokioAttachOptions::builder()
                    .runtime_name("bench")
                    .task_tracking_enabled(true)
                    .build(),
            )
            .expect("attach dial9");
        let spawner = if tracer == Tracer::Dial9Spawn {
            Spawner::Dial9
        } else {
            Spawner::Tokio
        };
        (rt, Guard::Dial9(recorder, dir), spawner)
    }

    /// Sizes and event counts of dial9's segment files in `dir`.
    pub fn dial9_output(dir: &Path) -> Output {
        let mut out = Output {
            events: Some(0),
            ..Output::default()
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return out;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if !name.ends_with(".bin") {
                continue;
            }
            let Ok(data) = std::fs::read(&path) else {
                continue;
            };
            out.bytes += data.len() as u64;
            let mut n = 0u64;
            let counted = dial9::format::Decoder::new(&data)
                .map(|mut d| d.for_each_event(|_| n += 1).is_ok())
                .unwrap_or(false);
            // A segment the decoder cannot read leaves the count unknown, not too small.
            out.events = if counted {
                out.events.map(|e| e + n)
            } else {
                None
            };
        }
        out
    }

    /// `console_subscriber::init()`'s set-up (the console layer plus a `fmt` layer that
    /// prints errors only), with its gRPC server on an ephemeral loopback port instead of
    /// 6669 so that runs never collide. No console client connects: the cost is the
    /// layer and its aggregator, as in a service that keeps it on for when it is needed.
    pub fn console() {
        console_subscriber::ConsoleLayer::builder()
            .with_default_env()
            .server_addr(std::net::SocketAddrV4::new(
                std::net::Ipv4Addr::LOCALHOST,
                0,
            ))
            .init();
    }

    /// tokio's spans into tracing-chrome's layer (default options: threaded style, no
    /// arguments), writing `file`.
    pub fn chrome(file: &Path) -> Guard {
        use tracing_subscriber::prelude::*;
        let (layer, flush) = tracing_chrome::ChromeLayerBuilder::new().file(file).build();
        tracing_subscriber::registry().with(layer).init();
        Guard::Chrome(flush)
    }
}
