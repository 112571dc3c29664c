//! Events from two consecutive polls: topics created and deleted, partitions added, leader
//! changes, under-replication starting and ending, group state changes, rebalances and deleted
//! groups. The first poll after a start is the baseline and says nothing.

use super::collect::Snapshot;
use crate::model::Severity;
use crate::sources::{EventKind, SourceEvent};
use std::collections::BTreeSet;

pub const GROUP_REBALANCE: &str = "kafka_group_rebalance";
pub const GROUP_STATE_CHANGE: &str = "kafka_group_state_change";
pub const LEADER_CHANGE: &str = "kafka_leader_change";
pub const URP_START: &str = "kafka_urp_start";
pub const URP_END: &str = "kafka_urp_end";
pub const TOPIC_CREATED: &str = "kafka_topic_created";
pub const TOPIC_DELETED: &str = "kafka_topic_deleted";
pub const PARTITIONS_ADDED: &str = "kafka_partitions_added";
pub const GROUP_DELETED: &str = "kafka_group_deleted";

pub const KINDS: &[EventKind] = &[
    EventKind {
        kind: GROUP_REBALANCE,
        title: "Consumer group rebalance",
    },
    EventKind {
        kind: GROUP_STATE_CHANGE,
        title: "Consumer group state change",
    },
    EventKind {
        kind: GROUP_DELETED,
        title: "Consumer group deleted",
    },
    EventKind {
        kind: LEADER_CHANGE,
        title: "Partition leader change",
    },
    EventKind {
        kind: URP_START,
        title: "Partition under-replicated",
    },
    EventKind {
        kind: URP_END,
        title: "Partition fully replicated again",
    },
    EventKind {
        kind: TOPIC_CREATED,
        title: "Topic created",
    },
    EventKind {
        kind: TOPIC_DELETED,
        title: "Topic deleted",
    },
    EventKind {
        kind: PARTITIONS_ADDED,
        title: "Partitions added",
    },
];

fn event(kind: &str, severity: Severity, subject: String, message: String) -> SourceEvent {
    SourceEvent {
        kind: kind.to_string(),
        severity,
        subject,
        message,
        at: None,
    }
}

/// What changed from `prev` to `cur`.
pub fn diff(prev: &Snapshot, cur: &Snapshot) -> Vec<SourceEvent> {
    let mut out = Vec::new();
    for (name, t) in &cur.topics {
        let Some(old) = prev.topics.get(name) else {
            out.push(event(
                TOPIC_CREATED,
                Severity::Info,
                name.clone(),
                format!(
                    "Topic {name} created with {} partitions.",
                    t.partitions.len()
                ),
            ));
            continue;
        };
        if t.partitions.len() > old.partitions.len() {
            out.push(event(
                PARTITIONS_ADDED,
                Severity::Info,
                name.clone(),
                format!(
                    "Topic {name}: partitions added, {} → {}.",
                    old.partitions.len(),
                    t.partitions.len()
                ),
            ));
        }
        for (p, ps) in &t.partitions {
            let Some(was) = old.partitions.get(p) else {
                continue;
            };
            let subject = format!("{name}/{p}");
            if was.leader != ps.leader {
                let shown = |l: i32| {
                    if l < 0 {
                        "none".to_string()
                    } else {
                        l.to_string()
                    }
                };
                out.push(event(
                    LEADER_CHANGE,
                    if ps.leader < 0 {
                        Severity::Critical
                    } else {
                        Severity::Warning
                    },
                    subject.clone(),
                    format!(
                        "Leader of {subject} moved from broker {} to {}.",
                        shown(was.leader),
                        shown(ps.leader)
                    ),
                ));
            }
            match (was.under_replicated(), ps.under_replicated()) {
                (false, true) => out.push(event(
                    URP_START,
                    Severity::Warning,
                    subject.clone(),
                    format!(
                        "{subject} under-replicated: {} of {} replicas in sync.",
                        ps.isr.len(),
                        ps.replicas.len()
                    ),
                )),
                (true, false) => out.push(event(
                    URP_END,
                    Severity::Info,
                    subject.clone(),
                    format!(
                        "{subject} fully replicated again ({} in sync).",
                        ps.isr.len()
                    ),
                )),
                _ => {}
            }
        }
    }
    for name in prev.topics.keys() {
        if !cur.topics.contains_key(name) {
            out.push(event(
                TOPIC_DELETED,
                Severity::Warning,
                name.clone(),
                format!("Topic {name} deleted."),
            ));
        }
    }
    for (id, g) in &cur.groups {
        let Some(was) = prev.groups.get(id) else {
            continue;
        };
        if was.state != g.state {
            out.push(event(
                GROUP_STATE_CHANGE,
                if g.state == "Dead" {
                    Severity::Warning
                } else {
                    Severity::Info
                },
                id.clone(),
                format!("Group {id}: {} → {}.", was.state, g.state),
            ));
        }
        let members = |s: &super::collect::GroupState| -> BTreeSet<String> {
            s.members.iter().map(|m| m.member_id.clone()).collect()
        };
        match (was.generation, g.generation) {
            (Some(a), Some(b)) if a != b => out.push(event(
                GROUP_REBALANCE,
                Severity::Info,
                id.clone(),
                format!(
                    "Group {id} rebalanced: generation {a} → {b}, {} members.",
                    g.members.len()
                ),
            )),
            (Some(_), Some(_)) => {}
            // Without a generation from the broker, a changed member set is the evidence.
            _ => {
                let (a, b) = (members(was), members(g));
                if a != b {
                    out.push(event(
                        GROUP_REBALANCE,
                        Severity::Info,
                        id.clone(),
                        format!(
                            "Group {id} rebalanced: members {} → {} ({} joined, {} left).",
                            a.len(),
                            b.len(),
                            b.difference(&a).count(),
                            a.difference(&b).count()
                        ),
                    ));
                }
            }
        }
    }
    for (id, was) in &prev.groups {
        // Deleted only when its coordinator answered ListGroups this time without it (a broker
        // that is down proves nothing) and no error made us skip it.
        if !cur.groups.contains_key(id)
            && !cur.skipped.contains(id)
            && cur.listed_by.contains(&was.coordinator)
        {
            out.push(event(
                GROUP_DELETED,
                Severity::Info,
                id.clone(),
                format!("Group {id} no longer exists (last state {}).", was.state),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::kafka::client::admin::Member;
    use crate::sources::kafka::collect::{GroupState, PartitionState, TopicState};

    fn base() -> Snapshot {
        let mut s = Snapshot::default();
        let mut t = TopicState::default();
        for p in 0..2 {
            t.partitions.insert(
                p,
                PartitionState {
                    leader: 1,
                    replicas: vec![1, 2],
                    isr: vec![1, 2],
                    ..Default::default()
                },
            );
        }
        s.topics.insert("t".into(), t);
        s.groups.insert(
            "g".into(),
            GroupState {
                coordinator: 1,
                state: "Stable",
                ..Default::default()
            },
        );
        s.groups.insert(
            "h".into(),
            GroupState {
                coordinator: 1,
                state: "Empty",
                ..Default::default()
            },
        );
        s.listed_by.insert(1);
        s
    }

    fn kinds(ev: &[SourceEvent]) -> Vec<(&str, &str)> {
        ev.iter()
            .map(|e| (e.kind.as_str(), e.subject.as_str()))
            .collect()
    }

    #[test]
    fn nothing_changed_nothing_said() {
        assert!(diff(&base(), &base()).is_empty());
    }

    #[test]
    fn topic_and_partition_changes() {
        let a = base();
        let mut b = base();
        b.topics.insert("new".into(), TopicState::default());
        let t = b.topics.get_mut("t").unwrap();
        t.partitions.insert(
            2,
            PartitionState {
                leader: 1,
                replicas: vec![1],
                isr: vec![1],
                ..Default::default()
            },
        );
        t.partitions.get_mut(&0).unwrap().leader = 2;
        t.partitions.get_mut(&1).unwrap().isr = vec![1];
        let ev = diff(&a, &b);
        assert_eq!(
            kinds(&ev),
            vec![
                (TOPIC_CREATED, "new"),
                (PARTITIONS_ADDED, "t"),
                (LEADER_CHANGE, "t/0"),
                (URP_START, "t/1"),
            ]
        );
        assert!(
            ev[2].message.contains("from broker 1 to 2"),
            "{}",
            ev[2].message
        );
        let back = diff(&b, &a);
        assert!(kinds(&back).contains(&(URP_END, "t/1")));
        assert!(kinds(&back).contains(&(TOPIC_DELETED, "new")));
    }

    #[test]
    fn group_changes() {
        let a = base();
        let mut b = base();
        b.groups.get_mut("g").unwrap().state = "PreparingRebalance";
        b.groups.get_mut("g").unwrap().members = vec![Member {
            member_id: "m1".into(),
            ..Default::default()
        }];
        b.groups.remove("h");
        let ev = diff(&a, &b);
        assert_eq!(
            kinds(&ev),
            vec![
                (GROUP_STATE_CHANGE, "g"),
                (GROUP_REBALANCE, "g"),
                (GROUP_DELETED, "h")
            ]
        );
        // A generation, where the broker gives one, decides.
        let mut c = b.clone();
        c.groups.get_mut("g").unwrap().generation = Some(4);
        let mut d = c.clone();
        d.groups.get_mut("g").unwrap().generation = Some(5);
        assert_eq!(kinds(&diff(&c, &d)), vec![(GROUP_REBALANCE, "g")]);
        assert!(diff(&c, &c).is_empty());
    }

    #[test]
    fn a_group_is_not_deleted_by_a_broker_that_did_not_answer_or_an_error() {
        let a = base();
        let mut b = base();
        b.groups.remove("h");
        b.listed_by.clear();
        assert!(diff(&a, &b).is_empty());
        let mut c = base();
        c.groups.remove("h");
        c.skipped.insert("h".into());
        assert!(diff(&a, &c).is_empty());
    }
}
