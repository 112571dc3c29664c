//! ZooKeeper: four-letter words over TCP and the AdminServer over HTTP, for 3.2 to 3.9.
//!
//! - [`ZkFourLetterSource`] reads a server through its client port (`host:port`): `mntr`,
//!   `srvr` (or `stat`), `ruok`, `isro`, `wchs`, `cons`, and `conf`/`envi` every few minutes.
//! - [`ZkAdminSource`] reads a server through its AdminServer (`http://host:8080`): `monitor`,
//!   `stats`, `leader`, `voting_view`, `connections`, `watch_summary`, `is_read_only`, `ruok`, and
//!   `configuration`/`environment` every few minutes.
//! - Both produce the same `zk_*` series with `server="host:clientPort"` (see `metrics.rs` for
//!   names and kinds), the same `conf`/`envi`/`cons` documents, and feed one [`EnsembleTracker`]
//!   per cluster, which turns mode changes into `zk_mode_change` and leader moves into
//!   `zk_leader_change` events.
//! - A scrape fails (the target shows as down with the text) only when neither `mntr` nor
//!   `srvr`/`stat` (four-letter words) or `monitor` (AdminServer) can be read; every other
//!   command that fails — outside the whitelist, say — becomes a warning on the targets page.
//!
//! [`KIND`] makes it known to the server: the `[clusters.zookeeper]` section ([`config`]), the
//! catalogue of its series ([`catalogue`]) and its event kinds.

pub mod admin;
pub mod catalogue;
pub mod config;
pub mod ensemble;
pub mod fourlw;
pub mod metrics;
pub mod parse;

pub use admin::ZkAdminSource;
pub use ensemble::{
    EnsembleTracker, LEADER_CHANGE, MODE_CHANGE, MULTIPLE_LEADERS, NO_LEADER, QUORUM_LOST,
    QUORUM_REGAINED, Sighting,
};
pub use fourlw::ZkFourLetterSource;

use crate::model::{Labels, Reading};
use crate::sources::{
    Document, EventKind, ScrapeOutput, Source, SourceError, SourceKind, TargetInfo,
};
use parse::{Connection, LeaderInfo, Mntr, ParseError, ServerStat, VotingMember, WatchSummary};
use std::time::Duration;
use tokio::time::Instant;

/// The ZooKeeper source kind.
pub const KIND: SourceKind = SourceKind {
    key: "zookeeper",
    title: "ZooKeeper",
    target_sources: &["zookeeper", "zookeeper_admin"],
    catalogue: catalogue::CATALOGUE,
    events: &[
        EventKind {
            kind: MODE_CHANGE,
            title: "ZooKeeper mode change",
        },
        EventKind {
            kind: LEADER_CHANGE,
            title: "ZooKeeper leader change",
        },
        EventKind {
            kind: QUORUM_LOST,
            title: "ZooKeeper quorum lost",
        },
        EventKind {
            kind: QUORUM_REGAINED,
            title: "ZooKeeper quorum regained",
        },
        EventKind {
            kind: NO_LEADER,
            title: "ZooKeeper servers without a leader",
        },
        EventKind {
            kind: MULTIPLE_LEADERS,
            title: "ZooKeeper servers reporting leader at once",
        },
    ],
    build: config::build,
    default_local: config::default_local,
};

/// One ZooKeeper source of either kind, so the collector can keep them in one list.
#[derive(Debug)]
pub enum ZkTarget {
    FourLetter(ZkFourLetterSource),
    Admin(ZkAdminSource),
}

impl Source for ZkTarget {
    fn info(&self) -> &TargetInfo {
        match self {
            ZkTarget::FourLetter(s) => s.info(),
            ZkTarget::Admin(s) => s.info(),
        }
    }

    async fn scrape(&mut self, timeout: Duration) -> Result<ScrapeOutput, SourceError> {
        match self {
            ZkTarget::FourLetter(s) => s.scrape(timeout).await,
            ZkTarget::Admin(s) => s.scrape(timeout).await,
        }
    }

    fn take_events(&mut self) -> Vec<crate::sources::SourceEvent> {
        match self {
            ZkTarget::FourLetter(s) => s.take_events(),
            ZkTarget::Admin(s) => s.take_events(),
        }
    }

    fn retry(&self) -> crate::sources::Retry {
        match self {
            ZkTarget::FourLetter(s) => s.retry(),
            ZkTarget::Admin(s) => s.retry(),
        }
    }
}

/// The sources of one cluster: one per four-letter-word address (`host:port`) and one per
/// AdminServer URL, all sharing one ensemble tracker so a leader move is one event.
pub fn build_sources(cluster: &str, fourlw: &[String], admin: &[String]) -> Vec<ZkTarget> {
    let tracker = EnsembleTracker::new(cluster);
    for addr in fourlw {
        tracker.expect(addr.trim());
    }
    fourlw
        .iter()
        .map(|addr| ZkTarget::FourLetter(ZkFourLetterSource::new(addr.trim(), tracker.clone())))
        .chain(
            admin
                .iter()
                .map(|url| ZkTarget::Admin(ZkAdminSource::new(url.trim(), tracker.clone()))),
        )
        .collect()
}

/// Why one command gave nothing usable.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CmdError {
    /// No reply: connection refused, timeout, reply too large.
    #[error("{0}")]
    Transport(String),
    /// A reply that is not data: whitelist, not serving, junk.
    #[error("{0}")]
    Parse(ParseError),
}

impl CmdError {
    fn transport(e: fourlw::FourLetterError) -> Self {
        CmdError::Transport(e.to_string())
    }

    fn is_transport(&self) -> bool {
        matches!(self, CmdError::Transport(_))
    }
}

/// The value of a command that is not essential, or a warning saying why there is none.
fn keep<T>(warnings: &mut Vec<String>, result: Result<T, CmdError>) -> Option<T> {
    match result {
        Ok(v) => Some(v),
        Err(e) => {
            warnings.push(e.to_string());
            None
        }
    }
}

/// The deadline for every command of a scrape: the budget less a small margin for assembling the
/// output, so the collector's own timeout does not cut a scrape that was about to finish.
fn command_deadline(timeout: Duration) -> Instant {
    let margin = (timeout / 10).min(Duration::from_millis(200));
    Instant::now() + timeout.saturating_sub(margin)
}

/// Values a source may remember between scrapes for its info gauges.
#[derive(Clone, Debug, Default)]
struct Histories {
    state: metrics::InfoHistory,
    peer_state: metrics::InfoHistory,
    version: metrics::InfoHistory,
}

/// What one scrape learned, from either protocol.
#[derive(Clone, Debug, Default)]
struct Observed {
    mntr: Option<Mntr>,
    srvr: Option<ServerStat>,
    zxid: Option<u64>,
    ruok: Option<bool>,
    read_only: Option<bool>,
    watches: Option<WatchSummary>,
    connections: Option<Vec<Connection>>,
    leader: Option<LeaderInfo>,
    voting: Option<Vec<VotingMember>>,
    server_id: Option<String>,
}

/// Builds the scrape output of one server (`server` is its `host:clientPort`).
fn assemble(
    server: &str,
    observed: Observed,
    histories: &mut Histories,
    tracker: &EnsembleTracker,
    warnings: Vec<String>,
    documents: Vec<Document>,
) -> ScrapeOutput {
    let mut readings: Vec<Reading> = Vec::new();
    if let Some(m) = &observed.mntr {
        readings.extend(metrics::mntr_readings(m));
    }
    if let Some(s) = &observed.srvr {
        readings.extend(metrics::srvr_readings(s));
    }
    if let Some(z) = observed.zxid {
        readings.extend(metrics::zxid_readings(z));
    }
    if let Some(ok) = observed.ruok {
        readings.push(Reading::gauge("zk_ruok", if ok { 1.0 } else { 0.0 }));
    }
    if let Some(ro) = observed.read_only {
        readings.push(Reading::gauge("zk_read_only", if ro { 1.0 } else { 0.0 }));
    }
    if let Some(w) = &observed.watches {
        readings.extend(metrics::watch_readings(w));
    }
    if let Some(c) = &observed.connections {
        readings.extend(metrics::connection_readings(c));
    }
    if let Some(l) = &observed.leader
        && let Some(id) = l.leader_id
    {
        readings.push(Reading::gauge("zk_leader_id", id as f64));
    }
    if let Some(v) = &observed.voting {
        for learner_type in ["participant", "observer"] {
            let n = v.iter().filter(|m| m.learner_type == learner_type).count();
            readings.push(
                Reading::gauge("zk_voting_members", n as f64).label("learner_type", learner_type),
            );
        }
    }

    let mode = observed
        .mntr
        .as_ref()
        .and_then(Mntr::server_state)
        .or_else(|| observed.srvr.as_ref().and_then(|s| s.mode.clone()));
    let version = observed
        .mntr
        .as_ref()
        .and_then(|m| m.version().map(str::to_string))
        .or_else(|| observed.srvr.as_ref().map(|s| s.version.clone()));
    let peer_state = observed
        .mntr
        .as_ref()
        .and_then(|m| m.text("zk_peer_state").map(str::to_string));
    if let Some(mode) = &mode {
        readings.extend(histories.state.readings("zk_server_state", "state", mode));
    }
    if let Some(p) = &peer_state {
        readings.extend(histories.peer_state.readings("zk_peer_state", "state", p));
    }
    if let Some(v) = &version {
        readings.extend(histories.version.readings("zk_version_info", "version", v));
    }
    metrics::dedup(&mut readings);
    for r in &mut readings {
        r.labels.insert("server", server);
    }

    let now = crate::model::now_ms();
    let value = |key: &str| observed.mntr.as_ref().and_then(|m| m.value(key));
    let events = mode
        .as_deref()
        .map(|m| {
            tracker.observe(
                server,
                &Sighting {
                    mode: m,
                    now,
                    leader_uptime_ms: value("zk_leader_uptime"),
                    quorum_size: value("zk_quorum_size")
                        .filter(|q| q.is_finite() && *q >= 1.0)
                        .map(|q| q as usize),
                },
            )
        })
        .unwrap_or_default();
    // The server's uptime dates its start, for a return after a failure.
    let up_since = value("zk_uptime")
        .filter(|u| u.is_finite() && *u >= 0.0)
        .map(|u| now - u as i64);
    let mut identity = Labels::new().with("server", server);
    if let Some(m) = &mode {
        identity.insert("mode", m.as_str());
    }
    if let Some(v) = &version {
        identity.insert("version", v.as_str());
    }
    if let Some(id) = &observed.server_id {
        identity.insert("server_id", id.as_str());
    }
    ScrapeOutput {
        readings,
        events,
        documents,
        warnings,
        identity,
        metadata: vec![],
        up_since,
    }
}

/// What a ZooKeeper source keeps about its failures between scrapes: events for the collector
/// (a failed scrape can cost the ensemble its quorum) and whether the last failure was a refused
/// connection (then the collector retries every interval: the server is probably restarting).
#[derive(Debug, Default)]
struct FailureState {
    pending: Vec<crate::sources::SourceEvent>,
    refused: bool,
}

impl FailureState {
    /// Records the outcome of a scrape of `server` (when known) with the tracker.
    fn record(
        &mut self,
        tracker: &EnsembleTracker,
        server: Option<&str>,
        result: &Result<ScrapeOutput, SourceError>,
    ) {
        match result {
            Ok(_) => self.refused = false,
            Err(e) => {
                self.refused =
                    e.0.contains("Connection refused") || e.0.contains("connection refused");
                if let Some(server) = server {
                    self.pending
                        .extend(tracker.observe_down(server, crate::model::now_ms()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_protocols_of_one_zookeeper_server_fire_together() {
        use crate::sources::Source;
        let t = EnsembleTracker::default();
        let fourlw = ZkFourLetterSource::new("zk1.example:2181", t.clone());
        let admin = ZkAdminSource::new("http://zk1.example:8080/commands", t.clone());
        let other = ZkFourLetterSource::new("zk2.example:2181", t);
        assert_eq!(fourlw.info().phase_key, "zk1.example");
        assert_eq!(admin.info().phase_key, "zk1.example");
        assert_eq!(other.info().phase_key, "zk2.example");
        let ipv6 = ZkFourLetterSource::new("[::1]:2181", EnsembleTracker::default());
        assert_eq!(ipv6.info().phase_key, "[::1]");
    }
}
