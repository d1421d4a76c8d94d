//! The executable file mappings of this process (`/proc/self/maps`) with each file's ELF
//! build id: what `trace-viewer symbolize` needs to turn a recorded address back into an
//! offset in the unstripped binary, and to check that the binary is the one that ran.

use std::collections::HashMap;

use trace_format::MappingDef;

/// One line of `/proc/<pid>/maps` that maps a file with execute permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MapLine {
    pub start: u64,
    pub end: u64,
    pub file_offset: u64,
    pub path: String,
}

/// Parses the text of a `/proc/<pid>/maps` file, keeping the executable mappings of files
/// (a path starting with `/`; `[vdso]`, `[stack]` and anonymous mappings have no file to
/// symbolize from later). Malformed lines are skipped.
pub(crate) fn parse_maps(text: &str) -> Vec<MapLine> {
    text.lines().filter_map(parse_line).collect()
}

fn parse_line(line: &str) -> Option<MapLine> {
    // start-end perms offset dev inode [path]; the path may contain spaces, so it is
    // whatever follows the fifth field.
    let mut rest = line;
    let mut field = || {
        rest = rest.trim_start();
        let end = rest.find(' ').unwrap_or(rest.len());
        let (f, r) = rest.split_at(end);
        rest = r;
        f
    };
    let range = field();
    let perms = field();
    let offset = field();
    let _dev = field();
    let _inode = field();
    let path = rest.trim();
    if !perms.contains('x') || !path.starts_with('/') {
        return None;
    }
    let (start, end) = range.split_once('-')?;
    Some(MapLine {
        start: u64::from_str_radix(start, 16).ok()?,
        end: u64::from_str_radix(end, 16).ok()?,
        file_offset: u64::from_str_radix(offset, 16).ok()?,
        path: path.to_string(),
    })
}

/// The executable file mappings of this process, each with its file's build id (empty when
/// the file has none or cannot be read, e.g. deleted since it was mapped). Empty when
/// `/proc/self/maps` cannot be read.
pub(crate) fn read() -> Vec<MappingDef> {
    let Ok(text) = std::fs::read_to_string("/proc/self/maps") else {
        return Vec::new();
    };
    let mut ids: HashMap<String, Vec<u8>> = HashMap::new();
    parse_maps(&text)
        .into_iter()
        .map(|m| {
            let build_id = ids
                .entry(m.path.clone())
                .or_insert_with(|| build_id(&m.path))
                .clone();
            MappingDef {
                start: m.start,
                end: m.end,
                file_offset: m.file_offset,
                path: m.path,
                build_id,
            }
        })
        .collect()
}

/// The `NT_GNU_BUILD_ID` of the ELF file at `path`, empty when it has none or is unreadable.
pub(crate) fn build_id(path: &str) -> Vec<u8> {
    #[cfg(target_os = "linux")]
    {
        blazesym::helper::read_elf_build_id(path)
            .ok()
            .flatten()
            .map(|id| id.into_owned())
            .unwrap_or_default()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = path;
        Vec::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_executable_file_mappings_only() {
        let text = "\
5581a000-5581b000 r--p 00000000 08:01 123 /usr/bin/app
5581b000-5581f000 r-xp 00001000 08:01 123 /usr/bin/app
7f00a000-7f00b000 r-xp 00000000 00:00 0 
7ffd1000-7ffd3000 r-xp 00000000 00:00 0                          [vdso]
7f10a000-7f10c000 r-xp 00002000 08:01 77 /opt/my dir/lib x.so
garbage line
";
        assert_eq!(
            parse_maps(text),
            vec![
                MapLine {
                    start: 0x5581b000,
                    end: 0x5581f000,
                    file_offset: 0x1000,
                    path: "/usr/bin/app".into()
                },
                MapLine {
                    start: 0x7f10a000,
                    end: 0x7f10c000,
                    file_offset: 0x2000,
                    path: "/opt/my dir/lib x.so".into()
                },
            ]
        );
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn this_process_text_is_mapped_with_a_build_id() {
        let here = this_process_text_is_mapped_with_a_build_id as *const () as u64;
        let maps = read();
        let m = maps
            .iter()
            .find(|m| (m.start..m.end).contains(&here))
            .expect("the test's own code is in an executable file mapping");
        let exe = std::env::current_exe().unwrap();
        assert_eq!(std::path::Path::new(&m.path), exe);
        // Rust's linker on Linux writes a build id by default (`--build-id`).
        assert!(!m.build_id.is_empty(), "no build id for {}", m.path);
        assert_eq!(m.build_id, build_id(&m.path));
    }
}
