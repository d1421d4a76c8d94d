//! The compact forms of stacks and symbols ([`Meta::PackedStacks`],
//! [`Meta::PackedSymbols`]): how they are built from plain stacks and symbol tables and read
//! back. The plain forms spend about 7 bytes per frame of every stack (absolute addresses)
//! and keep long names and paths as they are; a trace's CPU samples each meet a stack, so
//! that cost is paid per sample.
//!
//! - A stack takes the outer frames it shares with an earlier stack from that stack (its
//!   *base*), and stores only its own inner frames, each as a small difference from a
//!   nearby address. [`StackPacker`] picks for each stack the earlier stack that shares the
//!   most outer frames with it, in bounded memory; [`unpack_stacks`] reads them back.
//! - A symbol table has its addresses sorted and delta-coded, and is compressed whole with
//!   DEFLATE (names and paths repeat their module and directory prefixes): [`pack_symbols`],
//!   [`unpack_symbols`].
//!
//! ```
//! use trace_format::pack::{StackPacker, unpack_stacks};
//! use trace_format::StackDef;
//! let defs = vec![
//!     StackDef { id: 1, frames: vec![0x5555_0000_1010, 0x5555_0000_2020, 0x5555_0000_3030] },
//!     StackDef { id: 2, frames: vec![0x5555_0000_1018, 0x5555_0000_2020, 0x5555_0000_3030] },
//! ];
//! let packed = StackPacker::default().pack(&defs);
//! assert_eq!((packed[1].base_back, packed[1].shared, packed[1].own.as_slice()), (1, 2, &[8][..]));
//! let mut known = std::collections::HashMap::new();
//! unpack_stacks(&packed, &mut known).unwrap();
//! assert_eq!(known[&2], defs[1].frames);
//! ```

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::meta::{AddrSymbol, PackedStack, PackedSymbols, StackDef, SymbolFrame, Symbols};

/// The most frames a packed stack may have when read back: a reader refuses deeper ones
/// (trace-rt cuts stacks at 128 frames), so that a few bytes naming a deep base cannot make
/// it build huge stacks over and over.
pub const MAX_FRAMES: usize = 1024;

/// Frames a [`StackPacker`] remembers (8 bytes each, plus a trie node per frame not shared
/// with an earlier stack): 4 MiB of frames, a quarter of trace-rt's default stack table.
/// Stacks met once the budget is spent are packed against the ones remembered, and are not
/// remembered themselves.
const PACKER_FRAMES: usize = 1 << 19;

/// The address a stack's own frame `i` (innermost first) is stored relative to: the base's
/// frame at the same depth from the outermost frame, when that is one of the base's own
/// frames (a sample in the same function as its base's lands a few bytes away), otherwise
/// `outer`, the frame just outside frame `i` (0 for a stack's outermost frame).
fn reference(base: &[u64], shared: usize, n: usize, i: usize, outer: u64) -> u64 {
    let m = base.len();
    match (i + m).checked_sub(n) {
        Some(j) if j < m - shared => base[j],
        _ => outer,
    }
}

/// The [`PackedStack::own`] of a stack of `frames` whose last `shared` frames are the last
/// `shared` frames of `base` (the caller checks that they are).
pub fn own_deltas(base: &[u64], shared: usize, frames: &[u64]) -> Vec<i64> {
    let n = frames.len();
    (0..n.saturating_sub(shared))
        .map(|i| {
            let outer = frames.get(i + 1).copied().unwrap_or(0);
            frames[i].wrapping_sub(reference(base, shared, n, i, outer)) as i64
        })
        .collect()
}

/// Builds [`PackedStack`]s. It must see every stack written to a trace, in file order (a
/// stack is only ever based on one it has packed before).
#[derive(Debug)]
pub struct StackPacker {
    /// A trie of the stacks remembered, from the outermost frame in: `(node, frame)` to the
    /// child node (node 0 is the root).
    children: HashMap<(u32, u64), u32>,
    /// Per node (index `node - 1`), the latest stack whose outer frames lead to it.
    latest: Vec<u32>,
    /// The frames of the stacks remembered.
    frames: HashMap<u32, Vec<u64>>,
    /// Frames held in `frames`.
    held: usize,
    /// The most frames `frames` may hold.
    budget: usize,
}

impl Default for StackPacker {
    fn default() -> Self {
        Self::with_frame_budget(PACKER_FRAMES)
    }
}

impl StackPacker {
    /// A packer that remembers at most `frames` frames of the stacks it packs (the default
    /// is 512 Ki frames): later stacks are still packed, against the stacks remembered.
    pub fn with_frame_budget(frames: usize) -> Self {
        StackPacker {
            children: HashMap::new(),
            latest: Vec::new(),
            frames: HashMap::new(),
            held: 0,
            budget: frames,
        }
    }

    /// Packs `defs` (in the order given; ids should rise) into one record's worth of stacks,
    /// each based on the remembered stack that shares the most outer frames with it.
    pub fn pack(&mut self, defs: &[StackDef]) -> Vec<PackedStack> {
        let mut out = Vec::with_capacity(defs.len());
        let mut prev_id = 0u32;
        let mut path = Vec::new();
        for d in defs {
            // Wrapping: ids in any order read back (rising ones take a byte).
            let id_delta = d.id.wrapping_sub(prev_id);
            prev_id = d.id;
            // The longest remembered run of outer frames.
            path.clear();
            let mut node = 0u32;
            for &f in d.frames.iter().rev() {
                match self.children.get(&(node, f)) {
                    Some(&child) => {
                        node = child;
                        path.push(child);
                    }
                    None => break,
                }
            }
            let base_id = path.last().map(|&n| self.latest[n as usize - 1]);
            let (base_back, shared, base): (u32, usize, &[u64]) = match base_id {
                Some(b) if b < d.id => (
                    d.id - b,
                    path.len(),
                    self.frames.get(&b).map_or(&[], Vec::as_slice),
                ),
                _ => (0, 0, &[]),
            };
            let own = own_deltas(base, shared, &d.frames);
            out.push(PackedStack {
                id_delta,
                base_back,
                shared: shared as u32,
                own,
            });
            self.remember(d, node, &path);
        }
        out
    }

    /// Adds stack `d` to the trie (its outer frames matched up to `node` along `path`), if
    /// the frame budget allows.
    fn remember(&mut self, d: &StackDef, mut node: u32, path: &[u32]) {
        if self.held + d.frames.len() > self.budget || self.frames.contains_key(&d.id) {
            return;
        }
        for &n in path {
            self.latest[n as usize - 1] = d.id;
        }
        for &f in d.frames.iter().rev().skip(path.len()) {
            self.latest.push(d.id);
            let child = self.latest.len() as u32;
            self.children.insert((node, f), child);
            node = child;
        }
        self.held += d.frames.len();
        self.frames.insert(d.id, d.frames.clone());
    }
}

/// Why a packed stack could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackError {
    /// The stack's id (0 when its id itself overflowed).
    pub id: u32,
    /// What is wrong.
    pub reason: String,
}

/// Reads packed stacks back, in order, into `stacks` (which holds the stacks defined
/// before: in earlier records, or earlier in this one; a stack defined again replaces the
/// old definition). A stack that cannot be read (its base
/// undefined, more shared frames than its base has, too deep) is skipped; the first such
/// error is returned after the rest are read, with how many there were.
pub fn unpack_stacks(
    packed: &[PackedStack],
    stacks: &mut HashMap<u32, Vec<u64>>,
) -> Result<(), (StackError, u64)> {
    let mut first: Option<(StackError, u64)> = None;
    let mut fail = |id: u32, reason: String| match &mut first {
        Some((_, n)) => *n += 1,
        None => first = Some((StackError { id, reason }, 1)),
    };
    let mut prev_id = 0u32;
    for p in packed {
        let id = prev_id.wrapping_add(p.id_delta);
        prev_id = id;
        let shared = p.shared as usize;
        let frames = {
            let base: &[u64] = if p.base_back == 0 {
                if shared != 0 {
                    fail(id, format!("shares {shared} frames but names no base"));
                    continue;
                }
                &[]
            } else {
                let Some(base_id) = id.checked_sub(p.base_back).filter(|&b| b != 0) else {
                    fail(id, format!("names a base {} ids back", p.base_back));
                    continue;
                };
                match stacks.get(&base_id) {
                    Some(b) => b.as_slice(),
                    None => {
                        fail(
                            id,
                            format!("builds on stack {base_id}, which is not defined"),
                        );
                        continue;
                    }
                }
            };
            if shared > base.len() {
                fail(
                    id,
                    format!(
                        "shares {shared} frames with stack {}, which has {}",
                        id - p.base_back,
                        base.len()
                    ),
                );
                continue;
            }
            let own = p.own.len();
            let n = own + shared;
            if n > MAX_FRAMES {
                fail(id, format!("has {n} frames, more than {MAX_FRAMES}"));
                continue;
            }
            let mut frames = vec![0u64; n];
            frames[own..].copy_from_slice(&base[base.len() - shared..]);
            for i in (0..own).rev() {
                let outer = frames.get(i + 1).copied().unwrap_or(0);
                frames[i] = reference(base, shared, n, i, outer).wrapping_add(p.own[i] as u64);
            }
            frames
        };
        stacks.insert(id, frames);
    }
    first.map_or(Ok(()), Err)
}

/// The table inside a [`PackedSymbols`] record, before compression.
#[derive(Serialize, Deserialize)]
struct SymbolTable {
    strings: Vec<String>,
    /// Each address as the difference from the one before (the first: from 0), ascending.
    addrs: Vec<(u64, Vec<SymbolFrame>)>,
}

/// DEFLATE's best ratio is about 1032 to 1: a record claiming more is damaged, and is not
/// inflated past that.
const MAX_DEFLATE_RATIO: usize = 1032;

/// Packs a symbol table: its addresses sorted (a stable sort: an address given twice keeps
/// the order of its entries, the later one winning), delta-coded, and the whole compressed.
///
/// ```
/// use trace_format::{pack, Symbols};
/// let sym = Symbols::build([(0x2000, vec![("b", Some("/src/b.rs"), 2, 1)]),
///                           (0x1000, vec![("a", Some("/src/a.rs"), 1, 1)])]);
/// let back = pack::unpack_symbols(&pack::pack_symbols(&sym)).unwrap();
/// assert_eq!(back.addrs.iter().map(|a| a.addr).collect::<Vec<_>>(), [0x1000, 0x2000]);
/// ```
pub fn pack_symbols(sym: &Symbols) -> PackedSymbols {
    let mut order: Vec<&AddrSymbol> = sym.addrs.iter().collect();
    order.sort_by_key(|a| a.addr);
    let mut prev = 0u64;
    let table = SymbolTable {
        strings: sym.strings.clone(),
        addrs: order
            .into_iter()
            .map(|a| {
                let delta = a.addr - prev;
                prev = a.addr;
                (delta, a.frames.clone())
            })
            .collect(),
    };
    let raw = postcard::to_stdvec(&table).expect("a symbol table always serializes");
    PackedSymbols {
        len: u32::try_from(raw.len()).unwrap_or(u32::MAX),
        deflated: miniz_oxide::deflate::compress_to_vec(&raw, 6),
    }
}

/// Reads a packed symbol table back (addresses ascending), or says why it cannot.
pub fn unpack_symbols(packed: &PackedSymbols) -> Result<Symbols, String> {
    let limit =
        (packed.len as usize).min(packed.deflated.len().saturating_mul(MAX_DEFLATE_RATIO) + 64);
    let raw = miniz_oxide::inflate::decompress_to_vec_with_limit(&packed.deflated, limit)
        .map_err(|e| format!("symbol table does not inflate: {e}"))?;
    if raw.len() != packed.len as usize {
        return Err(format!(
            "symbol table inflates to {} bytes, not the {} it declares",
            raw.len(),
            packed.len
        ));
    }
    let table: SymbolTable =
        postcard::from_bytes(&raw).map_err(|e| format!("unreadable symbol table: {e}"))?;
    let mut addr = 0u64;
    let mut addrs = Vec::with_capacity(table.addrs.len());
    for (delta, frames) in table.addrs {
        addr = addr.checked_add(delta).ok_or("symbol addresses overflow")?;
        addrs.push(AddrSymbol { addr, frames });
    }
    Ok(Symbols {
        strings: table.strings,
        addrs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn defs(stacks: &[Vec<u64>]) -> Vec<StackDef> {
        stacks
            .iter()
            .enumerate()
            .map(|(i, f)| StackDef {
                id: i as u32 + 1,
                frames: f.clone(),
            })
            .collect()
    }

    fn round_trip(defs: &[StackDef], records: usize) -> HashMap<u32, Vec<u64>> {
        let mut packer = StackPacker::default();
        let mut known = HashMap::new();
        let per = defs.len().div_ceil(records.max(1)).max(1);
        for part in defs.chunks(per) {
            let packed = packer.pack(part);
            // Through postcard, as in a file.
            let bytes = postcard::to_stdvec(&crate::Meta::PackedStacks(packed)).unwrap();
            let crate::Meta::PackedStacks(packed) = postcard::from_bytes(&bytes).unwrap() else {
                panic!("not packed stacks");
            };
            unpack_stacks(&packed, &mut known).unwrap();
        }
        known
    }

    /// Stacks grown from one another: each takes a random run of outer frames from an
    /// earlier one (or none) and adds its own inner frames.
    fn related_stacks() -> impl Strategy<Value = Vec<Vec<u64>>> {
        prop::collection::vec(
            (
                any::<prop::sample::Index>(),
                any::<prop::sample::Index>(),
                prop::collection::vec(
                    prop_oneof![any::<u64>(), 0x5555_0000_0000u64..0x5555_0010_0000],
                    0..8,
                ),
            ),
            1..40,
        )
        .prop_map(|steps| {
            let mut out: Vec<Vec<u64>> = Vec::new();
            for (from, keep, own) in steps {
                let mut frames = own;
                if !out.is_empty() {
                    let base = &out[from.index(out.len())];
                    let k = keep.index(base.len() + 1);
                    frames.extend_from_slice(&base[base.len() - k..]);
                }
                out.push(frames);
            }
            out
        })
    }

    proptest! {
        #[test]
        fn packed_stacks_read_back(stacks in related_stacks(), records in 1usize..5) {
            let defs = defs(&stacks);
            let known = round_trip(&defs, records);
            prop_assert_eq!(known.len(), defs.len());
            for d in &defs {
                prop_assert_eq!(&known[&d.id], &d.frames);
            }
        }

        #[test]
        // Safe code only (miniz_oxide's DEFLATE, postcard); under Miri its regex-generated
        // names and the compression take many minutes for nothing Miri could find.
        #[cfg_attr(miri, ignore = "safe code; minutes under Miri")]
        fn packed_symbols_read_back(
            entries in prop::collection::vec(
                (any::<u64>(), prop::collection::vec(
                    ("[a-z:<>]{0,12}", prop::option::of("[a-z/.]{0,12}"), any::<u32>(), any::<u32>()),
                    1..4)),
                0..30),
        ) {
            let sym = Symbols::build(entries.iter().map(|(a, frames)| {
                (*a, frames.iter().map(|(f, file, l, c)| (f.as_str(), file.as_deref(), *l, *c)))
            }));
            let back = unpack_symbols(&pack_symbols(&sym)).unwrap();
            prop_assert_eq!(&back.strings, &sym.strings);
            // Sorted by address, an address given twice keeping its order.
            let mut want = sym.addrs.clone();
            want.sort_by_key(|a| a.addr);
            prop_assert_eq!(back.addrs, want);
        }
    }

    #[test]
    fn a_stack_sharing_outer_frames_stores_only_its_own() {
        let a = vec![0x5000_1010, 0x5000_2020, 0x5000_3030, 0x5000_4040];
        let b = vec![0x5000_1100, 0x5000_2020, 0x5000_3030, 0x5000_4040];
        let c = vec![
            0x5000_9000,
            0x5000_1110,
            0x5000_2020,
            0x5000_3030,
            0x5000_4040,
        ];
        let packed = StackPacker::default().pack(&defs(&[a, b, c.clone()]));
        assert_eq!(packed[0].base_back, 0);
        assert_eq!(packed[0].own.len(), 4);
        // The leaf is coded against the base's leaf at the same depth: a small difference.
        assert_eq!((packed[1].base_back, packed[1].shared), (1, 3));
        assert_eq!(packed[1].own, [0xf0]);
        // The latest stack sharing the longest run is the base; the deeper stack's second
        // frame is coded against that base's leaf.
        assert_eq!((packed[2].base_back, packed[2].shared), (1, 3));
        assert_eq!(packed[2].own[1], 0x10);
        let known = round_trip(&defs(&[vec![0x5000_1010], vec![0x5000_1100], c.clone()]), 1);
        assert_eq!(known[&3], c);
    }

    #[test]
    fn chains_empty_and_one_frame_stacks_read_back() {
        let stacks = [
            vec![],
            vec![7],
            vec![7],
            vec![9, 7],
            vec![10, 9, 7],
            vec![11, 10, 9, 7],
            vec![u64::MAX, 0, u64::MAX],
            vec![],
        ];
        let known = round_trip(&defs(&stacks), 3);
        for (i, s) in stacks.iter().enumerate() {
            assert_eq!(&known[&(i as u32 + 1)], s);
        }
        // Each of the chain builds on the one before.
        let packed = StackPacker::default().pack(&defs(&stacks));
        assert_eq!(
            packed[3..6]
                .iter()
                .map(|p| (p.base_back, p.shared))
                .collect::<Vec<_>>(),
            [(1, 1), (1, 2), (1, 3)]
        );
    }

    #[test]
    fn past_its_budget_the_packer_still_packs_against_what_it_remembers() {
        let stacks: Vec<Vec<u64>> = (0..20u64).map(|i| vec![100 + i, 2, 1]).collect();
        let defs = defs(&stacks);
        // Room for the first two stacks only.
        let mut packer = StackPacker::with_frame_budget(7);
        let packed = packer.pack(&defs);
        assert_eq!(packer.held, 6);
        assert_eq!((packed[1].base_back, packed[1].shared), (1, 2));
        // Later stacks build on stack 2, the last one remembered.
        assert_eq!((packed[19].base_back, packed[19].shared), (18, 2));
        let mut known = HashMap::new();
        unpack_stacks(&packed, &mut known).unwrap();
        for d in &defs {
            assert_eq!(known[&d.id], d.frames);
        }
    }

    #[test]
    fn ids_in_any_order_read_back() {
        let defs = vec![
            StackDef {
                id: 9,
                frames: vec![1, 2],
            },
            StackDef {
                id: 3,
                frames: vec![5, 2],
            },
            StackDef {
                id: 12,
                frames: vec![6, 2],
            },
        ];
        let mut known = HashMap::new();
        let packed = StackPacker::default().pack(&defs);
        // Stack 3 cannot build on the later id 9; stack 12 can.
        assert_eq!(packed[1].base_back, 0);
        assert_eq!(packed[2].base_back, 9);
        unpack_stacks(&packed, &mut known).unwrap();
        for d in &defs {
            assert_eq!(known[&d.id], d.frames);
        }
    }

    #[test]
    fn a_stack_on_an_undefined_base_is_skipped_with_the_reason() {
        let packed = vec![
            PackedStack {
                id_delta: 5,
                base_back: 2,
                shared: 1,
                own: vec![1],
            },
            PackedStack {
                id_delta: 1,
                base_back: 0,
                shared: 0,
                own: vec![1, 2],
            },
            PackedStack {
                id_delta: 1,
                base_back: 1,
                shared: 3,
                own: vec![],
            },
            PackedStack {
                id_delta: 1,
                base_back: 9,
                shared: 0,
                own: vec![],
            },
            PackedStack {
                id_delta: 1,
                base_back: 0,
                shared: 1,
                own: vec![],
            },
        ];
        let mut known = HashMap::new();
        let (first, count) = unpack_stacks(&packed, &mut known).unwrap_err();
        assert_eq!(first.id, 5);
        assert_eq!(first.reason, "builds on stack 3, which is not defined");
        assert_eq!(count, 4);
        // The good one is defined, the others are not.
        assert_eq!(known.keys().copied().collect::<Vec<_>>(), [6]);
        assert_eq!(known[&6], [3, 2]);
    }

    #[test]
    fn too_deep_a_stack_is_refused() {
        let mut known = HashMap::from([(1, vec![0; MAX_FRAMES])]);
        let packed = [PackedStack {
            id_delta: 2,
            base_back: 1,
            shared: MAX_FRAMES as u32,
            own: vec![0],
        }];
        let (e, _) = unpack_stacks(&packed, &mut known).unwrap_err();
        assert!(e.reason.contains("more than"), "{}", e.reason);
    }

    #[test]
    fn damaged_symbol_tables_are_errors_not_panics() {
        let sym = Symbols::build([(0x1000, vec![("main", Some("/src/main.rs"), 3, 1)])]);
        let good = pack_symbols(&sym);
        let mut short = good.clone();
        short.len += 1;
        assert!(unpack_symbols(&short).unwrap_err().contains("declares"));
        let mut garbage = good.clone();
        garbage.deflated = vec![0xff; 10];
        assert!(unpack_symbols(&garbage).is_err());
        // A claimed length far beyond what the bytes can inflate to is not allocated.
        let bomb = PackedSymbols {
            len: u32::MAX,
            deflated: good.deflated.clone(),
        };
        assert!(unpack_symbols(&bomb).is_err());
    }

    #[test]
    fn sharing_stacks_cost_a_fraction_of_their_plain_form() {
        // 200 samples in a 30-frame-deep call path, their leaves a few bytes apart.
        let outer: Vec<u64> = (0..29).map(|i| 0x55d0_1234_0000 + i * 0x3_1357).collect();
        let stacks: Vec<Vec<u64>> = (0..200u64)
            .map(|i| {
                let mut f = vec![0x55d0_1200_0000 + (i * 37) % 4000];
                f.extend(&outer);
                f
            })
            .collect();
        let defs = defs(&stacks);
        let plain = postcard::to_stdvec(&crate::Meta::Stacks(defs.clone())).unwrap();
        let packed = StackPacker::default().pack(&defs);
        let packed = postcard::to_stdvec(&crate::Meta::PackedStacks(packed)).unwrap();
        assert!(plain.len() > 200 * 30 * 6, "{}", plain.len());
        assert!(packed.len() < 200 * 8 + 30 * 8, "{}", packed.len());
    }
}
