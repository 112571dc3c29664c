//! Crash safety: a child process (this test binary, re-executed) appends numbered batches and
//! prints each acknowledged batch number, with compaction running every few batches; the parent
//! kills it with SIGKILL at random moments, reopens the database and checks that every
//! acknowledged batch is there exactly once. Several rounds reuse the same database, so recovery
//! after a kill is itself killed and recovered.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kafkascope::model::{Labels, MetricKind, SeriesKey};
use kafkascope::store::{Store, StoreConfig, Tier};

const T0: i64 = 1_704_067_200_000;
const SERIES: usize = 40;
const STEP: i64 = 1_000;

fn cfg(path: &std::path::Path) -> StoreConfig {
    let mut c = StoreConfig::new(path);
    c.block_ms = 60_000;
    c.grace_ms = 5_000;
    c.maintenance_interval = Duration::from_millis(5);
    c.maintenance_tx_bytes = 4096; // many small maintenance transactions: more places to die in
    c.maintenance_tx_time = Duration::ZERO;
    // Head-log lane switches and WAL-resetting checkpoints every few milliseconds, so that kills
    // also land inside them.
    c.wal_restart_bytes = 16 * 1024;
    c.checkpoint_interval = Duration::from_millis(5);
    c
}

fn keys() -> Vec<(SeriesKey, MetricKind)> {
    (0..SERIES)
        .map(|i| {
            let kind = if i % 2 == 0 {
                MetricKind::Counter
            } else {
                MetricKind::Gauge
            };
            (
                SeriesKey::new("crash_metric", Labels::from_pairs([("i", i.to_string())])),
                kind,
            )
        })
        .collect()
}

fn value(batch: i64, series: usize) -> f64 {
    batch as f64 * 10.0 + series as f64 * 0.5
}

/// The child: runs only when the parent sets the environment variables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_child_writer() {
    let (Ok(path), Ok(from)) = (std::env::var("KS_CRASH_DB"), std::env::var("KS_CRASH_FROM"))
    else {
        return;
    };
    let from: i64 = from.parse().unwrap();
    let store = Store::open(cfg(std::path::Path::new(&path))).await.unwrap();
    let ids = store.resolve(&keys()).await.unwrap();
    let mut batch = from;
    loop {
        let samples: Vec<_> = ids
            .iter()
            .enumerate()
            .map(|(i, &id)| (id, T0 + batch * STEP, value(batch, i)))
            .collect();
        let r = store.append(&samples, &[]).await.unwrap();
        assert_eq!(r.rejected, 0);
        println!("ack {batch}");
        batch += 1;
        if batch % 97 == 0 {
            // Occasionally force compaction from the writer too, so kills also land inside it.
            store.compact_now().await.unwrap();
        }
    }
}

#[test]
fn kill_9_during_ingest_and_compaction_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let exe = std::env::current_exe().unwrap();
    let mut acked: Vec<i64> = Vec::new();
    let mut next = 0i64;
    let mut rng = fastrand::Rng::with_seed(7);
    for round in 0..6 {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "crash_child_writer",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("KS_CRASH_DB", &db)
            .env("KS_CRASH_FROM", next.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let kill_after = Duration::from_millis(400 + rng.u64(0..1200));
        let (tx, rx) = std::sync::mpsc::channel::<i64>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ack ") {
                    let _ = tx.send(n.trim().parse().unwrap());
                }
            }
        });
        let started = Instant::now();
        while started.elapsed() < kill_after {
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();
        reader.join().unwrap();
        let got: Vec<i64> = rx.try_iter().collect();
        assert!(
            !got.is_empty() || round > 0,
            "child acknowledged nothing in round {round}"
        );
        if let Some(&last) = got.last() {
            next = last + 1 + 500; // leave a gap: batches after the last ack may or may not exist
        }
        acked.extend(got);
    }

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let mut c = cfg(&db);
        c.background = false;
        let store = Store::open(c).await.unwrap();
        let ids = store.resolve(&keys()).await.unwrap();
        let stats = store.stats().await;
        assert!(
            stats.compacted_until.is_some(),
            "compaction never ran; the test would prove little"
        );
        let end = T0 + (next + 1000) * STEP;
        let r = store
            .query_range_step(&ids, T0, end, STEP, Some(Tier::Raw))
            .await
            .unwrap();
        for (i, series) in r.iter().enumerate() {
            let mut by_batch = std::collections::HashMap::new();
            for b in &series.buckets {
                assert_eq!(b.count, 1, "batch at {} of series {i} is duplicated", b.ts);
                let batch = (b.ts - T0) / STEP;
                assert_eq!(b.last, value(batch, i), "wrong value for batch {batch}");
                by_batch.insert(batch, ());
            }
            for a in &acked {
                assert!(
                    by_batch.contains_key(a),
                    "acknowledged batch {a} of series {i} was lost"
                );
            }
        }
        // Rollups agree with the raw data after all those crashes.
        let raw_total: u32 = r[0].buckets.iter().map(|b| b.count).sum();
        let m1 = store
            .query_range_step(&ids[..1], T0, end, 60_000, Some(Tier::M1))
            .await
            .unwrap();
        assert_eq!(
            m1[0].buckets.iter().map(|b| b.count).sum::<u32>(),
            raw_total
        );
        eprintln!(
            "{} acknowledged batches, {} compactions up to {:?}",
            acked.len(),
            stats.compactions_total,
            stats.compacted_until
        );
    });
}
