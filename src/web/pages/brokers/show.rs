//! `/brokers/{cluster}/{broker}`: one broker over the range — every chart of [`super::PANELS`],
//! the host's cold-reads overlay ([`crate::web::pages::host::COLD_READS`]) and the broker's events.

use super::{BrokerId, PANELS, q, scalar};
use crate::model::Matcher;
use crate::web::Ctx;
use crate::web::chart::Chart;
use crate::web::error::{WebError, WebResult};
use crate::web::extract::PageQuery;
use crate::web::page::PageCtx;
use crate::web::pages::events::EventRow;
use crate::web::pages::host::{COLD_READS, hosts};
use crate::web::pages::{RangeQuery, SMALL_H, event_marks, range_events, require_cluster};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;

/// A panel's chart with what it means.
pub struct PanelChart {
    pub chart: Chart,
    pub help: &'static str,
}

#[derive(Template)]
#[template(path = "brokers/show.html")]
pub struct BrokerPage {
    pub page: PageCtx,
    pub broker: BrokerId,
    pub facts: Vec<(String, String)>,
    pub panels: Vec<PanelChart>,
    /// The co-located host's page, when a host of the same name is read.
    pub host_link: Option<String>,
    pub events: Vec<EventRow>,
}

/// `kafka.server:type=KafkaServer,name=BrokerState` values (Kafka's `BrokerState` enum).
fn broker_state(v: f64) -> String {
    match v as i64 {
        0 => "not running".into(),
        1 => "starting".into(),
        2 => "recovering from an unclean shutdown".into(),
        3 => "running".into(),
        6 => "pending controlled shutdown".into(),
        7 => "shutting down".into(),
        n => format!("state {n}"),
    }
}

/// The host part of `host:port` (the whole text when it has no numeric port).
fn host_name(instance: &str) -> &str {
    instance
        .rsplit_once(':')
        .filter(|(_, port)| !port.is_empty() && port.chars().all(|c| c.is_ascii_digit()))
        .map_or(instance, |(h, _)| h)
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    Path((cluster, instance)): Path<(String, String)>,
    PageQuery(rq): PageQuery<RangeQuery>,
) -> WebResult<Html<String>> {
    let range = rq.resolve()?;
    require_cluster(&ctx, &cluster)?;
    let stored = ctx.store.select(
        None,
        &[
            Matcher::eq("cluster", &cluster),
            Matcher::eq("job", super::BROKER_JOB),
            Matcher::eq("instance", &instance),
        ],
    );
    if stored.is_empty() {
        return Err(WebError::NotFound(format!(
            "Cluster {cluster:?} has no broker {instance:?} (a broker is a JMX target whose series carry job=\"kafka-broker\")."
        )));
    }
    let broker = BrokerId { cluster, instance };
    let cluster = broker.cluster.clone();
    let sel = broker.selector();
    let events = range_events(&ctx, &range, Some(&cluster), 500).await?;
    let own: Vec<_> = events
        .into_iter()
        .filter(|e| {
            let s = &e.event.subject;
            *s == broker.instance
                || s.strip_prefix(broker.instance.as_str())
                    .is_some_and(|rest| rest.starts_with('/') || rest.starts_with(' '))
        })
        .collect();
    let marks = event_marks(&own);
    // Narrower than the grids elsewhere (the charts scale to the grid cell): 117 buckets and 29
    // hover columns a chart keep 29 charts over 30 days under 300 KB of HTML.
    let size = (300, SMALL_H);

    let mut panels = Vec::with_capacity(PANELS.len() + 1);
    for p in PANELS {
        panels.push(PanelChart {
            chart: p.chart(&ctx, &sel, &range, size, &marks).await?,
            help: p.help,
        });
    }
    // The host this broker runs on, by host name (`broker-1:9100` for `broker-1:9999`): its disk
    // reads under the broker's bytes out show consumers reading from disk.
    let name = host_name(&broker.instance);
    let host = hosts(&ctx, Some(&cluster))
        .into_iter()
        .find(|h| host_name(&h.instance) == name);
    let host_re = format!("{}(:[0-9]+)?", regex::escape(name)).replace('\\', "\\\\");
    let cluster_q = q(&cluster);
    let host_sel = host.as_ref().map_or_else(
        || format!("cluster=\"{cluster_q}\",instance=~\"{host_re}\""),
        |h| h.selector(),
    );
    panels.push(PanelChart {
        chart: COLD_READS
            .chart_with(
                &ctx,
                &host_sel,
                &[("{host}", &host_re), ("{cluster}", &cluster_q)],
                &range,
                size,
                &marks,
            )
            .await?,
        help: COLD_READS.help,
    });
    let facts = facts(&ctx, &broker, &sel, range.to).await?;
    let page = BrokerPage {
        page: PageCtx::new(
            &ctx,
            format!("{} · {}", broker.instance, broker.cluster),
            "brokers",
            broker.path(),
            range.clone(),
        )
        .in_cluster(&broker.cluster),
        host_link: host.map(|h| h.path()),
        broker,
        facts,
        panels,
        events: own.iter().take(30).map(EventRow::new).collect(),
    };
    Ok(Html(page.render()?))
}

async fn facts(
    ctx: &Ctx,
    broker: &BrokerId,
    sel: &str,
    at: i64,
) -> WebResult<Vec<(String, String)>> {
    let mut out = vec![("job".to_string(), super::BROKER_JOB.to_string())];
    if let Some(v) = scalar(
        ctx,
        &format!("kafka_server_kafkaserver_brokerstate{{{sel}}}"),
        at,
    )
    .await?
    {
        out.push(("Broker state".into(), broker_state(v)));
    }
    if let Some(v) = scalar(
        ctx,
        &format!("kafka_controller_kafkacontroller_activecontrollercount{{{sel}}}"),
        at,
    )
    .await?
    {
        out.push((
            "Controller".into(),
            if v >= 1.0 {
                "the active controller".into()
            } else {
                "not the controller".into()
            },
        ));
    }
    if let Some(v) = scalar(ctx, &format!("process_start_time_seconds{{{sel}}}"), at).await? {
        out.push((
            "JVM started".into(),
            crate::web::format::utc((v * 1000.0) as i64),
        ));
    }
    let up = scalar(
        ctx,
        &format!(
            "up{{cluster=\"{}\",source=\"jmx\",target=\"{}\"}}",
            q(&broker.cluster),
            q(&broker.instance)
        ),
        at,
    )
    .await?;
    if let Some(v) = up {
        out.push((
            "Last JMX scrape".into(),
            if v == 1.0 { "succeeded" } else { "failed" }.into(),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_drop_numeric_ports_only() {
        assert_eq!(host_name("broker-1:9999"), "broker-1");
        assert_eq!(host_name("10.0.0.7:9999"), "10.0.0.7");
        assert_eq!(host_name("broker-1"), "broker-1");
        assert_eq!(host_name("[::1]:9999"), "[::1]");
        assert_eq!(host_name("a:b"), "a:b");
        assert_eq!(broker_state(3.0), "running");
    }
}
