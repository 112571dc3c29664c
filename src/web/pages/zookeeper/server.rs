//! `/zookeeper/{cluster}/{server}`: every numeric series of one ZooKeeper server charted,
//! grouped, and light enough to read.
//!
//! * **Header**: up/down, mode, zxid, version (full text), peer state, `ruok`, read-only: the
//!   current value of every state-like series.
//! * **States**: the state-like series (`zk_server_state`, `zk_peer_state`, `zk_version_info`,
//!   `zk_ruok`, `zk_read_only`, `up`) as coloured strips over the range, one segment per state,
//!   so that a leader election or a flapping scrape is seen at a glance ([`crate::web::strip`]).
//! * **Key metrics** (open): latency avg / min / max, outstanding requests, alive connections,
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
use crate::model::{Matcher, MetricKind, Timestamp};
use crate::store::{SeriesId, SeriesInfo, SeriesRange};
use crate::web::Ctx;
use crate::web::chart::{Chart, ChartSpec, SeriesData, Sparkline};
use crate::web::error::{WebError, WebResult};
use crate::web::extract::PageQuery;
use crate::web::format::{ValueFormat, age, short_version, urlencode, utc};
use crate::web::page::{PageCtx, metric_link};
use crate::web::pages::events::EventRow;
use crate::web::pages::{
    Charter, RangeQuery, SMALL_H, SMALL_W, event_marks, fetch_ranges, labels_without, range_events,
    require_cluster, selector_text, series_data,
};
use crate::web::strip::{StateAt, StateChart, StripSpec};
use crate::web::timerange::TimeRange;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Html;
use std::collections::{BTreeMap, BTreeSet, HashMap};

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
const KEY_GROUP: usize = 0;
const QUORUM_GROUP: usize = 1;
const FAMILY_GROUP: usize = 2;
const CONN_GROUP: usize = 3;
const DATA_GROUP: usize = 4;
const FILES_GROUP: usize = 5;
const SERVER_GROUP: usize = 6;
const SCRAPE_GROUP: usize = 7;
const OTHER_GROUP: usize = 8;

/// A key-metrics chart: its title, its metrics with line labels, and whether the lines are
/// statistics of one quantity (then no min–max bands).
struct KeyChart {
    title: &'static str,
    members: &'static [(&'static str, &'static str)],
    stats: bool,
}

/// What an operator looks at first, in page order. Charts whose metrics this server does not
/// report (the followers chart on a follower) are left out.
const KEY: [KeyChart; 10] = [
    KeyChart {
        title: "Request latency (avg / min / max)",
        // ZooKeeper keeps min and max since the server started or `srst`, not per interval.
        members: &[
            ("zk_avg_latency", "avg"),
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

/// How a state-like series encodes its state.
#[derive(Clone, Copy)]
enum StateKind {
    /// An info gauge: the series whose value is 1 names the state in this label.
    Info(&'static str),
    /// A 0/1 gauge: (name of 1, name of 0).
    Bool(&'static str, &'static str),
}

/// State-like series: drawn as state strips, never as line charts. (metric, kind, row label).
const STATES: [(&str, StateKind, &str); 6] = [
    ("zk_server_state", StateKind::Info("state"), "Mode"),
    ("zk_peer_state", StateKind::Info("state"), "Peer state"),
    ("zk_version_info", StateKind::Info("version"), "Version"),
    ("zk_ruok", StateKind::Bool("imok", "no answer"), "ruok"),
    (
        "zk_read_only",
        StateKind::Bool("read-only", "read-write"),
        "Read-only",
    ),
    ("up", StateKind::Bool("up", "down"), "Scrape up"),
];

/// Statistics of a summary family, in line order; `cnt` and `sum` go to the counts table.
const STATS: [&str; 9] = [
    "avg", "min", "max", "p50", "p95", "p99", "p999", "cnt", "sum",
];
const QUANTILES: [&str; 4] = ["p50", "p95", "p99", "p999"];

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

/// `zk_p99_foo_time_ms` → ("p99", "foo_time_ms").
fn family_of(metric: &str) -> Option<(&'static str, &str)> {
    let rest = metric.strip_prefix("zk_")?;
    STATS.iter().find_map(|s| {
        rest.strip_prefix(s)
            .and_then(|r| r.strip_prefix('_'))
            .map(|name| (*s, name))
    })
}

/// A row of a group's compact table: a series (or a whole summary family) that did not change.
pub struct FlatRow {
    pub name: String,
    pub note: String,
    pub link: String,
    pub value: String,
    pub spark: Option<Sparkline>,
}

pub struct CountRow {
    pub family: String,
    pub link: String,
    pub cnt: Option<Sparkline>,
    pub sum: Option<Sparkline>,
}

pub struct Group {
    pub name: &'static str,
    pub open: bool,
    pub charts: Vec<Chart>,
    pub counts: Vec<CountRow>,
    pub flat: Vec<FlatRow>,
}

impl Group {
    /// The group's anchor: `quorum-replication` for "Quorum & replication".
    pub fn id(&self) -> String {
        let mut out = String::new();
        for c in self.name.chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.ends_with('-') {
                out.push('-');
            }
        }
        out.trim_matches('-').to_string()
    }

    /// `12 charts · 30 unchanged series`, for the collapsed header.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.charts.is_empty() {
            parts.push(format!(
                "{} chart{}",
                self.charts.len(),
                if self.charts.len() == 1 { "" } else { "s" }
            ));
        }
        if !self.flat.is_empty() {
            parts.push(format!("{} unchanged", self.flat.len()));
        }
        parts.join(" · ")
    }
}

pub struct Doc {
    pub name: String,
    pub when: String,
    pub body: String,
}

/// A current state for the header: (label, value, CSS class).
pub struct StateNow {
    pub label: &'static str,
    pub value: String,
    pub class: String,
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

/// The server page's parameters: the range, and `open=all` to expand every group (for printing,
/// or a link in an incident note that should show everything).
#[derive(Debug, Default, serde::Deserialize)]
pub struct ServerQuery {
    #[serde(flatten)]
    pub range: RangeQuery,
    pub open: Option<String>,
}

/// What a plan draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PlanKind {
    /// A key-metrics chart (always a chart, even when flat).
    Key { stats: bool },
    /// All series of one metric.
    Metric,
    /// One summary family (one label set).
    Family,
}

/// One chart (or, when nothing in it changed, rows of the compact table) and its series.
#[derive(Clone, Debug)]
struct Plan {
    kind: PlanKind,
    group: usize,
    order: (usize, String),
    title: String,
    /// Series with their line label (the statistic, for families).
    members: Vec<(SeriesInfo, String)>,
}

pub(crate) async fn show(
    State(ctx): State<Ctx>,
    Path((cluster, server)): Path<(String, String)>,
    PageQuery(q): PageQuery<ServerQuery>,
) -> WebResult<Html<String>> {
    let range = q.range.resolve()?;
    let open_all = match q.open.as_deref() {
        None | Some("") => false,
        Some("all") => true,
        Some(other) => {
            return Err(WebError::BadRequest(format!(
                "open: {other:?} is not \"all\" (the only value: every group expanded)"
            )));
        }
    };
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
        .partition(|i| STATES.iter().any(|(m, _, _)| *m == i.key.metric));
    let plans = plan(&infos);

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
    let draw = Draw {
        charter: Charter {
            catalogue: &ctx.catalogue,
            range: &range,
            data: &data,
            events: &marks,
            size: (SMALL_W, SMALL_H),
            hover_px: 8.0,
        },
        spark: Charter {
            catalogue: &ctx.catalogue,
            range: &range,
            data: &data,
            events: &[],
            size: (96, 22),
            hover_px: 8.0,
        },
        labels: &labels,
    };
    let mut groups: Vec<Group> = GROUPS
        .iter()
        .enumerate()
        .map(|(i, name)| Group {
            name,
            open: open_all || i == KEY_GROUP,
            charts: Vec::new(),
            counts: Vec::new(),
            flat: Vec::new(),
        })
        .collect();
    // Collapsed groups get coarser hover columns (each still reports its buckets' min and max):
    // they hold most of the charts, and their tooltips most of the page's bytes.
    let coarse = Draw {
        charter: Charter {
            hover_px: 16.0,
            ..draw.charter
        },
        ..draw
    };
    for p in &plans {
        let d = if p.group == KEY_GROUP { &draw } else { &coarse };
        d.place(p, &mut groups[p.group]);
    }
    for g in &mut groups {
        g.flat.sort_by(|a, b| a.name.cmp(&b.name));
    }
    groups.retain(|g| !g.charts.is_empty() || !g.flat.is_empty());

    let lookback = super::lookback_ms(&ctx, &cluster);
    let (states_now, states) = state_strips(
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

/// Whether a series changed in the range: a gauge whose values were not all equal, a counter
/// that increased. A series without data in the range did not change.
fn changed(r: Option<&SeriesRange>) -> bool {
    let Some(r) = r else { return false };
    if r.series.kind == MetricKind::Counter {
        return r.buckets.iter().any(|b| b.increase != 0.0);
    }
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for b in &r.buckets {
        if b.min.is_finite() {
            lo = lo.min(b.min);
        }
        if b.max.is_finite() {
            hi = hi.max(b.max);
        }
    }
    lo < hi
}

/// The stored value of the newest bucket: a counter's total, not its rate.
fn last_value(r: Option<&SeriesRange>, info: &SeriesInfo, format: ValueFormat) -> String {
    let Some(b) = r.and_then(|r| r.buckets.last()) else {
        return "no data in this range".into();
    };
    let fmt = ValueFormat {
        per_second: false,
        ..format
    };
    if info.kind == MetricKind::Counter {
        format!("{} total, no increase", fmt.format(b.last))
    } else {
        fmt.format(b.last)
    }
}

/// Places plans on the page: charts, family charts and compact-table rows.
#[derive(Clone, Copy)]
struct Draw<'a> {
    charter: Charter<'a>,
    spark: Charter<'a>,
    labels: &'a [(&'a str, &'a str)],
}

impl Draw<'_> {
    fn data(&self, info: &SeriesInfo) -> Option<&SeriesRange> {
        self.charter.data.get(&info.id)
    }

    fn range(&self) -> &TimeRange {
        self.charter.range
    }

    /// The `/metric` link of a plan: all its series.
    fn link(&self, p: &Plan) -> String {
        if let [(only, _)] = p.members.as_slice() {
            return metric_link(&only.key.to_string(), self.range());
        }
        let metrics: BTreeSet<&str> = p
            .members
            .iter()
            .map(|(i, _)| i.key.metric.as_str())
            .collect();
        let metrics: Vec<&str> = metrics.into_iter().collect();
        // Families are one label set: select exactly it; other charts by cluster and server.
        let first = &p.members[0].0;
        let labels: Vec<(&str, &str)> = if p.kind == PlanKind::Family {
            first.key.labels.iter().collect()
        } else if metrics.iter().all(|m| m.starts_with("zk_")) {
            self.labels.to_vec()
        } else {
            return metric_link(&first.key.to_string(), self.range());
        };
        metric_link(&selector_text(&metrics, &labels), self.range())
    }

    fn place(&self, p: &Plan, group: &mut Group) {
        let any_changed = p.members.iter().any(|(i, _)| changed(self.data(i)));
        match p.kind {
            PlanKind::Key { stats } => group.charts.push(self.chart(p, !stats)),
            PlanKind::Metric if any_changed => group.charts.push(self.chart(p, true)),
            PlanKind::Metric => {
                for (info, _) in &p.members {
                    group.flat.push(FlatRow {
                        name: labels_series_name(info),
                        note: String::new(),
                        link: metric_link(&info.key.to_string(), self.range()),
                        value: last_value(self.data(info), info, self.charter.format_of(info)),
                        spark: self.spark.spark(Some(info)),
                    });
                }
            }
            PlanKind::Family => {
                let stat = |name: &str| p.members.iter().find(|(_, s)| s == name).map(|(i, _)| i);
                let shape_changed = p
                    .members
                    .iter()
                    .filter(|(_, s)| s != "cnt" && s != "sum")
                    .any(|(i, _)| changed(self.data(i)));
                let counted = ["cnt", "sum"]
                    .iter()
                    .any(|s| stat(s).is_some_and(|i| changed(self.data(i))));
                if shape_changed || counted {
                    group.charts.push(self.family_chart(p));
                    if stat("cnt").is_some() || stat("sum").is_some() {
                        group.counts.push(CountRow {
                            family: p.title.clone(),
                            link: self.link(p),
                            cnt: self.spark.spark(stat("cnt")),
                            sum: self.spark.spark(stat("sum")),
                        });
                    }
                } else {
                    let shown = stat("avg").or(p.members.first().map(|(i, _)| i));
                    let value = shown
                        .map(|i| {
                            let v = last_value(self.data(i), i, self.charter.format_of(i));
                            if i.key.metric.starts_with("zk_avg_") {
                                format!("avg {v}")
                            } else {
                                v
                            }
                        })
                        .unwrap_or_default();
                    group.flat.push(FlatRow {
                        name: p.title.clone(),
                        note: format!(
                            "summary family, {} series: {}",
                            p.members.len(),
                            p.members
                                .iter()
                                .map(|(_, s)| s.as_str())
                                .collect::<Vec<_>>()
                                .join(" ")
                        ),
                        link: self.link(p),
                        value,
                        spark: self.spark.spark(shown),
                    });
                }
            }
        }
    }

    /// One line per series; min–max bands unless the lines are statistics.
    fn chart(&self, p: &Plan, bands: bool) -> Chart {
        let refs: Vec<&SeriesInfo> = p.members.iter().map(|(i, _)| i).collect();
        let label_of = |i: &SeriesInfo| {
            p.members
                .iter()
                .find(|(m, _)| m.id == i.id)
                .map(|(_, l)| l.clone())
                .unwrap_or_default()
        };
        self.charter
            .chart(p.title.clone(), self.link(p), &refs, label_of, bands)
    }

    /// A summary family: the average as a line with the band from the family's min to its max
    /// in each bucket, and the quantiles as extra lines (without bands of their own).
    fn family_chart(&self, p: &Plan) -> Chart {
        let stat = |name: &str| p.members.iter().find(|(_, s)| s == name).map(|(i, _)| i);
        let range = self.range();
        let data_of = |name: &str| stat(name).and_then(|i| self.data(i).map(|r| (i, r)));
        let mut series: Vec<SeriesData> = Vec::new();
        let format = stat("avg")
            .or_else(|| p.members.first().map(|(i, _)| i))
            .map(|i| self.charter.format_of(i))
            .unwrap_or_else(ValueFormat::plain);
        if let Some((_, avg)) = data_of("avg") {
            let mut s = series_data(avg, "avg, min–max band".into(), range);
            widen_band(
                &mut s,
                data_of("min").map(|d| d.1),
                data_of("max").map(|d| d.1),
            );
            series.push(s);
        } else {
            for name in ["min", "max"] {
                if let Some((_, r)) = data_of(name) {
                    series.push(flat_line(series_data(r, name.into(), range)));
                }
            }
        }
        for q in QUANTILES {
            if let Some((_, r)) = data_of(q) {
                series.push(flat_line(series_data(r, q.into(), range)));
            }
        }
        ChartSpec::new(
            p.title.clone(),
            self.link(p),
            self.charter.size,
            (range.from, range.to),
            format,
            series,
        )
        .events(self.charter.events.to_vec())
        .hover_px(self.charter.hover_px)
        .render()
    }
}

/// Widens each point's band to the family's min and max statistics of the same bucket.
fn widen_band(s: &mut SeriesData, min: Option<&SeriesRange>, max: Option<&SeriesRange>) {
    let by_ts = |r: Option<&SeriesRange>| -> HashMap<Timestamp, (f64, f64)> {
        r.map(|r| r.buckets.iter().map(|b| (b.ts, (b.min, b.max))).collect())
            .unwrap_or_default()
    };
    let (mins, maxs) = (by_ts(min), by_ts(max));
    for p in &mut s.points {
        if let Some((lo, _)) = mins.get(&p.ts) {
            p.min = p.min.min(*lo);
        }
        if let Some((_, hi)) = maxs.get(&p.ts) {
            p.max = p.max.max(*hi);
        }
    }
}

/// A line without a band of its own (min = max = the average).
fn flat_line(mut s: SeriesData) -> SeriesData {
    for p in &mut s.points {
        p.min = p.avg;
        p.max = p.avg;
    }
    s
}

/// `metric` or `metric{learner_type="observer"}`: the series without the page's own labels.
fn labels_series_name(info: &SeriesInfo) -> String {
    let rest = labels_without(&info.key, &["cluster", "server", "target", "source"]);
    if rest == info.key.metric {
        rest
    } else {
        format!("{}{{{rest}}}", info.key.metric)
    }
}

/// The state strips and the header's states at the range's end. A server that is not up then has
/// no current state: its header says unknown, and the strips show where its states end.
fn state_strips(
    infos: &[SeriesInfo],
    data: &HashMap<SeriesId, SeriesRange>,
    range: &TimeRange,
    labels: &[(&str, &str)],
    lookback: i64,
    up: bool,
) -> (Vec<StateNow>, Option<StateChart>) {
    let mut specs = Vec::new();
    let mut now = Vec::new();
    let mut version_classes: HashMap<String, String> = HashMap::new();
    let step = data.values().map(|r| r.step_ms).next().unwrap_or(60_000);
    for (metric, kind, label) in STATES {
        let members: Vec<&SeriesInfo> = infos.iter().filter(|i| i.key.metric == metric).collect();
        if members.is_empty() {
            continue;
        }
        // Each member's value at the range's end, if fresh then and the server is up.
        let at_end: Vec<Option<(Timestamp, f64)>> = members
            .iter()
            .map(|i| {
                data.get(&i.id)
                    .and_then(|r| crate::analysis::value_at(r, range.to, lookback))
                    .filter(|v| v.fresh && (up || metric == "up"))
                    .map(|v| (v.at, v.value))
            })
            .collect();
        match kind {
            StateKind::Info(state_label) => {
                // Versions without build details: the full text is in the header.
                let state_of = |i: &SeriesInfo| {
                    let v = i.key.labels.get(state_label).unwrap_or("?");
                    if metric == "zk_version_info" {
                        short_version(v).to_string()
                    } else {
                        v.to_string()
                    }
                };
                // The current state: the series at 1 with the newest sample.
                let current = members
                    .iter()
                    .zip(&at_end)
                    .filter_map(|(i, l)| l.filter(|l| l.1 >= 1.0).map(|l| (l.0, state_of(i))))
                    .max_by_key(|(ts, _)| *ts)
                    .map(|(_, s)| s);
                let mut per_bucket: BTreeMap<Timestamp, (Vec<String>, Option<String>)> =
                    BTreeMap::new();
                for i in &members {
                    for b in data.get(&i.id).map(|r| r.buckets.as_slice()).unwrap_or(&[]) {
                        let e = per_bucket.entry(b.ts).or_default();
                        if b.max >= 1.0 {
                            e.0.push(state_of(i));
                        }
                        if b.last >= 1.0 {
                            e.1 = Some(state_of(i));
                        }
                    }
                }
                let buckets: Vec<StateAt> = per_bucket
                    .into_iter()
                    .map(|(ts, (seen, last))| {
                        let state = last.unwrap_or_else(|| "none".into());
                        let also: Vec<String> = seen.into_iter().filter(|s| *s != state).collect();
                        StateAt { ts, state, also }
                    })
                    .collect();
                if metric == "zk_version_info" {
                    for b in &buckets {
                        let n = version_classes.len();
                        version_classes
                            .entry(b.state.clone())
                            .or_insert_with(|| format!("s-c{}", n % 6));
                    }
                }
                let current_text = current.clone().unwrap_or_else(|| "unknown".into());
                now.push(StateNow {
                    label,
                    class: state_class(&current_text, &version_classes),
                    value: current_text,
                });
                specs.push(StripSpec {
                    label: label.to_string(),
                    hint: selector_text(&[metric], labels),
                    link: metric_link(&selector_text(&[metric], labels), range),
                    current,
                    buckets,
                    step_ms: step,
                });
            }
            StateKind::Bool(one, zero) => {
                let name = |v: f64| if v >= 1.0 { one } else { zero };
                for (i, l) in members.iter().zip(&at_end) {
                    let buckets: Vec<StateAt> = data
                        .get(&i.id)
                        .map(|r| r.buckets.as_slice())
                        .unwrap_or(&[])
                        .iter()
                        .map(|b| StateAt {
                            ts: b.ts,
                            state: name(b.last).to_string(),
                            also: if name(b.min) != name(b.max) {
                                vec![name(if b.last >= 1.0 { b.min } else { b.max }).to_string()]
                            } else {
                                Vec::new()
                            },
                        })
                        .collect();
                    let current = l.map(|l| name(l.1).to_string());
                    let row_label = match i.key.labels.get("target") {
                        Some(t) => format!("{label} · {t}"),
                        None => label.to_string(),
                    };
                    if metric != "up" {
                        now.push(StateNow {
                            label,
                            class: state_class(
                                current.as_deref().unwrap_or("unknown"),
                                &version_classes,
                            ),
                            value: current.clone().unwrap_or_else(|| "unknown".into()),
                        });
                    }
                    specs.push(StripSpec {
                        label: row_label,
                        hint: i.key.to_string(),
                        link: metric_link(&i.key.to_string(), range),
                        current,
                        buckets,
                        step_ms: step,
                    });
                }
            }
        }
    }
    if specs.is_empty() {
        return (now, None);
    }
    let chart = StateChart::new(specs, (range.from, range.to), |_, state| {
        state_class(state, &version_classes)
    });
    (now, Some(chart))
}

/// The colour class of a state: healthy roles green/blue, transitional ones orange, failures red.
fn state_class(state: &str, versions: &HashMap<String, String>) -> String {
    if let Some(c) = versions.get(state) {
        return c.clone();
    }
    let s = state.to_ascii_lowercase();
    let class = if s == "leader" || s.starts_with("leading") {
        "s-leader"
    } else if s == "follower" || s == "standalone" || s.starts_with("following") {
        "s-follower"
    } else if s == "observer" || s.starts_with("observing") {
        "s-observer"
    } else if s.contains("looking") || s.contains("sync") || s == "read-only" {
        "s-warn"
    } else if s == "up" || s == "imok" || s == "read-write" {
        "s-ok"
    } else if s == "down" || s == "no answer" {
        "s-bad"
    } else {
        "s-other"
    };
    class.to_string()
}

/// Decides where every (non-state) series goes: key-metrics charts, one chart per summary family
/// (per label set), or one chart per metric in its keyword group.
fn plan(infos: &[SeriesInfo]) -> Vec<Plan> {
    let mut plans: BTreeMap<String, Plan> = BTreeMap::new();
    let key_of = |m: &str| {
        KEY.iter().enumerate().find_map(|(k, c)| {
            c.members
                .iter()
                .find(|(x, _)| *x == m)
                .map(|(_, label)| (k, c, *label))
        })
    };
    // (family, label set) → statistics present; two or more make a family (so that
    // zk_max_file_descriptor_count alone is not one).
    let family_key = |i: &SeriesInfo, fam: &str| format!("f:{fam}{{{}}}", i.key.labels.canonical());
    let mut family_sizes: HashMap<String, usize> = HashMap::new();
    for i in infos {
        if key_of(&i.key.metric).is_none()
            && let Some((_, fam)) = family_of(&i.key.metric)
        {
            *family_sizes.entry(family_key(i, fam)).or_default() += 1;
        }
    }
    for i in infos {
        let m = i.key.metric.as_str();
        if let Some((k, chart, label)) = key_of(m) {
            plans
                .entry(format!("k:{k:02}"))
                .or_insert_with(|| Plan {
                    kind: PlanKind::Key { stats: chart.stats },
                    group: KEY_GROUP,
                    order: (k, String::new()),
                    title: chart.title.to_string(),
                    members: Vec::new(),
                })
                .members
                .push((i.clone(), label.to_string()));
            continue;
        }
        if let Some((stat, fam)) = family_of(m)
            && family_sizes.get(&family_key(i, fam)).copied().unwrap_or(0) >= 2
        {
            let extra = labels_without(&i.key, &["cluster", "server"]);
            let title = if extra == i.key.metric {
                fam.to_string()
            } else {
                format!("{fam} {{{extra}}}")
            };
            let plan = plans.entry(family_key(i, fam)).or_insert_with(|| Plan {
                kind: PlanKind::Family,
                group: FAMILY_GROUP,
                order: (100, title.clone()),
                title,
                members: Vec::new(),
            });
            plan.members.push((i.clone(), stat.to_string()));
            plan.members
                .sort_by_key(|(_, label)| STATS.iter().position(|s| s == label));
            continue;
        }
        let label = labels_without(&i.key, &["cluster", "server", "target", "source"]);
        plans
            .entry(format!("m:{m}"))
            .or_insert_with(|| Plan {
                kind: PlanKind::Metric,
                group: group_by_keyword(m),
                order: (100, m.to_string()),
                title: m.to_string(),
                members: Vec::new(),
            })
            .members
            .push((i.clone(), label));
    }
    let mut out: Vec<Plan> = plans.into_values().collect();
    for p in &mut out {
        // Key charts keep their lines in the catalogue's order.
        if let PlanKind::Key { .. } = p.kind {
            p.members.sort_by_key(|(i, _)| {
                key_of(&i.key.metric).map(|(_, c, _)| {
                    c.members
                        .iter()
                        .position(|(x, _)| *x == i.key.metric)
                        .unwrap_or(usize::MAX)
                })
            });
        }
    }
    out.sort_by(|a, b| (a.group, &a.order).cmp(&(b.group, &b.order)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Labels, SeriesKey};
    use crate::store::{Bucket, Tier};

    fn info(id: u32, metric: &str) -> SeriesInfo {
        info_kind(id, metric, MetricKind::Gauge)
    }

    fn info_kind(id: u32, metric: &str, kind: MetricKind) -> SeriesInfo {
        SeriesInfo {
            id,
            key: SeriesKey::new(
                metric,
                Labels::from_pairs([("cluster", "lab"), ("server", "zk1:2181")]),
            ),
            kind,
        }
    }

    fn range_of(info: SeriesInfo, values: &[f64]) -> SeriesRange {
        let mut total = 0.0;
        SeriesRange {
            series: info,
            tier: Tier::Raw,
            step_ms: 60_000,
            buckets: values
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let inc = if i == 0 { 0.0 } else { (v - total).max(0.0) };
                    total = v;
                    Bucket {
                        ts: i as i64 * 60_000,
                        count: 1,
                        sum: v,
                        min: v,
                        max: v,
                        last: v,
                        increase: inc,
                    }
                })
                .collect(),
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
        let plans = plan(&infos);
        let find = |title: &str| {
            plans
                .iter()
                .find(|p| p.title == title)
                .unwrap_or_else(|| panic!("no chart {title}"))
        };
        let lat = find("Request latency (avg / min / max)");
        assert_eq!(lat.group, KEY_GROUP);
        assert_eq!(
            lat.members.iter().map(|m| m.1.as_str()).collect::<Vec<_>>(),
            vec!["avg", "min since reset", "max since reset"]
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
            .filter(|p| p.group == KEY_GROUP)
            .map(|p| p.title.as_str())
            .collect();
        assert_eq!(
            key_titles,
            vec![
                "Request latency (avg / min / max)",
                "Packets received / sent per second",
                "Znodes",
                "File descriptors open / max",
                "Followers: learners / synced / pending syncs"
            ],
            "key charts in catalogue order, only those with data"
        );
        let fam = find("fsynctime");
        assert_eq!(fam.kind, PlanKind::Family);
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
        let plans = plan(&infos);
        assert_eq!(plans.len(), 2, "{plans:?}");
        assert_eq!(plans[0].title, r#"write_per_namespace {namespace="a"}"#);
        assert!(plans.iter().all(|p| p.members.len() == 2));
    }

    #[test]
    fn unchanged_means_constant_gauge_or_counter_without_increase() {
        let g = info(1, "zk_max_file_descriptor_count");
        assert!(!changed(Some(&range_of(g.clone(), &[20000.0, 20000.0]))));
        assert!(changed(Some(&range_of(g.clone(), &[20000.0, 19000.0]))));
        assert!(!changed(None), "no data is no change");
        let c = info_kind(2, "zk_auth_failed_count", MetricKind::Counter);
        assert!(!changed(Some(&range_of(c.clone(), &[17.0, 17.0, 17.0]))));
        assert!(changed(Some(&range_of(c.clone(), &[17.0, 18.0]))));
        assert_eq!(
            last_value(
                Some(&range_of(c.clone(), &[17.0, 17.0])),
                &c,
                ValueFormat::plain()
            ),
            "17 total, no increase"
        );
        assert_eq!(
            last_value(None, &c, ValueFormat::plain()),
            "no data in this range"
        );
    }

    #[test]
    fn family_bands_span_the_family_min_and_max() {
        let avg = range_of(info(1, "zk_avg_fsynctime"), &[2.0, 3.0]);
        let min = range_of(info(2, "zk_min_fsynctime"), &[1.0, 1.0]);
        let max = range_of(info(3, "zk_max_fsynctime"), &[9.0, 12.0]);
        let mut s = SeriesData::from_buckets("avg", &avg.buckets, 60_000, false);
        widen_band(&mut s, Some(&min), Some(&max));
        assert_eq!(
            s.points
                .iter()
                .map(|p| (p.min, p.avg, p.max))
                .collect::<Vec<_>>(),
            vec![(1.0, 2.0, 9.0), (1.0, 3.0, 12.0)]
        );
        let q = flat_line(SeriesData::from_buckets("p99", &max.buckets, 60_000, false));
        assert!(q.points.iter().all(|p| p.min == p.avg && p.max == p.avg));
    }

    #[test]
    fn states_are_coloured_by_meaning() {
        let none = HashMap::new();
        assert_eq!(state_class("leader", &none), "s-leader");
        assert_eq!(state_class("leading - broadcast", &none), "s-leader");
        assert_eq!(state_class("following - broadcast", &none), "s-follower");
        assert_eq!(state_class("looking", &none), "s-warn");
        assert_eq!(state_class("down", &none), "s-bad");
        assert_eq!(state_class("imok", &none), "s-ok");
        let v = HashMap::from([("3.8.0".to_string(), "s-c0".to_string())]);
        assert_eq!(state_class("3.8.0", &v), "s-c0");
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
