//! The stack intern table: maps a stack (its frames) to a [`StackId`] without allocating,
//! locking or blocking, so that signal handlers and the allocator can intern stacks. All
//! memory is allocated when the session starts (sized by the `Config`); a full table makes
//! [`StackTable::intern`] return [`StackId::NONE`] and count the loss.
//!
//! Layout: open-addressing hash `slots` (`hash32 << 32 | id`, 0: empty), one `entries` word
//! per id (`ready | len << 32 | offset` into `frames`), and a bump-allocated `frames` arena.
//! An inserter takes an id and room for its frames (`fetch_add`), writes the frames, then
//! publishes the entry with `Release` and only then claims a hash slot; readers (lookups,
//! the writer draining new stacks) read an entry with `Acquire` before its frames. Two
//! threads inserting the same new stack at once may both define it (two ids for one stack):
//! harmless, both definitions are written.

use std::sync::atomic::{AtomicU64, Ordering};

use trace_format::{StackDef, StackId};

/// Set in an entry whose frames are written.
const READY: u64 = 1 << 63;
/// Set (with `READY`) in an entry whose id was taken but whose frames found no room.
const DEAD: u64 = 1 << 62;
/// Slots looked at before giving up on a lookup or insertion.
const MAX_PROBES: usize = 64;

/// A lock-free, allocation-free intern table of stacks (see the module docs).
pub(crate) struct StackTable {
    slots: Box<[AtomicU64]>,
    /// Indexed by id (0 unused).
    entries: Box<[AtomicU64]>,
    frames: Box<[AtomicU64]>,
    next_id: AtomicU64,
    next_frame: AtomicU64,
    /// Stacks that found no room (the table or the arena full).
    pub(crate) lost: AtomicU64,
}

/// `n` zeroed atomics; zeroed memory comes from `calloc`, so an unused table costs address
/// space, not memory.
fn zeroed(n: usize) -> Box<[AtomicU64]> {
    let v: Box<[u64]> = vec![0u64; n].into_boxed_slice();
    // SAFETY: `AtomicU64` has the same size, alignment and bit validity as `u64`, and the
    // box is uniquely owned, so reinterpreting the allocation is sound.
    unsafe { Box::from_raw(Box::into_raw(v) as *mut [AtomicU64]) }
}

fn hash(frames: &[u64]) -> u64 {
    // FxHash-style mixing, finished with splitmix64's finaliser.
    let mut h = frames.len() as u64;
    for &f in frames {
        h = (h.rotate_left(5) ^ f).wrapping_mul(0x51_7C_C1_B7_27_22_0A_95);
    }
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^ (h >> 31)
}

impl StackTable {
    /// A table for up to `stacks` distinct stacks of `frames` frames in all.
    pub(crate) fn new(stacks: usize, frames: usize) -> Self {
        let stacks = stacks.clamp(1, u32::MAX as usize / 2);
        StackTable {
            slots: zeroed((stacks * 2).next_power_of_two()),
            entries: zeroed(stacks + 1),
            frames: zeroed(frames.min(u32::MAX as usize)),
            next_id: AtomicU64::new(1),
            next_frame: AtomicU64::new(0),
            lost: AtomicU64::new(0),
        }
    }

    /// The id of `frames` (innermost first), defining it if new; [`StackId::NONE`] for an
    /// empty stack or when the table is full (counted in `lost`). Async-signal-safe.
    pub(crate) fn intern(&self, frames: &[u64]) -> StackId {
        if frames.is_empty() {
            return StackId::NONE;
        }
        let h = hash(frames);
        let tag = h >> 32;
        let mask = self.slots.len() - 1;
        let mut i = h as usize & mask;
        // Our own definition, once made (its id).
        let mut mine = 0u64;
        for _ in 0..MAX_PROBES {
            let v = self.slots[i].load(Ordering::Acquire);
            if v != 0 {
                if v >> 32 == tag && self.matches(v & 0xFFFF_FFFF, frames) {
                    // Ours, if made, stays defined (a duplicate): still a valid id.
                    return StackId((v & 0xFFFF_FFFF) as u32);
                }
                i = (i + 1) & mask;
                continue;
            }
            if mine == 0 {
                mine = self.define(frames);
                if mine == 0 {
                    return StackId::NONE;
                }
            }
            match self.slots[i].compare_exchange(
                0,
                tag << 32 | mine,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return StackId(mine as u32),
                // Another inserter took the slot: look at what it put there.
                Err(_) => continue,
            }
        }
        if mine != 0 {
            // Defined but not findable (a long probe run): the id is still valid.
            return StackId(mine as u32);
        }
        self.lost.fetch_add(1, Ordering::Relaxed);
        StackId::NONE
    }

    /// Whether the published stack `id` has exactly `frames`.
    fn matches(&self, id: u64, frames: &[u64]) -> bool {
        let Some(e) = self.entries.get(id as usize) else {
            return false;
        };
        let e = e.load(Ordering::Acquire);
        if e & READY == 0 || e & DEAD != 0 {
            return false;
        }
        let (off, len) = (
            (e & 0xFFFF_FFFF) as usize,
            ((e >> 32) & 0x3FFF_FFFF) as usize,
        );
        len == frames.len()
            && self.frames[off..off + len]
                .iter()
                .zip(frames)
                .all(|(a, &b)| a.load(Ordering::Relaxed) == b)
    }

    /// Takes an id and room for `frames`, writes them and publishes the entry; 0 when full.
    fn define(&self, frames: &[u64]) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        if id as usize >= self.entries.len() {
            self.lost.fetch_add(1, Ordering::Relaxed);
            return 0;
        }
        let len = frames.len() as u64;
        let off = self.next_frame.fetch_add(len, Ordering::Relaxed);
        if off + len > self.frames.len() as u64 {
            self.entries[id as usize].store(READY | DEAD, Ordering::Release);
            self.lost.fetch_add(1, Ordering::Relaxed);
            return 0;
        }
        for (k, &f) in frames.iter().enumerate() {
            self.frames[off as usize + k].store(f, Ordering::Relaxed);
        }
        self.entries[id as usize].store(READY | len << 32 | off, Ordering::Release);
        id
    }

    /// Appends to `out` the stacks defined since id `*next` (initially 1) in id order, up to
    /// the first one still being written, and advances `*next` past them. With `all`, a
    /// stack still being written is skipped instead (at the stop: nothing will finish it).
    pub(crate) fn drain_new(&self, next: &mut u64, all: bool, out: &mut Vec<StackDef>) {
        let end = self
            .next_id
            .load(Ordering::Relaxed)
            .min(self.entries.len() as u64);
        while *next < end {
            let e = self.entries[*next as usize].load(Ordering::Acquire);
            if e & READY == 0 && !all {
                break;
            }
            if e & READY != 0 && e & DEAD == 0 {
                let (off, len) = (
                    (e & 0xFFFF_FFFF) as usize,
                    ((e >> 32) & 0x3FFF_FFFF) as usize,
                );
                out.push(StackDef {
                    id: *next as u32,
                    frames: self.frames[off..off + len]
                        .iter()
                        .map(|f| f.load(Ordering::Relaxed))
                        .collect(),
                });
            }
            *next += 1;
        }
    }

    /// Distinct stacks defined so far.
    pub(crate) fn defined(&self) -> u64 {
        (self
            .next_id
            .load(Ordering::Relaxed)
            .min(self.entries.len() as u64))
        .saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    fn drain(t: &StackTable) -> Vec<StackDef> {
        let mut next = 1;
        let mut out = Vec::new();
        t.drain_new(&mut next, true, &mut out);
        out
    }

    #[test]
    fn same_stack_same_id_and_drained_once() {
        let t = StackTable::new(16, 256);
        let a = t.intern(&[1, 2, 3]);
        let b = t.intern(&[1, 2, 4]);
        assert_ne!(a, StackId::NONE);
        assert_ne!(a, b);
        assert_eq!(t.intern(&[1, 2, 3]), a);
        assert_eq!(t.intern(&[]), StackId::NONE);
        let mut next = 1;
        let mut out = Vec::new();
        t.drain_new(&mut next, false, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].id, a.0);
        assert_eq!(out[0].frames, vec![1, 2, 3]);
        assert_eq!(out[1].frames, vec![1, 2, 4]);
        let c = t.intern(&[9]);
        out.clear();
        t.drain_new(&mut next, false, &mut out);
        assert_eq!(
            out,
            vec![StackDef {
                id: c.0,
                frames: vec![9]
            }]
        );
    }

    #[test]
    fn full_table_and_full_arena_count_losses() {
        let t = StackTable::new(2, 1000);
        assert_ne!(t.intern(&[1]), StackId::NONE);
        assert_ne!(t.intern(&[2]), StackId::NONE);
        assert_eq!(t.intern(&[3]), StackId::NONE);
        assert_eq!(t.lost.load(Ordering::Relaxed), 1);
        // Known stacks are still found.
        assert_eq!(t.intern(&[1]).0, 1);

        let t = StackTable::new(100, 4);
        assert_ne!(t.intern(&[1, 2, 3]), StackId::NONE);
        assert_eq!(t.intern(&[4, 5]), StackId::NONE);
        // A bump arena: once past its end, nothing more fits.
        assert_eq!(t.intern(&[6]), StackId::NONE);
        assert_eq!(t.lost.load(Ordering::Relaxed), 2);
        // The dead id is never drained.
        assert_eq!(drain(&t).len(), 1);
    }

    /// Several threads intern overlapping stacks at once (run under Miri too, see
    /// `.ci/miri`): every id they get stands for the stack they asked for.
    #[test]
    fn concurrent_interning_is_consistent() {
        let t = Arc::new(StackTable::new(64, 4096));
        let n = if cfg!(miri) { 6 } else { 200 };
        let handles: Vec<_> = (0..3u64)
            .map(|k| {
                let t = t.clone();
                std::thread::spawn(move || {
                    (0..n)
                        .map(|i| {
                            let s = [i % 5 + 1, (i + k) % 3 + 10, 42];
                            (s, t.intern(&s))
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        // A drain concurrent with the inserters, then one after them.
        let mut next = 1;
        let mut defs = Vec::new();
        t.drain_new(&mut next, false, &mut defs);
        let mut got = Vec::new();
        for h in handles {
            got.extend(h.join().unwrap());
        }
        t.drain_new(&mut next, false, &mut defs);
        assert_eq!(next, t.defined() + 1);
        for (s, id) in got {
            assert_ne!(id, StackId::NONE);
            let d = defs.iter().find(|d| d.id == id.0).expect("defined");
            assert_eq!(d.frames, s);
        }
    }
}
