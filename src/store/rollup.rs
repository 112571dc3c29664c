//! Aggregation: the one place that defines how samples fold into a [`Bucket`] and how buckets merge,
//! used alike by compaction (rollup tiers), merges (coarser tiers) and queries, so that a tier
//! bucket always equals the direct aggregation of its samples.

use crate::model::Timestamp;

use super::Bucket;

/// Reset-aware counter increase contributed by sample `cur` after `prev`.
#[inline]
pub fn counter_increase(prev: Option<f64>, cur: f64) -> f64 {
    match prev {
        Some(p) if cur >= p => cur - p,
        Some(_) => cur,
        None => 0.0,
    }
}

impl Bucket {
    pub(crate) fn from_sample(ts: Timestamp, v: f64, increase: f64) -> Self {
        Bucket {
            ts,
            count: 1,
            sum: v,
            min: v,
            max: v,
            last: v,
            increase,
        }
    }

    /// Adds a later sample (samples are folded in time order).
    #[inline]
    pub(crate) fn add_sample(&mut self, v: f64, increase: f64) {
        self.count = self.count.saturating_add(1);
        self.sum += v;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.last = v;
        self.increase += increase;
    }

    /// Merges the aggregate of a later, disjoint set of samples.
    #[inline]
    pub(crate) fn merge(&mut self, later: &Bucket) {
        self.count = self.count.saturating_add(later.count);
        self.sum += later.sum;
        self.min = self.min.min(later.min);
        self.max = self.max.max(later.max);
        self.last = later.last;
        self.increase += later.increase;
    }
}

/// Folds time-ordered samples or buckets into buckets aligned to multiples of `step`, keeping only
/// input whose timestamp lies in `[lo, hi)`.
pub struct Bucketer {
    step: i64,
    lo: i64,
    hi: i64,
    out: Vec<Bucket>,
}

impl Bucketer {
    pub fn new(step: i64, lo: i64, hi: i64) -> Self {
        Self {
            step: step.max(1),
            lo,
            hi,
            out: Vec::new(),
        }
    }

    #[inline]
    fn align(&self, ts: Timestamp) -> Timestamp {
        ts.div_euclid(self.step) * self.step
    }

    #[inline]
    pub fn add_sample(&mut self, ts: Timestamp, v: f64, increase: f64) {
        if ts < self.lo || ts >= self.hi {
            return;
        }
        let bts = self.align(ts);
        match self.out.last_mut() {
            Some(b) if b.ts == bts => b.add_sample(v, increase),
            _ => self.out.push(Bucket::from_sample(bts, v, increase)),
        }
    }

    #[inline]
    pub fn add_bucket(&mut self, b: &Bucket) {
        if b.ts < self.lo || b.ts >= self.hi {
            return;
        }
        let bts = self.align(b.ts);
        match self.out.last_mut() {
            Some(o) if o.ts == bts => o.merge(b),
            _ => {
                let mut nb = *b;
                nb.ts = bts;
                self.out.push(nb);
            }
        }
    }

    pub fn finish(self) -> Vec<Bucket> {
        self.out
    }
}

/// Rolls time-ordered samples up into buckets of `res` ms. `prev` is the series' sample before the
/// first one given (for the counter increase of the first sample); gauges get increase 0.
pub fn rollup_samples(
    samples: &[(Timestamp, f64)],
    prev: Option<f64>,
    counter: bool,
    res: i64,
) -> Vec<Bucket> {
    let mut b = Bucketer::new(res, i64::MIN, i64::MAX);
    let mut p = prev;
    for &(ts, v) in samples {
        let inc = if counter { counter_increase(p, v) } else { 0.0 };
        b.add_sample(ts, v, inc);
        p = Some(v);
    }
    b.finish()
}

/// Merges time-ordered buckets into coarser buckets of `res` ms.
pub fn rollup_buckets(buckets: &[Bucket], res: i64) -> Vec<Bucket> {
    let mut b = Bucketer::new(res, i64::MIN, i64::MAX);
    for x in buckets {
        b.add_bucket(x);
    }
    b.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_increase_handles_resets_and_first_sample() {
        let s = [(0, 10.0), (1000, 15.0), (2000, 3.0), (3000, 4.0)];
        let b = rollup_samples(&s, None, true, 10_000);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].increase, 5.0 + 3.0 + 1.0);
        let b = rollup_samples(&s, Some(8.0), true, 10_000);
        assert_eq!(b[0].increase, 2.0 + 5.0 + 3.0 + 1.0);
        let b = rollup_samples(&s, Some(8.0), false, 10_000);
        assert_eq!(b[0].increase, 0.0);
    }

    #[test]
    fn merged_buckets_equal_direct_aggregation() {
        let s: Vec<(i64, f64)> = (0..100)
            .map(|i| (i * 15_000, ((i * 7) % 13) as f64))
            .collect();
        let fine = rollup_samples(&s, Some(1.0), true, 60_000);
        let coarse_direct = rollup_samples(&s, Some(1.0), true, 300_000);
        assert_eq!(rollup_buckets(&fine, 300_000), coarse_direct);
    }
}
