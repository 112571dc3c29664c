//! The kafkascope storage engine: time series in one SQLite database (through sqlx), as
//! compressed per-series chunks plus an in-memory head whose crash-recovery log lives in two small
//! side databases (`<db>-log0`, `<db>-log1`).
//!
//! # Modules
//! - `engine.rs`: the shared state ([`Store`] holds an `Arc` of it) with private fields and typed
//!   methods, open and recovery, registration, appends, close; `counters.rs`: statistics and
//!   writer holds, reachable only through methods.
//! - `head.rs`: the in-memory head (blocks, watermark and marks under one lock); `lanes.rs`: the
//!   head-log lanes (connections reachable only through guards that fix the lock order).
//! - `compact.rs`: sealing, compaction, merges, retention, WAL checkpoints; `chunks.rs`: chunk
//!   rows in SQLite; `rollup.rs`: aggregation; `query.rs`: reads; `registry.rs`: series index.
//! - `codec/`: the on-disk formats; `events.rs`, `documents.rs`: rows that are not time series.
//! - `read.rs`: [`SeriesReader`], the narrow read interface the evaluator and pages need, which a
//!   remote Prometheus-compatible store could implement too.
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
//! # Codec (src/store/codec/)
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

mod chunks;
pub(crate) mod codec;
mod compact;
mod counters;
mod documents;
mod engine;
mod events;
#[cfg(test)]
mod format_tests;
mod head;
mod hist;
mod lanes;
mod query;
pub mod read;
mod registry;
mod rollup;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::{Event, Matcher, MetricKind, Sample, SeriesKey, Timestamp};

use engine::Inner;

pub use codec::{CodecError, ValueCodecs};
pub use events::{EventQuery, StoredEvent};
pub use hist::HoldSummary;
pub(crate) use lanes::store_files;
pub use read::{ReadError, SeriesReader};

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
    /// How long foreground writes (series registration, events, documents, open) held the main
    /// writer, per kind.
    pub foreground_writer_hold_by_kind: std::collections::BTreeMap<String, HoldSummary>,
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
    /// A read would return more samples than its `max_samples` budget (see
    /// [`SeriesReader::raw_samples`]).
    #[error(
        "query processing would load too many samples into memory in query execution (more than {limit})"
    )]
    TooManySamples { limit: usize },
    #[error("internal error: {0}")]
    Internal(String),
}

pub(crate) fn sql(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Sql { what, source }
}

/// Cheap to clone (an `Arc` inside); `Send + Sync`.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl Store {
    /// Creates or opens the database, runs migrations, checks integrity, replays what was committed
    /// but not yet compacted, and starts background maintenance (compaction, rollups, retention).
    pub async fn open(cfg: StoreConfig) -> Result<Store, StoreError> {
        let store = Store {
            inner: Inner::open(cfg).await?,
        };
        if store.inner.cfg().background {
            store.start_maintenance();
        }
        Ok(store)
    }

    /// Ids for keys, creating (and persisting) new series. The kind given for a new series is kept.
    pub async fn resolve(
        &self,
        keys: &[(SeriesKey, MetricKind)],
    ) -> Result<Vec<SeriesId>, StoreError> {
        self.inner.resolve(keys).await
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
        if self.inner.is_closing() {
            return Err(StoreError::Closed);
        }
        let mut report = AppendReport::default();
        if !samples.is_empty() {
            report = self.inner.append_samples(samples).await?;
        }
        if !events.is_empty() {
            // After the samples: a retry after a failure here repeats the samples harmlessly
            // (last write wins) and writes the events once.
            events::write(&self.inner, events).await?;
        }
        Ok(report)
    }

    /// resolve + append.
    pub async fn write(
        &self,
        samples: &[Sample],
        events: &[Event],
    ) -> Result<AppendReport, StoreError> {
        // Borrowed keys: a poll of 300,000 samples would otherwise copy every label set.
        let keys: Vec<(&SeriesKey, MetricKind)> =
            samples.iter().map(|s| (&s.key, s.kind)).collect();
        let ids = self.inner.resolve(&keys).await?;
        let triples: Vec<(SeriesId, Timestamp, f64)> = samples
            .iter()
            .zip(ids)
            .map(|(s, id)| (id, s.ts, s.value))
            .collect();
        self.append(&triples, events).await
    }

    /// Series whose metric equals `metric` (if given) and that satisfy all matchers; sorted by key.
    pub fn select(&self, metric: Option<&str>, matchers: &[Matcher]) -> Vec<SeriesInfo> {
        self.inner.registry().select(metric, matchers)
    }

    /// Calls `f` with each series [`Store::select`] would return, unsorted and uncopied (the
    /// registry stays read-locked meanwhile: `f` must not call back into the store).
    pub fn visit(&self, metric: Option<&str>, matchers: &[Matcher], f: impl FnMut(&SeriesInfo)) {
        self.inner.registry().visit(metric, matchers, f)
    }

    pub fn series_info(&self, id: SeriesId) -> Option<SeriesInfo> {
        self.inner.registry().info(id).cloned()
    }

    /// Sorted, includes `__name__`.
    pub fn label_names(&self) -> Vec<String> {
        self.inner.registry().label_names()
    }

    /// Sorted; `__name__` gives metric names.
    pub fn label_values(&self, name: &str) -> Vec<String> {
        self.inner.registry().label_values(name)
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
        let (tier, step) =
            query::choose_for_points(&self.inner.head().retained_from(), start, want);
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
            None => query::choose_for_step(&self.inner.head().retained_from(), start, step_ms),
        };
        query::run(&self.inner, ids, start, end, step_ms, tier).await
    }

    /// Data of `tier` older than this was dropped by retention (`i64::MIN` while none was).
    pub fn retained_from(&self, tier: Tier) -> Timestamp {
        self.inner.head().retained_from()[tier as usize]
    }

    /// Raw samples with `start <= ts <= end`, one vector per requested id (empty for an unknown
    /// id), read straight from the head and the raw chunks; fails with
    /// [`StoreError::TooManySamples`] once more than `max_samples` samples (all series together)
    /// are in range. Large reads decode on the blocking pool. See [`SeriesReader::raw_samples`].
    pub async fn raw_samples(
        &self,
        ids: &[SeriesId],
        start: Timestamp,
        end: Timestamp,
        max_samples: usize,
    ) -> Result<Vec<Vec<(Timestamp, f64)>>, StoreError> {
        query::raw_samples(&self.inner, ids, start, end, max_samples).await
    }

    /// Newest sample of each series (None if it has none in memory), without decoding history.
    pub fn latest(&self, ids: &[SeriesId]) -> Vec<Option<(Timestamp, f64)>> {
        self.inner.head().latest(ids)
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

    pub async fn stats(&self) -> StoreStats {
        self.inner.stats().await
    }

    fn start_maintenance(&self) {
        let weak = Arc::downgrade(&self.inner);
        let mut stop = self.inner.shutdown_signal();
        let interval = self.inner.cfg().maintenance_interval;
        let retention_every = self.inner.cfg().retention_interval;
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
        let mut stop = self.inner.shutdown_signal();
        let every = self.inner.cfg().checkpoint_interval;
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
                if let Err(e) = inner.lanes().maintenance().await.maintain(&inner).await {
                    tracing::warn!(error = %e, "Head-log lane maintenance failed; will retry.");
                }
            }
        });
        self.inner.add_task(handle);
        self.inner.add_task(checkpoints);
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
        self.inner.counters().reset_peaks();
    }

    /// Flushes, stops background tasks, checkpoints the WAL. Later calls fail with `Closed`.
    pub async fn close(&self) -> Result<(), StoreError> {
        self.inner.close().await
    }
}
