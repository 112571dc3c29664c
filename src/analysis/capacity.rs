//! When will a Kafka log dir fill? A straight line through a log dir's used space is wrong twice:
//! a topic at its retention deletes as fast as it writes (its size is a sawtooth around a steady
//! state ≈ bytes in × retention, per replica), while a topic younger than its retention grows
//! until it reaches it. So the forecast is per partition, from what kafkascope stores:
//!
//! - each partition's bytes in this log dir (the host source's `kafkascope_log_partition_bytes`),
//! - whether its retention is deleting: its oldest offset (`kafka_topic_partition_oldest_offset`)
//!   moved forward within the last day,
//! - its growth: the records produced per second over the last day (the log-end offsets) times
//!   its bytes per record (bytes ÷ records kept).
//!
//! A partition at its retention is at its steady state and adds nothing; every other one grows by
//! its bytes per day until its (unknown) retention starts deleting, so "full in N days" is a
//! lower bound when any of them has a retention shorter than N days. The log dir's free space is
//! its mount's (`kafkascope_log_dir_info` names the mount; `node_filesystem_*` its size).

use crate::model::{Labels, Timestamp};
use crate::query::{Limits, QueryError, eval_instant};
use crate::store::Store;
use std::collections::{BTreeMap, HashMap};

const DAY_MS: i64 = 86_400_000;

/// What is known of one partition in one log dir.
#[derive(Clone, Debug, PartialEq)]
pub struct PartitionFacts {
    pub topic: String,
    pub partition: String,
    pub bytes: f64,
    /// Latest − oldest offset: the records the log keeps.
    pub records: Option<f64>,
    /// Records produced per second over the last day.
    pub rate: Option<f64>,
    /// The oldest offset moved within the last day (retention is deleting).
    pub deleting: bool,
}

impl PartitionFacts {
    /// Bytes per day this partition still adds (0 at its retention; None when unknown).
    pub fn growth_per_day(&self) -> Option<f64> {
        if self.deleting {
            return Some(0.0);
        }
        let (records, rate) = (self.records?, self.rate?);
        if records <= 0.0 {
            return (rate == 0.0).then_some(0.0);
        }
        Some(self.bytes / records * rate * 86_400.0)
    }
}

/// One log dir's forecast.
#[derive(Clone, Debug, PartialEq)]
pub struct LogDirForecast {
    pub instance: String,
    pub log_dir: String,
    pub mountpoint: String,
    pub size: Option<f64>,
    pub avail: Option<f64>,
    /// Bytes of the partitions in it.
    pub kafka_bytes: f64,
    pub partitions: usize,
    /// Partitions at their retention (steady state).
    pub at_retention: usize,
    /// Bytes per day the growing partitions add (None when no partition's growth is known).
    pub growth_per_day: Option<f64>,
    /// Topics adding the most, with bytes per day, largest first (at most five).
    pub growing: Vec<(String, f64)>,
    /// Partitions whose growth is unknown (no offsets stored for them).
    pub unknown: usize,
}

impl LogDirForecast {
    /// Days until the mount is full at the current growth (None: not filling or unknown).
    pub fn days_to_full(&self) -> Option<f64> {
        let (avail, g) = (self.avail?, self.growth_per_day?);
        (g > 0.0).then(|| avail / g)
    }
}

/// Sums partitions into their log dir's forecast.
pub fn forecast(
    instance: &str,
    log_dir: &str,
    mountpoint: &str,
    size: Option<f64>,
    avail: Option<f64>,
    parts: &[PartitionFacts],
) -> LogDirForecast {
    let mut by_topic: BTreeMap<&str, f64> = BTreeMap::new();
    let mut growth = None;
    let mut unknown = 0;
    for p in parts {
        match p.growth_per_day() {
            Some(g) => {
                growth = Some(growth.unwrap_or(0.0) + g);
                if g > 0.0 {
                    *by_topic.entry(&p.topic).or_default() += g;
                }
            }
            None => unknown += 1,
        }
    }
    let mut growing: Vec<(String, f64)> = by_topic
        .into_iter()
        .map(|(t, g)| (t.to_string(), g))
        .collect();
    growing.sort_by(|a, b| b.1.total_cmp(&a.1));
    growing.truncate(5);
    LogDirForecast {
        instance: instance.to_string(),
        log_dir: log_dir.to_string(),
        mountpoint: mountpoint.to_string(),
        size,
        avail,
        kafka_bytes: parts.iter().map(|p| p.bytes).sum(),
        partitions: parts.len(),
        at_retention: parts.iter().filter(|p| p.deleting).count(),
        growth_per_day: growth,
        growing,
        unknown,
    }
}

async fn vector(
    store: &Store,
    text: &str,
    at: Timestamp,
) -> Result<Vec<(Labels, f64)>, QueryError> {
    let r = eval_instant(store, text, at, &Limits::default()).await?;
    Ok(r.into_series()
        .into_iter()
        .filter_map(|s| {
            let v = s.values.first().copied().flatten()?;
            v.is_finite().then_some((s.labels, v))
        })
        .collect())
}

fn get(l: &Labels, k: &str) -> String {
    l.get(k).unwrap_or("").to_string()
}

/// Every Kafka log dir of `cluster` with its forecast as of `at`.
pub async fn log_dirs(
    store: &Store,
    cluster: &str,
    at: Timestamp,
) -> Result<Vec<LogDirForecast>, QueryError> {
    let c = format!(
        "cluster=\"{}\"",
        cluster.replace('\\', "\\\\").replace('"', "\\\"")
    );
    let dirs = vector(store, &format!("kafkascope_log_dir_info{{{c}}}"), at).await?;
    if dirs.is_empty() {
        return Ok(Vec::new());
    }
    let key_tp = |l: &Labels| (get(l, "topic"), get(l, "partition"));
    let latest: HashMap<_, f64> = vector(
        store,
        &format!("kafka_topic_partition_current_offset{{{c}}}"),
        at,
    )
    .await?
    .into_iter()
    .map(|(l, v)| (key_tp(&l), v))
    .collect();
    let oldest_q = format!("kafka_topic_partition_oldest_offset{{{c}}}");
    let oldest: HashMap<_, f64> = vector(store, &oldest_q, at)
        .await?
        .into_iter()
        .map(|(l, v)| (key_tp(&l), v))
        .collect();
    let oldest_before: HashMap<_, f64> = vector(store, &oldest_q, at - DAY_MS)
        .await?
        .into_iter()
        .map(|(l, v)| (key_tp(&l), v))
        .collect();
    let rates: HashMap<_, f64> = vector(
        store,
        &format!("rate(kafka_topic_partition_current_offset{{{c}}}[1d])"),
        at,
    )
    .await?
    .into_iter()
    .map(|(l, v)| (key_tp(&l), v))
    .collect();
    let fs = |metric: &'static str| {
        let text = format!("{metric}{{{c}}}");
        async move {
            Ok::<HashMap<(String, String), f64>, QueryError>(
                vector(store, &text, at)
                    .await?
                    .into_iter()
                    .map(|(l, v)| ((get(&l, "instance"), get(&l, "mountpoint")), v))
                    .collect(),
            )
        }
    };
    let sizes = fs("node_filesystem_size_bytes").await?;
    let avails = fs("node_filesystem_avail_bytes").await?;
    let mut parts: HashMap<(String, String), Vec<PartitionFacts>> = HashMap::new();
    for (l, bytes) in vector(store, &format!("kafkascope_log_partition_bytes{{{c}}}"), at).await? {
        let tp = key_tp(&l);
        let facts = PartitionFacts {
            records: latest
                .get(&tp)
                .zip(oldest.get(&tp))
                .map(|(l, o)| (l - o).max(0.0)),
            rate: rates.get(&tp).copied(),
            deleting: matches!(
                (oldest.get(&tp), oldest_before.get(&tp)),
                (Some(now), Some(before)) if now > before
            ),
            topic: tp.0,
            partition: tp.1,
            bytes,
        };
        parts
            .entry((get(&l, "instance"), get(&l, "log_dir")))
            .or_default()
            .push(facts);
    }
    let mut out: Vec<LogDirForecast> = dirs
        .into_iter()
        .map(|(l, _)| {
            let (instance, dir, mount) = (
                get(&l, "instance"),
                get(&l, "log_dir"),
                get(&l, "mountpoint"),
            );
            let m = (instance.clone(), mount.clone());
            let p = parts
                .remove(&(instance.clone(), dir.clone()))
                .unwrap_or_default();
            forecast(
                &instance,
                &dir,
                &mount,
                sizes.get(&m).copied(),
                avails.get(&m).copied(),
                &p,
            )
        })
        .collect();
    out.sort_by(|a, b| {
        let d = |f: &LogDirForecast| f.days_to_full().unwrap_or(f64::INFINITY);
        d(a).total_cmp(&d(b))
            .then_with(|| (&a.instance, &a.log_dir).cmp(&(&b.instance, &b.log_dir)))
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(topic: &str, bytes: f64, records: f64, rate: f64, deleting: bool) -> PartitionFacts {
        PartitionFacts {
            topic: topic.into(),
            partition: "0".into(),
            bytes,
            records: Some(records),
            rate: Some(rate),
            deleting,
        }
    }

    #[test]
    fn a_partition_at_its_retention_adds_nothing_and_a_young_one_grows_by_its_bytes_in() {
        // 1,000 bytes per record, 1 record/s: 86.4 MB a day while young, nothing at retention.
        let young = p("young", 1e6, 1_000.0, 1.0, false);
        let old = p("old", 5e9, 5e6, 50.0, true);
        assert_eq!(young.growth_per_day(), Some(86_400_000.0));
        assert_eq!(old.growth_per_day(), Some(0.0));
        let f = forecast("h", "/d", "/", Some(1e12), Some(864e6), &[young, old]);
        assert_eq!(f.at_retention, 1);
        assert_eq!(f.growing, vec![("young".to_string(), 86_400_000.0)]);
        // 864 MB free at 86.4 MB a day: ten days.
        assert!((f.days_to_full().unwrap() - 10.0).abs() < 1e-9);
        // Positive control against the straight line: at retention only, never full.
        let f = forecast(
            "h",
            "/d",
            "/",
            Some(1e12),
            Some(1e9),
            &[p("old", 5e9, 5e6, 50.0, true)],
        );
        assert_eq!(f.days_to_full(), None);
        assert_eq!(f.growth_per_day, Some(0.0));
    }

    #[test]
    fn unknown_growth_is_counted_not_guessed() {
        let mut q = p("t", 1e6, 1e3, 1.0, false);
        q.rate = None;
        let f = forecast("h", "/d", "/", None, None, &[q]);
        assert_eq!(
            (f.unknown, f.growth_per_day, f.days_to_full()),
            (1, None, None)
        );
        // An empty partition with no traffic adds nothing.
        assert_eq!(p("e", 0.0, 0.0, 0.0, false).growth_per_day(), Some(0.0));
    }
}
