//! Spans: each `tracing` span as one region ([`SpanRegion`]), from its creation
//! (`SpanNew`) to its close (`SpanClose`), busy while entered — its `RegionBegin`/`RegionEnd`
//! segments on any thread, [`Thread::regions`] — and idle in between. A span entered once
//! more when `tracing`'s `Instrumented` drops the future it wraps is one more busy segment
//! of the same span, not a second region.
//!
//! Span ids are unique only among open spans: a segment belongs to the span of its id open
//! at the segment's start. Segments of spans created before the recording (no `SpanNew`)
//! belong to no [`SpanRegion`]. The rows are assembled from every thread's span events
//! ([`SpanMark`], collected by `decode`) by [`assemble_spans`].

use std::collections::HashMap;

use trace_format::{Level, StringId};

use super::tables::{Nanos, Region, Span, SpanRegion, TaskIx};

/// A span event of one thread, as `decode` collects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SpanMark {
    New {
        id: u64,
        parent: u64,
        name: StringId,
        target: StringId,
        level: Level,
        fields: String,
    },
    Record {
        id: u64,
        fields: String,
    },
    Close {
        id: u64,
    },
}

/// Builds the spans from every thread's span events (each `(time, mark)`) and region
/// segments (each thread's [`super::Thread::regions`]); spans still open end at `end`.
pub(super) fn assemble_spans<'a>(
    marks: Vec<(Nanos, SpanMark)>,
    segments: impl IntoIterator<Item = &'a [Region]>,
    end: Nanos,
) -> Vec<SpanRegion> {
    let mut marks = marks;
    marks.sort_by_key(|m| m.0);
    let mut spans: Vec<SpanRegion> = Vec::new();
    // Open spans by id, and every span's lifetime by id (for the segments).
    let mut open: HashMap<u64, u32> = HashMap::new();
    let mut lives: HashMap<u64, Vec<u32>> = HashMap::new();
    for (t, mark) in marks {
        match mark {
            SpanMark::New {
                id,
                parent,
                name,
                target,
                level,
                fields,
            } => {
                let ix = spans.len() as u32;
                // The same id still open: its close was lost; it ends here.
                if let Some(old) = open.insert(id, ix) {
                    spans[old as usize].span.end = t;
                }
                spans.push(SpanRegion {
                    id,
                    parent: (parent != 0).then(|| open.get(&parent).copied()).flatten(),
                    name,
                    target,
                    level,
                    fields,
                    span: Span::new(t, end),
                    busy: 0,
                    enters: 0,
                    task: TaskIx::NONE,
                    closed: false,
                });
                lives.entry(id).or_default().push(ix);
            }
            SpanMark::Record { id, fields } => {
                if let Some(&ix) = open.get(&id) {
                    let f = &mut spans[ix as usize].fields;
                    if !f.is_empty() {
                        f.push(' ');
                    }
                    f.push_str(&fields);
                }
            }
            SpanMark::Close { id } => {
                if let Some(ix) = open.remove(&id) {
                    let s = &mut spans[ix as usize];
                    s.span = Span::new(s.span.start, t);
                    s.closed = true;
                }
            }
        }
    }
    // Each segment goes to the span of its id alive at its start (the latest created at or
    // before it).
    for regions in segments {
        for r in regions {
            let Some(list) = lives.get(&r.id) else {
                continue;
            };
            let k = list.partition_point(|&ix| spans[ix as usize].span.start <= r.span.start);
            let Some(&ix) = k.checked_sub(1).and_then(|k| list.get(k)) else {
                continue;
            };
            let s = &mut spans[ix as usize];
            if s.closed && r.span.start > s.span.end {
                continue; // after its close: a later span of a reused id not recorded
            }
            // (A span entered again while entered, which `tracing` allows, counts both.)
            s.busy += r.span.len();
            if s.enters == 0 || r.span.start < s.span.start {
                s.task = r.task;
            }
            s.enters += 1;
        }
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(id: u64, parent: u64, fields: &str) -> SpanMark {
        SpanMark::New {
            id,
            parent,
            name: StringId(1),
            target: StringId(2),
            level: Level::Info,
            fields: fields.into(),
        }
    }

    fn segment(id: u64, start: Nanos, end: Nanos) -> Region {
        Region {
            span: Span::new(start, end),
            id,
            name: StringId(1),
            task: TaskIx(3),
            depth: 0,
            cut: false,
        }
    }

    #[test]
    fn a_span_entered_per_poll_and_on_drop_is_one_region_with_busy_and_idle_time() {
        let marks = vec![
            (10, new(5, 0, "route=/a id=1")),
            (
                100,
                SpanMark::Record {
                    id: 5,
                    fields: "status=200".into(),
                },
            ),
            (200, SpanMark::Close { id: 5 }),
        ];
        // Two polls and the enter on drop.
        let regions = [segment(5, 20, 30), segment(5, 50, 70), segment(5, 190, 195)];
        let spans = assemble_spans(marks, [&regions[..]], 1000);
        assert_eq!(spans.len(), 1);
        let s = &spans[0];
        assert_eq!((s.span.start, s.span.end, s.closed), (10, 200, true));
        assert_eq!((s.busy, s.enters, s.idle()), (35, 3, 155));
        assert_eq!(s.field("route"), Some("/a"));
        assert_eq!(s.field("status"), Some("200"));
        assert_eq!(s.task, TaskIx(3));
    }

    #[test]
    fn reused_ids_parents_and_spans_left_open() {
        let marks = vec![
            (0, new(1, 0, "")),
            (1, new(2, 1, "n=1")),
            (5, SpanMark::Close { id: 2 }),
            (6, new(2, 1, "n=2")), // the id again, after its close
            (9, SpanMark::Close { id: 1 }),
        ];
        let regions = [segment(2, 2, 4), segment(2, 7, 8), segment(7, 1, 2)];
        let spans = assemble_spans(marks, [&regions[..]], 50);
        assert_eq!(spans.len(), 3);
        assert_eq!(spans[1].parent, Some(0));
        assert_eq!(spans[2].parent, Some(0));
        assert_eq!((spans[1].busy, spans[2].busy), (2, 1));
        // Never closed: ends at the end of the data.
        assert_eq!((spans[2].span.end, spans[2].closed), (50, false));
        // Segment of an id never created while recording: no span.
        assert!(spans.iter().all(|s| s.id != 7));
    }
}
