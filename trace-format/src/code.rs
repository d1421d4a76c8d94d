//! What a trace says about code: its call stacks ([`crate::Meta::Stacks`]), the names of the
//! addresses in them ([`crate::Meta::Symbols`]), the mapped files ([`crate::Meta::Mappings`])
//! and how stacks were sampled ([`crate::Meta::Sampling`]). The reader collects these
//! records into one [`CodeInfo`] ([`crate::Trace::code`]).
//!
//! ```
//! use trace_format::{StackId, Symbols, code::CodeInfo};
//! let mut code = CodeInfo::default();
//! code.add_stack(1, vec![0x1010, 0x2020]);
//! code.add_symbols(Symbols::build([
//!     (0x1010, vec![("app::burn", Some("src/main.rs"), 12, 5)]),
//! ]));
//! let frames: Vec<_> = code.stack(StackId(1)).unwrap().to_vec();
//! let f = code.frames_at(frames[0]).next().unwrap();
//! assert_eq!((f.function, f.file, f.line), ("app::burn", Some("src/main.rs"), 12));
//! assert_eq!(code.frames_at(frames[1]).count(), 0); // not resolved
//! ```

use std::collections::HashMap;

use crate::event::StackId;
use crate::meta::{MappingDef, PackedStack, SamplingInfo, SymbolFrame, Symbols};
use crate::pack::{StackError, unpack_stacks};

/// Stacks, symbols, mappings and sampling information of a trace.
#[derive(Debug, Clone, Default)]
pub struct CodeInfo {
    stacks: HashMap<u32, Vec<u64>>,
    strings: Vec<String>,
    symbols: HashMap<u64, Vec<SymbolFrame>>,
    mappings: Vec<MappingDef>,
    sampling: Option<SamplingInfo>,
}

/// One function at a code address, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResolvedFrame<'a> {
    /// Demangled function name.
    pub function: &'a str,
    /// Source file, when known.
    pub file: Option<&'a str>,
    /// 1-based line, 0 when unknown.
    pub line: u32,
    /// 1-based column, 0 when unknown.
    pub column: u32,
}

impl CodeInfo {
    /// Defines stack `id` (a later definition of the same id replaces it).
    pub fn add_stack(&mut self, id: u32, frames: Vec<u64>) {
        self.stacks.insert(id, frames);
    }

    /// Defines the stacks of a [`crate::Meta::PackedStacks`] record, in order (each may build
    /// on any stack defined before it). Stacks that cannot be read are skipped: the first
    /// one's error comes back, with how many there were.
    ///
    /// ```
    /// use trace_format::{StackDef, StackId, code::CodeInfo, pack::StackPacker};
    /// let defs = [StackDef { id: 1, frames: vec![0x10, 0x20] }, StackDef { id: 2, frames: vec![0x18, 0x20] }];
    /// let mut code = CodeInfo::default();
    /// code.add_packed_stacks(&StackPacker::default().pack(&defs)).unwrap();
    /// assert_eq!(code.stack(StackId(2)), Some(&[0x18, 0x20][..]));
    /// ```
    pub fn add_packed_stacks(&mut self, packed: &[PackedStack]) -> Result<(), (StackError, u64)> {
        unpack_stacks(packed, &mut self.stacks)
    }

    /// Adds resolved addresses; an address already resolved takes the new frames.
    pub fn add_symbols(&mut self, symbols: Symbols) {
        let base = self.strings.len() as u32;
        let shift = |ix: u32| {
            if ix == SymbolFrame::NO_FILE {
                ix
            } else {
                ix.saturating_add(base)
            }
        };
        for a in symbols.addrs {
            let frames = a
                .frames
                .into_iter()
                .map(|f| SymbolFrame {
                    function: shift(f.function),
                    file: shift(f.file),
                    ..f
                })
                .collect();
            self.symbols.insert(a.addr, frames);
        }
        self.strings.extend(symbols.strings);
    }

    /// Adds mapped files.
    pub fn add_mappings(&mut self, mappings: Vec<MappingDef>) {
        self.mappings.extend(mappings);
    }

    /// Sets how stacks were sampled (the last record wins).
    pub fn set_sampling(&mut self, sampling: SamplingInfo) {
        self.sampling = Some(sampling);
    }

    /// The frames of stack `id`, innermost first; `None` for [`StackId::NONE`] or an
    /// undefined id.
    pub fn stack(&self, id: StackId) -> Option<&[u64]> {
        self.stacks.get(&id.0).map(Vec::as_slice)
    }

    /// Every defined stack, in no particular order.
    pub fn stacks(&self) -> impl Iterator<Item = (StackId, &[u64])> + '_ {
        self.stacks
            .iter()
            .map(|(&id, f)| (StackId(id), f.as_slice()))
    }

    /// The functions at `addr`, innermost (inlined) first; empty when it is not resolved.
    pub fn frames_at(&self, addr: u64) -> impl Iterator<Item = ResolvedFrame<'_>> + '_ {
        let string = |ix: u32| self.strings.get(ix as usize).map(String::as_str);
        self.symbols
            .get(&addr)
            .into_iter()
            .flatten()
            .map(move |f| ResolvedFrame {
                function: string(f.function).unwrap_or("?"),
                file: string(f.file),
                line: f.line,
                column: f.column,
            })
    }

    /// Whether any address is resolved.
    pub fn has_symbols(&self) -> bool {
        !self.symbols.is_empty()
    }

    /// Resolved addresses.
    pub fn resolved_count(&self) -> usize {
        self.symbols.len()
    }

    /// The mapped files, as recorded.
    pub fn mappings(&self) -> &[MappingDef] {
        &self.mappings
    }

    /// How stacks were sampled, when the recording said.
    pub fn sampling(&self) -> Option<&SamplingInfo> {
        self.sampling.as_ref()
    }
}
