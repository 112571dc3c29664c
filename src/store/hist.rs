//! Lock-free duration histograms for the writer: how long appends wait for it and how long
//! maintenance transactions and WAL checkpoints hold it. Log-linear buckets (exact below 32 µs,
//! then 16 per power of two, i.e. within ~3%), so p50/p99 cost nothing on the write path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Exact buckets below this many microseconds.
const LINEAR: u64 = 32;
const SUB_BITS: u32 = 4;
const SUB: u64 = 1 << SUB_BITS;
/// Covers up to 2^40 µs (12 days); longer values land in the last bucket.
const BUCKETS: usize = LINEAR as usize + (40 - 5) * SUB as usize;

pub(crate) struct Hist {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    max_us: AtomicU64,
}

impl Default for Hist {
    fn default() -> Self {
        Hist {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            max_us: AtomicU64::new(0),
        }
    }
}

fn index(us: u64) -> usize {
    if us < LINEAR {
        return us as usize;
    }
    let msb = 63 - us.leading_zeros(); // ≥ 5
    let sub = (us >> (msb - SUB_BITS)) & (SUB - 1);
    let i = LINEAR as usize + (msb as usize - 5) * SUB as usize + sub as usize;
    i.min(BUCKETS - 1)
}

/// Midpoint of a bucket, microseconds.
fn value_of(i: usize) -> f64 {
    if i < LINEAR as usize {
        return i as f64;
    }
    let j = i - LINEAR as usize;
    let msb = 5 + (j / SUB as usize) as u32;
    let sub = (j % SUB as usize) as u64;
    let width = 1u64 << (msb - SUB_BITS);
    ((SUB + sub) * width) as f64 + width as f64 / 2.0
}

impl Hist {
    pub fn record(&self, d: Duration) {
        let us = d.as_micros().min(u128::from(u64::MAX)) as u64;
        self.buckets[index(us)].fetch_add(1, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
        self.max_us.fetch_max(us, Ordering::Relaxed);
    }

    pub fn max_ms(&self) -> f64 {
        self.max_us.load(Ordering::Relaxed) as f64 / 1000.0
    }

    pub fn reset(&self) {
        for b in self.buckets.iter() {
            b.store(0, Ordering::Relaxed);
        }
        self.count.store(0, Ordering::Relaxed);
        self.max_us.store(0, Ordering::Relaxed);
    }

    pub fn summary(&self) -> HoldSummary {
        let counts: Vec<u64> = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        let total: u64 = counts.iter().sum();
        let max_ms = self.max_ms();
        if total == 0 {
            return HoldSummary {
                max_ms,
                ..HoldSummary::default()
            };
        }
        let at = |q: f64| {
            // Rank of the q-quantile (nearest rank), 1-based.
            let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return (value_of(i) / 1000.0).min(max_ms);
                }
            }
            max_ms
        };
        HoldSummary {
            count: total,
            p50_ms: at(0.5),
            p99_ms: at(0.99),
            max_ms,
        }
    }
}

/// Distribution of writer waits or holds (milliseconds; percentiles within ~3%).
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize)]
pub struct HoldSummary {
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_midpoints_are_within_four_percent_of_the_value() {
        for us in [
            0u64, 1, 31, 32, 33, 100, 999, 1_000, 4_321, 10_000, 123_456, 9_876_543,
        ] {
            let v = value_of(index(us));
            let err = (v - us as f64).abs() / (us as f64).max(1.0);
            assert!(err <= 0.04 || us < LINEAR, "{us} µs -> {v}");
        }
    }

    #[test]
    fn percentiles_follow_the_recorded_distribution_and_reset_clears_it() {
        let h = Hist::default();
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let s = h.summary();
        assert_eq!(s.count, 100);
        assert!((s.p50_ms - 50.0).abs() <= 2.0, "{s:?}");
        assert!((s.p99_ms - 99.0).abs() <= 4.0, "{s:?}");
        assert_eq!(s.max_ms, 100.0);
        h.reset();
        assert_eq!(h.summary(), HoldSummary::default());
    }
}
