//! Chunk rows in SQLite: batched writes, range reads, and the small engine tables (meta, series
//! state). Every statement covers many rows: sqlx costs tens of µs per statement.

use std::time::Instant;

use sqlx::{Row, SqliteConnection};

use crate::model::Timestamp;

use super::codec::{self, CodecError, Reader};
use super::{Inner, SeriesId, StoreError, Tier, sql};

#[derive(Debug, Clone)]
pub(crate) struct ChunkRow {
    pub series_id: SeriesId,
    pub tier: Tier,
    pub start: Timestamp,
    pub end: Timestamp,
    pub n: i64,
    pub data: Vec<u8>,
}

/// Inserts or replaces chunk rows (idempotent: keyed by series, tier and span start).
pub(crate) async fn write_rows(
    conn: &mut SqliteConnection,
    rows: &[ChunkRow],
) -> Result<(), StoreError> {
    // 6 bind parameters per row; SQLite allows 32766.
    for part in rows.chunks(5000) {
        let mut qb = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT OR REPLACE INTO chunk (series_id, tier, start_ts, end_ts, n, data) ",
        );
        qb.push_values(part, |mut b, r| {
            b.push_bind(i64::from(r.series_id))
                .push_bind(r.tier.code())
                .push_bind(r.start)
                .push_bind(r.end)
                .push_bind(r.n)
                .push_bind(r.data.clone());
        });
        qb.build()
            .persistent(false)
            .execute(&mut *conn)
            .await
            .map_err(sql("writing chunks"))?;
    }
    Ok(())
}

pub(crate) fn id_list(ids: &[SeriesId]) -> String {
    let mut s = String::with_capacity(ids.len() * 7);
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&id.to_string());
    }
    s
}

/// A fetched chunk: (series id, span start, encoded data).
pub(crate) type FetchedChunk = (SeriesId, Timestamp, Vec<u8>);

/// Chunks of `tier` for `ids` with `start_ge <= start_ts < start_lt` and `end_ts >= end_ge`,
/// ordered by series and start.
pub(crate) async fn fetch<'e, E>(
    exec: E,
    tier: Tier,
    ids: &[SeriesId],
    start_ge: Timestamp,
    start_lt: Timestamp,
    end_ge: Timestamp,
) -> Result<Vec<FetchedChunk>, StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    if ids.is_empty() || start_ge >= start_lt {
        return Ok(Vec::new());
    }
    // The id list is formatted from integers, so it cannot inject SQL. INDEXED BY names the
    // UNIQUE (series_id, tier, start_ts) index: without statistics the planner may otherwise pick
    // chunk_tier_end and scan every chunk of the tier.
    let q = format!(
        "SELECT series_id, start_ts, data FROM chunk INDEXED BY sqlite_autoindex_chunk_1 WHERE series_id IN ({}) AND tier = ? \
         AND start_ts >= ? AND start_ts < ? AND end_ts >= ? ORDER BY series_id, start_ts",
        id_list(ids)
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(q))
        .persistent(false)
        .bind(tier.code())
        .bind(start_ge)
        .bind(start_lt)
        .bind(end_ge)
        .fetch_all(exec)
        .await
        .map_err(sql("reading chunks"))?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let id: i64 = r.get(0);
            (id as SeriesId, r.get(1), r.get(2))
        })
        .collect())
}

pub(crate) fn corrupt(
    inner: &Inner,
    tier: Tier,
    id: SeriesId,
    start: Timestamp,
    source: CodecError,
) -> StoreError {
    inner
        .counters
        .corrupt_chunks
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    tracing::error!(series = id, tier = tier.as_str(), start, error = %source, "Corrupt chunk.");
    StoreError::Corrupt {
        what: format!("{} chunk of series {id} starting at {start}", tier.as_str()),
        source,
    }
}

pub(crate) async fn get_meta(
    conn: &mut SqliteConnection,
    key: &'static str,
) -> Result<Option<i64>, StoreError> {
    sqlx::query_scalar("SELECT value FROM meta WHERE key = ?")
        .bind(key)
        .fetch_optional(conn)
        .await
        .map_err(sql("reading engine metadata"))
}

pub(crate) async fn set_meta(
    conn: &mut SqliteConnection,
    key: &'static str,
    value: i64,
) -> Result<(), StoreError> {
    sqlx::query("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)")
        .bind(key)
        .bind(value)
        .execute(conn)
        .await
        .map_err(sql("writing engine metadata"))?;
    Ok(())
}

/// Series ids per series-state row: small rows keep each write transaction short.
pub(crate) const STATE_PART: usize = 8192;

/// Newest compacted sample per series for ids in one part: (id offset, ts, value) entries.
pub(crate) fn encode_state(part: &[Option<(Timestamp, f64)>]) -> Vec<u8> {
    let mut p = Vec::with_capacity(part.len() * 12);
    let n = part.iter().filter(|s| s.is_some()).count();
    codec::put_uvarint(&mut p, n as u64);
    let (mut prev_i, mut prev_ts) = (0usize, 0i64);
    for (i, s) in part.iter().enumerate() {
        if let Some((ts, v)) = s {
            codec::put_uvarint(&mut p, (i - prev_i) as u64);
            codec::put_ivarint(&mut p, ts.wrapping_sub(prev_ts));
            p.extend_from_slice(&v.to_bits().to_le_bytes());
            prev_i = i;
            prev_ts = *ts;
        }
    }
    let mut out = Vec::with_capacity(p.len() + 4);
    codec::seal_crc(&p, &mut out);
    out
}

pub(crate) fn decode_state(
    data: &[u8],
    base: usize,
    into: &mut Vec<Option<(Timestamp, f64)>>,
) -> Result<(), CodecError> {
    let mut r = Reader::new(codec::open_crc(data)?);
    let n = r.count(STATE_PART)?;
    let (mut i, mut ts) = (0usize, 0i64);
    for _ in 0..n {
        i += r.uvarint()? as usize;
        ts = ts.wrapping_add(r.ivarint()?);
        let v = r.f64_le()?;
        if i >= STATE_PART {
            return codec::err("series state index out of range");
        }
        let idx = base + i;
        if into.len() <= idx {
            into.resize(idx + 1, None);
        }
        into[idx] = Some((ts, v));
    }
    Ok(())
}

/// What held the writer: maintenance transactions by kind, and the WAL-resetting checkpoint
/// (tracked apart from maintenance).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hold {
    /// Compaction or merge chunk rows (with the superseded chunks a merge deletes).
    ChunkBatch,
    SeriesState,
    Watermark,
    /// Sealing a block, and moving the merge and retention marks.
    Marks,
    HeadLogCleanup,
    Retention,
    /// Switching appends to the other head-log lane (waits for no append, holds the old lane's
    /// append lock for a moment).
    LaneSwitch,
    WalCheckpoint,
}

impl Hold {
    pub const COUNT: usize = 8;
    pub const ALL: [Hold; Hold::COUNT] = [
        Hold::ChunkBatch,
        Hold::SeriesState,
        Hold::Watermark,
        Hold::Marks,
        Hold::HeadLogCleanup,
        Hold::Retention,
        Hold::LaneSwitch,
        Hold::WalCheckpoint,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Hold::ChunkBatch => "chunk batch",
            Hold::SeriesState => "series state",
            Hold::Watermark => "watermark",
            Hold::Marks => "seal and marks",
            Hold::HeadLogCleanup => "head log cleanup",
            Hold::Retention => "retention",
            Hold::LaneSwitch => "head-log lane switch",
            Hold::WalCheckpoint => "wal checkpoint",
        }
    }
}

/// Times one hold of the writer (taken right after the writer lock is acquired) and records it.
pub(crate) struct TxTimer(Instant);

impl TxTimer {
    pub fn start() -> Self {
        TxTimer(Instant::now())
    }

    pub fn elapsed(&self) -> std::time::Duration {
        self.0.elapsed()
    }

    pub fn finish(self, inner: &Inner, what: Hold) {
        let d = self.0.elapsed();
        if d.as_micros() > 5_000 {
            tracing::debug!(
                what = what.as_str(),
                ms = d.as_secs_f64() * 1000.0,
                "Slow writer hold."
            );
        }
        let c = &inner.counters;
        if what == Hold::WalCheckpoint {
            c.wal_hold.record(d);
        } else {
            c.maint_tx.record(d);
        }
        c.maint_by_kind[what as usize].record(d);
    }
}
