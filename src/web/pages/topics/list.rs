//! `/topics`: a row per topic at the end of the range.

use super::topic_path;
use crate::catalogue::Unit;
use crate::web::Ctx;
use crate::web::chart::Sparkline;
use crate::web::error::WebResult;
use crate::web::extract::PageQuery;
use crate::web::format::ValueFormat;
use crate::web::page::{PageCtx, metric_link};
use crate::web::pages::{RangeQuery, chart_step};
use crate::web::panels::{instant, query_series, rate_window, spark};
use askama::Template;
use axum::extract::State;
use axum::response::Html;
use std::collections::{BTreeMap, HashMap};

pub struct TopicRow {
    pub cluster: String,
    pub topic: String,
    pub path: String,
    pub partitions: String,
    pub messages_in: String,
    pub retained: String,
    pub urp: f64,
    pub leaderless: f64,
    pub not_preferred: f64,
    pub groups: String,
    pub lag: String,
    pub spark: Option<Sparkline>,
}

#[derive(Template)]
#[template(path = "topics/list.html")]
pub struct ListPage {
    pub page: PageCtx,
    pub rows: Vec<TopicRow>,
}

type Key = (String, String);

async fn by_topic(ctx: &Ctx, text: &str, at: i64) -> WebResult<HashMap<Key, f64>> {
    Ok(instant(ctx, text, at)
        .await?
        .into_iter()
        .filter_map(|s| {
            let v = s.values.first().copied().flatten()?;
            let k = (
                s.labels.get("cluster")?.to_string(),
                s.labels.get("topic")?.to_string(),
            );
            v.is_finite().then_some((k, v))
        })
        .collect())
}

pub(crate) async fn list(
    State(ctx): State<Ctx>,
    PageQuery(q): PageQuery<RangeQuery>,
) -> WebResult<Html<String>> {
    let range = q.resolve()?;
    let at = range.to;
    let by = "cluster, topic";
    let partitions = by_topic(&ctx, &format!("max by ({by}) (kafka_topic_partitions)"), at).await?;
    let rate = by_topic(
        &ctx,
        &format!("sum by ({by}) (rate(kafka_topic_partition_current_offset[5m]))"),
        at,
    )
    .await?;
    let retained = by_topic(
        &ctx,
        &format!("sum by ({by}) (kafka_topic_partition_current_offset - kafka_topic_partition_oldest_offset)"),
        at,
    )
    .await?;
    let urp = by_topic(
        &ctx,
        &format!("sum by ({by}) (kafka_topic_partition_under_replicated_partition)"),
        at,
    )
    .await?;
    let leaderless = by_topic(
        &ctx,
        &format!("count by ({by}) (kafka_topic_partition_leader < 0)"),
        at,
    )
    .await?;
    let not_preferred = by_topic(
        &ctx,
        &format!("count by ({by}) (kafka_topic_partition_leader_is_preferred == 0)"),
        at,
    )
    .await?;
    let groups = by_topic(
        &ctx,
        &format!(
            "count by ({by}) (max by ({by}, consumergroup) (kafka_consumergroup_current_offset))"
        ),
        at,
    )
    .await?;
    let lag = by_topic(
        &ctx,
        &format!("sum by ({by}) (kafka_consumergroup_lag)"),
        at,
    )
    .await?;
    let step = chart_step(&ctx, &range, 48);
    let spark_q = format!(
        "sum by ({by}) (rate(kafka_topic_partition_current_offset[{}s]))",
        rate_window(step) / 1000
    );
    let per_s = ValueFormat {
        unit: Unit::None,
        per_second: true,
    };
    let link = metric_link(&spark_q, &range);
    let mut sparks: HashMap<Key, Sparkline> = query_series(&ctx, &spark_q, &range, step)
        .await?
        .into_iter()
        .filter_map(|(s, d)| {
            let k = (
                s.labels.get("cluster")?.to_string(),
                s.labels.get("topic")?.to_string(),
            );
            Some((k, spark(&d, &range, per_s, link.clone())))
        })
        .collect();
    let plain = ValueFormat::plain();
    let n =
        |m: &HashMap<Key, f64>, k: &Key| m.get(k).map_or("–".to_string(), |v| plain.format(*v));
    let keys: BTreeMap<Key, ()> = partitions.keys().map(|k| (k.clone(), ())).collect();
    let rows: Vec<TopicRow> = keys
        .into_keys()
        .map(|k| TopicRow {
            path: topic_path(&k.0, &k.1),
            partitions: n(&partitions, &k),
            messages_in: rate.get(&k).map_or("–".into(), |v| per_s.format(*v)),
            retained: n(&retained, &k),
            urp: urp.get(&k).copied().unwrap_or(0.0),
            leaderless: leaderless.get(&k).copied().unwrap_or(0.0),
            not_preferred: not_preferred.get(&k).copied().unwrap_or(0.0),
            groups: groups.get(&k).map_or("0".into(), |v| format!("{v:.0}")),
            lag: n(&lag, &k),
            spark: sparks.remove(&k),
            cluster: k.0,
            topic: k.1,
        })
        .collect();
    crate::web::export::offer_table("topics", || {
        use crate::web::export::{Cell, Table};
        let mut t = Table::new(
            "topics",
            vec![
                "cluster",
                "topic",
                "partitions",
                "messages_in",
                "retained_messages",
                "under_replicated",
                "without_leader",
                "not_on_preferred_leader",
                "groups",
                "lag",
            ],
        );
        for r in &rows {
            t.row(vec![
                r.cluster.as_str().into(),
                r.topic.as_str().into(),
                r.partitions.as_str().into(),
                r.messages_in.as_str().into(),
                r.retained.as_str().into(),
                Cell::from(r.urp),
                Cell::from(r.leaderless),
                Cell::from(r.not_preferred),
                r.groups.as_str().into(),
                r.lag.as_str().into(),
            ]);
        }
        t
    });
    let page = ListPage {
        page: PageCtx::new(&ctx, "Topics", "topics", "/topics", range),
        rows,
    };
    Ok(Html(page.render()?))
}
