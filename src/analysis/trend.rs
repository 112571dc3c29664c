//! Least-squares trends: the slope of a series over a range, how well a line fits it, and when it
//! reaches a level at that pace — with the refusals that keep a forecast honest (too little
//! history, a poor fit).

use crate::model::Timestamp;

/// A line fitted to `(time, value)` points by least squares.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fit {
    /// Change per millisecond.
    pub slope: f64,
    /// Value at time 0 of the points' own origin (the first point's time).
    pub intercept: f64,
    /// Coefficient of determination: 1 a perfect line, 0 no better than the mean.
    pub r2: f64,
    pub n: usize,
    pub first: Timestamp,
    pub last: Timestamp,
}

impl Fit {
    pub fn per_day(&self) -> f64 {
        self.slope * 86_400_000.0
    }

    /// The fitted value at `t`.
    pub fn at(&self, t: Timestamp) -> f64 {
        self.intercept + self.slope * (t - self.first) as f64
    }

    /// When the line reaches `level` after `from`, if it is heading there.
    pub fn reaches(&self, level: f64, from: Timestamp) -> Option<Timestamp> {
        let now = self.at(from);
        if self.slope == 0.0 || (level - now) / self.slope <= 0.0 {
            return None;
        }
        Some(from + ((level - now) / self.slope) as Timestamp)
    }
}

/// The least-squares line through the finite points; None with fewer than 3 points or all at one
/// time.
pub fn linear_fit(points: &[(Timestamp, f64)]) -> Option<Fit> {
    let pts: Vec<(Timestamp, f64)> = points.iter().copied().filter(|p| p.1.is_finite()).collect();
    if pts.len() < 3 {
        return None;
    }
    let first = pts[0].0;
    let last = pts[pts.len() - 1].0;
    let n = pts.len() as f64;
    let (mut sx, mut sy) = (0.0, 0.0);
    for (t, v) in &pts {
        sx += (t - first) as f64;
        sy += v;
    }
    let (mx, my) = (sx / n, sy / n);
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (t, v) in &pts {
        let dx = (t - first) as f64 - mx;
        let dy = v - my;
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if sxx == 0.0 {
        return None;
    }
    let slope = sxy / sxx;
    let r2 = if syy == 0.0 {
        1.0
    } else {
        (sxy * sxy / (sxx * syy)).clamp(0.0, 1.0)
    };
    Some(Fit {
        slope,
        intercept: my - slope * mx,
        r2,
        n: pts.len(),
        first,
        last,
    })
}

/// Why a forecast is not given, or the fit that gives it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Forecast {
    /// Less history than `min_span_ms`.
    TooShort {
        span_ms: i64,
    },
    /// The points do not lie near a line (r² below the floor).
    PoorFit {
        r2: f64,
    },
    Fit(Fit),
}

/// A fit good enough to extrapolate: at least `min_span_ms` of history and r² ≥ `min_r2`.
pub fn forecast(points: &[(Timestamp, f64)], min_span_ms: i64, min_r2: f64) -> Forecast {
    let Some(fit) = linear_fit(points) else {
        return Forecast::TooShort { span_ms: 0 };
    };
    let span_ms = fit.last - fit.first;
    if span_ms < min_span_ms {
        Forecast::TooShort { span_ms }
    } else if fit.r2 < min_r2 {
        Forecast::PoorFit { r2: fit.r2 }
    } else {
        Forecast::Fit(fit)
    }
}

const DAY_MS: i64 = 86_400_000;
const HOUR_MS: i64 = 3_600_000;

/// One UTC day of a series: its average, 95th percentile and peak.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DayBand {
    /// Midnight UTC.
    pub day: Timestamp,
    pub avg: f64,
    pub p95: f64,
    pub max: f64,
    pub n: usize,
}

/// Daily average, p95 (nearest rank) and peak of finite points, one band per UTC day with data.
pub fn daily_bands(points: &[(Timestamp, f64)]) -> Vec<DayBand> {
    let mut by_day: std::collections::BTreeMap<Timestamp, Vec<f64>> = Default::default();
    for (t, v) in points.iter().filter(|p| p.1.is_finite()) {
        by_day
            .entry(t.div_euclid(DAY_MS) * DAY_MS)
            .or_default()
            .push(*v);
    }
    by_day
        .into_iter()
        .map(|(day, mut v)| {
            v.sort_by(f64::total_cmp);
            let n = v.len();
            let rank = ((0.95 * n as f64).ceil() as usize).clamp(1, n) - 1;
            DayBand {
                day,
                avg: v.iter().sum::<f64>() / n as f64,
                p95: v[rank],
                max: v[n - 1],
                n,
            }
        })
        .collect()
}

/// The mean of the finite points in `[from, to)`.
pub fn window_mean(points: &[(Timestamp, f64)], from: Timestamp, to: Timestamp) -> Option<f64> {
    let (sum, n) = points
        .iter()
        .filter(|(t, v)| *t >= from && *t < to && v.is_finite())
        .fold((0.0, 0usize), |(s, n), (_, v)| (s + v, n + 1));
    (n > 0).then(|| sum / n as f64)
}

/// Relative change of the mean of the last `period` before `to` against the period before it;
/// None when either period has less than half of its points (too little history to compare).
pub fn growth(points: &[(Timestamp, f64)], to: Timestamp, period: i64, step: i64) -> Option<f64> {
    let need = (period / step.max(1)) as usize / 2;
    let count = |a: Timestamp, b: Timestamp| {
        points
            .iter()
            .filter(|(t, v)| *t >= a && *t < b && v.is_finite())
            .count()
    };
    if count(to - period, to) < need.max(1) || count(to - 2 * period, to - period) < need.max(1) {
        return None;
    }
    let now = window_mean(points, to - period, to)?;
    let before = window_mean(points, to - 2 * period, to - period)?;
    if before == 0.0 {
        return (now == 0.0).then_some(0.0);
    }
    Some((now - before) / before.abs())
}

/// The mean per hour of the week (UTC; index 0 is Monday 00:00–01:00), for a heat strip of a
/// weekly pattern.
pub fn hour_of_week(points: &[(Timestamp, f64)]) -> Vec<Option<f64>> {
    let mut sums = vec![(0.0, 0usize); 168];
    for (t, v) in points.iter().filter(|p| p.1.is_finite()) {
        // 1970-01-01 was a Thursday: shift so that Monday is 0.
        let hour = (t.div_euclid(HOUR_MS) + 3 * 24).rem_euclid(168) as usize;
        sums[hour].0 += v;
        sums[hour].1 += 1;
    }
    sums.into_iter()
        .map(|(s, n)| (n > 0).then(|| s / n as f64))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_known_line_is_found_and_extrapolated() {
        let day = 86_400_000;
        let pts: Vec<_> = (0..10)
            .map(|i| (i * day / 10, 100.0 - 5.0 * i as f64))
            .collect();
        let f = linear_fit(&pts).unwrap();
        assert!((f.per_day() + 50.0).abs() < 1e-9, "{f:?}");
        assert!((f.r2 - 1.0).abs() < 1e-12);
        // 55 left at 0.9 day, falling 50 a day: zero 1.1 days later, at day 2.
        let zero = f.reaches(0.0, pts[9].0).unwrap();
        assert!((zero - 2 * day).abs() <= 1, "{zero}");
        assert_eq!(f.reaches(1000.0, pts[9].0), None, "not heading up");
    }

    #[test]
    fn short_or_noisy_history_gives_no_forecast() {
        let pts: Vec<_> = (0..10).map(|i| (i * 1000, i as f64)).collect();
        assert_eq!(
            forecast(&pts, 3_600_000, 0.5),
            Forecast::TooShort { span_ms: 9000 }
        );
        let saw: Vec<_> = (0..100)
            .map(|i| (i * 60_000, if i % 2 == 0 { 0.0 } else { 10.0 }))
            .collect();
        assert!(matches!(
            forecast(&saw, 60_000, 0.5),
            Forecast::PoorFit { .. }
        ));
        let line: Vec<_> = (0..100).map(|i| (i * 60_000, i as f64)).collect();
        assert!(matches!(forecast(&line, 60_000, 0.5), Forecast::Fit(_)));
    }

    #[test]
    fn daily_bands_weekly_growth_and_the_hour_of_week() {
        let h = HOUR_MS;
        // Four weeks hourly: 100 on weekdays' working hours, 10 otherwise, and the last week
        // twice that.
        let start = 4 * DAY_MS; // 1970-01-05, a Monday
        let pts: Vec<_> = (0..28 * 24)
            .map(|i| {
                let t = start + i * h;
                let hour = i % 24;
                let weekday = (i / 24) % 7 < 5;
                let base = if weekday && (9..17).contains(&hour) {
                    100.0
                } else {
                    10.0
                };
                (t, if i >= 21 * 24 { 2.0 * base } else { base })
            })
            .collect();
        let end = start + 28 * DAY_MS;
        let g = growth(&pts, end, 7 * DAY_MS, h).unwrap();
        assert!((g - 1.0).abs() < 1e-9, "the last week doubled: {g}");
        assert_eq!(
            growth(&pts, end, 30 * DAY_MS, h),
            None,
            "no 60 days of history"
        );
        let how = hour_of_week(&pts);
        assert_eq!(how[9], Some(125.0), "Monday 09:00: 100, 100, 100, 200");
        assert_eq!(
            how[5 * 24 + 9],
            Some(12.5),
            "Saturday 09:00: 10, 10, 10, 20"
        );
        let days = daily_bands(&pts);
        assert_eq!(days.len(), 28);
        assert_eq!(days[0].day, start);
        assert_eq!((days[0].max, days[0].p95), (100.0, 100.0));
        assert!((days[0].avg - (8.0 * 100.0 + 16.0 * 10.0) / 24.0).abs() < 1e-9);
    }

    proptest! {
        #![proptest_config(crate::proptest_config(256))]
        #[test]
        fn fits_never_panic_and_r2_stays_in_0_1(pts in proptest::collection::vec((0i64..1_000_000, proptest::num::f64::ANY), 0..50)) {
            let mut pts = pts;
            pts.sort_by_key(|p| p.0);
            if let Some(f) = linear_fit(&pts) {
                prop_assert!(f.r2.is_nan() || (0.0..=1.0).contains(&f.r2));
            }
        }
    }
}
