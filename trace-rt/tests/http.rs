//! The HTTP trigger, driven by a real HTTP client (`ureq`) against a real server on a
//! loopback port, with an instrumented runtime doing work in the background.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use trace_format::Trace;
use trace_rt::http::{Options, Server};

mod common;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

fn server(options: Options) -> Server {
    trace_rt::http::serve(options.addr("127.0.0.1:0".parse().unwrap())).unwrap()
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

/// A runtime that spawns short tasks until dropped.
struct Busy {
    rt: Option<tokio::runtime::Runtime>,
    stop: Arc<AtomicBool>,
}

impl Busy {
    fn start() -> Busy {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        trace_rt::instrument(&mut b);
        let rt = b.enable_all().build().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        rt.spawn(async move {
            while !s.load(Ordering::Relaxed) {
                tokio::spawn(async { tokio::time::sleep(Duration::from_millis(1)).await })
                    .await
                    .unwrap();
            }
        });
        Busy { rt: Some(rt), stop }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(rt) = self.rt.take() {
            rt.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

fn wait_until(what: &str, f: impl Fn() -> bool) {
    let started = Instant::now();
    while !f() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_recording_streams_back_and_a_second_one_is_refused() {
    let _g = common::serial();
    let _busy = Busy::start();
    let server = server(Options::default());
    let url = format!("http://{}/debug/trace?seconds=1.5", server.local_addr());
    let first = std::thread::spawn(move || {
        let mut r = agent().get(&url).call().unwrap();
        let status = r.status().as_u16();
        let kind = r.headers().get("content-type").cloned();
        let body = r.body_mut().with_config().limit(1 << 30).read_to_vec();
        (status, kind, body.unwrap())
    });
    wait_until("the first recording starts", trace_rt::is_recording);
    let started = Instant::now();
    let (status, body) = get(&server, "/debug/trace?seconds=1");
    let body = String::from_utf8(body).unwrap();
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("one at a time"), "{body}");

    let (status, kind, bytes) = first.join().unwrap();
    assert_eq!(status, 200);
    assert_eq!(kind.unwrap(), "application/octet-stream");
    assert!(started.elapsed() >= Duration::from_millis(1000));
    let trace = Trace::from_bytes(bytes).expect("the response is a trace file");
    trace.validate().unwrap();
    let end = trace.end().expect("a finished trace");
    assert_eq!(end.lost_events, 0);
    assert!(
        trace
            .header()
            .features
            .iter()
            .any(|(k, v)| k == "trigger" && v == "http")
    );
    let m = common::Model::build(&trace);
    assert!(
        m.tasks.values().filter(|t| t.terminate.is_some()).count() > 50,
        "{} tasks",
        m.tasks.len()
    );
    assert!(!trace_rt::is_recording());
    // And the next one may start (0.1 s, percent-encoded as a browser may send it).
    let (status, bytes) = get(&server, "/debug/trace?seconds=%30%2E1");
    assert_eq!(status, 200);
    assert!(Trace::from_bytes(bytes).unwrap().end().is_some());
}

#[test]
fn bad_requests_get_clear_answers() {
    let _g = common::serial();
    let server = server(Options::default().max_duration(Duration::from_secs(5)));
    let cases = [
        ("/debug/trace?seconds=10", 400, "maximum of 5 s"),
        ("/debug/trace?seconds=soon", 400, "number of seconds"),
        ("/debug/trace?seconds=0", 400, "above 0"),
        ("/debug/trace?file=/tmp/x", 400, "unknown query parameter"),
        ("/debug/trace?seconds=%ZZ", 400, "(got \"%ZZ\")"),
        (
            "/debug/trace?%66ile=/tmp/x",
            400,
            "unknown query parameter \"file\"",
        ),
        ("/debug/nope", 404, "no such page"),
        ("/debug/trace/flight", 404, "no flight recorder"),
        ("/debug/trace/", 200, "GET /debug/trace?seconds=N"),
    ];
    for (path, want, text) in cases {
        let (status, body) = get(&server, path);
        let body = String::from_utf8(body).unwrap();
        assert_eq!(status, want, "{path}: {body}");
        assert!(body.contains(text), "{path}: {body}");
    }
    assert!(!trace_rt::is_recording());
    let url = format!("http://{}/debug/trace", server.local_addr());
    let r = agent().post(&url).send("").unwrap();
    assert_eq!(r.status().as_u16(), 405);
    assert_eq!(r.headers().get("allow").unwrap(), "GET");
    assert!(!trace_rt::is_recording());
}

#[test]
fn a_client_that_hangs_up_ends_the_recording() {
    let _g = common::serial();
    let _busy = Busy::start();
    let server = server(Options::default());
    let url = format!("http://{}/debug/trace?seconds=50", server.local_addr());
    let r = agent().get(&url).call().unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert!(trace_rt::is_recording());
    let hung_up = Instant::now();
    drop(r);
    wait_until("the recording ends", || !trace_rt::is_recording());
    assert!(hung_up.elapsed() < Duration::from_secs(10));
}

#[test]
fn the_flight_recorder_snapshot_is_served() {
    let _g = common::serial();
    let _busy = Busy::start();
    let flight =
        Arc::new(trace_rt::FlightRecorder::start(Duration::from_secs(5), 8 << 20).unwrap());
    let server = server(Options::default().flight_recorder(flight.clone()));
    std::thread::sleep(Duration::from_millis(300));
    // The flight recorder is the process's recording: no second one.
    let (status, _) = get(&server, "/debug/trace?seconds=1");
    assert_eq!(status, 409);
    let (status, bytes) = get(&server, "/debug/trace/flight");
    assert_eq!(status, 200);
    let trace = Trace::from_bytes(bytes).unwrap();
    trace.validate().unwrap();
    assert!(
        trace
            .header()
            .features
            .iter()
            .any(|(k, _)| k == "flight_recorder")
    );
    assert!(common::Model::build(&trace).tasks.len() > 10);
    // It keeps recording after a snapshot.
    assert!(trace_rt::is_recording());
    drop(server);
    Arc::try_unwrap(flight).unwrap().stop().unwrap();
}

#[test]
fn a_taken_port_is_reported_at_once() {
    let first = server(Options::default());
    let err = trace_rt::http::serve(Options::default().addr(first.local_addr())).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&first.local_addr().to_string()), "{msg}");
}
