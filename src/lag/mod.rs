//! The lag engine: Burrow's threshold-free consumer status and lag in seconds, computed from what
//! the kafka source stored (committed offsets, log-end offsets, the `kafka_group` document).
//!
//! Split as Burrow splits it, talking through the plain types below:
//! - [`storage`]: reads a group's commit windows and a partition's log-end history out of the
//!   [`Store`](crate::store::Store) (the store keeps them, so nothing is lost on restart and the
//!   history is not capped at a ring of ten);
//! - [`evaluator`]: Burrow's rules as a pure function over one window (OK, WARN, STOP, STALL,
//!   REWIND per partition; OK, WARN, ERR and `complete` per group), each result with the rule that
//!   decided it;
//! - [`seconds`]: lag in seconds, interpolated over the stored log-end history;
//! - [`assess`]: one evaluation of a cluster's groups with lag in seconds, thresholds and rates,
//!   which every reader (pages, Burrow API, notifiers, recorder) goes through;
//! - [`settings`]: the `[lag]` section (Burrow's evaluator settings, per-group thresholds);
//! - [`notifier`]: Burrow's HTTP and email notifiers (incidents, Go templates, SMTP);
//! - [`recorder`]: each poll interval, every group's largest lag in seconds and status as series.
//!
//! The JSON shapes of [`ConsumerOffset`], [`PartitionStatus`] and [`GroupStatus`] are Burrow 1.2's
//! (`/v3/kafka/{cluster}/consumer/{group}/status` and `/lag`), field for field.

pub mod assess;
pub mod evaluator;
pub mod notifier;
pub mod recorder;
pub mod seconds;
pub mod settings;
pub mod storage;

use serde::{Serialize, Serializer};

/// Burrow's status constants, in its order (`core/protocol/evaluator.go`): a larger value is
/// worse, and everything above ERR is a partition status that a group reports as ERR.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    NotFound = 0,
    Ok = 1,
    Warn = 2,
    Err = 3,
    Stop = 4,
    Stall = 5,
    Rewind = 6,
}

impl Status {
    /// The name Burrow's API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotFound => "NOTFOUND",
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Err => "ERR",
            Status::Stop => "STOP",
            Status::Stall => "STALL",
            Status::Rewind => "REWIND",
        }
    }

    /// The CSS class of the status badge on our pages.
    pub fn class(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "warning",
            Status::NotFound => "unknown",
            Status::Err | Status::Stop | Status::Stall | Status::Rewind => "critical",
        }
    }

    /// The group status a partition status contributes (STOP, STALL and REWIND are ERR).
    pub fn for_group(self) -> Status {
        if self > Status::Err {
            Status::Err
        } else {
            self
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Status {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

/// One entry of a partition's window: an observed commit (Burrow's `ConsumerOffset`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ConsumerOffset {
    pub offset: i64,
    /// When the commit was made (offsets-topic mode) or observed by a poll (admin-api mode), ms.
    pub timestamp: i64,
    /// Log end minus this offset when it was stored, floored at 0; None when unknown.
    pub lag: Option<u64>,
}

/// How the kafka source saw the commits of a cluster (the `commits_source` of the
/// `kafka_group` document).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitsSource {
    /// Every commit with its commit time, read from `__consumer_offsets` (what Burrow reads).
    OffsetsTopic,
    /// OffsetFetch polls: a sample is an observation at poll time, not a commit, so "committed
    /// the same offset again" (STALL) and "did not commit" (STOP) look alike and are told apart
    /// from the group's membership instead.
    AdminApi,
}

impl CommitsSource {
    pub fn parse(text: &str) -> Option<CommitsSource> {
        match text {
            "offsets-topic" => Some(CommitsSource::OffsetsTopic),
            "admin-api" => Some(CommitsSource::AdminApi),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CommitsSource::OffsetsTopic => "offsets-topic",
            CommitsSource::AdminApi => "admin-api",
        }
    }
}

/// What the evaluator gets for one partition of a group.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionWindow {
    pub topic: String,
    pub partition: i32,
    /// Member host that owns the partition (empty when unassigned or unknown).
    pub owner: String,
    pub client_id: String,
    /// The stored commits, oldest first, at most `intervals` of them (see
    /// [`evaluator::build_window`]).
    pub offsets: Vec<ConsumerOffset>,
    /// Log-end offsets of the partition over the last `intervals` polls (Burrow's broker ring),
    /// for the "caught up recently, so not stopped" exception.
    pub broker_offsets: Vec<i64>,
    /// Newest log end minus the newest commit, floored at 0.
    pub current_lag: u64,
    /// The partition's earliest and newest offsets at evaluation time (retention), when stored.
    pub log_start: Option<i64>,
    pub log_end: Option<i64>,
}

/// A partition's newest commit against what the broker still holds (its retention).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Retention {
    pub log_start: i64,
    pub log_end: i64,
    /// Records retention deleted before the group read them: log start − committed offset
    /// (0 when the committed offset is still in the log).
    pub lost: u64,
    /// Share of the retained log the group has yet to read: lag ÷ (log end − log start); above
    /// 1 when records were lost; None when the log holds no record.
    pub used: Option<f64>,
}

impl Retention {
    pub fn of(committed: i64, log_start: i64, log_end: i64) -> Retention {
        let held = log_end - log_start;
        let lag = (log_end - committed).max(0);
        Retention {
            log_start,
            log_end,
            lost: (log_start - committed).max(0) as u64,
            used: (held > 0).then(|| lag as f64 / held as f64),
        }
    }

    /// `37 %`, `100 % (1,200 lost)`, `–`: what a page shows.
    pub fn text(&self) -> String {
        let used = self.used.map_or_else(
            || "–".into(),
            |u| format!("{:.0} %", (u * 100.0).min(100.0)),
        );
        if self.lost > 0 {
            format!("{used} ({} lost)", settings::thousands(self.lost))
        } else {
            used
        }
    }

    /// How close the group is to losing data: lost records first, then the share used.
    pub fn rank(&self) -> f64 {
        if self.lost > 0 {
            2.0 + self.lost as f64
        } else {
            self.used.unwrap_or(0.0).min(1.0)
        }
    }
}

/// Burrow's `PartitionStatus`, plus the rule that decided it (not part of the API).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PartitionStatus {
    pub topic: String,
    pub partition: i32,
    pub owner: String,
    pub client_id: String,
    pub status: Status,
    pub start: Option<ConsumerOffset>,
    pub end: Option<ConsumerOffset>,
    pub current_lag: u64,
    #[serde(serialize_with = "go_float32")]
    pub complete: f32,
    /// Why: the rule that decided the status, in words, e.g. "lag never decreased over 10
    /// commits (312 → 575)".
    #[serde(skip)]
    pub reason: String,
    /// The window the rules were applied to (shown on the group page).
    #[serde(skip)]
    pub window: Vec<ConsumerOffset>,
    /// The newest commit against the partition's retention, when its offsets are stored.
    #[serde(skip)]
    pub retention: Option<Retention>,
}

/// Burrow's `ConsumerGroupStatus`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupStatus {
    pub cluster: String,
    pub group: String,
    pub status: Status,
    #[serde(serialize_with = "go_float32")]
    pub complete: f32,
    pub partitions: Vec<PartitionStatus>,
    pub partition_count: usize,
    pub maxlag: Option<PartitionStatus>,
    pub totallag: u64,
    /// Why the status is more than Burrow's rules say, and data retention deleted before the
    /// group read it: not in Burrow's shape, so written only when there is some.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
}

impl GroupStatus {
    /// The answer for a group (or cluster) that is not known: Burrow's NOTFOUND shape.
    pub fn not_found(cluster: &str, group: &str) -> GroupStatus {
        GroupStatus {
            cluster: cluster.to_string(),
            group: group.to_string(),
            status: Status::NotFound,
            complete: 1.0,
            partitions: Vec::new(),
            partition_count: 0,
            maxlag: None,
            totallag: 0,
            evidence: Vec::new(),
        }
    }

    /// The same status with only the partitions that are not OK (Burrow's `/status`).
    pub fn only_problems(&self) -> GroupStatus {
        GroupStatus {
            partitions: self
                .partitions
                .iter()
                .filter(|p| p.status > Status::Ok)
                .cloned()
                .collect(),
            ..self.clone()
        }
    }
}

/// Where a group's lag is heading, from its recent consume and produce rates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Growing,
    Shrinking,
    Flat,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Growing => "growing",
            Direction::Shrinking => "shrinking",
            Direction::Flat => "flat",
        }
    }

    pub fn arrow(self) -> &'static str {
        match self {
            Direction::Growing => "↑",
            Direction::Shrinking => "↓",
            Direction::Flat => "→",
        }
    }
}

/// Messages per second a group consumed (its committed offsets advanced) and its partitions
/// received (their log ends advanced), over the recent window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rates {
    pub consume: f64,
    pub produce: f64,
    /// The time the rates cover, in seconds (the longest partition window).
    pub over_s: f64,
}

/// The advance per second between the first and last point of a time-ordered `(ts, offset)`
/// run; None with fewer than two points or no time between them. A run that went backwards
/// (a rewind, a re-created topic) counts from its lowest point.
fn advance_per_s(points: &[(i64, i64)]) -> Option<(f64, f64)> {
    let (first, last) = (points.first()?, points.last()?);
    let dt = (last.0 - first.0) as f64 / 1000.0;
    if dt <= 0.0 {
        return None;
    }
    let low = points.iter().map(|p| p.1).min().unwrap_or(first.1);
    let from = if last.1 < first.1 { low } else { first.1 };
    Some(((last.1 - from).max(0) as f64 / dt, dt))
}

/// A group's consume and produce rates from its partitions' windows and recent log ends.
pub fn group_rates<'a>(
    windows: &[PartitionWindow],
    log_ends: impl Fn(&str, i32) -> Option<&'a [(i64, i64)]>,
) -> Option<Rates> {
    let mut r = Rates {
        consume: 0.0,
        produce: 0.0,
        over_s: 0.0,
    };
    let mut any = false;
    for w in windows {
        let commits: Vec<(i64, i64)> = w.offsets.iter().map(|o| (o.timestamp, o.offset)).collect();
        if let Some((c, dt)) = advance_per_s(&commits) {
            r.consume += c;
            r.over_s = r.over_s.max(dt);
            any = true;
        }
        if let Some((p, dt)) = log_ends(&w.topic, w.partition).and_then(advance_per_s) {
            r.produce += p;
            r.over_s = r.over_s.max(dt);
            any = true;
        }
    }
    any.then_some(r)
}

impl Rates {
    /// Growing or shrinking when the net change over the window would move the lag by more
    /// than one message and 1 % of it; flat otherwise.
    pub fn direction(&self, lag: u64) -> Direction {
        let net = self.produce - self.consume;
        let moved = net.abs() * self.over_s.max(1.0);
        if moved <= 1.0_f64.max(lag as f64 * 0.01) {
            Direction::Flat
        } else if net > 0.0 {
            Direction::Growing
        } else {
            Direction::Shrinking
        }
    }

    /// Seconds until the lag is consumed at the current rates: lag ÷ (consume − produce), when
    /// the consumer is faster; None when it is not (or there is no lag).
    pub fn drain_eta_s(&self, lag: u64) -> Option<f64> {
        let gain = self.consume - self.produce;
        (lag > 0 && gain > 0.0).then(|| lag as f64 / gain)
    }
}

/// Go's `json.Marshal` of a float32: integral values without a fraction (`1`, not `1.0`), the
/// others in float32's shortest form, as Burrow answers.
fn go_float32<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        s.serialize_i64(*v as i64)
    } else {
        s.serialize_f32(*v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_keep_burrows_order_and_names() {
        let all = [
            Status::NotFound,
            Status::Ok,
            Status::Warn,
            Status::Err,
            Status::Stop,
            Status::Stall,
            Status::Rewind,
        ];
        for (i, s) in all.iter().enumerate() {
            assert_eq!(*s as usize, i);
        }
        assert_eq!(Status::Stall.for_group(), Status::Err);
        assert_eq!(Status::Warn.for_group(), Status::Warn);
        assert_eq!(
            serde_json::to_string(&Status::NotFound).unwrap(),
            "\"NOTFOUND\""
        );
    }

    fn win(commits: &[(i64, i64)]) -> PartitionWindow {
        PartitionWindow {
            topic: "t".into(),
            partition: 0,
            owner: String::new(),
            client_id: String::new(),
            offsets: commits
                .iter()
                .map(|(t, o)| ConsumerOffset {
                    offset: *o,
                    timestamp: *t,
                    lag: None,
                })
                .collect(),
            broker_offsets: vec![],
            current_lag: 0,
            log_start: None,
            log_end: None,
        }
    }

    #[test]
    fn retention_counts_lost_records_and_the_share_left_to_read() {
        // Committed 300 in a log holding 200..1200: 900 to read of 1,000 kept, nothing lost.
        let r = Retention::of(300, 200, 1_200);
        assert_eq!((r.lost, r.used), (0, Some(0.9)));
        assert_eq!(r.text(), "90 %");
        // Committed 100, but retention moved the start to 500: 400 records lost.
        let r = Retention::of(100, 500, 1_500);
        assert_eq!(r.lost, 400);
        assert_eq!(r.used, Some(1.4));
        assert_eq!(r.text(), "100 % (400 lost)");
        assert!(r.rank() > Retention::of(500, 500, 1_500).rank());
        // An empty log: nothing retained to compare with.
        assert_eq!(Retention::of(7, 7, 7).used, None);
    }

    #[test]
    fn rates_direction_and_drain_eta() {
        // Consumed 600 in 60 s (10/s) while 300 arrived (5/s): shrinking, 1,000 drain in 200 s.
        let w = [win(&[(0, 0), (30_000, 300), (60_000, 600)])];
        let ends = [(0, 1000), (60_000, 1300)];
        let r = group_rates(&w, |_, _| Some(&ends[..])).expect("rates");
        assert_eq!((r.consume, r.produce, r.over_s), (10.0, 5.0, 60.0));
        assert_eq!(r.direction(1000), Direction::Shrinking);
        assert_eq!(r.drain_eta_s(1000), Some(200.0));
        // Producer faster: growing, no ETA.
        let ends = [(0, 1000), (60_000, 2000)];
        let r = group_rates(&w, |_, _| Some(&ends[..])).expect("rates");
        assert_eq!(r.direction(1000), Direction::Growing);
        assert_eq!(r.drain_eta_s(1000), None);
        // Equal rates: flat.
        let ends = [(0, 1000), (60_000, 1600)];
        let r = group_rates(&w, |_, _| Some(&ends[..])).expect("rates");
        assert_eq!(r.direction(1000), Direction::Flat);
        // A single point has no rate.
        assert_eq!(group_rates(&[win(&[(0, 5)])], |_, _| None), None);
    }

    #[test]
    fn complete_is_written_as_go_writes_a_float32() {
        let mut g = GroupStatus::not_found("c", "g");
        let text = serde_json::to_string(&g).unwrap();
        assert!(text.contains("\"complete\":1,"), "{text}");
        g.complete = 2.0 / 3.0;
        let text = serde_json::to_string(&g).unwrap();
        assert!(text.contains("\"complete\":0.6666667,"), "{text}");
        g.complete = 0.0;
        let text = serde_json::to_string(&g).unwrap();
        assert!(text.contains("\"complete\":0,"), "{text}");
    }
}
