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

/// Samples of one series in one head block, compressed as they arrive: delta-of-delta timestamps
/// and XOR-ed values in a bit stream (Gorilla style), about 1–4 bytes a sample instead of 16.
/// Appends in time order are O(1); a duplicate or out-of-order timestamp (rare) rebuilds the
/// stream. Reads and compaction decode it (tens of millions of samples per second).
#[derive(Default, Clone)]
pub(crate) struct SeriesBuf {
    words: Vec<u64>,
    bits: u64,
    n: u32,
    first_ts: i64,
    last_ts: i64,
    last_delta: i64,
    last_bits: u64,
    /// XOR window of the previous value (leading zeros, trailing zeros); lead 255 = none yet.
    lead: u8,
    trail: u8,
}

impl SeriesBuf {
    pub fn len(&self) -> usize {
        self.n as usize
    }

    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    pub fn last(&self) -> Option<(Timestamp, f64)> {
        (self.n > 0).then(|| (self.last_ts, f64::from_bits(self.last_bits)))
    }

    #[inline]
    fn write(&mut self, v: u64, nbits: u32) {
        if nbits == 0 {
            return;
        }
        let v = if nbits >= 64 {
            v
        } else {
            v & ((1u64 << nbits) - 1)
        };
        let off = (self.bits % 64) as u32;
        if off == 0 {
            self.words.push(v);
        } else {
            if let Some(w) = self.words.last_mut() {
                *w |= v << off;
            }
            if off + nbits > 64 {
                self.words.push(v >> (64 - off));
            }
        }
        self.bits += u64::from(nbits);
    }

    /// Appends a sample later than every sample held.
    fn push(&mut self, ts: Timestamp, v: f64) {
        let bits = v.to_bits();
        if self.n == 0 {
            self.first_ts = ts;
            self.last_ts = ts;
            self.last_delta = 0;
            self.last_bits = bits;
            self.lead = 255;
            self.write(bits, 64);
            self.n = 1;
            return;
        }
        let delta = ts.wrapping_sub(self.last_ts);
        let dod = delta.wrapping_sub(self.last_delta);
        if dod == 0 {
            self.write(0, 1);
        } else {
            let z = super::codec::zigzag(dod);
            if z < 1 << 14 {
                self.write(0b01, 2);
                self.write(z, 14);
            } else if z < 1 << 24 {
                self.write(0b011, 3);
                self.write(z, 24);
            } else {
                self.write(0b111, 3);
                self.write(z, 64);
            }
        }
        let x = bits ^ self.last_bits;
        if x == 0 {
            self.write(0, 1);
        } else {
            let lead = x.leading_zeros().min(31);
            let trail = x.trailing_zeros();
            if self.lead != 255 && lead >= u32::from(self.lead) && trail >= u32::from(self.trail) {
                let (pl, pt) = (u32::from(self.lead), u32::from(self.trail));
                self.write(0b01, 2);
                self.write(x >> pt, 64 - pl - pt);
            } else {
                let sig = 64 - lead - trail;
                self.write(0b11, 2);
                self.write(u64::from(lead), 5);
                self.write(u64::from(sig - 1), 6);
                self.write(x >> trail, sig);
                self.lead = lead as u8;
                self.trail = trail as u8;
            }
        }
        self.last_ts = ts;
        self.last_delta = delta;
        self.last_bits = bits;
        self.n += 1;
    }

    /// Inserts a sample; a duplicate timestamp replaces the earlier value (last write wins).
    /// Returns true when the sample added a new timestamp.
    pub fn insert(&mut self, ts: Timestamp, v: f64) -> bool {
        if self.n == 0 || ts > self.last_ts {
            self.push(ts, v);
            return true;
        }
        let mut all = self.decode();
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
        *self = SeriesBuf::default();
        for (t, x) in all {
            self.push(t, x);
        }
        added
    }

    /// All samples, ascending.
    pub fn decode(&self) -> Vec<(Timestamp, f64)> {
        let mut out = Vec::with_capacity(self.n as usize);
        if self.n == 0 {
            return out;
        }
        let mut r = WordReader {
            words: &self.words,
            pos: 0,
        };
        let mut bits = r.read(64);
        let mut ts = self.first_ts;
        let mut delta = 0i64;
        let (mut pl, mut pt) = (0u32, 0u32);
        out.push((ts, f64::from_bits(bits)));
        for _ in 1..self.n {
            let dod = if r.read(1) == 0 {
                0
            } else if r.read(1) == 0 {
                super::codec::unzigzag(r.read(14))
            } else if r.read(1) == 0 {
                super::codec::unzigzag(r.read(24))
            } else {
                super::codec::unzigzag(r.read(64))
            };
            delta = delta.wrapping_add(dod);
            ts = ts.wrapping_add(delta);
            if r.read(1) == 1 {
                let x = if r.read(1) == 0 {
                    r.read(64 - pl - pt) << pt
                } else {
                    let lead = r.read(5) as u32;
                    let sig = r.read(6) as u32 + 1;
                    pl = lead;
                    pt = 64u32.saturating_sub(lead + sig);
                    r.read(sig) << pt
                };
                bits ^= x;
            }
            out.push((ts, f64::from_bits(bits)));
        }
        out
    }
}

struct WordReader<'a> {
    words: &'a [u64],
    pos: u64,
}

impl WordReader<'_> {
    #[inline]
    fn read(&mut self, nbits: u32) -> u64 {
        if nbits == 0 {
            return 0;
        }
        let idx = (self.pos / 64) as usize;
        let off = (self.pos % 64) as u32;
        let mut v = self.words.get(idx).copied().unwrap_or(0) >> off;
        if off + nbits > 64 {
            v |= self.words.get(idx + 1).copied().unwrap_or(0) << (64 - off);
        }
        self.pos += u64::from(nbits);
        if nbits >= 64 {
            v
        } else {
            v & ((1u64 << nbits) - 1)
        }
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
    pub fn value_at(&self, id: SeriesId, at: Timestamp, lo: Timestamp) -> Option<(Timestamp, f64)> {
        for (_, block) in self.blocks.range(..=at).rev() {
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
                    let Some(block) = h.blocks.get(&b) else {
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
