//! `/topics/{cluster}/{topic}`: one topic over the range.

use super::{q, topic_path};
use crate::catalogue::Unit;
use crate::web::Ctx;
use crate::web::error::{WebError, WebResult};
use crate::web::extract::PageQuery;
use crate::web::format::urlencode;
use crate::web::page::PageCtx;
use crate::web::pages::events::EventRow;
use crate::web::pages::{RangeQuery, SMALL_H, SMALL_W, event_marks, range_events, require_cluster};
use crate::web::panels::{Panel, instant};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;
use std::collections::BTreeMap;

const fn panel(
    title: &'static str,
    query: &'static str,
    legend: &'static str,
    per_second: bool,
    help: &'static str,
) -> Panel {
    Panel {
        title,
        query,
        legend,
        strip: "",
        unit: Unit::None,
        per_second,
        help,
    }
}

/// The charts of a topic page.
pub const PANELS: &[Panel] = &[
    panel(
        "Messages in",
        "sum(rate(kafka_topic_partition_current_offset{{sel}}[{w}]))",
        "",
        true,
        "Records produced per second, from the log-end offsets",
    ),
    panel(
        "Messages in by partition",
        "sum by (partition) (rate(kafka_topic_partition_current_offset{{sel}}[{w}]))",
        "partition",
        true,
        "A hot partition shows here (keys that hash together)",
    ),
    panel(
        "Consumer lag by group",
        "sum by (consumergroup) (kafka_consumergroup_lag{{sel}})",
        "consumergroup",
        false,
        "Records each group has not consumed yet",
    ),
    panel(
        "Retained messages",
        "sum(kafka_topic_partition_current_offset{{sel}} - kafka_topic_partition_oldest_offset{{sel}})",
        "",
        false,
        "Records between the earliest and the latest offset: what retention keeps",
    ),
];

pub struct PartitionRow {
    pub partition: String,
    pub leader: String,
    pub replicas: String,
    pub isr: String,
    pub health: &'static str,
    pub class: &'static str,
    pub earliest: String,
    pub latest: String,
}

pub struct GroupRow {
    pub group: String,
    pub link: String,
    pub lag: String,
    pub max_lag: String,
}

pub struct PanelChart {
    pub chart: crate::web::chart::Chart,
    pub help: &'static str,
}

#[derive(Template)]
#[template(path = "topics/show.html")]
pub struct TopicPage {
    pub page: PageCtx,
    pub cluster: String,
    pub topic: String,
    pub panels: Vec<PanelChart>,
    pub partitions: Vec<PartitionRow>,
    pub groups: Vec<GroupRow>,
    pub events: Vec<EventRow>,
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    Path((cluster, topic)): Path<(String, String)>,
    PageQuery(rq): PageQuery<RangeQuery>,
) -> WebResult<Html<String>> {
    let range = rq.resolve()?;
    require_cluster(&ctx, &cluster)?;
    let sel = format!("cluster=\"{}\",topic=\"{}\"", q(&cluster), q(&topic));
    let at = range.to;
    let known = instant(&ctx, &format!("kafka_topic_partitions{{{sel}}}"), at).await?;
    let stored = !ctx
        .store
        .select(
            Some("kafka_topic_partitions"),
            &[
                crate::model::Matcher::eq("cluster", &cluster),
                crate::model::Matcher::eq("topic", &topic),
            ],
        )
        .is_empty();
    if known.is_empty() && !stored {
        return Err(WebError::NotFound(format!(
            "Cluster {cluster:?} has no topic {topic:?} in the stored data."
        )));
    }
    let events = range_events(&ctx, &range, Some(&cluster), 500).await?;
    let own: Vec<_> = events
        .into_iter()
        .filter(|e| e.event.subject == topic || e.event.subject.starts_with(&format!("{topic}/")))
        .collect();
    let marks = event_marks(&own);
    let mut panels = Vec::new();
    for p in PANELS {
        panels.push(PanelChart {
            chart: p
                .chart(&ctx, &sel, &range, (SMALL_W, SMALL_H), &marks)
                .await?,
            help: p.help,
        });
    }
    // Partitions at the range's end.
    let per_partition = |name: &'static str| {
        let ctx = &ctx;
        let sel = &sel;
        async move {
            WebResult::Ok(
                instant(ctx, &format!("{name}{{{sel}}}"), at)
                    .await?
                    .into_iter()
                    .filter_map(|s| {
                        let p: u32 = s.labels.get("partition")?.parse().ok()?;
                        Some((p, s.values.first().copied().flatten()?))
                    })
                    .collect::<BTreeMap<u32, f64>>(),
            )
        }
    };
    let leader = per_partition("kafka_topic_partition_leader").await?;
    let replicas = per_partition("kafka_topic_partition_replicas").await?;
    let isr = per_partition("kafka_topic_partition_in_sync_replica").await?;
    let urp = per_partition("kafka_topic_partition_under_replicated_partition").await?;
    let preferred = per_partition("kafka_topic_partition_leader_is_preferred").await?;
    let earliest = per_partition("kafka_topic_partition_oldest_offset").await?;
    let latest = per_partition("kafka_topic_partition_current_offset").await?;
    let n = |m: &BTreeMap<u32, f64>, p: &u32| m.get(p).map_or("–".into(), |v| format!("{v:.0}"));
    let mut ids: Vec<u32> = leader.keys().chain(latest.keys()).copied().collect();
    ids.sort_unstable();
    ids.dedup();
    let partitions = ids
        .iter()
        .map(|p| {
            let (health, class) = if leader.get(p).is_some_and(|l| *l < 0.0) {
                ("no leader", "critical")
            } else if urp.get(p).is_some_and(|u| *u > 0.0) {
                ("under-replicated", "warning")
            } else if preferred.get(p).is_some_and(|v| *v == 0.0) {
                ("leader not preferred", "warning")
            } else {
                ("ok", "ok")
            };
            PartitionRow {
                partition: p.to_string(),
                leader: n(&leader, p),
                replicas: n(&replicas, p),
                isr: n(&isr, p),
                health,
                class,
                earliest: n(&earliest, p),
                latest: n(&latest, p),
            }
        })
        .collect();
    // Groups reading the topic.
    let sum = instant(
        &ctx,
        &format!("sum by (consumergroup) (kafka_consumergroup_lag{{{sel}}})"),
        at,
    )
    .await?;
    let max = instant(
        &ctx,
        &format!("max by (consumergroup) (kafka_consumergroup_lag{{{sel}}})"),
        at,
    )
    .await?;
    let max: BTreeMap<String, f64> = max
        .into_iter()
        .filter_map(|s| {
            Some((
                s.labels.get("consumergroup")?.to_string(),
                s.values.first().copied().flatten()?,
            ))
        })
        .collect();
    let mut groups: Vec<(f64, GroupRow)> = sum
        .into_iter()
        .filter_map(|s| {
            let g = s.labels.get("consumergroup")?.to_string();
            let v = s.values.first().copied().flatten()?;
            Some((
                v,
                GroupRow {
                    link: format!("/consumers/{}/{}", urlencode(&cluster), urlencode(&g)),
                    lag: format!("{v:.0}"),
                    max_lag: max.get(&g).map_or("–".into(), |m| format!("{m:.0}")),
                    group: g,
                },
            ))
        })
        .collect();
    groups.sort_by(|a, b| b.0.total_cmp(&a.0));
    let page = TopicPage {
        page: PageCtx::new(
            &ctx,
            format!("{topic} · {cluster}"),
            "topics",
            topic_path(&cluster, &topic),
            range.clone(),
        )
        .in_cluster(&cluster),
        cluster,
        topic,
        panels,
        partitions,
        groups: groups.into_iter().map(|g| g.1).collect(),
        events: own.iter().take(30).map(EventRow::new).collect(),
    };
    Ok(Html(page.render()?))
}
