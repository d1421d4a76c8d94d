//! The process exit codes every command returns (a leaf: the commands and `cli::run` use it).

/// Exit code: success (`check`: the trace is valid and complete).
pub const EXIT_OK: u8 = 0;
/// Exit code: the trace is corrupt or cannot be read at all.
pub const EXIT_CORRUPT: u8 = 1;
/// Exit code: bad arguments (clap's own code).
pub const EXIT_USAGE: u8 = 2;
/// Exit code (`check`): the trace reads but is incomplete (cut short, no end record, lost
/// data, missing chunks, skipped records).
pub const EXIT_INCOMPLETE: u8 = 3;
/// Exit code: the window could not be opened (no display, no OpenGL).
pub const EXIT_NO_WINDOW: u8 = 4;
