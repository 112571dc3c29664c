//! Data access for the evaluator: the one place that turns store reads into samples.
//!
//! [`read_samples`] is the only function that asks the store for data; everything else sees
//! `(timestamp, value)` samples. It reads the raw tier (one-millisecond buckets of the raw tier
//! hold one sample each), and:
//! * before the raw tier's retention boundary (and each series' oldest raw sample), where
//!   retention has dropped raw data, pseudo-samples from the finest rollup tier that still has
//!   data there (M1, then M5, H1, D1 before each finer tier's own boundary);
//! * in rollup mode (long-range charts, see [`crate::query`]), pseudo-samples from the given
//!   tier, followed by raw samples after each series' newest rollup bucket.
//!
//! A pseudo-sample sits at its bucket's end. Gauges take the bucket's `last`; counters take a
//! cumulative value rebuilt from the buckets' reset-aware `increase`s, anchored so that the newest
//! bucket of the run keeps its real `last` (so the run joins the raw samples after it).

use super::eval::{
    Budget, EvalError, Lbls, Loader, NAME, RangeSeries, required_equalities, selector_matches,
    set_label,
};
use crate::model::{Matcher, MetricKind, Timestamp};
use crate::store::{Bucket, SeriesInfo, Store, StoreError, Tier};
use promql_parser::parser::VectorSelector;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};

/// Series read from the store per call.
const BATCH: usize = 256;
const OLDER_TIERS: [Tier; 4] = [Tier::M1, Tier::M5, Tier::H1, Tier::D1];

/// The labels of a stored series, `__name__` included.
pub fn series_labels(info: &SeriesInfo) -> Lbls {
    let mut l: Lbls = info
        .key
        .labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    l.sort();
    set_label(&mut l, NAME, &info.key.metric);
    l
}

fn pseudo_samples(buckets: &[Bucket], res: i64, kind: MetricKind) -> Vec<(Timestamp, f64)> {
    match kind {
        MetricKind::Counter => {
            let total: f64 = buckets.iter().map(|b| b.increase).sum();
            let last = buckets.last().map_or(0.0, |b| b.last);
            let mut cum = last - total;
            buckets
                .iter()
                .map(|b| {
                    cum += b.increase;
                    (b.ts + res, cum)
                })
                .collect()
        }
        _ => buckets.iter().map(|b| (b.ts + res, b.last)).collect(),
    }
}

/// The samples of `infos` in `[lo, hi]` (one vector per series, same order) and the tiers that
/// answered.
pub async fn read_samples(
    store: &Store,
    infos: &[SeriesInfo],
    lo: Timestamp,
    hi: Timestamp,
    rollup: Option<Tier>,
) -> Result<(Vec<Vec<(Timestamp, f64)>>, BTreeSet<Tier>), StoreError> {
    let n = infos.len();
    let mut out: Vec<Vec<(Timestamp, f64)>> = vec![Vec::new(); n];
    let mut tiers = BTreeSet::new();
    if n == 0 || hi < lo {
        return Ok((out, tiers));
    }
    let ids: Vec<_> = infos.iter().map(|i| i.id).collect();
    let pos = |id| infos.iter().position(|i| i.id == id);
    // Raw samples are taken from here on, per series.
    let mut raw_from = vec![lo; n];
    if let Some(tier) = rollup
        && let Some(res) = tier.resolution_ms()
    {
        for r in store
            .query_range_step(&ids, lo, hi, res, Some(tier))
            .await?
        {
            let Some(i) = pos(r.series.id) else { continue };
            if let Some(b) = r.buckets.last() {
                raw_from[i] = b.ts + res;
                out[i] = pseudo_samples(&r.buckets, res, infos[i].kind)
                    .into_iter()
                    .filter(|p| p.0 >= lo && p.0 <= hi)
                    .collect();
                tiers.insert(tier);
            }
        }
    }
    let raw_lo = raw_from.iter().copied().min().unwrap_or(lo);
    if raw_lo <= hi {
        // The caller counts the samples against the query's budget as they arrive, batch by batch.
        let raw = store.raw_samples(&ids, raw_lo, hi, usize::MAX).await?;
        for (i, samples) in raw.into_iter().enumerate() {
            let before = out[i].len();
            out[i].extend(samples.into_iter().filter(|p| p.0 >= raw_from[i]));
            if out[i].len() > before {
                tiers.insert(Tier::Raw);
            }
        }
    }
    // Where retention dropped a tier's data, the next coarser tier fills in: only before the
    // finer tier's retention boundary and before each series' oldest sample so far (a gap in the
    // data is not filled).
    let mut limit = store.retained_from(Tier::Raw);
    for tier in OLDER_TIERS {
        let Some(res) = tier.resolution_ms() else {
            continue;
        };
        if limit <= lo {
            break;
        }
        let covered: Vec<Timestamp> = out
            .iter()
            .map(|s| s.first().map_or(hi + 1, |p| p.0).min(limit))
            .collect();
        let need: Vec<usize> = (0..n).filter(|&i| covered[i] > lo).collect();
        if need.is_empty() {
            break;
        }
        let need_ids: Vec<_> = need.iter().map(|&i| ids[i]).collect();
        let need_hi = need
            .iter()
            .map(|&i| covered[i])
            .max()
            .unwrap_or(hi)
            .min(hi + 1)
            - 1;
        for r in store
            .query_range_step(&need_ids, lo - res, need_hi, res, Some(tier))
            .await?
        {
            let Some(i) = pos(r.series.id) else { continue };
            let older: Vec<Bucket> = r
                .buckets
                .into_iter()
                .filter(|b| b.ts + res <= covered[i])
                .collect();
            if older.is_empty() {
                continue;
            }
            let mut pts: Vec<(Timestamp, f64)> = pseudo_samples(&older, res, infos[i].kind)
                .into_iter()
                .filter(|p| p.0 >= lo && p.0 <= hi && p.0 < covered[i])
                .collect();
            if !pts.is_empty() {
                tiers.insert(tier);
                pts.append(&mut out[i]);
                out[i] = pts;
            }
        }
        limit = store.retained_from(tier);
    }
    Ok((out, tiers))
}

/// A [`Loader`] over the store, for use on a query thread (it blocks on the store's futures).
pub struct StoreLoader<'a> {
    pub store: &'a Store,
    pub handle: tokio::runtime::Handle,
    pub budget: &'a Budget,
    pub cancel: &'a AtomicBool,
    pub rollup: Option<Tier>,
    /// The tiers that answered so far.
    pub tiers: BTreeSet<Tier>,
}

impl Loader for StoreLoader<'_> {
    fn plan(&mut self, expr: &promql_parser::parser::Expr, step_ms: i64, lookback_ms: i64) {
        // Instant queries (step 0) always read raw samples.
        if step_ms > 0 {
            self.rollup = super::run::rollup_tier(expr, step_ms, lookback_ms);
        }
    }

    fn load(
        &mut self,
        vs: &VectorSelector,
        lo: i64,
        hi: i64,
    ) -> Result<Vec<RangeSeries>, EvalError> {
        let eq: Vec<Matcher> = required_equalities(vs)
            .into_iter()
            .map(|(k, v)| Matcher::eq(k, v))
            .collect();
        let infos: Vec<(SeriesInfo, Lbls)> = self
            .store
            .select(vs.name.as_deref(), &eq)
            .into_iter()
            .map(|i| {
                let l = series_labels(&i);
                (i, l)
            })
            .filter(|(_, l)| selector_matches(vs, l))
            .collect();
        let mut out = Vec::new();
        for chunk in infos.chunks(BATCH) {
            if self.cancel.load(Ordering::Relaxed) {
                return Err(EvalError::Cancelled(
                    "the client disconnected or the time limit passed",
                ));
            }
            let batch: Vec<SeriesInfo> = chunk.iter().map(|(i, _)| i.clone()).collect();
            let (samples, tiers) = self
                .handle
                .block_on(read_samples(self.store, &batch, lo, hi, self.rollup))
                .map_err(|e| EvalError::Store(e.to_string()))?;
            self.budget.load(samples.iter().map(Vec::len).sum())?;
            self.tiers.extend(tiers);
            for ((_, labels), samples) in chunk.iter().zip(samples) {
                if !samples.is_empty() {
                    out.push(RangeSeries {
                        labels: labels.clone(),
                        samples,
                    });
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(ts: i64, last: f64, increase: f64) -> Bucket {
        Bucket {
            ts,
            count: 4,
            sum: last * 4.0,
            min: last,
            max: last,
            last,
            increase,
        }
    }

    #[test]
    fn counters_rebuild_a_cumulative_value_that_ends_at_the_real_last() {
        // 10 per bucket, a reset in the second bucket (increase still 10).
        let buckets = [
            b(0, 110.0, 10.0),
            b(60_000, 5.0, 10.0),
            b(120_000, 15.0, 10.0),
        ];
        let p = pseudo_samples(&buckets, 60_000, MetricKind::Counter);
        assert_eq!(p, vec![(60_000, -5.0), (120_000, 5.0), (180_000, 15.0)]);
        let g = pseudo_samples(&buckets, 60_000, MetricKind::Gauge);
        assert_eq!(g, vec![(60_000, 110.0), (120_000, 5.0), (180_000, 15.0)]);
    }

    /// Beyond raw retention the evaluator reads pseudo-samples from the 1 m rollups.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn rollups_answer_where_raw_samples_were_dropped() {
        use crate::model::{Labels, Sample, SeriesKey, now_ms};
        use crate::query::{Limits, Value, eval_instant};
        use crate::store::StoreConfig;
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = StoreConfig::new(dir.path().join("r.db"));
        cfg.retention.raw = Some(std::time::Duration::from_secs(86_400));
        cfg.background = false;
        let store = Store::open(cfg).await.unwrap();
        let now = now_ms();
        let t0 = now - now.rem_euclid(86_400_000) - 3 * 86_400_000;
        let key = |m: &str| SeriesKey::new(m, Labels::from_pairs([("job", "x")]));
        let samples: Vec<Sample> = (0..6 * 240)
            .flat_map(|i| {
                let ts = t0 + i * 15_000;
                [
                    Sample {
                        key: key("g"),
                        kind: MetricKind::Gauge,
                        ts,
                        value: i as f64,
                    },
                    Sample {
                        key: key("c_total"),
                        kind: MetricKind::Counter,
                        ts,
                        value: (i * 15) as f64,
                    },
                ]
            })
            .collect();
        assert_eq!(store.write(&samples, &[]).await.unwrap().rejected, 0);
        store.compact_now().await.unwrap();
        store.run_retention_now(now).await.unwrap();
        let at = t0 + 3 * 3_600_000;
        let ask = |q: &'static str| {
            let store = store.clone();
            async move {
                eval_instant(&store, q, at + 30_000, &Limits::default())
                    .await
                    .unwrap()
            }
        };
        // No raw sample is left there: the answer comes from the 1 m tier.
        let r = ask("g").await;
        assert_eq!(r.tiers, vec![Tier::M1], "{:?}", r.tiers);
        let Value::Vector(v) = r.value else { panic!() };
        // The bucket ending at `at` holds samples up to at − 15 s: index 3 h × 240 − 1.
        assert_eq!(v[0].values, vec![Some((3 * 240 - 1) as f64)]);
        // 15 per 15 s: one per second, from one pseudo-sample per minute.
        let r = ask("rate(c_total[5m])").await;
        let Value::Vector(v) = r.value else { panic!() };
        let rate = v[0].values[0].unwrap();
        assert!((rate - 1.0).abs() < 1e-9, "{rate}");
        store.close().await.unwrap();
    }

    /// Within raw retention a gap stays a gap, although rollup buckets exist around it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn gaps_in_raw_data_are_not_filled_from_rollups() {
        use crate::model::{Labels, Sample, SeriesKey, now_ms};
        use crate::query::{Limits, Value, eval_instant};
        use crate::store::StoreConfig;
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = StoreConfig::new(dir.path().join("g.db"));
        cfg.background = false;
        let store = Store::open(cfg).await.unwrap();
        let now = now_ms();
        let t0 = now - now.rem_euclid(3_600_000) - 6 * 3_600_000;
        // 15 s samples with a 30 min gap in the middle.
        let samples: Vec<Sample> = (0..4 * 240)
            .filter(|i| !(400..520).contains(i))
            .map(|i| Sample {
                key: SeriesKey::new("g", Labels::from_pairs([("job", "x")])),
                kind: MetricKind::Gauge,
                ts: t0 + i * 15_000,
                value: i as f64,
            })
            .collect();
        assert_eq!(store.write(&samples, &[]).await.unwrap().rejected, 0);
        store.compact_now().await.unwrap();
        // The last sample before the gap is at 99 m 45 s; its 1 m bucket ends at 100 m. Windows
        // that start just after the sample take in that bucket's end, but no raw sample.
        for (q, at) in [
            ("g", t0 + 6_290_000),
            ("count_over_time(g[10m])", t0 + 6_590_000),
        ] {
            let r = eval_instant(&store, q, at, &Limits::default())
                .await
                .unwrap();
            assert_eq!(r.value, Value::Vector(Vec::new()), "{q} in the gap");
        }
        // Positive control: before the gap the series answers.
        let r = eval_instant(&store, "g", t0 + 399 * 15_000, &Limits::default())
            .await
            .unwrap();
        let Value::Vector(v) = r.value else { panic!() };
        assert_eq!(v[0].values, vec![Some(399.0)]);
        store.close().await.unwrap();
    }
}
