//! The engine's shared state ([`Inner`]) and its write path: open and recovery, series
//! registration, appends, close. Fields are private; other modules use small typed methods, so
//! the invariants are kept by the types:
//! - the head, the watermark and the other compaction marks are one struct behind one lock
//!   ([`Head`]);
//! - the head-log lanes' connections are reachable only through guards that fix the lock order
//!   ([`Lanes`]);
//! - the main writer connection is reachable only through [`Inner::writer`], whose guard records
//!   how long it was held (by [`Hold`] kind) when dropped;
//! - the registry grows only while the writer is held ([`Inner::register`] takes its guard);
//! - counters change only through [`Counters`]' methods.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Row, SqliteConnection};
use tokio::sync::{MappedMutexGuard, Mutex, MutexGuard};

use crate::model::{Labels, MetricKind, SeriesKey, Timestamp};

use super::chunks;
use super::codec::{self, CodecError};
use super::compact;
use super::counters::{Counters, Hold, HoldTimer};
use super::head::{Head, Restored, rd, wr};
use super::lanes::{self, Lanes};
use super::registry::Registry;
use super::{
    AppendReport, DAY, IntegrityCheck, SeriesId, SeriesInfo, StoreConfig, StoreError, StoreStats,
    sql,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

pub(crate) struct Inner {
    cfg: StoreConfig,
    writer: Mutex<Option<SqliteConnection>>,
    readers: SqlitePool,
    registry: RwLock<Registry>,
    head: Head,
    counters: Counters,
    /// Serialises maintenance runs (background task, compact_now, run_retention_now, close).
    maintenance: Mutex<()>,
    /// Second read-write connection used only for PASSIVE WAL checkpoints.
    checkpointer: Mutex<Option<SqliteConnection>>,
    /// Database page size (WAL frames are one page each).
    page_size: u64,
    /// The head log (see `lanes`), and the id of its next row.
    lanes: Lanes,
    next_log_id: AtomicI64,
    /// A descriptor of the database file kept open for fdatasync before WAL-resetting
    /// checkpoints. Closed only after every connection is (see `Drop`).
    db_file: std::sync::Mutex<Option<Arc<std::fs::File>>>,
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Not closed through `close`: SQLite connections may still be open on their worker
        // threads, and closing any descriptor of the file would release their POSIX locks.
        if let Some(f) = self
            .db_file
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            std::mem::forget(f);
        }
    }
}

/// The main writer connection, held. Dereferences to the connection; records the hold (from
/// acquisition to drop) under its [`Hold`] kind.
pub(crate) struct WriterGuard<'a> {
    conn: MappedMutexGuard<'a, SqliteConnection>,
    timer: HoldTimer<'a>,
}

impl WriterGuard<'_> {
    /// When the writer was acquired (a transaction borrowing the connection can still bound its
    /// own length with it).
    pub fn since(&self) -> Instant {
        self.timer.started()
    }
}

impl std::ops::Deref for WriterGuard<'_> {
    type Target = SqliteConnection;

    fn deref(&self) -> &SqliteConnection {
        &self.conn
    }
}

impl std::ops::DerefMut for WriterGuard<'_> {
    fn deref_mut(&mut self) -> &mut SqliteConnection {
        &mut self.conn
    }
}

impl Inner {
    pub fn cfg(&self) -> &StoreConfig {
        &self.cfg
    }

    /// The read-only connection pool.
    pub fn readers(&self) -> &SqlitePool {
        &self.readers
    }

    pub fn registry(&self) -> RwLockReadGuard<'_, Registry> {
        rd(&self.registry)
    }

    pub fn head(&self) -> &Head {
        &self.head
    }

    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    pub fn lanes(&self) -> &Lanes {
        &self.lanes
    }

    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// The main writer, for a hold of kind `kind`; `Closed` once the store is closed.
    pub async fn writer(&self, kind: Hold) -> Result<WriterGuard<'_>, StoreError> {
        let guard = self.writer.lock().await;
        let conn = MutexGuard::try_map(guard, |c| c.as_mut()).map_err(|_| StoreError::Closed)?;
        Ok(WriterGuard {
            conn,
            timer: self.counters.time(kind),
        })
    }

    /// Adds newly registered series; their rows were committed while holding `_writer`.
    pub fn register(&self, _writer: &WriterGuard<'_>, new: Vec<SeriesInfo>) {
        let mut reg = wr(&self.registry);
        for s in new {
            reg.insert(s);
        }
    }

    /// Serialises maintenance runs.
    pub async fn maintenance(&self) -> MutexGuard<'_, ()> {
        self.maintenance.lock().await
    }

    pub async fn checkpointer(&self) -> MutexGuard<'_, Option<SqliteConnection>> {
        self.checkpointer.lock().await
    }

    /// The store's own descriptor of the database file (for fdatasync), while open.
    pub fn db_file(&self) -> Option<Arc<std::fs::File>> {
        self.db_file
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Whether `close` has begun.
    pub fn is_closing(&self) -> bool {
        *self.shutdown.borrow()
    }

    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    pub fn add_task(&self, task: tokio::task::JoinHandle<()>) {
        self.tasks
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(task);
    }

    /// Creates or opens the database, runs migrations, checks integrity and replays what was
    /// committed but not yet compacted.
    pub async fn open(cfg: StoreConfig) -> Result<Arc<Inner>, StoreError> {
        if cfg.block_ms <= 0 || DAY % cfg.block_ms != 0 {
            return Err(StoreError::InvalidQuery(format!(
                "block_ms {} must be positive and divide a day",
                cfg.block_ms
            )));
        }
        if let Some(dir) = cfg.path.parent()
            && !dir.as_os_str().is_empty()
        {
            let _ = std::fs::create_dir_all(dir);
        }
        let open_err = |source| StoreError::Open {
            path: cfg.path.clone(),
            source,
        };
        let opts = SqliteConnectOptions::new()
            .filename(&cfg.path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(false)
            // New databases only: 16 KiB pages waste less space around chunk BLOBs of ~0.5–1 KB.
            .page_size(16384)
            .pragma("cache_size", "-65536")
            .pragma("temp_store", "memory")
            // The WAL restarts near wal_restart_bytes; its file is kept (reused) up to twice that
            // and cut back only after a WAL grew further (a restart kept from happening).
            .pragma(
                "journal_size_limit",
                (cfg.wal_restart_bytes.saturating_mul(2)).to_string(),
            );
        // Checkpoints run on their own connection (see compact::checkpoint), never inside a commit.
        let mut writer =
            SqliteConnection::connect_with(&opts.clone().pragma("wal_autocheckpoint", "0"))
                .await
                .map_err(open_err)?;
        MIGRATOR
            .run(&mut writer)
            .await
            .map_err(|source| StoreError::Migrate {
                path: cfg.path.clone(),
                source,
            })?;
        let check = match cfg.integrity_check {
            IntegrityCheck::Off => None,
            IntegrityCheck::Quick => Some("PRAGMA quick_check"),
            IntegrityCheck::Full => Some("PRAGMA integrity_check"),
        };
        if let Some(check) = check {
            let rows: Vec<String> = sqlx::query_scalar(check)
                .fetch_all(&mut writer)
                .await
                .map_err(sql("checking integrity"))?;
            if rows.len() != 1 || rows[0] != "ok" {
                return Err(StoreError::Integrity {
                    path: cfg.path.clone(),
                    detail: rows.join("; "),
                });
            }
        }
        let checkpoint_sync = if cfg.checkpoint_fsync {
            SqliteSynchronous::Normal
        } else {
            SqliteSynchronous::Off
        };
        let checkpointer =
            SqliteConnection::connect_with(&opts.clone().synchronous(checkpoint_sync))
                .await
                .map_err(open_err)?;
        let page_size: i64 = sqlx::query_scalar("PRAGMA page_size")
            .fetch_one(&mut writer)
            .await
            .map_err(sql("reading the page size"))?;
        let db_file = std::fs::File::open(&cfg.path).map_err(|e| {
            StoreError::Internal(format!("opening {} for syncing: {e}", cfg.path.display()))
        })?;
        let lanes = Lanes::open(&cfg.path, &opts).await?;
        let readers = SqlitePoolOptions::new()
            .max_connections(cfg.read_connections.max(1))
            .connect_with(opts.clone().read_only(true))
            .await
            .map_err(open_err)?;

        // Registry.
        let mut registry = Registry::default();
        let rows = sqlx::query("SELECT id, metric, labels, kind FROM series ORDER BY id")
            .fetch_all(&mut writer)
            .await
            .map_err(sql("loading the series registry"))?;
        for row in rows {
            let id: i64 = row.get(0);
            let metric: String = row.get(1);
            let labels_text: String = row.get(2);
            let kind: i64 = row.get(3);
            let labels =
                Labels::parse_canonical(&labels_text).map_err(|e| StoreError::Corrupt {
                    what: format!("labels of series {id}"),
                    source: CodecError(e),
                })?;
            registry.insert(SeriesInfo {
                id: id as SeriesId,
                key: SeriesKey::new(metric, labels),
                kind: MetricKind::from_code(kind),
            });
        }

        let inner = Arc::new(Inner {
            readers,
            registry: RwLock::new(registry),
            head: Head::new(cfg.block_ms),
            counters: Counters::default(),
            writer: Mutex::new(Some(writer)),
            maintenance: Mutex::new(()),
            checkpointer: Mutex::new(Some(checkpointer)),
            page_size: page_size.max(512) as u64,
            lanes,
            next_log_id: AtomicI64::new(1),
            db_file: std::sync::Mutex::new(Some(Arc::new(db_file))),
            shutdown: tokio::sync::watch::channel(false).0,
            tasks: std::sync::Mutex::new(Vec::new()),
            cfg,
        });
        inner.recover().await?;
        inner.lanes.maintenance().await.init(&inner).await?;
        Ok(inner)
    }

    /// Loads engine state and replays the head log.
    async fn recover(&self) -> Result<(), StoreError> {
        let id_bound = self.registry().id_bound();
        let mut conn = self.writer(Hold::Open).await?;
        // Engine watermarks.
        let watermark = chunks::get_meta(&mut conn, "watermark").await?;
        let merged_to = chunks::get_meta(&mut conn, "merged_to").await?;
        let merged28_to = chunks::get_meta(&mut conn, "merged28_to").await?;
        let mut retained = [i64::MIN; 5];
        for (i, key) in compact::RETAINED_KEYS.iter().enumerate() {
            if let Some(v) = chunks::get_meta(&mut conn, key).await? {
                retained[i] = v;
            }
        }
        // Newest compacted sample per series, as of the last completed compaction.
        let mut compacted_last: Vec<Option<(Timestamp, f64)>> = vec![None; id_bound];
        if let Some(w) = watermark {
            let rows = sqlx::query(
                "SELECT part, data FROM series_state WHERE block_start = \
                 (SELECT max(block_start) FROM series_state WHERE block_start < ?)",
            )
            .bind(w)
            .fetch_all(&mut *conn)
            .await
            .map_err(sql("reading series state"))?;
            for row in rows {
                let part: i64 = row.get(0);
                let data: Vec<u8> = row.get(1);
                codec::decode_state(
                    &data,
                    part as usize * codec::STATE_PART,
                    &mut compacted_last,
                )
                .map_err(|source| StoreError::Corrupt {
                    what: format!("series state part {part}"),
                    source,
                })?;
            }
        }
        self.head.restore(Restored {
            watermark,
            merged_to,
            merged28_to,
            retained_from: retained,
            compacted_last,
        });
        // The head log: the lanes, plus the main database's own table written by versions before
        // the lanes; ids are store-wide and give the commit order.
        let mut rows: Vec<(i64, Vec<u8>)> = sqlx::query_as("SELECT id, data FROM head_log")
            .fetch_all(&mut *conn)
            .await
            .map_err(sql("reading the head log"))?;
        drop(conn);
        rows.extend(self.lanes.maintenance().await.read_all().await?);
        rows.sort_unstable_by_key(|r| r.0);
        let next_id = rows.last().map(|r| r.0 + 1).unwrap_or(1);
        self.next_log_id.store(next_id, Ordering::Relaxed);
        let watermark = self.head.marks().watermark;
        let mut replayed = 0usize;
        let append = self.lanes.append_lock().await;
        for (id, data) in rows {
            let samples = codec::decode_log(&data).map_err(|source| StoreError::Corrupt {
                what: format!("head log entry {id}"),
                source,
            })?;
            let keep: Vec<_> = samples
                .into_iter()
                .filter(|s| s.1 >= watermark && (s.0 as usize) < id_bound && s.0 > 0)
                .collect();
            replayed += keep.len();
            self.head.apply(&keep, id_bound, &append);
        }
        drop(append);
        tracing::info!(path = %self.cfg.path.display(), replayed, "Store opened.");
        Ok(())
    }

    /// Ids for keys, creating (and persisting) new series. The kind given for a new series is kept.
    pub async fn resolve<K: std::borrow::Borrow<SeriesKey>>(
        &self,
        keys: &[(K, MetricKind)],
    ) -> Result<Vec<SeriesId>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        let mut missing = false;
        {
            let reg = self.registry();
            for (k, _) in keys {
                let id = reg.get(k.borrow()).unwrap_or(0);
                missing |= id == 0;
                out.push(id);
            }
        }
        if !missing {
            return Ok(out);
        }
        let mut conn = self.writer(Hold::Registry).await?;
        // Re-check under the writer lock: another task may have registered some meanwhile.
        let mut new: Vec<SeriesInfo> = Vec::new();
        {
            let reg = self.registry();
            let mut pending: std::collections::HashMap<&SeriesKey, SeriesId> =
                std::collections::HashMap::new();
            let mut next = reg.next_id();
            for (i, (k, kind)) in keys.iter().enumerate() {
                if out[i] != 0 {
                    continue;
                }
                let k = k.borrow();
                if let Some(id) = reg.get(k).or_else(|| pending.get(k).copied()) {
                    out[i] = id;
                    continue;
                }
                pending.insert(k, next);
                new.push(SeriesInfo {
                    id: next,
                    key: k.clone(),
                    kind: *kind,
                });
                out[i] = next;
                next += 1;
            }
        }
        if new.is_empty() {
            return Ok(out);
        }
        let mut tx = conn.begin().await.map_err(sql("registering series"))?;
        for part in new.chunks(8000) {
            let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                "INSERT INTO series (id, metric, labels, kind) ",
            );
            qb.push_values(part, |mut b, s| {
                b.push_bind(i64::from(s.id))
                    .push_bind(s.key.metric.clone())
                    .push_bind(s.key.labels.canonical())
                    .push_bind(s.kind.code());
            });
            qb.build()
                .execute(&mut *tx)
                .await
                .map_err(sql("registering series"))?;
        }
        tx.commit().await.map_err(sql("registering series"))?;
        self.register(&conn, new);
        Ok(out)
    }

    /// Appends samples to the active head-log lane and the head; returns after the commit.
    /// Never waits for the main database's writer (compaction, merges, retention, checkpoints).
    pub async fn append_samples(
        &self,
        samples: &[(SeriesId, Timestamp, f64)],
    ) -> Result<AppendReport, StoreError> {
        let waited = Instant::now();
        let mut lane = self.lanes.append_lock().await;
        self.counters.append_wait(waited.elapsed());
        let id_bound = self.registry().id_bound();
        // Read under the append lock: a seal takes it too, so the floor cannot move meanwhile.
        let floor = self.head.marks().floor;
        let future = crate::model::now_ms().saturating_add(self.cfg.max_future_ms);
        let accepted: Vec<(SeriesId, Timestamp, f64)> = samples
            .iter()
            .copied()
            .filter(|&(id, ts, _)| {
                id > 0 && (id as usize) < id_bound && ts >= floor && ts <= future
            })
            .collect();
        let report = AppendReport {
            accepted: accepted.len(),
            rejected: samples.len() - accepted.len(),
        };
        if !accepted.is_empty() {
            let max_ts = accepted.iter().map(|s| s.1).max().unwrap_or(i64::MIN);
            let blob = codec::encode_log(&accepted);
            // WAL bytes this commit adds: whole pages (the BLOB's, a table and an index page).
            let page = self.page_size;
            let bytes = ((blob.len() as u64).div_ceil(page) + 2) * page;
            // Ids are taken under the lane lock, in the order the head sees the samples.
            let id = self.next_log_id.fetch_add(1, Ordering::Relaxed);
            sqlx::query("INSERT INTO head_log (id, max_ts, n, data) VALUES (?, ?, ?, ?)")
                .bind(id)
                .bind(max_ts)
                .bind(accepted.len() as i64)
                .bind(blob)
                .execute(lane.conn()?)
                .await
                .map_err(sql("writing the head log"))?;
            lane.add_bytes(bytes);
            self.head.apply(&accepted, id_bound, &lane);
        }
        drop(lane);
        self.counters.samples(report.accepted, report.rejected);
        Ok(report)
    }

    pub async fn stats(&self) -> StoreStats {
        let h = self.head.stats();
        let bytes_on_disk = lanes::store_files(&self.cfg.path)
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        let c = self.counters.snapshot();
        StoreStats {
            series: self.registry().len(),
            samples_ingested_total: c.ingested,
            samples_rejected_total: c.rejected,
            bytes_on_disk,
            head_samples: h.samples,
            head_blocks: h.blocks,
            compacted_until: (h.watermark != i64::MIN).then_some(h.watermark),
            merged_until: (h.merged_to != i64::MIN).then_some(h.merged_to),
            compactions_total: c.compactions,
            chunks_written_total: c.chunks_written,
            chunks_deleted_total: c.chunks_deleted,
            max_append_wait_ms: c.append_wait.max_ms,
            max_maintenance_tx_ms: c.maintenance_tx.max_ms,
            max_wal_checkpoint_ms: c.wal_hold.max_ms,
            corrupt_chunks_total: c.corrupt_chunks,
            append_wait: c.append_wait,
            event_append_wait: c.event_wait,
            head_log_lane_switches_total: c.lane_switches,
            maintenance_tx: c.maintenance_tx,
            maintenance_tx_by_kind: c.maintenance_by_kind,
            foreground_writer_hold_by_kind: c.foreground_by_kind,
            wal_checkpoint_hold: c.wal_hold,
            wal_locked_checkpoints_total: c.wal_locked,
            wal_locked_checkpoints_caught_up: c.wal_caught_up,
            peak_wal_bytes: c.peak_wal_bytes,
        }
    }

    /// Flushes, stops background tasks, checkpoints the WAL. Later calls fail with `Closed`.
    pub async fn close(&self) -> Result<(), StoreError> {
        self.shutdown.send_replace(true);
        let tasks: Vec<_> =
            std::mem::take(&mut *self.tasks.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
        let _maint = self.maintenance().await;
        self.lanes.maintenance().await.close().await?;
        if let Some(c) = self.checkpointer.lock().await.take() {
            let _ = c.close().await;
        }
        let Some(mut conn) = self.writer.lock().await.take() else {
            return Ok(());
        };
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await
            .map_err(sql("checkpointing the WAL"))?;
        conn.close().await.map_err(sql("closing the writer"))?;
        self.readers.close().await;
        // Every connection is closed: closing the descriptor can no longer drop their locks.
        drop(
            self.db_file
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        Ok(())
    }
}
