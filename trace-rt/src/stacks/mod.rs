//! Call stacks: capturing them while recording and naming their code at stop.
//!
//! `symbolize` turns the distinct code addresses a recording saw into function names, files
//! and lines (inlined frames included) at stop; `mappings` lists the executable files the
//! process has mapped, with their build ids, so a trace recorded from a stripped binary can
//! be symbolized later (`trace-viewer symbolize`).

pub(crate) mod mappings;
pub(crate) mod symbolize;
