//! Units, number and time formatting for pages and charts. Pure functions, all in UTC.

use crate::model::{MetricKind, Timestamp};

pub use crate::catalogue::Unit;

/// How values are displayed: a unit, and whether they are per-second rates of a counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueFormat {
    pub unit: Unit,
    pub per_second: bool,
}

impl ValueFormat {
    /// Values of a series with this unit and kind: a counter is shown as a rate.
    pub fn new(unit: Unit, kind: MetricKind) -> Self {
        Self {
            unit,
            per_second: kind == MetricKind::Counter,
        }
    }

    pub fn plain() -> Self {
        Self {
            unit: Unit::None,
            per_second: false,
        }
    }

    /// The scale that suits values up to `max_abs`; an axis uses one scale for all its ticks.
    pub fn scale_for(self, max_abs: f64) -> Scale {
        let m = if max_abs.is_finite() {
            max_abs.abs()
        } else {
            0.0
        };
        let (factor, suffix): (f64, &'static str) = match self.unit {
            Unit::Ratio => (0.01, " %"),
            Unit::Percent => (1.0, " %"),
            Unit::None => {
                if m >= 1e12 {
                    (1e12, "T")
                } else if m >= 1e9 {
                    (1e9, "G")
                } else if m >= 1e6 {
                    (1e6, "M")
                } else if m >= 1e4 {
                    (1e3, "k")
                } else {
                    (1.0, "")
                }
            }
            Unit::Bytes => {
                const K: f64 = 1024.0;
                if m >= K * K * K * K {
                    (K * K * K * K, " TiB")
                } else if m >= K * K * K {
                    (K * K * K, " GiB")
                } else if m >= K * K {
                    (K * K, " MiB")
                } else if m >= K {
                    (K, " KiB")
                } else {
                    (1.0, " B")
                }
            }
            Unit::Seconds | Unit::Milliseconds => {
                // Work in seconds; the factor converts the stored unit to the shown one.
                let to_s = if self.unit == Unit::Milliseconds {
                    1e-3
                } else {
                    1.0
                };
                let s = m * to_s;
                let (per, suffix) = if s >= 2.0 * 86_400.0 {
                    (86_400.0, " d")
                } else if s >= 2.0 * 3_600.0 {
                    (3_600.0, " h")
                } else if s >= 120.0 {
                    (60.0, " min")
                } else if s >= 1.0 {
                    (1.0, " s")
                } else if s >= 1e-3 || s == 0.0 {
                    (1e-3, " ms")
                } else {
                    (1e-6, " µs")
                };
                (per / to_s, suffix)
            }
        };
        Scale {
            factor,
            suffix,
            per_second: self.per_second,
        }
    }

    /// Several values with one unit written once, in the scale that suits `reference`:
    /// `0 / 3.12 / 3090 ms`; a missing value is `–`.
    pub fn format_joined(self, values: &[Option<f64>], reference: f64) -> String {
        let scale = self.scale_for(reference);
        let nums: Vec<String> = values
            .iter()
            .map(|v| match v {
                Some(v) if v.is_finite() => format_number(v / scale.factor),
                Some(v) => scale.format(*v),
                None => "–".into(),
            })
            .collect();
        let rate = if self.per_second { "/s" } else { "" };
        format!("{}{}{rate}", nums.join(" / "), scale.suffix)
    }

    /// One value with its own best scale, e.g. `12.3 MiB/s`, `4.5 ms`, `1.2k`.
    pub fn format(self, v: f64) -> String {
        self.scale_for(v).format(v)
    }
}

/// A chosen display scale: values are divided by `factor` and followed by `suffix`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    pub factor: f64,
    pub suffix: &'static str,
    pub per_second: bool,
}

impl Scale {
    pub fn format(&self, v: f64) -> String {
        if v.is_nan() {
            return "NaN".into();
        }
        if v.is_infinite() {
            return if v > 0.0 {
                "+Inf".into()
            } else {
                "-Inf".into()
            };
        }
        let x = v / self.factor;
        let text = format_number(x);
        let rate = if self.per_second { "/s" } else { "" };
        format!("{text}{}{rate}", self.suffix)
    }
}

impl Scale {
    /// An axis label: as many decimals as the tick step needs, so neighbouring ticks never print
    /// the same text (`39.596 s`, `39.598 s` rather than `39.6 s` twice).
    pub fn format_tick(&self, v: f64, step: f64) -> String {
        let x = v / self.factor;
        let s = step.abs() / self.factor;
        // The fewest decimals that write the step exactly (0.25 needs two, 0.002 three).
        let decimals = if s > 0.0 && s.is_finite() {
            (0..9)
                .find(|d| {
                    let k = s * 10f64.powi(*d);
                    (k - k.round()).abs() < 1e-6 * k.max(1.0)
                })
                .unwrap_or(9) as usize
        } else {
            0
        };
        let text = if x.abs() >= 1e5 || decimals == 0 {
            if x.abs() >= 1e5 {
                format_number(x)
            } else {
                format!("{x:.0}")
            }
        } else {
            let t = format!("{x:.decimals$}");
            t.trim_end_matches('0').trim_end_matches('.').to_string()
        };
        let text = if text == "-0" { "0".to_string() } else { text };
        let rate = if self.per_second { "/s" } else { "" };
        format!("{text}{}{rate}", self.suffix)
    }
}

/// Three significant digits at most, without a trailing `.0`: `1`, `12.5`, `0.123`, `1234`.
pub fn format_number(x: f64) -> String {
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    let decimals = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else if a >= 0.01 {
        3
    } else {
        return format!("{x:.2e}");
    };
    let s = format!("{x:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// ZooKeeper's version text without the build details: `3.8.0-${mvngit.commit.id}, built on
/// 2024-12-29 17:54 UTC` and `3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on …` both
/// give `3.8.0`/`3.8.4`; a suffix such as `-SNAPSHOT` stays.
pub fn short_version(v: &str) -> &str {
    let v = v.split(", built on").next().unwrap_or(v).trim();
    match v.split_once('-') {
        Some((base, rest))
            if rest.starts_with("${")
                || (rest.len() >= 7 && rest.chars().all(|c| c.is_ascii_hexdigit())) =>
        {
            base
        }
        _ => v,
    }
}

/// `2024-05-01 10:00:00 UTC`.
pub fn utc(ts: Timestamp) -> String {
    utc_fmt(ts, "%Y-%m-%d %H:%M:%S UTC")
}

/// `2024-05-01 10:00 UTC`.
pub fn utc_minutes(ts: Timestamp) -> String {
    utc_fmt(ts, "%Y-%m-%d %H:%M UTC")
}

/// RFC 3339 in UTC with second precision, for URLs: `2024-05-01T10:00:00Z`.
pub fn rfc3339(ts: Timestamp) -> String {
    utc_fmt(ts, "%Y-%m-%dT%H:%M:%SZ")
}

/// Formats a unix-ms time in UTC with a strftime pattern; out-of-range times print as the number.
/// Patterns of only `%Y %m %d %H %M %S` and plain characters (every one the pages use, thousands
/// of times per page in tooltips) are written directly; anything else goes through jiff.
pub fn utc_fmt(ts: Timestamp, pattern: &str) -> String {
    if let Some(s) = utc_fast(ts, pattern) {
        return s;
    }
    match jiff::Timestamp::from_millisecond(ts) {
        Ok(t) => t.strftime(pattern).to_string(),
        Err(_) => ts.to_string(),
    }
}

/// Year, month, day from days since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

fn utc_fast(ts: Timestamp, pattern: &str) -> Option<String> {
    use std::fmt::Write as _;
    let secs = ts.div_euclid(1000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    if !(0..=9999).contains(&y) {
        return None;
    }
    let sod = secs.rem_euclid(86_400);
    let mut out = String::with_capacity(pattern.len() + 8);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let _ = match chars.next()? {
            'Y' => write!(out, "{y:04}"),
            'm' => write!(out, "{mo:02}"),
            'd' => write!(out, "{d:02}"),
            'H' => write!(out, "{:02}", sod / 3600),
            'M' => write!(out, "{:02}", sod / 60 % 60),
            'S' => write!(out, "{:02}", sod % 60),
            _ => return None,
        };
    }
    Some(out)
}

/// A short age such as `12s`, `5m`, `3h`, `2d`.
pub fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    if s < 120 {
        format!("{s}s")
    } else if s < 2 * 3600 {
        format!("{}m", s / 60)
    } else if s < 2 * 86_400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    }
}

/// The CSS class of a target's state at a range's end: up, down, or unknown (no scrape near it).
pub fn up_class(up: Option<bool>) -> &'static str {
    match up {
        Some(true) => "up",
        Some(false) => "down",
        None => "unknown",
    }
}

/// The words for a target's state at a range's end.
pub fn up_text(up: Option<bool>) -> &'static str {
    match up {
        Some(true) => "up",
        Some(false) => "down",
        None => "no data",
    }
}

/// Percent-encodes a query-string component (RFC 3986 unreserved characters pass through).
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_formatted_with_units() {
        let bytes = ValueFormat {
            unit: Unit::Bytes,
            per_second: true,
        };
        assert_eq!(bytes.format(3.0 * 1024.0 * 1024.0), "3 MiB/s");
        assert_eq!(bytes.format(512.0), "512 B/s");
        let ms = ValueFormat {
            unit: Unit::Milliseconds,
            per_second: false,
        };
        assert_eq!(ms.format(4.5), "4.5 ms");
        assert_eq!(ms.format(2500.0), "2.5 s");
        assert_eq!(ms.format(0.0), "0 ms");
        let s = ValueFormat {
            unit: Unit::Seconds,
            per_second: false,
        };
        assert_eq!(s.format(0.0123), "12.3 ms");
        assert_eq!(s.format(7200.0), "2 h");
        assert_eq!(ValueFormat::plain().format(12_345.0), "12.3k");
        assert_eq!(ValueFormat::plain().format(3.0), "3");
        assert_eq!(ValueFormat::plain().format(0.25), "0.25");
        assert_eq!(ValueFormat::plain().format(f64::NAN), "NaN");
        let ratio = ValueFormat::new(Unit::Ratio, MetricKind::Gauge);
        assert_eq!(ratio.format(0.953), "95.3 %");
    }

    #[test]
    fn joined_values_share_one_unit() {
        let ms = ValueFormat {
            unit: Unit::Milliseconds,
            per_second: false,
        };
        assert_eq!(
            ms.format_joined(&[Some(0.0), Some(3.12), Some(3090.0)], 3.12),
            "0 / 3.12 / 3090 ms"
        );
        assert_eq!(
            ValueFormat::plain().format_joined(&[Some(53.0), Some(20000.0)], 53.0),
            "53 / 20000"
        );
        assert_eq!(
            ValueFormat::plain().format_joined(&[Some(2.0), None], 2.0),
            "2 / –"
        );
    }

    #[test]
    fn tick_labels_have_the_decimals_their_step_needs() {
        let s = ValueFormat {
            unit: Unit::Milliseconds,
            per_second: false,
        }
        .scale_for(39_600.0);
        assert_eq!(s.format_tick(39_596.0, 2.0), "39.596 s");
        assert_eq!(s.format_tick(39_598.0, 2.0), "39.598 s");
        let c = ValueFormat::plain().scale_for(100.0);
        assert_eq!(c.format_tick(25.0, 25.0), "25");
        assert_eq!(c.format_tick(0.25, 0.25), "0.25");
        assert_eq!(c.format_tick(0.5, 0.25), "0.5");
    }

    #[test]
    fn numbers_keep_three_significant_digits() {
        assert_eq!(format_number(1234.4), "1234");
        assert_eq!(format_number(12.34), "12.3");
        assert_eq!(format_number(1.0), "1");
        assert_eq!(format_number(-0.5), "-0.5");
        assert_eq!(format_number(0.0001234), "1.23e-4");
    }

    #[test]
    fn versions_lose_their_build_details() {
        assert_eq!(
            short_version("3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC"),
            "3.8.0"
        );
        assert_eq!(
            short_version(
                "3.8.4-9316c2a7a97e1666d8f4593f34dd6fc36ecc436c, built on 2024-02-12 22:16 UTC"
            ),
            "3.8.4"
        );
        assert_eq!(short_version("3.9.3-SNAPSHOT"), "3.9.3-SNAPSHOT");
        assert_eq!(short_version("3.4.14"), "3.4.14");
    }

    #[test]
    fn fast_utc_formatting_agrees_with_jiff() {
        let patterns = ["%Y-%m-%d %H:%M:%S UTC", "%H:%M", "%m-%d %H:%M", "%Y-%m-%d"];
        let mut ts: i64 = -86_400_000 * 800;
        while ts < 4_102_444_800_000 {
            let t = jiff::Timestamp::from_millisecond(ts).unwrap();
            for p in patterns {
                assert_eq!(utc_fmt(ts, p), t.strftime(p).to_string(), "{ts} {p}");
            }
            ts += 7_777_777_777; // about 90 days and a few hours: every month, leap days
        }
        assert_eq!(utc_fmt(951_782_400_000, "%Y-%m-%d"), "2000-02-29");
        assert_eq!(
            utc_fmt(0, "%a %d"),
            "Thu 01",
            "other patterns go through jiff"
        );
    }

    #[test]
    fn times_are_utc() {
        assert_eq!(utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(rfc3339(1_714_557_600_000), "2024-05-01T10:00:00Z");
        assert_eq!(age(90_000), "90s");
        assert_eq!(age(3 * 86_400_000), "3d");
    }

    #[test]
    fn urlencode_escapes_reserved_characters() {
        assert_eq!(urlencode(r#"up{a="b c"}"#), "up%7Ba%3D%22b%20c%22%7D");
        assert_eq!(urlencode("é"), "%C3%A9");
    }
}
