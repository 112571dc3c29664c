//! Head-log lanes: the crash-recovery log of the in-memory head lives in two small SQLite
//! databases of its own (`<db>-log0`, `<db>-log1`) rather than in the main database, so that
//! appends never wait for the main database's writer (compaction, merges, retention) nor for its
//! WAL checkpoints.
//!
//! One lane is **active**: appends write one row per call into it through its append connection.
//! Once the active lane has taken `wal_restart_bytes`, appends switch to the other lane: the
//! switch takes the active lane's append lock (it waits for at most one in-flight append) and
//! flips the index. The now idle lane is then made ready for its next turn on a second
//! connection while nobody writes it: rows whose samples are all below the compaction watermark
//! are deleted (after the main WAL is fsynced, so that a power loss cannot keep the deletion and
//! lose the watermark), a RESTART checkpoint copies its WAL into its database file and syncs both,
//! and one small write restarts its WAL (writing and syncing the WAL header), so that the first
//! append of its next turn pays for none of that. The WAL of each lane is thereby bounded by
//! about `wal_restart_bytes` without any checkpoint ever holding an append.
//!
//! Rows carry a store-wide increasing id assigned under the active lane's lock, and the head is
//! updated under the same lock, so replay at open (rows of both lanes, and of the main
//! database's `head_log` written by older versions, merged by id) applies samples in the order
//! memory saw them: last write wins alike.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sqlx::sqlite::{SqliteConnectOptions, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection};
use tokio::sync::{Mutex, MutexGuard};

use super::counters::Hold;
use super::engine::Inner;
use super::{StoreError, sql};

pub(crate) const LANES: usize = 2;

struct Lane {
    /// Used by appends, and by the switch to wait for the in-flight one.
    append: Mutex<Option<SqliteConnection>>,
    /// Used while the lane is idle: cleanup, checkpoint, the WAL-restarting write; and at close.
    maint: Mutex<Option<SqliteConnection>>,
    /// WAL bytes appended since the lane became active (whole pages; an estimate of its WAL).
    bytes: std::sync::atomic::AtomicU64,
    /// Cleaned, checkpointed and restarted since it was last active.
    ready: AtomicBool,
}

/// The two lanes. Their connections are reachable only through two guards, which fixes the lock
/// order by construction:
/// - [`AppendLock`] (from [`Lanes::append_lock`]): the active lane's append connection, for
///   appends and for sealing head blocks. It gives access to nothing else.
/// - [`LaneMaintenance`] (from [`Lanes::maintenance`]): the lanes' maintenance lock. Only through
///   it can a lane's maintenance connection be used or the active lane be switched (which takes
///   the active lane's append lock), so those locks are always taken after it.
pub(crate) struct Lanes {
    lanes: [Lane; LANES],
    active: AtomicUsize,
    /// Serialises lane maintenance (checkpoint task, `compact_now`, open, close).
    maintenance: Mutex<()>,
}

/// `<db>-log<i>`.
pub(crate) fn lane_path(db: &Path, i: usize) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push(format!("-log{i}"));
    PathBuf::from(p)
}

/// Every file of a store: the main database and the lanes, each with its WAL and shared memory.
pub(crate) fn store_files(db: &Path) -> Vec<PathBuf> {
    let mut bases = vec![db.to_path_buf()];
    bases.extend((0..LANES).map(|i| lane_path(db, i)));
    let mut out = Vec::new();
    for b in bases {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = b.as_os_str().to_owned();
            p.push(suffix);
            out.push(PathBuf::from(p));
        }
    }
    out
}

/// Opens (creating if needed) lane `i`: its append and maintenance connections.
async fn open_lane(db: &Path, i: usize, base: &SqliteConnectOptions) -> Result<Lane, StoreError> {
    let path = lane_path(db, i);
    let opts = base
        .clone()
        .filename(&path)
        .synchronous(SqliteSynchronous::Normal)
        .pragma("wal_autocheckpoint", "0");
    let open_err = |source| StoreError::Open {
        path: path.clone(),
        source,
    };
    let mut append = SqliteConnection::connect_with(&opts)
        .await
        .map_err(open_err)?;
    for ddl in [
        "CREATE TABLE IF NOT EXISTS head_log (id INTEGER PRIMARY KEY, max_ts INTEGER NOT NULL, \
         n INTEGER NOT NULL, data BLOB NOT NULL)",
        "CREATE INDEX IF NOT EXISTS head_log_max_ts ON head_log (max_ts)",
        "CREATE TABLE IF NOT EXISTS lane_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
    ] {
        sqlx::query(ddl)
            .execute(&mut append)
            .await
            .map_err(sql("creating a head-log lane"))?;
    }
    let maint = SqliteConnection::connect_with(&opts)
        .await
        .map_err(open_err)?;
    Ok(Lane {
        append: Mutex::new(Some(append)),
        maint: Mutex::new(Some(maint)),
        bytes: std::sync::atomic::AtomicU64::new(0),
        ready: AtomicBool::new(false),
    })
}

impl Lanes {
    /// Opens (creating if needed) both lanes of the database at `db`. Lane 0 is active.
    pub async fn open(db: &Path, base: &SqliteConnectOptions) -> Result<Lanes, StoreError> {
        let mut list = Vec::with_capacity(LANES);
        for i in 0..LANES {
            list.push(open_lane(db, i, base).await?);
        }
        let lanes: [Lane; LANES] = list
            .try_into()
            .map_err(|_| StoreError::Internal("head-log lanes".to_string()))?;
        Ok(Lanes {
            lanes,
            active: AtomicUsize::new(0),
            maintenance: Mutex::new(()),
        })
    }

    /// Locks the active lane's append connection. Between reading the index and getting the lock
    /// a switch may have happened; then the lock is given back and the new lane taken. At most
    /// one lane has an append in progress: the switch waits for it.
    pub async fn append_lock(&self) -> AppendLock<'_> {
        loop {
            let i = self.active.load(Ordering::Acquire);
            let guard = self.lanes[i].append.lock().await;
            if self.active.load(Ordering::Acquire) == i {
                return AppendLock {
                    lane: &self.lanes[i],
                    conn: guard,
                };
            }
        }
    }

    /// Takes the lanes' maintenance lock.
    pub async fn maintenance(&self) -> LaneMaintenance<'_> {
        LaneMaintenance {
            lanes: self,
            _guard: self.maintenance.lock().await,
        }
    }
}

/// The active lane's append connection, held: no other append, seal or lane switch meanwhile.
pub(crate) struct AppendLock<'a> {
    lane: &'a Lane,
    conn: MutexGuard<'a, Option<SqliteConnection>>,
}

impl AppendLock<'_> {
    pub fn conn(&mut self) -> Result<&mut SqliteConnection, StoreError> {
        self.conn.as_mut().ok_or(StoreError::Closed)
    }

    /// Counts WAL bytes an append added to this lane (the switch happens past
    /// `wal_restart_bytes`).
    pub fn add_bytes(&self, bytes: u64) {
        self.lane.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// The lanes' maintenance lock, held; the only way to the lanes' maintenance connections and to
/// switching the active lane.
pub(crate) struct LaneMaintenance<'a> {
    lanes: &'a Lanes,
    _guard: MutexGuard<'a, ()>,
}

impl LaneMaintenance<'_> {
    /// Cleans, checkpoints and restarts both lanes, then makes lane 0 the active one (at open).
    pub async fn init(&mut self, inner: &Inner) -> Result<(), StoreError> {
        for i in 0..LANES {
            if !self.prepare(inner, i).await? {
                tracing::warn!(
                    lane = i,
                    "A head-log lane could not be checkpointed at open."
                );
            }
        }
        let l = self.lanes;
        l.active.store(0, Ordering::Release);
        l.lanes[0].ready.store(false, Ordering::Release);
        l.lanes[0].bytes.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Makes the idle lane ready and switches to it once the active lane is past its size.
    pub async fn maintain(&mut self, inner: &Inner) -> Result<(), StoreError> {
        let a = self.lanes.active.load(Ordering::Acquire);
        let b = (a + 1) % LANES;
        let lanes = &self.lanes.lanes;
        if !lanes[b].ready.load(Ordering::Acquire) && !self.prepare(inner, b).await? {
            return Ok(());
        }
        if lanes[a].bytes.load(Ordering::Relaxed) < inner.cfg().wal_restart_bytes {
            return Ok(());
        }
        {
            let guard = lanes[a].append.lock().await;
            let _hold = inner.counters().time(Hold::LaneSwitch);
            lanes[b].bytes.store(0, Ordering::Relaxed);
            lanes[b].ready.store(false, Ordering::Release);
            self.lanes.active.store(b, Ordering::Release);
            drop(guard);
        }
        inner.counters().lane_switch();
        // The lane just left is idle now; get it ready right away.
        self.prepare(inner, a).await?;
        Ok(())
    }

    /// Cleans, checkpoints and restarts idle lane `i`. False if a checkpoint could not finish
    /// (it is retried on the next round).
    async fn prepare(&mut self, inner: &Inner, i: usize) -> Result<bool, StoreError> {
        let lane = &self.lanes.lanes[i];
        let mut guard = lane.maint.lock().await;
        let Some(conn) = guard.as_mut() else {
            return Err(StoreError::Closed);
        };
        let watermark = inner.head().marks().watermark;
        if watermark != i64::MIN {
            // The watermark (and the chunks under it) must be durable before the log rows that
            // also hold those samples can be deleted durably: the two are in different files.
            if inner.cfg().checkpoint_fsync {
                sync_main_wal(&inner.cfg().path).await?;
            }
            sqlx::query("DELETE FROM head_log WHERE max_ts < ?")
                .bind(watermark)
                .execute(&mut *conn)
                .await
                .map_err(sql("deleting compacted head log entries"))?;
        }
        let (busy, log, done): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(RESTART)")
            .fetch_one(&mut *conn)
            .await
            .map_err(sql("checkpointing a head-log lane"))?;
        if busy != 0 || log != done {
            tracing::debug!(
                lane = i,
                busy,
                log,
                done,
                "Head-log lane checkpoint incomplete; will retry."
            );
            return Ok(false);
        }
        // Restart the WAL now (header written and synced) rather than in the lane's first append.
        let mut tx = conn
            .begin()
            .await
            .map_err(sql("restarting a head-log lane"))?;
        sqlx::query("INSERT OR REPLACE INTO lane_meta (key, value) VALUES ('restarted', ?)")
            .bind(crate::model::now_ms())
            .execute(&mut *tx)
            .await
            .map_err(sql("restarting a head-log lane"))?;
        tx.commit()
            .await
            .map_err(sql("restarting a head-log lane"))?;
        lane.ready.store(true, Ordering::Release);
        Ok(true)
    }

    /// Head-log rows of every lane: (id, data), unordered.
    pub async fn read_all(&mut self) -> Result<Vec<(i64, Vec<u8>)>, StoreError> {
        let mut out = Vec::new();
        for lane in &self.lanes.lanes {
            let mut guard = lane.maint.lock().await;
            let conn = guard.as_mut().ok_or(StoreError::Closed)?;
            let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as("SELECT id, data FROM head_log")
                .fetch_all(&mut *conn)
                .await
                .map_err(sql("reading a head-log lane"))?;
            out.extend(rows);
        }
        Ok(out)
    }

    /// Checkpoints (TRUNCATE) and closes both connections of every lane.
    pub async fn close(&mut self) -> Result<(), StoreError> {
        for lane in &self.lanes.lanes {
            if let Some(c) = lane.append.lock().await.take() {
                c.close().await.map_err(sql("closing a head-log lane"))?;
            }
            if let Some(mut c) = lane.maint.lock().await.take() {
                sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                    .execute(&mut c)
                    .await
                    .map_err(sql("checkpointing a head-log lane"))?;
                c.close().await.map_err(sql("closing a head-log lane"))?;
            }
        }
        Ok(())
    }
}

/// fdatasync of the main database's WAL (SQLite does not lock that file, so a short-lived
/// descriptor is safe).
async fn sync_main_wal(db: &Path) -> Result<(), StoreError> {
    let mut wal = db.as_os_str().to_owned();
    wal.push("-wal");
    tokio::task::spawn_blocking(move || match std::fs::File::open(PathBuf::from(wal)) {
        Ok(f) => f.sync_data(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    })
    .await
    .map_err(|e| StoreError::Internal(format!("flush worker failed: {e}")))?
    .map_err(|e| StoreError::Internal(format!("flushing the main WAL: {e}")))
}

#[cfg(test)]
mod tests {
    use sqlx::Connection;

    use crate::model::{Labels, MetricKind, SeriesKey};
    use crate::store::{Store, StoreConfig, Tier, codec};

    const T0: i64 = 1_700_000_000_000 - 1_700_000_000_000 % 86_400_000;

    #[tokio::test]
    async fn a_head_log_left_in_the_main_database_by_older_versions_is_replayed_then_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = StoreConfig::new(dir.path().join("old.db"));
        cfg.background = false;
        cfg.block_ms = 60_000;
        let s = Store::open(cfg.clone()).await.unwrap();
        let id = s
            .resolve(&[(SeriesKey::new("m", Labels::default()), MetricKind::Gauge)])
            .await
            .unwrap()[0];
        s.close().await.unwrap();
        // What an older version left behind: head-log rows in the main database, with the
        // second rewriting the first's sample.
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", cfg.path.display()))
            .await
            .unwrap();
        for (row, samples) in [
            (1i64, vec![(id, T0, 1.0), (id, T0 + 1000, 2.0)]),
            (2, vec![(id, T0, 3.0)]),
        ] {
            sqlx::query("INSERT INTO head_log (id, max_ts, n, data) VALUES (?, ?, ?, ?)")
                .bind(row)
                .bind(T0 + 1000)
                .bind(samples.len() as i64)
                .bind(codec::encode_log(&samples))
                .execute(&mut c)
                .await
                .unwrap();
        }
        c.close().await.unwrap();

        let s = Store::open(cfg.clone()).await.unwrap();
        let raw = |s: Store| async move {
            let r = s
                .query_range_step(&[id], T0, T0 + 59_999, 1000, Some(Tier::Raw))
                .await
                .unwrap();
            r[0].buckets
                .iter()
                .map(|b| (b.ts, b.last))
                .collect::<Vec<_>>()
        };
        assert_eq!(raw(s.clone()).await, vec![(T0, 3.0), (T0 + 1000, 2.0)]);
        // New appends go to a lane with later ids: they win over the old rows after a replay.
        s.append(&[(id, T0 + 1000, 4.0)], &[]).await.unwrap();
        drop(s);
        let s = Store::open(cfg.clone()).await.unwrap();
        assert_eq!(raw(s.clone()).await, vec![(T0, 3.0), (T0 + 1000, 4.0)]);
        // Once the block is compacted, the old rows are deleted from the main database.
        s.append(&[(id, T0 + 120_000, 5.0)], &[]).await.unwrap();
        s.compact_now().await.unwrap();
        assert_eq!(raw(s.clone()).await, vec![(T0, 3.0), (T0 + 1000, 4.0)]);
        s.close().await.unwrap();
        let mut c = sqlx::SqliteConnection::connect(&format!("sqlite://{}", cfg.path.display()))
            .await
            .unwrap();
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM head_log")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert_eq!(left, 0);
        c.close().await.unwrap();
    }
}
