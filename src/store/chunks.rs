//! Chunk rows in SQLite: batched writes, range reads, and the small engine tables (meta, series
//! state). Every statement covers many rows: sqlx costs tens of µs per statement.

use sqlx::{Row, SqliteConnection};

use crate::model::Timestamp;

use super::codec::CodecError;
use super::engine::Inner;
use super::{SeriesId, StoreError, Tier, sql};

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
    inner.counters().corrupt_chunk();
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
