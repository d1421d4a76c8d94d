//! Paths the commands compare before writing (a leaf module).

use std::path::Path;

/// Whether `a` and `b` name the same existing file, however they name it: through symbolic
/// links or `..` (same canonical path) or as hard links (same device and inode on Unix). A
/// command refuses to write an output that is its input: it would destroy the trace it is
/// reading.
pub fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b))
            && (ma.dev(), ma.ino()) == (mb.dev(), mb.ino())
        {
            return true;
        }
    }
    matches!(
        (std::fs::canonicalize(a), std::fs::canonicalize(b)),
        (Ok(ca), Ok(cb)) if ca == cb
    )
}
