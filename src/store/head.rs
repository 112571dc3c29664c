//! The in-memory head: every sample at or above the compaction watermark, grouped into aligned
//! time blocks, each block holding one time-ordered buffer per series. A block is sealed (no more
//! appends) once ingest has moved past it, compacted into chunks, and then dropped.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::model::Timestamp;

use super::{SeriesId, Tier};

pub(crate) fn rd<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn wr<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// Samples of one series in one block, ascending by timestamp, unique timestamps.
pub(crate) type SeriesBuf = Vec<(Timestamp, f64)>;

/// Inserts a sample keeping the buffer sorted. A duplicate timestamp replaces the earlier value
/// (last write wins). Returns true when the sample added a new timestamp.
#[inline]
pub(crate) fn insert_sample(buf: &mut SeriesBuf, ts: Timestamp, v: f64) -> bool {
    match buf.last_mut() {
        None => {
            buf.push((ts, v));
            true
        }
        Some(last) if ts > last.0 => {
            buf.push((ts, v));
            true
        }
        Some(last) if ts == last.0 => {
            last.1 = v;
            false
        }
        Some(_) => match buf.binary_search_by(|p| p.0.cmp(&ts)) {
            Ok(i) => {
                buf[i].1 = v;
                false
            }
            Err(i) => {
                buf.insert(i, (ts, v));
                true
            }
        },
    }
}

pub(crate) struct HeadBlock {
    /// Indexed by series id.
    pub series: RwLock<Vec<SeriesBuf>>,
}

pub(crate) struct Head {
    pub block_ms: i64,
    /// Everything below is in chunks; everything at or above is in the head.
    pub watermark: Timestamp,
    /// Appends below are rejected: the end of the newest sealed block (≥ watermark).
    pub floor: Timestamp,
    /// The day-level tiers (1m day chunks, 5m, 1h, 1d) are materialised below this; between it and
    /// the watermark, coarse tiers are derived from 1m block chunks at read time.
    pub merged_to: Timestamp,
    /// The 1h and 1d tiers are merged into 28-day chunks below this.
    pub merged28_to: Timestamp,
    /// Newest timestamp ever accepted; blocks are sealed relative to it.
    pub max_ts: Timestamp,
    pub blocks: BTreeMap<Timestamp, Arc<HeadBlock>>,
    /// Newest sample below the watermark, per series id (for `latest` and counter increases).
    pub compacted_last: Vec<Option<(Timestamp, f64)>>,
    /// Per tier: data older than this was dropped by retention.
    pub retained_from: [Timestamp; 5],
    pub samples: u64,
}

/// What a reader needs from the head for one series: the samples in range and the sample just
/// before it (for the counter increase of the first one).
#[derive(Default, Clone)]
pub(crate) struct SeriesSnap {
    pub prev: Option<(Timestamp, f64)>,
    pub samples: Vec<(Timestamp, f64)>,
}

impl Head {
    pub fn new(block_ms: i64) -> Self {
        Head {
            block_ms,
            watermark: i64::MIN,
            floor: i64::MIN,
            merged_to: i64::MIN,
            merged28_to: i64::MIN,
            max_ts: i64::MIN,
            blocks: BTreeMap::new(),
            compacted_last: Vec::new(),
            retained_from: [i64::MIN; 5],
            samples: 0,
        }
    }

    #[inline]
    pub fn block_of(&self, ts: Timestamp) -> Timestamp {
        ts.div_euclid(self.block_ms) * self.block_ms
    }

    pub fn retained_from(&self, tier: Tier) -> Timestamp {
        self.retained_from[tier as usize]
    }

    pub fn compacted_last(&self, id: SeriesId) -> Option<(Timestamp, f64)> {
        self.compacted_last.get(id as usize).copied().flatten()
    }

    /// Head samples of `id` with ts in `[lo, hi)`, and the newest sample before `lo`.
    pub fn snapshot_series(&self, id: SeriesId, lo: Timestamp, hi: Timestamp) -> SeriesSnap {
        let mut snap = SeriesSnap {
            prev: self.compacted_last(id).filter(|p| p.0 < lo),
            samples: Vec::new(),
        };
        for (&start, block) in &self.blocks {
            if start >= hi {
                break;
            }
            let series = rd(&block.series);
            let Some(buf) = series.get(id as usize) else { continue };
            let from = buf.partition_point(|p| p.0 < lo);
            if from > 0 {
                snap.prev = Some(buf[from - 1]);
            }
            let to = buf.partition_point(|p| p.0 < hi);
            if to > from {
                snap.samples.extend_from_slice(&buf[from..to]);
            }
        }
        snap
    }

    /// Newest head sample of `id` in `[lo, at]`.
    pub fn value_at(&self, id: SeriesId, at: Timestamp, lo: Timestamp) -> Option<(Timestamp, f64)> {
        for (_, block) in self.blocks.range(..=at).rev() {
            let series = rd(&block.series);
            let Some(buf) = series.get(id as usize) else { continue };
            let i = buf.partition_point(|p| p.0 <= at);
            if i > 0 {
                let p = buf[i - 1];
                return (p.0 >= lo).then_some(p);
            }
        }
        None
    }
}

/// Applies accepted samples to the head and the latest-value table. Blocks are created first under
/// the head's write lock; the samples then go in in slices so that readers never wait long.
pub(crate) fn apply(
    head: &RwLock<Head>,
    latest: &RwLock<Vec<Option<(Timestamp, f64)>>>,
    samples: &[(SeriesId, Timestamp, f64)],
    id_bound: usize,
) {
    if samples.is_empty() {
        return;
    }
    {
        let mut h = wr(head);
        let mut starts: Vec<Timestamp> = Vec::new();
        for s in samples {
            let b = h.block_of(s.1);
            if starts.last() != Some(&b) && !starts.contains(&b) {
                starts.push(b);
            }
        }
        for b in starts {
            h.blocks.entry(b).or_insert_with(|| {
                Arc::new(HeadBlock {
                    series: RwLock::new(Vec::new()),
                })
            });
        }
        if let Some(m) = samples.iter().map(|s| s.1).max() {
            h.max_ts = h.max_ts.max(m);
        }
        if h.compacted_last.len() < id_bound {
            h.compacted_last.resize(id_bound, None);
        }
    }
    {
        let mut l = wr(latest);
        if l.len() < id_bound {
            l.resize(id_bound, None);
        }
    }
    const SLICE: usize = 16_384;
    for part in samples.chunks(SLICE) {
        let mut added = 0u64;
        {
            let h = rd(head);
            let mut current: Option<(Timestamp, &Arc<HeadBlock>)> = None;
            let mut guard: Option<RwLockWriteGuard<'_, Vec<SeriesBuf>>> = None;
            for &(id, ts, v) in part {
                let b = h.block_of(ts);
                if current.is_none_or(|c| c.0 != b) {
                    guard = None;
                    let Some(block) = h.blocks.get(&b) else { continue };
                    current = Some((b, block));
                    let mut g = wr(&block.series);
                    if g.len() < id_bound {
                        g.resize_with(id_bound, Vec::new);
                    }
                    guard = Some(g);
                }
                if let Some(g) = guard.as_mut()
                    && let Some(buf) = g.get_mut(id as usize)
                    && insert_sample(buf, ts, v)
                {
                    added += 1;
                }
            }
        }
        {
            let mut l = wr(latest);
            for &(id, ts, v) in part {
                if let Some(slot) = l.get_mut(id as usize)
                    && slot.is_none_or(|(lts, _)| ts >= lts)
                {
                    *slot = Some((ts, v));
                }
            }
        }
        wr(head).samples += added;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_timestamp_keeps_last_write_and_order_is_kept() {
        let mut b = SeriesBuf::new();
        assert!(insert_sample(&mut b, 10, 1.0));
        assert!(insert_sample(&mut b, 30, 3.0));
        assert!(insert_sample(&mut b, 20, 2.0));
        assert!(!insert_sample(&mut b, 20, 2.5));
        assert!(!insert_sample(&mut b, 30, 3.5));
        assert_eq!(b, vec![(10, 1.0), (20, 2.5), (30, 3.5)]);
    }
}
