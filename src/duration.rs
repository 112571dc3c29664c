//! The one duration parser and formatter of the crate: the config (`interval = "15s"`), the
//! command line, PromQL-shaped API parameters (`step=1m`), the pages' `range=`/`compare=` and
//! every place a duration is shown.
//!
//! Accepted: one or more `<digits><unit>` groups with units `ms s m h d w y` (`y` = 365 d, as in
//! Prometheus), e.g. `15s`, `1h30m`, `1y2w3d4h5m6s7ms`; surrounding whitespace is ignored. Groups
//! may come in any order (the config always accepted `30m1h`); a bare number is refused, since
//! its unit would be a guess.

use std::time::Duration;

const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1_000),
    ("ms", 1),
];

fn millis_per(unit: &str) -> Option<u64> {
    UNITS.iter().find(|(u, _)| *u == unit).map(|(_, per)| *per)
}

/// Parses `15s`, `5m`, `7d`, `2w`, `1y`, `500ms`, `1h30m`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    parse_ms(text).map(Duration::from_millis)
}

/// [`parse_duration`] in milliseconds.
pub fn parse_ms(text: &str) -> Result<u64, String> {
    let err = || {
        format!(
            "invalid duration {text:?}: expected a number with a unit such as 500ms, 15s, 5m, 2h, 7d, 1w or 1y"
        )
    };
    let s = text.trim();
    if s.is_empty() {
        return Err(err());
    }
    let mut total: u64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(err());
        }
        let n: u64 = rest[..digits].parse().map_err(|_| err())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let per = millis_per(&rest[..unit_len]).ok_or_else(err)?;
        rest = &rest[unit_len..];
        total = n
            .checked_mul(per)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(err)?;
    }
    // Durations are used as i64 milliseconds (timestamps) everywhere else.
    if total > i64::MAX as u64 {
        return Err(err());
    }
    Ok(total)
}

/// [`parse_ms`] as signed milliseconds, the type timestamps have.
pub fn parse_i64_ms(text: &str) -> Result<i64, String> {
    // parse_ms refuses anything above i64::MAX.
    parse_ms(text).map(|v| v as i64)
}

/// Formats a duration the way the config writes it: the largest unit that divides it exactly
/// (`15s`, `5m`, `90m`, `1w`), else milliseconds.
pub fn format_duration(d: Duration) -> String {
    format_ms(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// [`format_duration`] of milliseconds; `0s` for zero.
pub fn format_ms(ms: u64) -> String {
    if ms == 0 {
        return "0s".into();
    }
    for (unit, per) in UNITS {
        if ms >= per && ms.is_multiple_of(per) {
            return format!("{}{unit}", ms / per);
        }
    }
    format!("{ms}ms")
}

/// [`format_ms`] of a signed millisecond count (negative values as `-5m`).
pub fn format_signed_ms(ms: i64) -> String {
    if ms < 0 {
        format!("-{}", format_ms(ms.unsigned_abs()))
    } else {
        format_ms(ms as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_prometheus_and_config_durations() {
        assert_eq!(parse_ms("15s"), Ok(15_000));
        assert_eq!(parse_ms(" 1h30m "), Ok(5_400_000));
        assert_eq!(parse_ms("30m1h"), Ok(5_400_000));
        assert_eq!(parse_ms("250ms"), Ok(250));
        assert_eq!(parse_ms("1y"), Ok(365 * 86_400_000));
        assert_eq!(parse_ms("2w"), Ok(14 * 86_400_000));
        assert_eq!(
            parse_ms("1y2w3d4h5m6s7ms"),
            Ok(365 * 86_400_000 + 14 * 86_400_000 + 3 * 86_400_000 + 4 * 3_600_000 + 306_007)
        );
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
    }

    #[test]
    fn refuses_bare_numbers_unknown_units_and_overflow() {
        for bad in [
            "",
            "15",
            "15x",
            "s",
            "1.5s",
            "-3s",
            "5m!",
            "99999999999999999999d",
            "9999999999999999y",
        ] {
            assert!(parse_ms(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(parse_ms("15").unwrap_err().contains("unit"));
    }

    #[test]
    fn formats_with_the_largest_exact_unit() {
        assert_eq!(format_ms(0), "0s");
        assert_eq!(format_ms(15_000), "15s");
        assert_eq!(format_ms(5_400_000), "90m");
        assert_eq!(format_ms(7 * 86_400_000), "1w");
        assert_eq!(format_ms(365 * 86_400_000), "1y");
        assert_eq!(format_ms(1_500), "1500ms");
        assert_eq!(format_signed_ms(-300_000), "-5m");
        assert_eq!(format_duration(Duration::from_secs(86_400)), "1d");
    }

    proptest::proptest! {
        #![proptest_config(crate::proptest_config(512))]
        #[test]
        fn parser_never_panics(text in "\\PC{0,24}") {
            let _ = parse_ms(&text);
        }

        #[test]
        fn formatted_durations_parse_back(ms in 0u64..100_000_000_000_000u64) {
            proptest::prop_assert_eq!(parse_ms(&format_ms(ms)).unwrap(), ms);
        }

        #[test]
        fn compound_durations_add_up(parts in proptest::collection::vec((0u64..10_000, 0usize..7), 1..6)) {
            let text: String = parts.iter().map(|(n, u)| format!("{n}{}", UNITS[*u].0)).collect();
            let want: u64 = parts.iter().map(|(n, u)| n * UNITS[*u].1).sum();
            proptest::prop_assert_eq!(parse_ms(&text).unwrap(), want);
        }
    }
}
