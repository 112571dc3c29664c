//! The ZooKeeper pages: `/zookeeper` (every ensemble), `/zookeeper/{cluster}` (one ensemble like
//! zktop, with history) and `/zookeeper/{cluster}/{server}` (every series of one server), plus the
//! ensemble facts they and the overview share.

pub mod cluster;
pub mod server;
mod tile;

use super::Ctx;
use crate::analysis;
use crate::model::{MatchOp, Matcher, Timestamp};
use crate::store::{EventQuery, SeriesId, SeriesInfo, SeriesRange, StoredEvent};
use crate::targets::TargetStatus;
use crate::web::error::{WebError, WebResult};
use crate::web::format::urlencode;
use crate::web::sources::WebSource;
use crate::web::timerange::TimeRange;
use axum::Router;
use axum::routing::get;
use std::collections::BTreeSet;

/// The ZooKeeper pages, their navigation entry and overview tile.
pub const WEB: WebSource = WebSource {
    key: "zookeeper",
    nav: Some(("zookeeper", "ZooKeeper", "/zookeeper")),
    routes,
    overview: tile::tile,
    event_link,
};

fn routes(router: Router<Ctx>) -> Router<Ctx> {
    router
        .route("/zookeeper", get(cluster::all))
        .route("/zookeeper/{cluster}", get(cluster::one))
        .route("/zookeeper/{cluster}/{server}", get(server::show))
}

/// A ZooKeeper event is explained by its server's page (or the ensemble's when it has no server).
fn event_link(e: &StoredEvent, around: &TimeRange) -> Option<String> {
    let ev = &e.event;
    if !ev.kind.starts_with("zk_") || ev.cluster.is_empty() {
        return None;
    }
    let q = around.query();
    Some(if ev.subject.is_empty() {
        format!("/zookeeper/{}?{q}", urlencode(&ev.cluster))
    } else {
        format!(
            "/zookeeper/{}/{}?{q}",
            urlencode(&ev.cluster),
            urlencode(&ev.subject)
        )
    })
}

/// A ZooKeeper server's facts at the end of the page's range: configured or seen in the data.
/// Everything here comes from stored series and events up to that time, so a permalink shows the
/// same facts whenever it is opened.
#[derive(Clone, Debug, Default)]
pub struct ZkServer {
    pub cluster: String,
    pub server: String,
    pub configured: bool,
    /// At the range's end: Some(true) up, Some(false) down, None no scrape recorded near it.
    pub up: Option<bool>,
    /// When the current failure started (its `target_down` event), if down.
    pub down_since: Option<Timestamp>,
    /// The failure's text, if down.
    pub error: Option<String>,
    /// `leader`, `follower`, `observer`, `standalone`, … while up; `unknown` otherwise.
    pub mode: String,
    /// The last mode reported before the range's end, when the server is not up (and when).
    pub last_known: Option<(String, Timestamp)>,
    pub zxid: Option<String>,
    pub version: Option<String>,
    /// The newest sample of the server at or before the range's end.
    pub last_seen: Option<Timestamp>,
}

impl ZkServer {
    pub fn up_class(&self) -> &'static str {
        crate::web::format::up_class(self.up)
    }

    pub fn up_text(&self) -> &'static str {
        crate::web::format::up_text(self.up)
    }

    pub fn mode_class(&self) -> &str {
        match self.mode.as_str() {
            "leader" | "follower" | "observer" | "standalone" if self.up == Some(true) => {
                &self.mode
            }
            _ => "unknown",
        }
    }

    /// What the state column says under the badges when the server's state is not known at the
    /// range's end: `unknown since 12:03:15 · last known leader`.
    pub fn state_note(&self) -> Option<String> {
        if self.up == Some(true) {
            return None;
        }
        let mut parts = Vec::new();
        match (self.up, self.down_since) {
            (Some(false), Some(t)) => {
                parts.push(format!("unknown since {}", crate::web::format::utc(t)))
            }
            (Some(false), None) => parts.push("unknown (down)".to_string()),
            _ => parts.push("no scrape near the end of this range".to_string()),
        }
        if let Some((m, _)) = &self.last_known {
            parts.push(format!("last known {m}"));
        }
        Some(parts.join(" · "))
    }

    pub fn is_leader(&self) -> bool {
        self.mode == "leader" && self.up == Some(true)
    }

    pub fn is_standalone(&self) -> bool {
        self.mode == "standalone" && self.up == Some(true)
            || self.up != Some(true)
                && self
                    .last_known
                    .as_ref()
                    .is_some_and(|(m, _)| m == "standalone")
    }

    /// The version without build details (`3.8.0`); the full text goes in a `title`.
    pub fn version_short(&self) -> Option<&str> {
        self.version
            .as_deref()
            .map(crate::web::format::short_version)
    }

    pub fn page_path(&self) -> String {
        format!(
            "/zookeeper/{}/{}",
            crate::web::format::urlencode(&self.cluster),
            crate::web::format::urlencode(&self.server)
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
    let is_observer = |s: &ZkServer| {
        s.mode == "observer" || s.last_known.as_ref().is_some_and(|(m, _)| m == "observer")
    };
    let voters: Vec<&ZkServer> = servers.iter().filter(|s| !is_observer(s)).collect();
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
        reasons.push(format!(
            "{unknown} without a scrape near the end of the range"
        ));
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
    let silent = servers
        .iter()
        .filter(|s| s.up == Some(true) && s.mode == "unknown")
        .count();
    if silent > 0 {
        reasons.push(format!("{silent} up without reporting a mode"));
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

/// How far before the range's end a sample still counts as current: Prometheus' lookback, or
/// three intervals of a slower target.
fn lookback_ms(ctx: &Ctx, cluster: &str) -> i64 {
    let slowest = ctx
        .targets
        .snapshot()
        .iter()
        .filter(|t| t.cluster == cluster && t.source.starts_with("zookeeper"))
        .map(|t| t.interval_ms)
        .max()
        .unwrap_or(0);
    (5 * 60_000).max(3 * slowest)
}

/// The targets that read `server`: its four-letter-word address and the AdminServer URLs that
/// said they are it.
fn targets_of(registry: &[TargetStatus], cluster: &str, server: &str) -> Vec<String> {
    let mut out: Vec<String> = registry
        .iter()
        .filter(|t| {
            t.cluster == cluster
                && t.source.starts_with("zookeeper")
                && (t.target == server || t.identity.get("server") == Some(server))
        })
        .map(|t| t.target.clone())
        .collect();
    if out.is_empty() {
        out.push(server.to_string());
    }
    out
}

/// Every ZooKeeper server of a cluster (configured, then seen in data), with up/down, mode, zxid
/// and version at the end of `range`, from stored series and events only.
pub async fn zk_servers(ctx: &Ctx, cluster: &str, range: &TimeRange) -> WebResult<Vec<ZkServer>> {
    let registry = ctx.targets.snapshot();
    // Configured: the four-letter-word targets (named by their client port), and AdminServer
    // targets once a scrape has told which server they are.
    let mut names: Vec<(String, bool)> = Vec::new();
    for t in &registry {
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

    // The series that say what a server is, and the `up` of its targets.
    const FACTS: [&str; 4] = [
        "zk_server_state",
        "zk_zxid_epoch",
        "zk_zxid_counter",
        "zk_version_info",
    ];
    let mut per_server: Vec<(Vec<String>, Vec<SeriesInfo>, Vec<SeriesInfo>)> = Vec::new();
    let mut ids: Vec<SeriesId> = Vec::new();
    for (server, _) in &names {
        let targets = targets_of(&registry, cluster, server);
        let mut facts = Vec::new();
        for metric in FACTS {
            facts.extend(ctx.store.select(
                Some(metric),
                &[
                    Matcher::eq("cluster", cluster),
                    Matcher::eq("server", server),
                ],
            ));
        }
        let mut ups = Vec::new();
        for t in &targets {
            ups.extend(ctx.store.select(
                Some("up"),
                &[Matcher::eq("cluster", cluster), Matcher::eq("target", t)],
            ));
        }
        ids.extend(facts.iter().chain(&ups).map(|i| i.id));
        per_server.push((targets, facts, ups));
    }
    let data = crate::web::pages::fetch_ranges_points(ctx, &ids, range, 120).await?;
    let lookback = lookback_ms(ctx, cluster);
    let to = range.to;

    let mut out = Vec::new();
    for ((server, configured), (targets, facts, ups)) in names.into_iter().zip(per_server) {
        let mut z = ZkServer {
            cluster: cluster.to_string(),
            server: server.clone(),
            configured,
            mode: "unknown".into(),
            ..Default::default()
        };
        let up_now: Vec<bool> = ups
            .iter()
            .filter_map(|i| data.get(&i.id))
            .filter_map(|r| analysis::value_at(r, to, lookback))
            .filter(|v| v.fresh)
            .map(|v| v.value >= 1.0)
            .collect();
        let states_fresh = || {
            facts
                .iter()
                .filter(|i| i.key.metric == "zk_server_state")
                .filter_map(|i| data.get(&i.id))
                .filter_map(|r| analysis::value_at(r, to, lookback))
                .any(|v| v.fresh)
        };
        z.up = if up_now.contains(&true) {
            Some(true)
        } else if !up_now.is_empty() {
            Some(false)
        } else if ups.is_empty() && states_fresh() {
            // No `up` series (data written by another collector): its own fresh report says it
            // answered.
            Some(true)
        } else {
            None
        };
        let of = |metric: &str| -> Vec<(&SeriesInfo, &SeriesRange)> {
            facts
                .iter()
                .filter(|i| i.key.metric == metric)
                .filter_map(|i| data.get(&i.id).map(|r| (i, r)))
                .collect()
        };
        let states = of("zk_server_state");
        let labelled =
            |v: &[(&SeriesInfo, &SeriesRange)], label: &str| -> Vec<(String, SeriesRange)> {
                v.iter()
                    .filter_map(|(i, r)| {
                        i.key
                            .labels
                            .get(label)
                            .map(|l| (l.to_string(), (*r).clone()))
                    })
                    .collect()
            };
        let state_ranges = labelled(&states, "state");
        let state_refs = state_ranges.iter().map(|(l, r)| (l.as_str(), r));
        if z.up == Some(true) {
            if let Some((m, _)) = analysis::state_at(state_refs, to, Some(lookback)) {
                z.mode = m.to_string();
            }
            let num = |metric: &str| {
                of(metric)
                    .first()
                    .and_then(|(_, r)| analysis::value_at(r, to, lookback))
                    .filter(|v| v.fresh)
                    .map(|v| v.value)
            };
            if let (Some(e), Some(c)) = (num("zk_zxid_epoch"), num("zk_zxid_counter")) {
                z.zxid = Some(format_zxid(e, c));
            }
        } else if let Some((m, v)) = analysis::state_at(state_refs, to, None) {
            z.last_known = Some((m.to_string(), v.at));
        }
        let versions = labelled(&of("zk_version_info"), "version");
        z.version = analysis::state_at(versions.iter().map(|(l, r)| (l.as_str(), r)), to, None)
            .map(|(v, _)| v.to_string());
        z.last_seen = states
            .iter()
            .chain(of("zk_zxid_epoch").iter())
            .filter_map(|(_, r)| analysis::value_at(r, to, 0))
            .map(|v| v.at)
            .max();
        if z.up == Some(false) {
            // The failure that is still going on at the range's end: the newest `target_down`.
            let mut newest: Option<crate::store::StoredEvent> = None;
            for t in &targets {
                let found = ctx
                    .store
                    .events(&EventQuery {
                        start: 0,
                        end: to,
                        cluster: Some(cluster.to_string()),
                        subject: Some(t.clone()),
                        kinds: vec![crate::collector::TARGET_DOWN.to_string()],
                        limit: 1,
                    })
                    .await
                    .map_err(|e| WebError::Store(e.to_string()))?;
                if let Some(e) = found.into_iter().next()
                    && newest.as_ref().is_none_or(|n| e.event.ts > n.event.ts)
                {
                    newest = Some(e);
                }
            }
            if let Some(e) = newest {
                z.down_since = Some(e.event.ts);
                z.error = Some(e.event.message);
            }
        }
        out.push(z);
    }
    Ok(out)
}

/// `0x{epoch:x}{counter:08x}`, as ZooKeeper prints a zxid.
pub fn format_zxid(epoch: f64, counter: f64) -> String {
    if !(epoch.is_finite() && counter.is_finite() && epoch >= 0.0 && counter >= 0.0) {
        return "–".into();
    }
    format!("0x{:x}{:08x}", epoch as u64, counter as u64)
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
            "2 of 3 servers down · no quorum · no leader · 1 up without reporting a mode"
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
}
