//! The ZooKeeper pages: `/zookeeper` (every ensemble), `/zookeeper/{cluster}` (one ensemble like
//! zktop, with history) and `/zookeeper/{cluster}/{server}` (every series of one server), plus the
//! ensemble facts they and the overview share.

pub mod cluster;
pub mod server;
mod tile;

use super::Ctx;
use crate::model::{MatchOp, Matcher, Timestamp, now_ms};
use crate::store::StoredEvent;
use crate::store::{SeriesId, SeriesInfo};
use crate::targets::TargetStatus;
use crate::web::format::urlencode;
use crate::web::sources::WebSource;
use crate::web::timerange::TimeRange;
use axum::Router;
use axum::routing::get;
use std::collections::{BTreeSet, HashMap};

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
}
