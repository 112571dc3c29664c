//! The consumer pages: `/consumers` (every group of every cluster, worst first) and
//! `/consumers/{cluster}/{group}` (why is this group lagging), from the lag engine
//! ([`crate::lag`]) over what the kafka source stored.

pub mod group;
pub mod list;

use super::Ctx;
use crate::lag::evaluator::{evaluate_group, human_ms};
use crate::lag::seconds::{History, LagSeconds};
use crate::lag::settings::LagSettings;
use crate::lag::storage::{self, Docs, GroupData};
use crate::lag::{Direction, GroupStatus, Rates, Status, group_rates};
use crate::store::StoredEvent;
use crate::web::error::{WebError, WebResult};
use crate::web::format::{format_number, urlencode};
use crate::web::sources::{Tile, TileFuture, WebSource};
use crate::web::timerange::TimeRange;
use axum::Router;
use axum::routing::get;
use std::collections::HashMap;

/// The consumer pages, their navigation entry and overview tile (shown when kafka targets are
/// configured).
pub const WEB: WebSource = WebSource {
    key: "kafka",
    nav: Some(("consumers", "Consumers", "/consumers")),
    routes,
    overview: tile,
    event_link,
};

fn routes(router: Router<Ctx>) -> Router<Ctx> {
    router
        .route("/consumers", get(list::show))
        .route("/consumers/{cluster}/{group}", get(group::show))
}

/// A group event (rebalance, state change, deletion) is explained by the group's page.
fn event_link(e: &StoredEvent, around: &TimeRange) -> Option<String> {
    let ev = &e.event;
    if !ev.kind.starts_with("kafka_group_") || ev.subject.is_empty() {
        return None;
    }
    Some(format!(
        "{}?{}",
        group_path(&ev.cluster, &ev.subject),
        around.query()
    ))
}

pub fn group_path(cluster: &str, group: &str) -> String {
    format!("/consumers/{}/{}", urlencode(cluster), urlencode(group))
}

fn lag_err(e: crate::lag::storage::LagError) -> WebError {
    WebError::Store(e.to_string())
}

/// Text of a lag in seconds: `4 min 10 s`, `≥ 3 d 2 h` (older than the stored history), `–`.
pub fn seconds_text(v: Option<LagSeconds>) -> String {
    match v {
        None => "–".into(),
        Some(LagSeconds::Known { seconds, .. }) => human_ms((seconds * 1000.0) as i64),
        Some(LagSeconds::OlderThanHistory { at_least }) => {
            format!(
                "≥ {} (older than the stored history)",
                human_ms((at_least * 1000.0) as i64)
            )
        }
    }
}

/// A rate in messages per second.
pub fn rate_text(v: f64) -> String {
    format!("{}/s", format_number(v))
}

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

/// The `[lag]` settings of the running config.
pub fn lag_settings(ctx: &Ctx) -> WebResult<LagSettings> {
    ctx.config
        .lag
        .settings()
        .map_err(|(k, m)| WebError::Internal(format!("config lag.{k}: {m}")))
}

/// Evaluates `groups` of `cluster` (every group when None) at `at`.
pub async fn evaluate(
    ctx: &Ctx,
    cluster: &str,
    groups: Option<Vec<String>>,
    at: i64,
    docs: Docs,
) -> WebResult<Vec<Evaluated>> {
    let settings = lag_settings(ctx)?;
    let cfg = settings.eval;
    let groups = groups.unwrap_or_else(|| storage::groups(&ctx.store, cluster));
    if groups.is_empty() {
        return Ok(Vec::new());
    }
    let interval = storage::interval_of(&ctx.targets.snapshot(), cluster);
    let data = storage::read_groups(&ctx.store, cluster, &groups, at, &cfg, interval, docs)
        .await
        .map_err(lag_err)?;

    // One history per topic partition, deep enough for the lowest commit of any group on it.
    let mut lowest: HashMap<(String, i32), i64> = HashMap::new();
    let mut recent: HashMap<(String, i32), Vec<(i64, i64)>> = HashMap::new();
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
        storage::histories(&ctx.store, cluster, &recent, &lowest, at)
            .await
            .map_err(lag_err)?;

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
            d.recent_log_ends
                .get(&(t.to_string(), p))
                .map(Vec::as_slice)
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

/// Clusters with Kafka offsets stored or a kafka target configured.
pub fn kafka_clusters(ctx: &Ctx) -> Vec<String> {
    let mut out = storage::clusters(&ctx.store);
    for t in ctx.targets.snapshot() {
        if t.source == "kafka" && !out.contains(&t.cluster) {
            out.push(t.cluster.clone());
        }
    }
    out.sort();
    out
}

fn tile<'a>(
    ctx: &'a Ctx,
    cluster: &'a str,
    range: &'a TimeRange,
    _events: &'a [StoredEvent],
) -> TileFuture<'a> {
    Box::pin(async move {
        if !storage::has_cluster(&ctx.store, cluster) {
            return Ok(None);
        }
        let groups = evaluate(ctx, cluster, None, range.to, Docs::ClusterMode).await?;
        let count = |s: Status| groups.iter().filter(|g| g.status.status == s).count();
        let (err, warn) = (count(Status::Err), count(Status::Warn));
        let mut reasons = Vec::new();
        if err > 0 {
            reasons.push(format!(
                "{err} group{} in ERR",
                if err == 1 { "" } else { "s" }
            ));
        }
        if warn > 0 {
            reasons.push(format!(
                "{warn} group{} in WARN",
                if warn == 1 { "" } else { "s" }
            ));
        }
        let class = if err > 0 {
            "critical"
        } else if warn > 0 {
            "warning"
        } else if groups.is_empty() {
            "unknown"
        } else {
            "ok"
        };
        let total: u64 = groups.iter().map(|g| g.status.totallag).sum();
        let worst = groups
            .iter()
            .filter_map(|g| g.max_seconds)
            .max_by(|a, b| a.value().total_cmp(&b.value()));
        Ok(Some(Tile {
            title: "Consumer groups".into(),
            link: format!("/consumers?{}", range.query()),
            class,
            reasons,
            facts: vec![
                ("Groups".into(), groups.len().to_string()),
                ("Total lag".into(), format_number(total as f64)),
                ("Max lag".into(), seconds_text(worst)),
            ],
            charts: vec![],
            strip: vec![crate::analysis::health::groups_cell(
                crate::analysis::health::GroupCounts {
                    ok: count(Status::Ok),
                    warn,
                    err,
                },
                &seconds_text(worst),
            )],
        }))
    })
}
