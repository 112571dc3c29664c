//! Reads: tier selection, and range queries that merge compressed chunks (below the compaction
//! watermark) with the in-memory head (above it) into aligned buckets.

use crate::model::Timestamp;

use std::collections::HashMap;

use crate::model::MetricKind;

use super::chunks::{self, FetchedChunk};
use super::codec;
use super::compact::max_span;
use super::engine::Inner;
use super::head::HeadView;
use super::rollup::{Bucketer, counter_increase};
use super::{SeriesId, SeriesInfo, SeriesRange, StoreError, Tier};

/// Fetched chunks of one source grouped by series: (span start, data) in start order.
type ChunksBySeries = HashMap<SeriesId, Vec<(Timestamp, Vec<u8>)>>;

const COARSE_FIRST: [Tier; 4] = [Tier::D1, Tier::H1, Tier::M5, Tier::M1];
const FINE_FIRST: [Tier; 4] = [Tier::M1, Tier::M5, Tier::H1, Tier::D1];

fn round_up(v: i64, m: i64) -> i64 {
    ((v + m - 1) / m) * m
}

/// Per tier (indexed by `Tier as usize`): data older than this was dropped by retention.
type Retained = [Timestamp; 5];

fn covers(head: &Retained, tier: Tier, start: Timestamp) -> bool {
    head[tier as usize] <= start
}

/// For a chart: the coarsest tier whose resolution is at most the wanted step (fewest rows read,
/// still exact), provided retention has kept it at `start`; the step rounded up to a multiple of
/// the tier's resolution so that tier buckets nest in output buckets.
pub(crate) fn choose_for_points(head: &Retained, start: Timestamp, want: i64) -> (Tier, i64) {
    for t in COARSE_FIRST {
        let res = t.resolution_ms().unwrap_or(1);
        if res <= want && covers(head, t, start) {
            return (t, round_up(want, res));
        }
    }
    if covers(head, Tier::Raw, start) {
        return (Tier::Raw, want);
    }
    for t in FINE_FIRST {
        if covers(head, t, start) {
            let res = t.resolution_ms().unwrap_or(1);
            return (t, round_up(want.max(res), res));
        }
    }
    (Tier::D1, round_up(want.max(super::DAY), super::DAY))
}

/// For an explicit step: the coarsest tier whose resolution divides the step and that still holds
/// data at `start`; raw when none does; else the finest tier that still has data at `start`.
pub(crate) fn choose_for_step(head: &Retained, start: Timestamp, step: i64) -> Tier {
    for t in COARSE_FIRST {
        let res = t.resolution_ms().unwrap_or(1);
        if step % res == 0 && covers(head, t, start) {
            return t;
        }
    }
    if covers(head, Tier::Raw, start) {
        return Tier::Raw;
    }
    FINE_FIRST
        .into_iter()
        .find(|&t| covers(head, t, start))
        .unwrap_or(Tier::D1)
}

fn head_view(inner: &Inner, ids: &[SeriesId], lo: Timestamp, hi: Timestamp) -> HeadView {
    let infos: Vec<SeriesInfo> = {
        let reg = inner.registry();
        ids.iter().filter_map(|&id| reg.info(id).cloned()).collect()
    };
    inner.head().view(infos, |i| i.id, lo, hi)
}

/// [`head_view`] for readers that need only the ids (no copy of each series' labels).
fn head_view_ids(
    inner: &Inner,
    ids: &[SeriesId],
    lo: Timestamp,
    hi: Timestamp,
) -> HeadView<SeriesId> {
    let known: Vec<SeriesId> = {
        let reg = inner.registry();
        ids.iter()
            .copied()
            .filter(|&id| reg.info(id).is_some())
            .collect()
    };
    inner.head().view(known, |id| *id, lo, hi)
}

pub(crate) async fn run(
    inner: &Inner,
    ids: &[SeriesId],
    start: Timestamp,
    end: Timestamp,
    step: i64,
    tier: Tier,
) -> Result<Vec<SeriesRange>, StoreError> {
    let lo = start.div_euclid(step).saturating_mul(step);
    // Nothing after `end` is read: the last bucket holds the samples up to `end` (not up to the
    // next step boundary), and rollup buckets reaching past `end` are left out below.
    let hi = end.saturating_add(1);
    let view = head_view(inner, ids, lo, hi);
    let known: Vec<SeriesId> = view.series.iter().map(|s| s.0.id).collect();
    let block_ms = inner.cfg().block_ms;
    let w = view.watermark;

    // Chunk sources, oldest first: (tier of the chunks, fetched rows).
    let mut sources: Vec<(Tier, Vec<FetchedChunk>)> = Vec::new();
    if w > lo {
        let upto = hi.min(w);
        match tier {
            Tier::Raw | Tier::M1 => {
                let lookback = max_span(tier, block_ms);
                let rows = chunks::fetch(
                    inner.readers(),
                    tier,
                    &known,
                    lo.saturating_sub(lookback - 1),
                    upto,
                    lo,
                )
                .await?;
                sources.push((tier, rows));
            }
            _ => {
                // Materialised tier chunks below merged_to, then 1m block chunks up to the watermark.
                let m = view.merged_to;
                if m > lo {
                    let lookback = max_span(tier, block_ms);
                    let rows = chunks::fetch(
                        inner.readers(),
                        tier,
                        &known,
                        lo.saturating_sub(lookback - 1),
                        upto.min(m),
                        lo,
                    )
                    .await?;
                    sources.push((tier, rows));
                }
                let from = m.max(lo.saturating_sub(block_ms - 1));
                let rows = chunks::fetch(inner.readers(), Tier::M1, &known, from, upto, lo).await?;
                sources.push((Tier::M1, rows));
            }
        }
    }

    // Group each source's rows by series (callers may pass ids in any order).
    let grouped: Vec<(Tier, ChunksBySeries)> = sources
        .into_iter()
        .map(|(t, rows)| {
            let mut m: ChunksBySeries = HashMap::new();
            for (id, cstart, data) in rows {
                m.entry(id).or_default().push((cstart, data));
            }
            (t, m)
        })
        .collect();
    let mut out = Vec::with_capacity(view.series.len());
    for (info, snap) in view.series {
        let id = info.id;
        let counter = info.kind == MetricKind::Counter;
        let mut b = Bucketer::new(step, lo, hi);
        for (src_tier, by_series) in &grouped {
            for (cstart, data) in by_series.get(&id).map(|v| v.as_slice()).unwrap_or(&[]) {
                if *src_tier == Tier::Raw {
                    let chunk = codec::decode_raw(data)
                        .map_err(|e| chunks::corrupt(inner, Tier::Raw, id, *cstart, e))?;
                    let mut prev = chunk.prev;
                    for (&ts, &v) in chunk.ts.iter().zip(&chunk.vals) {
                        let inc = if counter {
                            counter_increase(prev, v)
                        } else {
                            0.0
                        };
                        b.add_sample(ts, v, inc);
                        prev = Some(v);
                    }
                } else {
                    let buckets = codec::decode_rollup(data)
                        .map_err(|e| chunks::corrupt(inner, *src_tier, id, *cstart, e))?;
                    let res = src_tier.resolution_ms().unwrap_or(1);
                    for x in buckets.iter().filter(|x| x.ts.saturating_add(res) <= hi) {
                        b.add_bucket(x);
                    }
                }
            }
        }
        let mut prev = snap.prev.map(|p| p.1);
        for &(ts, v) in &snap.samples {
            let inc = if counter {
                counter_increase(prev, v)
            } else {
                0.0
            };
            b.add_sample(ts, v, inc);
            prev = Some(v);
        }
        out.push(SeriesRange {
            series: info,
            tier,
            step_ms: step,
            buckets: b.finish(),
        });
    }
    Ok(out)
}

pub(crate) async fn value_at(
    inner: &Inner,
    ids: &[SeriesId],
    at: Timestamp,
    lookback_ms: i64,
) -> Result<Vec<Option<(Timestamp, f64)>>, StoreError> {
    let lo = at.saturating_sub(lookback_ms.max(0));
    let mut need_chunks: Vec<SeriesId> = Vec::new();
    let mut out: Vec<Option<(Timestamp, f64)>> = Vec::with_capacity(ids.len());
    for (&id, (found, in_chunks)) in ids.iter().zip(inner.head().value_at(ids, at, lo)) {
        if in_chunks {
            need_chunks.push(id);
        }
        out.push(found);
    }
    if need_chunks.is_empty() {
        return Ok(out);
    }
    need_chunks.sort_unstable();
    need_chunks.dedup();
    let block_ms = inner.cfg().block_ms;
    let rows = chunks::fetch(
        inner.readers(),
        Tier::Raw,
        &need_chunks,
        lo.saturating_sub(block_ms - 1),
        at.saturating_add(1),
        lo,
    )
    .await?;
    let mut found: std::collections::HashMap<SeriesId, (Timestamp, f64)> =
        std::collections::HashMap::new();
    for (id, cstart, data) in rows {
        let chunk = codec::decode_raw(&data)
            .map_err(|e| chunks::corrupt(inner, Tier::Raw, id, cstart, e))?;
        let i = chunk.ts.partition_point(|&t| t <= at);
        if i > 0 && chunk.ts[i - 1] >= lo {
            // Rows come in start order, so a later chunk's hit is newer.
            found.insert(id, (chunk.ts[i - 1], chunk.vals[i - 1]));
        }
    }
    for (slot, id) in out.iter_mut().zip(ids) {
        if slot.is_none()
            && let Some(p) = found.get(id)
        {
            *slot = Some(*p);
        }
    }
    Ok(out)
}

/// Above this many bytes of chunk data, a raw read decodes on the blocking pool rather than on
/// an async worker (decoding runs at tens of millions of samples per second, so smaller reads
/// finish faster than a hand-off).
const BLOCKING_DECODE_BYTES: usize = 256 * 1024;

/// Why decoding raw chunk rows stopped.
enum RawDecodeError {
    Corrupt {
        id: SeriesId,
        start: Timestamp,
        source: codec::CodecError,
    },
    TooMany,
}

/// Decodes raw chunk rows (ordered by series and start) into the samples in `[lo, hi)` per
/// series, stopping as soon as more than `budget` samples are in range.
fn decode_raw_rows(
    rows: Vec<FetchedChunk>,
    lo: Timestamp,
    hi: Timestamp,
    budget: usize,
) -> Result<HashMap<SeriesId, Vec<(Timestamp, f64)>>, RawDecodeError> {
    let mut out: HashMap<SeriesId, Vec<(Timestamp, f64)>> = HashMap::new();
    let mut total = 0usize;
    for (id, start, data) in rows {
        let chunk = codec::decode_raw(&data).map_err(|source| RawDecodeError::Corrupt {
            id,
            start,
            source,
        })?;
        let from = chunk.ts.partition_point(|&t| t < lo);
        let to = chunk.ts.partition_point(|&t| t < hi);
        if to <= from {
            continue;
        }
        total += to - from;
        if total > budget {
            return Err(RawDecodeError::TooMany);
        }
        out.entry(id).or_default().extend(
            chunk.ts[from..to]
                .iter()
                .copied()
                .zip(chunk.vals[from..to].iter().copied()),
        );
    }
    Ok(out)
}

/// Raw samples with `start <= ts <= end`, one vector per requested id (empty for an unknown id),
/// straight from the raw chunks below the watermark and the head above it. Fails with
/// `TooManySamples` once more than `max_samples` samples (all series together) are in range.
pub(crate) async fn raw_samples(
    inner: &std::sync::Arc<Inner>,
    ids: &[SeriesId],
    start: Timestamp,
    end: Timestamp,
    max_samples: usize,
) -> Result<Vec<Vec<(Timestamp, f64)>>, StoreError> {
    if end < start {
        return Err(StoreError::InvalidQuery(format!(
            "end {end} is before start {start}"
        )));
    }
    let too_many = || StoreError::TooManySamples { limit: max_samples };
    let (lo, hi) = (start, end.saturating_add(1));
    let view = head_view_ids(inner, ids, lo, hi);
    // The head is in memory: count it before reading any chunk.
    let in_head: usize = view.series.iter().map(|s| s.1.samples.len()).sum();
    if in_head > max_samples {
        return Err(too_many());
    }
    let mut known: Vec<SeriesId> = view.series.iter().map(|s| s.0).collect();
    known.sort_unstable();
    known.dedup();
    let w = view.watermark;
    let rows = if w > lo {
        let block_ms = inner.cfg().block_ms;
        chunks::fetch(
            inner.readers(),
            Tier::Raw,
            &known,
            lo.saturating_sub(block_ms - 1),
            hi.min(w),
            lo,
        )
        .await?
    } else {
        Vec::new()
    };
    let budget = max_samples - in_head;
    let bytes: usize = rows.iter().map(|r| r.2.len()).sum();
    let decoded = if bytes > BLOCKING_DECODE_BYTES {
        tokio::task::spawn_blocking(move || decode_raw_rows(rows, lo, hi, budget))
            .await
            .map_err(|e| StoreError::Internal(format!("chunk decoding worker failed: {e}")))?
    } else {
        decode_raw_rows(rows, lo, hi, budget)
    };
    let mut from_chunks = decoded.map_err(|e| match e {
        RawDecodeError::Corrupt { id, start, source } => {
            chunks::corrupt(inner, Tier::Raw, id, start, source)
        }
        RawDecodeError::TooMany => too_many(),
    })?;
    // Head samples follow the chunk samples of a series: they are all at or above the watermark.
    let mut seen = std::collections::HashSet::new();
    for (id, snap) in view.series {
        if seen.insert(id) {
            from_chunks.entry(id).or_default().extend(snap.samples);
        }
    }
    let mut total = 0usize;
    let mut out = Vec::with_capacity(ids.len());
    let mut remaining: HashMap<SeriesId, usize> = HashMap::new();
    for id in ids {
        *remaining.entry(*id).or_default() += 1;
    }
    for id in ids {
        // A repeated id gets its samples again (and counts again).
        let left = remaining.get_mut(id).map(|n| {
            *n -= 1;
            *n
        });
        let samples = if left.unwrap_or(0) > 0 {
            from_chunks.get(id).cloned().unwrap_or_default()
        } else {
            from_chunks.remove(id).unwrap_or_default()
        };
        total += samples.len();
        if total > max_samples {
            return Err(too_many());
        }
        out.push(samples);
    }
    Ok(out)
}
