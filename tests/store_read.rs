//! The narrow read interface (`SeriesReader`): `raw_samples` returns exactly the samples that the
//! raw tier gives at a 1 ms step — across the head, compacted chunks, reopen, out-of-order and
//! duplicate writes — and refuses reads over its sample budget.

use std::collections::BTreeMap;

use kafkascope::model::{Labels, MetricKind, SeriesKey};
use kafkascope::store::{ReadError, SeriesId, SeriesReader, Store, StoreConfig, StoreError, Tier};
use proptest::prelude::*;

const T0: i64 = 1_704_067_200_000; // 2024-01-01T00:00:00Z
const BLOCK: i64 = 3_600_000;

#[derive(Clone, Debug)]
enum Op {
    /// Samples: (series index, ts offset from the cursor, value); cursor advance.
    Append(Vec<(usize, i64, f64)>, i64),
    Compact,
    Reopen,
}

fn value() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => (0i64..1_000_000).prop_map(|v| v as f64),
        3 => -1.0e6f64..1.0e6,
        1 => Just(f64::NAN),
        1 => Just(f64::NEG_INFINITY),
        1 => Just(-0.0),
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    // Offsets reach back a block and a half, so appends land out of order, repeat timestamps
    // (last write wins) and hit sealed blocks (rejected).
    let append = (
        prop::collection::vec((0usize..4, -3 * BLOCK / 2..2 * BLOCK, value()), 1..60),
        0i64..(6 * BLOCK),
    )
        .prop_map(|(s, adv)| Op::Append(s, adv));
    prop::collection::vec(
        prop_oneof![6 => append, 2 => Just(Op::Compact), 1 => Just(Op::Reopen)],
        5..40,
    )
}

fn cfg(dir: &tempfile::TempDir) -> StoreConfig {
    let mut c = StoreConfig::new(dir.path().join("r.db"));
    c.background = false;
    c.block_ms = BLOCK;
    c
}

fn keys(n: usize) -> Vec<(SeriesKey, MetricKind)> {
    (0..n)
        .map(|i| {
            let kind = if i % 2 == 0 {
                MetricKind::Gauge
            } else {
                MetricKind::Counter
            };
            (
                SeriesKey::new("r", Labels::from_pairs([("i", i.to_string())])),
                kind,
            )
        })
        .collect()
}

fn bits(v: &[(i64, f64)]) -> Vec<(i64, u64)> {
    v.iter().map(|&(t, x)| (t, x.to_bits())).collect()
}

/// Reads through the trait only, as a remote-backed evaluator would.
async fn raw_via_trait<R: SeriesReader>(
    r: &R,
    ids: &[SeriesId],
    start: i64,
    end: i64,
    max: usize,
) -> Result<Vec<Vec<(i64, f64)>>, R::Error> {
    r.raw_samples(ids, start, end, max).await
}

/// The raw tier at a 1 ms step, per requested id (empty when the store returns no range).
async fn raw_by_buckets(
    store: &Store,
    ids: &[SeriesId],
    start: i64,
    end: i64,
) -> Vec<Vec<(i64, f64)>> {
    let ranges = store
        .query_range_step(ids, start, end, 1, Some(Tier::Raw))
        .await
        .unwrap();
    let by_id: BTreeMap<SeriesId, Vec<(i64, f64)>> = ranges
        .into_iter()
        .map(|r| {
            assert!(
                r.buckets.iter().all(|b| b.count == 1),
                "a 1 ms bucket holds two samples"
            );
            (
                r.series.id,
                r.buckets.iter().map(|b| (b.ts, b.last)).collect(),
            )
        })
        .collect();
    ids.iter()
        .map(|id| by_id.get(id).cloned().unwrap_or_default())
        .collect()
}

async fn check_window(
    store: &Store,
    ids: &[SeriesId],
    model: &[BTreeMap<i64, f64>],
    start: i64,
    end: i64,
) -> Result<(), TestCaseError> {
    let want = raw_by_buckets(store, ids, start, end).await;
    let got = raw_via_trait(store, ids, start, end, usize::MAX)
        .await
        .unwrap();
    prop_assert_eq!(got.len(), ids.len());
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        prop_assert_eq!(bits(g), bits(w), "series {} in [{}, {}]", i, start, end);
        // And both equal what was accepted (last write wins).
        let m: Vec<(i64, f64)> = model[i].range(start..=end).map(|(t, v)| (*t, *v)).collect();
        prop_assert_eq!(bits(g), bits(&m), "series {} against the model", i);
    }
    // The budget counts samples across all series: exactly the total passes, one less fails.
    let total: usize = got.iter().map(Vec::len).sum();
    prop_assert!(raw_via_trait(store, ids, start, end, total).await.is_ok());
    if total > 0 {
        let err = raw_via_trait(store, ids, start, end, total - 1)
            .await
            .expect_err("one sample over the budget");
        prop_assert_eq!(err.sample_limit(), Some(total - 1));
        let typed = matches!(err, StoreError::TooManySamples { .. });
        prop_assert!(typed, "not TooManySamples: {}", err);
    }
    Ok(())
}

fn run_case(ops: Vec<Op>, windows: Vec<(i64, i64)>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(cfg(&dir)).await.unwrap();
        let ids = store.resolve(&keys(4)).await.unwrap();
        let mut model: Vec<BTreeMap<i64, f64>> = vec![BTreeMap::new(); 4];
        let mut cursor = T0;
        let mut max_ts = T0;
        let mut floor = i64::MIN;
        let mut head_blocks = std::collections::BTreeSet::new();
        for op in ops {
            match op {
                Op::Append(samples, adv) => {
                    let batch: Vec<(SeriesId, i64, f64)> = samples
                        .iter()
                        .map(|&(s, off, v)| (ids[s], (cursor + off).max(T0), v))
                        .collect();
                    // The store's rules (see store_props.rs): a sample below the floor (the end
                    // of the newest compacted block) is rejected, a repeated timestamp replaces
                    // the earlier value.
                    let mut accepted = 0;
                    for &(id, ts, v) in &batch {
                        if ts >= floor {
                            let s = ids.iter().position(|&x| x == id).unwrap();
                            model[s].insert(ts, v);
                            head_blocks.insert(ts.div_euclid(BLOCK) * BLOCK);
                            max_ts = max_ts.max(ts);
                            accepted += 1;
                        }
                    }
                    let r = store.append(&batch, &[]).await.unwrap();
                    prop_assert_eq!(r.accepted, accepted);
                    cursor += adv;
                }
                Op::Compact => {
                    store.compact_now().await.unwrap();
                    let ready: Vec<i64> = head_blocks
                        .iter()
                        .copied()
                        .filter(|b| b + BLOCK <= max_ts + 1)
                        .collect();
                    for b in ready {
                        floor = floor.max(b + BLOCK);
                        head_blocks.remove(&b);
                    }
                }
                Op::Reopen => {
                    drop(store);
                    store = Store::open(cfg(&dir)).await.unwrap();
                }
            }
        }
        let stats = store.stats().await;
        prop_assert_eq!(
            stats.compacted_until.unwrap_or(i64::MIN),
            floor,
            "watermark"
        );
        let end = max_ts + BLOCK;
        check_window(&store, &ids, &model, T0 - BLOCK, end).await?;
        for (a, len) in windows {
            let start = T0 + a % (end - T0 + 1);
            check_window(&store, &ids, &model, start, start + len).await?;
        }
        // Unknown and repeated ids.
        let with_unknown = [ids[1], 9_999, ids[1]];
        let got = store
            .raw_samples(&with_unknown, T0 - BLOCK, end, usize::MAX)
            .await
            .unwrap();
        prop_assert!(got[1].is_empty());
        prop_assert_eq!(bits(&got[0]), bits(&got[2]));
        let m1: Vec<(i64, f64)> = model[1].iter().map(|(t, v)| (*t, *v)).collect();
        prop_assert_eq!(bits(&got[0]), bits(&m1));
        eprintln!(
            "{} compactions, watermark {:?}, {} head samples",
            stats.compactions_total, stats.compacted_until, stats.head_samples
        );
        Ok(())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn raw_samples_equal_the_raw_tier_at_one_ms_across_head_chunks_and_reopen(
        ops in ops(),
        windows in prop::collection::vec((0i64..i64::MAX / 4, 0i64..3 * BLOCK), 1..6),
    ) {
        run_case(ops, windows)?;
    }
}

/// A read large enough to decode on the blocking pool (hundreds of noisy chunks, several MB),
/// from a multi-threaded runtime, still equals the raw tier; the budget stops it early.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_raw_reads_decode_off_the_workers_and_match_the_raw_tier() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(cfg(&dir)).await.unwrap();
    let ids = store.resolve(&keys(200)).await.unwrap();
    let mut rng = fastrand::Rng::with_seed(11);
    // Three blocks at 15 s: two get compacted, the third stays in the head.
    let n = (3 * BLOCK / 15_000) as usize;
    for step in 0..n {
        let ts = T0 + step as i64 * 15_000;
        let batch: Vec<(SeriesId, i64, f64)> =
            ids.iter().map(|&id| (id, ts, rng.f64() * 1e6)).collect();
        store.append(&batch, &[]).await.unwrap();
    }
    store.compact_now().await.unwrap();
    let stats = store.stats().await;
    assert_eq!(stats.compacted_until, Some(T0 + 2 * BLOCK), "{stats:?}");
    assert!(stats.head_samples > 0);
    let end = T0 + 3 * BLOCK;
    let got = store.raw_samples(&ids, T0, end, usize::MAX).await.unwrap();
    let want = raw_by_buckets(&store, &ids, T0, end).await;
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.len(), n);
        assert_eq!(bits(g), bits(w));
    }
    let total = 200 * n;
    let err = store
        .raw_samples(&ids, T0, end, total / 2)
        .await
        .expect_err("over budget");
    assert_eq!(err.sample_limit(), Some(total / 2));
    assert!(
        err.to_string()
            .contains("query processing would load too many samples"),
        "{err}"
    );
}
