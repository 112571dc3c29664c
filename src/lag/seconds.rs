//! Lag in seconds: how long ago the log end stood where the consumer's committed offset stands
//! now, interpolated over OUR stored history of the partition's log-end offset
//! (`kafka_topic_partition_current_offset`), so it survives restarts and reaches back as far as
//! the store keeps data (kafka-lag-exporter keeps 60 points in memory; Datadog 1,000 offsets).
//!
//! Given the history `(t, log_end)` up to the evaluation time `at` and a committed offset `c`:
//! - **caught up** (`c ≥` the newest log end): 0 s, however long ago that offset was written
//!   (an idle partition has no lag, and a flat run of equal log ends never ages it);
//! - **interpolated**: the last point with `log_end ≤ c` and the next one (`log_end > c`) bracket
//!   the moment; linear interpolation between them gives `t(c)`, and the lag is `at − t(c)`. On a
//!   flat run the last point of the run is used (the log end was still `c` then), so idle time
//!   before the next burst is not counted as lag. A burst between two polls can only place
//!   `t(c)` inside that poll interval: the error is bounded by the bracketing points' distance,
//!   returned as `precision_s`;
//! - **older than the history** (a replay, or offsets reset to earliest): the log end was already
//!   past `c` at the oldest stored point, so the lag is *at least* `at − t(oldest)`: returned as
//!   a lower bound, never extrapolated into an absurd number;
//! - **too few points** (no history, or one point the committed offset is behind): `None`, not
//!   NaN;
//! - a log end that went **down** (topic deleted and re-created) starts a new history: points
//!   before the drop belong to another log and are ignored.

/// Lag in seconds of one committed offset at one time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LagSeconds {
    /// Caught up (0) or interpolated; the true value lies within `precision_s` (the distance of
    /// the two history points around the moment).
    Known { seconds: f64, precision_s: f64 },
    /// The committed offset is older than the oldest stored log end: the lag is at least this.
    OlderThanHistory { at_least: f64 },
}

impl LagSeconds {
    /// The value to sort and chart by: the known value, or the lower bound.
    pub fn value(self) -> f64 {
        match self {
            LagSeconds::Known { seconds, .. } => seconds,
            LagSeconds::OlderThanHistory { at_least } => at_least,
        }
    }

    pub fn is_lower_bound(self) -> bool {
        matches!(self, LagSeconds::OlderThanHistory { .. })
    }
}

/// Points of rollup buckets `(start, step, min, max)` of a non-decreasing series: the minimum is
/// where the bucket starts and the maximum where it ends (the true times lie within the bucket).
pub fn bucket_points(buckets: &[(i64, i64, f64, f64)]) -> Vec<(i64, i64)> {
    let mut points = Vec::with_capacity(buckets.len() * 2);
    for &(ts, step, min, max) in buckets {
        if min.is_finite() && max.is_finite() {
            points.push((ts, min as i64));
            points.push((ts + step.max(1) - 1, max as i64));
        }
    }
    points
}

/// A partition's log-end history, time-ordered, with the start of the monotone run each point
/// belongs to (a drop of the log end starts a new run).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    points: Vec<(i64, i64)>,
    run_start: Vec<usize>,
}

impl History {
    /// From `(timestamp ms, log end)` points in any order; equal timestamps keep the last.
    pub fn new(mut points: Vec<(i64, i64)>) -> History {
        points.sort_by_key(|p| p.0);
        let mut dedup: Vec<(i64, i64)> = Vec::with_capacity(points.len());
        for p in points {
            match dedup.last_mut() {
                Some(last) if last.0 == p.0 => *last = p,
                _ => dedup.push(p),
            }
        }
        let mut run_start = Vec::with_capacity(dedup.len());
        let mut start = 0;
        for i in 0..dedup.len() {
            if i > 0 && dedup[i].1 < dedup[i - 1].1 {
                start = i;
            }
            run_start.push(start);
        }
        History {
            points: dedup,
            run_start,
        }
    }

    /// Layers of points from coarse to fine (rollup buckets of a long range, then raw samples of
    /// the recent past): each finer layer replaces the coarser ones from its first timestamp on.
    pub fn layered(layers: &[Vec<(i64, i64)>]) -> History {
        let mut cut = i64::MAX;
        let mut points: Vec<(i64, i64)> = Vec::new();
        for layer in layers.iter().rev() {
            points.extend(layer.iter().filter(|p| p.0 < cut));
            if let Some(first) = layer.iter().map(|p| p.0).min() {
                cut = cut.min(first);
            }
        }
        History::new(points)
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    pub fn points(&self) -> &[(i64, i64)] {
        &self.points
    }

    /// The newest log end at or before `at`.
    pub fn log_end_at(&self, at: i64) -> Option<i64> {
        let upto = self.points.partition_point(|p| p.0 <= at);
        upto.checked_sub(1).map(|i| self.points[i].1)
    }

    /// Lag in seconds at `at` of a consumer whose committed offset is `committed`, from the
    /// points at or before `at` (see the module documentation for the cases).
    pub fn lag_seconds(&self, committed: i64, at: i64) -> Option<LagSeconds> {
        let upto = self.points.partition_point(|p| p.0 <= at);
        let last = upto.checked_sub(1)?;
        let run = &self.points[self.run_start[last]..upto];
        let newest = run[run.len() - 1];
        if committed >= newest.1 {
            return Some(LagSeconds::Known {
                seconds: 0.0,
                precision_s: 0.0,
            });
        }
        if run.len() < 2 {
            return None;
        }
        let oldest = run[0];
        if committed < oldest.1 {
            return Some(LagSeconds::OlderThanHistory {
                at_least: (at - oldest.0).max(0) as f64 / 1000.0,
            });
        }
        // The run is non-decreasing: the last point at or below the commit, and the next one.
        let j = run.partition_point(|p| p.1 <= committed);
        let (left, right) = (run[j - 1], run[j]);
        let frac = (committed - left.1) as f64 / (right.1 - left.1) as f64;
        let t = left.0 as f64 + frac * (right.0 - left.0) as f64;
        Some(LagSeconds::Known {
            seconds: ((at as f64 - t) / 1000.0).max(0.0),
            precision_s: (right.0 - left.0) as f64 / 1000.0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: i64 = 1000;

    fn known(v: Option<LagSeconds>) -> f64 {
        match v {
            Some(LagSeconds::Known { seconds, .. }) => seconds,
            other => panic!("expected a known lag, got {other:?}"),
        }
    }

    /// A producer writing 10 messages a second, polled every 30 s for an hour.
    fn steady() -> History {
        History::new((0..=120).map(|i| (i * 30 * S, i * 300)).collect())
    }

    #[test]
    fn steady_producer_lag_is_the_offset_gap_over_the_rate() {
        let h = steady();
        let at = 3600 * S;
        // Committed 3,000 messages behind the log end (36,000) at 10 msg/s: 300 s.
        assert!((known(h.lag_seconds(33_000, at)) - 300.0).abs() < 1e-9);
        // Between two polls: 33,150 was the log end at 3,315 s.
        assert!((known(h.lag_seconds(33_150, at)) - 285.0).abs() < 1e-9);
        match h.lag_seconds(33_150, at) {
            Some(LagSeconds::Known { precision_s, .. }) => assert_eq!(precision_s, 30.0),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn caught_up_is_zero_even_on_an_idle_partition() {
        // Idle for 50 minutes: the log end stayed at 500.
        let mut pts = vec![(0, 100), (60 * S, 500)];
        pts.extend((1..=100).map(|i| (60 * S + i * 30 * S, 500)));
        let h = History::new(pts);
        let at = 60 * S + 3000 * S;
        assert_eq!(known(h.lag_seconds(500, at)), 0.0);
        // A commit past the log end (sampled at different times) is caught up too.
        assert_eq!(known(h.lag_seconds(501, at)), 0.0);
        // Behind on an idle partition: the log end was last at 400 before the run to 500, at 45 s;
        // the flat run afterwards does not move it.
        assert!((known(h.lag_seconds(400, at)) - (at - 45 * S) as f64 / 1000.0).abs() < 1e-9);
    }

    #[test]
    fn a_flat_run_before_a_burst_does_not_count_as_lag() {
        // Log end 100 from 0 to 600 s (idle), then a burst to 200 by 630 s.
        let mut pts: Vec<(i64, i64)> = (0..=20).map(|i| (i * 30 * S, 100)).collect();
        pts.push((630 * S, 200));
        let h = History::new(pts);
        // Committed 100: the log end was still 100 at 600 s, so at 630 s the lag is at most 30 s.
        let v = known(h.lag_seconds(100, 630 * S));
        assert!((0.0..=30.0).contains(&v), "{v}");
    }

    #[test]
    fn a_burst_is_placed_inside_its_poll_interval() {
        // 10,000 messages arrive between two polls 30 s apart.
        let h = History::new(vec![
            (0, 0),
            (30 * S, 0),
            (60 * S, 10_000),
            (90 * S, 10_000),
        ]);
        for c in [1, 2_500, 5_000, 9_999] {
            let v = known(h.lag_seconds(c, 90 * S));
            assert!((30.0..=60.0).contains(&v), "{c}: {v}");
        }
    }

    #[test]
    fn replay_from_earliest_is_a_lower_bound_not_an_absurd_value() {
        let h = steady();
        let at = 3600 * S;
        // Reset to offset 0 after the history starts at 0: the oldest point is exactly 0.
        assert!((known(h.lag_seconds(0, at)) - 3600.0).abs() < 1e-9);
        // Offsets older than what we stored (the topic existed before us): a lower bound.
        let later = History::new((10..=120).map(|i| (i * 30 * S, i * 300)).collect());
        assert_eq!(
            later.lag_seconds(5, at),
            Some(LagSeconds::OlderThanHistory { at_least: 3300.0 })
        );
        assert!(later.lag_seconds(5, at).unwrap().is_lower_bound());
    }

    #[test]
    fn too_few_points_is_none_not_nan() {
        assert_eq!(History::new(vec![]).lag_seconds(5, 10), None);
        let one = History::new(vec![(0, 100)]);
        assert_eq!(one.lag_seconds(50, 10), None);
        // One point is enough to know a caught-up consumer has no lag.
        assert_eq!(known(one.lag_seconds(100, 10)), 0.0);
        // Points after `at` are not used.
        let h = History::new(vec![(0, 0), (100, 10)]);
        assert_eq!(
            h.lag_seconds(5, 50),
            Some(LagSeconds::Known {
                seconds: 0.0,
                precision_s: 0.0
            })
        );
    }

    #[test]
    fn a_recreated_topic_starts_a_new_history() {
        // 0..1000 then the topic is re-created and grows from 0 again at 10/s.
        let mut pts: Vec<(i64, i64)> = (0..=10).map(|i| (i * 10 * S, i * 100)).collect();
        pts.extend((0..=10).map(|i| (200 * S + i * 10 * S, i * 100)));
        let h = History::new(pts);
        // Committed 500 on the new log: the new log end was 500 at 250 s.
        assert!((known(h.lag_seconds(500, 300 * S)) - 50.0).abs() < 1e-9);
    }

    #[test]
    fn coarse_buckets_then_raw_points() {
        // Hour buckets of a producer at 1 msg/s for two hours, then raw points.
        let h = 3_600 * S;
        let buckets = [
            (0, h, 0.0, 3599.0),
            (h, h, 3600.0, 7199.0),
            (2 * h, h, 7200.0, 7300.0),
        ];
        let raw = [(2 * h, 7200), (2 * h + 30 * S, 7230)];
        let hist = History::layered(&[bucket_points(&buckets), raw.to_vec()]);
        // The third bucket is replaced by the raw points.
        assert_eq!(hist.points().last(), Some(&(2 * h + 30 * S, 7230)));
        assert_eq!(hist.len(), 6);
        let v = known(hist.lag_seconds(1800, 2 * h + 30 * S));
        assert!((v - 5430.0).abs() <= 1.0, "{v}");
    }

    proptest! {
        #![proptest_config(crate::proptest_config(256))]

        #[test]
        fn never_panics_and_is_never_negative_or_nan(
            pts in proptest::collection::vec((0i64..1_000_000, -10i64..1_000_000), 0..40),
            committed in -10i64..1_100_000,
            at in 0i64..1_100_000,
        ) {
            let h = History::new(pts);
            if let Some(v) = h.lag_seconds(committed, at) {
                prop_assert!(v.value().is_finite() && v.value() >= 0.0);
            }
        }

        #[test]
        fn lag_seconds_is_monotone_in_lag_for_a_steady_producer(
            rate in 1i64..1000,
            interval in 1i64..120,
            polls in 2i64..200,
            lag_a in 0i64..100_000,
            lag_b in 0i64..100_000,
        ) {
            let h = History::new((0..polls).map(|i| (i * interval * S, i * interval * rate)).collect());
            let at = (polls - 1) * interval * S;
            let end = (polls - 1) * interval * rate;
            let (small, large) = (lag_a.min(lag_b), lag_a.max(lag_b));
            let a = h.lag_seconds(end - small, at).map(LagSeconds::value);
            let b = h.lag_seconds(end - large, at).map(LagSeconds::value);
            prop_assert!(a.is_some() && b.is_some());
            prop_assert!(a <= b, "{a:?} > {b:?} for lags {small} < {large}");
        }
    }
}
