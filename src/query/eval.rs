//! Evaluates a parsed expression over the store, in two phases: fetch every selector's data
//! (the only async part), then compute the expression over a grid of evaluation times.
//!
//! Range queries read step-aligned buckets (`store.query_range_step`) at a granularity that divides
//! the step, every range and the distance from `start` to every offset, so windows are exact
//! unions of buckets whenever the query is aligned (Grafana aligns `start` to the step). See the
//! module documentation of [`crate::query`] for the semantics and how they differ from Prometheus.

use super::ast::{AggOp, BinOp, Expr, Grouping, RangeFunc, Selector};
use crate::model::{Labels, MetricKind, Timestamp};
use crate::store::{Bucket, SeriesInfo, Store, StoreError, Tier};
use std::collections::HashMap;

/// Prometheus' default lookback for instant vector selectors.
pub const LOOKBACK_MS: i64 = 5 * 60_000;
/// Selectors matching more series than this are refused.
pub const MAX_SERIES: usize = 10_000;
/// Buckets fetched per series at most; finer alignment is given up beyond this.
const MAX_BUCKETS_PER_SERIES: i64 = 30_000;

#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error(
        "the selector {selector} matches {count} series, more than the limit of {limit}; narrow it with more label matchers"
    )]
    TooManySeries {
        selector: String,
        count: usize,
        limit: usize,
    },
    #[error("{0}")]
    Matching(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One output series: its labels and one value per grid time (None = no value there).
#[derive(Clone, Debug, PartialEq)]
pub struct SeriesValues {
    /// The metric name, if the result still has one (selectors, `*_over_time` keep none, as in
    /// Prometheus only selectors and `last_over_time` keep it).
    pub metric: Option<String>,
    pub labels: Labels,
    pub values: Vec<Option<f64>>,
}

impl SeriesValues {
    /// Labels including `__name__`, as the Prometheus API writes them.
    pub fn metric_labels(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::with_capacity(self.labels.len() + 1);
        if let Some(m) = &self.metric {
            out.push(("__name__".into(), m.clone()));
        }
        out.extend(
            self.labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        out
    }

    /// `name{a="b"}` for legends.
    pub fn display_name(&self) -> String {
        let labels = self.labels.canonical();
        match (&self.metric, labels.is_empty()) {
            (Some(m), true) => m.clone(),
            (Some(m), false) => format!("{m}{{{labels}}}"),
            (None, _) => format!("{{{labels}}}"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Scalar(f64),
    Vector(Vec<SeriesValues>),
}

/// The result of a query over its evaluation times.
#[derive(Clone, Debug)]
pub struct QueryResult {
    pub times: Vec<Timestamp>,
    pub value: Value,
    /// The storage tiers that answered (empty for instant selectors and pure arithmetic).
    pub tiers: Vec<Tier>,
    /// The bucket size used for range data (0 when none was read).
    pub bucket_ms: i64,
}

impl QueryResult {
    /// The vector result as series (a scalar becomes one series without labels).
    pub fn into_series(self) -> Vec<SeriesValues> {
        match self.value {
            Value::Vector(v) => v,
            Value::Scalar(x) => vec![SeriesValues {
                metric: None,
                labels: Labels::new(),
                values: vec![Some(x); self.times.len()],
            }],
        }
    }
}

/// Evaluates `expr` at `start, start + step, …, ≤ end`.
pub async fn eval_range(
    store: &Store,
    expr: &Expr,
    start: Timestamp,
    end: Timestamp,
    step_ms: i64,
) -> Result<QueryResult, EvalError> {
    let step_ms = step_ms.max(1);
    let n = ((end - start).max(0) / step_ms) as usize + 1;
    let times: Vec<Timestamp> = (0..n).map(|i| start + i as i64 * step_ms).collect();
    let sels = expr.selectors();
    let g = range_granularity(start, end, step_ms, &sels);
    let fetched = fetch(store, &sels, &times, Some(g)).await?;
    finish(expr, times, fetched, g)
}

/// Evaluates `expr` at one time (Prometheus `/api/v1/query`).
pub async fn eval_instant(
    store: &Store,
    expr: &Expr,
    at: Timestamp,
) -> Result<QueryResult, EvalError> {
    let times = vec![at];
    let sels = expr.selectors();
    let fetched = fetch(store, &sels, &times, None).await?;
    let g = fetched.iter().map(|f| f.g).max().unwrap_or(0);
    finish(expr, times, fetched, g)
}

fn finish(
    expr: &Expr,
    times: Vec<Timestamp>,
    fetched: Vec<Fetched>,
    g: i64,
) -> Result<QueryResult, EvalError> {
    let mut tiers: Vec<Tier> = fetched
        .iter()
        .flat_map(|f| f.tiers.iter().copied())
        .collect();
    tiers.sort_unstable();
    tiers.dedup();
    let bucket_ms = if tiers.is_empty() { 0 } else { g };
    let mut ev = Evaluator {
        times: &times,
        fetched,
        next: 0,
    };
    let value = ev.eval(expr)?;
    Ok(QueryResult {
        times,
        value,
        tiers,
        bucket_ms,
    })
}

fn gcd(a: i64, b: i64) -> i64 {
    let (mut a, mut b) = (a.abs(), b.abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// The bucket size for a range query: divides the step, every range, and `start − offset` for
/// every offset, unless that would need more than `MAX_BUCKETS_PER_SERIES` buckets or go below a
/// second; then alignment is given up step by step (windows become approximate).
fn range_granularity(
    start: Timestamp,
    end: Timestamp,
    step: i64,
    sels: &[(&Selector, i64)],
) -> i64 {
    let span = |g: i64| {
        let longest = sels.iter().map(|(s, r)| r + s.offset_ms).max().unwrap_or(0);
        (end - start + longest.max(LOOKBACK_MS)) / g.max(1)
    };
    let ok = |g: i64| g >= 1000 && span(g) <= MAX_BUCKETS_PER_SERIES;
    let mut with_ranges = step;
    for (_, r) in sels {
        if *r > 0 {
            with_ranges = gcd(with_ranges, *r);
        }
    }
    let mut aligned = gcd(with_ranges, start);
    for (s, _) in sels {
        aligned = gcd(aligned, start - s.offset_ms);
    }
    if aligned > 0 && ok(aligned) {
        aligned
    } else if ok(with_ranges) {
        with_ranges
    } else {
        step.max(1000)
    }
}

/// The bucket size for a range function in an instant query: the largest round size that divides
/// the range and is at most 1/60 of it (so the window edges are off by at most ~1.7 %).
fn instant_granularity(range_ms: i64) -> i64 {
    const NICE: [i64; 16] = [
        1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
        1_800_000, 3_600_000, 7_200_000, 21_600_000, 86_400_000,
    ];
    NICE.iter()
        .rev()
        .copied()
        .find(|&g| g * 60 <= range_ms && range_ms % g == 0)
        .unwrap_or(1_000)
}

/// Data read for one selector.
struct Fetched {
    series: Vec<(SeriesInfo, Data)>,
    tiers: Vec<Tier>,
    g: i64,
}

enum Data {
    /// One exact value per evaluation time (instant query, instant selector).
    Points(Vec<Option<f64>>),
    /// Step-aligned buckets of size `g`.
    Buckets(Vec<Bucket>),
}

async fn fetch(
    store: &Store,
    sels: &[(&Selector, i64)],
    times: &[Timestamp],
    range_g: Option<i64>,
) -> Result<Vec<Fetched>, EvalError> {
    let (Some(&first), Some(&last)) = (times.first(), times.last()) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(sels.len());
    for (sel, range_ms) in sels {
        let infos = store.select(sel.metric.as_deref(), &sel.matchers);
        if infos.len() > MAX_SERIES {
            return Err(EvalError::TooManySeries {
                selector: sel.to_string(),
                count: infos.len(),
                limit: MAX_SERIES,
            });
        }
        let ids: Vec<_> = infos.iter().map(|i| i.id).collect();
        if range_g.is_none() && *range_ms == 0 {
            let vals = store
                .value_at(&ids, first - sel.offset_ms, LOOKBACK_MS)
                .await?;
            out.push(Fetched {
                series: infos
                    .into_iter()
                    .zip(vals)
                    .map(|(info, v)| (info, Data::Points(vec![v.map(|p| p.1)])))
                    .collect(),
                tiers: Vec::new(),
                g: 0,
            });
            continue;
        }
        let g = range_g.unwrap_or_else(|| instant_granularity(*range_ms));
        let back = (*range_ms).max(LOOKBACK_MS) + g;
        let lo = first - sel.offset_ms - back;
        let hi = last - sel.offset_ms;
        let ranges = store.query_range_step(&ids, lo, hi, g, None).await?;
        let mut tiers: Vec<Tier> = ranges.iter().map(|r| r.tier).collect();
        tiers.dedup();
        // The store answers in the order asked; match by id to be safe.
        let mut by_id: HashMap<u32, Vec<Bucket>> = ranges
            .into_iter()
            .map(|r| (r.series.id, r.buckets))
            .collect();
        out.push(Fetched {
            series: infos
                .into_iter()
                .map(|info| {
                    let b = by_id.remove(&info.id).unwrap_or_default();
                    (info, Data::Buckets(b))
                })
                .collect(),
            tiers,
            g,
        });
    }
    Ok(out)
}

struct Evaluator<'a> {
    times: &'a [Timestamp],
    fetched: Vec<Fetched>,
    /// Selectors are consumed in the same left-to-right order `Expr::selectors` listed them.
    next: usize,
}

impl Evaluator<'_> {
    fn take(&mut self) -> Fetched {
        let f = std::mem::replace(
            &mut self.fetched[self.next],
            Fetched {
                series: Vec::new(),
                tiers: Vec::new(),
                g: 0,
            },
        );
        self.next += 1;
        f
    }

    fn eval(&mut self, expr: &Expr) -> Result<Value, EvalError> {
        Ok(match expr {
            Expr::Number(v) => Value::Scalar(*v),
            Expr::Selector(sel) => {
                let f = self.take();
                let g = f.g;
                Value::Vector(
                    f.series
                        .into_iter()
                        .map(|(info, data)| SeriesValues {
                            metric: Some(info.key.metric.clone()),
                            labels: info.key.labels.clone(),
                            values: match data {
                                Data::Points(p) => p,
                                Data::Buckets(b) => {
                                    instant_values(&b, g, self.times, sel.offset_ms)
                                }
                            },
                        })
                        .collect(),
                )
            }
            Expr::Call {
                func,
                selector,
                range_ms,
            } => {
                let f = self.take();
                let g = f.g;
                Value::Vector(
                    f.series
                        .into_iter()
                        .map(|(info, data)| {
                            let buckets = match data {
                                Data::Buckets(b) => b,
                                Data::Points(_) => Vec::new(),
                            };
                            SeriesValues {
                                metric: (*func == RangeFunc::LastOverTime)
                                    .then(|| info.key.metric.clone()),
                                labels: info.key.labels.clone(),
                                values: window_values(
                                    *func,
                                    &buckets,
                                    info.kind,
                                    g,
                                    *range_ms,
                                    self.times,
                                    selector.offset_ms,
                                ),
                            }
                        })
                        .collect(),
                )
            }
            Expr::Aggregate { op, grouping, expr } => match self.eval(expr)? {
                Value::Scalar(v) => Value::Scalar(if *op == AggOp::Count { 1.0 } else { v }),
                Value::Vector(series) => {
                    Value::Vector(aggregate(*op, grouping.as_ref(), series, self.times.len()))
                }
            },
            Expr::Neg(e) => match self.eval(e)? {
                Value::Scalar(v) => Value::Scalar(-v),
                Value::Vector(mut series) => {
                    for s in &mut series {
                        s.metric = None;
                        for v in s.values.iter_mut().flatten() {
                            *v = -*v;
                        }
                    }
                    Value::Vector(series)
                }
            },
            Expr::Binary { op, lhs, rhs } => {
                let l = self.eval(lhs)?;
                let r = self.eval(rhs)?;
                binary(*op, l, r)?
            }
        })
    }
}

/// For a bucket of size `g` starting at `b`: does its midpoint fall in `(lo, hi]`?
fn mid(b: &Bucket, g: i64) -> i64 {
    b.ts + g / 2
}

/// Value of an instant selector at each time: `last` of the newest bucket that ends at or before
/// `t` and ends within the lookback.
fn instant_values(
    buckets: &[Bucket],
    g: i64,
    times: &[Timestamp],
    offset: i64,
) -> Vec<Option<f64>> {
    times
        .iter()
        .map(|&t0| {
            let t = t0 - offset;
            let n = buckets.partition_point(|b| b.ts + g <= t + 1);
            let b = buckets.get(n.checked_sub(1)?)?;
            (b.ts + g > t - LOOKBACK_MS).then_some(b.last)
        })
        .collect()
}

/// Per-bucket increases: the store's reset-aware increase for counters; for a series stored as a
/// gauge, the reset-aware difference of consecutive buckets' `last` values.
fn increases(buckets: &[Bucket], kind: MetricKind) -> Vec<f64> {
    match kind {
        MetricKind::Counter => buckets.iter().map(|b| b.increase).collect(),
        MetricKind::Gauge => {
            let mut prev: Option<f64> = None;
            buckets
                .iter()
                .map(|b| {
                    let inc = match prev {
                        Some(p) if b.last >= p => b.last - p,
                        Some(_) => b.last,
                        None => 0.0,
                    };
                    prev = Some(b.last);
                    inc
                })
                .collect()
        }
    }
}

/// Where a rate window really ends. At the live edge — no bucket after the window, and the newest
/// one ending at most two sample intervals (plus one bucket) before `t` — the newest samples have
/// simply not arrived yet: the window is moved back to end with the newest bucket, so the newest
/// point of a live chart does not dip. A series that stopped longer ago keeps its window.
fn live_edge_end(
    buckets: &[Bucket],
    counts: &[u64],
    lo: usize,
    g: i64,
    range_ms: i64,
    t: Timestamp,
) -> Timestamp {
    let Some(last) = buckets.last() else { return t };
    let gap = t - (last.ts + g);
    let samples = counts[buckets.len()] - counts[lo];
    let interval = if samples > 0 {
        range_ms / samples as i64
    } else {
        range_ms
    };
    if gap > 0 && gap <= 2 * interval + g {
        last.ts + g
    } else {
        t
    }
}

fn window_values(
    func: RangeFunc,
    buckets: &[Bucket],
    kind: MetricKind,
    g: i64,
    range_ms: i64,
    times: &[Timestamp],
    offset: i64,
) -> Vec<Option<f64>> {
    let inc = increases(buckets, kind);
    // Prefix sums make each window O(log n) for the additive functions.
    let mut p_inc = vec![0.0; buckets.len() + 1];
    let mut p_cnt = vec![0u64; buckets.len() + 1];
    let mut p_sum = vec![0.0; buckets.len() + 1];
    for (i, b) in buckets.iter().enumerate() {
        p_inc[i + 1] = p_inc[i] + inc[i];
        p_cnt[i + 1] = p_cnt[i] + u64::from(b.count);
        p_sum[i + 1] = p_sum[i] + b.sum;
    }
    times
        .iter()
        .map(|&t0| {
            let t = t0 - offset;
            let mut lo = buckets.partition_point(|b| mid(b, g) <= t - range_ms);
            let hi = buckets.partition_point(|b| mid(b, g) <= t);
            if lo >= hi {
                return None;
            }
            let mut t = t;
            if hi == buckets.len() && matches!(func, RangeFunc::Rate | RangeFunc::Increase) {
                t = live_edge_end(buckets, &p_cnt, lo, g, range_ms, t);
                lo = buckets.partition_point(|b| mid(b, g) <= t - range_ms);
            }
            let w = &buckets[lo..hi];
            // An unaligned window may take in a bucket that began before it: count that time too.
            let covered = (t - (t - range_ms).min(w[0].ts)) as f64;
            Some(match func {
                RangeFunc::Rate => (p_inc[hi] - p_inc[lo]) / (covered / 1000.0),
                RangeFunc::Increase => (p_inc[hi] - p_inc[lo]) * range_ms as f64 / covered,
                RangeFunc::SumOverTime => p_sum[hi] - p_sum[lo],
                RangeFunc::CountOverTime => (p_cnt[hi] - p_cnt[lo]) as f64,
                RangeFunc::AvgOverTime => {
                    let c = p_cnt[hi] - p_cnt[lo];
                    if c == 0 {
                        return None;
                    }
                    (p_sum[hi] - p_sum[lo]) / c as f64
                }
                RangeFunc::MinOverTime => w.iter().map(|b| b.min).fold(f64::INFINITY, f64::min),
                RangeFunc::MaxOverTime => w.iter().map(|b| b.max).fold(f64::NEG_INFINITY, f64::max),
                RangeFunc::LastOverTime => w[w.len() - 1].last,
            })
        })
        .collect()
}

fn group_labels(labels: &Labels, grouping: Option<&Grouping>) -> Labels {
    match grouping {
        None => Labels::new(),
        Some(Grouping::By(keep)) => {
            Labels::from_pairs(labels.iter().filter(|(k, _)| keep.iter().any(|x| x == k)))
        }
        Some(Grouping::Without(drop)) => {
            Labels::from_pairs(labels.iter().filter(|(k, _)| !drop.iter().any(|x| x == k)))
        }
    }
}

fn aggregate(
    op: AggOp,
    grouping: Option<&Grouping>,
    series: Vec<SeriesValues>,
    n: usize,
) -> Vec<SeriesValues> {
    let mut groups: Vec<(Labels, Vec<SeriesValues>)> = Vec::new();
    let mut index: HashMap<Labels, usize> = HashMap::new();
    for s in series {
        let mut key = group_labels(&s.labels, grouping);
        if let (Some(Grouping::By(keep)), Some(m)) = (grouping, &s.metric)
            && keep.iter().any(|k| k == "__name__")
        {
            key.insert("__name__", m.clone());
        }
        let i = *index.entry(key.clone()).or_insert_with(|| {
            groups.push((key, Vec::new()));
            groups.len() - 1
        });
        groups[i].1.push(s);
    }
    groups
        .into_iter()
        .map(|(labels, members)| {
            let values = (0..n)
                .map(|i| {
                    let vals = members.iter().filter_map(|m| m.values[i]);
                    let (mut count, mut acc) = (0usize, None::<f64>);
                    for v in vals {
                        count += 1;
                        acc = Some(match (op, acc) {
                            (_, None) => v,
                            (AggOp::Sum | AggOp::Avg, Some(a)) => a + v,
                            (AggOp::Min, Some(a)) => a.min(v),
                            (AggOp::Max, Some(a)) => a.max(v),
                            (AggOp::Count, Some(a)) => a,
                        });
                    }
                    let acc = acc?;
                    Some(match op {
                        AggOp::Avg => acc / count as f64,
                        AggOp::Count => count as f64,
                        _ => acc,
                    })
                })
                .collect();
            let (metric, labels) = match labels.get("__name__") {
                Some(m) => (Some(m.to_string()), labels.clone().with("__name__", "")),
                None => (None, labels),
            };
            SeriesValues {
                metric,
                labels,
                values,
            }
        })
        .collect()
}

fn binary(op: BinOp, l: Value, r: Value) -> Result<Value, EvalError> {
    let apply = |a: Option<f64>, b: Option<f64>| Some(op.apply(a?, b?));
    Ok(match (l, r) {
        (Value::Scalar(a), Value::Scalar(b)) => Value::Scalar(op.apply(a, b)),
        (Value::Vector(mut v), Value::Scalar(b)) => {
            for s in &mut v {
                s.metric = None;
                for x in &mut s.values {
                    *x = apply(*x, Some(b));
                }
            }
            Value::Vector(v)
        }
        (Value::Scalar(a), Value::Vector(mut v)) => {
            for s in &mut v {
                s.metric = None;
                for x in &mut s.values {
                    *x = apply(Some(a), *x);
                }
            }
            Value::Vector(v)
        }
        (Value::Vector(lv), Value::Vector(rv)) => {
            // One-to-one matching on the full label set (metric names ignored).
            let mut right: HashMap<&Labels, &SeriesValues> = HashMap::new();
            for s in &rv {
                if right.insert(&s.labels, s).is_some() {
                    return Err(EvalError::Matching(format!(
                        "many-to-many matching: the right-hand side has several series with the labels {{{}}}",
                        s.labels.canonical()
                    )));
                }
            }
            let mut seen: HashMap<&Labels, ()> = HashMap::new();
            let mut out = Vec::new();
            for s in &lv {
                let Some(other) = right.get(&s.labels) else {
                    continue;
                };
                if seen.insert(&s.labels, ()).is_some() {
                    return Err(EvalError::Matching(format!(
                        "many-to-many matching: the left-hand side has several series with the labels {{{}}}",
                        s.labels.canonical()
                    )));
                }
                out.push(SeriesValues {
                    metric: None,
                    labels: s.labels.clone(),
                    values: s
                        .values
                        .iter()
                        .zip(&other.values)
                        .map(|(a, b)| apply(*a, *b))
                        .collect(),
                });
            }
            Value::Vector(out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(ts: i64, last: f64, increase: f64) -> Bucket {
        Bucket {
            ts,
            count: 1,
            sum: last,
            min: last,
            max: last,
            last,
            increase,
        }
    }

    #[test]
    fn instant_value_is_last_of_the_bucket_ending_at_t_within_lookback() {
        let buckets = [b(0, 1.0, 0.0), b(60_000, 2.0, 0.0)];
        let v = instant_values(&buckets, 60_000, &[60_000, 120_000, 119_999, 600_000], 0);
        // At 119 999 the second bucket [60 000, 120 000) is complete.
        assert_eq!(
            v,
            vec![Some(1.0), Some(2.0), Some(2.0), None],
            "a bucket whose last ms is ≤ t counts"
        );
    }

    #[test]
    fn rate_sums_bucket_increases_over_the_window() {
        let buckets: Vec<Bucket> = (0..10).map(|i| b(i * 60_000, 0.0, 60.0)).collect();
        let v = window_values(
            RangeFunc::Rate,
            &buckets,
            MetricKind::Counter,
            60_000,
            300_000,
            &[600_000],
            0,
        );
        assert_eq!(v, vec![Some(1.0)], "5 buckets × 60 / 300 s");
        let v = window_values(
            RangeFunc::Increase,
            &buckets,
            MetricKind::Counter,
            60_000,
            300_000,
            &[600_000, 60_000],
            0,
        );
        assert_eq!(v, vec![Some(300.0), Some(60.0)]);
        let v = window_values(
            RangeFunc::Rate,
            &buckets,
            MetricKind::Counter,
            60_000,
            300_000,
            &[2_000_000],
            0,
        );
        assert_eq!(v, vec![None], "no buckets in the window");
    }

    #[test]
    fn rate_at_the_live_edge_covers_only_the_time_with_data() {
        // 15 s scrapes in 15 s buckets, 1/s; the window ends 20 s after the newest bucket.
        let buckets: Vec<Bucket> = (0..40)
            .map(|i| Bucket {
                count: 1,
                ..b(i * 15_000, 0.0, 15.0)
            })
            .collect();
        let t = 40 * 15_000 + 20_000;
        let v = window_values(
            RangeFunc::Rate,
            &buckets,
            MetricKind::Counter,
            15_000,
            300_000,
            &[t],
            0,
        );
        assert!((v[0].unwrap() - 1.0).abs() < 1e-9, "{v:?}");
        // A series that stopped two minutes before the window end is not stretched.
        let v = window_values(
            RangeFunc::Rate,
            &buckets,
            MetricKind::Counter,
            15_000,
            300_000,
            &[t + 100_000],
            0,
        );
        assert!(v[0].unwrap() < 0.7, "{v:?}");
    }

    #[test]
    fn rate_of_a_gauge_uses_reset_aware_last_differences() {
        let buckets = [b(0, 10.0, 0.0), b(60_000, 40.0, 0.0), b(120_000, 5.0, 0.0)];
        let v = window_values(
            RangeFunc::Increase,
            &buckets,
            MetricKind::Gauge,
            60_000,
            180_000,
            &[180_000],
            0,
        );
        assert_eq!(v, vec![Some(35.0)], "30 then a reset to 5");
    }

    #[test]
    fn over_time_functions_aggregate_the_window() {
        let buckets = [
            Bucket {
                count: 2,
                sum: 4.0,
                min: 1.0,
                max: 3.0,
                ..b(0, 3.0, 0.0)
            },
            Bucket {
                count: 2,
                sum: 10.0,
                min: 4.0,
                max: 6.0,
                ..b(60_000, 6.0, 0.0)
            },
        ];
        let at = |f| {
            window_values(
                f,
                &buckets,
                MetricKind::Gauge,
                60_000,
                120_000,
                &[120_000],
                0,
            )[0]
        };
        assert_eq!(at(RangeFunc::AvgOverTime), Some(3.5));
        assert_eq!(at(RangeFunc::MinOverTime), Some(1.0));
        assert_eq!(at(RangeFunc::MaxOverTime), Some(6.0));
        assert_eq!(at(RangeFunc::SumOverTime), Some(14.0));
        assert_eq!(at(RangeFunc::CountOverTime), Some(4.0));
        assert_eq!(at(RangeFunc::LastOverTime), Some(6.0));
    }

    #[test]
    fn offset_reads_earlier_buckets() {
        let buckets = [b(0, 1.0, 0.0), b(60_000, 2.0, 0.0)];
        let v = instant_values(&buckets, 60_000, &[180_000], 60_000);
        assert_eq!(v, vec![Some(2.0)]);
    }

    #[test]
    fn granularity_divides_step_ranges_and_start() {
        let sel = Selector {
            metric: Some("x".into()),
            matchers: vec![],
            offset_ms: 0,
        };
        assert_eq!(
            range_granularity(0, 3_600_000, 60_000, &[(&sel, 300_000)]),
            60_000
        );
        assert_eq!(
            range_granularity(0, 3_600_000, 60_000, &[(&sel, 90_000)]),
            30_000
        );
        assert_eq!(
            range_granularity(15_000, 3_600_000, 60_000, &[(&sel, 0)]),
            15_000,
            "unaligned start"
        );
        // Millisecond-unaligned start: alignment is given up rather than reading 1 ms buckets.
        assert_eq!(
            range_granularity(1_234, 86_400_000, 60_000, &[(&sel, 0)]),
            60_000
        );
        assert_eq!(instant_granularity(300_000), 5_000);
        assert_eq!(instant_granularity(7 * 86_400_000), 7_200_000);
    }

    fn series(name: &str, labels: &[(&str, &str)], values: &[Option<f64>]) -> SeriesValues {
        SeriesValues {
            metric: Some(name.into()),
            labels: Labels::from_pairs(labels.iter().copied()),
            values: values.to_vec(),
        }
    }

    #[test]
    fn aggregations_group_by_and_without() {
        let input = vec![
            series(
                "x",
                &[("cluster", "a"), ("server", "1")],
                &[Some(1.0), None],
            ),
            series(
                "x",
                &[("cluster", "a"), ("server", "2")],
                &[Some(3.0), Some(5.0)],
            ),
            series(
                "x",
                &[("cluster", "b"), ("server", "1")],
                &[Some(10.0), Some(10.0)],
            ),
        ];
        let by = Grouping::By(vec!["cluster".into()]);
        let out = aggregate(AggOp::Sum, Some(&by), input.clone(), 2);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].labels, Labels::from_pairs([("cluster", "a")]));
        assert_eq!(out[0].values, vec![Some(4.0), Some(5.0)]);
        assert_eq!(out[0].metric, None);
        let out = aggregate(AggOp::Avg, Some(&by), input.clone(), 2);
        assert_eq!(out[0].values, vec![Some(2.0), Some(5.0)]);
        let out = aggregate(AggOp::Count, None, input.clone(), 2);
        assert_eq!(out[0].values, vec![Some(3.0), Some(2.0)]);
        let without = Grouping::Without(vec!["cluster".into()]);
        let out = aggregate(AggOp::Max, Some(&without), input, 2);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].labels, Labels::from_pairs([("server", "1")]));
        assert_eq!(out[0].values, vec![Some(10.0), Some(10.0)]);
    }

    #[test]
    fn binary_ops_match_one_to_one_and_broadcast_scalars() {
        let a = vec![
            series("a", &[("s", "1")], &[Some(6.0)]),
            series("a", &[("s", "2")], &[Some(8.0)]),
        ];
        let b = vec![series("b", &[("s", "2")], &[Some(2.0)])];
        let Value::Vector(out) =
            binary(BinOp::Div, Value::Vector(a.clone()), Value::Vector(b)).unwrap()
        else {
            panic!()
        };
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].values, vec![Some(4.0)]);
        let Value::Vector(out) =
            binary(BinOp::Mul, Value::Scalar(2.0), Value::Vector(a.clone())).unwrap()
        else {
            panic!()
        };
        assert_eq!(out[1].values, vec![Some(16.0)]);
        assert_eq!(out[1].metric, None, "arithmetic drops the metric name");
        assert_eq!(
            binary(BinOp::Add, Value::Scalar(1.0), Value::Scalar(1.0)).unwrap(),
            Value::Scalar(2.0)
        );
        let dup = vec![
            series("b", &[("s", "1")], &[Some(1.0)]),
            series("c", &[("s", "1")], &[Some(1.0)]),
        ];
        assert!(binary(BinOp::Add, Value::Vector(a), Value::Vector(dup)).is_err());
    }
}
