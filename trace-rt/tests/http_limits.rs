//! What the HTTP trigger may cost the application it runs in: its file descriptors (idle
//! connections are capped and closed) and its memory (flight-recorder snapshots are streamed
//! from the ring, one at a time). A counting global allocator measures the memory.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use trace_format::{Event, Trace};
use trace_rt::http::{Options, Server};

mod common;

/// Counts the bytes allocated now and the most allocated at once since the last reset.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(size: usize) {
    let now = CURRENT.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

// SAFETY: every call is forwarded unchanged to `System`; the counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`; the caller upholds `realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn server(options: Options) -> Server {
    trace_rt::http::serve(options.addr("127.0.0.1:0".parse().unwrap())).unwrap()
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// GETs `path` and returns the status and the body.
fn get(server: &Server, path: &str) -> (u16, Vec<u8>) {
    let url = format!("http://{}{path}", server.local_addr());
    let mut r = agent().get(&url).call().unwrap();
    let body = r
        .body_mut()
        .with_config()
        .limit(1 << 30)
        .read_to_vec()
        .unwrap();
    (r.status().as_u16(), body)
}

/// This process's open file descriptors.
#[cfg(target_os = "linux")]
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Whether the server closed `stream`: reads (and discards) until end of file, a reset, or
/// `wait` without data.
fn closed_within(mut stream: &TcpStream, wait: Duration) -> bool {
    stream.set_read_timeout(Some(wait)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[cfg(target_os = "linux")]
#[test]
fn idle_connections_are_capped_and_do_not_keep_a_request_out() {
    let _g = common::serial();
    const CAP: usize = 8;
    const IDLE: usize = 40;
    // A header timeout far beyond the test: only the cap can close anything here.
    let server = server(
        Options::default()
            .max_connections(CAP)
            .header_read_timeout(Duration::from_secs(120)),
    );
    let before = open_fds();
    let idle: Vec<TcpStream> = (0..IDLE)
        .map(|_| TcpStream::connect(server.local_addr()).unwrap())
        .collect();
    // A real request, after all of them (the server accepts in order).
    let (status, body) = get(&server, "/debug/trace/");
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    // The server holds at most CAP of the idle connections: ours are IDLE of the new ones.
    let now = open_fds();
    assert!(
        now <= before + IDLE + CAP + 2,
        "{} new descriptors for {IDLE} idle connections with a cap of {CAP}",
        now - before
    );
    // The ones it let go of were closed, not left hanging.
    let closed = idle
        .iter()
        .filter(|s| closed_within(s, Duration::from_millis(200)))
        .count();
    assert!(closed >= IDLE - CAP, "only {closed} of {IDLE} closed");
}

#[test]
fn idle_connections_are_closed_after_the_header_read_timeout() {
    let _g = common::serial();
    let server = server(Options::default().header_read_timeout(Duration::from_millis(300)));
    let addr = server.local_addr();
    let mut streams: Vec<(&str, TcpStream)> = Vec::new();
    for _ in 0..5 {
        streams.push(("silent", TcpStream::connect(addr).unwrap()));
    }
    // Half a request head, then nothing (slowloris).
    let mut partial = TcpStream::connect(addr).unwrap();
    partial
        .write_all(b"GET /debug/trace/ HTTP/1.1\r\n")
        .unwrap();
    streams.push(("partial head", partial));
    // A whole request answered, then idle on a kept-alive connection.
    let mut kept = TcpStream::connect(addr).unwrap();
    kept.write_all(b"GET /debug/trace/ HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut first = [0u8; 12];
    kept.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    streams.push(("kept alive", kept));
    // Closed long before this (the default without a timeout is never).
    for (what, s) in &streams {
        assert!(
            closed_within(s, Duration::from_secs(20)),
            "{what} connection still open"
        );
    }
    // And the server still answers, also with a response that lasts longer than the
    // timeout (which is for the request head only).
    let (status, _) = get(&server, "/debug/trace/");
    assert_eq!(status, 200);
    let (status, bytes) = get(&server, "/debug/trace?seconds=0.8");
    assert_eq!(status, 200);
    let trace = Trace::from_bytes(bytes).unwrap();
    assert!(trace.end().is_some(), "the recording was cut");
}

#[test]
fn parallel_flight_snapshots_do_not_each_copy_the_ring() {
    let _g = common::serial();
    let config = trace_rt::Config::default()
        .buffer_size(4 << 20)
        .flush_interval(Duration::from_millis(10));
    let flight = Arc::new(
        trace_rt::FlightRecorder::start_with(config, Duration::from_secs(600), 16 << 20).unwrap(),
    );
    // Fill the ring: about 20 MB of counters (large values: ~12 bytes per event).
    let name = trace_rt::intern("fill");
    for i in 0..1_700_000i64 {
        trace_rt::raw::record(&Event::Counter {
            name,
            value: i64::MAX - i,
        });
    }
    // Room for every client: only the snapshots are limited here.
    let server = server(
        Options::default()
            .flight_recorder(flight.clone())
            .max_connections(32),
    );
    let (status, whole) = get(&server, "/debug/trace/flight");
    assert_eq!(status, 200);
    let size = whole.len();
    let trace = Trace::from_bytes(whole).unwrap();
    trace.validate().unwrap();
    assert!(trace.end().is_some());
    drop(trace);
    assert!(size > 8 << 20, "the ring holds only {size} bytes");

    // Twenty clients ask at once, and read no body until every one has its answer.
    const CLIENTS: usize = 20;
    let baseline = CURRENT.load(Ordering::Relaxed);
    PEAK.store(baseline, Ordering::Relaxed);
    let answered = Arc::new(Barrier::new(CLIENTS + 1));
    let read = Arc::new(Barrier::new(CLIENTS + 1));
    let url = format!("http://{}/debug/trace/flight", server.local_addr());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (url, answered, read) = (url.clone(), answered.clone(), read.clone());
            std::thread::spawn(move || {
                // Whatever happens, reach the barriers (a panic here would leave them waiting).
                let r = agent().get(&url).call();
                answered.wait();
                read.wait();
                let mut r = r.map_err(|e| e.to_string())?;
                let status = r.status().as_u16();
                let body = r.body_mut().with_config().limit(1 << 30).read_to_vec();
                Ok::<_, String>((status, body.map_err(|e| e.to_string())?))
            })
        })
        .collect();
    answered.wait();
    // Let the server go as far as it can while nobody reads.
    std::thread::sleep(Duration::from_millis(300));
    let peak = PEAK.load(Ordering::Relaxed) - baseline;
    read.wait();
    let answers: Vec<(u16, Vec<u8>)> = clients
        .into_iter()
        .map(|c| c.join().unwrap().expect("a client failed"))
        .collect();
    println!(
        "ring dump {size} bytes; {CLIENTS} parallel snapshot requests: peak {peak} bytes \
         allocated above the start ({:.2} dumps)",
        peak as f64 / size as f64
    );
    let mut sent = 0;
    for (status, body) in answers {
        match status {
            200 => {
                sent += 1;
                let trace = Trace::from_bytes(body).unwrap();
                trace.validate().unwrap();
                assert!(trace.end().is_some());
            }
            409 => assert!(
                String::from_utf8_lossy(&body).contains("one at a time"),
                "{}",
                String::from_utf8_lossy(&body)
            ),
            other => panic!("status {other}: {}", String::from_utf8_lossy(&body)),
        }
    }
    assert!(sent >= 1, "no snapshot was sent");
    assert!(
        peak < 2 * size,
        "{CLIENTS} parallel snapshots took {peak} bytes at once, a dump is {size}"
    );
    drop(server);
    Arc::try_unwrap(flight).unwrap().stop().unwrap();
}
