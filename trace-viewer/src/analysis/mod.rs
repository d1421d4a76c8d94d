//! Analysis: answers computed from a trace, shared by the command line, the window and the
//! tests. Each module owns one question and knows nothing about how answers are shown.
pub mod states;
pub mod breakdown;
pub mod mmu;
