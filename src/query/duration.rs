//! PromQL durations (`5m`, `1h30m`, `250ms`, `1w`, `1y` = 365 d), shared by the parser, the API's
//! `step` parameter and the pages' `range=` and `now-6h` times.

/// Reads a duration at the start of `text`; returns milliseconds and the bytes consumed.
/// Consumes nothing (`Ok((0, 0))`) when `text` does not start with a digit.
pub fn scan_duration(text: &str) -> Result<(i64, usize), String> {
    let mut total: i64 = 0;
    let mut pos = 0;
    loop {
        let rest = &text[pos..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Ok((total, pos));
        }
        let n: i64 = rest[..digits]
            .parse()
            .map_err(|_| "duration too large".to_string())?;
        let unit = &rest[digits..];
        let (per, len) = if unit.starts_with("ms") {
            (1, 2)
        } else {
            match unit.chars().next() {
                Some('s') => (1_000, 1),
                Some('m') => (60_000, 1),
                Some('h') => (3_600_000, 1),
                Some('d') => (86_400_000, 1),
                Some('w') => (7 * 86_400_000, 1),
                Some('y') => (365 * 86_400_000, 1),
                other => {
                    return Err(format!(
                        "expected a duration unit (ms, s, m, h, d, w, y) after {n}, found {}",
                        other.map_or("end of input".to_string(), |c| format!("{c:?}"))
                    ));
                }
            }
        };
        total = n
            .checked_mul(per)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| "duration too large".to_string())?;
        pos += digits + len;
    }
}

/// Parses a whole string as a duration such as `15s` or `1h30m`.
pub fn parse_duration(text: &str) -> Result<i64, String> {
    let t = text.trim();
    let (ms, used) = scan_duration(t)?;
    if used == 0 || used != t.len() {
        return Err(format!(
            "{text:?} is not a duration such as 15s, 5m, 1h30m, 7d"
        ));
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_simple_and_compound_durations() {
        assert_eq!(parse_duration("15s"), Ok(15_000));
        assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration("250ms"), Ok(250));
        assert_eq!(parse_duration("1y"), Ok(365 * 86_400_000));
        assert_eq!(parse_duration("2w"), Ok(14 * 86_400_000));
    }

    #[test]
    fn refuses_bare_numbers_unknown_units_and_trailing_text() {
        assert!(parse_duration("15").unwrap_err().contains("unit"));
        assert!(parse_duration("5q").is_err());
        assert!(parse_duration("5m!").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("99999999999999999999s").is_err());
    }

    #[test]
    fn scan_stops_at_the_first_non_duration_character() {
        assert_eq!(scan_duration("5m]"), Ok((300_000, 2)));
        assert_eq!(scan_duration("x"), Ok((0, 0)));
    }
}
