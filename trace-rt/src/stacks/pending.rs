//! A thread's samples waiting to be written: what the signal handler appends to and the
//! thread drains into events before its next one. Written only by the thread's own signal
//! handler and read and emptied by the thread itself, so atomics that keep the compiler's
//! order (the handler runs between two instructions of its thread, never beside it)
//! suffice; allocation-free and lock-free, so the handler may push at any time, even in the
//! middle of a drain.
//!
//! An entry is (first time, last time, task, count << [`COUNT_SHIFT`] | kind << 32 |
//! stack), its last word 0 once written. A sample like the entry before it (same kind,
//! task and stack: a thread blocked in one place) counts into that entry, so a poll blocked
//! for seconds fills one; a counted entry is written as that many events, spread evenly
//! between its first and last time.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use trace_format::{Event, StackId, TaskId};

/// Entries a thread can hold before it writes them; more samples are lost (the caller
/// counts them). 8 KiB of thread-local memory per thread; enough for a poll running on the
/// CPU for about two seconds (CPU samples at 99 Hz plus its backed-off stall samples).
pub(crate) const PENDING: usize = 256;
/// An entry's count lives in the top bits of its kind-and-stack word.
const COUNT_SHIFT: u32 = 40;
const MAX_COUNT: u64 = (1 << (64 - COUNT_SHIFT)) - 1;
const KIND_AND_STACK: u64 = (1 << COUNT_SHIFT) - 1;

/// What a pending sample is.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Cpu = 1,
    Stall = 2,
}

/// A thread's pending samples (see the module docs).
pub(crate) struct Pending {
    len: AtomicU32,
    /// The session epoch the samples belong to.
    epoch: AtomicU64,
    items: [[AtomicU64; 4]; PENDING],
}

#[allow(clippy::declare_interior_mutable_const)]
const ITEM: [AtomicU64; 4] = [
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
];

impl Pending {
    /// An empty buffer (const: it lives in a const-initialised thread-local).
    pub(crate) const fn new() -> Pending {
        Pending {
            len: AtomicU32::new(0),
            epoch: AtomicU64::new(0),
            items: [ITEM; PENDING],
        }
    }

    /// Empties the buffer for session `epoch` (the thread attaches to it). Not while the
    /// handler may push: the thread's sampling is not started yet.
    pub(crate) fn reset(&self, epoch: u64) {
        self.epoch.store(epoch, Ordering::Relaxed);
        self.len.store(0, Ordering::Relaxed);
    }

    /// The session the samples belong to.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Relaxed)
    }

    /// Whether any sample waits (the one load the hot path pays).
    #[inline(always)]
    pub(crate) fn is_empty(&self) -> bool {
        self.len.load(Ordering::Relaxed) == 0
    }

    /// Adds a sample taken at `now` in `task` (0: none): counts it into the last entry when
    /// that is alike and not written yet, else appends it. False when the buffer is full
    /// (the sample is lost). Async-signal-safe.
    pub(crate) fn push(&self, now: u64, task: u64, kind: Kind, stack: StackId) -> bool {
        let n = self.len.load(Ordering::Relaxed) as usize;
        let word = (kind as u64) << 32 | u64::from(stack.0);
        if let Some(prev) = n.checked_sub(1).map(|i| &self.items[i]) {
            let w = prev[3].load(Ordering::Acquire);
            if w != 0
                && w & KIND_AND_STACK == word
                && prev[2].load(Ordering::Relaxed) == task
                && (w >> COUNT_SHIFT) < MAX_COUNT
            {
                prev[1].store(now, Ordering::Relaxed);
                prev[3].store(w + (1 << COUNT_SHIFT), Ordering::Release);
                return true;
            }
        }
        let Some(item) = self.items.get(n) else {
            return false;
        };
        item[0].store(now, Ordering::Relaxed);
        item[1].store(now, Ordering::Relaxed);
        item[2].store(task, Ordering::Relaxed);
        item[3].store(1 << COUNT_SHIFT | word, Ordering::Release);
        self.len.store(n as u32 + 1, Ordering::Release);
        true
    }

    /// Writes the pending samples as events through `write(time, event)`, which returns
    /// false when it cannot write now (the rest then stays pending, in order). Samples of
    /// another session than `epoch` are dropped. A push that interrupts this is kept: it
    /// lands in an entry this has not taken yet, and the buffer is emptied only if none
    /// came.
    pub(crate) fn drain(&self, epoch: u64, mut write: impl FnMut(u64, &Event<'_>) -> bool) {
        loop {
            let n = self.len.load(Ordering::Acquire);
            if n == 0 {
                return;
            }
            if self.epoch() == epoch {
                for item in &self.items[..n as usize] {
                    // Taken with one swap: a push from here on appends a new entry instead
                    // of counting into this one.
                    let word = item[3].swap(0, Ordering::AcqRel);
                    if word == 0 {
                        continue; // written by an earlier, interrupted drain
                    }
                    let (first, last) = (
                        item[0].load(Ordering::Relaxed),
                        item[1].load(Ordering::Relaxed),
                    );
                    let task = TaskId(item[2].load(Ordering::Relaxed));
                    let stack = StackId(word as u32);
                    let event = match (word >> 32) & 0xff {
                        k if k == Kind::Stall as u64 => Event::StallSample { task, stack },
                        _ => Event::CpuSample { task, stack },
                    };
                    let count = (word >> COUNT_SHIFT).max(1);
                    for i in 0..count {
                        let t = first + (last.saturating_sub(first)) * i / (count - 1).max(1);
                        if !write(t, &event) {
                            // The samples not written stay, from this one's time on.
                            item[0].store(t, Ordering::Relaxed);
                            item[3].store(
                                (count - i) << COUNT_SHIFT | (word & KIND_AND_STACK),
                                Ordering::Release,
                            );
                            return;
                        }
                    }
                }
            }
            // Empty the buffer unless a push appended meanwhile (then go again: what was
            // written is marked so).
            if self
                .len
                .compare_exchange(n, 0, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
            {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sample event as (time, kind, task, stack).
    type Sample = (u64, Kind, u64, u32);

    fn sample(t: u64, e: &Event<'_>) -> Sample {
        match *e {
            Event::StallSample { task, stack } => (t, Kind::Stall, task.0, stack.0),
            Event::CpuSample { task, stack } => (t, Kind::Cpu, task.0, stack.0),
            ref other => panic!("not a sample: {other:?}"),
        }
    }

    fn drained(p: &Pending, epoch: u64) -> Vec<Sample> {
        let mut out = Vec::new();
        p.drain(epoch, |t, e| {
            out.push(sample(t, e));
            true
        });
        out
    }

    #[test]
    fn alike_samples_count_into_one_entry_and_come_out_spread_in_time() {
        let p = Pending::new();
        p.reset(1);
        for t in [100, 200, 300, 400] {
            assert!(p.push(t, 7, Kind::Stall, StackId(3)));
        }
        // Another stack, then another task, then another kind: new entries.
        assert!(p.push(500, 7, Kind::Stall, StackId(4)));
        assert!(p.push(600, 8, Kind::Stall, StackId(4)));
        assert!(p.push(700, 8, Kind::Cpu, StackId(4)));
        assert_eq!(p.len.load(Ordering::Relaxed), 4);
        let out = drained(&p, 1);
        let times: Vec<u64> = out.iter().map(|s| s.0).collect();
        assert_eq!(times, [100, 200, 300, 400, 500, 600, 700]);
        assert_eq!(out[3], (400, Kind::Stall, 7, 3));
        assert_eq!(out[4], (500, Kind::Stall, 7, 4));
        assert_eq!(out[5], (600, Kind::Stall, 8, 4));
        assert_eq!(out[6], (700, Kind::Cpu, 8, 4));
        assert!(p.is_empty());
        // Another session's samples are dropped.
        p.push(1, 1, Kind::Cpu, StackId(1));
        assert!(drained(&p, 2).is_empty());
        assert!(p.is_empty());
    }

    #[test]
    fn a_full_buffer_refuses_new_entries_but_still_counts_alike_ones() {
        let p = Pending::new();
        p.reset(1);
        for i in 0..PENDING as u32 {
            assert!(p.push(u64::from(i), 1, Kind::Cpu, StackId(i + 1)));
        }
        assert!(!p.push(1000, 1, Kind::Cpu, StackId(99_999)));
        assert!(p.push(1001, 1, Kind::Cpu, StackId(PENDING as u32)));
        assert_eq!(drained(&p, 1).len(), PENDING + 1);
    }

    #[test]
    fn a_push_in_the_middle_of_a_drain_is_written_once_in_order() {
        let p = Pending::new();
        p.reset(1);
        p.push(10, 1, Kind::Stall, StackId(1));
        p.push(20, 1, Kind::Stall, StackId(1));
        p.push(30, 1, Kind::Stall, StackId(2));
        let mut out = Vec::new();
        let mut interrupted = false;
        p.drain(1, |t, e| {
            out.push(sample(t, e));
            if !interrupted {
                // The handler runs while the first entry is being written: like it, but
                // that entry is taken, so it is appended (after the last entry).
                interrupted = true;
                assert!(p.push(40, 1, Kind::Stall, StackId(1)));
            }
            true
        });
        let times: Vec<u64> = out.iter().map(|s| s.0).collect();
        assert_eq!(times, [10, 20, 30, 40]);
        assert_eq!(out[3], (40, Kind::Stall, 1, 1));
        assert!(p.is_empty());
    }

    #[test]
    fn a_refused_write_keeps_the_rest_for_later() {
        let p = Pending::new();
        p.reset(1);
        for t in [10, 20, 30] {
            p.push(t, 1, Kind::Stall, StackId(1));
        }
        p.push(40, 1, Kind::Cpu, StackId(2));
        // The recorder is busy after two events.
        let mut first = Vec::new();
        p.drain(1, |t, _| {
            if first.len() == 2 {
                return false;
            }
            first.push(t);
            true
        });
        assert_eq!(first, [10, 20]);
        assert!(!p.is_empty());
        let rest: Vec<u64> = drained(&p, 1).iter().map(|s| s.0).collect();
        assert_eq!(rest, [30, 40]);
    }
}
