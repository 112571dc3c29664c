//! The consumer pages: `/consumers` (every group of every cluster, worst first) and
//! `/consumers/{cluster}/{group}` (why is this group lagging), from the lag engine
//! ([`crate::lag`]) over what the kafka source stored.

pub mod group;
pub mod list;

use super::Ctx;
use crate::lag::Status;
use crate::lag::assess;
pub use crate::lag::assess::Evaluated;
use crate::lag::evaluator::human_ms;
use crate::lag::seconds::LagSeconds;
use crate::lag::settings::LagSettings;
use crate::lag::storage::{self, Docs};
use crate::store::StoredEvent;
use crate::web::error::{WebError, WebResult};
use crate::web::format::{format_number, urlencode};
use crate::web::sources::{Tile, TileFuture, WebSource};
use crate::web::timerange::TimeRange;
use axum::Router;
use axum::routing::get;

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

/// The `[lag]` settings of the running config.
pub fn lag_settings(ctx: &Ctx) -> WebResult<LagSettings> {
    ctx.config
        .lag
        .settings()
        .map_err(|(k, m)| WebError::Internal(format!("config lag.{k}: {m}")))
}

/// Evaluates `groups` of `cluster` (every group when None) at `at`, with the running `[lag]`
/// settings and the cluster's poll interval.
pub async fn evaluate(
    ctx: &Ctx,
    cluster: &str,
    groups: Option<Vec<String>>,
    at: i64,
    docs: Docs,
) -> WebResult<Vec<Evaluated>> {
    let settings = lag_settings(ctx)?;
    let interval = storage::interval_of(&ctx.targets.snapshot(), cluster);
    assess::evaluate(&ctx.store, cluster, groups, at, &settings, interval, docs)
        .await
        .map_err(lag_err)
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
