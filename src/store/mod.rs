//! The kafkascope storage engine: time series in one SQLite database (through sqlx), as
//! compressed per-series chunks plus an in-memory head whose crash-recovery log lives in two small
//! side databases (`<db>-log0`, `<db>-log1`).
//!
//! # Write path
//! - **Series registry** (`series` table) is loaded into memory at open, with indexes by metric
//!   and by label, so `select`, `label_names`, `label_values` and `latest` never touch SQL. New
//!   series get the next id and are persisted (one multi-row INSERT) before `resolve` returns.
//! - **Append** = one INSERT into the `head_log` of the active **head-log lane** (src/store/
//!   lanes.rs): the accepted samples are encoded into *one BLOB* (delta-coded ids and timestamps,
//!   raw values, CRC-32) under a store-wide increasing row id, then applied to the **head**:
//!   aligned time blocks (`block_ms`, default 2 h), each holding one time-ordered, compressed
//!   buffer per series (delta-of-delta timestamps and XOR values as they arrive, about 1–4 bytes
//!   a sample; a rare out-of-order or duplicate sample rebuilds the buffer). `append` returns
//!   after the commit, so a returned append survives `kill -9`; the head log (both lanes, plus
//!   the main database's own `head_log` table written by older versions) is replayed into the
//!   head at open in row-id order. Events go into the main database afterwards, in their own
//!   transaction on the main writer.
//! - **Why lanes**: an append never waits for the main database's writer, so compaction, merges,
//!   retention and the main WAL's checkpoints never stall ingest. The lanes' own WALs are bounded
//!   by alternating: once the active lane has taken `wal_restart_bytes`, appends switch to the
//!   other one (waiting for at most the one in-flight append), and the idle lane is cleaned,
//!   checkpointed and its WAL restarted while nobody writes it. Rows of a lane are deleted once
//!   all their samples are below the compaction watermark, after the main WAL is fsynced (the
//!   watermark must be durable first: the files are separate).
//! - **Rules**: a duplicate (series, timestamp) within the head replaces the earlier value — last
//!   write wins, in memory and on replay alike (replay applies log rows in commit order). Samples
//!   older than the head's floor (their block is sealed or compacted), with unknown series ids, or
//!   more than `max_future_ms` ahead of the wall clock are rejected and counted
//!   (`AppendReport::rejected`, `StoreStats::samples_rejected_total`), never merged into chunks.
//!
//! # Compaction (background task, or `compact_now`)
//! - A block is **sealed** once ingest has seen a sample `grace_ms` past its end: the floor moves
//!   to the block end (under the active lane's append lock, so no append is half applied) and the
//!   block becomes immutable.
//! - Each series' samples are encoded into a **raw chunk** and rolled up into a **1m chunk**
//!   (count, sum, min, max, last, reset-aware increase per bucket); rows are written with
//!   idempotent `INSERT OR REPLACE` keyed `(series_id, tier, span start)` in transactions that
//!   stop taking rows after `maintenance_tx_bytes` (32 KiB) or `maintenance_tx_time` (3 ms),
//!   whichever comes first, so that events, `resolve` and `put_document` wait a few ms at most.
//! - The newest compacted sample of every series (for `latest` and for counter increases across
//!   block boundaries) is written to `series_state` tagged with the block.
//! - One small transaction then moves the **watermark** (`meta.watermark` = block end); the head
//!   drops the block in memory while still holding the writer. Readers take (watermark, head
//!   data) from memory under one lock and read chunks only below the watermark, so a block is seen
//!   either in the head or in chunks, never both and never neither. Head-log rows entirely below
//!   the watermark are deleted afterwards (in a lane when it is idle).
//! - A crash anywhere leaves the block in the head log (the watermark did not move); replay puts
//!   it back in the head and re-compaction replaces identical chunks.
//!
//! # Rollup tiers and merges
//! - Tiers: raw, 1m, 5m, 1h, 1d. Compaction writes raw and 1m chunks per block. When a day is
//!   complete below the watermark, its 1m block chunks are merged into one **day chunk** per series
//!   for each of 1m, 5m, 1h and 1d (coarser buckets are exact merges of 1m buckets), replacing the
//!   block chunks in the same transaction (`meta.merged_to`). 1h and 1d day chunks are merged again
//!   into **28-day chunks** (`meta.merged28_to`), so a one-year read touches ~14 rows per series.
//! - Reads of a coarse tier use its chunks below `merged_to`, 1m block chunks between `merged_to`
//!   and the watermark, and raw head samples above it, all folded into the same aligned buckets.
//!
//! # Codec (src/store/codec.rs)
//! Every chunk is `CRC-32 | kind | count | timestamps | value columns`; a checksum or format
//! failure is reported as `StoreError::Corrupt` naming the chunk, never a panic or a wrong value.
//! Timestamps: (delta, run-length) pairs — a regular scrape costs a few bytes per chunk — or
//! bit-packed deltas for jittered ones. Values, smallest of: constant; **decimal** (scaled by
//! 10^e to integers when that round-trips bit for bit, delta order 0/1/2 chosen per chunk,
//! frame-of-reference bit packing in frames of 128, or sparse frames (bitmap of non-zero
//! deltas, then the non-zero ones packed) for slowly changing series; NaN, ±Inf, -0.0 and
//! over-precise values kept
//! verbatim as exceptions); **Gorilla XOR** for noisy doubles; pco optionally (`ValueCodecs`).
//! A tag byte per column says which. Rollup chunks store `last` and `count`, then max, min, sum
//! and increase either plainly or as the few positions where they differ from a prediction
//! (max ≈ min ≈ last in flat buckets, sum ≈ count × last, increase ≈ the step between lasts).
//!
//! # Reads
//! `query_range` picks the step from `max_points`, then the coarsest tier whose resolution fits
//! the step and that retention still holds at `start`, rounding the step to a multiple of the
//! tier's resolution so tier buckets nest exactly; one SQL statement per tier segment fetches the
//! chunk BLOBs of all requested series (`INDEXED BY` the primary key), decoded in Rust. `latest`
//! reads memory only; `value_at` reads memory and falls back to raw chunks only for past times.
//!
//! # Retention, WAL, integrity
//! Retention deletes whole chunks per tier by age (`end_ts`), in transactions bounded like
//! compaction's (≤ 64 chunks, `maintenance_tx_time`); freed pages are reused by later chunks.
//! Events and documents are not subject to retention (they are small). The main writer never
//! checkpoints inside a commit (`wal_autocheckpoint=0`); a separate connection and task run
//! PASSIVE checkpoints every `checkpoint_interval`, which do not block it. Under continuous writes
//! a PASSIVE checkpoint never catches up at a moment when no write transaction is open, so SQLite
//! would never restart the WAL; past `wal_restart_bytes` the checkpoint task fsyncs the database
//! and WAL files and checkpoints again without the writer, then runs one PASSIVE checkpoint while
//! holding the main writer, which copies and syncs only the residue (see `compact::checkpoint`);
//! the next write restarts the WAL. That hold (two device flushes, 10–25 ms typical on a virtio
//! disk) delays only maintenance and event writes, never sample appends. Every sync SQLite would
//! do is kept (power-loss safety); `checkpoint_fsync = false` drops them. Open runs
//! `PRAGMA quick_check` (configurable) and every chunk carries its checksum.
//!
//! # Measuring writer holds
//! `StoreStats` carries distributions (p50/p99/max) of append waits for the head log, of event
//! waits for the main writer, of maintenance transaction holds (overall and per kind) and of
//! WAL-resetting checkpoint holds, resettable with `reset_peaks` (the benchmark does so per
//! phase).

pub mod bench;
mod chunks;
mod codec;
mod compact;
#[cfg(test)]
mod format_tests;
mod head;
mod hist;
mod lanes;
mod query;
mod registry;
mod rollup;

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, Row, SqliteConnection};

use crate::model::{Event, Labels, Matcher, MetricKind, Sample, SeriesKey, Severity, Timestamp};

use head::{Head, rd, wr};
use registry::Registry;

pub use codec::{CodecError, ValueCodecs};
pub use hist::HoldSummary;

pub type SeriesId = u32;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// Per-tier retention. None = keep forever.
#[derive(Clone, Debug, PartialEq)]
pub struct Retention {
    pub raw: Option<Duration>,
    pub m1: Option<Duration>,
    pub m5: Option<Duration>,
    pub h1: Option<Duration>,
    pub d1: Option<Duration>,
}

impl Default for Retention {
    /// raw 8 days, 1m 35 days, 5m 90 days, 1h 400 days, 1d forever.
    fn default() -> Self {
        let days = |d: u64| Some(Duration::from_secs(d * 86_400));
        Retention {
            raw: days(8),
            m1: days(35),
            m5: days(90),
            h1: days(400),
            d1: None,
        }
    }
}

impl Retention {
    pub fn for_tier(&self, tier: Tier) -> Option<Duration> {
        match tier {
            Tier::Raw => self.raw,
            Tier::M1 => self.m1,
            Tier::M5 => self.m5,
            Tier::H1 => self.h1,
            Tier::D1 => self.d1,
        }
    }
}

#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub path: PathBuf,
    pub retention: Retention,
    /// Length of a head block and of a raw chunk. Must divide a day. Default 2 h.
    pub block_ms: i64,
    /// A block is sealed and compacted once ingest has seen a sample this far past its end.
    /// Samples for a sealed block are rejected. Default 10 min.
    pub grace_ms: i64,
    /// Samples more than this far ahead of the wall clock are rejected (a bad clock must not seal
    /// the head). Default 10 min.
    pub max_future_ms: i64,
    /// How often the background task looks for work (sealing, compaction, merges). Default 1 s.
    pub maintenance_interval: Duration,
    /// How often a PASSIVE WAL checkpoint runs (on its own connection and task, so that each one
    /// flushes little and none waits behind a long compaction). Default 250 ms.
    pub checkpoint_interval: Duration,
    /// Whether WAL checkpoints fsync (SQLite `synchronous=NORMAL` on the checkpoint connection).
    /// Off trades power-loss safety of checkpointed pages for shorter I/O stalls; committed data
    /// survives a process kill either way. Default on.
    pub checkpoint_fsync: bool,
    /// How often background retention runs (against the wall clock). None disables it. Default 10 min.
    pub retention_interval: Option<Duration>,
    /// Start the background maintenance task at open. Default true.
    pub background: bool,
    /// Read connections in the pool. Default 4.
    pub read_connections: u32,
    /// Target payload bytes per maintenance write transaction (bounds the writer lock hold).
    pub maintenance_tx_bytes: usize,
    /// A maintenance transaction (compaction, merge, retention, head-log cleanup) stops taking
    /// rows once it has held the writer this long, so an append waits a few ms at most even on a
    /// contended CPU. Default 3 ms.
    pub maintenance_tx_time: Duration,
    /// WAL size past which a checkpoint briefly holds the writer so that the WAL restarts (see
    /// `compact::checkpoint`). Default 64 MiB.
    pub wal_restart_bytes: u64,
    /// Check the database at open: "quick" (PRAGMA quick_check), "full" (integrity_check) or "off".
    pub integrity_check: IntegrityCheck,
    /// Value codecs compaction tries per chunk (the smallest result wins).
    pub codecs: ValueCodecs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IntegrityCheck {
    Off,
    Quick,
    Full,
}

impl StoreConfig {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        StoreConfig {
            path: path.into(),
            retention: Retention::default(),
            block_ms: 2 * HOUR,
            grace_ms: 10 * MINUTE,
            max_future_ms: 10 * MINUTE,
            maintenance_interval: Duration::from_secs(1),
            checkpoint_interval: Duration::from_millis(250),
            checkpoint_fsync: true,
            retention_interval: Some(Duration::from_secs(600)),
            background: true,
            read_connections: 4,
            maintenance_tx_bytes: 32 * 1024,
            maintenance_tx_time: Duration::from_millis(3),
            wal_restart_bytes: 64 << 20,
            integrity_check: IntegrityCheck::Quick,
            codecs: ValueCodecs::default(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub enum Tier {
    Raw,
    M1,
    M5,
    H1,
    D1,
}

impl Tier {
    pub const ALL: [Tier; 5] = [Tier::Raw, Tier::M1, Tier::M5, Tier::H1, Tier::D1];

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Raw => "raw",
            Tier::M1 => "1m",
            Tier::M5 => "5m",
            Tier::H1 => "1h",
            Tier::D1 => "1d",
        }
    }

    pub fn resolution_ms(self) -> Option<i64> {
        match self {
            Tier::Raw => None,
            Tier::M1 => Some(MINUTE),
            Tier::M5 => Some(5 * MINUTE),
            Tier::H1 => Some(HOUR),
            Tier::D1 => Some(DAY),
        }
    }

    pub(crate) fn code(self) -> i64 {
        self as i64
    }
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct SeriesInfo {
    pub id: SeriesId,
    pub key: SeriesKey,
    pub kind: MetricKind,
}

/// Aggregate of the samples whose ts falls in [ts, ts + step).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Bucket {
    pub ts: Timestamp,
    pub count: u32,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    pub last: f64,
    /// Counters: reset-aware increase, i.e. the sum over consecutive sample pairs (p, c) with c in
    /// this bucket of (c ≥ p ? c − p : c); the series' first sample contributes 0. Summing the
    /// increases of adjacent buckets gives the increase over their union. Gauges: 0.
    pub increase: f64,
}

impl Bucket {
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.sum / f64::from(self.count)
        }
    }
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct SeriesRange {
    pub series: SeriesInfo,
    pub tier: Tier,
    pub step_ms: i64,
    /// Only non-empty buckets, ascending ts.
    pub buckets: Vec<Bucket>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AppendReport {
    pub accepted: usize,
    pub rejected: usize,
}

#[derive(Clone, Debug, Default)]
pub struct EventQuery {
    pub start: Timestamp,
    pub end: Timestamp,
    pub cluster: Option<String>,
    pub subject: Option<String>,
    pub kinds: Vec<String>,
    pub limit: usize,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct StoredEvent {
    pub id: i64,
    #[serde(flatten)]
    pub event: Event,
}

#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct StoreStats {
    pub series: usize,
    pub samples_ingested_total: u64,
    pub samples_rejected_total: u64,
    /// Database file plus WAL and shared-memory files.
    pub bytes_on_disk: u64,
    /// Samples in the in-memory head (not yet compacted).
    pub head_samples: u64,
    pub head_blocks: usize,
    /// Everything before this timestamp is in compressed chunks.
    pub compacted_until: Option<Timestamp>,
    /// Complete days before this timestamp are merged into day chunks of every rollup tier.
    pub merged_until: Option<Timestamp>,
    pub compactions_total: u64,
    pub chunks_written_total: u64,
    pub chunks_deleted_total: u64,
    /// Longest time an append of samples waited for the head log.
    pub max_append_wait_ms: f64,
    /// Longest single maintenance write transaction (compaction, merge, retention).
    pub max_maintenance_tx_ms: f64,
    /// Longest hold of the writer by a WAL checkpoint (only under sustained writes, when the WAL
    /// passes `wal_restart_bytes`).
    pub max_wal_checkpoint_ms: f64,
    /// Chunks that failed their checksum or did not decode, seen by queries.
    pub corrupt_chunks_total: u64,
    /// How long appends of samples waited for the head log (since open or `reset_peaks`).
    pub append_wait: HoldSummary,
    /// How long appends of events waited for the main database's writer.
    pub event_append_wait: HoldSummary,
    /// Switches of appends from one head-log lane to the other.
    pub head_log_lane_switches_total: u64,
    /// How long maintenance transactions (compaction, merges, retention, head-log cleanup) held
    /// the writer, all kinds together and per kind.
    pub maintenance_tx: HoldSummary,
    pub maintenance_tx_by_kind: std::collections::BTreeMap<String, HoldSummary>,
    /// How long WAL-resetting checkpoints held the writer.
    pub wal_checkpoint_hold: HoldSummary,
    /// Checkpoints that had to hold the writer to let the WAL restart, and how many of them
    /// caught up (a reader on an old snapshot can keep one from finishing; it is retried).
    pub wal_locked_checkpoints_total: u64,
    pub wal_locked_checkpoints_caught_up: u64,
    /// Largest WAL (frames in use, as bytes) a checkpoint saw since open or `reset_peaks`.
    pub peak_wal_bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {path}: {source}")]
    Open { path: PathBuf, source: sqlx::Error },
    #[error("cannot migrate database {path}: {source}")]
    Migrate {
        path: PathBuf,
        source: sqlx::migrate::MigrateError,
    },
    #[error("integrity check of {path} failed: {detail}")]
    Integrity { path: PathBuf, detail: String },
    #[error("database error while {what}: {source}")]
    Sql {
        what: &'static str,
        source: sqlx::Error,
    },
    #[error("corrupt {what}: {source}")]
    Corrupt { what: String, source: CodecError },
    #[error("invalid query: {0}")]
    InvalidQuery(String),
    #[error("the store is closed")]
    Closed,
    #[error("internal error: {0}")]
    Internal(String),
}

pub(crate) fn sql(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Sql { what, source }
}

#[derive(Default)]
pub(crate) struct Counters {
    pub ingested: AtomicU64,
    pub rejected: AtomicU64,
    pub compactions: AtomicU64,
    pub chunks_written: AtomicU64,
    pub chunks_deleted: AtomicU64,
    pub corrupt_chunks: AtomicU64,
    pub append_wait: hist::Hist,
    /// Appends with events wait for the main database's writer.
    pub event_wait: hist::Hist,
    /// Every maintenance transaction, and the same split by [`chunks::Hold`] kind.
    pub maint_tx: hist::Hist,
    pub maint_by_kind: [hist::Hist; chunks::Hold::COUNT],
    pub wal_hold: hist::Hist,
    pub wal_locked: AtomicU64,
    pub wal_caught_up: AtomicU64,
    pub peak_wal_bytes: AtomicU64,
}

pub(crate) struct Inner {
    pub cfg: StoreConfig,
    pub writer: tokio::sync::Mutex<Option<SqliteConnection>>,
    pub readers: SqlitePool,
    pub registry: RwLock<Registry>,
    pub head: RwLock<Head>,
    pub latest: RwLock<Vec<Option<(Timestamp, f64)>>>,
    pub counters: Counters,
    /// Serialises maintenance runs (background task, compact_now, run_retention_now).
    pub maintenance: tokio::sync::Mutex<()>,
    /// Second read-write connection used only for PASSIVE WAL checkpoints.
    pub checkpointer: tokio::sync::Mutex<Option<SqliteConnection>>,
    /// Database page size (WAL frames are one page each).
    pub page_size: u64,
    /// The head log (see `lanes`), and the id of its next row.
    pub lanes: lanes::Lanes,
    pub next_log_id: AtomicI64,
    /// A descriptor of the database file kept open for fdatasync before WAL-resetting
    /// checkpoints. Closed only after every connection is (see `Drop`).
    pub db_file: std::sync::Mutex<Option<Arc<std::fs::File>>>,
    pub shutdown: tokio::sync::watch::Sender<bool>,
    pub task: std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>,
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

/// Cheap to clone (an `Arc` inside); `Send + Sync`.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

impl Store {
    /// Creates or opens the database, runs migrations, checks integrity, replays what was committed
    /// but not yet compacted, and starts background maintenance (compaction, rollups, retention).
    pub async fn open(cfg: StoreConfig) -> Result<Store, StoreError> {
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
        let mut lane_list = Vec::with_capacity(lanes::LANES);
        for i in 0..lanes::LANES {
            lane_list.push(lanes::open_lane(&cfg.path, i, &opts).await?);
        }
        let lane_array: [lanes::Lane; lanes::LANES] = lane_list
            .try_into()
            .map_err(|_| StoreError::Internal("head-log lanes".to_string()))?;
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
        let id_bound = registry.id_bound();

        let mut head = Head::new(cfg.block_ms);
        head.compacted_last.resize(id_bound, None);
        let inner = Arc::new(Inner {
            readers,
            registry: RwLock::new(registry),
            head: RwLock::new(head),
            latest: RwLock::new(vec![None; id_bound]),
            counters: Counters::default(),
            writer: tokio::sync::Mutex::new(None),
            maintenance: tokio::sync::Mutex::new(()),
            checkpointer: tokio::sync::Mutex::new(Some(checkpointer)),
            page_size: page_size.max(512) as u64,
            lanes: lanes::Lanes {
                lanes: lane_array,
                active: AtomicUsize::new(0),
                maintenance: tokio::sync::Mutex::new(()),
                switches: AtomicU64::new(0),
            },
            next_log_id: AtomicI64::new(1),
            db_file: std::sync::Mutex::new(Some(Arc::new(db_file))),
            shutdown: tokio::sync::watch::channel(false).0,
            task: std::sync::Mutex::new(Vec::new()),
            cfg,
        });
        let store = Store { inner };
        store.recover(&mut writer).await?;
        *store.inner.writer.lock().await = Some(writer);
        store.init_lanes().await?;
        if store.inner.cfg.background {
            store.start_maintenance();
        }
        Ok(store)
    }

    /// Loads engine state and replays the head log.
    async fn recover(&self, conn: &mut SqliteConnection) -> Result<(), StoreError> {
        let inner = &self.inner;
        let id_bound = rd(&inner.registry).id_bound();
        // Engine watermarks.
        let watermark = chunks::get_meta(conn, "watermark").await?;
        let merged_to = chunks::get_meta(conn, "merged_to").await?;
        let merged28_to = chunks::get_meta(conn, "merged28_to").await?;
        let mut retained = [i64::MIN; 5];
        for (i, key) in compact::RETAINED_KEYS.iter().enumerate() {
            if let Some(v) = chunks::get_meta(conn, key).await? {
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
                chunks::decode_state(
                    &data,
                    part as usize * chunks::STATE_PART,
                    &mut compacted_last,
                )
                .map_err(|source| StoreError::Corrupt {
                    what: format!("series state part {part}"),
                    source,
                })?;
            }
        }
        {
            let mut h = wr(&inner.head);
            if let Some(w) = watermark {
                h.watermark = w;
                h.floor = w;
            }
            h.merged_to = merged_to.unwrap_or(i64::MIN);
            h.merged28_to = merged28_to.unwrap_or(i64::MIN);
            h.retained_from = retained;
            h.compacted_last = compacted_last;
        }
        // The head log: the lanes, plus the main database's own table written by versions before
        // the lanes; ids are store-wide and give the commit order.
        let mut rows: Vec<(i64, Vec<u8>)> = sqlx::query_as("SELECT id, data FROM head_log")
            .fetch_all(&mut *conn)
            .await
            .map_err(sql("reading the head log"))?;
        rows.extend(lanes::read_all(inner).await?);
        rows.sort_unstable_by_key(|r| r.0);
        let next_id = rows.last().map(|r| r.0 + 1).unwrap_or(1);
        inner.next_log_id.store(next_id, Ordering::Relaxed);
        let watermark = rd(&inner.head).watermark;
        let mut replayed = 0usize;
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
            head::apply(&inner.head, &inner.latest, &keep, id_bound);
        }
        tracing::info!(path = %inner.cfg.path.display(), replayed, "Store opened.");
        Ok(())
    }

    /// Cleans, checkpoints and restarts both head-log lanes, then makes lane 0 the active one.
    async fn init_lanes(&self) -> Result<(), StoreError> {
        let l = &self.inner.lanes;
        let _m = l.maintenance.lock().await;
        for i in 0..lanes::LANES {
            if !lanes::prepare(&self.inner, i).await? {
                tracing::warn!(
                    lane = i,
                    "A head-log lane could not be checkpointed at open."
                );
            }
        }
        l.active.store(0, Ordering::Release);
        l.lanes[0].ready.store(false, Ordering::Release);
        l.lanes[0].bytes.store(0, Ordering::Relaxed);
        Ok(())
    }

    /// Ids for keys, creating (and persisting) new series. The kind given for a new series is kept.
    pub async fn resolve(
        &self,
        keys: &[(SeriesKey, MetricKind)],
    ) -> Result<Vec<SeriesId>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        let mut missing = false;
        {
            let reg = rd(&self.inner.registry);
            for (k, _) in keys {
                let id = reg.get(k).unwrap_or(0);
                missing |= id == 0;
                out.push(id);
            }
        }
        if !missing {
            return Ok(out);
        }
        let mut guard = self.inner.writer.lock().await;
        let conn = guard.as_mut().ok_or(StoreError::Closed)?;
        // Re-check under the writer lock: another task may have registered some meanwhile.
        let mut new: Vec<SeriesInfo> = Vec::new();
        {
            let reg = rd(&self.inner.registry);
            let mut pending: std::collections::HashMap<&SeriesKey, SeriesId> =
                std::collections::HashMap::new();
            let mut next = reg.next_id();
            for (i, (k, kind)) in keys.iter().enumerate() {
                if out[i] != 0 {
                    continue;
                }
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
        let mut reg = wr(&self.inner.registry);
        for s in new {
            reg.insert(s);
        }
        Ok(out)
    }

    /// Appends samples and events; returns after they are committed (they survive kill -9).
    ///
    /// A sample is rejected (and counted) when its series id is unknown, when its block was already
    /// sealed for compaction (too old), or when it lies more than `max_future_ms` ahead of the wall
    /// clock. Within the head, a second sample with the same series and timestamp replaces the
    /// first (last write wins), in memory and on replay alike.
    pub async fn append(
        &self,
        samples: &[(SeriesId, Timestamp, f64)],
        events: &[Event],
    ) -> Result<AppendReport, StoreError> {
        let inner = &self.inner;
        if *inner.shutdown.borrow() {
            return Err(StoreError::Closed);
        }
        let mut report = AppendReport::default();
        if !samples.is_empty() {
            // Samples go to the active head-log lane, never waiting for the main database's
            // writer (compaction, merges, retention, its WAL checkpoints).
            let waited = Instant::now();
            let (lane, mut guard) = lanes::lock_active(inner).await;
            inner.counters.append_wait.record(waited.elapsed());
            let conn = guard.as_mut().ok_or(StoreError::Closed)?;
            let id_bound = rd(&inner.registry).id_bound();
            let floor = rd(&inner.head).floor;
            let future = crate::model::now_ms().saturating_add(inner.cfg.max_future_ms);
            let accepted: Vec<(SeriesId, Timestamp, f64)> = samples
                .iter()
                .copied()
                .filter(|&(id, ts, _)| {
                    id > 0 && (id as usize) < id_bound && ts >= floor && ts <= future
                })
                .collect();
            report = AppendReport {
                accepted: accepted.len(),
                rejected: samples.len() - accepted.len(),
            };
            if !accepted.is_empty() {
                let max_ts = accepted.iter().map(|s| s.1).max().unwrap_or(i64::MIN);
                let blob = codec::encode_log(&accepted);
                // WAL bytes this commit adds: whole pages (the BLOB's, a table and an index page).
                let page = inner.page_size;
                let bytes = ((blob.len() as u64).div_ceil(page) + 2) * page;
                // Ids are taken under the lane lock, in the order the head sees the samples.
                let id = inner.next_log_id.fetch_add(1, Ordering::Relaxed);
                sqlx::query("INSERT INTO head_log (id, max_ts, n, data) VALUES (?, ?, ?, ?)")
                    .bind(id)
                    .bind(max_ts)
                    .bind(accepted.len() as i64)
                    .bind(blob)
                    .execute(&mut *conn)
                    .await
                    .map_err(sql("writing the head log"))?;
                inner.lanes.lanes[lane]
                    .bytes
                    .fetch_add(bytes, Ordering::Relaxed);
                head::apply(&inner.head, &inner.latest, &accepted, id_bound);
            }
            drop(guard);
            inner
                .counters
                .ingested
                .fetch_add(report.accepted as u64, Ordering::Relaxed);
            inner
                .counters
                .rejected
                .fetch_add(report.rejected as u64, Ordering::Relaxed);
        }
        if !events.is_empty() {
            // After the samples: a retry after a failure here repeats the samples harmlessly
            // (last write wins) and writes the events once.
            let waited = Instant::now();
            let mut guard = inner.writer.lock().await;
            inner.counters.event_wait.record(waited.elapsed());
            let conn = guard.as_mut().ok_or(StoreError::Closed)?;
            let mut tx = conn.begin().await.map_err(sql("writing events"))?;
            for part in events.chunks(4000) {
                let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
                    "INSERT INTO events (ts, kind, severity, cluster, subject, message) ",
                );
                qb.push_values(part, |mut b, e| {
                    b.push_bind(e.ts)
                        .push_bind(e.kind.clone())
                        .push_bind(e.severity.as_str())
                        .push_bind(e.cluster.clone())
                        .push_bind(e.subject.clone())
                        .push_bind(e.message.clone());
                });
                qb.build()
                    .execute(&mut *tx)
                    .await
                    .map_err(sql("writing events"))?;
            }
            tx.commit().await.map_err(sql("committing events"))?;
        }
        Ok(report)
    }

    /// resolve + append.
    pub async fn write(
        &self,
        samples: &[Sample],
        events: &[Event],
    ) -> Result<AppendReport, StoreError> {
        let keys: Vec<(SeriesKey, MetricKind)> =
            samples.iter().map(|s| (s.key.clone(), s.kind)).collect();
        let ids = self.resolve(&keys).await?;
        let triples: Vec<(SeriesId, Timestamp, f64)> = samples
            .iter()
            .zip(ids)
            .map(|(s, id)| (id, s.ts, s.value))
            .collect();
        self.append(&triples, events).await
    }

    /// Series whose metric equals `metric` (if given) and that satisfy all matchers; sorted by key.
    pub fn select(&self, metric: Option<&str>, matchers: &[Matcher]) -> Vec<SeriesInfo> {
        rd(&self.inner.registry).select(metric, matchers)
    }

    pub fn series_info(&self, id: SeriesId) -> Option<SeriesInfo> {
        rd(&self.inner.registry).info(id).cloned()
    }

    /// Sorted, includes `__name__`.
    pub fn label_names(&self) -> Vec<String> {
        rd(&self.inner.registry).label_names()
    }

    /// Sorted; `__name__` gives metric names.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        rd(&self.inner.registry).label_values(name)
    }

    /// Chart query: picks the tier and a step so that each series gets at most `max_points` buckets.
    pub async fn query_range(
        &self,
        ids: &[SeriesId],
        start: Timestamp,
        end: Timestamp,
        max_points: usize,
    ) -> Result<Vec<SeriesRange>, StoreError> {
        if end < start {
            return Err(StoreError::InvalidQuery(format!(
                "end {end} is before start {start}"
            )));
        }
        let max_points = max_points.max(1) as i64;
        // One bucket may be lost to aligning the first bucket down to a step multiple.
        let slots = (max_points - 1).max(1);
        let span = end - start + 1;
        let want = ((span + slots - 1) / slots).max(1);
        let (tier, step) = query::choose_for_points(&rd(&self.inner.head), start, want);
        query::run(&self.inner, ids, start, end, step, tier).await
    }

    /// Explicit step (Prometheus API); buckets aligned to multiples of step_ms; tier None = finest
    /// that fits, i.e. the coarsest tier whose resolution divides the step and that still holds
    /// data at `start` (raw when none does).
    pub async fn query_range_step(
        &self,
        ids: &[SeriesId],
        start: Timestamp,
        end: Timestamp,
        step_ms: i64,
        tier: Option<Tier>,
    ) -> Result<Vec<SeriesRange>, StoreError> {
        if end < start {
            return Err(StoreError::InvalidQuery(format!(
                "end {end} is before start {start}"
            )));
        }
        if step_ms <= 0 {
            return Err(StoreError::InvalidQuery(format!(
                "step {step_ms} ms must be positive"
            )));
        }
        let tier = match tier {
            Some(t) => t,
            None => query::choose_for_step(&rd(&self.inner.head), start, step_ms),
        };
        query::run(&self.inner, ids, start, end, step_ms, tier).await
    }

    /// Newest sample of each series (None if it has none in memory), without decoding history.
    pub fn latest(&self, ids: &[SeriesId]) -> Vec<Option<(Timestamp, f64)>> {
        let l = rd(&self.inner.latest);
        let h = rd(&self.inner.head);
        ids.iter()
            .map(|&id| {
                let a = l.get(id as usize).copied().flatten();
                let b = h.compacted_last(id);
                match (a, b) {
                    (Some(a), Some(b)) => Some(if b.0 > a.0 { b } else { a }),
                    (a, b) => a.or(b),
                }
            })
            .collect()
    }

    /// Newest sample at or before `at` (for Prometheus instant queries at a past time), within `lookback_ms`.
    pub async fn value_at(
        &self,
        ids: &[SeriesId],
        at: Timestamp,
        lookback_ms: i64,
    ) -> Result<Vec<Option<(Timestamp, f64)>>, StoreError> {
        query::value_at(&self.inner, ids, at, lookback_ms).await
    }

    /// Newest first.
    pub async fn events(&self, q: &EventQuery) -> Result<Vec<StoredEvent>, StoreError> {
        let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "SELECT id, ts, kind, severity, cluster, subject, message FROM events WHERE ts >= ",
        );
        qb.push_bind(q.start).push(" AND ts <= ").push_bind(q.end);
        if let Some(c) = &q.cluster {
            qb.push(" AND cluster = ").push_bind(c.clone());
        }
        if let Some(s) = &q.subject {
            qb.push(" AND subject = ").push_bind(s.clone());
        }
        if !q.kinds.is_empty() {
            qb.push(" AND kind IN (");
            let mut sep = qb.separated(", ");
            for k in &q.kinds {
                sep.push_bind(k.clone());
            }
            qb.push(")");
        }
        let limit = if q.limit == 0 {
            i64::MAX
        } else {
            q.limit as i64
        };
        qb.push(" ORDER BY ts DESC, id DESC LIMIT ")
            .push_bind(limit);
        let rows = qb
            .build()
            .persistent(false)
            .fetch_all(&self.inner.readers)
            .await
            .map_err(sql("reading events"))?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let severity: String = r.get(3);
                StoredEvent {
                    id: r.get(0),
                    event: Event {
                        ts: r.get(1),
                        kind: r.get(2),
                        severity: Severity::parse(&severity).unwrap_or_default(),
                        cluster: r.get(4),
                        subject: r.get(5),
                        message: r.get(6),
                    },
                }
            })
            .collect())
    }

    /// Latest text snapshot per (cluster, subject, name), e.g. a ZooKeeper server's `conf`. An
    /// older snapshot than the stored one is ignored.
    pub async fn put_document(
        &self,
        cluster: &str,
        subject: &str,
        name: &str,
        ts: Timestamp,
        body: &str,
    ) -> Result<(), StoreError> {
        let mut guard = self.inner.writer.lock().await;
        let conn = guard.as_mut().ok_or(StoreError::Closed)?;
        sqlx::query(
            "INSERT INTO documents (cluster, subject, name, ts, body) VALUES (?, ?, ?, ?, ?) \
             ON CONFLICT (cluster, subject, name) DO UPDATE SET ts = excluded.ts, body = excluded.body \
             WHERE excluded.ts >= documents.ts",
        )
        .bind(cluster.to_string())
        .bind(subject.to_string())
        .bind(name.to_string())
        .bind(ts)
        .bind(body.to_string())
        .execute(conn)
        .await
        .map_err(sql("writing a document"))?;
        Ok(())
    }

    /// (name, ts, body), sorted by name.
    pub async fn documents(
        &self,
        cluster: &str,
        subject: &str,
    ) -> Result<Vec<(String, Timestamp, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT name, ts, body FROM documents WHERE cluster = ? AND subject = ? ORDER BY name",
        )
        .bind(cluster.to_string())
        .bind(subject.to_string())
        .fetch_all(&self.inner.readers)
        .await
        .map_err(sql("reading documents"))?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect())
    }

    pub async fn stats(&self) -> StoreStats {
        let inner = &self.inner;
        let c = &inner.counters;
        let (head_samples, head_blocks, watermark, merged_to) = {
            let h = rd(&inner.head);
            (h.samples, h.blocks.len(), h.watermark, h.merged_to)
        };
        let bytes_on_disk = lanes::store_files(&inner.cfg.path)
            .iter()
            .filter_map(|p| std::fs::metadata(p).ok())
            .map(|m| m.len())
            .sum();
        StoreStats {
            series: rd(&inner.registry).len(),
            samples_ingested_total: c.ingested.load(Ordering::Relaxed),
            samples_rejected_total: c.rejected.load(Ordering::Relaxed),
            bytes_on_disk,
            head_samples,
            head_blocks,
            compacted_until: (watermark != i64::MIN).then_some(watermark),
            merged_until: (merged_to != i64::MIN).then_some(merged_to),
            compactions_total: c.compactions.load(Ordering::Relaxed),
            chunks_written_total: c.chunks_written.load(Ordering::Relaxed),
            chunks_deleted_total: c.chunks_deleted.load(Ordering::Relaxed),
            max_append_wait_ms: c.append_wait.max_ms(),
            max_maintenance_tx_ms: c.maint_tx.max_ms(),
            max_wal_checkpoint_ms: c.wal_hold.max_ms(),
            corrupt_chunks_total: c.corrupt_chunks.load(Ordering::Relaxed),
            append_wait: c.append_wait.summary(),
            event_append_wait: c.event_wait.summary(),
            head_log_lane_switches_total: inner.lanes.switches.load(Ordering::Relaxed),
            maintenance_tx: c.maint_tx.summary(),
            maintenance_tx_by_kind: chunks::Hold::ALL
                .iter()
                .filter(|k| **k != chunks::Hold::WalCheckpoint)
                .map(|k| {
                    (
                        k.as_str().to_string(),
                        c.maint_by_kind[*k as usize].summary(),
                    )
                })
                .filter(|(_, s)| s.count > 0)
                .collect(),
            wal_checkpoint_hold: c.wal_hold.summary(),
            wal_locked_checkpoints_total: c.wal_locked.load(Ordering::Relaxed),
            wal_locked_checkpoints_caught_up: c.wal_caught_up.load(Ordering::Relaxed),
            peak_wal_bytes: c.peak_wal_bytes.load(Ordering::Relaxed),
        }
    }

    fn start_maintenance(&self) {
        let weak = Arc::downgrade(&self.inner);
        let mut stop = self.inner.shutdown.subscribe();
        let interval = self.inner.cfg.maintenance_interval;
        let retention_every = self.inner.cfg.retention_interval;
        let handle = tokio::spawn(async move {
            let mut last_retention = Instant::now();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(interval) => {}
                    _ = stop.changed() => return,
                }
                let Some(inner) = weak.upgrade() else { return };
                match compact::run_once(&inner, false).await {
                    Ok(()) | Err(StoreError::Closed) => {}
                    Err(e) => tracing::warn!(error = %e, "Store maintenance failed; will retry."),
                }
                if let Some(every) = retention_every
                    && last_retention.elapsed() >= every
                {
                    last_retention = Instant::now();
                    if let Err(e) = compact::run_retention(&inner, crate::model::now_ms()).await {
                        tracing::warn!(error = %e, "Store retention failed; will retry.");
                    }
                }
            }
        });
        let weak = Arc::downgrade(&self.inner);
        let mut stop = self.inner.shutdown.subscribe();
        let every = self.inner.cfg.checkpoint_interval;
        let checkpoints = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = stop.changed() => return,
                }
                let Some(inner) = weak.upgrade() else { return };
                if let Err(e) = compact::checkpoint(&inner).await {
                    tracing::warn!(error = %e, "WAL checkpoint failed; will retry.");
                }
                if let Err(e) = lanes::maintain(&inner).await {
                    tracing::warn!(error = %e, "Head-log lane maintenance failed; will retry.");
                }
            }
        });
        let mut tasks = self.inner.task.lock().unwrap_or_else(|e| e.into_inner());
        tasks.push(handle);
        tasks.push(checkpoints);
    }

    /// Seals and compacts every head block that ends at or before the newest sample (ignoring the
    /// grace period), then runs due merges. For tests and benchmarks.
    pub async fn compact_now(&self) -> Result<(), StoreError> {
        compact::run_once(&self.inner, true).await
    }

    /// Applies retention as if the time were `now`. For tests and benchmarks.
    pub async fn run_retention_now(&self, now: Timestamp) -> Result<(), StoreError> {
        compact::run_retention(&self.inner, now).await
    }

    /// Resets the peak and distribution figures of [`StoreStats`] (append waits, maintenance
    /// transactions, WAL checkpoint holds, peak WAL), so that a benchmark can measure one phase.
    pub fn reset_peaks(&self) {
        let c = &self.inner.counters;
        c.append_wait.reset();
        c.event_wait.reset();
        c.maint_tx.reset();
        for h in &c.maint_by_kind {
            h.reset();
        }
        c.wal_hold.reset();
        c.wal_locked.store(0, Ordering::Relaxed);
        c.wal_caught_up.store(0, Ordering::Relaxed);
        c.peak_wal_bytes.store(0, Ordering::Relaxed);
    }

    /// Flushes, stops background tasks, checkpoints the WAL. Later calls fail with `Closed`.
    pub async fn close(&self) -> Result<(), StoreError> {
        self.inner.shutdown.send_replace(true);
        let tasks: Vec<_> =
            std::mem::take(&mut *self.inner.task.lock().unwrap_or_else(|e| e.into_inner()));
        for task in tasks {
            let _ = task.await;
        }
        let _maint = self.inner.maintenance.lock().await;
        lanes::close(&self.inner).await?;
        if let Some(c) = self.inner.checkpointer.lock().await.take() {
            let _ = c.close().await;
        }
        let mut guard = self.inner.writer.lock().await;
        let Some(mut conn) = guard.take() else {
            return Ok(());
        };
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut conn)
            .await
            .map_err(sql("checkpointing the WAL"))?;
        conn.close().await.map_err(sql("closing the writer"))?;
        self.inner.readers.close().await;
        // Every connection is closed: closing the descriptor can no longer drop their locks.
        drop(
            self.inner
                .db_file
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        Ok(())
    }
}
