//! Burrow's evaluator (`core/internal/evaluator/caching.go`) as pure functions over a window of
//! observed commits: no clock, no store, so every rule is tested on scripted windows.
//!
//! Per partition, in Burrow's order:
//! 1. current lag ≤ `allowed_lag` → **OK** (Burrow: current lag 0);
//! 2. a window less complete than `minimum_complete` → **OK**;
//! 3. **STOP** when `now − last commit > last commit − first commit`, unless one of the recent
//!    log-end offsets is ≤ the last commit (the consumer caught up within the broker window);
//! 4. only when no known lag in the window is ≤ `allowed_lag`: **REWIND** when an offset is lower
//!    than the one before it, **STALL** when every offset is the same, **WARN** when the lag never
//!    decreased between consecutive known lags;
//! 5. otherwise **OK**.
//!
//! A group is the worst of its partitions with STOP, STALL and REWIND reported as ERR; its
//! `complete` is the share of partitions whose window is full; `maxlag` the partition with the
//! largest current lag (the first one in topic/partition order on ties).
//!
//! Admin-API polling (no commit timestamps): an observation repeats the committed offset whether
//! or not the consumer committed it again, so rule 3 only fires when observations stop, and a
//! window of one unchanged offset with lag is STALL while the group has members and STOP
//! (inferred: nobody is there to commit) when it has none.

use super::{
    CommitsSource, ConsumerOffset, GroupStatus, PartitionStatus, PartitionWindow, Retention, Status,
};

/// Burrow's storage and evaluator settings that decide a status.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EvalConfig {
    /// Commits kept per partition (Burrow `intervals`, default 10).
    pub intervals: usize,
    /// A commit less than this after the stored one replaces it and keeps its timestamp (Burrow
    /// `min-distance`, default 0 s).
    pub min_distance_ms: i64,
    /// Lag at or below this counts as no lag (default 0, Burrow's rule).
    pub allowed_lag: u64,
    /// A partition whose window is less complete than this is OK (Burrow `minimum-complete`,
    /// default 0).
    pub minimum_complete: f32,
    /// A group without a commit for this long is not found (Burrow `expire-group`, 7 days).
    pub expire_group_ms: i64,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            intervals: 10,
            min_distance_ms: 0,
            allowed_lag: 0,
            minimum_complete: 0.0,
            expire_group_ms: 7 * 86_400_000,
        }
    }
}

/// What the evaluator knows of how commits were seen and of the group's membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inference {
    pub source: CommitsSource,
    /// Members of the group at evaluation time (None: unknown).
    pub members: Option<usize>,
}

impl Inference {
    /// Commits with their commit times (Burrow's own input): no inference.
    pub const OBSERVED: Inference = Inference {
        source: CommitsSource::OffsetsTopic,
        members: None,
    };

    pub fn inferred(&self) -> bool {
        self.source == CommitsSource::AdminApi
    }
}

/// Burrow's ring insertion over time-ordered samples `(timestamp, offset, lag)`: a sample less
/// than `min_distance_ms` after the stored entry overwrites it and inherits its timestamp (so a
/// consumer committing faster than min-distance still fills new slots over time); then the last
/// `intervals` entries are kept. Samples out of time order are ignored.
pub fn build_window(samples: &[(i64, i64, Option<u64>)], cfg: &EvalConfig) -> Vec<ConsumerOffset> {
    let mut out: Vec<ConsumerOffset> = Vec::new();
    let mut last_seen = i64::MIN;
    for &(ts, offset, lag) in samples {
        if ts < last_seen {
            continue;
        }
        last_seen = ts;
        if let Some(prev) = out.last_mut()
            && ts - prev.timestamp < cfg.min_distance_ms
        {
            *prev = ConsumerOffset {
                offset,
                timestamp: prev.timestamp,
                lag,
            };
            continue;
        }
        out.push(ConsumerOffset {
            offset,
            timestamp: ts,
            lag,
        });
    }
    let keep = cfg.intervals.max(1);
    if out.len() > keep {
        out.drain(..out.len() - keep);
    }
    out
}

/// A duration for a reason text: `45 s`, `12 min 5 s`, `3 h 20 min`, `2 d 4 h`.
pub fn human_ms(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s} s"),
        60..3600 if s % 60 == 0 => format!("{} min", s / 60),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        3600..86_400 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

/// Burrow's partition evaluation of one window at `now_ms`.
pub fn evaluate_partition(
    w: &PartitionWindow,
    now_ms: i64,
    cfg: &EvalConfig,
    how: Inference,
) -> PartitionStatus {
    let intervals = cfg.intervals.max(1);
    let offsets = &w.offsets[w.offsets.len().saturating_sub(intervals)..];
    let complete = if offsets.len() < intervals {
        offsets.len() as f32 / intervals as f32
    } else {
        1.0
    };
    let mut st = PartitionStatus {
        topic: w.topic.clone(),
        partition: w.partition,
        owner: w.owner.clone(),
        client_id: w.client_id.clone(),
        status: Status::Ok,
        start: offsets.first().copied(),
        end: offsets.last().copied(),
        current_lag: w.current_lag,
        complete,
        reason: String::new(),
        window: offsets.to_vec(),
        retention: match (offsets.last(), w.log_start, w.log_end) {
            (Some(last), Some(start), Some(end)) => Some(Retention::of(last.offset, start, end)),
            _ => None,
        },
    };
    let (status, reason) = decide(offsets, w, now_ms, cfg, how, complete);
    st.status = status;
    st.reason = reason;
    st
}

fn decide(
    offsets: &[ConsumerOffset],
    w: &PartitionWindow,
    now_ms: i64,
    cfg: &EvalConfig,
    how: Inference,
    complete: f32,
) -> (Status, String) {
    let (Some(first), Some(last)) = (offsets.first(), offsets.last()) else {
        return (Status::Ok, "no commit stored for this partition".into());
    };
    if complete < cfg.minimum_complete {
        return (
            Status::Ok,
            format!(
                "window {}/{} is below the minimum completeness {}",
                offsets.len(),
                cfg.intervals,
                cfg.minimum_complete
            ),
        );
    }
    if w.current_lag <= cfg.allowed_lag {
        return (
            Status::Ok,
            format!(
                "current lag {} is within the allowed lag {}",
                w.current_lag, cfg.allowed_lag
            ),
        );
    }
    let silent = now_ms - last.timestamp;
    let span = last.timestamp - first.timestamp;
    // Burrow's exception: a recent log end at or below the last commit means the consumer was
    // caught up within the broker window, so it is not stopped yet.
    let caught_up = w.broker_offsets.iter().any(|b| *b <= last.offset);
    if silent > span && !caught_up {
        return (
            Status::Stop,
            format!(
                "no commit for {}, longer than the window spans ({}); no recent log end at or below the last commit {}",
                human_ms(silent),
                human_ms(span),
                last.offset
            ),
        );
    }
    let zero = offsets
        .iter()
        .find(|o| o.lag.is_some_and(|l| l <= cfg.allowed_lag));
    if let Some(z) = zero {
        return (
            Status::Ok,
            format!(
                "lag was {} (within the allowed {}) at the commit of offset {} in the window",
                z.lag.unwrap_or(0),
                cfg.allowed_lag,
                z.offset
            ),
        );
    }
    if let Some(pair) = offsets.windows(2).find(|p| p[1].offset < p[0].offset) {
        return (
            Status::Rewind,
            format!(
                "the committed offset went back from {} to {}",
                pair[0].offset, pair[1].offset
            ),
        );
    }
    if offsets.iter().all(|o| o.offset == first.offset) {
        if how.inferred() && how.members == Some(0) {
            return (
                Status::Stop,
                format!(
                    "inferred: the group has no members and its committed offset {} did not move over {} observations with lag",
                    first.offset,
                    offsets.len()
                ),
            );
        }
        return (
            Status::Stall,
            format!(
                "the same offset {} {} {} times with lag never 0",
                first.offset,
                if how.inferred() {
                    "was observed"
                } else {
                    "was committed"
                },
                offsets.len()
            ),
        );
    }
    let lags: Vec<u64> = offsets.iter().filter_map(|o| o.lag).collect();
    if let Some(p) = lags.windows(2).find(|p| p[1] < p[0]) {
        return (
            Status::Ok,
            format!("lag decreased within the window ({} → {})", p[0], p[1]),
        );
    }
    (
        Status::Warn,
        format!(
            "lag never decreased over {} commits ({} → {})",
            offsets.len(),
            lags.first().copied().unwrap_or(0),
            lags.last().copied().unwrap_or(0)
        ),
    )
}

/// Burrow's group evaluation. Partitions are taken in the order given (the caller sorts them by
/// topic and partition); partitions without any commit are left out, as Burrow counts only
/// partitions that have commits.
pub fn evaluate_group(
    cluster: &str,
    group: &str,
    windows: &[PartitionWindow],
    now_ms: i64,
    cfg: &EvalConfig,
    how: Inference,
) -> GroupStatus {
    let mut g = GroupStatus {
        cluster: cluster.to_string(),
        group: group.to_string(),
        status: Status::Ok,
        complete: 1.0,
        partitions: Vec::new(),
        partition_count: 0,
        maxlag: None,
        totallag: 0,
        evidence: Vec::new(),
    };
    let mut complete = 0usize;
    for w in windows.iter().filter(|w| !w.offsets.is_empty()) {
        let p = evaluate_partition(w, now_ms, cfg, how);
        g.totallag = g.totallag.saturating_add(p.current_lag);
        g.status = g.status.max(p.status.for_group());
        if g.maxlag
            .as_ref()
            .is_none_or(|m| p.current_lag > m.current_lag)
        {
            g.maxlag = Some(p.clone());
        }
        if p.complete == 1.0 {
            complete += 1;
        }
        if let (Some(r), Some(end)) = (p.retention, p.end)
            && r.lost > 0
        {
            g.evidence.push(format!(
                "{} [{}]: committed offset {} is below the log start {}: {} records deleted by retention before the group read them",
                p.topic,
                p.partition,
                end.offset,
                r.log_start,
                super::settings::thousands(r.lost)
            ));
        }
        g.partitions.push(p);
    }
    g.partition_count = g.partitions.len();
    g.complete = if g.partition_count > 0 {
        complete as f32 / g.partition_count as f32
    } else {
        0.0
    };
    g
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const NOW: i64 = 1_795_627_300_000;
    const STEP: i64 = 30_000;

    /// A window of commits every 30 s ending at `end`: (offset, lag) pairs, oldest first.
    fn window(pairs: &[(i64, u64)], end: i64, current_lag: u64) -> PartitionWindow {
        let n = pairs.len() as i64;
        PartitionWindow {
            topic: "orders".into(),
            partition: 0,
            owner: "/10.0.0.1".into(),
            client_id: "c1".into(),
            offsets: pairs
                .iter()
                .enumerate()
                .map(|(i, (o, l))| ConsumerOffset {
                    offset: *o,
                    timestamp: end - (n - 1 - i as i64) * STEP,
                    lag: Some(*l),
                })
                .collect(),
            broker_offsets: vec![],
            current_lag,
            log_start: None,
            log_end: None,
        }
    }

    fn eval(w: &PartitionWindow) -> PartitionStatus {
        evaluate_partition(w, NOW, &EvalConfig::default(), Inference::OBSERVED)
    }

    fn steady(lags: &[u64]) -> Vec<(i64, u64)> {
        lags.iter()
            .enumerate()
            .map(|(i, l)| (100 + 10 * i as i64, *l))
            .collect()
    }

    // Every rule of Burrow's evaluator on a scripted window: (scenario, rule, status).

    #[test]
    fn rule_1_current_lag_zero_is_ok_whatever_the_window() {
        // The window alone would be STALL; current lag 0 wins.
        let w = window(&[(50, 5); 10], NOW, 0);
        let p = eval(&w);
        assert_eq!(p.status, Status::Ok, "{}", p.reason);
        assert!(p.reason.contains("current lag 0"));
        // Positive control: the same window with current lag is STALL.
        assert_eq!(eval(&window(&[(50, 5); 10], NOW, 5)).status, Status::Stall);
    }

    #[test]
    fn rule_1_allowed_lag_counts_small_lag_as_none() {
        let cfg = EvalConfig {
            allowed_lag: 5,
            ..EvalConfig::default()
        };
        let w = window(&[(50, 5); 10], NOW, 5);
        let p = evaluate_partition(&w, NOW, &cfg, Inference::OBSERVED);
        assert_eq!(p.status, Status::Ok);
        let w = window(&[(50, 6); 10], NOW, 6);
        let p = evaluate_partition(&w, NOW, &cfg, Inference::OBSERVED);
        assert_eq!(p.status, Status::Stall);
    }

    #[test]
    fn rule_stop_silent_longer_than_the_window_spans() {
        // Ten commits over 4.5 min, the last one 5 min ago.
        let end = NOW - 300_000;
        let w = window(&steady(&[10, 9, 8, 7, 6, 5, 4, 3, 2, 1]), end, 40);
        let p = eval(&w);
        assert_eq!(p.status, Status::Stop, "{}", p.reason);
        assert!(p.reason.contains("no commit for 5 min"), "{}", p.reason);
        // Positive control: silent for less than the span (4 min) is not STOP.
        let w = window(&steady(&[10, 9, 8, 7, 6, 5, 4, 3, 2, 1]), NOW - 240_000, 40);
        assert_eq!(eval(&w).status, Status::Ok);
    }

    #[test]
    fn rule_stop_comes_before_a_zero_lag_in_the_window() {
        // Burrow checks STOP first: old zero lag does not hide a stopped consumer.
        let end = NOW - 600_000;
        let w = window(&steady(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]), end, 500);
        assert_eq!(eval(&w).status, Status::Stop);
    }

    #[test]
    fn rule_stop_exception_recent_log_end_at_the_last_commit() {
        let end = NOW - 300_000;
        let mut w = window(&steady(&[10, 9, 8, 7, 6, 5, 4, 3, 2, 1]), end, 3);
        // The log end was at the last commit (190) within the broker window: caught up recently.
        w.broker_offsets = vec![190, 191, 193];
        let p = eval(&w);
        assert_ne!(p.status, Status::Stop, "{}", p.reason);
        // Positive control: broker offsets all past the commit → STOP.
        w.broker_offsets = vec![191, 192, 193];
        assert_eq!(eval(&w).status, Status::Stop);
    }

    #[test]
    fn rule_rewind_offset_went_back() {
        let w = window(
            &[
                (100, 10),
                (110, 10),
                (120, 11),
                (40, 90),
                (50, 90),
                (60, 91),
                (70, 92),
                (80, 93),
                (90, 94),
                (95, 95),
            ],
            NOW,
            95,
        );
        let p = eval(&w);
        assert_eq!(p.status, Status::Rewind);
        assert!(p.reason.contains("from 120 to 40"), "{}", p.reason);
    }

    #[test]
    fn rule_zero_lag_in_window_skips_rewind_stall_and_warn() {
        // Same rewind, but lag was 0 at one commit: OK (rule 1 of Burrow's window checks).
        let w = window(
            &[
                (100, 0),
                (110, 10),
                (120, 11),
                (40, 90),
                (50, 90),
                (60, 91),
                (70, 92),
                (80, 93),
                (90, 94),
                (95, 95),
            ],
            NOW,
            95,
        );
        let p = eval(&w);
        assert_eq!(p.status, Status::Ok, "{}", p.reason);
        assert!(p.reason.contains("lag was 0"));
    }

    #[test]
    fn rule_stall_same_offset_with_lag() {
        let p = eval(&window(&[(10, 10); 15], NOW, 10));
        assert_eq!(p.status, Status::Stall);
        assert_eq!(p.window.len(), 10, "the window holds `intervals` commits");
        assert!(p.reason.contains("same offset 10"), "{}", p.reason);
    }

    #[test]
    fn rule_warn_lag_never_decreased() {
        let w = window(&steady(&[5, 5, 6, 8, 8, 9, 12, 12, 13, 20]), NOW, 20);
        let p = eval(&w);
        assert_eq!(p.status, Status::Warn);
        assert!(p.reason.contains("5 → 20"), "{}", p.reason);
        // Positive control: one decrease anywhere makes it OK.
        let w = window(&steady(&[5, 5, 6, 8, 7, 9, 12, 12, 13, 20]), NOW, 20);
        assert_eq!(eval(&w).status, Status::Ok);
    }

    #[test]
    fn rule_warn_ignores_unknown_lags() {
        let mut w = window(&steady(&[5, 9, 6, 8, 8, 9, 12, 12, 13, 20]), NOW, 20);
        // The one decrease (9 → 6) is around a commit whose lag is unknown (backfilled).
        w.offsets[1].lag = None;
        assert_eq!(eval(&w).status, Status::Warn);
    }

    #[test]
    fn minimum_complete_keeps_young_windows_ok() {
        let cfg = EvalConfig {
            minimum_complete: 0.5,
            ..EvalConfig::default()
        };
        let w = window(&[(10, 10); 3], NOW, 10);
        let p = evaluate_partition(&w, NOW, &cfg, Inference::OBSERVED);
        assert_eq!(p.status, Status::Ok);
        assert!((p.complete - 0.3).abs() < 1e-6);
        // Positive control: the default (0) evaluates it: STALL.
        assert_eq!(eval(&w).status, Status::Stall);
    }

    #[test]
    fn admin_api_same_offset_is_stall_with_members_and_stop_without() {
        let w = window(&[(10, 10); 10], NOW, 10);
        let with = Inference {
            source: CommitsSource::AdminApi,
            members: Some(2),
        };
        let p = evaluate_partition(&w, NOW, &EvalConfig::default(), with);
        assert_eq!(p.status, Status::Stall);
        assert!(p.reason.contains("observed"), "{}", p.reason);
        let without = Inference {
            source: CommitsSource::AdminApi,
            members: Some(0),
        };
        let p = evaluate_partition(&w, NOW, &EvalConfig::default(), without);
        assert_eq!(p.status, Status::Stop);
        assert!(p.reason.starts_with("inferred"), "{}", p.reason);
        // Offsets-topic mode never infers: STALL whatever the membership.
        let topic = Inference {
            source: CommitsSource::OffsetsTopic,
            members: Some(0),
        };
        let p = evaluate_partition(&w, NOW, &EvalConfig::default(), topic);
        assert_eq!(p.status, Status::Stall);
    }

    #[test]
    fn min_distance_overwrites_and_keeps_the_stored_timestamp() {
        let cfg = EvalConfig {
            min_distance_ms: 60_000,
            intervals: 3,
            ..EvalConfig::default()
        };
        // Commits every 20 s: three per minute collapse into one slot.
        let samples: Vec<(i64, i64, Option<u64>)> =
            (0..9).map(|i| (i * 20_000, 100 + i, Some(5))).collect();
        let w = build_window(&samples, &cfg);
        assert_eq!(
            w.iter()
                .map(|o| (o.timestamp, o.offset))
                .collect::<Vec<_>>(),
            vec![(0, 102), (60_000, 105), (120_000, 108)]
        );
        // Without min-distance: the last three commits.
        let w = build_window(
            &samples,
            &EvalConfig {
                intervals: 3,
                ..EvalConfig::default()
            },
        );
        assert_eq!(w.first().map(|o| o.offset), Some(106));
    }

    #[test]
    fn group_is_the_worst_partition_with_errors_as_err() {
        let ok = window(&steady(&[5, 4, 3, 2, 1, 1, 1, 1, 1, 0]), NOW, 0);
        let mut stall = window(&[(10, 10); 10], NOW, 10);
        stall.partition = 1;
        let mut warn = window(&steady(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]), NOW, 30);
        warn.partition = 2;
        let mut young = window(&[(3, 0)], NOW, 0);
        young.partition = 3;
        let none = PartitionWindow {
            partition: 4,
            offsets: vec![],
            ..ok.clone()
        };
        let g = evaluate_group(
            "lab",
            "g",
            &[ok, stall, warn, young, none],
            NOW,
            &EvalConfig::default(),
            Inference::OBSERVED,
        );
        assert_eq!(g.status, Status::Err);
        assert_eq!(
            g.partition_count, 4,
            "partitions without commits are not counted"
        );
        assert_eq!(g.totallag, 40);
        assert_eq!(g.maxlag.as_ref().map(|m| m.partition), Some(2));
        assert!((g.complete - 0.75).abs() < 1e-6);
        assert_eq!(g.only_problems().partitions.len(), 2);
    }

    #[test]
    fn an_empty_group_is_ok_with_complete_zero() {
        let g = evaluate_group(
            "lab",
            "g",
            &[],
            NOW,
            &EvalConfig::default(),
            Inference::OBSERVED,
        );
        assert_eq!(
            (g.status, g.complete, g.maxlag.is_none()),
            (Status::Ok, 0.0, true)
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_ms(45_000), "45 s");
        assert_eq!(human_ms(300_000), "5 min");
        assert_eq!(human_ms(725_000), "12 min 5 s");
        assert_eq!(human_ms(3 * 3_600_000 + 20 * 60_000), "3 h 20 min");
        assert_eq!(human_ms(2 * 86_400_000 + 4 * 3_600_000), "2 d 4 h");
    }

    proptest! {
        #![proptest_config(crate::proptest_config(256))]
        #[test]
        fn evaluation_never_panics(
            commits in proptest::collection::vec((0i64..1_000, 0i64..10_000, proptest::option::of(0u64..1_000)), 0..30),
            brokers in proptest::collection::vec(0i64..20_000, 0..12),
            current in 0u64..2_000,
            now in 0i64..2_000_000,
            intervals in 0usize..16,
            min_distance in 0i64..5_000,
            members in proptest::option::of(0usize..3),
        ) {
            let mut t = 0;
            let samples: Vec<(i64, i64, Option<u64>)> = commits
                .iter()
                .map(|(dt, o, l)| {
                    t += dt;
                    (t, *o, *l)
                })
                .collect();
            let cfg = EvalConfig { intervals, min_distance_ms: min_distance, ..EvalConfig::default() };
            let offsets = build_window(&samples, &cfg);
            prop_assert!(offsets.len() <= intervals.max(1));
            let w = PartitionWindow {
                topic: "t".into(),
                partition: 0,
                owner: String::new(),
                client_id: String::new(),
                offsets,
                broker_offsets: brokers,
                current_lag: current,
                log_start: None,
                log_end: None,
            };
            for source in [CommitsSource::AdminApi, CommitsSource::OffsetsTopic] {
                let p = evaluate_partition(&w, now, &cfg, Inference { source, members });
                prop_assert!(p.status != Status::NotFound && p.status != Status::Err);
                prop_assert!((0.0..=1.0).contains(&p.complete));
                prop_assert!(!p.reason.is_empty());
                if current == 0 {
                    prop_assert_eq!(p.status, Status::Ok);
                }
            }
        }
    }
}
