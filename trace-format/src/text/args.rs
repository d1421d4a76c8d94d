//! How each argument type is written in the text form and read back ([`TextArg`]), and the
//! `name=value` arguments of a line, taken by name ([`Args`]). The code the spec table
//! generates for each kind's arguments ([`crate::spec`]) calls these; so does the parser
//! for metadata lines.

use std::fmt::Write as _;

use super::token::{Token, bare, write_quoted};
use crate::event::{
    Level, LocationId, PauseScope, StackId, StringId, TaskId, TaskKind, ThreadKind, WakeSource,
};

/// How an argument type is written in the text form and read back.
pub(crate) trait TextArg<'a>: Sized {
    /// Appends the value.
    fn write(self, out: &mut String);
    /// Reads the value; `Err` says what was expected.
    fn parse(token: &'a Token<'_>) -> Result<Self, String>;
    /// The value of an argument left out.
    fn zero() -> Self;
}

/// Appends ` name=value`.
pub(crate) fn write_arg<'a, T: TextArg<'a>>(out: &mut String, name: &str, value: T) {
    out.push(' ');
    out.push_str(name);
    out.push('=');
    value.write(out);
}

/// Appends ` name=0x1,0x2,…` (nothing for an empty list: left out, it reads back empty).
pub(super) fn write_hex_list(out: &mut String, name: &str, values: &[u64]) {
    if values.is_empty() {
        return;
    }
    let _ = write!(out, " {name}=");
    for (i, v) in values.iter().enumerate() {
        let _ = write!(out, "{}{v:#x}", if i == 0 { "" } else { "," });
    }
}

/// `0x1,0x2,…` (or nothing) as numbers.
pub(super) fn parse_hex_list(token: Option<&Token<'_>>) -> Result<Vec<u64>, String> {
    let Some(token) = token else {
        return Ok(vec![]);
    };
    let s = bare(token, "a comma-separated list of addresses")?;
    if s.is_empty() {
        return Ok(vec![]);
    }
    s.split(',')
        .map(|item| parse_u64(&Token::Bare(item)))
        .collect()
}

/// Hex digits, two per byte.
pub(super) fn parse_hex_bytes(s: &str) -> Result<Vec<u8>, String> {
    if !s.len().is_multiple_of(2) {
        return Err(format!("an odd number of hex digits in `{s}`"));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| {
            s.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
                .ok_or_else(|| format!("expected hex digits, found `{s}`"))
        })
        .collect()
}

fn parse_u64(token: &Token<'_>) -> Result<u64, String> {
    let s = bare(token, "an unsigned integer")?;
    let parsed = match s.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16),
        None => s.parse(),
    };
    parsed.map_err(|_| format!("expected an unsigned integer, found `{s}`"))
}

macro_rules! uint_text {
    ($ty:ty) => {
        impl TextArg<'_> for $ty {
            fn write(self, out: &mut String) {
                let _ = write!(out, "{self}");
            }
            fn parse(token: &Token<'_>) -> Result<Self, String> {
                let v = parse_u64(token)?;
                <$ty>::try_from(v).map_err(|_| format!("{v} is too large (at most {})", <$ty>::MAX))
            }
            fn zero() -> Self {
                0
            }
        }
    };
}
uint_text!(u64);
uint_text!(u32);

impl TextArg<'_> for u8 {
    fn write(self, out: &mut String) {
        let _ = write!(out, "{self:#04x}");
    }
    fn parse(token: &Token<'_>) -> Result<Self, String> {
        let v = parse_u64(token)?;
        u8::try_from(v).map_err(|_| format!("{v} is too large (at most 255)"))
    }
    fn zero() -> Self {
        0
    }
}

impl TextArg<'_> for i64 {
    fn write(self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
    fn parse(token: &Token<'_>) -> Result<Self, String> {
        let s = bare(token, "an integer")?;
        s.parse()
            .map_err(|_| format!("expected an integer, found `{s}`"))
    }
    fn zero() -> Self {
        0
    }
}

impl TextArg<'_> for TaskId {
    fn write(self, out: &mut String) {
        let _ = write!(out, "{self}");
    }
    /// `17`, or `root1` for the recorder's own ids, as `TaskId` displays them.
    fn parse(token: &Token<'_>) -> Result<Self, String> {
        let s = bare(token, "a task id")?;
        if let Some(n) = s.strip_prefix("root") {
            // `rootN` is `FIRST_OWN + N - 1`, for any id that `Display` writes that way.
            let id = n.parse::<u64>().ok().and_then(|n| {
                n.checked_sub(1)
                    .and_then(|m| TaskId::FIRST_OWN.checked_add(m))
            });
            return id
                .map(TaskId)
                .ok_or_else(|| format!("expected a task id (`17`, `root1`), found `{s}`"));
        }
        parse_u64(token)
            .map(TaskId)
            .map_err(|_| format!("expected a task id (`17`, `root1`), found `{s}`"))
    }
    fn zero() -> Self {
        TaskId::NONE
    }
}

macro_rules! id_text {
    ($ty:ident) => {
        impl TextArg<'_> for $ty {
            fn write(self, out: &mut String) {
                let _ = write!(out, "{}", self.0);
            }
            fn parse(token: &Token<'_>) -> Result<Self, String> {
                u32::parse(token).map($ty)
            }
            fn zero() -> Self {
                $ty(0)
            }
        }
    };
}
id_text!(StringId);
id_text!(LocationId);
id_text!(StackId);

macro_rules! enum_text {
    ($ty:ident, $zero:expr) => {
        impl TextArg<'_> for $ty {
            fn write(self, out: &mut String) {
                out.push_str(self.text_name());
            }
            fn parse(token: &Token<'_>) -> Result<Self, String> {
                let s = bare(token, "a name")?;
                $ty::from_text_name(s)
                    .ok_or_else(|| format!("expected one of {}found `{s}`", $ty::TEXT_NAMES))
            }
            fn zero() -> Self {
                $zero
            }
        }
    };
}
enum_text!(ThreadKind, ThreadKind::Worker);
enum_text!(TaskKind, TaskKind::Async);
enum_text!(WakeSource, WakeSource::Task);
enum_text!(PauseScope, PauseScope::Process);
enum_text!(Level, Level::Trace);

impl TextArg<'_> for bool {
    fn write(self, out: &mut String) {
        out.push_str(if self { "true" } else { "false" });
    }
    fn parse(token: &Token<'_>) -> Result<Self, String> {
        match bare(token, "true or false")? {
            "true" => Ok(true),
            "false" => Ok(false),
            s => Err(format!("expected true or false, found `{s}`")),
        }
    }
    fn zero() -> Self {
        false
    }
}

impl<'a> TextArg<'a> for &'a [u8] {
    fn write(self, out: &mut String) {
        write_quoted(out, self);
    }
    fn parse(token: &'a Token<'_>) -> Result<Self, String> {
        match token {
            Token::Quoted(b) => Ok(b),
            Token::Bare(s) => Err(format!("expected a quoted string, found `{s}`")),
        }
    }
    fn zero() -> Self {
        &[]
    }
}

impl<'a> TextArg<'a> for &'a str {
    fn write(self, out: &mut String) {
        write_quoted(out, self.as_bytes());
    }
    fn parse(token: &'a Token<'_>) -> Result<Self, String> {
        std::str::from_utf8(<&[u8]>::parse(token)?)
            .map_err(|_| "the string is not valid UTF-8".to_string())
    }
    fn zero() -> Self {
        ""
    }
}

/// An optional value: the argument given, or `None` (its zero) when it is left out.
impl<'a, T: TextArg<'a>> TextArg<'a> for Option<T> {
    fn write(self, out: &mut String) {
        if let Some(v) = self {
            v.write(out);
        }
    }
    fn parse(token: &'a Token<'_>) -> Result<Self, String> {
        T::parse(token).map(Some)
    }
    fn zero() -> Self {
        None
    }
}

/// The `name=value` arguments of one line, taken one by one by name; what is left over at
/// the end is an error.
pub(crate) struct Args<'t, 'a> {
    items: &'a [(&'t str, Token<'t>)],
    taken: Vec<bool>,
}

impl<'t, 'a> Args<'t, 'a> {
    pub(super) fn new(items: &'a [(&'t str, Token<'t>)]) -> Result<Self, String> {
        for (i, (name, _)) in items.iter().enumerate() {
            if items[..i].iter().any(|(n, _)| n == name) {
                return Err(format!("argument `{name}` is given twice"));
            }
        }
        Ok(Args {
            items,
            taken: vec![false; items.len()],
        })
    }

    /// The argument `name`, or its zero value when it is left out.
    pub(crate) fn take<T: TextArg<'a>>(&mut self, name: &str) -> Result<T, String> {
        match self.items.iter().position(|(n, _)| *n == name) {
            Some(i) => {
                self.taken[i] = true;
                T::parse(&self.items[i].1).map_err(|e| format!("`{name}`: {e}"))
            }
            None => Ok(T::zero()),
        }
    }

    /// Whether the argument `name` is given.
    pub(super) fn has(&self, name: &str) -> bool {
        self.items.iter().any(|(n, _)| *n == name)
    }

    /// The argument `name`, or `default` when it is left out.
    pub(super) fn take_or<T: TextArg<'a>>(&mut self, name: &str, default: T) -> Result<T, String> {
        match self.has(name) {
            true => self.take(name),
            false => Ok(default),
        }
    }

    /// The raw token of `name`, if given.
    pub(super) fn take_token(&mut self, name: &str) -> Option<&'a Token<'t>> {
        let i = self.items.iter().position(|(n, _)| *n == name)?;
        self.taken[i] = true;
        Some(&self.items[i].1)
    }

    pub(super) fn take_string(&mut self, name: &str, default: &str) -> Result<String, String> {
        Ok(match self.take::<Option<&str>>(name)? {
            Some(s) => s.to_owned(),
            None => default.to_owned(),
        })
    }

    /// Fails on an argument that was not taken; `known` lists the ones that exist.
    pub(super) fn finish(&self, what: &str, known: &[&str]) -> Result<(), String> {
        match self.taken.iter().position(|t| !t) {
            None => Ok(()),
            Some(i) => Err(format!(
                "{what} has no argument `{}` (its arguments: {})",
                self.items[i].0,
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )),
        }
    }
}
