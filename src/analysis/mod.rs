//! Answers computed from stored series for a time range — never from live state — so that a
//! permalink shows the same figures whenever it is opened: the value at the end of a range, the
//! statistics over it, a counter's increase, the state an info gauge names. Pages ask this module
//! (over what the store returned for their range); it knows no page and no source. Trend and
//! "what changed together" analysis belong here too.

pub mod capacity;
pub mod correlate;
pub mod health;
pub mod movers;
pub mod trend;

use crate::model::{MetricKind, Timestamp};
use crate::store::SeriesRange;

/// The newest value of a series at or before the end of a range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ValueAt {
    pub value: f64,
    /// The start of the bucket it came from (its sample is in `[at, at + step)`).
    pub at: Timestamp,
    /// Whether it is recent enough at the range's end to count as the current value.
    pub fresh: bool,
}

/// The newest stored value of `r` (a counter's total, not its rate) and whether it is fresh at
/// `to`: its bucket ends within `lookback_ms` of `to`.
pub fn value_at(r: &SeriesRange, to: Timestamp, lookback_ms: i64) -> Option<ValueAt> {
    let b = r.buckets.iter().rev().find(|b| b.ts <= to)?;
    Some(ValueAt {
        value: b.last,
        at: b.ts,
        fresh: b.ts + r.step_ms >= to - lookback_ms,
    })
}

/// Minimum, average and maximum of a gauge's samples over a range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RangeStats {
    pub min: f64,
    pub avg: f64,
    pub max: f64,
    pub samples: u64,
}

pub fn range_stats(r: &SeriesRange) -> Option<RangeStats> {
    let mut out = RangeStats {
        min: f64::INFINITY,
        avg: 0.0,
        max: f64::NEG_INFINITY,
        samples: 0,
    };
    let mut sum = 0.0;
    for b in &r.buckets {
        if b.count == 0 {
            continue;
        }
        out.min = out.min.min(b.min);
        out.max = out.max.max(b.max);
        sum += b.sum;
        out.samples += u64::from(b.count);
    }
    if out.samples == 0 {
        return None;
    }
    out.avg = sum / out.samples as f64;
    Some(out)
}

/// How much a counter grew over the range (reset-aware, as the store computes it per bucket).
pub fn increase(r: &SeriesRange) -> f64 {
    if r.series.kind != MetricKind::Counter {
        return 0.0;
    }
    r.buckets.iter().map(|b| b.increase).sum()
}

/// The average of an observed quantity over a range from the counters of its sum and count
/// (`Δsum / Δcount`, as `rate(x_sum) / rate(x_count)` does): None without observations.
pub fn mean_from_counters(sums: &[&SeriesRange], counts: &[&SeriesRange]) -> Option<f64> {
    let n: f64 = counts.iter().map(|r| increase(r)).sum();
    (n > 0.0).then(|| sums.iter().map(|r| increase(r)).sum::<f64>() / n)
}

/// Per bucket, `Δsum / Δcount` of several (sum, count) counter pairs together: the average of
/// the quantity observed in each bucket, as (bucket start, value). Buckets without observations
/// are left out.
pub fn mean_series_from_counters(
    sums: &[&SeriesRange],
    counts: &[&SeriesRange],
) -> Vec<(Timestamp, f64)> {
    use std::collections::BTreeMap;
    let mut acc: BTreeMap<Timestamp, (f64, f64)> = BTreeMap::new();
    for r in sums {
        for b in &r.buckets {
            acc.entry(b.ts).or_default().0 += b.increase;
        }
    }
    for r in counts {
        for b in &r.buckets {
            acc.entry(b.ts).or_default().1 += b.increase;
        }
    }
    acc.into_iter()
        .filter(|(_, (_, n))| *n > 0.0)
        .map(|(ts, (s, n))| (ts, s / n))
        .collect()
}

/// The `q`-quantile of a histogram from its cumulative bucket counts `(upper bound, count)`, as
/// Prometheus' `histogram_quantile` computes it: linear interpolation inside the bucket that
/// holds the rank, the lower bound of the first bucket taken as 0 (or its bound when negative),
/// and the highest finite bound when the rank falls in the `+Inf` bucket. None without
/// observations or without a `+Inf` bucket.
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let mut b: Vec<(f64, f64)> = buckets.to_vec();
    b.sort_by(|x, y| x.0.total_cmp(&y.0));
    let (last_bound, total) = *b.last()?;
    if last_bound != f64::INFINITY || total <= 0.0 || !q.is_finite() {
        return None;
    }
    if q < 0.0 {
        return Some(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return Some(f64::INFINITY);
    }
    // Counts must not fall with the bound (they may, from rounding of rates): make monotonic.
    for i in 1..b.len() {
        if b[i].1 < b[i - 1].1 {
            b[i].1 = b[i - 1].1;
        }
    }
    let rank = q * total;
    let i = b.iter().position(|(_, c)| *c >= rank)?;
    if i == b.len() - 1 {
        return b.len().checked_sub(2).map(|j| b[j].0);
    }
    let (upper, count) = b[i];
    let (lower, below) = if i == 0 {
        (if upper <= 0.0 { upper } else { 0.0 }, 0.0)
    } else {
        b[i - 1]
    };
    let inside = count - below;
    if inside <= 0.0 {
        return Some(upper);
    }
    Some(lower + (upper - lower) * (rank - below) / inside)
}

/// The `q`-quantile per bucket of time of a histogram whose bucket counters are given as
/// `(upper bound, series)`: each time bucket's increases are the cumulative counts.
pub fn histogram_quantile_series(q: f64, buckets: &[(f64, &SeriesRange)]) -> Vec<(Timestamp, f64)> {
    use std::collections::BTreeMap;
    let mut at: BTreeMap<Timestamp, Vec<(f64, f64)>> = BTreeMap::new();
    for (bound, r) in buckets {
        for b in &r.buckets {
            at.entry(b.ts).or_default().push((*bound, b.increase));
        }
    }
    at.into_iter()
        .filter_map(|(ts, counts)| histogram_quantile(q, &counts).map(|v| (ts, v)))
        .collect()
}

/// The state an info gauge names at the end of a range: among `(state, series)` pairs, the one
/// whose newest bucket at or before `to` ends with 1, the newest winning. With `lookback_ms`
/// None any age counts (the last known state).
pub fn state_at<'a>(
    series: impl IntoIterator<Item = (&'a str, &'a SeriesRange)>,
    to: Timestamp,
    lookback_ms: Option<i64>,
) -> Option<(&'a str, ValueAt)> {
    series
        .into_iter()
        .filter_map(|(state, r)| {
            let v = value_at(r, to, lookback_ms.unwrap_or(0))?;
            (v.value >= 1.0 && (lookback_ms.is_none() || v.fresh)).then_some((state, v))
        })
        .max_by_key(|(_, v)| v.at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Labels, SeriesKey};
    use crate::store::{Bucket, SeriesInfo, Tier};

    fn range(kind: MetricKind, buckets: &[(Timestamp, f64, f64, f64, f64, f64)]) -> SeriesRange {
        SeriesRange {
            series: SeriesInfo {
                id: 1,
                key: SeriesKey::new("x", Labels::new()),
                kind,
            },
            tier: Tier::Raw,
            step_ms: 10,
            buckets: buckets
                .iter()
                .map(|&(ts, min, max, sum, last, increase)| Bucket {
                    ts,
                    count: 2,
                    sum,
                    min,
                    max,
                    last,
                    increase,
                })
                .collect(),
        }
    }

    #[test]
    fn the_value_at_the_end_is_fresh_only_near_the_end() {
        let r = range(
            MetricKind::Gauge,
            &[(0, 1.0, 2.0, 3.0, 2.0, 0.0), (10, 4.0, 6.0, 10.0, 6.0, 0.0)],
        );
        let v = value_at(&r, 25, 5).unwrap();
        assert_eq!((v.value, v.at, v.fresh), (6.0, 10, true));
        assert!(!value_at(&r, 100, 5).unwrap().fresh);
        assert_eq!(
            value_at(&r, 5, 5).unwrap().value,
            2.0,
            "a bucket after `to` is not read"
        );
        let s = range_stats(&r).unwrap();
        assert_eq!((s.min, s.avg, s.max), (1.0, 13.0 / 4.0, 6.0));
    }

    #[test]
    fn means_from_counters_divide_increases() {
        let sum = range(
            MetricKind::Counter,
            &[
                (0, 0.0, 0.0, 0.0, 0.0, 30.0),
                (10, 0.0, 0.0, 0.0, 0.0, 10.0),
            ],
        );
        let cnt = range(
            MetricKind::Counter,
            &[(0, 0.0, 0.0, 0.0, 0.0, 3.0), (10, 0.0, 0.0, 0.0, 0.0, 0.0)],
        );
        assert_eq!(mean_from_counters(&[&sum], &[&cnt]), Some(40.0 / 3.0));
        assert_eq!(mean_series_from_counters(&[&sum], &[&cnt]), vec![(0, 10.0)]);
        assert_eq!(mean_from_counters(&[&sum], &[]), None);
        let gauge = range(MetricKind::Gauge, &[(0, 0.0, 0.0, 0.0, 0.0, 30.0)]);
        assert_eq!(increase(&gauge), 0.0, "a gauge has no increase");
    }

    #[test]
    fn histogram_quantiles_interpolate_like_prometheus() {
        let b = [
            (0.1, 10.0),
            (0.5, 60.0),
            (1.0, 90.0),
            (f64::INFINITY, 100.0),
        ];
        // rank 50 lies in (0.1, 0.5]: 0.1 + 0.4 * (50 - 10) / 50.
        assert!((histogram_quantile(0.5, &b).unwrap() - 0.42).abs() < 1e-12);
        // rank 5 in the first bucket, from 0.
        assert!((histogram_quantile(0.05, &b).unwrap() - 0.05).abs() < 1e-12);
        // rank 99 in +Inf: the highest finite bound.
        assert_eq!(histogram_quantile(0.99, &b), Some(1.0));
        assert_eq!(
            histogram_quantile(0.5, &[(1.0, 5.0)]),
            None,
            "no +Inf bucket"
        );
        assert_eq!(histogram_quantile(0.5, &[(f64::INFINITY, 0.0)]), None);
    }

    #[test]
    fn the_state_is_the_newest_series_at_one() {
        let leader = range(
            MetricKind::Gauge,
            &[(0, 1.0, 1.0, 2.0, 1.0, 0.0), (10, 0.0, 1.0, 1.0, 0.0, 0.0)],
        );
        let follower = range(MetricKind::Gauge, &[(10, 0.0, 1.0, 1.0, 1.0, 0.0)]);
        let all = [("leader", &leader), ("follower", &follower)];
        assert_eq!(state_at(all, 15, Some(5)).map(|s| s.0), Some("follower"));
        assert_eq!(state_at(all, 5, Some(5)).map(|s| s.0), Some("leader"));
        assert_eq!(state_at(all, 500, Some(5)), None, "nothing fresh");
        assert_eq!(
            state_at(all, 500, None).map(|s| s.0),
            Some("follower"),
            "last known"
        );
    }
}
