//! End-to-end behaviour of the store API against a real SQLite file.

use kafkascope::model::{Event, Labels, Matcher, MetricKind, Sample, SeriesKey, Severity};
use kafkascope::store::{EventQuery, Store, StoreConfig, Tier};

const T0: i64 = 1_700_000_000_000 - 1_700_000_000_000 % 86_400_000; // a UTC midnight

fn key(metric: &str, labels: &[(&str, &str)]) -> SeriesKey {
    SeriesKey::new(metric, Labels::from_pairs(labels.iter().copied()))
}

fn cfg(dir: &tempfile::TempDir) -> StoreConfig {
    let mut c = StoreConfig::new(dir.path().join("store.db"));
    c.background = false;
    c
}

fn sample(k: &SeriesKey, kind: MetricKind, ts: i64, value: f64) -> Sample {
    Sample {
        key: k.clone(),
        kind,
        ts,
        value,
    }
}

#[tokio::test]
async fn resolve_is_stable_and_keeps_first_kind_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let a = key("up", &[("job", "zk")]);
    let b = key("kafka_server_bytes_total", &[("broker", "1")]);
    let ids = {
        let s = Store::open(cfg(&dir)).await.unwrap();
        let ids = s
            .resolve(&[
                (a.clone(), MetricKind::Gauge),
                (b.clone(), MetricKind::Counter),
            ])
            .await
            .unwrap();
        assert_ne!(ids[0], ids[1]);
        let again = s
            .resolve(&[
                (b.clone(), MetricKind::Gauge),
                (a.clone(), MetricKind::Gauge),
            ])
            .await
            .unwrap();
        assert_eq!(again, vec![ids[1], ids[0]]);
        s.close().await.unwrap();
        ids
    };
    let s = Store::open(cfg(&dir)).await.unwrap();
    assert_eq!(
        s.resolve(&[(a.clone(), MetricKind::Counter)])
            .await
            .unwrap(),
        vec![ids[0]]
    );
    let info = s.series_info(ids[1]).unwrap();
    assert_eq!(info.key, b);
    assert_eq!(info.kind, MetricKind::Counter);
    assert_eq!(
        s.series_info(ids[0]).unwrap().kind,
        MetricKind::Gauge,
        "first kind is kept"
    );
    assert_eq!(s.label_names(), vec!["__name__", "broker", "job"]);
    assert_eq!(
        s.label_values("__name__"),
        vec!["kafka_server_bytes_total", "up"]
    );
    let sel = s.select(None, &[Matcher::eq("job", "zk")]);
    assert_eq!(sel.len(), 1);
    assert_eq!(sel[0].id, ids[0]);
}

#[tokio::test]
async fn appended_samples_are_queryable_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let g = key("zk_avg_latency", &[("server", "zk1")]);
    let c = key("zk_packets_received", &[("server", "zk1")]);
    let mut samples = Vec::new();
    let counter = [10.0, 20.0, 35.0, 5.0, 15.0, 15.0];
    for (i, &cv) in counter.iter().enumerate() {
        let ts = T0 + i as i64 * 15_000;
        samples.push(sample(&g, MetricKind::Gauge, ts, i as f64 * 0.5));
        samples.push(sample(&c, MetricKind::Counter, ts, cv));
    }
    {
        let s = Store::open(cfg(&dir)).await.unwrap();
        let r = s.write(&samples, &[]).await.unwrap();
        assert_eq!((r.accepted, r.rejected), (12, 0));
        // kill -9 equivalent for this purpose: no close, the head lives only in the log.
    }
    let s = Store::open(cfg(&dir)).await.unwrap();
    let gid = s.select(Some("zk_avg_latency"), &[])[0].id;
    let cid = s.select(Some("zk_packets_received"), &[])[0].id;
    let r = s
        .query_range_step(&[gid, cid], T0, T0 + 89_999, 30_000, None)
        .await
        .unwrap();
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].tier, Tier::Raw);
    let gb = &r[0].buckets;
    assert_eq!(gb.len(), 3);
    assert_eq!(
        (
            gb[0].ts,
            gb[0].count,
            gb[0].sum,
            gb[0].min,
            gb[0].max,
            gb[0].last
        ),
        (T0, 2, 0.5, 0.0, 0.5, 0.5)
    );
    assert_eq!(gb[2].avg(), 2.25);
    let cb = &r[1].buckets;
    // increases: first sample 0, then 10, 15, reset → 5, 10, 0.
    assert_eq!(
        cb.iter().map(|b| b.increase).collect::<Vec<_>>(),
        vec![10.0, 20.0, 10.0]
    );
    assert_eq!(
        s.latest(&[gid, cid, 999]),
        vec![Some((T0 + 75_000, 2.5)), Some((T0 + 75_000, 15.0)), None]
    );
    let stats = s.stats().await;
    assert_eq!(stats.series, 2);
    assert!(stats.bytes_on_disk > 0);
}

#[tokio::test]
async fn duplicate_timestamp_last_write_wins_in_memory_and_after_replay() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(cfg(&dir)).await.unwrap();
    let id = s
        .resolve(&[(key("m", &[]), MetricKind::Gauge)])
        .await
        .unwrap()[0];
    s.append(&[(id, T0, 1.0), (id, T0 + 1000, 2.0)], &[])
        .await
        .unwrap();
    s.append(&[(id, T0, 7.0)], &[]).await.unwrap();
    let q = |s: Store| async move {
        s.query_range_step(&[id], T0, T0 + 1999, 1000, Some(Tier::Raw))
            .await
            .unwrap()
    };
    let r = q(s.clone()).await;
    assert_eq!(
        r[0].buckets
            .iter()
            .map(|b| (b.count, b.last))
            .collect::<Vec<_>>(),
        vec![(1, 7.0), (1, 2.0)]
    );
    drop(s);
    let s = Store::open(cfg(&dir)).await.unwrap();
    let r = q(s).await;
    assert_eq!(
        r[0].buckets
            .iter()
            .map(|b| (b.count, b.last))
            .collect::<Vec<_>>(),
        vec![(1, 7.0), (1, 2.0)]
    );
}

#[tokio::test]
async fn unknown_ids_and_far_future_samples_are_rejected_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(cfg(&dir)).await.unwrap();
    let id = s
        .resolve(&[(key("m", &[]), MetricKind::Gauge)])
        .await
        .unwrap()[0];
    let future = kafkascope::model::now_ms() + 86_400_000;
    let r = s
        .append(
            &[
                (id, T0, 1.0),
                (id + 100, T0, 1.0),
                (id, future, 1.0),
                (0, T0, 1.0),
            ],
            &[],
        )
        .await
        .unwrap();
    assert_eq!((r.accepted, r.rejected), (1, 3));
    let st = s.stats().await;
    assert_eq!(
        (st.samples_ingested_total, st.samples_rejected_total),
        (1, 3)
    );
}

#[tokio::test]
async fn value_at_finds_newest_sample_within_lookback() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(cfg(&dir)).await.unwrap();
    let id = s
        .resolve(&[(key("m", &[]), MetricKind::Gauge)])
        .await
        .unwrap()[0];
    s.append(&[(id, T0, 1.0), (id, T0 + 60_000, 2.0)], &[])
        .await
        .unwrap();
    assert_eq!(
        s.value_at(&[id], T0 + 30_000, 300_000).await.unwrap(),
        vec![Some((T0, 1.0))]
    );
    assert_eq!(
        s.value_at(&[id], T0 + 90_000, 300_000).await.unwrap(),
        vec![Some((T0 + 60_000, 2.0))]
    );
    assert_eq!(
        s.value_at(&[id], T0 + 30_000, 10_000).await.unwrap(),
        vec![None]
    );
    assert_eq!(
        s.value_at(&[id], T0 - 1, 300_000).await.unwrap(),
        vec![None]
    );
}

#[tokio::test]
async fn query_range_respects_max_points_and_picks_a_rollup_tier_for_long_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(cfg(&dir)).await.unwrap();
    let id = s
        .resolve(&[(key("m", &[]), MetricKind::Gauge)])
        .await
        .unwrap()[0];
    let samples: Vec<_> = (0..2000).map(|i| (id, T0 + i * 15_000, i as f64)).collect();
    s.append(&samples, &[]).await.unwrap();
    let end = T0 + 2000 * 15_000;
    for max_points in [10usize, 100, 300, 1000] {
        let r = s.query_range(&[id], T0, end, max_points).await.unwrap();
        assert!(
            r[0].buckets.len() <= max_points,
            "{} > {max_points}",
            r[0].buckets.len()
        );
        let total: u32 = r[0].buckets.iter().map(|b| b.count).sum();
        assert_eq!(total, 2000);
        assert_eq!(
            r[0].buckets.iter().map(|b| b.sum).sum::<f64>(),
            (0..2000).sum::<i64>() as f64
        );
    }
    let r = s.query_range(&[id], T0, end, 300).await.unwrap();
    assert_eq!(
        r[0].tier,
        Tier::M1,
        "8.3 h at 300 points is a 2-minute step"
    );
    assert_eq!(r[0].step_ms % 60_000, 0);
    let r = s
        .query_range(&[id], T0, T0 + 3_600_000, 1000)
        .await
        .unwrap();
    assert_eq!(r[0].tier, Tier::Raw);
}

#[tokio::test]
async fn events_filter_and_come_newest_first() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(cfg(&dir)).await.unwrap();
    let ev = |ts: i64, kind: &str, cluster: &str, subject: &str| Event {
        ts,
        kind: kind.into(),
        severity: Severity::Warning,
        cluster: cluster.into(),
        subject: subject.into(),
        message: format!("{kind} on {subject}"),
    };
    s.append(
        &[],
        &[
            ev(T0, "zk_mode_change", "prod", "zk1"),
            ev(T0 + 10, "target_down", "prod", "zk2"),
            ev(T0 + 20, "zk_mode_change", "lab", "zk1"),
            ev(T0 + 30, "annotation", "prod", "zk1"),
        ],
    )
    .await
    .unwrap();
    let all = s
        .events(&EventQuery {
            start: T0,
            end: T0 + 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        all.iter().map(|e| e.event.ts).collect::<Vec<_>>(),
        vec![T0 + 30, T0 + 20, T0 + 10, T0]
    );
    assert_eq!(all[0].event.severity, Severity::Warning);
    let q = EventQuery {
        start: T0,
        end: T0 + 100,
        cluster: Some("prod".into()),
        subject: Some("zk1".into()),
        kinds: vec!["zk_mode_change".into(), "annotation".into()],
        limit: 1,
    };
    let got = s.events(&q).await.unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event.kind, "annotation");
    let none = s
        .events(&EventQuery {
            start: T0 + 31,
            end: T0 + 100,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn documents_keep_the_newest_snapshot_per_name() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(cfg(&dir)).await.unwrap();
    s.put_document("prod", "zk1", "conf", T0 + 10, "tickTime=2000")
        .await
        .unwrap();
    s.put_document("prod", "zk1", "conf", T0, "older")
        .await
        .unwrap();
    s.put_document("prod", "zk1", "envi", T0, "java.version=17")
        .await
        .unwrap();
    s.put_document("prod", "zk2", "conf", T0, "other")
        .await
        .unwrap();
    let docs = s.documents("prod", "zk1").await.unwrap();
    assert_eq!(
        docs,
        vec![
            ("conf".to_string(), T0 + 10, "tickTime=2000".to_string()),
            ("envi".to_string(), T0, "java.version=17".to_string())
        ]
    );
}

#[tokio::test]
async fn a_batch_of_documents_lands_whole_across_statement_chunks_and_keeps_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(cfg(&dir)).await.unwrap();
    s.put_document("prod", "g7", "kafka_group", T0 + 10, "newer")
        .await
        .unwrap();
    // 1,203 documents: three multi-row statements; one name twice (the last one counts).
    let names: Vec<String> = (0..1_200).map(|i| format!("g{i}")).collect();
    let bodies: Vec<String> = (0..1_200).map(|i| format!("body {i}")).collect();
    let mut batch: Vec<(&str, &str, &str)> = names
        .iter()
        .zip(&bodies)
        .map(|(n, b)| (n.as_str(), "kafka_group", b.as_str()))
        .collect();
    batch.push(("g1", "kafka_group", "second g1"));
    batch.push(("__topics__", "kafka_topics", "[]"));
    batch.push(("__client__", "kafka_client", "{}"));
    s.put_documents("prod", T0, &batch).await.unwrap();
    for i in [0usize, 499, 500, 1_199] {
        let docs = s.documents("prod", &format!("g{i}")).await.unwrap();
        assert_eq!(
            docs,
            vec![("kafka_group".to_string(), T0, format!("body {i}"))]
        );
    }
    let g1 = s.documents("prod", "g1").await.unwrap();
    assert_eq!(g1[0].2, "second g1");
    // An older snapshot in a batch does not replace a newer one.
    let g7 = s.documents("prod", "g7").await.unwrap();
    assert_eq!(
        g7,
        vec![("kafka_group".to_string(), T0 + 10, "newer".to_string())]
    );
    assert_eq!(s.documents("prod", "__client__").await.unwrap().len(), 1);
    s.put_documents("prod", T0 + 20, &[]).await.unwrap();
}

#[tokio::test]
async fn closed_store_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(cfg(&dir)).await.unwrap();
    s.close().await.unwrap();
    assert!(s.append(&[], &[]).await.is_err());
}

#[tokio::test]
async fn value_at_and_latest_read_compacted_chunks_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(&dir);
    c.block_ms = 3_600_000;
    let s = Store::open(c.clone()).await.unwrap();
    let id = s
        .resolve(&[(key("m", &[]), MetricKind::Counter)])
        .await
        .unwrap()[0];
    // Three hours at 1-minute steps; compaction moves the first two into chunks.
    let samples: Vec<_> = (0..180).map(|i| (id, T0 + i * 60_000, i as f64)).collect();
    s.append(&samples, &[]).await.unwrap();
    s.compact_now().await.unwrap();
    let st = s.stats().await;
    assert_eq!(st.compacted_until, Some(T0 + 2 * 3_600_000));
    assert_eq!(st.head_samples, 60);
    assert_eq!(
        s.value_at(&[id], T0 + 30 * 60_000 + 5, 60_000)
            .await
            .unwrap(),
        vec![Some((T0 + 30 * 60_000, 30.0))]
    );
    // An old sample is rejected once its block is compacted.
    let r = s.append(&[(id, T0 + 10, 1.0)], &[]).await.unwrap();
    assert_eq!((r.accepted, r.rejected), (0, 1));
    drop(s);
    let s = Store::open(c).await.unwrap();
    assert_eq!(s.latest(&[id]), vec![Some((T0 + 179 * 60_000, 179.0))]);
    assert_eq!(
        s.value_at(&[id], T0 + 90 * 60_000, 1).await.unwrap(),
        vec![Some((T0 + 90 * 60_000, 90.0))]
    );
    // Counter increase over the whole range is the last value minus the first.
    let r = s
        .query_range_step(
            &[id],
            T0,
            T0 + 3 * 3_600_000 - 1,
            3 * 3_600_000,
            Some(Tier::Raw),
        )
        .await
        .unwrap();
    assert_eq!(r[0].buckets.len(), 1);
    assert_eq!(r[0].buckets[0].increase, 179.0);
    assert_eq!(r[0].buckets[0].count, 180);
}

#[tokio::test]
async fn a_corrupt_chunk_is_a_clear_error_not_a_wrong_answer() {
    use sqlx::Connection;
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(&dir);
    c.block_ms = 3_600_000;
    let s = Store::open(c.clone()).await.unwrap();
    let id = s
        .resolve(&[(key("m", &[]), MetricKind::Gauge)])
        .await
        .unwrap()[0];
    let samples: Vec<_> = (0..180)
        .map(|i| (id, T0 + i * 60_000, (i % 7) as f64))
        .collect();
    s.append(&samples, &[]).await.unwrap();
    s.compact_now().await.unwrap();
    s.close().await.unwrap();
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", c.path.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE chunk SET data = substr(data, 1, 10) || CASE WHEN substr(data, 11, 1) = x'A5' THEN x'5A' ELSE x'A5' END || substr(data, 12) WHERE tier = 0 AND start_ts = ?")
        .bind(T0)
        .execute(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let s = Store::open(c).await.unwrap();
    let err = s
        .query_range_step(&[id], T0, T0 + 3_599_999, 60_000, Some(Tier::Raw))
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(text.contains("corrupt raw chunk of series"), "{text}");
    assert!(text.contains("checksum"), "{text}");
    // The other block still reads.
    let ok = s
        .query_range_step(
            &[id],
            T0 + 3_600_000,
            T0 + 7_199_999,
            60_000,
            Some(Tier::Raw),
        )
        .await
        .unwrap();
    assert_eq!(ok[0].buckets.len(), 60);
    assert_eq!(s.stats().await.corrupt_chunks_total, 1);
}

#[tokio::test]
async fn rewrites_in_alternating_head_log_lanes_replay_in_commit_order_and_lane_wals_stay_bounded()
{
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(&dir);
    c.wal_restart_bytes = 64 * 1024;
    let s = Store::open(c.clone()).await.unwrap();
    let mut keys: Vec<_> = (0..1000)
        .map(|i| {
            (
                key("lane_metric", &[("i", &i.to_string())]),
                MetricKind::Gauge,
            )
        })
        .collect();
    keys.push((key("lane_rewrites", &[]), MetricKind::Gauge));
    let all = s.resolve(&keys).await.unwrap();
    let (ids, rewrites) = (all[..1000].to_vec(), all[1000]);
    // 60 rounds of 1,000 samples (~10 KB of log each), all inside one head block. Each round
    // also rewrites sample j = round / 3 of the `rewrites` series, so every such sample is written
    // in three consecutive rounds. Maintenance after each round switches lanes whenever one has
    // taken 64 KiB (every round or two), so the three writes of a sample land in both lanes, in
    // either order: only replay in commit order keeps the last one.
    for round in 0..60i64 {
        let ts = T0 + 1000 + round * 1000;
        let mut batch: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, ts, (round * 10_000 + i as i64) as f64))
            .collect();
        batch.push((rewrites, T0 + (round / 3) * 1000, round as f64));
        assert_eq!(s.append(&batch, &[]).await.unwrap().rejected, 0);
        s.compact_now().await.unwrap();
    }
    let switches = s.stats().await.head_log_lane_switches_total;
    assert!(switches >= 20, "only {switches} lane switches");
    for lane in 0..2 {
        let wal = dir.path().join(format!("store.db-log{lane}-wal"));
        let len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        // The restart size plus one round, and the file kept up to twice the restart size.
        assert!(len <= 256 * 1024, "{} is {len} bytes", wal.display());
    }
    let check = |s: Store| {
        let ids = ids.clone();
        async move {
            let r = s
                .query_range_step(&[rewrites], T0, T0 + 20_000, 1000, Some(Tier::Raw))
                .await
                .unwrap();
            let got: Vec<(i64, f64)> = r[0].buckets.iter().map(|b| (b.ts, b.last)).collect();
            let want: Vec<(i64, f64)> = (0..20)
                .map(|j| (T0 + j * 1000, (3 * j + 2) as f64))
                .collect();
            assert_eq!(got, want, "the last write of each sample wins");
            let r = s
                .query_range_step(&ids, T0, T0 + 61_000, 1000, Some(Tier::Raw))
                .await
                .unwrap();
            for (i, series) in r.iter().enumerate() {
                let rounds: Vec<f64> = series.buckets.iter().map(|b| b.last).collect();
                let want: Vec<f64> = (0..60)
                    .map(|round| (round * 10_000 + i as i64) as f64)
                    .collect();
                assert_eq!(rounds, want, "series {i}");
            }
        }
    };
    check(s.clone()).await;
    // Reopen without closing (as after a kill): replay merges both lanes by commit order.
    drop(s);
    let s = Store::open(c.clone()).await.unwrap();
    check(s.clone()).await;
    s.close().await.unwrap();
    let s = Store::open(c).await.unwrap();
    check(s).await;
}

/// Retention drops whole chunks and SQLite reuses their pages: once the store holds as much as
/// retention keeps, the database file stops growing although three times as much data is written.
#[tokio::test]
async fn retention_keeps_the_database_file_from_growing_forever() {
    const DAY: i64 = 86_400_000;
    let dir = tempfile::tempdir().unwrap();
    let mut c = cfg(&dir);
    let three_days = Some(std::time::Duration::from_secs(3 * 86_400));
    c.retention.raw = Some(std::time::Duration::from_secs(2 * 86_400));
    c.retention.m1 = three_days;
    c.retention.m5 = three_days;
    c.retention.h1 = three_days;
    c.retention.d1 = three_days;
    let path = c.path.clone();
    let keys: Vec<_> = (0..100)
        .map(|i| {
            (
                key("bytes_in_total", &[("broker", &i.to_string())]),
                MetricKind::Counter,
            )
        })
        .collect();
    let mut store = Store::open(c.clone()).await.unwrap();
    let ids = store.resolve(&keys).await.unwrap();
    let file_len = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    let mut sizes = Vec::new();
    let mut deleted = 0;
    let mut ts = T0;
    for day in 1..=18 {
        let mut batch = Vec::with_capacity(ids.len() * 60);
        while ts < T0 + day * DAY {
            for (i, id) in ids.iter().enumerate() {
                // A counter with a broker-specific rate and some noise in its increments.
                let v = ((ts - T0) / 60_000) as f64 * (i as f64 + 1.0) * 1000.0
                    + ((ts / 60_000 * 7919 + i as i64 * 104_729) % 997) as f64;
                batch.push((*id, ts, v));
            }
            if batch.len() >= 6_000 {
                store.append(&batch, &[]).await.unwrap();
                batch.clear();
            }
            ts += 60_000;
        }
        store.append(&batch, &[]).await.unwrap();
        store.compact_now().await.unwrap();
        store.run_retention_now(ts).await.unwrap();
        if day == 6 || day == 18 {
            deleted += store.stats().await.chunks_deleted_total;
            // Closing checkpoints the WAL into the main file: its length is then the footprint.
            store.close().await.unwrap();
            sizes.push(file_len(&path));
            store = Store::open(c.clone()).await.unwrap();
        }
    }
    store.close().await.unwrap();
    assert!(deleted > 0, "retention deleted no chunk");
    let (at_6, at_18) = (sizes[0], sizes[1]);
    assert!(at_6 > 0);
    assert!(
        at_18 as f64 <= at_6 as f64 * 1.25,
        "the file grew from {at_6} bytes after 6 days to {at_18} after 18 with 3 days retained"
    );
    // And what is kept is still readable: the newest day answers, the first day is gone.
    let store = Store::open(c).await.unwrap();
    assert!(store.latest(&ids[..1])[0].is_some());
    let old = store
        .query_range(&ids[..1], T0, T0 + DAY, 100)
        .await
        .unwrap();
    assert!(
        old.iter().all(|s| s.buckets.is_empty()),
        "day 1 should be past every tier's retention"
    );
    store.close().await.unwrap();
}
