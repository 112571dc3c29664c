//! Events from two consecutive scrapes of one JVM, read from the beans themselves (not from the
//! series names, which depend on the rules a team chose): the active controller moving, offline
//! partitions appearing and clearing, under-replication starting and ending, unclean leader
//! elections, bursts of ISR shrinks, and a JVM restart. The first scrape after a start is the
//! baseline and says nothing, except a restart dated by the JVM's own start time.

use super::model::{Bean, Value};
use crate::model::Severity;
use crate::sources::{EventKind, SourceEvent};

pub const CONTROLLER_ACTIVE: &str = "jmx_controller_active";
pub const CONTROLLER_RESIGNED: &str = "jmx_controller_resigned";
pub const OFFLINE_PARTITIONS: &str = "jmx_offline_partitions";
pub const OFFLINE_PARTITIONS_CLEAR: &str = "jmx_offline_partitions_clear";
pub const URP_START: &str = "jmx_urp_start";
pub const URP_END: &str = "jmx_urp_end";
pub const UNCLEAN_ELECTION: &str = "jmx_unclean_election";
pub const ISR_SHRINK_BURST: &str = "jmx_isr_shrink_burst";
pub const JVM_RESTART: &str = "jmx_jvm_restart";

pub const KINDS: &[EventKind] = &[
    EventKind {
        kind: CONTROLLER_ACTIVE,
        title: "Broker became the active controller",
    },
    EventKind {
        kind: CONTROLLER_RESIGNED,
        title: "Broker stopped being the active controller",
    },
    EventKind {
        kind: OFFLINE_PARTITIONS,
        title: "Offline partitions (no leader)",
    },
    EventKind {
        kind: OFFLINE_PARTITIONS_CLEAR,
        title: "No offline partitions again",
    },
    EventKind {
        kind: URP_START,
        title: "Broker has under-replicated partitions",
    },
    EventKind {
        kind: URP_END,
        title: "Broker's partitions fully replicated again",
    },
    EventKind {
        kind: UNCLEAN_ELECTION,
        title: "Unclean leader election (data loss)",
    },
    EventKind {
        kind: ISR_SHRINK_BURST,
        title: "Burst of ISR shrinks",
    },
    EventKind {
        kind: JVM_RESTART,
        title: "JVM restarted",
    },
];

/// The bean values events are computed from, read once per scrape.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Watch {
    pub active_controller: Option<f64>,
    pub offline_partitions: Option<f64>,
    pub under_replicated: Option<f64>,
    pub unclean_elections: Option<f64>,
    pub isr_shrinks: Option<f64>,
    /// `java.lang:type=Runtime` StartTime, ms since the epoch.
    pub start_time_ms: Option<f64>,
}

/// The numeric attribute `attr` of the bean `domain:props` (property order ignored).
fn number(beans: &[Bean], domain: &str, props: &[(&str, &str)], attr: &str) -> Option<f64> {
    let bean = beans.iter().find(|b| {
        b.domain == domain
            && b.properties.len() == props.len()
            && props
                .iter()
                .all(|(k, v)| b.properties.iter().any(|(bk, bv)| bk == k && bv == v))
    })?;
    match &bean.attributes.iter().find(|a| a.name == attr)?.value {
        Value::Number(n) if n.is_finite() => Some(*n),
        _ => None,
    }
}

impl Watch {
    pub fn read(beans: &[Bean]) -> Watch {
        let ctl = |name| {
            number(
                beans,
                "kafka.controller",
                &[("type", "KafkaController"), ("name", name)],
                "Value",
            )
        };
        let rm = |name, attr| {
            number(
                beans,
                "kafka.server",
                &[("type", "ReplicaManager"), ("name", name)],
                attr,
            )
        };
        Watch {
            active_controller: ctl("ActiveControllerCount"),
            offline_partitions: ctl("OfflinePartitionsCount"),
            under_replicated: rm("UnderReplicatedPartitions", "Value"),
            unclean_elections: number(
                beans,
                "kafka.controller",
                &[
                    ("type", "ControllerStats"),
                    ("name", "UncleanLeaderElectionsPerSec"),
                ],
                "Count",
            ),
            isr_shrinks: rm("IsrShrinksPerSec", "Count"),
            start_time_ms: number(beans, "java.lang", &[("type", "Runtime")], "StartTime"),
        }
    }
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

/// What changed from `before` to `now` on the JVM `subject`. `isr_burst` is the number of ISR
/// shrinks within one interval that counts as a burst.
pub fn diff(before: &Watch, now: &Watch, subject: &str, isr_burst: f64) -> Vec<SourceEvent> {
    let mut out = Vec::new();
    if let (Some(b), Some(n)) = (before.start_time_ms, now.start_time_ms)
        && n != b
    {
        let mut e = event(
            JVM_RESTART,
            Severity::Warning,
            subject,
            format!(
                "{subject}: the JVM restarted (its start time moved forward by {:.0} s)",
                (n - b) / 1000.0
            ),
        );
        e.at = Some(n as i64);
        out.push(e);
        // Counters restart from zero with the JVM: no other comparison means anything.
        return out;
    }
    match (before.active_controller, now.active_controller) {
        (Some(b), Some(n)) if b < 1.0 && n >= 1.0 => out.push(event(
            CONTROLLER_ACTIVE,
            Severity::Warning,
            subject,
            format!("{subject} became the active controller"),
        )),
        (Some(b), Some(n)) if b >= 1.0 && n < 1.0 => out.push(event(
            CONTROLLER_RESIGNED,
            Severity::Warning,
            subject,
            format!("{subject} is no longer the active controller"),
        )),
        _ => {}
    }
    match (before.offline_partitions, now.offline_partitions) {
        (Some(b), Some(n)) if b == 0.0 && n > 0.0 => out.push(event(
            OFFLINE_PARTITIONS,
            Severity::Critical,
            subject,
            format!("{n:.0} partitions have no leader (reported by the controller {subject})"),
        )),
        (Some(b), Some(n)) if b > 0.0 && n == 0.0 => out.push(event(
            OFFLINE_PARTITIONS_CLEAR,
            Severity::Info,
            subject,
            format!("every partition has a leader again ({subject})"),
        )),
        _ => {}
    }
    match (before.under_replicated, now.under_replicated) {
        (Some(b), Some(n)) if b == 0.0 && n > 0.0 => out.push(event(
            URP_START,
            Severity::Warning,
            subject,
            format!("{subject} leads {n:.0} under-replicated partitions"),
        )),
        (Some(b), Some(n)) if b > 0.0 && n == 0.0 => out.push(event(
            URP_END,
            Severity::Info,
            subject,
            format!("{subject}'s partitions are fully replicated again"),
        )),
        _ => {}
    }
    if let (Some(b), Some(n)) = (before.unclean_elections, now.unclean_elections)
        && n > b
    {
        out.push(event(
            UNCLEAN_ELECTION,
            Severity::Critical,
            subject,
            format!(
                "{:.0} unclean leader election(s) on {subject}: an out-of-sync replica became leader and committed messages may be lost",
                n - b
            ),
        ));
    }
    if let (Some(b), Some(n)) = (before.isr_shrinks, now.isr_shrinks)
        && n - b >= isr_burst
    {
        out.push(event(
            ISR_SHRINK_BURST,
            Severity::Warning,
            subject,
            format!(
                "{:.0} ISR shrinks on {subject} since the previous scrape (followers falling behind: GC pauses, slow disks or network)",
                n - b
            ),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::jmx::model::Attribute;

    fn bean(name: &str, attr: &str, v: f64) -> Bean {
        let (domain, props) = name.split_once(':').unwrap();
        Bean {
            name: name.into(),
            domain: domain.into(),
            properties: props
                .split(',')
                .map(|kv| {
                    let (k, v) = kv.split_once('=').unwrap();
                    (k.into(), v.into())
                })
                .collect(),
            attributes: vec![Attribute {
                name: attr.into(),
                value: Value::Number(v),
            }],
        }
    }

    fn broker(
        ctl: f64,
        offline: f64,
        urp: f64,
        unclean: f64,
        shrinks: f64,
        start: f64,
    ) -> Vec<Bean> {
        vec![
            // Property order as a real broker registers them, and reversed: both are found.
            bean(
                "kafka.controller:type=KafkaController,name=ActiveControllerCount",
                "Value",
                ctl,
            ),
            bean(
                "kafka.controller:name=OfflinePartitionsCount,type=KafkaController",
                "Value",
                offline,
            ),
            bean(
                "kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions",
                "Value",
                urp,
            ),
            bean(
                "kafka.controller:type=ControllerStats,name=UncleanLeaderElectionsPerSec",
                "Count",
                unclean,
            ),
            bean(
                "kafka.server:type=ReplicaManager,name=IsrShrinksPerSec",
                "Count",
                shrinks,
            ),
            bean("java.lang:type=Runtime", "StartTime", start),
        ]
    }

    fn kinds(e: &[SourceEvent]) -> Vec<&str> {
        e.iter().map(|e| e.kind.as_str()).collect()
    }

    #[test]
    fn a_steady_broker_says_nothing() {
        let a = Watch::read(&broker(1.0, 0.0, 0.0, 3.0, 10.0, 1e12));
        let b = Watch::read(&broker(1.0, 0.0, 0.0, 3.0, 12.0, 1e12));
        assert_eq!(a.active_controller, Some(1.0));
        assert_eq!(a.offline_partitions, Some(0.0));
        assert!(diff(&a, &b, "b1", 5.0).is_empty());
    }

    #[test]
    fn each_change_gives_its_event_and_back() {
        let calm = Watch::read(&broker(0.0, 0.0, 0.0, 3.0, 10.0, 1e12));
        let storm = Watch::read(&broker(1.0, 4.0, 7.0, 4.0, 20.0, 1e12));
        let e = diff(&calm, &storm, "b1", 5.0);
        assert_eq!(
            kinds(&e),
            vec![
                CONTROLLER_ACTIVE,
                OFFLINE_PARTITIONS,
                URP_START,
                UNCLEAN_ELECTION,
                ISR_SHRINK_BURST
            ]
        );
        assert!(e[1].message.contains("4 partitions"), "{}", e[1].message);
        assert_eq!(e[1].severity, Severity::Critical);
        let back = diff(&storm, &calm_after(&storm), "b1", 5.0);
        assert_eq!(
            kinds(&back),
            vec![CONTROLLER_RESIGNED, OFFLINE_PARTITIONS_CLEAR, URP_END]
        );
    }

    fn calm_after(storm: &Watch) -> Watch {
        Watch {
            active_controller: Some(0.0),
            offline_partitions: Some(0.0),
            under_replicated: Some(0.0),
            ..storm.clone()
        }
    }

    #[test]
    fn a_restart_is_dated_by_the_jvm_and_hides_counter_resets() {
        let before = Watch::read(&broker(1.0, 0.0, 0.0, 9.0, 50.0, 1_000_000.0));
        let after = Watch::read(&broker(1.0, 0.0, 0.0, 0.0, 0.0, 1_060_000.0));
        let e = diff(&before, &after, "b1", 5.0);
        assert_eq!(kinds(&e), vec![JVM_RESTART]);
        assert_eq!(e[0].at, Some(1_060_000));
    }

    #[test]
    fn a_small_shrink_count_is_not_a_burst() {
        let a = Watch::read(&broker(0.0, 0.0, 0.0, 0.0, 10.0, 1.0));
        let b = Watch::read(&broker(0.0, 0.0, 0.0, 0.0, 14.0, 1.0));
        assert!(diff(&a, &b, "b1", 5.0).is_empty());
    }

    #[test]
    fn missing_or_non_numeric_beans_give_no_events() {
        let mut beans = broker(1.0, 0.0, 0.0, 0.0, 0.0, 1.0);
        beans[0].attributes[0].value = Value::Error("getter threw".into());
        let w = Watch::read(&beans);
        assert_eq!(w.active_controller, None);
        let before = Watch::read(&broker(0.0, 0.0, 0.0, 0.0, 0.0, 1.0));
        assert!(!kinds(&diff(&before, &w, "b1", 5.0)).contains(&CONTROLLER_ACTIVE));
        assert_eq!(Watch::read(&[]), Watch::default());
    }
}
