//! FORMAT.md's event table (section 2.3) says the same as the spec table the code is
//! generated from: the same kinds, tags, names, arguments in the same order with the same
//! encodings, and the reserved tags are exactly those no kind uses.

use std::collections::BTreeSet;

use trace_format::EventKind;

/// The rows of the table under "### 2.3 Events": its cells, trimmed.
fn format_md_rows() -> Vec<Vec<String>> {
    let md = include_str!("../FORMAT.md");
    let section = &md[md.find("### 2.3 Events").expect("section 2.3")..];
    let table = &section[section.find("| tag |").expect("event table")..];
    table
        .lines()
        .take_while(|l| l.starts_with('|'))
        .skip(2) // the header and the |---| line
        .map(|l| {
            l.trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().to_string())
                .collect()
        })
        .collect()
}

/// `` `0x12` `` → 0x12..=0x12; `` `0x18`–`0x1E` `` → 0x18..=0x1E.
fn tags(cell: &str) -> std::ops::RangeInclusive<u8> {
    let hex = |s: &str| u8::from_str_radix(s.trim().trim_matches('`').trim_start_matches("0x"), 16);
    match cell.split_once('–') {
        Some((a, b)) => hex(a).unwrap()..=hex(b).unwrap(),
        None => {
            let t = hex(cell).unwrap_or_else(|_| panic!("tag cell {cell:?}"));
            t..=t
        }
    }
}

/// `task: T; kind: u8 (…); name: StringId` → [("task", "T"), ("kind", "u8"), ("name", "StringId")].
fn args(cell: &str) -> Vec<(String, String)> {
    if cell == "—" {
        return vec![];
    }
    cell.split("; ")
        .map(|part| {
            let (name, rest) = part
                .split_once(": ")
                .unwrap_or_else(|| panic!("argument {part:?} is not `name: encoding`"));
            let encoding = rest.split([' ', ',']).next().unwrap();
            (name.to_string(), encoding.to_string())
        })
        .collect()
}

#[test]
fn format_md_event_table_matches_the_spec() {
    let rows = format_md_rows();
    let (reserved, kinds): (Vec<_>, Vec<_>) = rows.iter().partition(|r| r[1] == "reserved");
    assert_eq!(reserved.len(), 1, "one row of reserved tags");
    assert_eq!(
        kinds.len(),
        EventKind::COUNT,
        "one row per event kind: {kinds:?}"
    );
    for kind in EventKind::ALL {
        let event = match kind {
            EventKind::Unknown => "extension".to_string(),
            k => format!("{k:?}"),
        };
        let row = kinds
            .iter()
            .find(|r| r[1] == event)
            .unwrap_or_else(|| panic!("FORMAT.md has no row for {event}"));
        assert_eq!(row.len(), 4, "{row:?}");
        assert_eq!(tags(&row[0]), kind.tags(), "{kind:?}'s tags");
        assert_eq!(row[2], format!("`{}`", kind.name()), "{kind:?}'s text name");
        let want: Vec<(String, String)> = kind
            .args()
            .iter()
            .map(|a| (a.name.to_string(), a.encoding.to_string()))
            .collect();
        assert_eq!(args(&row[3]), want, "{kind:?}'s arguments");
    }

    // Reserved: exactly the tags below the extension range that no kind uses.
    let mut listed = BTreeSet::new();
    for cell in reserved[0][3].split(':').next().unwrap().split(", ") {
        listed.extend(tags(cell));
    }
    let used: BTreeSet<u8> = EventKind::ALL.iter().flat_map(|k| k.tags()).collect();
    let unused: BTreeSet<u8> = (0..=u8::MAX).filter(|t| !used.contains(t)).collect();
    assert_eq!(listed, unused);
}
