//! The topic pages, from the kafka source's series (kafka_exporter's names): `/topics` (a row per
//! topic: partitions, messages in, retained messages, partition health, the groups reading it
//! and their lag) and `/topics/{cluster}/{topic}` (messages in over time, per partition and in
//! all; the partitions with leader, replicas, ISR and offsets; the groups with their lag; the
//! topic's events). Also the Kafka tile of the overview: brokers, controller, topics, partitions,
//! under-replicated and leaderless partitions.

mod list;
mod show;
pub use show::PANELS;

use super::Ctx;
use crate::store::StoredEvent;
use crate::web::format::urlencode;
use crate::web::panels::instant;
use crate::web::sources::{Tile, TileFuture, WebSource};
use crate::web::timerange::TimeRange;
use axum::Router;
use axum::routing::get;

pub const WEB: WebSource = WebSource {
    key: "kafka",
    nav: Some(("topics", "Topics", "/topics")),
    routes,
    overview: tile,
    event_link: |e, range| {
        // Partition events name `topic/partition`, topic events the topic.
        if !e.event.kind.starts_with("kafka_")
            || e.event.kind.starts_with("kafka_group")
            || e.event.subject.is_empty()
        {
            return None;
        }
        let topic = e.event.subject.split('/').next().unwrap_or_default();
        Some(format!(
            "{}?{}",
            topic_path(&e.event.cluster, topic),
            range.query()
        ))
    },
};

fn routes(router: Router<Ctx>) -> Router<Ctx> {
    router
        .route("/topics", get(list::list))
        .route("/topics/{cluster}/{topic}", get(show::show))
}

pub fn topic_path(cluster: &str, topic: &str) -> String {
    format!("/topics/{}/{}", urlencode(cluster), urlencode(topic))
}

/// A label value inside a PromQL string literal.
pub(crate) fn q(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"")
}

/// The single value of an instant query (the first series), if any.
pub(crate) async fn scalar(
    ctx: &Ctx,
    text: &str,
    at: i64,
) -> crate::web::error::WebResult<Option<f64>> {
    Ok(instant(ctx, text, at)
        .await?
        .first()
        .and_then(|s| s.values.first().copied().flatten())
        .filter(|v| v.is_finite()))
}

fn tile<'a>(
    ctx: &'a Ctx,
    cluster: &'a str,
    range: &'a TimeRange,
    _events: &'a [StoredEvent],
) -> TileFuture<'a> {
    Box::pin(async move {
        let c = format!("cluster=\"{}\"", q(cluster));
        let at = range.to;
        let Some(brokers) = scalar(ctx, &format!("max(kafka_brokers{{{c}}})"), at).await? else {
            return Ok(None);
        };
        let topics = scalar(ctx, &format!("count(kafka_topic_partitions{{{c}}})"), at).await?;
        let partitions = scalar(ctx, &format!("sum(kafka_topic_partitions{{{c}}})"), at).await?;
        let urp = scalar(
            ctx,
            &format!("sum(kafka_topic_partition_under_replicated_partition{{{c}}})"),
            at,
        )
        .await?
        .unwrap_or(0.0);
        let offline = scalar(
            ctx,
            &format!("count(kafka_topic_partition_leader{{{c}}} < 0)"),
            at,
        )
        .await?
        .unwrap_or(0.0);
        let controller = scalar(ctx, &format!("max(kafka_controller_id{{{c}}})"), at).await?;
        let mut reasons = Vec::new();
        if offline > 0.0 {
            reasons.push(format!("{offline:.0} partitions without a leader"));
        }
        if urp > 0.0 {
            reasons.push(format!("{urp:.0} partitions under-replicated"));
        }
        if controller.is_some_and(|c| c < 0.0) {
            reasons.push("no active controller in the metadata".into());
        }
        let class = if offline > 0.0 {
            "critical"
        } else if !reasons.is_empty() {
            "warning"
        } else {
            "ok"
        };
        let n = |v: Option<f64>| v.map_or("–".into(), |v| format!("{v:.0}"));
        Ok(Some(Tile {
            title: "Kafka".into(),
            link: format!("/topics?{}", range.query()),
            class,
            reasons,
            facts: vec![
                ("Brokers".into(), format!("{brokers:.0}")),
                ("Controller".into(), n(controller)),
                ("Topics".into(), n(topics)),
                ("Partitions".into(), n(partitions)),
                ("Under-replicated".into(), format!("{urp:.0}")),
                ("Without leader".into(), format!("{offline:.0}")),
            ],
            charts: vec![],
            strip: vec![],
        }))
    })
}
