//! Property tests: what goes in comes out — across the head/chunk boundary, after compaction,
//! day and 28-day merges, reopen and retention — and rollup tiers equal direct aggregation.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kafkascope::model::{Labels, MetricKind, SeriesKey};
use kafkascope::store::{Bucket, Retention, SeriesId, Store, StoreConfig, Tier};
use proptest::prelude::*;

const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z
const BLOCK: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

#[derive(Clone, Debug)]
enum Op {
    /// Samples: (series index, ts offset from the phase cursor, value); cursor advance.
    Append(Vec<(usize, i64, f64)>, i64),
    Compact,
    Reopen,
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        8 => (0i64..1_000_000).prop_map(|v| v as f64),
        4 => (-100_000i64..100_000, 0u32..5).prop_map(|(m, e)| m as f64 / 10f64.powi(e as i32)),
        2 => -1.0e6f64..1.0e6,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(1e300),
        1 => Just(5e-324),
        1 => Just(-0.0),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let append = (
        prop::collection::vec((0usize..3, -3 * BLOCK / 2..4 * BLOCK, value()), 1..80),
        0i64..(2 * DAY),
    )
        .prop_map(|(s, adv)| Op::Append(s, adv));
    prop::collection::vec(
        prop_oneof![6 => append, 2 => Just(Op::Compact), 1 => Just(Op::Reopen)],
        10..60,
    )
}

fn cfg(dir: &tempfile::TempDir) -> StoreConfig {
    let mut c = StoreConfig::new(dir.path().join("p.db"));
    c.background = false;
    c.block_ms = BLOCK;
    // Every maintenance transaction takes one statement's worth of rows, and every compaction
    // switches appends to the other head-log lane: replay must merge both lanes in commit order.
    c.maintenance_tx_bytes = 1;
    c.maintenance_tx_time = std::time::Duration::ZERO;
    c.wal_restart_bytes = 1;
    c
}

/// The model: accepted samples per series (last write wins), head blocks, and the floor below
/// which appends are rejected.
#[derive(Default)]
struct Model {
    series: Vec<BTreeMap<i64, f64>>,
    head_blocks: BTreeSet<i64>,
    floor: i64,
    max_ts: i64,
}

impl Model {
    fn block(ts: i64) -> i64 {
        ts.div_euclid(BLOCK) * BLOCK
    }

    fn compact(&mut self) {
        let ready: Vec<i64> = self
            .head_blocks
            .iter()
            .copied()
            .filter(|b| b + BLOCK <= self.max_ts + 1)
            .collect();
        for b in ready {
            self.floor = self.floor.max(b + BLOCK);
            self.head_blocks.remove(&b);
        }
    }
}

fn same(a: f64, b: f64) -> bool {
    a == b || (a.is_nan() && b.is_nan())
}

fn close(a: f64, b: f64) -> bool {
    if same(a, b) {
        return true;
    }
    if !a.is_finite() || !b.is_finite() {
        return false;
    }
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

/// Direct aggregation of the model's samples into buckets of `res`.
fn direct(samples: &BTreeMap<i64, f64>, counter: bool, res: i64) -> Vec<Bucket> {
    let mut out: Vec<Bucket> = Vec::new();
    let mut prev: Option<f64> = None;
    for (&ts, &v) in samples {
        let inc = match prev {
            Some(p) if counter && v >= p => v - p,
            Some(_) if counter => v,
            _ => 0.0,
        };
        prev = Some(v);
        let bts = ts.div_euclid(res) * res;
        match out.last_mut() {
            Some(b) if b.ts == bts => {
                b.count += 1;
                b.sum += v;
                b.min = b.min.min(v);
                b.max = b.max.max(v);
                b.last = v;
                b.increase += inc;
            }
            _ => out.push(Bucket {
                ts: bts,
                count: 1,
                sum: v,
                min: v,
                max: v,
                last: v,
                increase: inc,
            }),
        }
    }
    out
}

fn check_buckets(got: &[Bucket], want: &[Bucket], what: &str) -> Result<(), TestCaseError> {
    prop_assert_eq!(got.len(), want.len(), "{}: bucket count", what);
    for (g, w) in got.iter().zip(want) {
        prop_assert_eq!(g.ts, w.ts, "{}", what);
        prop_assert_eq!(g.count, w.count, "{} at {}", what, g.ts);
        prop_assert!(
            same(g.min, w.min) && same(g.max, w.max),
            "{} min/max at {}: {:?} vs {:?}",
            what,
            g.ts,
            g,
            w
        );
        prop_assert!(
            g.last.to_bits() == w.last.to_bits() || same(g.last, w.last),
            "{} last at {}",
            what,
            g.ts
        );
        prop_assert!(
            close(g.sum, w.sum),
            "{} sum at {}: {} vs {}",
            what,
            g.ts,
            g.sum,
            w.sum
        );
        prop_assert!(
            close(g.increase, w.increase),
            "{} increase at {}: {} vs {}",
            what,
            g.ts,
            g.increase,
            w.increase
        );
    }
    Ok(())
}

async fn verify(
    store: &Store,
    ids: &[SeriesId],
    kinds: &[MetricKind],
    model: &Model,
    end: i64,
) -> Result<(), TestCaseError> {
    // Raw: step 1 ms gives one bucket per sample, so values and timestamps come back exactly.
    let raw = store
        .query_range_step(ids, T0 - 2 * DAY, end, 1, Some(Tier::Raw))
        .await
        .unwrap();
    for (i, r) in raw.iter().enumerate() {
        let want: Vec<(i64, u64)> = model.series[i]
            .iter()
            .map(|(t, v)| (*t, v.to_bits()))
            .collect();
        let got: Vec<(i64, u64)> = r.buckets.iter().map(|b| (b.ts, b.last.to_bits())).collect();
        prop_assert!(
            r.buckets.iter().all(|b| b.count == 1),
            "a sample came back twice"
        );
        prop_assert_eq!(got, want, "raw samples of series {}", i);
    }
    for tier in [Tier::M1, Tier::M5, Tier::H1, Tier::D1] {
        let res = tier.resolution_ms().unwrap();
        let got = store
            .query_range_step(ids, T0 - 2 * DAY, end, res, Some(tier))
            .await
            .unwrap();
        for (i, r) in got.iter().enumerate() {
            let want = direct(&model.series[i], kinds[i] == MetricKind::Counter, res);
            check_buckets(
                &r.buckets,
                &want,
                &format!("{} tier, series {i}", tier.as_str()),
            )?;
        }
    }
    // Chart query with automatic tier choice over everything.
    let auto = store
        .query_range(ids, T0 - 2 * DAY, end, 200)
        .await
        .unwrap();
    for (i, r) in auto.iter().enumerate() {
        let total: u64 = r.buckets.iter().map(|b| u64::from(b.count)).sum();
        prop_assert_eq!(
            total,
            model.series[i].len() as u64,
            "auto tier {:?} count",
            r.tier
        );
        prop_assert!(r.buckets.len() <= 200);
    }
    Ok(())
}

fn run_case(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(cfg(&dir)).await.unwrap();
        let kinds = [MetricKind::Gauge, MetricKind::Counter, MetricKind::Counter];
        let keys: Vec<(SeriesKey, MetricKind)> = kinds
            .iter()
            .enumerate()
            .map(|(i, k)| {
                (
                    SeriesKey::new(format!("m{i}"), Labels::from_pairs([("i", i.to_string())])),
                    *k,
                )
            })
            .collect();
        let ids = store.resolve(&keys).await.unwrap();
        let mut model = Model {
            series: vec![BTreeMap::new(); 3],
            floor: i64::MIN,
            max_ts: i64::MIN,
            ..Default::default()
        };
        let mut cursor = T0;
        for op in ops {
            match op {
                Op::Append(samples, adv) => {
                    let batch: Vec<(SeriesId, i64, f64)> = samples
                        .iter()
                        .map(|&(s, off, v)| (ids[s], (cursor + off).max(T0), v))
                        .collect();
                    let mut accepted = 0;
                    for &(id, ts, v) in &batch {
                        if ts >= model.floor {
                            let s = ids.iter().position(|&x| x == id).unwrap();
                            model.series[s].insert(ts, v);
                            model.head_blocks.insert(Model::block(ts));
                            model.max_ts = model.max_ts.max(ts);
                            accepted += 1;
                        }
                    }
                    let r = store.append(&batch, &[]).await.unwrap();
                    prop_assert_eq!(r.accepted, accepted);
                    prop_assert_eq!(r.rejected, batch.len() - accepted);
                    cursor += adv;
                }
                Op::Compact => {
                    store.compact_now().await.unwrap();
                    model.compact();
                }
                Op::Reopen => {
                    drop(store);
                    store = Store::open(cfg(&dir)).await.unwrap();
                }
            }
        }
        let end = model.max_ts.max(T0) + DAY;
        verify(&store, &ids, &kinds, &model, end).await?;
        store.compact_now().await.unwrap();
        model.compact();
        let st = store.stats().await;
        prop_assert_eq!(
            st.compacted_until.unwrap_or(i64::MIN),
            model.floor,
            "watermark"
        );
        prop_assert_eq!(
            st.head_samples as usize,
            model
                .series
                .iter()
                .map(|s| s.range(model.floor..).count())
                .sum::<usize>()
        );
        verify(&store, &ids, &kinds, &model, end).await?;
        eprintln!(
            "span {} days, {} compactions, {} chunks written, {} deleted",
            (model.max_ts - T0) / DAY,
            st.compactions_total,
            st.chunks_written_total,
            st.chunks_deleted_total
        );

        // Retention: raw chunks whose last sample is older than the cutoff disappear whole; the
        // head and every coarser tier keep their data.
        let now = model.max_ts.max(T0);
        let raw_keep = 5 * DAY;
        store.close().await.unwrap();
        let mut c = cfg(&dir);
        c.retention = Retention {
            raw: Some(Duration::from_millis(raw_keep as u64)),
            ..Retention::default()
        };
        let store = Store::open(c).await.unwrap();
        store.run_retention_now(now).await.unwrap();
        let cutoff = now - raw_keep;
        let watermark = store.stats().await.compacted_until.unwrap_or(i64::MIN);
        let raw = store
            .query_range_step(&ids, T0 - 2 * DAY, end, 1, Some(Tier::Raw))
            .await
            .unwrap();
        for (i, r) in raw.iter().enumerate() {
            // Model chunks: (block → last ts) for compacted blocks.
            let mut chunk_end: BTreeMap<i64, i64> = BTreeMap::new();
            for &ts in model.series[i].keys() {
                if ts < watermark {
                    chunk_end.insert(Model::block(ts), ts);
                }
            }
            let want: Vec<i64> = model.series[i]
                .keys()
                .copied()
                .filter(|&ts| ts >= watermark || chunk_end[&Model::block(ts)] >= cutoff)
                .collect();
            let got: Vec<i64> = r.buckets.iter().map(|b| b.ts).collect();
            prop_assert_eq!(got, want, "raw after retention, series {}", i);
        }
        let h1 = store
            .query_range_step(&ids, T0 - 2 * DAY, end, 3_600_000, Some(Tier::H1))
            .await
            .unwrap();
        for (i, r) in h1.iter().enumerate() {
            let want = direct(&model.series[i], kinds[i] == MetricKind::Counter, 3_600_000);
            check_buckets(&r.buckets, &want, "1h tier after raw retention")?;
        }
        if watermark > cutoff + DAY {
            let r = store
                .query_range(&ids, cutoff - DAY, cutoff + DAY, 10_000)
                .await
                .unwrap();
            prop_assert_ne!(r[0].tier, Tier::Raw, "raw no longer covers the start");
        }
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]
    #[test]
    fn samples_round_trip_through_head_chunks_merges_and_retention(ops in ops()) {
        run_case(ops)?;
    }
}
