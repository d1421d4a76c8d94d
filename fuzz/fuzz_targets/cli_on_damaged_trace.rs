//! The `trace-viewer` command line on damaged traces: every command (`check`, `report` as
//! text and JSON, `mmu` with percentiles and worst windows, `export --chrome`) runs on the
//! bytes, exactly as the binary would, and must never panic or hang. Half the inputs are
//! resealed (see `reseal.rs`) so that damage reaches the model and the analysis.
//!
//! Also checks the exit codes' contract: a trace that `check` passes (exit 0) must report,
//! compute MMU and export with exit 0 too (except `mmu` on a trace without tokio workers,
//! which says so and exits 1).

#![no_main]

use std::io;
use std::path::PathBuf;
use std::sync::OnceLock;

use clap::Parser;
use libfuzzer_sys::fuzz_target;
use trace_viewer::cli::{self, Cli};

mod reseal;

fn scratch() -> &'static PathBuf {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = if std::path::Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        };
        dir.join(format!("trace-viewer-fuzz-{}.rtt", std::process::id()))
    })
}

/// Runs a command line; returns its exit code and what it wrote to stderr.
fn run(args: &[&str]) -> (u8, String) {
    let cli = Cli::try_parse_from(args).expect("fixed arguments parse");
    let mut err = Vec::new();
    let code = cli::run(cli, &mut io::sink(), &mut err);
    (code, String::from_utf8_lossy(&err).into_owned())
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = if mode & 1 == 1 {
        reseal::resealed(rest)
    } else {
        rest.to_vec()
    };
    let path = scratch();
    std::fs::write(path, &bytes).expect("scratch file");
    let file = path.to_str().expect("utf-8 scratch path");
    let (check, _) = run(&["trace-viewer", "check", file]);
    let others = [
        run(&["trace-viewer", "report", file]),
        run(&[
            "trace-viewer",
            "report",
            "--json",
            "--long-poll",
            "1us",
            file,
        ]),
        run(&[
            "trace-viewer",
            "mmu",
            file,
            "--windows",
            "1us,100us,10ms",
            "--percentiles",
            "--per-worker",
            "--worst",
            "2",
        ]),
        run(&["trace-viewer", "export", file, "--chrome", "/dev/null"]),
    ];
    for (code, err) in others {
        assert!(code <= cli::EXIT_INCOMPLETE, "exit code {code}");
        // A sound trace may still hold nothing to measure (`mmu` without workers).
        if check == cli::EXIT_OK && !err.contains("no tokio worker threads") {
            assert_eq!(
                code,
                cli::EXIT_OK,
                "check passed but a command failed: {err}"
            );
        }
    }
});
