//! Crash safety: a child process (this test binary, re-executed) appends numbered batches and
//! prints each acknowledged batch number, with compaction, merges, head-log lane switches and
//! WAL-resetting checkpoints running every few milliseconds. In every round the parent lets it
//! acknowledge some batches, kills it with SIGKILL while it is writing (it never idles), checks
//! that the signal is what ended it, and then checks a copy of the crashed files: they open,
//! pass SQLite's full integrity check, and hold every acknowledged batch exactly once with its
//! value. The next round's child recovers the crashed original, so recovery itself is killed and
//! recovered. Positive controls prove that the checks fire: a lost acknowledged sample and a
//! child that exits on its own are both reported.

use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use kafkascope::model::{Labels, MetricKind, SeriesKey};
use kafkascope::store::{IntegrityCheck, Store, StoreConfig, Tier};

const T0: i64 = 1_704_067_200_000;
const SERIES: usize = 40;
const STEP: i64 = 1_000;
/// The test whose process becomes the child when re-executed with `KS_CRASH_DB` set.
const CHILD_TEST: &str = "kill_9_during_ingest_and_compaction_loses_and_duplicates_nothing";
/// Batches a child must acknowledge before it is killed: proves it opened (and recovered) the
/// database and was writing.
const MIN_ACKS: usize = 10;
const SIGKILL: i32 = 9;

fn cfg(path: &Path) -> StoreConfig {
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

/// In the re-executed child (`KS_CRASH_DB` set): appends batches forever, acknowledging each on
/// stdout after `append` returned; never returns. `KS_CRASH_EXIT_AFTER` (positive control only)
/// makes it exit by itself after that many batches.
fn child_if_requested() {
    let (Ok(path), Ok(from)) = (std::env::var("KS_CRASH_DB"), std::env::var("KS_CRASH_FROM"))
    else {
        return;
    };
    let exit_after: Option<i64> = std::env::var("KS_CRASH_EXIT_AFTER")
        .ok()
        .map(|v| v.parse().expect("KS_CRASH_EXIT_AFTER is a number"));
    let from: i64 = from.parse().expect("KS_CRASH_FROM is a number");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let store = Store::open(cfg(Path::new(&path)))
            .await
            .expect("child: open");
        let ids = store.resolve(&keys()).await.expect("child: resolve");
        let mut batch = from;
        loop {
            let samples: Vec<_> = ids
                .iter()
                .enumerate()
                .map(|(i, &id)| (id, T0 + batch * STEP, value(batch, i)))
                .collect();
            let r = store.append(&samples, &[]).await.expect("child: append");
            assert_eq!(r.rejected, 0, "child: batch {batch} rejected");
            println!("ack {batch}");
            batch += 1;
            if exit_after.is_some_and(|n| batch - from >= n) {
                std::process::exit(0);
            }
            if batch % 97 == 0 {
                // Occasionally force compaction from the writer too, so kills also land inside it.
                store.compact_now().await.expect("child: compact");
            }
        }
    });
}

/// Runs one child from batch `from`, waits for `MIN_ACKS` acknowledgements plus `extra`, and
/// kills it with SIGKILL. Returns the acknowledged batches, or why the round is invalid.
fn run_round(
    db: &Path,
    from: i64,
    extra: Duration,
    exit_after: Option<i64>,
) -> Result<Vec<i64>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let stderr_path = db.with_extension(format!("child-{from}.stderr"));
    let stderr = std::fs::File::create(&stderr_path).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(&exe);
    cmd.args(["--exact", CHILD_TEST, "--nocapture", "--test-threads=1"])
        .env("KS_CRASH_DB", db)
        .env("KS_CRASH_FROM", from.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr));
    if let Some(n) = exit_after {
        cmd.env("KS_CRASH_EXIT_AFTER", n.to_string());
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("spawning the child: {e}"))?;
    let stdout = child.stdout.take().ok_or("child stdout")?;
    let (tx, rx) = std::sync::mpsc::channel::<i64>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            // The harness may print "test <name> ... " before the first line on the same line.
            if let Some((_, n)) = line.rsplit_once("ack ")
                && let Ok(n) = n.trim().parse()
            {
                let _ = tx.send(n);
            }
        }
    });
    let mut acked = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while acked.len() < MIN_ACKS && Instant::now() < deadline {
        if let Ok(n) = rx.recv_timeout(Duration::from_millis(50)) {
            acked.push(n);
        }
    }
    if acked.len() >= MIN_ACKS {
        std::thread::sleep(extra);
    }
    // SIGKILL. An already exited child is a zombie until waited for: kill still succeeds, and the
    // exit status below tells the two apart.
    child
        .kill()
        .map_err(|e| format!("killing the child: {e}"))?;
    let status = child
        .wait()
        .map_err(|e| format!("waiting for the child: {e}"))?;
    let _ = reader.join();
    acked.extend(rx.try_iter());
    let child_stderr = || {
        let s = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        s.lines()
            .rev()
            .take(20)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n")
    };
    if status.signal() != Some(SIGKILL) {
        return Err(format!(
            "the child was not killed by SIGKILL but ended with {status} after {} acknowledged \
             batches; its stderr ends with:\n{}",
            acked.len(),
            child_stderr()
        ));
    }
    if acked.len() < MIN_ACKS {
        return Err(format!(
            "the child acknowledged only {} batches in 120 s; its stderr ends with:\n{}",
            acked.len(),
            child_stderr()
        ));
    }
    if let Some(i) = (0..acked.len()).find(|&i| acked[i] != from + i as i64) {
        return Err(format!(
            "acknowledgements are not consecutive from {from}: #{i} is {}",
            acked[i]
        ));
    }
    Ok(acked)
}

/// Copies the store's files (database and head-log lanes with their WALs) as a crashed process
/// left them.
fn copy_store(db: &Path, to_dir: &Path) -> PathBuf {
    let copy = to_dir.join("copy.db");
    for base in ["", "-log0", "-log1"] {
        for suffix in ["", "-wal"] {
            let mut from = db.as_os_str().to_owned();
            from.push(base);
            from.push(suffix);
            let mut to = copy.as_os_str().to_owned();
            to.push(base);
            to.push(suffix);
            if Path::new(&from).exists() {
                std::fs::copy(&from, &to).expect("copying a store file");
            }
        }
    }
    copy
}

/// Opens `db` with a full integrity check and checks every acknowledged batch: present once,
/// with its value; nothing present that was never written; rollups agree with the raw data.
/// `attempted` are the batch ranges children were started on (acknowledged or not).
async fn check(db: &Path, acked: &[i64], attempted: &[(i64, i64)]) -> Result<Option<i64>, String> {
    let mut c = cfg(db);
    c.background = false;
    c.integrity_check = IntegrityCheck::Full;
    let store = Store::open(c)
        .await
        .map_err(|e| format!("reopen failed: {e}"))?;
    let result = async {
        let ids = store.resolve(&keys()).await.map_err(|e| e.to_string())?;
        let end = attempted.last().map(|r| r.1).unwrap_or(0) + 1000;
        let raw = store
            .raw_samples(&ids, T0, T0 + end * STEP, usize::MAX)
            .await
            .map_err(|e| format!("raw read failed: {e}"))?;
        for (i, samples) in raw.iter().enumerate() {
            let mut seen = std::collections::BTreeSet::new();
            for &(ts, v) in samples {
                let batch = (ts - T0) / STEP;
                if !seen.insert(batch) {
                    return Err(format!("batch {batch} of series {i} is duplicated"));
                }
                if !attempted.iter().any(|&(a, b)| (a..=b).contains(&batch)) {
                    return Err(format!("batch {batch} of series {i} was never written"));
                }
                if v.to_bits() != value(batch, i).to_bits() {
                    return Err(format!("wrong value {v} for batch {batch} of series {i}"));
                }
            }
            if let Some(a) = acked.iter().find(|a| !seen.contains(a)) {
                return Err(format!("acknowledged batch {a} of series {i} was lost"));
            }
        }
        // Rollups agree with the raw data after all those crashes.
        let m1 = store
            .query_range_step(&ids[..1], T0, T0 + end * STEP, 60_000, Some(Tier::M1))
            .await
            .map_err(|e| e.to_string())?;
        let m1_total: u32 = m1[0].buckets.iter().map(|b| b.count).sum();
        if m1_total as usize != raw[0].len() {
            return Err(format!(
                "1m tier counts {m1_total} samples, raw has {}",
                raw[0].len()
            ));
        }
        Ok(store.stats().await.compacted_until)
    }
    .await;
    store
        .close()
        .await
        .map_err(|e| format!("close failed: {e}"))?;
    result
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

#[test]
fn kill_9_during_ingest_and_compaction_loses_and_duplicates_nothing() {
    child_if_requested();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("crash.db");
    let mut acked: Vec<i64> = Vec::new();
    let mut attempted: Vec<(i64, i64)> = Vec::new();
    let mut next = 0i64;
    let mut rng = fastrand::Rng::with_seed(7);
    let mut compacted = None;
    for round in 0..6 {
        let extra = Duration::from_millis(rng.u64(0..1200));
        let got =
            run_round(&db, next, extra, None).unwrap_or_else(|e| panic!("round {round}: {e}"));
        let last = *got.last().expect("run_round checked the count");
        // The batch after the last acknowledged one may have committed without its ack.
        attempted.push((next, last + 1));
        acked.extend(&got);
        // Leave a gap: the next child's batches never overlap an unacknowledged one.
        next = last + 1 + 500;
        let check_dir = tempfile::tempdir().unwrap();
        let copy = copy_store(&db, check_dir.path());
        compacted = block_on(check(&copy, &acked, &attempted))
            .unwrap_or_else(|e| panic!("round {round}: {e}"));
        eprintln!(
            "round {round}: killed after {} acknowledged batches ({} in all), compacted until {compacted:?}",
            got.len(),
            acked.len()
        );
    }
    assert!(
        compacted.is_some(),
        "compaction never ran; the test would prove little"
    );
    // The crashed original itself recovers too.
    block_on(check(&db, &acked, &attempted)).unwrap_or_else(|e| panic!("final reopen: {e}"));
}

/// Positive control of the data check: one acknowledged batch deleted from the head log after a
/// kill is reported as lost.
#[test]
fn a_lost_acknowledged_sample_is_reported() {
    child_if_requested();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("control.db");
    let acked = run_round(&db, 0, Duration::ZERO, None).unwrap_or_else(|e| panic!("{e}"));
    let last = *acked.last().unwrap();
    let attempted = [(0, last + 1)];
    let check_dir = tempfile::tempdir().unwrap();
    let copy = copy_store(&db, check_dir.path());
    block_on(check(&copy, &acked, &attempted)).expect("the untouched copy passes");
    // Lose the last acknowledged batch: its head-log row (one per append) in whichever lane
    // holds it. Its block is the newest, never compacted, so the head log is its only copy.
    let lost_dir = tempfile::tempdir().unwrap();
    let copy = copy_store(&db, lost_dir.path());
    let deleted = block_on(async {
        use sqlx::Connection;
        let mut n = 0;
        for lane in ["-log0", "-log1"] {
            let mut path = copy.as_os_str().to_owned();
            path.push(lane);
            let mut c = sqlx::SqliteConnection::connect(&format!(
                "sqlite://{}",
                Path::new(&path).display()
            ))
            .await
            .unwrap();
            n += sqlx::query("DELETE FROM head_log WHERE max_ts = ?")
                .bind(T0 + last * STEP)
                .execute(&mut c)
                .await
                .unwrap()
                .rows_affected();
            c.close().await.unwrap();
        }
        n
    });
    assert_eq!(deleted, 1, "the batch's head-log row");
    let err = block_on(check(&copy, &acked, &attempted)).expect_err("a lost batch is detected");
    assert!(
        err.contains(&format!("acknowledged batch {last} of series 0 was lost")),
        "{err}"
    );
}

/// Positive control of the exit-status check: a child that exits by itself instead of being
/// killed fails its round.
#[test]
fn a_child_that_exits_instead_of_being_killed_fails_the_round() {
    child_if_requested();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("exit.db");
    let err = run_round(&db, 0, Duration::from_secs(2), Some(MIN_ACKS as i64))
        .expect_err("an exit is not a kill");
    assert!(err.contains("was not killed by SIGKILL"), "{err}");
}
