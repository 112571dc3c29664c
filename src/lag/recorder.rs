//! Records each group's evaluation as series, once per poll interval of its cluster: the largest
//! lag in seconds (kafka-lag-exporter's `kafka_consumergroup_group_max_lag_seconds`) and
//! Burrow's group status. Lag in seconds is otherwise computed when a page is read, from the
//! log-end history; recorded, it becomes a series like any other: the overview charts the worst
//! group's, `/investigate` can rank it, and it keeps a status history per group.
//!
//! Like a Prometheus recording rule, it reads the store and writes back derived series; it never
//! talks to a source. Only clusters with a kafka target are evaluated (a cluster whose target
//! is gone gets no new data to evaluate).

use super::Status;
use super::assess::{self, Evaluated};
use super::settings::LagSettings;
use super::storage::{self, Docs, LagError};
use crate::catalogue::{MetricDef, MetricType, SourceCatalogue, Unit};
use crate::model::{Labels, MetricKind, Sample, SeriesKey, Timestamp, now_ms};
use crate::store::Store;
use crate::targets::TargetRegistry;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

pub const MAX_LAG_SECONDS: &str = "kafka_consumergroup_group_max_lag_seconds";
pub const STATUS: &str = "kafkascope_consumergroup_status";
pub const DURATION: &str = "kafkascope_lag_evaluation_duration_seconds";

/// The series the recorder writes.
pub const CATALOGUE: SourceCatalogue = SourceCatalogue {
    metrics: &[
        MetricDef {
            name: MAX_LAG_SECONDS,
            kind: MetricType::Gauge,
            unit: Unit::Seconds,
            help: "The group's largest lag in seconds over its partitions: how long ago the log end was at the committed offset, interpolated over the stored log-end history (a lower bound when the commit is older than that history)",
        },
        MetricDef {
            name: STATUS,
            kind: MetricType::Gauge,
            unit: Unit::None,
            help: "Burrow's status of the group with [[lag.thresholds]] applied: 1 OK, 2 WARN, 3 ERR",
        },
        MetricDef {
            name: DURATION,
            kind: MetricType::Gauge,
            unit: Unit::Seconds,
            help: "How long evaluating and recording every group of the cluster took",
        },
    ],
    rule: None,
    family: None,
};

/// What one recording wrote.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Recorded {
    pub groups: usize,
    /// Groups with a lag in seconds (the others have no log-end history yet).
    pub with_seconds: usize,
}

/// The samples of one evaluation, stamped `at`.
pub fn samples(cluster: &str, groups: &[Evaluated], at: Timestamp) -> Vec<Sample> {
    let mut out = Vec::with_capacity(groups.len() * 2);
    for g in groups {
        let labels =
            || Labels::from_pairs([("cluster", cluster), ("group", g.data.group.as_str())]);
        out.push(gauge(STATUS, labels(), at, status_code(g.status.status)));
        if let Some(s) = g.max_seconds {
            out.push(gauge(MAX_LAG_SECONDS, labels(), at, s.value()));
        }
    }
    out
}

/// Burrow's constants (`NOTFOUND` 0 … `ERR` 3); a group status is never above ERR.
fn status_code(s: Status) -> f64 {
    f64::from(s.for_group() as u8)
}

fn gauge(metric: &str, labels: Labels, ts: Timestamp, value: f64) -> Sample {
    Sample {
        key: SeriesKey::new(metric, labels),
        kind: MetricKind::Gauge,
        ts,
        value,
    }
}

/// Evaluates every group of `cluster` at `at` and writes the results.
pub async fn record(
    store: &Store,
    cluster: &str,
    at: Timestamp,
    settings: &LagSettings,
    interval_ms: i64,
) -> Result<Recorded, LagError> {
    let started = Instant::now();
    let groups = assess::evaluate(
        store,
        cluster,
        None,
        at,
        settings,
        interval_ms,
        Docs::ClusterMode,
    )
    .await?;
    let mut samples = samples(cluster, &groups, at);
    let recorded = Recorded {
        groups: groups.len(),
        with_seconds: groups.iter().filter(|g| g.max_seconds.is_some()).count(),
    };
    samples.push(gauge(
        DURATION,
        Labels::from_pairs([("cluster", cluster)]),
        at,
        started.elapsed().as_secs_f64(),
    ));
    store
        .write(&samples, &[])
        .await
        .map_err(|source| LagError::Store {
            what: "the recorded group results",
            cluster: cluster.to_string(),
            source,
        })?;
    Ok(recorded)
}

/// Records every kafka cluster's groups on the shortest poll interval among them, until the
/// process ends. A failed recording is logged and tried again at the next interval.
pub fn spawn(store: Store, targets: TargetRegistry) {
    tokio::spawn(async move {
        loop {
            let snapshot = targets.snapshot();
            let clusters: BTreeSet<String> = snapshot
                .iter()
                .filter(|t| t.source == "kafka")
                .map(|t| t.cluster.clone())
                .collect();
            let every = clusters
                .iter()
                .map(|c| storage::interval_of(&snapshot, c))
                .min()
                .unwrap_or(30_000)
                .max(1_000);
            for cluster in &clusters {
                if !storage::has_cluster(&store, cluster) {
                    continue;
                }
                let interval = storage::interval_of(&snapshot, cluster);
                let settings = super::settings::current();
                match record(&store, cluster, now_ms(), settings, interval).await {
                    Ok(r) => {
                        tracing::debug!(%cluster, groups = r.groups, with_seconds = r.with_seconds, "Lag recorded.")
                    }
                    Err(e) => {
                        tracing::warn!(%cluster, error = %e, "Could not record the groups' lag.")
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(every as u64)).await;
        }
    });
}
