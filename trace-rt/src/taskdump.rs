//! Task dumps at stop: where each task of every instrumented runtime waits when a recording
//! ends, written as `Meta::TaskDump` records (one per runtime).
//!
//! Built only with `--cfg tokio_taskdump` (beside `tokio_unstable`) on Linux x86, x86_64,
//! aarch64 and s390x, where tokio offers `Handle::dump`; elsewhere every function here does
//! nothing. This module owns the registry of runtimes seen recording (each thread that
//! polls or parks in a session registers its runtime once) and the bounded dump itself.
//!
//! The dump runs after recording is switched off (tokio re-polls every task in a tracing
//! mode, which must not read as polls) and before the writer finishes, so every way a
//! recording stops ([`crate::Session::stop`], [`crate::record_for`], `TRACE_RT_OUT`, the
//! HTTP trigger, a flight-recorder dump) records one. How it waits, so that no stop
//! deadlocks:
//! - a multi-thread runtime: a task spawned on it awaits `Handle::dump` and sends the result
//!   back; the stopping thread waits with a timeout (inside `block_in_place` when it is
//!   itself a worker, since tokio's dump needs every worker);
//! - a current-thread runtime stopped from its own thread (a task or `block_on`): its dump
//!   is synchronous there, so it is taken in place; from another thread, as above (it runs
//!   when the runtime next runs);
//! - symbol resolution (tokio's backtraces, file:line of each async fn) runs on a thread of
//!   its own, within the same bound.
//!
//! What did not finish in time is recorded as a `TaskDump` with its `error` saying so.

#[cfg(all(
    tokio_unstable,
    tokio_taskdump,
    target_os = "linux",
    any(
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "s390x"
    )
))]
mod imp {
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use tokio::runtime::{Handle, RuntimeFlavor};
    use trace_format::{DumpedTask, Meta, SymbolFrame, TaskDump};

    /// Runtimes that ran threads in a session: `(session epoch, runtime id, handle)`.
    static RUNTIMES: Mutex<Vec<(u64, String, Handle)>> = Mutex::new(Vec::new());

    /// Registers the current thread's runtime for the session `epoch` (once per thread per
    /// session, from the first poll or park: not per event). Entries of earlier sessions
    /// are dropped, so a runtime shut down since holds no handle here.
    pub(crate) fn register_current(epoch: u64) {
        let Ok(handle) = Handle::try_current() else {
            return;
        };
        let id = handle.id().to_string();
        let mut list = RUNTIMES.lock().unwrap_or_else(|p| p.into_inner());
        list.retain(|(e, _, _)| *e == epoch);
        if !list.iter().any(|(_, i, _)| *i == id) {
            list.push((epoch, id, handle));
        }
    }

    /// The runtimes to dump for session `epoch`: those with pool threads alive now (the
    /// sampler's list: a runtime idle for the whole recording is dumped too), and those
    /// whose threads polled or parked in the session (a current-thread runtime has no pool
    /// thread). Clears the session's list.
    fn take(epoch: u64) -> Vec<(String, Handle)> {
        let taken = std::mem::take(&mut *RUNTIMES.lock().unwrap_or_else(|p| p.into_inner()));
        let mut out: Vec<(String, Handle)> = Vec::new();
        let seen = taken
            .into_iter()
            .filter(|(e, _, _)| *e == epoch)
            .map(|(_, id, h)| (id, h));
        let alive = crate::sampler::runtimes()
            .into_iter()
            .map(|h| (h.id().to_string(), h));
        for (id, h) in alive.chain(seen) {
            if !out.iter().any(|(i, _)| *i == id) {
                out.push((id, h));
            }
        }
        out
    }

    /// Whether this build takes task dumps.
    pub(crate) const ENABLED: bool = true;

    /// Dumps every runtime registered in session `epoch`, all within `timeout` together;
    /// one record per runtime. Called with recording switched off.
    pub(crate) fn dump_all(epoch: u64, timeout: Duration) -> Vec<Meta> {
        let runtimes = take(epoch);
        if timeout.is_zero() {
            return Vec::new();
        }
        let deadline = Instant::now() + timeout;
        let current = Handle::try_current().ok();
        let mut pending = Vec::new();
        let mut out = Vec::new();
        // Ask every runtime first, so that they dump at the same time.
        for (id, handle) in runtimes {
            let time = crate::clock::now();
            let started = Instant::now();
            let own_thread = current.as_ref().is_some_and(|c| c.id() == handle.id())
                && handle.runtime_flavor() == RuntimeFlavor::CurrentThread;
            let (tx, rx) = mpsc::sync_channel::<tokio::runtime::Dump>(1);
            let mut early = None;
            // The task that asks for the dump is the recorder's, not the application's.
            let mut asking = None;
            if own_thread {
                // Its only thread is this one: a spawned task would never run while we
                // wait. Its dump is synchronous here (tokio re-polls its tasks in place).
                match poll_once(handle.dump()) {
                    Some(dump) => drop(tx.send(dump)),
                    None => {
                        early = Some(
                            "the current-thread runtime's dump did not finish in place".to_string(),
                        )
                    }
                }
            } else {
                let h = handle.clone();
                let task = handle.spawn(async move {
                    let _ = tx.send(h.dump().await);
                });
                asking = Some(crate::runtime::task_id(task.id()));
            }
            pending.push((id, time, started, rx, early, asking));
        }
        for (id, time, started, rx, early, asking) in pending {
            let left = deadline.saturating_duration_since(Instant::now());
            let got = wait(|| rx.recv_timeout(left));
            let mut record = TaskDump {
                runtime: id,
                time,
                ..TaskDump::default()
            };
            match got {
                _ if early.is_some() => record.error = early.unwrap_or_default(),
                Ok(dump) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    match resolve(dump, left) {
                        Ok((strings, mut tasks)) => {
                            tasks.retain(|t| Some(t.tokio_id) != asking);
                            record.strings = strings;
                            record.tasks = tasks;
                        }
                        Err(why) => record.error = why,
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    record.error = format!(
                        "the task dump timed out after {timeout:?}: a worker of this runtime \
                         did not answer (blocked, or the runtime was not running)"
                    );
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    record.error = "the runtime was shut down before its task dump".into();
                }
            }
            record.wait_ns = started.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64;
            out.push(Meta::TaskDump(record));
        }
        out
    }

    /// Runs `f` (a blocking wait) so that a worker of a multi-thread runtime calling it
    /// does not hold up that runtime's dump: tokio moves the worker's queue to another
    /// thread for the duration.
    fn wait<R>(f: impl FnOnce() -> R) -> R {
        // A worker of a multi-thread runtime (not `block_on`'s thread, nor a thread that
        // merely entered one: `block_in_place` panics there).
        let worker = tokio::runtime::worker_index().is_some()
            && Handle::try_current()
                .is_ok_and(|h| h.runtime_flavor() == RuntimeFlavor::MultiThread);
        if worker {
            tokio::task::block_in_place(f)
        } else {
            f()
        }
    }

    /// Polls a future that completes in one poll (a current-thread runtime's dump, asked
    /// for on its own thread), with a waker that does nothing.
    fn poll_once<F: std::future::Future>(f: F) -> Option<F::Output> {
        let mut f = std::pin::pin!(f);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match f.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(d) => Some(d),
            // Not expected: tokio's current-thread dump awaits nothing.
            std::task::Poll::Pending => None,
        }
    }

    type Resolved = (Vec<String>, Vec<DumpedTask>);

    /// Resolves the dump's backtraces to function, file and line on a thread of its own,
    /// waited for at most `left` (parsing debug information can take a while).
    fn resolve(dump: tokio::runtime::Dump, left: Duration) -> Result<Resolved, String> {
        let (tx, rx) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("trace-rt-taskdump".into())
            .spawn(move || {
                let _ = tx.send(resolve_now(&dump));
            })
            .map_err(|e| format!("could not start the thread that names the dump's code: {e}"))?;
        rx.recv_timeout(left).map_err(|_| {
            format!("naming the code of the task dump took longer than the time left ({left:?})")
        })
    }

    /// tokio's backtraces give each frame's address; names, files and lines come from the
    /// same resolver as the recording's stacks (blazesym), whose names of non-inlined
    /// functions are the symbol table's full paths (`app::wait_for_job::{{closure}}`) even
    /// where the debug information is line tables only (which names async bodies
    /// `{async_fn#0}`).
    fn resolve_now(dump: &tokio::runtime::Dump) -> Resolved {
        use crate::stacks::symbolize::{Addr, resolve as symbolize};
        let tasks: Vec<(u64, Vec<Vec<u64>>)> = dump
            .tasks()
            .iter()
            .map(|task| {
                let ips = task
                    .trace()
                    .resolve_backtraces()
                    .iter()
                    .map(|bt| bt.frames().map(|f| f.ip() as u64).collect())
                    .collect();
                (crate::runtime::task_id(task.id()), ips)
            })
            .collect();
        // Every frame's address is a return address (the leaf's is a call into tokio's
        // capture): looked up one byte before, as stack frames are.
        let addrs: Vec<Addr> = tasks
            .iter()
            .flat_map(|(_, bts)| bts.iter().flatten())
            .map(|&addr| Addr {
                addr,
                is_return: true,
            })
            .collect();
        let symbols = symbolize(&addrs).symbols;
        let mut strings = symbols.strings.clone();
        let full_names = symbol_table_names(&addrs);
        let mut by_addr: std::collections::HashMap<u64, Vec<SymbolFrame>> = HashMap::new();
        for a in &symbols.addrs {
            let mut frames = a.frames.clone();
            // The function the code belongs to (not inlined) comes last.
            if let (Some(last), Some(name)) = (frames.last_mut(), full_names.get(&a.addr)) {
                last.function = strings.len() as u32;
                strings.push(name.clone());
            }
            by_addr.insert(a.addr, frames);
        }
        let unknown = strings.len() as u32;
        strings.push("<unknown>".into());
        let tasks = tasks
            .into_iter()
            .map(|(tokio_id, bts)| DumpedTask {
                tokio_id,
                backtraces: bts
                    .iter()
                    .map(|ips| {
                        ips.iter()
                            .flat_map(|ip| match by_addr.get(ip) {
                                Some(frames) => frames.clone(),
                                None => vec![SymbolFrame {
                                    function: unknown,
                                    file: SymbolFrame::NO_FILE,
                                    line: 0,
                                    column: 0,
                                }],
                            })
                            .collect()
                    })
                    .collect(),
            })
            .collect();
        (strings, tasks)
    }

    /// The symbol table's (demangled, full-path) name of the function holding each address,
    /// without debug information: where that is line tables only, its function names are
    /// the compiler's short ones (`{async_fn#0}`), which name no async fn.
    fn symbol_table_names(addrs: &[crate::stacks::symbolize::Addr]) -> HashMap<u64, String> {
        use blazesym::Pid;
        use blazesym::symbolize::source::{Process, Source};
        use blazesym::symbolize::{Input, Symbolizer};
        let symbolizer = Symbolizer::builder()
            .enable_inlined_fns(false)
            .enable_code_info(false)
            .enable_demangling(true)
            .build();
        let mut process = Process::new(Pid::Slf);
        process.map_files = false;
        process.perf_map = false;
        process.debug_syms = false;
        let probes: Vec<u64> = addrs
            .iter()
            .map(|&a| crate::stacks::symbolize::probe(a))
            .collect();
        let Ok(results) = symbolizer.symbolize(&Source::Process(process), Input::AbsAddr(&probes))
        else {
            return HashMap::new();
        };
        addrs
            .iter()
            .zip(&results)
            .filter_map(|(a, r)| Some((a.addr, r.as_sym()?.name.to_string())))
            .collect()
    }
}

#[cfg(not(all(
    tokio_unstable,
    tokio_taskdump,
    target_os = "linux",
    any(
        target_arch = "x86",
        target_arch = "x86_64",
        target_arch = "aarch64",
        target_arch = "s390x"
    )
)))]
mod imp {
    /// Whether this build takes task dumps.
    pub(crate) const ENABLED: bool = false;

    #[inline]
    pub(crate) fn register_current(_epoch: u64) {}

    pub(crate) fn dump_all(_epoch: u64, _timeout: std::time::Duration) -> Vec<trace_format::Meta> {
        Vec::new()
    }
}

// One of the two `imp` modules above is built: dumps on a platform tokio dumps on, or none.
pub(crate) use imp::{ENABLED, dump_all, register_current};
