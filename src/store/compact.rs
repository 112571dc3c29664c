//! Background maintenance: sealing head blocks, compacting them into raw and 1m chunks, merging
//! 1m block chunks into day chunks of every rollup tier, merging 1h/1d day chunks into 28-day
//! chunks, and WAL checkpoints. Every write is a small transaction on the single writer, so
//! ingest waits at most one of them.

use std::sync::Arc;

use sqlx::{Connection, SqliteConnection};

use crate::model::{MetricKind, Timestamp};

use super::chunks::{self, ChunkRow};
use super::codec::{self, ValueCodecs};
use super::counters::Hold;
use super::engine::Inner;
use super::head::HeadBlock;
use super::rollup::{rollup_buckets, rollup_samples};
use super::{DAY, MINUTE, SeriesId, StoreError, Tier, sql};

/// Span of the largest chunks of the 1h and 1d tiers.
pub(crate) const SPAN28: i64 = 28 * DAY;

/// Longest span a chunk of each tier can cover (bounds the start_ts lookback of reads).
pub(crate) fn max_span(tier: Tier, block_ms: i64) -> i64 {
    match tier {
        Tier::Raw => block_ms,
        Tier::M1 | Tier::M5 => DAY,
        Tier::H1 | Tier::D1 => SPAN28,
    }
}

/// Runs all due maintenance once. `force` compacts every block that ends at or before the newest
/// sample, ignoring the grace period.
pub(crate) async fn run_once(inner: &Arc<Inner>, force: bool) -> Result<(), StoreError> {
    let _guard = inner.maintenance().await;
    compact_ready_blocks(inner, force).await?;
    merge_days(inner).await?;
    merge_spans(inner).await?;
    checkpoint(inner).await?;
    inner.lanes().maintenance().await.maintain(inner).await
}

async fn compact_ready_blocks(inner: &Arc<Inner>, force: bool) -> Result<(), StoreError> {
    loop {
        let next = inner.head().next_ready_block(inner.cfg().grace_ms, force);
        let Some((b, block)) = next else {
            return Ok(());
        };
        compact_block(inner, b, block).await?;
    }
}

/// Encodes the raw and 1m chunks of a sealed block for a batch of series (CPU only).
fn encode_batch(
    block: &HeadBlock,
    batch: &[(SeriesId, Option<f64>, bool)],
    start: Timestamp,
    codecs: ValueCodecs,
) -> Vec<ChunkRow> {
    let mut rows = Vec::with_capacity(batch.len() * 2);
    for &(id, prev, counter) in batch {
        let Some(buf) = block.samples(id) else {
            continue;
        };
        let buf = buf.as_slice();
        let last_ts = buf.last().map(|s| s.0).unwrap_or(start);
        rows.push(ChunkRow {
            series_id: id,
            tier: Tier::Raw,
            start,
            end: last_ts,
            n: buf.len() as i64,
            data: codec::encode_raw(prev, buf, codecs),
        });
        let m1 = rollup_samples(buf, prev, counter, MINUTE);
        rows.push(ChunkRow {
            series_id: id,
            tier: Tier::M1,
            start,
            end: m1.last().map(|b| b.ts).unwrap_or(start),
            n: m1.len() as i64,
            data: codec::encode_rollup(&m1, codecs),
        });
    }
    rows
}

/// Writes rows in short transactions, optionally deleting superseded chunks (tier, start range
/// exclusive of the span start) of the same series in the same transaction. A transaction stops
/// taking rows once it has written `maintenance_tx_bytes` or has held the writer for
/// `maintenance_tx_time`, whichever comes first, so that an append waits at most a few ms even
/// when the CPU is contended. Rows go in statements of a quarter of the byte budget, never
/// splitting one series' rows between transactions.
async fn write_in_txs(
    inner: &Inner,
    rows: Vec<ChunkRow>,
    delete: Option<(Tier, Timestamp, Timestamp)>,
) -> Result<(), StoreError> {
    let budget = inner.cfg().maintenance_tx_bytes.max(1);
    let stmt_budget = (budget / 4).max(1);
    let time_budget = inner.cfg().maintenance_tx_time;
    let mut i = 0;
    while i < rows.len() {
        // A closing store does not wait for a long compaction or merge: both are redone (and
        // replace identical chunks) after the next open.
        if inner.is_closing() {
            return Err(StoreError::Closed);
        }
        let mut conn = inner.writer(Hold::ChunkBatch).await?;
        let since = conn.since();
        let mut tx = conn.begin().await.map_err(sql("compacting"))?;
        let mut bytes = 0;
        let mut j = i;
        let mut deleted = 0;
        while j < rows.len() && (j == i || (bytes < budget && since.elapsed() < time_budget)) {
            let mut k = j;
            let mut part_bytes = 0;
            while k < rows.len()
                && (part_bytes < stmt_budget
                    || (k > j && rows[k].series_id == rows[k - 1].series_id))
            {
                part_bytes += rows[k].data.len() + 48;
                k += 1;
            }
            let part = &rows[j..k];
            chunks::write_rows(&mut tx, part).await?;
            if let Some((tier, from, to)) = delete {
                let mut ids: Vec<SeriesId> = part.iter().map(|r| r.series_id).collect();
                ids.dedup();
                let q = format!(
                    "DELETE FROM chunk INDEXED BY sqlite_autoindex_chunk_1 WHERE series_id IN ({}) AND tier = ? AND start_ts > ? AND start_ts < ?",
                    chunks::id_list(&ids)
                );
                deleted += sqlx::query(sqlx::AssertSqlSafe(q))
                    .persistent(false)
                    .bind(tier.code())
                    .bind(from)
                    .bind(to)
                    .execute(&mut *tx)
                    .await
                    .map_err(sql("replacing merged chunks"))?
                    .rows_affected();
            }
            bytes += part_bytes;
            j = k;
        }
        let t_rows = since.elapsed();
        tx.commit().await.map_err(sql("compacting"))?;
        if since.elapsed() > time_budget * 3 {
            tracing::debug!(
                rows_ms = t_rows.as_secs_f64() * 1000.0,
                commit_ms = (since.elapsed() - t_rows).as_secs_f64() * 1000.0,
                rows = j - i,
                bytes,
                "Slow chunk batch."
            );
        }
        drop(conn);
        inner.counters().chunks((j - i) as u64, deleted);
        i = j;
        tokio::task::yield_now().await;
    }
    Ok(())
}

async fn compact_block(
    inner: &Arc<Inner>,
    b: Timestamp,
    block: Arc<HeadBlock>,
) -> Result<(), StoreError> {
    let end = b + inner.cfg().block_ms;
    // Seal: from now on appends below `end` are rejected, so the block is immutable. Done under
    // the active head-log lane's append lock so that no append is half applied.
    {
        let append = inner.lanes().append_lock().await;
        let _hold = inner.counters().time(Hold::Marks);
        inner.head().seal(end, &append);
    }
    let started = std::time::Instant::now();
    let (ids, lasts): (Vec<SeriesId>, Vec<(Timestamp, f64)>) = block.lasts().into_iter().unzip();
    let batch_meta: Vec<(SeriesId, Option<f64>, bool)> = {
        let prevs = inner.head().compacted_last(&ids);
        let reg = inner.registry();
        ids.iter()
            .zip(prevs)
            .map(|(&id, prev)| {
                (
                    id,
                    prev.map(|p| p.1),
                    reg.kind(id) == Some(MetricKind::Counter),
                )
            })
            .collect()
    };
    let codecs = inner.cfg().codecs;
    for batch in batch_meta.chunks(4096) {
        let blk = block.clone();
        let batch = batch.to_vec();
        let rows = tokio::task::spawn_blocking(move || encode_batch(&blk, &batch, b, codecs))
            .await
            .map_err(|e| StoreError::Internal(format!("compaction worker failed: {e}")))?;
        write_in_txs(inner, rows, None).await?;
    }

    // Newest compacted sample per series after this block, persisted before the watermark moves.
    let mut state = inner.head().compacted_state();
    for (&id, &l) in ids.iter().zip(&lasts) {
        let idx = id as usize;
        if state.len() <= idx {
            state.resize(idx + 1, None);
        }
        state[idx] = Some(l);
    }
    for (part, slice) in state.chunks(codec::STATE_PART).enumerate() {
        let data = codec::encode_state(slice);
        let mut conn = inner.writer(Hold::SeriesState).await?;
        sqlx::query(
            "INSERT OR REPLACE INTO series_state (block_start, part, data) VALUES (?, ?, ?)",
        )
        .bind(b)
        .bind(part as i64)
        .bind(data)
        .execute(&mut *conn)
        .await
        .map_err(sql("writing series state"))?;
    }

    // Move the watermark: one small transaction. Readers switch from head to chunks atomically
    // because they take (watermark, head) from memory, updated below while holding the writer.
    let mut conn = inner.writer(Hold::Watermark).await?;
    let (merged_to, merged28_to) = {
        let m = inner.head().marks();
        (
            if m.merged_to == i64::MIN {
                b.div_euclid(DAY) * DAY
            } else {
                m.merged_to
            },
            if m.merged28_to == i64::MIN {
                b.div_euclid(SPAN28) * SPAN28
            } else {
                m.merged28_to
            },
        )
    };
    let mut tx = conn.begin().await.map_err(sql("finishing a compaction"))?;
    chunks::set_meta(&mut tx, "watermark", end).await?;
    chunks::set_meta(&mut tx, "merged_to", merged_to).await?;
    chunks::set_meta(&mut tx, "merged28_to", merged28_to).await?;
    sqlx::query("DELETE FROM series_state WHERE block_start < ?")
        .bind(b)
        .execute(&mut *tx)
        .await
        .map_err(sql("finishing a compaction"))?;
    tx.commit().await.map_err(sql("finishing a compaction"))?;
    let removed = inner
        .head()
        .finish_compaction(b, end, merged_to, merged28_to, state);
    drop(conn);
    // Free the block's memory outside every lock.
    drop(removed);
    drop(block);
    inner.counters().compaction();
    tracing::debug!(
        block = b,
        series = ids.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "Compacted a head block."
    );
    delete_head_log(inner, end).await
}

/// Deletes entries of the main database's head log (written by versions before the head-log
/// lanes) whose samples are all below the watermark, in transactions bounded by samples (20,000)
/// and by `maintenance_tx_time`. Lanes are cleaned when idle (see `lanes`).
async fn delete_head_log(inner: &Inner, below: Timestamp) -> Result<(), StoreError> {
    let time_budget = inner.cfg().maintenance_tx_time;
    loop {
        let rows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT id, n FROM head_log WHERE max_ts < ? ORDER BY id LIMIT 1000")
                .bind(below)
                .fetch_all(inner.readers())
                .await
                .map_err(sql("listing compacted head log entries"))?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut k = 0;
        while k < rows.len() {
            let mut conn = inner.writer(Hold::HeadLogCleanup).await?;
            let since = conn.since();
            let mut tx = conn
                .begin()
                .await
                .map_err(sql("deleting compacted head log entries"))?;
            let mut n = 0;
            let first = k;
            // One statement per few entries (each entry is one append of up to thousands of
            // samples, i.e. a few overflow pages to free).
            while k < rows.len() && (k == first || (n < 20_000 && since.elapsed() < time_budget)) {
                let mut j = k;
                let mut part = 0;
                while j < rows.len() && (j == k || part < 4_000) {
                    part += rows[j].1;
                    j += 1;
                }
                let ids: Vec<String> = rows[k..j].iter().map(|r| r.0.to_string()).collect();
                let q = format!("DELETE FROM head_log WHERE id IN ({})", ids.join(","));
                sqlx::query(sqlx::AssertSqlSafe(q))
                    .persistent(false)
                    .execute(&mut *tx)
                    .await
                    .map_err(sql("deleting compacted head log entries"))?;
                n += part;
                k = j;
            }
            tx.commit()
                .await
                .map_err(sql("deleting compacted head log entries"))?;
            drop(conn);
            tokio::task::yield_now().await;
        }
    }
}

/// Whether any chunk of `tier` ends in `[from, to)` (uses the tier/end index; skips empty spans).
async fn any_chunk(
    inner: &Inner,
    tier: Tier,
    from: Timestamp,
    to: Timestamp,
) -> Result<bool, StoreError> {
    let found: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM chunk WHERE tier = ? AND end_ts >= ? AND end_ts < ? LIMIT 1",
    )
    .bind(tier.code())
    .bind(from)
    .bind(to)
    .fetch_optional(inner.readers())
    .await
    .map_err(sql("looking for chunks to merge"))?;
    Ok(found.is_some())
}

fn all_ids(inner: &Inner) -> Vec<SeriesId> {
    inner.registry().ids().collect()
}

/// Decodes fetched rollup chunks grouped by series, in start order. A series with a corrupt chunk
/// is left out (and its chunks left in place), so a merge never replaces data it could not read.
fn group_rollups(
    inner: &Inner,
    tier: Tier,
    rows: Vec<chunks::FetchedChunk>,
) -> Vec<(SeriesId, Vec<super::Bucket>, usize)> {
    let mut out: Vec<(SeriesId, Vec<super::Bucket>, usize)> = Vec::new();
    let mut bad: Vec<SeriesId> = Vec::new();
    for (id, start, data) in rows {
        match codec::decode_rollup(&data) {
            Ok(b) => match out.last_mut() {
                Some(last) if last.0 == id => {
                    last.1.extend(b);
                    last.2 += 1;
                }
                _ => out.push((id, b, 1)),
            },
            Err(e) => {
                let _ = chunks::corrupt(inner, tier, id, start, e);
                bad.push(id);
            }
        }
    }
    out.retain(|s| !bad.contains(&s.0));
    out
}

/// Merges the 1m block chunks of complete days into one day chunk per series for each rollup tier.
async fn merge_days(inner: &Arc<Inner>) -> Result<(), StoreError> {
    loop {
        let m = inner.head().marks();
        let (d, watermark) = (m.merged_to, m.watermark);
        if d == i64::MIN || d + DAY > watermark {
            return Ok(());
        }
        if any_chunk(inner, Tier::M1, d, d + DAY).await? {
            for batch in all_ids(inner).chunks(512) {
                let rows =
                    chunks::fetch(inner.readers(), Tier::M1, batch, d, d + DAY, i64::MIN).await?;
                let codecs = inner.cfg().codecs;
                let grouped = group_rollups(inner, Tier::M1, rows);
                let out = tokio::task::spawn_blocking(move || {
                    let mut out = Vec::with_capacity(grouped.len() * 4);
                    for (id, buckets, _) in grouped {
                        let m1 = rollup_buckets(&buckets, MINUTE);
                        for tier in [Tier::M1, Tier::M5, Tier::H1, Tier::D1] {
                            let res = tier.resolution_ms().unwrap_or(MINUTE);
                            let b = if res == MINUTE {
                                m1.clone()
                            } else {
                                rollup_buckets(&m1, res)
                            };
                            out.push(ChunkRow {
                                series_id: id,
                                tier,
                                start: d,
                                end: b.last().map(|x| x.ts).unwrap_or(d),
                                n: b.len() as i64,
                                data: codec::encode_rollup(&b, codecs),
                            });
                        }
                    }
                    out
                })
                .await
                .map_err(|e| StoreError::Internal(format!("merge worker failed: {e}")))?;
                write_in_txs(inner, out, Some((Tier::M1, d, d + DAY))).await?;
            }
        }
        let next = d + DAY;
        let mut conn = inner.writer(Hold::Marks).await?;
        chunks::set_meta(&mut conn, "merged_to", next).await?;
        inner.head().set_merged_to(next);
    }
}

/// Merges the day chunks of the 1h and 1d tiers into 28-day chunks once a span is complete.
async fn merge_spans(inner: &Arc<Inner>) -> Result<(), StoreError> {
    loop {
        let m = inner.head().marks();
        let (s, merged_to) = (m.merged28_to, m.merged_to);
        if s == i64::MIN || s + SPAN28 > merged_to {
            return Ok(());
        }
        for tier in [Tier::H1, Tier::D1] {
            if !any_chunk(inner, tier, s, s + SPAN28).await? {
                continue;
            }
            let res = tier.resolution_ms().unwrap_or(DAY);
            for batch in all_ids(inner).chunks(512) {
                let rows =
                    chunks::fetch(inner.readers(), tier, batch, s, s + SPAN28, i64::MIN).await?;
                let codecs = inner.cfg().codecs;
                let grouped = group_rollups(inner, tier, rows);
                let out: Vec<ChunkRow> = grouped
                    .into_iter()
                    .filter(|g| g.2 > 1)
                    .map(|(id, buckets, _)| {
                        let b = rollup_buckets(&buckets, res);
                        ChunkRow {
                            series_id: id,
                            tier,
                            start: s,
                            end: b.last().map(|x| x.ts).unwrap_or(s),
                            n: b.len() as i64,
                            data: codec::encode_rollup(&b, codecs),
                        }
                    })
                    .collect();
                write_in_txs(inner, out, Some((tier, s, s + SPAN28))).await?;
            }
        }
        let next = s + SPAN28;
        let mut conn = inner.writer(Hold::Marks).await?;
        chunks::set_meta(&mut conn, "merged28_to", next).await?;
        inner.head().set_merged28_to(next);
    }
}

/// Runs `PRAGMA wal_checkpoint(PASSIVE)`: (WAL frames in use, frames copied into the database).
async fn passive(conn: &mut SqliteConnection) -> Result<(i64, i64), StoreError> {
    let (_busy, log, done): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(&mut *conn)
        .await
        .map_err(sql("checkpointing the WAL"))?;
    Ok((log, done))
}

/// fdatasync of the database file (through the store's long-lived descriptor: closing another
/// descriptor of it would drop SQLite's POSIX locks) and of the WAL file (which SQLite does not
/// lock), off the async workers.
async fn flush_files(inner: &Inner) -> Result<(), StoreError> {
    let db = inner.db_file();
    let mut wal = inner.cfg().path.clone().into_os_string();
    wal.push("-wal");
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        if let Some(db) = db {
            db.sync_data()?;
        }
        match std::fs::File::open(std::path::PathBuf::from(wal)) {
            Ok(f) => f.sync_data(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    })
    .await
    .map_err(|e| StoreError::Internal(format!("flush worker failed: {e}")))?
    .map_err(|e| StoreError::Internal(format!("flushing the database files: {e}")))
}

/// Bounds the WAL without holding the writer for long.
///
/// PASSIVE checkpoints run on their own connection and never block the writer, but under
/// continuous writes one never catches up completely, and SQLite only restarts the WAL (writes
/// from its start again) when a write transaction begins with every frame copied, so the WAL would
/// grow without bound. SQLite also syncs the database file only at the end of a checkpoint that
/// catches up, so every page copied since the last catch-up is still unsynced. Once the WAL passes
/// `wal_restart_bytes`:
/// 1. without the writer: an fdatasync of the database and WAL files and another PASSIVE round,
///    up to three times until at most 1 MiB is left to copy, then one more fdatasync: almost
///    everything is copied and flushed;
/// 2. one PASSIVE checkpoint while holding the writer: nothing new can be appended, so it copies
///    only the frames written since step 1, syncs the WAL before copying and the database after
///    (SQLite's own order, so power-loss safety is kept), and catches up unless a reader still
///    reads an older snapshot (then it is retried on the next round). The next append's
///    transaction then begins on a fully copied WAL and restarts it. A catch-up without the
///    writer is not enough: an append whose transaction began before it cannot restart the WAL,
///    and under continuous writes one nearly always has.
///
/// The hold is two device flushes of little data plus the residual copy.
pub(crate) async fn checkpoint(inner: &Inner) -> Result<(), StoreError> {
    let mut guard = inner.checkpointer().await;
    let Some(conn) = guard.as_mut() else {
        return Ok(());
    };
    let page = inner.page_size().max(512);
    let restart_frames = (inner.cfg().wal_restart_bytes / page).max(1) as i64;
    let (log, done) = passive(conn).await?;
    inner.counters().wal_seen(log.max(0) as u64 * page);
    if log <= restart_frames {
        return Ok(());
    }
    // Caught up is not enough: an append whose transaction began before the catch-up cannot
    // restart the WAL, and under continuous writes one nearly always has. Only a catch-up while
    // the writer is held guarantees that the next append restarts it.
    let fsync = inner.cfg().checkpoint_fsync;
    let (mut log, mut done) = (log, done);
    for _ in 0..3 {
        // Residual small enough (≤ 1 MiB) to copy and sync under the writer.
        if ((log - done).max(0) as u64) * page <= 1 << 20 {
            break;
        }
        if fsync {
            flush_files(inner).await?;
        }
        (log, done) = passive(conn).await?;
    }
    if fsync && log != done {
        flush_files(inner).await?;
    }
    // Held, not used: nothing can be appended to the main WAL meanwhile.
    let writer = match inner.writer(Hold::WalCheckpoint).await {
        Ok(w) => w,
        Err(StoreError::Closed) => return Ok(()),
        Err(e) => return Err(e),
    };
    let result = passive(conn).await;
    drop(writer);
    let (log, done) = result?;
    inner.counters().wal_locked_checkpoint(log == done);
    Ok(())
}

/// Deletes whole chunks older than each tier's retention, in transactions bounded by
/// `maintenance_tx_time` (and by 64 chunks).
pub(crate) async fn run_retention(inner: &Arc<Inner>, now: Timestamp) -> Result<(), StoreError> {
    let _guard = inner.maintenance().await;
    let time_budget = inner.cfg().maintenance_tx_time;
    for tier in Tier::ALL {
        let Some(keep) = inner.cfg().retention.for_tier(tier) else {
            continue;
        };
        let cutoff = now.saturating_sub(keep.as_millis().min(i64::MAX as u128) as i64);
        loop {
            let mut conn = inner.writer(Hold::Retention).await?;
            let since = conn.since();
            let mut tx = conn.begin().await.map_err(sql("applying retention"))?;
            let mut deleted = 0;
            let mut more = true;
            while more && (deleted == 0 || (deleted < 64 && since.elapsed() < time_budget)) {
                let n = sqlx::query(
                    "DELETE FROM chunk WHERE rowid IN (SELECT rowid FROM chunk WHERE tier = ? AND end_ts < ? LIMIT 16)",
                )
                .bind(tier.code())
                .bind(cutoff)
                .execute(&mut *tx)
                .await
                .map_err(sql("applying retention"))?
                .rows_affected();
                deleted += n;
                more = n == 16;
            }
            tx.commit().await.map_err(sql("applying retention"))?;
            drop(conn);
            inner.counters().chunks(0, deleted);
            if !more {
                break;
            }
            tokio::task::yield_now().await;
        }
        let mut conn = inner.writer(Hold::Marks).await?;
        if cutoff > inner.head().retained_from()[tier as usize] {
            chunks::set_meta(&mut conn, RETAINED_KEYS[tier as usize], cutoff).await?;
            inner.head().set_retained_from(tier, cutoff);
        }
    }
    checkpoint(inner).await
}

pub(crate) const RETAINED_KEYS: [&str; 5] = [
    "retained_raw",
    "retained_1m",
    "retained_5m",
    "retained_1h",
    "retained_1d",
];
