//! Our presets: rule files in jmx_exporter's own YAML format, embedded in the binary, composed per
//! target role. A team can replace or extend them with its own jmx_exporter file.
//!
//! Which names: `kafka-broker.yml` (default family `jmx_exporter`) gives the prometheus/jmx_exporter
//! Kafka example names (`kafka_server_brokertopicmetrics_bytesin_total`); `kafka-broker-confluent.yml`
//! (family `confluent`) the names Confluent's jmx-monitoring-stacks dashboards query
//! (`kafka_server_brokertopicmetrics_bytesinpersec`). Clients follow Confluent's kafka_client.yml
//! style, the JVM the jmx_exporter Java agent's JVM collector names, ZooKeeper jmx_exporter's
//! zookeeper.yaml example.

use crate::sources::jmx::rules::{RuleSet, RulesError};

/// Every embedded preset: file name, one-line description, text.
pub const PRESETS: &[(&str, &str, &str)] = &[
    (
        "kafka-broker.yml",
        "Kafka broker, prometheus/jmx_exporter example names (meters _total, percentiles by quantile)",
        include_str!("presets/kafka-broker.yml"),
    ),
    (
        "kafka-broker-confluent.yml",
        "Kafka broker, the names Confluent's jmx-monitoring-stacks dashboards query",
        include_str!("presets/kafka-broker-confluent.yml"),
    ),
    (
        "kafka-partitions.yml",
        "Opt-in: per-partition broker beans (kafka.log Log, kafka.cluster Partition)",
        include_str!("presets/kafka-partitions.yml"),
    ),
    (
        "kraft.yml",
        "KRaft: raft-metrics (current_state_info), broker-metadata-metrics, one-key kafka.server beans",
        include_str!("presets/kraft.yml"),
    ),
    (
        "producer.yml",
        "Kafka producer client: kafka_producer_<type>_<attr>{client_id,topic,node_id}",
        include_str!("presets/producer.yml"),
    ),
    (
        "consumer.yml",
        "Kafka consumer client: fetch manager, coordinator, consumer metrics with client_id",
        include_str!("presets/consumer.yml"),
    ),
    (
        "streams.yml",
        "Kafka Streams: thread, task, processor node and state store metrics",
        include_str!("presets/streams.yml"),
    ),
    (
        "connect.yml",
        "Kafka Connect: worker, connector and task metrics",
        include_str!("presets/connect.yml"),
    ),
    (
        "jvm.yml",
        "JVM of every target: heap/non-heap, GC count and seconds, threads, fds, process CPU, start time",
        include_str!("presets/jvm.yml"),
    ),
    (
        "zookeeper-confluent.yml",
        "ZooKeeper, the lower-case names Confluent's dashboards and alerts query",
        include_str!("presets/zookeeper-confluent.yml"),
    ),
    (
        "zookeeper.yml",
        "ZooKeeper's org.apache.ZooKeeperService beans, jmx_exporter zookeeper.yaml names",
        include_str!("presets/zookeeper.yml"),
    ),
];

/// The text of one embedded preset by file name (with or without `.yml`).
pub fn preset(name: &str) -> Option<&'static str> {
    let want = name.strip_suffix(".yml").unwrap_or(name);
    PRESETS
        .iter()
        .find(|(n, _, _)| n.strip_suffix(".yml") == Some(want))
        .map(|(_, _, text)| *text)
}

/// A target's role, as `job` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Broker,
    Controller,
    ZooKeeper,
    Producer,
    Consumer,
    Streams,
    Connect,
}

/// The broker naming family (`preset = "jmx_exporter" | "confluent"` in `[clusters.jmx]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Family {
    #[default]
    JmxExporter,
    Confluent,
}

impl Family {
    pub fn parse(s: &str) -> Option<Family> {
        match s {
            "jmx_exporter" => Some(Family::JmxExporter),
            "confluent" => Some(Family::Confluent),
            _ => None,
        }
    }
}

/// The preset files a role uses, in rule order.
pub fn files_for(role: Role, family: Family, partitions: bool) -> Vec<&'static str> {
    let broker = match family {
        Family::JmxExporter => "kafka-broker.yml",
        Family::Confluent => "kafka-broker-confluent.yml",
    };
    let mut files = Vec::new();
    match role {
        // Brokers and controllers share the Yammer beans; KRaft brokers also have raft-metrics
        // and broker-metadata-metrics. The broker file comes first: kraft.yml's one-key
        // catch-all must not see multi-key KafkaMetrics beans the broker file names better.
        Role::Broker | Role::Controller => {
            if partitions {
                files.push("kafka-partitions.yml");
            }
            files.push(broker);
            files.push("kraft.yml");
        }
        Role::ZooKeeper => files.push(match family {
            Family::JmxExporter => "zookeeper.yml",
            Family::Confluent => "zookeeper-confluent.yml",
        }),
        Role::Producer => files.push("producer.yml"),
        Role::Consumer => files.push("consumer.yml"),
        // Streams apps and Connect workers embed producers and consumers.
        Role::Streams => files.extend(["streams.yml", "producer.yml", "consumer.yml"]),
        Role::Connect => files.extend(["connect.yml", "producer.yml", "consumer.yml"]),
    }
    files.push("jvm.yml");
    files
}

/// The composed rule set for a role: its preset(s), then `jvm.yml`. Extra rules from the config
/// go in front of this (see [`RuleSet::extend`]).
pub fn rules_for(role: Role, family: Family, partitions: bool) -> Result<RuleSet, RulesError> {
    let mut set: Option<RuleSet> = None;
    for file in files_for(role, family, partitions) {
        let text = preset(file).ok_or_else(|| RulesError::Invalid {
            origin: format!("preset {file}"),
            location: "(file)".into(),
            message: "no such embedded preset".into(),
        })?;
        let next = RuleSet::from_yaml(text, &format!("preset {file}"))?;
        match &mut set {
            Some(s) => s.extend(next),
            None => set = Some(next),
        }
    }
    set.ok_or_else(|| RulesError::Invalid {
        origin: "presets".into(),
        location: "(role)".into(),
        message: "no preset for this role".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_parses_and_every_role_composes() {
        for (name, desc, text) in PRESETS {
            assert!(!desc.is_empty());
            let set = RuleSet::from_yaml(text, name).unwrap_or_else(|e| panic!("{e}"));
            assert!(!set.is_empty(), "{name}");
        }
        for role in [
            Role::Broker,
            Role::Controller,
            Role::ZooKeeper,
            Role::Producer,
            Role::Consumer,
            Role::Streams,
            Role::Connect,
        ] {
            for family in [Family::JmxExporter, Family::Confluent] {
                for partitions in [false, true] {
                    let set = rules_for(role, family, partitions).unwrap();
                    assert!(set.len() > 10, "{role:?}");
                }
            }
        }
        assert!(preset("kafka-broker").is_some());
        assert!(preset("kafka-broker.yml").is_some());
        assert!(preset("nope").is_none());
        assert_eq!(Family::parse("confluent"), Some(Family::Confluent));
        assert_eq!(Family::parse("other"), None);
    }

    #[test]
    fn partitions_file_only_when_asked() {
        assert!(
            !files_for(Role::Broker, Family::JmxExporter, false).contains(&"kafka-partitions.yml")
        );
        assert_eq!(
            files_for(Role::Broker, Family::JmxExporter, true)[0],
            "kafka-partitions.yml"
        );
        assert_eq!(
            files_for(Role::Producer, Family::Confluent, true),
            vec!["producer.yml", "jvm.yml"]
        );
    }
}
