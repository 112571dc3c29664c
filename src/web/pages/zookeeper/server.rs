//! `/zookeeper/{cluster}/{server}`: every numeric series of one ZooKeeper server charted,
//! grouped, and light enough to read.
//!
//! * **Header**: up/down, mode, zxid, version (full text), peer state, `ruok`, read-only: the
//!   current value of every state-like series.
//! * **States**: the state-like series (`zk_server_state`, `zk_peer_state`, `zk_version_info`,
//!   `zk_ruok`, `zk_read_only`, `up`) as coloured strips over the range, one segment per state,
//!   so that a leader election or a flapping scrape is seen at a glance ([`crate::web::strip`]).
//! * **Key metrics** (open): latency p99 of reads and updates (ZooKeeper's recent window), the
//!   lifetime latency avg / min / max labelled as such, outstanding requests, alive connections,
//!   packets received / sent per second, znodes, watches, ephemerals, approximate data size,
//!   open / max file descriptors, and on the leader learners / synced followers / pending syncs.
//! * Then collapsed groups (quorum & replication, summary families, connections & packets, data
//!   tree, files & JVM, server, scrape, other). In each, a metric that changed in the range gets a
//!   chart; a summary family (`zk_{avg,min,max,p50,p95,p99,p999}_X`) gets one chart: the average
//!   as a line, min–max as a band, quantiles as extra lines, and its `cnt`/`sum` as rates in a
//!   table. Series that did not change in the range (most of a healthy server: zero counters,
//!   fixed limits) go into a compact table per group — name, value, sparkline, link — instead of
//!   a chart each.
//! * The server's `conf` and `envi` read-outs and its events.

use super::{ZkServer, zk_servers};
use crate::model::Matcher;
use crate::store::{SeriesId, SeriesInfo};
use crate::web::Ctx;
use crate::web::error::{WebError, WebResult};
use crate::web::extract::PageQuery;
use crate::web::format::{age, urlencode, utc};
use crate::web::page::PageCtx;
use crate::web::pages::events::EventRow;
use crate::web::pages::{SMALL_W, event_marks, fetch_ranges, range_events, require_cluster};
use crate::web::planner::{
    self, Draw, EntityQuery, Group, KeyChart, Layout, STATS, StateChart, StateDef, StateKind,
    StateNow,
};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;

/// Groups, in page order. Only the first is open by default.
const GROUPS: [&str; 9] = [
    "Key metrics",
    "Quorum & replication",
    "Summary families",
    "Connections & packets",
    "Data tree",
    "Files & JVM",
    "Server",
    "Scrape",
    "Other",
];
const QUORUM_GROUP: usize = 1;
const FAMILY_GROUP: usize = 2;
const CONN_GROUP: usize = 3;
const DATA_GROUP: usize = 4;
const FILES_GROUP: usize = 5;
const SERVER_GROUP: usize = 6;
const SCRAPE_GROUP: usize = 7;
const OTHER_GROUP: usize = 8;

/// What an operator looks at first, in page order. Charts whose metrics this server does not
/// report (the followers chart on a follower) are left out.
const KEY: [KeyChart; 11] = [
    KeyChart {
        title: "Request latency p99 (read / update, recent window)",
        members: &[
            ("zk_p99_readlatency", "read p99"),
            ("zk_p99_updatelatency", "update p99"),
        ],
        stats: true,
    },
    KeyChart {
        title: "Request latency since start or reset (avg / min / max)",
        // ZooKeeper keeps these since the server started or `srst`, not per interval: a
        // lifetime figure, labelled as one.
        members: &[
            ("zk_avg_latency", "avg since reset"),
            ("zk_min_latency", "min since reset"),
            ("zk_max_latency", "max since reset"),
        ],
        stats: true,
    },
    KeyChart {
        title: "Outstanding requests",
        members: &[("zk_outstanding_requests", "outstanding")],
        stats: false,
    },
    KeyChart {
        title: "Alive connections",
        members: &[("zk_num_alive_connections", "connections")],
        stats: false,
    },
    KeyChart {
        title: "Packets received / sent per second",
        members: &[
            ("zk_packets_received", "received"),
            ("zk_packets_sent", "sent"),
        ],
        stats: false,
    },
    KeyChart {
        title: "Znodes",
        members: &[("zk_znode_count", "znodes")],
        stats: false,
    },
    KeyChart {
        title: "Watches",
        members: &[("zk_watch_count", "watches")],
        stats: false,
    },
    KeyChart {
        title: "Ephemeral nodes",
        members: &[("zk_ephemerals_count", "ephemerals")],
        stats: false,
    },
    KeyChart {
        title: "Approximate data size",
        members: &[("zk_approximate_data_size", "data size")],
        stats: false,
    },
    KeyChart {
        title: "File descriptors open / max",
        members: &[
            ("zk_open_file_descriptor_count", "open"),
            ("zk_max_file_descriptor_count", "max"),
        ],
        stats: true,
    },
    KeyChart {
        title: "Followers: learners / synced / pending syncs",
        members: &[
            ("zk_learners", "learners"),
            ("zk_followers", "followers"),
            ("zk_synced_followers", "synced"),
            ("zk_pending_syncs", "pending syncs"),
        ],
        stats: true,
    },
];

/// State-like series: drawn as state strips, never as line charts.
const STATES: [StateDef; 6] = [
    StateDef {
        metric: "zk_server_state",
        kind: StateKind::Info("state"),
        label: "Mode",
    },
    StateDef {
        metric: "zk_peer_state",
        kind: StateKind::Info("state"),
        label: "Peer state",
    },
    StateDef {
        metric: "zk_version_info",
        kind: StateKind::Info("version"),
        label: "Version",
    },
    StateDef {
        metric: "zk_ruok",
        kind: StateKind::Bool("imok", "no answer"),
        label: "ruok",
    },
    StateDef {
        metric: "zk_read_only",
        kind: StateKind::Bool("read-only", "read-write"),
        label: "Read-only",
    },
    StateDef {
        metric: "up",
        kind: StateKind::Bool("up", "down"),
        label: "Scrape up",
    },
];

/// The group of a metric that is neither a key metric, a state nor part of a family.
fn group_by_keyword(metric: &str) -> usize {
    let has = |words: &[&str]| words.iter().any(|w| metric.contains(w));
    if metric == "up" || metric.starts_with("scrape_") {
        SCRAPE_GROUP
    } else if has(&[
        "learner", "follower", "sync", "quorum", "zxid", "leader", "proposal", "looking", "commit",
        "diff", "snap", "election", "observer", "voter", "voting", "ensemble",
    ]) {
        QUORUM_GROUP
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
        "latency",
    ]) {
        CONN_GROUP
    } else if has(&[
        "znode",
        "watch",
        "ephemeral",
        "data_size",
        "digest",
        "node_",
    ]) {
        DATA_GROUP
    } else if has(&["jvm", "file_descriptor", "gc_", "memory"]) {
        FILES_GROUP
    } else if metric.starts_with("zk_") {
        SERVER_GROUP
    } else {
        OTHER_GROUP
    }
}

/// `zk_p99_foo_time_ms` → ("p99", "foo_time_ms"); `sum` as well as the [`STATS`].
fn family_of(metric: &str) -> Option<(&'static str, &str)> {
    let rest = metric.strip_prefix("zk_")?;
    STATS.iter().chain(&["sum"]).find_map(|s| {
        rest.strip_prefix(s)
            .and_then(|r| r.strip_prefix('_'))
            .map(|name| (*s, name))
    })
}

/// The layout of a ZooKeeper server's page.
fn layout() -> Layout<'static> {
    Layout {
        groups: GROUPS.iter().map(|g| g.to_string()).collect(),
        key: &KEY,
        states: &STATES,
        group_of: &group_by_keyword,
        family_group: FAMILY_GROUP,
        family_of: &|i: &SeriesInfo| {
            family_of(&i.key.metric).map(|(s, f)| (s.to_string(), f.to_string()))
        },
        own_labels: &["cluster", "server"],
    }
}

pub struct Doc {
    pub name: String,
    pub when: String,
    pub body: String,
}

#[derive(Template)]
#[template(path = "zookeeper/server.html")]
pub struct ZkServerPage {
    pub page: PageCtx,
    pub open_all: bool,
    pub s: ZkServer,
    pub ensemble_link: String,
    pub last_seen: String,
    pub states_now: Vec<StateNow>,
    pub states: Option<StateChart>,
    pub groups: Vec<Group>,
    pub docs: Vec<Doc>,
    pub events: Vec<EventRow>,
    pub series_count: usize,
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    Path((cluster, server)): Path<(String, String)>,
    PageQuery(q): PageQuery<EntityQuery>,
) -> WebResult<Html<String>> {
    let range = q.range.resolve()?;
    let open_all = q.open_all()?;
    require_cluster(&ctx, &cluster)?;
    let s = zk_servers(&ctx, &cluster, &range)
        .await?
        .into_iter()
        .find(|s| s.server == server)
        .ok_or_else(|| WebError::NotFound(format!("Cluster {cluster:?} has no ZooKeeper server {server:?} (not configured, no stored data).")))?;

    let infos = server_series(&ctx, &cluster, &server);
    let series_count = infos.len();
    let (state_infos, infos): (Vec<SeriesInfo>, Vec<SeriesInfo>) = infos
        .into_iter()
        .partition(|i| STATES.iter().any(|d| d.metric == i.key.metric));
    let layout = layout();
    let plans = planner::plan(&infos, &layout);

    let ids: Vec<SeriesId> = infos.iter().chain(&state_infos).map(|i| i.id).collect();
    let data = fetch_ranges(&ctx, &ids, &range, SMALL_W).await?;
    let events = range_events(&ctx, &range, Some(&cluster), 500).await?;
    // This server's events and the cluster-wide ones (other servers' events are on their pages).
    let own: Vec<_> = events
        .iter()
        .filter(|e| e.event.subject == server || e.event.subject.is_empty())
        .cloned()
        .collect();
    let marks = event_marks(&own);
    let labels = [("cluster", cluster.as_str()), ("server", server.as_str())];
    let draw = Draw::new(&ctx.catalogue, &range, &data, &marks, &labels);
    let groups = planner::draw_groups(&plans, &layout, &draw, open_all);

    let lookback = super::lookback_ms(&ctx, &cluster);
    let (states_now, states) = planner::state_strips(
        &layout,
        &state_infos,
        &data,
        &range,
        &labels,
        lookback,
        s.up == Some(true),
    );
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
    let page = ZkServerPage {
        page: PageCtx::new(
            &ctx,
            format!("{server} · {cluster}"),
            "zookeeper",
            format!("/zookeeper/{}/{}", urlencode(&cluster), urlencode(&server)),
            range.clone(),
        )
        .in_cluster(&cluster)
        .keep("open", if open_all { "all" } else { "" }),
        open_all,
        ensemble_link: format!("/zookeeper/{}?{}", urlencode(&cluster), range.query()),
        last_seen: s
            .last_seen
            .map(|t| {
                if range.to - t < 60_000 {
                    utc(t)
                } else {
                    format!("{} ({} before the range's end)", utc(t), age(range.to - t))
                }
            })
            .unwrap_or_else(|| "never".into()),
        s,
        states_now,
        states,
        groups,
        docs,
        events: server_events,
        series_count,
    };
    Ok(Html(page.render()?))
}

/// Every series of one server: those labelled with it, plus the collector's own series of its
/// targets (labelled by target, not server), sorted by key.
fn server_series(ctx: &Ctx, cluster: &str, server: &str) -> Vec<SeriesInfo> {
    let mut infos = ctx.store.select(
        None,
        &[
            Matcher::eq("cluster", cluster),
            Matcher::eq("server", server),
        ],
    );
    let own = ["up", "scrape_duration_seconds", "scrape_samples_scraped"];
    let mut targets: Vec<String> = ctx
        .targets
        .snapshot()
        .iter()
        .filter(|t| {
            t.cluster == cluster && (t.target == server || t.identity.get("server") == Some(server))
        })
        .map(|t| t.target.clone())
        .collect();
    if targets.is_empty() {
        targets.push(server.to_string());
    }
    for target in &targets {
        for metric in own {
            infos.extend(ctx.store.select(
                Some(metric),
                &[
                    Matcher::eq("cluster", cluster),
                    Matcher::eq("target", target),
                ],
            ));
        }
    }
    infos.sort_by(|a, b| a.key.cmp(&b.key));
    infos.dedup_by_key(|i| i.id);
    infos
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
    fn series_are_planned_into_key_family_and_keyword_charts() {
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
            "zk_learners",
            "zk_synced_followers",
            "zk_proposal_count",
            "zk_uptime",
            "zk_weird_thing",
            "scrape_duration_seconds",
        ];
        let infos: Vec<SeriesInfo> = names
            .iter()
            .enumerate()
            .map(|(i, n)| info(i as u32, n))
            .collect();
        let plans = planner::plan(&infos, &layout());
        let find = |title: &str| {
            plans
                .iter()
                .find(|p| p.title == title)
                .unwrap_or_else(|| panic!("no chart {title}"))
        };
        let lat = find("Request latency since start or reset (avg / min / max)");
        assert_eq!(lat.group, 0);
        assert_eq!(
            lat.members.iter().map(|m| m.1.as_str()).collect::<Vec<_>>(),
            vec!["avg since reset", "min since reset", "max since reset"]
        );
        assert_eq!(find("File descriptors open / max").members.len(), 2);
        let followers = find("Followers: learners / synced / pending syncs");
        assert_eq!(
            followers
                .members
                .iter()
                .map(|m| m.1.as_str())
                .collect::<Vec<_>>(),
            vec!["learners", "synced", "pending syncs"]
        );
        let key_titles: Vec<&str> = plans
            .iter()
            .filter(|p| p.group == 0)
            .map(|p| p.title.as_str())
            .collect();
        assert_eq!(
            key_titles,
            vec![
                "Request latency since start or reset (avg / min / max)",
                "Packets received / sent per second",
                "Znodes",
                "File descriptors open / max",
                "Followers: learners / synced / pending syncs"
            ],
            "key charts in catalogue order, only those with data"
        );
        let fam = find("fsynctime");
        assert_eq!(fam.kind, planner::PlanKind::Family);
        assert_eq!(
            fam.members.iter().map(|m| m.1.as_str()).collect::<Vec<_>>(),
            vec!["avg", "min", "max", "p99", "cnt", "sum"]
        );
        assert_eq!(find("zk_global_sessions").group, CONN_GROUP);
        assert_eq!(find("zk_proposal_count").group, QUORUM_GROUP);
        assert_eq!(find("zk_uptime").group, SERVER_GROUP);
        assert_eq!(find("zk_weird_thing").group, SERVER_GROUP);
        assert_eq!(find("scrape_duration_seconds").group, SCRAPE_GROUP);
        let total: usize = plans.iter().map(|p| p.members.len()).sum();
        assert_eq!(total, names.len(), "every series is planned exactly once");
    }

    #[test]
    fn families_are_split_by_label_set() {
        let mk = |id, metric: &str, ns: &str| SeriesInfo {
            id,
            key: SeriesKey::new(
                metric,
                Labels::from_pairs([("cluster", "lab"), ("namespace", ns), ("server", "zk1")]),
            ),
            kind: MetricKind::Gauge,
        };
        let infos = vec![
            mk(1, "zk_avg_write_per_namespace", "a"),
            mk(2, "zk_max_write_per_namespace", "a"),
            mk(3, "zk_avg_write_per_namespace", "b"),
            mk(4, "zk_max_write_per_namespace", "b"),
        ];
        let plans = planner::plan(&infos, &layout());
        assert_eq!(plans.len(), 2, "{plans:?}");
        assert_eq!(plans[0].title, r#"write_per_namespace {namespace="a"}"#);
        assert!(plans.iter().all(|p| p.members.len() == 2));
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
