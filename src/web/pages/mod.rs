//! One handler module per page, plus what several pages share: reading the range from the URL,
//! ZooKeeper ensemble facts (servers, modes, zxid, up/down), charts and sparklines from the store.

pub mod events;
pub mod metric;
pub mod overview;
pub mod targets;
pub mod zk_server;
pub mod zookeeper;

use super::Ctx;
use super::chart::{ChartSpec, EventMark, SeriesData, Sparkline};
use super::error::{WebError, WebResult};
use super::format::ValueFormat;
use super::page::metric_link;
use super::steps::{Resolution, nice_step};
use super::timerange::TimeRange;
use crate::model::{Labels, MatchOp, Matcher, MetricKind, SeriesKey, Timestamp, now_ms};
use crate::query::Selector;
use crate::store::{EventQuery, SeriesId, SeriesInfo, SeriesRange, StoredEvent};
use crate::targets::TargetStatus;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The range parameters every page accepts.
#[derive(Debug, Default, serde::Deserialize)]
pub struct RangeQuery {
    pub range: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

impl RangeQuery {
    pub fn resolve(&self) -> WebResult<TimeRange> {
        Ok(TimeRange::parse(
            self.range.as_deref(),
            self.from.as_deref(),
            self.to.as_deref(),
            now_ms(),
        )?)
    }
}

/// Size of the small charts in grids, in SVG units.
pub const SMALL_W: u32 = 420;
pub const SMALL_H: u32 = 130;

/// Buckets for a chart of `width`: about one per 2 px of the plot.
pub fn points_for(width: u32) -> usize {
    ((width as usize).saturating_sub(66) / 2).max(10)
}

/// The text of a selector for exactly these metrics and labels, e.g. `zk_avg_latency{cluster="lab"}`
/// or `{__name__=~"zk_min_latency|zk_max_latency", cluster="lab"}`.
pub fn selector_text(metrics: &[&str], labels: &[(&str, &str)]) -> String {
    let mut matchers: Vec<Matcher> = Vec::new();
    let metric = match metrics {
        [one] => Some(one.to_string()),
        many => {
            let alt = many
                .iter()
                .map(|m| regex::escape(m))
                .collect::<Vec<_>>()
                .join("|");
            if let Ok(m) = Matcher::new("__name__", MatchOp::Regex, alt) {
                matchers.push(m);
            }
            None
        }
    };
    matchers.extend(labels.iter().map(|(k, v)| Matcher::eq(*k, *v)));
    Selector {
        metric,
        matchers,
        offset_ms: 0,
    }
    .to_string()
}

/// Every cluster: configured ones first, then any other seen in the data.
pub fn clusters(ctx: &Ctx) -> Vec<String> {
    let mut out: Vec<String> = ctx.config.clusters.iter().map(|c| c.name.clone()).collect();
    for c in ctx.store.label_values("cluster") {
        if !out.contains(&c) {
            out.push(c);
        }
    }
    out
}

pub fn require_cluster(ctx: &Ctx, cluster: &str) -> WebResult<()> {
    if clusters(ctx).iter().any(|c| c == cluster) {
        Ok(())
    } else {
        Err(WebError::NotFound(format!(
            "There is no cluster named {cluster:?}: it is neither configured nor present in the stored data."
        )))
    }
}

/// A ZooKeeper server's facts for tables: configured or seen in the data.
#[derive(Clone, Debug, Default)]
pub struct ZkServer {
    pub cluster: String,
    pub server: String,
    pub configured: bool,
    /// Some(true) up, Some(false) down, None unknown.
    pub up: Option<bool>,
    pub error: Option<String>,
    /// `leader`, `follower`, `observer`, `standalone`, … or `unknown`.
    pub mode: String,
    pub mode_stale: bool,
    pub zxid: Option<String>,
    pub version: Option<String>,
    pub last_seen: Option<Timestamp>,
}

impl ZkServer {
    pub fn up_class(&self) -> &'static str {
        match self.up {
            Some(true) => "up",
            Some(false) => "down",
            None => "unknown",
        }
    }

    pub fn up_text(&self) -> &'static str {
        match self.up {
            Some(true) => "up",
            Some(false) => "down",
            None => "not scraped yet",
        }
    }

    pub fn mode_class(&self) -> &str {
        match self.mode.as_str() {
            "leader" | "follower" | "observer" | "standalone" if !self.mode_stale => &self.mode,
            _ => "unknown",
        }
    }

    pub fn is_leader(&self) -> bool {
        self.mode == "leader" && !self.mode_stale
    }

    pub fn is_standalone(&self) -> bool {
        self.mode == "standalone" && !self.mode_stale
    }

    /// The version without build details (`3.8.0`); the full text goes in a `title`.
    pub fn version_short(&self) -> Option<&str> {
        self.version.as_deref().map(super::format::short_version)
    }

    pub fn page_path(&self) -> String {
        format!(
            "/zookeeper/{}/{}",
            super::format::urlencode(&self.cluster),
            super::format::urlencode(&self.server)
        )
    }
}

/// How an ensemble is doing, with the reasons an operator needs to read first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnsembleHealth {
    /// `ok`, `warning`, `critical` or `unknown` (also the badge's CSS class).
    pub class: &'static str,
    /// Why it is not ok, e.g. `1 of 3 servers down`, `no quorum`; empty when ok.
    pub reasons: Vec<String>,
    /// A single server running in standalone mode: it has no leader by design.
    pub standalone: bool,
}

impl EnsembleHealth {
    pub fn reasons_text(&self) -> String {
        self.reasons.join(" · ")
    }
}

/// Judges an ensemble from its servers: a quorum needs more than half of the voting servers
/// (observers do not vote) up; an ensemble without a leader serves no writes.
pub fn ensemble_health(servers: &[ZkServer]) -> EnsembleHealth {
    let n = servers.len();
    let mut reasons = Vec::new();
    if n == 0 {
        return EnsembleHealth {
            class: "unknown",
            reasons: vec!["no ZooKeeper server configured or seen".into()],
            standalone: false,
        };
    }
    let standalone = n == 1 && servers[0].is_standalone();
    let up = servers.iter().filter(|s| s.up == Some(true)).count();
    let down = servers.iter().filter(|s| s.up == Some(false)).count();
    let unknown = n - up - down;
    let voters: Vec<&ZkServer> = servers.iter().filter(|s| s.mode != "observer").collect();
    let voters_up = voters.iter().filter(|s| s.up == Some(true)).count();
    let leaders = servers.iter().filter(|s| s.is_leader()).count();
    let quorum = voters_up * 2 > voters.len();
    if down > 0 {
        reasons.push(format!(
            "{down} of {n} server{} down",
            if n == 1 { "" } else { "s" }
        ));
    }
    if unknown > 0 {
        reasons.push(format!("{unknown} not scraped yet"));
    }
    let mut critical = false;
    if !standalone && n > 1 {
        if !quorum && unknown == 0 {
            reasons.push("no quorum".into());
            critical = true;
        }
        if leaders == 0 && up > 0 {
            reasons.push("no leader".into());
            critical = true;
        } else if leaders > 1 {
            reasons.push(format!("{leaders} servers report leader"));
            critical = true;
        }
    }
    let stale = servers
        .iter()
        .filter(|s| s.up == Some(true) && s.mode_stale)
        .count();
    if stale > 0 {
        reasons.push(format!(
            "mode of {stale} server(s) not reported for 5 minutes"
        ));
    }
    let class = if critical || (n == 1 && down == 1) {
        "critical"
    } else if reasons.is_empty() {
        "ok"
    } else if up == 0 && down == 0 {
        "unknown"
    } else {
        "warning"
    };
    EnsembleHealth {
        class,
        reasons,
        standalone,
    }
}

/// A server's state counts as current when its newest sample is younger than this.
const STALE_MS: i64 = 5 * 60_000;

fn matches_server(t: &TargetStatus, cluster: &str, server: &str) -> bool {
    t.cluster == cluster
        && t.source.starts_with("zookeeper")
        && (t.identity.get("server") == Some(server)
            || t.target == server
            || t.target.ends_with(&format!("//{server}")))
}

/// Series with their newest sample, by the value of one label.
type ByLabel = HashMap<String, Vec<(SeriesInfo, Option<(Timestamp, f64)>)>>;

/// The newest value of each (label value of `by`) among `metric{cluster=…}` series.
fn latest_by(ctx: &Ctx, metric: &str, cluster: &str, by: &str) -> ByLabel {
    let infos = ctx
        .store
        .select(Some(metric), &[Matcher::eq("cluster", cluster)]);
    let ids: Vec<SeriesId> = infos.iter().map(|i| i.id).collect();
    let latest = ctx.store.latest(&ids);
    let mut out: HashMap<String, Vec<_>> = HashMap::new();
    for (info, l) in infos.into_iter().zip(latest) {
        if let Some(v) = info.key.labels.get(by).map(str::to_string) {
            out.entry(v).or_default().push((info, l));
        }
    }
    out
}

/// Every ZooKeeper server of a cluster (configured, then seen in data), with mode, zxid, version
/// and up/down from the live target registry (falling back to the stored `up` series).
pub fn zk_servers(ctx: &Ctx, cluster: &str) -> Vec<ZkServer> {
    let now = now_ms();
    // Configured: the four-letter-word targets (named by their client port), and AdminServer
    // targets once a scrape has told which server they are.
    let mut names: Vec<(String, bool)> = Vec::new();
    for t in ctx.targets.snapshot() {
        if t.cluster != cluster || !t.source.starts_with("zookeeper") {
            continue;
        }
        let server = match t.source {
            "zookeeper" => Some(t.target.clone()),
            _ => t.identity.get("server").map(str::to_string),
        };
        if let Some(s) = server
            && !names.iter().any(|(n, _)| *n == s)
        {
            names.push((s, true));
        }
    }
    let seen: BTreeSet<String> = ctx
        .store
        .select(
            None,
            &[
                Matcher::eq("cluster", cluster),
                Matcher::new("__name__", MatchOp::Regex, "zk_.*")
                    .unwrap_or_else(|_| Matcher::eq("__name__", "zk_server_state")),
            ],
        )
        .into_iter()
        .filter_map(|i| i.key.labels.get("server").map(str::to_string))
        .collect();
    for s in seen {
        if !names.iter().any(|(n, _)| *n == s) {
            names.push((s, false));
        }
    }
    let states = latest_by(ctx, "zk_server_state", cluster, "server");
    let epochs = latest_by(ctx, "zk_zxid_epoch", cluster, "server");
    let counters = latest_by(ctx, "zk_zxid_counter", cluster, "server");
    let versions = latest_by(ctx, "zk_version_info", cluster, "server");
    let ups = latest_by(ctx, "up", cluster, "target");
    let registry = ctx.targets.snapshot();
    names
        .into_iter()
        .map(|(server, configured)| {
            let mut z = ZkServer {
                cluster: cluster.to_string(),
                server: server.clone(),
                configured,
                mode: "unknown".into(),
                ..Default::default()
            };
            let statuses: Vec<&TargetStatus> = registry
                .iter()
                .filter(|t| matches_server(t, cluster, &server))
                .collect();
            if !statuses.is_empty() {
                z.up = if statuses.iter().any(|t| t.up == Some(true)) {
                    Some(true)
                } else if statuses.iter().any(|t| t.up == Some(false)) {
                    Some(false)
                } else {
                    // Not scraped since this process started: the stored `up` of the last few
                    // minutes says more than "not scraped yet" (right after every restart).
                    statuses
                        .iter()
                        .filter_map(|t| ups.get(&t.target))
                        .flatten()
                        .filter_map(|(_, l)| *l)
                        .max_by_key(|l| l.0)
                        .filter(|l| now - l.0 < STALE_MS)
                        .map(|l| l.1 >= 1.0)
                };
                z.error = statuses.iter().find_map(|t| {
                    if t.up == Some(false) {
                        t.last_error.clone()
                    } else {
                        None
                    }
                });
            } else if let Some(v) = ups
                .get(&server)
                .and_then(|v| v.iter().filter_map(|(_, l)| *l).max_by_key(|l| l.0))
            {
                z.up = Some(v.1 >= 1.0 && now - v.0 < STALE_MS);
            }
            if let Some(list) = states.get(&server) {
                let current = list
                    .iter()
                    .filter_map(|(info, l)| l.filter(|l| l.1 >= 1.0).map(|l| (info, l)))
                    .max_by_key(|(_, l)| l.0);
                if let Some((info, l)) = current {
                    z.mode = info
                        .key
                        .labels
                        .get("state")
                        .unwrap_or("unknown")
                        .to_string();
                    z.mode_stale = now - l.0 > STALE_MS;
                    z.last_seen = Some(l.0);
                }
            }
            let val = |m: &ByLabel| {
                m.get(&server)
                    .and_then(|v| v.iter().filter_map(|(_, l)| *l).max_by_key(|l| l.0))
                    .map(|l| l.1)
            };
            if let (Some(e), Some(c)) = (val(&epochs), val(&counters)) {
                z.zxid = Some(format_zxid(e, c));
            }
            z.version = versions.get(&server).and_then(|v| {
                v.iter()
                    .filter(|(_, l)| l.is_some_and(|l| l.1 >= 1.0))
                    .max_by_key(|(_, l)| l.map(|l| l.0))
                    .and_then(|(info, _)| info.key.labels.get("version").map(str::to_string))
            });
            z
        })
        .collect()
}

/// `0x{epoch:x}{counter:08x}`, as ZooKeeper prints a zxid.
pub fn format_zxid(epoch: f64, counter: f64) -> String {
    if !(epoch.is_finite() && counter.is_finite() && epoch >= 0.0 && counter >= 0.0) {
        return "–".into();
    }
    format!("0x{:x}{:08x}", epoch as u64, counter as u64)
}

/// Chart-ready series from a store range: counters as rates, labelled by `label`.
pub fn series_data(r: &SeriesRange, label: String, range: &TimeRange) -> SeriesData {
    SeriesData::from_buckets(
        label,
        &r.buckets,
        r.step_ms,
        r.series.kind == MetricKind::Counter,
    )
    .with_tier(r.tier.as_str())
    .with_link(metric_link(&r.series.key.to_string(), range))
}

/// Events of a range as chart ticks.
pub fn event_marks(events: &[StoredEvent]) -> Vec<EventMark> {
    events
        .iter()
        .map(|e| EventMark {
            ts: e.event.ts,
            text: format!(
                "{}{}: {}",
                e.event.kind,
                if e.event.subject.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", e.event.subject)
                },
                e.event.message
            ),
            severity: e.event.severity.as_str(),
        })
        .collect()
}

/// Events in the range for a cluster (all clusters when None), newest first.
pub async fn range_events(
    ctx: &Ctx,
    range: &TimeRange,
    cluster: Option<&str>,
    limit: usize,
) -> WebResult<Vec<StoredEvent>> {
    ctx.store
        .events(&EventQuery {
            start: range.from,
            end: range.to,
            cluster: cluster.map(str::to_string),
            limit,
            ..Default::default()
        })
        .await
        .map_err(|e| WebError::Store(e.to_string()))
}

/// Store ranges for `ids` at one bucket per 2 px of `width`, by series id.
pub async fn fetch_ranges(
    ctx: &Ctx,
    ids: &[SeriesId],
    range: &TimeRange,
    width: u32,
) -> WebResult<HashMap<SeriesId, SeriesRange>> {
    fetch_ranges_points(ctx, ids, range, points_for(width)).await
}

/// The nice step (see [`steps`](crate::web::steps)) of a chart of `max_points` over `range`.
pub fn chart_step(ctx: &Ctx, range: &TimeRange, max_points: usize) -> i64 {
    Resolution::from_config(&ctx.config).chart_step(range.from, range.to, max_points, now_ms())
}

/// Store ranges for `ids` at the nice step for about `max_points` buckets, by series id.
pub async fn fetch_ranges_points(
    ctx: &Ctx,
    ids: &[SeriesId],
    range: &TimeRange,
    max_points: usize,
) -> WebResult<HashMap<SeriesId, SeriesRange>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let step = chart_step(ctx, range, max_points);
    let mut ranges = query_parallel(ctx, ids, range, step).await?;
    // The store's own retention may be shorter than the configured one: when it had to answer
    // from a tier coarser than the step, ask again at a nice step that tier can fill.
    let coarsest = ranges
        .iter()
        .filter_map(|r| r.tier.resolution_ms())
        .max()
        .unwrap_or(0);
    if coarsest > step {
        let step = nice_step(range.len_ms(), max_points, coarsest);
        ranges = query_parallel(ctx, ids, range, step).await?;
    }
    Ok(ranges.into_iter().map(|r| (r.series.id, r)).collect())
}

/// Series per store query below which a page's read is not split.
const PARALLEL_MIN_SERIES: usize = 128;

/// `query_range_step` of many series split over up to four tasks: a page of hundreds of series
/// (a ZooKeeper server's) spends most of its time decoding chunks, which the store does on the
/// task that asked.
async fn query_parallel(
    ctx: &Ctx,
    ids: &[SeriesId],
    range: &TimeRange,
    step: i64,
) -> WebResult<Vec<SeriesRange>> {
    let store_err = |e: crate::store::StoreError| WebError::Store(e.to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let parts = cores
        .min(4)
        .min(ids.len() / (PARALLEL_MIN_SERIES / 2))
        .max(1);
    if parts == 1 {
        return ctx
            .store
            .query_range_step(ids, range.from, range.to, step, None)
            .await
            .map_err(store_err);
    }
    let (from, to) = (range.from, range.to);
    let tasks: Vec<_> = ids
        .chunks(ids.len().div_ceil(parts))
        .map(|chunk| {
            let store = ctx.store.clone();
            let chunk = chunk.to_vec();
            tokio::spawn(async move { store.query_range_step(&chunk, from, to, step, None).await })
        })
        .collect();
    let mut out = Vec::with_capacity(ids.len());
    for t in tasks {
        let part = t
            .await
            .map_err(|e| WebError::Internal(format!("a range read task failed: {e}")))?
            .map_err(store_err)?;
        out.extend(part);
    }
    Ok(out)
}

/// Draws charts and sparklines of stored series fetched for one page and range.
#[derive(Clone, Copy)]
pub struct Charter<'a> {
    /// Where units come from.
    pub catalogue: &'a crate::catalogue::Catalogue,
    pub range: &'a TimeRange,
    pub data: &'a HashMap<SeriesId, SeriesRange>,
    pub events: &'a [EventMark],
    pub size: (u32, u32),
    /// Narrowest hover column (see [`ChartSpec::hover_px`]).
    pub hover_px: f64,
}

impl Charter<'_> {
    /// A series' unit from the catalogue, as a rate when it is a counter.
    pub fn format_of(&self, info: &SeriesInfo) -> ValueFormat {
        ValueFormat::new(self.catalogue.unit(&info.key.metric), info.kind)
    }

    /// A chart with one line per series (in the given order), unit from the first series; min–max
    /// bands unless `bands` is false.
    pub fn chart(
        &self,
        title: String,
        link: String,
        infos: &[&SeriesInfo],
        label_of: impl Fn(&SeriesInfo) -> String,
        bands: bool,
    ) -> super::chart::Chart {
        let format = infos
            .first()
            .map(|i| self.format_of(i))
            .unwrap_or_else(ValueFormat::plain);
        let series = infos
            .iter()
            .filter_map(|i| {
                self.data
                    .get(&i.id)
                    .map(|r| series_data(r, label_of(i), self.range))
            })
            .collect();
        ChartSpec::new(
            title,
            link,
            self.size,
            (self.range.from, self.range.to),
            format,
            series,
        )
        .events(self.events.to_vec())
        .hover_px(self.hover_px)
        .bands(bands)
        .render()
    }

    /// A sparkline of one stored series (None when it was not fetched).
    pub fn spark(&self, info: Option<&SeriesInfo>) -> Option<Sparkline> {
        let info = info?;
        let r = self.data.get(&info.id)?;
        let s = series_data(r, info.key.metric.clone(), self.range);
        let fmt = self.format_of(info);
        Some(Sparkline::sized(
            &s,
            self.range.from,
            self.range.to,
            fmt,
            metric_link(&info.key.to_string(), self.range),
            self.size,
        ))
    }
}

/// Series of one ZooKeeper server (or any subject) by metric name.
pub fn by_metric(infos: Vec<SeriesInfo>) -> BTreeMap<String, Vec<SeriesInfo>> {
    let mut m: BTreeMap<String, Vec<SeriesInfo>> = BTreeMap::new();
    for i in infos {
        m.entry(i.key.metric.clone()).or_default().push(i);
    }
    m
}

/// A label set without the given names, for legends (`state="leader"`).
pub fn labels_without(key: &SeriesKey, drop: &[&str]) -> String {
    let l = Labels::from_pairs(key.labels.iter().filter(|(k, _)| !drop.contains(k)));
    if l.is_empty() {
        key.metric.clone()
    } else {
        l.canonical()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zxid_is_printed_like_zookeeper() {
        assert_eq!(format_zxid(2.0, 7.0), "0x200000007");
        assert_eq!(
            format_zxid(0x1a as f64, 0xffff_ffffu32 as f64),
            "0x1affffffff"
        );
        assert_eq!(format_zxid(f64::NAN, 1.0), "–");
    }

    #[test]
    fn selector_text_parses_back() {
        let one = selector_text(&["zk_avg_latency"], &[("cluster", "lab \"a\"")]);
        assert_eq!(one, r#"zk_avg_latency{cluster="lab \"a\""}"#);
        let many = selector_text(
            &["zk_min_latency", "zk_max_latency"],
            &[("server", "zk1:2181")],
        );
        let sel = crate::query::parse_selector(&many).unwrap();
        assert_eq!(sel.matchers.len(), 2);
        assert!(sel.matchers[0].matches(Some("zk_min_latency")));
        assert!(!sel.matchers[0].matches(Some("zk_avg_latency")));
    }

    fn server(mode: &str, up: Option<bool>) -> ZkServer {
        ZkServer {
            cluster: "lab".into(),
            server: format!("zk-{mode}"),
            up,
            mode: mode.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_standalone_server_is_healthy_without_a_leader() {
        let h = ensemble_health(&[server("standalone", Some(true))]);
        assert_eq!(h.class, "ok");
        assert!(h.standalone);
        assert!(h.reasons.is_empty(), "{h:?}");
        let h = ensemble_health(&[server("standalone", Some(false))]);
        assert_eq!(h.class, "critical");
        assert_eq!(h.reasons, vec!["1 of 1 server down"]);
    }

    #[test]
    fn ensemble_health_names_its_reasons() {
        let ok = [
            server("leader", Some(true)),
            server("follower", Some(true)),
            server("follower", Some(true)),
        ];
        assert_eq!(ensemble_health(&ok).class, "ok");
        let one_down = [
            server("leader", Some(true)),
            server("follower", Some(true)),
            server("unknown", Some(false)),
        ];
        let h = ensemble_health(&one_down);
        assert_eq!(
            (h.class, h.reasons_text().as_str()),
            ("warning", "1 of 3 servers down")
        );
        let lost = [
            server("unknown", Some(true)),
            server("unknown", Some(false)),
            server("unknown", Some(false)),
        ];
        let h = ensemble_health(&lost);
        assert_eq!(h.class, "critical");
        assert_eq!(
            h.reasons_text(),
            "2 of 3 servers down · no quorum · no leader"
        );
        // An observer does not count towards the quorum.
        let obs = [
            server("leader", Some(true)),
            server("follower", Some(false)),
            server("observer", Some(true)),
        ];
        assert!(
            ensemble_health(&obs)
                .reasons
                .contains(&"no quorum".to_string())
        );
    }

    #[test]
    fn points_follow_the_width() {
        assert_eq!(points_for(600), 267);
        assert_eq!(points_for(10), 10);
    }
}
