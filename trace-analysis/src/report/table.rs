//! Aligned plain-text tables for terminal output.

use std::fmt::Write as _;

/// How a column is aligned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Padded on the right.
    Left,
    /// Padded on the left (numbers).
    Right,
}

/// Renders `rows` (the first one is the heading, if the caller wants one) with columns padded
/// to their widest cell and separated by two spaces, each line prefixed by `indent`. Trailing
/// spaces are trimmed. Widths count characters, not bytes, so `µs` lines up.
///
/// ```
/// use trace_analysis::report::table::{render, Align};
/// let rows = vec![vec!["name".to_string(), "n".to_string()], vec!["a".into(), "10".into()]];
/// assert_eq!(render(&rows, &[Align::Left, Align::Right], ""), "name   n\na     10\n");
/// ```
pub fn render(rows: &[Vec<String>], align: &[Align], indent: &str) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let mut widths = vec![0usize; columns];
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut s = String::new();
    for row in rows {
        let mut line = String::from(indent);
        for (i, cell) in row.iter().enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            let pad = widths[i] - cell.chars().count();
            match align.get(i).copied().unwrap_or(Align::Left) {
                Align::Left => {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad));
                }
                Align::Right => {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                }
            }
        }
        let _ = writeln!(s, "{}", line.trim_end());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_and_aligns() {
        let rows = vec![
            vec!["id".to_string(), "name".into(), "events".into()],
            vec!["1".to_string(), "worker-0".into(), "12345".into()],
            vec!["12".to_string(), "µ".into(), "7".into()],
        ];
        let text = render(&rows, &[Align::Right, Align::Left, Align::Right], "  ");
        assert_eq!(
            text,
            "  id  name      events\n   1  worker-0   12345\n  12  µ              7\n"
        );
    }
}
