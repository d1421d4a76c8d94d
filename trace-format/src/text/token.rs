//! The text form's lexical layer: a line split into tokens — bare words and quoted strings,
//! each optionally `name=`-prefixed — and the quoting that writes any bytes as a quoted
//! string that reads back the same.

use std::fmt::Write as _;

/// A value in the text: a bare word (numbers, names) or a quoted string, unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token<'l> {
    Bare(&'l str),
    Quoted(Vec<u8>),
}

/// The bare word of `token`; an error naming `what` was expected for a quoted string.
pub(super) fn bare<'t>(token: &'t Token<'_>, what: &str) -> Result<&'t str, String> {
    match token {
        Token::Bare(s) => Ok(s),
        Token::Quoted(_) => Err(format!("expected {what}, found a quoted string")),
    }
}

/// Writes `bytes` as a quoted string: UTF-8 text as it is, except `"`, `\` and control
/// characters, which are escaped; bytes that are not UTF-8 as `\xNN`.
pub(super) fn write_quoted(out: &mut String, mut bytes: &[u8]) {
    out.push('"');
    loop {
        match std::str::from_utf8(bytes) {
            Ok(s) => {
                write_escaped(out, s);
                break;
            }
            Err(e) => {
                let (valid, rest) = bytes.split_at(e.valid_up_to());
                write_escaped(out, std::str::from_utf8(valid).unwrap_or_default());
                let bad = e.error_len().unwrap_or(rest.len());
                for b in &rest[..bad] {
                    let _ = write!(out, "\\x{b:02x}");
                }
                bytes = &rest[bad..];
            }
        }
    }
    out.push('"');
}

fn write_escaped(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_ascii_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
}

/// Splits a line into tokens: bare words and quoted strings, each optionally `name=`-prefixed.
/// A `#` where a token would start begins a comment.
pub(super) fn tokenize(line: &str) -> Result<Vec<(Option<&str>, Token<'_>)>, String> {
    let mut out = vec![];
    let b = line.as_bytes();
    let mut i = 0;
    loop {
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == b.len() || b[i] == b'#' {
            return Ok(out);
        }
        let start = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'"' {
            i += 1;
        }
        let mut name = None;
        if i < b.len() && b[i] == b'=' {
            if i == start {
                return Err("`=` without an argument name before it".into());
            }
            name = Some(&line[start..i]);
            i += 1;
        } else if i > start {
            // A bare word without a name.
            if i < b.len() && b[i] == b'"' {
                return Err(format!("unexpected `\"` after `{}`", &line[start..i]));
            }
            out.push((None, Token::Bare(&line[start..i])));
            continue;
        }
        if i < b.len() && b[i] == b'"' {
            let (bytes, end) = unquote(line, i)?;
            i = end;
            out.push((name, Token::Quoted(bytes)));
        } else {
            let vstart = i;
            while i < b.len() && !b[i].is_ascii_whitespace() {
                if b[i] == b'"' || b[i] == b'=' {
                    return Err(format!("unexpected `{}` in a value", b[i] as char));
                }
                i += 1;
            }
            if i == vstart {
                return Err(format!("`{}=` has no value", name.unwrap_or_default()));
            }
            out.push((name, Token::Bare(&line[vstart..i])));
        }
        if i < b.len() && !b[i].is_ascii_whitespace() {
            return Err("a quoted string must be followed by a space".into());
        }
    }
}

/// Reads the quoted string starting at `line[start]` (a `"`); returns its bytes and the
/// position after the closing quote.
fn unquote(line: &str, start: usize) -> Result<(Vec<u8>, usize), String> {
    let mut out = Vec::new();
    let mut chars = line[start + 1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((out, start + 1 + i + 1)),
            '\\' => {
                let bad = || "a `\\` escape must be one of \\\" \\\\ \\n \\t \\r \\xNN \\u{N}";
                match chars.next().map(|(_, c)| c) {
                    Some('"') => out.push(b'"'),
                    Some('\\') => out.push(b'\\'),
                    Some('n') => out.push(b'\n'),
                    Some('t') => out.push(b'\t'),
                    Some('r') => out.push(b'\r'),
                    Some('x') => {
                        let hex: String = chars.by_ref().take(2).map(|(_, c)| c).collect();
                        let v = (hex.len() == 2)
                            .then(|| u8::from_str_radix(&hex, 16).ok())
                            .flatten()
                            .ok_or_else(|| format!("`\\x{hex}`: expected two hex digits"))?;
                        out.push(v);
                    }
                    Some('u') => {
                        let bad_u = "`\\u` must be followed by {hex digits} naming a character";
                        if chars.next().map(|(_, c)| c) != Some('{') {
                            return Err(bad_u.into());
                        }
                        let mut hex = String::new();
                        loop {
                            match chars.next() {
                                Some((_, '}')) => break,
                                Some((_, c)) if c.is_ascii_hexdigit() && hex.len() < 6 => {
                                    hex.push(c)
                                }
                                _ => return Err(bad_u.into()),
                            }
                        }
                        let c = u32::from_str_radix(&hex, 16)
                            .ok()
                            .and_then(char::from_u32)
                            .ok_or(bad_u)?;
                        let mut buf = [0u8; 4];
                        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                    }
                    _ => return Err(bad().into()),
                }
            }
            c => {
                let mut buf = [0u8; 4];
                out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            }
        }
    }
    Err("a quoted string is not closed on its line".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_round_trips_any_bytes() {
        let cases: [&[u8]; 6] = [
            b"",
            b"plain",
            "h\u{e9} \"q\" \\ \n\t\r \u{0} \u{85} \u{1f600}".as_bytes(),
            &[0xff, 0x00, b'a', 0xc3],
            &[0xc3, 0xa9, 0x80],
            b"#not a comment",
        ];
        for bytes in cases {
            let mut s = String::new();
            write_quoted(&mut s, bytes);
            let line = format!("x={s} y=1");
            let toks = tokenize(&line).unwrap();
            assert_eq!(
                toks[0],
                (Some("x"), Token::Quoted(bytes.to_vec())),
                "{line}"
            );
            assert_eq!(toks[1], (Some("y"), Token::Bare("1")));
        }
    }

    #[test]
    fn bad_tokens_are_errors() {
        for bad in [
            "x=\"open",
            "x=",
            "=1",
            "x=\"a\"b",
            "x=\"\\q\"",
            "x=\"\\x4\"",
            "x=a\"b",
        ] {
            assert!(tokenize(bad).is_err(), "{bad}");
        }
        assert_eq!(tokenize("  # only a comment").unwrap(), vec![]);
    }
}
