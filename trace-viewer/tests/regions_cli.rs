//! `trace-viewer regions`: `tracing` spans recorded by `trace_rt::layer()` from a real tokio
//! workload, grouped by route — exact counts per route, latencies that match what each route
//! does, per-request ids never splitting groups; and a trace without spans.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use tracing::Instrument;

const BIN: &str = env!("CARGO_BIN_EXE_trace-viewer");

/// The recorder is process-global: the tests take turns.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|p| p.into_inner())
}

fn regions(file: &Path, args: &[&str]) -> (i32, String, String) {
    let o = Command::new(BIN)
        .arg("regions")
        .arg(file)
        .args(args)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8(o.stdout).unwrap(),
        String::from_utf8(o.stderr).unwrap(),
    )
}

/// 300 fast requests, 200 that sleep 5 ms and 40 that sleep 30 ms, each a task instrumented
/// with a `request` span carrying its route and a unique id.
fn record(path: &Path) {
    use tracing_subscriber::prelude::*;
    let ours = tracing_subscriber::filter::Targets::new()
        .with_target("regions_cli", tracing::Level::TRACE);
    tracing_subscriber::registry()
        .with(trace_rt::layer().with_filter(ours))
        .init();
    let mut b = tokio::runtime::Builder::new_multi_thread();
    b.worker_threads(2);
    trace_rt::instrument(&mut b);
    let rt = b.enable_all().build().unwrap();
    let session = trace_rt::Config::default()
        .stacks(false)
        .start(path)
        .unwrap();
    rt.block_on(async {
        let mut handles = Vec::new();
        let routes = [("/fast", 300, 0), ("/sleep", 200, 5), ("/slow", 40, 30)];
        let mut id = 0u64;
        for (route, n, ms) in routes {
            for _ in 0..n {
                id += 1;
                handles.push(tokio::spawn(
                    async move {
                        if ms > 0 {
                            tokio::time::sleep(Duration::from_millis(ms)).await;
                        }
                        tokio::task::yield_now().await;
                    }
                    .instrument(tracing::info_span!("request", route, id)),
                ));
            }
        }
        for h in handles {
            h.await.unwrap();
        }
    });
    std::thread::sleep(Duration::from_millis(20));
    let summary = session.stop().unwrap();
    assert_eq!(summary.lost_events, 0, "{summary}");
}

#[test]
fn spans_group_by_route_with_exact_counts_and_latencies_that_match_the_routes() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("regions.rtt");
    record(&path);
    // Keep the recording where asked (the README's example output comes from it).
    if let Ok(keep) = std::env::var("REGIONS_CLI_KEEP") {
        std::fs::copy(&path, keep).unwrap();
    }

    let (code, out, err) = regions(&path, &["--by", "route", "--json"]);
    assert_eq!(code, 0, "{err}");
    let json: Value = serde_json::from_str(&out).unwrap();
    let groups = json["groups"].as_array().unwrap();
    let group = |route: &str| {
        groups
            .iter()
            .find(|g| g["name"] == "request" && g["fields"]["route"] == route)
            .unwrap_or_else(|| panic!("no group for {route}: {out}"))
    };
    let ms = |g: &Value, k: &str| g[k].as_u64().unwrap() as f64 / 1e6;
    let (fast, sleep, slow) = (group("/fast"), group("/sleep"), group("/slow"));
    assert_eq!(
        (
            fast["count"].as_u64(),
            sleep["count"].as_u64(),
            slow["count"].as_u64()
        ),
        (Some(300), Some(200), Some(40)),
        "{out}"
    );
    assert_eq!(groups.len(), 3, "{out}");
    // Latency is creation to close: at least the sleep, and the routes in order.
    assert!(ms(slow, "p50_ns") >= 30.0, "{slow}");
    assert!(ms(sleep, "p50_ns") >= 5.0, "{sleep}");
    assert!(ms(sleep, "p50_ns") < ms(slow, "p50_ns"), "{out}");
    assert!(ms(fast, "p50_ns") < ms(sleep, "p50_ns"), "{out}");
    // Sleeping spans are mostly idle.
    assert!(slow["busy_share"].as_f64().unwrap() < 0.5, "{slow}");

    // By default the route groups and the per-request id does not.
    let (code, out, _) = regions(&path, &["--json"]);
    assert_eq!(code, 0);
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["auto"], true);
    assert_eq!(json["by"]["request"], serde_json::json!(["route"]), "{out}");
    assert_eq!(json["groups"].as_array().unwrap().len(), 3, "{out}");

    // `report` carries the same groups, in its JSON and its text.
    let o = Command::new(BIN)
        .args(["report", "--json"])
        .arg(&path)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["regions"]["groups"].as_array().unwrap().len(), 3);
    let o = Command::new(BIN).arg("report").arg(&path).output().unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("route=/sleep"), "{text}");

    // Tasks grouped by what they serve: their root region, named with its fields.
    let o = Command::new(BIN)
        .args(["report", "--json", "--group-by", "region"])
        .arg(&path)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(report["breakdown"]["group_by"], "region");
    let tasks = |label: &str| {
        report["breakdown"]["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["label"] == label)
            .unwrap_or_else(|| panic!("no group {label}: {:#}", report["breakdown"]["groups"]))
            ["tasks"]
            .as_u64()
    };
    assert_eq!(tasks("region request route=/fast"), Some(300));
    assert_eq!(tasks("region request route=/sleep"), Some(200));
    assert_eq!(tasks("region request route=/slow"), Some(40));
    let o = Command::new(BIN)
        .args(["report", "--group-by", "spawn"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(2),
        "an unknown grouping is a usage error"
    );

    // The text form names the groups and what they are grouped by.
    let (code, out, _) = regions(&path, &[]);
    assert_eq!(code, 0);
    assert!(out.contains("request: route"), "{out}");
    assert!(out.contains("route=/slow"), "{out}");
    // No allocator and no CPU sampling in this recording: not measured, not zero.
    let slow = out.lines().find(|l| l.contains("route=/slow")).unwrap();
    assert!(
        slow.trim_end().ends_with("-") && !slow.contains(" 0 B"),
        "{slow}"
    );
    let (_, json, _) = regions(&path, &["--json"]);
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (&json["allocations_recorded"], &json["cpu_sampled"]),
        (&Value::Bool(false), &Value::Bool(false))
    );
}

#[test]
fn a_trace_without_spans_says_how_to_record_them() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.rtt");
    let session = trace_rt::Config::default()
        .stacks(false)
        .start(&path)
        .unwrap();
    trace_rt::counter("x", 1);
    session.stop().unwrap();
    let (code, out, err) = regions(&path, &["--json"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("trace_rt::layer()"), "{err}");
    let json: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["groups"].as_array().unwrap().len(), 0);
    // A file that is not a trace: exit 1 with the reason.
    let bad = dir.path().join("bad.rtt");
    std::fs::write(&bad, b"not a trace").unwrap();
    let (code, _, err) = regions(&bad, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.starts_with("error:"), "{err}");
}
