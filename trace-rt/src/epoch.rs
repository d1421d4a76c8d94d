//! The process-wide recording switch, [`EPOCH`]: non-zero while a session records (the
//! session's number), so every hook pays one relaxed load when nothing records. A leaf,
//! so that the hooks' per-thread state (`context`) and the signal handler (`stacks`) can
//! read it without depending on the session state in `shared`.

use std::sync::atomic::AtomicU64;

/// Non-zero while a session records: the one load every hook pays when not recording.
pub(crate) static EPOCH: AtomicU64 = AtomicU64::new(0);
