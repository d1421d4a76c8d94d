//! Recently opened traces (File > Open Recent), kept in a small text file under the user's
//! configuration directory: `$XDG_CONFIG_HOME/trace-viewer/recent`, else
//! `~/.config/trace-viewer/recent` (`%APPDATA%\trace-viewer\recent` on Windows). One
//! absolute path per line, most recent first.
//!
//! The list is a convenience, so it never gets in the way: a missing, unreadable or
//! damaged file reads as an empty (or shorter) list, and a failed write is ignored.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Entries kept.
pub const MAX_ENTRIES: usize = 10;

/// The list, and the file it is kept in (none: kept in memory only, as in tests).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecentFiles {
    file: Option<PathBuf>,
    entries: Vec<PathBuf>,
}

impl RecentFiles {
    /// An empty list kept in memory only.
    pub fn in_memory() -> RecentFiles {
        RecentFiles::default()
    }

    /// The list kept in `file`, read now (see the module docs for what a bad file does).
    pub fn read_from(file: PathBuf) -> RecentFiles {
        let entries = match std::fs::read(&file) {
            Ok(bytes) => parse(&String::from_utf8_lossy(&bytes)),
            Err(_) => Vec::new(),
        };
        RecentFiles {
            file: Some(file),
            entries,
        }
    }

    /// The paths, most recent first.
    pub fn entries(&self) -> &[PathBuf] {
        &self.entries
    }

    /// The file the list is kept in.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// Puts `path` (made absolute) first, drops the oldest past [`MAX_ENTRIES`], saves.
    pub fn add(&mut self, path: &Path) {
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
        if path.to_str().is_none_or(|s| s.contains(['\n', '\r'])) {
            // Not storable as one line of UTF-8: keep the file readable instead.
            return;
        }
        self.entries.retain(|p| *p != path);
        self.entries.insert(0, path);
        self.entries.truncate(MAX_ENTRIES);
        self.save();
    }

    /// Empties the list and saves.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.save();
    }

    /// Writes the list (a temporary file renamed over the old one, so a crash mid-write
    /// leaves the old list); errors are ignored.
    fn save(&self) {
        let Some(file) = &self.file else {
            return;
        };
        let mut text = String::new();
        for p in &self.entries {
            if let Some(s) = p.to_str() {
                text.push_str(s);
                text.push('\n');
            }
        }
        let write = || -> std::io::Result<()> {
            if let Some(dir) = file.parent() {
                std::fs::create_dir_all(dir)?;
            }
            let tmp = file.with_extension("tmp");
            std::fs::write(&tmp, text.as_bytes())?;
            std::fs::rename(&tmp, file)
        };
        let _ = write();
    }
}

/// The paths in the file's text: one per non-blank line, absolute ones only (anything else
/// is damage), no duplicates, at most [`MAX_ENTRIES`].
fn parse(text: &str) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.contains('\u{FFFD}') {
            continue;
        }
        let p = PathBuf::from(line);
        if p.is_absolute() && !out.contains(&p) {
            out.push(p);
        }
        if out.len() == MAX_ENTRIES {
            break;
        }
    }
    out
}

/// Where the list is kept, from the environment (`env` looks a variable up); `None` when
/// there is no home to put it in.
pub fn default_file(env: impl Fn(&str) -> Option<OsString>) -> Option<PathBuf> {
    let set = |k: &str| env(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    let base = if cfg!(windows) {
        set("APPDATA")
    } else {
        set("XDG_CONFIG_HOME")
            .filter(|p| p.is_absolute())
            .or_else(|| set("HOME").map(|h| h.join(".config")))
    }?;
    Some(base.join("trace-viewer").join("recent"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_survives_a_restart_most_recent_first() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config/trace-viewer/recent");
        let mut r = RecentFiles::read_from(file.clone());
        assert!(r.entries().is_empty(), "a missing file is an empty list");
        let (a, b) = (dir.path().join("a.rtt"), dir.path().join("b.rtt"));
        r.add(&a);
        r.add(&b);
        r.add(&a);
        assert_eq!(r.entries(), [a.clone(), b.clone()]);
        let again = RecentFiles::read_from(file.clone());
        assert_eq!(again.entries(), [a.clone(), b.clone()]);
        for i in 0..20 {
            r.add(&dir.path().join(format!("{i}.rtt")));
        }
        assert_eq!(r.entries().len(), MAX_ENTRIES);
        assert_eq!(r.entries()[0], dir.path().join("19.rtt"));
        r.clear();
        assert!(RecentFiles::read_from(file).entries().is_empty());
    }

    #[test]
    fn a_damaged_file_reads_as_what_can_be_used() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("recent");
        let mut bytes = b"/traces/x.rtt\n\nrelative/y.rtt\n/traces/x.rtt\r\n".to_vec();
        bytes.extend_from_slice(&[0xff, 0xfe, b'\n']);
        bytes.extend_from_slice(b"/traces/z.rtt");
        std::fs::write(&file, bytes).unwrap();
        let r = RecentFiles::read_from(file.clone());
        assert_eq!(
            r.entries(),
            [
                PathBuf::from("/traces/x.rtt"),
                PathBuf::from("/traces/z.rtt")
            ]
        );
        // A directory where the file should be: empty, and adding does not fail.
        let r = RecentFiles::read_from(dir.path().to_path_buf());
        assert!(r.entries().is_empty());
        let mut r = RecentFiles::read_from(dir.path().join("recent/inside-a-file"));
        r.add(Path::new("/traces/x.rtt"));
        assert_eq!(r.entries().len(), 1);
    }

    #[test]
    fn relative_paths_are_stored_absolute() {
        let mut r = RecentFiles::in_memory();
        r.add(Path::new("x.rtt"));
        assert!(r.entries()[0].is_absolute());
        assert!(r.entries()[0].ends_with("x.rtt"));
    }

    #[test]
    fn the_file_goes_under_the_config_directory() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(name, _)| *name == k)
                    .map(|(_, v)| OsString::from(v))
            }
        };
        if cfg!(windows) {
            return;
        }
        assert_eq!(
            default_file(env(&[("XDG_CONFIG_HOME", "/cfg"), ("HOME", "/home/u")])),
            Some(PathBuf::from("/cfg/trace-viewer/recent"))
        );
        assert_eq!(
            default_file(env(&[("XDG_CONFIG_HOME", ""), ("HOME", "/home/u")])),
            Some(PathBuf::from("/home/u/.config/trace-viewer/recent"))
        );
        assert_eq!(
            default_file(env(&[("XDG_CONFIG_HOME", "rel"), ("HOME", "/home/u")])),
            Some(PathBuf::from("/home/u/.config/trace-viewer/recent")),
            "the XDG spec ignores a relative path"
        );
        assert_eq!(default_file(env(&[])), None);
    }
}
