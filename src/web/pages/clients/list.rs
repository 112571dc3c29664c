//! `/clients`: a row per producer and per consumer client id at the end of the range, with
//! sparklines over the range.

use crate::catalogue::Unit;
use crate::model::Matcher;
use crate::web::Ctx;
use crate::web::chart::Sparkline;
use crate::web::error::WebResult;
use crate::web::extract::PageQuery;
use crate::web::format::{ValueFormat, urlencode};
use crate::web::page::{PageCtx, metric_link};
use crate::web::pages::{RangeQuery, chart_step};
use crate::web::panels::{instant, query_series, rate_window};
use crate::web::timerange::TimeRange;
use askama::Template;
use axum::extract::State;
use axum::response::Html;
use std::collections::{BTreeMap, HashMap};

const BY: &str = "cluster, job, client, client_id";

/// A column: its query grouped by client id (`{w}`: the rate window), unit, and whether it
/// gets a sparkline.
pub struct Column {
    pub title: &'static str,
    query: &'static str,
    pub format: ValueFormat,
    /// Appended to the value (`/h` for a per-hour rate).
    pub suffix: &'static str,
    spark: bool,
}

const fn col(
    title: &'static str,
    query: &'static str,
    unit: Unit,
    per_second: bool,
    suffix: &'static str,
    spark: bool,
) -> Column {
    Column {
        title,
        query,
        format: ValueFormat { unit, per_second },
        suffix,
        spark,
    }
}

impl Column {
    fn text(&self, w_s: i64) -> String {
        self.query
            .replace("{by}", BY)
            .replace("{w}", &format!("{w_s}s"))
    }
}

/// Producer columns (`producer-metrics`, the client-wide bean).
pub const PRODUCER: [Column; 9] = [
    col(
        "Send rate",
        "sum by ({by}) (rate(kafka_producer_producer_metrics_record_send_total{topic=\"\"}[{w}]))",
        Unit::None,
        true,
        "",
        true,
    ),
    col(
        "Errors",
        "max by ({by}) (kafka_producer_producer_metrics_record_error_rate{topic=\"\"})",
        Unit::None,
        true,
        "",
        true,
    ),
    col(
        "Retries",
        "max by ({by}) (kafka_producer_producer_metrics_record_retry_rate{topic=\"\"})",
        Unit::None,
        true,
        "",
        false,
    ),
    col(
        "Request latency avg",
        "max by ({by}) (kafka_producer_producer_metrics_request_latency_avg{node_id=\"\"})",
        Unit::Milliseconds,
        false,
        "",
        true,
    ),
    col(
        "Record queue time avg",
        "max by ({by}) (kafka_producer_producer_metrics_record_queue_time_avg)",
        Unit::Milliseconds,
        false,
        "",
        false,
    ),
    col(
        "Batch size avg",
        "max by ({by}) (kafka_producer_producer_metrics_batch_size_avg)",
        Unit::Bytes,
        false,
        "",
        false,
    ),
    col(
        "Compression rate",
        "max by ({by}) (kafka_producer_producer_metrics_compression_rate_avg)",
        Unit::Ratio,
        false,
        "",
        false,
    ),
    col(
        "Throttle time avg",
        "max by ({by}) (kafka_producer_producer_metrics_produce_throttle_time_avg)",
        Unit::Milliseconds,
        false,
        "",
        false,
    ),
    col(
        "Buffer available",
        "max by ({by}) (kafka_producer_producer_metrics_buffer_available_bytes)",
        Unit::Bytes,
        false,
        "",
        false,
    ),
];

/// Consumer columns (the client-wide `consumer-fetch-manager-metrics` bean has no `topic`).
pub const CONSUMER: [Column; 7] = [
    col(
        "Records consumed",
        "sum by ({by}) (rate(kafka_consumer_consumer_fetch_manager_metrics_records_consumed_total{topic=\"\"}[{w}]))",
        Unit::None,
        true,
        "",
        true,
    ),
    col(
        "Fetch rate",
        "max by ({by}) (kafka_consumer_consumer_fetch_manager_metrics_fetch_rate{topic=\"\"})",
        Unit::None,
        true,
        "",
        false,
    ),
    col(
        "Fetch latency avg",
        "max by ({by}) (kafka_consumer_consumer_fetch_manager_metrics_fetch_latency_avg{topic=\"\"})",
        Unit::Milliseconds,
        false,
        "",
        false,
    ),
    col(
        "Records lag max",
        "max by ({by}) (kafka_consumer_consumer_fetch_manager_metrics_records_lag_max{topic=\"\",partition=\"\"})",
        Unit::None,
        false,
        "",
        true,
    ),
    col(
        "Commit rate",
        "max by ({by}) (kafka_consumer_consumer_coordinator_metrics_commit_rate)",
        Unit::None,
        true,
        "",
        false,
    ),
    col(
        "Rebalances",
        "max by ({by}) (kafka_consumer_consumer_coordinator_metrics_rebalance_rate_per_hour)",
        Unit::None,
        false,
        " /h",
        false,
    ),
    col(
        "Last poll",
        "max by ({by}) (kafka_consumer_consumer_metrics_last_poll_seconds_ago)",
        Unit::Seconds,
        false,
        " ago",
        false,
    ),
];

/// One client id of one configured client.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientKey {
    pub cluster: String,
    pub job: String,
    pub client: String,
    pub client_id: String,
}

fn key_of(l: &crate::model::Labels) -> ClientKey {
    let g = |k| l.get(k).unwrap_or("").to_string();
    ClientKey {
        cluster: g("cluster"),
        job: g("job"),
        client: g("client"),
        client_id: g("client_id"),
    }
}

pub struct Cell {
    pub text: String,
    pub spark: Option<Sparkline>,
}

pub struct Row {
    pub key: ClientKey,
    pub cells: Vec<Cell>,
    /// No value at the range's end: the client stopped reporting (or is not running).
    pub stale: bool,
    /// The consumer group's page, when a label of its series names the group.
    pub group: Option<(String, String)>,
}

/// The rows of one table, by cluster, client and client id.
async fn table(ctx: &Ctx, cols: &[Column], range: &TimeRange) -> WebResult<Vec<Row>> {
    let mut values: Vec<HashMap<ClientKey, f64>> = Vec::with_capacity(cols.len());
    let mut keys: BTreeMap<ClientKey, ()> = BTreeMap::new();
    for c in cols {
        let mut m = HashMap::new();
        for s in instant(ctx, &c.text(300), range.to).await? {
            if let Some(v) = s
                .values
                .first()
                .copied()
                .flatten()
                .filter(|v| v.is_finite())
            {
                m.insert(key_of(&s.labels), v);
            }
        }
        values.push(m);
    }
    let step = chart_step(ctx, range, 48);
    let w = rate_window(step) / 1000;
    let mut sparks: Vec<HashMap<ClientKey, Sparkline>> = Vec::with_capacity(cols.len());
    for c in cols {
        let mut m = HashMap::new();
        if c.spark {
            let text = c.text(w);
            let link = metric_link(&text, range);
            for (s, d) in query_series(ctx, &text, range, step).await? {
                let k = key_of(&s.labels);
                keys.insert(k.clone(), ());
                m.insert(
                    k,
                    Sparkline::sized(&d, range.from, range.to, c.format, link.clone(), (72, 18)),
                );
            }
        }
        sparks.push(m);
    }
    for v in &values {
        for k in v.keys() {
            keys.insert(k.clone(), ());
        }
    }
    Ok(keys
        .into_keys()
        .map(|k| {
            let cells: Vec<Cell> = cols
                .iter()
                .enumerate()
                .map(|(i, c)| Cell {
                    text: values[i].get(&k).map_or_else(
                        || "–".into(),
                        |v| format!("{}{}", c.format.format(*v), c.suffix),
                    ),
                    spark: sparks[i].get(&k).cloned(),
                })
                .collect();
            Row {
                stale: values.iter().all(|v| !v.contains_key(&k)),
                group: group_of(ctx, &k),
                cells,
                key: k,
            }
        })
        .collect())
}

/// The consumer group of a client id, only when its own series say it: JMX client metrics name
/// the client id, not the group, unless a rule of the team adds a `group_id` or `consumergroup`
/// label. (cluster, group) for `/consumers/{cluster}/{group}`.
fn group_of(ctx: &Ctx, k: &ClientKey) -> Option<(String, String)> {
    if k.job != "kafka-consumer" {
        return None;
    }
    ctx.store
        .select(
            None,
            &[
                Matcher::eq("cluster", &k.cluster),
                Matcher::eq("client_id", &k.client_id),
                Matcher::eq("job", &k.job),
            ],
        )
        .iter()
        .find_map(|i| {
            ["group_id", "consumergroup"]
                .iter()
                .find_map(|l| i.key.labels.get(l).filter(|g| !g.is_empty()))
                .map(|g| {
                    (
                        g.to_string(),
                        format!("/consumers/{}/{}", urlencode(&k.cluster), urlencode(g)),
                    )
                })
        })
}

#[derive(Template)]
#[template(path = "clients/list.html")]
pub struct ClientsPage {
    pub page: PageCtx,
    pub producer_cols: &'static [Column],
    pub consumer_cols: &'static [Column],
    pub producers: Vec<Row>,
    pub consumers: Vec<Row>,
}

pub(crate) async fn list(
    State(ctx): State<Ctx>,
    PageQuery(q): PageQuery<RangeQuery>,
) -> WebResult<Html<String>> {
    let range = q.resolve()?;
    let producers = table(&ctx, &PRODUCER, &range).await?;
    let consumers = table(&ctx, &CONSUMER, &range).await?;
    let page = ClientsPage {
        page: PageCtx::new(&ctx, "Clients", "clients", "/clients", range),
        producer_cols: &PRODUCER,
        consumer_cols: &CONSUMER,
        producers,
        consumers,
    };
    Ok(Html(page.render()?))
}
