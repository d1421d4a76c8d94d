//! The window's MMU view, driven headless with egui_kittest: the worst-window list shows
//! every entry (and scrolls where the window is short); a trace with long polls shows the
//! responsiveness curve beside the pause curve by default, and hovering reads both curves'
//! utilization, not only the window.

use egui::{Event, Modifiers, MouseWheelUnit, Pos2, Rect, TouchPhase, vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use trace_analysis::synthetic::Synthetic;
use trace_viewer::app::mmu::data::WORST;
use trace_viewer::app::mmu::panel::{
    BESIDE, WORST_OF_BESIDE, WORST_OF_PAUSES, beside_name, hover_label, window_start,
};
use trace_viewer::app::{TAB_MMU, ViewerApp};

mod common;
use common::*;

fn opened(s: &Synthetic, size: egui::Vec2) -> (tempfile::TempDir, Harness<'static, ViewerApp>) {
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "mmu.rtt", &s.bytes());
    let mut h = Harness::builder()
        .with_size(size)
        .build_eframe(move |cc| ViewerApp::new(&cc.egui_ctx, Some(path)));
    wait_opened(&mut h);
    h.get_by_label(TAB_MMU).click();
    wait_for(&mut h, "the MMU curves", |a| {
        a.trace_view().is_some_and(|s| s.mmu.curves.get().is_some())
    });
    (dir, h)
}

/// The worst windows' links, in list order.
fn worst_labels(h: &Harness<'_, ViewerApp>, window: u64) -> Vec<String> {
    h.state()
        .trace_view()
        .unwrap()
        .mmu
        .view
        .worst
        .iter()
        .map(|w| {
            format!(
                "at {}: utilization {:.1}%",
                window_start(w.start, window),
                w.utilization * 100.0
            )
        })
        .collect()
}

#[test]
fn every_worst_window_is_on_screen_and_a_short_window_scrolls_the_list() {
    let size = vec2(1400.0, 900.0);
    let (_dir, mut h) = opened(&Synthetic::default(), size);
    h.get_by_label("10 µs").click();
    h.run_steps(3);
    let labels = worst_labels(&h, 10_000);
    assert_eq!(labels.len(), WORST);
    let screen = Rect::from_min_size(Pos2::ZERO, size);
    for l in &labels {
        let r = h.get_by_label(l).rect();
        assert!(screen.contains_rect(r), "{l} at {r:?}, off the window");
    }

    // A short window: the list keeps a usable height and scrolls to its last entry.
    let size = vec2(1000.0, 460.0);
    let (_dir, mut h) = opened(&Synthetic::default(), size);
    h.get_by_label("10 µs").click();
    h.run_steps(3);
    let labels = worst_labels(&h, 10_000);
    let screen = Rect::from_min_size(Pos2::ZERO, size);
    let first = h.get_by_label(&labels[0]).rect();
    assert!(screen.contains_rect(first), "{first:?}");
    let last = |h: &Harness<'_, ViewerApp>| h.get_by_label(labels.last().unwrap()).rect();
    assert!(
        !screen.contains_rect(last(&h)),
        "{:?} fits already",
        last(&h)
    );
    for _ in 0..10 {
        h.event(Event::PointerMoved(first.center()));
        h.event(Event::MouseWheel {
            unit: MouseWheelUnit::Point,
            delta: vec2(0.0, -120.0),
            phase: TouchPhase::Move,
            source: egui::MouseWheelSource::Wheel,
            modifiers: Modifiers::NONE,
        });
        h.run_steps(2);
    }
    assert!(
        screen.contains_rect(last(&h)),
        "{:?} scrolled out of reach",
        last(&h)
    );
}

#[test]
fn long_polls_show_the_responsiveness_curve_beside_the_pause_curve_by_default() {
    // Every poll takes 2 ms and nothing pauses: the pause curve is a flat 100%.
    let s = Synthetic {
        poll_ns: 2_000_000,
        pauses: false,
        ..Synthetic::default()
    };
    let (_dir, mut h) = opened(&s, vec2(1400.0, 900.0));
    wait_for(&mut h, "the responsiveness curve", |a| {
        a.trace_view().unwrap().mmu.beside.get().is_some()
    });
    let name = beside_name(1_000_000);
    assert_eq!(name, "MMU, polls > 1 ms unavailable");
    {
        let mmu = &h.state().trace_view().unwrap().mmu;
        assert_eq!(mmu.view.long_poll, None, "the default settings");
        let plain = mmu.curves.get().unwrap();
        let beside = mmu.beside_curve().expect("long polls: the curve beside");
        assert_eq!(plain.mmu[0], 1.0);
        assert_eq!(beside.mmu[0], 0.0, "a worker inside a 2 ms poll");
        // Hovering between the curves' points reads both, at the window hovered.
        let x = ((plain.windows[10] as f64).log10() + (plain.windows[11] as f64).log10()) / 2.0;
        let label = hover_label(plain, Some((&name, beside)), "", x, 0.5);
        assert!(label.starts_with("window "), "{label}");
        assert!(label.contains("\nMMU: 100.0%"), "{label}");
        assert!(label.contains(&format!("\n{name}: 0.0%")), "{label}");
        // Near one curve's point: that curve's value.
        let near = hover_label(plain, None, "MMU", x, 0.25);
        assert!(near.ends_with(": 25.0%"), "{near}");
    }
    // In the legend, and said above the plot.
    h.get_by_label(&name);
    h.get_by_label_contains(&format!("{name}: mean utilization"));
    // The worst windows come from it: inside a long poll, where the pause curve's are not.
    h.get_by_label("10 µs").click();
    h.run_steps(3);
    let worst = |h: &Harness<'_, ViewerApp>| h.state().trace_view().unwrap().mmu.view.worst[0];
    assert_eq!(worst(&h).utilization, 0.0);
    h.get_by_label(WORST_OF_PAUSES).click();
    h.run_steps(3);
    assert_eq!(worst(&h).utilization, 1.0);
    h.get_by_label(WORST_OF_BESIDE).click();
    h.run_steps(3);
    assert_eq!(worst(&h).utilization, 0.0);
    // Unticked, it is gone (the worst windows are the pause curve's); ticked again, back.
    h.get_by_label(BESIDE).click();
    h.run_steps(3);
    assert!(h.state().trace_view().unwrap().mmu.beside_curve().is_none());
    assert!(h.query_by_label_contains(&name).is_none());
    assert!(h.query_by_label(WORST_OF_BESIDE).is_none());
    assert_eq!(worst(&h).utilization, 1.0);
    h.get_by_label(BESIDE).click();
    h.run_steps(3);
    assert!(h.state().trace_view().unwrap().mmu.beside_curve().is_some());
}

#[test]
fn without_long_polls_the_pause_curve_is_not_drawn_twice() {
    let (_dir, mut h) = opened(&Synthetic::default(), vec2(1400.0, 900.0));
    wait_for(&mut h, "the responsiveness check", |a| {
        a.trace_view().unwrap().mmu.beside.get().is_some()
    });
    let mmu = &h.state().trace_view().unwrap().mmu;
    assert!(mmu.view.beside);
    assert!(mmu.beside_curve().is_none());
    assert!(h.query_by_label_contains(&beside_name(1_000_000)).is_none());
}
