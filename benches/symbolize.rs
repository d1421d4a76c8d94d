//! Time to name the code addresses of a recording at stop (`trace-rt`'s symbolization with
//! blazesym): 10 000 distinct addresses spread evenly over this benchmark binary's own code,
//! each a return address (looked up one byte before, as most stack frames are), resolved in
//! one call with file, line and inlined functions. Budget: at most 1 s.
//!
//! Run: `cargo bench -p trace-rt-benches --bench symbolize` (a few seconds).
//!
//! Each repetition starts from nothing (a new symbolizer opens and parses the binary's ELF
//! and DWARF again), as a recording's stop does; the figure is the median of 5, with every
//! repetition printed, and how many addresses resolved to a function.

use std::time::Duration;

use trace_rt::__bench::{Addr, resolve};
use trace_rt_benches::median;

const ADDRESSES: u64 = 10_000;
const REPS: usize = 5;

/// The executable mapping of this binary that holds `main`: (start, end).
fn own_text() -> (u64, u64) {
    let here = main as *const () as u64;
    let maps = std::fs::read_to_string("/proc/self/maps").expect("/proc/self/maps");
    maps.lines()
        .filter_map(|l| {
            let range = l.split_whitespace().next()?;
            let (a, b) = range.split_once('-')?;
            Some((
                u64::from_str_radix(a, 16).ok()?,
                u64::from_str_radix(b, 16).ok()?,
            ))
        })
        .find(|&(a, b)| (a..b).contains(&here))
        .expect("main is mapped")
}

fn main() {
    let (start, end) = own_text();
    let step = ((end - start) / ADDRESSES).max(1);
    let addrs: Vec<Addr> = (0..ADDRESSES)
        .map(|i| Addr {
            addr: start + 1 + i * step,
            is_return: true,
        })
        .collect();
    println!(
        "symbolize: {} distinct addresses over {} KiB of this binary's code",
        addrs.len(),
        (end - start) / 1024
    );
    let mut secs = Vec::new();
    let mut resolved = 0;
    for rep in 0..REPS {
        let r = resolve(&addrs);
        if let Some(e) = &r.error {
            eprintln!("symbolize failed: {e}");
            std::process::exit(1);
        }
        resolved = r.resolved;
        let frames: usize = r.symbols.addrs.iter().map(|a| a.frames.len()).sum();
        println!(
            "  rep {rep}: {:>8.1} ms  ({} resolved, {} frames with inlined, {} mappings)",
            ms(r.elapsed),
            r.resolved,
            frames,
            r.mappings.len()
        );
        secs.push(r.elapsed.as_secs_f64());
    }
    let mid = median(&mut secs);
    println!(
        "symbolize 10 000 addresses: median {:.1} ms ({resolved} resolved); budget 1000 ms: {}",
        mid * 1e3,
        if mid <= 1.0 { "within" } else { "OVER" }
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
