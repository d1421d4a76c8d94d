//! Human-readable formatting of quantities: durations with a unit chosen for their size,
//! byte sizes, and wall-clock instants as RFC 3339 UTC timestamps.
//!
//! Everything here is pure and allocation-light so that reports, the window and exports all
//! print numbers the same way.

use std::fmt::Write as _;

const NS_PER_US: u64 = 1_000;
const NS_PER_MS: u64 = 1_000_000;
const NS_PER_S: u64 = 1_000_000_000;
const NS_PER_MIN: u64 = 60 * NS_PER_S;

/// Formats a duration in nanoseconds with a unit that suits its size and three significant
/// digits: `"850 ns"`, `"1.23 µs"`, `"45.6 ms"`, `"3.2 s"`. Durations of a minute or more are
/// split into whole units: `"2 min 5 s"`, `"1 h 30 min"`.
///
/// Values are rounded before the unit is chosen, so `999_999 ns` is `"1 ms"`, not
/// `"1000 µs"`.
///
/// ```
/// use trace_analysis::units::format_duration;
/// assert_eq!(format_duration(0), "0 ns");
/// assert_eq!(format_duration(1_234), "1.23 µs");
/// assert_eq!(format_duration(3_200_000_000), "3.2 s");
/// ```
pub fn format_duration(ns: u64) -> String {
    let rounded = round_significant(ns, 3);
    if rounded < NS_PER_US {
        return format!("{rounded} ns");
    }
    if rounded < NS_PER_MS {
        return scaled(rounded, NS_PER_US, "µs");
    }
    if rounded < NS_PER_S {
        return scaled(rounded, NS_PER_MS, "ms");
    }
    if rounded < NS_PER_MIN {
        return scaled(rounded, NS_PER_S, "s");
    }
    // A minute or more: whole seconds, then whole minutes past an hour.
    let seconds = ns / NS_PER_S + u64::from(ns % NS_PER_S >= NS_PER_S / 2);
    if seconds < 3600 {
        let (m, s) = (seconds / 60, seconds % 60);
        return if s == 0 {
            format!("{m} min")
        } else {
            format!("{m} min {s} s")
        };
    }
    let minutes = ns / NS_PER_MIN + u64::from(ns % NS_PER_MIN >= NS_PER_MIN / 2);
    let (h, m) = (minutes / 60, minutes % 60);
    if m == 0 {
        format!("{h} h")
    } else {
        format!("{h} h {m} min")
    }
}

/// Rounds `v` to `digits` significant decimal digits (half up), saturating at `u64::MAX`.
fn round_significant(v: u64, digits: u32) -> u64 {
    let len = v.checked_ilog10().map_or(1, |l| l + 1);
    if len <= digits {
        return v;
    }
    let step = 10u64.pow(len - digits);
    let down = v - v % step;
    if v % step >= step / 2 {
        down.saturating_add(step)
    } else {
        down
    }
}

/// `v / unit` with up to two decimals, trailing zeros removed (`v` is already rounded to
/// three significant digits, so no precision is lost).
fn scaled(v: u64, unit: u64, name: &str) -> String {
    let whole = v / unit;
    // Hundredths of the unit; exact because v has at most 3 significant digits and
    // whole >= 1.
    let hundredths = (v % unit) / (unit / 100);
    let mut s = whole.to_string();
    if hundredths != 0 {
        let _ = write!(s, ".{hundredths:02}");
        while s.ends_with('0') {
            s.pop();
        }
    }
    s.push(' ');
    s.push_str(name);
    s
}

/// Formats a byte count with a binary unit: `"512 B"`, `"1.5 KiB"`, `"12.3 MiB"`.
///
/// ```
/// assert_eq!(trace_analysis::units::format_bytes(1536), "1.5 KiB");
/// ```
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    let text = if value < 10.0 {
        format!("{value:.2}")
    } else if value < 100.0 {
        format!("{value:.1}")
    } else {
        format!("{value:.0}")
    };
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        &text
    };
    format!("{text} {}", UNITS[unit])
}

/// Formats an instant given in nanoseconds since the Unix epoch as an RFC 3339 UTC timestamp
/// with `fraction_digits` (0 to 9, clamped) digits after the seconds, truncated:
/// `"2023-11-14T22:13:20.123Z"` for 3 digits.
///
/// ```
/// use trace_analysis::units::format_rfc3339_utc;
/// assert_eq!(format_rfc3339_utc(1_700_000_000_123_456_789, 3), "2023-11-14T22:13:20.123Z");
/// assert_eq!(format_rfc3339_utc(0, 0), "1970-01-01T00:00:00Z");
/// ```
pub fn format_rfc3339_utc(unix_nanos: u64, fraction_digits: u32) -> String {
    let secs = unix_nanos / NS_PER_S;
    let nanos = unix_nanos % NS_PER_S;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let mut s = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    let digits = fraction_digits.min(9);
    if digits > 0 {
        let frac = nanos / 10u64.pow(9 - digits);
        let _ = write!(s, ".{frac:0width$}", width = digits as usize);
    }
    s.push('Z');
    s
}

/// The proleptic Gregorian date of `days` days after 1970-01-01 (H. Hinnant's
/// `civil_from_days`, for non-negative day counts).
fn civil_from_days(days: u64) -> (u64, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097; // [0, 146096]
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
    let mp = (5 * doy + 2) / 153; // [0, 11], March-based
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// Parses a duration with a unit, as the command line accepts it: `"250ns"`, `"1.5us"` (or
/// `"1.5µs"`), `"10ms"`, `"2s"`, `"1min"`; a space before the unit is allowed. A bare number
/// is rejected, so `10` cannot silently mean 10 ns. Returns nanoseconds, rounded to the
/// nearest one.
///
/// Errors say what is wrong: an empty text, a negative duration, a missing or unknown unit,
/// a number that does not parse, a duration too long for 64 bits, or one that is not zero
/// but less than 1 ns (it would silently read as 0, and a trace records nothing finer).
///
/// ```
/// use trace_analysis::units::parse_duration;
/// assert_eq!(parse_duration("1.5ms"), Ok(1_500_000));
/// assert_eq!(parse_duration("250 ns"), Ok(250));
/// assert!(parse_duration("10").is_err());
/// assert!(parse_duration("-1ms").unwrap_err().contains("negative"));
/// ```
pub fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration: write it as e.g. 10ms, 1.5s, 250us or 80ns".into());
    }
    if text.starts_with('-') {
        return Err(format!(
            "`{text}` is negative: a duration is 0 or more, e.g. 10ms"
        ));
    }
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| {
            format!("`{text}` has no unit: write it as e.g. 10ms, 1.5s, 250us or 80ns")
        })?;
    let (number, unit) = text.split_at(split);
    let scale = match unit.trim() {
        "ns" => 1.0,
        "us" | "µs" | "μs" => NS_PER_US as f64,
        "ms" => NS_PER_MS as f64,
        "s" => NS_PER_S as f64,
        "min" | "m" => NS_PER_MIN as f64,
        other => {
            return Err(format!(
                "unknown unit `{other}` in `{text}`: use ns, us (µs), ms, s or min"
            ));
        }
    };
    let value: f64 = number.parse().map_err(|_| {
        format!("`{text}` is not a duration: expected a number and a unit, e.g. 10ms")
    })?;
    let ns = (value * scale).round();
    if !ns.is_finite() || ns > u64::MAX as f64 {
        return Err(format!("`{text}` is too long"));
    }
    if ns == 0.0 && value > 0.0 {
        return Err(format!(
            "`{text}` is less than 1 ns, the finest time a trace records"
        ));
    }
    Ok(ns as u64)
}

/// Parses one MMU window length: a [`parse_duration`] of at least 1 ns. Meant for one item
/// of a comma-separated list, so an empty text is named as an empty item of the list.
///
/// ```
/// use trace_analysis::units::parse_window;
/// assert_eq!(parse_window("10ms"), Ok(10_000_000));
/// assert!(parse_window("0ms").unwrap_err().contains("at least 1 ns"));
/// assert!(parse_window("").unwrap_err().contains("empty item"));
/// ```
pub fn parse_window(text: &str) -> Result<u64, String> {
    if text.trim().is_empty() {
        return Err(
            "empty item in the list of windows: separate windows by single commas, e.g. 1ms,10ms"
                .into(),
        );
    }
    match parse_duration(text)? {
        0 => Err(format!(
            "`{}` is a window of 0 ns: a window must be at least 1 ns long",
            text.trim()
        )),
        ns => Ok(ns),
    }
}

/// Parses a comma-separated list of durations (`"1ms,10ms,100ms"`); see [`parse_duration`].
/// An empty item (`"1ms,,10ms"`, a comma at either end) is an error that says so.
///
/// ```
/// use trace_analysis::units::parse_duration_list;
/// assert_eq!(parse_duration_list("1ms, 10ms"), Ok(vec![1_000_000, 10_000_000]));
/// assert!(parse_duration_list("1ms,,10ms").unwrap_err().contains("empty item 2"));
/// ```
pub fn parse_duration_list(text: &str) -> Result<Vec<u64>, String> {
    text.split(',')
        .enumerate()
        .map(|(i, item)| {
            if item.trim().is_empty() {
                Err(format!(
                    "empty item {} in `{text}`: separate durations by single commas, e.g. 1ms,10ms",
                    i + 1
                ))
            } else {
                parse_duration(item)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_parse_with_units_and_reject_bare_numbers() {
        assert_eq!(parse_duration("80ns"), Ok(80));
        assert_eq!(parse_duration("1.5us"), Ok(1_500));
        assert_eq!(parse_duration("2 µs"), Ok(2_000));
        assert_eq!(parse_duration("10ms"), Ok(10_000_000));
        assert_eq!(parse_duration("0.5s"), Ok(500_000_000));
        assert_eq!(parse_duration("1min"), Ok(60_000_000_000));
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(
            parse_duration("10 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_duration("1.2.3ms").is_err());
        assert!(parse_duration("ms").is_err());
        assert_eq!(
            parse_duration_list("1ms, 10ms"),
            Ok(vec![1_000_000, 10_000_000])
        );
        assert!(parse_duration_list(",").is_err());
    }

    #[test]
    fn bad_durations_say_what_is_wrong() {
        // A sign is not part of an unknown unit: say that durations cannot be negative.
        for text in [" -1ms", "-1ms", "-0.5 s", "- 2us"] {
            let e = parse_duration(text).unwrap_err();
            assert!(e.contains("negative"), "{text:?}: {e}");
            assert!(!e.contains("unknown unit"), "{text:?}: {e}");
        }
        // Less than the trace's resolution, but not zero: it would silently read as 0 ns.
        for text in ["0.0000001ns", "0.4ns", "0.0000000001ms"] {
            let e = parse_duration(text).unwrap_err();
            assert!(e.contains("less than 1 ns"), "{text:?}: {e}");
        }
        assert_eq!(parse_duration("0.6ns"), Ok(1));
        // Zero is a duration (`--from 0s`), but not a window.
        assert_eq!(parse_duration("0ms"), Ok(0));
        for text in ["0ms", "0 s", "0.0us"] {
            let e = parse_window(text).unwrap_err();
            assert!(e.contains("at least 1 ns"), "{text:?}: {e}");
        }
        assert!(
            parse_window("0.0000001ns")
                .unwrap_err()
                .contains("less than 1 ns")
        );
        assert_eq!(parse_window("2ms"), Ok(2_000_000));
        // An empty item of a list is named as such, not as a duration without a unit.
        for text in ["", " "] {
            let e = parse_window(text).unwrap_err();
            assert!(e.contains("empty item"), "{text:?}: {e}");
            assert!(!e.contains("no unit"), "{text:?}: {e}");
        }
        for text in [",,,", "1ms,,2ms", "1ms,"] {
            let e = parse_duration_list(text).unwrap_err();
            assert!(e.contains("empty item"), "{text:?}: {e}");
            assert!(!e.contains("no unit"), "{text:?}: {e}");
        }
        let e = parse_duration("").unwrap_err();
        assert!(e.contains("empty"), "{e}");
    }

    use super::*;

    #[test]
    fn durations_pick_a_unit_by_size() {
        let cases: &[(u64, &str)] = &[
            (0, "0 ns"),
            (1, "1 ns"),
            (999, "999 ns"),
            (1_000, "1 µs"),
            (1_234, "1.23 µs"),
            (1_235, "1.24 µs"),
            (12_345, "12.3 µs"),
            (123_456, "123 µs"),
            (999_499, "999 µs"),
            (999_500, "1 ms"),
            (999_999, "1 ms"),
            (1_500_000, "1.5 ms"),
            (45_600_000, "45.6 ms"),
            (100_000_000, "100 ms"),
            (1_000_000_000, "1 s"),
            (3_200_000_000, "3.2 s"),
            (3_249_999_999, "3.25 s"),
            (59_940_000_000, "59.9 s"),
            (59_950_000_000, "1 min"),
            (60_000_000_000, "1 min"),
            (125_000_000_000, "2 min 5 s"),
            (3_599_400_000_000, "59 min 59 s"),
            (3_600_000_000_000, "1 h"),
            (5_400_000_000_000, "1 h 30 min"),
        ];
        for &(ns, want) in cases {
            assert_eq!(format_duration(ns), want, "format_duration({ns})");
        }
    }

    #[test]
    fn durations_never_panic_at_the_extremes() {
        assert_eq!(format_duration(u64::MAX), "5124095 h 35 min");
        for shift in 0..64 {
            let v = 1u64 << shift;
            assert!(!format_duration(v).is_empty());
            assert!(!format_duration(v - 1).is_empty());
        }
    }

    #[test]
    fn significant_rounding() {
        assert_eq!(round_significant(0, 3), 0);
        assert_eq!(round_significant(1234, 3), 1230);
        assert_eq!(round_significant(1235, 3), 1240);
        assert_eq!(round_significant(9999, 3), 10_000);
        assert_eq!(round_significant(u64::MAX, 3), 18_400_000_000_000_000_000);
    }

    #[test]
    fn byte_sizes() {
        assert_eq!(format_bytes(0), "0 B");
        assert_eq!(format_bytes(1023), "1023 B");
        assert_eq!(format_bytes(1024), "1 KiB");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(12_900_000), "12.3 MiB");
        assert_eq!(format_bytes(500 << 20), "500 MiB");
        assert_eq!(format_bytes(u64::MAX), "16 EiB");
    }

    #[test]
    fn rfc3339_timestamps() {
        assert_eq!(format_rfc3339_utc(0, 3), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            format_rfc3339_utc(1_700_000_000_000_000_000, 0),
            "2023-11-14T22:13:20Z"
        );
        // A leap day, and the day after it.
        assert_eq!(
            format_rfc3339_utc(951_782_400 * NS_PER_S, 0),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            format_rfc3339_utc(951_868_800 * NS_PER_S, 0),
            "2000-03-01T00:00:00Z"
        );
        assert_eq!(
            format_rfc3339_utc(1_234_567_890_987_654_321, 9),
            "2009-02-13T23:31:30.987654321Z"
        );
        assert_eq!(
            format_rfc3339_utc(1_234_567_890_987_654_321, 6),
            "2009-02-13T23:31:30.987654Z"
        );
        assert_eq!(
            format_rfc3339_utc(u64::MAX, 9),
            "2554-07-21T23:34:33.709551615Z"
        );
    }
}
