//! One evaluation of a cluster's groups as every reader of the lag engine needs it: Burrow's
//! status per group ([`evaluator`](super::evaluator)) over the stored commit windows, lag in
//! seconds per partition over the stored log-end histories ([`seconds`](super::seconds)), the
//! `[[lag.thresholds]]` on both, and the consume and produce rates with the drain ETA. The
//! consumer pages, the Burrow API, the notifiers and the recorder all read groups through it.

use super::evaluator::evaluate_group;
use super::seconds::{History, LagSeconds};
use super::settings::LagSettings;
use super::storage::{self, Docs, GroupData, LagError};
use super::{Direction, GroupStatus, Rates, Status, group_rates};
use crate::store::Store;
use std::collections::HashMap;

/// One group evaluated at the end of a range, with what its rows and header show.
pub struct Evaluated {
    pub cluster: String,
    pub data: GroupData,
    pub status: GroupStatus,
    /// Lag in seconds per partition (topic, partition), at the range's end.
    pub seconds: HashMap<(String, i32), Option<LagSeconds>>,
    /// The largest lag in seconds of the group.
    pub max_seconds: Option<LagSeconds>,
    pub rates: Option<Rates>,
    pub direction: Option<Direction>,
    pub eta_s: Option<f64>,
}

impl Evaluated {
    /// The reason of the worst partition (what to read first).
    pub fn worst_reason(&self) -> String {
        self.status
            .partitions
            .iter()
            .max_by_key(|p| (p.status, p.current_lag))
            .filter(|p| p.status > Status::Ok)
            .map(|p| format!("{} [{}]: {}", p.topic, p.partition, p.reason))
            .unwrap_or_default()
    }

    pub fn inferred(&self) -> bool {
        self.data.inference().inferred()
    }

    /// The partition closest to losing data (lost records first, then the largest share of
    /// its retention left to read).
    pub fn worst_retention(&self) -> Option<(&crate::lag::PartitionStatus, crate::lag::Retention)> {
        self.status
            .partitions
            .iter()
            .filter_map(|p| Some((p, p.retention?)))
            .max_by(|a, b| a.1.rank().total_cmp(&b.1.rank()))
    }
}

/// Evaluates `groups` of `cluster` (every group when None) at `at`.
pub async fn evaluate(
    store: &Store,
    cluster: &str,
    groups: Option<Vec<String>>,
    at: i64,
    settings: &LagSettings,
    interval_ms: i64,
    docs: Docs,
) -> Result<Vec<Evaluated>, LagError> {
    let cfg = settings.eval;
    let groups = groups.unwrap_or_else(|| storage::groups(store, cluster));
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let data = storage::read_groups(store, cluster, &groups, at, &cfg, interval_ms, docs).await?;

    // One history per topic partition, deep enough for the lowest commit of any group on it.
    let mut lowest: HashMap<(String, i32), i64> = HashMap::new();
    let mut recent: HashMap<(String, i32), storage::LogEnds> = HashMap::new();
    for d in &data {
        for w in &d.windows {
            if let Some(last) = w.offsets.last() {
                let k = (w.topic.clone(), w.partition);
                let e = lowest.entry(k.clone()).or_insert(last.offset);
                *e = (*e).min(last.offset);
                if let Some(r) = d.recent_log_ends.get(&k)
                    && !recent.contains_key(&k)
                {
                    recent.insert(k, r.clone());
                }
            }
        }
    }
    let histories: HashMap<(String, i32), History> =
        storage::histories(store, cluster, &recent, &lowest, at).await?;

    let mut out = Vec::with_capacity(data.len());
    for d in data {
        if !d.found(at, &cfg) {
            continue;
        }
        let mut status = evaluate_group(cluster, &d.group, &d.windows, at, &cfg, d.inference());
        let mut seconds = HashMap::new();
        let mut max_seconds: Option<LagSeconds> = None;
        for w in &d.windows {
            let Some(last) = w.offsets.last() else {
                continue;
            };
            let k = (w.topic.clone(), w.partition);
            // As of the newest poll of the partition (the committed offset still stands then),
            // not of the page's end a few seconds later.
            let polled = d
                .recent_log_ends
                .get(&k)
                .and_then(|v| v.last())
                .map_or(last.timestamp, |p| p.0)
                .max(last.timestamp);
            let v = histories
                .get(&k)
                .and_then(|h| h.lag_seconds(last.offset, polled.min(at)));
            if let Some(v) = v
                && max_seconds.is_none_or(|m| v.value() > m.value())
            {
                max_seconds = Some(v);
            }
            seconds.insert(k, v);
        }
        settings.apply_thresholds(&mut status, max_seconds.map(|m| m.value()));
        let rates = group_rates(&d.windows, |t, p| {
            d.recent_log_ends.get(&(t.to_string(), p)).map(|r| &r[..])
        });
        let direction = rates.map(|r| r.direction(status.totallag));
        let eta_s = rates.and_then(|r| r.drain_eta_s(status.totallag));
        out.push(Evaluated {
            cluster: cluster.to_string(),
            data: d,
            status,
            seconds,
            max_seconds,
            rates,
            direction,
            eta_s,
        });
    }
    Ok(out)
}
