//! Chart steps: the bucket width every page asks the store for. One place decides it, so every
//! chart footer reads like "step 30s" or "step 10m" rather than "step 20s455ms": the smallest
//! *nice* step that keeps a chart near its point budget, and never finer than the data — the
//! scrape interval for raw samples, or the resolution of the finest tier that retention still
//! holds at the start of the range.

use crate::config::Config;
use crate::model::Timestamp;
use crate::store::Tier;

const S: i64 = 1_000;
const M: i64 = 60 * S;
const H: i64 = 60 * M;
const D: i64 = 24 * H;

/// Steps charts use, ascending. From 1 minute on each is a multiple of the rollup tier below it
/// (1m, 5m, 1h, 1d), so tier buckets nest exactly in chart buckets.
pub const NICE_STEPS: [i64; 23] = [
    S,
    2 * S,
    5 * S,
    10 * S,
    15 * S,
    30 * S,
    M,
    2 * M,
    5 * M,
    10 * M,
    15 * M,
    30 * M,
    H,
    2 * H,
    3 * H,
    6 * H,
    12 * H,
    D,
    2 * D,
    7 * D,
    14 * D,
    28 * D,
    56 * D,
];

/// How far over its point budget a chart may go to get a nicer step (a 6 h chart of 177 points
/// gets 2-minute buckets, 180 of them, rather than 5-minute ones, 72 of them).
const BUDGET_SLACK: f64 = 1.25;

/// The smallest nice step `s` with `span / s ≤ 1.25 · max_points` and `s ≥ min_step`. Past the
/// table, whole multiples of the largest entry.
pub fn nice_step(span_ms: i64, max_points: usize, min_step_ms: i64) -> i64 {
    let budget = (max_points.max(1) as f64 * BUDGET_SLACK).max(1.0);
    let want = (span_ms.max(1) as f64 / budget).ceil() as i64;
    let want = want.max(min_step_ms).max(1);
    match NICE_STEPS.iter().find(|&&s| s >= want) {
        Some(&s) => s,
        None => {
            let top = NICE_STEPS[NICE_STEPS.len() - 1];
            (want + top - 1) / top * top
        }
    }
}

/// What the chart step may not go below: where raw samples are concerned, the scrape interval.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolution {
    /// The shortest configured scrape interval (raw samples are no denser than this).
    pub raw_ms: i64,
    /// How long each tier keeps data (None = forever), in tier order raw, 1m, 5m, 1h, 1d.
    pub retention_ms: [Option<i64>; 5],
}

impl Resolution {
    pub fn from_config(c: &Config) -> Self {
        let raw = c
            .clusters
            .iter()
            .map(|cl| cl.interval(&c.collector))
            .min()
            .unwrap_or(c.collector.interval.0);
        let ms = |d: std::time::Duration| d.as_millis().min(i64::MAX as u128) as i64;
        let r = &c.storage.retention;
        Resolution {
            raw_ms: ms(raw).max(1),
            retention_ms: [
                r.raw.map(ms),
                r.m1.map(ms),
                r.m5.map(ms),
                r.h1.map(ms),
                r.d1.map(ms),
            ],
        }
    }

    /// The finest step that data at `from` still has, seen from `now`: the scrape interval while
    /// raw samples are kept, else the resolution of the finest tier that retention still holds.
    pub fn finest_at(&self, from: Timestamp, now: Timestamp) -> i64 {
        let age = now.saturating_sub(from);
        let tiers = [Tier::Raw, Tier::M1, Tier::M5, Tier::H1, Tier::D1];
        for (tier, keep) in tiers.iter().zip(self.retention_ms) {
            if keep.is_none_or(|k| age <= k) {
                return tier.resolution_ms().unwrap_or(self.raw_ms).max(self.raw_ms);
            }
        }
        D
    }

    /// The step of a chart of `max_points` buckets over `[from, to]`, as of `now`.
    pub fn chart_step(
        &self,
        from: Timestamp,
        to: Timestamp,
        max_points: usize,
        now: Timestamp,
    ) -> i64 {
        nice_step(to - from, max_points, self.finest_at(from, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(raw_ms: i64) -> Resolution {
        Resolution {
            raw_ms,
            retention_ms: [Some(8 * D), Some(35 * D), Some(90 * D), Some(400 * D), None],
        }
    }

    #[test]
    fn steps_are_nice_and_near_the_budget() {
        // The lead's examples: 1 h and 24 h on a 420 px chart (177 points).
        assert_eq!(nice_step(H, 177, 15 * S), 30 * S);
        assert_eq!(nice_step(24 * H, 177, 15 * S), 10 * M);
        assert_eq!(nice_step(6 * H, 177, 15 * S), 2 * M);
        assert_eq!(nice_step(7 * D, 177, 15 * S), H);
        assert_eq!(nice_step(30 * D, 177, 15 * S), 6 * H);
        assert_eq!(nice_step(365 * D, 177, 15 * S), 2 * D);
        for span in [H, 6 * H, 24 * H, 7 * D, 30 * D, 90 * D, 365 * D] {
            for points in [27, 177, 467] {
                let s = nice_step(span, points, 15 * S);
                assert!(NICE_STEPS.contains(&s), "{span} {points}: {s}");
                assert!(
                    (span / s) as f64 <= points as f64 * BUDGET_SLACK + 1.0,
                    "{span} {points}: {s}"
                );
            }
        }
    }

    #[test]
    fn steps_are_never_finer_than_the_scrape_interval() {
        assert_eq!(nice_step(10 * M, 467, 15 * S), 15 * S);
        assert_eq!(nice_step(10 * M, 467, S), 2 * S);
        // An interval that is not itself nice rounds up to a nice step.
        assert_eq!(nice_step(10 * M, 467, 20 * S), 30 * S);
    }

    #[test]
    fn huge_spans_use_multiples_of_the_largest_step() {
        let s = nice_step(20 * 365 * D, 10, S);
        assert_eq!(s % (56 * D), 0);
        assert!(20 * 365 * D / s <= 13);
    }

    #[test]
    fn old_ranges_are_not_asked_finer_than_the_tier_retention_keeps() {
        let r = res(15 * S);
        let now = 1000 * D;
        assert_eq!(r.finest_at(now - H, now), 15 * S);
        assert_eq!(r.finest_at(now - 10 * D, now), M);
        assert_eq!(r.finest_at(now - 60 * D, now), 5 * M);
        assert_eq!(r.finest_at(now - 200 * D, now), H);
        assert_eq!(r.finest_at(now - 900 * D, now), D);
        // One hour a month ago: 1-minute buckets, not 30 s ones from raw data that is gone.
        assert_eq!(r.chart_step(now - 30 * D - H, now - 30 * D, 177, now), M);
    }

    #[test]
    fn the_raw_resolution_is_the_shortest_configured_interval() {
        let c = Config::parse(
            "[collector]\ninterval = \"30s\"\n[[clusters]]\nname = \"a\"\n[[clusters]]\nname = \"b\"\ninterval = \"10s\"\n",
            "t.toml",
        )
        .unwrap();
        assert_eq!(Resolution::from_config(&c).raw_ms, 10 * S);
        let c = Config::parse("", "t.toml").unwrap();
        let r = Resolution::from_config(&c);
        assert_eq!(r.raw_ms, 15 * S);
        assert_eq!(r.retention_ms[0], Some(8 * D));
        assert_eq!(r.retention_ms[4], None);
    }
}
