//! Background maintenance: sealing head blocks, compacting them into raw and 1m chunks, merging
//! 1m block chunks into day chunks of every rollup tier, merging 1h/1d day chunks into 28-day
//! chunks, and WAL checkpoints. Every write is a small transaction on the single writer, so
//! ingest waits at most one of them.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use sqlx::Connection;

use crate::model::{MetricKind, Timestamp};

use super::chunks::{self, ChunkRow, TxTimer};
use super::codec::{self, ValueCodecs};
use super::head::{HeadBlock, rd, wr};
use super::rollup::{rollup_buckets, rollup_samples};
use super::{DAY, Inner, MINUTE, SeriesId, StoreError, Tier, sql};

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
    let _guard = inner.maintenance.lock().await;
    compact_ready_blocks(inner, force).await?;
    merge_days(inner).await?;
    merge_spans(inner).await?;
    checkpoint(inner).await
}

async fn compact_ready_blocks(inner: &Arc<Inner>, force: bool) -> Result<(), StoreError> {
    loop {
        let next = {
            let h = rd(&inner.head);
            let grace = if force { 0 } else { inner.cfg.grace_ms };
            h.blocks
                .iter()
                .next()
                .filter(|(b, _)| {
                    **b + h.block_ms + grace <= h.max_ts.saturating_add(if force { 1 } else { 0 })
                })
                .map(|(b, blk)| (*b, blk.clone()))
        };
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
    let series = rd(&block.series);
    let mut rows = Vec::with_capacity(batch.len() * 2);
    for &(id, prev, counter) in batch {
        let Some(buf) = series.get(id as usize).filter(|b| !b.is_empty()) else {
            continue;
        };
        let buf = buf.decode();
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

/// Writes rows in transactions of about `maintenance_tx_bytes`, optionally deleting superseded
/// chunks (tier, ids, start range exclusive of the span start) in the same transaction.
async fn write_in_txs(
    inner: &Inner,
    rows: Vec<ChunkRow>,
    delete: Option<(Tier, Timestamp, Timestamp)>,
) -> Result<(), StoreError> {
    let budget = inner.cfg.maintenance_tx_bytes.max(1);
    let mut i = 0;
    while i < rows.len() {
        let mut bytes = 0;
        let mut j = i;
        // Never split one series' rows across transactions when deleting its old chunks.
        while j < rows.len()
            && (bytes < budget || (j > i && rows[j].series_id == rows[j - 1].series_id))
        {
            bytes += rows[j].data.len() + 48;
            j += 1;
        }
        let part = &rows[i..j];
        let mut guard = inner.writer.lock().await;
        let conn = guard.as_mut().ok_or(StoreError::Closed)?;
        let timer = TxTimer::start();
        let mut tx = conn.begin().await.map_err(sql("compacting"))?;
        let t_begin = timer.elapsed_ms();
        chunks::write_rows(&mut tx, part).await?;
        let t_rows = timer.elapsed_ms();
        let mut deleted = 0;
        if let Some((tier, from, to)) = delete {
            let mut ids: Vec<SeriesId> = part.iter().map(|r| r.series_id).collect();
            ids.dedup();
            let q = format!(
                "DELETE FROM chunk INDEXED BY sqlite_autoindex_chunk_1 WHERE series_id IN ({}) AND tier = ? AND start_ts > ? AND start_ts < ?",
                chunks::id_list(&ids)
            );
            deleted = sqlx::query(sqlx::AssertSqlSafe(q))
                .persistent(false)
                .bind(tier.code())
                .bind(from)
                .bind(to)
                .execute(&mut *tx)
                .await
                .map_err(sql("replacing merged chunks"))?
                .rows_affected();
        }
        let t_delete = timer.elapsed_ms();
        tx.commit().await.map_err(sql("compacting"))?;
        if timer.elapsed_ms() > 50.0 {
            tracing::debug!(
                t_begin,
                t_rows,
                t_delete,
                rows = part.len(),
                "Slow chunk batch breakdown."
            );
        }
        timer.finish(inner, "chunk batch");
        drop(guard);
        inner
            .counters
            .chunks_written
            .fetch_add(part.len() as u64, Ordering::Relaxed);
        inner
            .counters
            .chunks_deleted
            .fetch_add(deleted, Ordering::Relaxed);
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
    let end = b + inner.cfg.block_ms;
    // Seal: from now on appends below `end` are rejected, so the block is immutable. Done under
    // the writer lock so that no append is half applied.
    {
        let _w = inner.writer.lock().await;
        let mut h = wr(&inner.head);
        h.floor = h.floor.max(end);
    }
    let started = std::time::Instant::now();
    let (ids, lasts): (Vec<SeriesId>, Vec<(Timestamp, f64)>) = {
        let s = rd(&block.series);
        s.iter()
            .enumerate()
            .filter_map(|(i, buf)| buf.last().map(|l| (i as SeriesId, l)))
            .unzip()
    };
    let batch_meta: Vec<(SeriesId, Option<f64>, bool)> = {
        let h = rd(&inner.head);
        let reg = rd(&inner.registry);
        ids.iter()
            .map(|&id| {
                let prev = h.compacted_last(id).map(|p| p.1);
                (id, prev, reg.kind(id) == Some(MetricKind::Counter))
            })
            .collect()
    };
    let codecs = inner.cfg.codecs;
    for batch in batch_meta.chunks(4096) {
        let blk = block.clone();
        let batch = batch.to_vec();
        let rows = tokio::task::spawn_blocking(move || encode_batch(&blk, &batch, b, codecs))
            .await
            .map_err(|e| StoreError::Internal(format!("compaction worker failed: {e}")))?;
        write_in_txs(inner, rows, None).await?;
    }

    // Newest compacted sample per series after this block, persisted before the watermark moves.
    let mut state = rd(&inner.head).compacted_last.clone();
    for (&id, &l) in ids.iter().zip(&lasts) {
        let idx = id as usize;
        if state.len() <= idx {
            state.resize(idx + 1, None);
        }
        state[idx] = Some(l);
    }
    for (part, slice) in state.chunks(chunks::STATE_PART).enumerate() {
        let data = chunks::encode_state(slice);
        let mut guard = inner.writer.lock().await;
        let conn = guard.as_mut().ok_or(StoreError::Closed)?;
        let timer = TxTimer::start();
        sqlx::query(
            "INSERT OR REPLACE INTO series_state (block_start, part, data) VALUES (?, ?, ?)",
        )
        .bind(b)
        .bind(part as i64)
        .bind(data)
        .execute(&mut *conn)
        .await
        .map_err(sql("writing series state"))?;
        timer.finish(inner, "series state");
    }

    // Move the watermark: one small transaction. Readers switch from head to chunks atomically
    // because they take (watermark, head) from memory, updated below while holding the writer.
    let mut guard = inner.writer.lock().await;
    let conn = guard.as_mut().ok_or(StoreError::Closed)?;
    let timer = TxTimer::start();
    let (merged_to, merged28_to) = {
        let h = rd(&inner.head);
        (
            if h.merged_to == i64::MIN {
                b.div_euclid(DAY) * DAY
            } else {
                h.merged_to
            },
            if h.merged28_to == i64::MIN {
                b.div_euclid(SPAN28) * SPAN28
            } else {
                h.merged28_to
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
    timer.finish(inner, "watermark");
    let removed = {
        let mut h = wr(&inner.head);
        h.watermark = end;
        h.floor = h.floor.max(end);
        h.merged_to = merged_to;
        h.merged28_to = merged28_to;
        h.compacted_last = state;
        let removed = h.blocks.remove(&b);
        let n: u64 = rd(&block.series).iter().map(|s| s.len() as u64).sum();
        h.samples = h.samples.saturating_sub(n);
        removed
    };
    drop(guard);
    // Free the block's memory outside every lock.
    drop(removed);
    drop(block);
    inner.counters.compactions.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(
        block = b,
        series = ids.len(),
        elapsed_ms = started.elapsed().as_millis() as u64,
        "Compacted a head block."
    );
    delete_head_log(inner, end).await
}

/// Deletes head log entries whose samples are all below the watermark, a few MB per transaction.
async fn delete_head_log(inner: &Inner, below: Timestamp) -> Result<(), StoreError> {
    loop {
        let rows: Vec<(i64, i64)> =
            sqlx::query_as("SELECT id, n FROM head_log WHERE max_ts < ? ORDER BY id LIMIT 1000")
                .bind(below)
                .fetch_all(&inner.readers)
                .await
                .map_err(sql("listing compacted head log entries"))?;
        if rows.is_empty() {
            return Ok(());
        }
        let mut k = 0;
        while k < rows.len() {
            let mut n = 0;
            let mut j = k;
            while j < rows.len() && (j == k || n < 20_000) {
                n += rows[j].1;
                j += 1;
            }
            let ids: Vec<String> = rows[k..j].iter().map(|r| r.0.to_string()).collect();
            let q = format!("DELETE FROM head_log WHERE id IN ({})", ids.join(","));
            let mut guard = inner.writer.lock().await;
            let conn = guard.as_mut().ok_or(StoreError::Closed)?;
            let timer = TxTimer::start();
            sqlx::query(sqlx::AssertSqlSafe(q))
                .persistent(false)
                .execute(&mut *conn)
                .await
                .map_err(sql("deleting compacted head log entries"))?;
            timer.finish(inner, "head log cleanup");
            drop(guard);
            k = j;
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
    .fetch_optional(&inner.readers)
    .await
    .map_err(sql("looking for chunks to merge"))?;
    Ok(found.is_some())
}

fn all_ids(inner: &Inner) -> Vec<SeriesId> {
    rd(&inner.registry).ids().collect()
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
        let (d, watermark) = {
            let h = rd(&inner.head);
            (h.merged_to, h.watermark)
        };
        if d == i64::MIN || d + DAY > watermark {
            return Ok(());
        }
        if any_chunk(inner, Tier::M1, d, d + DAY).await? {
            for batch in all_ids(inner).chunks(512) {
                let rows =
                    chunks::fetch(&inner.readers, Tier::M1, batch, d, d + DAY, i64::MIN).await?;
                let codecs = inner.cfg.codecs;
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
        let mut guard = inner.writer.lock().await;
        let conn = guard.as_mut().ok_or(StoreError::Closed)?;
        chunks::set_meta(conn, "merged_to", next).await?;
        wr(&inner.head).merged_to = next;
    }
}

/// Merges the day chunks of the 1h and 1d tiers into 28-day chunks once a span is complete.
async fn merge_spans(inner: &Arc<Inner>) -> Result<(), StoreError> {
    loop {
        let (s, merged_to) = {
            let h = rd(&inner.head);
            (h.merged28_to, h.merged_to)
        };
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
                    chunks::fetch(&inner.readers, tier, batch, s, s + SPAN28, i64::MIN).await?;
                let codecs = inner.cfg.codecs;
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
        let mut guard = inner.writer.lock().await;
        let conn = guard.as_mut().ok_or(StoreError::Closed)?;
        chunks::set_meta(conn, "merged28_to", next).await?;
        wr(&inner.head).merged28_to = next;
    }
}

/// WAL frames above which a checkpoint also resets the WAL (256 MiB at 16 KiB pages).
const WAL_RESTART_FRAMES: i64 = 16_384;

/// PASSIVE checkpoint on its own connection: copies WAL pages into the database without taking the
/// writer lock, so ingest never waits for it. Under continuous writes a PASSIVE checkpoint never
/// catches up completely, so the WAL would never restart and would grow without bound; when it
/// exceeds [`WAL_RESTART_FRAMES`], a FULL checkpoint runs while holding the writer mutex. It only
/// has the frames written since the PASSIVE pass left to copy, so appends wait briefly.
pub(crate) async fn checkpoint(inner: &Inner) -> Result<(), StoreError> {
    let mut guard = inner.checkpointer.lock().await;
    let Some(conn) = guard.as_mut() else {
        return Ok(());
    };
    let (_busy, log, _done): (i64, i64, i64) = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(&mut *conn)
        .await
        .map_err(sql("checkpointing the WAL"))?;
    if log > WAL_RESTART_FRAMES {
        let _writer = inner.writer.lock().await;
        let timer = TxTimer::start();
        // FULL, not RESTART: it waits for no reader to leave the WAL (short reads would make the
        // busy handler sleep in growing steps); with every frame copied, the writer's next
        // transaction restarts the WAL from its start.
        sqlx::query("PRAGMA wal_checkpoint(FULL)")
            .execute(&mut *conn)
            .await
            .map_err(sql("completing a WAL checkpoint"))?;
        timer.finish(inner, chunks::WAL_CHECKPOINT);
    }
    Ok(())
}

/// Deletes whole chunks older than each tier's retention, 64 per transaction.
pub(crate) async fn run_retention(inner: &Arc<Inner>, now: Timestamp) -> Result<(), StoreError> {
    let _guard = inner.maintenance.lock().await;
    for tier in Tier::ALL {
        let Some(keep) = inner.cfg.retention.for_tier(tier) else {
            continue;
        };
        let cutoff = now.saturating_sub(keep.as_millis().min(i64::MAX as u128) as i64);
        loop {
            let mut guard = inner.writer.lock().await;
            let conn = guard.as_mut().ok_or(StoreError::Closed)?;
            let timer = TxTimer::start();
            let deleted = sqlx::query(
                "DELETE FROM chunk WHERE rowid IN (SELECT rowid FROM chunk WHERE tier = ? AND end_ts < ? LIMIT 64)",
            )
            .bind(tier.code())
            .bind(cutoff)
            .execute(&mut *conn)
            .await
            .map_err(sql("applying retention"))?
            .rows_affected();
            timer.finish(inner, "retention");
            drop(guard);
            inner
                .counters
                .chunks_deleted
                .fetch_add(deleted, Ordering::Relaxed);
            if deleted == 0 {
                break;
            }
            tokio::task::yield_now().await;
        }
        let mut guard = inner.writer.lock().await;
        let conn = guard.as_mut().ok_or(StoreError::Closed)?;
        let mut h_from = rd(&inner.head).retained_from(tier);
        if cutoff > h_from {
            h_from = cutoff;
            chunks::set_meta(conn, RETAINED_KEYS[tier as usize], h_from).await?;
            wr(&inner.head).retained_from[tier as usize] = h_from;
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
