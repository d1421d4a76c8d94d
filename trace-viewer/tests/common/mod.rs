//! Helpers shared by the window's headless tests (`app_*.rs`): open a trace in an
//! egui_kittest harness, step until something holds, click.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use egui::{Event, Modifiers, PointerButton, Pos2, vec2};
use egui_kittest::Harness;
use trace_analysis::synthetic::Synthetic;
use trace_viewer::app::ViewerApp;

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

pub fn harness(path: Option<PathBuf>) -> Harness<'static, ViewerApp> {
    Harness::builder()
        .with_size(vec2(1400.0, 900.0))
        .build_eframe(move |cc| ViewerApp::new(&cc.egui_ctx, path))
}

/// Steps until `ready` holds (within a minute), then settles a few frames.
pub fn wait_for(h: &mut Harness<'_, ViewerApp>, what: &str, ready: impl Fn(&ViewerApp) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ready(h.state()) {
        assert!(Instant::now() < deadline, "{what} did not come in time");
        std::thread::sleep(Duration::from_millis(5));
        h.step();
    }
    h.run_steps(3);
}

/// Steps until the opening in progress has finished.
pub fn wait_opened(h: &mut Harness<'_, ViewerApp>) {
    wait_for(h, "the trace", |a| !a.is_opening());
}

/// Writes `s` to a temporary file and opens it in a new window.
pub fn open(s: &Synthetic) -> (tempfile::TempDir, Harness<'static, ViewerApp>) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "synthetic.rtt", &s.bytes());
    let mut h = harness(Some(path));
    wait_opened(&mut h);
    (dir, h)
}

/// A primary click at `pos`.
pub fn click(h: &Harness<'_, ViewerApp>, pos: Pos2) {
    h.event(Event::PointerMoved(pos));
    for pressed in [true, false] {
        h.event(Event::PointerButton {
            pos,
            button: PointerButton::Primary,
            pressed,
            modifiers: Modifiers::NONE,
        });
    }
}
