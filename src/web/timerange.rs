//! The time range every page carries in its URL: `range=24h`, or `from=`/`to=` as RFC 3339, unix
//! seconds (or milliseconds, as Grafana writes them), or relative to now (`now-6h`, `now`).
//!
//! A range remembers how it was written, so links built from it keep their meaning: a portal link
//! with `from=now-6h` stays relative, an incident link with RFC 3339 times stays fixed.

use super::context::DataContext;
use super::format::{rfc3339, urlencode, utc_fmt, utc_minutes};
use crate::duration::parse_i64_ms as parse_duration;
use crate::model::{SeriesKey, Timestamp};
use std::sync::Arc;

/// The preset ranges offered by the time picker.
pub const PRESETS: [&str; 7] = ["1h", "6h", "24h", "7d", "30d", "90d", "1y"];
/// Used when the URL names no range.
pub const DEFAULT_RANGE: &str = "24h";
/// Longer ranges are refused (they would only ever hit the daily tier anyway).
const MAX_RANGE_MS: i64 = 10 * 365 * 86_400_000;

/// A bad `range`/`from`/`to` parameter, with the parameter's name and what was expected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{param}: {message}")]
pub struct TimeRangeError {
    pub param: &'static str,
    pub message: String,
}

fn err(param: &'static str, message: impl Into<String>) -> TimeRangeError {
    TimeRangeError {
        param,
        message: message.into(),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Spec {
    Last(String),
    Custom {
        from: String,
        to: String,
    },
    /// No range in the URL while the data is younger than the default: the smallest preset that
    /// holds all of it. Links from the page carry no range either, so they too show the default
    /// as it fits then; a URL that names a range is never changed.
    Fitted(&'static str),
}

/// A resolved `[from, to)` in unix ms plus the text it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TimeRange {
    pub from: Timestamp,
    pub to: Timestamp,
    spec: Spec,
    /// `refresh=30s`: the page reloads itself this often (live viewing; relative ranges only).
    pub refresh_s: Option<u32>,
    /// What the server knew of the stored data when the range was resolved for a page.
    data: Option<Arc<DataContext>>,
    /// `compare=1w`: every chart of the page also draws the same window this much earlier as a
    /// ghost line. Part of the range because every link that keeps the range keeps it too.
    pub compare: Option<Compare>,
}

/// The offsets the page-level compare control offers (any duration up to [`MAX_COMPARE_MS`] is
/// accepted in the URL).
pub const COMPARE_PRESETS: [&str; 3] = ["1d", "1w", "4w"];
/// Longest accepted `compare` shift.
const MAX_COMPARE_MS: i64 = 366 * 86_400_000;

/// A `compare=` shift: the text as written (kept in links) and its length.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compare {
    pub text: String,
    pub ms: i64,
}

impl Compare {
    /// Parses `compare=`; empty is none. A bad value is an error naming the parameter.
    pub fn parse(text: Option<&str>) -> Result<Option<Compare>, TimeRangeError> {
        let Some(text) = text.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(None);
        };
        let ms = parse_duration(text).map_err(|e| {
            err(
                "compare",
                format!("{e}; use a duration such as {}", COMPARE_PRESETS.join(", ")),
            )
        })?;
        if ms <= 0 || ms > MAX_COMPARE_MS {
            return Err(err(
                "compare",
                format!("{text:?} must be longer than zero and at most a year"),
            ));
        }
        Ok(Some(Compare {
            text: text.to_string(),
            ms,
        }))
    }

    /// The ghost's legend: `1w earlier`.
    pub fn label(&self) -> String {
        format!("{} earlier", self.text)
    }
}

/// One entry of the page-level compare control.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompareLink {
    pub label: &'static str,
    /// The value of `compare=` this link sets (empty: off).
    pub value: &'static str,
    pub active: bool,
}

/// Shortest accepted `refresh`.
const MIN_REFRESH_S: u64 = 5;

/// One entry of the time picker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresetLink {
    pub label: &'static str,
    pub query: String,
    pub active: bool,
}

impl TimeRange {
    /// Resolves the URL parameters at `now`. Empty parameters count as absent (an HTML form sends
    /// its empty fields).
    pub fn parse(
        range: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        now: Timestamp,
    ) -> Result<TimeRange, TimeRangeError> {
        Self::parse_in(range, from, to, now, None)
    }

    /// [`parse`](Self::parse) for a page, with what the server knows of the stored data: a URL
    /// without a range gets the smallest preset that covers the data while the data is younger
    /// than the default range (see [`TimeRange::fitted`]).
    pub fn parse_in(
        range: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        now: Timestamp,
        data: Option<Arc<DataContext>>,
    ) -> Result<TimeRange, TimeRangeError> {
        let mut r = Self::parse_spec(range, from, to, now)?;
        let unnamed = [range, from, to]
            .iter()
            .all(|p| p.is_none_or(|t| t.trim().is_empty()));
        if unnamed && let Some(since) = data.as_ref().and_then(|d| d.collecting_since) {
            let age = now - since;
            let fit = PRESETS
                .iter()
                .take_while(|p| **p != DEFAULT_RANGE)
                .find(|p| parse_duration(p).is_ok_and(|ms| ms >= age));
            if let Some(p) = fit {
                let ms = parse_duration(p).unwrap_or(r.len_ms());
                r.from = now - ms;
                r.spec = Spec::Fitted(p);
            }
        }
        r.data = data;
        Ok(r)
    }

    fn parse_spec(
        range: Option<&str>,
        from: Option<&str>,
        to: Option<&str>,
        now: Timestamp,
    ) -> Result<TimeRange, TimeRangeError> {
        fn nonempty(s: Option<&str>) -> Option<&str> {
            s.map(str::trim).filter(|s| !s.is_empty())
        }
        let (range, from, to) = (nonempty(range), nonempty(from), nonempty(to));
        if range.is_some() && (from.is_some() || to.is_some()) {
            return Err(err(
                "range",
                "give either range= (e.g. 24h) or from=/to=, not both",
            ));
        }
        match (from, to) {
            (None, None) => {
                let text = range.unwrap_or(DEFAULT_RANGE);
                let ms = parse_duration(text).map_err(|e| {
                    err("range", format!("{e}; presets are {}", PRESETS.join(", ")))
                })?;
                Self::check_len(ms, "range")?;
                Ok(TimeRange {
                    from: now - ms,
                    to: now,
                    spec: Spec::Last(text.to_string()),
                    refresh_s: None,
                    data: None,
                    compare: None,
                })
            }
            (from_text, to_text) => {
                let to_text = to_text.unwrap_or("now");
                let to = parse_time(to_text, now).map_err(|m| err("to", m))?;
                let from_text = from_text.ok_or_else(|| {
                    err(
                        "from",
                        "missing: with to= give from= too (e.g. from=now-6h)",
                    )
                })?;
                let from = parse_time(from_text, now).map_err(|m| err("from", m))?;
                if from >= to {
                    return Err(err(
                        "from",
                        format!(
                            "{} is not before to ({})",
                            utc_minutes(from),
                            utc_minutes(to)
                        ),
                    ));
                }
                Self::check_len(to - from, "from")?;
                Ok(TimeRange {
                    from,
                    to,
                    spec: Spec::Custom {
                        from: from_text.to_string(),
                        to: to_text.to_string(),
                    },
                    refresh_s: None,
                    data: None,
                    compare: None,
                })
            }
        }
    }

    fn check_len(ms: i64, param: &'static str) -> Result<(), TimeRangeError> {
        if ms <= 0 {
            return Err(err(param, "the range must be longer than zero"));
        }
        if ms > MAX_RANGE_MS {
            return Err(err(param, "the range is longer than 10 years"));
        }
        Ok(())
    }

    /// A fixed range (for links to a past moment, e.g. around an event).
    pub fn fixed(from: Timestamp, to: Timestamp) -> TimeRange {
        TimeRange {
            from,
            to,
            spec: Spec::Custom {
                from: rfc3339(from),
                to: rfc3339(to),
            },
            refresh_s: None,
            data: None,
            compare: None,
        }
    }

    /// Adds `compare=1w` (see [`Compare`]).
    pub fn with_compare(mut self, compare: Option<&str>) -> Result<TimeRange, TimeRangeError> {
        self.compare = Compare::parse(compare)?;
        Ok(self)
    }

    /// The page-level compare control: off, then each preset.
    pub fn compare_links(&self) -> Vec<CompareLink> {
        let now = self.compare.as_ref().map(|c| c.text.as_str());
        std::iter::once(("off", ""))
            .chain(COMPARE_PRESETS.iter().map(|p| (*p, *p)))
            .map(|(label, value)| CompareLink {
                label,
                value,
                active: now.unwrap_or("") == value,
            })
            .collect()
    }

    /// The URL parameters of this range with `compare=` set to `value` (empty: off).
    pub fn compare_query(&self, value: &str) -> String {
        let mut r = self.clone();
        r.compare = (!value.is_empty()).then(|| Compare {
            text: value.to_string(),
            ms: 0,
        });
        r.query()
    }

    /// `&compare=1w` when set, else nothing.
    fn compare_suffix(&self) -> String {
        self.compare
            .as_ref()
            .map(|c| format!("&compare={}", urlencode(&c.text)))
            .unwrap_or_default()
    }

    /// Adds `refresh=30s`: only for a range that moves with the clock (a fixed window shows the
    /// same data at every reload).
    pub fn with_refresh(mut self, refresh: Option<&str>) -> Result<TimeRange, TimeRangeError> {
        let Some(text) = refresh.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(self);
        };
        let ms = parse_duration(text).map_err(|e| err("refresh", e))?;
        if ms < (MIN_REFRESH_S * 1000) as i64 {
            return Err(err(
                "refresh",
                format!("{text:?} is shorter than {MIN_REFRESH_S}s"),
            ));
        }
        if !self.is_relative() {
            return Err(err(
                "refresh",
                "a fixed window shows the same data at every reload; refresh needs range= or a from/to relative to now",
            ));
        }
        self.refresh_s = Some(u32::try_from(ms / 1000).unwrap_or(u32::MAX));
        Ok(self)
    }

    /// Whether the range moves with the clock (`range=6h`, `to=now`).
    pub fn is_relative(&self) -> bool {
        match &self.spec {
            Spec::Last(_) | Spec::Fitted(_) => true,
            Spec::Custom { from, to } => {
                from.trim().starts_with("now") || to.trim().starts_with("now")
            }
        }
    }

    /// `from=…&to=…` with the absolute times this range resolved to: the permalink of what the
    /// page shows now.
    pub fn absolute_query(&self) -> String {
        format!(
            "from={}&to={}{}",
            urlencode(&rfc3339(self.from)),
            urlencode(&rfc3339(self.to)),
            self.compare_suffix()
        )
    }

    /// The last `preset` ending at `now`.
    pub fn last(preset: &str, now: Timestamp) -> Result<TimeRange, TimeRangeError> {
        Self::parse(Some(preset), None, None, now)
    }

    pub fn len_ms(&self) -> i64 {
        self.to - self.from
    }

    /// The same range moved back by `ms` (for "compare with last week"), as fixed times, with
    /// the data context kept (sample intervals for counter rates) and no comparison of its own.
    pub fn shifted_back(&self, ms: i64) -> TimeRange {
        let mut r = TimeRange::fixed(self.from - ms, self.to - ms);
        r.data = self.data.clone();
        r
    }

    /// The range this range's ghost lines come from, when it has a comparison.
    pub fn compared(&self) -> Option<(TimeRange, &Compare)> {
        self.compare.as_ref().map(|c| (self.shifted_back(c.ms), c))
    }

    /// The URL parameters that reproduce this range: `range=24h` or `from=…&to=…` (nothing for
    /// the default range fitted to young data: links keep showing the default as it fits), plus
    /// its `refresh`.
    pub fn query(&self) -> String {
        let base = match &self.spec {
            Spec::Last(r) => format!("range={}", urlencode(r)),
            Spec::Custom { from, to } => format!("from={}&to={}", urlencode(from), urlencode(to)),
            Spec::Fitted(_) => String::new(),
        };
        let base = match (self.refresh_s, base.is_empty()) {
            (Some(s), false) => format!("{base}&refresh={s}s"),
            (Some(s), true) => format!("refresh={s}s"),
            (None, _) => base,
        };
        let compare = self.compare_suffix();
        match (base.is_empty(), compare.strip_prefix('&')) {
            (_, None) => base,
            (true, Some(c)) => c.to_string(),
            (false, Some(_)) => format!("{base}{compare}"),
        }
    }

    /// The preset name when the range is one (`24h`), for the picker's highlight.
    pub fn preset(&self) -> Option<&str> {
        match &self.spec {
            Spec::Last(r) => Some(r),
            Spec::Fitted(p) => Some(p),
            Spec::Custom { .. } => None,
        }
    }

    /// The `from`/`to` text for the custom-range form fields.
    pub fn custom_text(&self) -> (String, String) {
        match &self.spec {
            Spec::Last(r) => (format!("now-{r}"), "now".to_string()),
            Spec::Fitted(p) => (format!("now-{p}"), "now".to_string()),
            Spec::Custom { from, to } => (from.clone(), to.clone()),
        }
    }

    /// The configured sample interval of a series, when the range was resolved for a page.
    pub fn interval_hint(&self, key: &SeriesKey) -> Option<i64> {
        self.data.as_ref().map(|d| d.interval_of(key))
    }

    /// Whether the default range was shortened to fit young data.
    pub fn fitted(&self) -> bool {
        matches!(self.spec, Spec::Fitted(_))
    }

    /// Where collection started, when that is inside this range (for ranges inside the default
    /// range, the only part that is looked at): "collecting since 06:14 UTC", and for a fitted
    /// default range why it is not the default.
    pub fn note(&self) -> Option<String> {
        let d = self.data.as_ref()?;
        let since = d.collecting_since?;
        if self.from < d.window_from || since <= self.from || since > self.to {
            return None;
        }
        let same_day = since.div_euclid(86_400_000) == (self.to - 1).div_euclid(86_400_000);
        let at = utc_fmt(since, if same_day { "%H:%M" } else { "%Y-%m-%d %H:%M" });
        Some(if self.fitted() {
            format!(
                "Collecting since {at} UTC: the default range ({DEFAULT_RANGE}) is shortened to the data."
            )
        } else {
            format!("Collecting since {at} UTC.")
        })
    }

    /// The range's end as the pages print times (`2026-12-02 07:41:58 UTC`).
    pub fn end_text(&self) -> String {
        super::format::utc(self.to)
    }

    /// A human description: `last 24h (2024-05-01 10:00 UTC → 2024-05-02 10:00 UTC)`.
    pub fn label(&self) -> String {
        let span = format!("{} → {}", utc_minutes(self.from), utc_minutes(self.to));
        match &self.spec {
            Spec::Last(r) => format!("last {r} ({span})"),
            Spec::Fitted(p) => format!("last {p} ({span})"),
            Spec::Custom { .. } => span,
        }
    }

    pub fn preset_links(&self) -> Vec<PresetLink> {
        PRESETS
            .iter()
            .map(|p| PresetLink {
                label: p,
                query: match self.refresh_s {
                    Some(r) => format!("range={p}&refresh={r}s{}", self.compare_suffix()),
                    None => format!("range={p}{}", self.compare_suffix()),
                },
                active: self.preset() == Some(p),
            })
            .collect()
    }
}

/// Parses one time: `now`, `now-6h`, `now+1h`, RFC 3339 (`2024-05-01T10:00:00Z`, an offset, or no
/// offset meaning UTC), a date (`2024-05-01`, midnight UTC), or unix seconds (`1714557600`,
/// `1714557600.5`); numbers of 10^11 and more are milliseconds (Grafana's `from=` style).
pub fn parse_time(text: &str, now: Timestamp) -> Result<Timestamp, String> {
    // The pages print `2024-05-01 10:00:00 UTC` (or to the minute): read that back too.
    let t = text.trim();
    let t = t.strip_suffix("UTC").map(str::trim_end).unwrap_or(t);
    let expected = "expected RFC 3339 (2024-05-01T10:00:00Z), a date (2024-05-01), unix seconds, \
                    or a time relative to now (now-6h)";
    if let Some(rest) = t.strip_prefix("now") {
        let rest = rest.trim();
        if rest.is_empty() {
            return Ok(now);
        }
        let (sign, dur) = if let Some(d) = rest.strip_prefix('-') {
            (-1, d)
        } else if let Some(d) = rest.strip_prefix('+') {
            (1, d)
        } else {
            return Err(format!("cannot read {text:?}: {expected}"));
        };
        let ms = parse_duration(dur).map_err(|e| format!("cannot read {text:?}: {e}"))?;
        return Ok(now + sign * ms);
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let v: f64 = t
            .parse()
            .map_err(|_| format!("cannot read {text:?}: {expected}"))?;
        let ms = if v >= 1e11 { v } else { v * 1000.0 };
        if !(0.0..=4e15).contains(&ms) {
            return Err(format!("{text:?} is out of range"));
        }
        return Ok(ms.round() as i64);
    }
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Ok(ts.as_millisecond());
    }
    let civil = t.parse::<jiff::civil::DateTime>().or_else(|_| {
        t.parse::<jiff::civil::Date>()
            .map(|d| d.to_datetime(jiff::civil::Time::midnight()))
    });
    if let Ok(dt) = civil
        && let Ok(ts) = jiff::tz::TimeZone::UTC.to_timestamp(dt)
    {
        return Ok(ts.as_millisecond());
    }
    Err(format!("cannot read {text:?} as a time: {expected}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = 1_714_557_600_000; // 2024-05-01T10:00:00Z

    #[test]
    fn default_is_last_24h() {
        let r = TimeRange::parse(None, None, None, NOW).unwrap();
        assert_eq!((r.from, r.to), (NOW - 86_400_000, NOW));
        assert_eq!(r.query(), "range=24h");
        assert_eq!(r.preset(), Some("24h"));
    }

    #[test]
    fn presets_and_any_duration_are_accepted() {
        for p in PRESETS {
            let r = TimeRange::last(p, NOW).unwrap();
            assert!(r.len_ms() > 0);
            assert_eq!(r.preset_links().iter().filter(|l| l.active).count(), 1);
        }
        let r = TimeRange::parse(Some("2h"), None, None, NOW).unwrap();
        assert_eq!(r.len_ms(), 7_200_000);
    }

    #[test]
    fn custom_ranges_accept_every_time_form() {
        let r =
            TimeRange::parse(None, Some("2024-05-01T08:00:00Z"), Some("1714557600"), NOW).unwrap();
        assert_eq!((r.from, r.to), (NOW - 7_200_000, NOW));
        assert_eq!(r.query(), "from=2024-05-01T08%3A00%3A00Z&to=1714557600");

        let r = TimeRange::parse(None, Some("now-6h"), None, NOW).unwrap();
        assert_eq!((r.from, r.to), (NOW - 6 * 3_600_000, NOW));
        assert_eq!(r.query(), "from=now-6h&to=now", "relative stays relative");

        assert_eq!(parse_time("1714557600000", 0), Ok(NOW), "milliseconds");
        assert_eq!(parse_time("1714557600.5", 0), Ok(NOW + 500));
        assert_eq!(parse_time("2024-05-01T12:00:00+02:00", 0), Ok(NOW));
        assert_eq!(
            parse_time("2024-05-01T10:00:00", 0),
            Ok(NOW),
            "no offset = UTC"
        );
        assert_eq!(parse_time("2024-05-01", 0), Ok(NOW - 10 * 3_600_000));
        assert_eq!(parse_time("now+1h", NOW), Ok(NOW + 3_600_000));
    }

    #[test]
    fn bad_parameters_name_the_parameter_and_the_problem() {
        let e = TimeRange::parse(Some("24h"), Some("now-1h"), None, NOW).unwrap_err();
        assert_eq!(e.param, "range");
        let e = TimeRange::parse(None, Some("yesterday"), None, NOW).unwrap_err();
        assert_eq!(e.param, "from");
        assert!(e.message.contains("RFC 3339"), "{e}");
        let e = TimeRange::parse(None, Some("now"), Some("now-1h"), NOW).unwrap_err();
        assert!(e.message.contains("is not before"), "{e}");
        let e = TimeRange::parse(Some("5x"), None, None, NOW).unwrap_err();
        assert!(e.message.contains("presets are"), "{e}");
        let e = TimeRange::parse(Some("20y"), None, None, NOW).unwrap_err();
        assert!(e.message.contains("10 years"), "{e}");
        let e = TimeRange::parse(None, None, Some("now"), NOW).unwrap_err();
        assert_eq!(e.param, "from");
        assert!(parse_time("now*2", NOW).is_err());
    }

    #[test]
    fn empty_form_fields_count_as_absent() {
        let r = TimeRange::parse(Some("6h"), Some(""), Some(" "), NOW).unwrap();
        assert_eq!(r.preset(), Some("6h"));
    }

    #[test]
    fn shifted_and_fixed_ranges_are_absolute() {
        let r = TimeRange::last("24h", NOW)
            .unwrap()
            .shifted_back(7 * 86_400_000);
        assert_eq!(r.to, NOW - 7 * 86_400_000);
        assert!(r.query().starts_with("from=2024-04-23T10%3A00%3A00Z"));
        assert!(r.label().contains("UTC"));
    }
}
