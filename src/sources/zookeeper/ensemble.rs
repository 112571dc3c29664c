//! The ensemble view shared by the sources of one cluster: each server's last mode and the
//! current leader, so that a server's own mode change becomes one `zk_mode_change` event and a
//! leader move (another server now reports leader) becomes one `zk_leader_change` event, however
//! many sources (four-letter words and AdminServer) watch the same servers.

use crate::model::Severity;
use crate::sources::SourceEvent;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const MODE_CHANGE: &str = "zk_mode_change";
pub const LEADER_CHANGE: &str = "zk_leader_change";

#[derive(Debug, Default)]
struct State {
    /// Last mode seen per server (`host:port` of its client port).
    modes: HashMap<String, String>,
    /// The server that last became leader.
    leader: Option<String>,
}

/// Cheap to clone; every clone shares the same state.
#[derive(Clone, Debug, Default)]
pub struct EnsembleTracker {
    cluster: String,
    state: Arc<Mutex<State>>,
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

    /// The server that last became leader, if any was seen.
    pub fn leader(&self) -> Option<String> {
        self.lock().leader.clone()
    }

    /// Records that `server` reports `mode` now and returns the events this observation implies.
    /// The first observation of a server is never an event; neither is the first leader seen.
    pub fn observe(&self, server: &str, mode: &str) -> Vec<SourceEvent> {
        let mut state = self.lock();
        let mut events = Vec::new();
        let previous = state.modes.insert(server.to_string(), mode.to_string());
        if let Some(prev) = &previous
            && prev != mode
        {
            events.push(SourceEvent {
                kind: MODE_CHANGE.to_string(),
                severity: Severity::Warning,
                subject: server.to_string(),
                message: format!("ZooKeeper {server} changed mode from {prev} to {mode}"),
            });
        }
        if mode == "leader" {
            let became_leader = previous.as_deref() != Some("leader");
            match state.leader.clone() {
                Some(old) if old != server && became_leader && previous.is_some() => {
                    events.push(SourceEvent {
                        kind: LEADER_CHANGE.to_string(),
                        severity: Severity::Warning,
                        subject: server.to_string(),
                        message: format!("ZooKeeper leader moved from {old} to {server}"),
                    });
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

    #[test]
    fn first_observations_are_not_events() {
        let t = EnsembleTracker::new("lab");
        assert!(t.observe("a:1", "follower").is_empty());
        assert!(t.observe("b:1", "leader").is_empty());
        assert!(t.observe("c:1", "follower").is_empty());
        assert_eq!(t.leader().as_deref(), Some("b:1"));
    }

    #[test]
    fn leader_move_is_one_event_and_mode_changes_are_per_server() {
        let t = EnsembleTracker::new("lab");
        t.observe("a:1", "follower");
        t.observe("b:1", "leader");
        // b dies; a wins the election.
        let e = t.observe("a:1", "leader");
        assert_eq!(kinds(&e), vec![MODE_CHANGE, LEADER_CHANGE]);
        assert!(e[1].message.contains("from b:1 to a:1"), "{}", e[1].message);
        // A second source watching a reports the same thing: nothing new.
        assert!(t.observe("a:1", "leader").is_empty());
        // b comes back as a follower: its own mode change only.
        let e = t.observe("b:1", "follower");
        assert_eq!(kinds(&e), vec![MODE_CHANGE]);
    }

    #[test]
    fn a_stale_leader_report_does_not_flap() {
        let t = EnsembleTracker::new("lab");
        t.observe("a:1", "leader");
        t.observe("b:1", "follower");
        assert_eq!(
            kinds(&t.observe("b:1", "leader")),
            vec![MODE_CHANGE, LEADER_CHANGE]
        );
        // a has not noticed yet and still says leader: no event back to a.
        assert!(t.observe("a:1", "leader").is_empty());
        assert_eq!(t.leader().as_deref(), Some("b:1"));
    }
}
