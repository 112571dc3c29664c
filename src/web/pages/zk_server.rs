//! `/zookeeper/{cluster}/{server}`: every numeric series of one ZooKeeper server charted, grouped
//! (core, latency, connections & packets, data tree, quorum, files & JVM, scrape, summary
//! families by name, other), plus its `conf` and `envi` read-outs.

use super::events::EventRow;
use super::{
    Charter, RangeQuery, SMALL_H, SMALL_W, ZkServer, event_marks, fetch_ranges, labels_without,
    range_events, require_cluster, selector_text, zk_servers,
};
use crate::model::Matcher;
use crate::store::SeriesInfo;
use crate::web::Ctx;
use crate::web::chart::{Chart, Sparkline};
use crate::web::error::{WebError, WebResult};
use crate::web::format::{age, urlencode, utc};
use crate::web::page::{PageCtx, metric_link};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use std::collections::{BTreeMap, BTreeSet};

/// Chart groups, in page order.
const GROUPS: [&str; 9] = [
    "Core",
    "Latency",
    "Connections & packets",
    "Data tree",
    "Quorum & replication",
    "Files & JVM",
    "Scrape",
    "Summary families",
    "Other",
];
const FAMILY_GROUP: usize = 7;
const OTHER_GROUP: usize = 8;

/// A chart of several metrics: (group, chart key, title, [(metric, line label)]).
type Combined = (
    usize,
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

/// Metrics drawn together, with line labels.
const COMBINED: [Combined; 5] = [
    (
        1,
        "latency",
        "Request latency (min / avg / max)",
        &[
            ("zk_min_latency", "min"),
            ("zk_avg_latency", "avg"),
            ("zk_max_latency", "max"),
        ],
    ),
    (
        2,
        "packets",
        "Packets received / sent",
        &[
            ("zk_packets_received", "received"),
            ("zk_packets_sent", "sent"),
        ],
    ),
    (
        5,
        "fds",
        "File descriptors open / max",
        &[
            ("zk_open_file_descriptor_count", "open"),
            ("zk_max_file_descriptor_count", "max"),
        ],
    ),
    (
        4,
        "followers",
        "Followers / synced followers",
        &[
            ("zk_learners", "learners"),
            ("zk_followers", "followers"),
            ("zk_synced_followers", "synced"),
        ],
    ),
    (4, "zxid", "zxid counter", &[("zk_zxid_counter", "counter")]),
];

/// Single metrics placed first in their group, in this order.
const PINNED: [(usize, &str); 12] = [
    (0, "zk_server_state"),
    (0, "zk_outstanding_requests"),
    (0, "zk_uptime"),
    (0, "zk_version_info"),
    (2, "zk_num_alive_connections"),
    (3, "zk_znode_count"),
    (3, "zk_watch_count"),
    (3, "zk_ephemerals_count"),
    (3, "zk_approximate_data_size"),
    (4, "zk_pending_syncs"),
    (4, "zk_quorum_size"),
    (4, "zk_zxid_epoch"),
];

/// Statistics of a summary family, in line order; `cnt` and `sum` go to the counts table.
const STATS: [&str; 9] = [
    "min", "avg", "max", "p50", "p95", "p99", "p999", "cnt", "sum",
];

/// The group of a metric that is neither combined, pinned nor part of a family.
fn group_by_keyword(metric: &str) -> usize {
    let has = |words: &[&str]| words.iter().any(|w| metric.contains(w));
    if metric == "up" || metric.starts_with("scrape_") {
        6
    } else if has(&["latency"]) {
        1
    } else if has(&[
        "conn",
        "session",
        "packets",
        "handshake",
        "bytes_received",
        "auth",
        "throttle",
        "response",
        "request",
    ]) {
        2
    } else if has(&[
        "znode",
        "watch",
        "ephemeral",
        "data_size",
        "digest",
        "node_",
    ]) {
        3
    } else if has(&[
        "learner", "follower", "sync", "quorum", "zxid", "leader", "proposal", "looking", "commit",
        "diff", "snap", "election", "observer", "voter", "ensemble",
    ]) {
        4
    } else if has(&["jvm", "file_descriptor", "gc_", "memory"]) {
        5
    } else if metric.starts_with("zk_") {
        0
    } else {
        OTHER_GROUP
    }
}

/// `zk_p99_foo_time_ms` → ("p99", "foo_time_ms").
fn family_of(metric: &str) -> Option<(&'static str, &str)> {
    let rest = metric.strip_prefix("zk_")?;
    STATS.iter().find_map(|s| {
        rest.strip_prefix(s)
            .and_then(|r| r.strip_prefix('_'))
            .map(|name| (*s, name))
    })
}

pub struct Group {
    pub name: &'static str,
    pub charts: Vec<Chart>,
}

pub struct CountRow {
    pub family: String,
    pub cnt: Option<Sparkline>,
    pub sum: Option<Sparkline>,
}

pub struct Doc {
    pub name: String,
    pub when: String,
    pub body: String,
}

#[derive(Template)]
#[template(path = "zk_server.html")]
pub struct ZkServerPage {
    pub page: PageCtx,
    pub s: ZkServer,
    pub ensemble_link: String,
    pub last_seen: String,
    pub groups: Vec<Group>,
    pub counts: Vec<CountRow>,
    pub docs: Vec<Doc>,
    pub events: Vec<EventRow>,
    pub series_count: usize,
}

/// One chart to draw: its series with line labels.
struct Plan {
    /// The lines are statistics of one quantity (min / avg / max …): no bands.
    stats: bool,
    group: usize,
    order: (usize, String),
    title: String,
    members: Vec<(SeriesInfo, String)>,
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    Path((cluster, server)): Path<(String, String)>,
    Query(q): Query<RangeQuery>,
) -> WebResult<Html<String>> {
    let range = q.resolve()?;
    require_cluster(&ctx, &cluster)?;
    let s = zk_servers(&ctx, &cluster)
        .into_iter()
        .find(|s| s.server == server)
        .ok_or_else(|| WebError::NotFound(format!("Cluster {cluster:?} has no ZooKeeper server {server:?} (not configured, no stored data).")))?;

    let mut infos = ctx.store.select(
        None,
        &[
            Matcher::eq("cluster", &cluster),
            Matcher::eq("server", &server),
        ],
    );
    // The collector's own series for this server's targets are labelled by target, not server.
    for t in ctx.targets.snapshot().iter().filter(|t| {
        t.cluster == cluster && (t.target == server || t.identity.get("server") == Some(&server))
    }) {
        for metric in ["up", "scrape_duration_seconds", "scrape_samples_scraped"] {
            infos.extend(ctx.store.select(
                Some(metric),
                &[
                    Matcher::eq("cluster", &cluster),
                    Matcher::eq("target", &t.target),
                ],
            ));
        }
    }
    if !infos.iter().any(|i| i.key.metric == "up") {
        for metric in ["up", "scrape_duration_seconds", "scrape_samples_scraped"] {
            infos.extend(ctx.store.select(
                Some(metric),
                &[
                    Matcher::eq("cluster", &cluster),
                    Matcher::eq("target", &server),
                ],
            ));
        }
    }
    infos.sort_by(|a, b| a.key.cmp(&b.key));
    infos.dedup_by_key(|i| i.id);
    let series_count = infos.len();

    let plans = plan(&infos);
    let (plans, count_rows): (Vec<Plan>, Vec<Plan>) =
        plans.into_iter().partition(|p| p.group != usize::MAX);
    let ids: Vec<_> = infos.iter().map(|i| i.id).collect();
    let data = fetch_ranges(&ctx, &ids, &range, SMALL_W).await?;
    let events = range_events(&ctx, &range, Some(&cluster), 500).await?;
    // This server's events and the cluster-wide ones (other servers' events are on their pages).
    let own: Vec<_> = events
        .iter()
        .filter(|e| e.event.subject == server || e.event.subject.is_empty())
        .cloned()
        .collect();
    let marks = event_marks(&own);
    let charter = Charter {
        range: &range,
        data: &data,
        events: &marks,
        size: (SMALL_W, SMALL_H),
        hover_px: 8.0,
    };
    let labels = [("cluster", cluster.as_str()), ("server", server.as_str())];
    let mut groups: Vec<Group> = GROUPS
        .iter()
        .map(|name| Group {
            name,
            charts: Vec::new(),
        })
        .collect();
    for p in plans {
        let metrics: BTreeSet<&str> = p
            .members
            .iter()
            .map(|(i, _)| i.key.metric.as_str())
            .collect();
        let metrics: Vec<&str> = metrics.into_iter().collect();
        let link = if metrics.iter().all(|m| m.starts_with("zk_")) {
            metric_link(&selector_text(&metrics, &labels), &range)
        } else {
            let first = &p.members[0].0;
            metric_link(&first.key.to_string(), &range)
        };
        let refs: Vec<&SeriesInfo> = p.members.iter().map(|(i, _)| i).collect();
        let label_of = |i: &SeriesInfo| {
            p.members
                .iter()
                .find(|(m, _)| m.id == i.id)
                .map(|(_, l)| l.clone())
                .unwrap_or_default()
        };
        groups[p.group]
            .charts
            .push(charter.chart(p.title, link, &refs, label_of, !p.stats));
    }
    groups.retain(|g| !g.charts.is_empty());
    let spark_charter = Charter {
        range: &range,
        data: &data,
        events: &[],
        size: (Sparkline::WIDTH, Sparkline::HEIGHT),
        hover_px: 8.0,
    };
    let counts = count_rows
        .into_iter()
        .map(|p| CountRow {
            cnt: spark_charter.spark(p.members.iter().find(|(_, l)| l == "cnt").map(|(i, _)| i)),
            sum: spark_charter.spark(p.members.iter().find(|(_, l)| l == "sum").map(|(i, _)| i)),
            family: p.title,
        })
        .collect();
    let docs = ctx
        .store
        .documents(&cluster, &server)
        .await
        .map_err(|e| WebError::Store(e.to_string()))?
        .into_iter()
        .map(|(name, ts, body)| Doc {
            name,
            when: utc(ts),
            body,
        })
        .collect();
    let server_events = own.iter().take(30).map(EventRow::new).collect();
    let now = crate::model::now_ms();
    let page = ZkServerPage {
        page: PageCtx::new(
            format!("{server} · {cluster}"),
            "zookeeper",
            format!("/zookeeper/{}/{}", urlencode(&cluster), urlencode(&server)),
            range.clone(),
        ),
        ensemble_link: format!("/zookeeper/{}?{}", urlencode(&cluster), range.query()),
        last_seen: s
            .last_seen
            .map(|t| format!("{} ({} ago)", utc(t), age(now - t)))
            .unwrap_or_else(|| "never".into()),
        s,
        groups,
        counts,
        docs,
        events: server_events,
        series_count,
    };
    Ok(Html(page.render()?))
}

/// Decides which chart every series goes into. Plans with group `usize::MAX` are the `cnt`/`sum`
/// rows of summary families (drawn as sparklines in a table, not as charts).
fn plan(infos: &[SeriesInfo]) -> Vec<Plan> {
    let mut charts: BTreeMap<String, Plan> = BTreeMap::new();
    // Families need two or more statistics to be families (zk_max_file_descriptor_count is not).
    let mut family_sizes: BTreeMap<&str, usize> = BTreeMap::new();
    let combined_metric = |m: &str| COMBINED.iter().any(|c| c.3.iter().any(|(x, _)| *x == m));
    for i in infos {
        if let Some((_, fam)) = family_of(&i.key.metric)
            && !combined_metric(&i.key.metric)
        {
            *family_sizes.entry(fam).or_default() += 1;
        }
    }
    for i in infos {
        let m = i.key.metric.as_str();
        if let Some((gi, (group, key, title, members))) = COMBINED
            .iter()
            .enumerate()
            .find(|(_, c)| c.3.iter().any(|(x, _)| *x == m))
        {
            let label = members
                .iter()
                .find(|(x, _)| *x == m)
                .map(|(_, l)| l.to_string())
                .unwrap_or_default();
            charts
                .entry(format!("c:{key}"))
                .or_insert_with(|| Plan {
                    stats: true,
                    group: *group,
                    order: (gi, String::new()),
                    title: title.to_string(),
                    members: Vec::new(),
                })
                .members
                .push((i.clone(), label));
            continue;
        }
        if let Some((stat, fam)) =
            family_of(m).filter(|(_, f)| family_sizes.get(f).copied().unwrap_or(0) >= 2)
        {
            let (key, group) = if stat == "cnt" || stat == "sum" {
                (format!("n:{fam}"), usize::MAX)
            } else {
                (format!("f:{fam}"), FAMILY_GROUP)
            };
            let plan = charts.entry(key).or_insert_with(|| Plan {
                stats: true,
                group,
                order: (100, fam.to_string()),
                title: fam.to_string(),
                members: Vec::new(),
            });
            plan.members.push((i.clone(), stat.to_string()));
            plan.members
                .sort_by_key(|(_, label)| STATS.iter().position(|s| s == label));
            continue;
        }
        let (group, order) = match PINNED.iter().position(|(_, p)| *p == m) {
            Some(pos) => (PINNED[pos].0, (10 + pos, String::new())),
            None => (group_by_keyword(m), (100, m.to_string())),
        };
        let label = labels_without(&i.key, &["cluster", "server", "target", "source"]);
        charts
            .entry(format!("m:{m}"))
            .or_insert_with(|| Plan {
                stats: false,
                group,
                order,
                title: m.to_string(),
                members: Vec::new(),
            })
            .members
            .push((i.clone(), label));
    }
    let mut out: Vec<Plan> = charts.into_values().collect();
    out.sort_by(|a, b| (a.group, &a.order).cmp(&(b.group, &b.order)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Labels, MetricKind, SeriesKey};

    fn info(id: u32, metric: &str) -> SeriesInfo {
        SeriesInfo {
            id,
            key: SeriesKey::new(
                metric,
                Labels::from_pairs([("cluster", "lab"), ("server", "zk1:2181")]),
            ),
            kind: MetricKind::Gauge,
        }
    }

    #[test]
    fn series_are_grouped_into_combined_pinned_family_and_keyword_charts() {
        let names = [
            "zk_avg_latency",
            "zk_min_latency",
            "zk_max_latency",
            "zk_packets_received",
            "zk_packets_sent",
            "zk_znode_count",
            "zk_max_file_descriptor_count",
            "zk_open_file_descriptor_count",
            "zk_avg_fsynctime",
            "zk_min_fsynctime",
            "zk_max_fsynctime",
            "zk_cnt_fsynctime",
            "zk_sum_fsynctime",
            "zk_p99_fsynctime",
            "zk_global_sessions",
            "zk_pending_syncs",
            "zk_weird_thing",
            "up",
        ];
        let infos: Vec<SeriesInfo> = names
            .iter()
            .enumerate()
            .map(|(i, n)| info(i as u32, n))
            .collect();
        let plans = plan(&infos);
        let find = |title: &str| {
            plans
                .iter()
                .find(|p| p.title == title)
                .unwrap_or_else(|| panic!("no chart {title}"))
        };
        let lat = find("Request latency (min / avg / max)");
        assert_eq!(lat.group, 1);
        assert_eq!(
            lat.members.iter().map(|m| m.1.as_str()).collect::<Vec<_>>(),
            vec!["avg", "min", "max"]
        );
        assert_eq!(
            find("File descriptors open / max").members.len(),
            2,
            "max fds is not a family"
        );
        let fam = plans
            .iter()
            .find(|p| p.title == "fsynctime" && p.group == FAMILY_GROUP)
            .unwrap();
        assert_eq!(
            fam.members.iter().map(|m| m.1.as_str()).collect::<Vec<_>>(),
            vec!["min", "avg", "max", "p99"]
        );
        let counts = plans
            .iter()
            .find(|p| p.title == "fsynctime" && p.group == usize::MAX)
            .unwrap();
        assert_eq!(counts.members.len(), 2);
        assert_eq!(find("zk_global_sessions").group, 2);
        assert_eq!(find("zk_pending_syncs").group, 4);
        assert_eq!(find("zk_znode_count").group, 3);
        assert_eq!(find("zk_weird_thing").group, 0);
        assert_eq!(find("up").group, 6);
        let total: usize = plans.iter().map(|p| p.members.len()).sum();
        assert_eq!(total, names.len(), "every series is charted exactly once");
    }

    #[test]
    fn family_names_strip_the_statistic() {
        assert_eq!(
            family_of("zk_p999_read_commitproc_time_ms"),
            Some(("p999", "read_commitproc_time_ms"))
        );
        assert_eq!(family_of("zk_avg_latency"), Some(("avg", "latency")));
        assert_eq!(family_of("zk_znode_count"), None);
    }
}
