//! Unit tests of the writer's pieces; the export as a whole is tested in
//! `trace-viewer/tests/chrome_export.rs` and the golden `chrome_*` cases.

use super::json::{Out, escape_into};
use super::plan::{Layout, Packer};
use crate::model::Nanos;

fn us(ns: Nanos) -> String {
    let mut out = Out::new(Vec::new());
    out.us(ns);
    String::from_utf8(out.buf).unwrap()
}

#[test]
fn microseconds_are_exact() {
    assert_eq!(us(0), "0.000");
    assert_eq!(us(7), "0.007");
    assert_eq!(us(1_234_567), "1234.567");
    assert_eq!(us(1_000), "1.000");
    assert_eq!(us(u64::MAX), "18446744073709551.615");
}

#[test]
fn strings_are_escaped() {
    let mut buf = Vec::new();
    escape_into(&mut buf, "a\"b\\c\nd\u{1}é");
    assert_eq!(String::from_utf8(buf).unwrap(), "a\\\"b\\\\c\\nd\\u0001é");
}

#[test]
fn packer_moves_only_partial_overlaps() {
    let mut p = Packer::default();
    assert_eq!(p.place(0, 100, 0), 0);
    assert_eq!(p.place(10, 20, 0), 0); // inside
    assert_eq!(p.place(20, 20, 0), 0); // zero-length at a boundary
    assert_eq!(p.place(50, 150, 0), 1); // partial overlap
    assert_eq!(p.place(100, 120, 0), 0); // after the first closed
    assert_eq!(p.place(110, 160, 0), 2); // overlaps lane 0's and lane 1's open ones
}

#[test]
fn tids_skip_the_pid() {
    let layout = Layout {
        pid: 3,
        tracks: vec![],
        pauses_base: 0,
        thread_base: vec![],
        task_base: vec![],
        counters: 0,
        extra_lanes: 0,
    };
    let tids: Vec<u32> = (0..4).map(|d| layout.tid(d)).collect();
    assert_eq!(tids, [1, 2, 4, 5]);
}
