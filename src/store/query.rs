//! Reads: tier selection, and range queries that merge compressed chunks (below the compaction
//! watermark) with the in-memory head (above it) into aligned buckets.

use crate::model::Timestamp;

use std::collections::HashMap;

use crate::model::MetricKind;

use super::chunks::{self, FetchedChunk};
use super::codec;
use super::compact::max_span;
use super::head::{Head, SeriesSnap, rd};
use super::rollup::{Bucketer, counter_increase};
use super::{Inner, SeriesId, SeriesInfo, SeriesRange, StoreError, Tier};

/// Fetched chunks of one source grouped by series: (span start, data) in start order.
type ChunksBySeries = HashMap<SeriesId, Vec<(Timestamp, Vec<u8>)>>;

const COARSE_FIRST: [Tier; 4] = [Tier::D1, Tier::H1, Tier::M5, Tier::M1];
const FINE_FIRST: [Tier; 4] = [Tier::M1, Tier::M5, Tier::H1, Tier::D1];

fn round_up(v: i64, m: i64) -> i64 {
    ((v + m - 1) / m) * m
}

fn covers(head: &Head, tier: Tier, start: Timestamp) -> bool {
    head.retained_from(tier) <= start
}

/// For a chart: the coarsest tier whose resolution is at most the wanted step (fewest rows read,
/// still exact), provided retention has kept it at `start`; the step rounded up to a multiple of
/// the tier's resolution so that tier buckets nest in output buckets.
pub(crate) fn choose_for_points(head: &Head, start: Timestamp, want: i64) -> (Tier, i64) {
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
pub(crate) fn choose_for_step(head: &Head, start: Timestamp, step: i64) -> Tier {
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

/// The head part of a query, taken under one read lock so that it is consistent with the
/// watermark it was taken at.
pub(crate) struct HeadView {
    pub watermark: Timestamp,
    pub merged_to: Timestamp,
    pub series: Vec<(SeriesInfo, SeriesSnap)>,
}

fn head_view(inner: &Inner, ids: &[SeriesId], lo: Timestamp, hi: Timestamp) -> HeadView {
    let infos: Vec<Option<SeriesInfo>> = {
        let reg = rd(&inner.registry);
        ids.iter().map(|&id| reg.info(id).cloned()).collect()
    };
    let h = rd(&inner.head);
    let head_lo = lo.max(h.watermark);
    let series = infos
        .into_iter()
        .flatten()
        .map(|info| {
            let snap = if head_lo < hi {
                h.snapshot_series(info.id, head_lo, hi)
            } else {
                SeriesSnap::default()
            };
            (info, snap)
        })
        .collect();
    HeadView {
        watermark: h.watermark,
        merged_to: h.merged_to,
        series,
    }
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
    let block_ms = inner.cfg.block_ms;
    let w = view.watermark;

    // Chunk sources, oldest first: (tier of the chunks, fetched rows).
    let mut sources: Vec<(Tier, Vec<FetchedChunk>)> = Vec::new();
    if w > lo {
        let upto = hi.min(w);
        match tier {
            Tier::Raw | Tier::M1 => {
                let lookback = max_span(tier, block_ms);
                let rows = chunks::fetch(
                    &inner.readers,
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
                        &inner.readers,
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
                let rows = chunks::fetch(&inner.readers, Tier::M1, &known, from, upto, lo).await?;
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
    let mut out: Vec<Option<(Timestamp, f64)>> = {
        let h = rd(&inner.head);
        ids.iter()
            .map(|&id| {
                let found = h.value_at(id, at, lo);
                if found.is_some() {
                    return found;
                }
                match h.compacted_last(id) {
                    Some(p) if p.0 <= at => (p.0 >= lo).then_some(p),
                    Some(_) => {
                        // The newest compacted sample is after `at`: look in the raw chunks.
                        need_chunks.push(id);
                        None
                    }
                    None => None,
                }
            })
            .collect()
    };
    if need_chunks.is_empty() {
        return Ok(out);
    }
    need_chunks.sort_unstable();
    need_chunks.dedup();
    let block_ms = inner.cfg.block_ms;
    let rows = chunks::fetch(
        &inner.readers,
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
