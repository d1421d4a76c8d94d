//! Names the code addresses a recording saw, at stop, on the writer thread: every function
//! at each address (inlined ones first), demangled, with file, line and column, plus the
//! executable mappings with their build ids. It allocates and reads files; nothing here runs
//! in the hot path.
//!
//! blazesym does the work: it reads this process's maps, opens each ELF file once, and
//! resolves symbols, DWARF lines and inlined functions, demangled, in one batched call.

use std::time::{Duration, Instant};

use trace_format::{MappingDef, Symbols};

use super::mappings;

/// A code address to resolve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Addr {
    /// The address as recorded in a stack.
    pub addr: u64,
    /// A return address (every frame of a stack but the interrupted one): it points after
    /// the call, possibly into the next line or even the next function, so it is looked up
    /// at `addr - 1` to report the call's line. The result is recorded under `addr`.
    pub is_return: bool,
}

/// What [`resolve`] found.
#[derive(Debug, Clone, Default)]
pub struct Resolved {
    /// Each resolved address with its functions, innermost (inlined) first; unresolved
    /// addresses have no entry.
    pub symbols: Symbols,
    /// The executable file mappings of this process, with build ids.
    pub mappings: Vec<MappingDef>,
    /// Addresses resolved to a function.
    pub resolved: u64,
    /// Time taken (symbols and mappings).
    pub elapsed: Duration,
    /// Why nothing could be resolved, when the symbolizer failed as a whole (not for
    /// individual unknown addresses).
    pub error: Option<String>,
}

/// Resolves `addrs` (duplicates are resolved once) in this process.
pub fn resolve(addrs: &[Addr]) -> Resolved {
    let start = Instant::now();
    let mut addrs = addrs.to_vec();
    addrs.sort_unstable_by_key(|a| (a.addr, a.is_return));
    addrs.dedup_by_key(|a| a.addr);
    let (symbols, resolved, error) = match lookup(&addrs) {
        Ok(found) => {
            let resolved = found.len() as u64;
            (build(&found), resolved, None)
        }
        Err(e) => (Symbols::default(), 0, Some(e)),
    };
    let mappings = mappings::read();
    Resolved {
        symbols,
        mappings,
        resolved,
        elapsed: start.elapsed(),
        error,
    }
}

/// One function at an address: name, file, line, column.
pub(crate) type Frame = (String, Option<String>, u32, u32);

fn build(found: &[(u64, Vec<Frame>)]) -> Symbols {
    Symbols::build(found.iter().map(|(addr, frames)| {
        (
            *addr,
            frames
                .iter()
                .map(|(f, file, line, col)| (f.as_str(), file.as_deref(), *line, *col)),
        )
    }))
}

/// The address to look up for `a`.
pub(crate) fn probe(a: Addr) -> u64 {
    if a.is_return {
        a.addr.saturating_sub(1)
    } else {
        a.addr
    }
}

#[cfg(target_os = "linux")]
fn lookup(addrs: &[Addr]) -> Result<Vec<(u64, Vec<Frame>)>, String> {
    use blazesym::Pid;
    use blazesym::symbolize::source::{Process, Source};
    use blazesym::symbolize::{Input, Symbolizer};

    if addrs.is_empty() {
        return Ok(Vec::new());
    }
    let symbolizer = Symbolizer::builder()
        .enable_inlined_fns(true)
        .enable_code_info(true)
        .enable_demangling(true)
        .build();
    let mut process = Process::new(Pid::Slf);
    // The paths in /proc/self/maps, not /proc/self/map_files/ (which needs CAP_SYS_ADMIN on
    // many kernels); no perf map (no JIT code here).
    process.map_files = false;
    process.perf_map = false;
    let probes: Vec<u64> = addrs.iter().map(|&a| probe(a)).collect();
    let results = symbolizer
        .symbolize(&Source::Process(process), Input::AbsAddr(&probes))
        .map_err(|e| e.to_string())?;
    Ok(addrs
        .iter()
        .zip(&results)
        .filter_map(|(a, r)| Some((a.addr, frames(r.as_sym()?))))
        .collect())
}

#[cfg(not(target_os = "linux"))]
fn lookup(_addrs: &[Addr]) -> Result<Vec<(u64, Vec<Frame>)>, String> {
    Err("symbolization is only supported on Linux".into())
}

/// The functions of one blazesym symbol, innermost first. blazesym lists inlined calls
/// outermost first, each with the location inside that function, so the list is reversed
/// and the symbol's own function comes last.
#[cfg(target_os = "linux")]
pub(crate) fn frames(sym: &blazesym::symbolize::Sym<'_>) -> Vec<Frame> {
    use blazesym::symbolize::CodeInfo;
    let place = |info: Option<&CodeInfo<'_>>| match info {
        Some(i) => (
            Some(i.to_path().to_string_lossy().into_owned()),
            i.line.unwrap_or(0),
            u32::from(i.column.unwrap_or(0)),
        ),
        None => (None, 0, 0),
    };
    let mut out: Vec<Frame> = sym
        .inlined
        .iter()
        .rev()
        .map(|f| {
            let (file, line, col) = place(f.code_info.as_ref());
            (f.name.to_string(), file, line, col)
        })
        .collect();
    let (file, line, col) = place(sym.code_info.as_deref());
    out.push((sym.name.to_string(), file, line, col));
    out
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[inline(never)]
    fn first_distinct_function(x: u64) -> u64 {
        std::hint::black_box(x.wrapping_mul(31).rotate_left(7))
    }

    #[inline(never)]
    fn second_distinct_function(x: u64) -> u64 {
        std::hint::black_box(x ^ 0x5555).wrapping_add(3)
    }

    /// The return address of a call made on the line this returns with: a `call` to the
    /// next instruction, which then reads the address the call pushed.
    #[inline(never)]
    fn return_address_here() -> (u64, u32) {
        let ret: u64;
        let line;
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the call pushes the address of label 2 and jumps there; `pop` takes it back
        // off, so the stack is as before (no `nostack`: the compiler keeps no red zone data).
        unsafe {
            std::arch::asm!("call 2f", "2:", "pop {}", out(reg) ret);
            line = line!() - 1;
        }
        #[cfg(target_arch = "aarch64")]
        // SAFETY: `bl` sets x30 to the address of label 2 and branches there; x30 is declared
        // clobbered, nothing else is touched.
        unsafe {
            std::arch::asm!("bl 2f", "2:", "mov {}, x30", out(reg) ret, out("x30") _);
            line = line!() - 1;
        }
        (ret, line)
    }

    fn names(r: &Resolved, addr: u64) -> Vec<(String, Option<String>, u32)> {
        let a = r
            .symbols
            .addrs
            .iter()
            .find(|a| a.addr == addr)
            .unwrap_or_else(|| panic!("{addr:#x} not resolved: {:?}", r.error));
        a.frames
            .iter()
            .map(|f| {
                let file = (f.file != trace_format::SymbolFrame::NO_FILE)
                    .then(|| r.symbols.string(f.file).to_string());
                (r.symbols.string(f.function).to_string(), file, f.line)
            })
            .collect()
    }

    #[test]
    fn resolves_two_functions_of_this_binary() {
        let f1 = first_distinct_function as *const () as u64;
        let f2 = second_distinct_function as *const () as u64;
        let r = resolve(&[
            Addr {
                addr: f1,
                is_return: false,
            },
            Addr {
                addr: f2,
                is_return: false,
            },
        ]);
        assert_eq!(r.error, None);
        assert_eq!(r.resolved, 2);
        for (addr, name) in [
            (f1, "first_distinct_function"),
            (f2, "second_distinct_function"),
        ] {
            let frames = names(&r, addr);
            let (function, file, line) = frames.last().unwrap();
            assert!(function.contains(name), "{function} for {name}");
            let file = file.as_deref().unwrap_or("");
            assert!(file.ends_with("symbolize.rs"), "file {file}");
            assert!(*line > 0);
        }
        // The mappings hold the code that was resolved.
        assert!(
            r.mappings
                .iter()
                .any(|m| (m.start..m.end).contains(&f1) && !m.build_id.is_empty())
        );
    }

    #[test]
    fn unknown_address_gives_no_entry_and_no_error() {
        let r = resolve(&[Addr {
            addr: 0x1,
            is_return: false,
        }]);
        assert_eq!(r.error, None);
        assert_eq!(r.resolved, 0);
        assert!(r.symbols.addrs.is_empty());
    }

    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    #[test]
    fn return_address_is_looked_up_before_it_and_recorded_under_it() {
        let (ret, line) = return_address_here();
        let r = resolve(&[Addr {
            addr: ret,
            is_return: true,
        }]);
        let frames = names(&r, ret);
        let (function, _, got) = frames.last().unwrap();
        assert!(function.contains("return_address_here"), "{function}");
        assert_eq!(*got, line);

        // A function's first byte as a return address is looked up one byte before, in
        // whatever precedes the function: not the function itself.
        let f2 = second_distinct_function as *const () as u64;
        let r = resolve(&[Addr {
            addr: f2,
            is_return: true,
        }]);
        let before = r.symbols.addrs.first().map(|_| names(&r, f2));
        assert!(
            !before
                .iter()
                .flatten()
                .any(|(f, ..)| f.contains("second_distinct_function")),
            "{before:?}"
        );
    }
}
