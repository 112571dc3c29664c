//! The in-memory head: every sample at or above the compaction watermark, grouped into aligned
//! time blocks, each block holding one time-ordered buffer per series. A block is sealed (no more
//! appends) once ingest has moved past it, compacted into chunks, and then dropped.
//!
//! Everything that must change together — the blocks, the watermark and the other compaction
//! marks, the newest compacted sample per series — lives in one struct behind one lock inside
//! [`Head`], whose fields no other module can reach: a reader that
//! takes a [`HeadView`] sees a block either in the head or below the watermark, never both and
//! never neither, because [`Head::finish_compaction`] moves the watermark and drops the block in
//! one write. Changes of the data (`apply`) and of the floor (`seal`) take the active head-log
//! lane's [`AppendLock`] as a proof that no append is half applied meanwhile.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::model::Timestamp;

use super::codec::gorilla::SampleStream;
use super::lanes::AppendLock;
use super::{SeriesId, SeriesInfo, Tier};

pub(crate) fn rd<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn wr<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}

/// Samples of one series in one head block, compressed as they arrive (see [`SampleStream`]).
/// Appends in time order are O(1); a duplicate or out-of-order timestamp (rare) rebuilds the
/// stream. Reads and compaction decode it (tens of millions of samples per second).
#[derive(Default, Clone)]
pub(crate) struct SeriesBuf {
    stream: SampleStream,
}

impl SeriesBuf {
    pub fn len(&self) -> usize {
        self.stream.len()
    }

    pub fn is_empty(&self) -> bool {
        self.stream.is_empty()
    }

    pub fn last(&self) -> Option<(Timestamp, f64)> {
        self.stream.last()
    }

    /// Inserts a sample; a duplicate timestamp replaces the earlier value (last write wins).
    /// Returns true when the sample added a new timestamp.
    pub fn insert(&mut self, ts: Timestamp, v: f64) -> bool {
        if self.stream.appends(ts) {
            self.stream.push(ts, v);
            return true;
        }
        let mut all = self.stream.decode();
        let added = match all.binary_search_by(|p| p.0.cmp(&ts)) {
            Ok(i) => {
                all[i].1 = v;
                false
            }
            Err(i) => {
                all.insert(i, (ts, v));
                true
            }
        };
        let mut stream = SampleStream::default();
        for (t, x) in all {
            stream.push(t, x);
        }
        self.stream = stream;
        added
    }

    /// All samples, ascending.
    pub fn decode(&self) -> Vec<(Timestamp, f64)> {
        self.stream.decode()
    }
}

/// One aligned time block of the head. Its buffers are written only through [`Head::apply`];
/// once sealed it is immutable and compaction reads it without the head's lock.
pub(crate) struct HeadBlock {
    /// Indexed by series id.
    series: RwLock<Vec<SeriesBuf>>,
}

impl HeadBlock {
    /// Every series with samples in the block, with its newest sample.
    pub fn lasts(&self) -> Vec<(SeriesId, (Timestamp, f64))> {
        rd(&self.series)
            .iter()
            .enumerate()
            .filter_map(|(i, buf)| buf.last().map(|l| (i as SeriesId, l)))
            .collect()
    }

    /// The samples of `id`, ascending (None when it has none in this block).
    pub fn samples(&self, id: SeriesId) -> Option<Vec<(Timestamp, f64)>> {
        rd(&self.series)
            .get(id as usize)
            .filter(|b| !b.is_empty())
            .map(SeriesBuf::decode)
    }

    fn sample_count(&self) -> u64 {
        rd(&self.series).iter().map(|s| s.len() as u64).sum()
    }
}

/// Where compaction, merges and sealing stand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Marks {
    /// Everything below is in chunks; everything at or above is in the head.
    pub watermark: Timestamp,
    /// Appends below are rejected: the end of the newest sealed block (≥ watermark).
    pub floor: Timestamp,
    /// The day-level tiers (1m day chunks, 5m, 1h, 1d) are materialised below this; between it
    /// and the watermark, coarse tiers are derived from 1m block chunks at read time.
    pub merged_to: Timestamp,
    /// The 1h and 1d tiers are merged into 28-day chunks below this.
    pub merged28_to: Timestamp,
}

/// What the engine knew at its last shutdown or crash (from `meta` and `series_state`).
pub(crate) struct Restored {
    pub watermark: Option<Timestamp>,
    pub merged_to: Option<Timestamp>,
    pub merged28_to: Option<Timestamp>,
    pub retained_from: [Timestamp; 5],
    pub compacted_last: Vec<Option<(Timestamp, f64)>>,
}

struct State {
    block_ms: i64,
    marks: Marks,
    /// Newest timestamp ever accepted; blocks are sealed relative to it.
    max_ts: Timestamp,
    blocks: BTreeMap<Timestamp, Arc<HeadBlock>>,
    /// Newest sample below the watermark, per series id (for `latest` and counter increases).
    compacted_last: Vec<Option<(Timestamp, f64)>>,
    /// Per tier: data older than this was dropped by retention.
    retained_from: [Timestamp; 5],
    samples: u64,
}

impl State {
    #[inline]
    fn block_of(&self, ts: Timestamp) -> Timestamp {
        ts.div_euclid(self.block_ms) * self.block_ms
    }

    fn compacted_last(&self, id: SeriesId) -> Option<(Timestamp, f64)> {
        self.compacted_last.get(id as usize).copied().flatten()
    }
}

/// What a reader needs from the head for one series: the samples in range and the sample just
/// before it (for the counter increase of the first one).
#[derive(Default, Clone)]
pub(crate) struct SeriesSnap {
    pub prev: Option<(Timestamp, f64)>,
    pub samples: Vec<(Timestamp, f64)>,
}

/// The head part of a query, taken under one read lock so that it is consistent with the
/// watermark it was taken at.
/// `T` is what the reader keeps per series: its [`SeriesInfo`] for a chart, its id for raw reads.
pub(crate) struct HeadView<T = SeriesInfo> {
    pub watermark: Timestamp,
    pub merged_to: Timestamp,
    pub series: Vec<(T, SeriesSnap)>,
}

/// Counts for `StoreStats`.
pub(crate) struct HeadStats {
    pub samples: u64,
    pub blocks: usize,
    pub watermark: Timestamp,
    pub merged_to: Timestamp,
}

pub(crate) struct Head {
    state: RwLock<State>,
    /// Newest sample ever applied, per series id. Its own lock: appends update it per slice
    /// without holding up head readers, and it is never taken while `state` is held (nor the
    /// reverse); `latest` merges it with the compacted state afterwards.
    latest: RwLock<Vec<Option<(Timestamp, f64)>>>,
}

impl Head {
    pub fn new(block_ms: i64) -> Self {
        Head {
            state: RwLock::new(State {
                block_ms,
                marks: Marks {
                    watermark: i64::MIN,
                    floor: i64::MIN,
                    merged_to: i64::MIN,
                    merged28_to: i64::MIN,
                },
                max_ts: i64::MIN,
                blocks: BTreeMap::new(),
                compacted_last: Vec::new(),
                retained_from: [i64::MIN; 5],
                samples: 0,
            }),
            latest: RwLock::new(Vec::new()),
        }
    }

    /// Sets the marks found at open (before the head log is replayed).
    pub fn restore(&self, r: Restored) {
        let mut s = wr(&self.state);
        if let Some(w) = r.watermark {
            s.marks.watermark = w;
            s.marks.floor = w;
        }
        s.marks.merged_to = r.merged_to.unwrap_or(i64::MIN);
        s.marks.merged28_to = r.merged28_to.unwrap_or(i64::MIN);
        s.retained_from = r.retained_from;
        s.compacted_last = r.compacted_last;
    }

    pub fn marks(&self) -> Marks {
        rd(&self.state).marks
    }

    /// Per tier (indexed by `Tier as usize`): data older than this was dropped by retention.
    pub fn retained_from(&self) -> [Timestamp; 5] {
        rd(&self.state).retained_from
    }

    pub fn set_retained_from(&self, tier: Tier, from: Timestamp) {
        wr(&self.state).retained_from[tier as usize] = from;
    }

    pub fn set_merged_to(&self, to: Timestamp) {
        wr(&self.state).marks.merged_to = to;
    }

    pub fn set_merged28_to(&self, to: Timestamp) {
        wr(&self.state).marks.merged28_to = to;
    }

    pub fn stats(&self) -> HeadStats {
        let s = rd(&self.state);
        HeadStats {
            samples: s.samples,
            blocks: s.blocks.len(),
            watermark: s.marks.watermark,
            merged_to: s.marks.merged_to,
        }
    }

    /// Newest sample of each series, from the head or (after a restart) the compacted state.
    pub fn latest(&self, ids: &[SeriesId]) -> Vec<Option<(Timestamp, f64)>> {
        let applied: Vec<Option<(Timestamp, f64)>> = {
            let l = rd(&self.latest);
            ids.iter()
                .map(|&id| l.get(id as usize).copied().flatten())
                .collect()
        };
        let s = rd(&self.state);
        ids.iter()
            .zip(applied)
            .map(|(&id, a)| {
                let b = s.compacted_last(id);
                match (a, b) {
                    (Some(a), Some(b)) => Some(if b.0 > a.0 { b } else { a }),
                    (a, b) => a.or(b),
                }
            })
            .collect()
    }

    /// Newest compacted sample of each series (the counter base of the next block's chunks).
    pub fn compacted_last(&self, ids: &[SeriesId]) -> Vec<Option<(Timestamp, f64)>> {
        let s = rd(&self.state);
        ids.iter().map(|&id| s.compacted_last(id)).collect()
    }

    /// A copy of the newest compacted sample of every series.
    pub fn compacted_state(&self) -> Vec<Option<(Timestamp, f64)>> {
        rd(&self.state).compacted_last.clone()
    }

    /// The oldest block, if ingest has seen a sample `grace` past its end (`force`: at or past
    /// its end, ignoring the grace period).
    pub fn next_ready_block(&self, grace: i64, force: bool) -> Option<(Timestamp, Arc<HeadBlock>)> {
        let s = rd(&self.state);
        let grace = if force { 0 } else { grace };
        s.blocks
            .iter()
            .next()
            .filter(|(b, _)| {
                **b + s.block_ms + grace <= s.max_ts.saturating_add(if force { 1 } else { 0 })
            })
            .map(|(b, blk)| (*b, blk.clone()))
    }

    /// Seals everything below `end`: later appends there are rejected, so the blocks are
    /// immutable from now on.
    pub fn seal(&self, end: Timestamp, _append: &AppendLock<'_>) {
        let mut s = wr(&self.state);
        s.marks.floor = s.marks.floor.max(end);
    }

    /// Ends the compaction of block `b` (ending at `end`): in one write, moves the watermark and
    /// the merge marks, installs the newest compacted samples, and drops the block, so that a
    /// reader sees its samples either here or in chunks. Returns the block, to be freed outside
    /// every lock.
    pub fn finish_compaction(
        &self,
        b: Timestamp,
        end: Timestamp,
        merged_to: Timestamp,
        merged28_to: Timestamp,
        compacted_last: Vec<Option<(Timestamp, f64)>>,
    ) -> Option<Arc<HeadBlock>> {
        let mut s = wr(&self.state);
        s.marks.watermark = end;
        s.marks.floor = s.marks.floor.max(end);
        s.marks.merged_to = merged_to;
        s.marks.merged28_to = merged28_to;
        s.compacted_last = compacted_last;
        let removed = s.blocks.remove(&b);
        let n = removed.as_ref().map(|r| r.sample_count()).unwrap_or(0);
        s.samples = s.samples.saturating_sub(n);
        removed
    }

    /// Applies accepted samples (already filtered against the floor and the registry). Blocks
    /// are created first under the write lock; the samples then go in in slices under the read
    /// lock and each block's own lock, so that readers never wait long.
    pub fn apply(
        &self,
        samples: &[(SeriesId, Timestamp, f64)],
        id_bound: usize,
        _append: &AppendLock<'_>,
    ) {
        if samples.is_empty() {
            return;
        }
        {
            let mut s = wr(&self.state);
            let mut starts: Vec<Timestamp> = Vec::new();
            for x in samples {
                let b = s.block_of(x.1);
                if starts.last() != Some(&b) && !starts.contains(&b) {
                    starts.push(b);
                }
            }
            for b in starts {
                s.blocks.entry(b).or_insert_with(|| {
                    Arc::new(HeadBlock {
                        series: RwLock::new(Vec::new()),
                    })
                });
            }
            if let Some(m) = samples.iter().map(|x| x.1).max() {
                s.max_ts = s.max_ts.max(m);
            }
            if s.compacted_last.len() < id_bound {
                s.compacted_last.resize(id_bound, None);
            }
        }
        {
            let mut l = wr(&self.latest);
            if l.len() < id_bound {
                l.resize(id_bound, None);
            }
        }
        const SLICE: usize = 16_384;
        for part in samples.chunks(SLICE) {
            let mut added = 0u64;
            {
                let s = rd(&self.state);
                let mut current: Option<(Timestamp, &Arc<HeadBlock>)> = None;
                let mut guard: Option<RwLockWriteGuard<'_, Vec<SeriesBuf>>> = None;
                for &(id, ts, v) in part {
                    let b = s.block_of(ts);
                    if current.is_none_or(|c| c.0 != b) {
                        guard = None;
                        let Some(block) = s.blocks.get(&b) else {
                            continue;
                        };
                        current = Some((b, block));
                        let mut g = wr(&block.series);
                        if g.len() < id_bound {
                            g.resize_with(id_bound, SeriesBuf::default);
                        }
                        guard = Some(g);
                    }
                    if let Some(g) = guard.as_mut()
                        && let Some(buf) = g.get_mut(id as usize)
                        && buf.insert(ts, v)
                    {
                        added += 1;
                    }
                }
            }
            {
                let mut l = wr(&self.latest);
                for &(id, ts, v) in part {
                    if let Some(slot) = l.get_mut(id as usize)
                        && slot.is_none_or(|(lts, _)| ts >= lts)
                    {
                        *slot = Some((ts, v));
                    }
                }
            }
            wr(&self.state).samples += added;
        }
    }

    /// Head samples in `[lo, hi)` of the given series (and the sample before `lo` of each),
    /// with the marks they are consistent with.
    pub fn view<T>(
        &self,
        infos: Vec<T>,
        id: impl Fn(&T) -> SeriesId,
        lo: Timestamp,
        hi: Timestamp,
    ) -> HeadView<T> {
        let s = rd(&self.state);
        let head_lo = lo.max(s.marks.watermark);
        let series = infos
            .into_iter()
            .map(|info| {
                let snap = if head_lo < hi {
                    snapshot_series(&s, id(&info), head_lo, hi)
                } else {
                    SeriesSnap::default()
                };
                (info, snap)
            })
            .collect();
        HeadView {
            watermark: s.marks.watermark,
            merged_to: s.marks.merged_to,
            series,
        }
    }

    /// Per id: the newest sample in `[lo, at]` from the head or the newest compacted sample,
    /// and whether the raw chunks must be read instead (the newest compacted sample is after
    /// `at`, so an older one may be in `[lo, at]`).
    pub fn value_at(
        &self,
        ids: &[SeriesId],
        at: Timestamp,
        lo: Timestamp,
    ) -> Vec<(Option<(Timestamp, f64)>, bool)> {
        let s = rd(&self.state);
        ids.iter()
            .map(|&id| {
                if let Some(found) = value_at_in_blocks(&s, id, at, lo) {
                    return (Some(found), false);
                }
                match s.compacted_last(id) {
                    Some(p) if p.0 <= at => ((p.0 >= lo).then_some(p), false),
                    Some(_) => (None, true),
                    None => (None, false),
                }
            })
            .collect()
    }
}

/// Head samples of `id` with ts in `[lo, hi)`, and the newest sample before `lo`.
fn snapshot_series(s: &State, id: SeriesId, lo: Timestamp, hi: Timestamp) -> SeriesSnap {
    let mut snap = SeriesSnap {
        prev: s.compacted_last(id).filter(|p| p.0 < lo),
        samples: Vec::new(),
    };
    for (&start, block) in &s.blocks {
        if start >= hi {
            break;
        }
        let series = rd(&block.series);
        let Some(buf) = series.get(id as usize).filter(|b| !b.is_empty()) else {
            continue;
        };
        if buf.last().is_some_and(|l| l.0 < lo) {
            snap.prev = buf.last();
            continue;
        }
        let all = buf.decode();
        let from = all.partition_point(|p| p.0 < lo);
        if from > 0 {
            snap.prev = Some(all[from - 1]);
        }
        let to = all.partition_point(|p| p.0 < hi);
        if to > from {
            snap.samples.extend_from_slice(&all[from..to]);
        }
    }
    snap
}

/// Newest head sample of `id` in `[lo, at]`.
fn value_at_in_blocks(
    s: &State,
    id: SeriesId,
    at: Timestamp,
    lo: Timestamp,
) -> Option<(Timestamp, f64)> {
    for (_, block) in s.blocks.range(..=at).rev() {
        let series = rd(&block.series);
        let Some(buf) = series.get(id as usize).filter(|b| !b.is_empty()) else {
            continue;
        };
        let all = buf.decode();
        let i = all.partition_point(|p| p.0 <= at);
        if i > 0 {
            let p = all[i - 1];
            return (p.0 >= lo).then_some(p);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_timestamp_keeps_last_write_and_order_is_kept() {
        let mut b = SeriesBuf::default();
        assert!(b.insert(10, 1.0));
        assert!(b.insert(30, 3.0));
        assert!(b.insert(20, 2.0));
        assert!(!b.insert(20, 2.5));
        assert!(!b.insert(30, 3.5));
        assert_eq!(b.decode(), vec![(10, 1.0), (20, 2.5), (30, 3.5)]);
        assert_eq!(b.last(), Some((30, 3.5)));
    }

    proptest::proptest! {
        #![proptest_config(crate::proptest_config(256))]

        #[test]
        fn compressed_head_buffer_round_trips_any_samples(
            samples in proptest::collection::vec((-1_000_000_000_000i64..5_000_000_000_000, proptest::prelude::any::<f64>()), 0..300),
            regular in proptest::collection::vec((0i64..3, proptest::prelude::any::<u16>()), 0..300),
        ) {
            // Arbitrary order and values, duplicates included: the buffer equals a sorted map
            // with last write wins.
            let mut b = SeriesBuf::default();
            let mut model = std::collections::BTreeMap::new();
            for &(ts, v) in &samples {
                b.insert(ts, v);
                model.insert(ts, v.to_bits());
            }
            // Mostly regular appends with small jitter and repeated values.
            let mut ts = model.keys().next_back().copied().unwrap_or(0);
            for &(j, v) in &regular {
                ts += 15_000 + j;
                let v = f64::from(v % 7);
                b.insert(ts, v);
                model.insert(ts, v.to_bits());
            }
            let got: Vec<(i64, u64)> = b.decode().into_iter().map(|(t, v)| (t, v.to_bits())).collect();
            let want: Vec<(i64, u64)> = model.into_iter().collect();
            proptest::prop_assert_eq!(b.len(), want.len());
            proptest::prop_assert_eq!(got, want);
        }
    }
}
