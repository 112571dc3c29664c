//! The ensemble view shared by the sources of one cluster: each server's last mode, whether it
//! answers, and the current leader, so that
//!
//! - a server's own mode change becomes one `zk_mode_change` event, and a leader move (another
//!   server now reports leader) one `zk_leader_change` event, however many sources (four-letter
//!   words and AdminServer) watch the same servers;
//! - an ensemble that stops serving — no majority of its voting servers up as leader or follower
//!   (a server that lost its leader answers "not currently serving", which counts as down) —
//!   becomes one `zk_quorum_lost` event, and its recovery one `zk_quorum_regained`;
//! - servers that answer but follow no leader — every answering server scraped again since the
//!   leader went away, none of them leader — become `zk_no_leader`; two servers reporting leader
//!   at once become `zk_multiple_leaders`.
//!
//! Events are dated from the servers' own clocks where they say when something happened: a new
//! leader's `zk_leader_uptime` dates its election, and so the quorum's return.

use crate::model::{Severity, Timestamp};
use crate::sources::SourceEvent;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

pub const MODE_CHANGE: &str = "zk_mode_change";
pub const LEADER_CHANGE: &str = "zk_leader_change";
pub const QUORUM_LOST: &str = "zk_quorum_lost";
pub const QUORUM_REGAINED: &str = "zk_quorum_regained";
pub const MULTIPLE_LEADERS: &str = "zk_multiple_leaders";
pub const NO_LEADER: &str = "zk_no_leader";

/// What one successful scrape of a server said about its place in the ensemble.
#[derive(Clone, Debug, Default)]
pub struct Sighting<'a> {
    pub mode: &'a str,
    pub now: Timestamp,
    /// `zk_leader_uptime`: how long this server has been leader (leaders of 3.6+ only).
    pub leader_uptime_ms: Option<f64>,
    /// `zk_quorum_size`: the voting members of the ensemble, as this server sees them.
    pub quorum_size: Option<usize>,
}

#[derive(Debug, Default)]
struct State {
    /// Last mode seen per server (`host:port` of its client port).
    modes: BTreeMap<String, String>,
    /// Servers whose last scrape failed.
    down: BTreeSet<String>,
    /// When each server was last scraped successfully.
    observed_at: BTreeMap<String, Timestamp>,
    /// Since when no answering server is leader (None while one is).
    leader_gone_at: Option<Timestamp>,
    no_leader: bool,
    /// Servers the configuration names: the ensemble is judged once all of them were scraped.
    expected: BTreeSet<String>,
    /// The largest `zk_quorum_size` reported.
    quorum_size: Option<usize>,
    /// The server that last became leader.
    leader: Option<String>,
    /// Whether the ensemble was serving at the last judgement (None before the first).
    serving: Option<bool>,
    multiple_leaders: bool,
}

/// Cheap to clone; every clone shares the same state.
#[derive(Clone, Debug, Default)]
pub struct EnsembleTracker {
    cluster: String,
    state: Arc<Mutex<State>>,
}

fn event(kind: &str, severity: Severity, subject: &str, message: String) -> SourceEvent {
    SourceEvent {
        kind: kind.to_string(),
        severity,
        subject: subject.to_string(),
        message,
        at: None,
    }
}

impl EnsembleTracker {
    pub fn new(cluster: impl Into<String>) -> Self {
        Self {
            cluster: cluster.into(),
            state: Arc::default(),
        }
    }

    pub fn cluster(&self) -> &str {
        &self.cluster
    }

    /// Names a configured server, so the ensemble is not judged before it was scraped once.
    pub fn expect(&self, server: &str) {
        self.lock().expected.insert(server.to_string());
    }

    /// The server that last became leader, if any was seen.
    pub fn leader(&self) -> Option<String> {
        self.lock().leader.clone()
    }

    /// Records a successful scrape of `server` and returns the events it implies. The first
    /// observation of a server is never an event; neither is the first leader seen.
    pub fn observe(&self, server: &str, seen: &Sighting<'_>) -> Vec<SourceEvent> {
        let mode = seen.mode;
        let mut state = self.lock();
        let mut events = Vec::new();
        state.down.remove(server);
        state.observed_at.insert(server.to_string(), seen.now);
        if let Some(q) = seen.quorum_size.filter(|q| *q > 0) {
            state.quorum_size = Some(state.quorum_size.map_or(q, |old| old.max(q)));
        }
        // A leader's own uptime as leader dates its election.
        let elected_at = seen
            .leader_uptime_ms
            .filter(|u| mode == "leader" && u.is_finite() && *u >= 0.0)
            .map(|u| seen.now - u as i64);
        let previous = state.modes.insert(server.to_string(), mode.to_string());
        if let Some(prev) = &previous
            && prev != mode
        {
            let mut e = event(
                MODE_CHANGE,
                Severity::Warning,
                server,
                format!("ZooKeeper {server} changed mode from {prev} to {mode}"),
            );
            e.at = elected_at;
            events.push(e);
        }
        if mode == "leader" {
            let became_leader = previous.as_deref() != Some("leader");
            match state.leader.clone() {
                Some(old) if old != server && became_leader && previous.is_some() => {
                    let mut e = event(
                        LEADER_CHANGE,
                        Severity::Warning,
                        server,
                        format!("ZooKeeper leader moved from {old} to {server}"),
                    );
                    e.at = elected_at;
                    events.push(e);
                    state.leader = Some(server.to_string());
                }
                None => state.leader = Some(server.to_string()),
                // A server seen for the first time as leader after another: record it without an
                // event (we cannot tell when it happened); a stale report of the old leader while
                // it was already leader changes nothing.
                Some(old) if old != server && became_leader => {
                    state.leader = Some(server.to_string())
                }
                Some(_) => {}
            }
        }
        // When the leader steps down its name stays recorded, so the next server that becomes
        // leader is reported as a move from it.
        events.extend(self.judge(&mut state, elected_at));
        events
    }

    /// Records a failed scrape of `server` at `now` and returns the events it implies (a lost
    /// quorum).
    pub fn observe_down(&self, server: &str, now: Timestamp) -> Vec<SourceEvent> {
        let mut state = self.lock();
        state.down.insert(server.to_string());
        if state.modes.get(server).is_some_and(|m| m == "leader") && state.leader_gone_at.is_none()
        {
            state.leader_gone_at = Some(now);
        }
        self.judge(&mut state, None)
    }

    /// Whether the ensemble serves: a majority of its voting members up as leader or follower.
    /// Judged once every expected server was scraped; a standalone server is never judged.
    fn judge(&self, state: &mut State, elected_at: Option<Timestamp>) -> Vec<SourceEvent> {
        let mut events = Vec::new();
        let seen = |s: &String| state.modes.contains_key(s) || state.down.contains(s);
        if !state.expected.iter().all(seen) {
            return events;
        }
        let up: Vec<(&String, &String)> = state
            .modes
            .iter()
            .filter(|(s, _)| !state.down.contains(*s))
            .collect();
        if up.iter().any(|(_, m)| *m == "standalone") {
            return events;
        }
        let known: BTreeSet<&String> = state.modes.keys().chain(state.down.iter()).collect();
        let observers = state
            .modes
            .iter()
            .filter(|(s, m)| *m == "observer" && !state.down.contains(*s))
            .count();
        let voters = state
            .quorum_size
            .unwrap_or_else(|| known.len().saturating_sub(observers))
            .max(1);
        let serving_voters = up
            .iter()
            .filter(|(_, m)| *m == "leader" || *m == "follower")
            .count();
        let leaders: Vec<&str> = up
            .iter()
            .filter(|(_, m)| *m == "leader")
            .map(|(s, _)| s.as_str())
            .collect();
        let serving = serving_voters * 2 > voters;
        let cluster = &self.cluster;
        match (state.serving, serving) {
            (Some(true), false) => {
                let why = format!("{serving_voters} of {voters} voting servers serve");
                events.push(event(
                    QUORUM_LOST,
                    Severity::Critical,
                    "",
                    format!(
                        "ZooKeeper ensemble {cluster} lost its quorum: {why}; {} of {} servers answer",
                        up.len(),
                        known.len()
                    ),
                ));
            }
            (Some(false), true) => {
                let mut e = event(
                    QUORUM_REGAINED,
                    Severity::Info,
                    "",
                    format!(
                        "ZooKeeper ensemble {cluster} has a quorum again: {serving_voters} of {voters} voting servers serve, leader {}",
                        leaders.join(", ")
                    ),
                );
                e.at = elected_at;
                events.push(e);
            }
            _ => {}
        }
        state.serving = Some(serving);
        let multiple = leaders.len() > 1;
        if multiple && !state.multiple_leaders {
            events.push(event(
                MULTIPLE_LEADERS,
                Severity::Critical,
                "",
                format!(
                    "ZooKeeper ensemble {cluster}: {} servers report leader at once ({})",
                    leaders.len(),
                    leaders.join(", ")
                ),
            ));
        }
        state.multiple_leaders = multiple;

        if !leaders.is_empty() {
            state.leader_gone_at = None;
        } else if state.leader_gone_at.is_none() {
            // A leader that stepped down without failing: from its newest observation on.
            state.leader_gone_at = up
                .iter()
                .filter_map(|(s, _)| state.observed_at.get(*s))
                .max()
                .copied();
        }
        let no_leader = match state.leader_gone_at {
            Some(gone) if serving && !up.is_empty() => up
                .iter()
                .all(|(s, _)| state.observed_at.get(*s).is_some_and(|t| *t > gone)),
            _ => false,
        };
        if no_leader && !state.no_leader {
            events.push(event(
                NO_LEADER,
                Severity::Critical,
                "",
                format!(
                    "ZooKeeper ensemble {cluster}: {} servers answer and none is leader",
                    up.len()
                ),
            ));
        }
        state.no_leader = no_leader;
        events
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the maps half-updated in a harmful way.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(e: &[SourceEvent]) -> Vec<&str> {
        e.iter().map(|e| e.kind.as_str()).collect()
    }

    fn seen(mode: &str) -> Sighting<'_> {
        Sighting {
            mode,
            now: 1_000_000,
            leader_uptime_ms: None,
            quorum_size: Some(3),
        }
    }

    fn three() -> EnsembleTracker {
        let t = EnsembleTracker::new("lab");
        for s in ["a:1", "b:1", "c:1"] {
            t.expect(s);
        }
        t
    }

    #[test]
    fn first_observations_are_not_events() {
        let t = three();
        assert!(t.observe("a:1", &seen("follower")).is_empty());
        assert!(t.observe("b:1", &seen("leader")).is_empty());
        assert!(t.observe("c:1", &seen("follower")).is_empty());
        assert_eq!(t.leader().as_deref(), Some("b:1"));
    }

    #[test]
    fn leader_move_is_one_event_and_mode_changes_are_per_server() {
        let t = three();
        t.observe("a:1", &seen("follower"));
        t.observe("b:1", &seen("leader"));
        t.observe("c:1", &seen("follower"));
        // b dies; a wins the election.
        assert!(
            t.observe_down("b:1", 1_000_500).is_empty(),
            "two of three still serve"
        );
        let e = t.observe(
            "a:1",
            &Sighting {
                leader_uptime_ms: Some(4_000.0),
                ..seen("leader")
            },
        );
        assert_eq!(kinds(&e), vec![MODE_CHANGE, LEADER_CHANGE]);
        assert!(e[1].message.contains("from b:1 to a:1"), "{}", e[1].message);
        assert_eq!(e[1].at, Some(996_000), "dated from the leader's uptime");
        // A second source watching a reports the same thing: nothing new.
        assert!(t.observe("a:1", &seen("leader")).is_empty());
        // b comes back as a follower: its own mode change only.
        let e = t.observe("b:1", &seen("follower"));
        assert_eq!(kinds(&e), vec![MODE_CHANGE]);
    }

    #[test]
    fn a_stale_leader_report_does_not_flap_but_two_leaders_are_an_event() {
        let t = three();
        t.observe("a:1", &seen("leader"));
        t.observe("b:1", &seen("follower"));
        t.observe("c:1", &seen("follower"));
        let e = t.observe("b:1", &seen("leader"));
        assert_eq!(
            kinds(&e),
            vec![MODE_CHANGE, LEADER_CHANGE, MULTIPLE_LEADERS]
        );
        // a has not noticed yet and still says leader: no event back to a, no second alarm.
        assert!(t.observe("a:1", &seen("leader")).is_empty());
        assert_eq!(t.leader().as_deref(), Some("b:1"));
    }

    #[test]
    fn losing_and_regaining_the_quorum_are_one_event_each() {
        let t = three();
        t.observe("a:1", &seen("leader"));
        t.observe("b:1", &seen("follower"));
        t.observe("c:1", &seen("follower"));
        assert!(t.observe_down("c:1", 1).is_empty());
        let e = t.observe_down("b:1", 1);
        assert_eq!(kinds(&e), vec![QUORUM_LOST]);
        assert!(
            e[0].message.contains("1 of 3 voting servers serve"),
            "{}",
            e[0].message
        );
        assert!(t.observe_down("a:1", 1).is_empty(), "lost once");
        // The servers come back; a new election.
        assert!(
            t.observe("b:1", &seen("follower")).is_empty(),
            "one of three"
        );
        let e = t.observe(
            "c:1",
            &Sighting {
                leader_uptime_ms: Some(2_500.0),
                ..seen("leader")
            },
        );
        assert!(kinds(&e).contains(&QUORUM_REGAINED), "{e:?}");
        let regained = e.iter().find(|e| e.kind == QUORUM_REGAINED).unwrap();
        assert_eq!(regained.at, Some(997_500));
    }

    #[test]
    fn the_ensemble_is_not_judged_before_every_server_was_scraped() {
        let t = three();
        t.observe("a:1", &seen("leader"));
        assert!(t.observe_down("b:1", 1).is_empty(), "c:1 not seen yet");
        // Now c is seen down too: this is the first judgement, not a transition.
        assert!(t.observe_down("c:1", 1).is_empty());
        assert!(
            !t.observe("b:1", &seen("follower")).is_empty(),
            "then it regains"
        );
    }

    #[test]
    fn followers_without_a_leader_are_an_event_once_each_was_scraped_again() {
        let t = three();
        let at = |mode, now| Sighting { now, ..seen(mode) };
        t.observe("a:1", &at("leader", 10));
        t.observe("b:1", &at("follower", 10));
        t.observe("c:1", &at("follower", 10));
        assert!(t.observe_down("a:1", 20).is_empty(), "the leader dies");
        assert!(
            t.observe("b:1", &at("follower", 25)).is_empty(),
            "c not scraped since"
        );
        let e = t.observe("c:1", &at("follower", 30));
        assert_eq!(kinds(&e), vec![NO_LEADER]);
        assert!(t.observe("b:1", &at("follower", 35)).is_empty(), "once");
        let e = t.observe("b:1", &at("leader", 40));
        assert_eq!(kinds(&e), vec![MODE_CHANGE, LEADER_CHANGE]);
    }

    #[test]
    fn a_standalone_server_has_no_quorum_events() {
        let t = EnsembleTracker::new("lab");
        t.expect("a:1");
        t.observe("a:1", &seen("standalone"));
        assert!(t.observe_down("a:1", 1).is_empty());
        assert!(t.observe("a:1", &seen("standalone")).is_empty());
    }
}
