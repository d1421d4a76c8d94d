//! The task lanes' state stretches ([`for_each_segment`]), computed when a lane first comes
//! into view and kept, up to a bound.

use std::collections::HashMap;

use crate::app::open_trace::OpenTrace;
use trace_analysis::analysis::states::{Segment, for_each_segment};
use trace_analysis::model::TaskIx;

/// Each task's state stretches ([`for_each_segment`]), computed when its lane first comes
/// into view and kept, up to a bound on the segments held (then the cache starts over).
#[derive(Debug, Default)]
pub struct SegmentCache {
    map: HashMap<TaskIx, Vec<Segment>>,
    held: usize,
}

impl SegmentCache {
    /// Segments held at most before the cache is emptied (24 bytes each).
    pub const MAX_SEGMENTS: usize = 8_000_000;

    /// The segments of `task`, by time.
    pub fn get(&mut self, trace: &OpenTrace, task: TaskIx) -> &[Segment] {
        if !self.map.contains_key(&task) {
            let mut v = Vec::with_capacity(trace.model.task_poll_count(task) as usize * 3 + 2);
            for_each_segment(&trace.model, task, &trace.paused, |s| v.push(s));
            v.shrink_to_fit();
            if self.held + v.len() > Self::MAX_SEGMENTS {
                self.map.clear();
                self.held = 0;
            }
            self.held += v.len();
            self.map.insert(task, v);
        }
        &self.map[&task]
    }

    /// Forgets everything (a new trace).
    pub fn clear(&mut self) {
        self.map.clear();
        self.held = 0;
    }
}
